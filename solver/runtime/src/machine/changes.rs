//! Events that change the pool's model from outside: VMs started, stopped,
//! migrated, resized or reprioritised by others, hosts added or removed,
//! the HA settings changed. Each keeps the pool file and the runtime's
//! state in step, or is refused and changes nothing.

use super::model::action_names_host;
use super::*;

impl Runtime {
    /// `vm` runs on `host` (started by someone else; with its definition
    /// when the pool does not have it yet).
    pub(super) fn vm_started(
        &mut self,
        vm: &str,
        host: &str,
        definition: Option<&Value>,
    ) -> Result<(), RuntimeError> {
        let h = self.host_id(host)?;
        match self.pool.vm_by_name(vm) {
            Some(v) => {
                self.forget_vm_actions(vm);
                self.relocate(v, h, Some(Power::Running));
            }
            None => {
                let Some(def) = definition else {
                    return Err(RuntimeError::UnknownVm(vm.to_string()));
                };
                let mut def = def.clone();
                let obj = def.as_object_mut().ok_or_else(|| {
                    RuntimeError::Invalid("a VM definition must be an object".into())
                })?;
                obj.insert("name".into(), Value::String(vm.to_string()));
                obj.insert("host".into(), Value::String(host.to_string()));
                obj.insert("power".into(), Value::String("running".into()));
                self.change(&[Change::AddVm { vm: def }])?;
            }
        }
        let rt = self.vms.entry(vm.to_string()).or_insert_with(VmRt::steady);
        *rt = VmRt::steady();
        self.recovery.remove(vm);
        Ok(())
    }

    /// `vm` was stopped on purpose: it is not restarted.
    pub(super) fn vm_stopped(&mut self, vm: &str) -> Result<(), RuntimeError> {
        let v = self.vm_id(vm)?;
        self.forget_vm_actions(vm);
        self.set_vm(v, None, Some(Power::Halted));
        self.vms.insert(vm.to_string(), VmRt::steady());
        self.recovery.remove(vm);
        self.unstick();
        Ok(())
    }

    /// `vm` was migrated to `host` by someone else.
    pub(super) fn vm_migrated(&mut self, vm: &str, host: &str) -> Result<(), RuntimeError> {
        let v = self.vm_id(vm)?;
        let h = self.host_id(host)?;
        self.relocate(v, h, None);
        Ok(())
    }

    /// `vm` now demands `demand`.
    pub(super) fn vm_resized(
        &mut self,
        vm: &str,
        demand: &BTreeMap<String, i64>,
    ) -> Result<(), RuntimeError> {
        self.vm_id(vm)?;
        self.change(&[Change::ResizeVm {
            name: vm.to_string(),
            demand: demand.clone(),
        }])?;
        self.unstick();
        Ok(())
    }

    /// `vm`'s priority or restart policy changed.
    pub(super) fn vm_priority_changed(
        &mut self,
        vm: &str,
        priority: Option<Priority>,
        restart: Option<Restart>,
    ) -> Result<(), RuntimeError> {
        self.vm_id(vm)?;
        let mut changes = Vec::new();
        if let Some(p) = priority {
            changes.push(Change::SetPriority {
                name: vm.to_string(),
                priority: p,
            });
        }
        if let Some(r) = restart {
            changes.push(Change::SetRestart {
                name: vm.to_string(),
                restart: r,
            });
        }
        self.change(&changes)?;
        Ok(())
    }

    /// A host joined the pool (its definition, as in the pool file).
    pub(super) fn host_added(&mut self, host: &Value) -> Result<(), RuntimeError> {
        self.change(&[Change::AddHost { host: host.clone() }])?;
        let name = self.pool.hosts.last().expect("added").name.clone();
        let status = match self.pool.hosts.last().expect("added").state {
            HostState::Up => HostStatus::Up,
            HostState::Down => HostStatus::Fenced,
            HostState::Maintenance => HostStatus::Maintenance,
        };
        self.hosts.insert(name, HostRt::new(status));
        self.unstick();
        Ok(())
    }

    /// `host` left the pool, with the VMs defined on it (none may run).
    pub(super) fn host_removed(&mut self, host: &str) -> Result<(), RuntimeError> {
        let h = self.host_id(host)?;
        if let Some(v) = self
            .pool
            .vms
            .iter()
            .find(|v| v.host == h && v.power.is_active())
        {
            return Err(RuntimeError::Invalid(format!(
                "host \"{host}\" still has VM \"{}\" running; move or stop its VMs first",
                v.name
            )));
        }
        let gone: Vec<String> = self
            .pool
            .vms
            .iter()
            .filter(|v| v.host == h)
            .map(|v| v.name.clone())
            .collect();
        self.change(&[Change::RemoveHost {
            name: host.to_string(),
            vms: HostVms::Remove,
        }])?;
        // Nothing of them is kept: a VM of the same name added later
        // starts afresh (a late landing left behind would pin it to
        // a host that is gone).
        for v in &gone {
            self.vms.remove(v);
            self.recovery.remove(v);
            self.late_landings.remove(v);
            self.late_stops.remove(v);
            self.duplicates.remove(v);
            self.alerted_not_agile.remove(v);
            for rt in self.hosts.values_mut() {
                rt.seen.remove(v);
                rt.evacuated.remove(v);
            }
        }
        self.failback.retain(|(v, _)| !gone.contains(v));
        self.end_late_stops(|_, h, _| h != host);
        self.host_leaves(host);
        self.hosts.remove(host);
        self.inflight.retain(|_, a| !action_names_host(a, host));
        // What awaited an answer just dropped: a peer's word is
        // asked again (of another peer) on the next failed probe, a
        // VM that was migrating there is looked for.
        for rt in self.hosts.values_mut() {
            if matches!(rt.status, HostStatus::Confirming { id: Some(id), .. } if !self.inflight.contains_key(&id))
            {
                rt.status = HostStatus::Up;
            }
        }
        for rt in self.vms.values_mut() {
            if matches!(&rt.phase, Phase::Migrating { to, .. } if to == host) {
                rt.phase = Phase::Unknown {
                    id: None,
                    ask_at: self.now,
                    on: None,
                    attempt: 0,
                    since: self.now,
                    alerted: false,
                    migration: None,
                    missing: false,
                    failed_late: None,
                    reconciled_away: false,
                };
            }
        }
        Ok(())
    }

    /// The pool's HA settings changed: `ha`'s keys replace the file's.
    pub(super) fn config_changed(&mut self, ha: &Map<String, Value>) -> Result<(), RuntimeError> {
        let mut doc = self.doc.clone();
        let obj = doc
            .as_object_mut()
            .ok_or_else(|| RuntimeError::Invalid("the pool is not an object".into()))?;
        let current = obj.entry("ha").or_insert_with(|| Value::Object(Map::new()));
        let Some(current) = current.as_object_mut() else {
            return Err(RuntimeError::Invalid("ha is not an object".into()));
        };
        for (k, v) in ha {
            current.insert(k.clone(), v.clone());
        }
        self.pool = haplan::pool_from_value(&doc)?;
        self.doc = doc;
        self.dirty = true;
        self.unstick();
        Ok(())
    }
}
