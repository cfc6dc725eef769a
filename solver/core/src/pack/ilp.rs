//! The last resort: an integer program solved by HiGHS through good_lp.
//!
//! Items that are alike (same demand, eligible targets and anti-affinity
//! group) form a *type*: `x[τ][t]` counts the items of type τ on target t
//! (general integers; one 0-1 variable per item would give the solver as
//! many equivalent solutions as there are ways to permute the alike items,
//! which it must all rule out to prove a "no"). Each type's items all
//! placed; per target and resource, the demand placed fits; per target and
//! anti-affinity group, at most one member; per target and apart rule, the
//! members placed (an item counting for the members it stands for) within
//! the target's room. Targets alike for every type (same capacity, same
//! eligibility, same room in every apart rule) are interchangeable too:
//! their loads in one resource are required non-increasing in target
//! order, which every packing satisfies after renaming them. Feasibility
//! only: the objective is 0.

use std::collections::HashMap;
use std::time::Instant;

use good_lp::solvers::highs::highs;
use good_lp::{
    Expression, ProblemVariables, ResolutionError, Solution, SolverModel, Variable, variable,
};

use super::{Budget, Decision, Infeasible, Instance, NO_GROUP, fits};

/// HiGHS's thread count is process-global; every model asks for the same.
const THREADS: u32 = 1;

/// Instances with more (type, target) pairs than this are left to the
/// search (`None`): the model takes about 150 bytes a pair (1.5 GB for the
/// 10 million of 15,000 distinct VMs restarting on 700 hosts), and a solve
/// of that size ends within no budget here.
const MAX_PAIRS: usize = 1_000_000;

/// `None` when the solver failed without proving anything either way, or
/// the instance is too large for it (`MAX_PAIRS`).
pub fn solve(inst: &Instance, budget: &Budget) -> Option<Decision> {
    let nres = inst.nres;
    let targets = inst.targets();
    // Types: alike items, in order of first appearance.
    let apart_of = inst.apart_of();
    let no_rules: &[(u32, u32)] = &[];
    let rules_of = |i: usize| -> &[(u32, u32)] {
        if apart_of.is_empty() {
            no_rules
        } else {
            &apart_of[i]
        }
    };
    type Key<'a> = (&'a [i64], &'a [u32], u32, &'a [(u32, u32)]);
    let mut type_of: HashMap<Key, usize> = HashMap::new();
    let mut members: Vec<Vec<usize>> = Vec::new();
    for i in 0..inst.items() {
        let key = (
            inst.demand(i),
            &inst.elig[i][..],
            inst.group[i],
            rules_of(i),
        );
        let next = members.len();
        let t = *type_of.entry(key).or_insert(next);
        if t == next {
            members.push(Vec::new());
        }
        members[t].push(i);
    }
    let mut pairs = 0;
    for m in &members {
        let i = m[0];
        pairs += inst.elig[i]
            .iter()
            .filter(|&&t| fits(inst, &inst.cap, i, t as usize))
            .count();
        if pairs > MAX_PAIRS {
            return None;
        }
    }
    let mut vars = ProblemVariables::new();
    // Per type, (target, variable, most items of the type there).
    let mut x: Vec<Vec<(u32, Variable, i64)>> = Vec::with_capacity(members.len());
    for m in &members {
        let i = m[0];
        let d = inst.demand(i);
        let row = inst.elig[i]
            .iter()
            .copied()
            .filter(|&t| fits(inst, &inst.cap, i, t as usize))
            .map(|t| {
                let mut most = m.len() as i64;
                if inst.group[i] != NO_GROUP {
                    most = 1;
                }
                for (r, &dr) in d.iter().enumerate() {
                    if dr > 0 {
                        most = most.min(inst.cap[t as usize * nres + r] / dr);
                    }
                }
                for &(a, w) in rules_of(i) {
                    most = most.min((inst.apart[a as usize].room[t as usize] / w) as i64);
                }
                let v = vars.add(variable().integer().min(0).max(most as f64));
                (t, v, most)
            })
            .collect::<Vec<_>>();
        if row.is_empty() {
            return Some(Decision::Infeasible(Infeasible::NoTarget { item: i }));
        }
        x.push(row);
    }
    let mut model = highs(vars.minimise(Expression::from(0.0)))
        .set_threads(THREADS)
        .set_verbose_off();
    if let Some(deadline) = budget.deadline {
        let left = deadline
            .saturating_duration_since(Instant::now())
            .as_secs_f64();
        if left <= 0.0 {
            return Some(Decision::Undecided);
        }
        model = model.set_time_limit(left);
    }
    for (row, m) in x.iter().zip(&members) {
        let sum: Expression = row.iter().map(|&(_, v, _)| v).sum();
        model = model.with(sum.eq(m.len() as f64));
    }
    // Per target, (type, variable, most).
    let mut per_target: Vec<Vec<(usize, Variable, i64)>> = vec![Vec::new(); targets];
    for (ty, row) in x.iter().enumerate() {
        for &(t, v, most) in row {
            per_target[t as usize].push((ty, v, most));
        }
    }
    let demand = |ty: usize, r: usize| inst.demand[members[ty][0] * nres + r];
    for t in 0..targets {
        let col = &per_target[t];
        for r in 0..nres {
            let most: i64 = col.iter().map(|&(ty, _, n)| demand(ty, r) * n).sum();
            if most <= inst.cap[t * nres + r] {
                continue; // cannot bind
            }
            let load: Expression = col
                .iter()
                .filter(|&&(ty, _, _)| demand(ty, r) > 0)
                .map(|&(ty, v, _)| demand(ty, r) as f64 * v)
                .sum();
            model = model.with(load.leq(inst.cap[t * nres + r] as f64));
        }
        let mut by_group: std::collections::BTreeMap<u32, Vec<Variable>> = Default::default();
        for &(ty, v, _) in col {
            let g = inst.group[members[ty][0]];
            if g != NO_GROUP {
                by_group.entry(g).or_default().push(v);
            }
        }
        for (_, vs) in by_group {
            if vs.len() > 1 {
                let sum: Expression = vs.into_iter().sum();
                model = model.with(sum.leq(1));
            }
        }
        // Per apart rule: the members placed here within the room.
        let mut by_rule: std::collections::BTreeMap<u32, Vec<(u32, Variable, i64)>> =
            Default::default();
        for &(ty, v, most) in col {
            for &(a, w) in rules_of(members[ty][0]) {
                by_rule.entry(a).or_default().push((w, v, most));
            }
        }
        for (a, vs) in by_rule {
            let room = inst.apart[a as usize].room[t] as i64;
            let most: i64 = vs.iter().map(|&(w, _, n)| w as i64 * n).sum();
            if most <= room {
                continue; // cannot bind
            }
            let placed: Expression = vs.iter().map(|&(w, v, _)| w as f64 * v).sum();
            model = model.with(placed.leq(room as f64));
        }
    }
    // Interchangeable targets: same capacity and the same types (with the
    // same bounds). Their loads in the resource with the most demand are
    // non-increasing in target order.
    let heavy = (0..nres)
        .max_by_key(|&r| {
            (0..inst.items())
                .map(|i| inst.demand[i * nres + r])
                .sum::<i64>()
        })
        .unwrap_or(0);
    // (capacity, (type, most) per type there, room per apart rule) -> targets
    type Alike<'a> = (&'a [i64], Vec<(usize, i64)>, Vec<u32>);
    let mut classes: HashMap<Alike, Vec<usize>> = HashMap::new();
    for (t, col) in per_target.iter().enumerate() {
        let key: Vec<(usize, i64)> = col.iter().map(|&(ty, _, n)| (ty, n)).collect();
        let room: Vec<u32> = inst.apart.iter().map(|a| a.room[t]).collect();
        classes.entry((inst.cap(t), key, room)).or_default().push(t);
    }
    let load = |t: usize| -> Expression {
        per_target[t]
            .iter()
            .map(|&(ty, v, _)| demand(ty, heavy) as f64 * v)
            .sum()
    };
    let mut classes: Vec<Vec<usize>> = classes.into_values().collect();
    classes.sort_unstable();
    for class in classes.iter().filter(|c| c.len() > 1 && nres > 0) {
        for pair in class.windows(2) {
            model = model.with(load(pair[0]).geq(load(pair[1])));
        }
    }
    match model.solve() {
        Ok(solution) => {
            let mut assign = vec![u32::MAX; inst.items()];
            for (row, m) in x.iter().zip(&members) {
                let mut items = m.iter();
                for &(t, v, _) in row {
                    let n = solution.value(v).round().max(0.0) as usize;
                    for &i in items.by_ref().take(n) {
                        assign[i] = t;
                    }
                }
            }
            if inst.verify(&assign) {
                Some(Decision::Feasible(assign))
            } else if budget.expired() {
                Some(Decision::Undecided)
            } else {
                None
            }
        }
        Err(ResolutionError::Infeasible) => Some(Decision::Infeasible(Infeasible::Ilp)),
        Err(_) if budget.expired() => Some(Decision::Undecided),
        Err(_) => None,
    }
}

trait Quiet {
    fn set_verbose_off(self) -> Self;
}

impl Quiet for good_lp::solvers::highs::HighsProblem {
    fn set_verbose_off(mut self) -> Self {
        self.set_verbose(false);
        self
    }
}
