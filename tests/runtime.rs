//! Unit tests of the HA runtime's state machine (`haplan_runtime`), driven
//! by hand one event at a time: detection, fencing, ordered restarts,
//! tolerance alerts, admission, the log, maintenance and failback, and
//! refused events. The seeded simulation (`simulation.rs`) checks the
//! invariants at large; these pin down each behaviour precisely.

use std::io::Cursor;

use haplan::model::{HostState, Power};
use haplan_runtime::log::{self, Journal, LogError};
use haplan_runtime::{
    Action, Admission, Alert, Event, Input, Millis, Note, Operation, Output, Runtime, RuntimeError,
};
use serde_json::{Value, json};

/// `machine::SETTLE_MS` (not exported): how long a recovered runtime waited
/// before it settled a VM whose start was in flight (now settled by the
/// reconciliation, without that wait).
const SETTLE_MS: Millis = 60_000;
/// `machine::FENCE_BACKOFF_MS` and `FENCE_BACKOFF_MAX_MS`.
const FENCE_BACKOFF_MS: Millis = 5_000;
const FENCE_BACKOFF_MAX_MS: Millis = 300_000;
/// `machine::FENCE_GRACE_MS`.
const FENCE_GRACE_MS: Millis = 5_000;

// ---- pools ----

/// A host of `mem` memory with two fence levels whose parameters hold
/// secrets that must never be written down.
fn host(name: &str, mem: i64) -> Value {
    json!({
        "name": name,
        "capacity": {"mem": mem},
        "fencing": [
            {"agent": "fence_ipmilan",
             "params": {"ip": "10.0.0.1", "password": format!("ipmi-secret-{name}")}},
            {"agent": "fence_pdu",
             "params": {"login": "apc", "password": format!("pdu-secret-{name}")}}
        ]
    })
}

fn vm(name: &str, host: &str, mem: i64) -> Value {
    json!({"name": name, "host": host, "demand": {"mem": mem}})
}

/// `v` with the fields of `extra` set.
fn with(mut v: Value, extra: Value) -> Value {
    for (k, x) in extra.as_object().expect("an object") {
        v[k] = x.clone();
    }
    v
}

fn pool(ha: Value, hosts: Vec<Value>, vms: Vec<Value>) -> Value {
    let base = json!({
        "host_failures_to_tolerate": 1,
        "failure_threshold": 3,
        "check_interval_s": 10,
        "restart_retries": 2,
        "retry_interval_s": 10,
        "fence_timeout_s": 20
    });
    json!({"name": "test", "ha": with(base, ha), "hosts": hosts, "vms": vms})
}

/// Three hosts of 100; h1 runs a protected VM per order group (`a` with a
/// start delay of 30 s, `a2`, `b`), a best-effort and an unprotected one.
fn three_hosts(ha: Value) -> Value {
    pool(
        ha,
        vec![host("h1", 100), host("h2", 100), host("h3", 100)],
        vec![
            with(vm("a", "h1", 10), json!({"order": 0, "start_delay_s": 30})),
            with(vm("a2", "h1", 10), json!({"order": 0})),
            with(vm("b", "h1", 10), json!({"order": 1})),
            with(vm("be", "h1", 10), json!({"restart": "best_effort"})),
            with(vm("un", "h1", 10), json!({"restart": "unprotected"})),
            vm("c", "h2", 10),
            vm("d", "h3", 10),
        ],
    )
}

/// Two hosts of 100: x (60) on h1, y (30) on h2. Tolerates exactly 1; an
/// unprotected VM of 30 more on h2 leaves no room for x.
fn two_hosts() -> Value {
    pool(
        json!({}),
        vec![host("h1", 100), host("h2", 100)],
        vec![vm("x", "h1", 60), vm("y", "h2", 30)],
    )
}

/// Three hosts of 100, each running a VM of 40: tolerates 1, but not with
/// one host out of service (two VMs of 40 on a host, 60 spare on the last).
fn tight_three() -> Value {
    pool(
        json!({}),
        vec![host("h1", 100), host("h2", 100), host("h3", 100)],
        vec![vm("x", "h1", 40), vm("y", "h2", 40), vm("z", "h3", 40)],
    )
}

const SECRETS: &[&str] = &["ipmi-secret-", "pdu-secret-", "added-secret-42"];

// ---- driving the runtime ----

/// A runtime driven by hand: every step is journaled, every output and the
/// state after it kept.
struct Driver {
    rt: Runtime,
    outs: Vec<Output>,
    states: Vec<Value>,
    journal: Journal<Vec<u8>>,
}

impl Driver {
    fn new(doc: Value) -> Driver {
        let (rt, out) = Runtime::new(doc.clone(), 0).expect("a valid pool");
        let journal = Journal::start(Vec::new(), &doc, 0).expect("in memory");
        let states = vec![rt.state_json()];
        let mut d = Driver {
            rt,
            outs: vec![out],
            states,
            journal,
        };
        // Reconciliation: every host lists what the pool file says it runs.
        d.answer_inventories(0);
        d
    }

    /// [`Driver::new`], the first probes answered too (every host up), so
    /// that no request is in flight.
    fn settled(doc: Value) -> Driver {
        let mut d = Driver::new(doc);
        d.answer_probes(0, &[]);
        d
    }

    /// Answers every inventory in flight with the VMs the runtime's pool
    /// has running or paused on that host.
    fn answer_inventories(&mut self, at: Millis) -> Vec<Output> {
        let asked: Vec<(u64, String)> = self
            .rt
            .in_flight()
            .filter_map(|a| match a {
                Action::Inventory { id, host } => Some((*id, host.clone())),
                _ => None,
            })
            .collect();
        asked
            .into_iter()
            .map(|(id, host)| {
                let pool = self.rt.pool();
                let h = pool.host_by_name(&host).expect("known");
                let vms = pool
                    .vms
                    .iter()
                    .filter(|v| v.host == h && v.power.is_active())
                    .map(|v| v.name.clone())
                    .collect();
                self.feed(
                    at,
                    Event::Inventory {
                        id,
                        host,
                        vms,
                        error: None,
                        demand: Default::default(),
                    },
                )
            })
            .collect()
    }

    /// Goes on with a recovered runtime (its first output given).
    fn resume(rt: Runtime, first: Output, journal: Journal<Vec<u8>>) -> Driver {
        let at = rt.now();
        let mut d = Driver::resume_unreconciled(rt, first, journal);
        // Reconciliation: the hosts list what the runtime's record says.
        d.answer_inventories(at);
        d
    }

    /// [`Driver::resume`] with the inventories left for the test to answer.
    fn resume_unreconciled(rt: Runtime, first: Output, journal: Journal<Vec<u8>>) -> Driver {
        let states = vec![rt.state_json()];
        Driver {
            rt,
            outs: vec![first],
            states,
            journal,
        }
    }

    fn try_feed(&mut self, at: Millis, event: Event) -> Result<Output, RuntimeError> {
        let input = Input { at, event };
        let out = self.rt.handle(&input)?;
        // HAPLAN_TRACE=1 prints every step as `haplan run` would.
        if std::env::var_os("HAPLAN_TRACE").is_some() {
            for line in haplan_runtime::text::step_lines(&input, &out, true) {
                eprintln!("{line}");
            }
        }
        self.journal.append(&input, &out).expect("in memory");
        self.outs.push(out.clone());
        self.states.push(self.rt.state_json());
        Ok(out)
    }

    fn feed(&mut self, at: Millis, event: Event) -> Output {
        let shown = format!("{event:?}");
        self.try_feed(at, event)
            .unwrap_or_else(|e| panic!("{shown} refused: {e}"))
    }

    fn tick(&mut self, at: Millis) -> Output {
        self.feed(at, Event::Tick)
    }

    /// Answers every probe in flight: the hosts in `failing` do not answer.
    fn answer_probes(&mut self, at: Millis, failing: &[&str]) -> Vec<Output> {
        let probes: Vec<(u64, String)> = self
            .rt
            .in_flight()
            .filter_map(|a| match a {
                Action::Probe { id, host } => Some((*id, host.clone())),
                _ => None,
            })
            .collect();
        probes
            .into_iter()
            .map(|(id, host)| {
                let ok = !failing.contains(&host.as_str());
                self.feed(
                    at,
                    Event::HealthCheck {
                        id,
                        host,
                        ping: ok,
                        api: ok,
                    },
                )
            })
            .collect()
    }

    /// A tick at `at` and the answers to the probes it (or earlier steps)
    /// sent.
    fn round(&mut self, at: Millis, failing: &[&str]) -> Vec<Output> {
        let mut outs = vec![self.tick(at)];
        outs.extend(self.answer_probes(at, failing));
        outs.extend(self.answer_inventories(at));
        outs
    }

    /// The fence in flight for `host`: (id, level, agent).
    fn fence_in_flight(&self, host: &str) -> (u64, usize, String) {
        let f: Vec<_> = self
            .rt
            .in_flight()
            .filter_map(|a| match a {
                Action::Fence {
                    id,
                    host: h,
                    level,
                    agent,
                } if h == host => Some((*id, *level, agent.clone())),
                _ => None,
            })
            .collect();
        assert_eq!(f.len(), 1, "one fence of {host} in flight: {f:?}");
        f[0].clone()
    }

    fn fence(&mut self, at: Millis, host: &str, off: bool) -> Output {
        let (id, _, _) = self.fence_in_flight(host);
        self.feed(
            at,
            Event::FenceResult {
                id,
                host: host.into(),
                off,
                error: (!off).then(|| "the BMC did not answer".into()),
            },
        )
    }

    /// The start of `vm` in flight: (id, host, attempt).
    fn start_in_flight(&self, vm: &str) -> (u64, String, u32) {
        let s: Vec<_> = self
            .rt
            .in_flight()
            .filter_map(|a| match a {
                Action::StartVm {
                    id,
                    vm: v,
                    host,
                    attempt,
                } if v == vm => Some((*id, host.clone(), *attempt)),
                _ => None,
            })
            .collect();
        assert_eq!(s.len(), 1, "one start of {vm} in flight: {s:?}");
        s[0].clone()
    }

    fn start_result(&mut self, at: Millis, vm: &str, ok: bool) -> Output {
        let (id, host, _) = self.start_in_flight(vm);
        self.feed(
            at,
            Event::VmStartResult {
                id,
                vm: vm.into(),
                host,
                ok,
                error: (!ok).then(|| "no such luck".into()),
                in_doubt: false,
            },
        )
    }

    fn migrate_in_flight(&self) -> Vec<(u64, String, String, String)> {
        self.rt
            .in_flight()
            .filter_map(|a| match a {
                Action::Migrate { id, vm, from, to } => {
                    Some((*id, vm.clone(), from.clone(), to.clone()))
                }
                _ => None,
            })
            .collect()
    }

    /// Answers migration `id` of `vm` at `at`: it succeeded, `vm` runs on
    /// `to`.
    fn migrated(&mut self, at: Millis, id: u64, vm: &str, to: &str) -> Output {
        self.migrate_answer(at, id, vm, to, None)
    }

    /// Answers migration `id` of `vm` to `to` at `at`: it failed.
    fn migration_failed(&mut self, at: Millis, id: u64, vm: &str, to: &str) -> Output {
        self.migrate_answer(at, id, vm, to, Some("migration failed"))
    }

    /// Answers migration `id` of `vm` to `to`: it succeeded, or failed with
    /// `error`.
    fn migrate_answer(
        &mut self,
        at: Millis,
        id: u64,
        vm: &str,
        to: &str,
        error: Option<&str>,
    ) -> Output {
        self.feed(
            at,
            Event::MigrateResult {
                id,
                vm: vm.to_string(),
                host: to.to_string(),
                ok: error.is_none(),
                error: error.map(String::from),
            },
        )
    }

    /// Answers the migrations in flight one at a time, a second apart from
    /// `at`, each a success, until none is left (those the answers lead to
    /// included). Returns the time of the last answer.
    fn migrate_all(&mut self, mut at: Millis) -> Millis {
        while let Some((id, vm, _, to)) = self.migrate_in_flight().first().cloned() {
            at += 1_000;
            self.migrated(at, id, &vm, &to);
        }
        at
    }

    /// Answers the probes in flight, and those their answers make the
    /// runtime send (before each fence request after the first of a host,
    /// it hears from the pool afresh): every host answers but those in
    /// `failing`. The outputs merged.
    fn hear(&mut self, at: Millis, failing: &[&str]) -> Output {
        let mut outs = Vec::new();
        for _ in 0..3 {
            let o = self.answer_probes(at, failing);
            if o.is_empty() {
                break;
            }
            outs.extend(o);
        }
        merged(outs)
    }

    /// The fence in flight of `host` fails, and the pool answers the
    /// runtime's probes (every host but `host`): the outputs merged.
    fn fence_fails(&mut self, at: Millis, host: &str) -> Output {
        let first = self.fence(at, host, false);
        let heard = self.hear(at, &[host]);
        merged([first, heard])
    }

    /// One step at `at` of a pool where the hosts in `quiet` answer no
    /// probe, `silent` among them never confirmed off (its fences fail): a
    /// tick, the probes answered, every query answered "not known" (naming
    /// `silent`), every inventory as `listing` says (`None`: it fails).
    fn step_while_silent(
        &mut self,
        at: Millis,
        silent: &str,
        quiet: &[&str],
        listing: impl Fn(&str) -> Option<Vec<String>>,
    ) {
        self.tick(at);
        self.hear(at, quiet);
        let asked: Vec<Action> = self.rt.in_flight().cloned().collect();
        for a in asked {
            match a {
                Action::QueryVm { id, vm } => {
                    self.feed(
                        at + 1,
                        Event::VmStatus {
                            id,
                            vm,
                            host: None,
                            error: Some(format!("{silent} does not answer")),
                        },
                    );
                }
                Action::Fence { host, .. } if host == silent => {
                    self.fence(at + 1, silent, false);
                    self.hear(at + 1, quiet);
                }
                Action::Inventory { id, host } => {
                    let vms = listing(&host);
                    let error = vms.is_none().then(|| "no route to host".into());
                    self.feed(
                        at + 2,
                        Event::Inventory {
                            id,
                            host,
                            vms: vms.unwrap_or_default(),
                            error,
                            demand: Default::default(),
                        },
                    );
                }
                _ => {}
            }
        }
    }

    /// A tick at `at`, and the pool answers the runtime's probes (every
    /// host but `failing`): the outputs merged.
    fn tick_heard(&mut self, at: Millis, failing: &[&str]) -> Output {
        let first = self.tick(at);
        let heard = self.hear(at, failing);
        merged([first, heard])
    }

    /// An outside monitor says `host` is down, and the pool (every host
    /// not declared down) answers the probes the runtime sends before it
    /// fences on that word: the outputs merged.
    fn monitor_down(&mut self, at: Millis, host: &str) -> Output {
        self.monitor_down_while(at, host, &[])
    }

    /// [`Driver::monitor_down`], the hosts in `silent` not answering
    /// either.
    fn monitor_down_while(&mut self, at: Millis, host: &str, silent: &[&str]) -> Output {
        let first = self.feed(at, Event::HostDown { host: host.into() });
        let down: Vec<String> = self
            .rt
            .host_statuses()
            .into_iter()
            .filter(|(n, s)| !matches!(*s, "up" | "returning") || silent.contains(&n.as_str()))
            .map(|(n, _)| n)
            .collect();
        let failing: Vec<&str> = down.iter().map(String::as_str).collect();
        let heard = self.hear(at, &failing);
        merged([first, heard])
    }

    /// Declares `host` down (an outside monitor) and confirms the fence.
    fn fail_host(&mut self, at: Millis, host: &str) -> Output {
        self.monitor_down(at, host);
        self.fence(at, host, true)
    }

    fn log_text(&self) -> String {
        String::from_utf8(self.journal.get_ref().clone()).expect("utf-8")
    }
}

// ---- looking at outputs ----

/// The outputs of several steps as one.
fn merged(outs: impl IntoIterator<Item = Output>) -> Output {
    let mut m = Output::default();
    for o in outs {
        m.actions.extend(o.actions);
        m.alerts.extend(o.alerts);
        m.notes.extend(o.notes);
        m.wake_at = o.wake_at;
    }
    m
}

/// (vm, host, attempt) of every start in `outs`.
fn starts(outs: &[Output]) -> Vec<(String, String, u32)> {
    outs.iter()
        .flat_map(|o| &o.actions)
        .filter_map(|a| match a {
            Action::StartVm {
                vm, host, attempt, ..
            } => Some((vm.clone(), host.clone(), *attempt)),
            _ => None,
        })
        .collect()
}

fn started_vms(outs: &[Output]) -> Vec<String> {
    let mut v: Vec<String> = starts(outs).into_iter().map(|s| s.0).collect();
    v.sort();
    v
}

/// (host, level, agent) of every fence in `outs`.
fn fences(outs: &[Output]) -> Vec<(String, usize, String)> {
    outs.iter()
        .flat_map(|o| &o.actions)
        .filter_map(|a| match a {
            Action::Fence {
                host, level, agent, ..
            } => Some((host.clone(), *level, agent.clone())),
            _ => None,
        })
        .collect()
}

fn alerts(outs: &[Output]) -> Vec<Alert> {
    outs.iter().flat_map(|o| o.alerts.clone()).collect()
}

fn notes(outs: &[Output]) -> Vec<Note> {
    outs.iter().flat_map(|o| o.notes.clone()).collect()
}

fn asks(outs: &[Output]) -> Vec<(u64, String, String)> {
    outs.iter()
        .flat_map(|o| &o.actions)
        .filter_map(|a| match a {
            Action::AskPeer { id, host, peer } => Some((*id, host.clone(), peer.clone())),
            _ => None,
        })
        .collect()
}

fn declared_down(outs: &[Output]) -> Vec<(String, Option<String>)> {
    notes(outs)
        .into_iter()
        .filter_map(|n| match n {
            Note::HostDeclaredDown {
                host, confirmed_by, ..
            } => Some((host, confirmed_by)),
            _ => None,
        })
        .collect()
}

fn vm_host(rt: &Runtime, vm: &str) -> String {
    let p = rt.pool();
    let v = p.vm_by_name(vm).expect("known VM");
    p.hosts[p.vms[v].host].name.clone()
}

fn vm_power(rt: &Runtime, vm: &str) -> Power {
    let p = rt.pool();
    p.vms[p.vm_by_name(vm).expect("known VM")].power
}

fn host_state(rt: &Runtime, host: &str) -> HostState {
    let p = rt.pool();
    p.hosts[p.host_by_name(host).expect("known host")].state
}

/// The index of the first output that starts a VM of `vms`.
fn first_start_of(outs: &[Output], vms: &[&str]) -> Option<usize> {
    outs.iter().position(|o| {
        o.actions
            .iter()
            .any(|a| matches!(a, Action::StartVm { vm, .. } if vms.contains(&vm.as_str())))
    })
}

const H1_RESTARTED: &[&str] = &["a", "a2", "b", "be"];

// ---- 1. detection ----

#[test]
fn host_declared_down_after_threshold_consecutive_failures_and_a_peer() {
    let mut d = Driver::new(three_hosts(json!({})));
    // Probes of every host went out at t = 0.
    d.answer_probes(0, &["h1"]); // 1
    d.round(10_000, &["h1"]); // 2
    d.round(20_000, &[]); // an answer: the count starts over
    d.round(30_000, &["h1"]); // 1
    d.round(40_000, &["h1"]); // 2
    assert!(asks(&d.outs).is_empty(), "asked a peer before 3 in a row");
    assert!(declared_down(&d.outs).is_empty());
    let outs = d.round(50_000, &["h1"]); // 3
    let suspect: Vec<u32> = notes(&d.outs)
        .into_iter()
        .filter_map(|n| match n {
            Note::HostSuspect { host, failures } if host == "h1" => Some(failures),
            _ => None,
        })
        .collect();
    assert_eq!(suspect, [1, 2, 1, 2, 3]);
    let ask = asks(&outs);
    assert_eq!(ask.len(), 1, "{ask:?}");
    let (id, h, peer) = ask[0].clone();
    assert_eq!(h, "h1");
    assert_ne!(peer, "h1");
    // Not down, not fenced until the peer answers.
    assert!(declared_down(&d.outs).is_empty());
    assert!(fences(&d.outs).is_empty());
    let out = d.feed(
        50_100,
        Event::PeerCheck {
            id,
            host: "h1".into(),
            peer: peer.clone(),
            reachable: false,
            error: None,
        },
    );
    assert_eq!(
        declared_down(std::slice::from_ref(&out)),
        [("h1".to_string(), Some(peer))]
    );
    assert_eq!(
        fences(std::slice::from_ref(&out)),
        [("h1".to_string(), 0, "fence_ipmilan".to_string())]
    );
    assert_eq!(host_state(&d.rt, "h1"), HostState::Down);
    assert!(starts(&d.outs).is_empty(), "started before the fence");
}

#[test]
fn peer_that_still_reaches_the_host_means_no_fence_and_one_alert() {
    let mut d = Driver::new(three_hosts(json!({})));
    let mut t = 0;
    let episode = |d: &mut Driver, t: &mut Millis| -> Vec<Output> {
        // Three failures in a row, then the peer still reaches it.
        let mut outs = Vec::new();
        for _ in 0..3 {
            *t += 10_000;
            outs.extend(d.round(*t, &["h1"]));
        }
        let ask = asks(&outs);
        assert_eq!(ask.len(), 1, "{ask:?}");
        let (id, host, peer) = ask[0].clone();
        outs.push(d.feed(
            *t,
            Event::PeerCheck {
                id,
                host,
                peer,
                reachable: true,
                error: None,
            },
        ));
        outs
    };
    d.answer_probes(t, &[]);
    let first = episode(&mut d, &mut t);
    let unreachable = |outs: &[Output]| {
        alerts(outs)
            .into_iter()
            .filter(|a| matches!(a, Alert::HostUnreachable { host, .. } if host == "h1"))
            .count()
    };
    assert_eq!(unreachable(&first), 1);
    // Still unreachable: asked again, but not alerted again.
    let second = episode(&mut d, &mut t);
    assert_eq!(unreachable(&second), 0);
    assert!(fences(&d.outs).is_empty());
    assert!(declared_down(&d.outs).is_empty());
    assert!(starts(&d.outs).is_empty());
    assert_eq!(host_state(&d.rt, "h1"), HostState::Up);
    // Once it answers again, a new episode is a new alert.
    t += 10_000;
    d.round(t, &[]);
    let third = episode(&mut d, &mut t);
    assert_eq!(unreachable(&third), 1);
}

// ---- 2. fencing ----

#[test]
fn fence_levels_in_order_and_no_start_before_off() {
    let mut d = Driver::new(three_hosts(json!({})));
    let out = d.monitor_down(1_000, "h1");
    assert_eq!(
        fences(&[out]),
        [("h1".to_string(), 0, "fence_ipmilan".to_string())]
    );
    let out = d.fence_fails(2_000, "h1");
    assert!(
        out.notes
            .iter()
            .any(|n| matches!(n, Note::FenceFailed { host, level: 0, .. } if host == "h1"))
    );
    assert_eq!(
        fences(std::slice::from_ref(&out)),
        [("h1".to_string(), 1, "fence_pdu".to_string())]
    );
    // Time passes, probes come and go: nothing of h1 starts meanwhile.
    d.round(10_000, &["h1"]);
    assert!(starts(&d.outs).is_empty(), "a VM started before the fence");
    let confirmed_at = d.outs.len();
    let out = d.fence(12_000, "h1", true);
    assert!(out.notes.contains(&Note::HostFenced {
        host: "h1".into(),
        agent: Some("fence_pdu".into()),
    }));
    assert!(!starts(std::slice::from_ref(&out)).is_empty());
    assert_eq!(first_start_of(&d.outs, H1_RESTARTED), Some(confirmed_at));
}

#[test]
fn every_level_failing_backs_off_and_is_retried_forever() {
    let mut d = Driver::settled(three_hosts(json!({"check_interval_s": 100_000})));
    let mut now = 1_000;
    d.monitor_down(now, "h1");
    let mut last_wait = 0;
    for round in 1..=12u32 {
        let first = d.fence_fails(now, "h1");
        assert!(
            first.alerts.is_empty(),
            "round {round}: alerted after level 0"
        );
        let out = d.fence(now, "h1", false);
        let failed: Vec<(u32, Millis)> = out
            .alerts
            .iter()
            .filter_map(|a| match a {
                Alert::FencingFailed {
                    host,
                    round,
                    retry_at,
                    ..
                } if host == "h1" => Some((*round, *retry_at)),
                _ => None,
            })
            .collect();
        assert_eq!(failed.len(), 1, "round {round}: {out:?}");
        let (r, retry_at) = failed[0];
        assert_eq!(r, round);
        let wait = retry_at - now;
        let expected = (FENCE_BACKOFF_MS << (round - 1)).min(FENCE_BACKOFF_MAX_MS);
        assert_eq!(wait, expected, "round {round}");
        assert!(wait >= last_wait, "the backoff shrank");
        last_wait = wait;
        // (A periodic inventory may fall due before.)
        assert!(out.wake_at.is_some_and(|w| w <= retry_at), "round {round}");
        // Nothing before the retry time, then level 0 again.
        let early = d.tick(retry_at - 1);
        assert!(fences(&[early]).is_empty(), "round {round}: retried early");
        now = retry_at;
        let again = d.tick_heard(now, &["h1"]);
        assert_eq!(
            fences(&[again]),
            [("h1".to_string(), 0, "fence_ipmilan".to_string())],
            "round {round}"
        );
    }
    assert_eq!(last_wait, FENCE_BACKOFF_MAX_MS);
    assert!(starts(&d.outs).is_empty(), "a VM started with no fence");
}

/// h1 declared down, its first fence level failed: the next level waits
/// for fresh answers (`fence_hold`), and h1 is probed with the others.
fn first_level_failed() -> Driver {
    let mut d = Driver::settled(three_hosts(json!({"check_interval_s": 10})));
    d.monitor_down(1_000, "h1");
    d.fence(1_500, "h1", false);
    assert_eq!(d.rt.host_statuses()["h1"], "fence_hold");
    d
}

#[test]
fn a_host_that_answers_while_its_next_fence_waits_is_listed_not_fenced() {
    let mut d = first_level_failed();
    let from = d.outs.len();
    // The others answer first: the next level still waits, for h1's own
    // probe to fail.
    let probes: Vec<(u64, String)> =
        d.rt.in_flight()
            .filter_map(|a| match a {
                Action::Probe { id, host } => Some((*id, host.clone())),
                _ => None,
            })
            .collect();
    assert!(probes.iter().any(|(_, h)| h == "h1"), "h1 is probed");
    let answer = |d: &mut Driver, id: u64, host: &str| {
        d.feed(
            1_500,
            Event::HealthCheck {
                id,
                host: host.into(),
                ping: true,
                api: true,
            },
        )
    };
    for (id, host) in probes.iter().filter(|(_, h)| h != "h1") {
        answer(&mut d, *id, host);
    }
    assert_eq!(fences(d.since(from)), []);
    assert_eq!(d.rt.host_statuses()["h1"], "fence_hold");
    // h1 answers (it was only out of sight): returning, and no fence.
    let (id, _) = probes.iter().find(|(_, h)| h == "h1").unwrap();
    answer(&mut d, *id, "h1");
    assert!(notes(d.since(from)).contains(&Note::HostReturning { host: "h1".into() }));
    assert_eq!(fences(d.since(from)), []);
    d.answer_inventories(1_600);
    assert_eq!(d.rt.host_statuses()["h1"], "up");
    d.tick_heard(11_500, &[]);
    assert_eq!(fences(d.since(from)), []);
    assert!(starts(&d.outs).is_empty());
    assert_eq!(vm_host(&d.rt, "a"), "h1");
}

#[test]
fn a_host_back_from_a_failed_fence_that_goes_silent_again_is_fenced() {
    let mut d = first_level_failed();
    d.answer_probes(1_500, &[]);
    assert_eq!(d.rt.host_statuses()["h1"], "returning");
    // Silent again before its listing came: its VMs were never released,
    // and only a fence releases them.
    let from = d.outs.len();
    d.tick(11_500);
    d.hear(11_500, &["h1"]);
    assert_ne!(d.rt.host_statuses()["h1"], "lost");
    let (_, level, _) = d.fence_in_flight("h1");
    assert_eq!(level, 0);
    assert!(starts(d.since(from)).is_empty());
    let confirmed_at = d.outs.len();
    d.fence(12_000, "h1", true);
    assert_eq!(first_start_of(&d.outs, H1_RESTARTED), Some(confirmed_at));
}

#[test]
fn a_held_fence_waits_for_the_pool_to_answer_after_the_host_was_seen_silent() {
    // h1's first fence level failed. The pool answers the probes of the
    // hold at once; h1's own probe fails only at its timeout, 2 s later.
    // The runtime may have been cut off from the pool in between (the
    // silence would then be its own): the next level waits for the pool
    // to answer probes sent after h1's failure was seen.
    let setup = || {
        let mut d = first_level_failed();
        let held = d.outs.len();
        let probes: Vec<(u64, String)> =
            d.rt.in_flight()
                .filter_map(|a| match a {
                    Action::Probe { id, host } => Some((*id, host.clone())),
                    _ => None,
                })
                .collect();
        for (id, host) in &probes {
            let ok = host != "h1";
            let at = if ok { 1_550 } else { 3_500 };
            d.feed(
                at,
                Event::HealthCheck {
                    id: *id,
                    host: host.clone(),
                    ping: ok,
                    api: ok,
                },
            );
        }
        assert_eq!(
            fences(d.since(held)),
            [],
            "fenced on answers older than h1's silence"
        );
        d
    };

    // The pool answers the fresh probes: the next level goes out.
    let mut d = setup();
    let from = d.outs.len();
    d.tick_heard(3_500, &["h1"]);
    assert_eq!(
        fences(d.since(from)),
        [("h1".to_string(), 1, "fence_pdu".to_string())]
    );

    // The runtime is cut off from every host: nothing answers the fresh
    // probes, and no fence goes out.
    let mut d = setup();
    let from = d.outs.len();
    for t in (3_500..60_000).step_by(2_000) {
        d.tick_heard(t, &["h1", "h2", "h3"]);
    }
    assert_eq!(fences(d.since(from)), []);
    assert!(starts(&d.outs).is_empty());
    assert!(d.rt.isolated());
    // Then it is back in touch, and h1 answers too: what it saw of h1
    // while cut off was its own silence. No fence, h1 is back.
    for t in (61_000..80_000).step_by(2_000) {
        d.tick(t);
        // The pool's answers come in before h1's own.
        let mut probes: Vec<(u64, String)> =
            d.rt.in_flight()
                .filter_map(|a| match a {
                    Action::Probe { id, host } => Some((*id, host.clone())),
                    _ => None,
                })
                .collect();
        probes.sort_by_key(|(_, h)| h == "h1");
        for (id, host) in probes {
            d.feed(
                t + 10,
                Event::HealthCheck {
                    id,
                    host,
                    ping: true,
                    api: true,
                },
            );
        }
        d.answer_inventories(t + 100);
    }
    assert_eq!(fences(d.since(from)), []);
    assert!(starts(&d.outs).is_empty());
    assert_eq!(d.rt.host_statuses()["h1"], "up");
}

#[test]
fn a_fence_in_flight_when_the_runtime_stopped_is_not_sent_again_to_a_host_that_answers() {
    // h1's fence is in flight when the runtime stops. The resumed runtime
    // holds it until the pool answers, and probes h1 meanwhile: h1 was
    // repaired while nobody watched and answers, so it is back, not
    // fenced (its VMs were never released). Silent, it is fenced.
    let mut d = Driver::settled(three_hosts(json!({"check_interval_s": 10})));
    d.monitor_down(1_000, "h1");
    let (_, level, _) = d.fence_in_flight("h1");
    assert_eq!(level, 0);

    let mut r = d.crash_and_recover(3_000);
    let from = r.outs.len();
    for t in (3_000..40_000).step_by(1_000) {
        r.tick_heard(t, &[]);
        r.answer_inventories(t + 100);
    }
    assert_eq!(fences(r.since(from)), []);
    assert_eq!(r.rt.host_statuses()["h1"], "up");
    assert!(starts(&r.outs).is_empty());

    let mut r = d.crash_and_recover(3_000);
    let from = r.outs.len();
    for t in (3_000..40_000).step_by(1_000) {
        r.tick_heard(t, &["h1"]);
        r.answer_inventories(t + 100);
        if !fences(r.since(from)).is_empty() {
            break;
        }
    }
    assert_eq!(
        fences(r.since(from)),
        [("h1".to_string(), 0, "fence_ipmilan".to_string())]
    );
}

#[test]
fn fence_timeout_counts_as_failed_and_a_late_off_still_confirms() {
    let mut d = Driver::settled(three_hosts(json!({"check_interval_s": 100_000})));
    let out = d.monitor_down(1_000, "h1");
    let deadline = 1_000 + 20_000 + FENCE_GRACE_MS;
    assert_eq!(out.wake_at, Some(deadline));
    let (first, level, _) = d.fence_in_flight("h1");
    assert_eq!(level, 0);
    let out = d.tick(deadline - 1);
    assert!(out.actions.is_empty() && out.notes.is_empty(), "{out:?}");
    let out = d.tick_heard(deadline, &["h1"]);
    assert!(out.notes.iter().any(|n| matches!(
        n,
        Note::FenceFailed { host, level: 0, error, .. } if host == "h1" && error == "timed out"
    )));
    assert_eq!(
        fences(std::slice::from_ref(&out)),
        [("h1".to_string(), 1, "fence_pdu".to_string())]
    );
    assert!(starts(&d.outs).is_empty());
    // The slow level 0 answers after all: h1 is off.
    let confirmed_at = d.outs.len();
    let out = d.feed(
        deadline + 500,
        Event::FenceResult {
            id: first,
            host: "h1".into(),
            off: true,
            error: None,
        },
    );
    assert!(out.notes.contains(&Note::HostFenced {
        host: "h1".into(),
        agent: Some("fence_ipmilan".into()),
    }));
    assert_eq!(first_start_of(&d.outs, H1_RESTARTED), Some(confirmed_at));
    assert!(
        !d.rt.in_flight().any(|a| matches!(a, Action::Fence { .. })),
        "the level 1 fence is still in flight"
    );
}

#[test]
fn a_late_off_of_a_timed_out_last_level_confirms_during_the_backoff() {
    let mut d = Driver::settled(three_hosts(json!({"check_interval_s": 100_000})));
    d.monitor_down(1_000, "h1");
    d.fence_fails(1_000, "h1");
    let (last, level, _) = d.fence_in_flight("h1");
    assert_eq!(level, 1);
    let out = d.tick(1_000 + 20_000 + FENCE_GRACE_MS);
    assert!(
        out.alerts
            .iter()
            .any(|a| matches!(a, Alert::FencingFailed { round: 1, .. }))
    );
    assert!(starts(&d.outs).is_empty());
    let out = d.feed(
        30_000,
        Event::FenceResult {
            id: last,
            host: "h1".into(),
            off: true,
            error: None,
        },
    );
    assert!(
        out.notes
            .iter()
            .any(|n| matches!(n, Note::HostFenced { host, .. } if host == "h1"))
    );
    assert!(!starts(&[out]).is_empty());
}

#[test]
fn manual_fence_confirmation_releases_the_vms() {
    let mut d = Driver::settled(three_hosts(json!({"check_interval_s": 100_000})));
    d.monitor_down(1_000, "h1");
    d.fence_fails(1_000, "h1");
    let out = d.fence(1_000, "h1", false);
    assert!(
        out.alerts
            .iter()
            .any(|a| matches!(a, Alert::FencingFailed { .. }))
    );
    assert!(starts(&d.outs).is_empty());
    let confirmed_at = d.outs.len();
    let out = d.feed(2_000, Event::FenceConfirmed { host: "h1".into() });
    assert!(out.notes.contains(&Note::HostFenced {
        host: "h1".into(),
        agent: None,
    }));
    assert_eq!(first_start_of(&d.outs, H1_RESTARTED), Some(confirmed_at));
    // The backoff is over: no fence round follows.
    let out = d.tick(10_000);
    assert!(fences(&[out]).is_empty());
}

#[test]
fn vm_mode_never_fences_and_reports_the_host_lost() {
    // A fourth host, so that with h1 lost and h2 silent half of the hosts
    // not known off still answer (quorum).
    let mut doc = three_hosts(json!({"mode": "vm"}));
    doc["hosts"].as_array_mut().unwrap().push(host("h4", 100));
    let mut d = Driver::new(doc);
    let out = d.feed(1_000, Event::HostDown { host: "h1".into() });
    assert_eq!(
        out.alerts
            .iter()
            .filter(|a| matches!(a, Alert::HostLost { .. }))
            .cloned()
            .collect::<Vec<_>>(),
        [Alert::HostLost {
            host: "h1".into(),
            vms: vec!["a".into(), "a2".into(), "b".into(), "be".into()],
        }]
    );
    // The same through detection, for h2.
    d.answer_probes(1_000, &["h1", "h2"]);
    for t in [10_000, 20_000] {
        d.round(t, &["h1", "h2"]);
    }
    let ask = asks(&d.outs);
    assert_eq!(ask.len(), 1);
    let (id, host, peer) = ask[0].clone();
    let out = d.feed(
        20_100,
        Event::PeerCheck {
            id,
            host,
            peer,
            reachable: false,
            error: None,
        },
    );
    assert!(out.alerts.contains(&Alert::HostLost {
        host: "h2".into(),
        vms: vec!["c".into()],
    }));
    for t in (30_000..200_000).step_by(10_000) {
        d.round(t, &["h1", "h2"]);
    }
    assert!(fences(&d.outs).is_empty(), "fenced in mode vm");
    assert!(starts(&d.outs).is_empty(), "restarted in mode vm");
}

#[test]
fn vm_mode_tries_a_vm_that_waits_again_on_its_own_host_only() {
    // HA mode "vm" restarts a VM on its own host only. c crashes on h2 and
    // every start of it there fails: it waits (`restart_failed`), and when
    // it is tried again a minute later, or at once when room appears, it
    // is again on h2, never on h1 or h3, which have room for it.
    let ha = json!({"mode": "vm", "check_interval_s": 1_000_000, "restart_retries": 1,
        "retry_interval_s": 5});
    let mut d = Driver::settled(three_hosts(ha));
    d.feed(1_000, Event::VmCrashed { vm: "c".into() });
    let mut t = 1_000;
    let mut failed = 0;
    while t < 200_000 {
        t += 1_000;
        d.tick(t);
        let inflight = d.in_flight_ids(|a| matches!(a, Action::StartVm { vm, .. } if vm == "c"));
        if !inflight.is_empty() {
            d.start_result(t + 10, "c", false);
            failed += 1;
        }
        if t == 100_000 {
            // Room appears (an operator stops a VM): the waiting VM is
            // planned again at once.
            d.feed(t + 20, Event::VmStopped { vm: "d".into() });
        }
    }
    assert!(
        alerts(&d.outs)
            .iter()
            .any(|a| matches!(a, Alert::RestartFailed { vm, .. } if vm == "c")),
        "c never waited"
    );
    let c: Vec<_> = starts(&d.outs).into_iter().filter(|s| s.0 == "c").collect();
    assert!(
        failed >= 4,
        "c was tried again only {failed} times: {c:?} {:?}",
        alerts(&d.outs)
    );
    assert!(
        c.iter().all(|s| s.1 == "h2"),
        "started away from its own host in mode vm: {c:?}"
    );
}

// ---- 3. restarts ----

#[test]
fn restarts_go_by_order_group_and_start_delay_then_best_effort_once() {
    let mut d = Driver::settled(three_hosts(json!({"check_interval_s": 100_000})));
    d.monitor_down(1_000, "h1");
    let out = d.fence(2_000, "h1", true);
    assert_eq!(started_vms(&[out]), ["a", "a2"]);
    for (vm, host, attempt) in starts(&d.outs) {
        assert_ne!(host, "h1", "{vm} restarted on the fenced host");
        assert_eq!(attempt, 1);
    }
    let out = d.start_result(3_000, "a", true);
    assert!(starts(&[out]).is_empty(), "group 1 started before a2 ran");
    let out = d.start_result(4_000, "a2", true);
    assert!(starts(std::slice::from_ref(&out)).is_empty());
    // a's 30 s delay runs from its own start.
    assert_eq!(out.wake_at, Some(33_000));
    let out = d.tick(32_999);
    assert!(
        starts(&[out]).is_empty(),
        "group 1 started before the delay"
    );
    let out = d.tick(33_000);
    assert_eq!(started_vms(&[out]), ["b"]);
    let out = d.start_result(34_000, "b", true);
    assert_eq!(started_vms(std::slice::from_ref(&out)), ["be"]);
    let out = d.start_result(35_000, "be", false);
    assert!(out.notes.contains(&Note::VmGivenUp { vm: "be".into() }));
    assert!(starts(&[out]).is_empty());
    for t in [40_000, 100_000, 200_000, 400_000] {
        d.tick(t);
    }
    assert_eq!(started_vms(&d.outs), ["a", "a2", "b", "be"]);
    assert_eq!(vm_power(&d.rt, "be"), Power::Halted);
    assert_eq!(vm_power(&d.rt, "un"), Power::Halted);
    for vm in ["a", "a2", "b"] {
        assert_eq!(vm_power(&d.rt, vm), Power::Running);
        assert_ne!(vm_host(&d.rt, vm), "h1");
    }
    assert!(d.rt.awaiting().is_empty());
}

#[test]
fn a_failed_start_is_retried_on_the_same_host_then_on_another() {
    let doc = pool(
        json!({"check_interval_s": 100_000}),
        vec![host("h1", 100), host("h2", 100), host("h3", 100)],
        vec![vm("p", "h1", 10)],
    );
    let mut d = Driver::settled(doc);
    d.fail_host(1_000, "h1");
    let (_, target, attempt) = d.start_in_flight("p");
    assert_eq!(attempt, 1);
    let mut now = 2_000;
    for attempt in 2..=3 {
        let out = d.start_result(now, "p", false);
        assert!(starts(std::slice::from_ref(&out)).is_empty());
        assert_eq!(out.wake_at, Some(now + 10_000));
        let out = d.tick(now + 9_999);
        assert!(starts(&[out]).is_empty(), "retried before retry_interval_s");
        now += 10_000;
        let out = d.tick(now);
        assert_eq!(starts(&[out]), [("p".into(), target.clone(), attempt)]);
    }
    // restart_retries (2) retries used up: another host at once.
    let out = d.start_result(now + 1, "p", false);
    let s = starts(&[out]);
    assert_eq!(s.len(), 1, "{s:?}");
    assert_eq!(s[0].0, "p");
    assert_eq!(s[0].2, 1);
    assert!(s[0].1 != target && s[0].1 != "h1", "{s:?}");
}

#[test]
fn a_protected_vm_that_fits_nowhere_raises_restart_failed() {
    let doc = pool(
        json!({"host_failures_to_tolerate": 0, "check_interval_s": 100_000}),
        vec![host("h1", 100), host("h2", 100), host("h3", 100)],
        vec![
            vm("big", "h1", 90),
            vm("f2", "h2", 60),
            vm("f3", "h3", 60),
            vm("small", "h1", 10),
        ],
    );
    let mut d = Driver::new(doc);
    let out = d.fail_host(1_000, "h1");
    assert!(
        out.alerts
            .iter()
            .any(|a| matches!(a, Alert::RestartFailed { vm, .. } if vm == "big")),
        "{out:?}"
    );
    assert!(out.notes.iter().any(
        |n| matches!(n, Note::Plan { unplaced, .. } if unplaced.contains(&"big".to_string()))
    ));
    assert_eq!(started_vms(&[out]), ["small"]);
    d.start_result(2_000, "small", true);
    d.tick(100_000);
    assert!(!started_vms(&d.outs).contains(&"big".to_string()));
    assert_eq!(d.rt.awaiting(), ["big"]);
}

#[test]
fn a_crashed_vm_restarts_on_its_own_host_first() {
    let mut d = Driver::settled(three_hosts(json!({"check_interval_s": 100_000})));
    let out = d.feed(1_000, Event::VmCrashed { vm: "c".into() });
    assert_eq!(
        starts(std::slice::from_ref(&out)),
        [("c".into(), "h2".into(), 1)]
    );
    assert!(fences(&[out]).is_empty());
    let out = d.start_result(2_000, "c", false);
    assert_eq!(out.wake_at, Some(12_000));
    let out = d.tick(12_000);
    assert_eq!(starts(&[out]), [("c".into(), "h2".into(), 2)]);
    d.start_result(13_000, "c", true);
    assert_eq!(vm_host(&d.rt, "c"), "h2");
    assert_eq!(vm_power(&d.rt, "c"), Power::Running);
    assert!(fences(&d.outs).is_empty());
}

// ---- 4. tolerance alerts ----

#[test]
fn overcommitted_at_start_names_a_witness() {
    let doc = pool(
        json!({}),
        vec![host("h1", 100), host("h2", 100)],
        vec![vm("x", "h1", 80), vm("y", "h2", 80)],
    );
    let d = Driver::new(doc);
    let a = alerts(&d.outs);
    let over: Vec<_> = a
        .iter()
        .filter_map(|a| match a {
            Alert::Overcommitted {
                configured,
                max_tolerable,
                failed_hosts,
                stranded_vms,
                ..
            } => Some((*configured, *max_tolerable, failed_hosts, stranded_vms)),
            _ => None,
        })
        .collect();
    assert_eq!(over.len(), 1, "{a:?}");
    let (k, max, failed, stranded) = over[0];
    assert_eq!((k, max), (1, 0));
    assert_eq!(failed.len(), 1);
    let expected = if failed[0] == "h1" { "x" } else { "y" };
    assert_eq!(stranded, &[expected.to_string()]);
    assert!(a.contains(&Alert::ZeroTolerable));
    assert_eq!(d.rt.tolerance(), Some((1, 0)));
}

#[test]
fn a_vm_start_that_breaks_k_alerts_and_its_stop_restores_the_plan() {
    let mut d = Driver::new(two_hosts());
    assert!(alerts(&d.outs).is_empty(), "{:?}", alerts(&d.outs));
    assert_eq!(d.rt.tolerance(), Some((1, 1)));
    let out = d.feed(
        1_000,
        Event::VmStarted {
            vm: "z".into(),
            host: "h2".into(),
            definition: Some(json!({"demand": {"mem": 30}, "restart": "unprotected"})),
        },
    );
    assert!(
        out.alerts
            .contains(&Alert::ToleranceDropped { from: 1, to: 0 })
    );
    assert!(out.alerts.contains(&Alert::ZeroTolerable));
    assert!(out.alerts.iter().any(|a| matches!(
        a,
        Alert::Overcommitted { configured: 1, max_tolerable: 0, failed_hosts, stranded_vms, .. }
            if failed_hosts == &["h1"] && stranded_vms == &["x"]
    )));
    // Nothing new: not alerted again.
    let out = d.tick(5_000);
    assert!(out.alerts.is_empty(), "{:?}", out.alerts);
    let out = d.feed(6_000, Event::VmStopped { vm: "z".into() });
    assert_eq!(
        out.alerts,
        [Alert::PlanRestored {
            configured: 1,
            max_tolerable: 1,
        }]
    );
}

#[test]
fn a_vm_that_is_not_agile_is_reported_once() {
    let doc = pool(
        json!({}),
        vec![host("h1", 100), host("h2", 100), host("h3", 100)],
        vec![
            with(vm("cd", "h1", 10), json!({"local_devices": ["cdrom0"]})),
            vm("e", "h2", 10),
        ],
    );
    let mut d = Driver::new(doc);
    let na: Vec<_> = alerts(&d.outs)
        .into_iter()
        .filter(|a| matches!(a, Alert::NotAgile { .. }))
        .collect();
    assert_eq!(na.len(), 1, "{na:?}");
    assert!(matches!(&na[0], Alert::NotAgile { vm, reasons } if vm == "cd" && !reasons.is_empty()));
    d.feed(1_000, Event::VmStopped { vm: "e".into() });
    d.feed(
        2_000,
        Event::VmStarted {
            vm: "e".into(),
            host: "h3".into(),
            definition: None,
        },
    );
    d.round(10_000, &[]);
    let na = alerts(&d.outs)
        .into_iter()
        .filter(|a| matches!(a, Alert::NotAgile { .. }))
        .count();
    assert_eq!(na, 1, "not_agile raised again");
}

// ---- 5. admission ----

#[test]
fn admission_checks_answer_without_changing_anything() {
    let d = Driver::new(two_hosts());
    let before = d.rt.state_json();
    let start = |mem: i64| Operation::VmStart {
        vm: "n".into(),
        host: "h2".into(),
        definition: Some(json!({"demand": {"mem": mem}, "restart": "unprotected"})),
    };
    // h2 keeps 60 spare for x: fine.
    assert_eq!(
        d.rt.check_operation(&start(10)).unwrap(),
        Admission::Allowed { configured: 1 }
    );
    // 40 spare is not enough for x when h1 fails.
    match d.rt.check_operation(&start(30)).unwrap() {
        Admission::WouldOvercommit {
            configured,
            failed_hosts,
            stranded_vms,
            ..
        } => {
            assert_eq!(configured, 1);
            assert_eq!(failed_hosts, ["h1"]);
            assert_eq!(stranded_vms, ["x"]);
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        d.rt.check_operation(&start(200)).unwrap(),
        Admission::Refused { .. }
    ));
    assert!(matches!(
        d.rt.check_operation(&Operation::SetTolerance { k: 2 })
            .unwrap(),
        Admission::WouldOvercommit { configured: 2, .. }
    ));
    assert_eq!(
        d.rt.check_operation(&Operation::SetTolerance { k: 1 })
            .unwrap(),
        Admission::Allowed { configured: 1 }
    );
    assert!(matches!(
        d.rt.check_operation(&Operation::VmResume { vm: "ghost".into() }),
        Err(RuntimeError::UnknownVm(_))
    ));
    assert_eq!(d.rt.state_json(), before);

    let d = Driver::new(three_hosts(json!({})));
    let before = d.rt.state_json();
    assert_eq!(
        d.rt.check_operation(&Operation::HostDisable { host: "h1".into() })
            .unwrap(),
        Admission::Allowed { configured: 1 }
    );
    assert_eq!(d.rt.state_json(), before);

    // Out of service, h1's x joins another VM of 40: the pair cannot both
    // fail over to the last host.
    let d = Driver::new(tight_three());
    let before = d.rt.state_json();
    assert_eq!(d.rt.tolerance(), Some((1, 1)));
    assert!(matches!(
        d.rt.check_operation(&Operation::HostDisable { host: "h1".into() })
            .unwrap(),
        Admission::WouldOvercommit { configured: 1, .. }
    ));
    assert_eq!(d.rt.state_json(), before);
}

// ---- 6. the log ----

/// A run with something of everything: a host added with credentials, a
/// host failure with a failed fence level, restarts.
fn eventful() -> Driver {
    let mut d = Driver::new(three_hosts(json!({})));
    d.answer_probes(0, &[]);
    d.feed(
        500,
        Event::HostAdded {
            host: with(
                host("h4", 100),
                json!({"fencing": [{"agent": "fence_redfish",
                    "params": {"user": "root", "password": "added-secret-42"}}]}),
            ),
        },
    );
    d.round(10_000, &["h1"]);
    d.monitor_down(11_000, "h1");
    d.fence_fails(12_000, "h1");
    d.fence(13_000, "h1", true);
    d.start_result(14_000, "a", true);
    d.start_result(14_500, "a2", true);
    d
}

#[test]
fn credentials_never_reach_the_log_or_any_output() {
    let d = eventful();
    // The runtime itself has them (the test is not vacuous).
    let doc = d.rt.document().to_string();
    for s in SECRETS {
        assert!(doc.contains(s), "the pool lost {s}");
    }
    let text = d.log_text();
    assert!(text.contains("host_added") && text.contains("fence_redfish"));
    let state = d.rt.state_json().to_string();
    for s in SECRETS {
        assert!(!text.contains(s), "the log holds {s}");
        assert!(!state.contains(s), "state_json holds {s}");
        for out in &d.outs {
            let json = serde_json::to_string(out).unwrap();
            assert!(!json.contains(s), "an output holds {s}: {json}");
        }
    }
}

#[test]
fn replay_rebuilds_the_live_state() {
    let d = eventful();
    let rep = log::replay(Cursor::new(d.journal.get_ref().clone())).expect("replays");
    assert!(!rep.truncated);
    assert_eq!(rep.steps, d.journal.steps());
    assert_eq!(rep.runtime.state_json(), d.rt.state_json());
}

#[test]
fn a_truncated_last_line_is_dropped() {
    let d = eventful();
    let mut bytes = d.journal.get_ref().clone();
    bytes.pop(); // the newline
    bytes.truncate(bytes.len() - 7);
    let rep = log::replay(Cursor::new(bytes)).expect("replays");
    assert!(rep.truncated);
    assert_eq!(rep.steps, d.journal.steps() - 1);
    let n = d.states.len();
    assert_eq!(rep.runtime.state_json(), d.states[n - 2]);
}

#[test]
fn a_tampered_line_is_refused() {
    let d = eventful();
    let text = d.log_text();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    // The step that fenced h1 and started its VMs: move a start elsewhere.
    let i = lines
        .iter()
        .position(|l| l.contains("\"start_vm\""))
        .expect("a start was logged");
    let mut step: Value = serde_json::from_str(&lines[i]).unwrap();
    let actions = step["output"]["actions"].as_array_mut().unwrap();
    let start = actions
        .iter_mut()
        .find(|a| a["type"] == "start_vm")
        .unwrap();
    start["host"] = json!(if start["host"] == "h2" { "h3" } else { "h2" });
    lines[i] = step.to_string();
    let tampered = lines.join("\n") + "\n";
    match log::replay(Cursor::new(tampered.into_bytes())) {
        Err(LogError::Diverged { line, what }) => {
            assert_eq!(line, i + 1);
            assert_eq!(what, "actions");
        }
        Err(e) => panic!("refused for another reason: {e}"),
        Ok(_) => panic!("a tampered log was trusted"),
    }
}

#[test]
fn recovery_asks_where_a_vm_in_flight_runs_before_anything_else() {
    let (r, a2_target, _) = a_lost_start_restarted_on_its_host();
    assert_eq!(starts(&r.outs), [("a2".to_string(), a2_target, 2)]);
}

/// Every start of a2 sent by the resumed runtime `r`, from `from` on.
/// The starts of `vm` since output `from`.
fn starts_of_vm(r: &Driver, from: usize, vm: &str) -> Vec<(String, String, u32)> {
    starts(&r.outs[from..])
        .into_iter()
        .filter(|s| s.0 == vm)
        .collect()
}

#[test]
fn a_lost_start_retried_on_its_host_never_goes_elsewhere_while_it_may_land() {
    let (mut r, target, t) = a_lost_start_restarted_on_its_host();
    // Every start again on that host fails: the retries are used up. The
    // lost start may still land there, so a2 is started nowhere else: it
    // is in doubt until fresh listings rule the lost start out.
    let mut now = t + 1_000;
    r.start_result(now, "a2", false);
    now += 10_000;
    let before = r.outs.len();
    r.tick(now);
    assert_eq!(
        starts_of_vm(&r, before, "a2"),
        [("a2".to_string(), target.clone(), 3)]
    );
    let seen = r.outs.len();
    r.start_result(now + 1, "a2", false);
    for s in 1..=20 {
        r.tick(now + s * 1_000);
    }
    let elsewhere: Vec<_> = starts_of_vm(&r, seen, "a2")
        .into_iter()
        .filter(|s| s.1 != target)
        .collect();
    assert!(
        elsewhere.is_empty(),
        "started elsewhere while its lost start may land on {target}: {elsewhere:?}"
    );
    assert!(notes(&r.outs[seen..]).contains(&Note::VmInDoubt {
        vm: "a2".into(),
        host: None,
    }));
}

#[test]
fn a_lost_start_past_its_deadline_is_decided_by_the_hosts_that_answer() {
    // As above, and some host never answers (down, never fenced): no query
    // about a2 is ever answered by every host. Once the lost start's
    // deadline has passed and its host's fresh listing lacks a2, the hosts
    // that answer decide: a2 is started again on that host, where the lost
    // start could only meet itself, and on no other.
    let (r, target, t, seen, started_at) = a_lost_start_queried_while_a_host_is_silent(true);
    let a2 = starts_of_vm(&r, seen, "a2");
    assert!(
        a2.iter().all(|s| s.1 == target),
        "started away from its lost start's host {target}: {a2:?}"
    );
    let at = started_at.expect("a2 never started again while a host stayed silent");
    // Not before the lost start's deadline (sent before t, 120 s).
    assert!(
        at >= t + 100_000,
        "started again at {at}, before the lost start's deadline"
    );
    assert!(notes(&r.outs[seen..]).contains(&Note::LandingRuledOut {
        vm: "a2".into(),
        host: target.clone(),
    }));
}

#[test]
fn a_lost_start_is_not_decided_while_its_own_host_cannot_list() {
    // The same, but the lost start's host fails every listing: nothing
    // shows that the start did not land there, and the queries that other
    // hosts answer do not decide. a2 is started nowhere.
    let (r, target, _, seen, started_at) = a_lost_start_queried_while_a_host_is_silent(false);
    assert_eq!(started_at, None, "{:?}", starts_of_vm(&r, seen, "a2"));
    assert!(!notes(&r.outs[seen..]).contains(&Note::LandingRuledOut {
        vm: "a2".into(),
        host: target,
    }));
}

/// [`a_lost_start_retried_on_its_host_never_goes_elsewhere_while_it_may_land`]
/// run on for 200 s while another host is down and its fence never
/// works: every query about a2 answered "nowhere" with an error (that
/// host does not answer), every listing answered (the lost start's host
/// failing its own unless `target_lists`). The driver, a2's host, the
/// resume time, where a2's last refused start sits in the outputs, and
/// when a2 was next started.
fn a_lost_start_queried_while_a_host_is_silent(
    target_lists: bool,
) -> (Driver, String, Millis, usize, Option<Millis>) {
    let (mut r, target, t) = a_lost_start_restarted_on_its_host();
    let mut now = t + 1_000;
    r.start_result(now, "a2", false);
    now += 10_000;
    r.tick(now);
    let seen = r.outs.len();
    r.start_result(now + 1, "a2", false);
    // The host that is neither a2's nor fenced goes silent for good.
    let silent = if target == "h2" { "h3" } else { "h2" };
    r.monitor_down(now + 2, silent);
    r.fence_fails(now + 3, silent);
    let listing = |host: &str| -> Vec<String> {
        match host {
            "h2" => vec!["c".into()],
            "h3" => vec!["d".into()],
            h if h == target => vec!["a".into()],
            _ => Vec::new(),
        }
    };
    let mut started_at = None;
    for s in 1..=200 {
        let at = now + s * 1_000;
        r.step_while_silent(at, silent, &[silent], |host| {
            let fails = !target_lists && host == target;
            (!fails).then(|| listing(host))
        });
        if started_at.is_none() && !starts_of_vm(&r, seen, "a2").is_empty() {
            started_at = Some(at);
        }
    }
    let statuses = r.rt.host_statuses();
    let status = statuses
        .iter()
        .find(|(n, _)| n.as_str() == silent)
        .map(|(_, st)| *st)
        .expect("known");
    assert_ne!(
        status, "fenced",
        "{silent} was meant never to be confirmed off"
    );
    (r, target, t, seen, started_at)
}

#[test]
fn a_vm_in_doubt_about_a_migration_to_a_host_confirmed_off_is_decided_by_the_hosts_that_answer() {
    // m's drain migration from h1 gets no answer (in doubt: on h1 or on
    // its target). The target then fails and is fenced: m runs on h1 or
    // nowhere. Another host goes silent for good (its fence never
    // answers), so no query is answered by every host. h1, listed, runs m
    // no more: m is taken for crashed there and started on h1, not looked
    // for as long as the silent host stays silent (seed 739646).
    let doc = pool(
        json!({"check_interval_s": 1_000_000}),
        vec![
            host("h1", 100),
            host("h2", 100),
            host("h3", 100),
            host("h4", 100),
        ],
        vec![
            vm("m", "h1", 30),
            vm("c", "h2", 10),
            vm("d", "h3", 10),
            vm("e", "h4", 10),
        ],
    );
    let mut d = Driver::settled(doc);
    d.feed(
        1_000,
        Event::HostMaintenance {
            host: "h1".into(),
            enter: true,
        },
    );
    let m = d.migrate_in_flight();
    assert_eq!(m.len(), 1, "{m:?}");
    let target = m[0].3.clone();
    // The migration's deadline passes: in doubt.
    d.tick(1_000 + 600_100);
    let mut now = 1_000 + 600_200;
    d.fail_host(now, &target);
    assert_eq!(host_state(&d.rt, &target), HostState::Down);
    let silent = ["h2", "h3", "h4"]
        .into_iter()
        .find(|h| *h != target)
        .expect("a third host");
    // Fenced, the target answers nothing any more; the silent host neither.
    let quiet = [silent, target.as_str()];
    now += 100;
    d.monitor_down_while(now, silent, &[target.as_str()]);
    d.fence(now + 1, silent, false);
    d.hear(now + 1, &quiet);
    let listing = |host: &str| -> Vec<String> {
        match host {
            "h2" => vec!["c".into()],
            "h3" => vec!["d".into()],
            "h4" => vec!["e".into()],
            _ => Vec::new(),
        }
    };
    let from = d.outs.len();
    for s in 1..=120 {
        let at = now + s * 1_000;
        d.step_while_silent(at, silent, &quiet, |host| Some(listing(host)));
        if !starts_of_vm(&d, from, "m").is_empty() {
            break;
        }
    }
    assert_eq!(
        starts_of_vm(&d, from, "m"),
        [("m".to_string(), "h1".to_string(), 1)],
        "m was meant to start again on h1"
    );
}

/// A runtime that died with the starts of a and a2 in flight, resumed: a
/// runs where its start landed, a2 is listed nowhere and started again on
/// the same host. The resumed driver, a2's host and the resume time.
fn a_lost_start_restarted_on_its_host() -> (Driver, String, Millis) {
    a_lost_start_restarted_on_its_host_with(json!({"check_interval_s": 1_000_000}), false)
}

/// [`a_lost_start_restarted_on_its_host`] with the pool's `ha` settings
/// `ha`; with `query_first`, the query about a2 answers (nowhere) before
/// the hosts' listings.
fn a_lost_start_restarted_on_its_host_with(
    ha: Value,
    query_first: bool,
) -> (Driver, String, Millis) {
    let mut d = Driver::new(three_hosts(ha));
    d.fail_host(1_000, "h1");
    let (_, target, _) = d.start_in_flight("a");
    // The runtime dies here, with the starts of a and a2 in flight.
    let bytes = d.journal.get_ref().clone();
    let steps = d.journal.steps();
    let t = 5_000;
    let (rep, input, out) = log::recover(Cursor::new(bytes.clone()), t).expect("recovers");
    assert_eq!(rep.steps, steps);
    let mut journal = Journal::resume(bytes, steps);
    journal.append(&input, &out).unwrap();
    let mut r = Driver::resume_unreconciled(rep.runtime, out.clone(), journal);
    assert!(starts(std::slice::from_ref(&out)).is_empty(), "{out:?}");
    // The hosts are asked at once where the VMs whose starts were lost run
    // (no fixed wait for those starts to settle), and only about them.
    let mut asked: Vec<&str> = out
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::QueryVm { vm, .. } => Some(vm.as_str()),
            _ => None,
        })
        .collect();
    asked.sort();
    assert_eq!(asked, ["a", "a2"], "{out:?}");
    assert!(
        out.actions
            .iter()
            .any(|a| matches!(a, Action::Inventory { host, .. } if host == "h2"))
    );
    // The hosts list their VMs: a did start on its target; a2 did not.
    let a2_target = {
        let (_, _, _) = ("", "", 0);
        d.rt.in_flight()
            .find_map(|a| match a {
                Action::StartVm { vm, host, .. } if vm == "a2" => Some(host.clone()),
                _ => None,
            })
            .expect("a2 was being started")
    };
    if query_first {
        nowhere(&mut r, "a2", t + 5);
    }
    let asked: Vec<(u64, String)> =
        r.rt.in_flight()
            .filter_map(|a| match a {
                Action::Inventory { id, host } => Some((*id, host.clone())),
                _ => None,
            })
            .collect();
    for (id, host) in asked {
        let vms: Vec<String> = if host == target {
            vec!["a".into()]
        } else {
            Vec::new()
        };
        let vms = vms
            .into_iter()
            .chain(if host == "h2" {
                vec!["c".to_string()]
            } else {
                vec![]
            })
            .chain(if host == "h3" {
                vec!["d".to_string()]
            } else {
                vec![]
            })
            .collect();
        r.feed(
            t + 10,
            Event::Inventory {
                id,
                host,
                vms,
                error: None,
                demand: Default::default(),
            },
        );
    }
    assert!(notes(&r.outs).contains(&Note::VmFound {
        vm: "a".into(),
        host: Some(target.clone()),
    }));
    // a2's start has no known outcome and no host lists a2: once every host
    // that answers has listed its VMs, it is started again on the same
    // host (where the lost start, landing late, could only meet itself),
    // without waiting a fixed time for that start to settle; never on
    // another host.
    if !query_first {
        nowhere(&mut r, "a2", t + 20);
    }
    r.tick(t + 30);
    assert!(t + 30 < t + SETTLE_MS);
    (r, a2_target, t)
}

/// Answers every query about `vm` in flight: it runs nowhere.
fn nowhere(r: &mut Driver, vm: &str, at: Millis) {
    let queries: Vec<u64> =
        r.rt.in_flight()
            .filter_map(|a| match a {
                Action::QueryVm { id, vm: x } if x == vm => Some(*id),
                _ => None,
            })
            .collect();
    for id in queries {
        r.feed(
            at,
            Event::VmStatus {
                id,
                vm: vm.into(),
                host: None,
                error: None,
            },
        );
    }
}

#[test]
fn a_lost_start_found_nowhere_while_reconciling_starts_when_the_reconciliation_ends() {
    // The query about a2 answers before the hosts' listings: "nowhere" is
    // then decided once every host has been listed, at once (not a query
    // interval later).
    let ha = json!({"check_interval_s": 1_000_000});
    let (r, target, t) = a_lost_start_restarted_on_its_host_with(ha, true);
    // Everything above happened by t + 30: the query's answer came at
    // t + 5, the listings at t + 10.
    assert_eq!(r.rt.now(), t + 30);
    assert_eq!(starts(&r.outs), [("a2".to_string(), target, 2)]);
}

#[test]
fn a_start_pin_ends_at_its_deadline_once_the_vm_runs_where_it_went() {
    // k = 0: draining a host of two is allowed.
    let ha = json!({"check_interval_s": 1_000_000, "host_failures_to_tolerate": 0});
    let (mut r, target, t) = a_lost_start_restarted_on_its_host_with(ha, false);
    // a was found running where its lost start went; a2 is started there
    // again, and that start succeeds. Both lost starts pin them there
    // until their deadline.
    r.start_result(t + 40, "a2", true);
    let pins = r.rt.state_json()["late_landings"].clone();
    let deadline = |vm: &str| pins[vm]["check_from"].as_u64().expect("a start pin");
    let until = deadline("a").max(deadline("a2"));
    assert!(until > t + 1_000, "{pins}");
    // The host they run on is drained: before the deadline a lost start
    // may still be under way below the driver, and would land once the
    // VM left: neither moves.
    let from = r.outs.len();
    r.feed(
        t + 50,
        Event::HostMaintenance {
            host: target.clone(),
            enter: true,
        },
    );
    for s in (t + 1_000..until).step_by(10_000) {
        r.tick(s);
    }
    let moving = |r: &Driver| -> Vec<String> {
        r.migrate_in_flight()
            .into_iter()
            .map(|m| m.1)
            .filter(|vm| vm == "a" || vm == "a2")
            .collect()
    };
    assert!(moving(&r).is_empty(), "moved before the deadline");
    assert!(
        !notes(&r.outs[from..])
            .iter()
            .any(|n| matches!(n, Note::LandingSeen { .. })),
        "a pin ended before its deadline"
    );
    // Past the deadline no start can land: the pins end (the VMs run where
    // their starts went) and the drain goes on to the end.
    let mut now = until + 1;
    r.tick(now);
    let seen = notes(&r.outs[from..]);
    for vm in ["a", "a2"] {
        assert!(
            seen.contains(&Note::LandingSeen {
                vm: vm.into(),
                host: target.clone(),
            }),
            "{vm}: {seen:?}"
        );
    }
    // The other VMs of the failed host are started (on the drained host
    // too, before the drain), every migration succeeds.
    let mut moved = Vec::new();
    for _ in 0..40 {
        now += 1_000;
        let starting: Vec<String> =
            r.rt.in_flight()
                .filter_map(|a| match a {
                    Action::StartVm { vm, .. } => Some(vm.clone()),
                    _ => None,
                })
                .collect();
        for vm in starting {
            r.start_result(now, &vm, true);
        }
        let m = r.migrate_in_flight();
        let Some((id, vm, from, to)) = m.first().cloned() else {
            r.tick(now);
            continue;
        };
        assert_eq!(from, target);
        r.migrated(now, id, &vm, &to);
        moved.push(vm);
    }
    assert!(moved.contains(&"a".to_string()), "{moved:?}");
    assert!(moved.contains(&"a2".to_string()), "{moved:?}");
    assert!(
        notes(&r.outs[from..]).contains(&Note::MaintenanceReady {
            host: target.clone()
        }),
        "{:?}",
        notes(&r.outs[from..])
    );
}

#[test]
fn recovery_sends_a_fence_in_flight_again() {
    let mut d = Driver::new(three_hosts(json!({"check_interval_s": 1_000_000})));
    d.monitor_down(1_000, "h1");
    d.fence_fails(2_000, "h1");
    let (old, level, agent) = d.fence_in_flight("h1");
    assert_eq!(level, 1);
    let bytes = d.journal.get_ref().clone();
    let (rep, _, out) = log::recover(Cursor::new(bytes), 3_000).expect("recovers");
    // Not at once: the runtime may have been cut off from the pool while
    // it was down. It reconciles and hears from the pool first.
    assert!(fences(std::slice::from_ref(&out)).is_empty(), "{out:?}");
    let mut r = Driver::resume(rep.runtime, out, Journal::resume(Vec::new(), 0));
    let out = r.hear(3_000, &["h1"]);
    let sent: Vec<(u64, String, usize, String)> = out
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::Fence {
                id,
                host,
                level,
                agent,
            } => Some((*id, host.clone(), *level, agent.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(sent.len(), 1, "{out:?}");
    let (id, host, l, a) = sent[0].clone();
    assert_eq!(
        (host.as_str(), l, a.as_str()),
        ("h1", level, agent.as_str())
    );
    assert_ne!(id, old);
    assert!(starts(&[out]).is_empty());
    // The old fence's answer is late and unknown: ignored.
    let out = r.feed(
        3_500,
        Event::FenceResult {
            id: old,
            host: "h1".into(),
            off: true,
            error: None,
        },
    );
    assert!(starts(std::slice::from_ref(&out)).is_empty(), "{out:?}");
    let out = r.fence(4_000, "h1", true);
    assert!(!starts(&[out]).is_empty());
}

// ---- 7. maintenance and failback ----

#[test]
fn maintenance_drains_keeping_k_then_holds_the_host() {
    let mut d = Driver::new(three_hosts(json!({})));
    d.answer_probes(0, &[]);
    let out = d.feed(
        1_000,
        Event::HostMaintenance {
            host: "h1".into(),
            enter: true,
        },
    );
    assert!(
        !out.notes
            .iter()
            .any(|n| matches!(n, Note::DrainBlocked { .. }))
    );
    let mut t = 1_000;
    let mut moved = Vec::new();
    loop {
        let m = d.migrate_in_flight();
        if m.is_empty() {
            break;
        }
        assert_eq!(m.len(), 1, "one migration at a time: {m:?}");
        let (id, vm, from, to) = m[0].clone();
        assert_eq!(from, "h1");
        assert_ne!(to, "h1");
        assert_eq!(
            host_state(&d.rt, "h1"),
            HostState::Up,
            "in maintenance early"
        );
        t += 1_000;
        d.migrated(t, id, &vm, &to);
        moved.push(vm);
        let (k, max) = d.rt.tolerance().unwrap();
        assert!(max >= k, "a drain step broke k");
    }
    moved.sort();
    // Halted VMs stay; running and paused ones leave.
    assert_eq!(moved, ["a", "a2", "b", "be", "un"]);
    assert!(
        notes(&d.outs).contains(&Note::MaintenanceReady { host: "h1".into() }),
        "{:?}",
        notes(&d.outs)
    );
    assert_eq!(host_state(&d.rt, "h1"), HostState::Maintenance);
    // A host in maintenance is not probed, so not declared down.
    let outs = d.round(20_000, &["h1"]);
    let probed: Vec<&str> = outs[0]
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::Probe { host, .. } => Some(host.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(probed, ["h2", "h3"]);
}

#[test]
fn a_drain_that_would_break_k_is_blocked() {
    let mut d = Driver::new(tight_three());
    let before = d.rt.pool().clone();
    let out = d.feed(
        1_000,
        Event::HostMaintenance {
            host: "h1".into(),
            enter: true,
        },
    );
    assert!(
        out.notes
            .iter()
            .any(|n| matches!(n, Note::DrainBlocked { host, .. } if host == "h1")),
        "{out:?}"
    );
    assert!(d.migrate_in_flight().is_empty());
    d.tick(100_000);
    assert!(
        !notes(&d.outs)
            .iter()
            .any(|n| matches!(n, Note::MaintenanceReady { .. }))
    );
    assert_eq!(host_state(&d.rt, "h1"), HostState::Up);
    assert_eq!(d.rt.pool().vms, before.vms);
}

/// h1 fails and is fenced, its VMs run elsewhere, then h1 comes back.
fn fail_and_return(failback: &str) -> Driver {
    let mut d = Driver::settled(three_hosts(
        json!({"check_interval_s": 1_000_000, "failback": failback}),
    ));
    d.fail_host(1_000, "h1");
    d.start_result(2_000, "a", true);
    d.start_result(2_000, "a2", true);
    d.tick(40_000);
    d.start_result(41_000, "b", true);
    d.start_result(42_000, "be", true);
    assert!(d.rt.awaiting().is_empty());
    for vm in ["a", "a2", "b", "be"] {
        assert_ne!(vm_host(&d.rt, vm), "h1");
    }
    d.feed(50_000, Event::HostUp { host: "h1".into() });
    // A returning host is listed before it counts as up: it came back empty.
    d.answer_inventories(50_000);
    d
}

#[test]
fn failback_return_moves_evacuated_vms_home() {
    let mut d = fail_and_return("return");
    assert_eq!(host_state(&d.rt, "h1"), HostState::Up);
    let mut t = 50_000;
    let mut back = Vec::new();
    loop {
        let m = d.migrate_in_flight();
        if m.is_empty() {
            break;
        }
        assert_eq!(m.len(), 1, "{m:?}");
        let (id, vm, from, to) = m[0].clone();
        assert_eq!(to, "h1");
        assert_eq!(from, vm_host(&d.rt, &vm));
        t += 1_000;
        d.migrated(t, id, &vm, &to);
        back.push(vm);
        let (k, max) = d.rt.tolerance().unwrap();
        assert!(max >= k);
    }
    back.sort();
    assert_eq!(back, ["a", "a2", "b", "be"]);
    for vm in ["a", "a2", "b", "be"] {
        assert_eq!(vm_host(&d.rt, vm), "h1");
    }
}

#[test]
fn room_a_failback_leaves_goes_at_once_to_a_vm_that_found_none() {
    // m (60) restarts on h3 beside w (30) when h1 fails; then h4 fails and
    // x (70) finds room nowhere (h2 has 50, h3 10, h1 is down). h1 comes
    // back, too small for x, and m's failback migration frees 70 on h3:
    // x starts there at once, not at the next retry a minute later.
    let doc = pool(
        json!({"check_interval_s": 1_000_000, "failback": "return", "host_failures_to_tolerate": 0}),
        vec![
            host("h1", 60),
            host("h2", 100),
            host("h3", 100),
            host("h4", 100),
        ],
        vec![
            vm("m", "h1", 60),
            vm("y", "h2", 50),
            vm("w", "h3", 30),
            vm("x", "h4", 70),
        ],
    );
    let mut d = Driver::settled(doc);
    d.fail_host(1_000, "h1");
    d.start_result(2_000, "m", true);
    assert_eq!(vm_host(&d.rt, "m"), "h3");
    d.fail_host(3_000, "h4");
    assert!(d.rt.awaiting().contains(&"x".to_string()));
    d.feed(10_000, Event::HostUp { host: "h1".into() });
    d.answer_inventories(10_000);
    let m = d.migrate_in_flight();
    assert_eq!(m.len(), 1, "{m:?}");
    let (id, vm, from, to) = m[0].clone();
    assert_eq!((vm.as_str(), from.as_str(), to.as_str()), ("m", "h3", "h1"));
    let before = d.outs.len();
    d.migrated(11_000, id, "m", "h1");
    assert_eq!(
        starts(d.since(before)),
        [("x".to_string(), "h3".to_string(), 1)],
        "x waits beside the room m's failback left"
    );
}

#[test]
fn failback_off_leaves_vms_where_they_are() {
    let mut d = fail_and_return("off");
    d.tick(100_000);
    assert!(
        !d.outs
            .iter()
            .flat_map(|o| &o.actions)
            .any(|a| matches!(a, Action::Migrate { .. }))
    );
}

// ---- 8. refused events ----

#[test]
fn events_about_unknown_hosts_or_vms_are_refused_and_change_nothing() {
    let mut d = Driver::new(three_hosts(json!({})));
    d.answer_probes(0, &[]);
    let before = d.rt.state_json();
    let steps = d.journal.steps();
    type Expected = fn(&RuntimeError) -> bool;
    let refused: Vec<(Event, Expected)> = vec![
        (
            Event::VmCrashed { vm: "ghost".into() },
            |e| matches!(e, RuntimeError::UnknownVm(v) if v == "ghost"),
        ),
        (Event::VmStopped { vm: "ghost".into() }, |e| {
            matches!(e, RuntimeError::UnknownVm(_))
        }),
        (
            Event::VmStarted {
                vm: "ghost".into(),
                host: "h1".into(),
                definition: None,
            },
            |e| matches!(e, RuntimeError::UnknownVm(_)),
        ),
        (
            Event::VmStarted {
                vm: "a".into(),
                host: "nowhere".into(),
                definition: None,
            },
            |e| matches!(e, RuntimeError::UnknownHost(h) if h == "nowhere"),
        ),
        (
            Event::VmMigrated {
                vm: "a".into(),
                host: "nowhere".into(),
            },
            |e| matches!(e, RuntimeError::UnknownHost(_)),
        ),
        (
            Event::HostDown {
                host: "nowhere".into(),
            },
            |e| matches!(e, RuntimeError::UnknownHost(_)),
        ),
        (
            Event::HostUp {
                host: "nowhere".into(),
            },
            |e| matches!(e, RuntimeError::UnknownHost(_)),
        ),
        (
            Event::FenceConfirmed {
                host: "nowhere".into(),
            },
            |e| matches!(e, RuntimeError::UnknownHost(_)),
        ),
        (
            Event::HostMaintenance {
                host: "nowhere".into(),
                enter: true,
            },
            |e| matches!(e, RuntimeError::UnknownHost(_)),
        ),
        (
            // It still runs VMs.
            Event::HostRemoved { host: "h1".into() },
            |e| matches!(e, RuntimeError::Invalid(_)),
        ),
        (
            Event::HostAdded {
                host: json!({"name": "h2", "capacity": {"mem": 1}}),
            },
            |_| true,
        ),
        (
            Event::VmResized {
                vm: "a".into(),
                demand: [("mem".to_string(), -5)].into(),
            },
            |_| true,
        ),
    ];
    for (event, expected) in refused {
        let shown = format!("{event:?}");
        match d.try_feed(99_000, event) {
            Err(e) => assert!(expected(&e), "{shown}: {e:?}"),
            Ok(out) => panic!("{shown} taken: {out:?}"),
        }
        assert_eq!(d.rt.state_json(), before, "{shown} changed the state");
    }
    assert_eq!(d.journal.steps(), steps);
    // Answers nobody asked for are ignored, not refused.
    let out = d.feed(
        99_000,
        Event::FenceResult {
            id: 12_345,
            host: "h1".into(),
            off: true,
            error: None,
        },
    );
    assert!(starts(&[out]).is_empty());
    assert_eq!(host_state(&d.rt, "h1"), HostState::Up);
}

// ---- found while writing these ----

#[test]
fn admission_of_a_new_vm_with_a_resource_the_pool_does_not_have() {
    let d = Driver::new(two_hosts());
    let before = d.rt.state_json();
    let start = |demand: Value| Operation::VmStart {
        vm: "n".into(),
        host: "h2".into(),
        definition: Some(json!({"demand": demand, "restart": "unprotected"})),
    };
    // No host has a GPU: it fits nowhere.
    assert!(matches!(
        d.rt.check_operation(&start(json!({"gpu": 1, "mem": 10})))
            .unwrap(),
        Admission::Refused { .. }
    ));
    // 90 of memory does not fit in h2's 70, whatever else it asks for.
    assert!(matches!(
        d.rt.check_operation(&start(json!({"cpu": 0, "mem": 90})))
            .unwrap(),
        Admission::Refused { .. }
    ));
    // 30 breaks k (x no longer fits on h2), named resources or not.
    assert!(matches!(
        d.rt.check_operation(&start(json!({"cpu": 0, "mem": 30})))
            .unwrap(),
        Admission::WouldOvercommit { .. }
    ));
    assert_eq!(
        d.rt.check_operation(&start(json!({"cpu": 0, "mem": 10})))
            .unwrap(),
        Admission::Allowed { configured: 1 }
    );
    assert_eq!(d.rt.state_json(), before);
}

#[test]
fn a_host_being_confirmed_is_not_stuck_when_its_peer_is_removed() {
    let mut d = Driver::new(three_hosts(json!({})));
    d.answer_probes(0, &["h1"]);
    d.round(10_000, &["h1"]);
    let outs = d.round(20_000, &["h1"]);
    let ask = asks(&outs);
    assert_eq!(ask.len(), 1);
    let peer = ask[0].2.clone();
    // The peer leaves the pool before it answers.
    let other = if peer == "h2" { "c" } else { "d" };
    d.feed(20_100, Event::VmStopped { vm: other.into() });
    d.feed(20_200, Event::HostRemoved { host: peer.clone() });
    let mut t = 20_000;
    while t < 100_000 && declared_down(&d.outs).is_empty() {
        t += 10_000;
        let outs = d.round(t, &["h1"]);
        for (id, host, p) in asks(&outs) {
            assert_ne!(p, peer);
            d.feed(
                t,
                Event::PeerCheck {
                    id,
                    host,
                    peer: p,
                    reachable: false,
                    error: None,
                },
            );
        }
    }
    assert_eq!(declared_down(&d.outs).len(), 1, "h1 is never declared down");
}

#[test]
fn removing_the_target_of_a_drain_neither_strands_the_vm_nor_migrates_to_it() {
    let mut d = Driver::new(three_hosts(json!({"check_interval_s": 1_000_000})));
    d.feed(
        1_000,
        Event::HostMaintenance {
            host: "h1".into(),
            enter: true,
        },
    );
    let m = d.migrate_in_flight();
    assert_eq!(m.len(), 1);
    let (_, moving, _, gone) = m[0].clone();
    // Its target leaves the pool (emptied first) before the answer.
    let other = if gone == "h2" { "c" } else { "d" };
    d.feed(2_000, Event::VmStopped { vm: other.into() });
    let removed_at = d.outs.len();
    let out = d.feed(2_000, Event::HostRemoved { host: gone.clone() });
    // Where the VM runs is asked (it cannot run on a host that left).
    let q: Vec<(u64, String)> = out
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::QueryVm { id, vm } => Some((*id, vm.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(q.len(), 1, "{out:?}");
    assert_eq!(q[0].1, moving);
    d.feed(
        3_000,
        Event::VmStatus {
            id: q[0].0,
            vm: moving.clone(),
            host: Some("h1".into()),
            error: None,
        },
    );
    assert_eq!(vm_host(&d.rt, &moving), "h1");
    // The drain goes on, or is planned again when asked again: never to
    // the host that left.
    let mut t = 3_000;
    let mut asked_again = false;
    loop {
        match d.migrate_in_flight().first().cloned() {
            Some((id, vm, _, to)) => {
                t += 1_000;
                d.migrated(t, id, &vm, &to);
            }
            None if host_state(&d.rt, "h1") == HostState::Up && !asked_again => {
                asked_again = true;
                t += 1_000;
                d.feed(
                    t,
                    Event::HostMaintenance {
                        host: "h1".into(),
                        enter: true,
                    },
                );
            }
            None => break,
        }
        assert!(t < 30_000, "the drain does not end");
    }
    let late = d.outs[removed_at..].iter().flat_map(|o| &o.actions);
    for a in late {
        assert!(
            !matches!(a, Action::Migrate { to, .. } if to == &gone),
            "migrated to {gone} after it left: {a:?}"
        );
    }
    assert!(notes(&d.outs).contains(&Note::MaintenanceReady { host: "h1".into() }));
}

#[test]
fn recovery_keeps_the_fence_backoff_of_a_host_declared_down_while_a_peer_was_asked() {
    let mut d = Driver::new(three_hosts(json!({"check_interval_s": 1_000})));
    d.answer_probes(0, &["h1"]);
    d.round(1_000_000, &["h1"]);
    let outs = d.round(2_000_000, &["h1"]);
    assert_eq!(asks(&outs).len(), 1);
    // An outside monitor says h1 is down before the peer answers; every
    // fence level fails.
    d.monitor_down(2_000_100, "h1");
    d.fence_fails(2_000_200, "h1");
    let out = d.fence(2_000_300, "h1", false);
    let retry_at = out
        .alerts
        .iter()
        .find_map(|a| match a {
            Alert::FencingFailed { retry_at, .. } => Some(*retry_at),
            _ => None,
        })
        .expect("fencing failed");
    let bytes = d.journal.get_ref().clone();
    let (rep, _, out) = log::recover(Cursor::new(bytes), 2_001_000).expect("recovers");
    assert!(
        !out.actions
            .iter()
            .any(|a| matches!(a, Action::Inventory { host, .. } if host == "h1")),
        "h1 is taken as up: {out:?}"
    );
    let mut r = Driver::resume(rep.runtime, out, Journal::resume(Vec::new(), 0));
    let out = r.tick_heard(retry_at, &["h1"]);
    assert_eq!(
        fences(&[out]),
        [("h1".to_string(), 0, "fence_ipmilan".to_string())],
        "the fence round after the backoff was lost"
    );
    assert!(starts(&r.outs).is_empty());
}

#[test]
fn a_restart_planned_onto_a_host_gone_into_maintenance_goes_elsewhere() {
    let doc = pool(
        json!({"check_interval_s": 1_000_000}),
        vec![
            host("h1", 100),
            host("h2", 100),
            host("h3", 100),
            host("h4", 100),
        ],
        vec![
            with(vm("a", "h1", 10), json!({"order": 0, "start_delay_s": 30})),
            with(vm("b", "h1", 10), json!({"order": 1})),
            vm("c", "h2", 10),
            vm("d", "h3", 10),
            vm("e", "h4", 10),
        ],
    );
    let mut d = Driver::settled(doc);
    d.fail_host(1_000, "h1");
    d.start_result(2_000, "a", true);
    // b waits for a's start delay, its target chosen.
    let phase = d.rt.state_json()["vms"]["b"]["phase"].clone();
    assert_eq!(phase["phase"], "planned", "{phase}");
    let target = phase["host"].as_str().unwrap().to_string();
    d.feed(
        3_000,
        Event::HostMaintenance {
            host: target.clone(),
            enter: true,
        },
    );
    d.migrate_all(3_000);
    assert_eq!(host_state(&d.rt, &target), HostState::Maintenance);
    let out = d.tick(32_000);
    let s = starts(&[out]);
    assert_eq!(s.len(), 1, "{s:?}");
    assert_eq!(s[0].0, "b");
    assert_ne!(s[0].1, target, "b started on a host in maintenance");
}

// ---- 9. the safety rules (docs/runtime.md) ----

/// Hosts h1..hn of 100, each running a protected VM of 10 (v1..vn).
fn n_hosts(n: usize, ha: Value) -> Value {
    pool(
        ha,
        (1..=n).map(|i| host(&format!("h{i}"), 100)).collect(),
        (1..=n)
            .map(|i| vm(&format!("v{i}"), &format!("h{i}"), 10))
            .collect(),
    )
}

impl Driver {
    /// Answers every peer question in flight: `Some(r)` the peer reaches
    /// the host or not, `None` it could not tell.
    fn answer_peers(&mut self, at: Millis, reachable: Option<bool>) -> Vec<Output> {
        let asked: Vec<(u64, String, String)> = self
            .rt
            .in_flight()
            .filter_map(|a| match a {
                Action::AskPeer { id, host, peer } => Some((*id, host.clone(), peer.clone())),
                _ => None,
            })
            .collect();
        asked
            .into_iter()
            .map(|(id, host, peer)| {
                self.feed(
                    at,
                    Event::PeerCheck {
                        id,
                        host,
                        peer,
                        reachable: reachable.unwrap_or(false),
                        error: reachable.is_none().then(|| "no peer path".into()),
                    },
                )
            })
            .collect()
    }

    /// Answers the inventories in flight as `listing` says of each host.
    fn answer_inventories_with(
        &mut self,
        at: Millis,
        listing: impl Fn(&str) -> Listing,
    ) -> Vec<Output> {
        let asked: Vec<(u64, String)> = self
            .rt
            .in_flight()
            .filter_map(|a| match a {
                Action::Inventory { id, host } => Some((*id, host.clone())),
                _ => None,
            })
            .collect();
        let mut outs = Vec::new();
        for (id, host) in asked {
            let (vms, error) = match listing(&host) {
                Listing::Runs(vms) => (vms.into_iter().map(String::from).collect(), None),
                Listing::Fails => (Vec::new(), Some("the listing failed".to_string())),
                Listing::Silent => continue,
            };
            outs.push(self.feed(
                at,
                Event::Inventory {
                    id,
                    host,
                    vms,
                    error,
                    demand: Default::default(),
                },
            ));
        }
        outs
    }

    /// The ids of the actions in flight that `pick` selects.
    fn in_flight_ids(&self, pick: impl Fn(&Action) -> bool) -> Vec<u64> {
        self.rt
            .in_flight()
            .filter(|a| pick(a))
            .map(|a| a.id())
            .collect()
    }

    /// Every output fed since output number `from`.
    fn since(&self, from: usize) -> &[Output] {
        &self.outs[from..]
    }
}

/// What a host's inventory answers.
enum Listing {
    Runs(Vec<&'static str>),
    Fails,
    /// No answer (yet).
    Silent,
}

fn runs(vms: &[&'static str]) -> Listing {
    Listing::Runs(vms.to_vec())
}

fn actions(outs: &[Output]) -> Vec<Action> {
    outs.iter().flat_map(|o| o.actions.clone()).collect()
}

fn stops(outs: &[Output]) -> Vec<(String, String)> {
    actions(outs)
        .into_iter()
        .filter_map(|a| match a {
            Action::StopVm { vm, host, .. } => Some((vm, host)),
            _ => None,
        })
        .collect()
}

fn queries(outs: &[Output]) -> Vec<String> {
    actions(outs)
        .into_iter()
        .filter_map(|a| match a {
            Action::QueryVm { vm, .. } => Some(vm),
            _ => None,
        })
        .collect()
}

fn unanswered(outs: &[Output]) -> Vec<Action> {
    alerts(outs)
        .into_iter()
        .filter_map(|a| match a {
            Alert::RequestUnanswered { action } => Some(action),
            _ => None,
        })
        .collect()
}

/// (host, confirmed_by, majority) of every host declared down.
fn declarations(outs: &[Output]) -> Vec<(String, Option<String>, Option<[u32; 2]>)> {
    notes(outs)
        .into_iter()
        .filter_map(|n| match n {
            Note::HostDeclaredDown {
                host,
                confirmed_by,
                majority,
            } => Some((host, confirmed_by, majority)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_suspect_host_is_declared_down_only_with_a_peer_or_a_majority() {
    // No peer can tell (the peer path fails), but both other hosts of three
    // answer the runtime: a strict majority confirms.
    let mut d = Driver::settled(n_hosts(3, json!({})));
    for t in [10_000, 20_000, 30_000] {
        d.round(t, &["h1"]);
    }
    assert_eq!(asks(&d.outs).len(), 1);
    d.answer_peers(30_100, None);
    assert!(declarations(&d.outs).is_empty(), "declared on a peer error");
    // Only answers given after the peer failed to tell count.
    d.round(40_000, &["h1"]);
    assert_eq!(
        declarations(&d.outs),
        [("h1".to_string(), None, Some([2, 3]))]
    );
    assert_eq!(fences(&d.outs).len(), 1);

    // Four hosts, two of them silent to the runtime (alive: their VMs run
    // on) and no peer that can tell: two answers of four are no majority.
    let mut d = Driver::settled(n_hosts(4, json!({})));
    for i in 1..=12 {
        d.round(i * 10_000, &["h1", "h2"]);
        d.answer_peers(i * 10_000 + 100, None);
    }
    assert!(
        declarations(&d.outs).is_empty(),
        "{:?}",
        declarations(&d.outs)
    );
    assert!(fences(&d.outs).is_empty());
    assert!(starts(&d.outs).is_empty());
    let unconfirmed: Vec<String> = alerts(&d.outs)
        .into_iter()
        .filter_map(|a| match a {
            Alert::HostUnconfirmed { host, .. } => Some(host),
            _ => None,
        })
        .collect();
    // One alert per host and episode, however long it lasts.
    assert_eq!(unconfirmed, ["h1", "h2"]);
    assert!(!d.rt.isolated());

    // The same four hosts, but a peer that answers the runtime says it
    // cannot reach them either, with half of the hosts answering: that is
    // a confirmation.
    let mut d = Driver::settled(n_hosts(4, json!({})));
    for t in [10_000, 20_000, 30_000] {
        d.round(t, &["h1", "h2"]);
    }
    d.answer_peers(30_100, Some(false));
    let mut down: Vec<String> = declarations(&d.outs)
        .into_iter()
        .map(|(h, by, majority)| {
            assert!(
                by.is_some() && majority.is_none(),
                "{h} {by:?} {majority:?}"
            );
            h
        })
        .collect();
    down.sort();
    assert_eq!(down, ["h1", "h2"]);
}

#[test]
fn a_peer_confirmation_waits_for_the_answers_still_to_come() {
    // Four hosts; h1 and h2 die together. In the round that makes them
    // suspect, the peer's word comes before h4 answered that round: with h4
    // half of the hosts answer, so the runtime waits for h4 instead of
    // giving up on them (the end-to-end bench saw h2 given up for a round,
    // and chosen as a restart target meanwhile).
    let mut d = Driver::settled(n_hosts(4, json!({})));
    for t in [10_000, 20_000] {
        d.round(t, &["h1", "h2"]);
    }
    let from = d.outs.len();
    d.tick(30_000);
    let probes: Vec<(u64, String)> =
        d.rt.in_flight()
            .filter_map(|a| match a {
                Action::Probe { id, host } => Some((*id, host.clone())),
                _ => None,
            })
            .collect();
    let h4 = probes.iter().find(|(_, h)| h == "h4").unwrap().0;
    for (id, host) in probes.iter().filter(|(_, h)| h != "h4") {
        let ok = host == "h3";
        d.feed(
            30_010,
            Event::HealthCheck {
                id: *id,
                host: host.clone(),
                ping: ok,
                api: ok,
            },
        );
    }
    assert_eq!(asks(&d.outs[from..]).len(), 2);
    d.answer_peers(30_020, Some(false));
    assert!(
        declarations(&d.outs[from..]).is_empty(),
        "declared on one answer of four"
    );
    assert!(
        !alerts(&d.outs[from..])
            .iter()
            .any(|a| matches!(a, Alert::HostUnconfirmed { .. })),
        "given up while h4's answer was still to come: {:?}",
        alerts(&d.outs[from..])
    );
    d.feed(
        30_030,
        Event::HealthCheck {
            id: h4,
            host: "h4".into(),
            ping: true,
            api: true,
        },
    );
    let mut down: Vec<String> = declarations(&d.outs[from..])
        .into_iter()
        .map(|(h, by, _)| {
            assert_eq!(by.as_deref(), Some("h3"), "{h}");
            h
        })
        .collect();
    down.sort();
    assert_eq!(down, ["h1", "h2"]);
}

#[test]
fn a_runtime_that_loses_most_of_the_pool_fences_nothing() {
    let mut d = Driver::settled(n_hosts(5, json!({"check_interval_s": 2})));
    // h5 really failed: an outside monitor says so, and its fence devices
    // do not answer (the next round is due at 6 s).
    d.monitor_down(1_000, "h5");
    d.fence_fails(1_000, "h5");
    d.fence(1_000, "h5", false);
    assert!(
        alerts(&d.outs).iter().any(
            |a| matches!(a, Alert::FencingFailed { host, retry_at: 6_000, .. } if host == "h5")
        )
    );
    // Then the runtime's own network fails: of h1..h4 only h4 answers it.
    // Peers are asked (h4), and say the worst: they cannot reach them.
    let from = d.outs.len();
    let mut t = 2_000;
    while t <= 120_000 {
        d.round(t, &["h1", "h2", "h3", "h5"]);
        d.answer_peers(t + 100, Some(false));
        t += 2_000;
    }
    let during = d.since(from);
    let isolated: Vec<Alert> = alerts(during)
        .into_iter()
        .filter(|a| matches!(a, Alert::RuntimeIsolated { .. }))
        .collect();
    // Raised once, as soon as fewer than half of the five answer.
    assert!(
        matches!(&isolated[..], [Alert::RuntimeIsolated { reachable, hosts: 5, unreachable }]
            if 2 * reachable < 5 && unreachable.iter().any(|h| h == "h1")),
        "{isolated:?}"
    );
    assert!(d.rt.isolated());
    assert!(
        declarations(during).is_empty(),
        "{:?}",
        declarations(during)
    );
    // Not even the fence of h5, whose retry came due meanwhile.
    assert!(fences(during).is_empty(), "{:?}", fences(during));
    assert!(starts(during).is_empty());
    // Its network back, the runtime takes up h5's fencing again, and only
    // that.
    let from = d.outs.len();
    d.round(t, &["h5"]);
    assert!(notes(d.since(from)).contains(&Note::IsolationEnded));
    assert!(!d.rt.isolated());
    let f = fences(d.since(from));
    assert_eq!(f, [("h5".to_string(), 0, "fence_ipmilan".to_string())]);
    assert_eq!(host_state(&d.rt, "h1"), HostState::Up);
}

/// The probes in flight, by host.
fn probes_in_flight(d: &Driver) -> Vec<String> {
    d.rt.in_flight()
        .filter_map(|a| match a {
            Action::Probe { host, .. } => Some(host.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn each_fence_request_waits_for_fresh_answers_from_half_of_the_pool() {
    let mut d = Driver::settled(n_hosts(5, json!({"check_interval_s": 2})));
    // An outside monitor says h5 is down: the runtime takes its word, but
    // its first fence waits, like every later one, until half of the pool
    // answers probes sent since; they go out at once.
    let out = d.feed(1_000, Event::HostDown { host: "h5".into() });
    assert!(fences(std::slice::from_ref(&out)).is_empty(), "{out:?}");
    assert_eq!(d.rt.host_statuses()["h5"], "fence_hold");
    let mut asked = probes_in_flight(&d);
    asked.sort();
    assert_eq!(asked, ["h1", "h2", "h3", "h4"]);
    let out = d.hear(1_000, &["h5"]);
    assert_eq!(
        fences(&[out]),
        [("h5".to_string(), 0, "fence_ipmilan".to_string())]
    );
    // The runtime probes the pool; the answers are slow to come (its
    // network may have just failed). Level 0 fails meanwhile: level 1
    // waits, nothing new is known of the pool since the decision.
    d.tick(3_000);
    let out = d.fence(3_100, "h5", false);
    assert!(
        out.notes
            .iter()
            .any(|n| matches!(n, Note::FenceFailed { level: 0, .. }))
    );
    assert!(fences(std::slice::from_ref(&out)).is_empty(), "{out:?}");
    assert_eq!(d.rt.host_statuses()["h5"], "fence_hold");
    // Answers to probes sent before the failure do not count: the hosts
    // are asked again at once.
    let outs = d.answer_probes(3_500, &["h5"]);
    assert!(fences(&outs).is_empty(), "{:?}", fences(&outs));
    let mut asked = probes_in_flight(&d);
    asked.sort();
    assert_eq!(asked, ["h1", "h2", "h3", "h4"]);
    // And they do not answer: the runtime finds itself cut off, and
    // sends no fence for as long as it is.
    let from = d.outs.len();
    d.answer_probes(5_500, &["h1", "h2", "h3", "h4"]);
    let mut t = 6_000;
    while t <= 60_000 {
        d.round(t, &["h1", "h2", "h3", "h4", "h5"]);
        t += 2_000;
    }
    assert!(d.rt.isolated());
    assert!(
        fences(d.since(from)).is_empty(),
        "{:?}",
        fences(d.since(from))
    );
    assert!(declarations(d.since(from)).is_empty());
    // Its network back, level 1 goes out.
    let from = d.outs.len();
    d.round(t, &["h5"]);
    assert!(!d.rt.isolated());
    assert_eq!(
        fences(d.since(from)),
        [("h5".to_string(), 1, "fence_pdu".to_string())]
    );
    // Every level failed: the next round, due after the backoff, waits for
    // fresh answers too.
    let out = d.fence(t, "h5", false);
    let retry_at = out
        .alerts
        .iter()
        .find_map(|a| match a {
            Alert::FencingFailed { retry_at, .. } => Some(*retry_at),
            _ => None,
        })
        .expect("fencing failed");
    let out = d.tick(retry_at);
    assert!(fences(std::slice::from_ref(&out)).is_empty(), "{out:?}");
    assert!(!probes_in_flight(&d).is_empty());
    let out = d.hear(retry_at + 100, &["h5"]);
    assert_eq!(
        fences(&[out]),
        [("h5".to_string(), 0, "fence_ipmilan".to_string())]
    );
    assert!(starts(&d.outs).is_empty());
}

#[test]
fn amounts_an_inventory_gives_replace_the_records() {
    // x (60) cannot restart on h2 beside y and z (30 each)... until z's
    // definition, shrunk to 10 while nobody told the runtime, is listed.
    let mut d = x_waiting_beside(vm("z", "h2", 30));
    d.tick(61_000);
    let ids = d.in_flight_ids(|a| matches!(a, Action::Inventory { host, .. } if host == "h2"));
    assert_eq!(ids.len(), 1);
    let demand = [
        ("z".to_string(), [("mem".to_string(), 10)].into()),
        // Not listed there, or not a resource of the pool: left out.
        ("y".to_string(), [("gpu".to_string(), 1)].into()),
        ("x".to_string(), [("mem".to_string(), 1)].into()),
    ]
    .into();
    let out = d.feed(
        61_100,
        Event::Inventory {
            id: ids[0],
            host: "h2".into(),
            vms: vec!["y".into(), "z".into()],
            error: None,
            demand,
        },
    );
    assert!(out.notes.contains(&Note::VmResizedSeen {
        vm: "z".into(),
        host: "h2".into(),
        demand: [("mem".to_string(), 10)].into(),
    }));
    let p = d.rt.pool();
    let amount = |vm: &str| p.vms[p.vm_by_name(vm).expect("known")].demand[0];
    assert_eq!((amount("x"), amount("y"), amount("z")), (60, 30, 10));
    assert_eq!(
        starts(&[out]),
        [("x".to_string(), "h2".to_string(), 1)],
        "x waits although z shrank"
    );
}

/// Two hosts of 100: x (60) on h1, y (30) and `third` on h2. h1 fails
/// (fenced at 1 s), and x, with no room beside them, waits
/// (`restart_failed`).
fn x_waiting_beside(third: Value) -> Driver {
    let doc = pool(
        json!({"check_interval_s": 1_000_000}),
        vec![host("h1", 100), host("h2", 100)],
        vec![vm("x", "h1", 60), vm("y", "h2", 30), third],
    );
    let mut d = Driver::settled(doc);
    d.fail_host(1_000, "h1");
    assert!(starts(&d.outs).is_empty());
    assert!(
        alerts(&d.outs)
            .iter()
            .any(|a| matches!(a, Alert::RestartFailed { vm, .. } if vm == "x"))
    );
    d
}

/// h2's next listing (a minute on) lacks u, and u is looked for (x's
/// retry at that tick finds no room yet). Returns how many outputs came
/// before that listing, and when the query went out.
fn u_missing_from_h2(d: &mut Driver) -> (usize, Millis) {
    d.tick(61_000);
    let from = d.outs.len();
    let ids = d.in_flight_ids(|a| matches!(a, Action::Inventory { host, .. } if host == "h2"));
    assert_eq!(ids.len(), 1);
    d.feed(
        61_100,
        Event::Inventory {
            id: ids[0],
            host: "h2".into(),
            vms: vec!["y".into()],
            error: None,
            demand: Default::default(),
        },
    );
    let mut t = 61_100;
    while d
        .in_flight_ids(|a| matches!(a, Action::QueryVm { vm, .. } if vm == "u"))
        .is_empty()
    {
        assert!(t < 80_000, "u was never looked for");
        t += 500;
        d.tick(t);
    }
    (from, t)
}

#[test]
fn room_freed_by_a_vm_the_runtime_halts_goes_at_once_to_a_vm_that_found_none() {
    // x (60) cannot restart on h2 beside y and u (30 each). u, unprotected,
    // crashes and is not restarted: its room is free, and x starts there
    // at once, not at the next retry of VMs without room a minute later.
    // The same when u is found nowhere (its host lists it no more).
    for found_nowhere in [false, true] {
        let mut d = x_waiting_beside(with(vm("u", "h2", 30), json!({"restart": "unprotected"})));
        let mut from = d.outs.len();
        if found_nowhere {
            // Found nowhere, halted.
            let (outs, t) = u_missing_from_h2(&mut d);
            from = outs;
            nowhere(&mut d, "u", t + 10);
        } else {
            d.feed(2_000, Event::VmCrashed { vm: "u".into() });
        }
        let p = d.rt.pool();
        let u = &p.vms[p.vm_by_name("u").expect("known")];
        assert!(
            !u.power.is_active(),
            "u was meant to be halted (found nowhere: {found_nowhere})"
        );
        assert_eq!(
            starts(d.since(from)),
            [("x".to_string(), "h2".to_string(), 1)],
            "x waits beside the room u left (found nowhere: {found_nowhere})"
        );
    }
}

#[test]
fn vms_whose_starts_all_fail_do_not_re_plan_each_other_without_end() {
    // h1 fails with a and b (60 each); h2 (y, 30) has room for one of
    // them, and every start fails. The room the failed starts held is not
    // handed at once to the other VM (which would fail and hand it back):
    // in 20 s, in both HA modes, one start, not hundreds.
    for mode in ["host", "vm"] {
        let doc = pool(
            json!({"mode": mode, "check_interval_s": 1_000_000, "restart_retries": 0,
                   "retry_interval_s": 0}),
            vec![host("h1", 100), host("h2", 100)],
            vec![vm("a", "h1", 60), vm("b", "h1", 60), vm("y", "h2", 30)],
        );
        let mut d = Driver::settled(doc);
        if mode == "host" {
            d.fail_host(1_000, "h1");
        } else {
            d.feed(1_000, Event::VmCrashed { vm: "a".into() });
            d.feed(1_000, Event::VmCrashed { vm: "b".into() });
        }
        let mut t = 1_000;
        while t < 21_000 {
            t += 100;
            for vm in ["a", "b"] {
                if d.rt
                    .in_flight()
                    .any(|x| matches!(x, Action::StartVm { vm: v, .. } if v == vm))
                {
                    d.start_result(t, vm, false);
                }
            }
            d.tick(t);
        }
        let n = starts(&d.outs).len();
        assert!(n <= 2, "{n} starts in 20 s (mode {mode})");
    }
}

/// Three hosts of 100: x (60) on h1, y and u (30 each) on h2, w (60) on h3.
/// h1 fails (fenced at 1 s) and x, with room nowhere, waits.
fn x_waiting_beside_u() -> Driver {
    let doc = pool(
        json!({"check_interval_s": 1_000_000}),
        vec![host("h1", 100), host("h2", 100), host("h3", 100)],
        vec![
            vm("x", "h1", 60),
            vm("y", "h2", 30),
            vm("u", "h2", 30),
            vm("w", "h3", 60),
        ],
    );
    let mut d = Driver::settled(doc);
    d.fail_host(1_000, "h1");
    assert!(starts(&d.outs).is_empty());
    d
}

#[test]
fn room_left_by_a_vm_found_or_reported_on_another_host_goes_at_once_to_a_vm_that_found_none() {
    // u moves from h2 to h3 (someone migrated it, or started it there:
    // reported; or found there after h2's listing lacked it): x starts at
    // once in the room u left on h2.
    for how in ["migrated", "started", "found"] {
        let mut d = x_waiting_beside_u();
        let mut from = d.outs.len();
        if how == "migrated" {
            d.feed(
                2_000,
                Event::VmMigrated {
                    vm: "u".into(),
                    host: "h3".into(),
                },
            );
        } else if how == "started" {
            // Said to run on h3, started there by someone else.
            d.feed(
                2_000,
                Event::VmStarted {
                    vm: "u".into(),
                    host: "h3".into(),
                    definition: None,
                },
            );
        } else {
            let (outs, t) = u_missing_from_h2(&mut d);
            from = outs;
            let id = d.in_flight_ids(|a| matches!(a, Action::QueryVm { vm, .. } if vm == "u"))[0];
            d.feed(
                t + 10,
                Event::VmStatus {
                    id,
                    vm: "u".into(),
                    host: Some("h3".into()),
                    error: None,
                },
            );
        }
        assert_eq!(vm_host(&d.rt, "u"), "h3");
        assert_eq!(
            starts(d.since(from)),
            [("x".to_string(), "h2".to_string(), 1)],
            "x waits beside the room u left ({how})"
        );
    }
}

#[test]
fn a_restart_goes_only_to_a_host_that_answers_its_probes() {
    // Only h2 has room for x (60); h2 misses a probe (not declared down:
    // three are needed) when h1 fails. (h4, too small for x, makes half of
    // the pool with h3: the fence of h1 needs their answers.)
    let doc = pool(
        json!({"check_interval_s": 10}),
        vec![
            host("h1", 100),
            host("h2", 100),
            host("h3", 100),
            host("h4", 5),
        ],
        vec![vm("x", "h1", 60), vm("y", "h2", 10), vm("z", "h3", 50)],
    );
    let mut d = Driver::settled(doc);
    d.round(10_000, &["h2"]);
    let from = d.outs.len();
    d.monitor_down_while(11_000, "h1", &["h2"]);
    d.fence(11_000, "h1", true);
    assert!(
        starts(d.since(from)).is_empty(),
        "{:?}",
        starts(d.since(from))
    );
    // It waits quietly for h2's answer (h2 is not known to be short of
    // room).
    assert!(
        !alerts(d.since(from))
            .iter()
            .any(|a| matches!(a, Alert::RestartFailed { .. })),
        "{:?}",
        alerts(d.since(from))
    );
    let from = d.outs.len();
    d.round(21_000, &["h1"]);
    assert_eq!(
        starts(d.since(from)),
        [("x".to_string(), "h2".to_string(), 1)]
    );
    d.start_result(21_100, "x", true);
    // A start planned onto a host that then misses a probe is planned
    // again: b (order 1) waits for a's start delay, its target chosen; that
    // host misses a probe meanwhile, and b goes to the other one.
    let doc = pool(
        json!({"check_interval_s": 10}),
        vec![host("h1", 100), host("h2", 100), host("h3", 100)],
        vec![
            with(vm("a", "h1", 10), json!({"order": 0, "start_delay_s": 30})),
            with(vm("b", "h1", 40), json!({"order": 1})),
            vm("y", "h2", 10),
            vm("z", "h3", 10),
        ],
    );
    let mut d = Driver::settled(doc);
    d.fail_host(1_000, "h1");
    d.start_result(1_100, "a", true);
    let phase = d.rt.state_json()["vms"]["b"]["phase"].clone();
    assert_eq!(phase["phase"], "planned", "{phase}");
    let target = phase["host"].as_str().unwrap().to_string();
    let other = if target == "h2" { "h3" } else { "h2" };
    let from = d.outs.len();
    d.round(10_000, &["h1", &target]);
    d.round(20_000, &["h1", &target]);
    d.round(31_100, &["h1", &target]);
    let b: Vec<_> = starts(d.since(from))
        .into_iter()
        .filter(|s| s.0 == "b")
        .collect();
    assert_eq!(b, [("b".to_string(), other.to_string(), 1)]);
}

#[test]
fn a_vm_removed_with_its_host_leaves_no_late_landing_behind() {
    let doc = pool(
        json!({"check_interval_s": 1_000_000, "restart_retries": 0}),
        vec![host("h1", 100), host("h2", 100), host("h3", 100)],
        vec![vm("x", "h1", 10)],
    );
    let mut d = Driver::settled(doc);
    d.fail_host(1_000, "h1");
    let (_, target, _) = d.start_in_flight("x");
    // The start gets no answer: it may still land there.
    d.tick(1_000 + 120_000);
    let late = d.rt.state_json()["late_landings"].clone();
    assert!(late.get("x").is_some(), "{late}");
    // The operator stops x, then removes its host (and x with it).
    d.feed(130_000, Event::VmStopped { vm: "x".into() });
    d.feed(
        130_000,
        Event::HostRemoved {
            host: target.clone(),
        },
    );
    assert!(d.rt.pool().vm_by_name("x").is_none());
    let state = d.rt.state_json();
    assert_eq!(state["late_landings"], json!({}), "{state}");
    // A new x elsewhere is not pinned to the host that is gone.
    let other = if target == "h2" { "h3" } else { "h2" };
    d.feed(
        140_000,
        Event::VmStarted {
            vm: "x".into(),
            host: other.into(),
            definition: Some(json!({"name": "x", "host": other, "demand": {"mem": 10}})),
        },
    );
    assert_eq!(d.rt.state_json()["late_landings"], json!({}));
}

#[test]
fn a_fresh_or_resumed_runtime_reconciles_before_it_acts() {
    // Fresh: the pool file has h1 down, its VM a awaiting a restart; but a
    // already runs on h2 (someone restarted it), and d, on h3, crashed
    // while nobody listened.
    let mut doc = n_hosts(3, json!({"check_interval_s": 1_000_000}));
    doc["hosts"][0]["state"] = json!("down");
    doc["vms"] = json!([vm("a", "h1", 10), vm("c", "h2", 10), vm("d", "h3", 10)]);
    let (rt, first) = Runtime::new(doc.clone(), 0).expect("a valid pool");
    let mut d = Driver {
        rt,
        outs: vec![first],
        states: Vec::new(),
        journal: Journal::start(Vec::new(), &doc, 0).expect("in memory"),
    };
    assert!(d.rt.reconciling());
    assert!(starts(&d.outs).is_empty(), "started before any listing");
    d.answer_inventories_with(10, |h| match h {
        "h2" => runs(&["c", "a"]),
        _ => Listing::Silent,
    });
    // h3 not listed yet: still nothing started.
    assert!(starts(&d.outs).is_empty(), "{:?}", starts(&d.outs));
    assert!(d.rt.reconciling());
    d.answer_inventories_with(20, |_| runs(&[]));
    assert!(!d.rt.reconciling());
    assert!(notes(&d.outs).contains(&Note::Reconciled));
    assert!(notes(&d.outs).contains(&Note::VmFound {
        vm: "a".into(),
        host: Some("h2".into()),
    }));
    assert_eq!(vm_host(&d.rt, "a"), "h2");
    // a is never started; d, crashed on its healthy host, is, there.
    assert_eq!(starts(&d.outs), [("d".to_string(), "h3".to_string(), 1)]);

    // Resumed: c moved from h2 to h3 while the runtime was down. h2's
    // listing lacks it; until h3 has listed its VMs, c is not started.
    let mut d = Driver::settled(three_hosts(json!({"check_interval_s": 1_000_000})));
    d.tick(5_000);
    let bytes = d.journal.get_ref().clone();
    let steps = d.journal.steps();
    let (rep, input, out) = log::recover(Cursor::new(bytes.clone()), 9_000).expect("recovers");
    let mut journal = Journal::resume(bytes, steps);
    journal.append(&input, &out).expect("in memory");
    let mut r = Driver::resume_unreconciled(rep.runtime, out, journal);
    assert!(r.rt.reconciling());
    let mut asked: Vec<String> = actions(&r.outs)
        .into_iter()
        .filter_map(|a| match a {
            Action::Inventory { host, .. } => Some(host),
            _ => None,
        })
        .collect();
    asked.sort();
    assert_eq!(asked, ["h1", "h2", "h3"]);
    r.answer_inventories_with(9_100, |h| match h {
        "h1" => runs(&["a", "a2", "b", "be", "un"]),
        "h2" => runs(&[]),
        _ => Listing::Fails,
    });
    assert!(starts(&r.outs).is_empty(), "{:?}", starts(&r.outs));
    // h3's listing failed: asked again a check interval (1,000,000 s)
    // later; it lists c (and d).
    r.tick(9_100 + 1_000_000_000);
    r.answer_inventories_with(9_100 + 1_000_000_000, |h| match h {
        "h3" => runs(&["c", "d"]),
        _ => Listing::Silent,
    });
    assert!(!r.rt.reconciling());
    assert_eq!(vm_host(&r.rt, "c"), "h3");
    assert!(starts(&r.outs).is_empty(), "{:?}", starts(&r.outs));

    // A host that answers probes but never lists its VMs holds the runtime
    // back at most RECONCILE_MAX_MS (60 s), then it is named and the
    // runtime acts (h1 is down in the file: a is restarted).
    let (rt, first) = Runtime::new(doc.clone(), 0).expect("a valid pool");
    let mut d = Driver {
        rt,
        outs: vec![first],
        states: Vec::new(),
        journal: Journal::start(Vec::new(), &doc, 0).expect("in memory"),
    };
    d.answer_probes(0, &[]);
    let mut t = 0;
    while t < 59_000 {
        t += 1_000;
        d.tick(t);
        d.answer_inventories_with(t, |h| match h {
            "h3" => runs(&["d"]),
            _ => Listing::Fails,
        });
    }
    assert!(starts(&d.outs).is_empty(), "{:?}", starts(&d.outs));
    let out = d.tick(60_000);
    assert!(out.alerts.contains(&Alert::ReconcileIncomplete {
        hosts: vec!["h2".into()],
    }));
    let s = started_vms(std::slice::from_ref(&out));
    assert_eq!(s, ["a"]);
}

/// Three hosts each running one VM (a on h1, c on h2, d on h3, probed
/// every 10 s); h1 fails and is fenced, and the start of a is in flight:
/// the driver, and the host that start went to.
fn a_restarted_from_h1() -> (Driver, String) {
    let doc = pool(
        json!({"check_interval_s": 10}),
        vec![host("h1", 100), host("h2", 100), host("h3", 100)],
        vec![vm("a", "h1", 10), vm("c", "h2", 10), vm("d", "h3", 10)],
    );
    let mut d = Driver::settled(doc);
    d.fail_host(1_000, "h1");
    let (_, target, _) = d.start_in_flight("a");
    (d, target)
}

#[test]
fn a_fenced_host_returning_with_a_copy_is_inventoried_and_the_copy_stopped() {
    let (mut d, target) = a_restarted_from_h1();
    d.start_result(2_000, "a", true);
    assert_eq!(vm_host(&d.rt, "a"), target);
    // h1 is repaired and starts a again (libvirt autostart): it answers a
    // probe (the pool was last probed at 1 s, before h1's fence), and is
    // listed before it counts as up.
    let from = d.outs.len();
    d.tick(11_000);
    d.answer_probes(11_000, &[]);
    assert!(notes(d.since(from)).contains(&Note::HostReturning { host: "h1".into() }));
    assert_eq!(d.rt.host_statuses()["h1"], "returning");
    assert_eq!(host_state(&d.rt, "h1"), HostState::Down, "up before listed");
    let listing = |target: String| {
        move |h: &str| match h {
            "h1" => runs(&["a"]),
            "h2" if target == "h2" => runs(&["c", "a"]),
            "h2" => runs(&["c"]),
            _ if target == "h3" => runs(&["d", "a"]),
            _ => runs(&["d"]),
        }
    };
    d.answer_inventories_with(11_100, listing(target.clone()));
    assert_eq!(d.rt.host_statuses()["h1"], "up");
    assert!(notes(d.since(from)).contains(&Note::DuplicateSuspected {
        vm: "a".into(),
        hosts: vec!["h1".into(), target.clone()],
    }));
    // One listing is not enough: both hosts are listed again first.
    assert!(stops(d.since(from)).is_empty());
    let again: Vec<u64> = d.in_flight_ids(|a| matches!(a, Action::Inventory { .. }));
    assert_eq!(again.len(), 2, "{again:?}");
    d.answer_inventories_with(11_200, listing(target.clone()));
    assert!(alerts(d.since(from)).contains(&Alert::DuplicateVm {
        vm: "a".into(),
        hosts: vec!["h1".into(), target.clone()],
        kept: target.clone(),
    }));
    // The copy the runtime started is kept; the one that came back stops.
    assert_eq!(stops(&d.outs), [("a".to_string(), "h1".to_string())]);
    let id = d.in_flight_ids(|a| matches!(a, Action::StopVm { .. }))[0];
    let out = d.feed(
        11_300,
        Event::VmStopResult {
            id,
            vm: "a".into(),
            host: "h1".into(),
            ok: true,
            error: None,
        },
    );
    assert!(out.notes.contains(&Note::DuplicateStopped {
        vm: "a".into(),
        host: "h1".into(),
    }));
    assert_eq!(vm_host(&d.rt, "a"), target);
    assert_eq!(stops(&d.outs).len(), 1);
    assert_eq!(starts(&d.outs).len(), 1);
}

#[test]
fn a_start_without_an_answer_is_not_sent_again_while_a_returning_host_lists_the_vm() {
    // h1 fails and is fenced; the start of a elsewhere gets no answer.
    // Meanwhile h1 comes back and starts a itself (libvirt autostart
    // keeps its list across the fence). When the start's deadline passes,
    // a is in doubt: it is looked for, and found on h1, not started again
    // where the unanswered start went (the last check before that start
    // would refuse it: h1 lists it running).
    let (mut d, target) = a_restarted_from_h1();
    let from = d.outs.len();
    d.tick(11_000);
    d.answer_probes(11_000, &[]);
    d.answer_inventories_with(11_100, |h| match h {
        "h1" => runs(&["a"]),
        "h2" => runs(&["c"]),
        _ => runs(&["d"]),
    });
    assert_eq!(d.rt.host_statuses()["h1"], "up");
    // The start is still under way: its answer (or deadline) decides.
    assert_eq!(d.start_in_flight("a").1, target);
    let mut t = 11_100;
    while !alerts(d.since(from)).iter().any(|a| {
        matches!(
            a,
            Alert::RequestUnanswered {
                action: Action::StartVm { .. }
            }
        )
    }) {
        t += 1_000;
        assert!(t < 600_000, "the start never timed out");
        d.tick_heard(t, &[]);
    }
    let t = d.tick_until_queried("a", t);
    assert!(
        !alerts(d.since(from))
            .iter()
            .any(|a| matches!(a, Alert::StartWithheld { .. })),
        "{:?}",
        alerts(d.since(from))
    );
    assert_eq!(starts(d.since(from)), [], "no second start of a");
    d.answer_query(t, "a", Some("h1"));
    assert_eq!(vm_host(&d.rt, "a"), "h1");
    assert_eq!(d.rt.vm_phases()["a"], "steady");
    // A later tick does not start it anywhere either.
    d.tick_heard(t + 30_000, &[]);
    assert_eq!(starts(d.since(from)), []);
}

#[test]
fn a_duplicate_is_confirmed_by_fresh_inventories_then_one_copy_kept() {
    let doc = pool(
        json!({"check_interval_s": 1_000_000}),
        vec![host("h1", 100), host("h2", 100), host("h3", 100)],
        vec![vm("b", "h1", 10), vm("c", "h2", 10), vm("d", "h3", 10)],
    );
    let mut d = Driver::settled(doc);
    // The periodic listings, asked together: h3's, answered first, shows
    // c (being moved there by someone else); then h2's, asked before the
    // suspicion, still shows it too. Neither is fresh enough to decide.
    d.tick(60_000);
    d.answer_inventories_with(60_010, |h| match h {
        "h3" => runs(&["d", "c"]),
        _ => Listing::Silent,
    });
    assert!(notes(&d.outs).contains(&Note::DuplicateSuspected {
        vm: "c".into(),
        hosts: vec!["h2".into(), "h3".into()],
    }));
    d.answer_inventories_with(60_020, |h| match h {
        "h1" => runs(&["b"]),
        "h2" => runs(&["c"]),
        _ => Listing::Silent,
    });
    assert!(stops(&d.outs).is_empty(), "decided on a stale listing");
    // Fresh listings: the move finished, one copy, nothing to stop.
    d.tick(60_030);
    d.answer_inventories_with(60_040, |h| match h {
        "h1" => runs(&["b"]),
        "h2" => runs(&[]),
        _ => runs(&["d", "c"]),
    });
    assert!(stops(&d.outs).is_empty());
    assert!(
        !alerts(&d.outs)
            .iter()
            .any(|a| matches!(a, Alert::DuplicateVm { .. }))
    );
    assert_eq!(vm_host(&d.rt, "c"), "h3");

    // Later b shows up on h2 too, and the fresh listings still show it on
    // both: the copy where the record places it (h1) is kept.
    let from = d.outs.len();
    d.tick(120_040);
    d.answer_inventories_with(120_050, |h| match h {
        "h1" | "h2" => runs(&["b"]),
        _ => runs(&["d", "c"]),
    });
    assert!(stops(&d.outs).is_empty(), "stopped on one listing");
    d.tick(120_060);
    d.answer_inventories_with(120_070, |h| match h {
        "h1" | "h2" => runs(&["b"]),
        _ => runs(&["d", "c"]),
    });
    assert!(alerts(d.since(from)).contains(&Alert::DuplicateVm {
        vm: "b".into(),
        hosts: vec!["h1".into(), "h2".into()],
        kept: "h1".into(),
    }));
    assert_eq!(stops(&d.outs), [("b".to_string(), "h2".to_string())]);
    assert_eq!(vm_host(&d.rt, "b"), "h1");
}

/// h2 and h3 both list p, h1 silent (its listing).
fn both(h: &str) -> Listing {
    match h {
        "h1" => Listing::Silent,
        _ => runs(&["p"]),
    }
}

/// p's restart on t (the start `id` still under way, listed there) when an
/// autostart copy shows up on o: the fresh listings (at 60 s) keep t's
/// (the start's) and stop o's. Returns (driver, id, t, o).
fn p_on_two_hosts_one_copy_stopped() -> (Driver, u64, String, String) {
    let doc = pool(
        json!({"check_interval_s": 1_000_000}),
        vec![host("h1", 100), host("h2", 100), host("h3", 100)],
        vec![vm("p", "h1", 10)],
    );
    let mut d = Driver::settled(doc);
    d.fail_host(1_000, "h1");
    let (id, t, _) = d.start_in_flight("p");
    let o = if t == "h2" { "h3" } else { "h2" }.to_string();
    d.tick(60_000);
    d.answer_inventories_with(60_010, both);
    d.answer_inventories_with(60_020, both);
    assert!(alerts(&d.outs).contains(&Alert::DuplicateVm {
        vm: "p".into(),
        hosts: vec!["h2".into(), "h3".into()],
        kept: t.clone(),
    }));
    assert_eq!(stops(&d.outs), [("p".to_string(), o.clone())]);
    (d, id, t, o)
}

/// At `at`, p's start `id` on t answers in doubt; it is looked for, found
/// on o first, and both hosts are listed afresh three times (with p).
fn start_in_doubt_then_found_on(d: &mut Driver, id: u64, t: &str, o: &str, at: Millis) {
    let from = d.outs.len();
    d.feed(
        at,
        Event::VmStartResult {
            id,
            vm: "p".into(),
            host: t.to_string(),
            ok: false,
            error: Some("cannot acquire state change lock".into()),
            in_doubt: true,
        },
    );
    assert_eq!(queries(d.since(from)), ["p"]);
    let q = d.in_flight_ids(|a| matches!(a, Action::QueryVm { .. }))[0];
    d.feed(
        at + 20,
        Event::VmStatus {
            id: q,
            vm: "p".into(),
            host: Some(o.to_string()),
            error: None,
        },
    );
    for step in 1..=3 {
        d.tick(at + 100 * step);
        d.answer_inventories_with(at + 100 * step + 10, both);
    }
}

#[test]
fn a_copy_whose_stop_is_asked_for_is_never_the_one_kept_next() {
    // p's restart on t is under way (listed there) when an autostart copy
    // shows up on o: the fresh listings keep t's (the start's) and stop
    // o's. The start then answers in doubt, and a query finds p on o
    // first, where its stop has not landed yet. The next decision must
    // keep t's copy again: keeping o's would stop both.
    let (mut d, id, t, o) = p_on_two_hosts_one_copy_stopped();
    start_in_doubt_then_found_on(&mut d, id, &t, &o, 60_100);
    assert_eq!(
        stops(&d.outs),
        [("p".to_string(), o.clone())],
        "{:?}",
        alerts(&d.outs)
    );
    assert_eq!(vm_host(&d.rt, "p"), t);
}

#[test]
fn a_copy_whose_stop_got_no_answer_in_time_is_never_the_one_kept_next() {
    // As above, but the stop of o's copy gets no answer in time: it may
    // still land. A query then finds p on o first, and the fresh listings
    // show both copies again: the decision keeps t's (the start's) and
    // stops o's again. Keeping o's would stop t's, and the late stop would
    // leave no copy at all.
    let (mut d, id, t, o) = p_on_two_hosts_one_copy_stopped();
    // The stop's deadline (60 s) passes; o is listed again, still with p.
    d.tick(120_100);
    assert!(
        unanswered(&d.outs)
            .iter()
            .any(|a| matches!(a, Action::StopVm { host, .. } if *host == o))
    );
    d.answer_inventories_with(120_110, both);
    let from = d.outs.len();
    start_in_doubt_then_found_on(&mut d, id, &t, &o, 120_200);
    only_ever_kept(d.since(from), &t);
    assert!(
        stops(d.since(from)).iter().all(|(_, h)| *h == o),
        "{:?}",
        stops(d.since(from))
    );
    assert_eq!(vm_host(&d.rt, "p"), t);
    assert!(d.rt.state_json()["late_stops"]["p"].get(&o).is_some());
    // o, listed afresh, runs p no more: that stop may land no more.
    let mut at = 120_500;
    while d.rt.state_json()["late_stops"] != json!({}) {
        assert!(at < 400_000, "the late stop is never ruled out");
        at += 10_000;
        d.tick(at);
        d.answer_inventories_with(at + 10, |h| match h {
            "h1" => Listing::Silent,
            h if h == t => runs(&["p"]),
            _ => runs(&[]),
        });
    }
    assert_eq!(vm_host(&d.rt, "p"), t);
}

/// `outs` decide a duplicate at least once, and keep the copy on `t` each
/// time.
fn only_ever_kept(outs: &[Output], t: &str) {
    let kept: Vec<String> = alerts(outs)
        .into_iter()
        .filter_map(|a| match a {
            Alert::DuplicateVm { kept, .. } => Some(kept),
            _ => None,
        })
        .collect();
    assert!(!kept.is_empty(), "no decision: {:?}", alerts(outs));
    assert!(kept.iter().all(|k| k == t), "kept {kept:?}, not {t}");
}

/// [`p_on_two_hosts_one_copy_stopped`], then p's start on t succeeds and
/// both hosts are listed again. Returns (driver, t, o).
fn p_started_beside_a_copy_being_stopped() -> (Driver, String, String) {
    let (mut d, id, t, o) = p_on_two_hosts_one_copy_stopped();
    d.feed(
        60_100,
        Event::VmStartResult {
            id,
            vm: "p".into(),
            host: t.clone(),
            ok: true,
            error: None,
            in_doubt: false,
        },
    );
    d.answer_inventories_with(60_110, both);
    (d, t, o)
}

#[test]
fn a_late_failed_stop_does_not_end_an_earlier_stop_that_may_land() {
    // p's start on t succeeds; o's copy is stopped (S1), and S1 gets no
    // answer in time. o still lists p: stopped again (S2), which gets no
    // answer in time either, then answers late that it failed (S1 holds
    // the domain). The record then moves to o (a reported migration), and
    // both hosts list p: t's copy is kept, as S1 may still land on o's.
    let (mut d, t, o) = p_started_beside_a_copy_being_stopped();
    let stop_ids = |d: &Driver| d.in_flight_ids(|a| matches!(a, Action::StopVm { .. }));
    let s1 = stop_ids(&d)[0];
    // S1's deadline passes; listings bring a second stop of o's copy.
    let mut at = 120_100;
    let s2 = loop {
        d.tick(at);
        d.answer_inventories_with(at + 10, both);
        if let Some(&s) = stop_ids(&d).iter().find(|&&s| s != s1) {
            break s;
        }
        assert!(at < 200_000, "o's copy was never stopped again");
        at += 1_000;
    };
    // S2's deadline passes too (listings lacking nothing new meanwhile).
    let sent = at;
    while !stop_ids(&d).is_empty() {
        at += 5_000;
        d.tick(at);
        assert!(at < sent + 120_000, "S2 never timed out");
    }
    d.feed(
        at + 10,
        Event::VmStopResult {
            id: s2,
            vm: "p".into(),
            host: o.clone(),
            ok: false,
            error: Some("cannot acquire state change lock".into()),
        },
    );
    d.feed(
        at + 20,
        Event::VmMigrated {
            vm: "p".into(),
            host: o.clone(),
        },
    );
    let from = d.outs.len();
    for step in 1..=4 {
        d.tick(at + 1_000 * step);
        d.answer_inventories_with(at + 1_000 * step + 10, both);
    }
    only_ever_kept(d.since(from), &t);
    assert!(stops(d.since(from)).iter().all(|(_, h)| *h == o));
}

#[test]
fn a_stop_that_may_land_ends_when_its_host_is_confirmed_off() {
    // The stop of o's copy gets no answer in time; then o fails and is
    // fenced: nothing sent to it can land any more, and nothing of that
    // stop is kept.
    let (mut d, _, o) = p_started_beside_a_copy_being_stopped();
    d.tick(120_100);
    assert!(d.rt.state_json()["late_stops"]["p"].get(&o).is_some());
    d.fail_host(130_000, &o);
    assert_eq!(host_state(&d.rt, &o), HostState::Down);
    assert_eq!(d.rt.state_json()["late_stops"], json!({}));
}

#[test]
fn a_host_with_a_stray_copy_is_not_ready_for_maintenance_until_it_is_stopped() {
    // b runs on h1; h2 comes to list a copy of it too (autostart), and
    // the fresh listings keep h1's and ask h2's to stop. h2 is put into
    // maintenance meanwhile: it runs none of the record's VMs, but it is
    // not ready (powered off, it would take a copy down with it, and
    // the stop's outcome is not known) until the stop is done.
    let doc = pool(
        json!({"check_interval_s": 1_000_000}),
        vec![host("h1", 100), host("h2", 100), host("h3", 100)],
        vec![vm("b", "h1", 10), vm("d", "h3", 10)],
    );
    let mut d = Driver::settled(doc);
    let listing = |h: &str| match h {
        "h1" | "h2" => runs(&["b"]),
        _ => runs(&["d"]),
    };
    d.tick(60_000);
    d.answer_inventories_with(60_010, listing);
    d.tick(60_020);
    d.answer_inventories_with(60_030, listing);
    assert_eq!(stops(&d.outs), [("b".to_string(), "h2".to_string())]);
    let from = d.outs.len();
    d.feed(
        60_100,
        Event::HostMaintenance {
            host: "h2".into(),
            enter: true,
        },
    );
    d.tick(60_200);
    let ready = |outs: &[Output]| {
        notes(outs)
            .iter()
            .any(|n| matches!(n, Note::MaintenanceReady { host } if host == "h2"))
    };
    assert!(!ready(d.since(from)), "ready while h2 still runs a copy");
    let stop =
        d.rt.in_flight()
            .find_map(|a| match a {
                Action::StopVm { id, .. } => Some(*id),
                _ => None,
            })
            .expect("the stop in flight");
    d.feed(
        60_300,
        Event::VmStopResult {
            id: stop,
            vm: "b".into(),
            host: "h2".into(),
            ok: true,
            error: None,
        },
    );
    d.tick(60_400);
    assert!(ready(d.since(from)));
    assert_eq!(vm_host(&d.rt, "b"), "h1");
}

#[test]
fn a_timed_out_start_is_queried_and_retried_on_the_same_host() {
    // No retries on a host after a failed start: a start taken for failed
    // would go to another host at once.
    let doc = pool(
        json!({"check_interval_s": 1_000_000, "restart_retries": 0}),
        vec![host("h1", 100), host("h2", 100), host("h3", 100)],
        vec![vm("p", "h1", 10)],
    );
    let mut d = Driver::settled(doc.clone());
    d.fail_host(1_000, "h1");
    let (first, target, attempt) = d.start_in_flight("p");
    assert_eq!(attempt, 1);
    // The periodic listings do not show p yet (the start is under way).
    let listing = |_: &str| runs(&[]);
    // Up to just before the start's deadline (120 s after it was sent).
    let mut t = 1_000;
    while t + 10_000 < 1_000 + 120_000 {
        t += 10_000;
        d.tick(t);
        d.answer_inventories_with(t, listing);
    }
    assert!(unanswered(&d.outs).is_empty());
    let from = d.outs.len();
    let out = d.tick(1_000 + 120_000);
    assert_eq!(
        unanswered(std::slice::from_ref(&out)),
        [Action::StartVm {
            id: first,
            vm: "p".into(),
            host: target.clone(),
            attempt: 1,
        }]
    );
    assert!(out.notes.contains(&Note::VmInDoubt {
        vm: "p".into(),
        host: Some(target.clone()),
    }));
    // Never taken for failed: the next start goes to the same host, where a
    // start that completes late can only meet itself.
    let (_, again, attempt) = d.start_in_flight("p");
    assert_eq!((again.as_str(), attempt), (target.as_str(), 2));
    // The first start completes late: a sighting, nothing more.
    d.feed(
        122_000,
        Event::VmStartResult {
            id: first,
            vm: "p".into(),
            host: target.clone(),
            ok: true,
            error: None,
            in_doubt: false,
        },
    );
    d.start_result(123_000, "p", true);
    assert!(starts(d.since(from)).iter().all(|(_, h, _)| *h == target));
    assert!(stops(&d.outs).is_empty());
    assert_eq!(vm_host(&d.rt, "p"), target);
    assert_eq!(d.rt.vm_phases()["p"], "steady");

    // The driver gives up waiting (in doubt) while the target host misses
    // probes (not yet a suspect): p is looked for, not started anywhere,
    // until the host answers again.
    let ha = with(
        doc["ha"].clone(),
        json!({"check_interval_s": 10, "failure_threshold": 5}),
    );
    let doc = with(doc, json!({ "ha": ha }));
    let mut d = Driver::settled(doc);
    d.fail_host(1_000, "h1");
    let (id, target, _) = d.start_in_flight("p");
    let from = d.outs.len();
    // (The pool was last probed at 1 s, before h1's fence.)
    d.round(11_000, &[&target]);
    d.feed(
        11_500,
        Event::VmStartResult {
            id,
            vm: "p".into(),
            host: target.clone(),
            ok: false,
            error: Some("timed out waiting for the domain".into()),
            in_doubt: true,
        },
    );
    let mut t = 11_500;
    for _ in 0..3 {
        t += 5_000;
        d.tick(t);
        let asked = d.in_flight_ids(|a| matches!(a, Action::QueryVm { .. }));
        assert_eq!(asked.len(), 1);
        // Asked again 5 s after an answer with an error.
        d.feed(
            t,
            Event::VmStatus {
                id: asked[0],
                vm: "p".into(),
                host: None,
                error: Some(format!("{target} does not answer")),
            },
        );
    }
    assert!(queries(d.since(from)).len() >= 3);
    assert!(
        starts(d.since(from)).is_empty(),
        "{:?}",
        starts(d.since(from))
    );
    // The host answers again and does not list p: p runs nowhere, and is
    // started again there (the next query was due 5 s after the last).
    d.tick(31_000);
    d.answer_probes(31_000, &[]);
    d.answer_inventories_with(31_000, |_| runs(&[]));
    assert!(
        starts(d.since(from)).is_empty(),
        "{:?}",
        starts(d.since(from))
    );
    d.tick(31_500);
    let s = starts(d.since(from));
    assert_eq!(s, [("p".to_string(), target.clone(), 2)]);
}

#[test]
fn a_start_in_doubt_whose_retry_fails_is_not_planned_elsewhere_while_its_host_may_run_it() {
    // The start came back in doubt (the hypervisor may have taken it before
    // the host stopped answering); its retry on the same host then fails
    // outright. That failure says nothing of the first start: when the
    // host misses its probes next, the VM must not be planned elsewhere
    // until the host is confirmed off.
    let doc = pool(
        json!({"check_interval_s": 10, "failure_threshold": 3, "restart_retries": 2}),
        vec![host("h1", 100), host("h2", 100), host("h3", 100)],
        vec![vm("p", "h1", 10)],
    );
    let mut d = Driver::settled(doc);
    d.fail_host(1_000, "h1");
    let (id, target, _) = d.start_in_flight("p");
    let from = d.outs.len();
    d.feed(
        2_000,
        Event::VmStartResult {
            id,
            vm: "p".into(),
            host: target.clone(),
            ok: false,
            error: Some(format!("{target} went off")),
            in_doubt: true,
        },
    );
    let (_, again, attempt) = d.start_in_flight("p");
    assert_eq!((again.as_str(), attempt), (target.as_str(), 2));
    d.start_result(2_500, "p", false);
    // The host stops answering; every start there fails outright.
    let mut t = 2_500;
    while t < 60_000 {
        t += 1_000;
        d.round(t, &[&target]);
        let s: Vec<_> =
            d.rt.in_flight()
                .filter_map(|a| match a {
                    Action::StartVm { vm, host, .. } if vm == "p" && *host == target => Some(()),
                    _ => None,
                })
                .collect();
        if !s.is_empty() {
            d.start_result(t, "p", false);
        }
    }
    assert!(
        starts(d.since(from)).iter().all(|(_, h, _)| *h == target),
        "started elsewhere while {target} was not known off: {:?}",
        starts(d.since(from))
    );
    // Once the host is confirmed off, p starts elsewhere (on h1, back by
    // now, or the third host).
    let fencing =
        d.rt.in_flight()
            .any(|a| matches!(a, Action::Fence { host, .. } if *host == target));
    if !fencing {
        d.monitor_down(61_000, &target);
    }
    d.fence(61_000, &target, true);
    let mut t = 61_000;
    let elsewhere = |d: &Driver| starts(d.since(from)).iter().any(|(_, h, _)| *h != target);
    while t < 120_000 && !elsewhere(&d) {
        t += 1_000;
        d.round(t, &[&target]);
        let queried = d.in_flight_ids(|a| matches!(a, Action::QueryVm { .. }));
        for id in queried {
            d.feed(
                t,
                Event::VmStatus {
                    id,
                    vm: "p".into(),
                    host: None,
                    error: None,
                },
            );
        }
    }
    assert!(
        elsewhere(&d),
        "p never started elsewhere after {target} was fenced: {:?}",
        starts(d.since(from))
    );
}

#[test]
fn in_doubt_vms_are_named_and_do_not_block_later_groups() {
    let doc = pool(
        json!({"check_interval_s": 10, "failure_threshold": 20, "restart_retries": 0}),
        vec![
            host("h1", 100),
            host("h2", 100),
            host("h3", 100),
            host("h4", 100),
        ],
        vec![
            with(vm("a", "h1", 10), json!({"order": 0})),
            with(vm("b", "h1", 10), json!({"order": 1})),
            vm("c", "h4", 10),
        ],
    );
    let mut d = Driver::settled(doc);
    d.fail_host(1_000, "h1");
    let (id, target, _) = d.start_in_flight("a");
    assert_eq!(started_vms(&d.outs), ["a"], "b waits for a");
    // a's start ends in doubt and its host stops answering: nobody can say
    // where a runs.
    d.feed(
        2_000,
        Event::VmStartResult {
            id,
            vm: "a".into(),
            host: target.clone(),
            ok: false,
            error: Some("the connection was lost".into()),
            in_doubt: true,
        },
    );
    let mut t = 2_000;
    let mut named_at = None;
    while t < 80_000 {
        t += 1_000;
        let out = d.tick(t);
        if t % 10_000 == 0 {
            d.answer_probes(t, &[&target]);
        }
        for id in d.in_flight_ids(|a| matches!(a, Action::QueryVm { .. })) {
            d.feed(
                t,
                Event::VmStatus {
                    id,
                    vm: "a".into(),
                    host: None,
                    error: Some(format!("{target} does not answer")),
                },
            );
        }
        d.answer_inventories_with(t, |h| match h {
            "h4" => runs(&["c"]),
            _ => runs(&[]),
        });
        if out.alerts.contains(&Alert::VmsInDoubt {
            vms: vec!["a".into()],
        }) {
            assert!(named_at.is_none(), "named twice");
            named_at = Some(t);
        }
    }
    // Named 60 s after it fell in doubt; b starts then, not before.
    assert_eq!(named_at, Some(62_000));
    let b = first_start_of(&d.outs, &["b"]).expect("b started");
    let alerted = d
        .outs
        .iter()
        .position(|o| {
            o.alerts
                .iter()
                .any(|a| matches!(a, Alert::VmsInDoubt { .. }))
        })
        .expect("alerted");
    assert_eq!(b, alerted);
    // a is only ever started again where its start may have completed.
    assert!(
        starts(&d.outs)
            .iter()
            .all(|(vm, host, _)| vm != "a" || *host == target),
        "{:?}",
        starts(&d.outs)
    );

    // A host that can never be fenced: its VMs are named in every
    // fencing_failed, and the start groups after theirs go on.
    let doc = pool(
        json!({"check_interval_s": 1_000_000}),
        vec![
            host("h1", 100),
            host("h2", 100),
            host("h3", 100),
            host("h4", 100),
        ],
        vec![
            with(vm("a", "h1", 10), json!({"order": 0})),
            with(vm("b", "h2", 10), json!({"order": 1})),
        ],
    );
    let mut d = Driver::settled(doc);
    d.monitor_down(1_000, "h1");
    d.fail_host(1_000, "h2");
    assert!(starts(&d.outs).is_empty(), "b went before a's group");
    d.fence_fails(1_000, "h1");
    let out = d.fence(1_000, "h1", false);
    assert!(out.alerts.iter().any(|a| matches!(a,
        Alert::FencingFailed { host, vms, .. } if host == "h1" && vms == &["a".to_string()])));
    assert_eq!(started_vms(std::slice::from_ref(&out)), ["b"]);
}

#[test]
fn every_request_has_a_deadline_and_misaddressed_answers_are_refused() {
    let quiet = json!({"check_interval_s": 1_000_000});
    // Probes: 10 s, then counted as failed.
    let mut d = Driver::new(three_hosts(quiet.clone()));
    let probes = d.in_flight_ids(|a| matches!(a, Action::Probe { .. }));
    assert_eq!(probes.len(), 3);
    assert!(d.outs[0].wake_at.is_some_and(|w| w <= 10_000));
    // A misaddressed answer is refused, changes nothing, and leaves the
    // probe in flight until its deadline.
    let h1_probe =
        d.rt.in_flight()
            .find_map(|a| match a {
                Action::Probe { id, host } if host == "h1" => Some(*id),
                _ => None,
            })
            .unwrap();
    let before = d.rt.state_json();
    let refused = [
        Event::HealthCheck {
            id: h1_probe,
            host: "h2".into(),
            ping: true,
            api: true,
        },
        Event::Inventory {
            id: h1_probe,
            host: "h1".into(),
            vms: vec![],
            error: None,
            demand: Default::default(),
        },
    ];
    for e in refused {
        match d.try_feed(5_000, e) {
            Err(RuntimeError::Misaddressed { id, .. }) => assert_eq!(id, h1_probe),
            other => panic!("{other:?}"),
        }
        assert_eq!(d.rt.state_json(), before);
    }
    match d.try_feed(
        5_000,
        Event::HealthCheck {
            id: h1_probe,
            host: "h9".into(),
            ping: true,
            api: true,
        },
    ) {
        Err(RuntimeError::UnknownHost(h)) => assert_eq!(h, "h9"),
        other => panic!("{other:?}"),
    }
    assert!(d.tick(9_999).alerts.is_empty());
    let out = d.tick(10_000);
    let mut late: Vec<String> = unanswered(std::slice::from_ref(&out))
        .into_iter()
        .map(|a| match a {
            Action::Probe { host, .. } => host,
            a => panic!("{a:?}"),
        })
        .collect();
    late.sort();
    assert_eq!(late, ["h1", "h2", "h3"]);
    assert_eq!(
        notes(std::slice::from_ref(&out))
            .iter()
            .filter(|n| matches!(n, Note::HostSuspect { failures: 1, .. }))
            .count(),
        3
    );

    // Inventories: 30 s, then asked again.
    let (rt, first) = Runtime::new(three_hosts(quiet.clone()), 0).unwrap();
    let mut d = Driver {
        rt,
        outs: vec![first],
        states: Vec::new(),
        journal: Journal::resume(Vec::new(), 0),
    };
    d.answer_probes(0, &[]);
    assert!(d.tick(29_999).alerts.is_empty());
    let out = d.tick(30_000);
    assert_eq!(unanswered(std::slice::from_ref(&out)).len(), 3);
    // Asked again a check interval (1,000,000 s) later.
    assert!(
        !d.tick(30_000 + 999_999_999)
            .actions
            .iter()
            .any(|a| matches!(a, Action::Inventory { .. }))
    );
    let out = d.tick(30_000 + 1_000_000_000);
    let asked = actions(std::slice::from_ref(&out))
        .iter()
        .filter(|a| matches!(a, Action::Inventory { .. }))
        .count();
    assert_eq!(asked, 3);

    // A peer question: 10 s, then no peer could tell (a majority decides).
    let mut d = Driver::settled(three_hosts(json!({})));
    for t in [10_000, 20_000, 30_000] {
        d.round(t, &["h1"]);
    }
    let asked = d.in_flight_ids(|a| matches!(a, Action::AskPeer { .. }));
    assert_eq!(asked.len(), 1);
    assert!(d.tick(39_999).alerts.is_empty());
    let out = d.tick(30_000 + 10_000);
    assert!(matches!(
        unanswered(std::slice::from_ref(&out))[..],
        [Action::AskPeer { .. }]
    ));
    // The hosts that answer after the peer failed to tell are a majority.
    assert!(declarations(std::slice::from_ref(&out)).is_empty());
    let outs = d.answer_probes(40_000, &["h1"]);
    assert_eq!(
        declarations(&outs),
        [("h1".to_string(), None, Some([2, 3]))]
    );

    // A start: 120 s (a_timed_out_start_is_queried_and_retried_on_the_same_host).
    // A migration: 600 s, then the VM is in doubt and looked for; a query:
    // 30 s, then asked again.
    let mut d = Driver::settled(three_hosts(quiet.clone()));
    d.feed(
        1_000,
        Event::HostMaintenance {
            host: "h2".into(),
            enter: true,
        },
    );
    let (mid, vm, _, _) = d.migrate_in_flight()[0].clone();
    let mut t = 1_000;
    while t + 60_000 < 1_000 + 600_000 {
        t += 60_000;
        d.tick(t);
        d.answer_inventories(t);
    }
    assert!(unanswered(&d.outs).is_empty());
    let out = d.tick(601_000);
    assert!(matches!(
        &unanswered(std::slice::from_ref(&out))[..],
        [Action::Migrate { id, .. }] if *id == mid
    ));
    assert_eq!(
        queries(std::slice::from_ref(&out)),
        std::slice::from_ref(&vm)
    );
    // (The periodic inventories sent at 601 s are unanswered too.)
    let out = d.tick(631_000);
    let late: Vec<Action> = unanswered(std::slice::from_ref(&out))
        .into_iter()
        .filter(|a| matches!(a, Action::QueryVm { .. }))
        .collect();
    assert!(
        matches!(&late[..], [Action::QueryVm { vm: v, .. }] if *v == vm),
        "{late:?}"
    );
    let out = d.tick(636_000);
    assert_eq!(
        queries(std::slice::from_ref(&out)),
        std::slice::from_ref(&vm)
    );

    // Stopping a duplicate copy: 60 s, then its host is listed again.
    let mut d = Driver::settled(three_hosts(quiet));
    let both = |h: &str| match h {
        "h1" => runs(&["a", "a2", "b", "be", "un"]),
        "h2" => runs(&["c"]),
        _ => runs(&["d", "c"]),
    };
    d.tick(60_000);
    d.answer_inventories_with(60_000, both);
    d.tick(60_100);
    d.answer_inventories_with(60_100, both);
    assert_eq!(stops(&d.outs), [("c".to_string(), "h3".to_string())]);
    assert!(d.tick(60_100 + 59_999).alerts.is_empty());
    let out = d.tick(60_100 + 60_000);
    assert!(matches!(
        &unanswered(std::slice::from_ref(&out))[..],
        [Action::StopVm { host, .. }] if host == "h3"
    ));
    assert!(
        actions(std::slice::from_ref(&out))
            .iter()
            .any(|a| matches!(a, Action::Inventory { host, .. } if host == "h3"))
    );
}

#[test]
fn two_hosts_failing_at_once_restart_the_critical_vm_first() {
    // h3 has room for one of the two VMs of 60; the low-priority one's host
    // is confirmed off first.
    let doc = pool(
        json!({"check_interval_s": 1_000_000, "host_failures_to_tolerate": 0}),
        vec![host("h1", 100), host("h2", 100), host("h3", 100)],
        vec![
            with(vm("low", "h1", 60), json!({"priority": "low"})),
            with(vm("crit", "h2", 60), json!({"priority": "critical"})),
            vm("x", "h3", 30),
        ],
    );
    let mut d = Driver::settled(doc);
    d.monitor_down(1_000, "h1");
    d.monitor_down(1_000, "h2");
    d.fence(2_000, "h1", true);
    // The room on h3 is kept for crit while h2's first fence round runs.
    assert!(starts(&d.outs).is_empty(), "{:?}", starts(&d.outs));
    assert!(
        !alerts(&d.outs)
            .iter()
            .any(|a| matches!(a, Alert::RestartFailed { .. })),
        "waiting for a fence is not a failure"
    );
    d.fence(3_000, "h2", true);
    assert_eq!(starts(&d.outs), [("crit".to_string(), "h3".to_string(), 1)]);
    d.start_result(4_000, "crit", true);
    assert!(alerts(&d.outs).iter().any(|a| matches!(a,
        Alert::RestartFailed { vm, .. } if vm == "low")));

    // When room appears later, the order groups and their delays hold: of
    // two VMs waiting for room, the one of the first group starts first,
    // the other once it runs and its start delay passed.
    let doc = pool(
        json!({"check_interval_s": 1_000_000, "host_failures_to_tolerate": 0}),
        vec![host("h1", 100), host("h2", 100), host("h3", 100)],
        vec![
            with(
                vm("first", "h1", 50),
                json!({"order": 0, "start_delay_s": 30}),
            ),
            with(vm("then", "h1", 50), json!({"order": 1})),
            vm("y", "h2", 90),
            vm("z", "h3", 90),
        ],
    );
    let mut d = Driver::settled(doc);
    d.fail_host(1_000, "h1");
    assert!(starts(&d.outs).is_empty());
    d.feed(
        10_000,
        Event::HostAdded {
            host: host("h4", 100),
        },
    );
    // h4 is listed before it takes VMs.
    d.answer_inventories_with(10_000, |_| runs(&[]));
    assert_eq!(started_vms(&d.outs), ["first"]);
    d.start_result(11_000, "first", true);
    assert_eq!(started_vms(&d.outs), ["first"]);
    assert!(starts(&[d.tick(40_999)]).is_empty());
    let out = d.tick(41_000);
    assert_eq!(started_vms(&[out]), ["then"]);
}

/// `machine::MIGRATE_DEADLINE_MS`.
const MIGRATE_DEADLINE_MS: Millis = 600_000;

/// The id of the migration of `vm` that got no answer in time.
fn timed_out_migration(d: &Driver, vm: &str) -> u64 {
    unanswered(&d.outs)
        .iter()
        .find_map(|a| match a {
            Action::Migrate { id, vm: v, .. } if v == vm => Some(*id),
            _ => None,
        })
        .expect("a migration without an answer")
}

/// h1 is drained and its first migration never answers. Returns the driver
/// just after the migration's deadline, with the other migrations done,
/// and the VM whose migration is in doubt and its target.
fn a_drain_loses_a_migration() -> (Driver, String, String) {
    // A check interval longer than the test: no periodic probe or
    // inventory interferes.
    let mut d = Driver::settled(three_hosts(json!({"check_interval_s": 10_000})));
    d.feed(
        1_000,
        Event::HostMaintenance {
            host: "h1".into(),
            enter: true,
        },
    );
    let m = d.migrate_in_flight();
    assert_eq!(m.len(), 1, "{m:?}");
    let (id, lost, from, to) = m[0].clone();
    assert_eq!(from, "h1");
    // Just before its deadline nothing has happened (h1 lists the VM, as
    // a migration under way does).
    d.tick(1_000 + MIGRATE_DEADLINE_MS - 1);
    d.answer_inventories(1_000 + MIGRATE_DEADLINE_MS - 1);
    assert!(unanswered(&d.outs).is_empty());
    assert_eq!(d.rt.vm_phases()[&lost], "migrating");
    let out = d.tick(1_000 + MIGRATE_DEADLINE_MS);
    let migrate = Action::Migrate {
        id,
        vm: lost.clone(),
        from: "h1".into(),
        to: to.clone(),
    };
    assert_eq!(unanswered(std::slice::from_ref(&out)), [migrate]);
    // Named at once, with both hosts it may run on.
    assert!(
        out.alerts.contains(&Alert::MigrationInDoubt {
            vm: lost.clone(),
            from: "h1".into(),
            to: to.clone(),
        }),
        "{:?}",
        out.alerts
    );
    // Looked for: asked where it runs, and both hosts listed again.
    assert_eq!(
        queries(std::slice::from_ref(&out)),
        std::slice::from_ref(&lost)
    );
    let listed: Vec<String> = actions(std::slice::from_ref(&out))
        .into_iter()
        .filter_map(|a| match a {
            Action::Inventory { host, .. } => Some(host),
            _ => None,
        })
        .collect();
    assert!(
        listed.contains(&"h1".to_string()) && listed.contains(&to),
        "{listed:?}"
    );
    assert_eq!(d.rt.vm_phases()[&lost], "unknown");
    // The other VMs of h1 leave; the one in doubt may still be there.
    let t = d.migrate_all(1_000 + MIGRATE_DEADLINE_MS);
    d.tick(t + 1_000);
    assert!(
        !notes(&d.outs)
            .iter()
            .any(|n| matches!(n, Note::MaintenanceReady { .. })),
        "h1 reported ready for maintenance while {lost} may run there"
    );
    assert_eq!(host_state(&d.rt, "h1"), HostState::Up);
    assert_eq!(d.rt.host_statuses()["h1"], "up");
    assert_eq!(d.rt.vm_phases()[&lost], "unknown");
    assert!(d.migrate_in_flight().is_empty());
    (d, lost, to)
}

impl Driver {
    /// Answers the query in flight about `vm`: it runs on `host`.
    fn answer_query(&mut self, at: Millis, vm: &str, host: Option<&str>) -> Output {
        self.answer_query_with(at, vm, host, None)
    }

    /// Answers the query in flight about `vm`: not on the hosts that
    /// answer, and `silent` does not answer.
    fn answer_query_unanswered(&mut self, at: Millis, vm: &str, silent: &str) -> Output {
        self.answer_query_with(at, vm, None, Some(format!("{silent} does not answer")))
    }

    fn answer_query_with(
        &mut self,
        at: Millis,
        vm: &str,
        host: Option<&str>,
        error: Option<String>,
    ) -> Output {
        let asked = self.in_flight_ids(|a| matches!(a, Action::QueryVm { vm: v, .. } if v == vm));
        assert_eq!(asked.len(), 1, "one query about {vm} in flight");
        self.feed(
            at,
            Event::VmStatus {
                id: asked[0],
                vm: vm.into(),
                host: host.map(String::from),
                error,
            },
        )
    }

    /// Ticks a second at a time from `t` (for at most 600 s) until a query
    /// about `vm` is in flight; returns the time then.
    fn tick_until_queried(&mut self, vm: &str, mut t: Millis) -> Millis {
        for _ in 0..600 {
            if !self
                .in_flight_ids(|a| matches!(a, Action::QueryVm { vm: v, .. } if v == vm))
                .is_empty()
            {
                break;
            }
            t += 1_000;
            self.tick(t);
        }
        t
    }
}

#[test]
fn a_timed_out_drain_migration_is_in_doubt_and_the_host_not_ready() {
    // Found on the target: the drain ends, h1 is empty, once a fresh
    // listing of h1 no longer shows the copy its last one did.
    let (mut d, lost, to) = a_drain_loses_a_migration();
    let t = d.rt.now() + 1_000;
    let out = d.answer_query(t, &lost, Some(&to));
    assert_eq!(vm_host(&d.rt, &lost), to);
    assert!(
        !out.notes
            .contains(&Note::MaintenanceReady { host: "h1".into() }),
        "ready while h1's last listing shows {lost}: {out:?}"
    );
    let from = d.outs.len();
    d.answer_inventories(t + 100);
    assert!(
        notes(d.since(from)).contains(&Note::MaintenanceReady { host: "h1".into() }),
        "{:?}",
        notes(d.since(from))
    );
    assert_eq!(host_state(&d.rt, "h1"), HostState::Maintenance);
    let h1 = d.rt.pool().host_by_name("h1").unwrap();
    assert!(
        !d.rt
            .pool()
            .vms
            .iter()
            .any(|v| v.host == h1 && v.power.is_active()),
        "a VM left on h1"
    );

    // The migration answers late that it succeeded: as good as found.
    let (mut d, lost, to) = a_drain_loses_a_migration();
    let t = d.rt.now() + 1_000;
    let id = timed_out_migration(&d, &lost);
    d.migrated(t, id, &lost, &to);
    assert_eq!(vm_host(&d.rt, &lost), to);
    assert_eq!(host_state(&d.rt, "h1"), HostState::Maintenance);

    // Found still on h1 (the migration never happened): as a failed
    // migration, the drain is blocked and h1 stays in service with it.
    let (mut d, lost, _) = a_drain_loses_a_migration();
    let t = d.rt.now() + 1_000;
    let out = d.answer_query(t, &lost, Some("h1"));
    assert!(
        out.notes
            .iter()
            .any(|n| matches!(n, Note::DrainBlocked { host, .. } if host == "h1")),
        "{out:?}"
    );
    d.tick(t + 100_000);
    assert!(
        !notes(&d.outs)
            .iter()
            .any(|n| matches!(n, Note::MaintenanceReady { .. }))
    );
    assert_eq!(host_state(&d.rt, "h1"), HostState::Up);
    assert_eq!(vm_host(&d.rt, &lost), "h1");
    assert!(stops(&d.outs).is_empty());

    // Listed by h1 before the query answers: the same.
    let (mut d, lost, to) = a_drain_loses_a_migration();
    let t = d.rt.now() + 1_000;
    let l: &'static str = ["a", "a2", "b", "be", "un"]
        .into_iter()
        .find(|n| *n == lost)
        .unwrap();
    d.answer_inventories_with(t, move |h| {
        if h == "h1" {
            runs(&[l])
        } else if h == to {
            runs(&[])
        } else {
            Listing::Silent
        }
    });
    assert_eq!(vm_host(&d.rt, &lost), "h1");
    assert!(
        notes(&d.outs)
            .iter()
            .any(|n| matches!(n, Note::DrainBlocked { host, .. } if host == "h1"))
    );
    assert_eq!(host_state(&d.rt, "h1"), HostState::Up);

    // Nowhere, while the migration may still land on its target: started
    // nowhere (a late landing would make a second copy), asked again. Once
    // the migration answers that it failed, nowhere means it died in the
    // migration: started again on h1 (a crash on a host that is up), and
    // h1 is not ready before it left.
    let (mut d, lost, to) = a_drain_loses_a_migration();
    let id = timed_out_migration(&d, &lost);
    let t = d.rt.now() + 1_000;
    let from = d.outs.len();
    d.answer_query(t, &lost, None);
    assert!(
        starts(d.since(from)).is_empty(),
        "started while the migration may land"
    );
    assert_eq!(d.rt.vm_phases()[&lost], "unknown");
    d.migration_failed(t + 1, id, &lost, &to);
    // Asked again shortly.
    let t = d.tick_until_queried(&lost, t + 1);
    let from = d.outs.len();
    d.answer_query(t, &lost, None);
    assert_eq!(starts(d.since(from)), [(lost.clone(), "h1".to_string(), 1)]);
    assert_eq!(host_state(&d.rt, "h1"), HostState::Up);
    d.start_result(t + 1_000, &lost, true);
    // It runs on h1 again: the drain moves it with a new plan.
    let m = d.migrate_in_flight();
    assert_eq!(m.len(), 1, "{m:?}");
    assert_eq!(m[0].1, lost);
    assert_eq!(host_state(&d.rt, "h1"), HostState::Up);
}

#[test]
fn a_drain_does_not_migrate_a_vm_again_while_its_last_migration_may_land() {
    // A drain migration timed out, and its VM is found still on h1: the
    // drain stops. Asked again, the drain waits while that migration may
    // still land: a second migration in doubt would replace the first
    // one's pin, and a late failure of the second would then end the only
    // guard of the first, which may have moved the VM meanwhile.
    let (mut d, lost, _) = a_drain_loses_a_migration();
    let t = d.rt.now() + 1_000;
    d.answer_query(t, &lost, Some("h1"));
    assert_eq!(host_state(&d.rt, "h1"), HostState::Up);
    d.feed(
        t + 1_000,
        Event::HostMaintenance {
            host: "h1".into(),
            enter: true,
        },
    );
    d.tick(t + 2_000);
    let again = d.migrate_in_flight();
    assert!(
        again.iter().all(|m| m.1 != lost),
        "{lost} migrated again while its last migration may land: {again:?}"
    );
}

#[test]
fn a_late_failed_migration_is_decided_by_the_hosts_that_answer() {
    // A drain migration timed out; its VM is in doubt and looked for. A
    // query that some host does not answer cannot tell while the
    // migration may still land. Once it answers that it failed, and that
    // was all the doubt was about, the VM is on its source or nowhere: its
    // source is listed again and, not running it, the hosts that answer
    // decide, as for a VM missing from its host's listing; it is started
    // again on its source, where it can only meet itself. (Waiting for a query every host answers never ended
    // while a host that is down could not be fenced: simulation seed
    // 2051699.)
    let (mut d, lost, to) = a_drain_loses_a_migration();
    let id = timed_out_migration(&d, &lost);
    let t = d.rt.now() + 1_000;
    let from = d.outs.len();
    d.answer_query_unanswered(t, &lost, "h9");
    assert!(
        starts(d.since(from)).is_empty(),
        "started while the migration may land"
    );
    d.migration_failed(t + 1, id, &lost, &to);
    // Before h1 is listed again, the query still cannot tell.
    let t = d.tick_until_queried(&lost, t + 1);
    let from = d.outs.len();
    d.answer_query_unanswered(t, &lost, "h9");
    assert!(
        starts(d.since(from)).is_empty(),
        "started before h1 was listed"
    );
    // h1, listed since, does not run it: the hosts that answer decide. (A
    // listing asked before the failure came, answered first, does not
    // count: another one is asked.)
    let mut t = t;
    for _ in 0..3 {
        t += 1_000;
        d.tick(t);
        d.answer_inventories_with(t, |h| {
            if h == "h1" {
                runs(&[])
            } else {
                Listing::Silent
            }
        });
    }
    let t = d.tick_until_queried(&lost, t);
    let from = d.outs.len();
    d.answer_query_unanswered(t, &lost, "h9");
    assert_eq!(starts(d.since(from)), [(lost.clone(), "h1".to_string(), 1)]);
    assert_eq!(host_state(&d.rt, "h1"), HostState::Up);
}

#[test]
fn a_vm_missing_from_its_hosts_listing_is_looked_for_before_a_restart() {
    let doc = pool(
        json!({"check_interval_s": 1_000_000}),
        vec![host("h1", 100), host("h2", 100), host("h3", 100)],
        vec![vm("p", "h1", 10)],
    );
    for found in [Some("h2"), None] {
        let mut d = Driver::settled(doc.clone());
        // p moved to h2 unseen: h1's periodic listing lacks it, and h2's
        // latest listing (at the start) is older than the move.
        d.tick(61_000);
        let from = d.outs.len();
        d.answer_inventories_with(61_000, |h| {
            if h == "h1" {
                runs(&[])
            } else {
                Listing::Silent
            }
        });
        assert!(
            starts(d.since(from)).is_empty(),
            "p started on a stale listing"
        );
        assert_eq!(queries(d.since(from)), ["p"]);
        match found {
            Some(h) => {
                d.answer_query(62_000, "p", Some(h));
                assert_eq!(vm_host(&d.rt, "p"), h);
                assert!(starts(&d.outs).is_empty());
                assert_eq!(d.rt.vm_phases()["p"], "steady");
            }
            None => {
                // h3 does not answer, so the query cannot tell; the hosts
                // that answer do not run p: taken for crashed on h1.
                d.answer_query_unanswered(62_000, "p", "h3");
                assert_eq!(
                    starts(d.since(from)),
                    [("p".to_string(), "h1".to_string(), 1)]
                );
            }
        }
    }
}

#[test]
fn exactly_half_of_an_even_pool_is_no_majority() {
    // Four hosts; h1 misses its probes and no peer can tell. In the next
    // round h2 and h3 answer, but h4 (whose answer comes last) has gone
    // silent too: two of four answer, which is no strict majority (the
    // runtime may be on one side of a two-two split).
    let mut d = Driver::settled(n_hosts(4, json!({})));
    for t in [10_000, 20_000, 30_000] {
        d.round(t, &["h1"]);
    }
    d.answer_peers(30_100, None);
    assert!(declarations(&d.outs).is_empty(), "declared on a peer error");
    d.round(40_000, &["h1", "h4"]);
    assert!(
        declarations(&d.outs).is_empty(),
        "declared down with only half of the hosts answering: {:?}",
        declarations(&d.outs)
    );
    assert!(fences(&d.outs).is_empty());
    assert!(
        alerts(&d.outs)
            .iter()
            .any(|a| matches!(a, Alert::HostUnconfirmed { host, .. } if host == "h1"))
    );

    // The same, h4 answering too: three of four are a majority.
    let mut d = Driver::settled(n_hosts(4, json!({})));
    for t in [10_000, 20_000, 30_000] {
        d.round(t, &["h1"]);
    }
    d.answer_peers(30_100, None);
    d.round(40_000, &["h1"]);
    assert_eq!(
        declarations(&d.outs),
        [("h1".to_string(), None, Some([3, 4]))]
    );
}

// ---- 10. keep-together groups ----

/// h1 runs a strict keep-together group {a, b} (30 each); after h1 fails
/// only one host has room for both: h4, with `h4_free` spare (h2 and h3
/// have 40 and 50, room for either alone).
fn together_pool(h4_free: i64) -> Value {
    let mut doc = pool(
        json!({"check_interval_s": 1_000_000}),
        vec![
            host("h1", 100),
            host("h2", 100),
            host("h3", 100),
            host("h4", 100),
        ],
        vec![
            vm("a", "h1", 30),
            vm("b", "h1", 30),
            with(vm("f2", "h2", 60), json!({"restart": "unprotected"})),
            with(vm("f3", "h3", 50), json!({"restart": "unprotected"})),
            with(
                vm("f4", "h4", 100 - h4_free),
                json!({"restart": "unprotected"}),
            ),
        ],
    );
    doc["vm_groups"] = json!([{"name": "g", "affinity": "together", "vms": ["a", "b"]}]);
    doc
}

#[test]
fn a_keep_together_group_restarts_on_one_host_or_not_at_all() {
    // Room for both on h4 only: both start there, never split over h2/h3.
    let mut d = Driver::settled(together_pool(60));
    d.fail_host(1_000, "h1");
    let s = starts(&d.outs);
    assert_eq!(s.len(), 2, "{s:?}");
    assert!(
        s.iter().all(|(_, h, _)| h == "h4"),
        "the group was split: {s:?}"
    );
    d.start_result(2_000, "a", true);
    d.start_result(2_000, "b", true);
    assert_eq!(vm_host(&d.rt, "a"), "h4");
    assert_eq!(vm_host(&d.rt, "b"), "h4");

    // No host has room for both: neither starts (one alone would break
    // the group), and both are named.
    let mut d = Driver::settled(together_pool(55));
    d.fail_host(1_000, "h1");
    d.tick(100_000);
    assert!(starts(&d.outs).is_empty(), "{:?}", starts(&d.outs));
    let mut failed: Vec<String> = alerts(&d.outs)
        .into_iter()
        .filter_map(|a| match a {
            Alert::RestartFailed { vm, .. } => Some(vm),
            _ => None,
        })
        .collect();
    failed.sort();
    failed.dedup();
    assert_eq!(failed, ["a", "b"]);
}

impl Driver {
    /// The runtime dies after its last step and comes back from its log at
    /// `at` (as `haplan run` does); the inventories it asks for are left
    /// to answer.
    fn crash_and_recover(&self, at: Millis) -> Driver {
        let bytes = self.journal.get_ref().clone();
        let steps = self.journal.steps();
        let (rep, input, out) = log::recover(Cursor::new(bytes.clone()), at).expect("recovers");
        let mut journal = Journal::resume(bytes, steps);
        journal.append(&input, &out).unwrap();
        Driver::resume_unreconciled(rep.runtime, out, journal)
    }

    /// One second of a pool where `vm` died unseen: a tick, then every
    /// probe answered, every inventory answered with the VMs the record
    /// places on that host but `vm` (and `vm` too on a host `shows` picks;
    /// a host `fails` picks cannot list), every query about `vm` answered
    /// "nowhere", and every other start or migration answered "done".
    fn second_without(
        &mut self,
        at: Millis,
        vm: &str,
        shows: impl Fn(&str) -> bool,
        fails: impl Fn(&str) -> bool,
    ) {
        self.second_without_on(at, vm, &[], shows, fails);
    }

    /// As `second_without`, with the hosts of `dead` powered off: they
    /// answer no probe and list nothing, a peer cannot reach them, a fence
    /// of one succeeds, and a query answered while one of them is not yet
    /// confirmed off carries an error (that host was not asked).
    fn second_without_on(
        &mut self,
        at: Millis,
        vm: &str,
        dead: &[&str],
        shows: impl Fn(&str) -> bool,
        fails: impl Fn(&str) -> bool,
    ) {
        self.tick(at);
        self.answer_probes(at, dead);
        let asked: Vec<Action> = self.rt.in_flight().cloned().collect();
        for a in asked {
            let event = match a {
                Action::AskPeer { id, host, peer } if dead.contains(&host.as_str()) => {
                    Event::PeerCheck {
                        id,
                        host,
                        peer,
                        reachable: false,
                        error: None,
                    }
                }
                Action::Fence { id, host, .. } if dead.contains(&host.as_str()) => {
                    Event::FenceResult {
                        id,
                        host,
                        off: true,
                        error: None,
                    }
                }
                Action::Inventory { id, host } if dead.contains(&host.as_str()) => {
                    Event::Inventory {
                        id,
                        host,
                        vms: Vec::new(),
                        error: Some("the host does not answer".into()),
                        demand: Default::default(),
                    }
                }
                Action::QueryVm { id, vm: v } if v == vm => Event::VmStatus {
                    id,
                    vm: v,
                    host: None,
                    error: dead
                        .iter()
                        .any(|h| self.rt.host_statuses()[*h] != "fenced")
                        .then(|| "a host did not answer".into()),
                },
                Action::Inventory { id, host } => {
                    let pool = self.rt.pool();
                    let h = pool.host_by_name(&host).expect("known");
                    let mut vms: Vec<String> = pool
                        .vms
                        .iter()
                        .filter(|v| v.host == h && v.power.is_active() && v.name != vm)
                        .map(|v| v.name.clone())
                        .collect();
                    if shows(&host) {
                        vms.push(vm.to_string());
                    }
                    let error = fails(&host).then(|| "the listing failed".to_string());
                    if error.is_some() {
                        vms.clear();
                    }
                    Event::Inventory {
                        id,
                        host,
                        vms,
                        error,
                        demand: Default::default(),
                    }
                }
                Action::StartVm {
                    id, vm: v, host, ..
                } if v != vm => Event::VmStartResult {
                    id,
                    vm: v,
                    host,
                    ok: true,
                    error: None,
                    in_doubt: false,
                },
                Action::Migrate { id, vm: v, to, .. } if v != vm => Event::MigrateResult {
                    id,
                    vm: v,
                    host: to,
                    ok: true,
                    error: None,
                },
                _ => continue,
            };
            self.feed(at, event);
        }
    }
}

/// Where each start of `vm` in `outs` went, with the index of its output.
fn starts_of(outs: &[Output], vm: &str) -> Vec<(usize, String)> {
    outs.iter()
        .enumerate()
        .flat_map(|(i, o)| {
            o.actions.iter().filter_map(move |a| match a {
                Action::StartVm { vm: v, host, .. } if v == vm => Some((i, host.clone())),
                _ => None,
            })
        })
        .collect()
}

#[test]
fn a_pin_left_by_a_restart_ends_once_fresh_listings_rule_the_landing_out() {
    // A drain migration is in flight when the runtime dies; the VM dies
    // too (neither host will ever list it). The resumed runtime has the
    // migration in doubt, and its answer can never come.
    let setup = || {
        let mut d = Driver::settled(three_hosts(json!({"check_interval_s": 5})));
        d.feed(
            1_000,
            Event::HostMaintenance {
                host: "h1".into(),
                enter: true,
            },
        );
        let m = d.migrate_in_flight();
        assert_eq!(m.len(), 1, "{m:?}");
        let (_, lost, from, to) = m[0].clone();
        assert_eq!(from, "h1");
        (d.crash_and_recover(3_000), lost, to)
    };

    // Both hosts answer and list no copy, afresh, and a query after those
    // listings finds none: the migration can no longer land, and the VM
    // is restarted as a VM found nowhere (on its own host first).
    let (mut r, lost, to) = setup();
    for s in 3..200 {
        r.second_without(s * 1_000, &lost, |_| false, |_| false);
    }
    let ruled: Vec<usize> = r
        .outs
        .iter()
        .enumerate()
        .filter(|(_, o)| {
            o.notes.contains(&Note::LandingRuledOut {
                vm: lost.clone(),
                host: to.clone(),
            })
        })
        .map(|(i, _)| i)
        .collect();
    assert_eq!(ruled.len(), 1, "{:?}", notes(&r.outs));
    let started = starts_of(&r.outs, &lost);
    assert_eq!(
        started.first(),
        Some(&(ruled[0], "h1".to_string())),
        "{started:?}"
    );
    // Not before the VM was looked for (60 s after the restart), and only
    // on listings of both hosts asked after the check began.
    let from = r
        .outs
        .iter()
        .position(|o| {
            o.actions
                .iter()
                .any(|a| matches!(a, Action::QueryVm { vm, .. } if *vm == lost))
        })
        .expect("looked for");
    assert!(r.states[from]["now"].as_u64().unwrap() >= 3_000 + SETTLE_MS);
    let fresh = |host: &str| {
        r.outs[from..ruled[0]].iter().any(|o| {
            o.actions
                .iter()
                .any(|a| matches!(a, Action::Inventory { host: h, .. } if h == host))
        })
    };
    assert!(fresh("h1") && fresh(&to), "decided on stale listings");

    // The target lists it (paused: a migration under way): found there,
    // never started anywhere.
    let (mut r, lost, to) = setup();
    for s in 3..200 {
        let shows = |h: &str| s >= 60 && h == to;
        r.second_without(s * 1_000, &lost, shows, |_| false);
    }
    assert!(starts_of(&r.outs, &lost).is_empty());
    assert_eq!(vm_host(&r.rt, &lost), to);

    // The target cannot list its VMs: nothing rules the landing out, the
    // VM is not started (it may still land there).
    let (mut r, lost, to) = setup();
    for s in 3..200 {
        let fails = |h: &str| s >= 60 && h == to;
        r.second_without(s * 1_000, &lost, |_| false, fails);
    }
    assert!(
        starts_of(&r.outs, &lost).is_empty(),
        "{:?}",
        starts_of(&r.outs, &lost)
    );
    assert!(
        !notes(&r.outs)
            .iter()
            .any(|n| matches!(n, Note::LandingRuledOut { .. }))
    );
    // A snapshot written before pins kept more than `[id, host]` still
    // restores: such a pin is checked no sooner than the longest deadline
    // (a migration's, 600 s) after the snapshot.
    let mut state = r.rt.state_json();
    let pin = state["late_landings"][&lost].clone();
    assert_eq!(pin["host"], json!(to), "{pin}");
    assert_eq!(pin["from"], json!("h1"), "{pin}");
    state["late_landings"][&lost] = json!([pin["id"], to]);
    let old = Runtime::restore(&state).expect("an older snapshot restores");
    let now = r.rt.now();
    assert_eq!(
        old.state_json()["late_landings"][&lost]["check_from"],
        json!(now + MIGRATE_DEADLINE_MS)
    );

    // The source dies after the restart and is fenced; every start on the
    // target is refused. A host confirmed off holds no copy, so a fresh
    // empty listing of the target and a query that every host answered
    // end the pin, and the VM is restarted (simulation seed 43132: it was
    // queried every 5 s to the end).
    let (mut r, lost, to) = setup();
    let mut runs_on: Option<String> = None;
    let ruled_out = |outs: &[Output]| {
        outs.iter().position(|o| {
            o.notes
                .iter()
                .any(|n| matches!(n, Note::LandingRuledOut { vm, .. } if *vm == lost))
        })
    };
    for s in 3..400 {
        let at = s * 1_000;
        let on = runs_on.clone();
        let shows = |h: &str| on.as_deref() == Some(h);
        r.second_without_on(at, &lost, &["h1"], shows, |_| false);
        let ok = ruled_out(&r.outs).is_some();
        let starting: Vec<(u64, String)> = r
            .rt
            .in_flight()
            .filter_map(|a| match a {
                Action::StartVm { id, vm, host, .. } if *vm == lost => Some((*id, host.clone())),
                _ => None,
            })
            .collect();
        for (id, host) in starting {
            if ok {
                runs_on = Some(host.clone());
            }
            r.feed(
                at,
                Event::VmStartResult {
                    id,
                    vm: lost.clone(),
                    host,
                    ok,
                    error: (!ok).then(|| "the hypervisor refused the start".into()),
                    in_doubt: false,
                },
            );
        }
    }
    assert_eq!(r.rt.host_statuses()["h1"], "fenced");
    let ruled =
        ruled_out(&r.outs).unwrap_or_else(|| panic!("the pin never ended: {:?}", notes(&r.outs)));
    let started = starts_of(&r.outs, &lost);
    let (before, after): (Vec<_>, Vec<_>) = started.iter().partition(|(i, _)| *i < ruled);
    assert!(!before.is_empty(), "{started:?}");
    assert!(before.iter().all(|(_, h)| *h == to), "{started:?}");
    assert_eq!(after.len(), 1, "{started:?}");
    assert_eq!(runs_on.as_deref(), Some(vm_host(&r.rt, &lost).as_str()));
    assert_ne!(vm_host(&r.rt, &lost), "h1");
}

#[test]
fn a_vm_that_crashes_on_the_source_of_a_migration_that_may_land_is_looked_for_not_started() {
    // A drain migration is in flight when the runtime dies. The resumed
    // runtime finds the VM still on its source, then the VM crashes
    // there. The migration may still land on its target: no start is
    // made (none withheld either), until fresh listings and a query rule
    // the landing out; then it is started on its own host.
    let mut d = Driver::settled(three_hosts(json!({"check_interval_s": 5})));
    d.feed(
        1_000,
        Event::HostMaintenance {
            host: "h1".into(),
            enter: true,
        },
    );
    let m = d.migrate_in_flight();
    assert_eq!(m.len(), 1, "{m:?}");
    let (_, vm, from, to) = m[0].clone();
    assert_eq!(from, "h1");
    let mut r = d.crash_and_recover(3_000);
    for s in 3..10 {
        r.second_without(s * 1_000, &vm, |h| h == "h1", |_| false);
    }
    assert_eq!(vm_host(&r.rt, &vm), "h1", "found on its source");
    assert!(starts_of(&r.outs, &vm).is_empty());
    let crash = r.outs.len();
    r.feed(10_000, Event::VmCrashed { vm: vm.clone() });
    for s in 11..200 {
        r.second_without(s * 1_000, &vm, |_| false, |_| false);
    }
    let withheld: Vec<Alert> = alerts(&r.outs)
        .into_iter()
        .filter(|a| matches!(a, Alert::StartWithheld { .. }))
        .collect();
    assert!(withheld.is_empty(), "{withheld:?}");
    let ruled = r
        .outs
        .iter()
        .position(|o| {
            o.notes.contains(&Note::LandingRuledOut {
                vm: vm.clone(),
                host: to.clone(),
            })
        })
        .expect("the landing ruled out");
    assert!(ruled > crash);
    let started = starts_of(&r.outs, &vm);
    assert_eq!(
        started.first(),
        Some(&(ruled, "h1".to_string())),
        "{started:?}"
    );
}

#[test]
fn an_outside_monitors_word_is_not_fenced_on_by_a_runtime_cut_off_from_the_pool() {
    // The runtime already takes itself for the isolated side (of h1..h5
    // only h5 answers it) when a monitor says h1 is down: h1 is held, not
    // fenced, and nothing of it starts, for as long as the runtime is cut
    // off.
    let mut d = Driver::settled(n_hosts(5, json!({"check_interval_s": 2})));
    let cut = ["h1", "h2", "h3", "h4"];
    let mut t = 2_000;
    while t <= 10_000 {
        d.round(t, &cut);
        t += 2_000;
    }
    assert!(d.rt.isolated());
    let from = d.outs.len();
    d.monitor_down_while(t, "h1", &cut);
    assert_eq!(d.rt.host_statuses()["h1"], "fence_hold");
    while t <= 120_000 {
        d.round(t, &cut);
        t += 2_000;
    }
    assert!(
        fences(d.since(from)).is_empty(),
        "{:?}",
        fences(d.since(from))
    );
    assert!(starts(d.since(from)).is_empty());
    // Its network back, the fence goes out, then the restart.
    let from = d.outs.len();
    d.round(t, &["h1"]);
    assert!(!d.rt.isolated());
    assert_eq!(
        fences(d.since(from)),
        [("h1".to_string(), 0, "fence_ipmilan".to_string())]
    );
    d.fence(t, "h1", true);
    assert_eq!(started_vms(d.since(from)), ["v1"]);

    // The runtime's network fails just as the monitor's word comes: the
    // probes it sends then go unanswered, it finds itself cut off, and
    // sends no fence.
    let mut d = Driver::settled(n_hosts(5, json!({"check_interval_s": 2})));
    let from = d.outs.len();
    let out = d.feed(1_000, Event::HostDown { host: "h1".into() });
    assert!(fences(&[out]).is_empty());
    let mut t = 1_000;
    while t <= 120_000 {
        d.round(t, &cut);
        t += 2_000;
    }
    assert!(d.rt.isolated());
    assert!(
        fences(d.since(from)).is_empty(),
        "{:?}",
        fences(d.since(from))
    );
    assert!(starts(d.since(from)).is_empty());
}

// ---- the budget of exact checks ----

/// Three hosts of 256: h1 runs six protected VMs (48, 3 x 32, 2 x 24) that
/// fit the 96 left on h2 and on h3 only as 48 + 24 + 24 and 3 x 32 (first
/// fit fails). It tolerates exactly 1; without time to search, the bounds
/// leave it between 0 and 1.
fn trap_pool() -> Value {
    pool(
        json!({}),
        vec![host("h1", 256), host("h2", 256), host("h3", 256)],
        vec![
            vm("db", "h1", 48),
            vm("app1", "h1", 32),
            vm("app2", "h1", 32),
            vm("app3", "h1", 32),
            vm("web1", "h1", 24),
            vm("web2", "h1", 24),
            with(vm("batch2", "h2", 160), json!({"restart": "unprotected"})),
            with(vm("batch3", "h3", 160), json!({"restart": "unprotected"})),
        ],
    )
}

fn resize(d: &mut Driver, at: Millis, vm: &str, mem: i64) -> Output {
    d.feed(
        at,
        Event::VmResized {
            vm: vm.into(),
            demand: [("mem".to_string(), mem)].into_iter().collect(),
        },
    )
}

/// The log of `d` replays to its state, and a runtime recovered from it
/// goes on.
fn replays_identically(d: &Driver) {
    let rep = log::replay(Cursor::new(d.log_text().into_bytes()))
        .unwrap_or_else(|e| panic!("the log does not replay: {e}"));
    assert_eq!(rep.steps, d.journal.steps());
    assert_eq!(rep.runtime.state_json(), d.rt.state_json());
    let _ = d.crash_and_recover(d.rt.now() + 1_000);
}

#[test]
fn a_tolerance_check_out_of_budget_alerts_its_proved_bounds_and_claims_nothing_more() {
    let mut d = Driver::settled(trap_pool());
    // Built from the pool file, within the default budget: the exact
    // tolerance.
    assert!(notes(&d.outs).contains(&Note::Tolerance {
        configured: 1,
        max_tolerable: 1,
        upper_bound: None,
    }));
    assert!(alerts(&d.outs).is_empty(), "{:?}", alerts(&d.outs));
    d.rt.set_check_budget(Some(std::time::Duration::ZERO));
    let out = resize(&mut d, 1_000, "web2", 23);
    assert_eq!(out.undecided.len(), 1, "{:?}", out.undecided);
    let u = &out.undecided[0];
    assert_eq!(u.what, haplan_runtime::budget::CheckUse::Tolerance);
    let (lower, upper) = (u.lower.unwrap(), u.upper.unwrap());
    assert!(lower < 1 && upper >= 1, "{lower}..{upper}");
    // Proved bounds, not a verdict: no overcommitment, no drop claimed.
    assert!(out.notes.contains(&Note::Tolerance {
        configured: 1,
        max_tolerable: lower,
        upper_bound: Some(upper),
    }));
    assert!(
        out.alerts.iter().any(|a| matches!(a,
            Alert::ToleranceUndecided { configured: 1, lower: l, upper: u, .. }
                if *l == lower && *u == upper)),
        "{:?}",
        out.alerts
    );
    assert!(
        !out.alerts.iter().any(|a| matches!(
            a,
            Alert::Overcommitted { .. } | Alert::ToleranceDropped { .. } | Alert::ZeroTolerable
        )),
        "{:?}",
        out.alerts
    );
    // The same bounds again: no second alert.
    let out = resize(&mut d, 2_000, "web2", 22);
    assert!(
        !out.alerts
            .iter()
            .any(|a| matches!(a, Alert::ToleranceUndecided { .. }))
    );
    // With time, decided: k is guaranteed again.
    d.rt.set_check_budget(None);
    let out = resize(&mut d, 3_000, "web2", 24);
    assert!(out.undecided.is_empty());
    assert!(out.notes.contains(&Note::Tolerance {
        configured: 1,
        max_tolerable: 1,
        upper_bound: None,
    }));
    assert!(out.alerts.iter().any(|a| matches!(
        a,
        Alert::PlanRestored {
            configured: 1,
            max_tolerable: 1
        }
    )));
    replays_identically(&d);
}

#[test]
fn building_a_runtime_keeps_its_first_check_within_the_budget_and_its_log_replays_it() {
    // The first recalculation has the budget from construction: with no
    // time at all, a pool that decides at once otherwise comes out
    // undecided, with proved bounds only.
    let zero = Some(std::time::Duration::ZERO);
    let (rt, out) = Runtime::with_check_budget(trap_pool(), 0, zero).expect("a valid pool");
    assert_eq!(out.undecided.len(), 1, "{:?}", out.undecided);
    let u = &out.undecided[0];
    assert_eq!(u.what, haplan_runtime::budget::CheckUse::Tolerance);
    let (lower, upper) = (u.lower.unwrap(), u.upper.unwrap());
    assert!(lower <= upper, "{lower}..{upper}");
    assert_eq!(rt.tolerance().map(|t| t.1), Some(lower));
    // The default budget decides it: Runtime::new is bounded, not blind.
    let (full, first) = Runtime::new(trap_pool(), 0).expect("a valid pool");
    assert!(first.undecided.is_empty(), "{:?}", first.undecided);
    // A log begun with that outcome replays to the same state, although
    // the replaying runtime's budget would decide the check; begun without
    // it, the check runs to the end and the state differs.
    let mut text = Vec::new();
    Journal::begin(&mut text, &trap_pool(), 0, &out.undecided).expect("in memory");
    let rep = log::replay(Cursor::new(text)).expect("replays");
    assert_eq!(rep.runtime.state_json(), rt.state_json());
    let mut plain = Vec::new();
    Journal::start(&mut plain, &trap_pool(), 0).expect("in memory");
    let rep = log::replay(Cursor::new(plain)).expect("replays");
    assert_eq!(rep.runtime.state_json(), full.state_json());
    assert_ne!(full.state_json(), rt.state_json());
}

#[test]
fn a_log_with_checks_out_of_budget_replays_them_as_logged() {
    let mut d = Driver::settled(trap_pool());
    d.rt.set_check_budget(Some(std::time::Duration::ZERO));
    resize(&mut d, 1_000, "web2", 23);
    d.tick(10_000);
    // The replaying runtime has the default budget, in which these checks
    // decide: it must take the logged outcomes, not run them again.
    assert_eq!(
        Runtime::new(trap_pool(), 0).unwrap().0.check_budget(),
        Some(haplan_runtime::DEFAULT_CHECK_BUDGET)
    );
    replays_identically(&d);
    // A log whose undecided check is removed is refused: the check is run
    // again, decides, and the step differs.
    let text = d.log_text();
    let tampered: String = text
        .lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).unwrap();
            if let Some(o) = v.get_mut("output").and_then(Value::as_object_mut) {
                o.remove("undecided");
            }
            format!("{v}\n")
        })
        .collect();
    assert!(text.contains("\"undecided\""));
    assert!(matches!(
        log::replay(Cursor::new(tampered.into_bytes())),
        Err(LogError::Diverged { .. })
    ));
}

#[test]
fn admission_out_of_budget_admits_flagged_and_refuses_only_on_a_proof() {
    let mut d = Driver::settled(trap_pool());
    let change = Operation::PriorityChange {
        vm: "web1".into(),
        priority: None,
        restart: Some(haplan::model::Restart::Protected),
    };
    d.rt.set_check_budget(None);
    assert_eq!(
        d.rt.check_operation_exact(&change).unwrap(),
        Admission::Allowed { configured: 1 }
    );
    d.rt.set_check_budget(Some(std::time::Duration::ZERO));
    let a = d.rt.check_operation_exact(&change).unwrap();
    assert!(
        matches!(a, Admission::Undecided { configured: 1, .. }),
        "{a:?}"
    );
    let v = serde_json::to_value(&a).unwrap();
    assert_eq!(v["verdict"], "allowed");
    assert_eq!(v["undecided"], true);
    // Tolerating 2 fails (a proof, with time); without time it is never
    // refused unproved.
    let two = Operation::SetTolerance { k: 2 };
    assert!(matches!(
        d.rt.check_operation_exact(&two).unwrap(),
        Admission::WouldOvercommit { configured: 2, .. }
            | Admission::Undecided { configured: 2, .. }
    ));
    d.rt.set_check_budget(None);
    assert!(matches!(
        d.rt.check_operation_exact(&two).unwrap(),
        Admission::WouldOvercommit { configured: 2, .. }
    ));
    d.rt.set_check_budget(Some(std::time::Duration::ZERO));
    // Disabling a host whose drain is undecided is admitted, flagged.
    let a =
        d.rt.check_operation_exact(&Operation::HostDisable { host: "h2".into() })
            .unwrap();
    assert!(
        !matches!(
            a,
            Admission::WouldOvercommit { .. } | Admission::Refused { .. }
        ) || format!("{a:?}").contains("fits on no other host"),
        "{a:?}"
    );
    // Nothing is logged or changed by a question.
    assert_eq!(d.rt.state_json(), *d.states.last().unwrap());
}

#[test]
fn restarts_planned_out_of_budget_use_a_fixed_effort_plan_the_checker_accepts() {
    let mut d = Driver::settled(trap_pool());
    d.rt.set_check_budget(Some(std::time::Duration::ZERO));
    let from = d.outs.len();
    d.fail_host(1_000, "h1");
    let undecided: Vec<_> = d
        .since(from)
        .iter()
        .flat_map(|o| o.undecided.clone())
        .collect();
    assert!(
        undecided
            .iter()
            .any(|u| u.what == haplan_runtime::budget::CheckUse::Plan),
        "{undecided:?}"
    );
    // First fit fails here; the fixed effort's bounded search still finds
    // the packing: every protected VM of h1 starts, 96 on each survivor.
    let started = starts(d.since(from));
    let mut vms: Vec<&str> = started.iter().map(|(v, _, _)| v.as_str()).collect();
    vms.sort_unstable();
    assert_eq!(vms, ["app1", "app2", "app3", "db", "web1", "web2"]);
    let load = |h: &str| -> i64 {
        started
            .iter()
            .filter(|(_, host, _)| host == h)
            .map(|(v, _, _)| match v.as_str() {
                "db" => 48,
                "web1" | "web2" => 24,
                _ => 32,
            })
            .sum()
    };
    assert!(load("h2") <= 96 && load("h3") <= 96);
    assert!(
        !alerts(d.since(from))
            .iter()
            .any(|a| matches!(a, Alert::RestartFailed { .. }))
    );
    replays_identically(&d);
}

#[test]
fn a_step_on_a_hard_pool_returns_within_its_budget_undecided() {
    // 20 hosts of 256 GiB running 180 VMs: K = 2 is proved at once, the
    // exact maximum (6) takes seconds of search over failure sets. HA is
    // off in the file (the unbudgeted check at start is trivial) and
    // turned on by a step with a budget of a millisecond.
    let mut doc = haplan_benches::knife_edge_pool(20, 9, 1);
    doc["ha"]["enabled"] = json!(false);
    let mut d = Driver::settled(doc);
    d.rt.set_check_budget(Some(std::time::Duration::from_millis(1)));
    let on = json!({"enabled": true}).as_object().unwrap().clone();
    let out = d.feed(1_000, Event::ConfigChanged { ha: on });
    let u = out
        .undecided
        .iter()
        .find(|u| u.what == haplan_runtime::budget::CheckUse::Tolerance)
        .unwrap_or_else(|| panic!("{out:?}"));
    let (lower, upper) = (u.lower.unwrap(), u.upper.unwrap());
    assert!(
        lower <= 6 && 6 <= upper && lower < upper,
        "{lower}..{upper}"
    );
    assert!(out.notes.contains(&Note::Tolerance {
        configured: 2,
        max_tolerable: lower,
        upper_bound: Some(upper),
    }));
    assert!(
        !out.alerts.iter().any(|a| matches!(
            a,
            Alert::Overcommitted { .. } | Alert::ToleranceDropped { .. } | Alert::ZeroTolerable
        )),
        "{:?}",
        out.alerts
    );
    // Below K proved: undecided, said so; K proved: nothing to alert.
    assert_eq!(
        out.alerts
            .iter()
            .any(|a| matches!(a, Alert::ToleranceUndecided { .. })),
        lower < 2
    );
    // The replay takes the logged outcome (running the check again would
    // take seconds and prove 6).
    let rep = log::replay(Cursor::new(d.log_text().into_bytes())).expect("replays");
    assert_eq!(rep.runtime.state_json(), d.rt.state_json());
}

#[test]
fn a_lone_host_is_never_fenced_on_a_monitors_word_and_the_runtime_says_so() {
    // Two hosts, h2 in maintenance: h1 is the electorate alone.
    let doc = pool(
        json!({"check_interval_s": 5}),
        vec![
            host("h1", 100),
            with(host("h2", 100), json!({"state": "maintenance"})),
        ],
        vec![vm("x", "h1", 10)],
    );
    let mut d = Driver::settled(doc);
    let from = d.outs.len();
    d.feed(1_000, Event::HostDown { host: "h1".into() });
    let mut t = 1_000;
    while t <= 60_000 {
        d.round(t, &["h1"]);
        t += 5_000;
    }
    assert!(fences(d.since(from)).is_empty());
    assert!(starts(d.since(from)).is_empty());
    let isolated: Vec<Alert> = alerts(d.since(from))
        .into_iter()
        .filter(|a| matches!(a, Alert::RuntimeIsolated { .. }))
        .collect();
    assert_eq!(isolated.len(), 1, "{:?}", alerts(d.since(from)));
    // The operator's word releases its VMs.
    let out = d.feed(61_000, Event::FenceConfirmed { host: "h1".into() });
    assert!(out.notes.contains(&Note::HostFenced {
        host: "h1".into(),
        agent: None,
    }));
}
