//! What restart planning sees: the planning pool (VMs awaiting restart on
//! a virtual host, capacity held for fences and landings), and the VMs put
//! back to pending when a host stops receiving or capacity appears.

use super::*;

impl Runtime {
    /// `host` missed a probe: the starts planned there (or to be tried
    /// there again) are planned again, on hosts that answer.
    pub(super) fn retarget(&mut self, host: &str) {
        if self.plan_again_from(host) {
            self.dirty = true;
        }
    }

    /// `host` no longer receives VMs: planned starts there are re-planned.
    pub(super) fn host_leaves(&mut self, host: &str) {
        if self.plan_again_from(host) {
            self.dirty = true;
        }
        self.failback.retain(|(_, t)| t != host);
        for rt in self.hosts.values_mut() {
            if let Some(q) = rt.drain.as_mut() {
                if q.iter().any(|(_, t)| t == host) {
                    rt.drain = None; // re-planned when maintenance is asked again
                }
            }
        }
    }

    /// The VMs planned on `host`, or to be tried there again, go back to
    /// pending (true if any did); except a VM that a start without an
    /// answer may still make run (pinned by a late landing, typically on
    /// `host` itself: a start came back in doubt, and its retry there was
    /// planned): planned anywhere else, that would be a second copy. It is
    /// looked for instead, as when its retries run out, and started again
    /// once the landing is ruled out or its host confirmed off
    /// (docs/runtime.md, "What may still land is waited for").
    fn plan_again_from(&mut self, host: &str) -> bool {
        let now = self.now;
        let wait = ms(self.pool.ha.retry_interval_s);
        let mut again = false;
        for (name, rt) in self.vms.iter_mut() {
            let attempt = match &rt.phase {
                Phase::Planned { host: t } if t == host => 0,
                Phase::Retry {
                    host: t, attempt, ..
                } if t == host => *attempt,
                _ => continue,
            };
            if self.late_landings.contains_key(name) {
                rt.phase = Phase::Unknown {
                    id: None,
                    ask_at: now.saturating_add(wait),
                    on: None,
                    attempt,
                    since: now,
                    alerted: false,
                    migration: None,
                    missing: false,
                    failed_late: None,
                    reconciled_away: false,
                };
            } else {
                rt.phase = Phase::Pending;
                again = true;
            }
        }
        again
    }

    /// The host that a start or migration of `vm` without an answer may
    /// still leave it on, unless that host is confirmed off.
    pub(super) fn landing_host(&self, vm: &str) -> Option<&str> {
        self.late_landings
            .get(vm)
            .map(|l| l.host.as_str())
            .filter(|h| {
                self.hosts
                    .get(*h)
                    .is_some_and(|r| r.status != HostStatus::Fenced)
            })
    }

    /// The host a start of `vm` without an answer pins it to (a start's
    /// pin, not a migration's), whatever that host's state.
    pub(super) fn start_pin_host(&self, vm: &str) -> Option<&str> {
        self.late_landings
            .get(vm)
            .filter(|l| l.from.is_none())
            .map(|l| l.host.as_str())
    }

    /// The host whose room `v` holds for planning: the one its record
    /// places it on, when that host is up and `v` runs or is being started
    /// or migrated there. A VM awaiting a target holds none (planning sees
    /// it on no host).
    pub(super) fn room_held(&self, v: VmId) -> Option<HostId> {
        let vm = &self.pool.vms[v];
        let waiting = matches!(
            self.vms.get(&vm.name).map(|r| &r.phase),
            Some(Phase::Pending | Phase::Planned { .. } | Phase::Stuck { .. })
        );
        (!waiting && vm.power.is_active() && self.pool.hosts[vm.host].state == HostState::Up)
            .then_some(vm.host)
    }

    /// Stuck VMs get another chance after capacity appeared.
    pub(super) fn unstick(&mut self) {
        let stuck: Vec<String> = self
            .vms
            .iter()
            .filter(|(_, rt)| matches!(rt.phase, Phase::Stuck { .. }))
            .map(|(n, _)| n.clone())
            .collect();
        for vm in stuck {
            self.repend(&vm);
        }
        self.dirty = true;
    }

    /// A stuck VM awaits a target again, in its start group: the groups
    /// before it run first, and the ones after it wait for it.
    /// In HA mode "vm" no plan moves a VM: it is tried again on its own
    /// host (when that host is up; otherwise it waits another round).
    pub(super) fn repend(&mut self, vm: &str) {
        if self.pool.ha.enabled
            && self.pool.ha.mode == HaMode::Vm
            && let Some(v) = self.pool.vm_by_name(vm)
        {
            let own = &self.pool.hosts[self.pool.vms[v].host];
            let (name, up) = (own.name.clone(), own.state == HostState::Up);
            let now = self.now;
            let rt = self.vms.get_mut(vm).expect("known");
            rt.phase = if up {
                Phase::Retry {
                    host: name,
                    attempt: 0,
                    until: now,
                }
            } else {
                Phase::Stuck {
                    until: now.saturating_add(STUCK_RETRY_MS),
                }
            };
            self.dirty = true;
            return;
        }
        let rt = self.vms.get_mut(vm).expect("known");
        rt.phase = Phase::Pending;
        rt.tried.clear();
        let Some(v) = self.pool.vm_by_name(vm) else {
            return;
        };
        let me = &self.pool.vms[v];
        let entry = Entry {
            order: me.order,
            protected: me.restart == Restart::Protected,
            done_at: None,
            delay_ms: ms(me.start_delay_s),
        };
        self.recovery.insert(vm.to_string(), entry);
        self.dirty = true;
    }

    /// The pool as planning sees it: VMs awaiting a target sit on a host
    /// that is down (so they need a restart and hold no capacity), VMs
    /// being started hold their target's capacity. Returns the pool and the
    /// index of that extra host. Without `held`, VMs of hosts not yet
    /// confirmed off are left out (as halted): restarts do not wait for a
    /// fence that may never come, and do not keep room for those VMs.
    fn planning_pool_with(&self, held: bool) -> (Pool, HostId) {
        self.planning_pool_full(held, false, false)
    }

    /// Whether `vm` waits for its host to be confirmed off before it may
    /// run anywhere else: held on a host declared down, or in doubt with
    /// the record placing it on a host declared down and not confirmed off
    /// (a start there whose outcome is unknown). Such a VM is planned like
    /// the held ones: room is kept for it only while its host's first fence
    /// round runs, never for a fence that may not come.
    pub(super) fn waits_for_fence(&self, vm: &Vm) -> bool {
        match self.vms[&vm.name].phase {
            Phase::Held => true,
            Phase::Unknown { .. } => {
                vm.power.is_active()
                    && self.pool.hosts[vm.host].state == HostState::Down
                    && self.hosts[&self.pool.hosts[vm.host].name].status != HostStatus::Fenced
            }
            _ => false,
        }
    }

    /// Whether `vm`, held on a host declared down, has room kept for it:
    /// its host's first fence round runs.
    pub(super) fn reserved(&self, vm: &Vm) -> bool {
        self.waits_for_fence(vm)
            && vm.restart == Restart::Protected
            && matches!(
                self.hosts[&self.pool.hosts[vm.host].name].status,
                HostStatus::Fencing { round: 0, .. } | HostStatus::FenceHold { round: 0, .. }
            )
    }

    /// [`Runtime::planning_pool_with`]; with `reserve`, protected VMs held
    /// on a host in its first fence round await a target too (room is kept
    /// for them); with `answering`, the VMs awaiting a target may go only
    /// to hosts whose latest probe answered.
    pub(super) fn planning_pool_full(
        &self,
        held: bool,
        reserve: bool,
        answering: bool,
    ) -> (Pool, HostId) {
        let mut pool = self.pool.clone();
        let nres = pool.resources.len();
        let virt = pool.hosts.len();
        pool.hosts.push(Host {
            name: VIRTUAL_HOST.to_string(),
            capacity: vec![0; nres],
            reserved: vec![0; nres],
            listed: vec![false; nres],
            state: HostState::Down,
            standby: false,
            storage: Default::default(),
            networks: Default::default(),
            labels: Default::default(),
            fencing: Vec::new(),
            overcommit: Default::default(),
        });
        for (v, vm) in pool.vms.iter_mut().enumerate() {
            let rt = &self.vms[&vm.name];
            if matches!(
                rt.phase,
                Phase::Pending | Phase::Planned { .. } | Phase::Stuck { .. }
            ) {
                // Hosts whose attempts all failed are not targets again,
                // nor (with `answering`) hosts that miss their probes; a VM
                // that a start or migration without an answer may still
                // leave on a host goes there or nowhere (elsewhere it could
                // make a second copy; there it can only meet itself).
                let missing = |h: HostId| {
                    answering
                        && self
                            .hosts
                            .get(&self.pool.hosts[h].name)
                            .is_some_and(|r| r.fails > 0 || r.unreachable_alerted)
                };
                let pinned = self.landing_host(&vm.name);
                let excluded = |h: HostId| {
                    let name = &self.pool.hosts[h].name;
                    rt.tried.contains(name) || missing(h) || pinned.is_some_and(|p| p != name)
                };
                if (0..virt).any(excluded) {
                    let all: Vec<HostId> = vm
                        .allowed_hosts
                        .clone()
                        .unwrap_or_else(|| (0..virt).collect());
                    vm.allowed_hosts = Some(all.into_iter().filter(|&h| !excluded(h)).collect());
                }
                vm.host = virt;
            } else if reserve && self.reserved(&self.pool.vms[v]) {
                vm.host = virt;
            } else if !held && self.waits_for_fence(&self.pool.vms[v]) {
                vm.power = Power::Halted;
            }
        }
        (pool, virt)
    }

    /// The pool with every VM that awaits a restart (see
    /// [`Runtime::planning_pool_with`]).
    pub(super) fn planning_pool(&self) -> (Pool, HostId) {
        self.planning_pool_with(true)
    }
}
