//! Failure scenarios: from a pool and a set of failed hosts to a packing
//! [`Instance`], with the facts that every scenario shares computed once.

use crate::agility::Agility;
use crate::model::*;
use crate::pack::{Instance, NO_GROUP};

/// Facts about a pool that every failure scenario shares.
#[derive(Clone, Debug)]
pub struct Analysis<'p> {
    pub pool: &'p Pool,
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
    /// Anti-affinity group of each VM as a dense id, or [`NO_GROUP`].
    pub group_of: Vec<u32>,
    /// Whether host failover applies at all (HA on, mode `host`).
    pub failover: bool,
}

/// One failure scenario as a packing instance, with the ids behind it.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub instance: Instance,
    /// The VM behind each item.
    pub vms: Vec<VmId>,
    /// The host behind each target.
    pub hosts: Vec<HostId>,
}

impl<'p> Analysis<'p> {
    pub fn new(pool: &'p Pool) -> Analysis<'p> {
        let agility = Agility::of(pool);
        let nh = pool.hosts.len();
        let mut spare = pool.spare_all();
        for (h, s) in spare.iter_mut().enumerate() {
            if pool.hosts[h].state != HostState::Up {
                s.fill(0);
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
        let down = (0..nh)
            .filter(|&h| pool.hosts[h].state == HostState::Down)
            .collect();
        let mut names: Vec<&str> = pool
            .vms
            .iter()
            .filter_map(|v| v.anti_affinity.as_deref())
            .collect();
        names.sort_unstable();
        names.dedup();
        let group_of = pool
            .vms
            .iter()
            .map(|v| match &v.anti_affinity {
                Some(g) => names.binary_search(&g.as_str()).expect("collected") as u32,
                None => NO_GROUP,
            })
            .collect();
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
        }
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
        for &v in &vms {
            demand.extend(&pool.vms[v].demand);
            let mut e: Vec<u32> = self
                .agility
                .targets
                .of(v)
                .map(|h| target_of[h])
                .filter(|&t| t != u32::MAX)
                .collect();
            e.sort_unstable();
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
            },
            vms,
            hosts,
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
/// own. Hosts that are not up each get a class of their own.
pub fn twin_classes(an: &Analysis) -> Vec<usize> {
    twin_classes_within(an, &crate::pack::Budget::unlimited())
}

/// [`twin_classes`], giving every host not reached when `budget` runs out
/// a class of its own (fewer twins: less pruning, the same answers).
pub(crate) fn twin_classes_within(an: &Analysis, budget: &crate::pack::Budget) -> Vec<usize> {
    use std::collections::HashMap;
    let pool = an.pool;
    let nh = pool.hosts.len();
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
/// VMs carry `allowed_hosts`, and pools of over 512 up hosts, get none.
pub fn dominators(an: &Analysis) -> Vec<Vec<HostId>> {
    dominators_within(an, &crate::pack::Budget::unlimited())
}

/// [`dominators`], the hosts not reached when `budget` runs out without
/// any (fewer dominators: less pruning, the same answers).
pub(crate) fn dominators_within(an: &Analysis, budget: &crate::pack::Budget) -> Vec<Vec<HostId>> {
    let pool = an.pool;
    let nh = pool.hosts.len();
    let mut out = vec![Vec::new(); nh];
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
        assert_eq!(twin_classes(&an)[0] == twin_classes(&an)[1], false);
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
