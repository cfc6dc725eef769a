//! The HA runtime: a sans-I/O state machine that keeps a pool's guarantee.
//!
//! [`Runtime::handle`] takes one [`Input`] (an [`Event`] and the time it
//! happened) and returns an [`Output`]: the [`Action`]s to perform, the
//! [`Alert`]s to raise, and [`Note`]s that record each decision. The caller
//! performs the actions (through drivers, see [`driver`]) and feeds their
//! results back as events. The core never reads a clock, never sleeps and
//! never does I/O, so the same inputs give the same outputs: that is what
//! makes the log ([`log`]) replayable and the simulation ([`sim`])
//! reproducible.
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

mod machine;

pub mod driver;
pub mod log;
pub mod sim;
pub mod text;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use haplan::model::{Priority, Restart};

pub use machine::{Admission, Runtime, RuntimeError};

/// Milliseconds since an epoch the caller chooses (and keeps).
pub type Millis = u64;
/// Identifies an action; its result event carries the same id.
pub type ActionId = u64;

/// An event and the time it happened.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Input {
    pub at: Millis,
    pub event: Event,
}

/// Everything the runtime reacts to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Event {
    /// Time passes: health checks fall due, waits end.
    Tick,
    /// A VM was started (or resumed) on `host`. A VM the pool does not know
    /// comes with its `definition`, an object as in the pool file's `vms`.
    VmStarted {
        vm: String,
        host: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        definition: Option<Value>,
    },
    /// A VM was shut down on purpose: it holds nothing and is not restarted.
    VmStopped { vm: String },
    /// A VM died on its host, which is up: it is restarted there first.
    VmCrashed { vm: String },
    /// A VM was live-migrated to `host`.
    VmMigrated { vm: String, host: String },
    VmResized {
        vm: String,
        demand: BTreeMap<String, i64>,
    },
    VmPriorityChanged {
        vm: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        priority: Option<Priority>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        restart: Option<Restart>,
    },
    /// A new host: an object as in the pool file's `hosts`.
    HostAdded { host: Value },
    /// A host left the pool; it must have no running or paused VM.
    HostRemoved { host: String },
    /// A host is back (an operator or its manager says so).
    HostUp { host: String },
    /// A host is reported down by an outside monitor: it is fenced at once,
    /// and its VMs restarted once the fence confirms it is off.
    HostDown { host: String },
    /// Maintenance on (`enter: true`: drain it, then hold it) or off.
    HostMaintenance { host: String, enter: bool },
    /// The result of a [`Action::Probe`].
    HealthCheck {
        id: ActionId,
        host: String,
        ping: bool,
        api: bool,
    },
    /// The result of an [`Action::AskPeer`]: whether `peer` reaches `host`.
    PeerCheck {
        id: ActionId,
        host: String,
        peer: String,
        reachable: bool,
        /// The peer could not tell (it did not answer, or no peer path is
        /// configured): no confirmation either way.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// The result of an [`Action::Fence`]: `off` only when the device
    /// confirmed the host is powered off.
    FenceResult {
        id: ActionId,
        host: String,
        off: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// An operator confirms that a host is off (manual fencing).
    FenceConfirmed { host: String },
    /// The result of an [`Action::StartVm`]. `ok: false` promises that the
    /// VM does not run on that host, unless `in_doubt` says the driver gave
    /// up waiting (the start may still complete).
    VmStartResult {
        id: ActionId,
        vm: String,
        host: String,
        ok: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        in_doubt: bool,
    },
    /// The result of an [`Action::StopVm`]: `ok` when that copy no longer
    /// runs on `host`.
    VmStopResult {
        id: ActionId,
        vm: String,
        host: String,
        ok: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// The result of an [`Action::Migrate`]; on failure the VM still runs
    /// where it was.
    MigrateResult {
        id: ActionId,
        vm: String,
        host: String,
        ok: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// The result of an [`Action::QueryVm`]: the host the VM runs on, if
    /// any (`error` when it could not be found out: asked again later).
    VmStatus {
        id: ActionId,
        vm: String,
        #[serde(default)]
        host: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// The result of an [`Action::Inventory`]: the VMs running or paused on
    /// `host` (`error` when the host could not be asked).
    Inventory {
        id: ActionId,
        host: String,
        #[serde(default)]
        vms: Vec<String>,
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
    ConfigChanged { ha: Map<String, Value> },
    /// The caller went ahead with an operation the admission check refused.
    OperationProceeded { operation: Operation },
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
    Probe { id: ActionId, host: String },
    /// Ask `peer` whether it can reach `host`.
    AskPeer {
        id: ActionId,
        host: String,
        peer: String,
    },
    /// Power `host` off with its fence level `level` (0-based index into
    /// the host's `fencing` list) and confirm it is off. The credentials are
    /// in the pool file, never in the action.
    Fence {
        id: ActionId,
        host: String,
        level: usize,
        agent: String,
    },
    /// Start `vm` on `host` (attempt 1, 2, …).
    StartVm {
        id: ActionId,
        vm: String,
        host: String,
        attempt: u32,
    },
    /// Live-migrate `vm` from `from` to `to`.
    Migrate {
        id: ActionId,
        vm: String,
        from: String,
        to: String,
    },
    /// Find out where `vm` runs, if anywhere.
    QueryVm { id: ActionId, vm: String },
    /// List the VMs running or paused on `host`.
    Inventory { id: ActionId, host: String },
    /// Power off the copy of `vm` that runs on `host` (a duplicate).
    StopVm {
        id: ActionId,
        vm: String,
        host: String,
    },
}

impl Action {
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
        configured: u32,
        max_tolerable: u32,
        failed_hosts: Vec<String>,
        stranded_vms: Vec<String>,
        reason: String,
    },
    ToleranceDropped {
        from: u32,
        to: u32,
    },
    /// Not even one host failure is tolerated.
    ZeroTolerable,
    /// The configured k is guaranteed again.
    PlanRestored {
        configured: u32,
        max_tolerable: u32,
    },
    /// A protected VM cannot be restarted anywhere else.
    NotAgile {
        vm: String,
        reasons: Vec<String>,
    },
    /// A protected VM could not be restarted; it waits for capacity.
    RestartFailed {
        vm: String,
        attempts: u32,
        reason: String,
    },
    /// Every fence level of a host failed; retried at `retry_at`. `vms`
    /// are the VMs it holds: they stay down until it is confirmed off.
    FencingFailed {
        host: String,
        round: u32,
        retry_at: Millis,
        reason: String,
        #[serde(default)]
        vms: Vec<String>,
    },
    /// The runtime cannot reach a host that a peer still reaches: nothing
    /// is fenced or restarted, but the host is out of the runtime's sight.
    HostUnreachable {
        host: String,
        peer: String,
    },
    /// A host declared down in `ha.mode: "vm"`: without host failover its
    /// VMs are not restarted elsewhere.
    HostLost {
        host: String,
        vms: Vec<String>,
    },
    /// Fewer than half of the hosts not known off answer the runtime: it
    /// takes itself for the isolated side, declares nothing down and fences
    /// nothing until half of them answer again.
    RuntimeIsolated {
        reachable: u32,
        hosts: u32,
        unreachable: Vec<String>,
    },
    /// A host missed its probes but neither a peer nor a majority of the
    /// pool confirms it is down: nothing is fenced.
    HostUnconfirmed {
        host: String,
        reason: String,
    },
    /// A VM runs on more than one host; every copy but the one on `kept`
    /// is stopped.
    DuplicateVm {
        vm: String,
        hosts: Vec<String>,
        kept: String,
    },
    /// VMs whose location has been unknown for a while (a start or a
    /// migration whose outcome is not known, a host that does not answer):
    /// they are not started anywhere until they are found or their host is
    /// confirmed off.
    VmsInDoubt {
        vms: Vec<String>,
    },
    /// A live migration got no answer within its deadline: `vm` may run on
    /// `from`, on `to` or nowhere. It is looked for on both hosts before
    /// anything else is done with it, and a host being drained is not
    /// reported ready for maintenance until it is found.
    MigrationInDoubt {
        vm: String,
        from: String,
        to: String,
    },
    /// An action got no answer within its deadline (a driver lost it).
    RequestUnanswered {
        action: Action,
    },
    /// Reconciliation ended without an inventory of these hosts (they
    /// answer probes but not inventories).
    ReconcileIncomplete {
        hosts: Vec<String>,
    },
}

/// A decision or outcome, for the log and for people watching.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Note {
    Tolerance {
        configured: u32,
        max_tolerable: u32,
    },
    HostSuspect {
        host: String,
        failures: u32,
    },
    HostDeclaredDown {
        host: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        confirmed_by: Option<String>,
        /// Declared on a majority: [hosts that answer, hosts not known off].
        #[serde(default, skip_serializing_if = "Option::is_none")]
        majority: Option<[u32; 2]>,
    },
    FenceFailed {
        host: String,
        level: usize,
        agent: String,
        error: String,
    },
    HostFenced {
        host: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        agent: Option<String>,
    },
    HostUp {
        host: String,
    },
    /// Targets chosen for VMs awaiting restart, and the tolerance the pool
    /// keeps once they run.
    Plan {
        placements: Vec<(String, String)>,
        unplaced: Vec<String>,
        leaves_tolerance: u32,
    },
    VmRestarted {
        vm: String,
        host: String,
        attempt: u32,
    },
    VmStartFailed {
        vm: String,
        host: String,
        attempt: u32,
        error: String,
    },
    /// A best-effort VM whose one attempt failed, or that had no target.
    VmGivenUp {
        vm: String,
    },
    VmMigrated {
        vm: String,
        host: String,
    },
    /// After a restart of the runtime: where a VM whose start was in flight
    /// turned out to run.
    VmFound {
        vm: String,
        host: Option<String>,
    },
    MaintenanceReady {
        host: String,
    },
    /// A drain that cannot keep the tolerance: the host stays in service.
    DrainBlocked {
        host: String,
        reason: String,
    },
    Proceeded {
        operation: Operation,
    },
    Ignored {
        reason: String,
    },
    /// A host confirmed off (or lost) answers again: it is inventoried
    /// before it counts as up.
    HostReturning {
        host: String,
    },
    /// A VM listed on two hosts: both are inventoried again before anything
    /// is done.
    DuplicateSuspected {
        vm: String,
        hosts: Vec<String>,
    },
    /// A duplicate copy of a VM was powered off.
    DuplicateStopped {
        vm: String,
        host: String,
    },
    /// Half of the hosts answer the runtime again.
    IsolationEnded,
    /// Every host that answers was inventoried: the runtime acts again.
    Reconciled,
    /// A VM's inventory shows amounts other than the record's (its
    /// definition changed unseen): the record takes them.
    VmResizedSeen {
        vm: String,
        host: String,
        demand: BTreeMap<String, i64>,
    },
    /// Where a VM runs is not known: it is looked for.
    VmInDoubt {
        vm: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        host: Option<String>,
    },
    /// A start or migration of `vm` that may have landed on `host` never
    /// answered, and fresh listings of the hosts involved, then a query,
    /// found no copy: it can no longer land, and `vm` is restarted as
    /// any VM found nowhere.
    LandingRuledOut {
        vm: String,
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
        vm: String,
        host: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        definition: Option<Value>,
    },
    /// Resume a halted VM on the host the pool has it on.
    VmResume {
        vm: String,
    },
    VmMigrate {
        vm: String,
        host: String,
    },
    PriorityChange {
        vm: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        priority: Option<Priority>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        restart: Option<Restart>,
    },
    /// Take a host out of service (maintenance or removal).
    HostDisable {
        host: String,
    },
    /// Configure a new k.
    SetTolerance {
        k: u32,
    },
}

/// What one event leads to.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Output {
    pub actions: Vec<Action>,
    pub alerts: Vec<Alert>,
    pub notes: Vec<Note>,
    /// The next time a `tick` has something to do (a health check or a wait
    /// that ends), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wake_at: Option<Millis>,
}

/// Seconds to milliseconds, saturating.
fn ms(s: u64) -> Millis {
    s.saturating_mul(1000)
}
