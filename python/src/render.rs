//! `render`: an answer's JSON as HTML or Markdown, by the same renderer as
//! `haplan report` and `--format markdown` (`haplan-html`).

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

/// Renders `answer` (the JSON text of a `kind` answer: `check`, `whatif`,
/// `diff`, `headroom`, `tiers`, `timing` or `report`) as an HTML fragment
/// (`format` `"html"`) or as Markdown (`"markdown"`: `check` and `diff`).
#[pyfunction]
pub fn render(py: Python<'_>, kind: &str, format: &str, answer: &str) -> PyResult<String> {
    let value: serde_json::Value = serde_json::from_str(answer)
        .map_err(|e| PyValueError::new_err(format!("not JSON: {e}")))?;
    let k = haplan_html::Kind::parse(kind)
        .ok_or_else(|| PyValueError::new_err(format!("no such answer: {kind}")))?;
    py.detach(|| match (format, k) {
        ("html", k) => haplan_html::fragment_html(k, &value),
        ("markdown", haplan_html::Kind::Check) => haplan_html::check_markdown(&value),
        ("markdown", haplan_html::Kind::Diff) => haplan_html::diff_markdown(&value),
        ("markdown", haplan_html::Kind::Report) => haplan_html::report_markdown(&value),
        _ => Ok(String::new()),
    })
    .map_err(|e| PyValueError::new_err(e.to_string()))
}
