//! Agility: where a VM could be restarted, and why nowhere when that is so.
//!
//! This is the static part of a restart target's eligibility (storage,
//! networks, local devices, `allowed_hosts`, `standby_only`, strict apart
//! rules with their members already running there: anti-affinity, and
//! `vm_groups` with a `max_per_host`). Capacity and which hosts have failed are
//! the scenario's business, not agility's.

use std::collections::{BTreeSet, HashMap};

use crate::model::*;

/// A protected VM that cannot be restarted on any other host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotAgile {
    pub vm: VmId,
    /// Every reason, in words a pool admin understands.
    pub reasons: Vec<String>,
}

/// Per-VM agility facts for a whole pool.
#[derive(Clone, Debug)]
pub struct Agility {
    /// For every VM, the hosts it may restart on (empty for halted VMs).
    pub targets: Vec<Vec<HostId>>,
    /// Protected running or paused VMs with no target, in file order.
    pub not_agile: Vec<NotAgile>,
}

impl Agility {
    pub fn of(pool: &Pool) -> Agility {
        let targets = targets(pool, false);
        let not_agile = (0..pool.vms.len())
            .filter(|&v| {
                let vm = &pool.vms[v];
                vm.restart == Restart::Protected && vm.power.is_active() && targets[v].is_empty()
            })
            .map(|v| NotAgile {
                vm: v,
                reasons: reasons(pool, v),
            })
            .collect();
        Agility { targets, not_agile }
    }

    pub fn is_agile(&self, vm: VmId) -> bool {
        !self.targets[vm].is_empty()
    }
}

/// For every VM, the hosts it may restart on (empty for halted VMs): the
/// rules of [`eligible_vm`], not its own host, and for every apart rule of
/// the VM that binds, fewer than its `max_per_host` other running members
/// on the host. With `soft`, soft apart rules bind too and a VM with
/// `preferred_hosts` may restart only there (the targets of soft rules
/// taken as strict).
pub(crate) fn targets(pool: &Pool, soft: bool) -> Vec<Vec<HostId>> {
    // Per binding apart rule, the hosts where its running members reach
    // its cap (sorted): a host other than the VM's own is blocked exactly
    // when it is listed.
    let rules = pool.group_rules();
    let mut crowded: Vec<Vec<HostId>> = vec![Vec::new(); rules.len()];
    let mut rules_of: Vec<Vec<usize>> = vec![Vec::new(); pool.vms.len()];
    for (i, rule) in rules.iter().enumerate() {
        if rule.affinity != Affinity::Apart || !(rule.strict || soft) {
            continue;
        }
        let mut on: Vec<HostId> = rule
            .vms
            .iter()
            .filter(|&&v| pool.vms[v].power.is_active())
            .map(|&v| pool.vms[v].host)
            .collect();
        on.sort_unstable();
        let cap = rule.max_per_host as usize;
        crowded[i] = on
            .chunk_by(|a, b| a == b)
            .filter(|run| run.len() >= cap)
            .map(|run| run[0])
            .collect();
        for &v in &rule.vms {
            rules_of[v].push(i);
        }
    }
    // VMs with the same requirements may restart on the same hosts (bar
    // their own): the hosts passing `eligible_vm`, once per requirement.
    type Needs<'a> = (
        &'a BTreeSet<String>,
        &'a BTreeSet<String>,
        bool,
        Option<&'a [HostId]>,
    );
    let mut passing: HashMap<Needs, Vec<HostId>> = HashMap::new();
    (0..pool.vms.len())
        .map(|v| {
            let vm = &pool.vms[v];
            if !vm.power.is_active() {
                return Vec::new();
            }
            let needs = (
                &vm.storage,
                &vm.networks,
                vm.local_devices.is_empty(),
                vm.allowed_hosts.as_deref(),
            );
            let hosts = passing.entry(needs).or_insert_with(|| {
                (0..pool.hosts.len())
                    .filter(|&t| eligible_vm(pool, vm, t))
                    .collect()
            });
            let preferred = soft && !vm.preferred_hosts.is_empty();
            hosts
                .iter()
                .copied()
                .filter(|&t| {
                    t != vm.host
                        && rules_of[v]
                            .iter()
                            .all(|&i| crowded[i].binary_search(&t).is_err())
                        && (!preferred || vm.preferred_hosts.contains(&t))
                })
                .collect()
        })
        .collect()
}

/// Running or paused VMs per anti-affinity group, by host.
pub struct Peers<'p> {
    on: std::collections::HashMap<(&'p str, HostId), Vec<VmId>>,
}

impl<'p> Peers<'p> {
    pub fn of(pool: &'p Pool) -> Peers<'p> {
        let mut on: std::collections::HashMap<(&str, HostId), Vec<VmId>> = Default::default();
        for (v, vm) in pool.vms.iter().enumerate() {
            if let (Some(g), true) = (&vm.anti_affinity, vm.power.is_active()) {
                on.entry((g.as_str(), vm.host)).or_default().push(v);
            }
        }
        Peers { on }
    }

    /// Another running VM of `vm`'s group on host `t`, if any.
    pub fn peer(&self, pool: &Pool, vm: VmId, t: HostId) -> Option<VmId> {
        let g = pool.vms[vm].anti_affinity.as_deref()?;
        self.on.get(&(g, t))?.iter().copied().find(|&o| o != vm)
    }

    pub fn blocks(&self, pool: &Pool, vm: VmId, t: HostId) -> bool {
        self.peer(pool, vm, t).is_some()
    }
}

/// Every agility rule but anti-affinity: whether `vm` may restart on `t`.
pub fn eligible_base(pool: &Pool, vm: VmId, t: HostId) -> bool {
    let v = &pool.vms[vm];
    t != v.host && eligible_vm(pool, v, t)
}

/// The rules of [`eligible_base`] but "not its own host", for a VM that need
/// not be in the pool (one about to start).
pub fn eligible_vm(pool: &Pool, v: &Vm, t: HostId) -> bool {
    let host = &pool.hosts[t];
    host.state == HostState::Up
        && v.local_devices.is_empty()
        && v.storage.is_subset(&host.storage)
        && v.networks.is_subset(&host.networks)
        && v.allowed_hosts.as_ref().is_none_or(|a| a.contains(&t))
        && (pool.ha.migration_path != MigrationPath::StandbyOnly || host.standby)
}

/// Whether `vm` may be restarted on host `t`, capacity aside.
pub fn may_restart_on(pool: &Pool, vm: VmId, t: HostId) -> bool {
    blockers(pool, vm, t).is_empty()
}

/// The hosts `vm` may be restarted on, capacity aside, in file order.
pub fn restart_targets(pool: &Pool, vm: VmId) -> Vec<HostId> {
    if !pool.vms[vm].power.is_active() {
        return Vec::new();
    }
    (0..pool.hosts.len())
        .filter(|&t| may_restart_on(pool, vm, t))
        .collect()
}

/// What keeps `vm` from restarting on host `t`, one phrase per rule broken.
pub fn blockers(pool: &Pool, vm: VmId, t: HostId) -> Vec<String> {
    let v = &pool.vms[vm];
    let host = &pool.hosts[t];
    let mut out = Vec::new();
    if t == v.host {
        out.push("is its own host".to_string());
        return out;
    }
    if host.state != HostState::Up {
        out.push(format!("is {}", host.state.as_str()));
    }
    if !v.local_devices.is_empty() {
        out.push(format!(
            "lacks its local devices ({})",
            v.local_devices.join(", ")
        ));
    }
    for s in v.storage.difference(&host.storage) {
        out.push(format!("cannot reach storage {s}"));
    }
    for n in v.networks.difference(&host.networks) {
        out.push(format!("has no network {n}"));
    }
    if let Some(allowed) = &v.allowed_hosts {
        if !allowed.contains(&t) {
            out.push("is not in its allowed_hosts".to_string());
        }
    }
    if pool.ha.migration_path == MigrationPath::StandbyOnly && !host.standby {
        out.push("is not a standby host (migration_path is standby_only)".to_string());
    }
    for rule in pool.group_rules() {
        if rule.affinity != Affinity::Apart || !rule.strict || !rule.vms.contains(&vm) {
            continue;
        }
        let there: Vec<VmId> = rule
            .vms
            .iter()
            .copied()
            .filter(|&o| o != vm && pool.vms[o].host == t && pool.vms[o].power.is_active())
            .collect();
        if there.len() < rule.max_per_host as usize {
            continue;
        }
        let g = &rule.name;
        if rule.max_per_host == 1 && rule.entry.is_none() {
            out.push(format!(
                "already runs {} of anti-affinity group {g}",
                pool.vms[there[0]].name
            ));
        } else {
            let names: Vec<&str> = there.iter().map(|&o| pool.vms[o].name.as_str()).collect();
            out.push(format!(
                "already runs {} of group {g} ({}; at most {} per host)",
                if there.len() == 1 {
                    "1 VM".to_string()
                } else {
                    format!("{} VMs", there.len())
                },
                names.join(", "),
                rule.max_per_host
            ));
        }
    }
    out
}

/// Every reason why `vm` has no restart target: first the rules that exclude
/// every other host on their own, then, when no single rule does, what each
/// host lacks.
pub fn reasons(pool: &Pool, vm: VmId) -> Vec<String> {
    let v = &pool.vms[vm];
    let mut out = Vec::new();
    if !v.local_devices.is_empty() {
        out.push(format!(
            "uses local devices ({}) bound to host {}",
            v.local_devices.join(", "),
            pool.hosts[v.host].name
        ));
    }
    let others: Vec<HostId> = (0..pool.hosts.len())
        .filter(|&t| t != v.host && pool.hosts[t].state == HostState::Up)
        .collect();
    if others.is_empty() {
        out.push("no other host is up".to_string());
        return out;
    }
    for s in &v.storage {
        if !others.iter().any(|&t| pool.hosts[t].storage.contains(s)) {
            out.push(format!("storage {s} is reachable from no other host"));
        }
    }
    for n in &v.networks {
        if !others.iter().any(|&t| pool.hosts[t].networks.contains(n)) {
            out.push(format!("network {n} is on no other host"));
        }
    }
    if let Some(allowed) = &v.allowed_hosts {
        if !others.iter().any(|t| allowed.contains(t)) {
            out.push("allowed_hosts names no other host that is up".to_string());
        }
    }
    if pool.ha.migration_path == MigrationPath::StandbyOnly
        && !others.iter().any(|&t| pool.hosts[t].standby)
    {
        out.push(
            "migration_path is standby_only and no other up host is a standby host".to_string(),
        );
    }
    for rule in pool.group_rules() {
        if rule.affinity != Affinity::Apart || !rule.strict || !rule.vms.contains(&vm) {
            continue;
        }
        let full = |t: HostId| {
            rule.vms
                .iter()
                .filter(|&&o| o != vm && pool.vms[o].host == t && pool.vms[o].power.is_active())
                .count()
                >= rule.max_per_host as usize
        };
        if others.iter().all(|&t| full(t)) {
            let g = &rule.name;
            out.push(if rule.max_per_host == 1 && rule.entry.is_none() {
                format!("anti-affinity group {g} already runs on every other up host")
            } else {
                format!(
                    "group {g} already runs its most per host ({}) on every other up host",
                    rule.max_per_host
                )
            });
        }
    }
    if out.is_empty() {
        let per_host: Vec<String> = others
            .iter()
            .map(|&t| {
                format!(
                    "{} {}",
                    pool.hosts[t].name,
                    blockers(pool, vm, t).join(" and ")
                )
            })
            .collect();
        out.push(format!(
            "no host meets every requirement: {}",
            per_host.join("; ")
        ));
    }
    out
}

/// The strict rules between VMs of a pool, by VM: for a VM that moves or
/// starts on a host while the others stay where they are (drains,
/// migrations back after a failure).
#[derive(Clone, Debug, Default)]
pub struct GroupCheck {
    rules: Vec<GroupRule>,
    /// Per VM, its rules with at least one other member.
    of: Vec<Vec<usize>>,
}

impl GroupCheck {
    pub fn of(pool: &Pool) -> GroupCheck {
        let rules: Vec<GroupRule> = pool
            .group_rules()
            .into_iter()
            .filter(|r| r.strict && r.vms.len() > 1)
            .collect();
        let mut of = vec![Vec::new(); pool.vms.len()];
        for (i, r) in rules.iter().enumerate() {
            for &v in &r.vms {
                of[v].push(i);
            }
        }
        GroupCheck { rules, of }
    }

    /// Whether `v` may run on host `t` with every other VM where `pool`
    /// has it ([`GroupCheck::conflict`]).
    pub fn allows(
        &self,
        pool: &Pool,
        v: VmId,
        t: HostId,
        drain: Option<(HostId, &[VmId])>,
    ) -> bool {
        self.conflict(pool, v, t, drain).is_none()
    }

    /// What keeps `v` off host `t`, in words, if anything: a strict apart
    /// group of `v` that runs its cap of other members on `t`, or a strict
    /// together group of `v` with a member running elsewhere. Members on a
    /// host that is down do not run. With `drain = Some((h, moved))`, the
    /// VMs `moved` leave host `h` one by one: those still on `h` do not
    /// count, those moved already must share `t`, and `t` must be a host
    /// where a member that does not move runs, if one does (any of them,
    /// for a group running on several hosts already). Without it, `v`
    /// alone moves, to a host where another member runs if one does.
    pub fn conflict(
        &self,
        pool: &Pool,
        v: VmId,
        t: HostId,
        drain: Option<(HostId, &[VmId])>,
    ) -> Option<String> {
        let (from, moved) = match drain {
            Some((h, moved)) => (Some(h), moved),
            None => (None, &[][..]),
        };
        let running = |o: VmId| {
            let h = pool.vms[o].host;
            o != v
                && pool.vms[o].power.is_active()
                && pool.hosts[h].state != HostState::Down
                && Some(h) != from
        };
        for &i in self.of.get(v).into_iter().flatten() {
            let r = &self.rules[i];
            match r.affinity {
                Affinity::Apart => {
                    let there: Vec<&str> = r
                        .vms
                        .iter()
                        .copied()
                        .filter(|&o| running(o) && pool.vms[o].host == t)
                        .map(|o| pool.vms[o].name.as_str())
                        .collect();
                    if there.len() >= r.max_per_host as usize {
                        return Some(if r.max_per_host == 1 && r.entry.is_none() {
                            format!(
                                "already runs {} of anti-affinity group {}",
                                there[0], r.name
                            )
                        } else {
                            format!(
                                "already runs {} of group {} (at most {} per host)",
                                crate::plan::and_list(&there),
                                r.name,
                                r.max_per_host
                            )
                        });
                    }
                }
                Affinity::Together => {
                    let others: Vec<VmId> = r.vms.iter().copied().filter(|&o| running(o)).collect();
                    let (with, stay): (Vec<VmId>, Vec<VmId>) =
                        others.into_iter().partition(|o| moved.contains(o));
                    let off = with
                        .iter()
                        .copied()
                        .find(|&o| pool.vms[o].host != t)
                        .or_else(|| {
                            (!stay.is_empty() && stay.iter().all(|&o| pool.vms[o].host != t))
                                .then(|| stay[0])
                        });
                    if let Some(o) = off {
                        return Some(format!(
                            "{} must run together with {} (group {}), which runs on {}",
                            pool.vms[v].name,
                            pool.vms[o].name,
                            r.name,
                            pool.hosts[pool.vms[o].host].name
                        ));
                    }
                }
            }
        }
        None
    }
}
