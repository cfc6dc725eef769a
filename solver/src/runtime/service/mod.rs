//! `haplan run` as a service: the files it keeps (the log, resumed and
//! compacted, its lock, the VM definitions), the control interface, the
//! Prometheus endpoint; the loop itself is [`super::live::run`].

pub mod control;
pub mod files;
pub mod metrics;

pub use files::{StateFiles, write_atomically};
