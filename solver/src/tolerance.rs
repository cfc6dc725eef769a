//! The exact number of simultaneous host failures a pool tolerates.
//!
//! `max_tolerable` is the largest k such that every set of k up hosts can fail
//! and every protected, agile VM of those hosts (and of hosts already down)
//! can be restarted on the survivors. Tolerance is monotone (a pool that
//! tolerates k tolerates k - 1), so k grows from 1 until a set fails.
//!
//! Before any set is enumerated, an aggregate bound settles the largest k it
//! can: per resource, the k hosts whose loss costs the most (the protected
//! demand they displace plus their own spare) form a set that is infeasible as
//! soon as that cost exceeds what the pool has spare. Its k is an upper bound,
//! and that set the witness, unless a smaller set fails first.
//!
//! For each k the sets are ranked, heaviest hosts first, and decided in
//! parallel (rayon); the first failing set by rank wins, so the answer never
//! depends on the number of threads.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rayon::prelude::*;

use crate::agility::NotAgile;
use crate::model::*;
use crate::pack::{self, Budget, Decision, Infeasible};
use crate::plan::{self, Scope};
use crate::scenario::Analysis;

/// What to ask of [`check`].
#[derive(Clone, Copy, Debug, Default)]
pub struct CheckOptions<'a> {
    /// K to check against; the file's `host_failures_to_tolerate` when `None`.
    pub tolerate: Option<u32>,
    pub time_limit: Option<Duration>,
    /// Compute a witness even when the pool meets K.
    pub explain: bool,
    pub cancel: Option<&'a std::sync::atomic::AtomicBool>,
}

/// One infeasible failure set, with what it strands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Witness {
    pub failed: Vec<HostId>,
    /// Protected VMs the best partial plan for this set cannot restart.
    pub unplaced: Vec<VmId>,
    pub reason: String,
    /// The resource short in aggregate, with (needed, spare), if one is.
    pub short: Option<(ResourceId, i64, i64)>,
}

#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Stats {
    /// Failure sets decided (by any means).
    pub scenarios: u64,
    pub elapsed: Duration,
    /// Sets settled by each stage: bounds, greedy, search, ILP.
    pub by_stage: [u64; 4],
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckReport {
    pub pool: String,
    pub configured: u32,
    /// Exact when `exact`; otherwise a proved lower bound.
    pub max_tolerable: u32,
    /// A proved upper bound (equal to `max_tolerable` when exact).
    pub upper_bound: u32,
    pub exact: bool,
    pub witness: Option<Witness>,
    pub not_agile: Vec<NotAgile>,
    pub warnings: Vec<String>,
    /// VMs of hosts already down cannot all be restarted even with no
    /// further failure (then `max_tolerable` is 0 and the pool is not ok).
    pub stranded_now: bool,
    pub stats: Stats,
}

/// The verdict of a check, which also gives the exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Ok,
    NotOk,
    Undecided,
}

impl CheckReport {
    pub fn ok(&self) -> bool {
        self.verdict() == Verdict::Ok
    }

    pub fn verdict(&self) -> Verdict {
        if !self.not_agile.is_empty() || self.stranded_now || self.upper_bound < self.configured {
            Verdict::NotOk
        } else if self.max_tolerable >= self.configured {
            Verdict::Ok
        } else {
            Verdict::Undecided
        }
    }
}

/// Decides the pool's exact tolerance (or proved bounds, if the time limit
/// runs out).
pub fn check(pool: &Pool, opts: &CheckOptions) -> CheckReport {
    let start = Instant::now();
    let budget = Budget {
        deadline: opts.time_limit.map(|d| start + d),
        cancel: opts.cancel,
    };
    let an = Analysis::new(pool);
    let configured = opts.tolerate.unwrap_or(pool.ha.host_failures_to_tolerate);
    let mut warnings = warnings(&an);
    let n = an.candidates.len() as u32;
    let mut stats = Stats::default();
    let not_agile = if an.failover {
        an.agility.not_agile.clone()
    } else {
        Vec::new()
    };

    let mut report = CheckReport {
        pool: pool.name.clone(),
        configured,
        max_tolerable: n,
        upper_bound: n,
        exact: true,
        witness: None,
        not_agile,
        warnings: Vec::new(),
        stranded_now: false,
        stats: Stats::default(),
    };
    if pool.ha.enabled && pool.ha.mode == HaMode::Vm {
        let any = pool
            .vms
            .iter()
            .any(|v| v.restart == Restart::Protected && v.power.is_active());
        if any {
            report.max_tolerable = 0;
            report.upper_bound = 0;
            if configured > 0 || opts.explain {
                report.witness = Some(vm_mode_witness(&an));
            }
        }
    } else if an.failover && (an.has_items()) {
        let search = Tolerance::new(&an, &budget);
        let outcome = search.run(configured, opts.explain);
        report.max_tolerable = outcome.lower;
        report.upper_bound = outcome.upper;
        report.exact = outcome.lower == outcome.upper;
        stats.scenarios = search.scenarios.load(Ordering::Relaxed);
        for (s, c) in stats.by_stage.iter_mut().zip(&search.by_stage) {
            *s = c.load(Ordering::Relaxed);
        }
        if let Some(failed) = outcome.witness {
            let wanted = report.upper_bound < configured || opts.explain;
            if wanted {
                report.witness = Some(witness(&an, &failed, outcome.proof.as_ref(), &budget));
            }
        }
        if outcome.current_infeasible {
            report.stranded_now = true;
            report.witness = Some(witness(&an, &[], outcome.proof.as_ref(), &budget));
            warnings.push(
                "VMs of hosts already down cannot all be restarted even if no other host fails"
                    .to_string(),
            );
        }
    }
    report.warnings = warnings;
    stats.elapsed = start.elapsed();
    report.stats = stats;
    report
}

fn warnings(an: &Analysis) -> Vec<String> {
    let pool = an.pool;
    let mut w = Vec::new();
    if !pool.ha.enabled {
        w.push("HA is disabled: no VM is protected".to_string());
        return w;
    }
    if pool.ha.mode == HaMode::Vm {
        w.push("HA mode is \"vm\": VMs restart on their own host only, so no host failure is tolerated".to_string());
    }
    for (h, host) in pool.hosts.iter().enumerate() {
        if an.overloaded[h] {
            let over: Vec<String> = (0..pool.resources.len())
                .filter(|&r| an.spare[h][r] < 0)
                .map(|r| format!("{} by {}", pool.resources[r], -an.spare[h][r]))
                .collect();
            w.push(format!(
                "host {} is overloaded ({}): it receives no restarted VM",
                host.name,
                over.join(", ")
            ));
        }
        if host.state == HostState::Down {
            let waiting = pool
                .vms
                .iter()
                .filter(|v| v.host == h && v.power.is_active() && v.restart != Restart::Unprotected)
                .count();
            if waiting > 0 {
                w.push(format!(
                    "host {} is down: {waiting} VM{} await restart",
                    host.name,
                    if waiting == 1 { "" } else { "s" }
                ));
            }
        }
    }
    w
}

fn vm_mode_witness(an: &Analysis) -> Witness {
    let pool = an.pool;
    // Any single up host holding a protected VM is a failing set.
    let failed = an
        .candidates
        .iter()
        .copied()
        .find(|&h| {
            pool.vms
                .iter()
                .any(|v| v.host == h && v.restart == Restart::Protected && v.power.is_active())
        })
        .map(|h| vec![h])
        .unwrap_or_default();
    let unplaced = pool
        .vms
        .iter()
        .enumerate()
        .filter(|(_, v)| {
            v.restart == Restart::Protected && v.power.is_active() && failed.contains(&v.host)
        })
        .map(|(i, _)| i)
        .collect();
    Witness {
        failed,
        unplaced,
        reason: "HA mode is \"vm\": there is no host failover".to_string(),
        short: None,
    }
}

/// Builds the explanation of an infeasible set.
fn witness(
    an: &Analysis,
    failed: &[HostId],
    proof: Option<&Infeasible>,
    budget: &Budget,
) -> Witness {
    let pool = an.pool;
    let mask = an.mask(failed);
    let sc = an.scenario(&mask);
    let inst = &sc.instance;
    // Aggregate shortage, counted over survivors that receive VMs.
    let mut short = None;
    for r in 0..inst.nres {
        let need: i64 = (0..inst.items()).map(|i| inst.demand(i)[r]).sum();
        let have: i64 = (0..inst.targets()).map(|t| inst.cap(t)[r].max(0)).sum();
        if need > have && short.is_none_or(|(_, n0, h0): (usize, i64, i64)| need - have > n0 - h0) {
            short = Some((r, need, have));
        }
    }
    let reason = match (short, proof) {
        (Some((r, need, have)), _) => format!(
            "{} short by {}: the VMs to restart need {need}, the surviving hosts have {have} spare",
            pool.resources[r],
            need - have
        ),
        (None, Some(Infeasible::NoTarget { item })) => {
            let v = sc.vms[*item];
            format!("{} fits on no surviving host it may run on", pool.vms[v].name)
        }
        (None, Some(Infeasible::AntiAffinity { members, targets, .. })) => {
            let first = (0..inst.items())
                .find(|&i| inst.group[i] != pack::NO_GROUP)
                .map(|i| pool.vms[sc.vms[i]].anti_affinity.clone().unwrap_or_default())
                .unwrap_or_default();
            format!(
                "anti-affinity: {members} VMs of a group (e.g. {first}) need distinct hosts but only {targets} surviving hosts can take them"
            )
        }
        _ => "the spare capacity suffices in total but no placement fits every VM (fragmentation, eligibility or anti-affinity)".to_string(),
    };
    let p = plan::plan(an, failed, Scope::ProtectedOnly, budget);
    Witness {
        failed: failed.to_vec(),
        unplaced: p.unplaced.iter().map(|u| u.vm).collect(),
        reason,
        short,
    }
}

struct Outcome {
    lower: u32,
    upper: u32,
    witness: Option<Vec<HostId>>,
    proof: Option<Infeasible>,
    current_infeasible: bool,
}

struct Tolerance<'a, 'p> {
    an: &'a Analysis<'p>,
    budget: &'a Budget<'a>,
    /// Candidates, heaviest first (ties by name).
    ranked: Vec<HostId>,
    scenarios: AtomicU64,
    by_stage: [AtomicU64; 4],
}

enum SetResult {
    Infeasible(Vec<HostId>, Infeasible),
    Undecided,
}

impl<'a, 'p> Tolerance<'a, 'p> {
    fn new(an: &'a Analysis<'p>, budget: &'a Budget<'a>) -> Self {
        let pool = an.pool;
        let nres = pool.resources.len();
        let total: Vec<f64> = (0..nres)
            .map(|r| {
                an.candidates
                    .iter()
                    .map(|&h| an.spare[h][r].max(0) as f64)
                    .sum::<f64>()
                    .max(1.0)
            })
            .collect();
        let weight = |h: HostId| -> f64 {
            let (d, s) = cost(an, h);
            (0..nres).map(|r| (d[r] + s[r]) as f64 / total[r]).sum()
        };
        let mut ranked = an.candidates.clone();
        let weights: Vec<f64> = (0..pool.hosts.len())
            .map(|h| {
                if pool.hosts[h].state == HostState::Up {
                    weight(h)
                } else {
                    0.0
                }
            })
            .collect();
        ranked.sort_by(|&a, &b| {
            weights[b]
                .total_cmp(&weights[a])
                .then_with(|| pool.hosts[a].name.cmp(&pool.hosts[b].name))
        });
        Tolerance {
            an,
            budget,
            ranked,
            scenarios: AtomicU64::new(0),
            by_stage: Default::default(),
        }
    }

    fn run(&self, configured: u32, explain: bool) -> Outcome {
        let n = self.ranked.len() as u32;
        let mut out = Outcome {
            lower: 0,
            upper: n,
            witness: None,
            proof: None,
            current_infeasible: false,
        };
        // The current state: VMs of hosts already down.
        if !self.an.down.is_empty() {
            match self.decide(&[]) {
                Ok(()) => {}
                Err(SetResult::Infeasible(set, proof)) => {
                    out.upper = 0;
                    out.witness = Some(set);
                    out.proof = Some(proof);
                    out.current_infeasible = true;
                    return out;
                }
                Err(SetResult::Undecided) => return out,
            }
        }
        if let Some((set, proof)) = self.aggregate_bound() {
            out.upper = set.len() as u32 - 1;
            out.witness = Some(set);
            out.proof = Some(proof);
        }
        let _ = (configured, explain);
        for k in 1..=out.upper.min(n) {
            match self.first_failing(k as usize) {
                None => out.lower = k,
                Some(SetResult::Infeasible(set, proof)) => {
                    out.upper = k - 1;
                    out.witness = Some(set);
                    out.proof = Some(proof);
                    break;
                }
                Some(SetResult::Undecided) => break,
            }
        }
        if out.lower == n {
            out.upper = n;
        }
        out
    }

    /// The smallest set, over all resources, that the aggregate condition
    /// proves infeasible: the k heaviest hosts by (displaced demand + own
    /// spare) for some resource, once that exceeds the pool's spare.
    fn aggregate_bound(&self) -> Option<(Vec<HostId>, Infeasible)> {
        let an = self.an;
        let nres = an.pool.resources.len();
        let costs: Vec<(Vec<i64>, Vec<i64>)> = self.ranked.iter().map(|&h| cost(an, h)).collect();
        let mut base_need = vec![0i64; nres];
        for &h in &an.down {
            for &v in &an.items[h] {
                for r in 0..nres {
                    base_need[r] += an.pool.vms[v].demand[r];
                }
            }
        }
        let total_spare: Vec<i64> = (0..nres)
            .map(|r| {
                (0..an.pool.hosts.len())
                    .filter(|&h| an.receives[h])
                    .map(|h| an.spare[h][r])
                    .sum()
            })
            .collect();
        let mut best: Option<(usize, Vec<HostId>, Infeasible)> = None;
        for r in 0..nres {
            let mut idx: Vec<usize> = (0..self.ranked.len()).collect();
            idx.sort_by_key(|&i| std::cmp::Reverse(costs[i].0[r] + costs[i].1[r]));
            let mut acc = 0i64;
            for (k, &i) in idx.iter().enumerate() {
                acc += costs[i].0[r] + costs[i].1[r];
                if acc > total_spare[r] - base_need[r] {
                    if best.as_ref().is_none_or(|(bk, _, _)| k + 1 < *bk) {
                        let mut set: Vec<HostId> =
                            idx[..=k].iter().map(|&i| self.ranked[i]).collect();
                        set.sort_unstable();
                        let need =
                            base_need[r] + idx[..=k].iter().map(|&i| costs[i].0[r]).sum::<i64>();
                        let have =
                            total_spare[r] - idx[..=k].iter().map(|&i| costs[i].1[r]).sum::<i64>();
                        best = Some((k + 1, set, Infeasible::Short { res: r, need, have }));
                    }
                    break;
                }
            }
        }
        best.map(|(_, set, proof)| {
            self.scenarios.fetch_add(1, Ordering::Relaxed);
            self.by_stage[0].fetch_add(1, Ordering::Relaxed);
            (set, proof)
        })
    }

    /// The first k-set, by rank, that is not proved feasible.
    fn first_failing(&self, k: usize) -> Option<SetResult> {
        let n = self.ranked.len();
        let total = binomial(n as u64, k as u64);
        const CHUNK: u128 = 256;
        let chunks = total.div_ceil(CHUNK);
        if chunks > u64::MAX as u128 {
            // Far beyond any time budget; decided by bounds only (issue-sized pools never get here).
            return Some(SetResult::Undecided);
        }
        (0..chunks as u64).into_par_iter().find_map_first(|c| {
            let start = c as u128 * CHUNK;
            let end = (start + CHUNK).min(total);
            let mut comb = unrank(n, k, start);
            let mut rank = start;
            let mut set = Vec::with_capacity(k);
            loop {
                set.clear();
                set.extend(comb.iter().map(|&i| self.ranked[i]));
                if let Err(e) = self.decide(&set) {
                    return Some(e);
                }
                rank += 1;
                if rank >= end || !next_combination(&mut comb, n) {
                    return None;
                }
            }
        })
    }

    fn decide(&self, set: &[HostId]) -> Result<(), SetResult> {
        if self.budget.expired() {
            return Err(SetResult::Undecided);
        }
        let mask = self.an.mask(set);
        let sc = self.an.scenario(&mask);
        let (d, stage) = pack::decide(&sc.instance, self.budget);
        self.scenarios.fetch_add(1, Ordering::Relaxed);
        self.by_stage[stage as usize].fetch_add(1, Ordering::Relaxed);
        match d {
            Decision::Feasible(_) => Ok(()),
            Decision::Infeasible(p) => {
                let mut s = set.to_vec();
                s.sort_unstable();
                Err(SetResult::Infeasible(s, p))
            }
            Decision::Undecided => Err(SetResult::Undecided),
        }
    }
}

/// (displaced protected demand, own spare if it receives VMs) of host `h`.
fn cost(an: &Analysis, h: HostId) -> (Vec<i64>, Vec<i64>) {
    let nres = an.pool.resources.len();
    let mut d = vec![0i64; nres];
    for &v in &an.items[h] {
        for r in 0..nres {
            d[r] += an.pool.vms[v].demand[r];
        }
    }
    let s = if an.receives[h] {
        an.spare[h].clone()
    } else {
        vec![0; nres]
    };
    (d, s)
}

fn binomial(n: u64, k: u64) -> u128 {
    if k > n {
        return 0;
    }
    let k = k.min(n - k);
    let mut acc: u128 = 1;
    for i in 0..k {
        acc = acc.saturating_mul((n - i) as u128) / (i as u128 + 1);
    }
    acc
}

/// The k-combination of 0..n with lexicographic rank `rank`.
fn unrank(n: usize, k: usize, mut rank: u128) -> Vec<usize> {
    let mut out = Vec::with_capacity(k);
    let mut x = 0usize;
    for i in 0..k {
        loop {
            let c = binomial((n - x - 1) as u64, (k - i - 1) as u64);
            if rank < c {
                break;
            }
            rank -= c;
            x += 1;
        }
        out.push(x);
        x += 1;
    }
    out
}

/// Advances to the next k-combination of 0..n in lexicographic order.
fn next_combination(comb: &mut [usize], n: usize) -> bool {
    let k = comb.len();
    let mut i = k;
    while i > 0 {
        i -= 1;
        if comb[i] < n - k + i {
            comb[i] += 1;
            for j in i + 1..k {
                comb[j] = comb[j - 1] + 1;
            }
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unrank_walks_every_combination_in_order() {
        let (n, k) = (7, 3);
        let mut comb = unrank(n, k, 0);
        let mut all = vec![comb.clone()];
        while next_combination(&mut comb, n) {
            all.push(comb.clone());
        }
        assert_eq!(all.len() as u128, binomial(n as u64, k as u64));
        for (r, c) in all.iter().enumerate() {
            assert_eq!(&unrank(n, k, r as u128), c);
        }
        let expected: Vec<Vec<usize>> = itertools::Itertools::combinations(0..n, k).collect();
        assert_eq!(all, expected);
    }
}
