//! `timing`: its JSON and text.

use super::*;

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "Group")]
struct GroupJson {
    order: u32,
    vms: usize,
    start_s: u64,
    end_s: u64,
    release_s: u64,
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "VmTiming")]
struct VmTimingJson<'a> {
    vm: &'a str,
    from: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    host: Option<&'a str>,
    order: u32,
    #[schemars(with = "PriorityName")]
    priority: Priority,
    boot_s: u64,
    start_s: u64,
    running_s: u64,
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "NotRestarted")]
struct NotRestartedJson<'a> {
    vm: &'a str,
    reason: &'a str,
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "TimingStats")]
struct TimingStatsJson {
    scenarios: u64,
    elapsed_ms: u64,
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "Timing")]
pub(crate) struct TimingJson<'a> {
    pool: &'a str,
    ok: bool,
    #[schemars(with = "VerdictName")]
    verdict: &'static str,
    tolerate: Option<u32>,
    tolerated: bool,
    witness: Option<WitnessJson<'a>>,
    search: &'static str,
    exact: bool,
    sets: u64,
    failed_hosts: Vec<&'a str>,
    boot_time_s: u64,
    concurrency: Option<u32>,
    detection_s: u64,
    fence_s: u64,
    makespan_s: u64,
    total_s: u64,
    last_vm: Option<&'a str>,
    groups: Vec<GroupJson>,
    vms: Vec<VmTimingJson<'a>>,
    not_restarted: Vec<NotRestartedJson<'a>>,
    not_agile: usize,
    warnings: &'a [String],
    stats: TimingStatsJson,
}

fn search_str(s: &haplan::timing::Search) -> &'static str {
    match s {
        haplan::timing::Search::Given => "given",
        haplan::timing::Search::Exact { .. } => "every_set",
        haplan::timing::Search::Greedy { .. } => "greedy",
        haplan::timing::Search::Partial { .. } => "partial",
        haplan::timing::Search::None => "none",
    }
}

/// The `timing` report as the JSON object of `docs/cli.md`.
pub fn timing_json(pool: &Pool, r: &TimingReport) -> Value {
    let domains = haplan::domains::of(pool);
    let json = TimingJson {
        pool: &r.pool,
        ok: r.ok(),
        verdict: verdict_str(timing_verdict(r)),
        tolerate: r.tolerate,
        tolerated: r.tolerated,
        witness: r
            .witness
            .as_ref()
            .map(|w| witness_json(pool, domains.as_deref(), w)),
        search: search_str(&r.search),
        exact: r.exact(),
        sets: r.sets,
        failed_hosts: r
            .failed
            .iter()
            .map(|&h| pool.hosts[h].name.as_str())
            .collect(),
        boot_time_s: r.boot_time_s,
        concurrency: r.concurrency,
        detection_s: r.detection_s,
        fence_s: r.fence_s,
        makespan_s: r.makespan_s,
        total_s: r.total_s,
        last_vm: r.last.map(|v| pool.vms[v].name.as_str()),
        groups: r
            .groups
            .iter()
            .map(|g| GroupJson {
                order: g.order,
                vms: g.vms,
                start_s: g.start_s,
                end_s: g.end_s,
                release_s: g.release_s,
            })
            .collect(),
        vms: r
            .vms
            .iter()
            .map(|t| {
                let vm = &pool.vms[t.vm];
                VmTimingJson {
                    vm: &vm.name,
                    from: &pool.hosts[vm.host].name,
                    host: t.host.map(|h| pool.hosts[h].name.as_str()),
                    order: vm.order,
                    priority: vm.priority,
                    boot_s: t.boot_s,
                    start_s: t.slot.start_s,
                    running_s: t.slot.running_s,
                }
            })
            .collect(),
        not_restarted: r
            .not_restarted
            .iter()
            .map(|(v, reason)| NotRestartedJson {
                vm: &pool.vms[*v].name,
                reason,
            })
            .collect(),
        not_agile: r.not_agile,
        warnings: &r.warnings,
        stats: TimingStatsJson {
            scenarios: r.sets,
            elapsed_ms: r.elapsed.as_millis() as u64,
        },
    };
    serde_json::to_value(json).expect("serializable")
}

/// `75 s` or `75 s (1 min 15 s)`.
fn seconds_words(s: u64) -> String {
    if s < 60 {
        return format!("{s} s");
    }
    let (h, m, sec) = (s / 3600, s / 60 % 60, s % 60);
    let mut parts = Vec::new();
    if h > 0 {
        parts.push(format!("{h} h"));
    }
    if m > 0 {
        parts.push(format!("{m} min"));
    }
    if sec > 0 {
        parts.push(format!("{sec} s"));
    }
    format!("{s} s ({})", parts.join(" "))
}

/// The `timing` report for people: the total first, its phases, the
/// failure set, the order groups and every VM.
pub fn timing_text(pool: &Pool, r: &TimingReport) -> String {
    let mut s = String::new();
    let hosts = |set: &[usize]| -> String {
        if set.is_empty() {
            "none".to_string()
        } else {
            set.iter()
                .map(|&h| pool.hosts[h].name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    if r.undecided {
        let _ = writeln!(
            s,
            "UNDECIDED: pool {}: stopped before the estimate was made",
            r.pool
        );
        return s;
    }
    if !r.tolerated {
        let k = r.tolerate.unwrap_or(0);
        let _ = writeln!(
            s,
            "OVERCOMMITTED: pool {} does not tolerate {}: no restart time for a failure it cannot survive",
            r.pool,
            plural(k, "host failure", "host failures")
        );
        if let Some(w) = &r.witness {
            let _ = writeln!(
                s,
                "Witness: {} fail{}: {} cannot restart: {}",
                if w.failed.is_empty() {
                    "no further host (hosts already down)".to_string()
                } else {
                    hosts(&w.failed)
                },
                if w.failed.len() == 1 { "s" } else { "" },
                name_list(
                    &w.unplaced
                        .iter()
                        .map(|&v| pool.vms[v].name.as_str())
                        .collect::<Vec<_>>()
                ),
                w.reason
            );
        }
        return s;
    }
    let verdict = if r.ok() { "OK" } else { "NOT OK" };
    let what = match (&r.search, r.tolerate) {
        (haplan::timing::Search::Given, _) => format!(
            "after {} fail{}",
            hosts(&r.failed),
            if r.failed.len() == 1 { "s" } else { "" }
        ),
        (haplan::timing::Search::Exact { .. }, Some(k)) => format!(
            "after the worst of {}",
            plural(k, "host failure", "host failures")
        ),
        (_, k) => format!(
            "after the worst found of {} (a lower bound)",
            plural(k.unwrap_or(0), "host failure", "host failures")
        ),
    };
    let n = r.vms.len();
    if n == 0 {
        let _ = writeln!(
            s,
            "{verdict}: pool {}: no protected VM restarts {what}",
            r.pool
        );
    } else {
        let _ = writeln!(
            s,
            "{verdict}: pool {}: every restarted protected VM runs again {} {what}",
            r.pool,
            seconds_words(r.total_s)
        );
    }
    if !matches!(r.search, haplan::timing::Search::Given) {
        let _ = writeln!(
            s,
            "Failed hosts: {} ({}, of {} scheduled)",
            hosts(&r.failed),
            if r.exact() {
                "the slowest"
            } else {
                "the slowest found"
            },
            plural(r.sets, "failure set", "failure sets")
        );
    }
    if n == 0 {
        for w in &r.warnings {
            let _ = writeln!(s, "Warning: {w}");
        }
        return s;
    }
    let conc = match r.concurrency {
        Some(c) => format!("at most {c} at once"),
        None => "no limit on concurrent starts".to_string(),
    };
    let _ = writeln!(
        s,
        "  detection  {:>8}  ({} failed health checks x {} s)",
        format!("{} s", r.detection_s),
        pool.ha.failure_threshold,
        pool.ha.check_interval_s
    );
    let _ = writeln!(
        s,
        "  fencing    {:>8}  (--fence-time)",
        format!("{} s", r.fence_s)
    );
    let _ = writeln!(
        s,
        "  restarts   {:>8}  ({}, {conc}, default boot {} s)",
        format!("{} s", r.makespan_s),
        plural(n, "VM", "VMs"),
        r.boot_time_s
    );
    if let Some(v) = r.last {
        let _ = writeln!(s, "Last to run: {}", pool.vms[v].name);
    }
    if !r.groups.is_empty() {
        let _ = writeln!(
            s,
            "Order groups (seconds after the failed hosts are confirmed off):"
        );
        for g in &r.groups {
            let _ = writeln!(
                s,
                "  order {}: {}, start {} s, all running at {} s, next group from {} s",
                g.order,
                plural(g.vms, "VM", "VMs"),
                g.start_s,
                g.end_s,
                g.release_s
            );
        }
        let width = r
            .vms
            .iter()
            .map(|t| pool.vms[t.vm].name.len())
            .max()
            .unwrap_or(0);
        let _ = writeln!(s, "VMs (start -> running):");
        for t in &r.vms {
            let vm = &pool.vms[t.vm];
            let target = t
                .host
                .map(|h| format!(" on {}", pool.hosts[h].name))
                .unwrap_or_default();
            let _ = writeln!(
                s,
                "  {:<width$}  order {} {:<8}  {:>6} -> {:>6}  (boot {} s){target}",
                vm.name,
                vm.order,
                vm.priority.as_str(),
                t.slot.start_s,
                t.slot.running_s,
                t.boot_s
            );
        }
    }
    if !r.not_restarted.is_empty() {
        let _ = writeln!(s, "Not restarted (left out of the estimate):");
        for (v, reason) in &r.not_restarted {
            let _ = writeln!(s, "  {}: {reason}", pool.vms[*v].name);
        }
    }
    if r.not_agile > 0 {
        let _ = writeln!(
            s,
            "{} not agile (see haplan agility): {} never restart{}",
            plural(r.not_agile, "protected VM is", "protected VMs are"),
            if r.not_agile == 1 { "it" } else { "they" },
            if r.not_agile == 1 { "s" } else { "" }
        );
    }
    for w in &r.warnings {
        let _ = writeln!(s, "Warning: {w}");
    }
    s
}
