//! Placements: the one that leaves room for planned restarts
//! (`reserved_placement`) and the greedy orders.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::*;

/// [`Ctx::reserved_placement`] plans the restarts of VMs with fewer places
/// to go than this first.
const FEW_TARGETS: usize = 8;

/// [`Ctx::reserved_placement`] looks at most at this many of the hosts a
/// restart may go to (so that its cost grows with the VMs, not with VMs
/// times hosts).
const WINDOW: usize = 64;

/// Resolution of the proportional order's shares.
const PROPORTION: u64 = 1 << 20;

impl Ctx<'_, '_> {
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
    pub(super) fn reserved_placement(&self) -> Vec<u32> {
        let an = self.an;
        let pool = self.pool;
        let nh = pool.hosts.len();
        let nres = self.d.len();
        let k = self.k as usize;
        if k == 0 || !self.failover {
            return self.room.clone();
        }
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
        // New VMs host t holds with `res(r)` of each resource kept back
        // for restarts.
        let kept = |t: HostId, res: &dyn Fn(usize) -> i64| -> u64 {
            slots(&self.d, |r| an.spare[t][r] - res(r)).min(self.room[t] as u64)
        };
        // New VMs each host holds with what it keeps back now (asked of
        // every host each restart weighs: kept, not made again).
        let mut base: Vec<u64> = (0..nh).map(|t| kept(t, &|r| reserved[t][r])).collect();
        // What host t keeps back once this failure's load there is `l`:
        // the K largest loads of different failures, `l` among them.
        let after = |list: &[i64], sum: i64, l: i64| -> i64 {
            match list.get(k - 1) {
                Some(&last) => sum - last + last.max(l),
                None => sum + l,
            }
        };
        let targets = &an.agility.targets;
        // Only whether fewer than FEW_TARGETS matters.
        let alt: Vec<usize> = (0..pool.vms.len())
            .map(|v| {
                targets
                    .of(v)
                    .filter(|&t| an.receives[t])
                    .take(FEW_TARGETS)
                    .count()
            })
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
                // Of the hosts it may go to, at most WINDOW looked at,
                // from a start that differs per VM (all of them, and the
                // same choice whatever the start, where no more fit).
                let best = targets
                    .of_from(v, v.wrapping_mul(7919))
                    .filter(|&t| t != h && an.receives[t])
                    .filter(|&t| (0..nres).all(|r| load[t][r] + dv[r] <= an.spare[t][r]))
                    .filter(|&t| g == pack::NO_GROUP || !groups.contains(&(g, t)))
                    .take(WINDOW)
                    .min_by_key(|&t| {
                        let res = |r: usize| after(&top[t][r], reserved[t][r], load[t][r] + dv[r]);
                        let covered = (0..nres).all(|r| res(r) <= reserved[t][r]);
                        // New VMs this restart costs the host, and what is
                        // left after it.
                        let left =
                            slots(&self.d, |r| an.spare[t][r] - res(r)).min(self.room[t] as u64);
                        let cost = base[t] - left;
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
                base[t] = kept(t, &|r| reserved[t][r]);
            }
        }
        let mut x: Vec<u32> = base.iter().map(|&n| n as u32).collect();
        // The new VMs of the K fullest hosts restart in what is left.
        let free = |x: &[u32]| -> u64 {
            (0..nh)
                .filter(|&t| an.receives[t] && self.target[t])
                .map(|t| {
                    slots(&self.d, |r| {
                        an.spare[t][r] - reserved[t][r] - x[t] as i64 * self.d[r]
                    })
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
            // The fullest host, the first of equals, each time (a heap:
            // a step may take many VMs off many hosts).
            let mut fullest: BinaryHeap<(u32, Reverse<HostId>)> =
                (0..nh).map(|h| (x[h], Reverse(h))).collect();
            for _ in 0..step {
                let (_, Reverse(h)) = fullest.pop().expect("a host");
                x[h] -= 1;
                fullest.push((x[h], Reverse(h)));
            }
            budget -= step;
        }
        x
    }

    /// One host per class of interchangeable hosts with room left: the
    /// first of the class with the fewest new VMs in `x`.
    pub(super) fn representatives(&self, x: &[u32]) -> Vec<HostId> {
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
    pub(super) fn sequence(&self, order: Order, limit: u32) -> Vec<HostId> {
        let mut x = vec![0u32; self.pool.hosts.len()];
        self.fill(order, &mut x, &self.room, limit)
    }

    /// [`Ctx::sequence`] from the counts `x` (updated), each host up to
    /// `cap` (at most its room), until `limit` entries in all.
    pub(super) fn fill(&self, order: Order, x: &mut [u32], cap: &[u32], limit: u32) -> Vec<HostId> {
        picks(x, cap, limit, |h, xh| fill_key(order, self.room[h], h, xh))
    }
}

/// How many VMs of demand `d` fit in `left(r)` of each resource r (0 when
/// `d` needs nothing).
fn slots(d: &[i64], left: impl Fn(usize) -> i64) -> u64 {
    (0..d.len())
        .filter(|&r| d[r] > 0)
        .map(|r| (left(r).max(0) / d[r]) as u64)
        .min()
        .unwrap_or(0)
}

/// The rank of host `h` (room `room`, `xh` new VMs so far) in the greedy
/// order `order`: the host of least rank takes the next new VM.
fn fill_key(order: Order, room: u32, h: HostId, xh: u32) -> (u64, u64, HostId) {
    let left = room.saturating_sub(xh) as u64;
    match order {
        Order::MostRoom => (u64::MAX - left, xh as u64, h),
        // x / room, compared exactly: x[h] * room[o] vs x[o] * room[h].
        Order::Proportional => ((xh as u64 * PROPORTION) / room as u64, u64::MAX - left, h),
    }
}

/// One host per new VM while the counts `x` (updated) total less than
/// `limit`: each time the host below its cap with the least
/// `key(h, x[h])` (keys are distinct). A host's key depends on its own
/// count alone, so a heap of the hosts below their cap gives the pick of a
/// scan of every host in a logarithm of their number: a fill of many new
/// VMs on many hosts is fast, not their product.
fn picks<K: Ord>(
    x: &mut [u32],
    cap: &[u32],
    limit: u32,
    key: impl Fn(HostId, u32) -> K,
) -> Vec<HostId> {
    let mut heap: BinaryHeap<Reverse<(K, HostId)>> = (0..x.len())
        .filter(|&h| x[h] < cap[h])
        .map(|h| Reverse((key(h, x[h]), h)))
        .collect();
    let mut out = Vec::new();
    let mut placed = total(x);
    while placed < limit {
        let Some(Reverse((_, h))) = heap.pop() else {
            break;
        };
        x[h] += 1;
        placed += 1;
        out.push(h);
        if x[h] < cap[h] {
            heap.push(Reverse((key(h, x[h]), h)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The pick of a scan of every host, as the fill was first written.
    fn picks_by_scan(
        x: &mut [u32],
        cap: &[u32],
        limit: u32,
        key: impl Fn(HostId, u32) -> (u64, u64, HostId),
    ) -> Vec<HostId> {
        let mut out = Vec::new();
        let mut placed = total(x);
        while placed < limit {
            let Some(h) = (0..x.len())
                .filter(|&h| x[h] < cap[h])
                .min_by_key(|&h| key(h, x[h]))
            else {
                break;
            };
            x[h] += 1;
            placed += 1;
            out.push(h);
        }
        out
    }

    proptest! {
        #[test]
        fn the_heap_picks_the_hosts_a_scan_picks(
            hosts in proptest::collection::vec((1u32..12, 0u32..12, 0u32..4), 1..12),
            limit in 0u32..80,
            proportional in any::<bool>(),
        ) {
            let order = if proportional { Order::Proportional } else { Order::MostRoom };
            // Per host: its room, its cap (at most its room), its count so far (at most its cap).
            let room: Vec<u32> = hosts.iter().map(|h| h.0).collect();
            let cap: Vec<u32> = hosts.iter().map(|h| h.1.min(h.0)).collect();
            let x0: Vec<u32> = hosts.iter().zip(&cap).map(|(h, &c)| h.2.min(c)).collect();
            let key = |h: HostId, xh: u32| fill_key(order, room[h], h, xh);
            let (mut a, mut b) = (x0.clone(), x0.clone());
            let fast = picks(&mut a, &cap, limit, key);
            let scan = picks_by_scan(&mut b, &cap, limit, key);
            prop_assert_eq!(fast, scan);
            prop_assert_eq!(a, b);
        }
    }
}
