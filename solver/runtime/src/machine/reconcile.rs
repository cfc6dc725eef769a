//! Reconciliation: resuming from the log, inventories of the hosts, VMs
//! whose location is in doubt and the queries that find them, sightings
//! and duplicate copies.

use super::*;

impl Runtime {
    /// The answer to inventory `id` of `host`: the VMs it runs and the
    /// amounts it measured, unless `failed`.
    pub(super) fn inventory_answered(
        &mut self,
        id: ActionId,
        host: &str,
        vms: &[String],
        failed: bool,
        demand: &BTreeMap<String, BTreeMap<String, i64>>,
        out: &mut Output,
    ) {
        if self.take(id).is_some() {
            if failed {
                self.inventory_failed(host);
            } else {
                // A stop without an answer whose host, listed after it, no
                // longer runs the copy: done (or the copy gone anyway).
                self.end_late_stops(|vm, h, stop| {
                    h != host || stop > id || vms.iter().any(|x| x == vm)
                });
                self.inventory(id, host, vms, out);
                self.amounts_seen(host, vms, demand, out);
            }
        }
    }

    /// A stop `id` of the copy of `vm` on `host` got no answer in time:
    /// it may still land.
    pub(super) fn stop_may_land(&mut self, id: ActionId, vm: &str, host: &str) {
        self.late_stops
            .entry(vm.to_string())
            .or_default()
            .entry(host.to_string())
            .or_default()
            .insert(id);
    }

    /// The answer to stopping the copy `id` of `vm` on `host`.
    pub(super) fn stop_answered(
        &mut self,
        id: ActionId,
        vm: &str,
        host: &str,
        ok: bool,
        error: Option<&str>,
        out: &mut Output,
    ) {
        // A late answer ends that stop (not another one of the same copy,
        // which may still land).
        let late = self
            .late_stops
            .get(vm)
            .and_then(|on| on.get(host))
            .is_some_and(|ids| ids.contains(&id));
        if late {
            self.end_late_stops(|_, _, stop| stop != id);
            if ok && let Some(rt) = self.hosts.get_mut(host) {
                rt.seen.remove(vm);
                out.notes.push(Note::DuplicateStopped {
                    vm: vm.to_string(),
                    host: host.to_string(),
                });
            }
        }
        if self.take(id).is_some() {
            let rt = self.hosts.get_mut(host).expect("checked");
            if ok {
                rt.seen.remove(vm);
                out.notes.push(Note::DuplicateStopped {
                    vm: vm.to_string(),
                    host: host.to_string(),
                });
            } else {
                // Whether it still runs there: its host says.
                rt.inventory = true;
                rt.inventory_at = 0;
                out.notes.push(Note::Ignored {
                    reason: format!(
                        "stopping the copy of {vm} on {host} failed: {}",
                        error.unwrap_or("failed")
                    ),
                });
            }
        }
    }

    /// Starts (or restarts) reconciliation: every up host is to be
    /// inventoried before the runtime acts.
    pub(super) fn reconcile(&mut self) {
        self.reconciling = Some(self.now);
        for h in self.hosts.values_mut() {
            h.inventoried = false;
            if matches!(h.status, HostStatus::Up | HostStatus::Returning { .. }) {
                h.inventory = true;
                h.inventory_at = 0;
            }
        }
    }

    /// After a restart of the runtime from its log: probes and peer
    /// questions in flight are forgotten, fences in flight are sent again
    /// (fencing a host that is off is harmless), and VMs whose start or
    /// migration was in flight are looked for once every such action has
    /// settled, before anything else is done with them.
    pub(super) fn restarted(&mut self, out: &mut Output) {
        // No answer to the old process comes any more.
        for l in self.late_landings.values_mut() {
            l.answer_due = false;
        }
        let inflight = std::mem::take(&mut self.inflight);
        for h in self.hosts.values_mut() {
            h.probe = None;
            h.silent_seen = None;
        }
        for action in inflight.into_values() {
            match action {
                Action::Probe { .. } => {}
                Action::AskPeer { id, host, .. } => {
                    // Still waiting for that answer: asked again later. A
                    // host declared down since stays down.
                    if let Some(h) = self.hosts.get_mut(&host)
                        && matches!(h.status, HostStatus::Confirming { id: Some(x), .. } if x == id)
                    {
                        h.status = HostStatus::Up;
                    }
                }
                Action::StopVm { id, vm, host } => {
                    // Whether that copy still runs: its host says. The stop
                    // may still land meanwhile.
                    if let Some(h) = self.hosts.get_mut(&host) {
                        h.inventory = true;
                    }
                    self.stop_may_land(id, &vm, &host);
                }
                Action::Fence { host, level, .. } => {
                    // Sent again once the resumed runtime hears from half
                    // of the pool: it may have been cut off meanwhile.
                    let round = match self.hosts[&host].status {
                        HostStatus::Fencing { round, .. } => round,
                        _ => 0,
                    };
                    self.hold_fence(&host, level, round);
                    // Tried already: the host is probed while held, and
                    // back if it answers (it may have been repaired while
                    // the runtime was away or cut off; seed 330783).
                    if let HostStatus::FenceHold { resumed, .. } =
                        &mut self.hosts.get_mut(&host).expect("known").status
                    {
                        *resumed = true;
                    }
                }
                Action::Inventory { .. } => {}
                Action::StartVm {
                    id,
                    vm,
                    host,
                    attempt,
                } => {
                    // Settled by the hosts, not by waiting: the
                    // reconciliation lists them (it runs where a host lists
                    // it), then, listed nowhere, it is started again on the
                    // same host, where a start that lands late can only meet
                    // itself (docs/runtime.md, "A start is never assumed
                    // failed"). The old process's driver makes no start after
                    // the action's deadline, which ends the pin.
                    let deadline = self.deadlines.get(&id).copied().unwrap_or(self.now);
                    let pin = Landing::start(id, &host, deadline);
                    self.late_landings.insert(vm.clone(), pin);
                    self.in_doubt(&vm, Some(host), attempt, 0, out)
                }
                Action::Migrate { id, vm, from, to } => {
                    self.migration_in_doubt(id, &vm, &from, &to, SETTLE_MS, out)
                }
                Action::QueryVm { vm, .. } => {
                    let (on, attempt) = match &self.vms.get(&vm).map(|r| &r.phase) {
                        Some(Phase::Unknown { on, attempt, .. }) => (on.clone(), *attempt),
                        _ => (None, 0),
                    };
                    self.in_doubt(&vm, on, attempt, SETTLE_MS, out);
                }
            }
        }
        self.deadlines.clear();
        // Answers heard before the restart do not release a held fence.
        let now = self.now;
        for h in self.hosts.values_mut() {
            if let HostStatus::FenceHold { since, .. } = &mut h.status {
                *since = now;
            }
        }
        // What happened while nobody listened: every up host's VMs, before
        // anything is done.
        self.reconcile();
        // A drain or failback in progress resumes from where it was.
    }

    /// `vm`'s location is not known: it is looked for after `wait` (a
    /// start on `on`, attempt `attempt`, may still complete).
    pub(super) fn in_doubt(
        &mut self,
        vm: &str,
        on: Option<String>,
        attempt: u32,
        wait: Millis,
        out: &mut Output,
    ) {
        let now = self.now;
        let Some(rt) = self.vms.get_mut(vm) else {
            return;
        };
        let (since, alerted, migration) = match (&rt.phase, rt.doubt) {
            (
                Phase::Unknown {
                    since,
                    alerted,
                    migration,
                    ..
                },
                _,
            ) => (*since, *alerted, migration.clone()),
            (Phase::Starting { .. }, Some(d)) => (d.since, d.alerted, None),
            _ => (now, false, None),
        };
        if !matches!(rt.phase, Phase::Unknown { .. }) {
            out.notes.push(Note::VmInDoubt {
                vm: vm.to_string(),
                host: on.clone(),
            });
        }
        rt.phase = Phase::Unknown {
            id: None,
            ask_at: now.saturating_add(wait),
            on,
            attempt,
            since,
            alerted,
            migration,
            missing: false,
            failed_late: None,
            reconciled_away: false,
        };
    }

    /// The live migration of `vm` from `from` to `to` has no known outcome
    /// (no answer in time, or the runtime stopped meanwhile): it may run on
    /// either host. It is looked for after `wait`, and both hosts are
    /// listed again.
    pub(super) fn migration_in_doubt(
        &mut self,
        id: ActionId,
        vm: &str,
        from: &str,
        to: &str,
        wait: Millis,
        out: &mut Output,
    ) {
        self.in_doubt(vm, None, 0, wait, out);
        let pin = Landing::migration(id, from, to, self.now);
        self.late_landings.insert(vm.to_string(), pin);
        if let Some(rt) = self.vms.get_mut(vm)
            && let Phase::Unknown { migration, .. } = &mut rt.phase
        {
            *migration = Some((from.to_string(), to.to_string()));
        }
        for host in [from, to] {
            if let Some(h) = self.hosts.get_mut(host) {
                h.inventory = true;
                h.inventory_at = 0;
            }
        }
    }

    /// Reconciles the record with what `host` lists running (the answer to
    /// its inventory `id`): a VM found where the record does not have it is
    /// taken where it runs (or, if the record has it running on another
    /// host that answers, suspected of running twice); a VM the record has
    /// there and the listing lacks is in doubt and looked for. A returning
    /// host counts as up from here on.
    pub(super) fn inventory(
        &mut self,
        id: ActionId,
        host: &str,
        running: &[String],
        out: &mut Output,
    ) {
        let Some(h) = self.pool.host_by_name(host) else {
            return;
        };
        let status = self.hosts[host].status.clone();
        if !matches!(
            status,
            HostStatus::Up | HostStatus::Confirming { .. } | HostStatus::Returning { .. }
        ) {
            return;
        }
        let listed: BTreeSet<String> = running
            .iter()
            .filter(|n| self.vms.contains_key(*n))
            .cloned()
            .collect();
        {
            let rt = self.hosts.get_mut(host).expect("known");
            rt.seen = listed.clone();
            rt.inventory_done = rt.inventory_done.max(id);
            rt.inventoried = true;
            rt.inventory = false;
            rt.inventory_next = self.now.saturating_add(INVENTORY_INTERVAL_MS);
        }
        if let HostStatus::Returning { fenced } = status {
            self.host_returned(host, fenced, out);
        }
        for v in 0..self.pool.vms.len() {
            let name = self.pool.vms[v].name.clone();
            let phase = self.vms[&name].phase.clone();
            let rec = self.pool.vms[v].host;
            let active = self.pool.vms[v].power.is_active();
            if listed.contains(&name) {
                match phase {
                    Phase::Steady | Phase::Held => {
                        if rec == h && active {
                            continue;
                        }
                        let rec_name = &self.pool.hosts[rec].name;
                        let elsewhere =
                            rec != h && active && phase == Phase::Steady && self.answers(rec_name);
                        if elsewhere {
                            let hosts = [host.to_string(), rec_name.clone()].into();
                            self.suspect_duplicate(&name, hosts, out);
                        } else {
                            self.adopt(v, h, out);
                        }
                    }
                    Phase::Pending
                    | Phase::Planned { .. }
                    | Phase::Stuck { .. }
                    | Phase::Retry { .. }
                    | Phase::Unknown { .. } => self.adopt(v, h, out),
                    // The start's answer (or its deadline) decides; a copy
                    // here beside it is a duplicate once it runs.
                    Phase::Starting { .. } | Phase::Migrating { .. } => {}
                }
            } else if rec == h
                && active
                && let Phase::Unknown {
                    failed_late: Some(after),
                    missing: false,
                    migration: Some((ref source, _)),
                    ..
                } = phase
                && source == host
            {
                if id >= after {
                    // Its migration failed late, and its source, listed
                    // since, does not run it: missing from its host.
                    if let Some(rt) = self.vms.get_mut(&name)
                        && let Phase::Unknown { missing, .. } = &mut rt.phase
                    {
                        *missing = true;
                    }
                } else if let Some(rt) = self.hosts.get_mut(host) {
                    // A listing asked before the failure came: another one.
                    rt.inventory = true;
                    rt.inventory_at = 0;
                }
            } else if rec == h && active && phase == Phase::Steady {
                // Not where the record has it: moved unseen (another host
                // that answers lists it, or a query finds it), or it
                // crashed there, and is restarted there first (a copy that
                // moved to a host that does not answer is a duplicate once
                // that host answers).
                let elsewhere = self
                    .hosts
                    .iter()
                    .find(|(n, r)| *n != host && self.answers(n) && r.seen.contains(&name))
                    .and_then(|(n, _)| self.pool.host_by_name(n));
                match elsewhere {
                    Some(g) => self.adopt(v, g, out),
                    // Hosts not listed yet may run it (moved while nobody
                    // listened): looked for, and started again on its own
                    // host only once every host that answers was listed.
                    None if self.reconciling.is_some() => {
                        self.in_doubt(&name, Some(host.to_string()), 0, 0, out)
                    }
                    // The other hosts' listings may be older than a move
                    // (a migration that completed unseen): looked for on
                    // every host before it is taken for crashed.
                    None => {
                        self.in_doubt(&name, None, 0, 0, out);
                        if let Some(rt) = self.vms.get_mut(&name)
                            && let Phase::Unknown { missing, .. } = &mut rt.phase
                        {
                            *missing = true;
                        }
                    }
                }
            }
        }
        self.check_duplicates(out);
        // A suspicion that this listing was too old to decide (asked before
        // it) needs another one.
        if self
            .duplicates
            .values()
            .any(|c| c.hosts.contains(host) && c.after > id)
        {
            let rt = self.hosts.get_mut(host).expect("known");
            rt.inventory = true;
            rt.inventory_at = 0;
        }
    }

    /// `vm` runs on `h` (a listing or a late answer says so): the record
    /// follows, and its restart, if one was due, is over.
    pub(super) fn adopt(&mut self, v: VmId, h: HostId, out: &mut Output) {
        let name = self.pool.vms[v].name.clone();
        let host = self.pool.hosts[h].name.clone();
        out.notes.push(Note::VmFound {
            vm: name.clone(),
            host: Some(host.clone()),
        });
        // Still on the host a migration whose outcome was unknown left: as
        // a failed migration, the drain of that host stops there.
        if let Phase::Unknown {
            migration: Some((from, to)),
            ..
        } = &self.vms[&name].phase
            && *from == host
            && let Some(rt) = self.hosts.get_mut(&host)
            && rt.drain.take().is_some()
        {
            out.notes.push(Note::DrainBlocked {
                host: host.clone(),
                reason: format!(
                    "the migration of {name} to {to} got no answer and {name} still runs on {host}"
                ),
            });
        }
        self.forget_vm_actions(&name);
        self.relocate(v, h, Some(Power::Running));
        self.vms.insert(name.clone(), VmRt::steady());
        if let Some(e) = self.recovery.get_mut(&name) {
            e.done_at = Some(self.now);
        }
    }

    /// The record places `v` on `h` now (with `power`, if given). The room
    /// it held on another host that is up (a start there, its record) is
    /// free again: the VMs that found none get another chance at once.
    pub(super) fn relocate(&mut self, v: VmId, h: HostId, power: Option<Power>) {
        let freed = self.room_held(v).is_some_and(|x| x != h);
        self.set_vm(v, Some(h), power);
        if freed {
            self.unstick();
        }
    }

    /// `vm` may run on every host of `hosts`: each is inventoried again,
    /// and the fresh listings decide ([`Runtime::check_duplicates`]).
    fn suspect_duplicate(&mut self, vm: &str, hosts: BTreeSet<String>, out: &mut Output) {
        if let Some(check) = self.duplicates.get_mut(vm) {
            check.hosts.extend(hosts);
            return;
        }
        out.notes.push(Note::DuplicateSuspected {
            vm: vm.to_string(),
            hosts: hosts.iter().cloned().collect(),
        });
        for h in &hosts {
            if let Some(rt) = self.hosts.get_mut(h) {
                rt.inventory = true;
                rt.inventory_at = 0;
            }
        }
        let after = self.next_id;
        self.duplicates
            .insert(vm.to_string(), DupCheck { hosts, after });
    }

    /// The amounts an inventory of `host` gives for the VMs it lists: where
    /// they differ from the record's (a definition changed while nobody
    /// told the runtime), the record takes them, as after `vm_resized`.
    /// Resources the pool does not have, and amounts the pool refuses
    /// (negative ones), are left out.
    pub(super) fn amounts_seen(
        &mut self,
        host: &str,
        listed: &[String],
        demand: &BTreeMap<String, BTreeMap<String, i64>>,
        out: &mut Output,
    ) {
        let mut changed = false;
        for (vm, amounts) in demand {
            if !listed.contains(vm) {
                continue;
            }
            let Some(v) = self.pool.vm_by_name(vm) else {
                continue;
            };
            let diff: BTreeMap<String, i64> = amounts
                .iter()
                .filter_map(|(r, &a)| {
                    let i = self.pool.resources.iter().position(|x| x == r)?;
                    (self.pool.vms[v].demand[i] != a).then(|| (r.clone(), a))
                })
                .collect();
            if diff.is_empty() {
                continue;
            }
            let change = Change::ResizeVm {
                name: vm.clone(),
                demand: diff.clone(),
            };
            if self.change(&[change]).is_ok() {
                changed = true;
                out.notes.push(Note::VmResizedSeen {
                    vm: vm.clone(),
                    host: host.to_string(),
                    demand: diff,
                });
            }
        }
        if changed {
            self.unstick();
        }
    }

    /// Suspects every VM that the latest listings of two answering hosts
    /// show, and decides every suspicion whose fresh listings are in: still
    /// on two hosts, one copy is kept (the one where the record places it,
    /// else the first host by name) and the others are stopped.
    pub(super) fn check_duplicates(&mut self, out: &mut Output) {
        let mut on: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (name, h) in &self.hosts {
            if self.answers(name) {
                for vm in &h.seen {
                    on.entry(vm.clone()).or_default().insert(name.clone());
                }
            }
        }
        for (vm, hosts) in &on {
            if hosts.len() > 1 && !self.moving(vm) && !self.duplicates.contains_key(vm) {
                self.suspect_duplicate(vm, hosts.clone(), out);
            }
        }
        let checks: Vec<(String, DupCheck)> = self
            .duplicates
            .iter()
            .map(|(v, c)| (v.clone(), c.clone()))
            .collect();
        for (vm, check) in checks {
            let fresh = check.hosts.iter().all(|h| {
                !self.answers(h)
                    || self
                        .hosts
                        .get(h)
                        .is_some_and(|r| r.inventory_done >= check.after)
            });
            if !fresh {
                continue;
            }
            self.duplicates.remove(&vm);
            let now: Vec<String> = on.get(&vm).into_iter().flatten().cloned().collect();
            if now.len() < 2 || self.moving(&vm) {
                continue; // it moved, or one copy ended: nothing to do
            }
            // A copy whose stop is already asked for is going away: an
            // earlier decision kept another one, and this one keeps it too
            // (were the record moved since, onto the copy being stopped,
            // by a query that found it there first, keeping that copy
            // would stop both).
            let stopping: BTreeSet<String> = self
                .inflight
                .values()
                .filter_map(|a| match a {
                    Action::StopVm { vm: x, host, .. } if *x == vm => Some(host.clone()),
                    _ => None,
                })
                .collect();
            // Nor is a copy whose stop got no answer in time and may still
            // land (unless every copy is such a one: one is kept then).
            let late = self.late_stops.get(&vm);
            let unstopped: Vec<String> = now
                .iter()
                .filter(|h| !stopping.contains(*h))
                .cloned()
                .collect();
            let settled: Vec<String> = unstopped
                .iter()
                .filter(|h| late.is_none_or(|l| !l.contains_key(*h)))
                .cloned()
                .collect();
            let keepable = if settled.is_empty() {
                unstopped
            } else {
                settled
            };
            let Some(first) = keepable.first().cloned() else {
                continue; // every copy is being stopped already
            };
            let v = self.pool.vm_by_name(&vm).expect("known");
            let rec = self.pool.hosts[self.pool.vms[v].host].name.clone();
            let starting = match &self.vms[&vm].phase {
                Phase::Starting { host, .. } => Some(host.clone()),
                _ => None,
            };
            let kept = starting
                .filter(|t| keepable.contains(t))
                .or_else(|| {
                    (self.pool.vms[v].power.is_active() && keepable.contains(&rec))
                        .then(|| rec.clone())
                })
                .unwrap_or(first);
            out.alerts.push(Alert::DuplicateVm {
                vm: vm.clone(),
                hosts: now.clone(),
                kept: kept.clone(),
            });
            if !matches!(self.vms[&vm].phase, Phase::Starting { .. }) {
                let k = self.pool.host_by_name(&kept).expect("known");
                self.set_vm(v, Some(k), Some(Power::Running));
                if self.vms[&vm].phase != Phase::Steady {
                    self.vms.insert(vm.clone(), VmRt::steady());
                    if let Some(e) = self.recovery.get_mut(&vm) {
                        e.done_at = Some(self.now);
                    }
                }
            }
            for host in now.into_iter().filter(|h| *h != kept) {
                if !stopping.contains(&host) {
                    let id = self.id();
                    self.emit(
                        Action::StopVm {
                            id,
                            vm: vm.clone(),
                            host,
                        },
                        out,
                    );
                }
            }
        }
    }

    /// Where `vm` runs could not be found out by query `id`: asked again
    /// shortly.
    pub(super) fn ask_again(&mut self, id: ActionId, vm: &str) {
        let at = self.now.saturating_add(ASK_AGAIN_MS);
        if let Some(rt) = self.vms.get_mut(vm)
            && let Phase::Unknown { id: x, ask_at, .. } = &mut rt.phase
            && *x == Some(id)
        {
            *x = None;
            *ask_at = at;
        }
    }

    /// An inventory of `host` failed: asked again a check interval later.
    pub(super) fn inventory_failed(&mut self, host: &str) {
        let again = self
            .now
            .saturating_add(ms(self.pool.ha.check_interval_s).max(1));
        if let Some(h) = self.hosts.get_mut(host) {
            h.inventory = true;
            h.inventory_at = again;
        }
    }

    /// A driver says `vm` runs on `host` outside of any action in flight
    /// (a late start): where the record has it elsewhere, a duplicate is
    /// suspected; where it is awaited, it is found.
    pub(super) fn sighting(&mut self, vm: &str, host: &str, out: &mut Output) {
        let (Some(v), Some(h)) = (self.pool.vm_by_name(vm), self.pool.host_by_name(host)) else {
            return;
        };
        if !self.answers(host) {
            return;
        }
        self.hosts
            .get_mut(host)
            .expect("known")
            .seen
            .insert(vm.to_string());
        match self.vms[vm].phase.clone() {
            Phase::Pending
            | Phase::Planned { .. }
            | Phase::Stuck { .. }
            | Phase::Retry { .. }
            | Phase::Unknown { .. } => self.adopt(v, h, out),
            Phase::Steady if !self.pool.vms[v].power.is_active() => self.adopt(v, h, out),
            _ => {}
        }
        self.check_duplicates(out);
    }
}
