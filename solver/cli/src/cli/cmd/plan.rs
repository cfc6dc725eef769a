//! `haplan plan`: the restart plan if exactly the given hosts fail now.

use crate::cli::*;

// The arguments of `haplan plan` (their help is the variant's).
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// Pool file (haplan/v1 JSON), or - for standard input.
    pub(crate) file: String,
    /// Comma-separated names of the hosts that fail.
    #[arg(long, value_name = "H1,H2,...", value_delimiter = ',', required = true)]
    pub(crate) fail: Vec<String>,
    #[arg(long, value_enum, default_value = "text")]
    pub(crate) format: Format,
    #[command(flatten)]
    pub(crate) limit: TimeLimitArg,
}

/// Runs `haplan plan`.
pub(crate) fn run(args: Args, read: &mut Reader<'_>, ctx: &Ctx) -> Result<(i32, String), CliError> {
    let Args {
        file,
        fail,
        format,
        limit: _,
    } = args;
    let pool = read_pool(&file, read, ctx)?;
    let failed =
        haplan::failure_set(&pool, &fail).map_err(|e| CliError::argument(e.to_string()))?;
    let an = Analysis::new(&pool);
    let p = plan::plan(&an, &failed, Scope::All, &ctx.budget());
    let code = exit_code(report::plan_verdict(&pool, &p));
    let text = match format {
        Format::Json => json(report::plan_json(&pool, &p)),
        Format::Text | Format::Github => report::plan_text(&pool, &p),
    };
    Ok((code, text))
}
