//! `haplan man`: the manual page (roff) of haplan or of one command.

use crate::cli::*;

// The arguments of `haplan man` (their help is the variant's).
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// The command whose page to print (default: haplan itself).
    pub(crate) command: Option<String>,
}

/// Runs `haplan man`.
pub(crate) fn run(args: Args) -> Result<(i32, String), CliError> {
    let Args { command } = args;
    let mut top = <Cli as clap::CommandFactory>::command();
    top.build();
    let page = match command {
        None => top,
        Some(name) => {
            let sub = top
                .find_subcommand(&name)
                .ok_or_else(|| format!("man: no command {}", quoted(&name)))?;
            // The page's name; the process ends soon after.
            let title: &'static str =
                Box::leak(format!("haplan-{}", sub.get_name()).into_boxed_str());
            sub.clone().name(title).version(env!("CARGO_PKG_VERSION"))
        }
    };
    let mut out = Vec::new();
    clap_mangen::Man::new(page)
        .render(&mut out)
        .map_err(|e| format!("cannot render the manual page: {e}"))?;
    Ok((EXIT_OK, String::from_utf8_lossy(&out).into_owned()))
}
