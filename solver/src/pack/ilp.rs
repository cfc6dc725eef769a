//! The last resort: a 0-1 ILP solved by HiGHS through good_lp.
//!
//! x[i][t] = 1 when item i goes to target t (eligible pairs only);
//! each item on exactly one target; per target and resource, the demand
//! placed fits; per target and anti-affinity group, at most one member.
//! Feasibility only: the objective is 0.

use std::time::Instant;

use good_lp::solvers::highs::highs;
use good_lp::{
    Expression, ProblemVariables, ResolutionError, Solution, SolverModel, Variable, variable,
};

use super::{Budget, Decision, Infeasible, Instance, NO_GROUP, fits};

/// HiGHS's thread count is process-global; every model asks for the same.
const THREADS: u32 = 1;

/// `None` when the solver failed without proving anything either way.
pub fn solve(inst: &Instance, budget: &Budget) -> Option<Decision> {
    let nres = inst.nres;
    let targets = inst.targets();
    let mut vars = ProblemVariables::new();
    // (item, target, variable) for every pair where the item fits alone.
    let mut x: Vec<Vec<(u32, Variable)>> = Vec::with_capacity(inst.items());
    for i in 0..inst.items() {
        let row = inst.elig[i]
            .iter()
            .copied()
            .filter(|&t| fits(inst, &inst.cap, i, t as usize))
            .map(|t| (t, vars.add(variable().binary())))
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
    for row in &x {
        let sum: Expression = row.iter().map(|&(_, v)| v).sum();
        model = model.with(sum.eq(1));
    }
    let mut per_target: Vec<Vec<(usize, Variable)>> = vec![Vec::new(); targets];
    for (i, row) in x.iter().enumerate() {
        for &(t, v) in row {
            per_target[t as usize].push((i, v));
        }
    }
    for t in 0..targets {
        let col = &per_target[t];
        if col.is_empty() {
            continue;
        }
        for r in 0..nres {
            let total: i64 = col.iter().map(|&(i, _)| inst.demand[i * nres + r]).sum();
            if total <= inst.cap[t * nres + r] {
                continue; // cannot bind
            }
            let load: Expression = col
                .iter()
                .filter(|&&(i, _)| inst.demand[i * nres + r] > 0)
                .map(|&(i, v)| inst.demand[i * nres + r] as f64 * v)
                .sum();
            model = model.with(load.leq(inst.cap[t * nres + r] as f64));
        }
        let mut by_group: std::collections::BTreeMap<u32, Vec<Variable>> = Default::default();
        for &(i, v) in col {
            if inst.group[i] != NO_GROUP {
                by_group.entry(inst.group[i]).or_default().push(v);
            }
        }
        for (_, members) in by_group {
            if members.len() > 1 {
                let sum: Expression = members.into_iter().sum();
                model = model.with(sum.leq(1));
            }
        }
    }
    match model.solve() {
        Ok(solution) => {
            let assign: Vec<u32> = x
                .iter()
                .map(|row| {
                    row.iter()
                        .find(|&&(_, v)| solution.value(v) > 0.5)
                        .map_or(u32::MAX, |&(t, _)| t)
                })
                .collect();
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
