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
    /// ([`CheckOptions::max_time`]).
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
    /// A time limit left the upper bound above the lower.
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
    let current = tolerance::check(
        pool,
        &CheckOptions {
            tolerate: Some(k),
            time_limit: opts.time_limit,
            cancel: opts.cancel,
            max_time: opts.max_time,
            progress: opts.progress,
            ..CheckOptions::default()
        },
    );
    let until = Until {
        deadline,
        cancel: opts.cancel,
        method: opts.method,
    };
    headroom_after_check(pool, shape, k, &until, start, current)
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
            let elig: Vec<u32> = sc
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

    /// The bounds that hold for every placement over all hosts.
    fn upper_bounds(&self) -> Bound {
        let capacity: u64 = self.room.iter().map(|&r| r as u64).sum();
        let mut best = Bound::capacity(capacity, self);
        for b in self.conditions(&self.eligible) {
            if b.n < best.n {
                best = b;
            }
        }
        if let Some(b) = self.slots_bound() {
            if b.n < best.n {
                best = b;
            }
        }
        if let Some(b) = self.restart_bound() {
            if b.n < best.n {
                best = b;
            }
        }
        best
    }

    /// Counting the room restarts keep back: a VM v that some failure must
    /// restart (one of a failure candidate's when K >= 1, or of a host
    /// already down) runs afterwards on one of the hosts it may restart on,
    /// T_v, whatever else fails with its host; on t it fits only while t
    /// holds at most m_t(v) new VMs (t's restart spare less v's demand, in
    /// whole VMs of the shape). So some host of T_v holds room_t - m_t(v)
    /// fewer than its room: at least c(v), the least over T_v. VMs whose
    /// T_v have no host in common give up room on different hosts, so n is
    /// at most the room less the sum of their c(v) (VMs taken greedily,
    /// the largest c(v) first, then the fewest hosts). VMs that may
    /// restart on more than [`RESTART_BOUND_TARGETS`] hosts are left out
    /// (any subset of the VMs gives a bound), so that the cost stays linear
    /// in the VMs.
    fn restart_bound(&self) -> Option<Bound> {
        if !self.failover {
            return None;
        }
        let an = self.an;
        let pool = self.pool;
        let nres = self.d.len();
        let mut hosts: Vec<HostId> = an.down.clone();
        if self.k > 0 {
            hosts.extend(&an.candidates);
        }
        // (c(v), T_v, v, its host) for the VMs with c(v) > 0.
        let mut costly: Vec<(u64, Vec<HostId>, VmId, HostId)> = Vec::new();
        for &h in &hosts {
            if self.expired() {
                return None;
            }
            'vm: for &v in &an.items[h] {
                let dv = &pool.vms[v].demand;
                let mut c = u64::MAX;
                let mut on: Vec<HostId> = Vec::new();
                let targets = || {
                    an.agility
                        .targets
                        .of(v)
                        .filter(|&t| t != h && an.receives[t])
                };
                if targets().nth(RESTART_BOUND_TARGETS).is_some() {
                    continue; // room on so many hosts would bar many others
                }
                for t in targets() {
                    let s = &an.spare[t];
                    if (0..nres).any(|r| s[r] < dv[r]) {
                        continue; // v fits there with no new VM either
                    }
                    let m = (0..nres)
                        .filter(|&r| self.d[r] > 0)
                        .map(|r| ((s[r] - dv[r]) / self.d[r]) as u64)
                        .min()
                        .unwrap_or(u64::MAX);
                    let lost = (self.room[t] as u64).saturating_sub(m);
                    if lost == 0 {
                        continue 'vm;
                    }
                    c = c.min(lost);
                    on.push(t);
                }
                if !on.is_empty() {
                    costly.push((c, on, v, h));
                }
            }
        }
        costly.sort_by(|a, b| {
            b.0.cmp(&a.0)
                .then(a.1.len().cmp(&b.1.len()))
                .then(a.2.cmp(&b.2))
        });
        let mut used = vec![false; pool.hosts.len()];
        let mut lost = 0u64;
        let mut taken: Vec<(VmId, HostId, &[HostId])> = Vec::new();
        for (c, on, v, h) in &costly {
            if on.iter().any(|&t| used[t]) {
                continue;
            }
            for &t in on {
                used[t] = true;
            }
            lost += c;
            taken.push((*v, *h, on));
        }
        if lost == 0 {
            return None;
        }
        let capacity: u64 = self.room.iter().map(|&r| r as u64).sum();
        let n = capacity.saturating_sub(lost);
        let name = |h: HostId| pool.hosts[h].name.as_str();
        let (v, h, on) = taken[0];
        let c = costly[0].0;
        let example = format!(
            "for example {} (on {}) may restart only on {}, which would then hold at least {c} new VM{} \
             fewer than its room",
            pool.vms[v].name,
            name(h),
            on.iter().map(|&t| name(t)).collect::<Vec<_>>().join(" or "),
            if c == 1 { "" } else { "s" },
        );
        let reason = format!(
            "restarts keep room back: {} VMs that failures must restart, with no host they may restart on in \
             common, each need room on one of those hosts that new VMs would take ({example}); of the room for \
             {capacity}, {lost} are kept back: room for {n}, not {}",
            taken.len(),
            n + 1
        );
        Some(Bound {
            n,
            limit: Limit {
                kind: LimitKind::Aggregate,
                reason,
                failed: Vec::new(),
            },
        })
    }

    /// How many new VMs each host can hold once K hosts have failed: its
    /// restart spare in whole VMs where new VMs may restart (a host that
    /// receives restarts and that they may use), else its room (the new
    /// VMs started there stay, no more arrive).
    fn slot_caps(&self) -> Vec<u64> {
        let an = self.an;
        (0..self.pool.hosts.len())
            .map(|t| {
                let room = self.room[t] as u64;
                if !(an.receives[t] && self.target[t]) {
                    return room;
                }
                let slots = self
                    .d
                    .iter()
                    .zip(&an.spare[t])
                    .filter(|&(&dr, _)| dr > 0)
                    .map(|(&dr, &s)| (s.max(0) / dr) as u64)
                    .min()
                    .unwrap_or(0);
                slots.max(room)
            })
            .collect()
    }

    /// Counting whole new VMs: after a failure F every new VM runs on a
    /// host outside F (those of F are protected and agile: they restart),
    /// and a host t holds at most `slot_caps()[t]` of them, its own and
    /// restarted ones together (each takes the VM's demand from the same
    /// spare). So n is at most the caps of the hosts outside F, for the K
    /// failure candidates with the largest caps (with failure domains,
    /// the K domains holding those hosts fail them all, and more). Unlike
    /// the per-resource conditions, this counts each host's scarcest
    /// resource, which differs from host to host.
    fn slots_bound(&self) -> Option<Bound> {
        if !self.failover || self.k == 0 || self.an.candidates.is_empty() {
            return None;
        }
        let pool = self.pool;
        let caps = self.slot_caps();
        let all: u64 = caps.iter().sum();
        let mut cand: Vec<HostId> = self.an.candidates.clone();
        cand.sort_by(|&a, &b| caps[b].cmp(&caps[a]).then(a.cmp(&b)));
        cand.truncate(self.k as usize);
        let lost: u64 = cand.iter().map(|&h| caps[h]).sum();
        let n = all - lost;
        cand.sort_unstable();
        let names: Vec<&str> = cand.iter().map(|&h| pool.hosts[h].name.as_str()).collect();
        let reason = format!(
            "counting whole VMs of this shape: if {} fail{}, every new VM must run on the other hosts, \
             whose spare holds {n} of them at most (what restarts may use, where new VMs may restart; \
             the room to start them elsewhere): room for {n}, not {}",
            names.join(", "),
            if names.len() == 1 { "s" } else { "" },
            n + 1
        );
        Some(Bound {
            n,
            limit: Limit {
                kind: LimitKind::Aggregate,
                reason,
                failed: cand,
            },
        })
    }

    /// New VMs per host that leave room for the restarts of each
    /// failure of a candidate host, planned greedily: a guess that aims
    /// the first probe of [`Ctx::prefixes`] (probes prove; this only aims
    /// them). For each candidate h, its VMs to restart, those with the
    /// fewest places to go first, then the largest, go to a host they may
    /// restart on (not one a VM of their anti-affinity group restarts on
    /// in the same failure) where they cost new VMs the least: the fewest
    /// new VMs the raised reservation leaves no room for, then a host where
    /// none may start, then one whose reservation already covers them, then
    /// the one left with the most room; a host
    /// reserves, per resource, the sum of the K largest loads that
    /// different failures plan on it. New VMs then fill what is left of
    /// each host's room, less some where the new VMs of the K fullest
    /// hosts could not restart in what remains.
    fn reserved_placement(&self) -> Vec<u32> {
        let an = self.an;
        let pool = self.pool;
        let nh = pool.hosts.len();
        let nres = self.d.len();
        let k = self.k as usize;
        if k == 0 || !self.failover {
            return self.room.clone();
        }
        let slots = |s: &[i64]| -> u64 {
            self.d
                .iter()
                .zip(s)
                .filter(|&(&dr, _)| dr > 0)
                .map(|(&dr, &x)| (x.max(0) / dr) as u64)
                .min()
                .unwrap_or(0)
        };
        let size = |v: VmId| -> i64 {
            let d = &pool.vms[v].demand;
            (0..nres)
                .filter(|&r| self.d[r] > 0)
                .map(|r| d[r].max(0) * 1024 / self.d[r])
                .max()
                .unwrap_or(0)
        };
        // Per host: the K largest loads of different failures, per resource.
        let mut top: Vec<Vec<Vec<i64>>> = vec![vec![Vec::new(); nres]; nh];
        let mut reserved: Vec<Vec<i64>> = vec![vec![0; nres]; nh];
        let mut load: Vec<Vec<i64>> = vec![vec![0; nres]; nh];
        // New VMs a host holds with `res` kept back for restarts.
        let kept = |t: HostId, res: &[i64]| -> u64 {
            let left: Vec<i64> = (0..nres).map(|r| an.spare[t][r] - res[r]).collect();
            slots(&left).min(self.room[t] as u64)
        };
        // What host t keeps back once this failure's load there is `l`:
        // the K largest loads of different failures, `l` among them.
        let after = |list: &[i64], sum: i64, l: i64| -> i64 {
            match list.get(k - 1) {
                Some(&last) => sum - last + last.max(l),
                None => sum + l,
            }
        };
        let alt: Vec<usize> = (0..pool.vms.len())
            .map(|v| an.agility.targets.of(v).filter(|&t| an.receives[t]).count())
            .collect();
        for &h in &an.candidates {
            if self.expired() {
                break;
            }
            // The VMs with the fewest places to go first, then the largest.
            let mut items: Vec<VmId> = an.items[h].clone();
            items.sort_by_key(|&v| (alt[v].min(FEW_TARGETS), std::cmp::Reverse(size(v)), v));
            let mut touched: Vec<HostId> = Vec::new();
            // Anti-affinity groups already restarted on each touched host.
            let mut groups: Vec<(u32, HostId)> = Vec::new();
            for v in items {
                let dv = &pool.vms[v].demand;
                let g = an.group_of[v];
                let best = an
                    .agility
                    .targets
                    .of(v)
                    .filter(|&t| t != h && an.receives[t])
                    .filter(|&t| (0..nres).all(|r| load[t][r] + dv[r] <= an.spare[t][r]))
                    .filter(|&t| g == pack::NO_GROUP || !groups.contains(&(g, t)))
                    .min_by_key(|&t| {
                        let res: Vec<i64> = (0..nres)
                            .map(|r| after(&top[t][r], reserved[t][r], load[t][r] + dv[r]))
                            .collect();
                        let covered = (0..nres).all(|r| res[r] <= reserved[t][r]);
                        // New VMs this restart costs the host, and what is
                        // left after it.
                        let left = kept(t, &res);
                        let cost = kept(t, &reserved[t]) - left;
                        (cost, self.room[t] > 0, !covered, std::cmp::Reverse(left), t)
                    });
                if let Some(t) = best {
                    if load[t].iter().all(|&x| x == 0) {
                        touched.push(t);
                    }
                    if g != pack::NO_GROUP {
                        groups.push((g, t));
                    }
                    for r in 0..nres {
                        load[t][r] += dv[r];
                    }
                }
            }
            for t in touched {
                for r in 0..nres {
                    let l = std::mem::take(&mut load[t][r]);
                    if l > 0 {
                        let list = &mut top[t][r];
                        list.push(l);
                        list.sort_unstable_by(|a, b| b.cmp(a));
                        list.truncate(k);
                        reserved[t][r] = list.iter().sum();
                    }
                }
            }
        }
        let mut x: Vec<u32> = (0..nh)
            .map(|t| {
                let left: Vec<i64> = (0..nres).map(|r| an.spare[t][r] - reserved[t][r]).collect();
                (slots(&left).min(self.room[t] as u64)) as u32
            })
            .collect();
        // The new VMs of the K fullest hosts restart in what is left.
        let free = |x: &[u32]| -> u64 {
            (0..nh)
                .filter(|&t| an.receives[t] && self.target[t])
                .map(|t| {
                    let left: Vec<i64> = (0..nres)
                        .map(|r| an.spare[t][r] - reserved[t][r] - x[t] as i64 * self.d[r])
                        .collect();
                    slots(&left)
                })
                .sum()
        };
        let need = |x: &[u32]| -> u64 {
            let mut c: Vec<u32> = an.candidates.iter().map(|&h| x[h]).collect();
            c.sort_unstable_by(|a, b| b.cmp(a));
            c.iter().take(k).map(|&n| n as u64).sum()
        };
        // Each VM taken off a host that receives restarts frees one slot:
        // half the shortfall at a time, from the fullest hosts.
        let mut budget = total(&x);
        loop {
            let (f, n) = (free(&x), need(&x));
            if f >= n || budget == 0 || self.expired() {
                break;
            }
            let step = ((n - f) / 2).clamp(1, budget as u64) as u32;
            for _ in 0..step {
                let h = (0..nh)
                    .max_by_key(|&h| (x[h], std::cmp::Reverse(h)))
                    .expect("a host");
                x[h] -= 1;
            }
            budget -= step;
        }
        x
    }

    /// For each host, an upper bound on how many new VMs can all start on
    /// it alone (at most `cap`): the bounds of [`Ctx::conditions`] for
    /// placements on that host only, each counting condition set up once
    /// for all hosts (linear in the pool, not in hosts times VMs).
    fn single_host_bounds(&self, cap: u32) -> Vec<u32> {
        let nh = self.pool.hosts.len();
        let countings = self.countings();
        let mut pos: Vec<Option<usize>> = vec![None; nh];
        for (i, &h) in self.an.candidates.iter().enumerate() {
            pos[h] = Some(i);
        }
        (0..nh)
            .map(|h| {
                if self.room[h] == 0 {
                    return 0;
                }
                let n = countings
                    .iter()
                    .map(|c| c.single(h, pos[h], self.room[h]))
                    .min()
                    .unwrap_or(u64::MAX);
                n.min(self.room[h] as u64).min(cap as u64) as u32
            })
            .collect()
    }

    /// One bound per resource the VM needs, unit (1 and the VM's demand)
    /// and set of restart hosts (all, and those the new VMs may use), for
    /// placements on the hosts marked in `allowed`.
    fn conditions(&self, allowed: &[bool]) -> Vec<Bound> {
        self.countings()
            .iter()
            .map(|c| self.condition(c, allowed))
            .collect()
    }

    /// The counting conditions: one per resource the VM needs, unit and
    /// set of restart hosts (see [`Ctx::condition`]); none when nothing
    /// restarts on other hosts.
    fn countings(&self) -> Vec<Counting> {
        let an = self.an;
        let pool = self.pool;
        if !self.failover {
            return Vec::new(); // nothing restarts on other hosts
        }
        let only_new_differs = (0..pool.hosts.len()).any(|h| an.receives[h] && !self.target[h]);
        let mut out = Vec::new();
        for r in 0..self.d.len() {
            let dr = self.d[r];
            if dr <= 0 {
                continue;
            }
            // Units dividing the demand: a new VM then takes exactly
            // d / u whole units, on its host or where it restarts.
            let mut units: Vec<i64> = (1..=DIVISORS)
                .filter(|&m| dr % m == 0)
                .map(|m| dr / m)
                .collect();
            units.push(1);
            units.dedup();
            for &u in &units {
                for only_new in [false, true] {
                    if only_new && !only_new_differs {
                        continue;
                    }
                    out.push(self.counting(r, u, only_new));
                }
            }
        }
        out
    }

    /// The parts of the counting condition of resource `r` in whole units
    /// `u` that do not depend on where new VMs may start.
    fn counting(&self, r: ResourceId, u: i64, only_new: bool) -> Counting {
        let an = self.an;
        let pool = self.pool;
        let nh = pool.hosts.len();
        let f = |y: i64| y.max(0) / u;
        let receives: Vec<bool> = (0..nh)
            .map(|h| an.receives[h] && (!only_new || self.target[h]))
            .collect();
        // Per candidate: displaced blocks plus own room if it receives.
        let base: Vec<i64> = an
            .candidates
            .iter()
            .map(|&h| {
                let disp: i64 = if only_new {
                    0
                } else {
                    an.items[h].iter().map(|&v| f(pool.vms[v].demand[r])).sum()
                };
                disp + if receives[h] { f(an.spare[h][r]) } else { 0 }
            })
            .collect();
        let down: i64 = if only_new {
            0
        } else {
            an.down
                .iter()
                .flat_map(|&h| &an.items[h])
                .map(|&v| f(pool.vms[v].demand[r]))
                .sum()
        };
        let total: i64 = (0..nh)
            .filter(|&t| receives[t])
            .map(|t| f(an.spare[t][r]))
            .sum::<i64>()
            - down;
        let k = (self.k as usize).min(base.len());
        let mut order: Vec<usize> = (0..base.len()).collect();
        order.sort_by(|&i, &j| base[j].cmp(&base[i]).then(i.cmp(&j)));
        let mut rank = vec![0usize; base.len()];
        for (p, &i) in order.iter().enumerate() {
            rank[i] = p;
        }
        let mut prefix = vec![0i64; k + 1];
        for j in 0..k {
            prefix[j + 1] = prefix[j] + base[order[j]];
        }
        Counting {
            r,
            u,
            only_new,
            a: f(self.d[r]),
            base,
            total,
            k,
            receives,
            rank,
            prefix,
        }
    }

    /// The most new VMs that placements on `allowed` hosts can hold with
    /// every failure set of K hosts passing the counting condition `c`
    /// (resource `r` in whole units `u`, see the module doc), counted over
    /// the hosts that receive restarts, or with `only_new` over those the
    /// new VMs may restart on, for the new VMs alone.
    fn condition(&self, c: &Counting, allowed: &[bool]) -> Bound {
        let pool = self.pool;
        let nh = pool.hosts.len();
        let (r, u, only_new, a) = (c.r, c.u, c.only_new, c.a);
        let receives = |h: HostId| c.receives[h];
        let cand = &self.an.candidates;
        let (base, total) = (&c.base, c.total);
        let k = c.k;
        let top = |vals: &[i64]| -> (i64, Vec<usize>) {
            let mut idx: Vec<usize> = (0..vals.len()).collect();
            idx.sort_by(|&i, &j| vals[j].cmp(&vals[i]).then(i.cmp(&j)));
            idx.truncate(k);
            (idx.iter().map(|&i| vals[i]).sum(), idx)
        };
        // New VMs on hosts that receive restarts take `a` from `total`; on
        // the others they raise their host's term.
        let mut vals = base.clone();
        let mut x = vec![0u64; cand.len()];
        let cap_r: u64 = (0..nh)
            .filter(|&h| allowed[h] && receives(h))
            .map(|h| self.room[h] as u64)
            .sum();
        let raise: Vec<usize> = (0..cand.len())
            .filter(|&i| allowed[cand[i]] && !receives(cand[i]) && self.room[cand[i]] > 0)
            .collect();
        let (mut sum, _) = top(&vals);
        let mut n: u64 = 0;
        if sum <= total {
            // The lowest term that may still rise, while one may.
            while let Some(&i) = raise
                .iter()
                .filter(|&&i| x[i] < self.room[cand[i]] as u64)
                .min_by_key(|&&i| (vals[i], i))
            {
                vals[i] += a;
                let (s, _) = top(&vals);
                if s > total {
                    vals[i] -= a;
                    break;
                }
                sum = s;
                x[i] += 1;
                n += 1;
                if n > MAX_ADDITIONAL {
                    break;
                }
            }
            let raise_full = raise.iter().all(|&i| x[i] == self.room[cand[i]] as u64);
            if raise_full {
                n += (((total - sum) / a) as u64).min(cap_r);
            }
        }
        // The argument, for the bound n: with n + 1 more, the top K fail it.
        let (worst_sum, worst) = top(base);
        let failed: Vec<HostId> = {
            let mut w: Vec<HostId> = worst.iter().map(|&i| cand[i]).collect();
            w.sort_unstable();
            w
        };
        let names = |hs: &[HostId]| {
            hs.iter()
                .map(|&h| pool.hosts[h].name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let res = &pool.resources[r];
        let scope = if only_new {
            let mut what = Vec::new();
            if !self.shape.storage.is_empty() || !self.shape.networks.is_empty() {
                what.push("reach its storage and networks".to_string());
            }
            if pool.ha.migration_path == MigrationPath::StandbyOnly {
                what.push("are standby hosts".to_string());
            }
            format!(
                "the new VMs can restart only on hosts that {}: ",
                what.join(" and ")
            )
        } else {
            String::new()
        };
        let k_words = if k == 0 {
            "with no host failing".to_string()
        } else {
            format!(
                "if {} fail{}",
                names(&failed),
                if k == 1 { "s" } else { "" }
            )
        };
        let reason = if !raise.is_empty() {
            let units = if u == 1 {
                String::new()
            } else {
                format!("whole slots of {u} ")
            };
            let amount = if u == 1 {
                format!("{total} {res}")
            } else {
                format!("{total} slots")
            };
            let worst = if k == 1 {
                "the host".to_string()
            } else {
                format!("the {k} hosts")
            };
            format!(
                "{scope}counting {units}{res}: restarts can use only the spare of hosts that receive them ({amount} in all), \
                 and a new VM on a host that receives none adds to what that host's failure displaces: however {} more VMs \
                 of {} {res} are placed, the failure of {worst} then displacing the most needs more",
                n + 1,
                self.d[r]
            )
        } else if u == 1 {
            format!(
                "{scope}{res}: {k_words}, {} {res} of the surviving hosts' spare is left after the VMs to restart, \
                 and each new VM takes {}, on the host it runs on or where it restarts: room for {n}, not {}",
                total - worst_sum,
                self.d[r],
                n + 1
            )
        } else {
            format!(
                "{scope}counting whole slots of {u} {res}: {k_words}, {} slots of the surviving hosts are left \
                 after the VMs to restart, and each new VM takes one, on the host it runs on or where it restarts: \
                 room for {n}, not {}",
                total - worst_sum,
                n + 1
            )
        };
        Bound {
            n,
            limit: Limit {
                kind: LimitKind::Aggregate,
                reason,
                failed: if raise.is_empty() { failed } else { Vec::new() },
            },
        }
    }

    fn capacity_reason(&self, n: u64) -> String {
        format!(
            "the hosts that may start it have room for {n} in all{}",
            if n == 0 {
                String::new()
            } else {
                format!(", not {}", n + 1)
            }
        )
    }

    fn no_host_reason(&self) -> String {
        let pool = self.pool;
        if !self.eligible.iter().any(|&e| e) {
            let why: Vec<String> = (0..pool.hosts.len())
                .filter_map(|h| {
                    self.excluded[h]
                        .as_ref()
                        .map(|w| format!("{}: {w}", pool.hosts[h].name))
                })
                .collect();
            if why.is_empty() {
                "the pool has no host".to_string()
            } else {
                format!("no host may start it: {}", why.join("; "))
            }
        } else {
            "no host that may start it has room for it in its spare".to_string()
        }
    }

    /// Every host, with `fits_here` between `lo` and `hi`.
    fn hosts(&self, lo: &[u32], hi: &[u32]) -> Vec<HostHeadroom> {
        let pool = self.pool;
        (0..pool.hosts.len())
            .map(|h| {
                let reason = self.excluded[h].clone().or_else(|| {
                    (self.room[h] == 0).then(|| {
                        let short: Vec<String> = (0..self.d.len())
                            .filter(|&r| self.d[r] > 0 && self.normal[h][r] < self.d[r])
                            .map(|r| {
                                format!(
                                    "{} {} spare, {} needed",
                                    self.normal[h][r], pool.resources[r], self.d[r]
                                )
                            })
                            .collect();
                        if short.is_empty() {
                            "no resource of the VM is known to the pool".to_string()
                        } else {
                            format!("no room: {}", short.join(", "))
                        }
                    })
                });
                HostHeadroom {
                    host: h,
                    room: self.room[h],
                    fits_here: lo[h],
                    fits_here_upper: hi[h],
                    reason,
                }
            })
            .collect()
    }

    // ---------------------------------------------------------------
    // The solve

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
            limit = Limit {
                kind: LimitKind::Undecided,
                reason: format!(
                    "the time limit ran out with {} placed and {} not ruled out; the bound: {}",
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

    /// The prefixes of one greedy order that fit, searched from the bound
    /// ([`Ctx::prefixes`] from [`From::Top`]). With `Reach::Longest` and a
    /// lower bound already, first whether this order's prefix beats it at
    /// all (a prefix that fails fails every longer one).
    fn greedy(&self, st: &mut State, upper: u32, order: Order, reach: Reach) {
        let nh = self.pool.hosts.len();
        if st.lower >= upper || st.undecided {
            return;
        }
        let seq = self.sequence(order, upper);
        let lo = st.lower;
        if lo >= (seq.len() as u32).min(upper) {
            return;
        }
        if lo > 0
            && reach == Reach::Longest
            && self.probe(st, prefix(&seq, lo + 1, nh)) != Some(true)
        {
            return;
        }
        self.prefixes(st, upper, &seq, From::Top, reach);
    }

    /// The prefixes of a sequence of hosts (one entry per new VM) that fit,
    /// as far as `reach` asks: the first probe where `from` says, then going
    /// down by its steps, doubling, until a prefix fits (halving the gap
    /// once it is no larger than the step), then halving the gap up to the
    /// longest (a prefix of a placement that fits fits too, so the prefixes
    /// that fit are those up to some length). Each probe that fits raises
    /// the lower bound; none lowers the upper (another placement may fit).
    /// Only prefixes that beat the best are tried.
    fn prefixes(&self, st: &mut State, upper: u32, seq: &[HostId], from: From, reach: Reach) {
        let nh = self.pool.hosts.len();
        if st.lower >= upper || st.undecided {
            return;
        }
        let mut lo = st.lower;
        let mut hi = (seq.len() as u32).min(upper);
        if lo >= hi {
            return;
        }
        let (mut probe, mut step) = match from {
            From::Top => (hi, 2),
            From::Aim(first) => {
                let p = first.clamp(lo + 1, hi);
                (p, (p / 256).max(1))
            }
        };
        let mut fitted = false;
        loop {
            match self.probe(st, prefix(seq, probe, nh)) {
                Some(true) => {
                    lo = probe;
                    fitted = true;
                }
                Some(false) => hi = probe - 1,
                None => return,
            }
            if lo >= hi || reach == Reach::Bound || (fitted && reach == Reach::Gallop) {
                return;
            }
            probe = if fitted || hi - lo <= step {
                lo + (hi - lo).div_ceil(2)
            } else {
                let p = hi + 1 - step;
                step = step.saturating_mul(2);
                p
            };
        }
    }

    /// The master problem's loop: `true` when it settled the count (or the
    /// time ran out: `st.undecided`), `false` when the solver failed.
    #[cfg(feature = "ilp")]
    fn solve_by_master(&self, st: &mut State, upper: &mut u32, limit: &mut Limit) -> bool {
        let mut refuted = 0;
        while st.lower < *upper && !st.undecided {
            if refuted == 2 && st.lower == 0 {
                // No placement fits yet: a lower bound from a greedy order.
                self.greedy(st, *upper, Order::MostRoom, Reach::Gallop);
                if st.lower >= *upper || st.undecided {
                    break;
                }
            }
            let n = st.lower + 1;
            match self.master(n, *upper, &st.cuts) {
                Master::Candidate(x) => match self.test(&x) {
                    Tested::Fits => st.raise(x),
                    Tested::Fails(Some(w)) if !st.cuts.contains(&w.failed) => {
                        st.refute(&x, Some(w.clone()));
                        self.repair(st, &x, &w);
                        refuted += 1;
                    }
                    Tested::Unknown => st.undecided = true,
                    // A set the program says passes fails (numerics): the
                    // loop would not progress.
                    Tested::Fails(_) => return false,
                },
                Master::Infeasible => {
                    *upper = st.lower;
                    let sets = if st.cuts.len() == 1 {
                        "the failure set".to_string()
                    } else {
                        format!("the {} failure sets", st.cuts.len())
                    };
                    let how = format!(
                        "an integer program over every placement finds none that passes {sets} \
                         that refuted the placements checked"
                    );
                    *limit = self.search_limit(n, &how, st);
                }
                Master::Unknown if self.expired() => st.undecided = true,
                Master::Unknown => return false,
            }
        }
        true
    }

    /// One more VM at a time, on each class of interchangeable hosts, as
    /// long as one fits.
    fn grow(&self, st: &mut State, upper: u32) {
        while st.lower < upper && !st.undecided {
            let mut grown = false;
            for h in self.representatives(&st.best) {
                let mut x = st.best.clone();
                x[h] += 1;
                if st
                    .cuts
                    .iter()
                    .any(|f| self.set_feasible(f, &x) == Some(false))
                {
                    continue;
                }
                match self.probe(st, x) {
                    Some(true) => {
                        grown = true;
                        break;
                    }
                    Some(false) => {}
                    None => break,
                }
            }
            if !grown {
                break;
            }
        }
    }

    /// A part of a refuted placement `x` that may fit: without the new VMs
    /// of the failing set's hosts (their failure then displaces less). One
    /// check, kept when it fits and beats the best: the lower bound rises
    /// even while the master problem's placements are refuted.
    #[cfg(feature = "ilp")]
    fn repair(&self, st: &mut State, x: &[u32], w: &tolerance::Witness) {
        let mut y = x.to_vec();
        for &h in &w.failed {
            y[h] = 0;
        }
        if total(&y) <= st.lower {
            return;
        }
        match self.test(&y) {
            Tested::Fits => st.raise(y),
            Tested::Fails(w) => st.refute(&y, w),
            Tested::Unknown => st.undecided = true,
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

    /// One host per class of interchangeable hosts with room left: the
    /// first of the class with the fewest new VMs in `x`.
    fn representatives(&self, x: &[u32]) -> Vec<HostId> {
        let mut seen: Vec<usize> = Vec::new();
        let mut out: Vec<HostId> = Vec::new();
        let mut hosts: Vec<HostId> = (0..x.len()).filter(|&h| self.room[h] > x[h]).collect();
        // Roomiest first: the likeliest to take one more.
        hosts.sort_by_key(|&h| (std::cmp::Reverse(self.room[h] - x[h]), x[h], h));
        for h in hosts {
            if !seen.contains(&self.class[h]) {
                seen.push(self.class[h]);
                out.push(h);
            }
        }
        out
    }

    /// Hosts in the order a greedy rule fills them, one entry per new VM,
    /// at most `limit` entries.
    fn sequence(&self, order: Order, limit: u32) -> Vec<HostId> {
        let mut x = vec![0u32; self.pool.hosts.len()];
        self.fill(order, &mut x, &self.room, limit)
    }

    /// [`Ctx::sequence`] from the counts `x` (updated), each host up to
    /// `cap` (at most its room), until `limit` entries in all.
    fn fill(&self, order: Order, x: &mut [u32], cap: &[u32], limit: u32) -> Vec<HostId> {
        let nh = self.pool.hosts.len();
        let mut out = Vec::new();
        let mut placed = total(x);
        while placed < limit {
            let pick = (0..nh).filter(|&h| x[h] < cap[h]).min_by_key(|&h| {
                let left = (self.room[h].saturating_sub(x[h])) as u64;
                match order {
                    Order::MostRoom => (u64::MAX - left, x[h] as u64, h),
                    // x / room, compared exactly: x[h] * room[o] vs x[o] * room[h].
                    Order::Proportional => (
                        (x[h] as u64 * PROPORTION) / self.room[h] as u64,
                        u64::MAX - left,
                        h,
                    ),
                }
            });
            let Some(h) = pick else { break };
            x[h] += 1;
            placed += 1;
            out.push(h);
        }
        out
    }

    /// `fits_here` per host: proved (lower, upper). `lower` is the proved
    /// count: a placement of more fails.
    ///
    /// A placement with every host of a batch at its own upper bound that
    /// passes proves them all at once (each count alone is a part of it).
    /// Batches hold at most `lower` VMs; one that fails is split in two, and
    /// a host alone is settled by bisection.
    fn fits_here(&self, best: &[u32], lower: u32, upper: u32) -> (Vec<u32>, Vec<u32>) {
        let nh = self.pool.hosts.len();
        let ub = self.single_host_bounds(upper);
        // One host per class; the others copy it. Best's count on any host
        // of the class fits there alone.
        let mut reps: Vec<HostId> = Vec::new();
        for h in 0..nh {
            if self.room[h] > 0 && !reps.iter().any(|&o| self.class[o] == self.class[h]) {
                reps.push(h);
            }
        }
        let known = |h: HostId| {
            (0..nh)
                .filter(|&o| self.class[o] == self.class[h])
                .map(|o| best[o])
                .max()
                .unwrap_or(0)
                .min(ub[h])
        };
        let mut open: Vec<HostId> = reps.iter().copied().filter(|&h| known(h) < ub[h]).collect();
        open.sort_by_key(|&h| (std::cmp::Reverse(ub[h]), h));
        let mut batches: Vec<Vec<HostId>> = Vec::new();
        let mut sum = 0u64;
        for &h in &open {
            match batches.last_mut() {
                Some(b) if sum + ub[h] as u64 <= lower as u64 => b.push(h),
                _ => {
                    batches.push(vec![h]);
                    sum = 0;
                }
            }
            sum += ub[h] as u64;
        }
        let settled: Vec<(HostId, u32, u32)> = batches
            .par_iter()
            .flat_map(|batch| self.settle(batch, &ub, &known))
            .collect();
        let mut lo = vec![0u32; nh];
        let mut hi = vec![0u32; nh];
        for h in 0..nh {
            if self.room[h] == 0 {
                continue;
            }
            let rep = reps
                .iter()
                .copied()
                .find(|&r| self.class[r] == self.class[h])
                .expect("every class has a representative");
            (lo[h], hi[h]) = match settled.iter().find(|&&(r, _, _)| r == rep) {
                Some(&(_, l, u)) => (l, u),
                None => (known(rep), ub[rep]),
            };
        }
        (lo, hi)
    }

    /// (host, lower, upper) of `fits_here` for each host of `batch`.
    fn settle(
        &self,
        batch: &[HostId],
        ub: &[u32],
        known: &(dyn Fn(HostId) -> u32 + Sync),
    ) -> Vec<(HostId, u32, u32)> {
        let nh = self.pool.hosts.len();
        if let [h] = batch {
            let h = *h;
            let (mut lo, mut hi) = (known(h), ub[h]);
            let mut probe = hi;
            while lo < hi {
                let mut x = vec![0u32; nh];
                x[h] = probe;
                match self.test(&x) {
                    Tested::Fits => lo = probe,
                    Tested::Fails(_) => hi = probe - 1,
                    Tested::Unknown => break,
                }
                probe = lo + (hi - lo).div_ceil(2);
            }
            return vec![(h, lo, hi)];
        }
        let mut x = vec![0u32; nh];
        for &h in batch {
            x[h] = ub[h];
        }
        match self.test(&x) {
            Tested::Fits => batch.iter().map(|&h| (h, ub[h], ub[h])).collect(),
            Tested::Unknown => batch.iter().map(|&h| (h, known(h), ub[h])).collect(),
            Tested::Fails(_) => {
                let (a, b) = batch.split_at(batch.len() / 2);
                let mut out = self.settle(a, ub, known);
                out.extend(self.settle(b, ub, known));
                out
            }
        }
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

/// Resolution of the proportional order's shares.
const PROPORTION: u64 = 1 << 20;

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

/// [`Ctx::restart_bound`] counts the VMs that may restart on at most this
/// many hosts.
const RESTART_BOUND_TARGETS: usize = 32;

/// [`Ctx::reserved_placement`] plans the restarts of VMs with fewer places
/// to go than this first.
const FEW_TARGETS: usize = 8;

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

enum SearchOutcome {
    Found(Vec<u32>),
    Exhausted,
    Stopped,
}

/// The exhaustive search for a placement of exactly `n` new VMs.
struct Search<'c, 'a, 'p> {
    cx: &'c Ctx<'a, 'p>,
    n: u32,
    /// Hosts with room, classes together, roomiest first.
    hosts: Vec<HostId>,
    /// `same[i]`: hosts[i] is interchangeable with hosts[i - 1].
    same: Vec<bool>,
    /// Room of hosts[i..], summed.
    room_after: Vec<u64>,
    cuts: Vec<Vec<HostId>>,
    leaves: u64,
    x: Vec<u32>,
    stopped: bool,
}

impl<'c, 'a, 'p> Search<'c, 'a, 'p> {
    fn new(cx: &'c Ctx<'a, 'p>, n: u32, cuts: Vec<Vec<HostId>>) -> Self {
        let nh = cx.pool.hosts.len();
        let mut hosts: Vec<HostId> = (0..nh).filter(|&h| cx.room[h] > 0).collect();
        // Classes stay together: order classes by their first host's rank.
        hosts.sort_by_key(|&h| (std::cmp::Reverse(cx.room[h]), cx.class[h], h));
        let same: Vec<bool> = (0..hosts.len())
            .map(|i| i > 0 && cx.class[hosts[i]] == cx.class[hosts[i - 1]])
            .collect();
        let mut room_after = vec![0u64; hosts.len() + 1];
        for i in (0..hosts.len()).rev() {
            room_after[i] = room_after[i + 1] + cx.room[hosts[i]] as u64;
        }
        Search {
            cx,
            n,
            hosts,
            same,
            room_after,
            cuts,
            leaves: 0,
            x: vec![0; nh],
            stopped: false,
        }
    }

    fn run(&mut self) -> SearchOutcome {
        match self.dfs(0, self.n) {
            Some(found) => found,
            None if self.stopped => SearchOutcome::Stopped,
            None => SearchOutcome::Exhausted,
        }
    }

    /// Whether a cut already rules out the partial placement (every
    /// completion adds VMs, which never helps). Cuts that hit move to the
    /// front.
    fn cut(&mut self) -> bool {
        for i in 0..self.cuts.len() {
            match self.cx.set_feasible(&self.cuts[i], &self.x) {
                Some(false) => {
                    let c = self.cuts.remove(i);
                    self.cuts.insert(0, c);
                    return true;
                }
                Some(true) => {}
                None => {
                    self.stopped = true;
                    return true;
                }
            }
        }
        false
    }

    fn dfs(&mut self, i: usize, left: u32) -> Option<SearchOutcome> {
        if self.stopped || self.cx.expired() {
            self.stopped = true;
            return None;
        }
        if left == 0 {
            self.leaves += 1;
            self.cx.placements.fetch_add(1, Ordering::Relaxed);
            return match self.cx.test(&self.x) {
                Tested::Fits => Some(SearchOutcome::Found(self.x.clone())),
                Tested::Fails(w) => {
                    if let Some(w) = w {
                        if !self.cuts.contains(&w.failed) {
                            self.cuts.insert(0, w.failed);
                        }
                    }
                    None
                }
                Tested::Unknown => {
                    self.stopped = true;
                    None
                }
            };
        }
        if i == self.hosts.len() || (left as u64) > self.room_after[i] {
            return None;
        }
        let h = self.hosts[i];
        let mut hi = self.cx.room[h].min(left);
        if self.same[i] {
            hi = hi.min(self.x[self.hosts[i - 1]]);
        }
        let lo = (left as u64).saturating_sub(self.room_after[i + 1]) as u32;
        for c in (lo..=hi).rev() {
            self.x[h] = c;
            if c > 0 && self.cut() {
                continue;
            }
            if let Some(found) = self.dfs(i + 1, left - c) {
                self.x[h] = 0;
                return Some(found);
            }
            if self.stopped {
                break;
            }
        }
        self.x[h] = 0;
        None
    }
}

/// Relative gap at which the master problem may stop with a candidate.
#[cfg(feature = "ilp")]
const MASTER_GAP: f32 = 0.001;

/// What the master problem found.
#[cfg(feature = "ilp")]
enum Master {
    /// A placement that passes every failure set given (to be checked).
    Candidate(Vec<u32>),
    /// No placement of at least the count asked passes them all: a proof.
    Infeasible,
    /// The solver stopped or failed without an answer.
    Unknown,
}

#[cfg(feature = "ilp")]
impl Ctx<'_, '_> {
    /// The master problem: a placement of at least `at_least` (at most
    /// `at_most`) new VMs under which every failure set of `cuts` can
    /// restart everything, as one integer program solved by HiGHS. Each
    /// set contributes its exact packing: the VMs to restart (alike VMs as
    /// one integer count per target), the new VMs of its failed hosts, and
    /// per surviving host and resource, what lands there plus its own new
    /// VMs within its spare. Every placement that passes all sets fits the
    /// program, so "infeasible" proves that none of `at_least` fits.
    fn master(&self, at_least: u32, at_most: u32, cuts: &[Vec<HostId>]) -> Master {
        use good_lp::solvers::highs::highs;
        use good_lp::{
            Expression, ProblemVariables, ResolutionError, Solution, SolverModel, Variable,
            variable,
        };
        use std::collections::HashMap;

        let an = self.an;
        let nh = self.pool.hosts.len();
        let nres = self.d.len();
        let mut vars = ProblemVariables::new();
        let x: Vec<Option<Variable>> = (0..nh)
            .map(|h| {
                (self.room[h] > 0)
                    .then(|| vars.add(variable().integer().min(0).max(self.room[h] as f64)))
            })
            .collect();
        // Constraints as (expression, sense, bound): built after the variables.
        enum Sense {
            Eq,
            Le,
        }
        let mut rows: Vec<(Expression, Sense, f64)> = Vec::new();
        for failed in cuts {
            let mask = an.mask(failed);
            let sc = an.scenario(&mask);
            let inst = &sc.instance;
            let targets = sc.hosts.len();
            // Alike VMs (demand, targets, no anti-affinity group) as one class.
            let mut classes: Vec<(usize, u32)> = Vec::new(); // (first item, count)
            let mut seen: HashMap<(&[i64], &[u32]), usize> = HashMap::new();
            for i in 0..inst.items() {
                if inst.group[i] == pack::NO_GROUP {
                    let key = (inst.demand(i), inst.elig[i].as_slice());
                    if let Some(&c) = seen.get(&key) {
                        classes[c].1 += 1;
                        continue;
                    }
                    seen.insert(key, classes.len());
                }
                classes.push((i, 1));
            }
            // Per target: (demand, variable, its upper bound) of what may
            // land there.
            let mut land: Vec<Vec<(Vec<i64>, Variable, i64)>> = vec![Vec::new(); targets];
            let mut groups: HashMap<(u32, u32), Vec<Variable>> = HashMap::new();
            for &(i, count) in &classes {
                let mut sum = Expression::from(0.0);
                let mut any = false;
                for &t in &inst.elig[i] {
                    if !pack::fits(inst, &inst.cap, i, t as usize) {
                        continue;
                    }
                    let v = vars.add(variable().integer().min(0).max(count as f64));
                    sum += v;
                    any = true;
                    land[t as usize].push((inst.demand(i).to_vec(), v, count as i64));
                    if inst.group[i] != pack::NO_GROUP {
                        groups.entry((inst.group[i], t)).or_default().push(v);
                    }
                }
                if !any {
                    return Master::Infeasible; // even with no new VM
                }
                rows.push((sum, Sense::Eq, count as f64));
            }
            for &h in failed {
                let Some(xh) = x[h] else { continue };
                let mut sum = Expression::from(0.0);
                for (t, &host) in sc.hosts.iter().enumerate() {
                    let fits = (0..nres).all(|r| self.d[r] <= an.spare[host][r]);
                    if host == h || !self.target[host] || !fits {
                        continue;
                    }
                    let v = vars.add(variable().integer().min(0).max(self.room[h] as f64));
                    sum += v;
                    land[t].push((self.d.clone(), v, self.room[h] as i64));
                }
                rows.push((sum - xh, Sense::Eq, 0.0));
            }
            for (t, &host) in sc.hosts.iter().enumerate() {
                for r in 0..nres {
                    let own = if self.d[r] > 0 { x[host] } else { None };
                    let max: i64 = land[t].iter().map(|(d, _, ub)| d[r] * ub).sum::<i64>()
                        + own.map_or(0, |_| self.d[r] * self.room[host] as i64);
                    if max <= inst.cap(t)[r] {
                        continue; // cannot bind
                    }
                    let mut load: Expression = land[t]
                        .iter()
                        .filter(|(d, _, _)| d[r] > 0)
                        .map(|(d, v, _)| d[r] as f64 * *v)
                        .sum();
                    if let Some(xo) = own {
                        load += self.d[r] as f64 * xo;
                    }
                    rows.push((load, Sense::Le, inst.cap(t)[r] as f64));
                }
            }
            for (_, members) in groups {
                if members.len() > 1 {
                    rows.push((members.into_iter().sum(), Sense::Le, 1.0));
                }
            }
        }
        let sum_x: Expression = x.iter().flatten().copied().sum();
        let mut model = highs(vars.maximise(sum_x.clone())).set_threads(1);
        if let Some(d) = self.deadline {
            let left = d.saturating_duration_since(Instant::now()).as_secs_f64();
            if left <= 0.0 {
                return Master::Unknown;
            }
            model = model.set_time_limit(left);
        }
        model.set_verbose(false);
        // Candidates are checked anyway and only "infeasible" is a proof:
        // a candidate near the best will do.
        model = model
            .set_mip_rel_gap(MASTER_GAP)
            .expect("a valid relative gap");
        model = model.with(sum_x.clone().geq(at_least as f64));
        model = model.with(sum_x.leq(at_most as f64));
        for (e, sense, b) in rows {
            model = match sense {
                Sense::Eq => model.with(e.eq(b)),
                Sense::Le => model.with(e.leq(b)),
            };
        }
        let Some(solved) = self.solve_within(model) else {
            return Master::Unknown;
        };
        match solved {
            Ok(solution) => {
                let placement: Vec<u32> = x
                    .iter()
                    .map(|v| v.map_or(0, |v| solution.value(v).round().max(0.0) as u32))
                    .collect();
                let ok = placement.iter().zip(&self.room).all(|(c, r)| c <= r)
                    && total(&placement) >= at_least;
                if ok {
                    Master::Candidate(placement)
                } else {
                    Master::Unknown
                }
            }
            Err(ResolutionError::Infeasible) => Master::Infeasible,
            Err(_) => Master::Unknown,
        }
    }
}

#[cfg(feature = "ilp")]
impl Ctx<'_, '_> {
    /// Solves the master problem, or `None` when the deadline passes or
    /// the run is cancelled first. HiGHS has the time left as its own
    /// limit, but parts of it (its presolve of a large program) do not look
    /// at the clock: with a deadline or a cancel flag it runs on a thread
    /// of its own, which is left to finish alone (bounded by that limit)
    /// if the answer is not ready in time.
    fn solve_within(
        &self,
        model: good_lp::solvers::highs::HighsProblem,
    ) -> Option<Result<good_lp::solvers::highs::HighsSolution, good_lp::ResolutionError>> {
        use good_lp::SolverModel;
        use std::sync::mpsc::{RecvTimeoutError, channel};
        if self.deadline.is_none() && self.cancel.is_none() {
            return Some(model.solve());
        }
        let (tx, rx) = channel();
        std::thread::Builder::new()
            .name("haplan-master".to_string())
            .spawn(move || {
                // Nobody may be waiting any more.
                let _ = tx.send(model.solve());
            })
            .ok()?;
        const TICK: Duration = Duration::from_millis(50);
        loop {
            let wait = self.deadline.map_or(TICK, |d| {
                d.saturating_duration_since(Instant::now()).min(TICK)
            });
            match rx.recv_timeout(wait) {
                Ok(solved) => return Some(solved),
                Err(RecvTimeoutError::Timeout) if self.expired() => return None,
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return None,
            }
        }
    }
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
        let p = pool(
            r#"{"name": "r", "hosts": [
            {"name": "h0", "capacity": {"m": 100}}, {"name": "h1", "capacity": {"m": 100}},
            {"name": "h2", "capacity": {"m": 100}}, {"name": "h3", "capacity": {"m": 100}}],
            "vms": [{"name": "a", "host": "h0", "demand": {"m": 50}, "allowed_hosts": ["h1"]}]}"#,
        );
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
