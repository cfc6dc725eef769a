//! The runtime's state and its reaction to each event.
//!
//! Here: the state, the public API and the dispatch (`handle` checks an
//! answer against its action, hands each event to the concern that takes
//! it, then settles). Each concern is a submodule with its part of
//! `impl Runtime`, bottom up: `model` (the pool kept in step with its
//! file, action bookkeeping) and `planning` (the planning pool); `fence`;
//! `detect` and `reconcile`; `restart`, `maintenance`, `changes` (VMs and
//! hosts changed from outside) and `recalc`; `admission` and `settle`
//! (what follows every event). A concern calls only those below it
//! (`tests/layering.rs`).

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

mod admission;
mod changes;
mod detect;
mod fence;
mod maintenance;
mod model;
mod planning;
mod recalc;
mod reconcile;
mod restart;
mod settle;

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
        /// Held by a resumed runtime: its fence was in flight when the
        /// runtime stopped (tried, its outcome lost). Probed while held,
        /// and back if it answers, as after a failed fence.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        resumed: bool,
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
    /// Held after a failed fence (`FenceHold`): when the first probe of
    /// it sent since the hold began was seen to fail. The next fence
    /// waits for the pool to answer probes sent after that: a runtime cut
    /// off from the pool meanwhile (its silence may be the runtime's own)
    /// does not shoot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    silent_seen: Option<Millis>,
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

impl HostStatus {
    /// Waiting to send a fence request after one of this host's fences
    /// failed (the next level, or the next round after the backoff), as
    /// opposed to its first request (after an outside monitor's
    /// `host_down`), or one that a resumed runtime sends again (its fence
    /// was in flight when the runtime stopped): such a host that answers a
    /// probe is back, as from `FenceWait`; an outside monitor's word is
    /// kept until a fence has been tried.
    fn held_after_a_failed_fence(&self) -> bool {
        matches!(self, HostStatus::FenceHold { level, round, resumed, .. }
            if *level > 0 || *round > 0 || *resumed)
    }
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
            silent_seen: None,
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
        /// `migration` answered late that it failed, at this action id: the
        /// VM is on the migration's source or nowhere, and a listing of the
        /// source asked from then on that lacks it makes it `missing`
        /// (docs/runtime.md, "A migration is never assumed failed either").
        #[serde(default, skip_serializing_if = "Option::is_none")]
        failed_late: Option<ActionId>,
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
    /// Stops of duplicate copies that got no answer in time (or were in
    /// flight when the runtime stopped), by VM and host: their ids. Such a
    /// stop may still land: that copy is never the one a later decision
    /// keeps (it would stop every copy), until a listing of its host asked
    /// after the stop lacks the VM, the stop's late answer comes, or the
    /// host is confirmed off or removed.
    late_stops: BTreeMap<String, BTreeMap<String, BTreeSet<ActionId>>>,
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
    /// Its first recalculation has the default check budget
    /// ([`crate::DEFAULT_CHECK_BUDGET`]): a check that does not decide
    /// within it is in the output's `undecided`, which a log keeps in its
    /// first line ([`crate::log::Journal::begin`]).
    pub fn new(doc: Value, now: Millis) -> Result<(Runtime, Output), RuntimeError> {
        Runtime::new_checked(doc, now, Some(crate::DEFAULT_CHECK_BUDGET), None)
    }

    /// [`Runtime::new`] with the check budget `budget` from the start (see
    /// [`Runtime::set_check_budget`]).
    pub fn with_check_budget(
        doc: Value,
        now: Millis,
        budget: Option<std::time::Duration>,
    ) -> Result<(Runtime, Output), RuntimeError> {
        Runtime::new_checked(doc, now, budget, None)
    }

    /// [`Runtime::new`] for a log being replayed: the first
    /// recalculation's checks that did not decide within their budget when
    /// the log began (its first line's `undecided`) take their logged
    /// outcome, the others run to the end (see [`crate::budget`]).
    pub fn replay_new(
        doc: Value,
        now: Millis,
        undecided: &[Undecided],
    ) -> Result<(Runtime, Output), RuntimeError> {
        Runtime::new_checked(
            doc,
            now,
            Some(crate::DEFAULT_CHECK_BUDGET),
            Some(undecided.to_vec()),
        )
    }

    fn new_checked(
        doc: Value,
        now: Millis,
        budget: Option<std::time::Duration>,
        logged: Option<Vec<Undecided>>,
    ) -> Result<(Runtime, Output), RuntimeError> {
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
            late_stops: BTreeMap::new(),
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
        rt.checks.set_budget(budget);
        rt.checks.begin(logged);
        rt.settle(&mut out);
        out.undecided = rt.checks.end();
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
            "late_stops": self.late_stops,
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
            late_stops: match state.get("late_stops") {
                Some(_) => field(state, "late_stops")?,
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

    fn event(&mut self, event: &Event, out: &mut Output) -> Result<(), RuntimeError> {
        match event {
            Event::Tick => {}
            Event::VmStarted {
                vm,
                host,
                definition,
            } => self.vm_started(vm, host, definition.as_ref())?,
            Event::VmStopped { vm } => self.vm_stopped(vm)?,
            Event::VmCrashed { vm } => {
                let v = self.vm_id(vm)?;
                self.crashed(v, out);
            }
            Event::VmMigrated { vm, host } => self.vm_migrated(vm, host)?,
            Event::VmResized { vm, demand } => self.vm_resized(vm, demand)?,
            Event::VmPriorityChanged {
                vm,
                priority,
                restart,
            } => self.vm_priority_changed(vm, *priority, *restart)?,
            Event::HostAdded { host } => self.host_added(host)?,
            Event::HostRemoved { host } => self.host_removed(host)?,
            Event::HostUp { host } => self.host_up(host, out)?,
            Event::HostDown { host } => self.host_down(host, out)?,
            Event::HostMaintenance { host, enter } => {
                let h = self.host_id(host)?;
                self.maintenance(h, *enter, out)?;
            }
            Event::HealthCheck {
                id,
                host,
                ping,
                api,
            } => self.health_answered(*id, host, *ping, *api, out),
            Event::PeerCheck {
                id,
                host,
                peer,
                reachable,
                error,
            } => self.peer_answered(*id, host, peer, *reachable, error.as_deref(), out),
            Event::FenceResult {
                id,
                host,
                off,
                error,
            } => self.fence_answered(*id, host, *off, error.as_deref(), out),
            Event::FenceConfirmed { host } => self.fence_confirmed(host, out)?,
            Event::VmStartResult {
                id,
                vm,
                host,
                ok,
                error,
                in_doubt,
            } => self.start_answered(*id, vm, host, *ok, error.as_deref(), *in_doubt, out),
            Event::VmStopResult {
                id,
                vm,
                host,
                ok,
                error,
            } => self.stop_answered(*id, vm, host, *ok, error.as_deref(), out),
            Event::MigrateResult {
                id,
                vm,
                host,
                ok,
                error,
            } => self.migrate_answered(*id, vm, host, *ok, error.as_deref(), out),
            Event::VmStatus {
                id,
                vm,
                host,
                error,
            } => self.status_answered(*id, vm, host.as_deref(), error.is_some(), out)?,
            Event::Inventory {
                id,
                host,
                vms,
                error,
                demand,
            } => self.inventory_answered(*id, host, vms, error.is_some(), demand, out),
            Event::ConfigChanged { ha } => self.config_changed(ha)?,
            Event::Restarted => self.restarted(out),
            Event::OperationProceeded { operation } => {
                out.notes.push(Note::Proceeded {
                    operation: operation.clone(),
                });
            }
        }
        Ok(())
    }
}
