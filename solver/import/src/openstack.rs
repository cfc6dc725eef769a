//! OpenStack: Nova's hypervisors (`GET /os-hypervisors/detail`), servers
//! (`GET /servers/detail?all_tenants=1`, microversion 2.47 or later for
//! the embedded flavor) and server groups (`GET /os-server-groups`);
//! Placement's resource providers, each with its inventories and
//! allocations merged in under the API's own member names (Placement has
//! no single call that returns them: `docs/import.md` gives the loop); and
//! Masakari's segments and hosts.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::Value;

use crate::draft::{Affinity, Draft, Group, Host, HostState, Power, Restart, Vm};
use crate::input::{self, At};
use crate::{File, ImportError, Options};

const EXPECTED: &str = "Nova hypervisors, servers or server groups, Placement resource providers (with inventories and allocations), Masakari segments or hosts, as the APIs return them";

enum Kind<'a> {
    Hypervisors(Vec<At<'a>>),
    Providers(Vec<At<'a>>),
    Servers(Vec<At<'a>>),
    ServerGroups(Vec<At<'a>>),
    Segments(Vec<At<'a>>),
    MasakariHosts(Vec<At<'a>>),
}

fn classify<'a>(file: &'a File<'a>, v: &'a Value) -> Result<Kind<'a>, ImportError> {
    let root = At::root(file.name, v);
    let unrecognised = || ImportError::Unrecognised {
        file: file.name.to_string(),
        platform: "an OpenStack",
        expected: EXPECTED,
    };
    if !v.is_object() {
        return Err(unrecognised());
    }
    let list = |key: &str| -> Result<Option<Vec<At<'a>>>, ImportError> {
        match root.get(key) {
            Some(l) => Ok(Some(l.array()?)),
            None => Ok(None),
        }
    };
    if let Some(l) = list("hypervisors")? {
        return Ok(Kind::Hypervisors(l));
    }
    if let Some(l) = list("resource_providers")? {
        return Ok(Kind::Providers(l));
    }
    if let Some(l) = list("servers")? {
        return Ok(Kind::Servers(l));
    }
    if let Some(l) = list("server_groups")? {
        return Ok(Kind::ServerGroups(l));
    }
    if let Some(g) = root.get("server_group") {
        return Ok(Kind::ServerGroups(vec![g]));
    }
    if let Some(l) = list("segments")? {
        return Ok(Kind::Segments(l));
    }
    if let Some(l) = list("hosts")? {
        if l.iter()
            .all(|h| h.get("failover_segment_id").is_some() || h.get("failover_segment").is_some())
        {
            return Ok(Kind::MasakariHosts(l));
        }
    }
    Err(unrecognised())
}

fn ratio_of(inv: &At<'_>) -> Result<f64, ImportError> {
    Ok(inv
        .get("allocation_ratio")
        .map(|r| r.f64())
        .transpose()?
        .unwrap_or(1.0))
}

pub(crate) fn read(files: &[File<'_>], options: &Options) -> Result<Draft, ImportError> {
    let values: Vec<Value> = files.iter().map(input::json).collect::<Result<_, _>>()?;
    let mut kinds = Vec::new();
    for (f, v) in files.iter().zip(&values) {
        kinds.push(classify(f, v)?);
    }
    let mut draft = Draft::default();
    // Compute service host -> hypervisor hostname.
    let mut alias: HashMap<String, String> = HashMap::new();
    let mut allocations: HashMap<String, BTreeMap<String, u64>> = HashMap::new();
    let mut ratios: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut have_inventory = false;

    // Hosts from Placement (exact capacity, reserved and ratios), else from
    // Nova's hypervisors.
    for k in &kinds {
        let Kind::Providers(list) = k else { continue };
        for p in list {
            if p.get("parent_provider_uuid").is_some() {
                continue; // nested providers (NUMA, devices) are not hosts
            }
            let name = p.req("name")?.name()?;
            let mut host = Host::new(name);
            host.labels
                .insert("openstack_hypervisor".into(), name.to_string());
            if let Some(u) = p.get("uuid") {
                host.labels
                    .insert("placement_uuid".into(), u.str()?.to_string());
            }
            let Some(inv) = p.get("inventories") else {
                return Err(p.err(format!("resource provider {name} has no \"inventories\": merge each provider's GET .../inventories into it")));
            };
            have_inventory = true;
            for (class, res) in [("MEMORY_MB", "memory_mib"), ("VCPU", "vcpus")] {
                let Some(i) = inv.get(class) else { continue };
                let total = i.req("total")?.u64()?;
                let reserved = i.opt_u64("reserved")?.unwrap_or(0);
                host.capacity.insert(res.into(), total);
                if reserved > 0 {
                    host.reserved.insert(res.into(), reserved);
                }
                let r = ratio_of(&i)?;
                if r != 1.0 {
                    host.overcommit.insert(res.into(), r);
                }
                ratios
                    .entry(res.to_string())
                    .or_default()
                    .insert(r.to_string());
            }
            if let Some(allocs) = p.get("allocations") {
                let allocs = allocs.get("allocations").unwrap_or(allocs);
                for (consumer, a) in allocs.entries()? {
                    let res = a.req("resources")?;
                    let mut d = BTreeMap::new();
                    for (class, key) in [("MEMORY_MB", "memory_mib"), ("VCPU", "vcpus")] {
                        if let Some(n) = res.get(class) {
                            d.insert(key.to_string(), n.u64()?);
                        }
                    }
                    allocations.insert(consumer.to_string(), d);
                }
            }
            draft.hosts.push(host);
        }
    }
    for k in &kinds {
        let Kind::Hypervisors(list) = k else { continue };
        for h in list {
            let name = h.req("hypervisor_hostname")?.name()?;
            if let Some(svc) = h.get("service").and_then(|s| s.get("host")) {
                alias.insert(svc.str()?.to_string(), name.to_string());
            }
            let state = h.opt_str("state")?.unwrap_or("up");
            let status = h.opt_str("status")?.unwrap_or("enabled");
            let existing = draft.host(name).is_some();
            if !existing {
                if have_inventory {
                    draft.warn("no-inventory", format!("hypervisor {name} has no Placement resource provider among the files: left out"));
                    continue;
                }
                let mut host = Host::new(name);
                host.labels
                    .insert("openstack_hypervisor".into(), name.to_string());
                let mem = h.get("memory_mb").ok_or_else(|| h.err("memory_mb missing (microversion 2.88 and later drop it: give Placement's resource providers)"))?;
                host.capacity.insert("memory_mib".into(), mem.u64()?);
                if options.cpu_overcommit.is_some() {
                    host.capacity.insert("vcpus".into(), h.req("vcpus")?.u64()?);
                }
                draft.hosts.push(host);
            }
            let host = draft.host_mut(name).unwrap();
            if state == "down" {
                host.state = HostState::Down;
            } else if status == "disabled" {
                host.state = HostState::Maintenance;
            }
            match host.state {
                HostState::Down => draft.warn("host-down", format!("hypervisor {name} is down: taken as failed now")),
                HostState::Maintenance => draft.warn("host-disabled", format!("hypervisor {name} is disabled: taken as in maintenance (it neither fails nor receives instances)")),
                HostState::Up => {}
            }
        }
    }
    let resolve = |alias: &HashMap<String, String>, draft: &Draft, n: &str| -> Option<String> {
        if draft.host(n).is_some() {
            Some(n.to_string())
        } else {
            alias.get(n).filter(|a| draft.host(a).is_some()).cloned()
        }
    };

    // Servers.
    let mut no_flavor = Vec::new();
    for k in &kinds {
        let Kind::Servers(list) = k else { continue };
        for s in list {
            let id = s.req("id")?.name()?;
            let name = s.opt_str("name")?.filter(|n| !n.is_empty()).unwrap_or(id);
            let power = match s.opt_str("status")?.unwrap_or("ACTIVE") {
                "ACTIVE" | "MIGRATING" | "RESIZE" | "VERIFY_RESIZE" | "REBOOT" | "HARD_REBOOT"
                | "REBUILD" | "PASSWORD" => Power::Running,
                "PAUSED" => Power::Paused,
                _ => Power::Halted,
            };
            let hyp = s.opt_str("OS-EXT-SRV-ATTR:hypervisor_hostname")?;
            let svc = s.opt_str("OS-EXT-SRV-ATTR:host")?;
            if let (Some(h), Some(sv)) = (hyp, svc) {
                alias.entry(sv.to_string()).or_insert_with(|| h.to_string());
            }
            let host = hyp
                .and_then(|h| resolve(&alias, &draft, h))
                .or_else(|| svc.and_then(|h| resolve(&alias, &draft, h)));
            let Some(host) = host else {
                if power == Power::Halted {
                    continue;
                }
                return Err(s.err(format!(
                    "server {name} runs on {:?}, which is not among the hypervisors or resource providers",
                    hyp.or(svc).unwrap_or("(no host attribute: list servers as an administrator)")
                )));
            };
            if let Some(az) = s.get("OS-EXT-AZ:availability_zone") {
                let az = az.str()?;
                if !az.is_empty() {
                    draft
                        .host_mut(&host)
                        .unwrap()
                        .labels
                        .insert("zone".into(), az.to_string());
                }
            }
            let mut vm = Vm::new(name, host);
            vm.power = power;
            if let Some(d) = allocations.get(id) {
                vm.demand = d.clone();
            } else if let Some(f) = s.get("flavor").filter(|f| f.get("ram").is_some()) {
                vm.demand.insert("memory_mib".into(), f.req("ram")?.u64()?);
                if have_inventory || options.cpu_overcommit.is_some() {
                    vm.demand.insert("vcpus".into(), f.req("vcpus")?.u64()?);
                }
            } else {
                no_flavor.push(name.to_string());
                continue;
            }
            if let Some(m) = s.get("metadata").and_then(|m| m.get("HA_Enabled")) {
                if !m.bool().unwrap_or(true) {
                    vm.restart = Restart::Unprotected;
                }
            }
            draft.add_vm(id, vm);
        }
    }
    if !no_flavor.is_empty() {
        return Err(ImportError::Incomplete(format!(
            "servers without their size (no Placement allocation, no embedded flavor: list servers with microversion 2.47 or later): {}",
            no_flavor.join(", ")
        )));
    }

    // Server groups.
    for k in &kinds {
        let Kind::ServerGroups(list) = k else {
            continue;
        };
        for g in list {
            let name = g
                .opt_str("name")?
                .filter(|n| !n.is_empty())
                .unwrap_or(g.req("id")?.str()?);
            let policy = match g.get("policy") {
                Some(p) => p.str()?.to_string(),
                None => g
                    .req("policies")?
                    .array()?
                    .first()
                    .ok_or_else(|| g.err("no policy"))?
                    .str()?
                    .to_string(),
            };
            let (affinity, strict) = match policy.as_str() {
                "affinity" => (Affinity::Together, true),
                "anti-affinity" => (Affinity::Apart, true),
                "soft-affinity" => (Affinity::Together, false),
                "soft-anti-affinity" => (Affinity::Apart, false),
                other => return Err(g.err(format!("unknown server group policy {other:?}"))),
            };
            let max = g
                .get("rules")
                .and_then(|r| r.get("max_server_per_host"))
                .map(|m| m.u64())
                .transpose()?;
            let members: Vec<String> = match g.get("members") {
                Some(m) => m
                    .array()?
                    .iter()
                    .map(|x| x.str().map(str::to_string))
                    .collect::<Result<_, _>>()?,
                None => Vec::new(),
            };
            draft.groups.push(Group {
                name: name.to_string(),
                affinity,
                max_per_host: if affinity == Affinity::Apart {
                    Some(max.unwrap_or(1))
                } else {
                    None
                },
                strict,
                members,
            });
        }
    }

    // Masakari: which hosts are monitored, how their instances recover.
    let mut segments: HashMap<String, (String, String)> = HashMap::new();
    let mut have_masakari = false;
    for k in &kinds {
        let Kind::Segments(list) = k else { continue };
        have_masakari = true;
        for s in list {
            let uuid = s.req("uuid")?.str()?.to_string();
            let method = s.req("recovery_method")?.str()?.to_string();
            let enabled = s.opt_bool("enabled")?.unwrap_or(true);
            let name = s.opt_str("name")?.unwrap_or(&uuid).to_string();
            if !enabled {
                draft.warn("segment-disabled", format!("Masakari segment {name} is disabled: its hosts' instances are not restarted"));
                continue;
            }
            segments.insert(uuid, (name, method));
        }
    }
    let mut segment_hosts: BTreeMap<String, Vec<(String, bool)>> = BTreeMap::new();
    let mut monitored: HashMap<String, String> = HashMap::new();
    for k in &kinds {
        let Kind::MasakariHosts(list) = k else {
            continue;
        };
        have_masakari = true;
        for h in list {
            let name = h.req("name")?.name()?;
            let seg = match h.get("failover_segment_id") {
                Some(s) => s.str()?.to_string(),
                None => h.req("failover_segment")?.req("uuid")?.str()?.to_string(),
            };
            if let Some(fs) = h.get("failover_segment") {
                if !segments.contains_key(&seg) {
                    if let Some(m) = fs.get("recovery_method") {
                        let n = fs.opt_str("name")?.unwrap_or(&seg).to_string();
                        segments.insert(seg.clone(), (n, m.str()?.to_string()));
                    }
                }
            }
            let Some(host) = resolve(&alias, &draft, name) else {
                draft.warn(
                    "unknown-host",
                    format!("Masakari host {name} is not among the hypervisors: left out"),
                );
                continue;
            };
            let reserved = h.opt_bool("reserved")?.unwrap_or(false);
            if h.opt_bool("on_maintenance")?.unwrap_or(false) {
                let hh = draft.host_mut(&host).unwrap();
                if hh.state == HostState::Up {
                    hh.state = HostState::Maintenance;
                }
            }
            if reserved {
                draft.host_mut(&host).unwrap().standby = true;
            }
            segment_hosts
                .entry(seg.clone())
                .or_default()
                .push((host.clone(), reserved));
            monitored.insert(host, seg);
        }
    }
    if have_masakari {
        let mut unmonitored = BTreeSet::new();
        let keys: Vec<String> = draft.vms().map(|(k, _)| k.to_string()).collect();
        for key in keys {
            let host = draft.vm(&key).unwrap().host.clone();
            let Some(seg) = monitored.get(&host) else {
                unmonitored.insert(host);
                draft.vm_mut(&key).unwrap().restart = Restart::Unprotected;
                continue;
            };
            let Some((_, method)) = segments.get(seg) else {
                continue;
            };
            let reserved: Vec<String> = segment_hosts[seg]
                .iter()
                .filter(|(_, r)| *r)
                .map(|(h, _)| h.clone())
                .collect();
            let vm = draft.vm_mut(&key).unwrap();
            match method.as_str() {
                "reserved_host" => vm.allowed_hosts = Some(reserved.into_iter().collect()),
                "rh_priority" => vm.preferred_hosts = reserved,
                _ => {}
            }
        }
        if !unmonitored.is_empty() {
            draft.warn(
                "not-monitored",
                format!(
                    "hosts in no Masakari segment: their instances are not restarted (unprotected): {}",
                    unmonitored.into_iter().collect::<Vec<_>>().join(", ")
                ),
            );
        }
    } else {
        draft.warn("no-masakari", "no Masakari segments or hosts among the files: every instance is taken as protected, as if an HA service restarted it");
    }
    if have_inventory {
        // One ratio for all hosts goes to ha.overcommit, kept per host only
        // when hosts differ.
        for (res, set) in &ratios {
            if set.len() == 1 {
                let r: f64 = set.iter().next().unwrap().parse().unwrap();
                for h in &mut draft.hosts {
                    h.overcommit.remove(res);
                }
                if r != 1.0 {
                    draft.ha.overcommit.insert(res.clone(), r);
                }
            }
        }
    } else if let Some(r) = options.cpu_overcommit {
        draft.ha.overcommit.insert("vcpus".into(), r);
    } else {
        draft.warn("cpu-not-modelled", "Nova's hypervisors do not give the allocation ratios: only memory is modelled (give Placement's inventories, or a CPU overcommit ratio)");
    }
    draft.warn(
        "no-restart-priority",
        "Nova and Masakari have no restart priority or order: every instance keeps the defaults",
    );
    draft.warn("disk-not-modelled", "disks are not modelled: an evacuated instance is rebuilt on shared storage or from its image");
    Ok(draft)
}
