//! The questions a report answers, asked under one time limit: `check`
//! (with the worst failure set even when the pool meets K), `tiers`,
//! `timing` and `headroom` for each shape, as the JSON of `haplan report
//! --format json` (docs/cli.md).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Value, json};

use haplan::headroom::{HeadroomError, HeadroomOptions, Shape};
use haplan::model::{Pool, Priority};
use haplan::tiers::{Degradation, TiersOptions, TiersReport};
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

/// The report's answers and its verdict (the exit code's).
///
/// A degradation row of `tiers` names every tier safe and lost and every
/// VM at risk with that many failures, and on a pool of thousands of VMs
/// and hundreds of tiers the rows name millions: the tiers answer is kept
/// as the core's report and written out only as asked, whole into the
/// JSON text ([`Gathered::answer_text`], [`Gathered::answer`]) or as much
/// as the page shows ([`Gathered::page`]).
#[derive(Clone, Debug)]
pub struct Gathered<'p> {
    pool: &'p Pool,
    /// The wire JSON but for `tiers` (`null` there, keeping its place).
    json: Value,
    /// The answer of `tiers`.
    tiers: TiersReport,
    /// Its verdict: check's, `undecided` when any answer is not exact.
    pub verdict: Verdict,
}

/// How many VMs at risk a degradation row of the page names (the
/// template's `names(d.at_risk, ..., 12)`).
const PAGE_AT_RISK: usize = 12;

/// How many tiers a list of a degradation row of the page names (the
/// template's `names` by default).
const PAGE_TIERS: usize = 200;

impl Gathered<'_> {
    /// The report as the wire JSON (`haplan report --format json`), every
    /// list whole.
    pub fn answer(&self) -> Value {
        let mut json = self.json.clone();
        json["tiers"] = report::tiers_json(self.pool, &self.tiers);
        json
    }

    /// [`Gathered::answer`] as the text printed (pretty, and a last
    /// newline), written straight from the reports: its memory is that of
    /// the text alone.
    pub fn answer_text(&self) -> String {
        report::json_text(&Answer(self))
    }

    /// [`Gathered::answer_text`] written to `out` as it is serialized (the
    /// text is never whole in memory).
    pub fn write_answer(&self, out: impl std::io::Write) -> std::io::Result<()> {
        report::write_json_text(&Answer(self), out)
    }

    /// What the page is rendered from ([`crate::report_html`],
    /// [`crate::report_markdown`]): the answer, but each degradation row
    /// names only the VMs at risk the page shows, with `at_risk_total`,
    /// how many there are, and `at_risk_list`, the same number for rows
    /// with the same list (the page folds rows equal but for the number
    /// of failures); likewise its lists of tiers past the 200 the page
    /// shows (`safe_tiers_total`, `safe_tiers_list`, and so on). The
    /// tiers' witnesses, which the page does not show, are `null`. Its
    /// numbers and names are the answer's, at the same JSON Pointers.
    pub fn page(&self) -> Value {
        let cut = report::Cut {
            at_risk: PAGE_AT_RISK,
            tiers: PAGE_TIERS,
            witnesses: false,
        };
        let mut tiers = report::tiers_json_cut(self.pool, &self.tiers, cut);
        if let Some(rows) = tiers["degradation"].as_array_mut() {
            let mut vm_lists = HashMap::new();
            let mut tier_lists = HashMap::new();
            for (row, d) in rows.iter_mut().zip(&self.tiers.degradation) {
                *row = page_row(row.take(), d, &mut vm_lists, &mut tier_lists);
            }
        }
        let mut json = self.json.clone();
        json["tiers"] = tiers;
        json
    }
}

/// One degradation row of [`Gathered::page`]: `row`, its lists cut, with
/// the whole lists' lengths and list numbers from `d`.
fn page_row<'d>(
    row: Value,
    d: &'d Degradation,
    vm_lists: &mut HashMap<&'d [usize], usize>,
    tier_lists: &mut HashMap<&'d [Priority], usize>,
) -> Value {
    let Value::Object(fields) = row else {
        return row;
    };
    let mut r = serde_json::Map::new();
    for (k, v) in fields {
        let whole: Option<&[Priority]> = match k.as_str() {
            "safe_tiers" => Some(&d.safe),
            "lost_tiers" => Some(&d.lost),
            "undecided_tiers" => Some(&d.undecided),
            _ => None,
        };
        let key = k.clone();
        r.insert(k, v);
        if key == "at_risk" {
            r.insert("at_risk_total".into(), json!(d.at_risk.len()));
            r.insert("at_risk_list".into(), json!(id_of(vm_lists, &d.at_risk)));
        } else if let Some(list) = whole.filter(|l| PAGE_TIERS < l.len()) {
            r.insert(format!("{key}_total"), json!(list.len()));
            r.insert(format!("{key}_list"), json!(id_of(tier_lists, list)));
        }
    }
    Value::Object(r)
}

/// The number of `key` among the keys numbered so far, a new one for a new key.
fn id_of<K: std::hash::Hash + Eq>(ids: &mut HashMap<K, usize>, key: K) -> usize {
    let next = ids.len();
    *ids.entry(key).or_insert(next)
}

/// The answer, serialized with `tiers` written from its report.
struct Answer<'a, 'p>(&'a Gathered<'p>);

impl Serialize for Answer<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let g = self.0;
        let obj = g.json.as_object().expect("the report is an object");
        let mut map = s.serialize_map(Some(obj.len()))?;
        for (k, v) in obj {
            if k == "tiers" {
                map.serialize_entry(k, &report::tiers_serializable(g.pool, &g.tiers))?;
            } else {
                map.serialize_entry(k, v)?;
            }
        }
        map.end()
    }
}

/// Asks every question of the report. A shape the pool cannot take (more
/// than headroom counts) is an error.
///
/// Under a time limit, `check` takes at most half of it and `tiers` at
/// most three fifths of what is then left, so that every part has time to
/// prove something (each stops as soon as it is exact); `timing` and the
/// headroom of each shape share the rest.
pub fn gather<'p>(pool: &'p Pool, opts: &ReportOptions) -> Result<Gathered<'p>, HeadroomError> {
    let start = Instant::now();
    let deadline = opts.deadline.or(opts.time_limit.map(|d| start + d));
    let left = || deadline.map(|d| d.saturating_duration_since(Instant::now()));
    let share = |f: f64| left().map(|l| l.mul_f64(f));
    let check = haplan::check(
        pool,
        &CheckOptions {
            tolerate: opts.tolerate,
            time_limit: share(0.5),
            explain: true,
            cancel: opts.cancel,
            ..CheckOptions::default()
        },
    );
    let tiers = haplan::tiers(
        pool,
        &TiersOptions {
            tolerate: opts.tolerate,
            time_limit: share(0.6),
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
    for (i, shape) in opts.shapes.iter().enumerate() {
        let r = haplan::headroom(
            pool,
            shape,
            &HeadroomOptions {
                tolerate: opts.tolerate,
                time_limit: share(1.0 / (opts.shapes.len() - i) as f64),
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
        // Written from `tiers` as asked (`Gathered`).
        "tiers": null,
        "timing": report::timing_json(pool, &timing),
        "headroom": headroom,
        "stats": { "elapsed_ms": start.elapsed().as_millis() as u64 },
    });
    Ok(Gathered {
        pool,
        json,
        tiers,
        verdict,
    })
}
