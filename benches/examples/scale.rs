//! Answers, times and peak memory at scale: the generated shapes (the knife
//! edge, GPU hosts, large anti-affinity groups, thousands of hosts, near-full
//! small pools) and, given the data, the ROADEF/EURO 2012 instances
//! (`haplan_benches::roadef`) at 1.0, 1.5 and 2.0 times their capacity.
//!
//! Each case runs in a child process of its own (so that its peak memory is
//! its own), allocating as the `haplan` binary does (mimalloc, transparent
//! huge pages off): it parses the pool file, asks "does the pool tolerate K?"
//! (`haplan::tolerates`, for each K asked), then `check` for the exact
//! tolerance, each under the time limit. Times are medians of the runs (a
//! case whose check uses the whole time limit runs once).
//!
//! `cargo run --release -p haplan-benches --example scale -- [--roadef DIR] [--roadef-only]
//! [--runs N] [--time-limit S] [--only SUBSTRING] [--json OUT] [--before IN]`
//!
//! DIR holds `A/` and `B/` with the challenge's `model_*.txt` and
//! `assignment_*.txt`. `--json` writes the figures; `--before` adds the
//! figures of an earlier `--json` run as "before" columns.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use haplan::{Budget, CheckOptions, Tolerates, check, parse_pool, tolerates};
use haplan_benches::*;
use serde_json::{Value, json};

struct Case {
    name: String,
    /// What the pool looks like, for the table.
    size: String,
    pool: Box<dyn Fn() -> Value>,
    /// The K values asked with `tolerates`.
    ks: Vec<u32>,
}

fn generated() -> Vec<Case> {
    let case = |name: &str, ks: &[u32], pool: Box<dyn Fn() -> Value>| Case {
        name: name.to_string(),
        size: String::new(),
        pool,
        ks: ks.to_vec(),
    };
    vec![
        case(
            "knife-edge 32x9",
            &[2],
            Box::new(|| knife_edge_pool(32, 9, 1)),
        ),
        case(
            "knife-edge 64x9",
            &[2],
            Box::new(|| knife_edge_pool(64, 9, 1)),
        ),
        case(
            "gpu 64x1000 (48 GPU hosts, 6 GPU VMs)",
            &[2],
            Box::new(|| gpu_pool(64, 1000, 48, 6, 1)),
        ),
        case(
            "anti-affinity 100x2000, groups of 64",
            &[2],
            Box::new(|| anti_affinity_pool(100, 2000, 64, 1)),
        ),
        case(
            "tshirt 64x1000 (mem+vCPU)",
            &[2],
            Box::new(|| tshirt_pool(64, 1000, 4)),
        ),
        case(
            "mixed 64x1000x12, 100 groups",
            &[2],
            Box::new(|| mixed_pool(64, 1000, 12, 100, 5)),
        ),
        case(
            "mixed 256x10000x12, 1000 groups",
            &[2],
            Box::new(|| mixed_pool(256, 10000, 12, 1000, 6)),
        ),
        case("near-full 30", &[2], Box::new(|| near_full_pool(30, 1))),
        case("near-full 40", &[2], Box::new(|| near_full_pool(40, 2))),
        case(
            "filled 36, 55-75 %",
            &[2],
            Box::new(|| filled_pool(36, (55, 75), 3)),
        ),
        case(
            "tshirt 1000x5000",
            &[1, 2, 3],
            Box::new(|| tshirt_pool(1000, 5000, 7)),
        ),
        case(
            "tshirt 1000x25000",
            &[1, 2, 3],
            Box::new(|| tshirt_pool(1000, 25000, 8)),
        ),
        case(
            "mem 2000x100000 (1-6 GiB VMs)",
            &[1, 2, 3],
            Box::new(|| small_vm_pool(2000, 50, 6, 9)),
        ),
    ]
}

fn roadef_cases(dir: &Path) -> Vec<Case> {
    let mut out = Vec::new();
    let mut models: Vec<PathBuf> = ["A", "B"]
        .iter()
        .filter_map(|d| std::fs::read_dir(dir.join(d)).ok())
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("model_") && n.ends_with(".txt"))
        })
        .collect();
    models.sort();
    for model in models {
        let stem = model.file_stem().unwrap().to_str().unwrap().to_string();
        let id = stem.trim_start_matches("model_").to_string();
        let assignment = model.with_file_name(format!("assignment_{id}.txt"));
        if !assignment.exists() {
            continue;
        }
        let text = std::fs::read_to_string(&model).unwrap();
        let mut nums = text.split_ascii_whitespace();
        let nres: usize = nums.next().unwrap().parse().unwrap();
        let nmach: usize = nums.nth(2 * nres).unwrap().parse().unwrap();
        let procs = std::fs::read_to_string(&assignment)
            .unwrap()
            .split_ascii_whitespace()
            .count();
        let ks = if nmach > 100 { vec![1, 2, 3] } else { vec![2] };
        for scale in [1.0, 1.5, 2.0] {
            let (m, a) = (model.clone(), assignment.clone());
            let name = format!("{id} x{scale:.1}");
            let pool_name = format!("roadef-{id}-x{scale:.1}");
            out.push(Case {
                name,
                size: format!("{nmach}x{procs}x{nres}"),
                pool: Box::new(move || {
                    roadef::pool(
                        &pool_name,
                        &std::fs::read_to_string(&m).unwrap(),
                        &std::fs::read_to_string(&a).unwrap(),
                        scale,
                    )
                    .unwrap()
                }),
                ks: ks.clone(),
            });
        }
    }
    out
}

/// The child: one case, from its pool file; prints one JSON line.
fn child(path: &str, ks: &[u32], limit: Duration) {
    let start = Instant::now();
    let text = std::fs::read_to_string(path).unwrap();
    let pool = parse_pool(&text).unwrap();
    drop(text);
    let parse = start.elapsed();
    let mut asked = Vec::new();
    for &k in ks {
        let t = Instant::now();
        let budget = Budget {
            deadline: Some(t + limit),
            cancel: None,
        };
        let answer = match tolerates(&pool, k, &budget) {
            Tolerates::Yes => "yes",
            Tolerates::No(_) => "no",
            Tolerates::Unknown => "undecided",
        };
        asked.push(
            json!({"k": k, "answer": answer, "s": t.elapsed().as_secs_f64(),
                          "peak_kib": peak_kib()}),
        );
    }
    let t = Instant::now();
    let r = check(
        &pool,
        &CheckOptions {
            tolerate: Some(2),
            time_limit: Some(limit),
            ..Default::default()
        },
    );
    let check_s = t.elapsed().as_secs_f64();
    println!(
        "{}",
        json!({
            "parse_s": parse.as_secs_f64(),
            "tolerates": asked,
            "lower": r.max_tolerable, "upper": r.upper_bound, "exact": r.exact,
            "check_s": check_s,
            "peak_kib": peak_kib(),
        })
    );
}

fn peak_kib() -> u64 {
    status_kib("/proc/self/status")
}

fn status_kib(path: &str) -> u64 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// Runs the child on `path`; kills it after `wall` (then `None`, with the
/// peak memory seen).
fn run_child(path: &Path, ks: &[u32], limit: Duration, wall: Duration) -> (Option<Value>, u64) {
    let ks: Vec<String> = ks.iter().map(|k| k.to_string()).collect();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .arg("--child")
        .arg(path)
        .arg(ks.join(","))
        .arg(limit.as_secs_f64().to_string())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let status = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    loop {
        peak = peak.max(status_kib(&status));
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if start.elapsed() > wall {
            let _ = child.kill();
            let _ = child.wait();
            return (None, peak);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    let line = String::from_utf8_lossy(&out.stdout);
    (serde_json::from_str(line.trim()).ok(), peak)
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

// As the haplan binary allocates (`solver/cli/src/main.rs`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    // SAFETY: integer arguments only, as in the haplan binary.
    #[cfg(target_os = "linux")]
    unsafe {
        // Variadic: each argument as the unsigned long the kernel reads.
        let (on, zero): (libc::c_ulong, libc::c_ulong) = (1, 0);
        libc::prctl(libc::PR_SET_THP_DISABLE, on, zero, zero, zero);
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--child") {
        let ks: Vec<u32> = args[2].split(',').map(|k| k.parse().unwrap()).collect();
        child(
            &args[1],
            &ks,
            Duration::from_secs_f64(args[3].parse().unwrap()),
        );
        return;
    }
    const USAGE: &str = "usage: scale [--roadef DIR] [--roadef-only] [--runs N] [--time-limit S] \
                         [--only SUBSTRING] [--json OUT] [--before IN]";
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "-h" | "--help" => {
                println!("{USAGE}");
                return;
            }
            "--roadef-only" => i += 1,
            "--roadef" | "--runs" | "--time-limit" | "--only" | "--json" | "--before"
                if i + 1 < args.len() =>
            {
                i += 2
            }
            other => {
                eprintln!("scale: unexpected argument {other:?}\n{USAGE}");
                std::process::exit(2);
            }
        }
    }
    let opt = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let runs: usize = opt("--runs").map_or(3, |s| s.parse().unwrap());
    let limit = Duration::from_secs_f64(opt("--time-limit").map_or(60.0, |s| s.parse().unwrap()));
    let only = opt("--only");
    let before: Option<Value> = opt("--before").map(|p| {
        serde_json::from_str(&std::fs::read_to_string(p).unwrap()).expect("a --json file")
    });
    let mut cases = if args.iter().any(|a| a == "--roadef-only") {
        Vec::new()
    } else {
        generated()
    };
    if let Some(dir) = opt("--roadef") {
        cases.extend(roadef_cases(Path::new(&dir)));
    }
    println!(
        "machine: {} cores; {}; time limit {:.0} s; median of {runs} runs",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        cpu_name(),
        limit.as_secs_f64()
    );
    println!(
        "| pool | hosts x VMs x res | tolerates K? (s) | tolerance | check (s) | peak MB |{}",
        if before.is_some() {
            " before: tolerates K? (s) | tolerance | check (s) | peak MB |"
        } else {
            ""
        }
    );
    println!(
        "|---|---|---|---|---|---|{}",
        if before.is_some() {
            "---|---|---|---|"
        } else {
            ""
        }
    );
    let mut all = serde_json::Map::new();
    for case in &cases {
        if only
            .as_ref()
            .is_some_and(|o| !case.name.contains(o.as_str()))
        {
            continue;
        }
        let value = (case.pool)();
        let size = if case.size.is_empty() {
            let n = |k: &str| value[k].as_array().map_or(0, Vec::len);
            let nres = haplan::pool_from_value(&value).map_or(0, |p| p.resources.len());
            format!("{}x{}x{nres}", n("hosts"), n("vms"))
        } else {
            case.size.clone()
        };
        let path = std::env::temp_dir().join(format!("haplan-scale-{}.json", std::process::id()));
        std::fs::write(&path, serde_json::to_string(&value).unwrap()).unwrap();
        drop(value);
        let wall = limit * 3 + Duration::from_secs(30);
        let mut results = Vec::new();
        let mut peak = 0;
        for _ in 0..runs {
            let (r, p) = run_child(&path, &case.ks, limit, wall);
            peak = peak.max(p);
            let Some(r) = r else { break };
            // A run that used the whole time limit takes it again: once
            // is enough.
            let timed_out = r["check_s"].as_f64().unwrap_or(0.0) >= limit.as_secs_f64() * 0.9;
            results.push(r);
            if timed_out {
                break;
            }
        }
        let _ = std::fs::remove_file(&path);
        let row = summary(&results, peak, results.is_empty());
        let cell = |row: &Value| {
            format!(
                "{} | {} | {} |",
                row["tolerance"].as_str().unwrap_or("?"),
                row["check_s"].as_str().unwrap_or("?"),
                row["peak_mb"].as_str().unwrap_or("?")
            )
        };
        let prior = before
            .as_ref()
            .and_then(|b| b.get(&case.name))
            .map(|b| format!(" {} | {}", b["tolerates"].as_str().unwrap_or("?"), cell(b)))
            .unwrap_or_else(|| {
                if before.is_some() {
                    " - | - | - | - |".into()
                } else {
                    String::new()
                }
            });
        println!(
            "| {} | {size} | {} | {}{prior}",
            case.name,
            row["tolerates"].as_str().unwrap_or("?"),
            cell(&row)
        );
        all.insert(case.name.clone(), row);
    }
    if let Some(out) = opt("--json") {
        std::fs::write(
            out,
            serde_json::to_string_pretty(&Value::Object(all)).unwrap(),
        )
        .unwrap();
    }
}

/// One table row from the runs of a case: answers from the last run, times
/// the median, peak memory the largest.
fn summary(results: &[Value], peak_kib: u64, killed: bool) -> Value {
    let peak_mb = format!("{:.0}", peak_kib as f64 / 1024.0);
    let Some(last) = results.last() else {
        return json!({"tolerates": "killed", "tolerance": "killed", "check_s": "killed",
                      "peak_mb": format!(">{peak_mb}")});
    };
    let asked = last["tolerates"].as_array().unwrap();
    let tol: Vec<String> = (0..asked.len())
        .map(|i| {
            let s = median(
                results
                    .iter()
                    .map(|r| r["tolerates"][i]["s"].as_f64().unwrap())
                    .collect(),
            );
            format!(
                "{}: {} {}",
                asked[i]["k"],
                asked[i]["answer"].as_str().unwrap(),
                secs(s)
            )
        })
        .collect();
    let (lo, up) = (
        last["lower"].as_u64().unwrap(),
        last["upper"].as_u64().unwrap(),
    );
    let tolerance = if lo == up {
        lo.to_string()
    } else {
        format!("[{lo}, {up}]")
    };
    let check_s = median(
        results
            .iter()
            .map(|r| r["check_s"].as_f64().unwrap())
            .collect(),
    );
    json!({
        "tolerates": tol.join("; "),
        "tolerance": tolerance,
        "check_s": if killed { "killed".to_string() } else { secs(check_s) },
        "peak_mb": peak_mb,
        "lower": lo, "upper": up,
    })
}

fn secs(s: f64) -> String {
    if s < 0.1 {
        format!("{:.3}", s)
    } else if s < 10.0 {
        format!("{:.2}", s)
    } else {
        format!("{:.0}", s)
    }
}

fn cpu_name() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".to_string())
}
