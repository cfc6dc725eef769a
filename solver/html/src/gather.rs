//! The questions a report answers, asked under one time limit: `check`
//! (with the worst failure set even when the pool meets K), `tiers`,
//! `timing` and `headroom` for each shape, as the JSON of `haplan report
//! --format json` (docs/cli.md).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use haplan::headroom::{HeadroomError, HeadroomOptions, Shape};
use haplan::model::Pool;
use haplan::tiers::TiersOptions;
use haplan::timing::TimingOptions;
use haplan::tolerance::{CheckOptions, Verdict};
use haplan_wire::{report, summary};

/// What to ask.
#[derive(Clone, Debug, Default)]
pub struct ReportOptions<'a> {
    /// K (the file's `host_failures_to_tolerate` when `None`).
    pub tolerate: Option<u32>,
    /// One limit for every question together; each gets what is left.
    pub time_limit: Option<Duration>,
    /// When `time_limit` runs out, when it started counting before this
    /// call (the command line counts it from the start of the process);
    /// `None`: `time_limit` from the call.
    pub deadline: Option<Instant>,
    /// A headroom answer per shape.
    pub shapes: Vec<Shape>,
    /// Set by the caller to stop every search early (the answers then say
    /// what is not proved).
    pub cancel: Option<&'a AtomicBool>,
}

/// The report's JSON and its verdict (the exit code's).
#[derive(Clone, Debug)]
pub struct Gathered {
    /// The report as the wire JSON (`haplan report --format json`).
    pub json: Value,
    /// Its verdict: check's, `undecided` when any answer is not exact.
    pub verdict: Verdict,
}

/// Asks every question of the report. A shape the pool cannot take (more
/// than headroom counts) is an error.
pub fn gather(pool: &Pool, opts: &ReportOptions) -> Result<Gathered, HeadroomError> {
    let start = Instant::now();
    let deadline = opts.deadline.or(opts.time_limit.map(|d| start + d));
    let left = || deadline.map(|d| d.saturating_duration_since(Instant::now()));
    let check = haplan::check(
        pool,
        &CheckOptions {
            tolerate: opts.tolerate,
            time_limit: left(),
            explain: true,
            cancel: opts.cancel,
            ..CheckOptions::default()
        },
    );
    let tiers = haplan::tiers(
        pool,
        &TiersOptions {
            tolerate: opts.tolerate,
            time_limit: left(),
            cancel: opts.cancel,
            max_time: None,
            progress: None,
        },
    );
    // timing has no time limit of its own: a watchdog cancels it at the
    // deadline (or when the caller cancels).
    let stop = AtomicBool::new(false);
    let timing = std::thread::scope(|scope| {
        let (done, wait) = mpsc::channel::<()>();
        if deadline.is_some() || opts.cancel.is_some() {
            let stop = &stop;
            scope.spawn(move || {
                loop {
                    if deadline.is_some_and(|d| Instant::now() >= d)
                        || opts.cancel.is_some_and(|c| c.load(Ordering::Relaxed))
                    {
                        stop.store(true, Ordering::Relaxed);
                        return;
                    }
                    if wait.recv_timeout(Duration::from_millis(5))
                        != Err(mpsc::RecvTimeoutError::Timeout)
                    {
                        return;
                    }
                }
            });
        }
        let t = haplan::timing(
            pool,
            &TimingOptions {
                tolerate: opts.tolerate,
                cancel: Some(&stop),
                ..TimingOptions::default()
            },
        );
        let _ = done.send(());
        t
    });
    let mut headroom = Vec::new();
    let mut headroom_exact = true;
    for shape in &opts.shapes {
        let r = haplan::headroom(
            pool,
            shape,
            &HeadroomOptions {
                tolerate: opts.tolerate,
                time_limit: left(),
                cancel: opts.cancel,
                ..HeadroomOptions::default()
            },
        )?;
        // The report's own check answers the pool's maximum; the
        // headroom's check of it gets only a tenth of the time.
        headroom_exact &= r.exact;
        headroom.push(report::headroom_json(pool, &r));
    }
    let exact = check.exact && tiers.exact && !timing.undecided && headroom_exact;
    let verdict = match check.verdict() {
        Verdict::Ok if !exact => Verdict::Undecided,
        v => v,
    };
    let json = json!({
        "pool": summary::pool_json(pool),
        "tolerate": check.configured,
        "time_limit_s": opts.time_limit.map(|d| d.as_secs_f64()),
        "ok": verdict == Verdict::Ok,
        "exact": exact,
        "check": report::check_json(pool, &check),
        "tiers": report::tiers_json(pool, &tiers),
        "timing": report::timing_json(pool, &timing),
        "headroom": headroom,
        "stats": { "elapsed_ms": start.elapsed().as_millis() as u64 },
    });
    Ok(Gathered { json, verdict })
}
