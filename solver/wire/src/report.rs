//! The wire formats of `check`, `plan`, `whatif`, `diff`, `headroom`, `drain`, `tiers` and `timing` (`docs/cli.md`): JSON built from
//! types private to this module, and the text people read. Domain types carry
//! ids; names are resolved here.

use std::fmt::Write as _;

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use haplan::diff::{DiffHeadroom, DiffReport};
use haplan::drain::{self, DrainReport};
use haplan::headroom::{HeadroomError, HeadroomReport, Shape};
use haplan::model::{Pool, Priority};
use haplan::plan::{BrokenRule, Plan, SoftRule};
use haplan::tiers::TiersReport;
use haplan::timing::TimingReport;
use haplan::tolerance::{CheckReport, Verdict, Witness};
use haplan::whatif::{Change, WhatIfReport};
use haplan::words::plural;

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "Check")]
pub(crate) struct CheckJson<'a> {
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
    #[serde(skip_serializing_if = "Option::is_none")]
    failure_domains: Option<DomainsJson<'a>>,
    /// Only for pools with soft rules (`vm_groups` with `strict: false`,
    /// `preferred_hosts`).
    #[serde(skip_serializing_if = "Option::is_none")]
    soft_rules: Option<SoftJson<'a>>,
    #[schemars(with = "VerdictName")]
    verdict: &'static str,
    stopped_by: Option<&'static str>,
    stats: StatsJson,
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "Soft")]
struct SoftJson<'a> {
    rules: usize,
    max_tolerable: u32,
    upper_bound: u32,
    exact: bool,
    /// Whether the worst failure of at most K (and at most what the pool
    /// tolerates) has to break a soft rule; null when not proved either way.
    must_break: Option<bool>,
    witness: Option<SoftWitnessJson<'a>>,
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "SoftWitness")]
struct SoftWitnessJson<'a> {
    failed_hosts: Vec<&'a str>,
    broken: Vec<BrokenJson<'a>>,
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "Broken")]
struct BrokenJson<'a> {
    /// `"group"` (a soft `vm_groups` entry) or `"preferred_hosts"`.
    rule: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    group: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    vm: Option<&'a str>,
    reason: &'a str,
}

fn broken_json<'a>(pool: &'a Pool, b: &'a BrokenRule) -> BrokenJson<'a> {
    match &b.rule {
        SoftRule::Group(g) => BrokenJson {
            rule: "group",
            group: Some(g),
            vm: None,
            reason: &b.reason,
        },
        SoftRule::PreferredHosts(v) => BrokenJson {
            rule: "preferred_hosts",
            group: None,
            vm: Some(&pool.vms[*v].name),
            reason: &b.reason,
        },
    }
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "Domains")]
struct DomainsJson<'a> {
    label: &'a str,
    domains: Vec<DomainJson<'a>>,
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "Domain")]
struct DomainJson<'a> {
    name: &'a str,
    labelled: bool,
    hosts: Vec<&'a str>,
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "Witness")]
struct WitnessJson<'a> {
    failed_hosts: Vec<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    failed_domains: Option<Vec<&'a str>>,
    unplaced: Vec<&'a str>,
    reason: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    short: Option<ShortJson<'a>>,
    /// Present (false) only when the time limit left no time to work out
    /// the VMs the set strands: `unplaced` is then empty.
    #[serde(skip_serializing_if = "is_true")]
    explained: bool,
}

fn is_true(b: &bool) -> bool {
    *b
}

/// A witness; `domains` (the pool's failure domains, when it has them)
/// name the domains its hosts make up.
fn witness_json<'a>(
    pool: &'a Pool,
    domains: Option<&'a [haplan::domains::Domain]>,
    w: &'a Witness,
) -> WitnessJson<'a> {
    WitnessJson {
        failed_hosts: w
            .failed
            .iter()
            .map(|&h| pool.hosts[h].name.as_str())
            .collect(),
        failed_domains: domains.map(|d| {
            haplan::domains::covering(d, &w.failed)
                .into_iter()
                .map(|i| d[i].name.as_str())
                .collect()
        }),
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
        explained: w.explained,
    }
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "Short")]
struct ShortJson<'a> {
    resource: &'a str,
    needed: i64,
    spare: i64,
    deficit: i64,
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "NotAgile")]
struct NotAgileJson<'a> {
    vm: &'a str,
    reasons: &'a [String],
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "Stats")]
struct StatsJson {
    scenarios: u64,
    elapsed_ms: u64,
    by_bounds: u64,
    by_heuristic: u64,
    by_search: u64,
    by_ilp: u64,
    set_level: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    k_decided_ms: Option<u64>,
}

/// The `check` report as the JSON object of `docs/cli.md`.
pub fn check_json(pool: &Pool, r: &CheckReport) -> Value {
    let w = r
        .witness
        .as_ref()
        .map(|w| witness_json(pool, r.failure_domains.as_deref(), w));
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
        failure_domains: r.failure_domains.as_ref().map(|d| DomainsJson {
            label: pool.ha.failure_domain_label.as_deref().unwrap_or_default(),
            domains: d
                .iter()
                .map(|d| DomainJson {
                    name: &d.name,
                    labelled: d.labelled,
                    hosts: d
                        .hosts
                        .iter()
                        .map(|&h| pool.hosts[h].name.as_str())
                        .collect(),
                })
                .collect(),
        }),
        soft_rules: r.soft.as_ref().map(|soft| SoftJson {
            rules: soft.rules,
            max_tolerable: soft.max_tolerable,
            upper_bound: soft.upper_bound,
            exact: soft.exact,
            must_break: r.soft_rules_break(),
            witness: soft.witness.as_ref().map(|w| SoftWitnessJson {
                failed_hosts: w
                    .failed
                    .iter()
                    .map(|&h| pool.hosts[h].name.as_str())
                    .collect(),
                broken: w.broken.iter().map(|b| broken_json(pool, b)).collect(),
            }),
        }),
        verdict: verdict_str(r.verdict()),
        stopped_by: r.stopped.map(|s| s.as_str()),
        stats: StatsJson {
            scenarios: r.stats.scenarios,
            elapsed_ms: r.stats.elapsed.as_millis() as u64,
            by_bounds: r.stats.by_stage[0],
            by_heuristic: r.stats.by_stage[1],
            by_search: r.stats.by_stage[2],
            by_ilp: r.stats.by_stage[3],
            set_level: r.stats.set_level,
            k_decided_ms: r.stats.k_elapsed.map(|d| d.as_millis() as u64),
        },
    };
    serde_json::to_value(json).expect("serializable")
}

/// A verdict as the JSON names it (`drain` has words of its own for two
/// of them: [`verdict_of`]).
pub fn verdict_str(v: Verdict) -> &'static str {
    match v {
        Verdict::Ok => "ok",
        Verdict::NotOk => "not_ok",
        Verdict::Undecided => "undecided",
    }
}

/// The `verdict` of every answer but `drain`'s.
#[derive(JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(rename = "Verdict")]
#[allow(dead_code, reason = "only its JSON Schema is used")]
enum VerdictName {
    /// The question is answered yes (exit 0).
    Ok,
    /// The question is answered no, and that is proved (exit 1).
    NotOk,
    /// Neither is proved within the time given (exit 3).
    Undecided,
}

/// The `verdict` of `drain`: `drainable` is `ok`, `blocked` is `not_ok`.
#[derive(JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(rename = "DrainVerdict")]
#[allow(dead_code, reason = "only its JSON Schema is used")]
enum DrainVerdictName {
    /// The host can be drained with the pool still tolerating K (exit 0).
    Drainable,
    /// It cannot, and that is proved (exit 1).
    Blocked,
    /// Neither is proved within the time given (exit 3).
    Undecided,
}

/// A restart priority as answers write it: one of the four names, or the
/// number of a priority between them.
#[derive(JsonSchema)]
#[serde(untagged)]
#[schemars(rename = "Priority")]
#[allow(dead_code, reason = "only its JSON Schema is used")]
enum PriorityName {
    /// `critical` (4000), `high` (3000), `medium` (2000) or `low` (1000).
    Name(PriorityWord),
    /// Any other priority.
    Number(i32),
}

/// The four named priorities.
#[derive(JsonSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code, reason = "only its JSON Schema is used")]
enum PriorityWord {
    Critical,
    High,
    Medium,
    Low,
}

/// The exit code of the command whose answer has verdict `v`: 0 ok, 1 not
/// ok, 3 undecided (2 is for a question that could not be asked).
pub fn exit_code(v: Verdict) -> i32 {
    match v {
        Verdict::Ok => 0,
        Verdict::NotOk => 1,
        Verdict::Undecided => 3,
    }
}

/// The verdict of an answer's JSON (any of them: `drain`'s `drainable`
/// and `blocked` read as ok and not ok); `None` when it has none.
pub fn verdict_of(answer: &Value) -> Option<Verdict> {
    match answer.get("verdict")?.as_str()? {
        "ok" | "drainable" => Some(Verdict::Ok),
        "not_ok" | "blocked" => Some(Verdict::NotOk),
        "undecided" => Some(Verdict::Undecided),
        _ => None,
    }
}

/// A plan's verdict: every protected VM placed, or proved not to fit, or
/// neither within the time given.
pub fn plan_verdict(pool: &Pool, p: &Plan) -> Verdict {
    if p.all_protected_placed(pool) {
        Verdict::Ok
    } else if p.exact {
        Verdict::NotOk
    } else {
        Verdict::Undecided
    }
}

/// `agility`'s verdict: every protected VM has a target.
pub fn agility_verdict(ag: &haplan::agility::Agility) -> Verdict {
    if ag.not_agile.is_empty() {
        Verdict::Ok
    } else {
        Verdict::NotOk
    }
}

/// `tiers`' verdict: the pool's (the lowest tier's), undecided when a tier
/// was cut short even though K is proved.
pub fn tiers_verdict(r: &TiersReport) -> Verdict {
    match r.verdict() {
        Verdict::Ok if !r.exact => Verdict::Undecided,
        v => v,
    }
}

/// `timing`'s verdict: every protected VM concerned runs again, or not, or
/// no failure set was looked at within the time given.
pub fn timing_verdict(r: &TimingReport) -> Verdict {
    if r.undecided {
        Verdict::Undecided
    } else if r.ok() {
        Verdict::Ok
    } else {
        Verdict::NotOk
    }
}

/// `2 host failures`, or `between 1 and 3 host failures` when not exact.
/// `2 domain failures` when k counts failure domains.
fn tolerance_words(r: &CheckReport) -> String {
    let unit = match r.failure_domains {
        Some(_) => "domain",
        None => "host",
    };
    if r.exact {
        plural(
            r.max_tolerable,
            &format!("{unit} failure"),
            &format!("{unit} failures"),
        )
    } else {
        format!(
            "between {} and {} {unit} failures",
            r.max_tolerable, r.upper_bound
        )
    }
}

/// The first word(s) of a check's text: `OK`, `OVERCOMMITTED`, `NOT OK`
/// (only agility fails) or `UNDECIDED`.
fn verdict_words(r: &CheckReport) -> &'static str {
    match r.verdict() {
        Verdict::Ok => "OK",
        Verdict::NotOk
            if !r.not_agile.is_empty() && r.upper_bound >= r.configured && !r.stranded_now =>
        {
            "NOT OK"
        }
        Verdict::NotOk => "OVERCOMMITTED",
        Verdict::Undecided => "UNDECIDED",
    }
}

/// The not-agile VMs and the warnings of a check, as `check`'s text ends.
fn not_agile_and_warnings(s: &mut String, pool: &Pool, r: &CheckReport) {
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
}

/// The `check` report for people: the verdict first, then the worst failure
/// set and what it strands.
pub fn check_text(pool: &Pool, r: &CheckReport) -> String {
    let mut s = String::new();
    let tol = tolerance_words(r);
    let verdict = verdict_words(r);
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
    } else if let Some(stop) = r.stopped {
        let _ = writeln!(
            s,
            "{}",
            match stop {
                haplan::tolerance::Stop::MaxTime =>
                    "The answer is proved; the time for the exact maximum (--max-time) ran out.",
                haplan::tolerance::Stop::TimeLimit =>
                    "The answer is proved; the time limit ran out before the exact maximum.",
                haplan::tolerance::Stop::Cancelled =>
                    "The answer is proved; the search for the exact maximum was cancelled.",
            }
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
        } else if let Some(d) = &r.failure_domains {
            let names: Vec<&str> = haplan::domains::covering(d, &w.failed)
                .into_iter()
                .map(|i| d[i].name.as_str())
                .collect();
            let _ = writeln!(
                s,
                "Worst failure set: {} ({}: {})",
                names.join(", "),
                plural(names.len(), "domain", "domains"),
                hosts.join(", ")
            );
        } else {
            let _ = writeln!(
                s,
                "Worst failure set: {} ({})",
                hosts.join(", "),
                plural(hosts.len(), "host", "hosts")
            );
        }
        let _ = writeln!(s, "Reason: {}", w.reason);
        if !w.explained {
            let _ = writeln!(
                s,
                "Stranded protected VMs: not worked out before the time limit"
            );
        }
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
    if let Some(d) = &r.failure_domains {
        let label = pool.ha.failure_domain_label.as_deref().unwrap_or_default();
        let list: Vec<String> = d
            .iter()
            .map(|d| {
                let hosts: Vec<&str> = d
                    .hosts
                    .iter()
                    .map(|&h| pool.hosts[h].name.as_str())
                    .collect();
                format!("{} ({})", d.name, hosts.join(", "))
            })
            .collect();
        let _ = writeln!(
            s,
            "Failure domains by label {label} ({}): {}",
            d.len(),
            list.join("; ")
        );
    }
    if let Some(soft) = &r.soft {
        let kept = if soft.exact {
            soft.max_tolerable.to_string()
        } else {
            format!("between {} and {}", soft.max_tolerable, soft.upper_bound)
        };
        let verdict = match r.soft_rules_break() {
            Some(true) => "the worst case has to break one",
            Some(false) => "the worst case breaks none",
            None => "not proved whether the worst case has to break one",
        };
        let _ = writeln!(
            s,
            "Soft rules ({}): kept through {kept} failures; {verdict}.",
            soft.rules
        );
        if let Some(w) = &soft.witness {
            let hosts: Vec<&str> = w
                .failed
                .iter()
                .map(|&h| pool.hosts[h].name.as_str())
                .collect();
            let _ = writeln!(
                s,
                "If {} fail{}, the plan breaks:",
                hosts.join(", "),
                if hosts.len() == 1 { "s" } else { "" }
            );
            for b in &w.broken {
                let _ = writeln!(s, "  {}", b.reason);
            }
        }
    }
    not_agile_and_warnings(&mut s, pool, r);
    let _ = writeln!(
        s,
        "Decided {} one by one and {} by set-level bounds in {} ms.",
        plural(r.stats.scenarios, "failure set", "failure sets"),
        plural(r.stats.set_level, "group", "groups"),
        r.stats.elapsed.as_millis()
    );
    s
}

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
            "warning: the time limit ran out; some VMs were not decided"
        );
    }
    s
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "WhatIf")]
pub(crate) struct WhatIfJson<'a> {
    pool: &'a str,
    changes: Vec<String>,
    ok: bool,
    #[schemars(with = "VerdictName")]
    verdict: &'static str,
    #[schemars(with = "CheckJson")]
    before: Value,
    #[schemars(with = "CheckJson")]
    after: Value,
}

/// A what-if report as the JSON object of `docs/cli.md`: the changes in
/// words, and the `check` object of the pool before and after them.
pub fn whatif_json(before: &Pool, after: &Pool, changes: &[Change], r: &WhatIfReport) -> Value {
    let json = WhatIfJson {
        pool: &after.name,
        changes: changes.iter().map(|c| c.to_string()).collect(),
        ok: r.after.ok(),
        verdict: verdict_str(r.verdict()),
        before: check_json(before, &r.before),
        after: check_json(after, &r.after),
    };
    serde_json::to_value(json).expect("serializable")
}

/// A what-if report for people: the verdict on the changed pool first, the
/// changes, then the check of the pool after and before them.
pub fn whatif_text(before: &Pool, after: &Pool, changes: &[Change], r: &WhatIfReport) -> String {
    let mut s = String::new();
    let (b, a) = (&r.before, &r.after);
    let configured = if a.configured == b.configured {
        format!("configured: {}", a.configured)
    } else {
        format!("configured: {}, before: {}", a.configured, b.configured)
    };
    let _ = writeln!(
        s,
        "{}: after {}, pool {} tolerates {} ({configured}); before the changes: {}",
        verdict_words(a),
        plural(changes.len(), "change", "changes"),
        after.name,
        tolerance_words(a),
        tolerance_words(b),
    );
    if !changes.is_empty() {
        let _ = writeln!(s, "Changes:");
        for (i, c) in changes.iter().enumerate() {
            let _ = writeln!(s, "  changes[{i}]: {c}");
        }
    }
    let _ = writeln!(s, "After the changes:");
    s.push_str(&check_text(after, a));
    let _ = writeln!(s, "Before the changes:");
    s.push_str(&check_text(before, b));
    s
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "Diff")]
pub(crate) struct DiffJson<'a> {
    ok: bool,
    #[schemars(with = "VerdictName")]
    verdict: &'static str,
    tolerate: u32,
    no_regress: bool,
    regressed: Option<bool>,
    no_worse: bool,
    reasons: Vec<String>,
    hosts_added: &'a [String],
    hosts_removed: &'a [String],
    vms_added: &'a [String],
    vms_removed: &'a [String],
    removed_protected: &'a [String],
    lost_protection: Vec<LostJson<'a>>,
    newly_not_agile: Vec<NotAgileJson<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    headroom: Option<DiffHeadroomJson<'a>>,
    #[schemars(with = "CheckJson")]
    old: Value,
    #[schemars(with = "CheckJson")]
    new: Value,
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "Lost")]
struct LostJson<'a> {
    vm: &'a str,
    restart: &'static str,
}

/// Why NEW fails the policy, or is undecided; empty when it meets it.
fn diff_reasons(new: &Pool, d: &DiffReport) -> Vec<String> {
    let n = &d.new;
    let mut out = Vec::new();
    if n.stranded_now {
        out.push(
            "VMs of hosts already down cannot all restart, even with no further failure"
                .to_string(),
        );
    }
    if n.upper_bound < d.tolerate {
        out.push(format!(
            "it tolerates {}, fewer than the {} required",
            tolerance_words(n),
            d.tolerate
        ));
    } else if n.max_tolerable < d.tolerate {
        out.push(format!(
            "undecided: it tolerates {}; the time limit ran out before {} was proved either way",
            tolerance_words(n),
            d.tolerate
        ));
    }
    if !n.not_agile.is_empty() {
        let names: Vec<&str> = n
            .not_agile
            .iter()
            .map(|a| new.vms[a.vm].name.as_str())
            .collect();
        out.push(format!(
            "{} not agile: {}",
            plural(names.len(), "protected VM is", "protected VMs are"),
            names.join(", ")
        ));
    }
    if d.no_regress && d.regressed() == Some(true) {
        out.push(format!(
            "it tolerates {}, fewer than the {} it tolerated before (--no-regress)",
            tolerance_words(n),
            tolerance_words(&d.old)
        ));
    }
    out
}

/// A diff as the JSON object of `docs/cli.md`.
pub fn diff_json(old: &Pool, new: &Pool, d: &DiffReport) -> Value {
    let json = DiffJson {
        ok: d.ok(),
        verdict: verdict_str(d.verdict()),
        tolerate: d.tolerate,
        no_regress: d.no_regress,
        regressed: d.regressed(),
        no_worse: d.no_worse,
        reasons: diff_reasons(new, d),
        hosts_added: &d.hosts_added,
        hosts_removed: &d.hosts_removed,
        vms_added: &d.vms_added,
        vms_removed: &d.vms_removed,
        removed_protected: &d.removed_protected,
        lost_protection: d
            .lost_protection
            .iter()
            .map(|l| LostJson {
                vm: &l.vm,
                restart: l.restart.as_str(),
            })
            .collect(),
        newly_not_agile: d
            .newly_not_agile
            .iter()
            .map(|n| NotAgileJson {
                vm: &new.vms[n.vm].name,
                reasons: &n.reasons,
            })
            .collect(),
        headroom: d.headroom.as_ref().map(|h| diff_headroom_json(old, new, h)),
        old: check_json(old, &d.old),
        new: check_json(new, &d.new),
    };
    serde_json::to_value(json).expect("serializable")
}

/// `diff --vm`: the headroom of OLD and NEW for one shape.
#[derive(Serialize, JsonSchema)]
#[schemars(rename = "DiffHeadroom")]
struct DiffHeadroomJson<'a> {
    /// The shape; null when neither side could be answered.
    vm: Option<ShapeJson<'a>>,
    old: HeadroomSideJson<'a>,
    new: HeadroomSideJson<'a>,
    /// NEW's count minus OLD's, when both are exact.
    change: Option<i64>,
}

/// One side of diff's headroom: the count, its bounds, the placement and
/// the limit (the full report is `headroom`'s), or why there is none.
#[derive(Serialize, JsonSchema)]
#[schemars(rename = "HeadroomSide")]
#[serde(untagged)]
enum HeadroomSideJson<'a> {
    Answer {
        max_additional: u32,
        upper_bound: u32,
        exact: bool,
        placement: Vec<CountJson<'a>>,
        limit: LimitJson<'a>,
    },
    Error {
        error: String,
    },
}

fn headroom_side_json<'a>(
    pool: &'a Pool,
    r: &'a Result<HeadroomReport, HeadroomError>,
) -> HeadroomSideJson<'a> {
    match r {
        Ok(r) => HeadroomSideJson::Answer {
            max_additional: r.max_additional,
            upper_bound: r.upper_bound,
            exact: r.exact,
            placement: placement_json(pool, r),
            limit: limit_json(pool, r),
        },
        Err(e) => HeadroomSideJson::Error {
            error: e.to_string(),
        },
    }
}

fn diff_headroom_json<'a>(
    old: &'a Pool,
    new: &'a Pool,
    h: &'a DiffHeadroom,
) -> DiffHeadroomJson<'a> {
    let shape = match (&h.new, &h.old) {
        (Ok(r), _) | (_, Ok(r)) => Some(shape_json(&r.shape)),
        _ => None,
    };
    DiffHeadroomJson {
        vm: shape,
        old: headroom_side_json(old, &h.old),
        new: headroom_side_json(new, &h.new),
        change: h.change(),
    }
}

/// `12`, `between 10 and 12`, or the error.
fn headroom_words(r: &Result<HeadroomReport, HeadroomError>) -> String {
    match r {
        Ok(r) => count_words(r.max_additional, r.upper_bound),
        Err(e) => format!("({e})"),
    }
}

/// A diff for a CI log: the verdict first, why, what changed, then the
/// check of NEW and of OLD.
pub fn diff_text(old: &Pool, new: &Pool, d: &DiffReport) -> String {
    let mut s = String::new();
    let verdict = match d.verdict() {
        Verdict::Ok => "OK",
        Verdict::NotOk => "NOT OK",
        Verdict::Undecided => "UNDECIDED",
    };
    let _ = writeln!(
        s,
        "{verdict}: pool {} tolerates {} (before: {}; required: {}{})",
        new.name,
        tolerance_words(&d.new),
        tolerance_words(&d.old),
        d.tolerate,
        if d.no_regress {
            " and no regression"
        } else {
            ""
        }
    );
    for r in diff_reasons(new, d) {
        let _ = writeln!(s, "  {r}");
    }
    let list = |s: &mut String, title: &str, names: &[String]| {
        if !names.is_empty() {
            let _ = writeln!(s, "{title} ({}): {}", names.len(), names.join(", "));
        }
    };
    list(&mut s, "Hosts added", &d.hosts_added);
    list(&mut s, "Hosts removed", &d.hosts_removed);
    list(&mut s, "VMs added", &d.vms_added);
    list(&mut s, "VMs removed", &d.vms_removed);
    list(&mut s, "Protected VMs removed", &d.removed_protected);
    let lost: Vec<String> = d
        .lost_protection
        .iter()
        .map(|l| format!("{} (now {})", l.vm, l.restart.as_str()))
        .collect();
    list(&mut s, "VMs that lost protection", &lost);
    if !d.newly_not_agile.is_empty() {
        let _ = writeln!(
            s,
            "Protected VMs newly not agile ({}):",
            d.newly_not_agile.len()
        );
        for n in &d.newly_not_agile {
            let _ = writeln!(s, "  {}: {}", new.vms[n.vm].name, n.reasons.join("; "));
        }
    }
    if let Some(h) = &d.headroom {
        let shape = match (&h.new, &h.old) {
            (Ok(r), _) | (_, Ok(r)) => r.shape.describe(),
            _ => String::new(),
        };
        let change = match h.change() {
            Some(0) => ", no change".to_string(),
            Some(c) => format!(", {c:+}"),
            None => String::new(),
        };
        let _ = writeln!(
            s,
            "Headroom for VMs of {shape} (still tolerating {}): {} (before: {}{change})",
            plural(d.tolerate, "host failure", "host failures"),
            headroom_words(&h.new),
            headroom_words(&h.old),
        );
    }
    let _ = writeln!(s, "New pool:");
    s.push_str(&check_text(new, &d.new));
    let _ = writeln!(s, "Old pool:");
    s.push_str(&check_text(old, &d.old));
    s
}

/// The protected running or paused VMs, with their reasons when not agile.
fn agility_rows<'a>(
    pool: &'a Pool,
    ag: &'a haplan::agility::Agility,
) -> Vec<(usize, &'a haplan::model::Vm, Option<&'a [String]>)> {
    pool.vms
        .iter()
        .enumerate()
        .filter(|(_, v)| v.restart == haplan::model::Restart::Protected && v.power.is_active())
        .map(|(v, vm)| {
            let reasons = ag
                .not_agile
                .iter()
                .find(|n| n.vm == v)
                .map(|n| n.reasons.as_slice());
            (v, vm, reasons)
        })
        .collect()
}

/// `haplan agility` as JSON: for every protected running or paused VM, the
/// hosts it could restart on, or every reason why none.
pub fn agility_json(pool: &Pool, ag: &haplan::agility::Agility) -> Value {
    let vms = agility_rows(pool, ag)
        .into_iter()
        .map(|(v, vm, reasons)| AgileJson {
            vm: &vm.name,
            host: &pool.hosts[vm.host].name,
            agile: ag.is_agile(v),
            targets: ag
                .targets
                .of(v)
                .map(|h| pool.hosts[h].name.as_str())
                .collect(),
            reasons: reasons.unwrap_or_default(),
        })
        .collect();
    let json = AgilityJson {
        pool: &pool.name,
        verdict: verdict_str(agility_verdict(ag)),
        vms,
    };
    serde_json::to_value(json).expect("serializable")
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "Agility")]
pub(crate) struct AgilityJson<'a> {
    pool: &'a str,
    #[schemars(with = "VerdictName")]
    verdict: &'static str,
    vms: Vec<AgileJson<'a>>,
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "Agile")]
struct AgileJson<'a> {
    vm: &'a str,
    host: &'a str,
    agile: bool,
    targets: Vec<&'a str>,
    reasons: &'a [String],
}

/// `haplan agility` for people: a verdict line, then one line per VM.
pub fn agility_text(pool: &Pool, ag: &haplan::agility::Agility) -> String {
    let mut s = String::new();
    let n = ag.not_agile.len();
    if n == 0 {
        let _ = writeln!(
            s,
            "OK: every protected VM of pool {} can restart on another host",
            pool.name
        );
    } else {
        let _ = writeln!(
            s,
            "NOT OK: {n} protected VM{} of pool {} cannot restart on any other host",
            if n == 1 { "" } else { "s" },
            pool.name
        );
    }
    for (v, vm, reasons) in agility_rows(pool, ag) {
        match reasons {
            Some(r) => {
                let _ = writeln!(s, "  {}: not agile: {}", vm.name, r.join("; "));
            }
            None => {
                let t: Vec<&str> = ag
                    .targets
                    .of(v)
                    .map(|h| pool.hosts[h].name.as_str())
                    .collect();
                let _ = writeln!(s, "  {}: {}", vm.name, t.join(", "));
            }
        }
    }
    s
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "Shape")]
struct ShapeJson<'a> {
    demand: &'a std::collections::BTreeMap<String, i64>,
    storage: Vec<&'a str>,
    networks: Vec<&'a str>,
}

fn shape_json(shape: &Shape) -> ShapeJson<'_> {
    ShapeJson {
        demand: &shape.demand,
        storage: shape.storage.iter().map(String::as_str).collect(),
        networks: shape.networks.iter().map(String::as_str).collect(),
    }
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "Count")]
struct CountJson<'a> {
    host: &'a str,
    count: u32,
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "Limit")]
struct LimitJson<'a> {
    kind: &'static str,
    reason: &'a str,
    failed_hosts: Vec<&'a str>,
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "HostRoom")]
struct HostRoomJson<'a> {
    host: &'a str,
    room: u32,
    fits_here: u32,
    fits_here_upper: u32,
    reason: Option<&'a str>,
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "HeadroomStats")]
struct HeadroomStatsJson {
    scenarios: u64,
    elapsed_ms: u64,
    checks: u64,
    set_level: u64,
    cuts: u64,
    placements: u64,
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "Headroom")]
pub(crate) struct HeadroomJson<'a> {
    pool: &'a str,
    vm: ShapeJson<'a>,
    tolerate: u32,
    ok: bool,
    #[schemars(with = "VerdictName")]
    verdict: &'static str,
    max_additional: u32,
    upper_bound: u32,
    exact: bool,
    placement: Vec<CountJson<'a>>,
    limit: LimitJson<'a>,
    hosts: Vec<HostRoomJson<'a>>,
    #[schemars(with = "CheckJson")]
    check: Value,
    stats: HeadroomStatsJson,
}

fn placement_json<'a>(pool: &'a Pool, r: &HeadroomReport) -> Vec<CountJson<'a>> {
    r.placement
        .iter()
        .enumerate()
        .filter(|&(_, &c)| c > 0)
        .map(|(h, &count)| CountJson {
            host: &pool.hosts[h].name,
            count,
        })
        .collect()
}

fn limit_json<'a>(pool: &'a Pool, r: &'a HeadroomReport) -> LimitJson<'a> {
    LimitJson {
        kind: r.limit.kind.as_str(),
        reason: &r.limit.reason,
        failed_hosts: r
            .limit
            .failed
            .iter()
            .map(|&h| pool.hosts[h].name.as_str())
            .collect(),
    }
}

/// The `headroom` report as the JSON object of `docs/cli.md`.
pub fn headroom_json(pool: &Pool, r: &HeadroomReport) -> Value {
    let json = HeadroomJson {
        pool: &r.pool,
        vm: shape_json(&r.shape),
        tolerate: r.tolerate,
        ok: r.ok(),
        verdict: verdict_str(r.verdict()),
        max_additional: r.max_additional,
        upper_bound: r.upper_bound,
        exact: r.exact,
        placement: placement_json(pool, r),
        limit: limit_json(pool, r),
        hosts: r
            .hosts
            .iter()
            .map(|h| HostRoomJson {
                host: &pool.hosts[h.host].name,
                room: h.room,
                fits_here: h.fits_here,
                fits_here_upper: h.fits_here_upper,
                reason: h.reason.as_deref(),
            })
            .collect(),
        check: check_json(pool, &r.check),
        stats: HeadroomStatsJson {
            scenarios: r.stats.scenarios,
            elapsed_ms: r.stats.elapsed.as_millis() as u64,
            checks: r.stats.checks,
            set_level: r.stats.set_level,
            cuts: r.stats.cuts,
            placements: r.stats.placements,
        },
    };
    serde_json::to_value(json).expect("serializable")
}

/// `12`, or `between 10 and 12` when not proved.
fn count_words(lower: u32, upper: u32) -> String {
    if lower == upper {
        lower.to_string()
    } else {
        format!("between {lower} and {upper}")
    }
}

/// The `headroom` report for people: the verdict and the count first, then
/// the placement, why not one more, every host, and the check of the pool.
pub fn headroom_text(pool: &Pool, r: &HeadroomReport) -> String {
    let mut s = String::new();
    let shape = r.shape.describe();
    let k = plural(r.tolerate, "host failure", "host failures");
    let c = &r.check;
    let tolerated = !c.stranded_now && c.upper_bound >= r.tolerate;
    if !tolerated {
        let _ = writeln!(
            s,
            "OVERCOMMITTED: pool {} does not tolerate {k} now: no VM of {shape} can start",
            r.pool
        );
    } else {
        let verdict = match r.verdict() {
            Verdict::Ok => "OK",
            Verdict::NotOk => "NOT OK",
            Verdict::Undecided => "UNDECIDED",
        };
        let count = count_words(r.max_additional, r.upper_bound);
        let _ = writeln!(
            s,
            "{verdict}: pool {} can start {count} more {} of {shape} and still tolerate {k}",
            r.pool,
            if r.max_additional == 1 && r.upper_bound == 1 {
                "VM"
            } else {
                "VMs"
            }
        );
    }
    if r.max_additional > 0 {
        let _ = writeln!(
            s,
            "Placement: {}",
            placement_json(pool, r)
                .iter()
                .map(|c| format!("{} {}", c.host, c.count))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let next = r.upper_bound as u64 + 1;
    let _ = writeln!(
        s,
        "{}: {}",
        if r.max_additional == r.upper_bound {
            format!("Why not {next}")
        } else {
            format!("Why not {next} (the upper bound)")
        },
        r.limit.reason
    );
    if tolerated {
        let _ = writeln!(
            s,
            "Per host, how many fit there alone, of how many its spare holds:"
        );
        let width = r
            .hosts
            .iter()
            .map(|h| pool.hosts[h.host].name.len())
            .max()
            .unwrap_or(0);
        for h in &r.hosts {
            let fits = count_words(h.fits_here, h.fits_here_upper);
            let reason = h
                .reason
                .as_deref()
                .map(|w| format!(": {w}"))
                .unwrap_or_default();
            let _ = writeln!(
                s,
                "  {:<width$}  {fits} of {}{reason}",
                pool.hosts[h.host].name, h.room
            );
        }
    }
    let _ = writeln!(s, "The pool as it is:");
    s.push_str(&check_text(pool, c));
    let _ = writeln!(
        s,
        "Ran {} in {} ms.",
        plural(r.stats.checks, "tolerance check", "tolerance checks"),
        r.stats.elapsed.as_millis()
    );
    s
}

// ---------------------------------------------------------------------------
// drain

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "Move")]
struct MoveJson<'a> {
    vm: &'a str,
    from: &'a str,
    to: &'a str,
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "HostBlock")]
struct HostBlockJson<'a> {
    host: &'a str,
    reason: &'a str,
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "Stuck")]
struct StuckJson<'a> {
    vm: &'a str,
    hosts: Vec<HostBlockJson<'a>>,
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "Blocked")]
struct BlockedJson<'a> {
    kind: &'static str,
    no_target: Vec<StuckJson<'a>>,
    failed_hosts: Vec<&'a str>,
    unplaced: Vec<&'a str>,
    not_agile: Vec<NotAgileJson<'a>>,
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "DrainStats")]
struct DrainStatsJson {
    checks: u64,
    assignments: u64,
    pruned: u64,
    elapsed_ms: u64,
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "Drain")]
pub(crate) struct DrainJson<'a> {
    pool: &'a str,
    host: &'a str,
    tolerate: u32,
    ok: bool,
    #[schemars(with = "DrainVerdictName")]
    verdict: &'static str,
    reason: String,
    vms: Vec<&'a str>,
    method: Option<&'static str>,
    moves: Vec<MoveJson<'a>>,
    #[schemars(with = "Option<CheckJson>")]
    end_state: Option<Value>,
    blocked: Option<BlockedJson<'a>>,
    stats: DrainStatsJson,
}

fn drain_verdict(r: &DrainReport) -> &'static str {
    match r.outcome {
        drain::Outcome::Drainable { .. } => "drainable",
        drain::Outcome::Blocked(_) => "blocked",
        drain::Outcome::Undecided { .. } => "undecided",
    }
}

fn method_words(m: drain::Method) -> &'static str {
    match m {
        drain::Method::Nothing => "the host runs no VM",
        drain::Method::Spread => "found by the most-room heuristic",
        drain::Method::TightestFit => "found by the tightest-fit heuristic",
        drain::Method::Search => {
            "found by the exhaustive search over assignments (the heuristics' plans do not keep K)"
        }
    }
}

/// One sentence: why the answer is what it is.
fn drain_reason(pool: &Pool, r: &DrainReport) -> String {
    let h = &pool.hosts[r.host].name;
    let k = plural(r.tolerate, "host failure", "host failures");
    match &r.outcome {
        drain::Outcome::Drainable { method, .. } => method_words(*method).to_string(),
        drain::Outcome::Undecided { reason } => reason.clone(),
        drain::Outcome::Blocked(b) => match b {
            drain::Blocked::NoTarget(stuck) => {
                let names: Vec<&str> = stuck.iter().map(|s| pool.vms[s.vm].name.as_str()).collect();
                format!(
                    "{} of {h} {} on no other host {} may run on: {}",
                    plural(names.len(), "VM", "VMs"),
                    if names.len() == 1 { "fits" } else { "fit" },
                    if names.len() == 1 { "it" } else { "they" },
                    names.join(", ")
                )
            }
            drain::Blocked::Relaxation(f) => {
                let why = match f {
                    drain::Failure::TooFewHosts { up } => format!(
                        "only {} up, fewer than K = {}",
                        if pool.ha.failure_domain_label.is_some() {
                            plural(*up, "failure domain is", "failure domains are")
                        } else {
                            plural(*up, "host is", "hosts are")
                        },
                        r.tolerate
                    ),
                    drain::Failure::NotAgile(na) => format!(
                        "no host could restart protected {} {}",
                        if na.len() == 1 { "VM" } else { "VMs" },
                        na.iter()
                            .map(|n| pool.vms[n.vm].name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    drain::Failure::Witness(w) if w.failed.is_empty() => {
                        "VMs of hosts already down cannot all restart".to_string()
                    }
                    drain::Failure::Witness(w) => format!(
                        "the failure of {} strands protected VMs ({})",
                        w.failed
                            .iter()
                            .map(|&x| pool.hosts[x].name.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                        w.reason
                    ),
                };
                format!(
                    "with {h} in maintenance the pool does not tolerate {k} even without {h}'s VMs: {why}; \
adding VMs to hosts never makes a pool tolerate more, so no placement of them can"
                )
            }
            drain::Blocked::Exhausted => format!(
                "every assignment of {h}'s {} to hosts {} may run on and fit was tried \
({} complete, {} partial {} dropped as {} pool already failed K), and none leaves a pool that tolerates {k}",
                plural(r.vms.len(), "VM", "VMs"),
                if r.vms.len() == 1 { "it" } else { "they" },
                r.stats.assignments,
                r.stats.pruned,
                if r.stats.pruned == 1 { "one" } else { "ones" },
                if r.stats.pruned == 1 { "its" } else { "their" },
            ),
        },
    }
}

fn moves_json<'a>(pool: &'a Pool, r: &DrainReport) -> Vec<MoveJson<'a>> {
    r.moves()
        .iter()
        .map(|m| MoveJson {
            vm: &pool.vms[m.vm].name,
            from: &pool.hosts[m.from].name,
            to: &pool.hosts[m.to].name,
        })
        .collect()
}

fn blocked_json<'a>(pool: &'a Pool, b: &'a drain::Blocked) -> BlockedJson<'a> {
    let mut out = BlockedJson {
        kind: match b {
            drain::Blocked::NoTarget(_) => "no_target",
            drain::Blocked::Relaxation(_) => "not_tolerated",
            drain::Blocked::Exhausted => "exhausted",
        },
        no_target: Vec::new(),
        failed_hosts: Vec::new(),
        unplaced: Vec::new(),
        not_agile: Vec::new(),
    };
    match b {
        drain::Blocked::NoTarget(stuck) => {
            out.no_target = stuck
                .iter()
                .map(|s| StuckJson {
                    vm: &pool.vms[s.vm].name,
                    hosts: s
                        .hosts
                        .iter()
                        .map(|b| HostBlockJson {
                            host: &pool.hosts[b.host].name,
                            reason: &b.reason,
                        })
                        .collect(),
                })
                .collect()
        }
        drain::Blocked::Relaxation(drain::Failure::Witness(w)) => {
            out.failed_hosts = w
                .failed
                .iter()
                .map(|&h| pool.hosts[h].name.as_str())
                .collect();
            out.unplaced = w
                .unplaced
                .iter()
                .map(|&v| pool.vms[v].name.as_str())
                .collect();
        }
        drain::Blocked::Relaxation(drain::Failure::NotAgile(na)) => {
            out.not_agile = na
                .iter()
                .map(|n| NotAgileJson {
                    vm: &pool.vms[n.vm].name,
                    reasons: &n.reasons,
                })
                .collect();
        }
        drain::Blocked::Relaxation(drain::Failure::TooFewHosts { .. })
        | drain::Blocked::Exhausted => {}
    }
    out
}

/// The `drain` report as the JSON object of `docs/cli.md`.
pub fn drain_json(pool: &Pool, r: &DrainReport) -> Value {
    let (method, end) = match &r.outcome {
        drain::Outcome::Drainable { method, end, .. } => {
            (Some(method.as_str()), Some(check_json(pool, end)))
        }
        _ => (None, None),
    };
    let json = DrainJson {
        pool: &r.pool,
        host: &pool.hosts[r.host].name,
        tolerate: r.tolerate,
        ok: r.ok(),
        verdict: drain_verdict(r),
        reason: drain_reason(pool, r),
        vms: r.vms.iter().map(|&v| pool.vms[v].name.as_str()).collect(),
        method,
        moves: moves_json(pool, r),
        end_state: end,
        blocked: match &r.outcome {
            drain::Outcome::Blocked(b) => Some(blocked_json(pool, b)),
            _ => None,
        },
        stats: DrainStatsJson {
            checks: r.stats.checks,
            assignments: r.stats.assignments,
            pruned: r.stats.pruned,
            elapsed_ms: r.stats.elapsed.as_millis() as u64,
        },
    };
    serde_json::to_value(json).expect("serializable")
}

/// The `drain` report for people: the verdict first, then the migrations
/// or the proof that none keeps K.
pub fn drain_text(pool: &Pool, r: &DrainReport) -> String {
    let mut s = String::new();
    let h = &pool.hosts[r.host].name;
    let k = plural(r.tolerate, "host failure", "host failures");
    let _ = match r.verdict() {
        Verdict::Ok => writeln!(
            s,
            "OK: host {h} of pool {} can be drained with the pool still tolerating {k}",
            r.pool
        ),
        Verdict::NotOk => writeln!(
            s,
            "BLOCKED: host {h} of pool {} cannot be drained with the pool still tolerating {k}",
            r.pool
        ),
        Verdict::Undecided => writeln!(
            s,
            "UNDECIDED: whether host {h} of pool {} can be drained with the pool still tolerating {k} is not proved either way",
            r.pool
        ),
    };
    match &r.outcome {
        drain::Outcome::Drainable { moves, method, end } => {
            if moves.is_empty() {
                let _ = writeln!(s, "No migration: {}.", method_words(*method));
            } else {
                let _ = writeln!(
                    s,
                    "Migrations ({}, largest VM first), {}:",
                    moves.len(),
                    method_words(*method)
                );
                let width = moves
                    .iter()
                    .map(|m| pool.vms[m.vm].name.len())
                    .max()
                    .unwrap_or(0);
                for m in moves {
                    let _ = writeln!(
                        s,
                        "  {:<width$}  {} -> {}",
                        pool.vms[m.vm].name, pool.hosts[m.from].name, pool.hosts[m.to].name
                    );
                }
            }
            let _ = writeln!(
                s,
                "After the drain the pool tolerates {} (K = {}).",
                tolerance_words(end),
                r.tolerate
            );
        }
        drain::Outcome::Undecided { .. } => {
            let _ = writeln!(s, "Reason: {}.", drain_reason(pool, r));
        }
        drain::Outcome::Blocked(b) => {
            let _ = writeln!(s, "Reason: {}.", drain_reason(pool, r));
            match b {
                drain::Blocked::NoTarget(stuck) => {
                    for st in stuck {
                        let _ = writeln!(s, "  {}:", pool.vms[st.vm].name);
                        if st.hosts.is_empty() {
                            let _ = writeln!(s, "    there is no other host");
                        }
                        for hb in &st.hosts {
                            let _ = writeln!(s, "    {} {}", pool.hosts[hb.host].name, hb.reason);
                        }
                    }
                }
                drain::Blocked::Relaxation(drain::Failure::Witness(w)) => {
                    if !w.failed.is_empty() {
                        let hosts: Vec<&str> = w
                            .failed
                            .iter()
                            .map(|&x| pool.hosts[x].name.as_str())
                            .collect();
                        let _ = writeln!(
                            s,
                            "Worst failure set: {} ({})",
                            hosts.join(", "),
                            plural(hosts.len(), "host", "hosts")
                        );
                    }
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
                drain::Blocked::Relaxation(drain::Failure::NotAgile(na)) => {
                    let _ = writeln!(
                        s,
                        "Protected VMs that are not agile with {h} in maintenance:"
                    );
                    for n in na {
                        let _ = writeln!(s, "  {}: {}", pool.vms[n.vm].name, n.reasons.join("; "));
                    }
                }
                _ => {}
            }
        }
    }
    let _ = writeln!(
        s,
        "Ran {} in {} ms.",
        plural(r.stats.checks, "tolerance check", "tolerance checks"),
        r.stats.elapsed.as_millis()
    );
    s
}

// ---- tiers ----

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "Tiers")]
pub(crate) struct TiersJson<'a> {
    pool: &'a str,
    configured: u32,
    /// `"host"`, or `"domain"` when k counts failure domains.
    unit: &'static str,
    max_tolerable: Option<u32>,
    ok: bool,
    exact: bool,
    #[schemars(with = "VerdictName")]
    verdict: &'static str,
    tiers: Vec<TierJson<'a>>,
    degradation: Vec<DegradationJson<'a>>,
    not_agile: Vec<NotAgileJson<'a>>,
    warnings: &'a [String],
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "Tier")]
struct TierJson<'a> {
    #[schemars(with = "PriorityName")]
    priority: Priority,
    vms: usize,
    max_tolerable: u32,
    upper_bound: u32,
    exact: bool,
    ok: bool,
    witness: Option<WitnessJson<'a>>,
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "Degradation")]
struct DegradationJson<'a> {
    failures: u32,
    #[schemars(with = "Vec<PriorityName>")]
    safe_tiers: Vec<Priority>,
    #[schemars(with = "Vec<PriorityName>")]
    lost_tiers: Vec<Priority>,
    #[schemars(with = "Vec<PriorityName>")]
    undecided_tiers: Vec<Priority>,
    at_risk: Vec<&'a str>,
    example: Option<ExampleJson<'a>>,
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "Example")]
struct ExampleJson<'a> {
    failed_hosts: Vec<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    failed_domains: Option<Vec<&'a str>>,
    stranded: Vec<&'a str>,
}

fn names<'a>(pool: &'a Pool, vms: &[usize]) -> Vec<&'a str> {
    vms.iter().map(|&v| pool.vms[v].name.as_str()).collect()
}

fn host_names<'a>(pool: &'a Pool, hosts: &[usize]) -> Vec<&'a str> {
    hosts.iter().map(|&h| pool.hosts[h].name.as_str()).collect()
}

fn domain_names<'a>(r: &'a CheckReport, failed: &[usize]) -> Option<Vec<&'a str>> {
    r.failure_domains.as_ref().map(|d| {
        haplan::domains::covering(d, failed)
            .into_iter()
            .map(|i| d[i].name.as_str())
            .collect()
    })
}

fn priorities(ps: &[Priority]) -> Vec<Priority> {
    ps.to_vec()
}

/// Priorities for people: `critical, high`.
fn priority_words(ps: &[Priority]) -> String {
    let words: Vec<String> = ps.iter().map(|p| p.to_string()).collect();
    words.join(", ")
}

/// `haplan tiers` as the JSON object of `docs/cli.md`.
pub fn tiers_json(pool: &Pool, r: &TiersReport) -> Value {
    let lowest = r.tiers.last().map(|t| &t.report);
    let empty: &[String] = &[];
    let json = TiersJson {
        pool: &r.pool,
        configured: r.configured,
        unit: if r.domains() { "domain" } else { "host" },
        max_tolerable: lowest.map(|l| l.max_tolerable),
        ok: r.ok(),
        exact: r.exact,
        verdict: verdict_str(tiers_verdict(r)),
        tiers: r
            .tiers
            .iter()
            .map(|t| TierJson {
                priority: t.priority,
                vms: t.vms.len(),
                max_tolerable: t.report.max_tolerable,
                upper_bound: t.report.upper_bound,
                exact: t.report.exact,
                ok: t.report.ok(),
                witness: t
                    .report
                    .witness
                    .as_ref()
                    .map(|w| witness_json(pool, t.report.failure_domains.as_deref(), w)),
            })
            .collect(),
        degradation: r
            .degradation
            .iter()
            .map(|d| DegradationJson {
                failures: d.k,
                safe_tiers: priorities(&d.safe),
                lost_tiers: priorities(&d.lost),
                undecided_tiers: priorities(&d.undecided),
                at_risk: names(pool, &d.at_risk),
                example: d.example.as_ref().map(|(failed, stranded)| ExampleJson {
                    failed_hosts: host_names(pool, failed),
                    failed_domains: lowest.and_then(|l| domain_names(l, failed)),
                    stranded: names(pool, stranded),
                }),
            })
            .collect(),
        not_agile: lowest.map_or_else(Vec::new, |l| {
            l.not_agile
                .iter()
                .map(|n| NotAgileJson {
                    vm: &pool.vms[n.vm].name,
                    reasons: &n.reasons,
                })
                .collect()
        }),
        warnings: lowest.map_or(empty, |l| &l.warnings),
    };
    serde_json::to_value(json).expect("serializable")
}

/// `haplan tiers` for people: one line per tier, then the degradation table.
pub fn tiers_text(pool: &Pool, r: &TiersReport) -> String {
    let mut s = String::new();
    let Some(lowest) = r.tiers.last().map(|t| &t.report) else {
        let _ = writeln!(
            s,
            "OK: pool {} has no protected running VM: nothing to restart in any failure",
            r.pool
        );
        return s;
    };
    let unit = if r.domains() { "domain" } else { "host" };
    let _ = writeln!(
        s,
        "{}: pool {} tolerates {} (configured: {})",
        verdict_words(lowest),
        r.pool,
        tolerance_words(lowest),
        r.configured
    );
    let _ = writeln!(
        s,
        "Tolerance by restart priority (each tier with the tiers above it):"
    );
    for t in &r.tiers {
        let tol = tolerance_words(&t.report);
        let _ = writeln!(
            s,
            "  {:<9} {:<8} {tol}",
            t.priority.as_str(),
            plural(t.vms.len(), "VM", "VMs"),
        );
    }
    if !r.degradation.is_empty() {
        let _ = writeln!(
            s,
            "Beyond {}:",
            plural(
                lowest.max_tolerable,
                &format!("{unit} failure"),
                &format!("{unit} failures")
            )
        );
    }
    for d in &r.degradation {
        let mut line = format!(
            "  {}: ",
            plural(d.k, &format!("{unit} failure"), &format!("{unit} failures"))
        );
        if d.safe.is_empty() {
            line.push_str("no tier is safe");
        } else {
            let _ = write!(line, "{} still restart", priority_words(&d.safe));
        }
        if !d.lost.is_empty() {
            let _ = write!(
                line,
                "; at risk: {} of {} ({})",
                plural(d.at_risk.len(), "VM", "VMs"),
                priority_words(&d.lost),
                names(pool, &d.at_risk).join(", ")
            );
        }
        if !d.undecided.is_empty() {
            let _ = write!(line, "; undecided: {}", priority_words(&d.undecided));
        }
        let _ = writeln!(s, "{line}");
        if let Some((failed, stranded)) = &d.example {
            let set = match domain_names(lowest, failed) {
                Some(dn) => format!(
                    "{} ({})",
                    dn.join(", "),
                    host_names(pool, failed).join(", ")
                ),
                None => host_names(pool, failed).join(", "),
            };
            let _ = writeln!(
                s,
                "    e.g. {set} fail: {} stranded ({})",
                plural(stranded.len(), "VM", "VMs"),
                names(pool, stranded).join(", ")
            );
        }
    }
    if !r.exact {
        let _ = writeln!(
            s,
            "The time limit ran out: bounds are proved, the rest is undecided."
        );
    }
    not_agile_and_warnings(&mut s, pool, lowest);
    s
}

// ---------------------------------------------------------------------------
// timing

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
                w.unplaced
                    .iter()
                    .map(|&v| pool.vms[v].name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
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
