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
        for &t in &inst.elig[i] {
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
