//! The questions a report answers, asked under one time limit: `check`
//! (with the worst failure set even when the pool meets K), `tiers`,
//! `timing` and `headroom` for each shape, as the JSON of `haplan report
//! --format json` (docs/cli.md).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde::ser::{Serialize, SerializeMap, Serializer};
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

/// The report's answers and its verdict (the exit code's).
///
/// A degradation row of `tiers` names every VM at risk with that many
/// failures, and on a pool of thousands of VMs and hundreds of tiers the
/// rows name millions (they share a few lists): the lists are kept once
/// each and written out only as asked, whole into the JSON text
/// ([`Gathered::answer_text`], [`Gathered::answer`]) or as much as the page
/// shows ([`Gathered::page`]).
#[derive(Clone, Debug)]
pub struct Gathered<'p> {
    pool: &'p Pool,
    /// The wire JSON with every degradation row's `at_risk` empty.
    json: Value,
    /// Per degradation row, its VMs at risk.
    at_risk: Vec<Arc<[usize]>>,
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
        if let Some(rows) = json["tiers"]["degradation"].as_array_mut() {
            for (row, list) in rows.iter_mut().zip(&self.at_risk) {
                row["at_risk"] = self.names(list, usize::MAX);
            }
        }
        json
    }

    /// [`Gathered::answer`] as the text printed (pretty, and a last
    /// newline), written straight from the shared lists: its memory is
    /// that of the text alone.
    pub fn answer_text(&self) -> String {
        report::json_text(&Answer(self))
    }

    /// What the page is rendered from ([`crate::report_html`],
    /// [`crate::report_markdown`]): the answer, but each degradation row
    /// names only the VMs at risk the page shows, with `at_risk_total`,
    /// how many there are, and `at_risk_list`, the same number for rows
    /// with the same list (the page folds rows equal but for the number
    /// of failures); likewise its lists of tiers past the 200 the page
    /// shows (`safe_tiers_total`, `safe_tiers_list`, and so on). Its
    /// numbers and names are the answer's, at the same JSON Pointers.
    pub fn page(&self) -> Value {
        let mut vm_lists = HashMap::new();
        let mut tier_lists = HashMap::new();
        // Everything but the rows is cloned as it is; the rows (whose
        // lists are what is large) are built cut.
        let rows = |deg: &Value| match deg.as_array() {
            Some(rows) => rows
                .iter()
                .zip(&self.at_risk)
                .map(|(row, list)| self.page_row(row, list, &mut vm_lists, &mut tier_lists))
                .collect(),
            None => deg.clone(),
        };
        with_entry(&self.json, "tiers", |tiers| {
            with_entry(tiers, "degradation", rows)
        })
    }

    /// One degradation row of [`Gathered::page`], its VMs at risk `list`.
    fn page_row<'s>(
        &'s self,
        row: &Value,
        list: &'s [usize],
        vm_lists: &mut HashMap<&'s [usize], usize>,
        tier_lists: &mut HashMap<String, usize>,
    ) -> Value {
        let mut r = serde_json::Map::new();
        for (k, v) in row.as_object().into_iter().flatten() {
            match v.as_array() {
                Some(_) if k == "at_risk" => {
                    r.insert(k.clone(), self.names(list, PAGE_AT_RISK));
                    r.insert("at_risk_total".into(), json!(list.len()));
                    r.insert("at_risk_list".into(), json!(id_of(vm_lists, list)));
                }
                Some(items) if PAGE_TIERS < items.len() && k.ends_with("_tiers") => {
                    r.insert(k.clone(), Value::from(items[..PAGE_TIERS].to_vec()));
                    r.insert(format!("{k}_total"), json!(items.len()));
                    r.insert(format!("{k}_list"), json!(id_of(tier_lists, v.to_string())));
                }
                _ => {
                    r.insert(k.clone(), v.clone());
                }
            }
        }
        Value::Object(r)
    }

    /// The names of the first `most` VMs of `list`.
    fn names(&self, list: &[usize], most: usize) -> Value {
        list.iter()
            .take(most)
            .map(|&v| Value::from(self.pool.vms[v].name.as_str()))
            .collect()
    }
}

/// `v` with its entry `key` (when `v` is an object that has one) made by
/// `f` from the entry, the rest cloned.
fn with_entry(v: &Value, key: &str, f: impl FnOnce(&Value) -> Value) -> Value {
    let Some(obj) = v.as_object() else {
        return v.clone();
    };
    let mut f = Some(f);
    Value::Object(
        obj.iter()
            .map(|(k, x)| {
                let made = match f.take_if(|_| k == key) {
                    Some(f) => f(x),
                    None => x.clone(),
                };
                (k.clone(), made)
            })
            .collect(),
    )
}

/// The number of `key` among the keys numbered so far, a new one for a new key.
fn id_of<K: std::hash::Hash + Eq>(ids: &mut HashMap<K, usize>, key: K) -> usize {
    let next = ids.len();
    *ids.entry(key).or_insert(next)
}

/// The answer, serialized with the lists of VMs at risk written from the
/// shared lists.
struct Answer<'a, 'p>(&'a Gathered<'p>);

impl Serialize for Answer<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let g = self.0;
        let obj = g.json.as_object().expect("the report is an object");
        let mut map = s.serialize_map(Some(obj.len()))?;
        for (k, v) in obj {
            match (k.as_str(), v.as_object()) {
                ("tiers", Some(tiers)) => map.serialize_entry(k, &Tiers(g, tiers))?,
                _ => map.serialize_entry(k, v)?,
            }
        }
        map.end()
    }
}

struct Tiers<'a, 'p>(&'a Gathered<'p>, &'a serde_json::Map<String, Value>);

impl Serialize for Tiers<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let Tiers(g, tiers) = *self;
        let mut map = s.serialize_map(Some(tiers.len()))?;
        for (k, v) in tiers {
            match (k.as_str(), v.as_array()) {
                ("degradation", Some(rows)) => {
                    let rows: Vec<Row> = rows
                        .iter()
                        .zip(&g.at_risk)
                        .map(|(row, list)| Row(g.pool, row, list))
                        .collect();
                    map.serialize_entry(k, &rows)?
                }
                _ => map.serialize_entry(k, v)?,
            }
        }
        map.end()
    }
}

struct Row<'a>(&'a Pool, &'a Value, &'a [usize]);

impl Serialize for Row<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let Row(pool, row, list) = *self;
        let obj = row.as_object().expect("a degradation row is an object");
        let mut map = s.serialize_map(Some(obj.len()))?;
        for (k, v) in obj {
            if k == "at_risk" {
                let names: Vec<&str> = list.iter().map(|&v| pool.vms[v].name.as_str()).collect();
                map.serialize_entry(k, &names)?;
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
        "tiers": report::tiers_json_without_at_risk(pool, &tiers),
        "timing": report::timing_json(pool, &timing),
        "headroom": headroom,
        "stats": { "elapsed_ms": start.elapsed().as_millis() as u64 },
    });
    Ok(Gathered {
        pool,
        json,
        at_risk: tiers
            .degradation
            .iter()
            .map(|d| Arc::clone(&d.at_risk))
            .collect(),
        verdict,
    })
}
