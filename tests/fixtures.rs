//! The fixture suite: every pool under `fixtures/<family>/<name>.json`, run as
//! its `<name>.case.json` says, in-process through `haplan_cli::run` and
//! through the real `haplan` binary, against the golden files
//! `<name>.<run>.expected`.
//!
//! A golden file holds the exit code, stdout and stderr of one run:
//!
//! ```text
//! exit: 1
//! --- stdout
//! ...
//! --- stderr
//! ...
//! ```
//!
//! Before comparing, the absolute workspace path is stripped from both
//! streams (every run gets the absolute path of its pool file, shown as
//! `fixtures/...`), and the volatile `stats` of `check` (the JSON object, the
//! text line `Decided ... ms.`) is normalised after its shape is
//! checked. Everything else is compared byte for byte.
//!
//! `UPDATE_EXPECT=1 cargo test --release -p haplan-tests -- fixtures::`
//! rewrites the golden files (after the in-process and binary runs agree);
//! read the diff before committing it. The binary must be built first:
//! `cargo build --release -p haplan-cli` (or point `HAPLAN_BIN` at one).
//!
//! A run may name files of its own in `"with"` (paths relative to the
//! fixture's directory), passed right after the pool file: the change file
//! of `whatif`, the NEW pool of `diff`. A `.json` file with no case of its
//! own must be named by some run's `"with"`; those that are not change
//! files (`*.changes.json`) are pools, and the schema test checks them too.
//!
//! Through the library, independently of the CLI: every valid pool parses,
//! `haplan::check` gives the golden `max_tolerable` (and verdict, bounds and
//! witness), every plan (and every witness's plan) passes
//! `haplan::verify_plan` and matches the golden JSON, and every bad pool is
//! rejected with exactly the problems its golden stderr lists.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use haplan::pack::Budget;
use haplan::plan::Scope;
use haplan::{Analysis, CheckOptions, Pool};
use haplan_wire::schema::Answer;
use serde_json::Value;

/// The fixture families and whether their pools are valid.
const FAMILIES: &[(&str, bool)] = &[
    ("basic", true),
    ("citrix", true),
    ("packing", true),
    ("constraints", true),
    ("whatif", true),
    ("diff", true),
    ("runtime", true),
    ("headroom", true),
    ("domains", true),
    ("tiers", true),
    ("drain", true),
    ("timing", true),
    ("bad", false),
];

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// `<root>/`, as it appears in messages that name a fixture file.
fn root_prefix() -> String {
    format!("{}/", workspace_root().display())
}

struct Run {
    id: String,
    /// The arguments after the program name, without the pool file: the
    /// file (or `-`) is inserted right after the subcommand.
    command: Vec<String>,
    /// Feed the pool on standard input and pass `-` as the file.
    stdin: bool,
    /// Files passed right after the pool file (absolute): the change file of
    /// `whatif`, the NEW pool of `diff`.
    with: Vec<PathBuf>,
}

struct Case {
    family: String,
    name: String,
    /// The pool file, absolute.
    pool: PathBuf,
    valid: bool,
    runs: Vec<Run>,
    /// For `bad/`: whether the JSON Schema accepts the file (its problem is
    /// one the schema cannot express), or `None` when it is not JSON at all.
    schema_valid: Option<bool>,
}

impl Case {
    fn label(&self) -> String {
        format!("fixtures/{}/{}", self.family, self.name)
    }
    fn expected_path(&self, run: &Run) -> PathBuf {
        self.pool
            .with_file_name(format!("{}.{}.expected", self.name, run.id))
    }
    fn text(&self) -> String {
        std::fs::read_to_string(&self.pool)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", self.pool.display()))
    }
    /// The full argument list (program name first) for a run.
    fn args(&self, run: &Run) -> Vec<String> {
        let file = if run.stdin {
            "-".to_string()
        } else {
            self.pool.display().to_string()
        };
        let mut args = vec!["haplan".to_string(), run.command[0].clone(), file];
        args.extend(run.with.iter().map(|p| p.display().to_string()));
        args.extend(run.command[1..].iter().cloned());
        args
    }
    fn stdin(&self, run: &Run) -> Vec<u8> {
        if run.stdin {
            self.text().into_bytes()
        } else {
            Vec::new()
        }
    }
}

/// Reads every case under `fixtures/`, or the reasons the tree is malformed.
fn load_cases() -> Result<Vec<Case>, Vec<String>> {
    let dir = workspace_root().join("fixtures");
    let mut cases = Vec::new();
    let mut errors = Vec::new();
    for entry in
        std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
    {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            let fam = path.file_name().unwrap().to_string_lossy().to_string();
            // fixtures/import/ holds platform exports, read by the
            // importers' own tests (solver/import), not pool files.
            if fam != "import" && !FAMILIES.iter().any(|(f, _)| *f == fam) {
                errors.push(format!(
                    "fixtures/{fam}/ is not a known family (add it to FAMILIES)"
                ));
            }
        }
    }
    for &(family, valid) in FAMILIES {
        let fdir = dir.join(family);
        let mut files: Vec<PathBuf> = match std::fs::read_dir(&fdir) {
            Ok(rd) => rd.map(|e| e.expect("directory entry").path()).collect(),
            Err(e) => {
                errors.push(format!("cannot list {}: {e}", fdir.display()));
                continue;
            }
        };
        files.sort();
        let names: BTreeSet<String> = files
            .iter()
            .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().to_string()))
            .collect();
        for file in &names {
            let Some(name) = file.strip_suffix(".case.json") else {
                continue;
            };
            if !names.contains(&format!("{name}.json")) {
                errors.push(format!(
                    "fixtures/{family}/{file} has no pool file {name}.json"
                ));
            }
        }
        // `.json` files with no case: they must be some run's "with" file.
        let mut companions = Vec::new();
        for file in &names {
            if file.ends_with(".case.json") || !file.ends_with(".json") {
                continue;
            }
            let name = file.strip_suffix(".json").unwrap().to_string();
            let case_path = fdir.join(format!("{name}.case.json"));
            let label = format!("fixtures/{family}/{name}");
            if !case_path.exists() {
                companions.push(file.clone());
                continue;
            }
            match read_case(&case_path, valid, &fdir) {
                Ok((runs, schema_valid)) => {
                    let case = Case {
                        family: family.to_string(),
                        name: name.clone(),
                        pool: fdir.join(file),
                        valid,
                        runs,
                        schema_valid,
                    };
                    cases.push(case);
                }
                Err(e) => errors.push(format!("{label}.case.json: {e}")),
            }
        }
        let named: BTreeSet<PathBuf> = cases
            .iter()
            .filter(|c| c.family == family)
            .flat_map(|c| c.runs.iter().flat_map(|r| r.with.iter().cloned()))
            .collect();
        for file in companions {
            if !named.contains(&fdir.join(&file)) {
                errors.push(format!(
                    "fixtures/{family}/{file} has no case file and no run names it in \"with\""
                ));
            }
        }
        // Golden files that no run produces are stale.
        let produced: BTreeSet<String> = cases
            .iter()
            .filter(|c| c.family == family)
            .flat_map(|c| {
                c.runs
                    .iter()
                    .map(move |r| format!("{}.{}.expected", c.name, r.id))
            })
            .collect();
        for file in names.iter().filter(|f| f.ends_with(".expected")) {
            if !produced.contains(file) {
                errors.push(format!(
                    "fixtures/{family}/{file} belongs to no run of any case"
                ));
            }
        }
    }
    if errors.is_empty() {
        Ok(cases)
    } else {
        Err(errors)
    }
}

/// `a/b/../c` as `a/c`, so that messages naming the file read well.
fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// A `"with"` list: paths relative to `dir`, of existing files.
fn with_files(v: Option<&Value>, dir: &Path) -> Result<Vec<PathBuf>, String> {
    let Some(v) = v else {
        return Ok(Vec::new());
    };
    let list = v
        .as_array()
        .ok_or("\"with\" must be a list of file names")?;
    let mut out = Vec::new();
    for f in list {
        let f = f.as_str().ok_or("\"with\" must be a list of file names")?;
        let path = lexical(&dir.join(f));
        if !path.is_file() {
            return Err(format!("\"with\" names {f}, which is not a file"));
        }
        out.push(path);
    }
    Ok(out)
}

/// `{"description": "...", "command": [...], "with": [...]}` or
/// `{"description": "...", "runs": [{"id": "...", "command": [...], "stdin": true, "with": [...]}]}`,
/// plus `"schema_valid"` for bad pools.
fn read_case(path: &Path, valid: bool, dir: &Path) -> Result<(Vec<Run>, Option<bool>), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read: {e}"))?;
    let v: Value = serde_json::from_str(&text).map_err(|e| format!("not JSON: {e}"))?;
    let obj = v.as_object().ok_or("not an object")?;
    for key in obj.keys() {
        if !["description", "command", "runs", "schema_valid", "with"].contains(&key.as_str()) {
            return Err(format!("unknown key {key:?}"));
        }
    }
    match obj.get("description").and_then(Value::as_str) {
        Some(d) if !d.trim().is_empty() => {}
        _ => return Err("needs a non-empty \"description\" (the hand-worked answer)".into()),
    }
    let schema_valid = match (valid, obj.get("schema_valid")) {
        (true, None) => None,
        (true, Some(_)) => return Err("\"schema_valid\" is for bad/ fixtures only".into()),
        (false, Some(Value::Bool(b))) => Some(*b),
        (false, Some(Value::Null)) => None,
        (false, _) => {
            return Err(
                "bad/ fixtures need \"schema_valid\": true, false or null (not JSON)".into(),
            );
        }
    };
    let strings = |v: &Value| -> Result<Vec<String>, String> {
        let list = v
            .as_array()
            .ok_or("\"command\" must be a list of strings")?;
        let out: Option<Vec<String>> = list
            .iter()
            .map(|s| s.as_str().map(str::to_string))
            .collect();
        match out {
            Some(o) if !o.is_empty() => Ok(o),
            _ => Err("\"command\" must be a non-empty list of strings".into()),
        }
    };
    let mut runs = Vec::new();
    if obj.contains_key("with") && obj.contains_key("runs") {
        return Err("with \"runs\", each run has its own \"with\"".into());
    }
    match (obj.get("command"), obj.get("runs")) {
        (Some(c), None) => {
            let command = strings(c)?;
            runs.push(Run {
                id: command[0].clone(),
                command,
                stdin: false,
                with: with_files(obj.get("with"), dir)?,
            });
        }
        (None, Some(Value::Array(list))) if !list.is_empty() => {
            for r in list {
                let r = r.as_object().ok_or("each run must be an object")?;
                for key in r.keys() {
                    if !["id", "command", "stdin", "with"].contains(&key.as_str()) {
                        return Err(format!("unknown key {key:?} in a run"));
                    }
                }
                let id = r
                    .get("id")
                    .and_then(Value::as_str)
                    .ok_or("each run needs an \"id\"")?;
                if id.is_empty()
                    || !id
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                {
                    return Err(format!("run id {id:?} must be a non-empty [A-Za-z0-9_-]+"));
                }
                if runs.iter().any(|o: &Run| o.id == id) {
                    return Err(format!("run id {id:?} appears twice"));
                }
                runs.push(Run {
                    id: id.to_string(),
                    command: strings(r.get("command").ok_or("each run needs a \"command\"")?)?,
                    stdin: match r.get("stdin") {
                        None => false,
                        Some(Value::Bool(b)) => *b,
                        Some(_) => return Err("\"stdin\" must be true or false".into()),
                    },
                    with: with_files(r.get("with"), dir)?,
                });
            }
        }
        _ => return Err("needs either \"command\" or a non-empty \"runs\" list".into()),
    }
    Ok((runs, schema_valid))
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Outcome {
    pub(crate) exit: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

fn run_in_process(args: &[String], stdin: &[u8]) -> Outcome {
    let mut input = stdin;
    let mut out = Vec::new();
    let mut err = Vec::new();
    let exit = haplan_cli::run(args.to_vec(), &mut input, &mut out, &mut err);
    Outcome {
        exit,
        stdout: String::from_utf8(out).expect("stdout is UTF-8"),
        stderr: String::from_utf8(err).expect("stderr is UTF-8"),
    }
}

pub(crate) fn run_binary(bin: &Path, args: &[String], stdin: &[u8]) -> Outcome {
    let mut child = Command::new(bin)
        .args(&args[1..])
        .current_dir(workspace_root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
    let mut pipe = child.stdin.take().expect("stdin is piped");
    let data = stdin.to_vec();
    // Write from another thread so that a child that does not read stdin
    // cannot deadlock us.
    let writer = std::thread::spawn(move || {
        let _ = pipe.write_all(&data);
    });
    let output = child.wait_with_output().expect("wait for haplan");
    writer.join().expect("stdin writer");
    Outcome {
        exit: output
            .status
            .code()
            .unwrap_or_else(|| panic!("haplan was killed by a signal: {:?}", output.status)),
        stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
    }
}

/// The `haplan` binary: `HAPLAN_BIN`, or `target/<profile>/haplan` next to
/// this test's executable (`target/<profile>/deps/fixtures-...`).
pub(crate) fn binary() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("HAPLAN_BIN") {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(format!("HAPLAN_BIN={} is not a file", p.display()))
        };
    }
    let exe =
        std::env::current_exe().map_err(|e| format!("cannot locate the test executable: {e}"))?;
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .ok_or_else(|| format!("unexpected test executable location {}", exe.display()))?;
    let bin = profile_dir.join(format!("haplan{}", std::env::consts::EXE_SUFFIX));
    if bin.is_file() {
        Ok(bin)
    } else {
        let profile = profile_dir
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let flag = match profile.as_str() {
            "debug" => String::new(),
            "release" => " --release".to_string(),
            other => format!(" --profile {other}"),
        };
        Err(format!(
            "the haplan binary is missing at {}: run `cargo build{flag} -p haplan-cli` first (or set HAPLAN_BIN)",
            bin.display()
        ))
    }
}

/// Strips the workspace path and normalises the volatile statistics, after
/// checking their shape. An error is a contract violation in the output.
fn normalise(o: &Outcome) -> Result<Outcome, String> {
    let prefix = root_prefix();
    let mut stdout = o.stdout.replace(&prefix, "");
    let stderr = o.stderr.replace(&prefix, "");
    if let Ok(value) = serde_json::from_str::<Value>(&stdout) {
        // The check objects that `whatif` and `diff` nest have stats too.
        let mut all = Vec::new();
        stats_members(&value, &mut all);
        for stats in &all {
            let ok = stats.as_object().is_some_and(|s| {
                // `drain`'s stats count tolerance checks, not scenarios.
                s.get("scenarios").is_none_or(Value::is_u64)
                    && s.get("elapsed_ms").is_some_and(Value::is_u64)
            });
            if !ok {
                return Err(format!(
                    "\"stats\" is not an object with integer elapsed_ms (and scenarios, if any): {stats}"
                ));
            }
        }
        if !all.is_empty() {
            let (text, found) = normalise_json_stats(&stdout)?;
            if found != all.len() {
                return Err(format!(
                    "{} \"stats\" members, {found} of them pretty-printed as expected",
                    all.len()
                ));
            }
            stdout = text;
        }
    }
    stdout = normalise_text_stats(&stdout);
    Ok(Outcome {
        exit: o.exit,
        stdout,
        stderr,
    })
}

/// Every `"stats"` member of every object in `v`.
fn stats_members<'a>(v: &'a Value, out: &mut Vec<&'a Value>) {
    match v {
        Value::Object(map) => {
            for (k, x) in map {
                if k == "stats" {
                    out.push(x);
                } else {
                    stats_members(x, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|x| stats_members(x, out)),
        _ => {}
    }
}

/// Replaces every pretty-printed `"stats": {...}` member, at any depth;
/// also returns how many it replaced.
fn normalise_json_stats(text: &str) -> Result<(String, usize), String> {
    let mut out = String::new();
    let mut lines = text.split_inclusive('\n');
    let mut found = 0;
    while let Some(line) = lines.next() {
        let body = line.trim_start_matches(' ');
        let indent = &line[..line.len() - body.len()];
        if body == "\"stats\": {}\n" || body == "\"stats\": {},\n" {
            found += 1;
            let comma = if line.ends_with(",\n") { "," } else { "" };
            out.push_str(&format!("{indent}\"stats\": \"(normalised)\"{comma}\n"));
        } else if body == "\"stats\": {\n" {
            found += 1;
            loop {
                let Some(inner) = lines.next() else {
                    return Err("unterminated \"stats\" object".into());
                };
                match inner.strip_prefix(indent) {
                    Some("}\n") => {
                        out.push_str(&format!("{indent}\"stats\": \"(normalised)\"\n"));
                        break;
                    }
                    Some("},\n") => {
                        out.push_str(&format!("{indent}\"stats\": \"(normalised)\",\n"));
                        break;
                    }
                    _ => {}
                }
            }
        } else {
            out.push_str(line);
        }
    }
    Ok((out, found))
}

/// `Decided 12 failure sets one by one and 2 groups by set-level bounds in 3 ms.`
/// becomes `Decided N failure sets one by one and M groups by set-level bounds in T ms.`.
fn normalise_text_stats(text: &str) -> String {
    text.split_inclusive('\n')
        .map(|line| {
            let body = line.trim_end_matches('\n');
            let words: Vec<&str> = body.split(' ').collect();
            let number = |i: usize| words[i].parse::<u64>().is_ok();
            let is_stats = words.len() == 16
                && words[0] == "Decided"
                && number(1)
                && words[2] == "failure"
                && (words[3] == "set" || words[3] == "sets")
                && words[4..8] == ["one", "by", "one", "and"]
                && number(8)
                && (words[9] == "group" || words[9] == "groups")
                && words[10..14] == ["by", "set-level", "bounds", "in"]
                && number(14)
                && words[15] == "ms.";
            // `haplan headroom`: `Ran 17 tolerance checks in 4 ms.`
            let is_runs = words.len() == 7
                && words[0] == "Ran"
                && number(1)
                && words[2] == "tolerance"
                && (words[3] == "check" || words[3] == "checks")
                && words[4] == "in"
                && number(5)
                && words[6] == "ms.";
            if is_stats {
                "Decided N failure sets one by one and M groups by set-level bounds in T ms.\n"
                    .to_string()
            } else if is_runs {
                "Ran N tolerance checks in T ms.\n".to_string()
            } else {
                line.to_string()
            }
        })
        .collect()
}

fn render(o: &Outcome) -> String {
    fn stream(s: &str) -> String {
        if s.is_empty() || s.ends_with('\n') {
            s.to_string()
        } else {
            format!("{s}\n\\ no newline at end\n")
        }
    }
    format!(
        "exit: {}\n--- stdout\n{}--- stderr\n{}",
        o.exit,
        stream(&o.stdout),
        stream(&o.stderr)
    )
}

/// The stdout section of a rendered golden file.
fn golden_stdout(golden: &str) -> &str {
    let start = golden
        .find("\n--- stdout\n")
        .map(|i| i + "\n--- stdout\n".len())
        .unwrap_or(0);
    let end = golden.rfind("--- stderr\n").unwrap_or(golden.len());
    &golden[start..end.max(start)]
}

fn golden_exit(golden: &str) -> Option<i32> {
    golden.lines().next()?.strip_prefix("exit: ")?.parse().ok()
}

/// A line diff (longest common subsequence), `-` expected, `+` actual.
fn diff(expected: &str, actual: &str) -> String {
    let a: Vec<&str> = expected.lines().collect();
    let b: Vec<&str> = actual.lines().collect();
    let (n, m) = (a.len(), b.len());
    let mut lcs = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let mut ops: Vec<(char, &str)> = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            ops.push((' ', a[i]));
            i += 1;
            j += 1;
        } else if i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1]) {
            ops.push(('-', a[i]));
            i += 1;
        } else {
            ops.push(('+', b[j]));
            j += 1;
        }
    }
    // Changed lines with two lines of context.
    let keep: Vec<bool> = (0..ops.len())
        .map(|k| {
            let lo = k.saturating_sub(2);
            let hi = (k + 2).min(ops.len() - 1);
            ops[lo..=hi].iter().any(|(c, _)| *c != ' ')
        })
        .collect();
    let mut out = String::new();
    let mut skipped = false;
    for (k, (c, line)) in ops.iter().enumerate() {
        if keep[k] {
            if skipped {
                out.push_str("    ...\n");
                skipped = false;
            }
            let _ = writeln!(out, "  {c} {line}");
        } else {
            skipped = true;
        }
    }
    if out.is_empty() && expected != actual {
        out.push_str("  (the texts differ only in their final newline)\n");
    }
    out
}

fn arg_value<'a>(command: &'a [String], flag: &str) -> Option<&'a str> {
    command
        .iter()
        .position(|a| a == flag)
        .and_then(|i| command.get(i + 1))
        .map(String::as_str)
}

/// A comma-separated list flag (`--storage a,b`), empty when absent.
fn list_arg(command: &[String], flag: &str) -> Vec<String> {
    arg_value(command, flag)
        .map(|v| v.split(',').map(str::to_string).collect())
        .unwrap_or_default()
}

fn names(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn host_ids(pool: &Pool, names: &[String]) -> Result<Vec<usize>, String> {
    haplan::failure_set(pool, names).map_err(|e| e.to_string())
}

fn vm_names(pool: &Pool, ids: impl IntoIterator<Item = usize>) -> Vec<String> {
    ids.into_iter().map(|v| pool.vms[v].name.clone()).collect()
}

/// Checks one run's golden output against the library, independently of the
/// CLI code path. Returns the problems found.
fn library_checks(case: &Case, run: &Run, golden: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let text = case.text();
    let shown = if run.stdin {
        "<stdin>".to_string()
    } else {
        format!("{}.json", case.label())
    };
    let exit = golden_exit(golden);
    let stdout = golden_stdout(golden);
    let pool = match haplan::parse_pool(&text) {
        Err(e) => {
            if case.valid {
                errs.push(format!("parse_pool rejects a valid fixture: {e}"));
            } else {
                // The CLI's stderr is exactly the library's problems.
                errs.extend(golden_error(golden, &format!("{shown}: {e}"), "this pool"));
                if e.problems.is_empty() {
                    errs.push("parse_pool returned an error with no problem".into());
                }
            }
            return errs;
        }
        Ok(pool) => pool,
    };
    if !case.valid {
        errs.push("parse_pool accepts a bad fixture".into());
        return errs;
    }
    let json_format = arg_value(&run.command, "--format") == Some("json");
    match run.command[0].as_str() {
        "check" => {
            let tolerate = arg_value(&run.command, "--tolerate").and_then(|k| k.parse().ok());
            let explain = run.command.iter().any(|a| a == "--explain");
            // Only a zero time limit is deterministic: nothing gets searched.
            let time_limit = arg_value(&run.command, "--time-limit").map(|s| {
                let secs: f64 = s.parse().expect("--time-limit takes seconds");
                assert_eq!(
                    secs, 0.0,
                    "fixtures use only --time-limit 0 (deterministic)"
                );
                std::time::Duration::ZERO
            });
            let opts = CheckOptions {
                tolerate,
                explain,
                time_limit,
                ..CheckOptions::default()
            };
            let report = haplan::check(&pool, &opts);
            if !report.exact && time_limit.is_none() {
                errs.push("haplan::check is not exact without a time limit".into());
            }
            let want_exit = match report.verdict() {
                haplan::Verdict::Ok => 0,
                haplan::Verdict::NotOk => 1,
                haplan::Verdict::Undecided => 3,
            };
            if exit != Some(want_exit) {
                errs.push(format!(
                    "golden exit {exit:?}, but haplan::check says ok = {}",
                    report.ok()
                ));
            }
            if json_format {
                let g: Value = match serde_json::from_str(stdout) {
                    Ok(g) => g,
                    Err(e) => {
                        errs.push(format!("golden stdout is not JSON: {e}"));
                        return errs;
                    }
                };
                let fields = [
                    ("max_tolerable", Value::from(report.max_tolerable)),
                    ("upper_bound", Value::from(report.upper_bound)),
                    ("configured", Value::from(report.configured)),
                    ("ok", Value::from(report.ok())),
                    ("exact", Value::from(report.exact)),
                    ("stranded_now", Value::from(report.stranded_now)),
                ];
                for (key, lib) in fields {
                    if g.get(key) != Some(&lib) {
                        errs.push(format!(
                            "golden {key} = {:?}, haplan::check gives {lib}",
                            g.get(key)
                        ));
                    }
                }
                let lib_na: Vec<String> = vm_names(&pool, report.not_agile.iter().map(|n| n.vm));
                let gold_na: Vec<String> = g["not_agile"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|n| n["vm"].as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default();
                if lib_na != gold_na {
                    errs.push(format!(
                        "golden not_agile {gold_na:?}, haplan::check gives {lib_na:?}"
                    ));
                }
                match (&report.witness, g.get("witness")) {
                    (None, Some(Value::Null)) => {}
                    (Some(w), Some(gw)) if gw.is_object() => {
                        let failed: Vec<String> = w
                            .failed
                            .iter()
                            .map(|&h| pool.hosts[h].name.clone())
                            .collect();
                        if names(&gw["failed_hosts"]) != failed {
                            errs.push(format!(
                                "golden witness hosts {}, haplan::check gives {failed:?}",
                                gw["failed_hosts"]
                            ));
                        }
                        if names(&gw["unplaced"]) != vm_names(&pool, w.unplaced.iter().copied()) {
                            errs.push("golden witness unplaced differs from haplan::check".into());
                        }
                        errs.extend(witness_checks(&pool, &w.failed, &names(&gw["unplaced"])));
                    }
                    (lib, gold) => errs.push(format!(
                        "golden witness {gold:?}, haplan::check gives {lib:?}"
                    )),
                }
            } else {
                let first = stdout.lines().next().unwrap_or("");
                let n = report.max_tolerable;
                let unit = match report.failure_domains {
                    Some(_) => "domain",
                    None => "host",
                };
                let tol = if report.exact {
                    format!(
                        " tolerates {n} {unit} failure{}",
                        if n == 1 { "" } else { "s" }
                    )
                } else {
                    format!(
                        " tolerates between {n} and {} {unit} failures",
                        report.upper_bound
                    )
                };
                let verdict_ok = first.starts_with("OK:");
                if !first.contains(&tol) || verdict_ok != report.ok() {
                    errs.push(format!(
                        "golden verdict line {first:?} disagrees with haplan::check (max_tolerable {n}, ok {})",
                        report.ok()
                    ));
                }
            }
        }
        "plan" => {
            let fail: Vec<String> = arg_value(&run.command, "--fail")
                .unwrap_or_default()
                .split(',')
                .map(str::to_string)
                .collect();
            let failed = match host_ids(&pool, &fail) {
                Ok(f) => f,
                Err(e) => {
                    errs.extend(golden_error(golden, &e.to_string(), "--fail"));
                    return errs;
                }
            };
            let p = haplan::plan(&pool, &failed, &Budget::unlimited());
            if let Err(v) = haplan::verify_plan(&pool, &p) {
                errs.push(format!("haplan::plan fails verify_plan: {v:?}"));
            }
            if !p.exact {
                errs.push("haplan::plan is not exact without a time limit".into());
            }
            let want_exit = if p.all_protected_placed(&pool) { 0 } else { 1 };
            if exit != Some(want_exit) {
                errs.push(format!(
                    "golden exit {exit:?}, but the plan's complete = {}",
                    want_exit == 0
                ));
            }
            if json_format {
                match serde_json::from_str::<Value>(stdout) {
                    Ok(g) => {
                        let lib = haplan_wire::report::plan_json(&pool, &p);
                        if g != lib {
                            errs.push(format!(
                                "golden plan differs from haplan::plan:\n{}",
                                diff(
                                    &serde_json::to_string_pretty(&g).unwrap(),
                                    &serde_json::to_string_pretty(&lib).unwrap()
                                )
                            ));
                        }
                        // The golden plan itself, read back, is a valid plan.
                        errs.extend(golden_plan_checks(&pool, &g));
                    }
                    Err(e) => errs.push(format!("golden stdout is not JSON: {e}")),
                }
            }
        }
        "whatif" => errs.extend(whatif_checks(run, &text, &pool, golden)),
        "diff" => errs.extend(diff_checks(run, &pool, golden)),
        "headroom" => errs.extend(headroom_checks(run, &pool, golden)),
        "tiers" if json_format => errs.extend(tiers_checks(run, &pool, stdout)),
        "drain" => errs.extend(drain_checks(run, &pool, golden)),
        "timing" => errs.extend(timing_checks(run, &pool, golden)),
        _ => {}
    }
    errs
}

/// A file passed to a run, as the CLI names it once the workspace path is
/// stripped.
fn shown_path(path: &Path) -> String {
    path.display().to_string().replace(&root_prefix(), "")
}

/// A check object of `whatif` or `diff` without its volatile stats.
fn without_stats(mut v: Value) -> Value {
    if let Some(map) = v.as_object_mut() {
        map.remove("stats");
    }
    v
}

/// The check options a `whatif` or `diff` run asks for (no time limit:
/// these fixtures are exact).
fn run_check_options(command: &[String]) -> CheckOptions<'static> {
    assert!(
        arg_value(command, "--time-limit").is_none(),
        "whatif and diff fixtures use no --time-limit"
    );
    CheckOptions {
        tolerate: arg_value(command, "--tolerate").and_then(|k| k.parse().ok()),
        explain: command.iter().any(|a| a == "--explain"),
        ..CheckOptions::default()
    }
}

fn verdict_exit(v: haplan::Verdict) -> i32 {
    match v {
        haplan::Verdict::Ok => 0,
        haplan::Verdict::NotOk => 1,
        haplan::Verdict::Undecided => 3,
    }
}

/// For the tiny pools of `whatif/` and `diff/`: the brute-force reference's
/// tolerance, or nothing when the pool is too big for it.
fn reference_tolerance(pool: &Pool) -> Option<u32> {
    (pool.hosts.len() <= 8 && pool.vms.len() <= 16)
        .then(|| haplan_tests::reference_max_tolerable(pool))
}

/// `whatif`: the changes applied through the library give the golden error,
/// or the golden before and after (each the check of its own pool, and the
/// reference's tolerance).
fn whatif_checks(run: &Run, text: &str, pool: &Pool, golden: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let [changes] = run.with.as_slice() else {
        return vec!["a whatif run names its change file, and only it, in \"with\"".into()];
    };
    let exit = golden_exit(golden);
    let stdout = golden_stdout(golden);
    let value: Value = serde_json::from_str(text).expect("a valid pool is JSON");
    let changes_text = std::fs::read_to_string(changes).expect("a with file is readable");
    let changed = match haplan::whatif::apply_text(&value, &changes_text) {
        Ok(c) => c,
        Err(e) => {
            let message = format!("{}: {e}", shown_path(changes));
            errs.extend(golden_error(golden, &message, "these changes"));
            return errs;
        }
    };
    let opts = run_check_options(&run.command);
    let r = haplan::what_if(pool, &changed.pool, &opts);
    if exit != Some(verdict_exit(r.verdict())) {
        errs.push(format!(
            "golden exit {exit:?}, but the changed pool's verdict is {:?}",
            r.verdict()
        ));
    }
    for (side, p, rep) in [
        ("before", pool, &r.before),
        ("after", &changed.pool, &r.after),
    ] {
        if let Some(t) = reference_tolerance(p)
            && t != rep.max_tolerable
        {
            errs.push(format!(
                "{side}: the reference tolerates {t}, haplan {}",
                rep.max_tolerable
            ));
        }
    }
    if arg_value(&run.command, "--format") == Some("json") {
        let g: Value = match serde_json::from_str(stdout) {
            Ok(g) => g,
            Err(e) => return vec![format!("golden stdout is not JSON: {e}")],
        };
        for (side, p) in [("before", pool), ("after", &changed.pool)] {
            let lib = without_stats(haplan_wire::report::check_json(p, &haplan::check(p, &opts)));
            if without_stats(g[side].clone()) != lib {
                errs.push(format!(
                    "golden {side} differs from haplan::check of that pool:\n{}",
                    diff(
                        &serde_json::to_string_pretty(&without_stats(g[side].clone())).unwrap(),
                        &serde_json::to_string_pretty(&lib).unwrap()
                    )
                ));
            }
        }
        if g["ok"] != r.after.ok() {
            errs.push("golden ok is not the changed pool's".into());
        }
        if g["changes"].as_array().map(Vec::len) != Some(changed.changes.len()) {
            errs.push("golden changes do not list every change".into());
        }
    } else {
        let first = stdout.lines().next().unwrap_or("");
        let n = r.after.max_tolerable;
        let tol = format!(
            " tolerates {n} host failure{}",
            if n == 1 { "" } else { "s" }
        );
        if !first.contains(&tol) || first.starts_with("OK:") != r.after.ok() {
            errs.push(format!(
                "golden verdict line {first:?} disagrees with the changed pool (max_tolerable {n}, ok {})",
                r.after.ok()
            ));
        }
    }
    errs
}

/// `diff`: the library's report matches the golden one, and its lists
/// match what comparing the two pools' names, restart settings and the
/// reference's agility gives.
fn diff_checks(run: &Run, old: &Pool, golden: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let [new_path] = run.with.as_slice() else {
        return vec!["a diff run names its NEW pool, and only it, in \"with\"".into()];
    };
    let exit = golden_exit(golden);
    let stdout = golden_stdout(golden);
    let new_text = std::fs::read_to_string(new_path).expect("a with file is readable");
    let new = match haplan::parse_pool(&new_text) {
        Ok(p) => p,
        Err(e) => {
            let message = format!("{}: {e}", shown_path(new_path));
            errs.extend(golden_error(golden, &message, "NEW"));
            return errs;
        }
    };
    let no_regress = run.command.iter().any(|a| a == "--no-regress");
    let shape = arg_value(&run.command, "--vm").map(|vm| {
        haplan::headroom::Shape::parse(
            vm,
            "--vm",
            &list_arg(&run.command, "--storage"),
            &list_arg(&run.command, "--networks"),
        )
        .expect("diff fixtures use valid shapes")
    });
    let opts = haplan::DiffOptions {
        check: run_check_options(&run.command),
        no_regress,
        vm: shape.as_ref(),
    };
    let d = haplan::diff(old, &new, &opts);
    if exit != Some(verdict_exit(d.verdict())) {
        errs.push(format!(
            "golden exit {exit:?}, but haplan::diff's verdict is {:?}",
            d.verdict()
        ));
    }
    // The verdict from first principles: NEW's own check, and the two
    // tolerances by the reference.
    let (t_old, t_new) = (reference_tolerance(old), reference_tolerance(&new));
    if let (Some(t_old), Some(t_new)) = (t_old, t_new) {
        let k = d.tolerate;
        let not_agile = !haplan_tests::reference_not_agile(&new).is_empty();
        let stranded = haplan_tests::reference_stranded_now(&new);
        let fails = t_new < k || not_agile || stranded || (no_regress && t_new < t_old);
        if (t_old, t_new) != (d.old.max_tolerable, d.new.max_tolerable) || fails == d.ok() {
            errs.push(format!(
                "the reference tolerates {t_old} then {t_new} (K {k}, not agile {not_agile}, \
                 stranded {stranded}): haplan::diff says {} then {}, ok {}",
                d.old.max_tolerable,
                d.new.max_tolerable,
                d.ok()
            ));
        }
    }
    let names = |p: &Pool, hosts: bool| -> Vec<String> {
        if hosts {
            p.hosts.iter().map(|h| h.name.clone()).collect()
        } else {
            p.vms.iter().map(|v| v.name.clone()).collect()
        }
    };
    let minus = |a: Vec<String>, b: Vec<String>| -> Vec<String> {
        a.into_iter().filter(|x| !b.contains(x)).collect()
    };
    let protected = |p: &Pool, name: &str| {
        p.vm_by_name(name)
            .is_some_and(|v| p.vms[v].restart == haplan::model::Restart::Protected)
    };
    let vms_removed = minus(names(old, false), names(&new, false));
    let want: Vec<(&str, Vec<String>)> = vec![
        ("hosts_added", minus(names(&new, true), names(old, true))),
        ("hosts_removed", minus(names(old, true), names(&new, true))),
        ("vms_added", minus(names(&new, false), names(old, false))),
        (
            "removed_protected",
            vms_removed
                .iter()
                .filter(|v| protected(old, v))
                .cloned()
                .collect(),
        ),
        ("vms_removed", vms_removed),
        (
            "lost_protection",
            names(&new, false)
                .into_iter()
                .filter(|v| protected(old, v) && !protected(&new, v))
                .collect(),
        ),
        (
            "newly_not_agile",
            haplan_tests::reference_not_agile(&new)
                .into_iter()
                .map(|v| new.vms[v].name.clone())
                .filter(|n| {
                    !haplan_tests::reference_not_agile(old)
                        .iter()
                        .any(|&o| old.vms[o].name == *n)
                })
                .collect(),
        ),
    ];
    if let Some(shape) = &shape {
        let Some(h) = &d.headroom else {
            return vec!["diff --vm reports no headroom".into()];
        };
        let opts = haplan::HeadroomOptions {
            tolerate: Some(d.tolerate),
            ..Default::default()
        };
        for (side, pool, lib) in [("old", old, &h.old), ("new", &new, &h.new)] {
            let alone = haplan::headroom(pool, shape, &opts).map(|r| (r.max_additional, r.exact));
            let lib = lib.as_ref().map(|r| (r.max_additional, r.exact));
            if alone.as_ref().ok() != lib.as_ref().ok() {
                errs.push(format!(
                    "{side}: diff's headroom {lib:?} is not that of haplan::headroom {alone:?}"
                ));
            }
        }
    }
    let lib = haplan_wire::report::diff_json(old, &new, &d);
    for (key, want) in &want {
        let got: Vec<String> = lib[*key]
            .as_array()
            .unwrap_or(&Vec::new())
            .iter()
            .map(|x| {
                x.get("vm")
                    .unwrap_or(x)
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            })
            .collect();
        if got != *want {
            errs.push(format!(
                "{key}: haplan::diff gives {got:?}, the pools give {want:?}"
            ));
        }
    }
    if arg_value(&run.command, "--format") == Some("json") {
        let g: Value = match serde_json::from_str(stdout) {
            Ok(g) => g,
            Err(e) => return vec![format!("golden stdout is not JSON: {e}")],
        };
        let strip = |mut v: Value| {
            for side in ["old", "new"] {
                v[side] = without_stats(v[side].clone());
            }
            v
        };
        if strip(g.clone()) != strip(lib) {
            errs.push("the golden diff differs from haplan::diff".into());
        }
        let tolerate = Some(d.tolerate);
        for (side, p) in [("old", old), ("new", &new)] {
            let opts = CheckOptions {
                tolerate,
                ..opts.check
            };
            let lib = without_stats(haplan_wire::report::check_json(p, &haplan::check(p, &opts)));
            if without_stats(g[side].clone()) != lib {
                errs.push(format!(
                    "golden {side} differs from haplan::check of that pool"
                ));
            }
        }
    } else {
        let first = stdout.lines().next().unwrap_or("");
        if first.starts_with("OK:") != d.ok() {
            errs.push(format!(
                "golden verdict line {first:?} disagrees with haplan::diff (ok {})",
                d.ok()
            ));
        }
    }
    errs
}

/// The reference's shape for a library shape.
fn ref_shape(shape: &haplan::Shape) -> haplan_tests::RefShape {
    haplan_tests::RefShape {
        demand: shape.demand.iter().map(|(r, &a)| (r.clone(), a)).collect(),
        storage: shape.storage.iter().cloned().collect(),
        networks: shape.networks.iter().cloned().collect(),
    }
}

/// A golden placement (`[{"host": ..., "count": ...}]`) as counts per host.
fn golden_placement(pool: &Pool, v: &Value) -> Result<Vec<u32>, String> {
    let mut x = vec![0u32; pool.hosts.len()];
    for p in v.as_array().ok_or("placement is not a list")? {
        let h = p["host"]
            .as_str()
            .and_then(|n| pool.host_by_name(n))
            .ok_or_else(|| format!("placement entry {p} names no host"))?;
        x[h] = p["count"]
            .as_u64()
            .ok_or_else(|| format!("placement entry {p} has no count"))? as u32;
    }
    Ok(x)
}

/// `timing`: the library's report matches the golden JSON (runs with
/// usage errors aside), and its makespan is the reference's: the
/// second-by-second simulation, over every failure set of at most K up
/// hosts for the worst case, or of the VMs the golden report restarts for
/// a given set.
fn timing_checks(run: &Run, pool: &Pool, golden: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let exit = golden_exit(golden);
    if exit == Some(2) {
        return errs;
    }
    let command = &run.command;
    let num = |flag: &str| arg_value(command, flag).map(|v| v.parse::<u64>().expect("a number"));
    let fail = arg_value(command, "--fail").map(|f| {
        let names: Vec<String> = f.split(',').map(str::to_string).collect();
        host_ids(pool, &names).expect("valid --fail")
    });
    let opts = haplan::TimingOptions {
        tolerate: num("--tolerate").map(|k| k as u32),
        boot_time_s: num("--boot-time").unwrap_or(60),
        concurrency: num("--concurrency").map(|c| c as u32),
        fence_time_s: num("--fence-time").unwrap_or(0),
        fail: fail.clone(),
        set_limit: num("--set-limit").unwrap_or(haplan::timing::DEFAULT_SET_LIMIT),
        cancel: None,
        time_limit: None,
    };
    let r = haplan::timing(pool, &opts);
    let code = if r.ok() { 0 } else { 1 };
    if exit != Some(code) {
        errs.push(format!(
            "golden exit {exit:?}, but haplan::timing says {code}"
        ));
    }
    let lib = without_stats(haplan_wire::report::timing_json(pool, &r));
    let text = golden_stdout(golden);
    if let Ok(g) = serde_json::from_str::<Value>(text) {
        let g = without_stats(g);
        if g != lib {
            errs.push(format!(
                "the golden report differs from haplan::timing:\n{}",
                diff(
                    &serde_json::to_string_pretty(&g).unwrap(),
                    &serde_json::to_string_pretty(&lib).unwrap()
                )
            ));
        }
    }
    if !r.tolerated {
        let w = r.witness.as_ref().expect("a witness");
        if haplan_tests::reference_feasible(pool, &w.failed) {
            errs.push("the witness of haplan::timing is a feasible failure set".into());
        }
        return errs;
    }
    let limit = opts.concurrency.map(|c| c as usize);
    let want = match &fail {
        None => {
            let k = opts.tolerate.unwrap_or(pool.ha.host_failures_to_tolerate);
            haplan_tests::reference_worst_makespan(pool, k, opts.boot_time_s, limit)
        }
        Some(f) => {
            let restarted: Vec<&str> = r.vms.iter().map(|t| pool.vms[t.vm].name.as_str()).collect();
            let jobs: Vec<haplan_tests::RefJob> =
                haplan_tests::reference_jobs(pool, f, opts.boot_time_s)
                    .into_iter()
                    .filter(|j| restarted.contains(&j.name.as_str()))
                    .collect();
            haplan_tests::reference_makespan(&jobs, limit)
        }
    };
    if r.exact() && r.makespan_s != want {
        errs.push(format!(
            "haplan::timing's makespan is {}, the reference's {want}",
            r.makespan_s
        ));
    }
    if !r.exact() && r.makespan_s > want {
        errs.push(format!(
            "the greedy search reports {}, more than the reference's worst {want}",
            r.makespan_s
        ));
    }
    errs
}

/// `headroom`: the library's report matches the golden one; the golden
/// placement, added to the pool, passes `check` at K (and the reference,
/// for small pools), and the count is the reference's when it can try
/// every placement.
fn headroom_checks(run: &Run, pool: &Pool, golden: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let exit = golden_exit(golden);
    let stdout = golden_stdout(golden);
    let command = &run.command;
    let vm = arg_value(command, "--vm").unwrap_or_default();
    let shape = match haplan::Shape::parse(
        vm,
        "--vm",
        &list_arg(command, "--storage"),
        &list_arg(command, "--networks"),
    )
    .and_then(|s| s.check_resources(pool, "--vm").map(|_| s))
    {
        Ok(s) => s,
        Err(e) => {
            errs.extend(golden_error(golden, &e.to_string(), "this --vm"));
            return errs;
        }
    };
    let time_limit = arg_value(command, "--time-limit").map(|s| {
        assert_eq!(
            s.parse::<f64>().expect("--time-limit takes seconds"),
            0.0,
            "fixtures use only --time-limit 0 (deterministic)"
        );
        std::time::Duration::ZERO
    });
    let method = match arg_value(command, "--method") {
        None | Some("auto") => haplan::headroom::Method::Auto,
        Some("search") => haplan::headroom::Method::Search,
        Some("master") => haplan::headroom::Method::Master,
        Some(m) => panic!("unknown --method {m}"),
    };
    let opts = haplan::HeadroomOptions {
        tolerate: arg_value(command, "--tolerate").and_then(|k| k.parse().ok()),
        time_limit,
        method,
        ..Default::default()
    };
    let r = match haplan::headroom(pool, &shape, &opts) {
        Ok(r) => r,
        Err(e) => {
            errs.extend(golden_error(golden, &format!("--vm: {e}"), "this --vm"));
            return errs;
        }
    };
    if exit != Some(verdict_exit(r.verdict())) {
        errs.push(format!(
            "golden exit {exit:?}, but haplan::headroom's verdict is {:?}",
            r.verdict()
        ));
    }
    if !r.exact && time_limit.is_none() {
        errs.push("haplan::headroom is not exact without a time limit".into());
    }
    let k = r.tolerate;
    let reference = ref_shape(&shape);
    let small = pool.hosts.len() <= 8
        && pool.vms.len() <= 20
        && haplan_tests::reference_placements(pool, &reference) <= 5000;
    if small && r.exact {
        let want = haplan_tests::reference_headroom(pool, &reference, k);
        if want != r.max_additional {
            errs.push(format!(
                "the reference finds room for {want}, haplan::headroom {}",
                r.max_additional
            ));
        }
        for h in &r.hosts {
            let want = haplan_tests::reference_fits_here(pool, &reference, k, h.host);
            if want != h.fits_here {
                errs.push(format!(
                    "host {}: the reference fits {want} there alone, haplan::headroom {}",
                    pool.hosts[h.host].name, h.fits_here
                ));
            }
        }
    }
    let lib = haplan_wire::report::headroom_json(pool, &r);
    let placement = if arg_value(command, "--format") == Some("json") {
        let g: Value = match serde_json::from_str(stdout) {
            Ok(g) => g,
            Err(e) => return vec![format!("golden stdout is not JSON: {e}")],
        };
        let strip = |mut v: Value| {
            if let Some(m) = v.as_object_mut() {
                m.remove("stats");
            }
            v["check"] = without_stats(v["check"].clone());
            v
        };
        if strip(g.clone()) != strip(lib.clone()) {
            errs.push(format!(
                "the golden report differs from haplan::headroom:\n{}",
                diff(
                    &serde_json::to_string_pretty(&strip(g.clone())).unwrap(),
                    &serde_json::to_string_pretty(&strip(lib)).unwrap()
                )
            ));
        }
        match golden_placement(pool, &g["placement"]) {
            Ok(x) => x,
            Err(e) => {
                errs.push(e);
                return errs;
            }
        }
    } else {
        let first = stdout.lines().next().unwrap_or("");
        if first.starts_with("OK:") != r.ok() {
            errs.push(format!(
                "golden verdict line {first:?} disagrees with haplan::headroom (ok {})",
                r.ok()
            ));
        }
        r.placement.clone()
    };
    // The placement, added to the pool, is checked from scratch.
    let count: u32 = placement.iter().sum();
    if count != r.max_additional {
        errs.push(format!(
            "the placement has {count} VMs, max_additional is {}",
            r.max_additional
        ));
    }
    if count > 0 {
        let after = haplan_tests::with_new_vms(pool, &reference, &placement);
        let report = haplan::check(
            &after,
            &CheckOptions {
                tolerate: Some(k),
                ..CheckOptions::default()
            },
        );
        if report.stranded_now || report.max_tolerable < k {
            errs.push(format!(
                "with the placement the pool tolerates {}, not {k}",
                report.max_tolerable
            ));
        }
        if small && !haplan_tests::reference_tolerates(&after, k) {
            errs.push(format!(
                "the reference finds the placement not tolerating {k}"
            ));
        }
    }
    errs
}

/// `drain`: the library's report matches the golden one (JSON) or its
/// verdict line (text); a plan is valid and its end state tolerates K by
/// the brute-force reference, whose verdict is the library's on small pools.
fn drain_checks(run: &Run, pool: &Pool, golden: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let exit = golden_exit(golden);
    let stdout = golden_stdout(golden);
    let command = &run.command;
    let time_limit = arg_value(command, "--time-limit").map(|s| {
        assert_eq!(
            s.parse::<f64>().expect("--time-limit takes seconds"),
            0.0,
            "fixtures use only --time-limit 0 (deterministic)"
        );
        std::time::Duration::ZERO
    });
    let host = &command[1];
    let h = match haplan::drain::host_to_drain(pool, host) {
        Ok(h) => h,
        Err(e) => {
            errs.extend(golden_error(golden, &e.to_string(), "this host"));
            return errs;
        }
    };
    let opts = haplan::DrainOptions {
        tolerate: arg_value(command, "--tolerate").and_then(|k| k.parse().ok()),
        time_limit,
        ..Default::default()
    };
    let r = haplan::drain(pool, h, &opts).expect("an up host");
    if exit != Some(verdict_exit(r.verdict())) {
        errs.push(format!(
            "golden exit {exit:?}, but haplan::drain's verdict is {:?}",
            r.verdict()
        ));
    }
    if time_limit.is_none() && r.verdict() == haplan::Verdict::Undecided {
        errs.push("haplan::drain is undecided without a time limit".into());
    }
    let k = r.tolerate;
    let small = pool.hosts.len() <= 6 && pool.vms.len() <= 10;
    if small && r.verdict() != haplan::Verdict::Undecided {
        let want = haplan_tests::reference_drainable(pool, h, k);
        if want != r.ok() {
            errs.push(format!(
                "the reference finds the host drainable: {want}, haplan::drain: {}",
                r.ok()
            ));
        }
    }
    let moves: Vec<(usize, usize)> = if arg_value(command, "--format") == Some("json") {
        let g: Value = match serde_json::from_str(stdout) {
            Ok(g) => g,
            Err(e) => return vec![format!("golden stdout is not JSON: {e}")],
        };
        let lib = haplan_wire::report::drain_json(pool, &r);
        let strip = |mut v: Value| {
            if let Some(m) = v.as_object_mut() {
                m.remove("stats");
            }
            if v["end_state"].is_object() {
                v["end_state"] = without_stats(v["end_state"].clone());
            }
            v
        };
        if strip(g.clone()) != strip(lib.clone()) {
            errs.push(format!(
                "the golden report differs from haplan::drain:\n{}",
                diff(
                    &serde_json::to_string_pretty(&strip(g.clone())).unwrap(),
                    &serde_json::to_string_pretty(&strip(lib)).unwrap()
                )
            ));
        }
        let mut out = Vec::new();
        for m in g["moves"].as_array().into_iter().flatten() {
            let vm = m["vm"].as_str().and_then(|v| pool.vm_by_name(v));
            let to = m["to"].as_str().and_then(|t| pool.host_by_name(t));
            match (vm, to) {
                (Some(v), Some(t)) => out.push((v, t)),
                _ => errs.push(format!("golden move {m} names no VM or host of the pool")),
            }
        }
        out
    } else {
        let first = stdout.lines().next().unwrap_or("");
        if first.starts_with("OK:") != r.ok() {
            errs.push(format!(
                "golden verdict line {first:?} disagrees with haplan::drain (ok {})",
                r.ok()
            ));
        }
        r.moves().iter().map(|m| (m.vm, m.to)).collect()
    };
    if r.ok() {
        // The plan, applied to the pool, is checked from scratch.
        let (vms, to): (Vec<usize>, Vec<usize>) = moves.into_iter().unzip();
        if let Some(why) = haplan_tests::reference_drain_invalid(pool, h, &vms, &to) {
            errs.push(format!("the golden plan is not a valid drain: {why}"));
        }
        let end = haplan_tests::drained(pool, h, &vms, &to);
        let report = haplan::check(
            &end,
            &CheckOptions {
                tolerate: Some(k),
                ..CheckOptions::default()
            },
        );
        if !report.ok() {
            errs.push(format!(
                "after the golden plan the pool tolerates {}, not {k} (or a VM is not agile)",
                report.max_tolerable
            ));
        }
        if small && !haplan_tests::reference_end_ok(&end, k) {
            errs.push(format!(
                "the reference finds the end state not tolerating {k}"
            ));
        }
    }
    errs
}

/// A witness set is infeasible: its protected-only plan is valid and leaves
/// exactly the witness's VMs unplaced, at least one of them agile.
fn witness_checks(pool: &Pool, failed: &[usize], unplaced: &[String]) -> Vec<String> {
    let mut errs = Vec::new();
    let an = Analysis::new(pool);
    let p = haplan::plan::plan(&an, failed, Scope::ProtectedOnly, &Budget::unlimited());
    if let Err(v) = haplan::verify_plan(pool, &p) {
        errs.push(format!("the witness's plan fails verify_plan: {v:?}"));
    }
    let mut left = vm_names(pool, p.unplaced.iter().map(|u| u.vm));
    // Not-agile VMs are not counted in the tolerance: an agile one must be left out.
    if !p.unplaced.iter().any(|u| an.agility.is_agile(u.vm)) {
        errs.push(
            "the witness set's plan places every protected VM: the witness is not infeasible"
                .into(),
        );
    }
    let mut listed = unplaced.to_vec();
    left.sort();
    listed.sort();
    if left != listed {
        errs.push(format!(
            "the witness lists {unplaced:?} unplaced, its plan leaves {left:?}"
        ));
    }
    errs
}

/// Reads a plan back from its JSON and checks it with `verify_plan`.
fn golden_plan_checks(pool: &Pool, g: &Value) -> Vec<String> {
    let mut errs = Vec::new();
    let host = |n: &Value| pool.host_by_name(n.as_str().unwrap_or_default());
    let vm = |n: &Value| pool.vm_by_name(n.as_str().unwrap_or_default());
    let mut failed: Vec<usize> = Vec::new();
    for h in g["failed_hosts"].as_array().into_iter().flatten() {
        match host(h) {
            Some(h) => failed.push(h),
            None => errs.push(format!("golden plan fails unknown host {h}")),
        }
    }
    let mut placements = Vec::new();
    for p in g["placements"].as_array().into_iter().flatten() {
        match (vm(&p["vm"]), host(&p["host"]), p["order"].as_u64()) {
            (Some(v), Some(h), Some(order)) => placements.push(haplan::plan::Placement {
                vm: v,
                host: h,
                order: order as u32,
            }),
            _ => errs.push(format!(
                "golden placement {p} does not name a VM, a host and an order"
            )),
        }
    }
    let mut unplaced = Vec::new();
    for u in g["unplaced"].as_array().into_iter().flatten() {
        match vm(&u["vm"]) {
            Some(v) => unplaced.push(haplan::plan::Unplaced {
                vm: v,
                reason: u["reason"].as_str().unwrap_or_default().to_string(),
            }),
            None => errs.push(format!("golden unplaced entry {u} names no VM")),
        }
    }
    let mut soft_broken = Vec::new();
    for b in g["soft_broken"].as_array().into_iter().flatten() {
        let rule = match (b["group"].as_str(), vm(&b["vm"])) {
            (Some(name), _) => haplan::plan::SoftRule::Group(name.to_string()),
            (None, Some(v)) => haplan::plan::SoftRule::PreferredHosts(v),
            (None, None) => {
                errs.push(format!("golden soft_broken entry {b} names no group or VM"));
                continue;
            }
        };
        soft_broken.push(haplan::plan::BrokenRule {
            rule,
            reason: b["reason"].as_str().unwrap_or_default().to_string(),
        });
    }
    let plan = haplan::Plan {
        failed,
        placements,
        unplaced,
        exact: true,
        protected_short: false,
        soft_broken,
    };
    if let Err(v) = haplan::verify_plan(pool, &plan) {
        errs.push(format!("the golden plan fails verify_plan: {v:?}"));
    }
    if g["complete"].as_bool() != Some(plan.all_protected_placed(pool)) {
        errs.push("the golden plan's \"complete\" disagrees with its unplaced list".into());
    }
    errs
}

#[test]
fn fixtures_match_golden_files_in_process_and_through_the_binary() {
    let cases =
        load_cases().unwrap_or_else(|e| panic!("malformed fixture tree:\n  {}", e.join("\n  ")));
    let bin = binary().unwrap_or_else(|e| panic!("{e}"));
    let update = std::env::var_os("UPDATE_EXPECT").is_some_and(|v| v == "1");
    let mut failures: Vec<String> = Vec::new();
    let mut runs = 0;
    let mut updated = Vec::new();
    let schemas = answer_schemas();
    let mut answers: BTreeMap<&str, usize> = BTreeMap::new();
    for case in &cases {
        for run in &case.runs {
            runs += 1;
            let label = format!("{} [{}]", case.label(), run.id);
            let args = case.args(run);
            let stdin = case.stdin(run);
            let inproc = run_in_process(&args, &stdin);
            let child = run_binary(&bin, &args, &stdin);
            // The answer as printed (the golden file is the same with its
            // stats normalised).
            for e in answer_checks(&schemas, run, &child, &mut answers) {
                failures.push(format!("{label}: {e}"));
            }
            let (inproc, child) = match (normalise(&inproc), normalise(&child)) {
                (Ok(a), Ok(b)) => (a, b),
                (Err(e), _) | (_, Err(e)) => {
                    failures.push(format!("{label}: {e}"));
                    continue;
                }
            };
            if inproc != child {
                failures.push(format!(
                    "{label}: haplan_cli::run and the binary {} differ (- in-process, + binary; \
                     a stale binary? rebuild with `cargo build --release -p haplan-cli`):\n{}",
                    bin.display(),
                    diff(&render(&inproc), &render(&child))
                ));
                continue;
            }
            if !case.valid
                && (child.exit != 2
                    || !(child.stdout.is_empty()
                        || json_error_matches(&child.stdout, &child.stderr))
                    || child.stderr.is_empty())
            {
                failures.push(format!(
                    "{label}: a bad pool must exit 2 with a message on stderr and nothing on stdout (or, with --format json, its JSON error object), got:\n{}",
                    render(&child)
                ));
            }
            let actual = render(&child);
            let path = case.expected_path(run);
            let golden = std::fs::read_to_string(&path).ok();
            if update {
                if golden.as_deref() != Some(actual.as_str()) {
                    std::fs::write(&path, &actual)
                        .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
                    updated.push(path.display().to_string());
                }
            } else {
                match &golden {
                    None => failures.push(format!(
                        "{label}: no golden file {} (run with UPDATE_EXPECT=1 to create it, then review it)",
                        path.display()
                    )),
                    Some(g) if *g != actual => failures.push(format!(
                        "{label}: output differs from {} (- golden, + actual; UPDATE_EXPECT=1 rewrites it):\n{}",
                        path.display(),
                        diff(g, &actual)
                    )),
                    Some(_) => {}
                }
            }
            let golden = if update {
                actual
            } else {
                golden.unwrap_or_default()
            };
            for e in library_checks(case, run, &golden) {
                failures.push(format!("{label}: {e}"));
            }
        }
    }
    if !updated.is_empty() {
        eprintln!(
            "UPDATE_EXPECT=1: rewrote {} golden files:\n  {}",
            updated.len(),
            updated.join("\n  ")
        );
    }
    if !failures.is_empty() {
        panic!(
            "{} of {runs} fixture runs ({} fixtures) failed:\n\n{}",
            failures.len(),
            cases.len(),
            failures.join("\n\n")
        );
    }
    assert!(
        cases.len() >= 40 && runs >= 50,
        "only {} fixtures with {runs} runs found",
        cases.len()
    );
    for answer in Answer::ALL {
        assert!(
            answers.get(answer.name()).is_some_and(|&n| n > 0),
            "no fixture prints `haplan {} --format json`: its schema is not tested ({answers:?})",
            answer.name()
        );
    }
    eprintln!(
        "{} fixtures, {runs} runs: all match; JSON answers valid against their schema: {answers:?}",
        cases.len()
    );
}

/// Every answer's JSON Schema (`haplan schema ANSWER`), itself a valid JSON
/// Schema, compiled.
fn answer_schemas() -> Vec<(Answer, jsonschema::Validator)> {
    Answer::ALL
        .into_iter()
        .map(|a| {
            let schema = a.schema();
            if let Err(e) = jsonschema::meta::validate(&schema) {
                panic!("the schema of {} is not a valid JSON Schema: {e}", a.name());
            }
            let validator = jsonschema::validator_for(&schema)
                .unwrap_or_else(|e| panic!("cannot compile the schema of {}: {e}", a.name()));
            (a, validator)
        })
        .collect()
}

/// For a run printing a JSON answer (`--format json`, not exit 2): the
/// answer is valid against its command's schema (which lists every field,
/// so a field printed but missing from the schema fails), and its
/// `verdict` gives the exit code.
fn answer_checks<'a>(
    schemas: &[(Answer, jsonschema::Validator)],
    run: &'a Run,
    out: &Outcome,
    seen: &mut BTreeMap<&'a str, usize>,
) -> Vec<String> {
    let Some((answer, validator)) = schemas.iter().find(|(a, _)| a.name() == run.command[0]) else {
        return Vec::new();
    };
    if arg_value(&run.command, "--format") != Some("json") || out.exit == 2 {
        return Vec::new();
    }
    let value: Value = match serde_json::from_str(&out.stdout) {
        Ok(v) => v,
        Err(e) => {
            return vec![format!(
                "{} --format json printed no JSON: {e}",
                answer.name()
            )];
        }
    };
    *seen.entry(answer.name()).or_default() += 1;
    let mut out_errors: Vec<String> = validator
        .iter_errors(&value)
        .map(|e| {
            format!(
                "not valid against `haplan schema {}`: {}: {e}",
                answer.name(),
                e.instance_path()
            )
        })
        .collect();
    match haplan_wire::report::verdict_of(&value) {
        Some(v) if haplan_wire::report::exit_code(v) == out.exit => {}
        Some(v) => out_errors.push(format!(
            "verdict {:?} says exit {}, the command exited {}",
            value["verdict"],
            haplan_wire::report::exit_code(v),
            out.exit
        )),
        None => out_errors.push(format!("no verdict in {}", answer.name())),
    }
    out_errors
}

/// `solver/wire/schema/<answer>.schema.json`: what `haplan schema ANSWER`
/// prints, committed for readers outside Rust (the Python tests check their
/// classes against them). `UPDATE_EXPECT=1` rewrites them.
#[test]
fn answer_schema_files_are_generated_from_the_types() {
    let dir = workspace_root().join("solver/wire/schema");
    let update = std::env::var_os("UPDATE_EXPECT").is_some_and(|v| v == "1");
    let mut stale = Vec::new();
    for a in Answer::ALL {
        let path = dir.join(format!("{}.schema.json", a.name()));
        let mut want = serde_json::to_string_pretty(&a.schema()).expect("serializable");
        want.push('\n');
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        if have != want {
            if update {
                std::fs::write(&path, &want)
                    .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
            } else {
                stale.push(path.display().to_string());
            }
        }
    }
    let listed = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .count();
    assert_eq!(
        listed,
        Answer::ALL.len(),
        "{}: one file per answer",
        dir.display()
    );
    assert!(
        stale.is_empty(),
        "not what `haplan schema` prints (UPDATE_EXPECT=1 rewrites them): {stale:?}"
    );
}

#[test]
fn answer_schemas_are_closed_and_list_what_is_required() {
    let schemas = answer_schemas();
    let check = &schemas[0].1;
    let pool = haplan::parse_pool(
        r#"{"name": "p", "hosts": [{"name": "h1", "capacity": {"memory_mib": 8}},
            {"name": "h2", "capacity": {"memory_mib": 8}}],
            "vms": [{"name": "a", "host": "h1", "demand": {"memory_mib": 4}}]}"#,
    )
    .expect("a valid pool");
    let report = haplan::check(&pool, &CheckOptions::default());
    let answer = haplan_wire::report::check_json(&pool, &report);
    assert!(check.is_valid(&answer), "{answer}");
    // A field the type does not have, at the top and nested.
    let mut extra = answer.clone();
    extra["surprise"] = Value::from(1);
    assert!(!check.is_valid(&extra), "an unknown field is rejected");
    let mut nested = answer.clone();
    nested["stats"]["surprise"] = Value::from(1);
    assert!(
        !check.is_valid(&nested),
        "an unknown nested field is rejected"
    );
    // A field always printed is required; a verdict outside the vocabulary
    // is rejected.
    let mut missing = answer.clone();
    missing
        .as_object_mut()
        .expect("an object")
        .remove("verdict");
    assert!(!check.is_valid(&missing), "the verdict is required");
    let mut odd = answer;
    odd["verdict"] = Value::from("maybe");
    assert!(!check.is_valid(&odd), "the verdict's vocabulary is closed");
    // `haplan schema ANSWER` prints the same schema.
    for (a, _) in &schemas {
        let mut out = Vec::new();
        let mut err = Vec::new();
        let code = haplan_cli::run(
            ["haplan", "schema", a.name()].map(String::from).to_vec(),
            &mut &b""[..],
            &mut out,
            &mut err,
        );
        assert_eq!(code, 0, "{}", String::from_utf8_lossy(&err));
        let printed: Value = serde_json::from_slice(&out).expect("JSON");
        assert_eq!(printed, a.schema(), "haplan schema {}", a.name());
    }
}

#[test]
fn json_schema_accepts_every_valid_fixture_and_rejects_the_bad_ones_it_can_express() {
    let path = workspace_root().join("solver/core/schema/haplan-v1.schema.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    assert_eq!(
        text,
        haplan_cli::cli::POOL_SCHEMA,
        "`haplan schema` must print {}",
        path.display()
    );
    let schema: Value = serde_json::from_str(&text).expect("the schema is JSON");
    if let Err(e) = jsonschema::meta::validate(&schema) {
        panic!("the schema is not a valid JSON Schema: {e}");
    }
    let validator = jsonschema::validator_for(&schema)
        .unwrap_or_else(|e| panic!("cannot compile the schema: {e}"));
    let cases =
        load_cases().unwrap_or_else(|e| panic!("malformed fixture tree:\n  {}", e.join("\n  ")));
    let mut failures = Vec::new();
    let mut checked = 0;
    for case in &cases {
        let text = case.text();
        let value: Value = match serde_json::from_str(&text) {
            Ok(v) => v,
            Err(e) => {
                if case.schema_valid.is_some() || case.valid {
                    failures.push(format!("{}: not JSON: {e}", case.label()));
                }
                continue;
            }
        };
        if case.schema_valid.is_none() && !case.valid {
            failures.push(format!(
                "{}: schema_valid is null (not JSON) but the file is JSON",
                case.label()
            ));
            continue;
        }
        checked += 1;
        let errors: Vec<String> = validator
            .iter_errors(&value)
            .map(|e| format!("{}: {e}", e.instance_path()))
            .collect();
        let want_valid = case.valid || case.schema_valid == Some(true);
        match (want_valid, errors.is_empty()) {
            (true, false) => failures.push(format!(
                "{}: the schema rejects it:\n    {}",
                case.label(),
                errors.join("\n    ")
            )),
            (false, true) => failures.push(format!(
                "{}: haplan rejects it, but the schema accepts it",
                case.label()
            )),
            _ => {}
        }
    }
    // The pools that runs pass beside their fixture (diff's NEW), when they
    // are no fixture of their own: valid pools, accepted by the schema and
    // by haplan.
    let mut companions: BTreeSet<(String, PathBuf)> = BTreeSet::new();
    for case in &cases {
        for run in &case.runs {
            for path in &run.with {
                let name = path.file_name().unwrap().to_string_lossy().to_string();
                let own = path.parent() == case.pool.parent()
                    && !path
                        .with_file_name(name.replace(".json", ".case.json"))
                        .exists();
                if own && !name.ends_with(".changes.json") {
                    assert!(
                        case.valid,
                        "{}: bad/ fixtures take no \"with\" pools",
                        case.label()
                    );
                    companions.insert((case.family.clone(), path.clone()));
                }
            }
        }
    }
    for (family, path) in &companions {
        let label = format!(
            "fixtures/{family}/{}",
            path.file_name().unwrap().to_string_lossy()
        );
        let text = std::fs::read_to_string(path).expect("a with file is readable");
        let value: Value = match serde_json::from_str(&text) {
            Ok(v) => v,
            Err(e) => {
                failures.push(format!("{label}: not JSON: {e}"));
                continue;
            }
        };
        checked += 1;
        let errors: Vec<String> = validator
            .iter_errors(&value)
            .map(|e| format!("{}: {e}", e.instance_path()))
            .collect();
        if !errors.is_empty() {
            failures.push(format!(
                "{label}: the schema rejects it:\n    {}",
                errors.join("\n    ")
            ));
        }
        if let Err(e) = haplan::parse_pool(&text) {
            failures.push(format!("{label}: haplan rejects it: {e}"));
        }
    }
    assert!(
        !companions.is_empty(),
        "no pool is passed beside its fixture (diff's NEW): the walk above finds none"
    );
    assert!(
        failures.is_empty(),
        "{} schema mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        checked >= 40,
        "only {checked} fixtures checked against the schema"
    );
}

/// Whether `stdout` is the JSON error object (`--format json`) of the
/// error `stderr` reports: its `message` is stderr's, without `haplan: `.
fn json_error_matches(stdout: &str, stderr: &str) -> bool {
    serde_json::from_str::<Value>(stdout).is_ok_and(|v| {
        v["error"].is_string()
            && v["problems"].is_array()
            && v["message"]
                .as_str()
                .is_some_and(|m| stderr == format!("haplan: {m}\n"))
    })
}

/// A complaint when `golden` is not exactly the CLI's output for a rejected
/// input: exit 2, nothing on stdout, `haplan: <message>` on stderr.
fn golden_error(golden: &str, message: &str, what: &str) -> Option<String> {
    let want = format!("exit: 2\n--- stdout\n--- stderr\nhaplan: {message}\n");
    // With `--format json` the error is also a JSON object on stdout, whose
    // message is the same.
    let as_json = golden
        .strip_prefix("exit: 2\n--- stdout\n")
        .and_then(|rest| rest.split_once("--- stderr\n"))
        .is_some_and(|(stdout, stderr)| {
            stderr == format!("haplan: {message}\n") && json_error_matches(stdout, stderr)
        });
    (golden != want && !as_json).then(|| {
        format!(
            "the golden output is not the library's error for {what}:\n{}",
            diff(&want, golden)
        )
    })
}

/// `tiers --format json`: the golden report is the library's.
fn tiers_checks(run: &Run, pool: &Pool, stdout: &str) -> Vec<String> {
    let flag = |name: &str| {
        run.command
            .iter()
            .position(|a| a == name)
            .map(|i| run.command[i + 1].clone())
    };
    assert!(flag("--time-limit").is_none(), "tiers checks are exact");
    let opts = haplan::TiersOptions {
        tolerate: flag("--tolerate").map(|k| k.parse().unwrap()),
        ..Default::default()
    };
    let lib = haplan_wire::report::tiers_json(pool, &haplan::tiers(pool, &opts));
    match serde_json::from_str::<Value>(stdout) {
        Ok(g) if g == lib => Vec::new(),
        Ok(g) => vec![format!(
            "golden tiers report differs from haplan::tiers:\n{}",
            diff(
                &serde_json::to_string_pretty(&g).unwrap(),
                &serde_json::to_string_pretty(&lib).unwrap()
            )
        )],
        Err(e) => vec![format!("golden stdout is not JSON: {e}")],
    }
}
