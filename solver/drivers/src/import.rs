//! A pool file from live libvirt hosts.
//!
//! [`import`] connects to each host (`name=URI`), reads its inventory and
//! writes a `haplan/v1` pool (`docs/pool-format.md`) as a JSON value:
//!
//! - a host per URI: `capacity` from libvirt's node info (`memory_mib`,
//!   `vcpus` = its CPUs), `storage` = its active storage pools, `networks` =
//!   its active virtual networks and host interfaces, and the URI kept in
//!   `labels.libvirt_uri`;
//! - a VM per domain: `power` from its state (running, paused, or halted for
//!   shut off), `demand` = its maximum memory (MiB, rounded up) and vCPUs
//!   (for a running domain, the larger of what it runs with and what its
//!   persistent definition gives it: [`domain_demand`]),
//!   `storage` = the pools holding its disks, `networks` = the networks,
//!   bridges or host devices its interfaces use, and `local_devices` for what
//!   binds it to its host: passed-through host devices, and disks that are in
//!   no storage pool (nothing says another host can reach them).
//!
//! A domain defined on several hosts (same UUID) is one VM: on the host where
//! it runs, else on the first host that defines it. Domains with the same name
//! but different UUIDs are told apart as `name@host`. Each such decision is
//! reported in [`Imported::warnings`]. No HA settings and no fencing are
//! written: the pool gets the format's defaults, for an administrator to set.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::{Value, json};

use crate::libvirt::{DomainInfo, Inventory, LibvirtError, LibvirtHost};

/// An imported pool and what the importer had to decide on the way.
#[derive(Clone, Debug, PartialEq)]
pub struct Imported {
    /// The `haplan/v1` pool file, as JSON.
    pub pool: Value,
    /// What the importer had to decide (a disk in no storage pool made
    /// local, a domain's XML unreadable, ...), one sentence each.
    pub warnings: Vec<String>,
}

/// Why nothing was imported.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    /// A host was not given as `NAME=URI`.
    #[error("expected NAME=URI, found {0:?}")]
    BadHostSpec(String),
    /// Two hosts have one name.
    #[error("host {0:?} is given twice")]
    DuplicateHost(String),
    /// A host could not be read.
    #[error("host {host}: {source}")]
    Host {
        /// The host's name.
        host: String,
        /// What libvirt said.
        #[source]
        source: LibvirtError,
    },
}

/// Reads `NAME=URI` (the command line's form of a host).
pub fn parse_host_spec(spec: &str) -> Result<(String, String), ImportError> {
    match spec.split_once('=') {
        Some((name, uri)) if !name.is_empty() && !uri.is_empty() => {
            Ok((name.to_string(), uri.to_string()))
        }
        _ => Err(ImportError::BadHostSpec(spec.to_string())),
    }
}

/// Connects to every host (`(name, uri)`) and imports them as pool
/// `pool_name`.
pub fn import(pool_name: &str, hosts: &[(String, String)]) -> Result<Imported, ImportError> {
    check_names(hosts.iter().map(|(n, _)| n.as_str()))?;
    let mut open = Vec::with_capacity(hosts.len());
    for (name, uri) in hosts {
        let host = LibvirtHost::open(uri).map_err(|source| ImportError::Host {
            host: name.clone(),
            source,
        })?;
        open.push((name.as_str(), host));
    }
    let refs: Vec<(&str, &LibvirtHost)> = open.iter().map(|(n, h)| (*n, h)).collect();
    import_hosts(pool_name, &refs)
}

/// Imports hosts already connected.
pub fn import_hosts(
    pool_name: &str,
    hosts: &[(&str, &LibvirtHost)],
) -> Result<Imported, ImportError> {
    check_names(hosts.iter().map(|(n, _)| *n))?;
    let mut read = Vec::with_capacity(hosts.len());
    for (name, host) in hosts {
        let inventory = host.inventory().map_err(|source| ImportError::Host {
            host: name.to_string(),
            source,
        })?;
        read.push(HostInventory {
            name: name.to_string(),
            uri: host.uri().to_string(),
            inventory,
        });
    }
    Ok(pool_from_inventories(pool_name, &read))
}

fn check_names<'a>(names: impl Iterator<Item = &'a str>) -> Result<(), ImportError> {
    let mut seen = BTreeSet::new();
    for n in names {
        if n.is_empty() {
            return Err(ImportError::BadHostSpec(format!("={n}")));
        }
        if !seen.insert(n) {
            return Err(ImportError::DuplicateHost(n.to_string()));
        }
    }
    Ok(())
}

/// One host's inventory, named.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct HostInventory {
    pub(crate) name: String,
    pub(crate) uri: String,
    pub(crate) inventory: Inventory,
}

/// What a domain's XML says it needs from a host.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Needs {
    storage: BTreeSet<String>,
    networks: BTreeSet<String>,
    local_devices: Vec<String>,
}

/// The pool, from inventories already read (no I/O).
pub(crate) fn pool_from_inventories(pool_name: &str, hosts: &[HostInventory]) -> Imported {
    let mut warnings = Vec::new();

    // One VM per UUID: where it runs, else where it is first defined.
    let mut chosen: Vec<(usize, &DomainInfo, &str)> = Vec::new();
    let mut by_uuid: HashMap<&str, usize> = HashMap::new();
    for (h, host) in hosts.iter().enumerate() {
        for (info, xml) in &host.inventory.domains {
            if info.autostart {
                warnings.push(format!(
                    "domain {} on {} has libvirt autostart on: {} starts it whenever it boots, \
                     also after HA restarted it on another host while {} was down (a second \
                     copy; turn it off: virsh autostart --disable {})",
                    info.name, host.name, host.name, host.name, info.name
                ));
            }
            match by_uuid.get(info.uuid.as_str()) {
                None => {
                    by_uuid.insert(&info.uuid, chosen.len());
                    chosen.push((h, info, xml));
                }
                Some(&i) => {
                    let (first_host, first, _) = chosen[i];
                    let first_name = &hosts[first_host].name;
                    match (first.state.is_active(), info.state.is_active()) {
                        (true, true) => warnings.push(format!(
                            "domain {} ({}) is active on both {first_name} and {}: listed on {first_name} only",
                            info.name, info.uuid, host.name
                        )),
                        (false, true) => chosen[i] = (h, info, xml),
                        _ => {}
                    }
                }
            }
        }
    }

    // Names: unique in the pool.
    let mut count: HashMap<&str, usize> = HashMap::new();
    for (_, info, _) in &chosen {
        *count.entry(info.name.as_str()).or_default() += 1;
    }
    let mut vms = Vec::new();
    let mut taken = BTreeSet::new();
    for (h, info, xml) in &chosen {
        let host = &hosts[*h];
        let mut name = info.name.clone();
        if count[info.name.as_str()] > 1 {
            name = format!("{}@{}", info.name, host.name);
            warnings.push(format!(
                "several domains are named {:?}: the one on {} ({}) is listed as {name:?}",
                info.name, host.name, info.uuid
            ));
        }
        if !taken.insert(name.clone()) {
            name = format!("{name}#{}", info.uuid);
            taken.insert(name.clone());
        }
        let needs = match domain_needs(xml, &host.inventory) {
            Ok(n) => n,
            Err(e) => {
                warnings.push(format!(
                    "domain {name} on {}: unreadable XML ({e}): its storage and networks are unknown",
                    host.name
                ));
                Needs {
                    local_devices: vec!["unreadable domain XML".to_string()],
                    ..Needs::default()
                }
            }
        };
        for d in &needs.local_devices {
            if d.starts_with("disk ") {
                warnings.push(format!(
                    "domain {name} on {}: {d} is in no storage pool: taken as local to the host",
                    host.name
                ));
            }
        }
        let mut vm = json!({
            "name": name,
            "host": host.name,
            "power": info.state.pool_power(),
            "demand": domain_demand(info, Some(xml)),
            "storage": needs.storage,
            "networks": needs.networks,
        });
        if !needs.local_devices.is_empty() {
            vm["local_devices"] = json!(needs.local_devices);
        }
        vms.push(vm);
    }

    let hosts_json: Vec<Value> = hosts
        .iter()
        .map(|h| {
            let inv = &h.inventory;
            let storage: BTreeSet<&str> = inv
                .storage_pools
                .iter()
                .filter(|p| p.active)
                .map(|p| p.name.as_str())
                .collect();
            let networks: BTreeSet<&str> = inv
                .networks
                .iter()
                .chain(&inv.interfaces)
                .map(String::as_str)
                .collect();
            let mut labels = BTreeMap::new();
            labels.insert("libvirt_uri", h.uri.as_str());
            json!({
                "name": h.name,
                "capacity": { "memory_mib": inv.node.memory_mib, "vcpus": inv.node.cpus },
                "storage": storage,
                "networks": networks,
                "labels": labels,
            })
        })
        .collect();

    Imported {
        pool: json!({
            "format": "haplan/v1",
            "name": pool_name,
            "hosts": hosts_json,
            "vms": vms,
        }),
        warnings,
    }
}

/// What a domain demands of a host, as a VM of the pool (resources named as
/// [`import`] names them): `memory_mib`, its maximum memory in MiB (rounded
/// up), and `vcpus`. A running domain holds what it runs with (`info`) and
/// needs what its persistent definition (`xml`, when given and readable)
/// says when it starts again: the larger of each, so that neither where it
/// runs nor where it restarts is planned short.
pub fn domain_demand(info: &DomainInfo, xml: Option<&str>) -> BTreeMap<String, i64> {
    let (mut mib, mut vcpus) = (info.memory_mib, info.vcpus);
    if let Some((m, c)) = xml.and_then(definition_amounts) {
        mib = mib.max(m);
        vcpus = vcpus.max(c);
    }
    let clamp = |x: u64| i64::try_from(x).unwrap_or(i64::MAX);
    BTreeMap::from([
        ("memory_mib".to_string(), clamp(mib)),
        ("vcpus".to_string(), i64::from(vcpus)),
    ])
}

/// The maximum memory (MiB, rounded up) and the vCPUs it starts with (the
/// `current` attribute of `<vcpu>`, else its value) of a domain's XML; `None`
/// when the XML says neither readably.
pub(crate) fn definition_amounts(xml: &str) -> Option<(u64, u32)> {
    let doc = roxmltree::Document::parse(xml).ok()?;
    let root = doc.root_element();
    let memory = child(root, "memory")?;
    let amount: u64 = memory.text()?.trim().parse().ok()?;
    // libvirt's units: bytes, SI (1000) and binary (1024) multiples.
    let bytes_per: u64 = match memory.attribute("unit").unwrap_or("KiB") {
        "b" | "bytes" => 1,
        "KB" => 1_000,
        "k" | "KiB" => 1 << 10,
        "MB" => 1_000_000,
        "M" | "MiB" => 1 << 20,
        "GB" => 1_000_000_000,
        "G" | "GiB" => 1 << 30,
        "TB" => 1_000_000_000_000,
        "T" | "TiB" => 1 << 40,
        _ => return None,
    };
    let mib = u128::from(amount) * u128::from(bytes_per);
    let mib = u64::try_from(mib.div_ceil(1 << 20)).ok()?;
    let vcpu = child(root, "vcpu")?;
    let vcpus: u32 = match vcpu.attribute("current") {
        Some(c) => c.trim().parse().ok()?,
        None => vcpu.text()?.trim().parse().ok()?,
    };
    Some((mib, vcpus))
}

/// The storage pool holding `path`: the pool with that volume, else the pool
/// whose target directory holds it (the deepest one).
fn pool_of_path<'a>(path: &str, inv: &'a Inventory) -> Option<&'a str> {
    if let Some(p) = inv
        .storage_pools
        .iter()
        .find(|p| p.volume_paths.iter().any(|v| v == path))
    {
        return Some(&p.name);
    }
    inv.storage_pools
        .iter()
        .filter_map(|p| {
            let target = p.target_path.as_deref()?.trim_end_matches('/');
            let inside = !target.is_empty()
                && path.len() > target.len() + 1
                && path.starts_with(target)
                && path.as_bytes()[target.len()] == b'/';
            inside.then_some((target.len(), p.name.as_str()))
        })
        .max_by_key(|(len, _)| *len)
        .map(|(_, name)| name)
}

fn child<'a, 'i>(n: roxmltree::Node<'a, 'i>, tag: &str) -> Option<roxmltree::Node<'a, 'i>> {
    n.children().find(|c| c.has_tag_name(tag))
}

fn domain_needs(xml: &str, inv: &Inventory) -> Result<Needs, roxmltree::Error> {
    let doc = roxmltree::Document::parse(xml)?;
    let mut needs = Needs::default();
    let Some(devices) = doc
        .root_element()
        .children()
        .find(|n| n.has_tag_name("devices"))
    else {
        return Ok(needs);
    };
    for dev in devices.children().filter(|n| n.is_element()) {
        match dev.tag_name().name() {
            "disk" => {
                let kind = dev.attribute("type").unwrap_or("file");
                let target = child(dev, "target")
                    .and_then(|t| t.attribute("dev"))
                    .unwrap_or("?");
                let Some(source) = child(dev, "source") else {
                    continue; // an empty drive
                };
                match kind {
                    "volume" => {
                        if let Some(pool) = source.attribute("pool") {
                            needs.storage.insert(pool.to_string());
                        }
                    }
                    // Reached over the network: from any host that can.
                    "network" => {}
                    _ => {
                        let path = source
                            .attribute("file")
                            .or_else(|| source.attribute("dev"))
                            .or_else(|| source.attribute("dir"));
                        let Some(path) = path else { continue };
                        match pool_of_path(path, inv) {
                            Some(pool) => {
                                needs.storage.insert(pool.to_string());
                            }
                            None => needs.local_devices.push(format!("disk {target}: {path}")),
                        }
                    }
                }
            }
            "interface" => {
                let kind = dev.attribute("type").unwrap_or("");
                let source = child(dev, "source");
                let attr = match kind {
                    "network" => "network",
                    "bridge" => "bridge",
                    "direct" => "dev",
                    _ => continue,
                };
                if let Some(name) = source.and_then(|s| s.attribute(attr)) {
                    needs.networks.insert(name.to_string());
                }
            }
            "hostdev" => {
                let kind = dev.attribute("type").unwrap_or("device");
                let address = child(dev, "source")
                    .and_then(|s| child(s, "address"))
                    .map(|a| {
                        let mut parts = Vec::new();
                        for key in ["domain", "bus", "slot", "function", "device"] {
                            if let Some(v) = a.attribute(key) {
                                parts.push(format!("{key}={v}"));
                            }
                        }
                        parts.join(",")
                    })
                    .unwrap_or_default();
                needs
                    .local_devices
                    .push(format!("hostdev {kind} {address}").trim_end().to_string());
            }
            _ => {}
        }
    }
    Ok(needs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::libvirt::{DomainState, NodeInfo, StoragePoolInfo, pool_target_path};

    fn inventory(domains: Vec<(DomainInfo, String)>) -> Inventory {
        Inventory {
            node: NodeInfo {
                memory_mib: 65536,
                cpus: 16,
                cpu_model: "x86_64".into(),
            },
            domains,
            storage_pools: vec![
                StoragePoolInfo {
                    name: "nfs-a".into(),
                    active: true,
                    target_path: Some("/srv/nfs-a".into()),
                    volume_paths: vec!["/elsewhere/linked.qcow2".into()],
                },
                StoragePoolInfo {
                    name: "nfs-a-sub".into(),
                    active: true,
                    target_path: Some("/srv/nfs-a/sub/".into()),
                    volume_paths: vec![],
                },
                StoragePoolInfo {
                    name: "old".into(),
                    active: false,
                    target_path: Some("/srv/old".into()),
                    volume_paths: vec![],
                },
            ],
            networks: vec!["default".into()],
            interfaces: vec!["br0".into()],
        }
    }

    fn domain(name: &str, uuid: &str, state: DomainState, mib: u64, vcpus: u32) -> DomainInfo {
        DomainInfo {
            name: name.into(),
            uuid: uuid.into(),
            state,
            memory_mib: mib,
            vcpus,
            persistent: true,
            autostart: false,
        }
    }

    const XML: &str = r#"<domain type='kvm'>
      <name>db1</name>
      <devices>
        <disk type='file' device='disk'><source file='/srv/nfs-a/db1.qcow2'/><target dev='vda'/></disk>
        <disk type='file' device='disk'><source file='/srv/nfs-a/sub/db1-data.qcow2'/><target dev='vdb'/></disk>
        <disk type='file' device='disk'><source file='/elsewhere/linked.qcow2'/><target dev='vdc'/></disk>
        <disk type='volume' device='disk'><source pool='iscsi-b' volume='lun1'/><target dev='vdd'/></disk>
        <disk type='network' device='disk'><source protocol='rbd' name='rbd/img'/><target dev='vde'/></disk>
        <disk type='file' device='cdrom'><target dev='sda'/></disk>
        <disk type='block' device='disk'><source dev='/dev/sdz'/><target dev='vdf'/></disk>
        <interface type='network'><source network='default'/></interface>
        <interface type='bridge'><source bridge='br0'/></interface>
        <interface type='user'/>
        <hostdev mode='subsystem' type='pci'><source><address domain='0x0000' bus='0x03' slot='0x00' function='0x0'/></source></hostdev>
      </devices>
    </domain>"#;

    #[test]
    fn needs_from_domain_xml() {
        let inv = inventory(vec![]);
        let needs = domain_needs(XML, &inv).unwrap();
        assert_eq!(
            needs.storage.iter().collect::<Vec<_>>(),
            ["iscsi-b", "nfs-a", "nfs-a-sub"]
        );
        assert_eq!(
            needs.networks.iter().collect::<Vec<_>>(),
            ["br0", "default"]
        );
        assert_eq!(
            needs.local_devices,
            [
                "disk vdf: /dev/sdz",
                "hostdev pci domain=0x0000,bus=0x03,slot=0x00,function=0x0"
            ]
        );
    }

    #[test]
    fn paths_resolve_to_the_deepest_pool_and_only_inside_it() {
        let inv = inventory(vec![]);
        assert_eq!(pool_of_path("/srv/nfs-a/x.img", &inv), Some("nfs-a"));
        assert_eq!(
            pool_of_path("/srv/nfs-a/sub/x.img", &inv),
            Some("nfs-a-sub")
        );
        assert_eq!(pool_of_path("/srv/nfs-ab/x.img", &inv), None);
        assert_eq!(pool_of_path("/srv/nfs-a", &inv), None);
        assert_eq!(pool_of_path("/srv/old/x.img", &inv), Some("old"));
        assert_eq!(pool_of_path("/elsewhere/linked.qcow2", &inv), Some("nfs-a"));
    }

    #[test]
    fn pool_target_path_reads_the_pool_xml() {
        let xml = "<pool type='dir'><name>p</name><target><path>/var/lib/p</path></target></pool>";
        assert_eq!(pool_target_path(xml).as_deref(), Some("/var/lib/p"));
        assert_eq!(
            pool_target_path("<pool type='rbd'><name>p</name></pool>"),
            None
        );
        assert_eq!(pool_target_path("not xml"), None);
    }

    #[test]
    fn host_specs() {
        assert_eq!(
            parse_host_spec("h1=qemu+ssh://root@h1/system?a=b").unwrap(),
            (
                "h1".to_string(),
                "qemu+ssh://root@h1/system?a=b".to_string()
            )
        );
        for bad in ["h1", "=uri", "h1=", ""] {
            assert!(parse_host_spec(bad).is_err(), "{bad}");
        }
        let twice = [
            ("a".to_string(), "u".to_string()),
            ("a".to_string(), "v".to_string()),
        ];
        assert!(matches!(
            import("p", &twice),
            Err(ImportError::DuplicateHost(n)) if n == "a"
        ));
    }

    fn simple_xml(name: &str) -> String {
        format!(
            "<domain><name>{name}</name><devices><disk type='file'><source file='/srv/nfs-a/{name}.img'/><target dev='vda'/></disk></devices></domain>"
        )
    }

    #[test]
    fn pool_json_dedupes_by_uuid_and_renames_clashes() {
        let h1 = HostInventory {
            name: "h1".into(),
            uri: "test+unix:///default?socket=/a".into(),
            inventory: inventory(vec![
                (
                    domain("web", "u-web", DomainState::Shutoff, 1024, 2),
                    simple_xml("web"),
                ),
                (
                    domain("db", "u-db1", DomainState::Running, 4096, 4),
                    simple_xml("db"),
                ),
                (
                    domain("p", "u-p", DomainState::Paused, 511, 1),
                    simple_xml("p"),
                ),
                (
                    domain("split", "u-s", DomainState::Running, 100, 1),
                    simple_xml("split"),
                ),
            ]),
        };
        let h2 = HostInventory {
            name: "h2".into(),
            uri: "test+unix:///default?socket=/b".into(),
            inventory: inventory(vec![
                (
                    domain("web", "u-web", DomainState::Running, 1024, 2),
                    simple_xml("web"),
                ),
                (
                    domain("db", "u-db2", DomainState::Shutoff, 2048, 2),
                    simple_xml("db"),
                ),
                (
                    domain("split", "u-s", DomainState::Running, 100, 1),
                    simple_xml("split"),
                ),
            ]),
        };
        let out = pool_from_inventories("lab", &[h1, h2]);
        let vms = out.pool["vms"].as_array().unwrap();
        let names: Vec<(&str, &str, &str)> = vms
            .iter()
            .map(|v| {
                (
                    v["name"].as_str().unwrap(),
                    v["host"].as_str().unwrap(),
                    v["power"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            names,
            [
                ("web", "h2", "running"),
                ("db@h1", "h1", "running"),
                ("p", "h1", "paused"),
                ("split", "h1", "running"),
                ("db@h2", "h2", "halted"),
            ]
        );
        assert_eq!(vms[2]["demand"], json!({"memory_mib": 511, "vcpus": 1}));
        assert_eq!(vms[0]["storage"], json!(["nfs-a"]));
        assert_eq!(
            out.pool["hosts"][0]["storage"],
            json!(["nfs-a", "nfs-a-sub"])
        );
        assert_eq!(out.pool["hosts"][0]["networks"], json!(["br0", "default"]));
        assert_eq!(
            out.pool["hosts"][1]["capacity"],
            json!({"memory_mib": 65536, "vcpus": 16})
        );
        assert_eq!(
            out.pool["hosts"][1]["labels"]["libvirt_uri"],
            "test+unix:///default?socket=/b"
        );
        assert_eq!(out.warnings.len(), 3, "{:?}", out.warnings);
        assert!(out.warnings[0].contains("active on both h1 and h2"));
        // And haplan reads it.
        let text = serde_json::to_string(&out.pool).unwrap();
        let pool = haplan::parse_pool(&text).unwrap();
        assert_eq!(pool.hosts.len(), 2);
        assert_eq!(pool.vms.len(), 5);
    }

    #[test]
    fn amounts_are_read_from_a_definition_in_any_unit() {
        let xml = |mem: &str, vcpu: &str| {
            format!(
                "<domain type='kvm'><name>a</name>{mem}{vcpu}<os><type>hvm</type></os></domain>"
            )
        };
        let vcpu = "<vcpu placement='static'>2</vcpu>";
        for (mem, mib) in [
            ("<memory unit='KiB'>655360</memory>", 640),
            ("<memory>655361</memory>", 641), // KiB by default, rounded up
            ("<memory unit='MiB'>640</memory>", 640),
            ("<memory unit='M'>640</memory>", 640),
            ("<memory unit='GiB'>2</memory>", 2048),
            ("<memory unit='G'>2</memory>", 2048),
            ("<memory unit='bytes'>1048577</memory>", 2),
            ("<memory unit='MB'>1000</memory>", 954), // 10^9 bytes
            ("<memory unit='TiB'>1</memory>", 1 << 20),
        ] {
            assert_eq!(definition_amounts(&xml(mem, vcpu)), Some((mib, 2)), "{mem}");
        }
        let mem = "<memory unit='MiB'>512</memory>";
        // vCPUs it starts with, not the most it may be given.
        let hot = "<vcpu placement='static' current='3'>8</vcpu>";
        assert_eq!(definition_amounts(&xml(mem, hot)), Some((512, 3)));
        for bad in [
            xml("<memory unit='parsec'>1</memory>", vcpu),
            xml("<memory unit='MiB'>-1</memory>", vcpu),
            xml("", vcpu),
            xml(mem, ""),
            xml(mem, "<vcpu>many</vcpu>"),
            "<domain".to_string(),
        ] {
            assert_eq!(definition_amounts(&bad), None, "{bad}");
        }
    }

    #[test]
    fn a_domain_demands_the_larger_of_what_it_runs_with_and_its_definition() {
        let running = domain("a", "u-a", DomainState::Running, 512, 2);
        let xml = |mib: u64, vcpus: u32| {
            format!(
                "<domain><name>a</name><memory unit='MiB'>{mib}</memory><vcpu>{vcpus}</vcpu></domain>"
            )
        };
        let demand =
            |xml: Option<&str>| serde_json::to_value(domain_demand(&running, xml)).unwrap();
        assert_eq!(demand(None), json!({"memory_mib": 512, "vcpus": 2}));
        // Grown in its definition (what it boots with next).
        assert_eq!(
            demand(Some(&xml(640, 4))),
            json!({"memory_mib": 640, "vcpus": 4})
        );
        // Shrunk in its definition: it still holds what it runs with.
        assert_eq!(
            demand(Some(&xml(256, 1))),
            json!({"memory_mib": 512, "vcpus": 2})
        );
        assert_eq!(
            demand(Some("<domain")),
            json!({"memory_mib": 512, "vcpus": 2})
        );
        // The importer writes the same amounts.
        let h = HostInventory {
            name: "h1".into(),
            uri: "u".into(),
            inventory: inventory(vec![(running.clone(), xml(640, 1))]),
        };
        let out = pool_from_inventories("p", &[h]);
        assert_eq!(
            out.pool["vms"][0]["demand"],
            json!({"memory_mib": 640, "vcpus": 2})
        );
    }

    #[test]
    fn unreadable_xml_makes_a_vm_local_with_a_warning() {
        let h = HostInventory {
            name: "h1".into(),
            uri: "u".into(),
            inventory: inventory(vec![(
                domain("x", "u-x", DomainState::Running, 1, 1),
                "<domain".into(),
            )]),
        };
        let out = pool_from_inventories("p", &[h]);
        assert_eq!(
            out.pool["vms"][0]["local_devices"],
            json!(["unreadable domain XML"])
        );
        assert!(out.warnings[0].contains("unreadable XML"));
        haplan::parse_pool(&out.pool.to_string()).unwrap();
    }

    #[test]
    fn a_domain_with_autostart_on_is_warned_of() {
        let mut on = domain("x", "u-x", DomainState::Running, 1024, 1);
        on.autostart = true;
        let h = HostInventory {
            name: "h1".into(),
            uri: "u".into(),
            inventory: inventory(vec![
                (on, simple_xml("x")),
                (
                    domain("y", "u-y", DomainState::Running, 1024, 1),
                    simple_xml("y"),
                ),
            ]),
        };
        let out = pool_from_inventories("p", &[h]);
        assert_eq!(out.warnings.len(), 1, "{:?}", out.warnings);
        assert!(
            out.warnings[0].starts_with("domain x on h1 has libvirt autostart on"),
            "{:?}",
            out.warnings
        );
        assert!(out.warnings[0].contains("virsh autostart --disable x"));
    }
}
