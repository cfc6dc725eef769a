//! `haplan fleet`: `check` over many pool files at once, one row per file.
//!
//! The files are checked in parallel (rayon, on the `--threads` pool), each
//! with the same options; a file that cannot be read or is not a valid pool
//! is a row with its error, never the end of the run. The rows come in the
//! order of the arguments (a directory's pool files, its subdirectories'
//! included, sorted by path), each file once.

use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::ValueEnum;
use haplan::tolerance::{self, CheckOptions, Verdict};
use rayon::prelude::*;
use serde_json::{Value, json};

use crate::exit::{EXIT_BAD_INPUT, EXIT_NOT_OK, EXIT_OK, EXIT_UNDECIDED};

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub(crate) enum FleetFormat {
    /// A table, one line per pool, and a summary.
    Text,
    /// `{"pools": [rows], "summary": {...}}`.
    Json,
    /// A header, then one line per pool (RFC 4180 quoting).
    Csv,
}

/// The CSV (and JSON row) columns, in order.
const COLUMNS: [&str; 11] = [
    "path",
    "pool",
    "configured",
    "max_tolerable",
    "upper_bound",
    "exact",
    "ok",
    "verdict",
    "witness",
    "not_agile",
    "error",
];

/// At most this many bytes of paths are read from standard input (`-`).
const MAX_LIST_BYTES: u64 = 64 << 20;

/// The pool files named by `args`: a file as given; a directory's `*.json`
/// files, in it and in its subdirectories (symbolic links followed, each
/// directory walked once),
/// sorted by path; a glob pattern's matching files, sorted; or `-`, the
/// paths on `stdin`, one per line, each a file or a directory as an
/// argument is (never a pattern: the list is taken as written). Each file
/// once, in the order first named. An argument (or a line) that names
/// nothing is an error: a typo must not pass as an empty fleet.
pub(crate) fn expand(args: &[String], stdin: &mut dyn Read) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    let mut add = |p: PathBuf, out: &mut Vec<PathBuf>| {
        let id = std::fs::canonicalize(&p).unwrap_or_else(|_| p.clone());
        if seen.insert(id) {
            out.push(p);
        }
    };
    if args.iter().filter(|a| *a == "-").count() > 1 {
        return Err("- (the list of paths on standard input) can be given once".into());
    }
    for arg in args {
        if arg == "-" {
            for line in read_list(stdin)? {
                let path = Path::new(&line);
                if path.is_dir() {
                    directory(&line)?.into_iter().for_each(|p| add(p, &mut out));
                } else if path.exists() {
                    add(path.to_path_buf(), &mut out);
                } else {
                    return Err(format!(
                        "cannot read {line} (named on standard input): no such file or directory"
                    ));
                }
            }
            continue;
        }
        let path = Path::new(arg);
        if path.is_dir() {
            directory(arg)?.into_iter().for_each(|p| add(p, &mut out));
        } else if path.exists() {
            add(path.to_path_buf(), &mut out);
        } else if arg.contains(['*', '?', '[']) {
            let matches = glob::glob(arg).map_err(|e| format!("{arg}: not a pattern: {e}"))?;
            let mut files = Vec::new();
            for m in matches {
                let p =
                    m.map_err(|e| format!("cannot read {}: {}", e.path().display(), e.error()))?;
                if p.is_file() {
                    files.push(p);
                }
            }
            if files.is_empty() {
                return Err(format!("{arg}: no file matches"));
            }
            files.sort();
            files.into_iter().for_each(|p| add(p, &mut out));
        } else {
            return Err(format!("cannot read {arg}: no such file or directory"));
        }
    }
    Ok(out)
}

/// The `*.json` files under directory `arg`, sorted by path (each
/// directory's entries by name, a subdirectory's files where its name
/// sorts). Symbolic links are followed, and each directory is walked once,
/// by the first path that reaches it, so a link back to an ancestor (a
/// loop) or to a directory already walked adds nothing. A directory that
/// cannot be read is an error.
fn directory(arg: &str) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    // Each directory once, however many links lead to it: the first path
    // that reaches it is walked.
    let mut walked: HashSet<PathBuf> = HashSet::new();
    let walk = walkdir::WalkDir::new(arg)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| {
            !e.file_type().is_dir()
                || walked.insert(
                    std::fs::canonicalize(e.path()).unwrap_or_else(|_| e.path().to_path_buf()),
                )
        });
    for entry in walk {
        let entry = match entry {
            Ok(e) => e,
            Err(e) if e.loop_ancestor().is_some() => continue,
            Err(e) => {
                let at = e
                    .path()
                    .map_or_else(|| arg.to_string(), |p| p.display().to_string());
                let why = e
                    .io_error()
                    .map_or_else(|| e.to_string(), |io| io.to_string());
                return Err(format!("cannot read {at}: {why}"));
            }
        };
        let p = entry.path();
        if entry.file_type().is_file() && p.extension().is_some_and(|x| x == "json") {
            files.push(entry.into_path());
        }
    }
    if files.is_empty() {
        return Err(format!(
            "{arg}: no pool file (*.json) in this directory or its subdirectories"
        ));
    }
    Ok(files)
}

/// The paths listed on standard input: one per line (a final `\r` is
/// dropped, so lists written on Windows work), empty lines skipped, at most
/// [`MAX_LIST_BYTES`], in UTF-8.
fn read_list(stdin: &mut dyn Read) -> Result<Vec<String>, String> {
    let mut bytes = Vec::new();
    stdin
        .take(MAX_LIST_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read <stdin>: {e}"))?;
    if bytes.len() as u64 > MAX_LIST_BYTES {
        return Err(format!(
            "<stdin>: a list of paths larger than {MAX_LIST_BYTES} bytes"
        ));
    }
    let text = String::from_utf8(bytes).map_err(|e| {
        let p = haplan::strict::utf8(e.as_bytes()).expect_err("not UTF-8");
        format!("<stdin>: {p}")
    })?;
    let lines: Vec<String> = text
        .lines()
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    if lines.is_empty() {
        return Err("<stdin>: no path listed (one pool file or directory per line)".into());
    }
    Ok(lines)
}

/// One pool's answer, or why it has none.
struct Row {
    path: String,
    answer: Result<Answer, String>,
}

struct Answer {
    pool: String,
    configured: u32,
    max_tolerable: u32,
    upper_bound: u32,
    exact: bool,
    verdict: Verdict,
    /// The failing set's hosts, when the check found one.
    witness: Option<Vec<String>>,
    /// Protected VMs no host can restart.
    not_agile: usize,
    /// The VMs of hosts already down cannot all be restarted.
    stranded_now: bool,
}

/// Checks one file; `opts.time_limit` counts from the start of reading it
/// (reading and parsing a large file take a share of it).
fn check_file(path: &Path, opts: &CheckOptions) -> Row {
    let start = Instant::now();
    let shown = path.display().to_string();
    let answer = std::fs::read(path)
        .map_err(|e| format!("cannot read {shown}: {e}"))
        .and_then(|bytes| {
            let text = String::from_utf8(bytes).map_err(|e| {
                let p = haplan::strict::utf8(e.as_bytes()).expect_err("not UTF-8");
                format!("{shown}: {p}")
            })?;
            haplan::load::parse_pool(&text).map_err(|e| format!("{shown}: {e}"))
        })
        .map(|pool| {
            let opts = CheckOptions {
                time_limit: opts.time_limit.map(|l| l.saturating_sub(start.elapsed())),
                ..*opts
            };
            let r = tolerance::check(&pool, &opts);
            Answer {
                pool: r.pool.clone(),
                configured: r.configured,
                max_tolerable: r.max_tolerable,
                upper_bound: r.upper_bound,
                exact: r.exact,
                verdict: r.verdict(),
                witness: r.witness.as_ref().map(|w| {
                    w.failed
                        .iter()
                        .map(|&h| pool.hosts[h].name.clone())
                        .collect()
                }),
                not_agile: r.not_agile.len(),
                stranded_now: r.stranded_now,
            }
        });
    Row {
        path: shown,
        answer,
    }
}

fn verdict_name(v: Verdict) -> &'static str {
    match v {
        Verdict::Ok => "ok",
        Verdict::NotOk => "not_ok",
        Verdict::Undecided => "undecided",
    }
}

impl Row {
    /// The row's cells as JSON values, in the order of [`COLUMNS`].
    fn cells(&self) -> [Value; 11] {
        match &self.answer {
            Ok(a) => [
                json!(self.path),
                json!(a.pool),
                json!(a.configured),
                json!(a.max_tolerable),
                json!(a.upper_bound),
                json!(a.exact),
                json!(a.verdict == Verdict::Ok),
                json!(verdict_name(a.verdict)),
                json!(a.witness),
                json!(a.not_agile),
                Value::Null,
            ],
            Err(e) => {
                let mut cells = [const { Value::Null }; 11];
                cells[0] = json!(self.path);
                cells[7] = json!("error");
                cells[10] = json!(e);
                cells
            }
        }
    }
}

#[derive(Default)]
struct Summary {
    ok: usize,
    not_ok: usize,
    undecided: usize,
    errors: usize,
}

impl Summary {
    fn of(rows: &[Row]) -> Summary {
        let mut s = Summary::default();
        for r in rows {
            match &r.answer {
                Ok(a) => match a.verdict {
                    Verdict::Ok => s.ok += 1,
                    Verdict::NotOk => s.not_ok += 1,
                    Verdict::Undecided => s.undecided += 1,
                },
                Err(_) => s.errors += 1,
            }
        }
        s
    }

    /// 1 when any pool misses its policy, else 2 when any pool could not
    /// be checked, else 3 when any is undecided, else 0.
    fn exit_code(&self) -> i32 {
        if self.not_ok > 0 {
            EXIT_NOT_OK
        } else if self.errors > 0 {
            EXIT_BAD_INPUT
        } else if self.undecided > 0 {
            EXIT_UNDECIDED
        } else {
            EXIT_OK
        }
    }
}

/// Checks every file (in parallel on the current rayon pool) and returns
/// the exit code and the output.
pub(crate) fn run(
    files: &[PathBuf],
    tolerate: Option<u32>,
    time_limit: Option<Duration>,
    max_time: Option<Duration>,
    format: FleetFormat,
) -> (i32, String) {
    let opts = CheckOptions {
        tolerate,
        time_limit,
        max_time,
        ..CheckOptions::default()
    };
    let rows: Vec<Row> = files.par_iter().map(|p| check_file(p, &opts)).collect();
    let summary = Summary::of(&rows);
    let text = match format {
        FleetFormat::Json => json_out(&rows, &summary),
        FleetFormat::Csv => csv_out(&rows),
        FleetFormat::Text => text_out(&rows, &summary),
    };
    (summary.exit_code(), text)
}

fn json_out(rows: &[Row], s: &Summary) -> String {
    let pools: Vec<Value> = rows
        .iter()
        .map(|r| {
            let obj: serde_json::Map<String, Value> = COLUMNS
                .iter()
                .map(|c| c.to_string())
                .zip(r.cells())
                .collect();
            Value::Object(obj)
        })
        .collect();
    let v = json!({
        "pools": pools,
        "summary": {
            "pools": rows.len(),
            "ok": s.ok,
            "not_ok": s.not_ok,
            "undecided": s.undecided,
            "errors": s.errors,
        },
    });
    haplan_wire::report::json_text(&v)
}

/// A CSV field: quoted when it holds a comma, a quote or a line break.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn csv_out(rows: &[Row]) -> String {
    let mut out = COLUMNS.join(",");
    out.push_str("\r\n");
    for r in rows {
        let cells: Vec<String> = r
            .cells()
            .iter()
            .map(|v| match v {
                Value::Null => String::new(),
                Value::String(s) => csv_field(s),
                // The witness: host names separated by spaces.
                Value::Array(a) => csv_field(
                    &a.iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(" "),
                ),
                other => other.to_string(),
            })
            .collect();
        out.push_str(&cells.join(","));
        out.push_str("\r\n");
    }
    out
}

fn text_out(rows: &[Row], s: &Summary) -> String {
    let lines: Vec<[String; 4]> = rows
        .iter()
        .map(|r| match &r.answer {
            Ok(a) => {
                let tolerates = if a.exact {
                    a.max_tolerable.to_string()
                } else {
                    format!("{}..{}", a.max_tolerable, a.upper_bound)
                };
                let verdict = match a.verdict {
                    Verdict::Ok => "ok".to_string(),
                    Verdict::NotOk if a.stranded_now => {
                        "NOT OK: the VMs of hosts already down cannot all restart".to_string()
                    }
                    Verdict::NotOk if a.not_agile > 0 => {
                        format!("NOT OK: {} protected VMs not agile", a.not_agile)
                    }
                    Verdict::NotOk => match &a.witness {
                        Some(w) => format!("NOT OK: fails if {} die", w.join(", ")),
                        None => "NOT OK".to_string(),
                    },
                    Verdict::Undecided => "undecided (time limit)".to_string(),
                };
                [r.path.clone(), a.configured.to_string(), tolerates, verdict]
            }
            // The first line: the problems follow in the JSON and CSV rows.
            Err(e) => [
                r.path.clone(),
                "-".into(),
                "-".into(),
                format!("error: {}", e.lines().next().unwrap_or_default()),
            ],
        })
        .collect();
    let head = ["POOL FILE", "K", "TOLERATES", "VERDICT"].map(str::to_string);
    let mut width = [0; 3];
    for l in std::iter::once(&head).chain(&lines) {
        for (w, c) in width.iter_mut().zip(l) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    for l in std::iter::once(&head).chain(&lines) {
        out.push_str(&format!(
            "{:<w0$}  {:>w1$}  {:>w2$}  {}\n",
            l[0],
            l[1],
            l[2],
            l[3],
            w0 = width[0],
            w1 = width[1],
            w2 = width[2],
        ));
    }
    out.push_str(&format!(
        "{} pools: {} ok, {} not ok, {} undecided, {} errors\n",
        rows.len(),
        s.ok,
        s.not_ok,
        s.undecided,
        s.errors
    ));
    out
}
