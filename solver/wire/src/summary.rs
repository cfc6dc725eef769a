//! The pool as it stands, per host and resource: what `haplan report`
//! draws its capacity bars from (`docs/cli.md`, "`haplan report`"). The
//! numbers are those of pool-format.md's definitions, computed here once so
//! that no renderer recomputes them.

use serde::Serialize;
use serde_json::Value;

use haplan::model::{HostState, Pool, Restart};

#[derive(Serialize)]
struct PoolSummaryJson<'a> {
    name: &'a str,
    resources: Vec<ResourceJson<'a>>,
    hosts: Vec<HostJson<'a>>,
    counts: CountsJson,
}

#[derive(Serialize)]
struct ResourceJson<'a> {
    name: &'a str,
    ratio: f64,
    usable: i64,
    used: i64,
    spare: i64,
}

#[derive(Serialize)]
struct HostJson<'a> {
    name: &'a str,
    state: &'static str,
    standby: bool,
    vms: usize,
    protected: usize,
    resources: Vec<HostResourceJson>,
}

#[derive(Serialize)]
struct HostResourceJson {
    capacity: i64,
    usable: i64,
    reserved: i64,
    used: i64,
    spare: Option<i64>,
}

#[derive(Serialize)]
struct CountsJson {
    hosts: usize,
    up: usize,
    down: usize,
    maintenance: usize,
    standby: usize,
    vms: usize,
    active: usize,
    protected: usize,
}

/// The `pool` part of `haplan report --format json`: per host its state,
/// whether it is a standby host, its running or paused VMs, and per
/// resource (in the order of `resources`) capacity, usable, reserved, used
/// and spare; per resource the totals over up hosts.
pub fn pool_json(pool: &Pool) -> Value {
    let nres = pool.resources.len();
    let mut vms = vec![0usize; pool.hosts.len()];
    let mut protected = vec![0usize; pool.hosts.len()];
    for vm in pool.vms.iter().filter(|v| v.power.is_active()) {
        vms[vm.host] += 1;
        if vm.restart == Restart::Protected {
            protected[vm.host] += 1;
        }
    }
    let mut totals = vec![(0i64, 0i64, 0i64); nres];
    // What every host's VMs use, in one pass over the VMs.
    let used_all = pool.used_all();
    let hosts: Vec<HostJson> = pool
        .hosts
        .iter()
        .enumerate()
        .map(|(h, host)| {
            let used = &used_all[h];
            let resources = (0..nres)
                .map(|r| {
                    let usable = pool.usable(h, r);
                    let spare = usable - used[r];
                    if host.state == HostState::Up {
                        totals[r].0 += usable;
                        totals[r].1 += used[r];
                        totals[r].2 += spare;
                    }
                    HostResourceJson {
                        capacity: host.capacity[r],
                        usable,
                        reserved: host.reserved[r],
                        used: used[r],
                        spare: (host.state != HostState::Down).then_some(spare),
                    }
                })
                .collect();
            HostJson {
                name: &host.name,
                state: host.state.as_str(),
                standby: host.standby,
                vms: vms[h],
                protected: protected[h],
                resources,
            }
        })
        .collect();
    let count = |s: HostState| pool.hosts.iter().filter(|h| h.state == s).count();
    let json = PoolSummaryJson {
        name: &pool.name,
        resources: pool
            .resources
            .iter()
            .enumerate()
            .map(|(r, name)| ResourceJson {
                name,
                ratio: pool.ratio(r),
                usable: totals[r].0,
                used: totals[r].1,
                spare: totals[r].2,
            })
            .collect(),
        hosts,
        counts: CountsJson {
            hosts: pool.hosts.len(),
            up: count(HostState::Up),
            down: count(HostState::Down),
            maintenance: count(HostState::Maintenance),
            standby: pool.hosts.iter().filter(|h| h.standby).count(),
            vms: pool.vms.len(),
            active: pool.vms.iter().filter(|v| v.power.is_active()).count(),
            protected: pool
                .vms
                .iter()
                .filter(|v| v.power.is_active() && v.restart == Restart::Protected)
                .count(),
        },
    };
    serde_json::to_value(json).expect("serializable")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_host_amounts_follow_the_pool_format() {
        let pool = haplan::parse_pool(
            r#"{
              "name": "p",
              "ha": { "overcommit": { "vcpus": 4.0 } },
              "hosts": [
                { "name": "h1", "capacity": { "memory_mib": 1000, "vcpus": 8 },
                  "reserved": { "memory_mib": 100 } },
                { "name": "h2", "capacity": { "memory_mib": 500, "vcpus": 4 }, "standby": true },
                { "name": "h3", "capacity": { "memory_mib": 500, "vcpus": 4 }, "state": "down" },
                { "name": "h4", "capacity": { "memory_mib": 500, "vcpus": 4 }, "state": "maintenance" }
              ],
              "vms": [
                { "name": "a", "host": "h1", "demand": { "memory_mib": 600, "vcpus": 40 } },
                { "name": "b", "host": "h1", "demand": { "memory_mib": 100 }, "power": "halted" },
                { "name": "c", "host": "h3", "demand": { "memory_mib": 200 }, "restart": "best_effort" }
              ]
            }"#,
        )
        .unwrap();
        let j = pool_json(&pool);
        assert_eq!(j["resources"][0]["name"], "memory_mib");
        assert_eq!(j["resources"][1]["ratio"], 4.0);
        let h1 = &j["hosts"][0];
        assert_eq!(
            (h1["vms"].as_u64(), h1["protected"].as_u64()),
            (Some(1), Some(1))
        );
        let mem = &h1["resources"][0];
        assert_eq!(
            [
                &mem["capacity"],
                &mem["usable"],
                &mem["reserved"],
                &mem["used"],
                &mem["spare"]
            ],
            [1000, 900, 100, 600, 300]
        );
        // 8 cores at 4:1 give 32 usable vCPUs; 40 are used: overloaded.
        let cpu = &h1["resources"][1];
        assert_eq!([&cpu["usable"], &cpu["used"], &cpu["spare"]], [32, 40, -8]);
        assert_eq!(j["hosts"][1]["standby"], true);
        assert_eq!(j["hosts"][2]["state"], "down");
        assert!(j["hosts"][2]["resources"][0]["spare"].is_null());
        assert_eq!(j["hosts"][2]["resources"][0]["used"], 200);
        assert_eq!(j["hosts"][3]["state"], "maintenance");
        // Totals over up hosts only (h1, h2).
        assert_eq!(j["resources"][0]["usable"], 1400);
        assert_eq!(j["resources"][0]["used"], 600);
        assert_eq!(j["resources"][0]["spare"], 800);
        let c = &j["counts"];
        assert_eq!(
            [
                &c["hosts"],
                &c["up"],
                &c["down"],
                &c["maintenance"],
                &c["standby"]
            ],
            [4, 2, 1, 1, 1]
        );
        assert_eq!([&c["vms"], &c["active"], &c["protected"]], [3, 2, 1]);
    }
}
