//! Diff for CI: two versions of a pool checked against one policy
//! (`haplan diff OLD NEW`, `docs/cli.md`).
//!
//! Both pools are checked with the same K (the caller's, or NEW's
//! `host_failures_to_tolerate`). NEW fails the policy when its own check is
//! not ok (tolerance below K, a protected VM not agile, VMs of down hosts
//! stranded now) or, under `no_regress`, when it tolerates fewer failures
//! than OLD. Besides the verdict the report lists what changed that people
//! reviewing the change care about: hosts and VMs added and removed,
//! protected VMs removed, VMs that lost protection, and protected VMs that
//! became not agile.
//!
//! ```
//! let old = haplan::parse_pool(r#"{"name": "p", "hosts": [
//!   {"name": "h1", "capacity": {"memory_mib": 100}},
//!   {"name": "h2", "capacity": {"memory_mib": 100}}],
//!   "vms": [{"name": "a", "host": "h1", "demand": {"memory_mib": 60}}]}"#).unwrap();
//! let new = haplan::parse_pool(r#"{"name": "p", "hosts": [
//!   {"name": "h1", "capacity": {"memory_mib": 100}},
//!   {"name": "h2", "capacity": {"memory_mib": 100}}],
//!   "vms": [{"name": "a", "host": "h1", "demand": {"memory_mib": 60}},
//!           {"name": "b", "host": "h2", "demand": {"memory_mib": 60}}]}"#).unwrap();
//! let d = haplan::diff(&old, &new, &haplan::DiffOptions::default());
//! assert_eq!((d.old.max_tolerable, d.new.max_tolerable), (1, 0));
//! assert_eq!(d.vms_added, ["b"]);
//! assert_eq!(d.verdict(), haplan::Verdict::NotOk);
//! ```

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use crate::agility::NotAgile;
use crate::headroom::{self, HeadroomError, HeadroomReport, Shape};
use crate::model::{Pool, Restart};
use crate::tolerance::{self, CheckOptions, CheckReport, Verdict};

/// What to ask of [`diff`].
#[derive(Clone, Copy, Debug, Default)]
pub struct DiffOptions<'a> {
    /// Options of both checks. `check.tolerate` is K for both pools; when
    /// `None`, K is NEW's `host_failures_to_tolerate`. A time limit covers
    /// both checks together.
    pub check: CheckOptions<'a>,
    /// NEW must also tolerate at least as many failures as OLD.
    pub no_regress: bool,
    /// Also the headroom of both pools for VMs of this shape, against K
    /// (informative: it does not change the verdict).
    pub vm: Option<&'a Shape>,
}

/// The headroom of OLD and NEW for one VM shape.
#[derive(Clone, Debug)]
pub struct DiffHeadroom {
    /// OLD's headroom, or why it has none (a resource it does not know).
    pub old: Result<HeadroomReport, HeadroomError>,
    /// NEW's headroom, or why it has none.
    pub new: Result<HeadroomReport, HeadroomError>,
}

impl DiffHeadroom {
    /// NEW's headroom minus OLD's, when both are exact.
    pub fn change(&self) -> Option<i64> {
        match (&self.old, &self.new) {
            (Ok(o), Ok(n)) if o.exact && n.exact => {
                Some(n.max_additional as i64 - o.max_additional as i64)
            }
            _ => None,
        }
    }
}

/// A protected VM of OLD that NEW no longer protects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LostProtection {
    /// The VM.
    pub vm: String,
    /// Its `restart` in NEW (`best_effort` or `unprotected`).
    pub restart: Restart,
}

/// The answer of [`diff()`]: NEW, a new version of OLD, against the policy,
/// and what changed.
#[derive(Clone, Debug)]
pub struct DiffReport {
    /// K, as used for both pools.
    pub tolerate: u32,
    /// Whether a proved regression fails the policy.
    pub no_regress: bool,
    /// OLD's check, against K.
    pub old: CheckReport,
    /// NEW's check, against K.
    pub new: CheckReport,
    /// Host names in NEW but not in OLD, in NEW's order.
    pub hosts_added: Vec<String>,
    /// Host names in OLD but not in NEW, in OLD's order.
    pub hosts_removed: Vec<String>,
    /// VM names in NEW but not in OLD, in NEW's order.
    pub vms_added: Vec<String>,
    /// VM names in OLD but not in NEW, in OLD's order.
    pub vms_removed: Vec<String>,
    /// VMs of `vms_removed` that OLD protects (`restart: protected`).
    pub removed_protected: Vec<String>,
    /// VMs in both that OLD protects and NEW does not, in NEW's order.
    pub lost_protection: Vec<LostProtection>,
    /// NEW's not-agile protected VMs (ids in NEW) that OLD does not report
    /// as not agile: agile there, not protected there, or not there at all.
    pub newly_not_agile: Vec<NotAgile>,
    /// With `vm`: the headroom of both pools for it.
    pub headroom: Option<DiffHeadroom>,
    /// NEW only removed VMs or added capacity ([`no_worse`]): it cannot
    /// tolerate fewer failures than OLD.
    pub no_worse: bool,
}

impl DiffReport {
    /// Whether NEW tolerates fewer failures than OLD: `None` when a budget
    /// left the bounds overlapping. Never when NEW only removed VMs or
    /// added capacity ([`no_worse`]).
    pub fn regressed(&self) -> Option<bool> {
        if self.no_worse {
            Some(false)
        } else if self.new.upper_bound < self.old.max_tolerable {
            Some(true)
        } else if self.new.max_tolerable >= self.old.upper_bound {
            Some(false)
        } else {
            None
        }
    }

    /// `NotOk` when NEW's check is not ok, or under `no_regress` when a
    /// regression is proved; `Undecided` when a budget left NEW's own
    /// check open; else `Ok`. A regression a budget left open does not
    /// fail the policy: NEW only has to reach min(OLD, K), and an ok NEW
    /// tolerates K.
    pub fn verdict(&self) -> Verdict {
        let regressed = self.no_regress && self.regressed() == Some(true);
        match self.new.verdict() {
            Verdict::NotOk => Verdict::NotOk,
            _ if regressed => Verdict::NotOk,
            v => v,
        }
    }

    /// Whether NEW passes the policy.
    pub fn ok(&self) -> bool {
        self.verdict() == Verdict::Ok
    }
}

/// Compares OLD and NEW under one policy.
pub fn diff(old: &Pool, new: &Pool, opts: &DiffOptions) -> DiffReport {
    let k = opts
        .check
        .tolerate
        .unwrap_or(new.ha.host_failures_to_tolerate);
    let check = CheckOptions {
        tolerate: Some(k),
        ..opts.check
    };
    let start = Instant::now();
    let (old_report, new_report) = check_both(old, new, &check);
    let headroom = opts.vm.map(|shape| {
        // NEW's headroom first, with half of the time left; OLD's gets the
        // rest (so that a limit leaves proved bounds on both sides, not
        // one answer and one untouched).
        let deadline = opts.check.time_limit.map(|d| start + d);
        let half = deadline.map(|d| {
            let now = Instant::now();
            now + d.saturating_duration_since(now) / 2
        });
        let side = |pool: &Pool, report: &CheckReport, deadline: Option<Instant>| {
            let until = headroom::Until {
                deadline,
                cancel: opts.check.cancel,
                method: headroom::Method::Auto,
            };
            headroom::headroom_after_check(pool, shape, k, &until, Instant::now(), report.clone())
        };
        let new_side = side(new, &new_report, half);
        DiffHeadroom {
            old: side(old, &old_report, deadline),
            new: new_side,
        }
    });

    fn names(pool: &Pool, hosts: bool) -> HashSet<&str> {
        if hosts {
            pool.hosts.iter().map(|h| h.name.as_str()).collect()
        } else {
            pool.vms.iter().map(|v| v.name.as_str()).collect()
        }
    }
    let (old_hosts, new_hosts) = (names(old, true), names(new, true));
    let (old_vms, new_vms) = (names(old, false), names(new, false));
    let hosts_added = new
        .hosts
        .iter()
        .filter(|h| !old_hosts.contains(h.name.as_str()))
        .map(|h| h.name.clone())
        .collect();
    let hosts_removed = old
        .hosts
        .iter()
        .filter(|h| !new_hosts.contains(h.name.as_str()))
        .map(|h| h.name.clone())
        .collect();
    let vms_added = new
        .vms
        .iter()
        .filter(|v| !old_vms.contains(v.name.as_str()))
        .map(|v| v.name.clone())
        .collect();
    let removed: Vec<&crate::model::Vm> = old
        .vms
        .iter()
        .filter(|v| !new_vms.contains(v.name.as_str()))
        .collect();
    let vms_removed = removed.iter().map(|v| v.name.clone()).collect();
    let removed_protected = removed
        .iter()
        .filter(|v| v.restart == Restart::Protected)
        .map(|v| v.name.clone())
        .collect();
    let old_by_name = by_name(old);
    let lost_protection = new
        .vms
        .iter()
        .filter(|v| v.restart != Restart::Protected)
        .filter(|v| {
            old_by_name
                .get(v.name.as_str())
                .is_some_and(|&o| old.vms[o].restart == Restart::Protected)
        })
        .map(|v| LostProtection {
            vm: v.name.clone(),
            restart: v.restart,
        })
        .collect();
    let was_not_agile: HashSet<&str> = old_report
        .not_agile
        .iter()
        .map(|n| old.vms[n.vm].name.as_str())
        .collect();
    let newly_not_agile = new_report
        .not_agile
        .iter()
        .filter(|n| !was_not_agile.contains(new.vms[n.vm].name.as_str()))
        .cloned()
        .collect();
    let no_worse = no_worse(old, new, &old_report, &new_report);
    DiffReport {
        no_worse,
        tolerate: k,
        no_regress: opts.no_regress,
        old: old_report,
        new: new_report,
        hosts_added,
        hosts_removed,
        vms_added,
        vms_removed,
        removed_protected,
        lost_protection,
        newly_not_agile,
        headroom,
    }
}

/// Each VM of `pool` by name (names are unique in a valid pool).
fn by_name(pool: &Pool) -> HashMap<&str, usize> {
    pool.vms
        .iter()
        .enumerate()
        .map(|(i, v)| (v.name.as_str(), i))
        .collect()
}

/// Checks two pools with the same options; a time limit covers both. `b`,
/// whose verdict is the answer (NEW, the changed pool), goes first, and
/// `a` gets what it left: once its K is decided, `b` spends at most half
/// of the time limit on its exact maximum, so that `a` has time to prove
/// something too (its set-up alone takes seconds on 20,000 hosts).
pub(crate) fn check_both(a: &Pool, b: &Pool, opts: &CheckOptions) -> (CheckReport, CheckReport) {
    let start = Instant::now();
    let first_opts = CheckOptions {
        max_time: match (opts.max_time, opts.time_limit) {
            (Some(m), Some(l)) => Some(m.min(l / 2)),
            (None, Some(l)) => Some(l / 2),
            (m, None) => m,
        },
        ..*opts
    };
    let second = tolerance::check(b, &first_opts);
    let rest = CheckOptions {
        time_limit: opts
            .time_limit
            .map(|limit| limit.saturating_sub(start.elapsed())),
        ..*opts
    };
    let first = tolerance::check(a, &rest);
    (first, second)
}

/// Whether NEW is OLD with only changes that cannot lower a tolerance:
/// protected VMs removed, hosts given more capacity (or less reserved).
/// Hosts must be the same, in the same order, with the same state,
/// storage, networks, failure domain and standby role; HA settings the
/// same but K; every VM of NEW a VM of OLD, unchanged; the same VM groups
/// with the same rules, less the removed VMs, and no removed VM a member of
/// a keep-together group (the members left may then all run on one host,
/// which binds a displaced one there). Then every failure set leaves NEW a
/// sub-problem of OLD's (fewer VMs to place, as much room or more, no new
/// rule), so NEW tolerates at least as much, unless a VM that was not
/// agile in OLD (and so not counted) becomes agile in NEW: `not_agile` of
/// both checks rule that out.
pub fn no_worse(old: &Pool, new: &Pool, old_check: &CheckReport, new_check: &CheckReport) -> bool {
    let was_not_agile: HashSet<&str> = old_check
        .not_agile
        .iter()
        .map(|n| old.vms[n.vm].name.as_str())
        .collect();
    let now_not_agile: HashSet<&str> = new_check
        .not_agile
        .iter()
        .map(|n| new.vms[n.vm].name.as_str())
        .collect();
    let agility_ok = was_not_agile
        .iter()
        .all(|v| new.vm_by_name(v).is_none() || now_not_agile.contains(v));
    agility_ok && only_removed_or_grown(old, new)
}

/// [`no_worse`] but for agility (which takes the checks).
fn only_removed_or_grown(old: &Pool, new: &Pool) -> bool {
    let ha = |p: &Pool| crate::model::HaSettings {
        host_failures_to_tolerate: 0,
        ..p.ha.clone()
    };
    if old.resources != new.resources || ha(old) != ha(new) || old.hosts.len() != new.hosts.len() {
        return false;
    }
    let label = old.ha.failure_domain_label.as_deref();
    let hosts_ok = old.hosts.iter().zip(&new.hosts).all(|(o, n)| {
        o.name == n.name
            && o.state == n.state
            && o.standby == n.standby
            && o.storage == n.storage
            && o.networks == n.networks
            && o.listed == n.listed
            && label.is_none_or(|l| o.labels.get(l) == n.labels.get(l))
            && (0..o.capacity.len())
                .all(|r| n.capacity[r] >= o.capacity[r] && n.reserved[r] <= o.reserved[r])
    });
    let old_by_name = by_name(old);
    let vms_ok = new.vms.iter().all(|v| {
        old_by_name
            .get(v.name.as_str())
            .is_some_and(|&o| old.vms[o] == *v)
    });
    let new_by_name = by_name(new);
    let groups_ok = old.vm_groups.len() == new.vm_groups.len()
        && old.vm_groups.iter().zip(&new.vm_groups).all(|(o, n)| {
            let kept: Vec<&str> = o
                .vms
                .iter()
                .map(|&v| old.vms[v].name.as_str())
                .filter(|name| new_by_name.contains_key(name))
                .collect();
            let now: Vec<&str> = n.vms.iter().map(|&v| new.vms[v].name.as_str()).collect();
            o.name == n.name
                && o.affinity == n.affinity
                && o.max_per_host == n.max_per_host
                && o.strict == n.strict
                && kept == now
                && (o.affinity != crate::model::Affinity::Together || kept.len() == o.vms.len())
        });
    hosts_ok && vms_ok && groups_ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    /// Four 100 MiB hosts reaching nfs, with a 20 MiB VM each (80 spare):
    /// every failure set but all four fits, so 3 are tolerated.
    fn base() -> Value {
        json!({
            "name": "d",
            "ha": { "host_failures_to_tolerate": 1 },
            "hosts": (1..=4).map(|i| json!({
                "name": format!("h{i}"), "capacity": {"memory_mib": 100}, "storage": ["nfs"]
            })).collect::<Vec<_>>(),
            "vms": (1..=4).map(|i| json!({
                "name": format!("v{i}"), "host": format!("h{i}"),
                "demand": {"memory_mib": 20}, "storage": ["nfs"]
            })).collect::<Vec<_>>(),
        })
    }

    fn pool(v: &Value) -> Pool {
        crate::pool_from_value(v).unwrap()
    }

    fn run(old: &Value, new: &Value, tolerate: Option<u32>, no_regress: bool) -> DiffReport {
        let opts = DiffOptions {
            check: CheckOptions {
                tolerate,
                ..CheckOptions::default()
            },
            no_regress,
            vm: None,
        };
        diff(&pool(old), &pool(new), &opts)
    }

    #[test]
    fn a_pool_against_itself_changes_nothing() {
        let d = run(&base(), &base(), None, true);
        assert_eq!((d.old.max_tolerable, d.new.max_tolerable), (3, 3));
        assert_eq!(d.tolerate, 1);
        assert_eq!(d.regressed(), Some(false));
        assert_eq!(d.verdict(), Verdict::Ok);
        assert!(d.hosts_added.is_empty() && d.hosts_removed.is_empty());
        assert!(d.vms_added.is_empty() && d.vms_removed.is_empty());
        assert!(d.lost_protection.is_empty() && d.removed_protected.is_empty());
        assert!(d.newly_not_agile.is_empty());
        // Above what both tolerate: not ok, but no regression.
        let d = run(&base(), &base(), Some(4), true);
        assert_eq!(d.tolerate, 4);
        assert_eq!((d.old.configured, d.new.configured), (4, 4));
        assert_eq!(d.regressed(), Some(false));
        assert_eq!(d.verdict(), Verdict::NotOk);
    }

    #[test]
    fn k_defaults_to_new_and_regressions_fail_only_when_asked() {
        // Removing h4 (its VM moves to h3): 3 hosts, h3 has 60 spare, the
        // others 80; two failures put at most 60 on the survivor... {h1, h2}
        // puts v1, v2 (40) on h3 (60): fits; {h1, h3} puts v1, v3, v4 (60)
        // on h2 (80): fits; {h2, h3} likewise on h1. So 2, down from 3.
        let mut new = base();
        new["hosts"].as_array_mut().unwrap().pop();
        new["vms"][3]["host"] = json!("h3");
        new["ha"]["host_failures_to_tolerate"] = json!(2);
        let d = run(&base(), &new, None, false);
        assert_eq!(d.tolerate, 2);
        assert_eq!((d.old.max_tolerable, d.new.max_tolerable), (3, 2));
        assert_eq!(d.hosts_removed, ["h4"]);
        assert_eq!(d.regressed(), Some(true));
        assert_eq!(d.verdict(), Verdict::Ok);
        let d = run(&base(), &new, None, true);
        assert_eq!(d.verdict(), Verdict::NotOk);
        // The other way round is an improvement.
        let d = run(&new, &base(), None, true);
        assert_eq!(d.hosts_added, ["h4"]);
        assert_eq!(d.regressed(), Some(false));
        assert_eq!(d.tolerate, 1);
        assert_eq!(d.verdict(), Verdict::Ok);
    }

    #[test]
    fn protection_and_agility_changes_are_listed() {
        let mut new = base();
        new["vms"][0]["restart"] = json!("best_effort");
        new["vms"][1]["restart"] = json!("unprotected");
        new["vms"][2]["storage"] = json!(["local"]);
        new["hosts"][2]["storage"] = json!(["nfs", "local"]);
        let vms = new["vms"].as_array_mut().unwrap();
        vms.remove(3);
        vms.push(json!({"name": "w", "host": "h4", "demand": {"memory_mib": 1}}));
        let mut old = base();
        // A VM that was not agile already is not newly so.
        old["vms"]
            .as_array_mut()
            .unwrap()
            .push(json!({"name": "pinned", "host": "h1", "demand": {}, "local_devices": ["cd"]}));
        new["vms"]
            .as_array_mut()
            .unwrap()
            .push(json!({"name": "pinned", "host": "h1", "demand": {}, "local_devices": ["cd"]}));
        let d = run(&old, &new, None, false);
        assert_eq!(d.vms_added, ["w"]);
        assert_eq!(d.vms_removed, ["v4"]);
        assert_eq!(d.removed_protected, ["v4"]);
        assert_eq!(
            d.lost_protection,
            vec![
                LostProtection {
                    vm: "v1".into(),
                    restart: Restart::BestEffort
                },
                LostProtection {
                    vm: "v2".into(),
                    restart: Restart::Unprotected
                },
            ]
        );
        let p = pool(&new);
        let newly: Vec<&str> = d
            .newly_not_agile
            .iter()
            .map(|n| p.vms[n.vm].name.as_str())
            .collect();
        assert_eq!(newly, ["v3"]);
        assert_eq!(d.new.not_agile.len(), 2);
        // Not agile in NEW: not ok, whatever the tolerance.
        assert_eq!(d.verdict(), Verdict::NotOk);
    }

    #[test]
    fn a_regression_left_open_by_a_budget_does_not_decide_the_verdict() {
        // A report with proved bounds [lower, upper] and K = 1.
        let report = |lower: u32, upper: u32| CheckReport {
            pool: "d".into(),
            configured: 1,
            max_tolerable: lower,
            upper_bound: upper,
            exact: lower == upper,
            witness: None,
            not_agile: Vec::new(),
            warnings: Vec::new(),
            stranded_now: false,
            now_undecided: false,
            failure_domains: None,
            stopped: None,
            soft: None,
            stats: Default::default(),
        };
        let d = |old: (u32, u32), new: (u32, u32), no_regress: bool| DiffReport {
            tolerate: 1,
            no_regress,
            old: report(old.0, old.1),
            new: report(new.0, new.1),
            hosts_added: Vec::new(),
            hosts_removed: Vec::new(),
            vms_added: Vec::new(),
            vms_removed: Vec::new(),
            removed_protected: Vec::new(),
            lost_protection: Vec::new(),
            newly_not_agile: Vec::new(),
            headroom: None,
            no_worse: false,
        };
        // (old bounds, new bounds) -> regressed
        let cases = [
            ((3, 3), (2, 2), Some(true)),
            ((3, 3), (3, 3), Some(false)),
            ((2, 4), (1, 1), Some(true)),
            ((2, 4), (1, 3), None),
            ((2, 4), (4, 6), Some(false)),
            ((2, 4), (3, 6), None),
            ((3, 3), (1, 3), None),
        ];
        for (old, new, want) in cases {
            assert_eq!(d(old, new, true).regressed(), want, "{old:?} {new:?}");
            // Only a proved regression fails: NEW (at least K = 1 here)
            // only has to reach min(OLD, K).
            let verdict = match want {
                Some(true) => Verdict::NotOk,
                Some(false) | None => Verdict::Ok,
            };
            assert_eq!(d(old, new, true).verdict(), verdict, "{old:?} {new:?}");
            // Without --no-regress only NEW against K counts (lower >= 1).
            assert_eq!(d(old, new, false).verdict(), Verdict::Ok, "{old:?} {new:?}");
        }
        // NEW below K: not ok whatever the regression; open around K: undecided.
        assert_eq!(d((0, 0), (0, 0), false).verdict(), Verdict::NotOk);
        assert_eq!(d((0, 0), (0, 2), false).verdict(), Verdict::Undecided);
        assert_eq!(d((0, 0), (0, 2), true).verdict(), Verdict::Undecided);
        assert_eq!(d((3, 3), (0, 2), true).verdict(), Verdict::NotOk);
        // Structure rules a regression out whatever the bounds say.
        let mut known = d((2, 4), (1, 3), true);
        known.no_worse = true;
        assert_eq!(known.regressed(), Some(false));
        assert_eq!(known.verdict(), Verdict::Ok);
    }

    /// The pool where first-fit fails and an exact packing fits: with no
    /// time to search, the set-level bounds leave its tolerance open
    /// between 0 and 1.
    fn trap(vms: &[(&str, &str, u64, &str)]) -> Value {
        let hosts: Vec<Value> = ["h1", "h2", "h3"]
            .iter()
            .map(|h| json!({"name": h, "capacity": {"memory_mib": 262144}}))
            .collect();
        let vms: Vec<Value> = vms
            .iter()
            .map(|(n, h, gib, restart)| {
                json!({"name": n, "host": h, "demand": {"memory_mib": gib * 1024}, "restart": restart})
            })
            .collect();
        json!({"name": "trap", "hosts": hosts, "vms": vms})
    }

    const TRAP: [(&str, &str, u64, &str); 8] = [
        ("db", "h1", 48, "protected"),
        ("app1", "h1", 32, "protected"),
        ("app2", "h1", 32, "protected"),
        ("app3", "h1", 32, "protected"),
        ("web1", "h1", 24, "protected"),
        ("web2", "h1", 24, "protected"),
        ("batch2", "h2", 160, "unprotected"),
        ("batch3", "h3", 160, "unprotected"),
    ];

    fn no_time(old: &Value, new: &Value) -> DiffReport {
        let opts = DiffOptions {
            check: CheckOptions {
                tolerate: Some(0),
                time_limit: Some(std::time::Duration::ZERO),
                ..CheckOptions::default()
            },
            no_regress: true,
            vm: None,
        };
        diff(&pool(old), &pool(new), &opts)
    }

    #[test]
    fn removing_a_vm_or_adding_capacity_cannot_regress() {
        let mut old = trap(&TRAP);
        old["vms"].as_array_mut().unwrap().push(
            json!({"name": "retired", "host": "h1", "demand": {"memory_mib": 1024}, "power": "halted"}),
        );
        // NEW drops the VM and gives h2 a little more memory.
        let mut new = trap(&TRAP);
        new["hosts"][1]["capacity"]["memory_mib"] = json!(262145);
        let d = no_time(&old, &new);
        // The bounds alone leave the comparison open...
        assert!(!d.old.exact && !d.new.exact, "{:?} {:?}", d.old, d.new);
        assert!(d.new.max_tolerable < d.old.upper_bound);
        // ...but the change cannot lower the tolerance.
        assert!(d.no_worse);
        assert_eq!(d.regressed(), Some(false));
        assert_eq!(d.verdict(), Verdict::Ok);

        // A VM added, moved or grown, or capacity taken away: no such proof.
        let mut grown = old.clone();
        grown["vms"][4]["demand"]["memory_mib"] = json!(25 * 1024);
        let mut smaller = old.clone();
        smaller["hosts"][2]["capacity"]["memory_mib"] = json!(262143);
        let mut added = old.clone();
        added["vms"]
            .as_array_mut()
            .unwrap()
            .push(json!({"name": "x", "host": "h2", "demand": {"memory_mib": 1024}}));
        let mut moved = old.clone();
        moved["vms"][5]["host"] = json!("h2");
        for new in [grown, smaller, added, moved] {
            let d = no_time(&old, &new);
            assert!(!d.no_worse, "{new}");
            // Open, and not a failure of the policy: NEW reaches K = 0.
            assert_eq!(d.regressed(), None, "{new}");
            assert_eq!(d.verdict(), Verdict::Ok, "{new}");
        }
    }

    #[test]
    fn rules_between_vms_must_stay_as_they_were() {
        // a and b must run together, c and d apart (each can restart on
        // h3, so both are agile).
        let old = json!({"name": "g", "hosts": [
            {"name": "h1", "capacity": {"m": 100}}, {"name": "h2", "capacity": {"m": 100}},
            {"name": "h3", "capacity": {"m": 100}}],
            "vms": [
                {"name": "a", "host": "h1", "demand": {"m": 10}},
                {"name": "b", "host": "h1", "demand": {"m": 10}},
                {"name": "c", "host": "h1", "demand": {"m": 10}},
                {"name": "d", "host": "h2", "demand": {"m": 10}}],
            "vm_groups": [
                {"name": "ab", "affinity": "together", "vms": ["a", "b"]},
                {"name": "cd", "affinity": "apart", "vms": ["c", "d"]}]});
        let (o, check) = (
            pool(&old),
            tolerance::check(&pool(&old), &CheckOptions::default()),
        );
        let worse = |new: &Value| {
            let n = pool(new);
            !no_worse(
                &o,
                &n,
                &check,
                &tolerance::check(&n, &CheckOptions::default()),
            )
        };
        let without = |vm: usize, group: usize| {
            let mut new = old.clone();
            new["vms"].as_array_mut().unwrap().remove(vm);
            let name = old["vms"][vm]["name"].clone();
            new["vm_groups"][group]["vms"]
                .as_array_mut()
                .unwrap()
                .retain(|v| *v != name);
            new
        };
        // Removing a member of an anti-affinity group: no worse.
        assert!(!worse(&without(2, 1)));
        // Removing one of a keep-together group: not known to be.
        assert!(worse(&without(0, 0)));
        // A rule added or tightened: not known to be.
        let mut added = old.clone();
        added["vm_groups"]
            .as_array_mut()
            .unwrap()
            .push(json!({"name": "ac", "affinity": "apart", "vms": ["a", "c"]}));
        assert!(worse(&added));
        let mut strict = old.clone();
        strict["vm_groups"][1]["max_per_host"] = json!(1);
        strict["vm_groups"][1]["vms"] = json!(["c", "d", "a"]);
        assert!(worse(&strict));
    }

    #[test]
    fn a_vm_that_becomes_agile_is_no_proof() {
        // v1 and v2 cannot restart while their anti-affinity peer runs on
        // the only other host: not agile, not counted. Removing v1 makes
        // v2 agile, and counted: the structure alone proves nothing then.
        let old = json!({"name": "a", "hosts": [
            {"name": "h1", "capacity": {"m": 100}}, {"name": "h2", "capacity": {"m": 110}}],
            "vms": [
                {"name": "v1", "host": "h1", "demand": {"m": 10}, "anti_affinity": "g"},
                {"name": "v2", "host": "h2", "demand": {"m": 96}, "anti_affinity": "g"},
                {"name": "v3", "host": "h1", "demand": {"m": 5}}]});
        let mut new = old.clone();
        new["vms"].as_array_mut().unwrap().remove(0);
        let d = run(&old, &new, Some(1), true);
        assert_eq!(d.old.not_agile.len(), 2);
        assert!(d.new.not_agile.is_empty());
        assert!(!d.no_worse);
        // v2 (96) does not fit h1's 95 spare: NEW tolerates 0 where OLD,
        // counting only v3 (5, into h2's 14), tolerated 1.
        assert_eq!((d.old.max_tolerable, d.new.max_tolerable), (1, 0));
        assert_eq!(d.regressed(), Some(true));
    }
}
