//! `haplan fleet`: check many pools at once: one row per pool file, and a summary.

use crate::cli::*;

// The arguments of `haplan fleet` (their help is the variant's).
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// Pool files, directories of pool files, glob patterns, or - (a list
    /// of paths on standard input, one per line).
    #[arg(required = true, value_name = "PATH")]
    pub(crate) paths: Vec<String>,
    /// K for every pool (default: each file's ha.host_failures_to_tolerate).
    #[arg(long, value_name = "K", value_parser = parse_tolerate)]
    pub(crate) tolerate: Option<u32>,
    #[arg(long, value_enum, default_value = "text")]
    pub(crate) format: FleetFormat,
    /// Stop each pool's check after this many seconds with proved bounds
    /// (`none`: no limit).
    #[arg(long, value_name = "SECONDS", default_value = "60", value_parser = parse_limit)]
    pub(crate) time_limit: Seconds,
    /// Once a pool's K is decided, how much longer its check may search for
    /// the exact max_tolerable (0: stop once K is decided; `none`: until
    /// the time limit). It never changes the exit code.
    #[arg(long, value_name = "SECONDS", default_value = "2", value_parser = parse_limit)]
    pub(crate) max_time: Seconds,
}

/// What `haplan fleet` was asked.
pub(crate) struct FleetRequest<'a> {
    pub(crate) paths: &'a [String],
    pub(crate) tolerate: Option<u32>,
    pub(crate) time_limit: Option<Duration>,
    pub(crate) max_time: Option<Duration>,
    pub(crate) format: FleetFormat,
    pub(crate) threads: Option<usize>,
}

/// `haplan fleet`: the files named, checked on `threads` threads.
pub(crate) fn run_fleet(
    request: &FleetRequest<'_>,
    stdin: &mut dyn Read,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> i32 {
    let &FleetRequest {
        paths,
        tolerate,
        time_limit,
        max_time,
        format,
        threads,
    } = request;
    let err_format = match format {
        FleetFormat::Json => Format::Json,
        FleetFormat::Text | FleetFormat::Csv => Format::Text,
    };
    let files = match fleet::expand(paths, stdin) {
        Ok(files) => files,
        Err(message) => return fail(&CliError::from(message), err_format, stdout, stderr),
    };
    let mut builder = rayon::ThreadPoolBuilder::new();
    if let Some(n) = threads {
        builder = builder.num_threads(n);
    }
    let (code, text) = match builder.build() {
        Ok(pool) => pool.install(|| fleet::run(&files, tolerate, time_limit, max_time, format)),
        Err(e) => {
            let message = format!("cannot start threads: {e}");
            return fail(&CliError::from(message), err_format, stdout, stderr);
        }
    };
    answer(&text, code, stdout, stderr)
}
