//! Tolerance per restart-priority tier, and what degrades beyond it.
//!
//! Tier `p` is every protected VM of priority `p` or higher (one tier per
//! priority value a protected VM has; critical is the highest of the named
//! ones). Its tolerance is the largest k such that every set of at most k
//! hosts (k failure domains, with `ha.failure_domain_label`) can fail and
//! every protected, agile VM of the tier still restarts: the pool's own
//! check with the VMs of lower tiers counted as best effort (they keep
//! their resources while their host runs, and need no place when it
//! fails). A VM's restart plan never needs a lower-priority VM, so a higher
//! tier never tolerates fewer failures than a lower one; the lowest tier
//! present is the whole pool, so its tolerance is `check`'s.
//!
//! So not every tier needs a check: the lowest is checked first (the
//! verdict), then the highest, then the middle of each run of tiers whose
//! ends differ; tiers between two with the same exact answer have it too.
//! Every tier's bounds are then those its neighbours allow as well
//! (`settle`), which is all a tier the time limit left unchecked has.
//!
//! The degradation table covers each k from the pool's tolerance + 1 up to
//! the highest tier's + 1: the tiers still safe at k (every k-set restarts
//! all of them), the VMs at risk (those of every tier some k-set defeats),
//! and an example: a failing k-set of the highest tier that fails there,
//! with the protected VMs its priority-ordered restart plan leaves out.

use std::cell::OnceCell;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::agility::NotAgile;
use crate::model::{HostId, Pool, Priority, Restart, VmId};
use crate::pack::Budget;
use crate::plan::{self, Scope};
use crate::scenario::Analysis;
use crate::tolerance::{self, CheckOptions, CheckReport, Stop, Tolerates, Verdict, Witness};

/// What to ask of [`tiers`].
#[derive(Clone, Copy, Debug, Default)]
pub struct TiersOptions<'a> {
    /// K for the verdict; the file's `host_failures_to_tolerate` when `None`.
    pub tolerate: Option<u32>,
    /// Stop after this long (every check together) with proved bounds.
    pub time_limit: Option<Duration>,
    /// Stops the question (with proved bounds) once set.
    pub cancel: Option<&'a std::sync::atomic::AtomicBool>,
    /// The `max_time` of each tier's check ([`CheckOptions::max_time`]).
    pub max_time: Option<Duration>,
    /// Where the checks publish their bounds ([`CheckOptions::progress`]).
    pub progress: Option<&'a tolerance::Progress>,
}

/// One tier: the protected VMs of `priority` or higher.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tier {
    /// The tier's priority.
    pub priority: Priority,
    /// Its protected running or paused VMs (of this priority or higher).
    pub vms: Vec<VmId>,
    /// The check of the pool with only these VMs protected (with a witness
    /// at its tolerance + 1, when there is a failing set).
    pub report: CheckReport,
}

/// Failing `k` hosts (domains) at once, beyond the pool's tolerance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Degradation {
    /// Failures at once (hosts, or failure domains).
    pub k: u32,
    /// Tiers proved to tolerate k.
    pub safe: Vec<Priority>,
    /// Tiers proved not to tolerate k: some k-set strands one of their VMs.
    pub lost: Vec<Priority>,
    /// Tiers the time limit left open at k.
    pub undecided: Vec<Priority>,
    /// The VMs of the lowest tier in `lost` that are not also in a safe
    /// tier: the VMs some k-set may leave without a place (one list shared
    /// by the rows where these tiers are the same).
    pub at_risk: Arc<[VmId]>,
    /// A failing set of k hosts for the highest tier in `lost`, with the
    /// protected VMs the restart plan for it leaves out (lowest priority
    /// first to go), when one was found in time.
    pub example: Option<(Vec<HostId>, Vec<VmId>)>,
}

/// The answer of [`tiers()`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TiersReport {
    /// The pool's name.
    pub pool: String,
    /// K for the verdict, as used.
    pub configured: u32,
    /// Highest priority first; only priorities some protected VM has.
    pub tiers: Vec<Tier>,
    /// Per k from the pool's tolerance + 1 to the highest tier's + 1.
    pub degradation: Vec<Degradation>,
    /// Whether every tier's tolerance is exact and every degradation row
    /// decided.
    pub exact: bool,
    /// With no tier (no protected running VM): the pool's own check, whose
    /// verdict is the answer, as `check`'s (K beyond the hosts up fails
    /// it); `None` when there are tiers (the lowest is the whole pool).
    pub whole: Option<CheckReport>,
    /// Wall time of the question.
    pub elapsed: Duration,
}

impl TiersReport {
    /// The verdict of the whole pool (the lowest tier): as `check`'s.
    pub fn verdict(&self) -> Verdict {
        self.lowest().map_or(Verdict::Ok, CheckReport::verdict)
    }

    /// The check of the whole pool: the lowest tier's, or with no tier
    /// the pool's own ([`TiersReport::whole`]).
    pub fn lowest(&self) -> Option<&CheckReport> {
        self.tiers.last().map(|t| &t.report).or(self.whole.as_ref())
    }

    /// Whether the verdict is `Ok`.
    pub fn ok(&self) -> bool {
        self.verdict() == Verdict::Ok
    }

    /// Whether k counts failure domains.
    pub fn domains(&self) -> bool {
        self.lowest().is_some_and(|l| l.failure_domains.is_some())
    }
}

/// The pool with only the protected VMs of priority `p` or higher still
/// protected: the others are best effort (kept running, never placed).
pub fn tier_pool(pool: &Pool, p: Priority) -> Pool {
    let mut out = pool.clone();
    for vm in &mut out.vms {
        if vm.restart == Restart::Protected && vm.priority > p {
            vm.restart = Restart::BestEffort;
        }
    }
    out
}

/// Tolerance per priority tier and the degradation table.
pub fn tiers(pool: &Pool, opts: &TiersOptions) -> TiersReport {
    let start = Instant::now();
    let deadline = opts.time_limit.map(|d| start + d);
    let configured = opts.tolerate.unwrap_or(pool.ha.host_failures_to_tolerate);
    // Every priority some protected running or paused VM has, highest
    // first.
    let mut present: Vec<Priority> = pool
        .vms
        .iter()
        .filter(|v| v.restart == Restart::Protected && v.power.is_active())
        .map(|v| v.priority)
        .collect();
    present.sort_unstable();
    present.dedup();
    let left = || deadline.map(|d| d.saturating_duration_since(Instant::now()));
    // Past the deadline a check still sets up (what it proves then is what
    // its set-up proves): on a small pool that decides most tiers at
    // once, so they are still checked, for at most `PAST_DEADLINE`; on a
    // large one each set-up costs, and hundreds of tiers would run far
    // past the time limit.
    let protected = pool
        .vms
        .iter()
        .filter(|v| v.restart == Restart::Protected)
        .count();
    let small = crate::setbound::small(pool.resources.len(), pool.hosts.len(), protected);
    let cancelled = || {
        opts.cancel
            .is_some_and(|c| c.load(std::sync::atomic::Ordering::Relaxed))
    };
    let stopped = || {
        deadline.is_some_and(|d| {
            let now = Instant::now();
            now >= d && (!small || now >= d + PAST_DEADLINE)
        }) || cancelled()
    };
    let check = |i: usize| {
        tolerance::check(
            &tier_pool(pool, present[i]),
            &CheckOptions {
                tolerate: Some(configured),
                time_limit: left(),
                explain: true,
                cancel: opts.cancel,
                max_time: opts.max_time,
                progress: opts.progress,
                ..CheckOptions::default()
            },
        )
    };
    // Index 0 is the highest tier. The lowest (the whole pool, which gives
    // the verdict) is checked first, whatever the time; then the highest,
    // then the middle of every run of tiers whose ends differ: tiers
    // between two with the same exact answer have that answer too (each
    // protects the VMs of the tiers above it), so a pool with hundreds of
    // priority values needs a check per change of tolerance (times the
    // halvings to find it), not per tier. What the time limit leaves
    // unchecked gets the bounds of its neighbours.
    let n = present.len();
    let mut reports: Vec<Option<CheckReport>> = vec![None; n];
    if n > 0 {
        reports[n - 1] = Some(check(n - 1));
    }
    if n > 1 && !stopped() {
        reports[0] = Some(check(0));
    }
    let mut open = vec![(0, n.saturating_sub(1))];
    while let Some((hi, lo)) = open.pop() {
        if lo < hi + 2 || reports[hi].is_none() || stopped() {
            continue;
        }
        if same_answer(reports[hi].as_ref(), reports[lo].as_ref()) {
            continue;
        }
        let mid = hi + (lo - hi) / 2;
        reports[mid] = Some(check(mid));
        open.push((mid, lo));
        open.push((hi, mid));
    }
    let why = if cancelled() {
        Stop::Cancelled
    } else {
        Stop::TimeLimit
    };
    let reports = settle(&reports, &present, pool, units_of(pool), why);
    let tiers: Vec<Tier> = present
        .iter()
        .zip(reports)
        .map(|(&p, report)| Tier {
            priority: p,
            vms: (0..pool.vms.len())
                .filter(|&v| {
                    let vm = &pool.vms[v];
                    vm.restart == Restart::Protected && vm.power.is_active() && vm.priority <= p
                })
                .collect(),
            report,
        })
        .collect();
    let mut exact = tiers.iter().all(|t| t.report.exact);
    let mut degradation = Vec::new();
    if let (Some(top), Some(bottom)) = (tiers.first(), tiers.last()) {
        // The table starts after the pool's tolerance and ends where the
        // highest tier is lost too.
        let first = bottom.report.max_tolerable + 1;
        let n = units_of(pool);
        let last = (top.report.upper_bound + 1).min(n);
        // What the rows share: the pool's analysis, each tier's pool and
        // analysis (made when a row first needs them), and the VMs at
        // risk, which change only when the tiers lost or safe do.
        let shared = Shared {
            pool,
            full: OnceCell::new(),
            tier_pools: tiers.iter().map(|_| OnceCell::new()).collect(),
            tier_analyses: tiers.iter().map(|_| OnceCell::new()).collect(),
        };
        let mut at_risk: AtRisk = Vec::new();
        degradation = (first..=last)
            .map(|k| degradation_row(&tiers, k, &mut at_risk))
            .collect();
        // The answer names the VMs at risk of every row, which on a large
        // pool is most of its VMs hundreds of times: the examples stop in
        // time to leave what writing them takes (each list the rows share
        // written once, then copied into each row).
        let names: usize = degradation.iter().map(|d| d.at_risk.len()).sum();
        let lists: usize = at_risk.iter().map(|(_, l)| l.len()).sum();
        let writing = Duration::from_nanos(
            WRITE_NANOS_PER_NAME
                .saturating_mul(lists as u64)
                .saturating_add(COPY_NANOS_PER_NAME.saturating_mul(names as u64)),
        );
        let budget = Budget {
            deadline: deadline.map(|d| d.checked_sub(writing).unwrap_or(start)),
            cancel: opts.cancel,
        };
        for row in &mut degradation {
            exact &= row.undecided.is_empty();
            example(&shared, &tiers, row, &budget);
        }
    }
    // Nothing protected: the pool's own check (nothing to place, so it
    // takes no time) says whether K is more than it has hosts up.
    let whole = (n == 0).then(|| {
        tolerance::check(
            pool,
            &CheckOptions {
                tolerate: Some(configured),
                time_limit: left(),
                cancel: opts.cancel,
                ..CheckOptions::default()
            },
        )
    });
    TiersReport {
        pool: pool.name.clone(),
        configured,
        tiers,
        degradation,
        exact: exact && whole.as_ref().is_none_or(|w| w.exact),
        whole,
        elapsed: start.elapsed(),
    }
}

/// Whether two tiers' checks end with the same exact answer, so that
/// every tier between them has it too.
fn same_answer(a: Option<&CheckReport>, b: Option<&CheckReport>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => {
            a.exact
                && b.exact
                && a.max_tolerable == b.max_tolerable
                && a.stranded_now == b.stranded_now
        }
        _ => false,
    }
}

/// Every tier's report, the ones not checked made from their neighbours,
/// and every bound tightened by them: a tier tolerates at least what any
/// tier below it tolerates, and at most what any tier above it does (it
/// protects the VMs of the tiers above, and lower tiers protect its own);
/// VMs of hosts already down that a tier above cannot restart strand this
/// tier now too. `reports[n - 1]` (the lowest tier) is checked; `stop`:
/// why the others unchecked are not exact.
fn settle(
    reports: &[Option<CheckReport>],
    present: &[Priority],
    pool: &Pool,
    units: u32,
    stop: Stop,
) -> Vec<CheckReport> {
    let n = reports.len();
    let bottom_not_agile: &[NotAgile] = reports
        .last()
        .and_then(|r| r.as_ref())
        .map_or(&[], |r| &r.not_agile);
    // The most any tier below tolerates.
    let mut lower = vec![0u32; n];
    let mut most = 0;
    for i in (0..n).rev() {
        if let Some(r) = &reports[i] {
            most = most.max(r.max_tolerable);
        }
        lower[i] = most;
    }
    let mut out: Vec<CheckReport> = Vec::with_capacity(n);
    // Per tier, whether its witness is a tier above's.
    let mut borrowed = vec![false; n];
    // A tier's witness, for a tier below it.
    let lend = |out: &[CheckReport], borrowed: &[bool], a: usize| {
        out[a].witness.as_ref().map(|w| Witness {
            failed: w.failed.clone(),
            unplaced: Vec::new(),
            explained: false,
            reason: if borrowed[a] {
                w.reason.clone()
            } else {
                format!(
                    "it strands VMs of priority {} or higher: {}",
                    present[a], w.reason
                )
            },
            short: None,
        })
    };
    // The tier above with the least upper bound (the nearest of equals),
    // and the highest tier stranded now.
    let mut best: Option<usize> = None;
    let mut stranded: Option<usize> = None;
    for (i, r) in reports.iter().enumerate() {
        let mut report = match r {
            Some(r) => r.clone(),
            None => {
                let below = reports[i + 1..]
                    .iter()
                    .flatten()
                    .next()
                    .expect("the lowest tier is checked");
                let p = present[i];
                CheckReport {
                    pool: below.pool.clone(),
                    configured: below.configured,
                    max_tolerable: 0,
                    upper_bound: units,
                    exact: false,
                    witness: None,
                    not_agile: bottom_not_agile
                        .iter()
                        .filter(|na| pool.vms[na.vm].priority <= p)
                        .cloned()
                        .collect(),
                    warnings: Vec::new(),
                    stranded_now: false,
                    now_undecided: below.now_undecided,
                    failure_domains: below.failure_domains.clone(),
                    stopped: Some(stop),
                    soft: None,
                    stats: Default::default(),
                }
            }
        };
        if let (Some(a), false) = (stranded, report.stranded_now) {
            report.stranded_now = true;
            report.max_tolerable = 0;
            report.upper_bound = 0;
            report.witness = lend(&out, &borrowed, a);
            borrowed[i] = true;
        }
        report.max_tolerable = report.max_tolerable.max(lower[i]);
        if let Some(a) = best {
            let above = out[a].upper_bound;
            if above < report.upper_bound && above >= report.max_tolerable {
                report.upper_bound = above;
                // The tier above's failing set strands one of its VMs,
                // which this tier protects too.
                report.witness = lend(&out, &borrowed, a);
                borrowed[i] = true;
            }
        }
        report.exact = report.max_tolerable == report.upper_bound;
        if report.exact {
            report.stopped = None;
        }
        if best.is_none_or(|a| report.upper_bound <= out[a].upper_bound) {
            best = Some(i);
        }
        if report.stranded_now && stranded.is_none() {
            stranded = Some(i);
        }
        out.push(report);
    }
    out
}

/// The VMs of `all` not in `safe`, both ascending (a tier's VMs are in
/// file order): one merge of the two lists, not a scan of `safe` per VM,
/// since a tier of a large pool has as many VMs as the pool.
fn not_in(all: &[VmId], safe: &[VmId]) -> Vec<VmId> {
    let mut out = Vec::with_capacity(all.len().saturating_sub(safe.len()));
    let mut rest = safe.iter().copied().peekable();
    for &v in all {
        while rest.next_if(|&s| s < v).is_some() {}
        if rest.next_if_eq(&v).is_none() {
            out.push(v);
        }
    }
    out
}

/// What the rows of the degradation table share, each made once, when a
/// row first needs it (a tier pool copies the pool's VMs, an analysis
/// builds what every failure set of it shares).
struct Shared<'p> {
    pool: &'p Pool,
    full: OnceCell<Analysis<'p>>,
    /// Per tier (as `tiers` orders them): the pool where only it and the
    /// tiers above are protected.
    tier_pools: Vec<OnceCell<Pool>>,
    tier_analyses: Vec<OnceCell<Analysis<'p>>>,
}

/// How many hosts (failure domains) can fail at all.
fn units_of(pool: &Pool) -> u32 {
    match crate::domains::of(pool) {
        Some(d) => d.len() as u32,
        None => pool.up_hosts().len() as u32,
    }
}

/// The VMs at risk found so far, by the lowest tier lost and the lowest
/// tier safe.
type AtRisk = Vec<((Priority, Option<Priority>), Arc<[VmId]>)>;

/// How long tiers of a small pool are still checked past the deadline.
const PAST_DEADLINE: Duration = Duration::from_millis(100);

/// What writing one VM name of a list of VMs at risk takes, at most (JSON:
/// about 75 ns on the machine of the benchmarks).
const WRITE_NANOS_PER_NAME: u64 = 100;

/// What copying one VM name of a list already written into a row of the
/// answer, and writing it out, takes, at most: about 14 ns to copy and
/// 65 ns to write to a new file there (21.7 million names, 479 MB of
/// JSON: 0.3 s, then 1.4 s).
const COPY_NANOS_PER_NAME: u64 = 100;

/// Row `k` of the degradation table, but its example: the tiers safe, lost
/// and open at k, and the VMs at risk (a list shared with the earlier rows
/// of the same tiers, in `at_risk`).
fn degradation_row(tiers: &[Tier], k: u32, at_risk: &mut AtRisk) -> Degradation {
    let mut row = Degradation {
        k,
        safe: Vec::new(),
        lost: Vec::new(),
        undecided: Vec::new(),
        at_risk: Arc::from(Vec::new()),
        example: None,
    };
    for t in tiers {
        let r = &t.report;
        if r.max_tolerable >= k && !r.stranded_now {
            row.safe.push(t.priority);
        } else if r.upper_bound < k || r.stranded_now {
            row.lost.push(t.priority);
        } else {
            row.undecided.push(t.priority);
        }
    }
    if let Some(&lowest) = row.lost.last() {
        let key = (lowest, row.safe.last().copied());
        row.at_risk = match at_risk.iter().find(|(k, _)| *k == key) {
            Some((_, vms)) => vms.clone(),
            None => {
                let safe_vms: &[VmId] = key
                    .1
                    .and_then(|p| tiers.iter().find(|t| t.priority == p))
                    .map_or(&[], |t| t.vms.as_slice());
                let lost = tiers.iter().find(|t| t.priority == lowest).expect("a tier");
                let vms: Arc<[VmId]> = Arc::from(not_in(&lost.vms, safe_vms));
                at_risk.push((key, vms.clone()));
                vms
            }
        };
    }
    row
}

/// The example of a row: worked out only while the budget lasts.
fn example<'p>(shared: &'p Shared<'p>, tiers: &[Tier], row: &mut Degradation, budget: &Budget) {
    let (pool, k) = (shared.pool, row.k);
    if let Some(&highest) = row.lost.first().filter(|_| !budget.expired()) {
        let i = tiers
            .iter()
            .position(|t| t.priority == highest)
            .expect("a tier");
        let tp = shared.tier_pools[i].get_or_init(|| tier_pool(pool, highest));
        let an = shared.tier_analyses[i].get_or_init(|| Analysis::new(tp));
        // The plan below explains the set: the search needs only the set.
        if let Tolerates::No(w) = tolerance::tolerates_in(an, k, budget, false) {
            let p = plan::plan(
                shared.full.get_or_init(|| Analysis::new(pool)),
                &w.failed,
                Scope::ProtectedOnly,
                budget,
            );
            // A plan the time limit cut short would strand VMs it never
            // decided: no example then.
            if p.exact {
                let stranded = p.unplaced.iter().map(|u| u.vm).collect();
                row.example = Some((w.failed, stranded));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// `not_in` keeps what a scan of `safe` keeps, on ascending lists.
        #[test]
        fn not_in_is_the_filter_of_a_scan(
            all in proptest::collection::btree_set(0usize..60, 0..40),
            safe in proptest::collection::btree_set(0usize..60, 0..40),
        ) {
            let all: Vec<VmId> = all.into_iter().collect();
            let safe: Vec<VmId> = safe.into_iter().collect();
            let scan: Vec<VmId> = all.iter().copied().filter(|v| !safe.contains(v)).collect();
            prop_assert_eq!(not_in(&all, &safe), scan);
        }
    }

    /// Three 100 GiB hosts: a (critical, 10) on h1, b (high, 40) on h2, c
    /// (low, 70) on h3, d (best effort, 20) on h3. Spare: h1 90, h2 60, h3 10.
    fn pool() -> Pool {
        crate::parse_pool(
            r#"{"name": "t", "hosts": [
                {"name": "h1", "capacity": {"m": 100}},
                {"name": "h2", "capacity": {"m": 100}},
                {"name": "h3", "capacity": {"m": 100}}
            ], "vms": [
                {"name": "a", "host": "h1", "demand": {"m": 10}, "priority": "critical"},
                {"name": "b", "host": "h2", "demand": {"m": 40}, "priority": "high"},
                {"name": "c", "host": "h3", "demand": {"m": 70}, "priority": "low"},
                {"name": "d", "host": "h3", "demand": {"m": 20}, "restart": "best_effort"}
            ]}"#,
        )
        .unwrap()
    }

    #[test]
    fn each_tier_counts_only_itself_and_the_tiers_above() {
        // critical {a}: any two hosts fail and a (10) still fits on the
        // third (spare 60 or 10): 2, every host. high {a, b}: {h1, h2}
        // puts 50 on h3's 10: 1. low {a, b, c}: one failure fits (c 70 on
        // h1's 90), no pair does: 1.
        let r = tiers(&pool(), &TiersOptions::default());
        let got: Vec<(Priority, usize, u32)> = r
            .tiers
            .iter()
            .map(|t| (t.priority, t.vms.len(), t.report.max_tolerable))
            .collect();
        assert_eq!(
            got,
            vec![
                (Priority::Critical, 1, 2),
                (Priority::High, 2, 1),
                (Priority::Low, 3, 1)
            ]
        );
        assert!(r.exact && r.ok());
        // Rows for k = 2 and 3 (the critical tier's 2, + 1).
        type Row<'a> = (u32, &'a [Priority], &'a [Priority], &'a [VmId]);
        let rows: Vec<Row> = r
            .degradation
            .iter()
            .map(|d| (d.k, &d.safe[..], &d.lost[..], &d.at_risk[..]))
            .collect();
        assert_eq!(
            rows,
            vec![
                (
                    2,
                    &[Priority::Critical][..],
                    &[Priority::High, Priority::Low][..],
                    &[1, 2][..]
                ),
                (
                    3,
                    &[][..],
                    &[Priority::Critical, Priority::High, Priority::Low][..],
                    &[0, 1, 2][..]
                ),
            ]
        );
        // k = 2: the only pair the high tier fails is {h1, h2}; its plan
        // keeps a (critical first) on h3 and strands b.
        assert_eq!(r.degradation[0].example, Some((vec![0, 1], vec![1])));
        let (failed, mut stranded) = r.degradation[1].example.clone().unwrap();
        stranded.sort_unstable();
        assert_eq!((failed, stranded), (vec![0, 1, 2], vec![0, 1, 2]));
    }

    /// A report as a tier's check would give it.
    fn report(max: u32, upper: u32, stranded: bool, failed: Option<Vec<HostId>>) -> CheckReport {
        CheckReport {
            pool: "t".into(),
            configured: 1,
            max_tolerable: max,
            upper_bound: upper,
            exact: max == upper,
            witness: failed.map(|failed| Witness {
                failed,
                unplaced: vec![0],
                explained: true,
                reason: "a cannot be restarted".into(),
                short: None,
            }),
            not_agile: Vec::new(),
            warnings: Vec::new(),
            stranded_now: stranded,
            now_undecided: false,
            failure_domains: None,
            stopped: (max != upper).then_some(Stop::MaxTime),
            soft: None,
            stats: Default::default(),
        }
    }

    /// A tier not checked gets the tolerance of the nearest tier below as
    /// its lower bound and the tier above's upper bound and failing set;
    /// a checked tier's bounds are tightened the same way.
    #[test]
    fn unchecked_tiers_are_bounded_by_their_neighbours() {
        let present = [Priority::Critical, Priority::High, Priority::Low];
        let checked = [
            Some(report(2, 2, false, Some(vec![0, 1, 2]))),
            None,
            Some(report(1, 3, false, None)),
        ];
        let out = settle(&checked, &present, &pool(), 3, Stop::TimeLimit);
        let bounds: Vec<(u32, u32, bool)> = out
            .iter()
            .map(|r| (r.max_tolerable, r.upper_bound, r.exact))
            .collect();
        assert_eq!(bounds, vec![(2, 2, true), (1, 2, false), (1, 2, false)]);
        assert_eq!(out[1].stopped, Some(Stop::TimeLimit));
        for r in &out[1..] {
            let w = r.witness.as_ref().expect("the critical tier's set");
            assert_eq!(w.failed, vec![0, 1, 2]);
            assert!(!w.explained && w.unplaced.is_empty());
            assert_eq!(
                w.reason,
                "it strands VMs of priority critical or higher: a cannot be restarted"
            );
        }
    }

    /// VMs of hosts already down that a higher tier cannot restart strand
    /// every tier below it now, checked or not, exactly.
    #[test]
    fn a_tier_stranded_now_strands_the_tiers_below() {
        let present = [Priority::Critical, Priority::High, Priority::Low];
        let checked = [
            Some(report(0, 0, true, Some(Vec::new()))),
            None,
            Some(report(0, 2, false, None)),
        ];
        let out = settle(&checked, &present, &pool(), 3, Stop::TimeLimit);
        for r in &out {
            assert!(r.stranded_now && r.exact && r.upper_bound == 0);
            assert_eq!(r.witness.as_ref().map(|w| w.failed.len()), Some(0));
            assert_eq!(r.verdict(), Verdict::NotOk);
        }
    }

    /// With no protected VM there is no tier, and the verdict is still
    /// `check`'s: three hosts up do not tolerate K = 5 (they tolerate 3),
    /// and tolerate K = 2.
    #[test]
    fn with_no_tier_the_verdict_is_the_pools_check() {
        let mut p = pool();
        for vm in &mut p.vms {
            vm.restart = Restart::BestEffort;
        }
        for (k, ok) in [(5, false), (3, true), (2, true)] {
            let opts = TiersOptions {
                tolerate: Some(k),
                ..TiersOptions::default()
            };
            let r = tiers(&p, &opts);
            assert!(r.tiers.is_empty() && r.exact, "{r:?}");
            let check = tolerance::check(
                &p,
                &CheckOptions {
                    tolerate: Some(k),
                    ..CheckOptions::default()
                },
            );
            assert_eq!(r.ok(), ok, "K = {k}");
            assert_eq!(r.ok(), check.ok(), "K = {k}");
            assert_eq!(r.lowest().map(|c| c.max_tolerable), Some(3));
        }
    }

    #[test]
    fn lower_tiers_become_best_effort_in_a_tier_pool() {
        let tp = tier_pool(&pool(), Priority::High);
        let restart: Vec<Restart> = tp.vms.iter().map(|v| v.restart).collect();
        assert_eq!(
            restart,
            vec![
                Restart::Protected,
                Restart::Protected,
                Restart::BestEffort,
                Restart::BestEffort
            ]
        );
    }
}
