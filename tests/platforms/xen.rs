//! XenServer: XenAPI records, and xapi's own HA failover tests as an
//! answer key (`fixtures/import/xen/xapi-ha-vm-failover.json`: every pool
//! of xen-api's `ocaml/tests/test_ha_vm_failover.ml`, translated). Each
//! pool is built into XenAPI records the way that test's `setup` builds
//! its database (a shared SR and network, a local SR and network per
//! host, one VDI per disk, a PBD and PIF per host for each), imported by
//! the xen importer, and haplan's answer compared with xapi's.

use std::collections::{BTreeMap, BTreeSet};

use haplan_import::{File, Options, Platform};
use serde_json::{Map, Value, json};

use super::common::*;

const P: Platform = Platform::Xen;
const GIB: u64 = 1 << 30;

/// XenAPI records, by class then reference, for one translated pool.
fn records(pool: &Value) -> Value {
    let mut r: BTreeMap<&str, Map<String, Value>> = BTreeMap::new();
    let mut put = |class: &'static str, reference: String, rec: Value| {
        r.entry(class).or_default().insert(reference, rec);
    };
    let k = pool["ha_host_failures_to_tolerate"].as_u64().unwrap();
    put(
        "pool",
        "OpaqueRef:pool".into(),
        json!({"uuid": "pool-uuid", "name_label": "xapi-test", "master": "OpaqueRef:host-0",
               "ha_enabled": true, "ha_host_failures_to_tolerate": k.to_string()}),
    );
    put(
        "SR",
        "OpaqueRef:sr-shared".into(),
        json!({"uuid": "sr-shared", "name_label": "shared", "content_type": "", "PBDs": [], "shared": true}),
    );
    put(
        "network",
        "OpaqueRef:net-shared".into(),
        json!({"uuid": "net-shared", "name_label": "xenbr0", "bridge": "xenbr0", "PIFs": []}),
    );
    let mut hosts = vec![&pool["master"]];
    hosts.extend(pool["slaves"].as_array().unwrap());
    let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut vm_n = 0;
    for (i, h) in hosts.iter().enumerate() {
        let hname = h["name"].as_str().unwrap();
        let href = format!("OpaqueRef:host-{i}");
        put(
            "host",
            href.clone(),
            json!({"uuid": format!("host-uuid-{i}"), "name_label": hname, "hostname": hname,
            "resident_VMs": [], "metrics": format!("OpaqueRef:hm-{i}"), "memory_overhead": "0", "enabled": true}),
        );
        let mem = h["memory_gib"].as_u64().unwrap() * GIB;
        put(
            "host_metrics",
            format!("OpaqueRef:hm-{i}"),
            json!({"uuid": format!("hm-{i}"), "memory_total": mem.to_string(), "live": true}),
        );
        put(
            "SR",
            format!("OpaqueRef:sr-local-{i}"),
            json!({"uuid": format!("sr-local-{i}"), "name_label": "Local storage", "content_type": "", "PBDs": [], "shared": false}),
        );
        put(
            "network",
            format!("OpaqueRef:net-local-{i}"),
            json!({"uuid": format!("net-local-{i}"), "name_label": "xapi0", "bridge": "xapi0", "PIFs": []}),
        );
        for (j, sr) in [
            format!("OpaqueRef:sr-local-{i}"),
            "OpaqueRef:sr-shared".into(),
        ]
        .into_iter()
        .enumerate()
        {
            put(
                "PBD",
                format!("OpaqueRef:pbd-{i}-{j}"),
                json!({"uuid": format!("pbd-{i}-{j}"), "host": href, "SR": sr, "currently_attached": true, "device_config": {}}),
            );
        }
        for (j, net) in [
            format!("OpaqueRef:net-local-{i}"),
            "OpaqueRef:net-shared".into(),
        ]
        .into_iter()
        .enumerate()
        {
            put(
                "PIF",
                format!("OpaqueRef:pif-{i}-{j}"),
                json!({"uuid": format!("pif-{i}-{j}"), "host": href, "network": net, "device": format!("eth{j}"), "MAC": ""}),
            );
        }
        for v in h["vms"].as_array().unwrap() {
            let vref = format!("OpaqueRef:vm-{vm_n}");
            let mem = (v["memory_gib"].as_u64().unwrap() * GIB).to_string();
            let mut group_refs = Vec::new();
            for g in v.get("groups").map(names).unwrap_or_default() {
                groups.entry(g.to_string()).or_default().push(vref.clone());
                group_refs.push(format!("OpaqueRef:group-{g}"));
            }
            put(
                "VM",
                vref.clone(),
                json!({
                    "uuid": format!("vm-uuid-{vm_n}"), "name_label": v["name"], "power_state": "Running",
                    "is_control_domain": false, "is_a_template": false, "is_a_snapshot": false,
                    "resident_on": href, "domain_type": "hvm",
                    "memory_static_min": mem, "memory_dynamic_min": mem, "memory_dynamic_max": mem, "memory_static_max": mem,
                    "memory_overhead": "0", "VCPUs_max": "1",
                    "ha_always_run": v.get("ha_always_run").cloned().unwrap_or(json!(true)),
                    "ha_restart_priority": v.get("ha_restart_priority").cloned().unwrap_or(json!("restart")),
                    "order": "0", "start_delay": "0", "groups": group_refs,
                }),
            );
            put(
                "VDI",
                format!("OpaqueRef:vdi-{vm_n}"),
                json!({"uuid": format!("vdi-{vm_n}"), "SR": "OpaqueRef:sr-shared", "virtual_size": "0"}),
            );
            put(
                "VBD",
                format!("OpaqueRef:vbd-{vm_n}"),
                json!({"uuid": format!("vbd-{vm_n}"), "VM": vref, "VDI": format!("OpaqueRef:vdi-{vm_n}"), "bootable": false, "type": "Disk", "empty": false}),
            );
            put(
                "VIF",
                format!("OpaqueRef:vif-{vm_n}"),
                json!({"uuid": format!("vif-{vm_n}"), "VM": vref, "network": "OpaqueRef:net-shared", "MAC": ""}),
            );
            vm_n += 1;
        }
    }
    for (g, members) in groups {
        put(
            "VM_group",
            format!("OpaqueRef:group-{g}"),
            json!({"uuid": format!("group-{g}"), "name_label": g, "placement": "anti_affinity", "VMs": members}),
        );
    }
    let clustered = pool["cluster"].as_u64().unwrap() as usize;
    if clustered > 0 {
        let chs: Vec<String> = (0..clustered)
            .map(|i| format!("OpaqueRef:ch-{i}"))
            .collect();
        put(
            "Cluster",
            "OpaqueRef:cluster".into(),
            json!({"uuid": "cluster", "cluster_hosts": chs, "cluster_stack": "corosync"}),
        );
        for i in 0..clustered {
            put(
                "Cluster_host",
                format!("OpaqueRef:ch-{i}"),
                json!({"uuid": format!("ch-{i}"), "cluster": "OpaqueRef:cluster", "host": format!("OpaqueRef:host-{i}"), "joined": true, "enabled": true}),
            );
        }
    }
    Value::Object(
        r.into_iter()
            .map(|(k, v)| (k.to_string(), Value::Object(v)))
            .collect(),
    )
}

fn cases() -> Vec<Value> {
    let (_, bytes) = &read("xen", &["xapi-ha-vm-failover.json"])[0];
    let doc: Value = serde_json::from_slice(bytes).unwrap();
    doc["cases"].as_array().unwrap().clone()
}

fn import_records(recs: &Value) -> haplan_import::Imported {
    let text = serde_json::to_string(recs).unwrap();
    haplan_import::convert(
        P,
        &[File::new("records.json", text.as_bytes())],
        &Options::default(),
    )
    .unwrap()
}

/// The pool without its VM groups: xapi's anti-affinity is best effort,
/// so it changes no capacity question.
fn without_groups(pool: &Value) -> Value {
    let mut p = pool.clone();
    p.as_object_mut().unwrap().remove("vm_groups");
    p
}

fn pairs(v: &Value) -> Vec<(String, String)> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p[0].as_str().unwrap().to_string(),
                p[1].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn every_xapi_pool_gets_xapis_answer_or_a_better_one() {
    let cases = cases();
    assert_eq!(cases.len(), 27);
    let mut checked = 0;
    for case in &cases {
        let id = case["id"].as_str().unwrap();
        let expect = &case["expect"];
        let out = import_records(&records(&case["pool"]));
        let pool = load(&without_groups(&out.pool));
        match case["suite"].as_str().unwrap() {
            "AllProtectedVms" => {
                let protected: Vec<&str> = pool
                    .vms
                    .iter()
                    .filter(|v| v.restart == haplan::model::Restart::Protected)
                    .map(|v| v.name.as_str())
                    .collect();
                assert_eq!(protected, names(&expect["protected"]), "{id}");
            }
            "PlanForNFailures" => {
                let k = case["pool"]["ha_host_failures_to_tolerate"]
                    .as_u64()
                    .unwrap() as u32;
                let tolerates = max_tolerable(&pool) >= k;
                match expect["plan"].as_str().unwrap() {
                    // A plan xapi found is a proof: haplan must agree.
                    "Plan_exists_for_all_VMs" => assert!(tolerates, "{id}"),
                    // Here xapi's "no" is also the truth.
                    _ => assert!(!tolerates, "{id}"),
                }
            }
            "AssertNewVMPreservesHAPlan" => {
                let k = case["pool"]["ha_host_failures_to_tolerate"]
                    .as_u64()
                    .unwrap() as u32;
                let before = max_tolerable(&pool) >= k;
                let gib = expect["new_vm"]["memory_gib"].as_u64().unwrap();
                let shape = haplan::Shape::parse(
                    &json!({"memory_mib": gib * 1024}).to_string(),
                    "new_vm",
                    &["shared".to_string()],
                    &["xenbr0".to_string()],
                )
                .unwrap();
                let h =
                    haplan::headroom(&pool, &shape, &haplan::HeadroomOptions::default()).unwrap();
                assert!(h.exact, "{id}");
                // xapi refuses a VM only when a plan exists and would break.
                let ok = !before || h.max_additional >= 1;
                let want = expect["result"] == "ok";
                assert_eq!(
                    ok, want,
                    "{id}: before {before}, headroom {}",
                    h.max_additional
                );
            }
            "ComputeMaxFailures" => {
                let n = expect["max_failures"].as_u64().unwrap();
                assert!(
                    has_warning(&out, "quorum-limit", &format!("at most {n} hosts fail")),
                    "{id}: {:?}",
                    out.warnings
                );
                // Capacity alone: no VMs, so every host may fail.
                assert_eq!(max_tolerable(&pool) as usize, pool.hosts.len(), "{id}");
            }
            "AntiAffinityPlans" | "Slave1EvacuationPlan" => {
                let fail = names(&expect["fail"]);
                let (placed, unplaced) = plan(&pool, &fail);
                let placed_vms: BTreeSet<&str> = placed.iter().map(|(v, _)| v.as_str()).collect();
                for key in ["spread_evenly", "no_breach", "evacuation"] {
                    let Some(theirs) = expect.get(key) else {
                        continue;
                    };
                    for (vm, _) in pairs(theirs) {
                        assert!(
                            placed_vms.contains(vm.as_str()),
                            "{id}: xapi's {key} plan places {vm}, haplan's does not: {placed:?} {unplaced:?}"
                        );
                    }
                }
                // What haplan leaves out cannot fit: with only memory, a VM
                // larger than every surviving host's spare.
                for vm in &unplaced {
                    let v = &pool.vms[pool.vm_by_name(vm).unwrap()];
                    let need = v.demand[0];
                    let fits_alone = pool.hosts.iter().enumerate().any(|(h, host)| {
                        !fail.contains(&host.name.as_str()) && pool.hosts[h].capacity[0] >= need
                    });
                    assert!(
                        !fits_alone || id == "anti-affinity-6",
                        "{id}: {vm} left out"
                    );
                }
            }
            other => panic!("unknown suite {other}"),
        }
        checked += 1;
    }
    assert_eq!(checked, cases.len());
}

#[test]
fn anti_affinity_groups_are_soft_vm_groups() {
    let case = cases()
        .into_iter()
        .find(|c| c["id"] == "anti-affinity-7")
        .unwrap();
    let out = import_records(&records(&case["pool"]));
    let g = group(&out.pool, "grp2");
    assert_eq!(g["affinity"], "apart");
    assert_eq!(g["strict"], false);
    assert_eq!(
        names(&g["vms"]),
        ["vm5_grp2", "vm7_grp2", "vm2_grp2", "vm4_grp2"]
    );
    // An even spread over the two hosts left after one failure of three:
    // ceil(4 / 2) and ceil(3 / 2).
    assert_eq!(g["max_per_host"], 2);
    let g = group(&out.pool, "grp1");
    assert_eq!(names(&g["vms"]), ["vm6_grp1", "vm1_grp1", "vm3_grp1"]);
    assert_eq!(g["max_per_host"], 2);
    assert_eq!(g["strict"], false);
    // With four hosts, three are left: one per host (evacuation-1).
    let case = cases()
        .into_iter()
        .find(|c| c["id"] == "evacuation-1")
        .unwrap();
    let out = import_records(&records(&case["pool"]));
    assert_eq!(group(&out.pool, "grp1")["max_per_host"], 1);
}

/// A pool of two hosts leaves one after a failure: nothing to spread, so
/// the group is left out with a warning (xapi ignores anti-affinity below
/// three hosts).
#[test]
fn a_group_with_one_host_left_is_not_spread() {
    let mut case = cases()
        .into_iter()
        .find(|c| c["id"] == "anti-affinity-7")
        .unwrap();
    case["pool"]["slaves"].as_array_mut().unwrap().truncate(1);
    let out = import_records(&records(&case["pool"]));
    assert!(out.pool.get("vm_groups").is_none(), "{:#}", out.pool);
    let codes: Vec<&str> = out.warnings.iter().map(|w| w.code).collect();
    assert_eq!(
        codes.iter().filter(|&&c| c == "group-not-spread").count(),
        2,
        "{codes:?}"
    );
}

/// Members of each group per host once `failed` failed and `placed`
/// restarted: the VMs still running where they run, the others where the
/// plan puts them.
fn spread(
    pool: &haplan::Pool,
    groups: &BTreeMap<String, Vec<String>>,
    failed: &[&str],
    placed: &[(String, String)],
) -> BTreeMap<String, usize> {
    let mut at: BTreeMap<&str, &str> = BTreeMap::new();
    for v in &pool.vms {
        let host = pool.hosts[v.host].name.as_str();
        if !failed.contains(&host) {
            at.insert(v.name.as_str(), host);
        }
    }
    for (v, h) in placed {
        at.insert(v.as_str(), h.as_str());
    }
    groups
        .iter()
        .map(|(name, members)| {
            let mut per_host: BTreeMap<&str, usize> = BTreeMap::new();
            for m in members {
                if let Some(h) = at.get(m.as_str()) {
                    *per_host.entry(h).or_default() += 1;
                }
            }
            (name.clone(), per_host.values().copied().max().unwrap_or(0))
        })
        .collect()
}

/// xapi spreads a group evenly: each member to a host with the fewest
/// members of its group (its spread-evenly plan), else to a host with
/// none while fewer than two hold any (no breach), else by capacity
/// alone. Wherever xapi's spread-evenly or evacuation plan places every
/// VM, haplan's plan for the same failure keeps the imported soft rule
/// (an even spread over the hosts left) and so puts no more members of
/// any group on one host than xapi's plan does; where xapi piles two
/// members on a host although keeping all apart fits (evacuation-1),
/// haplan keeps them apart.
#[test]
fn haplan_spreads_groups_at_least_as_evenly_as_xapi() {
    let mut checked = 0;
    for case in cases() {
        let suite = case["suite"].as_str().unwrap();
        if suite != "AntiAffinityPlans" && suite != "Slave1EvacuationPlan" {
            continue;
        }
        let id = case["id"].as_str().unwrap();
        let theirs = case["expect"]
            .get("spread_evenly")
            .or_else(|| case["expect"].get("evacuation"))
            .unwrap();
        let theirs: Vec<(String, String)> = theirs
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p[0].as_str().unwrap().to_string(),
                    p[1].as_str().unwrap().to_string(),
                )
            })
            .collect();
        if theirs.is_empty() {
            // No spread-evenly plan (anti-affinity-5, -6): xapi falls back.
            continue;
        }
        let out = import_records(&records(&case["pool"]));
        let pool = load(&out.pool);
        let fail = names(&case["expect"]["fail"]);
        let failed = haplan::failure_set(&pool, &fail).unwrap();
        let p = haplan::plan(&pool, &failed, &haplan::Budget::unlimited());
        assert!(p.all_protected_placed(&pool), "{id}: {p:?}");
        // evacuation-2: keeping the group apart cannot fit (xapi falls
        // back to bin packing too); everywhere else the spread is kept.
        assert_eq!(
            p.soft_broken.is_empty(),
            id != "evacuation-2",
            "{id}: {:?}",
            p.soft_broken
        );
        let (placed, _) = plan(&pool, &fail);
        let groups: BTreeMap<String, Vec<String>> = out.pool["vm_groups"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|g| {
                (
                    g["name"].as_str().unwrap().to_string(),
                    names(&g["vms"]).iter().map(|m| m.to_string()).collect(),
                )
            })
            .collect();
        let ours = spread(&pool, &groups, &fail, &placed);
        let xapi = spread(&pool, &groups, &fail, &theirs);
        for (name, &n) in &ours {
            assert!(
                n <= xapi[name],
                "{id}: group {name} has {n} members on one host, xapi's plan {}: {placed:?}",
                xapi[name]
            );
        }
        if id == "evacuation-1" {
            assert_eq!((ours["grp1"], xapi["grp1"]), (1, 2), "{placed:?}");
        }
        if id == "anti-affinity-7" {
            assert_eq!(ours, xapi, "two per host, as xapi: {placed:?}");
        }
        checked += 1;
    }
    // anti-affinity-2, -3, -4, -7, -8 and evacuation-0, -1, -2.
    assert_eq!(checked, 8);
}

#[test]
fn records_map_field_by_field() {
    let case = cases()
        .into_iter()
        .find(|c| c["id"] == "protected-5")
        .unwrap();
    let out = import_records(&records(&case["pool"]));
    let pool = &out.pool;
    assert_eq!(pool["name"], "xapi-test");
    assert_eq!(pool["ha"]["host_failures_to_tolerate"], 0);
    assert_eq!(
        host(pool, "master")["capacity"],
        json!({"memory_mib": 262144})
    );
    assert_eq!(
        host(pool, "master")["labels"],
        json!({"xen_uuid": "host-uuid-0"})
    );
    assert_eq!(
        names(&host(pool, "master")["storage"]),
        ["Local storage", "shared"]
    );
    assert_eq!(
        names(&host(pool, "master")["networks"]),
        ["xapi0", "xenbr0"]
    );
    assert_eq!(vm(pool, "vm1")["demand"], json!({"memory_mib": 1024}));
    assert_eq!(vm(pool, "vm1")["storage"], json!(["shared"]));
    assert_eq!(vm(pool, "vm1")["networks"], json!(["xenbr0"]));
    assert_eq!(vm(pool, "vm1")["order"], 0);
    assert_eq!(vm(pool, "vm2")["restart"], "unprotected");
    assert!(codes(&out).contains(&"no-restart-priority"));
    assert!(codes(&out).contains(&"cpu-not-modelled"));
}

#[test]
fn one_file_per_class_reads_the_same() {
    let case = cases()
        .into_iter()
        .find(|c| c["id"] == "evacuation-1")
        .unwrap();
    let recs = records(&case["pool"]);
    let bundle = import_records(&recs);
    let texts: Vec<(String, String)> = recs
        .as_object()
        .unwrap()
        .iter()
        .map(|(class, r)| {
            (
                format!("{class}.json"),
                serde_json::to_string_pretty(r).unwrap(),
            )
        })
        .collect();
    let files: Vec<File<'_>> = texts
        .iter()
        .map(|(n, t)| File::new(n, t.as_bytes()))
        .collect();
    let split = haplan_import::convert(P, &files, &Options::default()).unwrap();
    assert_eq!(bundle, split);
}

#[test]
fn sizing_follows_xapis_planner_and_hosts_hold_their_own() {
    let text = json!({
        "host": {"OpaqueRef:h": {"name_label": "h", "hostname": "h", "resident_VMs": [], "metrics": "OpaqueRef:m", "memory_overhead": "104857600", "enabled": false, "cpu_info": {"cpu_count": "16"}}},
        "host_metrics": {"OpaqueRef:m": {"memory_total": "17179869184", "live": true}},
        "VM": {
            "OpaqueRef:d": {"name_label": "Control domain", "power_state": "Running", "is_control_domain": true, "resident_on": "OpaqueRef:h", "memory_static_max": "1073741824"},
            "OpaqueRef:a": {"name_label": "hvm", "power_state": "Running", "is_control_domain": false, "resident_on": "OpaqueRef:h", "domain_type": "hvm",
                            "memory_dynamic_min": "2147483648", "memory_static_max": "4294967296", "memory_overhead": "1000", "VCPUs_max": "2", "ha_restart_priority": "best-effort"},
            "OpaqueRef:b": {"name_label": "pvh", "power_state": "Paused", "is_control_domain": false, "resident_on": "OpaqueRef:h", "domain_type": "pvh",
                            "memory_dynamic_min": "2147483648", "memory_static_max": "4294967296", "VCPUs_max": "4", "ha_restart_priority": "restart"}
        }
    })
    .to_string();
    let o = Options {
        cpu_overcommit: Some(2.0),
        ..Options::default()
    };
    let out = import_with_loader(P, &[File::new("r.json", text.as_bytes())], &o).unwrap();
    let pool = &out.pool;
    // 100 MiB of host overhead and the control domain's 1 GiB.
    assert_eq!(host(pool, "h")["reserved"], json!({"memory_mib": 1124}));
    assert_eq!(
        host(pool, "h")["capacity"],
        json!({"memory_mib": 16384, "vcpus": 16})
    );
    assert_eq!(host(pool, "h")["state"], "maintenance");
    // HVM: dynamic minimum plus overhead, rounded up; PVH: static maximum.
    assert_eq!(
        vm(pool, "hvm")["demand"],
        json!({"memory_mib": 2049, "vcpus": 2})
    );
    assert_eq!(vm(pool, "hvm")["restart"], "best_effort");
    assert_eq!(
        vm(pool, "pvh")["demand"],
        json!({"memory_mib": 4096, "vcpus": 4})
    );
    assert_eq!(vm(pool, "pvh")["power"], "paused");
    assert!(!has_vm(pool, "Control domain"));
}

#[test]
fn bad_records_name_the_file_and_the_field() {
    let e = import_str(P, "r.json", r#"{"host": {"OpaqueRef:h": {"name_label": "h", "hostname": "h", "resident_VMs": [], "metrics": "OpaqueRef:m"}}}"#).unwrap_err();
    assert_eq!(
        e.to_string(),
        "r.json: \"host\"[\"OpaqueRef:h\"].metrics: no host_metrics record OpaqueRef:m among the files"
    );
    let e = import_str(P, "r.json", r#"{"host_metrics": {"OpaqueRef:m": {"memory_total": "lots", "live": true}}, "host": {"OpaqueRef:h": {"name_label": "h", "hostname": "h", "resident_VMs": [], "metrics": "OpaqueRef:m"}}}"#).unwrap_err();
    assert!(
        e.to_string()
            .contains("memory_total: expected a non-negative whole number, found \"lots\""),
        "{e}"
    );
    let e = import_str(P, "r.json", r#"{"OpaqueRef:x": {"colour": "blue"}}"#).unwrap_err();
    assert!(
        e.to_string().starts_with("r.json: not a XenServer export"),
        "{e}"
    );
    let e = import_str(P, "hosts.txt", "uuid ( RO) : 123\n").unwrap_err();
    assert!(
        e.to_string()
            .starts_with("hosts.txt: not a XenServer export"),
        "{e}"
    );
}
