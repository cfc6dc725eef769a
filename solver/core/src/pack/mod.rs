//! Deciding one failure scenario: can these items (VMs, or VMs that restart
//! together) be packed onto these targets (surviving hosts' spare
//! capacity), each item on one of its eligible targets, with no two items
//! of one anti-affinity group on one target, and no target taking more
//! members of an apart rule than it has room for?
//!
//! The decision runs in stages, cheapest first, and each stage either proves
//! the answer or passes it on:
//! 1. necessary conditions (`bounds.rs`): an item that fits nowhere, a resource
//!    whose total demand exceeds the total spare, an anti-affinity group with
//!    more members than eligible targets: each is a proof of infeasibility;
//! 2. greedy packings (`greedy.rs`): a packing found is a proof of feasibility;
//!    when they fail, the fill bound (`bounds::fill`: per target, the most
//!    the items that may go there can fill of its spare) may prove waste;
//! 3. exact search (`search.rs`) with symmetry breaking, up to a node budget;
//! 4. an ILP through good_lp/HiGHS ([`ilp`], feature `ilp`); without that
//!    feature the exact search runs without a node budget.
//!
//! Only a deadline (or a cancel flag) can make the answer [`Decision::Undecided`].
//! Every feasible answer is checked against the instance before it is returned.

pub(crate) mod bounds;
pub(crate) mod greedy;
#[cfg(feature = "ilp")]
pub mod ilp;
pub(crate) mod search;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// Marks an item with no anti-affinity group.
pub const NO_GROUP: u32 = u32::MAX;

/// One packing problem. Items and targets are dense indices; amounts are
/// integers; `demand` and `cap` are row-major (`[item * nres + r]`).
#[derive(Clone, Debug, Default)]
pub struct Instance {
    /// Resources per item and per target.
    pub nres: usize,
    /// Each item's demand, `[item * nres + r]`.
    pub demand: Vec<i64>,
    /// Eligible targets of each item, ascending. Shared: items of one
    /// requirement hold one list (a failure set of 30,000 VMs over 1,500
    /// hosts would otherwise hold 45 million targets, copied per subset).
    pub elig: Vec<Arc<[u32]>>,
    /// Anti-affinity group of each item, or [`NO_GROUP`]; dense from 0.
    pub group: Vec<u32>,
    /// Each target's spare capacity, `[target * nres + r]`.
    pub cap: Vec<i64>,
    /// Apart rules beyond `group` (a cap above one, items in several rules,
    /// items that stand for several members): empty for most instances.
    pub apart: Vec<Apart>,
}

/// An apart rule of an instance: on every target, the members its items
/// stand for number at most the target's room.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Apart {
    /// Whose rule it is, for explanations (the caller's id; `scenario`
    /// gives its index in `Analysis::group_rules`).
    pub rule: usize,
    /// `(item, weight)`: the items of the rule and how many of its members
    /// each stands for (at least 1), by item.
    pub items: Vec<(u32, u32)>,
    /// Per target: how many more members may run there.
    pub room: Vec<u32>,
}

impl Instance {
    /// How many items (VMs to place).
    pub fn items(&self) -> usize {
        self.elig.len()
    }
    /// How many targets (hosts that receive them).
    pub fn targets(&self) -> usize {
        self.cap.len().checked_div(self.nres).unwrap_or(0)
    }
    /// Item `i`'s demand per resource.
    pub fn demand(&self, i: usize) -> &[i64] {
        &self.demand[i * self.nres..(i + 1) * self.nres]
    }
    /// Target `t`'s spare capacity per resource.
    pub fn cap(&self, t: usize) -> &[i64] {
        &self.cap[t * self.nres..(t + 1) * self.nres]
    }
    /// How many anti-affinity groups the items use (`group` is dense from 0).
    pub fn groups(&self) -> usize {
        self.group
            .iter()
            .filter(|&&g| g != NO_GROUP)
            .map(|&g| g as usize + 1)
            .max()
            .unwrap_or(0)
    }

    /// Per item, its apart rules with its weight in each: `(rule, weight)`;
    /// empty when the instance has none.
    pub fn apart_of(&self) -> Vec<Vec<(u32, u32)>> {
        if self.apart.is_empty() {
            return Vec::new();
        }
        let mut out = vec![Vec::new(); self.items()];
        for (a, rule) in self.apart.iter().enumerate() {
            for &(i, w) in &rule.items {
                out[i as usize].push((a as u32, w));
            }
        }
        out
    }

    /// Whether `assign` (a target per item) is a valid packing.
    pub fn verify(&self, assign: &[u32]) -> bool {
        if assign.len() != self.items() {
            return false;
        }
        let mut load = vec![0i64; self.cap.len()];
        let mut seen = std::collections::HashSet::new();
        for (i, &t) in assign.iter().enumerate() {
            if self.elig[i].binary_search(&t).is_err() {
                return false;
            }
            let t = t as usize;
            for r in 0..self.nres {
                load[t * self.nres + r] += self.demand[i * self.nres + r];
            }
            if self.group[i] != NO_GROUP && !seen.insert((self.group[i], t)) {
                return false;
            }
        }
        for rule in &self.apart {
            let mut used = vec![0u64; rule.room.len()];
            for &(i, w) in &rule.items {
                used[assign[i as usize] as usize] += w as u64;
            }
            if used.iter().zip(&rule.room).any(|(&u, &r)| u > r as u64) {
                return false;
            }
        }
        load.iter().zip(&self.cap).all(|(l, c)| l <= c)
    }
}

/// Why a scenario cannot be packed. Each variant is a proof.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Infeasible {
    /// Item has no eligible target with room for it alone.
    NoTarget {
        /// The item.
        item: usize,
    },
    /// Total demand of resource `res` exceeds the total spare of the targets.
    Short {
        /// The resource.
        res: usize,
        /// The items' total demand of it.
        need: i64,
        /// The targets' total spare of it.
        have: i64,
    },
    /// An anti-affinity group has more members than distinct eligible targets.
    AntiAffinity {
        /// The group (dense index, as in `Instance::group`).
        group: u32,
        /// Its items to place.
        members: usize,
        /// Distinct targets eligible for any of them.
        targets: usize,
    },
    /// An apart rule (`Instance::apart[rule]`) has more members to place
    /// than the room its items' targets leave for them.
    Apart {
        /// Index into `Instance::apart`.
        rule: usize,
        /// Members its items stand for.
        members: u64,
        /// Room its items' targets leave for them.
        room: u64,
    },
    /// Counting whole blocks of `unit` of resource `res` (a VM of size d
    /// needs floor(d / unit), a host of spare s has room for floor(s / unit)),
    /// the VMs need more blocks than the targets have.
    Blocks {
        /// The resource.
        res: usize,
        /// The block size.
        unit: i64,
        /// Blocks the items need.
        need: i64,
        /// Blocks the targets have room for.
        have: i64,
    },
    /// Counting resource `res` in units of `unit` (a VM of size d needs
    /// floor(d / unit)), the most units the VMs that may go to a target can
    /// fill of its floor(spare / unit), summed over the targets, is less
    /// than the VMs need (`bounds::fill`).
    Fill {
        /// The resource.
        res: usize,
        /// The unit.
        unit: i64,
        /// Units the items need.
        need: i64,
        /// Units the targets can be filled with, summed.
        have: i64,
    },
    /// The exact search tried every packing, up to symmetry.
    Exhaustive,
    /// The ILP solver proved that no packing exists.
    Ilp,
}

/// The answer for one instance: a packing, a proof that none exists, or
/// neither within the budget.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// A valid packing: the target of each item.
    Feasible(Vec<u32>),
    /// Proved: no packing exists, and why.
    Infeasible(Infeasible),
    /// The deadline passed (or the run was cancelled) before a proof.
    Undecided,
}

impl Decision {
    /// Whether a packing was found.
    pub fn is_feasible(&self) -> bool {
        matches!(self, Decision::Feasible(_))
    }
}

/// When to give up: a deadline and a cancel flag, both optional.
#[derive(Clone, Copy, Debug, Default)]
pub struct Budget<'a> {
    /// Give up at this instant.
    pub deadline: Option<Instant>,
    /// Give up once this flag is set (by another thread).
    pub cancel: Option<&'a AtomicBool>,
}

impl Budget<'_> {
    /// No deadline and no cancel flag.
    pub fn unlimited() -> Budget<'static> {
        Budget::default()
    }
    /// Whether the deadline passed or the flag is set.
    pub fn expired(&self) -> bool {
        self.cancel.is_some_and(|c| c.load(Ordering::Relaxed))
            || self.deadline.is_some_and(|d| Instant::now() >= d)
    }
}

/// Which stage settled a decision (for statistics).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// A necessary condition proved it infeasible.
    Bounds,
    /// A first-fit heuristic found a packing.
    Greedy,
    /// The exact search settled it.
    Search,
    /// The ILP settled it.
    Ilp,
}

/// Nodes the exact search may visit before the ILP takes over.
#[cfg(feature = "ilp")]
const SEARCH_NODES: u64 = 20_000;
#[cfg(not(feature = "ilp"))]
const SEARCH_NODES: u64 = u64::MAX;

/// The stages that need no budget (no items, the necessary conditions,
/// the greedy packings, the fill bound), cheapest first; `None` when they
/// leave the instance to the search.
pub fn decide_cheaply(inst: &Instance) -> Option<(Decision, Stage)> {
    if inst.items() == 0 {
        return Some((Decision::Feasible(Vec::new()), Stage::Bounds));
    }
    if let Some(proof) = bounds::necessary(inst) {
        return Some((Decision::Infeasible(proof), Stage::Bounds));
    }
    if let Some(assign) = greedy::pack(inst) {
        debug_assert!(inst.verify(&assign));
        return Some((Decision::Feasible(assign), Stage::Greedy));
    }
    bounds::fill(inst).map(|proof| (Decision::Infeasible(proof), Stage::Bounds))
}

/// Decides `inst` exactly (unless the budget runs out).
pub fn decide(inst: &Instance, budget: &Budget) -> (Decision, Stage) {
    if let Some(decided) = decide_cheaply(inst) {
        return decided;
    }
    match search::solve(inst, budget, SEARCH_NODES) {
        search::Outcome::Found(assign) => {
            assert!(
                inst.verify(&assign),
                "exact search returned an invalid packing"
            );
            return (Decision::Feasible(assign), Stage::Search);
        }
        search::Outcome::Exhausted => {
            return (Decision::Infeasible(Infeasible::Exhaustive), Stage::Search);
        }
        search::Outcome::Stopped if budget.expired() => {
            return (Decision::Undecided, Stage::Search);
        }
        search::Outcome::Stopped => {}
    }
    #[cfg(feature = "ilp")]
    {
        match ilp::solve(inst, budget) {
            Some(d) => (d, Stage::Ilp),
            // The solver failed in a way that proves nothing: finish the search.
            None => decide_by_search(inst, budget),
        }
    }
    #[cfg(not(feature = "ilp"))]
    {
        (Decision::Undecided, Stage::Search)
    }
}

#[cfg(feature = "ilp")]
fn decide_by_search(inst: &Instance, budget: &Budget) -> (Decision, Stage) {
    let d = match search::solve(inst, budget, u64::MAX) {
        search::Outcome::Found(assign) => Decision::Feasible(assign),
        search::Outcome::Exhausted => Decision::Infeasible(Infeasible::Exhaustive),
        search::Outcome::Stopped => Decision::Undecided,
    };
    (d, Stage::Search)
}

/// A size key for ordering items: the sum over resources of the item's share
/// of the total capacity, so that scarce resources weigh more.
pub(crate) fn size_keys(inst: &Instance) -> Vec<f64> {
    let nres = inst.nres;
    let mut total = vec![0f64; nres];
    for t in 0..inst.targets() {
        for (r, c) in inst.cap(t).iter().enumerate() {
            total[r] += (*c).max(0) as f64;
        }
    }
    (0..inst.items())
        .map(|i| {
            inst.demand(i)
                .iter()
                .zip(&total)
                .map(|(&d, &t)| {
                    if t > 0.0 {
                        d as f64 / t
                    } else if d > 0 {
                        1e9
                    } else {
                        0.0
                    }
                })
                .sum()
        })
        .collect()
}

/// Whether item `i` fits in the remaining capacity `rem` of target `t`.
#[inline]
pub(crate) fn fits(inst: &Instance, rem: &[i64], i: usize, t: usize) -> bool {
    let n = inst.nres;
    inst.demand[i * n..(i + 1) * n]
        .iter()
        .zip(&rem[t * n..(t + 1) * n])
        .all(|(d, c)| d <= c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// One resource; `caps` per target; every item eligible everywhere.
    fn simple(caps: &[i64], items: &[i64]) -> Instance {
        Instance {
            nres: 1,
            demand: items.to_vec(),
            elig: vec![(0..caps.len() as u32).collect(); items.len()],
            group: vec![NO_GROUP; items.len()],
            cap: caps.to_vec(),
            apart: Vec::new(),
        }
    }

    /// The search keeps its levels on the heap: an instance as deep as the
    /// VMs of a failure of hundreds of hosts (200,000 items here) is
    /// searched on a test thread's stack, which one call per item
    /// overflowed.
    #[test]
    fn the_search_goes_as_deep_as_its_items_without_the_stack() {
        let items: Vec<i64> = (0..200_000).map(|i| 1 + i % 3).collect();
        let half = items.iter().sum::<i64>() / 2 + 2;
        let inst = simple(&[half, half], &items);
        match search::solve(&inst, &Budget::unlimited(), u64::MAX) {
            search::Outcome::Found(a) => assert!(inst.verify(&a)),
            _ => panic!("a packing exists"),
        }
        // Five more than both targets hold: cut at the root.
        let short = simple(&[half - 5, half - 4], &items);
        assert!(matches!(
            search::solve(&short, &Budget::unlimited(), u64::MAX),
            search::Outcome::Exhausted
        ));
    }

    /// Plain enumeration of every assignment: slow and obviously right.
    fn brute(inst: &Instance) -> bool {
        fn go(inst: &Instance, i: usize, assign: &mut Vec<u32>) -> bool {
            if i == inst.items() {
                return inst.verify(assign);
            }
            for &t in inst.elig[i].iter() {
                assign.push(t);
                if go(inst, i + 1, assign) {
                    return true;
                }
                assign.pop();
            }
            false
        }
        go(inst, 0, &mut Vec::new())
    }

    #[test]
    fn first_fit_decreasing_fails_where_a_packing_exists() {
        // Two bins of 10, items 5 4 3 3 3 2: FFD strands the 2; {5,3,2} {4,3,3} fits.
        let inst = simple(&[10, 10], &[5, 4, 3, 3, 3, 2]);
        let order: Vec<usize> = (0..6).collect();
        let mut rem = inst.cap.clone();
        let ffd = greedy::place_into(&inst, &order, &mut rem, &mut greedy::GroupsUsed::default());
        assert!(
            ffd.is_none(),
            "first-fit decreasing should fail on this instance"
        );
        match search::solve(&inst, &Budget::unlimited(), u64::MAX) {
            search::Outcome::Found(a) => assert!(inst.verify(&a)),
            _ => panic!("the exact search must find the packing"),
        }
        assert!(decide(&inst, &Budget::unlimited()).0.is_feasible());
    }

    #[test]
    fn aggregate_spare_suffices_but_no_packing_exists() {
        // 12 spare in total, 12 needed, but no bin of 6 holds two items of 4.
        let inst = simple(&[6, 6], &[4, 4, 4]);
        // Totals do not show it; counting slots of 4 does (3 needed, 2 there).
        assert_eq!(
            bounds::necessary(&inst),
            Some(Infeasible::Blocks {
                res: 0,
                unit: 4,
                need: 3,
                have: 2
            })
        );
        assert!(greedy::pack(&inst).is_none());
        // And the exact search proves it on its own.
        assert!(matches!(
            search::solve(&inst, &Budget::unlimited(), u64::MAX),
            search::Outcome::Exhausted
        ));
        // Slots do not see every case: 5 + 4 + 3 into two bins of 6. The
        // exact search proves it, and so does the fill bound (no two of
        // them share a bin: each bin holds 5 at most).
        let inst = simple(&[6, 6], &[5, 4, 3]);
        assert_eq!(bounds::necessary(&inst), None);
        assert!(matches!(
            search::solve(&inst, &Budget::unlimited(), u64::MAX),
            search::Outcome::Exhausted
        ));
        let (d, _) = decide(&inst, &Budget::unlimited());
        assert_eq!(
            d,
            Decision::Infeasible(Infeasible::Fill {
                res: 0,
                unit: 1,
                need: 12,
                have: 10
            })
        );
    }

    #[test]
    fn necessary_conditions_are_proofs() {
        let inst = simple(&[6, 6], &[7]);
        assert_eq!(
            bounds::necessary(&inst),
            Some(Infeasible::NoTarget { item: 0 })
        );
        let inst = simple(&[6, 6], &[5, 5, 3]);
        assert_eq!(
            bounds::necessary(&inst),
            Some(Infeasible::Short {
                res: 0,
                need: 13,
                have: 12
            })
        );
        let mut inst = simple(&[10, 10], &[1, 1, 1]);
        inst.group = vec![0, 0, 0];
        assert_eq!(
            bounds::necessary(&inst),
            Some(Infeasible::AntiAffinity {
                group: 0,
                members: 3,
                targets: 2
            })
        );
    }

    #[test]
    fn anti_affinity_is_honoured_by_every_stage() {
        // Room for both on target 0, but they may not share it; target 1 only fits one.
        let mut inst = simple(&[10, 3], &[3, 3]);
        inst.group = vec![0, 0];
        let (d, _) = decide(&inst, &Budget::unlimited());
        let Decision::Feasible(a) = d else {
            panic!("{d:?}")
        };
        assert_ne!(a[0], a[1]);
        let mut inst = simple(&[10, 2], &[3, 3]);
        inst.group = vec![0, 0];
        assert!(!decide(&inst, &Budget::unlimited()).0.is_feasible());
    }

    /// HiGHS answers this infeasible model with a bare error; the decision
    /// must still be exact (found by property tests).
    #[test]
    fn a_solver_error_falls_back_to_the_exact_search() {
        let inst = Instance {
            nres: 2,
            demand: vec![3, 2, 7, 2, 5, 1, 4, 1, 3, 2, 7, 2],
            elig: vec![Arc::from([0, 1, 2]); 6],
            group: vec![NO_GROUP; 6],
            cap: vec![5, 2, 11, 5, 15, 4],
            apart: Vec::new(),
        };
        let truth = brute(&inst);
        assert_eq!(decide(&inst, &Budget::unlimited()).0.is_feasible(), truth);
        #[cfg(feature = "ilp")]
        match ilp::solve(&inst, &Budget::unlimited()) {
            Some(Decision::Feasible(a)) => assert!(truth && inst.verify(&a)),
            Some(Decision::Infeasible(_)) => assert!(!truth),
            Some(Decision::Undecided) => panic!("an unlimited ILP was undecided"),
            None => {}
        }
    }

    #[test]
    fn apart_rules_are_honoured_by_every_stage() {
        // Three items of one rule, room 2 on target 0 and 1 on target 1:
        // two go to 0, one to 1, though all fit on 0.
        let mut inst = simple(&[10, 10], &[1, 1, 1]);
        inst.apart.push(Apart {
            rule: 0,
            items: vec![(0, 1), (1, 1), (2, 1)],
            room: vec![2, 1],
        });
        let (d, _) = decide(&inst, &Budget::unlimited());
        let Decision::Feasible(a) = d else {
            panic!("{d:?}")
        };
        assert!(inst.verify(&a));
        assert_eq!(a.iter().filter(|&&t| t == 0).count(), 2);
        assert!(
            !inst.verify(&[0, 0, 0]),
            "three on a target with room for two"
        );
        // An item standing for two members needs room 2.
        inst.apart[0].items = vec![(0, 2), (1, 1), (2, 1)];
        inst.apart[0].room = vec![2, 2];
        assert!(inst.verify(&[0, 1, 1]));
        assert!(!inst.verify(&[0, 0, 1]));
        // Room for 3 members, 4 to place: the bound proves it.
        inst.apart[0].room = vec![2, 1];
        assert_eq!(
            bounds::necessary(&inst),
            Some(Infeasible::Apart {
                rule: 0,
                members: 4,
                room: 3
            })
        );
        inst.apart[0].room = vec![2, 2];
        assert!(decide(&inst, &Budget::unlimited()).0.is_feasible());
        assert!(greedy::pack(&inst).is_none_or(|a| inst.verify(&a)));
        #[cfg(feature = "ilp")]
        match ilp::solve(&inst, &Budget::unlimited()) {
            Some(Decision::Feasible(a)) => assert!(inst.verify(&a)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn verify_rejects_bad_packings() {
        let mut inst = simple(&[5, 5], &[3, 3]);
        assert!(inst.verify(&[0, 1]));
        assert!(!inst.verify(&[0, 0]), "over capacity");
        inst.elig[1] = Arc::from([0]);
        assert!(!inst.verify(&[0, 1]), "ineligible target");
        inst.group = vec![0, 0];
        inst.cap = vec![10, 10];
        assert!(!inst.verify(&[0, 0]), "anti-affinity");
    }

    #[test]
    fn an_expired_budget_is_undecided_never_infeasible() {
        let inst = simple(&[10, 10], &[5, 4, 3, 3, 3, 2]);
        let cancel = std::sync::atomic::AtomicBool::new(true);
        let budget = Budget {
            deadline: None,
            cancel: Some(&cancel),
        };
        if let search::Outcome::Exhausted = search::solve(&inst, &budget, u64::MAX) {
            panic!("a cancelled search proved nothing");
        }
    }

    #[test]
    fn the_fill_bound_proves_nothing_with_a_negative_demand() {
        // A [5, 1] and B [5, -1] fit t0 [10, 0] together, though A alone does
        // not; C [5, 0] goes to t1 [5, 5]. Counting only the items that fit
        // alone would leave 2 units of 5 where 3 are needed.
        let inst = Instance {
            nres: 2,
            demand: vec![5, 1, 5, -1, 5, 0],
            elig: vec![Arc::from([0, 1]), Arc::from([0, 1]), Arc::from([1])],
            group: vec![NO_GROUP; 3],
            cap: vec![10, 0, 5, 5],
            apart: Vec::new(),
        };
        assert!(inst.verify(&[0, 0, 1]));
        assert_eq!(bounds::fill(&inst), None);
    }

    #[test]
    fn the_fill_bound_sees_waste_the_slots_do_not() {
        // 19 of 20 spare, but no subset of 4 4 4 4 3 sums to 10 (8 at most):
        // the two targets hold 16 at most.
        let inst = simple(&[10, 10], &[4, 4, 4, 4, 3]);
        assert_eq!(bounds::necessary(&inst), None);
        assert!(greedy::pack(&inst).is_none());
        assert_eq!(
            bounds::fill(&inst),
            Some(Infeasible::Fill {
                res: 0,
                unit: 1,
                need: 19,
                have: 16
            })
        );
        assert_eq!(
            decide(&inst, &Budget::unlimited()),
            (
                Decision::Infeasible(Infeasible::Fill {
                    res: 0,
                    unit: 1,
                    need: 19,
                    have: 16
                }),
                Stage::Bounds
            )
        );
        // With a 2 for the 3, 4 + 4 + 2 fills one: feasible, and not refused.
        let inst = simple(&[10, 10], &[4, 4, 4, 4, 2]);
        assert_eq!(bounds::fill(&inst), None);
        assert!(decide(&inst, &Budget::unlimited()).0.is_feasible());
        // An item counts only on the targets it may go to: here the 3 may
        // not go to the second target, so each target still fills 8 at most.
        let mut inst = simple(&[10, 10], &[4, 4, 4, 4, 3]);
        inst.elig[4] = Arc::from([0]);
        assert!(bounds::fill(&inst).is_some());
    }

    #[test]
    fn the_fill_bound_counts_in_coarser_units_when_spares_are_large() {
        // Four of 40 001 and one of 30 000 into two targets of 100 003: a
        // target takes two of them at most (the three smallest sum to
        // 110 002), so 80 002 at most, short of 190 004 in all.
        let inst = simple(
            &[100_003, 100_003],
            &[40_001, 40_001, 40_001, 40_001, 30_000],
        );
        match bounds::fill(&inst) {
            Some(Infeasible::Fill {
                unit, need, have, ..
            }) => {
                assert!(unit > 1, "unit {unit}");
                assert!(100_003 / unit <= 1 << 14, "unit {unit}");
                assert!(need > have, "{need} {have}");
            }
            other => panic!("{other:?}"),
        }
        assert!(!brute(&inst));
    }

    #[test]
    fn the_fill_bound_past_its_effort_counts_whole_spares() {
        // 300 targets of 16 384, each with its own 220 items of 70 or 71
        // (15 510 at most), which may also go to the next target: feasible,
        // and more tables than the effort allows. Targets past it count
        // their whole spare, so the bound stays silent; counting them as
        // empty would refuse it.
        let (targets, per) = (300usize, 220usize);
        let mut inst = simple(&vec![16_384; targets], &[]);
        for t in 0..targets {
            let next = (t + 1) % targets;
            for k in 0..per {
                inst.demand.push(70 + (k % 2) as i64);
                let mut e = vec![t as u32, next as u32];
                e.sort_unstable();
                inst.elig.push(e.into());
                inst.group.push(NO_GROUP);
            }
        }
        let own: Vec<u32> = (0..targets * per).map(|i| (i / per) as u32).collect();
        assert!(inst.verify(&own));
        assert_eq!(bounds::fill(&inst), None);
    }

    /// Targets of unequal spare and few large items, in one or two
    /// resources, small or scaled up by a large factor with a jitter (so
    /// the fill bound counts in units coarser than one). Half of them are
    /// tight: each target's spare is the load of a packing plus a little,
    /// so a bound that rounds the wrong way refuses a feasible instance.
    fn wasteful() -> impl Strategy<Value = Instance> {
        (
            2usize..=4,
            2usize..=7,
            1usize..=2,
            any::<bool>(),
            any::<bool>(),
        )
            .prop_flat_map(|(targets, items, nres, large, tight)| {
                (
                    proptest::collection::vec((5i64..=20, 0i64..1000), targets * nres),
                    proptest::collection::vec((2i64..=12, 0i64..1000), items * nres),
                    proptest::collection::vec(
                        proptest::collection::vec(prop::bool::weighted(0.7), targets),
                        items,
                    ),
                    proptest::collection::vec(0..targets as u32, items),
                    proptest::collection::vec(0i64..=2, targets * nres),
                )
                    .prop_map(move |(cap, demand, mask, packing, slack)| {
                        let amount = |(x, jitter): (i64, i64)| {
                            if large { x * 10_000 + jitter } else { x }
                        };
                        let demand: Vec<i64> = demand.into_iter().map(amount).collect();
                        let mut cap: Vec<i64> = cap.into_iter().map(amount).collect();
                        let mut elig: Vec<Vec<u32>> = mask
                            .iter()
                            .map(|m| (0..targets as u32).filter(|&t| m[t as usize]).collect())
                            .collect();
                        if tight {
                            for (c, s) in cap.iter_mut().zip(&slack) {
                                *c = *s;
                            }
                            for (i, &t) in packing.iter().enumerate() {
                                for r in 0..nres {
                                    cap[t as usize * nres + r] += demand[i * nres + r];
                                }
                                if let Err(at) = elig[i].binary_search(&t) {
                                    elig[i].insert(at, t);
                                }
                            }
                        }
                        Instance {
                            nres,
                            demand,
                            elig: elig.into_iter().map(Arc::from).collect(),
                            group: vec![NO_GROUP; items],
                            cap,
                            apart: Vec::new(),
                        }
                    })
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        /// The fill bound refuses only instances that enumeration cannot
        /// pack.
        #[test]
        fn the_fill_bound_refuses_only_what_cannot_be_packed(inst in wasteful()) {
            if let Some(proof) = bounds::fill(&inst) {
                prop_assert!(!brute(&inst), "{:?} refused by {:?}", inst, proof);
            }
        }
    }

    fn instance() -> impl Strategy<Value = Instance> {
        (1usize..=4, 1usize..=8, 1usize..=2).prop_flat_map(|(targets, items, nres)| {
            (
                proptest::collection::vec(0i64..=12, targets * nres),
                proptest::collection::vec(0i64..=7, items * nres),
                proptest::collection::vec(proptest::collection::vec(any::<bool>(), targets), items),
                proptest::collection::vec(prop_oneof![Just(NO_GROUP), 0u32..2], items),
            )
                .prop_map(move |(cap, demand, mask, group)| {
                    let elig = mask
                        .iter()
                        .map(|m| (0..targets as u32).filter(|&t| m[t as usize]).collect())
                        .collect();
                    Instance {
                        nres,
                        demand,
                        elig,
                        group,
                        cap,
                        apart: Vec::new(),
                    }
                })
        })
    }

    /// Apart rules over an instance's items: each with some items (weight 1
    /// or 2) and a room per target.
    fn with_apart(inst: Instance) -> impl Strategy<Value = Instance> {
        let (items, targets) = (inst.items(), inst.targets());
        proptest::collection::vec(
            (
                proptest::collection::vec(
                    prop_oneof![2 => Just(0u32), 2 => Just(1u32), 1 => Just(2u32)],
                    items,
                ),
                proptest::collection::vec(0u32..=3, targets),
            ),
            0..=2,
        )
        .prop_map(move |rules| {
            let mut inst = inst.clone();
            for (rule, (weights, room)) in rules.into_iter().enumerate() {
                let items: Vec<(u32, u32)> = weights
                    .iter()
                    .enumerate()
                    .filter(|&(_, &w)| w > 0)
                    .map(|(i, &w)| (i as u32, w))
                    .collect();
                if items.len() > 1 {
                    inst.apart.push(Apart { rule, items, room });
                }
            }
            inst
        })
    }

    /// Instances built from a few item and target templates, as failure
    /// scenarios of pools of alike hosts are: many alike items, many
    /// interchangeable targets.
    fn templated() -> impl Strategy<Value = Instance> {
        (1usize..=2, 1usize..=3, 1usize..=2).prop_flat_map(|(tkinds, ikinds, nres)| {
            (
                proptest::collection::vec(
                    (
                        proptest::collection::vec(0i64..=12, nres),
                        1usize..=3,
                        any::<bool>(),
                    ),
                    tkinds,
                ),
                proptest::collection::vec(
                    (
                        proptest::collection::vec(0i64..=7, nres),
                        1usize..=4,
                        any::<bool>(),
                        prop_oneof![Just(NO_GROUP), 0u32..2],
                    ),
                    ikinds,
                ),
            )
                .prop_map(move |(tk, ik)| {
                    let mut cap = Vec::new();
                    let mut kind_of = Vec::new();
                    for (k, (c, n, same)) in tk.iter().enumerate() {
                        // Kinds of one capacity differ in eligibility only.
                        let c = if *same { &tk[0].0 } else { c };
                        for _ in 0..*n {
                            cap.extend(c);
                            kind_of.push(k);
                        }
                    }
                    let (mut demand, mut elig, mut group) = (Vec::new(), Vec::new(), Vec::new());
                    for (d, n, everywhere, g) in ik {
                        // Eligible everywhere, or only on targets of the last kind.
                        let e: Arc<[u32]> = (0..kind_of.len() as u32)
                            .filter(|&t| everywhere || kind_of[t as usize] == tk.len() - 1)
                            .collect();
                        for _ in 0..n.min(7 - elig.len().min(7)) {
                            demand.extend(&d);
                            elig.push(e.clone());
                            group.push(g);
                        }
                    }
                    Instance {
                        nres,
                        demand,
                        elig,
                        group,
                        cap,
                        apart: Vec::new(),
                    }
                })
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]
        /// The ILP (alike items as counts, interchangeable targets ordered)
        /// agrees with plain enumeration on templated instances.
        #[cfg(feature = "ilp")]
        #[test]
        fn the_ilp_agrees_with_enumeration_on_alike_items_and_targets(
            inst in templated().prop_flat_map(with_apart)
        ) {
            let truth = brute(&inst);
            match ilp::solve(&inst, &Budget::unlimited()) {
                Some(Decision::Feasible(a)) => prop_assert!(truth && inst.verify(&a)),
                Some(Decision::Infeasible(_)) => prop_assert!(!truth),
                Some(Decision::Undecided) => prop_assert!(false, "an unlimited ILP was undecided"),
                None => prop_assert!(false, "HiGHS failed without an answer"),
            }
            prop_assert_eq!(decide(&inst, &Budget::unlimited()).0.is_feasible(), truth);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]
        /// Every stage agrees with plain enumeration, and every "yes" verifies.
        #[test]
        fn every_stage_agrees_with_enumeration(inst in instance().prop_flat_map(with_apart)) {
            let truth = brute(&inst);
            let (d, _) = decide(&inst, &Budget::unlimited());
            prop_assert_eq!(d.is_feasible(), truth);
            if let Decision::Feasible(a) = &d {
                prop_assert!(inst.verify(a));
            }
            if bounds::necessary(&inst).is_some() {
                prop_assert!(!truth);
            }
            if let Some(a) = greedy::pack(&inst) {
                prop_assert!(truth && inst.verify(&a));
            }
            match search::solve(&inst, &Budget::unlimited(), u64::MAX) {
                search::Outcome::Found(a) => prop_assert!(truth && inst.verify(&a)),
                search::Outcome::Exhausted => prop_assert!(!truth),
                search::Outcome::Stopped => prop_assert!(false, "an unlimited search stopped"),
            }
            #[cfg(feature = "ilp")]
            if inst.items() > 0 {
                // HiGHS may fail without an answer (None); it must never be wrong.
                match ilp::solve(&inst, &Budget::unlimited()) {
                    Some(Decision::Feasible(a)) => prop_assert!(truth && inst.verify(&a)),
                    Some(Decision::Infeasible(_)) => prop_assert!(!truth),
                    Some(Decision::Undecided) => prop_assert!(false, "an unlimited ILP was undecided"),
                    None => {}
                }
            }
        }
    }
}
