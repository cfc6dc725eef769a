//! `headroom`: its JSON and text.

use super::*;

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "Shape")]
pub(super) struct ShapeJson<'a> {
    demand: &'a std::collections::BTreeMap<String, i64>,
    storage: Vec<&'a str>,
    networks: Vec<&'a str>,
}

pub(super) fn shape_json(shape: &Shape) -> ShapeJson<'_> {
    ShapeJson {
        demand: &shape.demand,
        storage: shape.storage.iter().map(String::as_str).collect(),
        networks: shape.networks.iter().map(String::as_str).collect(),
    }
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "Count")]
pub(super) struct CountJson<'a> {
    host: &'a str,
    count: u32,
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "Limit")]
pub(super) struct LimitJson<'a> {
    kind: &'static str,
    reason: &'a str,
    failed_hosts: Vec<&'a str>,
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "HostRoom")]
struct HostRoomJson<'a> {
    host: &'a str,
    room: u32,
    fits_here: u32,
    fits_here_upper: u32,
    reason: Option<&'a str>,
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "HeadroomStats")]
struct HeadroomStatsJson {
    scenarios: u64,
    elapsed_ms: u64,
    checks: u64,
    set_level: u64,
    cuts: u64,
    placements: u64,
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "Headroom")]
pub(crate) struct HeadroomJson<'a> {
    pool: &'a str,
    vm: ShapeJson<'a>,
    tolerate: u32,
    ok: bool,
    #[schemars(with = "VerdictName")]
    verdict: &'static str,
    max_additional: u32,
    upper_bound: u32,
    exact: bool,
    placement: Vec<CountJson<'a>>,
    limit: LimitJson<'a>,
    hosts: Vec<HostRoomJson<'a>>,
    #[schemars(with = "CheckJson")]
    check: Value,
    stats: HeadroomStatsJson,
}

pub(super) fn placement_json<'a>(pool: &'a Pool, r: &HeadroomReport) -> Vec<CountJson<'a>> {
    r.placement
        .iter()
        .enumerate()
        .filter(|&(_, &c)| c > 0)
        .map(|(h, &count)| CountJson {
            host: &pool.hosts[h].name,
            count,
        })
        .collect()
}

pub(super) fn limit_json<'a>(pool: &'a Pool, r: &'a HeadroomReport) -> LimitJson<'a> {
    LimitJson {
        kind: r.limit.kind.as_str(),
        reason: &r.limit.reason,
        failed_hosts: r
            .limit
            .failed
            .iter()
            .map(|&h| pool.hosts[h].name.as_str())
            .collect(),
    }
}

/// The `headroom` report as the JSON object of `docs/cli.md`.
pub fn headroom_json(pool: &Pool, r: &HeadroomReport) -> Value {
    let json = HeadroomJson {
        pool: &r.pool,
        vm: shape_json(&r.shape),
        tolerate: r.tolerate,
        ok: r.ok(),
        verdict: verdict_str(r.verdict()),
        max_additional: r.max_additional,
        upper_bound: r.upper_bound,
        exact: r.exact,
        placement: placement_json(pool, r),
        limit: limit_json(pool, r),
        hosts: r
            .hosts
            .iter()
            .map(|h| HostRoomJson {
                host: &pool.hosts[h.host].name,
                room: h.room,
                fits_here: h.fits_here,
                fits_here_upper: h.fits_here_upper,
                reason: h.reason.as_deref(),
            })
            .collect(),
        check: check_json(pool, &r.check),
        stats: HeadroomStatsJson {
            scenarios: r.stats.scenarios,
            elapsed_ms: r.stats.elapsed.as_millis() as u64,
            checks: r.stats.checks,
            set_level: r.stats.set_level,
            cuts: r.stats.cuts,
            placements: r.stats.placements,
        },
    };
    serde_json::to_value(json).expect("serializable")
}

/// `12`, or `between 10 and 12` when not proved.
pub(super) fn count_words(lower: u32, upper: u32) -> String {
    if lower == upper {
        lower.to_string()
    } else {
        format!("between {lower} and {upper}")
    }
}

/// The `headroom` report for people: the verdict and the count first, then
/// the placement, why not one more, every host, and the check of the pool.
pub fn headroom_text(pool: &Pool, r: &HeadroomReport) -> String {
    let mut s = String::new();
    let shape = r.shape.describe();
    let k = plural(r.tolerate, "host failure", "host failures");
    let c = &r.check;
    let tolerated = !c.stranded_now && c.upper_bound >= r.tolerate;
    if !tolerated {
        let _ = writeln!(
            s,
            "OVERCOMMITTED: pool {} does not tolerate {k} now: no VM of {shape} can start",
            r.pool
        );
    } else {
        let verdict = match r.verdict() {
            Verdict::Ok => "OK",
            Verdict::NotOk => "NOT OK",
            Verdict::Undecided => "UNDECIDED",
        };
        let count = count_words(r.max_additional, r.upper_bound);
        let _ = writeln!(
            s,
            "{verdict}: pool {} can start {count} more {} of {shape} and still tolerate {k}",
            r.pool,
            if r.max_additional == 1 && r.upper_bound == 1 {
                "VM"
            } else {
                "VMs"
            }
        );
    }
    if r.max_additional > 0 {
        let _ = writeln!(
            s,
            "Placement: {}",
            name_list(
                &placement_json(pool, r)
                    .iter()
                    .map(|c| format!("{} {}", c.host, c.count))
                    .collect::<Vec<_>>()
            )
        );
    }
    let next = r.upper_bound as u64 + 1;
    let _ = writeln!(
        s,
        "{}: {}",
        if r.max_additional == r.upper_bound {
            format!("Why not {next}")
        } else {
            format!("Why not {next} (the upper bound)")
        },
        r.limit.reason
    );
    if tolerated {
        let _ = writeln!(
            s,
            "Per host, how many fit there alone, of how many its spare holds:"
        );
        let width = r
            .hosts
            .iter()
            .map(|h| pool.hosts[h.host].name.len())
            .max()
            .unwrap_or(0);
        for h in &r.hosts {
            let fits = count_words(h.fits_here, h.fits_here_upper);
            let reason = h
                .reason
                .as_deref()
                .map(|w| format!(": {w}"))
                .unwrap_or_default();
            let _ = writeln!(
                s,
                "  {:<width$}  {fits} of {}{reason}",
                pool.hosts[h.host].name, h.room
            );
        }
    }
    let _ = writeln!(s, "The pool as it is:");
    s.push_str(&check_text(pool, c));
    let _ = writeln!(
        s,
        "Ran {} in {} ms.",
        plural(r.stats.checks, "tolerance check", "tolerance checks"),
        r.stats.elapsed.as_millis()
    );
    s
}
