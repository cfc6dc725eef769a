//! Agility: where a VM could be restarted, and why nowhere when that is so.
//!
//! This is the static part of a restart target's eligibility (storage,
//! networks, local devices, `allowed_hosts`, `standby_only`, anti-affinity
//! with VMs already running there). Capacity and which hosts have failed are
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
    /// For every VM, the hosts it may restart on (none for halted VMs).
    pub targets: Targets,
    /// Protected running or paused VMs with no target, in file order.
    pub not_agile: Vec<NotAgile>,
}

/// Where each VM may restart, capacity aside, kept by requirement: VMs with
/// the same storage, networks, local devices and `allowed_hosts` share one
/// list of hosts, and a VM's own targets are that list but its own host and
/// the hosts running another member of its anti-affinity group. Memory is
/// linear in hosts plus VMs, never their product.
#[derive(Clone, Debug, Default)]
pub struct Targets {
    /// Per requirement: the hosts passing [`eligible_vm`], ascending.
    passing: Vec<Vec<HostId>>,
    /// Per VM: its requirement, or [`NONE`] for a halted VM.
    need_of: Vec<u32>,
    /// Per VM: its anti-affinity group, or [`NONE`].
    group_of: Vec<u32>,
    /// Per anti-affinity group: the hosts running or pausing a member, ascending.
    peers: Vec<Vec<HostId>>,
    /// Per VM: the host it is on.
    own: Vec<HostId>,
    /// Per VM: whether it has a target at all.
    agile: Vec<bool>,
}

const NONE: u32 = u32::MAX;

impl Targets {
    /// The hosts `v` may restart on, ascending.
    pub fn of(&self, v: VmId) -> impl Iterator<Item = HostId> + '_ {
        let hosts: &[HostId] = match self.need_of[v] {
            NONE => &[],
            n => &self.passing[n as usize],
        };
        hosts.iter().copied().filter(move |&t| self.open(v, t))
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

    /// The hosts that pass requirement `n`, ascending (own hosts and
    /// anti-affinity aside).
    pub fn passing(&self, n: usize) -> &[HostId] {
        &self.passing[n]
    }

    /// Not `v`'s own host, and no other member of its group there.
    fn open(&self, v: VmId, t: HostId) -> bool {
        t != self.own[v]
            && match self.group_of[v] {
                NONE => true,
                g => self.peers[g as usize].binary_search(&t).is_err(),
            }
    }
}

impl Agility {
    pub fn of(pool: &Pool) -> Agility {
        // Per anti-affinity group, the hosts running a member (sorted). A
        // host other than the VM's own is blocked exactly when it is listed.
        let mut group_ids: HashMap<&str, u32> = HashMap::new();
        let mut peers: Vec<Vec<HostId>> = Vec::new();
        let mut group_of = vec![NONE; pool.vms.len()];
        for (v, vm) in pool.vms.iter().enumerate() {
            if let Some(g) = &vm.anti_affinity {
                let next = peers.len() as u32;
                let id = *group_ids.entry(g.as_str()).or_insert(next);
                if id == next {
                    peers.push(Vec::new());
                }
                group_of[v] = id;
                if vm.power.is_active() {
                    peers[id as usize].push(vm.host);
                }
            }
        }
        for hosts in &mut peers {
            hosts.sort_unstable();
            hosts.dedup();
        }
        // VMs with the same requirements may restart on the same hosts (bar
        // their own): the hosts passing `eligible_vm`, once per requirement.
        type Needs<'a> = (
            &'a BTreeSet<String>,
            &'a BTreeSet<String>,
            bool,
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
                let needs = (
                    &vm.storage,
                    &vm.networks,
                    vm.local_devices.is_empty(),
                    vm.allowed_hosts.as_deref(),
                );
                *ids.entry(needs).or_insert_with(|| {
                    passing.push(
                        (0..pool.hosts.len())
                            .filter(|&t| eligible_vm(pool, vm, t))
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
            peers,
            own: pool.vms.iter().map(|v| v.host).collect(),
            agile: Vec::new(),
        };
        targets.agile = (0..pool.vms.len())
            .map(|v| targets.of(v).next().is_some())
            .collect();
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

    pub fn is_agile(&self, vm: VmId) -> bool {
        !self.targets.is_empty(vm)
    }
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
    if let Some(g) = &v.anti_affinity {
        if let Some(other) = anti_affinity_peer(pool, vm, g, t) {
            out.push(format!(
                "already runs {} of anti-affinity group {g}",
                pool.vms[other].name
            ));
        }
    }
    out
}

fn anti_affinity_peer(pool: &Pool, vm: VmId, group: &str, t: HostId) -> Option<VmId> {
    (0..pool.vms.len()).find(|&o| {
        let other = &pool.vms[o];
        o != vm
            && other.host == t
            && other.power.is_active()
            && other.anti_affinity.as_deref() == Some(group)
    })
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
    if let Some(g) = &v.anti_affinity {
        if others
            .iter()
            .all(|&t| anti_affinity_peer(pool, vm, g, t).is_some())
        {
            out.push(format!(
                "anti-affinity group {g} already runs on every other up host"
            ));
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
