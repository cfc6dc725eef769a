//! `haplan drain`: whether a host can go into maintenance with the pool still tolerating K.

use crate::cli::*;

// The arguments of `haplan drain` (their help is the variant's).
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// Pool file (haplan/v1 JSON), or - for standard input.
    pub(crate) file: String,
    /// The host to drain (it must be up).
    pub(crate) host: String,
    /// K the pool must still tolerate (default: the file's ha.host_failures_to_tolerate).
    #[arg(long, value_name = "K", value_parser = parse_tolerate)]
    pub(crate) tolerate: Option<u32>,
    #[arg(long, value_enum, default_value = "text")]
    pub(crate) format: Format,
    #[command(flatten)]
    pub(crate) budget: BudgetArgs,
}

/// Runs `haplan drain`.
pub(crate) fn run(args: Args, read: &mut Reader<'_>, ctx: &Ctx) -> Result<(i32, String), CliError> {
    let Args {
        file,
        host,
        tolerate,
        format,
        budget: _,
    } = args;
    let pool = read_pool(&file, read, ctx)?;
    let h = drain::host_to_drain(&pool, &host).map_err(|e| CliError::argument(e.to_string()))?;
    let opts = DrainOptions {
        tolerate,
        time_limit: ctx.time_limit(),
        cancel: Some(&ctx.cancel),
        max_time: ctx.max_time,
        progress: Some(&ctx.progress),
        ..DrainOptions::default()
    };
    let r = drain::drain(&pool, h, &opts).map_err(|e| CliError::argument(e.to_string()))?;
    let text = match format {
        Format::Json => json(report::drain_json(&pool, &r)),
        Format::Text | Format::Github => report::drain_text(&pool, &r),
    };
    Ok((exit_code(r.verdict()), text))
}
