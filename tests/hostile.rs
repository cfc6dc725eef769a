//! Input written to steer a CI gate: duplicate keys, names that forge
//! lines, typos that make new resources, out-of-range options, floods of
//! problems. Each test drives the command line in process (as the binary
//! does) and checks that the gate cannot be flipped or its log forged.

use haplan_runtime::{Event, Input, Runtime};
use serde_json::{Value, json};

struct Outcome {
    exit: i32,
    stdout: String,
    stderr: String,
}

fn run(args: &[&str], stdin: &str) -> Outcome {
    let mut input = stdin.as_bytes();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let mut argv = vec!["haplan"];
    argv.extend_from_slice(args);
    let exit = haplan_cli::run(argv, &mut input, &mut out, &mut err);
    Outcome {
        exit,
        stdout: String::from_utf8(out).expect("UTF-8"),
        stderr: String::from_utf8(err).expect("UTF-8"),
    }
}

/// Two 256 GiB hosts, each running two 120 GiB protected VMs: one host
/// failing strands two VMs, so K = 1 is not met (exit 1).
fn overcommitted() -> String {
    r#"{
  "name": "gate",
  "ha": {"host_failures_to_tolerate": 1},
  "hosts": [
    {"name": "h1", "capacity": {"memory_mib": 262144}},
    {"name": "h2", "capacity": {"memory_mib": 262144}}
  ],
  "vms": [
    {"name": "a", "host": "h1", "demand": {"memory_mib": 122880}},
    {"name": "b", "host": "h1", "demand": {"memory_mib": 122880}},
    {"name": "c", "host": "h2", "demand": {"memory_mib": 122880}},
    {"name": "d", "host": "h2", "demand": {"memory_mib": 122880}}
  ]"#
    .to_string()
}

#[test]
fn a_duplicate_key_that_would_flip_the_verdict_is_exit_2_with_both_positions() {
    let honest = overcommitted() + "\n}";
    assert_eq!(run(&["check", "-"], &honest).exit, 1);
    // serde_json alone keeps the last "ha": without the strict reader this
    // pool would tolerate what it is asked (K = 0) and exit 0.
    let forged = overcommitted() + ",\n  \"ha\": {\"host_failures_to_tolerate\": 0}\n}";
    let o = run(&["check", "-"], &forged);
    assert_eq!(o.exit, 2, "{}", o.stderr);
    assert!(o.stdout.is_empty());
    assert!(
        o.stderr
            .contains("line 14, column 3: ha: duplicate key \"ha\" (first at line 3, column 3)"),
        "{}",
        o.stderr
    );
    // A second "vms": [] would drop every VM.
    let dropped = overcommitted() + ",\n  \"vms\": []\n}";
    let o = run(&["check", "-", "--format", "json"], &dropped);
    assert_eq!(o.exit, 2);
    let v: Value = serde_json::from_str(&o.stdout).expect("a JSON error object");
    assert_eq!(v["error"], "invalid_input");
    assert_eq!(v["file"], "<stdin>");
    assert_eq!(v["problems"][0]["path"], "vms");
    assert_eq!(v["problems"][0]["line"], 14);
    assert_eq!(v["problems"][0]["column"], 3);
    assert!(
        o.stderr
            .starts_with("haplan: <stdin>: invalid pool (1 problem)")
    );
    // The same in a what-if change file and a headroom shape.
    let changes = r#"[{"op": "set_tolerance", "k": 1, "k": 0}]"#;
    let dir = std::env::temp_dir().join(format!("haplan-hostile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pool_file = dir.join("pool.json");
    std::fs::write(&pool_file, &honest).unwrap();
    let o = run(&["whatif", pool_file.to_str().unwrap(), "-"], changes);
    assert_eq!(o.exit, 2);
    assert!(o.stderr.contains("duplicate key \"k\""), "{}", o.stderr);
    let o = run(
        &[
            "headroom",
            "-",
            "--vm",
            r#"{"memory_mib": 1024, "memory_mib": 0}"#,
        ],
        &honest,
    );
    assert_eq!(o.exit, 2);
    assert!(
        o.stderr.contains("--vm.memory_mib: duplicate key"),
        "{}",
        o.stderr
    );
    std::fs::remove_dir_all(&dir).ok();
}

fn pool_named(host: &str) -> String {
    json!({
        "name": "p",
        "hosts": [{"name": host, "capacity": {"memory_mib": 1024}},
                  {"name": "h2", "capacity": {"memory_mib": 1024}}],
        "vms": [{"name": "a", "host": "h2", "demand": {"memory_mib": 2048}}]
    })
    .to_string()
}

fn forges_a_line(o: &Outcome) -> bool {
    o.stdout
        .lines()
        .chain(o.stderr.lines())
        .any(|l| l.starts_with("OK:") || l.contains('\r') || l.contains('\u{1b}'))
}

#[test]
fn a_control_character_in_a_name_cannot_forge_an_ok_line() {
    for evil in [
        "h1\nOK: pool p tolerates 1 host failure (configured: 1)",
        "h1\rOK: pool p tolerates 1 host failure",
        "h1\u{1b}[2K\u{1b}[0GOK: pool p",
        "h1\u{2028}OK: x",
    ] {
        let o = run(&["check", "-"], &pool_named(evil));
        assert_eq!(o.exit, 2, "{evil:?}: {}", o.stderr);
        assert!(!forges_a_line(&o), "{evil:?}: {}{}", o.stdout, o.stderr);
        assert!(o.stderr.contains("hosts[0].name"), "{}", o.stderr);
        assert!(o.stderr.contains("names must be printable"), "{}", o.stderr);
        let o = run(&["check", "-", "--format", "github"], &pool_named(evil));
        assert_eq!(o.exit, 2);
        assert!(!forges_a_line(&o), "{evil:?}: {}", o.stdout);
        assert!(
            o.stdout
                .starts_with("::error title=haplan::hosts[0].name: ")
        );
        assert_eq!(o.stdout.lines().count(), 1, "{}", o.stdout);
    }
    // Every kind of name: pool, resource, storage, label, fence agent.
    for bad in [
        json!({"name": "p\n", "hosts": [], "vms": []}),
        json!({"name": "p", "hosts": [{"name": "h", "capacity": {"mem\nOK:": 1}}], "vms": []}),
        json!({"name": "p", "hosts": [{"name": "h", "capacity": {}, "storage": ["s\r"]}], "vms": []}),
        json!({"name": "p", "hosts": [{"name": "h", "capacity": {}, "labels": {"rack": "r\n1"}}], "vms": []}),
        json!({"name": "p", "hosts": [{"name": "h", "capacity": {}, "fencing": [{"agent": "f\u{7}"}]}], "vms": []}),
    ] {
        let o = run(&["check", "-"], &bad.to_string());
        assert_eq!(o.exit, 2, "{bad}");
        assert!(o.stderr.contains("names must be printable"), "{}", o.stderr);
        assert_eq!(o.stderr.lines().count(), 2, "{}", o.stderr);
    }
    // An unknown field's name is echoed escaped.
    let o = run(
        &["check", "-"],
        r#"{"name": "p", "hosts": [], "vms": [], "x\nOK: y": 1}"#,
    );
    assert_eq!(o.exit, 2);
    assert!(!forges_a_line(&o), "{}", o.stderr);
    assert!(
        o.stderr.contains(r#"unknown field "x\nOK: y""#),
        "{}",
        o.stderr
    );
}

#[test]
fn a_control_character_in_a_change_or_a_runtime_event_is_rejected() {
    let dir = std::env::temp_dir().join(format!("haplan-hostile-ev-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pool_file = dir.join("pool.json");
    std::fs::write(&pool_file, pool_named("h1")).unwrap();
    let changes = json!([{"op": "add_host", "host": {"name": "h9\nOK: forged", "capacity": {"memory_mib": 1}}}]);
    let o = run(
        &["whatif", pool_file.to_str().unwrap(), "-"],
        &changes.to_string(),
    );
    assert_eq!(o.exit, 2);
    assert!(!forges_a_line(&o), "{}", o.stderr);
    assert!(o.stderr.contains("changes[0].host.name"), "{}", o.stderr);
    let changes = json!([{"op": "remove_vm", "name": "x\rOK: forged"}]);
    let o = run(
        &["whatif", pool_file.to_str().unwrap(), "-"],
        &changes.to_string(),
    );
    assert_eq!(o.exit, 2);
    assert!(!forges_a_line(&o), "{}", o.stderr);
    std::fs::remove_dir_all(&dir).ok();

    // The runtime: a VM started with a hostile name, an event naming an
    // unknown host with one.
    let doc: Value = serde_json::from_str(&pool_named("h1")).unwrap();
    let (mut rt, _) = Runtime::new(doc, 0).unwrap();
    let e = rt
        .handle(&Input {
            at: 1,
            event: Event::VmStarted {
                vm: "v\nOK: forged".into(),
                host: "h1".into(),
                definition: Some(json!({"demand": {"memory_mib": 1}})),
            },
        })
        .unwrap_err()
        .to_string();
    assert!(e.contains("names must be printable"), "{e}");
    let e = rt
        .handle(&Input {
            at: 2,
            event: Event::HostUp {
                host: "h\nOK: forged".into(),
            },
        })
        .unwrap_err()
        .to_string();
    assert_eq!(e, r#"unknown host "h\nOK: forged""#);
}

#[test]
fn a_resource_no_host_offers_is_an_error_with_a_suggestion() {
    let pool = |demand: Value, overcommit: Value| {
        json!({
            "name": "p", "ha": {"overcommit": overcommit},
            "hosts": [{"name": "h1", "capacity": {"memory_mib": 65536, "vcpus": 16}},
                      {"name": "h2", "capacity": {"memory_mib": 65536, "vcpus": 16}}],
            "vms": [{"name": "a", "host": "h1", "demand": demand},
                    {"name": "b", "host": "h2", "demand": demand}]
        })
        .to_string()
    };
    let o = run(
        &["check", "-"],
        &pool(json!({"memory_mb": 4096}), json!({})),
    );
    assert_eq!(o.exit, 2, "{}", o.stdout);
    assert!(
        o.stderr.contains(
            "vms[0].demand.memory_mb: no host offers \"memory_mb\" (2 VMs demand it): a resource must be in some host's capacity; did you mean \"memory_mib\"?"
        ),
        "{}",
        o.stderr
    );
    // One problem per resource, not per VM.
    assert!(
        o.stderr
            .starts_with("haplan: <stdin>: invalid pool (1 problem)")
    );
    let o = run(&["check", "-"], &pool(json!({"gpu_zz": 1}), json!({})));
    assert!(
        o.stderr.contains("the hosts offer: memory_mib, vcpus"),
        "{}",
        o.stderr
    );
    // A demand of 0, or a ratio for a resource no host has, asks for nothing.
    let o = run(
        &["check", "-"],
        &pool(json!({"memory_mib": 4096, "gpu": 0}), json!({"gpu": 2.0})),
    );
    assert_eq!(o.exit, 0, "{}", o.stderr);
    // Headroom: unknown storage or network names are errors, not 0.
    let p = pool(json!({"memory_mib": 4096}), json!({}));
    let o = run(
        &[
            "headroom",
            "-",
            "--vm",
            r#"{"memory_mib": 1024}"#,
            "--storage",
            "nfs-a",
        ],
        &p,
    );
    assert_eq!(o.exit, 2, "{}", o.stdout);
    assert!(
        o.stderr
            .contains("--storage: unknown storage \"nfs-a\": no host reaches it"),
        "{}",
        o.stderr
    );
    let o = run(
        &[
            "headroom",
            "-",
            "--vm",
            r#"{"memory_mib": 1024}"#,
            "--networks",
            "vlan1",
        ],
        &p,
    );
    assert_eq!(o.exit, 2);
    assert!(
        o.stderr.contains("--networks: unknown networks \"vlan1\""),
        "{}",
        o.stderr
    );
}

#[test]
fn threads_are_checked_on_every_command_that_searches() {
    let pool = overcommitted() + "\n}";
    for cmd in [
        vec!["check", "-"],
        vec!["plan", "-", "--fail", "h1"],
        vec!["tiers", "-"],
        vec!["drain", "-", "h1"],
        vec!["headroom", "-", "--vm", r#"{"memory_mib": 1024}"#],
        vec!["timing", "-", "--tolerate", "0"],
    ] {
        for bad in ["0", "1025", "4000", "x", "99999999999999999999"] {
            let mut args = cmd.clone();
            args.extend(["--threads", bad]);
            let o = run(&args, &pool);
            assert_eq!(o.exit, 2, "{args:?}");
            assert!(
                o.stderr.starts_with("haplan: invalid value")
                    && o.stderr.contains("threads: must be from 1 to 1024"),
                "{args:?}: {}",
                o.stderr
            );
        }
        let mut args = cmd.clone();
        args.extend(["--threads", "2"]);
        let two = run(&args, &pool);
        let one = run(&[&cmd[..], &["--threads", "1"]].concat(), &pool);
        assert!(two.exit < 2, "{args:?}: {}", two.stderr);
        assert_eq!(
            (two.exit, strip_times(&two.stdout)),
            (one.exit, strip_times(&one.stdout))
        );
    }
}

/// Output without its timings (`in 3 ms`), which vary between runs.
fn strip_times(s: &str) -> String {
    s.lines()
        .filter(|l| !l.contains(" ms."))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn a_flood_of_problems_is_capped() {
    let vms: Vec<Value> = (0..100_000)
        .map(|i| json!({"name": format!("v{i}"), "host": "h1", "demand": {"memory_mib": -1}}))
        .collect();
    let pool =
        json!({"name": "p", "hosts": [{"name": "h1", "capacity": {"memory_mib": 1}}], "vms": vms});
    let o = run(&["check", "-"], &pool.to_string());
    assert_eq!(o.exit, 2);
    assert!(
        o.stderr
            .starts_with("haplan: <stdin>: invalid pool (100,000 problems)\n"),
        "{}",
        &o.stderr[..200]
    );
    assert!(o.stderr.ends_with("\n  and 99,950 more\n"), "{}", o.stderr);
    assert_eq!(o.stderr.lines().count(), 52);
    let o = run(&["check", "-", "--format", "json"], &pool.to_string());
    let v: Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(v["problems"].as_array().unwrap().len(), 50);
    assert_eq!(v["omitted"], 99_950);
}

#[test]
fn usage_errors_say_haplan_and_come_as_json_when_asked() {
    let o = run(&["check", "-", "--tolerate", "x"], "");
    assert_eq!(o.exit, 2);
    assert!(
        o.stderr
            .starts_with("haplan: invalid value 'x' for '--tolerate <K>'"),
        "{}",
        o.stderr
    );
    assert!(o.stdout.is_empty());
    let o = run(&["check", "-", "--format", "json", "--bogus"], "");
    assert_eq!(o.exit, 2);
    let v: Value = serde_json::from_str(&o.stdout).expect("JSON");
    assert_eq!(v["error"], "usage");
    assert!(v["message"].as_str().unwrap().contains("--bogus"));
    assert!(
        o.stderr
            .starts_with("haplan: unexpected argument '--bogus'"),
        "{}",
        o.stderr
    );
    let o = run(&["check", "/nonexistent/pool.json", "--format=json"], "");
    assert_eq!(o.exit, 2);
    let v: Value = serde_json::from_str(&o.stdout).expect("JSON");
    assert_eq!(v["error"], "error");
    assert!(
        o.stderr
            .starts_with("haplan: cannot read /nonexistent/pool.json")
    );
    // Help and version are not errors.
    assert_eq!(run(&["--version"], "").exit, 0);
}

#[test]
fn github_format_fences_the_report_and_annotates_the_verdict() {
    let o = run(
        &["check", "-", "--format", "github"],
        &(overcommitted() + "\n}"),
    );
    assert_eq!(o.exit, 1);
    let lines: Vec<&str> = o.stdout.lines().collect();
    let token = lines[0].strip_prefix("::stop-commands::").expect("fenced");
    assert!(lines[1].starts_with("OVERCOMMITTED: pool gate tolerates 0 host failures"));
    let end = lines
        .iter()
        .position(|l| *l == format!("::{token}::"))
        .expect("closed");
    assert_eq!(end, lines.len() - 2);
    assert!(lines[end + 1].starts_with("::error title=haplan::OVERCOMMITTED: pool gate"));
}

#[test]
fn completions_and_the_manual_page_describe_every_command() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let o = run(&["completions", shell], "");
        assert_eq!(o.exit, 0, "{shell}");
        for cmd in ["check", "headroom", "timing", "tolerate"] {
            assert!(o.stdout.contains(cmd), "{shell} lacks {cmd}");
        }
    }
    let o = run(&["man"], "");
    assert_eq!(o.exit, 0);
    assert!(o.stdout.starts_with(".ie \\n(.g .ds Aq \\(aq") || o.stdout.contains(".TH haplan"));
    assert!(o.stdout.contains("haplan\\-check"), "{}", &o.stdout[..500]);
}

/// A pool that names no resource at all (only placement rules matter) is
/// answered by every question, not a crash: its VMs fit anywhere they may
/// run, so one failure is tolerated and a plan moves the VM to h2.
#[test]
fn a_pool_that_names_no_resource_is_answered_not_a_crash() {
    let pool = json!({
        "format": "haplan/v1",
        "name": "bare",
        "hosts": [
            {"name": "h1", "capacity": {}},
            {"name": "h2", "capacity": {}}
        ],
        "vms": [{"name": "v1", "host": "h1", "demand": {}}]
    })
    .to_string();
    let plan = run(&["plan", "-", "--fail", "h1", "--format", "json"], &pool);
    assert_eq!(plan.exit, 0, "{}", plan.stderr);
    let answer: Value = serde_json::from_str(&plan.stdout).expect("JSON");
    assert!(
        plan.stdout.contains("\"h2\""),
        "v1 restarts on h2: {answer}"
    );
    for args in [
        &["check", "-"][..],
        &["tiers", "-"],
        &["drain", "-", "h1"],
        &["timing", "-"],
    ] {
        let o = run(args, &pool);
        assert!(
            o.exit == 0 || o.exit == 1,
            "{args:?}: {} {}",
            o.exit,
            o.stderr
        );
        assert!(!o.stderr.contains("panicked"), "{args:?}: {}", o.stderr);
    }
}
