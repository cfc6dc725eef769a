//! Proxmox VE: `pvesh get /cluster/resources --output-format json` (nodes,
//! guests, storage), the HA manager's `resources.cfg`, `groups.cfg` (before
//! PVE 9) and `rules.cfg` (PVE 9), and the HA simulator's scenario files
//! (`hardware_status`, `service_config`, `static_service_stats`, and its
//! `groups` and `rules_config`, which have the formats above).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::draft::{Affinity, Draft, Group, Host, HostState, Power, Restart, Vm};
use crate::input::{self, At};
use crate::sections::{self, Section};
use crate::units::{Round, bytes_to_mib};
use crate::{File, ImportError, Options};

const EXPECTED: &str = "pvesh get /cluster/resources JSON, resources.cfg, groups.cfg, rules.cfg, or the HA simulator's hardware_status, service_config, static_service_stats";

enum Kind<'a> {
    Resources(Vec<At<'a>>),
    /// `pvesh get /cluster/status`: read for the cluster name only.
    Status,
    Hardware(At<'a>),
    Services(At<'a>),
    Stats(At<'a>),
    HaResources(Vec<Section<'a>>),
    Groups(Vec<Section<'a>>),
    Rules(Vec<Section<'a>>),
    Empty,
}

/// What the HA manager knows of a guest.
#[derive(Default, Clone)]
struct HaConfig {
    state: Option<String>,
    group: Option<String>,
    /// Where the file says it.
    origin: String,
}

fn is_sid(s: &str) -> bool {
    let Some((kind, id)) = s.split_once(':') else {
        return false;
    };
    // vm and ct, and the simulator's fake resources (fa).
    !kind.is_empty()
        && kind.chars().all(|c| c.is_ascii_lowercase())
        && !id.is_empty()
        && !id.contains(char::is_whitespace)
}

fn classify<'a>(file: &'a File<'a>, values: &'a [Value]) -> Result<Kind<'a>, ImportError> {
    let unrecognised = || ImportError::Unrecognised {
        file: file.name.to_string(),
        platform: "a Proxmox VE",
        expected: EXPECTED,
    };
    if let Some(v) = values.first() {
        let root = At::root(file.name, v);
        // pvesh: a list; the API: {"data": [...]}; keyed by API path.
        let list = if v.is_array() {
            Some(root.clone())
        } else {
            root.get("data")
                .filter(|d| d.v.is_array())
                .or_else(|| root.get("cluster/resources"))
        };
        // `pvesh get /cluster/status`: the cluster's name.
        if let Some(status) = root.get("cluster/status").or_else(|| {
            list.as_ref()
                .filter(|l| {
                    l.v.as_array().is_some_and(|a| {
                        a.iter()
                            .any(|i| i.get("type").and_then(|t| t.as_str()) == Some("cluster"))
                            || a.iter().all(|i| i.get("nodeid").is_some())
                    })
                })
                .cloned()
        }) {
            if root.get("cluster/resources").is_none() {
                status.array()?;
                return Ok(Kind::Status);
            }
            // Both in one document (keyed by API path): the status is read
            // with the resources.
        }
        if let Some(list) = list {
            let items = list.array()?;
            if items.iter().all(|i| {
                i.get("type").is_some() && i.get("id").is_some()
                    || i.get("type").and_then(|t| t.v.as_str()).is_some()
            }) {
                return Ok(Kind::Resources(items));
            }
            return Err(unrecognised());
        }
        let obj = root.object()?;
        if obj.is_empty() {
            return Ok(Kind::Empty);
        }
        let all = |f: &dyn Fn(&str, &Value) -> bool| obj.iter().all(|(k, v)| f(k, v));
        if all(&|_, v| v.get("power").is_some() && v.get("network").is_some()) {
            return Ok(Kind::Hardware(root));
        }
        if all(&|k, v| is_sid(k) && (v.get("node").is_some() || v.get("state").is_some())) {
            return Ok(Kind::Services(root));
        }
        if all(&|k, v| is_sid(k) && (v.get("maxmem").is_some() || v.get("maxcpu").is_some())) {
            return Ok(Kind::Stats(root));
        }
        return Err(unrecognised());
    }
    Err(unrecognised())
}

fn classify_text<'a>(file: &File<'a>, text: &'a str) -> Result<Kind<'a>, ImportError> {
    if sections::is_sections(text, &["vm", "ct"]) {
        return Ok(Kind::HaResources(sections::parse(file.name, text)?));
    }
    if sections::is_sections(text, &["group"]) {
        return Ok(Kind::Groups(sections::parse(file.name, text)?));
    }
    if sections::is_sections(text, &["node-affinity", "resource-affinity"]) {
        return Ok(Kind::Rules(sections::parse(file.name, text)?));
    }
    if text
        .lines()
        .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
    {
        return Ok(Kind::Empty);
    }
    Err(ImportError::Unrecognised {
        file: file.name.to_string(),
        platform: "a Proxmox VE",
        expected: EXPECTED,
    })
}

/// "node1:2,node2" as (node, priority) pairs.
fn node_list(s: &str) -> Vec<(String, i64)> {
    s.split([',', ';', ' '])
        .filter(|p| !p.trim().is_empty())
        .map(|p| match p.trim().split_once(':') {
            Some((n, prio)) => (n.to_string(), prio.trim().parse().unwrap_or(0)),
            None => (p.trim().to_string(), 0),
        })
        .collect()
}

fn same_priority(nodes: &[(String, i64)]) -> bool {
    nodes.iter().all(|(_, p)| *p == nodes[0].1)
}

/// The nodes in preference order: highest priority first, then as written.
fn by_priority(nodes: &[(String, i64)]) -> Vec<String> {
    let mut v: Vec<(usize, &(String, i64))> = nodes.iter().enumerate().collect();
    v.sort_by_key(|(i, (_, p))| (std::cmp::Reverse(*p), *i));
    v.into_iter().map(|(_, (n, _))| n.clone()).collect()
}

fn flag(s: &Section<'_>, key: &str, file: &str) -> Result<bool, ImportError> {
    match s.get(key) {
        None => Ok(false),
        Some("" | "1") => Ok(true),
        Some("0") => Ok(false),
        Some(other) => Err(ImportError::field(
            file,
            format!("line {}: {} {}", s.line_of(key), s.id, key),
            format!("expected 0 or 1, found {other:?}"),
        )),
    }
}

pub(crate) fn read(files: &[File<'_>], options: &Options) -> Result<Draft, ImportError> {
    let mut draft = Draft::default();
    let mut texts = Vec::new();
    for f in files {
        let text = input::text(f)?;
        let values = if input::looks_like_json(text) {
            input::json_values(f)?
        } else {
            Vec::new()
        };
        texts.push((f, text, values));
    }
    let mut kinds = Vec::new();
    for (f, text, values) in &texts {
        let kind = if values.is_empty() {
            classify_text(f, text)?
        } else {
            classify(f, values)?
        };
        kinds.push((f.name, kind));
    }

    let cpu = options.cpu_overcommit;
    let mut ha: BTreeMap<String, HaConfig> = BTreeMap::new();
    let mut groups: BTreeMap<String, (Vec<(String, i64)>, bool)> = BTreeMap::new();
    let mut stats: BTreeMap<String, (Option<u64>, Option<u64>, At<'_>)> = BTreeMap::new();
    let mut guests_from_resources = false;
    let mut hosts_without_capacity = Vec::new();

    for (f, text, values) in &texts {
        let _ = text;
        if let Some(v) = values.first() {
            let root = At::root(f.name, v);
            let status = match root.get("cluster/status") {
                Some(s) => Some(s),
                None if v.is_array() => Some(root.clone()),
                None => None,
            };
            for item in status.map(|s| s.array()).transpose()?.unwrap_or_default() {
                if item.get("type").and_then(|t| t.v.as_str()) == Some("cluster") {
                    if let Some(n) = item.get("name") {
                        draft.name = Some(n.str()?.to_string());
                    }
                }
            }
        }
    }

    // Nodes first (resources, then the simulator's hardware).
    for (file, kind) in &kinds {
        match kind {
            Kind::Resources(items) => {
                for item in items {
                    if item.get("type").map(|t| t.v.as_str()) != Some(Some("node")) {
                        continue;
                    }
                    let name = item.req("node")?.name()?;
                    if draft.host(name).is_some() {
                        return Err(item.err(format!("node {name} listed twice")));
                    }
                    let mut host = Host::new(name);
                    host.labels.insert("proxmox_node".into(), name.to_string());
                    let status = item.opt_str("status")?.unwrap_or("online");
                    let maxmem = item.opt_u64("maxmem")?;
                    match (status, maxmem) {
                        ("online", Some(m)) => {
                            let mib = bytes_to_mib(m, Round::Down);
                            let mib = draft.capacity_amount(&format!("node {name} memory"), mib);
                            host.capacity.insert("memory_mib".into(), mib);
                            if cpu.is_some() {
                                let c = item.req("maxcpu")?.u64()?;
                                host.capacity.insert("vcpus".into(), c);
                            }
                        }
                        ("online", None) => {
                            return Err(item
                                .req("maxmem")
                                .err()
                                .unwrap_or_else(|| item.err("missing maxmem")));
                        }
                        _ => {
                            host.state = HostState::Down;
                            draft.warn(
                                "node-offline",
                                format!("node {name} is {status}: taken as failed now, so its HA guests need somewhere to restart"),
                            );
                        }
                    }
                    draft.hosts.push(host);
                }
            }
            Kind::Hardware(root) => {
                for (name, node) in root.entries()? {
                    if draft.host(name).is_some() {
                        continue; // resources said more
                    }
                    let mut host = Host::new(name);
                    host.labels.insert("proxmox_node".into(), name.to_string());
                    match node.opt_u64("maxmem")? {
                        Some(m) => {
                            let mib = bytes_to_mib(m, Round::Down);
                            let mib = draft.capacity_amount(&format!("node {name} memory"), mib);
                            host.capacity.insert("memory_mib".into(), mib);
                        }
                        None => hosts_without_capacity.push(name.to_string()),
                    }
                    if cpu.is_some() {
                        if let Some(c) = node.get("maxcpu") {
                            host.capacity.insert("vcpus".into(), c.u64()?);
                        }
                    }
                    draft.hosts.push(host);
                }
                let _ = file;
            }
            _ => {}
        }
    }

    // HA configuration.
    for (file, kind) in &kinds {
        match kind {
            Kind::HaResources(sections) => {
                for s in sections {
                    let sid = format!("{}:{}", s.kind, s.id);
                    ha.insert(
                        sid,
                        HaConfig {
                            state: s.get("state").map(str::to_string),
                            group: s.get("group").map(str::to_string),
                            origin: format!("{file}: line {}", s.line),
                        },
                    );
                }
            }
            Kind::Services(root) => {
                for (sid, svc) in root.entries()? {
                    ha.insert(
                        sid.to_string(),
                        HaConfig {
                            state: svc
                                .get("state")
                                .map(|s| s.str().map(str::to_string))
                                .transpose()?,
                            group: svc
                                .get("group")
                                .map(|s| s.str().map(str::to_string))
                                .transpose()?,
                            origin: format!("{file}: {sid}"),
                        },
                    );
                }
            }
            Kind::Groups(sections) => {
                for s in sections {
                    let nodes = node_list(s.get("nodes").unwrap_or(""));
                    let restricted = flag(s, "restricted", file)?;
                    groups.insert(s.id.to_string(), (nodes, restricted));
                }
            }
            Kind::Stats(root) => {
                for (sid, st) in root.entries()? {
                    let mem = st.opt_u64("maxmem")?;
                    let c = st.opt_u64("maxcpu")?;
                    stats.insert(sid.to_string(), (mem, c, st));
                }
            }
            _ => {}
        }
    }

    // Guests: from resources, else from the simulator's services.
    for (_, kind) in &kinds {
        let Kind::Resources(items) = kind else {
            continue;
        };
        for item in items {
            let ty = item.opt_str("type")?.unwrap_or("");
            if ty != "qemu" && ty != "lxc" {
                continue;
            }
            guests_from_resources = true;
            if item.opt_bool("template")? == Some(true) {
                continue;
            }
            let vmid = match item.get("vmid") {
                Some(v) => v.u64()?,
                None => {
                    let id = item.req("id")?;
                    id.str()?
                        .rsplit_once('/')
                        .and_then(|(_, n)| n.parse().ok())
                        .ok_or_else(|| id.err("expected TYPE/VMID"))?
                }
            };
            let sid = format!("{}:{vmid}", if ty == "qemu" { "vm" } else { "ct" });
            let node = item.req("node")?.name()?;
            if draft.host(node).is_none() {
                return Err(item
                    .get("node")
                    .unwrap()
                    .err(format!("node {node} is not among the nodes")));
            }
            let name = item
                .opt_str("name")?
                .filter(|n| !n.is_empty())
                .map_or_else(|| sid.clone(), str::to_string);
            let mut vm = Vm::new(name, node);
            vm.power = match item.opt_str("status")?.unwrap_or("running") {
                "running" => Power::Running,
                "paused" | "suspended" | "prelaunch" => Power::Paused,
                "stopped" => Power::Halted,
                other => {
                    draft.warn(
                        "guest-status-unknown",
                        format!("guest {sid} has status {other:?}: taken as running"),
                    );
                    Power::Running
                }
            };
            let mem = item.req("maxmem")?.u64()?;
            let mib = bytes_to_mib(mem, Round::Up);
            let mib = draft.demand_amount(&format!("guest {sid} memory"), mib);
            vm.demand.insert("memory_mib".into(), mib);
            if cpu.is_some() {
                vm.demand.insert("vcpus".into(), item.req("maxcpu")?.u64()?);
            }
            let hastate = item.opt_str("hastate")?;
            vm.restart = restart_of(ha.get(&sid), hastate);
            if !draft.add_vm(sid.clone(), vm) {
                return Err(item.err(format!("guest {sid} listed twice")));
            }
        }
    }
    if !guests_from_resources {
        for (sid, cfg) in &ha {
            let Some(node) = cfg_node(&kinds, sid)? else {
                continue;
            };
            if draft.host(&node).is_none() {
                return Err(ImportError::Incomplete(format!(
                    "{}: HA resource {sid} is on node {node}, which no file describes",
                    cfg.origin
                )));
            }
            let mut vm = Vm::new(sid.clone(), node);
            vm.restart = restart_of(Some(cfg), None);
            vm.power = match cfg.state.as_deref() {
                Some("stopped" | "disabled") => Power::Halted,
                _ => Power::Running,
            };
            if let Some((mem, c, at)) = stats.get(sid) {
                if let Some(m) = mem {
                    let mib = bytes_to_mib(*m, Round::Up);
                    let mib = draft.demand_amount(&format!("guest {sid} memory"), mib);
                    vm.demand.insert("memory_mib".into(), mib);
                }
                if cpu.is_some() {
                    match c {
                        Some(c) => {
                            vm.demand.insert("vcpus".into(), *c);
                        }
                        None => return Err(at.err("maxcpu missing")),
                    }
                }
            }
            draft.add_vm(sid.clone(), vm);
        }
    } else {
        let unknown: Vec<&String> = ha.keys().filter(|sid| draft.vm(sid).is_none()).collect();
        if !unknown.is_empty() {
            draft.warn(
                "unknown-vm-in-rule",
                format!(
                    "HA resources that /cluster/resources does not list were left out: {}",
                    unknown
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
        }
    }
    if !hosts_without_capacity.is_empty() {
        draft.warn(
            "no-capacity",
            format!(
                "nodes without maxmem (the HA simulator's basic scheduler, which ignores resources): no resource limits modelled on {}",
                hosts_without_capacity.join(", ")
            ),
        );
    }

    // Groups (before PVE 9): restricted groups limit where a guest runs,
    // priorities order where it prefers to.
    let sids: Vec<String> = draft.vms().map(|(k, _)| k.to_string()).collect();
    for sid in &sids {
        let Some(group) = ha.get(sid).and_then(|c| c.group.clone()) else {
            continue;
        };
        let Some((nodes, restricted)) = groups.get(&group) else {
            draft.warn("unknown-group", format!("HA resource {sid} names group {group}, which no groups file defines; no node rule applied"));
            continue;
        };
        let order = by_priority(nodes);
        let vm = draft.vm_mut(sid).expect("listed");
        if *restricted {
            vm.allowed_hosts = Some(order.iter().cloned().collect());
        }
        // Among allowed nodes of one priority there is nothing to prefer.
        if !*restricted || !same_priority(nodes) {
            vm.preferred_hosts = order;
        }
    }

    // Rules (PVE 9).
    for (file, kind) in &kinds {
        let Kind::Rules(sections) = kind else {
            continue;
        };
        for s in sections {
            if flag(s, "disable", file)? {
                draft.warn(
                    "rule-disabled",
                    format!("{file}: rule {} is disabled; left out", s.id),
                );
                continue;
            }
            let resources: Vec<String> = s
                .get("resources")
                .unwrap_or("")
                .split(',')
                .map(|r| r.trim().to_string())
                .filter(|r| !r.is_empty())
                .collect();
            if resources.is_empty() {
                return Err(ImportError::field(
                    file,
                    format!("line {}: {}", s.line, s.id),
                    "a rule without resources",
                ));
            }
            match s.kind {
                "node-affinity" => {
                    let nodes = node_list(s.get("nodes").unwrap_or(""));
                    if nodes.is_empty() {
                        return Err(ImportError::field(
                            file,
                            format!("line {}: {}", s.line, s.id),
                            "a node-affinity rule without nodes",
                        ));
                    }
                    let strict = flag(s, "strict", file)?;
                    let order = by_priority(&nodes);
                    let mut missing = Vec::new();
                    for r in &resources {
                        match draft.vm_mut(r) {
                            Some(vm) => {
                                if strict {
                                    let set: BTreeSet<String> = order.iter().cloned().collect();
                                    vm.allowed_hosts = Some(match vm.allowed_hosts.take() {
                                        Some(a) => a.intersection(&set).cloned().collect(),
                                        None => set,
                                    });
                                }
                                if !strict || !same_priority(&nodes) {
                                    vm.preferred_hosts = order.clone();
                                }
                            }
                            None => missing.push(r.clone()),
                        }
                    }
                    if !missing.is_empty() {
                        draft.warn(
                            "unknown-vm-in-rule",
                            format!(
                                "rule {} names guests that no file lists, left out: {}",
                                s.id,
                                missing.join(", ")
                            ),
                        );
                    }
                    if nodes.iter().any(|(_, p)| *p != 0)
                        && nodes.iter().any(|(_, p)| *p != nodes[0].1)
                    {
                        draft.warn(
                            "node-priority",
                            format!("rule {}: Proxmox recovers to the online nodes of the highest priority first; haplan keeps the priorities as an order of preference", s.id),
                        );
                    }
                }
                "resource-affinity" => {
                    let affinity = match s.get("affinity") {
                        Some("positive") => Affinity::Together,
                        Some("negative") => Affinity::Apart,
                        other => {
                            return Err(ImportError::field(
                                file,
                                format!("line {}: {} affinity", s.line_of("affinity"), s.id),
                                format!(
                                    "expected positive or negative, found {:?}",
                                    other.unwrap_or("")
                                ),
                            ));
                        }
                    };
                    draft.groups.push(Group {
                        name: s.id.to_string(),
                        affinity,
                        max_per_host: (affinity == Affinity::Apart).then_some(1),
                        strict: true,
                        members: resources,
                    });
                }
                _ => unreachable!("classified"),
            }
        }
    }

    if cpu.is_none() {
        draft.warn(
            "cpu-not-modelled",
            "Proxmox VE puts no limit on vCPU overcommit: only memory is modelled (give a CPU overcommit ratio to model vCPUs)",
        );
    } else if let Some(r) = cpu {
        draft.ha.overcommit.insert("vcpus".into(), r);
    }
    draft.warn(
        "no-restart-priority",
        "Proxmox VE HA has no restart priority or order: every guest keeps the default priority (medium) and order",
    );
    if guests_from_resources {
        draft.warn(
            "storage-unknown",
            "/cluster/resources does not say which storage a guest's disks are on: every guest is taken as able to run on every node (Proxmox HA needs shared or replicated storage for that)",
        );
    }
    let _ = ha;
    Ok(draft)
}

/// Protected when the HA manager is asked to keep it started.
fn restart_of(cfg: Option<&HaConfig>, hastate: Option<&str>) -> Restart {
    match (cfg.and_then(|c| c.state.as_deref()), cfg.is_some(), hastate) {
        (Some("started" | "enabled"), _, _) => Restart::Protected,
        (Some(_), _, _) => Restart::Unprotected,
        (None, true, _) => Restart::Protected, // the default state is started
        (None, false, Some("ignored" | "stopped" | "disabled" | "")) => Restart::Unprotected,
        (None, false, Some(_)) => Restart::Protected,
        (None, false, None) => Restart::Unprotected,
    }
}

/// The node of an HA resource in the simulator's service_config.
fn cfg_node(kinds: &[(&str, Kind<'_>)], sid: &str) -> Result<Option<String>, ImportError> {
    for (_, kind) in kinds {
        if let Kind::Services(root) = kind {
            if let Some(svc) = root.get(sid) {
                return Ok(Some(svc.req("node")?.name()?.to_string()));
            }
        }
    }
    Ok(None)
}
