//! Bounds that decide many failure sets at once.
//!
//! **Necessary (upper bound).** Per resource r, a set F is infeasible when the
//! protected demand it displaces exceeds the spare left on the survivors:
//! `Σ_{h∈F} (D_h[r] + S_h[r]) > S_total[r] − D_down[r]`, where `S_h` counts
//! only for hosts that receive VMs (up, not overloaded, standby when
//! `standby_only`), and likewise in `f(x) = floor(x / u)` blocks for every
//! VM size u (superadditive, so it still holds). The left side is a sum
//! over hosts, so the worst set of size k is the k hosts with the largest
//! `D_h[r] + S_h[r]`.
//!
//! **Sufficient (lower bound).** Think of first-fit decreasing by one resource
//! r1 (FFD-r1), and of the first VM v it cannot place. Then every survivor t
//! that v may run on is *blocked*: some resource r has `rem_t[r] < d_v[r]`, so
//! the demand already placed on t is at least
//! `c_t[r] = max(0, S_t[r] − d_v[r] + 1)`. Blocked in r1, t holds at least
//! `c_t[r1]` of the r1-demand placed before v, which (FFD-r1) is made of VMs at
//! least as large in r1 as v: at most `Y[r1] = D_{≥v}[r1] − d_v[r1]`. (When
//! every demand and spare of r is a multiple of a grain g, "less than d_v
//! left" means "at most d_v − g left", and `c_t[r] = max(0, S_t[r] − d_v[r] + g)`.) The
//! survivors blocked in another resource r hold at most `Y[r]` of it, so the
//! r1-capacity they take out of the count is at most a fractional knapsack
//! `FK_r` (values `c_t[r1]`, costs `c_t[r]`, budget `Y[r]`); an anti-affinity
//! group with m members can block at most m − 1 more survivors (`AA`). So if
//!
//! `Σ_{t ∈ E_v ∩ S} c_t[r1] − AA − Σ_{r≠r1} FK_r  >  Y[r1]`
//!
//! for every VM v that could be displaced, FFD-r1 cannot fail, and F is
//! feasible. The VMs are grouped into *types* (eligible hosts `E`, size in r1);
//! for each type the left side minus the right side is, but for the `FK` and
//! `AA` terms (bounded from above over all hosts), a sum over the hosts of F,
//! so the worst set of size k is again a top-k. One resource r1 for which every
//! type passes proves every set of that size feasible.
//!
//! Both bounds also apply to partial sets (some hosts chosen, the rest to come
//! from a given list), which is what lets the set search prune whole subtrees.
//!
//! Rules between VMs: plain anti-affinity (`Analysis::group_of`) is the
//! `AA` term above. The necessary condition holds whatever else binds
//! (more rules only remove packings; VMs restarting together need at least
//! the blocks they need apart, f being superadditive). The sufficient one
//! does not model apart caps above one or keep-together groups, so with
//! those it proves nothing (`SetBounds::all_feasible`).

use std::collections::HashMap;

use crate::model::*;
use crate::pack::NO_GROUP;
use crate::scenario::Analysis;

/// One VM type for one ordering resource: what the sufficient condition
/// needs about the VMs of that type failing to place.
#[derive(Clone, Debug)]
struct Kind {
    /// Size in r1 of the VMs of this type.
    d1: i64,
    /// Per host: `c_t[r1]` if the host receives and is eligible, else 0.
    value: Vec<i64>,
    /// Sum of `value` over all hosts.
    value_total: i64,
    /// Index into `Order::levels` of this type's size.
    level: usize,
    /// The smallest demand of the type per resource (for budgets).
    dmin: Vec<i64>,
    /// Per other resource: hosts in knapsack order with prefix sums of
    /// (cost, value); hosts of cost 0 come first.
    knap: Vec<Knapsack>,
    /// Upper bound on the r1-capacity anti-affinity can block.
    aa: i64,
}

#[derive(Clone, Debug, Default)]
struct Knapsack {
    r: usize,
    cost_prefix: Vec<i64>,
    value_prefix: Vec<i64>,
    cost: Vec<i64>,
    value: Vec<i64>,
}

impl Knapsack {
    /// Fractional knapsack optimum with the given budget (an upper bound).
    fn best(&self, budget: i64) -> i64 {
        let budget = budget.max(0);
        // Items sorted by value/cost descending, zero cost first.
        let i = self.cost_prefix.partition_point(|&c| c <= budget);
        // cost_prefix[0] = 0, so i >= 1.
        let whole = self.value_prefix[i - 1];
        if i - 1 < self.cost.len() {
            let left = budget - self.cost_prefix[i - 1];
            let (c, v) = (self.cost[i - 1], self.value[i - 1]);
            // Round up: this is an upper bound.
            whole
                + if c > 0 {
                    ((v as i128 * left as i128 + c as i128 - 1) / c as i128) as i64
                } else {
                    v
                }
        } else {
            whole
        }
    }
}

/// All types for one ordering resource r1.
#[derive(Clone, Debug)]
struct Order {
    r1: usize,
    /// Distinct r1 sizes of displaceable VMs, ascending.
    #[allow(dead_code)]
    levels: Vec<i64>,
    /// `ge[level][host * nres + r]`: demand of the host's VMs with r1 size ≥ level.
    ge: Vec<Vec<i64>>,
    /// Same for hosts already down, summed.
    ge_down: Vec<Vec<i64>>,
    kinds: Vec<Kind>,
}

/// Set-level bounds for a pool.
#[derive(Clone, Debug)]
pub struct SetBounds {
    nres: usize,
    nhosts: usize,
    /// Necessary conditions, one per (resource, unit u): with
    /// `f(x) = floor(x / u)`, superadditive, a set F is infeasible when
    /// `Σ_{h∈F} (Σ_{v on h} f(d_v[r]) + f(S_h[r])) > Σ_t f(S_t[r]) − Σ_{v down} f(d_v[r])`.
    /// u = 1 is the plain aggregate condition.
    units: Vec<Unit>,
    orders: Vec<Order>,
    /// Position of each host when sorted by name.
    name_rank: Vec<usize>,
    /// The pool has rules the sufficient condition does not model.
    beyond_plain: bool,
}

/// The proof behind an aggregate rejection: in blocks of `unit` of resource
/// `res`, the VMs to restart need `need` blocks, the survivors have room for
/// `have` (`unit` 1: plain amounts).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Blocks {
    pub res: ResourceId,
    pub unit: i64,
    pub need: i64,
    pub have: i64,
}

#[derive(Clone, Debug)]
struct Unit {
    r: ResourceId,
    u: i64,
    /// Per host: blocks its protected VMs need, and room (if it receives).
    displaced: Vec<i64>,
    room: Vec<i64>,
    /// Blocks needed by the VMs of hosts already down.
    slack_need: i64,
    /// Per host: `Σ_{v on h} f(d_v) + f(S_h)` (S counted if the host receives).
    loss: Vec<i64>,
    /// `top_prefix[m]`: the sum of the m largest `loss` values of all hosts,
    /// a bound on what m hosts of any list add.
    top_prefix: Vec<i64>,
    /// `Σ_t f(S_t) − Σ_{v down} f(d_v)`.
    slack: i64,
}

/// A partial failure set: `chosen` hosts, and `m` more to come from `rest`.
pub struct Partial<'a> {
    pub chosen: &'a [HostId],
    pub rest: &'a [HostId],
    pub m: usize,
}

impl SetBounds {
    pub fn new(an: &Analysis) -> SetBounds {
        let pool = an.pool;
        let nres = pool.resources.len();
        let nh = pool.hosts.len();
        let mut units = Vec::new();
        for r in 0..nres {
            let mut sizes: Vec<i64> = an
                .items
                .iter()
                .flatten()
                .map(|&v| pool.vms[v].demand[r])
                .filter(|&d| d > 0)
                .collect();
            sizes.sort_unstable();
            sizes.dedup();
            if sizes.first() != Some(&1) {
                sizes.insert(0, 1);
            }
            for u in sizes {
                let f = |x: i64| x.max(0) / u;
                let mut loss = vec![0i64; nh];
                let mut displaced = vec![0i64; nh];
                let mut room = vec![0i64; nh];
                let mut slack = 0i64;
                let mut slack_need = 0i64;
                for h in 0..nh {
                    let d: i64 = an.items[h].iter().map(|&v| f(pool.vms[v].demand[r])).sum();
                    if pool.hosts[h].state == HostState::Down {
                        slack -= d;
                        slack_need += d;
                    } else {
                        loss[h] += d;
                        displaced[h] = d;
                    }
                    if an.receives[h] {
                        room[h] = f(an.spare[h][r]);
                        loss[h] += room[h];
                        slack += room[h];
                    }
                }
                let mut sorted = loss.clone();
                sorted.sort_unstable_by(|a, b| b.cmp(a));
                let mut top_prefix = vec![0i64];
                for x in sorted {
                    top_prefix.push(top_prefix.last().unwrap() + x);
                }
                units.push(Unit {
                    r,
                    u,
                    displaced,
                    room,
                    slack_need,
                    loss,
                    top_prefix,
                    slack,
                });
            }
        }
        // Orders by the tightest resources: total protected demand over total spare.
        let mut tight: Vec<(f64, usize)> = (0..nres)
            .map(|r| {
                let need: i64 = an
                    .items
                    .iter()
                    .flatten()
                    .map(|&v| pool.vms[v].demand[r])
                    .sum();
                let have: i64 = (0..nh)
                    .filter(|&h| an.receives[h])
                    .map(|h| an.spare[h][r])
                    .sum();
                (need as f64 / (have.max(0) as f64 + 1.0), r)
            })
            .filter(|&(t, _)| t > 0.0)
            .collect();
        tight.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        if tight.is_empty() && nres > 0 {
            tight.push((0.0, 0)); // nothing demands anything: eligibility still counts
        }
        let mut by_name: Vec<HostId> = (0..nh).collect();
        by_name.sort_by(|&a, &b| pool.hosts[a].name.cmp(&pool.hosts[b].name));
        let mut name_rank = vec![0; nh];
        for (i, &h) in by_name.iter().enumerate() {
            name_rank[h] = i;
        }
        let classes = EligClasses::of(an);
        let orders = tight
            .iter()
            .take(MAX_ORDERS)
            .map(|&(_, r1)| Order::new(an, r1, &classes))
            .collect();
        SetBounds {
            nres,
            nhosts: nh,
            units,
            orders,
            name_rank,
            beyond_plain: an.rules.is_some(),
        }
    }

    /// A completion of `p` that the aggregate condition proves infeasible,
    /// if there is one: the chosen hosts plus, for some resource, the `m`
    /// hosts of `rest` that cost the most.
    pub fn infeasible_completion(&self, p: &Partial) -> Option<(Vec<HostId>, Blocks)> {
        // Ties go to the host whose name sorts first, whatever the file order.
        let mut rest: Vec<(i64, std::cmp::Reverse<usize>, HostId)> =
            Vec::with_capacity(p.rest.len());
        for unit in &self.units {
            let fixed: i64 = p.chosen.iter().map(|&h| unit.loss[h]).sum();
            if fixed + unit.top_prefix[p.m.min(self.nhosts)] <= unit.slack {
                continue; // not even the m largest of all hosts would do
            }
            rest.clear();
            rest.extend(
                p.rest
                    .iter()
                    .map(|&h| (unit.loss[h], std::cmp::Reverse(self.name_rank[h]), h)),
            );
            let top = top_m(&mut rest, p.m);
            let extra: i64 = top.iter().map(|x| x.0).sum();
            if fixed + extra > unit.slack {
                let mut set: Vec<HostId> = p.chosen.to_vec();
                set.extend(top.iter().map(|x| x.2));
                set.sort_unstable();
                let survivors: i64 = (0..self.nhosts)
                    .filter(|h| !set.contains(h))
                    .map(|h| unit.room[h])
                    .sum();
                let need = unit.slack_need + set.iter().map(|&h| unit.displaced[h]).sum::<i64>();
                return Some((
                    set,
                    Blocks {
                        res: unit.r,
                        unit: unit.u,
                        need,
                        have: survivors,
                    },
                ));
            }
        }
        None
    }

    /// Whether every completion of `p` is proved feasible. Never with rules
    /// beyond plain anti-affinity (`scenario::Rules`: caps above one,
    /// keep-together groups), which the sufficient condition does not
    /// model: those sets are decided one by one.
    pub fn all_feasible(&self, p: &Partial) -> bool {
        !self.beyond_plain && self.orders.iter().any(|o| o.proves(self, p))
    }

    /// Whether every failure set of size k is proved feasible.
    pub fn all_of_size(&self, candidates: &[HostId], k: usize) -> bool {
        self.all_feasible(&Partial {
            chosen: &[],
            rest: candidates,
            m: k,
        })
    }
}

/// Per resource, the greatest common divisor of every displaceable VM's
/// demand and every receiving host's spare (1 when there is none). Remaining
/// capacity is then always a multiple of it, so "less than d left" means "at
/// most d − grain left": the blocking amounts `c_t` grow by grain − 1.
fn grains(an: &Analysis) -> Vec<i64> {
    let pool = an.pool;
    let nres = pool.resources.len();
    let gcd = |mut a: i64, mut b: i64| {
        while b != 0 {
            (a, b) = (b, a % b);
        }
        a.abs()
    };
    (0..nres)
        .map(|r| {
            let mut g = 0i64;
            for &v in an.items.iter().flatten() {
                g = gcd(g, pool.vms[v].demand[r]);
            }
            for h in (0..pool.hosts.len()).filter(|&h| an.receives[h]) {
                g = gcd(g, an.spare[h][r]);
            }
            g.max(1)
        })
        .collect()
}

/// Per level `l` and resource `r`: the smallest ratio `d[r1] / d[r]` over
/// the displaceable VMs `vms` with `d[r1] >= l` and `d[r] > 0`, as
/// (numerator, denominator); (0, 0) when there is none. One sweep over the
/// VMs, largest in r1 first, levels from the top.
fn ratio_floors(pool: &Pool, vms: &[VmId], r1: usize, levels: &[i64]) -> Vec<Vec<(i64, i64)>> {
    let nres = pool.resources.len();
    let mut by_r1: Vec<&[i64]> = vms.iter().map(|&v| pool.vms[v].demand.as_slice()).collect();
    by_r1.sort_unstable_by(|a, b| b[r1].cmp(&a[r1]));
    let mut best: Vec<Option<(i64, i64)>> = vec![None; nres];
    let mut out = vec![Vec::new(); levels.len()];
    let mut next = by_r1.iter().peekable();
    for l in (0..levels.len()).rev() {
        while let Some(d) = next.next_if(|d| d[r1] >= levels[l]) {
            for r in 0..nres {
                if d[r] > 0 {
                    let better = best[r].is_none_or(|(n, m)| {
                        (d[r1] as i128) * (m as i128) < (n as i128) * (d[r] as i128)
                    });
                    if better {
                        best[r] = Some((d[r1], d[r]));
                    }
                }
            }
        }
        out[l] = best.iter().map(|b| b.unwrap_or((0, 0))).collect();
    }
    out
}

/// Eligibility classes of the displaceable VMs, computed once for every
/// ordering: per VM, which hosts it may restart on among those that receive
/// VMs, its own included (it has failed anyway).
struct EligClasses {
    class_of: Vec<usize>,
    masks: Vec<Vec<bool>>,
}

impl EligClasses {
    fn of(an: &Analysis) -> EligClasses {
        let nh = an.pool.hosts.len();
        let mut ids: HashMap<Vec<bool>, usize> = HashMap::new();
        let mut masks = Vec::new();
        let mut class_of = vec![usize::MAX; an.pool.vms.len()];
        let mut elig = vec![false; nh];
        for &v in an.items.iter().flatten() {
            elig.fill(false);
            for &t in &an.agility.targets[v] {
                elig[t] = an.receives[t];
            }
            let own = an.pool.vms[v].host;
            elig[own] = an.receives[own];
            class_of[v] = match ids.get(&elig) {
                Some(&id) => id,
                None => {
                    masks.push(elig.clone());
                    ids.insert(elig.clone(), masks.len() - 1);
                    masks.len() - 1
                }
            };
        }
        EligClasses { class_of, masks }
    }
}

/// The m largest entries, moved to the front.
fn top_m<T: Ord>(xs: &mut [T], m: usize) -> &[T] {
    let m = m.min(xs.len());
    if m == 0 {
        return &xs[..0];
    }
    if m < xs.len() {
        xs.select_nth_unstable_by(m - 1, |a, b| b.cmp(a));
    }
    &xs[..m]
}

fn top_sum(xs: &mut Vec<i64>, m: usize) -> i64 {
    let m = m.min(xs.len());
    if m == 0 {
        return 0;
    }
    if m < xs.len() {
        xs.select_nth_unstable_by(m - 1, |a, b| b.cmp(a));
    }
    xs[..m].iter().sum()
}

/// Size buckets per ordering resource, and eligibility classes per bucket
/// with a kind of their own (the rest share one): these bound the memory and
/// the time of the bounds, whatever the pool.
const MAX_LEVELS: usize = 24;
const MAX_CLASSES: usize = 4;
/// Ordering resources tried: the tightest ones.
const MAX_ORDERS: usize = 3;

impl Kind {
    #[allow(clippy::too_many_arguments)]
    fn new(
        an: &Analysis,
        ratios: &[(i64, i64)],
        r1: usize,
        lo: i64,
        hi: i64,
        level: usize,
        elig: &[bool],
        dmin: Vec<i64>,
        dmax: Vec<i64>,
        (gmax, gmin1): (i64, i64),
        grain: &[i64],
    ) -> Kind {
        let pool = an.pool;
        let nres = pool.resources.len();
        let nh = pool.hosts.len();
        let c = |h: HostId, r: usize| -> i64 {
            if elig[h] {
                (an.spare[h][r] - dmax[r] + grain[r]).max(0)
            } else {
                0
            }
        };
        let value: Vec<i64> = (0..nh)
            .map(|h| {
                c(h, r1).min(if elig[h] {
                    (an.spare[h][r1] - hi + grain[r1]).max(0)
                } else {
                    0
                })
            })
            .collect();
        let value_total = value.iter().sum();
        let knap = (0..nres)
            .filter(|&r| r != r1)
            .map(|r| {
                // The VMs placed before one of this kind are at least `lo` in
                // r1; each brings at least ρ = min(d[r1] / d[r]) of r1 per
                // unit of r. A host blocked in r so still holds ρ·c_t[r] of
                // r1: only the rest is taken out of the count.
                let (num, den) = ratios[r];
                let mut hs: Vec<(i64, i64)> = (0..nh)
                    .filter(|&h| value[h] > 0)
                    .map(|h| {
                        let cost = c(h, r);
                        let held = if den == 0 {
                            if cost > 0 { value[h] } else { 0 }
                        } else {
                            ((cost as i128 * num as i128) / den as i128).min(value[h] as i128)
                                as i64
                        };
                        (cost, value[h] - held)
                    })
                    .filter(|&(_, v)| v > 0)
                    .collect();
                // value/cost descending; zero cost first.
                hs.sort_by(|a, b| (b.1 as i128 * a.0 as i128).cmp(&(a.1 as i128 * b.0 as i128)));
                let mut k = Knapsack {
                    r,
                    cost_prefix: vec![0],
                    value_prefix: vec![0],
                    ..Default::default()
                };
                for (cost, val) in hs {
                    k.cost_prefix.push(k.cost_prefix.last().unwrap() + cost);
                    k.value_prefix.push(k.value_prefix.last().unwrap() + val);
                    k.cost.push(cost);
                    k.value.push(val);
                }
                k
            })
            .filter(|k| k.cost.len() > 0)
            .collect();
        let aa = if gmax > 1 {
            // A host blocked by a restarted peer holds that peer's r1 demand.
            let mut v: Vec<i64> = value.iter().map(|&x| (x - gmin1).max(0)).collect();
            top_sum(&mut v, gmax as usize - 1)
        } else {
            0
        };
        Kind {
            d1: lo,
            level,
            value,
            value_total,
            dmin,
            knap,
            aa,
        }
    }
}

impl Order {
    fn new(an: &Analysis, r1: usize, classes: &EligClasses) -> Order {
        let pool = an.pool;
        let nres = pool.resources.len();
        let nh = pool.hosts.len();
        let grain = grains(an);
        // Displaceable VMs: the items of every host.
        let all: Vec<VmId> = an.items.iter().flatten().copied().collect();
        // Size buckets in r1: at most MAX_LEVELS, each [lo, hi] of sizes.
        let mut sizes: Vec<i64> = all.iter().map(|&v| pool.vms[v].demand[r1]).collect();
        sizes.sort_unstable();
        let mut distinct = sizes.clone();
        distinct.dedup();
        let buckets: Vec<(i64, i64)> = if distinct.len() <= MAX_LEVELS {
            distinct.iter().map(|&d| (d, d)).collect()
        } else {
            // Quantile buckets over the VMs, so that busy sizes get their own.
            let mut out: Vec<(i64, i64)> = Vec::new();
            for q in 0..MAX_LEVELS {
                let lo = sizes[q * sizes.len() / MAX_LEVELS];
                let hi = sizes[((q + 1) * sizes.len() / MAX_LEVELS).max(1) - 1];
                match out.last_mut() {
                    Some(last) if lo <= last.1 => last.1 = last.1.max(hi),
                    _ => out.push((lo, hi)),
                }
            }
            out
        };
        let levels: Vec<i64> = buckets.iter().map(|b| b.0).collect();
        let bucket_of = |d: i64| levels.partition_point(|&l| l <= d) - 1;
        let ratios = ratio_floors(pool, &all, r1, &levels);
        let mut ge = vec![vec![0i64; nh * nres]; levels.len()];
        let mut ge_down = vec![vec![0i64; nres]; levels.len()];
        for &v in &all {
            let vm = &pool.vms[v];
            for li in 0..=bucket_of(vm.demand[r1]) {
                if pool.hosts[vm.host].state == HostState::Down {
                    for r in 0..nres {
                        ge_down[li][r] += vm.demand[r];
                    }
                } else {
                    for r in 0..nres {
                        ge[li][vm.host * nres + r] += vm.demand[r];
                    }
                }
            }
        }
        // Displaceable members per anti-affinity group, and the least r1
        // demand among them. A host with a peer running on it is outside the
        // VM's eligible hosts (agility), so only peers restarted before the
        // VM can block a host by anti-affinity: at most (members − 1) hosts,
        // each then holding at least that least r1 demand.
        let mut group_items: HashMap<u32, (i64, i64)> = HashMap::new();
        for &v in &all {
            let g = an.group_of[v];
            if g != NO_GROUP {
                let e = group_items.entry(g).or_insert((0, i64::MAX));
                e.0 += 1;
                e.1 = e.1.min(pool.vms[v].demand[r1]);
            }
        }
        // Eligibility classes (the agility targets, own host included since
        // it has failed anyway, among hosts that receive VMs), per bucket.
        struct Class {
            dmin: Vec<i64>,
            dmax: Vec<i64>,
            gmax: i64,
            gmin1: i64,
            count: usize,
        }
        let mut per_bucket: Vec<HashMap<usize, Class>> =
            (0..levels.len()).map(|_| HashMap::new()).collect();
        for &v in &all {
            let vm = &pool.vms[v];
            let elig = classes.class_of[v];
            let g = an.group_of[v];
            let (gsize, gmin1) = if g == NO_GROUP {
                (0, i64::MAX)
            } else {
                group_items[&g]
            };
            let c = per_bucket[bucket_of(vm.demand[r1])]
                .entry(elig)
                .or_insert_with(|| Class {
                    dmin: vm.demand.clone(),
                    dmax: vm.demand.clone(),
                    gmax: 0,
                    gmin1: i64::MAX,
                    count: 0,
                });
            for r in 0..nres {
                c.dmin[r] = c.dmin[r].min(vm.demand[r]);
                c.dmax[r] = c.dmax[r].max(vm.demand[r]);
            }
            c.gmax = c.gmax.max(gsize);
            c.gmin1 = c.gmin1.min(gmin1);
            c.count += 1;
        }
        let mut kinds = Vec::new();
        for (level, per_class) in per_bucket.into_iter().enumerate() {
            let (lo, hi) = buckets[level];
            let mut classes: Vec<(&[bool], Class)> = per_class
                .into_iter()
                .map(|(id, c)| (classes.masks[id].as_slice(), c))
                .collect();
            classes.sort_by(|a, b| b.1.count.cmp(&a.1.count).then_with(|| a.0.cmp(b.0)));
            // The largest classes keep kinds of their own; the rest share one
            // whose per-host values are the least of theirs (conservative).
            let mut groups: Vec<Vec<(&[bool], Class)>> = Vec::new();
            for (i, c) in classes.into_iter().enumerate() {
                if i < MAX_CLASSES {
                    groups.push(vec![c]);
                } else {
                    groups.last_mut().expect("MAX_CLASSES > 0").push(c);
                }
            }
            for group in groups {
                let mut dmin = group[0].1.dmin.clone();
                let mut dmax = group[0].1.dmax.clone();
                let mut gmax = 0;
                let mut gmin1 = i64::MAX;
                for (_, c) in &group {
                    gmin1 = gmin1.min(c.gmin1);
                    for r in 0..nres {
                        dmin[r] = dmin[r].min(c.dmin[r]);
                        dmax[r] = dmax[r].max(c.dmax[r]);
                    }
                    gmax = gmax.max(c.gmax);
                }
                let elig: Vec<bool> = (0..nh).map(|t| group.iter().all(|(e, _)| e[t])).collect();
                kinds.push(Kind::new(
                    an,
                    &ratios[level],
                    r1,
                    lo,
                    hi,
                    level,
                    &elig,
                    dmin,
                    dmax,
                    (gmax, gmin1),
                    &grain,
                ));
            }
        }
        Order {
            r1,
            levels,
            ge,
            ge_down,
            kinds,
        }
    }

    /// Whether FFD by this resource provably succeeds on every completion.
    fn proves(&self, sb: &SetBounds, p: &Partial) -> bool {
        let nres = sb.nres;
        let r1 = self.r1;
        let mut scratch: Vec<i64> = Vec::with_capacity(p.rest.len());
        // Budgets per (level, resource): the most demand of VMs at least that
        // large in r1 that any completion displaces.
        let mut budget_cache: HashMap<(usize, usize), i64> = HashMap::new();
        let mut budget = |level: usize, r: usize, scratch: &mut Vec<i64>| -> i64 {
            *budget_cache.entry((level, r)).or_insert_with(|| {
                let g = &self.ge[level];
                let fixed: i64 = p.chosen.iter().map(|&h| g[h * nres + r]).sum();
                scratch.clear();
                scratch.extend(p.rest.iter().map(|&h| g[h * nres + r]));
                self.ge_down[level][r] + fixed + top_sum(scratch, p.m)
            })
        };
        for kind in &self.kinds {
            let g = &self.ge[kind.level];
            // Σ over F of (value + ge[r1]): fixed part and the worst rest.
            let fixed: i64 = p
                .chosen
                .iter()
                .map(|&h| kind.value[h] + g[h * nres + r1])
                .sum();
            scratch.clear();
            scratch.extend(p.rest.iter().map(|&h| kind.value[h] + g[h * nres + r1]));
            let worst = fixed + top_sum(&mut scratch, p.m) + self.ge_down[kind.level][r1];
            // Saturating: with many resources the sum of knapsacks may pass
            // i64, and a larger `removed` only weakens the claim.
            let mut removed = kind.aa;
            for k in &kind.knap {
                let y = budget(kind.level, k.r, &mut scratch) - kind.dmin[k.r];
                removed = removed.saturating_add(k.best(y));
            }
            // value_total − Σ_F value − removed > Σ_F ge[r1] + ge_down − d1
            if kind.value_total as i128 - removed as i128 - worst as i128 + kind.d1 as i128 <= 0 {
                return false;
            }
        }
        let _ = sb.nhosts;
        true
    }
}
