//! `haplan schema`: print the JSON Schema of the pool format, or of one command's JSON answer.

use crate::cli::*;

// The arguments of `haplan schema` (their help is the variant's).
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// The command whose answer to describe; the pool format without it.
    #[arg(value_parser = answer_parser())]
    pub(crate) answer: Option<Answer>,
}

/// Runs `haplan schema`.
pub(crate) fn run(args: Args) -> (i32, String) {
    match args.answer {
        None => (EXIT_OK, POOL_SCHEMA.to_string()),
        Some(answer) => (EXIT_OK, json(answer.schema())),
    }
}
