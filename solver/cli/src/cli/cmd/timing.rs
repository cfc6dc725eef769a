//! `haplan timing`: how long until every protected VM runs again after the worst tolerated failure.

use crate::cli::*;

// The arguments of `haplan timing` (their help is the variant's).
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// Pool file (haplan/v1 JSON), or - for standard input.
    pub(crate) file: String,
    /// K of the worst case (default: the file's ha.host_failures_to_tolerate).
    #[arg(long, value_name = "K", conflicts_with = "fail", value_parser = parse_tolerate)]
    pub(crate) tolerate: Option<u32>,
    /// Boot time of a VM without boot_time_s, in seconds.
    #[arg(long, value_name = "SECONDS", default_value = "60", value_parser = parse_whole_seconds)]
    pub(crate) boot_time: u64,
    /// At most this many VM starts in flight at once (default: no limit, as the runtime).
    #[arg(long, value_name = "N", value_parser = parse_concurrency)]
    pub(crate) concurrency: Option<u32>,
    /// How long your fence agents take to confirm a host off, in seconds.
    #[arg(long, value_name = "SECONDS", default_value = "0", value_parser = parse_whole_seconds)]
    pub(crate) fence_time: u64,
    /// Estimate for exactly these hosts failing (comma-separated), not the worst case.
    #[arg(long, value_name = "H1,H2,...", value_delimiter = ',')]
    pub(crate) fail: Option<Vec<String>>,
    #[arg(long, value_enum, default_value = "text")]
    pub(crate) format: Format,
    /// Enumerate every failure set when there are at most this many
    /// (beyond it, a greedy search gives a lower bound).
    #[arg(
        long,
        value_name = "N",
        default_value = "200000",
        hide_short_help = true,
        value_parser = parse_set_limit
    )]
    pub(crate) set_limit: u64,
    #[command(flatten)]
    pub(crate) limit: TimeLimitArg,
}

/// Runs `haplan timing`.
pub(crate) fn run(args: Args, read: &mut Reader<'_>, ctx: &Ctx) -> Result<(i32, String), CliError> {
    let Args {
        file,
        tolerate,
        boot_time,
        concurrency,
        fence_time,
        fail,
        format,
        set_limit,
        limit: _,
    } = args;
    let pool = read_pool(&file, read, ctx)?;
    let fail = match fail {
        Some(names) => Some(
            haplan::failure_set(&pool, &names)
                .map_err(|e| CliError::argument(format!("--fail: {e}")))?,
        ),
        None => None,
    };
    let opts = timing::TimingOptions {
        tolerate,
        boot_time_s: boot_time,
        concurrency,
        fence_time_s: fence_time,
        fail,
        set_limit,
        cancel: Some(&ctx.cancel),
        time_limit: ctx.time_limit(),
    };
    let r = timing::timing(&pool, &opts);
    let code = exit_code(report::timing_verdict(&r));
    let text = match format {
        Format::Json => json(report::timing_json(&pool, &r)),
        Format::Text | Format::Github => report::timing_text(&pool, &r),
    };
    Ok((code, text))
}
