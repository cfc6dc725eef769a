//! A stricter pool for the sufficient condition, when the pool's rules
//! between VMs go beyond what it models (`scenario::Rules`: apart caps
//! above one, VMs in several apart groups, keep-together groups).
//!
//! Every placement the stricter pool allows is one the pool allows, for
//! every failure set, and both restart the same VMs; so a set proved
//! feasible there is feasible here. (Only that way: a set infeasible there
//! may be feasible here, so the necessary condition never uses it.)
//!
//! - **Apart rules become plain anti-affinity.** The members of binding
//!   apart rules that share a VM form one group with cap one: no restarted
//!   member goes to a host where any member runs, nor beside another
//!   restarted member. Each host then runs at most one member of each
//!   rule beyond those running there now, which no target has: within any
//!   cap.
//! - **A keep-together rule whose members run on one host is one VM.** The
//!   members that scenarios restart (protected, running and agile) fail
//!   together with their host and need one target: one VM of their summed
//!   demand, with every requirement of each. Its other members never
//!   still run when those restart (their host failed), so they pin
//!   nothing. A rule whose running members are on several hosts pins
//!   where the others go, which no VM stands for: then there is no
//!   stricter pool; nor is there one when a VM would be made of more
//!   members of an apart rule than its cap.
//!
//! The restarted VMs must be the same: each of the pool's maps to one of
//! the stricter pool's, which restarts too (agile there as well), and no
//! other does. Where that fails there is no stricter pool either.

use std::collections::BTreeSet;

use crate::model::{Affinity, HostId, Pool, Restart, Vm, VmGroup, VmId};
use crate::scenario::Analysis;

/// Union-find over VM ids.
struct Sets(Vec<usize>);

impl Sets {
    fn find(&mut self, mut x: usize) -> usize {
        while self.0[x] != x {
            self.0[x] = self.0[self.0[x]];
            x = self.0[x];
        }
        x
    }

    fn union(&mut self, a: usize, b: usize) {
        let (a, b) = (self.find(a), self.find(b));
        if a != b {
            self.0[a.max(b)] = a.min(b);
        }
    }
}

/// A stricter pool, and the VM each of the pool's VMs became there.
pub(crate) struct Stricter {
    pub(crate) pool: Pool,
    new_id: Vec<usize>,
}

impl Stricter {
    /// Whether `there`, the stricter pool's analysis, models no rule beyond
    /// plain anti-affinity and restarts exactly the VMs `an` restarts (each
    /// as the VM it became): else it does not stand for `an`.
    pub(crate) fn stands_for(&self, an: &Analysis, there: &Analysis) -> bool {
        if there.rules.is_some() {
            return false;
        }
        let mut restarted: BTreeSet<usize> = BTreeSet::new();
        for v in (0..an.pool.vms.len()).filter(|&v| an.restarts(v)) {
            let m = self.new_id[v];
            if !there.restarts(m) {
                return false;
            }
            restarted.insert(m);
        }
        let count: usize = there.items.iter().map(Vec::len).sum();
        count == restarted.len()
    }
}

/// The stricter pool of `an` (module doc); `None` when there is none
/// (soft rules read as strict, keep-together members on several hosts, a
/// VM beyond an apart cap). Whether it restarts the same VMs is asked of
/// its analysis ([`Stricter::stands_for`]).
pub(crate) fn stricter_pool(an: &Analysis) -> Option<Stricter> {
    if an.soft {
        return None;
    }
    let pool = an.pool;
    let nv = pool.vms.len();
    let is_item = |v: VmId| an.restarts(v);
    let binding: Vec<_> = an.group_rules.iter().filter(|r| r.strict).collect();
    // Keep-together components.
    let mut together = Sets((0..nv).collect());
    for r in binding.iter().filter(|r| r.affinity == Affinity::Together) {
        for w in r.vms.windows(2) {
            together.union(w[0], w[1]);
        }
    }
    // Each component's running members on one host.
    let mut host_of: Vec<Option<HostId>> = vec![None; nv];
    for v in 0..nv {
        if !pool.vms[v].power.is_active() {
            continue;
        }
        let c = together.find(v);
        match host_of[c] {
            None => host_of[c] = Some(pool.vms[v].host),
            Some(h) if h != pool.vms[v].host => return None,
            Some(_) => {}
        }
    }
    // The stricter VMs: each VM but the restarted members of a component
    // with several of them, which become one VM (at the first's place).
    let mut restarted_in = vec![0usize; nv];
    for v in (0..nv).filter(|&v| is_item(v)) {
        restarted_in[together.find(v)] += 1;
    }
    let mut new_id: Vec<usize> = vec![usize::MAX; nv];
    // Per component, the VM its restarted members became.
    let mut merged_as: Vec<usize> = vec![usize::MAX; nv];
    let mut vms: Vec<Vm> = Vec::with_capacity(nv);
    for v in 0..nv {
        let c = together.find(v);
        let merged = is_item(v) && restarted_in[c] > 1;
        if merged && merged_as[c] != usize::MAX {
            let m = merged_as[c];
            new_id[v] = m;
            merge_into(&mut vms[m], &pool.vms[v]);
            continue;
        }
        if merged {
            merged_as[c] = vms.len();
        }
        new_id[v] = vms.len();
        let mut vm = pool.vms[v].clone();
        vm.anti_affinity = None;
        vm.preferred_hosts.clear();
        vms.push(vm);
    }
    // A VM made of more members of an apart rule than its cap can go
    // nowhere: no VM stands for that.
    for r in binding.iter().filter(|r| r.affinity == Affinity::Apart) {
        let mut ids: Vec<usize> = r
            .vms
            .iter()
            .filter(|&&v| is_item(v) && restarted_in[together.find(v)] > 1)
            .map(|&v| new_id[v])
            .collect();
        ids.sort_unstable();
        if ids
            .chunk_by(|a, b| a == b)
            .any(|c| c.len() > r.max_per_host as usize)
        {
            return None;
        }
    }
    // Apart components (over the stricter VMs), each one group of cap one.
    let mut apart = Sets((0..vms.len()).collect());
    let mut grouped = vec![false; vms.len()];
    for r in binding
        .iter()
        .filter(|r| r.affinity == Affinity::Apart && r.vms.len() > r.max_per_host as usize)
    {
        let ids: Vec<usize> = r.vms.iter().map(|&v| new_id[v]).collect();
        for &i in &ids {
            grouped[i] = true;
        }
        for w in ids.windows(2) {
            apart.union(w[0], w[1]);
        }
    }
    let mut members: Vec<Vec<VmId>> = vec![Vec::new(); vms.len()];
    for i in (0..vms.len()).filter(|&i| grouped[i]) {
        members[apart.find(i)].push(i);
    }
    let vm_groups: Vec<VmGroup> = members
        .into_iter()
        .filter(|m| m.len() > 1)
        .enumerate()
        .map(|(i, vms)| VmGroup {
            name: format!("apart-{i}"),
            affinity: Affinity::Apart,
            max_per_host: 1,
            strict: true,
            vms,
        })
        .collect();
    let pool = Pool {
        vms,
        vm_groups,
        ..pool.clone()
    };
    Some(Stricter { pool, new_id })
}

/// Adds restarted member `v` of a keep-together component to its VM `m`:
/// the demand summed, every requirement of each.
fn merge_into(m: &mut Vm, v: &Vm) {
    for (a, b) in m.demand.iter_mut().zip(&v.demand) {
        *a += b;
    }
    for (a, b) in m.listed.iter_mut().zip(&v.listed) {
        *a |= b;
    }
    m.storage.extend(v.storage.iter().cloned());
    m.networks.extend(v.networks.iter().cloned());
    m.local_devices.extend(v.local_devices.iter().cloned());
    m.allowed_hosts = match (m.allowed_hosts.take(), &v.allowed_hosts) {
        (None, b) => b.clone(),
        (a, None) => a,
        (Some(a), Some(b)) => Some(a.into_iter().filter(|h| b.contains(h)).collect()),
    };
    m.restart = Restart::Protected;
    m.priority = m.priority.min(v.priority);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pool_of(v: serde_json::Value) -> Pool {
        crate::parse_pool(&v.to_string()).unwrap()
    }

    fn hosts() -> serde_json::Value {
        (0..5)
            .map(|h| json!({"name": format!("h{h}"), "capacity": {"m": 20}}))
            .collect()
    }

    /// A keep-together pair on one host becomes one VM of their summed
    /// demand, and overlapping apart groups one group of cap one.
    #[test]
    fn a_pair_on_one_host_is_one_vm_and_apart_groups_one_group() {
        let pool = pool_of(json!({"name": "t", "hosts": hosts(), "vms": [
            {"name": "a", "host": "h0", "demand": {"m": 3}},
            {"name": "b", "host": "h0", "demand": {"m": 4}},
            {"name": "c", "host": "h1", "demand": {"m": 2}},
            {"name": "d", "host": "h2", "demand": {"m": 1}},
            {"name": "e", "host": "h1", "demand": {"m": 1}, "restart": "best_effort"}
        ], "vm_groups": [
            {"name": "p", "affinity": "together", "vms": ["a", "b"]},
            {"name": "s", "affinity": "apart", "max_per_host": 2, "vms": ["a", "c", "e"]},
            {"name": "u", "affinity": "apart", "max_per_host": 1, "vms": ["c", "d"]}
        ]}));
        let an = Analysis::new(&pool);
        assert!(an.rules_bind());
        let s = stricter_pool(&an).expect("a stricter pool");
        assert!(s.stands_for(&an, &Analysis::new(&s.pool)));
        let strict = s.pool;
        let names: Vec<&str> = strict.vms.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(names, ["a", "c", "d", "e"]);
        assert_eq!(strict.vms[0].demand, vec![7]);
        assert_eq!(strict.vm_groups.len(), 1);
        assert_eq!(strict.vm_groups[0].max_per_host, 1);
        assert_eq!(strict.vm_groups[0].vms, vec![0, 1, 2, 3]);
    }

    /// None when a pair runs on two hosts (the one still running pins the
    /// other), or when a pair would hold two members of a cap-one group.
    #[test]
    fn no_stricter_pool_for_a_pair_across_hosts_or_against_its_cap() {
        let across = pool_of(json!({"name": "t", "hosts": hosts(), "vms": [
            {"name": "a", "host": "h0", "demand": {"m": 3}},
            {"name": "b", "host": "h1", "demand": {"m": 4}}
        ], "vm_groups": [{"name": "p", "affinity": "together", "vms": ["a", "b"]}]}));
        assert!(stricter_pool(&Analysis::new(&across)).is_none());
        let against = pool_of(json!({"name": "t", "hosts": hosts(), "vms": [
            {"name": "a", "host": "h0", "demand": {"m": 3}},
            {"name": "b", "host": "h0", "demand": {"m": 4}}
        ], "vm_groups": [
            {"name": "p", "affinity": "together", "vms": ["a", "b"]},
            {"name": "s", "affinity": "apart", "max_per_host": 1, "vms": ["a", "b"]}
        ]}));
        assert!(stricter_pool(&Analysis::new(&against)).is_none());
    }
}
