//! Figures for the runtime's check budget: one lifecycle event
//! (`vm_started` of a new VM) and one admission check (`check_operation_exact`) on a
//! hard pool (`gen knife 24 9 1`: 24 hosts, 216 VMs, k = 7, which it
//! tolerates exactly: proving it takes a search over hundreds of thousands
//! of failure sets), with no budget and with the default one. Medians of
//! `RUNS` runs (default 3).
//!
//! `cargo run --release -p haplan-benches --example check_budget [RUNS [event|admission]]`

use std::time::{Duration, Instant};

use haplan_benches::knife_edge_pool;
use haplan_runtime::{Action, DEFAULT_CHECK_BUDGET, Event, Input, Operation, Output, Runtime};
use serde_json::{Value, json};

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

/// Answers every inventory and probe in flight (every host up, listing
/// what the pool says it runs).
fn settle(rt: &mut Runtime, at: u64) {
    let asked: Vec<Action> = rt.in_flight().cloned().collect();
    for a in asked {
        let event = match a {
            Action::Inventory { id, host } => {
                let pool = rt.pool();
                let h = pool.host_by_name(&host).expect("known");
                let vms = pool
                    .vms
                    .iter()
                    .filter(|v| v.host == h && v.power.is_active())
                    .map(|v| v.name.clone())
                    .collect();
                Event::Inventory {
                    id,
                    host,
                    vms,
                    error: None,
                    demand: Default::default(),
                }
            }
            Action::Probe { id, host } => Event::HealthCheck {
                id,
                host,
                ping: true,
                api: true,
            },
            _ => continue,
        };
        rt.handle(&Input { at, event }).expect("accepted");
    }
}

fn step(rt: &mut Runtime, at: u64, event: Event) -> (Duration, Output) {
    let t = Instant::now();
    let out = rt.handle(&Input { at, event }).expect("accepted");
    (t.elapsed(), out)
}

/// The knife pool with `k` configured, HA on once settled (the check at
/// start, which has no budget, sees HA off and is trivial).
fn runtime(k: u32) -> Runtime {
    let mut doc: Value = knife_edge_pool(24, 9, 1);
    doc["ha"]["host_failures_to_tolerate"] = json!(k);
    doc["ha"]["enabled"] = json!(false);
    let (mut rt, _) = Runtime::new(doc, 0).expect("a valid pool");
    settle(&mut rt, 0);
    rt.set_check_budget(Some(DEFAULT_CHECK_BUDGET));
    let on = json!({"enabled": true}).as_object().unwrap().clone();
    step(&mut rt, 500, Event::ConfigChanged { ha: on });
    rt
}

fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(3);
    // What to measure: `event`, `admission` or both (default).
    let only = std::env::args().nth(2);
    let wants = |what: &str| only.as_deref().is_none_or(|o| o == what);
    for (label, budget) in [
        ("no budget", None),
        ("default budget (5 s)", Some(DEFAULT_CHECK_BUDGET)),
    ] {
        let mut event = Vec::new();
        let mut admission = Vec::new();
        for r in 0..runs {
            // A VM of 1 GiB started on h000 (reported by the hypervisor):
            // the tolerance is recomputed on a pool that barely keeps 7.
            let def = json!({"demand": {"memory_mib": 1024}});
            if wants("event") {
                let mut rt = runtime(7);
                rt.set_check_budget(budget);
                let started = Event::VmStarted {
                    vm: format!("new{r}"),
                    host: "h000".into(),
                    definition: Some(def.clone()),
                };
                let (d, out) = step(&mut rt, 1_000, started);
                println!(
                    "  {label}: vm_started {:.2} s, {} undecided check(s), notes {:?}",
                    d.as_secs_f64(),
                    out.undecided.len(),
                    out.notes
                );
                event.push(d);
            }
            if wants("admission") {
                let mut rt = runtime(7);
                rt.set_check_budget(budget);
                let op = Operation::VmStart {
                    vm: format!("new{r}"),
                    host: "h000".into(),
                    definition: Some(def),
                };
                let t = Instant::now();
                let a = rt.check_operation_exact(&op).expect("a valid operation");
                let d = t.elapsed();
                println!(
                    "  {label}: admission (k = 7) {:.2} s: {a:?}",
                    d.as_secs_f64()
                );
                admission.push(d);
            }
        }
        let med = |xs: Vec<Duration>| {
            if xs.is_empty() {
                "-".to_string()
            } else {
                format!("{:.2} s", median(xs).as_secs_f64())
            }
        };
        println!(
            "{label}: lifecycle event (vm_started) median {}, admission check median {} ({runs} runs)",
            med(event),
            med(admission)
        );
    }
}
