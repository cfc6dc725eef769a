//! The drivers against real daemons: the bench's libvirtd hosts and their
//! ipmi_sim BMCs, fence_ipmilan, libvirt. Each test starts a bench of its
//! own (its own directory, ports and sockets), so they run in parallel.
//!
//! These tests need the Debian packages that `scripts/deps.sh` installs; when
//! a daemon is missing they fail, naming it.

use std::net::UdpSocket;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use haplan_drivers::bench::{Bench, BenchOptions};
use haplan_drivers::fence::{Action, FenceDevice, FenceError, FenceParams, PowerState};
use haplan_drivers::import;
use haplan_drivers::libvirt::{DomainState, LibvirtError, LibvirtHost};
use serde_json::Value;

const FENCE_TIMEOUT: Duration = Duration::from_secs(20);

fn bench(hosts: usize) -> Bench {
    Bench::start(hosts).unwrap_or_else(|e| panic!("the end-to-end bench did not start: {e}"))
}

fn ipmilan(params: FenceParams) -> FenceDevice {
    FenceDevice::new("fence_ipmilan", params)
        .unwrap_or_else(|e| panic!("{e} (scripts/deps.sh installs fence-agents)"))
}

/// A test-driver domain with a disk in the host's `default-pool` and a NIC
/// on its `default` network.
fn domain_xml(name: &str, memory_mib: u64, vcpus: u32) -> String {
    format!(
        "<domain type='test'>
           <name>{name}</name>
           <memory unit='MiB'>{memory_mib}</memory>
           <vcpu>{vcpus}</vcpu>
           <os><type arch='x86_64'>hvm</type></os>
           <devices>
             <disk type='file' device='disk'>
               <source file='/default-pool/{name}.img'/><target dev='vda' bus='virtio'/>
             </disk>
             <interface type='network'><source network='default'/></interface>
           </devices>
         </domain>"
    )
}

/// Retries `f` until it returns `Some` or `within` passes.
fn eventually<T>(within: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        thread::sleep(Duration::from_millis(50));
    }
}

/// Processes whose command line names `needle`.
fn processes_naming(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|s| s.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains(needle) {
            found.push(format!("{pid}: {cmdline}"));
        }
    }
    found
}

#[test]
fn fencing_powers_the_host_off_for_real_and_confirms_it() {
    let bench = bench(2);
    let h1 = bench.host("h1").unwrap();
    let device = ipmilan(h1.fence_params());
    let libvirt = LibvirtHost::open(&h1.uri).unwrap();
    libvirt.probe(Duration::from_secs(5)).unwrap();

    assert_eq!(device.status(FENCE_TIMEOUT).unwrap(), PowerState::On);
    let pid = bench
        .libvirtd_pid("h1")
        .unwrap()
        .expect("h1's libvirtd runs");

    device.off_and_confirm(FENCE_TIMEOUT).unwrap();
    assert_eq!(device.status(FENCE_TIMEOUT).unwrap(), PowerState::Off);
    assert_eq!(
        bench.libvirtd_pid("h1").unwrap(),
        None,
        "libvirtd {pid} survived"
    );
    let e = libvirt.probe(Duration::from_secs(5)).unwrap_err();
    assert!(e.is_unreachable(), "{e}");
    // The other host is untouched.
    assert!(bench.libvirtd_pid("h2").unwrap().is_some());
    LibvirtHost::open(&bench.host("h2").unwrap().uri)
        .unwrap()
        .probe(Duration::from_secs(5))
        .unwrap();

    // Power on: a fresh libvirtd, reached again through the same handle.
    device.run(Action::On, FENCE_TIMEOUT).unwrap();
    assert_eq!(device.status(FENCE_TIMEOUT).unwrap(), PowerState::On);
    let back = eventually(Duration::from_secs(15), || {
        libvirt.probe(Duration::from_secs(2)).ok()
    });
    assert!(back.is_some(), "h1 did not come back");
    assert_ne!(bench.libvirtd_pid("h1").unwrap(), Some(pid));
}

#[test]
fn a_wrong_password_is_an_error_never_off() {
    let bench = bench(1);
    let h1 = bench.host("h1").unwrap();
    let device = ipmilan(h1.fence_params_with_password("not-the-password"));
    let e = device.status(FENCE_TIMEOUT).unwrap_err();
    assert!(
        matches!(
            e,
            FenceError::Failed {
                action: Action::Status,
                ..
            }
        ),
        "{e}"
    );
    let e = device.off_and_confirm(FENCE_TIMEOUT).unwrap_err();
    assert!(
        matches!(
            e,
            FenceError::Failed {
                action: Action::Off,
                ..
            }
        ),
        "{e}"
    );
    assert!(!e.to_string().contains("not-the-password"), "{e}");
    // Nothing happened to the host.
    assert!(bench.libvirtd_pid("h1").unwrap().is_some());
    assert_eq!(
        ipmilan(h1.fence_params()).status(FENCE_TIMEOUT).unwrap(),
        PowerState::On
    );
}

/// Every command line of every process, read until `stop` (as often as the
/// machine allows): the distinct ones.
fn watch_command_lines(
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> thread::JoinHandle<std::collections::BTreeSet<String>> {
    thread::spawn(move || {
        let mut seen = std::collections::BTreeSet::new();
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            for entry in std::fs::read_dir("/proc").unwrap().flatten() {
                let is_pid = entry
                    .file_name()
                    .to_str()
                    .is_some_and(|s| s.bytes().all(|b| b.is_ascii_digit()));
                if !is_pid {
                    continue;
                }
                if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
                    seen.insert(String::from_utf8_lossy(&cmdline).replace('\0', " "));
                }
            }
        }
        seen
    })
}

#[test]
fn the_bmc_password_is_on_no_command_line_while_a_host_is_really_fenced() {
    let bench = bench(1);
    let h1 = bench.host("h1").unwrap();
    let password = h1.bmc_password.clone();
    let wrong = format!("wrong-{password}");
    assert!(password.len() >= 8, "a password that can be looked for");
    // In front of the real ipmitool, a program that records the command
    // line it is given: what fence_ipmilan hands to ipmitool, every time,
    // however short-lived (ipmitool hides -P's value once it runs).
    let recorded = bench.dir().join("ipmitool-argv");
    let recorder = bench.dir().join("ipmitool-recorder");
    std::fs::write(
        &recorder,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$*\" >> {}\nexec /usr/bin/ipmitool \"$@\"\n",
            recorded.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(
        &recorder,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let with_recorder = |password: &str| {
        let mut p = h1.fence_params_with_password(password);
        p.insert("ipmitool_path", recorder.display().to_string())
            .unwrap();
        ipmilan(p)
    };
    let device = with_recorder(&password);
    let refused = with_recorder(&wrong);

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = watch_command_lines(std::sync::Arc::clone(&stop));
    // A wrong password still fails, and never powers the host off.
    let e = refused.off_and_confirm(FENCE_TIMEOUT).unwrap_err();
    assert!(
        matches!(
            e,
            FenceError::Failed {
                action: Action::Off,
                ..
            }
        ),
        "{e}"
    );
    assert!(bench.libvirtd_pid("h1").unwrap().is_some());
    // The right one fences for real.
    assert_eq!(device.status(FENCE_TIMEOUT).unwrap(), PowerState::On);
    device.off_and_confirm(FENCE_TIMEOUT).unwrap();
    assert_eq!(bench.libvirtd_pid("h1").unwrap(), None, "h1 still runs");
    assert_eq!(device.status(FENCE_TIMEOUT).unwrap(), PowerState::Off);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let seen = watcher.join().unwrap();

    let port = format!("-p {}", h1.bmc_port);
    let ipmitool_runs: Vec<&String> = seen.iter().filter(|c| c.contains(&port)).collect();
    assert!(
        !ipmitool_runs.is_empty(),
        "the watcher never saw ipmitool run: it proves nothing"
    );
    for secret in [&password, &wrong] {
        let leaks: Vec<&String> = seen
            .iter()
            .filter(|c| c.contains(secret.as_str()))
            .collect();
        assert!(leaks.is_empty(), "on a command line: {leaks:?}");
    }
    let lines = std::fs::read_to_string(&recorded).unwrap();
    // status, off then status (off retries its status), status: at least
    // one ipmitool per step.
    assert!(lines.lines().count() >= 4, "{lines}");
    for line in lines.lines() {
        assert!(
            !line.contains(&password) && !line.contains("wrong-"),
            "ipmitool was given {line}"
        );
        assert!(
            line.ends_with(" -E"),
            "not told to read the environment: {line}"
        );
        assert!(line.contains(&port), "{line}");
    }
}

#[test]
fn a_fence_timeout_kills_the_real_agent_and_ipmitool() {
    // A BMC that never answers: a bound UDP port nobody reads.
    let black_hole = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = black_hole.local_addr().unwrap().port().to_string();
    let mut params = FenceParams::new();
    for (k, v) in [
        ("ip", "127.0.0.1"),
        ("ipport", port.as_str()),
        ("username", "admin"),
        ("password", "secret"),
        ("lanplus", "1"),
        ("cipher", "3"),
    ] {
        params.insert(k, v).unwrap();
    }
    let device = ipmilan(params);
    let started = Instant::now();
    let e = device
        .run(Action::Status, Duration::from_millis(1500))
        .unwrap_err();
    let took = started.elapsed();
    assert!(matches!(e, FenceError::Timeout { .. }), "{e}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    // ipmitool was given the port on its command line: none is left.
    let needle = format!("-p {port}");
    let left = eventually(Duration::from_secs(2), || {
        let left = processes_naming(&needle);
        left.is_empty().then_some(())
    });
    assert!(
        left.is_some(),
        "left running: {:?}",
        processes_naming(&needle)
    );
}

#[test]
fn the_pool_file_fencing_levels_work_as_written() {
    let bench = Bench::start_with(&BenchOptions {
        hosts: 3,
        refuse: vec!["h2".into()],
        refuse_first: vec!["h3".into()],
    })
    .unwrap_or_else(|e| panic!("the end-to-end bench did not start: {e}"));
    let text = std::fs::read_to_string(bench.pool_path()).unwrap();
    let pool = haplan::parse_pool(&text).unwrap();
    assert_eq!(pool.hosts.len(), 3);
    let report = haplan::check(&pool, &haplan::CheckOptions::default());
    assert_eq!(
        report.max_tolerable, 3,
        "an empty pool tolerates every failure"
    );

    let status = |host: &str, level: usize| {
        let h = pool.hosts.iter().find(|h| h.name == host).unwrap();
        let level = &h.fencing[level];
        let params = FenceParams::from_json(&level.params).unwrap();
        FenceDevice::new(&level.agent, params)
            .unwrap()
            .status(FENCE_TIMEOUT)
    };
    assert_eq!(status("h1", 0).unwrap(), PowerState::On);
    assert!(status("h2", 0).is_err());
    assert!(status("h3", 0).is_err());
    assert_eq!(status("h3", 1).unwrap(), PowerState::On);
    // Each host's URI label reaches that host.
    for h in &pool.hosts {
        let uri = &h.labels["libvirt_uri"];
        LibvirtHost::open(uri)
            .unwrap()
            .probe(Duration::from_secs(5))
            .unwrap();
    }
}

#[test]
fn libvirt_defines_starts_lists_and_stops_domains() {
    let bench = bench(1);
    let host = LibvirtHost::open(&bench.host("h1").unwrap().uri).unwrap();
    assert_eq!(host.domains().unwrap(), []);
    let node = host.node_info().unwrap();
    assert!(node.memory_mib > 0 && node.cpus > 0, "{node:?}");

    let a = host.define_and_start(&domain_xml("vm-a", 512, 2)).unwrap();
    assert_eq!(
        (
            a.name.as_str(),
            a.state,
            a.memory_mib,
            a.vcpus,
            a.persistent
        ),
        ("vm-a", DomainState::Running, 512, 2, true)
    );
    let b = host.define(&domain_xml("vm-b", 256, 1)).unwrap();
    assert_eq!(b.state, DomainState::Shutoff);
    assert_ne!(a.uuid, b.uuid);
    let active: Vec<String> = host
        .active_domains()
        .unwrap()
        .into_iter()
        .map(|d| d.name)
        .collect();
    assert_eq!(active, ["vm-a"]);

    host.start("vm-b").unwrap();
    assert_eq!(host.domain("vm-b").unwrap().state, DomainState::Running);
    let e = host.start("vm-b").unwrap_err();
    assert!(matches!(e, LibvirtError::Libvirt { .. }), "{e}");
    assert!(!e.is_unreachable());
    let mut all = host.domains().unwrap();
    all.sort_by(|x, y| x.name.cmp(&y.name));
    assert_eq!(all.len(), 2);
    assert_eq!((all[1].memory_mib, all[1].vcpus), (256, 1));

    let xml = host.domain_xml("vm-a").unwrap();
    assert!(
        xml.contains("<name>vm-a</name>") && xml.contains(&a.uuid),
        "{xml}"
    );

    host.destroy("vm-a").unwrap();
    assert_eq!(host.domain("vm-a").unwrap().state, DomainState::Shutoff);
    host.destroy("vm-a").unwrap(); // already stopped: nothing to do
    host.undefine("vm-a").unwrap();
    let e = host.domain("vm-a").unwrap_err();
    assert!(matches!(e, LibvirtError::NoDomain { .. }), "{e}");
    assert!(matches!(
        host.start("nope"),
        Err(LibvirtError::NoDomain { .. })
    ));
    assert!(matches!(
        host.define("<domain"),
        Err(LibvirtError::Libvirt { .. })
    ));
    assert!(matches!(
        host.start("a\0b"),
        Err(LibvirtError::InvalidText { .. })
    ));

    // The XML of a domain is what restarts it elsewhere: redefine it on a
    // fresh connection after undefining it.
    let xml_b = host.domain_xml("vm-b").unwrap();
    host.destroy("vm-b").unwrap();
    host.undefine("vm-b").unwrap();
    let again = LibvirtHost::open(&bench.host("h1").unwrap().uri).unwrap();
    let b2 = again.define_and_start(&xml_b).unwrap();
    assert_eq!((b2.uuid, b2.state), (b.uuid, DomainState::Running));
}

#[test]
fn domains_outlive_the_connection_that_made_them() {
    let bench = bench(1);
    let uri = &bench.host("h1").unwrap().uri;
    {
        let host = LibvirtHost::open(uri).unwrap();
        host.define_and_start(&domain_xml("kept", 128, 1)).unwrap();
    }
    let host = LibvirtHost::open(uri).unwrap();
    assert_eq!(host.domain("kept").unwrap().state, DomainState::Running);
}

#[test]
fn a_lost_management_network_times_out_while_the_host_runs() {
    let bench = bench(1);
    let h1 = bench.host("h1").unwrap();
    let host = LibvirtHost::open(&h1.uri).unwrap();
    host.define_and_start(&domain_xml("vm", 128, 1)).unwrap();
    host.probe(Duration::from_secs(5)).unwrap();

    bench.isolate("h1").unwrap();
    let started = Instant::now();
    let e = host.probe(Duration::from_millis(500)).unwrap_err();
    let took = started.elapsed();
    assert!(matches!(e, LibvirtError::Timeout { .. }), "{e}");
    assert!(e.is_unreachable());
    assert!(took < Duration::from_secs(2), "{took:?}");
    // A fresh connection does not get through either.
    let fresh = haplan_drivers::libvirt::ConnectOptions {
        call_timeout: Duration::from_millis(500),
        ..Default::default()
    };
    let e = LibvirtHost::open_with(&h1.uri, fresh).unwrap_err();
    assert!(e.is_unreachable(), "{e}");
    // But the host runs, its domain too, and its BMC says so.
    assert!(bench.libvirtd_pid("h1").unwrap().is_some());
    let direct = LibvirtHost::open(&h1.direct_uri).unwrap();
    assert_eq!(direct.domain("vm").unwrap().state, DomainState::Running);
    assert_eq!(
        ipmilan(h1.fence_params()).status(FENCE_TIMEOUT).unwrap(),
        PowerState::On
    );

    bench.heal("h1").unwrap();
    let back = eventually(Duration::from_secs(10), || {
        host.probe(Duration::from_secs(1)).ok()
    });
    assert!(back.is_some(), "h1 not reachable again");
    assert_eq!(host.domain("vm").unwrap().state, DomainState::Running);
}

#[test]
fn calls_from_many_threads_outlive_a_frozen_path_that_keepalive_gave_up_on() {
    let bench = bench(1);
    let h1 = bench.host("h1").unwrap();
    // Keepalive gives up on a silent host after 2 unanswered messages 1 s
    // apart: connections die (and are opened again) within the freeze.
    let options = haplan_drivers::libvirt::ConnectOptions {
        call_timeout: Duration::from_millis(500),
        keepalive: Some((1, 2)),
    };
    let host = LibvirtHost::open_with(&h1.uri, options).unwrap();
    host.define_and_start(&domain_xml("vm", 128, 1)).unwrap();
    bench.isolate("h1").unwrap();
    let until = Instant::now() + Duration::from_secs(8);
    let callers: Vec<_> = (0..6)
        .map(|i| {
            let host = host.clone();
            thread::spawn(move || {
                let mut errors = Vec::new();
                while Instant::now() < until {
                    let r = if i % 2 == 0 {
                        host.probe(Duration::from_millis(300)).map(drop)
                    } else {
                        host.domains().map(drop)
                    };
                    if let Err(e) = r {
                        errors.push(e);
                    }
                    thread::sleep(Duration::from_millis(100));
                }
                errors
            })
        })
        .collect();
    let errors: Vec<LibvirtError> = callers
        .into_iter()
        .flat_map(|c| c.join().unwrap())
        .collect();
    bench.heal("h1").unwrap();
    assert!(!errors.is_empty(), "the frozen host answered");
    for e in &errors {
        assert!(e.is_unreachable(), "{e}");
    }
    // The calls behind a hanging one were never made, and keepalive did
    // close the connections.
    assert!(
        errors
            .iter()
            .any(|e| matches!(e, LibvirtError::NotSent { .. })),
        "{errors:?}"
    );
    let back = eventually(Duration::from_secs(10), || {
        host.probe(Duration::from_secs(1)).ok()
    });
    assert!(back.is_some(), "h1 not reachable again");
    let vm = eventually(Duration::from_secs(10), || host.domain("vm").ok());
    assert_eq!(vm.map(|d| d.state), Some(DomainState::Running));
    assert_eq!(host.thread_restarts(), 0);
}

#[test]
fn a_crashed_host_fails_the_probe_fast_and_reads_as_off() {
    let bench = bench(1);
    let h1 = bench.host("h1").unwrap();
    let host = LibvirtHost::open(&h1.uri).unwrap();
    bench.crash("h1").unwrap();
    let started = Instant::now();
    let e = host.probe(Duration::from_secs(5)).unwrap_err();
    assert!(e.is_unreachable(), "{e}");
    assert!(started.elapsed() < Duration::from_secs(2));
    let device = ipmilan(h1.fence_params());
    assert_eq!(device.status(FENCE_TIMEOUT).unwrap(), PowerState::Off);
    // Fencing a host that is already off confirms at once.
    device.off_and_confirm(FENCE_TIMEOUT).unwrap();
    // A handle made while the host is down reaches it once it is back.
    let later = LibvirtHost::new(&h1.uri, Default::default()).unwrap();
    assert!(
        later
            .probe(Duration::from_secs(2))
            .unwrap_err()
            .is_unreachable()
    );

    bench.power_on("h1").unwrap();
    let back = eventually(Duration::from_secs(10), || {
        host.probe(Duration::from_secs(1)).ok()
    });
    assert!(back.is_some());
    assert_eq!(host.domains().unwrap(), [], "a fresh host has no domains");
    later.probe(Duration::from_secs(2)).unwrap();
}

#[test]
fn the_importer_reads_live_hosts_into_a_valid_pool() {
    let bench = bench(2);
    let h1 = LibvirtHost::open(&bench.host("h1").unwrap().uri).unwrap();
    let h2 = LibvirtHost::open(&bench.host("h2").unwrap().uri).unwrap();
    h1.define_and_start(&domain_xml("web", 1024, 2)).unwrap();
    h1.define_and_start(&domain_xml("db", 2000, 4)).unwrap();
    h2.define(&domain_xml("batch", 512, 1)).unwrap();
    h2.define_and_start(&domain_xml("cache", 300, 1)).unwrap();
    let out = Command::new("virsh")
        .args([
            "-q",
            "-c",
            &bench.host("h2").unwrap().uri,
            "suspend",
            "cache",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");

    let imported = import::import("bench", &bench.host_uris()).unwrap();
    assert_eq!(imported.warnings, Vec::<String>::new());
    let text = serde_json::to_string_pretty(&imported.pool).unwrap();
    let pool = haplan::parse_pool(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let report = haplan::check(&pool, &haplan::CheckOptions::default());
    assert!(report.not_agile.is_empty(), "{:?}", report.not_agile);

    let vms: Vec<(String, String, String, u64, u64)> = imported.pool["vms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["name"].as_str().unwrap().to_string(),
                v["host"].as_str().unwrap().to_string(),
                v["power"].as_str().unwrap().to_string(),
                v["demand"]["memory_mib"].as_u64().unwrap(),
                v["demand"]["vcpus"].as_u64().unwrap(),
            )
        })
        .collect();
    let mut vms = vms;
    vms.sort();
    let row = |n: &str, h: &str, p: &str, m: u64, c: u64| {
        (n.to_string(), h.to_string(), p.to_string(), m, c)
    };
    assert_eq!(
        vms,
        [
            row("batch", "h2", "halted", 512, 1),
            row("cache", "h2", "paused", 300, 1),
            row("db", "h1", "running", 2000, 4),
            row("web", "h1", "running", 1024, 2),
        ]
    );
    for v in imported.pool["vms"].as_array().unwrap() {
        assert_eq!(v["storage"], serde_json::json!(["default-pool"]), "{v}");
        assert_eq!(v["networks"], serde_json::json!(["default"]), "{v}");
    }

    // The hosts are as the bench describes them, fencing aside.
    let bench_pool: Value =
        serde_json::from_str(&std::fs::read_to_string(bench.pool_path()).unwrap()).unwrap();
    for (got, want) in imported.pool["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .zip(bench_pool["hosts"].as_array().unwrap())
    {
        for key in ["name", "capacity", "storage", "networks", "labels"] {
            assert_eq!(got[key], want[key], "{key}");
        }
    }
}

#[test]
fn importing_an_unreachable_host_names_it() {
    let bench = bench(1);
    bench.crash("h1").unwrap();
    let e = import::import("p", &bench.host_uris()).unwrap_err();
    assert!(e.to_string().starts_with("host h1: "), "{e}");
}

#[test]
fn stopping_the_bench_leaves_no_process_even_when_isolated() {
    let bench = bench(2);
    bench.isolate("h2").unwrap();
    let dir = bench.dir().to_str().unwrap().to_string();
    assert!(!processes_naming(&dir).is_empty());
    bench.stop().unwrap();
    let left = eventually(Duration::from_secs(5), || {
        processes_naming(&format!("{dir}/"))
            .is_empty()
            .then_some(())
    });
    assert!(left.is_some(), "left: {:?}", processes_naming(&dir));
}
