//! Necessary conditions: cheap checks whose failure proves infeasibility.
//! They look at the instance's items one rule at a time, so rules they do
//! not model only make them weaker, never wrong.

use super::{Infeasible, Instance, NO_GROUP, fits};

/// Slot sizes tried per resource (the largest VM sizes).
const MAX_SLOT_SIZES: usize = 16;

/// The first necessary condition that fails, if any.
pub fn necessary(inst: &Instance) -> Option<Infeasible> {
    let nres = inst.nres;
    // Every item needs a target with room for it alone.
    let mut usable = vec![false; inst.targets()];
    for i in 0..inst.items() {
        let mut any = false;
        for &t in inst.elig[i].iter() {
            if fits(inst, &inst.cap, i, t as usize) {
                usable[t as usize] = true;
                any = true;
            }
        }
        if !any {
            return Some(Infeasible::NoTarget { item: i });
        }
    }
    // Per resource, total demand within the spare of the targets some item can use.
    for r in 0..nres {
        let need: i64 = (0..inst.items()).map(|i| inst.demand[i * nres + r]).sum();
        let have: i64 = (0..inst.targets())
            .filter(|&t| usable[t])
            .map(|t| inst.cap[t * nres + r].max(0))
            .sum();
        if need > have {
            return Some(Infeasible::Short { res: r, need, have });
        }
    }
    // Whole slots: with f(x) = floor(x / u) (superadditive), every packing
    // has Σ_items f(d) <= Σ_targets f(cap). Tried for the largest sizes u.
    for r in 0..nres {
        let mut sizes: Vec<i64> = (0..inst.items())
            .map(|i| inst.demand[i * nres + r])
            .filter(|&d| d > 1)
            .collect();
        sizes.sort_unstable_by(|a, b| b.cmp(a));
        sizes.dedup();
        for &u in sizes.iter().take(MAX_SLOT_SIZES) {
            let need: i64 = (0..inst.items())
                .map(|i| inst.demand[i * nres + r] / u)
                .sum();
            let have: i64 = (0..inst.targets())
                .filter(|&t| usable[t])
                .map(|t| inst.cap[t * nres + r].max(0) / u)
                .sum();
            if need > have {
                return Some(Infeasible::Blocks {
                    res: r,
                    unit: u,
                    need,
                    have,
                });
            }
        }
    }
    // An anti-affinity group needs as many distinct targets as members.
    let groups = inst.groups();
    if groups > 0 {
        let mut members = vec![0usize; groups];
        let mut targets = vec![Vec::<u32>::new(); groups];
        for i in 0..inst.items() {
            let g = inst.group[i];
            if g != NO_GROUP {
                members[g as usize] += 1;
                targets[g as usize].extend(
                    inst.elig[i]
                        .iter()
                        .copied()
                        .filter(|&t| fits(inst, &inst.cap, i, t as usize)),
                );
            }
        }
        for g in 0..groups {
            let ts = &mut targets[g];
            ts.sort_unstable();
            ts.dedup();
            if members[g] > ts.len() {
                return Some(Infeasible::AntiAffinity {
                    group: g as u32,
                    members: members[g],
                    targets: ts.len(),
                });
            }
        }
    }
    // An apart rule needs room for its members on the targets its items
    // can use.
    for (rule, a) in inst.apart.iter().enumerate() {
        let members: u64 = a.items.iter().map(|&(_, w)| w as u64).sum();
        let mut ts: Vec<u32> = a
            .items
            .iter()
            .flat_map(|&(i, _)| {
                let i = i as usize;
                inst.elig[i]
                    .iter()
                    .copied()
                    .filter(move |&t| fits(inst, &inst.cap, i, t as usize))
            })
            .collect();
        ts.sort_unstable();
        ts.dedup();
        let room: u64 = ts.iter().map(|&t| a.room[t as usize] as u64).sum();
        if members > room {
            return Some(Infeasible::Apart {
                rule,
                members,
                room,
            });
        }
    }
    None
}

/// Bits of one fill table: spares are counted in units coarse enough that
/// the largest fits.
const FILL_BITS: i64 = 1 << 14;
/// Table words the fill bound may update, over every resource; targets
/// beyond it count their whole spare (sound, only weaker).
const FILL_EFFORT: u64 = 1 << 24;

/// The fill bound, for instances the cheap conditions and the greedy
/// packings leave open: per resource r and a unit u, with f(x) = ⌊x / u⌋
/// (superadditive), the items a packing puts on target t have f-sizes
/// summing to at most ⌊cap / u⌋, so to at most `fill(t)`, the largest
/// subset sum of the f-sizes of the items that may go to t (eligible, and
/// fitting alone in every resource) that is ⌊cap / u⌋ or less. Summed over
/// the targets, that must hold the items' f-sizes. The unit is the gcd of
/// the demands (exact: no rounding), made coarser when the largest spare
/// would need more than [`FILL_BITS`] units. Anti-affinity, apart rules
/// and the other resources are ignored, and an item is counted on every
/// target it may go to: each only makes the bound weaker.
pub fn fill(inst: &Instance) -> Option<Infeasible> {
    let (n, m, nres) = (inst.items(), inst.targets(), inst.nres);
    // A negative demand would give room back, and an item that does not fit
    // a target alone might fit it beside one: no bound then.
    if n == 0 || m == 0 || inst.demand.iter().any(|&d| d < 0) {
        return None;
    }
    // The items that may go to each target, and the targets grouped by them.
    let mut on: Vec<Vec<u32>> = vec![Vec::new(); m];
    for i in 0..n {
        for &t in inst.elig[i].iter() {
            if fits(inst, &inst.cap, i, t as usize) {
                on[t as usize].push(i as u32);
            }
        }
    }
    let mut order: Vec<usize> = (0..m).filter(|&t| !on[t].is_empty()).collect();
    order.sort_by(|&a, &b| on[a].cmp(&on[b]).then(a.cmp(&b)));
    let mut table = Vec::new();
    let mut effort: u64 = 0;
    for r in 0..nres {
        let demand = |i: usize| inst.demand[i * nres + r];
        let spare = |t: usize| inst.cap[t * nres + r].max(0);
        let g = (0..n).map(demand).fold(0, gcd);
        let most = order.iter().map(|&t| spare(t)).max().unwrap_or(0);
        if g == 0 || most == 0 {
            continue;
        }
        let unit = g.saturating_mul(((most / g + FILL_BITS - 1) / FILL_BITS).max(1));
        let need: i64 = (0..n).map(|i| demand(i) / unit).sum();
        let mut have: i64 = 0;
        for group in order.chunk_by(|&a, &b| on[a] == on[b]) {
            let items = &on[group[0]];
            let top = group.iter().map(|&t| spare(t) / unit).max().unwrap_or(0);
            let sizes: Vec<i64> = items
                .iter()
                .map(|&i| demand(i as usize) / unit)
                .filter(|&s| s > 0 && s <= top)
                .collect();
            let sum: i64 = sizes.iter().sum();
            let words = (top / 64 + 1) as u64;
            if sum <= top || effort + words * sizes.len() as u64 > FILL_EFFORT {
                have += group
                    .iter()
                    .map(|&t| (spare(t) / unit).min(sum))
                    .sum::<i64>();
            } else {
                effort += words * sizes.len() as u64;
                subset_sums(&sizes, top as usize, &mut table);
                have += group
                    .iter()
                    .map(|&t| largest_at_most(&table, (spare(t) / unit) as usize) as i64)
                    .sum::<i64>();
            }
            if have >= need {
                break;
            }
        }
        if need > have {
            return Some(Infeasible::Fill {
                res: r,
                unit,
                need,
                have,
            });
        }
    }
    None
}

fn gcd(a: i64, b: i64) -> i64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// The subset sums of `sizes` up to `top` (at least), as a bit table: the
/// bit s of `table` is set when some subset sums to s. Equal sizes are
/// taken in binary lots (1, 2, 4, ..., the rest), which reach the same sums.
fn subset_sums(sizes: &[i64], top: usize, table: &mut Vec<u64>) {
    let words = top / 64 + 1;
    table.clear();
    table.resize(words, 0);
    table[0] = 1;
    let mut sorted = sizes.to_vec();
    sorted.sort_unstable();
    for run in sorted.chunk_by(|a, b| a == b) {
        let (size, mut count) = (run[0] as usize, run.len());
        let mut lot = 1;
        while count > 0 {
            let take = lot.min(count);
            count -= take;
            lot *= 2;
            let w = size.saturating_mul(take);
            if w > top {
                continue;
            }
            let (ws, bs) = (w / 64, w % 64);
            for k in (ws..words).rev() {
                let mut v = table[k - ws] << bs;
                if bs > 0 && k > ws {
                    v |= table[k - ws - 1] >> (64 - bs);
                }
                table[k] |= v;
            }
        }
    }
}

/// The largest sum the bit table reaches that is at most `cap`.
fn largest_at_most(table: &[u64], cap: usize) -> usize {
    let mut k = cap / 64;
    let mut word = table[k] & (u64::MAX >> (63 - cap % 64));
    loop {
        if word != 0 {
            return k * 64 + 63 - word.leading_zeros() as usize;
        }
        if k == 0 {
            return 0;
        }
        k -= 1;
        word = table[k];
    }
}
