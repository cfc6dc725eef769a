//! Greedy packings: fast, and a packing found proves feasibility. A failure
//! proves nothing.

use super::{Instance, NO_GROUP, fits, size_keys};

#[derive(Clone, Copy)]
#[allow(clippy::enum_variant_names, reason = "the rules' usual names")]
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
    let orders = Orders::new(inst, &keys);
    let scale = scales(inst);
    orders
        .attempts()
        .find_map(|(order, rule)| place(inst, order, rule, &scale))
}

/// The item orders the greedy rules try: largest first, and fewest eligible
/// targets first (largest first among equals).
struct Orders {
    by_size: Vec<usize>,
    by_choice: Vec<usize>,
}

impl Orders {
    fn new(inst: &Instance, keys: &[f64]) -> Orders {
        let mut by_size: Vec<usize> = (0..inst.items()).collect();
        by_size.sort_by(|&a, &b| keys[b].total_cmp(&keys[a]).then(a.cmp(&b)));
        let mut by_choice = by_size.clone();
        by_choice.sort_by_key(|&i| inst.elig[i].len());
        Orders { by_size, by_choice }
    }

    /// The (order, rule) pairs [`pack`] tries, in turn.
    fn attempts(&self) -> impl Iterator<Item = (&[usize], Rule)> {
        [
            (&self.by_size, Rule::FirstFit),
            (&self.by_size, Rule::BestFit),
            (&self.by_choice, Rule::BestFit),
            (&self.by_size, Rule::WorstFit),
        ]
        .into_iter()
        .map(|(order, rule)| (order.as_slice(), rule))
    }
}

/// Places items one by one in `order` into the given remaining capacity;
/// returns the targets, or `None` when some item finds no room.
#[cfg(test)]
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
            .find(|&t| fits(inst, rem, i, t as usize) && used.allows(inst, i, t))?;
        commit(inst, rem, used, i, t, &mut assign);
    }
    Some(assign)
}

/// How much of `inst` the greedy rules of [`pack`] leave unplaced, the
/// least over the rules: the summed size keys of the items that find no
/// room when the others are placed on (0 when a rule packs everything). A
/// measure of how near the instance is to infeasible; it proves nothing.
pub(crate) fn shortfall(inst: &Instance) -> f64 {
    let keys = size_keys(inst);
    let orders = Orders::new(inst, &keys);
    let scale = scales(inst);
    let mut least = f64::INFINITY;
    for (order, rule) in orders.attempts() {
        let mut missed = 0.0;
        place_with(inst, order, rule, &scale, |i| {
            missed += keys[i];
            true
        });
        least = least.min(missed);
        if least == 0.0 {
            break;
        }
    }
    least
}

fn place(inst: &Instance, order: &[usize], rule: Rule, scale: &[f64]) -> Option<Vec<u32>> {
    place_with(inst, order, rule, scale, |_| false)
}

/// Places items in `order` by `rule`; an item with no room is passed to
/// `missed`, which says whether to go on without it (else `None`).
fn place_with(
    inst: &Instance,
    order: &[usize],
    rule: Rule,
    scale: &[f64],
    mut missed: impl FnMut(usize) -> bool,
) -> Option<Vec<u32>> {
    let nres = inst.nres;
    let mut rem = inst.cap.clone();
    let mut used = GroupsUsed::for_instance(inst);
    let mut assign = vec![u32::MAX; inst.items()];
    for &i in order {
        let mut best: Option<(f64, u32)> = None;
        for &t in inst.elig[i].iter() {
            let tu = t as usize;
            if !fits(inst, &rem, i, tu) || !used.allows(inst, i, t) {
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
        let Some((_, t)) = best else {
            if missed(i) {
                continue;
            }
            return None;
        };
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
    used.take_item(inst, i, t);
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

/// Which (anti-affinity group, target) pairs are taken, and how many
/// members of each apart rule each target runs, as items are placed one
/// by one. `default()` knows no apart rules: use
/// [`GroupsUsed::for_instance`] for an instance that has some.
#[derive(Default, Clone)]
pub struct GroupsUsed(std::collections::HashSet<(u32, u32)>, ApartLoad);

impl GroupsUsed {
    /// Nothing placed yet on the targets of `inst`.
    pub fn for_instance(inst: &Instance) -> GroupsUsed {
        GroupsUsed(Default::default(), ApartLoad::new(inst))
    }
    pub fn free(&self, g: u32, t: u32) -> bool {
        g == NO_GROUP || !self.0.contains(&(g, t))
    }
    pub fn take(&mut self, g: u32, t: u32) {
        if g != NO_GROUP {
            self.0.insert((g, t));
        }
    }
    /// Whether item `i` may join target `t`: its anti-affinity group is not
    /// there, and every apart rule of it has room for it there.
    pub fn allows(&self, inst: &Instance, i: usize, t: u32) -> bool {
        self.free(inst.group[i], t) && self.1.allows(inst, i, t as usize)
    }
    /// Item `i` joins target `t`.
    pub fn take_item(&mut self, inst: &Instance, i: usize, t: u32) {
        self.take(inst.group[i], t);
        self.1.add(i, t as usize, 1);
    }
    /// Item `i`, placed on target `t`, leaves it (a group has at most one
    /// member on a target, so its pair is free again).
    pub fn release_item(&mut self, inst: &Instance, i: usize, t: u32) {
        self.0.remove(&(inst.group[i], t));
        self.1.add(i, t as usize, -1);
    }
}

/// How many members of each apart rule of an instance each target runs.
#[derive(Default, Clone, Debug)]
pub struct ApartLoad {
    /// Per item, `(rule, weight)`; empty when the instance has no rule.
    of: Vec<Vec<(u32, u32)>>,
    /// `[rule * targets + t]`.
    used: Vec<u32>,
    targets: usize,
}

impl ApartLoad {
    pub fn new(inst: &Instance) -> ApartLoad {
        let targets = inst.targets();
        ApartLoad {
            of: inst.apart_of(),
            used: vec![0; inst.apart.len() * targets],
            targets,
        }
    }

    /// Whether every apart rule of item `i` has room for it on `t`.
    #[inline]
    pub fn allows(&self, inst: &Instance, i: usize, t: usize) -> bool {
        self.of.is_empty()
            || self.of[i].iter().all(|&(a, w)| {
                self.used[a as usize * self.targets + t] + w <= inst.apart[a as usize].room[t]
            })
    }

    /// Item `i` joins (`sign` 1) or leaves (`sign` -1) target `t`.
    #[inline]
    pub fn add(&mut self, i: usize, t: usize, sign: i32) {
        if self.of.is_empty() {
            return;
        }
        for &(a, w) in &self.of[i] {
            let u = &mut self.used[a as usize * self.targets + t];
            *u = (*u as i64 + sign as i64 * w as i64) as u32;
        }
    }

    /// Whether two targets have the same room left in every apart rule.
    #[inline]
    pub fn same_room(&self, inst: &Instance, a: usize, b: usize) -> bool {
        inst.apart.iter().enumerate().all(|(r, rule)| {
            rule.room[a] - self.used[r * self.targets + a]
                == rule.room[b] - self.used[r * self.targets + b]
        })
    }
}
