//! The wire formats of `check` and `plan` (`docs/cli.md`): JSON built from
//! types private to this module, and the text people read. Domain types carry
//! ids; names are resolved here.

use std::fmt::Write as _;

use serde::Serialize;
use serde_json::Value;

use crate::model::Pool;
use crate::plan::Plan;
use crate::tolerance::{CheckReport, Verdict};

#[derive(Serialize)]
struct CheckJson<'a> {
    pool: &'a str,
    configured: u32,
    max_tolerable: u32,
    ok: bool,
    exact: bool,
    upper_bound: u32,
    witness: Option<WitnessJson<'a>>,
    not_agile: Vec<NotAgileJson<'a>>,
    warnings: &'a [String],
    stranded_now: bool,
    stats: StatsJson,
}

#[derive(Serialize)]
struct WitnessJson<'a> {
    failed_hosts: Vec<&'a str>,
    unplaced: Vec<&'a str>,
    reason: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    short: Option<ShortJson<'a>>,
}

#[derive(Serialize)]
struct ShortJson<'a> {
    resource: &'a str,
    needed: i64,
    spare: i64,
    deficit: i64,
}

#[derive(Serialize)]
struct NotAgileJson<'a> {
    vm: &'a str,
    reasons: &'a [String],
}

#[derive(Serialize)]
struct StatsJson {
    scenarios: u64,
    elapsed_ms: u64,
    by_bounds: u64,
    by_heuristic: u64,
    by_search: u64,
    by_ilp: u64,
    set_level: u64,
}

/// The `check` report as the JSON object of `docs/cli.md`.
pub fn check_json(pool: &Pool, r: &CheckReport) -> Value {
    let w = r.witness.as_ref().map(|w| WitnessJson {
        failed_hosts: w
            .failed
            .iter()
            .map(|&h| pool.hosts[h].name.as_str())
            .collect(),
        unplaced: w
            .unplaced
            .iter()
            .map(|&v| pool.vms[v].name.as_str())
            .collect(),
        reason: &w.reason,
        short: w.short.map(|(res, needed, spare)| ShortJson {
            resource: &pool.resources[res],
            needed,
            spare,
            deficit: needed - spare,
        }),
    });
    let json = CheckJson {
        pool: &r.pool,
        configured: r.configured,
        max_tolerable: r.max_tolerable,
        ok: r.ok(),
        exact: r.exact,
        upper_bound: r.upper_bound,
        witness: w,
        not_agile: r
            .not_agile
            .iter()
            .map(|n| NotAgileJson {
                vm: &pool.vms[n.vm].name,
                reasons: &n.reasons,
            })
            .collect(),
        warnings: &r.warnings,
        stranded_now: r.stranded_now,
        stats: StatsJson {
            scenarios: r.stats.scenarios,
            elapsed_ms: r.stats.elapsed.as_millis() as u64,
            by_bounds: r.stats.by_stage[0],
            by_heuristic: r.stats.by_stage[1],
            by_search: r.stats.by_stage[2],
            by_ilp: r.stats.by_stage[3],
            set_level: r.stats.set_level,
        },
    };
    serde_json::to_value(json).expect("serializable")
}

fn plural(n: u32, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The `check` report for people: the verdict first, then the worst failure
/// set and what it strands.
pub fn check_text(pool: &Pool, r: &CheckReport) -> String {
    let mut s = String::new();
    let tol = if r.exact {
        plural(r.max_tolerable, "host failure", "host failures")
    } else {
        format!(
            "between {} and {} host failures",
            r.max_tolerable, r.upper_bound
        )
    };
    let verdict = match r.verdict() {
        Verdict::Ok => "OK",
        Verdict::NotOk
            if !r.not_agile.is_empty() && r.upper_bound >= r.configured && !r.stranded_now =>
        {
            "NOT OK"
        }
        Verdict::NotOk => "OVERCOMMITTED",
        Verdict::Undecided => "UNDECIDED",
    };
    let _ = writeln!(
        s,
        "{verdict}: pool {} tolerates {tol} (configured: {})",
        r.pool, r.configured
    );
    if r.verdict() == Verdict::Undecided {
        let _ = writeln!(
            s,
            "The time limit ran out before the answer was proved either way."
        );
    }
    if let Some(w) = &r.witness {
        let hosts: Vec<&str> = w
            .failed
            .iter()
            .map(|&h| pool.hosts[h].name.as_str())
            .collect();
        if hosts.is_empty() {
            let _ = writeln!(
                s,
                "Even with no further failure, VMs of hosts already down cannot all restart."
            );
        } else {
            let _ = writeln!(
                s,
                "Worst failure set: {} ({})",
                hosts.join(", "),
                plural(hosts.len() as u32, "host", "hosts")
            );
        }
        let _ = writeln!(s, "Reason: {}", w.reason);
        if !w.unplaced.is_empty() {
            let vms: Vec<&str> = w
                .unplaced
                .iter()
                .map(|&v| pool.vms[v].name.as_str())
                .collect();
            let _ = writeln!(
                s,
                "Stranded protected VMs ({}): {}",
                vms.len(),
                vms.join(", ")
            );
        }
    }
    if !r.not_agile.is_empty() {
        let _ = writeln!(
            s,
            "Protected VMs that are not agile (no host can restart them):"
        );
        for n in &r.not_agile {
            let _ = writeln!(s, "  {}: {}", pool.vms[n.vm].name, n.reasons.join("; "));
        }
    }
    for w in &r.warnings {
        let _ = writeln!(s, "warning: {w}");
    }
    let _ = writeln!(
        s,
        "Decided {} one by one and {} by set-level bounds in {} ms.",
        plural(r.stats.scenarios as u32, "failure set", "failure sets"),
        plural(r.stats.set_level as u32, "group", "groups"),
        r.stats.elapsed.as_millis()
    );
    s
}

#[derive(Serialize)]
struct PlanJson<'a> {
    failed_hosts: Vec<&'a str>,
    placements: Vec<PlacementJson<'a>>,
    unplaced: Vec<UnplacedJson<'a>>,
    complete: bool,
    exact: bool,
}

#[derive(Serialize)]
struct PlacementJson<'a> {
    vm: &'a str,
    host: &'a str,
    order: u32,
    restart: &'static str,
    priority: &'static str,
    start_delay_s: u64,
}

#[derive(Serialize)]
struct UnplacedJson<'a> {
    vm: &'a str,
    reason: &'a str,
    restart: &'static str,
    priority: &'static str,
}

/// A plan as the JSON object of `docs/cli.md`.
pub fn plan_json(pool: &Pool, p: &Plan) -> Value {
    let json = PlanJson {
        failed_hosts: p
            .failed
            .iter()
            .map(|&h| pool.hosts[h].name.as_str())
            .collect(),
        placements: p
            .placements
            .iter()
            .map(|pl| {
                let vm = &pool.vms[pl.vm];
                PlacementJson {
                    vm: &vm.name,
                    host: &pool.hosts[pl.host].name,
                    order: pl.order,
                    restart: vm.restart.as_str(),
                    priority: vm.priority.as_str(),
                    start_delay_s: vm.start_delay_s,
                }
            })
            .collect(),
        unplaced: p
            .unplaced
            .iter()
            .map(|u| {
                let vm = &pool.vms[u.vm];
                UnplacedJson {
                    vm: &vm.name,
                    reason: &u.reason,
                    restart: vm.restart.as_str(),
                    priority: vm.priority.as_str(),
                }
            })
            .collect(),
        complete: p.all_protected_placed(pool),
        exact: p.exact,
    };
    serde_json::to_value(json).expect("serializable")
}

/// A plan for people.
pub fn plan_text(pool: &Pool, p: &Plan) -> String {
    let mut s = String::new();
    let failed: Vec<&str> = p
        .failed
        .iter()
        .map(|&h| pool.hosts[h].name.as_str())
        .collect();
    let complete = p.all_protected_placed(pool);
    if !pool.ha.enabled {
        let _ = writeln!(s, "HA is disabled: no VM is restarted");
        return s;
    }
    let _ = writeln!(
        s,
        "{}: if {} fail{}, {}",
        if complete { "OK" } else { "INCOMPLETE" },
        if failed.is_empty() {
            "no host".to_string()
        } else {
            failed.join(", ")
        },
        if failed.len() == 1 { "s" } else { "" },
        if complete {
            "every protected VM can be restarted".to_string()
        } else {
            let n = p
                .unplaced
                .iter()
                .filter(|u| pool.vms[u.vm].restart == crate::model::Restart::Protected)
                .count();
            format!(
                "{} cannot be restarted",
                plural(n as u32, "protected VM", "protected VMs")
            )
        }
    );
    if !p.placements.is_empty() {
        let _ = writeln!(s, "Restart sequence:");
        for pl in &p.placements {
            let vm = &pool.vms[pl.vm];
            let _ = writeln!(
                s,
                "  order {:>3}  {:<24} -> {:<16} {} {}",
                pl.order,
                vm.name,
                pool.hosts[pl.host].name,
                vm.restart.as_str(),
                vm.priority.as_str()
            );
        }
    }
    if !p.unplaced.is_empty() {
        let _ = writeln!(s, "Not restarted:");
        for u in &p.unplaced {
            let vm = &pool.vms[u.vm];
            let _ = writeln!(
                s,
                "  {} ({}, {}): {}",
                vm.name,
                vm.restart.as_str(),
                vm.priority.as_str(),
                u.reason
            );
        }
    }
    if !p.exact {
        let _ = writeln!(
            s,
            "warning: the time limit ran out; some VMs were not decided"
        );
    }
    s
}
