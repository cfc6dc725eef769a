//! What the runtime's actions need from the world, as traits: a hypervisor
//! manager (probe hosts, start, migrate and find VMs) and fencing devices.
//! Real implementations (libvirt, fence agents) and the simulated one
//! (`sim`) sit behind them; [`perform`] turns one action into the
//! event that answers it.

use std::collections::BTreeMap;

use super::{Action, ActionId, Event};

/// How hosts and VMs are reached. Implementations must be safe to call
/// from several threads at once (actions run in parallel).
pub trait Hypervisor: Send + Sync {
    /// Pings `host` and probes its management API: (ping, api).
    fn probe(&self, host: &str) -> (bool, bool);
    /// Whether `peer` reaches `host`, over a path that is not this side's
    /// own management network; an error when the peer cannot tell (it does
    /// not answer, or there is no such path).
    fn peer_reaches(&self, peer: &str, host: &str) -> Result<bool, String>;
    /// Starts `vm` on `host`. An error promises that it does not run there,
    /// unless it is [`StartError::in_doubt`].
    fn start_vm(&self, vm: &str, host: &str) -> Result<(), StartError>;
    /// Powers off the copy of `vm` running on `host` (a duplicate).
    fn stop_vm(&self, vm: &str, host: &str) -> Result<(), String>;
    /// Live-migrates `vm` from `from` to `to`; on error it still runs on `from`.
    fn migrate(&self, vm: &str, from: &str, to: &str) -> Result<(), String>;
    /// The host `vm` runs on, if any. Every host that answers is asked:
    /// an error only when none of them runs it and some host did not
    /// answer (it may run there), so that an error means "on none of the
    /// hosts that answer".
    fn locate(&self, vm: &str) -> Result<Option<String>, String>;
    /// The VMs running or paused on `host`.
    fn list_vms(&self, host: &str) -> Result<Vec<String>, String>;
    /// The amounts (resources named as in the pool file) the VMs running
    /// on `host` have now, where the driver can tell: a definition changed
    /// unseen reaches the runtime with the next inventory. None by default.
    fn vm_demands(&self, _host: &str) -> BTreeMap<String, BTreeMap<String, i64>> {
        BTreeMap::new()
    }
}

/// Why a start did not succeed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StartError {
    /// The driver's error, for the `vm_start_result`'s `error`.
    pub message: String,
    /// The outcome is not known (the driver gave up waiting): the VM may
    /// still come up there.
    pub in_doubt: bool,
}

impl StartError {
    /// A start that failed: the VM does not run there.
    pub fn failed(message: impl Into<String>) -> StartError {
        StartError {
            message: message.into(),
            in_doubt: false,
        }
    }

    /// A start whose outcome is not known.
    pub fn in_doubt(message: impl Into<String>) -> StartError {
        StartError {
            message: message.into(),
            in_doubt: true,
        }
    }
}

/// Fencing devices, per host and level (credentials stay in here).
pub trait Fencer: Send + Sync {
    /// Powers `host` off through its fence level `level` and confirms it:
    /// `Ok(true)` only when the device reports the host off.
    fn fence(&self, host: &str, level: usize) -> Result<bool, String>;
}

/// Performs `action` and returns the event that answers it.
pub fn perform(action: &Action, hv: &dyn Hypervisor, fencer: &dyn Fencer) -> Event {
    match action {
        Action::Probe { id, host } => {
            let (ping, api) = hv.probe(host);
            Event::HealthCheck {
                id: *id,
                host: host.clone(),
                ping,
                api,
            }
        }
        Action::AskPeer { id, host, peer } => {
            let (reachable, error) = match hv.peer_reaches(peer, host) {
                Ok(r) => (r, None),
                Err(e) => (false, Some(e)),
            };
            Event::PeerCheck {
                id: *id,
                host: host.clone(),
                peer: peer.clone(),
                reachable,
                error,
            }
        }
        Action::Fence {
            id, host, level, ..
        } => {
            let (off, error) = match fencer.fence(host, *level) {
                Ok(true) => (true, None),
                Ok(false) => (
                    false,
                    Some("the device did not confirm the host is off".into()),
                ),
                Err(e) => (false, Some(e)),
            };
            Event::FenceResult {
                id: *id,
                host: host.clone(),
                off,
                error,
            }
        }
        Action::StartVm { id, vm, host, .. } => start_answer(*id, vm, host, hv.start_vm(vm, host)),
        Action::StopVm { id, vm, host } => {
            let r = hv.stop_vm(vm, host);
            Event::VmStopResult {
                id: *id,
                vm: vm.clone(),
                host: host.clone(),
                ok: r.is_ok(),
                error: r.err(),
            }
        }
        Action::Migrate { id, vm, from, to } => {
            let r = hv.migrate(vm, from, to);
            Event::MigrateResult {
                id: *id,
                vm: vm.clone(),
                host: to.clone(),
                ok: r.is_ok(),
                error: r.err(),
            }
        }
        Action::QueryVm { id, vm } => {
            let (host, error) = match hv.locate(vm) {
                Ok(h) => (h, None),
                Err(e) => (None, Some(e)),
            };
            Event::VmStatus {
                id: *id,
                vm: vm.clone(),
                host,
                error,
            }
        }
        Action::Inventory { id, host } => {
            let (vms, error) = match hv.list_vms(host) {
                Ok(v) => (v, None),
                Err(e) => (Vec::new(), Some(e)),
            };
            let mut demand = BTreeMap::new();
            if error.is_none() {
                demand = hv.vm_demands(host);
                demand.retain(|vm, _| vms.contains(vm));
            }
            Event::Inventory {
                id: *id,
                host: host.clone(),
                vms,
                error,
                demand,
            }
        }
    }
}

/// The answer to the start `id` of `vm` on `host` that ended with `r`.
pub fn start_answer(id: ActionId, vm: &str, host: &str, r: Result<(), StartError>) -> Event {
    Event::VmStartResult {
        id,
        vm: vm.to_string(),
        host: host.to_string(),
        ok: r.is_ok(),
        in_doubt: r.as_ref().is_err_and(|e| e.in_doubt),
        error: r.err().map(|e| e.message),
    }
}
