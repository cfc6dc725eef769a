//! Fencing: a host declared down, fence rounds through its levels with
//! backoff, holds while the runtime cannot reach half of the pool, the
//! confirmation that releases its VMs, and a host that returns.

use super::*;

impl Runtime {
    /// The answer to fence `id` of `host` (in time, or late after its
    /// timeout: an "off" then still confirms the host).
    pub(super) fn fence_answered(
        &mut self,
        id: ActionId,
        host: &str,
        off: bool,
        error: Option<&str>,
        out: &mut Output,
    ) {
        let late = self.hosts.get_mut(host).and_then(|h| h.late.remove(&id));
        if let Some(level) = late.filter(|_| off)
            && matches!(
                self.hosts[host].status,
                HostStatus::Fencing { .. }
                    | HostStatus::FenceWait { .. }
                    | HostStatus::FenceHold { .. }
            )
        {
            // Slower than the timeout, but a confirmation all the same.
            let agent = self.agent(host, level);
            self.fenced(host, Some(agent), out);
        } else if self.take(id).is_some() {
            if let HostStatus::Fencing {
                level,
                round,
                id: current,
                ..
            } = self.hosts[host].status
            {
                if current == id {
                    let agent = self.agent(host, level);
                    if off {
                        self.fenced(host, Some(agent), out);
                    } else {
                        let error = error.unwrap_or("failed").to_string();
                        self.fence_failed(host, level, round, agent, error, out);
                    }
                }
            }
        }
    }

    /// An operator confirms `host` is off (fenced by hand).
    pub(super) fn fence_confirmed(
        &mut self,
        host: &str,
        out: &mut Output,
    ) -> Result<(), RuntimeError> {
        self.host_id(host)?;
        match self.hosts[host].status {
            HostStatus::Fenced | HostStatus::Maintenance => out.notes.push(Note::Ignored {
                reason: format!("host {host} is already off or in maintenance"),
            }),
            HostStatus::Up | HostStatus::Confirming { .. } | HostStatus::Returning { .. } => {
                self.declare_down(host, None, None, out);
                self.fenced(host, None, out);
            }
            _ => self.fenced(host, None, out),
        }
        Ok(())
    }

    /// Declares `host` down: its VMs are held until it is confirmed off.
    /// Returns whether it is to be fenced (not in `ha.mode: "vm"`); the
    /// caller sends the first fence, or holds it.
    pub(super) fn declare_down(
        &mut self,
        host: &str,
        by: Option<String>,
        majority: Option<[u32; 2]>,
        out: &mut Output,
    ) -> bool {
        let h = self.pool.host_by_name(host).expect("known");
        out.notes.push(Note::HostDeclaredDown {
            host: host.to_string(),
            confirmed_by: by,
            majority,
        });
        self.set_host_state(h, HostState::Down);
        // Nothing goes to it any more.
        self.host_leaves(host);
        for v in 0..self.pool.vms.len() {
            let vm = &self.pool.vms[v];
            if vm.host == h && vm.power.is_active() {
                let rt = self.vms.get_mut(&vm.name).expect("known");
                if rt.phase == Phase::Steady {
                    rt.phase = Phase::Held;
                }
            }
        }
        let rt = self.hosts.get_mut(host).expect("known");
        rt.drain = None;
        if !self.pool.ha.enabled || self.pool.ha.mode == HaMode::Vm {
            rt.status = HostStatus::Lost;
            let vms = self
                .pool
                .vms
                .iter()
                .filter(|v| v.host == h && v.power.is_active() && v.restart != Restart::Unprotected)
                .map(|v| v.name.clone())
                .collect();
            out.alerts.push(Alert::HostLost {
                host: host.to_string(),
                vms,
            });
            return false;
        }
        // Its VMs join the recovery now: their start groups hold back the
        // later ones while its first fence round runs, and the room they
        // need is kept for them (see `replan`).
        let held: Vec<(String, Entry)> = self
            .pool
            .vms
            .iter()
            .filter(|v| v.host == h && v.power.is_active() && v.restart != Restart::Unprotected)
            .filter(|v| self.vms[&v.name].phase == Phase::Held)
            .map(|v| {
                (
                    v.name.clone(),
                    Entry {
                        order: v.order,
                        protected: v.restart == Restart::Protected,
                        done_at: None,
                        delay_ms: ms(v.start_delay_s),
                    },
                )
            })
            .collect();
        self.recovery.extend(held);
        self.dirty = true;
        true
    }

    pub(super) fn start_fence(&mut self, host: &str, level: usize, round: u32, out: &mut Output) {
        let h = self.pool.host_by_name(host).expect("known");
        if self.pool.hosts[h].fencing.is_empty() {
            self.fence_round_failed(host, round, "no fencing levels are configured".into(), out);
            return;
        }
        let id = self.id();
        let deadline = self
            .now
            .saturating_add(ms(self.pool.ha.fence_timeout_s))
            .saturating_add(FENCE_GRACE_MS);
        self.hosts.get_mut(host).expect("known").status = HostStatus::Fencing {
            level,
            round,
            id,
            deadline,
        };
        let agent = self.pool.hosts[h].fencing[level].agent.clone();
        self.emit(
            Action::Fence {
                id,
                host: host.to_string(),
                level,
                agent,
            },
            out,
        );
    }

    /// The next fence request of `host` waits for fresh answers (see
    /// `HostStatus::FenceHold`); every host not probed now is probed at
    /// once, so that the wait is one round trip when the network works.
    pub(super) fn hold_fence(&mut self, host: &str, level: usize, round: u32) {
        let rt = self.hosts.get_mut(host).expect("known");
        rt.status = HostStatus::FenceHold {
            level,
            round,
            since: self.now,
            resumed: false,
        };
        rt.silent_seen = None;
        self.next_probe = self.next_probe.min(self.now);
    }

    pub(super) fn fence_failed(
        &mut self,
        host: &str,
        level: usize,
        round: u32,
        agent: String,
        error: String,
        out: &mut Output,
    ) {
        out.notes.push(Note::FenceFailed {
            host: host.to_string(),
            level,
            agent,
            error: error.clone(),
        });
        let h = self.pool.host_by_name(host).expect("known");
        if level + 1 < self.pool.hosts[h].fencing.len() {
            self.hold_fence(host, level + 1, round);
        } else {
            self.fence_round_failed(host, round, error, out);
        }
    }

    fn fence_round_failed(&mut self, host: &str, round: u32, reason: String, out: &mut Output) {
        let wait = FENCE_BACKOFF_MS
            .saturating_mul(1u64 << round.min(20))
            .min(FENCE_BACKOFF_MAX_MS);
        let until = self.now.saturating_add(wait);
        self.hosts.get_mut(host).expect("known").status = HostStatus::FenceWait {
            round: round + 1,
            until,
        };
        // Its VMs stay down; the start groups after theirs stop waiting for
        // them (the fence may never come).
        let h = self.pool.host_by_name(host).expect("known");
        let held: Vec<String> = self
            .pool
            .vms
            .iter()
            .filter(|v| v.host == h && self.waits_for_fence(v))
            .map(|v| v.name.clone())
            .collect();
        for vm in &held {
            if let Some(e) = self.recovery.get_mut(vm)
                && e.done_at.is_none()
            {
                e.done_at = Some(self.now);
                e.delay_ms = 0;
                self.dirty = true;
            }
        }
        if round == 0 {
            self.unstick(); // the room kept for its VMs is free again
        }
        out.alerts.push(Alert::FencingFailed {
            host: host.to_string(),
            round: round + 1,
            retry_at: until,
            reason,
            vms: held,
        });
    }

    /// The host is confirmed off: its VMs may now run elsewhere.
    pub(super) fn fenced(&mut self, host: &str, agent: Option<String>, out: &mut Output) {
        out.notes.push(Note::HostFenced {
            host: host.to_string(),
            agent,
        });
        let h = self.pool.host_by_name(host).expect("known");
        self.set_host_state(h, HostState::Down);
        self.host_leaves(host);
        self.inflight.retain(|_, a| {
            !matches!(a, Action::Fence { host: x, .. }
                | Action::Probe { host: x, .. }
                | Action::Inventory { host: x, .. }
                | Action::StopVm { host: x, .. } if x == host)
        });
        let rt = self.hosts.get_mut(host).expect("known");
        rt.status = HostStatus::Fenced;
        rt.probe = None;
        rt.fails = 0;
        rt.late.clear();
        // Off: it runs nothing, and no start sent to it can land any more.
        rt.seen.clear();
        self.late_landings.retain(|_, l| l.host != host);
        rt.inventory = false;
        // Nor can a stop sent to it.
        self.end_late_stops(|_, h, _| h != host);
        self.release(host);
        self.unstick(); // what waited for the room kept for its VMs
    }

    /// Every running or paused VM of `host` (confirmed off) is dead: the
    /// protected and best-effort ones await a restart, the others are off.
    pub(super) fn release(&mut self, host: &str) {
        let h = self.pool.host_by_name(host).expect("known");
        for v in 0..self.pool.vms.len() {
            let vm = &self.pool.vms[v];
            if vm.host != h || !vm.power.is_active() {
                continue;
            }
            let name = vm.name.clone();
            let restarted = self.pool.ha.enabled && vm.restart != Restart::Unprotected;
            let entry = Entry {
                order: vm.order,
                protected: vm.restart == Restart::Protected,
                done_at: None,
                delay_ms: ms(vm.start_delay_s),
            };
            self.forget_vm_actions(&name);
            if restarted {
                self.vms
                    .insert(name.clone(), VmRt::with(Phase::Pending, true));
                // Remember where it came from, for failback.
                self.hosts
                    .get_mut(host)
                    .expect("known")
                    .evacuated
                    .insert(name.clone());
                self.recovery.insert(name, entry);
            } else {
                self.vms.insert(name, VmRt::steady());
                self.set_vm(v, None, Some(Power::Halted));
            }
        }
        self.dirty = true;
    }

    /// A returning host was inventoried: it is up. `fenced`: it had been
    /// confirmed off (not lost, nor only declared down).
    pub(super) fn host_returned(&mut self, host: &str, fenced: bool, out: &mut Output) {
        let h = self.pool.host_by_name(host).expect("known");
        let was = if fenced {
            HostStatus::Fenced
        } else {
            HostStatus::Lost
        };
        out.notes.push(Note::HostUp {
            host: host.to_string(),
        });
        self.inflight
            .retain(|_, a| !matches!(a, Action::Fence { host: x, .. } if x == host));
        let rt = self.hosts.get_mut(host).expect("known");
        rt.status = HostStatus::Up;
        rt.fails = 0;
        rt.unreachable_alerted = false;
        rt.unconfirmed_alerted = false;
        rt.late.clear();
        self.set_host_state(h, HostState::Up);
        let evacuated = std::mem::take(&mut self.hosts.get_mut(host).expect("known").evacuated);
        for v in 0..self.pool.vms.len() {
            let vm = &self.pool.vms[v];
            if vm.host != h || !vm.power.is_active() {
                continue;
            }
            let name = vm.name.clone();
            let rt = self.vms.get_mut(&name).expect("known");
            // Never fenced: its VMs may have run all along. Lost:
            // whatever its listing says next decides.
            if rt.phase == Phase::Held {
                rt.phase = Phase::Steady;
                self.recovery.remove(&name);
            }
        }
        if self.pool.ha.failback == Failback::Return && was == HostStatus::Fenced {
            for vm in evacuated {
                self.failback.push_back((vm, host.to_string()));
            }
        }
        self.unstick();
    }
}
