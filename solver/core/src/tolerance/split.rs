//! One pool's failure-set search split into parts that run anywhere: other
//! threads, processes or machines (the Python package runs them as Dask
//! tasks), with exactly the answer of [`check`](super::check).
//!
//! `check` raises k while the set-level bounds leave it open and, for each
//! such k, searches the k-sets by their first unit (host, or failure domain,
//! in the search's ranking): the witness is the failing set of the smallest
//! first unit that has one, and under it the first one the depth-first
//! search meets. [`check_split`] runs that same check but hands each k the
//! bounds leave open to its caller as a [`Round`]. The caller splits the
//! round's first units into [`Part`]s ([`Round::parts`], or any partition of
//! its own), has each decided by [`search_part`] wherever it likes, and
//! returns the [`PartAnswer`]s. The round's answer is the found set of the
//! smallest first unit, which is what `check` finds, whatever the
//! partition: so the report is `check`'s (its statistics aside, which count
//! every part's work). A part whose first units all come after a found one
//! cannot change the answer and need not be answered.
//!
//! Everything the bounds settle stays with the caller (its proved bounds
//! decide which k are searched at all); a part only searches its subtrees.
//! Parts and answers are plain data (serde) so that they can travel, and
//! each names its round by a key of the search's ranking: a part answered
//! for another pool, another build of haplan or other options is refused,
//! never merged.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::{CheckOptions, CheckReport, Counters, Goal, SetResult, Strategy, Tolerance, check_to};
use crate::model::{HostId, HostState, Pool};
use crate::pack::{Budget, Infeasible};
use crate::scenario::Analysis;

/// One failure-set size that the bounds leave open, to be searched by parts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Round {
    /// The size of the sets: hosts, or failure domains when `domains`.
    pub k: u32,
    /// The first units a k-set can have: positions `0..firsts` of the
    /// ranking.
    pub firsts: u32,
    pub domains: bool,
    /// Names the search (its ranking of units); parts and answers carry it.
    pub key: u64,
    pub strategy: Strategy,
    /// When the check's time limit runs out, if it has one.
    pub deadline: Option<Instant>,
}

/// First units of a [`Round`] to search: plain data, for [`search_part`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Part {
    pub k: u32,
    pub domains: bool,
    pub key: u64,
    pub strategy: Strategy,
    /// Positions in the ranking of the first unit of each set to search,
    /// increasing.
    pub firsts: Vec<u32>,
}

/// What [`search_part`] found in a [`Part`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartAnswer {
    pub part: Part,
    /// The smallest first unit of the part under which a failing set was
    /// found, or the time ran out; `None`: every set of the part is feasible.
    pub found: Option<Found>,
    pub stats: PartStats,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Found {
    pub first: u32,
    /// The first failing set under `first` and its proof; `None` when the
    /// budget ran out there before one was proved or every set refuted.
    pub failing: Option<Failing>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failing {
    /// Host ids, increasing.
    pub hosts: Vec<HostId>,
    pub proof: Infeasible,
}

/// A part's work, as `check`'s statistics count it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartStats {
    pub scenarios: u64,
    pub by_stage: [u64; 4],
    pub set_level: u64,
}

/// A part or an answer that does not fit its round: it is not merged.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SplitError {
    #[error(
        "the part belongs to another search (another pool, another build of haplan, or other options)"
    )]
    OtherSearch,
    #[error("invalid part: {0}")]
    BadPart(String),
    #[error("no answer covers first unit {0} of the round")]
    Uncovered(u32),
    #[error("first unit {0} is in more than one answer")]
    Overlap(u32),
    #[error("an answer's failing set cannot be right: {0}")]
    BadAnswer(String),
}

impl Round {
    fn of(t: &Tolerance, d: Option<&[Vec<HostId>]>, k: usize) -> Round {
        let units = d.map_or(t.ranked.len(), <[_]>::len);
        Round {
            k: k as u32,
            firsts: (units + 1 - k) as u32,
            domains: d.is_some(),
            key: key(t, d),
            strategy: t.strategy,
            deadline: t.budget.deadline,
        }
    }

    /// A part of this round with these first units (increasing).
    pub fn part(&self, firsts: Vec<u32>) -> Part {
        Part {
            k: self.k,
            domains: self.domains,
            key: self.key,
            strategy: self.strategy,
            firsts,
        }
    }

    /// At most `n` parts of consecutive first units, in order, of about
    /// equal work by the count of sets under each first unit (at position
    /// i of u units, C(u - 1 - i, k - 1)): early units carry far more sets.
    /// A caller that stops at a found set can drop the parts after it.
    pub fn parts(&self, n: usize) -> Vec<Part> {
        let firsts = self.firsts as usize;
        if firsts == 0 {
            return Vec::new();
        }
        let n = n.clamp(1, firsts);
        let weights = set_counts(firsts, self.k as usize);
        let total: f64 = weights.iter().sum();
        let mut parts = Vec::with_capacity(n);
        let mut current = Vec::new();
        let mut sum = 0.0;
        for (i, w) in weights.iter().enumerate() {
            current.push(i as u32);
            sum += w;
            let parts_after = n - parts.len() - 1;
            let units_after = firsts - i - 1;
            let share = total * (parts.len() + 1) as f64 / n as f64;
            if parts_after > 0 && (sum >= share || units_after == parts_after) {
                parts.push(self.part(std::mem::take(&mut current)));
            }
        }
        parts.push(self.part(current));
        parts
    }
}

/// Relative numbers of k-sets under each of `firsts` first units (the
/// largest 1), computed in logarithms so that large pools do not overflow.
fn set_counts(firsts: usize, k: usize) -> Vec<f64> {
    let units = firsts + k - 1;
    // ln C(units - 1 - i, k - 1), from the last first unit (C = 1) back.
    let mut ln = vec![0.0f64; firsts];
    for i in (0..firsts.saturating_sub(1)).rev() {
        let a = (units - 1 - i) as f64;
        let b = (units - i - k) as f64;
        ln[i] = ln[i + 1] + (a / b).ln();
    }
    let top = ln[0];
    ln.iter().map(|&l| (l - top).exp()).collect()
}

/// FNV-1a over the ranking of units (and the pool's host count), so that a
/// part is only ever merged into the search it came from.
fn key(t: &Tolerance, d: Option<&[Vec<HostId>]>) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |x: u64| {
        for b in x.to_le_bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    eat(t.an.pool.hosts.len() as u64);
    match d {
        None => t.ranked.iter().for_each(|&h| eat(h as u64)),
        Some(d) => {
            eat(u64::MAX);
            for unit in d {
                unit.iter().for_each(|&h| eat(h as u64));
                eat(u64::MAX - 1);
            }
        }
    }
    h
}

/// Decides the part: every k-set whose first unit is one of `part.firsts`,
/// as `check`'s search would (same ranking, pruning and stages), stopping at
/// the first failing set. Builds the search from the pool (the analysis and
/// set-level bounds: on large pools this costs as much as a small search,
/// so parts should be few and large).
pub fn search_part(pool: &Pool, part: &Part, budget: &Budget) -> Result<PartAnswer, SplitError> {
    let an = Analysis::new(pool);
    let searched = !(pool.ha.enabled && pool.ha.mode == crate::model::HaMode::Vm)
        && an.failover
        && an.has_items();
    if !searched {
        return Err(SplitError::OtherSearch);
    }
    let counters = Counters::default();
    let t = Tolerance::new(&an, budget, part.strategy, &counters);
    let order = match (part.domains, crate::domains::of(pool)) {
        (false, None) => None,
        (true, Some(domains)) => Some(t.domain_order(&domains)),
        _ => return Err(SplitError::OtherSearch),
    };
    let d = order.as_deref();
    if key(&t, d) != part.key {
        return Err(SplitError::OtherSearch);
    }
    let units = d.map_or(t.ranked.len(), <[_]>::len);
    let k = part.k as usize;
    if k == 0 || k > units {
        return Err(SplitError::BadPart(format!(
            "k = {k}, but there are {units} units"
        )));
    }
    let firsts = units + 1 - k;
    if let Some(w) = part.firsts.windows(2).find(|w| w[0] >= w[1]) {
        return Err(SplitError::BadPart(format!(
            "first units must increase, found {} then {}",
            w[0], w[1]
        )));
    }
    if let Some(&f) = part.firsts.last().filter(|&&f| f as usize >= firsts) {
        return Err(SplitError::BadPart(format!(
            "first unit {f}, but the round has {firsts}"
        )));
    }
    let found = part.firsts.par_iter().find_map_first(|&f| {
        let r = match d {
            Some(d) => t.failing_from_first_domain(d, f as usize, k),
            None => t.failing_from_first(f as usize, k),
        };
        r.map(|r| Found {
            first: f,
            failing: match r {
                SetResult::Infeasible(hosts, proof) => Some(Failing { hosts, proof }),
                SetResult::Undecided => None,
            },
        })
    });
    let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
    Ok(PartAnswer {
        part: part.clone(),
        found,
        stats: PartStats {
            scenarios: load(t.scenarios),
            by_stage: [0, 1, 2, 3].map(|s| load(&t.by_stage[s])),
            set_level: load(t.set_level),
        },
    })
}

/// [`check`](super::check), with every failure-set size the bounds leave
/// open searched by `run`: given a [`Round`], it has the round's parts
/// decided (by [`search_part`], anywhere) and returns their answers, or
/// `None` when it gave up on the round (the report then has the bounds
/// proved so far, `exact` false, as after a time limit). The answers must
/// cover every first unit up to the smallest found one (all of them when
/// none is found), each once.
pub fn check_split<F>(pool: &Pool, opts: &CheckOptions, run: F) -> Result<CheckReport, SplitError>
where
    F: FnMut(&Round) -> Option<Vec<PartAnswer>> + Send,
{
    let run = Mutex::new(run);
    let error = Mutex::new(None);
    let hook = |t: &Tolerance, d: Option<&[Vec<HostId>]>, k: usize| -> Option<SetResult> {
        let round = Round::of(t, d, k);
        let mut run = run.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(answers) = (*run)(&round) else {
            return Some(SetResult::Undecided);
        };
        merge(t, d, &round, &answers).unwrap_or_else(|e| {
            let mut error = error.lock().unwrap_or_else(PoisonError::into_inner);
            error.get_or_insert(e);
            Some(SetResult::Undecided)
        })
    };
    let report = check_to(pool, opts, Goal::Max, Some(&hook));
    match error.into_inner().unwrap_or_else(PoisonError::into_inner) {
        Some(e) => Err(e),
        None => Ok(report),
    }
}

/// The round's answer from its parts' answers: the found set of the
/// smallest first unit. Adds every part's statistics to `t`'s.
fn merge(
    t: &Tolerance,
    d: Option<&[Vec<HostId>]>,
    round: &Round,
    answers: &[PartAnswer],
) -> Result<Option<SetResult>, SplitError> {
    let firsts = round.firsts as usize;
    let mut covered = vec![false; firsts];
    let mut best: Option<&Found> = None;
    for a in answers {
        let p = &a.part;
        if (p.k, p.domains, p.key, p.strategy)
            != (round.k, round.domains, round.key, round.strategy)
        {
            return Err(SplitError::OtherSearch);
        }
        for &f in &p.firsts {
            let slot = covered.get_mut(f as usize).ok_or_else(|| {
                SplitError::BadPart(format!("first unit {f}, but the round has {firsts}"))
            })?;
            if std::mem::replace(slot, true) {
                return Err(SplitError::Overlap(f));
            }
        }
        if let Some(found) = &a.found {
            if !p.firsts.contains(&found.first) {
                return Err(SplitError::BadAnswer(format!(
                    "first unit {} is not in its part",
                    found.first
                )));
            }
            if best.is_none_or(|b| found.first < b.first) {
                best = Some(found);
            }
        }
    }
    let upto = best.map_or(firsts, |b| b.first as usize);
    if let Some(f) = covered[..upto].iter().position(|&c| !c) {
        return Err(SplitError::Uncovered(f as u32));
    }
    let add = |a: &AtomicU64, n: u64| {
        a.fetch_add(n, Ordering::Relaxed);
    };
    for a in answers {
        add(t.scenarios, a.stats.scenarios);
        for (s, n) in t.by_stage.iter().zip(a.stats.by_stage) {
            add(s, n);
        }
        add(t.set_level, a.stats.set_level);
    }
    let Some(found) = best else {
        return Ok(None);
    };
    let Some(failing) = &found.failing else {
        return Ok(Some(SetResult::Undecided));
    };
    let first = found.first as usize;
    let unit: &[HostId] = match d {
        Some(d) => &d[first],
        None => std::slice::from_ref(&t.ranked[first]),
    };
    plausible(t.an, failing, unit, d.map_or(round.k as usize, |_| 0))
        .map_err(SplitError::BadAnswer)?;
    Ok(Some(SetResult::Infeasible(
        failing.hosts.clone(),
        failing.proof.clone(),
    )))
}

/// Whether an answer's failing set can be one the search found: up hosts,
/// increasing, holding the first unit (`size` hosts when not 0), and a
/// proof whose indices fit the set's scenario (the witness reads them).
fn plausible(an: &Analysis, f: &Failing, unit: &[HostId], size: usize) -> Result<(), String> {
    let pool = an.pool;
    if f.hosts.windows(2).any(|w| w[0] >= w[1]) {
        return Err("its hosts do not increase".to_string());
    }
    if f.hosts
        .iter()
        .any(|&h| h >= pool.hosts.len() || pool.hosts[h].state != HostState::Up)
    {
        return Err("a host in it is not an up host of the pool".to_string());
    }
    if size != 0 && f.hosts.len() != size {
        return Err(format!("{} hosts, not {size}", f.hosts.len()));
    }
    if !unit.iter().all(|h| f.hosts.binary_search(h).is_ok()) {
        return Err("it lacks its first unit".to_string());
    }
    let sc = an.scenario(&an.mask(&f.hosts));
    let fits = match &f.proof {
        Infeasible::NoTarget { item } => *item < sc.instance.items(),
        Infeasible::Short { res, .. } | Infeasible::Blocks { res, .. } => *res < sc.instance.nres,
        Infeasible::AntiAffinity { .. }
        | Infeasible::Apart { .. }
        | Infeasible::Exhaustive
        | Infeasible::Ilp => true,
    };
    if fits {
        Ok(())
    } else {
        Err("its proof names an item or resource the set does not have".to_string())
    }
}
