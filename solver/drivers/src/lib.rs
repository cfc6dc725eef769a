//! The real I/O beside haplan's HA runtime.
//!
//! The runtime decides (health-check, fence, restart); this crate does:
//!
//! - [`fence`]: runs fence-agent programs (`fence_ipmilan`, any `fence_*`)
//!   the way Pacemaker does, options on standard input, a time limit per
//!   run, credentials never shown. [`FenceDevice::off_and_confirm`] is the
//!   proof that a host is off.
//! - [`libvirt`]: one long-lived libvirt connection per host
//!   ([`LibvirtHost`]): health probe, domains listed, defined, started,
//!   stopped, their XML; every call bounded in time.
//! - [`import`](mod@import): a `haplan/v1` pool file from live libvirt hosts.
//! - [`bench`](mod@bench): the end-to-end bench (`scripts/e2e/bench.sh`) from Rust, for
//!   tests: simulated hosts with real BMCs on loopback.
//!
//! It knows nothing of the runtime: the runtime's driver traits are
//! implemented on top of these types, elsewhere.

#![warn(missing_docs)]

mod agent;
pub mod bench;
pub mod fence;
pub mod import;
mod ipmitool;
pub mod libvirt;

pub use fence::{Action, FenceDevice, FenceError, FenceParams, Outcome, PowerState};
pub use import::{ImportError, Imported, import, import_hosts};
pub use libvirt::{ConnectOptions, DomainInfo, DomainState, LibvirtError, LibvirtHost, NodeInfo};
