//! `tiers`: its JSON and text.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::value::RawValue;

use super::*;

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "Tiers")]
pub(crate) struct TiersJson<'a> {
    pool: &'a str,
    configured: u32,
    /// `"host"`, or `"domain"` when k counts failure domains.
    unit: &'static str,
    max_tolerable: Option<u32>,
    ok: bool,
    exact: bool,
    #[schemars(with = "VerdictName")]
    verdict: &'static str,
    tiers: Vec<TierJson<'a>>,
    degradation: Vec<DegradationJson<'a>>,
    not_agile: Vec<NotAgileJson<'a>>,
    warnings: &'a [String],
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "Tier")]
struct TierJson<'a> {
    #[schemars(with = "PriorityName")]
    priority: Priority,
    vms: usize,
    max_tolerable: u32,
    upper_bound: u32,
    exact: bool,
    ok: bool,
    witness: Option<WitnessJson<'a>>,
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "Degradation")]
struct DegradationJson<'a> {
    failures: u32,
    #[schemars(with = "Vec<PriorityName>")]
    safe_tiers: Vec<Priority>,
    #[schemars(with = "Vec<PriorityName>")]
    lost_tiers: Vec<Priority>,
    #[schemars(with = "Vec<PriorityName>")]
    undecided_tiers: Vec<Priority>,
    #[schemars(with = "Vec<String>")]
    at_risk: VmNames<'a>,
    example: Option<ExampleJson<'a>>,
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "Example")]
struct ExampleJson<'a> {
    failed_hosts: Vec<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    failed_domains: Option<Vec<&'a str>>,
    stranded: Vec<&'a str>,
}

/// The names of VMs, written one by one from the pool (a row of a large
/// pool's degradation table lists most of its VMs, and the rows share
/// their list: the names are not gathered first), or the list already
/// written as JSON (`raw`, one text per list the rows share).
struct VmNames<'a> {
    pool: &'a Pool,
    vms: &'a [usize],
    raw: Option<&'a RawValue>,
}

impl Serialize for VmNames<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.raw {
            Some(raw) => raw.serialize(serializer),
            None => {
                serializer.collect_seq(self.vms.iter().map(|&v| self.pool.vms[v].name.as_str()))
            }
        }
    }
}

/// `haplan tiers` as the JSON object of `docs/cli.md`.
pub fn tiers_json(pool: &Pool, r: &TiersReport) -> Value {
    serde_json::to_value(tiers_answer(pool, r, None, Cut::WHOLE)).expect("serializable")
}

/// [`tiers_json`] as a value to serialize, written straight from the
/// report (the VMs at risk name by name from the pool): for a caller that
/// writes it inside an answer of its own (`haplan report`).
pub fn tiers_serializable<'a>(pool: &'a Pool, r: &'a TiersReport) -> impl Serialize + 'a {
    tiers_answer(pool, r, None, Cut::WHOLE)
}

/// How much of each list of a degradation row [`tiers_json_cut`] keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cut {
    /// The first this many VMs at risk.
    pub at_risk: usize,
    /// The first this many tiers of each list of tiers (safe, lost,
    /// undecided).
    pub tiers: usize,
    /// Each tier's witness (`null` when not: it names up to every host
    /// and VM, per tier).
    pub witnesses: bool,
}

impl Cut {
    /// Every list whole.
    pub const WHOLE: Cut = Cut {
        at_risk: usize::MAX,
        tiers: usize::MAX,
        witnesses: true,
    };
}

/// [`tiers_json`] with each degradation row's lists cut to their first
/// items, and the tiers' witnesses left out, as `cut` says: what a page
/// that shows that much is built from, without the whole lists (on a pool
/// of a thousand tiers the rows name a million tiers and millions of VMs,
/// and the witnesses a million hosts).
pub fn tiers_json_cut(pool: &Pool, r: &TiersReport, cut: Cut) -> Value {
    serde_json::to_value(tiers_answer(pool, r, None, cut)).expect("serializable")
}

/// [`tiers_json`] as the text printed (pretty, and a last newline), written
/// straight from the report: its memory is that of the text alone. Each
/// list of VMs at risk the rows share is written once, as it stands in a
/// row of the pretty answer, and copied into every row that has it (on a
/// pool of 100,000 VMs the rows name tens of millions of VMs, most of them
/// in a few lists).
pub fn tiers_json_text(pool: &Pool, r: &TiersReport) -> String {
    let raw = per_at_risk_list(r, |vms| at_risk_text(pool, vms));
    json_text(&tiers_answer(pool, r, Some(&raw), Cut::WHOLE))
}

/// A list of VMs at risk, by where the report keeps it (its `Arc`).
pub type ListKey = *const [usize];

/// `make` of each list of VMs at risk of `r`'s rows, once per list the
/// rows share (`Degradation::at_risk`), by [`ListKey`].
pub fn per_at_risk_list<T>(
    r: &TiersReport,
    mut make: impl FnMut(&[usize]) -> T,
) -> HashMap<ListKey, T> {
    let mut out = HashMap::new();
    for d in &r.degradation {
        out.entry(Arc::as_ptr(&d.at_risk))
            .or_insert_with(|| make(&d.at_risk));
    }
    out
}

/// [`tiers_json`] as compact JSON text (the C ABI's answer), written
/// straight from the report, each list of VMs at risk the rows share
/// written once and copied into each row.
pub fn tiers_json_compact(pool: &Pool, r: &TiersReport) -> String {
    let raw = per_at_risk_list(r, |vms| {
        let names = VmNames {
            pool,
            vms,
            raw: None,
        };
        serde_json::value::to_raw_value(&names).expect("serializable")
    });
    serde_json::to_string(&tiers_answer(pool, r, Some(&raw), Cut::WHOLE)).expect("serializable")
}

/// The names of `vms` as the pretty answer has them in a row's `at_risk`:
/// one a line, indented as deep as the row's fields and one step more.
fn at_risk_text(pool: &Pool, vms: &[usize]) -> Box<RawValue> {
    // The answer's object, `degradation`, a row, and `at_risk`.
    const ITEM: &str = "        ";
    const CLOSE: &str = "      ";
    let mut s = String::from("[");
    for (i, &v) in vms.iter().enumerate() {
        s.push_str(if i == 0 { "\n" } else { ",\n" });
        s.push_str(ITEM);
        s.push_str(&serde_json::to_string(&pool.vms[v].name).expect("a string"));
    }
    if !vms.is_empty() {
        s.push('\n');
        s.push_str(CLOSE);
    }
    s.push(']');
    RawValue::from_string(s).expect("JSON")
}

/// The answer of `r`; each list of VMs at risk written from `raw` when it
/// is there (whole lists only), every list of a row cut to `cut`.
fn tiers_answer<'a>(
    pool: &'a Pool,
    r: &'a TiersReport,
    raw: Option<&'a HashMap<ListKey, Box<RawValue>>>,
    cut: Cut,
) -> TiersJson<'a> {
    let first = |list: &'a [Priority]| priorities(&list[..list.len().min(cut.tiers)]);
    let lowest = r.lowest();
    let empty: &[String] = &[];
    TiersJson {
        pool: &r.pool,
        configured: r.configured,
        unit: if r.domains() { "domain" } else { "host" },
        // The lowest tier's: none without a tier (the verdict is then the
        // pool's own check's, `TiersReport::whole`).
        max_tolerable: r.tiers.last().map(|t| t.report.max_tolerable),
        ok: r.ok(),
        exact: r.exact,
        verdict: verdict_str(tiers_verdict(r)),
        tiers: r
            .tiers
            .iter()
            .map(|t| TierJson {
                priority: t.priority,
                vms: t.vms.len(),
                max_tolerable: t.report.max_tolerable,
                upper_bound: t.report.upper_bound,
                exact: t.report.exact,
                ok: t.report.ok(),
                witness: t
                    .report
                    .witness
                    .as_ref()
                    .filter(|_| cut.witnesses)
                    .map(|w| witness_json(pool, t.report.failure_domains.as_deref(), w)),
            })
            .collect(),
        degradation: r
            .degradation
            .iter()
            .map(|d| DegradationJson {
                failures: d.k,
                safe_tiers: first(&d.safe),
                lost_tiers: first(&d.lost),
                undecided_tiers: first(&d.undecided),
                at_risk: VmNames {
                    pool,
                    vms: &d.at_risk[..d.at_risk.len().min(cut.at_risk)],
                    raw: raw
                        .filter(|_| cut.at_risk == usize::MAX)
                        .and_then(|raw| raw.get(&Arc::as_ptr(&d.at_risk)))
                        .map(|r| &**r),
                },
                example: d.example.as_ref().map(|(failed, stranded)| ExampleJson {
                    failed_hosts: host_names(pool, failed),
                    failed_domains: lowest.and_then(|l| domain_names(l, failed)),
                    stranded: names(pool, stranded),
                }),
            })
            .collect(),
        not_agile: lowest.map_or_else(Vec::new, |l| {
            l.not_agile
                .iter()
                .map(|n| NotAgileJson {
                    vm: &pool.vms[n.vm].name,
                    reasons: &n.reasons,
                })
                .collect()
        }),
        warnings: lowest.map_or(empty, |l| &l.warnings),
    }
}

/// `haplan tiers` for people: one line per tier, then the degradation table.
pub fn tiers_text(pool: &Pool, r: &TiersReport) -> String {
    let mut s = String::new();
    let Some(lowest) = r.tiers.last().map(|t| &t.report) else {
        match r.whole.as_ref().filter(|w| !w.ok()) {
            // K beyond the hosts up: `check`'s verdict.
            Some(w) => {
                let _ = writeln!(
                    s,
                    "{}: pool {} tolerates {} (configured: {}); it has no protected running VM",
                    verdict_words(w),
                    r.pool,
                    tolerance_words(w),
                    r.configured
                );
                for warning in &w.warnings {
                    let _ = writeln!(s, "warning: {warning}");
                }
            }
            None => {
                let _ = writeln!(
                    s,
                    "OK: pool {} has no protected running VM: nothing to restart in any failure",
                    r.pool
                );
            }
        }
        return s;
    };
    let unit = if r.domains() { "domain" } else { "host" };
    let _ = writeln!(
        s,
        "{}: pool {} tolerates {} (configured: {})",
        verdict_words(lowest),
        r.pool,
        tolerance_words(lowest),
        r.configured
    );
    let _ = writeln!(
        s,
        "Tolerance by restart priority (each tier with the tiers above it):"
    );
    for t in &r.tiers {
        let tol = tolerance_words(&t.report);
        let _ = writeln!(
            s,
            "  {:<9} {:<8} {tol}",
            t.priority.as_str(),
            plural(t.vms.len(), "VM", "VMs"),
        );
    }
    if !r.degradation.is_empty() {
        let _ = writeln!(
            s,
            "Beyond {}:",
            plural(
                lowest.max_tolerable,
                &format!("{unit} failure"),
                &format!("{unit} failures")
            )
        );
    }
    // The rows share their lists of VMs at risk: each joined once.
    let joined = per_at_risk_list(r, |vms| name_list(&names(pool, vms)));
    // Consecutive rows with the same answer and no example are one line
    // (`5 to 13 host failures`), as on the report's page.
    let same = |a: &haplan::tiers::Degradation, b: &haplan::tiers::Degradation| {
        a.example.is_none()
            && b.example.is_none()
            && a.safe == b.safe
            && a.lost == b.lost
            && a.undecided == b.undecided
            && (a.lost.is_empty() || Arc::ptr_eq(&a.at_risk, &b.at_risk))
    };
    let rows = &r.degradation;
    let mut at = 0;
    while at < rows.len() {
        let (d, first) = (&rows[at], at);
        let mut last = at;
        while last + 1 < rows.len() && same(d, &rows[last + 1]) {
            last += 1;
        }
        at = last + 1;
        let failures = if last > first {
            format!("{} to {} {unit} failures", d.k, rows[last].k)
        } else {
            plural(d.k, &format!("{unit} failure"), &format!("{unit} failures"))
        };
        let mut line = format!("  {failures}: ");
        if d.safe.is_empty() {
            line.push_str("no tier is safe");
        } else {
            let _ = write!(line, "{} still restart", priority_words(&d.safe));
        }
        if !d.lost.is_empty() {
            let _ = write!(
                line,
                "; at risk: {} of {} ({})",
                plural(d.at_risk.len(), "VM", "VMs"),
                priority_words(&d.lost),
                joined[&Arc::as_ptr(&d.at_risk)]
            );
        }
        if !d.undecided.is_empty() {
            let _ = write!(line, "; undecided: {}", priority_words(&d.undecided));
        }
        let _ = writeln!(s, "{line}");
        if let Some((failed, stranded)) = &d.example {
            let set = match domain_names(lowest, failed) {
                Some(dn) => format!(
                    "{} ({})",
                    dn.join(", "),
                    host_names(pool, failed).join(", ")
                ),
                None => host_names(pool, failed).join(", "),
            };
            let _ = writeln!(
                s,
                "    e.g. {set} fail: {} stranded ({})",
                plural(stranded.len(), "VM", "VMs"),
                name_list(&names(pool, stranded))
            );
        }
    }
    if !r.exact {
        let _ = writeln!(
            s,
            "The time limit ran out: bounds are proved, the rest is undecided."
        );
    }
    not_agile_and_warnings(&mut s, pool, lowest);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The text with each shared list written once is, byte for byte, the
    /// pretty answer of the JSON value, names that need escaping included.
    #[test]
    fn the_lists_written_once_are_the_pretty_answer() {
        let text = include_str!("../../../../fixtures/tiers/tiers.json");
        let mut value: Value = serde_json::from_str(text).unwrap();
        // Empty hosts, small critical VMs and large high ones: rows 5 to 7
        // lose the same tiers (one list shared), row 8 every tier.
        let hosts = value["hosts"].as_array_mut().unwrap();
        for i in 0..4 {
            let mut h = hosts[0].clone();
            h["name"] = Value::from(format!("spare{i}"));
            hosts.push(h);
        }
        for (i, vm) in value["vms"].as_array_mut().unwrap().iter_mut().enumerate() {
            let mib = match &vm["name"].as_str().unwrap()[..2] {
                "db" => 8192,
                "ap" => 131072,
                _ => 98304,
            };
            vm["demand"]["memory_mib"] = Value::from(mib);
            let name = format!("{}-\"q\"\\é-{i}", vm["name"].as_str().unwrap());
            vm["name"] = Value::from(name);
        }
        let pool = haplan::pool_from_value(&value).unwrap();
        let r = haplan::tiers(&pool, &haplan::tiers::TiersOptions::default());
        let shared = r
            .degradation
            .windows(2)
            .any(|w| Arc::ptr_eq(&w[0].at_risk, &w[1].at_risk) && !w[0].at_risk.is_empty());
        assert!(shared, "the fixture's rows share a list of VMs at risk");
        let value = tiers_json(&pool, &r);
        let mut expected = serde_json::to_string_pretty(&value).unwrap();
        expected.push('\n');
        assert_eq!(tiers_json_text(&pool, &r), expected);
        // The compact text likewise, and the value without the lists.
        assert_eq!(
            tiers_json_compact(&pool, &r),
            serde_json::to_string(&value).unwrap()
        );
        // Written from the report, and cut.
        assert_eq!(
            serde_json::to_value(tiers_serializable(&pool, &r)).unwrap(),
            value
        );
        let cut = Cut {
            at_risk: 2,
            tiers: 1,
            witnesses: false,
        };
        let mut short = value.clone();
        let mut cuts = 0;
        for row in short["degradation"].as_array_mut().unwrap() {
            for (k, most) in [
                ("at_risk", 2),
                ("safe_tiers", 1),
                ("lost_tiers", 1),
                ("undecided_tiers", 1),
            ] {
                let list = row[k].as_array_mut().unwrap();
                cuts += usize::from(list.len() > most);
                list.truncate(most);
            }
        }
        assert!(
            cuts >= 2,
            "the fixture's rows have lists longer than the cut"
        );
        let mut witnesses = 0;
        for t in short["tiers"].as_array_mut().unwrap() {
            witnesses += usize::from(!t["witness"].is_null());
            t["witness"] = Value::Null;
        }
        assert!(witnesses > 0, "the fixture's tiers have witnesses");
        assert_eq!(tiers_json_cut(&pool, &r, cut), short);
        assert_eq!(tiers_json_cut(&pool, &r, Cut::WHOLE), value);
    }

    /// Consecutive rows with the same answer and no example are one line
    /// of the text, and a list of VMs at risk longer than `TEXT_NAMES`
    /// shows that many names and how many more; the JSON keeps every row
    /// and name.
    #[test]
    fn the_text_folds_rows_alike_and_long_lists() {
        let text = include_str!("../../../../fixtures/tiers/tiers.json");
        let pool = haplan::parse_pool(text).unwrap();
        let mut r = haplan::tiers(&pool, &haplan::tiers::TiersOptions::default());
        // Rows 2 to 5 left undecided for the low tier (as a time limit
        // leaves them), then row 6 with 25 VMs at risk.
        let row = |k: u32| haplan::tiers::Degradation {
            k,
            safe: vec![Priority::Critical, Priority::High],
            lost: Vec::new(),
            undecided: vec![Priority::Low],
            at_risk: Arc::from(Vec::new()),
            example: None,
        };
        let many: Vec<usize> = (0..25).map(|i| i % pool.vms.len()).collect();
        let mut last = row(6);
        last.undecided.clear();
        last.lost = vec![Priority::Low];
        last.at_risk = Arc::from(many);
        r.degradation = vec![row(2), row(3), row(4), row(5), last];
        let text = tiers_text(&pool, &r);
        let lines: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("host failure"))
            .collect();
        assert!(
            lines.contains(&"  2 to 5 host failures: critical, high still restart; undecided: low"),
            "{text}"
        );
        let six = lines
            .iter()
            .find(|l| l.starts_with("  6 host failures"))
            .expect("row 6");
        assert!(six.contains("at risk: 25 VMs of low ("), "{six}");
        assert!(
            six.ends_with(" and 5 more: --format json lists them all)"),
            "{six}"
        );
        assert_eq!(six.matches(", ").count(), 19 + 1, "{six}");
        assert!(!text.contains("3 host failures:"), "{text}");
        let json = tiers_json(&pool, &r);
        assert_eq!(json["degradation"].as_array().unwrap().len(), 5);
        assert_eq!(
            json["degradation"][4]["at_risk"].as_array().unwrap().len(),
            25
        );
    }
}
