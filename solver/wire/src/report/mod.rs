//! The wire formats of `check`, `plan`, `whatif`, `diff`, `headroom`, `drain`, `tiers` and `timing` (`docs/cli.md`): JSON built from
//! types private to this module, and the text people read. Domain types carry
//! ids; names are resolved here.

use std::fmt::Write as _;

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use haplan::diff::{DiffHeadroom, DiffReport};
use haplan::headroom::{HeadroomError, HeadroomReport, Shape};
use haplan::model::{Pool, Priority};
use haplan::plan::{BrokenRule, Plan, SoftRule};
use haplan::tiers::TiersReport;
use haplan::timing::TimingReport;
use haplan::tolerance::{CheckReport, Verdict, Witness};
use haplan::whatif::{Change, WhatIfReport};
use haplan::words::plural;

mod check;
mod diff;
mod drain;
mod headroom;
mod plan;
mod text;
mod tiers;
mod timing;

pub use check::*;
pub use diff::*;
pub use drain::*;
pub use headroom::*;
pub use plan::*;
use text::*;
pub use tiers::*;
pub use timing::*;

/// An answer as the JSON text printed: pretty, with a last newline.
pub fn json_text(answer: &impl Serialize) -> String {
    json_text_into(answer, Vec::new())
}

/// [`json_text`] written straight to `out` (a file), without the text
/// ever being whole in memory.
pub fn write_json_text(
    answer: &impl Serialize,
    mut out: impl std::io::Write,
) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut out, answer)?;
    out.write_all(b"\n")
}

/// [`json_text`] written into `out` (a buffer the caller reserved for an
/// answer it knows to be large).
fn json_text_into(answer: &impl Serialize, mut out: Vec<u8>) -> String {
    serde_json::to_writer_pretty(&mut out, answer).expect("serializable");
    out.push(b'\n');
    String::from_utf8(out).expect("serde_json writes UTF-8")
}

/// A verdict as the JSON names it (`drain` has words of its own for two
/// of them: [`verdict_of`]).
pub fn verdict_str(v: Verdict) -> &'static str {
    match v {
        Verdict::Ok => "ok",
        Verdict::NotOk => "not_ok",
        Verdict::Undecided => "undecided",
    }
}

/// The `verdict` of every answer but `drain`'s.
#[derive(JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(rename = "Verdict")]
#[allow(dead_code, reason = "only its JSON Schema is used")]
enum VerdictName {
    /// The question is answered yes (exit 0).
    Ok,
    /// The question is answered no, and that is proved (exit 1).
    NotOk,
    /// Neither is proved within the time given (exit 3).
    Undecided,
}

/// The `verdict` of `drain`: `drainable` is `ok`, `blocked` is `not_ok`.
#[derive(JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(rename = "DrainVerdict")]
#[allow(dead_code, reason = "only its JSON Schema is used")]
enum DrainVerdictName {
    /// The host can be drained with the pool still tolerating K (exit 0).
    Drainable,
    /// It cannot, and that is proved (exit 1).
    Blocked,
    /// Neither is proved within the time given (exit 3).
    Undecided,
}

/// A restart priority as answers write it: one of the four names, or the
/// number of a priority between them.
#[derive(JsonSchema)]
#[serde(untagged)]
#[schemars(rename = "Priority")]
#[allow(dead_code, reason = "only its JSON Schema is used")]
enum PriorityName {
    /// `critical` (4000), `high` (3000), `medium` (2000) or `low` (1000).
    Name(PriorityWord),
    /// Any other priority.
    Number(i32),
}

/// The four named priorities.
#[derive(JsonSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code, reason = "only its JSON Schema is used")]
enum PriorityWord {
    Critical,
    High,
    Medium,
    Low,
}

/// The exit code of the command whose answer has verdict `v`: 0 ok, 1 not
/// ok, 3 undecided (2 is for a question that could not be asked).
pub fn exit_code(v: Verdict) -> i32 {
    match v {
        Verdict::Ok => 0,
        Verdict::NotOk => 1,
        Verdict::Undecided => 3,
    }
}

/// The verdict of an answer's JSON (any of them: `drain`'s `drainable`
/// and `blocked` read as ok and not ok); `None` when it has none.
pub fn verdict_of(answer: &Value) -> Option<Verdict> {
    match answer.get("verdict")?.as_str()? {
        "ok" | "drainable" => Some(Verdict::Ok),
        "not_ok" | "blocked" => Some(Verdict::NotOk),
        "undecided" => Some(Verdict::Undecided),
        _ => None,
    }
}

/// A plan's verdict: every protected VM placed, or proved not to fit, or
/// neither within the time given.
pub fn plan_verdict(pool: &Pool, p: &Plan) -> Verdict {
    if p.all_protected_placed(pool) {
        Verdict::Ok
    } else if p.exact || p.protected_short {
        Verdict::NotOk
    } else {
        Verdict::Undecided
    }
}

/// `agility`'s verdict: every protected VM has a target.
pub fn agility_verdict(ag: &haplan::agility::Agility) -> Verdict {
    if ag.not_agile.is_empty() {
        Verdict::Ok
    } else {
        Verdict::NotOk
    }
}

/// `tiers`' verdict: the pool's (the lowest tier's), undecided when a tier
/// was cut short even though K is proved.
pub fn tiers_verdict(r: &TiersReport) -> Verdict {
    match r.verdict() {
        Verdict::Ok if !r.exact => Verdict::Undecided,
        v => v,
    }
}

/// `timing`'s verdict: every protected VM concerned runs again, or not, or
/// no failure set was looked at within the time given.
pub fn timing_verdict(r: &TimingReport) -> Verdict {
    if r.undecided {
        Verdict::Undecided
    } else if r.ok() {
        Verdict::Ok
    } else {
        Verdict::NotOk
    }
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "NotAgile")]
struct NotAgileJson<'a> {
    vm: &'a str,
    reasons: &'a [String],
}
