//! The domain model of a pool: hosts, VMs and HA settings, with integer
//! amounts and index ids. Built only by [`crate::load`], which validates; the
//! invariants below hold for every `Pool` value.
//!
//! Invariants:
//! - host and VM names are unique; `Vm::host`, `Vm::allowed_hosts` and
//!   `Vm::preferred_hosts` are valid host indices; `VmGroup::vms` are valid VM
//!   indices and group names are unique;
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

/// A pool as its file describes it, validated (see the module's invariants).
#[derive(Clone, Debug, PartialEq)]
pub struct Pool {
    /// The file's `format` (`haplan/v1`), when it gives one.
    pub format: Option<String>,
    /// The pool's name.
    pub name: String,
    /// The file's `ha` settings, defaults filled in.
    pub ha: HaSettings,
    /// Every resource named anywhere in the file, sorted by name.
    pub resources: Vec<String>,
    /// The hosts, in file order ([`HostId`] indexes them).
    pub hosts: Vec<Host>,
    /// The VMs, in file order ([`VmId`] indexes them).
    pub vms: Vec<Vm>,
    /// The file's `vm_groups`, in file order (groups that only
    /// `vms[].anti_affinity` names are not listed: [`Pool::group_rules`]).
    pub vm_groups: Vec<VmGroup>,
}

/// Whether the members of a VM group run apart or together.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Affinity {
    /// At most `max_per_host` running members on one host.
    Apart,
    /// Every running member on one host.
    Together,
}

impl Affinity {
    /// The name the pool format writes.
    pub fn as_str(self) -> &'static str {
        match self {
            Affinity::Apart => "apart",
            Affinity::Together => "together",
        }
    }
}

/// One entry of `vm_groups`, as the file gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VmGroup {
    /// The group's name, unique among groups.
    pub name: String,
    /// Whether its members run apart or together.
    pub affinity: Affinity,
    /// At most this many running members on one host (`apart`; 1 as
    /// written nowhere for `together`, where it means nothing).
    pub max_per_host: u32,
    /// A strict rule binds (it decides feasibility); a soft one only shapes
    /// plans.
    pub strict: bool,
    /// The members the file lists, in file order.
    pub vms: Vec<VmId>,
}

/// One rule between VMs as it applies: a `vm_groups` entry with the VMs
/// that name it in `anti_affinity` added to its members, or a group that
/// only `anti_affinity` names (apart, one per host, strict).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupRule {
    /// The group's name (a `vm_groups` entry's, or the `anti_affinity` value).
    pub name: String,
    /// Whether its members run apart or together.
    pub affinity: Affinity,
    /// At most this many running members on one host (`apart`).
    pub max_per_host: u32,
    /// A strict rule binds (it decides feasibility); a soft one only shapes
    /// plans.
    pub strict: bool,
    /// Members, ascending, each once.
    pub vms: Vec<VmId>,
    /// Its index in `Pool::vm_groups`; `None` when only `anti_affinity`
    /// names it.
    pub entry: Option<usize>,
}

/// The file's `ha` object.
#[derive(Clone, Debug, PartialEq)]
pub struct HaSettings {
    /// `ha.enabled`: false turns HA off (nothing is protected).
    pub enabled: bool,
    /// `ha.host_failures_to_tolerate`: the configured K.
    pub host_failures_to_tolerate: u32,
    /// `ha.mode`: whether hosts fail over.
    pub mode: HaMode,
    /// `ha.migration_path`: which hosts receive restarted VMs.
    pub migration_path: MigrationPath,
    /// Ratio per resource name, as written (ratio 1.0 where absent).
    pub overcommit: BTreeMap<String, f64>,
    /// `ha.restart_retries`: start attempts on the same host before moving on.
    pub restart_retries: u32,
    /// `ha.retry_interval_s`: seconds between those attempts.
    pub retry_interval_s: u64,
    /// `ha.failure_threshold`: failed health checks in a row before a host is
    /// declared down.
    pub failure_threshold: u32,
    /// `ha.check_interval_s`: seconds between a host's health checks.
    pub check_interval_s: u64,
    /// `ha.fence_timeout_s`: seconds a fence level has to confirm a host off.
    pub fence_timeout_s: u64,
    /// What the runtime does when a host it fenced comes back.
    pub failback: Failback,
    /// The key of `hosts[].labels` whose value names a host's failure
    /// domain: when set, k counts domains that fail together.
    pub failure_domain_label: Option<String>,
    /// Ratio per resource name that hosts receiving restarted VMs may use
    /// in a failure scenario (never in normal operation), as written.
    pub failover_overcommit: BTreeMap<String, f64>,
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
            failover_overcommit: BTreeMap::new(),
        }
    }
}

/// `ha.mode`: what fails over.
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

/// `ha.migration_path`: which up hosts receive restarted VMs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MigrationPath {
    /// Every up host.
    Any,
    /// Standby hosts are tried first, then the others.
    StandbyFirst,
    /// Only standby hosts.
    StandbyOnly,
}

/// A host's `state`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostState {
    /// In service: runs VMs and receives restarted ones.
    Up,
    /// Already failed: its protected VMs must restart elsewhere now.
    Down,
    /// Out of service on purpose: neither a failure candidate nor a restart
    /// target; its VMs stay where they are.
    Maintenance,
}

/// One entry of `hosts`.
#[derive(Clone, Debug, PartialEq)]
pub struct Host {
    /// The host's name, unique among hosts.
    pub name: String,
    /// Raw capacity per resource, as in the file (0 where not listed).
    pub capacity: Vec<i64>,
    /// Capacity per resource kept back from VMs (0 where not listed).
    pub reserved: Vec<i64>,
    /// Which resources the file lists in `capacity` (for writing it back).
    pub listed: Vec<bool>,
    /// Whether it is up, down or in maintenance.
    pub state: HostState,
    /// A standby host: with `standby_first` or `standby_only`, where restarted
    /// VMs go.
    pub standby: bool,
    /// Storage it reaches (a VM restarts only where all of its own are).
    pub storage: BTreeSet<String>,
    /// Networks it is on (a VM restarts only where all of its own are).
    pub networks: BTreeSet<String>,
    /// Its `labels` (a failure domain's label among them).
    pub labels: BTreeMap<String, String>,
    /// Its fence levels, tried in order.
    pub fencing: Vec<FenceLevel>,
    /// Ratio per resource name for this host, overriding `ha.overcommit`
    /// for the resources it names, as written.
    pub overcommit: BTreeMap<String, f64>,
}

/// One fence level of a host: an agent and its options.
#[derive(Clone, Debug, PartialEq)]
pub struct FenceLevel {
    /// The fence agent's program name (`fence_ipmilan`, ...).
    pub agent: String,
    /// Agent options; may hold credentials, so never print them.
    pub params: serde_json::Map<String, serde_json::Value>,
}

/// A VM's `power` state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Power {
    /// Runs: holds resources and is restarted.
    Running,
    /// Paused: holds resources and is restarted, like a running VM.
    Paused,
    /// Off: holds nothing and is never restarted.
    Halted,
}

impl Power {
    /// Running and paused VMs hold resources and are restarted.
    pub fn is_active(self) -> bool {
        !matches!(self, Power::Halted)
    }
}

/// A VM's `restart` class.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Restart {
    /// Must restart after any failure of at most K hosts: the guarantee
    /// covers it.
    Protected,
    /// Restarted when there is room once the protected VMs are placed;
    /// not counted in the guarantee.
    BestEffort,
    /// Never restarted by HA.
    Unprotected,
}

/// Restart priority: an integer, higher is more important. The four named
/// tiers are aliases (`low` 1000, `medium` 2000, `high` 3000, `critical`
/// 4000). Ordered most important first, so that sorting by priority puts
/// `Critical` first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Priority(pub i32);

#[allow(non_upper_case_globals)]
impl Priority {
    /// 4000, the most important alias.
    pub const Critical: Priority = Priority(4000);
    /// 3000.
    pub const High: Priority = Priority(3000);
    /// 2000.
    pub const Medium: Priority = Priority(2000);
    /// 1000, the least important alias.
    pub const Low: Priority = Priority(1000);
}

impl Ord for Priority {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        other.0.cmp(&self.0)
    }
}

impl PartialOrd for Priority {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl std::fmt::Display for Priority {
    /// The name of an alias, the number otherwise.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "{}", self.0),
        }
    }
}

/// The name of an alias as a JSON string, any other value as a number.
impl serde::Serialize for Priority {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.name() {
            Some(n) => s.serialize_str(n),
            None => s.serialize_i32(self.0),
        }
    }
}

/// One of the four names, or an integer in the range of `i32`.
impl<'de> serde::Deserialize<'de> for Priority {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Priority;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("\"critical\", \"high\", \"medium\", \"low\" or an integer")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Priority, E> {
                Priority::named(v).ok_or_else(|| E::unknown_variant(v, &PRIORITY_NAMES))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Priority, E> {
                i32::try_from(v)
                    .map(Priority)
                    .map_err(|_| E::custom(format!("priority {v} is out of range")))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Priority, E> {
                i32::try_from(v)
                    .map(Priority)
                    .map_err(|_| E::custom(format!("priority {v} is out of range")))
            }
        }
        d.deserialize_any(V)
    }
}

/// The names of the four aliases, most important first.
pub const PRIORITY_NAMES: [&str; 4] = ["critical", "high", "medium", "low"];

/// One entry of `vms`.
#[derive(Clone, Debug, PartialEq)]
pub struct Vm {
    /// The VM's name, unique among VMs.
    pub name: String,
    /// The host it is on (runs, is paused or is halted).
    pub host: HostId,
    /// Running, paused or halted.
    pub power: Power,
    /// Demand per resource (0 where not listed).
    pub demand: Vec<i64>,
    /// Which resources the file lists in `demand` (for writing it back).
    pub listed: Vec<bool>,
    /// Its restart class.
    pub restart: Restart,
    /// Its restart priority: more important VMs are placed first.
    pub priority: Priority,
    /// Its order group: restarts go by `order` ascending, 0 first.
    pub order: u32,
    /// Seconds after it runs before the next order group starts.
    pub start_delay_s: u64,
    /// Seconds from its start until it runs (`haplan timing`); `None`
    /// where the file gives none (the command's `--boot-time` applies).
    pub boot_time_s: Option<u64>,
    /// Storage its disks need: it restarts only where a host reaches all of it.
    pub storage: BTreeSet<String>,
    /// Networks its NICs need: it restarts only on a host on all of them.
    pub networks: BTreeSet<String>,
    /// Devices bound to its host (a CD drive, a passed-through PCI device):
    /// a VM with any is not agile.
    pub local_devices: Vec<String>,
    /// The only hosts it may restart on, when the file restricts them.
    pub allowed_hosts: Option<Vec<HostId>>,
    /// The anti-affinity group it belongs to: no two running members on
    /// one host.
    pub anti_affinity: Option<String>,
    /// Hosts to restart it on when a plan can, most preferred first (soft:
    /// never changes a verdict); empty when the file gives none.
    pub preferred_hosts: Vec<HostId>,
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
    /// The name the pool format writes.
    pub fn as_str(self) -> &'static str {
        match self {
            HaMode::Host => "host",
            HaMode::Vm => "vm",
        }
    }
}

impl MigrationPath {
    /// The name the pool format writes.
    pub fn as_str(self) -> &'static str {
        match self {
            MigrationPath::Any => "any",
            MigrationPath::StandbyFirst => "standby_first",
            MigrationPath::StandbyOnly => "standby_only",
        }
    }
}

impl HostState {
    /// The name the pool format writes.
    pub fn as_str(self) -> &'static str {
        match self {
            HostState::Up => "up",
            HostState::Down => "down",
            HostState::Maintenance => "maintenance",
        }
    }
}

impl Power {
    /// The name the pool format writes.
    pub fn as_str(self) -> &'static str {
        match self {
            Power::Running => "running",
            Power::Paused => "paused",
            Power::Halted => "halted",
        }
    }
}

impl Restart {
    /// The name the pool format writes.
    pub fn as_str(self) -> &'static str {
        match self {
            Restart::Protected => "protected",
            Restart::BestEffort => "best_effort",
            Restart::Unprotected => "unprotected",
        }
    }
}

impl Priority {
    /// The four named tiers, most important first.
    pub const ALL: [Priority; 4] = [
        Priority::Critical,
        Priority::High,
        Priority::Medium,
        Priority::Low,
    ];

    /// The priority a name stands for.
    pub fn named(name: &str) -> Option<Priority> {
        PRIORITY_NAMES
            .iter()
            .position(|&n| n == name)
            .map(|i| Priority::ALL[i])
    }

    /// The name of an alias (`Some("critical")` for 4000), `None` for any
    /// other value.
    pub fn name(self) -> Option<&'static str> {
        Priority::ALL
            .iter()
            .position(|&p| p == self)
            .map(|i| PRIORITY_NAMES[i])
    }

    /// The name of an alias, the number otherwise (as output prints it).
    pub fn as_str(self) -> std::borrow::Cow<'static, str> {
        match self.name() {
            Some(n) => std::borrow::Cow::Borrowed(n),
            None => std::borrow::Cow::Owned(self.0.to_string()),
        }
    }
}

impl Pool {
    /// Index of the resource called `name`, if any host or VM names it.
    pub fn resource(&self, name: &str) -> Option<ResourceId> {
        self.resources.iter().position(|r| r == name)
    }

    /// The index of the host called `name`.
    pub fn host_by_name(&self, name: &str) -> Option<HostId> {
        self.hosts.iter().position(|h| h.name == name)
    }

    /// The index of the VM called `name`.
    pub fn vm_by_name(&self, name: &str) -> Option<VmId> {
        self.vms.iter().position(|v| v.name == name)
    }

    /// The pool's overcommit ratio of resource `r` (1.0 where the file gives
    /// none).
    pub fn ratio(&self, r: ResourceId) -> f64 {
        self.ha
            .overcommit
            .get(&self.resources[r])
            .copied()
            .unwrap_or(1.0)
    }

    /// The overcommit ratio of resource `r` on host `h` in normal
    /// operation: the host's own where it gives one, else the pool's.
    pub fn host_ratio(&self, h: HostId, r: ResourceId) -> f64 {
        match self.hosts[h].overcommit.get(&self.resources[r]) {
            Some(&ratio) => ratio,
            None => self.ratio(r),
        }
    }

    /// The ratio of resource `r` on host `h` in a failure scenario: the
    /// larger of its normal ratio and `ha.failover_overcommit`.
    pub fn failover_ratio(&self, h: HostId, r: ResourceId) -> f64 {
        let normal = self.host_ratio(h, r);
        match self.ha.failover_overcommit.get(&self.resources[r]) {
            Some(&f) if f > normal => f,
            _ => normal,
        }
    }

    /// `floor(capacity * ratio) - reserved`: what VMs may use on host `h`
    /// in normal operation.
    pub fn usable(&self, h: HostId, r: ResourceId) -> i64 {
        let host = &self.hosts[h];
        scale(host.capacity[r], self.host_ratio(h, r)) - host.reserved[r]
    }

    /// What VMs may use on host `h` in a failure scenario, when it receives
    /// restarted VMs: `usable` with the failover ratio.
    pub fn failover_usable(&self, h: HostId, r: ResourceId) -> i64 {
        let host = &self.hosts[h];
        scale(host.capacity[r], self.failover_ratio(h, r)) - host.reserved[r]
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

    /// Spare capacity of host `h` per resource in a failure scenario: with
    /// `ha.failover_overcommit`, what a host receiving restarted VMs may
    /// use; without it, [`Pool::spare`].
    pub fn failover_spare(&self, h: HostId) -> Vec<i64> {
        if self.ha.failover_overcommit.is_empty() {
            return self.spare(h);
        }
        let used = self.used(h);
        (0..self.resources.len())
            .map(|r| self.failover_usable(h, r) - used[r])
            .collect()
    }

    /// The rules between VMs as they apply: every `vm_groups` entry (in
    /// file order) with the VMs that name it in `anti_affinity` added,
    /// then, by name, every group only `anti_affinity` names.
    pub fn group_rules(&self) -> Vec<GroupRule> {
        let mut rules: Vec<GroupRule> = self
            .vm_groups
            .iter()
            .enumerate()
            .map(|(i, g)| GroupRule {
                name: g.name.clone(),
                affinity: g.affinity,
                max_per_host: g.max_per_host,
                strict: g.strict,
                vms: g.vms.clone(),
                entry: Some(i),
            })
            .collect();
        let listed = rules.len();
        let mut implied: BTreeMap<&str, Vec<VmId>> = BTreeMap::new();
        for (v, vm) in self.vms.iter().enumerate() {
            let Some(g) = vm.anti_affinity.as_deref() else {
                continue;
            };
            match rules[..listed].iter_mut().find(|r| r.name == g) {
                Some(rule) => rule.vms.push(v),
                None => implied.entry(g).or_default().push(v),
            }
        }
        for rule in &mut rules {
            rule.vms.sort_unstable();
            rule.vms.dedup();
        }
        rules.extend(implied.into_iter().map(|(name, vms)| GroupRule {
            name: name.to_string(),
            affinity: Affinity::Apart,
            max_per_host: 1,
            strict: true,
            vms,
            entry: None,
        }));
        rules
    }

    /// Whether the pool has rules that never change a verdict: a group
    /// with `strict: false`, or a VM with `preferred_hosts`.
    pub fn has_soft_rules(&self) -> bool {
        self.vm_groups.iter().any(|g| !g.strict)
            || self.vms.iter().any(|v| !v.preferred_hosts.is_empty())
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
