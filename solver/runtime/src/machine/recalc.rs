//! The tolerance the runtime knows, recalculated when the pool changed, and
//! the alerts it raises.

use super::*;

impl Runtime {
    /// Recomputes the tolerance and raises what changed.
    pub(super) fn recalculate(&mut self, out: &mut Output) {
        let (pp, _) = self.planning_pool();
        let report = tolerance::check(&pp, &CheckOptions::default());
        let now = Known {
            configured: report.configured,
            max_tolerable: report.max_tolerable,
            stranded_now: report.stranded_now,
        };
        let was = self.known.clone();
        let overcommitted = |k: &Known| k.stranded_now || k.max_tolerable < k.configured;
        if was.as_ref() != Some(&now) {
            out.notes.push(Note::Tolerance {
                configured: now.configured,
                max_tolerable: now.max_tolerable,
            });
        }
        if let Some(w) = &was {
            if now.max_tolerable < w.max_tolerable {
                out.alerts.push(Alert::ToleranceDropped {
                    from: w.max_tolerable,
                    to: now.max_tolerable,
                });
            }
        }
        let newly_over = overcommitted(&now)
            && was.as_ref().is_none_or(|w| {
                !overcommitted(w)
                    || w.configured != now.configured
                    || now.max_tolerable < w.max_tolerable
            });
        if newly_over {
            let w = report.witness.as_ref();
            out.alerts.push(Alert::Overcommitted {
                configured: now.configured,
                max_tolerable: now.max_tolerable,
                failed_hosts: w
                    .map(|w| w.failed.iter().map(|&h| pp.hosts[h].name.clone()).collect())
                    .unwrap_or_default(),
                stranded_vms: w
                    .map(|w| w.unplaced.iter().map(|&v| pp.vms[v].name.clone()).collect())
                    .unwrap_or_default(),
                reason: w.map(|w| w.reason.clone()).unwrap_or_default(),
            });
        }
        if now.max_tolerable == 0 && was.as_ref().is_none_or(|w| w.max_tolerable > 0) {
            out.alerts.push(Alert::ZeroTolerable);
        }
        if !overcommitted(&now) && was.as_ref().is_some_and(overcommitted) {
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
