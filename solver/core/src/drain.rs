//! Draining a host: can host H go into maintenance, its running and paused
//! VMs live-migrated to other hosts, with the pool still tolerating K host
//! failures (`haplan drain`, `docs/cli.md`)? A migration plan if so, the
//! reason (a proof) if not.
//!
//! **Meaning.** Only H's active VMs move; halted VMs stay on H, every other
//! VM stays where it is. A VM may go to another host that is up and that it
//! may run on by the agility rules (`agility::may_restart_on`, read on a
//! draft of the pool with H in maintenance and the VMs moved so far on
//! their targets, as the runtime's drain does), with room in every resource
//! given what moved there before it. Targets only gain VMs and H only loses
//! them, so the migrations fit one at a time in any order. The end state (H
//! in maintenance, its VMs on their targets) must pass `check` against K:
//! it tolerates K and no protected VM is not agile.
//!
//! **Method.**
//! 1. A VM of H with no target at all (agility, or no room even in the
//!    pool as it is) blocks the drain: a proof.
//! 2. The relaxation: the pool with H in maintenance and H's VMs gone. Adding
//!    running VMs to hosts never makes a pool tolerate more (a host's spare
//!    only shrinks, a failure only has more to restart, an anti-affinity
//!    peer only takes targets away, and a VM that loses its last target is
//!    a not-agile protected VM, which fails the check too). So when the
//!    relaxation fails K, every placement does: its witness is the proof.
//! 3. The runtime's two heuristics ([`greedy`]): largest VM first to the
//!    target with the most room left, then to the tightest fit.
//! 4. An exhaustive search over every assignment of H's VMs to their
//!    targets, largest first, each VM only where it fits beside the ones
//!    placed before, identical VMs on non-decreasing targets (swapping them
//!    gives the same pool, up to names). Each partial assignment, with the
//!    VMs not yet placed left out, is checked like the relaxation: when it
//!    fails K, so does every completion, and the subtree is dropped; the
//!    failure sets that refuted earlier assignments are tried first, each
//!    decided on its own (`pack::decide`), which is cheaper. A
//!    complete assignment that passes is the plan; a search that ends
//!    without one proves that none exists.
//!
//! A time limit or the search's limit of tolerance checks gives
//! "undecided", never a guess.

use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use crate::agility::{self, Agility, GroupCheck, NotAgile};
use crate::error::QueryError;
use crate::model::*;
use crate::pack::{self, Budget, Decision};
use crate::scenario::Analysis;
use crate::tolerance::{self, CheckOptions, CheckReport, Tolerates, Verdict, Witness};
use crate::words::plural;

/// Tolerance checks the exhaustive search may run when the options give
/// no limit.
pub const DEFAULT_MAX_CHECKS: u64 = 100_000;

/// Failure sets the search keeps to refute assignments with.
const REFUTERS: usize = 8;

/// What to ask of [`drain`].
#[derive(Clone, Copy, Debug, Default)]
pub struct DrainOptions<'a> {
    /// K; the file's `host_failures_to_tolerate` when `None`.
    pub tolerate: Option<u32>,
    /// Stop after this long: the answer is then "undecided" unless proved.
    pub time_limit: Option<Duration>,
    /// Stops the drain (undecided, unless already proved) once set.
    pub cancel: Option<&'a AtomicBool>,
    /// Tolerance checks the exhaustive search may run (partial and complete
    /// assignments); [`DEFAULT_MAX_CHECKS`] when `None`.
    pub max_checks: Option<u64>,
    /// The `max_time` of the check of the end state
    /// ([`CheckOptions::max_time`]).
    pub max_time: Option<Duration>,
    /// Where that check publishes its bounds ([`CheckOptions::progress`]).
    pub progress: Option<&'a tolerance::Progress>,
}

/// One live migration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Move {
    /// The VM to migrate.
    pub vm: VmId,
    /// The drained host it leaves.
    pub from: HostId,
    /// The host it goes to.
    pub to: HostId,
}

/// How a plan was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// The host runs no VM: nothing moves.
    Nothing,
    /// Largest VM first to the target with the most room left.
    Spread,
    /// Largest VM first to the target with the least room left.
    TightestFit,
    /// The exhaustive search over assignments.
    Search,
}

impl Method {
    /// The name answers give it (`method`).
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Nothing => "nothing_to_move",
            Method::Spread => "spread",
            Method::TightestFit => "tightest_fit",
            Method::Search => "search",
        }
    }
}

/// Why one host cannot take a VM.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostBlock {
    /// The host.
    pub host: HostId,
    /// The agility rules it breaks, or the resource it is short of.
    pub reason: String,
}

/// A VM of the drained host that no other host can take.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stuck {
    /// The VM.
    pub vm: VmId,
    /// Every other host, in file order, with what it lacks.
    pub hosts: Vec<HostBlock>,
}

/// Why a pool (the relaxation, or an end state) fails K.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// Fewer hosts are up than K.
    TooFewHosts {
        /// Hosts up once the drained one is in maintenance.
        up: u32,
    },
    /// Protected VMs that no host could restart.
    NotAgile(Vec<NotAgile>),
    /// A failure set of at most K hosts that strands protected VMs.
    Witness(Witness),
}

/// Why the host cannot be drained: each variant is a proof.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Blocked {
    /// VMs that fit on no other host they may run on.
    NoTarget(Vec<Stuck>),
    /// With the host in maintenance and its VMs left out the pool already
    /// fails K; adding them anywhere cannot help.
    Relaxation(Failure),
    /// Every assignment of the host's VMs to their targets was tried.
    Exhausted,
}

/// The answer of a drain.
#[derive(Clone, Debug)]
pub enum Outcome {
    /// The host can be drained: a plan whose end state passed a check
    /// against K.
    Drainable {
        /// In migration order: largest VM first.
        moves: Vec<Move>,
        /// How the plan was found.
        method: Method,
        /// The check of the end state against K.
        end: Box<CheckReport>,
    },
    /// Proved impossible, and why.
    Blocked(Blocked),
    /// A time limit or the search limit ran out first.
    Undecided {
        /// What ran out, and how far the search got, in a sentence.
        reason: String,
    },
}

/// Counts of the work a drain did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DrainStats {
    /// Tolerance checks run (heuristics, relaxation, search).
    pub checks: u64,
    /// Complete assignments the exhaustive search checked.
    pub assignments: u64,
    /// Partial assignments whose pool already failed K (subtrees dropped).
    pub pruned: u64,
    /// Wall time of the drain.
    pub elapsed: Duration,
}

/// The answer of [`drain()`].
#[derive(Clone, Debug)]
pub struct DrainReport {
    /// The pool's name.
    pub pool: String,
    /// The host to drain.
    pub host: HostId,
    /// K as used.
    pub tolerate: u32,
    /// The host's running and paused VMs, largest first.
    pub vms: Vec<VmId>,
    /// Drainable, blocked or undecided.
    pub outcome: Outcome,
    /// Counts of the work done.
    pub stats: DrainStats,
}

impl DrainReport {
    /// `Ok` when drainable, `NotOk` when blocked, else `Undecided`.
    pub fn verdict(&self) -> Verdict {
        match self.outcome {
            Outcome::Drainable { .. } => Verdict::Ok,
            Outcome::Blocked(_) => Verdict::NotOk,
            Outcome::Undecided { .. } => Verdict::Undecided,
        }
    }

    /// Whether the host can be drained.
    pub fn ok(&self) -> bool {
        self.verdict() == Verdict::Ok
    }

    /// The moves of a drainable host (empty otherwise).
    pub fn moves(&self) -> &[Move] {
        match &self.outcome {
            Outcome::Drainable { moves, .. } => moves,
            _ => &[],
        }
    }
}

/// The host called `name`, if it can be drained at all (it is up).
pub fn host_to_drain(pool: &Pool, name: &str) -> Result<HostId, QueryError> {
    let h = pool
        .host_by_name(name)
        .ok_or_else(|| QueryError::UnknownHost(name.to_string()))?;
    match pool.hosts[h].state {
        HostState::Up => Ok(h),
        HostState::Maintenance => Err(QueryError::AlreadyInMaintenance(name.to_string())),
        HostState::Down => Err(QueryError::HostDown(name.to_string())),
    }
}

/// The pool with `h` in maintenance and each VM of `moves` on its target:
/// the end state of a drain.
pub fn apply(pool: &Pool, h: HostId, moves: &[Move]) -> Pool {
    let mut out = pool.clone();
    out.hosts[h].state = HostState::Maintenance;
    for m in moves {
        out.vms[m.vm].host = m.to;
    }
    out
}

/// Whether host `h` can be drained with the pool still tolerating K, and
/// how (module doc). Errors: `h` is not up.
///
/// ```
/// let pool = haplan::parse_pool(r#"{"name": "p", "hosts": [
///   {"name": "h1", "capacity": {"memory_mib": 100}},
///   {"name": "h2", "capacity": {"memory_mib": 100}},
///   {"name": "h3", "capacity": {"memory_mib": 100}}],
///   "vms": [{"name": "a", "host": "h1", "demand": {"memory_mib": 40}}]}"#).unwrap();
/// let opts = haplan::DrainOptions { tolerate: Some(1), ..Default::default() };
/// let r = haplan::drain(&pool, 0, &opts).unwrap();
/// assert!(r.ok());
/// assert_eq!(r.moves()[0].to, 1);
/// ```
pub fn drain(pool: &Pool, h: HostId, opts: &DrainOptions) -> Result<DrainReport, QueryError> {
    let start = Instant::now();
    host_to_drain(pool, &pool.hosts[h].name)?;
    let budget = Budget {
        deadline: opts.time_limit.map(|d| start + d),
        cancel: opts.cancel,
    };
    let k = opts.tolerate.unwrap_or(pool.ha.host_failures_to_tolerate);
    let vms = active_on(pool, h);
    let mut stats = DrainStats::default();
    let outcome = decide(pool, h, k, &vms, &budget, opts, &mut stats);
    stats.elapsed = start.elapsed();
    Ok(DrainReport {
        pool: pool.name.clone(),
        host: h,
        tolerate: k,
        vms,
        outcome,
        stats,
    })
}

/// The running and paused VMs of `h`, largest first (total demand), then
/// in file order: the runtime's migration order.
pub fn active_on(pool: &Pool, h: HostId) -> Vec<VmId> {
    let mut vms: Vec<VmId> = (0..pool.vms.len())
        .filter(|&v| pool.vms[v].host == h && pool.vms[v].power.is_active())
        .collect();
    vms.sort_by_key(|&v| (std::cmp::Reverse(pool.vms[v].demand.iter().sum::<i64>()), v));
    vms
}

fn decide(
    pool: &Pool,
    h: HostId,
    k: u32,
    vms: &[VmId],
    budget: &Budget,
    opts: &DrainOptions,
    stats: &mut DrainStats,
) -> Outcome {
    let mut draft = pool.clone();
    draft.hosts[h].state = HostState::Maintenance;
    let finish = |moves: Vec<Move>, method: Method| {
        let end = apply(pool, h, &moves);
        let remaining = budget
            .deadline
            .map(|d| d.saturating_duration_since(Instant::now()));
        let report = tolerance::check(
            &end,
            &CheckOptions {
                tolerate: Some(k),
                time_limit: remaining,
                cancel: budget.cancel,
                max_time: opts.max_time,
                progress: opts.progress,
                ..CheckOptions::default()
            },
        );
        Outcome::Drainable {
            moves,
            method,
            end: Box::new(report),
        }
    };
    let undecided = |what: &str| {
        let cancelled = budget
            .cancel
            .is_some_and(|c| c.load(std::sync::atomic::Ordering::Relaxed));
        Outcome::Undecided {
            reason: format!(
                "{} {what}",
                if cancelled {
                    "the run was cancelled"
                } else {
                    "the time limit ran out"
                }
            ),
        }
    };

    // 1. A VM with no target at all.
    let groups = GroupCheck::of(&draft);
    let spare: Vec<Vec<i64>> = (0..draft.hosts.len()).map(|t| draft.spare(t)).collect();
    let targets: Vec<Vec<HostId>> = vms
        .iter()
        .map(|&v| {
            (0..draft.hosts.len())
                .filter(|&t| is_target(&draft, &groups, h, vms, v, t, &spare[t]))
                .collect()
        })
        .collect();
    let stuck: Vec<Stuck> = vms
        .iter()
        .zip(&targets)
        .filter(|(_, t)| t.is_empty())
        .map(|(&v, _)| Stuck {
            vm: v,
            hosts: (0..draft.hosts.len())
                .filter(|&t| t != h)
                .map(|t| HostBlock {
                    host: t,
                    reason: why_not(&draft, &groups, h, vms, v, t, &spare[t]),
                })
                .collect(),
        })
        .collect();
    if !stuck.is_empty() {
        return Outcome::Blocked(Blocked::NoTarget(stuck));
    }

    // 2. The relaxation: H's VMs left out (halted, so they hold nothing).
    let power: Vec<Power> = vms.iter().map(|&v| pool.vms[v].power).collect();
    for &v in vms {
        draft.vms[v].power = Power::Halted;
    }
    stats.checks += 1;
    match end_ok(&draft, k, budget, true) {
        Check::Fails(f) => return Outcome::Blocked(Blocked::Relaxation(f)),
        Check::Unknown => {
            return undecided("before the pool without the host's VMs was checked");
        }
        Check::Passes if vms.is_empty() => return finish(Vec::new(), Method::Nothing),
        Check::Passes => {}
    }
    for (&v, &p) in vms.iter().zip(&power) {
        draft.vms[v].power = p;
    }

    // 3. The runtime's heuristics.
    for (spread, method) in [(true, Method::Spread), (false, Method::TightestFit)] {
        let mut trial = draft.clone();
        let Ok(to) = greedy(&mut trial, h, vms, spread) else {
            continue;
        };
        stats.checks += 1;
        match end_ok(&trial, k, budget, false) {
            Check::Passes => {
                let moves = vms
                    .iter()
                    .zip(to)
                    .map(|(&vm, to)| Move { vm, from: h, to })
                    .collect();
                return finish(moves, method);
            }
            Check::Fails(_) => {}
            Check::Unknown => return undecided("while the heuristics' plans were checked"),
        }
    }

    // 4. The exhaustive search.
    let mut search = Search::new(draft, h, k, vms, &power, &targets, spare, budget);
    search.max_checks = opts.max_checks.unwrap_or(DEFAULT_MAX_CHECKS);
    let flow = search.node(0);
    stats.checks += search.checks;
    stats.assignments = search.assignments;
    stats.pruned = search.pruned;
    let progress = format!(
        "after {} of the search ({} complete assignment{} checked, {} partial one{} dropped)",
        plural(search.checks, "tolerance check", "tolerance checks"),
        search.assignments,
        if search.assignments == 1 { "" } else { "s" },
        search.pruned,
        if search.pruned == 1 { "" } else { "s" },
    );
    match flow {
        Flow::Found => {
            let mut moves: Vec<Move> = search
                .order
                .iter()
                .zip(&search.assigned)
                .map(|(&vm, &to)| Move { vm, from: h, to })
                .collect();
            let rank = |v: VmId| vms.iter().position(|&x| x == v).expect("a VM of h");
            moves.sort_by_key(|m| rank(m.vm));
            finish(moves, Method::Search)
        }
        Flow::Continue => Outcome::Blocked(Blocked::Exhausted),
        Flow::Time => undecided(&progress),
        Flow::Limit => Outcome::Undecided {
            reason: format!(
                "the search's limit of {} ran out {progress}",
                plural(search.max_checks, "tolerance check", "tolerance checks")
            ),
        },
    }
}

/// Whether `t` may take `v` (on `h`, in maintenance in `draft`) now: up,
/// another host, the agility rules, the strict group rules with the VMs
/// that do not move (or moved already), room in every resource.
fn is_target(
    draft: &Pool,
    groups: &GroupCheck,
    h: HostId,
    moved: &[VmId],
    v: VmId,
    t: HostId,
    spare: &[i64],
) -> bool {
    // The strict apart rules that `may_restart_on` reads are among those
    // `groups` checks (members on `t`, which is up and not `h`, count in
    // both), so they are not read again for every VM and host.
    t != h
        && draft.hosts[t].state == HostState::Up
        && agility::may_restart_on_but_for_groups(draft, v, t)
        && groups.allows(draft, v, t, Some((h, moved)))
        && spare.iter().zip(&draft.vms[v].demand).all(|(s, d)| s >= d)
}

/// Why host `t` cannot take `v`: the agility rules it breaks, else the
/// group rules, else the resources it is short of.
fn why_not(
    draft: &Pool,
    groups: &GroupCheck,
    h: HostId,
    moved: &[VmId],
    v: VmId,
    t: HostId,
    spare: &[i64],
) -> String {
    let blockers = agility::blockers(draft, v, t);
    if !blockers.is_empty() {
        return blockers.join(" and ");
    }
    if let Some(why) = groups.conflict(draft, v, t, Some((h, moved))) {
        return why;
    }
    let short: Vec<String> = (0..draft.resources.len())
        .filter(|&r| spare[r] < draft.vms[v].demand[r])
        .map(|r| {
            format!(
                "has {} spare, needs {}",
                draft.amount(r, spare[r]),
                draft.vms[v].demand[r]
            )
        })
        .collect();
    short.join(", ")
}

/// The runtime's drain heuristic: each VM of `vms` (on `h`, in maintenance
/// in `draft`), in that order, moves to the eligible host with the most
/// room left (`spread`) or the least, the room being the smallest share of
/// a resource's usable capacity left after the move; ties go to the first
/// host in file order. Moves the VMs in `draft`; returns each one's target,
/// or the first VM that fits nowhere.
pub fn greedy(
    draft: &mut Pool,
    h: HostId,
    vms: &[VmId],
    spread: bool,
) -> Result<Vec<HostId>, VmId> {
    let groups = GroupCheck::of(draft);
    let mut spare: Vec<Vec<i64>> = (0..draft.hosts.len()).map(|t| draft.spare(t)).collect();
    let mut out = Vec::with_capacity(vms.len());
    for &v in vms {
        let room = |t: HostId, spare: &[i64]| -> i128 {
            let demand = &draft.vms[v].demand;
            let total = (0..draft.resources.len())
                .map(|r| {
                    let u = draft.usable(t, r).max(1) as i128;
                    (spare[r] - demand[r]) as i128 * 1_000_000 / u
                })
                .min()
                .unwrap_or(0);
            if spread { total } else { -total }
        };
        let best = (0..draft.hosts.len())
            // `v` is still on `h` in the draft, and no rule reads the
            // state of a host other than the target.
            .filter(|&t| is_target(draft, &groups, h, vms, v, t, &spare[t]))
            .max_by_key(|&t| (room(t, &spare[t]), std::cmp::Reverse(t)));
        let Some(t) = best else {
            return Err(v);
        };
        for (s, d) in spare[t].iter_mut().zip(&draft.vms[v].demand) {
            *s -= d;
        }
        draft.vms[v].host = t;
        out.push(t);
    }
    Ok(out)
}

enum Check {
    Passes,
    Fails(Failure),
    Unknown,
}

/// Whether `pool` passes `check` against `k`: at least k hosts up, no
/// protected VM that is not agile, every set of k up hosts feasible (and
/// nothing stranded now). With `explain: false` a failing set's witness is
/// bare (no plan is made for it).
fn end_ok(pool: &Pool, k: u32, budget: &Budget, explain: bool) -> Check {
    // With failure domains, k counts domains.
    let up = match crate::domains::of(pool) {
        Some(d) => d.len() as u32,
        None => pool.up_hosts().len() as u32,
    };
    if k > up {
        return Check::Fails(Failure::TooFewHosts { up });
    }
    if pool.ha.enabled && pool.ha.mode == HaMode::Host {
        let ag = Agility::of(pool);
        if !ag.not_agile.is_empty() {
            return Check::Fails(Failure::NotAgile(ag.not_agile));
        }
    }
    match tolerance::tolerates_with(pool, k, budget, explain) {
        Tolerates::Yes => Check::Passes,
        Tolerates::No(w) => Check::Fails(Failure::Witness(w)),
        Tolerates::Unknown => Check::Unknown,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Flow {
    /// Nothing found below: go on.
    Continue,
    Found,
    /// The time limit (or a cancel).
    Time,
    /// The limit of tolerance checks.
    Limit,
}

/// The exhaustive search over assignments (step 4 of the module doc). The
/// draft holds the current partial assignment: placed VMs on their targets,
/// the others halted.
struct Search<'b> {
    draft: Pool,
    /// The drained host.
    host: HostId,
    groups: GroupCheck,
    k: u32,
    budget: &'b Budget<'b>,
    /// The VMs in search order: largest first, identical VMs together.
    order: Vec<VmId>,
    power: Vec<Power>,
    /// Same class as the VM before it in `order`.
    same_as_prev: Vec<bool>,
    targets: Vec<Vec<HostId>>,
    spare: Vec<Vec<i64>>,
    assigned: Vec<HostId>,
    max_checks: u64,
    checks: u64,
    assignments: u64,
    pruned: u64,
    /// Failure sets that refuted earlier assignments, most recent first.
    refuters: Vec<Vec<HostId>>,
}

impl<'b> Search<'b> {
    #[allow(clippy::too_many_arguments)]
    fn new(
        mut draft: Pool,
        host: HostId,
        k: u32,
        vms: &[VmId],
        power: &[Power],
        targets: &[Vec<HostId>],
        spare: Vec<Vec<i64>>,
        budget: &'b Budget<'b>,
    ) -> Search<'b> {
        // What the tolerance of an end state can depend on: two VMs alike
        // in all of it are interchangeable.
        // The `vm_groups` entries listing each VM (with `anti_affinity`,
        // its rules).
        let groups_of = |v: VmId| -> Vec<usize> {
            (0..draft.vm_groups.len())
                .filter(|&g| draft.vm_groups[g].vms.contains(&v))
                .collect()
        };
        let class = |v: VmId| {
            let vm = &draft.vms[v];
            (
                std::cmp::Reverse(vm.demand.iter().sum::<i64>()),
                vm.demand.clone(),
                vm.restart,
                vm.storage.clone(),
                vm.networks.clone(),
                vm.allowed_hosts.clone(),
                vm.anti_affinity.clone(),
                groups_of(v),
            )
        };
        let mut idx: Vec<usize> = (0..vms.len()).collect();
        idx.sort_by_cached_key(|&i| (class(vms[i]), i));
        let order: Vec<VmId> = idx.iter().map(|&i| vms[i]).collect();
        let same_as_prev = (0..idx.len())
            .map(|j| j > 0 && class(order[j]) == class(order[j - 1]))
            .collect();
        for &v in vms {
            draft.vms[v].power = Power::Halted;
        }
        Search {
            groups: GroupCheck::of(&draft),
            host,
            k,
            budget,
            power: idx.iter().map(|&i| power[i]).collect(),
            targets: idx.iter().map(|&i| targets[i].clone()).collect(),
            assigned: vec![0; order.len()],
            order,
            same_as_prev,
            spare,
            draft,
            max_checks: DEFAULT_MAX_CHECKS,
            checks: 0,
            assignments: 0,
            pruned: 0,
            refuters: Vec::new(),
        }
    }

    /// Searches below the assignment of `order[..i]` (already in the draft).
    fn node(&mut self, i: usize) -> Flow {
        let n = self.order.len();
        if i > 0 {
            if self.budget.expired() {
                return Flow::Time;
            }
            if self.checks >= self.max_checks {
                return Flow::Limit;
            }
            self.checks += 1;
            if i == n {
                self.assignments += 1;
            }
            if self.refuted() {
                if i < n {
                    self.pruned += 1;
                }
                return Flow::Continue;
            }
            match end_ok(&self.draft, self.k, self.budget, false) {
                Check::Passes if i == n => return Flow::Found,
                Check::Passes => {}
                Check::Fails(f) => {
                    if let Failure::Witness(w) = f {
                        // Most recent first: siblings tend to fail alike.
                        self.refuters.retain(|r| *r != w.failed);
                        self.refuters.insert(0, w.failed);
                        self.refuters.truncate(REFUTERS);
                    }
                    if i < n {
                        self.pruned += 1;
                    }
                    return Flow::Continue;
                }
                Check::Unknown => return Flow::Time,
            }
        }
        let v = self.order[i];
        let lo = if self.same_as_prev[i] {
            self.assigned[i - 1]
        } else {
            0
        };
        for j in 0..self.targets[i].len() {
            let t = self.targets[i][j];
            if t < lo {
                continue;
            }
            let fits = self.spare[t]
                .iter()
                .zip(&self.draft.vms[v].demand)
                .all(|(s, d)| s >= d);
            // The VMs not placed yet are halted in the draft: the group
            // rules see those placed and those that do not move.
            let clash = !self
                .groups
                .allows(&self.draft, v, t, Some((self.host, &self.order)));
            if !fits || clash {
                continue;
            }
            self.place(i, t, true);
            let flow = crate::deep(|| self.node(i + 1));
            if flow == Flow::Found {
                return flow;
            }
            self.place(i, t, false);
            if flow != Flow::Continue {
                return flow;
            }
        }
        Flow::Continue
    }

    /// Whether a failure set that refuted an earlier assignment also
    /// strands VMs under this one (each decided exactly, on its own). A
    /// set infeasible under a partial assignment stays so under every
    /// completion (they only add VMs; a VM that loses its last target to
    /// an added anti-affinity peer is not agile, which fails the check
    /// too), so this prunes soundly; it saves the full tolerance check of
    /// most refuted nodes.
    fn refuted(&mut self) -> bool {
        if self.refuters.is_empty() {
            return false;
        }
        let an = Analysis::new(&self.draft);
        for j in 0..self.refuters.len() {
            let mask = an.mask(&self.refuters[j]);
            let sc = an.scenario(&mask);
            if let (Decision::Infeasible(_), _) = pack::decide(&sc.instance, self.budget) {
                let set = self.refuters.remove(j);
                self.refuters.insert(0, set);
                return true;
            }
        }
        false
    }

    /// Puts `order[i]` on `t` (or takes it back off).
    fn place(&mut self, i: usize, t: HostId, on: bool) {
        let v = self.order[i];
        let vm = &mut self.draft.vms[v];
        let sign = if on { -1 } else { 1 };
        for (s, d) in self.spare[t].iter_mut().zip(&vm.demand) {
            *s += sign * d;
        }
        if on {
            self.assigned[i] = t;
            vm.power = self.power[i];
        } else {
            vm.power = Power::Halted;
        }
        // The host does not matter while the VM is halted.
        vm.host = t;
    }
}
