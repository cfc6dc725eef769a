//! The domain model of a pool: hosts, VMs and HA settings, with integer
//! amounts and index ids. Built only by [`crate::load`], which validates; the
//! invariants below hold for every `Pool` value.
//!
//! Invariants:
//! - host and VM names are unique; `Vm::host` and `Vm::allowed_hosts` are valid
//!   host indices;
//! - every amount vector has one entry per resource in `Pool::resources`;
//! - amounts are in `0..=MAX_AMOUNT`, and per resource the hosts' usable
//!   capacity and the VMs' demand each total at most `MAX_TOTAL`, so every
//!   sum over hosts or VMs fits in `i64`.

use std::collections::{BTreeMap, BTreeSet};

/// The largest amount of one resource the format accepts (2^40).
pub const MAX_AMOUNT: i64 = 1 << 40;
/// The largest total of one resource over all hosts (after overcommit) or
/// over all VMs (2^52): sums of these over up to 2^10 resources fit in i64.
pub const MAX_TOTAL: i64 = 1 << 52;

/// Index of a host in `Pool::hosts`.
pub type HostId = usize;
/// Index of a VM in `Pool::vms`.
pub type VmId = usize;
/// Index of a resource in `Pool::resources`.
pub type ResourceId = usize;

#[derive(Clone, Debug, PartialEq)]
pub struct Pool {
    pub format: Option<String>,
    pub name: String,
    pub ha: HaSettings,
    /// Every resource named anywhere in the file, sorted by name.
    pub resources: Vec<String>,
    pub hosts: Vec<Host>,
    pub vms: Vec<Vm>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct HaSettings {
    pub enabled: bool,
    pub host_failures_to_tolerate: u32,
    pub mode: HaMode,
    pub migration_path: MigrationPath,
    /// Ratio per resource name, as written (ratio 1.0 where absent).
    pub overcommit: BTreeMap<String, f64>,
    pub restart_retries: u32,
    pub retry_interval_s: u64,
    pub failure_threshold: u32,
    pub check_interval_s: u64,
    pub fence_timeout_s: u64,
    /// What the runtime does when a host it fenced comes back.
    pub failback: Failback,
    /// The key of `hosts[].labels` whose value names a host's failure
    /// domain: when set, k counts domains that fail together.
    pub failure_domain_label: Option<String>,
}

impl Default for HaSettings {
    fn default() -> Self {
        HaSettings {
            enabled: true,
            host_failures_to_tolerate: 1,
            mode: HaMode::Host,
            migration_path: MigrationPath::Any,
            overcommit: BTreeMap::new(),
            restart_retries: 3,
            retry_interval_s: 30,
            failure_threshold: 3,
            check_interval_s: 10,
            fence_timeout_s: 60,
            failback: Failback::Off,
            failure_domain_label: None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HaMode {
    /// VM and host failover.
    Host,
    /// Failed VMs restart on their own host only: no host failure is tolerated.
    Vm,
}

/// What the runtime does with the VMs it restarted elsewhere when their host
/// comes back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failback {
    /// They stay where they are.
    Off,
    /// They are live-migrated back, one at a time, each only when the pool
    /// still tolerates its configured k afterwards.
    Return,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MigrationPath {
    Any,
    StandbyFirst,
    StandbyOnly,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostState {
    Up,
    Down,
    Maintenance,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Host {
    pub name: String,
    /// Raw capacity per resource, as in the file (0 where not listed).
    pub capacity: Vec<i64>,
    pub reserved: Vec<i64>,
    /// Which resources the file lists in `capacity` (for writing it back).
    pub listed: Vec<bool>,
    pub state: HostState,
    pub standby: bool,
    pub storage: BTreeSet<String>,
    pub networks: BTreeSet<String>,
    pub labels: BTreeMap<String, String>,
    pub fencing: Vec<FenceLevel>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct FenceLevel {
    pub agent: String,
    /// Agent options; may hold credentials, so never print them.
    pub params: serde_json::Map<String, serde_json::Value>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Power {
    Running,
    Paused,
    Halted,
}

impl Power {
    /// Running and paused VMs hold resources and are restarted.
    pub fn is_active(self) -> bool {
        !matches!(self, Power::Halted)
    }
}

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Restart {
    Protected,
    BestEffort,
    Unprotected,
}

/// Restart priority; `Critical` sorts first.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Critical,
    High,
    Medium,
    Low,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Vm {
    pub name: String,
    pub host: HostId,
    pub power: Power,
    pub demand: Vec<i64>,
    pub listed: Vec<bool>,
    pub restart: Restart,
    pub priority: Priority,
    pub order: u32,
    pub start_delay_s: u64,
    /// Seconds from its start until it runs (`haplan timing`); `None`
    /// where the file gives none (the command's `--boot-time` applies).
    pub boot_time_s: Option<u64>,
    pub storage: BTreeSet<String>,
    pub networks: BTreeSet<String>,
    pub local_devices: Vec<String>,
    pub allowed_hosts: Option<Vec<HostId>>,
    pub anti_affinity: Option<String>,
}

/// `floor(amount * ratio)`, with the ratio read as the decimal number it was
/// written as (1.15, not the nearest binary fraction 1.149999…), so that
/// `floor(100 * 1.15)` is 115.
pub fn scale(amount: i64, ratio: f64) -> i64 {
    if ratio == 1.0 {
        return amount;
    }
    // Rust prints the shortest decimal that reads back as the same f64.
    let text = format!("{ratio}");
    let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
    let den: i128 = 10i128.pow(frac.len() as u32);
    let num: i128 = format!("{int}{frac}")
        .parse()
        .expect("a finite positive ratio");
    (amount as i128 * num / den) as i64
}

impl HaMode {
    pub fn as_str(self) -> &'static str {
        match self {
            HaMode::Host => "host",
            HaMode::Vm => "vm",
        }
    }
}

impl MigrationPath {
    pub fn as_str(self) -> &'static str {
        match self {
            MigrationPath::Any => "any",
            MigrationPath::StandbyFirst => "standby_first",
            MigrationPath::StandbyOnly => "standby_only",
        }
    }
}

impl HostState {
    pub fn as_str(self) -> &'static str {
        match self {
            HostState::Up => "up",
            HostState::Down => "down",
            HostState::Maintenance => "maintenance",
        }
    }
}

impl Power {
    pub fn as_str(self) -> &'static str {
        match self {
            Power::Running => "running",
            Power::Paused => "paused",
            Power::Halted => "halted",
        }
    }
}

impl Restart {
    pub fn as_str(self) -> &'static str {
        match self {
            Restart::Protected => "protected",
            Restart::BestEffort => "best_effort",
            Restart::Unprotected => "unprotected",
        }
    }
}

impl Priority {
    pub const ALL: [Priority; 4] = [
        Priority::Critical,
        Priority::High,
        Priority::Medium,
        Priority::Low,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Critical => "critical",
            Priority::High => "high",
            Priority::Medium => "medium",
            Priority::Low => "low",
        }
    }
}

impl Pool {
    /// Index of the resource called `name`, if any host or VM names it.
    pub fn resource(&self, name: &str) -> Option<ResourceId> {
        self.resources.iter().position(|r| r == name)
    }

    pub fn host_by_name(&self, name: &str) -> Option<HostId> {
        self.hosts.iter().position(|h| h.name == name)
    }

    pub fn vm_by_name(&self, name: &str) -> Option<VmId> {
        self.vms.iter().position(|v| v.name == name)
    }

    /// The overcommit ratio of resource `r` (1.0 where the file gives none).
    pub fn ratio(&self, r: ResourceId) -> f64 {
        self.ha
            .overcommit
            .get(&self.resources[r])
            .copied()
            .unwrap_or(1.0)
    }

    /// `floor(capacity * ratio) - reserved`: what VMs may use on host `h`.
    pub fn usable(&self, h: HostId, r: ResourceId) -> i64 {
        let host = &self.hosts[h];
        scale(host.capacity[r], self.ratio(r)) - host.reserved[r]
    }

    /// Sum of the demand of running or paused VMs placed on host `h`.
    pub fn used(&self, h: HostId) -> Vec<i64> {
        let mut used = vec![0; self.resources.len()];
        for vm in self
            .vms
            .iter()
            .filter(|v| v.host == h && v.power.is_active())
        {
            for (u, d) in used.iter_mut().zip(&vm.demand) {
                *u += d;
            }
        }
        used
    }

    /// [`Pool::used`] of every host, in one pass over the VMs.
    pub fn used_all(&self) -> Vec<Vec<i64>> {
        let mut used = vec![vec![0; self.resources.len()]; self.hosts.len()];
        for vm in self.vms.iter().filter(|v| v.power.is_active()) {
            for (u, d) in used[vm.host].iter_mut().zip(&vm.demand) {
                *u += d;
            }
        }
        used
    }

    /// [`Pool::spare`] of every host, in one pass over the VMs.
    pub fn spare_all(&self) -> Vec<Vec<i64>> {
        let mut spare = self.used_all();
        for (h, s) in spare.iter_mut().enumerate() {
            for (r, x) in s.iter_mut().enumerate() {
                *x = self.usable(h, r) - *x;
            }
        }
        spare
    }

    /// Spare capacity of host `h` per resource, as pool-format.md defines it.
    /// Meaningful for up hosts; may be negative (an overload).
    pub fn spare(&self, h: HostId) -> Vec<i64> {
        let used = self.used(h);
        (0..self.resources.len())
            .map(|r| self.usable(h, r) - used[r])
            .collect()
    }

    /// Hosts in state `up`: the failure candidates.
    pub fn up_hosts(&self) -> Vec<HostId> {
        (0..self.hosts.len())
            .filter(|&h| self.hosts[h].state == HostState::Up)
            .collect()
    }

    /// Formats `amount` of resource `r` for people: `12288 memory_mib`.
    pub fn amount(&self, r: ResourceId, amount: i64) -> String {
        format!("{amount} {}", self.resources[r])
    }
}
