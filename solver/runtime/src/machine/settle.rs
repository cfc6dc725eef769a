//! After every event: timers and deadlines (probes, fences, inventories,
//! queries, start groups, retries), actions that went unanswered, and what
//! is due next.

use super::*;

impl Runtime {
    pub(super) fn settle(&mut self, out: &mut Output) {
        let mut wake: Option<Millis> = None;
        let mut at = |t: Millis| wake = Some(wake.map_or(t, |w: Millis| w.min(t)));
        // Requests that got no answer in time.
        self.deadlines
            .retain(|id, _| self.inflight.contains_key(id));
        let expired: Vec<ActionId> = self
            .deadlines
            .iter()
            .filter(|&(_, &d)| d <= self.now)
            .map(|(&id, _)| id)
            .collect();
        for id in expired {
            self.deadlines.remove(&id);
            if let Some(action) = self.inflight.remove(&id) {
                self.unanswered(action, out);
            }
        }
        // Reconciliation: done once every up host that answers listed its
        // VMs (or after RECONCILE_MAX_MS).
        if let Some(since) = self.reconciling {
            let missing: Vec<String> = self
                .hosts
                .iter()
                .filter(|(_, h)| h.status == HostStatus::Up && h.fails == 0 && !h.inventoried)
                .map(|(n, _)| n.clone())
                .collect();
            let deadline = since.saturating_add(RECONCILE_MAX_MS);
            if missing.is_empty() || self.now >= deadline {
                if !missing.is_empty() {
                    out.alerts
                        .push(Alert::ReconcileIncomplete { hosts: missing });
                }
                self.reconciling = None;
                self.dirty = true;
                out.notes.push(Note::Reconciled);
                // What a query found nowhere meanwhile is decided now: the
                // listings of every host that answers are in (a VM one of
                // them lists was taken where it runs). A start whose
                // outcome is unknown is made again on its host (where a
                // late landing can only meet itself) as it would be a
                // query interval later; any other VM is asked for again at
                // once.
                let now = self.now;
                for rt in self.vms.values_mut() {
                    if let Phase::Unknown {
                        id: None,
                        ask_at,
                        reconciled_away,
                        ..
                    } = &mut rt.phase
                        && *reconciled_away
                    {
                        *reconciled_away = false;
                        *ask_at = (*ask_at).min(now);
                    }
                }
                self.decide_all(out);
            } else {
                at(deadline);
            }
        }
        let acting = self.reconciling.is_none();
        // Isolation: fewer than half of the hosts not known off answer.
        let (reachable, total, unreachable) = self.electorate();
        if 2 * reachable < total {
            if !self.isolated {
                self.isolated = true;
                self.restart_fence_holds();
                out.alerts.push(Alert::RuntimeIsolated {
                    reachable,
                    hosts: total,
                    unreachable,
                });
            }
        } else if self.isolated {
            self.isolated = false;
            self.restart_fence_holds();
            out.notes.push(Note::IsolationEnded);
        }
        // Waits that ended.
        let hosts: Vec<(String, HostStatus)> = self
            .hosts
            .iter()
            .map(|(n, h)| (n.clone(), h.status.clone()))
            .collect();
        for (host, status) in hosts {
            match status {
                HostStatus::Fencing {
                    level,
                    round,
                    id,
                    deadline,
                } => {
                    if self.now >= deadline {
                        self.inflight.remove(&id);
                        let late = &mut self.hosts.get_mut(&host).expect("known").late;
                        late.insert(id, level);
                        while late.len() > LATE_FENCES_KEPT {
                            late.pop_first();
                        }
                        let agent = self.agent(&host, level);
                        self.fence_failed(&host, level, round, agent, "timed out".into(), out);
                    } else {
                        at(deadline);
                    }
                }
                HostStatus::FenceWait { round, until } => {
                    if self.now >= until {
                        self.hold_fence(&host, 0, round);
                    } else {
                        at(until);
                    }
                }
                HostStatus::FenceHold {
                    level,
                    round,
                    since,
                    ..
                } => {
                    // After a failed fence, the host itself is probed too
                    // and may be back: the next request waits for a probe
                    // of it sent since then to fail, and then for the pool
                    // to answer probes sent after that failure was seen
                    // (the runtime may have been cut off in between, and
                    // the silence be its own).
                    let (host_silent, from) = if status.held_after_a_failed_fence() {
                        let rt = &self.hosts[&host];
                        match rt.silent_seen.filter(|&t| t >= since) {
                            Some(seen) => (true, seen),
                            None => {
                                if rt.probe.is_none() && rt.probe_sent < since {
                                    // Not probed since the hold began:
                                    // asked now.
                                    self.next_probe = self.now;
                                }
                                (false, since)
                            }
                        }
                    } else {
                        (true, since)
                    };
                    if acting && !self.isolated && host_silent && self.heard_since(&host, from) {
                        self.start_fence(&host, level, round, out);
                        // Its deadline is a wake-up of this step too.
                        if let HostStatus::Fencing { deadline, .. } = self.hosts[&host].status {
                            at(deadline);
                        }
                    } else if self.unheard_since(&host, from) {
                        // Asked now, once each (a probe sent before `since`
                        // and answered since does not count).
                        self.next_probe = self.now;
                    }
                }
                _ => {}
            }
        }
        // A doubt carried by a start ends with the start.
        for rt in self.vms.values_mut() {
            if rt.doubt.is_some() && !matches!(rt.phase, Phase::Starting { .. }) {
                rt.doubt = None;
            }
        }
        // What may run on a host not confirmed off is looked for, not
        // retried or planned.
        if acting {
            self.keep_out_of_plans(out);
        }
        let vms: Vec<(String, Phase, Option<Doubt>)> = self
            .vms
            .iter()
            .map(|(n, rt)| (n.clone(), rt.phase.clone(), rt.doubt))
            .collect();
        let mut doubtful = Vec::new();
        for (vm, phase, doubt) in vms {
            match phase {
                Phase::Starting { .. } => {
                    if let Some(Doubt {
                        since,
                        alerted: false,
                    }) = doubt
                    {
                        let due = since.saturating_add(IN_DOUBT_ALERT_MS);
                        if self.now >= due {
                            doubtful.push(vm);
                        } else {
                            at(due);
                        }
                    }
                }
                Phase::Retry {
                    host,
                    attempt,
                    until,
                } => {
                    if self.now >= until && acting {
                        self.start(&vm, &host, attempt + 1, out);
                    } else if self.now < until {
                        at(until);
                    }
                }
                Phase::Stuck { until } => {
                    if self.now >= until {
                        self.repend(&vm);
                    } else {
                        at(until);
                    }
                }
                Phase::Unknown {
                    id,
                    ask_at,
                    since,
                    alerted,
                    on,
                    attempt,
                    ..
                } => {
                    // A start whose outcome is unknown can only have made
                    // it run there: started there again (a start of a VM
                    // that runs there already succeeds), never elsewhere.
                    // Unless it may run elsewhere after all (a host that
                    // came back listed it while the start was under way,
                    // an autostart copy): then it is looked for first, and
                    // found there.
                    let again = on.filter(|t| {
                        self.hosts
                            .get(t)
                            .is_some_and(|r| r.status == HostStatus::Up && r.fails == 0)
                            && self.may_run_elsewhere(&vm, Some(t)).is_none()
                    });
                    if let (None, true, Some(t), true) = (id, self.now >= ask_at, &again, acting) {
                        self.start(&vm, t, attempt.saturating_add(1), out);
                        continue;
                    }
                    if id.is_none() {
                        if self.now >= ask_at {
                            let qid = self.id();
                            if let Phase::Unknown { id, .. } =
                                &mut self.vms.get_mut(&vm).expect("known").phase
                            {
                                *id = Some(qid);
                            }
                            self.emit(
                                Action::QueryVm {
                                    id: qid,
                                    vm: vm.clone(),
                                },
                                out,
                            );
                        } else {
                            at(ask_at);
                        }
                    }
                    let due = since.saturating_add(IN_DOUBT_ALERT_MS);
                    if !alerted && self.now >= due {
                        doubtful.push(vm);
                    } else if !alerted {
                        at(due);
                    }
                }
                _ => {}
            }
        }
        if !doubtful.is_empty() {
            for vm in &doubtful {
                let rt = self.vms.get_mut(vm).expect("known");
                if let Phase::Unknown { alerted, .. } = &mut rt.phase {
                    *alerted = true;
                }
                if let Some(d) = &mut rt.doubt {
                    d.alerted = true;
                }
                // The start groups after it stop waiting for it.
                if let Some(e) = self.recovery.get_mut(vm)
                    && e.done_at.is_none()
                {
                    e.done_at = Some(self.now);
                    e.delay_ms = 0;
                }
            }
            out.alerts.push(Alert::VmsInDoubt { vms: doubtful });
        }
        // Inventories due, of hosts that answer: asked for, periodic.
        let now = self.now;
        let mut due = Vec::new();
        for (name, h) in self.hosts.iter_mut() {
            let answering =
                matches!(h.status, HostStatus::Up | HostStatus::Returning { .. }) && h.fails == 0;
            if !answering {
                continue;
            }
            if h.status == HostStatus::Up && h.inventory_next <= now && !h.inventory {
                h.inventory = true;
            }
            if !h.inventory {
                at(h.inventory_next);
                continue;
            }
            if h.inventory_at > now {
                at(h.inventory_at);
                continue;
            }
            due.push(name.clone());
        }
        for host in due {
            let asked = self
                .inflight
                .values()
                .any(|a| matches!(a, Action::Inventory { host: h, .. } if *h == host));
            if !asked {
                let id = self.id();
                let rt = self.hosts.get_mut(&host).expect("known");
                rt.inventory_next = now.saturating_add(INVENTORY_INTERVAL_MS);
                self.emit(Action::Inventory { id, host }, out);
            }
        }
        // Health checks.
        if self.now >= self.next_probe {
            let due: Vec<String> = self
                .hosts
                .iter()
                .filter(|(_, h)| {
                    h.probe.is_none()
                        && (matches!(
                            h.status,
                            HostStatus::Up
                                | HostStatus::Confirming { .. }
                                | HostStatus::Fenced
                                | HostStatus::Lost
                                | HostStatus::FenceWait { .. }
                                | HostStatus::Returning { .. }
                        ) || h.status.held_after_a_failed_fence())
                })
                .map(|(n, _)| n.clone())
                .collect();
            for host in due {
                let id = self.id();
                let rt = self.hosts.get_mut(&host).expect("known");
                rt.probe = Some(id);
                rt.probe_sent = now;
                self.emit(Action::Probe { id, host }, out);
            }
            self.next_probe = self
                .now
                .saturating_add(ms(self.pool.ha.check_interval_s).max(1));
        }
        at(self.next_probe);
        // Start pins whose VM runs where the start went: ended at the
        // start's deadline.
        for (vm, until) in self.start_pins_seen() {
            if self.now >= until {
                let pin = self.late_landings.remove(&vm).expect("pinned");
                out.notes.push(Note::LandingSeen { vm, host: pin.host });
            } else {
                at(until);
            }
        }
        // Restarts: only once reconciled.
        if acting {
            if self.dirty {
                self.replan(out);
            }
            if let Some(t) = self.pump(out) {
                at(t);
            }
            self.migrations(out);
            // A host that a drain just put in maintenance: what was planned
            // onto it is planned again.
            if self.vms.values().any(|rt| rt.phase == Phase::Pending) {
                self.replan(out);
                if let Some(t) = self.pump(out) {
                    at(t);
                }
            }
        }
        // The recovery ends when nothing in it is left to do.
        if self.recovery.values().all(|e| e.done_at.is_some())
            && !self.vms.values().any(|rt| {
                matches!(
                    rt.phase,
                    Phase::Pending
                        | Phase::Planned { .. }
                        | Phase::Starting { .. }
                        | Phase::Retry { .. }
                        | Phase::Stuck { .. }
                )
            })
        {
            self.recovery.clear();
        }
        if self.dirty {
            self.recalculate(out);
            self.dirty = false;
        }
        // The deadlines of every request in flight, those sent in this
        // step too.
        for &d in self.deadlines.values() {
            at(d);
        }
        out.wake_at = wake;
    }

    /// The runtime was just found cut off from the pool, or back in touch
    /// with it: what it saw of the hosts held for their next fence after
    /// a failed one may have been its own silence. Each such hold starts
    /// again from now: a probe of the host sent from now on must fail,
    /// then the pool answer. (The first request after a monitor's
    /// `host_down` needs no silence of the host: its hold is left as it
    /// is.)
    fn restart_fence_holds(&mut self) {
        let now = self.now;
        for rt in self.hosts.values_mut() {
            if rt.status.held_after_a_failed_fence()
                && let HostStatus::FenceHold { since, .. } = &mut rt.status
            {
                *since = now;
                rt.silent_seen = None;
            }
        }
    }

    /// `action` got no answer within its deadline: an alert, and the safe
    /// reading of the silence.
    fn unanswered(&mut self, action: Action, out: &mut Output) {
        out.alerts.push(Alert::RequestUnanswered {
            action: action.clone(),
        });
        match action {
            Action::Probe { id, host } => {
                let rt = self.hosts.get_mut(&host).expect("known");
                if rt.probe == Some(id) {
                    rt.probe = None;
                    let sent = rt.probe_sent;
                    self.health(&host, false, sent, out);
                }
            }
            Action::AskPeer { id, host, peer } => self.peer_answer(&host, id, &peer, None, out),
            Action::Fence { .. } => {}
            Action::StartVm { id, vm, host, .. } => {
                let now = self.now;
                self.start_in_doubt(id, &vm, &host, now, out);
                // Its answer may still come, late: that ends the pin.
                if let Some(l) = self.late_landings.get_mut(&vm)
                    && l.id == id
                {
                    l.answer_due = true;
                }
            }
            Action::Migrate { id, vm, from, to } => {
                if matches!(self.vms[&vm].phase, Phase::Migrating { id: x, .. } if x == id) {
                    self.migration_in_doubt(id, &vm, &from, &to, 0, out);
                    out.alerts.push(Alert::MigrationInDoubt { vm, from, to });
                }
            }
            Action::QueryVm { id, vm } => self.ask_again(id, &vm),
            Action::Inventory { host, .. } => self.inventory_failed(&host),
            Action::StopVm { id, vm, host } => {
                let rt = self.hosts.get_mut(&host).expect("known");
                rt.inventory = true;
                rt.inventory_at = 0;
                self.stop_may_land(id, &vm, &host);
            }
        }
    }
}
