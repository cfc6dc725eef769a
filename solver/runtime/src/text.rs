//! The runtime's steps in words, for people watching a failover.

use haplan::words::plural;

use super::{Action, Alert, Event, Input, Note, Output};

/// A step's time: seconds since the start of a simulation, or the UTC time
/// of day when times are wall-clock Unix milliseconds (`haplan run --driver
/// libvirt`).
fn secs(ms: u64) -> String {
    if ms >= 1_000_000_000_000 {
        let t = super::log::utc(ms);
        format!("{:>10}", &t[11..23])
    } else {
        format!("{:>9.3}s", ms as f64 / 1000.0)
    }
}

/// The lines that tell what one step saw and did. Routine steps (a probe
/// answered "up", a tick with nothing due) give none unless `verbose`.
pub fn step_lines(input: &Input, output: &Output, verbose: bool) -> Vec<String> {
    let routine = matches!(input.event, Event::Tick | Event::HealthCheck { .. })
        && output.alerts.is_empty()
        && output.notes.is_empty()
        && output
            .actions
            .iter()
            .all(|a| matches!(a, Action::Probe { .. }));
    if routine && !verbose {
        return Vec::new();
    }
    let t = secs(input.at);
    let mut lines = vec![format!("{t}  <- {}", event(&input.event))];
    let pad = " ".repeat(t.len());
    for n in &output.notes {
        lines.push(format!("{pad}     {}", note(n)));
    }
    for a in &output.alerts {
        lines.push(format!("{pad}  !! {}", alert(a)));
    }
    for a in &output.actions {
        if verbose || !matches!(a, Action::Probe { .. }) {
            lines.push(format!("{pad}  -> {}", action(a)));
        }
    }
    lines
}

/// An event in words (`probe of r1: no answer`).
pub fn event(e: &Event) -> String {
    match e {
        Event::Tick => "tick".into(),
        Event::VmStarted { vm, host, .. } => format!("{vm} started on {host}"),
        Event::VmStopped { vm } => format!("{vm} stopped"),
        Event::VmCrashed { vm } => format!("{vm} crashed"),
        Event::VmMigrated { vm, host } => format!("{vm} migrated to {host}"),
        Event::VmResized { vm, .. } => format!("{vm} resized"),
        Event::VmPriorityChanged { vm, .. } => format!("{vm} restart settings changed"),
        Event::HostAdded { host } => format!(
            "host {} added",
            host.get("name").and_then(|n| n.as_str()).unwrap_or("?")
        ),
        Event::HostRemoved { host } => format!("host {host} removed"),
        Event::HostUp { host } => format!("host {host} reported up"),
        Event::HostDown { host } => format!("host {host} reported down"),
        Event::HostMaintenance { host, enter: true } => format!("maintenance asked for {host}"),
        Event::HostMaintenance { host, enter: false } => format!("maintenance of {host} ends"),
        Event::HealthCheck {
            host, ping, api, ..
        } => match (ping, api) {
            (true, true) => format!("probe of {host}: up"),
            (true, false) => format!("probe of {host}: ping answers, API does not"),
            _ => format!("probe of {host}: no answer"),
        },
        Event::PeerCheck {
            host,
            peer,
            error: Some(e),
            ..
        } => format!("{peer} cannot tell whether it reaches {host}: {e}"),
        Event::PeerCheck {
            host,
            peer,
            reachable,
            ..
        } => format!(
            "{peer} {} {host}",
            if *reachable {
                "still reaches"
            } else {
                "cannot reach"
            }
        ),
        Event::FenceResult {
            host, off, error, ..
        } => {
            if *off {
                format!("fence of {host}: confirmed off")
            } else {
                format!(
                    "fence of {host} failed: {}",
                    error.as_deref().unwrap_or("no confirmation")
                )
            }
        }
        Event::FenceConfirmed { host } => format!("an operator confirms {host} is off"),
        Event::VmStartResult {
            vm,
            host,
            in_doubt: true,
            error,
            ..
        } => format!(
            "start of {vm} on {host}: outcome unknown ({})",
            error.as_deref().unwrap_or("no answer")
        ),
        Event::VmStopResult {
            vm,
            host,
            ok,
            error,
            ..
        } => {
            if *ok {
                format!("the copy of {vm} on {host} is stopped")
            } else {
                format!(
                    "stopping the copy of {vm} on {host} failed: {}",
                    error.as_deref().unwrap_or("failed")
                )
            }
        }
        Event::VmStartResult {
            vm,
            host,
            ok,
            error,
            ..
        } => {
            if *ok {
                format!("{vm} runs on {host}")
            } else {
                format!(
                    "start of {vm} on {host} failed: {}",
                    error.as_deref().unwrap_or("failed")
                )
            }
        }
        Event::MigrateResult {
            vm,
            host,
            ok,
            error,
            ..
        } => {
            if *ok {
                format!("{vm} migrated to {host}")
            } else {
                format!(
                    "migration of {vm} to {host} failed: {}",
                    error.as_deref().unwrap_or("failed")
                )
            }
        }
        Event::VmStatus {
            vm, host, error, ..
        } => match (host, error) {
            (_, Some(e)) => format!("where {vm} runs is unknown: {e}"),
            (Some(h), None) => format!("{vm} is found on {h}"),
            (None, None) => format!("{vm} runs nowhere"),
        },
        Event::Inventory {
            host, vms, error, ..
        } => match error {
            Some(e) => format!("{host} cannot list its VMs: {e}"),
            None => format!("{host} runs {}", plural(vms.len(), "VM", "VMs")),
        },
        Event::ConfigChanged { .. } => "HA settings changed".into(),
        Event::OperationProceeded { .. } => {
            "an operator proceeds despite the admission check".into()
        }
        Event::Restarted => "the runtime restarted from its log".into(),
    }
}

/// An action in words (`fence r1 with fence_ipmilan (level 1)`).
pub fn action(a: &Action) -> String {
    match a {
        Action::Probe { host, .. } => format!("probe {host}"),
        Action::StopVm { vm, host, .. } => format!("stop the copy of {vm} on {host}"),
        Action::AskPeer { host, peer, .. } => format!("ask {peer} whether it reaches {host}"),
        Action::Fence {
            host, level, agent, ..
        } => format!("fence {host} with {agent} (level {})", level + 1),
        Action::StartVm {
            vm, host, attempt, ..
        } => {
            if *attempt == 1 {
                format!("start {vm} on {host}")
            } else {
                format!("start {vm} on {host} (attempt {attempt})")
            }
        }
        Action::Migrate { vm, from, to, .. } => format!("migrate {vm} from {from} to {to}"),
        Action::QueryVm { vm, .. } => format!("find where {vm} runs"),
        Action::Inventory { host, .. } => format!("list the VMs of {host}"),
    }
}

/// A note in words.
pub fn note(n: &Note) -> String {
    match n {
        Note::Tolerance {
            configured,
            max_tolerable,
            upper_bound: None,
        } => format!(
            "the pool now tolerates {} (configured {configured})",
            plural(*max_tolerable, "host failure", "host failures")
        ),
        Note::Tolerance {
            configured,
            max_tolerable,
            upper_bound: Some(upper),
        } => format!(
            "the pool now tolerates at least {} and at most {upper}, undecided within the check budget (configured {configured})",
            plural(*max_tolerable, "host failure", "host failures")
        ),
        Note::HostSuspect { host, failures } => {
            format!(
                "{host} missed {} in a row",
                plural(*failures, "probe", "probes")
            )
        }
        Note::HostDeclaredDown {
            host,
            majority: Some([r, n]),
            ..
        } => {
            format!("{host} declared down ({r} of the {n} hosts not known off answer, it does not)")
        }
        Note::HostDeclaredDown {
            host, confirmed_by, ..
        } => match confirmed_by {
            Some(p) => format!("{host} declared down ({p} cannot reach it either)"),
            None => format!("{host} declared down"),
        },
        Note::FenceFailed {
            host,
            level,
            agent,
            error,
        } => format!(
            "fence level {} ({agent}) of {host} failed: {error}",
            level + 1
        ),
        Note::HostFenced { host, agent } => match agent {
            Some(a) => format!("{host} is confirmed off by {a}: its VMs may now run elsewhere"),
            None => format!("{host} is confirmed off: its VMs may now run elsewhere"),
        },
        Note::HostUp { host } => format!("{host} is back"),
        Note::Plan {
            placements,
            unplaced,
            leaves_tolerance,
        } => {
            let mut s = format!(
                "plan: {}",
                placements
                    .iter()
                    .map(|(v, h)| format!("{v} -> {h}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            if placements.is_empty() {
                s = "plan: nothing can be placed".into();
            }
            if !unplaced.is_empty() {
                s += &format!("; no room for {}", unplaced.join(", "));
            }
            s + &format!(" (leaves a tolerance of {leaves_tolerance})")
        }
        Note::VmRestarted { vm, host, attempt } => {
            format!("{vm} restarted on {host} (attempt {attempt})")
        }
        Note::VmStartFailed {
            vm,
            host,
            attempt,
            error,
        } => format!("attempt {attempt} to start {vm} on {host} failed: {error}"),
        Note::VmGivenUp { vm } => format!("{vm} (best effort) is not restarted"),
        Note::VmMigrated { vm, host } => format!("{vm} now runs on {host}"),
        Note::VmFound { vm, host } => match host {
            Some(h) => format!("{vm} found running on {h}"),
            None => format!("{vm} found running nowhere"),
        },
        Note::MaintenanceReady { host } => format!("{host} is empty and in maintenance"),
        Note::DrainBlocked { host, reason } => format!("{host} cannot be drained: {reason}"),
        Note::Proceeded { operation } => format!(
            "proceeding with {} despite the admission check",
            serde_json::to_string(operation).unwrap_or_default()
        ),
        Note::Ignored { reason } => format!("ignored: {reason}"),
        Note::HostReturning { host } => {
            format!("{host} answers again: its VMs are listed before it counts as up")
        }
        Note::DuplicateSuspected { vm, hosts } => format!(
            "{vm} may run on {}: they are asked again",
            hosts.join(" and ")
        ),
        Note::DuplicateStopped { vm, host } => format!("the copy of {vm} on {host} is stopped"),
        Note::IsolationEnded => "half of the hosts answer again".into(),
        Note::Reconciled => "every host that answers was inventoried: acting again".into(),
        Note::VmResizedSeen { vm, host, .. } => {
            format!("{host} lists {vm} with other amounts than the record: taken")
        }
        Note::VmInDoubt { vm, host } => match host {
            Some(h) => format!("{vm} is in doubt (its start on {h} has no known outcome)"),
            None => format!("{vm} is in doubt: looked for"),
        },
        Note::LandingRuledOut { vm, host } => format!(
            "{vm} runs nowhere and its unanswered start or migration to {host} can no longer land: restarted as found nowhere"
        ),
        Note::LandingSeen { vm, host } => format!(
            "{vm} runs on {host} and its unanswered start there is past its deadline: it may be moved again"
        ),
    }
}

/// An alert in words, as an operator reads it.
pub fn alert(a: &Alert) -> String {
    match a {
        Alert::Overcommitted {
            configured,
            max_tolerable,
            failed_hosts,
            stranded_vms,
            reason,
        } => {
            let set = if failed_hosts.is_empty() {
                "even with no further failure".to_string()
            } else {
                format!("if {} fail", failed_hosts.join(", "))
            };
            format!(
                "OVERCOMMITTED: tolerates {max_tolerable} of {configured} host failures; {set}, {} cannot restart: {reason}",
                if stranded_vms.is_empty() {
                    "some VMs".to_string()
                } else {
                    stranded_vms.join(", ")
                }
            )
        }
        Alert::ToleranceDropped { from, to } => format!("tolerance dropped from {from} to {to}"),
        Alert::ZeroTolerable => "not even one host failure is tolerated".into(),
        Alert::ToleranceUndecided {
            configured,
            lower,
            upper,
            ..
        } => format!(
            "tolerance undecided within the check budget: at least {lower}, at most {upper} (configured {configured}); neither guaranteed nor proved short"
        ),
        Alert::PlanRestored {
            configured,
            max_tolerable,
        } => format!("plan restored: tolerates {max_tolerable} (configured {configured})"),
        Alert::NotAgile { vm, reasons } => {
            format!(
                "protected VM {vm} cannot restart elsewhere: {}",
                reasons.join("; ")
            )
        }
        Alert::RestartFailed {
            vm,
            attempts,
            reason,
        } => format!("protected VM {vm} could not be restarted ({attempts} attempts): {reason}"),
        Alert::FencingFailed {
            host,
            round,
            retry_at,
            reason,
            vms,
        } => format!(
            "fencing {host} failed (round {round}: {reason}); {} stay down; retry at {}",
            if vms.is_empty() {
                "its VMs".to_string()
            } else {
                vms.join(", ")
            },
            secs(*retry_at).trim()
        ),
        Alert::HostUnreachable { host, peer } => {
            format!(
                "{host} is unreachable from here but {peer} still reaches it: nothing is restarted"
            )
        }
        Alert::RuntimeIsolated {
            reachable,
            hosts,
            unreachable,
        } => format!(
            "ISOLATED: only {reachable} of {hosts} hosts answer (not {}): the runtime takes itself for the cut-off side and fences nothing",
            unreachable.join(", ")
        ),
        Alert::HostUnconfirmed { host, reason } => format!("{host} not declared down: {reason}"),
        Alert::DuplicateVm { vm, hosts, kept } => format!(
            "DUPLICATE: {vm} runs on {}; the copy on {kept} is kept, the others are stopped",
            hosts.join(" and ")
        ),
        Alert::VmsInDoubt { vms } => format!(
            "where {} run{} is not known: not started anywhere until found or their host is confirmed off",
            vms.join(", "),
            if vms.len() == 1 { "s" } else { "" }
        ),
        Alert::MigrationInDoubt { vm, from, to } => format!(
            "the migration of {vm} from {from} to {to} got no answer: {vm} may run on either (do not power {from} off); looked for"
        ),
        Alert::RequestUnanswered { action: a } => {
            format!("no answer in time to: {}", action(a))
        }
        Alert::StartWithheld { vm, host, reason } => format!(
            "start of {vm} on {host} withheld: {reason}; looked for until where it runs is known"
        ),
        Alert::ReconcileIncomplete { hosts } => format!(
            "acting without an inventory of {} (they answer probes, not inventories)",
            hosts.join(", ")
        ),
        Alert::HostLost { host, vms } => format!(
            "{host} is down and HA mode \"vm\" has no host failover: {} stay down",
            if vms.is_empty() {
                "its VMs".to_string()
            } else {
                vms.join(", ")
            }
        ),
    }
}
