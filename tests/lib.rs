//! A brute-force reference for haplan's answers, written from
//! `docs/pool-format.md` alone (with its "Clarifications" section) and
//! working on the raw fields of a [`Pool`].
//!
//! Nothing here uses haplan's `Analysis`, `Agility` or `pack` modules: only
//! the parsed model. Every rule of the spec is one short function, and the
//! scenario is decided by plain backtracking over every assignment (a branch
//! is dropped only when the VM does not fit on that target), so the code can
//! be believed at a glance. It is slow; keep the pools small.

use haplan::model::{HaMode, HostState, MigrationPath, Power, Restart};
use haplan::{HostId, Pool, VmId};
use itertools::Itertools;

/// `floor(capacity[r] * ratio[r]) - reserved[r]` (ratio 1.0 where absent),
/// with the ratio read as the decimal it is written as: `100 * 1.15` is 115
/// (in `f64` it would be 114.99…, floored to 114).
pub fn usable(pool: &Pool, h: HostId, r: usize) -> i64 {
    let host = &pool.hosts[h];
    let scaled = match pool.ha.overcommit.get(&pool.resources[r]) {
        None => host.capacity[r],
        Some(ratio) => {
            // The shortest decimal of the f64 is what the file said.
            let digits = format!("{ratio}");
            let (whole, frac) = match digits.find('.') {
                Some(dot) => (&digits[..dot], &digits[dot + 1..]),
                None => (digits.as_str(), ""),
            };
            let mut num: i128 = whole.parse().unwrap();
            let mut den: i128 = 1;
            for c in frac.chars() {
                num = num * 10 + c.to_digit(10).unwrap() as i128;
                den *= 10;
            }
            (host.capacity[r] as i128 * num).div_euclid(den) as i64
        }
    };
    scaled - host.reserved[r]
}

/// Running and paused VMs hold resources and are restarted; halted ones not.
pub fn holds_resources(power: Power) -> bool {
    power == Power::Running || power == Power::Paused
}

/// Spare of host `h` for resource `r`: usable minus the demand of the
/// running or paused VMs on it. May be negative (an overload).
pub fn spare(pool: &Pool, h: HostId, r: usize) -> i64 {
    let used: i64 = pool
        .vms
        .iter()
        .filter(|vm| vm.host == h && holds_resources(vm.power))
        .map(|vm| vm.demand[r])
        .sum();
    usable(pool, h, r) - used
}

/// An up host overloaded in any resource receives no restarted VM.
pub fn overloaded(pool: &Pool, h: HostId) -> bool {
    (0..pool.resources.len()).any(|r| spare(pool, h, r) < 0)
}

/// The agility rule of the spec, for VM `v` and host `t`, failures aside:
/// not its own host, running or paused, no local devices, `t` up, storage and
/// networks reachable, `allowed_hosts`, `standby_only`, and no other
/// running VM of its anti-affinity group on `t` (a paused VM counts as
/// running here: see the clarifications of pool-format.md).
pub fn may_restart_on(pool: &Pool, v: VmId, t: HostId) -> bool {
    let vm = &pool.vms[v];
    let host = &pool.hosts[t];
    let peer_running_on_t = |g: &String| {
        pool.vms.iter().enumerate().any(|(o, other)| {
            o != v
                && other.host == t
                && holds_resources(other.power)
                && other.anti_affinity.as_ref() == Some(g)
        })
    };
    t != vm.host
        && holds_resources(vm.power)
        && vm.local_devices.is_empty()
        && host.state == HostState::Up
        && vm.storage.is_subset(&host.storage)
        && vm.networks.is_subset(&host.networks)
        && vm.allowed_hosts.as_ref().is_none_or(|a| a.contains(&t))
        && (pool.ha.migration_path != MigrationPath::StandbyOnly || host.standby)
        && !vm.anti_affinity.as_ref().is_some_and(peer_running_on_t)
}

/// A VM is agile when some other host may restart it.
pub fn is_agile(pool: &Pool, v: VmId) -> bool {
    (0..pool.hosts.len()).any(|t| may_restart_on(pool, v, t))
}

/// Protected: HA on, `restart: protected`, running or paused.
pub fn is_protected(pool: &Pool, v: VmId) -> bool {
    let vm = &pool.vms[v];
    pool.ha.enabled && vm.restart == Restart::Protected && holds_resources(vm.power)
}

/// The protected VMs that are not agile, in file order (what `check`
/// reports by name). Mode `vm` reports none, since nothing moves.
pub fn reference_not_agile(pool: &Pool) -> Vec<VmId> {
    if pool.ha.mode == HaMode::Vm {
        return Vec::new();
    }
    (0..pool.vms.len())
        .filter(|&v| is_protected(pool, v) && !is_agile(pool, v))
        .collect()
}

/// The VMs a failure of `failed` must place: the protected, agile, running or
/// paused VMs on failed hosts and on hosts already down. (Mode `vm` does not
/// look at agility, since nothing moves: every protected VM there counts.)
pub fn vms_to_place(pool: &Pool, failed: &[HostId]) -> Vec<VmId> {
    (0..pool.vms.len())
        .filter(|&v| {
            let h = pool.vms[v].host;
            let gone = failed.contains(&h) || pool.hosts[h].state == HostState::Down;
            let counted = pool.ha.mode == HaMode::Vm || is_agile(pool, v);
            gone && is_protected(pool, v) && counted
        })
        .collect()
}

/// Hosts that can receive restarted VMs when `failed` fail: up, not failed,
/// not overloaded. Mode `vm` has no host failover, so none.
pub fn receivers(pool: &Pool, failed: &[HostId]) -> Vec<HostId> {
    if pool.ha.mode == HaMode::Vm {
        return Vec::new();
    }
    (0..pool.hosts.len())
        .filter(|&t| {
            pool.hosts[t].state == HostState::Up && !failed.contains(&t) && !overloaded(pool, t)
        })
        .collect()
}

/// Whether every VM to place gets one surviving target with room, with no
/// two placed VMs of one anti-affinity group on one target.
pub fn reference_feasible(pool: &Pool, failed: &[HostId]) -> bool {
    reference_packable(pool, failed, &vms_to_place(pool, failed))
}

/// Whether `vms` can all be restarted at once when `failed` fail: each on a
/// surviving target it may restart on, within that target's spare in every
/// resource, and no two of one anti-affinity group on one target.
pub fn reference_packable(pool: &Pool, failed: &[HostId], vms: &[VmId]) -> bool {
    let mut vms = vms.to_vec();
    // The order of the VMs does not change the answer; largest first only
    // makes a dead end show sooner.
    vms.sort_by_key(|&v| std::cmp::Reverse(pool.vms[v].demand.iter().sum::<i64>()));
    let targets = receivers(pool, failed);
    let choices: Vec<Vec<HostId>> = vms
        .iter()
        .map(|&v| {
            targets
                .iter()
                .copied()
                .filter(|&t| may_restart_on(pool, v, t))
                .collect()
        })
        .collect();
    let mut room: Vec<Vec<i64>> = (0..pool.hosts.len())
        .map(|h| {
            (0..pool.resources.len())
                .map(|r| spare(pool, h, r))
                .collect()
        })
        .collect();
    let mut placed_on: Vec<HostId> = Vec::new();
    backtrack(pool, &vms, &choices, &mut room, &mut placed_on)
}

/// Places `vms[placed_on.len()..]`, given where the earlier ones went.
fn backtrack(
    pool: &Pool,
    vms: &[VmId],
    choices: &[Vec<HostId>],
    room: &mut [Vec<i64>],
    placed_on: &mut Vec<HostId>,
) -> bool {
    let i = placed_on.len();
    if i == vms.len() {
        return true;
    }
    let vm = &pool.vms[vms[i]];
    for &t in &choices[i] {
        let fits = (0..pool.resources.len()).all(|r| vm.demand[r] <= room[t][r]);
        let group_clash = vm.anti_affinity.is_some()
            && (0..i)
                .any(|j| placed_on[j] == t && pool.vms[vms[j]].anti_affinity == vm.anti_affinity);
        if !fits || group_clash {
            continue;
        }
        for r in 0..pool.resources.len() {
            room[t][r] -= vm.demand[r];
        }
        placed_on.push(t);
        if backtrack(pool, vms, choices, room, placed_on) {
            return true;
        }
        placed_on.pop();
        for r in 0..pool.resources.len() {
            room[t][r] += vm.demand[r];
        }
    }
    false
}

/// The hosts in state `up`: the failure candidates.
pub fn up_hosts(pool: &Pool) -> Vec<HostId> {
    (0..pool.hosts.len())
        .filter(|&h| pool.hosts[h].state == HostState::Up)
        .collect()
}

/// Even with no further failure, the VMs of hosts already down cannot all
/// be placed (the k = 0 scenario is infeasible).
pub fn reference_stranded_now(pool: &Pool) -> bool {
    !reference_feasible(pool, &[])
}

/// The largest k such that every set of k up hosts (failure units) is a feasible scenario,
/// every k from 0 to the number of up hosts tried; 0 when none is (the k = 0
/// scenario fails: see [`reference_stranded_now`]). Mode `vm`, as the
/// clarifications say: 0 when any protected VM runs or is paused, else all.
pub fn reference_max_tolerable(pool: &Pool) -> u32 {
    // Mode `vm` needs no case of its own: with no receivers, a set fails
    // exactly when it (or a host already down) holds a protected VM.
    reference_max_tolerable_for(pool, |failed| reference_feasible(pool, failed))
}

/// The largest k such that `feasible` holds for every set of k failure
/// units ([`failure_units`]), k = 0 included; 0 when none is.
pub fn reference_max_tolerable_for(pool: &Pool, feasible: impl Fn(&[HostId]) -> bool) -> u32 {
    let units = failure_units(pool);
    (0..=units.len())
        .filter(|&k| unit_sets(&units, k).all(|failed| feasible(&failed)))
        .max()
        .unwrap_or(0) as u32
}

/// What fails together: with `ha.failure_domain_label` set, the up hosts
/// sharing a value of that label, and each up host without it alone;
/// otherwise each up host alone.
pub fn failure_units(pool: &Pool) -> Vec<Vec<HostId>> {
    let up = up_hosts(pool);
    let Some(label) = &pool.ha.failure_domain_label else {
        return up.into_iter().map(|h| vec![h]).collect();
    };
    let mut units: Vec<(Option<&String>, Vec<HostId>)> = Vec::new();
    for h in up {
        let value = pool.hosts[h].labels.get(label);
        match units
            .iter_mut()
            .find(|(v, _)| value.is_some() && *v == value)
        {
            Some((_, hosts)) => hosts.push(h),
            None => units.push((value, vec![h])),
        }
    }
    units.into_iter().map(|(_, hosts)| hosts).collect()
}

/// Every failure set made of `k` of the `units`: their hosts together.
pub fn unit_sets(units: &[Vec<HostId>], k: usize) -> impl Iterator<Item = Vec<HostId>> + '_ {
    units
        .iter()
        .combinations(k)
        .map(|c| c.into_iter().flatten().copied().collect())
}

/// The tolerance of priority tier `p`: as [`reference_max_tolerable`],
/// placing only the VMs to place of priority `p` or higher.
pub fn reference_tier_tolerance(pool: &Pool, p: haplan::model::Priority) -> u32 {
    reference_max_tolerable_for(pool, |failed| {
        let vms: Vec<VmId> = vms_to_place(pool, failed)
            .into_iter()
            .filter(|&v| pool.vms[v].priority <= p)
            .collect();
        reference_packable(pool, failed, &vms)
    })
}

// ---------------------------------------------------------------------------
// Headroom (`haplan headroom`, docs/cli.md), from its definition: every
// placement of new VMs tried, each judged by the tolerance above.

/// A VM of the shape a headroom question asks about.
#[derive(Clone, Debug)]
pub struct RefShape {
    /// Demand per resource name.
    pub demand: Vec<(String, i64)>,
    pub storage: Vec<String>,
    pub networks: Vec<String>,
}

impl RefShape {
    /// Its demand of resource `r` of `pool` (0 where it names none).
    fn amount(&self, pool: &Pool, r: usize) -> i64 {
        self.demand
            .iter()
            .filter(|(name, _)| *name == pool.resources[r])
            .map(|&(_, a)| a)
            .sum()
    }

    fn reaches(&self, pool: &Pool, h: HostId) -> bool {
        let host = &pool.hosts[h];
        self.storage.iter().all(|s| host.storage.contains(s))
            && self.networks.iter().all(|n| host.networks.contains(n))
    }
}

/// The pool tolerates k failures: there are at least k up hosts (failure
/// units) and every set of k of them (hosts already down included; k = 0
/// is the empty set) is a feasible scenario.
pub fn reference_tolerates(pool: &Pool, k: u32) -> bool {
    let units = failure_units(pool);
    (k as usize) <= units.len()
        && unit_sets(&units, k as usize).all(|failed| reference_feasible(pool, &failed))
}

/// How many new VMs of `shape` the spare of host `h` holds, when one may
/// start there at all: `h` is up, not overloaded, not a standby host,
/// reaches the VM's storage and networks, and (when HA restarts VMs on
/// other hosts) some other up host reaching them, a standby host under
/// `standby_only`, could restart it. 0 otherwise.
pub fn reference_room(pool: &Pool, shape: &RefShape, h: HostId) -> u32 {
    let host = &pool.hosts[h];
    let failover = pool.ha.enabled && pool.ha.mode == HaMode::Host;
    let restartable = (0..pool.hosts.len()).any(|t| {
        t != h
            && pool.hosts[t].state == HostState::Up
            && shape.reaches(pool, t)
            && (pool.ha.migration_path != MigrationPath::StandbyOnly || pool.hosts[t].standby)
    });
    // A resource the pool does not know is one no host has.
    let unknown = shape
        .demand
        .iter()
        .any(|(name, a)| *a > 0 && !pool.resources.contains(name));
    if host.state != HostState::Up
        || overloaded(pool, h)
        || host.standby
        || !shape.reaches(pool, h)
        || (failover && !restartable)
        || unknown
    {
        return 0;
    }
    (0..pool.resources.len())
        .filter(|&r| shape.amount(pool, r) > 0)
        .map(|r| (spare(pool, h, r) / shape.amount(pool, r)) as u32)
        .min()
        .unwrap_or(0)
}

/// The pool with `x[h]` new VMs of `shape` running on each host h:
/// protected, priority medium, no local devices, `allowed_hosts` or group.
pub fn with_new_vms(pool: &Pool, shape: &RefShape, x: &[u32]) -> Pool {
    let mut out = pool.clone();
    let mut i = 0;
    for (h, &count) in x.iter().enumerate() {
        for _ in 0..count {
            i += 1;
            out.vms.push(haplan::model::Vm {
                name: format!("(reference new {i})"),
                host: h,
                power: Power::Running,
                demand: (0..pool.resources.len())
                    .map(|r| shape.amount(pool, r))
                    .collect(),
                listed: vec![true; pool.resources.len()],
                restart: Restart::Protected,
                priority: haplan::model::Priority::Medium,
                order: 0,
                start_delay_s: 0,
                boot_time_s: None,
                storage: shape.storage.iter().cloned().collect(),
                networks: shape.networks.iter().cloned().collect(),
                local_devices: Vec::new(),
                allowed_hosts: None,
                anti_affinity: None,
            });
        }
    }
    out
}

/// Every placement (a count per host, each at most that host's room), most
/// VMs first.
fn placements(rooms: &[u32]) -> Vec<Vec<u32>> {
    let mut all: Vec<Vec<u32>> = vec![Vec::new()];
    for &room in rooms {
        all = all
            .into_iter()
            .flat_map(|p| {
                (0..=room).map(move |c| {
                    let mut q = p.clone();
                    q.push(c);
                    q
                })
            })
            .collect();
    }
    all.sort_by_key(|p| std::cmp::Reverse(p.iter().sum::<u32>()));
    all
}

/// The number of placements [`reference_headroom`] would try.
pub fn reference_placements(pool: &Pool, shape: &RefShape) -> u64 {
    (0..pool.hosts.len())
        .map(|h| reference_room(pool, shape, h) as u64 + 1)
        .product()
}

/// The most new VMs of `shape` that some placement can add with the pool
/// still tolerating k failures: 0 when it does not tolerate k now.
pub fn reference_headroom(pool: &Pool, shape: &RefShape, k: u32) -> u32 {
    if !reference_tolerates(pool, k) {
        return 0;
    }
    let rooms: Vec<u32> = (0..pool.hosts.len())
        .map(|h| reference_room(pool, shape, h))
        .collect();
    placements(&rooms)
        .into_iter()
        .find(|x| reference_tolerates(&with_new_vms(pool, shape, x), k))
        .map_or(0, |x| x.iter().sum())
}

/// The most new VMs of `shape` that can all start on host `h` with the
/// pool still tolerating k.
pub fn reference_fits_here(pool: &Pool, shape: &RefShape, k: u32, h: HostId) -> u32 {
    if !reference_tolerates(pool, k) {
        return 0;
    }
    (0..=reference_room(pool, shape, h))
        .rev()
        .find(|&c| {
            let mut x = vec![0; pool.hosts.len()];
            x[h] = c;
            reference_tolerates(&with_new_vms(pool, shape, &x), k)
        })
        .unwrap_or(0)
}

// ---------------------------------------------------------------------------
// Drain (`haplan drain`, docs/cli.md), from its definition: every
// assignment of the drained host's VMs tried, each judged by the tolerance
// above.

/// The pool with `h` in maintenance and each VM `vms[i]` on `to[i]`.
pub fn drained(pool: &Pool, h: HostId, vms: &[VmId], to: &[HostId]) -> Pool {
    let mut out = pool.clone();
    out.hosts[h].state = HostState::Maintenance;
    for (&v, &t) in vms.iter().zip(to) {
        out.vms[v].host = t;
    }
    out
}

/// Why moving `vms[i]` to `to[i]` (every running or paused VM of `h`) is not
/// a valid drain, if it is not: each goes to another host that is up, that
/// it may run on (storage, networks, no local devices, `allowed_hosts`,
/// `standby_only`, no other running VM of its anti-affinity group there
/// once all have moved), and every host that receives VMs has room for
/// all of them. The end state is not judged here.
pub fn reference_drain_invalid(
    pool: &Pool,
    h: HostId,
    vms: &[VmId],
    to: &[HostId],
) -> Option<String> {
    let mut active: Vec<VmId> = (0..pool.vms.len())
        .filter(|&v| pool.vms[v].host == h && holds_resources(pool.vms[v].power))
        .collect();
    let mut moved = vms.to_vec();
    active.sort_unstable();
    moved.sort_unstable();
    if active != moved || vms.len() != to.len() {
        return Some(format!(
            "moves {moved:?}, the host's running VMs are {active:?}"
        ));
    }
    let end = drained(pool, h, vms, to);
    for (&v, &t) in vms.iter().zip(to) {
        let vm = &end.vms[v];
        let host = &end.hosts[t];
        let peer = vm.anti_affinity.as_ref().is_some_and(|g| {
            end.vms.iter().enumerate().any(|(o, other)| {
                o != v
                    && other.host == t
                    && holds_resources(other.power)
                    && other.anti_affinity.as_ref() == Some(g)
            })
        });
        let ok = t != h
            && host.state == HostState::Up
            && vm.local_devices.is_empty()
            && vm.storage.is_subset(&host.storage)
            && vm.networks.is_subset(&host.networks)
            && vm.allowed_hosts.as_ref().is_none_or(|a| a.contains(&t))
            && (end.ha.migration_path != MigrationPath::StandbyOnly || host.standby)
            && !peer;
        if !ok {
            return Some(format!("{} may not run on {}", vm.name, host.name));
        }
    }
    for &t in to {
        if (0..end.resources.len()).any(|r| spare(&end, t, r) < 0) {
            return Some(format!(
                "{} has no room for what moves there",
                end.hosts[t].name
            ));
        }
    }
    None
}

/// The end state passes `check` against k: it tolerates k and no protected
/// VM in it is not agile.
pub fn reference_end_ok(end: &Pool, k: u32) -> bool {
    reference_not_agile(end).is_empty() && reference_tolerates(end, k)
}

/// Whether host `h` can be drained with the pool still tolerating k: some
/// assignment of its running and paused VMs to hosts is valid
/// ([`reference_drain_invalid`]) and leaves a pool that passes
/// [`reference_end_ok`]. Every assignment to every host is tried.
pub fn reference_drainable(pool: &Pool, h: HostId, k: u32) -> bool {
    let vms: Vec<VmId> = (0..pool.vms.len())
        .filter(|&v| pool.vms[v].host == h && holds_resources(pool.vms[v].power))
        .collect();
    (0..vms.len())
        .map(|_| 0..pool.hosts.len())
        .multi_cartesian_product()
        .chain(std::iter::once(Vec::new()).filter(|_| vms.is_empty()))
        .any(|to| {
            reference_drain_invalid(pool, h, &vms, &to).is_none()
                && reference_end_ok(&drained(pool, h, &vms, &to), k)
        })
}

// ---------------------------------------------------------------------------
// Restart times (`haplan timing`, docs/cli.md), simulated second by second
// from the rules as docs/runtime.md and docs/cli.md state them.

/// A VM to start: its start-order key (order, priority 0 = critical, name),
/// boot time and start delay, in seconds.
#[derive(Clone, Debug)]
pub struct RefJob {
    pub name: String,
    pub order: u32,
    pub priority: u8,
    pub boot: u64,
    pub delay: u64,
}

/// (start, running) of every job, by simulating each second: first the VMs
/// whose boot ends run, then every waiting VM whose group is due (every VM
/// of a lower order runs, and its delay has passed since it ran) starts,
/// critical first then by name, while fewer than `limit` starts are in
/// flight; repeated within the second until nothing changes (a boot of 0
/// s runs at once and frees its slot).
pub fn reference_schedule(jobs: &[RefJob], limit: Option<usize>) -> Vec<(u64, u64)> {
    let n = jobs.len();
    let mut start: Vec<Option<u64>> = vec![None; n];
    let mut running: Vec<Option<u64>> = vec![None; n];
    let mut t = 0u64;
    while running.iter().any(Option::is_none) {
        loop {
            let mut changed = false;
            for i in 0..n {
                if running[i].is_none() && start[i].is_some_and(|s| s + jobs[i].boot <= t) {
                    running[i] = Some(t);
                    changed = true;
                }
            }
            let in_flight = (0..n)
                .filter(|&i| start[i].is_some() && running[i].is_none())
                .count();
            let mut due: Vec<usize> = (0..n)
                .filter(|&i| start[i].is_none())
                .filter(|&i| {
                    (0..n)
                        .filter(|&j| jobs[j].order < jobs[i].order)
                        .all(|j| running[j].is_some_and(|r| r + jobs[j].delay <= t))
                })
                .collect();
            due.sort_by(|&a, &b| {
                (jobs[a].order, jobs[a].priority, &jobs[a].name).cmp(&(
                    jobs[b].order,
                    jobs[b].priority,
                    &jobs[b].name,
                ))
            });
            let free = limit.map_or(usize::MAX, |l| l.saturating_sub(in_flight));
            for &i in due.iter().take(free) {
                start[i] = Some(t);
                changed = true;
            }
            if !changed {
                break;
            }
        }
        if running.iter().all(Option::is_some) {
            break;
        }
        t += 1;
    }
    (0..n)
        .map(|i| (start[i].unwrap(), running[i].unwrap()))
        .collect()
}

/// The jobs of a failure set: the VMs `vms_to_place` gives, boot time from
/// the file or `boot_default`.
pub fn reference_jobs(pool: &Pool, failed: &[HostId], boot_default: u64) -> Vec<RefJob> {
    vms_to_place(pool, failed)
        .into_iter()
        .map(|v| {
            let vm = &pool.vms[v];
            RefJob {
                name: vm.name.clone(),
                order: vm.order,
                priority: vm.priority as u8,
                boot: vm.boot_time_s.unwrap_or(boot_default),
                delay: vm.start_delay_s,
            }
        })
        .collect()
}

/// The latest running time of the schedule (0 with nothing to start).
pub fn reference_makespan(jobs: &[RefJob], limit: Option<usize>) -> u64 {
    reference_schedule(jobs, limit)
        .into_iter()
        .map(|(_, r)| r)
        .max()
        .unwrap_or(0)
}

/// The worst makespan over every set of at most `k` up hosts (the empty set
/// included: the VMs of hosts already down alone).
pub fn reference_worst_makespan(
    pool: &Pool,
    k: u32,
    boot_default: u64,
    limit: Option<usize>,
) -> u64 {
    let up = up_hosts(pool);
    (0..=(k as usize).min(up.len()))
        .flat_map(|size| up.iter().copied().combinations(size))
        .map(|failed| reference_makespan(&reference_jobs(pool, &failed, boot_default), limit))
        .max()
        .unwrap_or(0)
}
