//! The master problem: the most new VMs under which every failure set seen so
//! far can restart everything, as one integer program (feature `ilp`).

use super::*;

/// Relative gap at which the master problem may stop with a candidate.
#[cfg(feature = "ilp")]
const MASTER_GAP: f32 = 0.001;

/// The most variables of a master problem that is handed to the solver
/// under a time limit. Each failure set adds one per restarting VM (alike
/// VMs as one) and target host: a few thousand on 100 hosts, hundreds of
/// thousands on 1000 hosts (ROADEF B9 at 1.5x, K = 2: 400,000 after 6
/// sets, which HiGHS had not solved when a 30 s limit ran out 17 s
/// later, the process at 0.64 to 1.2 GB). Under a time limit, larger ones
/// end the search with the bounds it has; without one, the caller asked
/// for the exact answer and gets the solver's.
#[cfg(feature = "ilp")]
pub(super) const MASTER_VARIABLES: usize = 200_000;

/// What the master problem found.
#[cfg(feature = "ilp")]
enum Master {
    /// A placement that passes every failure set given (to be checked).
    Candidate(Vec<u32>),
    /// No placement of at least the count asked passes them all: a proof.
    Infeasible,
    /// The solver stopped or failed without an answer.
    Unknown,
    /// The program would have more variables than the cap (`Ctx::
    /// master_variables`): how many when it stopped counting, and the cap.
    TooLarge(usize, usize),
}

impl Ctx<'_, '_> {
    /// The master problem's loop: `true` when it settled the count (or the
    /// time ran out: `st.undecided`), `false` when the solver failed.
    #[cfg(feature = "ilp")]
    pub(super) fn solve_by_master(
        &self,
        st: &mut State,
        upper: &mut u32,
        limit: &mut Limit,
    ) -> bool {
        let mut refuted = 0;
        while st.lower < *upper && !st.undecided {
            if refuted == 2 && st.lower == 0 {
                // No placement fits yet: a lower bound from a greedy order.
                self.greedy(st, *upper, Order::MostRoom, Reach::Gallop);
                if st.lower >= *upper || st.undecided {
                    break;
                }
            }
            let n = st.lower + 1;
            match self.master(n, *upper, &st.cuts) {
                Master::Candidate(x) => match self.test(&x) {
                    Tested::Fits => st.raise(x),
                    Tested::Fails(Some(w)) if !st.cuts.contains(&w.failed) => {
                        st.refute(&x, Some(w.clone()));
                        self.repair(st, &x, &w);
                        refuted += 1;
                    }
                    Tested::Unknown => st.undecided = true,
                    // A set the program says passes fails (numerics): the
                    // loop would not progress.
                    Tested::Fails(_) => return false,
                },
                Master::Infeasible => {
                    *upper = st.lower;
                    let sets = if st.cuts.len() == 1 {
                        "the failure set".to_string()
                    } else {
                        format!("the {} failure sets", st.cuts.len())
                    };
                    let how = format!(
                        "an integer program over every placement finds none that passes {sets} \
                         that refuted the placements checked"
                    );
                    *limit = self.search_limit(n, &how, st);
                }
                Master::Unknown if self.expired() => st.undecided = true,
                Master::Unknown => return false,
                Master::TooLarge(n, most) => {
                    let sets = match st.cuts.len() {
                        1 => "the failure set".to_string(),
                        c => format!("the {c} failure sets"),
                    };
                    st.given_up = Some(format!(
                        "the search stopped: the integer program over {sets} seen grew to {n} \
                         variables (under a time limit it solves at most {most})"
                    ));
                    break;
                }
            }
        }
        true
    }
}

#[cfg(feature = "ilp")]
impl Ctx<'_, '_> {
    /// The master problem: a placement of at least `at_least` (at most
    /// `at_most`) new VMs under which every failure set of `cuts` can
    /// restart everything, as one integer program solved by HiGHS. Each
    /// set contributes its exact packing: the VMs to restart (alike VMs as
    /// one integer count per target), the new VMs of its failed hosts, and
    /// per surviving host and resource, what lands there plus its own new
    /// VMs within its spare. Every placement that passes all sets fits the
    /// program, so "infeasible" proves that none of `at_least` fits.
    fn master(&self, at_least: u32, at_most: u32, cuts: &[Vec<HostId>]) -> Master {
        use good_lp::solvers::highs::highs;
        use good_lp::{
            Expression, ProblemVariables, ResolutionError, Solution, SolverModel, Variable,
            variable,
        };
        use std::collections::HashMap;

        let an = self.an;
        let nh = self.pool.hosts.len();
        let nres = self.d.len();
        let mut vars = ProblemVariables::new();
        let x: Vec<Option<Variable>> = (0..nh)
            .map(|h| {
                (self.room[h] > 0)
                    .then(|| vars.add(variable().integer().min(0).max(self.room[h] as f64)))
            })
            .collect();
        // Constraints as (expression, sense, bound): built after the variables.
        enum Sense {
            Eq,
            Le,
        }
        let mut rows: Vec<(Expression, Sense, f64)> = Vec::new();
        for failed in cuts {
            let mask = an.mask(failed);
            let sc = an.scenario(&mask);
            let inst = &sc.instance;
            let targets = sc.hosts.len();
            // Alike VMs (demand, targets, no anti-affinity group) as one class.
            let mut classes: Vec<(usize, u32)> = Vec::new(); // (first item, count)
            let mut seen: HashMap<(&[i64], &[u32]), usize> = HashMap::new();
            for i in 0..inst.items() {
                if inst.group[i] == pack::NO_GROUP {
                    let key = (inst.demand(i), &inst.elig[i][..]);
                    if let Some(&c) = seen.get(&key) {
                        classes[c].1 += 1;
                        continue;
                    }
                    seen.insert(key, classes.len());
                }
                classes.push((i, 1));
            }
            // Per target: (demand, variable, its upper bound) of what may
            // land there.
            let mut land: Vec<Vec<(Vec<i64>, Variable, i64)>> = vec![Vec::new(); targets];
            let mut groups: HashMap<(u32, u32), Vec<Variable>> = HashMap::new();
            for &(i, count) in &classes {
                let mut sum = Expression::from(0.0);
                let mut any = false;
                for &t in inst.elig[i].iter() {
                    if !pack::fits(inst, &inst.cap, i, t as usize) {
                        continue;
                    }
                    let v = vars.add(variable().integer().min(0).max(count as f64));
                    sum += v;
                    any = true;
                    land[t as usize].push((inst.demand(i).to_vec(), v, count as i64));
                    if inst.group[i] != pack::NO_GROUP {
                        groups.entry((inst.group[i], t)).or_default().push(v);
                    }
                }
                if !any {
                    return Master::Infeasible; // even with no new VM
                }
                rows.push((sum, Sense::Eq, count as f64));
            }
            for &h in failed {
                let Some(xh) = x[h] else { continue };
                let mut sum = Expression::from(0.0);
                for (t, &host) in sc.hosts.iter().enumerate() {
                    let fits = (0..nres).all(|r| self.d[r] <= an.spare[host][r]);
                    if host == h || !self.target[host] || !fits {
                        continue;
                    }
                    let v = vars.add(variable().integer().min(0).max(self.room[h] as f64));
                    sum += v;
                    land[t].push((self.d.clone(), v, self.room[h] as i64));
                }
                rows.push((sum - xh, Sense::Eq, 0.0));
            }
            for (t, &host) in sc.hosts.iter().enumerate() {
                for r in 0..nres {
                    let own = if self.d[r] > 0 { x[host] } else { None };
                    let max: i64 = land[t].iter().map(|(d, _, ub)| d[r] * ub).sum::<i64>()
                        + own.map_or(0, |_| self.d[r] * self.room[host] as i64);
                    if max <= inst.cap(t)[r] {
                        continue; // cannot bind
                    }
                    let mut load: Expression = land[t]
                        .iter()
                        .filter(|(d, _, _)| d[r] > 0)
                        .map(|(d, v, _)| d[r] as f64 * *v)
                        .sum();
                    if let Some(xo) = own {
                        load += self.d[r] as f64 * xo;
                    }
                    rows.push((load, Sense::Le, inst.cap(t)[r] as f64));
                }
            }
            for (_, members) in groups {
                if members.len() > 1 {
                    rows.push((members.into_iter().sum(), Sense::Le, 1.0));
                }
            }
            if let Some(most) = self.master_variables.filter(|&most| vars.len() > most) {
                return Master::TooLarge(vars.len(), most);
            }
        }
        let sum_x: Expression = x.iter().flatten().copied().sum();
        let mut model = highs(vars.maximise(sum_x.clone())).set_threads(1);
        if let Some(d) = self.deadline {
            let left = d.saturating_duration_since(Instant::now()).as_secs_f64();
            if left <= 0.0 {
                return Master::Unknown;
            }
            model = model.set_time_limit(left);
        }
        model.set_verbose(false);
        // Candidates are checked anyway and only "infeasible" is a proof:
        // a candidate near the best will do.
        model = model
            .set_mip_rel_gap(MASTER_GAP)
            .expect("a valid relative gap");
        model = model.with(sum_x.clone().geq(at_least as f64));
        model = model.with(sum_x.leq(at_most as f64));
        for (e, sense, b) in rows {
            model = match sense {
                Sense::Eq => model.with(e.eq(b)),
                Sense::Le => model.with(e.leq(b)),
            };
        }
        let Some(solved) = self.solve_within(model) else {
            return Master::Unknown;
        };
        match solved {
            Ok(solution) => {
                let placement: Vec<u32> = x
                    .iter()
                    .map(|v| v.map_or(0, |v| solution.value(v).round().max(0.0) as u32))
                    .collect();
                let ok = placement.iter().zip(&self.room).all(|(c, r)| c <= r)
                    && total(&placement) >= at_least;
                if ok {
                    Master::Candidate(placement)
                } else {
                    Master::Unknown
                }
            }
            Err(ResolutionError::Infeasible) => Master::Infeasible,
            Err(_) => Master::Unknown,
        }
    }
}

#[cfg(feature = "ilp")]
impl Ctx<'_, '_> {
    /// Solves the master problem, or `None` when the deadline passes or
    /// the run is cancelled first. HiGHS has the time left as its own
    /// limit, but parts of it (its presolve of a large program) do not look
    /// at the clock: with a deadline or a cancel flag it runs on a thread
    /// of its own, which is left to finish alone (bounded by that limit)
    /// if the answer is not ready in time.
    fn solve_within(
        &self,
        model: good_lp::solvers::highs::HighsProblem,
    ) -> Option<Result<good_lp::solvers::highs::HighsSolution, good_lp::ResolutionError>> {
        use good_lp::SolverModel;
        use std::sync::mpsc::{RecvTimeoutError, channel};
        if self.deadline.is_none() && self.cancel.is_none() {
            return Some(model.solve());
        }
        let (tx, rx) = channel();
        std::thread::Builder::new()
            .name("haplan-master".to_string())
            .spawn(move || {
                // Nobody may be waiting any more.
                let _ = tx.send(model.solve());
            })
            .ok()?;
        const TICK: Duration = Duration::from_millis(50);
        loop {
            let wait = self.deadline.map_or(TICK, |d| {
                d.saturating_duration_since(Instant::now()).min(TICK)
            });
            match rx.recv_timeout(wait) {
                Ok(solved) => return Some(solved),
                Err(RecvTimeoutError::Timeout) if self.expired() => return None,
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return None,
            }
        }
    }
}
