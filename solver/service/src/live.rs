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

use std::collections::{BTreeMap, BTreeSet};
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
        let Ok(domains) = h.domains() else { return };
        for d in domains {
            if let Ok(xml) = h.domain_xml(&d.name) {
                self.definitions
                    .lock()
                    .expect("not poisoned")
                    .entry(d.name)
                    .or_insert(xml);
            }
        }
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
            .is_some_and(|h| h.probe(self.probe_timeout).is_ok());
        if ok {
            self.off.lock().expect("not poisoned").remove(host);
        }
        (ok, ok)
    }

    fn peer_reaches(&self, _peer: &str, host: &str) -> bool {
        self.peers
            .get(host)
            .is_some_and(|h| h.probe(self.probe_timeout).is_ok())
    }

    fn start_vm(&self, vm: &str, host: &str) -> Result<(), String> {
        let h = self.host(host)?;
        match h.domain(vm) {
            Ok(d) if d.state.is_active() => Ok(()), // it runs there already
            Ok(_) => h.start(vm).map_err(|e| e.to_string()),
            Err(LibvirtError::NoDomain { .. }) => {
                let xml = self
                    .definitions
                    .lock()
                    .expect("not poisoned")
                    .get(vm)
                    .cloned()
                    .ok_or_else(|| format!("no definition of {vm} is known"))?;
                h.define_and_start(&xml)
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
            match h.active_domains() {
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
            .host(host)?
            .active_domains()
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

/// Runs the runtime on the pool file `doc` in real time, performing every
/// action through `live` (each on a thread of its own, so a slow fence does
/// not hold a probe back), and calls `on_step` after each step. Time is
/// milliseconds since the call. Returns the runtime as it ends.
pub fn run(
    doc: serde_json::Value,
    live: Arc<Live>,
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
    let (tx, rx) = mpsc::channel::<Event>();
    let perform = |actions: &[Action]| {
        for a in actions {
            let a = a.clone();
            let tx = tx.clone();
            let live = Arc::clone(&live);
            std::thread::spawn(move || {
                let event = driver::perform(&a, &*live, &*live);
                let _ = tx.send(event);
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
            Ok(e) => e,
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
