//! Figures for the HA runtime: the admission check (`check_operation`) on a
//! 64-host, 1000-VM pool at k = 2, the cost of one lifecycle event, and the
//! seeded simulation's throughput. Medians of many runs.
//!
//! `cargo run --release -p haplan-benches --example admission`

use std::time::{Duration, Instant};

use haplan_benches::tshirt_pool;
use haplan_runtime::{Admission, Event, Input, Operation, Runtime, sim};
use serde_json::json;

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn us(d: Duration) -> String {
    format!("{:.0} µs", d.as_secs_f64() * 1e6)
}

fn main() {
    let mut doc = tshirt_pool(64, 1000, 4);
    doc["ha"]["host_failures_to_tolerate"] = json!(2);
    let (rt, _) = Runtime::new(doc, 0).expect("a valid pool");
    let (k, max) = rt.tolerance().expect("computed at start");
    println!(
        "pool tshirt-64x1000: 64 hosts, {} VMs, k = {k}, tolerates {max}",
        rt.pool().vms.len()
    );

    // Starts of new VMs of every t-shirt size on every host, in turn.
    let shapes = [(2, 1), (4, 2), (8, 4), (16, 4), (32, 8)];
    let ops: Vec<Operation> = (0..200)
        .map(|i| {
            let (gib, vcpus) = shapes[i % shapes.len()];
            Operation::VmStart {
                vm: format!("new{i}"),
                host: format!("h{:03}", (i * 7) % 64),
                definition: Some(json!({"demand": {"memory_mib": gib * 1024, "vcpus": vcpus}})),
            }
        })
        .collect();
    let mut times = Vec::new();
    let (mut allowed, mut refused, mut over) = (0, 0, 0);
    for _ in 0..5 {
        for op in &ops {
            let t = Instant::now();
            let a = rt.check_operation(op).expect("valid operation");
            times.push(t.elapsed());
            match a {
                // Admitted, the check undecided within its budget: counted
                // as allowed (none are on these pools).
                Admission::Allowed { .. } | Admission::Undecided { .. } => allowed += 1,
                Admission::Refused { .. } => refused += 1,
                Admission::WouldOvercommit { .. } => over += 1,
            }
        }
    }
    println!(
        "admission check (vm_start), k = 2: median {}, p90 {} over {} checks ({allowed} allowed, {over} would overcommit, {refused} do not fit)",
        us(median(times.clone())),
        us({
            let mut t = times.clone();
            t.sort();
            t[t.len() * 9 / 10]
        }),
        times.len()
    );

    // The same checks by the full search ("tolerates k?"), which the
    // shortcut above avoids when the known tolerance has a margin.
    let mut times = Vec::new();
    for op in &ops {
        let t = Instant::now();
        rt.check_operation_exact(op).expect("valid operation");
        times.push(t.elapsed());
    }
    println!(
        "admission check by full search, same operations: median {}",
        us(median(times))
    );

    // A lifecycle event: a VM stops and starts again (tolerance recomputed).
    let mut rt = rt;
    let vm = rt.pool().vms[0].name.clone();
    let host = rt.pool().hosts[rt.pool().vms[0].host].name.clone();
    let mut times = Vec::new();
    for i in 0..40u64 {
        let event = if i % 2 == 0 {
            Event::VmStopped { vm: vm.clone() }
        } else {
            Event::VmStarted {
                vm: vm.clone(),
                host: host.clone(),
                definition: None,
            }
        };
        let t = Instant::now();
        rt.handle(&Input { at: i, event }).expect("valid event");
        times.push(t.elapsed());
    }
    println!(
        "lifecycle event with exact recalculation: median {}",
        us(median(times))
    );

    let t = Instant::now();
    let n = 500;
    let bad = (0..n)
        .map(sim::scenario)
        .filter(|o| !o.violations.is_empty())
        .count();
    let el = t.elapsed();
    println!(
        "simulation: {n} seeded scenarios in {:.2} s ({:.1} ms each, one thread), {bad} broke an invariant",
        el.as_secs_f64(),
        el.as_secs_f64() * 1000.0 / n as f64
    );
}
