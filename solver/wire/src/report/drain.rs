//! `drain`: its JSON and text.

use super::*;

use haplan::drain::{self, DrainReport};

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
                            name_list(&vms)
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
