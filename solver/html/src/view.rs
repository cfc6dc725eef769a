//! What the templates need beyond the answers: verdict words, hosts grouped
//! and ordered, bar widths. Every number a page shows is read from the
//! answer JSON at a JSON Pointer the page names (`data-json`); nothing here
//! computes a fact the JSON lacks.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

/// Hosts shown in full per group; the rest of a larger group is folded.
pub const GROUP_SHOWN: usize = 40;
/// Pools with more hosts than this also get the overview map.
pub const OVERVIEW_FROM: usize = 24;

fn u(v: &Value) -> i64 {
    v.as_i64().unwrap_or(0)
}

fn arr(v: &Value) -> &[Value] {
    v.as_array().map_or(&[], Vec::as_slice)
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

/// A check's verdict as its text output says it: `(kind, word)` with kind
/// `ok`, `not_ok` or `undecided` (the exit code's), word `OK`,
/// `OVERCOMMITTED`, `NOT OK` (only agility fails) or `UNDECIDED`.
pub fn check_verdict(c: &Value) -> (&'static str, &'static str) {
    // Undecided though the bounds meet K: the VMs of hosts already down
    // were not decided (the answer's own `verdict` says so).
    if c["verdict"] == "undecided" {
        return ("undecided", "UNDECIDED");
    }
    let not_agile = !arr(&c["not_agile"]).is_empty();
    let stranded = c["stranded_now"].as_bool().unwrap_or(false);
    let (max, upper, k) = (
        u(&c["max_tolerable"]),
        u(&c["upper_bound"]),
        u(&c["configured"]),
    );
    if not_agile || stranded || upper < k {
        if not_agile && upper >= k && !stranded {
            ("not_ok", "NOT OK")
        } else {
            ("not_ok", "OVERCOMMITTED")
        }
    } else if max >= k {
        ("ok", "OK")
    } else {
        ("undecided", "UNDECIDED")
    }
}

/// A diff's verdict: `(kind, word)` as `haplan diff`'s first line.
pub fn diff_verdict(d: &Value) -> (&'static str, &'static str) {
    let new = check_verdict(&d["new"]).0;
    let no_regress = d["no_regress"].as_bool().unwrap_or(false);
    let regressed = &d["regressed"];
    if new == "not_ok" || (no_regress && regressed.as_bool() == Some(true)) {
        ("not_ok", "NOT OK")
    } else if new == "undecided" || (no_regress && regressed.is_null()) {
        ("undecided", "UNDECIDED")
    } else {
        ("ok", "OK")
    }
}

/// `host` or `domain`: what k counts.
pub fn unit(c: &Value) -> &'static str {
    if c.get("failure_domains").is_some_and(|d| !d.is_null()) {
        "domain"
    } else {
        "host"
    }
}

/// One bar: widths in percent of the longest bar of that resource.
fn bar(r: &Value, scale: i64, ratio: f64) -> Value {
    let (cap, usable, reserved, used) = (
        u(&r["capacity"]),
        u(&r["usable"]),
        u(&r["reserved"]),
        u(&r["used"]),
    );
    let spare = r["spare"].as_i64();
    let pct = |x: i64| -> String {
        if scale <= 0 || x <= 0 {
            "0".into()
        } else {
            let p = x as f64 * 100.0 / scale as f64;
            let t = format!("{p:.1}");
            t.strip_suffix(".0").map_or(t.clone(), str::to_string)
        }
    };
    let within = used.min(usable.max(0));
    json!({
        "r": pct(reserved),
        "u": pct(within),
        "o": pct(used - within),
        "s": pct(spare.unwrap_or(0).max(0)),
        "overloaded": spare.is_some_and(|s| s < 0),
        // Beyond the physical capacity, as an overcommit ratio allows.
        "overcommitted": ratio > 1.0 && used + reserved > cap,
        "physical": if ratio != 1.0 && cap > 0 { Value::from(pct(cap)) } else { Value::Null },
    })
}

/// The smallest spare fraction over a host's resources (its tightest
/// resource), for ordering; hosts that are down sort last.
fn tightness(h: &Value) -> f64 {
    arr(&h["resources"])
        .iter()
        .filter_map(|r| {
            let spare = r["spare"].as_i64()?;
            let usable = u(&r["usable"]);
            Some(if usable > 0 {
                spare as f64 / usable as f64
            } else if spare < 0 {
                -1.0
            } else {
                1.0
            })
        })
        .fold(f64::INFINITY, f64::min)
}

/// The hosts of `pool` (the `pool` part of a report) in groups: the worst
/// failure set first, then the up hosts (by failure domain when k counts
/// domains), standby, maintenance and down hosts; within a group by spare,
/// tightest first.
pub fn host_groups(pool: &Value, check: &Value) -> Value {
    let hosts = arr(&pool["hosts"]);
    let resources = arr(&pool["resources"]);
    let worst: BTreeSet<&str> = check["witness"]["failed_hosts"]
        .as_array()
        .map(|a| a.iter().map(s).collect())
        .unwrap_or_default();
    let mut domain_of: BTreeMap<&str, &str> = BTreeMap::new();
    let domains = arr(&check["failure_domains"]["domains"]);
    for d in domains {
        for h in arr(&d["hosts"]) {
            domain_of.insert(s(h), s(&d["name"]));
        }
    }
    let scales: Vec<i64> = (0..resources.len())
        .map(|r| {
            hosts
                .iter()
                .map(|h| {
                    let x = &h["resources"][r];
                    u(&x["reserved"]) + u(&x["usable"]).max(u(&x["used"]))
                })
                .max()
                .unwrap_or(0)
        })
        .collect();
    let ratios: Vec<f64> = resources
        .iter()
        .map(|r| r["ratio"].as_f64().unwrap_or(1.0))
        .collect();
    // (group order, group key) -> host indices
    let mut groups: BTreeMap<(u8, String), Vec<usize>> = BTreeMap::new();
    for (i, h) in hosts.iter().enumerate() {
        let name = s(&h["name"]);
        let key = if worst.contains(name) {
            (0, String::new())
        } else {
            match (s(&h["state"]), h["standby"].as_bool().unwrap_or(false)) {
                ("down", _) => (5, String::new()),
                ("maintenance", _) => (4, String::new()),
                (_, true) => (3, String::new()),
                _ => match domain_of.get(name) {
                    Some(d) if !domains.is_empty() => (2, (*d).to_string()),
                    _ => (1, String::new()),
                },
            }
        };
        groups.entry(key).or_default().push(i);
    }
    let mut out: Vec<(f64, u8, Value)> = Vec::new();
    for ((order, key), mut members) in groups {
        members.sort_by(|&a, &b| {
            tightness(&hosts[a])
                .total_cmp(&tightness(&hosts[b]))
                .then(a.cmp(&b))
        });
        let first = members.first().map_or(0.0, |&i| tightness(&hosts[i]));
        let (kind, title) = match order {
            0 => ("worst", "Worst failure set".to_string()),
            1 => ("up", "Up".to_string()),
            2 => ("domain", format!("Failure domain {key}")),
            3 => ("standby", "Standby (failover hosts)".to_string()),
            4 => ("maintenance", "In maintenance".to_string()),
            _ => ("down", "Down (their VMs await restart)".to_string()),
        };
        let views: Vec<Value> = members
            .iter()
            .map(|&i| {
                let h = &hosts[i];
                json!({
                    "i": i,
                    "name": h["name"],
                    "state": h["state"],
                    "standby": h["standby"],
                    "worst": worst.contains(s(&h["name"])),
                    "domain": domain_of.get(s(&h["name"])),
                    "bars": arr(&h["resources"]).iter().enumerate()
                        .map(|(r, x)| bar(x, scales[r], ratios[r]))
                        .collect::<Vec<_>>(),
                })
            })
            .collect();
        let (shown, rest) = views.split_at(views.len().min(GROUP_SHOWN));
        out.push((
            first,
            order,
            json!({ "kind": kind, "title": title, "size": members.len(), "shown": shown, "rest": rest }),
        ));
    }
    // Groups keep their kind's place; domains among themselves by their
    // tightest host.
    out.sort_by(|a, b| {
        a.1.cmp(&b.1).then(if a.1 == 2 {
            a.0.total_cmp(&b.0)
        } else {
            std::cmp::Ordering::Equal
        })
    });
    Value::Array(out.into_iter().map(|(_, _, g)| g).collect())
}

/// The overview map of a large pool: one cell per host in the groups'
/// order, shaded by its tightest resource's spare fraction.
pub fn overview(groups: &Value, hosts: &[Value]) -> Value {
    const COLS: usize = 50;
    const CELL: usize = 12;
    let mut cells = Vec::new();
    for g in arr(groups) {
        for h in arr(&g["shown"]).iter().chain(arr(&g["rest"])) {
            let i = h["i"].as_u64().unwrap_or(0) as usize;
            let t = tightness(&hosts[i]);
            let shade = match s(&hosts[i]["state"]) {
                "down" => "d",
                "maintenance" => "m",
                _ if t < 0.0 => "o",
                _ if t < 0.05 => "s0",
                _ if t < 0.15 => "s1",
                _ if t < 0.30 => "s2",
                _ if t < 0.50 => "s3",
                _ => "s4",
            };
            let n = cells.len();
            cells.push(json!({
                "x": (n % COLS) * CELL,
                "y": (n / COLS) * CELL,
                "c": shade,
                "w": h["worst"],
                "name": h["name"],
            }));
        }
    }
    let rows = cells.len().div_ceil(COLS);
    json!({
        "cells": cells,
        "width": COLS.min(hosts.len()) * CELL,
        "height": rows * CELL,
        "size": CELL - 2,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_follow_the_check_fields() {
        let c = |max: u32, upper: u32, k: u32, na: bool, stranded: bool| {
            json!({"max_tolerable": max, "upper_bound": upper, "configured": k,
                   "not_agile": if na { json!([{"vm": "x", "reasons": []}]) } else { json!([]) },
                   "stranded_now": stranded})
        };
        assert_eq!(check_verdict(&c(2, 2, 1, false, false)), ("ok", "OK"));
        assert_eq!(
            check_verdict(&c(0, 0, 1, false, false)),
            ("not_ok", "OVERCOMMITTED")
        );
        assert_eq!(
            check_verdict(&c(2, 2, 1, true, false)),
            ("not_ok", "NOT OK")
        );
        assert_eq!(
            check_verdict(&c(0, 0, 1, true, false)),
            ("not_ok", "OVERCOMMITTED")
        );
        assert_eq!(
            check_verdict(&c(2, 2, 1, false, true)),
            ("not_ok", "OVERCOMMITTED")
        );
        assert_eq!(
            check_verdict(&c(0, 3, 1, false, false)),
            ("undecided", "UNDECIDED")
        );
    }

    #[test]
    fn bars_show_overload_and_overcommit() {
        let r = json!({"capacity": 8, "usable": 32, "reserved": 0, "used": 40, "spare": -8});
        let b = bar(&r, 40, 4.0);
        assert_eq!(b["u"], "80");
        assert_eq!(b["o"], "20");
        assert_eq!(b["s"], "0");
        assert_eq!(b["overloaded"], true);
        assert_eq!(b["overcommitted"], true);
        assert_eq!(b["physical"], "20");
        let r = json!({"capacity": 100, "usable": 90, "reserved": 10, "used": 45, "spare": 45});
        let b = bar(&r, 200, 1.0);
        assert_eq!([&b["r"], &b["u"], &b["s"]], ["5", "22.5", "22.5"]);
        assert_eq!(b["overloaded"], false);
        assert!(b["physical"].is_null());
    }

    #[test]
    fn groups_put_the_worst_set_first_and_sort_by_spare() {
        let host = |name: &str, state: &str, standby: bool, spare: i64| {
            json!({"name": name, "state": state, "standby": standby,
                   "resources": [{"capacity": 100, "usable": 100, "reserved": 0,
                                  "used": 100 - spare, "spare": spare}]})
        };
        let pool = json!({
            "resources": [{"name": "m", "ratio": 1.0}],
            "hosts": [host("a", "up", false, 50), host("b", "up", false, 10),
                      host("c", "up", false, 30), host("d", "up", true, 90),
                      host("e", "maintenance", false, 0), host("f", "up", false, 70)]
        });
        let check = json!({"witness": {"failed_hosts": ["f"]}});
        let g = host_groups(&pool, &check);
        let names = |g: &Value| -> Vec<String> {
            g["shown"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| h["name"].as_str().unwrap().to_string())
                .collect()
        };
        let kinds: Vec<&str> = g
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["kind"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, ["worst", "up", "standby", "maintenance"]);
        assert_eq!(names(&g[0]), ["f"]);
        assert_eq!(names(&g[1]), ["b", "c", "a"]);
        assert_eq!(g[0]["shown"][0]["worst"], true);
        assert_eq!(g[1]["shown"][0]["worst"], false);
    }
}
