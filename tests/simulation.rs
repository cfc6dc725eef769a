//! The seeded simulation of the HA runtime: thousands of random pools and
//! fault schedules (host crashes, partitions, flapping networks, failing and
//! slow fence devices, failing VM starts, VM crashes, the runtime itself
//! crashing and recovering from its log), each checked for the invariants:
//! no VM ever runs on two hosts; no VM is restarted elsewhere before its
//! host is confirmed off; every protected VM runs again whenever a
//! placement for it exists; the log replays to the same state.

use haplan_runtime::sim;
use rayon::prelude::*;

fn scenarios() -> u64 {
    std::env::var("HAPLAN_SIM_SCENARIOS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000)
}

#[test]
fn seeded_scenarios_keep_every_invariant() {
    let n = scenarios();
    let outcomes: Vec<sim::Outcome> = (0..n).into_par_iter().map(sim::scenario).collect();
    let bad: Vec<&sim::Outcome> = outcomes
        .iter()
        .filter(|o| !o.violations.is_empty())
        .collect();
    for o in bad.iter().take(5) {
        eprintln!("seed {}: {:#?}", o.seed, o.violations);
    }
    assert!(
        bad.is_empty(),
        "{} of {n} scenarios broke an invariant",
        bad.len()
    );
    let mut rec: Vec<u64> = outcomes
        .iter()
        .flat_map(|o| o.recovery_ms.iter().copied())
        .collect();
    rec.sort_unstable();
    assert!(!rec.is_empty(), "no scenario recovered from a host crash");
    let q = |p: f64| rec[((rec.len() - 1) as f64 * p) as usize] as f64 / 1000.0;
    eprintln!(
        "{n} scenarios, {} host-crash recoveries: median {:.0} s, p95 {:.0} s, max {:.0} s (simulated)",
        rec.len(),
        q(0.5),
        q(0.95),
        q(1.0)
    );
}
