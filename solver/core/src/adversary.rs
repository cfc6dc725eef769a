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
//! adding hosts).
//!
//! Nothing here is trusted: a set counts only when the caller's exact
//! decision proves it infeasible, so every set found is a proved upper
//! bound (tolerance is at most its size minus one) and a witness.

use crate::model::*;
use crate::pack::Infeasible;
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
        let vm = &pool.vms[v];
        let mut fit: Vec<(i64, HostId)> = an
            .agility
            .targets
            .of(v)
            .filter(|&t| an.receives[t])
            .filter_map(|t| {
                // How many copies of v the host holds: its room for v.
                let room = (0..nres)
                    .filter(|&r| vm.demand[r] > 0)
                    .map(|r| an.spare[t][r] / vm.demand[r])
                    .min()
                    .unwrap_or(i64::MAX);
                (room > 0).then_some((room, t))
            })
            .collect();
        let own = (pool.hosts[vm.host].state == HostState::Up).then_some(vm.host);
        if fit.len() + own.is_some() as usize > longest {
            continue;
        }
        fit.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        let chain: Vec<HostId> = own.into_iter().chain(fit.iter().map(|&(_, t)| t)).collect();
        if !chain.is_empty() && !out.contains(&chain) {
            out.push(chain);
        }
    }
    out.sort_by(|a, b| a.len().cmp(&b.len()).then_with(|| a.cmp(b)));
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
