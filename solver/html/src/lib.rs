//! haplan's answers for people who look before they read: one
//! self-contained HTML page (inline CSS and SVG, no script, no network) and
//! Markdown for pull-request comments, rendered by minijinja templates from
//! the same JSON answers the command line prints (`haplan-wire`).
//!
//! Every number a page shows sits in an element whose `data-json`
//! attribute is the JSON Pointer of that number in the answer it was
//! rendered from, so tests (and readers) can check the page against the
//! JSON. Names and reasons from a pool file are escaped: a hostile name
//! renders as text, with control and bidirectional-override characters
//! shown as U+FFFD.
//!
//! - [`gather`]: ask the questions of `haplan report` (check, tiers,
//!   timing, headroom per shape) under one time limit.
//! - [`report_html`], [`report_markdown`]: that report as a page or as
//!   Markdown.
//! - [`diff_html`], [`diff_markdown`], [`check_markdown`]: `haplan diff`
//!   and `haplan check` answers.
//! - [`fragment_html`]: one answer as an HTML fragment (for notebooks).

#![warn(missing_docs)]

mod gather;
mod render;
mod view;

pub use gather::{Gathered, ReportOptions, gather};
pub use render::{markdown_text, visible};

use serde_json::{Value, json};

/// A template failed to render: a bug, or JSON that is not an answer of
/// the kind named.
#[derive(Debug)]
pub struct Error(String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot render the answer: {}", self.0)
    }
}

impl std::error::Error for Error {}

impl From<minijinja::Error> for Error {
    fn from(e: minijinja::Error) -> Self {
        Error(format!("{e:#}"))
    }
}

/// The kinds of answer [`fragment_html`] renders.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `haplan check`'s answer.
    Check,
    /// `haplan whatif`'s.
    WhatIf,
    /// `haplan diff`'s.
    Diff,
    /// `haplan headroom`'s.
    Headroom,
    /// `haplan tiers`'s.
    Tiers,
    /// `haplan timing`'s.
    Timing,
    /// `haplan report`'s, every answer at once.
    Report,
}

impl Kind {
    /// The kind a command's name (`check`, `whatif`, ...) names.
    pub fn parse(s: &str) -> Option<Kind> {
        Some(match s {
            "check" => Kind::Check,
            "whatif" => Kind::WhatIf,
            "diff" => Kind::Diff,
            "headroom" => Kind::Headroom,
            "tiers" => Kind::Tiers,
            "timing" => Kind::Timing,
            "report" => Kind::Report,
            _ => return None,
        })
    }

    fn as_str(self) -> &'static str {
        match self {
            Kind::Check => "check",
            Kind::WhatIf => "whatif",
            Kind::Diff => "diff",
            Kind::Headroom => "headroom",
            Kind::Tiers => "tiers",
            Kind::Timing => "timing",
            Kind::Report => "report",
        }
    }
}

fn not_an(kind: &str, v: &Value, field: &str) -> Result<(), Error> {
    if v.get(field).is_none() {
        return Err(Error(format!("not a {kind} answer (no \"{field}\")")));
    }
    Ok(())
}

fn ctx_value(ctx: &Value) -> minijinja::Value {
    minijinja::Value::from(minijinja::value::Serde(ctx))
}

/// What every template of a report reads.
fn report_context(r: &Value) -> Result<Value, Error> {
    for f in ["pool", "check", "tiers", "timing", "headroom"] {
        not_an("report", r, f)?;
    }
    let check = &r["check"];
    let (kind, word) = view::check_verdict(check);
    let (kind, word) = if kind == "ok" && r["exact"] == false {
        ("undecided", "UNDECIDED")
    } else {
        (kind, word)
    };
    let groups = view::host_groups(&r["pool"], check);
    let hosts = r["pool"]["hosts"].as_array().map_or(&[][..], Vec::as_slice);
    let overview = (hosts.len() > view::OVERVIEW_FROM).then(|| view::overview(&groups, hosts));
    let overcommit = r["pool"]["resources"]
        .as_array()
        .is_some_and(|rs| rs.iter().any(|x| x["ratio"].as_f64() != Some(1.0)));
    Ok(json!({
        "r": r,
        "overcommit": overcommit,
        "verdict": { "kind": kind, "word": word },
        "check_verdict": view::check_verdict(check).1,
        "unit": view::unit(check),
        "groups": groups,
        "overview": overview,
        "version": env!("CARGO_PKG_VERSION"),
    }))
}

/// A `haplan report --format json` answer as one self-contained HTML page.
pub fn report_html(report: &Value) -> Result<String, Error> {
    let ctx = report_context(report)?;
    Ok(render::render("report.html", ctx_value(&ctx))?)
}

/// A `haplan report --format json` answer as Markdown: the verdict and a
/// compact table.
pub fn report_markdown(report: &Value) -> Result<String, Error> {
    let ctx = report_context(report)?;
    Ok(render::render("report.md", ctx_value(&ctx))?)
}

fn diff_context(d: &Value) -> Result<Value, Error> {
    for f in ["old", "new", "tolerate", "reasons"] {
        not_an("diff", d, f)?;
    }
    let (kind, word) = view::diff_verdict(d);
    Ok(json!({
        "d": d,
        "verdict": { "kind": kind, "word": word },
        "old_verdict": view::check_verdict(&d["old"]).1,
        "new_verdict": view::check_verdict(&d["new"]).1,
        "unit": view::unit(&d["new"]),
        "version": env!("CARGO_PKG_VERSION"),
    }))
}

/// A `haplan diff --format json` answer as one self-contained HTML page:
/// both verdicts, what changed and why the tolerance moved.
pub fn diff_html(diff: &Value) -> Result<String, Error> {
    let ctx = diff_context(diff)?;
    Ok(render::render("diff.html", ctx_value(&ctx))?)
}

/// A `haplan diff --format json` answer as Markdown for a pull-request
/// comment: the verdict, a table of both pools, the reasons and changes.
pub fn diff_markdown(diff: &Value) -> Result<String, Error> {
    let ctx = diff_context(diff)?;
    Ok(render::render("diff.md", ctx_value(&ctx))?)
}

/// A `haplan check --format json` answer as Markdown: the verdict and a
/// compact table.
pub fn check_markdown(check: &Value) -> Result<String, Error> {
    for f in ["configured", "max_tolerable", "upper_bound"] {
        not_an("check", check, f)?;
    }
    let (kind, word) = view::check_verdict(check);
    let ctx = json!({
        "c": check,
        "verdict": { "kind": kind, "word": word },
        "unit": view::unit(check),
    });
    Ok(render::render("check.md", ctx_value(&ctx))?)
}

/// One answer as an HTML fragment with its own styles (no `<html>`), for
/// a notebook's `_repr_html_`: `check`, `whatif`, `diff`, `headroom`,
/// `tiers`, `timing` or `report`. Its `data-json` pointers are relative to
/// the answer.
pub fn fragment_html(kind: Kind, answer: &Value) -> Result<String, Error> {
    let mut ctx = match kind {
        Kind::Report => report_context(answer)?,
        Kind::Diff => diff_context(answer)?,
        Kind::Check | Kind::WhatIf | Kind::Headroom | Kind::Tiers | Kind::Timing => {
            let field = match kind {
                Kind::Check => "max_tolerable",
                Kind::WhatIf => "after",
                Kind::Headroom => "max_additional",
                Kind::Tiers => "degradation",
                _ => "makespan_s",
            };
            not_an(kind.as_str(), answer, field)?;
            let check = match kind {
                Kind::Check => Some(answer),
                Kind::WhatIf => Some(&answer["after"]),
                Kind::Headroom => Some(&answer["check"]),
                _ => None,
            };
            let (vk, word) = match kind {
                // As `haplan tiers`: the verdict of the lowest tier (every
                // protected VM), whose bounds are the pool's.
                Kind::Tiers => match answer["tiers"].as_array().and_then(|t| t.last()) {
                    None => ("ok", "OK"),
                    Some(lowest) => view::check_verdict(&json!({
                        "max_tolerable": lowest["max_tolerable"],
                        "upper_bound": lowest["upper_bound"],
                        "configured": answer["configured"],
                        "not_agile": answer["not_agile"],
                        "stranded_now": lowest["stranded_now"],
                    })),
                },
                Kind::Timing => match (answer["ok"].as_bool(), answer["tolerated"].as_bool()) {
                    (Some(true), _) => ("ok", "OK"),
                    (_, Some(false)) => ("not_ok", "OVERCOMMITTED"),
                    _ => ("not_ok", "NOT OK"),
                },
                _ => view::check_verdict(check.expect("set for these kinds")),
            };
            json!({
                "a": answer,
                "verdict": { "kind": vk, "word": word },
                "unit": check.map_or("host", view::unit),
            })
        }
    };
    ctx["kind"] = Value::from(kind.as_str());
    Ok(render::render("fragment.html", ctx_value(&ctx))?)
}
