//! The `haplan` command line (`docs/cli.md`). [`cli::run`] takes its
//! streams as arguments so that tests drive exactly what the binary does.

#![warn(missing_docs)]

pub mod cli;
mod exit;
mod fleet;
mod github;

pub use cli::{run, run_from};
