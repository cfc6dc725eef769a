//! Admission: whether an operation would leave the pool short of its
//! configured k, answered from the known tolerance when it can be, by an
//! exact check otherwise.

use super::*;

impl Runtime {
    /// Whether `op` would leave the pool short of its configured k. A pure
    /// question: nothing changes (if the caller goes ahead anyway, it says so
    /// with [`Event::OperationProceeded`], then reports the operation's own
    /// event).
    pub fn check_operation(&self, op: &Operation) -> Result<Admission, RuntimeError> {
        if let Some(a) = self.admit_fast(op)? {
            return Ok(a);
        }
        self.check_operation_exact(op)
    }

    /// Budgeted: [`Admission::Undecided`] when the check does not decide
    /// within the runtime's check budget.
    fn check_operation_search(&self, op: &Operation) -> Result<Admission, RuntimeError> {
        self.checks.query(|| self.check_operation_in_budget(op))
    }

    /// [`Runtime::check_operation`] without its shortcut from the known
    /// tolerance: always a search ("tolerates k?") on the changed pool. The
    /// same answer, slower; for tests and measurements.
    pub fn check_operation_exact(&self, op: &Operation) -> Result<Admission, RuntimeError> {
        self.check_operation_search(op)
    }

    fn check_operation_in_budget(&self, op: &Operation) -> Result<Admission, RuntimeError> {
        let (mut pp, _) = self.planning_pool();
        let mut k = pp.ha.host_failures_to_tolerate;
        let fits = |pool: &Pool, v: VmId, h: HostId| -> Result<(), String> {
            let spare = pool.spare(h);
            for (r, (s, d)) in spare.iter().zip(&pool.vms[v].demand).enumerate() {
                if s < d {
                    return Err(format!(
                        "{} does not fit on {}: {} short by {}",
                        pool.vms[v].name,
                        pool.hosts[h].name,
                        pool.resources[r],
                        d - s
                    ));
                }
            }
            Ok(())
        };
        match op {
            Operation::VmStart {
                vm,
                host,
                definition,
            } => {
                let h = self.host_id(host)?;
                if pp.hosts[h].state != HostState::Up {
                    return Ok(Admission::Refused {
                        reason: format!("host {host} is not up"),
                    });
                }
                let v = match pp.vm_by_name(vm) {
                    Some(v) => v,
                    None => {
                        let Some(def) = definition else {
                            return Err(RuntimeError::UnknownVm(vm.clone()));
                        };
                        let mut def = def.clone();
                        if let Some(o) = def.as_object_mut() {
                            o.insert("name".into(), Value::String(vm.clone()));
                            o.insert("host".into(), Value::String(host.clone()));
                            o.insert("power".into(), Value::String("halted".into()));
                        }
                        let changed = whatif::apply(&self.doc, &[Change::AddVm { vm: def }])?;
                        let mut new = changed.pool.vms.last().expect("added").clone();
                        // Its demand, along this pool's resources: one it
                        // adds is on no host, so a demand for it is unmet.
                        let names = &changed.pool.resources;
                        if let Some(r) = (0..names.len())
                            .find(|&r| new.demand[r] > 0 && !pp.resources.contains(&names[r]))
                        {
                            return Ok(Admission::Refused {
                                reason: format!("{vm} needs {}, which no host has", names[r]),
                            });
                        }
                        let at = |name: &String| names.iter().position(|n| n == name);
                        let demand = pp
                            .resources
                            .iter()
                            .map(|n| at(n).map_or(0, |r| new.demand[r]));
                        let listed = pp
                            .resources
                            .iter()
                            .map(|n| at(n).is_some_and(|r| new.listed[r]));
                        (new.demand, new.listed) = (demand.collect(), listed.collect());
                        pp.vms.push(new);
                        pp.vms.len() - 1
                    }
                };
                if pp.vms[v].power.is_active() && pp.vms[v].host == h {
                    return Ok(Admission::Allowed { configured: k });
                }
                pp.vms[v].power = Power::Halted;
                pp.vms[v].host = h;
                if let Err(reason) = fits(&pp, v, h) {
                    return Ok(Admission::Refused { reason });
                }
                pp.vms[v].power = Power::Running;
            }
            Operation::VmResume { vm } => {
                let v = self.vm_id(vm)?;
                if pp.vms[v].power.is_active() {
                    return Ok(Admission::Allowed { configured: k });
                }
                let h = pp.vms[v].host;
                if pp.hosts[h].state != HostState::Up {
                    return Ok(Admission::Refused {
                        reason: format!("host {} is not up", pp.hosts[h].name),
                    });
                }
                if let Err(reason) = fits(&pp, v, h) {
                    return Ok(Admission::Refused { reason });
                }
                pp.vms[v].power = Power::Running;
            }
            Operation::VmMigrate { vm, host } => {
                let v = self.vm_id(vm)?;
                let h = self.host_id(host)?;
                if pp.hosts[h].state != HostState::Up {
                    return Ok(Admission::Refused {
                        reason: format!("host {host} is not up"),
                    });
                }
                if pp.vms[v].host != h {
                    let power = pp.vms[v].power;
                    pp.vms[v].power = Power::Halted;
                    pp.vms[v].host = h;
                    if let Err(reason) = fits(&pp, v, h) {
                        return Ok(Admission::Refused { reason });
                    }
                    pp.vms[v].power = power;
                }
            }
            Operation::PriorityChange {
                vm,
                priority,
                restart,
            } => {
                let v = self.vm_id(vm)?;
                if let Some(p) = priority {
                    pp.vms[v].priority = *p;
                }
                if let Some(r) = restart {
                    pp.vms[v].restart = *r;
                }
            }
            Operation::HostDisable { host } => {
                let h = self.host_id(host)?;
                if pp.hosts[h].state != HostState::Up {
                    return Ok(Admission::Allowed { configured: k });
                }
                // Its VMs must go somewhere: the drain the runtime would do.
                match self.drain_plan(h) {
                    Ok(_) => return Ok(Admission::Allowed { configured: k }),
                    Err(reason) => {
                        pp.hosts[h].state = HostState::Maintenance;
                        let w = self.checks.tolerates(&pp, k, CheckUse::Drain);
                        // A refusal is a proof: undecided, by the pool or
                        // by the drain's own check, admits (flagged).
                        let undecided = reason.starts_with(DRAIN_UNDECIDED);
                        return Ok(match w {
                            Tolerates::No(w) => admission_no(&pp, k, &w),
                            Tolerates::Unknown => self.admission_undecided(k),
                            Tolerates::Yes if undecided => self.admission_undecided(k),
                            Tolerates::Yes => Admission::WouldOvercommit {
                                configured: k,
                                failed_hosts: Vec::new(),
                                stranded_vms: Vec::new(),
                                reason,
                            },
                        });
                    }
                }
            }
            Operation::SetTolerance { k: new } => k = *new,
        }
        Ok(match self.checks.tolerates(&pp, k, CheckUse::Tolerance) {
            Tolerates::Yes => Admission::Allowed { configured: k },
            Tolerates::No(w) => admission_no(&pp, k, &w),
            Tolerates::Unknown => self.admission_undecided(k),
        })
    }

    /// Admitted without a proof: the check did not decide in its budget.
    fn admission_undecided(&self, k: u32) -> Admission {
        Admission::Undecided {
            configured: k,
            undecided: true,
            reason: format!(
                "the check did not decide within its budget of {}: the operation is admitted, \
                 but that the pool still tolerates {k} host failure{} is not proved",
                budget_words(self.checks.budget()),
                if k == 1 { "" } else { "s" }
            ),
        }
    }

    /// A VM definition for `vm` starting on `host`, read against the pool;
    /// `None` when it cannot be read so (the exact path says why).
    fn definition(&self, vm: &str, host: &str, def: &Value) -> Option<Vm> {
        let mut def = def.clone();
        let obj = def.as_object_mut()?;
        obj.insert("name".into(), Value::String(vm.to_string()));
        obj.insert("host".into(), Value::String(host.to_string()));
        obj.insert("power".into(), Value::String("running".into()));
        haplan::load::vm_for(&self.pool, &def).ok()
    }

    /// Admission without a new search, when the tolerance the runtime
    /// already knows proves it: `None` when it does not.
    ///
    /// With the pool tolerating k + 1 failures (exactly known), one more VM
    /// v of demand d running on host h keeps k when d fits in h's spare and,
    /// if v is protected (and agile), at least k hosts other than h could
    /// take it (eligible, spare at least d). For a failure set F without h,
    /// the plan for F and h together never uses h, so it still fits beside
    /// v. For F with h, the set F plus one host g that could take v and is
    /// not in F (one is left: F holds at most k - 1 of them) has a plan that
    /// places F's VMs elsewhere than g, and g keeps its own VMs, so v fits
    /// on g. Removing a VM from a host, or its protection, never lowers the
    /// tolerance; priorities do not change it.
    fn admit_fast(&self, op: &Operation) -> Result<Option<Admission>, RuntimeError> {
        let pool = &self.pool;
        let Some(known) = &self.known else {
            return Ok(None);
        };
        if !pool.ha.enabled || pool.ha.mode != HaMode::Host || known.stranded_now {
            return Ok(None);
        }
        // The argument below knows plain anti-affinity only: with
        // `vm_groups` (caps above one, keep-together groups, under which a
        // larger failure can be easier than a smaller one) the exact path
        // decides.
        if !pool.vm_groups.is_empty() {
            return Ok(None);
        }
        let k = known.configured;
        if known.max_tolerable < k {
            return Ok(None);
        }
        let allowed = Some(Admission::Allowed { configured: k });
        let margin = known.max_tolerable > k;
        let steady = self.vms.values().all(|rt| rt.phase == Phase::Steady);
        let takers_enough = |vm: &Vm, h: HostId| -> bool {
            vm.restart != Restart::Protected
                || !vm.local_devices.is_empty()
                || (0..pool.hosts.len())
                    .filter(|&g| g != h && self.could_take(vm, g))
                    .take(k as usize)
                    .count()
                    >= k as usize
        };
        let candidate = |vm: &Vm, h: HostId| -> Option<Admission> {
            if !margin || pool.hosts[h].state != HostState::Up {
                return None;
            }
            let spare = pool.spare(h);
            if let Some(r) = (0..spare.len()).find(|&r| spare[r] < vm.demand[r]) {
                // With nothing awaiting a restart, the pool is the planning
                // pool: the exact path would refuse it for the same reason.
                if !steady {
                    return None;
                }
                return Some(Admission::Refused {
                    reason: format!(
                        "{} does not fit on {}: {} short by {}",
                        vm.name,
                        pool.hosts[h].name,
                        pool.resources[r],
                        vm.demand[r] - spare[r]
                    ),
                });
            }
            if takers_enough(vm, h) {
                allowed.clone()
            } else {
                None
            }
        };
        Ok(match op {
            Operation::VmStart {
                vm,
                host,
                definition,
            } => {
                let h = self.host_id(host)?;
                match pool.vm_by_name(vm) {
                    Some(v) if pool.vms[v].power.is_active() => {
                        if pool.vms[v].host == h {
                            allowed
                        } else {
                            None
                        }
                    }
                    Some(v) => candidate(&pool.vms[v], h),
                    None => match definition {
                        Some(def) => self
                            .definition(vm, host, def)
                            .and_then(|new| candidate(&new, h)),
                        None => return Err(RuntimeError::UnknownVm(vm.clone())),
                    },
                }
            }
            Operation::VmResume { vm } => {
                let v = self.vm_id(vm)?;
                if pool.vms[v].power.is_active() {
                    allowed
                } else {
                    candidate(&pool.vms[v], pool.vms[v].host)
                }
            }
            Operation::VmMigrate { vm, host } => {
                let v = self.vm_id(vm)?;
                let h = self.host_id(host)?;
                if pool.vms[v].host == h {
                    allowed
                } else if pool.vms[v].power.is_active() {
                    candidate(&pool.vms[v], h)
                } else {
                    None
                }
            }
            Operation::PriorityChange { vm, restart, .. } => {
                let v = self.vm_id(vm)?;
                match restart {
                    Some(Restart::Protected) if pool.vms[v].restart != Restart::Protected => {
                        let mut now = pool.vms[v].clone();
                        now.restart = Restart::Protected;
                        let h = now.host;
                        if margin && now.power.is_active() && takers_enough(&now, h) {
                            allowed
                        } else {
                            None
                        }
                    }
                    _ => allowed,
                }
            }
            Operation::SetTolerance { k: new } => {
                (*new <= known.max_tolerable).then_some(Admission::Allowed { configured: *new })
            }
            Operation::HostDisable { .. } => None,
        })
    }

    /// Whether host `g` could receive `vm` now: up, not overloaded, every
    /// agility rule, and room for its demand.
    fn could_take(&self, vm: &Vm, g: HostId) -> bool {
        let pool = &self.pool;
        if !agility::eligible_vm(pool, vm, g) {
            return false;
        }
        let spare = pool.spare(g);
        if spare.iter().any(|&s| s < 0) || spare.iter().zip(&vm.demand).any(|(s, d)| s < d) {
            return false;
        }
        match &vm.anti_affinity {
            None => true,
            Some(group) => !pool.vms.iter().any(|o| {
                o.host == g
                    && o.power.is_active()
                    && o.name != vm.name
                    && o.anti_affinity.as_ref() == Some(group)
            }),
        }
    }
}

fn admission_no(pp: &Pool, k: u32, w: &haplan::Witness) -> Admission {
    Admission::WouldOvercommit {
        configured: k,
        failed_hosts: w.failed.iter().map(|&h| pp.hosts[h].name.clone()).collect(),
        stranded_vms: w.unplaced.iter().map(|&v| pp.vms[v].name.clone()).collect(),
        reason: w.reason.clone(),
    }
}
