//! Headroom: the exact number of additional protected VMs of one shape that
//! can start while the pool still tolerates K host failures, a placement
//! that achieves it, and why one more does not fit (`haplan headroom`,
//! `docs/cli.md`).
//!
//! **Meaning.** New VMs are protected and running, priority medium, with the
//! shape's demand, storage and networks, and no local devices,
//! `allowed_hosts` or anti-affinity group. One may start on a host that is
//! up, not overloaded, not a standby host (standby hosts are kept for
//! restarts), reaches its storage and networks and has room for it in its
//! spare, and, when HA restarts VMs on other hosts, from which some other
//! host could restart it (else it would be a protected VM that is not
//! agile). The room is the spare of normal operation (a new VM never
//! starts on `ha.failover_overcommit`, which only restarts may use; the
//! failure scenarios that judge a placement do use it). n VMs fit when some
//! placement of n of them leaves a pool that
//! [`check`](crate::check) finds tolerating K failures with nothing
//! stranded now. Removing a new VM never hurts (its host gets spare back,
//! a failure has less to restart), so the placements that fit are closed
//! under removal and the answer is the largest n for which one exists.
//!
//! **Method.**
//! 1. Upper bounds that hold for every placement. With `f(y) = floor(y / u)`
//!    for a unit u dividing the new VM's demand d of resource r (1, d, d/2,
//!    ...), a failure set F is feasible only if
//!    `Σ_{h∈F} (Σ_{v on h} f(d_v) + f(S_h)) ≤ Σ_t f(S_t) − Σ_{v down} f(d_v)`
//!    (the necessary condition of `setbound`; S counted for hosts that
//!    receive restarts). A new VM on a receiving host h adds f(d) = d/u to
//!    h's displaced demand and takes exactly d/u from its spare: h's term is
//!    unchanged, and the right side loses d/u per new VM wherever it runs.
//!    So `n ≤ (T − top_K(L)) / (d/u)`: one bound per resource and unit, and
//!    again over the hosts the new VMs may restart on alone (their storage
//!    and networks). A new VM on a host that receives no restarts
//!    (`standby_only`) raises its host's term instead; the least top-K sum
//!    then comes from always filling the lowest term (the decreasingly
//!    minimal point of a box cut by a hyperplane), so the bound stays exact
//!    for the relaxation. Counting whole VMs instead: after a failure F
//!    every new VM runs on a host outside F, which holds at most its
//!    restart spare in whole VMs (its room where none may restart), so n
//!    is at most that summed over the hosts outside the K with the most.
//!    Counting the room restarts keep back (`Ctx::restart_bound`): a VM a
//!    failure must restart needs room on one of the hosts it may restart
//!    on, which then holds fewer new VMs than its room; VMs whose sets of
//!    such hosts are disjoint keep back room on different hosts, and the
//!    least each keeps back adds up. Add the room the hosts have at all.
//! 2. Lower bounds from placements that `check` verifies (stopping as soon
//!    as K is proved): prefixes of two greedy orders (most room left first;
//!    least used room first). A prefix of a feasible placement is feasible,
//!    so probes start at the bound, gallop down and bisect.
//! 3. Between the bounds, with few classes of interchangeable hosts (or
//!    without the feature `ilp`): each order's longest prefix that fits,
//!    one more VM at a time on each class, then an exhaustive search over
//!    count vectors (one count per host, non-increasing within a class),
//!    pruned by the failure sets that refuted placements before: a partial
//!    placement under which one of those sets is already infeasible
//!    (decided exactly by `pack::decide`) is dropped with every completion.
//!    Complete placements are checked; the first that passes raises the
//!    lower bound, and a search that ends without one proves the upper.
//!    Otherwise, after probing the bound with each order, the master
//!    problem (`Ctx::master`): the most VMs under which every failure set
//!    seen so far can restart everything, as one integer program. Its
//!    placement is checked: it passes (the lower bound rises), or it fails
//!    a new set, which is added (and the placement without the new VMs of
//!    that set's hosts is tried; after two such rounds with nothing placed,
//!    a greedy order gallops down for a lower bound). When the program is
//!    infeasible, no placement of one more passes even those sets: the
//!    upper bound is proved. Each round adds a set, so the loop ends; if
//!    the solver fails without an answer, the exhaustive search takes over.
//!    Under a time limit, a program of more than 200,000 variables (each
//!    set adds one per restarting VM and target host: on 1000 hosts, a
//!    few sets) is not handed to the solver: the search ends with the
//!    bounds it has.
//!    On pools of more than 500 VMs, first a bisection (`Ctx::prefixes`)
//!    from a placement that leaves room for restarts planned for each
//!    failure (`Ctx::reserved_placement`: the VMs with the fewest places to
//!    go first, each where it costs new VMs the least).
//! 4. Per host, `fits_here`: the most new VMs that can all start on it,
//!    between what the best placement put there (a part of a feasible
//!    placement) and the bounds for that host alone. A placement with every
//!    host of a batch at its bound that passes settles them all at once;
//!    batches that fail are split, and a host alone is bisected.
//!
//! Nothing is ever reported as not fitting unless that is proved: a time
//! limit leaves proved bounds (`exact: false`), never a guess.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rayon::prelude::*;

use crate::error::{Problem, ShapeError};
use crate::load::Cx;
use crate::model::*;
use crate::pack::{self, Budget, Decision};
use crate::scenario::Analysis;
use crate::strict::join;
use crate::strict::quoted;
use crate::tolerance::{self, CheckOptions, CheckReport, Verdict};

mod bounds;
mod hosts;
#[cfg(feature = "ilp")]
mod master;
mod place;
mod prefix;
mod search;

use search::{Search, SearchOutcome};

/// Units for the counting bounds: the VM's demand of a resource divided by
/// 1 to this many (when it divides), and 1.
const DIVISORS: i64 = 16;

/// The most new VMs a headroom question may involve: a shape so small that
/// more could fit is rejected ([`HeadroomError::TooSmall`]). Each is a VM of
/// the pools that are checked, so the cost grows with the count.
pub const MAX_ADDITIONAL: u64 = 100_000;

/// The VM whose headroom is asked for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Shape {
    /// Demand per resource name.
    pub demand: BTreeMap<String, i64>,
    /// Storage its disks need.
    pub storage: BTreeSet<String>,
    /// Networks its NICs need.
    pub networks: BTreeSet<String>,
}

impl Shape {
    /// Reads a shape: `demand` is JSON text, an object of resource amounts
    /// (`{"memory_mib": 32768, "vcpus": 8}`), amounts as in a pool file, at
    /// least one of them positive. `path` names the demand in problems
    /// (`--vm`); storage and network names must not be empty.
    pub fn parse(
        demand: &str,
        path: &str,
        storage: &[String],
        networks: &[String],
    ) -> Result<Shape, ShapeError> {
        let value = crate::strict::parse_json(demand, path).map_err(ShapeError::new)?;
        let mut cx = Cx::default();
        let amounts = cx.amounts(path, &value);
        if let Some(a) = &amounts {
            if a.values().all(|&x| x == 0) {
                cx.err(
                    path,
                    "must demand a positive amount of some resource (a VM that needs nothing fits without end)",
                );
            }
        }
        let mut names = |flag: &str, list: &[String]| -> BTreeSet<String> {
            for (i, n) in list.iter().enumerate() {
                if n.trim().is_empty() {
                    cx.err(&format!("{flag}[{i}]"), "must not be empty");
                } else if let Some(m) = crate::strict::name_problem(n.trim()) {
                    cx.err(&format!("{flag}[{i}]"), m);
                }
            }
            list.iter().map(|n| n.trim().to_string()).collect()
        };
        let storage = names("--storage", storage);
        let networks = names("--networks", networks);
        if !cx.is_empty() {
            let (problems, _) = cx.finish();
            return Err(ShapeError::new(problems));
        }
        Ok(Shape {
            demand: amounts.unwrap_or_default(),
            storage,
            networks,
        })
    }

    /// Resource names of the demand that `pool` does not know, with an
    /// amount above 0 (a typo, most likely: no host has any of them).
    pub fn unknown_resources(&self, pool: &Pool) -> Vec<String> {
        self.demand
            .iter()
            .filter(|&(r, &a)| a > 0 && pool.resource(r).is_none())
            .map(|(r, _)| r.clone())
            .collect()
    }

    /// An error for each resource of the demand that `pool` does not know,
    /// and for each storage or network that no host of `pool` reaches (a VM
    /// that needs one could start nowhere: most likely a typo).
    pub fn check_resources(&self, pool: &Pool, path: &str) -> Result<(), ShapeError> {
        let unknown = self.unknown_resources(pool);
        let known = if pool.resources.is_empty() {
            "the pool names none".to_string()
        } else {
            format!("the pool's resources: {}", pool.resources.join(", "))
        };
        let mut problems: Vec<Problem> = unknown
            .iter()
            .map(|r| Problem {
                path: join(path, r),
                message: match crate::load::did_you_mean(
                    r,
                    pool.resources.iter().map(String::as_str),
                ) {
                    Some(m) => format!(
                        "unknown resource {}; did you mean {}? {known}",
                        quoted(r),
                        quoted(m)
                    ),
                    None => format!("unknown resource {}; {known}", quoted(r)),
                },
                line: None,
                column: None,
            })
            .collect();
        let mut reached = |flag: &str,
                           what: &str,
                           wanted: &BTreeSet<String>,
                           of: fn(&Host) -> &BTreeSet<String>| {
            let all: BTreeSet<&str> = pool
                .hosts
                .iter()
                .flat_map(|h| of(h).iter().map(String::as_str))
                .collect();
            for name in wanted.iter().filter(|n| !all.contains(n.as_str())) {
                let hint = match crate::load::did_you_mean(name, all.iter().copied()) {
                    Some(m) => format!("; did you mean {}?", quoted(m)),
                    None if all.is_empty() => format!("; no host lists any {what}"),
                    None => format!(
                        "; the hosts' {what}: {}",
                        all.iter().copied().collect::<Vec<_>>().join(", ")
                    ),
                };
                problems.push(Problem {
                    path: flag.to_string(),
                    message: format!("unknown {what} {}: no host reaches it{hint}", quoted(name)),
                    line: None,
                    column: None,
                });
            }
        };
        reached("--storage", "storage", &self.storage, |h| &h.storage);
        reached("--networks", "networks", &self.networks, |h| &h.networks);
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ShapeError::new(problems))
        }
    }

    /// `memory_mib 32768, vcpus 8`, then ` (storage nfs-a; networks vlan10)`
    /// when given.
    pub fn describe(&self) -> String {
        let mut s = self
            .demand
            .iter()
            .filter(|&(_, &a)| a > 0)
            .map(|(r, a)| format!("{r} {a}"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut needs = Vec::new();
        if !self.storage.is_empty() {
            needs.push(format!(
                "storage {}",
                self.storage.iter().cloned().collect::<Vec<_>>().join(", ")
            ));
        }
        if !self.networks.is_empty() {
            needs.push(format!(
                "networks {}",
                self.networks.iter().cloned().collect::<Vec<_>>().join(", ")
            ));
        }
        if !needs.is_empty() {
            s.push_str(&format!(" ({})", needs.join("; ")));
        }
        s
    }

    /// The demand as an amount vector of `pool` (resources it does not know
    /// left out: no host has any of them).
    fn vector(&self, pool: &Pool) -> Vec<i64> {
        pool.resources
            .iter()
            .map(|r| self.demand.get(r).copied().unwrap_or(0))
            .collect()
    }
}

/// A question headroom does not answer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HeadroomError {
    /// The shape has no positive amount.
    #[error("the VM demands nothing: it would fit without end")]
    NoDemand,
    /// More than the most headroom counts would fit.
    #[error(
        "so small a VM could fit more than {MAX_ADDITIONAL} times; headroom counts at most that many (ask about a larger VM)"
    )]
    TooSmall,
}

/// What to ask of [`headroom`].
#[derive(Clone, Copy, Debug, Default)]
pub struct HeadroomOptions<'a> {
    /// K; the file's `host_failures_to_tolerate` when `None`.
    pub tolerate: Option<u32>,
    /// Stop after this long with proved bounds.
    pub time_limit: Option<Duration>,
    /// Stops the question (with proved bounds) once set.
    pub cancel: Option<&'a AtomicBool>,
    /// How to close the gap between the bounds; [`Method::Auto`] unless
    /// comparing.
    pub method: Method,
    /// The `max_time` of the check of the pool as it is
    /// ([`CheckOptions::max_time`]); with a `time_limit`, at most a tenth
    /// of it whatever this says (the count gets the rest).
    pub max_time: Option<Duration>,
    /// Where that check publishes its bounds ([`CheckOptions::progress`]).
    pub progress: Option<&'a tolerance::Progress>,
}

/// One host as a place for new VMs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostHeadroom {
    /// The host.
    pub host: HostId,
    /// How many new VMs its spare holds, HA aside (0 where none may start).
    pub room: u32,
    /// The most new VMs that can all start on this host with the pool still
    /// tolerating K (a proved lower bound when not `exact`).
    pub fits_here: u32,
    /// A proved upper bound of `fits_here` (equal to it when exact).
    pub fits_here_upper: u32,
    /// Why no new VM may start here, or why its spare holds none.
    pub reason: Option<String>,
}

/// What stops one more VM.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LimitKind {
    /// The pool does not tolerate K failures now (or strands VMs already).
    NotTolerated,
    /// No host may start the VM at all.
    NoHost,
    /// The hosts that may start it have no room for another.
    Capacity,
    /// Counting one resource (amounts, or whole slots of the VM's size)
    /// over a failure set, whatever the placement.
    Aggregate,
    /// The exhaustive search over placements found none of one more.
    Search,
    /// HA mode `vm`: a protected VM is stranded when its host fails.
    NoFailover,
    /// A time limit left the upper bound above the lower, or the search
    /// stopped before it ran out (a master problem too large to solve).
    Undecided,
}

impl LimitKind {
    /// The name answers give it (`limit.kind`).
    pub fn as_str(self) -> &'static str {
        match self {
            LimitKind::NotTolerated => "not_tolerated",
            LimitKind::NoHost => "no_host",
            LimitKind::Capacity => "capacity",
            LimitKind::Aggregate => "aggregate",
            LimitKind::Search => "search",
            LimitKind::NoFailover => "no_failover",
            LimitKind::Undecided => "undecided",
        }
    }
}

/// Why no more than `upper_bound` VMs fit: a proof sketch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limit {
    /// Which argument it is.
    pub kind: LimitKind,
    /// The argument in a sentence.
    pub reason: String,
    /// The failure set the argument is about, if one.
    pub failed: Vec<HostId>,
}

/// Counts of the work a headroom question did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HeadroomStats {
    /// Tolerance checks of placements (`check` runs).
    pub checks: u64,
    /// Failure sets those checks decided one by one.
    pub scenarios: u64,
    /// Their set-level decisions.
    pub set_level: u64,
    /// Single failure sets decided against a partial placement (search cuts).
    pub cuts: u64,
    /// Complete placements the exhaustive search tried.
    pub placements: u64,
    /// Wall time of the question.
    pub elapsed: Duration,
}

/// The answer of [`headroom()`].
#[derive(Clone, Debug)]
pub struct HeadroomReport {
    /// The pool's name.
    pub pool: String,
    /// The VM shape asked about.
    pub shape: Shape,
    /// K as used.
    pub tolerate: u32,
    /// Exact when `exact`; otherwise a proved lower bound.
    pub max_additional: u32,
    /// A proved upper bound (equal to `max_additional` when exact).
    pub upper_bound: u32,
    /// `max_additional`, `upper_bound` and every host's `fits_here` are
    /// proved exactly.
    pub exact: bool,
    /// New VMs per host: a placement of `max_additional` that `check`
    /// verified (the pool with it tolerates K).
    pub placement: Vec<u32>,
    /// Why not `upper_bound + 1`.
    pub limit: Limit,
    /// Every host, in file order.
    pub hosts: Vec<HostHeadroom>,
    /// The check of the pool as it is, against K.
    pub check: CheckReport,
    /// Counts of the work done.
    pub stats: HeadroomStats,
}

impl HeadroomReport {
    /// `NotOk` when the pool as it is fails its check against K (then there
    /// is no headroom, or a protected VM is not agile); `Undecided` when a
    /// time limit left a number open; else `Ok`.
    pub fn verdict(&self) -> Verdict {
        match self.check.verdict() {
            Verdict::NotOk => Verdict::NotOk,
            Verdict::Undecided => Verdict::Undecided,
            Verdict::Ok if !self.exact => Verdict::Undecided,
            Verdict::Ok => Verdict::Ok,
        }
    }

    /// Whether the verdict is `Ok`.
    pub fn ok(&self) -> bool {
        self.verdict() == Verdict::Ok
    }
}

/// The headroom for VMs of `shape` in `pool`, against K (options).
/// Resources of the shape the pool does not know count as resources no
/// host has (front ends reject them first: [`Shape::check_resources`]).
///
/// ```
/// let pool = haplan::parse_pool(r#"{"name": "p", "hosts": [
///   {"name": "h1", "capacity": {"memory_mib": 100}},
///   {"name": "h2", "capacity": {"memory_mib": 100}}],
///   "vms": [{"name": "a", "host": "h1", "demand": {"memory_mib": 40}}]}"#).unwrap();
/// let shape = haplan::Shape::parse(r#"{"memory_mib": 20}"#, "--vm", &[], &[]).unwrap();
/// let r = haplan::headroom(&pool, &shape, &haplan::HeadroomOptions::default()).unwrap();
/// // 160 spare; a failure of either host leaves 100 minus what it displaces.
/// assert_eq!((r.max_additional, r.exact), (3, true));
/// assert_eq!(r.placement.iter().sum::<u32>(), 3);
/// ```
pub fn headroom(
    pool: &Pool,
    shape: &Shape,
    opts: &HeadroomOptions,
) -> Result<HeadroomReport, HeadroomError> {
    let start = Instant::now();
    let deadline = opts.time_limit.map(|d| start + d);
    let k = opts.tolerate.unwrap_or(pool.ha.host_failures_to_tolerate);
    let current = tolerance::check(pool, &own_check(opts, k));
    let until = Until {
        deadline,
        cancel: opts.cancel,
        method: opts.method,
    };
    headroom_after_check(pool, shape, k, &until, start, current)
}

/// The options of the check of the pool as it is, against `k`.
fn own_check<'a>(opts: &HeadroomOptions<'a>, k: u32) -> CheckOptions<'a> {
    CheckOptions {
        tolerate: Some(k),
        time_limit: opts.time_limit,
        cancel: opts.cancel,
        max_time: own_max_time(opts.max_time, opts.time_limit),
        progress: opts.progress,
        ..CheckOptions::default()
    }
}

/// The `max_time` of the check of the pool as it is: the caller's, but
/// at most a tenth of the time limit. Its `max_tolerable` is reported
/// but the count does not need it; the count is the question, and on a
/// large pool the default 2 s of `max_time` could take most of a short
/// limit (1000 hosts, `--time-limit 3`: nothing left for one check of a
/// placement).
fn own_max_time(max_time: Option<Duration>, time_limit: Option<Duration>) -> Option<Duration> {
    match (max_time, time_limit) {
        (_, None) => max_time,
        (None, Some(l)) => Some(l / 10),
        (Some(m), Some(l)) => Some(m.min(l / 10)),
    }
}

/// When to stop, and how to search: what [`headroom_after_check`] needs of
/// the options.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Until<'a> {
    pub(crate) deadline: Option<Instant>,
    pub(crate) cancel: Option<&'a AtomicBool>,
    pub(crate) method: Method,
}

/// [`headroom`] when the pool's check against `k` is already done.
pub(crate) fn headroom_after_check(
    pool: &Pool,
    shape: &Shape,
    k: u32,
    until: &Until,
    start: Instant,
    current: CheckReport,
) -> Result<HeadroomReport, HeadroomError> {
    let (deadline, cancel, method) = (until.deadline, until.cancel, until.method);
    let d = shape.vector(pool);
    let missing = shape.unknown_resources(pool);
    if missing.is_empty() && d.iter().all(|&x| x == 0) {
        return Err(HeadroomError::NoDemand);
    }
    let an = Analysis::new(pool);
    let cx = Ctx::new(&an, shape, d, k, deadline, cancel, &missing);
    let capacity: u64 = cx.room.iter().map(|&r| r as u64).sum();
    let mut report = HeadroomReport {
        pool: pool.name.clone(),
        shape: shape.clone(),
        tolerate: k,
        max_additional: 0,
        upper_bound: 0,
        exact: true,
        placement: vec![0; pool.hosts.len()],
        limit: Limit {
            kind: LimitKind::NotTolerated,
            reason: String::new(),
            failed: Vec::new(),
        },
        hosts: Vec::new(),
        check: current,
        stats: HeadroomStats::default(),
    };
    let current = &report.check;
    let bounds = if cx.failover {
        cx.upper_bounds()
    } else {
        Bound::capacity(capacity, &cx)
    };
    let tolerated_now = !current.stranded_now && current.upper_bound >= k;
    let proved_now = !current.stranded_now && current.max_tolerable >= k;
    if !tolerated_now {
        report.limit = Limit {
            kind: LimitKind::NotTolerated,
            reason: if current.stranded_now {
                "VMs of hosts already down cannot all restart, even with no further failure"
                    .to_string()
            } else {
                format!(
                    "the pool tolerates {} now, fewer than the {k} asked",
                    failures(current.max_tolerable, current.upper_bound, current.exact)
                )
            },
            failed: current
                .witness
                .as_ref()
                .map(|w| w.failed.clone())
                .unwrap_or_default(),
        };
        report.hosts = cx.hosts(&vec![0; pool.hosts.len()], &vec![0; pool.hosts.len()]);
    } else if !proved_now {
        // A time limit left the pool's own tolerance open.
        report.exact = false;
        report.upper_bound = bounds.n.min(u32::MAX as u64) as u32;
        report.limit = Limit {
            kind: LimitKind::Undecided,
            reason: format!(
                "the time limit ran out before the pool itself was proved to tolerate {k}; {}",
                bounds.limit.reason
            ),
            failed: Vec::new(),
        };
        let ub = cx.single_host_bounds(report.upper_bound);
        report.hosts = cx.hosts(&vec![0; pool.hosts.len()], &ub);
    } else if cx.room.iter().all(|&r| r == 0) {
        report.limit = Limit {
            kind: if cx.eligible.iter().any(|&e| e) {
                LimitKind::Capacity
            } else {
                LimitKind::NoHost
            },
            reason: cx.no_host_reason(),
            failed: Vec::new(),
        };
        report.hosts = cx.hosts(&vec![0; pool.hosts.len()], &vec![0; pool.hosts.len()]);
    } else if pool.ha.enabled && pool.ha.mode == HaMode::Vm && k > 0 {
        report.limit = Limit {
            kind: LimitKind::NoFailover,
            reason: format!(
                "HA mode is \"vm\": a new protected VM is stranded when its host fails, so the pool would tolerate 0 host failures, not {k}"
            ),
            failed: Vec::new(),
        };
        report.hosts = cx.hosts(&vec![0; pool.hosts.len()], &vec![0; pool.hosts.len()]);
    } else {
        if bounds.n > MAX_ADDITIONAL {
            return Err(HeadroomError::TooSmall);
        }
        let search = cx.solve(bounds, method);
        report.max_additional = search.lower;
        report.upper_bound = search.upper;
        report.placement = search.placement.clone();
        report.limit = search.limit;
        let exact = search.lower == search.upper;
        let (lo, hi) = cx.fits_here(&search.placement, search.lower, search.upper);
        report.exact = exact && lo == hi;
        report.hosts = cx.hosts(&lo, &hi);
    }
    report.stats = HeadroomStats {
        checks: cx.checks.load(Ordering::Relaxed),
        scenarios: cx.scenarios.load(Ordering::Relaxed),
        set_level: cx.set_level.load(Ordering::Relaxed),
        cuts: cx.cuts.load(Ordering::Relaxed),
        placements: cx.placements.load(Ordering::Relaxed),
        elapsed: start.elapsed(),
    };
    Ok(report)
}

/// `2 host failures`, or `between 1 and 3 host failures`.
fn failures(lower: u32, upper: u32, exact: bool) -> String {
    let word = |n: u32| if n == 1 { "failure" } else { "failures" };
    if exact {
        format!("{lower} host {}", word(lower))
    } else {
        format!("between {lower} and {upper} host failures")
    }
}

/// An upper bound on the count with its argument.
#[derive(Clone, Debug)]
struct Bound {
    n: u64,
    limit: Limit,
}

impl Bound {
    fn capacity(n: u64, cx: &Ctx) -> Bound {
        Bound {
            n,
            limit: Limit {
                kind: LimitKind::Capacity,
                reason: cx.capacity_reason(n),
                failed: Vec::new(),
            },
        }
    }
}

/// The counting condition of one resource in one unit (see
/// [`Ctx::condition`]) with its terms per failure candidate.
struct Counting {
    r: ResourceId,
    u: i64,
    only_new: bool,
    /// Units of the new VM's demand.
    a: i64,
    /// Per candidate (`Analysis::candidates`): the units its failure
    /// displaces, plus its own spare's when it receives restarts.
    base: Vec<i64>,
    /// Units the receiving hosts' spare holds, less those of hosts
    /// already down.
    total: i64,
    /// K, at most the number of candidates.
    k: usize,
    /// Whether each host counts as receiving restarts.
    receives: Vec<bool>,
    /// Each candidate's place when `base` is sorted from the largest
    /// (ties by index).
    rank: Vec<usize>,
    /// `prefix[j]`: the sum of the `j` largest terms, j = 0..=k.
    prefix: Vec<i64>,
}

impl Counting {
    /// [`Ctx::condition`] for placements on host `h` alone (`i`: its
    /// index among the candidates, `room`: its room, above 0), in O(1):
    /// raising one term changes the top-K sum to the larger of the K
    /// largest other terms and the K - 1 largest others plus the raised.
    fn single(&self, h: HostId, i: Option<usize>, room: u32) -> u64 {
        let sum = self.prefix[self.k];
        if sum > self.total {
            return 0;
        }
        if self.receives[h] {
            // Each new VM takes `a` units from the total.
            return (((self.total - sum) / self.a) as u64).min(room as u64);
        }
        let Some(i) = i else { return 0 };
        if self.k == 0 {
            return room as u64;
        }
        // The K - 1 largest terms other than i's.
        let others = if self.rank[i] < self.k - 1 {
            self.prefix[self.k] - self.base[i]
        } else {
            self.prefix[self.k - 1]
        };
        // sum <= total bounds others + base[i] too: the quotient is >= 0.
        (((self.total - others - self.base[i]) / self.a) as u64).min(room as u64)
    }
}

/// What the solve found.
struct Solved {
    lower: u32,
    upper: u32,
    placement: Vec<u32>,
    limit: Limit,
}

/// The search's progress: the best placement verified so far, and the
/// failure sets that refuted the others.
struct State {
    lower: u32,
    best: Vec<u32>,
    cuts: Vec<Vec<HostId>>,
    /// Refuted placements with their witnesses, for the proof sketch.
    refuted: Vec<(Vec<u32>, tolerance::Witness)>,
    undecided: bool,
    /// Why the search stopped with time left, when it did.
    given_up: Option<String>,
}

impl State {
    fn raise(&mut self, x: Vec<u32>) {
        let n = total(&x);
        if n > self.lower {
            self.lower = n;
            self.best = x;
        }
    }

    fn refute(&mut self, x: &[u32], w: Option<tolerance::Witness>) {
        if let Some(w) = w {
            if !self.cuts.contains(&w.failed) {
                self.cuts.push(w.failed.clone());
            }
            let n = total(x);
            if !self.refuted.iter().any(|(e, _)| total(e) == n) {
                self.refuted.push((x.to_vec(), w));
            }
        }
    }
}

/// The answer of one tolerance check of a placement.
enum Tested {
    /// It tolerates K.
    Fits,
    /// It does not; a failing set of at most K hosts, when the check gave one.
    Fails(Option<tolerance::Witness>),
    Unknown,
}

struct Ctx<'a, 'p> {
    an: &'a Analysis<'p>,
    pool: &'p Pool,
    shape: &'a Shape,
    /// The shape's demand per resource.
    d: Vec<i64>,
    k: u32,
    deadline: Option<Instant>,
    cancel: Option<&'a AtomicBool>,
    /// Whether failed hosts' VMs restart elsewhere (HA on, mode `host`).
    failover: bool,
    /// Hosts a new VM may restart on, capacity aside: up, reaching its
    /// storage and networks, a standby host under `standby_only`.
    target: Vec<bool>,
    /// Hosts a new VM may start on, capacity aside.
    eligible: Vec<bool>,
    /// Why not, for the others.
    excluded: Vec<Option<String>>,
    /// New VMs each host's spare holds (0 where none may start).
    room: Vec<u32>,
    /// Each up host's spare in normal operation (where new VMs start).
    normal: Vec<Vec<i64>>,
    /// Twin class of each host (`scenario::twin_classes`).
    class: Vec<usize>,
    /// Names of the new VMs: this prefix and a number.
    prefix: String,
    checks: AtomicU64,
    scenarios: AtomicU64,
    set_level: AtomicU64,
    cuts: AtomicU64,
    placements: AtomicU64,
    /// The most variables of a master problem handed to the solver:
    /// `master::MASTER_VARIABLES` under a time limit (less in tests),
    /// none without one.
    #[cfg(feature = "ilp")]
    master_variables: Option<usize>,
}

impl<'a, 'p> Ctx<'a, 'p> {
    fn new(
        an: &'a Analysis<'p>,
        shape: &'a Shape,
        d: Vec<i64>,
        k: u32,
        deadline: Option<Instant>,
        cancel: Option<&'a AtomicBool>,
        missing: &[String],
    ) -> Ctx<'a, 'p> {
        let pool = an.pool;
        let nh = pool.hosts.len();
        let reaches = |h: HostId| {
            let host = &pool.hosts[h];
            shape.storage.is_subset(&host.storage) && shape.networks.is_subset(&host.networks)
        };
        let target: Vec<bool> = (0..nh)
            .map(|t| {
                pool.hosts[t].state == HostState::Up
                    && reaches(t)
                    && (pool.ha.migration_path != MigrationPath::StandbyOnly
                        || pool.hosts[t].standby)
            })
            .collect();
        let failover = an.failover;
        // New VMs start in normal operation: the spare without
        // `ha.failover_overcommit` (which only restarts may use).
        let mut normal = pool.spare_all();
        for (h, s) in normal.iter_mut().enumerate() {
            if pool.hosts[h].state != HostState::Up {
                s.fill(0);
            }
        }
        let mut excluded: Vec<Option<String>> = vec![None; nh];
        for (h, host) in pool.hosts.iter().enumerate() {
            let mut why: Vec<String> = Vec::new();
            match host.state {
                HostState::Down => why.push("is down".into()),
                HostState::Maintenance => why.push("is in maintenance".into()),
                HostState::Up => {}
            }
            if host.state == HostState::Up && normal[h].iter().any(|&s| s < 0) {
                why.push("is overloaded".into());
            }
            if host.standby {
                why.push("is a standby host (kept for restarts)".into());
            }
            for s in shape.storage.difference(&host.storage) {
                why.push(format!("cannot reach storage {s}"));
            }
            for n in shape.networks.difference(&host.networks) {
                why.push(format!("has no network {n}"));
            }
            if why.is_empty() && failover && !(0..nh).any(|t| t != h && target[t]) {
                why.push(if pool.ha.migration_path == MigrationPath::StandbyOnly {
                    "no standby host reaching the VM's storage and networks could restart a VM started here".into()
                } else {
                    "no other host reaching the VM's storage and networks could restart a VM started here".into()
                });
            }
            if !why.is_empty() {
                excluded[h] = Some(why.join(" and "));
            }
        }
        let eligible: Vec<bool> = excluded.iter().map(Option::is_none).collect();
        let d_for_room = d.clone();
        let room: Vec<u32> = (0..nh)
            .map(|h| {
                if !eligible[h] || !missing.is_empty() {
                    return 0;
                }
                let n = d_for_room
                    .iter()
                    .zip(&normal[h])
                    .filter(|&(&dr, _)| dr > 0)
                    .map(|(&dr, &s)| (s.max(0) / dr) as u64)
                    .min()
                    .unwrap_or(0);
                n.min(MAX_ADDITIONAL + 1) as u32
            })
            .collect();
        let class = crate::scenario::twin_classes_within(an, &Budget { deadline, cancel });
        let mut prefix = "new-".to_string();
        while pool.vms.iter().any(|v| v.name.starts_with(&prefix)) {
            prefix.insert(0, '+');
        }
        Ctx {
            an,
            pool,
            shape,
            d,
            k,
            deadline,
            cancel,
            failover,
            target,
            eligible,
            excluded,
            room,
            normal,
            class,
            prefix,
            #[cfg(feature = "ilp")]
            master_variables: deadline.map(|_| master::MASTER_VARIABLES),
            checks: AtomicU64::new(0),
            scenarios: AtomicU64::new(0),
            set_level: AtomicU64::new(0),
            cuts: AtomicU64::new(0),
            placements: AtomicU64::new(0),
        }
    }

    fn budget(&self) -> Budget<'a> {
        Budget {
            deadline: self.deadline,
            cancel: self.cancel,
        }
    }

    fn expired(&self) -> bool {
        self.budget().expired()
    }

    // ---------------------------------------------------------------
    // Checking placements

    /// The pool with `x[h]` new VMs on each host h.
    fn augmented(&self, x: &[u32]) -> Pool {
        let mut pool = self.pool.clone();
        let listed: Vec<bool> = pool
            .resources
            .iter()
            .map(|r| self.shape.demand.contains_key(r))
            .collect();
        let mut i = 0;
        for (h, &c) in x.iter().enumerate() {
            for _ in 0..c {
                i += 1;
                pool.vms.push(Vm {
                    name: format!("{}{i}", self.prefix),
                    host: h,
                    power: Power::Running,
                    demand: self.d.clone(),
                    listed: listed.clone(),
                    restart: Restart::Protected,
                    priority: Priority::Medium,
                    order: 0,
                    start_delay_s: 0,
                    boot_time_s: None,
                    storage: self.shape.storage.clone(),
                    networks: self.shape.networks.clone(),
                    local_devices: Vec::new(),
                    allowed_hosts: None,
                    anti_affinity: None,
                    preferred_hosts: Vec::new(),
                });
            }
        }
        pool
    }

    /// Tests placement `x` and records in `st` what that proved: `Some(true)`
    /// when it fits (the lower bound raised), `Some(false)` when it fails
    /// (the failing set kept), `None` when it is undecided
    /// (`st.undecided`).
    fn probe(&self, st: &mut State, x: Vec<u32>) -> Option<bool> {
        match self.test(&x) {
            Tested::Fits => {
                st.raise(x);
                Some(true)
            }
            Tested::Fails(w) => {
                st.refute(&x, w);
                Some(false)
            }
            Tested::Unknown => {
                st.undecided = true;
                None
            }
        }
    }

    /// Whether the pool with placement `x` tolerates K, by `check`.
    fn test(&self, x: &[u32]) -> Tested {
        if self.expired() {
            return Tested::Unknown;
        }
        let pool = self.augmented(x);
        let opts = CheckOptions {
            tolerate: Some(self.k),
            time_limit: self
                .deadline
                .map(|d| d.saturating_duration_since(Instant::now())),
            cancel: self.cancel,
            ..CheckOptions::default()
        };
        let r = tolerance::check_at_least(&pool, &opts);
        self.checks.fetch_add(1, Ordering::Relaxed);
        self.scenarios
            .fetch_add(r.stats.scenarios, Ordering::Relaxed);
        self.set_level
            .fetch_add(r.stats.set_level, Ordering::Relaxed);
        if r.stranded_now || r.upper_bound < self.k {
            Tested::Fails(r.witness)
        } else if r.max_tolerable >= self.k {
            Tested::Fits
        } else {
            Tested::Unknown
        }
    }

    /// Decides the failure of `failed` (hosts already down included) with
    /// placement `x`: `Some(false)` when proved infeasible.
    fn set_feasible(&self, failed: &[HostId], x: &[u32]) -> Option<bool> {
        let an = self.an;
        let nres = self.d.len();
        let mask = an.mask(failed);
        let sc = an.scenario(&mask);
        let mut inst = sc.instance;
        for (t, &h) in sc.hosts.iter().enumerate() {
            if x[h] > 0 {
                for r in 0..nres {
                    inst.cap[t * nres + r] -= x[h] as i64 * self.d[r];
                }
            }
        }
        for &h in failed {
            if x[h] == 0 || self.pool.hosts[h].state != HostState::Up {
                continue;
            }
            let elig: std::sync::Arc<[u32]> = sc
                .hosts
                .iter()
                .enumerate()
                .filter(|&(_, &t)| t != h && self.target[t])
                .map(|(t, _)| t as u32)
                .collect();
            for _ in 0..x[h] {
                inst.demand.extend(&self.d);
                inst.elig.push(elig.clone());
                inst.group.push(pack::NO_GROUP);
            }
        }
        self.cuts.fetch_add(1, Ordering::Relaxed);
        match pack::decide(&inst, &self.budget()).0 {
            Decision::Feasible(_) => Some(true),
            Decision::Infeasible(_) => Some(false),
            Decision::Undecided => None,
        }
    }

    // ---------------------------------------------------------------
    // Upper bounds

    fn solve(&self, bound: Bound, method: Method) -> Solved {
        let nh = self.pool.hosts.len();
        let mut upper = bound.n as u32;
        let mut limit = bound.limit;
        let mut st = State {
            lower: 0,
            best: vec![0u32; nh],
            cuts: Vec::new(),
            refuted: Vec::new(),
            undecided: false,
            given_up: None,
        };

        let classes = {
            let mut c: Vec<usize> = (0..nh)
                .filter(|&h| self.room[h] > 0)
                .map(|h| self.class[h])
                .collect();
            c.sort_unstable();
            c.dedup();
            c.len()
        };
        let exhaustive = match method {
            Method::Auto => !cfg!(feature = "ilp") || classes <= SMALL,
            Method::Search => true,
            Method::Master | Method::Bisect => !cfg!(feature = "ilp"),
        };
        // Greedy orders: the answer is usually at or near the bound. Before
        // the exhaustive search, each order's longest prefix that fits;
        // before the master problem only the bound itself (the master's
        // placements do better than the orders' prefixes).
        let reach = if exhaustive {
            Reach::Longest
        } else {
            Reach::Bound
        };
        // On large pools each check of a placement costs much and a master
        // problem more: instead of the orders' probes, a bisection from a
        // count aimed near the answer (at the bound when nothing needs to
        // be left for restarts).
        let large = !exhaustive
            && (method == Method::Bisect
                || (method == Method::Auto && self.pool.vms.len() > BISECT_VMS));
        for order in [Order::MostRoom, Order::Proportional] {
            if large {
                break;
            }
            self.greedy(&mut st, upper, order, reach);
        }
        if large && st.lower < upper && !st.undecided {
            // New VMs within the reservation first, then the rest of the
            // room, each part in the order of the most room left.
            let aim = self.reserved_placement();
            let first = total(&aim).min(upper);
            let mut x = vec![0u32; self.pool.hosts.len()];
            let mut seq = self.fill(Order::MostRoom, &mut x, &aim, first);
            seq.extend(self.fill(Order::MostRoom, &mut x, &self.room, upper));
            self.prefixes(&mut st, upper, &seq, From::Aim(first), Reach::Longest);
        }
        // The master problem; when the solver fails without an answer (not
        // for lack of time), the exhaustive search takes over.
        #[cfg(feature = "ilp")]
        let exhaustive =
            exhaustive || (!self.solve_by_master(&mut st, &mut upper, &mut limit) && !st.undecided);
        if exhaustive {
            self.grow(&mut st, upper);
            // Every placement of lower + 1.
            while st.lower < upper && !st.undecided {
                let n = st.lower + 1;
                let mut search = Search::new(self, n, std::mem::take(&mut st.cuts));
                let outcome = search.run();
                st.cuts = std::mem::take(&mut search.cuts);
                match outcome {
                    SearchOutcome::Found(x) => st.raise(x),
                    SearchOutcome::Exhausted => {
                        upper = st.lower;
                        let sets = if st.cuts.len() == 1 {
                            "the failure set".to_string()
                        } else {
                            format!("one of the {} failure sets", st.cuts.len())
                        };
                        let how = if search.leaves == 0 {
                            format!(
                                "every placement searched, up to interchangeable hosts: each fails \
                                 {sets} that refuted earlier placements"
                            )
                        } else {
                            format!(
                                "every placement searched, up to interchangeable hosts: {} checked in full, \
                                 each of the others fails {sets} that refuted earlier placements",
                                search.leaves
                            )
                        };
                        limit = self.search_limit(n, &how, &st);
                    }
                    SearchOutcome::Stopped => st.undecided = true,
                }
            }
        }
        if st.lower < upper {
            let why = st
                .given_up
                .clone()
                .unwrap_or_else(|| "the time limit ran out".to_string());
            limit = Limit {
                kind: LimitKind::Undecided,
                reason: format!(
                    "{why} with {} placed and {} not ruled out; the bound: {}",
                    st.lower,
                    st.lower + 1,
                    limit.reason
                ),
                failed: limit.failed,
            };
        }
        Solved {
            lower: st.lower,
            upper,
            placement: st.best,
            limit,
        }
    }

    fn search_limit(&self, n: u32, how: &str, st: &State) -> Limit {
        let example = st.refuted.iter().find(|(x, _)| total(x) == n);
        Limit {
            kind: LimitKind::Search,
            reason: self.search_reason(n, how, example),
            failed: example.map(|(_, w)| w.failed.clone()).unwrap_or_default(),
        }
    }

    fn search_reason(
        &self,
        n: u32,
        how: &str,
        example: Option<&(Vec<u32>, tolerance::Witness)>,
    ) -> String {
        let pool = self.pool;
        let mut s = format!(
            "no placement of {n} leaves a pool that tolerates {} ({how})",
            failures(self.k, self.k, true),
        );
        if let Some((x, w)) = example {
            let placed: Vec<String> = (0..x.len())
                .filter(|&h| x[h] > 0)
                .map(|h| format!("{} {}", pool.hosts[h].name, x[h]))
                .collect();
            let hosts: Vec<&str> = w
                .failed
                .iter()
                .map(|&h| pool.hosts[h].name.as_str())
                .collect();
            let when = if hosts.is_empty() {
                "even with no further failure".to_string()
            } else {
                format!(
                    "if {} fail{}",
                    hosts.join(", "),
                    if hosts.len() == 1 { "s" } else { "" }
                )
            };
            s.push_str(&format!(
                "; for example {} fails {when}: {}",
                placed.join(", "),
                w.reason
            ));
        }
        s
    }
}

/// How far [`Ctx::prefixes`] goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reach {
    /// The first probe only.
    Bound,
    /// Down from the first probe until a prefix fits.
    Gallop,
    /// The longest prefix that fits.
    Longest,
}

/// Where [`Ctx::prefixes`] starts and how it steps down.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum From {
    /// At the longest prefix the bound allows, 2, 6, 14, ... below it
    /// until one fits (the greedy orders: the answer is usually at or near
    /// the bound).
    Top,
    /// At this count (a placement aimed near the answer), 1/256 of it
    /// below, then twice that further, and so on.
    Aim(u32),
}

#[derive(Clone, Copy, Debug)]
enum Order {
    /// The host with the most room left.
    MostRoom,
    /// The host whose room is the least used so far, then the most room left.
    Proportional,
}

fn prefix(seq: &[HostId], n: u32, nh: usize) -> Vec<u32> {
    let mut x = vec![0u32; nh];
    for &h in &seq[..n as usize] {
        x[h] += 1;
    }
    x
}

fn total(x: &[u32]) -> u32 {
    x.iter().sum()
}

/// Pools with at most this many classes of hosts with room for a new VM
/// are searched exhaustively even when the master problem is available.
const SMALL: usize = 6;

/// Pools with more VMs than this look for the lower bound by bisection
/// ([`Ctx::prefixes`]) before the master problem, whose program grows with
/// the VMs of its failure sets.
const BISECT_VMS: usize = 500;

/// How [`headroom`] closes the gap between its bounds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Method {
    /// The exhaustive search for small pools (or without the feature
    /// `ilp`), else the master problem.
    #[default]
    Auto,
    /// Always the exhaustive search over placements.
    Search,
    /// Always the master problem (without the feature `ilp`: the search).
    Master,
    /// The master problem after a bisection over placements that leave
    /// room for planned restarts, whatever the pool's size (`Auto` does so
    /// on pools of more than 500 VMs); without the feature `ilp`: the
    /// search.
    Bisect,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(text: &str) -> Pool {
        crate::parse_pool(text).unwrap()
    }

    fn shape(demand: &str) -> Shape {
        Shape::parse(demand, "--vm", &[], &[]).unwrap()
    }

    /// a: 32 GiB, 4 vCPUs; b: 32 GiB, 32; c: 64 GiB, 32; VMs of 16 GiB, 4:
    /// counting either resource allows 4, but c's failure leaves room for 3.
    const TWO: &str = r#"{"name": "two", "hosts": [
        {"name": "a", "capacity": {"memory_mib": 32768, "vcpus": 4}},
        {"name": "b", "capacity": {"memory_mib": 32768, "vcpus": 32}},
        {"name": "c", "capacity": {"memory_mib": 65536, "vcpus": 32}}], "vms": []}"#;

    /// Four hosts of 100; VM a (50) on h0 may restart only on h1.
    const ONLY_H1: &str = r#"{"name": "r", "hosts": [
        {"name": "h0", "capacity": {"m": 100}}, {"name": "h1", "capacity": {"m": 100}},
        {"name": "h2", "capacity": {"m": 100}}, {"name": "h3", "capacity": {"m": 100}}],
        "vms": [{"name": "a", "host": "h0", "demand": {"m": 50}, "allowed_hosts": ["h1"]}]}"#;

    #[test]
    fn shapes_report_every_problem_with_its_path() {
        let e = Shape::parse(
            r#"{"m": -1, "v": 1.5, "w": "x"}"#,
            "--vm",
            &["".into()],
            &[],
        )
        .unwrap_err();
        let text: Vec<String> = e.problems.iter().map(|p| p.to_string()).collect();
        assert_eq!(
            text,
            [
                "--vm.m: must not be negative, found -1",
                "--vm.v: must be an integer, found 1.5",
                "--vm.w: expected a non-negative integer, found a string",
                "--storage[0]: must not be empty",
            ]
        );
        let e = Shape::parse("{}", "--vm", &[], &[]).unwrap_err();
        assert!(
            e.problems[0]
                .message
                .starts_with("must demand a positive amount")
        );
        let e = Shape::parse("[1", "--vm", &[], &[]).unwrap_err();
        assert_eq!(e.problems[0].line, Some(1));
        let p = pool(TWO);
        let e = shape(r#"{"memory": 1, "vcpus": 1}"#)
            .check_resources(&p, "--vm")
            .unwrap_err();
        assert_eq!(
            e.problems[0].to_string(),
            "--vm.memory: unknown resource \"memory\"; did you mean \"memory_mib\"? the pool's resources: memory_mib, vcpus"
        );
        let e = Shape::parse(
            r#"{"memory_mib": 1}"#,
            "--vm",
            &["nfs-b".into()],
            &["x".into()],
        )
        .unwrap()
        .check_resources(&p, "--vm")
        .unwrap_err();
        assert_eq!(e.problems.len(), 2, "{e}");
        assert_eq!(e.problems[0].path, "--storage");
        assert!(
            e.problems[0]
                .message
                .starts_with("unknown storage \"nfs-b\": no host reaches it")
        );
        assert_eq!(e.problems[1].path, "--networks");
        let e =
            Shape::parse(r#"{"memory_mib": 1}"#, "--vm", &["a\nOK: b".into()], &[]).unwrap_err();
        assert!(
            e.problems[0].message.contains("control character U+000A"),
            "{e}"
        );
    }

    /// The bounds per host one at a time, as placements on that host alone.
    fn single_host_bounds_by_conditions(cx: &Ctx, cap: u32) -> Vec<u32> {
        let nh = cx.pool.hosts.len();
        (0..nh)
            .map(|h| {
                if cx.room[h] == 0 {
                    return 0;
                }
                let only: Vec<bool> = (0..nh).map(|t| t == h).collect();
                let n = cx
                    .conditions(&only)
                    .iter()
                    .map(|b| b.n)
                    .min()
                    .unwrap_or(u64::MAX);
                n.min(cx.room[h] as u64).min(cap as u64) as u32
            })
            .collect()
    }

    /// A small pool: hosts as (memory, vCPUs, state, standby), VMs as
    /// (host, memory, vCPUs).
    fn small_pool(
        hosts: &[(i64, i64, u8, bool)],
        vms: &[(usize, i64, i64)],
        standby_only: bool,
    ) -> Pool {
        let hs: Vec<serde_json::Value> = hosts
            .iter()
            .enumerate()
            .map(|(i, &(m, c, st, sb))| {
                let state = ["up", "up", "up", "down", "maintenance"][st as usize % 5];
                serde_json::json!({"name": format!("h{i}"),
                    "capacity": {"m": m, "c": c},
                    "state": state,
                    "standby": sb})
            })
            .collect();
        let vs: Vec<serde_json::Value> = vms
            .iter()
            .enumerate()
            .map(|(i, &(h, m, c))| {
                serde_json::json!({"name": format!("v{i}"), "host": format!("h{}", h % hosts.len()),
                    "demand": {"m": m, "c": c}})
            })
            .collect();
        let path = if standby_only { "standby_only" } else { "any" };
        pool(
            &serde_json::json!({"name": "p", "ha": {"migration_path": path},
                "hosts": hs, "vms": vs})
            .to_string(),
        )
    }

    #[test]
    fn a_host_that_receives_nothing_is_bounded_by_what_its_failure_displaces() {
        // Only the four standby hosts (10 each) receive: 40 in all. a runs
        // 12 and displaces the most; its failure with one standby host's
        // leaves 40 - 10 for a's 12 and its new VMs: 18 of them.
        let mut hosts = vec![(40, 8, 0, false)];
        hosts.extend([(10, 8, 0, true); 4]);
        let p = small_pool(&hosts, &[(0, 6, 1), (0, 6, 1)], true);
        let an = Analysis::new(&p);
        let vm = shape(r#"{"m": 1}"#);
        let cx = Ctx::new(&an, &vm, vm.vector(&p), 2, None, None, &[]);
        assert_eq!(cx.single_host_bounds(100), [18, 0, 0, 0, 0]);
        assert_eq!(single_host_bounds_by_conditions(&cx, 100), [18, 0, 0, 0, 0]);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]
        /// The bounds per host, each counting condition set up once, equal
        /// the conditions computed for each host alone.
        #[test]
        fn single_host_bounds_equal_the_conditions_per_host(
            hosts in proptest::collection::vec((0i64..40, 0i64..12, 0u8..5, proptest::bool::weighted(0.4)), 1..8),
            vms in proptest::collection::vec((0usize..8, 0i64..12, 0i64..5), 0..20),
            standby_only in proptest::bool::weighted(0.7),
            k in 0u32..4,
            (dm, dc) in (1i64..9, 0i64..4),
            cap in 0u32..40,
        ) {
            let p = small_pool(&hosts, &vms, standby_only);
            let an = Analysis::new(&p);
            let vm = shape(&format!(r#"{{"m": {dm}, "c": {dc}}}"#));
            let cx = Ctx::new(&an, &vm, vm.vector(&p), k, None, None, &[]);
            proptest::prop_assert_eq!(
                cx.single_host_bounds(cap),
                single_host_bounds_by_conditions(&cx, cap)
            );
            // Each condition alone, not only the least of them.
            let nh = p.hosts.len();
            for c in cx.countings() {
                for h in (0..nh).filter(|&h| cx.room[h] > 0) {
                    let only: Vec<bool> = (0..nh).map(|t| t == h).collect();
                    let i = an.candidates.iter().position(|&o| o == h);
                    proptest::prop_assert_eq!(
                        c.single(h, i, cx.room[h]),
                        cx.condition(&c, &only).n.min(cx.room[h] as u64),
                        "h{} r{} u{} only_new {}", h, c.r, c.u, c.only_new
                    );
                }
            }
        }
    }

    #[test]
    fn the_reserved_placement_leaves_room_for_planned_restarts() {
        // a may restart only on h1: the failure of h0 needs 50 there, so
        // at most 5 new VMs of 10 on h1; filling every room (35) fails.
        let p = pool(ONLY_H1);
        let vm = shape(r#"{"m": 10}"#);
        let an = Analysis::new(&p);
        let cx = Ctx::new(&an, &vm, vm.vector(&p), 1, None, None, &[]);
        assert!(matches!(cx.test(&cx.room), Tested::Fails(_)));
        let x = cx.reserved_placement();
        assert!(x[1] <= 5, "{x:?}");
        assert!(total(&x) > 0);
        assert!(matches!(cx.test(&x), Tested::Fits), "{x:?}");
        // The bisection from it, with the master problem after it, finds
        // what the search does.
        let by = |method| {
            let opts = HeadroomOptions {
                tolerate: Some(1),
                method,
                ..Default::default()
            };
            let r = headroom(&p, &vm, &opts).unwrap();
            assert!(r.exact);
            r.max_additional
        };
        assert_eq!(by(Method::Bisect), by(Method::Search));
    }

    #[test]
    fn the_reserved_placement_on_more_hosts_than_a_restart_looks_at() {
        // 100 hosts: each restart of h0's VMs looks at 64 of its 99
        // targets (`WINDOW`), from a start that differs per VM; the room
        // it keeps back still lets every one of them restart.
        let hosts: Vec<String> = (0..100)
            .map(|i| format!(r#"{{"name": "h{i}", "capacity": {{"m": 100}}}}"#))
            .collect();
        let vms: Vec<String> =
            (0..40)
                .map(|i| format!(r#"{{"name": "v{i}", "host": "h0", "demand": {{"m": 2}}}}"#))
                .chain((1..100).map(|i| {
                    format!(r#"{{"name": "w{i}", "host": "h{i}", "demand": {{"m": 10}}}}"#)
                }))
                .collect();
        let p = pool(&format!(
            r#"{{"name": "w", "hosts": [{}], "vms": [{}]}}"#,
            hosts.join(","),
            vms.join(",")
        ));
        let vm = shape(r#"{"m": 10}"#);
        let an = Analysis::new(&p);
        let cx = Ctx::new(&an, &vm, vm.vector(&p), 1, None, None, &[]);
        assert!(matches!(cx.test(&cx.room), Tested::Fails(_)));
        let x = cx.reserved_placement();
        assert!(matches!(cx.test(&x), Tested::Fits), "{x:?}");
        let opts = HeadroomOptions {
            tolerate: Some(1),
            ..Default::default()
        };
        // It fits, so it is at most the answer; it aims the bisection
        // near it (883 of a room of 893; looking at every target: 876).
        let r = headroom(&p, &vm, &opts).unwrap();
        assert!(r.exact);
        let (got, best) = (total(&x), r.max_additional);
        assert!(got <= best && got * 100 >= best * 95, "{got} of {best}");
    }

    #[test]
    fn restarts_with_few_places_to_go_keep_room_back() {
        // a may restart only on h1, which then holds 5 new VMs of 10, not
        // 10; new VMs of any failed host restart on s. Every other bound
        // allows 25; 20 fit.
        let p = pool(
            r#"{"name": "r", "hosts": [
            {"name": "h0", "capacity": {"m": 100}}, {"name": "h1", "capacity": {"m": 100}},
            {"name": "h2", "capacity": {"m": 100}}, {"name": "s", "capacity": {"m": 100}, "standby": true}],
            "vms": [{"name": "a", "host": "h0", "demand": {"m": 50}, "allowed_hosts": ["h1"]}]}"#,
        );
        let vm = shape(r#"{"m": 10}"#);
        let an = Analysis::new(&p);
        let cx = Ctx::new(&an, &vm, vm.vector(&p), 1, None, None, &[]);
        assert_eq!(cx.slots_bound().unwrap().n, 25);
        assert!(cx.conditions(&cx.eligible).iter().all(|b| b.n >= 25));
        let b = cx.restart_bound().unwrap();
        assert_eq!(b.n, 20);
        assert!(
            b.limit.reason.contains("a (on h0) may restart only on h1"),
            "{}",
            b.limit.reason
        );
        assert_eq!(cx.upper_bounds().n, 20);
        // The reservation leaves exactly that room on h1, and it fits.
        let x = cx.reserved_placement();
        assert_eq!(x, [5, 5, 10, 0]);
        assert!(matches!(cx.test(&x), Tested::Fits));
        // With K = 0 nothing restarts: no such bound.
        let cx0 = Ctx::new(&an, &vm, vm.vector(&p), 0, None, None, &[]);
        assert!(cx0.restart_bound().is_none());
        let opts = HeadroomOptions {
            tolerate: Some(1),
            ..Default::default()
        };
        let r = headroom(&p, &vm, &opts).unwrap();
        assert_eq!((r.max_additional, r.exact), (20, true));
        assert_eq!(r.limit.kind, LimitKind::Aggregate);
    }

    #[test]
    fn the_slots_bound_counts_each_host_by_its_scarcest_resource() {
        // Room 2 on each host, by m on a and d, by c on b and e: per
        // resource a failure leaves room for 29, but a failure of any host
        // leaves the others 6 slots in all, and 6 fit.
        let p = pool(
            r#"{"name": "s", "hosts": [
            {"name": "a", "capacity": {"m": 8, "c": 100}}, {"name": "b", "capacity": {"m": 100, "c": 8}},
            {"name": "d", "capacity": {"m": 8, "c": 100}}, {"name": "e", "capacity": {"m": 100, "c": 8}}],
            "vms": []}"#,
        );
        let vm = shape(r#"{"m": 4, "c": 4}"#);
        let an = Analysis::new(&p);
        let cx = Ctx::new(&an, &vm, vm.vector(&p), 1, None, None, &[]);
        assert!(cx.conditions(&cx.eligible).iter().all(|b| b.n >= 8));
        assert_eq!(cx.slots_bound().unwrap().n, 6);
        assert_eq!(cx.upper_bounds().n, 6);
        let opts = HeadroomOptions {
            tolerate: Some(1),
            ..Default::default()
        };
        let r = headroom(&p, &vm, &opts).unwrap();
        assert_eq!((r.max_additional, r.exact), (6, true));
        assert_eq!(r.limit.kind, LimitKind::Aggregate);
    }

    #[test]
    fn both_methods_agree_where_only_whole_vms_count() {
        // Counting each resource on its own allows 4; after a failure of
        // c, a and b hold 1 + 2 new VMs: 3.
        let p = pool(TWO);
        let vm = shape(r#"{"memory_mib": 16384, "vcpus": 4}"#);
        for method in [Method::Search, Method::Master] {
            let opts = HeadroomOptions {
                method,
                ..Default::default()
            };
            let r = headroom(&p, &vm, &opts).unwrap();
            assert_eq!((r.max_additional, r.upper_bound, r.exact), (3, 3, true));
            assert_eq!(r.limit.kind, LimitKind::Aggregate, "{method:?}");
            assert_eq!(r.limit.failed, [2]);
            let fits: Vec<u32> = r.hosts.iter().map(|h| h.fits_here).collect();
            assert_eq!(fits, [1, 2, 3]);
            let rooms: Vec<u32> = r.hosts.iter().map(|h| h.room).collect();
            assert_eq!(rooms, [1, 2, 4]);
        }
    }

    #[test]
    fn the_pools_own_maximum_gets_at_most_a_tenth_of_the_time_limit() {
        let s = Duration::from_secs;
        // The default 2 s within the default 60 s: unchanged.
        assert_eq!(own_max_time(Some(s(2)), Some(s(60))), Some(s(2)));
        assert_eq!(own_max_time(Some(s(2)), Some(s(3))), Some(s(3) / 10));
        assert_eq!(own_max_time(None, Some(s(10))), Some(s(1)));
        assert_eq!(
            own_max_time(Some(Duration::ZERO), Some(s(10))),
            Some(Duration::ZERO)
        );
        // Without a time limit, the caller's.
        assert_eq!(own_max_time(Some(s(2)), None), Some(s(2)));
        assert_eq!(own_max_time(None, None), None);
        // And that is what the check of the pool as it is gets.
        let opts = HeadroomOptions {
            tolerate: Some(3),
            time_limit: Some(s(5)),
            max_time: Some(s(2)),
            ..Default::default()
        };
        let c = own_check(&opts, 3);
        assert_eq!(
            (c.tolerate, c.time_limit, c.max_time),
            (Some(3), Some(s(5)), Some(s(5) / 10))
        );
    }

    #[cfg(feature = "ilp")]
    #[test]
    fn a_master_problem_too_large_ends_the_search_with_proved_bounds() {
        // a may restart only on h1, so filling every room fails; the
        // master problem is what finds the answer after the greedy probes.
        let p = pool(ONLY_H1);
        let vm = shape(r#"{"m": 10}"#);
        let opts = HeadroomOptions {
            tolerate: Some(1),
            method: Method::Search,
            ..Default::default()
        };
        let want = headroom(&p, &vm, &opts).unwrap();
        assert!(want.exact);
        let an = Analysis::new(&p);
        let mut cx = Ctx::new(&an, &vm, vm.vector(&p), 1, None, None, &[]);
        let full = cx.solve(cx.upper_bounds(), Method::Master);
        assert_eq!(
            (full.lower, full.upper),
            (want.max_additional, want.max_additional)
        );
        cx.master_variables = Some(0);
        let cut = cx.solve(cx.upper_bounds(), Method::Master);
        assert!(cut.lower < cut.upper, "the master problem was not needed");
        assert!(cut.lower <= want.max_additional && want.max_additional <= cut.upper);
        assert_eq!(cut.limit.kind, LimitKind::Undecided);
        // However many failure sets the program had seen.
        let reason = &cut.limit.reason;
        assert!(
            reason.starts_with("the search stopped: the integer program over the ")
                && reason.contains(" seen grew to ")
                && reason.contains("(under a time limit it solves at most 0)"),
            "{reason}"
        );
        if cut.lower > 0 {
            assert!(matches!(cx.test(&cut.placement), Tested::Fits));
        }
    }

    #[test]
    fn a_time_limit_or_a_cancel_leaves_proved_bounds() {
        let p = pool(TWO);
        let vm = shape(r#"{"memory_mib": 16384, "vcpus": 4}"#);
        let opts = HeadroomOptions {
            time_limit: Some(Duration::ZERO),
            ..Default::default()
        };
        let r = headroom(&p, &vm, &opts).unwrap();
        assert!(!r.exact);
        assert!(r.max_additional <= 3 && r.upper_bound >= 3);
        assert_eq!(r.verdict(), Verdict::Undecided);
        let cancel = AtomicBool::new(true);
        let opts = HeadroomOptions {
            cancel: Some(&cancel),
            ..Default::default()
        };
        let r = headroom(&p, &vm, &opts).unwrap();
        assert!(r.max_additional <= 3 && r.upper_bound >= 3);
    }

    #[test]
    fn standby_hosts_take_no_new_vm_and_bound_the_others() {
        // Only s (standby, 6 slots) receives restarts: h1 2 + x1 <= 6,
        // h2 4 + x2 <= 6.
        let p = pool(
            r#"{"name": "s", "ha": {"migration_path": "standby_only"}, "hosts": [
            {"name": "h1", "capacity": {"m": 8}}, {"name": "h2", "capacity": {"m": 8}},
            {"name": "s", "capacity": {"m": 6}, "standby": true}],
            "vms": [{"name": "a", "host": "h1", "demand": {"m": 2}},
                    {"name": "b", "host": "h2", "demand": {"m": 4}}]}"#,
        );
        let r = headroom(&p, &shape(r#"{"m": 1}"#), &HeadroomOptions::default()).unwrap();
        assert_eq!((r.max_additional, r.exact), (6, true));
        assert_eq!(r.limit.kind, LimitKind::Aggregate);
        assert_eq!(r.placement, [4, 2, 0]);
        assert_eq!(r.hosts[2].room, 0);
        assert!(r.hosts[2].reason.as_deref().unwrap().contains("standby"));
    }

    #[test]
    fn no_failover_and_no_ha() {
        let text = |ha: &str| {
            format!(
                r#"{{"name": "v", "ha": {ha}, "hosts": [
                {{"name": "h1", "capacity": {{"m": 8}}}}, {{"name": "h2", "capacity": {{"m": 8}}}}],
                "vms": []}}"#
            )
        };
        let vm = shape(r#"{"m": 4}"#);
        let vm_mode = pool(&text(r#"{"mode": "vm"}"#));
        let r = headroom(&vm_mode, &vm, &HeadroomOptions::default()).unwrap();
        assert_eq!((r.max_additional, r.limit.kind), (0, LimitKind::NoFailover));
        let k0 = HeadroomOptions {
            tolerate: Some(0),
            ..Default::default()
        };
        assert_eq!(headroom(&vm_mode, &vm, &k0).unwrap().max_additional, 4);
        let off = pool(&text(r#"{"enabled": false}"#));
        let r = headroom(&off, &vm, &HeadroomOptions::default()).unwrap();
        assert_eq!((r.max_additional, r.limit.kind), (4, LimitKind::Capacity));
    }

    #[test]
    fn a_shape_too_small_to_count_is_an_error() {
        // 2^19 MiB free, a failure of either host leaves 2^18 for 1 MiB VMs.
        let p = pool(
            r#"{"name": "big", "hosts": [
            {"name": "h1", "capacity": {"memory_mib": 262144}},
            {"name": "h2", "capacity": {"memory_mib": 262144}}], "vms": []}"#,
        );
        assert_eq!(
            headroom(
                &p,
                &shape(r#"{"memory_mib": 1}"#),
                &HeadroomOptions::default()
            )
            .unwrap_err(),
            HeadroomError::TooSmall
        );
    }
}
