use haplan_import::{ImportError, Options, Platform};
use serde_json::{Value, json};

use super::common::*;

const P: Platform = Platform::Ganeti;

fn drbd_ring() -> haplan_import::Imported {
    convert(P, &read("ganeti", &["drbd-ring.data"]), &Options::default()).unwrap()
}

#[test]
fn nodes_instances_and_policies() {
    let out = drbd_ring();
    let pool = &out.pool;
    // Memory the node holds back: what is neither free nor used by its
    // running primaries (node memory and unaccounted memory).
    let w1 = host(pool, "w1");
    assert_eq!(w1["capacity"], json!({"memory_mib": 16384, "vcpus": 8}));
    assert_eq!(w1["reserved"], json!({"memory_mib": 5120, "vcpus": 1}));
    assert_eq!(
        w1["labels"],
        json!({"ganeti_group": "web", "ganeti_role": "master"})
    );
    // app2 is down: w2 holds only www2.
    assert_eq!(host(pool, "w2")["reserved"]["memory_mib"], 6144);
    assert_eq!(host(pool, "d3")["state"], "down");
    assert!(has_warning(&out, "node-offline", "d3"));
    // The cluster's vCPU ratio for all, the db group's own where it differs.
    assert_eq!(pool["ha"]["overcommit"], json!({"vcpus": 4.0}));
    assert!(w1.get("overcommit").is_none());
    assert_eq!(host(pool, "d1")["overcommit"], json!({"vcpus": 2.0}));
    // DRBD: to the secondary only; shared storage: anywhere in the group.
    assert_eq!(names(&vm(pool, "www1")["allowed_hosts"]), ["w2"]);
    assert_eq!(names(&vm(pool, "app1")["allowed_hosts"]), ["w2", "w3"]);
    assert_eq!(vm(pool, "app2")["power"], "halted");
    // Local storage: re-created elsewhere in the group, as Ganeti counts it.
    assert_eq!(names(&vm(pool, "batch")["allowed_hosts"]), ["d1", "d3"]);
    assert!(has_warning(&out, "recreated-elsewhere", "batch"));
    // auto_balance off: not in Ganeti's N+1 guarantee.
    assert_eq!(vm(pool, "scratch")["restart"], "best_effort");
    assert!(has_warning(&out, "no-auto-balance", "scratch"));
    assert_eq!(
        vm(pool, "pg1")["demand"],
        json!({"memory_mib": 24576, "vcpus": 8})
    );
    // Exclusion tags: instances sharing a role tag should not share a node.
    let g = group(pool, "tag:role:web");
    assert_eq!(
        (g["affinity"].as_str(), g["strict"].as_bool()),
        (Some("apart"), Some(false))
    );
    assert_eq!(names(&g["vms"]), ["www1", "www2", "www3"]);
    assert_eq!(names(&group(pool, "tag:role:db")["vms"]), ["pg1", "pg2"]);
}

/// Without its soft exclusion groups and the db group's own vCPU ratio
/// (neither binds here: memory does), the pool loads today.
fn without_extension(pool: &Value) -> Value {
    let mut p = pool.clone();
    p.as_object_mut().unwrap().remove("vm_groups");
    for h in p["hosts"].as_array_mut().unwrap() {
        h.as_object_mut().unwrap().remove("overcommit");
    }
    p
}

#[test]
fn n_plus_one_as_ganeti_counts_it() {
    let out = drbd_ring();
    let pool = load(&without_extension(&out.pool));
    // One node of a group: its DRBD instances fit on their secondaries.
    // w1 and w2 together: www1's secondary is gone.
    assert_eq!(max_tolerable(&pool), 1);
    let (placed, unplaced) = plan(&pool, &["d1"]);
    assert!(placed.contains(&("pg1".into(), "d2".into())), "{placed:?}");
    assert!(unplaced.is_empty(), "{unplaced:?}");
}

#[test]
fn the_whole_import_loads_with_the_extension() {
    let out = import_with_loader(
        P,
        &as_files(&read("ganeti", &["drbd-ring.data"])),
        &Options::default(),
    )
    .unwrap();
    assert_eq!(max_tolerable(&load(&out.pool)), 1);
}

#[test]
fn a_node_whose_instances_fit_nowhere() {
    // n3's 4500 MiB instance fits in no other node's 3180 MiB free: the
    // pool is not N+1 (hcheck: one node not evacuable); n1's three
    // instances spread over n2, n3 and n4.
    let out = import(
        P,
        &read("ganeti", &["shared-unevacuable.data"]),
        &Options::default(),
    )
    .unwrap();
    let pool = load(&out.pool);
    assert_eq!(max_tolerable(&pool), 0);
    let r = haplan::check(&pool, &haplan::CheckOptions::default());
    let w = r.witness.expect("a failing node");
    assert_eq!(pool.hosts[w.failed[0]].name, "n3");
    for n in ["n1", "n2", "n4"] {
        let (_, unplaced) = plan(&pool, &[n]);
        assert!(unplaced.is_empty(), "{n}: {unplaced:?}");
    }
    let (_, unplaced) = plan(&pool, &["n3"]);
    assert_eq!(unplaced, ["big"]);
}

#[test]
fn bad_data_names_the_line_and_field() {
    let base = std::str::from_utf8(&read("ganeti", &["shared-unevacuable.data"])[0].1)
        .unwrap()
        .to_string();
    let bad = base.replace("a2|1500|0|1|running|Y|n1", "a2|lots|0|1|running|Y|n1");
    let e = import_str(P, "c.data", &bad).unwrap_err();
    assert_eq!(
        e.to_string(),
        "c.data: line 9: field 2 (memory): expected a whole number, found \"lots\""
    );
    let bad = base.replace("a2|1500|0|1|running|Y|n1", "a2|1500|0|1|running|Y|n9");
    let e = import_str(P, "c.data", &bad).unwrap_err();
    assert_eq!(
        e.to_string(),
        "c.data: line 9: field 7 (primary node): unknown node \"n9\""
    );
    let bad = base.replace("a2|1500|0|1|running|Y", "a2|1500|0|1|sleepy|Y");
    let e = import_str(P, "c.data", &bad).unwrap_err();
    assert!(
        e.to_string().contains("unknown instance status \"sleepy\""),
        "{e}"
    );
    let e = import_str(P, "c.json", "{}").unwrap_err();
    assert!(matches!(e, ImportError::Unrecognised { .. }), "{e}");
    let two = read("ganeti", &["shared-unevacuable.data", "drbd-ring.data"]);
    assert!(matches!(
        convert(P, &two, &Options::default()),
        Err(ImportError::Incomplete(_))
    ));
}
