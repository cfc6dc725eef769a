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
    /// The VM.
    pub vm: VmId,
    /// Every reason, in words a pool admin understands.
    pub reasons: Vec<String>,
}

/// Per-VM agility facts for a whole pool.
#[derive(Clone, Debug)]
pub struct Agility {
    /// For every VM, the hosts it may restart on (none for halted VMs).
    pub targets: Targets,
    /// Protected running or paused VMs with no target, in file order.
    pub not_agile: Vec<NotAgile>,
}

/// Where each VM may restart, capacity aside, kept by requirement: VMs with
/// the same storage, networks, local devices and `allowed_hosts` (and, for
/// soft rules taken as strict, `preferred_hosts`) share one list of hosts,
/// and a VM's own targets are that list but its own host and the hosts where
/// a binding apart rule of the VM already runs its most members per host
/// (for anti-affinity: another member). Memory is linear in hosts plus VMs,
/// never their product.
#[derive(Clone, Debug, Default)]
pub struct Targets {
    /// Per requirement: the hosts passing [`eligible_vm`], ascending.
    passing: Vec<Vec<HostId>>,
    /// Per VM: its requirement, or [`NONE`] for a halted VM.
    need_of: Vec<u32>,
    /// Per VM: its first binding apart rule, or [`NONE`].
    group_of: Vec<u32>,
    /// Per VM: its other binding apart rules (an index into `more`), or
    /// [`NONE`] when it has none.
    more_of: Vec<u32>,
    more: Vec<Vec<u32>>,
    /// Per binding apart rule: the hosts where its running or paused
    /// members reach its `max_per_host`, ascending.
    peers: Vec<Vec<HostId>>,
    /// Per VM: the host it is on.
    own: Vec<HostId>,
    /// Per VM: whether it has a target at all.
    agile: Vec<bool>,
}

const NONE: u32 = u32::MAX;

impl Targets {
    /// The hosts passing `v`'s requirement, ascending: its targets and
    /// maybe a few more (its own host, hosts its apart rules close), one
    /// slice shared by every VM of that requirement. For sizing what lists
    /// the targets without going through them per VM.
    pub fn candidates(&self, v: VmId) -> &[HostId] {
        match self.need_of[v] {
            NONE => &[],
            n => &self.passing[n as usize],
        }
    }

    /// The hosts `v` may restart on, ascending.
    pub fn of(&self, v: VmId) -> impl Iterator<Item = HostId> + '_ {
        self.of_from(v, 0)
    }

    /// [`Targets::of`] from the host at position `from` (modulo their
    /// number) of those that pass `v`'s requirement on, wrapping around:
    /// searches that start each VM elsewhere spread their load.
    pub(crate) fn of_from(&self, v: VmId, from: usize) -> impl Iterator<Item = HostId> + '_ {
        let hosts: &[HostId] = match self.need_of[v] {
            NONE => &[],
            n => &self.passing[n as usize],
        };
        let (head, tail) = hosts.split_at(from.checked_rem(hosts.len()).unwrap_or(0));
        tail.iter()
            .chain(head)
            .copied()
            .filter(move |&t| self.open(v, t))
    }

    /// Whether `v` may restart on `t`.
    pub fn contains(&self, v: VmId, t: HostId) -> bool {
        match self.need_of[v] {
            NONE => false,
            n => self.passing[n as usize].binary_search(&t).is_ok() && self.open(v, t),
        }
    }

    /// Whether `v` may restart nowhere.
    pub fn is_empty(&self, v: VmId) -> bool {
        !self.agile[v]
    }

    /// The requirement `v` shares with other VMs (same storage, networks,
    /// local devices and `allowed_hosts`), `None` for a halted VM: VMs of
    /// one requirement pass the same hosts, theirs and their peers' aside.
    pub fn requirement(&self, v: VmId) -> Option<usize> {
        (self.need_of[v] != NONE).then_some(self.need_of[v] as usize)
    }

    /// How many requirements there are (`0..requirements()`).
    pub(crate) fn requirements(&self) -> usize {
        self.passing.len()
    }

    /// The hosts that pass requirement `n`, ascending (own hosts and
    /// anti-affinity aside).
    pub fn passing(&self, n: usize) -> &[HostId] {
        &self.passing[n]
    }

    /// Whether `v` has no binding apart rule: its targets are then those of
    /// its requirement but its own host.
    pub(crate) fn unbound(&self, v: VmId) -> bool {
        self.group_of[v] == NONE && self.more_of[v] == NONE
    }

    /// Not `v`'s own host, and no binding apart rule of `v` at its most
    /// members there.
    pub(crate) fn open(&self, v: VmId, t: HostId) -> bool {
        let free = |g: u32| self.peers[g as usize].binary_search(&t).is_err();
        t != self.own[v]
            && match self.group_of[v] {
                NONE => true,
                g => free(g),
            }
            && match self.more_of[v] {
                NONE => true,
                m => self.more[m as usize].iter().all(|&g| free(g)),
            }
    }
}

impl Agility {
    /// Where every VM of `pool` may restart, and the protected ones that may
    /// not restart anywhere.
    pub fn of(pool: &Pool) -> Agility {
        let targets = targets(pool, false);
        let not_agile = (0..pool.vms.len())
            .filter(|&v| {
                let vm = &pool.vms[v];
                vm.restart == Restart::Protected && vm.power.is_active() && !targets.agile[v]
            })
            .map(|v| NotAgile {
                vm: v,
                reasons: reasons(pool, v),
            })
            .collect();
        Agility { targets, not_agile }
    }

    /// Whether `vm` may restart on some other host, capacity aside.
    pub fn is_agile(&self, vm: VmId) -> bool {
        !self.targets.is_empty(vm)
    }
}

/// Where every VM may restart (none for halted VMs): the rules of
/// [`eligible_vm`], not its own host, and for every apart rule of the VM
/// that binds, fewer than its `max_per_host` other running members on the
/// host. With `soft`, soft apart rules bind too and a VM with
/// `preferred_hosts` may restart only there (the targets of soft rules
/// taken as strict).
pub(crate) fn targets(pool: &Pool, soft: bool) -> Targets {
    // Per binding apart rule, the hosts where its running members reach
    // its cap (sorted): a host other than the VM's own is blocked exactly
    // when it is listed.
    let nv = pool.vms.len();
    let mut peers: Vec<Vec<HostId>> = Vec::new();
    let mut group_of = vec![NONE; nv];
    let mut more_of = vec![NONE; nv];
    let mut more: Vec<Vec<u32>> = Vec::new();
    for rule in pool.group_rules() {
        if rule.affinity != Affinity::Apart || !(rule.strict || soft) {
            continue;
        }
        let id = peers.len() as u32;
        let mut on: Vec<HostId> = rule
            .vms
            .iter()
            .filter(|&&v| pool.vms[v].power.is_active())
            .map(|&v| pool.vms[v].host)
            .collect();
        on.sort_unstable();
        let cap = rule.max_per_host as usize;
        peers.push(
            on.chunk_by(|a, b| a == b)
                .filter(|run| run.len() >= cap)
                .map(|run| run[0])
                .collect(),
        );
        for &v in &rule.vms {
            if group_of[v] == NONE {
                group_of[v] = id;
            } else {
                if more_of[v] == NONE {
                    more_of[v] = more.len() as u32;
                    more.push(Vec::new());
                }
                more[more_of[v] as usize].push(id);
            }
        }
    }
    // VMs with the same requirements may restart on the same hosts (bar
    // their own): the hosts passing `eligible_vm`, once per requirement.
    type Needs<'a> = (
        &'a BTreeSet<String>,
        &'a BTreeSet<String>,
        bool,
        Option<&'a [HostId]>,
        Option<&'a [HostId]>,
    );
    let mut ids: HashMap<Needs, u32> = HashMap::new();
    let mut passing: Vec<Vec<HostId>> = Vec::new();
    let need_of: Vec<u32> = pool
        .vms
        .iter()
        .map(|vm| {
            if !vm.power.is_active() {
                return NONE;
            }
            let preferred =
                (soft && !vm.preferred_hosts.is_empty()).then_some(vm.preferred_hosts.as_slice());
            let needs = (
                &vm.storage,
                &vm.networks,
                vm.local_devices.is_empty(),
                vm.allowed_hosts.as_deref(),
                preferred,
            );
            *ids.entry(needs).or_insert_with(|| {
                passing.push(
                    (0..pool.hosts.len())
                        .filter(|&t| {
                            eligible_vm(pool, vm, t) && preferred.is_none_or(|p| p.contains(&t))
                        })
                        .collect(),
                );
                passing.len() as u32 - 1
            })
        })
        .collect();
    let mut targets = Targets {
        passing,
        need_of,
        group_of,
        more_of,
        more,
        peers,
        own: pool.vms.iter().map(|v| v.host).collect(),
        agile: Vec::new(),
    };
    targets.agile = (0..nv).map(|v| targets.of(v).next().is_some()).collect();
    targets
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
    let mut out = host_blockers(pool, vm, t);
    if t == pool.vms[vm].host {
        return out;
    }
    group_blockers(pool, &pool.group_rules(), vm, t, true, &mut out);
    out
}

/// [`may_restart_on`] but for the strict group rules, which the caller
/// checks itself (with a [`GroupCheck`] built once): the rules of the VM
/// and the host alone, without a pass over every VM of the pool.
pub fn may_restart_on_but_for_groups(pool: &Pool, vm: VmId, t: HostId) -> bool {
    host_blockers(pool, vm, t).is_empty()
}

/// The phrases of [`blockers`] that depend on `vm` and `t` alone.
fn host_blockers(pool: &Pool, vm: VmId, t: HostId) -> Vec<String> {
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
    out
}

/// The phrases of [`blockers`] for strict apart groups: `vm`'s group
/// already runs its cap of members on `t`.
/// `rules`: the pool's group rules, or any of them that hold those of
/// `vm` (the others are passed over).
/// `named`: the phrases name the members running there; else they name
/// only the group (the same phrase for every host the group blocks).
fn group_blockers(
    pool: &Pool,
    rules: &[GroupRule],
    vm: VmId,
    t: HostId,
    named: bool,
    out: &mut Vec<String>,
) {
    for rule in rules {
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
        let plain = rule.max_per_host == 1 && rule.entry.is_none();
        out.push(match (named, plain) {
            (false, true) => format!("already runs a member of anti-affinity group {g}"),
            (false, false) => format!(
                "already runs its most members of group {g} ({} per host)",
                rule.max_per_host
            ),
            (true, true) => format!(
                "already runs {} of anti-affinity group {g}",
                pool.vms[there[0]].name
            ),
            (true, false) => {
                let names: Vec<&str> = there.iter().map(|&o| pool.vms[o].name.as_str()).collect();
                format!(
                    "already runs {} of group {g} ({}; at most {} per host)",
                    if there.len() == 1 {
                        "1 VM".to_string()
                    } else {
                        format!("{} VMs", there.len())
                    },
                    names.join(", "),
                    rule.max_per_host
                )
            }
        });
    }
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
        // `blockers` per host, with the VM's group rules found once; the
        // hosts that lack the same things named together, those that lack
        // the fewest first (on a pool of a thousand hosts, a few lines, not
        // one per host).
        let rules: Vec<GroupRule> = pool
            .group_rules()
            .into_iter()
            .filter(|r| r.vms.contains(&vm))
            .collect();
        let mut lacks: Vec<(Vec<String>, Vec<HostId>)> = Vec::new();
        let mut at: std::collections::HashMap<Vec<String>, usize> = Default::default();
        for &t in &others {
            let mut b = host_blockers(pool, vm, t);
            group_blockers(pool, &rules, vm, t, false, &mut b);
            match at.get(&b) {
                Some(&i) => lacks[i].1.push(t),
                None => {
                    at.insert(b.clone(), lacks.len());
                    lacks.push((b, vec![t]));
                }
            }
        }
        lacks.sort_by_key(|(b, hosts)| (b.len(), std::cmp::Reverse(hosts.len())));
        let mut parts: Vec<String> = lacks
            .iter()
            .take(REASON_KINDS)
            .map(|(b, hosts)| {
                let names: Vec<&str> = hosts.iter().map(|&t| pool.hosts[t].name.as_str()).collect();
                let what = b.join(" and ");
                match names.as_slice() {
                    [one] => format!("{one} {what}"),
                    _ if names.len() <= REASON_HOSTS => {
                        format!("each of {} {what}", names.join(", "))
                    }
                    _ => format!(
                        "each of {} and {} more hosts {what}",
                        names[..REASON_HOSTS].join(", "),
                        names.len() - REASON_HOSTS
                    ),
                }
            })
            .collect();
        if lacks.len() > REASON_KINDS {
            let rest: usize = lacks[REASON_KINDS..].iter().map(|(_, h)| h.len()).sum();
            parts.push(format!("{rest} more hosts for other reasons"));
        }
        out.push(format!(
            "no host meets every requirement: {}",
            parts.join("; ")
        ));
    }
    out
}

/// The most kinds of hosts a reason names (hosts that lack the same
/// things), and the most hosts it names of each kind.
const REASON_KINDS: usize = 8;
const REASON_HOSTS: usize = 10;

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
    /// The group rules of `pool`, indexed by VM.
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
                                crate::words::and_list(&there),
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pool(v: serde_json::Value) -> Pool {
        crate::parse_pool(&v.to_string()).unwrap()
    }

    /// Hosts that lack the same things are named together, those lacking
    /// fewest first (then the most hosts), at most ten names each.
    #[test]
    fn reasons_group_the_hosts_by_what_they_lack() {
        let hosts: Vec<_> = (0..30)
            .map(|h| {
                let mut host = json!({"name": format!("h{h:02}"), "capacity": {"m": 10}});
                if h >= 20 {
                    host["storage"] = json!(["s"]);
                    if h != 25 {
                        host["networks"] = json!(["n"]);
                    }
                }
                host
            })
            .collect();
        let p = pool(json!({"name": "t", "hosts": hosts, "vms": [
            {"name": "v", "host": "h00", "demand": {"m": 1}, "storage": ["s"], "networks": ["n"],
             "allowed_hosts": ["h01", "h02", "h25"]}
        ]}));
        let others: Vec<String> = (20..30)
            .filter(|&h| h != 25)
            .map(|h| format!("h{h}"))
            .collect();
        let want = format!(
            "no host meets every requirement: each of {} is not in its allowed_hosts; \
             h25 has no network n; \
             each of h01, h02 cannot reach storage s and has no network n; \
             each of h03, h04, h05, h06, h07, h08, h09, h10, h11, h12 and 7 more hosts \
             cannot reach storage s and has no network n and is not in its allowed_hosts",
            others.join(", ")
        );
        assert_eq!(reasons(&p, 0), vec![want]);
    }

    /// Beyond eight kinds of hosts, the rest are counted; the hosts a group
    /// rule blocks are one kind, whichever member runs there.
    #[test]
    fn reasons_count_the_kinds_beyond_eight_and_name_groups_once() {
        let storage: Vec<String> = (1..=11).map(|s| format!("s{s}")).collect();
        let mut hosts = vec![json!({"name": "h0", "capacity": {"m": 10}, "storage": storage})];
        for h in 1..=11 {
            let lacks: Vec<&String> = storage.iter().filter(|s| **s != format!("s{h}")).collect();
            hosts.push(json!({"name": format!("h{h}"), "capacity": {"m": 10}, "storage": lacks}));
        }
        let p = pool(json!({"name": "t", "hosts": hosts, "vms": [
            {"name": "v", "host": "h0", "demand": {"m": 1}, "storage": storage}]}));
        let shown: Vec<String> = (1..=8)
            .map(|h| format!("h{h} cannot reach storage s{h}"))
            .collect();
        let want = format!(
            "no host meets every requirement: {}; 3 more hosts for other reasons",
            shown.join("; ")
        );
        assert_eq!(reasons(&p, 0), vec![want]);

        let mut hosts = vec![json!({"name": "h0", "capacity": {"m": 10}, "storage": ["s"]})];
        let mut vms = vec![json!({"name": "v", "host": "h0", "demand": {"m": 1},
            "storage": ["s"], "anti_affinity": "g"})];
        for h in 1..=3 {
            hosts.push(json!({"name": format!("h{h}"), "capacity": {"m": 10}, "storage": ["s"]}));
            vms.push(json!({"name": format!("m{h}"), "host": format!("h{h}"),
                "demand": {"m": 1}, "anti_affinity": "g"}));
        }
        hosts.push(json!({"name": "h4", "capacity": {"m": 10}}));
        let p = pool(json!({"name": "t", "hosts": hosts, "vms": vms}));
        assert_eq!(
            reasons(&p, 0),
            vec![
                "no host meets every requirement: each of h1, h2, h3 already runs a member \
                 of anti-affinity group g; h4 cannot reach storage s"
                    .to_string()
            ]
        );
    }
}
