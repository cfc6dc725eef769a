//! The exact number of simultaneous host failures a pool tolerates.
//!
//! `max_tolerable` is the largest k such that every set of at most k up
//! hosts can fail and every protected, agile VM of those hosts (and of hosts
//! already down) can be restarted on the survivors. k grows from 1 until a
//! set fails, so every size up to the answer is searched. (Without
//! keep-together groups every set of k feasible implies every smaller one
//! is too; with them a larger set can be feasible where a smaller one is
//! not, and the set bounds that lean on the former step aside.)
//!
//! Before any set is enumerated, an aggregate bound settles the largest k it
//! can: per resource, the k hosts whose loss costs the most (the protected
//! demand they displace plus their own spare) form a set that is infeasible as
//! soon as that cost exceeds what the pool has spare. Its k is an upper bound,
//! and that set the witness, unless a smaller set fails first.
//!
//! Set-level bounds (`setbound`) settle most k at once. For the k they leave
//! open, failure sets are searched depth first, hosts ranked heaviest first,
//! the first host choice in parallel (rayon), pruning every subtree the
//! bounds decide. The first subtree by rank that holds a failing set gives
//! the witness, so neither the answer nor the witness depends on the number
//! of threads.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rayon::prelude::*;

use crate::agility::NotAgile;
use crate::model::*;
use crate::pack::{self, Budget, Decision, Infeasible};
use crate::plan::{self, Scope};
use crate::scenario::Analysis;
use crate::setbound::{Partial, SetBounds};
use crate::warm::Warm;

pub mod split;

/// The time limit the command line, the Python package and the C ABI
/// give a question by default: a CI job that asks gets an answer (proved
/// bounds, at worst) within a minute, whatever the pool. The library sets
/// none.
pub const DEFAULT_TIME_LIMIT: Duration = Duration::from_secs(60);

/// How long, by default on those surfaces, a check goes on for the exact
/// maximum once K is decided ([`CheckOptions::max_time`]): every pool of
/// the fixtures and the benchmarks needs well under a second for it, and a
/// CI gate pays at most this beyond K.
pub const DEFAULT_MAX_TIME: Duration = Duration::from_secs(2);

/// What to ask of [`check`].
///
/// The check decides K first (whether every set of K hosts can fail) and
/// then, within `max_time`, the exact largest k (`max_tolerable`). The
/// library sets no budget by default; the command line, the Python
/// package and the C ABI do (`docs/cli.md`).
#[derive(Clone, Copy, Debug, Default)]
pub struct CheckOptions<'a> {
    /// K to check against; the file's `host_failures_to_tolerate` when `None`.
    pub tolerate: Option<u32>,
    /// Wall time for the whole check, K and the maximum together; when it
    /// runs out the answer is proved bounds (`exact: false`).
    pub time_limit: Option<Duration>,
    /// Compute a witness even when the pool meets K.
    pub explain: bool,
    /// Stops the check (with what it proved) once set, e.g. on Ctrl-C.
    pub cancel: Option<&'a AtomicBool>,
    /// How to decide; [`Strategy::Full`] unless comparing.
    pub strategy: Strategy,
    /// Once K is decided (proved tolerated or not), how much longer to
    /// search for the exact `max_tolerable`, within `time_limit`: `None`
    /// for as long as `time_limit` allows, zero to stop as soon as K is
    /// decided (then `max_tolerable` and `upper_bound` are the bounds
    /// proved by then).
    pub max_time: Option<Duration>,
    /// Where the check publishes its bounds as they tighten, for a
    /// progress display or a watchdog on another thread.
    pub progress: Option<&'a Progress>,
}

/// What a running check has proved so far: written by [`check`] (bounds
/// as they tighten, failure sets decided) and read from any thread. One
/// `Progress` may follow several checks in turn (both pools of a diff, the
/// tiers of `tiers`): it shows the current one.
#[derive(Debug, Default)]
pub struct Progress {
    checks: AtomicU32,
    phase: AtomicU8,
    configured: AtomicU32,
    lower: AtomicU32,
    upper: AtomicU32,
    sets: AtomicU64,
    set_level: AtomicU64,
    /// When the current check decided K (for its `max_time`).
    k_decided: Mutex<Option<Instant>>,
}

/// The stage a check is in, as [`Progress`] reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Building what every failure set shares (before any bound).
    SetUp,
    /// Deciding K.
    K,
    /// K is decided; searching for the exact maximum.
    Max,
    /// The check has its answer.
    Done,
}

/// A consistent-enough copy of a [`Progress`] (each field is read on its
/// own; the bounds only ever tighten).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProgressSnapshot {
    /// How many checks have started (1 for the first).
    pub checks: u32,
    /// What the check is doing.
    pub phase: Phase,
    /// K of the current check.
    pub configured: u32,
    /// A proved lower bound on the tolerance of the current check.
    pub lower: u32,
    /// A proved upper bound on it.
    pub upper: u32,
    /// Failure sets decided one by one.
    pub sets: u64,
    /// Decisions that settled many failure sets at once.
    pub set_level: u64,
}

impl Progress {
    /// The counts as they are now.
    pub fn snapshot(&self) -> ProgressSnapshot {
        ProgressSnapshot {
            checks: self.checks.load(Ordering::Relaxed),
            phase: match self.phase.load(Ordering::Relaxed) {
                0 => Phase::SetUp,
                1 => Phase::K,
                2 => Phase::Max,
                _ => Phase::Done,
            },
            configured: self.configured.load(Ordering::Relaxed),
            lower: self.lower.load(Ordering::Relaxed),
            upper: self.upper.load(Ordering::Relaxed),
            sets: self.sets.load(Ordering::Relaxed),
            set_level: self.set_level.load(Ordering::Relaxed),
        }
    }

    fn start(&self, configured: u32, n: u32) {
        self.checks.fetch_add(1, Ordering::Relaxed);
        self.configured.store(configured, Ordering::Relaxed);
        self.lower.store(0, Ordering::Relaxed);
        self.upper.store(n, Ordering::Relaxed);
        self.sets.store(0, Ordering::Relaxed);
        self.set_level.store(0, Ordering::Relaxed);
        *self.k_decided.lock().unwrap_or_else(|e| e.into_inner()) = None;
        self.set_phase(Phase::SetUp);
    }

    fn set_phase(&self, phase: Phase) {
        if phase == Phase::Max {
            *self.k_decided.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
        }
        self.phase.store(phase as u8, Ordering::Relaxed);
    }

    fn bounds(&self, lower: u32, upper: u32) {
        self.lower.store(lower, Ordering::Relaxed);
        self.upper.store(upper, Ordering::Relaxed);
    }

    fn k_decided_at(&self) -> Option<Instant> {
        *self.k_decided.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Why a check's `max_tolerable` is not exact.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// K was decided, and the time for the maximum (`max_time`) ran out.
    MaxTime,
    /// The time limit ran out.
    TimeLimit,
    /// The caller's cancel flag was set.
    Cancelled,
}

impl Stop {
    /// The name answers give it (`stopped_by`).
    pub fn as_str(self) -> &'static str {
        match self {
            Stop::MaxTime => "max_time",
            Stop::TimeLimit => "time_limit",
            Stop::Cancelled => "cancelled",
        }
    }
}

/// How `check` decides. Every strategy gives the same exact answer; the
/// others exist to measure and test the full one against.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// Set-level bounds, then the failure sets they leave open, each by the
    /// staged decision (bounds, greedy, exact search, ILP).
    #[default]
    Full,
    /// No set-level bounds: every failure set by the staged decision.
    Enumerate,
    /// No set-level bounds, and one ILP per failure set (a peer's method).
    IlpPerSet,
}

/// One infeasible failure set, with what it strands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Witness {
    /// The hosts of the set (for failure domains, every host of its domains).
    pub failed: Vec<HostId>,
    /// Protected VMs the best partial plan for this set cannot restart
    /// (empty when not `explained`).
    pub unplaced: Vec<VmId>,
    /// False when the time limit ran out before the VMs the set strands
    /// were worked out: `unplaced` is then empty and `reason` rests on the
    /// proof alone.
    pub explained: bool,
    /// Why the set fails, in a sentence (the first VM stranded and what it
    /// lacks, or the proof's own words).
    pub reason: String,
    /// The resource short in aggregate, with (needed, spare), if one is.
    pub short: Option<(ResourceId, i64, i64)>,
}

/// Counts of the work a check did.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Stats {
    /// Failure sets decided one by one (by any stage).
    pub scenarios: u64,
    /// Wall time of the check.
    pub elapsed: Duration,
    /// Sets settled by each stage: bounds, greedy, search, ILP.
    pub by_stage: [u64; 4],
    /// Decisions that settled many failure sets at once (every set of a
    /// size, or every completion of a partial set), by set-level bounds.
    pub set_level: u64,
    /// From the start of the check until K was decided (`None`: it was not).
    pub k_elapsed: Option<Duration>,
}

/// The answer of [`check`]: the tolerance, a witness, and what else
/// makes the pool not ok.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckReport {
    /// The pool's name.
    pub pool: String,
    /// K as used (the option, else the file's `host_failures_to_tolerate`).
    pub configured: u32,
    /// Exact when `exact`; otherwise a proved lower bound.
    pub max_tolerable: u32,
    /// A proved upper bound (equal to `max_tolerable` when exact).
    pub upper_bound: u32,
    /// Whether `max_tolerable` is proved to be the maximum.
    pub exact: bool,
    /// A failure set of `upper_bound + 1` hosts that strands VMs: when the
    /// pool fails K, or when `explain` asked for one.
    pub witness: Option<Witness>,
    /// Protected VMs that could restart on no other host, capacity aside.
    pub not_agile: Vec<NotAgile>,
    /// What the answer assumes or leaves out, in sentences.
    pub warnings: Vec<String>,
    /// VMs of hosts already down cannot all be restarted even with no
    /// further failure (then `max_tolerable` is 0 and the pool is not ok).
    pub stranded_now: bool,
    /// Whether the VMs of hosts already down can all be restarted was left
    /// undecided (the budget ran out before that one scenario was): the
    /// verdict is then undecided whatever the bounds say (`max_tolerable`
    /// 0 proves nothing then).
    pub now_undecided: bool,
    /// The failure domains k counts, when `ha.failure_domain_label` is set
    /// (`crate::domains`); `None`: k counts hosts.
    pub failure_domains: Option<Vec<crate::domains::Domain>>,
    /// Why `max_tolerable` is not exact (`None` when it is).
    pub stopped: Option<Stop>,
    /// With soft rules (`vm_groups` with `strict: false`, `preferred_hosts`):
    /// whether failures force one to break ([`SoftCheck`]); `None` for
    /// pools without soft rules.
    pub soft: Option<SoftCheck>,
    /// Counts of the work done.
    pub stats: Stats,
}

/// The tolerance with every soft rule taken as strict: soft rules never
/// change a verdict, but this says how many failures the pool survives
/// without breaking one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SoftCheck {
    /// The soft rules of the pool (soft groups and VMs with
    /// `preferred_hosts`).
    pub rules: usize,
    /// The largest k such that every set of at most k units can fail with
    /// every soft rule kept (a proved lower bound when not `exact`); at
    /// most the pool's `max_tolerable`.
    pub max_tolerable: u32,
    /// A proved upper bound.
    pub upper_bound: u32,
    /// Whether `max_tolerable` is proved.
    pub exact: bool,
    /// When `max_tolerable` is below the pool's, a failure set one larger
    /// (within what the pool tolerates) whose restarts cannot keep every
    /// soft rule, with the rules its protected VMs' plan breaks.
    pub witness: Option<SoftWitness>,
}

/// A failure set that forces soft rules to break.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SoftWitness {
    /// The hosts of the set.
    pub failed: Vec<HostId>,
    /// The soft rules the plan of its protected VMs breaks.
    pub broken: Vec<crate::plan::BrokenRule>,
}

impl CheckReport {
    /// Whether the worst failure of at most K units (and at most what the
    /// pool tolerates) has to break a soft rule: `None` without soft
    /// rules, or when that is not proved either way.
    pub fn soft_rules_break(&self) -> Option<bool> {
        let soft = self.soft.as_ref()?;
        let within = self.configured.min(self.max_tolerable);
        if soft.upper_bound < within {
            Some(true)
        } else if soft.max_tolerable >= within {
            Some(false)
        } else {
            None
        }
    }
}

/// The verdict of a check, which also gives the exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The pool meets K (exit 0).
    Ok,
    /// Proved not to: overcommitted, VMs already stranded, or a protected VM
    /// not agile (exit 1).
    NotOk,
    /// The budget ran out before K was settled either way (exit 3).
    Undecided,
}

impl CheckReport {
    /// Whether the verdict is [`Verdict::Ok`].
    pub fn ok(&self) -> bool {
        self.verdict() == Verdict::Ok
    }

    /// `NotOk` when anything proves the pool fails K, `Ok` when K is proved
    /// tolerated, else `Undecided`.
    pub fn verdict(&self) -> Verdict {
        if !self.not_agile.is_empty() || self.stranded_now || self.upper_bound < self.configured {
            Verdict::NotOk
        } else if self.max_tolerable >= self.configured && !self.now_undecided {
            Verdict::Ok
        } else {
            Verdict::Undecided
        }
    }
}

/// Decides whether the pool tolerates K, then its exact tolerance (or
/// proved bounds, when `max_time` or the time limit runs out first).
pub fn check(pool: &Pool, opts: &CheckOptions) -> CheckReport {
    check_to(pool, opts, Goal::Max, None)
}

/// Decides only whether the pool tolerates K (the configured k): the
/// search stops as soon as `max_tolerable >= K` is proved, so
/// `max_tolerable` is then a proved lower bound (at least K) and `exact`
/// may be false; below K the report is that of [`check`] without a
/// `max_time`.
pub(crate) fn check_at_least(pool: &Pool, opts: &CheckOptions) -> CheckReport {
    check_to(pool, opts, Goal::AtLeast, None)
}

/// What a check decides after K.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Goal {
    /// The exact maximum, within `max_time`.
    Max,
    /// Nothing more once K is decided (`max_time` zero).
    K,
    /// Nothing more once K is proved; the exact maximum when it is not.
    AtLeast,
}

/// The live counts of a search, shared with the thread that watches it.
#[derive(Debug, Default)]
struct Counters {
    scenarios: AtomicU64,
    by_stage: [AtomicU64; 4],
    set_level: AtomicU64,
}

/// `check` with `goal`; with `parts`, each failure-set size the bounds
/// leave open is searched by `parts` instead of here (`split`).
fn check_to(pool: &Pool, opts: &CheckOptions, goal: Goal, parts: Option<PartsHook>) -> CheckReport {
    let start = Instant::now();
    let configured = opts.tolerate.unwrap_or(pool.ha.host_failures_to_tolerate);
    let local = Progress::default();
    let progress = opts.progress.unwrap_or(&local);
    progress.start(configured, pool.hosts.len() as u32);
    let goal = match (goal, opts.max_time) {
        (Goal::Max, Some(d)) if d.is_zero() => Goal::K,
        _ => goal,
    };
    let max_time = match goal {
        Goal::Max => opts.max_time,
        Goal::K | Goal::AtLeast => Some(Duration::ZERO),
    };
    let counters = Counters::default();
    let deadline = opts.time_limit.map(|d| start + d);
    // A time limit, a bounded search for the maximum, or someone watching,
    // needs a thread beside the search: it stops the search through
    // `stop` (at the deadline, once `max_time` has passed since K was
    // decided, or when the caller cancels: a flag is cheaper to poll at
    // every search node than the clock) and copies the live counts.
    let timed = max_time.is_some_and(|d| !d.is_zero()) && goal == Goal::Max;
    let watched = timed || deadline.is_some() || opts.progress.is_some();
    let stop = AtomicBool::new(deadline.is_some_and(|d| Instant::now() >= d));
    // The deadline stays in the budget beside the flag: what cannot poll
    // the flag (HiGHS, given the time left) still ends at the deadline, and
    // a rayon worker busy with another check's work sees it at once.
    let budget = if watched {
        Budget {
            deadline,
            cancel: Some(&stop),
        }
    } else {
        Budget {
            deadline,
            cancel: opts.cancel,
        }
    };
    // Explaining a witness has the whole time limit, not `max_time`.
    let explaining = Budget {
        deadline,
        cancel: opts.cancel,
    };
    let done = AtomicBool::new(false);
    // Sets `done` when dropped: the watcher ends even when the check
    // panics (a caller's callback may), so the panic reaches the caller
    // instead of the scope waiting for the watcher for ever.
    struct Done<'a>(&'a AtomicBool);
    impl Drop for Done<'_> {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Relaxed);
        }
    }
    let mut report = std::thread::scope(|s| {
        let watcher = watched.then(|| {
            s.spawn(|| {
                let until = Until {
                    deadline,
                    cancel: opts.cancel,
                    max_time: max_time.filter(|_| timed),
                };
                watch(&done, &stop, &until, progress, &counters)
            })
        });
        let budgets = (&budget, &explaining);
        let report = {
            let _done = Done(&done);
            decide(pool, opts, goal, start, budgets, progress, &counters, parts)
        };
        if let Some(w) = watcher {
            w.thread().unpark();
        }
        report
    });
    report.stats.elapsed = start.elapsed();
    if report.verdict() != Verdict::Undecided {
        let elapsed = report.stats.elapsed;
        report.stats.k_elapsed.get_or_insert(elapsed);
    }
    if !report.exact {
        let cancelled = opts.cancel.is_some_and(|c| c.load(Ordering::Relaxed));
        let over = deadline.is_some_and(|d| Instant::now() >= d);
        report.stopped = Some(if cancelled {
            Stop::Cancelled
        } else if report.stats.k_elapsed.is_some() && !over {
            Stop::MaxTime
        } else {
            Stop::TimeLimit
        });
    }
    progress.bounds(report.max_tolerable, report.upper_bound);
    copy_counts(progress, &counters);
    progress.set_phase(Phase::Done);
    report
}

fn copy_counts(progress: &Progress, c: &Counters) {
    progress
        .sets
        .store(c.scenarios.load(Ordering::Relaxed), Ordering::Relaxed);
    progress
        .set_level
        .store(c.set_level.load(Ordering::Relaxed), Ordering::Relaxed);
}

/// When the thread beside a check stops it.
struct Until<'a> {
    deadline: Option<Instant>,
    cancel: Option<&'a AtomicBool>,
    /// Counted from when K was decided.
    max_time: Option<Duration>,
}

/// Beside a running check: sets `stop` at the deadline, when the caller's
/// `cancel` is set or when `max_time` has passed since K was decided, and
/// copies the live counts into `progress`, until `done`.
fn watch(
    done: &AtomicBool,
    stop: &AtomicBool,
    until: &Until,
    progress: &Progress,
    counters: &Counters,
) {
    const TICK: Duration = Duration::from_millis(20);
    while !done.load(Ordering::Relaxed) {
        if until.cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
            stop.store(true, Ordering::Relaxed);
        }
        let max_end = until
            .max_time
            .zip(progress.k_decided_at())
            .map(|(limit, at)| at + limit);
        let mut nap = TICK;
        for end in [until.deadline, max_end].into_iter().flatten() {
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                stop.store(true, Ordering::Relaxed);
            }
            nap = nap.min(left.max(Duration::from_millis(1)));
        }
        copy_counts(progress, counters);
        std::thread::park_timeout(nap);
    }
}

/// The check itself: set-up, K, then the maximum as `goal` says.
#[allow(clippy::too_many_arguments)]
fn decide(
    pool: &Pool,
    opts: &CheckOptions,
    goal: Goal,
    start: Instant,
    (budget, explaining): (&Budget, &Budget),
    progress: &Progress,
    counters: &Counters,
    parts: Option<PartsHook>,
) -> CheckReport {
    let configured = opts.tolerate.unwrap_or(pool.ha.host_failures_to_tolerate);
    let an = Analysis::new(pool);
    let mut warnings = warnings(&an);
    let domains = crate::domains::of(pool);
    let n = match &domains {
        Some(d) => {
            warnings.extend(crate::domains::warnings(pool, d));
            d.len() as u32
        }
        None => an.candidates.len() as u32,
    };
    if configured > n {
        warnings.push(match domains {
            Some(_) => format!(
                "{configured} domain failures are asked for but only {n} failure domain{} up",
                if n == 1 { " is" } else { "s are" }
            ),
            None => format!(
                "{configured} host failures are asked for but only {n} host{} up",
                if n == 1 { " is" } else { "s are" }
            ),
        });
    }
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
        now_undecided: false,
        failure_domains: None,
        stopped: None,
        soft: None,
        stats: Stats::default(),
    };
    progress.bounds(0, n);
    if pool.ha.enabled && pool.ha.mode == HaMode::Vm {
        // No host failover: protected VMs of a down host are stranded now,
        // and the failure of any up host running one strands it.
        let protected_on = |state: HostState| {
            pool.vms.iter().any(|v| {
                v.restart == Restart::Protected
                    && v.power.is_active()
                    && pool.hosts[v.host].state == state
            })
        };
        report.stranded_now = protected_on(HostState::Down);
        if report.stranded_now || protected_on(HostState::Up) {
            report.max_tolerable = 0;
            report.upper_bound = 0;
            if report.stranded_now || configured > 0 || opts.explain {
                report.witness = Some(vm_mode_witness(&an, report.stranded_now));
            }
        }
        if report.stranded_now {
            warnings.push(
                "protected VMs of hosts already down cannot be restarted (no host failover)"
                    .to_string(),
            );
        }
    } else if an.failover && (an.has_items()) {
        let mut search = Tolerance::new(&an, budget, opts.strategy, counters);
        search.parts = parts;
        let aim = Aim {
            k: configured,
            goal,
            progress,
            k_decided: std::cell::Cell::new(None),
        };
        let outcome = match &domains {
            Some(d) => search.run_domains(d, &aim),
            None => search.run(&aim),
        };
        stats.k_elapsed = aim
            .k_decided
            .get()
            .map(|t| t.saturating_duration_since(start));
        report.max_tolerable = outcome.lower;
        report.upper_bound = outcome.upper;
        report.exact = outcome.lower == outcome.upper;
        stats.scenarios = counters.scenarios.load(Ordering::Relaxed);
        stats.set_level = counters.set_level.load(Ordering::Relaxed);
        for (s, c) in stats.by_stage.iter_mut().zip(&counters.by_stage) {
            *s = c.load(Ordering::Relaxed);
        }
        if let Some(failed) = outcome.witness {
            let wanted = report.upper_bound < configured || opts.explain;
            if wanted {
                report.witness = Some(witness(&an, &failed, outcome.proof.as_ref(), explaining));
            }
        }
        report.now_undecided = outcome.current_undecided;
        if outcome.current_infeasible {
            report.stranded_now = true;
            report.witness = Some(witness(&an, &[], outcome.proof.as_ref(), explaining));
            warnings.push(
                "VMs of hosts already down cannot all be restarted even if no other host fails"
                    .to_string(),
            );
        }
    }
    report.soft = soft_check(&an, &report, domains.as_deref(), opts, budget);
    report.warnings = warnings;
    report.failure_domains = domains;
    report.stats = stats;
    report
}

/// The tolerance with soft rules taken as strict (`CheckReport::soft`),
/// searched up to the pool's own `max_tolerable` (it is never more).
fn soft_check(
    an: &Analysis,
    report: &CheckReport,
    domains: Option<&[crate::domains::Domain]>,
    opts: &CheckOptions,
    budget: &Budget,
) -> Option<SoftCheck> {
    let pool = an.pool;
    if !pool.has_soft_rules() {
        return None;
    }
    let rules = pool.vm_groups.iter().filter(|g| !g.strict).count()
        + pool
            .vms
            .iter()
            .filter(|v| !v.preferred_hosts.is_empty())
            .count();
    let mut soft = SoftCheck {
        rules,
        max_tolerable: report.max_tolerable,
        upper_bound: report.upper_bound,
        exact: report.exact,
        witness: None,
    };
    if !an.failover || !an.has_items() || report.stranded_now {
        return Some(soft); // nothing restarts, or it fails already
    }
    let soft_an = Analysis::soft(pool).expect("the pool has soft rules");
    let counters = Counters::default();
    let progress = Progress::default();
    let search = Tolerance::new(&soft_an, budget, opts.strategy, &counters);
    // It is never more than the pool's own max_tolerable: proved at that
    // k, or else searched down to the exact value.
    let aim = Aim {
        k: report.max_tolerable,
        goal: Goal::AtLeast,
        progress: &progress,
        k_decided: std::cell::Cell::new(None),
    };
    let outcome = match domains {
        Some(d) => search.run_domains(d, &aim),
        None => search.run(&aim),
    };
    soft.max_tolerable = outcome.lower.min(report.max_tolerable);
    soft.upper_bound = outcome.upper.min(report.upper_bound);
    soft.exact = soft.max_tolerable == soft.upper_bound;
    if let Some(failed) = outcome
        .witness
        .filter(|_| soft.upper_bound < report.max_tolerable)
    {
        let p = plan::plan(an, &failed, Scope::ProtectedOnly, budget);
        soft.witness = Some(SoftWitness {
            failed,
            broken: p.soft_broken,
        });
    }
    Some(soft)
}

/// Whether a pool tolerates `k` simultaneous failures: [`tolerates`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tolerates {
    /// Proved: every set of `k` hosts can fail and every protected VM
    /// restart.
    Yes,
    /// A failing set of at most `k` hosts (empty when the VMs of hosts
    /// already down cannot all be restarted), with what it strands.
    No(Witness),
    /// The budget ran out first.
    Unknown,
}

/// Decides only whether `pool` tolerates `k` failures (and the VMs of hosts
/// already down can be restarted), without computing the largest such k:
/// the question an admission check asks. Not-agile VMs are not counted, as
/// in [`check`]; `ha.mode: "vm"` tolerates no failure of a host running a
/// protected VM.
pub fn tolerates(pool: &Pool, k: u32, budget: &Budget) -> Tolerates {
    tolerates_with(pool, k, budget, true)
}

/// [`tolerates`], with `explain: false` a bare witness (the failing set
/// only: no stranded VMs, no reason), which saves planning it; for
/// searches that only need the yes or no.
pub(crate) fn tolerates_with(pool: &Pool, k: u32, budget: &Budget, explain: bool) -> Tolerates {
    tolerates_in(&Analysis::new(pool), k, budget, explain)
}

/// [`tolerates_with`] on the analysis of the pool, for callers that ask
/// several questions of one pool.
pub(crate) fn tolerates_in(an: &Analysis, k: u32, budget: &Budget, explain: bool) -> Tolerates {
    let pool = an.pool;
    if pool.ha.enabled && pool.ha.mode == HaMode::Vm {
        let stranded = pool.vms.iter().any(|v| {
            v.restart == Restart::Protected
                && v.power.is_active()
                && pool.hosts[v.host].state == HostState::Down
        });
        let busy = pool.vms.iter().any(|v| {
            v.restart == Restart::Protected
                && v.power.is_active()
                && pool.hosts[v.host].state == HostState::Up
        });
        return if stranded || (busy && k > 0) {
            Tolerates::No(vm_mode_witness(an, stranded))
        } else {
            Tolerates::Yes
        };
    }
    if !an.failover || !an.has_items() {
        return Tolerates::Yes;
    }
    let counters = Counters::default();
    let search = Tolerance::new(an, budget, Strategy::Full, &counters);
    let failing = |set: Vec<HostId>, proof: Infeasible| {
        if explain {
            Tolerates::No(witness(an, &set, Some(&proof), budget))
        } else {
            Tolerates::No(Witness {
                failed: set,
                unplaced: Vec::new(),
                reason: String::new(),
                short: None,
                explained: false,
            })
        }
    };
    if !an.down.is_empty() {
        match search.decide(&[]) {
            Ok(()) => {}
            Err(SetResult::Infeasible(set, proof)) => return failing(set, proof),
            Err(SetResult::Undecided) => return Tolerates::Unknown,
        }
    }
    // Tolerance is monotone but for keep-together groups (a member still
    // running pins where the others restart, which a larger failure can
    // lift): then every size up to k is searched, else only k (a failing
    // set of fewer units has a failing superset of k).
    let sizes = |k: usize| if an.monotone() { k..=k } else { 1..=k };
    if let Some(domains) = crate::domains::of(pool) {
        let k = (k as usize).min(domains.len());
        let d = search.domain_order(&domains);
        for size in sizes(k).filter(|&m| m > 0) {
            match search.first_failing_domains(&d, size) {
                None => {}
                Some(SetResult::Infeasible(set, proof)) => return failing(set, proof),
                Some(SetResult::Undecided) => return Tolerates::Unknown,
            }
        }
        return Tolerates::Yes;
    }
    let k = (k as usize).min(search.ranked.len());
    for size in sizes(k).filter(|&m| m > 0) {
        let p = Partial {
            chosen: &[],
            rest: &search.ranked,
            m: size,
        };
        if let Some((set, blocks)) = search.bounds.infeasible_completion(&p) {
            return failing(set, Infeasible::from(blocks));
        }
        if search.bounds.all_of_size(&search.ranked, size) {
            continue;
        }
        if let Some((set, proof)) = search.adversary(size) {
            return failing(set, proof);
        }
        match search.first_failing(size) {
            None => {}
            Some(SetResult::Infeasible(set, proof)) => return failing(set, proof),
            Some(SetResult::Undecided) => return Tolerates::Unknown,
        }
    }
    Tolerates::Yes
}

/// The smallest failing set of at most `most` hosts the adversary finds
/// (`crate::adversary`: its chains), on a pool of
/// any size (`check` asks it only of pools of 16 up hosts or more), each
/// set proved infeasible by an exact decision: for the tests that check it
/// against brute force.
#[doc(hidden)]
pub fn adversary_failing_set(pool: &Pool, most: usize) -> Option<Vec<HostId>> {
    let an = Analysis::new(pool);
    if !an.failover || !an.has_items() || most == 0 {
        return None;
    }
    let budget = Budget::unlimited();
    let counters = Counters::default();
    let search = Tolerance::new(&an, &budget, Strategy::Full, &counters);
    search.adversary_until(most, None).map(|(set, _)| set)
}

/// A failing set the local search (`crate::adversary::descend`) finds
/// among sets of `size` hosts down to `lower + 1`, on a pool of any size,
/// each set proved infeasible by an exact decision: for the tests that
/// check it against brute force.
#[doc(hidden)]
pub fn local_failing_set(pool: &Pool, size: usize, lower: usize) -> Option<Vec<HostId>> {
    let an = Analysis::new(pool);
    if !an.failover || !an.has_items() || size == 0 {
        return None;
    }
    let budget = Budget::unlimited();
    let counters = Counters::default();
    let search = Tolerance::new(&an, &budget, Strategy::Full, &counters);
    let starts = crate::adversary::chains(&an, search.ranked.len());
    let until = Instant::now() + LOCAL_UNBOUNDED;
    crate::adversary::descend(&an, &search.ranked, &starts, size, lower, until, |set| {
        search.quick_proof(set, None)
    })
    .map(|(set, _)| set)
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
        if host.state == HostState::Up
            && !an.overloaded[h]
            && !pool.ha.failover_overcommit.is_empty()
        {
            let spare = pool.spare(h);
            let over: Vec<String> = (0..pool.resources.len())
                .filter(|&r| spare[r] < 0)
                .map(|r| format!("{} by {}", pool.resources[r], -spare[r]))
                .collect();
            if !over.is_empty() {
                w.push(format!(
                    "host {} is over its overcommit in normal operation ({}); ha.failover_overcommit still lets it receive restarted VMs",
                    host.name,
                    over.join(", ")
                ));
            }
        }
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
                    "host {} is down: {waiting} {} restart",
                    host.name,
                    if waiting == 1 {
                        "VM awaits"
                    } else {
                        "VMs await"
                    }
                ));
            }
        }
    }
    w
}

fn vm_mode_witness(an: &Analysis, stranded_now: bool) -> Witness {
    let pool = an.pool;
    // Hosts already down strand their VMs with no further failure;
    // otherwise the first up host holding a protected VM is a failing set.
    let failed = if stranded_now {
        Vec::new()
    } else {
        an.candidates
            .iter()
            .copied()
            .find(|&h| {
                pool.vms
                    .iter()
                    .any(|v| v.host == h && v.restart == Restart::Protected && v.power.is_active())
            })
            .map(|h| vec![h])
            .unwrap_or_default()
    };
    let mut unplaced: Vec<VmId> = pool
        .vms
        .iter()
        .enumerate()
        .filter(|(_, v)| {
            v.restart == Restart::Protected
                && v.power.is_active()
                && (failed.contains(&v.host) || pool.hosts[v.host].state == HostState::Down)
        })
        .map(|(i, _)| i)
        .collect();
    unplaced.sort_by_key(|&v| (pool.vms[v].priority, v));
    Witness {
        failed,
        unplaced,
        reason: "HA mode is \"vm\": there is no host failover".to_string(),
        short: None,
        explained: true,
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
    // The VMs the set strands, by a plan of bounded effort, unless the
    // time limit leaves none for it. The plan has at most half of the time
    // left: the rest is for what follows it whatever the time (further
    // checks of the caller, writing the answer), which a plan of tens of
    // thousands of VMs would otherwise leave none.
    let now = Instant::now();
    let share = Budget {
        deadline: budget
            .deadline
            .map(|d| now + d.saturating_duration_since(now) / 2),
        cancel: budget.cancel,
    };
    let p = (!budget.expired())
        .then(|| {
            plan::plan_with(
                an,
                failed,
                Scope::ProtectedOnly,
                &share,
                plan::Effort::Bounded,
            )
        })
        .filter(|p| !p.timed_out)
        .map(|p| p.plan);
    let explained = p.is_some();
    let unplaced: &[plan::Unplaced] = p.as_ref().map_or(&[], |p| &p.unplaced);
    // The most specific proof for this very set comes first.
    let local = pack::bounds::necessary(inst);
    let plural =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let reason = match (short, local.as_ref().or(proof)) {
        (Some((r, need, have)), _) => format!(
            "{} short by {}: the VMs to restart need {need}, the surviving hosts have {have} spare",
            pool.resources[r],
            need - have
        ),
        (None, Some(Infeasible::NoTarget { item })) => {
            let v = sc.vms[*item];
            let together = sc.members(*item).len() > 1;
            match unplaced.iter().find(|u| u.vm == v) {
                Some(u) if together => u.reason.clone(),
                Some(u) => format!("{} cannot be restarted: {}", pool.vms[v].name, u.reason),
                None if together => {
                    let names: Vec<&str> = sc
                        .members(*item)
                        .iter()
                        .map(|&m| pool.vms[m].name.as_str())
                        .collect();
                    format!(
                        "{} must run together; no surviving host they may run on has room for all of them",
                        crate::words::and_list(&names)
                    )
                }
                None => format!("{} fits on no surviving host it may run on", pool.vms[v].name),
            }
        }
        (None, Some(Infeasible::AntiAffinity { group, members, targets })) => {
            let name = (0..inst.items())
                .find(|&i| inst.group[i] == *group)
                .map(|i| an.group_of[sc.vms[i]])
                .filter(|&g| g != crate::pack::NO_GROUP)
                .map(|g| an.group_rules[an.group_rule[g as usize]].name.clone())
                .unwrap_or_default();
            format!(
                "anti-affinity: {} of group {name} need distinct hosts but only {} can take them",
                plural(*members, "VM", "VMs"),
                plural(*targets, "surviving host", "surviving hosts")
            )
        }
        (None, Some(Infeasible::Apart { rule, members, room })) => {
            let r = &an.group_rules[inst.apart[*rule].rule];
            format!(
                "group {}: {} to restart, at most {} per host, and the surviving hosts they may run on have room for {} more",
                r.name,
                plural(*members as usize, "VM", "VMs"),
                r.max_per_host,
                room
            )
        }
        (None, Some(Infeasible::Blocks { res, unit, need, have })) => format!(
            "counting whole slots of {unit} {res_name}, the VMs to restart need {need} and the surviving hosts have room for {have}",
            res_name = pool.resources[*res]
        ),
        (None, Some(Infeasible::Fill { res, unit, need, have })) => format!(
            "counting {res_name} in units of {unit}, the VMs to restart need {need} and no packing fills the surviving hosts with more than {have} (the sizes leave gaps in their spare)",
            res_name = pool.resources[*res]
        ),
        _ => "the spare capacity suffices in total but no placement fits every VM (fragmentation, eligibility or anti-affinity)".to_string(),
    };
    Witness {
        failed: failed.to_vec(),
        unplaced: unplaced.iter().map(|u| u.vm).collect(),
        reason,
        short,
        explained,
    }
}

struct Outcome {
    lower: u32,
    upper: u32,
    witness: Option<Vec<HostId>>,
    proof: Option<Infeasible>,
    current_infeasible: bool,
    /// The scenario of no further failure was left undecided.
    current_undecided: bool,
}

struct Tolerance<'a, 'p> {
    an: &'a Analysis<'p>,
    budget: &'a Budget<'a>,
    /// Candidates, heaviest first (ties by name).
    ranked: Vec<HostId>,
    /// `twin_prev[i]`: `ranked[i]` is interchangeable with `ranked[i - 1]`.
    /// Of a class of interchangeable hosts, a failure set needs only take a
    /// prefix (in rank order): any other choice is the same scenario up to
    /// renaming hosts.
    twin_prev: Vec<bool>,
    /// `dominated_by[i]`: ranks before `i` of hosts that dominate
    /// `ranked[i]` (`scenario::dominators`). A set with `ranked[i]` but not
    /// one of those is feasible if the swapped set is, and each swap lowers
    /// the sum of ranks, so the search looks only at sets with none.
    dominated_by: Vec<Vec<usize>>,
    strategy: Strategy,
    /// Each host's weight (the ranking's key; 0 for hosts not up).
    weights: Vec<f64>,
    bounds: SetBounds,
    scenarios: &'a AtomicU64,
    by_stage: &'a [AtomicU64; 4],
    /// Subtrees of failure sets the bounds proved feasible as a whole.
    set_level: &'a AtomicU64,
    /// The order the search tasks' packings place VMs in (`Warm::keys`).
    warm_key: crate::warm::Keys,
    /// Each host's VMs packed alone (`crate::warm::Alone`), made when a
    /// search first needs them.
    alone: std::sync::OnceLock<crate::warm::Alone>,
    /// How often the set bounds settle a set one host short of full that
    /// `alone` leaves hosts of: asked less where they hardly ever do.
    last_bounds: Sampled,
    /// Searches each open failure-set size elsewhere (`split`), given the
    /// domain order in a domain search.
    parts: Option<PartsHook<'a>>,
}

/// Whether to ask the set bounds of a set one host short of full, once
/// `warm::Alone` has left `n` hosts x to decide `chosen ∪ {x}` of: a "yes"
/// saves those n decisions, but on pools of many hosts the bounds cost
/// more than a handful of them and seldom say "yes" there. So they are
/// asked where the time they save on average (how often they say "yes",
/// times n decisions at their average time) is at least their own average
/// time, as measured so far in this search, and of one set in
/// [`SAMPLED_RATE`] besides (the rates change as the search goes on).
/// Skipping them changes what proves a set, never an answer.
#[derive(Default)]
struct Sampled {
    asked: AtomicU64,
    yes: AtomicU64,
    skipped: AtomicU64,
    asked_ns: AtomicU64,
    decided: AtomicU64,
    decided_ns: AtomicU64,
}

const SAMPLED_RATE: u64 = 64;

impl Sampled {
    fn ask(&self, n: usize) -> bool {
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed) as f64;
        let (asked, decided) = (load(&self.asked), load(&self.decided));
        if asked < SAMPLED_RATE as f64 || decided < SAMPLED_RATE as f64 {
            return true;
        }
        let saves = load(&self.yes) / asked * n as f64 * load(&self.decided_ns) / decided;
        saves >= load(&self.asked_ns) / asked
            || self.skipped.fetch_add(1, Ordering::Relaxed) % SAMPLED_RATE == 0
    }

    fn asked(&self, yes: bool, since: Instant) {
        self.asked.fetch_add(1, Ordering::Relaxed);
        self.yes.fetch_add(yes as u64, Ordering::Relaxed);
        let ns = since.elapsed().as_nanos() as u64;
        self.asked_ns.fetch_add(ns, Ordering::Relaxed);
    }

    fn decided(&self, n: u64, since: Instant) {
        if n > 0 {
            self.decided.fetch_add(n, Ordering::Relaxed);
            let ns = since.elapsed().as_nanos() as u64;
            self.decided_ns.fetch_add(ns, Ordering::Relaxed);
        }
    }
}

/// Decides `first_failing(k)` (or `first_failing_domains(d, k)`) by parts.
type PartsHook<'a> =
    &'a (dyn Fn(&Tolerance, Option<&[Vec<HostId>]>, usize) -> Option<SetResult> + Sync);

/// Pools of fewer up hosts do without `crate::adversary`.
const ADVERSARY_HOSTS: usize = 16;
/// Chains of `crate::adversary` tried, shortest first.
const ADVERSARY_CHAINS: usize = 48;
/// The adversary takes at most this fraction (1/n) of the time left.
const ADVERSARY_SHARE: u32 = 4;
/// The local search's time without a deadline.
const LOCAL_UNBOUNDED: Duration = Duration::from_secs(10);
/// Time for one exact decision of the adversary's.
const ADVERSARY_DECISION: Duration = Duration::from_millis(200);

enum SetResult {
    Infeasible(Vec<HostId>, Infeasible),
    Undecided,
}

impl<'a, 'p> Tolerance<'a, 'p> {
    fn new(
        an: &'a Analysis<'p>,
        budget: &'a Budget<'a>,
        strategy: Strategy,
        counters: &'a Counters,
    ) -> Self {
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
        // Interchangeable hosts get the same class and, having equal
        // weights, sit side by side in the ranking.
        let class = crate::scenario::twin_classes_within(an, budget);
        ranked.sort_by(|&a, &b| {
            weights[b]
                .total_cmp(&weights[a])
                .then(class[a].cmp(&class[b]))
                .then_with(|| pool.hosts[a].name.cmp(&pool.hosts[b].name))
        });
        // Dominators by rank: ranked[i] may be skipped in favour of any of
        // them ranked before it.
        let mut rank = vec![usize::MAX; pool.hosts.len()];
        for (i, &h) in ranked.iter().enumerate() {
            rank[h] = i;
        }
        let dominated_by: Vec<Vec<usize>> = if strategy == Strategy::Full {
            let dom = crate::scenario::dominators_within(an, budget);
            ranked
                .iter()
                .map(|&b| {
                    let mut d: Vec<usize> = dom[b]
                        .iter()
                        .map(|&a| rank[a])
                        .filter(|&r| r < rank[b])
                        .collect();
                    d.sort_unstable();
                    d
                })
                .collect()
        } else {
            vec![Vec::new(); ranked.len()]
        };
        let twin_prev = (0..ranked.len())
            .map(|i| {
                strategy == Strategy::Full && i > 0 && class[ranked[i]] == class[ranked[i - 1]]
            })
            .collect();
        Tolerance {
            an,
            budget,
            ranked,
            twin_prev,
            dominated_by,
            strategy,
            weights,
            bounds: SetBounds::within(an, budget),
            scenarios: &counters.scenarios,
            by_stage: &counters.by_stage,
            set_level: &counters.set_level,
            warm_key: Warm::keys(an),
            alone: std::sync::OnceLock::new(),
            last_bounds: Sampled::default(),
            parts: None,
        }
    }

    /// K first, then the maximum as `aim` says.
    fn run(&self, aim: &Aim) -> Outcome {
        let n = self.ranked.len();
        let mut out = match self.opening(n) {
            Ok(out) => out,
            Err(done) => return done,
        };
        let bounded = self.strategy == Strategy::Full;
        // Upper bound: the smallest k with a set the aggregate condition rejects.
        for k in (1..=n).filter(|_| bounded) {
            let p = Partial {
                chosen: &[],
                rest: &self.ranked,
                m: k,
            };
            if let Some((set, blocks)) = self.bounds.infeasible_completion(&p) {
                self.set_level.fetch_add(1, Ordering::Relaxed);
                let proof = Infeasible::from(blocks);
                out.upper = k as u32 - 1;
                out.witness = Some(set);
                out.proof = Some(proof);
                break;
            }
        }
        aim.bounds(&out);
        // K first. Tolerance is monotone, so when every K-set is proved
        // feasible at once, K is; otherwise the bounds raise the lower
        // bound as far as they can below K, and the K-sets are searched.
        if bounded && !aim.decided(&out) {
            if self.bounds.all_of_size(&self.ranked, aim.k as usize) {
                self.set_level.fetch_add(1, Ordering::Relaxed);
                out.lower = aim.k;
            } else {
                self.raise_lower(&mut out, aim.k - 1);
            }
        }
        // Failing sets of at most K hosts built around the VMs hardest to
        // place refute K without a search.
        if bounded && !aim.decided(&out) {
            self.tighten(&mut out, aim.k as usize);
            aim.bounds(&out);
        }
        if !aim.decided(&out)
            && !decide_k(&mut out, aim, self.an.monotone(), |k| self.first_failing(k))
        {
            return out;
        }
        if aim.then(&out) {
            if bounded {
                let upper = out.upper;
                self.raise_lower(&mut out, upper);
                if out.upper > out.lower + 1 {
                    self.tighten(&mut out, upper as usize);
                }
                aim.bounds(&out);
            }
            grow(&mut out, aim, |k| self.first_failing(k));
        }
        out
    }

    /// Lowers `out.upper` to a failing set of at most `most` hosts that
    /// `crate::adversary` builds, if it finds one.
    fn tighten(&self, out: &mut Outcome, most: usize) {
        if let Some((set, proof)) = self.adversary(most.min(out.upper as usize)) {
            out.upper = set.len() as u32 - 1;
            out.witness = Some(set);
            out.proof = Some(proof);
        }
    }

    /// Raises `out.lower` while the set bounds prove every set of one more
    /// host feasible at once, up to `limit`.
    fn raise_lower(&self, out: &mut Outcome, limit: u32) {
        while out.lower < out.upper.min(limit)
            && self
                .bounds
                .all_of_size(&self.ranked, out.lower as usize + 1)
        {
            self.set_level.fetch_add(1, Ordering::Relaxed);
            out.lower += 1;
        }
    }

    /// The outcome before any search when `n` units can fail: `Err` with
    /// the final outcome when the VMs of hosts already down cannot all be
    /// restarted (tolerance 0, that state the witness) or that is undecided.
    fn opening(&self, n: usize) -> Result<Outcome, Outcome> {
        let mut out = Outcome {
            lower: 0,
            upper: n as u32,
            witness: None,
            proof: None,
            current_infeasible: false,
            current_undecided: false,
        };
        if self.an.down.is_empty() {
            return Ok(out);
        }
        // With no time left, the cheap stages still settle most.
        let decided = match self.decide(&[]) {
            Err(SetResult::Undecided) => self.decide_cheaply(&[]),
            d => d,
        };
        match decided {
            Ok(()) => Ok(out),
            Err(SetResult::Infeasible(set, proof)) => {
                out.upper = 0;
                out.witness = Some(set);
                out.proof = Some(proof);
                out.current_infeasible = true;
                Err(out)
            }
            Err(SetResult::Undecided) => {
                out.current_undecided = true;
                Err(out)
            }
        }
    }

    /// Failure domains (`crate::domains`), heaviest first (by the summed
    /// weight of their hosts; ties by position), each with its hosts in
    /// rank order.
    fn domain_order(&self, domains: &[crate::domains::Domain]) -> Vec<Vec<HostId>> {
        let mut rank = vec![usize::MAX; self.an.pool.hosts.len()];
        for (i, &h) in self.ranked.iter().enumerate() {
            rank[h] = i;
        }
        let mut order: Vec<(f64, usize)> = domains
            .iter()
            .enumerate()
            .map(|(i, d)| (d.hosts.iter().map(|&h| self.weights[h]).sum(), i))
            .collect();
        order.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        order
            .into_iter()
            .map(|(_, i)| {
                let mut hosts = domains[i].hosts.clone();
                hosts.sort_by_key(|&h| rank[h]);
                hosts
            })
            .collect()
    }

    /// The tolerance in failure domains: the largest k such that every set
    /// of k domains can fail. The host-level set bounds still prune: a set
    /// of m more domains adds at most as many hosts as the m largest, and
    /// tolerance is monotone, so when every completion by that many hosts is
    /// feasible, so is every completion by m domains.
    fn run_domains(&self, domains: &[crate::domains::Domain], aim: &Aim) -> Outcome {
        let d = self.domain_order(domains);
        let mut out = match self.opening(d.len()) {
            Ok(out) => out,
            Err(done) => return done,
        };
        aim.bounds(&out);
        let first_failing = |k| self.first_failing_domains(&d, k);
        if !aim.decided(&out) && !decide_k(&mut out, aim, self.an.monotone(), first_failing) {
            return out;
        }
        if aim.then(&out) {
            grow(&mut out, aim, first_failing);
        }
        out
    }

    /// The first failing set of `k` domains (of `d`, in its order), the
    /// first domain choice in parallel.
    fn first_failing_domains(&self, d: &[Vec<HostId>], k: usize) -> Option<SetResult> {
        let n = d.len();
        if k == 0 || k > n {
            return None;
        }
        if self.strategy == Strategy::Full && self.all_domains_feasible(d, &[], &self.ranked, 0, k)
        {
            self.set_level.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        if let Some(parts) = self.parts {
            return parts(self, Some(d), k);
        }
        (0..=n - k)
            .into_par_iter()
            .find_map_first(|first| self.failing_from_first_domain(d, first, k))
    }

    /// The first failing set of `k` domains whose first is `d[first]`.
    fn failing_from_first_domain(
        &self,
        d: &[Vec<HostId>],
        first: usize,
        k: usize,
    ) -> Option<SetResult> {
        let mut chosen = d[first].clone();
        let mut warm = Warm::new(self.an, &self.warm_key);
        chosen.iter().for_each(|&h| warm.push(h));
        self.dfs_domains(d, &mut chosen, &mut warm, first + 1, k - 1)
    }

    /// Whether the bounds prove every completion of `chosen` by `m` of the
    /// domains `d[start..]` feasible.
    fn all_domains_feasible(
        &self,
        d: &[Vec<HostId>],
        chosen: &[HostId],
        rest: &[HostId],
        start: usize,
        m: usize,
    ) -> bool {
        let mut sizes: Vec<usize> = d[start..].iter().map(Vec::len).collect();
        sizes.sort_unstable_by(|a, b| b.cmp(a));
        let most: usize = sizes.iter().take(m).sum();
        let p = Partial {
            chosen,
            rest,
            m: most.min(rest.len()),
        };
        self.bounds.all_feasible(&p)
    }

    fn dfs_domains(
        &self,
        d: &[Vec<HostId>],
        chosen: &mut Vec<HostId>,
        warm: &mut Warm,
        start: usize,
        m: usize,
    ) -> Option<SetResult> {
        if self.budget.expired() {
            return Some(SetResult::Undecided);
        }
        let bounded = self.strategy == Strategy::Full;
        if m == 0 {
            if bounded
                && self.bounds.all_feasible(&Partial {
                    chosen,
                    rest: &[],
                    m: 0,
                })
            {
                self.count(0, 1);
                return None;
            }
            if bounded && warm.feasible() {
                self.count(pack::Stage::Greedy as usize, 1);
                return None;
            }
            return self.decide(chosen).err();
        }
        if d.len() - start < m {
            return None;
        }
        if bounded {
            let rest: Vec<HostId> = d[start..].iter().flatten().copied().collect();
            if self.all_domains_feasible(d, chosen, &rest, start, m) {
                self.set_level.fetch_add(1, Ordering::Relaxed);
                return None;
            }
        }
        for i in start..=d.len() - m {
            let len = chosen.len();
            chosen.extend_from_slice(&d[i]);
            d[i].iter().for_each(|&h| warm.push(h));
            let found = crate::deep(|| self.dfs_domains(d, chosen, warm, i + 1, m - 1));
            d[i].iter().for_each(|_| warm.pop());
            chosen.truncate(len);
            if found.is_some() {
                return found;
            }
        }
        None
    }

    /// A failing set of at most `most` hosts built by `crate::adversary`,
    /// each set proved infeasible exactly; only on pools of at least
    /// [`ADVERSARY_HOSTS`] candidates, where searching sets in rank order
    /// is costly (on smaller ones the search finds the first failing set
    /// by rank itself, the witness reports name).
    fn adversary(&self, most: usize) -> Option<(Vec<HostId>, Infeasible)> {
        if self.ranked.len() < ADVERSARY_HOSTS || most == 0 || self.budget.expired() {
            return None;
        }
        // At most a quarter of the time left: the rest is the search's,
        // which alone raises the lower bound.
        let now = Instant::now();
        let until = self
            .budget
            .deadline
            .map(|d| now + d.saturating_duration_since(now) / ADVERSARY_SHARE);
        let found = self.adversary_until(most, until);
        if found.is_some() {
            self.set_level.fetch_add(1, Ordering::Relaxed);
        }
        found
    }

    /// [`Tolerance::adversary`] on any pool, until `until`: the smallest
    /// failing set among the chains' prefixes.
    fn adversary_until(
        &self,
        most: usize,
        until: Option<Instant>,
    ) -> Option<(Vec<HostId>, Infeasible)> {
        let chains = crate::adversary::chains(self.an, most);
        let chains = &chains[..chains.len().min(ADVERSARY_CHAINS)];
        crate::adversary::smallest_failing(chains, most, |set| self.quick_proof(set, until))
    }

    /// A proof that `set` fails, from the necessary conditions or an exact
    /// decision within a short budget; `None` when neither gives one.
    fn quick_proof(&self, set: &[HostId], until: Option<Instant>) -> Option<Infeasible> {
        let now = Instant::now();
        if self.budget.expired() || until.is_some_and(|u| now >= u) {
            return None;
        }
        let sc = self.an.scenario(&self.an.mask(set));
        let soon = until.map_or(now + ADVERSARY_DECISION, |u| {
            u.min(now + ADVERSARY_DECISION)
        });
        let short = Budget {
            deadline: Some(self.budget.deadline.map_or(soon, |d| d.min(soon))),
            cancel: self.budget.cancel,
        };
        let (d, stage) = pack::decide(&sc.instance, &short);
        self.count(stage as usize, 1);
        match d {
            Decision::Infeasible(p) => Some(p),
            _ => None,
        }
    }

    fn count(&self, stage: usize, n: u64) {
        self.scenarios.fetch_add(n, Ordering::Relaxed);
        self.by_stage[stage].fetch_add(n, Ordering::Relaxed);
    }

    /// The first failing k-set, searching subtrees by rank: the first host
    /// choice in parallel, the rest depth first, pruning every subtree whose
    /// completions the set bounds decide.
    fn first_failing(&self, k: usize) -> Option<SetResult> {
        let n = self.ranked.len();
        if k > n {
            return None;
        }
        if let Some(parts) = self.parts {
            return parts(self, None, k);
        }
        (0..=n - k)
            .into_par_iter()
            .find_map_first(|first| self.failing_from_first(first, k))
    }

    /// The first failing k-set whose first host (by rank) is `ranked[first]`.
    fn failing_from_first(&self, first: usize, k: usize) -> Option<SetResult> {
        if self.twin_prev[first] || !self.dominated_by[first].is_empty() {
            return None; // a twin or a dominator ranked before stands for it
        }
        let mut chosen = Vec::with_capacity(k);
        chosen.push(self.ranked[first]);
        let mut warm = Warm::new(self.an, &self.warm_key);
        warm.push(self.ranked[first]);
        self.dfs(&mut chosen, &mut warm, first + 1, k)
    }

    /// Searches the completions of `chosen` by hosts ranked from `start`;
    /// `warm` carries a packing along (`crate::warm`), for `chosen` as it is.
    fn dfs(
        &self,
        chosen: &mut Vec<HostId>,
        warm: &mut Warm,
        start: usize,
        k: usize,
    ) -> Option<SetResult> {
        if self.budget.expired() {
            return Some(SetResult::Undecided);
        }
        let m = k - chosen.len();
        let rest = &self.ranked[start..];
        let p = Partial { chosen, rest, m };
        let bounded = self.strategy == Strategy::Full;
        if m == 0 {
            if bounded && warm.feasible() {
                self.count(pack::Stage::Greedy as usize, 1);
                return None;
            }
            if bounded && self.bounds.all_feasible(&p) {
                self.count(0, 1);
                return None;
            }
            return self.decide(chosen).err();
        }
        if rest.len() < m {
            return None;
        }
        // One host left to add: the hosts x whose own packing combines
        // with this set's (`crate::warm::Alone`) need no packing of theirs,
        // nor the set bounds (which cost more than finding them).
        let left = (bounded && m == 1)
            .then(|| self.last_hosts(chosen, warm, start))
            .flatten();
        let asking = match &left {
            None => bounded,
            Some(c) => !c.is_empty() && self.last_bounds.ask(c.len()),
        };
        if asking {
            let since = Instant::now();
            let proved = self.bounds.all_feasible(&p);
            if left.is_some() {
                self.last_bounds.asked(proved, since);
            }
            if proved {
                self.set_level.fetch_add(1, Ordering::Relaxed);
                return None;
            }
        }
        // The aggregate condition can only reject a completion here when it
        // rejects one of the parent's: a child's chosen hosts are the
        // parent's plus one host x of its rest, and its rest is part of
        // what follows x, so `fixed + loss(x) + top_m(rest)` is at most the
        // parent's `fixed + top_(m+1)(rest)`. So it is asked at the top of
        // each task only (one host chosen): below a "no" there every answer
        // is "no" too, and asking costs most of a search's time on pools
        // of many resources (a pass over the rest per block size).
        let top = bounded && chosen.len() == 1;
        if let Some((set, blocks)) = top.then(|| self.bounds.infeasible_completion(&p)).flatten() {
            self.count(0, 1);
            let proof = Infeasible::from(blocks);
            return Some(SetResult::Infeasible(set, proof));
        }
        let since = Instant::now();
        let mut decided = 0;
        for i in start..=self.ranked.len() - m {
            if i > start && self.twin_prev[i] {
                continue; // skipping its twin ranked[i - 1] for it changes nothing
            }
            // A dominator ranked before and not chosen stands for it.
            if self.dominated_by[i]
                .iter()
                .any(|&r| !chosen.contains(&self.ranked[r]))
            {
                continue;
            }
            if let Some(left) = &left {
                if left.binary_search(&self.ranked[i]).is_err() {
                    self.count(pack::Stage::Greedy as usize, 1);
                    continue;
                }
            }
            chosen.push(self.ranked[i]);
            warm.push(self.ranked[i]);
            let found = crate::deep(|| self.dfs(chosen, warm, i + 1, k));
            warm.pop();
            chosen.pop();
            decided += 1;
            if found.is_some() {
                return found;
            }
        }
        if left.is_some() {
            self.last_bounds.decided(decided, since);
        }
        None
    }

    /// With `warm` a valid packing of `chosen`, the hosts x ranked from
    /// `start` (sorted) for which `chosen ∪ {x}` is not proved survived by
    /// combining it with x's own packing (`crate::warm::Alone`): those
    /// without one, and those where the VMs `warm` places on x, with x's
    /// that clash with `warm`'s on a host it changed or on a host of
    /// `chosen`, find no other hosts. `None` when `warm` is not valid
    /// (every x then needs its own decision).
    fn last_hosts(&self, chosen: &[HostId], warm: &mut Warm, start: usize) -> Option<Vec<HostId>> {
        if !warm.feasible() {
            return None;
        }
        let an = self.an;
        let alone = self
            .alone
            .get_or_init(|| crate::warm::Alone::of(an, &self.warm_key, self.budget));
        let mut hosts = chosen.to_vec();
        warm.touched(&mut hosts);
        hosts.sort_unstable();
        hosts.dedup();
        let rest = &self.ranked[start..];
        // x's VMs that clash with the packing, to move.
        let mut clashing = Vec::new();
        let mut load = Vec::new();
        for &t in &hosts {
            alone.clashes(an, warm, chosen, t, &mut load, &mut clashing);
        }
        clashing.sort_unstable();
        let mut extra = Vec::new();
        let mut out = Vec::new();
        for &x in rest {
            if !alone.has(x) {
                out.push(x);
                continue;
            }
            let from = clashing.partition_point(|e| e.0 < x);
            extra.clear();
            extra.extend(
                clashing[from..]
                    .iter()
                    .take_while(|e| e.0 == x)
                    .map(|e| e.1),
            );
            // Settled when the VMs the packing put on x, and x's that
            // clash, move.
            if (!warm.on(x).is_empty() || !extra.is_empty())
                && alone.moves(an, warm, x, &extra).is_none()
            {
                out.push(x);
            }
        }
        out.sort_unstable();
        Some(out)
    }

    /// [`Tolerance::decide`] by the bounds and the greedy alone, whatever
    /// the time left.
    fn decide_cheaply(&self, set: &[HostId]) -> Result<(), SetResult> {
        let sc = self.an.scenario(&self.an.mask(set));
        self.scenarios.fetch_add(1, Ordering::Relaxed);
        match pack::decide_cheaply(&sc.instance) {
            Some((Decision::Feasible(_), stage)) => {
                self.by_stage[stage as usize].fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Some((Decision::Infeasible(p), stage)) => {
                self.by_stage[stage as usize].fetch_add(1, Ordering::Relaxed);
                let mut s = set.to_vec();
                s.sort_unstable();
                Err(SetResult::Infeasible(s, p))
            }
            _ => Err(SetResult::Undecided),
        }
    }

    fn decide(&self, set: &[HostId]) -> Result<(), SetResult> {
        if self.budget.expired() {
            return Err(SetResult::Undecided);
        }
        let mask = self.an.mask(set);
        let sc = self.an.scenario(&mask);
        let (d, stage) = match self.strategy {
            #[cfg(feature = "ilp")]
            // When HiGHS fails without an answer (it occasionally reports a
            // bare error on infeasible models), the staged decision settles it.
            Strategy::IlpPerSet if sc.instance.items() > 0 => {
                match pack::ilp::solve(&sc.instance, self.budget) {
                    Some(d) => (d, pack::Stage::Ilp),
                    None => pack::decide(&sc.instance, self.budget),
                }
            }
            _ => pack::decide(&sc.instance, self.budget),
        };
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

/// What a search is asked: K first, then, as `goal` says, the maximum.
struct Aim<'a> {
    k: u32,
    goal: Goal,
    progress: &'a Progress,
    /// When K was decided.
    k_decided: std::cell::Cell<Option<Instant>>,
}

impl Aim<'_> {
    /// Whether the bounds in `out` settle K.
    fn decided(&self, out: &Outcome) -> bool {
        out.lower >= self.k || out.upper < self.k
    }

    fn bounds(&self, out: &Outcome) {
        self.progress.bounds(out.lower, out.upper);
    }

    /// K is decided: whether to go on to the exact maximum.
    fn then(&self, out: &Outcome) -> bool {
        self.k_decided.set(Some(Instant::now()));
        self.bounds(out);
        let more = out.lower < out.upper
            && match self.goal {
                Goal::Max => true,
                Goal::K => false,
                Goal::AtLeast => out.upper < self.k,
            };
        if more {
            self.progress.set_phase(Phase::Max);
        }
        more
    }
}

/// Decides K by searching the K-sets (`first_failing(K)`): false when the
/// budget ran out first.
fn decide_k(
    out: &mut Outcome,
    aim: &Aim,
    monotone: bool,
    first_failing: impl Fn(usize) -> Option<SetResult>,
) -> bool {
    aim.progress.set_phase(Phase::K);
    let k = aim.k;
    // Without monotony (keep-together groups) a smaller set can fail where
    // every K-set is survived: then every size above the proved lower bound
    // up to K is searched, smallest first.
    let from = if monotone { k } else { out.lower + 1 };
    for m in from.max(1)..=k {
        match first_failing(m as usize) {
            None => out.lower = out.lower.max(m),
            Some(SetResult::Infeasible(set, proof)) => {
                out.upper = m - 1;
                out.witness = Some(set);
                out.proof = Some(proof);
                break;
            }
            Some(SetResult::Undecided) => return false,
        }
    }
    aim.bounds(out);
    true
}

/// Raises `out.lower` one k at a time until `first_failing(k)` finds a
/// failing set (the upper bound and witness) or runs out of time. Starting
/// from the bottom, the first failing set is one of the smallest.
fn grow(out: &mut Outcome, aim: &Aim, first_failing: impl Fn(usize) -> Option<SetResult>) {
    while out.lower < out.upper {
        let k = out.lower as usize + 1;
        match first_failing(k) {
            None => out.lower = k as u32,
            Some(SetResult::Infeasible(set, proof)) => {
                out.upper = k as u32 - 1;
                out.witness = Some(set);
                out.proof = Some(proof);
            }
            Some(SetResult::Undecided) => break,
        }
        aim.bounds(out);
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
