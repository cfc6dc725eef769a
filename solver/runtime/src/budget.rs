//! The time budget of the runtime's exact checks, and how a check that ran
//! out of it is logged and replayed.
//!
//! The exact questions the runtime asks while it handles an event (the
//! tolerance after a change, the restart plan and the tolerance each
//! candidate plan leaves, whether a drain or a failback keeps k) can take
//! minutes on a large or hard pool, and the runtime answers one event at a
//! time: while a check runs, no probe answer is read and no host is fenced.
//! Each such check therefore gets a wall-clock budget
//! ([`Runtime::set_check_budget`](crate::Runtime::set_check_budget),
//! [`DEFAULT_CHECK_BUDGET`] by default). A check that does not decide
//! within it is *undecided*: it keeps what it proved (bounds, a witness),
//! claims nothing more, and its outcome is written into the step's
//! output ([`Output::undecided`](crate::Output::undecided)). Whether a
//! check decides in time depends on the machine and its load, so when a
//! log is replayed, an undecided check is not run again: its logged
//! outcome is taken (the `check`-th check of that step), and a check that
//! decided is run again without a limit (it decides, and the same way:
//! its answer does not depend on time or threads). The replayed outputs
//! are then those logged, whatever the machine.
//!
//! The first recalculation when a runtime is built from a pool file has
//! the budget too: its undecided checks are in the first output's
//! `undecided`, kept in the log's first line, and taken on replay.
//! Admission checks ([`Runtime::check_operation`](crate::Runtime::check_operation))
//! have the budget and are not logged (they change nothing).

use std::cell::RefCell;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use haplan::agility::NotAgile;
use haplan::model::Pool;
use haplan::pack::Budget;
use haplan::plan::{self, Plan, Scope};
use haplan::scenario::Analysis;
use haplan::tolerance::{self, CheckOptions, Tolerates};

/// The wall-clock time each exact check of a step may take by default.
pub const DEFAULT_CHECK_BUDGET: Duration = Duration::from_secs(5);

/// What an exact check was for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckUse {
    /// The pool's tolerance after a change (alerts, `tolerance` note).
    Tolerance,
    /// The restart plan of the VMs awaiting a target.
    Plan,
    /// The tolerance a candidate restart plan leaves (to choose among
    /// candidates).
    PlanTolerance,
    /// Whether a drain's migrations keep k.
    Drain,
    /// Whether a failback migration keeps k.
    Failback,
}

/// A check of a step that did not decide within its budget, as the log
/// keeps it: enough to give the same answer on replay without running it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Undecided {
    /// Which exact check of the step it was (0 for the first the step made).
    pub check: u32,
    /// What it was for.
    pub what: CheckUse,
    /// A tolerance check: the tolerance proved (a lower bound).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lower: Option<u32>,
    /// A tolerance check: the upper bound proved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upper: Option<u32>,
    /// A tolerance check: proved that the VMs of hosts already down cannot
    /// all be restarted.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stranded_now: bool,
    /// A tolerance check: a failure set it proved fails, if it found one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub witness: Option<LoggedWitness>,
}

/// A witness of a failing set, by name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoggedWitness {
    /// The hosts of the set.
    pub failed_hosts: Vec<String>,
    /// The protected VMs it strands (empty when not worked out).
    pub stranded_vms: Vec<String>,
    /// Why the set fails.
    pub reason: String,
}

/// What a tolerance check gave the runtime.
#[derive(Clone, Debug)]
pub(crate) struct Tolerance {
    pub configured: u32,
    /// The tolerance proved (the exact tolerance when `lower == upper`).
    pub lower: u32,
    /// The upper bound proved.
    pub upper: u32,
    /// Whether the check decided within its budget.
    pub decided: bool,
    pub stranded_now: bool,
    pub witness: Option<LoggedWitness>,
    pub not_agile: Vec<NotAgile>,
}

#[derive(Clone, Copy)]
enum Kind {
    Step,
    Query,
}

/// How one check is to be made.
enum Mode {
    /// Run it to the end (outside a step, or a decided check on replay).
    Unlimited,
    /// Run it within the budget; record it if it does not decide.
    Within(Duration),
    /// Within the budget, not recorded (an admission question).
    Query(Duration),
    /// Take the logged outcome (an undecided check on replay).
    Logged(Undecided),
}

#[derive(Clone, Debug)]
enum State {
    /// Not in a step: checks run without a budget.
    Idle,
    /// In a step: checks are counted, and undecided ones recorded.
    Step {
        n: u32,
        made: Vec<Undecided>,
        /// Replaying: the step's logged undecided checks.
        logged: Option<Vec<Undecided>>,
    },
    /// Answering an admission question.
    Query,
}

/// The budget of a runtime's checks and what the current step made of it.
#[derive(Clone, Debug)]
pub(crate) struct Checks {
    budget: Option<Duration>,
    state: RefCell<State>,
}

impl Default for Checks {
    fn default() -> Checks {
        Checks {
            budget: Some(DEFAULT_CHECK_BUDGET),
            state: RefCell::new(State::Idle),
        }
    }
}

impl Checks {
    pub fn budget(&self) -> Option<Duration> {
        self.budget
    }

    pub fn set_budget(&mut self, budget: Option<Duration>) {
        self.budget = budget;
    }

    /// A step begins; `logged` are its undecided checks when it is replayed.
    pub fn begin(&self, logged: Option<Vec<Undecided>>) {
        *self.state.borrow_mut() = State::Step {
            n: 0,
            made: Vec::new(),
            logged,
        };
    }

    /// The step ends: its undecided checks.
    pub fn end(&self) -> Vec<Undecided> {
        match std::mem::replace(&mut *self.state.borrow_mut(), State::Idle) {
            State::Step { made, .. } => made,
            _ => Vec::new(),
        }
    }

    /// Runs `f` as an admission question: checks have the budget, nothing
    /// is recorded.
    pub fn query<T>(&self, f: impl FnOnce() -> T) -> T {
        let was = std::mem::replace(&mut *self.state.borrow_mut(), State::Query);
        let out = f();
        *self.state.borrow_mut() = was;
        out
    }

    fn mode(&self) -> (u32, Mode) {
        let mut state = self.state.borrow_mut();
        match &mut *state {
            State::Idle => (0, Mode::Unlimited),
            State::Query => (0, self.budget.map_or(Mode::Unlimited, Mode::Query)),
            State::Step { n, logged, .. } => {
                let check = *n;
                *n += 1;
                let mode = match logged {
                    Some(logged) => match logged.iter().find(|u| u.check == check) {
                        Some(u) => Mode::Logged(u.clone()),
                        None => Mode::Unlimited,
                    },
                    None => self.budget.map_or(Mode::Unlimited, Mode::Within),
                };
                (check, mode)
            }
        }
    }

    fn record(&self, u: Undecided) {
        if let State::Step { made, .. } = &mut *self.state.borrow_mut() {
            made.push(u);
        }
    }

    /// The tolerance of `pool`.
    pub fn tolerance(&self, pool: &Pool, what: CheckUse) -> Tolerance {
        let (check, mode) = self.mode();
        let limit = match mode {
            Mode::Logged(u) => {
                let an = Analysis::new(pool);
                let lower = u.lower.unwrap_or(0);
                let t = Tolerance {
                    configured: pool.ha.host_failures_to_tolerate,
                    lower,
                    upper: u.upper.unwrap_or(lower),
                    decided: false,
                    stranded_now: u.stranded_now,
                    witness: u.witness.clone(),
                    not_agile: if an.failover {
                        an.agility.not_agile.clone()
                    } else {
                        Vec::new()
                    },
                };
                self.record(Undecided { what, ..u });
                return t;
            }
            Mode::Unlimited => None,
            Mode::Within(d) | Mode::Query(d) => Some(d),
        };
        let start = Instant::now();
        let report = tolerance::check(
            pool,
            &CheckOptions {
                time_limit: limit,
                ..CheckOptions::default()
            },
        );
        let witness = report.witness.as_ref().map(|w| LoggedWitness {
            failed_hosts: w
                .failed
                .iter()
                .map(|&h| pool.hosts[h].name.clone())
                .collect(),
            stranded_vms: w
                .unplaced
                .iter()
                .map(|&v| pool.vms[v].name.clone())
                .collect(),
            reason: w.reason.clone(),
        });
        // A check that reached its limit may have cut something short (a
        // witness's explanation): it counts as undecided, whatever it says.
        let decided = report.exact && limit.is_none_or(|d| start.elapsed() < d);
        let t = Tolerance {
            configured: report.configured,
            lower: report.max_tolerable,
            upper: report.upper_bound.max(report.max_tolerable),
            decided,
            stranded_now: report.stranded_now,
            witness,
            not_agile: report.not_agile,
        };
        if !decided {
            self.record(Undecided {
                check,
                what,
                lower: Some(t.lower),
                upper: Some(t.upper),
                stranded_now: t.stranded_now,
                witness: t.witness.clone(),
            });
        }
        t
    }

    /// Whether `pool` tolerates `k` failures; [`Tolerates::Unknown`] when the
    /// check did not decide within its budget.
    pub fn tolerates(&self, pool: &Pool, k: u32, what: CheckUse) -> Tolerates {
        let (check, mode) = self.mode();
        let mode_kind = match mode {
            Mode::Query(_) => Kind::Query,
            _ => Kind::Step,
        };
        let limit = match mode {
            Mode::Logged(u) => {
                self.record(Undecided { what, ..u });
                return Tolerates::Unknown;
            }
            Mode::Unlimited => None,
            Mode::Within(d) | Mode::Query(d) => Some(d),
        };
        let start = Instant::now();
        let budget = Budget {
            deadline: limit.map(|d| start + d),
            cancel: None,
        };
        let answer = tolerance::tolerates(pool, k, &budget);
        // A step's check that reached its limit counts as undecided (a
        // replay must give the same answer, witness and all); a question
        // that is not logged keeps any answer it proved.
        let in_time = limit.is_none_or(|d| start.elapsed() < d) || matches!(mode_kind, Kind::Query);
        let decided = answer != Tolerates::Unknown && in_time;
        if decided {
            return answer;
        }
        self.record(Undecided {
            check,
            what,
            lower: None,
            upper: None,
            stranded_now: false,
            witness: None,
        });
        Tolerates::Unknown
    }

    /// The restart plan of `an`'s pool (nothing failed beyond what is
    /// down): the exact plan when it is decided within the budget, else the
    /// plan of a fixed effort ([`plan::plan_bounded`]), which is the same
    /// on every run; either way only placements the checker accepts.
    /// The second value is false when the exact plan was not decided.
    pub fn plan(&self, an: &Analysis, scope: Scope) -> (Plan, bool) {
        let (check, mode) = self.mode();
        let limit = match mode {
            Mode::Logged(u) => {
                self.record(Undecided {
                    what: CheckUse::Plan,
                    ..u
                });
                return (bounded(an, scope), false);
            }
            Mode::Unlimited => None,
            Mode::Within(d) | Mode::Query(d) => Some(d),
        };
        let start = Instant::now();
        let budget = Budget {
            deadline: limit.map(|d| start + d),
            cancel: None,
        };
        let exact = plan::plan(an, &[], scope, &budget);
        if exact.exact && limit.is_none_or(|d| start.elapsed() < d) {
            return (exact, true);
        }
        self.record(Undecided {
            check,
            what: CheckUse::Plan,
            lower: None,
            upper: None,
            stranded_now: false,
            witness: None,
        });
        (bounded(an, scope), false)
    }
}

/// Why a VM has no target in a plan the checker refused.
const UNVERIFIED: &str = "no restart plan was decided within the check budget";

/// The fixed-effort plan, if the checker accepts it; else no placement.
fn bounded(an: &Analysis, scope: Scope) -> Plan {
    let mut p = plan::plan_bounded(an, &[], scope);
    if plan::verify(an.pool, &p).is_err() {
        let left: Vec<plan::Unplaced> = p
            .placements
            .drain(..)
            .map(|pl| plan::Unplaced {
                vm: pl.vm,
                reason: UNVERIFIED.to_string(),
            })
            .collect();
        p.unplaced.extend(left);
        p.soft_broken.clear();
        p.exact = false;
    }
    p
}

/// A check budget in words (`5 s`, `250 ms`, `no limit`).
pub(crate) fn budget_words(budget: Option<Duration>) -> String {
    match budget {
        None => "no limit".into(),
        Some(d) if d.subsec_millis() == 0 => format!("{} s", d.as_secs()),
        Some(d) => format!("{} ms", d.as_millis()),
    }
}
