//! `haplan fleet`: every pool file named once, each row `check`'s answer
//! for its file, bad files kept as rows with their error, and the exit code
//! of the worst pool.

use std::path::{Path, PathBuf};

use haplan_benches::{memory_pool, tshirt_pool};
use serde_json::{Value, json};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures");

fn cli(args: &[&str]) -> (i32, String, String) {
    let mut out = Vec::new();
    let mut err = Vec::new();
    let code = haplan_cli::run(
        std::iter::once("haplan").chain(args.iter().copied()),
        &mut std::io::empty(),
        &mut out,
        &mut err,
    );
    (
        code,
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
    )
}

/// A fresh directory of this test's own.
fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("haplan-fleet-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn write(d: &Path, name: &str, text: &[u8]) -> String {
    let p = d.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

/// `haplan check --format json` of one file.
fn check(file: &str, extra: &[&str]) -> Value {
    let mut args = vec!["check", file, "--format", "json"];
    args.extend_from_slice(extra);
    serde_json::from_str(&cli(&args).1).unwrap()
}

/// A fleet of generated pools, a fixture that misses its policy, a file
/// that is no pool and one that is not UTF-8, in a directory of its own
/// (tests run at once).
fn fleet_dir(name: &str) -> (PathBuf, Vec<String>) {
    let d = dir(name);
    let mut files = Vec::new();
    for seed in 0..6u64 {
        let v = if seed % 2 == 0 {
            memory_pool(16 + seed as usize, 8, seed)
        } else {
            tshirt_pool(16 + seed as usize, 150, seed)
        };
        files.push(write(
            &d,
            &format!("gen-{seed}.json"),
            v.to_string().as_bytes(),
        ));
    }
    let single = std::fs::read(format!("{FIXTURES}/basic/single-host.json")).unwrap();
    files.push(write(&d, "single-host.json", &single));
    files.push(write(&d, "bad.json", b"{\"format\": \"haplan/v1\"}"));
    files.push(write(&d, "latin1.json", b"{\"name\": \"caf\xe9\"}"));
    write(&d, "notes.txt", b"not a pool file");
    files.sort();
    (d, files)
}

#[test]
fn rows_are_check_answers_in_order_each_file_once() {
    let (d, files) = fleet_dir("rows");
    let d = d.display().to_string();
    let one = format!("{d}/gen-0.json");
    // The directory, a pattern and a file, overlapping: each file once.
    let (code, out, _) = cli(&[
        "fleet",
        &d,
        &format!("{d}/gen-*.json"),
        &one,
        "--format",
        "json",
        "--tolerate",
        "1",
    ]);
    let v: Value = serde_json::from_str(&out).unwrap();
    let rows = v["pools"].as_array().unwrap();
    let paths: Vec<&str> = rows.iter().map(|r| r["path"].as_str().unwrap()).collect();
    assert_eq!(paths, files.iter().map(String::as_str).collect::<Vec<_>>());
    let mut errors = 0;
    let mut not_ok = 0;
    for r in rows {
        let path = r["path"].as_str().unwrap();
        if r["verdict"] == "error" {
            errors += 1;
            assert!(r["error"].as_str().unwrap().starts_with(path), "{r}");
            assert_eq!(r["max_tolerable"], Value::Null);
            continue;
        }
        let c = check(path, &["--tolerate", "1"]);
        for field in [
            "pool",
            "configured",
            "max_tolerable",
            "upper_bound",
            "exact",
            "ok",
        ] {
            assert_eq!(r[field], c[field], "{path}: {field}");
        }
        let witness = c["witness"]["failed_hosts"].clone();
        assert_eq!(r["witness"], witness, "{path}");
        assert_eq!(
            r["not_agile"],
            json!(c["not_agile"].as_array().unwrap().len())
        );
        not_ok += usize::from(c["ok"] == false);
    }
    assert_eq!(errors, 2);
    assert!(not_ok >= 1, "single-host.json misses its policy");
    assert_eq!(
        v["summary"],
        json!({"pools": files.len(), "ok": files.len() - 2 - not_ok, "not_ok": not_ok,
               "undecided": 0, "errors": 2})
    );
    assert_eq!(code, 1, "a pool misses its policy");
}

#[test]
fn exit_code_is_that_of_the_worst_pool() {
    let (d, _) = fleet_dir("exit");
    let d = d.display().to_string();
    let ok = format!("{d}/gen-0.json");
    assert_eq!(cli(&["fleet", &ok]).0, 0);
    // A file that cannot be checked, and no pool that misses its policy.
    assert_eq!(cli(&["fleet", &ok, &format!("{d}/bad.json")]).0, 2);
    assert_eq!(cli(&["fleet", &ok, &format!("{d}/single-host.json")]).0, 1);
    // The time limit's proved bounds, not settled: 3.
    let (code, out, _) = cli(&[
        "fleet",
        &ok,
        "--tolerate",
        "1",
        "--format",
        "csv",
        "--time-limit",
        "0",
    ]);
    let row = out.lines().nth(1).unwrap();
    assert!(
        (code == 3 && row.contains(",undecided,")) || (code == 0 && row.contains(",ok,")),
        "{code}: {row}"
    );
}

#[test]
fn nothing_is_checked_when_an_argument_names_nothing() {
    let (d, _) = fleet_dir("nothing");
    let d = d.display().to_string();
    for missing in [format!("{d}/nope.json"), format!("{d}/nope-*.json")] {
        let (code, out, err) = cli(&["fleet", &d, &missing]);
        assert_eq!(code, 2, "{missing}");
        assert_eq!(out, "", "{missing}");
        assert!(
            err.starts_with("haplan: ") && err.contains(&missing),
            "{err}"
        );
    }
    let empty = dir("empty");
    let (code, _, err) = cli(&["fleet", &empty.display().to_string()]);
    assert_eq!(code, 2);
    assert!(err.contains("no pool file"), "{err}");
    let (code, out, _) = cli(&["fleet", &format!("{d}/nope.json"), "--format", "json"]);
    assert_eq!(code, 2);
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap()["error"],
        "error"
    );
}

#[test]
fn csv_has_a_header_and_one_quoted_line_per_pool() {
    let (d, files) = fleet_dir("csv");
    let (_, out, _) = cli(&["fleet", &d.display().to_string(), "--format", "csv"]);
    let mut lines = out.split("\r\n");
    assert_eq!(
        lines.next().unwrap(),
        "path,pool,configured,max_tolerable,upper_bound,exact,ok,verdict,witness,not_agile,error"
    );
    // Error messages span lines: they are quoted, so records start with a path.
    let records: Vec<&str> = out
        .split("\r\n")
        .skip(1)
        .filter(|l| files.iter().any(|f| l.starts_with(f.as_str())))
        .collect();
    assert_eq!(records.len(), files.len());
    let bad = records.iter().find(|l| l.contains("bad.json")).unwrap();
    assert!(bad.contains(",error,,,\""), "{bad}");
    let (_, text, _) = cli(&["fleet", &d.display().to_string()]);
    assert!(text.starts_with("POOL FILE"), "{text}");
    assert!(
        text.ends_with(&format!("{} pools: ", files.len()))
            || text
                .lines()
                .last()
                .unwrap()
                .starts_with(&format!("{} pools: ", files.len())),
        "{text}"
    );
    assert_eq!(
        text.lines().count(),
        files.len() + 2,
        "one line per pool: {text}"
    );
}

/// `haplan fleet` with `stdin` as standard input: (exit code, stdout, stderr).
fn cli_stdin(args: &[&str], stdin: &str) -> (i32, String, String) {
    let mut out = Vec::new();
    let mut err = Vec::new();
    let code = haplan_cli::run(
        std::iter::once("haplan").chain(args.iter().copied()),
        &mut stdin.as_bytes(),
        &mut out,
        &mut err,
    );
    (
        code,
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
    )
}

/// The paths of a fleet's JSON rows.
fn row_paths(out: &str) -> Vec<String> {
    let v: Value = serde_json::from_str(out).unwrap_or_else(|e| panic!("{e}: {out}"));
    v["pools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["path"].as_str().unwrap().to_string())
        .collect()
}

/// A directory's pool files at any depth, sorted by path, each once (a
/// link back to an ancestor directory is not followed round, a link to a
/// file already listed adds no row), other extensions left out.
#[test]
fn a_directory_is_walked_with_its_subdirectories() {
    let d = dir("tree");
    let pool = |seed: u64| memory_pool(8, 4, seed).to_string();
    std::fs::create_dir_all(d.join("b/deeper")).unwrap();
    std::fs::create_dir_all(d.join("a")).unwrap();
    let root = d.display().to_string();
    write(&d, "z.json", pool(1).as_bytes());
    write(&d.join("a"), "x.json", pool(2).as_bytes());
    write(&d.join("b/deeper"), "y.json", pool(3).as_bytes());
    write(&d.join("b"), "notes.txt", b"not a pool");
    write(&d.join("b"), "c.json", pool(4).as_bytes());
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(&d, d.join("b/deeper/loop")).unwrap();
        std::os::unix::fs::symlink(d.join("z.json"), d.join("a/z-again.json")).unwrap();
    }
    let (code, out, err) = cli(&["fleet", &root, "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    // z.json is reached first through the link a/z-again.json: one row,
    // under the path it was first found by.
    assert_eq!(
        row_paths(&out),
        [
            format!("{root}/a/x.json"),
            format!("{root}/a/z-again.json"),
            format!("{root}/b/c.json"),
            format!("{root}/b/deeper/y.json"),
        ]
    );
    // From b, the link b/deeper/loop leads out to the root and its other
    // files (z.json is a/z-again.json, one row), and round to b itself,
    // which is not walked again.
    let (code, out, _) = cli(&["fleet", &format!("{root}/b"), "--format", "json"]);
    assert_eq!(code, 0);
    assert_eq!(
        row_paths(&out),
        [
            format!("{root}/b/c.json"),
            format!("{root}/b/deeper/loop/a/x.json"),
            format!("{root}/b/deeper/loop/a/z-again.json"),
            format!("{root}/b/deeper/y.json"),
        ]
    );
    // One with no pool file at any depth names nothing.
    std::fs::create_dir_all(d.join("empty/sub")).unwrap();
    write(&d.join("empty/sub"), "readme.txt", b"no pool");
    let (code, out, err) = cli(&["fleet", &format!("{root}/empty")]);
    assert_eq!((code, out.as_str()), (2, ""));
    assert!(err.contains("no pool file"), "{err}");
}

/// `-`: the files and directories listed on standard input, one per line,
/// in that order after the arguments before it; a listed path that does
/// not exist, an empty list or a second `-` is a usage error and nothing
/// is checked.
#[test]
fn a_list_of_paths_on_standard_input() {
    let (d, files) = fleet_dir("stdin");
    let root = d.display().to_string();
    let files: Vec<String> = files.into_iter().filter(|f| f.contains("/gen-")).collect();
    let sub = dir("stdin-sub");
    let extra = write(
        &sub,
        "extra.json",
        memory_pool(8, 4, 9).to_string().as_bytes(),
    );
    // A file, a directory, a blank line, a CRLF line end, a file twice.
    let list = format!("{}\n\n{}\r\n{}\n", files[0], sub.display(), files[0]);
    let (code, out, err) = cli_stdin(&["fleet", &files[1], "-", "--format", "json"], &list);
    assert!(code == 0 || code == 1, "{code}: {err}");
    assert_eq!(row_paths(&out), [files[1].clone(), files[0].clone(), extra]);
    // A file name with a pattern's characters is taken as written.
    let odd = write(
        &d,
        "odd[1].json",
        memory_pool(8, 4, 5).to_string().as_bytes(),
    );
    let (_, out, err) = cli_stdin(&["fleet", "-", "--format", "json"], &format!("{odd}\n"));
    assert_eq!(row_paths(&out), [odd], "{err}");
    for (args, stdin, message) in [
        (
            vec!["fleet", "-"],
            format!("{root}/nope.json\n"),
            "nope.json (named on standard input)",
        ),
        (vec!["fleet", "-"], "\n\n".to_string(), "no path listed"),
        (
            vec!["fleet", "-", "-"],
            format!("{}\n", files[0]),
            "can be given once",
        ),
    ] {
        let (code, out, err) = cli_stdin(&args, &stdin);
        assert_eq!((code, out.as_str()), (2, ""), "{stdin:?}");
        assert!(err.contains(message), "{err}");
    }
}
