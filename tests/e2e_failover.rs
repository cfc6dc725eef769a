//! The runtime against real daemons: the end-to-end bench
//! (`scripts/e2e/bench.sh`) runs each simulated host as a libvirtd (libvirt's
//! test driver) powered by its own IPMI BMC (`ipmi_sim`), fenced through
//! `fence_ipmilan`. The runtime runs in real time with the libvirt and
//! fence-agent drivers (`haplan_service::live`), and libvirt itself is asked
//! where every VM runs.
//!
//! These tests need the Debian packages `scripts/deps.sh` installs; without
//! them they fail with a message naming what is missing.
//!
//! The scenarios run side by side in one test, [`on_the_bench`].

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
    bench_with(options, VMS)
}

/// A bench with `vms` running (defined on their hosts only), and its pool
/// file with them; each host's peers reach it straight (not through the
/// runtime's relay).
/// A bench of three hosts (`bench`'s VMs).
fn three_hosts() -> (Bench, Value) {
    bench(BenchOptions {
        hosts: 3,
        ..BenchOptions::default()
    })
}

/// Where `haplan run --log` keeps its log on `bench`.
fn log_path(bench: &Bench) -> String {
    bench.dir().join("runtime.log").display().to_string()
}

fn bench_with(options: BenchOptions, vms: &[(&str, &str, u64, u32, &str)]) -> (Bench, Value) {
    let bench = Bench::start_with(&options).unwrap_or_else(|e| {
        panic!("the end-to-end bench did not start (run scripts/deps.sh): {e}")
    });
    for &(name, host, mib, _, _) in vms {
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
    pool["vms"] = vms
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

fn a_crashed_host_is_fenced_then_its_vms_run_again_exactly_once() {
    let (bench, pool) = three_hosts();
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

fn a_host_that_only_lost_its_management_network_keeps_its_vms_and_gets_no_copies() {
    let (bench, pool) = three_hosts();
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

/// How to build a `haplan` that the bench can run.
const BUILD_WITH_DRIVERS: &str = "cargo build --release --locked -p haplan-cli --features drivers";

/// The `haplan` binary: `HAPLAN_BIN`, or the one built beside this test
/// (`target/<profile>/haplan`, which `cargo build -p haplan` makes). It
/// must have the libvirt driver: a build without it (the `drivers`
/// feature) fails here, saying so, rather than later on output that is
/// not a step.
fn haplan_binary() -> PathBuf {
    let bin = match std::env::var_os("HAPLAN_BIN") {
        Some(p) => PathBuf::from(p),
        None => {
            let exe = std::env::current_exe().expect("the test executable");
            let bin = exe
                .parent()
                .and_then(|deps| deps.parent())
                .expect("target/<profile>/deps/")
                .join("haplan");
            assert!(
                bin.is_file(),
                "{} is missing: build it first ({BUILD_WITH_DRIVERS}) or set HAPLAN_BIN",
                bin.display()
            );
            bin
        }
    };
    static CHECKED: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    let checked = CHECKED.get_or_init(|| without_drivers(&bin).map_or(Ok(()), Err));
    if let Err(message) = checked {
        panic!("{message}");
    }
    bin
}

/// What `haplan run --driver libvirt` answers when `bin` was built without
/// the libvirt driver, as a failure message saying how to rebuild it;
/// `None` when it has the driver. Asked of a pool whose one host has no
/// libvirt URI: a binary with the driver refuses it before it reaches any
/// host.
fn without_drivers(bin: &std::path::Path) -> Option<String> {
    let answer = driver_answer(
        bin,
        &json!({
            "name": "driver-check",
            "hosts": [{"name": "h1", "capacity": {"memory_mib": 1024}}],
            "vms": []
        }),
    );
    let missing = answer.contains(haplan_cli::cli::WITHOUT_DRIVERS);
    missing.then(|| {
        format!(
            "{} was built without the libvirt driver (the \"drivers\" feature): `haplan run --driver libvirt` answers {:?}; rebuild it with `{BUILD_WITH_DRIVERS}` (or set HAPLAN_BIN to a haplan built with it)",
            bin.display(),
            answer.trim()
        )
    })
}

/// A `haplan` built without the libvirt driver is named as such, with the
/// command that rebuilds it; one with the driver passes (the question
/// reaches no host). The answers are those of the two builds: the one
/// without the driver as a stand-in script giving its answer, the one with
/// it in process, as this test binary links it.
#[test]
fn a_haplan_built_without_the_libvirt_driver_is_named_with_how_to_rebuild_it() {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("haplan-no-driver-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fake = dir.join("haplan");
    let script = format!(
        "#!/bin/sh\nprintf '%s\\n' 'haplan: {}' >&2\nexit 2\n",
        haplan_cli::cli::WITHOUT_DRIVERS
    );
    std::fs::write(&fake, script).unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let message = without_drivers(&fake).expect("named as built without the driver");
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(
        message.contains("built without the libvirt driver")
            && message.contains(BUILD_WITH_DRIVERS)
            && message.contains(&fake.display().to_string()),
        "{message}"
    );
    // The answer of a build with the driver to the same question.
    let path = std::env::temp_dir().join(format!("haplan-driver-{}.json", std::process::id()));
    std::fs::write(
        &path,
        json!({
            "name": "driver-check",
            "hosts": [{"name": "h1", "capacity": {"memory_mib": 1024}}],
            "vms": []
        })
        .to_string(),
    )
    .unwrap();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let args = [
        "haplan",
        "run",
        path.to_str().unwrap(),
        "--driver",
        "libvirt",
    ];
    let code = haplan_cli::run(
        args.iter()
            .copied()
            .chain(["--format", "json", "--until", "0"]),
        &mut std::io::empty(),
        &mut out,
        &mut err,
    );
    std::fs::remove_file(&path).unwrap();
    let answer = format!(
        "{}{}",
        String::from_utf8_lossy(&out),
        String::from_utf8_lossy(&err)
    );
    assert_eq!(code, 2, "{answer}");
    assert!(answer.contains("libvirt_uri"), "{answer}");
    assert!(
        !answer.contains(haplan_cli::cli::WITHOUT_DRIVERS),
        "{answer}"
    );
}

/// Standard output and error of `bin run FILE --driver libvirt --format
/// json --until 0` for `pool`.
fn driver_answer(bin: &std::path::Path, pool: &Value) -> String {
    let dir = std::env::temp_dir().join(format!("haplan-driver-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    let path = dir.join("pool.json");
    std::fs::write(&path, pool.to_string()).expect("the pool is written");
    let out = Command::new(bin)
        .arg("run")
        .arg(&path)
        .args(["--driver", "libvirt", "--format", "json", "--until", "0"])
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{} does not run: {e}", bin.display()));
    let _ = std::fs::remove_dir_all(&dir);
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
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
        Watcher::start_with(bench, pool, until_s, &[])
    }

    /// The same with more arguments (`--log FILE`, say).
    fn start_with(bench: &Bench, pool: &Value, until_s: u64, args: &[&str]) -> Watcher {
        let path = bench.dir().join("watched.json");
        std::fs::write(&path, serde_json::to_string_pretty(pool).unwrap()).unwrap();
        let mut child = Command::new(haplan_binary())
            .arg("run")
            .arg(&path)
            .args(["--driver", "libvirt", "--format", "json", "--verbose"])
            .args(["--until", &until_s.to_string()])
            .args(args)
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

    /// [`Watcher::start_with`], then a wait (15 s at most) until every
    /// host in `hosts` answered a health check since.
    fn start_seeing(
        bench: &Bench,
        pool: &Value,
        until_s: u64,
        args: &[&str],
        hosts: &[&str],
    ) -> Watcher {
        let watcher = Watcher::start_with(bench, pool, until_s, args);
        let t0 = Instant::now();
        assert!(
            wait_for(Duration::from_secs(15), || watcher
                .all_answered_since(hosts, t0)),
            "the runtime never saw every host"
        );
        watcher
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

    /// Whether a step printed so far has an output matching `f`.
    fn any_output(&self, f: impl Fn(&Output) -> bool) -> bool {
        self.steps.lock().unwrap().iter().any(|(_, _, o)| f(o))
    }

    /// Waits at most `limit` for a step whose output matches `f`.
    fn wait_output(&self, limit: Duration, f: impl Fn(&Output) -> bool) -> bool {
        wait_for(limit, || self.any_output(&f))
    }

    /// `kill -9`: the steps printed until then.
    fn kill9(mut self) -> Vec<(Instant, Input, Output)> {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reaped");
        self.reader.take().unwrap().join().expect("the steps parse");
        std::mem::take(&mut *self.steps.lock().unwrap())
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
fn freeze_and_release(
    frozen: &[&str],
    pool_ha: Value,
    peer_paths: bool,
) -> Vec<(Instant, Input, Output)> {
    let started = Instant::now();
    let (bench, mut pool) = three_hosts();
    if !peer_paths {
        strip_peer_paths(&mut pool);
    }
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

fn a_query_asks_every_host_that_answers_past_one_that_does_not() {
    // h1's and h3's libvirtd are cut off: asked where web (on h2) runs,
    // the driver still finds it on h2, though h1 comes first; a VM that
    // runs nowhere is "not known" (h1 or h3 may run it), never "nowhere".
    // The hosts are asked at once, not one after another: two silent
    // hosts cost one call timeout (10 s), not two (three one after another
    // would outlast the runtime's 30 s deadline for the answer).
    use haplan_runtime::driver::Hypervisor;
    let (bench, pool) = three_hosts();
    let parsed = haplan::pool_from_value(&pool).expect("a valid pool");
    let live = live::Live::new(&parsed).expect("drivers for every host");
    assert_eq!(live.locate("web"), Ok(Some("h2".to_string())));
    bench.isolate("h1").expect("isolate");
    bench.isolate("h3").expect("isolate");
    assert_eq!(live.locate("web"), Ok(Some("h2".to_string())));
    let asked = Instant::now();
    let ghost = live.locate("ghost");
    let took = asked.elapsed();
    assert!(
        ghost
            .as_ref()
            .is_err_and(|e| e.contains("h1") || e.contains("h3")),
        "{ghost:?}"
    );
    assert!(
        took < Duration::from_secs(18),
        "two silent hosts were asked one after the other: {took:?}"
    );
    bench.heal("h1").expect("heal");
    bench.heal("h3").expect("heal");
    bench.stop().expect("the bench stops");
}

fn the_runtime_outlives_a_frozen_management_path_to_one_host() {
    let steps = freeze_and_release(&["h1"], json!({}), true);
    // It did see the host go silent (and a peer still reaching it).
    assert!(
        steps.iter().any(|(_, _, o)| o
            .alerts
            .iter()
            .any(|a| matches!(a, Alert::HostUnreachable { host, .. } if host == "h1"))),
        "no host_unreachable alert for h1"
    );
}

fn the_runtime_outlives_frozen_management_paths_to_every_host() {
    // The operator's cut of the runtime's own relays to every libvirtd at
    // once, with the pool as `haplan import` writes it (no peer path) and
    // the bench's settings (a host is suspect after 2 missed probes of 1 s):
    // every host goes silent for the runtime alone. It must take itself for
    // the isolated side, say so, and fence nothing.
    let steps = freeze_and_release(&["h1", "h2", "h3"], json!({}), false);
    assert!(
        steps.iter().any(|(_, _, o)| o
            .alerts
            .iter()
            .any(|a| matches!(a, Alert::RuntimeIsolated { hosts: 3, .. }))),
        "no runtime_isolated alert"
    );
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

/// What the runtime did and said, one line per step that did anything but
/// probe (for failure messages).
fn story(steps: &Seen) -> String {
    let mut out = String::new();
    for (_, i, o) in steps {
        let actions: Vec<&Action> = o
            .actions
            .iter()
            .filter(|a| !matches!(a, Action::Probe { .. }))
            .collect();
        if actions.is_empty() && o.alerts.is_empty() && o.notes.is_empty() {
            continue;
        }
        out.push_str(&format!(
            "\n{} {} -> {} {} {}",
            i.at,
            serde_json::to_string(&i.event).unwrap(),
            serde_json::to_string(&actions).unwrap(),
            serde_json::to_string(&o.alerts).unwrap(),
            serde_json::to_string(&o.notes).unwrap()
        ));
    }
    out
}

/// The pool as `haplan import` writes it: no peer path to any host.
fn strip_peer_paths(pool: &mut Value) {
    for h in pool["hosts"].as_array_mut().unwrap() {
        h["labels"]
            .as_object_mut()
            .unwrap()
            .remove("libvirt_peer_uri");
    }
}

type Seen = [(Instant, Input, Output)];

/// The hosts the runtime asked to fence.
fn fenced_hosts(steps: &Seen) -> std::collections::BTreeSet<String> {
    steps
        .iter()
        .flat_map(|(_, _, o)| &o.actions)
        .filter_map(|a| match a {
            Action::Fence { host, .. } => Some(host.clone()),
            _ => None,
        })
        .collect()
}

/// The end every test asks for: each VM of `expect` runs exactly once as
/// libvirt reports (and on none of `dead`), no VM runs twice, and only the
/// hosts of `dead` were ever fenced.
fn assert_once_and_nothing_healthy_fenced(
    bench: &Bench,
    expect: &[&str],
    dead: &[&str],
    steps: &Seen,
) {
    let r = running(bench);
    for vm in expect {
        let on = r.get(*vm).cloned().unwrap_or_default();
        assert_eq!(on.len(), 1, "{vm} runs on {on:?} (everything: {r:?})");
        assert!(!dead.contains(&on[0].as_str()), "{vm} on dead {on:?}");
    }
    for (vm, on) in &r {
        assert_eq!(on.len(), 1, "{vm} runs on {on:?}");
    }
    let fenced = fenced_hosts(steps);
    for h in &fenced {
        assert!(dead.contains(&h.as_str()), "healthy {h} was fenced");
    }
}

/// Whether an output's notes or alerts mention a start that failed for
/// want of a definition.
fn no_definition(o: &Output) -> bool {
    let text = serde_json::to_string(o).unwrap();
    text.contains("no definition of")
}

/// What [`kill_mid_failover`] returns.
type KilledRun = (Bench, Vec<(Instant, Input, Output)>, Watcher, Value, String);

/// `kill -9` of `haplan run --log` at the moment `kill_when` first holds
/// for a step while h1's VMs fail over, then `haplan run` again on the same
/// log: the failover completes, each VM once. Returns the bench, both runs'
/// steps (before the kill, after the restart) and the second runtime,
/// still running, for more.
fn kill_mid_failover(kill_when: impl Fn(&Watcher, &Bench) -> bool) -> KilledRun {
    let (bench, pool) = three_hosts();
    let log = log_path(&bench);
    let first = Watcher::start_seeing(&bench, &pool, 120, &["--log", &log], &["h1", "h2", "h3"]);
    bench.crash("h1").expect("crash h1");
    assert!(
        wait_for(Duration::from_secs(30), || kill_when(&first, &bench)),
        "the failover never reached the point of the kill"
    );
    let before = first.kill9();
    let second = Watcher::start_with(&bench, &pool, 120, &["--log", &log]);
    (bench, before, second, pool, log)
}

/// Waits until `vms` all run somewhere (libvirt's word).
fn all_running(bench: &Bench, vms: &[&str], limit: Duration) -> bool {
    wait_for(limit, || {
        let r = running(bench);
        vms.iter().all(|v| r.contains_key(*v))
    })
}

fn a_runtime_killed_while_it_starts_vms_resumes_from_its_log_without_copies() {
    let started = Instant::now();
    // Killed once db (the first of h1's VMs to restart) runs again, while
    // app (order 1, after db's start delay of 1 s) and batch (best effort,
    // last) wait: the resumed runtime finds db by the inventories and
    // starts the others. (Killed before db's start got through: the
    // scenario a_runtime_killed_between_the_fence_and_the_starts_....)
    let (bench, before, second, _pool, log) = kill_mid_failover(|w, bench| {
        w.any_output(|o| {
            o.actions
                .iter()
                .any(|a| matches!(a, Action::StartVm { vm, .. } if vm == "db"))
        }) && running(bench).contains_key("db")
    });
    let lines_before = std::fs::read_to_string(&log).unwrap().lines().count();
    assert!(
        all_running(&bench, &["db", "app", "batch"], Duration::from_secs(30)),
        "the failover did not complete after the restart: {:?}",
        running(&bench)
    );
    // Alive and settled for a while: nothing started twice meanwhile.
    std::thread::sleep(Duration::from_secs(3));
    assert!(second.any_output(|o| o.notes.iter().any(|n| matches!(n, Note::Reconciled))));
    // Then a host that really runs some of them dies: each moves once more,
    // and nothing that runs elsewhere is started again.
    let r = running(&bench);
    let victim = if r.values().filter(|h| h[0] == "h3").count() > 0 {
        "h3"
    } else {
        "h2"
    };
    let on_victim: Vec<String> = r
        .iter()
        .filter(|(_, h)| h[0] == victim)
        .map(|(v, _)| v.clone())
        .collect();
    bench.crash(victim).expect("crash");
    let moved = wait_for(Duration::from_secs(30), || {
        let r = running(&bench);
        on_victim
            .iter()
            .all(|v| r.get(v).is_some_and(|h| h[0] != victim))
    });
    let after = second.kill9();
    assert!(
        moved,
        "{on_victim:?} did not leave {victim}: {:?}",
        running(&bench)
    );
    let steps: Vec<_> = before.into_iter().chain(after).collect();
    assert_once_and_nothing_healthy_fenced(
        &bench,
        &["db", "app", "batch", "web"],
        &["h1", victim],
        &steps,
    );
    // The log was appended to, never cut short.
    let lines_after = std::fs::read_to_string(&log).unwrap().lines().count();
    assert!(
        lines_after > lines_before,
        "{lines_before} then {lines_after} lines"
    );
    eprintln!(
        "kill -9 mid-failover, resume, second crash: {:.1} s",
        started.elapsed().as_secs_f64()
    );
    bench.stop().expect("the bench stops");
}

fn a_runtime_killed_while_it_fences_restarts_every_vm_from_the_kept_definitions() {
    let started = Instant::now();
    // Killed as soon as h1's fence is handed out (the fence agent, in a
    // process group of its own, goes on): none of its VMs started yet, and
    // their definitions were on h1 only (dead now): the restarted runtime
    // has them from the file beside its log, or not at all.
    let (bench, before, second, _pool, log) = kill_mid_failover(|w, _| {
        w.any_output(|o| {
            o.actions
                .iter()
                .any(|a| matches!(a, Action::Fence { host, .. } if host == "h1"))
        })
    });
    assert!(
        !before.iter().any(|(_, _, o)| o
            .actions
            .iter()
            .any(|a| matches!(a, Action::StartVm { .. }))),
        "a start came before the kill: the test proves less than it says"
    );
    let defs = std::path::PathBuf::from(format!("{log}.definitions.json"));
    let kept = std::fs::read_to_string(&defs).unwrap_or_default();
    for vm in ["db", "app", "batch"] {
        assert!(
            kept.contains(&format!("<name>{vm}</name>")),
            "{vm} not kept in {}",
            defs.display()
        );
    }
    let done = all_running(&bench, &["db", "app", "batch"], Duration::from_secs(30));
    std::thread::sleep(Duration::from_secs(2));
    let after = second.kill9();
    assert!(
        !after.iter().any(|(_, _, o)| no_definition(o)),
        "a start failed for want of a definition"
    );
    assert!(done, "h1's VMs did not run again: {:?}", running(&bench));
    let steps: Vec<_> = before.into_iter().chain(after).collect();
    assert_once_and_nothing_healthy_fenced(&bench, &["db", "app", "batch", "web"], &["h1"], &steps);
    eprintln!(
        "kill -9 during the fence, resume, every VM once: {:.1} s",
        started.elapsed().as_secs_f64()
    );
    bench.stop().expect("the bench stops");
}

fn a_fenced_host_returning_with_an_autostarted_copy_is_found_and_one_copy_kept() {
    let started = Instant::now();
    let (bench, pool) = three_hosts();
    let watcher = Watcher::start_seeing(&bench, &pool, 120, &[], &["h1", "h2", "h3"]);
    bench.crash("h1").expect("crash h1");
    assert!(
        all_running(&bench, &["db", "app", "batch"], Duration::from_secs(30)),
        "h1's VMs did not run again"
    );
    let moved_to = running(&bench)["db"][0].clone();
    // h1 is repaired and boots with libvirt's autostart: db runs there
    // again before anyone can look (the runtime's path to it is held until
    // then).
    bench.isolate("h1").expect("hold h1's management path");
    bench.power_on("h1").expect("power h1 on");
    conn(&bench.host("h1").unwrap().direct_uri)
        .define_and_start(&xml("db", 512))
        .expect("the autostarted copy");
    assert_eq!(
        running(&bench)["db"].len(),
        2,
        "two copies, as the operator saw"
    );
    bench.heal("h1").expect("h1 answers");
    let alerted = watcher.wait_output(Duration::from_secs(30), |o| {
        o.alerts
            .iter()
            .any(|a| matches!(a, Alert::DuplicateVm { vm, .. } if vm == "db"))
    });
    let single = wait_for(Duration::from_secs(20), || {
        running(&bench).get("db").is_some_and(|h| h.len() == 1)
    });
    std::thread::sleep(Duration::from_secs(2));
    let steps = watcher.kill9();
    assert!(alerted, "no duplicate_vm alert for db");
    assert!(single, "db still runs on {:?}", running(&bench).get("db"));
    let kept = steps
        .iter()
        .flat_map(|(_, _, o)| &o.alerts)
        .find_map(|a| match a {
            Alert::DuplicateVm { vm, kept, .. } if vm == "db" => Some(kept.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(
        kept, moved_to,
        "the copy the runtime started is the one kept"
    );
    // h1 is up again: no VM may be on "dead" h1 but the check of copies
    // holds everywhere.
    assert_once_and_nothing_healthy_fenced(&bench, &["db", "app", "batch", "web"], &["h1"], &steps);
    assert_eq!(running(&bench)["db"], vec![moved_to]);
    eprintln!(
        "autostarted copy on a returning host found and stopped: {:.1} s",
        started.elapsed().as_secs_f64()
    );
    bench.stop().expect("the bench stops");
}

fn a_definition_changed_while_the_runtime_runs_is_the_one_restarted() {
    let started = Instant::now();
    let (bench, pool) = three_hosts();
    let h1 = conn(&bench.host("h1").unwrap().direct_uri);
    let watcher = Watcher::start_seeing(&bench, &pool, 120, &[], &["h1", "h2", "h3"]);
    // The operator gives db more memory and a disk (its persistent
    // definition: what it boots with next), after the runtime started.
    let old = h1.domain_xml("db").expect("db's definition");
    let uuid = old
        .split("<uuid>")
        .nth(1)
        .and_then(|s| s.split("</uuid>").next())
        .expect("a uuid")
        .to_string();
    let changed = format!(
        "<domain type='test'><name>db</name><uuid>{uuid}</uuid><memory unit='MiB'>640</memory><vcpu>1</vcpu><os><type>hvm</type></os>\
         <devices><disk type='file' device='disk'><source file='/default-pool/db-data.img'/><target dev='vdb' bus='virtio'/></disk></devices></domain>"
    );
    h1.define(&changed).expect("db redefined");
    let now = h1.domain_xml("db").unwrap();
    assert!(
        now.contains("655360") && now.contains("db-data.img"),
        "{now}"
    );
    // Past the definitions' refresh, h1 dies.
    std::thread::sleep(haplan_service::live::DEFINITIONS_REFRESH + Duration::from_secs(2));
    bench.crash("h1").expect("crash h1");
    let back = all_running(&bench, &["db", "app", "batch"], Duration::from_secs(30));
    let steps = watcher.kill9();
    assert!(back, "h1's VMs did not run again");
    let target = running(&bench)["db"][0].clone();
    let restarted = conn(&bench.host(&target).unwrap().direct_uri)
        .domain_xml("db")
        .unwrap();
    assert!(
        restarted.contains("<memory unit='KiB'>655360</memory>")
            && restarted.contains("db-data.img"),
        "db restarted with an old definition: {restarted}"
    );
    assert_once_and_nothing_healthy_fenced(&bench, &["db", "app", "batch", "web"], &["h1"], &steps);
    eprintln!(
        "definition changed, then failover with it: {:.1} s",
        started.elapsed().as_secs_f64()
    );
    bench.stop().expect("the bench stops");
}

fn two_hosts_down_with_the_room_contested_restart_the_critical_vm() {
    let started = Instant::now();
    // 4 hosts of 2 GiB: h3 has room for one VM of 512 MiB, h4 none. h1
    // holds a low priority VM, h2 the critical one; both die at once. h2's
    // first fence level has a wrong password (its second is right), so h1
    // is always confirmed off first: the case where the first fenced host
    // took the room.
    let vms: &[(&str, &str, u64, u32, &str)] = &[
        ("low", "h1", 512, 0, "protected"),
        ("crit", "h2", 512, 0, "protected"),
        ("fill3", "h3", 1536, 0, "unprotected"),
        ("fill4", "h4", 2048, 0, "unprotected"),
    ];
    let (bench, mut pool) = bench_with(
        BenchOptions {
            hosts: 4,
            refuse_first: vec!["h2".into()],
            ..BenchOptions::default()
        },
        vms,
    );
    for h in pool["hosts"].as_array_mut().unwrap() {
        h["capacity"]["memory_mib"] = json!(2048);
        // h2's refusing level waits 10 s (the fence agents' own `delay`)
        // before it fails: h1, killed at the same instant, is confirmed
        // off first however loaded the machine (a wrong password alone
        // fails within a second, and h2 could then be off first).
        if h["name"] == "h2" {
            h["fencing"][0]["params"]["delay"] = json!("10");
        }
    }
    pool["ha"]["host_failures_to_tolerate"] = json!(0);
    for v in pool["vms"].as_array_mut().unwrap() {
        let p = match v["name"].as_str().unwrap() {
            "low" => "low",
            "crit" => "critical",
            _ => "medium",
        };
        v["priority"] = json!(p);
    }
    let watcher = Watcher::start_seeing(&bench, &pool, 240, &[], &["h1", "h2", "h3", "h4"]);
    // At once: one after the other, h1 could be declared down (and low
    // planned into the room, rightly: h2 still answered) before h2 missed
    // its probes.
    crash_together(&bench, &["h1", "h2"]);
    let crit = wait_for(Duration::from_secs(90), || {
        running(&bench).contains_key("crit")
    });
    // The low one had its chance to take the room wrongly.
    let waited = watcher.wait_output(Duration::from_secs(15), |o| {
        o.alerts
            .iter()
            .any(|a| matches!(a, Alert::RestartFailed { vm, .. } if vm == "low"))
    });
    std::thread::sleep(Duration::from_secs(2));
    let steps = watcher.kill9();
    let r = running(&bench);
    assert!(crit, "the critical VM stays down: {r:?}");
    assert_eq!(r["crit"], vec!["h3".to_string()]);
    assert!(!r.contains_key("low"), "low runs on {:?}", r.get("low"));
    assert!(waited, "no restart_failed alert for low");
    assert!(
        !steps.iter().any(|(_, _, o)| o
            .actions
            .iter()
            .any(|a| matches!(a, Action::StartVm { vm, .. } if vm == "low"))),
        "low was started: {}",
        story(&steps)
    );
    let fenced_at = |h: &str| {
        steps.iter().position(|(_, _, o)| {
            o.notes
                .iter()
                .any(|n| matches!(n, Note::HostFenced { host, .. } if host == h))
        })
    };
    let (f1, f2) = (fenced_at("h1"), fenced_at("h2"));
    assert!(
        f1.is_some() && f2.is_some() && f1 < f2,
        "h1 confirmed off at step {f1:?}, h2 at {f2:?}"
    );
    assert_once_and_nothing_healthy_fenced(
        &bench,
        &["crit", "fill3", "fill4"],
        &["h1", "h2"],
        &steps,
    );
    eprintln!(
        "two hosts down, room for one: the critical VM runs: {:.1} s",
        started.elapsed().as_secs_f64()
    );
    bench.stop().expect("the bench stops");
}

/// `hosts` die at the same instant: one SIGKILL command for all of their
/// libvirtds (what the bench's `crash` does host by host, waiting for each
/// to be gone before the next is killed); returns once they are gone.
fn crash_together(bench: &Bench, hosts: &[&str]) {
    let pids: Vec<String> = hosts
        .iter()
        .map(|h| {
            bench
                .libvirtd_pid(h)
                .expect("a bench host")
                .unwrap_or_else(|| panic!("{h} is not running"))
                .to_string()
        })
        .collect();
    let status = Command::new("kill")
        .arg("-KILL")
        .args(&pids)
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill -KILL {pids:?}: {status}");
    assert!(
        wait_for(Duration::from_secs(30), || hosts.iter().all(|h| bench
            .libvirtd_pid(h)
            .ok()
            .flatten()
            .is_none())),
        "{hosts:?} still run"
    );
}

/// The definition of `name` on `host` (the same domain: its UUID) with
/// `mib` MiB of memory and `vcpus` vCPUs.
fn resized(host: &LibvirtHost, name: &str, mib: u64, vcpus: u32) -> String {
    let old = host.domain_xml(name).expect("the definition");
    let uuid = old
        .split("<uuid>")
        .nth(1)
        .and_then(|s| s.split("</uuid>").next())
        .expect("a uuid");
    format!(
        "<domain type='test'><name>{name}</name><uuid>{uuid}</uuid><memory unit='MiB'>{mib}</memory><vcpu>{vcpus}</vcpu><os><type>hvm</type></os></domain>"
    )
}

fn a_vm_resized_while_the_runtime_was_down_is_seen_when_it_resumes() {
    let started = Instant::now();
    let (bench, pool) = three_hosts();
    let log = log_path(&bench);
    let first = Watcher::start_with(&bench, &pool, 120, &["--log", &log]);
    assert!(
        first.wait_output(Duration::from_secs(15), |o| o
            .notes
            .iter()
            .any(|n| matches!(n, Note::Reconciled))),
        "the runtime never reconciled"
    );
    let before = first.kill9();
    // While it is down: web (on h2) is restarted by hand with more memory
    // and vCPUs; db (on h1) keeps running but its definition (what it
    // boots with next) gets more memory.
    let h2 = conn(&bench.host("h2").unwrap().direct_uri);
    let larger = resized(&h2, "web", 768, 2);
    h2.destroy("web").expect("web stops");
    h2.define_and_start(&larger)
        .expect("web runs again, larger");
    let h1 = conn(&bench.host("h1").unwrap().direct_uri);
    h1.define(&resized(&h1, "db", 640, 1))
        .expect("db redefined");
    let second = Watcher::start_with(&bench, &pool, 120, &["--log", &log]);
    let seen = |vm: &'static str, host: &'static str, demand: Value| {
        move |o: &Output| {
            o.notes.iter().any(|n| {
                matches!(n, Note::VmResizedSeen { vm: v, host: h, demand: d }
                    if v == vm && h == host && serde_json::to_value(d).unwrap() == demand)
            })
        }
    };
    let web = second.wait_output(
        Duration::from_secs(20),
        seen("web", "h2", json!({"memory_mib": 768, "vcpus": 2})),
    );
    let db = second.wait_output(
        Duration::from_secs(5),
        seen("db", "h1", json!({"memory_mib": 640})),
    );
    std::thread::sleep(Duration::from_secs(1));
    let after = second.kill9();
    assert!(web, "web's new amounts not seen: {}", story(&after));
    assert!(db, "db's new definition not seen: {}", story(&after));
    // Nothing else moved or was taken for resized.
    for (_, _, o) in &after {
        for n in &o.notes {
            if let Note::VmResizedSeen { vm, .. } = n {
                assert!(vm == "web" || vm == "db", "{vm} taken for resized");
            }
        }
    }
    let steps: Vec<_> = before.into_iter().chain(after).collect();
    assert!(
        !steps.iter().any(|(_, _, o)| o
            .actions
            .iter()
            .any(|a| matches!(a, Action::StartVm { .. }))),
        "a VM was started: {}",
        story(&steps)
    );
    assert_once_and_nothing_healthy_fenced(&bench, &["db", "app", "batch", "web"], &[], &steps);
    eprintln!(
        "VMs resized while the runtime was down, seen on resume: {:.1} s",
        started.elapsed().as_secs_f64()
    );
    bench.stop().expect("the bench stops");
}

fn a_vm_restarted_where_its_host_answers_gets_the_definition_read_just_before() {
    use haplan_runtime::driver::Hypervisor;
    let (bench, pool) = bench(BenchOptions {
        hosts: 2,
        ..BenchOptions::default()
    });
    let parsed = haplan::pool_from_value(&pool).expect("a valid pool");
    // The libvirt driver as `haplan run` makes it: every definition read.
    let live = live::Live::new(&parsed).expect("drivers for every host");
    let h1 = conn(&bench.host("h1").unwrap().direct_uri);
    let h2 = conn(&bench.host("h2").unwrap().direct_uri);
    // db and app are given more memory (and db more vCPUs), then crash,
    // before the driver reads anything again.
    h1.define(&resized(&h1, "db", 640, 2))
        .expect("db redefined");
    h1.define(&resized(&h1, "app", 768, 1))
        .expect("app redefined");
    h1.destroy("db").expect("db crashes");
    h1.destroy("app").expect("app crashes");
    for (vm, kib) in [("db", 524288), ("app", 524288)] {
        let kept = live.definition(vm).expect("kept");
        assert!(kept.contains(&format!(">{kib}</memory>")), "{kept}");
    }
    // db is restarted on its own host (up), app on another one: each with
    // the definition h1 has now, not the one read before the change.
    live.start_vm("db", "h1").expect("db starts on h1");
    live.start_vm("app", "h2").expect("app starts on h2");
    let db = h1.domain("db").expect("db");
    assert!(db.state.is_active());
    assert_eq!(
        (db.memory_mib, db.vcpus),
        (640, 2),
        "db started with an old definition"
    );
    let app = h2.domain("app").expect("app");
    assert!(app.state.is_active());
    assert_eq!(app.memory_mib, 768, "app started with an old definition");
    assert!(
        h1.domain_xml("db").unwrap().contains(">655360</memory>"),
        "h1's newer definition of db was overwritten"
    );
    bench.stop().expect("the bench stops");
}

/// The steps of a runtime's log (every run that appended to it).
fn logged_steps(log: &str) -> Vec<(Instant, Input, Output)> {
    let text = std::fs::read_to_string(log).expect("the log");
    text.lines()
        .filter_map(|line| {
            let mut v: Value = serde_json::from_str(line).ok()?;
            let input = serde_json::from_value::<Input>(v.get_mut("input")?.take()).ok()?;
            let output = serde_json::from_value::<Output>(v.get_mut("output")?.take()).ok()?;
            Some((Instant::now(), input, output))
        })
        .collect()
}

fn a_runtime_killed_between_the_fence_and_the_starts_finds_them_undone_and_starts_once() {
    let started = Instant::now();
    let (bench, pool) = three_hosts();
    let log = log_path(&bench);
    let path = bench.dir().join("watched.json");
    std::fs::write(&path, serde_json::to_string_pretty(&pool).unwrap()).unwrap();
    // haplan prints a step (here only those that do something) after
    // logging it and before performing its actions. Its standard output is
    // a socket the test stops reading once h1's fence is handed out and
    // then fills: the next step printed (the fence's result, with the restarts)
    // is logged, and its starts are never made. kill -9 then.
    let (out_r, out_w) = std::os::unix::net::UnixStream::pair().expect("a socket pair");
    let filler = out_w.try_clone().expect("the writing end");
    let mut child = Command::new(haplan_binary())
        .arg("run")
        .arg(&path)
        .args(["--driver", "libvirt", "--format", "json", "--until", "120"])
        .args(["--log", &log])
        .stdin(Stdio::null())
        .stdout(std::os::fd::OwnedFd::from(out_w))
        .stderr(Stdio::null())
        .spawn()
        .expect("haplan runs");
    let steps: Arc<Mutex<Vec<(Instant, Input, Output)>>> = Arc::default();
    let paused = Arc::new(AtomicBool::new(false));
    let (resume_tx, resume_rx) = std::sync::mpsc::channel::<()>();
    let reader = {
        let (steps, paused) = (Arc::clone(&steps), Arc::clone(&paused));
        std::thread::spawn(move || {
            let mut lines = BufReader::new(out_r);
            let mut line = String::new();
            while lines.read_line(&mut line).is_ok_and(|n| n > 0) {
                let step = serde_json::from_str::<Value>(&line).and_then(|mut v| {
                    Ok((
                        serde_json::from_value::<Input>(v["input"].take())?,
                        serde_json::from_value::<Output>(v["output"].take())?,
                    ))
                });
                line.clear();
                let Ok((input, output)) = step else { continue };
                let fence = output
                    .actions
                    .iter()
                    .any(|a| matches!(a, Action::Fence { host, .. } if host == "h1"));
                steps.lock().unwrap().push((Instant::now(), input, output));
                if fence {
                    paused.store(true, Ordering::Relaxed);
                    let _ = resume_rx.recv();
                    // What comes after the kill (and the filler) is not read.
                    let _ = std::io::copy(&mut lines, &mut std::io::sink());
                    return;
                }
            }
        })
    };
    assert!(
        wait_for(Duration::from_secs(15), || steps
            .lock()
            .unwrap()
            .iter()
            .any(|(_, _, o)| o
                .notes
                .iter()
                .any(|n| matches!(n, Note::Reconciled)))),
        "the runtime never reconciled"
    );
    std::thread::sleep(Duration::from_secs(2));
    bench.crash("h1").expect("crash h1");
    assert!(
        wait_for(Duration::from_secs(30), || paused.load(Ordering::Relaxed)),
        "h1 was never fenced"
    );
    let filling = std::thread::spawn(move || {
        let mut filler = filler;
        // Far more than a socket's buffers hold: blocks until the reader
        // drains it.
        let _ = std::io::Write::write_all(&mut filler, &vec![b'\n'; 4 << 20]);
    });
    let start_logged = wait_for(Duration::from_secs(30), || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("\"type\":\"start_vm\"")
    });
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
    resume_tx.send(()).expect("the reader waits");
    reader.join().expect("the reader");
    filling.join().expect("the filler");
    assert!(
        start_logged,
        "no start was logged after h1's fence: {}",
        story(&logged_steps(&log))
    );
    let first = logged_steps(&log);
    let r = running(&bench);
    for vm in ["db", "app", "batch"] {
        assert!(
            !r.contains_key(vm),
            "{vm} runs on {:?}: a start reached libvirt before the kill, the test proves less than it says",
            r.get(vm)
        );
    }
    // Started again on the same log, as systemd would.
    let second = Watcher::start_with(&bench, &pool, 120, &["--log", &log]);
    let resumed = Instant::now();
    let done = all_running(&bench, &["db", "app", "batch"], Duration::from_secs(45));
    let took = resumed.elapsed();
    std::thread::sleep(Duration::from_secs(2));
    let after = second.kill9();
    assert!(
        done,
        "h1's VMs did not run again: {:?}{}",
        running(&bench),
        story(&after)
    );
    // Each was started by the resumed runtime without waiting a fixed
    // minute for the start that never came: as soon as libvirt said it
    // ran nowhere (runtime time, from its first step).
    let t0 = after.first().map(|(_, i, _)| i.at).expect("a step");
    for vm in ["db", "app", "batch"] {
        let at = after
            .iter()
            .find(|(_, _, o)| {
                o.actions
                    .iter()
                    .any(|a| matches!(a, Action::StartVm { vm: v, .. } if v == vm))
            })
            .map(|(_, i, _)| i.at)
            .unwrap_or_else(|| panic!("{vm} was not started again: {}", story(&after)));
        assert!(
            at - t0 < 60_000,
            "{vm} started {} ms after the resume: {}",
            at - t0,
            story(&after)
        );
    }
    // Both runs appended to the log.
    let all = logged_steps(&log);
    assert!(all.len() > first.len());
    assert_once_and_nothing_healthy_fenced(&bench, &["db", "app", "batch", "web"], &["h1"], &all);
    eprintln!(
        "kill -9 between the fence and the starts, resume: h1's VMs running again {:.1} s after the resume; whole test {:.1} s",
        took.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    bench.stop().expect("the bench stops");
}

/// Every scenario on the bench, each on a thread of its own named after it,
/// side by side: each has a bench of its own (directory, ports, sockets)
/// and mostly waits for real time to pass (probes, fences, a 30 s freeze),
/// so together they take about the time of the longest and hold one of the
/// test harness's threads, not the sum of their times. A failure names the
/// scenarios that failed; each one's panic message names its thread.
/// `HAPLAN_E2E_ONLY=WORD` runs only the scenarios whose name contains WORD.
#[test]
fn on_the_bench() {
    let scenarios: &[(&str, fn())] = &[
        (
            "a_crashed_host_is_fenced_then_its_vms_run_again_exactly_once",
            a_crashed_host_is_fenced_then_its_vms_run_again_exactly_once,
        ),
        (
            "a_fence_that_refuses_blocks_every_restart_and_raises_the_alert",
            a_fence_that_refuses_blocks_every_restart_and_raises_the_alert,
        ),
        (
            "a_host_that_only_lost_its_management_network_keeps_its_vms_and_gets_no_copies",
            a_host_that_only_lost_its_management_network_keeps_its_vms_and_gets_no_copies,
        ),
        (
            "a_query_asks_every_host_that_answers_past_one_that_does_not",
            a_query_asks_every_host_that_answers_past_one_that_does_not,
        ),
        (
            "the_runtime_outlives_a_frozen_management_path_to_one_host",
            the_runtime_outlives_a_frozen_management_path_to_one_host,
        ),
        (
            "the_runtime_outlives_frozen_management_paths_to_every_host",
            the_runtime_outlives_frozen_management_paths_to_every_host,
        ),
        (
            "a_runtime_killed_while_it_starts_vms_resumes_from_its_log_without_copies",
            a_runtime_killed_while_it_starts_vms_resumes_from_its_log_without_copies,
        ),
        (
            "a_runtime_killed_while_it_fences_restarts_every_vm_from_the_kept_definitions",
            a_runtime_killed_while_it_fences_restarts_every_vm_from_the_kept_definitions,
        ),
        (
            "a_fenced_host_returning_with_an_autostarted_copy_is_found_and_one_copy_kept",
            a_fenced_host_returning_with_an_autostarted_copy_is_found_and_one_copy_kept,
        ),
        (
            "a_definition_changed_while_the_runtime_runs_is_the_one_restarted",
            a_definition_changed_while_the_runtime_runs_is_the_one_restarted,
        ),
        (
            "two_hosts_down_with_the_room_contested_restart_the_critical_vm",
            two_hosts_down_with_the_room_contested_restart_the_critical_vm,
        ),
        (
            "a_vm_restarted_where_its_host_answers_gets_the_definition_read_just_before",
            a_vm_restarted_where_its_host_answers_gets_the_definition_read_just_before,
        ),
        (
            "a_vm_resized_while_the_runtime_was_down_is_seen_when_it_resumes",
            a_vm_resized_while_the_runtime_was_down_is_seen_when_it_resumes,
        ),
        (
            "a_runtime_killed_between_the_fence_and_the_starts_finds_them_undone_and_starts_once",
            a_runtime_killed_between_the_fence_and_the_starts_finds_them_undone_and_starts_once,
        ),
    ];
    // Before any bench starts: a haplan without the libvirt driver is
    // named as such, not found out scenario by scenario.
    haplan_binary();
    let only = std::env::var("HAPLAN_E2E_ONLY").unwrap_or_default();
    let running: Vec<(&str, std::thread::JoinHandle<()>)> = scenarios
        .iter()
        .filter(|(name, _)| name.contains(only.as_str()))
        .map(|&(name, scenario)| {
            let handle = std::thread::Builder::new()
                .name(name.to_string())
                .spawn(scenario)
                .expect("a thread");
            (name, handle)
        })
        .collect();
    assert!(
        !running.is_empty(),
        "no scenario matches HAPLAN_E2E_ONLY={only}"
    );
    let failed: Vec<&str> = running
        .into_iter()
        .filter_map(|(name, handle)| handle.join().is_err().then_some(name))
        .collect();
    assert!(failed.is_empty(), "failed on the bench: {failed:?}");
}
