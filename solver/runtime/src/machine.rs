//! The runtime's state and its reaction to each event.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::*;
use haplan::agility;
use haplan::drain;
use haplan::error::{ChangesError, PoolError};
use haplan::model::*;
use haplan::plan::{self, Scope};
use haplan::scenario::Analysis;
use haplan::tolerance::Tolerates;
use haplan::whatif::{self, Change, HostVms};

use crate::budget::{CheckUse, Checks, Undecided, budget_words};

/// First wait after every fence level of a host failed; doubles each round.
pub const FENCE_BACKOFF_MS: Millis = 5_000;
/// The longest wait between fence rounds.
pub const FENCE_BACKOFF_MAX_MS: Millis = 300_000;
/// Beyond `fence_timeout_s`, how long a fence may go unanswered before the
/// runtime counts it as failed.
pub const FENCE_GRACE_MS: Millis = 5_000;
/// After a restart of the runtime, how long it waits before asking where a
/// VM whose migration (or query) was in flight runs. (A VM whose start was
/// in flight is settled by the reconciliation's inventories, without a
/// wait.)
pub const SETTLE_MS: Millis = 60_000;
/// How often a protected VM that no host could take is tried again when
/// nothing else gave it a new chance.
pub const STUCK_RETRY_MS: Millis = 60_000;
/// When where a VM runs could not be found out, how long until it is asked
/// again.
pub const ASK_AGAIN_MS: Millis = 5_000;
/// Deadlines of the requests the runtime makes (beyond them an action in
/// flight counts as unanswered).
pub const PROBE_DEADLINE_MS: Millis = 10_000;
pub const PEER_DEADLINE_MS: Millis = 10_000;
pub const INVENTORY_DEADLINE_MS: Millis = 30_000;
pub const QUERY_DEADLINE_MS: Millis = 30_000;
pub const STOP_DEADLINE_MS: Millis = 60_000;
pub const START_DEADLINE_MS: Millis = 120_000;
pub const MIGRATE_DEADLINE_MS: Millis = 600_000;
/// How long a VM may stay in doubt before an alert names it (and the start
/// groups after it stop waiting for it).
pub const IN_DOUBT_ALERT_MS: Millis = 60_000;
/// The longest a (re)started runtime waits for the inventories of the hosts
/// that answer before it acts anyway.
pub const RECONCILE_MAX_MS: Millis = 60_000;
/// How often every up host is inventoried (what changed unseen: VMs started,
/// stopped or moved by others, copies that should not run).
pub const INVENTORY_INTERVAL_MS: Millis = 60_000;
/// At most this many timed-out fences of a host are remembered (a late
/// "off" from one of them still confirms the host).
const LATE_FENCES_KEPT: usize = 8;

/// Why an event or an operation cannot be taken.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// An event or operation names a host the pool does not have.
    #[error("unknown host {}", haplan::strict::quoted(.0))]
    UnknownHost(String),
    /// An event or operation names a VM the pool does not have.
    #[error("unknown VM {}", haplan::strict::quoted(.0))]
    UnknownVm(String),
    /// The event does not fit the runtime's state (a host removed while it
    /// runs VMs, a VM started on a host that is down, ...): the message
    /// says why.
    #[error("{0}")]
    Invalid(String),
    /// An answer whose id is in flight names another host or VM than its
    /// action: refused, and the action stays in flight.
    #[error("the answer to action {id} names {named}, but that action concerns {expected}")]
    Misaddressed {
        /// The action's id.
        id: ActionId,
        /// The host or VM the answer names.
        named: String,
        /// The one the action concerns.
        expected: String,
    },
    /// A change left the pool invalid (a `host_added` with a taken name, a
    /// VM definition with a problem): nothing changed.
    #[error(transparent)]
    Pool(#[from] PoolError),
    /// A structural change could not be applied: nothing changed.
    #[error(transparent)]
    Changes(#[from] ChangesError),
}

/// The answer of an admission check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Admission {
    /// The pool keeps its configured k (or the operation does not lower it).
    Allowed {
        /// The k the pool is configured to tolerate.
        configured: u32,
    },
    /// After the operation the pool would not tolerate its configured k:
    /// the witness is a failure set and the VMs it would strand.
    WouldOvercommit {
        /// The k the pool is configured to tolerate.
        configured: u32,
        /// The witness: hosts whose failure would strand VMs.
        failed_hosts: Vec<String>,
        /// The protected VMs that failure would leave without a host.
        stranded_vms: Vec<String>,
        /// Why, in a sentence.
        reason: String,
    },
    /// The check did not decide within the runtime's check budget: the
    /// operation is admitted (a refusal is always a proof), but nothing is
    /// proved. In JSON a `"verdict": "allowed"` with `"undecided": true`,
    /// so that a caller that knows only `allowed` admits it.
    #[serde(rename = "allowed")]
    Undecided {
        /// The k the pool is configured to tolerate.
        configured: u32,
        /// Always true.
        undecided: bool,
        /// Why, in a sentence.
        reason: String,
    },
    /// The operation cannot be done at all (it does not fit, say).
    Refused {
        /// Why, in a sentence.
        reason: String,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
enum HostStatus {
    Up,
    /// Enough probes failed (the one sent at `since` made it so): a peer
    /// is asked whether it reaches the host (`id`, its verdict in
    /// `peer_down`), and the other hosts' answers since then are counted.
    Confirming {
        id: Option<ActionId>,
        since: Millis,
        peer: Option<String>,
        peer_down: Option<bool>,
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
    /// The next fence request (level `level` of round `round`: after a
    /// level failed, a backoff ended, or the runtime restarted at `since`)
    /// waits until at least half of the electorate has answered a probe
    /// sent since `since`: a runtime that may have been cut off since it
    /// decided does not shoot (Safety rules).
    FenceHold {
        level: usize,
        round: u32,
        since: Millis,
    },
    /// Confirmed off: its VMs were released for restart.
    Fenced,
    /// Declared down without host failover (`ha.mode: "vm"`): not fenced.
    Lost,
    Maintenance,
    /// Confirmed off (`fenced`) or lost, and answering again: inventoried
    /// before it counts as up.
    Returning {
        fenced: bool,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct HostRt {
    status: HostStatus,
    fails: u32,
    probe: Option<ActionId>,
    /// When the probe in flight was sent.
    probe_sent: Millis,
    /// When the latest probe answered "up" was sent, and the latest that
    /// failed (for counting who answered since a host became suspect).
    ok_at: Option<Millis>,
    fail_at: Option<Millis>,
    unreachable_alerted: bool,
    /// `host_unconfirmed` was raised in this episode of missed probes.
    unconfirmed_alerted: bool,
    /// What its latest inventory listed, kept up to date by the runtime's
    /// own confirmed starts, stops and migrations.
    seen: BTreeSet<String>,
    /// The id of the latest inventory answered (fresh listings are those
    /// asked after a suspicion).
    inventory_done: ActionId,
    /// Inventoried since the runtime last (re)started.
    inventoried: bool,
    /// The next periodic inventory.
    inventory_next: Millis,
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
            probe_sent: 0,
            ok_at: None,
            fail_at: None,
            unreachable_alerted: false,
            unconfirmed_alerted: false,
            seen: BTreeSet::new(),
            inventory_done: 0,
            inventoried: false,
            inventory_next: 0,
            evacuated: BTreeSet::new(),
            drain: None,
            late: BTreeMap::new(),
            inventory: false,
            inventory_at: 0,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
    /// the runtime stopped or got no answer, or its host came back without
    /// failover, or its host's inventory lacks it). `on`: the host a start
    /// whose outcome is unknown went to (tried again first if it runs
    /// nowhere). `since`: in doubt since then; `alerted` once named.
    Unknown {
        id: Option<ActionId>,
        ask_at: Millis,
        #[serde(default)]
        on: Option<String>,
        #[serde(default)]
        attempt: u32,
        #[serde(default)]
        since: Millis,
        #[serde(default)]
        alerted: bool,
        /// A live migration whose outcome is unknown: (from, to). The VM
        /// may run on either host; a drain of `from` waits for it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        migration: Option<(String, String)>,
        /// Missing from the listing of the host the record places it on:
        /// looked for on the other hosts (their listings may be older than
        /// a move), and taken for crashed there if the hosts that answer do
        /// not run it, even when some host does not answer (as a copy on a
        /// host that does not answer, a duplicate once that host answers).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        missing: bool,
        /// Found nowhere by a query answered while the runtime
        /// reconciled: decided as soon as the reconciliation ends (started
        /// again on `on`, or asked again), not a query interval later.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        reconciled_away: bool,
    },
    Migrating {
        id: ActionId,
        to: String,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct VmRt {
    phase: Phase,
    /// Hosts whose every attempt failed, in this restart.
    tried: Vec<String>,
    /// Whether this restart follows a host failure (ordered, one attempt
    /// for best-effort) rather than a crash on a healthy host.
    after_failure: bool,
    /// Failed start attempts in this restart, and the last error.
    #[serde(default)]
    attempts: u32,
    #[serde(default)]
    last_error: Option<String>,
    /// While a VM in doubt is started again on the host of the start whose
    /// outcome is unknown: since when its location has been unknown, and
    /// whether it was named (the start does not end the doubt; its
    /// success, a failure or a sighting does).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    doubt: Option<Doubt>,
}

/// Since when a VM's location has been unknown, and whether an alert named
/// it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Doubt {
    since: Millis,
    alerted: bool,
}

impl VmRt {
    fn steady() -> VmRt {
        VmRt::with(Phase::Steady, false)
    }

    fn with(phase: Phase, after_failure: bool) -> VmRt {
        VmRt {
            phase,
            tried: Vec::new(),
            after_failure,
            attempts: 0,
            last_error: None,
            doubt: None,
        }
    }
}

/// A suspected duplicate: decided on inventories asked from `after` on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct DupCheck {
    hosts: BTreeSet<String>,
    after: ActionId,
}

/// A VM in the current recovery: what its start group waits for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Entry {
    order: u32,
    protected: bool,
    done_at: Option<Millis>,
    delay_ms: Millis,
}

/// The last tolerance computed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Known {
    configured: u32,
    /// The exact tolerance, or with `upper_bound` the tolerance proved.
    max_tolerable: u32,
    stranded_now: bool,
    /// The check did not decide within its budget: the upper bound proved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    upper_bound: Option<u32>,
}

/// A start or live migration that came back in doubt (or was in flight
/// when the runtime stopped) and has not answered since: it may still land
/// on `host` (the start's host, the migration's target). It ends when the
/// action answers, when `host` is confirmed off, or when fresh listings
/// rule the landing out (Safety rules, "What may still land is waited
/// for").
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
struct Landing {
    id: ActionId,
    host: String,
    /// A migration's source (a start has none).
    #[serde(skip_serializing_if = "Option::is_none")]
    from: Option<String>,
    /// Not ruled out before this time: a start's deadline (the driver
    /// makes no start after it); a migration's pin can be checked at once
    /// (a migration moves a running copy, it never makes one).
    check_from: Millis,
    /// The check began: listings asked from this id on are fresh.
    #[serde(skip_serializing_if = "Option::is_none")]
    listed_from: Option<ActionId>,
    /// Fresh listings of every host involved showed no copy: a query asked
    /// from this id on that finds none rules the landing out.
    #[serde(skip_serializing_if = "Option::is_none")]
    query_from: Option<ActionId>,
    /// The action got no answer within its deadline, and its answer may
    /// still come (this process's driver is still at it): a sighting does
    /// not end the pin, the answer does. A restart of the runtime clears
    /// it (answers to the old process never come).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    answer_due: bool,
}

impl Landing {
    fn start(id: ActionId, host: &str, deadline: Millis) -> Landing {
        Landing {
            id,
            host: host.to_string(),
            from: None,
            check_from: deadline,
            listed_from: None,
            query_from: None,
            answer_due: false,
        }
    }

    fn migration(id: ActionId, from: &str, to: &str, now: Millis) -> Landing {
        Landing {
            id,
            host: to.to_string(),
            from: Some(from.to_string()),
            check_from: now,
            listed_from: None,
            query_from: None,
            answer_due: false,
        }
    }

    /// The hosts whose listings must show no copy: a migration's source
    /// first (a migration needs a running source), then the host it may
    /// land on.
    fn hosts(&self) -> Vec<String> {
        self.from.iter().chain([&self.host]).cloned().collect()
    }
}

/// Snapshots written before [`Landing`] kept only `[id, host]`: such a pin
/// is checked no sooner than the longest deadline after the snapshot.
impl<'de> Deserialize<'de> for Landing {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Landing, D::Error> {
        #[derive(Deserialize)]
        struct Full {
            id: ActionId,
            host: String,
            #[serde(default)]
            from: Option<String>,
            check_from: Millis,
            #[serde(default)]
            listed_from: Option<ActionId>,
            #[serde(default)]
            query_from: Option<ActionId>,
            #[serde(default)]
            answer_due: bool,
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Form {
            Full(Full),
            Old(ActionId, String),
        }
        Ok(match Form::deserialize(d)? {
            Form::Full(f) => Landing {
                id: f.id,
                host: f.host,
                from: f.from,
                check_from: f.check_from,
                listed_from: f.listed_from,
                query_from: f.query_from,
                answer_due: f.answer_due,
            },
            Form::Old(id, host) => Landing::start(id, &host, Millis::MAX),
        })
    }
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
    /// When each action in flight counts as unanswered (fences: their
    /// host's status holds the deadline).
    deadlines: BTreeMap<ActionId, Millis>,
    /// Suspected duplicates, by VM.
    duplicates: BTreeMap<String, DupCheck>,
    /// Reconciling since then: nothing is started, migrated or declared
    /// down from probes until every host that answers was inventoried.
    reconciling: Option<Millis>,
    /// `runtime_isolated` was raised and half of the hosts do not answer
    /// yet.
    isolated: bool,
    /// Starts and live migrations that came back in doubt (or were in
    /// flight when the runtime stopped) and have not answered since, by VM:
    /// their id and the host they may still land on. Until the action
    /// answers or that host is confirmed off, the VM is not moved away from
    /// it (a drain or failback migration), and, found nowhere, it is not
    /// started anywhere else: a late landing would make a second copy.
    late_landings: BTreeMap<String, Landing>,
    dirty: bool,
    /// The budget of the exact checks (not state: a setting of the process).
    checks: Checks,
}

const VIRTUAL_HOST: &str = "\u{0}awaiting-restart";

/// How a drain that is not proved to keep k says so.
const DRAIN_UNDECIDED: &str =
    "undecided: the check whether the drain keeps k did not decide within its time budget";

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
            deadlines: BTreeMap::new(),
            duplicates: BTreeMap::new(),
            reconciling: None,
            isolated: false,
            late_landings: BTreeMap::new(),
            dirty: true,
            checks: Checks::default(),
        };
        rt.reconcile();
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

    /// The runtime's clock: the latest time an input carried.
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
    /// runtimes exactly when they are in the same state. It is also a
    /// snapshot: [`Runtime::restore`] rebuilds the runtime from it (with the
    /// fencing parameters redacted, as after a replay of the log).
    pub fn state_json(&self) -> Value {
        serde_json::json!({
            "pool": crate::redact::redact_pool(&self.doc),
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
            "deadlines": self.deadlines,
            "duplicates": self.duplicates,
            "reconciling": self.reconciling,
            "isolated": self.isolated,
            "late_landings": self.late_landings,
        })
    }

    /// The runtime a [`Runtime::state_json`] snapshot describes.
    pub fn restore(state: &Value) -> Result<Runtime, RuntimeError> {
        fn field<T: serde::de::DeserializeOwned>(
            state: &Value,
            name: &str,
        ) -> Result<T, RuntimeError> {
            let v = state.get(name).cloned().unwrap_or(Value::Null);
            serde_json::from_value(v)
                .map_err(|e| RuntimeError::Invalid(format!("snapshot field {name}: {e}")))
        }
        let doc: Value = field(state, "pool")?;
        let pool = haplan::pool_from_value(&doc)?;
        let inflight: Vec<Action> = field(state, "in_flight")?;
        let rt = Runtime {
            doc,
            pool,
            now: field(state, "now")?,
            next_id: field(state, "next_id")?,
            hosts: field(state, "hosts")?,
            vms: field(state, "vms")?,
            inflight: inflight.into_iter().map(|a| (a.id(), a)).collect(),
            next_probe: field(state, "next_probe")?,
            known: field(state, "known")?,
            alerted_not_agile: field(state, "alerted_not_agile")?,
            recovery: field(state, "recovery")?,
            failback: field(state, "failback")?,
            deadlines: field(state, "deadlines")?,
            duplicates: field(state, "duplicates")?,
            reconciling: field(state, "reconciling")?,
            isolated: field(state, "isolated")?,
            // Absent from snapshots written before it was kept.
            late_landings: match state.get("late_landings") {
                Some(_) => field(state, "late_landings")?,
                None => BTreeMap::new(),
            },
            dirty: false,
            checks: Checks::default(),
        };
        // A pin of an older snapshot knows no deadline: checked no sooner
        // than the longest one after the snapshot.
        let mut rt = rt;
        let latest = rt.now.saturating_add(MIGRATE_DEADLINE_MS);
        for l in rt.late_landings.values_mut() {
            if l.check_from == Millis::MAX {
                l.check_from = latest;
            }
        }
        let hosts_match = rt.pool.hosts.len() == rt.hosts.len()
            && rt.pool.hosts.iter().all(|h| rt.hosts.contains_key(&h.name));
        let vms_match = rt.pool.vms.len() == rt.vms.len()
            && rt.pool.vms.iter().all(|v| rt.vms.contains_key(&v.name));
        if !hosts_match || !vms_match {
            return Err(RuntimeError::Invalid(
                "snapshot: the hosts or VMs of its state are not those of its pool".into(),
            ));
        }
        Ok(rt)
    }

    /// Whether the runtime takes itself for the isolated side (fewer than
    /// half of the hosts not known off answer).
    pub fn isolated(&self) -> bool {
        self.isolated
    }

    /// Whether the runtime is still reconciling with the hosts' inventories
    /// (after a start or a restart) and so does not act yet.
    pub fn reconciling(&self) -> bool {
        self.reconciling.is_some()
    }

    /// The status of each host, as a word (`up`, `confirming`, `fencing`,
    /// `fence_wait`, `fence_hold`, `fenced`, `lost`, `maintenance`,
    /// `returning`).
    pub fn host_statuses(&self) -> BTreeMap<String, &'static str> {
        self.hosts
            .iter()
            .map(|(n, h)| {
                let s = match h.status {
                    HostStatus::Up => "up",
                    HostStatus::Confirming { .. } => "confirming",
                    HostStatus::Fencing { .. } => "fencing",
                    HostStatus::FenceWait { .. } => "fence_wait",
                    HostStatus::FenceHold { .. } => "fence_hold",
                    HostStatus::Fenced => "fenced",
                    HostStatus::Lost => "lost",
                    HostStatus::Maintenance => "maintenance",
                    HostStatus::Returning { .. } => "returning",
                };
                (n.clone(), s)
            })
            .collect()
    }

    /// The phase of each VM, as a word (`steady`, `held`, `pending`,
    /// `planned`, `starting`, `retry`, `stuck`, `unknown`, `migrating`).
    pub fn vm_phases(&self) -> BTreeMap<String, &'static str> {
        self.vms
            .iter()
            .map(|(n, v)| {
                let s = match v.phase {
                    Phase::Steady => "steady",
                    Phase::Held => "held",
                    Phase::Pending => "pending",
                    Phase::Planned { .. } => "planned",
                    Phase::Starting { .. } => "starting",
                    Phase::Retry { .. } => "retry",
                    Phase::Stuck { .. } => "stuck",
                    Phase::Unknown { .. } => "unknown",
                    Phase::Migrating { .. } => "migrating",
                };
                (n.clone(), s)
            })
            .collect()
    }

    /// Starts (or restarts) reconciliation: every up host is to be
    /// inventoried before the runtime acts.
    fn reconcile(&mut self) {
        self.reconciling = Some(self.now);
        for h in self.hosts.values_mut() {
            h.inventoried = false;
            if matches!(h.status, HostStatus::Up | HostStatus::Returning { .. }) {
                h.inventory = true;
                h.inventory_at = 0;
            }
        }
    }

    /// Reacts to one event. An event that refers to what the pool does not
    /// have, or would make the pool invalid, is refused and changes nothing.
    pub fn handle(&mut self, input: &Input) -> Result<Output, RuntimeError> {
        self.handle_checked(input, None)
    }

    /// [`Runtime::handle`] for a logged step being replayed: the exact
    /// checks that did not decide within their budget when it was taken
    /// (its output's `undecided`) take their logged outcome instead of
    /// running again (see [`crate::budget`]).
    pub fn replay_step(
        &mut self,
        input: &Input,
        undecided: &[Undecided],
    ) -> Result<Output, RuntimeError> {
        self.handle_checked(input, Some(undecided.to_vec()))
    }

    /// The wall-clock time each exact check of a step may take (`None`:
    /// no limit); [`crate::DEFAULT_CHECK_BUDGET`] unless set. A setting of
    /// the process, not of the state: a replayed log gives the same
    /// outputs whatever it is.
    pub fn set_check_budget(&mut self, budget: Option<std::time::Duration>) {
        self.checks.set_budget(budget);
    }

    /// The budget of each exact check ([`Runtime::set_check_budget`]).
    pub fn check_budget(&self) -> Option<std::time::Duration> {
        self.checks.budget()
    }

    fn handle_checked(
        &mut self,
        input: &Input,
        logged: Option<Vec<Undecided>>,
    ) -> Result<Output, RuntimeError> {
        self.checks.begin(logged);
        let result = self.handle_step(input);
        let undecided = self.checks.end();
        result.map(|mut out| {
            out.undecided = undecided;
            out
        })
    }

    fn handle_step(&mut self, input: &Input) -> Result<Output, RuntimeError> {
        // Results and ticks refuse nothing; other events may be refused
        // after a lookup, so they are undone as a whole.
        let before = match input.event {
            Event::Tick
            | Event::HealthCheck { .. }
            | Event::PeerCheck { .. }
            | Event::FenceResult { .. }
            | Event::VmStartResult { .. }
            | Event::VmStopResult { .. }
            | Event::MigrateResult { .. }
            | Event::VmStatus { .. }
            | Event::Inventory { .. } => None,
            _ => Some(self.clone()),
        };
        // An answer is checked before anything changes: the names it gives
        // must be known and, when its action is in flight, be the action's.
        self.check_answer(&input.event)?;
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

    /// Refuses an answer that names a host or VM the pool does not have, or
    /// that carries the id of an action in flight about something else.
    fn check_answer(&self, event: &Event) -> Result<(), RuntimeError> {
        let (id, hosts, vm): (ActionId, Vec<&String>, Option<&String>) = match event {
            Event::HealthCheck { id, host, .. }
            | Event::FenceResult { id, host, .. }
            | Event::Inventory { id, host, .. } => (*id, vec![host], None),
            Event::PeerCheck { id, host, peer, .. } => (*id, vec![host, peer], None),
            Event::VmStartResult { id, vm, host, .. }
            | Event::VmStopResult { id, vm, host, .. }
            | Event::MigrateResult { id, vm, host, .. } => (*id, vec![host], Some(vm)),
            Event::VmStatus { id, vm, host, .. } => (*id, host.iter().collect(), Some(vm)),
            _ => return Ok(()),
        };
        for h in &hosts {
            self.host_id(h)?;
        }
        if let Some(vm) = vm {
            self.vm_id(vm)?;
        }
        let Some(action) = self.inflight.get(&id) else {
            return Ok(()); // late or unknown: ignored
        };
        let same = match (event, action) {
            (Event::HealthCheck { host, .. }, Action::Probe { host: h, .. })
            | (Event::FenceResult { host, .. }, Action::Fence { host: h, .. })
            | (Event::Inventory { host, .. }, Action::Inventory { host: h, .. }) => host == h,
            (
                Event::PeerCheck { host, peer, .. },
                Action::AskPeer {
                    host: h, peer: p, ..
                },
            ) => host == h && peer == p,
            (Event::VmStartResult { vm, host, .. }, Action::StartVm { vm: v, host: h, .. })
            | (Event::VmStopResult { vm, host, .. }, Action::StopVm { vm: v, host: h, .. })
            | (Event::MigrateResult { vm, host, .. }, Action::Migrate { vm: v, to: h, .. }) => {
                vm == v && host == h
            }
            (Event::VmStatus { vm, .. }, Action::QueryVm { vm: v, .. }) => vm == v,
            _ => false,
        };
        if same {
            return Ok(());
        }
        let named = match (vm, hosts.first()) {
            (Some(vm), Some(h)) => format!("{vm} on {h}"),
            (Some(vm), None) => vm.clone(),
            (None, Some(h)) => (*h).clone(),
            (None, None) => String::new(),
        };
        Err(RuntimeError::Misaddressed {
            id,
            named,
            expected: serde_json::to_string(action).unwrap_or_default(),
        })
    }

    /// After a restart of the runtime from its log: probes and peer
    /// questions in flight are forgotten, fences in flight are sent again
    /// (fencing a host that is off is harmless), and VMs whose start or
    /// migration was in flight are looked for once every such action has
    /// settled, before anything else is done with them.
    fn restarted(&mut self, out: &mut Output) {
        // No answer to the old process comes any more.
        for l in self.late_landings.values_mut() {
            l.answer_due = false;
        }
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
                        && matches!(h.status, HostStatus::Confirming { id: Some(x), .. } if x == id)
                    {
                        h.status = HostStatus::Up;
                    }
                }
                Action::StopVm { host, .. } => {
                    // Whether that copy still runs: its host says.
                    if let Some(h) = self.hosts.get_mut(&host) {
                        h.inventory = true;
                    }
                }
                Action::Fence { host, level, .. } => {
                    // Sent again once the resumed runtime hears from half
                    // of the pool: it may have been cut off meanwhile.
                    let round = match self.hosts[&host].status {
                        HostStatus::Fencing { round, .. } => round,
                        _ => 0,
                    };
                    self.hold_fence(&host, level, round);
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
    fn in_doubt(
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
            reconciled_away: false,
        };
    }

    /// The live migration of `vm` from `from` to `to` has no known outcome
    /// (no answer in time, or the runtime stopped meanwhile): it may run on
    /// either host. It is looked for after `wait`, and both hosts are
    /// listed again.
    fn migration_in_doubt(
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
    fn inventory(&mut self, id: ActionId, host: &str, running: &[String], out: &mut Output) {
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

    /// Whether `host` answers the runtime (its inventory means something).
    fn answers(&self, host: &str) -> bool {
        self.hosts.get(host).is_some_and(|h| {
            matches!(
                h.status,
                HostStatus::Up | HostStatus::Confirming { .. } | HostStatus::Returning { .. }
            )
        })
    }

    /// `vm` runs on `h` (a listing or a late answer says so): the record
    /// follows, and its restart, if one was due, is over.
    fn adopt(&mut self, v: VmId, h: HostId, out: &mut Output) {
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
        self.set_vm(v, Some(h), Some(Power::Running));
        self.vms.insert(name.clone(), VmRt::steady());
        if let Some(e) = self.recovery.get_mut(&name) {
            e.done_at = Some(self.now);
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

    /// Suspects every VM that the latest listings of two answering hosts
    /// show, and decides every suspicion whose fresh listings are in: still
    /// on two hosts, one copy is kept (the one where the record places it,
    /// else the first host by name) and the others are stopped.
    /// The amounts an inventory of `host` gives for the VMs it lists: where
    /// they differ from the record's (a definition changed while nobody
    /// told the runtime), the record takes them, as after `vm_resized`.
    /// Resources the pool does not have, and amounts the pool refuses
    /// (negative ones), are left out.
    fn amounts_seen(
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

    fn check_duplicates(&mut self, out: &mut Output) {
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
            let v = self.pool.vm_by_name(&vm).expect("known");
            let rec = self.pool.hosts[self.pool.vms[v].host].name.clone();
            let starting = match &self.vms[&vm].phase {
                Phase::Starting { host, .. } => Some(host.clone()),
                _ => None,
            };
            let kept = starting
                .filter(|t| now.contains(t))
                .or_else(|| {
                    (self.pool.vms[v].power.is_active() && now.contains(&rec)).then(|| rec.clone())
                })
                .unwrap_or_else(|| now[0].clone());
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
                let stopping = self.inflight.values().any(|a| {
                    matches!(a, Action::StopVm { vm: x, host: y, .. } if *x == vm && *y == host)
                });
                if !stopping {
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

    /// Whether `vm` is being live-migrated, or a migration of it has no
    /// known outcome yet: listed on two hosts, it is not a duplicate (a
    /// migration lists it on both) until it is found.
    fn moving(&self, vm: &str) -> bool {
        matches!(
            self.vms[vm].phase,
            Phase::Migrating { .. }
                | Phase::Unknown {
                    migration: Some(_),
                    ..
                }
        )
    }

    fn id(&mut self) -> ActionId {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    fn emit(&mut self, action: Action, out: &mut Output) {
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
                // Nothing of them is kept: a VM of the same name added later
                // starts afresh (a late landing left behind would pin it to
                // a host that is gone).
                for v in &gone {
                    self.vms.remove(v);
                    self.recovery.remove(v);
                    self.late_landings.remove(v);
                    self.duplicates.remove(v);
                    self.alerted_not_agile.remove(v);
                    for rt in self.hosts.values_mut() {
                        rt.seen.remove(v);
                        rt.evacuated.remove(v);
                    }
                }
                self.failback.retain(|(v, _)| !gone.contains(v));
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
                            reconciled_away: false,
                        };
                    }
                }
            }
            Event::HostUp { host } => {
                self.host_id(host)?;
                match self.hosts[host].status {
                    HostStatus::Up
                    | HostStatus::Confirming { .. }
                    | HostStatus::Maintenance
                    | HostStatus::Returning { .. } => {
                        out.notes.push(Note::Ignored {
                            reason: format!("host {host} is already up or in maintenance"),
                        });
                    }
                    _ => {
                        // Back: inventoried before it counts as up.
                        let fenced = self.hosts[host].status == HostStatus::Fenced;
                        let rt = self.hosts.get_mut(host).expect("known");
                        rt.status = HostStatus::Returning { fenced };
                        rt.fails = 0;
                        rt.inventory = true;
                        rt.inventory_at = 0;
                        out.notes.push(Note::HostReturning { host: host.clone() });
                    }
                }
            }
            Event::HostDown { host } => {
                self.host_id(host)?;
                match self.hosts[host].status {
                    // An outside monitor's word: the host is down, but the
                    // fence waits until half of the pool answers the
                    // runtime (a runtime cut off from the pool never
                    // shoots, whoever says the host is down).
                    HostStatus::Up | HostStatus::Confirming { .. } => {
                        if self.declare_down(host, None, None, out) {
                            self.hold_fence(host, 0, 0);
                        }
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
                if self.take(*id).is_some() {
                    let rt = self.hosts.get_mut(host).expect("checked");
                    rt.probe = None;
                    let sent = rt.probe_sent;
                    self.health(host, *ping && *api, sent, out);
                }
            }
            Event::PeerCheck {
                id,
                host,
                peer,
                reachable,
                error,
            } => {
                if self.take(*id).is_some() {
                    let verdict = if error.is_some() {
                        None
                    } else {
                        Some(!*reachable)
                    };
                    self.peer_answer(host, *id, peer, verdict, out);
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
                        HostStatus::Fencing { .. }
                            | HostStatus::FenceWait { .. }
                            | HostStatus::FenceHold { .. }
                    )
                {
                    // Slower than the timeout, but a confirmation all the same.
                    let agent = self.agent(host, level);
                    self.fenced(host, Some(agent), out);
                } else if self.take(*id).is_some() {
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
                    HostStatus::Up
                    | HostStatus::Confirming { .. }
                    | HostStatus::Returning { .. } => {
                        self.declare_down(host, None, None, out);
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
                in_doubt,
            } => {
                self.answered(vm, *id);
                let deadline = self.deadlines.get(id).copied().unwrap_or(self.now);
                if self.take(*id).is_some() {
                    if *in_doubt && !*ok {
                        self.start_in_doubt(*id, vm, host, deadline, out);
                    } else {
                        self.start_result(*id, vm, host, *ok, error.as_deref(), out);
                    }
                } else if *ok {
                    // Late, but the VM runs there: a sighting.
                    self.sighting(vm, host, out);
                }
            }
            Event::VmStopResult {
                id,
                vm,
                host,
                ok,
                error,
            } => {
                if self.take(*id).is_some() {
                    let rt = self.hosts.get_mut(host).expect("checked");
                    if *ok {
                        rt.seen.remove(vm);
                        out.notes.push(Note::DuplicateStopped {
                            vm: vm.clone(),
                            host: host.clone(),
                        });
                    } else {
                        // Whether it still runs there: its host says.
                        rt.inventory = true;
                        rt.inventory_at = 0;
                        out.notes.push(Note::Ignored {
                            reason: format!(
                                "stopping the copy of {vm} on {host} failed: {}",
                                error.as_deref().unwrap_or("failed")
                            ),
                        });
                    }
                }
            }
            Event::MigrateResult {
                id,
                vm,
                host,
                ok,
                error,
            } => {
                self.answered(vm, *id);
                if self.take(*id).is_some() {
                    self.migrate_result(*id, vm, host, *ok, error.as_deref(), out);
                } else if *ok {
                    // Late, but the VM runs there now: a sighting.
                    self.sighting(vm, host, out);
                }
            }
            Event::VmStatus {
                id,
                vm,
                host,
                error,
            } => {
                if self.take(*id).is_some() {
                    let missing = matches!(
                        self.vms.get(vm).map(|r| &r.phase),
                        Some(Phase::Unknown { id: Some(x), missing: true, .. }) if x == id
                    );
                    if error.is_some() && missing {
                        // Not on the hosts that answer: as before the
                        // query, taken for crashed on its own host.
                        self.found(*id, vm, None, false, out)?;
                    } else if error.is_some() {
                        // Not known yet: asked again shortly.
                        self.ask_again(*id, vm);
                    } else {
                        self.found(*id, vm, host.as_deref(), true, out)?;
                    }
                }
            }
            Event::Inventory {
                id,
                host,
                vms,
                error,
                demand,
            } => {
                if self.take(*id).is_some() {
                    if error.is_some() {
                        self.inventory_failed(host);
                    } else {
                        self.inventory(*id, host, vms, out);
                        self.amounts_seen(host, vms, demand, out);
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

    /// Action `id` about `vm` answered (in time or late): if it was the
    /// start or migration in doubt that pinned `vm`, it can no longer land.
    fn answered(&mut self, vm: &str, id: ActionId) {
        if self.late_landings.get(vm).is_some_and(|l| l.id == id) {
            self.late_landings.remove(vm);
        }
    }

    /// Takes action `id` out of flight (its answer came, checked by
    /// [`Runtime::check_answer`]); `None` for a late or unknown answer.
    fn take(&mut self, id: ActionId) -> Option<Action> {
        self.deadlines.remove(&id);
        self.inflight.remove(&id)
    }

    /// Where `vm` runs could not be found out by query `id`: asked again
    /// shortly.
    fn ask_again(&mut self, id: ActionId, vm: &str) {
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
    fn inventory_failed(&mut self, host: &str) {
        let again = self
            .now
            .saturating_add(ms(self.pool.ha.check_interval_s).max(1));
        if let Some(h) = self.hosts.get_mut(host) {
            h.inventory = true;
            h.inventory_at = again;
        }
    }

    /// A start of `vm` on `host` came back in doubt: it may still complete
    /// (until `deadline`, the driver may still make it).
    fn start_in_doubt(
        &mut self,
        id: ActionId,
        vm: &str,
        host: &str,
        deadline: Millis,
        out: &mut Output,
    ) {
        let attempt = match &self.vms[vm].phase {
            Phase::Starting {
                id: x,
                host: t,
                attempt,
            } if *x == id && t == host => *attempt,
            _ => return,
        };
        let pin = Landing::start(id, host, deadline);
        self.late_landings.insert(vm.to_string(), pin);
        self.in_doubt(vm, Some(host.to_string()), attempt, 0, out);
    }

    /// A driver says `vm` runs on `host` outside of any action in flight
    /// (a late start): where the record has it elsewhere, a duplicate is
    /// suspected; where it is awaited, it is found.
    fn sighting(&mut self, vm: &str, host: &str, out: &mut Output) {
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

    /// The answer to a probe of `host` sent at `sent`.
    fn health(&mut self, host: &str, ok: bool, sent: Millis, out: &mut Output) {
        let threshold = self.pool.ha.failure_threshold.max(1);
        let status = self.hosts[host].status.clone();
        {
            let rt = self.hosts.get_mut(host).expect("known");
            if ok {
                rt.ok_at = Some(rt.ok_at.map_or(sent, |t| t.max(sent)));
            } else {
                rt.fail_at = Some(rt.fail_at.map_or(sent, |t| t.max(sent)));
            }
        }
        match status {
            HostStatus::Up => {
                let rt = self.hosts.get_mut(host).expect("known");
                if ok {
                    let missed = rt.fails > 0 || rt.unreachable_alerted;
                    if missed {
                        rt.inventory = true; // it was out of sight
                    }
                    rt.fails = 0;
                    rt.unreachable_alerted = false;
                    rt.unconfirmed_alerted = false;
                    if missed {
                        self.unstick(); // a target again
                    }
                } else {
                    rt.fails += 1;
                    let fails = rt.fails;
                    out.notes.push(Note::HostSuspect {
                        host: host.to_string(),
                        failures: fails,
                    });
                    if fails == 1 {
                        self.retarget(host);
                    }
                    if fails >= threshold {
                        self.suspect(host, sent, out);
                    }
                }
            }
            HostStatus::Confirming { .. } => {
                let rt = self.hosts.get_mut(host).expect("known");
                if ok {
                    rt.status = HostStatus::Up;
                    rt.fails = 0;
                    rt.inventory = true;
                    self.unstick(); // a target again
                } else {
                    rt.fails += 1;
                }
            }
            HostStatus::Fenced | HostStatus::Lost | HostStatus::FenceWait { .. } if ok => {
                // Back, but not up before its VMs are known.
                let rt = self.hosts.get_mut(host).expect("known");
                rt.status = HostStatus::Returning {
                    fenced: status == HostStatus::Fenced,
                };
                rt.fails = 0;
                rt.inventory = true;
                rt.inventory_at = 0;
                out.notes.push(Note::HostReturning {
                    host: host.to_string(),
                });
            }
            HostStatus::Returning { fenced } if !ok => {
                // Gone again before it was inventoried.
                let rt = self.hosts.get_mut(host).expect("known");
                rt.status = if fenced {
                    HostStatus::Fenced
                } else {
                    HostStatus::Lost
                };
                rt.inventory = false;
            }
            _ => {}
        }
        self.decide_all(out);
    }

    /// `host` missed enough probes (the last one sent at `since`): a peer
    /// that answers is asked, and the other hosts' answers are counted.
    fn suspect(&mut self, host: &str, since: Millis, out: &mut Output) {
        let peer = self
            .hosts
            .iter()
            .find(|(n, h)| *n != host && h.status == HostStatus::Up && h.fails == 0)
            .map(|(n, _)| n.clone());
        let id = peer.as_ref().map(|_| self.id());
        self.hosts.get_mut(host).expect("known").status = HostStatus::Confirming {
            id,
            since,
            peer: peer.clone(),
            peer_down: None,
        };
        if let (Some(id), Some(peer)) = (id, peer) {
            self.emit(
                Action::AskPeer {
                    id,
                    host: host.to_string(),
                    peer,
                },
                out,
            );
        }
    }

    /// A peer's word on `host` (`down`: `Some(true)` it cannot reach it,
    /// `None` it could not tell).
    fn peer_answer(
        &mut self,
        host: &str,
        id: ActionId,
        peer: &str,
        down: Option<bool>,
        out: &mut Output,
    ) {
        let now = self.now;
        let rt = self.hosts.get_mut(host).expect("known");
        let HostStatus::Confirming {
            id: asked,
            peer_down,
            since,
            ..
        } = &mut rt.status
        else {
            return;
        };
        if *asked != Some(id) {
            return;
        }
        *asked = None;
        *peer_down = down;
        if down.is_none() {
            // A peer that does not answer may mean that the runtime's own
            // network just failed: a majority counts from now on only.
            *since = now;
        }
        if down == Some(false) {
            rt.status = HostStatus::Up;
            rt.fails = 0;
            if !rt.unreachable_alerted {
                rt.unreachable_alerted = true;
                out.alerts.push(Alert::HostUnreachable {
                    host: host.to_string(),
                    peer: peer.to_string(),
                });
            }
            return;
        }
        self.decide_all(out);
    }

    /// The electorate (hosts not confirmed off and not in maintenance) and
    /// who of it answered its latest probe.
    fn electorate(&self) -> (u32, u32, Vec<String>) {
        let mut total = 0;
        let mut reachable = 0;
        let mut unreachable = Vec::new();
        for (name, h) in &self.hosts {
            match h.status {
                HostStatus::Fenced | HostStatus::Maintenance => continue,
                HostStatus::Up | HostStatus::Returning { .. } if h.fails == 0 => {
                    reachable += 1;
                }
                _ => unreachable.push(name.clone()),
            }
            total += 1;
        }
        (reachable, total, unreachable)
    }

    fn isolated_now(&self) -> bool {
        let (r, e, _) = self.electorate();
        2 * r < e
    }

    /// Decides every suspect host whose confirmation is complete.
    fn decide_all(&mut self, out: &mut Output) {
        let suspects: Vec<String> = self
            .hosts
            .iter()
            .filter(|(_, h)| matches!(h.status, HostStatus::Confirming { .. }))
            .map(|(n, _)| n.clone())
            .collect();
        for host in suspects {
            self.decide(&host, out);
        }
    }

    /// Declares `host` down when a peer that answers confirms it (with half
    /// of the electorate answering since `host` became suspect) or a strict
    /// majority of the electorate answered since; gives up (one
    /// `host_unconfirmed`) when neither can come any more. Waits otherwise.
    fn decide(&mut self, host: &str, out: &mut Output) {
        let HostStatus::Confirming {
            id,
            since,
            peer,
            peer_down,
        } = self.hosts[host].status.clone()
        else {
            return;
        };
        if id.is_some() || self.reconciling.is_some() {
            return; // the peer has not answered yet, or not acting yet
        }
        let mut total = 0u32;
        let mut fresh = 0u32;
        let mut pending = 0u32;
        for (name, h) in &self.hosts {
            match h.status {
                HostStatus::Fenced | HostStatus::Maintenance => continue,
                _ => total += 1,
            }
            if name == host {
                continue;
            }
            let live = matches!(h.status, HostStatus::Up | HostStatus::Returning { .. });
            if live && h.fails == 0 && h.ok_at.is_some_and(|t| t >= since) {
                fresh += 1;
            } else if live && h.fails == 0 && h.fail_at.is_none_or(|t| t < since) {
                pending += 1; // its answer to this round is still to come
            }
        }
        let isolated = self.isolated_now();
        // Whether the answers still to come could make a confirmation: half
        // of the electorate with a peer's word, a strict majority without.
        let could = 2 * (fresh + pending);
        let hopeless = if peer_down == Some(true) {
            could < total
        } else {
            could <= total
        };
        if !isolated && peer_down == Some(true) && 2 * fresh >= total {
            if self.declare_down(host, peer, None, out) {
                // Decided on answers to probes sent since it became
                // suspect: the first fence goes out with it.
                self.start_fence(host, 0, 0, out);
            }
        } else if !isolated && 2 * fresh > total {
            if self.declare_down(host, None, Some([fresh, total]), out) {
                self.start_fence(host, 0, 0, out);
            }
        } else if hopeless || isolated {
            // No confirmation can come from this round: it stays up.
            let rt = self.hosts.get_mut(host).expect("known");
            rt.status = HostStatus::Up;
            if !rt.unconfirmed_alerted && !isolated {
                rt.unconfirmed_alerted = true;
                let reason = format!(
                    "{host} misses its probes, but {} and only {fresh} of the other {} hosts not known off answer: nothing is fenced",
                    match (&peer, peer_down) {
                        (Some(p), Some(true)) => format!("{p} cannot reach it either"),
                        (Some(p), _) => format!("{p} could not tell whether it reaches it"),
                        (None, _) => "no peer that answers could be asked".to_string(),
                    },
                    total - 1
                );
                out.alerts.push(Alert::HostUnconfirmed {
                    host: host.to_string(),
                    reason,
                });
            }
        }
    }

    /// Declares `host` down: its VMs are held until it is confirmed off.
    /// Returns whether it is to be fenced (not in `ha.mode: "vm"`); the
    /// caller sends the first fence, or holds it.
    fn declare_down(
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

    /// The next fence request of `host` waits for fresh answers (see
    /// `HostStatus::FenceHold`); every host not probed now is probed at
    /// once, so that the wait is one round trip when the network works.
    fn hold_fence(&mut self, host: &str, level: usize, round: u32) {
        self.hosts.get_mut(host).expect("known").status = HostStatus::FenceHold {
            level,
            round,
            since: self.now,
        };
        self.next_probe = self.next_probe.min(self.now);
    }

    /// Whether at least half of the electorate (`host`, the host to fence,
    /// counted but never heard from) answered a probe sent at or after
    /// `since`: the runtime is not cut off from the pool, now.
    fn heard_since(&self, host: &str, since: Millis) -> bool {
        let mut total = 0u32;
        let mut fresh = 0u32;
        for (name, h) in &self.hosts {
            match h.status {
                HostStatus::Fenced | HostStatus::Maintenance => continue,
                _ => total += 1,
            }
            let live = matches!(h.status, HostStatus::Up | HostStatus::Returning { .. });
            if name != host && live && h.fails == 0 && h.ok_at.is_some_and(|t| t >= since) {
                fresh += 1;
            }
        }
        2 * fresh >= total
    }

    /// Whether a host other than `host` that could answer has not been
    /// probed since `since` and has no probe in flight.
    fn unheard_since(&self, host: &str, since: Millis) -> bool {
        self.hosts.iter().any(|(name, h)| {
            name != host
                && h.probe.is_none()
                && matches!(
                    h.status,
                    HostStatus::Up | HostStatus::Confirming { .. } | HostStatus::Returning { .. }
                )
                && h.ok_at.max(h.fail_at).is_none_or(|t| t < since)
        })
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
    fn fenced(&mut self, host: &str, agent: Option<String>, out: &mut Output) {
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
        self.release(host);
        self.unstick(); // what waited for the room kept for its VMs
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

    /// `host` missed a probe: the starts planned there (or to be tried
    /// there again) are planned again, on hosts that answer.
    fn retarget(&mut self, host: &str) {
        for rt in self.vms.values_mut() {
            match &rt.phase {
                Phase::Planned { host: t } | Phase::Retry { host: t, .. } if t == host => {
                    rt.phase = Phase::Pending;
                    self.dirty = true;
                }
                _ => {}
            }
        }
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

    /// A returning host was inventoried: it is up. `fenced`: it had been
    /// confirmed off (not lost, nor only declared down).
    fn host_returned(&mut self, host: &str, fenced: bool, out: &mut Output) {
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
        if let Some(rt) = self.hosts.get_mut(&host) {
            rt.seen.remove(&name);
        }
        self.vms
            .insert(name.clone(), VmRt::with(Phase::Pending, false));
        self.start(&name, &host, 1, out);
    }

    fn start(&mut self, vm: &str, host: &str, attempt: u32, out: &mut Output) {
        let id = self.id();
        let v = self.pool.vm_by_name(vm).expect("known");
        let h = self.pool.host_by_name(host).expect("known");
        // It holds its target's capacity from now on.
        self.set_vm(v, Some(h), None);
        let rt = self.vms.get_mut(vm).expect("known");
        // Started again from doubt: still in doubt until the start answers.
        rt.doubt = match rt.phase {
            Phase::Unknown { since, alerted, .. } => Some(Doubt { since, alerted }),
            _ => None,
        };
        rt.phase = Phase::Starting {
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
            self.hosts
                .get_mut(host)
                .expect("known")
                .seen
                .insert(vm.to_string());
            self.check_duplicates(out);
            return;
        }
        let error = error.unwrap_or("failed").to_string();
        {
            let rt = self.vms.get_mut(vm).expect("known");
            rt.attempts += 1;
            rt.last_error = Some(error.clone());
        }
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
        if self.late_landings.contains_key(vm) {
            // A start or migration of it without an answer may still land
            // (a start from before a restart, on this host): started
            // elsewhere now, that would be a second copy. In doubt, it is
            // looked for until fresh listings rule the landing out, then
            // restarted as a VM found nowhere.
            self.in_doubt(vm, None, attempt, ms(self.pool.ha.retry_interval_s), out);
            return;
        }
        // Every attempt on this host failed: another host, if failover may.
        let rt = self.vms.get_mut(vm).expect("known");
        rt.tried.push(host.to_string());
        if self.pool.ha.mode == HaMode::Vm || !self.pool.ha.enabled {
            rt.phase = Phase::Stuck {
                until: self.now.saturating_add(STUCK_RETRY_MS),
            };
            let attempts = rt.attempts;
            out.alerts.push(Alert::RestartFailed {
                vm: vm.to_string(),
                attempts,
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

    /// The query `id` about `vm` answered: it runs on `host`, or nowhere
    /// (`clean`: every host answered the query; otherwise only the hosts
    /// that answer were asked).
    fn found(
        &mut self,
        id: ActionId,
        vm: &str,
        host: Option<&str>,
        clean: bool,
        out: &mut Output,
    ) -> Result<(), RuntimeError> {
        let Some(rt) = self.vms.get(vm) else {
            return Ok(());
        };
        let (on, attempt) = match &rt.phase {
            Phase::Unknown {
                id: Some(x),
                on,
                attempt,
                ..
            } if *x == id => (on.clone(), *attempt),
            _ => return Ok(()),
        };
        let v = self.vm_id(vm)?;
        match host {
            Some(h) => {
                let hid = self.host_id(h)?;
                self.adopt(v, hid, out);
                if self.answers(h) {
                    self.hosts
                        .get_mut(h)
                        .expect("known")
                        .seen
                        .insert(vm.to_string());
                }
                self.check_duplicates(out);
            }
            None if self.reconciling.is_some() => {
                // Nowhere, as far as the hosts that answer go: decided once
                // every one of them was listed, as soon as they all were.
                self.ask_again(id, vm);
                if let Some(rt) = self.vms.get_mut(vm)
                    && let Phase::Unknown {
                        id: None,
                        reconciled_away,
                        ..
                    } = &mut rt.phase
                {
                    *reconciled_away = true;
                }
            }
            None if self
                .late_landings
                .get(vm)
                .is_some_and(|l| on.as_deref() != Some(l.host.as_str()))
                && !self.landing_ruled_out(vm, id, clean, out) =>
            {
                // A migration (or a start elsewhere) that may still land:
                // started anywhere now, it could make a second copy. Asked
                // again until that action answers, a host lists it, the
                // host it may land on is confirmed off, or fresh listings
                // rule the landing out.
                self.ask_again(id, vm);
            }
            None => {
                out.notes.push(Note::VmFound {
                    vm: vm.to_string(),
                    host: None,
                });
                let own = self.pool.vms[v].host;
                let restarted =
                    self.pool.ha.enabled && self.pool.vms[v].restart != Restart::Unprotected;
                let same_host = on.filter(|t| {
                    self.hosts
                        .get(t)
                        .is_some_and(|r| r.status == HostStatus::Up)
                        && self.pool.host_by_name(t).is_some()
                });
                if let (true, Some(t)) = (restarted, same_host) {
                    // A start there whose outcome was unknown: tried again
                    // there first, so that it can only meet itself.
                    self.start(vm, &t, attempt.saturating_add(1), out);
                } else if !restarted {
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

    /// Whether the start or migration that pins `vm` (found nowhere by
    /// query `id`) can no longer land, by fresh listings: once its
    /// `check_from` has passed, every host involved (a migration's source,
    /// then the host it may land on) is listed afresh; when each answers
    /// its probes and lists no copy (running or paused), or is confirmed
    /// off and still down, a query asked
    /// after those listings and answered by every host that finds none
    /// ends the pin (`landing_ruled_out`). Until then the check goes on
    /// (a host that does not answer, or lists the VM, leaves the pin in
    /// place). Safety rules: "What may still land is waited for".
    fn landing_ruled_out(&mut self, vm: &str, id: ActionId, clean: bool, out: &mut Output) -> bool {
        let now = self.now;
        let next = self.next_id;
        let Some(pin) = self.late_landings.get(vm).cloned() else {
            return true;
        };
        if now < pin.check_from {
            return false;
        }
        let hosts = pin.hosts();
        let Some(listed_from) = pin.listed_from else {
            // Fresh listings of every host involved.
            for host in &hosts {
                if let Some(h) = self.hosts.get_mut(host) {
                    h.inventory = true;
                    h.inventory_at = 0;
                }
            }
            if let Some(l) = self.late_landings.get_mut(vm) {
                l.listed_from = Some(next);
            }
            return false;
        };
        // A host confirmed off and still down holds no copy; every other
        // host involved must answer and list none.
        let no_copy = hosts.iter().all(|host| {
            self.hosts.get(host).is_some_and(|h| {
                h.status == HostStatus::Fenced
                    || h.status == HostStatus::Up
                        && h.fails == 0
                        && !h.unreachable_alerted
                        && h.inventory_done >= listed_from
                        && !h.seen.contains(vm)
            })
        });
        if !no_copy {
            // A host that does not answer, or whose fresh listing is still
            // to come (asked again if it failed), or that lists it (then
            // it is found there).
            for host in &hosts {
                if let Some(h) = self.hosts.get_mut(host)
                    && h.status != HostStatus::Fenced
                    && h.inventory_done < listed_from
                    && !h.inventory
                    && !self
                        .inflight
                        .values()
                        .any(|a| matches!(a, Action::Inventory { host: x, .. } if x == host))
                {
                    h.inventory = true;
                }
            }
            return false;
        }
        match pin.query_from {
            Some(q) if clean && id >= q => {
                self.late_landings.remove(vm);
                out.notes.push(Note::LandingRuledOut {
                    vm: vm.to_string(),
                    host: pin.host,
                });
                true
            }
            Some(_) => false,
            None => {
                // The query that just answered may have been asked before
                // those listings: the next one decides.
                if let Some(l) = self.late_landings.get_mut(vm) {
                    l.query_from = Some(next);
                }
                false
            }
        }
    }

    /// The VMs that a start without an answer pins to the host they run
    /// on, each with the start's deadline: the start's answer will not
    /// come (lost with a runtime that stopped, or it came back in doubt;
    /// a start that timed out here may still answer late, and that answer
    /// ends its pin), the VM is steady there, the host answers and its
    /// latest listing (or the runtime's own confirmed start) has it. Once the deadline has passed, no driver makes that
    /// start any more, and the one copy it could have made is the one that
    /// runs: the pin has nothing left to guard (docs/runtime.md, "What may
    /// still land is waited for"). Before it, the start may still be under
    /// way below the driver, and would land once the VM has been moved
    /// away: the pin stays.
    fn start_pins_seen(&self) -> Vec<(String, Millis)> {
        self.late_landings
            .iter()
            .filter(|(vm, l)| {
                l.from.is_none()
                    && !l.answer_due
                    && self
                        .vms
                        .get(*vm)
                        .is_some_and(|rt| rt.phase == Phase::Steady)
                    && self.pool.vm_by_name(vm).is_some_and(|v| {
                        let me = &self.pool.vms[v];
                        me.power.is_active() && self.pool.hosts[me.host].name == l.host
                    })
                    && self.answers(&l.host)
                    && self.hosts[&l.host].seen.contains(*vm)
            })
            .map(|(vm, l)| (vm.clone(), l.check_from))
            .collect()
    }

    /// Stuck VMs get another chance after capacity appeared.
    fn unstick(&mut self) {
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
    fn repend(&mut self, vm: &str) {
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
    fn waits_for_fence(&self, vm: &Vm) -> bool {
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
    fn reserved(&self, vm: &Vm) -> bool {
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
    fn planning_pool_full(&self, held: bool, reserve: bool, answering: bool) -> (Pool, HostId) {
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
                // nor (with `answering`) hosts that miss their probes.
                let missing = |h: HostId| {
                    answering
                        && self
                            .hosts
                            .get(&self.pool.hosts[h].name)
                            .is_some_and(|r| r.fails > 0 || r.unreachable_alerted)
                };
                let excluded =
                    |h: HostId| rt.tried.contains(&self.pool.hosts[h].name) || missing(h);
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
        // Room is kept for the protected VMs of hosts in their first fence
        // round: the plan covers every failed host, most important first.
        let reserving = self.pool.vms.iter().any(|v| self.reserved(v));
        // A host that misses its probes (not declared down yet) is no
        // target: a start there may not arrive, or die with the host.
        let missing = self.hosts.values().any(|h| {
            (h.fails > 0 || h.unreachable_alerted)
                && matches!(h.status, HostStatus::Up | HostStatus::Confirming { .. })
        });
        let (pp, virt) = self.planning_pool_full(false, reserving, true);
        let an = Analysis::new(&pp);
        // Exact within the check budget, else a plan of fixed effort
        // (the same on replay); placements the checker accepts either way.
        let (base, _) = self.checks.plan(&an, Scope::All);
        // VMs that only the kept room, or hosts that miss their probes,
        // leave without a target wait for that fence or those answers,
        // quietly.
        let waiting: BTreeSet<String> = if (reserving || missing) && !base.unplaced.is_empty() {
            let (open, _) = self.planning_pool_full(false, false, false);
            let (free, _) = self.checks.plan(&Analysis::new(&open), Scope::All);
            free.placements
                .iter()
                .map(|p| open.vms[p.vm].name.clone())
                .collect()
        } else {
            BTreeSet::new()
        };
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
            let t = self.checks.tolerance(&after, CheckUse::PlanTolerance);
            // Compared by what is proved; once a check runs out of its
            // budget, no further candidate is tried (the base plan, or the
            // best one decided, is kept).
            let k = t.lower;
            if best.as_ref().is_none_or(|(_, bk)| k > *bk) {
                best = Some((placements, k));
            }
            if !t.decided {
                break;
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
            if waiting.contains(&name) {
                self.vms.get_mut(&name).expect("known").phase = Phase::Stuck {
                    until: self.now.saturating_add(STUCK_RETRY_MS),
                };
                continue;
            }
            match pp.vms[u.vm].restart {
                Restart::Protected => {
                    let rt = self.vms.get_mut(&name).expect("known");
                    rt.phase = Phase::Stuck {
                        until: self.now.saturating_add(STUCK_RETRY_MS),
                    };
                    let attempts = rt.attempts;
                    let reason = match (&rt.last_error, rt.tried.is_empty()) {
                        (Some(e), false) => format!(
                            "every start failed on {} (last: {e}); {}",
                            rt.tried.join(", "),
                            u.reason
                        ),
                        _ => u.reason.clone(),
                    };
                    if let Some(e) = self.recovery.get_mut(&name) {
                        e.done_at = Some(self.now);
                        e.delay_ms = 0;
                    }
                    out.alerts.push(Alert::RestartFailed {
                        vm: name,
                        attempts,
                        reason,
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
                if self.late_landings.get(&vm).is_some_and(|l| l.host == from) {
                    // A start of it here may still land: the drain waits.
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
        // Requests that got no answer in time.
        self.deadlines
            .retain(|id, _| self.inflight.contains_key(id));
        let expired: Vec<ActionId> = self
            .deadlines
            .iter()
            .filter(|&(_, &d)| d <= self.now)
            .map(|(&id, _)| id)
            .collect();
        for id in expired {
            self.deadlines.remove(&id);
            if let Some(action) = self.inflight.remove(&id) {
                self.unanswered(action, out);
            }
        }
        // Reconciliation: done once every up host that answers listed its
        // VMs (or after RECONCILE_MAX_MS).
        if let Some(since) = self.reconciling {
            let missing: Vec<String> = self
                .hosts
                .iter()
                .filter(|(_, h)| h.status == HostStatus::Up && h.fails == 0 && !h.inventoried)
                .map(|(n, _)| n.clone())
                .collect();
            let deadline = since.saturating_add(RECONCILE_MAX_MS);
            if missing.is_empty() || self.now >= deadline {
                if !missing.is_empty() {
                    out.alerts
                        .push(Alert::ReconcileIncomplete { hosts: missing });
                }
                self.reconciling = None;
                self.dirty = true;
                out.notes.push(Note::Reconciled);
                // What a query found nowhere meanwhile is decided now: the
                // listings of every host that answers are in (a VM one of
                // them lists was taken where it runs). A start whose
                // outcome is unknown is made again on its host (where a
                // late landing can only meet itself) as it would be a
                // query interval later; any other VM is asked for again at
                // once.
                let now = self.now;
                for rt in self.vms.values_mut() {
                    if let Phase::Unknown {
                        id: None,
                        ask_at,
                        reconciled_away,
                        ..
                    } = &mut rt.phase
                        && *reconciled_away
                    {
                        *reconciled_away = false;
                        *ask_at = (*ask_at).min(now);
                    }
                }
                self.decide_all(out);
            } else {
                at(deadline);
            }
        }
        let acting = self.reconciling.is_none();
        // Isolation: fewer than half of the hosts not known off answer.
        let (reachable, total, unreachable) = self.electorate();
        if 2 * reachable < total {
            if !self.isolated {
                self.isolated = true;
                out.alerts.push(Alert::RuntimeIsolated {
                    reachable,
                    hosts: total,
                    unreachable,
                });
            }
        } else if self.isolated {
            self.isolated = false;
            out.notes.push(Note::IsolationEnded);
        }
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
                        let late = &mut self.hosts.get_mut(&host).expect("known").late;
                        late.insert(id, level);
                        while late.len() > LATE_FENCES_KEPT {
                            late.pop_first();
                        }
                        let agent = self.agent(&host, level);
                        self.fence_failed(&host, level, round, agent, "timed out".into(), out);
                    } else {
                        at(deadline);
                    }
                }
                HostStatus::FenceWait { round, until } => {
                    if self.now >= until {
                        self.hold_fence(&host, 0, round);
                    } else {
                        at(until);
                    }
                }
                HostStatus::FenceHold {
                    level,
                    round,
                    since,
                } => {
                    if acting && !self.isolated && self.heard_since(&host, since) {
                        self.start_fence(&host, level, round, out);
                        // Its deadline is a wake-up of this step too.
                        if let HostStatus::Fencing { deadline, .. } = self.hosts[&host].status {
                            at(deadline);
                        }
                    } else if self.unheard_since(&host, since) {
                        // Asked now, once each (a probe sent before `since`
                        // and answered since does not count).
                        self.next_probe = self.now;
                    }
                }
                _ => {}
            }
        }
        // A doubt carried by a start ends with the start.
        for rt in self.vms.values_mut() {
            if rt.doubt.is_some() && !matches!(rt.phase, Phase::Starting { .. }) {
                rt.doubt = None;
            }
        }
        let vms: Vec<(String, Phase, Option<Doubt>)> = self
            .vms
            .iter()
            .map(|(n, rt)| (n.clone(), rt.phase.clone(), rt.doubt))
            .collect();
        let mut doubtful = Vec::new();
        for (vm, phase, doubt) in vms {
            match phase {
                Phase::Starting { .. } => {
                    if let Some(Doubt {
                        since,
                        alerted: false,
                    }) = doubt
                    {
                        let due = since.saturating_add(IN_DOUBT_ALERT_MS);
                        if self.now >= due {
                            doubtful.push(vm);
                        } else {
                            at(due);
                        }
                    }
                }
                Phase::Retry {
                    host,
                    attempt,
                    until,
                } => {
                    if self.now >= until && acting {
                        self.start(&vm, &host, attempt + 1, out);
                    } else if self.now < until {
                        at(until);
                    }
                }
                Phase::Stuck { until } => {
                    if self.now >= until {
                        self.repend(&vm);
                    } else {
                        at(until);
                    }
                }
                Phase::Unknown {
                    id,
                    ask_at,
                    since,
                    alerted,
                    on,
                    attempt,
                    ..
                } => {
                    // A start whose outcome is unknown can only have made
                    // it run there: started there again (a start of a VM
                    // that runs there already succeeds), never elsewhere.
                    let again = on.filter(|t| {
                        self.hosts
                            .get(t)
                            .is_some_and(|r| r.status == HostStatus::Up && r.fails == 0)
                    });
                    if let (None, true, Some(t), true) = (id, self.now >= ask_at, &again, acting) {
                        self.start(&vm, t, attempt.saturating_add(1), out);
                        continue;
                    }
                    if id.is_none() {
                        if self.now >= ask_at {
                            let qid = self.id();
                            if let Phase::Unknown { id, .. } =
                                &mut self.vms.get_mut(&vm).expect("known").phase
                            {
                                *id = Some(qid);
                            }
                            self.emit(
                                Action::QueryVm {
                                    id: qid,
                                    vm: vm.clone(),
                                },
                                out,
                            );
                        } else {
                            at(ask_at);
                        }
                    }
                    let due = since.saturating_add(IN_DOUBT_ALERT_MS);
                    if !alerted && self.now >= due {
                        doubtful.push(vm);
                    } else if !alerted {
                        at(due);
                    }
                }
                _ => {}
            }
        }
        if !doubtful.is_empty() {
            for vm in &doubtful {
                let rt = self.vms.get_mut(vm).expect("known");
                if let Phase::Unknown { alerted, .. } = &mut rt.phase {
                    *alerted = true;
                }
                if let Some(d) = &mut rt.doubt {
                    d.alerted = true;
                }
                // The start groups after it stop waiting for it.
                if let Some(e) = self.recovery.get_mut(vm)
                    && e.done_at.is_none()
                {
                    e.done_at = Some(self.now);
                    e.delay_ms = 0;
                }
            }
            out.alerts.push(Alert::VmsInDoubt { vms: doubtful });
        }
        // Inventories due, of hosts that answer: asked for, periodic.
        let now = self.now;
        let mut due = Vec::new();
        for (name, h) in self.hosts.iter_mut() {
            let answering =
                matches!(h.status, HostStatus::Up | HostStatus::Returning { .. }) && h.fails == 0;
            if !answering {
                continue;
            }
            if h.status == HostStatus::Up && h.inventory_next <= now && !h.inventory {
                h.inventory = true;
            }
            if !h.inventory {
                at(h.inventory_next);
                continue;
            }
            if h.inventory_at > now {
                at(h.inventory_at);
                continue;
            }
            due.push(name.clone());
        }
        for host in due {
            let asked = self
                .inflight
                .values()
                .any(|a| matches!(a, Action::Inventory { host: h, .. } if *h == host));
            if !asked {
                let id = self.id();
                let rt = self.hosts.get_mut(&host).expect("known");
                rt.inventory_next = now.saturating_add(INVENTORY_INTERVAL_MS);
                self.emit(Action::Inventory { id, host }, out);
            }
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
                                | HostStatus::FenceWait { .. }
                                | HostStatus::Returning { .. }
                        )
                })
                .map(|(n, _)| n.clone())
                .collect();
            for host in due {
                let id = self.id();
                let rt = self.hosts.get_mut(&host).expect("known");
                rt.probe = Some(id);
                rt.probe_sent = now;
                self.emit(Action::Probe { id, host }, out);
            }
            self.next_probe = self
                .now
                .saturating_add(ms(self.pool.ha.check_interval_s).max(1));
        }
        at(self.next_probe);
        // Start pins whose VM runs where the start went: ended at the
        // start's deadline.
        for (vm, until) in self.start_pins_seen() {
            if self.now >= until {
                let pin = self.late_landings.remove(&vm).expect("pinned");
                out.notes.push(Note::LandingSeen { vm, host: pin.host });
            } else {
                at(until);
            }
        }
        // Restarts: only once reconciled.
        if acting {
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
                        | Phase::Stuck { .. }
                )
            })
        {
            self.recovery.clear();
        }
        if self.dirty {
            self.recalculate(out);
            self.dirty = false;
        }
        // The deadlines of every request in flight, those sent in this
        // step too.
        for &d in self.deadlines.values() {
            at(d);
        }
        out.wake_at = wake;
    }

    /// `action` got no answer within its deadline: an alert, and the safe
    /// reading of the silence.
    fn unanswered(&mut self, action: Action, out: &mut Output) {
        out.alerts.push(Alert::RequestUnanswered {
            action: action.clone(),
        });
        match action {
            Action::Probe { id, host } => {
                let rt = self.hosts.get_mut(&host).expect("known");
                if rt.probe == Some(id) {
                    rt.probe = None;
                    let sent = rt.probe_sent;
                    self.health(&host, false, sent, out);
                }
            }
            Action::AskPeer { id, host, peer } => self.peer_answer(&host, id, &peer, None, out),
            Action::Fence { .. } => {}
            Action::StartVm { id, vm, host, .. } => {
                let now = self.now;
                self.start_in_doubt(id, &vm, &host, now, out);
                // Its answer may still come, late: that ends the pin.
                if let Some(l) = self.late_landings.get_mut(&vm)
                    && l.id == id
                {
                    l.answer_due = true;
                }
            }
            Action::Migrate { id, vm, from, to } => {
                if matches!(self.vms[&vm].phase, Phase::Migrating { id: x, .. } if x == id) {
                    self.migration_in_doubt(id, &vm, &from, &to, 0, out);
                    out.alerts.push(Alert::MigrationInDoubt { vm, from, to });
                }
            }
            Action::QueryVm { id, vm } => self.ask_again(id, &vm),
            Action::Inventory { host, .. } => self.inventory_failed(&host),
            Action::StopVm { host, .. } => {
                let rt = self.hosts.get_mut(&host).expect("known");
                rt.inventory = true;
                rt.inventory_at = 0;
            }
        }
    }

    /// Recomputes the tolerance and raises what changed.
    fn recalculate(&mut self, out: &mut Output) {
        let (pp, _) = self.planning_pool();
        let report = self.checks.tolerance(&pp, CheckUse::Tolerance);
        // Undecided within the budget: only what was proved is claimed.
        let now = Known {
            configured: report.configured,
            max_tolerable: report.lower,
            stranded_now: report.stranded_now,
            upper_bound: (!report.decided && report.upper != report.lower).then_some(report.upper),
        };
        let was = self.known.clone();
        let upper = |k: &Known| k.upper_bound.unwrap_or(k.max_tolerable);
        // Proved short: VMs of hosts down stranded, or a failing set of at
        // most k hosts found.
        let overcommitted = |k: &Known| k.stranded_now || upper(k) < k.configured;
        // Not proved either way.
        let short_undecided = |k: &Known| {
            !k.stranded_now && k.max_tolerable < k.configured && upper(k) >= k.configured
        };
        if was.as_ref() != Some(&now) {
            out.notes.push(Note::Tolerance {
                configured: now.configured,
                max_tolerable: now.max_tolerable,
                upper_bound: now.upper_bound,
            });
        }
        if short_undecided(&now)
            && was.as_ref().is_none_or(|w| {
                !short_undecided(w)
                    || w.configured != now.configured
                    || (w.max_tolerable, upper(w)) != (now.max_tolerable, upper(&now))
            })
        {
            out.alerts.push(Alert::ToleranceUndecided {
                configured: now.configured,
                lower: now.max_tolerable,
                upper: upper(&now),
                reason: "the exact check did not decide within its time budget".into(),
            });
        }
        if let Some(w) = &was {
            // A drop is claimed only when the new tolerance is exact (and
            // below the tolerance proved before).
            if now.upper_bound.is_none() && now.max_tolerable < w.max_tolerable {
                out.alerts.push(Alert::ToleranceDropped {
                    from: w.max_tolerable,
                    to: now.max_tolerable,
                });
            }
        }
        let newly_over = overcommitted(&now)
            && was.as_ref().is_none_or(|w| {
                !overcommitted(w) || w.configured != now.configured || upper(&now) < upper(w)
            });
        if newly_over {
            let w = report.witness.as_ref();
            out.alerts.push(Alert::Overcommitted {
                configured: now.configured,
                max_tolerable: now.max_tolerable,
                failed_hosts: w.map(|w| w.failed_hosts.clone()).unwrap_or_default(),
                stranded_vms: w.map(|w| w.stranded_vms.clone()).unwrap_or_default(),
                reason: w.map(|w| w.reason.clone()).unwrap_or_default(),
            });
        }
        if upper(&now) == 0 && was.as_ref().is_none_or(|w| upper(w) > 0) {
            out.alerts.push(Alert::ZeroTolerable);
        }
        // Restored only when proved: k guaranteed after it was not.
        let guaranteed = |k: &Known| !overcommitted(k) && !short_undecided(k);
        if guaranteed(&now) && was.as_ref().is_some_and(|w| !guaranteed(w)) {
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

fn action_names_host(a: &Action, name: &str) -> bool {
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
