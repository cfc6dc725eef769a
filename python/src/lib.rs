//! `haplan._native`, the compiled half of the Python package `haplan`.
//!
//! It only converts: every answer comes from the `haplan` crate, every
//! report from `haplan::report`, so the Python objects carry exactly the
//! CLI's JSON (`docs/cli.md`). The public, documented API is the pure-Python
//! package around this module (`python/python/haplan/`); this module's own
//! stubs are `haplan/_native.pyi` there.
//!
//! Solves run on a worker thread with the GIL released, and the calling
//! thread keeps answering Ctrl-C (`solve.rs`).

use std::sync::Arc;
use std::time::{Duration, Instant};

// mimalloc for this module's own allocations (Python's are Python's), on
// Linux (python/Cargo.toml says why): the search's many small vectors on
// every thread, 1.1 to 1.5 times faster than with glibc's malloc (README,
// "At scale").
#[cfg(target_os = "linux")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use haplan::limits;
use haplan::tolerance::split;
use haplan::{
    Budget, ChangesError, CheckOptions, DiffOptions, HeadroomOptions, PoolError, Problem,
    ShapeError, Strategy, Verdict,
};
use pyo3::exceptions::PyValueError;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString};
use serde_json::Value;

mod convert;
mod import;
mod render;
mod solve;

pyo3::import_exception!(haplan._errors, InvalidPoolError);
pyo3::import_exception!(haplan._errors, QueryError);
pyo3::import_exception!(haplan._errors, InvalidChangesError);
pyo3::import_exception!(haplan._errors, InvalidShapeError);
pyo3::import_exception!(haplan._errors, TimeLimitError);

/// A validated pool, immutable and shared by reference: safe to use from
/// several threads at once.
#[pyclass(module = "haplan._native", name = "Pool", frozen)]
struct NativePool {
    pool: Arc<haplan::Pool>,
    /// The JSON the pool was read from (for pickling and `to_json`).
    text: String,
}

/// The arguments of `InvalidPoolError`, `InvalidChangesError` and
/// `InvalidShapeError`:
/// `(message, [(path, message, line, column), ...], source, omitted)`, the
/// message as the command line prints it (without `haplan: `).
type ProblemArgs = (
    String,
    Vec<(String, String, Option<usize>, Option<usize>)>,
    Option<String>,
    usize,
);

fn problem_args(
    source: Option<&str>,
    err: &dyn std::fmt::Display,
    problems: &[Problem],
    omitted: usize,
) -> ProblemArgs {
    let message = match source {
        Some(s) => format!("{s}: {err}"),
        None => err.to_string(),
    };
    let problems = problems
        .iter()
        .map(|p| (p.path.clone(), p.message.clone(), p.line, p.column))
        .collect();
    (message, problems, source.map(str::to_string), omitted)
}

/// `InvalidPoolError`: every problem of a rejected pool.
fn invalid_pool(source: Option<&str>, err: &PoolError) -> PyErr {
    InvalidPoolError::new_err(problem_args(source, err, &err.problems, err.omitted))
}

/// `InvalidChangesError`: every problem of rejected what-if changes.
fn invalid_changes(source: Option<&str>, err: &ChangesError) -> PyErr {
    InvalidChangesError::new_err(problem_args(source, err, &err.problems, err.omitted))
}

/// `InvalidShapeError`: every problem of a rejected headroom VM shape.
fn invalid_shape(err: &ShapeError) -> PyErr {
    InvalidShapeError::new_err(problem_args(None, err, &err.problems, err.omitted))
}

/// The range of a numeric option, as the command line checks it
/// (`haplan::limits`).
fn range(name: &str) -> PyResult<limits::Range> {
    Ok(match name {
        "threads" => limits::THREADS,
        "tolerate" => limits::TOLERATE,
        "concurrency" => limits::CONCURRENCY,
        "boot_time_s" | "fence_time_s" => limits::WHOLE_SECONDS,
        _ => return Err(PyValueError::new_err(format!("no option {name}"))),
    })
}

/// Checks a numeric option against its range: `ValueError` with the
/// command line's message (`threads: must be from 1 to 1024, found 4000`)
/// when it is out of it, whatever its size.
#[pyfunction]
fn check_range(name: &str, value: &Bound<'_, PyAny>) -> PyResult<u64> {
    let r = range(name)?;
    let r = limits::Range {
        name: match name {
            "boot_time_s" => "boot_time_s",
            "fence_time_s" => "fence_time_s",
            _ => r.name,
        },
        ..r
    };
    match value.extract::<u64>() {
        Ok(v) => r.check(v).map_err(|e| PyValueError::new_err(e.to_string())),
        Err(_) => Err(PyValueError::new_err(
            r.error(value.str()?.to_cow()?).to_string(),
        )),
    }
}

fn verdict_name(v: Verdict) -> &'static str {
    haplan_wire::report::verdict_str(v)
}

/// The text and verdict of one of the checks a what-if, a diff or a
/// headroom nests (their JSON is inside the outer JSON object).
type Nested = (String, &'static str);

fn nested(pool: &haplan::Pool, r: &haplan::CheckReport) -> Nested {
    (
        haplan_wire::report::check_text(pool, r),
        verdict_name(r.verdict()),
    )
}

/// The what-if changes as JSON text: given as text, or as Python data
/// (converted here, so that a value JSON cannot hold is a problem at its
/// path in the change list, `changes[0].demand.memory_mib`).
fn changes_text(changes: &Bound<'_, PyAny>, source: Option<&str>) -> PyResult<String> {
    if let Ok(s) = changes.cast::<pyo3::types::PyString>() {
        return Ok(s.to_cow()?.into_owned());
    }
    match convert::from_py(changes)? {
        Ok(value) => Ok(serde_json::to_string(&value).expect("serializable")),
        Err(mut problems) => {
            for p in &mut problems {
                p.path = match p.path.chars().next() {
                    None => String::new(),
                    Some('[') => format!("changes{}", p.path),
                    Some(_) => format!("changes.{}", p.path),
                };
            }
            Err(invalid_changes(source, &ChangesError::new(problems)))
        }
    }
}

/// The demand of a headroom VM as JSON text: given as text, or as Python
/// data (converted here, so that a value JSON cannot hold is a problem at
/// its path, `--vm.memory_mib`, as the command line names the demand).
fn shape_demand_text(vm: &Bound<'_, PyAny>) -> PyResult<String> {
    if let Ok(s) = vm.cast::<pyo3::types::PyString>() {
        return Ok(s.to_cow()?.into_owned());
    }
    match convert::from_py(vm)? {
        Ok(value) => Ok(serde_json::to_string(&value).expect("serializable")),
        Err(mut problems) => {
            for p in &mut problems {
                p.path = match p.path.chars().next() {
                    None => "--vm".to_string(),
                    Some('[') => format!("--vm{}", p.path),
                    Some(_) => format!("--vm.{}", p.path),
                };
            }
            Err(invalid_shape(&ShapeError::new(problems)))
        }
    }
}

fn seconds(name: &str, s: Option<f64>) -> PyResult<Option<Duration>> {
    match s {
        None => Ok(None),
        Some(s) => limits::time_limit(s)
            .map(Some)
            .map_err(|e| PyValueError::new_err(e.replacen("time_limit", name, 1))),
    }
}

#[pymethods]
impl NativePool {
    /// Parses and validates a pool from its JSON text. `source` names it in
    /// error messages (a file name).
    #[new]
    #[pyo3(signature = (text, source = None))]
    fn new(py: Python<'_>, text: &Bound<'_, PyAny>, source: Option<&str>) -> PyResult<Self> {
        // Bytes are read as UTF-8 here, so that invalid UTF-8 is an
        // `InvalidPoolError` at its place, as the command line reports it.
        let text: String = match text.cast::<pyo3::types::PyBytes>() {
            Ok(b) => match haplan::strict::utf8(b.as_bytes()) {
                Ok(t) => t.to_string(),
                Err(p) => return Err(invalid_pool(source, &PoolError::new(vec![p]))),
            },
            Err(_) => text.extract()?,
        };
        let (parsed, text) = py.detach(move || (haplan::parse_pool(&text), text));
        match parsed {
            Ok(pool) => Ok(NativePool {
                pool: Arc::new(pool),
                text,
            }),
            Err(e) => Err(invalid_pool(source, &e)),
        }
    }

    /// Validates a pool given as Python data (dicts, lists, str, int,
    /// float, bool, None), as `json.loads` would return it.
    #[staticmethod]
    #[pyo3(signature = (data, source = None))]
    fn from_data(py: Python<'_>, data: &Bound<'_, PyAny>, source: Option<&str>) -> PyResult<Self> {
        let value = match convert::from_py(data)? {
            Ok(v) => v,
            Err(problems) => {
                let err = PoolError::new(problems);
                return Err(invalid_pool(source, &err));
            }
        };
        let (parsed, text) = py.detach(move || {
            let parsed = haplan::read_pool_value(&value);
            (parsed, serde_json::to_string(&value).expect("serializable"))
        });
        match parsed {
            Ok(pool) => Ok(NativePool {
                pool: Arc::new(pool),
                text,
            }),
            Err(e) => Err(invalid_pool(source, &e)),
        }
    }

    fn __getnewargs__(&self) -> (String,) {
        (self.text.clone(),)
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other
            .cast::<NativePool>()
            .is_ok_and(|o| *o.get().pool == *self.pool)
    }

    #[getter]
    fn name(&self) -> &str {
        &self.pool.name
    }

    #[getter]
    fn host_names(&self) -> Vec<String> {
        self.pool.hosts.iter().map(|h| h.name.clone()).collect()
    }

    #[getter]
    fn vm_names(&self) -> Vec<String> {
        self.pool.vms.iter().map(|v| v.name.clone()).collect()
    }

    #[getter]
    fn host_failures_to_tolerate(&self) -> u32 {
        self.pool.ha.host_failures_to_tolerate
    }

    fn to_json(&self) -> &str {
        &self.text
    }

    /// `haplan check`: `(json, text, verdict)`, where `json` is the CLI's
    /// JSON object as Python data, `text` its text output and `verdict` one
    /// of "ok", "not_ok", "undecided".
    #[pyo3(signature = (tolerate = None, time_limit = None, explain = false, threads = None, strategy = "full", max_time = None))]
    // The arguments are the Python method's keyword arguments.
    #[allow(clippy::too_many_arguments)]
    fn check<'py>(
        &self,
        py: Python<'py>,
        tolerate: Option<u32>,
        time_limit: Option<f64>,
        explain: bool,
        threads: Option<usize>,
        strategy: &str,
        max_time: Option<f64>,
    ) -> PyResult<(Bound<'py, PyAny>, String, &'static str)> {
        let time_limit = seconds("time_limit_s", time_limit)?;
        let max_time = seconds("max_time_s", max_time)?;
        let strategy = strategy_arg(strategy)?;
        let pool = Arc::clone(&self.pool);
        let (json, text, verdict) = solve::run(
            py,
            threads,
            time_limit,
            self.text.len(),
            move |cancel, time_limit| {
                // `..` so that options the core adds later keep their defaults.
                #[allow(clippy::needless_update)]
                let opts = CheckOptions {
                    tolerate,
                    time_limit,
                    explain,
                    cancel: Some(cancel),
                    strategy,
                    max_time,
                    ..CheckOptions::default()
                };
                let report = haplan::check(&pool, &opts);
                let verdict = verdict_name(report.verdict());
                (
                    haplan_wire::report::check_json(&pool, &report),
                    haplan_wire::report::check_text(&pool, &report),
                    verdict,
                )
            },
        )?;
        Ok((convert::to_py(py, &json)?, text, verdict))
    }

    /// `check`, with each failure-set size the set-level bounds leave open
    /// searched in parts by `run` (`haplan::tolerance::split`): `run` gets
    /// a list of rounds, each a list of its parts (at most `parts`, as JSON
    /// text, in the search's order): the round to answer first, then the
    /// at most `ahead` rounds that may follow (`check_split_ahead`), whose
    /// parts it may have decided meanwhile. It has the first round's parts
    /// decided by `search_part` anywhere and returns their answers (JSON
    /// text), or `None` to give the round up (the report then has proved
    /// bounds, `exact` false). An exception from `run` ends the check with
    /// it.
    #[pyo3(signature = (run, parts, ahead = 0, tolerate = None, time_limit = None, explain = false, threads = None, strategy = "full"))]
    #[allow(clippy::too_many_arguments)]
    fn check_split<'py>(
        &self,
        py: Python<'py>,
        run: Py<PyAny>,
        parts: usize,
        ahead: u32,
        tolerate: Option<u32>,
        time_limit: Option<f64>,
        explain: bool,
        threads: Option<usize>,
        strategy: &str,
    ) -> PyResult<(Bound<'py, PyAny>, String, &'static str)> {
        let time_limit = seconds("time_limit_s", time_limit)?;
        let strategy = strategy_arg(strategy)?;
        if parts == 0 {
            return Err(PyValueError::new_err("parts must be at least 1"));
        }
        let pool = Arc::clone(&self.pool);
        let done = solve::run(
            py,
            threads,
            time_limit,
            self.text.len(),
            move |cancel, time_limit| {
                #[allow(clippy::needless_update)]
                let opts = CheckOptions {
                    tolerate,
                    time_limit,
                    explain,
                    cancel: Some(cancel),
                    strategy,
                    ..CheckOptions::default()
                };
                let mut raised: Option<PyErr> = None;
                let split = split::check_split_ahead(&pool, &opts, ahead, |round, later| {
                    if raised.is_some() {
                        return None;
                    }
                    let texts = |round: &split::Round| -> Vec<String> {
                        round
                            .parts(parts)
                            .iter()
                            .map(|p| serde_json::to_string(p).expect("serializable"))
                            .collect()
                    };
                    let rounds: Vec<Vec<String>> =
                        std::iter::once(round).chain(later).map(texts).collect();
                    let answers = Python::attach(|py| -> PyResult<Option<Vec<String>>> {
                        run.call1(py, (rounds,))?.extract(py)
                    });
                    let parsed = answers.and_then(|a| {
                        a.map(|a| {
                            a.iter()
                                .map(|t| serde_json::from_str::<split::PartAnswer>(t))
                                .collect::<Result<Vec<_>, _>>()
                                .map_err(|e| {
                                    PyValueError::new_err(format!(
                                        "not an answer of search_part: {e}"
                                    ))
                                })
                        })
                        .transpose()
                    });
                    parsed.unwrap_or_else(|e| {
                        raised = Some(e);
                        None
                    })
                });
                if let Some(e) = raised {
                    return Err(e);
                }
                let report = split.map_err(|e| PyValueError::new_err(e.to_string()))?;
                let verdict = verdict_name(report.verdict());
                Ok((
                    haplan_wire::report::check_json(&pool, &report),
                    haplan_wire::report::check_text(&pool, &report),
                    verdict,
                ))
            },
        )?;
        let (json, text, verdict) = done?;
        Ok((convert::to_py(py, &json)?, text, verdict))
    }

    /// Decides one part of a split search (`check_split`): the part and
    /// the answer as JSON text. A part of another pool, another build of
    /// haplan or other options is a `ValueError`.
    #[pyo3(signature = (part, time_limit = None, threads = None))]
    fn search_part(
        &self,
        py: Python<'_>,
        part: &str,
        time_limit: Option<f64>,
        threads: Option<usize>,
    ) -> PyResult<String> {
        let time_limit = seconds("time_limit_s", time_limit)?;
        let part: split::Part = serde_json::from_str(part)
            .map_err(|e| PyValueError::new_err(format!("not a part of a split search: {e}")))?;
        let pool = Arc::clone(&self.pool);
        let answer = solve::run(
            py,
            threads,
            time_limit,
            self.text.len(),
            move |cancel, time_limit| {
                let budget = Budget {
                    deadline: time_limit.map(|d| Instant::now() + d),
                    cancel: Some(cancel),
                };
                split::search_part(&pool, &part, &budget)
            },
        )?;
        answer
            .map(|a| serde_json::to_string(&a).expect("serializable"))
            .map_err(|e| PyValueError::new_err(e.to_string()))
    }

    /// `haplan plan --fail ...`: `(json, text)`.
    #[pyo3(signature = (failed, time_limit = None))]
    fn plan<'py>(
        &self,
        py: Python<'py>,
        failed: Vec<String>,
        time_limit: Option<f64>,
    ) -> PyResult<(Bound<'py, PyAny>, String)> {
        let time_limit = seconds("time_limit_s", time_limit)?;
        let failed = haplan::failure_set(&self.pool, &failed)
            .map_err(|e| QueryError::new_err(e.to_string()))?;
        let pool = Arc::clone(&self.pool);
        let (json, text) = solve::run(
            py,
            None,
            time_limit,
            self.text.len(),
            move |cancel, time_limit| {
                let budget = Budget {
                    deadline: time_limit.map(|d| Instant::now() + d),
                    cancel: Some(cancel),
                };
                let plan = haplan::plan(&pool, &failed, &budget);
                (
                    haplan_wire::report::plan_json(&pool, &plan),
                    haplan_wire::report::plan_text(&pool, &plan),
                )
            },
        )?;
        Ok((convert::to_py(py, &json)?, text))
    }

    /// `haplan whatif`: applies `changes` (JSON text, or Python data as
    /// `json.loads` returns it) to a copy of the pool and checks both.
    /// Returns `(json, text, verdict, before, after, changed)`: the CLI's
    /// JSON object and text, the verdict on the changed pool, the text and
    /// verdict of each nested check, and the changed pool. `source` names
    /// the changes in error messages.
    #[pyo3(signature = (changes, source = None, tolerate = None, time_limit = None, explain = false, threads = None, max_time = None))]
    #[allow(clippy::too_many_arguments, clippy::type_complexity)]
    fn whatif<'py>(
        &self,
        py: Python<'py>,
        changes: &Bound<'py, PyAny>,
        source: Option<&str>,
        tolerate: Option<u32>,
        time_limit: Option<f64>,
        explain: bool,
        threads: Option<usize>,
        max_time: Option<f64>,
    ) -> PyResult<(
        Bound<'py, PyAny>,
        String,
        &'static str,
        Nested,
        Nested,
        NativePool,
    )> {
        let time_limit = seconds("time_limit_s", time_limit)?;
        let max_time = seconds("max_time_s", max_time)?;
        let changes = changes_text(changes, source)?;
        let pool_text = &self.text;
        let applied = py.detach(move || {
            let value: Value = serde_json::from_str(pool_text).expect("a valid pool is JSON");
            haplan::whatif::apply_text(&value, &changes).map(|changed| {
                let mut text = serde_json::to_string_pretty(&changed.value).expect("serializable");
                text.push('\n');
                (changed.pool, changed.changes, text)
            })
        });
        let (after, changes, after_text) = applied.map_err(|e| invalid_changes(source, &e))?;
        let before = Arc::clone(&self.pool);
        let after = Arc::new(after);
        let changed = NativePool {
            pool: Arc::clone(&after),
            text: after_text,
        };
        let (json, text, verdict, b, a) = solve::run(
            py,
            threads,
            time_limit,
            self.text.len(),
            move |cancel, time_limit| {
                #[allow(clippy::needless_update)]
                let opts = CheckOptions {
                    tolerate,
                    time_limit,
                    explain,
                    cancel: Some(cancel),
                    max_time,
                    ..CheckOptions::default()
                };
                let r = haplan::what_if(&before, &after, &opts);
                (
                    haplan_wire::report::whatif_json(&before, &after, &changes, &r),
                    haplan_wire::report::whatif_text(&before, &after, &changes, &r),
                    verdict_name(r.verdict()),
                    nested(&before, &r.before),
                    nested(&after, &r.after),
                )
            },
        )?;
        Ok((convert::to_py(py, &json)?, text, verdict, b, a, changed))
    }

    /// `haplan diff OLD NEW`, this pool being OLD: `(json, text, verdict,
    /// old, new)`, `old` and `new` the text and verdict of each nested
    /// check.
    #[pyo3(signature = (new, tolerate = None, no_regress = false, time_limit = None, explain = false, threads = None, max_time = None))]
    #[allow(clippy::too_many_arguments, clippy::type_complexity)]
    fn diff<'py>(
        &self,
        py: Python<'py>,
        new: &Bound<'py, NativePool>,
        tolerate: Option<u32>,
        no_regress: bool,
        time_limit: Option<f64>,
        explain: bool,
        threads: Option<usize>,
        max_time: Option<f64>,
    ) -> PyResult<(Bound<'py, PyAny>, String, &'static str, Nested, Nested)> {
        let time_limit = seconds("time_limit_s", time_limit)?;
        let max_time = seconds("max_time_s", max_time)?;
        let old = Arc::clone(&self.pool);
        let bytes = self.text.len() + new.get().text.len();
        let new = Arc::clone(&new.get().pool);
        let (json, text, verdict, o, n) =
            solve::run(py, threads, time_limit, bytes, move |cancel, time_limit| {
                #[allow(clippy::needless_update)]
                let opts = DiffOptions {
                    check: CheckOptions {
                        tolerate,
                        time_limit,
                        explain,
                        cancel: Some(cancel),
                        max_time,
                        ..CheckOptions::default()
                    },
                    no_regress,
                    vm: None,
                };
                let d = haplan::diff(&old, &new, &opts);
                (
                    haplan_wire::report::diff_json(&old, &new, &d),
                    haplan_wire::report::diff_text(&old, &new, &d),
                    verdict_name(d.verdict()),
                    nested(&old, &d.old),
                    nested(&new, &d.new),
                )
            })?;
        Ok((convert::to_py(py, &json)?, text, verdict, o, n))
    }

    /// `haplan headroom --vm VM`: how many more protected VMs of one shape
    /// can start with the pool still tolerating K. `vm` is the demand (JSON
    /// text, or Python data as `json.loads` returns it); `storage` and
    /// `networks` what the VM needs. Returns `(json, text, verdict, check)`:
    /// the CLI's JSON object and text, its verdict, and the text and
    /// verdict of the nested check of the pool as it is. A bad shape raises
    /// `InvalidShapeError` (paths as the CLI names them: `--vm.vcpus`,
    /// `--storage[0]`), a shape too small to count `QueryError`.
    #[pyo3(signature = (vm, storage = Vec::new(), networks = Vec::new(), tolerate = None, time_limit = None, threads = None, max_time = None))]
    #[allow(clippy::too_many_arguments)]
    fn headroom<'py>(
        &self,
        py: Python<'py>,
        vm: &Bound<'py, PyAny>,
        storage: Vec<String>,
        networks: Vec<String>,
        tolerate: Option<u32>,
        time_limit: Option<f64>,
        threads: Option<usize>,
        max_time: Option<f64>,
    ) -> PyResult<(Bound<'py, PyAny>, String, &'static str, Nested)> {
        let time_limit = seconds("time_limit_s", time_limit)?;
        let max_time = seconds("max_time_s", max_time)?;
        let demand = shape_demand_text(vm)?;
        let shape = haplan::Shape::parse(&demand, "--vm", &storage, &networks)
            .map_err(|e| invalid_shape(&e))?;
        shape
            .check_resources(&self.pool, "--vm")
            .map_err(|e| invalid_shape(&e))?;
        let pool = Arc::clone(&self.pool);
        let out = solve::run(
            py,
            threads,
            time_limit,
            self.text.len(),
            move |cancel, time_limit| {
                // `..` so that options the core adds later keep their defaults.
                #[allow(clippy::needless_update)]
                let opts = HeadroomOptions {
                    tolerate,
                    time_limit,
                    cancel: Some(cancel),
                    max_time,
                    ..HeadroomOptions::default()
                };
                haplan::headroom(&pool, &shape, &opts).map(|r| {
                    (
                        haplan_wire::report::headroom_json(&pool, &r),
                        haplan_wire::report::headroom_text(&pool, &r),
                        verdict_name(r.verdict()),
                        nested(&pool, &r.check),
                    )
                })
            },
        )?;
        // As the command line words it: `--vm: so small a VM ...`.
        let (json, text, verdict, check) =
            out.map_err(|e| QueryError::new_err(format!("--vm: {e}")))?;
        Ok((convert::to_py(py, &json)?, text, verdict, check))
    }

    /// `haplan drain HOST`: whether the host can go into maintenance, its
    /// running VMs live-migrated, with the pool still tolerating K.
    /// Returns `(json, text, verdict, end_state)`: the CLI's JSON object and
    /// text, its verdict, and the text and verdict of the check of the pool
    /// after the drain (`None` unless drainable). An unknown host, or one
    /// that is not up, raises `QueryError` (the CLI's message).
    #[pyo3(signature = (host, tolerate = None, time_limit = None, threads = None, max_time = None))]
    fn drain<'py>(
        &self,
        py: Python<'py>,
        host: &str,
        tolerate: Option<u32>,
        time_limit: Option<f64>,
        threads: Option<usize>,
        max_time: Option<f64>,
    ) -> PyResult<(Bound<'py, PyAny>, String, &'static str, Option<Nested>)> {
        let time_limit = seconds("time_limit_s", time_limit)?;
        let max_time = seconds("max_time_s", max_time)?;
        let h = haplan::drain::host_to_drain(&self.pool, host)
            .map_err(|e| QueryError::new_err(e.to_string()))?;
        let pool = Arc::clone(&self.pool);
        let out = solve::run(
            py,
            threads,
            time_limit,
            self.text.len(),
            move |cancel, time_limit| {
                let opts = haplan::DrainOptions {
                    tolerate,
                    time_limit,
                    cancel: Some(cancel),
                    max_time,
                    ..haplan::DrainOptions::default()
                };
                haplan::drain(&pool, h, &opts).map(|r| {
                    let end = match &r.outcome {
                        haplan::drain::Outcome::Drainable { end, .. } => Some(nested(&pool, end)),
                        _ => None,
                    };
                    (
                        haplan_wire::report::drain_json(&pool, &r),
                        haplan_wire::report::drain_text(&pool, &r),
                        verdict_name(r.verdict()),
                        end,
                    )
                })
            },
        )?;
        let (json, text, verdict, end) = out.map_err(|e| QueryError::new_err(e.to_string()))?;
        Ok((convert::to_py(py, &json)?, text, verdict, end))
    }

    /// `haplan tiers`: the tolerance of each restart-priority tier (its
    /// protected VMs and those of the tiers above it) and, beyond the
    /// pool's tolerance, the degradation table. Returns `(json, text,
    /// verdict)`: the verdict is the pool's check (the lowest tier), and
    /// "undecided" when that is ok but the time limit left a tier or a row
    /// open, as the command line's exit code.
    #[pyo3(signature = (tolerate = None, time_limit = None, threads = None, max_time = None))]
    fn tiers<'py>(
        &self,
        py: Python<'py>,
        tolerate: Option<u32>,
        time_limit: Option<f64>,
        threads: Option<usize>,
        max_time: Option<f64>,
    ) -> PyResult<(Bound<'py, PyAny>, String, &'static str)> {
        let time_limit = seconds("time_limit_s", time_limit)?;
        let max_time = seconds("max_time_s", max_time)?;
        let pool = Arc::clone(&self.pool);
        let (json, text, verdict) = solve::run(
            py,
            threads,
            time_limit,
            self.text.len(),
            move |cancel, time_limit| {
                // `..` so that options the core adds later keep their defaults.
                #[allow(clippy::needless_update)]
                let opts = haplan::TiersOptions {
                    tolerate,
                    time_limit,
                    cancel: Some(cancel),
                    max_time,
                    ..haplan::TiersOptions::default()
                };
                let r = haplan::tiers(&pool, &opts);
                let verdict = verdict_name(haplan_wire::report::tiers_verdict(&r));
                // Every row's `at_risk` empty: filled from the shared lists below.
                let cut = haplan_wire::report::Cut {
                    at_risk: 0,
                    ..haplan_wire::report::Cut::WHOLE
                };
                let json = haplan_wire::report::tiers_json_cut(&pool, &r, cut);
                let text = haplan_wire::report::tiers_text(&pool, &r);
                ((json, r), text, verdict)
            },
        )?;
        let (json, r) = json;
        let data = convert::to_py(py, &json)?;
        // Each list of VMs at risk the rows share becomes one Python list
        // (the rows of a large pool name tens of millions of VMs, most of
        // them in a few lists); `TiersReport` copies it per row.
        let rows = data.get_item("degradation")?;
        let lists = haplan_wire::report::per_at_risk_list(&r, |vms| {
            PyList::new(py, vms.iter().map(|&v| self.pool.vms[v].name.as_str()))
        });
        for (i, d) in r.degradation.iter().enumerate() {
            let list = lists[&Arc::as_ptr(&d.at_risk)]
                .as_ref()
                .map_err(|e| e.clone_ref(py))?;
            rows.get_item(i)?.set_item("at_risk", list)?;
        }
        Ok((data, text, verdict))
    }

    /// `haplan timing`: how long until every protected VM runs again
    /// after the worst failure of at most K hosts (or after `fail`).
    /// Returns `(json, text, verdict)`. An unknown host (or one in
    /// maintenance) in `fail` raises `QueryError` (`--fail: unknown host
    /// "h9"`, as the command line words it), `concurrency` 0 `ValueError`.
    #[pyo3(signature = (tolerate = None, boot_time_s = 60, concurrency = None, fence_time_s = 0, fail = None, threads = None, time_limit = None))]
    #[allow(clippy::too_many_arguments)]
    fn timing<'py>(
        &self,
        py: Python<'py>,
        tolerate: Option<u32>,
        boot_time_s: u64,
        concurrency: Option<u32>,
        fence_time_s: u64,
        fail: Option<Vec<String>>,
        threads: Option<usize>,
        time_limit: Option<f64>,
    ) -> PyResult<(Bound<'py, PyAny>, String, &'static str)> {
        let time_limit = seconds("time_limit_s", time_limit)?;
        if let Some(c) = concurrency {
            check_range("concurrency", c.into_pyobject(py)?.as_any())?;
        }
        check_range("boot_time_s", boot_time_s.into_pyobject(py)?.as_any())?;
        check_range("fence_time_s", fence_time_s.into_pyobject(py)?.as_any())?;
        if tolerate.is_some() && fail.is_some() {
            return Err(PyValueError::new_err(
                "tolerate and fail cannot both be given (fail is one failure set, tolerate asks for the worst)",
            ));
        }
        let fail = match fail {
            Some(names) => Some(
                haplan::failure_set(&self.pool, &names)
                    .map_err(|e| QueryError::new_err(format!("--fail: {e}")))?,
            ),
            None => None,
        };
        let pool = Arc::clone(&self.pool);
        let (json, text, verdict) = solve::run(
            py,
            threads,
            time_limit,
            self.text.len(),
            move |cancel, time_limit| {
                let opts = haplan::TimingOptions {
                    tolerate,
                    boot_time_s,
                    concurrency,
                    fence_time_s,
                    fail,
                    cancel: Some(cancel),
                    time_limit,
                    ..haplan::TimingOptions::default()
                };
                let r = haplan::timing(&pool, &opts);
                let verdict = verdict_name(haplan_wire::report::timing_verdict(&r));
                (
                    haplan_wire::report::timing_json(&pool, &r),
                    haplan_wire::report::timing_text(&pool, &r),
                    verdict,
                )
            },
        )?;
        Ok((convert::to_py(py, &json)?, text, verdict))
    }

    /// `haplan agility`: the JSON answer (the report makes the text). It
    /// names about hosts times VMs hosts, so it is made from the analysis
    /// straight into Python objects, each host's name one string the lists
    /// share (never a JSON tree of copies first); past the hard deadline of
    /// `time_limit`, also while those are made, `TimeLimitError`.
    #[pyo3(signature = (time_limit = None))]
    fn agility<'py>(
        &self,
        py: Python<'py>,
        time_limit: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let time_limit = seconds("time_limit_s", time_limit)?;
        let hard = solve::hard_deadline(Instant::now(), time_limit);
        let pool = Arc::clone(&self.pool);
        // The text is the Python report's to make, when asked for.
        let ag = solve::run(py, None, time_limit, self.text.len(), move |_, _| {
            haplan::Agility::of(&pool)
        })?;
        let late = || hard.is_some_and(|h| Instant::now() >= h);
        let pool = &*self.pool;
        let hosts: Vec<Bound<'py, PyString>> = pool
            .hosts
            .iter()
            .map(|h| PyString::new(py, &h.name))
            .collect();
        let rows = PyList::empty(py);
        let mut targets: Vec<&Bound<'py, PyString>> = Vec::new();
        for (i, (v, vm, reasons)) in haplan_wire::report::agility_rows(pool, &ag)
            .into_iter()
            .enumerate()
        {
            if i % 256 == 0 {
                if late() {
                    return Err(solve::time_limit_error(time_limit));
                }
                // Ctrl-C while the objects are made.
                py.check_signals()?;
            }
            targets.clear();
            targets.extend(ag.targets.of(v).map(|h| &hosts[h]));
            let row = PyDict::new(py);
            row.set_item(intern!(py, "vm"), &vm.name)?;
            row.set_item(intern!(py, "host"), &hosts[vm.host])?;
            row.set_item(intern!(py, "agile"), ag.is_agile(v))?;
            row.set_item(intern!(py, "targets"), PyList::new(py, &targets)?)?;
            row.set_item(intern!(py, "reasons"), reasons.unwrap_or_default())?;
            rows.append(row)?;
        }
        let answer = PyDict::new(py);
        answer.set_item("pool", &pool.name)?;
        answer.set_item(
            "verdict",
            verdict_name(haplan_wire::report::agility_verdict(&ag)),
        )?;
        answer.set_item("vms", rows)?;
        Ok(answer.into_any())
    }
}

fn strategy_arg(strategy: &str) -> PyResult<Strategy> {
    match strategy {
        "full" => Ok(Strategy::Full),
        "enumerate" => Ok(Strategy::Enumerate),
        "ilp-per-set" => Ok(Strategy::IlpPerSet),
        other => Err(PyValueError::new_err(format!(
            "strategy must be \"full\", \"enumerate\" or \"ilp-per-set\", found {other:?}"
        ))),
    }
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<NativePool>()?;
    m.add_function(wrap_pyfunction!(render::render, m)?)?;
    m.add_function(wrap_pyfunction!(check_range, m)?)?;
    m.add_function(wrap_pyfunction!(import::import_pool, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
