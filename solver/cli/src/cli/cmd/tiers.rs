//! `haplan tiers`: tolerance per restart-priority tier, and what is lost beyond it.

use crate::cli::*;

// The arguments of `haplan tiers` (their help is the variant's).
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// Pool file (haplan/v1 JSON), or - for standard input.
    pub(crate) file: String,
    /// K for the verdict (default: the file's ha.host_failures_to_tolerate).
    #[arg(long, value_name = "K", value_parser = parse_tolerate)]
    pub(crate) tolerate: Option<u32>,
    #[arg(long, value_enum, default_value = "text")]
    pub(crate) format: Format,
    #[command(flatten)]
    pub(crate) budget: BudgetArgs,
}

/// Runs `haplan tiers`.
pub(crate) fn run(args: Args, read: &mut Reader<'_>, ctx: &Ctx) -> Result<(i32, String), CliError> {
    let Args {
        file,
        tolerate,
        format,
        budget: _,
    } = args;
    let pool = read_pool(&file, read, ctx)?;
    let opts = haplan::tiers::TiersOptions {
        tolerate,
        time_limit: ctx.time_limit(),
        cancel: Some(&ctx.cancel),
        max_time: ctx.max_time,
        progress: Some(&ctx.progress),
    };
    let r = haplan::tiers::tiers(&pool, &opts);
    let text = match format {
        Format::Json => report::tiers_json_text(&pool, &r),
        Format::Text | Format::Github => report::tiers_text(&pool, &r),
    };
    let code = exit_code(report::tiers_verdict(&r));
    Ok((code, text))
}
