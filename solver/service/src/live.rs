//! The runtime against real hosts (feature `drivers`): the driver traits
//! over libvirt connections and fence agents ([`Live`]), and a loop that
//! runs the state machine in real time ([`run`]).
//!
//! Where things are found in the pool file:
//! - `hosts[].labels.libvirt_uri`: the host's libvirt URI (the management
//!   network; health probes, starts, inventories go there). Required.
//! - `hosts[].labels.libvirt_peer_uri`: how a peer reaches the host, for the
//!   peer confirmation (the path the peers use, not the runtime's management
//!   network). Defaults to `libvirt_uri`.
//! - `hosts[].fencing`: fence levels, run as fence-agent programs
//!   (`haplan_drivers::FenceDevice`), parameters on standard input.
//!
//! A VM is restarted from the definition (libvirt XML) its host had: the
//! definitions of every domain are read when [`Live`] is made, and again
//! from each host that answers an inventory.
//!
//! A driver that fails (an action's thread panics, or a libvirt connection's
//! thread fails: `LibvirtError::DriverFault`) stops [`run`] with an error
//! saying so, before the answer it gave is believed; the caller exits
//! non-zero and its supervisor starts it again.

use std::collections::{BTreeMap, BTreeSet};
use std::panic::{self, AssertUnwindSafe};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use haplan_drivers::{ConnectOptions, FenceDevice, FenceParams, LibvirtError, LibvirtHost};

use haplan::model::Pool;
use haplan_runtime::driver::{self, Fencer, Hypervisor};
use haplan_runtime::log::Journal;
use haplan_runtime::{Action, Event, Input, Output, Runtime, RuntimeError};

/// Real drivers for one pool.
pub struct Live {
    hosts: BTreeMap<String, LibvirtHost>,
    peers: BTreeMap<String, LibvirtHost>,
    fences: BTreeMap<String, Vec<Result<FenceDevice, String>>>,
    definitions: Mutex<BTreeMap<String, String>>,
    /// Hosts a fence confirmed off (and not seen since): they run nothing.
    off: Mutex<BTreeSet<String>>,
    probe_timeout: Duration,
    fence_timeout: Duration,
    /// The first driver failure not yet reported by [`LiveDrivers::take_fault`].
    fault: Mutex<Option<String>>,
}

/// What [`run`] needs of its drivers: the driver traits, and whether a
/// driver failed.
pub trait LiveDrivers: Hypervisor + Fencer + 'static {
    /// A driver failure noted since the last call, if any. A driver notes
    /// a failure before it returns the answer the failure spoiled.
    fn take_fault(&self) -> Option<String>;
}

impl Live {
    /// Connections (opened on first use) and fence devices for every host
    /// of `pool`; then the VM definitions of every host that answers.
    pub fn new(pool: &Pool) -> Result<Live, String> {
        let options = ConnectOptions {
            call_timeout: Duration::from_secs(10),
            ..ConnectOptions::default()
        };
        let mut hosts = BTreeMap::new();
        let mut peers = BTreeMap::new();
        let mut fences = BTreeMap::new();
        for h in &pool.hosts {
            let uri = h.labels.get("libvirt_uri").ok_or_else(|| {
                format!(
                    "host {} has no labels.libvirt_uri: the runtime cannot reach it",
                    h.name
                )
            })?;
            let peer = h.labels.get("libvirt_peer_uri").unwrap_or(uri);
            let conn = |u: &str| {
                LibvirtHost::new(u, options.clone()).map_err(|e| format!("host {}: {e}", h.name))
            };
            hosts.insert(h.name.clone(), conn(uri)?);
            peers.insert(h.name.clone(), conn(peer)?);
            let levels = h
                .fencing
                .iter()
                .map(|l| {
                    FenceParams::from_json(&l.params)
                        .and_then(|p| FenceDevice::new(&l.agent, p))
                        .map_err(|e| e.to_string())
                })
                .collect();
            fences.insert(h.name.clone(), levels);
        }
        let live = Live {
            hosts,
            peers,
            fences,
            definitions: Mutex::new(BTreeMap::new()),
            off: Mutex::new(BTreeSet::new()),
            probe_timeout: Duration::from_secs(2),
            fence_timeout: Duration::from_secs(pool.ha.fence_timeout_s.max(1)),
            fault: Mutex::new(None),
        };
        for host in live.hosts.keys() {
            live.remember(host);
        }
        Ok(live)
    }

    /// Reads the definitions of the domains of `host`, if it answers.
    fn remember(&self, host: &str) {
        let Some(h) = self.hosts.get(host) else {
            return;
        };
        let Ok(domains) = self.seen(h.domains()) else {
            return;
        };
        for d in domains {
            if let Ok(xml) = self.seen(h.domain_xml(&d.name)) {
                self.definitions
                    .lock()
                    .expect("not poisoned")
                    .entry(d.name)
                    .or_insert(xml);
            }
        }
    }

    /// Passes a libvirt answer through, noting a driver failure.
    fn seen<T>(&self, r: Result<T, LibvirtError>) -> Result<T, LibvirtError> {
        if let Err(e @ LibvirtError::DriverFault { .. }) = &r {
            self.fault
                .lock()
                .expect("not poisoned")
                .get_or_insert_with(|| e.to_string());
        }
        r
    }

    fn host(&self, name: &str) -> Result<&LibvirtHost, String> {
        self.hosts
            .get(name)
            .ok_or_else(|| format!("unknown host {name}"))
    }
}

impl Hypervisor for Live {
    fn probe(&self, host: &str) -> (bool, bool) {
        let ok = self
            .hosts
            .get(host)
            .is_some_and(|h| self.seen(h.probe(self.probe_timeout)).is_ok());
        if ok {
            self.off.lock().expect("not poisoned").remove(host);
        }
        (ok, ok)
    }

    fn peer_reaches(&self, _peer: &str, host: &str) -> bool {
        self.peers
            .get(host)
            .is_some_and(|h| self.seen(h.probe(self.probe_timeout)).is_ok())
    }

    fn start_vm(&self, vm: &str, host: &str) -> Result<(), String> {
        let h = self.host(host)?;
        match self.seen(h.domain(vm)) {
            Ok(d) if d.state.is_active() => Ok(()), // it runs there already
            Ok(_) => self.seen(h.start(vm)).map_err(|e| e.to_string()),
            Err(LibvirtError::NoDomain { .. }) => {
                let xml = self
                    .definitions
                    .lock()
                    .expect("not poisoned")
                    .get(vm)
                    .cloned()
                    .ok_or_else(|| format!("no definition of {vm} is known"))?;
                self.seen(h.define_and_start(&xml))
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }
            Err(e) => Err(e.to_string()),
        }
    }

    fn migrate(&self, vm: &str, _from: &str, _to: &str) -> Result<(), String> {
        Err(format!(
            "live migration of {vm} is not available with the libvirt driver yet"
        ))
    }

    fn locate(&self, vm: &str) -> Result<Option<String>, String> {
        let off = self.off.lock().expect("not poisoned").clone();
        for (name, h) in &self.hosts {
            if off.contains(name) {
                continue;
            }
            match self.seen(h.active_domains()) {
                Ok(list) => {
                    if list.iter().any(|d| d.name == vm) {
                        return Ok(Some(name.clone()));
                    }
                }
                // It may run on a host that does not answer: not known.
                Err(e) => return Err(format!("{name} did not answer: {e}")),
            }
        }
        Ok(None)
    }

    fn list_vms(&self, host: &str) -> Result<Vec<String>, String> {
        let list = self
            .seen(self.host(host)?.active_domains())
            .map_err(|e| e.to_string())?;
        self.remember(host);
        Ok(list.into_iter().map(|d| d.name).collect())
    }
}

impl Fencer for Live {
    fn fence(&self, host: &str, level: usize) -> Result<bool, String> {
        let device = self
            .fences
            .get(host)
            .and_then(|l| l.get(level))
            .ok_or_else(|| format!("{host} has no fence level {}", level + 1))?
            .as_ref()
            .map_err(|e| e.clone())?;
        device
            .off_and_confirm(self.fence_timeout)
            .map_err(|e| e.to_string())?;
        self.off
            .lock()
            .expect("not poisoned")
            .insert(host.to_string());
        Ok(true)
    }
}

impl LiveDrivers for Live {
    fn take_fault(&self) -> Option<String> {
        self.fault.lock().expect("not poisoned").take()
    }
}

/// How long [`run`] goes on, and where it writes its log.
#[derive(Default)]
pub struct LiveOptions<'a> {
    /// Stop after this long (`None`: until `stop`).
    pub until: Option<Duration>,
    /// Stop when this becomes true.
    pub stop: Option<&'a AtomicBool>,
    /// Append the runtime's log (fsynced) to this file.
    pub log: Option<&'a Path>,
}

/// What an action's thread reports.
enum Report {
    Answer(Event),
    Fault(String),
}

/// Runs the runtime on the pool file `doc` in real time, performing every
/// action through `live` (each on a thread of its own, so a slow fence does
/// not hold a probe back), and calls `on_step` after each step. Time is
/// milliseconds since the call. Returns the runtime as it ends, or an error
/// as soon as a driver fails (an action's thread panics, or
/// [`LiveDrivers::take_fault`] reports a failure): the answers of a failed
/// driver are not believed, and the runtime stops so that its supervisor
/// starts it again.
pub fn run<D: LiveDrivers>(
    doc: serde_json::Value,
    live: Arc<D>,
    options: &LiveOptions,
    mut on_step: impl FnMut(&Input, &Output),
) -> Result<Runtime, String> {
    let start = Instant::now();
    let now = || start.elapsed().as_millis() as u64;
    let (mut rt, first) = Runtime::new(doc.clone(), 0).map_err(|e: RuntimeError| e.to_string())?;
    let mut journal = match options.log {
        Some(path) => {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .truncate(true)
                .write(true)
                .open(path)
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            Some(Journal::start(file, &doc, 0).map_err(|e| e.to_string())?)
        }
        None => None,
    };
    let (tx, rx) = mpsc::channel::<Report>();
    let perform = |actions: &[Action]| {
        for a in actions {
            let a = a.clone();
            let tx = tx.clone();
            let live = Arc::clone(&live);
            std::thread::spawn(move || {
                let done =
                    panic::catch_unwind(AssertUnwindSafe(|| driver::perform(&a, &*live, &*live)));
                let report = match done {
                    Ok(event) => Report::Answer(event),
                    Err(payload) => Report::Fault(format!(
                        "the thread performing {} panicked: {}",
                        serde_json::to_string(&a).unwrap_or_default(),
                        panic_text(&*payload)
                    )),
                };
                let _ = tx.send(report);
            });
        }
    };
    let mut wake = first.wake_at;
    let input = Input {
        at: 0,
        event: Event::Tick,
    };
    on_step(&input, &first);
    perform(&first.actions);
    loop {
        if options.stop.is_some_and(|s| s.load(Ordering::Relaxed))
            || options.until.is_some_and(|u| start.elapsed() >= u)
        {
            break;
        }
        let wait = wake
            .map(|w| w.saturating_sub(now()))
            .unwrap_or(1_000)
            .clamp(5, 250);
        let event = match rx.recv_timeout(Duration::from_millis(wait)) {
            // A driver notes a fault before it returns the answer it spoiled.
            Ok(Report::Answer(e)) => match live.take_fault() {
                Some(fault) => return Err(stopped(&fault)),
                None => e,
            },
            Ok(Report::Fault(fault)) => return Err(stopped(&fault)),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if wake.is_some_and(|w| now() < w) {
                    continue;
                }
                Event::Tick
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        };
        let input = Input { at: now(), event };
        match rt.handle(&input) {
            Ok(out) => {
                if let Some(j) = journal.as_mut() {
                    j.append(&input, &out)
                        .map_err(|e| format!("the log: {e}"))?;
                }
                on_step(&input, &out);
                wake = out.wake_at;
                perform(&out.actions);
            }
            Err(e) => return Err(format!("the runtime refused {:?}: {e}", input.event)),
        }
    }
    Ok(rt)
}

fn stopped(fault: &str) -> String {
    format!("a driver failed ({fault}); the runtime stops so that its supervisor starts it again")
}

fn panic_text(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("no message")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Drivers whose hosts all answer, except as told.
    #[derive(Default)]
    struct Drivers {
        /// A probe panics.
        probe_panics: bool,
        /// A probe notes a driver fault and answers "down".
        probe_faults: bool,
        fault: Mutex<Option<String>>,
    }

    impl Hypervisor for Drivers {
        fn probe(&self, host: &str) -> (bool, bool) {
            if self.probe_panics {
                panic!("the probe of {host} broke");
            }
            if self.probe_faults {
                *self.fault.lock().unwrap() =
                    Some(format!("{host}: the connection's thread ended"));
                return (false, false);
            }
            (true, true)
        }
        fn peer_reaches(&self, _peer: &str, _host: &str) -> bool {
            true
        }
        fn start_vm(&self, _vm: &str, _host: &str) -> Result<(), String> {
            Ok(())
        }
        fn migrate(&self, _vm: &str, _from: &str, _to: &str) -> Result<(), String> {
            Ok(())
        }
        fn locate(&self, _vm: &str) -> Result<Option<String>, String> {
            Ok(Some("h1".into()))
        }
        fn list_vms(&self, host: &str) -> Result<Vec<String>, String> {
            Ok(if host == "h1" {
                vec!["a".into()]
            } else {
                vec![]
            })
        }
    }

    impl Fencer for Drivers {
        fn fence(&self, _host: &str, _level: usize) -> Result<bool, String> {
            Ok(true)
        }
    }

    impl LiveDrivers for Drivers {
        fn take_fault(&self) -> Option<String> {
            self.fault.lock().unwrap().take()
        }
    }

    fn pool() -> serde_json::Value {
        serde_json::json!({
            "format": "haplan/v1",
            "name": "t",
            "ha": {"host_failures_to_tolerate": 1, "check_interval_s": 1, "failure_threshold": 1},
            "hosts": [
                {"name": "h1", "capacity": {"memory_mib": 4096, "vcpus": 4}},
                {"name": "h2", "capacity": {"memory_mib": 4096, "vcpus": 4}}
            ],
            "vms": [{"name": "a", "host": "h1", "demand": {"memory_mib": 512, "vcpus": 1}}]
        })
    }

    /// Runs for at most `seconds`; the inputs the runtime handled.
    fn run_with(drivers: Drivers, seconds: u64) -> (Result<Runtime, String>, Vec<Input>) {
        let mut inputs = Vec::new();
        let options = LiveOptions {
            until: Some(Duration::from_secs(seconds)),
            ..LiveOptions::default()
        };
        let result = run(pool(), Arc::new(drivers), &options, |i, _| {
            inputs.push(i.clone())
        });
        (result, inputs)
    }

    #[test]
    fn healthy_drivers_are_probed_until_the_end() {
        let (result, inputs) = run_with(Drivers::default(), 2);
        result.unwrap();
        assert!(
            inputs
                .iter()
                .any(|i| matches!(&i.event, Event::HealthCheck { api: true, .. })),
            "{inputs:?}"
        );
    }

    #[test]
    fn an_action_thread_that_panics_stops_the_runtime_with_the_reason() {
        let drivers = Drivers {
            probe_panics: true,
            ..Drivers::default()
        };
        let (result, inputs) = run_with(drivers, 60);
        let e = result.err().expect("the runtime stops");
        assert!(e.contains("panicked: the probe of h"), "{e}");
        assert!(e.contains("\"type\":\"probe\""), "{e}");
        assert!(e.contains("supervisor"), "{e}");
        assert!(
            !inputs
                .iter()
                .any(|i| matches!(i.event, Event::HealthCheck { .. }))
        );
    }

    #[test]
    fn a_driver_fault_stops_the_runtime_before_the_spoiled_answer_is_believed() {
        let drivers = Drivers {
            probe_faults: true,
            ..Drivers::default()
        };
        let (result, inputs) = run_with(drivers, 60);
        let e = result.err().expect("the runtime stops");
        assert!(e.contains("the connection's thread ended"), "{e}");
        // The "down" answers were never handled: nothing was suspected,
        // let alone fenced.
        assert!(
            !inputs
                .iter()
                .any(|i| matches!(i.event, Event::HealthCheck { .. })),
            "{inputs:?}"
        );
    }
}
