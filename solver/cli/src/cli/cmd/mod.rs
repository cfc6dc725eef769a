//! One module per command: its arguments (clap) and what it runs.

pub(crate) mod agility;
pub(crate) mod check;
pub(crate) mod completions;
pub(crate) mod control;
pub(crate) mod diff;
pub(crate) mod drain;
pub(crate) mod fleet;
pub(crate) mod headroom;
pub(crate) mod import;
pub(crate) mod man;
pub(crate) mod plan;
pub(crate) mod report;
pub(crate) mod run;
pub(crate) mod schema;
pub(crate) mod tiers;
pub(crate) mod timing;
pub(crate) mod whatif;
