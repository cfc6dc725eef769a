//! `haplan run` as a service: the files it keeps (the log, resumed and
//! compacted, its lock, the VM definitions), and, beside the loop of
//! [`super::live`], what a service manager and operators talk to.

pub mod files;

pub use files::{StateFiles, write_atomically};
