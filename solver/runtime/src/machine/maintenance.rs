//! Maintenance: entering and leaving it, draining a host by live
//! migrations, and their answers.

use super::*;

impl Runtime {
    /// The answer to migration `id` of `vm` to `host` (late, a success is
    /// a sighting).
    pub(super) fn migrate_answered(
        &mut self,
        id: ActionId,
        vm: &str,
        host: &str,
        ok: bool,
        error: Option<&str>,
        out: &mut Output,
    ) {
        // The source of a migration in doubt (its pin ends with this
        // answer).
        let pinned_from = self
            .late_landings
            .get(vm)
            .filter(|l| l.id == id)
            .and_then(|l| l.from.clone());
        self.answered(vm, id);
        if self.take(id).is_some() {
            self.migrate_result(id, vm, host, ok, error, out);
        } else if ok {
            // Late, but the VM runs there now: a sighting. The migration
            // moved the copy its source ran: that listing is out of date.
            if let Some(rt) = pinned_from.and_then(|f| self.hosts.get_mut(&f)) {
                rt.seen.remove(vm);
            }
            self.sighting(vm, host, out);
        } else {
            self.migration_failed_late(vm, host);
        }
    }

    /// A migration of `vm` to `to`, in doubt since its deadline, failed:
    /// it left the VM on its source or nowhere. When that migration is
    /// all the doubt is about (nothing else about the VM is in flight or
    /// may still land), the source is listed afresh: a listing asked from
    /// now on that lacks the VM makes it a VM missing from its host,
    /// decided by the hosts that answer (taken for crashed on its source,
    /// started there first, where it can only meet itself, even if another
    /// host does not answer). Waiting for a query that every host answers
    /// never ended while a host that is down could not be fenced, and the
    /// VM stayed down beside room for it.
    fn migration_failed_late(&mut self, vm: &str, to: &str) {
        let Some(v) = self.pool.vm_by_name(vm) else {
            return;
        };
        let from = self.pool.hosts[self.pool.vms[v].host].name.clone();
        let in_flight = self.inflight.values().any(|a| {
            matches!(a, Action::StartVm { vm: x, .. } | Action::Migrate { vm: x, .. } if x == vm)
        });
        if in_flight || self.late_landings.contains_key(vm) {
            return;
        }
        let next = self.next_id;
        if let Some(rt) = self.vms.get_mut(vm)
            && let Phase::Unknown {
                migration: Some((f, t)),
                on: None,
                failed_late,
                ..
            } = &mut rt.phase
            && *f == from
            && t == to
        {
            *failed_late = Some(next);
            if let Some(h) = self.hosts.get_mut(&from) {
                h.inventory = true;
                h.inventory_at = 0;
            }
        }
    }

    pub(super) fn maintenance(
        &mut self,
        h: HostId,
        enter: bool,
        out: &mut Output,
    ) -> Result<(), RuntimeError> {
        let host = self.pool.hosts[h].name.clone();
        let status = self.hosts[&host].status.clone();
        if !enter {
            if status == HostStatus::Maintenance {
                self.set_host_state(h, HostState::Up);
                self.hosts.insert(host.clone(), HostRt::new(HostStatus::Up));
                self.unstick();
            } else {
                self.hosts.get_mut(&host).expect("known").drain = None;
            }
            return Ok(());
        }
        if status != HostStatus::Up {
            return Err(RuntimeError::Invalid(format!(
                "host \"{host}\" is not up; only an up host can enter maintenance"
            )));
        }
        match self.drain_plan(h) {
            Ok(moves) => {
                if moves.is_empty() && !self.stray_copies_on(&host) {
                    self.enter_maintenance(&host, out);
                } else {
                    self.hosts.get_mut(&host).expect("known").drain = Some(moves.into());
                }
            }
            Err(reason) => out.notes.push(Note::DrainBlocked { host, reason }),
        }
        Ok(())
    }

    /// Whether `host` may still run a copy of a pool VM that the record
    /// places elsewhere (its latest listing shows one: a duplicate, an
    /// autostart copy), or a stop asked of it has not answered: not ready
    /// for maintenance until those copies are gone (whoever powers it off
    /// would take them down with it, the kept copy's host may be the one
    /// that fails next).
    fn stray_copies_on(&self, host: &str) -> bool {
        let listed = self.hosts[host].seen.iter().any(|vm| {
            self.pool.vm_by_name(vm).is_some_and(|v| {
                let me = &self.pool.vms[v];
                !(me.power.is_active() && self.pool.hosts[me.host].name == host)
            })
        });
        listed
            || self
                .inflight
                .values()
                .any(|a| matches!(a, Action::StopVm { host: x, .. } if x == host))
    }

    fn enter_maintenance(&mut self, host: &str, out: &mut Output) {
        let h = self.pool.host_by_name(host).expect("known");
        self.set_host_state(h, HostState::Maintenance);
        // Not a restart target any more.
        self.host_leaves(host);
        let rt = self.hosts.get_mut(host).expect("known");
        rt.status = HostStatus::Maintenance;
        rt.drain = None;
        rt.fails = 0;
        out.notes.push(Note::MaintenanceReady {
            host: host.to_string(),
        });
    }

    /// Migrations that empty host `h` and keep the pool's configured k (with
    /// `h` in maintenance afterwards): every running VM moves to the
    /// eligible host with the most room left, largest VM first; when that
    /// does not keep k, the tightest fit is tried instead (`drain::greedy`,
    /// which `haplan drain` tries first too).
    pub(super) fn drain_plan(&self, h: HostId) -> Result<Vec<(String, String)>, String> {
        let (pp, _) = self.planning_pool();
        let k = pp.ha.host_failures_to_tolerate;
        let vms = drain::active_on(&pp, h);
        let mut last = String::new();
        for spread in [true, false] {
            let mut draft = pp.clone();
            draft.hosts[h].state = HostState::Maintenance;
            let to = match drain::greedy(&mut draft, h, &vms, spread) {
                Ok(to) => to,
                Err(v) => {
                    return Err(format!(
                        "{} fits on no other host it may run on",
                        draft.vms[v].name
                    ));
                }
            };
            let moves: Vec<(String, String)> = vms
                .iter()
                .zip(to)
                .map(|(&v, t)| (draft.vms[v].name.clone(), draft.hosts[t].name.clone()))
                .collect();
            match self.checks.tolerates(&draft, k, CheckUse::Drain) {
                Tolerates::Yes => return Ok(moves),
                Tolerates::No(w) => {
                    last = format!(
                        "after the drain the pool would not tolerate {k} host failure{}: {}",
                        if k == 1 { "" } else { "s" },
                        w.reason
                    )
                }
                Tolerates::Unknown => last = DRAIN_UNDECIDED.into(),
            }
        }
        Err(last)
    }

    /// Sends the next drain or failback migration when none is in flight.
    pub(super) fn migrations(&mut self, out: &mut Output) {
        if self
            .vms
            .values()
            .any(|rt| matches!(rt.phase, Phase::Migrating { .. }))
        {
            return;
        }
        // Drains first, in host name order.
        let draining: Vec<String> = self
            .hosts
            .iter()
            .filter(|(_, h)| h.drain.is_some())
            .map(|(n, _)| n.clone())
            .collect();
        for host in draining {
            let mut replanned = false;
            loop {
                let next = self
                    .hosts
                    .get_mut(&host)
                    .expect("known")
                    .drain
                    .as_mut()
                    .and_then(|q| q.pop_front());
                let Some((vm, to)) = next else {
                    if replanned {
                        break;
                    }
                    replanned = true;
                    if self.drain_done(&host, out) {
                        self.enter_maintenance(&host, out);
                        break;
                    }
                    continue; // a new plan, if one was made
                };
                let Some(v) = self.pool.vm_by_name(&vm) else {
                    continue;
                };
                let from = self.pool.hosts[self.pool.vms[v].host].name.clone();
                if from != host
                    || !self.pool.vms[v].power.is_active()
                    || self.vms[&vm].phase != Phase::Steady
                {
                    continue; // it left already
                }
                if self.late_landings.contains_key(&vm) {
                    // A start of it here, or an earlier migration of it,
                    // may still land: the drain waits (a second migration
                    // in doubt would replace the first one's pin, and a
                    // late failure of the second would end the only guard
                    // of the first).
                    if let Some(q) = self.hosts.get_mut(&host).expect("known").drain.as_mut() {
                        q.push_front((vm, to));
                    }
                    break;
                }
                self.migrate(&vm, &from, &to, out);
                return;
            }
        }
        // A VM that a start or migration without an answer pins goes back
        // once the pin ends.
        let mut pinned = Vec::new();
        while let Some((vm, to)) = self.failback.pop_front() {
            let Some(v) = self.pool.vm_by_name(&vm) else {
                continue;
            };
            let Some(t) = self.pool.host_by_name(&to) else {
                continue;
            };
            let from_h = self.pool.vms[v].host;
            if from_h != t
                && self.vms[&vm].phase == Phase::Steady
                && self.late_landings.contains_key(&vm)
            {
                pinned.push((vm, to));
                continue;
            }
            if from_h == t
                || self.vms[&vm].phase != Phase::Steady
                || !self.pool.vms[v].power.is_active()
                || self.pool.hosts[t].state != HostState::Up
            {
                continue;
            }
            let mut draft = self.planning_pool().0;
            let fits = draft
                .spare(t)
                .iter()
                .zip(&draft.vms[v].demand)
                .all(|(s, d)| s >= d);
            draft.vms[v].host = t;
            let k = draft.ha.host_failures_to_tolerate;
            // A VM goes back only where every strict group rule still
            // holds: never away from a keep-together group it runs with.
            let rules = agility::GroupCheck::of(&draft).allows(&draft, v, t, None);
            if fits
                && rules
                && self.checks.tolerates(&draft, k, CheckUse::Failback) == Tolerates::Yes
            {
                let from = self.pool.hosts[from_h].name.clone();
                self.migrate(&vm, &from, &to, out);
                break;
            }
        }
        for p in pinned.into_iter().rev() {
            self.failback.push_front(p);
        }
    }

    /// Whether the drain of `host`, its planned migrations done, has
    /// emptied it: no VM may run there. A VM whose location is in doubt
    /// and may be there (its record, the start or the migration whose
    /// outcome is unknown) or one being started or migrated there makes the
    /// drain wait (restarts only planned there are planned elsewhere once
    /// it is in maintenance);
    /// a VM that runs there still (started there meanwhile) gets a new
    /// drain plan, or the drain is blocked.
    fn drain_done(&mut self, host: &str, out: &mut Output) -> bool {
        let Some(h) = self.pool.host_by_name(host) else {
            return false;
        };
        let mut remaining = false;
        for vm in &self.pool.vms {
            let here = vm.host == h && vm.power.is_active();
            let late_here = self
                .late_landings
                .get(&vm.name)
                .is_some_and(|l| l.host == host);
            let waits = match &self.vms[&vm.name].phase {
                // A start of it here may still land: it is not moved yet.
                Phase::Steady if here && late_here => true,
                Phase::Steady => {
                    remaining |= here;
                    false
                }
                Phase::Unknown { on, migration, .. } => {
                    here || on.as_deref() == Some(host)
                        || migration
                            .as_ref()
                            .is_some_and(|(f, t)| f == host || t == host)
                }
                // Entering maintenance plans these elsewhere.
                Phase::Planned { .. } | Phase::Retry { .. } => false,
                Phase::Starting { host: t, .. } | Phase::Migrating { to: t, .. } => {
                    t == host || here
                }
                Phase::Held | Phase::Pending | Phase::Stuck { .. } => false,
            };
            if waits {
                return false;
            }
        }
        if self.stray_copies_on(host) {
            return false;
        }
        if !remaining {
            return true;
        }
        match self.drain_plan(h) {
            Ok(moves) if !moves.is_empty() => {
                self.hosts.get_mut(host).expect("known").drain = Some(moves.into());
                false
            }
            Ok(_) => true,
            Err(reason) => {
                self.hosts.get_mut(host).expect("known").drain = None;
                out.notes.push(Note::DrainBlocked {
                    host: host.to_string(),
                    reason,
                });
                false
            }
        }
    }

    fn migrate(&mut self, vm: &str, from: &str, to: &str, out: &mut Output) {
        let id = self.id();
        self.vms.get_mut(vm).expect("known").phase = Phase::Migrating {
            id,
            to: to.to_string(),
        };
        self.emit(
            Action::Migrate {
                id,
                vm: vm.to_string(),
                from: from.to_string(),
                to: to.to_string(),
            },
            out,
        );
    }

    pub(super) fn migrate_result(
        &mut self,
        id: ActionId,
        vm: &str,
        host: &str,
        ok: bool,
        error: Option<&str>,
        out: &mut Output,
    ) {
        let Some(rt) = self.vms.get(vm) else { return };
        if rt.phase
            != (Phase::Migrating {
                id,
                to: host.to_string(),
            })
        {
            return;
        }
        self.vms.insert(vm.to_string(), VmRt::steady());
        let v = self.pool.vm_by_name(vm).expect("known");
        if ok {
            // Moved: its source no longer runs it, whatever that host's
            // latest listing said.
            let from = self.pool.hosts[self.pool.vms[v].host].name.clone();
            if from != host
                && let Some(rt) = self.hosts.get_mut(&from)
            {
                rt.seen.remove(vm);
            }
            let t = self.pool.host_by_name(host).expect("known");
            // Room on its source: the VMs that found none may take it (a
            // protected VM that waits for room goes before a drain).
            self.relocate(v, t, None);
            out.notes.push(Note::VmMigrated {
                vm: vm.to_string(),
                host: host.to_string(),
            });
        } else {
            let from = self.pool.hosts[self.pool.vms[v].host].name.clone();
            if let Some(rt) = self.hosts.get_mut(&from) {
                if rt.drain.take().is_some() {
                    out.notes.push(Note::DrainBlocked {
                        host: from,
                        reason: format!(
                            "migrating {vm} to {host} failed: {}",
                            error.unwrap_or("failed")
                        ),
                    });
                }
            }
        }
    }
}
