//! vSphere: `govc object.collect -json` of the cluster's hosts, VMs,
//! datastores, networks and the cluster itself (`configurationEx`: HA
//! settings, admission control, per-VM restart priorities, orchestration,
//! DRS rules and groups), in either of govc's JSON encodings (Go field
//! names, or vSphere's own with `_typeName`); `govc cluster.override.info
//! -json`; and `govc cluster.rule.ls -l -json` (which names each rule's
//! type, what the older encoding does not say).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::{Map, Value};

use crate::draft::{Affinity, Draft, Group, Host, HostState, Power, Priority, Restart, Vm};
use crate::input;
use crate::units::{Round, bytes_to_mib};
use crate::{File, ImportError, Options, VsphereSizing};

const EXPECTED: &str = "govc object.collect -json output, govc cluster.override.info -json, or govc cluster.rule.ls -l -json";

const ARRAY_OF: &[&str] = &[
    "ManagedObjectReference",
    "String",
    "Long",
    "Int",
    "Boolean",
    "Short",
    "Byte",
];

/// Both encodings as one: `{"_typeName": T, "_value": v}` is `v`, and
/// every key starts lower-case (`DasConfig` and `dasConfig` alike).
fn normalise(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            if m.len() == 2 && m.contains_key("_typeName") && m.contains_key("_value") {
                return normalise(&m["_value"]);
            }
            // Go's encoding of an ArrayOfX: {"X": [...]}.
            if m.len() == 1 {
                let (k, x) = m.iter().next().unwrap();
                if x.is_array() && ARRAY_OF.contains(&k.as_str()) {
                    return normalise(x);
                }
            }
            let mut out = Map::new();
            for (k, x) in m {
                let mut key = k.clone();
                if let Some(c) = key.get(..1) {
                    if k != "_typeName" {
                        key = format!("{}{}", c.to_ascii_lowercase(), &k[1..]);
                    }
                }
                out.insert(key, normalise(x));
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(normalise).collect()),
        other => other.clone(),
    }
}

/// `Type:value` of a managed object reference.
fn moref(v: &Value) -> Option<String> {
    match v {
        Value::Object(m) => Some(format!(
            "{}:{}",
            m.get("type")?.as_str()?,
            m.get("value")?.as_str()?
        )),
        Value::String(s) if s.contains(':') => Some(s.clone()),
        _ => None,
    }
}

fn morefs(v: Option<&Value>) -> Vec<String> {
    v.and_then(|v| v.as_array())
        .map(|a| a.iter().filter_map(moref).collect())
        .unwrap_or_default()
}

#[derive(Default, Debug)]
struct Object {
    props: BTreeMap<String, Value>,
    file: String,
}

impl Object {
    /// A property by dotted path: the property itself, or a path inside
    /// a property collected whole (`summary.hardware.memorySize` from
    /// `summary`).
    fn get(&self, path: &str) -> Option<&Value> {
        let segs: Vec<&str> = path.split('.').collect();
        for i in (1..=segs.len()).rev() {
            if let Some(v) = self.props.get(&segs[..i].join(".")) {
                let mut v = v;
                for s in &segs[i..] {
                    v = v.get(*s)?;
                }
                return (!v.is_null()).then_some(v);
            }
        }
        None
    }

    fn str(&self, path: &str) -> Option<&str> {
        self.get(path).and_then(|v| v.as_str())
    }

    fn u64(&self, path: &str) -> Option<u64> {
        self.get(path).and_then(|v| {
            v.as_u64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        })
    }

    fn bool(&self, path: &str) -> Option<bool> {
        self.get(path).and_then(|v| v.as_bool())
    }

    fn err(&self, path: &str, message: impl Into<String>) -> ImportError {
        ImportError::field(&self.file, path, message)
    }
}

fn apply_props(obj: &mut Object, list: &Value, file: &str) -> Result<(), ImportError> {
    let Some(items) = list.as_array() else {
        return Err(ImportError::field(file, "propSet", "expected a list"));
    };
    for p in items {
        let Some(name) = p.get("name").and_then(|n| n.as_str()) else {
            return Err(ImportError::field(
                file,
                "propSet",
                "a property without a name",
            ));
        };
        match p.get("op").and_then(|o| o.as_str()).unwrap_or("assign") {
            "remove" | "indirectRemove" => {
                obj.props.remove(name);
            }
            _ => {
                obj.props.insert(
                    name.to_string(),
                    p.get("val").cloned().unwrap_or(Value::Null),
                );
            }
        }
    }
    Ok(())
}

#[derive(Default)]
struct Collected {
    objects: BTreeMap<String, Object>,
    /// A bare change set (govc collect of one object, no -type): the
    /// cluster's configurationEx.
    anonymous: Vec<Object>,
    overrides: Vec<(String, Value)>,
    rule_types: HashMap<String, String>,
}

fn collect_doc(c: &mut Collected, file: &str, v: &Value) -> Result<bool, ImportError> {
    let content = |c: &mut Collected, item: &Value| -> Result<bool, ImportError> {
        let Some(obj) = item.get("obj").and_then(moref) else {
            return Ok(false);
        };
        let props = item.get("propSet").or_else(|| item.get("changeSet"));
        let entry = c.objects.entry(obj).or_insert_with(|| Object {
            file: file.to_string(),
            ..Default::default()
        });
        if item.get("kind").and_then(|k| k.as_str()) == Some("leave") {
            entry.props.clear();
            return Ok(true);
        }
        if let Some(p) = props {
            apply_props(entry, p, file)?;
        }
        Ok(true)
    };
    match v {
        Value::Array(items) if items.is_empty() => Ok(true),
        Value::Array(items) if items.iter().all(|i| i.is_string()) => {
            for i in items {
                let s = i.as_str().unwrap();
                if let Some((name, ty)) = s.rsplit_once(" (") {
                    c.rule_types
                        .insert(name.to_string(), ty.trim_end_matches(')').to_string());
                }
            }
            Ok(true)
        }
        Value::Array(items) if items.iter().all(|i| i.get("obj").is_some()) => {
            for i in items {
                content(c, i)?;
            }
            Ok(true)
        }
        Value::Array(items)
            if items
                .iter()
                .all(|i| i.get("name").is_some() && i.get("val").is_some()) =>
        {
            let mut o = Object {
                file: file.to_string(),
                ..Default::default()
            };
            apply_props(&mut o, v, file)?;
            c.anonymous.push(o);
            Ok(true)
        }
        Value::Object(m) if m.contains_key("objects") => {
            if let Some(items) = m["objects"].as_array() {
                for i in items {
                    content(c, i)?;
                }
            }
            Ok(true)
        }
        Value::Object(m) if m.contains_key("overrides") => {
            if let Some(o) = m["overrides"].as_object() {
                for (k, x) in o {
                    c.overrides.push((k.clone(), x.clone()));
                }
            }
            Ok(true)
        }
        Value::Object(_) => content(c, v),
        _ => Ok(false),
    }
}

fn priority_of(p: &str) -> Option<(Priority, u64)> {
    Some(match p {
        "highest" => (Priority::Critical, 0),
        "high" => (Priority::High, 1),
        "medium" => (Priority::Medium, 2),
        "low" => (Priority::Low, 3),
        "lowest" => (Priority::Number(500), 4),
        _ => return None,
    })
}

pub(crate) fn read(files: &[File<'_>], options: &Options) -> Result<Draft, ImportError> {
    let mut c = Collected::default();
    for f in files {
        let text = input::text(f)?;
        if !input::looks_like_json(text) {
            return Err(ImportError::Unrecognised {
                file: f.name.to_string(),
                platform: "a vSphere",
                expected: EXPECTED,
            });
        }
        for v in input::json_values(f)? {
            let v = normalise(&v);
            if !collect_doc(&mut c, f.name, &v)? {
                return Err(ImportError::Unrecognised {
                    file: f.name.to_string(),
                    platform: "a vSphere",
                    expected: EXPECTED,
                });
            }
        }
    }
    let of_type = |t: &str| -> Vec<(&String, &Object)> {
        c.objects
            .iter()
            .filter(|(k, _)| k.split(':').next() == Some(t))
            .collect()
    };
    let mut draft = Draft::default();
    let name_of = |key: &str| -> String {
        c.objects
            .get(key)
            .and_then(|o| o.str("name"))
            .map(str::to_string)
            .unwrap_or_else(|| key.split_once(':').map_or(key, |(_, v)| v).to_string())
    };

    // The cluster (one), its configuration.
    let clusters = of_type("ClusterComputeResource");
    if clusters.len() > 1 {
        return Err(ImportError::Incomplete(format!(
            "the files describe {} clusters ({}): export one cluster's objects",
            clusters.len(),
            clusters
                .iter()
                .map(|(k, _)| name_of(k))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let cluster = clusters.first().map(|(k, o)| ((*k).clone(), *o));
    let config: Option<(&Object, &Value)> = cluster
        .as_ref()
        .and_then(|(_, o)| o.get("configurationEx").map(|v| (*o, v)))
        .or_else(|| {
            c.anonymous
                .iter()
                .find_map(|o| o.get("configurationEx").map(|v| (o, v)))
        });
    if let Some((_, o)) = &cluster {
        draft.name = o.str("name").map(str::to_string);
    }
    let member_hosts: Option<BTreeSet<String>> = cluster
        .as_ref()
        .and_then(|(_, o)| o.get("host"))
        .map(|h| morefs(Some(h)).into_iter().collect());

    let das = config.and_then(|(_, v)| v.get("dasConfig"));
    let mut failover_hosts: BTreeSet<String> = BTreeSet::new();
    let mut default_priority = (Priority::Medium, 2u64, true);
    let mut respect_anti = true;
    if let Some(das) = das {
        if das.get("enabled").and_then(|e| e.as_bool()) == Some(false) {
            draft.warn(
                "ha-off",
                "vSphere HA is not enabled on this cluster: haplan answers as if it were",
            );
        }
        if das.get("admissionControlEnabled").and_then(|e| e.as_bool()) == Some(false) {
            draft.warn("admission-control-off", "admission control is off: vSphere does not hold failover capacity; haplan says whether the capacity is there anyway");
        }
        if let Some(p) = das.get("admissionControlPolicy") {
            let level = p.get("failoverLevel").and_then(|l| l.as_u64());
            if let Some(hosts) = p.get("failoverHosts") {
                failover_hosts = morefs(Some(hosts)).into_iter().collect();
                draft.ha.host_failures_to_tolerate =
                    Some(level.unwrap_or(failover_hosts.len() as u64));
                draft.ha.migration_path = Some("standby_first");
                draft.warn(
                    "failover-hosts",
                    "dedicated failover hosts are standby hosts, tried first",
                );
            } else if p.get("cpuFailoverResourcesPercent").is_some()
                || p.get("memoryFailoverResourcesPercent").is_some()
            {
                match level {
                    Some(l) => draft.ha.host_failures_to_tolerate = Some(l),
                    None => draft.warn("percentage-policy", "the percentage policy names no host failures to tolerate (set by hand, not computed): haplan's default, 1, is checked; the percentages are not"),
                }
                if level.is_some()
                    && p.get("autoComputePercentages").and_then(|a| a.as_bool()) == Some(false)
                {
                    draft.warn("percentage-policy", "the percentage policy reserves fixed percentages; haplan checks the host failures to tolerate instead");
                }
                if let Some(r) = p
                    .get("resourceReductionToToleratePercent")
                    .and_then(|r| r.as_u64())
                {
                    if r > 0 && r < 100 {
                        let res = if options.vsphere_sizing == VsphereSizing::Reservation {
                            "cpu_mhz"
                        } else {
                            "vcpus"
                        };
                        let normal = if res == "vcpus" {
                            options.cpu_overcommit.unwrap_or(1.0)
                        } else {
                            1.0
                        };
                        let ratio = normal * (1.0 + r as f64 / 100.0);
                        draft
                            .ha
                            .failover_overcommit
                            .insert(res.into(), (ratio * 1e6).round() / 1e6);
                        draft.warn("degradation", format!("performance degradation VMs tolerate {r}%: after a failure, {res} may be overcommitted {ratio} times (failover ratio = normal ratio x {})", 1.0 + r as f64 / 100.0));
                    }
                }
            } else if let Some(l) = level {
                draft.ha.host_failures_to_tolerate = Some(l);
                draft.warn("slot-policy", "the slot policy counts every VM as the largest reservation; haplan packs the VMs as they are, so it may find more failures tolerated");
            }
        }
        if let Some(p) = das
            .get("defaultVmSettings")
            .and_then(|d| d.get("restartPriority"))
            .and_then(|p| p.as_str())
        {
            default_priority = match priority_of(p) {
                Some((pr, o)) => (pr, o, true),
                None => (Priority::Medium, 2, p != "disabled"),
            };
        }
        if let Some(opts) = das.get("option").and_then(|o| o.as_array()) {
            for o in opts {
                if o.get("key").and_then(|k| k.as_str()) == Some("das.respectVmVmAntiAffinityRules")
                    && o.get("value")
                        .and_then(|v| v.as_str())
                        .map(|s| s.eq_ignore_ascii_case("false"))
                        == Some(true)
                {
                    respect_anti = false;
                }
            }
        }
    } else {
        draft.warn("no-cluster-config", "no cluster configurationEx among the files: HA settings, restart priorities and rules are the defaults");
    }

    // Hosts.
    let reservation = options.vsphere_sizing == VsphereSizing::Reservation;
    let mut host_keys = Vec::new();
    for (key, o) in of_type("HostSystem") {
        if let Some(m) = &member_hosts {
            if !m.contains(key) {
                continue;
            }
        }
        let name = name_of(key);
        let mut host = Host::new(&name);
        host.labels.insert(
            "vsphere_moid".into(),
            key.split_once(':').unwrap().1.to_string(),
        );
        let mem = o
            .u64("summary.hardware.memorySize")
            .or_else(|| o.u64("hardware.memorySize"))
            .ok_or_else(|| {
                o.err(
                    &format!("{key}.summary.hardware.memorySize"),
                    "missing: collect summary.hardware",
                )
            })?;
        let mib = bytes_to_mib(mem, Round::Down);
        let mib = draft.capacity_amount(&format!("host {name} memory"), mib);
        host.capacity.insert("memory_mib".into(), mib);
        if reservation {
            let cores = o
                .u64("summary.hardware.numCpuCores")
                .ok_or_else(|| o.err(&format!("{key}.summary.hardware.numCpuCores"), "missing"))?;
            let mhz = o
                .u64("summary.hardware.cpuMhz")
                .ok_or_else(|| o.err(&format!("{key}.summary.hardware.cpuMhz"), "missing"))?;
            host.capacity.insert("cpu_mhz".into(), cores * mhz);
        } else if options.cpu_overcommit.is_some() {
            let threads = o.u64("summary.hardware.numCpuThreads").ok_or_else(|| {
                o.err(&format!("{key}.summary.hardware.numCpuThreads"), "missing")
            })?;
            host.capacity.insert("vcpus".into(), threads);
        }
        let conn = o
            .str("runtime.connectionState")
            .or_else(|| o.str("summary.runtime.connectionState"))
            .unwrap_or("connected");
        let maint = o
            .bool("runtime.inMaintenanceMode")
            .or_else(|| o.bool("summary.runtime.inMaintenanceMode"))
            .unwrap_or(false);
        let power = o
            .str("runtime.powerState")
            .or_else(|| o.str("summary.runtime.powerState"))
            .unwrap_or("poweredOn");
        if conn == "notResponding" || power == "poweredOff" {
            host.state = HostState::Down;
            draft.warn(
                "host-down",
                format!(
                    "host {name} is {}: taken as failed now",
                    if power == "poweredOff" {
                        "powered off"
                    } else {
                        "not responding"
                    }
                ),
            );
        } else if maint || conn == "disconnected" || power == "standBy" {
            host.state = HostState::Maintenance;
            draft.warn(
                "host-unavailable",
                format!(
                    "host {name} is {}: taken as in maintenance",
                    if maint {
                        "in maintenance mode"
                    } else if power == "standBy" {
                        "in standby"
                    } else {
                        "disconnected"
                    }
                ),
            );
        }
        if failover_hosts.contains(key) {
            host.standby = true;
        }
        for d in morefs(o.get("datastore")) {
            host.storage.insert(name_of(&d));
        }
        for n in morefs(o.get("network")) {
            host.networks.insert(name_of(&n));
        }
        draft.hosts.push(host);
        host_keys.push(key.clone());
    }
    let host_name: HashMap<String, String> =
        host_keys.iter().map(|k| (k.clone(), name_of(k))).collect();

    // Per-VM HA settings.
    let mut vm_prio: HashMap<String, String> = HashMap::new();
    let mut vm_delay: HashMap<String, u64> = HashMap::new();
    let cfg = config.map(|(_, v)| v);
    for e in cfg
        .and_then(|v| v.get("dasVmConfig"))
        .and_then(|d| d.as_array())
        .map_or(&[][..], |v| v)
    {
        let Some(key) = e.get("key").and_then(moref) else {
            continue;
        };
        let p = e
            .get("dasSettings")
            .and_then(|d| d.get("restartPriority"))
            .or_else(|| e.get("restartPriority"))
            .and_then(|p| p.as_str());
        if let Some(p) = p {
            vm_prio.insert(key, p.to_string());
        }
    }
    for (key, o) in &c.overrides {
        let key = moref(o.get("id").unwrap_or(&Value::Null)).unwrap_or_else(|| key.clone());
        if let Some(p) = o
            .get("das")
            .and_then(|d| d.get("dasSettings"))
            .and_then(|d| d.get("restartPriority"))
            .and_then(|p| p.as_str())
        {
            vm_prio.insert(key.clone(), p.to_string());
        }
        if let Some(d) = o
            .get("orchestration")
            .and_then(|d| d.get("vmReadiness"))
            .and_then(|r| r.get("postReadyDelay"))
            .and_then(|d| d.as_u64())
        {
            vm_delay.insert(key, d);
        }
    }
    for e in cfg
        .and_then(|v| v.get("vmOrchestration"))
        .and_then(|d| d.as_array())
        .map_or(&[][..], |v| v)
    {
        let Some(key) = e.get("vm").and_then(moref) else {
            continue;
        };
        if let Some(d) = e
            .get("vmReadiness")
            .and_then(|r| r.get("postReadyDelay"))
            .and_then(|d| d.as_u64())
        {
            vm_delay.insert(key, d);
        }
    }

    // VMs.
    let mut lowest = false;
    for (key, o) in of_type("VirtualMachine") {
        if o.bool("config.template")
            .or_else(|| o.bool("summary.config.template"))
            == Some(true)
        {
            continue;
        }
        let Some(h) = o
            .get("runtime.host")
            .or_else(|| o.get("summary.runtime.host"))
            .and_then(moref)
        else {
            continue; // not placed on a host
        };
        let Some(host) = host_name.get(&h) else {
            if member_hosts.is_none() {
                return Err(o.err(
                    &format!("{key}.runtime.host"),
                    format!("host {h} is not among the hosts"),
                ));
            }
            continue; // another cluster's VM
        };
        let name = name_of(key);
        let mut vm = Vm::new(&name, host.clone());
        vm.power = match o
            .str("runtime.powerState")
            .or_else(|| o.str("summary.runtime.powerState"))
            .unwrap_or("poweredOn")
        {
            "poweredOn" => Power::Running,
            _ => Power::Halted,
        };
        let configured_mb = o
            .u64("config.hardware.memoryMB")
            .or_else(|| o.u64("summary.config.memorySizeMB"));
        let vcpus = o
            .u64("config.hardware.numCPU")
            .or_else(|| o.u64("summary.config.numCpu"));
        if reservation {
            let mem_res = o
                .u64("config.memoryAllocation.reservation")
                .or_else(|| o.u64("resourceConfig.memoryAllocation.reservation"))
                .or_else(|| o.u64("summary.config.memoryReservation"))
                .unwrap_or(0);
            let cpu_res = o
                .u64("config.cpuAllocation.reservation")
                .or_else(|| o.u64("resourceConfig.cpuAllocation.reservation"))
                .or_else(|| o.u64("summary.config.cpuReservation"))
                .unwrap_or(0);
            vm.demand.insert("memory_mib".into(), mem_res);
            vm.demand.insert("cpu_mhz".into(), cpu_res.max(32));
        } else {
            let mb = configured_mb.ok_or_else(|| {
                o.err(
                    &format!("{key}.config.hardware.memoryMB"),
                    "missing: collect config.hardware or summary.config",
                )
            })?;
            vm.demand.insert("memory_mib".into(), mb);
            if options.cpu_overcommit.is_some() {
                let n = vcpus
                    .ok_or_else(|| o.err(&format!("{key}.config.hardware.numCPU"), "missing"))?;
                vm.demand.insert("vcpus".into(), n);
            }
        }
        let p = vm_prio
            .get(key)
            .map(String::as_str)
            .unwrap_or("clusterRestartPriority");
        let (prio, order, protected) = match p {
            "disabled" => (Priority::Medium, 2, false),
            "clusterRestartPriority" => default_priority,
            other => match priority_of(other) {
                Some((pr, o)) => (pr, o, true),
                None => default_priority,
            },
        };
        if prio == Priority::Number(500) {
            lowest = true;
        }
        vm.priority = Some(prio);
        vm.order = Some(order);
        vm.restart = if protected {
            Restart::Protected
        } else {
            Restart::Unprotected
        };
        if let Some(d) = vm_delay.get(key) {
            vm.start_delay_s = Some(*d);
        }
        for d in morefs(o.get("datastore")) {
            vm.storage.insert(name_of(&d));
        }
        for n in morefs(o.get("network")) {
            vm.networks.insert(name_of(&n));
        }
        draft.add_vm(key.clone(), vm);
    }
    if lowest {
        draft.warn(
            "lowest-priority",
            "vSphere's lowest restart priority is kept as the number 500, below low (1000)",
        );
    }

    // Rules and groups.
    let mut vm_groups: HashMap<String, Vec<String>> = HashMap::new();
    let mut host_groups: HashMap<String, BTreeSet<String>> = HashMap::new();
    for g in cfg
        .and_then(|v| v.get("group"))
        .and_then(|g| g.as_array())
        .map_or(&[][..], |v| v)
    {
        let Some(name) = g.get("name").and_then(|n| n.as_str()) else {
            continue;
        };
        let ty = g.get("_typeName").and_then(|t| t.as_str());
        if ty == Some("ClusterVmGroup") || (ty.is_none() && g.get("vm").is_some()) {
            vm_groups.insert(name.to_string(), morefs(g.get("vm")));
        } else if ty == Some("ClusterHostGroup") || (ty.is_none() && g.get("host").is_some()) {
            host_groups.insert(
                name.to_string(),
                morefs(g.get("host"))
                    .iter()
                    .filter_map(|h| host_name.get(h).cloned())
                    .collect(),
            );
        }
    }
    let all_hosts: BTreeSet<String> = host_name.values().cloned().collect();
    for r in cfg
        .and_then(|v| v.get("rule"))
        .and_then(|g| g.as_array())
        .map_or(&[][..], |v| v)
    {
        let name = r
            .get("name")
            .and_then(|n| n.as_str())
            .unwrap_or("rule")
            .to_string();
        if r.get("enabled").and_then(|e| e.as_bool()) == Some(false) {
            draft.warn(
                "rule-disabled",
                format!("rule {name} is disabled; left out"),
            );
            continue;
        }
        let mandatory = r.get("mandatory").and_then(|m| m.as_bool());
        let ty = r
            .get("_typeName")
            .and_then(|t| t.as_str())
            .map(str::to_string)
            .or_else(|| c.rule_types.get(&name).cloned())
            .or_else(|| {
                r.get("vmGroupName")
                    .map(|_| "ClusterVmHostRuleInfo".to_string())
            })
            .or_else(|| {
                r.get("dependsOnVmGroup")
                    .map(|_| "ClusterDependencyRuleInfo".to_string())
            });
        match ty.as_deref() {
            Some("ClusterAntiAffinityRuleSpec") | Some("ClusterAffinityRuleSpec") => {
                let apart = ty.as_deref() == Some("ClusterAntiAffinityRuleSpec");
                let strict = if apart {
                    respect_anti && mandatory != Some(false)
                } else {
                    mandatory == Some(true)
                };
                draft.groups.push(Group {
                    name,
                    affinity: if apart {
                        Affinity::Apart
                    } else {
                        Affinity::Together
                    },
                    max_per_host: apart.then_some(1),
                    strict,
                    members: morefs(r.get("vm")),
                });
            }
            Some("ClusterVmHostRuleInfo") => {
                let vg = r.get("vmGroupName").and_then(|n| n.as_str()).unwrap_or("");
                let Some(members) = vm_groups.get(vg) else {
                    draft.warn("unknown-group", format!("rule {name} names VM group {vg:?}, which the configuration does not define; left out"));
                    continue;
                };
                let target: BTreeSet<String> = if let Some(hg) =
                    r.get("affineHostGroupName").and_then(|n| n.as_str())
                {
                    host_groups.get(hg).cloned().unwrap_or_default()
                } else if let Some(hg) = r.get("antiAffineHostGroupName").and_then(|n| n.as_str()) {
                    let out = host_groups.get(hg).cloned().unwrap_or_default();
                    all_hosts.difference(&out).cloned().collect()
                } else {
                    continue;
                };
                for m in members {
                    if let Some(vm) = draft.vm_mut(m) {
                        if mandatory == Some(true) {
                            vm.allowed_hosts = Some(match vm.allowed_hosts.take() {
                                Some(a) => a.intersection(&target).cloned().collect(),
                                None => target.clone(),
                            });
                        } else {
                            vm.preferred_hosts = target.iter().cloned().collect();
                        }
                    }
                }
            }
            Some("ClusterDependencyRuleInfo") => {
                draft.warn(
                    "dependency-rule",
                    format!("rule {name} (restart dependency between VM groups) is not modelled"),
                );
            }
            _ => {
                draft.warn("rule-type-unknown", format!("rule {name}: its type is not in the file (older govc JSON; add govc cluster.rule.ls -l -json); left out"));
            }
        }
    }

    if reservation {
        draft.warn("sizing", "VMs are sized by reservation (memory MiB and CPU MHz, at least 32 MHz), as the slot policy counts them; the configured size is the other choice");
    } else {
        draft.warn("sizing", "VMs are sized by configured memory, as a restarted VM runs; sizing by reservation (what the slot policy counts) is the other choice");
        if options.cpu_overcommit.is_none() {
            draft.warn("cpu-not-modelled", "vSphere puts no limit on vCPU overcommit: only memory is modelled (give a CPU overcommit ratio to model vCPUs, or size by reservation for CPU MHz)");
        } else if let Some(r) = options.cpu_overcommit {
            draft.ha.overcommit.insert("vcpus".into(), r);
        }
    }
    draft.warn(
        "overhead-not-modelled",
        "the VMs' memory overhead and the hosts' own memory are not in the export: not counted",
    );
    Ok(draft)
}
