//! `plan`: its JSON and text.

use super::*;

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "Plan")]
pub(crate) struct PlanJson<'a> {
    failed_hosts: Vec<&'a str>,
    placements: Vec<PlacementJson<'a>>,
    unplaced: Vec<UnplacedJson<'a>>,
    complete: bool,
    exact: bool,
    #[schemars(with = "VerdictName")]
    verdict: &'static str,
    /// Only for pools with soft rules: the ones the plan breaks.
    #[serde(skip_serializing_if = "Option::is_none")]
    soft_broken: Option<Vec<BrokenJson<'a>>>,
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "Placement")]
struct PlacementJson<'a> {
    vm: &'a str,
    host: &'a str,
    order: u32,
    restart: &'static str,
    #[schemars(with = "PriorityName")]
    priority: Priority,
    start_delay_s: u64,
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "Unplaced")]
struct UnplacedJson<'a> {
    vm: &'a str,
    reason: &'a str,
    restart: &'static str,
    #[schemars(with = "PriorityName")]
    priority: Priority,
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
                    priority: vm.priority,
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
                    priority: vm.priority,
                }
            })
            .collect(),
        complete: p.all_protected_placed(pool),
        exact: p.exact,
        verdict: verdict_str(plan_verdict(pool, p)),
        soft_broken: pool
            .has_soft_rules()
            .then(|| p.soft_broken.iter().map(|b| broken_json(pool, b)).collect()),
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
                .filter(|u| pool.vms[u.vm].restart == haplan::model::Restart::Protected)
                .count();
            format!(
                "{} cannot be restarted",
                plural(n, "protected VM", "protected VMs")
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
    if !p.soft_broken.is_empty() {
        let _ = writeln!(s, "Soft rules broken:");
        for b in &p.soft_broken {
            let _ = writeln!(s, "  {}", b.reason);
        }
    }
    if !p.exact {
        let _ = writeln!(
            s,
            "warning: some VMs were not decided within the time limit (or their share of it): they are listed as not restarted"
        );
    }
    s
}
