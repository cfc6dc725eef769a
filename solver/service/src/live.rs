//! The runtime against real hosts (feature `drivers`): the driver traits
//! over libvirt connections and fence agents ([`Live`]), and a loop that
//! runs the state machine in real time ([`run`]).
//!
//! Where things are found in the pool file:
//! - `hosts[].labels.libvirt_uri`: the host's libvirt URI (the management
//!   network; health probes, starts, inventories go there). Required.
//! - `hosts[].labels.libvirt_peer_uri`: how a peer reaches the host, for the
//!   peer confirmation: a path that does not share the runtime's management
//!   network (through the peer, or a network of its own). Without it the
//!   peer check answers "cannot tell" and only a majority of the pool
//!   confirms a host down (docs/runtime.md, the safety rules).
//! - `hosts[].fencing`: fence levels, run as fence-agent programs
//!   (`haplan_drivers::FenceDevice`), parameters on standard input.
//!
//! A VM is restarted from the definition (libvirt XML) it last ran with: the
//! definitions of the running domains are read when [`Live`] is made, again
//! from every host that answers every [`DEFINITIONS_REFRESH`] and from each
//! host that answers an inventory (every minute), once more just before a
//! start from the host the VM's definition was last read on (unless that
//! host is known to be off), kept in a
//! file beside the log when one is given ([`Live::keep_definitions`]), and
//! written on the target (replacing an older definition there) before the
//! start.
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

use haplan_drivers::import::domain_demand;
use haplan_drivers::{ConnectOptions, FenceDevice, FenceParams, LibvirtError, LibvirtHost};

use haplan::model::{HaMode, Pool, Restart};
use haplan_runtime::driver::{self, Fencer, Hypervisor, StartError};
use haplan_runtime::{Action, Event, Input, Note, Output, Runtime, RuntimeError};

/// Real drivers for one pool.
pub struct Live {
    hosts: BTreeMap<String, LibvirtHost>,
    peers: BTreeMap<String, LibvirtHost>,
    fences: BTreeMap<String, Vec<Result<FenceDevice, String>>>,
    definitions: Mutex<BTreeMap<String, String>>,
    /// Where each VM's definition was last read (the host it ran on then).
    read_on: Mutex<BTreeMap<String, String>>,
    /// Where the definitions are kept (rewritten whole when one changes).
    definitions_file: Mutex<Option<std::path::PathBuf>>,
    /// Hosts a fence confirmed off (and not seen since): they run nothing.
    off: Mutex<BTreeSet<String>>,
    probe_timeout: Duration,
    fence_timeout: Duration,
    /// The first driver failure not yet reported by [`LiveDrivers::take_fault`].
    fault: Mutex<Option<String>>,
    /// The VMs HA restarts on another host when theirs fails.
    failover: Mutex<BTreeSet<String>>,
    /// (VM, host) pairs already warned of: libvirt autostart on.
    autostart_warned: Mutex<BTreeSet<(String, String)>>,
    /// Warnings not yet taken by [`LiveDrivers::take_warnings`].
    warnings: Mutex<Vec<String>>,
}

/// What [`run`] needs of its drivers: the driver traits, and whether a
/// driver failed.
pub trait LiveDrivers: Hypervisor + Fencer + 'static {
    /// A driver failure noted since the last call, if any. A driver notes
    /// a failure before it returns the answer the failure spoiled.
    fn take_fault(&self) -> Option<String>;
    /// Keeps the VM definitions in `path` from now on (read from it first,
    /// when it exists). Drivers that need no definitions ignore it.
    fn keep_definitions(&self, _path: &Path) -> Result<(), String> {
        Ok(())
    }
    /// Reads the VM definitions again from every host that answers, so that
    /// a VM is restarted with the definition it had just before its host
    /// failed ([`run`] calls it every [`DEFINITIONS_REFRESH`]). Drivers
    /// that need no definitions ignore it.
    fn refresh_definitions(&self) {}
    /// The hosts the runtime knows are off (confirmed by a fence, maybe
    /// before a restart of the runtime, or by an operator's
    /// `fence_confirmed`, and not seen since): they run nothing, so a VM is
    /// not "unknown" for want of their answer. [`run`] calls it once the
    /// runtime is made or resumed (every host it has fenced), then after
    /// each step that confirmed hosts off (those hosts).
    fn known_off(&self, _hosts: &[String]) {}
    /// What the operator should know and the runtime cannot fix, each
    /// once ([`run`] prints them on stderr): a VM that HA restarts
    /// elsewhere and whose domain has libvirt autostart on.
    fn take_warnings(&self) -> Vec<String> {
        Vec::new()
    }
    /// The VMs HA restarts on another host, as the runtime's pool has them
    /// now ([`run`] tells it at start and after each step that may change
    /// them: a VM new to the pool, a restart class, the HA settings).
    fn failover(&self, _vms: BTreeSet<String>) {}
}

/// The VMs of `pool` that HA restarts on another host when theirs fails.
pub fn failover_vms(pool: &Pool) -> BTreeSet<String> {
    if !pool.ha.enabled || pool.ha.mode != HaMode::Host {
        return BTreeSet::new();
    }
    pool.vms
        .iter()
        .filter(|v| v.restart != Restart::Unprotected)
        .map(|v| v.name.clone())
        .collect()
}

/// How often [`run`] reads the VM definitions again (besides every
/// inventory): a definition changed (memory, disks) is the one a restart
/// uses once this long has passed.
pub const DEFINITIONS_REFRESH: Duration = Duration::from_secs(5);

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
            let conn = |u: &str| {
                LibvirtHost::new(u, options.clone()).map_err(|e| format!("host {}: {e}", h.name))
            };
            hosts.insert(h.name.clone(), conn(uri)?);
            if let Some(peer) = h.labels.get("libvirt_peer_uri") {
                peers.insert(h.name.clone(), conn(peer)?);
            }
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
            read_on: Mutex::new(BTreeMap::new()),
            definitions_file: Mutex::new(None),
            off: Mutex::new(BTreeSet::new()),
            probe_timeout: Duration::from_secs(2),
            fence_timeout: Duration::from_secs(pool.ha.fence_timeout_s.max(1)),
            fault: Mutex::new(None),
            failover: Mutex::new(failover_vms(pool)),
            autostart_warned: Mutex::new(BTreeSet::new()),
            warnings: Mutex::new(Vec::new()),
        };
        for host in live.hosts.keys() {
            live.remember(host);
        }
        Ok(live)
    }

    /// Keeps the VM definitions in `path` (a JSON object, VM name to
    /// libvirt XML): those already there are read (a restarted runtime
    /// knows them before any host answers), then every change is written
    /// (a new file, synced, renamed over the old one).
    pub fn keep_definitions(&self, path: &Path) -> Result<(), String> {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let kept: BTreeMap<String, String> =
                    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
                let mut defs = self.definitions.lock().expect("not poisoned");
                for (vm, xml) in kept {
                    defs.entry(vm).or_insert(xml);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("{}: {e}", path.display())),
        }
        *self.definitions_file.lock().expect("not poisoned") = Some(path.to_path_buf());
        self.save_definitions()
    }

    fn save_definitions(&self) -> Result<(), String> {
        let Some(path) = self.definitions_file.lock().expect("not poisoned").clone() else {
            return Ok(());
        };
        let text = {
            let defs = self.definitions.lock().expect("not poisoned");
            serde_json::to_string(&*defs).map_err(|e| e.to_string())?
        };
        crate::files::write_atomically(&path, text.as_bytes())
            .map_err(|e| format!("{}: {e}", path.display()))
    }

    /// The definition `vm` last ran with, if known.
    pub fn definition(&self, vm: &str) -> Option<String> {
        self.definitions
            .lock()
            .expect("not poisoned")
            .get(vm)
            .cloned()
    }

    /// Reads the definitions of the domains running on `host`, if it
    /// answers (a running domain's definition is the one it runs with; a
    /// stopped copy elsewhere may be older), and notes every domain there,
    /// running or not, of a VM HA restarts elsewhere that has autostart on.
    fn remember(&self, host: &str) {
        let Some(h) = self.hosts.get(host) else {
            return;
        };
        let Ok(domains) = self.seen(h.domains()) else {
            return;
        };
        let mut changed = false;
        for d in domains {
            // Running there or only defined there (a VM moved away leaves
            // its definition behind): either starts when the host boots.
            if d.autostart
                && self
                    .failover
                    .lock()
                    .expect("not poisoned")
                    .contains(&d.name)
            {
                self.autostart_on(&d.name, host);
            }
            if !d.state.is_active() {
                continue;
            }
            if let Ok(xml) = self.seen(h.domain_xml(&d.name)) {
                changed |= self.keep(&d.name, host, xml);
            }
        }
        if changed {
            let _ = self.save_definitions();
        }
    }

    /// `vm`, which HA restarts elsewhere, has libvirt autostart on on
    /// `host` (where it runs, or where it is only defined): once `host` is
    /// fenced and the VM restarted on another host (or whenever `host`
    /// boots while the VM runs elsewhere), `host` starts it, a second copy until the
    /// runtime's inventory finds it and stops one (docs/runtime.md, "A
    /// returning host is inventoried before it counts as up"). Warned of
    /// once.
    fn autostart_on(&self, vm: &str, host: &str) {
        let new = self
            .autostart_warned
            .lock()
            .expect("not poisoned")
            .insert((vm.to_string(), host.to_string()));
        if new {
            self.warnings.lock().expect("not poisoned").push(format!(
                "{vm} has libvirt autostart on on {host}: whenever {host} boots (after a \
                 fence, say) it starts {vm}, also while {vm} runs on another host (two copies \
                 until the runtime finds and stops one); turn it off on {host} \
                 (virsh autostart --disable {vm})"
            ));
        }
    }

    /// Keeps `xml`, read on `host`, as `vm`'s definition; whether it
    /// changed.
    fn keep(&self, vm: &str, host: &str, xml: String) -> bool {
        self.read_on
            .lock()
            .expect("not poisoned")
            .insert(vm.to_string(), host.to_string());
        let mut defs = self.definitions.lock().expect("not poisoned");
        if defs.get(vm) == Some(&xml) {
            return false;
        }
        defs.insert(vm.to_string(), xml);
        true
    }

    /// Just before `vm` is started: its definition read again from the
    /// host it was last read on, when that host is not known to be off (a
    /// VM that crashed on a host that is up, say, whose definition was
    /// changed since the last read). A host that is off (the usual case of
    /// a restart: its host died) cannot be read: the definition kept is the
    /// latest read while it answered.
    fn refresh_before_start(&self, vm: &str) {
        let Some(last) = self.read_on.lock().expect("not poisoned").get(vm).cloned() else {
            return;
        };
        if self.off.lock().expect("not poisoned").contains(&last) {
            return;
        }
        let Some(h) = self.hosts.get(&last) else {
            return;
        };
        if let Ok(xml) = self.seen(h.domain_xml(vm))
            && self.keep(vm, &last, xml)
        {
            let _ = self.save_definitions();
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

    fn peer_reaches(&self, _peer: &str, host: &str) -> Result<bool, String> {
        let peer = self.peers.get(host).ok_or_else(|| {
            format!("{host} has no labels.libvirt_peer_uri: no path but the runtime's own")
        })?;
        Ok(self.seen(peer.probe(self.probe_timeout)).is_ok())
    }

    fn start_vm(&self, vm: &str, host: &str) -> Result<(), StartError> {
        let fail = start_error;
        let h = self.host(host).map_err(StartError::failed)?;
        self.refresh_before_start(vm);
        let known = match self.seen(h.domain(vm)) {
            Ok(d) if d.state.is_active() => return Ok(()), // it runs there already
            Ok(_) => true,
            Err(LibvirtError::NoDomain { .. }) => false,
            Err(e) => return Err(fail(e)),
        };
        // The latest definition it ran with replaces an older one there.
        let started = match self.definition(vm) {
            Some(xml) => self.seen(h.define_and_start(&xml)).map(|_| ()),
            None if known => self.seen(h.start(vm)),
            None => {
                return Err(StartError::failed(format!(
                    "no definition of {vm} is known"
                )));
            }
        };
        match started {
            Ok(()) => Ok(()),
            // An earlier start of it there (one whose answer was lost with
            // a runtime that stopped, say) may have completed meanwhile:
            // libvirt then refuses this one, and the VM runs there.
            Err(e) if !start_error_is_in_doubt(&e) => match self.seen(h.domain(vm)) {
                Ok(d) if d.state.is_active() => Ok(()),
                _ => Err(fail(e)),
            },
            Err(e) => Err(fail(e)),
        }
    }

    fn stop_vm(&self, vm: &str, host: &str) -> Result<(), String> {
        self.seen(self.host(host)?.destroy(vm))
            .map_err(|e| e.to_string())
    }

    fn migrate(&self, vm: &str, _from: &str, _to: &str) -> Result<(), String> {
        Err(format!(
            "live migration of {vm} is not available with the libvirt driver yet"
        ))
    }

    fn locate(&self, vm: &str) -> Result<Option<String>, String> {
        let off = self.off.lock().expect("not poisoned").clone();
        // Every host at once: one after another, each host that does not
        // answer would add its whole call timeout, and three of them would
        // outlast the query's deadline (its answer then comes too late to
        // count, and the VM is never decided).
        let answers: Vec<(&String, Result<bool, LibvirtError>)> = std::thread::scope(|scope| {
            let asked: Vec<_> = self
                .hosts
                .iter()
                .filter(|(name, _)| !off.contains(*name))
                .map(|(name, h)| {
                    let ask = move || h.active_domains().map(|l| l.iter().any(|d| d.name == vm));
                    (name, scope.spawn(ask))
                })
                .collect();
            asked
                .into_iter()
                .map(|(name, t)| (name, t.join().expect("a libvirt call does not panic")))
                .collect()
        });
        let mut silent = None;
        for (name, answer) in answers {
            match self.seen(answer) {
                Ok(true) => return Ok(Some(name.clone())),
                Ok(false) => {}
                // It may run on a host that does not answer: not known,
                // unless a host that answers runs it.
                Err(e) => {
                    silent.get_or_insert_with(|| format!("{name} did not answer: {e}"));
                }
            }
        }
        silent.map_or(Ok(None), Err)
    }

    fn list_vms(&self, host: &str) -> Result<Vec<String>, String> {
        let list = self
            .seen(self.host(host)?.active_domains())
            .map_err(|e| e.to_string())?;
        self.remember(host);
        Ok(list.into_iter().map(|d| d.name).collect())
    }

    /// What each domain running on `host` demands, as `haplan import
    /// libvirt` maps a domain to a VM (`memory_mib`, `vcpus`: the larger of
    /// what it runs with and what its persistent definition, read by the
    /// inventory just before, gives it). Nothing when `host` does not
    /// answer.
    fn vm_demands(&self, host: &str) -> BTreeMap<String, BTreeMap<String, i64>> {
        let Some(h) = self.hosts.get(host) else {
            return BTreeMap::new();
        };
        let Ok(domains) = self.seen(h.active_domains()) else {
            return BTreeMap::new();
        };
        let defs = self.definitions.lock().expect("not poisoned");
        domains
            .into_iter()
            .map(|d| {
                let demand = domain_demand(&d, defs.get(&d.name).map(String::as_str));
                (d.name, demand)
            })
            .collect()
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
    fn take_warnings(&self) -> Vec<String> {
        std::mem::take(&mut *self.warnings.lock().expect("not poisoned"))
    }
    fn failover(&self, vms: BTreeSet<String>) {
        *self.failover.lock().expect("not poisoned") = vms;
    }
    fn keep_definitions(&self, path: &Path) -> Result<(), String> {
        Live::keep_definitions(self, path)
    }
    fn known_off(&self, hosts: &[String]) {
        self.off
            .lock()
            .expect("not poisoned")
            .extend(hosts.iter().cloned());
    }
    fn refresh_definitions(&self) {
        let off = self.off.lock().expect("not poisoned").clone();
        for host in self.hosts.keys() {
            if !off.contains(host) {
                self.remember(host);
            }
        }
    }
}

/// Sets its flag when dropped.
struct SetOnDrop(Arc<AtomicBool>);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// What a libvirt error during a start says of the VM. A call that was made
/// and cut short (no answer in time, the connection lost, the driver failing
/// under it) may still have started the domain: a start in doubt, never
/// taken for failed. A call never sent (`NotSent`, `Busy`), a host that
/// could not be reached, or a refusal failed: the VM does not run there.
pub fn start_error(e: LibvirtError) -> StartError {
    if start_error_is_in_doubt(&e) {
        StartError::in_doubt(e.to_string())
    } else {
        StartError::failed(e.to_string())
    }
}

/// Whether a start that failed with `e` may still have started (or may
/// still start) the domain: the call was cut short, or libvirt gave up
/// waiting for the domain's state-change lock (`OperationTimeout`: another
/// job on that domain, an earlier start say, holds it and may still
/// complete).
fn start_error_is_in_doubt(e: &LibvirtError) -> bool {
    match e {
        LibvirtError::Timeout { .. }
        | LibvirtError::Disconnected { .. }
        | LibvirtError::DriverFault { .. } => true,
        LibvirtError::Libvirt { code, .. } => code == "OperationTimeout",
        _ => false,
    }
}

/// How long [`run`] goes on, and where it writes its log.
#[derive(Default)]
pub struct LiveOptions<'a> {
    /// Stop after this long (`None`: until `stop`).
    pub until: Option<Duration>,
    /// Stop when this becomes true (set by SIGTERM or SIGINT in `haplan
    /// run`): the step under way ends, its log line is synced, the lock is
    /// released.
    pub stop: Option<&'a AtomicBool>,
    /// The runtime's log: appended to (fsynced), resumed from when it
    /// exists, compacted when long, locked against a second runtime
    /// ([`crate::files::StateFiles`]); the VM definitions are kept beside
    /// it.
    pub log: Option<&'a Path>,
    /// Operator events (the control interface), each with where to send
    /// the runtime's answer.
    pub control: Option<mpsc::Receiver<crate::control::Request>>,
    /// Called once per loop turn (the service manager's watchdog).
    pub alive: Option<&'a (dyn Fn() + Sync)>,
    /// The wall-clock budget of each exact check of a step
    /// ([`Runtime::set_check_budget`]); `None`: the runtime's default
    /// ([`haplan_runtime::DEFAULT_CHECK_BUDGET`]).
    pub check_budget: Option<Duration>,
}

/// Milliseconds since the Unix epoch, now.
pub fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// What an action's thread reports.
enum Report {
    Answer(Event),
    Fault(String),
}

/// Runs the runtime on the pool file `doc` in real time, performing every
/// action through `live` (each on a thread of its own, so a slow fence does
/// not hold a probe back), and calls `on_step` after each step with the
/// runtime as it is after it. Times are wall-clock Unix milliseconds (read
/// once, then advanced by the monotonic clock, so they never go back within
/// a run). With a log that exists, the runtime resumes from it. An event the
/// runtime refuses (a late answer about a host removed meanwhile, say) is
/// reported on standard error and the loop goes on. Returns the runtime as
/// it ends, or an error as soon as a driver fails (an action's thread
/// panics, or [`LiveDrivers::take_fault`] reports a failure): the answers of
/// a failed driver are not believed, and the runtime stops so that its
/// supervisor starts it again (resuming from the log).
pub fn run<D: LiveDrivers>(
    doc: serde_json::Value,
    live: Arc<D>,
    options: LiveOptions,
    mut on_step: impl FnMut(&Input, &Output, &Runtime),
) -> Result<Runtime, String> {
    use crate::files::{Opened, StateFiles};
    let start = Instant::now();
    let wall0 = unix_ms();
    let now = || wall0 + start.elapsed().as_millis() as u64;
    // The budget holds from the runtime's first check on.
    let budget = options
        .check_budget
        .unwrap_or(haplan_runtime::DEFAULT_CHECK_BUDGET);
    let (mut rt, first_input, first, mut files) = match options.log {
        Some(path) => {
            let (files, opened) = StateFiles::open(path, &doc, now(), Some(budget))?;
            live.keep_definitions(&files.definitions_path())?;
            match opened {
                Opened::Started(rt, out) => {
                    let input = Input {
                        at: rt.now(),
                        event: Event::Tick,
                    };
                    (rt, input, out, Some(files))
                }
                Opened::Resumed {
                    runtime,
                    input,
                    output,
                    ..
                } => (runtime, input, output, Some(files)),
            }
        }
        None => {
            let (rt, out) = Runtime::with_check_budget(doc.clone(), now(), Some(budget))
                .map_err(|e: RuntimeError| e.to_string())?;
            let input = Input {
                at: rt.now(),
                event: Event::Tick,
            };
            (rt, input, out, None)
        }
    };
    // A runtime resumed from its log was rebuilt with the default budget.
    rt.set_check_budget(Some(budget));
    // A host a fence confirmed off before the runtime stopped answers no
    // query: it runs nothing.
    let off: Vec<String> = rt
        .host_statuses()
        .into_iter()
        .filter(|(_, s)| *s == "fenced")
        .map(|(h, _)| h)
        .collect();
    live.known_off(&off);
    // The runtime's pool (a resumed one may have VMs the file has not).
    live.failover(failover_vms(rt.pool()));
    // The definitions are read again every DEFINITIONS_REFRESH on a thread
    // of its own (libvirt calls have time limits: a silent host delays
    // nothing else), until this function returns.
    let refresher_done = Arc::new(AtomicBool::new(false));
    let _end_refresher = SetOnDrop(Arc::clone(&refresher_done));
    {
        let live = Arc::clone(&live);
        let done = Arc::clone(&refresher_done);
        std::thread::spawn(move || {
            let step = Duration::from_millis(100);
            loop {
                let mut slept = Duration::ZERO;
                while slept < DEFINITIONS_REFRESH {
                    if done.load(Ordering::Relaxed) {
                        return;
                    }
                    std::thread::sleep(step);
                    slept += step;
                }
                live.refresh_definitions();
            }
        });
    }
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
    on_step(&first_input, &first, &rt);
    perform(&first.actions);
    // What the pool file changed while the runtime was stopped: its HA
    // settings, hosts added (logged steps like any other).
    let mut queued: Vec<Event> = crate::files::pool_changes(&rt, &doc)?;
    loop {
        if let Some(alive) = options.alive {
            alive();
        }
        for w in live.take_warnings() {
            eprintln!("haplan: warning: {w}");
        }
        if options.stop.is_some_and(|s| s.load(Ordering::Relaxed))
            || options.until.is_some_and(|u| start.elapsed() >= u)
        {
            break;
        }
        let mut reply = None;
        let event = if let Some(e) = queued.pop() {
            e
        } else if let Some(req) = options.control.as_ref().and_then(|c| c.try_recv().ok()) {
            reply = Some(req.reply);
            req.event
        } else {
            let wait = wake
                .map(|w| w.saturating_sub(now()))
                .unwrap_or(1_000)
                .clamp(5, if options.control.is_some() { 50 } else { 250 });
            match rx.recv_timeout(Duration::from_millis(wait)) {
                // A driver notes a fault before it returns the answer it
                // spoiled.
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
            }
        };
        let input = Input { at: now(), event };
        match rt.handle(&input) {
            Ok(out) => {
                if let Some(f) = files.as_mut() {
                    f.append(&input, &out, &rt)
                        .map_err(|e| format!("the log: {e}"))?;
                }
                if let Some(r) = reply {
                    let _ = r.send(Ok(out.clone()));
                }
                on_step(&input, &out, &rt);
                wake = out.wake_at;
                if matches!(
                    input.event,
                    Event::VmStarted {
                        definition: Some(_),
                        ..
                    } | Event::VmPriorityChanged {
                        restart: Some(_),
                        ..
                    } | Event::ConfigChanged { .. }
                ) {
                    live.failover(failover_vms(rt.pool()));
                }
                // Hosts this step confirmed off, by a fence or by an
                // operator (`fence_confirmed`): they run nothing, so a VM
                // is not "unknown" for want of their answer. Told before
                // the step's actions (queries among them) are performed.
                let confirmed: Vec<String> = out
                    .notes
                    .iter()
                    .filter_map(|n| match n {
                        Note::HostFenced { host, .. } => Some(host.clone()),
                        _ => None,
                    })
                    .collect();
                if !confirmed.is_empty() {
                    live.known_off(&confirmed);
                }
                perform(&out.actions);
            }
            Err(e) => {
                let msg = format!(
                    "the runtime refused {}: {e}",
                    haplan_runtime::text::event(&input.event)
                );
                match reply {
                    Some(r) => {
                        let _ = r.send(Err(msg));
                    }
                    None => eprintln!("haplan: {msg}"),
                }
            }
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
        /// What [`LiveDrivers::known_off`] was told, call by call.
        told_off: Mutex<Vec<Vec<String>>>,
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
        fn peer_reaches(&self, _peer: &str, _host: &str) -> Result<bool, String> {
            Ok(true)
        }
        fn start_vm(&self, _vm: &str, _host: &str) -> Result<(), StartError> {
            Ok(())
        }
        fn stop_vm(&self, _vm: &str, _host: &str) -> Result<(), String> {
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
        fn known_off(&self, hosts: &[String]) {
            self.told_off.lock().unwrap().push(hosts.to_vec());
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
        let result = run(pool(), Arc::new(drivers), options, |i, _, _| {
            inputs.push(i.clone())
        });
        (result, inputs)
    }

    #[test]
    fn a_protected_vm_with_libvirt_autostart_on_is_warned_of_once() {
        // libvirt's in-process test driver: its domain "test" runs on h1.
        let doc = |restart: &str| {
            serde_json::json!({
                "format": "haplan/v1",
                "name": "t",
                "ha": {"host_failures_to_tolerate": 0},
                "hosts": [
                    {"name": "h1", "capacity": {"memory_mib": 16384, "vcpus": 4},
                     "labels": {"libvirt_uri": "test:///default"}}
                ],
                "vms": [{"name": "test", "host": "h1", "restart": restart,
                         "demand": {"memory_mib": 2048, "vcpus": 1}},
                        {"name": "idle", "host": "h1", "power": "halted",
                         "demand": {"memory_mib": 1024, "vcpus": 1}}]
            })
        };
        let pool = |restart| haplan::load::parse_pool(&doc(restart).to_string()).unwrap();
        let libvirt = LibvirtHost::open("test:///default").unwrap();
        libvirt.set_autostart("test", false).unwrap();
        let live = Live::new(&pool("protected")).unwrap();
        assert_eq!(live.take_warnings(), Vec::<String>::new());
        libvirt.set_autostart("test", true).unwrap();
        live.refresh_definitions();
        let said = live.take_warnings();
        assert_eq!(said.len(), 1, "{said:?}");
        assert!(
            said[0].starts_with("test has libvirt autostart on on h1"),
            "{said:?}"
        );
        assert!(
            said[0].contains("virsh autostart --disable test"),
            "{said:?}"
        );
        // Once, not at every refresh.
        live.refresh_definitions();
        assert_eq!(live.take_warnings(), Vec::<String>::new());
        // A domain only defined there (shut off) starts at boot too.
        let xml = "<domain type='test'><name>idle</name><memory>1048576</memory>\
                   <os><type>hvm</type></os></domain>";
        libvirt.define(xml).unwrap();
        libvirt.set_autostart("idle", true).unwrap();
        live.refresh_definitions();
        let said = live.take_warnings();
        libvirt.undefine("idle").unwrap();
        assert_eq!(said.len(), 1, "{said:?}");
        assert!(
            said[0].starts_with("idle has libvirt autostart on on h1"),
            "{said:?}"
        );
        // A VM HA never restarts elsewhere: its autostart is no hazard...
        let unprotected = Live::new(&pool("unprotected")).unwrap();
        assert_eq!(unprotected.take_warnings(), Vec::<String>::new());
        // ...until the runtime's pool protects it.
        let now = failover_vms(&pool("protected"));
        assert!(now.contains("test"));
        unprotected.failover(now);
        unprotected.refresh_definitions();
        assert_eq!(unprotected.take_warnings().len(), 1);
        libvirt.set_autostart("test", false).unwrap();
    }

    #[test]
    fn a_start_cut_short_is_in_doubt_and_one_never_sent_failed() {
        let uri = || "qemu+tcp://h1/system".to_string();
        let after = Duration::from_secs(10);
        let doubt = [
            LibvirtError::Timeout {
                uri: uri(),
                op: "define_and_start",
                after,
            },
            LibvirtError::Disconnected {
                uri: uri(),
                message: "end of file".into(),
            },
            LibvirtError::DriverFault {
                uri: uri(),
                op: "start",
                message: "the connection's thread ended".into(),
            },
            LibvirtError::Libvirt {
                uri: uri(),
                op: "start domain",
                code: "OperationTimeout".into(),
                message: "cannot acquire state change lock".into(),
            },
        ];
        for e in doubt {
            let shown = e.to_string();
            let s = start_error(e);
            assert!(s.in_doubt, "{shown}");
            assert_eq!(s.message, shown);
        }
        let failed = [
            LibvirtError::NotSent {
                uri: uri(),
                op: "start",
                after,
            },
            LibvirtError::Busy {
                uri: uri(),
                op: "start",
            },
            LibvirtError::Connect {
                uri: uri(),
                message: "refused".into(),
            },
            LibvirtError::NoDomain {
                uri: uri(),
                name: "a".into(),
            },
            LibvirtError::Libvirt {
                uri: uri(),
                op: "start domain",
                code: "OperationInvalid".into(),
                message: "domain is already running".into(),
            },
        ];
        for e in failed {
            let shown = e.to_string();
            assert!(!start_error(e).in_doubt, "{shown}");
        }
    }

    #[test]
    fn a_host_an_operator_confirms_off_is_known_off_to_the_drivers() {
        let drivers = Arc::new(Drivers::default());
        let (tx, rx) = mpsc::channel();
        let (reply, answer) = mpsc::channel();
        tx.send(crate::control::Request {
            event: Event::FenceConfirmed { host: "h2".into() },
            reply,
        })
        .unwrap();
        let options = LiveOptions {
            until: Some(Duration::from_secs(1)),
            control: Some(rx),
            ..LiveOptions::default()
        };
        run(pool(), Arc::clone(&drivers), options, |_, _, _| {}).unwrap();
        let out = answer.recv().unwrap().expect("taken");
        assert!(
            out.notes.contains(&Note::HostFenced {
                host: "h2".into(),
                agent: None,
            }),
            "{out:?}"
        );
        // Nothing was fenced before the start; then h2, once, on the
        // operator's word.
        let told = drivers.told_off.lock().unwrap().clone();
        assert_eq!(told, [vec![], vec!["h2".to_string()]]);
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
        let e = result.expect_err("the runtime stops");
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
        let e = result.expect_err("the runtime stops");
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
