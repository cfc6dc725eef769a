//! haplan's answers as the CLI prints them: JSON values and text, for the
//! command line, the C ABI and the Python package alike (`docs/cli.md` is
//! the contract).

pub mod report;
pub mod summary;
