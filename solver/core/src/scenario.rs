//! Failure scenarios: from a pool and a set of failed hosts to a packing
//! [`Instance`], with the facts that every scenario shares computed once.
//!
//! Rules between VMs (`vm_groups`, `anti_affinity`) reach the instance in
//! three ways. A binding apart rule with one member per host whose members
//! are in no keep-together rule and in no other such rule is plain
//! anti-affinity: [`Analysis::group_of`], the instance's `group`. Every
//! other binding apart rule is an [`Apart`] of the instance, its room on a
//! target being its cap less the members running there. The VMs of a
//! scenario that share a binding keep-together rule (directly or through
//! each other) are one item: their demand summed, the targets every one of
//! them may use, and, when a member of one of their rules still runs (on a
//! host neither failed nor down), only the hosts where one does.

use std::collections::HashMap;

use crate::agility::Agility;
use crate::model::*;
use crate::pack::{Apart, Instance, NO_GROUP};

/// Facts about a pool that every failure scenario shares.
#[derive(Clone, Debug)]
pub struct Analysis<'p> {
    /// The pool.
    pub pool: &'p Pool,
    /// Where each VM may restart, capacity aside.
    pub agility: Agility,
    /// Spare per up host and resource (0 for hosts that are not up).
    pub spare: Vec<Vec<i64>>,
    /// Up hosts overloaded in some resource (they receive no restarted VM).
    pub overloaded: Vec<bool>,
    /// Up, not overloaded, and a standby host when `migration_path` is `standby_only`.
    pub receives: Vec<bool>,
    /// Up hosts: the failure candidates, in file order.
    pub candidates: Vec<HostId>,
    /// Per host: its protected, agile, running or paused VMs (the VMs a
    /// failure of that host must restart).
    pub items: Vec<Vec<VmId>>,
    /// Hosts already down; their items are in every scenario.
    pub down: Vec<HostId>,
    /// Anti-affinity group of each VM as a dense id, or [`NO_GROUP`]: the
    /// binding apart rules that are plain anti-affinity (module doc).
    pub group_of: Vec<u32>,
    /// Whether host failover applies at all (HA on, mode `host`).
    pub failover: bool,
    /// The rules between VMs as they apply ([`Pool::group_rules`]).
    pub group_rules: Vec<GroupRule>,
    /// Per dense anti-affinity group id, its rule in `group_rules`.
    pub group_rule: Vec<usize>,
    /// The binding rules plain anti-affinity does not express (module
    /// doc); `None` for pools without them.
    pub rules: Option<Box<Rules>>,
    /// Soft rules taken as strict ([`Analysis::soft`]).
    pub soft: bool,
}

/// Binding rules beyond plain anti-affinity, as every scenario applies
/// them.
#[derive(Clone, Debug, Default)]
pub struct Rules {
    /// Keep-together rules (by index into `Analysis::group_rules`) with
    /// their members.
    pub together: Vec<(usize, Vec<VmId>)>,
    /// Per VM, the entries of `together` it is in.
    pub together_of: Vec<Vec<u32>>,
    /// Apart rules that are not plain anti-affinity.
    pub apart: Vec<ApartRule>,
    /// Per VM, the entries of `apart` it is in.
    pub apart_of: Vec<Vec<u32>>,
}

/// Soft rules a plan honours, taken as strict in its instances.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Honour {
    /// Soft groups, by index into `Analysis::group_rules`.
    pub groups: Vec<usize>,
    /// VMs that restart only on the hosts listed with them.
    pub preferred: Vec<(VmId, Vec<HostId>)>,
}

/// An apart rule a scenario's instance carries as an [`Apart`].
#[derive(Clone, Debug)]
pub struct ApartRule {
    /// Its index in `Analysis::group_rules`.
    pub rule: usize,
    /// At most this many members on one host.
    pub cap: u32,
    /// Per host, its running members.
    pub on: Vec<u32>,
}

impl Rules {
    /// Adds keep-together rule `i` (`r`), its members indexed.
    fn push_together(&mut self, i: usize, r: &GroupRule) {
        for &v in &r.vms {
            self.together_of[v].push(self.together.len() as u32);
        }
        self.together.push((i, r.vms.clone()));
    }

    /// Adds apart rule `i` (`r`), with its running members counted per
    /// host and its members indexed.
    fn push_apart(&mut self, pool: &Pool, i: usize, r: &GroupRule) {
        let mut on = vec![0u32; pool.hosts.len()];
        for &v in &r.vms {
            if pool.vms[v].power.is_active() {
                on[pool.vms[v].host] += 1;
            }
            self.apart_of[v].push(self.apart.len() as u32);
        }
        self.apart.push(ApartRule {
            rule: i,
            cap: r.max_per_host,
            on,
        });
    }

    /// Whether a failure set's scenario is feasible whenever a larger one
    /// is: true without keep-together rules (a member still running pins
    /// where the others restart, which a larger set may lift).
    pub fn monotone(&self) -> bool {
        self.together.is_empty()
    }
}

/// One failure scenario as a packing instance, with the ids behind it.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// The packing problem: items are VMs, targets surviving hosts.
    pub instance: Instance,
    /// The VM behind each item (the first, for an item that stands for
    /// VMs restarting together: [`Scenario::members`]).
    pub vms: Vec<VmId>,
    /// The host behind each target.
    pub hosts: Vec<HostId>,
    /// The VMs behind each item when some item stands for several; empty
    /// when every item is the one VM of `vms`.
    pub together: Vec<Vec<VmId>>,
}

impl Scenario {
    /// The VMs item `i` stands for.
    pub fn members(&self, i: usize) -> &[VmId] {
        if self.together.is_empty() {
            std::slice::from_ref(&self.vms[i])
        } else {
            &self.together[i]
        }
    }
}

impl<'p> Analysis<'p> {
    /// The facts every scenario of `pool` shares.
    pub fn new(pool: &'p Pool) -> Analysis<'p> {
        Analysis::build(pool, false)
    }

    /// The analysis with every soft rule taken as strict: soft groups bind,
    /// and a VM with `preferred_hosts` restarts only there. The VMs to
    /// restart are those of [`Analysis::new`] (agility by the strict rules
    /// alone), so a VM whose soft rules leave it no target is an item with
    /// none. `None` when the pool has no soft rule.
    pub fn soft(pool: &'p Pool) -> Option<Analysis<'p>> {
        pool.has_soft_rules().then(|| Analysis::build(pool, true))
    }

    fn build(pool: &'p Pool, soft: bool) -> Analysis<'p> {
        let mut agility = Agility::of(pool);
        let nh = pool.hosts.len();
        // In a failure scenario hosts may use `ha.failover_overcommit`.
        let failover_ratios = !pool.ha.failover_overcommit.is_empty();
        let mut spare = pool.spare_all();
        for (h, s) in spare.iter_mut().enumerate() {
            if pool.hosts[h].state != HostState::Up {
                s.fill(0);
            } else if failover_ratios {
                for (r, x) in s.iter_mut().enumerate() {
                    *x += pool.failover_usable(h, r) - pool.usable(h, r);
                }
            }
        }
        let overloaded: Vec<bool> = (0..nh)
            .map(|h| pool.hosts[h].state == HostState::Up && spare[h].iter().any(|&s| s < 0))
            .collect();
        let receives: Vec<bool> = (0..nh)
            .map(|h| {
                pool.hosts[h].state == HostState::Up
                    && !overloaded[h]
                    && (pool.ha.migration_path != MigrationPath::StandbyOnly
                        || pool.hosts[h].standby)
            })
            .collect();
        let candidates = pool.up_hosts();
        let failover = pool.ha.enabled && pool.ha.mode == HaMode::Host;
        let mut items = vec![Vec::new(); nh];
        if failover {
            for (v, vm) in pool.vms.iter().enumerate() {
                if vm.restart == Restart::Protected && vm.power.is_active() && agility.is_agile(v) {
                    items[vm.host].push(v);
                }
            }
        }
        if soft {
            agility.targets = crate::agility::targets(pool, true);
        }
        let down = (0..nh)
            .filter(|&h| pool.hosts[h].state == HostState::Down)
            .collect();
        let group_rules = pool.group_rules();
        let (group_of, group_rule, rules) = classify(pool, &group_rules, soft);
        Analysis {
            pool,
            agility,
            spare,
            overloaded,
            receives,
            candidates,
            items,
            down,
            group_of,
            failover,
            group_rules,
            group_rule,
            rules,
            soft,
        }
    }

    /// Whether the search over failure sets may compare hosts by their
    /// profiles ([`twin_classes`], [`dominators`]): the profiles know
    /// plain anti-affinity written as `anti_affinity` only.
    pub(crate) fn profiles_apply(&self) -> bool {
        self.pool.vm_groups.is_empty() && !self.soft
    }

    /// Whether a failure set's scenario is feasible whenever a larger one
    /// is ([`Rules::monotone`]), keep-together rules that bind no
    /// scenario aside ([`Analysis::restarts_any`]).
    pub fn monotone(&self) -> bool {
        self.rules.as_ref().is_none_or(|r| {
            r.monotone() || !r.together.iter().any(|(_, vms)| self.restarts_any(vms))
        })
    }

    /// Whether some failure scenario restarts one of `vms`: a rule none of
    /// whose members is protected, running and agile binds no scenario (a
    /// tier of `tiers` protects only some VMs; the others run on as best
    /// effort), so it changes no tolerance.
    pub fn restarts_any(&self, vms: &[VmId]) -> bool {
        vms.iter().any(|&v| self.restarts(v))
    }

    /// Whether some failure scenario restarts `v` (it is one of its host's
    /// `items`).
    pub fn restarts(&self, v: VmId) -> bool {
        self.items[self.pool.vms[v].host].binary_search(&v).is_ok()
    }

    /// Whether a rule beyond plain anti-affinity ([`Rules`]: caps above
    /// one, keep-together groups) binds some failure scenario.
    pub fn rules_bind(&self) -> bool {
        self.rules.as_ref().is_some_and(|r| {
            r.together.iter().any(|(_, vms)| self.restarts_any(vms))
                || r.apart
                    .iter()
                    .any(|a| self.restarts_any(&self.group_rules[a.rule].vms))
        })
    }

    /// Whether any scenario has anything to restart.
    pub fn has_items(&self) -> bool {
        self.items.iter().any(|i| !i.is_empty())
    }

    /// The packing instance for the protected VMs when the hosts marked in
    /// `failed` fail (hosts already down are always included).
    pub fn scenario(&self, failed: &[bool]) -> Scenario {
        let mut vms: Vec<VmId> = Vec::new();
        for &h in &self.down {
            vms.extend(&self.items[h]);
        }
        for (h, &f) in failed.iter().enumerate() {
            if f && self.pool.hosts[h].state == HostState::Up {
                vms.extend(&self.items[h]);
            }
        }
        self.instance_for(failed, vms)
    }

    /// The surviving hosts that may receive restarted VMs, in target order:
    /// file order, standby hosts first under `standby_first`.
    pub fn survivors(&self, failed: &[bool]) -> Vec<HostId> {
        let mut hosts: Vec<HostId> = (0..self.pool.hosts.len())
            .filter(|&h| self.receives[h] && !failed[h])
            .collect();
        if self.pool.ha.migration_path == MigrationPath::StandbyFirst {
            hosts.sort_by_key(|&h| !self.pool.hosts[h].standby);
        }
        hosts
    }

    /// The packing instance for restarting `vms` when `failed` hosts fail.
    pub fn instance_for(&self, failed: &[bool], vms: Vec<VmId>) -> Scenario {
        if let Some(rules) = &self.rules {
            return self.instance_with_rules(failed, vms, rules, true, &[]);
        }
        let pool = self.pool;
        let nres = pool.resources.len();
        let hosts = self.survivors(failed);
        let mut target_of = vec![u32::MAX; pool.hosts.len()];
        for (t, &h) in hosts.iter().enumerate() {
            target_of[h] = t as u32;
        }
        let mut cap = Vec::with_capacity(hosts.len() * nres);
        for &h in &hosts {
            cap.extend(&self.spare[h]);
        }
        let mut demand = Vec::with_capacity(vms.len() * nres);
        let mut elig = Vec::with_capacity(vms.len());
        let mut group = Vec::with_capacity(vms.len());
        // Groups renumbered densely within the scenario.
        let mut dense: Vec<(u32, u32)> = Vec::new();
        // Per requirement met, its surviving targets, ascending: a VM
        // without a binding apart rule whose own host is no target takes a
        // copy, the others filter it (VMs share requirements: the hosts
        // are looked at once per requirement, not once per VM).
        let targets = &self.agility.targets;
        let mut shared: HashMap<usize, std::sync::Arc<[u32]>> = HashMap::new();
        for &v in &vms {
            demand.extend(&pool.vms[v].demand);
            let e = match targets.requirement(v) {
                None => std::sync::Arc::from([]),
                Some(n) => {
                    let all = shared.entry(n).or_insert_with(|| {
                        let mut e: Vec<u32> = targets
                            .passing(n)
                            .iter()
                            .map(|&h| target_of[h])
                            .filter(|&t| t != u32::MAX)
                            .collect();
                        e.sort_unstable();
                        e.into()
                    });
                    if targets.unbound(v) && target_of[pool.vms[v].host] == u32::MAX {
                        std::sync::Arc::clone(all)
                    } else {
                        all.iter()
                            .copied()
                            .filter(|&t| targets.open(v, hosts[t as usize]))
                            .collect()
                    }
                }
            };
            elig.push(e);
            let g = self.group_of[v];
            group.push(if g == NO_GROUP {
                NO_GROUP
            } else if let Some(&(_, d)) = dense.iter().find(|&&(o, _)| o == g) {
                d
            } else {
                let d = dense.len() as u32;
                dense.push((g, d));
                d
            });
        }
        // A pool that names no resource still has targets: one resource of
        // zero amounts keeps the instance's shape (targets = cap / nres).
        let (nres, demand, cap) = if nres == 0 {
            (1, vec![0; vms.len()], vec![0; hosts.len()])
        } else {
            (nres, demand, cap)
        };
        Scenario {
            instance: Instance {
                nres,
                demand,
                elig,
                group,
                cap,
                apart: Vec::new(),
            },
            vms,
            hosts,
            together: Vec::new(),
        }
    }

    /// The packing instance for restarting `vms` when `failed` hosts fail,
    /// with the soft rules of `honour` binding besides the strict ones
    /// (for plans that honour soft rules).
    pub fn instance_honouring(&self, failed: &[bool], vms: Vec<VmId>, honour: &Honour) -> Scenario {
        let pool = self.pool;
        let binds = |i: usize, r: &GroupRule| r.strict || self.soft || honour.groups.contains(&i);
        let mut rules = Rules {
            together_of: vec![Vec::new(); pool.vms.len()],
            apart_of: vec![Vec::new(); pool.vms.len()],
            ..Rules::default()
        };
        for (i, r) in self.group_rules.iter().enumerate() {
            if !binds(i, r) || r.vms.len() <= 1 {
                continue;
            }
            match r.affinity {
                Affinity::Together => rules.push_together(i, r),
                Affinity::Apart if r.vms.len() > r.max_per_host as usize => {
                    rules.push_apart(pool, i, r);
                }
                Affinity::Apart => {}
            }
        }
        self.instance_with_rules(failed, vms, &rules, false, &honour.preferred)
    }

    /// [`Analysis::instance_for`] with rules beyond plain anti-affinity
    /// (module doc); with `plain`, `group_of` gives plain anti-affinity,
    /// else `rules` hold every binding rule. The VMs of `prefer` restart
    /// only on the hosts listed with them.
    fn instance_with_rules(
        &self,
        failed: &[bool],
        vms: Vec<VmId>,
        rules: &Rules,
        plain: bool,
        prefer: &[(VmId, Vec<HostId>)],
    ) -> Scenario {
        let pool = self.pool;
        let nres = pool.resources.len();
        let hosts = self.survivors(failed);
        let mut target_of = vec![u32::MAX; pool.hosts.len()];
        for (t, &h) in hosts.iter().enumerate() {
            target_of[h] = t as u32;
        }
        let mut cap = Vec::with_capacity(hosts.len() * nres);
        for &h in &hosts {
            cap.extend(&self.spare[h]);
        }
        // Units: the VMs linked by keep-together rules they share.
        let n = vms.len();
        let mut parent: Vec<usize> = (0..n).collect();
        fn root(parent: &mut [usize], mut i: usize) -> usize {
            while parent[i] != i {
                parent[i] = parent[parent[i]];
                i = parent[i];
            }
            i
        }
        let mut first_in: Vec<usize> = vec![usize::MAX; rules.together.len()];
        for (i, &v) in vms.iter().enumerate() {
            for &r in &rules.together_of[v] {
                let f = &mut first_in[r as usize];
                if *f == usize::MAX {
                    *f = i;
                } else {
                    let (a, b) = (root(&mut parent, *f), root(&mut parent, i));
                    parent[a.max(b)] = a.min(b);
                }
            }
        }
        let mut unit_of = vec![usize::MAX; n];
        let mut units: Vec<Vec<VmId>> = Vec::new();
        for i in 0..n {
            let r = root(&mut parent, i);
            if unit_of[r] == usize::MAX {
                unit_of[r] = units.len();
                units.push(Vec::new());
            }
            unit_of[i] = unit_of[r];
            units[unit_of[i]].push(vms[i]);
        }
        // Hosts where a member of each keep-together rule still runs.
        let gone = |h: HostId| failed[h] || pool.hosts[h].state == HostState::Down;
        let anchors = |r: usize| -> Vec<HostId> {
            rules.together[r]
                .1
                .iter()
                .filter(|&&m| pool.vms[m].power.is_active() && !gone(pool.vms[m].host))
                .map(|&m| pool.vms[m].host)
                .collect()
        };
        let mut demand = Vec::with_capacity(units.len() * nres);
        let mut elig: Vec<std::sync::Arc<[u32]>> = Vec::with_capacity(units.len());
        let mut group = Vec::with_capacity(units.len());
        let mut dense: Vec<(u32, u32)> = Vec::new();
        let mut weights: Vec<Vec<(u32, u32)>> = vec![Vec::new(); rules.apart.len()];
        for (u, members) in units.iter().enumerate() {
            let mut d = vec![0i64; nres];
            for &v in members {
                for (x, y) in d.iter_mut().zip(&pool.vms[v].demand) {
                    *x += y;
                }
            }
            demand.extend(&d);
            let mut e: Vec<u32> = self
                .agility
                .targets
                .of(members[0])
                .map(|h| target_of[h])
                .filter(|&t| t != u32::MAX)
                .collect();
            for &v in &members[1..] {
                e.retain(|&t| self.agility.targets.contains(v, hosts[t as usize]));
            }
            for (v, only) in prefer {
                if members.contains(v) {
                    e.retain(|&t| only.contains(&hosts[t as usize]));
                }
            }
            let mut touched: Vec<u32> = members
                .iter()
                .flat_map(|&v| rules.together_of[v].iter().copied())
                .collect();
            touched.sort_unstable();
            touched.dedup();
            for r in touched {
                let at = anchors(r as usize);
                if !at.is_empty() {
                    e.retain(|&t| at.contains(&hosts[t as usize]));
                }
            }
            let mut counts: Vec<(u32, u32)> = Vec::new();
            for &v in members {
                for &a in &rules.apart_of[v] {
                    match counts.iter_mut().find(|c| c.0 == a) {
                        Some(c) => c.1 += 1,
                        None => counts.push((a, 1)),
                    }
                }
            }
            for &(a, w) in &counts {
                let rule = &rules.apart[a as usize];
                e.retain(|&t| rule.on[hosts[t as usize]] + w <= rule.cap);
                weights[a as usize].push((u as u32, w));
            }
            e.sort_unstable();
            elig.push(e.into());
            let g = if plain && members.len() == 1 {
                self.group_of[members[0]]
            } else {
                NO_GROUP
            };
            group.push(if g == NO_GROUP {
                NO_GROUP
            } else if let Some(&(_, d)) = dense.iter().find(|&&(o, _)| o == g) {
                d
            } else {
                let d = dense.len() as u32;
                dense.push((g, d));
                d
            });
        }
        let apart: Vec<Apart> = weights
            .into_iter()
            .enumerate()
            .filter(|(_, items)| items.len() > 1)
            .map(|(a, items)| {
                let rule = &rules.apart[a];
                Apart {
                    rule: rule.rule,
                    items,
                    room: hosts
                        .iter()
                        .map(|&h| rule.cap.saturating_sub(rule.on[h]))
                        .collect(),
                }
            })
            .collect();
        let merged = units.iter().any(|u| u.len() > 1);
        Scenario {
            instance: Instance {
                nres,
                demand,
                elig,
                group,
                cap,
                apart,
            },
            vms: units.iter().map(|u| u[0]).collect(),
            hosts,
            together: if merged { units } else { Vec::new() },
        }
    }

    /// A failure-set mask from host ids.
    pub fn mask(&self, failed: &[HostId]) -> Vec<bool> {
        let mut m = vec![false; self.pool.hosts.len()];
        for &h in failed {
            m[h] = true;
        }
        m
    }
}

/// Classes of interchangeable up hosts: swapping two hosts of a class maps
/// the pool onto itself as far as failure scenarios go, so a set with one of
/// them fails exactly when the same set with the other does.
///
/// Two up hosts are interchangeable when they have the same spare, the same
/// standby flag, storage and networks, the same overloaded and receiving
/// state, appear in the same VMs' `allowed_hosts`, run the same multiset of
/// anti-affinity groups, and their protected agile VMs are the same multiset
/// of (demand, storage, networks, group) with no `allowed_hosts` of their
/// own. Hosts that are not up each get a class of their own, and so does
/// every host of a pool with `vm_groups` or of the soft analysis (the
/// profiles do not know their rules).
pub fn twin_classes(an: &Analysis) -> Vec<usize> {
    twin_classes_within(an, &crate::pack::Budget::unlimited())
}

/// [`twin_classes`], giving every host not reached when `budget` runs out
/// a class of its own (fewer twins: less pruning, the same answers).
pub(crate) fn twin_classes_within(an: &Analysis, budget: &crate::pack::Budget) -> Vec<usize> {
    use std::collections::HashMap;
    let pool = an.pool;
    let nh = pool.hosts.len();
    if !an.profiles_apply() {
        return (0..nh).map(|h| nh + h).collect(); // each a class of its own
    }
    let allowed_in = allowed_in(pool);
    let groups_on = groups_on(pool);
    let mut classes: HashMap<String, usize> = HashMap::new();
    let mut stopped = false;
    (0..nh)
        .map(|h| {
            if h % 64 == 0 && budget.expired() {
                stopped = true;
            }
            let profile = target_profile(an, &allowed_in, &groups_on, h).filter(|_| !stopped);
            let Some(profile) = profile else {
                return nh + h; // a class of its own
            };
            let mut items: Vec<String> = an.items[h]
                .iter()
                .map(|&v| {
                    let vm = &pool.vms[v];
                    format!("{}|{:?}", item_kind(vm), vm.demand)
                })
                .collect();
            items.sort_unstable();
            let key = format!("{profile}|{:?}|{items:?}", an.spare[h]);
            let next = classes.len();
            *classes.entry(key).or_insert(next)
        })
        .collect()
}

/// For each host, the VMs whose `allowed_hosts` name it.
fn allowed_in(pool: &Pool) -> Vec<Vec<VmId>> {
    let mut out = vec![Vec::new(); pool.hosts.len()];
    for (v, vm) in pool.vms.iter().enumerate() {
        for &h in vm.allowed_hosts.iter().flatten() {
            out[h].push(v);
        }
    }
    out
}

/// For each host, the anti-affinity groups of its running or paused VMs,
/// sorted (with repeats).
fn groups_on(pool: &Pool) -> Vec<Vec<&str>> {
    let mut out = vec![Vec::new(); pool.hosts.len()];
    for v in pool.vms.iter().filter(|v| v.power.is_active()) {
        if let Some(g) = v.anti_affinity.as_deref() {
            out[v.host].push(g);
        }
    }
    for g in &mut out {
        g.sort_unstable();
    }
    out
}

/// How an up host looks as a restart target, capacity aside: standby flag,
/// storage, networks, overloaded and receiving state, presence in
/// `allowed_hosts`, anti-affinity groups running there. `None` for hosts
/// that are not up or whose protected VMs carry `allowed_hosts` of their own
/// (renaming such a host would change those VMs).
fn target_profile(
    an: &Analysis,
    allowed_in: &[Vec<VmId>],
    groups_on: &[Vec<&str>],
    h: HostId,
) -> Option<String> {
    let pool = an.pool;
    let host = &pool.hosts[h];
    if host.state != HostState::Up
        || an.items[h]
            .iter()
            .any(|&v| pool.vms[v].allowed_hosts.is_some())
    {
        return None;
    }
    let groups = &groups_on[h];
    Some(format!(
        "{}|{:?}|{:?}|{}|{}|{:?}|{:?}",
        host.standby,
        host.storage,
        host.networks,
        an.overloaded[h],
        an.receives[h],
        allowed_in[h],
        groups
    ))
}

/// What besides demand decides where a VM may restart.
fn item_kind(vm: &Vm) -> String {
    format!("{:?}|{:?}|{:?}", vm.storage, vm.networks, vm.anti_affinity)
}

/// For each up host b, the up hosts a that *dominate* it: losing a instead
/// of b is never easier. Then a failure set with b but not a is feasible
/// whenever the same set with a in place of b is, and a search for a failing
/// set need not look at it.
///
/// a dominates b when both receive VMs alike (same standby flag, storage,
/// networks, overloaded and receiving state, presence in `allowed_hosts`,
/// anti-affinity groups running there), a has at least b's spare in every
/// resource, and b's protected agile VMs can be matched one to one with a's
/// VMs of the same kind (storage, networks, group, none with
/// `allowed_hosts`) needing at least as much of every resource. Hosts whose
/// VMs carry `allowed_hosts`, pools of over 512 up hosts, pools with
/// `vm_groups` and the soft analysis get none.
pub fn dominators(an: &Analysis) -> Vec<Vec<HostId>> {
    dominators_within(an, &crate::pack::Budget::unlimited())
}

/// [`dominators`], the hosts not reached when `budget` runs out without
/// any (fewer dominators: less pruning, the same answers).
pub(crate) fn dominators_within(an: &Analysis, budget: &crate::pack::Budget) -> Vec<Vec<HostId>> {
    let pool = an.pool;
    let nh = pool.hosts.len();
    let mut out = vec![Vec::new(); nh];
    if !an.profiles_apply() {
        return out;
    }
    let up: Vec<HostId> = (0..nh)
        .filter(|&h| pool.hosts[h].state == HostState::Up)
        .collect();
    if up.len() > 512 {
        return out;
    }
    let allowed_in = allowed_in(pool);
    let groups_on = groups_on(pool);
    let profile: Vec<Option<String>> = (0..nh)
        .map(|h| target_profile(an, &allowed_in, &groups_on, h))
        .collect();
    let kinds: Vec<Vec<(String, Vec<i64>)>> = (0..nh)
        .map(|h| {
            let mut k: Vec<(String, Vec<i64>)> = an.items[h]
                .iter()
                .map(|&v| (item_kind(&pool.vms[v]), pool.vms[v].demand.clone()))
                .collect();
            k.sort_by(|a, b| {
                a.0.cmp(&b.0)
                    .then_with(|| b.1.iter().sum::<i64>().cmp(&a.1.iter().sum::<i64>()))
                    .then_with(|| b.1.cmp(&a.1))
            });
            k
        })
        .collect();
    for &b in &up {
        if budget.expired() {
            break;
        }
        let Some(pb) = &profile[b] else { continue };
        for &a in &up {
            if a == b || profile[a].as_ref() != Some(pb) {
                continue;
            }
            if (0..pool.resources.len()).any(|r| an.spare[a][r] < an.spare[b][r]) {
                continue;
            }
            if covers(&kinds[a], &kinds[b]) {
                out[b].push(a);
            }
        }
    }
    out
}

/// Whether every VM of `small` can be matched to a distinct VM of `big` of
/// the same kind needing at least as much of every resource. Greedy per
/// kind, largest first: a match found is a proof; a miss only means "not
/// shown".
fn covers(big: &[(String, Vec<i64>)], small: &[(String, Vec<i64>)]) -> bool {
    let mut used = vec![false; big.len()];
    small.iter().all(|(kind, d)| {
        let hit = big
            .iter()
            .enumerate()
            .filter(|&(i, (k, _))| !used[i] && k == kind)
            .filter(|(_, (_, e))| e.iter().zip(d).all(|(x, y)| x >= y))
            .min_by_key(|(_, (_, e))| e.iter().sum::<i64>())
            .map(|(i, _)| i);
        match hit {
            Some(i) => {
                used[i] = true;
                true
            }
            None => false,
        }
    })
}

/// Sorts the binding rules (all of them when `soft`, else the strict ones)
/// into plain anti-affinity (the dense group of each VM, and each group's
/// rule) and the [`Rules`] scenarios apply beyond it (module doc).
fn classify(
    pool: &Pool,
    group_rules: &[GroupRule],
    soft: bool,
) -> (Vec<u32>, Vec<usize>, Option<Box<Rules>>) {
    let nv = pool.vms.len();
    let binds = |r: &GroupRule| r.strict || soft;
    let mut rules = Rules {
        together_of: vec![Vec::new(); nv],
        apart_of: vec![Vec::new(); nv],
        ..Rules::default()
    };
    for (i, r) in group_rules.iter().enumerate() {
        if binds(r) && r.affinity == Affinity::Together && r.vms.len() > 1 {
            rules.push_together(i, r);
        }
    }
    let mut group_of = vec![NO_GROUP; nv];
    let mut group_rule = Vec::new();
    for (i, r) in group_rules.iter().enumerate() {
        // A rule with no more members than its cap can never be broken.
        if !binds(r) || r.affinity != Affinity::Apart || r.vms.len() <= r.max_per_host as usize {
            continue;
        }
        let plain = r.max_per_host == 1
            && r.vms
                .iter()
                .all(|&v| rules.together_of[v].is_empty() && group_of[v] == NO_GROUP);
        if plain {
            for &v in &r.vms {
                group_of[v] = group_rule.len() as u32;
            }
            group_rule.push(i);
            continue;
        }
        rules.push_apart(pool, i, r);
    }
    let rules = (!rules.together.is_empty() || !rules.apart.is_empty()).then(|| Box::new(rules));
    (group_of, group_rule, rules)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(text: &str) -> Pool {
        crate::parse_pool(text).unwrap()
    }

    #[test]
    fn dominators_need_more_spare_and_bigger_vms_of_the_same_kind() {
        // big: more spare, and VMs that cover small's; twin: same as small.
        let p = pool(
            r#"{"name":"d","hosts":[
                {"name":"big","capacity":{"m":100}},
                {"name":"small","capacity":{"m":80}},
                {"name":"twin","capacity":{"m":80}},
                {"name":"other","capacity":{"m":100},"storage":["san"]}],
              "vms":[
                {"name":"b1","host":"big","demand":{"m":30}},
                {"name":"b2","host":"big","demand":{"m":20}},
                {"name":"s1","host":"small","demand":{"m":25}},
                {"name":"t1","host":"twin","demand":{"m":25}},
                {"name":"o1","host":"other","demand":{"m":10}}]}"#,
        );
        let an = Analysis::new(&p);
        let dom = dominators(&an);
        // spare: big 50, small 55: big has less spare, so it does not dominate.
        assert!(dom[1].is_empty() || !dom[1].contains(&0));
        assert_eq!(dom[1], vec![2], "twins dominate each other");
        assert_eq!(dom[2], vec![1]);
        assert!(
            dom[3].is_empty(),
            "a host with other storage is not comparable"
        );
        assert!(!dom[0].contains(&3));

        let p = pool(
            r#"{"name":"d","hosts":[
                {"name":"big","capacity":{"m":100}},
                {"name":"small","capacity":{"m":60}}],
              "vms":[
                {"name":"b1","host":"big","demand":{"m":30}},
                {"name":"b2","host":"big","demand":{"m":10}},
                {"name":"s1","host":"small","demand":{"m":25}}]}"#,
        );
        let an = Analysis::new(&p);
        let dom = dominators(&an);
        assert_eq!(dom[1], vec![0], "big: spare 60 >= 35 and 30 covers 25");
        assert!(dom[0].is_empty(), "small cannot cover two VMs");
        assert_ne!(twin_classes(&an)[0], twin_classes(&an)[1]);
    }

    #[test]
    fn anti_affinity_groups_must_match_to_dominate() {
        let p = pool(
            r#"{"name":"d","hosts":[
                {"name":"a","capacity":{"m":100}},
                {"name":"b","capacity":{"m":100}}],
              "vms":[
                {"name":"x","host":"a","demand":{"m":30},"anti_affinity":"g"},
                {"name":"y","host":"b","demand":{"m":30}}]}"#,
        );
        let an = Analysis::new(&p);
        let dom = dominators(&an);
        assert!(dom[0].is_empty() && dom[1].is_empty());
        let classes = twin_classes(&an);
        assert_ne!(classes[0], classes[1]);
    }
}
