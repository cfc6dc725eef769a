//! The model kept in step with the pool file, and the bookkeeping of
//! actions: ids, emitting, lookups, VM and host state changes.

use super::*;

impl Runtime {
    /// Whether `host` answers the runtime (its inventory means something).
    pub(super) fn answers(&self, host: &str) -> bool {
        self.hosts.get(host).is_some_and(|h| {
            matches!(
                h.status,
                HostStatus::Up | HostStatus::Confirming { .. } | HostStatus::Returning { .. }
            )
        })
    }

    /// Whether `vm` is being live-migrated, or a migration of it has no
    /// known outcome yet: listed on two hosts, it is not a duplicate (a
    /// migration lists it on both) until it is found.
    pub(super) fn moving(&self, vm: &str) -> bool {
        matches!(
            self.vms[vm].phase,
            Phase::Migrating { .. }
                | Phase::Unknown {
                    migration: Some(_),
                    ..
                }
        )
    }

    pub(super) fn id(&mut self) -> ActionId {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    pub(super) fn emit(&mut self, action: Action, out: &mut Output) {
        let wait = match &action {
            Action::Probe { .. } => Some(PROBE_DEADLINE_MS),
            Action::AskPeer { .. } => Some(PEER_DEADLINE_MS),
            Action::Fence { .. } => None, // its host's status holds it
            Action::StartVm { .. } => Some(START_DEADLINE_MS),
            Action::Migrate { .. } => Some(MIGRATE_DEADLINE_MS),
            Action::QueryVm { .. } => Some(QUERY_DEADLINE_MS),
            Action::Inventory { .. } => Some(INVENTORY_DEADLINE_MS),
            Action::StopVm { .. } => Some(STOP_DEADLINE_MS),
        };
        if let Some(w) = wait {
            self.deadlines
                .insert(action.id(), self.now.saturating_add(w));
        }
        self.inflight.insert(action.id(), action.clone());
        out.actions.push(action);
    }

    /// Why `vm` may be running on a host other than `target` that is not
    /// confirmed off, if it may: a start or migration of it under way, or
    /// one that may still land, elsewhere; a host other than `target` that
    /// lists it; the host its record places it on declared down (or being
    /// declared down) and not fenced, unless the record is only where the
    /// last start of it failed; or it is held for a fence or in doubt
    /// about another host. A start on `target` is then a possible second
    /// copy: the last check before one is asked for (docs/runtime.md, "A
    /// start is never a second copy"). Without a target, every host counts
    /// as another one: why no restart plan may name it yet, wherever it
    /// would place it ([`Runtime::keep_out_of_plans`]).
    pub(super) fn may_run_elsewhere(&self, vm: &str, target: Option<&str>) -> Option<String> {
        let off = |host: &str| {
            self.hosts
                .get(host)
                .is_some_and(|h| h.status == HostStatus::Fenced)
        };
        let other = |host: &str| target != Some(host);
        for a in self.inflight.values() {
            match a {
                Action::StartVm { vm: v, host, .. } if v == vm && other(host) && !off(host) => {
                    return Some(format!("a start of it on {host} is under way"));
                }
                Action::Migrate {
                    vm: v, from, to, ..
                } if v == vm => {
                    return Some(format!(
                        "a migration of it from {from} to {to} is under way"
                    ));
                }
                _ => {}
            }
        }
        if let Some(pin) = self.late_landings.get(vm) {
            let what = if pin.from.is_some() {
                "a migration"
            } else {
                "a start"
            };
            if let Some(host) = pin.hosts().into_iter().find(|h| other(h) && !off(h)) {
                return Some(format!(
                    "{what} of it without an answer may still leave it on {host}"
                ));
            }
        }
        if let Some((host, _)) = self
            .hosts
            .iter()
            .find(|(h, r)| other(h) && r.status != HostStatus::Fenced && r.seen.contains(vm))
        {
            return Some(format!("{host} lists it running"));
        }
        let rt = self.vms.get(vm)?;
        let v = self.pool.vm_by_name(vm)?;
        let own = &self.pool.hosts[self.pool.vms[v].host].name;
        let own_status = &self.hosts.get(own)?.status;
        let unconfirmed = matches!(
            own_status,
            HostStatus::Confirming { .. }
                | HostStatus::Fencing { .. }
                | HostStatus::FenceWait { .. }
                | HostStatus::FenceHold { .. }
                | HostStatus::Lost
        );
        // A start records the VM on its target; a failed one (counted in
        // `attempts`, reset once it runs) left it running nowhere, so the
        // record's host is then only where the last start failed.
        if other(own) && self.pool.vms[v].power.is_active() && unconfirmed && rt.attempts == 0 {
            return Some(format!("its host {own} is not confirmed off"));
        }
        match &rt.phase {
            Phase::Held => Some(format!("it waits for its host {own} to be confirmed off")),
            Phase::Unknown { on: Some(on), .. } if other(on) && !off(on) => Some(format!(
                "it is in doubt, and a start of it on {on} may have made it run there"
            )),
            Phase::Unknown {
                migration: Some((from, to)),
                ..
            } => Some(format!(
                "it is in doubt after a migration from {from} to {to}"
            )),
            _ => None,
        }
    }

    pub(super) fn host_id(&self, name: &str) -> Result<HostId, RuntimeError> {
        self.pool
            .host_by_name(name)
            .ok_or_else(|| RuntimeError::UnknownHost(name.to_string()))
    }

    pub(super) fn vm_id(&self, name: &str) -> Result<VmId, RuntimeError> {
        self.pool
            .vm_by_name(name)
            .ok_or_else(|| RuntimeError::UnknownVm(name.to_string()))
    }

    pub(super) fn set_vm(&mut self, v: VmId, host: Option<HostId>, power: Option<Power>) {
        if let Some(h) = host {
            self.pool.vms[v].host = h;
            self.doc["vms"][v]["host"] = Value::String(self.pool.hosts[h].name.clone());
        }
        if let Some(p) = power {
            self.pool.vms[v].power = p;
            self.doc["vms"][v]["power"] = Value::String(p.as_str().to_string());
        }
        self.dirty = true;
    }

    /// Ends every stop that may still land (`late_stops`) for which `keep`
    /// (VM, host, stop id) says false, and whatever it leaves empty.
    pub(super) fn end_late_stops(&mut self, mut keep: impl FnMut(&str, &str, ActionId) -> bool) {
        self.late_stops.retain(|vm, on| {
            on.retain(|host, ids| {
                ids.retain(|&id| keep(vm, host, id));
                !ids.is_empty()
            });
            !on.is_empty()
        });
    }

    pub(super) fn set_host_state(&mut self, h: HostId, state: HostState) {
        if self.pool.hosts[h].state != state {
            self.pool.hosts[h].state = state;
            self.doc["hosts"][h]["state"] = Value::String(state.as_str().to_string());
            self.dirty = true;
        }
    }

    /// Applies structural changes through the what-if machinery, so that
    /// the changed pool is validated as a whole.
    pub(super) fn change(&mut self, changes: &[Change]) -> Result<(), RuntimeError> {
        let changed = whatif::apply(&self.doc, changes)?;
        self.doc = changed.value;
        self.pool = changed.pool;
        self.dirty = true;
        Ok(())
    }

    /// Action `id` about `vm` answered (in time or late): if it was the
    /// start or migration in doubt that pinned `vm`, it can no longer land.
    pub(super) fn answered(&mut self, vm: &str, id: ActionId) {
        if self.late_landings.get(vm).is_some_and(|l| l.id == id) {
            self.late_landings.remove(vm);
        }
    }

    /// Takes action `id` out of flight (its answer came, checked by
    /// [`Runtime::check_answer`]); `None` for a late or unknown answer.
    pub(super) fn take(&mut self, id: ActionId) -> Option<Action> {
        self.deadlines.remove(&id);
        self.inflight.remove(&id)
    }

    pub(super) fn forget_vm_actions(&mut self, vm: &str) {
        self.inflight.retain(|_, a| match a {
            Action::StartVm { vm: v, .. }
            | Action::Migrate { vm: v, .. }
            | Action::QueryVm { vm: v, .. } => v != vm,
            _ => true,
        });
    }

    pub(super) fn agent(&self, host: &str, level: usize) -> String {
        self.pool
            .host_by_name(host)
            .and_then(|h| self.pool.hosts[h].fencing.get(level))
            .map(|l| l.agent.clone())
            .unwrap_or_default()
    }
}

pub(super) fn action_names_host(a: &Action, name: &str) -> bool {
    match a {
        Action::Probe { host, .. }
        | Action::Fence { host, .. }
        | Action::Inventory { host, .. } => host == name,
        Action::AskPeer { host, peer, .. } => host == name || peer == name,
        Action::StartVm { host, .. } | Action::StopVm { host, .. } => host == name,
        Action::Migrate { from, to, .. } => from == name || to == name,
        Action::QueryVm { .. } => false,
    }
}

/// `pool` with the placements done.
pub(super) fn apply(pool: &Pool, placements: &[plan::Placement]) -> Pool {
    let mut after = pool.clone();
    for p in placements {
        after.vms[p.vm].host = p.host;
    }
    // What is left on the host that is down stays there, awaiting restart.
    after
}
