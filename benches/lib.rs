//! Deterministic pool generators for benchmarks and scale tests.
//!
//! Every generator takes a seed and returns the same pool (as pool-format
//! JSON) for the same arguments, on every machine.

use serde_json::{Value, json};

/// SplitMix64, the simulation's generator: small, fast, and the same
/// everywhere.
pub use haplan_runtime::sim::Rng;

const GIB: u64 = 1024;

/// Memory-only pool: `hosts` hosts of 256 GiB ± 25% (whole GiB), each running
/// `vms_per_host` protected VMs of 1 to 16 GiB (a VM that would overload its
/// host is shrunk to what is left, and left out when under 1 GiB is).
pub fn memory_pool(hosts: usize, vms_per_host: usize, seed: u64) -> Value {
    let mut rng = Rng::new(seed);
    let mut hs = Vec::new();
    let mut vms = Vec::new();
    for h in 0..hosts {
        let mem = rng.range(192, 320) * GIB;
        hs.push(json!({"name": format!("h{h:03}"), "capacity": {"memory_mib": mem}}));
        let mut free = mem;
        for v in 0..vms_per_host {
            let m = (rng.range(1, 16) * GIB).min(free);
            if m < GIB {
                continue;
            }
            free -= m;
            vms.push(json!({
                "name": format!("vm{h:03}-{v:02}"),
                "host": format!("h{h:03}"),
                "demand": {"memory_mib": m},
            }));
        }
    }
    json!({"format": "haplan/v1", "name": format!("mem-{hosts}x{}", hosts * vms_per_host),
           "ha": {"host_failures_to_tolerate": 1}, "hosts": hs, "vms": vms})
}

/// Memory-only pool of many small VMs: `hosts` hosts of 256 GiB ± 25%, each
/// running `vms_per_host` protected VMs of 1 to `max_gib` GiB (shrunk or
/// left out as in [`memory_pool`]).
pub fn small_vm_pool(hosts: usize, vms_per_host: usize, max_gib: u64, seed: u64) -> Value {
    let mut rng = Rng::new(seed);
    let mut hs = Vec::new();
    let mut vms = Vec::new();
    for h in 0..hosts {
        let mem = rng.range(192, 320) * GIB;
        hs.push(json!({"name": format!("h{h:04}"), "capacity": {"memory_mib": mem}}));
        let mut free = mem;
        for v in 0..vms_per_host {
            let m = (rng.range(1, max_gib) * GIB).min(free);
            if m < GIB {
                continue;
            }
            free -= m;
            vms.push(json!({
                "name": format!("vm{h:04}-{v:03}"),
                "host": format!("h{h:04}"),
                "demand": {"memory_mib": m},
            }));
        }
    }
    json!({"format": "haplan/v1", "name": format!("small-{hosts}x{}", hosts * vms_per_host),
           "ha": {"host_failures_to_tolerate": 1}, "hosts": hs, "vms": vms})
}

/// T-shirt VM sizes: (memory GiB, vCPUs).
const SIZES: [(u64, u64); 5] = [(2, 1), (4, 2), (8, 4), (16, 4), (32, 8)];
/// Host models: (memory GiB, cores).
const MODELS: [(u64, u64); 3] = [(256, 32), (384, 48), (512, 64)];

/// Two resources (memory, vCPUs with 4:1 overcommit), a few host models and
/// t-shirt VM sizes, `vms` VMs spread over `hosts` hosts without overload.
pub fn tshirt_pool(hosts: usize, vms: usize, seed: u64) -> Value {
    let mut rng = Rng::new(seed);
    let mut free: Vec<(i64, i64)> = Vec::new();
    let mut hs = Vec::new();
    for h in 0..hosts {
        let (mem, cores) = MODELS[rng.range(0, MODELS.len() as u64 - 1) as usize];
        free.push(((mem * GIB) as i64 - 8 * GIB as i64, (cores * 4) as i64));
        hs.push(json!({"name": format!("h{h:03}"),
            "capacity": {"memory_mib": mem * GIB, "vcpus": cores},
            "reserved": {"memory_mib": 8 * GIB}}));
    }
    let mut out = Vec::new();
    for v in 0..vms {
        let (m, c) = SIZES[rng.range(0, SIZES.len() as u64 - 1) as usize];
        let (m, c) = ((m * GIB) as i64, c as i64);
        let start = rng.range(0, hosts as u64 - 1) as usize;
        let Some(h) = (0..hosts)
            .map(|i| (start + i) % hosts)
            .find(|&h| free[h].0 >= m && free[h].1 >= c)
        else {
            continue;
        };
        free[h].0 -= m;
        free[h].1 -= c;
        let restart = if rng.range(0, 9) == 0 {
            "best_effort"
        } else {
            "protected"
        };
        out.push(
            json!({"name": format!("vm{v:04}"), "host": format!("h{h:03}"),
            "demand": {"memory_mib": m, "vcpus": c}, "restart": restart}),
        );
    }
    json!({"format": "haplan/v1", "name": format!("tshirt-{hosts}x{vms}"),
           "ha": {"host_failures_to_tolerate": 1, "overcommit": {"vcpus": 4.0}},
           "hosts": hs, "vms": out})
}

/// A pool with every kind of constraint: `nres` resources (memory, vCPUs with
/// 4:1 overcommit, then `r2`, `r3`, … in small units), storage and networks
/// that only some hosts reach, anti-affinity groups (`groups` of them; 0 for
/// none), some `allowed_hosts`, standby hosts, priorities, best-effort and
/// unprotected VMs. VMs are placed without overloading any host.
pub fn mixed_pool(hosts: usize, vms: usize, nres: usize, groups: usize, seed: u64) -> Value {
    assert!(nres >= 1 && hosts >= 1);
    let mut rng = Rng::new(seed);
    let names: Vec<String> = (0..nres)
        .map(|r| match r {
            0 => "memory_mib".to_string(),
            1 => "vcpus".to_string(),
            _ => format!("r{r}"),
        })
        .collect();
    let mut hs = Vec::new();
    let mut free: Vec<Vec<i64>> = Vec::new();
    // Hosts sized for about half their capacity in use on average.
    let per_host = (vms as f64 / hosts as f64).max(1.0);
    let mean = [8.5 * GIB as f64, 4.5 / 4.0, 2.5];
    for h in 0..hosts {
        let mut cap = serde_json::Map::new();
        let mut f = Vec::new();
        for (r, name) in names.iter().enumerate() {
            let load = per_host * mean[r.min(2)];
            let c = (load * (1.5 + rng.range(0, 100) as f64 / 100.0)).ceil() as u64;
            let c = if r == 0 {
                c.div_ceil(GIB) * GIB
            } else {
                c.max(1)
            };
            cap.insert(name.clone(), json!(c));
            f.push(if r == 1 { c as i64 * 4 } else { c as i64 });
        }
        let mut storage = vec!["shared"];
        if rng.range(0, 2) > 0 {
            storage.push("san-a");
        }
        let mut networks = vec!["mgmt"];
        if rng.range(0, 3) > 0 {
            networks.push("vlan10");
        }
        let standby = hosts > 4 && h % 7 == 3;
        hs.push(json!({"name": format!("h{h:03}"), "capacity": cap,
            "storage": storage, "networks": networks, "standby": standby}));
        free.push(f);
    }
    const PRIORITIES: [&str; 4] = ["critical", "high", "medium", "low"];
    let mut out = Vec::new();
    for v in 0..vms {
        let demand: Vec<i64> = (0..nres)
            .map(|r| match r {
                0 => (rng.range(1, 16) * GIB) as i64,
                1 => rng.range(1, 8) as i64,
                _ => rng.range(0, 6) as i64,
            })
            .collect();
        let start = rng.range(0, hosts as u64 - 1) as usize;
        let Some(h) = (0..hosts)
            .map(|i| (start + i) % hosts)
            .find(|&h| (0..nres).all(|r| free[h][r] >= demand[r]))
        else {
            continue;
        };
        for r in 0..nres {
            free[h][r] -= demand[r];
        }
        let mut vm = serde_json::Map::new();
        vm.insert("name".into(), json!(format!("vm{v:05}")));
        vm.insert("host".into(), json!(format!("h{h:03}")));
        let d: serde_json::Map<String, Value> = names
            .iter()
            .cloned()
            .zip(demand.iter().map(|&x| json!(x)))
            .collect();
        vm.insert("demand".into(), Value::Object(d));
        vm.insert(
            "priority".into(),
            json!(PRIORITIES[rng.range(0, 3) as usize]),
        );
        match rng.range(0, 19) {
            0 => {
                vm.insert("restart".into(), json!("best_effort"));
            }
            1 => {
                vm.insert("restart".into(), json!("unprotected"));
            }
            _ => {}
        }
        let host_storage = &hs[h]["storage"];
        if host_storage.as_array().is_some_and(|s| s.len() > 1) && rng.range(0, 3) == 0 {
            vm.insert("storage".into(), json!(["san-a"]));
        } else {
            vm.insert("storage".into(), json!(["shared"]));
        }
        if hs[h]["networks"].as_array().is_some_and(|n| n.len() > 1) && rng.range(0, 3) == 0 {
            vm.insert("networks".into(), json!(["vlan10"]));
        }
        if groups > 0 && rng.range(0, 2) == 0 {
            vm.insert(
                "anti_affinity".into(),
                json!(format!("g{}", rng.range(0, groups as u64 - 1))),
            );
        }
        if rng.range(0, 24) == 0 {
            let allowed: Vec<String> = (0..4)
                .map(|_| format!("h{:03}", rng.range(0, hosts as u64 - 1)))
                .collect();
            vm.insert("allowed_hosts".into(), json!(allowed));
        }
        vm.insert("order".into(), json!(rng.range(0, 2)));
        out.push(Value::Object(vm));
    }
    // Anti-affinity between VMs already sharing a host is allowed (it binds
    // restarts only), as in real pools.
    json!({"format": "haplan/v1", "name": format!("mixed-{hosts}x{vms}x{nres}"),
           "ha": {"host_failures_to_tolerate": 2, "overcommit": {"vcpus": 4.0}},
           "hosts": hs, "vms": out})
}

/// A pool with the rules between VMs that importers write (`vm_groups`):
/// `hosts` hosts of 256 to 512 GiB and 32 to 64 vCPUs about half full with
/// `vms` VMs of 2 to 64 GiB; one apart group of eight VMs with at most two
/// per host per hundred VMs (every tenth VM of one also in the next group),
/// one keep-together pair on the same host per three hosts, one soft apart
/// group per two hundred VMs, and priorities from 0 to 4999 for a fifth of
/// the VMs (the others named), so that `tiers` has hundreds of tiers.
pub fn rules_pool(hosts: usize, vms: usize, seed: u64) -> Value {
    assert!(hosts >= 2);
    let mut rng = Rng::new(seed);
    let mut hs = Vec::new();
    let mut free: Vec<(i64, i64)> = Vec::new();
    for h in 0..hosts {
        let mem = (256 + 128 * rng.range(0, 2)) * GIB;
        let cpu = 32 + 16 * rng.range(0, 2);
        hs.push(json!({"name": format!("h{h:04}"), "capacity": {"memory_mib": mem, "vcpus": cpu}}));
        free.push(((mem as f64 * 0.55) as i64, cpu as i64 * 4 / 2));
    }
    const PRIORITIES: [&str; 4] = ["critical", "high", "medium", "low"];
    let mut out: Vec<Value> = Vec::new();
    let mut on: Vec<Vec<usize>> = vec![Vec::new(); hosts];
    for v in 0..vms {
        let mem = (rng.range(1, 32) * 2 * GIB) as i64;
        let cpu = (mem / (4 * GIB as i64)).max(1);
        let start = rng.range(0, hosts as u64 - 1) as usize;
        let Some(h) = (0..hosts)
            .map(|i| (start + i) % hosts)
            .find(|&h| free[h].0 >= mem && free[h].1 >= cpu)
        else {
            continue;
        };
        free[h].0 -= mem;
        free[h].1 -= cpu;
        let priority = if rng.range(0, 4) == 0 {
            json!(rng.range(0, 4999))
        } else {
            json!(PRIORITIES[rng.range(0, 3) as usize])
        };
        let mut vm = json!({"name": format!("vm{v:06}"), "host": format!("h{h:04}"),
            "demand": {"memory_mib": mem, "vcpus": cpu}, "priority": priority});
        if rng.range(0, 19) == 0 {
            vm["restart"] = json!("best_effort");
        }
        if rng.range(0, 24) == 0 {
            let preferred: Vec<String> = (0..3)
                .map(|_| format!("h{:04}", rng.range(0, hosts as u64 - 1)))
                .collect();
            vm["preferred_hosts"] = json!(preferred);
        }
        on[h].push(out.len());
        out.push(vm);
    }
    let name = |i: usize| out[i]["name"].clone();
    let mut groups = Vec::new();
    let n = out.len();
    for g in 0..n / 100 {
        let mut members: Vec<Value> = (0..8)
            .map(|_| name(rng.range(0, n as u64 - 1) as usize))
            .collect();
        if g % 10 == 0 && g + 1 < n / 100 {
            members.push(name(rng.range(0, n as u64 - 1) as usize));
        }
        members.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
        members.dedup();
        groups.push(json!({"name": format!("spread{g}"), "affinity": "apart",
            "max_per_host": 2, "vms": members}));
    }
    for (h, here) in on.iter().enumerate().filter(|(h, _)| h % 3 == 0) {
        if here.len() >= 2 {
            groups.push(json!({"name": format!("pair{h}"), "affinity": "together",
                "vms": [name(here[0]), name(here[1])]}));
        }
    }
    for g in 0..n / 200 {
        let mut members: Vec<Value> = (0..5)
            .map(|_| name(rng.range(0, n as u64 - 1) as usize))
            .collect();
        members.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
        members.dedup();
        groups.push(json!({"name": format!("soft{g}"), "affinity": "apart",
            "strict": false, "vms": members}));
    }
    json!({"format": "haplan/v1", "name": format!("rules-{hosts}x{vms}"),
           "ha": {"host_failures_to_tolerate": 2, "overcommit": {"vcpus": 4.0}},
           "hosts": hs, "vms": out, "vm_groups": groups})
}

/// A pool built from templates, as real pools often are: hosts of one or two
/// models, each running one of a few fixed sets of VMs, so that many hosts
/// are interchangeable. Some VMs share anti-affinity groups; with `nres` 2,
/// vCPUs are counted too.
pub fn twins_pool(hosts: usize, nres: usize, seed: u64) -> Value {
    let mut rng = Rng::new(seed);
    let models: Vec<(u64, u64)> = (0..2)
        .map(|_| (rng.range(96, 160) * GIB, rng.range(24, 48)))
        .collect();
    // A few VM sets; each VM (memory GiB, vCPUs, group or none).
    let sets: Vec<Vec<(u64, u64, Option<u64>)>> = (0..3)
        .map(|_| {
            (0..rng.range(2, 5))
                .map(|_| {
                    let group = (rng.range(0, 3) == 0).then(|| rng.range(0, 1));
                    (rng.range(8, 40), rng.range(1, 8), group)
                })
                .collect()
        })
        .collect();
    let mut hs = Vec::new();
    let mut vms = Vec::new();
    for h in 0..hosts {
        let (mem, cpus) = models[(rng.range(0, 3) == 0) as usize];
        let mut cap = serde_json::Map::new();
        cap.insert("memory_mib".into(), json!(mem));
        if nres > 1 {
            cap.insert("vcpus".into(), json!(cpus));
        }
        hs.push(json!({"name": format!("h{h:02}"), "capacity": cap}));
        let set = &sets[rng.range(0, sets.len() as u64 - 1) as usize];
        let mut used = 0;
        for (i, &(m, c, g)) in set.iter().enumerate() {
            if used + m * GIB > mem {
                break;
            }
            used += m * GIB;
            let mut d = serde_json::Map::new();
            d.insert("memory_mib".into(), json!(m * GIB));
            if nres > 1 {
                d.insert("vcpus".into(), json!(c));
            }
            let mut vm =
                json!({"name": format!("h{h:02}-vm{i}"), "host": format!("h{h:02}"), "demand": d});
            if let Some(g) = g {
                vm["anti_affinity"] = json!(format!("g{g}"));
            }
            vms.push(vm);
        }
    }
    json!({"format": "haplan/v1", "name": format!("twins-{hosts}"),
           "ha": {"host_failures_to_tolerate": 1, "overcommit": {"vcpus": 2.0}},
           "hosts": hs, "vms": vms})
}

/// The knife edge: `hosts` identical 256 GiB hosts, memory only, each
/// running `vms_per_host` protected VMs of 10 to 30 GiB (whole GiB; a VM
/// that would overload its host is shrunk to what is left). Every host loses
/// the same 256 GiB when it fails (its VMs plus its spare), so the aggregate
/// bound is the same for every failure set and only fragmentation decides.
pub fn knife_edge_pool(hosts: usize, vms_per_host: usize, seed: u64) -> Value {
    let mut rng = Rng::new(seed);
    let mut hs = Vec::new();
    let mut vms = Vec::new();
    for h in 0..hosts {
        let mem = 256 * GIB;
        hs.push(json!({"name": format!("h{h:03}"), "capacity": {"memory_mib": mem}}));
        let mut free = mem;
        for v in 0..vms_per_host {
            let m = (rng.range(10, 30) * GIB).min(free);
            if m < GIB {
                continue;
            }
            free -= m;
            vms.push(json!({
                "name": format!("vm{h:03}-{v:02}"),
                "host": format!("h{h:03}"),
                "demand": {"memory_mib": m},
            }));
        }
    }
    json!({"format": "haplan/v1", "name": format!("knife-{hosts}x{}", hosts * vms_per_host),
           "ha": {"host_failures_to_tolerate": 2}, "hosts": hs, "vms": vms})
}

/// Memory, vCPUs (4:1) and GPUs: `hosts` hosts of the t-shirt models, the
/// first `gpu_hosts` of them with 4 GPUs each; `gpu_vms` VMs of 1 or 2 GPUs
/// (and 32 GiB, 8 vCPUs) on the GPU hosts, then `vms - gpu_vms` t-shirt VMs
/// spread over every host. A GPU VM restarts only where GPUs are left.
pub fn gpu_pool(hosts: usize, vms: usize, gpu_hosts: usize, gpu_vms: usize, seed: u64) -> Value {
    let mut rng = Rng::new(seed);
    let mut free: Vec<(i64, i64, i64)> = Vec::new();
    let mut hs = Vec::new();
    for h in 0..hosts {
        let (mem, cores) = MODELS[rng.range(0, MODELS.len() as u64 - 1) as usize];
        let gpus = if h < gpu_hosts { 4 } else { 0 };
        free.push((
            (mem * GIB) as i64 - 8 * GIB as i64,
            (cores * 4) as i64,
            gpus,
        ));
        let mut cap = json!({"memory_mib": mem * GIB, "vcpus": cores});
        if gpus > 0 {
            cap["gpus"] = json!(gpus);
        }
        hs.push(json!({"name": format!("h{h:03}"), "capacity": cap,
            "reserved": {"memory_mib": 8 * GIB}}));
    }
    let mut out = Vec::new();
    for v in 0..vms {
        let (m, c, g) = if v < gpu_vms {
            (32 * GIB as i64, 8, rng.range(1, 2) as i64)
        } else {
            let (m, c) = SIZES[rng.range(0, SIZES.len() as u64 - 1) as usize];
            ((m * GIB) as i64, c as i64, 0)
        };
        let span = if g > 0 { gpu_hosts.max(1) } else { hosts };
        let start = rng.range(0, span as u64 - 1) as usize;
        let Some(h) = (0..span)
            .map(|i| (start + i) % span)
            .find(|&h| free[h].0 >= m && free[h].1 >= c && free[h].2 >= g)
        else {
            continue;
        };
        free[h].0 -= m;
        free[h].1 -= c;
        free[h].2 -= g;
        let mut demand = json!({"memory_mib": m, "vcpus": c});
        if g > 0 {
            demand["gpus"] = json!(g);
        }
        out.push(
            json!({"name": format!("vm{v:04}"), "host": format!("h{h:03}"), "demand": demand}),
        );
    }
    json!({"format": "haplan/v1", "name": format!("gpu-{hosts}x{vms}"),
           "ha": {"host_failures_to_tolerate": 2, "overcommit": {"vcpus": 4.0}},
           "hosts": hs, "vms": out})
}

/// Memory and vCPUs (4:1), every VM in an anti-affinity group of
/// `group_size` members, each member on a host of its own: `hosts` hosts of
/// the t-shirt models, `vms` t-shirt VMs.
pub fn anti_affinity_pool(hosts: usize, vms: usize, group_size: usize, seed: u64) -> Value {
    assert!(group_size >= 1 && group_size <= hosts);
    let mut rng = Rng::new(seed);
    let mut free: Vec<(i64, i64)> = Vec::new();
    let mut hs = Vec::new();
    for h in 0..hosts {
        let (mem, cores) = MODELS[rng.range(0, MODELS.len() as u64 - 1) as usize];
        free.push(((mem * GIB) as i64 - 8 * GIB as i64, (cores * 4) as i64));
        hs.push(json!({"name": format!("h{h:03}"),
            "capacity": {"memory_mib": mem * GIB, "vcpus": cores},
            "reserved": {"memory_mib": 8 * GIB}}));
    }
    let mut out = Vec::new();
    let mut group_hosts: Vec<usize> = Vec::new();
    for v in 0..vms {
        let group = v / group_size;
        if v % group_size == 0 {
            group_hosts.clear();
        }
        let (m, c) = SIZES[rng.range(0, SIZES.len() as u64 - 1) as usize];
        let (m, c) = ((m * GIB) as i64, c as i64);
        let start = rng.range(0, hosts as u64 - 1) as usize;
        let Some(h) = (0..hosts)
            .map(|i| (start + i) % hosts)
            .find(|&h| free[h].0 >= m && free[h].1 >= c && !group_hosts.contains(&h))
        else {
            continue;
        };
        group_hosts.push(h);
        free[h].0 -= m;
        free[h].1 -= c;
        out.push(
            json!({"name": format!("vm{v:05}"), "host": format!("h{h:03}"),
            "demand": {"memory_mib": m, "vcpus": c}, "anti_affinity": format!("g{group}")}),
        );
    }
    json!({"format": "haplan/v1", "name": format!("aa-{hosts}x{vms}-g{group_size}"),
           "ha": {"host_failures_to_tolerate": 2, "overcommit": {"vcpus": 4.0}},
           "hosts": hs, "vms": out})
}

/// Small and tight: `hosts` hosts of 512 GiB and 64 cores (vCPUs 2:1), each
/// running a few large VMs (32 to 192 GiB, 4 to 32 vCPUs) until it is
/// 80 to 95 % full in memory.
pub fn near_full_pool(hosts: usize, seed: u64) -> Value {
    filled_pool(hosts, (80, 95), seed)
}

/// [`near_full_pool`] with each host filled to between `fill.0` and
/// `fill.1` percent of its memory.
pub fn filled_pool(hosts: usize, fill: (u64, u64), seed: u64) -> Value {
    let mut rng = Rng::new(seed);
    let mut hs = Vec::new();
    let mut vms = Vec::new();
    for h in 0..hosts {
        let (mem, cores) = (512 * GIB, 64);
        hs.push(json!({"name": format!("h{h:02}"),
            "capacity": {"memory_mib": mem, "vcpus": cores}}));
        let target = mem * rng.range(fill.0, fill.1) / 100;
        let (mut used, mut cpus) = (0, 0);
        for v in 0.. {
            let m = rng.range(1, 6) * 32 * GIB;
            let c = rng.range(1, 8) * 4;
            if used + m > target || cpus + c > cores * 2 {
                // Full when not even the smallest VM fits in either resource
                // (else the draws would go on without end once the vCPUs ran
                // out before the memory).
                if v > 0 && (used + 32 * GIB > target || cpus + 4 > cores * 2) {
                    break;
                }
                continue;
            }
            used += m;
            cpus += c;
            vms.push(
                json!({"name": format!("h{h:02}-vm{v}"), "host": format!("h{h:02}"),
                "demand": {"memory_mib": m, "vcpus": c}}),
            );
        }
    }
    json!({"format": "haplan/v1", "name": format!("near-full-{hosts}"),
           "ha": {"host_failures_to_tolerate": 2, "overcommit": {"vcpus": 2.0}},
           "hosts": hs, "vms": vms})
}

pub mod roadef;

/// The pool in the file at `path`, for the probes run by hand: on a file
/// that cannot be read or is not a valid pool, the reason on stderr and
/// exit 2, as `haplan` does.
pub fn read_pool_or_exit(path: &str) -> haplan::Pool {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| {
        eprintln!("{path}: {e}");
        std::process::exit(2)
    });
    haplan::parse_pool(&text).unwrap_or_else(|e| {
        eprintln!("{path}: {e}");
        std::process::exit(2)
    })
}

/// One pool of a generated fleet: 16 to 64 hosts, a family picked by the
/// seed (memory-only, t-shirt sizes, every constraint) at about the density
/// the family's benches use. Not `twins_pool`: at 30 hosts and more its
/// search takes seconds, and one such pool would set a fleet's time.
pub fn fleet_pool(seed: u64) -> Value {
    let mut rng = Rng::new(seed);
    let hosts = rng.range(16, 64) as usize;
    match rng.range(0, 2) {
        0 => memory_pool(hosts, rng.range(6, 14) as usize, seed),
        1 => tshirt_pool(hosts, hosts * 12, seed),
        _ => mixed_pool(hosts, hosts * 15, 2, 2, seed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every host of a near-full pool ends within its memory and 2:1 vCPUs,
    /// filled until not even the smallest VM fits in one of them; seeds
    /// whose vCPUs run out before the memory (32 hosts, seed 3) included.
    #[test]
    fn near_full_pools_end_and_stay_within_capacity() {
        for (hosts, seed) in [(32, 3), (8, 0), (40, 17), (64, 5)] {
            let pool = near_full_pool(hosts, seed);
            let hs = pool["hosts"].as_array().unwrap();
            assert_eq!(hs.len(), hosts);
            for h in hs {
                let name = h["name"].as_str().unwrap();
                let mem = h["capacity"]["memory_mib"].as_u64().unwrap();
                let on: Vec<&Value> = pool["vms"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|v| v["host"] == name)
                    .collect();
                let used: u64 = on
                    .iter()
                    .map(|v| v["demand"]["memory_mib"].as_u64().unwrap())
                    .sum();
                let cpus: u64 = on
                    .iter()
                    .map(|v| v["demand"]["vcpus"].as_u64().unwrap())
                    .sum();
                assert!(!on.is_empty(), "{name} runs nothing");
                assert!(used <= mem * 95 / 100, "{name}: {used} MiB of {mem}");
                assert!(cpus <= 128, "{name}: {cpus} vCPUs");
                assert!(
                    used + 32 * GIB > mem * 80 / 100 || cpus + 4 > 128,
                    "{name} stopped with room for another VM: {used} MiB, {cpus} vCPUs"
                );
            }
        }
    }
}
