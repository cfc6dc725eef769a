//! `haplan run`: watch the HA runtime keep the pool: a simulated failover, step by step.

use crate::cli::*;

// The arguments of `haplan run` (their help is the variant's).
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// Pool file (haplan/v1 JSON), or - for standard input.
    pub(crate) file: String,
    /// The host loses power at this time (its VMs die).
    #[arg(long, value_name = "HOST@SECONDS")]
    pub(crate) crash: Vec<String>,
    /// The host loses its network (to the runtime and its peers) but runs on.
    #[arg(long, value_name = "HOST@SECONDS")]
    pub(crate) isolate: Vec<String>,
    /// Only the runtime loses sight of the host; its peers still reach it.
    #[arg(long, value_name = "HOST@SECONDS")]
    pub(crate) unreachable: Vec<String>,
    /// The host's fence devices fail until this time (forever without @).
    #[arg(long, value_name = "HOST[@SECONDS]")]
    pub(crate) fence_fails: Vec<String>,
    /// The VM crashes on its (healthy) host.
    #[arg(long, value_name = "VM@SECONDS")]
    pub(crate) crash_vm: Vec<String>,
    /// The runtime itself dies at this time and recovers from its log 5 s later.
    #[arg(long, value_name = "SECONDS")]
    pub(crate) restart_runtime: Vec<f64>,
    /// How long to run, in seconds (simulated; default 120). With
    /// `--driver libvirt` it runs until stopped (SIGTERM, SIGINT) unless
    /// this is given.
    #[arg(long, value_name = "SECONDS")]
    pub(crate) until: Option<f64>,
    /// Seed of the simulation's latencies.
    #[arg(long, default_value = "1")]
    pub(crate) seed: u64,
    /// Also print routine steps (probes answered, ticks).
    #[arg(long)]
    pub(crate) verbose: bool,
    /// Write the runtime's log (JSON lines) to this file. With
    /// `--driver libvirt` the log is appended to and resumed from: a
    /// runtime started again goes on from its log (one runtime per log:
    /// FILE.lock), and the VM definitions are kept in
    /// FILE.definitions.json.
    #[arg(long, value_name = "FILE")]
    pub(crate) log: Option<String>,
    /// `--driver libvirt`: take operator events on this Unix socket
    /// (docs/runtime.md, the control interface; `haplan control`).
    #[arg(long, value_name = "SOCKET")]
    pub(crate) control: Option<String>,
    /// `--driver libvirt`: serve Prometheus metrics at
    /// http://ADDR/metrics (e.g. 127.0.0.1:9664).
    #[arg(long, value_name = "ADDR")]
    pub(crate) metrics: Option<String>,
    #[arg(long, value_enum, default_value = "text")]
    pub(crate) format: Format,
    /// The wall-clock time each exact check of a step may take (the
    /// tolerance, the restart plan, whether a drain or failback keeps k),
    /// in seconds, from 0.001 to 3600 (0: the default, 5). A check that
    /// does not decide within it claims only what it proved, and the step
    /// logs it as `undecided` (a replay of the log takes that outcome).
    #[arg(long, value_name = "SECONDS", value_parser = parse_check_budget)]
    pub(crate) check_budget: Option<std::time::Duration>,
    /// `sim`: simulated hosts; `libvirt`: the real hosts of the pool file
    /// (labels.libvirt_uri, fence agents), in real time, printing each step
    /// as it happens (faults then come from the real world).
    #[arg(long, value_enum, default_value = "sim")]
    pub(crate) driver: DriverArg,
}

/// Runs `haplan run`.
pub(crate) fn run(args: Args, read: &mut Reader<'_>) -> Result<(i32, String), CliError> {
    let Args {
        file,
        crash,
        isolate,
        unreachable,
        fence_fails,
        crash_vm,
        restart_runtime,
        until,
        seed,
        verbose,
        log,
        format,
        driver,
        check_budget,
        ..
    } = args;
    let until = until.unwrap_or(120.0);
    if driver == DriverArg::Libvirt {
        return Err(String::from(WITHOUT_DRIVERS).into());
    }
    let faults = RunFaults {
        crash,
        isolate,
        unreachable,
        fence_fails,
        crash_vm,
        restart_runtime,
    };
    run_sim(
        &file,
        read,
        &faults,
        until,
        seed,
        verbose,
        log.as_deref(),
        format,
        check_budget,
    )
}

/// The longest check budget `--check-budget` takes, in seconds.
const CHECK_BUDGET_MAX_S: f64 = 3600.0;

/// `--check-budget`: seconds from 0.001 to [`CHECK_BUDGET_MAX_S`], or 0
/// for the runtime's default.
fn parse_check_budget(s: &str) -> Result<std::time::Duration, String> {
    let secs: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("not a number of seconds: {s}"))?;
    if secs == 0.0 {
        return Ok(haplan_runtime::DEFAULT_CHECK_BUDGET);
    }
    if !secs.is_finite() || !(0.001..=CHECK_BUDGET_MAX_S).contains(&secs) {
        return Err(format!(
            "not a check budget: {s} (seconds from 0.001 to {CHECK_BUDGET_MAX_S}, or 0 for the default, 5)"
        ));
    }
    Ok(std::time::Duration::from_secs_f64(secs))
}

struct RunFaults {
    crash: Vec<String>,
    isolate: Vec<String>,
    unreachable: Vec<String>,
    fence_fails: Vec<String>,
    crash_vm: Vec<String>,
    restart_runtime: Vec<f64>,
}

/// `NAME@SECONDS` as (name, milliseconds); the time is optional when `opt`.
fn at_time(flag: &str, s: &str, opt: bool) -> Result<(String, Option<u64>), String> {
    let (name, t) = match s.rsplit_once('@') {
        Some((n, t)) => (n, Some(t)),
        None if opt => (s, None),
        None => return Err(format!("--{flag} {s}: expected NAME@SECONDS")),
    };
    let ms = match t {
        None => None,
        Some(t) => Some(secs_ms(t).map_err(|e| format!("--{flag} {s}: {e}"))?),
    };
    if name.is_empty() {
        return Err(format!("--{flag} {s}: the name is empty"));
    }
    Ok((name.to_string(), ms))
}

fn secs_ms(t: &str) -> Result<u64, String> {
    let secs: f64 = t
        .trim()
        .parse()
        .map_err(|_| format!("not a number of seconds: {t}"))?;
    if !secs.is_finite() || !(0.0..=1e7).contains(&secs) {
        return Err(format!("not a usable number of seconds: {t}"));
    }
    Ok((secs * 1000.0).round() as u64)
}

#[allow(clippy::too_many_arguments)]
fn run_sim(
    file: &str,
    read: &mut Reader<'_>,
    faults: &RunFaults,
    until: f64,
    seed: u64,
    verbose: bool,
    log: Option<&str>,
    format: Format,
    check_budget: Option<std::time::Duration>,
) -> Result<(i32, String), CliError> {
    use haplan_runtime::sim::{Fault, FenceDevice, Sim};
    use haplan_runtime::{Event, text};
    let (shown, text) = read(file)?;
    let pool = parse_pool(&shown, &text)?;
    let doc: serde_json::Value = serde_json::from_str(&text).expect("a valid pool is JSON");
    let until = secs_ms(&until.to_string()).map_err(|e| format!("--until: {e}"))?;
    let host = |flag: &str, name: &str| -> Result<(), String> {
        pool.host_by_name(name)
            .map(|_| ())
            .ok_or_else(|| format!("--{flag}: unknown host {}", quoted(name)))
    };
    // The flag's budget holds from the runtime's first check on.
    let budget = check_budget.unwrap_or(haplan_runtime::DEFAULT_CHECK_BUDGET);
    let mut sim =
        Sim::with_budget(doc, seed, 0.0, Some(budget)).map_err(|e| format!("{shown}: {e}"))?;
    sim.record = true;
    // Only the steps that will be shown are kept (without --verbose, the
    // routine ones are not; with it, the first VERBOSE_ROUTINE_STEPS_MAX
    // of them), so memory does not grow with the run's length.
    let routine_kept = std::rc::Rc::new(std::cell::Cell::new(0u64));
    let routine_left_out = std::rc::Rc::new(std::cell::Cell::new(0u64));
    let (kept, left_out) = (routine_kept.clone(), routine_left_out.clone());
    sim.keep = Some(Box::new(move |i, o| {
        if !text::step_lines(i, o, false).is_empty() {
            return true;
        }
        if !verbose {
            return false;
        }
        if kept.get() < VERBOSE_ROUTINE_STEPS_MAX {
            kept.set(kept.get() + 1);
            true
        } else {
            left_out.set(left_out.get() + 1);
            false
        }
    }));
    let mut crashes = Vec::new();
    for s in &faults.crash {
        let (h, t) = at_time("crash", s, false)?;
        host("crash", &h)?;
        let t = t.expect("required");
        sim.inject(t, Fault::CrashHost(h.clone()));
        crashes.push((h, t));
    }
    for s in &faults.isolate {
        let (h, t) = at_time("isolate", s, false)?;
        host("isolate", &h)?;
        sim.inject(
            t.expect("required"),
            Fault::Partition {
                host: h,
                from_peers: true,
            },
        );
    }
    for s in &faults.unreachable {
        let (h, t) = at_time("unreachable", s, false)?;
        host("unreachable", &h)?;
        sim.inject(
            t.expect("required"),
            Fault::Partition {
                host: h,
                from_peers: false,
            },
        );
    }
    for s in &faults.fence_fails {
        let (h, t) = at_time("fence-fails", s, true)?;
        host("fence-fails", &h)?;
        let device = FenceDevice::FailsUntil(t.unwrap_or(u64::MAX));
        sim.inject(0, Fault::Device { host: h, device });
    }
    for s in &faults.crash_vm {
        let (v, t) = at_time("crash-vm", s, false)?;
        if pool.vm_by_name(&v).is_none() {
            return Err(format!("--crash-vm: unknown VM {}", quoted(&v)).into());
        }
        sim.inject(t.expect("required"), Fault::CrashVm(v));
    }
    for &t in &faults.restart_runtime {
        let t = secs_ms(&t.to_string()).map_err(|e| format!("--restart-runtime: {e}"))?;
        sim.inject(t, Fault::CrashRuntime { down_for: 5_000 });
    }
    // Who each crash takes down, and when they all run again.
    let protected: Vec<String> = pool
        .vms
        .iter()
        .filter(|v| v.restart == haplan::model::Restart::Protected && v.power.is_active())
        .map(|v| v.name.clone())
        .collect();
    crashes.sort_by_key(|(_, t)| *t);
    let mut waiting: Vec<(String, u64, Vec<String>, Option<u64>)> = Vec::new();
    let mut t = 0;
    let mut next_crash = 0;
    while t < until {
        while next_crash < crashes.len() && crashes[next_crash].1 <= t + 100 {
            let (h, at) = &crashes[next_crash];
            sim.run_until(at.saturating_sub(1));
            let running = sim.world.running();
            let victims = protected
                .iter()
                .filter(|v| running.get(*v).is_some_and(|on| on.contains(h)))
                .cloned()
                .collect();
            waiting.push((h.clone(), *at, victims, None));
            next_crash += 1;
        }
        t = (t + 100).min(until);
        sim.run_until(t);
        let running = sim.world.running();
        for w in waiting.iter_mut().filter(|w| w.3.is_none() && t > w.1) {
            if w.2.iter().all(|v| running.contains_key(v)) {
                w.3 = Some(t - w.1);
            }
        }
    }
    if let Some(path) = log {
        std::fs::write(path, sim.log()).map_err(|e| format!("cannot write {path}: {e}"))?;
    }
    let violations = sim.world.violations();
    let running = sim.world.running();
    let mut out = String::new();
    match format {
        Format::Json => {
            for s in &sim.steps {
                let routine = text::step_lines(&s.input, &s.output, false).is_empty();
                if verbose || !routine {
                    let line = serde_json::json!({"input": s.input, "output": s.output});
                    out += &format!("{line}\n");
                }
            }
            let mut summary = serde_json::json!({
                "summary": {
                    "until_ms": until,
                    "recoveries": waiting.iter().map(|(h, at, vms, done)| serde_json::json!({
                        "host": h, "crashed_at_ms": at, "protected_vms": vms, "recovered_after_ms": done,
                    })).collect::<Vec<_>>(),
                    "not_running": protected.iter().filter(|v| !running.contains_key(*v)).collect::<Vec<_>>(),
                    "violations": violations,
                    "check_budget_ms": sim
                        .runtime()
                        .and_then(|rt| rt.check_budget())
                        .map(|b| b.as_millis() as u64),
                }
            });
            if routine_left_out.get() > 0 {
                summary["summary"]["routine_steps_not_shown"] = routine_left_out.get().into();
            }
            out += &format!("{summary}\n");
        }
        Format::Text | Format::Github => {
            out += &format!(
                "haplan run: {} ({} hosts, {} VMs), simulated for {}s\n",
                pool.name,
                pool.hosts.len(),
                pool.vms.len(),
                until as f64 / 1000.0
            );
            for s in &sim.steps {
                if let Event::Tick = s.input.event {
                    if s.output.notes.is_empty() && s.output.alerts.is_empty() {
                        let quiet = s
                            .output
                            .actions
                            .iter()
                            .all(|a| matches!(a, haplan_runtime::Action::Probe { .. }));
                        if quiet && !verbose {
                            continue;
                        }
                    }
                }
                for line in text::step_lines(&s.input, &s.output, verbose) {
                    out += &line;
                    out.push('\n');
                }
            }
            if routine_left_out.get() > 0 {
                out += &format!(
                    "({} routine steps after the first {VERBOSE_ROUTINE_STEPS_MAX} not shown)\n",
                    routine_left_out.get()
                );
            }
            out += "\nsummary:\n";
            for (h, at, vms, done) in &waiting {
                match done {
                    Some(d) => {
                        out += &format!(
                            "  {h} crashed at {:.1}s: its {} protected VM{} ran again {:.1}s later\n",
                            *at as f64 / 1000.0,
                            vms.len(),
                            if vms.len() == 1 { "" } else { "s" },
                            *d as f64 / 1000.0
                        )
                    }
                    None => {
                        out += &format!(
                            "  {h} crashed at {:.1}s: not all of its protected VMs ({}) run again\n",
                            *at as f64 / 1000.0,
                            vms.join(", ")
                        )
                    }
                }
            }
            let idle: Vec<&String> = protected
                .iter()
                .filter(|v| !running.contains_key(*v))
                .collect();
            if idle.is_empty() {
                out += "  every protected VM runs\n";
            } else {
                out += &format!(
                    "  protected VMs not running: {}\n",
                    idle.iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
            for v in &violations {
                out += &format!("  INVARIANT BROKEN: {v}\n");
            }
        }
    }
    let code = if violations.is_empty() {
        EXIT_OK
    } else {
        EXIT_NOT_OK
    };
    Ok((code, out))
}

/// `haplan run --driver libvirt`: the runtime on the real hosts, each step
/// printed as it happens.
#[cfg(feature = "drivers")]
pub(crate) fn run_live(
    command: Command,
    stdin: &mut dyn Read,
    stdout: &mut dyn Write,
) -> Result<i32, String> {
    use haplan_runtime::text;
    use haplan_service::live;
    let Command::Run(cmd::run::Args {
        file,
        crash,
        isolate,
        unreachable,
        fence_fails,
        crash_vm,
        restart_runtime,
        until,
        verbose,
        log,
        format,
        control,
        metrics,
        check_budget,
        ..
    }) = command
    else {
        unreachable!("only run comes here")
    };
    if !(crash.is_empty()
        && isolate.is_empty()
        && unreachable.is_empty()
        && fence_fails.is_empty()
        && crash_vm.is_empty()
        && restart_runtime.is_empty())
    {
        return Err(
            "faults are injected only with --driver sim; real hosts fail on their own".into(),
        );
    }
    let (shown, text) = read_text(&file, stdin).map_err(|e| e.message)?;
    let pool = load::parse_pool(&text).map_err(|e| format!("{shown}: {e}"))?;
    let doc: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{shown}: {e}"))?;
    let until = match until {
        Some(u) => Some(Duration::from_millis(
            secs_ms(&u.to_string()).map_err(|e| format!("--until: {e}"))?,
        )),
        None => None,
    };
    let live = std::sync::Arc::new(live::Live::new(&pool).map_err(|e| format!("{shown}: {e}"))?);
    if log.is_none() {
        eprintln!(
            "haplan: warning: without --log the runtime cannot resume after a restart (it would start from the pool file)"
        );
    }
    let log_path = log.map(std::path::PathBuf::from);
    // SIGTERM and SIGINT end the loop cleanly: the step under way is
    // logged, the lock released, the control socket removed.
    let stop = haplan_service::process::stop_on_signals()?;
    let (ctl_tx, ctl_rx) = std::sync::mpsc::channel();
    let _control = match &control {
        Some(path) => Some(haplan_service::control::listen(
            std::path::Path::new(path),
            ctl_tx,
        )?),
        None => None,
    };
    let gauges = std::sync::Arc::new(std::sync::Mutex::new(
        haplan_service::metrics::Metrics::new(),
    ));
    if let Some(addr) = &metrics {
        haplan_service::metrics::serve(addr, std::sync::Arc::clone(&gauges))?;
    }
    // systemd (Type=notify): ready once the runtime runs; the watchdog is
    // fed by the loop itself, so a stuck loop gets the service restarted.
    let systemd = haplan_service::process::Systemd::new();
    let alive = || systemd.alive();
    let options = live::LiveOptions {
        until,
        stop: Some(&stop),
        log: log_path.as_deref(),
        control: control.is_some().then_some(ctl_rx),
        alive: Some(&alive),
        check_budget,
    };
    let mut failed = None;
    let mut ready = false;
    live::run(doc, live, options, |input, output, rt| {
        if !ready {
            ready = true;
            systemd.ready();
        }
        if let Ok(mut m) = gauges.lock() {
            m.observe(input, output, rt);
        }
        if failed.is_some() {
            return;
        }
        let lines = match format {
            Format::Json => {
                if verbose || !text::step_lines(input, output, false).is_empty() {
                    vec![serde_json::json!({"input": input, "output": output}).to_string()]
                } else {
                    Vec::new()
                }
            }
            Format::Text | Format::Github => text::step_lines(input, output, verbose),
        };
        for line in lines {
            if let Err(e) = writeln!(stdout, "{line}").and_then(|_| stdout.flush()) {
                failed = Some(e);
                return;
            }
        }
    })?;
    systemd.stopping();
    match failed {
        Some(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            Err(format!("cannot write output: {e}"))
        }
        _ => Ok(EXIT_OK),
    }
}
