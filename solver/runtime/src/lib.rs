//! The HA runtime: a sans-I/O state machine that keeps a pool's guarantee.
//!
//! [`Runtime::handle`] takes one [`Input`] (an [`Event`] and the time it
//! happened) and returns an [`Output`]: the [`Action`]s to perform, the
//! [`Alert`]s to raise, and [`Note`]s that record each decision. The caller
//! performs the actions (through drivers, see [`driver`]) and feeds their
//! results back as events. The core never sleeps and never does I/O, and
//! reads a clock only to bound its exact checks ([`budget`]), whose
//! outcome it then writes into the step's output; so the same inputs
//! give the same outputs: that is what makes the log ([`log`])
//! replayable and the simulation (`sim`, behind the cargo feature `sim`,
//! off by default) reproducible.
//!
//! Invariants (the simulation checks them on thousands of seeded runs):
//! - a VM is started on another host only after its host is confirmed off
//!   (a fence level reported "off", or an operator confirmed it), or after
//!   its hypervisor reported it crashed on a host that is up;
//! - at most one start of a VM is in flight, and a VM whose start outcome is
//!   unknown (after a crash of the runtime) is asked about before any other
//!   start;
//! - a running VM is never stopped or moved to make room;
//! - the runtime's own state is a function of its log.
//!
//! The contract of the JSON forms (events, actions, alerts, notes, log
//! lines) is `docs/runtime.md`.

#![warn(missing_docs)]

mod machine;

pub mod budget;
pub mod driver;
pub mod log;
pub mod redact;
#[cfg(feature = "sim")]
pub mod sim;
pub mod text;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use haplan::model::{Priority, Restart};

pub use budget::DEFAULT_CHECK_BUDGET;
pub use machine::{Admission, Runtime, RuntimeError};

/// Milliseconds since an epoch the caller chooses (and keeps).
pub type Millis = u64;
/// Identifies an action; its result event carries the same id.
pub type ActionId = u64;

/// An event and the time it happened.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Input {
    /// When the event happened (a time before the latest input's counts as
    /// that one: the runtime's clock never goes back).
    pub at: Millis,
    /// What happened.
    pub event: Event,
}

/// Everything the runtime reacts to.
///
/// Hosts and VMs are named as in the pool file. An answer (`health_check`,
/// `fence_result`, ...) carries the `id` of the [`Action`] it answers; one
/// whose id is not in flight is ignored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Event {
    /// Time passes: health checks fall due, waits end.
    Tick,
    /// A VM was started (or resumed) on `host`. A VM the pool does not know
    /// comes with its `definition`, an object as in the pool file's `vms`.
    VmStarted {
        /// The VM that now runs.
        vm: String,
        /// Where it runs.
        host: String,
        /// For a VM new to the pool: its entry, as in the pool file's `vms`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        definition: Option<Value>,
    },
    /// A VM was shut down on purpose: it holds nothing and is not restarted.
    VmStopped {
        /// The VM shut down.
        vm: String,
    },
    /// A VM died on its host, which is up: it is restarted there first.
    VmCrashed {
        /// The VM that died.
        vm: String,
    },
    /// A VM was live-migrated to `host`.
    VmMigrated {
        /// The VM moved.
        vm: String,
        /// Where it runs now.
        host: String,
    },
    /// A VM's definition changed size: its new amounts.
    VmResized {
        /// The VM resized.
        vm: String,
        /// Its new amount of each resource named (others unchanged).
        demand: BTreeMap<String, i64>,
    },
    /// A VM's restart priority or restart class changed.
    VmPriorityChanged {
        /// The VM.
        vm: String,
        /// Its new priority, when it changed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        priority: Option<Priority>,
        /// Its new restart class, when it changed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        restart: Option<Restart>,
    },
    /// A new host: an object as in the pool file's `hosts`.
    HostAdded {
        /// The host's entry, as in the pool file's `hosts`.
        host: Value,
    },
    /// A host left the pool; it must have no running or paused VM.
    HostRemoved {
        /// The host removed; its halted VMs leave the pool with it.
        host: String,
    },
    /// A host is back (an operator or its manager says so).
    HostUp {
        /// The host back in service.
        host: String,
    },
    /// A host is reported down by an outside monitor: it is fenced at once,
    /// and its VMs restarted once the fence confirms it is off.
    HostDown {
        /// The host reported down.
        host: String,
    },
    /// Maintenance on (`enter: true`: drain it, then hold it) or off.
    HostMaintenance {
        /// The host going into or out of maintenance.
        host: String,
        /// True to enter maintenance, false to leave it.
        enter: bool,
    },
    /// The result of a [`Action::Probe`].
    HealthCheck {
        /// The probe's id.
        id: ActionId,
        /// The host probed.
        host: String,
        /// The host answered a ping.
        ping: bool,
        /// Its management API answered.
        api: bool,
    },
    /// The result of an [`Action::AskPeer`]: whether `peer` reaches `host`.
    PeerCheck {
        /// The question's id.
        id: ActionId,
        /// The host asked about.
        host: String,
        /// The host that was asked.
        peer: String,
        /// `peer` reaches `host`.
        reachable: bool,
        /// The peer could not tell (it did not answer, or no peer path is
        /// configured): no confirmation either way.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// The result of an [`Action::Fence`]: `off` only when the device
    /// confirmed the host is powered off.
    FenceResult {
        /// The fence's id.
        id: ActionId,
        /// The host fenced.
        host: String,
        /// The fence level confirmed the host is powered off.
        off: bool,
        /// Why it did not, in the driver's words.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// An operator confirms that a host is off (manual fencing).
    FenceConfirmed {
        /// The host confirmed off.
        host: String,
    },
    /// The result of an [`Action::StartVm`]. `ok: false` promises that the
    /// VM does not run on that host, unless `in_doubt` says the driver gave
    /// up waiting (the start may still complete).
    VmStartResult {
        /// The start's id.
        id: ActionId,
        /// The VM started.
        vm: String,
        /// The host it was started on.
        host: String,
        /// The VM runs on `host`.
        ok: bool,
        /// Why the start failed, in the driver's words.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        /// The driver gave up waiting: the start may still complete, so the
        /// VM is looked for before it is started anywhere.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        in_doubt: bool,
    },
    /// The result of an [`Action::StopVm`]: `ok` when that copy no longer
    /// runs on `host`.
    VmStopResult {
        /// The stop's id.
        id: ActionId,
        /// The VM whose copy was stopped.
        vm: String,
        /// The host of that copy.
        host: String,
        /// That copy no longer runs.
        ok: bool,
        /// Why the stop failed, in the driver's words.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// The result of an [`Action::Migrate`]; on failure the VM still runs
    /// where it was.
    MigrateResult {
        /// The migration's id.
        id: ActionId,
        /// The VM migrated.
        vm: String,
        /// The host it was sent to.
        host: String,
        /// The VM runs on `host`.
        ok: bool,
        /// Why the migration failed, in the driver's words.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// The result of an [`Action::QueryVm`]: the host the VM runs on, if
    /// any (`error` when it could not be found out: asked again later).
    VmStatus {
        /// The query's id.
        id: ActionId,
        /// The VM looked for.
        vm: String,
        /// Where it runs; `None`: nowhere.
        #[serde(default)]
        host: Option<String>,
        /// Why it could not be found out.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// The result of an [`Action::Inventory`]: the VMs running or paused on
    /// `host` (`error` when the host could not be asked).
    Inventory {
        /// The inventory's id.
        id: ActionId,
        /// The host listed.
        host: String,
        /// The VMs running or paused on it, by name.
        #[serde(default)]
        vms: Vec<String>,
        /// Why the host could not be asked.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        /// The amounts the listed VMs have now, where the driver can tell
        /// (resources named as in the pool file): a definition changed
        /// while nobody told the runtime (memory grown or shrunk, say) is
        /// taken from here.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        demand: BTreeMap<String, BTreeMap<String, i64>>,
    },
    /// New HA settings: the fields given replace those of the pool's `ha`.
    ConfigChanged {
        /// The fields of the pool file's `ha` that change, with their new
        /// values.
        ha: Map<String, Value>,
    },
    /// The caller went ahead with an operation the admission check refused.
    OperationProceeded {
        /// The operation, as it was asked about.
        operation: Operation,
    },
    /// The runtime was restarted from its log ([`log::recover`]): probes
    /// and peer questions in flight are forgotten, fences in flight are sent
    /// again, VMs whose start or migration was in flight are looked for
    /// before anything else is done with them, and every up host is asked
    /// for its VMs (what happened while nobody listened).
    Restarted,
}

/// What the runtime asks the caller to do. Each is answered by one event
/// with the same `id` (a probe by a `health_check`, a fence by a
/// `fence_result`, and so on); late or unknown answers are ignored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// Ping the host and probe its management API.
    Probe {
        /// Carried back by the `health_check`.
        id: ActionId,
        /// The host to probe.
        host: String,
    },
    /// Ask `peer` whether it can reach `host`.
    AskPeer {
        /// Carried back by the `peer_check`.
        id: ActionId,
        /// The host that stopped answering the runtime.
        host: String,
        /// The host to ask.
        peer: String,
    },
    /// Power `host` off with its fence level `level` (0-based index into
    /// the host's `fencing` list) and confirm it is off. The credentials are
    /// in the pool file, never in the action.
    Fence {
        /// Carried back by the `fence_result`.
        id: ActionId,
        /// The host to power off.
        host: String,
        /// Index into the host's `fencing` list.
        level: usize,
        /// That level's fence agent (`fence_ipmilan`, ...).
        agent: String,
    },
    /// Start `vm` on `host` (attempt 1, 2, …).
    StartVm {
        /// Carried back by the `vm_start_result`.
        id: ActionId,
        /// The VM to start.
        vm: String,
        /// The host to start it on.
        host: String,
        /// Which attempt this is, from 1.
        attempt: u32,
    },
    /// Live-migrate `vm` from `from` to `to`.
    Migrate {
        /// Carried back by the `migrate_result`.
        id: ActionId,
        /// The VM to move.
        vm: String,
        /// The host it runs on.
        from: String,
        /// The host to move it to.
        to: String,
    },
    /// Find out where `vm` runs, if anywhere.
    QueryVm {
        /// Carried back by the `vm_status`.
        id: ActionId,
        /// The VM to look for.
        vm: String,
    },
    /// List the VMs running or paused on `host`.
    Inventory {
        /// Carried back by the `inventory` event.
        id: ActionId,
        /// The host to list.
        host: String,
    },
    /// Power off the copy of `vm` that runs on `host` (a duplicate).
    StopVm {
        /// Carried back by the `vm_stop_result`.
        id: ActionId,
        /// The VM running twice.
        vm: String,
        /// The host of the copy to power off.
        host: String,
    },
}

impl Action {
    /// The id its answer carries.
    pub fn id(&self) -> ActionId {
        match self {
            Action::Probe { id, .. }
            | Action::AskPeer { id, .. }
            | Action::Fence { id, .. }
            | Action::StartVm { id, .. }
            | Action::Migrate { id, .. }
            | Action::QueryVm { id, .. }
            | Action::Inventory { id, .. }
            | Action::StopVm { id, .. } => *id,
        }
    }
}

/// What people must hear about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Alert {
    /// The configured k is no longer guaranteed; the witness is a failure
    /// set that strands VMs (empty when VMs of hosts already down cannot
    /// all be restarted now).
    Overcommitted {
        /// The k the pool is configured to tolerate.
        configured: u32,
        /// The exact tolerance now.
        max_tolerable: u32,
        /// The witness: hosts whose failure strands VMs.
        failed_hosts: Vec<String>,
        /// The protected VMs that failure leaves without a host.
        stranded_vms: Vec<String>,
        /// Why, in a sentence.
        reason: String,
    },
    /// The exact tolerance went down.
    ToleranceDropped {
        /// The tolerance before.
        from: u32,
        /// The tolerance now.
        to: u32,
    },
    /// Not even one host failure is tolerated.
    ZeroTolerable,
    /// The tolerance check did not decide within its budget whether the
    /// configured k holds: the pool tolerates at least `lower` and at
    /// most `upper` failures (proved), and `lower < configured`. Neither
    /// "guaranteed" nor "overcommitted" is claimed. Raised again when the
    /// bounds change.
    ToleranceUndecided {
        /// The k the pool is configured to tolerate.
        configured: u32,
        /// Failures the pool is proved to tolerate.
        lower: u32,
        /// Failures the pool tolerates at most (proved).
        upper: u32,
        /// Why, in a sentence.
        reason: String,
    },
    /// The configured k is guaranteed again.
    PlanRestored {
        /// The k the pool is configured to tolerate.
        configured: u32,
        /// The exact tolerance now, at least `configured`.
        max_tolerable: u32,
    },
    /// A protected VM cannot be restarted anywhere else.
    NotAgile {
        /// The VM.
        vm: String,
        /// Every reason no other host can take it, capacity aside.
        reasons: Vec<String>,
    },
    /// A protected VM could not be restarted; it waits for capacity.
    RestartFailed {
        /// The VM.
        vm: String,
        /// Starts tried so far.
        attempts: u32,
        /// Why the last one did not succeed.
        reason: String,
    },
    /// Every fence level of a host failed; retried at `retry_at`. `vms`
    /// are the VMs it holds: they stay down until it is confirmed off.
    FencingFailed {
        /// The host that could not be fenced.
        host: String,
        /// Rounds of every level tried so far, from 1.
        round: u32,
        /// When the next round starts.
        retry_at: Millis,
        /// The last level's error.
        reason: String,
        /// The VMs it holds.
        #[serde(default)]
        vms: Vec<String>,
    },
    /// The runtime cannot reach a host that a peer still reaches: nothing
    /// is fenced or restarted, but the host is out of the runtime's sight.
    HostUnreachable {
        /// The host the runtime cannot reach.
        host: String,
        /// The host that still reaches it.
        peer: String,
    },
    /// A host declared down in `ha.mode: "vm"`: without host failover its
    /// VMs are not restarted elsewhere.
    HostLost {
        /// The host declared down.
        host: String,
        /// Its VMs, which stay down.
        vms: Vec<String>,
    },
    /// Fewer than half of the hosts not known off answer the runtime: it
    /// takes itself for the isolated side, declares nothing down and fences
    /// nothing until half of them answer again.
    RuntimeIsolated {
        /// Hosts that answer.
        reachable: u32,
        /// Hosts not known to be off (the electorate).
        hosts: u32,
        /// Those of them that do not answer.
        unreachable: Vec<String>,
    },
    /// A host missed its probes but neither a peer nor a majority of the
    /// pool confirms it is down: nothing is fenced.
    HostUnconfirmed {
        /// The host that missed its probes.
        host: String,
        /// Why it is not declared down, in a sentence.
        reason: String,
    },
    /// A VM runs on more than one host; every copy but the one on `kept`
    /// is stopped.
    DuplicateVm {
        /// The VM running twice (or more).
        vm: String,
        /// Every host a copy runs on.
        hosts: Vec<String>,
        /// The host whose copy keeps running.
        kept: String,
    },
    /// VMs whose location has been unknown for a while (a start or a
    /// migration whose outcome is not known, a host that does not answer):
    /// they are not started anywhere until they are found or their host is
    /// confirmed off.
    VmsInDoubt {
        /// The VMs not located.
        vms: Vec<String>,
    },
    /// A live migration got no answer within its deadline: `vm` may run on
    /// `from`, on `to` or nowhere. It is looked for on both hosts before
    /// anything else is done with it, and a host being drained is not
    /// reported ready for maintenance until it is found.
    MigrationInDoubt {
        /// The VM being moved.
        vm: String,
        /// The host it was leaving.
        from: String,
        /// The host it was going to.
        to: String,
    },
    /// An action got no answer within its deadline (a driver lost it).
    RequestUnanswered {
        /// The action, treated as failed in the safe direction.
        action: Action,
    },
    /// Reconciliation ended without an inventory of these hosts (they
    /// answer probes but not inventories).
    ReconcileIncomplete {
        /// The hosts not inventoried.
        hosts: Vec<String>,
    },
    /// A start of `vm` on `host` was about to be asked for while `vm` may
    /// still run on another host that is not confirmed off: it was not
    /// asked for, and the VM is looked for as one in doubt. A plan should
    /// never name such a VM; this is the last check before a second copy.
    StartWithheld {
        /// The VM.
        vm: String,
        /// The host the start was for.
        host: String,
        /// Where else it may run, and why, in a sentence.
        reason: String,
    },
}

/// A decision or outcome, for the log and for people watching.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Note {
    /// The tolerance was computed again (after any change to the pool or
    /// its hosts' states).
    Tolerance {
        /// The k the pool is configured to tolerate.
        configured: u32,
        /// The exact tolerance now (with `upper_bound`: the tolerance
        /// proved, a lower bound).
        max_tolerable: u32,
        /// Present when the check did not decide within its budget: the
        /// upper bound proved (the tolerance is then between
        /// `max_tolerable` and this).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        upper_bound: Option<u32>,
    },
    /// A host missed a probe.
    HostSuspect {
        /// The host.
        host: String,
        /// Probes missed in a row.
        failures: u32,
    },
    /// A host is declared down: it will be fenced.
    HostDeclaredDown {
        /// The host.
        host: String,
        /// The peer that confirmed it unreachable, if one did.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        confirmed_by: Option<String>,
        /// Declared on a majority: [hosts that answer, hosts not known off].
        #[serde(default, skip_serializing_if = "Option::is_none")]
        majority: Option<[u32; 2]>,
    },
    /// One fence level failed; the next is tried.
    FenceFailed {
        /// The host being fenced.
        host: String,
        /// The level that failed (index into the host's `fencing` list).
        level: usize,
        /// Its fence agent.
        agent: String,
        /// The agent's error.
        error: String,
    },
    /// A host is confirmed off: its VMs may restart elsewhere.
    HostFenced {
        /// The host.
        host: String,
        /// The fence agent that confirmed it; none when an operator did.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        agent: Option<String>,
    },
    /// A host counts as up again.
    HostUp {
        /// The host.
        host: String,
    },
    /// Targets chosen for VMs awaiting restart, and the tolerance the pool
    /// keeps once they run.
    Plan {
        /// (VM, target host) pairs, in start order.
        placements: Vec<(String, String)>,
        /// VMs no host can take now.
        unplaced: Vec<String>,
        /// The tolerance of the pool once the placed VMs run.
        leaves_tolerance: u32,
    },
    /// A VM runs again after a restart.
    VmRestarted {
        /// The VM.
        vm: String,
        /// Where it runs.
        host: String,
        /// The start that succeeded, from 1.
        attempt: u32,
    },
    /// A start failed; the VM is tried again (protected) or given up
    /// (best effort).
    VmStartFailed {
        /// The VM.
        vm: String,
        /// The host it was started on.
        host: String,
        /// The start that failed, from 1.
        attempt: u32,
        /// The driver's error.
        error: String,
    },
    /// A best-effort VM whose one attempt failed, or that had no target.
    VmGivenUp {
        /// The VM.
        vm: String,
    },
    /// A migration the runtime asked for (a drain's) completed.
    VmMigrated {
        /// The VM.
        vm: String,
        /// Where it runs now.
        host: String,
    },
    /// After a restart of the runtime: where a VM whose start was in flight
    /// turned out to run.
    VmFound {
        /// The VM.
        vm: String,
        /// Where it runs; `None`: nowhere.
        host: Option<String>,
    },
    /// A host is drained: it holds no running VM and may be serviced.
    MaintenanceReady {
        /// The host.
        host: String,
    },
    /// A drain that cannot keep the tolerance: the host stays in service.
    DrainBlocked {
        /// The host.
        host: String,
        /// Why, in a sentence.
        reason: String,
    },
    /// An operation the admission check refused went ahead: the pool now
    /// has it.
    Proceeded {
        /// The operation.
        operation: Operation,
    },
    /// An event that changed nothing (a late answer, a VM already where it
    /// is said to be).
    Ignored {
        /// Why, in a sentence.
        reason: String,
    },
    /// A host confirmed off (or lost) answers again: it is inventoried
    /// before it counts as up.
    HostReturning {
        /// The host.
        host: String,
    },
    /// A VM listed on two hosts: both are inventoried again before anything
    /// is done.
    DuplicateSuspected {
        /// The VM.
        vm: String,
        /// The hosts that listed it.
        hosts: Vec<String>,
    },
    /// A duplicate copy of a VM was powered off.
    DuplicateStopped {
        /// The VM.
        vm: String,
        /// The host of the copy powered off.
        host: String,
    },
    /// Half of the hosts answer the runtime again.
    IsolationEnded,
    /// Every host that answers was inventoried: the runtime acts again.
    Reconciled,
    /// A VM's inventory shows amounts other than the record's (its
    /// definition changed unseen): the record takes them.
    VmResizedSeen {
        /// The VM.
        vm: String,
        /// The host whose inventory showed it.
        host: String,
        /// Its amounts now, per resource named.
        demand: BTreeMap<String, i64>,
    },
    /// Where a VM runs is not known: it is looked for.
    VmInDoubt {
        /// The VM.
        vm: String,
        /// The host it was last known on, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        host: Option<String>,
    },
    /// A start or migration of `vm` that may have landed on `host` never
    /// answered, and fresh listings of the hosts involved, then a query,
    /// found no copy: it can no longer land, and `vm` is restarted as
    /// any VM found nowhere.
    LandingRuledOut {
        /// The VM, restarted now as one found nowhere.
        vm: String,
        /// The host the start or migration could have landed on.
        host: String,
    },
    /// A start of `vm` on `host` that never answered is past its deadline
    /// (no driver makes it any more) and `vm` runs on `host`: what that
    /// start could have made is this copy, so it pins `vm` no longer (a
    /// drain or failback may move it).
    LandingSeen {
        /// The VM.
        vm: String,
        /// The host the start went to, where it runs.
        host: String,
    },
}

/// An operation an admission check is asked about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Operation {
    /// Start a VM (a halted one the pool knows, or a new one with its
    /// `definition`) on `host`.
    VmStart {
        /// The VM to start.
        vm: String,
        /// Where.
        host: String,
        /// For a VM new to the pool: its entry, as in the pool file's `vms`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        definition: Option<Value>,
    },
    /// Resume a halted VM on the host the pool has it on.
    VmResume {
        /// The VM to resume.
        vm: String,
    },
    /// Live-migrate a VM to `host`.
    VmMigrate {
        /// The VM to move.
        vm: String,
        /// Where to.
        host: String,
    },
    /// Change a VM's restart priority or restart class.
    PriorityChange {
        /// The VM.
        vm: String,
        /// Its new priority, when it changes.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        priority: Option<Priority>,
        /// Its new restart class, when it changes.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        restart: Option<Restart>,
    },
    /// Take a host out of service (maintenance or removal).
    HostDisable {
        /// The host.
        host: String,
    },
    /// Configure a new k.
    SetTolerance {
        /// The new k.
        k: u32,
    },
}

/// What one event leads to.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Output {
    /// What the caller must do, in order; each is answered by an event.
    pub actions: Vec<Action>,
    /// What people must hear about.
    pub alerts: Vec<Alert>,
    /// The decisions taken, for the log.
    pub notes: Vec<Note>,
    /// The next time a `tick` has something to do (a health check or a wait
    /// that ends), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wake_at: Option<Millis>,
    /// The exact checks of this step that did not decide within their
    /// budget, with what they proved ([`budget`]): a replay of the log
    /// takes these instead of running them again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub undecided: Vec<budget::Undecided>,
}

/// Seconds to milliseconds, saturating.
fn ms(s: u64) -> Millis {
    s.saturating_mul(1000)
}
