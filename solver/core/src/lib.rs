//! # haplan
//!
//! If any k hosts of a virtualization pool die right now, can every protected
//! VM be restarted somewhere, and where? `haplan` answers exactly: the largest
//! such k ([`check`]), a failing set with what it strands when the pool is
//! overcommitted, and a concrete restart plan for any failure set ([`plan()`]).
//! Around that answer: what a list of changes would do to it ([`what_if`],
//! [`whatif`]), whether a new version of a pool is worse than an old one
//! under a CI policy ([`diff()`]), and how many more VMs of one shape can
//! start with the pool still tolerating K ([`headroom()`]), whether a host
//! can be drained into maintenance with the pool still tolerating K
//! ([`drain()`]), the tolerance of each restart-priority tier
//! ([`tiers()`]), and how long restarting them takes after the worst
//! tolerated failure ([`timing()`]). With `ha.failure_domain_label`, k
//! counts failure domains ([`domains`]).
//!
//! ```
//! let pool = haplan::parse_pool(r#"{
//!   "name": "demo",
//!   "hosts": [
//!     {"name": "h1", "capacity": {"memory_mib": 262144}},
//!     {"name": "h2", "capacity": {"memory_mib": 262144}}
//!   ],
//!   "vms": [
//!     {"name": "a", "host": "h1", "demand": {"memory_mib": 122880}},
//!     {"name": "b", "host": "h2", "demand": {"memory_mib": 122880}}
//!   ]
//! }"#).unwrap();
//! let report = haplan::check(&pool, &haplan::CheckOptions::default());
//! assert_eq!(report.max_tolerable, 1);
//! assert!(report.ok());
//! ```
//!
//! The core does no I/O: it reads strings and returns values. See
//! `ARCHITECTURE.md` for the map.

// The packing code indexes flat arrays (`cap[t * nres + r]`) beside
// per-item ones: index loops read as the formulas they implement.
#![allow(clippy::needless_range_loop)]
#![warn(missing_docs)]

mod adversary;
pub mod agility;
pub mod diff;
pub mod domains;
pub mod drain;
pub mod error;
pub mod headroom;
pub mod limits;
pub mod load;
pub mod model;
pub mod pack;
pub mod plan;
pub mod rng;
pub mod scenario;
pub mod setbound;
pub mod strict;
#[cfg(test)]
mod testpools;
pub mod tiers;
pub mod timing;
pub mod tolerance;
mod warm;
pub mod whatif;
pub mod words;

pub use agility::{Agility, NotAgile};
pub use diff::{DiffOptions, DiffReport, diff};
pub use drain::{DrainOptions, DrainReport, drain};
pub use error::{ChangesError, PoolError, Problem, QueryError, ShapeError};
pub use headroom::{HeadroomOptions, HeadroomReport, Shape, headroom};
pub use load::{parse_pool, pool_from_value, read_pool_value};
pub use model::{HostId, Pool, VmId};
pub use pack::Budget;
pub use plan::{Plan, Scope, verify as verify_plan};
pub use scenario::Analysis;
pub use tiers::{TiersOptions, TiersReport, tiers};
pub use timing::{TimingOptions, TimingReport, timing};
pub use tolerance::{
    CheckOptions, CheckReport, DEFAULT_MAX_TIME, DEFAULT_TIME_LIMIT, Phase, Progress,
    ProgressSnapshot, Stop, Strategy, Tolerates, Verdict, Witness, check, tolerates,
};
pub use whatif::{Change, WhatIfReport, what_if};

/// Host ids for a list of host names, as a failure set: every name must be
/// a host that is up or already down (a host in maintenance cannot fail).
pub fn failure_set<S: AsRef<str>>(pool: &Pool, names: &[S]) -> Result<Vec<HostId>, QueryError> {
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        let name = name.as_ref().trim();
        let h = pool
            .host_by_name(name)
            .ok_or_else(|| QueryError::UnknownHost(name.to_string()))?;
        if pool.hosts[h].state == model::HostState::Maintenance {
            return Err(QueryError::HostInMaintenance(name.to_string()));
        }
        if !out.contains(&h) {
            out.push(h);
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// The restart plan, protected VMs and best-effort VMs, if `failed` fail now.
pub fn plan(pool: &Pool, failed: &[HostId], budget: &Budget) -> Plan {
    plan::plan(&Analysis::new(pool), failed, Scope::All, budget)
}

/// Runs `f` with at least 128 KiB of stack left, on a new segment of the
/// heap when there is less. The searches recurse once per host (failure
/// sets, headroom's placements) or per VM (a drain's moves): a pool of
/// 20,000 hosts is that deep, past a thread's 2 MiB.
#[inline]
pub(crate) fn deep<R>(f: impl FnOnce() -> R) -> R {
    stacker::maybe_grow(128 * 1024, 4 * 1024 * 1024, f)
}
