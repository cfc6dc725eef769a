//! `haplan agility`: for every protected VM, the hosts it could restart on, and why none when so.

use crate::cli::*;

// The arguments of `haplan agility` (their help is the variant's).
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// Pool file (haplan/v1 JSON), or - for standard input.
    pub(crate) file: String,
    #[arg(long, value_enum, default_value = "text")]
    pub(crate) format: Format,
    #[command(flatten)]
    pub(crate) limit: TimeLimitArg,
}

/// Runs `haplan agility`.
pub(crate) fn run(args: Args, read: &mut Reader<'_>, ctx: &Ctx) -> Result<(i32, String), CliError> {
    let Args { file, format, .. } = args;
    let pool = read_pool(&file, read, ctx)?;
    let ag = agility::Agility::of(&pool);
    let code = exit_code(report::agility_verdict(&ag));
    ctx.answering();
    Ok((code, agility_output(&pool, &ag, format)))
}

fn agility_output(pool: &Pool, ag: &agility::Agility, format: Format) -> String {
    match format {
        Format::Json => report::agility_json_text(pool, ag),
        Format::Text | Format::Github => report::agility_text(pool, ag),
    }
}
