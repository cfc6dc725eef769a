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
//! Failing sets that no single VM explains (the displaced VMs together
//! fragment the survivors' room in several resources) are looked for by a
//! local search ([`local`]): grow a set by the host that leaves it closest
//! to failing, by a packing heuristic's unplaced share and the tightest
//! resource's aggregate slack, swap hosts in and out, shrink it.
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

/// Hosts looked at per step of [`local`]: the most loaded by the
/// aggregate measure, and as many of those that took the most of the
/// set's displaced VMs in its heuristic packing.
const LOCAL_CANDIDATES: usize = 8;
/// Rounds of swaps per size tried by [`local`].
const LOCAL_ROUNDS: usize = 6;
/// Items past which [`Pressure::deficit`] is not asked (its instance and
/// packing grow with them): the growth stops there.
const LOCAL_ITEMS: usize = 200_000;

/// What [`local`] needs of a pool, computed once: per candidate host the
/// share of the survivors' capacity its failure takes (its displaced
/// demand plus its own spare, per resource, over the pool's spare less
/// what hosts already down displace).
pub(crate) struct Pressure<'a, 'p> {
    an: &'a Analysis<'p>,
    /// Per host and resource, `(D_h[r] + S_h[r]) / T[r]` (0 for hosts that
    /// are not candidates).
    share: Vec<Vec<f64>>,
    /// Per host, its protected VMs to restart.
    items: Vec<usize>,
}

/// How a failure set fares: the packing heuristic's unplaced share (0:
/// the heuristic placed everything) and the tightest resource's
/// aggregate slack (lower is tighter).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Score {
    pub deficit: f64,
    pub slack: f64,
}

impl Score {
    /// Whether `self` is closer to failing than `other`.
    fn worse_than(&self, other: &Score) -> bool {
        self.deficit > other.deficit || (self.deficit == other.deficit && self.slack < other.slack)
    }
}

impl<'a, 'p> Pressure<'a, 'p> {
    pub(crate) fn new(an: &'a Analysis<'p>) -> Self {
        let pool = an.pool;
        let nres = pool.resources.len();
        let nh = pool.hosts.len();
        let mut total = vec![0f64; nres];
        for h in (0..nh).filter(|&h| an.receives[h]) {
            for r in 0..nres {
                total[r] += an.spare[h][r].max(0) as f64;
            }
        }
        for &h in &an.down {
            for &v in &an.items[h] {
                for r in 0..nres {
                    total[r] -= pool.vms[v].demand[r] as f64;
                }
            }
        }
        let mut share = vec![Vec::new(); nh];
        for &h in &an.candidates {
            share[h] = (0..nres)
                .map(|r| {
                    let d: i64 = an.items[h].iter().map(|&v| pool.vms[v].demand[r]).sum();
                    let s = if an.receives[h] {
                        an.spare[h][r].max(0)
                    } else {
                        0
                    };
                    if total[r] > 0.0 {
                        (d + s) as f64 / total[r]
                    } else {
                        (d + s) as f64
                    }
                })
                .collect();
        }
        let items = (0..nh).map(|h| an.items[h].len()).collect();
        Pressure { an, share, items }
    }

    /// The largest share of any resource `h`'s failure takes.
    fn weight(&self, h: HostId) -> f64 {
        self.share[h].iter().copied().fold(0.0, f64::max)
    }

    /// How `set` fares, and per host the share of the set's displaced
    /// demand the heuristic packing put there.
    pub(crate) fn score(&self, set: &[HostId]) -> (Score, Vec<(f64, HostId)>) {
        let nres = self.an.pool.resources.len();
        let slack = (0..nres)
            .map(|r| 1.0 - set.iter().map(|&h| self.share[h][r]).sum::<f64>())
            .fold(f64::INFINITY, f64::min);
        let sc = self.an.scenario(&self.an.mask(set));
        let (mut deficit, took) = deficit(&sc.instance);
        // A set the packing heuristics of `pack` place is feasible: not
        // worth an exact decision.
        if deficit > 0.0 && crate::pack::greedy::pack(&sc.instance).is_some() {
            deficit = 0.0;
        }
        let took = took
            .into_iter()
            .enumerate()
            .filter(|&(_, x)| x > 0.0)
            .map(|(t, x)| (x, sc.hosts[t]))
            .collect();
        (Score { deficit, slack }, took)
    }
}

/// Best-fit decreasing (items by their share of the targets' capacity),
/// placing what it can: the summed size keys of the items it could not
/// place (0 when it placed all), and per target the size keys placed
/// there. A heuristic measure of how far the instance is from a packing:
/// it proves nothing either way.
pub(crate) fn deficit(inst: &crate::pack::Instance) -> (f64, Vec<f64>) {
    use crate::pack::greedy::GroupsUsed;
    let nres = inst.nres;
    let keys = crate::pack::size_keys(inst);
    let mut order: Vec<usize> = (0..inst.items()).collect();
    order.sort_by(|&a, &b| keys[b].total_cmp(&keys[a]).then(a.cmp(&b)));
    let scale: Vec<f64> = (0..nres)
        .map(|r| {
            let total: i64 = (0..inst.targets())
                .map(|t| inst.cap[t * nres + r].max(0))
                .sum();
            if total > 0 { 1.0 / total as f64 } else { 0.0 }
        })
        .collect();
    let mut rem = inst.cap.clone();
    let mut used = GroupsUsed::for_instance(inst);
    let mut took = vec![0f64; inst.targets()];
    let mut left = 0.0;
    for i in order {
        let mut best: Option<(f64, u32)> = None;
        for &t in &inst.elig[i] {
            let tu = t as usize;
            if !crate::pack::fits(inst, &rem, i, tu) || !used.allows(inst, i, t) {
                continue;
            }
            let slack: f64 = (0..nres)
                .map(|r| (rem[tu * nres + r] - inst.demand[i * nres + r]) as f64 * scale[r])
                .sum();
            if best.is_none_or(|(k, _)| slack < k) {
                best = Some((slack, t));
            }
        }
        match best {
            Some((_, t)) => {
                let tu = t as usize;
                for r in 0..nres {
                    rem[tu * nres + r] -= inst.demand[i * nres + r];
                }
                used.take_item(inst, i, t);
                took[tu] += keys[i];
            }
            None => left += keys[i].max(f64::MIN_POSITIVE),
        }
    }
    (left, took)
}

/// A local search for a failing set smaller than `most + 1` hosts,
/// from `start` (a failing set already proved, or nothing): grow a set
/// from the hosts of `candidates` one at a time, each time by the host
/// that leaves it closest to failing ([`Pressure::score`]: the packing
/// heuristic's deficit, then the aggregate slack), until the heuristic
/// fails; then shrink it while a host can be taken out, or swapped for
/// another and one taken out, with the heuristic still failing. Every set
/// the heuristic fails is asked of `proof` (the caller's exact decision),
/// and only a set `proof` proves infeasible counts. Stops when `stop`
/// says so.
pub(crate) fn local(
    p: &Pressure,
    candidates: &[HostId],
    most: usize,
    start: Option<Vec<HostId>>,
    stop: impl Fn() -> bool,
    mut proof: impl FnMut(&[HostId]) -> Option<Infeasible>,
) -> Option<(Vec<HostId>, Infeasible)> {
    let mut by_weight: Vec<HostId> = candidates.to_vec();
    by_weight.sort_by(|&a, &b| p.weight(b).total_cmp(&p.weight(a)).then(a.cmp(&b)));
    // The hosts worth trying beside `set`: the heaviest, and those that
    // took the most of its displaced VMs.
    let next = |set: &[HostId], took: &[(f64, HostId)]| -> Vec<HostId> {
        let mut out: Vec<HostId> = by_weight
            .iter()
            .copied()
            .filter(|h| !set.contains(h))
            .take(LOCAL_CANDIDATES)
            .collect();
        let mut took: Vec<(f64, HostId)> = took
            .iter()
            .copied()
            .filter(|(_, h)| !set.contains(h) && candidates.contains(h))
            .collect();
        took.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        for (_, h) in took.into_iter().take(LOCAL_CANDIDATES) {
            if !out.contains(&h) {
                out.push(h);
            }
        }
        out
    };
    let rounds = LOCAL_ROUNDS;
    let mut best: Option<(Vec<HostId>, Infeasible)> = None;
    // Grow from nothing while that may beat `start`.
    let limit = start
        .as_ref()
        .map_or(most, |s| s.len().saturating_sub(1))
        .min(most);
    let grown = grow(p, &next, limit, &stop).and_then(|(score, set)| {
        let (score, set) = if score.deficit == 0.0 {
            swaps(p, &next, set, score, rounds, &stop)?
        } else {
            (score, set)
        };
        (score.deficit > 0.0 && !stop()).then_some(())?;
        proof(&set).map(|pr| (set, pr))
    });
    let mut set = match (grown, start) {
        (Some((set, pr)), _) => {
            best = Some((sorted(&set), pr));
            set
        }
        (None, Some(s)) => s,
        (None, None) => return None,
    };
    // Shrink: one host fewer at a time, by removal or by swaps after the
    // removal closest to failing.
    'shrink: while set.len() > 1 && !stop() {
        let mut tries: Vec<(Score, Vec<HostId>)> = Vec::new();
        for i in 0..set.len() {
            if stop() {
                break 'shrink;
            }
            let mut s = set.clone();
            s.remove(i);
            let (score, _) = p.score(&s);
            tries.push((score, s));
        }
        tries.sort_by(|a, b| {
            b.0.deficit
                .total_cmp(&a.0.deficit)
                .then(a.0.slack.total_cmp(&b.0.slack))
        });
        // Removals the heuristic still fails, most failing first.
        for (_, s) in tries.iter().filter(|(score, _)| score.deficit > 0.0) {
            if stop() {
                break 'shrink;
            }
            if let Some(pr) = proof(s) {
                best = Some((sorted(s), pr));
                set = s.clone();
                continue 'shrink;
            }
        }
        let Some((score, s)) = tries.into_iter().next() else {
            break;
        };
        if score.deficit > 0.0 {
            break; // the heuristic fails it but the exact decision does not
        }
        let Some((score, s)) = swaps(p, &next, s, score, rounds, &stop) else {
            break;
        };
        if score.deficit == 0.0 || stop() {
            break;
        }
        match proof(&s) {
            Some(pr) => {
                best = Some((sorted(&s), pr));
                set = s;
            }
            None => break,
        }
    }
    best
}

fn sorted(set: &[HostId]) -> Vec<HostId> {
    let mut s = set.to_vec();
    s.sort_unstable();
    s
}

/// Grows a set one host at a time (from those `next` offers), each time
/// by the host that leaves it closest to failing, until the heuristic
/// fails or it has `most` hosts; `None` when stopped.
fn grow(
    p: &Pressure,
    next: &dyn Fn(&[HostId], &[(f64, HostId)]) -> Vec<HostId>,
    most: usize,
    stop: &dyn Fn() -> bool,
) -> Option<(Score, Vec<HostId>)> {
    let items = |set: &[HostId]| set.iter().map(|&h| p.items[h]).sum::<usize>();
    let mut set = Vec::new();
    let (mut score, mut took) = p.score(&set);
    while set.len() < most && score.deficit == 0.0 {
        let mut step: Option<(Score, Vec<(f64, HostId)>, HostId)> = None;
        for h in next(&set, &took) {
            if stop() {
                return None;
            }
            set.push(h);
            if items(&set) <= LOCAL_ITEMS {
                let (s, t) = p.score(&set);
                if step.as_ref().is_none_or(|(b, _, _)| s.worse_than(b)) {
                    step = Some((s, t, h));
                }
            }
            set.pop();
        }
        let (s, t, h) = step?;
        set.push(h);
        (score, took) = (s, t);
    }
    (!set.is_empty()).then_some((score, set))
}

/// Steepest-descent swaps (one host of `set` for one `next` offers) for
/// at most `rounds` rounds, while the heuristic packs the set and a swap
/// brings it closer to failing; `None` when stopped.
fn swaps(
    p: &Pressure,
    next: &dyn Fn(&[HostId], &[(f64, HostId)]) -> Vec<HostId>,
    mut set: Vec<HostId>,
    mut score: Score,
    rounds: usize,
    stop: &dyn Fn() -> bool,
) -> Option<(Score, Vec<HostId>)> {
    for _ in 0..rounds {
        if score.deficit > 0.0 {
            break;
        }
        let (_, took) = p.score(&set);
        let offers: Vec<HostId> = next(&set, &took);
        let mut step: Option<(Score, Vec<HostId>)> = None;
        for i in 0..set.len() {
            for &h in &offers {
                if stop() {
                    return None;
                }
                let mut c = set.clone();
                c[i] = h;
                let (cs, _) = p.score(&c);
                if cs.worse_than(&score) && step.as_ref().is_none_or(|(b, _)| cs.worse_than(b)) {
                    step = Some((cs, c));
                }
            }
        }
        match step {
            Some((cs, c)) => (score, set) = (cs, c),
            None => break,
        }
    }
    Some((score, set))
}
