//! haplan's HA runtime against real hosts: the driver traits of
//! `haplan-runtime` over libvirt connections and fence agents, and a loop
//! that runs the state machine in real time with its journal on disk.
//!
//! `haplan run` as a service: the files it keeps ([`files`]: the log,
//! resumed and compacted, its lock, the VM definitions), the control
//! interface ([`control`]), the Prometheus endpoint ([`metrics`]); the loop
//! itself is [`live::run`].

#![warn(missing_docs)]

pub mod control;
pub mod files;
pub mod live;
pub mod metrics;
pub mod process;

pub use files::{StateFiles, write_atomically};
