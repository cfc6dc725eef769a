//! haplan's integration tests, in one binary (one link of HiGHS, one
//! process): `cargo test --release -p haplan-tests` runs them all,
//! `cargo test --release -p haplan-tests -- fixtures::` one area.
//!
//! - [`fixtures`]: every pool under `fixtures/` through the CLI, in process
//!   and as the real binary, against golden files;
//! - [`properties`]: `check`, `plan`, `headroom`, `drain`, `tiers` and
//!   `timing` against the brute-force reference in `lib.rs`;
//! - [`strategies`]: the default search against deciding every set alone;
//! - [`fleet`]: `haplan fleet` against `haplan check` per file;
//! - [`split`]: one pool's search split into parts against `check`;
//! - [`runtime`], [`simulation`], [`admission`]: the HA runtime's state
//!   machine, its seeded simulation and its admission answers;
//! - [`budget`]: K first and the time limits of every command;
//! - [`hostile`]: input written to steer a CI gate, refused or harmless;
//! - [`import`]: `haplan import` of each platform's exports, end to end;
//! - [`platforms`]: each importer against its platform's exports, field by
//!   field (the mapping in `docs/import.md`);
//! - [`layering`]: no import cycle between the modules of any crate, no
//!   I/O in the core;
//! - [`e2e_failover`]: the runtime on the end-to-end bench (real libvirt
//!   daemons, BMCs and fence agents);
//! - [`drivers_e2e`]: the drivers alone against the same bench's daemons;
//! - [`html_render`]: every number an HTML report page shows against the
//!   answer it is rendered from.

mod admission;
mod budget;
mod drivers_e2e;
mod e2e_failover;
mod fixtures;
mod fleet;
mod hostile;
mod html_render;
mod import;
mod layering;
mod platforms;
mod properties;
mod runtime;
mod simulation;
mod split;
mod strategies;
