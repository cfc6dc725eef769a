//! Greedy packings: fast, and a packing found proves feasibility. A failure
//! proves nothing.

use super::{Instance, NO_GROUP, fits, size_keys};

#[derive(Clone, Copy)]
enum Rule {
    /// The first eligible target (in target order) with room.
    FirstFit,
    /// The eligible target left with the least normalised slack.
    BestFit,
    /// The eligible target left with the most normalised slack.
    WorstFit,
}

/// Tries a few item orders and placement rules; returns the first packing found.
pub fn pack(inst: &Instance) -> Option<Vec<u32>> {
    let keys = size_keys(inst);
    let mut by_size: Vec<usize> = (0..inst.items()).collect();
    by_size.sort_by(|&a, &b| keys[b].total_cmp(&keys[a]).then(a.cmp(&b)));
    let mut by_choice = by_size.clone();
    by_choice.sort_by_key(|&i| inst.elig[i].len());
    let scale = scales(inst);
    for (order, rule) in [
        (&by_size, Rule::FirstFit),
        (&by_size, Rule::BestFit),
        (&by_choice, Rule::BestFit),
        (&by_size, Rule::WorstFit),
    ] {
        if let Some(a) = place(inst, order, rule, &scale) {
            return Some(a);
        }
    }
    None
}

/// Places items one by one in `order` into the given remaining capacity;
/// returns the targets, or `None` when some item finds no room.
pub fn place_into(
    inst: &Instance,
    order: &[usize],
    rem: &mut [i64],
    used: &mut GroupsUsed,
) -> Option<Vec<u32>> {
    let mut assign = vec![u32::MAX; inst.items()];
    for &i in order {
        let t = inst.elig[i]
            .iter()
            .copied()
            .find(|&t| fits(inst, rem, i, t as usize) && used.free(inst.group[i], t))?;
        commit(inst, rem, used, i, t, &mut assign);
    }
    Some(assign)
}

fn place(inst: &Instance, order: &[usize], rule: Rule, scale: &[f64]) -> Option<Vec<u32>> {
    let nres = inst.nres;
    let mut rem = inst.cap.clone();
    let mut used = GroupsUsed::default();
    let mut assign = vec![u32::MAX; inst.items()];
    for &i in order {
        let mut best: Option<(f64, u32)> = None;
        for &t in &inst.elig[i] {
            let tu = t as usize;
            if !fits(inst, &rem, i, tu) || !used.free(inst.group[i], t) {
                continue;
            }
            if let Rule::FirstFit = rule {
                best = Some((0.0, t));
                break;
            }
            let slack: f64 = (0..nres)
                .map(|r| (rem[tu * nres + r] - inst.demand[i * nres + r]) as f64 * scale[r])
                .sum();
            let key = match rule {
                Rule::BestFit => slack,
                _ => -slack,
            };
            if best.is_none_or(|(k, _)| key < k) {
                best = Some((key, t));
            }
        }
        let (_, t) = best?;
        commit(inst, &mut rem, &mut used, i, t, &mut assign);
    }
    Some(assign)
}

fn commit(
    inst: &Instance,
    rem: &mut [i64],
    used: &mut GroupsUsed,
    i: usize,
    t: u32,
    assign: &mut [u32],
) {
    let nres = inst.nres;
    for r in 0..nres {
        rem[t as usize * nres + r] -= inst.demand[i * nres + r];
    }
    used.take(inst.group[i], t);
    assign[i] = t;
}

/// 1 / total capacity per resource, so that resources weigh alike.
fn scales(inst: &Instance) -> Vec<f64> {
    (0..inst.nres)
        .map(|r| {
            let total: i64 = (0..inst.targets())
                .map(|t| inst.cap[t * inst.nres + r].max(0))
                .sum();
            if total > 0 { 1.0 / total as f64 } else { 0.0 }
        })
        .collect()
}

/// Which (anti-affinity group, target) pairs are taken.
#[derive(Default, Clone)]
pub struct GroupsUsed(std::collections::HashSet<(u32, u32)>);

impl GroupsUsed {
    pub fn free(&self, g: u32, t: u32) -> bool {
        g == NO_GROUP || !self.0.contains(&(g, t))
    }
    pub fn take(&mut self, g: u32, t: u32) {
        if g != NO_GROUP {
            self.0.insert((g, t));
        }
    }
}
