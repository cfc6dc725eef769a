//! `haplan check`: decide whether the pool tolerates K simultaneous host failures.

use crate::cli::*;

// The arguments of `haplan check` (their help is the variant's).
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// Pool file (haplan/v1 JSON), or - for standard input.
    pub(crate) file: String,
    /// K to check against (default: the file's ha.host_failures_to_tolerate).
    #[arg(long, value_name = "K", value_parser = parse_tolerate)]
    pub(crate) tolerate: Option<u32>,
    #[arg(long, value_enum, default_value = "text")]
    pub(crate) format: CheckFormat,
    #[command(flatten)]
    pub(crate) budget: BudgetArgs,
    /// Show a failing set of size max_tolerable + 1 even when the pool meets K.
    #[arg(long)]
    pub(crate) explain: bool,
    /// How to decide (for comparisons): `full` (default), `enumerate`
    /// (every failure set, no set-level bounds), `ilp-per-set`.
    #[arg(long, value_enum, default_value = "full", hide_short_help = true)]
    pub(crate) strategy: StrategyArg,
}

/// Runs `haplan check`.
pub(crate) fn run(args: Args, read: &mut Reader<'_>, ctx: &Ctx) -> Result<(i32, String), CliError> {
    let Args {
        file,
        tolerate,
        format,
        budget: _,
        explain,
        strategy,
    } = args;
    let pool = read_pool(&file, read, ctx)?;
    let opts = CheckOptions {
        strategy: strategy.into(),
        ..ctx.check(tolerate, explain)
    };
    let report = tolerance::check(&pool, &opts);
    let code = exit_code(report.verdict());
    let text = match format {
        CheckFormat::Json => json(report::check_json(&pool, &report)),
        CheckFormat::Text | CheckFormat::Github => report::check_text(&pool, &report),
        CheckFormat::Markdown => haplan_html::check_markdown(&report::check_json(&pool, &report))
            .map_err(|e| e.to_string())?,
    };
    Ok((code, text))
}
