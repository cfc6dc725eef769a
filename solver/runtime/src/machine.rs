//! The runtime's state and its reaction to each event.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde::Serialize;
use serde_json::{Map, Value};

use super::*;
use haplan::agility;
use haplan::drain;
use haplan::error::{ChangesError, PoolError};
use haplan::model::*;
use haplan::pack::Budget;
use haplan::plan::{self, Scope};
use haplan::scenario::Analysis;
use haplan::tolerance::{self, CheckOptions, Tolerates};
use haplan::whatif::{self, Change, HostVms};

/// First wait after every fence level of a host failed; doubles each round.
pub const FENCE_BACKOFF_MS: Millis = 5_000;
/// The longest wait between fence rounds.
pub const FENCE_BACKOFF_MAX_MS: Millis = 300_000;
/// Beyond `fence_timeout_s`, how long a fence may go unanswered before the
/// runtime counts it as failed.
pub const FENCE_GRACE_MS: Millis = 5_000;
/// After a restart of the runtime, how long it waits before asking where a
/// VM whose start or migration was in flight runs: a driver finishes or
/// abandons every start within this time.
pub const SETTLE_MS: Millis = 60_000;
/// How often a protected VM that no host could take is tried again when
/// nothing else gave it a new chance.
pub const STUCK_RETRY_MS: Millis = 60_000;
/// When where a VM runs could not be found out, how long until it is asked
/// again.
pub const ASK_AGAIN_MS: Millis = 5_000;

/// Why an event or an operation cannot be taken.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("unknown host {}", haplan::strict::quoted(.0))]
    UnknownHost(String),
    #[error("unknown VM {}", haplan::strict::quoted(.0))]
    UnknownVm(String),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Pool(#[from] PoolError),
    #[error(transparent)]
    Changes(#[from] ChangesError),
}

/// The answer of an admission check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Admission {
    /// The pool keeps its configured k (or the operation does not lower it).
    Allowed { configured: u32 },
    /// After the operation the pool would not tolerate its configured k:
    /// the witness is a failure set and the VMs it would strand.
    WouldOvercommit {
        configured: u32,
        failed_hosts: Vec<String>,
        stranded_vms: Vec<String>,
        reason: String,
    },
    /// The operation cannot be done at all (it does not fit, say).
    Refused { reason: String },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
enum HostStatus {
    Up,
    /// Enough probes failed; a peer is asked whether it reaches the host.
    Confirming {
        id: ActionId,
    },
    Fencing {
        level: usize,
        round: u32,
        id: ActionId,
        deadline: Millis,
    },
    /// Every level failed in round `round - 1`; the next round at `until`.
    FenceWait {
        round: u32,
        until: Millis,
    },
    /// Confirmed off: its VMs were released for restart.
    Fenced,
    /// Declared down without host failover (`ha.mode: "vm"`): not fenced.
    Lost,
    Maintenance,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
struct HostRt {
    status: HostStatus,
    fails: u32,
    probe: Option<ActionId>,
    unreachable_alerted: bool,
    /// VMs restarted elsewhere after this host was fenced (for failback).
    evacuated: BTreeSet<String>,
    /// Draining for maintenance: the migrations still to do.
    drain: Option<VecDeque<(String, String)>>,
    /// Fences that timed out: a late "off" from one still confirms it.
    late: BTreeMap<ActionId, usize>,
    /// Its VMs are to be listed (after a restart of the runtime, or once it
    /// answers again after missed probes): what changed unseen.
    inventory: bool,
    /// Not before this time (after a listing that failed).
    inventory_at: Millis,
}

impl HostRt {
    fn new(status: HostStatus) -> HostRt {
        HostRt {
            status,
            fails: 0,
            probe: None,
            unreachable_alerted: false,
            evacuated: BTreeSet::new(),
            drain: None,
            late: BTreeMap::new(),
            inventory: false,
            inventory_at: 0,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
enum Phase {
    /// As the pool says: running where it is, or halted.
    Steady,
    /// On a host declared down and not yet confirmed off.
    Held,
    /// Awaits a restart target.
    Pending,
    /// A target is chosen; waits for its start group.
    Planned {
        host: String,
    },
    Starting {
        id: ActionId,
        host: String,
        attempt: u32,
    },
    Retry {
        host: String,
        attempt: u32,
        until: Millis,
    },
    /// Protected, and no target could take it: waits for capacity, and is
    /// tried again at `until` anyway.
    Stuck {
        until: Millis,
    },
    /// Where it runs is unknown (a start or migration was in flight when
    /// the runtime stopped, or its host came back without failover).
    Unknown {
        id: Option<ActionId>,
        ask_at: Millis,
    },
    Migrating {
        id: ActionId,
        to: String,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
struct VmRt {
    phase: Phase,
    /// Hosts whose every attempt failed, in this restart.
    tried: Vec<String>,
    /// Whether this restart follows a host failure (ordered, one attempt
    /// for best-effort) rather than a crash on a healthy host.
    after_failure: bool,
}

impl VmRt {
    fn steady() -> VmRt {
        VmRt {
            phase: Phase::Steady,
            tried: Vec::new(),
            after_failure: false,
        }
    }
}

/// A VM in the current recovery: what its start group waits for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
struct Entry {
    order: u32,
    protected: bool,
    done_at: Option<Millis>,
    delay_ms: Millis,
}

/// The last tolerance computed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
struct Known {
    configured: u32,
    max_tolerable: u32,
    stranded_now: bool,
}

/// The HA runtime of one pool. See the module documentation.
#[derive(Clone, Debug)]
pub struct Runtime {
    /// The pool file as the runtime keeps it up to date.
    doc: Value,
    pool: Pool,
    now: Millis,
    next_id: ActionId,
    hosts: BTreeMap<String, HostRt>,
    vms: BTreeMap<String, VmRt>,
    inflight: BTreeMap<ActionId, Action>,
    next_probe: Millis,
    known: Option<Known>,
    alerted_not_agile: BTreeSet<String>,
    recovery: BTreeMap<String, Entry>,
    /// Failback migrations still to do (VM, target).
    failback: VecDeque<(String, String)>,
    dirty: bool,
}

const VIRTUAL_HOST: &str = "\u{0}awaiting-restart";

impl Runtime {
    /// A runtime for the pool file `doc` (validated as a whole), at time
    /// `now`. Hosts the file has `down` are taken as already confirmed off.
    pub fn new(doc: Value, now: Millis) -> Result<(Runtime, Output), RuntimeError> {
        let pool = haplan::pool_from_value(&doc)?;
        let mut hosts = BTreeMap::new();
        for h in &pool.hosts {
            let status = match h.state {
                HostState::Up => HostStatus::Up,
                HostState::Down => HostStatus::Fenced,
                HostState::Maintenance => HostStatus::Maintenance,
            };
            hosts.insert(h.name.clone(), HostRt::new(status));
        }
        let vms = pool
            .vms
            .iter()
            .map(|v| (v.name.clone(), VmRt::steady()))
            .collect();
        let mut rt = Runtime {
            doc,
            pool,
            now,
            next_id: 1,
            hosts,
            vms,
            inflight: BTreeMap::new(),
            next_probe: now,
            known: None,
            alerted_not_agile: BTreeSet::new(),
            recovery: BTreeMap::new(),
            failback: VecDeque::new(),
            dirty: true,
        };
        let mut out = Output::default();
        // VMs of hosts already down await their restart.
        let down: Vec<String> = rt
            .pool
            .hosts
            .iter()
            .filter(|h| h.state == HostState::Down)
            .map(|h| h.name.clone())
            .collect();
        for h in down {
            rt.release(&h);
        }
        rt.settle(&mut out);
        Ok((rt, out))
    }

    /// The pool as the runtime knows it now.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// The pool file as the runtime keeps it (with credentials).
    pub fn document(&self) -> &Value {
        &self.doc
    }

    pub fn now(&self) -> Millis {
        self.now
    }

    /// The last computed tolerance: (configured k, max tolerable).
    pub fn tolerance(&self) -> Option<(u32, u32)> {
        self.known.as_ref().map(|k| (k.configured, k.max_tolerable))
    }

    /// Actions sent and not yet answered.
    pub fn in_flight(&self) -> impl Iterator<Item = &Action> {
        self.inflight.values()
    }

    /// The host each running or paused VM runs on, by name, as the runtime
    /// believes (VMs being restarted or of hosts that are not up excluded).
    pub fn placement(&self) -> BTreeMap<String, String> {
        self.pool
            .vms
            .iter()
            .filter(|v| v.power.is_active())
            .filter(|v| matches!(self.vms[&v.name].phase, Phase::Steady))
            .filter(|v| self.pool.hosts[v.host].state == HostState::Up)
            .map(|v| (v.name.clone(), self.pool.hosts[v.host].name.clone()))
            .collect()
    }

    /// Protected VMs that are not known to run (awaiting or in restart).
    pub fn awaiting(&self) -> Vec<String> {
        self.pool
            .vms
            .iter()
            .filter(|v| v.restart == Restart::Protected && v.power.is_active())
            .filter(|v| {
                !matches!(
                    self.vms[&v.name].phase,
                    Phase::Steady | Phase::Migrating { .. }
                ) || self.pool.hosts[v.host].state != HostState::Up
            })
            .map(|v| v.name.clone())
            .collect()
    }

    /// The whole state, as JSON, with credentials redacted: equal for two
    /// runtimes exactly when they are in the same state.
    pub fn state_json(&self) -> Value {
        serde_json::json!({
            "pool": super::log::redact_pool(&self.doc),
            "now": self.now,
            "next_id": self.next_id,
            "hosts": self.hosts,
            "vms": self.vms,
            "in_flight": self.inflight.values().collect::<Vec<_>>(),
            "next_probe": self.next_probe,
            "known": self.known,
            "alerted_not_agile": self.alerted_not_agile,
            "recovery": self.recovery,
            "failback": self.failback,
        })
    }

    /// Reacts to one event. An event that refers to what the pool does not
    /// have, or would make the pool invalid, is refused and changes nothing.
    pub fn handle(&mut self, input: &Input) -> Result<Output, RuntimeError> {
        // Results and ticks refuse nothing; other events may be refused
        // after a lookup, so they are undone as a whole.
        let before = match input.event {
            Event::Tick
            | Event::HealthCheck { .. }
            | Event::PeerCheck { .. }
            | Event::FenceResult { .. }
            | Event::VmStartResult { .. }
            | Event::MigrateResult { .. }
            | Event::Inventory { .. } => None,
            _ => Some(self.clone()),
        };
        let mut out = Output::default();
        self.now = self.now.max(input.at);
        match self.event(&input.event, &mut out) {
            Ok(()) => {
                self.settle(&mut out);
                Ok(out)
            }
            Err(e) => {
                if let Some(before) = before {
                    *self = before;
                }
                Err(e)
            }
        }
    }

    /// After a restart of the runtime from its log: probes and peer
    /// questions in flight are forgotten, fences in flight are sent again
    /// (fencing a host that is off is harmless), and VMs whose start or
    /// migration was in flight are looked for once every such action has
    /// settled, before anything else is done with them.
    fn restarted(&mut self, out: &mut Output) {
        let inflight = std::mem::take(&mut self.inflight);
        for h in self.hosts.values_mut() {
            h.probe = None;
        }
        for action in inflight.into_values() {
            match action {
                Action::Probe { .. } => {}
                Action::AskPeer { id, host, .. } => {
                    // Still waiting for that answer: asked again later. A
                    // host declared down since stays down.
                    if let Some(h) = self.hosts.get_mut(&host)
                        && h.status == (HostStatus::Confirming { id })
                    {
                        h.status = HostStatus::Up;
                    }
                }
                Action::Fence { host, level, .. } => {
                    let round = match self.hosts[&host].status {
                        HostStatus::Fencing { round, .. } => round,
                        _ => 0,
                    };
                    self.start_fence(&host, level, round, out);
                }
                Action::Inventory { .. } => {}
                Action::StartVm { vm, .. }
                | Action::Migrate { vm, .. }
                | Action::QueryVm { vm, .. } => {
                    if let Some(rt) = self.vms.get_mut(&vm) {
                        rt.phase = Phase::Unknown {
                            id: None,
                            ask_at: self.now.saturating_add(SETTLE_MS),
                        };
                    }
                }
            }
        }
        // What happened while nobody listened: every up host's VMs.
        for h in self.hosts.values_mut() {
            if h.status == HostStatus::Up {
                h.inventory = true;
            }
        }
        let _ = out;
        // A drain or failback in progress resumes from where it was.
    }

    /// Reconciles the pool with what `host` reports running: a VM missing
    /// there crashed (and is restarted, its host being up), a VM found
    /// there was started or moved by someone else.
    fn inventory(&mut self, host: &str, running: &[String], out: &mut Output) {
        let Some(h) = self.pool.host_by_name(host) else {
            return;
        };
        if self.hosts[host].status != HostStatus::Up {
            return;
        }
        for v in 0..self.pool.vms.len() {
            let vm = &self.pool.vms[v];
            let steady = self.vms[&vm.name].phase == Phase::Steady;
            let listed = running.contains(&vm.name);
            if !steady {
                continue;
            }
            if vm.host == h && vm.power.is_active() && !listed {
                out.notes.push(Note::VmFound {
                    vm: vm.name.clone(),
                    host: None,
                });
                self.crashed(v, out);
            } else if listed && (vm.host != h || !vm.power.is_active()) {
                out.notes.push(Note::VmFound {
                    vm: vm.name.clone(),
                    host: Some(host.to_string()),
                });
                self.set_vm(v, Some(h), Some(Power::Running));
            }
        }
    }

    fn id(&mut self) -> ActionId {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    fn emit(&mut self, action: Action, out: &mut Output) {
        self.inflight.insert(action.id(), action.clone());
        out.actions.push(action);
    }

    fn host_id(&self, name: &str) -> Result<HostId, RuntimeError> {
        self.pool
            .host_by_name(name)
            .ok_or_else(|| RuntimeError::UnknownHost(name.to_string()))
    }

    fn vm_id(&self, name: &str) -> Result<VmId, RuntimeError> {
        self.pool
            .vm_by_name(name)
            .ok_or_else(|| RuntimeError::UnknownVm(name.to_string()))
    }

    // ---- the model: the pool and its file, kept in step ----

    fn set_vm(&mut self, v: VmId, host: Option<HostId>, power: Option<Power>) {
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

    fn set_host_state(&mut self, h: HostId, state: HostState) {
        if self.pool.hosts[h].state != state {
            self.pool.hosts[h].state = state;
            self.doc["hosts"][h]["state"] = Value::String(state.as_str().to_string());
            self.dirty = true;
        }
    }

    /// Applies structural changes through the what-if machinery, so that
    /// the changed pool is validated as a whole.
    fn change(&mut self, changes: &[Change]) -> Result<(), RuntimeError> {
        let changed = whatif::apply(&self.doc, changes)?;
        self.doc = changed.value;
        self.pool = changed.pool;
        self.dirty = true;
        Ok(())
    }

    // ---- events ----

    fn event(&mut self, event: &Event, out: &mut Output) -> Result<(), RuntimeError> {
        match event {
            Event::Tick => {}
            Event::VmStarted {
                vm,
                host,
                definition,
            } => {
                let h = self.host_id(host)?;
                match self.pool.vm_by_name(vm) {
                    Some(v) => {
                        self.forget_vm_actions(vm);
                        self.set_vm(v, Some(h), Some(Power::Running));
                    }
                    None => {
                        let Some(def) = definition else {
                            return Err(RuntimeError::UnknownVm(vm.clone()));
                        };
                        let mut def = def.clone();
                        let obj = def.as_object_mut().ok_or_else(|| {
                            RuntimeError::Invalid("a VM definition must be an object".into())
                        })?;
                        obj.insert("name".into(), Value::String(vm.clone()));
                        obj.insert("host".into(), Value::String(host.clone()));
                        obj.insert("power".into(), Value::String("running".into()));
                        self.change(&[Change::AddVm { vm: def }])?;
                    }
                }
                let rt = self.vms.entry(vm.clone()).or_insert_with(VmRt::steady);
                *rt = VmRt::steady();
                self.recovery.remove(vm);
            }
            Event::VmStopped { vm } => {
                let v = self.vm_id(vm)?;
                self.forget_vm_actions(vm);
                self.set_vm(v, None, Some(Power::Halted));
                self.vms.insert(vm.clone(), VmRt::steady());
                self.recovery.remove(vm);
                self.unstick();
            }
            Event::VmCrashed { vm } => {
                let v = self.vm_id(vm)?;
                self.crashed(v, out);
            }
            Event::VmMigrated { vm, host } => {
                let v = self.vm_id(vm)?;
                let h = self.host_id(host)?;
                self.set_vm(v, Some(h), None);
            }
            Event::VmResized { vm, demand } => {
                self.vm_id(vm)?;
                self.change(&[Change::ResizeVm {
                    name: vm.clone(),
                    demand: demand.clone(),
                }])?;
                self.unstick();
            }
            Event::VmPriorityChanged {
                vm,
                priority,
                restart,
            } => {
                self.vm_id(vm)?;
                let mut changes = Vec::new();
                if let Some(p) = priority {
                    changes.push(Change::SetPriority {
                        name: vm.clone(),
                        priority: *p,
                    });
                }
                if let Some(r) = restart {
                    changes.push(Change::SetRestart {
                        name: vm.clone(),
                        restart: *r,
                    });
                }
                self.change(&changes)?;
            }
            Event::HostAdded { host } => {
                self.change(&[Change::AddHost { host: host.clone() }])?;
                let name = self.pool.hosts.last().expect("added").name.clone();
                let status = match self.pool.hosts.last().expect("added").state {
                    HostState::Up => HostStatus::Up,
                    HostState::Down => HostStatus::Fenced,
                    HostState::Maintenance => HostStatus::Maintenance,
                };
                self.hosts.insert(name, HostRt::new(status));
                self.unstick();
            }
            Event::HostRemoved { host } => {
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
                    name: host.clone(),
                    vms: HostVms::Remove,
                }])?;
                for v in gone {
                    self.vms.remove(&v);
                    self.recovery.remove(&v);
                }
                self.host_leaves(host);
                self.hosts.remove(host);
                self.inflight.retain(|_, a| !action_names_host(a, host));
                // What awaited an answer just dropped: a peer's word is
                // asked again (of another peer) on the next failed probe, a
                // VM that was migrating there is looked for.
                for rt in self.hosts.values_mut() {
                    if matches!(rt.status, HostStatus::Confirming { id } if !self.inflight.contains_key(&id))
                    {
                        rt.status = HostStatus::Up;
                    }
                }
                for rt in self.vms.values_mut() {
                    if matches!(&rt.phase, Phase::Migrating { to, .. } if to == host) {
                        rt.phase = Phase::Unknown {
                            id: None,
                            ask_at: self.now,
                        };
                    }
                }
            }
            Event::HostUp { host } => {
                self.host_id(host)?;
                match self.hosts[host].status {
                    HostStatus::Up | HostStatus::Confirming { .. } | HostStatus::Maintenance => {
                        out.notes.push(Note::Ignored {
                            reason: format!("host {host} is already up or in maintenance"),
                        });
                    }
                    _ => self.host_returned(host, out),
                }
            }
            Event::HostDown { host } => {
                self.host_id(host)?;
                match self.hosts[host].status {
                    HostStatus::Up | HostStatus::Confirming { .. } => {
                        self.declare_down(host, None, out)
                    }
                    _ => out.notes.push(Note::Ignored {
                        reason: format!("host {host} is not up"),
                    }),
                }
            }
            Event::HostMaintenance { host, enter } => {
                let h = self.host_id(host)?;
                self.maintenance(h, *enter, out)?;
            }
            Event::HealthCheck {
                id,
                host,
                ping,
                api,
            } => {
                if self.answer(*id, host).is_some() {
                    if let Some(rt) = self.hosts.get_mut(host) {
                        rt.probe = None;
                    }
                    self.health(host, *ping && *api, out);
                }
            }
            Event::PeerCheck {
                id,
                host,
                peer,
                reachable,
            } => {
                if self.answer(*id, host).is_some()
                    && self.hosts[host].status == (HostStatus::Confirming { id: *id })
                {
                    if *reachable {
                        let rt = self.hosts.get_mut(host).expect("known");
                        rt.status = HostStatus::Up;
                        rt.fails = 0;
                        if !rt.unreachable_alerted {
                            rt.unreachable_alerted = true;
                            out.alerts.push(Alert::HostUnreachable {
                                host: host.clone(),
                                peer: peer.clone(),
                            });
                        }
                    } else {
                        self.declare_down(host, Some(peer.clone()), out);
                    }
                }
            }
            Event::FenceResult {
                id,
                host,
                off,
                error,
            } => {
                let late = self.hosts.get_mut(host).and_then(|h| h.late.remove(id));
                if let Some(level) = late.filter(|_| *off)
                    && matches!(
                        self.hosts[host].status,
                        HostStatus::Fencing { .. } | HostStatus::FenceWait { .. }
                    )
                {
                    // Slower than the timeout, but a confirmation all the same.
                    let agent = self.agent(host, level);
                    self.fenced(host, Some(agent), out);
                } else if self.answer(*id, host).is_some() {
                    if let HostStatus::Fencing {
                        level,
                        round,
                        id: current,
                        ..
                    } = self.hosts[host].status
                    {
                        if current == *id {
                            let agent = self.agent(host, level);
                            if *off {
                                self.fenced(host, Some(agent), out);
                            } else {
                                let error = error.clone().unwrap_or_else(|| "failed".into());
                                self.fence_failed(host, level, round, agent, error, out);
                            }
                        }
                    }
                }
            }
            Event::FenceConfirmed { host } => {
                self.host_id(host)?;
                match self.hosts[host].status {
                    HostStatus::Fenced | HostStatus::Maintenance => out.notes.push(Note::Ignored {
                        reason: format!("host {host} is already off or in maintenance"),
                    }),
                    HostStatus::Up | HostStatus::Confirming { .. } => {
                        self.declare_down(host, None, out);
                        self.fenced(host, None, out);
                    }
                    _ => self.fenced(host, None, out),
                }
            }
            Event::VmStartResult {
                id,
                vm,
                host,
                ok,
                error,
            } => {
                if self.answer(*id, vm).is_some() {
                    self.start_result(*id, vm, host, *ok, error.as_deref(), out);
                }
            }
            Event::MigrateResult {
                id,
                vm,
                host,
                ok,
                error,
            } => {
                if self.answer(*id, vm).is_some() {
                    self.migrate_result(*id, vm, host, *ok, error.as_deref(), out);
                }
            }
            Event::VmStatus {
                id,
                vm,
                host,
                error,
            } => {
                if self.answer(*id, vm).is_some() {
                    if error.is_some() {
                        // Not known yet: asked again shortly.
                        if let Some(rt) = self.vms.get_mut(vm) {
                            if matches!(rt.phase, Phase::Unknown { id: Some(x), .. } if x == *id) {
                                rt.phase = Phase::Unknown {
                                    id: None,
                                    ask_at: self.now.saturating_add(ASK_AGAIN_MS),
                                };
                            }
                        }
                    } else {
                        self.found(*id, vm, host.as_deref(), out)?;
                    }
                }
            }
            Event::Inventory {
                id,
                host,
                vms,
                error,
            } => {
                if self.answer(*id, host).is_some() {
                    let again = self
                        .now
                        .saturating_add(ms(self.pool.ha.check_interval_s).max(1));
                    if let Some(h) = self.hosts.get_mut(host) {
                        if error.is_some() {
                            h.inventory_at = again; // asked again later
                        } else {
                            h.inventory = false;
                        }
                    }
                    if error.is_none() {
                        self.inventory(host, vms, out);
                    }
                }
            }
            Event::ConfigChanged { ha } => {
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
            }
            Event::Restarted => self.restarted(out),
            Event::OperationProceeded { operation } => {
                out.notes.push(Note::Proceeded {
                    operation: operation.clone(),
                });
            }
        }
        Ok(())
    }

    /// Takes the answer to action `id` if it is in flight and concerns
    /// `name` (a host or a VM); a late or unknown answer is ignored.
    fn answer(&mut self, id: ActionId, name: &str) -> Option<Action> {
        match self.inflight.get(&id) {
            Some(a) if action_names(a, name) => self.inflight.remove(&id),
            _ => None,
        }
    }

    fn forget_vm_actions(&mut self, vm: &str) {
        self.inflight.retain(|_, a| match a {
            Action::StartVm { vm: v, .. }
            | Action::Migrate { vm: v, .. }
            | Action::QueryVm { vm: v, .. } => v != vm,
            _ => true,
        });
    }

    fn agent(&self, host: &str, level: usize) -> String {
        self.pool
            .host_by_name(host)
            .and_then(|h| self.pool.hosts[h].fencing.get(level))
            .map(|l| l.agent.clone())
            .unwrap_or_default()
    }

    // ---- detection and fencing ----

    fn health(&mut self, host: &str, ok: bool, out: &mut Output) {
        let threshold = self.pool.ha.failure_threshold.max(1);
        let status = self.hosts[host].status.clone();
        match status {
            HostStatus::Up => {
                let rt = self.hosts.get_mut(host).expect("known");
                if ok {
                    if rt.fails > 0 || rt.unreachable_alerted {
                        rt.inventory = true; // it was out of sight
                    }
                    rt.fails = 0;
                    rt.unreachable_alerted = false;
                    return;
                }
                rt.fails += 1;
                let fails = rt.fails;
                out.notes.push(Note::HostSuspect {
                    host: host.to_string(),
                    failures: fails,
                });
                if fails >= threshold {
                    let peer = self
                        .hosts
                        .iter()
                        .find(|(n, h)| *n != host && h.status == HostStatus::Up && h.fails == 0)
                        .map(|(n, _)| n.clone());
                    match peer {
                        Some(peer) => {
                            let id = self.id();
                            self.hosts.get_mut(host).expect("known").status =
                                HostStatus::Confirming { id };
                            self.emit(
                                Action::AskPeer {
                                    id,
                                    host: host.to_string(),
                                    peer,
                                },
                                out,
                            );
                        }
                        None => self.declare_down(host, None, out),
                    }
                }
            }
            HostStatus::Confirming { .. } => {
                let rt = self.hosts.get_mut(host).expect("known");
                if ok {
                    rt.status = HostStatus::Up;
                    rt.fails = 0;
                } else {
                    rt.fails += 1;
                }
            }
            HostStatus::Fenced | HostStatus::Lost if ok => self.host_returned(host, out),
            _ => {}
        }
    }

    fn declare_down(&mut self, host: &str, by: Option<String>, out: &mut Output) {
        let h = self.pool.host_by_name(host).expect("known");
        out.notes.push(Note::HostDeclaredDown {
            host: host.to_string(),
            confirmed_by: by,
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
            return;
        }
        self.start_fence(host, 0, 0, out);
    }

    fn start_fence(&mut self, host: &str, level: usize, round: u32, out: &mut Output) {
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

    fn fence_failed(
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
            self.start_fence(host, level + 1, round, out);
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
        out.alerts.push(Alert::FencingFailed {
            host: host.to_string(),
            round: round + 1,
            retry_at: until,
            reason,
        });
    }

    /// The host is confirmed off: its VMs may now run elsewhere.
    fn fenced(&mut self, host: &str, agent: Option<String>, out: &mut Output) {
        out.notes.push(Note::HostFenced {
            host: host.to_string(),
            agent,
        });
        let h = self.pool.host_by_name(host).expect("known");
        self.set_host_state(h, HostState::Down);
        self.host_leaves(host);
        self.inflight.retain(|_, a| {
            !matches!(a, Action::Fence { host: x, .. } | Action::Probe { host: x, .. } if x == host)
        });
        let rt = self.hosts.get_mut(host).expect("known");
        rt.status = HostStatus::Fenced;
        rt.probe = None;
        rt.fails = 0;
        rt.late.clear();
        self.release(host);
    }

    /// Every running or paused VM of `host` (confirmed off) is dead: the
    /// protected and best-effort ones await a restart, the others are off.
    fn release(&mut self, host: &str) {
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
                self.vms.insert(
                    name.clone(),
                    VmRt {
                        phase: Phase::Pending,
                        tried: Vec::new(),
                        after_failure: true,
                    },
                );
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

    /// `host` no longer receives VMs: planned starts there are re-planned.
    fn host_leaves(&mut self, host: &str) {
        let mut again = false;
        for rt in self.vms.values_mut() {
            match &rt.phase {
                Phase::Planned { host: t } | Phase::Retry { host: t, .. } if t == host => {
                    rt.phase = Phase::Pending;
                    again = true;
                }
                _ => {}
            }
        }
        if again {
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

    fn host_returned(&mut self, host: &str, out: &mut Output) {
        let h = self.pool.host_by_name(host).expect("known");
        let was = self.hosts[host].status.clone();
        out.notes.push(Note::HostUp {
            host: host.to_string(),
        });
        self.inflight
            .retain(|_, a| !matches!(a, Action::Fence { host: x, .. } if x == host));
        let rt = self.hosts.get_mut(host).expect("known");
        rt.status = HostStatus::Up;
        rt.fails = 0;
        rt.unreachable_alerted = false;
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
            match (&was, &rt.phase) {
                // Never fenced: its VMs may have run all along.
                (_, Phase::Held) => rt.phase = Phase::Steady,
                (HostStatus::Lost, Phase::Steady) => {
                    rt.phase = Phase::Unknown {
                        id: None,
                        ask_at: self.now,
                    }
                }
                _ => {}
            }
        }
        if self.pool.ha.failback == Failback::Return && was == HostStatus::Fenced {
            for vm in evacuated {
                self.failback.push_back((vm, host.to_string()));
            }
        }
        self.unstick();
    }

    // ---- restarts ----

    fn crashed(&mut self, v: VmId, out: &mut Output) {
        let vm = self.pool.vms[v].clone();
        let name = vm.name.clone();
        let h = vm.host;
        if !vm.power.is_active() || self.pool.hosts[h].state != HostState::Up {
            out.notes.push(Note::Ignored {
                reason: format!("{name} is not running on a host that is up"),
            });
            return;
        }
        self.forget_vm_actions(&name);
        if !self.pool.ha.enabled || vm.restart == Restart::Unprotected {
            self.vms.insert(name, VmRt::steady());
            self.set_vm(v, None, Some(Power::Halted));
            return;
        }
        let host = self.pool.hosts[h].name.clone();
        self.vms.insert(
            name.clone(),
            VmRt {
                phase: Phase::Pending,
                tried: Vec::new(),
                after_failure: false,
            },
        );
        self.start(&name, &host, 1, out);
    }

    fn start(&mut self, vm: &str, host: &str, attempt: u32, out: &mut Output) {
        let id = self.id();
        let v = self.pool.vm_by_name(vm).expect("known");
        let h = self.pool.host_by_name(host).expect("known");
        // It holds its target's capacity from now on.
        self.set_vm(v, Some(h), None);
        self.vms.get_mut(vm).expect("known").phase = Phase::Starting {
            id,
            host: host.to_string(),
            attempt,
        };
        self.emit(
            Action::StartVm {
                id,
                vm: vm.to_string(),
                host: host.to_string(),
                attempt,
            },
            out,
        );
    }

    fn start_result(
        &mut self,
        id: ActionId,
        vm: &str,
        host: &str,
        ok: bool,
        error: Option<&str>,
        out: &mut Output,
    ) {
        let Some(rt) = self.vms.get(vm).cloned() else {
            return;
        };
        let Phase::Starting {
            id: current,
            host: target,
            attempt,
        } = rt.phase.clone()
        else {
            return;
        };
        if current != id || target != host {
            return;
        }
        let v = self.pool.vm_by_name(vm).expect("known");
        if ok {
            out.notes.push(Note::VmRestarted {
                vm: vm.to_string(),
                host: host.to_string(),
                attempt,
            });
            self.set_vm(v, None, Some(Power::Running));
            self.vms.insert(vm.to_string(), VmRt::steady());
            if let Some(e) = self.recovery.get_mut(vm) {
                e.done_at = Some(self.now);
            }
            return;
        }
        let error = error.unwrap_or("failed").to_string();
        out.notes.push(Note::VmStartFailed {
            vm: vm.to_string(),
            host: host.to_string(),
            attempt,
            error: error.clone(),
        });
        let restart = self.pool.vms[v].restart;
        let after_failure = rt.after_failure;
        if restart == Restart::BestEffort && after_failure {
            self.give_up(vm, out);
            return;
        }
        if attempt <= self.pool.ha.restart_retries {
            let until = self.now.saturating_add(ms(self.pool.ha.retry_interval_s));
            self.vms.get_mut(vm).expect("known").phase = Phase::Retry {
                host: host.to_string(),
                attempt,
                until,
            };
            return;
        }
        // Every attempt on this host failed: another host, if failover may.
        let rt = self.vms.get_mut(vm).expect("known");
        rt.tried.push(host.to_string());
        if self.pool.ha.mode == HaMode::Vm || !self.pool.ha.enabled {
            rt.phase = Phase::Stuck {
                until: self.now.saturating_add(STUCK_RETRY_MS),
            };
            out.alerts.push(Alert::RestartFailed {
                vm: vm.to_string(),
                attempts: attempt,
                reason: format!("{error}; HA mode \"vm\" restarts a VM on its own host only"),
            });
            return;
        }
        rt.phase = Phase::Pending;
        self.dirty = true;
    }

    fn give_up(&mut self, vm: &str, out: &mut Output) {
        let v = self.pool.vm_by_name(vm).expect("known");
        out.notes.push(Note::VmGivenUp { vm: vm.to_string() });
        self.vms.insert(vm.to_string(), VmRt::steady());
        self.set_vm(v, None, Some(Power::Halted));
        if let Some(e) = self.recovery.get_mut(vm) {
            e.done_at = Some(self.now);
            e.delay_ms = 0;
        }
    }

    fn found(
        &mut self,
        id: ActionId,
        vm: &str,
        host: Option<&str>,
        out: &mut Output,
    ) -> Result<(), RuntimeError> {
        let Some(rt) = self.vms.get(vm) else {
            return Ok(());
        };
        if rt.phase
            != (Phase::Unknown {
                id: Some(id),
                ask_at: match rt.phase {
                    Phase::Unknown { ask_at, .. } => ask_at,
                    _ => 0,
                },
            })
        {
            return Ok(());
        }
        out.notes.push(Note::VmFound {
            vm: vm.to_string(),
            host: host.map(str::to_string),
        });
        let v = self.vm_id(vm)?;
        match host {
            Some(h) => {
                let h = self.host_id(h)?;
                self.set_vm(v, Some(h), Some(Power::Running));
                self.vms.insert(vm.to_string(), VmRt::steady());
                if let Some(e) = self.recovery.get_mut(vm) {
                    e.done_at = Some(self.now);
                }
            }
            None => {
                let own = self.pool.vms[v].host;
                let restarted =
                    self.pool.ha.enabled && self.pool.vms[v].restart != Restart::Unprotected;
                if !restarted {
                    self.vms.insert(vm.to_string(), VmRt::steady());
                    self.set_vm(v, None, Some(Power::Halted));
                } else if self.pool.hosts[own].state == HostState::Up
                    && !self.recovery.contains_key(vm)
                {
                    // Not running, on a host that is up: as a crash.
                    self.vms.insert(vm.to_string(), VmRt::steady());
                    self.crashed(v, out);
                } else if self.pool.hosts[own].state == HostState::Down
                    && self.hosts[&self.pool.hosts[own].name].status != HostStatus::Fenced
                {
                    // Its host is down but not confirmed off: "nowhere" may
                    // only mean that host does not answer. It waits for the
                    // fence like the host's other VMs.
                    self.vms.get_mut(vm).expect("known").phase = Phase::Held;
                } else {
                    let rt = self.vms.get_mut(vm).expect("known");
                    rt.phase = Phase::Pending;
                    rt.after_failure = true;
                    self.recovery.entry(vm.to_string()).or_insert(Entry {
                        order: self.pool.vms[v].order,
                        protected: self.pool.vms[v].restart == Restart::Protected,
                        done_at: None,
                        delay_ms: ms(self.pool.vms[v].start_delay_s),
                    });
                    self.dirty = true;
                }
            }
        }
        Ok(())
    }

    /// Stuck VMs get another chance after capacity appeared.
    fn unstick(&mut self) {
        for rt in self.vms.values_mut() {
            if matches!(rt.phase, Phase::Stuck { .. }) {
                rt.phase = Phase::Pending;
                rt.tried.clear();
            }
        }
        self.dirty = true;
    }

    /// The pool as planning sees it: VMs awaiting a target sit on a host
    /// that is down (so they need a restart and hold no capacity), VMs
    /// being started hold their target's capacity. Returns the pool and the
    /// index of that extra host. Without `held`, VMs of hosts not yet
    /// confirmed off are left out (as halted): restarts do not wait for a
    /// fence that may never come, and do not keep room for those VMs.
    fn planning_pool_with(&self, held: bool) -> (Pool, HostId) {
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
                // Hosts whose attempts all failed are not targets again.
                if !rt.tried.is_empty() {
                    let all: Vec<HostId> = vm
                        .allowed_hosts
                        .clone()
                        .unwrap_or_else(|| (0..virt).collect());
                    vm.allowed_hosts = Some(
                        all.into_iter()
                            .filter(|&h| !rt.tried.contains(&self.pool.hosts[h].name))
                            .collect(),
                    );
                }
                vm.host = virt;
                let _ = v;
            } else if rt.phase == Phase::Held && !held {
                vm.power = Power::Halted;
            }
        }
        (pool, virt)
    }

    /// The pool with every VM that awaits a restart (see
    /// [`Runtime::planning_pool_with`]).
    fn planning_pool(&self) -> (Pool, HostId) {
        self.planning_pool_with(true)
    }

    /// Chooses targets for every VM awaiting one: among candidate plans that
    /// place the most important VMs, the one that leaves the most tolerance.
    fn replan(&mut self, out: &mut Output) {
        let pending: BTreeSet<String> = self
            .vms
            .iter()
            .filter(|(_, rt)| matches!(rt.phase, Phase::Pending | Phase::Planned { .. }))
            .map(|(n, _)| n.clone())
            .collect();
        // Planned VMs keep their targets until a VM needs a new one.
        if !self.vms.values().any(|rt| rt.phase == Phase::Pending) {
            return;
        }
        let (pp, virt) = self.planning_pool_with(false);
        let budget = Budget::default();
        let an = Analysis::new(&pp);
        let base = plan::plan(&an, &[], Scope::All, &budget);
        let mut candidates = vec![base.placements.clone()];
        // A spreading variant only when it keeps every strict rule and
        // breaks no soft rule the plan keeps.
        let kept_by_base: BTreeSet<plan::SoftRule> =
            base.soft_broken.iter().map(|b| b.rule.clone()).collect();
        candidates.extend(
            spread_plans(&pp, virt, &base)
                .into_iter()
                .filter(|placements| {
                    let broken = plan::broken_rules(&pp, &base.failed, placements);
                    let candidate = plan::Plan {
                        failed: base.failed.clone(),
                        placements: placements.clone(),
                        unplaced: base.unplaced.clone(),
                        exact: base.exact,
                        soft_broken: broken.clone(),
                    };
                    plan::verify(&pp, &candidate).is_ok()
                        && broken.iter().all(|b| kept_by_base.contains(&b.rule))
                }),
        );
        let mut best: Option<(Vec<plan::Placement>, u32)> = None;
        for placements in candidates {
            let after = apply(&pp, &placements);
            let k = tolerance::check(&after, &CheckOptions::default()).max_tolerable;
            if best.as_ref().is_none_or(|(_, bk)| k > *bk) {
                best = Some((placements, k));
            }
        }
        let (placements, leaves) = best.expect("the base plan is a candidate");
        let mut placed = Vec::new();
        for p in &placements {
            let name = &pp.vms[p.vm].name;
            if pending.contains(name) {
                let host = pp.hosts[p.host].name.clone();
                placed.push((name.clone(), host.clone()));
                self.vms.get_mut(name).expect("known").phase = Phase::Planned { host };
            }
        }
        let mut unplaced = Vec::new();
        for u in &base.unplaced {
            let name = pp.vms[u.vm].name.clone();
            if !pending.contains(&name) || placements.iter().any(|p| p.vm == u.vm) {
                continue;
            }
            unplaced.push(name.clone());
            let attempts = 0;
            match pp.vms[u.vm].restart {
                Restart::Protected => {
                    self.vms.get_mut(&name).expect("known").phase = Phase::Stuck {
                        until: self.now.saturating_add(STUCK_RETRY_MS),
                    };
                    if let Some(e) = self.recovery.get_mut(&name) {
                        e.done_at = Some(self.now);
                        e.delay_ms = 0;
                    }
                    out.alerts.push(Alert::RestartFailed {
                        vm: name,
                        attempts,
                        reason: u.reason.clone(),
                    });
                }
                _ => self.give_up(&name, out),
            }
        }
        out.notes.push(Note::Plan {
            placements: placed,
            unplaced,
            leaves_tolerance: leaves,
        });
    }

    /// Starts the planned VMs whose start group is due; returns the next
    /// time a group falls due, if one waits.
    fn pump(&mut self, out: &mut Output) -> Option<Millis> {
        let mut wake: Option<Millis> = None;
        let planned: Vec<(String, String)> = self
            .vms
            .iter()
            .filter_map(|(n, rt)| match &rt.phase {
                Phase::Planned { host } => Some((n.clone(), host.clone())),
                _ => None,
            })
            .collect();
        // Start groups: protected VMs by `order`, then best-effort ones.
        let mut due: Vec<(bool, u32, Priority, String, String)> = Vec::new();
        for (vm, host) in planned {
            let v = self.pool.vm_by_name(&vm).expect("known");
            let me = &self.pool.vms[v];
            let (protected, order) = (me.restart == Restart::Protected, me.order);
            let mut gate: Option<Millis> = Some(self.now);
            for (other, e) in &self.recovery {
                if *other == vm {
                    continue;
                }
                let before = if protected {
                    e.protected && e.order < order
                } else {
                    e.protected || e.order < order
                };
                if !before {
                    continue;
                }
                match e.done_at {
                    None => gate = None,
                    Some(t) => gate = gate.map(|g| g.max(t.saturating_add(e.delay_ms))),
                }
            }
            match gate {
                Some(g) if g <= self.now => due.push((!protected, order, me.priority, vm, host)),
                Some(g) => wake = Some(wake.map_or(g, |w| w.min(g))),
                None => {}
            }
        }
        due.sort();
        for (_, _, _, vm, host) in due {
            self.start(&vm, &host, 1, out);
        }
        wake
    }

    // ---- maintenance and failback ----

    fn maintenance(
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
                if moves.is_empty() {
                    self.enter_maintenance(&host, out);
                } else {
                    self.hosts.get_mut(&host).expect("known").drain = Some(moves.into());
                }
            }
            Err(reason) => out.notes.push(Note::DrainBlocked { host, reason }),
        }
        Ok(())
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
    fn drain_plan(&self, h: HostId) -> Result<Vec<(String, String)>, String> {
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
            match tolerance::tolerates(&draft, k, &Budget::default()) {
                Tolerates::Yes => return Ok(moves),
                Tolerates::No(w) => {
                    last = format!(
                        "after the drain the pool would not tolerate {k} host failure{}: {}",
                        if k == 1 { "" } else { "s" },
                        w.reason
                    )
                }
                Tolerates::Unknown => last = "undecided".into(),
            }
        }
        Err(last)
    }

    /// Sends the next drain or failback migration when none is in flight.
    fn migrations(&mut self, out: &mut Output) {
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
            loop {
                let next = self
                    .hosts
                    .get_mut(&host)
                    .expect("known")
                    .drain
                    .as_mut()
                    .and_then(|q| q.pop_front());
                let Some((vm, to)) = next else {
                    self.enter_maintenance(&host, out);
                    break;
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
                self.migrate(&vm, &from, &to, out);
                return;
            }
        }
        while let Some((vm, to)) = self.failback.pop_front() {
            let Some(v) = self.pool.vm_by_name(&vm) else {
                continue;
            };
            let Some(t) = self.pool.host_by_name(&to) else {
                continue;
            };
            let from_h = self.pool.vms[v].host;
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
                && tolerance::tolerates(&draft, k, &Budget::default()) == Tolerates::Yes
            {
                let from = self.pool.hosts[from_h].name.clone();
                self.migrate(&vm, &from, &to, out);
                return;
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

    fn migrate_result(
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
            let t = self.pool.host_by_name(host).expect("known");
            self.set_vm(v, Some(t), None);
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

    // ---- after every event ----

    fn settle(&mut self, out: &mut Output) {
        let mut wake: Option<Millis> = None;
        let mut at = |t: Millis| wake = Some(wake.map_or(t, |w: Millis| w.min(t)));
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
                        self.hosts
                            .get_mut(&host)
                            .expect("known")
                            .late
                            .insert(id, level);
                        let agent = self.agent(&host, level);
                        self.fence_failed(&host, level, round, agent, "timed out".into(), out);
                    } else {
                        at(deadline);
                    }
                }
                HostStatus::FenceWait { round, until } => {
                    if self.now >= until {
                        self.start_fence(&host, 0, round, out);
                    } else {
                        at(until);
                    }
                }
                _ => {}
            }
        }
        let vms: Vec<(String, Phase)> = self
            .vms
            .iter()
            .map(|(n, rt)| (n.clone(), rt.phase.clone()))
            .collect();
        for (vm, phase) in vms {
            match phase {
                Phase::Retry {
                    host,
                    attempt,
                    until,
                } => {
                    if self.now >= until {
                        self.start(&vm, &host, attempt + 1, out);
                    } else {
                        at(until);
                    }
                }
                Phase::Stuck { until } => {
                    if self.now >= until {
                        let rt = self.vms.get_mut(&vm).expect("known");
                        rt.phase = Phase::Pending;
                        rt.tried.clear();
                        self.dirty = true;
                    } else {
                        at(until);
                    }
                }
                Phase::Unknown { id: None, ask_at } => {
                    if self.now >= ask_at {
                        let id = self.id();
                        self.vms.get_mut(&vm).expect("known").phase = Phase::Unknown {
                            id: Some(id),
                            ask_at,
                        };
                        self.emit(Action::QueryVm { id, vm }, out);
                    } else {
                        at(ask_at);
                    }
                }
                _ => {}
            }
        }
        // Inventories due, of hosts that answer.
        let due: Vec<String> = self
            .hosts
            .iter()
            .filter(|(_, h)| h.inventory && h.status == HostStatus::Up && h.fails == 0)
            .filter(|(_, h)| {
                if h.inventory_at > self.now {
                    at(h.inventory_at);
                    false
                } else {
                    true
                }
            })
            .map(|(n, _)| n.clone())
            .filter(|n| {
                !self
                    .inflight
                    .values()
                    .any(|a| matches!(a, Action::Inventory { host, .. } if host == n))
            })
            .collect();
        for host in due {
            let id = self.id();
            self.emit(Action::Inventory { id, host }, out);
        }
        // Health checks.
        if self.now >= self.next_probe {
            let due: Vec<String> = self
                .hosts
                .iter()
                .filter(|(_, h)| {
                    h.probe.is_none()
                        && matches!(
                            h.status,
                            HostStatus::Up
                                | HostStatus::Confirming { .. }
                                | HostStatus::Fenced
                                | HostStatus::Lost
                        )
                })
                .map(|(n, _)| n.clone())
                .collect();
            for host in due {
                let id = self.id();
                self.hosts.get_mut(&host).expect("known").probe = Some(id);
                self.emit(Action::Probe { id, host }, out);
            }
            self.next_probe = self
                .now
                .saturating_add(ms(self.pool.ha.check_interval_s).max(1));
        }
        at(self.next_probe);
        // Restarts.
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
        // The recovery ends when nothing in it is left to do.
        if self.recovery.values().all(|e| e.done_at.is_some())
            && !self.vms.values().any(|rt| {
                matches!(
                    rt.phase,
                    Phase::Pending
                        | Phase::Planned { .. }
                        | Phase::Starting { .. }
                        | Phase::Retry { .. }
                )
            })
        {
            self.recovery.clear();
        }
        if self.dirty {
            self.recalculate(out);
            self.dirty = false;
        }
        out.wake_at = wake;
    }

    /// Recomputes the tolerance and raises what changed.
    fn recalculate(&mut self, out: &mut Output) {
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

    // ---- admission ----

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

    /// [`Runtime::check_operation`] without its shortcut from the known
    /// tolerance: always a search ("tolerates k?") on the changed pool. The
    /// same answer, slower; for tests and measurements.
    pub fn check_operation_exact(&self, op: &Operation) -> Result<Admission, RuntimeError> {
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
                        let w = tolerance::tolerates(&pp, k, &Budget::default());
                        return Ok(match w {
                            Tolerates::No(w) => admission_no(&pp, k, &w),
                            _ => Admission::WouldOvercommit {
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
        Ok(match tolerance::tolerates(&pp, k, &Budget::default()) {
            Tolerates::Yes => Admission::Allowed { configured: k },
            Tolerates::No(w) => admission_no(&pp, k, &w),
            Tolerates::Unknown => Admission::Allowed { configured: k },
        })
    }
}

impl Runtime {
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

/// Whether `action` concerns the host or VM called `name`.
fn action_names(a: &Action, name: &str) -> bool {
    match a {
        Action::Probe { host, .. }
        | Action::Fence { host, .. }
        | Action::AskPeer { host, .. }
        | Action::Inventory { host, .. } => host == name,
        Action::StartVm { vm, .. } | Action::Migrate { vm, .. } | Action::QueryVm { vm, .. } => {
            vm == name
        }
    }
}

fn action_names_host(a: &Action, name: &str) -> bool {
    match a {
        Action::Probe { host, .. }
        | Action::Fence { host, .. }
        | Action::Inventory { host, .. } => host == name,
        Action::AskPeer { host, peer, .. } => host == name || peer == name,
        Action::StartVm { host, .. } => host == name,
        Action::Migrate { from, to, .. } => from == name || to == name,
        Action::QueryVm { .. } => false,
    }
}

/// `pool` with the placements done.
fn apply(pool: &Pool, placements: &[plan::Placement]) -> Pool {
    let mut after = pool.clone();
    for p in placements {
        after.vms[p.vm].host = p.host;
    }
    // What is left on the host that is down stays there, awaiting restart.
    after
}

/// Other candidate plans: the VMs the base plan placed, largest first, each
/// on the eligible host with the most room left (spreading the load keeps
/// room everywhere for the next failure). Only plans that place every VM
/// the base plan placed are offered.
fn spread_plans(pool: &Pool, virt: HostId, base: &plan::Plan) -> Vec<Vec<plan::Placement>> {
    let mut draft = pool.clone();
    let mut vms: Vec<&plan::Placement> = base.placements.iter().collect();
    vms.sort_by_key(|p| {
        (
            pool.vms[p.vm].restart,
            std::cmp::Reverse(pool.vms[p.vm].demand.iter().sum::<i64>()),
            p.vm,
        )
    });
    let mut out = Vec::new();
    for p in vms {
        let v = p.vm;
        let targets = agility::restart_targets(&draft, v);
        let best = targets
            .into_iter()
            .filter(|&t| t != virt)
            .filter(|&t| {
                let s = draft.spare(t);
                s.iter().zip(&draft.vms[v].demand).all(|(s, d)| s >= d)
            })
            .max_by_key(|&t| {
                let s = draft.spare(t);
                let room = (0..draft.resources.len())
                    .map(|r| {
                        (s[r] - draft.vms[v].demand[r]) * 1_000_000 / draft.usable(t, r).max(1)
                    })
                    .min()
                    .unwrap_or(0);
                (room, std::cmp::Reverse(t))
            });
        let Some(t) = best else { return Vec::new() };
        draft.vms[v].host = t;
        out.push(plan::Placement {
            vm: v,
            host: t,
            order: p.order,
        });
    }
    // The same start sequence as the base plan.
    let rank: BTreeMap<VmId, usize> = base
        .placements
        .iter()
        .enumerate()
        .map(|(i, p)| (p.vm, i))
        .collect();
    out.sort_by_key(|p| rank[&p.vm]);
    vec![out]
}
