//! The tolerance the runtime knows, recalculated when the pool changed, and
//! the alerts it raises.

use super::*;

impl Runtime {
    /// Recomputes the tolerance and raises what changed.
    pub(super) fn recalculate(&mut self, out: &mut Output) {
        let (pp, _) = self.planning_pool();
        let report = self.checks.tolerance(&pp, CheckUse::Tolerance);
        // Undecided within the budget: only what was proved is claimed.
        let now = Known {
            configured: report.configured,
            max_tolerable: report.lower,
            stranded_now: report.stranded_now,
            upper_bound: (!report.decided && report.upper != report.lower).then_some(report.upper),
        };
        let was = self.known.clone();
        let upper = |k: &Known| k.upper_bound.unwrap_or(k.max_tolerable);
        // Proved short: VMs of hosts down stranded, or a failing set of at
        // most k hosts found.
        let overcommitted = |k: &Known| k.stranded_now || upper(k) < k.configured;
        // Not proved either way.
        let short_undecided = |k: &Known| {
            !k.stranded_now && k.max_tolerable < k.configured && upper(k) >= k.configured
        };
        if was.as_ref() != Some(&now) {
            out.notes.push(Note::Tolerance {
                configured: now.configured,
                max_tolerable: now.max_tolerable,
                upper_bound: now.upper_bound,
            });
        }
        if short_undecided(&now)
            && was.as_ref().is_none_or(|w| {
                !short_undecided(w)
                    || w.configured != now.configured
                    || (w.max_tolerable, upper(w)) != (now.max_tolerable, upper(&now))
            })
        {
            out.alerts.push(Alert::ToleranceUndecided {
                configured: now.configured,
                lower: now.max_tolerable,
                upper: upper(&now),
                reason: "the exact check did not decide within its time budget".into(),
            });
        }
        if let Some(w) = &was {
            // A drop is claimed only when the new tolerance is exact (and
            // below the tolerance proved before).
            if now.upper_bound.is_none() && now.max_tolerable < w.max_tolerable {
                out.alerts.push(Alert::ToleranceDropped {
                    from: w.max_tolerable,
                    to: now.max_tolerable,
                });
            }
        }
        let newly_over = overcommitted(&now)
            && was.as_ref().is_none_or(|w| {
                !overcommitted(w) || w.configured != now.configured || upper(&now) < upper(w)
            });
        if newly_over {
            let w = report.witness.as_ref();
            out.alerts.push(Alert::Overcommitted {
                configured: now.configured,
                max_tolerable: now.max_tolerable,
                failed_hosts: w.map(|w| w.failed_hosts.clone()).unwrap_or_default(),
                stranded_vms: w.map(|w| w.stranded_vms.clone()).unwrap_or_default(),
                reason: w.map(|w| w.reason.clone()).unwrap_or_default(),
            });
        }
        if upper(&now) == 0 && was.as_ref().is_none_or(|w| upper(w) > 0) {
            out.alerts.push(Alert::ZeroTolerable);
        }
        // Restored only when proved: k guaranteed after it was not.
        let guaranteed = |k: &Known| !overcommitted(k) && !short_undecided(k);
        if guaranteed(&now) && was.as_ref().is_some_and(|w| !guaranteed(w)) {
            out.alerts.push(Alert::PlanRestored {
                configured: now.configured,
                max_tolerable: now.max_tolerable,
            });
        }
        self.known = Some(now);
        // Protected VMs that cannot be restarted anywhere else.
        let mut not_agile = BTreeSet::new();
        for na in &report.not_agile {
            let name = pp.vms[na.vm].name.clone();
            if !self.alerted_not_agile.contains(&name) {
                out.alerts.push(Alert::NotAgile {
                    vm: name.clone(),
                    reasons: na.reasons.clone(),
                });
            }
            not_agile.insert(name);
        }
        self.alerted_not_agile = not_agile;
    }
}
