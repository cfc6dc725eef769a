//! `check` and `agility`: their JSON and text.

use super::*;

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
pub(super) struct BrokenJson<'a> {
    /// `"group"` (a soft `vm_groups` entry) or `"preferred_hosts"`.
    rule: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    group: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    vm: Option<&'a str>,
    reason: &'a str,
}

pub(super) fn broken_json<'a>(pool: &'a Pool, b: &'a BrokenRule) -> BrokenJson<'a> {
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
pub(super) struct WitnessJson<'a> {
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

/// A witness; `domains` (the pool's failure domains, when it has them)
/// name the domains its hosts make up.
pub(super) fn witness_json<'a>(
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

/// `2 host failures`, or `between 1 and 3 host failures` when not exact.
/// `2 domain failures` when k counts failure domains.
pub(super) fn tolerance_words(r: &CheckReport) -> String {
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
pub(super) fn verdict_words(r: &CheckReport) -> &'static str {
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
pub(super) fn not_agile_and_warnings(s: &mut String, pool: &Pool, r: &CheckReport) {
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
                name_list(&vms)
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

/// The rows of `haplan agility`: the protected running or paused VMs in
/// file order, each with its index, and its reasons when not agile.
pub fn agility_rows<'a>(
    pool: &'a Pool,
    ag: &'a haplan::agility::Agility,
) -> Vec<(usize, &'a haplan::model::Vm, Option<&'a [String]>)> {
    // `not_agile` is in file order: one search per VM, not a scan.
    pool.vms
        .iter()
        .enumerate()
        .filter(|(_, v)| v.restart == haplan::model::Restart::Protected && v.power.is_active())
        .map(|(v, vm)| {
            let reasons = ag
                .not_agile
                .binary_search_by_key(&v, |n| n.vm)
                .ok()
                .map(|i| ag.not_agile[i].reasons.as_slice());
            (v, vm, reasons)
        })
        .collect()
}

/// `haplan agility` as JSON: for every protected running or paused VM, the
/// hosts it could restart on, or every reason why none.
pub fn agility_json(pool: &Pool, ag: &haplan::agility::Agility) -> Value {
    serde_json::to_value(agility_answer(pool, ag)).expect("serializable")
}

/// [`agility_json`] as the text printed (pretty, and a last newline),
/// written straight from the pool: the hosts of each VM are not gathered
/// first, so that the memory it takes is that of the text alone (a pool of
/// many hosts and VMs has as many targets as their product).
pub fn agility_json_text(pool: &Pool, ag: &haplan::agility::Agility) -> String {
    let mut out = Vec::new();
    // Only a hint: when the memory is not there, the buffer grows instead.
    let _ = out.try_reserve_exact(agility_size(pool, ag, true));
    json_text_into(&agility_answer(pool, ag), out)
}

/// At least the size of `agility`'s answer (`json`: the JSON text, else
/// the text for people), give or take its first lines, found without
/// writing it: an answer of gigabytes is then written into one buffer, not
/// grown by copies that hold the old buffer and the new one at once. Each
/// VM's targets are counted by the names of the hosts passing its
/// requirement (a few more than its targets), summed once per requirement
/// (in the text, at most what [`TEXT_NAMES`] names take).
fn agility_size(pool: &Pool, ag: &haplan::agility::Agility, json: bool) -> usize {
    let json_len = |s: &str| serde_json::to_string(s).map_or(6 * s.len() + 2, |j| j.len());
    // Per target: the name as JSON, a comma, a line break and 8 spaces of
    // indent; or the name and ", ".
    let per_host: Vec<usize> = pool
        .hosts
        .iter()
        .map(|h| {
            if json {
                json_len(&h.name) + 10
            } else {
                h.name.len() + 2
            }
        })
        .collect();
    // The text names at most [`TEXT_NAMES`] hosts a VM, and a count.
    let longest = pool
        .hosts
        .iter()
        .map(|h| h.name.len() + 2)
        .max()
        .unwrap_or(0);
    let text_cap = if json {
        usize::MAX
    } else {
        (TEXT_NAMES + 1).saturating_mul(longest).saturating_add(96)
    };
    let mut of_requirement: std::collections::HashMap<*const usize, usize> =
        std::collections::HashMap::new();
    agility_rows(pool, ag)
        .into_iter()
        .map(|(v, vm, reasons)| {
            let hosts = ag.targets.candidates(v);
            let targets = *of_requirement.entry(hosts.as_ptr()).or_insert_with(|| {
                if !json && hosts.len() > TEXT_NAMES {
                    // The other up hosts it may not use may be named
                    // instead, whatever their names: the cap bounds both.
                    text_cap
                } else {
                    hosts
                        .iter()
                        .fold(0usize, |n, &h| n.saturating_add(per_host[h]))
                }
            });
            let reasons = reasons
                .unwrap_or_default()
                .iter()
                .fold(0usize, |n, r| n.saturating_add(json_len(r) + 10));
            // The row's keys, braces, brackets and indent: 125 bytes.
            [160, json_len(&vm.name), per_host[vm.host], reasons, targets]
                .into_iter()
                .fold(0usize, usize::saturating_add)
        })
        .fold(256 + json_len(&pool.name), usize::saturating_add)
}

/// [`agility_json`] as compact JSON text (the C ABI's answer), written
/// straight from the pool as [`agility_json_text`] is.
pub fn agility_json_compact(pool: &Pool, ag: &haplan::agility::Agility) -> String {
    serde_json::to_string(&agility_answer(pool, ag)).expect("serializable")
}

fn agility_answer<'a>(pool: &'a Pool, ag: &'a haplan::agility::Agility) -> AgilityJson<'a> {
    let vms = agility_rows(pool, ag)
        .into_iter()
        .map(|(v, vm, reasons)| AgileJson {
            vm: &vm.name,
            host: &pool.hosts[vm.host].name,
            agile: ag.is_agile(v),
            targets: TargetNames { pool, ag, vm: v },
            reasons: reasons.unwrap_or_default(),
        })
        .collect();
    AgilityJson {
        pool: &pool.name,
        verdict: verdict_str(agility_verdict(ag)),
        vms,
    }
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
    #[schemars(with = "Vec<String>")]
    targets: TargetNames<'a>,
    reasons: &'a [String],
}

/// The names of the hosts a VM may restart on, serialized as they are
/// found (a list of strings).
struct TargetNames<'a> {
    pool: &'a Pool,
    ag: &'a haplan::agility::Agility,
    vm: usize,
}

impl Serialize for TargetNames<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(
            self.ag
                .targets
                .of(self.vm)
                .map(|h| self.pool.hosts[h].name.as_str()),
        )
    }
}

/// `haplan agility` for people: a verdict line, then one line per VM.
pub fn agility_text(pool: &Pool, ag: &haplan::agility::Agility) -> String {
    let mut s = String::new();
    let _ = s.try_reserve_exact(agility_size(pool, ag, false));
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
                let _ = write!(s, "  {}: ", vm.name);
                let n = ag.targets.of(v).count();
                if n <= TEXT_NAMES {
                    for (i, h) in ag.targets.of(v).enumerate() {
                        if i > 0 {
                            s.push_str(", ");
                        }
                        s.push_str(&pool.hosts[h].name);
                    }
                } else {
                    many_targets(&mut s, pool, ag, v, n);
                }
                s.push('\n');
            }
        }
    }
    s
}

/// The targets of a VM with more than [`TEXT_NAMES`] of them, for people:
/// `996 hosts: every other host that is up but h7, h9` when those it may
/// not restart on are few, else the first names and how many more.
fn many_targets(s: &mut String, pool: &Pool, ag: &haplan::agility::Agility, v: usize, n: usize) {
    let own = pool.vms[v].host;
    let up = |h: usize| pool.hosts[h].state == haplan::model::HostState::Up;
    // The targets ascend: one walk over the hosts finds the others.
    let mut targets = ag.targets.of(v).peekable();
    let mut missing: Vec<&str> = Vec::new();
    let mut outside = false;
    for h in 0..pool.hosts.len() {
        let target = targets.next_if_eq(&h).is_some();
        let other_up = h != own && up(h);
        if other_up && !target {
            missing.push(&pool.hosts[h].name);
        }
        outside |= target && !other_up;
    }
    let _ = write!(s, "{} hosts: ", haplan::error::thousands(n));
    if outside || missing.len() > TEXT_NAMES {
        let names = ag.targets.of(v).map(|h| pool.hosts[h].name.as_str());
        s.push_str(&first_names(names, n));
    } else if missing.is_empty() {
        s.push_str("every other host that is up");
    } else {
        let _ = write!(s, "every other host that is up but {}", missing.join(", "));
    }
}

fn is_true(b: &bool) -> bool {
    *b
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A VM with more than `TEXT_NAMES` targets: the text says how many,
    /// and either names the other up hosts it may not restart on, when
    /// they are few, or the first targets and how many more; the JSON
    /// lists every target. And the size found beforehand still holds.
    #[test]
    fn agility_text_names_few_hosts_a_vm() {
        let hosts: Vec<Value> = (0..50)
            .map(|i| json!({"name": format!("h{i:02}"), "capacity": {"memory_mib": 1024}}))
            .chain([json!({"name": "m", "capacity": {"memory_mib": 1024}, "state": "maintenance"})])
            .collect();
        let allowed: Vec<String> = (0..25).map(|i| format!("h{i:02}")).collect();
        let vm = |name: &str, host: &str| json!({"name": name, "host": host, "demand": {"memory_mib": 64}});
        let mut b = vm("b", "h01");
        b["anti_affinity"] = json!("g");
        let mut c = vm("c", "h02");
        c["anti_affinity"] = json!("g");
        let mut e = vm("e", "h00");
        e["allowed_hosts"] = json!(allowed);
        let value = json!({"name": "wide", "hosts": hosts, "vms": [vm("a", "h00"), b, c, e]});
        let pool = haplan::pool_from_value(&value).unwrap();
        let ag = haplan::agility::Agility::of(&pool);
        let text = agility_text(&pool, &ag);
        let line = |v: &str| {
            text.lines()
                .find(|l| l.starts_with(&format!("  {v}: ")))
                .unwrap_or_else(|| panic!("no line for {v}: {text}"))
                .to_string()
        };
        assert_eq!(line("a"), "  a: 49 hosts: every other host that is up");
        assert_eq!(
            line("b"),
            "  b: 48 hosts: every other host that is up but h02"
        );
        let first: Vec<String> = (1..21).map(|i| format!("h{i:02}")).collect();
        assert_eq!(
            line("e"),
            format!(
                "  e: 24 hosts: {} and 4 more: --format json lists them all",
                first.join(", ")
            )
        );
        let json = agility_json(&pool, &ag);
        let targets = |v: usize| json["vms"][v]["targets"].as_array().unwrap().len();
        assert_eq!((targets(0), targets(1), targets(3)), (49, 48, 24));
        assert!(agility_size(&pool, &ag, false) >= text.len());
    }

    /// The size `agility`'s answers are written into is at least their
    /// own, JSON and text, with names that need escaping, VMs that are not
    /// agile (their reasons) and VMs with few targets: no answer outgrows
    /// its buffer into copies. And not by much: a host that is no VM's
    /// target counts for nothing, however long its name.
    #[test]
    fn agility_answers_fit_the_size_found_beforehand() {
        let mut value: Value = serde_json::from_str(include_str!(
            "../../../../fixtures/constraints/not-agile.json"
        ))
        .unwrap();
        // Twelve more hosts, with long names that JSON escapes (quotes,
        // backslashes), not ASCII, each running a VM that may restart on
        // any of the others: escaping adds more to each row than its slack.
        let name = |h: usize| format!("x{h}-é{}", "\"\\".repeat(40));
        for h in 0..12 {
            value["hosts"]
                .as_array_mut()
                .unwrap()
                .push(serde_json::json!({"name": name(h), "capacity": {"memory_mib": 1024}, "networks": ["prod"]}));
            value["vms"].as_array_mut().unwrap().push(
                serde_json::json!({"name": format!("v{h}"), "host": name(h), "demand": {"memory_mib": 1}, "networks": ["prod"]}),
            );
        }
        // And one host with a very long name on no network, so no VM's
        // target: it does not make every other target count as long.
        value["hosts"].as_array_mut().unwrap().push(
            serde_json::json!({"name": "y".repeat(5000), "capacity": {"memory_mib": 1024}, "networks": []}),
        );
        let pool = haplan::pool_from_value(&value).unwrap();
        let ag = haplan::agility::Agility::of(&pool);
        assert!(!ag.not_agile.is_empty());
        let size = agility_size(&pool, &ag, true);
        let json = agility_json_text(&pool, &ag);
        assert!(json.contains(r#"x1-é\"\\"#), "{json}");
        assert!(size >= json.len(), "{size} < {}", json.len());
        assert!(size < 2 * json.len(), "{size} >= 2 x {}", json.len());
        assert!(agility_size(&pool, &ag, false) >= agility_text(&pool, &ag).len());
    }
}
