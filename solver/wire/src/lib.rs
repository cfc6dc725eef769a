//! haplan's answers as the CLI prints them: JSON values and text, for the
//! command line, the C ABI and the Python package alike (`docs/cli.md` is
//! the contract), and the JSON Schema of each (`schema`).

#![warn(missing_docs)]

pub mod report;
pub mod schema;
pub mod summary;
