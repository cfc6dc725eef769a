//! A brute-force reference for haplan's answers, written from
//! `docs/pool-format.md` alone (with its "Clarifications" section) and
//! working on the raw fields of a [`Pool`].
//!
//! Nothing here uses haplan's `Analysis`, `Agility` or `pack` modules: only
//! the parsed model. Every rule of the spec is one short function, and the
//! scenario is decided by plain backtracking over every assignment (a branch
//! is dropped only when the VM does not fit on that target), so the code can
//! be believed at a glance. It is slow; keep the pools small.

use haplan::model::{Affinity, HaMode, HostState, MigrationPath, Power, Restart};
use haplan::{HostId, Pool, VmId};
use itertools::Itertools;

/// `floor(capacity * ratio)`, with the ratio read as the decimal it is
/// written as: `100 * 1.15` is 115 (in `f64` it would be 114.99…, floored
/// to 114).
pub fn scale_decimal(capacity: i64, ratio: f64) -> i64 {
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
    (capacity as i128 * num).div_euclid(den) as i64
}

/// The overcommit ratio of resource `r` on host `h` in normal operation:
/// the host's own `overcommit` where it names `r`, else `ha.overcommit`,
/// else 1.0.
pub fn ratio(pool: &Pool, h: HostId, r: usize) -> f64 {
    let name = &pool.resources[r];
    pool.hosts[h]
        .overcommit
        .get(name)
        .or_else(|| pool.ha.overcommit.get(name))
        .copied()
        .unwrap_or(1.0)
}

/// `floor(capacity[r] * ratio) - reserved[r]`, the ratio of [`ratio`].
pub fn usable(pool: &Pool, h: HostId, r: usize) -> i64 {
    let host = &pool.hosts[h];
    scale_decimal(host.capacity[r], ratio(pool, h, r)) - host.reserved[r]
}

/// What a host that receives restarted VMs may use in a failure scenario:
/// the larger of its normal ratio and `ha.failover_overcommit[r]`.
pub fn failover_usable(pool: &Pool, h: HostId, r: usize) -> i64 {
    let host = &pool.hosts[h];
    let normal = ratio(pool, h, r);
    let ratio = match pool.ha.failover_overcommit.get(&pool.resources[r]) {
        Some(&f) if f > normal => f,
        _ => normal,
    };
    scale_decimal(host.capacity[r], ratio) - host.reserved[r]
}

/// Running and paused VMs hold resources and are restarted; halted ones not.
pub fn holds_resources(power: Power) -> bool {
    power == Power::Running || power == Power::Paused
}

/// What the running or paused VMs on host `h` use of resource `r`.
pub fn used(pool: &Pool, h: HostId, r: usize) -> i64 {
    pool.vms
        .iter()
        .filter(|vm| vm.host == h && holds_resources(vm.power))
        .map(|vm| vm.demand[r])
        .sum()
}

/// Spare of host `h` for resource `r` in normal operation: usable minus
/// the demand of the running or paused VMs on it. May be negative (an
/// overload).
pub fn spare(pool: &Pool, h: HostId, r: usize) -> i64 {
    usable(pool, h, r) - used(pool, h, r)
}

/// Spare of host `h` for resource `r` in a failure scenario (with the
/// failover ratio).
pub fn failover_spare(pool: &Pool, h: HostId, r: usize) -> i64 {
    failover_usable(pool, h, r) - used(pool, h, r)
}

/// An up host overloaded in any resource in normal operation.
pub fn overloaded(pool: &Pool, h: HostId) -> bool {
    (0..pool.resources.len()).any(|r| spare(pool, h, r) < 0)
}

/// A host overloaded in some resource even at the failover ratio receives
/// no restarted VM.
pub fn failover_overloaded(pool: &Pool, h: HostId) -> bool {
    (0..pool.resources.len()).any(|r| failover_spare(pool, h, r) < 0)
}

/// One rule between VMs, read from the raw fields: a `vm_groups` entry
/// with the VMs naming it in `anti_affinity` added, or a group only
/// `anti_affinity` names (apart, one per host, strict).
#[derive(Clone, Debug)]
pub struct RefRule {
    pub name: String,
    pub together: bool,
    pub cap: usize,
    pub strict: bool,
    pub members: Vec<VmId>,
}

/// Every rule of the pool.
pub fn rules(pool: &Pool) -> Vec<RefRule> {
    let mut out: Vec<RefRule> = pool
        .vm_groups
        .iter()
        .map(|g| RefRule {
            name: g.name.clone(),
            together: g.affinity == Affinity::Together,
            cap: g.max_per_host as usize,
            strict: g.strict,
            members: g.vms.clone(),
        })
        .collect();
    for (v, vm) in pool.vms.iter().enumerate() {
        let Some(g) = &vm.anti_affinity else { continue };
        match out.iter_mut().find(|r| &r.name == g) {
            Some(r) => {
                if !r.members.contains(&v) {
                    r.members.push(v)
                }
            }
            None => out.push(RefRule {
                name: g.clone(),
                together: false,
                cap: 1,
                strict: true,
                members: vec![v],
            }),
        }
    }
    out
}

/// A soft rule: a group with `strict: false` (by name), or the
/// `preferred_hosts` of a VM; `On` (a VM on one of its preferred hosts) is
/// how a plan honours a preference.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum SoftRef {
    Group(String),
    Preferred(VmId),
    On(VmId, HostId),
}

/// Every soft rule of the pool: the soft groups in file order, then the
/// VMs with `preferred_hosts` in file order.
pub fn soft_rules(pool: &Pool) -> Vec<SoftRef> {
    let groups = rules(pool)
        .into_iter()
        .filter(|r| !r.strict)
        .map(|r| SoftRef::Group(r.name));
    let preferred = (0..pool.vms.len())
        .filter(|&v| !pool.vms[v].preferred_hosts.is_empty())
        .map(SoftRef::Preferred);
    groups.chain(preferred).collect()
}

/// The rules that bind: the strict ones, or every one when `soft` (soft
/// rules taken as strict).
pub fn binding_rules(pool: &Pool, soft: bool) -> Vec<RefRule> {
    let honour = if soft { soft_rules(pool) } else { Vec::new() };
    binding_rules_honouring(pool, &honour)
}

/// The strict rules and the soft groups of `honour`.
pub fn binding_rules_honouring(pool: &Pool, honour: &[SoftRef]) -> Vec<RefRule> {
    rules(pool)
        .into_iter()
        .filter(|r| r.strict || honour.contains(&SoftRef::Group(r.name.clone())))
        .collect()
}

/// The soft rules that restarting `vms[i]` on `to[i]` breaks (in the order
/// of [`soft_rules`]): a soft group whose rule [`rules_kept`] does not keep,
/// a VM restarted on a host outside its `preferred_hosts`.
pub fn reference_broken(
    pool: &Pool,
    failed: &[HostId],
    vms: &[VmId],
    to: &[HostId],
) -> Vec<SoftRef> {
    let all = rules(pool);
    soft_rules(pool)
        .into_iter()
        .filter(|s| match s {
            SoftRef::Group(name) => {
                let rule = all.iter().find(|r| &r.name == name).expect("a rule");
                !rules_kept(pool, failed, std::slice::from_ref(rule), vms, to)
            }
            SoftRef::Preferred(v) => vms
                .iter()
                .position(|o| o == v)
                .is_some_and(|i| !pool.vms[*v].preferred_hosts.contains(&to[i])),
            SoftRef::On(..) => false,
        })
        .collect()
}

/// The soft rules a plan that restarts exactly `placed` when `failed`
/// fail breaks, as pool-format.md defines plans: the rules concerning a
/// placed VM, ordered by their most important placed VM (restart class,
/// then priority), groups before preferences, then file order, each
/// honoured when some placement keeps it beside the rules honoured before
/// it (a preference tries its hosts most preferred first and keeps the
/// first that works).
pub fn reference_soft_plan(pool: &Pool, failed: &[HostId], placed: &[VmId]) -> Vec<SoftRef> {
    let key = |v: VmId| (pool.vms[v].restart, pool.vms[v].priority);
    let mut order: Vec<(_, u8, usize, SoftRef)> = Vec::new();
    for (i, r) in rules(pool).into_iter().enumerate() {
        if r.strict {
            continue;
        }
        if let Some(k) = r
            .members
            .iter()
            .filter(|v| placed.contains(v))
            .map(|&v| key(v))
            .min()
        {
            order.push((k, 0, i, SoftRef::Group(r.name)));
        }
    }
    for &v in placed {
        if !pool.vms[v].preferred_hosts.is_empty() {
            order.push((key(v), 1, v, SoftRef::Preferred(v)));
        }
    }
    order.sort_by_key(|a| (a.0, a.1, a.2));
    let mut honour: Vec<SoftRef> = Vec::new();
    let mut broken = Vec::new();
    for (_, _, _, rule) in order {
        let tries: Vec<SoftRef> = match &rule {
            SoftRef::Preferred(v) => pool.vms[*v]
                .preferred_hosts
                .iter()
                .map(|&h| SoftRef::On(*v, h))
                .collect(),
            other => vec![other.clone()],
        };
        let kept = tries.into_iter().find(|t| {
            let mut with = honour.clone();
            with.push(t.clone());
            reference_placement_honouring(pool, failed, placed, &with).is_some()
        });
        match kept {
            Some(t) => honour.push(t),
            None => broken.push(rule),
        }
    }
    broken
}

/// Running or paused members of rule `r` on host `t`, `v` aside.
fn members_on(pool: &Pool, r: &RefRule, t: HostId, v: VmId) -> usize {
    r.members
        .iter()
        .filter(|&&o| o != v && pool.vms[o].host == t && holds_resources(pool.vms[o].power))
        .count()
}

/// The agility rule of the spec, for VM `v` and host `t`, failures aside:
/// not its own host, running or paused, no local devices, `t` up, storage and
/// networks reachable, `allowed_hosts`, `standby_only`, and for every strict
/// apart rule of `v`, fewer than its `max_per_host` other running members
/// on `t` (a paused VM counts as running here: see the clarifications of
/// pool-format.md).
pub fn may_restart_on(pool: &Pool, v: VmId, t: HostId) -> bool {
    may_restart_with(pool, v, t, false)
}

/// [`may_restart_on`], with soft rules taken as strict (soft apart rules
/// too, and `preferred_hosts` as a limit) when `soft`.
pub fn may_restart_with(pool: &Pool, v: VmId, t: HostId, soft: bool) -> bool {
    let honour = if soft { soft_rules(pool) } else { Vec::new() };
    may_restart_honouring(pool, v, t, &honour)
}

/// [`may_restart_on`] with the soft rules of `honour` taken as strict.
pub fn may_restart_honouring(pool: &Pool, v: VmId, t: HostId, honour: &[SoftRef]) -> bool {
    let vm = &pool.vms[v];
    let host = &pool.hosts[t];
    let crowded = binding_rules_honouring(pool, honour)
        .iter()
        .any(|r| !r.together && r.members.contains(&v) && members_on(pool, r, t, v) >= r.cap);
    let preferred = !honour.contains(&SoftRef::Preferred(v)) || vm.preferred_hosts.contains(&t);
    let pinned = honour.iter().all(|s| match s {
        SoftRef::On(o, h) => *o != v || *h == t,
        _ => true,
    });
    t != vm.host
        && holds_resources(vm.power)
        && vm.local_devices.is_empty()
        && host.state == HostState::Up
        && vm.storage.is_subset(&host.storage)
        && vm.networks.is_subset(&host.networks)
        && vm.allowed_hosts.as_ref().is_none_or(|a| a.contains(&t))
        && (pool.ha.migration_path != MigrationPath::StandbyOnly || host.standby)
        && !crowded
        && preferred
        && pinned
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
/// not overloaded at the failover ratio. Mode `vm` has no host failover,
/// so none.
pub fn receivers(pool: &Pool, failed: &[HostId]) -> Vec<HostId> {
    if pool.ha.mode == HaMode::Vm {
        return Vec::new();
    }
    (0..pool.hosts.len())
        .filter(|&t| {
            pool.hosts[t].state == HostState::Up
                && !failed.contains(&t)
                && !failover_overloaded(pool, t)
        })
        .collect()
}

/// Whether every VM to place gets one surviving target with room, every
/// strict rule kept.
pub fn reference_feasible(pool: &Pool, failed: &[HostId]) -> bool {
    reference_packable(pool, failed, &vms_to_place(pool, failed))
}

/// Whether `vms` can all be restarted at once when `failed` fail: each on a
/// surviving target it may restart on, within that target's spare at the
/// failover ratio in every resource, and every strict rule kept
/// ([`rules_kept`]).
pub fn reference_packable(pool: &Pool, failed: &[HostId], vms: &[VmId]) -> bool {
    reference_placement(pool, failed, vms, false).is_some()
}

/// [`reference_packable`] with every soft rule taken as strict: soft groups
/// bind, and a VM with `preferred_hosts` restarts on one of them.
pub fn reference_packable_soft(pool: &Pool, failed: &[HostId], vms: &[VmId]) -> bool {
    reference_placement(pool, failed, vms, true).is_some()
}

/// A target for each of `vms` (in that order) that keeps capacity and the
/// binding rules (soft ones too when `soft`), if there is one: every
/// assignment is tried.
pub fn reference_placement(
    pool: &Pool,
    failed: &[HostId],
    vms: &[VmId],
    soft: bool,
) -> Option<Vec<HostId>> {
    let honour = if soft { soft_rules(pool) } else { Vec::new() };
    reference_placement_honouring(pool, failed, vms, &honour)
}

/// [`reference_placement`] with the soft rules of `honour` taken as strict.
pub fn reference_placement_honouring(
    pool: &Pool,
    failed: &[HostId],
    vms: &[VmId],
    honour: &[SoftRef],
) -> Option<Vec<HostId>> {
    let mut order: Vec<usize> = (0..vms.len()).collect();
    // The order of the VMs does not change the answer; largest first only
    // makes a dead end show sooner.
    order.sort_by_key(|&i| std::cmp::Reverse(pool.vms[vms[i]].demand.iter().sum::<i64>()));
    let sorted: Vec<VmId> = order.iter().map(|&i| vms[i]).collect();
    let targets = receivers(pool, failed);
    let choices: Vec<Vec<HostId>> = sorted
        .iter()
        .map(|&v| {
            targets
                .iter()
                .copied()
                .filter(|&t| may_restart_honouring(pool, v, t, honour))
                .collect()
        })
        .collect();
    let mut room: Vec<Vec<i64>> = (0..pool.hosts.len())
        .map(|h| {
            (0..pool.resources.len())
                .map(|r| failover_spare(pool, h, r))
                .collect()
        })
        .collect();
    let rules = binding_rules_honouring(pool, honour);
    let mut placed_on: Vec<HostId> = Vec::new();
    let found = backtrack(
        pool,
        failed,
        &rules,
        &sorted,
        &choices,
        &mut room,
        &mut placed_on,
    );
    found.then(|| {
        let mut out = vec![0; vms.len()];
        for (k, &i) in order.iter().enumerate() {
            out[i] = placed_on[k];
        }
        out
    })
}

/// Places `vms[placed_on.len()..]`, given where the earlier ones went; the
/// rules are checked on every partial assignment (a rule broken by some of
/// the VMs stays broken whatever the others do).
fn backtrack(
    pool: &Pool,
    failed: &[HostId],
    rules: &[RefRule],
    vms: &[VmId],
    choices: &[Vec<HostId>],
    room: &mut [Vec<i64>],
    placed_on: &mut Vec<HostId>,
) -> bool {
    let i = placed_on.len();
    if !rules_kept(pool, failed, rules, &vms[..i], placed_on) {
        return false;
    }
    if i == vms.len() {
        return true;
    }
    let vm = &pool.vms[vms[i]];
    for &t in &choices[i] {
        let fits = (0..pool.resources.len()).all(|r| vm.demand[r] <= room[t][r]);
        if !fits {
            continue;
        }
        for (room, demand) in room[t].iter_mut().zip(&vm.demand) {
            *room -= demand;
        }
        placed_on.push(t);
        if backtrack(pool, failed, rules, vms, choices, room, placed_on) {
            return true;
        }
        placed_on.pop();
        for (room, demand) in room[t].iter_mut().zip(&vm.demand) {
            *room += demand;
        }
    }
    false
}

/// Whether restarting `vms[i]` on `to[i]` (when `failed` fail) keeps
/// `rules`: for an apart rule, every host receiving a member has at most
/// `max_per_host` running members afterwards (those running there already
/// included); for a together rule, the members restarted all go to one
/// host, and when some member still runs (on a host neither failed nor
/// down), to a host where one does.
pub fn rules_kept(
    pool: &Pool,
    failed: &[HostId],
    rules: &[RefRule],
    vms: &[VmId],
    to: &[HostId],
) -> bool {
    rules.iter().all(|rule| {
        let restarted: Vec<HostId> = (0..vms.len())
            .filter(|&i| rule.members.contains(&vms[i]))
            .map(|i| to[i])
            .collect();
        if restarted.is_empty() {
            return true;
        }
        // Members running now on hosts that neither failed nor are down.
        let running: Vec<HostId> = rule
            .members
            .iter()
            .filter(|&&m| !vms.contains(&m) && holds_resources(pool.vms[m].power))
            .map(|&m| pool.vms[m].host)
            .filter(|&h| !failed.contains(&h) && pool.hosts[h].state != HostState::Down)
            .collect();
        if rule.together {
            let first = restarted[0];
            restarted.iter().all(|&t| t == first)
                && (running.is_empty() || running.contains(&first))
        } else {
            restarted.iter().all(|&t| {
                let there = restarted.iter().filter(|&&u| u == t).count()
                    + running.iter().filter(|&&u| u == t).count();
                there <= rule.cap
            })
        }
    })
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

/// The largest k such that every set of at most k up hosts (failure units)
/// is a feasible scenario, every k from 0 to the number of up hosts tried; 0
/// when none is (the k = 0 scenario fails: see
/// [`reference_stranded_now`]). Mode `vm`, as the clarifications say: 0
/// when any protected VM runs or is paused, else all.
pub fn reference_max_tolerable(pool: &Pool) -> u32 {
    // Mode `vm` needs no case of its own: with no receivers, a set fails
    // exactly when it (or a host already down) holds a protected VM.
    reference_max_tolerable_for(pool, |failed| reference_feasible(pool, failed))
}

/// The largest k such that `feasible` holds for every set of at most k
/// failure units ([`failure_units`]), k = 0 included; 0 when none is.
/// (With keep-together rules a larger set can be feasible where a smaller
/// one is not: every size up to k is tried.)
pub fn reference_max_tolerable_for(pool: &Pool, feasible: impl Fn(&[HostId]) -> bool) -> u32 {
    let units = failure_units(pool);
    (0..=units.len())
        .take_while(|&k| unit_sets(&units, k).all(|failed| feasible(&failed)))
        .last()
        .unwrap_or(0) as u32
}

/// The tolerance with every soft rule taken as strict: the largest k such
/// that for every set of at most k failure units, the VMs to place (by the
/// strict rules' agility) fit with soft groups binding and each VM with
/// `preferred_hosts` on one of them.
pub fn reference_soft_max_tolerable(pool: &Pool) -> u32 {
    reference_max_tolerable_for(pool, |failed| {
        reference_packable_soft(pool, failed, &vms_to_place(pool, failed))
    })
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
/// units) and every set of at most k of them (hosts already down included;
/// k = 0 is the empty set) is a feasible scenario.
pub fn reference_tolerates(pool: &Pool, k: u32) -> bool {
    let units = failure_units(pool);
    (k as usize) <= units.len()
        && (0..=k as usize)
            .all(|j| unit_sets(&units, j).all(|failed| reference_feasible(pool, &failed)))
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
                preferred_hosts: Vec::new(),
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
/// `standby_only`), the strict rules hold once all have moved (an apart
/// rule's hosts receiving a member run at most `max_per_host` members; the
/// members of a together rule that move go to one host, where its other
/// running members are, if any: [`rules_kept`]), and every host that
/// receives VMs has room for all of them. The end state is not judged here.
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
        let ok = t != h
            && host.state == HostState::Up
            && vm.local_devices.is_empty()
            && vm.storage.is_subset(&host.storage)
            && vm.networks.is_subset(&host.networks)
            && vm.allowed_hosts.as_ref().is_none_or(|a| a.contains(&t))
            && (end.ha.migration_path != MigrationPath::StandbyOnly || host.standby);
        if !ok {
            return Some(format!("{} may not run on {}", vm.name, host.name));
        }
    }
    if !rules_kept(pool, &[h], &binding_rules(pool, false), vms, to) {
        return Some("the moves break a strict group rule".to_string());
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

/// A VM to start: its start-order key (order, priority key: the lower the
/// more important, name), boot time and start delay, in seconds.
#[derive(Clone, Debug)]
pub struct RefJob {
    pub name: String,
    pub order: u32,
    pub priority: i64,
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
                priority: -(vm.priority.0 as i64),
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

#[cfg(test)]
mod tests {
    //! The reference's own rules on pools small enough to work out by hand.

    use super::*;
    use serde_json::{Value, json};

    fn parse(v: Value) -> Pool {
        haplan::parse_pool(&v.to_string()).unwrap()
    }

    fn hosts(caps: &[i64]) -> Value {
        let list: Vec<Value> = caps
            .iter()
            .enumerate()
            .map(|(i, &m)| json!({"name": format!("h{}", i + 1), "capacity": {"m": m}}))
            .collect();
        json!(list)
    }

    #[test]
    fn a_together_group_restarts_on_one_host() {
        // a and b (4 each) on h1; h2 has room for one, h3 for both.
        let vms = json!([
            {"name": "a", "host": "h1", "demand": {"m": 4}},
            {"name": "b", "host": "h1", "demand": {"m": 4}}]);
        let groups = json!([{"name": "ab", "affinity": "together", "vms": ["a", "b"]}]);
        let pool = parse(json!({"name": "t", "hosts": hosts(&[8, 4, 8]), "vms": vms,
            "vm_groups": groups}));
        assert!(reference_feasible(&pool, &[0]));
        assert_eq!(
            reference_placement(&pool, &[0], &[0, 1], false),
            Some(vec![2, 2])
        );
        // Without h3, each fits somewhere (h2 and ... nowhere else): apart
        // they would need two hosts with room 4; together, one with 8.
        let pool = parse(json!({"name": "t", "hosts": hosts(&[8, 4, 4]), "vms": vms,
            "vm_groups": groups}));
        assert!(!reference_feasible(&pool, &[0]));
        let soft =
            json!([{"name": "ab", "affinity": "together", "strict": false, "vms": ["a", "b"]}]);
        let loose = parse(json!({"name": "t", "hosts": hosts(&[8, 4, 4]), "vms": vms,
            "vm_groups": soft}));
        assert!(reference_feasible(&loose, &[0]), "a soft rule never binds");
        assert!(!reference_packable_soft(&loose, &[0], &[0, 1]));
        assert_eq!(reference_max_tolerable(&loose), 1);
        assert_eq!(reference_soft_max_tolerable(&loose), 0);
    }

    #[test]
    fn restarted_members_join_a_member_that_still_runs() {
        // a on h1, b on h2 (split already). If h1 fails, a must join b on
        // h2, which has no room; if both fail, both go to h3. A larger
        // failure set is feasible where a smaller one is not.
        let pool = parse(json!({"name": "t", "hosts": hosts(&[8, 4, 16]),
            "vms": [{"name": "a", "host": "h1", "demand": {"m": 4}},
                    {"name": "b", "host": "h2", "demand": {"m": 4}}],
            "vm_groups": [{"name": "ab", "affinity": "together", "vms": ["a", "b"]}]}));
        assert!(!reference_feasible(&pool, &[0]));
        assert!(reference_feasible(&pool, &[0, 1]));
        assert!(reference_feasible(&pool, &[1]), "b joins a on h1 (room 4)");
        assert_eq!(reference_max_tolerable(&pool), 0);
        assert!(!reference_tolerates(&pool, 2));
        // A halted member holds nothing and anchors nothing.
        let pool = parse(json!({"name": "t", "hosts": hosts(&[8, 4, 16]),
            "vms": [{"name": "a", "host": "h1", "demand": {"m": 4}},
                    {"name": "b", "host": "h2", "demand": {"m": 4}, "power": "halted"}],
            "vm_groups": [{"name": "ab", "affinity": "together", "vms": ["a", "b"]}]}));
        assert!(reference_feasible(&pool, &[0]));
    }

    #[test]
    fn an_apart_cap_counts_the_members_already_there() {
        // Three members on h1, at most two per host; h2 runs one already.
        let vms = json!([
            {"name": "w1", "host": "h1", "demand": {"m": 1}},
            {"name": "w2", "host": "h1", "demand": {"m": 1}},
            {"name": "w3", "host": "h1", "demand": {"m": 1}},
            {"name": "w4", "host": "h2", "demand": {"m": 1}}]);
        let group = |cap: u32| {
            json!([{"name": "w", "affinity": "apart", "max_per_host": cap,
            "vms": ["w1", "w2", "w3", "w4"]}])
        };
        let pool = parse(
            json!({"name": "a", "hosts": hosts(&[10, 10, 10]), "vms": vms,
            "vm_groups": group(2)}),
        );
        // h2 takes one more (2 in all), h3 two: three fit.
        assert!(reference_feasible(&pool, &[0]));
        assert!(may_restart_on(&pool, 0, 1));
        let pool = parse(
            json!({"name": "a", "hosts": hosts(&[10, 10, 10]), "vms": vms,
            "vm_groups": group(1)}),
        );
        // One per host: h2 is taken, h3 takes one of three.
        assert!(!may_restart_on(&pool, 0, 1));
        assert!(!reference_feasible(&pool, &[0]));
        assert!(reference_feasible(&pool, &[1]), "w4 goes to h3");
    }

    #[test]
    fn anti_affinity_naming_a_group_takes_its_cap() {
        let pool = parse(json!({"name": "a", "hosts": hosts(&[10, 10]),
            "vms": [{"name": "x", "host": "h1", "demand": {"m": 1}, "anti_affinity": "g"},
                    {"name": "y", "host": "h1", "demand": {"m": 1}},
                    {"name": "z", "host": "h2", "demand": {"m": 1}, "anti_affinity": "g"}],
            "vm_groups": [{"name": "g", "affinity": "apart", "max_per_host": 2, "vms": ["y"]}]}));
        let g = rules(&pool);
        assert_eq!(g.len(), 1);
        assert_eq!(g[0].members, vec![1, 0, 2]);
        // x and y join z on h2: three on one host, cap two.
        assert!(!reference_feasible(&pool, &[0]));
        // Without the entry, g is plain anti-affinity: x on h2 next to z fails too.
        let plain = parse(json!({"name": "a", "hosts": hosts(&[10, 10]),
            "vms": [{"name": "x", "host": "h1", "demand": {"m": 1}, "anti_affinity": "g"},
                    {"name": "z", "host": "h2", "demand": {"m": 1}, "anti_affinity": "g"}]}));
        assert!(!is_agile(&plain, 0));
    }

    #[test]
    fn per_host_and_failover_overcommit() {
        // vcpus: pool 1.0, h2 2.0 of 4 = 8; failover 1.5 lifts h1 and h3 to 6.
        let pool = parse(json!({"name": "o",
            "ha": {"failover_overcommit": {"vcpus": 1.5}},
            "hosts": [{"name": "h1", "capacity": {"vcpus": 4}},
                      {"name": "h2", "capacity": {"vcpus": 4}, "overcommit": {"vcpus": 2.0}},
                      {"name": "h3", "capacity": {"vcpus": 4}}],
            "vms": [{"name": "a", "host": "h1", "demand": {"vcpus": 4}},
                    {"name": "b", "host": "h2", "demand": {"vcpus": 6}},
                    {"name": "c", "host": "h3", "demand": {"vcpus": 4}}]}));
        assert_eq!(usable(&pool, 1, 0), 8);
        assert_eq!(failover_usable(&pool, 1, 0), 8, "the host's 2.0 beats 1.5");
        assert_eq!((spare(&pool, 0, 0), failover_spare(&pool, 0, 0)), (0, 2));
        // h1 fails: a (4) goes to h2 (spare 2) or h3 (failover spare 2): no.
        assert!(!reference_feasible(&pool, &[0]));
        let more = parse(json!({"name": "o",
            "ha": {"failover_overcommit": {"vcpus": 2.0}},
            "hosts": [{"name": "h1", "capacity": {"vcpus": 4}},
                      {"name": "h2", "capacity": {"vcpus": 4}, "overcommit": {"vcpus": 2.0}},
                      {"name": "h3", "capacity": {"vcpus": 4}}],
            "vms": [{"name": "a", "host": "h1", "demand": {"vcpus": 4}},
                    {"name": "b", "host": "h2", "demand": {"vcpus": 6}},
                    {"name": "c", "host": "h3", "demand": {"vcpus": 4}}]}));
        assert!(reference_feasible(&more, &[0]), "h3 has 8 - 4 in a failure");
        assert_eq!(spare(&more, 2, 0), 0, "but nothing in normal operation");
    }

    #[test]
    fn numeric_priorities_order_tiers() {
        let pool = parse(json!({"name": "p", "hosts": hosts(&[10, 10]),
            "vms": [{"name": "a", "host": "h1", "demand": {"m": 6}, "priority": 2500},
                    {"name": "b", "host": "h1", "demand": {"m": 6}, "priority": "high"}]}));
        use haplan::model::Priority;
        assert_eq!(pool.vms[0].priority, Priority(2500));
        assert!(Priority::High < Priority(2500), "3000 sorts before 2500");
        assert_eq!(reference_tier_tolerance(&pool, Priority::High), 1);
        assert_eq!(reference_tier_tolerance(&pool, Priority(2500)), 0);
    }

    #[test]
    fn preferences_bind_only_as_soft_rules() {
        let pool = parse(json!({"name": "p", "hosts": hosts(&[10, 2, 10]),
            "vms": [{"name": "a", "host": "h1", "demand": {"m": 4}, "preferred_hosts": ["h2"]}]}));
        assert!(reference_feasible(&pool, &[0]));
        assert!(!reference_packable_soft(&pool, &[0], &[0]));
        assert_eq!(
            reference_broken(&pool, &[0], &[0], &[2]),
            vec![SoftRef::Preferred(0)]
        );
        assert!(reference_broken(&pool, &[0], &[0], &[1]).is_empty());
        assert_eq!(reference_soft_max_tolerable(&pool), 0);
        assert_eq!(reference_max_tolerable(&pool), 1);
    }

    #[test]
    fn a_drain_keeps_the_strict_rules() {
        // Draining h1 moves a and b (together) to one host.
        let pool = parse(json!({"name": "d", "hosts": hosts(&[10, 10, 10]),
            "vms": [{"name": "a", "host": "h1", "demand": {"m": 2}},
                    {"name": "b", "host": "h1", "demand": {"m": 2}}],
            "vm_groups": [{"name": "ab", "affinity": "together", "vms": ["a", "b"]}]}));
        assert!(reference_drain_invalid(&pool, 0, &[0, 1], &[1, 2]).is_some());
        assert!(reference_drain_invalid(&pool, 0, &[0, 1], &[2, 2]).is_none());
    }
}
