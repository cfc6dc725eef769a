use haplan_import::{ImportError, Options, Platform};
use serde_json::json;

use super::common::*;

const P: Platform = Platform::Openstack;

const ALL: &[&str] = &[
    "hypervisors.json",
    "resource-providers.json",
    "servers.json",
    "server-groups.json",
    "segments.json",
    "masakari-hosts.json",
];

fn all() -> haplan_import::Imported {
    convert(P, &read("openstack", ALL), &Options::default()).unwrap()
}

#[test]
fn placement_gives_capacity_reserved_and_ratios() {
    let out = all();
    let pool = &out.pool;
    let h = host(pool, "cmp1.example.org");
    assert_eq!(h["capacity"], json!({"memory_mib": 262144, "vcpus": 64}));
    assert_eq!(h["reserved"], json!({"memory_mib": 4096}));
    // One ratio on every host: the pool's.
    assert!(h.get("overcommit").is_none());
    assert_eq!(pool["ha"]["overcommit"], json!({"vcpus": 4.0}));
    assert_eq!(h["labels"]["zone"], "az1");
    assert_eq!(host(pool, "cmp4.example.org")["labels"]["zone"], "az2");
    // Nested providers (NUMA cells) are not hosts.
    assert_eq!(pool["hosts"].as_array().unwrap().len(), 5);
}

#[test]
fn servers_groups_and_masakari() {
    let out = all();
    let pool = &out.pool;
    assert_eq!(
        vm(pool, "db1")["demand"],
        json!({"memory_mib": 65536, "vcpus": 16})
    );
    assert_eq!(vm(pool, "db1")["host"], "cmp1.example.org");
    // No allocation (stopped): the embedded flavor.
    assert_eq!(vm(pool, "old")["power"], "halted");
    assert_eq!(
        vm(pool, "old")["demand"],
        json!({"memory_mib": 4096, "vcpus": 2})
    );
    // HA_Enabled=False metadata: Masakari leaves it.
    assert_eq!(vm(pool, "batch")["restart"], "unprotected");
    assert_eq!(vm(pool, "web1")["restart"], "protected");
    // A reserved_host segment: its instances go to its reserved hosts.
    assert_eq!(
        names(&vm(pool, "edge")["allowed_hosts"]),
        ["cmp5.example.org"]
    );
    assert_eq!(host(pool, "cmp5.example.org")["standby"], true);
    assert_eq!(anti_affinity(pool, "dbs"), ["db1", "db2"]);
    assert_eq!(group(pool, "webs")["strict"], false);
    assert_eq!(group(pool, "pair")["max_per_host"], 2);
    assert!(codes(&out).contains(&"no-restart-priority"));
}

#[test]
fn it_loads_and_solves_with_the_extension() {
    let out =
        import_with_loader(P, &as_files(&read("openstack", ALL)), &Options::default()).unwrap();
    let pool = load(&out.pool);
    // cmp5 (standby) is edge's only target; cmp4 and cmp5 failing
    // strands it.
    let (_, unplaced) = plan(&pool, &["cmp4.example.org", "cmp5.example.org"]);
    assert_eq!(unplaced, ["edge"]);
}

#[test]
fn nova_alone_loads_and_solves_today() {
    let files = read("openstack", &["hypervisors.json", "servers.json"]);
    let out = import(P, &files, &Options::default()).unwrap();
    let pool = &out.pool;
    assert_eq!(
        host(pool, "cmp2.example.org")["capacity"],
        json!({"memory_mib": 262144})
    );
    assert_eq!(vm(pool, "db2")["demand"], json!({"memory_mib": 65536}));
    assert!(codes(&out).contains(&"no-masakari"));
    assert!(codes(&out).contains(&"cpu-not-modelled"));
    // 5 x 256 GiB hosts run 200 GiB of VMs (old is stopped): any one
    // host left holds them all, so four may fail, not five.
    let loaded = load(pool);
    assert_eq!(max_tolerable(&loaded), 4);
}

#[test]
fn errors_name_the_file_and_field() {
    let e = import_str(
        P,
        "h.json",
        r#"{"hypervisors": [{"hypervisor_hostname": "a", "state": "up"}]}"#,
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("h.json: hypervisors[0]: memory_mb missing"),
        "{e}"
    );
    let files = vec![
        ("h.json".to_string(), br#"{"hypervisors": [{"hypervisor_hostname": "a", "memory_mb": 1024}]}"#.to_vec()),
        ("s.json".to_string(), br#"{"servers": [{"id": "x", "name": "x", "status": "ACTIVE", "OS-EXT-SRV-ATTR:hypervisor_hostname": "b"}]}"#.to_vec()),
    ];
    let e = convert(P, &files, &Options::default()).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("s.json: servers[0]: server x runs on \"b\""),
        "{e}"
    );
    let files = vec![
        (
            "h.json".to_string(),
            br#"{"hypervisors": [{"hypervisor_hostname": "a", "memory_mb": 1024}]}"#.to_vec(),
        ),
        (
            "g.json".to_string(),
            br#"{"server_group": {"id": "g", "name": "g", "policy": "friends", "members": []}}"#
                .to_vec(),
        ),
    ];
    let e = convert(P, &files, &Options::default()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "g.json: server_group: unknown server group policy \"friends\""
    );
    let e = import_str(P, "x.json", r#"{"flavors": []}"#).unwrap_err();
    assert!(matches!(e, ImportError::Unrecognised { .. }), "{e}");
}
