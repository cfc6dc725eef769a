//! `haplan import PLATFORM FILE...` through the command line, in process:
//! the pool on standard output (and nothing else there), warnings on
//! standard error, exit codes, and the pool valid for haplan and for the
//! pool format's JSON Schema. The mapping itself is tested in
//! solver/import.

use std::path::PathBuf;

use serde_json::Value;

fn fixture(p: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/import")
        .join(p)
        .display()
        .to_string()
}

/// (exit code, stdout, stderr)
fn run(args: &[&str], stdin: &str) -> (i32, String, String) {
    let mut argv = vec!["haplan", "import"];
    argv.extend_from_slice(args);
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = haplan_cli::run(argv, &mut stdin.as_bytes(), &mut out, &mut err);
    (
        code,
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
    )
}

fn schema_valid(pool: &Value) {
    let schema: Value = serde_json::from_str(haplan_cli::cli::POOL_SCHEMA).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator.iter_errors(pool).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:?}");
}

#[test]
fn a_pool_on_stdout_warnings_on_stderr() {
    let (code, out, err) = run(
        &[
            "ganeti",
            &fixture("ganeti/shared-unevacuable.data"),
            "--name",
            "rack1",
        ],
        "",
    );
    assert_eq!(code, 0, "{err}");
    let pool: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(pool["name"], "rack1");
    assert_eq!(pool["hosts"].as_array().unwrap().len(), 4);
    haplan::pool_from_value(&pool).unwrap();
    schema_valid(&pool);
    assert!(
        err.lines().all(|l| l.starts_with("haplan: warning: ")),
        "{err}"
    );
    assert!(err.contains("[disk-not-modelled]"), "{err}");
}

#[test]
fn files_from_standard_input_and_options() {
    let text = std::fs::read_to_string(fixture("vsphere/vcsim-collect.json")).unwrap();
    let (code, out, err) = run(
        &[
            "vsphere",
            "-",
            "--vsphere-sizing",
            "reservation",
            "--format",
            "json",
        ],
        &text,
    );
    assert_eq!(code, 0, "{err}");
    let pool: Value = serde_json::from_str(&out).unwrap();
    let db1 = pool["vms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "db1")
        .unwrap();
    assert_eq!(db1["demand"]["cpu_mhz"], 4000);
    schema_valid(&pool);
    let (code, out, _) = run(
        &[
            "proxmox",
            "--cpu-overcommit",
            "4",
            &fixture("proxmox/pve9/resources.json"),
        ],
        "",
    );
    assert_eq!(code, 0);
    let pool: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(pool["ha"]["overcommit"]["vcpus"], 4.0);
}

#[test]
fn bad_input_exits_2_with_nothing_on_stdout() {
    for (args, message) in [
        (vec!["nope", "x"], "unknown platform \"nope\""),
        (vec!["proxmox"], "proxmox needs the exported files"),
        (
            vec!["proxmox", "/nonexistent/file.json"],
            "cannot read /nonexistent/file.json",
        ),
        (vec!["proxmox", "-", "-"], "- can be given once"),
        (vec!["libvirt"], "libvirt needs hosts as NAME=URI"),
        (
            vec!["libvirt", "h1=test:///default", "--cpu-overcommit", "2"],
            "do not apply to libvirt",
        ),
        (vec!["kubevirt", "-"], "<stdin>: not a KubeVirt export"),
    ] {
        let (code, out, err) = run(&args, "{\"kind\": \"Pod\"}");
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(out.is_empty(), "{args:?}: {out}");
        assert!(
            err.starts_with("haplan: ") && err.contains(message),
            "{args:?}: {err}"
        );
    }
    let (code, _, _) = run(&["proxmox", "--format", "yaml", "x"], "");
    assert_eq!(code, 2);
}

/// A pool haplan's loader refuses is not printed, not even in part: a
/// well-formed Proxmox export whose numbers or names the pool format does
/// not accept (a node of 2^61 bytes, 2^41 MiB, above the format's limit of
/// 2^40 for an amount; a guest name with an escape sequence, which the
/// format refuses so that every name prints as the file says).
#[test]
fn a_refused_pool_is_not_printed() {
    let text = std::fs::read_to_string(fixture("proxmox/pve9/resources.json")).unwrap();
    let resources: Value = serde_json::from_str(&text).unwrap();
    let edit = |f: &dyn Fn(&mut Value)| {
        let mut r = resources.clone();
        f(&mut r);
        serde_json::to_string(&r).unwrap()
    };
    let huge = edit(&|r| r[0]["maxmem"] = Value::from(1u64 << 61));
    let escaped = edit(&|r| {
        let vm = r
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .find(|e| e["name"] == "web1")
            .unwrap();
        vm["name"] = Value::from("web1\u{1b}[2J");
    });
    for (export, problem) in [(huge, "memory_mib"), (escaped, "control character")] {
        // The export itself is read: it is the pool that is refused.
        let (code, out, err) = run(&["proxmox", "-"], &export);
        assert_eq!(code, 2, "{err}");
        assert!(out.is_empty(), "{out}");
        assert!(
            err.contains("the imported pool is not one haplan accepts") && err.contains(problem),
            "{err}"
        );
    }
}

/// libvirt as before: `haplan import [libvirt] NAME=URI...` (libvirt's
/// built-in test driver needs no daemon).
#[test]
fn libvirt_in_both_spellings() {
    for args in [
        vec!["libvirt", "h1=test:///default"],
        vec!["h1=test:///default"],
    ] {
        let (code, out, err) = run(&args, "");
        assert_eq!(code, 0, "{args:?}: {err}");
        let pool: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(pool["name"], "imported");
        assert_eq!(pool["hosts"][0]["labels"]["libvirt_uri"], "test:///default");
    }
}
