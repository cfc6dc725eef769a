//! `whatif` and `diff`: their JSON and text.

use super::*;

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "WhatIf")]
pub(crate) struct WhatIfJson<'a> {
    pool: &'a str,
    changes: Vec<String>,
    ok: bool,
    #[schemars(with = "VerdictName")]
    verdict: &'static str,
    #[schemars(with = "CheckJson")]
    before: Value,
    #[schemars(with = "CheckJson")]
    after: Value,
}

/// A what-if report as the JSON object of `docs/cli.md`: the changes in
/// words, and the `check` object of the pool before and after them.
pub fn whatif_json(before: &Pool, after: &Pool, changes: &[Change], r: &WhatIfReport) -> Value {
    let json = WhatIfJson {
        pool: &after.name,
        changes: changes.iter().map(|c| c.to_string()).collect(),
        ok: r.after.ok(),
        verdict: verdict_str(r.verdict()),
        before: check_json(before, &r.before),
        after: check_json(after, &r.after),
    };
    serde_json::to_value(json).expect("serializable")
}

/// A what-if report for people: the verdict on the changed pool first, the
/// changes, then the check of the pool after and before them.
pub fn whatif_text(before: &Pool, after: &Pool, changes: &[Change], r: &WhatIfReport) -> String {
    let mut s = String::new();
    let (b, a) = (&r.before, &r.after);
    let configured = if a.configured == b.configured {
        format!("configured: {}", a.configured)
    } else {
        format!("configured: {}, before: {}", a.configured, b.configured)
    };
    let _ = writeln!(
        s,
        "{}: after {}, pool {} tolerates {} ({configured}); before the changes: {}",
        verdict_words(a),
        plural(changes.len(), "change", "changes"),
        after.name,
        tolerance_words(a),
        tolerance_words(b),
    );
    if !changes.is_empty() {
        let _ = writeln!(s, "Changes:");
        for (i, c) in changes.iter().enumerate() {
            let _ = writeln!(s, "  changes[{i}]: {c}");
        }
    }
    let _ = writeln!(s, "After the changes:");
    s.push_str(&check_text(after, a));
    let _ = writeln!(s, "Before the changes:");
    s.push_str(&check_text(before, b));
    s
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "Diff")]
pub(crate) struct DiffJson<'a> {
    ok: bool,
    #[schemars(with = "VerdictName")]
    verdict: &'static str,
    tolerate: u32,
    no_regress: bool,
    regressed: Option<bool>,
    no_worse: bool,
    reasons: Vec<String>,
    hosts_added: &'a [String],
    hosts_removed: &'a [String],
    vms_added: &'a [String],
    vms_removed: &'a [String],
    removed_protected: &'a [String],
    lost_protection: Vec<LostJson<'a>>,
    newly_not_agile: Vec<NotAgileJson<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    headroom: Option<DiffHeadroomJson<'a>>,
    #[schemars(with = "CheckJson")]
    old: Value,
    #[schemars(with = "CheckJson")]
    new: Value,
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "Lost")]
struct LostJson<'a> {
    vm: &'a str,
    restart: &'static str,
}

/// Why NEW fails the policy, or is undecided; empty when it meets it.
fn diff_reasons(new: &Pool, d: &DiffReport) -> Vec<String> {
    let n = &d.new;
    let mut out = Vec::new();
    if n.stranded_now {
        out.push(
            "VMs of hosts already down cannot all restart, even with no further failure"
                .to_string(),
        );
    }
    if n.upper_bound < d.tolerate {
        out.push(format!(
            "it tolerates {}, fewer than the {} required",
            tolerance_words(n),
            d.tolerate
        ));
    } else if n.max_tolerable < d.tolerate {
        out.push(format!(
            "undecided: it tolerates {}; the time limit ran out before {} was proved either way",
            tolerance_words(n),
            d.tolerate
        ));
    }
    if !n.not_agile.is_empty() {
        let names: Vec<&str> = n
            .not_agile
            .iter()
            .map(|a| new.vms[a.vm].name.as_str())
            .collect();
        out.push(format!(
            "{} not agile: {}",
            plural(names.len(), "protected VM is", "protected VMs are"),
            names.join(", ")
        ));
    }
    if d.no_regress && d.regressed() == Some(true) {
        out.push(format!(
            "it tolerates {}, fewer than the {} it tolerated before (--no-regress)",
            tolerance_words(n),
            tolerance_words(&d.old)
        ));
    }
    out
}

/// A diff as the JSON object of `docs/cli.md`.
pub fn diff_json(old: &Pool, new: &Pool, d: &DiffReport) -> Value {
    let json = DiffJson {
        ok: d.ok(),
        verdict: verdict_str(d.verdict()),
        tolerate: d.tolerate,
        no_regress: d.no_regress,
        regressed: d.regressed(),
        no_worse: d.no_worse,
        reasons: diff_reasons(new, d),
        hosts_added: &d.hosts_added,
        hosts_removed: &d.hosts_removed,
        vms_added: &d.vms_added,
        vms_removed: &d.vms_removed,
        removed_protected: &d.removed_protected,
        lost_protection: d
            .lost_protection
            .iter()
            .map(|l| LostJson {
                vm: &l.vm,
                restart: l.restart.as_str(),
            })
            .collect(),
        newly_not_agile: d
            .newly_not_agile
            .iter()
            .map(|n| NotAgileJson {
                vm: &new.vms[n.vm].name,
                reasons: &n.reasons,
            })
            .collect(),
        headroom: d.headroom.as_ref().map(|h| diff_headroom_json(old, new, h)),
        old: check_json(old, &d.old),
        new: check_json(new, &d.new),
    };
    serde_json::to_value(json).expect("serializable")
}

/// `diff --vm`: the headroom of OLD and NEW for one shape.
#[derive(Serialize, JsonSchema)]
#[schemars(rename = "DiffHeadroom")]
struct DiffHeadroomJson<'a> {
    /// The shape; null when neither side could be answered.
    vm: Option<ShapeJson<'a>>,
    old: HeadroomSideJson<'a>,
    new: HeadroomSideJson<'a>,
    /// NEW's count minus OLD's, when both are exact.
    change: Option<i64>,
}

/// One side of diff's headroom: the count, its bounds, the placement and
/// the limit (the full report is `headroom`'s), or why there is none.
#[derive(Serialize, JsonSchema)]
#[schemars(rename = "HeadroomSide")]
#[serde(untagged)]
enum HeadroomSideJson<'a> {
    Answer {
        max_additional: u32,
        upper_bound: u32,
        exact: bool,
        placement: Vec<CountJson<'a>>,
        limit: LimitJson<'a>,
    },
    Error {
        error: String,
    },
}

fn headroom_side_json<'a>(
    pool: &'a Pool,
    r: &'a Result<HeadroomReport, HeadroomError>,
) -> HeadroomSideJson<'a> {
    match r {
        Ok(r) => HeadroomSideJson::Answer {
            max_additional: r.max_additional,
            upper_bound: r.upper_bound,
            exact: r.exact,
            placement: placement_json(pool, r),
            limit: limit_json(pool, r),
        },
        Err(e) => HeadroomSideJson::Error {
            error: e.to_string(),
        },
    }
}

fn diff_headroom_json<'a>(
    old: &'a Pool,
    new: &'a Pool,
    h: &'a DiffHeadroom,
) -> DiffHeadroomJson<'a> {
    let shape = match (&h.new, &h.old) {
        (Ok(r), _) | (_, Ok(r)) => Some(shape_json(&r.shape)),
        _ => None,
    };
    DiffHeadroomJson {
        vm: shape,
        old: headroom_side_json(old, &h.old),
        new: headroom_side_json(new, &h.new),
        change: h.change(),
    }
}

/// `12`, `between 10 and 12`, or the error.
fn headroom_words(r: &Result<HeadroomReport, HeadroomError>) -> String {
    match r {
        Ok(r) => count_words(r.max_additional, r.upper_bound),
        Err(e) => format!("({e})"),
    }
}

/// A diff for a CI log: the verdict first, why, what changed, then the
/// check of NEW and of OLD.
pub fn diff_text(old: &Pool, new: &Pool, d: &DiffReport) -> String {
    let mut s = String::new();
    let verdict = match d.verdict() {
        Verdict::Ok => "OK",
        Verdict::NotOk => "NOT OK",
        Verdict::Undecided => "UNDECIDED",
    };
    let _ = writeln!(
        s,
        "{verdict}: pool {} tolerates {} (before: {}; required: {}{})",
        new.name,
        tolerance_words(&d.new),
        tolerance_words(&d.old),
        d.tolerate,
        if d.no_regress {
            " and no regression"
        } else {
            ""
        }
    );
    for r in diff_reasons(new, d) {
        let _ = writeln!(s, "  {r}");
    }
    let list = |s: &mut String, title: &str, names: &[String]| {
        if !names.is_empty() {
            let _ = writeln!(s, "{title} ({}): {}", names.len(), name_list(names));
        }
    };
    list(&mut s, "Hosts added", &d.hosts_added);
    list(&mut s, "Hosts removed", &d.hosts_removed);
    list(&mut s, "VMs added", &d.vms_added);
    list(&mut s, "VMs removed", &d.vms_removed);
    list(&mut s, "Protected VMs removed", &d.removed_protected);
    let lost: Vec<String> = d
        .lost_protection
        .iter()
        .map(|l| format!("{} (now {})", l.vm, l.restart.as_str()))
        .collect();
    list(&mut s, "VMs that lost protection", &lost);
    if !d.newly_not_agile.is_empty() {
        let _ = writeln!(
            s,
            "Protected VMs newly not agile ({}):",
            d.newly_not_agile.len()
        );
        for n in &d.newly_not_agile {
            let _ = writeln!(s, "  {}: {}", new.vms[n.vm].name, n.reasons.join("; "));
        }
    }
    if let Some(h) = &d.headroom {
        let shape = match (&h.new, &h.old) {
            (Ok(r), _) | (_, Ok(r)) => r.shape.describe(),
            _ => String::new(),
        };
        let change = match h.change() {
            Some(0) => ", no change".to_string(),
            Some(c) => format!(", {c:+}"),
            None => String::new(),
        };
        let _ = writeln!(
            s,
            "Headroom for VMs of {shape} (still tolerating {}): {} (before: {}{change})",
            plural(d.tolerate, "host failure", "host failures"),
            headroom_words(&h.new),
            headroom_words(&h.old),
        );
    }
    let _ = writeln!(s, "New pool:");
    s.push_str(&check_text(new, &d.new));
    let _ = writeln!(s, "Old pool:");
    s.push_str(&check_text(old, &d.old));
    s
}
