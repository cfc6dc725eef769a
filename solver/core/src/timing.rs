//! Restart-time estimates (`haplan timing`): how long after a failure every
//! protected VM runs again.
//!
//! The restart sequence is the HA runtime's (`solver/runtime/src/machine/restart.rs`, the
//! order-group pump): once the failed hosts are confirmed off, their
//! protected VMs (and those of hosts already down) start by `order` group,
//! lowest first. A VM of group `o` starts only when every VM of every lower
//! group runs and, for each of them, its `start_delay_s` has elapsed since
//! it started running. Within a group the VMs start by priority (critical
//! first), then by name (byte order), as the pump sorts them. Here at most
//! `concurrency` starts are in flight at once (the runtime itself sets no
//! limit: `None`), and a VM runs `boot_time_s` after its start.
//!
//! Since every VM of the groups before it runs when a group's gate opens,
//! a group starts with every slot free: its VMs are list-scheduled on
//! `concurrency` slots in sequence order from the gate, and the next gate is
//! the latest `running + start_delay_s` of the group. The makespan is the
//! latest `running`.
//!
//! **Monotone in the failure set.** A failure set's restarted VMs are the
//! protected agile VMs of its hosts and of the hosts already down, so a
//! larger set restarts a superset. Adding a VM to a list schedule never
//! makes a slot free earlier (the sorted free times only grow), so no VM of
//! its group runs earlier and no later gate opens earlier; a new group
//! opens no earlier than the gate it inherits. So the worst set of at most K
//! hosts is a set of exactly min(K, up hosts) hosts, and only those are
//! enumerated. **Monotone in concurrency**: with one more slot each start
//! is no later (the k-th smallest free time with m + 1 slots is at most the
//! k-th with m), so more concurrency is never slower.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use crate::model::*;
use crate::pack::Budget;
use crate::plan::{self, Scope};
use crate::scenario::Analysis;
use crate::tolerance::{self, Tolerates, Witness};

/// A VM's boot time when neither the file nor the caller gives one.
pub const DEFAULT_BOOT_TIME_S: u64 = 60;
/// Worst-case searches enumerate every failure set when there are at most
/// this many; beyond it a greedy search gives a lower bound.
pub const DEFAULT_SET_LIMIT: u64 = 200_000;

/// What to ask of [`timing`].
#[derive(Clone, Debug)]
pub struct TimingOptions<'a> {
    /// K for the worst case; the file's `host_failures_to_tolerate` when `None`.
    pub tolerate: Option<u32>,
    /// Boot time of VMs without `boot_time_s`.
    pub boot_time_s: u64,
    /// Starts in flight at once; `None`: no limit (as the runtime).
    pub concurrency: Option<u32>,
    /// How long the fence agents take to confirm a host off.
    pub fence_time_s: u64,
    /// Estimate for exactly this failure set instead of the worst case.
    pub fail: Option<Vec<HostId>>,
    /// Enumerate every failure set when there are at most this many.
    pub set_limit: u64,
    /// Stops the estimate (undecided, or the worst set so far) once set.
    pub cancel: Option<&'a AtomicBool>,
    /// Stop after this long: the tolerance check is then undecided, or the
    /// worst set scheduled so far is a lower bound on the worst case.
    pub time_limit: Option<Duration>,
}

impl Default for TimingOptions<'_> {
    fn default() -> Self {
        TimingOptions {
            tolerate: None,
            boot_time_s: DEFAULT_BOOT_TIME_S,
            concurrency: None,
            fence_time_s: 0,
            fail: None,
            set_limit: DEFAULT_SET_LIMIT,
            cancel: None,
            time_limit: None,
        }
    }
}

/// One VM to start, in sequence order (order, priority, name).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Job {
    /// Its order group.
    pub order: u32,
    /// Seconds from its start until it runs.
    pub boot_s: u64,
    /// Seconds after it runs before the next order group may start.
    pub delay_s: u64,
}

/// When one job starts and when it runs, in seconds from the restart
/// phase's start (the failed hosts confirmed off).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Slot {
    /// When it starts.
    pub start_s: u64,
    /// When it runs.
    pub running_s: u64,
}

/// One order group of a schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupTiming {
    /// The order group.
    pub order: u32,
    /// How many VMs it starts.
    pub vms: usize,
    /// When its gate opened (its first VM may start).
    pub start_s: u64,
    /// When its last VM runs.
    pub end_s: u64,
    /// When the next group's gate opens: its latest running + start delay.
    pub release_s: u64,
}

/// A whole schedule.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Schedule {
    /// Per job, in the jobs' order.
    pub slots: Vec<Slot>,
    /// Per order group, in start order.
    pub groups: Vec<GroupTiming>,
    /// When the last job runs.
    pub makespan_s: u64,
    /// The job that runs last (the first in sequence among ties).
    pub last: Option<usize>,
}

/// Reused buffers: schedules in a loop allocate nothing.
#[derive(Default)]
struct Scratch {
    free: BinaryHeap<Reverse<u64>>,
}

/// Runs the sequence; calls `each(index, slot)` per job and `group(g)` per
/// group; returns the makespan. `jobs` must be in sequence order.
fn run<'j>(
    jobs: impl Iterator<Item = &'j Job>,
    concurrency: Option<u32>,
    scratch: &mut Scratch,
    mut each: impl FnMut(usize, Slot),
    mut group: impl FnMut(GroupTiming),
) -> u64 {
    let limit = concurrency.map_or(usize::MAX, |c| c.max(1) as usize);
    let mut gate = 0u64;
    let mut cur: Option<GroupTiming> = None;
    let mut makespan = 0u64;
    for (i, job) in jobs.enumerate() {
        match &cur {
            Some(g) if g.order == job.order => {}
            _ => {
                if let Some(g) = cur.take() {
                    gate = g.release_s;
                    group(g);
                }
                scratch.free.clear();
                cur = Some(GroupTiming {
                    order: job.order,
                    vms: 0,
                    start_s: gate,
                    end_s: gate,
                    release_s: gate,
                });
            }
        }
        let g = cur.as_mut().expect("set above");
        // A free slot: a new one while fewer than `limit` are in use.
        let start = if scratch.free.len() < limit {
            gate
        } else {
            let Reverse(t) = scratch.free.pop().expect("limit >= 1");
            t
        };
        let running = start.saturating_add(job.boot_s);
        if scratch.free.len() < limit && limit != usize::MAX {
            scratch.free.push(Reverse(running));
        }
        g.vms += 1;
        g.end_s = g.end_s.max(running);
        g.release_s = g.release_s.max(running.saturating_add(job.delay_s));
        makespan = makespan.max(running);
        each(
            i,
            Slot {
                start_s: start,
                running_s: running,
            },
        );
    }
    if let Some(g) = cur {
        group(g);
    }
    makespan
}

/// The restart schedule of `jobs` (in sequence order: order, then
/// priority, then name) with at most `concurrency` starts in flight.
pub fn schedule(jobs: &[Job], concurrency: Option<u32>) -> Schedule {
    let mut s = Schedule {
        slots: vec![Slot::default(); jobs.len()],
        ..Schedule::default()
    };
    let mut scratch = Scratch::default();
    let mut last: Option<(u64, usize)> = None;
    let mut groups = Vec::new();
    s.makespan_s = run(
        jobs.iter(),
        concurrency,
        &mut scratch,
        |i, slot| {
            s.slots[i] = slot;
            if last.is_none_or(|(t, _)| slot.running_s > t) {
                last = Some((slot.running_s, i));
            }
        },
        |g| groups.push(g),
    );
    s.groups = groups;
    s.last = last.map(|(_, i)| i);
    s
}

/// How the failure set was chosen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Search {
    /// The given failure set (`--fail`).
    Given,
    /// Every set of `size` up hosts (the worst of at most K is one of them).
    Exact {
        /// The sets' size.
        size: u32,
    },
    /// Too many sets: greedy extensions from every single host; the worst
    /// found is a lower bound on the worst case.
    Greedy {
        /// The sets' size.
        size: u32,
    },
    /// The time limit stopped the search (every set, or the greedy one)
    /// first: the worst set scheduled is a lower bound on the worst case.
    Partial {
        /// The sets' size.
        size: u32,
    },
    /// No estimate: the pool does not tolerate K, or it was stopped.
    None,
}

/// A VM in the reported schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VmTiming {
    /// The VM.
    pub vm: VmId,
    /// Its restart target, when a plan was made (`--fail`).
    pub host: Option<HostId>,
    /// Its boot time as used (its own `boot_time_s`, else the default).
    pub boot_s: u64,
    /// When it starts and when it runs.
    pub slot: Slot,
}

/// The answer of [`timing()`]: how long after the worst failure of at
/// most K hosts (or after a given one) every protected VM runs again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimingReport {
    /// The pool's name.
    pub pool: String,
    /// K of the worst case (`None` with a given failure set).
    pub tolerate: Option<u32>,
    /// How the failure set was chosen.
    pub search: Search,
    /// Failure sets scheduled.
    pub sets: u64,
    /// False when the pool does not tolerate K: `witness` says why, and no
    /// estimate is made.
    pub tolerated: bool,
    /// The check's witness, when the pool does not tolerate K.
    pub witness: Option<Witness>,
    /// The time limit or a cancel stopped the tolerance check or the plan.
    pub undecided: bool,
    /// The failure set estimated (the worst found, or the given one).
    pub failed: Vec<HostId>,
    /// The boot time of VMs without one of their own, as used.
    pub boot_time_s: u64,
    /// Starts in flight at once, as used; `None`: no limit.
    pub concurrency: Option<u32>,
    /// `failure_threshold × check_interval_s`.
    pub detection_s: u64,
    /// Seconds fencing takes, as given.
    pub fence_s: u64,
    /// From fencing confirmed to the last VM running.
    pub makespan_s: u64,
    /// detection + fence + makespan; 0 when nothing restarts.
    pub total_s: u64,
    /// The VM that runs last.
    pub last: Option<VmId>,
    /// Per order group, in start order.
    pub groups: Vec<GroupTiming>,
    /// In sequence order.
    pub vms: Vec<VmTiming>,
    /// Protected VMs of the failed (or already down) hosts that are not
    /// restarted, with why; left out of the makespan.
    pub not_restarted: Vec<(VmId, String)>,
    /// Protected VMs of the pool that are not agile (as `check` reports).
    pub not_agile: usize,
    /// What the estimate assumes or leaves out, in sentences.
    pub warnings: Vec<String>,
    /// Wall time of the estimate.
    pub elapsed: Duration,
}

impl TimingReport {
    /// Exact when the worst case was enumerated (or the set was given);
    /// false after a greedy search or when no estimate was made.
    pub fn exact(&self) -> bool {
        matches!(self.search, Search::Given | Search::Exact { .. })
    }

    /// Whether every protected VM concerned runs again: K tolerated, and no
    /// protected VM left out (no target for a given set; for the worst
    /// case, as `check`, no protected VM of the pool that is not agile).
    pub fn ok(&self) -> bool {
        self.tolerated
            && !self.undecided
            && self.not_restarted.is_empty()
            && (self.not_agile == 0 || self.search == Search::Given)
    }
}

/// The sequence key of a VM: order, priority, name.
fn key(pool: &Pool, v: VmId) -> (u32, Priority, &str) {
    let vm = &pool.vms[v];
    (vm.order, vm.priority, vm.name.as_str())
}

fn job(pool: &Pool, v: VmId, boot_time_s: u64) -> Job {
    let vm = &pool.vms[v];
    Job {
        order: vm.order,
        boot_s: vm.boot_time_s.unwrap_or(boot_time_s),
        delay_s: vm.start_delay_s,
    }
}

/// The restart-time estimate: for `opts.fail`, or for the worst failure
/// set of at most K up hosts when the pool tolerates K.
pub fn timing(pool: &Pool, opts: &TimingOptions) -> TimingReport {
    let started = Instant::now();
    let budget = Budget {
        deadline: opts.time_limit.map(|d| started + d),
        cancel: opts.cancel,
    };
    let an = Analysis::new(pool);
    let not_agile = an
        .agility
        .not_agile
        .iter()
        .filter(|n| {
            let vm = &pool.vms[n.vm];
            vm.restart == Restart::Protected && vm.power.is_active()
        })
        .count();
    let mut report = TimingReport {
        pool: pool.name.clone(),
        tolerate: None,
        search: Search::Given,
        sets: 0,
        tolerated: true,
        witness: None,
        undecided: false,
        failed: Vec::new(),
        boot_time_s: opts.boot_time_s,
        concurrency: opts.concurrency,
        detection_s: (pool.ha.failure_threshold as u64).saturating_mul(pool.ha.check_interval_s),
        fence_s: opts.fence_time_s,
        makespan_s: 0,
        total_s: 0,
        last: None,
        groups: Vec::new(),
        vms: Vec::new(),
        not_restarted: Vec::new(),
        not_agile,
        warnings: Vec::new(),
        elapsed: Duration::ZERO,
    };
    if !pool.ha.enabled {
        report
            .warnings
            .push("HA is off (ha.enabled is false): nothing is restarted".into());
    } else if pool.ha.mode == HaMode::Vm {
        report
            .warnings
            .push("ha.mode is \"vm\": VMs of a failed host are not restarted elsewhere".into());
    }
    let (vms, hosts): (Vec<VmId>, Vec<Option<HostId>>) = match &opts.fail {
        Some(failed) => {
            let p = plan::plan(&an, failed, Scope::ProtectedOnly, &budget);
            report.failed = p.failed.clone();
            report.sets = 1;
            if !p.exact {
                report.undecided = true;
            }
            report.not_restarted = p
                .unplaced
                .iter()
                .filter(|u| pool.vms[u.vm].restart == Restart::Protected)
                .map(|u| (u.vm, u.reason.clone()))
                .collect();
            p.placements
                .iter()
                .filter(|pl| pool.vms[pl.vm].restart == Restart::Protected)
                .map(|pl| (pl.vm, Some(pl.host)))
                .unzip()
        }
        None => {
            let k = opts.tolerate.unwrap_or(pool.ha.host_failures_to_tolerate);
            report.tolerate = Some(k);
            match tolerance::tolerates(pool, k, &budget) {
                Tolerates::Yes => {}
                Tolerates::No(w) => {
                    report.tolerated = false;
                    report.search = Search::None;
                    report.witness = Some(w);
                    report.elapsed = started.elapsed();
                    return report;
                }
                Tolerates::Unknown => {
                    report.undecided = true;
                    report.search = Search::None;
                    report.elapsed = started.elapsed();
                    return report;
                }
            }
            let (failed, search, sets) = worst(&an, k, opts, &budget);
            report.failed = failed;
            report.search = search;
            report.sets = sets;
            if let Search::Greedy { size } = report.search {
                report.warnings.push(format!(
                    "more than {} failure sets of {size} hosts: the worst set was searched greedily, \
                     so the estimate is a lower bound on the worst case",
                    opts.set_limit
                ));
            }
            if let Search::Partial { size } = report.search {
                report.warnings.push(format!(
                    "the time limit ran out after {sets} failure sets of {size} hosts were \
                     scheduled: the estimate is the worst of them, a lower bound on the worst case"
                ));
            }
            let mut gone = an.mask(&report.failed);
            for &h in &an.down {
                gone[h] = true;
            }
            // Not-agile protected VMs of those hosts never restart.
            for n in &an.agility.not_agile {
                let vm = &pool.vms[n.vm];
                if an.failover
                    && gone[vm.host]
                    && vm.restart == Restart::Protected
                    && vm.power.is_active()
                {
                    report
                        .not_restarted
                        .push((n.vm, format!("not agile: {}", n.reasons.join("; "))));
                }
            }
            let vms: Vec<VmId> = (0..pool.hosts.len())
                .filter(|&h| gone[h])
                .flat_map(|h| an.items[h].iter().copied())
                .collect();
            let n = vms.len();
            (vms, vec![None; n])
        }
    };
    let mut seq: Vec<(VmId, Option<HostId>)> = vms.into_iter().zip(hosts).collect();
    seq.sort_by(|a, b| key(pool, a.0).cmp(&key(pool, b.0)));
    report.not_restarted.sort_by_key(|(v, _)| key(pool, *v));
    let jobs: Vec<Job> = seq
        .iter()
        .map(|&(v, _)| job(pool, v, opts.boot_time_s))
        .collect();
    let s = schedule(&jobs, opts.concurrency);
    report.makespan_s = s.makespan_s;
    report.last = s.last.map(|i| seq[i].0);
    report.groups = s.groups;
    report.vms = seq
        .iter()
        .zip(&jobs)
        .zip(&s.slots)
        .map(|((&(vm, host), j), &slot)| VmTiming {
            vm,
            host,
            boot_s: j.boot_s,
            slot,
        })
        .collect();
    if !jobs.is_empty() {
        report.total_s = report
            .detection_s
            .saturating_add(report.fence_s)
            .saturating_add(report.makespan_s);
    }
    report.elapsed = started.elapsed();
    report
}

/// The worst failure set of at most `k` up hosts (failure domains) by makespan: (set, how
/// found, sets scheduled). Ties go to the first set in candidate order.
fn worst(
    an: &Analysis,
    k: u32,
    opts: &TimingOptions,
    budget: &Budget,
) -> (Vec<HostId>, Search, u64) {
    let pool = an.pool;
    // What fails together: failure domains (`crate::domains`) when the
    // pool sets a label, else single up hosts.
    let cands: Vec<Vec<HostId>> = match crate::domains::of(pool) {
        Some(d) => d.into_iter().map(|d| d.hosts).collect(),
        None => an.candidates.iter().map(|&h| vec![h]).collect(),
    };
    let size = (k as usize).min(cands.len());
    // Every restartable VM gets its rank in sequence order; per host the
    // ranks of its VMs, sorted.
    let mut all: Vec<VmId> = an.items.iter().flatten().copied().collect();
    all.sort_by(|&a, &b| key(pool, a).cmp(&key(pool, b)));
    let mut rank = vec![0u32; pool.vms.len()];
    for (r, &v) in all.iter().enumerate() {
        rank[v] = r as u32;
    }
    let jobs: Vec<Job> = all
        .iter()
        .map(|&v| job(pool, v, opts.boot_time_s))
        .collect();
    let ranks_of = |h: HostId| -> Vec<u32> {
        let mut r: Vec<u32> = an.items[h].iter().map(|&v| rank[v]).collect();
        r.sort_unstable();
        r
    };
    let per_cand: Vec<Vec<u32>> = cands
        .iter()
        .map(|u| u.iter().flat_map(|&h| ranks_of(h)).collect())
        .collect();
    let base: Vec<u32> = {
        let mut b: Vec<u32> = an.down.iter().flat_map(|&h| ranks_of(h)).collect();
        b.sort_unstable();
        b
    };
    let mut scratch = Scratch::default();
    let mut buf: Vec<u32> = Vec::with_capacity(jobs.len());
    let mut makespan = |set: &[usize], sets: &mut u64| -> u64 {
        *sets += 1;
        buf.clear();
        buf.extend_from_slice(&base);
        for &c in set {
            buf.extend_from_slice(&per_cand[c]);
        }
        buf.sort_unstable();
        run(
            buf.iter().map(|&r| &jobs[r as usize]),
            opts.concurrency,
            &mut scratch,
            |_, _| {},
            |_| {},
        )
    };
    let mut sets = 0u64;
    let to_hosts = |set: &[usize]| -> Vec<HostId> {
        let mut h: Vec<HostId> = set.iter().flat_map(|&c| cands[c].iter().copied()).collect();
        h.sort_unstable();
        h
    };
    if size == 0 {
        makespan(&[], &mut sets);
        return (Vec::new(), Search::Exact { size: 0 }, sets);
    }
    if binomial(cands.len() as u64, size as u64) <= opts.set_limit {
        let mut set: Vec<usize> = (0..size).collect();
        let mut best = (makespan(&set, &mut sets), set.clone());
        while next_combination(&mut set, cands.len()) {
            if sets % 1024 == 0 && budget.expired() {
                return (
                    to_hosts(&best.1),
                    Search::Partial { size: size as u32 },
                    sets,
                );
            }
            let m = makespan(&set, &mut sets);
            if m > best.0 {
                best = (m, set.clone());
            }
        }
        return (to_hosts(&best.1), Search::Exact { size: size as u32 }, sets);
    }
    // Greedy: from every single host, add the host that lengthens the
    // schedule most (the first such in candidate order) until `size`.
    let mut best: Option<(u64, Vec<usize>)> = None;
    let mut set: Vec<usize> = Vec::with_capacity(size);
    let mut chosen = vec![false; cands.len()];
    for first in 0..cands.len() {
        if let Some((_, set)) = best.as_ref().filter(|_| budget.expired()) {
            return (to_hosts(set), Search::Partial { size: size as u32 }, sets);
        }
        set.clear();
        chosen.iter_mut().for_each(|c| *c = false);
        set.push(first);
        chosen[first] = true;
        let mut m = makespan(&set, &mut sets);
        while set.len() < size {
            let mut pick: Option<(u64, usize)> = None;
            for (c, _) in chosen.iter().enumerate().filter(|(_, taken)| !**taken) {
                set.push(c);
                let mc = makespan(&set, &mut sets);
                set.pop();
                if pick.is_none_or(|(pm, _)| mc > pm) {
                    pick = Some((mc, c));
                }
            }
            let (mc, c) = pick.expect("size <= candidates");
            set.push(c);
            chosen[c] = true;
            m = mc;
        }
        if best.as_ref().is_none_or(|(bm, _)| m > *bm) {
            best = Some((m, set.clone()));
        }
    }
    let (_, set) = best.expect("at least one candidate");
    (to_hosts(&set), Search::Greedy { size: size as u32 }, sets)
}

/// C(n, k), saturating at u64::MAX.
pub fn binomial(n: u64, k: u64) -> u64 {
    if k > n {
        return 0;
    }
    let k = k.min(n - k);
    let mut r: u128 = 1;
    for i in 0..k {
        r = r * (n - i) as u128 / (i + 1) as u128;
        if r > u64::MAX as u128 {
            return u64::MAX;
        }
    }
    r as u64
}

/// The next k-combination of 0..n in lexicographic order.
fn next_combination(set: &mut [usize], n: usize) -> bool {
    let k = set.len();
    let mut i = k;
    while i > 0 {
        i -= 1;
        if set[i] < n - k + i {
            set[i] += 1;
            for j in i + 1..k {
                set[j] = set[j - 1] + 1;
            }
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn j(order: u32, boot_s: u64, delay_s: u64) -> Job {
        Job {
            order,
            boot_s,
            delay_s,
        }
    }

    fn runs(s: &Schedule) -> Vec<(u64, u64)> {
        s.slots.iter().map(|x| (x.start_s, x.running_s)).collect()
    }

    #[test]
    fn empty() {
        let s = schedule(&[], None);
        assert_eq!(s.makespan_s, 0);
        assert_eq!(s.last, None);
        assert!(s.groups.is_empty());
    }

    #[test]
    fn one_group_unlimited_starts_everything_at_once() {
        let s = schedule(&[j(0, 30, 0), j(0, 50, 0), j(0, 10, 0)], None);
        assert_eq!(runs(&s), vec![(0, 30), (0, 50), (0, 10)]);
        assert_eq!(s.makespan_s, 50);
        assert_eq!(s.last, Some(1));
    }

    #[test]
    fn order_groups_wait_for_running_plus_delay() {
        // Group 0: a (boot 30, delay 20), b (boot 40, delay 0): gate 1 at
        // max(30 + 20, 40 + 0) = 50. Group 1: c boots 10: runs at 60.
        let s = schedule(&[j(0, 30, 20), j(0, 40, 0), j(1, 10, 5)], None);
        assert_eq!(runs(&s), vec![(0, 30), (0, 40), (50, 60)]);
        assert_eq!(s.makespan_s, 60);
        assert_eq!(s.groups.len(), 2);
        assert_eq!(
            s.groups[0],
            GroupTiming {
                order: 0,
                vms: 2,
                start_s: 0,
                end_s: 40,
                release_s: 50
            }
        );
        // The last group's delay does not count in the makespan.
        assert_eq!(s.groups[1].release_s, 65);
    }

    #[test]
    fn delay_of_an_early_group_does_not_skip_groups() {
        // Orders 0, 5, 9 (gaps do not matter): each waits for the one before.
        let s = schedule(&[j(0, 10, 100), j(5, 10, 0), j(9, 10, 0)], None);
        assert_eq!(runs(&s), vec![(0, 10), (110, 120), (120, 130)]);
    }

    #[test]
    fn concurrency_one_is_sequential() {
        let s = schedule(&[j(0, 30, 0), j(0, 50, 0), j(0, 10, 0)], Some(1));
        assert_eq!(runs(&s), vec![(0, 30), (30, 80), (80, 90)]);
        assert_eq!(s.makespan_s, 90);
        assert_eq!(s.last, Some(2));
    }

    #[test]
    fn concurrency_two_takes_the_first_free_slot() {
        // a, b start at 0; c takes a's slot at 30; d takes b's at 50.
        let s = schedule(
            &[j(0, 30, 0), j(0, 50, 0), j(0, 10, 0), j(0, 60, 0)],
            Some(2),
        );
        assert_eq!(runs(&s), vec![(0, 30), (0, 50), (30, 40), (40, 100)]);
        assert_eq!(s.makespan_s, 100);
    }

    #[test]
    fn slots_are_free_again_at_each_gate() {
        // Group 0 with one slot: 0-10, 10-30; delay 5 after b: gate 35.
        let s = schedule(&[j(0, 10, 0), j(0, 20, 5), j(1, 10, 0)], Some(1));
        assert_eq!(runs(&s), vec![(0, 10), (10, 30), (35, 45)]);
    }

    #[test]
    fn ties_keep_the_first_in_sequence_as_last() {
        let s = schedule(&[j(0, 10, 0), j(0, 10, 0)], None);
        assert_eq!(s.last, Some(0));
    }

    #[test]
    fn combinations() {
        let mut s = vec![0, 1];
        let mut all = vec![s.clone()];
        while next_combination(&mut s, 4) {
            all.push(s.clone());
        }
        assert_eq!(all.len(), 6);
        assert_eq!(all[5], vec![2, 3]);
        assert_eq!(binomial(64, 3), 41664);
        assert_eq!(binomial(64, 4), 635376);
        assert_eq!(binomial(3, 5), 0);
        assert_eq!(binomial(1000, 500), u64::MAX);
    }

    fn pool(vms: &str) -> Pool {
        crate::parse_pool(&format!(
            r#"{{"name": "t", "ha": {{"failure_threshold": 3, "check_interval_s": 10}},
            "hosts": [
              {{"name": "h1", "capacity": {{"m": 100}}}},
              {{"name": "h2", "capacity": {{"m": 100}}}},
              {{"name": "h3", "capacity": {{"m": 100}}}}
            ], "vms": {vms}}}"#
        ))
        .unwrap()
    }

    #[test]
    fn priority_then_name_within_a_group() {
        let p = pool(
            r#"[{"name": "b", "host": "h1", "demand": {"m": 10}, "boot_time_s": 10},
                {"name": "a", "host": "h1", "demand": {"m": 10}, "boot_time_s": 20},
                {"name": "z", "host": "h1", "demand": {"m": 10}, "priority": "critical"}]"#,
        );
        let r = timing(
            &p,
            &TimingOptions {
                concurrency: Some(1),
                fail: Some(vec![0]),
                ..TimingOptions::default()
            },
        );
        let names: Vec<&str> = r.vms.iter().map(|v| p.vms[v.vm].name.as_str()).collect();
        assert_eq!(names, vec!["z", "a", "b"]);
        // z 0-60 (default boot), a 60-80, b 80-90.
        assert_eq!(r.makespan_s, 90);
        assert_eq!(r.detection_s, 30);
        assert_eq!(r.total_s, 120);
        assert_eq!(r.last, Some(0));
    }

    #[test]
    fn what_if_keeps_boot_times() {
        let text = r#"{"name": "t", "hosts": [
              {"name": "h1", "capacity": {"m": 100}},
              {"name": "h2", "capacity": {"m": 100}}],
            "vms": [{"name": "a", "host": "h1", "demand": {"m": 10}, "boot_time_s": 42}]}"#;
        let v: serde_json::Value = serde_json::from_str(text).unwrap();
        let c = crate::whatif::apply_text(
            &v,
            r#"[{"op": "add_vm", "vm": {"name": "b", "host": "h2", "demand": {"m": 1}, "boot_time_s": 7}},
                {"op": "resize_vm", "name": "a", "demand": {"m": 20}}]"#,
        )
        .unwrap();
        assert_eq!(c.pool.vms[0].boot_time_s, Some(42));
        assert_eq!(c.pool.vms[1].boot_time_s, Some(7));
        assert_eq!(c.value["vms"][0]["boot_time_s"], 42);
        let bad = crate::parse_pool(&text.replace("42", "-1")).unwrap_err();
        assert_eq!(bad.problems[0].path, "vms[0].boot_time_s");
    }

    #[test]
    fn worst_case_is_the_slowest_set() {
        let p = pool(
            r#"[{"name": "a", "host": "h1", "demand": {"m": 10}, "boot_time_s": 10},
                {"name": "b", "host": "h2", "demand": {"m": 10}, "boot_time_s": 70},
                {"name": "c", "host": "h3", "demand": {"m": 10}, "boot_time_s": 20}]"#,
        );
        let r = timing(&p, &TimingOptions::default());
        assert!(r.tolerated && r.exact());
        assert_eq!(r.failed, vec![1]);
        assert_eq!(r.makespan_s, 70);
        assert_eq!(r.sets, 3);
        let r = timing(
            &p,
            &TimingOptions {
                set_limit: 0,
                ..TimingOptions::default()
            },
        );
        assert!(!r.exact());
        assert_eq!(r.makespan_s, 70);
    }
}
