//! Every fixture run of a question the C API asks (`fixtures/*/*.case.json`,
//! any `--format`), asked through the C functions: an answer is valid
//! against its command's JSON Schema (`haplan schema COMMAND`, generated
//! from the types the CLI prints), and its `verdict` gives the exit code of
//! the CLI's golden run; a golden exit 2 (the question could not be asked)
//! is an error code from the C call, and an error code is a golden exit 2.

use std::collections::BTreeMap;
use std::ffi::{CStr, c_char};
use std::path::{Path, PathBuf};
use std::ptr;

use haplan_wire::report::{exit_code, verdict_of};
use haplan_wire::schema::Answer;
use serde_json::{Map, Value, json};

use super::*;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

/// One golden run: its arguments (the pool file left out), the files named
/// in `with`, and the CLI's exit code.
struct Run {
    label: String,
    pool: PathBuf,
    command: Vec<String>,
    with: Vec<PathBuf>,
    exit: i32,
}

fn runs() -> Vec<Run> {
    let mut out = Vec::new();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(fixtures())
        .expect("fixtures/")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    for dir in dirs {
        let mut cases: Vec<PathBuf> = std::fs::read_dir(&dir)
            .expect("a fixture family")
            .map(|e| e.expect("directory entry").path())
            .filter(|p| p.to_string_lossy().ends_with(".case.json"))
            .collect();
        cases.sort();
        for path in cases {
            let file = path.file_name().unwrap().to_string_lossy().to_string();
            let name = file.strip_suffix(".case.json").unwrap();
            let case: Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let runs: Vec<(String, &Value)> = match case.get("runs") {
                Some(Value::Array(runs)) => runs
                    .iter()
                    .map(|r| (r["id"].as_str().unwrap().to_string(), r))
                    .collect(),
                _ => {
                    let sub = case["command"][0].as_str().unwrap().to_string();
                    vec![(sub, &case)]
                }
            };
            for (id, run) in runs {
                let command: Vec<String> = run["command"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|a| a.as_str().unwrap().to_string())
                    .collect();
                let with = run
                    .get("with")
                    .and_then(Value::as_array)
                    .map(|w| w.iter().map(|f| dir.join(f.as_str().unwrap())).collect())
                    .unwrap_or_default();
                let golden = dir.join(format!("{name}.{id}.expected"));
                let golden = std::fs::read_to_string(&golden)
                    .unwrap_or_else(|e| panic!("{}: {e}", golden.display()));
                let exit = golden
                    .lines()
                    .next()
                    .and_then(|l| l.strip_prefix("exit: "))
                    .and_then(|n| n.parse().ok())
                    .unwrap_or_else(|| panic!("{name}.{id}.expected has no exit line"));
                let family = dir.file_name().unwrap().to_string_lossy();
                out.push(Run {
                    label: format!("fixtures/{family}/{name}.{id}"),
                    pool: dir.join(format!("{name}.json")),
                    command,
                    with,
                    exit,
                });
            }
        }
    }
    out
}

/// The question a run asks, as the C API's arguments.
struct Call {
    answer: Answer,
    /// The positional argument (drain's host).
    positional: Option<String>,
    options: Map<String, Value>,
    /// `plan --fail`.
    failed: Vec<String>,
    /// `headroom --vm`.
    vm: Option<String>,
}

/// A command-line value as JSON: a number or `null` as such, anything else
/// a string (which the C API rejects where the CLI wants a number, as the
/// CLI does).
fn value(v: &str) -> Value {
    serde_json::from_str::<Value>(v)
        .ok()
        .filter(|v| v.is_number() || v.is_null())
        .unwrap_or_else(|| Value::String(v.to_string()))
}

fn list(v: &str) -> Value {
    Value::Array(v.split(',').map(|s| Value::String(s.into())).collect())
}

/// The C call of a run, or why the C API cannot ask it (a command or an
/// option it does not have).
fn call(command: &[String]) -> Result<Call, String> {
    let answer = Answer::from_name(&command[0]).ok_or_else(|| format!("command {}", command[0]))?;
    let mut c = Call {
        answer,
        positional: None,
        options: Map::new(),
        failed: Vec::new(),
        vm: None,
    };
    let mut args = command[1..].iter();
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
            _ => (arg.as_str(), None),
        };
        if !flag.starts_with("--") {
            if c.positional.replace(arg.clone()).is_some() {
                return Err(format!("a second positional argument {arg}"));
            }
            continue;
        }
        let mut next_value = || {
            inline
                .clone()
                .or_else(|| args.next().cloned())
                .ok_or_else(|| format!("{flag} without its value"))
        };
        let key = match (answer, flag) {
            (_, "--format") => match next_value()?.as_str() {
                "json" | "text" | "markdown" => continue,
                f => return Err(format!("--format {f}")),
            },
            (Answer::Check | Answer::Whatif | Answer::Diff, "--explain") => {
                c.options.insert("explain".into(), Value::Bool(true));
                continue;
            }
            (Answer::Diff, "--no-regress") => {
                c.options.insert("no_regress".into(), Value::Bool(true));
                continue;
            }
            (Answer::Plan, "--fail") => {
                c.failed = next_value()?.split(',').map(String::from).collect();
                continue;
            }
            (Answer::Headroom, "--vm") => {
                c.vm = Some(next_value()?);
                continue;
            }
            (Answer::Headroom, "--storage" | "--networks") => {
                let v = list(&next_value()?);
                c.options.insert(flag[2..].to_string(), v);
                continue;
            }
            (Answer::Timing, "--fail") => {
                let v = list(&next_value()?);
                c.options.insert("fail".into(), v);
                continue;
            }
            (_, "--tolerate") => "tolerate",
            (_, "--time-limit") => "time_limit_s",
            (_, "--max-time") => "max_time_s",
            (_, "--threads") => "threads",
            (Answer::Timing, "--boot-time") => "boot_time_s",
            (Answer::Timing, "--fence-time") => "fence_time_s",
            (Answer::Timing, "--concurrency") => "concurrency",
            _ => return Err(format!("{} {flag}", answer.name())),
        };
        let v = value(&next_value()?);
        c.options.insert(key.into(), v);
    }
    Ok(c)
}

/// Takes a string haplan returned, and frees it.
fn take(s: *mut c_char) -> String {
    assert!(!s.is_null());
    let text = unsafe { CStr::from_ptr(s) }.to_str().unwrap().to_string();
    unsafe { haplan_string_free(s) };
    text
}

/// A pool from a file, or the C call's failure.
fn pool(path: &Path) -> Result<*mut haplan_pool, (haplan_result, String)> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut pool = ptr::null_mut();
    let mut err = ptr::null_mut();
    let rc = unsafe { haplan_pool_new(bytes.as_ptr(), bytes.len(), &mut pool, &mut err) };
    match rc {
        haplan_result::HAPLAN_OK => Ok(pool),
        rc => Err((rc, take(err))),
    }
}

/// Asks the run's question through the C API: the answer, or the result
/// code and the error JSON.
fn ask(run: &Run, c: &Call) -> Result<String, (haplan_result, String)> {
    let p = pool(&run.pool)?;
    let options = Value::Object(c.options.clone()).to_string();
    let (o, olen) = (options.as_ptr(), options.len());
    let mut report = ptr::null_mut();
    let mut err = ptr::null_mut();
    let (r, e) = (&mut report, &mut err);
    let mut extra_pool = None;
    let rc = unsafe {
        match c.answer {
            Answer::Check => haplan_check(p, o, olen, r, e),
            Answer::Plan => {
                let failed = json!(c.failed).to_string();
                haplan_plan(p, failed.as_ptr(), failed.len(), o, olen, r, e)
            }
            Answer::Agility => haplan_agility(p, r, e),
            Answer::Whatif => {
                let changes = std::fs::read(&run.with[0]).unwrap();
                let mut changed = ptr::null_mut();
                let rc = haplan_whatif(
                    p,
                    changes.as_ptr(),
                    changes.len(),
                    o,
                    olen,
                    r,
                    &mut changed,
                    e,
                );
                extra_pool = Some(changed);
                rc
            }
            Answer::Diff => match pool(&run.with[0]) {
                Ok(new) => {
                    extra_pool = Some(new);
                    haplan_diff(p, new, o, olen, r, e)
                }
                Err(failure) => {
                    haplan_pool_free(p);
                    return Err(failure);
                }
            },
            Answer::Headroom => {
                let vm = c.vm.clone().unwrap_or_default();
                haplan_headroom(p, vm.as_ptr(), vm.len(), o, olen, r, e)
            }
            Answer::Drain => {
                let host = json!(c.positional.clone().unwrap_or_default()).to_string();
                haplan_drain(p, host.as_ptr(), host.len(), o, olen, r, e)
            }
            Answer::Tiers => haplan_tiers(p, o, olen, r, e),
            Answer::Timing => haplan_timing(p, o, olen, r, e),
        }
    };
    unsafe {
        haplan_pool_free(p);
        // NULL when the call failed (outputs are written only on success).
        haplan_pool_free(extra_pool.unwrap_or(ptr::null_mut()));
    }
    match rc {
        haplan_result::HAPLAN_OK => Ok(take(report)),
        rc => {
            assert!(report.is_null(), "{}: a report and {rc:?}", run.label);
            Err((rc, take(err)))
        }
    }
}

#[test]
fn every_fixture_answer_is_valid_against_its_schema_and_its_verdict_is_the_golden_exit() {
    let schemas: Vec<(Answer, jsonschema::Validator)> = Answer::ALL
        .into_iter()
        .map(|a| (a, jsonschema::validator_for(&a.schema()).unwrap()))
        .collect();
    let mut errors = Vec::new();
    let mut answered: BTreeMap<&str, usize> = BTreeMap::new();
    let mut refused = 0;
    let mut skipped: BTreeMap<String, usize> = BTreeMap::new();
    for run in runs() {
        let c = match call(&run.command) {
            Ok(c) => c,
            Err(why) => {
                *skipped.entry(why).or_default() += 1;
                continue;
            }
        };
        let name = c.answer.name();
        match ask(&run, &c) {
            Err((rc, error)) => {
                refused += 1;
                if run.exit != 2 {
                    errors.push(format!(
                        "{}: the CLI answers (exit {}), the C call gives {rc:?}: {error}",
                        run.label, run.exit
                    ));
                }
            }
            Ok(report) => {
                *answered.entry(name).or_default() += 1;
                let answer: Value = serde_json::from_str(&report).unwrap();
                let validator = &schemas.iter().find(|(a, _)| *a == c.answer).unwrap().1;
                for e in validator.iter_errors(&answer) {
                    errors.push(format!(
                        "{}: not valid against `haplan schema {name}`: {e} (at {})",
                        run.label,
                        e.instance_path()
                    ));
                }
                match verdict_of(&answer).map(exit_code) {
                    None => errors.push(format!("{}: no verdict in {report}", run.label)),
                    Some(code) if code != run.exit => errors.push(format!(
                        "{}: verdict {} is exit {code}, the CLI's is {}",
                        run.label, answer["verdict"], run.exit
                    )),
                    Some(_) => {}
                }
            }
        }
    }
    eprintln!("answered {answered:?}, {refused} refused as by the CLI; not asked: {skipped:?}");
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    // Every answer asked, so a walk that finds nothing cannot pass.
    for a in Answer::ALL {
        assert!(
            answered.get(a.name()).is_some_and(|&n| n > 0),
            "no fixture answer of {}: {answered:?}",
            a.name()
        );
    }
    assert!(refused > 20, "only {refused} runs refused");
}
