//! # haplan-import
//!
//! A `haplan/v1` pool (`docs/pool-format.md`) from what a virtualization
//! platform exports about itself: Proxmox VE, vSphere, XenServer / XCP-ng,
//! OpenStack, KubeVirt and Ganeti. The mapping of each platform, field by
//! field, and every warning are in `docs/import.md`.
//!
//! The crate does no I/O: [`import`] takes the files' names and contents,
//! recognises each file by its content (never by its name), and returns the
//! pool as a JSON value with the warnings of what the platform does not say,
//! or an error naming the file and the field. A pool is returned only when
//! haplan's own loader, which the caller hands in, accepts it: nothing is
//! half-imported. (The crate does not depend on haplan, so that haplan's
//! command line can depend on it.)
//!
//! ```
//! let hosts = br#"[
//!   {"type": "node", "node": "pve1", "status": "online", "maxmem": 17179869184, "maxcpu": 8},
//!   {"type": "node", "node": "pve2", "status": "online", "maxmem": 17179869184, "maxcpu": 8},
//!   {"type": "qemu", "vmid": 100, "name": "db", "node": "pve1", "status": "running",
//!    "maxmem": 4294967296, "maxcpu": 2, "hastate": "started"}
//! ]"#;
//! let loader = |pool: &serde_json::Value| {
//!     haplan::pool_from_value(pool).map(drop).map_err(|e| e.to_string())
//! };
//! let out = haplan_import::import(
//!     haplan_import::Platform::Proxmox,
//!     &[haplan_import::File::new("resources.json", hosts)],
//!     &haplan_import::Options::default(),
//!     &loader,
//! ).unwrap();
//! assert_eq!(out.pool["vms"][0]["demand"]["memory_mib"], 4096);
//! let pool = haplan::pool_from_value(&out.pool).unwrap();
//! assert_eq!(pool.hosts.len(), 2);
//! ```

#![warn(missing_docs)]

use std::fmt;
use std::str::FromStr;

use serde_json::Value;

mod draft;
mod ganeti;
mod input;
mod kubevirt;
mod openstack;
mod proxmox;
mod sections;
pub mod units;
mod vsphere;
mod xen;

pub use draft::Warning;

/// The platforms this crate reads. (libvirt hosts are read live, by
/// `haplan-drivers`.)
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Platform {
    /// Proxmox VE (`pvesh` JSON).
    Proxmox,
    /// VMware vSphere (`govc object.collect -json`).
    Vsphere,
    /// XenServer / XCP-ng (XenAPI records as JSON).
    Xen,
    /// OpenStack Nova (hypervisors, servers and server groups as JSON).
    Openstack,
    /// KubeVirt (`kubectl get ... -o json` or YAML).
    Kubevirt,
    /// Ganeti (the htools text backend `hscan` writes).
    Ganeti,
}

impl Platform {
    /// Every platform, in the order the command line lists them.
    pub const ALL: [Platform; 6] = [
        Platform::Proxmox,
        Platform::Vsphere,
        Platform::Xen,
        Platform::Openstack,
        Platform::Kubevirt,
        Platform::Ganeti,
    ];

    /// The name on the command line and in Python.
    pub fn name(self) -> &'static str {
        match self {
            Platform::Proxmox => "proxmox",
            Platform::Vsphere => "vsphere",
            Platform::Xen => "xen",
            Platform::Openstack => "openstack",
            Platform::Kubevirt => "kubevirt",
            Platform::Ganeti => "ganeti",
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Platform {
    type Err = ImportError;
    fn from_str(s: &str) -> Result<Self, ImportError> {
        Platform::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| ImportError::UnknownPlatform(s.to_string()))
    }
}

/// One exported file: the name to show in messages and its bytes.
#[derive(Clone, Copy, Debug)]
pub struct File<'a> {
    /// The name messages give it (its path, as the user gave it).
    pub name: &'a str,
    /// Its contents.
    pub bytes: &'a [u8],
}

impl<'a> File<'a> {
    /// The file `name` holding `bytes`.
    pub fn new(name: &'a str, bytes: &'a [u8]) -> Self {
        File { name, bytes }
    }
}

/// How vSphere VMs are sized: what vSphere HA's admission control counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum VsphereSizing {
    /// The configured memory and vCPUs of each VM (what the "cluster
    /// resource percentage" policy counts when it reserves by configured
    /// size, and what a restarted VM takes once it runs). The default:
    /// a failover that only fits reservations leaves VMs ballooning or
    /// swapping.
    #[default]
    Configured,
    /// Each VM's memory and CPU reservations (what the slot policy and the
    /// percentage policy count by default), with vSphere's floors: a VM
    /// with no reservation counts 0 MiB and 32 MHz.
    Reservation,
}

impl FromStr for VsphereSizing {
    type Err = ImportError;
    fn from_str(s: &str) -> Result<Self, ImportError> {
        match s {
            "configured" => Ok(VsphereSizing::Configured),
            "reservation" => Ok(VsphereSizing::Reservation),
            _ => Err(ImportError::BadOption(format!(
                "unknown vSphere sizing \"{s}\"; expected \"configured\" or \"reservation\""
            ))),
        }
    }
}

/// Choices the exports cannot make.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Options {
    /// The pool's name (default: the platform's cluster name where the
    /// export has one, else the platform's name).
    pub name: Option<String>,
    /// vSphere: size VMs by configured size or by reservation.
    pub vsphere_sizing: VsphereSizing,
    /// Platforms that put no limit on vCPU overcommit (Proxmox VE, XenServer
    /// for HA): also model vCPUs, with this ratio of vCPUs to host CPUs.
    /// Without it only memory is modelled, and a warning says so.
    pub cpu_overcommit: Option<f64>,
}

/// An imported pool and what the platform did not say.
#[derive(Clone, Debug, PartialEq)]
pub struct Imported {
    /// A `haplan/v1` pool that `haplan::pool_from_value` accepts.
    pub pool: Value,
    /// What the import had to decide or could not carry over, in the
    /// order found (`docs/import.md` explains each code).
    pub warnings: Vec<Warning>,
}

/// Why nothing was imported.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    #[error(
        "unknown platform \"{0}\"; expected one of: proxmox, vsphere, xen, openstack, kubevirt, ganeti"
    )]
    /// No platform has this name.
    UnknownPlatform(String),
    /// An option's value is out of range or unknown.
    #[error("{0}")]
    BadOption(String),
    /// No file was given to read.
    #[error("no files given")]
    NoFiles,
    /// The file is not an export this platform's importer reads.
    #[error("{file}: not {platform} export this importer reads ({expected})")]
    Unrecognised {
        /// The file's name.
        file: String,
        /// The platform asked for.
        platform: &'static str,
        /// What its importer reads.
        expected: &'static str,
    },
    /// The file cannot be read as text, JSON or the platform's format.
    #[error("{file}: {message}")]
    Syntax {
        /// The file's name.
        file: String,
        /// What the parser said.
        message: String,
    },
    /// A value in a recognised file is missing or wrong.
    #[error("{file}: {field}: {message}")]
    Field {
        /// The file's name.
        file: String,
        /// Where in it the value is.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// The files together lack something the pool needs, or contradict
    /// each other.
    #[error("{0}")]
    Incomplete(String),
    /// The pool built from the files is not one haplan accepts (a field the
    /// loader does not read yet, or a limit the platform's numbers exceed).
    #[error("the imported pool is not one haplan accepts: {0}")]
    Rejected(String),
}

impl ImportError {
    pub(crate) fn field(file: &str, field: impl Into<String>, message: impl Into<String>) -> Self {
        ImportError::Field {
            file: file.to_string(),
            field: field.into(),
            message: message.into(),
        }
    }
    pub(crate) fn syntax(file: &str, message: impl Into<String>) -> Self {
        ImportError::Syntax {
            file: file.to_string(),
            message: message.into(),
        }
    }
}

/// Imports `files` of `platform`: the pool and the warnings, once `loader`
/// (haplan's: `haplan::pool_from_value`) accepts the pool; its refusal is
/// [`ImportError::Rejected`].
pub fn import(
    platform: Platform,
    files: &[File<'_>],
    options: &Options,
    loader: &dyn Fn(&Value) -> Result<(), String>,
) -> Result<Imported, ImportError> {
    let imported = convert(platform, files, options)?;
    loader(&imported.pool).map_err(ImportError::Rejected)?;
    Ok(imported)
}

/// The mapping alone, without the loader's validation: what [`import`]
/// returns when the loader accepts it. For tests of the mapping of fields
/// that the loader may not read yet.
pub fn convert(
    platform: Platform,
    files: &[File<'_>],
    options: &Options,
) -> Result<Imported, ImportError> {
    if files.is_empty() {
        return Err(ImportError::NoFiles);
    }
    if let Some(r) = options.cpu_overcommit {
        if !(1e-6..=1e6).contains(&r) || !r.is_finite() {
            return Err(ImportError::BadOption(format!(
                "the CPU overcommit ratio must be a number from 0.000001 to 1000000, found {r}"
            )));
        }
    }
    let draft = match platform {
        Platform::Proxmox => proxmox::read(files, options)?,
        Platform::Vsphere => vsphere::read(files, options)?,
        Platform::Xen => xen::read(files, options)?,
        Platform::Openstack => openstack::read(files, options)?,
        Platform::Kubevirt => kubevirt::read(files, options)?,
        Platform::Ganeti => ganeti::read(files, options)?,
    };
    draft.finish(platform, options)
}
