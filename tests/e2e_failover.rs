//! The runtime against real daemons: the end-to-end bench
//! (`scripts/e2e/bench.sh`) runs each simulated host as a libvirtd (libvirt's
//! test driver) powered by its own IPMI BMC (`ipmi_sim`), fenced through
//! `fence_ipmilan`. The runtime runs in real time with the libvirt and
//! fence-agent drivers (`haplan_service::live`), and libvirt itself is asked
//! where every VM runs.
//!
//! These tests need the Debian packages `scripts/deps.sh` installs; without
//! them they fail with a message naming what is missing.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use haplan_drivers::bench::{Bench, BenchOptions};
use haplan_drivers::{ConnectOptions, LibvirtHost};
use haplan_runtime::{Action, Alert, Event, Input, Note, Output};
use haplan_service::live;
use serde_json::{Value, json};

/// VMs defined and started on the bench: (name, host, MiB, order, restart).
const VMS: &[(&str, &str, u64, u32, &str)] = &[
    ("db", "h1", 512, 0, "protected"),
    ("app", "h1", 512, 1, "protected"),
    ("batch", "h1", 256, 0, "best_effort"),
    ("web", "h2", 512, 0, "protected"),
];

fn conn(uri: &str) -> LibvirtHost {
    LibvirtHost::open_with(
        uri,
        ConnectOptions {
            call_timeout: Duration::from_secs(5),
            ..ConnectOptions::default()
        },
    )
    .expect("the bench host answers")
}

fn xml(name: &str, mib: u64) -> String {
    format!(
        "<domain type='test'><name>{name}</name><memory unit='MiB'>{mib}</memory><vcpu>1</vcpu><os><type>hvm</type></os></domain>"
    )
}

/// A bench with the VMs running, and its pool file with them.
fn bench(options: BenchOptions) -> (Bench, Value) {
    let bench = Bench::start_with(&options).unwrap_or_else(|e| {
        panic!("the end-to-end bench did not start (run scripts/deps.sh): {e}")
    });
    for &(name, host, mib, _, _) in VMS {
        conn(&bench.host(host).unwrap().direct_uri)
            .define_and_start(&xml(name, mib))
            .expect("the VM starts");
    }
    let text = std::fs::read_to_string(bench.pool_path()).expect("the bench's pool");
    let mut pool: Value = serde_json::from_str(&text).expect("JSON");
    for h in pool["hosts"].as_array_mut().unwrap() {
        let name = h["name"].as_str().unwrap().to_string();
        // Peers reach a host straight, not through the runtime's relay.
        h["labels"]["libvirt_peer_uri"] = json!(bench.host(&name).unwrap().direct_uri);
    }
    pool["vms"] = VMS
        .iter()
        .map(|&(name, host, mib, order, restart)| {
            json!({"name": name, "host": host, "demand": {"memory_mib": mib, "vcpus": 1},
                   "order": order, "start_delay_s": if order == 0 { 1 } else { 0 },
                   "restart": restart})
        })
        .collect();
    (bench, pool)
}

/// Where each VM runs, as libvirt says, on every host that answers.
fn running(bench: &Bench) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for h in bench.hosts() {
        let Ok(c) = LibvirtHost::open_with(
            &h.direct_uri,
            ConnectOptions {
                call_timeout: Duration::from_secs(2),
                ..ConnectOptions::default()
            },
        ) else {
            continue; // powered off
        };
        if let Ok(list) = c.active_domains() {
            for d in list {
                out.entry(d.name).or_default().push(h.name.clone());
            }
        }
    }
    out
}

type Steps = Arc<Mutex<Vec<(Input, Output)>>>;

/// Runs the runtime on `pool` in a thread until `stop`.
fn runtime(pool: Value, stop: Arc<AtomicBool>) -> (std::thread::JoinHandle<()>, Steps) {
    let parsed = haplan::pool_from_value(&pool).expect("a valid pool");
    let live = Arc::new(live::Live::new(&parsed).expect("drivers for every host"));
    let steps: Steps = Arc::default();
    let seen = Arc::clone(&steps);
    let handle = std::thread::spawn(move || {
        let options = live::LiveOptions {
            until: Some(Duration::from_secs(120)),
            stop: Some(&stop),
            ..live::LiveOptions::default()
        };
        live::run(pool, live, options, |i, o, _| {
            seen.lock().unwrap().push((i.clone(), o.clone()));
        })
        .expect("the runtime runs");
    });
    (handle, steps)
}

fn wait_for(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    done()
}

/// The first step (its time) whose output has an action or note matching.
fn first_at(steps: &Steps, f: impl Fn(&Output) -> bool) -> Option<u64> {
    steps
        .lock()
        .unwrap()
        .iter()
        .find(|(_, o)| f(o))
        .map(|(i, _)| i.at)
}

#[test]
fn a_crashed_host_is_fenced_then_its_vms_run_again_exactly_once() {
    let (bench, pool) = bench(BenchOptions {
        hosts: 3,
        ..BenchOptions::default()
    });
    let stop = Arc::new(AtomicBool::new(false));
    let (handle, steps) = runtime(pool, Arc::clone(&stop));
    // Let it settle, then the host dies.
    std::thread::sleep(Duration::from_secs(3));
    let t0 = Instant::now();
    let crashed_at = steps.lock().unwrap().last().map_or(0, |(i, _)| i.at);
    bench.crash("h1").expect("crash h1");
    let recovered = wait_for(Duration::from_secs(60), || {
        let r = running(&bench);
        ["db", "app", "batch"].iter().all(|v| r.contains_key(*v))
    });
    let elapsed = t0.elapsed();
    stop.store(true, Ordering::Relaxed);
    handle.join().unwrap();
    assert!(
        recovered,
        "h1's VMs did not run again: {:?}",
        running(&bench)
    );
    // Exactly once each, none on the dead host.
    let r = running(&bench);
    for (vm, on) in &r {
        assert_eq!(on.len(), 1, "{vm} runs on {on:?}");
        assert_ne!(on[0], "h1", "{vm} on the crashed host");
    }
    assert_eq!(r["web"], vec!["h2".to_string()], "web never moved");
    // Fenced first, then started; protected before best effort, by order.
    let fenced = first_at(&steps, |o| {
        o.notes
            .iter()
            .any(|n| matches!(n, Note::HostFenced { host, .. } if host == "h1"))
    })
    .expect("h1 was fenced");
    let start_of = |vm: &str| {
        first_at(&steps, |o| {
            o.actions
                .iter()
                .any(|a| matches!(a, Action::StartVm { vm: v, .. } if v == vm))
        })
        .unwrap_or_else(|| panic!("{vm} was never started"))
    };
    let (db, app, batch) = (start_of("db"), start_of("app"), start_of("batch"));
    assert!(
        fenced >= crashed_at && db >= fenced,
        "db started at {db}, fence at {fenced}"
    );
    assert!(
        app >= db + 1000,
        "app (order 1) at {app}, db (delay 1 s) at {db}"
    );
    assert!(batch >= app, "best effort before protected");
    eprintln!(
        "crash of h1 to db, app and batch running on other hosts: {:.1} s (check_interval_s 1, failure_threshold 2)",
        elapsed.as_secs_f64()
    );
    bench.stop().expect("the bench stops");
}

#[test]
fn a_fence_that_refuses_blocks_every_restart_and_raises_the_alert() {
    let (bench, pool) = bench(BenchOptions {
        hosts: 3,
        refuse: vec!["h1".into()],
        ..BenchOptions::default()
    });
    let stop = Arc::new(AtomicBool::new(false));
    let (handle, steps) = runtime(pool, Arc::clone(&stop));
    std::thread::sleep(Duration::from_secs(2));
    bench.crash("h1").expect("crash h1");
    let alerted = wait_for(Duration::from_secs(40), || {
        steps.lock().unwrap().iter().any(|(_, o)| {
            o.alerts
                .iter()
                .any(|a| matches!(a, Alert::FencingFailed { host, .. } if host == "h1"))
        })
    });
    // Give it time to (wrongly) restart anything.
    std::thread::sleep(Duration::from_secs(3));
    stop.store(true, Ordering::Relaxed);
    handle.join().unwrap();
    assert!(alerted, "no fencing_failed alert for h1");
    let started = steps.lock().unwrap().iter().any(|(_, o)| {
        o.actions
            .iter()
            .any(|a| matches!(a, Action::StartVm { .. }))
    });
    assert!(
        !started,
        "a VM was started although h1 was never confirmed off"
    );
    let r = running(&bench);
    for vm in ["db", "app", "batch"] {
        assert!(
            !r.contains_key(vm),
            "{vm} runs on {:?} without a fence",
            r.get(vm)
        );
    }
    bench.stop().expect("the bench stops");
}

#[test]
fn a_host_that_only_lost_its_management_network_keeps_its_vms_and_gets_no_copies() {
    let (bench, pool) = bench(BenchOptions {
        hosts: 3,
        ..BenchOptions::default()
    });
    let stop = Arc::new(AtomicBool::new(false));
    let (handle, steps) = runtime(pool, Arc::clone(&stop));
    std::thread::sleep(Duration::from_secs(2));
    bench.isolate("h1").expect("isolate h1");
    let alerted = wait_for(Duration::from_secs(30), || {
        steps.lock().unwrap().iter().any(|(_, o)| {
            o.alerts
                .iter()
                .any(|a| matches!(a, Alert::HostUnreachable { host, .. } if host == "h1"))
        })
    });
    std::thread::sleep(Duration::from_secs(3));
    bench.heal("h1").expect("heal h1");
    std::thread::sleep(Duration::from_secs(2));
    stop.store(true, Ordering::Relaxed);
    handle.join().unwrap();
    assert!(alerted, "no host_unreachable alert for h1");
    let acted = steps.lock().unwrap().iter().any(|(_, o)| {
        o.actions
            .iter()
            .any(|a| matches!(a, Action::StartVm { .. } | Action::Fence { .. }))
    });
    assert!(
        !acted,
        "a live host was fenced or its VMs started elsewhere"
    );
    let r = running(&bench);
    for vm in ["db", "app", "batch"] {
        assert_eq!(r.get(vm), Some(&vec!["h1".to_string()]), "{vm}");
    }
    bench.stop().expect("the bench stops");
}

/// The `haplan` binary: `HAPLAN_BIN`, or the one built beside this test
/// (`target/<profile>/haplan`, which `cargo build -p haplan` makes).
fn haplan_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("HAPLAN_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("the test executable");
    let bin = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps/")
        .join("haplan");
    assert!(
        bin.is_file(),
        "{} is missing: build it first (cargo build --release -p haplan-cli --features drivers) or set HAPLAN_BIN",
        bin.display()
    );
    bin
}

/// `haplan run --driver libvirt`, as an operator runs it, every step
/// printed as JSON and read as it comes. Killed if the test ends first.
struct Watcher {
    child: Child,
    /// Each step with when it was read.
    steps: Arc<Mutex<Vec<(Instant, Input, Output)>>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Watcher {
    fn start(bench: &Bench, pool: &Value, until_s: u64) -> Watcher {
        let path = bench.dir().join("watched.json");
        std::fs::write(&path, serde_json::to_string_pretty(pool).unwrap()).unwrap();
        let mut child = Command::new(haplan_binary())
            .arg("run")
            .arg(&path)
            .args(["--driver", "libvirt", "--format", "json", "--verbose"])
            .args(["--until", &until_s.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("haplan runs");
        let out = child.stdout.take().unwrap();
        let steps: Arc<Mutex<Vec<(Instant, Input, Output)>>> = Arc::default();
        let seen = Arc::clone(&steps);
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                let step = serde_json::from_str::<Value>(&line).and_then(|mut v| {
                    Ok((
                        serde_json::from_value::<Input>(v["input"].take())?,
                        serde_json::from_value::<Output>(v["output"].take())?,
                    ))
                });
                let (input, output) = step.unwrap_or_else(|e| panic!("not a step ({e}): {line}"));
                seen.lock().unwrap().push((Instant::now(), input, output));
            }
        });
        Watcher {
            child,
            steps,
            reader: Some(reader),
        }
    }

    /// Whether every host in `hosts` answered a health check after `since`.
    fn all_answered_since(&self, hosts: &[&str], since: Instant) -> bool {
        let steps = self.steps.lock().unwrap();
        hosts.iter().all(|h| {
            steps.iter().any(|(t, i, _)| {
                *t >= since
                    && matches!(&i.event, Event::HealthCheck { host, api: true, .. } if host == h)
            })
        })
    }

    /// Whether it still runs; the exit status and standard error if not.
    fn exited(&mut self) -> Option<(ExitStatus, String)> {
        let status = self.child.try_wait().expect("wait for haplan")?;
        let mut err = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        Some((status, err))
    }

    /// Waits for it to end by itself (`--until`), at most `limit`.
    fn wait(mut self, limit: Duration) -> (ExitStatus, String, Vec<(Instant, Input, Output)>) {
        let deadline = Instant::now() + limit;
        let (status, err) = loop {
            if let Some(done) = self.exited() {
                break done;
            }
            assert!(Instant::now() < deadline, "haplan run did not stop");
            std::thread::sleep(Duration::from_millis(100));
        };
        self.reader.take().unwrap().join().expect("the steps parse");
        let steps = std::mem::take(&mut *self.steps.lock().unwrap());
        (status, err, steps)
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// How long management paths stay frozen: longer than every call's time
/// limit in the runtime (probes 2 s, other calls 10 s) and than libvirt's
/// keepalive takes to close a connection whose host went silent (a message
/// every 5 s, closed after 3 unanswered: 20 to 21 s), so that calls time
/// out, connections die and are opened again while the host is silent, and
/// then some (a use of freed memory crashes only once it was reused).
const FREEZE: Duration = Duration::from_secs(30);

/// Freezes the runtime's management path to `frozen` for [`FREEZE`], then
/// releases it, with `haplan run --driver libvirt` watching; it must live
/// through it, see the hosts again, stop cleanly at its `--until`, and
/// leave every VM running exactly once where it ran.
fn freeze_and_release(frozen: &[&str], pool_ha: Value) -> Vec<(Instant, Input, Output)> {
    let started = Instant::now();
    let (bench, mut pool) = bench(BenchOptions {
        hosts: 3,
        ..BenchOptions::default()
    });
    for (k, v) in pool_ha.as_object().unwrap() {
        pool["ha"][k] = v.clone();
    }
    let before = running(&bench);
    let hosts = ["h1", "h2", "h3"];
    let watched = Instant::now();
    let mut watcher = Watcher::start(&bench, &pool, 47);
    assert!(
        wait_for(Duration::from_secs(15), || watcher
            .all_answered_since(&hosts, watched)),
        "the runtime never saw every host: {:?}",
        watcher.exited()
    );
    for h in frozen {
        bench.isolate(h).expect("isolate");
    }
    std::thread::sleep(FREEZE);
    let healed = Instant::now();
    for h in frozen {
        bench.heal(h).expect("heal");
    }
    let back = wait_for(Duration::from_secs(15), || {
        watcher.all_answered_since(frozen, healed)
    });
    // Alive some time after the release (the crash came within a second).
    std::thread::sleep(Duration::from_secs(2));
    if let Some((status, err)) = watcher.exited() {
        panic!("haplan run died after the release: {status}\n{err}");
    }
    assert!(back, "the frozen hosts never answered again");
    let (status, err, steps) = watcher.wait(Duration::from_secs(30));
    assert!(status.success(), "haplan run ended with {status}: {err}");
    let seen_again = |h: &&str| {
        steps
            .iter()
            .filter(|(t, i, _)| {
                *t >= healed
                    && matches!(&i.event, Event::HealthCheck { host, api: true, .. } if host == h)
            })
            .map(|(t, _, _)| t.duration_since(healed).as_secs_f64())
            .fold(f64::INFINITY, f64::min)
    };
    eprintln!(
        "froze {frozen:?} for {FREEZE:?}; every one answered the runtime again within {:.1} s of the release; whole test {:.1} s",
        frozen.iter().map(seen_again).fold(0.0, f64::max),
        started.elapsed().as_secs_f64()
    );
    // Nothing fenced or started: the hosts never stopped running.
    for (_, i, o) in &steps {
        assert!(
            !o.actions
                .iter()
                .any(|a| matches!(a, Action::Fence { .. } | Action::StartVm { .. })),
            "at {} ms: {:?}",
            i.at,
            o.actions
        );
    }
    let after = running(&bench);
    assert_eq!(after, before, "where libvirt says each VM runs");
    for (vm, on) in &after {
        assert_eq!(on.len(), 1, "{vm} runs on {on:?}");
    }
    assert_eq!(after.len(), VMS.len());
    bench.stop().expect("the bench stops");
    steps
}

#[test]
fn the_runtime_outlives_a_frozen_management_path_to_one_host() {
    let steps = freeze_and_release(&["h1"], json!({}));
    // It did see the host go silent (and a peer still reaching it).
    assert!(
        steps.iter().any(|(_, _, o)| o
            .alerts
            .iter()
            .any(|a| matches!(a, Alert::HostUnreachable { host, .. } if host == "h1"))),
        "no host_unreachable alert for h1"
    );
}

#[test]
fn the_runtime_outlives_frozen_management_paths_to_every_host() {
    // With every host silent no peer can be asked, and the runtime's own
    // view would have every host fenced after 2 missed probes: here a host
    // is declared down only after a minute of silence, so the freeze tests
    // the connections alone.
    let steps = freeze_and_release(&["h1", "h2", "h3"], json!({"failure_threshold": 60}));
    // Every host did go silent for the runtime.
    for h in ["h1", "h2", "h3"] {
        assert!(
            steps.iter().any(|(_, i, _)| matches!(
                &i.event,
                Event::HealthCheck { host, api: false, .. } if host == h
            )),
            "{h} never missed a probe"
        );
    }
}
