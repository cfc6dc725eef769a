//! Every set of at most k host failures proved survivable at once, by
//! restart lists composed from one plan per host.
//!
//! Each protected VM `v` of every up host gets a list `L_v` of k distinct
//! hosts it may restart on (its restart targets, receiving hosts only).
//! When a set F of at most k hosts fails, `v` (on a host of F) restarts on
//! the first host of `L_v` that is not in F. The lists prove that every
//! such F is survived when, writing `R_a(t)` for the summed demand of the
//! VMs of host `a` whose list holds `t`:
//!
//! 1. for every receiving host t and resource r, the k largest `R_a(t)[r]`
//!    over the hosts a ≠ t sum to at most t's spare in r;
//! 2. no two VMs of one anti-affinity group have a host in common in their
//!    lists.
//!
//! Proof. Let F be a set of at most k up hosts. A VM v of a ∈ F has a host
//! in `L_v` outside F: `L_v` holds k distinct hosts, none of them a (a VM
//! never restarts on its own host), so at most k − 1 of them are in F. The
//! host v takes, t, is in v's restart targets, receives and survives: t is
//! one of v's eligible targets in F's scenario. Two VMs of one group never
//! take the same host (2). The VMs restarted on t come from the hosts of
//! F, those of `a` only from the VMs whose list holds t, so their demand
//! is at most `Σ_{a∈F} R_a(t)[r]`, a sum of at most k of the `R_a(t)[r]`
//! (all non-negative), at most the k largest, at most the spare (1). So
//! every scenario of at most k failed hosts has a packing: the pool
//! tolerates k. Nothing in it depends on which hosts F holds, which is
//! what makes one certificate decide all the C(n, k) sets.
//!
//! The argument needs scenarios whose items are exactly the protected VMs
//! of the failed hosts, each eligible on its restart targets among the
//! survivors, bound only by capacity and plain anti-affinity: no host
//! already down (its VMs would be placed in every scenario) and no rule
//! beyond plain anti-affinity (`Analysis::rules` empty, which also makes
//! tolerance monotone). [`applies`] says so; elsewhere nothing is claimed.
//!
//! The lists come from a heuristic ([`lists`]): the VMs, largest first,
//! take k hosts each, first fit from a start that differs per VM (so that
//! the load spreads), where the VM's host's load with the k − 1 largest
//! loads of other hosts stays within the spare (so that condition 1 holds),
//! and an anti-affinity group takes each host once. [`proves`] checks the
//! conditions on the lists themselves, independently of how they were made:
//! only its "yes" is a proof.

use crate::model::*;
use crate::pack::{Budget, NO_GROUP};
use crate::scenario::Analysis;

/// Restart lists: per VM with a list, its k hosts in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Lists {
    pub k: usize,
    /// `(vm, hosts)`, the hosts in the order they are tried.
    pub of: Vec<(VmId, Vec<HostId>)>,
}

/// Whether restart lists can prove anything about `an`'s scenarios (module
/// doc): host failover, nothing down, no rule beyond plain anti-affinity.
pub(crate) fn applies(an: &Analysis) -> bool {
    an.failover && an.down.is_empty() && an.rules.is_none()
}

/// Whether every set of at most `k` up hosts can fail with every protected
/// VM restarted, proved by restart lists; false when the lists are not
/// found in time or prove nothing (which says nothing about the pool).
pub(crate) fn tolerates(an: &Analysis, k: usize, budget: &Budget) -> bool {
    let entries = an
        .items
        .iter()
        .map(Vec::len)
        .sum::<usize>()
        .saturating_mul(k);
    k == 0
        || (applies(an)
            && k <= MOST_K
            && entries <= MOST_ENTRIES
            && lists(an, k, budget).is_some_and(|l| proves(an, &l)))
}

/// Lists longer than this are not tried: a VM that needs more hosts set
/// aside than this hardly finds them, and the lists' memory grows with k.
const MOST_K: usize = 8;
/// Nor lists of more host entries in all (memory and time stay bounded on
/// any pool: a few tens of MB).
const MOST_ENTRIES: usize = 1 << 20;

/// Restart lists of length `k` for every protected VM, made so that
/// condition 1 of the module doc holds (`None` when some VM finds no k
/// hosts or the budget runs out). The VMs go largest first, whatever their
/// host; a VM of host a may list t while a's load there, with the k − 1
/// largest loads other hosts put there, stays within t's spare. Loads only
/// grow, so per host and resource the k largest loads so far are kept
/// (a load that leaves them comes back only by growing past them).
pub(crate) fn lists(an: &Analysis, k: usize, budget: &Budget) -> Option<Lists> {
    if k == 0 || !applies(an) {
        return None;
    }
    let pool = an.pool;
    let nres = pool.resources.len();
    let nh = pool.hosts.len();
    let total: Vec<f64> = (0..nres)
        .map(|r| {
            (0..nh)
                .filter(|&t| an.receives[t])
                .map(|t| an.spare[t][r].max(0) as f64)
                .sum::<f64>()
                .max(1.0)
        })
        .collect();
    let mut vms: Vec<(f64, VmId)> = an
        .candidates
        .iter()
        .flat_map(|&h| an.items[h].iter())
        .map(|&v| {
            let d = &pool.vms[v].demand;
            ((0..nres).map(|r| d[r] as f64 / total[r]).sum(), v)
        })
        .collect();
    vms.sort_by(|x, y| y.0.total_cmp(&x.0).then(x.1.cmp(&y.1)));
    // Per (host, target): the host's load there, as an offset in `loads`.
    let mut load_at: std::collections::HashMap<(HostId, HostId), usize> = Default::default();
    let mut loads: Vec<i64> = Vec::new();
    // Per target and resource, the k largest loads by host: `(host, load)`,
    // `usize::MAX` for none yet.
    let mut top: Vec<(HostId, i64)> = vec![(usize::MAX, 0); nh * nres * k];
    let mut taken: std::collections::HashSet<(u32, HostId)> = Default::default();
    let mut of = Vec::with_capacity(vms.len());
    for (i, &(_, v)) in vms.iter().enumerate() {
        if i % 256 == 0 && budget.expired() {
            return None;
        }
        let a = pool.vms[v].host;
        let passing = an
            .agility
            .targets
            .passing(an.agility.targets.requirement(v)?);
        let group = an.group_of[v];
        let d = &pool.vms[v].demand;
        let mut list: Vec<HostId> = Vec::with_capacity(k);
        // The k − 1 largest loads of hosts other than a on t, plus a's own
        // and d, within t's spare in every resource.
        let fits = |t: HostId,
                    load_at: &std::collections::HashMap<(HostId, HostId), usize>,
                    loads: &[i64],
                    top: &[(HostId, i64)]| {
            let own = load_at.get(&(a, t)).map(|&o| &loads[o..o + nres]);
            (0..nres).all(|r| {
                let tops = &top[(t * nres + r) * k..(t * nres + r + 1) * k];
                let others: i64 = tops
                    .iter()
                    .filter(|&&(h, _)| h != a && h != usize::MAX)
                    .map(|&(_, l)| l)
                    .take(k - 1)
                    .sum();
                let mine = own.map_or(0, |o| o[r]);
                others + mine + d[r].max(0) <= an.spare[t][r]
            })
        };
        // Each VM starts its first fit elsewhere: the loads spread.
        let len = passing.len();
        let start = (a.wrapping_mul(7919) + i.wrapping_mul(104_729)) % len.max(1);
        for j in 0..len {
            if list.len() == k {
                break;
            }
            let t = passing[(start + j) % len];
            if !an.receives[t]
                || list.contains(&t)
                || (group != NO_GROUP && taken.contains(&(group, t)))
                || !an.agility.targets.contains(v, t)
                || !fits(t, &load_at, &loads, &top)
            {
                continue;
            }
            let o = *load_at.entry((a, t)).or_insert_with(|| {
                loads.extend(std::iter::repeat_n(0, nres));
                loads.len() - nres
            });
            for r in 0..nres {
                loads[o + r] += d[r].max(0);
                let now = loads[o + r];
                let tops = &mut top[(t * nres + r) * k..(t * nres + r + 1) * k];
                if let Some(e) = tops.iter_mut().find(|e| e.0 == a) {
                    e.1 = now;
                } else if let Some(e) = tops
                    .iter_mut()
                    .filter(|e| e.0 == usize::MAX || e.1 < now)
                    .min_by_key(|e| if e.0 == usize::MAX { i64::MIN } else { e.1 })
                {
                    *e = (a, now);
                }
                tops.sort_by_key(|e| std::cmp::Reverse(e.1));
            }
            if group != NO_GROUP {
                taken.insert((group, t));
            }
            list.push(t);
        }
        if list.len() < k {
            return None;
        }
        of.push((v, list));
    }
    Some(Lists { k, of })
}

/// Whether `lists` prove that `an`'s pool tolerates `lists.k` failures: the
/// conditions of the module doc, checked on the lists alone.
pub(crate) fn proves(an: &Analysis, lists: &Lists) -> bool {
    let k = lists.k;
    if k == 0 {
        return true;
    }
    if !applies(an) {
        return false;
    }
    let pool = an.pool;
    let nres = pool.resources.len();
    // Every VM a failure restarts has a list, once.
    let mut listed = vec![false; pool.vms.len()];
    for (v, hosts) in &lists.of {
        if *v >= pool.vms.len() || std::mem::replace(&mut listed[*v], true) {
            return false;
        }
        let own = pool.vms[*v].host;
        let mut seen: Vec<HostId> = hosts.clone();
        seen.sort_unstable();
        seen.dedup();
        if hosts.len() != k
            || seen.len() != k
            || hosts.iter().any(|&t| {
                t >= pool.hosts.len()
                    || t == own
                    || !an.receives[t]
                    || !an.agility.targets.contains(*v, t)
            })
        {
            return false;
        }
    }
    if an
        .candidates
        .iter()
        .any(|&h| an.items[h].iter().any(|&v| !listed[v]))
    {
        return false;
    }
    // (2) A group takes each host once.
    let mut taken: Vec<(u32, HostId)> = lists
        .of
        .iter()
        .filter(|(v, _)| an.group_of[*v] != NO_GROUP)
        .flat_map(|(v, hosts)| hosts.iter().map(move |&t| (an.group_of[*v], t)))
        .collect();
    let n = taken.len();
    taken.sort_unstable();
    taken.dedup();
    if taken.len() != n {
        return false;
    }
    // (1) Per host t, the k largest R_a(t) per resource within its spare.
    let mut entries: Vec<(HostId, HostId, VmId)> = lists
        .of
        .iter()
        .flat_map(|(v, hosts)| hosts.iter().map(move |&t| (t, pool.vms[*v].host, *v)))
        .collect();
    entries.sort_unstable();
    let mut i = 0;
    let mut loads: Vec<Vec<i64>> = Vec::new();
    while i < entries.len() {
        let t = entries[i].0;
        loads.clear();
        while i < entries.len() && entries[i].0 == t {
            let a = entries[i].1;
            let mut load = vec![0i64; nres];
            while i < entries.len() && entries[i].0 == t && entries[i].1 == a {
                let d = &pool.vms[entries[i].2].demand;
                for r in 0..nres {
                    load[r] = load[r].saturating_add(d[r].max(0));
                }
                i += 1;
            }
            loads.push(load);
        }
        for r in 0..nres {
            let mut col: Vec<i64> = loads.iter().map(|l| l[r]).collect();
            col.sort_unstable_by(|x, y| y.cmp(x));
            let top = col.iter().take(k).fold(0i64, |s, &x| s.saturating_add(x));
            if top > an.spare[t][r] {
                return false;
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pack::{Decision, decide};
    use crate::testpools::pool_text;
    use proptest::prelude::*;

    /// Whether every set of exactly `k` up hosts is survived, each decided
    /// exactly on its own.
    fn brute(an: &Analysis, k: usize) -> bool {
        let hosts = &an.candidates;
        let mut set: Vec<HostId> = Vec::new();
        fn go(
            an: &Analysis,
            hosts: &[HostId],
            from: usize,
            k: usize,
            set: &mut Vec<HostId>,
        ) -> bool {
            if set.len() == k {
                let sc = an.scenario(&an.mask(set));
                return match decide(&sc.instance, &Budget::default()).0 {
                    Decision::Feasible(_) => true,
                    Decision::Infeasible(_) => false,
                    Decision::Undecided => panic!("no budget, no undecided"),
                };
            }
            (from..hosts.len()).all(|i| {
                set.push(hosts[i]);
                let ok = go(an, hosts, i + 1, k, set);
                set.pop();
                ok
            })
        }
        k > hosts.len() || go(an, hosts, 0, k, &mut set)
    }

    fn arb_pool() -> impl Strategy<Value = String> {
        (
            prop::collection::vec((10i64..90, 2i64..12), 3..7),
            prop::collection::vec(
                (
                    0usize..7,
                    1i64..40,
                    1i64..6,
                    prop::option::weighted(0.25, 0u8..4),
                ),
                0..14,
            ),
        )
            .prop_map(|(caps, vms)| {
                let n = caps.len();
                let vms: Vec<_> = vms
                    .into_iter()
                    .map(|(h, m, c, g)| (h % n, m, c, g))
                    .collect();
                pool_text(&caps, &vms)
            })
    }

    proptest! {
        /// Lists the heuristic makes are accepted by the checker, and prove
        /// k: every k-set is then survived, each decided exactly.
        #[test]
        fn accepted_lists_are_survived(text in arb_pool(), k in 1usize..4) {
            let pool = crate::parse_pool(&text).unwrap();
            let an = Analysis::new(&pool);
            // The heuristic keeps to the conditions the checker asks.
            if let Some(l) = lists(&an, k, &Budget::default()) {
                prop_assert!(proves(&an, &l), "lists made for {k} refused");
            }
            if tolerates(&an, k, &Budget::default()) {
                prop_assert!(brute(&an, k), "lists for {k} accepted, a {k}-set fails");
            }
        }

        /// Lists drawn at random, not by the heuristic, are accepted only
        /// when every k-set is survived: the checker, not the heuristic, is
        /// the proof.
        #[test]
        fn accepted_random_lists_are_survived(
            text in arb_pool(),
            k in 1usize..4,
            picks in prop::collection::vec((0usize..7, any::<bool>()), 14),
        ) {
            let pool = crate::parse_pool(&text).unwrap();
            let an = Analysis::new(&pool);
            // Each VM's restart targets from a random start, in either
            // direction: lists a checker could wrongly accept.
            let of: Vec<(VmId, Vec<HostId>)> = an
                .candidates
                .iter()
                .flat_map(|&h| an.items[h].iter().copied())
                .zip(&picks)
                .map(|(v, &(start, back))| {
                    let mut t: Vec<HostId> = an.agility.targets.of(v).collect();
                    if back {
                        t.reverse();
                    }
                    let n = t.len().max(1);
                    t.rotate_left(start % n);
                    t.truncate(k);
                    (v, t)
                })
                .collect();
            let lists = Lists { k, of };
            if proves(&an, &lists) {
                prop_assert!(brute(&an, k), "random lists for {k} accepted, a {k}-set fails");
            }
        }
    }

    #[test]
    fn lists_prove_a_roomy_pool_and_not_a_full_one() {
        // Four hosts of 100, one VM of 20 each: any two fail and the other
        // two take 40 between them.
        let roomy = pool_text(
            &[(100, 16), (100, 16), (100, 16), (100, 16)],
            &[
                (0, 20, 1, None),
                (1, 20, 1, None),
                (2, 20, 1, None),
                (3, 20, 1, None),
            ],
        );
        let pool = crate::parse_pool(&roomy).unwrap();
        let an = Analysis::new(&pool);
        assert!(tolerates(&an, 2, &Budget::default()));
        assert!(brute(&an, 2));
        // At 90 per VM a single failure already strands one.
        let full = pool_text(
            &[(100, 16), (100, 16), (100, 16)],
            &[(0, 90, 1, None), (1, 90, 1, None), (2, 90, 1, None)],
        );
        let pool = crate::parse_pool(&full).unwrap();
        let an = Analysis::new(&pool);
        assert!(!tolerates(&an, 1, &Budget::default()));
    }

    #[test]
    fn the_checker_rejects_lists_that_strand_a_pair() {
        // h0 and h1 hold a VM of 60 each; h2 and h3 have 100 free. Lists
        // that send both VMs first to h2 overload it when h0 and h1 fail:
        // the k largest loads on h2 (60 + 60) exceed its spare.
        let text = pool_text(
            &[(100, 16), (100, 16), (100, 16), (100, 16)],
            &[(0, 60, 1, None), (1, 60, 1, None)],
        );
        let pool = crate::parse_pool(&text).unwrap();
        let an = Analysis::new(&pool);
        let bad = Lists {
            k: 2,
            of: vec![(0, vec![2, 3]), (1, vec![2, 3])],
        };
        assert!(!proves(&an, &bad));
        // Lists that never share a host do prove it, if each list avoids
        // the other failing host: h0's VM can go to h1 only when h1 holds
        // no more than its spare, which here it does (40 free of 100).
        let good = Lists {
            k: 2,
            of: vec![(0, vec![2, 1]), (1, vec![3, 0])],
        };
        assert!(!proves(&an, &good), "h1 has 40 free, not 60");
        // One VM per anti-affinity group per host: two members listing one
        // host are refused even when it has the room.
        let text = pool_text(
            &[(100, 16), (100, 16), (300, 16), (300, 16)],
            &[(0, 60, 1, Some(0)), (1, 60, 1, Some(0))],
        );
        let pool = crate::parse_pool(&text).unwrap();
        let an = Analysis::new(&pool);
        let shared = Lists {
            k: 2,
            of: vec![(0, vec![2, 3]), (1, vec![3, 2])],
        };
        assert!(!proves(&an, &shared));
        let apart = Lists {
            k: 1,
            of: vec![(0, vec![2]), (1, vec![3])],
        };
        assert!(proves(&an, &apart));
        assert!(brute(&an, 1));
    }
}
