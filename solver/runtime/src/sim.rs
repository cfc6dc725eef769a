//! A simulated pool for the runtime: hosts that crash, lose their network
//! or flap, fence devices that fail or are slow, VM starts that fail, VMs
//! that crash, and the runtime itself crashing and recovering from its log.
//! Time is simulated and every random choice comes from a seed, so a run is
//! reproducible. The world keeps the physical truth (which host is powered,
//! where each VM really runs) and checks the safety invariants against it
//! as the runtime acts.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};
use std::sync::Mutex;

use serde_json::{Value, json};

use super::driver::{self, Fencer, Hypervisor, StartError};
use super::log::{self, Journal};
use super::machine::Runtime;
use super::{Action, ActionId, Event, Input, Millis, Output};

/// Which steps a [`Sim`] records: true for a step to keep.
pub type KeepStep = Box<dyn Fn(&Input, &Output) -> bool>;

/// The simulation's generator of random choices.
pub use haplan::rng::Rng;

/// How a host's fence device behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FenceDevice {
    /// Powers the host off and confirms it, within the fence's time.
    Works,
    /// Fails every call until the given time.
    FailsUntil(Millis),
    /// Answers only after this long.
    Slow(Millis),
}

#[derive(Clone, Debug)]
struct SimHost {
    powered: bool,
    /// Reachable from the runtime's probes.
    mgmt: bool,
    /// Reachable from its peers.
    peers: bool,
    device: FenceDevice,
    /// Powered off by a fence (not by a crash) since it last came up.
    fenced: bool,
    /// How many times it went off (a start sent before it went off does
    /// not complete after).
    offs: u32,
    /// Starts, when it powers on, the VMs it ran when it went off (libvirt
    /// autostart).
    autostart: bool,
    /// The VMs it ran when it last went off.
    was_running: Vec<String>,
    /// Powered, reachable by the runtime and its peers since then.
    healthy_since: Option<Millis>,
}

/// The physical truth of a simulated pool.
#[derive(Debug)]
pub struct World {
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    now: Millis,
    hosts: BTreeMap<String, SimHost>,
    /// Where each VM really runs (more than one host is the worst bug).
    running: BTreeMap<String, Vec<String>>,
    /// The host each VM last ran on, for the fencing invariant.
    last: BTreeMap<String, String>,
    /// VMs that crashed on a healthy host (no fence is needed for them).
    crashed: BTreeSet<String>,
    /// VMs whose last host was fenced since they last ran there.
    released: BTreeSet<String>,
    /// VMs killed when a host went off, by that host: once it is back
    /// without them, they died with it.
    died_on: BTreeMap<String, String>,
    /// Each stop asked for, (VM, host): the other hosts that ran the VM
    /// then, with how many times each had gone off.
    stops_asked: BTreeMap<(String, String), Vec<(String, u32)>>,
    /// Every host the runtime ever asked to start each VM on.
    asked: BTreeMap<String, BTreeSet<String>>,
    start_failure: f64,
    start_failures_until: Millis,
    /// Starts take longer than the runtime's deadline until then.
    slow_starts_until: Millis,
    /// Live migrations sent before then finish after the runtime's
    /// deadline.
    slow_migrations_until: Millis,
    /// The runtime is cut off from every host's management network (its
    /// own partition); fence devices still answer.
    runtime_cut: bool,
    /// Copies the runtime could not know of (started by a host's
    /// autostart): (VM, host).
    foreign: BTreeSet<(String, String)>,
    /// VM definitions changed since the pool file: the new amounts.
    resized: BTreeMap<String, BTreeMap<String, i64>>,
    rng: Rng,
    violations: Vec<String>,
}

impl World {
    /// The world as the pool file describes it: up hosts powered, running
    /// and paused VMs running on their hosts.
    pub fn new(pool: &haplan::Pool, seed: u64) -> World {
        let hosts = pool
            .hosts
            .iter()
            .map(|h| {
                (
                    h.name.clone(),
                    SimHost {
                        powered: h.state != haplan::model::HostState::Down,
                        mgmt: true,
                        peers: true,
                        device: FenceDevice::Works,
                        fenced: h.state == haplan::model::HostState::Down,
                        offs: 0,
                        autostart: false,
                        was_running: Vec::new(),
                        healthy_since: (h.state != haplan::model::HostState::Down).then_some(0),
                    },
                )
            })
            .collect();
        let mut running = BTreeMap::new();
        let mut last = BTreeMap::new();
        for vm in &pool.vms {
            let host = pool.hosts[vm.host].name.clone();
            last.insert(vm.name.clone(), host.clone());
            if vm.power.is_active() && pool.hosts[vm.host].state != haplan::model::HostState::Down {
                running.insert(vm.name.clone(), vec![host]);
            }
        }
        World {
            state: Mutex::new(State {
                now: 0,
                hosts,
                running,
                last,
                crashed: BTreeSet::new(),
                released: BTreeSet::new(),
                died_on: BTreeMap::new(),
                stops_asked: BTreeMap::new(),
                asked: BTreeMap::new(),
                start_failure: 0.0,
                start_failures_until: 0,
                slow_starts_until: 0,
                slow_migrations_until: 0,
                runtime_cut: false,
                foreign: BTreeSet::new(),
                resized: BTreeMap::new(),
                rng: Rng::new(seed),
                violations: Vec::new(),
            }),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.lock().expect("not poisoned"))
    }

    /// Where each VM runs now.
    pub fn running(&self) -> BTreeMap<String, Vec<String>> {
        self.with(|s| s.running.clone())
    }

    /// Whether `vm` runs on `host` now.
    fn runs_on(&self, vm: &str, host: &str) -> bool {
        self.with(|s| {
            s.running
                .get(vm)
                .is_some_and(|on| on.iter().any(|h| h == host))
        })
    }

    /// Every breach of an invariant seen so far (a VM on two hosts, a VM
    /// started elsewhere while its host was not confirmed off, a healthy
    /// host fenced), in words with its time.
    pub fn violations(&self) -> Vec<String> {
        self.with(|s| s.violations.clone())
    }

    /// The host a VM last ran on.
    pub fn last_host(&self, vm: &str) -> Option<String> {
        self.with(|s| s.last.get(vm).cloned())
    }

    /// Every host the runtime asked to start `vm` on.
    pub fn asked(&self, vm: &str) -> BTreeSet<String> {
        self.with(|s| s.asked.get(vm).cloned().unwrap_or_default())
    }

    /// Whether the host has power.
    pub fn powered(&self, host: &str) -> bool {
        self.with(|s| s.hosts.get(host).is_some_and(|h| h.powered))
    }

    /// How the host's fence device behaves (`None`: no such host).
    pub fn device(&self, host: &str) -> Option<FenceDevice> {
        self.with(|s| s.hosts.get(host).map(|h| h.device))
    }

    /// Whether the host was powered off by a fence.
    pub fn fenced(&self, host: &str) -> bool {
        self.with(|s| s.hosts.get(host).is_some_and(|h| h.fenced))
    }

    /// The host powers off on its own: its VMs die.
    pub fn crash_host(&self, host: &str) {
        self.with(|s| {
            s.power_off(host);
            s.health();
        })
    }

    /// The host is repaired and powered on: empty, or with autostart, with
    /// the VMs it ran when it went off (copies the runtime cannot know of).
    pub fn repair_host(&self, host: &str) {
        self.with(|s| {
            let Some(h) = s.hosts.get_mut(host) else {
                return;
            };
            if h.powered {
                return;
            }
            h.powered = true;
            h.fenced = false;
            h.mgmt = true;
            h.peers = true;
            let again = if h.autostart {
                std::mem::take(&mut h.was_running)
            } else {
                Vec::new()
            };
            for vm in again {
                let on = s.running.entry(vm.clone()).or_default();
                if !on.iter().any(|x| x == host) {
                    on.push(host.to_string());
                    s.foreign.insert((vm, host.to_string()));
                }
            }
            s.health();
        })
    }

    /// Whether a repaired host starts again the VMs it ran.
    pub fn set_autostart(&self, host: &str, on: bool) {
        self.with(|s| {
            if let Some(h) = s.hosts.get_mut(host) {
                h.autostart = on;
            }
        })
    }

    /// Cuts (or heals) a host's network: from the runtime, and from peers.
    pub fn partition(&self, host: &str, mgmt: bool, peers: bool) {
        self.with(|s| {
            if let Some(h) = s.hosts.get_mut(host) {
                h.mgmt = mgmt;
                h.peers = peers;
            }
            s.health();
        })
    }

    /// Cuts (or heals) the runtime off from every host's management
    /// network; the hosts still reach each other.
    pub fn cut_runtime(&self, cut: bool) {
        self.with(|s| {
            s.runtime_cut = cut;
            s.health();
        })
    }

    /// The runtime asks for the copy of `vm` on `host` to be stopped: the
    /// other copies then, and their hosts' power-off counts.
    fn stop_asked(&self, vm: &str, host: &str) {
        self.with(|s| {
            let others: Vec<(String, u32)> = s
                .running
                .get(vm)
                .into_iter()
                .flatten()
                .filter(|h| *h != host)
                .map(|h| (h.clone(), s.hosts.get(h).map_or(0, |x| x.offs)))
                .collect();
            s.stops_asked
                .insert((vm.to_string(), host.to_string()), others);
        })
    }

    fn offs(&self, host: &str) -> u32 {
        self.with(|s| s.hosts.get(host).map_or(0, |h| h.offs))
    }

    /// A VM's definition changes: it needs these amounts from now on.
    pub fn resize_vm(&self, vm: &str, demand: &BTreeMap<String, i64>) {
        self.with(|s| {
            let now = s.resized.entry(vm.to_string()).or_default();
            now.extend(demand.iter().map(|(r, a)| (r.clone(), *a)));
        })
    }

    /// The amounts of the VMs whose definition changed.
    pub fn resized(&self) -> BTreeMap<String, BTreeMap<String, i64>> {
        self.with(|s| s.resized.clone())
    }

    /// Starts take longer than the runtime's deadline until `until`.
    pub fn slow_starts(&self, until: Millis) {
        self.with(|s| s.slow_starts_until = until)
    }

    fn starts_slow(&self) -> bool {
        self.with(|s| s.now < s.slow_starts_until)
    }

    /// Live migrations take longer than the runtime's deadline until
    /// `until` (they complete late, unseen by the runtime).
    pub fn slow_migrations(&self, until: Millis) {
        self.with(|s| s.slow_migrations_until = until)
    }

    fn migrations_slow(&self) -> bool {
        self.with(|s| s.now < s.slow_migrations_until)
    }

    /// The runtime reported `host` drained and ready for maintenance: an
    /// operator powers it off. Any VM still running there is a violation
    /// (and dies).
    fn maintenance_ready(&self, host: &str) {
        self.with(|s| {
            let on: Vec<String> = s
                .running
                .iter()
                .filter(|(_, hs)| hs.iter().any(|h| h == host))
                .map(|(vm, _)| vm.clone())
                .collect();
            if !on.is_empty() {
                let msg = format!(
                    "t={}: {host} reported ready for maintenance while {} runs there",
                    s.now,
                    on.join(", ")
                );
                s.violations.push(msg);
            }
            s.power_off(host);
            s.health();
        })
    }

    /// Copies of VMs on more than one host (at the end of a run, none may
    /// be left).
    pub fn duplicates(&self) -> Vec<String> {
        self.with(|s| {
            s.running
                .iter()
                .filter(|(_, on)| on.len() > 1)
                .map(|(vm, on)| format!("{vm} runs on {}", on.join(" and ")))
                .collect()
        })
    }

    /// Checks a fence the runtime asked for: never a host that has been
    /// healthy (powered, reached by the runtime and its peers) for longer
    /// than any detection takes, never a powered host while the runtime is
    /// cut off from the whole pool.
    fn check_fence(&self, host: &str) {
        self.with(|s| {
            let now = s.now;
            let Some(h) = s.hosts.get(host) else { return };
            if s.runtime_cut && h.powered {
                let msg =
                    format!("t={now}: {host} fenced while the runtime was cut off from every host");
                s.violations.push(msg);
            } else if h
                .healthy_since
                .is_some_and(|t| now.saturating_sub(t) > HEALTHY_FOR_MS)
            {
                let msg = format!("t={now}: healthy host {host} fenced");
                s.violations.push(msg);
            }
        })
    }

    /// Makes the host's fence device behave as `device` from now on.
    pub fn set_device(&self, host: &str, device: FenceDevice) {
        self.with(|s| {
            if let Some(h) = s.hosts.get_mut(host) {
                h.device = device;
            }
        })
    }

    /// VM starts fail with probability `p` until `until`.
    pub fn start_failures(&self, p: f64, until: Millis) {
        self.with(|s| {
            s.start_failure = p;
            s.start_failures_until = until;
        })
    }

    /// A VM dies on its (healthy) host; returns the event its hypervisor
    /// reports, if it was running.
    pub fn crash_vm(&self, vm: &str) -> Option<Event> {
        self.with(|s| {
            let hosts = s.running.remove(vm)?;
            s.crashed.insert(vm.to_string());
            let _ = hosts;
            Some(Event::VmCrashed { vm: vm.to_string() })
        })
    }

    fn set_now(&self, now: Millis) {
        self.with(|s| s.now = now)
    }

    /// Checks, when the runtime asks for it, that a start is safe: the VM
    /// runs nowhere, and if its last host is not where it goes, that host
    /// was fenced or the VM crashed on it.
    fn check_start(&self, vm: &str, host: &str) {
        self.with(|s| {
            s.asked
                .entry(vm.to_string())
                .or_default()
                .insert(host.to_string());
            if let Some(on) = s.running.get(vm) {
                let known = on
                    .iter()
                    .any(|h| h != host && !s.foreign.contains(&(vm.to_string(), h.clone())));
                if known {
                    s.violations.push(format!(
                        "t={}: start of {vm} on {host} asked while it runs on {}",
                        s.now,
                        on.join(", ")
                    ));
                }
            }
            let last = s.last.get(vm).cloned().unwrap_or_default();
            if last != host && !s.crashed.contains(vm) && !s.released.contains(vm) {
                let fenced = s.hosts.get(&last).is_some_and(|h| h.fenced);
                if !fenced {
                    s.violations.push(format!(
                        "t={}: {vm} restarted on {host} before its host {last} was fenced",
                        s.now
                    ));
                }
            }
        })
    }
}

/// A host healthy for longer than this is never to be fenced (the longest
/// detection: 3 missed probes 5 s apart, a peer's 10 s, margin).
const HEALTHY_FOR_MS: Millis = 40_000;

impl State {
    /// The host goes off (a crash, a fence, its operator): its VMs die. A
    /// host that is off already (fenced again) keeps its autostart list as
    /// it was.
    fn power_off(&mut self, host: &str) {
        let Some(h) = self.hosts.get_mut(host) else {
            return;
        };
        let was_on = std::mem::replace(&mut h.powered, false);
        h.offs += 1;
        let mut was = Vec::new();
        self.running.retain(|vm, hosts| {
            if hosts.iter().any(|h| h == host) {
                was.push(vm.clone());
            }
            hosts.retain(|h| h != host);
            !hosts.is_empty()
        });
        self.foreign.retain(|(_, h)| h != host);
        for vm in &was {
            self.died_on.insert(vm.clone(), host.to_string());
        }
        if let Some(h) = self.hosts.get_mut(host) {
            if was_on {
                h.was_running = was;
            }
        }
    }

    /// Keeps each host's `healthy_since` up to date.
    fn health(&mut self) {
        let now = self.now;
        let cut = self.runtime_cut;
        for h in self.hosts.values_mut() {
            let healthy = h.powered && h.mgmt && h.peers && !cut;
            match (healthy, h.healthy_since) {
                (true, None) => h.healthy_since = Some(now),
                (false, Some(_)) => h.healthy_since = None,
                _ => {}
            }
        }
    }

    /// Whether the runtime reaches `host`'s management API.
    fn reaches(&self, host: &str) -> bool {
        let h = &self.hosts[host];
        h.powered && h.mgmt && !self.runtime_cut
    }
}

impl Hypervisor for World {
    fn probe(&self, host: &str) -> (bool, bool) {
        self.with(|s| {
            let ok = s.reaches(host);
            (ok, ok)
        })
    }

    fn peer_reaches(&self, peer: &str, host: &str) -> Result<bool, String> {
        self.with(|s| {
            // The question goes to the peer, over the runtime's network.
            if !s.reaches(peer) {
                return Err(format!("{peer} does not answer"));
            }
            let p = &s.hosts[peer];
            let h = &s.hosts[host];
            Ok(p.peers && h.powered && h.peers)
        })
    }

    fn start_vm(&self, vm: &str, host: &str) -> Result<(), StartError> {
        self.with(|s| {
            if !s.hosts.get(host).is_some_and(|h| h.powered) {
                return Err(StartError::failed(format!("host {host} is off")));
            }
            if s.now < s.start_failures_until {
                let p = s.start_failure;
                if s.rng.chance(p) {
                    return Err(StartError::failed("the hypervisor refused the start"));
                }
            }
            let now = s.now;
            let on = s.running.entry(vm.to_string()).or_default();
            if on.iter().any(|h| h == host) {
                return Ok(()); // it runs there already
            }
            on.push(host.to_string());
            let others: Vec<String> = on.iter().filter(|h| *h != host).cloned().collect();
            let known_copy = others
                .iter()
                .any(|h| !s.foreign.contains(&(vm.to_string(), h.clone())));
            if known_copy {
                let msg = format!("t={now}: {vm} runs on {host} and {}", others.join(", "));
                s.violations.push(msg);
            }
            s.last.insert(vm.to_string(), host.to_string());
            s.crashed.remove(vm);
            s.released.remove(vm);
            Ok(())
        })
    }

    fn stop_vm(&self, vm: &str, host: &str) -> Result<(), String> {
        self.with(|s| {
            if !s.reaches(host) {
                return Err(format!("{host} does not answer"));
            }
            // The copy stopped is the only one running (a stop that finds
            // no copy there, all of them crashed meanwhile, stops nothing).
            let only = s
                .running
                .get(vm)
                .is_some_and(|on| on.len() == 1 && on[0] == host);
            // Another copy that ran when the runtime asked for this stop
            // went off with its host since (a crash after the decision): a
            // double fault, not a stop of the only copy it knew of.
            let asked = s
                .stops_asked
                .remove(&(vm.to_string(), host.to_string()))
                .unwrap_or_default();
            let kept_went_off = asked.iter().any(|(other, offs)| {
                s.hosts
                    .get(other)
                    .is_some_and(|h| h.offs > *offs && !h.fenced)
            });
            if only && !kept_went_off {
                let msg = format!("t={}: the only copy of {vm} (on {host}) was stopped", s.now);
                s.violations.push(msg);
            }
            if let Some(on) = s.running.get_mut(vm) {
                on.retain(|h| h != host);
                if on.is_empty() {
                    s.running.remove(vm);
                }
            }
            s.foreign.remove(&(vm.to_string(), host.to_string()));
            if let Some(left) = s.running.get(vm).and_then(|on| on.first()).cloned() {
                s.last.insert(vm.to_string(), left);
            }
            Ok(())
        })
    }

    fn migrate(&self, vm: &str, from: &str, to: &str) -> Result<(), String> {
        self.with(|s| {
            let ok = s.hosts.get(to).is_some_and(|h| h.powered)
                && s.reaches(from)
                && s.running
                    .get(vm)
                    .is_some_and(|on| on == &[from.to_string()]);
            if !ok {
                return Err("migration failed".into());
            }
            s.running.insert(vm.to_string(), vec![to.to_string()]);
            s.last.insert(vm.to_string(), to.to_string());
            Ok(())
        })
    }

    fn locate(&self, vm: &str) -> Result<Option<String>, String> {
        self.with(|s| {
            // As a real manager sees it: a host fenced off runs nothing, a
            // host that does not answer may run anything; every host that
            // answers is asked.
            let mut silent = None;
            for (name, h) in &s.hosts {
                let answers = h.powered && h.mgmt && !s.runtime_cut;
                if answers {
                    if s.running.get(vm).is_some_and(|on| on.contains(name)) {
                        return Ok(Some(name.clone()));
                    }
                } else if !h.fenced {
                    silent.get_or_insert_with(|| format!("{name} does not answer"));
                }
            }
            silent.map_or(Ok(None), Err)
        })
    }

    fn list_vms(&self, host: &str) -> Result<Vec<String>, String> {
        self.with(|s| {
            if !s.reaches(host) {
                return Err(format!("{host} does not answer"));
            }
            let listed: Vec<String> = s
                .running
                .iter()
                .filter(|(_, on)| on.iter().any(|x| x == host))
                .map(|(vm, _)| vm.clone())
                .collect();
            // Back, and listed without them: the VMs it ran when it went
            // off died with it, and the runtime can now know (a restart
            // elsewhere needs no fence any more). An autostart list
            // outlives a fence or crash while the host is off.
            for vm in vms_on(&s.died_on, host) {
                s.died_on.remove(&vm);
                if s.last.get(&vm).is_some_and(|l| l == host) && !s.running.contains_key(&vm) {
                    s.crashed.insert(vm);
                }
            }
            Ok(listed)
        })
    }

    /// The amounts of the VMs on `host` whose definition changed (the
    /// others have those of the pool file).
    fn vm_demands(&self, host: &str) -> BTreeMap<String, BTreeMap<String, i64>> {
        self.with(|s| {
            if !s.reaches(host) {
                return BTreeMap::new();
            }
            s.resized
                .iter()
                .filter(|(vm, _)| {
                    s.running
                        .get(*vm)
                        .is_some_and(|on| on.iter().any(|x| x == host))
                })
                .map(|(vm, d)| (vm.clone(), d.clone()))
                .collect()
        })
    }
}

impl Fencer for World {
    fn fence(&self, host: &str, _level: usize) -> Result<bool, String> {
        self.with(|s| {
            let now = s.now;
            let h = s.hosts.get_mut(host).ok_or("unknown host")?;
            match h.device {
                FenceDevice::FailsUntil(t) if now < t => Err("fence device did not answer".into()),
                _ => {
                    h.fenced = true;
                    s.power_off(host);
                    s.health();
                    let gone = vms_on(&s.last, host);
                    s.released.extend(gone);
                    Ok(true)
                }
            }
        })
    }
}

/// The VMs a map of VM to host puts on `host`.
fn vms_on(by_vm: &BTreeMap<String, String>, host: &str) -> Vec<String> {
    by_vm
        .iter()
        .filter(|(_, on)| *on == host)
        .map(|(vm, _)| vm.clone())
        .collect()
}

/// Something scheduled in simulated time.
#[derive(Clone, Debug)]
enum Due {
    /// An action finishes: its effect happens and its answer is delivered
    /// (unless the runtime that asked has crashed since: `epoch`).
    Finish {
        action: Action,
        epoch: u32,
        /// For a start: how many times its host had gone off when it was
        /// sent.
        offs: u32,
    },
    /// A start is taken by the hypervisor before it returns: from now on
    /// its VM is listed on the start's host (libvirt lists a domain being
    /// started, paused until it runs, before `virDomainCreate` returns),
    /// and the start's outcome is settled now; its answer still comes at
    /// its `Finish`.
    Appear {
        action: Action,
        /// How many times the start's host had gone off when it was sent.
        offs: u32,
    },
    Tick,
    Fault(Fault),
}

/// What the hypervisor answers an action on a domain that a start still
/// under way holds.
const LOCKED: &str = "cannot acquire state change lock (a start of this domain is under way)";

/// The probability, unless the environment says otherwise, that a start is
/// listed on its host before it returns, as libvirt lists a domain being
/// started (paused, then running) before `virDomainCreate` returns.
pub const LISTED_STARTS: f64 = 0.5;

/// The probability that a start is listed on its host before it returns
/// (the rest are listed only once they have returned): the environment's
/// `HAPLAN_SIM_LISTED_STARTS` (0 to 1) when set, else [`LISTED_STARTS`].
/// 0 is the model in which a start is seen only once it has returned.
pub fn listed_starts() -> f64 {
    std::env::var("HAPLAN_SIM_LISTED_STARTS")
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|p| (0.0..=1.0).contains(p))
        .unwrap_or(LISTED_STARTS)
}

/// An entry of the simulation's queue: ordered by time, then by when it
/// was queued.
#[derive(Debug)]
struct Queued {
    at: Millis,
    seq: u64,
    due: Due,
}

impl PartialEq for Queued {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}

impl Eq for Queued {}

impl PartialOrd for Queued {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Queued {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

/// A fault to inject at a time.
#[derive(Clone, Debug, PartialEq)]
pub enum Fault {
    /// The host loses power: it and its VMs stop.
    CrashHost(String),
    /// A crashed host comes back, with no VM running.
    RepairHost(String),
    /// Cut a host's network from the runtime (`from_peers`: from its peers
    /// too); its VMs run on.
    Partition {
        /// The host cut off.
        host: String,
        /// Its peers lose it too.
        from_peers: bool,
    },
    /// A partitioned host's network is back.
    Heal(String),
    /// A fence device that fails until a time, or answers slowly.
    Device {
        /// The host whose device changes.
        host: String,
        /// How it behaves from then on.
        device: FenceDevice,
    },
    /// VM starts fail with this probability until a time.
    StartFailures {
        /// The probability a start fails.
        p: f64,
        /// When starts work again.
        until: Millis,
    },
    /// A VM dies on its host, which stays up.
    CrashVm(String),
    /// The runtime process dies and comes back from its log after a delay.
    CrashRuntime {
        /// How long it stays down.
        down_for: Millis,
    },
    /// The runtime loses (`true`) or regains its management network to
    /// every host (its own partition).
    CutRuntime(bool),
    /// A host starts, when it powers on again, the VMs it ran when it went
    /// off (libvirt autostart): copies the runtime cannot know of.
    Autostart(String),
    /// Starts take longer than the runtime's deadline until this time.
    SlowStarts(Millis),
    /// Live migrations finish after the runtime's deadline until this time.
    SlowMigrations(Millis),
    /// An operator event, delivered as is.
    Operator(Event),
}

/// How long actions take in the simulation.
fn latency(action: &Action, world: &World, rng: &mut Rng) -> Millis {
    match action {
        Action::Probe { host, .. } => {
            if world.probe(host).0 {
                rng.range(5, 40)
            } else {
                2_000 // the probe's own timeout
            }
        }
        Action::AskPeer { .. } => rng.range(50, 500),
        Action::Fence { host, .. } => match world.device(host) {
            Some(FenceDevice::Slow(t)) => t,
            _ => rng.range(1_000, 4_000),
        },
        Action::StartVm { .. } => {
            if world.starts_slow() {
                rng.range(130_000, 200_000)
            } else {
                rng.range(500, 3_000)
            }
        }
        Action::StopVm { .. } => rng.range(100, 1_000),
        Action::Migrate { .. } => {
            let t = rng.range(1_000, 3_000);
            if world.migrations_slow() {
                // Beyond the runtime's deadline (600 s).
                t + 620_000
            } else {
                t
            }
        }
        Action::QueryVm { .. } | Action::Inventory { .. } => rng.range(20, 100),
    }
}

/// One step the simulation saw, for people watching.
#[derive(Clone, Debug)]
pub struct Step {
    /// What the runtime was given.
    pub input: Input,
    /// What it answered.
    pub output: Output,
}

/// A simulated run of the runtime over a pool.
pub struct Sim {
    /// The simulated hosts, VMs and fence devices: the physical truth the
    /// invariants are checked against.
    pub world: World,
    runtime: Option<Runtime>,
    journal: Journal<Vec<u8>>,
    queue: BinaryHeap<Reverse<Queued>>,
    seq: u64,
    now: Millis,
    epoch: u32,
    rng: Rng,
    next_tick: Option<Millis>,
    /// Every step, when asked for (`record`), or those `keep` selects.
    pub steps: Vec<Step>,
    /// Record every step in `steps`.
    pub record: bool,
    /// Which steps are recorded (all without it): a long run keeps only
    /// those it will show, so its memory does not grow with routine steps.
    pub keep: Option<KeepStep>,
    /// Errors the runtime gave (refused events).
    pub refused: Vec<String>,
    /// The log is compacted (a snapshot, then the steps after it) once its
    /// tail has this many steps.
    pub compact_every: u64,
    /// How many times it was.
    pub compactions: u64,
    /// The probability that a start is listed before it returns.
    listed_while_starting: f64,
    /// Draws for starts listed before they return, apart from `rng` so that
    /// the rest of a seed's scenario does not depend on them.
    listing_rng: Rng,
    /// The outcomes of starts settled before they return
    /// ([`Due::Appear`]), by action id, until their answer is due.
    settled_starts: BTreeMap<ActionId, Result<(), super::driver::StartError>>,
    /// Starts the hypervisor is still making, by VM and host: each start's
    /// id and how many times its host had gone off when it was sent (one
    /// that went off since makes nothing). While one is under way, a later
    /// start of that VM on that host, or a migration of it to or from that
    /// host, cannot take the domain (libvirt's job lock: `cannot acquire
    /// state change lock`) and fails, whether or not the runtime that sent
    /// the first one still listens.
    starts_under_way: BTreeMap<(String, String), Vec<(ActionId, u32)>>,
    /// Whether the operator last put each host into maintenance (`true`)
    /// or took it out: a host left in maintenance receives no VM, and the
    /// final check does not count its room.
    maintenance: BTreeMap<String, bool>,
    /// The budget of the runtime's exact checks, kept across its restarts.
    check_budget: Option<std::time::Duration>,
}

impl Sim {
    /// Sets the budget of the runtime's exact checks
    /// ([`Runtime::set_check_budget`]), now and after every restart.
    pub fn set_check_budget(&mut self, budget: Option<std::time::Duration>) {
        self.check_budget = budget;
        if let Some(rt) = self.runtime.as_mut() {
            rt.set_check_budget(budget);
        }
    }

    /// A simulation of the pool file `doc`, seeded, its starts seen on
    /// their host only once they have returned (what `haplan run --driver
    /// sim` shows).
    pub fn new(doc: Value, seed: u64) -> Result<Sim, super::RuntimeError> {
        Sim::with_listed_starts(doc, seed, 0.0)
    }

    /// [`Sim::new`], its starts listed on their host before they return
    /// with probability `listed` (0 to 1).
    pub fn with_listed_starts(
        doc: Value,
        seed: u64,
        listed: f64,
    ) -> Result<Sim, super::RuntimeError> {
        Sim::with_budget(doc, seed, listed, Some(super::DEFAULT_CHECK_BUDGET))
    }

    /// [`Sim::with_listed_starts`] whose runtime has the check budget
    /// `budget` from its construction on, its first recalculation included
    /// (see [`Sim::set_check_budget`]).
    pub fn with_budget(
        doc: Value,
        seed: u64,
        listed: f64,
        budget: Option<std::time::Duration>,
    ) -> Result<Sim, super::RuntimeError> {
        let (runtime, out) = Runtime::with_check_budget(doc.clone(), 0, budget)?;
        let world = World::new(runtime.pool(), seed);
        let journal = Journal::begin(Vec::new(), &doc, 0, &out.undecided).expect("in memory");
        let mut sim = Sim {
            world,
            runtime: Some(runtime),
            journal,
            queue: BinaryHeap::new(),
            seq: 0,
            now: 0,
            epoch: 0,
            rng: Rng::new(seed.wrapping_mul(31).wrapping_add(7)),
            next_tick: None,
            steps: Vec::new(),
            record: false,
            keep: None,
            refused: Vec::new(),
            compact_every: 2_000,
            compactions: 0,
            listed_while_starting: listed.clamp(0.0, 1.0),
            listing_rng: Rng::new(seed.wrapping_mul(0x2545_f491_4f6c_dd1d).wrapping_add(3)),
            settled_starts: BTreeMap::new(),
            starts_under_way: BTreeMap::new(),
            maintenance: BTreeMap::new(),
            check_budget: budget,
        };
        sim.after(
            Input {
                at: 0,
                event: Event::Tick,
            },
            out,
        );
        Ok(sim)
    }

    /// The runtime, unless it is down (`Fault::CrashRuntime`).
    pub fn runtime(&self) -> Option<&Runtime> {
        self.runtime.as_ref()
    }

    /// The simulated time.
    pub fn now(&self) -> Millis {
        self.now
    }

    /// The log so far.
    pub fn log(&self) -> &[u8] {
        self.journal.get_ref()
    }

    /// Another start of `action`'s VM is still being made on a host the
    /// action needs (a start's host; a migration's source or target), sent
    /// before it: the hypervisor will not let `action` have the domain.
    fn domain_locked(&self, action: &Action) -> bool {
        let (me, vm, hosts) = match action {
            Action::StartVm { id, vm, host, .. } => (Some(*id), vm, vec![host]),
            Action::Migrate { vm, from, to, .. } => (None, vm, vec![from, to]),
            _ => return false,
        };
        hosts.into_iter().any(|h| {
            self.starts_under_way
                .get(&(vm.clone(), h.clone()))
                .is_some_and(|under| {
                    under.iter().any(|&(id, offs)| {
                        me.is_none_or(|me| id < me) && self.world.offs(h) == offs
                    })
                })
        })
    }

    fn push(&mut self, at: Millis, due: Due) {
        self.seq += 1;
        self.queue.push(Reverse(Queued {
            at,
            seq: self.seq,
            due,
        }));
    }

    /// Schedules a fault (printed on stderr when the steps are recorded
    /// and `HAPLAN_SIM_FAULTS` is set: `examples/simtrace`).
    pub fn inject(&mut self, at: Millis, fault: Fault) {
        if self.record && std::env::var_os("HAPLAN_SIM_FAULTS").is_some() {
            eprintln!("fault at {at}: {fault:?}");
        }
        self.push(at, Due::Fault(fault));
    }

    fn after(&mut self, input: Input, out: Output) {
        for a in &out.actions {
            match a {
                Action::StartVm { vm, host, .. } => self.world.check_start(vm, host),
                Action::Fence { host, .. } => self.world.check_fence(host),
                Action::StopVm { vm, host, .. } => self.world.stop_asked(vm, host),
                _ => {}
            }
            let lat = latency(a, &self.world, &mut self.rng);
            let epoch = self.epoch;
            let offs = match a {
                Action::StartVm { host, .. } => self.world.offs(host),
                _ => 0,
            };
            if let Action::StartVm { id, vm, host, .. } = a {
                self.starts_under_way
                    .entry((vm.clone(), host.clone()))
                    .or_default()
                    .push((*id, offs));
            }
            if matches!(a, Action::StartVm { .. })
                && self.listed_while_starting > 0.0
                && self.listing_rng.chance(self.listed_while_starting)
            {
                let early = self.listing_rng.range(0, lat.saturating_sub(1));
                self.push(
                    self.now + early,
                    Due::Appear {
                        action: a.clone(),
                        offs,
                    },
                );
            }
            self.push(
                self.now + lat,
                Due::Finish {
                    action: a.clone(),
                    epoch,
                    offs,
                },
            );
        }
        // The runtime's last check before a start never has to act: a plan
        // that names a VM which may run elsewhere is a bug of its own.
        for a in &out.alerts {
            if let super::Alert::StartWithheld { vm, host, reason } = a {
                let msg = format!(
                    "t={}: start of {vm} on {host} withheld by the last check: {reason}",
                    self.now
                );
                self.world.with(|s| s.violations.push(msg));
            }
        }
        for n in &out.notes {
            if let super::Note::MaintenanceReady { host } = n {
                self.world.maintenance_ready(host);
            }
        }
        if let Some(w) = out.wake_at {
            if self.next_tick.is_none_or(|t| w < t || t <= self.now) {
                self.next_tick = Some(w);
                self.push(w.max(self.now), Due::Tick);
            }
        }
        if self.record && self.keep.as_ref().is_none_or(|k| k(&input, &out)) {
            self.steps.push(Step { input, output: out });
        }
    }

    fn feed(&mut self, event: Event) {
        let input = Input {
            at: self.now,
            event,
        };
        let Some(rt) = self.runtime.as_mut() else {
            return; // nobody listens while the runtime is down
        };
        match rt.handle(&input) {
            Ok(out) => {
                self.journal.append(&input, &out).expect("in memory");
                // The log stays bounded: a snapshot and its tail, as
                // `haplan run` keeps it.
                if self.journal.tail_steps() >= self.compact_every {
                    let rt = self.runtime.as_ref().expect("running");
                    let steps = self.journal.steps();
                    self.journal = Journal::snapshot(Vec::new(), rt, steps).expect("in memory");
                    self.compactions += 1;
                }
                self.after(input, out);
            }
            Err(e) => {
                if self.refused.len() < 1_000 {
                    self.refused.push(format!("t={}: {e}", self.now))
                }
            }
        }
    }

    /// Runs until simulated time `until`.
    pub fn run_until(&mut self, until: Millis) {
        while self.queue.peek().is_some_and(|q| q.0.at <= until) {
            let Reverse(Queued { at, due, .. }) = self.queue.pop().expect("peeked");
            self.now = at;
            self.world.set_now(at);
            match due {
                Due::Tick => {
                    if self.next_tick == Some(at) {
                        self.next_tick = None;
                    }
                    self.feed(Event::Tick)
                }
                Due::Finish {
                    action,
                    epoch,
                    offs,
                } => {
                    // The effect happens whether or not anyone hears of it
                    // (a start whose host went off meanwhile is lost).
                    let settled = match &action {
                        Action::StartVm { id, .. } => self.settled_starts.remove(id),
                        _ => None,
                    };
                    let locked = self.domain_locked(&action);
                    if let Action::StartVm { id, vm, host, .. } = &action
                        && let Some(under) =
                            self.starts_under_way.get_mut(&(vm.clone(), host.clone()))
                    {
                        under.retain(|(x, _)| x != id);
                        if under.is_empty() {
                            self.starts_under_way.remove(&(vm.clone(), host.clone()));
                        }
                    }
                    let answer = match &action {
                        // A start the hypervisor had taken (listed) when
                        // its host went off may have run there: the driver
                        // lost its call and cannot say (in doubt); one it
                        // had not taken did not run.
                        Action::StartVm { id, vm, host, .. } if self.world.offs(host) != offs => {
                            Event::VmStartResult {
                                id: *id,
                                vm: vm.clone(),
                                host: host.clone(),
                                ok: false,
                                error: Some(format!("{host} went off")),
                                in_doubt: settled.as_ref().is_some_and(|r| r.is_ok()),
                            }
                        }
                        Action::StartVm { id, vm, host, .. } if settled.is_some() => {
                            driver::start_answer(*id, vm, host, settled.expect("settled"))
                        }
                        Action::StartVm { id, vm, host, .. } if locked => {
                            // The start that holds the domain has made it
                            // already (libvirt lists a domain being started
                            // as active): the driver finds it running there.
                            // Else libvirt's `OperationTimeout`, which the
                            // driver answers in doubt: that start may still
                            // make it.
                            let r = if self.world.runs_on(vm, host) {
                                Ok(())
                            } else {
                                Err(StartError::in_doubt(LOCKED))
                            };
                            driver::start_answer(*id, vm, host, r)
                        }
                        Action::Migrate { id, vm, to, .. } if locked => Event::MigrateResult {
                            id: *id,
                            vm: vm.clone(),
                            host: to.clone(),
                            ok: false,
                            error: Some(LOCKED.to_string()),
                        },
                        _ => driver::perform(&action, &self.world, &self.world),
                    };
                    if epoch == self.epoch {
                        self.feed(answer);
                    }
                }
                Due::Appear { action, offs } => {
                    if let Action::StartVm { id, vm, host, .. } = &action
                        && self.world.offs(host) == offs
                        && !self.domain_locked(&action)
                    {
                        let r = self.world.start_vm(vm, host);
                        self.settled_starts.insert(*id, r);
                    }
                }
                Due::Fault(f) => self.fault(f),
            }
        }
        self.now = self.now.max(until);
        self.world.set_now(self.now);
    }

    fn fault(&mut self, f: Fault) {
        match f {
            Fault::CrashHost(h) => self.world.crash_host(&h),
            Fault::RepairHost(h) => self.world.repair_host(&h),
            Fault::Partition { host, from_peers } => {
                self.world.partition(&host, false, !from_peers)
            }
            Fault::Heal(h) => self.world.partition(&h, true, true),
            Fault::Device { host, device } => self.world.set_device(&host, device),
            Fault::StartFailures { p, until } => self.world.start_failures(p, until),
            Fault::CrashVm(vm) => {
                if let Some(e) = self.world.crash_vm(&vm) {
                    self.feed(e);
                }
            }
            Fault::CrashRuntime { down_for } => {
                if self.runtime.take().is_some() {
                    self.epoch += 1;
                    self.next_tick = None;
                    self.push(
                        self.now + down_for,
                        Due::Fault(Fault::Operator(Event::Restarted)),
                    );
                }
            }
            Fault::CutRuntime(cut) => self.world.cut_runtime(cut),
            Fault::Autostart(h) => self.world.set_autostart(&h, true),
            Fault::SlowStarts(until) => self.world.slow_starts(until),
            Fault::SlowMigrations(until) => self.world.slow_migrations(until),
            Fault::Operator(Event::Restarted) => {
                // As `haplan run` resumes: the log replayed (snapshot and
                // tail), then told it restarted, that step appended.
                let bytes = self.journal.get_ref().clone();
                let (rep, input, out) =
                    log::recover(std::io::Cursor::new(bytes), self.now).expect("the log replays");
                let mut journal =
                    Journal::resume(std::mem::take(&mut self.journal).into_inner(), rep.steps);
                journal.append(&input, &out).expect("in memory");
                self.journal = journal;
                let mut runtime = rep.runtime;
                runtime.set_check_budget(self.check_budget);
                self.runtime = Some(runtime);
                self.after(input, out);
            }
            Fault::Operator(e) => {
                if let Event::VmResized { vm, demand } = &e {
                    self.world.resize_vm(vm, demand);
                }
                if let Event::HostMaintenance { host, enter } = &e {
                    self.maintenance.insert(host.clone(), *enter);
                }
                self.feed(e)
            }
        }
    }
}

impl Default for Journal<Vec<u8>> {
    fn default() -> Self {
        Journal::resume(Vec::new(), 0)
    }
}

/// A random small pool for the seeded simulation: 3 to 7 hosts, 4 to 18
/// VMs of every restart class, priorities, start orders and delays, one or
/// two fence levels per host.
pub fn random_pool(rng: &mut Rng) -> Value {
    let nh = rng.range(3, 7) as usize;
    let nv = rng.range(4, 18) as usize;
    let hosts: Vec<Value> = (0..nh)
        .map(|i| {
            let levels = rng.range(1, 2);
            let fencing: Vec<Value> = (0..levels)
                .map(|l| {
                    json!({"agent": if l == 0 { "fence_ipmilan" } else { "fence_apc" },
                           "params": {"ip": format!("10.0.0.{i}"), "password": "secret"}})
                })
                .collect();
            json!({"name": format!("h{i}"),
                   "capacity": {"memory_mib": 1024 * rng.range(16, 64)},
                   "fencing": fencing})
        })
        .collect();
    let vms: Vec<Value> = (0..nv)
        .map(|i| {
            let restart = [
                "protected",
                "protected",
                "protected",
                "best_effort",
                "unprotected",
            ][rng.range(0, 4) as usize];
            let priority = ["critical", "high", "medium", "low"][rng.range(0, 3) as usize];
            json!({"name": format!("vm{i}"),
                   "host": format!("h{}", rng.range(0, nh as u64 - 1)),
                   "demand": {"memory_mib": 1024 * rng.range(1, 8)},
                   "restart": restart, "priority": priority,
                   "order": rng.range(0, 2), "start_delay_s": rng.range(0, 3)})
        })
        .collect();
    json!({
        "name": "sim",
        "ha": {
            "host_failures_to_tolerate": rng.range(0, 2),
            "failure_threshold": rng.range(1, 3),
            "check_interval_s": rng.range(1, 5),
            "restart_retries": rng.range(0, 2),
            "retry_interval_s": rng.range(1, 5),
            "fence_timeout_s": rng.range(5, 10),
        },
        "hosts": hosts,
        "vms": vms,
    })
}

/// What a seeded scenario found.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    /// The scenario's seed: the same seed gives the same run.
    pub seed: u64,
    /// The invariants it breached, as [`World::violations`] words them.
    pub violations: Vec<String>,
    /// From each host crash to all its restartable protected VMs running
    /// again, in simulated milliseconds.
    pub recovery_ms: Vec<Millis>,
}

/// Runs one random scenario: a random pool, a few random faults in the
/// first minute, then time to settle; checks every invariant.
/// Its starts are listed before they return with the probability
/// [`listed_starts`].
pub fn scenario(seed: u64) -> Outcome {
    run_scenario(seed, listed_starts(), false).0
}

/// [`scenario`], its starts listed before they return with probability
/// `listed` (0: only once they have returned).
pub fn scenario_listed(seed: u64, listed: f64) -> Outcome {
    run_scenario(seed, listed, false).0
}

/// [`scenario`], with every step the runtime took.
pub fn scenario_steps(seed: u64) -> (Outcome, Vec<Step>) {
    run_scenario(seed, listed_starts(), true)
}

fn run_scenario(seed: u64, listed: f64, record: bool) -> (Outcome, Vec<Step>) {
    let mut rng = Rng::new(seed);
    let doc = random_pool(&mut rng);
    let mut sim = Sim::with_listed_starts(doc.clone(), seed, listed).expect("a valid pool");
    sim.record = record;
    let hosts: Vec<String> = sim
        .runtime()
        .expect("running")
        .pool()
        .hosts
        .iter()
        .map(|h| h.name.clone())
        .collect();
    let vms: Vec<String> = sim
        .runtime()
        .expect("running")
        .pool()
        .vms
        .iter()
        .map(|v| v.name.clone())
        .collect();
    let mut crashes: Vec<(Millis, String)> = Vec::new();
    let faults = rng.range(1, 4);
    // Hosts whose fence never works: their VMs must never move.
    let mut unfenceable = BTreeSet::new();
    for _ in 0..faults {
        let at = rng.range(1_000, 60_000);
        let host = hosts[rng.range(0, hosts.len() as u64 - 1) as usize].clone();
        match rng.range(0, 13) {
            0 | 1 => {
                sim.inject(at, Fault::CrashHost(host.clone()));
                crashes.push((at, host));
            }
            2 => {
                // Alive but out of the runtime's sight; maybe of its peers too.
                let from_peers = rng.chance(0.5);
                sim.inject(
                    at,
                    Fault::Partition {
                        host: host.clone(),
                        from_peers,
                    },
                );
                sim.inject(at + rng.range(5_000, 60_000), Fault::Heal(host));
            }
            3 => {
                // Flapping: short outages, network only.
                let mut t = at;
                for _ in 0..rng.range(2, 5) {
                    sim.inject(
                        t,
                        Fault::Partition {
                            host: host.clone(),
                            from_peers: true,
                        },
                    );
                    t += rng.range(500, 4_000);
                    sim.inject(t, Fault::Heal(host.clone()));
                    t += rng.range(500, 4_000);
                }
            }
            4 => {
                let until = if rng.chance(0.3) {
                    unfenceable.insert(host.clone());
                    Millis::MAX
                } else {
                    at + rng.range(5_000, 90_000)
                };
                sim.inject(
                    0,
                    Fault::Device {
                        host: host.clone(),
                        device: FenceDevice::FailsUntil(until),
                    },
                );
                sim.inject(at, Fault::CrashHost(host.clone()));
                crashes.push((at, host));
            }
            5 => {
                sim.inject(
                    0,
                    Fault::Device {
                        host: host.clone(),
                        device: FenceDevice::Slow(rng.range(5_000, 20_000)),
                    },
                );
                sim.inject(at, Fault::CrashHost(host.clone()));
                crashes.push((at, host));
            }
            6 => sim.inject(
                at,
                Fault::StartFailures {
                    p: 0.5,
                    until: at + rng.range(5_000, 30_000),
                },
            ),
            7 => {
                let vm = vms[rng.range(0, vms.len() as u64 - 1) as usize].clone();
                sim.inject(at, Fault::CrashVm(vm));
            }
            10 => {
                // The runtime's own partition: every host out of its sight
                // at once, each still reaching the others.
                sim.inject(at, Fault::CutRuntime(true));
                sim.inject(at + rng.range(5_000, 90_000), Fault::CutRuntime(false));
            }
            11 => {
                // A host dies, is fenced, and comes back starting the VMs
                // it ran (libvirt autostart).
                sim.inject(0, Fault::Autostart(host.clone()));
                sim.inject(at, Fault::CrashHost(host.clone()));
                sim.inject(
                    at + rng.range(20_000, 120_000),
                    Fault::RepairHost(host.clone()),
                );
                crashes.push((at, host));
            }
            12 => {
                // Starts finish after the runtime's deadline for a while,
                // then a host dies.
                sim.inject(at, Fault::SlowStarts(at + rng.range(10_000, 60_000)));
                sim.inject(at + rng.range(0, 5_000), Fault::CrashHost(host.clone()));
                crashes.push((at, host));
            }
            13 => {
                // A VM's definition changes (it grows or shrinks).
                let vm = vms[rng.range(0, vms.len() as u64 - 1) as usize].clone();
                let demand = [("memory_mib".to_string(), 1024 * rng.range(1, 8) as i64)];
                sim.inject(
                    at,
                    Fault::Operator(Event::VmResized {
                        vm,
                        demand: demand.into_iter().collect(),
                    }),
                );
            }
            _ => sim.inject(
                at,
                Fault::CrashRuntime {
                    down_for: rng.range(1_000, 30_000),
                },
            ),
        }
    }
    // Record which protected VMs each crash takes down, when it happens.
    let mut out = Outcome {
        seed,
        ..Outcome::default()
    };
    // Maintenance, drawn from a generator of its own so that every seed
    // keeps the faults above: a host drained at a random time (and powered
    // off by its operator once reported ready), its migrations sometimes
    // finishing after the runtime's deadline (the run then lasts long
    // enough for that deadline to pass), the host back in service later.
    let mut mrng = Rng::new(seed ^ 0x6d61_696e_7465_6e61);
    let mut end = 400_000;
    if mrng.chance(0.15) {
        let at = mrng.range(1_000, 60_000);
        let host = hosts[mrng.range(0, hosts.len() as u64 - 1) as usize].clone();
        if mrng.chance(0.5) {
            let until = at + mrng.range(1_000, 30_000);
            sim.inject(at.saturating_sub(500), Fault::SlowMigrations(until));
            end = 1_000_000;
        }
        sim.inject(
            at,
            Fault::Operator(Event::HostMaintenance {
                host: host.clone(),
                enter: true,
            }),
        );
        if mrng.chance(0.5) {
            let back = at + mrng.range(100_000, 300_000);
            sim.inject(back, Fault::RepairHost(host.clone()));
            sim.inject(
                back + 1,
                Fault::Operator(Event::HostMaintenance { host, enter: false }),
            );
        }
    }
    crashes.sort();
    let mut waiting: Vec<(Millis, BTreeSet<String>, bool)> = Vec::new();
    let protected: BTreeSet<String> = sim
        .runtime()
        .expect("running")
        .pool()
        .vms
        .iter()
        .filter(|v| v.restart == haplan::model::Restart::Protected)
        .map(|v| v.name.clone())
        .collect();
    for (at, host) in &crashes {
        sim.run_until(at.saturating_sub(1));
        let running = sim.world.running();
        let victims: BTreeSet<String> = running
            .iter()
            .filter(|(vm, on)| protected.contains(*vm) && on.contains(host))
            .map(|(vm, _)| vm.clone())
            .collect();
        waiting.push((*at, victims, unfenceable.contains(host)));
    }
    // Step in seconds to time the recoveries.
    let mut t = 0;
    while t < end {
        t += 1_000;
        sim.run_until(t);
        let running = sim.world.running();
        waiting.retain(|(at, victims, stuck)| {
            if victims.is_empty() || *stuck {
                return false;
            }
            if t > *at && victims.iter().all(|v| running.contains_key(v)) {
                out.recovery_ms.push(t.saturating_sub(*at));
                false
            } else {
                true
            }
        });
    }
    out.violations = sim.world.violations();
    // One copy each at the end (duplicates the world made were resolved).
    out.violations.extend(sim.world.duplicates());
    // Liveness: every protected VM that could run again does, unless the
    // runtime takes itself for the isolated side (it then waits for an
    // operator, by design).
    if !sim.runtime().is_some_and(|rt| rt.isolated()) {
        out.violations.extend(liveness(&sim, &doc, &unfenceable));
    }
    // The log replays to the same state.
    if let Some(rt) = sim.runtime() {
        match log::replay(std::io::Cursor::new(sim.log().to_vec())) {
            Ok(rep) => {
                if rep.runtime.state_json() != rt.state_json() {
                    out.violations
                        .push("the log replays to a different state".into());
                }
            }
            Err(e) => out.violations.push(format!("the log does not replay: {e}")),
        }
    }
    (out, std::mem::take(&mut sim.steps))
}

/// Protected VMs that run nowhere although a placement for them exists on
/// the hosts that are up (and their host is off, or it crashed them).
fn liveness(sim: &Sim, doc: &Value, unfenceable: &BTreeSet<String>) -> Vec<String> {
    let running = sim.world.running();
    let mut doc = doc.clone();
    let mut idle = Vec::new();
    let hosts = doc["hosts"].as_array_mut().expect("hosts");
    for h in hosts.iter_mut() {
        let name = h["name"].as_str().unwrap_or_default().to_string();
        let up = sim.world.powered(&name);
        // Left in maintenance by the operator (or by the pool file, unless
        // the operator took it out): no VM may go there.
        let maintenance = sim
            .maintenance
            .get(&name)
            .copied()
            .unwrap_or(h["state"] == json!("maintenance"));
        h["state"] = json!(match (up, maintenance) {
            (false, _) => "down",
            (true, true) => "maintenance",
            (true, false) => "up",
        });
    }
    // The VMs that cannot run again (host not fenced) are set aside.
    hosts.push(json!({"name": "(lost)", "capacity": {}, "state": "down"}));
    let resized = sim.world.resized();
    let vms = doc["vms"].as_array_mut().expect("vms");
    for v in vms.iter_mut() {
        let name = v["name"].as_str().unwrap_or_default().to_string();
        // What it needs now, not what the pool file said.
        for (r, amount) in resized.get(&name).into_iter().flatten() {
            v["demand"][r] = json!(amount);
        }
        match running.get(&name) {
            Some(on) => {
                v["host"] = json!(on[0]);
                v["power"] = json!("running");
            }
            None => {
                // A VM whose last host, or a host it was being started on,
                // can never be confirmed off may run there for all anyone
                // knows: it must stay down.
                let origin = sim.world.last_host(&name).unwrap_or_default();
                let mut maybe = sim.world.asked(&name);
                maybe.insert(origin);
                let lost_for_good = maybe
                    .iter()
                    .any(|h| unfenceable.contains(h) && !sim.world.fenced(h));
                if v["restart"] == json!("protected") && !lost_for_good {
                    idle.push(name.clone());
                    v["host"] = json!("(lost)");
                    v["power"] = json!("running");
                } else {
                    v["power"] = json!("halted");
                }
            }
        }
    }
    if idle.is_empty() {
        return Vec::new();
    }
    let Ok(pool) = haplan::pool_from_value(&doc) else {
        return vec!["the final state is not a valid pool".into()];
    };
    let plan = haplan::plan(&pool, &[], &haplan::Budget::default());
    plan.placements
        .iter()
        .filter(|p| idle.contains(&pool.vms[p.vm].name))
        .map(|p| {
            format!(
                "{} runs nowhere at the end, but {} has room for it",
                pool.vms[p.vm].name, pool.hosts[p.host].name
            )
        })
        .collect()
}
