use haplan_import::{ImportError, Options, Platform};
use serde_json::json;

use super::common::*;

const P: Platform = Platform::Proxmox;

fn pve9() -> Vec<(String, Vec<u8>)> {
    read(
        "proxmox/pve9",
        &["resources.json", "resources.cfg", "rules.cfg"],
    )
}

#[test]
fn nodes_guests_and_ha_state() {
    let out = convert(P, &pve9(), &Options::default()).unwrap();
    let pool = &out.pool;
    assert_eq!(pool["name"], "proxmox");
    assert_eq!(
        host(pool, "pve1")["capacity"],
        json!({"memory_mib": 131072})
    );
    assert_eq!(host(pool, "pve3")["capacity"], json!({"memory_mib": 65536}));
    assert_eq!(
        host(pool, "pve2")["labels"],
        json!({"proxmox_node": "pve2"})
    );
    assert_eq!(vm(pool, "db1")["demand"], json!({"memory_mib": 32768}));
    assert_eq!(vm(pool, "db1")["restart"], "protected");
    // 2000000000 bytes is 1907.35 MiB: demand rounds up.
    assert_eq!(vm(pool, "cache")["demand"]["memory_mib"], 1908);
    assert!(has_warning(&out, "rounded", "ct:200"));
    // Not HA-managed: Proxmox never restarts it elsewhere.
    assert_eq!(vm(pool, "build")["restart"], "unprotected");
    // HA-managed but asked to stay stopped.
    assert_eq!(vm(pool, "old")["restart"], "unprotected");
    assert_eq!(vm(pool, "old")["power"], "halted");
    // Templates are not VMs.
    assert!(!has_vm(pool, "debian-template"));
    // No priority is invented.
    assert!(
        pool["vms"]
            .as_array()
            .unwrap()
            .iter()
            .all(|v| v.get("priority").is_none())
    );
    for code in ["no-restart-priority", "cpu-not-modelled", "storage-unknown"] {
        assert!(codes(&out).contains(&code), "{code}: {:?}", out.warnings);
    }
}

#[test]
fn pve9_rules() {
    let out = convert(P, &pve9(), &Options::default()).unwrap();
    let pool = &out.pool;
    // Strict, apart, one per host: the format's own anti_affinity.
    assert_eq!(anti_affinity(pool, "dbs-apart"), ["db1", "db2"]);
    // Nothing else needed a group.
    assert!(pool.get("vm_groups").is_none());
    // Strict node affinity: allowed; priorities order the preference.
    assert_eq!(names(&vm(pool, "web1")["allowed_hosts"]), ["pve1", "pve2"]);
    assert_eq!(
        names(&vm(pool, "web1")["preferred_hosts"]),
        ["pve1", "pve2"]
    );
    // Non-strict: a preference only.
    assert!(vm(pool, "cache").get("allowed_hosts").is_none());
    assert_eq!(names(&vm(pool, "cache")["preferred_hosts"]), ["pve3"]);
    // A disabled rule is left out, and said so.
    assert!(anti_affinity(pool, "old-rule").is_empty());
    assert!(has_warning(&out, "rule-disabled", "old-rule"));
    assert!(has_warning(&out, "node-priority", "web1-home"));
}

#[test]
fn pve8_groups() {
    let files = read(
        "proxmox/pve8",
        &["resources.json", "resources.cfg", "groups.cfg"],
    );
    let out = convert(P, &files, &Options::default()).unwrap();
    let pool = &out.pool;
    // Restricted: only its nodes.
    assert_eq!(names(&vm(pool, "db1")["allowed_hosts"]), ["pve1", "pve2"]);
    // Not restricted: a preference, highest priority first.
    assert!(vm(pool, "web1").get("allowed_hosts").is_none());
    assert_eq!(
        names(&vm(pool, "web1")["preferred_hosts"]),
        ["pve1", "pve3"]
    );
    assert_eq!(vm(pool, "web2")["restart"], "protected");
    // Not in resources.cfg, and /cluster/resources says its HA state is stopped.
    assert_eq!(vm(pool, "old")["restart"], "unprotected");
}

#[test]
fn the_cpu_ratio_is_an_option() {
    let o = Options {
        cpu_overcommit: Some(4.0),
        ..Options::default()
    };
    let out = convert(P, &pve9(), &o).unwrap();
    assert_eq!(
        host(&out.pool, "pve3")["capacity"],
        json!({"memory_mib": 65536, "vcpus": 16})
    );
    assert_eq!(
        vm(&out.pool, "build")["demand"],
        json!({"memory_mib": 16384, "vcpus": 16})
    );
    assert_eq!(out.pool["ha"]["overcommit"], json!({"vcpus": 4.0}));
    assert!(!codes(&out).contains(&"cpu-not-modelled"));
}

#[test]
fn without_rules_the_pool_loads_and_solves_today() {
    let files = read("proxmox/pve9", &["resources.json", "resources.cfg"]);
    let out = import(P, &files, &Options::default()).unwrap();
    let pool = load(&out.pool);
    // pve1 (db1 32 GiB + web1 8 GiB) fails: pve2 has 131072 - 32768 - 8192
    // spare, and so on; two failures strand db1 + db2 + webs on pve3 (64 GiB
    // minus cache and build): 32+32+8+8 = 80 GiB > 45.1 GiB.
    assert_eq!(max_tolerable(&pool), 1);
}

#[test]
fn with_rules_haplan_keeps_the_databases_apart() {
    let out = import(P, &pve9(), &Options::default()).unwrap();
    let pool = load(&out.pool);
    assert_eq!(max_tolerable(&pool), 1);
    let (placed, unplaced) = plan(&pool, &["pve1"]);
    assert!(unplaced.is_empty());
    assert!(
        placed.contains(&("db1".to_string(), "pve3".to_string())),
        "{placed:?}"
    );
    assert!(
        placed.contains(&("web1".to_string(), "pve2".to_string())),
        "{placed:?}"
    );
}

#[test]
fn the_simulator_scenario_maps() {
    let files = read(
        "proxmox/sim-strict-negative",
        &[
            "hardware_status",
            "service_config",
            "static_service_stats",
            "rules_config",
        ],
    );
    let out = convert(P, &files, &Options::default()).unwrap();
    assert_eq!(out.pool["hosts"].as_array().unwrap().len(), 3);
    assert_eq!(vm(&out.pool, "vm:102")["host"], "node3");
    assert_eq!(
        vm(&out.pool, "vm:102")["demand"],
        json!({"memory_mib": 16384})
    );
    assert_eq!(anti_affinity(&out.pool, "keep-apart"), ["vm:101", "vm:102"]);
}

#[test]
fn the_simulator_scenario_recovers_where_proxmox_does() {
    let dir = "proxmox/sim-strict-negative";
    let files = read(
        dir,
        &[
            "hardware_status",
            "service_config",
            "static_service_stats",
            "rules_config",
        ],
    );
    let expected: serde_json::Value =
        serde_json::from_slice(&read(dir, &["expected.json"])[0].1).unwrap();
    let out = import(P, &files, &Options::default()).unwrap();
    let pool = load(&out.pool);
    let fail: Vec<&str> = names(&expected["fail"]);
    let (placed, unplaced) = plan(&pool, &fail);
    assert!(unplaced.is_empty());
    for (vm, node) in expected["recovery"].as_object().unwrap() {
        assert!(
            placed.contains(&(vm.clone(), node.as_str().unwrap().to_string())),
            "{placed:?}"
        );
    }
}

#[test]
fn errors_name_the_file_and_the_field() {
    let e = import_str(
        P,
        "r.json",
        "[{\"type\": \"node\", \"node\": \"a\", \"status\": \"online\"}]",
    )
    .unwrap_err();
    assert_eq!(e.to_string(), "r.json: [0].maxmem: missing");
    let e = import_str(
        P,
        "r.json",
        "[{\"type\": \"node\", \"node\": \"a\", \"maxmem\": -5}]",
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("r.json: [0].maxmem: must not be negative"),
        "{e}"
    );
    let e = import_str(P, "r.json", "[{\"type\": \"node\",\n \"node\": }]").unwrap_err();
    assert!(
        e.to_string()
            .starts_with("r.json: invalid JSON at line 2, column"),
        "{e}"
    );
    let e = import_str(
        P,
        "r.json",
        r#"[{"type": "node", "node": "a", "maxmem": 1073741824},
            {"type": "qemu", "vmid": 1, "node": "b", "maxmem": 1}]"#,
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "r.json: [1].node: node b is not among the nodes"
    );
    let e = import_str(P, "x.txt", "hello\n").unwrap_err();
    assert!(matches!(e, ImportError::Unrecognised { .. }), "{e}");
    assert!(
        e.to_string().starts_with("x.txt: not a Proxmox VE export"),
        "{e}"
    );
    let rules = "resource-affinity: r\n\tresources vm:1,vm:2\n\taffinity sideways\n";
    let files = vec![
        (
            "n.json".to_string(),
            br#"[{"type": "node", "node": "a", "maxmem": 1073741824}]"#.to_vec(),
        ),
        ("rules.cfg".to_string(), rules.as_bytes().to_vec()),
    ];
    let e = convert(P, &files, &Options::default()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "rules.cfg: line 3: r affinity: expected positive or negative, found \"sideways\""
    );
    let e = import_str(P, "empty.json", "[]").unwrap_err();
    assert!(matches!(e, ImportError::Incomplete(_)), "{e}");
}

#[test]
fn the_api_envelope_and_an_offline_node() {
    let text = r#"{"data": [
        {"type": "node", "node": "a", "status": "online", "maxmem": 8589934592, "maxcpu": 4},
        {"type": "node", "node": "b", "status": "offline"},
        {"type": "qemu", "vmid": 7, "node": "b", "name": "x", "status": "running", "maxmem": 1073741824, "hastate": "fence"}
    ]}"#;
    let out = import_str(P, "api.json", text).unwrap();
    assert_eq!(host(&out.pool, "b")["state"], "down");
    assert!(has_warning(&out, "node-offline", "node b"));
    assert_eq!(vm(&out.pool, "x")["restart"], "protected");
    let pool = load(&out.pool);
    // x awaits a restart now and fits on a.
    assert_eq!(max_tolerable(&pool), 0);
    let r = haplan::check(&pool, &haplan::CheckOptions::default());
    assert!(!r.stranded_now);
}

#[test]
fn a_pool_the_loader_refuses_is_an_error_not_a_pool() {
    let files = pve9();
    let e = haplan_import::import(P, &as_files(&files), &Options::default(), &|_| {
        Err("refused".into())
    })
    .unwrap_err();
    assert_eq!(e, ImportError::Rejected("refused".into()));
    assert_eq!(
        e.to_string(),
        "the imported pool is not one haplan accepts: refused"
    );
}
