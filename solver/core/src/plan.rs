//! Restart plans for a given failure set, and an independent plan checker.
//!
//! A plan places the protected VMs first, then the best-effort ones. When not
//! everything fits, VMs are taken in importance order (protected before
//! best-effort, then priority critical > high > medium > low, then smaller
//! first so that fewer VMs are left out) and each is kept only when a packing
//! of it together with every VM kept before it exists, decided exactly. So
//! every VM left out is proved not to fit beside the more important VMs kept.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::*;
use crate::pack::{self, Budget, Decision, fits, greedy::GroupsUsed};
use crate::scenario::{Analysis, Scenario};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placement {
    pub vm: VmId,
    pub host: HostId,
    pub order: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unplaced {
    pub vm: VmId,
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// The failed hosts, in file order.
    pub failed: Vec<HostId>,
    /// Protected VMs first, then best-effort; each part in restart sequence.
    pub placements: Vec<Placement>,
    pub unplaced: Vec<Unplaced>,
    /// False when the budget ran out before some VM was decided.
    pub exact: bool,
}

impl Plan {
    /// Whether every protected VM that needs a restart got a target.
    pub fn all_protected_placed(&self, pool: &Pool) -> bool {
        self.unplaced
            .iter()
            .all(|u| pool.vms[u.vm].restart != Restart::Protected)
    }
}

/// Which VMs a plan considers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    ProtectedOnly,
    All,
}

/// The restart plan when the hosts in `failed` fail now.
pub fn plan(an: &Analysis, failed: &[HostId], scope: Scope, budget: &Budget) -> Plan {
    let pool = an.pool;
    let mask = an.mask(failed);
    let mut failed: Vec<HostId> = failed.to_vec();
    failed.sort_unstable();
    failed.dedup();

    // The VMs to restart, and those that cannot be.
    let mut unplaced = Vec::new();
    let mut wanted: Vec<VmId> = Vec::new();
    for (v, vm) in pool.vms.iter().enumerate() {
        let gone = mask[vm.host] || pool.hosts[vm.host].state == HostState::Down;
        if !gone || !vm.power.is_active() || vm.restart == Restart::Unprotected {
            continue;
        }
        if scope == Scope::ProtectedOnly && vm.restart != Restart::Protected {
            continue;
        }
        if !pool.ha.enabled {
            continue; // HA off: nothing is restarted
        }
        if pool.ha.mode == HaMode::Vm {
            unplaced.push(Unplaced {
                vm: v,
                reason: "HA mode is \"vm\": VMs restart only on their own host".to_string(),
            });
        } else if !an.agility.is_agile(v) {
            let reasons = crate::agility::reasons(pool, v);
            unplaced.push(Unplaced {
                vm: v,
                reason: format!("not agile: {}", reasons.join("; ")),
            });
        } else {
            wanted.push(v);
        }
    }
    wanted.sort_by_key(|&v| {
        let vm = &pool.vms[v];
        let size: i64 = vm.demand.iter().sum();
        (vm.restart, vm.priority, size, v)
    });
    let sc = an.instance_for(&mask, wanted.clone());
    let inst = &sc.instance;
    let protected = wanted
        .iter()
        .take_while(|&&v| pool.vms[v].restart == Restart::Protected)
        .count();

    let mut exact = true;
    // Fast paths: everything, or every protected VM, in one decision.
    let mut kept: Vec<usize> = Vec::new();
    let mut assign: Vec<u32> = Vec::new();
    let mut first = protected;
    if let Decision::Feasible(a) = pack::decide(inst, budget).0 {
        kept = (0..inst.items()).collect();
        assign = a;
        first = inst.items();
    } else if protected < inst.items() {
        let sub = subset(inst, &(0..protected).collect::<Vec<_>>());
        if let Decision::Feasible(a) = pack::decide(&sub, budget).0 {
            kept = (0..protected).collect();
            assign = a;
        } else {
            first = 0;
        }
    } else {
        first = 0;
    }
    // The rest, one by one in importance order.
    for i in first..inst.items() {
        if let Some(t) = fit_beside(inst, &kept, &assign, i) {
            kept.push(i);
            assign.push(t);
            continue;
        }
        let mut trial = kept.clone();
        trial.push(i);
        match pack::decide(&subset(inst, &trial), budget).0 {
            Decision::Feasible(a) => {
                kept = trial;
                assign = a;
            }
            Decision::Infeasible(_) => unplaced.push(Unplaced {
                vm: sc.vms[i],
                reason: why_left_out(an, &sc, i, &kept, &assign),
            }),
            Decision::Undecided => {
                exact = false;
                unplaced.push(Unplaced {
                    vm: sc.vms[i],
                    reason: "not decided before the time limit".to_string(),
                });
            }
        }
    }

    let mut placements: Vec<Placement> = kept
        .iter()
        .zip(&assign)
        .map(|(&i, &t)| {
            let v = sc.vms[i];
            Placement {
                vm: v,
                host: sc.hosts[t as usize],
                order: pool.vms[v].order,
            }
        })
        .collect();
    placements.sort_by_key(|p| {
        let vm = &pool.vms[p.vm];
        (vm.restart, vm.order, vm.priority, p.vm)
    });
    unplaced.sort_by_key(|u| {
        let vm = &pool.vms[u.vm];
        (vm.restart, vm.priority, u.vm)
    });
    Plan {
        failed,
        placements,
        unplaced,
        exact,
    }
}

/// The sub-instance of the given items (in that order).
fn subset(inst: &pack::Instance, items: &[usize]) -> pack::Instance {
    let mut sub = pack::Instance {
        nres: inst.nres,
        cap: inst.cap.clone(),
        ..Default::default()
    };
    for &i in items {
        sub.demand.extend_from_slice(inst.demand(i));
        sub.elig.push(inst.elig[i].clone());
        sub.group.push(inst.group[i]);
    }
    sub
}

/// A target for item `i` in what `kept` leaves free, without moving them.
fn fit_beside(inst: &pack::Instance, kept: &[usize], assign: &[u32], i: usize) -> Option<u32> {
    let nres = inst.nres;
    let mut rem = inst.cap.clone();
    let mut used = GroupsUsed::default();
    for (&k, &t) in kept.iter().zip(assign) {
        for r in 0..nres {
            rem[t as usize * nres + r] -= inst.demand[k * nres + r];
        }
        used.take(inst.group[k], t);
    }
    inst.elig[i]
        .iter()
        .copied()
        .find(|&t| fits(inst, &rem, i, t as usize) && used.free(inst.group[i], t))
}

/// Why item `i` of a scenario could not be kept, for people.
fn why_left_out(an: &Analysis, sc: &Scenario, i: usize, kept: &[usize], assign: &[u32]) -> String {
    let pool = an.pool;
    let inst = &sc.instance;
    let v = sc.vms[i];
    let vm = &pool.vms[v];
    if inst.elig[i].is_empty() {
        let names: Vec<&str> = an
            .agility
            .targets
            .of(v)
            .map(|h| pool.hosts[h].name.as_str())
            .collect();
        return format!(
            "every host it may run on ({}) failed or cannot receive VMs",
            names.join(", ")
        );
    }
    if !inst.elig[i]
        .iter()
        .any(|&t| fits(inst, &inst.cap, i, t as usize))
    {
        let short: Vec<String> = (0..inst.nres)
            .filter(|&r| {
                inst.elig[i]
                    .iter()
                    .all(|&t| inst.cap[t as usize * inst.nres + r] < vm.demand[r])
            })
            .map(|r| pool.amount(r, vm.demand[r]))
            .collect();
        return if short.is_empty() {
            let all: Vec<String> = (0..inst.nres)
                .filter(|&r| vm.demand[r] > 0)
                .map(|r| pool.amount(r, vm.demand[r]))
                .collect();
            format!(
                "no surviving host it may run on has room for {} together",
                all.join(" and ")
            )
        } else {
            format!(
                "no surviving host it may run on has {} spare",
                short.join(" and ")
            )
        };
    }
    // Room beside the kept VMs, but only where its anti-affinity group is.
    let nres = inst.nres;
    let mut rem = inst.cap.clone();
    let mut groups = GroupsUsed::default();
    for (&k, &t) in kept.iter().zip(assign) {
        for r in 0..nres {
            rem[t as usize * nres + r] -= inst.demand[k * nres + r];
        }
        groups.take(inst.group[k], t);
    }
    let roomy: Vec<u32> = inst.elig[i]
        .iter()
        .copied()
        .filter(|&t| fits(inst, &rem, i, t as usize))
        .collect();
    if !roomy.is_empty() && roomy.iter().all(|&t| !groups.free(inst.group[i], t)) {
        return format!(
            "anti-affinity: every surviving host with room for it already receives a VM of group {}",
            vm.anti_affinity.as_deref().unwrap_or_default()
        );
    }
    if vm.restart == Restart::BestEffort {
        "no room left after the protected and more important VMs".to_string()
    } else {
        "no room left beside the VMs of equal or higher priority".to_string()
    }
}

/// Checks a plan against the pool from first principles, without the
/// solver's data structures: the failed hosts, each placement's agility,
/// capacity per host and resource, anti-affinity, and that every protected
/// VM to restart is either placed or listed as unplaced. Returns every
/// violation found.
pub fn verify(pool: &Pool, plan: &Plan) -> Result<(), Vec<String>> {
    let mut errors = Vec::new();
    let failed: BTreeSet<HostId> = plan.failed.iter().copied().collect();
    for &h in &failed {
        if h >= pool.hosts.len() {
            errors.push(format!("failed host #{h} does not exist"));
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let gone = |h: HostId| failed.contains(&h) || pool.hosts[h].state == HostState::Down;
    let nres = pool.resources.len();
    let mut load: BTreeMap<HostId, Vec<i64>> = BTreeMap::new();
    let mut placed: BTreeSet<VmId> = BTreeSet::new();
    let mut groups_on: BTreeSet<(String, HostId)> = BTreeSet::new();
    for (v, vm) in pool.vms.iter().enumerate() {
        if vm.power.is_active() && !gone(vm.host) {
            if let Some(g) = &vm.anti_affinity {
                groups_on.insert((g.clone(), vm.host));
            }
        }
        let _ = v;
    }
    for p in &plan.placements {
        let vm = &pool.vms[p.vm];
        let t = &pool.hosts[p.host];
        let name = &vm.name;
        if !placed.insert(p.vm) {
            errors.push(format!("{name} is placed twice"));
        }
        if !gone(vm.host) {
            errors.push(format!(
                "{name} is placed but its host {} did not fail",
                pool.hosts[vm.host].name
            ));
        }
        if !vm.power.is_active() || vm.restart == Restart::Unprotected {
            errors.push(format!("{name} is placed but is not to be restarted"));
        }
        if gone(p.host) || t.state != HostState::Up || p.host == vm.host {
            errors.push(format!(
                "{name} is placed on {}, which cannot receive it",
                t.name
            ));
        }
        if !vm.local_devices.is_empty() {
            errors.push(format!(
                "{name} has local devices but is placed on {}",
                t.name
            ));
        }
        if !vm.storage.is_subset(&t.storage) || !vm.networks.is_subset(&t.networks) {
            errors.push(format!(
                "{name} needs storage or networks that {} lacks",
                t.name
            ));
        }
        if vm
            .allowed_hosts
            .as_ref()
            .is_some_and(|a| !a.contains(&p.host))
        {
            errors.push(format!(
                "{name} is placed on {}, outside its allowed_hosts",
                t.name
            ));
        }
        if pool.ha.migration_path == MigrationPath::StandbyOnly && !t.standby {
            errors.push(format!(
                "{name} is placed on {}, which is not a standby host",
                t.name
            ));
        }
        if let Some(g) = &vm.anti_affinity {
            if !groups_on.insert((g.clone(), p.host)) {
                errors.push(format!(
                    "{name} shares {} with another VM of anti-affinity group {g}",
                    t.name
                ));
            }
        }
        let l = load.entry(p.host).or_insert_with(|| vec![0; nres]);
        for r in 0..nres {
            l[r] += vm.demand[r];
        }
        if p.order != vm.order {
            errors.push(format!(
                "{name} has order {} in the plan but {} in the pool",
                p.order, vm.order
            ));
        }
    }
    for (&h, l) in &load {
        let mut used = vec![0i64; nres];
        for vm in pool
            .vms
            .iter()
            .filter(|vm| vm.host == h && vm.power.is_active())
        {
            for r in 0..nres {
                used[r] += vm.demand[r];
            }
        }
        for r in 0..nres {
            let usable = crate::model::scale(pool.hosts[h].capacity[r], pool.ratio(r))
                - pool.hosts[h].reserved[r];
            let spare = usable - used[r];
            if spare < 0 {
                errors.push(format!(
                    "{} is overloaded and cannot receive VMs",
                    pool.hosts[h].name
                ));
            } else if l[r] > spare {
                errors.push(format!(
                    "{} receives {} of {} but has {spare} spare",
                    pool.hosts[h].name, l[r], pool.resources[r]
                ));
            }
        }
    }
    let unplaced: BTreeSet<VmId> = plan.unplaced.iter().map(|u| u.vm).collect();
    for v in &unplaced {
        if placed.contains(v) {
            errors.push(format!("{} is both placed and unplaced", pool.vms[*v].name));
        }
    }
    if pool.ha.enabled {
        for (v, vm) in pool.vms.iter().enumerate() {
            if vm.restart == Restart::Protected
                && vm.power.is_active()
                && gone(vm.host)
                && !placed.contains(&v)
                && !unplaced.contains(&v)
            {
                errors.push(format!(
                    "protected VM {} is neither placed nor listed as unplaced",
                    vm.name
                ));
            }
        }
    }
    let mut previous = None;
    for p in &plan.placements {
        let vm = &pool.vms[p.vm];
        let key = (vm.restart, vm.order, vm.priority);
        if previous.is_some_and(|prev| prev > key) {
            errors.push(format!("{} is out of restart sequence", vm.name));
        }
        previous = Some(key);
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}
