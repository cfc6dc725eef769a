//! Budgets: every command decides K first and stops there when asked
//! (`--max-time 0`), the time limit counts from the start of the process
//! and covers reading and setting up, and `diff --no-regress` uses what it
//! knows. Nothing here depends on how fast the machine is: K-only runs are
//! told apart by what they decided (failure sets, set-level decisions),
//! and the time limits are ones already spent when the run starts.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use haplan_benches::Rng;
use serde_json::{Value, json};

/// `hosts` identical 256 GiB hosts, each running `per_host` protected VMs
/// of 10 to 30 GiB (memory only): set-level bounds prove K = 1 at once,
/// while the exact maximum takes a search over failure sets.
fn knife(hosts: usize, per_host: usize, seed: u64) -> Value {
    let mut rng = Rng::new(seed);
    let hs: Vec<Value> = (0..hosts)
        .map(|h| json!({"name": format!("h{h:02}"), "capacity": {"memory_mib": 256 * 1024}}))
        .collect();
    let mut vms = Vec::new();
    for h in 0..hosts {
        for v in 0..per_host {
            vms.push(json!({
                "name": format!("vm{h:02}-{v}"),
                "host": format!("h{h:02}"),
                "demand": {"memory_mib": rng.range(10, 30) * 1024},
            }));
        }
    }
    json!({"name": "knife", "ha": {"host_failures_to_tolerate": 1}, "hosts": hs, "vms": vms})
}

/// First fit fails where an exact packing fits: without time to search,
/// the set-level bounds leave its tolerance between 0 and 1 (it is 1).
fn trap() -> Value {
    let gib = |g: u64| json!({"memory_mib": g * 1024});
    let vm = |name: &str, host: &str, g: u64| json!({"name": name, "host": host, "demand": gib(g)});
    json!({
        "name": "trap",
        "hosts": [
            {"name": "h1", "capacity": gib(256)},
            {"name": "h2", "capacity": gib(256)},
            {"name": "h3", "capacity": gib(256)}
        ],
        "vms": [
            vm("db", "h1", 48), vm("app1", "h1", 32), vm("app2", "h1", 32), vm("app3", "h1", 32),
            vm("web1", "h1", 24), vm("web2", "h1", 24),
            {"name": "batch2", "host": "h2", "demand": gib(160), "restart": "unprotected"},
            {"name": "batch3", "host": "h3", "demand": gib(160), "restart": "unprotected"}
        ]
    })
}

/// A file holding `v`, removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str, v: &Value) -> TempFile {
        let path =
            std::env::temp_dir().join(format!("haplan-budget-{}-{name}.json", std::process::id()));
        std::fs::write(&path, serde_json::to_string_pretty(v).unwrap()).unwrap();
        TempFile(path)
    }
    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Out {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}\nstderr: {}", self.stdout, self.stderr))
    }
}

/// Runs the command line as if the process had started at `start`.
fn run_from(start: Instant, args: &[&str]) -> Out {
    let mut argv = vec!["haplan"];
    argv.extend_from_slice(args);
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    let code = haplan_cli::run_from(
        start,
        false,
        argv,
        &mut std::io::empty(),
        &mut stdout,
        &mut stderr,
    );
    Out {
        code,
        stdout: String::from_utf8(stdout).unwrap(),
        stderr: String::from_utf8(stderr).unwrap(),
    }
}

fn run(args: &[&str]) -> Out {
    run_from(Instant::now(), args)
}

/// Runs the command line as the real binary, in a process of its own: its
/// time limit then competes with the other tests only for the cores, never
/// for the work queue of this process's thread pool.
fn run_process(args: &[&str]) -> Out {
    let bin = crate::fixtures::binary().unwrap_or_else(|e| panic!("{e}"));
    let mut argv = vec!["haplan".to_string()];
    argv.extend(args.iter().map(|a| a.to_string()));
    let out = crate::fixtures::run_binary(&bin, &argv, b"");
    Out {
        code: out.exit,
        stdout: out.stdout,
        stderr: out.stderr,
    }
}

/// A process start `ago` in the past.
fn ago(secs: u64) -> Instant {
    Instant::now()
        .checked_sub(Duration::from_secs(secs))
        .expect("the clock goes back that far")
}

fn scenarios(check: &Value) -> u64 {
    check["stats"]["scenarios"].as_u64().unwrap()
}

#[test]
fn check_stops_once_k_is_proved_unless_the_maximum_is_asked() {
    let f = TempFile::new("knife-check", &knife(12, 9, 3));
    let k_only = run(&["check", f.path(), "--max-time", "0", "--format", "json"]);
    let full = run(&["check", f.path(), "--max-time", "none", "--format", "json"]);
    assert_eq!((k_only.code, full.code), (0, 0), "{}", k_only.stderr);
    let (k, m) = (k_only.json(), full.json());
    // The maximum takes a search...
    assert_eq!(m["exact"], true);
    assert_eq!(m["stopped_by"], Value::Null);
    assert!(scenarios(&m) > 0, "{m}");
    // ...which the K-only run never starts: K = 1 is proved by set-level
    // bounds, and nothing is decided after that.
    assert_eq!(scenarios(&k), 0, "{k}");
    assert!(
        k["stats"]["set_level"].as_u64() < m["stats"]["set_level"].as_u64(),
        "{k}\n{m}"
    );
    assert_eq!(k["verdict"], "ok");
    assert_eq!(k["exact"], false);
    assert_eq!(k["stopped_by"], "max_time");
    assert!(k["stats"]["k_decided_ms"].is_u64());
    let (lower, upper) = (k["max_tolerable"].as_u64(), k["upper_bound"].as_u64());
    assert!(lower >= Some(1) && lower <= m["max_tolerable"].as_u64());
    assert!(upper >= m["max_tolerable"].as_u64() && lower < upper);
    // The text says the answer is proved and the maximum is not exact.
    let text = run(&["check", f.path(), "--max-time", "0"]);
    assert!(
        text.stdout.starts_with("OK: pool knife tolerates between"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains("(--max-time) ran out"),
        "{}",
        text.stdout
    );
}

#[test]
fn a_refuted_k_stops_at_a_failing_set_of_k_hosts() {
    let f = TempFile::new("knife-refuted", &knife(12, 9, 3));
    let full = run(&["check", f.path(), "--max-time", "none", "--format", "json"]).json();
    let max = full["max_tolerable"].as_u64().unwrap();
    let k = (max + 2).to_string();
    let k_only = run(&[
        "check",
        f.path(),
        "--tolerate",
        &k,
        "--max-time",
        "0",
        "--format",
        "json",
    ]);
    assert_eq!(k_only.code, 1);
    let r = k_only.json();
    assert_eq!(r["verdict"], "not_ok");
    // A failing set of at most K hosts, the witness of an upper bound
    // below K; the exact maximum was not searched for.
    let upper = r["upper_bound"].as_u64().unwrap();
    assert!(upper < max + 2 && upper >= max);
    let witness = r["witness"]["failed_hosts"].as_array().unwrap();
    assert_eq!(witness.len() as u64, upper + 1);
    // Asked for, the maximum comes with the smallest failing set.
    let exact = run(&[
        "check",
        f.path(),
        "--tolerate",
        &k,
        "--max-time",
        "none",
        "--format",
        "json",
    ]);
    let e = exact.json();
    assert_eq!((exact.code, e["exact"].as_bool()), (1, Some(true)));
    assert_eq!(
        e["witness"]["failed_hosts"].as_array().unwrap().len() as u64,
        max + 1
    );
}

#[test]
fn every_command_with_a_k_stops_once_k_is_proved() {
    let pool = knife(12, 9, 3);
    let f = TempFile::new("knife-all", &pool);
    let changes = TempFile::new(
        "knife-changes",
        &json!([{"op": "set_priority", "name": "vm00-0", "priority": "high"}]),
    );
    let vm = r#"{"memory_mib": 10240}"#;
    // Each run with `--max-time 0` and with `none`; the check objects in
    // each answer, found by their JSON pointers.
    let cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (
            vec!["whatif", f.path(), changes.path()],
            vec!["/before", "/after"],
        ),
        (vec!["diff", f.path(), f.path()], vec!["/old", "/new"]),
        (vec!["headroom", f.path(), "--vm", vm], vec!["/check"]),
        (vec!["drain", f.path(), "h00"], vec!["/end_state"]),
    ];
    for (args, checks) in cases {
        let with = |max: &str| {
            let mut a = args.clone();
            a.extend(["--max-time", max, "--format", "json"]);
            let out = run(&a);
            assert!(out.code == 0 || out.code == 3, "{args:?}: {}", out.stderr);
            out.json()
        };
        let (k, full) = (with("0"), with("none"));
        let mut searched = 0;
        for p in &checks {
            let (kc, fc) = (&k.pointer(p).unwrap(), &full.pointer(p).unwrap());
            assert_eq!(kc["verdict"], "ok", "{args:?} {p}: {kc}");
            assert_eq!(scenarios(kc), 0, "{args:?} {p}: {kc}");
            assert_eq!(kc["exact"], false, "{args:?} {p}");
            assert_eq!(kc["stopped_by"], "max_time", "{args:?} {p}");
            assert_eq!(fc["exact"], true, "{args:?} {p}");
            searched += scenarios(fc);
        }
        assert!(searched > 0, "{args:?}: the maximum needs no search here");
    }
    // tiers: one tier, the whole pool; its tolerance is the check's
    // maximum, left open with --max-time 0 (exit 3: a tier is undecided).
    let t = run(&["tiers", f.path(), "--max-time", "0", "--format", "json"]);
    assert_eq!(t.code, 3, "{}", t.stderr);
    let t = t.json();
    assert_eq!(t["ok"], true);
    let tier = &t["tiers"][0];
    assert_eq!(tier["exact"], false);
    assert!(tier["max_tolerable"].as_u64() >= Some(1));
    let full = run(&["tiers", f.path(), "--max-time", "none", "--format", "json"]);
    assert_eq!(full.code, 0);
    assert_eq!(full.json()["tiers"][0]["exact"], true);
}

#[test]
fn a_time_limit_spent_before_the_input_is_read_proves_nothing() {
    let f = TempFile::new("trap-spent", &trap());
    let out = run_from(
        ago(10),
        &["check", f.path(), "--time-limit", "1", "--format", "json"],
    );
    assert_eq!(out.code, 3);
    assert_eq!(out.stdout, "");
    assert!(
        out.stderr
            .contains("ran out while reading and validating the input: nothing was proved"),
        "{}",
        out.stderr
    );
}

#[test]
fn the_time_limit_counts_from_the_start_of_the_process() {
    let f = TempFile::new("trap-clock", &trap());
    let args = ["check", f.path(), "--time-limit", "29", "--format", "json"];
    // Started now, 29 s is plenty: K = 1 is proved (by a search: first
    // fit fails where an exact packing fits).
    let now = run(&args);
    assert_eq!(now.code, 0, "{}", now.stderr);
    assert_eq!(now.json()["exact"], true);
    // Started 30 s ago, the limit is spent before the search: reading,
    // setting up and the set-level bounds still run (within the 10 % + 1 s
    // past the limit), and the answer is what they proved.
    let late = run_from(ago(30), &args);
    assert_eq!(late.code, 3, "{}", late.stderr);
    let r = late.json();
    assert_eq!(r["verdict"], "undecided");
    assert_eq!(r["stopped_by"], "time_limit");
    assert_eq!(
        (r["max_tolerable"].as_u64(), r["upper_bound"].as_u64()),
        (Some(0), Some(1))
    );
    assert_eq!(scenarios(&r), 0);
}

#[test]
fn diff_no_regress_uses_what_it_knows() {
    let mut old = trap();
    old["vms"].as_array_mut().unwrap().push(
        json!({"name": "retired", "host": "h1", "demand": {"memory_mib": 1024}, "power": "halted"}),
    );
    let mut new = trap();
    new["hosts"][1]["capacity"]["memory_mib"] = json!(262145);
    let mut grown = trap();
    grown["vms"][4]["demand"]["memory_mib"] = json!(25 * 1024);
    let (o, n, g) = (
        TempFile::new("old", &old),
        TempFile::new("new", &new),
        TempFile::new("grown", &grown),
    );
    // No time to search: both pools' tolerances stay between 0 and 1, so
    // the bounds can neither prove nor rule out a regression.
    let args = |new: &str| {
        vec![
            "diff".to_string(),
            o.path().to_string(),
            new.to_string(),
            "--no-regress".into(),
            "--tolerate".into(),
            "0".into(),
            "--time-limit".into(),
            "0".into(),
            "--format".into(),
            "json".into(),
        ]
    };
    let go = |new: &str| {
        let a = args(new);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        run(&a)
    };
    // A VM removed and capacity added: no regression, whatever is open.
    let out = go(n.path());
    assert_eq!(out.code, 0, "{}", out.stdout);
    let d = out.json();
    assert_eq!(d["old"]["exact"], false);
    assert_eq!(d["new"]["exact"], false);
    assert_eq!(d["no_worse"], true);
    assert_eq!(d["regressed"], false);
    assert_eq!(d["verdict"], "ok");
    // A VM grown: a regression is neither proved nor ruled out, and NEW
    // reaches min(OLD, K) = 0: not undecided, ok.
    let out = go(g.path());
    assert_eq!(out.code, 0, "{}", out.stdout);
    let d = out.json();
    assert_eq!(d["no_worse"], false);
    assert_eq!(d["regressed"], Value::Null);
    assert_eq!(d["reasons"], json!([]));
    // Given the time, the grown VM is a proved regression (24 + 24 + 48
    // no longer fills 96 GiB exactly): exit 1.
    let out = run(&[
        "diff",
        o.path(),
        g.path(),
        "--no-regress",
        "--tolerate",
        "0",
        "--format",
        "json",
    ]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert_eq!(out.json()["regressed"], true);
}

#[test]
fn budgets_parse_and_default() {
    let f = TempFile::new("trap-parse", &trap());
    let bad = run(&["check", f.path(), "--time-limit", "soon"]);
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("(or none)"), "{}", bad.stderr);
    let bad = run(&["check", f.path(), "--max-time", "-1"]);
    assert_eq!(bad.code, 2);
    // No limit at all, when asked.
    let out = run(&[
        "check",
        f.path(),
        "--time-limit",
        "none",
        "--max-time",
        "none",
        "--format",
        "json",
    ]);
    assert_eq!(out.code, 0);
    assert_eq!(out.json()["exact"], true);
    assert_eq!(haplan::DEFAULT_TIME_LIMIT, Duration::from_secs(60));
    assert_eq!(haplan::DEFAULT_MAX_TIME, Duration::from_secs(2));
}

/// `fleet` checks each pool with the budget of `check`: a default time
/// limit, and `--max-time` for the maximum once K is decided (by default
/// 2 s), so that no pool holds a fleet run without end. With
/// `--max-time 0` a row has K decided and the bounds `check` proves by
/// then; with `none` (and no time limit), the exact maximum.
#[test]
fn fleet_checks_each_pool_with_the_budget_of_check() {
    let f = TempFile::new("knife-fleet", &knife(12, 9, 3));
    let row = |args: &[&str]| -> Value {
        let mut a = vec!["fleet", f.path(), "--format", "json"];
        a.extend_from_slice(args);
        let out = run(&a);
        assert_eq!(out.code, 0, "{args:?}: {}", out.stderr);
        out.json()["pools"][0].clone()
    };
    let k_only = row(&["--max-time", "0"]);
    let check = run(&["check", f.path(), "--max-time", "0", "--format", "json"]).json();
    assert_eq!(k_only["verdict"], "ok");
    assert_eq!(k_only["exact"], false);
    assert_eq!(k_only["max_tolerable"], check["max_tolerable"]);
    assert_eq!(k_only["upper_bound"], check["upper_bound"]);
    let full = row(&["--max-time", "none", "--time-limit", "none"]);
    assert_eq!(full["exact"], true);
    assert!(full["max_tolerable"].as_u64() > k_only["max_tolerable"].as_u64());
    // The defaults leave this small pool's maximum exact, as `check`'s do.
    assert_eq!(row(&[]), full);
    let help = run(&["fleet", "--help"]).stdout;
    for default in ["[default: 60]", "[default: 2]"] {
        assert!(help.contains(default), "{help}");
    }
}

/// `fleet`'s time limit counts, for each pool, from the start of reading
/// its file: a file that takes longer to read than the limit (here a named
/// pipe written to 1.5 s late) leaves its check no time to search, so the
/// maximum is not proved, where the same pool read at once is exact.
#[test]
fn fleet_counts_reading_a_pool_in_its_time_limit() {
    let pool = knife(12, 9, 3);
    let dir = std::env::temp_dir().join(format!("haplan-fleet-fifo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fifo = dir.join("late.json");
    let _ = std::fs::remove_file(&fifo);
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
    let writer = {
        let (fifo, text) = (fifo.clone(), pool.to_string());
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(1500));
            std::fs::write(&fifo, text).unwrap();
        })
    };
    let path = fifo.to_str().unwrap();
    let args = [
        "--time-limit",
        "1",
        "--max-time",
        "none",
        "--format",
        "json",
    ];
    let mut late = vec!["fleet", path];
    late.extend_from_slice(&args);
    let out = run(&late);
    writer.join().unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let row = &out.json()["pools"][0];
    assert_eq!(row["error"], Value::Null, "{row}");
    assert_eq!(row["exact"], false, "{row}");
    let f = TempFile::new("knife-fleet-at-once", &pool);
    let mut at_once = vec!["fleet", f.path()];
    at_once.extend_from_slice(&args);
    let row = &run(&at_once).json()["pools"][0];
    assert_eq!(row["exact"], true, "{row}");
}

/// `agility` takes a time limit as every command does: given one already
/// spent when the run starts, it ends undecided (exit 3) with nothing on
/// stdout; with the default it answers.
#[test]
fn agility_has_a_time_limit() {
    let f = TempFile::new("trap-agility", &trap());
    let spent = run_from(ago(30), &["agility", f.path(), "--time-limit", "2"]);
    assert_eq!(spent.code, 3, "{}", spent.stderr);
    assert_eq!(spent.stdout, "");
    assert!(!spent.stderr.is_empty());
    let out = run(&["agility", f.path(), "--format", "json"]);
    assert!(matches!(out.code, 0 | 1), "{}", out.stderr);
    assert!(out.json()["vms"].is_array());
    let help = run(&["agility", "--help"]).stdout;
    assert!(help.contains("[default: 60]"), "{help}");
}

/// A large pool with every kind of constraint and 12 resources: 400 hosts,
/// 8,000 VMs. Steps that grow with hosts times VMs (per-host bounds, a
/// target test per VM and host that reads every group) take far longer
/// than the time limits below on it.
fn big_mixed() -> Value {
    haplan_benches::mixed_pool(400, 8_000, 12, 0, 11)
}

/// Each command, run as the binary with a time limit of 3 s on a large
/// pool, writes an answer, and the answer claims only what it proved:
/// exact, or bounds with the lower one achieved. The watchdog of the run
/// ends it without an answer a little after the limit when the work that
/// cannot stop on its own (reading, set-up) has not ended by then: on a
/// machine loaded enough for that, the command is run again with the limit
/// doubled, up to 24 s, and must then answer.
#[test]
fn a_tiny_time_limit_on_a_large_pool_yields_proved_bounds() {
    let f = TempFile::new("big-mixed", &big_mixed());
    let changes = TempFile::new(
        "big-changes",
        &json!([{"op": "remove_vm", "name": "vm00000"}]),
    );
    let vm = r#"{"memory_mib": 8192, "vcpus": 2, "r2": 2, "r3": 2}"#;
    // The run of `args` with the smallest limit, from 3 s, that the
    // watchdog did not end.
    let finished = |args: &[&str]| -> (Out, u64) {
        let mut limit = 3;
        loop {
            let mut a = args.to_vec();
            let secs = limit.to_string();
            a.extend(["--time-limit", secs.as_str()]);
            let out = run_process(&a);
            assert!(
                matches!(out.code, 0 | 1 | 3),
                "{args:?}: exit {}: {}",
                out.code,
                out.stderr
            );
            let watchdog = out.code == 3
                && out.stderr.contains(" ran out while ")
                && (out.stderr.contains("nothing was proved")
                    || out.stderr.contains("nothing was written"));
            if watchdog && limit < 24 {
                limit *= 2;
                continue;
            }
            assert!(
                !watchdog,
                "{args:?}: no answer at {limit} s: {}",
                out.stderr
            );
            return (out, limit);
        }
    };
    let answer = |args: &[&str]| -> Value {
        let mut a = args.to_vec();
        a.extend(["--format", "json"]);
        let (out, limit) = finished(&a);
        assert!(
            !out.stdout.is_empty(),
            "{args:?}: no answer written with --time-limit {limit}: {}",
            out.stderr
        );
        out.json()
    };
    let bounded = |what: &str, r: &Value, lower: &str, upper: &str| {
        let (lo, hi) = (r[lower].as_u64().unwrap(), r[upper].as_u64().unwrap());
        assert!(lo <= hi, "{what}: {lo} > {hi}");
        if r["exact"] == true {
            assert_eq!(lo, hi, "{what}: exact with a gap");
        }
    };
    let headroom = |what: &str, h: &Value| {
        bounded(what, h, "max_additional", "upper_bound");
        let placed: u64 = h["placement"].as_array().map_or(0, |p| {
            p.iter().map(|n| n["count"].as_u64().unwrap_or(0)).sum()
        });
        assert_eq!(
            placed,
            h["max_additional"].as_u64().unwrap(),
            "{what}: a placement of {placed} for a proved {}",
            h["max_additional"]
        );
        for host in h["hosts"].as_array().unwrap() {
            assert!(
                host["fits_here"].as_u64() <= host["fits_here_upper"].as_u64(),
                "{what}: {host}"
            );
        }
    };

    for k in ["0", "1"] {
        let r = answer(&["headroom", f.path(), "--vm", vm, "--tolerate", k]);
        headroom(&format!("headroom K={k}"), &r);
        bounded(
            "headroom's check",
            &r["check"],
            "max_tolerable",
            "upper_bound",
        );
    }
    let r = answer(&["drain", f.path(), "h001", "--tolerate", "1"]);
    assert!(r.is_object(), "{r}");
    let r = answer(&["whatif", f.path(), changes.path(), "--tolerate", "1"]);
    bounded("whatif after", &r["after"], "max_tolerable", "upper_bound");
    bounded(
        "whatif before",
        &r["before"],
        "max_tolerable",
        "upper_bound",
    );
    let r = answer(&["timing", f.path(), "--tolerate", "1"]);
    assert!(r.is_object(), "{r}");
    // A witness is explained, or says it was not; never both.
    let r = answer(&["check", f.path(), "--explain", "--tolerate", "1"]);
    bounded("check --explain", &r, "max_tolerable", "upper_bound");
    if let Some(w) = r["witness"].as_object() {
        if w.get("explained") == Some(&json!(false)) {
            assert_eq!(w["unplaced"], json!([]), "{r}");
        }
    }
    let r = answer(&["tiers", f.path(), "--tolerate", "1"]);
    for tier in r["tiers"].as_array().unwrap() {
        bounded("a tier", tier, "max_tolerable", "upper_bound");
    }
    let r = answer(&["diff", f.path(), f.path(), "--vm", vm, "--tolerate", "1"]);
    for side in ["old", "new"] {
        bounded("diff", &r[side], "max_tolerable", "upper_bound");
        bounded(
            &format!("diff --vm {side}"),
            &r["headroom"][side],
            "max_additional",
            "upper_bound",
        );
    }
    // The report's page is written (its JSON, from the same answers, shows
    // the bounds the page shows).
    let page = std::env::temp_dir().join(format!("haplan-budget-{}-big.html", std::process::id()));
    finished(&[
        "report",
        f.path(),
        "--vm",
        vm,
        "--tolerate",
        "1",
        "-o",
        page.to_str().unwrap(),
    ]);
    let html = std::fs::read_to_string(&page).expect("the page is written");
    let _ = std::fs::remove_file(&page);
    assert!(html.contains("</html>"), "a page cut short");
    let r = answer(&["report", f.path(), "--vm", vm, "--tolerate", "1"]);
    bounded("report", &r["check"], "max_tolerable", "upper_bound");
}

/// Six 100 GiB hosts, each running a critical 20 GiB database and two
/// low-priority VMs (25 and 10 GiB): 45 GiB spare each. The pool
/// tolerates 2 failures (three strand 165 GiB on 135 spare), fewer than
/// its K of 3, the critical tier 4: `tiers` has a degradation table, and
/// the failing sets come with VMs they strand.
fn tiered() -> Value {
    let gib = |g: u64| json!({"memory_mib": g * 1024});
    let hosts: Vec<Value> = (1..=6)
        .map(|h| json!({"name": format!("h{h}"), "capacity": gib(100)}))
        .collect();
    let mut vms = Vec::new();
    for h in 1..=6 {
        let host = format!("h{h}");
        vms.push(json!({"name": format!("db{h}"), "host": host, "demand": gib(20), "priority": "critical"}));
        vms.push(
            json!({"name": format!("app{h}"), "host": host, "demand": gib(25), "priority": "low"}),
        );
        vms.push(
            json!({"name": format!("web{h}"), "host": host, "demand": gib(10), "priority": "low"}),
        );
    }
    json!({"name": "tiered", "ha": {"host_failures_to_tolerate": 3}, "hosts": hosts, "vms": vms})
}

/// With the time limit spent before the run starts, every command still
/// writes its answer: what the set-level bounds proved, and no work that
/// waits for the deadline. A failing set is shown without the VMs it
/// strands (said so, never guessed); the degradation table without
/// examples. Given the time, the same commands explain in full.
#[test]
fn past_the_deadline_each_answer_says_what_was_worked_out() {
    let f = TempFile::new("tiered", &tiered());
    let spent = |args: &[&str]| {
        let mut a = args.to_vec();
        a.extend(["--time-limit", "29"]);
        run_from(ago(30), &a)
    };
    let written = |what: &str, out: &Out| {
        assert!(
            matches!(out.code, 1 | 3),
            "{what}: exit {}: {}",
            out.code,
            out.stderr
        );
        assert!(
            !out.stdout.is_empty(),
            "{what}: nothing written: {}",
            out.stderr
        );
    };

    // check --explain: the failing set is proved, the VMs it strands were
    // not worked out.
    let out = spent(&["check", f.path(), "--explain", "--format", "json"]);
    written("check", &out);
    let r = out.json();
    let w = &r["witness"];
    assert!(!w["failed_hosts"].as_array().unwrap().is_empty(), "{r}");
    assert_eq!(w["explained"], false, "{r}");
    assert_eq!(w["unplaced"], json!([]), "{r}");
    let text = spent(&["check", f.path(), "--explain"]);
    assert!(
        text.stdout
            .contains("Stranded protected VMs: not worked out before the time limit"),
        "{}",
        text.stdout
    );
    let full = run(&["check", f.path(), "--explain", "--format", "json"]).json();
    assert_eq!(full["exact"], true, "{full}");
    assert_eq!(full["witness"].get("explained"), None, "{full}");
    assert!(
        !full["witness"]["unplaced"].as_array().unwrap().is_empty(),
        "{full}"
    );

    // tiers: bounds per tier, rows without examples.
    let out = spent(&["tiers", f.path(), "--format", "json"]);
    written("tiers", &out);
    let t = out.json();
    for tier in t["tiers"].as_array().unwrap() {
        assert!(
            tier["max_tolerable"].as_u64() <= tier["upper_bound"].as_u64(),
            "{tier}"
        );
    }
    let rows = t["degradation"].as_array().unwrap();
    assert!(!rows.is_empty(), "{t}");
    assert!(rows.iter().all(|r| r["example"].is_null()), "{t}");
    let full = run(&["tiers", f.path(), "--format", "json"]).json();
    assert!(
        full["degradation"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| !r["example"].is_null()),
        "{full}"
    );

    // diff --vm: both checks and both headrooms, as bounds.
    let out = spent(&[
        "diff",
        f.path(),
        f.path(),
        "--vm",
        r#"{"memory_mib": 5120}"#,
        "--format",
        "json",
    ]);
    written("diff --vm", &out);
    let d = out.json();
    for side in ["old", "new"] {
        let c = &d[side];
        assert!(
            c["max_tolerable"].as_u64() <= c["upper_bound"].as_u64(),
            "{d}"
        );
        let h = &d["headroom"][side];
        assert!(
            h["max_additional"].as_u64() <= h["upper_bound"].as_u64(),
            "{d}"
        );
    }

    // report: the page is written, with the proved bounds on it.
    let page =
        std::env::temp_dir().join(format!("haplan-budget-{}-tiered.html", std::process::id()));
    let page_arg = page.to_str().unwrap();
    let out = spent(&["report", f.path(), "-o", page_arg]);
    assert!(
        matches!(out.code, 1 | 3),
        "report: exit {}: {}",
        out.code,
        out.stderr
    );
    let html = std::fs::read_to_string(&page).expect("the page is written");
    let _ = std::fs::remove_file(&page);
    let json = spent(&["report", f.path(), "--format", "json"]).json();
    let c = &json["check"];
    let shown = if c["exact"] == true {
        format!("{}", c["max_tolerable"])
    } else {
        format!("between {} and {}", c["max_tolerable"], c["upper_bound"])
    };
    assert!(html.contains(&shown), "{shown} not on the page");
    assert!(
        html.contains("not worked out before the time limit"),
        "the page does not say the stranded VMs were not worked out"
    );
}

/// The `haplan` binary runs with transparent huge pages off (its allocator,
/// mimalloc, returns freed memory in pieces smaller than a huge page, and
/// clearing 2 MiB pages again on every touch doubled the time of
/// gigabyte answers): seen in `/proc` while it waits for its input.
#[cfg(target_os = "linux")]
#[test]
fn the_binary_runs_without_transparent_huge_pages() {
    use std::io::Write;
    let bin = crate::fixtures::binary().unwrap_or_else(|e| panic!("{e}"));
    let mut child = std::process::Command::new(&bin)
        .args(["check", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("haplan starts");
    let status = std::path::PathBuf::from(format!("/proc/{}/status", child.id()));
    // The setting comes first in main, before the input is read; wait
    // for the line to say so (a kernel without it has no such line).
    let deadline = Instant::now() + Duration::from_secs(20);
    let thp = loop {
        let text = std::fs::read_to_string(&status).unwrap_or_default();
        let line = text
            .lines()
            .find(|l| l.starts_with("THP_enabled:"))
            .map(|l| l.split_whitespace().nth(1).unwrap_or("").to_string());
        if line.as_deref() == Some("0") || line.is_none() || Instant::now() > deadline {
            break line;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let pool = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fixtures/basic/demo.json"
    ))
    .unwrap();
    child.stdin.take().unwrap().write_all(&pool).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    if let Some(thp) = thp {
        assert_eq!(thp, "0", "THP_enabled in {}", status.display());
    }
}

/// `agility` lists, for each protected VM, every host it may restart on:
/// about hosts times VMs names. The memory it takes is that of its answer,
/// not many times more: with 600 MB of address space it answers for 400
/// hosts and 12,000 VMs (about 5 million names, 80 MB of JSON), which a
/// copy of every name per VM, then a JSON tree of them, does not fit in.
/// Its answer (and the C ABI's, compact) is the one `agility_json`
/// builds, byte for byte.
#[cfg(target_os = "linux")]
#[test]
fn agility_answers_a_large_pool_in_memory_of_the_size_of_its_answer() {
    let pool = haplan_benches::memory_pool(400, 50, 1);
    let f = TempFile::new("agility-large", &pool);
    let bin = crate::fixtures::binary().unwrap_or_else(|e| panic!("{e}"));
    let out = std::process::Command::new("sh")
        .args(["-c", "ulimit -v 600000 && exec \"$0\" \"$@\" > /dev/null"])
        .arg(&bin)
        .args(["--threads", "1", "agility", f.path(), "--format", "json"])
        .output()
        .expect("sh runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The text printed is the JSON tree's, and each VM's targets and
    // reasons are the analysis's, on a pool with VMs that are not agile and
    // anti-affinity groups (fewer targets for some VMs).
    let small = haplan::parse_pool(&haplan_benches::mixed_pool(24, 300, 3, 40, 2).to_string())
        .expect("a valid pool");
    let ag = haplan::agility::Agility::of(&small);
    let text = haplan_wire::report::agility_json_text(&small, &ag);
    let tree = haplan_wire::report::agility_json(&small, &ag);
    assert_eq!(
        text,
        format!("{}\n", serde_json::to_string_pretty(&tree).unwrap())
    );
    assert_eq!(
        haplan_wire::report::agility_json_compact(&small, &ag),
        serde_json::to_string(&tree).unwrap()
    );
    let rows = tree["vms"].as_array().unwrap();
    assert!(!ag.not_agile.is_empty() && rows.len() > ag.not_agile.len());
    for row in rows {
        let v = small.vm_by_name(row["vm"].as_str().unwrap()).unwrap();
        let targets: Vec<&str> = ag
            .targets
            .of(v)
            .map(|h| small.hosts[h].name.as_str())
            .collect();
        assert_eq!(row["targets"], json!(targets), "{row}");
        let reasons = ag.not_agile.iter().find(|n| n.vm == v).map(|n| &n.reasons);
        assert_eq!(row["agile"], reasons.is_none(), "{row}");
        assert_eq!(
            row["reasons"],
            json!(reasons.cloned().unwrap_or_default()),
            "{row}"
        );
    }
}

/// The searches go one level deeper per host they choose: on 12,000 hosts
/// asked about 11,000 failures, the search of failure sets one by one
/// (no set bounds) is that deep on the worker threads, past their 2 MiB of
/// stack (a pool of 20,000 hosts aborted `check` with a stack overflow).
/// It answers what it proved within its time.
#[test]
fn the_set_search_goes_as_deep_as_the_hosts() {
    let hosts: Vec<Value> = (0..12_000)
        .map(|h| json!({"name": format!("h{h:05}"), "capacity": {"memory_mib": 100}}))
        .collect();
    let vms: Vec<Value> = (0..12_000)
        .map(|h| json!({"name": format!("v{h:05}"), "host": format!("h{h:05}"), "demand": {"memory_mib": 1}}))
        .collect();
    let pool =
        haplan::pool_from_value(&json!({"name": "deep", "hosts": hosts, "vms": vms})).unwrap();
    let r = haplan::check(
        &pool,
        &haplan::CheckOptions {
            tolerate: Some(11_000),
            strategy: haplan::tolerance::Strategy::Enumerate,
            time_limit: Some(Duration::from_secs(1)),
            max_time: Some(Duration::ZERO),
            ..haplan::CheckOptions::default()
        },
    );
    // Any 11,000 fail: the 11,000 VMs fit on the other 1,000 hosts (99
    // spare each); the search proves as much as it reaches, never less.
    assert!(
        r.max_tolerable <= 11_000 && r.upper_bound >= 11_000,
        "{r:?}"
    );
    assert!(r.witness.is_none(), "{:?}", r.witness);
}

/// `diff` (and `whatif`) check two pools under one time limit: NEW, checked
/// first, spends at most half of it on its exact maximum once K is decided,
/// and OLD gets the rest (a NEW that took it all left OLD none: on 20,000
/// hosts OLD's set-up alone then overran the limit and nothing was
/// written). The 64-host knife edge is far from exact in seconds.
#[test]
fn diff_leaves_old_time_of_its_own() {
    let pool = haplan::pool_from_value(&haplan_benches::knife_edge_pool(64, 9, 1)).unwrap();
    let r = haplan::diff(
        &pool,
        &pool,
        &haplan::DiffOptions {
            check: haplan::CheckOptions {
                time_limit: Some(Duration::from_secs(2)),
                ..haplan::CheckOptions::default()
            },
            ..haplan::DiffOptions::default()
        },
    );
    use haplan::tolerance::Stop;
    assert_eq!(r.new.stopped, Some(Stop::MaxTime), "{:?}", r.new);
    assert_eq!(r.old.stopped, Some(Stop::TimeLimit), "{:?}", r.old);
    assert!(r.new.ok() && r.old.ok());
}
