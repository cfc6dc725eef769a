//! One pool's failure-set search split into parts that run anywhere: other
//! threads, processes or machines (the Python package runs them as Dask
//! tasks), with exactly the answer of [`check`](super::check).
//!
//! `check` raises k while the set-level bounds leave it open and, for each
//! such k, searches the k-sets depth first in the search's ranking of
//! units (hosts, or failure domains): the witness is the first failing set
//! that search meets. [`check_split`] runs that same check but hands each k
//! the bounds leave open to its caller as a [`Round`]: the k-sets cut into
//! tasks, each the sets that begin with a given few units (a prefix, in
//! rank order), listed in the search's order. The caller splits the tasks
//! into [`Part`]s ([`Round::parts`], or any partition of its own), has each
//! decided by [`search_part`] wherever it likes, and returns the
//! [`PartAnswer`]s. The round's answer is the found set of the first task
//! that has one, which is what `check` finds, whatever the partition: so
//! the report is `check`'s (its statistics aside, which count every part's
//! work). A part whose tasks all come after a found one cannot change the
//! answer and need not be answered.
//!
//! The tasks are cut finer where the sets are: a task under which more
//! than a small share of the round's sets lie is replaced by the tasks one
//! unit longer, as the search would descend into them. The share is
//! counted as the search enumerates sets, interchangeable hosts taken in
//! their order only: in a pool of a few host models running a few sets of
//! VMs, most k-sets begin with the first host, so cutting by first host
//! alone leaves one part with nearly all the work.
//!
//! A round's answers depend on the pool and its parts only, so they can be
//! computed before the round is asked: [`check_split_ahead`] also hands
//! its caller the rounds that may come next (up to the proved upper
//! bound), whose parts it can have decided beside the current round's.
//! The sizes are still asked one after another, but a round whose answers
//! are in when it is asked is done at once, and a long single decision (a
//! set only the exact solver refutes, often the last round's first) does
//! not wait for every round before it.
//!
//! Everything the bounds settle stays with the caller (its proved bounds
//! decide which k are searched at all); a part only searches its subtrees.
//! Parts and answers are plain data (serde) so that they can travel, and
//! each names its round by a key of the search's ranking: a part answered
//! for another pool, another build of haplan or other options is refused,
//! never merged.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::{
    CheckOptions, CheckReport, Counters, Goal, Progress, SetResult, Strategy, Tolerance, check_to,
};
use crate::model::{HostId, HostState, Pool};
use crate::pack::{Budget, Infeasible};
use crate::scenario::Analysis;
use crate::setbound::Partial;
use crate::warm::Warm;

/// One failure-set size that the bounds leave open, to be searched by parts.
#[derive(Clone, Debug, PartialEq)]
pub struct Round {
    /// The size of the sets: hosts, or failure domains when `domains`.
    pub k: u32,
    /// The first units a k-set can have: positions `0..firsts` of the
    /// ranking.
    pub firsts: u32,
    /// Whether the units are failure domains (`ha.failure_domain_label`)
    /// rather than hosts.
    pub domains: bool,
    /// Names the search (its ranking of units); parts and answers carry it.
    pub key: u64,
    /// How the check decides (every part of the round the same).
    pub strategy: Strategy,
    /// When the check's time limit runs out, if it has one.
    pub deadline: Option<Instant>,
    /// The proved upper bound on the tolerance when the round was made: no
    /// later round of the check has a larger k.
    pub upper: u32,
    /// The round's tasks in the search's order, each the positions in the
    /// ranking of the first units of its sets (increasing): every k-set the
    /// search decides begins with exactly one of them.
    pub tasks: Vec<Vec<u32>>,
    /// Relative numbers of sets under each task, for [`Round::parts`].
    pub weights: Vec<f64>,
}

/// Tasks of a round of a search, to be decided by [`search_part`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Part {
    /// The size of the sets, as [`Round::k`].
    pub k: u32,
    /// Whether the units are failure domains, as [`Round::domains`].
    pub domains: bool,
    /// The round's search, as [`Round::key`]: a part of another is refused.
    pub key: u64,
    /// How to decide, as [`Round::strategy`].
    pub strategy: Strategy,
    /// Indices of its tasks in the round's, increasing.
    pub tasks: Vec<u32>,
    /// Those tasks: the first units of their sets ([`Round::tasks`]).
    pub prefixes: Vec<Vec<u32>>,
}

/// What [`search_part`] found in a [`Part`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartAnswer {
    /// The part answered.
    pub part: Part,
    /// The first task of the part in which a failing set was found, or the
    /// time ran out; `None`: every set of the part is feasible.
    pub found: Option<Found>,
    /// Its work, for the check's statistics.
    pub stats: PartStats,
}

/// The task of a part where the search stopped, and what it found there.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Found {
    /// The task's index in the round.
    pub task: u32,
    /// The first failing set of the task and its proof; `None` when the
    /// budget ran out there before one was proved or every set refuted.
    pub failing: Option<Failing>,
}

/// A failure set of a part proved to fail.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failing {
    /// Host ids, increasing.
    pub hosts: Vec<HostId>,
    /// The proof that it fails.
    pub proof: Infeasible,
}

/// A part's work, as `check`'s statistics count it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartStats {
    /// Failure sets decided one by one.
    pub scenarios: u64,
    /// Sets settled by each stage: bounds, greedy, search, ILP.
    pub by_stage: [u64; 4],
    /// Decisions that settled many failure sets at once.
    pub set_level: u64,
}

/// A part or an answer that does not fit its round: it is not merged.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SplitError {
    /// The part's or answer's key is not the round's.
    #[error(
        "the part belongs to another search (another pool, another build of haplan, or other options)"
    )]
    OtherSearch,
    /// A part that is not one of the round's (tasks out of range or out of
    /// order, prefixes that do not match them).
    #[error("invalid part: {0}")]
    BadPart(String),
    /// No answer covers this task (merged answers must cover every task).
    #[error("no answer covers task {0} of the round")]
    Uncovered(u32),
    /// Two answers cover this task.
    #[error("task {0} is in more than one answer")]
    Overlap(u32),
    /// An answer's failing set is not a set of the round or its proof does
    /// not hold.
    #[error("an answer's failing set cannot be right: {0}")]
    BadAnswer(String),
}

/// A round has at most this many tasks...
const MAX_TASKS: usize = 1024;
/// ...and cuts each task holding more than this share of its sets (by
/// [`Completions`]) into the tasks one unit longer, where it can.
const TASK_SHARE: f64 = 1.0 / 256.0;

impl Round {
    fn of(t: &Tolerance, d: Option<&[Vec<HostId>]>, k: usize, upper: u32) -> Round {
        let units = d.map_or(t.ranked.len(), <[_]>::len);
        let firsts = units + 1 - k;
        let (tasks, weights) = match d {
            None => host_tasks(t, k),
            Some(_) => (
                (0..firsts as u32).map(|f| vec![f]).collect(),
                set_counts(firsts, k),
            ),
        };
        Round {
            k: k as u32,
            firsts: firsts as u32,
            domains: d.is_some(),
            key: key(t, d),
            strategy: t.strategy,
            deadline: t.budget.deadline,
            upper,
            tasks,
            weights,
        }
    }

    /// A part of this round with these tasks (indices in `tasks`,
    /// increasing).
    pub fn part(&self, tasks: Vec<u32>) -> Part {
        Part {
            k: self.k,
            domains: self.domains,
            key: self.key,
            strategy: self.strategy,
            prefixes: tasks
                .iter()
                .map(|&i| self.tasks[i as usize].clone())
                .collect(),
            tasks,
        }
    }

    /// At most `n` parts of consecutive tasks, in order, of about equal
    /// work by the tasks' weights. A caller that stops at a found set can
    /// drop the parts after it.
    pub fn parts(&self, n: usize) -> Vec<Part> {
        let tasks = self.tasks.len();
        if tasks == 0 {
            return Vec::new();
        }
        let n = n.clamp(1, tasks);
        let total: f64 = self.weights.iter().sum();
        let even = !(total.is_finite() && total > 0.0) || self.weights.len() != tasks;
        let weight = |i: usize| if even { 1.0 } else { self.weights[i] };
        let total = if even { tasks as f64 } else { total };
        let mut parts = Vec::with_capacity(n);
        let mut current = Vec::new();
        let mut sum = 0.0;
        for i in 0..tasks {
            current.push(i as u32);
            sum += weight(i);
            let parts_after = n - parts.len() - 1;
            let tasks_after = tasks - i - 1;
            let share = total * (parts.len() + 1) as f64 / n as f64;
            if parts_after > 0 && (sum >= share || tasks_after == parts_after) {
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

/// How many ways the host search completes a set by `m` more hosts ranked
/// from `s` on (`get(s, m)`), as it enumerates them: of a run of
/// interchangeable hosts (`twin_prev`) it takes only a first few, in order.
/// Dominance and the bounds, which prune more, are left out: the counts
/// weigh tasks against each other, they decide nothing.
struct Completions {
    k: usize,
    /// `(n + 1) x (k + 1)`, row `s` for sets completed from rank `s`.
    counts: Vec<f64>,
}

impl Completions {
    fn new(twin_prev: &[bool], k: usize) -> Completions {
        let n = twin_prev.len();
        let w = k + 1;
        let mut counts = vec![0.0f64; (n + 1) * w];
        counts[n * w] = 1.0;
        // From s: skip the rest of s's run (the next choice is the first
        // host of a later run), or take s and go on from s + 1.
        let mut run_end = n;
        for s in (0..n).rev() {
            if s + 1 < n && !twin_prev[s + 1] {
                run_end = s + 1;
            }
            for m in 0..=k {
                let skip = counts[run_end * w + m];
                let take = if m > 0 {
                    counts[(s + 1) * w + m - 1]
                } else {
                    0.0
                };
                counts[s * w + m] = skip + take;
            }
        }
        Completions { k, counts }
    }

    fn get(&self, s: usize, m: usize) -> f64 {
        self.counts[s * (self.k + 1) + m]
    }
}

/// The tasks of a round of the host search: the first hosts the search
/// starts from, each task holding more than [`TASK_SHARE`] of the sets cut
/// into the tasks it descends into, up to [`MAX_TASKS`], in the search's
/// order; and each task's weight.
fn host_tasks(t: &Tolerance, k: usize) -> (Vec<Vec<u32>>, Vec<f64>) {
    let n = t.ranked.len();
    let counts = Completions::new(&t.twin_prev, k);
    let weight = |p: &[u32]| -> f64 {
        let last = p.last().map_or(0, |&l| l as usize + 1);
        counts.get(last, k - p.len())
    };
    // (prefix, weight, whether it may still be cut)
    let mut tasks: Vec<(Vec<u32>, f64, bool)> = (0..=n - k)
        .filter(|&f| !t.twin_prev[f] && t.dominated_by[f].is_empty())
        .map(|f| {
            let p = vec![f as u32];
            let w = weight(&p);
            (p, w, true)
        })
        .collect();
    let total: f64 = tasks.iter().map(|x| x.1).sum();
    while tasks.len() < MAX_TASKS && !t.budget.expired() {
        let Some(i) = (0..tasks.len())
            .filter(|&i| tasks[i].2)
            .max_by(|&a, &b| tasks[a].1.total_cmp(&tasks[b].1))
        else {
            break;
        };
        if tasks[i].1.partial_cmp(&(total * TASK_SHARE)) != Some(std::cmp::Ordering::Greater) {
            break;
        }
        match children(t, &tasks[i].0, k) {
            None => tasks[i].2 = false,
            Some(kids) => {
                tasks.swap_remove(i);
                tasks.extend(kids.into_iter().map(|p| {
                    let w = weight(&p);
                    (p, w, true)
                }));
            }
        }
    }
    tasks.sort_by(|a, b| a.0.cmp(&b.0));
    tasks.into_iter().map(|(p, w, _)| (p, w)).unzip()
}

/// The tasks one host longer that the search descends into from the task
/// `prefix`, as `Tolerance::dfs` does (none when the bounds prove all of
/// its sets feasible); `None` when it is not to be cut: it has fewer than
/// two hosts to add, or it is a first host whose sets the aggregate
/// condition rejects (the search answers there without descending).
fn children(t: &Tolerance, prefix: &[u32], k: usize) -> Option<Vec<Vec<u32>>> {
    let m = k - prefix.len();
    if m < 2 {
        return None;
    }
    let n = t.ranked.len();
    let chosen: Vec<HostId> = prefix.iter().map(|&p| t.ranked[p as usize]).collect();
    let start = prefix.last().map_or(0, |&l| l as usize + 1);
    let rest = &t.ranked[start..];
    if rest.len() < m {
        return Some(Vec::new());
    }
    if t.strategy == Strategy::Full {
        let p = Partial {
            chosen: &chosen,
            rest,
            m,
        };
        if t.bounds.all_feasible(&p) {
            t.set_level.fetch_add(1, Ordering::Relaxed);
            return Some(Vec::new());
        }
        if prefix.len() == 1 && t.bounds.infeasible_completion(&p).is_some() {
            return None;
        }
    }
    let kids = (start..=n - m)
        .filter(|&i| !(i > start && t.twin_prev[i]))
        .filter(|&i| {
            t.dominated_by[i]
                .iter()
                .all(|&r| prefix.contains(&(r as u32)))
        })
        .map(|i| {
            let mut p = prefix.to_vec();
            p.push(i as u32);
            p
        })
        .collect();
    Some(kids)
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

/// Decides the part: every k-set of each of its tasks, as `check`'s search
/// would (same ranking, pruning and stages), stopping at the first failing
/// set. Builds the search from the pool (the analysis and set-level
/// bounds: a few milliseconds on pools of tens of hosts, as much as a small
/// search on pools of thousands).
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
    if part.tasks.len() != part.prefixes.len() {
        return Err(SplitError::BadPart(format!(
            "{} tasks but {} prefixes",
            part.tasks.len(),
            part.prefixes.len()
        )));
    }
    if let Some(w) = part.tasks.windows(2).find(|w| w[0] >= w[1]) {
        return Err(SplitError::BadPart(format!(
            "tasks must increase, found {} then {}",
            w[0], w[1]
        )));
    }
    for p in &part.prefixes {
        let fits = !p.is_empty()
            && p.len() <= k
            && (p[0] as usize) < firsts
            && p.windows(2).all(|w| w[0] < w[1])
            && p.last().is_some_and(|&l| (l as usize) < units);
        if !fits {
            return Err(SplitError::BadPart(format!(
                "task {p:?} is not a beginning of a {k}-set of {units} units"
            )));
        }
    }
    let found = part
        .tasks
        .par_iter()
        .zip(part.prefixes.par_iter())
        .find_map_first(|(&i, p)| {
            let r = match d {
                Some(d) => from_domains(&t, d, p, k),
                None => from_prefix(&t, p, k),
            };
            r.map(|r| Found {
                task: i,
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

/// The first failing k-set of hosts that begins with the ranks `prefix`.
fn from_prefix(t: &Tolerance, prefix: &[u32], k: usize) -> Option<SetResult> {
    if let [first] = prefix {
        return t.failing_from_first(*first as usize, k);
    }
    let mut chosen = Vec::with_capacity(k);
    let mut warm = Warm::new(t.an, &t.warm_key);
    for &p in prefix {
        chosen.push(t.ranked[p as usize]);
        warm.push(t.ranked[p as usize]);
    }
    let start = prefix.last().map_or(0, |&l| l as usize + 1);
    t.dfs(&mut chosen, &mut warm, start, k)
}

/// The first failing set of k domains of `d` that begins with `prefix`.
fn from_domains(t: &Tolerance, d: &[Vec<HostId>], prefix: &[u32], k: usize) -> Option<SetResult> {
    let mut chosen = Vec::new();
    let mut warm = Warm::new(t.an, &t.warm_key);
    for &p in prefix {
        chosen.extend_from_slice(&d[p as usize]);
        d[p as usize].iter().for_each(|&h| warm.push(h));
    }
    let start = prefix.last().map_or(0, |&l| l as usize + 1);
    t.dfs_domains(d, &mut chosen, &mut warm, start, k - prefix.len())
}

/// [`check`](super::check), with every failure-set size the bounds leave
/// open searched by `run`: given a [`Round`], it has the round's parts
/// decided (by [`search_part`], anywhere) and returns their answers, or
/// `None` when it gave up on the round (the report then has the bounds
/// proved so far, `exact` false, as after a time limit). The answers must
/// cover every task up to the first found one (all of them when none is
/// found), each once.
pub fn check_split<F>(
    pool: &Pool,
    opts: &CheckOptions,
    mut run: F,
) -> Result<CheckReport, SplitError>
where
    F: FnMut(&Round) -> Option<Vec<PartAnswer>> + Send,
{
    check_split_ahead(pool, opts, 0, |round, _| run(round))
}

/// [`check_split`], `run` also given the rounds that may follow the one it
/// is asked for: the next sizes, at most `ahead` of them and none above the
/// proved upper bound. It answers only the first; it may have the others'
/// parts decided meanwhile, and a later round asked for is the same (the
/// same tasks and parts; its `upper` may be lower).
pub fn check_split_ahead<F>(
    pool: &Pool,
    opts: &CheckOptions,
    ahead: u32,
    run: F,
) -> Result<CheckReport, SplitError>
where
    F: FnMut(&Round, &[Round]) -> Option<Vec<PartAnswer>> + Send,
{
    // The bounds as the check proves them, for how far ahead to look.
    let local = Progress::default();
    let opts = CheckOptions {
        progress: Some(opts.progress.unwrap_or(&local)),
        ..*opts
    };
    let progress = opts.progress.unwrap_or(&local);
    let run = Mutex::new(run);
    let error = Mutex::new(None);
    let made: Mutex<HashMap<(u64, u32), Round>> = Mutex::new(HashMap::new());
    let hook = |t: &Tolerance, d: Option<&[Vec<HostId>]>, k: usize| -> Option<SetResult> {
        let units = d.map_or(t.ranked.len(), <[_]>::len);
        let upper = (progress.snapshot().upper as usize).clamp(k, units) as u32;
        let mut made = made.lock().unwrap_or_else(PoisonError::into_inner);
        let mut round_of = |k: usize| -> Round {
            let key = key(t, d);
            let mut r = made
                .entry((key, k as u32))
                .or_insert_with(|| Round::of(t, d, k, upper))
                .clone();
            r.upper = upper;
            r
        };
        let round = round_of(k);
        let last = (k + ahead as usize).min(upper as usize);
        let later: Vec<Round> = (k + 1..=last).map(round_of).collect();
        made.retain(|&(_, j), _| j as usize > k);
        drop(made);
        let mut run = run.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(answers) = (*run)(&round, &later) else {
            return Some(SetResult::Undecided);
        };
        merge(t, d, &round, &answers).unwrap_or_else(|e| {
            let mut error = error.lock().unwrap_or_else(PoisonError::into_inner);
            error.get_or_insert(e);
            Some(SetResult::Undecided)
        })
    };
    let report = check_to(pool, &opts, Goal::Max, Some(&hook));
    match error.into_inner().unwrap_or_else(PoisonError::into_inner) {
        Some(e) => Err(e),
        None => Ok(report),
    }
}

/// The round's answer from its parts' answers: the found set of the first
/// task that has one. Adds every part's statistics to `t`'s.
fn merge(
    t: &Tolerance,
    d: Option<&[Vec<HostId>]>,
    round: &Round,
    answers: &[PartAnswer],
) -> Result<Option<SetResult>, SplitError> {
    let tasks = round.tasks.len();
    let mut covered = vec![false; tasks];
    let mut best: Option<&Found> = None;
    for a in answers {
        let p = &a.part;
        if (p.k, p.domains, p.key, p.strategy)
            != (round.k, round.domains, round.key, round.strategy)
        {
            return Err(SplitError::OtherSearch);
        }
        if p.tasks.len() != p.prefixes.len() {
            return Err(SplitError::BadPart(format!(
                "{} tasks but {} prefixes",
                p.tasks.len(),
                p.prefixes.len()
            )));
        }
        for (&i, prefix) in p.tasks.iter().zip(&p.prefixes) {
            let slot = covered.get_mut(i as usize).ok_or_else(|| {
                SplitError::BadPart(format!("task {i}, but the round has {tasks}"))
            })?;
            if round.tasks[i as usize] != *prefix {
                return Err(SplitError::BadPart(format!(
                    "task {i} is {:?} in the round, not {prefix:?}",
                    round.tasks[i as usize]
                )));
            }
            if std::mem::replace(slot, true) {
                return Err(SplitError::Overlap(i));
            }
        }
        if let Some(found) = &a.found {
            if !p.tasks.contains(&found.task) {
                return Err(SplitError::BadAnswer(format!(
                    "task {} is not in its part",
                    found.task
                )));
            }
            if best.is_none_or(|b| found.task < b.task) {
                best = Some(found);
            }
        }
    }
    let upto = best.map_or(tasks, |b| b.task as usize);
    if let Some(i) = covered[..upto].iter().position(|&c| !c) {
        return Err(SplitError::Uncovered(i as u32));
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
    let prefix = &round.tasks[found.task as usize];
    let units: Vec<HostId> = match d {
        Some(d) => prefix
            .iter()
            .flat_map(|&p| d[p as usize].iter().copied())
            .collect(),
        None => prefix.iter().map(|&p| t.ranked[p as usize]).collect(),
    };
    plausible(t.an, failing, &units, d.map_or(round.k as usize, |_| 0))
        .map_err(SplitError::BadAnswer)?;
    Ok(Some(SetResult::Infeasible(
        failing.hosts.clone(),
        failing.proof.clone(),
    )))
}

/// Whether an answer's failing set can be one the search found: up hosts,
/// increasing, holding the task's units (`size` hosts when not 0), and a
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
        return Err("it lacks a unit of its task".to_string());
    }
    let sc = an.scenario(&an.mask(&f.hosts));
    let fits = match &f.proof {
        Infeasible::NoTarget { item } => *item < sc.instance.items(),
        Infeasible::Short { res, .. }
        | Infeasible::Blocks { res, .. }
        | Infeasible::Fill { res, .. } => *res < sc.instance.nres,
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The leaves (sets, by rank) the search reaches from the task `prefix`:
    /// its rules (interchangeable hosts taken in order, dominated hosts
    /// skipped, subtrees the bounds prove feasible pruned) written out
    /// again, as `Tolerance::dfs` applies them below a task.
    fn leaves(t: &Tolerance, chosen: &mut Vec<u32>, k: usize, out: &mut Vec<Vec<u32>>) {
        let m = k - chosen.len();
        if m == 0 {
            out.push(chosen.clone());
            return;
        }
        let start = chosen.last().map_or(0, |&l| l as usize + 1);
        let rest = &t.ranked[start..];
        if rest.len() < m {
            return;
        }
        let hosts: Vec<HostId> = chosen.iter().map(|&p| t.ranked[p as usize]).collect();
        let p = Partial {
            chosen: &hosts,
            rest,
            m,
        };
        if t.strategy == Strategy::Full && t.bounds.all_feasible(&p) {
            return;
        }
        for i in start..=t.ranked.len() - m {
            let twin = i > start && t.twin_prev[i];
            let dominated = t.dominated_by[i]
                .iter()
                .any(|&r| !chosen.contains(&(r as u32)));
            if !twin && !dominated {
                chosen.push(i as u32);
                leaves(t, chosen, k, out);
                chosen.pop();
            }
        }
    }

    /// Checks `children` at `prefix` and every node below it: the tasks one
    /// host longer are the nodes the search descends into.
    fn same_children(t: &Tolerance, prefix: &[u32], k: usize) -> usize {
        let Some(kids) = children(t, prefix, k) else {
            return 0;
        };
        let mut want = Vec::new();
        let start = prefix.last().map_or(0, |&l| l as usize + 1);
        let m = k - prefix.len();
        let hosts: Vec<HostId> = prefix.iter().map(|&p| t.ranked[p as usize]).collect();
        let rest = &t.ranked[start..];
        let pruned = rest.len() < m
            || t.strategy == Strategy::Full
                && t.bounds.all_feasible(&Partial {
                    chosen: &hosts,
                    rest,
                    m,
                });
        for i in (start..=t.ranked.len() - m).filter(|_| !pruned) {
            let twin = i > start && t.twin_prev[i];
            let dominated = t.dominated_by[i]
                .iter()
                .any(|&r| !prefix.contains(&(r as u32)));
            if !twin && !dominated {
                let mut p = prefix.to_vec();
                p.push(i as u32);
                want.push(p);
            }
        }
        assert_eq!(kids, want);
        1 + kids
            .into_iter()
            .map(|p| same_children(t, &p, k))
            .sum::<usize>()
    }

    /// Hosts of three models, each running its model's VMs: three runs of
    /// interchangeable hosts.
    fn twins(hosts: usize) -> Pool {
        let mut hs = Vec::new();
        let mut vms = Vec::new();
        for h in 0..hosts {
            let model = h % 3;
            hs.push(format!(
                r#"{{"name":"h{h:02}","capacity":{{"memory_mib":{},"vcpus":{}}}}}"#,
                (160 + 48 * model) * 1024,
                40 + 8 * (2 - model)
            ));
            for v in 0..2 + model {
                vms.push(format!(
                    r#"{{"name":"h{h:02}-{v}","host":"h{h:02}","demand":{{"memory_mib":{},"vcpus":{}}}}}"#,
                    (12 + 8 * v + 4 * model) * 1024,
                    2 + 2 * v
                ));
            }
        }
        crate::parse_pool(&format!(
            r#"{{"name":"twins","hosts":[{}],"vms":[{}]}}"#,
            hs.join(","),
            vms.join(",")
        ))
        .unwrap()
    }

    /// A round's tasks reach, together, exactly the sets the search from
    /// the first hosts reaches, each once; and they are cut finer than by
    /// first host. With the bounds, and without them (but with the rules
    /// for interchangeable and dominated hosts, so that the tree is deep).
    #[test]
    fn tasks_reach_every_set_of_the_search_once() {
        let pool = twins(24);
        let an = Analysis::new(&pool);
        let budget = Budget::unlimited();
        let counters = Counters::default();
        for bounded in [true, false] {
            let mut t = Tolerance::new(&an, &budget, Strategy::Full, &counters);
            if !bounded {
                t.strategy = Strategy::Enumerate;
            }
            assert!(
                t.twin_prev.iter().any(|&p| p),
                "the pool has interchangeable hosts"
            );
            let n = t.ranked.len();
            let (mut refined, mut nodes) = (0, 0);
            for k in 2..=16 {
                let roots =
                    (0..=n - k).filter(|&f| !t.twin_prev[f] && t.dominated_by[f].is_empty());
                let mut want = Vec::new();
                for f in roots.clone() {
                    leaves(&t, &mut vec![f as u32], k, &mut want);
                }
                let round = Round::of(&t, None, k, n as u32);
                let mut got = Vec::new();
                for task in &round.tasks {
                    leaves(&t, &mut task.clone(), k, &mut got);
                }
                assert_eq!(got, want, "k = {k}");
                for f in roots {
                    nodes += same_children(&t, &[f as u32], k);
                }
                refined += round.tasks.iter().any(|t| t.len() > 1) as usize;
            }
            assert!(
                refined > 0 && nodes > 50,
                "{refined} rounds cut, {nodes} nodes"
            );
        }
    }

    /// The counts of completions are binomials without interchangeable
    /// hosts, and one way per size with nothing but.
    #[test]
    fn completions_count_the_sets_as_the_search_enumerates_them() {
        let binomial = |n: usize, m: usize| -> f64 {
            (0..m).fold(1.0, |c, i| c * (n - i) as f64 / (i + 1) as f64)
        };
        let none = Completions::new(&[false; 9], 4);
        let all = Completions::new(&[false, true, true, true, true, true, true, true, true], 4);
        for s in 0..=9 {
            for m in 0..=4 {
                let rest = 9 - s;
                let want = if m <= rest { binomial(rest, m) } else { 0.0 };
                assert_eq!(none.get(s, m), want, "s = {s}, m = {m}");
                assert_eq!(all.get(s, m), f64::from(u8::from(m <= rest)));
            }
        }
    }
}
