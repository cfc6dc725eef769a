//! Ganeti: the htools text backend (`.data` files, as `hscan` writes them
//! and `hbal -t` / `hcheck -t` read them): groups, nodes, instances,
//! cluster tags and instance policies, `|`-separated, sections separated by
//! blank lines.
//!
//! Instances move the way Ganeti's global N+1 check moves them: DRBD
//! instances fail over to their secondary node; instances on shared or
//! external storage move to any node of their group; instances on local
//! storage (plain, file) are re-created on another node of their group.

use std::collections::{BTreeMap, BTreeSet};

use crate::draft::{Affinity, Draft, Group, Host, HostState, Power, Restart, Vm};
use crate::input;
use crate::{File, ImportError, Options};

struct Line<'a> {
    n: usize,
    fields: Vec<&'a str>,
}

fn sections(text: &str) -> Vec<Vec<Line<'_>>> {
    let mut out: Vec<Vec<Line<'_>>> = vec![Vec::new()];
    for (i, raw) in text.lines().enumerate() {
        if raw.trim().is_empty() {
            out.push(Vec::new());
        } else {
            out.last_mut().unwrap().push(Line {
                n: i + 1,
                fields: raw.split('|').collect(),
            });
        }
    }
    out
}

/// Whether the text is an htools data file: groups (at least 3 fields),
/// nodes (at least 9), instances (at least 10), separated by blank lines.
fn is_htools(text: &str) -> bool {
    let s = sections(text);
    s.len() >= 4
        && !s[0].is_empty()
        && s[0].iter().all(|l| l.fields.len() >= 3)
        && s[1].iter().all(|l| l.fields.len() >= 9)
        && s[2].iter().all(|l| l.fields.len() >= 10)
}

fn num<T: std::str::FromStr>(
    file: &str,
    line: &Line<'_>,
    i: usize,
    what: &str,
) -> Result<T, ImportError> {
    let raw = line.fields.get(i).copied().unwrap_or("");
    raw.trim().parse().map_err(|_| {
        ImportError::field(
            file,
            format!("line {}: field {} ({what})", line.n, i + 1),
            format!("expected a whole number, found {raw:?}"),
        )
    })
}

const RUNNING: &[&str] = &[
    "running",
    "ERROR_up",
    "ERROR_wrongnode",
    "ERROR_nodedown",
    "ERROR_nodeoffline",
];
const STOPPED: &[&str] = &["ADMIN_down", "ADMIN_offline", "USER_down", "ERROR_down"];
const MOVABLE: &[&str] = &["sharedfile", "rbd", "ext", "gluster", "diskless"];
const LOCAL: &[&str] = &["plain", "file", "blockdev"];

pub(crate) fn read(files: &[File<'_>], options: &Options) -> Result<Draft, ImportError> {
    if files.len() != 1 {
        return Err(ImportError::Incomplete(format!(
            "Ganeti: give one htools data file (the whole cluster), found {}",
            files.len()
        )));
    }
    let file = &files[0];
    let text = input::text(file)?;
    if !is_htools(text) {
        return Err(ImportError::Unrecognised {
            file: file.name.to_string(),
            platform: "a Ganeti",
            expected: "an htools text data file: groups, nodes, instances, tags and policies",
        });
    }
    let f = file.name;
    let secs = sections(text);
    let mut draft = Draft::default();

    // Groups: uuid -> name.
    let mut groups: BTreeMap<&str, &str> = BTreeMap::new();
    for l in &secs[0] {
        groups.insert(l.fields[1], l.fields[0]);
    }
    // Policies: the vCPU ratio of the cluster and of each group.
    let mut cluster_ratio: Option<f64> = None;
    let mut group_ratio: BTreeMap<&str, f64> = BTreeMap::new();
    if let Some(pol) = secs.get(4) {
        for l in pol {
            if l.fields.len() < 6 {
                continue;
            }
            let r: f64 = l.fields[4].trim().parse().map_err(|_| {
                ImportError::field(
                    f,
                    format!("line {}: field 5 (vCPU ratio)", l.n),
                    format!("expected a number, found {:?}", l.fields[4]),
                )
            })?;
            if l.fields[0].is_empty() {
                cluster_ratio = Some(r);
            } else {
                group_ratio.insert(l.fields[0], r);
            }
        }
    }

    let mut node_group: BTreeMap<String, String> = BTreeMap::new();
    let mut free_mem: BTreeMap<String, u64> = BTreeMap::new();
    for l in &secs[1] {
        let name = l.fields[0];
        if name.is_empty() {
            return Err(ImportError::field(
                f,
                format!("line {}: field 1 (node name)", l.n),
                "must not be empty",
            ));
        }
        if draft.host(name).is_some() {
            return Err(ImportError::field(
                f,
                format!("line {}: field 1 (node name)", l.n),
                format!("node {name} listed twice"),
            ));
        }
        let guuid = l.fields[8];
        let group = *groups.get(guuid).ok_or_else(|| {
            ImportError::field(
                f,
                format!("line {}: field 9 (group)", l.n),
                format!("unknown group {guuid:?}"),
            )
        })?;
        let mut host = Host::new(name);
        host.labels.insert("ganeti_group".into(), group.to_string());
        let unknown = l.fields[1..7].contains(&"?");
        let offline = l.fields[7];
        if offline == "M" {
            host.labels.insert("ganeti_role".into(), "master".into());
        }
        if offline == "Y" || unknown {
            host.state = HostState::Down;
            draft.warn(
                "node-offline",
                format!(
                    "node {name} is offline{}: taken as failed now",
                    if unknown {
                        " (its figures are unknown)"
                    } else {
                        ""
                    }
                ),
            );
        } else {
            let total: u64 = num(f, l, 1, "total memory")?;
            let free: u64 = num(f, l, 3, "free memory")?;
            let cpus: u64 = num(f, l, 6, "CPUs")?;
            host.capacity.insert("memory_mib".into(), total);
            host.capacity.insert("vcpus".into(), cpus);
            if let Some(r) = group_ratio.get(group) {
                if Some(*r) != cluster_ratio {
                    host.overcommit.insert("vcpus".into(), *r);
                }
            }
            if l.fields.len() > 13 {
                host.reserved
                    .insert("vcpus".into(), num(f, l, 13, "CPUs for the node")?);
            }
            free_mem.insert(name.to_string(), free);
        }
        node_group.insert(name.to_string(), group.to_string());
        draft.hosts.push(host);
    }
    if let Some(r) = cluster_ratio {
        draft.ha.overcommit.insert("vcpus".into(), r);
    }

    // Instances.
    let mut used: BTreeMap<String, u64> = BTreeMap::new();
    let mut tags_of: Vec<(String, Vec<String>)> = Vec::new();
    let mut local = Vec::new();
    let mut no_balance = Vec::new();
    for l in &secs[2] {
        let name = l.fields[0];
        let mem: u64 = num(f, l, 1, "memory")?;
        let vcpus: u64 = num(f, l, 3, "vCPUs")?;
        let status = l.fields[4];
        let auto_balance = match l.fields[5] {
            "Y" => true,
            "N" => false,
            other => {
                return Err(ImportError::field(
                    f,
                    format!("line {}: field 6 (auto_balance)", l.n),
                    format!("expected Y or N, found {other:?}"),
                ));
            }
        };
        let primary = l.fields[6];
        let secondary = l.fields[7];
        let template = l.fields[8];
        let Some(group) = node_group.get(primary) else {
            return Err(ImportError::field(
                f,
                format!("line {}: field 7 (primary node)", l.n),
                format!("unknown node {primary:?}"),
            ));
        };
        let mut vm = Vm::new(name, primary);
        vm.power = if RUNNING.contains(&status) {
            Power::Running
        } else if STOPPED.contains(&status) {
            Power::Halted
        } else {
            return Err(ImportError::field(
                f,
                format!("line {}: field 5 (status)", l.n),
                format!("unknown instance status {status:?}"),
            ));
        };
        vm.demand.insert("memory_mib".into(), mem);
        vm.demand.insert("vcpus".into(), vcpus);
        if !auto_balance {
            vm.restart = Restart::BestEffort;
            no_balance.push(name.to_string());
        }
        let group_nodes: BTreeSet<String> = node_group
            .iter()
            .filter(|(n, g)| *g == group && n.as_str() != primary)
            .map(|(n, _)| n.clone())
            .collect();
        if template == "drbd" {
            if secondary.is_empty() {
                vm.local_devices
                    .push("DRBD instance without a secondary node".into());
            } else if !node_group.contains_key(secondary) {
                return Err(ImportError::field(
                    f,
                    format!("line {}: field 8 (secondary node)", l.n),
                    format!("unknown node {secondary:?}"),
                ));
            } else {
                vm.allowed_hosts = Some([secondary.to_string()].into());
            }
        } else if MOVABLE.contains(&template) || LOCAL.contains(&template) {
            if LOCAL.contains(&template) {
                local.push(name.to_string());
            }
            vm.allowed_hosts = Some(group_nodes);
        } else {
            return Err(ImportError::field(
                f,
                format!("line {}: field 9 (disk template)", l.n),
                format!("unknown disk template {template:?}"),
            ));
        }
        if vm.power == Power::Running {
            *used.entry(primary.to_string()).or_default() += mem;
        }
        let tags: Vec<String> = l.fields[9]
            .split(',')
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .collect();
        let key = format!("line {}", l.n);
        tags_of.push((key.clone(), tags));
        // htools indexes instances by position: a name may repeat (the
        // pool's names are made unique when it is finished).
        draft.add_vm(key.clone(), vm);
    }

    // Memory the node holds back: what is neither free nor used by its
    // running instances (the node's own memory and what is unaccounted).
    for h in &mut draft.hosts {
        if h.state != HostState::Up {
            continue;
        }
        let total = h.capacity["memory_mib"];
        let taken = free_mem[&h.name] + used.get(&h.name).copied().unwrap_or(0);
        if total > taken {
            h.reserved.insert("memory_mib".into(), total - taken);
        }
    }

    // Exclusion tags (cluster tags htools:iextags:PREFIX): instances that
    // share a tag with that prefix should not share a node.
    let mut prefixes = Vec::new();
    if let Some(ctags) = secs.get(3) {
        for l in ctags {
            let tag = l.fields.join("|");
            if let Some(p) = tag.strip_prefix("htools:iextags:") {
                prefixes.push(p.to_string());
            } else if tag.starts_with("htools:") {
                draft.warn(
                    "tag-not-modelled",
                    format!("cluster tag {tag} has no haplan equivalent; left out"),
                );
            }
        }
    }
    let mut by_tag: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, tags) in &tags_of {
        for t in tags {
            if prefixes.iter().any(|p| t.starts_with(p.as_str())) {
                by_tag.entry(t.clone()).or_default().push(name.clone());
            }
        }
    }
    for (tag, members) in by_tag {
        draft.groups.push(Group {
            name: format!("tag:{tag}"),
            affinity: Affinity::Apart,
            max_per_host: Some(1),
            strict: false,
            members,
        });
    }

    if !local.is_empty() {
        draft.warn(
            "recreated-elsewhere",
            format!(
                "instances on local storage are counted as Ganeti's global N+1 counts them, re-created on another node of their group (their disks are not there): {}",
                local.join(", ")
            ),
        );
    }
    if !no_balance.is_empty() {
        draft.warn(
            "no-auto-balance",
            format!("instances with auto_balance off are not in Ganeti's N+1 guarantee: best effort: {}", no_balance.join(", ")),
        );
    }
    draft.warn(
        "disk-not-modelled",
        "disk space and spindles are not modelled: a failover needs memory and vCPUs only (DRBD secondaries already hold the disks)",
    );
    let _ = options;
    Ok(draft)
}
