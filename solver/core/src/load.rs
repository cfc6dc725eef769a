//! Reading a pool file (`haplan/v1`, see `docs/pool-format.md`).
//!
//! The file is parsed to a JSON value first (syntax errors carry line and
//! column), then walked once, collecting every problem with its JSON path. A
//! pool is returned only when there is no problem at all: nothing is
//! half-read.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::{Map, Value};

use crate::error::{MAX_PROBLEMS, PoolError, Problem};
use crate::model::*;
use crate::strict::{join, name_problem, quoted};

/// Parses and validates a pool file.
/// Duplicate keys are an error (with both positions), as in every JSON
/// input haplan reads ([`crate::strict`]).
pub fn parse_pool(text: &str) -> Result<Pool, PoolError> {
    let value = crate::strict::parse_json(text, "").map_err(PoolError::new)?;
    read_pool_value(&value)
}

/// Validates a pool as given by a person or a program (a file, a caller's
/// data): [`pool_from_value`], and no running or paused VM may demand a
/// resource that no host offers ([`unoffered`]). Pools that the library
/// derives (what-if results, the runtime's state, where the last host with
/// a resource may leave) are only held to [`pool_from_value`].
pub fn read_pool_value(value: &Value) -> Result<Pool, PoolError> {
    let pool = pool_from_value(value)?;
    let problems = unoffered(&pool);
    if problems.is_empty() {
        Ok(pool)
    } else {
        Err(PoolError::new(problems))
    }
}

/// Validates an already parsed JSON value as a pool.
pub fn pool_from_value(value: &Value) -> Result<Pool, PoolError> {
    let mut cx = Cx::default();
    let pool = read_pool(&mut cx, value);
    match pool {
        Some(pool) if cx.is_empty() => Ok(pool),
        _ => {
            let (problems, omitted) = cx.finish();
            Err(PoolError::with_omitted(problems, omitted))
        }
    }
}

/// Collects problems while walking a JSON value. Shared with `whatif`, whose
/// changes embed pieces of a pool, so that both report the same messages.
/// Past [`MAX_PROBLEMS`] problems are only counted, so that a huge invalid
/// file costs no more memory for its problems than a small one.
#[derive(Default)]
pub(crate) struct Cx {
    pub(crate) problems: Vec<Problem>,
    /// Problems found past [`MAX_PROBLEMS`], not kept.
    pub(crate) omitted: usize,
}

impl Cx {
    pub(crate) fn err(&mut self, path: &str, message: impl Into<String>) {
        if self.problems.len() >= MAX_PROBLEMS {
            self.omitted += 1;
            return;
        }
        self.problems.push(Problem {
            path: path.to_string(),
            message: message.into(),
            line: None,
            column: None,
        });
    }

    /// How many problems were found, kept or not.
    pub(crate) fn count(&self) -> usize {
        self.problems.len() + self.omitted
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.count() == 0
    }

    /// The problems kept, and how many more were found.
    pub(crate) fn finish(self) -> (Vec<Problem>, usize) {
        (self.problems, self.omitted)
    }

    /// A problem when `s`, a name, holds a character no name may hold.
    fn printable(&mut self, path: &str, s: &str) -> bool {
        match name_problem(s) {
            Some(message) => {
                self.err(path, message);
                false
            }
            None => true,
        }
    }

    /// The object at `path`, with an error for every key not in `known`.
    pub(crate) fn object<'a>(
        &mut self,
        path: &str,
        v: &'a Value,
        known: &[&str],
    ) -> Option<&'a Map<String, Value>> {
        let Some(map) = v.as_object() else {
            self.err(path, format!("expected an object, found {}", kind(v)));
            return None;
        };
        for key in map.keys() {
            if !known.contains(&key.as_str()) {
                self.err(
                    &join(path, key),
                    format!(
                        "unknown field {}; expected one of: {}",
                        quoted(key),
                        known.join(", ")
                    ),
                );
            }
        }
        Some(map)
    }

    pub(crate) fn string(&mut self, path: &str, v: &Value) -> Option<String> {
        match v.as_str() {
            Some(s) => Some(s.to_string()),
            None => {
                self.err(path, format!("expected a string, found {}", kind(v)));
                None
            }
        }
    }

    /// A name: a non-empty string of printable characters.
    pub(crate) fn name(&mut self, path: &str, v: &Value) -> Option<String> {
        let s = self.string(path, v)?;
        if s.is_empty() {
            self.err(path, "must not be empty");
            return None;
        }
        self.printable(path, &s).then_some(s)
    }

    fn boolean(&mut self, path: &str, v: &Value) -> Option<bool> {
        match v.as_bool() {
            Some(b) => Some(b),
            None => {
                self.err(path, format!("expected true or false, found {}", kind(v)));
                None
            }
        }
    }

    /// A non-negative integer no larger than `max`.
    pub(crate) fn integer(&mut self, path: &str, v: &Value, max: i64) -> Option<i64> {
        let Some(n) = v.as_number() else {
            self.err(
                path,
                format!("expected a non-negative integer, found {}", kind(v)),
            );
            return None;
        };
        let value = if let Some(u) = n.as_u64() {
            Some(u as i128)
        } else if let Some(i) = n.as_i64() {
            Some(i as i128)
        } else {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 1e30)
                .map(|f| f as i128)
        };
        match value {
            None => {
                self.err(path, format!("must be an integer, found {n}"));
                None
            }
            Some(x) if x < 0 => {
                self.err(path, format!("must not be negative, found {n}"));
                None
            }
            Some(x) if x > max as i128 => {
                self.err(path, format!("must be at most {max}, found {n}"));
                None
            }
            Some(x) => Some(x as i64),
        }
    }

    pub(crate) fn enumeration<T: Copy>(
        &mut self,
        path: &str,
        v: &Value,
        options: &[(&str, T)],
    ) -> Option<T> {
        let s = self.string(path, v)?;
        match options.iter().find(|(name, _)| *name == s) {
            Some((_, t)) => Some(*t),
            None => {
                let names: Vec<String> = options.iter().map(|(n, _)| format!("\"{n}\"")).collect();
                self.err(
                    path,
                    format!(
                        "unknown value {}; expected one of: {}",
                        quoted(&s),
                        names.join(", ")
                    ),
                );
                None
            }
        }
    }

    fn string_list(&mut self, path: &str, v: &Value) -> Option<Vec<String>> {
        let Some(items) = v.as_array() else {
            self.err(
                path,
                format!("expected a list of strings, found {}", kind(v)),
            );
            return None;
        };
        let mut out = Vec::with_capacity(items.len());
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            match self.name(&format!("{path}[{i}]"), item) {
                Some(s) => out.push(s),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn string_map(&mut self, path: &str, v: &Value) -> Option<BTreeMap<String, String>> {
        let Some(map) = v.as_object() else {
            self.err(
                path,
                format!("expected an object of strings, found {}", kind(v)),
            );
            return None;
        };
        let mut out = BTreeMap::new();
        let mut ok = true;
        for (k, item) in map {
            let p = join(path, k);
            match self.string(&p, item) {
                Some(s) if self.printable(&p, k) && self.printable(&p, &s) => {
                    out.insert(k.clone(), s);
                }
                _ => ok = false,
            }
        }
        ok.then_some(out)
    }

    /// A map resource name → amount.
    pub(crate) fn amounts(&mut self, path: &str, v: &Value) -> Option<BTreeMap<String, i64>> {
        let Some(map) = v.as_object() else {
            self.err(
                path,
                format!("expected an object of resource amounts, found {}", kind(v)),
            );
            return None;
        };
        let mut out = BTreeMap::new();
        let mut ok = true;
        for (k, item) in map {
            if k.is_empty() {
                self.err(path, "a resource name must not be empty");
                ok = false;
                continue;
            }
            if !self.printable(&join(path, k), k) {
                ok = false;
                continue;
            }
            match self.integer(&join(path, k), item, MAX_AMOUNT) {
                Some(n) => {
                    out.insert(k.clone(), n);
                }
                None => ok = false,
            }
        }
        ok.then_some(out)
    }
}

pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

const POOL_FIELDS: &[&str] = &["format", "name", "ha", "hosts", "vms", "vm_groups"];
const HA_FIELDS: &[&str] = &[
    "enabled",
    "host_failures_to_tolerate",
    "mode",
    "migration_path",
    "overcommit",
    "restart_retries",
    "retry_interval_s",
    "failure_threshold",
    "check_interval_s",
    "fence_timeout_s",
    "failback",
    "failure_domain_label",
    "failover_overcommit",
];
const HOST_FIELDS: &[&str] = &[
    "name",
    "capacity",
    "reserved",
    "state",
    "standby",
    "storage",
    "networks",
    "labels",
    "fencing",
    "overcommit",
];
const GROUP_FIELDS: &[&str] = &["name", "affinity", "max_per_host", "strict", "vms"];
const FENCE_FIELDS: &[&str] = &["agent", "params"];
const VM_FIELDS: &[&str] = &[
    "name",
    "host",
    "power",
    "demand",
    "restart",
    "priority",
    "order",
    "start_delay_s",
    "boot_time_s",
    "storage",
    "networks",
    "local_devices",
    "allowed_hosts",
    "anti_affinity",
    "preferred_hosts",
];

pub(crate) const HOST_STATES: &[(&str, HostState)] = &[
    ("up", HostState::Up),
    ("down", HostState::Down),
    ("maintenance", HostState::Maintenance),
];
pub(crate) const RESTARTS: &[(&str, Restart)] = &[
    ("protected", Restart::Protected),
    ("best_effort", Restart::BestEffort),
    ("unprotected", Restart::Unprotected),
];

/// A priority: one of the four names or an integer in the range of `i32`.
pub(crate) fn read_priority(cx: &mut Cx, path: &str, v: &Value) -> Option<Priority> {
    match v {
        Value::String(s) => match Priority::named(s) {
            Some(p) => Some(p),
            None => {
                cx.err(
                    path,
                    format!(
                        "unknown value \"{s}\"; expected one of: \"critical\", \"high\", \"medium\", \"low\", or an integer"
                    ),
                );
                None
            }
        },
        Value::Number(n) => {
            let value = n.as_i64().or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && f.abs() < 1e30)
                    .map(|f| f as i64)
            });
            match value {
                None => {
                    cx.err(path, format!("must be an integer, found {n}"));
                    None
                }
                Some(x) => match i32::try_from(x) {
                    Ok(x) => Some(Priority(x)),
                    Err(_) => {
                        cx.err(
                            path,
                            format!("must be from {} to {}, found {n}", i32::MIN, i32::MAX),
                        );
                        None
                    }
                },
            }
        }
        other => {
            cx.err(
                path,
                format!(
                    "expected a priority name or an integer, found {}",
                    kind(other)
                ),
            );
            None
        }
    }
}

/// An object of overcommit ratios (`ha.overcommit` and its kin): each a
/// number from 10^-6 to 10^6.
fn read_ratios(cx: &mut Cx, path: &str, x: &Value) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    match x.as_object() {
        None => cx.err(
            path,
            format!("expected an object of ratios, found {}", kind(x)),
        ),
        Some(ratios) => {
            for (r, ratio) in ratios {
                let rpath = join(path, r);
                if r.is_empty() {
                    cx.err(path, "a resource name must not be empty");
                    continue;
                }
                if !cx.printable(&rpath, r) {
                    continue;
                }
                match ratio.as_f64() {
                    Some(f) if f.is_finite() && (1e-6..=1e6).contains(&f) => {
                        out.insert(r.clone(), f);
                    }
                    Some(f) => cx.err(
                        &rpath,
                        format!("must be a ratio between 0.000001 and 1000000, found {f}"),
                    ),
                    None => cx.err(&rpath, format!("expected a number, found {}", kind(ratio))),
                }
            }
        }
    }
    out
}

/// Settings given in seconds or counts: generous but finite.
pub(crate) const MAX_SETTING: i64 = u32::MAX as i64;

struct RawHost {
    name: Option<String>,
    capacity: Option<BTreeMap<String, i64>>,
    reserved: BTreeMap<String, i64>,
    state: HostState,
    standby: bool,
    storage: BTreeSet<String>,
    networks: BTreeSet<String>,
    labels: BTreeMap<String, String>,
    fencing: Vec<FenceLevel>,
    overcommit: BTreeMap<String, f64>,
}

struct RawGroup {
    name: Option<String>,
    affinity: Option<Affinity>,
    max_per_host: Option<u32>,
    strict: bool,
    vms: Option<Vec<String>>,
}

struct RawVm {
    name: Option<String>,
    host: Option<String>,
    power: Power,
    demand: Option<BTreeMap<String, i64>>,
    restart: Restart,
    priority: Priority,
    order: u32,
    start_delay_s: u64,
    boot_time_s: Option<u64>,
    storage: BTreeSet<String>,
    networks: BTreeSet<String>,
    local_devices: Vec<String>,
    allowed_hosts: Option<Vec<String>>,
    anti_affinity: Option<String>,
    preferred_hosts: Vec<String>,
}

fn read_pool(cx: &mut Cx, v: &Value) -> Option<Pool> {
    let map = cx.object("", v, POOL_FIELDS)?;
    let format = match map.get("format") {
        None => None,
        Some(f) => {
            let s = cx.string("format", f);
            if let Some(s) = &s {
                if s != "haplan/v1" {
                    cx.err(
                        "format",
                        format!(
                            "unsupported format {}; this version reads \"haplan/v1\"",
                            quoted(s)
                        ),
                    );
                }
            }
            s
        }
    };
    let name = match map.get("name") {
        Some(n) => cx.string("name", n).filter(|s| cx.printable("name", s)),
        None => {
            cx.err("name", "missing required field \"name\"");
            None
        }
    };
    let ha = match map.get("ha") {
        Some(h) => read_ha(cx, h),
        None => Some(HaSettings::default()),
    };
    let hosts = read_list(cx, map, "hosts", read_host);
    let vms = read_list(cx, map, "vms", read_vm);
    let groups = match map.get("vm_groups") {
        None => Some(Vec::new()),
        Some(_) => read_list(cx, map, "vm_groups", read_group),
    };
    let groups_complete = groups.as_ref().is_some_and(|g| {
        g.iter().all(|g| g.name.is_some()) && g.len() == list_len(map, "vm_groups")
    });
    let vms_complete = vms
        .as_ref()
        .is_some_and(|v| v.iter().all(|v| v.name.is_some()) && v.len() == list_len(map, "vms"));

    let hosts_complete = hosts
        .as_ref()
        .is_some_and(|h| h.iter().all(|h| h.name.is_some()) && h.len() == list_len(map, "hosts"));
    let hosts = hosts.unwrap_or_default();
    let vms = vms.unwrap_or_default();

    // Names, references and the resource universe.
    let mut host_index: HashMap<String, HostId> = HashMap::new();
    for (i, h) in hosts.iter().enumerate() {
        if let Some(n) = &h.name {
            if let Some(first) = host_index.get(n) {
                cx.err(
                    &format!("hosts[{i}].name"),
                    format!("duplicate host name \"{n}\" (also hosts[{first}])"),
                );
            } else {
                host_index.insert(n.clone(), i);
            }
        }
    }
    let mut vm_index: HashMap<&str, usize> = HashMap::new();
    for (i, vm) in vms.iter().enumerate() {
        if let Some(n) = &vm.name {
            if let Some(first) = vm_index.get(n.as_str()) {
                cx.err(
                    &format!("vms[{i}].name"),
                    format!("duplicate VM name \"{n}\" (also vms[{first}])"),
                );
            } else {
                vm_index.insert(n, i);
            }
        }
        if let Some(h) = &vm.host {
            if hosts_complete && !host_index.contains_key(h) {
                cx.err(&format!("vms[{i}].host"), format!("unknown host \"{h}\""));
            }
        }
        if let Some(allowed) = &vm.allowed_hosts {
            for (j, h) in allowed.iter().enumerate() {
                if hosts_complete && !host_index.contains_key(h) {
                    cx.err(
                        &format!("vms[{i}].allowed_hosts[{j}]"),
                        format!("unknown host \"{h}\""),
                    );
                }
            }
        }
        for (j, h) in vm.preferred_hosts.iter().enumerate() {
            if hosts_complete && !host_index.contains_key(h) {
                cx.err(
                    &format!("vms[{i}].preferred_hosts[{j}]"),
                    format!("unknown host \"{h}\""),
                );
            }
        }
    }
    let groups = groups.unwrap_or_default();
    let mut group_index: HashMap<&str, usize> = HashMap::new();
    for (i, g) in groups.iter().enumerate() {
        let Some(n) = &g.name else { continue };
        if let Some(first) = group_index.get(n.as_str()) {
            cx.err(
                &format!("vm_groups[{i}].name"),
                format!("duplicate group name \"{n}\" (also vm_groups[{first}])"),
            );
        } else {
            group_index.insert(n, i);
        }
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for (j, member) in g.vms.iter().flatten().enumerate() {
            if vms_complete && !vm_index.contains_key(member.as_str()) {
                cx.err(
                    &format!("vm_groups[{i}].vms[{j}]"),
                    format!("unknown VM \"{member}\""),
                );
            }
            if let Some(first) = seen.insert(member, j) {
                cx.err(
                    &format!("vm_groups[{i}].vms[{j}]"),
                    format!("VM \"{member}\" is listed twice (also vms[{first}])"),
                );
            }
        }
    }
    if groups_complete {
        for (i, vm) in vms.iter().enumerate() {
            let Some(g) = &vm.anti_affinity else { continue };
            if let Some(&gi) = group_index.get(g.as_str()) {
                if groups[gi].affinity == Some(Affinity::Together) {
                    cx.err(
                        &format!("vms[{i}].anti_affinity"),
                        format!(
                            "group \"{g}\" is a together group (vm_groups[{gi}]): anti_affinity names only apart groups"
                        ),
                    );
                }
            }
        }
    }

    let mut resources: BTreeSet<String> = BTreeSet::new();
    for h in &hosts {
        resources.extend(h.capacity.iter().flat_map(|c| c.keys().cloned()));
        resources.extend(h.reserved.keys().cloned());
        resources.extend(h.overcommit.keys().cloned());
    }
    for vm in &vms {
        resources.extend(vm.demand.iter().flat_map(|d| d.keys().cloned()));
    }
    let ha = ha?;
    let name = name?;
    resources.extend(ha.overcommit.keys().cloned());
    resources.extend(ha.failover_overcommit.keys().cloned());
    let resources: Vec<String> = resources.into_iter().collect();

    if !cx.is_empty() {
        return None;
    }

    let vm_groups: Vec<VmGroup> = groups
        .into_iter()
        .map(|g| {
            let affinity = g.affinity.expect("validated");
            VmGroup {
                name: g.name.expect("validated"),
                affinity,
                max_per_host: g.max_per_host.unwrap_or(1),
                strict: g.strict,
                vms: g
                    .vms
                    .expect("validated")
                    .iter()
                    .map(|n| vm_index[n.as_str()])
                    .collect(),
            }
        })
        .collect();
    let vector = |m: &BTreeMap<String, i64>| -> Vec<i64> {
        resources
            .iter()
            .map(|r| m.get(r).copied().unwrap_or(0))
            .collect()
    };
    let listed = |m: &BTreeMap<String, i64>| -> Vec<bool> {
        resources.iter().map(|r| m.contains_key(r)).collect()
    };
    let hosts: Vec<Host> = hosts
        .into_iter()
        .map(|h| {
            let capacity = h.capacity.expect("validated");
            Host {
                name: h.name.expect("validated"),
                capacity: vector(&capacity),
                listed: listed(&capacity),
                reserved: vector(&h.reserved),
                state: h.state,
                standby: h.standby,
                storage: h.storage,
                networks: h.networks,
                labels: h.labels,
                fencing: h.fencing,
                overcommit: h.overcommit,
            }
        })
        .collect();
    let vms: Vec<Vm> = vms
        .into_iter()
        .map(|v| {
            let demand = v.demand.expect("validated");
            Vm {
                name: v.name.expect("validated"),
                host: host_index[v.host.as_ref().expect("validated")],
                power: v.power,
                demand: vector(&demand),
                listed: listed(&demand),
                restart: v.restart,
                priority: v.priority,
                order: v.order,
                start_delay_s: v.start_delay_s,
                boot_time_s: v.boot_time_s,
                storage: v.storage,
                networks: v.networks,
                local_devices: v.local_devices,
                allowed_hosts: v
                    .allowed_hosts
                    .map(|a| a.iter().map(|h| host_index[h]).collect()),
                anti_affinity: v.anti_affinity,
                preferred_hosts: v.preferred_hosts.iter().map(|h| host_index[h]).collect(),
            }
        })
        .collect();
    let pool = Pool {
        format,
        name,
        ha,
        resources,
        hosts,
        vms,
        vm_groups,
    };
    // Totals per resource stay within MAX_TOTAL, so that every sum the
    // solver forms over hosts or VMs fits in an i64 with room to spare.
    for (r, name) in pool.resources.iter().enumerate() {
        let usable: i128 = (0..pool.hosts.len())
            .map(|h| scale(pool.hosts[h].capacity[r], pool.failover_ratio(h, r)).max(0) as i128)
            .sum();
        if usable > MAX_TOTAL as i128 {
            cx.err(
                "hosts",
                format!("the hosts' total {name} (after overcommit) exceeds {MAX_TOTAL}, the most this version handles"),
            );
        }
        let demand: i128 = pool.vms.iter().map(|v| v.demand[r] as i128).sum();
        if demand > MAX_TOTAL as i128 {
            cx.err(
                "vms",
                format!("the VMs' total {name} demand exceeds {MAX_TOTAL}, the most this version handles"),
            );
        }
    }
    cx.is_empty().then_some(pool)
}

/// A resource that a running or paused VM demands (an amount above 0) but
/// that no host offers (lists in `capacity`): most likely a typo
/// (`memory_mb`), which would otherwise make a new resource that nothing
/// can hold, and a pool that looks overcommitted while agility says the VM
/// can restart elsewhere. One problem per resource, at its first use, with
/// the closest resource a host offers when one is close. A demand of 0
/// asks for nothing and is accepted, as is the demand of a halted VM (it
/// holds nothing and is in no scenario) and a resource named only in
/// `ha.overcommit` or `reserved` (settings shared by pools of different
/// hardware).
pub fn unoffered(pool: &Pool) -> Vec<Problem> {
    let offered: Vec<bool> = (0..pool.resources.len())
        .map(|r| pool.hosts.iter().any(|h| h.listed[r]))
        .collect();
    let names = || {
        pool.resources
            .iter()
            .zip(&offered)
            .filter(|&(_, &o)| o)
            .map(|(n, _)| n.as_str())
    };
    let held = |v: &&Vm| v.power != Power::Halted;
    let mut problems = Vec::new();
    for r in (0..pool.resources.len()).filter(|&r| !offered[r]) {
        let mut users = pool
            .vms
            .iter()
            .enumerate()
            .filter(|(_, v)| held(v) && v.demand[r] > 0);
        let Some((first, _)) = users.next() else {
            continue;
        };
        let name = &pool.resources[r];
        let hint = match did_you_mean(name, names()) {
            Some(m) => format!("; did you mean {}?", quoted(m)),
            None if names().next().is_none() => "; no host lists any capacity".to_string(),
            None => format!(
                "; the hosts offer: {}",
                names().collect::<Vec<_>>().join(", ")
            ),
        };
        let others = match users.count() {
            0 => String::new(),
            n => format!(" ({} VMs demand it)", n + 1),
        };
        problems.push(Problem {
            path: join(&format!("vms[{first}].demand"), name),
            message: format!(
                "no host offers {}{others}: a resource must be in some host's capacity{hint}",
                quoted(name)
            ),
            line: None,
            column: None,
        });
    }
    problems
}

/// The name among `known` closest to `name`, when it is close enough to be
/// a likely typo (as command-line parsers suggest flags).
pub(crate) fn did_you_mean<'a>(
    name: &str,
    known: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    known
        .into_iter()
        .map(|k| (strsim::jaro_winkler(name, k), k))
        .filter(|&(score, _)| score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| k)
}

fn list_len(map: &Map<String, Value>, key: &str) -> usize {
    map.get(key).and_then(Value::as_array).map_or(0, Vec::len)
}

fn read_list<T>(
    cx: &mut Cx,
    map: &Map<String, Value>,
    key: &str,
    read: fn(&mut Cx, &str, &Value) -> Option<T>,
) -> Option<Vec<T>> {
    let Some(v) = map.get(key) else {
        cx.err(key, format!("missing required field \"{key}\""));
        return None;
    };
    let Some(items) = v.as_array() else {
        cx.err(key, format!("expected a list, found {}", kind(v)));
        return None;
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        if let Some(t) = read(cx, &format!("{key}[{i}]"), item) {
            out.push(t);
        }
    }
    Some(out)
}

/// Reads an optional field; `None` when it is absent, `Some(None)` when invalid.
fn field<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    map.get(key)
}

fn read_ha(cx: &mut Cx, v: &Value) -> Option<HaSettings> {
    let map = cx.object("ha", v, HA_FIELDS)?;
    let n = cx.count();
    let mut ha = HaSettings::default();
    if let Some(x) = field(map, "enabled") {
        ha.enabled = cx.boolean("ha.enabled", x).unwrap_or(true);
    }
    if let Some(x) = field(map, "host_failures_to_tolerate") {
        ha.host_failures_to_tolerate = cx
            .integer("ha.host_failures_to_tolerate", x, MAX_SETTING)
            .unwrap_or(0) as u32;
    }
    if let Some(x) = field(map, "mode") {
        ha.mode = cx
            .enumeration("ha.mode", x, &[("host", HaMode::Host), ("vm", HaMode::Vm)])
            .unwrap_or(HaMode::Host);
    }
    if let Some(x) = field(map, "migration_path") {
        ha.migration_path = cx
            .enumeration(
                "ha.migration_path",
                x,
                &[
                    ("any", MigrationPath::Any),
                    ("standby_first", MigrationPath::StandbyFirst),
                    ("standby_only", MigrationPath::StandbyOnly),
                ],
            )
            .unwrap_or(MigrationPath::Any);
    }
    if let Some(x) = field(map, "failback") {
        ha.failback = cx
            .enumeration(
                "ha.failback",
                x,
                &[("off", Failback::Off), ("return", Failback::Return)],
            )
            .unwrap_or(Failback::Off);
    }
    if let Some(x) = field(map, "failure_domain_label") {
        ha.failure_domain_label = cx.name("ha.failure_domain_label", x);
    }
    if let Some(x) = field(map, "overcommit") {
        ha.overcommit = read_ratios(cx, "ha.overcommit", x);
    }
    if let Some(x) = field(map, "failover_overcommit") {
        ha.failover_overcommit = read_ratios(cx, "ha.failover_overcommit", x);
    }
    let mut setting = |key: &str, slot: &mut u64| {
        if let Some(x) = field(map, key) {
            if let Some(n) = cx.integer(&format!("ha.{key}"), x, MAX_SETTING) {
                *slot = n as u64;
            }
        }
    };
    let mut retries = ha.restart_retries as u64;
    let mut threshold = ha.failure_threshold as u64;
    setting("restart_retries", &mut retries);
    setting("retry_interval_s", &mut ha.retry_interval_s);
    setting("failure_threshold", &mut threshold);
    setting("check_interval_s", &mut ha.check_interval_s);
    setting("fence_timeout_s", &mut ha.fence_timeout_s);
    ha.restart_retries = retries as u32;
    ha.failure_threshold = threshold as u32;
    (cx.count() == n).then_some(ha)
}

/// Reports under `path` every problem of one host object taken on its own
/// (references between hosts and VMs are the caller's business).
pub(crate) fn check_host(cx: &mut Cx, path: &str, v: &Value) {
    read_host(cx, path, v);
}

/// Reports under `path` every problem of one VM object taken on its own.
pub(crate) fn check_vm(cx: &mut Cx, path: &str, v: &Value) {
    read_vm(cx, path, v);
}

fn read_host(cx: &mut Cx, path: &str, v: &Value) -> Option<RawHost> {
    let map = cx.object(path, v, HOST_FIELDS)?;
    let p = |k: &str| format!("{path}.{k}");
    let name = match field(map, "name") {
        Some(x) => cx.name(&p("name"), x),
        None => {
            cx.err(&p("name"), "missing required field \"name\"");
            None
        }
    };
    let capacity = match field(map, "capacity") {
        Some(x) => cx.amounts(&p("capacity"), x),
        None => {
            cx.err(&p("capacity"), "missing required field \"capacity\"");
            None
        }
    };
    let reserved = field(map, "reserved")
        .and_then(|x| cx.amounts(&p("reserved"), x))
        .unwrap_or_default();
    let state = field(map, "state")
        .and_then(|x| cx.enumeration(&p("state"), x, HOST_STATES))
        .unwrap_or(HostState::Up);
    let standby = field(map, "standby")
        .and_then(|x| cx.boolean(&p("standby"), x))
        .unwrap_or(false);
    let storage = field(map, "storage")
        .and_then(|x| cx.string_list(&p("storage"), x))
        .unwrap_or_default();
    let networks = field(map, "networks")
        .and_then(|x| cx.string_list(&p("networks"), x))
        .unwrap_or_default();
    let labels = field(map, "labels")
        .and_then(|x| cx.string_map(&p("labels"), x))
        .unwrap_or_default();
    let overcommit = field(map, "overcommit")
        .map(|x| read_ratios(cx, &p("overcommit"), x))
        .unwrap_or_default();
    let fencing = match field(map, "fencing") {
        None => Vec::new(),
        Some(x) => match x.as_array() {
            None => {
                cx.err(
                    &p("fencing"),
                    format!("expected a list of fencing levels, found {}", kind(x)),
                );
                Vec::new()
            }
            Some(levels) => levels
                .iter()
                .enumerate()
                .filter_map(|(i, level)| read_fence(cx, &format!("{path}.fencing[{i}]"), level))
                .collect(),
        },
    };
    Some(RawHost {
        name,
        capacity,
        reserved,
        state,
        standby,
        storage: storage.into_iter().collect(),
        networks: networks.into_iter().collect(),
        labels,
        fencing,
        overcommit,
    })
}

fn read_group(cx: &mut Cx, path: &str, v: &Value) -> Option<RawGroup> {
    let map = cx.object(path, v, GROUP_FIELDS)?;
    let p = |k: &str| format!("{path}.{k}");
    let name = match field(map, "name") {
        Some(x) => cx.name(&p("name"), x),
        None => {
            cx.err(&p("name"), "missing required field \"name\"");
            None
        }
    };
    let affinity = match field(map, "affinity") {
        Some(x) => cx.enumeration(
            &p("affinity"),
            x,
            &[("apart", Affinity::Apart), ("together", Affinity::Together)],
        ),
        None => {
            cx.err(&p("affinity"), "missing required field \"affinity\"");
            None
        }
    };
    let max_per_host = match field(map, "max_per_host") {
        None => None,
        Some(x) => match cx.integer(&p("max_per_host"), x, MAX_SETTING) {
            Some(0) => {
                cx.err(&p("max_per_host"), "must be at least 1, found 0");
                None
            }
            Some(n) => {
                if affinity == Some(Affinity::Together) {
                    cx.err(
                        &p("max_per_host"),
                        "applies only to affinity \"apart\" (a together group runs on one host)",
                    );
                }
                Some(n as u32)
            }
            None => None,
        },
    };
    let strict = field(map, "strict")
        .and_then(|x| cx.boolean(&p("strict"), x))
        .unwrap_or(true);
    let vms = match field(map, "vms") {
        Some(x) => cx.string_list(&p("vms"), x),
        None => {
            cx.err(&p("vms"), "missing required field \"vms\"");
            None
        }
    };
    Some(RawGroup {
        name,
        affinity,
        max_per_host,
        strict,
        vms,
    })
}

fn read_fence(cx: &mut Cx, path: &str, v: &Value) -> Option<FenceLevel> {
    let map = cx.object(path, v, FENCE_FIELDS)?;
    let agent = match map.get("agent") {
        Some(a) => cx.name(&format!("{path}.agent"), a),
        None => {
            cx.err(&format!("{path}.agent"), "missing required field \"agent\"");
            None
        }
    };
    let params = match map.get("params") {
        None => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(other) => {
            cx.err(
                &format!("{path}.params"),
                format!("expected an object, found {}", kind(other)),
            );
            return None;
        }
    };
    Some(FenceLevel {
        agent: agent?,
        params,
    })
}

fn read_vm(cx: &mut Cx, path: &str, v: &Value) -> Option<RawVm> {
    let map = cx.object(path, v, VM_FIELDS)?;
    let p = |k: &str| format!("{path}.{k}");
    let name = match field(map, "name") {
        Some(x) => cx.name(&p("name"), x),
        None => {
            cx.err(&p("name"), "missing required field \"name\"");
            None
        }
    };
    let host = match field(map, "host") {
        Some(x) => cx.name(&p("host"), x),
        None => {
            cx.err(&p("host"), "missing required field \"host\"");
            None
        }
    };
    let demand = match field(map, "demand") {
        Some(x) => cx.amounts(&p("demand"), x),
        None => {
            cx.err(&p("demand"), "missing required field \"demand\"");
            None
        }
    };
    let power = field(map, "power")
        .and_then(|x| {
            cx.enumeration(
                &p("power"),
                x,
                &[
                    ("running", Power::Running),
                    ("paused", Power::Paused),
                    ("halted", Power::Halted),
                ],
            )
        })
        .unwrap_or(Power::Running);
    let restart = field(map, "restart")
        .and_then(|x| cx.enumeration(&p("restart"), x, RESTARTS))
        .unwrap_or(Restart::Protected);
    let priority = field(map, "priority")
        .and_then(|x| read_priority(cx, &p("priority"), x))
        .unwrap_or(Priority::Medium);
    let order = field(map, "order")
        .and_then(|x| cx.integer(&p("order"), x, MAX_SETTING))
        .unwrap_or(0) as u32;
    let start_delay_s = field(map, "start_delay_s")
        .and_then(|x| cx.integer(&p("start_delay_s"), x, MAX_SETTING))
        .unwrap_or(0) as u64;
    let boot_time_s = field(map, "boot_time_s")
        .and_then(|x| cx.integer(&p("boot_time_s"), x, MAX_SETTING))
        .map(|n| n as u64);
    let storage = field(map, "storage")
        .and_then(|x| cx.string_list(&p("storage"), x))
        .unwrap_or_default();
    let networks = field(map, "networks")
        .and_then(|x| cx.string_list(&p("networks"), x))
        .unwrap_or_default();
    let local_devices = field(map, "local_devices")
        .and_then(|x| cx.string_list(&p("local_devices"), x))
        .unwrap_or_default();
    let allowed_hosts =
        field(map, "allowed_hosts").and_then(|x| cx.string_list(&p("allowed_hosts"), x));
    let anti_affinity = match field(map, "anti_affinity") {
        None | Some(Value::Null) => None,
        Some(x) => cx.name(&p("anti_affinity"), x),
    };
    let preferred_hosts = field(map, "preferred_hosts")
        .and_then(|x| cx.string_list(&p("preferred_hosts"), x))
        .unwrap_or_default();
    Some(RawVm {
        name,
        host,
        power,
        demand,
        restart,
        priority,
        order,
        start_delay_s,
        boot_time_s,
        storage: storage.into_iter().collect(),
        networks: networks.into_iter().collect(),
        local_devices,
        allowed_hosts,
        anti_affinity,
        preferred_hosts,
    })
}

/// One VM object (as in the pool file's `vms`) read against an existing
/// pool, without re-reading the pool: for a VM that is about to start. Its
/// `host` and `allowed_hosts` must name hosts of the pool; a resource the
/// pool does not know may only be asked for in amount 0 (no host has it).
pub fn vm_for(pool: &Pool, v: &Value) -> Result<Vm, String> {
    let mut cx = Cx::default();
    let raw = read_vm(&mut cx, "vm", v);
    let problems: Vec<String> = cx
        .problems
        .iter()
        .map(|p| format!("{}: {}", p.path, p.message))
        .collect();
    let problems = if cx.omitted > 0 {
        let mut p = problems;
        p.push(format!("and {} more", crate::error::thousands(cx.omitted)));
        p
    } else {
        problems
    };
    let raw = match raw {
        Some(r) if problems.is_empty() => r,
        _ => return Err(problems.join("; ")),
    };
    let host_id = |name: &str| {
        pool.host_by_name(name)
            .ok_or_else(|| format!("unknown host {}", quoted(name)))
    };
    let host = host_id(raw.host.as_deref().unwrap_or_default())?;
    let mut demand = vec![0; pool.resources.len()];
    let mut listed = vec![false; pool.resources.len()];
    for (r, &amount) in raw.demand.iter().flatten() {
        match pool.resource(r) {
            Some(i) => {
                demand[i] = amount;
                listed[i] = true;
            }
            None if amount == 0 => {}
            None => return Err(format!("no host has any {}", quoted(r))),
        }
    }
    let allowed_hosts = match raw.allowed_hosts {
        None => None,
        Some(names) => Some(
            names
                .iter()
                .map(|n| host_id(n))
                .collect::<Result<Vec<_>, _>>()?,
        ),
    };
    let preferred_hosts = raw
        .preferred_hosts
        .iter()
        .map(|n| host_id(n))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Vm {
        name: raw.name.unwrap_or_default(),
        host,
        power: raw.power,
        demand,
        listed,
        restart: raw.restart,
        priority: raw.priority,
        order: raw.order,
        start_delay_s: raw.start_delay_s,
        boot_time_s: raw.boot_time_s,
        storage: raw.storage,
        networks: raw.networks,
        local_devices: raw.local_devices,
        allowed_hosts,
        anti_affinity: raw.anti_affinity,
        preferred_hosts,
    })
}
