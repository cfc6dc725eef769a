//! The admission check's shortcut (from the tolerance the runtime already
//! knows) against the full search, on random pools and operations: every
//! answer must be the same.

use haplan_runtime::sim::{Rng, random_pool};
use haplan_runtime::{Admission, Operation, Runtime};
use proptest::prelude::*;
use serde_json::json;

fn kind(a: &Admission) -> &'static str {
    match a {
        Admission::Allowed { .. } => "allowed",
        Admission::WouldOvercommit { .. } => "would_overcommit",
        Admission::Refused { .. } => "refused",
        Admission::Undecided { .. } => "undecided",
    }
}

fn operations(rt: &Runtime, rng: &mut Rng) -> Vec<Operation> {
    let pool = rt.pool();
    let hosts: Vec<String> = pool.hosts.iter().map(|h| h.name.clone()).collect();
    let vms: Vec<String> = pool.vms.iter().map(|v| v.name.clone()).collect();
    let pick =
        |rng: &mut Rng, xs: &[String]| xs[rng.range(0, xs.len() as u64 - 1) as usize].clone();
    let mut ops = Vec::new();
    for i in 0..12 {
        let restart = ["protected", "best_effort", "unprotected"][rng.range(0, 2) as usize];
        let mut def =
            json!({"demand": {"memory_mib": 1024 * rng.range(1, 24)}, "restart": restart});
        if rng.chance(0.2) {
            def["anti_affinity"] = json!("g");
        }
        if rng.chance(0.2) {
            def["allowed_hosts"] = json!([pick(rng, &hosts), pick(rng, &hosts)]);
        }
        ops.push(Operation::VmStart {
            vm: format!("new{i}"),
            host: pick(rng, &hosts),
            definition: Some(def),
        });
        ops.push(Operation::VmMigrate {
            vm: pick(rng, &vms),
            host: pick(rng, &hosts),
        });
    }
    for vm in &vms {
        ops.push(Operation::PriorityChange {
            vm: vm.clone(),
            priority: None,
            restart: Some(haplan::model::Restart::Protected),
        });
    }
    for k in 0..4 {
        ops.push(Operation::SetTolerance { k });
    }
    ops
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn the_shortcut_gives_the_answer_of_the_full_search(seed in any::<u64>()) {
        let mut rng = Rng::new(seed);
        let mut doc = random_pool(&mut rng);
        doc["ha"]["host_failures_to_tolerate"] = json!(rng.range(0, 2));
        let (rt, _) = Runtime::new(doc, 0).expect("a valid pool");
        for op in operations(&rt, &mut rng) {
            let fast = rt.check_operation(&op).expect("a valid operation");
            let full = rt.check_operation_exact(&op).expect("a valid operation");
            prop_assert_eq!(kind(&fast), kind(&full), "{:?}", op);
            if let (Admission::Allowed { configured: a }, Admission::Allowed { configured: b }) = (&fast, &full) {
                prop_assert_eq!(a, b);
            }
            if let (Admission::Refused { reason: a }, Admission::Refused { reason: b }) = (&fast, &full) {
                prop_assert_eq!(a, b);
            }
        }
    }
}
