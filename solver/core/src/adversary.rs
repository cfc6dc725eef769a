//! A fast search for failing sets: upper bounds without enumerating.
//!
//! The set search proves a k-set fails only when it reaches it in rank
//! order, and the aggregate bound sees one resource at a time. Here failing
//! sets are built on purpose, around the VMs that are hardest to place:
//! for a VM v, the hosts with room for v (in every resource, among those it
//! may restart on) are few, and a set made of v's host and those hosts
//! strands v. Its host and a prefix of those hosts, the roomiest first,
//! fails too when the other displaced VMs take the room left. So each such
//! VM gives a *chain* of nested sets, the last one surely failing, and the
//! smallest failing prefix is found by bisection (failing is closed under
//! adding hosts). A member of an anti-affinity group may restart only
//! where no other member runs: a group that covers most hosts leaves its
//! members room on few, whatever their size (`apart_chains`).
//!
//! Nothing here is trusted: a set counts only when the caller's exact
//! decision proves it infeasible, so every set found is a proved upper
//! bound (tolerance is at most its size minus one) and a witness.

use crate::model::*;
use crate::pack::{Infeasible, NO_GROUP};
use crate::scenario::Analysis;

/// VMs tried per resource: the largest against the hosts' spare.
const PER_RESOURCE: usize = 24;

/// Chains of nested failure sets, shortest (most promising) first: for a
/// hard-to-place VM, its host (when up) then the hosts with room for it,
/// the roomiest first. The whole chain strands the VM; at most `longest`
/// hosts per chain.
pub(crate) fn chains(an: &Analysis, longest: usize) -> Vec<Vec<HostId>> {
    let pool = an.pool;
    let nres = pool.resources.len();
    let nh = pool.hosts.len();
    let best_spare: Vec<i64> = (0..nres)
        .map(|r| {
            (0..nh)
                .filter(|&h| an.receives[h])
                .map(|h| an.spare[h][r])
                .max()
                .unwrap_or(0)
                .max(1)
        })
        .collect();
    // The VMs largest against the best spare, per resource and overall.
    let displaced: Vec<VmId> = an.items.iter().flatten().copied().collect();
    let mut picked: Vec<VmId> = Vec::new();
    let share = |v: VmId, r: usize| pool.vms[v].demand[r] as f64 / best_spare[r] as f64;
    for r in 0..=nres {
        let key = |v: VmId| {
            if r < nres {
                share(v, r)
            } else {
                (0..nres).map(|r| share(v, r)).sum()
            }
        };
        let mut by: Vec<VmId> = displaced.clone();
        let m = PER_RESOURCE.min(by.len());
        if m == 0 {
            continue;
        }
        if m < by.len() {
            by.select_nth_unstable_by(m - 1, |&a, &b| key(b).total_cmp(&key(a)).then(a.cmp(&b)));
        }
        picked.extend(&by[..m]);
    }
    picked.sort_unstable();
    picked.dedup();
    let mut out: Vec<Vec<HostId>> = Vec::new();
    for v in picked {
        let chain = chain_of(an, v, room_for(an, v, &mut 0));
        if !chain.is_empty() && chain.len() <= longest && !out.contains(&chain) {
            out.push(chain);
        }
    }
    for chain in apart_chains(an, longest) {
        if !out.contains(&chain) {
            out.push(chain);
        }
    }
    out.sort_by(|a, b| a.len().cmp(&b.len()).then_with(|| a.cmp(b)));
    out
}

/// The targets of `v` with room for it, each with how many copies of v it
/// holds; `looked` counts the targets looked at.
fn room_for(an: &Analysis, v: VmId, looked: &mut usize) -> Vec<(i64, HostId)> {
    let vm = &an.pool.vms[v];
    let nres = an.pool.resources.len();
    let mut fit = Vec::new();
    for t in an.agility.targets.of(v) {
        *looked += 1;
        if !an.receives[t] {
            continue;
        }
        let room = (0..nres)
            .filter(|&r| vm.demand[r] > 0)
            .map(|r| an.spare[t][r] / vm.demand[r])
            .min()
            .unwrap_or(i64::MAX);
        if room > 0 {
            fit.push((room, t));
        }
    }
    fit
}

/// The chain of `v`: its host when up, then the hosts of `fit` (from
/// [`room_for`]), the roomiest first.
fn chain_of(an: &Analysis, v: VmId, mut fit: Vec<(i64, HostId)>) -> Vec<HostId> {
    let vm = &an.pool.vms[v];
    fit.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let own = (an.pool.hosts[vm.host].state == HostState::Up).then_some(vm.host);
    own.into_iter().chain(fit.iter().map(|&(_, t)| t)).collect()
}

/// Host cells (members times targets) [`apart_chains`] looks at, at most.
const APART_WORK: usize = 1 << 22;

/// Chains for VMs of anti-affinity groups, which the largest VMs per
/// resource may all miss: a member's targets leave out the hosts running
/// another member, so a group that covers most hosts leaves each member
/// room on few. Per group (the largest first, within [`APART_WORK`]), the
/// displaced member with the fewest hosts with room for it: its host, then
/// those hosts, the roomiest first.
fn apart_chains(an: &Analysis, longest: usize) -> Vec<Vec<HostId>> {
    let mut members: Vec<Vec<VmId>> = Vec::new();
    for &v in an.items.iter().flatten() {
        let g = an.group_of[v];
        if g != NO_GROUP {
            let g = g as usize;
            if members.len() <= g {
                members.resize_with(g + 1, Vec::new);
            }
            members[g].push(v);
        }
    }
    let mut order: Vec<usize> = (0..members.len())
        .filter(|&g| members[g].len() > 1)
        .collect();
    order.sort_by(|&a, &b| members[b].len().cmp(&members[a].len()).then(a.cmp(&b)));
    let mut out = Vec::new();
    let mut work = 0usize;
    for g in order {
        // The fewest hosts with room, and that member's chain.
        let mut best: Option<(usize, Vec<HostId>)> = None;
        for &v in &members[g] {
            let fit = room_for(an, v, &mut work);
            if best.as_ref().is_none_or(|b| fit.len() < b.0) {
                best = Some((fit.len(), chain_of(an, v, fit)));
            }
            if work > APART_WORK {
                break;
            }
        }
        if let Some((_, chain)) = best {
            if !chain.is_empty() && chain.len() <= longest {
                out.push(chain);
            }
        }
        if work > APART_WORK {
            break;
        }
    }
    out
}

/// The smallest failing set found along `chains` of at most `most` hosts:
/// per chain, the shortest prefix `proof` proves infeasible, by bisection
/// (`proof` returns `None` when it cannot tell, and then the prefix counts
/// as not failing). Chains no shorter than the best set so far are skipped.
pub(crate) fn smallest_failing(
    chains: &[Vec<HostId>],
    most: usize,
    mut proof: impl FnMut(&[HostId]) -> Option<Infeasible>,
) -> Option<(Vec<HostId>, Infeasible)> {
    let mut best: Option<(Vec<HostId>, Infeasible)> = None;
    for chain in chains {
        let limit = best
            .as_ref()
            .map_or(most, |(s, _)| s.len() - 1)
            .min(chain.len());
        if limit == 0 {
            break;
        }
        // The whole chain is expected to fail; bisect for the shortest
        // failing prefix within the limit.
        let Some(p) = proof(&chain[..limit]) else {
            continue;
        };
        let (mut lo, mut hi, mut found) = (0, limit, p);
        while hi - lo > 1 {
            let mid = (lo + hi) / 2;
            match proof(&chain[..mid]) {
                Some(p) => (hi, found) = (mid, p),
                None => lo = mid,
            }
        }
        let mut set = chain[..hi].to_vec();
        set.sort_unstable();
        best = Some((set, found));
    }
    best
}

#[cfg(test)]
mod tests {
    use crate::testpools::pool_text;

    /// 20 hosts of 100 (memory and vCPUs); the 16 first run one member of
    /// a group (10, 1 vCPU) and the last four none, and every host runs
    /// larger VMs outside the group (11, 2 vCPUs) up to 65 or 66: the
    /// largest VMs in every resource are those, with room everywhere. A
    /// member may go only to the four hosts without one: its host and
    /// those four fail together, and no set of four does (each displaced
    /// member keeps one of the four that survive).
    #[test]
    fn a_member_is_stranded_by_the_hosts_its_group_leaves_it() {
        let caps = vec![(100, 100); 20];
        let mut vms = Vec::new();
        for h in 0..20 {
            let fillers = if h < 16 {
                vms.push((h, 10, 1, Some(0)));
                5
            } else {
                6
            };
            vms.extend(std::iter::repeat_n((h, 11, 2, None), fillers));
        }
        let pool = crate::parse_pool(&pool_text(&caps, &vms)).unwrap();
        let set = crate::tolerance::adversary_failing_set(&pool, 5).expect("a failing set of 5");
        assert_eq!(set.len(), 5, "{set:?}");
        assert!((16..20).all(|h| set.contains(&h)), "{set:?}");
        assert_eq!(crate::tolerance::adversary_failing_set(&pool, 4), None);
    }
}
