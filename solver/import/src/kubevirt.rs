//! KubeVirt: `kubectl get nodes,vmis -o json` (or `-o yaml`), optionally
//! with the VirtualMachines (`vms`) and PriorityClasses
//! (`priorityclasses`), as one list or several files.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::draft::{Affinity, Draft, Group, Host, HostState, Power, Priority, Restart, Vm};
use crate::input::{self, At};
use crate::units::{Converted, Quantity, Round};
use crate::{File, ImportError, Options};

const KINDS: &[&str] = &[
    "Node",
    "VirtualMachineInstance",
    "VirtualMachine",
    "PriorityClass",
];
const ZONE: &str = "topology.kubernetes.io/zone";
const HOSTNAME: &str = "kubernetes.io/hostname";

fn documents(file: &File<'_>) -> Result<Vec<Value>, ImportError> {
    let text = input::text(file)?;
    if input::looks_like_json(text) {
        return input::json_values(file);
    }
    let mut out = Vec::new();
    for doc in serde_norway::Deserializer::from_str(text) {
        let v: Value = serde::Deserialize::deserialize(doc)
            .map_err(|e| ImportError::syntax(file.name, format!("invalid YAML: {e}")))?;
        if !v.is_null() {
            out.push(v);
        }
    }
    Ok(out)
}

fn objects<'a>(
    file: &'a File<'a>,
    docs: &'a [Value],
    out: &mut Vec<At<'a>>,
) -> Result<(), ImportError> {
    let unrecognised = || ImportError::Unrecognised {
        file: file.name.to_string(),
        platform: "a KubeVirt",
        expected: "kubectl get nodes,vmis[,vms,priorityclasses] -o json or -o yaml",
    };
    if docs.is_empty() {
        return Err(unrecognised());
    }
    for d in docs {
        let root = At::root(file.name, d);
        let kind = root
            .get("kind")
            .and_then(|k| k.v.as_str())
            .ok_or_else(unrecognised)?;
        if kind == "List" || kind.ends_with("List") {
            for item in root.req("items")?.array()? {
                let k = item.get("kind").and_then(|k| k.v.as_str()).unwrap_or("");
                if KINDS.contains(&k) {
                    out.push(item);
                } else if k.is_empty() {
                    return Err(item.err("an item without kind"));
                }
            }
        } else if KINDS.contains(&kind) {
            out.push(root);
        } else {
            return Err(unrecognised());
        }
    }
    Ok(())
}

fn labels<'a>(obj: &At<'a>) -> Result<BTreeMap<String, String>, ImportError> {
    let mut out = BTreeMap::new();
    if let Some(l) = obj.get("metadata").and_then(|m| m.get("labels")) {
        for (k, v) in l.entries()? {
            out.insert(k.to_string(), v.str()?.to_string());
        }
    }
    Ok(out)
}

fn meta_name<'a>(obj: &At<'a>) -> Result<&'a str, ImportError> {
    obj.req("metadata")?.req("name")?.name()
}

fn namespace<'a>(obj: &At<'a>) -> Result<&'a str, ImportError> {
    Ok(obj
        .get("metadata")
        .and_then(|m| m.get("namespace"))
        .map(|n| n.str())
        .transpose()?
        .unwrap_or("default"))
}

fn quantity(at: &At<'_>, num: u128, den: u128, round: Round) -> Result<Converted, ImportError> {
    let q = match at.v {
        Value::String(s) => Quantity::parse(s).map_err(|e| at.err(e.0))?,
        Value::Number(_) => {
            let text = at.v.to_string();
            Quantity::parse(&text).map_err(|e| at.err(e.0))?
        }
        _ => return Err(at.err("expected a quantity")),
    };
    q.to_units(num, den, round).map_err(|e| at.err(e.0))
}

/// A label selector: matchLabels and matchExpressions.
fn selector_matches(sel: &At<'_>, labels: &BTreeMap<String, String>) -> Result<bool, ImportError> {
    if let Some(ml) = sel.get("matchLabels") {
        for (k, v) in ml.entries()? {
            if labels.get(k).map(String::as_str) != Some(v.str()?) {
                return Ok(false);
            }
        }
    }
    if let Some(me) = sel.get("matchExpressions") {
        for e in me.array()? {
            if !expression_matches(&e, labels)? {
                return Ok(false);
            }
        }
    }
    Ok(true)
}

fn expression_matches(e: &At<'_>, labels: &BTreeMap<String, String>) -> Result<bool, ImportError> {
    let key = e.req("key")?.str()?;
    let values: Vec<&str> = match e.get("values") {
        Some(v) => v
            .array()?
            .iter()
            .map(|x| x.str())
            .collect::<Result<_, _>>()?,
        None => Vec::new(),
    };
    let have = labels.get(key).map(String::as_str);
    Ok(match e.req("operator")?.str()? {
        "In" => have.is_some_and(|h| values.contains(&h)),
        "NotIn" => !have.is_some_and(|h| values.contains(&h)),
        "Exists" => have.is_some(),
        "DoesNotExist" => have.is_none(),
        "Gt" | "Lt" => {
            let (Some(h), Some(v)) = (
                have.and_then(|h| h.parse::<i64>().ok()),
                values.first().and_then(|v| v.parse::<i64>().ok()),
            ) else {
                return Ok(false);
            };
            if e.req("operator")?.str()? == "Gt" {
                h > v
            } else {
                h < v
            }
        }
        other => {
            return Err(e
                .req("operator")?
                .err(format!("unknown operator {other:?}")));
        }
    })
}

struct VmiInfo {
    key: String,
    namespace: String,
    labels: BTreeMap<String, String>,
}

pub(crate) fn read(files: &[File<'_>], options: &Options) -> Result<Draft, ImportError> {
    let docs: Vec<Vec<Value>> = files.iter().map(documents).collect::<Result<_, _>>()?;
    let mut objs = Vec::new();
    for (f, d) in files.iter().zip(&docs) {
        objects(f, d, &mut objs)?;
    }
    let kind = |o: &At<'_>| {
        o.get("kind")
            .and_then(|k| k.v.as_str())
            .unwrap_or("")
            .to_string()
    };
    let mut draft = Draft::default();
    let mut node_labels: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut taints = Vec::new();

    // PriorityClasses.
    let mut priority_classes: BTreeMap<String, i64> = BTreeMap::new();
    for o in objs.iter().filter(|o| kind(o) == "PriorityClass") {
        priority_classes.insert(meta_name(o)?.to_string(), o.req("value")?.i64()?);
    }
    // VirtualMachines: their run strategy says whether KubeVirt restarts
    // their instance.
    let mut run_strategy: BTreeMap<(String, String), String> = BTreeMap::new();
    for o in objs.iter().filter(|o| kind(o) == "VirtualMachine") {
        let spec = o.req("spec")?;
        let rs = match (spec.get("runStrategy"), spec.get("running")) {
            (Some(r), _) => r.str()?.to_string(),
            (None, Some(r)) => {
                if r.bool()? {
                    "Always".into()
                } else {
                    "Halted".into()
                }
            }
            (None, None) => "Halted".into(),
        };
        run_strategy.insert((namespace(o)?.to_string(), meta_name(o)?.to_string()), rs);
    }

    // Nodes.
    // Devices (`nvidia.com/...`): kept where a VMI asks for them.
    let mut extended: BTreeMap<(String, String), u64> = BTreeMap::new();
    for o in objs.iter().filter(|o| kind(o) == "Node") {
        let name = meta_name(o)?;
        if draft.host(name).is_some() {
            return Err(o.err(format!("node {name} listed twice")));
        }
        let mut host = Host::new(name);
        host.labels.insert("k8s_node".into(), name.to_string());
        let lab = labels(o)?;
        if let Some(z) = lab.get(ZONE) {
            host.labels.insert("zone".into(), z.clone());
        }
        let status = o.req("status")?;
        let alloc = status.req("allocatable")?;
        let mem = quantity(&alloc.req("memory")?, 1 << 20, 1, Round::Down)?;
        let mib = draft.capacity_amount(&format!("node {name} memory"), mem);
        host.capacity.insert("memory_mib".into(), mib);
        let m = quantity(&alloc.req("cpu")?, 1, 1000, Round::Down)?;
        host.capacity.insert("millicpu".into(), m.value);
        for (res, q) in alloc.entries()? {
            if res.contains('/') {
                let n = quantity(&q, 1, 1, Round::Down)?;
                extended.insert((name.to_string(), res.to_string()), n.value);
            }
        }
        let ready = status
            .get("conditions")
            .map(|c| c.array())
            .transpose()?
            .unwrap_or_default()
            .into_iter()
            .find(|c| c.get("type").and_then(|t| t.v.as_str()) == Some("Ready"))
            .map(|c| c.get("status").and_then(|s| s.v.as_str()) == Some("True"));
        let unschedulable = o
            .get("spec")
            .and_then(|s| s.get("unschedulable"))
            .map(|u| u.bool())
            .transpose()?
            .unwrap_or(false);
        if ready == Some(false) {
            host.state = HostState::Down;
            draft.warn(
                "node-not-ready",
                format!("node {name} is not Ready: taken as failed now"),
            );
        } else if unschedulable {
            host.state = HostState::Maintenance;
            draft.warn("node-cordoned", format!("node {name} is cordoned: taken as in maintenance (it neither fails nor receives VMs)"));
        }
        if let Some(t) = o.get("spec").and_then(|s| s.get("taints")) {
            if !t.array()?.is_empty() {
                taints.push(name.to_string());
            }
        }
        node_labels.insert(name.to_string(), lab);
        draft.hosts.push(host);
    }

    // Instances.
    let mut infos: Vec<VmiInfo> = Vec::new();
    let mut pending = Vec::new();
    let mut default_cpu = Vec::new();
    let mut dra = Vec::new();
    let mut assumed_always = Vec::new();
    let mut terms: Vec<(At<'_>, String, Affinity, bool, String)> = Vec::new();
    let mut uses_priority = false;
    for o in objs.iter().filter(|o| kind(o) == "VirtualMachineInstance") {
        let ns = namespace(o)?;
        let name = meta_name(o)?;
        let key = format!("{ns}/{name}");
        let status = o.get("status");
        let phase = status
            .as_ref()
            .and_then(|s| s.get("phase"))
            .map(|p| p.str())
            .transpose()?
            .unwrap_or("");
        let node = status
            .as_ref()
            .and_then(|s| s.get("nodeName"))
            .map(|n| n.str())
            .transpose()?;
        let power = match phase {
            "Running" => Power::Running,
            "Succeeded" | "Failed" => continue,
            _ => {
                pending.push(key.clone());
                continue;
            }
        };
        let Some(node) = node else {
            return Err(o.err(format!("VMI {key} is Running but has no status.nodeName")));
        };
        if draft.host(node).is_none() {
            return Err(status
                .unwrap()
                .req("nodeName")?
                .err(format!("node {node} is not among the nodes")));
        }
        let mut vm = Vm::new(&key, node);
        vm.power = power;
        let spec = o.req("spec")?;
        let domain = spec.req("domain")?;
        let requests = domain.get("resources").and_then(|r| r.get("requests"));
        let mem_at = requests
            .as_ref()
            .and_then(|r| r.get("memory"))
            .or_else(|| domain.get("memory").and_then(|m| m.get("guest")));
        let Some(mem_at) = mem_at else {
            return Err(domain.err(
                "no memory request (resources.requests.memory) or guest memory (memory.guest)",
            ));
        };
        let mem = quantity(&mem_at, 1 << 20, 1, Round::Up)?;
        let mib = draft.demand_amount(&format!("VMI {key} memory"), mem);
        vm.demand.insert("memory_mib".into(), mib);
        let cpu = match requests.as_ref().and_then(|r| r.get("cpu")) {
            Some(c) => quantity(&c, 1, 1000, Round::Up)?.value,
            None => {
                let c = domain.get("cpu");
                let get = |k: &str| -> Result<u64, ImportError> {
                    Ok(c.as_ref()
                        .and_then(|c| c.get(k))
                        .map(|x| x.u64())
                        .transpose()?
                        .unwrap_or(1))
                };
                let vcpus = get("cores")? * get("sockets")? * get("threads")?;
                default_cpu.push(key.clone());
                vcpus * 100
            }
        };
        vm.demand.insert("millicpu".into(), cpu);
        if let Some(devices) = domain.get("devices") {
            for kind in ["gpus", "hostDevices"] {
                if let Some(list) = devices.get(kind) {
                    for d in list.array()? {
                        match d.get("deviceName") {
                            Some(dn) => *vm.demand.entry(dn.name()?.to_string()).or_default() += 1,
                            // A device by dynamic resource allocation (a
                            // claim): not a countable resource of the node.
                            None => dra.push(key.clone()),
                        }
                    }
                }
            }
        }
        // Restarted by KubeVirt only when a VirtualMachine owns it and
        // asks it to run.
        let owner = o
            .get("metadata")
            .and_then(|m| m.get("ownerReferences"))
            .map(|r| r.array())
            .transpose()?
            .unwrap_or_default()
            .into_iter()
            .find(|r| r.get("kind").and_then(|k| k.v.as_str()) == Some("VirtualMachine"));
        vm.restart = match owner {
            None => Restart::Unprotected,
            Some(r) => {
                let vm_name = r.req("name")?.str()?.to_string();
                match run_strategy.get(&(ns.to_string(), vm_name)) {
                    Some(s) if s == "Always" || s == "RerunOnFailure" => Restart::Protected,
                    Some(_) => Restart::Unprotected,
                    None => {
                        assumed_always.push(key.clone());
                        Restart::Protected
                    }
                }
            }
        };
        if let Some(pc) = spec.get("priorityClassName") {
            let pc = pc.str()?;
            uses_priority = true;
            match priority_classes.get(pc) {
                Some(v) => vm.priority = Some(Priority::Number(*v)),
                None => draft.warn("unknown-priority-class", format!("VMI {key} uses priority class {pc}, whose value no file gives: default priority kept")),
            }
        }
        // Node selection.
        let mut allowed: Option<BTreeSet<String>> = None;
        if let Some(sel) = spec.get("nodeSelector") {
            let mut ok = BTreeSet::new();
            for (n, l) in &node_labels {
                let mut all = true;
                for (k, v) in sel.entries()? {
                    if l.get(k).map(String::as_str) != Some(v.str()?) {
                        all = false;
                    }
                }
                if all {
                    ok.insert(n.clone());
                }
            }
            allowed = Some(ok);
        }
        let affinity = spec.get("affinity");
        if let Some(na) = affinity.as_ref().and_then(|a| a.get("nodeAffinity")) {
            if let Some(req) = na.get("requiredDuringSchedulingIgnoredDuringExecution") {
                let mut ok = BTreeSet::new();
                for (n, l) in &node_labels {
                    let mut any = false;
                    for t in req.req("nodeSelectorTerms")?.array()? {
                        let mut all = true;
                        if let Some(me) = t.get("matchExpressions") {
                            for e in me.array()? {
                                if !expression_matches(&e, l)? {
                                    all = false;
                                }
                            }
                        }
                        if let Some(mf) = t.get("matchFields") {
                            for e in mf.array()? {
                                let mut fields = BTreeMap::new();
                                fields.insert("metadata.name".to_string(), n.clone());
                                if !expression_matches(&e, &fields)? {
                                    all = false;
                                }
                            }
                        }
                        any |= all;
                    }
                    if any {
                        ok.insert(n.clone());
                    }
                }
                allowed = Some(match allowed {
                    Some(a) => a.intersection(&ok).cloned().collect(),
                    None => ok,
                });
            }
            if let Some(pref) = na.get("preferredDuringSchedulingIgnoredDuringExecution") {
                let mut score: BTreeMap<String, i64> = BTreeMap::new();
                for p in pref.array()? {
                    let w = p.req("weight")?.i64()?;
                    let t = p.req("preference")?;
                    for (n, l) in &node_labels {
                        let mut all = true;
                        if let Some(me) = t.get("matchExpressions") {
                            for e in me.array()? {
                                if !expression_matches(&e, l)? {
                                    all = false;
                                }
                            }
                        }
                        if all {
                            *score.entry(n.clone()).or_default() += w;
                        }
                    }
                }
                let mut order: Vec<(i64, String)> = score
                    .into_iter()
                    .filter(|(_, s)| *s > 0)
                    .map(|(n, s)| (-s, n))
                    .collect();
                order.sort();
                vm.preferred_hosts = order.into_iter().map(|(_, n)| n).collect();
            }
        }
        vm.allowed_hosts = allowed;
        for (field, aff) in [
            ("podAntiAffinity", Affinity::Apart),
            ("podAffinity", Affinity::Together),
        ] {
            let Some(pa) = affinity.as_ref().and_then(|a| a.get(field)) else {
                continue;
            };
            for (list, strict) in [
                ("requiredDuringSchedulingIgnoredDuringExecution", true),
                ("preferredDuringSchedulingIgnoredDuringExecution", false),
            ] {
                let Some(items) = pa.get(list) else { continue };
                for item in items.array()? {
                    let term = if strict {
                        item
                    } else {
                        item.req("podAffinityTerm")?
                    };
                    terms.push((term, key.clone(), aff, strict, ns.to_string()));
                }
            }
        }
        infos.push(VmiInfo {
            key: key.clone(),
            namespace: ns.to_string(),
            labels: labels(o)?,
        });
        draft.add_vm(key, vm);
    }
    if uses_priority {
        let keys: Vec<String> = draft
            .vms()
            .filter(|(_, v)| v.priority.is_none())
            .map(|(k, _)| k.to_string())
            .collect();
        for k in keys {
            draft.vm_mut(&k).unwrap().priority = Some(Priority::Number(0));
        }
        draft.warn("numeric-priority", "priorities are the VMIs' PriorityClass values (higher first); VMIs without a class have Kubernetes' default, 0");
    }

    // Pod (anti-)affinity terms: one group per selector, topology and kind.
    let mut by_term: BTreeMap<String, (Affinity, bool, BTreeSet<String>)> = BTreeMap::new();
    for (term, owner, aff, strict, ns) in &terms {
        let topo = term.opt_str("topologyKey")?.unwrap_or("");
        if topo != HOSTNAME {
            draft.warn(
                "topology-not-host",
                format!("VMI {owner}: an affinity term over {topo:?} (not per node) is left out"),
            );
            continue;
        }
        let sel = term.get("labelSelector");
        let namespaces: Vec<String> = match term.get("namespaces") {
            Some(n) => n
                .array()?
                .iter()
                .map(|x| x.str().map(str::to_string))
                .collect::<Result<_, _>>()?,
            None => vec![ns.clone()],
        };
        let mut members = BTreeSet::new();
        members.insert(owner.clone());
        for i in &infos {
            if !namespaces.contains(&i.namespace) {
                continue;
            }
            let m = match &sel {
                Some(s) => selector_matches(s, &i.labels)?,
                None => false,
            };
            if m {
                members.insert(i.key.clone());
            }
        }
        let id = format!(
            "{}{}:{}:{}",
            if *aff == Affinity::Apart {
                "apart"
            } else {
                "together"
            },
            if *strict { "" } else { "-soft" },
            namespaces.join(","),
            sel.map(|s| s.v.to_string()).unwrap_or_default()
        );
        by_term
            .entry(id)
            .or_insert((*aff, *strict, BTreeSet::new()))
            .2
            .extend(members);
    }
    for (i, (_, (aff, strict, members))) in by_term.into_iter().enumerate() {
        draft.groups.push(Group {
            name: format!(
                "{}-{}",
                if aff == Affinity::Apart {
                    "anti-affinity"
                } else {
                    "affinity"
                },
                i + 1
            ),
            affinity: aff,
            max_per_host: (aff == Affinity::Apart).then_some(1),
            strict,
            members: members.into_iter().collect(),
        });
    }

    let wanted: BTreeSet<String> = draft
        .vms()
        .flat_map(|(_, v)| {
            v.demand
                .keys()
                .filter(|k| k.contains('/'))
                .cloned()
                .collect::<Vec<_>>()
        })
        .collect();
    for ((node, res), n) in extended {
        if wanted.contains(&res) {
            draft.host_mut(&node).unwrap().capacity.insert(res, n);
        }
    }
    if !pending.is_empty() {
        draft.warn(
            "vmi-not-running",
            format!(
                "VMIs not yet running on a node were left out: {}",
                pending.join(", ")
            ),
        );
    }
    if !dra.is_empty() {
        draft.warn(
            "device-claim",
            format!(
                "devices allocated by resource claims are not modelled: {}",
                dra.join(", ")
            ),
        );
    }
    if !default_cpu.is_empty() {
        draft.warn("cpu-default", format!("VMIs without a CPU request take KubeVirt's default, 100m per vCPU (CPU allocation ratio 10): {}", default_cpu.join(", ")));
    }
    if !assumed_always.is_empty() {
        draft.warn("run-strategy-assumed", format!("VMIs owned by a VirtualMachine that no file gives are taken as restarted (run strategy Always): {}", assumed_always.join(", ")));
    }
    if !taints.is_empty() {
        draft.warn(
            "taints-not-modelled",
            format!(
                "node taints are not modelled (every VMI is taken to tolerate them): {}",
                taints.join(", ")
            ),
        );
    }
    if draft.hosts.iter().any(|h| h.labels.contains_key("zone")) {
        draft.warn("zones", "nodes carry zone labels (labels.zone): set ha.failure_domain_label to \"zone\" to count zone failures");
    }
    draft.warn(
        "launcher-overhead",
        "VMIs are sized by their requests; the virt-launcher pod's memory overhead, which KubeVirt adds, is not in the VMI and not counted",
    );
    let _ = options;
    Ok(draft)
}
