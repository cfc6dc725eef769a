//! `haplan whatif`: what the pool would tolerate after a list of changes (the file is not edited).

use crate::cli::*;

// The arguments of `haplan whatif` (their help is the variant's).
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// Pool file (haplan/v1 JSON), or - for standard input.
    pub(crate) file: String,
    /// Change file (a JSON list of changes), or - for standard input.
    pub(crate) changes: String,
    /// K for both pools (default: each pool's ha.host_failures_to_tolerate,
    /// after the changes that of the changed pool).
    #[arg(long, value_name = "K", value_parser = parse_tolerate)]
    pub(crate) tolerate: Option<u32>,
    #[arg(long, value_enum, default_value = "text")]
    pub(crate) format: Format,
    #[command(flatten)]
    pub(crate) budget: BudgetArgs,
    /// Show a failing set of size max_tolerable + 1 even when a pool meets K.
    #[arg(long)]
    pub(crate) explain: bool,
}

/// Runs `haplan whatif`.
pub(crate) fn run(args: Args, read: &mut Reader<'_>, ctx: &Ctx) -> Result<(i32, String), CliError> {
    let Args {
        file,
        changes,
        tolerate,
        format,
        budget: _,
        explain,
    } = args;
    one_stdin(&file, &changes, "FILE and CHANGES")?;
    let (shown, text) = read(&file)?;
    let before = parse_pool(&shown, &text)?;
    let value: serde_json::Value = serde_json::from_str(&text).expect("a valid pool is JSON");
    let (shown, text) = read(&changes)?;
    let changed = whatif::apply_text(&value, &text)
        .map_err(|e| CliError::invalid(&shown, format!("{shown}: {e}"), &e.problems, e.omitted))?;
    ctx.loaded.store(true, std::sync::atomic::Ordering::Relaxed);
    let opts = ctx.check(tolerate, explain);
    let r = whatif::what_if(&before, &changed.pool, &opts);
    let text = match format {
        Format::Json => json(report::whatif_json(
            &before,
            &changed.pool,
            &changed.changes,
            &r,
        )),
        Format::Text | Format::Github => {
            report::whatif_text(&before, &changed.pool, &changed.changes, &r)
        }
    };
    Ok((exit_code(r.verdict()), text))
}
