//! Exact depth-first search over packings.
//!
//! Items go largest first. Two symmetries are broken, both soundly (a
//! solution exists in a pruned branch only if one exists in a kept branch):
//! - identical items (same demand, targets, group and apart rules) take
//!   targets in non-decreasing order (strictly increasing within an
//!   anti-affinity group);
//! - at one node, a target is skipped when an already tried target has the
//!   same eligibility for every item, the same remaining capacity, the same
//!   room left in every apart rule and no anti-affinity group taken on
//!   either.
//!
//! A node is cut when some resource's remaining demand exceeds the remaining
//! capacity of all targets.

use std::collections::HashMap;

use super::greedy::ApartLoad;
use super::{Budget, Instance, NO_GROUP, fits, size_keys};

pub enum Outcome {
    Found(Vec<u32>),
    /// Every packing was ruled out: infeasible.
    Exhausted,
    /// The node budget, the deadline or a cancel stopped the search.
    Stopped,
}

struct Search<'a> {
    inst: &'a Instance,
    budget: &'a Budget<'a>,
    max_nodes: u64,
    nodes: u64,
    order: Vec<usize>,
    /// `same[k]`: item `order[k]` is identical to `order[k - 1]`.
    same: Vec<bool>,
    /// Remaining demand of `order[k..]`, per resource: `[k * nres + r]`.
    need: Vec<i64>,
    class: Vec<u32>,
    rem: Vec<i64>,
    capsum: Vec<i64>,
    groups_on: Vec<u32>,
    taken: Vec<bool>,
    groups: usize,
    apart: ApartLoad,
    assign: Vec<u32>,
    stopped: bool,
}

pub fn solve(inst: &Instance, budget: &Budget, max_nodes: u64) -> Outcome {
    let n = inst.items();
    let nres = inst.nres;
    let keys = size_keys(inst);
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| {
        keys[b]
            .total_cmp(&keys[a])
            .then(inst.demand(b).cmp(inst.demand(a)))
            .then(inst.elig[a].len().cmp(&inst.elig[b].len()))
            .then(inst.elig[a].cmp(&inst.elig[b]))
            .then(inst.group[a].cmp(&inst.group[b]))
            .then(a.cmp(&b))
    });
    let apart_of = inst.apart_of();
    let same: Vec<bool> = (0..n)
        .map(|k| {
            k > 0 && {
                let (a, b) = (order[k - 1], order[k]);
                inst.demand(a) == inst.demand(b)
                    && inst.elig[a] == inst.elig[b]
                    && inst.group[a] == inst.group[b]
                    && (apart_of.is_empty() || apart_of[a] == apart_of[b])
            }
        })
        .collect();
    let mut need = vec![0i64; (n + 1) * nres];
    for k in (0..n).rev() {
        for r in 0..nres {
            need[k * nres + r] = need[(k + 1) * nres + r] + inst.demand[order[k] * nres + r];
        }
    }
    // Targets with the same set of eligible items share a class.
    let targets = inst.targets();
    let mut cols: Vec<Vec<u32>> = vec![Vec::new(); targets];
    for i in 0..n {
        for &t in inst.elig[i].iter() {
            cols[t as usize].push(i as u32);
        }
    }
    let mut ids: HashMap<&[u32], u32> = HashMap::new();
    let class: Vec<u32> = cols
        .iter()
        .map(|c| {
            let next = ids.len() as u32;
            *ids.entry(c.as_slice()).or_insert(next)
        })
        .collect();
    let mut capsum = vec![0i64; nres];
    for t in 0..targets {
        for r in 0..nres {
            capsum[r] += inst.cap[t * nres + r].max(0);
        }
    }
    let groups = inst.groups();
    let mut s = Search {
        inst,
        budget,
        max_nodes,
        nodes: 0,
        order,
        same,
        need,
        class,
        rem: inst.cap.clone(),
        capsum,
        groups_on: vec![0; targets],
        taken: vec![false; groups * targets],
        groups,
        apart: ApartLoad::new(inst),
        assign: vec![u32::MAX; n],
        stopped: false,
    };
    if s.dfs() {
        Outcome::Found(s.assign)
    } else if s.stopped {
        Outcome::Stopped
    } else {
        Outcome::Exhausted
    }
}

/// One level of the search: item `order[k]` and the targets it tried.
struct Frame {
    k: usize,
    i: usize,
    min_t: u32,
    /// The next index into the item's targets to try.
    next: usize,
    /// Targets tried at this node (for the symmetry between targets).
    tried: Vec<u32>,
    /// The target the item is on now, when a deeper level is open.
    placed: Option<usize>,
}

/// What entering a level found.
enum Enter {
    /// Every item is placed.
    Packed,
    /// This node is cut (or the budget ran out: `stopped`).
    Cut,
    Open(Frame),
}

impl Search<'_> {
    /// The depth-first search, with its levels on the heap (an instance of
    /// tens of thousands of items is as many levels deep: a failure of
    /// hundreds of hosts).
    fn dfs(&mut self) -> bool {
        let mut stack = match self.enter(0) {
            Enter::Packed => return true,
            Enter::Cut => return false,
            Enter::Open(f) => vec![f],
        };
        loop {
            let Some(f) = stack.last_mut() else {
                return false;
            };
            if let Some(t) = f.placed.take() {
                self.apply(f.i, t, -1);
                self.assign[f.i] = u32::MAX;
                if self.stopped {
                    return false;
                }
            }
            let Some(t) = self.next_target(f) else {
                stack.pop();
                continue;
            };
            let (i, k) = (f.i, f.k);
            self.apply(i, t, 1);
            self.assign[i] = t as u32;
            f.placed = Some(t);
            match self.enter(k + 1) {
                Enter::Packed => return true,
                Enter::Cut => {}
                Enter::Open(next) => stack.push(next),
            }
        }
    }

    /// Opens level k: counts the node and cuts it when the budget ran out
    /// or some resource's remaining demand exceeds all remaining capacity.
    fn enter(&mut self, k: usize) -> Enter {
        let inst = self.inst;
        let nres = inst.nres;
        if k == self.order.len() {
            return Enter::Packed;
        }
        self.nodes += 1;
        if self.nodes > self.max_nodes || (self.nodes & 1023 == 0 && self.budget.expired()) {
            self.stopped = true;
            return Enter::Cut;
        }
        if (0..nres).any(|r| self.need[k * nres + r] > self.capsum[r]) {
            return Enter::Cut;
        }
        let i = self.order[k];
        let min_t = if self.same[k] {
            let prev = self.assign[self.order[k - 1]];
            if inst.group[i] == NO_GROUP {
                prev
            } else {
                prev + 1
            }
        } else {
            0
        };
        Enter::Open(Frame {
            k,
            i,
            min_t,
            next: 0,
            tried: Vec::new(),
            placed: None,
        })
    }

    /// The next target of `f`'s item to try, in its order of targets.
    fn next_target(&self, f: &mut Frame) -> Option<usize> {
        let inst = self.inst;
        let nres = inst.nres;
        let i = f.i;
        let g = inst.group[i];
        while f.next < inst.elig[i].len() {
            let t = inst.elig[i][f.next];
            f.next += 1;
            let tu = t as usize;
            if t < f.min_t || !fits(inst, &self.rem, i, tu) {
                continue;
            }
            if g != NO_GROUP && self.taken[g as usize * self.targets() + tu] {
                continue;
            }
            if !self.apart.allows(inst, i, tu) {
                continue;
            }
            if self.groups_on[tu] == 0
                && f.tried.iter().any(|&o| {
                    let ou = o as usize;
                    self.class[ou] == self.class[tu]
                        && self.groups_on[ou] == 0
                        && self.rem[ou * nres..(ou + 1) * nres]
                            == self.rem[tu * nres..(tu + 1) * nres]
                        && self.apart.same_room(inst, ou, tu)
                })
            {
                continue;
            }
            f.tried.push(t);
            return Some(tu);
        }
        None
    }

    fn targets(&self) -> usize {
        self.groups_on.len()
    }

    fn apply(&mut self, i: usize, t: usize, sign: i64) {
        let inst = self.inst;
        let nres = inst.nres;
        for r in 0..nres {
            let d = inst.demand[i * nres + r] * sign;
            self.rem[t * nres + r] -= d;
            self.capsum[r] -= d;
        }
        self.apart.add(i, t, sign as i32);
        let g = inst.group[i];
        if g != NO_GROUP && self.groups > 0 {
            let targets = self.targets();
            self.taken[g as usize * targets + t] = sign > 0;
            if sign > 0 {
                self.groups_on[t] += 1;
            } else {
                self.groups_on[t] -= 1;
            }
        }
    }
}
