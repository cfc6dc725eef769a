//! Prints, for the generated pools of the performance targets, the answer and
//! how long it takes: median of several in-process runs, the whole `haplan`
//! process, peak memory, and ratios against deciding every failure set one by
//! one and against one ILP per failure set (extrapolated from a sample).
//!
//! A second table gives `headroom` for a reference VM shape on pools of the
//! same sizes: the exact count, and how long the whole question takes.
//!
//! `cargo run --release -p haplan-benches --example bench [-- --runs N] [--quick] [--headroom-only]`

use std::time::{Duration, Instant};

use haplan::{CheckOptions, HeadroomOptions, Shape, Strategy, check, headroom, pool_from_value};
use haplan_benches::{memory_pool, mixed_pool, tshirt_pool, twins_pool};
use serde_json::Value;

struct Case {
    name: &'static str,
    pool: fn() -> Value,
    tolerate: Option<u32>,
    /// Compare with deciding every failure set (only where that finishes).
    enumerate: bool,
    /// Sample this many failure sets of size `tolerate` with one ILP each.
    ilp_sample: usize,
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "mem hosts=16 vms=320",
            pool: || memory_pool(16, 20, 1),
            tolerate: None,
            enumerate: true,
            ilp_sample: 0,
        },
        Case {
            name: "mem hosts=32 vms=960",
            pool: || memory_pool(32, 30, 2),
            tolerate: None,
            enumerate: true,
            ilp_sample: 0,
        },
        Case {
            name: "mem hosts=64 vms=960",
            pool: || memory_pool(64, 15, 5),
            tolerate: None,
            enumerate: false,
            ilp_sample: 0,
        },
        Case {
            name: "mem hosts=64 vms=768 (30+)",
            pool: || memory_pool(64, 12, 2),
            tolerate: None,
            enumerate: false,
            ilp_sample: 0,
        },
        Case {
            name: "mem hosts=48 vms=960",
            pool: || memory_pool(48, 20, 8),
            tolerate: None,
            enumerate: false,
            ilp_sample: 0,
        },
        Case {
            name: "tshirt hosts=64 vms=1000 res=2",
            pool: || tshirt_pool(64, 1000, 4),
            tolerate: Some(3),
            enumerate: false,
            ilp_sample: 300,
        },
        Case {
            name: "mixed hosts=64 vms=1000 res=2",
            pool: || mixed_pool(64, 1000, 2, 0, 3),
            tolerate: Some(3),
            enumerate: true,
            ilp_sample: 300,
        },
        Case {
            name: "mixed hosts=100 vms=5000 res=12 aa=500",
            pool: || mixed_pool(100, 5000, 12, 500, 9),
            tolerate: Some(2),
            enumerate: true,
            ilp_sample: 0,
        },
        Case {
            name: "twins hosts=40 res=2",
            pool: || twins_pool(40, 2, 3),
            tolerate: None,
            enumerate: false,
            ilp_sample: 0,
        },
    ]
}

struct HeadroomCase {
    name: &'static str,
    pool: fn() -> Value,
    tolerate: Option<u32>,
    /// The VM: (resource, amount).
    vm: &'static [(&'static str, i64)],
}

fn headroom_cases() -> Vec<HeadroomCase> {
    vec![
        HeadroomCase {
            name: "mem hosts=64 vms=960, vm 32 GiB",
            pool: || memory_pool(64, 15, 5),
            tolerate: None,
            vm: &[("memory_mib", 32768)],
        },
        HeadroomCase {
            name: "tshirt hosts=64 vms=1000, vm 32 GiB/8",
            pool: || tshirt_pool(64, 1000, 4),
            tolerate: Some(3),
            vm: &[("memory_mib", 32768), ("vcpus", 8)],
        },
        HeadroomCase {
            name: "tshirt hosts=64 vms=1000, vm 8 GiB/2",
            pool: || tshirt_pool(64, 1000, 4),
            tolerate: Some(1),
            vm: &[("memory_mib", 8192), ("vcpus", 2)],
        },
        HeadroomCase {
            name: "mixed hosts=64 vms=1000, vm 32 GiB/8",
            pool: || mixed_pool(64, 1000, 2, 0, 3),
            tolerate: Some(2),
            vm: &[("memory_mib", 32768), ("vcpus", 8)],
        },
    ]
}

/// The headroom table: the count, its proof, the median in process and as
/// a whole `haplan headroom` process, and how many tolerance checks it took.
fn headroom_table(runs: usize, haplan_bin: &std::path::Path) {
    println!();
    println!(
        "{:<40} {:>4} {:>6} {:>6} {:>10} {:>9} {:>10} {:>7}",
        "headroom case", "K", "count", "exact", "limit", "ms(lib)", "ms(cli)", "checks"
    );
    for (i, case) in headroom_cases().iter().enumerate() {
        let value = (case.pool)();
        let pool = pool_from_value(&value).unwrap();
        let shape = Shape {
            demand: case.vm.iter().map(|&(r, a)| (r.to_string(), a)).collect(),
            ..Shape::default()
        };
        let opts = HeadroomOptions {
            tolerate: case.tolerate,
            ..Default::default()
        };
        let mut times = Vec::new();
        let mut report = None;
        for _ in 0..runs {
            let t = Instant::now();
            let r = headroom(&pool, &shape, &opts).expect("a valid shape");
            times.push(t.elapsed());
            report = Some(r);
        }
        let report = report.unwrap();
        let lib = median(times);
        let path = std::env::temp_dir().join(format!("haplan-bench-headroom-{i}.json"));
        std::fs::write(&path, serde_json::to_string(&value).unwrap()).unwrap();
        let vm = serde_json::to_string(&shape.demand).unwrap();
        let cli = if haplan_bin.exists() {
            let mut t = Vec::new();
            for _ in 0..runs {
                let start = Instant::now();
                let mut cmd = std::process::Command::new(haplan_bin);
                cmd.arg("headroom").arg(&path).arg("--vm").arg(&vm);
                cmd.arg("--format").arg("json");
                if let Some(k) = case.tolerate {
                    cmd.arg("--tolerate").arg(k.to_string());
                }
                let out = cmd.output().unwrap();
                t.push(start.elapsed());
                assert!(out.status.code().is_some_and(|c| c <= 1), "haplan failed");
            }
            ms(median(t))
        } else {
            "(no bin)".to_string()
        };
        println!(
            "{:<40} {:>4} {:>6} {:>6} {:>10} {:>9} {:>10} {:>7}",
            case.name,
            report.tolerate,
            report.max_additional,
            report.exact,
            report.limit.kind.as_str(),
            ms(lib),
            cli,
            report.stats.checks
        );
        let _ = std::fs::remove_file(&path);
    }
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1e3)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runs: usize = args
        .iter()
        .position(|a| a == "--runs")
        .and_then(|i| args.get(i + 1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    if let Some(i) = args.iter().position(|a| a == "--peak") {
        // Child mode: one check, then report peak memory.
        let case = &cases()[args[i + 1].parse::<usize>().unwrap()];
        let pool = pool_from_value(&(case.pool)()).unwrap();
        let r = check(
            &pool,
            &CheckOptions {
                tolerate: case.tolerate,
                ..Default::default()
            },
        );
        std::hint::black_box(r);
        println!("{}", peak_kib());
        return;
    }
    let quick = args.iter().any(|a| a == "--quick");
    let haplan_bin = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("haplan");
    println!(
        "machine: {} cores; {}",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        cpu_name()
    );
    if args.iter().any(|a| a == "--headroom-only") {
        headroom_table(runs, &haplan_bin);
        return;
    }
    println!(
        "{:<40} {:>4} {:>5} {:>6} {:>9} {:>10} {:>9} {:>8} {:>12} {:>14}",
        "case",
        "K",
        "max",
        "exact",
        "ms(lib)",
        "ms(cli)",
        "peak MB",
        "sets",
        "vs each-set",
        "vs ILP/set"
    );
    for (i, case) in cases().iter().enumerate() {
        let value = (case.pool)();
        let pool = pool_from_value(&value).unwrap();
        let opts = CheckOptions {
            tolerate: case.tolerate,
            ..Default::default()
        };
        let mut times = Vec::new();
        let mut report = None;
        for _ in 0..runs {
            let t = Instant::now();
            let r = check(&pool, &opts);
            times.push(t.elapsed());
            report = Some(r);
        }
        let report = report.unwrap();
        let lib = median(times);
        // The whole process, reading the file.
        let path = std::env::temp_dir().join(format!("haplan-bench-{i}.json"));
        std::fs::write(&path, serde_json::to_string(&value).unwrap()).unwrap();
        let cli = if haplan_bin.exists() {
            let mut t = Vec::new();
            for _ in 0..runs {
                let start = Instant::now();
                let mut cmd = std::process::Command::new(&haplan_bin);
                cmd.arg("check").arg(&path).arg("--format").arg("json");
                if let Some(k) = case.tolerate {
                    cmd.arg("--tolerate").arg(k.to_string());
                }
                let out = cmd.output().unwrap();
                t.push(start.elapsed());
                assert!(out.status.code().is_some_and(|c| c <= 1), "haplan failed");
            }
            ms(median(t))
        } else {
            "(no bin)".to_string()
        };
        let peak = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--peak", &i.to_string()])
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse::<u64>().ok())
            .map_or("?".to_string(), |k| format!("{:.1}", k as f64 / 1024.0));
        let each = if case.enumerate && !quick {
            let t = Instant::now();
            let e = check(
                &pool,
                &CheckOptions {
                    strategy: Strategy::Enumerate,
                    ..opts
                },
            );
            let d = t.elapsed();
            assert_eq!(
                e.max_tolerable, report.max_tolerable,
                "{}: strategies disagree",
                case.name
            );
            format!("{:.0}x", d.as_secs_f64() / lib.as_secs_f64())
        } else {
            "-".to_string()
        };
        let ilp = if case.ilp_sample > 0 && !quick {
            let k = case.tolerate.unwrap() as usize;
            let (per_set, total_sets) = ilp_per_set(&pool, k, case.ilp_sample);
            let estimate = per_set * total_sets as f64;
            format!("{:.0}x ({:.0} s)", estimate / lib.as_secs_f64(), estimate)
        } else {
            "-".to_string()
        };
        println!(
            "{:<40} {:>4} {:>5} {:>6} {:>9} {:>10} {:>9} {:>8} {:>12} {:>14}",
            case.name,
            report.configured,
            report.max_tolerable,
            report.exact,
            ms(lib),
            cli,
            peak,
            report.stats.scenarios,
            each,
            ilp
        );
        let _ = std::fs::remove_file(&path);
    }
    headroom_table(runs, &haplan_bin);
}

/// Seconds per failure set with one ILP each, on `sample` sets of size k
/// spread over all of them, and how many sets of size k there are.
fn ilp_per_set(pool: &haplan::Pool, k: usize, sample: usize) -> (f64, u128) {
    let an = haplan::Analysis::new(pool);
    let up = pool.up_hosts();
    let n = up.len();
    let total: u128 = (0..k as u128).fold(1, |acc, i| acc * (n as u128 - i) / (i + 1));
    let mut rng = haplan_benches::Rng::new(7);
    let start = Instant::now();
    for _ in 0..sample {
        let mut set: Vec<usize> = Vec::new();
        while set.len() < k {
            let h = up[rng.range(0, n as u64 - 1) as usize];
            if !set.contains(&h) {
                set.push(h);
            }
        }
        let sc = an.scenario(&an.mask(&set));
        std::hint::black_box(haplan::pack::ilp::solve(
            &sc.instance,
            &haplan::Budget::unlimited(),
        ));
    }
    (start.elapsed().as_secs_f64() / sample as f64, total)
}

fn peak_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
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
