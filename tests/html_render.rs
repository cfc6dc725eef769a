//! The pages against the answers they are rendered from: every number an
//! HTML page shows sits in an element whose `data-json` is its JSON Pointer
//! in the answer, and here every such element of every page, for every
//! valid fixture pool, must show exactly the value at that pointer (every
//! `data-json-count` the length of the array there). Which parts must be on
//! a page is checked too (each host's numbers, the worst failure set marked
//! on exactly its hosts), and a pool with hostile names renders inert.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use haplan::headroom::Shape;
use haplan_html::{Kind, ReportOptions};
use scraper::{Html, Selector};
use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every valid pool under fixtures/ (not the change files, cases or bad pools).
fn fixture_pools() -> Vec<(PathBuf, haplan::Pool)> {
    let mut out = Vec::new();
    let dir = root().join("fixtures");
    let mut families: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir() && !p.ends_with("bad"))
        .collect();
    families.sort();
    for family in families {
        let mut files: Vec<_> = std::fs::read_dir(&family)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for f in files {
            let name = f.file_name().unwrap().to_string_lossy().to_string();
            if !name.ends_with(".json")
                || name.ends_with(".case.json")
                || name.ends_with(".changes.json")
            {
                continue;
            }
            let text = std::fs::read_to_string(&f).unwrap();
            let pool = haplan::parse_pool(&text)
                .unwrap_or_else(|e| panic!("{}: not a pool: {e}", f.display()));
            out.push((f, pool));
        }
    }
    assert!(out.len() > 30, "found only {} fixture pools", out.len());
    out
}

/// What a page shows for a JSON value: strings with control characters
/// made visible, numbers and booleans as JSON prints them.
fn shown(v: &Value) -> String {
    match v {
        Value::String(s) => haplan_html::visible(s, false).into_owned(),
        other => other.to_string(),
    }
}

/// Checks every `data-json` and `data-json-count` element of `html`
/// against `answer`; returns the pointers seen.
fn check_against(html: &str, answer: &Value, what: &str) -> BTreeSet<String> {
    let doc = Html::parse_document(html);
    let mut seen = BTreeSet::new();
    for el in doc.select(&Selector::parse("[data-json]").unwrap()) {
        let ptr = el.value().attr("data-json").unwrap();
        let v = answer
            .pointer(ptr)
            .unwrap_or_else(|| panic!("{what}: {ptr} is not in the answer"));
        let text: String = el.text().collect();
        match v {
            Value::Number(n) => {
                let dom: f64 = text
                    .trim()
                    .parse()
                    .unwrap_or_else(|_| panic!("{what}: {ptr}: {text:?} is not a number"));
                assert_eq!(dom, n.as_f64().unwrap(), "{what}: {ptr}");
            }
            _ => assert_eq!(text, shown(v), "{what}: {ptr}"),
        }
        seen.insert(ptr.to_string());
    }
    for el in doc.select(&Selector::parse("[data-json-count]").unwrap()) {
        let ptr = el.value().attr("data-json-count").unwrap();
        let len = answer
            .pointer(ptr)
            .and_then(Value::as_array)
            .unwrap_or_else(|| panic!("{what}: {ptr} is not an array of the answer"))
            .len();
        let text: String = el.text().collect();
        assert_eq!(text.trim(), len.to_string(), "{what}: count of {ptr}");
        seen.insert(format!("#{ptr}"));
    }
    seen
}

/// The report's answer, and what its page is rendered from.
fn report(pool: &haplan::Pool, shapes: Vec<Shape>) -> (Value, Value) {
    let opts = ReportOptions {
        time_limit: Some(Duration::from_secs(30)),
        shapes,
        ..ReportOptions::default()
    };
    let g = haplan_html::gather(pool, &opts).unwrap();
    let answer = g.answer();
    // The text printed is the answer.
    let printed = g.answer_text();
    let text: Value = serde_json::from_str(&printed).unwrap();
    assert_eq!(text, answer);
    // `report -o` streams the same text into its file.
    let mut streamed = Vec::new();
    g.write_answer(&mut streamed).unwrap();
    assert_eq!(String::from_utf8(streamed).unwrap(), printed);
    (answer, g.page())
}

/// A memory (and, where the pool has it, vCPU) shape for headroom.
fn shape_for(pool: &haplan::Pool) -> Option<Shape> {
    pool.resource("memory_mib")?;
    let vm = if pool.resource("vcpus").is_some() {
        r#"{"memory_mib": 8192, "vcpus": 2}"#
    } else {
        r#"{"memory_mib": 8192}"#
    };
    Shape::parse(vm, "--vm", &[], &[]).ok()
}

#[test]
fn every_number_of_every_fixture_report_is_the_jsons() {
    for (path, pool) in fixture_pools() {
        let what = path
            .strip_prefix(root())
            .unwrap_or(&path)
            .display()
            .to_string();
        let (answer, page) = report(&pool, shape_for(&pool).into_iter().collect());
        let html = haplan_html::report_html(&page).unwrap();
        let seen = check_against(&html, &answer, &what);
        // The page of the whole answer is the same page.
        assert_eq!(haplan_html::report_html(&answer).unwrap(), html, "{what}");
        // The verdict card and every host's numbers are there.
        for p in [
            "/check/max_tolerable",
            "/check/configured",
            "#/check/not_agile",
        ] {
            assert!(seen.contains(p), "{what}: {p} is not shown");
        }
        let hosts = answer["pool"]["hosts"].as_array().unwrap();
        for (i, h) in hosts.iter().enumerate() {
            assert!(
                seen.contains(&format!("/pool/hosts/{i}/name")),
                "{what}: host {i}"
            );
            for r in 0..h["resources"].as_array().unwrap().len() {
                for f in ["used", "reserved"] {
                    let p = format!("/pool/hosts/{i}/resources/{r}/{f}");
                    assert!(seen.contains(&p), "{what}: {p} is not shown");
                }
                if !h["resources"][r]["spare"].is_null() {
                    let p = format!("/pool/hosts/{i}/resources/{r}/spare");
                    assert!(seen.contains(&p), "{what}: {p} is not shown");
                }
            }
        }
        // The worst failure set is marked on exactly its hosts.
        let doc = Html::parse_document(&html);
        let marked: BTreeSet<String> = doc
            .select(&Selector::parse("tr.worst > th").unwrap())
            .map(|e| e.text().collect())
            .collect();
        let worst: BTreeSet<String> = answer["check"]["witness"]["failed_hosts"]
            .as_array()
            .map(|a| a.iter().map(shown).collect())
            .unwrap_or_default();
        assert_eq!(marked, worst, "{what}: hosts marked as the worst set");
        if !answer["check"]["witness"].is_null() {
            assert!(seen.contains("/check/witness/failed_hosts/0") || worst.is_empty());
        }
        for (t, _) in answer["tiers"]["tiers"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
        {
            assert!(
                seen.contains(&format!("/tiers/tiers/{t}/max_tolerable")),
                "{what}: tier {t}"
            );
        }
        if answer["timing"]["vms"]
            .as_array()
            .is_some_and(|v| !v.is_empty())
        {
            assert!(seen.contains("/timing/total_s"), "{what}: the restart time");
        }
        for (i, _) in answer["headroom"].as_array().unwrap().iter().enumerate() {
            assert!(
                seen.contains(&format!("/headroom/{i}/max_additional")),
                "{what}: headroom"
            );
        }
        // No script, no external reference: the page stands alone.
        assert!(
            doc.select(&Selector::parse("script, link, iframe, img, object").unwrap())
                .next()
                .is_none()
        );
        assert!(
            !html.contains("http://") && !html.contains("https://"),
            "{what}"
        );
        // Markdown renders too, and every fragment.
        haplan_html::report_markdown(&answer).unwrap();
        let f = haplan_html::fragment_html(Kind::Report, &answer).unwrap();
        check_against(&f, &answer, &format!("{what} (fragment)"));
        for (kind, part) in [
            (Kind::Check, &answer["check"]),
            (Kind::Tiers, &answer["tiers"]),
            (Kind::Timing, &answer["timing"]),
        ] {
            let f = haplan_html::fragment_html(kind, part).unwrap();
            check_against(&f, part, &format!("{what} ({kind:?} fragment)"));
            if kind == Kind::Check {
                haplan_html::check_markdown(part).unwrap();
            }
        }
        for h in answer["headroom"].as_array().unwrap() {
            let f = haplan_html::fragment_html(Kind::Headroom, h).unwrap();
            check_against(&f, h, &format!("{what} (headroom fragment)"));
        }
    }
}

#[test]
fn every_number_of_every_diff_page_is_the_jsons() {
    let dir = root().join("fixtures/diff");
    let base =
        haplan::parse_pool(&std::fs::read_to_string(dir.join("base.json")).unwrap()).unwrap();
    for other in ["base.json", "drop-host.json", "lost-protection.json"] {
        let new = haplan::parse_pool(&std::fs::read_to_string(dir.join(other)).unwrap()).unwrap();
        for explain in [false, true] {
            let shape = Shape::parse(r#"{"memory_mib": 16384}"#, "--vm", &[], &[]).unwrap();
            let opts = haplan::DiffOptions {
                check: haplan::CheckOptions {
                    explain,
                    ..haplan::CheckOptions::default()
                },
                no_regress: true,
                vm: Some(&shape),
            };
            let d = haplan::diff(&base, &new, &opts);
            let answer = haplan_wire::report::diff_json(&base, &new, &d);
            let html = haplan_html::diff_html(&answer).unwrap();
            let seen = check_against(&html, &answer, other);
            for p in [
                "/new/max_tolerable",
                "/old/max_tolerable",
                "/tolerate",
                "#/hosts_removed",
                "/headroom/change",
            ] {
                assert!(seen.contains(p), "{other}: {p} is not shown");
            }
            if explain {
                assert!(seen.contains("/new/witness/failed_hosts/0"), "{other}");
            }
            let f = haplan_html::fragment_html(Kind::Diff, &answer).unwrap();
            check_against(&f, &answer, other);
            haplan_html::diff_markdown(&answer).unwrap();
        }
    }
}

/// The control characters and the bidirectional override of the hostile
/// names: a pool file cannot carry them (its names must be printable), but
/// the renderer takes any JSON answer, so they are put into the answer.
const SUBSTITUTES: [(&str, &str); 3] = [
    ("@ctl@", "\u{1b}[31m\u{0}\u{7}"),
    ("@rlo@", "\u{202e}"),
    ("@esc@", "\u{1b}"),
];

/// A pool whose every name tries to break out of the page: markup, quotes,
/// an attribute, and (after `hostile_answer`) control characters and a
/// bidirectional override.
fn hostile_pool() -> haplan::Pool {
    let names = [
        "<script>alert(1)</script>",
        "\"><img src=x onerror=alert(2)>",
        "h'3@ctl@",
        "@rlo@4h",
        "|*x*|`y`[z](http://a)",
    ];
    let hosts: Vec<Value> = names
        .iter()
        .map(|n| serde_json::json!({"name": n, "capacity": {"memory_mib": 65536}, "storage": [format!("{n}-sr")]}))
        .collect();
    let vms: Vec<Value> = names
        .iter()
        .enumerate()
        .flat_map(|(i, n)| {
            (0..3).map(move |j| {
                serde_json::json!({"name": format!("{n}-vm{j}"), "host": n,
                    "demand": {"memory_mib": 16384}, "storage": if i == 0 && j == 0 { serde_json::json!(["<b>local</b>"]) } else { serde_json::json!([]) }})
            })
        })
        .collect();
    let mut hosts = hosts;
    hosts[0]["storage"] = serde_json::json!(["<b>local</b>"]);
    let pool = serde_json::json!({"name": "<script>pool</script>@esc@", "ha": {"host_failures_to_tolerate": 2},
        "hosts": hosts, "vms": vms});
    haplan::pool_from_value(&pool).unwrap()
}

/// `answer` with the substitutes replaced by the characters they stand for,
/// in every string and key.
fn hostile_answer(answer: &mut Value) {
    let fix = |s: &str| {
        SUBSTITUTES
            .iter()
            .fold(s.to_string(), |s, (from, to)| s.replace(from, to))
    };
    match answer {
        Value::String(s) => *s = fix(s),
        Value::Array(a) => a.iter_mut().for_each(hostile_answer),
        Value::Object(o) => {
            let old = std::mem::take(o);
            for (k, mut v) in old {
                hostile_answer(&mut v);
                o.insert(fix(&k), v);
            }
        }
        _ => {}
    }
}

#[test]
fn hostile_names_render_inert() {
    let pool = hostile_pool();
    let (mut answer, _) = report(&pool, vec![shape_for(&pool).unwrap()]);
    hostile_answer(&mut answer);
    assert!(
        answer.to_string().contains("\\u001b"),
        "the substitutes are in"
    );
    assert!(
        !answer["check"]["not_agile"].as_array().unwrap().is_empty(),
        "a reason names the storage"
    );
    let html = haplan_html::report_html(&answer).unwrap();
    let doc = Html::parse_document(&html);
    // Only the elements the templates write: no script, no img, no handler.
    assert!(
        doc.select(&Selector::parse("script, img, b").unwrap())
            .next()
            .is_none()
    );
    for el in doc.select(&Selector::parse("*").unwrap()) {
        for (attr, _) in el.value().attrs() {
            assert!(!attr.starts_with("on"), "an attribute {attr} got in");
        }
    }
    // No control character and no bidirectional override reaches the page
    // (the page's own line breaks aside).
    assert!(
        !html.chars().any(|c| (c.is_control() && c != '\n')
            || ('\u{202a}'..='\u{202e}').contains(&c)
            || ('\u{2066}'..='\u{2069}').contains(&c)),
        "a control character reached the page"
    );
    // The names are there, as text.
    let text: String = doc.root_element().text().collect();
    assert!(text.contains("<script>alert(1)</script>"));
    assert!(text.contains("\"><img src=x onerror=alert(2)>"));
    assert!(text.contains("h'3\u{fffd}[31m\u{fffd}\u{fffd}"));
    assert!(text.contains("\u{fffd}4h"));
    check_against(&html, &answer, "hostile");
    // The title too (inside <title>, markup is text, and is escaped anyway).
    let title: String = doc
        .select(&Selector::parse("title").unwrap())
        .next()
        .unwrap()
        .text()
        .collect();
    assert!(title.contains("<script>pool</script>\u{fffd}"));
    // Markdown: nothing GitHub would read as markup or a table cell.
    let md = haplan_html::report_markdown(&answer).unwrap();
    assert!(
        !md.contains("<script") && !md.contains("<img") && !md.contains("<b>"),
        "{md}"
    );
    assert!(!md.contains("|*x*|"), "{md}");
    assert!(md.contains("&lt;script&gt;"));
    let check = haplan_html::check_markdown(&answer["check"]).unwrap();
    assert!(!check.chars().any(|c| c.is_control() && c != '\n'));
    // Every table row of the Markdown has as many cells as its header.
    for line in md.lines().filter(|l| l.starts_with('|')) {
        let cells = line.replace("\\|", "").matches('|').count();
        assert_eq!(cells, 3, "{line}");
    }
    // And the fragments of a notebook.
    for (kind, part) in [(Kind::Check, &answer["check"]), (Kind::Report, &answer)] {
        let f = haplan_html::fragment_html(kind, part).unwrap();
        let doc = Html::parse_fragment(&f);
        assert!(
            doc.select(&Selector::parse("script, img, b").unwrap())
                .next()
                .is_none()
        );
    }
}

#[test]
fn a_large_pool_is_grouped_and_folded() {
    // 100 hosts: the overview map, groups of at most 40 shown rows.
    let hosts: Vec<Value> = (0..100)
        .map(|h| serde_json::json!({"name": format!("h{h:03}"), "capacity": {"memory_mib": 65536 + 1024 * h}}))
        .collect();
    let vms: Vec<Value> = (0..100)
        .map(|h| serde_json::json!({"name": format!("v{h:03}"), "host": format!("h{h:03}"), "demand": {"memory_mib": 32768}}))
        .collect();
    let pool =
        haplan::pool_from_value(&serde_json::json!({"name": "big", "hosts": hosts, "vms": vms}))
            .unwrap();
    let (answer, page) = report(&pool, Vec::new());
    let html = haplan_html::report_html(&page).unwrap();
    check_against(&html, &answer, "big");
    let doc = Html::parse_document(&html);
    assert_eq!(
        doc.select(&Selector::parse("svg.overview rect").unwrap())
            .count(),
        100
    );
    // Tightest first: the up hosts outside the worst set, in page order
    // (folded ones follow the shown ones), by spare fraction.
    let fractions = |sel: &str| -> Vec<f64> {
        doc.select(&Selector::parse(sel).unwrap())
            .map(|tr| {
                let i: usize = tr.value().attr("data-host").unwrap().parse().unwrap();
                let r = &answer["pool"]["hosts"][i]["resources"][0];
                r["spare"].as_f64().unwrap() / r["usable"].as_f64().unwrap()
            })
            .collect()
    };
    let (up, worst) = (
        fractions("table.hosts tbody tr.up:not(.worst)"),
        fractions("table.hosts tbody tr.worst"),
    );
    assert_eq!(up.len() + worst.len(), 100);
    assert!(!worst.is_empty() && !up.is_empty());
    for f in [&up, &worst] {
        assert!(f.windows(2).all(|w| w[0] <= w[1]), "{f:?}");
    }
    // The worst set comes first.
    let first = doc
        .select(&Selector::parse("table.hosts tbody tr").unwrap())
        .next()
        .unwrap();
    assert!(first.value().classes().any(|c| c == "worst"));
    let folded = doc
        .select(&Selector::parse("details table.hosts tbody tr").unwrap())
        .count();
    let open = doc
        .select(&Selector::parse("section#hosts > div.scroll > table.hosts tbody tr").unwrap())
        .count();
    assert_eq!(folded + open, 100);
    assert!(open <= 2 * 40, "{open} rows shown unfolded");
    check_against(&html, &answer, "big");
}

#[test]
fn long_headroom_and_degradation_tables_are_cut_to_what_matters() {
    // 150 hosts of growing size, one VM each, and a tier per priority: the
    // headroom table shows the 100 hosts with the most room (largest
    // first), the degradation table one row per run of equal answers.
    let hosts: Vec<Value> = (0..150)
        .map(|h| serde_json::json!({"name": format!("h{h:03}"), "capacity": {"memory_mib": 65536 + 4096 * h}}))
        .collect();
    let vms: Vec<Value> = (0..150)
        .map(|h| {
            let priority = ["critical", "high", "medium", "low"][h % 4];
            serde_json::json!({"name": format!("v{h:03}"), "host": format!("h{h:03}"),
                "demand": {"memory_mib": 32768}, "priority": priority})
        })
        .collect();
    let pool =
        haplan::pool_from_value(&serde_json::json!({"name": "long", "hosts": hosts, "vms": vms}))
            .unwrap();
    // Headroom's search on this pool runs to any limit: bounds suffice here.
    let opts = ReportOptions {
        time_limit: Some(Duration::from_secs(2)),
        shapes: vec![shape_for(&pool).unwrap()],
        ..ReportOptions::default()
    };
    let g = haplan_html::gather(&pool, &opts).unwrap();
    let (answer, page) = (g.answer(), g.page());
    let html = haplan_html::report_html(&answer).unwrap();
    check_against(&html, &answer, "long");
    // The page names only the VMs at risk it shows, and is the same page.
    let rows = page["tiers"]["degradation"].as_array().unwrap();
    assert!(rows.iter().any(|d| d["at_risk_total"].as_u64() > Some(12)));
    for (d, full) in rows
        .iter()
        .zip(answer["tiers"]["degradation"].as_array().unwrap())
    {
        let names = full["at_risk"].as_array().unwrap();
        assert_eq!(d["at_risk_total"].as_u64(), Some(names.len() as u64));
        assert_eq!(
            d["at_risk"].as_array().unwrap()[..],
            names[..names.len().min(12)]
        );
    }
    assert_eq!(haplan_html::report_html(&page).unwrap(), html);
    assert_eq!(
        haplan_html::report_markdown(&page).unwrap(),
        haplan_html::report_markdown(&answer).unwrap()
    );
    let doc = Html::parse_document(&html);

    let rows: Vec<String> = doc
        .select(&Selector::parse("section#headroom details tbody tr > th span[data-json]").unwrap())
        .map(|e| e.value().attr("data-json").unwrap().to_string())
        .collect();
    assert_eq!(rows.len(), 100);
    let upper = |ptr: &str| {
        answer
            .pointer(&format!(
                "{}/fits_here_upper",
                ptr.strip_suffix("/host").unwrap()
            ))
            .and_then(Value::as_u64)
            .unwrap()
    };
    let shown: Vec<u64> = rows.iter().map(|p| upper(p)).collect();
    assert!(shown.windows(2).all(|w| w[0] >= w[1]), "{shown:?}");
    let hidden_max = (0..150)
        .map(|i| format!("/headroom/0/hosts/{i}/host"))
        .filter(|p| !rows.contains(p))
        .map(|p| upper(&p))
        .max()
        .unwrap();
    assert!(hidden_max <= *shown.last().unwrap());
    let text: String = doc.root_element().text().collect();
    assert!(text.contains("and 50 more hosts"), "the cut is said");

    // Degradation: every failure count is in exactly one row, as a single
    // count or the ends of a run whose rows are equal but for the count.
    let deg = answer["tiers"]["degradation"].as_array().unwrap();
    assert!(deg.len() > 10, "{} rows", deg.len());
    let sel = Selector::parse("section#tiers table.wide tbody tr").unwrap();
    let cell = Selector::parse("td:first-child span[data-json], td[data-json]").unwrap();
    let mut next = 0;
    let strip = |v: &Value| {
        let mut v = v.clone();
        v.as_object_mut().unwrap().remove("failures");
        v
    };
    for tr in doc.select(&sel) {
        let ends: Vec<usize> = tr
            .select(&cell)
            .filter_map(|e| e.value().attr("data-json"))
            .filter(|p| p.ends_with("/failures"))
            .map(|p| p.split('/').nth(3).unwrap().parse().unwrap())
            .collect();
        let (a, b) = match ends[..] {
            [a] => (a, a),
            [a, b] => (a, b),
            _ => panic!("{ends:?}"),
        };
        assert_eq!(a, next, "rows in order, none left out");
        assert!(deg[a..=b].iter().all(|d| strip(d) == strip(&deg[a])));
        if b + 1 < deg.len() {
            assert_ne!(strip(&deg[b + 1]), strip(&deg[a]), "a run is whole");
        }
        next = b + 1;
    }
    assert_eq!(next, deg.len());
}

#[test]
fn a_tiers_fragment_cut_short_is_undecided_with_its_bounds() {
    let text =
        std::fs::read_to_string(root().join("fixtures/packing/ffd-fails-exact-fits.json")).unwrap();
    let pool = haplan::parse_pool(&text).unwrap();
    let mut words = Vec::new();
    for limit in [Some(Duration::ZERO), None] {
        let r = haplan::tiers(
            &pool,
            &haplan::tiers::TiersOptions {
                time_limit: limit,
                ..Default::default()
            },
        );
        let answer = haplan_wire::report::tiers_json(&pool, &r);
        let f = haplan_html::fragment_html(Kind::Tiers, &answer).unwrap();
        check_against(&f, &answer, "tiers fragment");
        let doc = Html::parse_fragment(&f);
        let word: String = doc
            .select(&Selector::parse(".word").unwrap())
            .next()
            .unwrap()
            .text()
            .collect();
        let headline: String = doc
            .select(&Selector::parse(".headline").unwrap())
            .next()
            .unwrap()
            .text()
            .collect();
        if !r.exact {
            assert!(headline.contains("between 0 and 1"), "{headline}");
        }
        words.push((r.exact, word));
    }
    // Cut short: the bounds 0 to 1 leave K = 1 open. Whole: the exact
    // search finds the placement first-fit decreasing misses.
    assert_eq!(
        words,
        [(false, "UNDECIDED".to_string()), (true, "OK".to_string())]
    );
}

/// A pool of 240 priorities: the rows beyond its tolerance list more tiers
/// than the page names (200). The page drawn from `page()`, which keeps
/// only those with their number, is the page of the whole answer, and
/// every number on it is the answer's.
#[test]
fn many_tiers_are_cut_to_what_the_page_names() {
    let hosts: Vec<Value> = (0..12)
        .map(|h| serde_json::json!({"name": format!("h{h:02}"), "capacity": {"memory_mib": 65536}}))
        .collect();
    let vms: Vec<Value> = (0..240)
        .map(|v| {
            serde_json::json!({"name": format!("v{v:03}"), "host": format!("h{:02}", v % 12),
            "demand": {"memory_mib": 1024 + 64 * (v % 7)}, "priority": 1000 + v})
        })
        .collect();
    let pool =
        haplan::pool_from_value(&serde_json::json!({"name": "tiers", "hosts": hosts, "vms": vms}))
            .unwrap();
    let (answer, page) = report(&pool, Vec::new());
    assert!(
        answer["tiers"]["exact"].as_bool().unwrap(),
        "{}",
        answer["tiers"]
    );
    let rows = page["tiers"]["degradation"].as_array().unwrap();
    let full = answer["tiers"]["degradation"].as_array().unwrap();
    assert!(
        rows.iter()
            .any(|d| d["safe_tiers_total"].as_u64() > Some(200)
                || d["lost_tiers_total"].as_u64() > Some(200)),
        "some row lists more tiers than the page names"
    );
    for (d, f) in rows.iter().zip(full) {
        for key in ["safe_tiers", "lost_tiers", "undecided_tiers"] {
            let all = f[key].as_array().unwrap();
            let shown = d[key].as_array().unwrap();
            assert_eq!(shown[..], all[..all.len().min(200)], "{key}");
            if all.len() > 200 {
                assert_eq!(d[format!("{key}_total")].as_u64(), Some(all.len() as u64));
            }
        }
    }
    let html = haplan_html::report_html(&page).unwrap();
    check_against(&html, &answer, "tiers");
    assert_eq!(haplan_html::report_html(&answer).unwrap(), html);
}
