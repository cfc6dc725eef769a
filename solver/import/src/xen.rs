//! XenServer / XCP-ng: XenAPI records as JSON, either one file of every
//! class (`{"host": {REF: record, ...}, "VM": {...}, ...}`) or one file
//! per class (`{REF: record, ...}`, what `get_all_records()` returns),
//! each class recognised by its records' fields: pool, host,
//! host_metrics, VM, SR, PBD, VBD, VDI, VIF, network, PIF, VM_group,
//! Cluster, Cluster_host.
//!
//! VMs are sized as xapi's HA planner sizes them (`Xapi_ha_vm_failover.
//! vm_memory`): memory_dynamic_min for HVM and PV guests, memory_static_max
//! for PVH, plus the VM's memory_overhead.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::Value;

use crate::draft::{Affinity, Draft, Group, Host, HostState, Power, Restart, Vm};
use crate::input::{self, At};
use crate::units::{Round, bytes_to_mib};
use crate::{File, ImportError, Options};

const CLASSES: &[(&str, &[&str])] = &[
    ("pool", &["master", "ha_enabled"]),
    ("host_metrics", &["memory_total", "live"]),
    ("host", &["hostname", "resident_VMs"]),
    ("VM_metrics", &["VCPUs_number", "memory_actual"]),
    ("VM_group", &["placement", "VMs"]),
    ("VM", &["power_state", "is_control_domain"]),
    ("SR", &["content_type", "PBDs"]),
    ("PBD", &["SR", "host", "currently_attached"]),
    ("VBD", &["VM", "VDI", "bootable"]),
    ("VDI", &["SR", "virtual_size"]),
    ("VIF", &["VM", "network", "MAC"]),
    ("PIF", &["network", "host", "device"]),
    ("network", &["bridge", "PIFs"]),
    ("Cluster_host", &["cluster", "host", "joined"]),
    ("Cluster", &["cluster_hosts", "cluster_stack"]),
];

fn class_of(record: &Value) -> Option<&'static str> {
    CLASSES
        .iter()
        .find(|(_, keys)| keys.iter().all(|k| record.get(k).is_some()))
        .map(|(c, _)| *c)
}

type Records<'a> = BTreeMap<&'static str, Vec<(String, At<'a>)>>;

fn collect<'a>(file: &'a File<'a>, v: &'a Value, out: &mut Records<'a>) -> Result<(), ImportError> {
    let root = At::root(file.name, v);
    let unrecognised = || ImportError::Unrecognised {
        file: file.name.to_string(),
        platform: "a XenServer",
        expected: "XenAPI records as JSON: {REF: record} of one class, or {CLASS: {REF: record}}",
    };
    let obj = root.object().map_err(|_| unrecognised())?;
    if obj.is_empty() {
        return Ok(());
    }
    // A bundle of classes.
    if obj.keys().all(|k| CLASSES.iter().any(|(c, _)| c == k)) {
        for (class, records) in root.entries()? {
            let class = CLASSES.iter().find(|(c, _)| *c == class).unwrap().0;
            for (r, rec) in records.entries()? {
                out.entry(class).or_default().push((r.to_string(), rec));
            }
        }
        return Ok(());
    }
    // One class.
    let mut class = None;
    for (_, rec) in obj {
        let c = class_of(rec).ok_or_else(unrecognised)?;
        if class.is_some_and(|k| k != c) {
            return Err(unrecognised());
        }
        class = Some(c);
    }
    for (r, rec) in root.entries()? {
        out.entry(class.unwrap())
            .or_default()
            .push((r.to_string(), rec));
    }
    Ok(())
}

fn strs<'a>(at: &At<'a>, key: &str) -> Result<Vec<&'a str>, ImportError> {
    match at.get(key) {
        None => Ok(Vec::new()),
        Some(a) => a.array()?.iter().map(|x| x.str()).collect(),
    }
}

const NULL: &str = "OpaqueRef:NULL";

pub(crate) fn read(files: &[File<'_>], options: &Options) -> Result<Draft, ImportError> {
    let mut values = Vec::new();
    for f in files {
        values.push(input::json(f).map_err(|e| match e {
            ImportError::Syntax { .. } if !input::looks_like_json(input::text(f).unwrap_or("")) => {
                ImportError::Unrecognised {
                    file: f.name.to_string(),
                    platform: "a XenServer",
                    expected: "XenAPI records as JSON",
                }
            }
            e => e,
        })?);
    }
    let mut recs: Records<'_> = BTreeMap::new();
    for (f, v) in files.iter().zip(&values) {
        collect(f, v, &mut recs)?;
    }
    let by_ref = |class: &str| -> HashMap<&str, &At<'_>> {
        recs.get(class)
            .map(|v| v.iter().map(|(r, a)| (r.as_str(), a)).collect())
            .unwrap_or_default()
    };
    let metrics = by_ref("host_metrics");
    let srs = by_ref("SR");
    let vdis = by_ref("VDI");
    let networks = by_ref("network");
    let groups_by_ref = by_ref("VM_group");
    let mut draft = Draft::default();

    if let Some(pools) = recs.get("pool") {
        if let Some((_, p)) = pools.first() {
            if let Some(n) = p.get("name_label") {
                draft.name = Some(n.str()?.to_string());
            }
            if let Some(e) = p.get("ha_enabled") {
                let on = e.bool()?;
                if !on {
                    draft.warn("ha-off", "HA is not enabled on this pool: haplan answers as if it were, with the pool's settings");
                }
            }
            if let Some(k) = p.get("ha_host_failures_to_tolerate") {
                draft.ha.host_failures_to_tolerate = Some(k.u64()?);
            }
        }
    }

    // Names: a label several objects share gets its UUID appended.
    fn label_names<'a>(items: &[(String, At<'a>)]) -> Result<HashMap<String, String>, ImportError> {
        let mut count: HashMap<&str, usize> = HashMap::new();
        for (_, a) in items {
            *count
                .entry(a.opt_str("name_label")?.unwrap_or(""))
                .or_default() += 1;
        }
        let mut out = HashMap::new();
        for (r, a) in items {
            let label = a.opt_str("name_label")?.unwrap_or("");
            let uuid = a.opt_str("uuid")?.unwrap_or(r.as_str());
            let name = if label.is_empty() || count[label] > 1 {
                if label.is_empty() {
                    uuid.to_string()
                } else {
                    format!("{label} ({uuid})")
                }
            } else {
                label.to_string()
            };
            out.insert(r.clone(), name);
        }
        Ok(out)
    }
    let sr_names = label_names(recs.get("SR").map_or(&[][..], |v| v))?;
    let net_names = label_names(recs.get("network").map_or(&[][..], |v| v))?;

    // Hosts.
    let mut host_name: HashMap<String, String> = HashMap::new();
    let hosts = recs.get("host").cloned().unwrap_or_default();
    let mut dom0_mem: HashMap<String, u64> = HashMap::new();
    if let Some(vms) = recs.get("VM") {
        for (_, vm) in vms {
            if vm.req("is_control_domain")?.bool()? {
                let on = vm.opt_str("resident_on")?.unwrap_or(NULL);
                let mem = vm.opt_u64("memory_static_max")?.unwrap_or(0)
                    + vm.opt_u64("memory_overhead")?.unwrap_or(0);
                *dom0_mem.entry(on.to_string()).or_default() += mem;
            }
        }
    }
    for (r, h) in &hosts {
        let name = h
            .get("name_label")
            .map(|n| n.name())
            .transpose()?
            .unwrap_or(r.as_str())
            .to_string();
        host_name.insert(r.clone(), name.clone());
        let mut host = Host::new(&name);
        if let Some(u) = h.get("uuid") {
            host.labels.insert("xen_uuid".into(), u.str()?.to_string());
        }
        let m_ref = h.req("metrics")?.str()?;
        let Some(m) = metrics.get(m_ref) else {
            return Err(h
                .req("metrics")?
                .err(format!("no host_metrics record {m_ref} among the files")));
        };
        let total = m.req("memory_total")?.u64()?;
        let live = m.opt_bool("live")?.unwrap_or(true);
        let enabled = h.opt_bool("enabled")?.unwrap_or(true);
        let mib = bytes_to_mib(total, Round::Down);
        let mib = draft.capacity_amount(&format!("host {name} memory"), mib);
        host.capacity.insert("memory_mib".into(), mib);
        let overhead = h.opt_u64("memory_overhead")?.unwrap_or(0)
            + dom0_mem.get(r.as_str()).copied().unwrap_or(0);
        if overhead > 0 {
            let o = bytes_to_mib(overhead, Round::Up);
            let o = draft.demand_amount(&format!("host {name} overhead and control domain"), o);
            host.reserved.insert("memory_mib".into(), o);
        }
        if options.cpu_overcommit.is_some() {
            let cpus = h
                .get("cpu_info")
                .and_then(|c| c.get("cpu_count"))
                .ok_or_else(|| h.err("cpu_info.cpu_count missing (needed to model vCPUs)"))?
                .u64()?;
            host.capacity.insert("vcpus".into(), cpus);
        }
        if !live {
            host.state = HostState::Down;
            draft.warn(
                "host-down",
                format!("host {name} is not live: taken as failed now"),
            );
        } else if !enabled {
            host.state = HostState::Maintenance;
            draft.warn(
                "host-disabled",
                format!(
                    "host {name} is disabled (maintenance mode): it neither fails nor receives VMs"
                ),
            );
        }
        for pbd in recs.get("PBD").map_or(&[][..], |v| v) {
            let (_, p) = pbd;
            if p.req("host")?.str()? == r && p.opt_bool("currently_attached")?.unwrap_or(true) {
                if let Some(n) = sr_names.get(p.req("SR")?.str()?) {
                    host.storage.insert(n.clone());
                }
            }
        }
        for (_, pif) in recs.get("PIF").map_or(&[][..], |v| v) {
            if pif.req("host")?.str()? == r {
                if let Some(n) = net_names.get(pif.req("network")?.str()?) {
                    host.networks.insert(n.clone());
                }
            }
        }
        draft.hosts.push(host);
    }

    // VMs.
    let mut vm_disks: HashMap<&str, Vec<&At<'_>>> = HashMap::new();
    for (_, vbd) in recs.get("VBD").map_or(&[][..], |v| v) {
        vm_disks.entry(vbd.req("VM")?.str()?).or_default().push(vbd);
    }
    let mut vm_nics: HashMap<&str, Vec<&At<'_>>> = HashMap::new();
    for (_, vif) in recs.get("VIF").map_or(&[][..], |v| v) {
        vm_nics.entry(vif.req("VM")?.str()?).or_default().push(vif);
    }
    let vms = recs.get("VM").cloned().unwrap_or_default();
    let vm_names = label_names(&vms)?;
    let mut skipped_halted = Vec::new();
    let mut memberships: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (r, v) in &vms {
        if v.req("is_control_domain")?.bool()?
            || v.opt_bool("is_a_template")?.unwrap_or(false)
            || v.opt_bool("is_a_snapshot")?.unwrap_or(false)
        {
            continue;
        }
        let name = vm_names[r].clone();
        let power = match v.req("power_state")?.str()? {
            "Running" | "running" => Power::Running,
            "Paused" | "paused" => Power::Paused,
            "Halted" | "halted" | "Suspended" | "suspended" => Power::Halted,
            other => {
                return Err(v
                    .req("power_state")?
                    .err(format!("unknown power state {other:?}")));
            }
        };
        let resident = v.opt_str("resident_on")?.unwrap_or(NULL);
        let host = match host_name.get(resident) {
            Some(h) => h.clone(),
            None if power == Power::Halted => {
                let aff = v.opt_str("affinity")?.unwrap_or(NULL);
                match host_name.get(aff) {
                    Some(h) => h.clone(),
                    None => {
                        skipped_halted.push(name);
                        continue;
                    }
                }
            }
            None => {
                return Err(v.req("resident_on")?.err(format!(
                    "VM {name} is {power:?} on host {resident}, which no host record describes"
                )));
            }
        };
        let mut vm = Vm::new(name.clone(), host);
        vm.power = power;
        let domain_type = v.opt_str("domain_type")?.unwrap_or("hvm");
        let mem = match domain_type {
            "pvh" | "pv_in_pvh" => v.req("memory_static_max")?.u64()?,
            _ => v.req("memory_dynamic_min")?.u64()?,
        } + v.opt_u64("memory_overhead")?.unwrap_or(0);
        let mib = bytes_to_mib(mem, Round::Up);
        let mib = draft.demand_amount(&format!("VM {name} memory"), mib);
        vm.demand.insert("memory_mib".into(), mib);
        if options.cpu_overcommit.is_some() {
            vm.demand.insert("vcpus".into(), v.req("VCPUs_max")?.u64()?);
        }
        let prio = v.opt_str("ha_restart_priority")?.unwrap_or("");
        let always = v.opt_bool("ha_always_run")?.unwrap_or(true);
        vm.restart = match prio {
            "restart" | "0" | "1" | "2" | "3" if always => Restart::Protected,
            "best-effort" => Restart::BestEffort,
            _ => Restart::Unprotected,
        };
        if let Some(o) = v.get("order") {
            vm.order = Some(o.u64()?);
        }
        if let Some(d) = v.get("start_delay") {
            let d = d.u64()?;
            if d > 0 {
                vm.start_delay_s = Some(d);
            }
        }
        for vbd in vm_disks.get(r.as_str()).map_or(&[][..], |v| v) {
            if vbd.opt_bool("empty")?.unwrap_or(false) {
                continue;
            }
            let vdi = vbd.req("VDI")?.str()?;
            if vdi == NULL {
                continue;
            }
            let Some(vdi) = vdis.get(vdi) else {
                return Err(vbd
                    .req("VDI")?
                    .err(format!("no VDI record {vdi} among the files")));
            };
            let sr = vdi.req("SR")?.str()?;
            match sr_names.get(sr) {
                Some(n) => {
                    vm.storage.insert(n.clone());
                }
                None => {
                    return Err(vdi
                        .req("SR")?
                        .err(format!("no SR record {sr} among the files")));
                }
            }
        }
        for vif in vm_nics.get(r.as_str()).map_or(&[][..], |v| v) {
            let net = vif.req("network")?.str()?;
            match net_names.get(net) {
                Some(n) => {
                    vm.networks.insert(n.clone());
                }
                None => {
                    return Err(vif
                        .req("network")?
                        .err(format!("no network record {net} among the files")));
                }
            }
        }
        for g in strs(v, "groups")? {
            memberships
                .entry(g.to_string())
                .or_default()
                .push(r.clone());
        }
        draft.add_vm(r.clone(), vm);
    }
    let _ = (srs, networks);
    if !skipped_halted.is_empty() {
        draft.warn(
            "halted-without-host",
            format!(
                "halted VMs with no home host were left out (they hold nothing): {}",
                skipped_halted.join(", ")
            ),
        );
    }

    // VM groups: xapi's anti-affinity placement is best effort, and it
    // spreads a group evenly rather than one VM per host
    // (`Xapi_ha_vm_failover.compute_spread_evenly_plan`: each member to a
    // host with the fewest members of its group). Written as a soft apart
    // group whose cap is that even spread over the hosts left after the
    // configured number of failures (at least one): ceil(members that
    // hold resources / hosts left).
    let up = draft
        .hosts
        .iter()
        .filter(|h| h.state == HostState::Up)
        .count() as u64;
    let failures = draft.ha.host_failures_to_tolerate.unwrap_or(1).max(1);
    let left = up.saturating_sub(failures);
    for (g_ref, members) in memberships {
        let Some(g) = groups_by_ref.get(g_ref.as_str()) else {
            draft.warn(
                "unknown-group",
                format!("VMs name VM_group {g_ref}, which no record describes; left out"),
            );
            continue;
        };
        let name = g
            .opt_str("name_label")?
            .unwrap_or(g_ref.as_str())
            .to_string();
        match g.req("placement")?.str()? {
            "anti_affinity" | "anti-affinity" => {
                let running = members
                    .iter()
                    .filter(|m| draft.vm(m).is_some_and(|v| v.power != Power::Halted))
                    .count() as u64;
                if running >= 2 && left < 2 {
                    // xapi ignores anti-affinity with fewer than three
                    // hosts; with one host left there is nothing to spread.
                    draft.warn(
                        "group-not-spread",
                        format!(
                            "VM_group {name} (anti-affinity) was left out: after {failures} host failure(s) at most {left} host(s) remain, so its VMs cannot be spread"
                        ),
                    );
                    continue;
                }
                draft.groups.push(Group {
                    name,
                    affinity: Affinity::Apart,
                    max_per_host: Some(running.div_ceil(left.max(1)).max(1)),
                    strict: false,
                    members,
                });
            }
            _ => {}
        }
    }

    // The cluster stack keeps quorum only while fewer than half fail.
    if recs.get("Cluster").is_some_and(|c| !c.is_empty()) {
        let enabled: BTreeSet<&str> = recs
            .get("Cluster_host")
            .map_or(&[][..], |v| v)
            .iter()
            .filter(|(_, ch)| {
                ch.get("enabled")
                    .map(|e| e.bool().unwrap_or(true))
                    .unwrap_or(true)
            })
            .filter_map(|(_, ch)| ch.get("host").and_then(|h| h.str().ok()))
            .collect();
        let n = hosts.len();
        let disabled = hosts
            .iter()
            .filter(|(r, _)| !enabled.contains(r.as_str()))
            .count();
        let bound = (n - disabled).saturating_sub(1) / 2 + disabled;
        draft.warn(
            "quorum-limit",
            format!("the pool's cluster stack keeps quorum only while at most {bound} hosts fail, and xapi caps the host failures to tolerate there; haplan's tolerance counts capacity and rules only"),
        );
    }

    draft.warn(
        "no-restart-priority",
        "XenServer restarts protected VMs by order, with no priority among them: every VM keeps the default priority (medium)",
    );
    if options.cpu_overcommit.is_none() {
        draft.warn("cpu-not-modelled", "xapi's HA plan counts memory only: vCPUs are not modelled (give a CPU overcommit ratio to model them)");
    } else if let Some(r) = options.cpu_overcommit {
        draft.ha.overcommit.insert("vcpus".into(), r);
    }
    Ok(draft)
}
