//! The pool being built: hosts, VMs, groups and HA settings as the readers
//! find them, turned into a `haplan/v1` JSON value once, with the checks
//! every platform needs (unique names, references, rounding noted).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

use serde_json::{Map, Value, json};

use crate::units::Converted;
use crate::{ImportError, Options, Platform};

/// Something the import decided or could not carry over. `code` is stable
/// (`docs/import.md` lists them); `message` names the host, VM or rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    /// What kind of decision (`docs/import.md`), stable.
    pub code: &'static str,
    /// The sentence, naming what it is about.
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} [{}]", self.message, self.code)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HostState {
    Up,
    Down,
    Maintenance,
}

#[derive(Clone, Debug)]
pub(crate) struct Host {
    pub name: String,
    pub capacity: BTreeMap<String, u64>,
    pub reserved: BTreeMap<String, u64>,
    pub state: HostState,
    pub standby: bool,
    pub storage: BTreeSet<String>,
    pub networks: BTreeSet<String>,
    pub labels: BTreeMap<String, String>,
    pub overcommit: BTreeMap<String, f64>,
}

impl Host {
    pub fn new(name: impl Into<String>) -> Self {
        Host {
            name: name.into(),
            capacity: BTreeMap::new(),
            reserved: BTreeMap::new(),
            state: HostState::Up,
            standby: false,
            storage: BTreeSet::new(),
            networks: BTreeSet::new(),
            labels: BTreeMap::new(),
            overcommit: BTreeMap::new(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Power {
    Running,
    Paused,
    Halted,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Restart {
    Protected,
    BestEffort,
    Unprotected,
}

/// A restart priority: one of the four names, or a platform's own number
/// (higher is more important; the names are 1000, 2000, 3000, 4000).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Priority {
    Low,
    Medium,
    High,
    Critical,
    Number(i64),
}

impl Priority {
    fn to_json(self) -> Value {
        match self {
            Priority::Low | Priority::Number(1000) => json!("low"),
            Priority::Medium | Priority::Number(2000) => json!("medium"),
            Priority::High | Priority::Number(3000) => json!("high"),
            Priority::Critical | Priority::Number(4000) => json!("critical"),
            Priority::Number(n) => json!(n),
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Vm {
    pub name: String,
    pub host: String,
    pub power: Power,
    pub demand: BTreeMap<String, u64>,
    pub restart: Restart,
    pub priority: Option<Priority>,
    pub order: Option<u64>,
    pub start_delay_s: Option<u64>,
    pub storage: BTreeSet<String>,
    pub networks: BTreeSet<String>,
    pub local_devices: Vec<String>,
    pub allowed_hosts: Option<BTreeSet<String>>,
    pub preferred_hosts: Vec<String>,
    /// Set when the pool is finished: a strict group of "at most one per
    /// host" written as the format's own `anti_affinity` field.
    anti_affinity: Option<String>,
}

impl Vm {
    pub fn new(name: impl Into<String>, host: impl Into<String>) -> Self {
        Vm {
            name: name.into(),
            host: host.into(),
            power: Power::Running,
            demand: BTreeMap::new(),
            restart: Restart::Protected,
            priority: None,
            order: None,
            start_delay_s: None,
            storage: BTreeSet::new(),
            networks: BTreeSet::new(),
            local_devices: Vec::new(),
            allowed_hosts: None,
            preferred_hosts: Vec::new(),
            anti_affinity: None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Affinity {
    Apart,
    Together,
}

#[derive(Clone, Debug)]
pub(crate) struct Group {
    pub name: String,
    pub affinity: Affinity,
    pub max_per_host: Option<u64>,
    pub strict: bool,
    /// Members by the key the reader used (`Draft::vm_key`), resolved to
    /// VM names when the pool is finished.
    pub members: Vec<String>,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct Ha {
    pub enabled: Option<bool>,
    pub host_failures_to_tolerate: Option<u64>,
    pub overcommit: BTreeMap<String, f64>,
    pub failover_overcommit: BTreeMap<String, f64>,
    pub failure_domain_label: Option<String>,
    pub migration_path: Option<&'static str>,
}

/// What a reader found. VMs are keyed by the platform's own id (`key`),
/// which rules and groups use; their pool names are made unique when the
/// draft is finished.
#[derive(Debug, Default)]
pub(crate) struct Draft {
    pub name: Option<String>,
    pub ha: Ha,
    pub hosts: Vec<Host>,
    vms: Vec<(String, Vm)>,
    vm_index: HashMap<String, usize>,
    pub groups: Vec<Group>,
    pub warnings: Vec<Warning>,
    rounded_capacity: BTreeSet<String>,
    rounded_demand: BTreeSet<String>,
}

impl Draft {
    pub fn warn(&mut self, code: &'static str, message: impl Into<String>) {
        self.warnings.push(Warning {
            code,
            message: message.into(),
        });
    }

    pub fn host(&self, name: &str) -> Option<&Host> {
        self.hosts.iter().find(|h| h.name == name)
    }

    pub fn host_mut(&mut self, name: &str) -> Option<&mut Host> {
        self.hosts.iter_mut().find(|h| h.name == name)
    }

    /// Adds a VM under the platform's id `key`; false when the key is
    /// taken (the caller reports it).
    pub fn add_vm(&mut self, key: impl Into<String>, vm: Vm) -> bool {
        let key = key.into();
        if self.vm_index.contains_key(&key) {
            return false;
        }
        self.vm_index.insert(key.clone(), self.vms.len());
        self.vms.push((key, vm));
        true
    }

    pub fn vm_mut(&mut self, key: &str) -> Option<&mut Vm> {
        let i = *self.vm_index.get(key)?;
        Some(&mut self.vms[i].1)
    }

    pub fn vm(&self, key: &str) -> Option<&Vm> {
        let i = *self.vm_index.get(key)?;
        Some(&self.vms[i].1)
    }

    pub fn vms(&self) -> impl Iterator<Item = (&str, &Vm)> {
        self.vms.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Records a capacity amount (rounded down by the caller).
    pub fn capacity_amount(&mut self, what: &str, c: Converted) -> u64 {
        if c.rounded {
            self.rounded_capacity.insert(what.to_string());
        }
        c.value
    }

    /// Records a demand amount (rounded up by the caller).
    pub fn demand_amount(&mut self, what: &str, c: Converted) -> u64 {
        if c.rounded {
            self.rounded_demand.insert(what.to_string());
        }
        c.value
    }

    /// The pool, with the checks every platform needs.
    pub fn finish(
        mut self,
        platform: Platform,
        options: &Options,
    ) -> Result<crate::Imported, ImportError> {
        if self.hosts.is_empty() {
            return Err(ImportError::Incomplete(format!(
                "no hosts found in the {platform} files (docs/import.md lists what to export)"
            )));
        }
        let mut seen = BTreeSet::new();
        for h in &self.hosts {
            if !seen.insert(h.name.as_str()) {
                return Err(ImportError::Incomplete(format!(
                    "host \"{}\" appears twice",
                    h.name
                )));
            }
        }
        let host_names: BTreeSet<String> = self.hosts.iter().map(|h| h.name.clone()).collect();
        for (key, vm) in &self.vms {
            if !host_names.contains(&vm.host) {
                return Err(ImportError::Incomplete(format!(
                    "VM {key} runs on host \"{}\", which no file describes",
                    vm.host
                )));
            }
        }

        // Unique VM names: a name several VMs share becomes name@host (or
        // name@key when they share the host too).
        let mut count: HashMap<&str, usize> = HashMap::new();
        for (_, vm) in &self.vms {
            *count.entry(vm.name.as_str()).or_default() += 1;
        }
        let clashes: BTreeSet<String> = count
            .into_iter()
            .filter(|(_, n)| *n > 1)
            .map(|(name, _)| name.to_string())
            .collect();
        let mut renamed = Vec::new();
        if !clashes.is_empty() {
            let mut on_host: HashMap<(String, String), usize> = HashMap::new();
            for (_, vm) in &self.vms {
                if clashes.contains(&vm.name) {
                    *on_host
                        .entry((vm.name.clone(), vm.host.clone()))
                        .or_default() += 1;
                }
            }
            for (key, vm) in &mut self.vms {
                if clashes.contains(&vm.name) {
                    let new = if on_host[&(vm.name.clone(), vm.host.clone())] > 1 {
                        format!("{}@{key}", vm.name)
                    } else {
                        format!("{}@{}", vm.name, vm.host)
                    };
                    renamed.push(format!("{} -> {new}", vm.name));
                    vm.name = new;
                }
            }
        }
        if !renamed.is_empty() {
            self.warn(
                "vm-renamed",
                format!(
                    "VM names shared by several VMs were made unique: {}",
                    renamed.join(", ")
                ),
            );
        }
        let mut final_names = BTreeSet::new();
        for (key, vm) in &self.vms {
            if !final_names.insert(vm.name.clone()) {
                return Err(ImportError::Incomplete(format!(
                    "VM {key}: the name \"{}\" is still taken after renaming clashes",
                    vm.name
                )));
            }
        }

        // Host references of VMs.
        let mut dangling = Vec::new();
        for (_, vm) in &mut self.vms {
            if let Some(allowed) = &mut vm.allowed_hosts {
                let before = allowed.len();
                allowed.retain(|h| host_names.contains(h));
                if allowed.len() != before {
                    dangling.push(vm.name.clone());
                }
            }
            vm.preferred_hosts.retain(|h| host_names.contains(h));
        }
        if !dangling.is_empty() {
            self.warn(
                "unknown-host-in-rule",
                format!(
                    "rules of these VMs name hosts that no file describes; those hosts were left out of their allowed hosts: {}",
                    dangling.join(", ")
                ),
            );
        }

        // Groups: members resolved to names, unknown members dropped.
        let key_to_name: HashMap<&str, &str> = self
            .vms
            .iter()
            .map(|(k, v)| (k.as_str(), v.name.as_str()))
            .collect();
        let mut anti_free: BTreeSet<&str> = key_to_name.values().copied().collect();
        let mut anti_of: HashMap<String, String> = HashMap::new();
        let mut groups_json = Vec::new();
        let mut group_names = BTreeSet::new();
        let mut group_warnings = Vec::new();
        for g in &self.groups {
            let mut members: Vec<&str> = Vec::new();
            let mut missing = Vec::new();
            for m in &g.members {
                match key_to_name.get(m.as_str()) {
                    Some(n) if !members.contains(n) => members.push(n),
                    Some(_) => {}
                    None => missing.push(m.clone()),
                }
            }
            if !missing.is_empty() {
                group_warnings.push(Warning {
                    code: "unknown-vm-in-rule",
                    message: format!(
                        "rule {} names VMs that no file describes, left out: {}",
                        g.name,
                        missing.join(", ")
                    ),
                });
            }
            if members.len() < 2 {
                group_warnings.push(Warning {
                    code: "rule-dropped",
                    message: format!(
                        "rule {} has fewer than two VMs in the pool and constrains nothing; left out",
                        g.name
                    ),
                });
                continue;
            }
            let mut name = g.name.clone();
            let mut n = 2;
            while !group_names.insert(name.clone()) {
                name = format!("{}#{n}", g.name);
                n += 1;
            }
            // Strict, apart, one per host: what `anti_affinity` has always
            // meant, so written that way when no member has one already
            // (a pool that needs nothing else loads in every haplan).
            let simple =
                g.affinity == Affinity::Apart && g.strict && g.max_per_host.unwrap_or(1) == 1;
            if simple && members.iter().all(|m| anti_free.contains(*m)) {
                for m in &members {
                    anti_free.remove(*m);
                    anti_of.insert(m.to_string(), name.clone());
                }
                continue;
            }
            let mut obj = Map::new();
            obj.insert("name".into(), json!(name));
            obj.insert(
                "affinity".into(),
                json!(match g.affinity {
                    Affinity::Apart => "apart",
                    Affinity::Together => "together",
                }),
            );
            if let (Affinity::Apart, Some(m)) = (g.affinity, g.max_per_host) {
                obj.insert("max_per_host".into(), json!(m));
            }
            obj.insert("strict".into(), json!(g.strict));
            obj.insert("vms".into(), json!(members));
            groups_json.push(Value::Object(obj));
        }
        self.warnings.extend(group_warnings);
        for (_, vm) in &mut self.vms {
            vm.anti_affinity = anti_of.remove(&vm.name);
        }

        if !self.rounded_capacity.is_empty() {
            let what: Vec<&str> = self.rounded_capacity.iter().map(String::as_str).collect();
            self.warn(
                "rounded",
                format!(
                    "amounts that were not whole units were rounded, capacities down and demands up (capacity of {})",
                    what.join(", ")
                ),
            );
        }
        if !self.rounded_demand.is_empty() {
            let what: Vec<&str> = self.rounded_demand.iter().map(String::as_str).collect();
            self.warn(
                "rounded",
                format!(
                    "amounts that were not whole units were rounded, capacities down and demands up (demand of {})",
                    what.join(", ")
                ),
            );
        }

        let name = options
            .name
            .clone()
            .or(self.name.clone())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| platform.name().to_string());
        let mut pool = Map::new();
        pool.insert("format".into(), json!("haplan/v1"));
        pool.insert("name".into(), json!(name));
        let ha = ha_json(&self.ha);
        if !ha.is_empty() {
            pool.insert("ha".into(), Value::Object(ha));
        }
        pool.insert(
            "hosts".into(),
            Value::Array(self.hosts.iter().map(host_json).collect()),
        );
        pool.insert(
            "vms".into(),
            Value::Array(self.vms.iter().map(|(_, v)| vm_json(v)).collect()),
        );
        if !groups_json.is_empty() {
            pool.insert("vm_groups".into(), Value::Array(groups_json));
        }
        Ok(crate::Imported {
            pool: Value::Object(pool),
            warnings: self.warnings,
        })
    }
}

fn ratios(m: &BTreeMap<String, f64>) -> Value {
    Value::Object(m.iter().map(|(k, v)| (k.clone(), json!(v))).collect())
}

fn ha_json(ha: &Ha) -> Map<String, Value> {
    let mut m = Map::new();
    if let Some(e) = ha.enabled {
        m.insert("enabled".into(), json!(e));
    }
    if let Some(k) = ha.host_failures_to_tolerate {
        m.insert("host_failures_to_tolerate".into(), json!(k));
    }
    if let Some(p) = ha.migration_path {
        m.insert("migration_path".into(), json!(p));
    }
    if !ha.overcommit.is_empty() {
        m.insert("overcommit".into(), ratios(&ha.overcommit));
    }
    if !ha.failover_overcommit.is_empty() {
        m.insert(
            "failover_overcommit".into(),
            ratios(&ha.failover_overcommit),
        );
    }
    if let Some(l) = &ha.failure_domain_label {
        m.insert("failure_domain_label".into(), json!(l));
    }
    m
}

fn amounts(m: &BTreeMap<String, u64>) -> Value {
    Value::Object(m.iter().map(|(k, v)| (k.clone(), json!(v))).collect())
}

fn host_json(h: &Host) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), json!(h.name));
    m.insert("capacity".into(), amounts(&h.capacity));
    if !h.reserved.is_empty() {
        m.insert("reserved".into(), amounts(&h.reserved));
    }
    match h.state {
        HostState::Up => {}
        HostState::Down => {
            m.insert("state".into(), json!("down"));
        }
        HostState::Maintenance => {
            m.insert("state".into(), json!("maintenance"));
        }
    }
    if h.standby {
        m.insert("standby".into(), json!(true));
    }
    if !h.storage.is_empty() {
        m.insert("storage".into(), json!(h.storage));
    }
    if !h.networks.is_empty() {
        m.insert("networks".into(), json!(h.networks));
    }
    if !h.labels.is_empty() {
        m.insert("labels".into(), json!(h.labels));
    }
    if !h.overcommit.is_empty() {
        m.insert("overcommit".into(), ratios(&h.overcommit));
    }
    Value::Object(m)
}

fn vm_json(v: &Vm) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), json!(v.name));
    m.insert("host".into(), json!(v.host));
    match v.power {
        Power::Running => {}
        Power::Paused => {
            m.insert("power".into(), json!("paused"));
        }
        Power::Halted => {
            m.insert("power".into(), json!("halted"));
        }
    }
    m.insert("demand".into(), amounts(&v.demand));
    m.insert(
        "restart".into(),
        json!(match v.restart {
            Restart::Protected => "protected",
            Restart::BestEffort => "best_effort",
            Restart::Unprotected => "unprotected",
        }),
    );
    if let Some(p) = v.priority {
        m.insert("priority".into(), p.to_json());
    }
    if let Some(o) = v.order {
        m.insert("order".into(), json!(o));
    }
    if let Some(d) = v.start_delay_s {
        m.insert("start_delay_s".into(), json!(d));
    }
    if !v.storage.is_empty() {
        m.insert("storage".into(), json!(v.storage));
    }
    if !v.networks.is_empty() {
        m.insert("networks".into(), json!(v.networks));
    }
    if !v.local_devices.is_empty() {
        m.insert("local_devices".into(), json!(v.local_devices));
    }
    if let Some(a) = &v.allowed_hosts {
        m.insert("allowed_hosts".into(), json!(a));
    }
    if let Some(g) = &v.anti_affinity {
        m.insert("anti_affinity".into(), json!(g));
    }
    if !v.preferred_hosts.is_empty() {
        m.insert("preferred_hosts".into(), json!(v.preferred_hosts));
    }
    Value::Object(m)
}
