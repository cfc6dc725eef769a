//! The C ABI of haplan: `include/haplan.h`, generated from this file by
//! cbindgen. The conventions every function follows (result codes, outputs
//! written only on success, error JSON, who frees what, thread safety) are
//! in `ffi/README.md`. This crate only converts: answers come from the
//! `haplan` crate, reports are `haplan_wire::report`'s JSON (the CLI's),
//! each with its `verdict` and its JSON Schema (`haplan_wire::schema`).

// The names are the C names: the header is generated from them.
#![allow(non_camel_case_types)]

mod guard;

use std::ffi::{CString, c_char};
use std::time::{Duration, Instant};

use ::haplan_runtime::{Input, Operation, Runtime, RuntimeError};
use haplan::limits;
use haplan::{
    Budget, CheckOptions, DiffOptions, DrainOptions, HeadroomOptions, Pool, QueryError, Shape,
    TiersOptions, TimingOptions,
};
use serde::Deserialize;
use serde_json::Value;

use guard::{Failure, c_string, guard, infallible, optional_text, out_ptr, parse, text, write};

/// The result of every fallible function: `HAPLAN_OK` (0) or why not.
///
/// The values are stable: a code is never renumbered or reused, and new
/// codes get new numbers. Treat an unknown nonzero value as an error.
/// Details are in the call's `error_json` (see `ffi/README.md`).
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum haplan_result {
    /// Success: the outputs were written.
    HAPLAN_OK = 0,
    /// A required pointer argument was NULL.
    HAPLAN_NULL_ARGUMENT = 1,
    /// An input buffer is not UTF-8.
    HAPLAN_INVALID_UTF8 = 2,
    /// An input buffer is not JSON (a syntax error, empty, truncated, nested
    /// too deeply, or a number out of range of any JSON number).
    HAPLAN_INVALID_JSON = 3,
    /// JSON, but not a valid pool: every problem, with its JSON path.
    HAPLAN_INVALID_POOL = 4,
    /// What-if changes that cannot apply: every problem, at `changes[i]...`.
    HAPLAN_INVALID_CHANGES = 5,
    /// JSON of the wrong shape or out of range (an unknown field or event
    /// type, a negative time limit, a VM shape headroom refuses), a length
    /// above `PTRDIFF_MAX`, a host in maintenance named as a failure, or a
    /// host to drain that is not up.
    HAPLAN_INVALID_ARGUMENT = 6,
    /// A host or VM name the pool does not have.
    HAPLAN_UNKNOWN_NAME = 7,
    /// The runtime refused an event (it would make the pool invalid, say);
    /// the runtime is unchanged.
    HAPLAN_REFUSED = 8,
    /// A panic interrupted an earlier step of this runtime: its state
    /// cannot be trusted. Free it.
    HAPLAN_POISONED = 9,
    /// A bug: haplan panicked. The panic was caught; the message is in
    /// `error_json`.
    HAPLAN_PANIC = 10,
}

impl haplan_result {
    /// Every code, in order.
    fn all() -> [haplan_result; 11] {
        [
            haplan_result::HAPLAN_OK,
            haplan_result::HAPLAN_NULL_ARGUMENT,
            haplan_result::HAPLAN_INVALID_UTF8,
            haplan_result::HAPLAN_INVALID_JSON,
            haplan_result::HAPLAN_INVALID_POOL,
            haplan_result::HAPLAN_INVALID_CHANGES,
            haplan_result::HAPLAN_INVALID_ARGUMENT,
            haplan_result::HAPLAN_UNKNOWN_NAME,
            haplan_result::HAPLAN_REFUSED,
            haplan_result::HAPLAN_POISONED,
            haplan_result::HAPLAN_PANIC,
        ]
    }

    /// The C name, `HAPLAN_...`, NUL-terminated.
    fn c_name(self) -> &'static std::ffi::CStr {
        match self {
            haplan_result::HAPLAN_OK => c"HAPLAN_OK",
            haplan_result::HAPLAN_NULL_ARGUMENT => c"HAPLAN_NULL_ARGUMENT",
            haplan_result::HAPLAN_INVALID_UTF8 => c"HAPLAN_INVALID_UTF8",
            haplan_result::HAPLAN_INVALID_JSON => c"HAPLAN_INVALID_JSON",
            haplan_result::HAPLAN_INVALID_POOL => c"HAPLAN_INVALID_POOL",
            haplan_result::HAPLAN_INVALID_CHANGES => c"HAPLAN_INVALID_CHANGES",
            haplan_result::HAPLAN_INVALID_ARGUMENT => c"HAPLAN_INVALID_ARGUMENT",
            haplan_result::HAPLAN_UNKNOWN_NAME => c"HAPLAN_UNKNOWN_NAME",
            haplan_result::HAPLAN_REFUSED => c"HAPLAN_REFUSED",
            haplan_result::HAPLAN_POISONED => c"HAPLAN_POISONED",
            haplan_result::HAPLAN_PANIC => c"HAPLAN_PANIC",
        }
    }

    /// The `error` of the error JSON: the name in lower case, without
    /// `HAPLAN_`.
    fn error_name(self) -> String {
        let name = self.c_name().to_str().expect("ASCII");
        name["HAPLAN_".len()..].to_ascii_lowercase()
    }
}

/// The latest time the runtime takes, in milliseconds (2^53, about 285,000
/// years; also the largest integer a double holds exactly): a later
/// `now_ms` or `at` is `HAPLAN_INVALID_ARGUMENT`.
pub const HAPLAN_MAX_TIME_MS: u64 = 9_007_199_254_740_992;

fn time(name: &str, ms: u64) -> Result<u64, Failure> {
    if ms > HAPLAN_MAX_TIME_MS {
        Err(Failure::invalid(format!(
            "{name} is {ms}, later than HAPLAN_MAX_TIME_MS ({HAPLAN_MAX_TIME_MS})"
        )))
    } else {
        Ok(ms)
    }
}

/// A validated pool. Immutable: any number of threads may use one pool at
/// once. Made by `haplan_pool_new` (or `haplan_whatif`), freed by
/// `haplan_pool_free`.
pub struct haplan_pool {
    pool: Pool,
    /// The JSON the pool was read from (what-if changes apply to it; the
    /// runtime starts from it).
    doc: Value,
}

/// The HA runtime of one pool (`docs/runtime.md`). Not thread-safe: it may
/// be used from any thread, but by one call at a time. Made by
/// `haplan_runtime_new`, freed by `haplan_runtime_free`.
pub struct haplan_runtime {
    rt: Runtime,
    /// Set while a step runs: still set afterwards only if a panic
    /// interrupted it.
    poisoned: bool,
}

/// The thread safety the conventions promise, checked at compile time.
#[allow(dead_code)]
fn thread_safety() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<haplan_pool>();
    send::<haplan_runtime>();
}

/// The version of haplan, e.g. `"0.1.0"`: a static string, never freed.
#[unsafe(no_mangle)]
pub extern "C" fn haplan_version() -> *const c_char {
    static VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");
    VERSION.as_ptr().cast()
}

/// The name of a result code, e.g. `"HAPLAN_INVALID_POOL"`, or
/// `"HAPLAN_UNKNOWN_RESULT"` for a value this version does not know: a
/// static string, never freed.
#[unsafe(no_mangle)]
pub extern "C" fn haplan_result_name(code: i32) -> *const c_char {
    haplan_result::all()
        .iter()
        .find(|r| **r as i32 == code)
        .map_or(c"HAPLAN_UNKNOWN_RESULT", |r| r.c_name())
        .as_ptr()
}

/// Frees a string haplan returned (a report, an output, an error JSON).
/// NULL is accepted and does nothing.
///
/// # Safety
/// `s` is NULL or a string from haplan not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn haplan_string_free(s: *mut c_char) {
    if s.is_null() {
        return;
    }
    // SAFETY: made by `CString::into_raw` (the caller's promise).
    infallible(|| drop(unsafe { CString::from_raw(s) }));
}

/// Reads and validates a pool from its JSON (`docs/pool-format.md`).
///
/// On success `*out` is a new pool, to free with `haplan_pool_free`.
/// `HAPLAN_INVALID_JSON` (with line and column) or `HAPLAN_INVALID_POOL`
/// (every problem, with its JSON path, e.g. `vms[3].demand.memory_mib`)
/// when it is not one.
///
/// # Safety
/// `json` is NULL or valid for reads of `len` bytes; `out` and `error_json`
/// are NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn haplan_pool_new(
    json: *const u8,
    len: usize,
    out: *mut *mut haplan_pool,
    error_json: *mut *mut c_char,
) -> haplan_result {
    guard(error_json, || {
        // SAFETY (every `unsafe` below): the caller's promises.
        let text = unsafe { text("json", json, len) }?;
        let out = out_ptr("out", out)?;
        let pool = read_pool(text)?;
        unsafe { write(out, Box::into_raw(Box::new(pool))) };
        Ok(())
    })
}

fn read_pool(text: &str) -> Result<haplan_pool, Failure> {
    let doc: Value = serde_json::from_str(text).map_err(|e| {
        let mut f = guard::json_failure("pool", &e);
        // Not JSON: HAPLAN_INVALID_JSON, with the message the CLI prints.
        f.message = format!("invalid pool (1 problem)\n  {}", f.problems[0]);
        f
    })?;
    // Duplicate keys: the pool is rejected, as by the command line.
    let duplicates = haplan::strict::duplicate_keys(text, "");
    if !duplicates.is_empty() {
        return Err(invalid_pool(haplan::PoolError::new(duplicates)));
    }
    let pool = haplan::read_pool_value(&doc).map_err(invalid_pool)?;
    Ok(haplan_pool { pool, doc })
}

fn invalid_pool(e: haplan::PoolError) -> Failure {
    Failure::with_problems(
        haplan_result::HAPLAN_INVALID_POOL,
        e.to_string(),
        e.problems,
    )
}

/// Frees a pool. NULL is accepted and does nothing.
///
/// # Safety
/// `pool` is NULL or a pool from haplan not yet freed, used by no other
/// call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn haplan_pool_free(pool: *mut haplan_pool) {
    if pool.is_null() {
        return;
    }
    // SAFETY: made by `Box::into_raw` (the caller's promise).
    infallible(|| drop(unsafe { Box::from_raw(pool) }));
}

/// A number of seconds that may be absent (the default applies) or `null`
/// (no limit): `None`, `Some(None)`, `Some(Some(s))`.
type Limit = Option<Option<f64>>;

/// Reads a present field of type [`Limit`] (`null` included).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Limit, D::Error> {
    Option::<f64>::deserialize(d).map(Some)
}

/// The options of `haplan_check` and `haplan_whatif`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckOpts {
    #[serde(default, deserialize_with = "tolerate")]
    tolerate: Option<u32>,
    #[serde(default, deserialize_with = "present")]
    time_limit_s: Limit,
    #[serde(default, deserialize_with = "present")]
    max_time_s: Limit,
    #[serde(default)]
    explain: bool,
    threads: Option<usize>,
}

/// The options of `haplan_diff`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DiffOpts {
    #[serde(default, deserialize_with = "tolerate")]
    tolerate: Option<u32>,
    #[serde(default, deserialize_with = "present")]
    time_limit_s: Limit,
    #[serde(default, deserialize_with = "present")]
    max_time_s: Limit,
    #[serde(default)]
    explain: bool,
    threads: Option<usize>,
    #[serde(default)]
    no_regress: bool,
}

/// The options of `haplan_plan`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlanOpts {
    #[serde(default, deserialize_with = "present")]
    time_limit_s: Limit,
}

/// Options from an optional buffer: the defaults when it is absent.
///
/// # Safety
/// As `guard::bytes`.
unsafe fn options<T: Default + serde::de::DeserializeOwned>(
    ptr: *const u8,
    len: usize,
) -> Result<T, Failure> {
    // SAFETY: the caller's promise.
    match unsafe { optional_text("options_json", ptr, len) }? {
        None => Ok(T::default()),
        Some(text) => parse("options_json", text),
    }
}

/// `time_limit_s`: [`haplan::DEFAULT_TIME_LIMIT`] when absent, no limit
/// when `null`.
fn seconds(s: Limit) -> Result<Option<Duration>, Failure> {
    limit("time_limit_s", s, haplan::DEFAULT_TIME_LIMIT)
}

/// `max_time_s`: [`haplan::DEFAULT_MAX_TIME`] when absent, no limit (the
/// time limit) when `null`.
fn max_seconds(s: Limit) -> Result<Option<Duration>, Failure> {
    limit("max_time_s", s, haplan::DEFAULT_MAX_TIME)
}

fn limit(name: &str, s: Limit, default: Duration) -> Result<Option<Duration>, Failure> {
    match s {
        None => Ok(Some(default)),
        Some(None) => Ok(None),
        Some(Some(s)) => limits::time_limit(s).map(Some).map_err(|e| {
            Failure::invalid(format!(
                "options_json: {}",
                e.replacen("time_limit", name, 1)
            ))
        }),
    }
}

/// K from an options object: as the command line's `--tolerate`
/// (`haplan::limits::TOLERATE`), with its message.
fn tolerate<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    use serde::de::Error;
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match n.as_u64().filter(|&k| limits::TOLERATE.check(k).is_ok()) {
            Some(k) => Ok(Some(k as u32)),
            None => Err(D::Error::custom(limits::TOLERATE.error(n))),
        },
        Some(other) => Err(D::Error::custom(format!(
            "tolerate: expected a whole number, found {other}"
        ))),
    }
}

/// The version of this library, for C: the header's `HAPLAN_VERSION_*`
/// macros (checked against the package's version when it is built), and
/// what `haplan_version()` returns at run time.
pub const HAPLAN_VERSION_MAJOR: u32 = 0;
pub const HAPLAN_VERSION_MINOR: u32 = 1;
pub const HAPLAN_VERSION_PATCH: u32 = 0;

const fn decimal(s: &str) -> u32 {
    let b = s.as_bytes();
    let mut i = 0;
    let mut n = 0;
    while i < b.len() {
        n = n * 10 + (b[i] - b'0') as u32;
        i += 1;
    }
    n
}

const _: () = assert!(
    decimal(env!("CARGO_PKG_VERSION_MAJOR")) == HAPLAN_VERSION_MAJOR
        && decimal(env!("CARGO_PKG_VERSION_MINOR")) == HAPLAN_VERSION_MINOR
        && decimal(env!("CARGO_PKG_VERSION_PATCH")) == HAPLAN_VERSION_PATCH,
    "HAPLAN_VERSION_* must be the package's version"
);

/// Runs `job` on `threads` worker threads of its own, or on the shared
/// ones (one per core) when `None`.
fn with_threads<T: Send>(
    threads: Option<usize>,
    job: impl FnOnce() -> T + Send,
) -> Result<T, Failure> {
    match threads {
        None => Ok(job()),
        Some(n) if limits::THREADS.check(n).is_ok() => {
            let workers = rayon::ThreadPoolBuilder::new()
                .num_threads(n)
                .build()
                .map_err(|e| Failure::invalid(format!("cannot start {n} threads: {e}")))?;
            Ok(workers.install(job))
        }
        Some(n) => Err(Failure::invalid(format!(
            "options_json: {}",
            limits::THREADS.error(n)
        ))),
    }
}

/// `pool` itself, checked not NULL.
///
/// # Safety
/// `pool` is NULL or a live pool.
unsafe fn pool_ref<'a>(name: &str, pool: *const haplan_pool) -> Result<&'a haplan_pool, Failure> {
    // SAFETY: the caller's promise.
    unsafe { pool.as_ref() }.ok_or_else(|| Failure::null(name))
}

fn to_json(v: &impl serde::Serialize) -> String {
    serde_json::to_string(v).expect("serializable")
}

/// `haplan check`: whether the pool tolerates K host failures, then how
/// many it tolerates, exactly.
///
/// `options_json` (absent when `options_len` is 0) is an object with any
/// of `tolerate` (K; default the pool's `ha.host_failures_to_tolerate`),
/// `time_limit_s` (0 to 1e9, default 60, `null` for none: then `exact`
/// may be false, with proved bounds), `max_time_s` (how long to search
/// for the exact maximum once K is decided: 0 to 1e9, default 2, `null`
/// for the time limit), `explain` (a witness even when the pool meets K)
/// and `threads` (1 to 1024). On success `*report_json` is the JSON of
/// `haplan check --format json` (`docs/cli.md`; every field in `haplan
/// schema check`). Its `verdict` says whether the pool tolerates K: `"ok"`,
/// `"not_ok"` (proved not to, or a protected VM has no host to restart
/// on: an overcommitted pool is an answer, not an error) or `"undecided"`
/// (neither proved within the time limit); it is the
/// whole answer to the question, with no need to work it out from `ok`,
/// `exact` and `upper_bound`.
///
/// # Safety
/// `pool` is NULL or a live pool; `options_json` is NULL or valid for reads
/// of `options_len` bytes; `report_json` and `error_json` are NULL or valid
/// for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn haplan_check(
    pool: *const haplan_pool,
    options_json: *const u8,
    options_len: usize,
    report_json: *mut *mut c_char,
    error_json: *mut *mut c_char,
) -> haplan_result {
    guard(error_json, || {
        // SAFETY (every `unsafe` below): the caller's promises.
        let p = unsafe { pool_ref("pool", pool) }?;
        let opts: CheckOpts = unsafe { options(options_json, options_len) }?;
        let out = out_ptr("report_json", report_json)?;
        let check = CheckOptions {
            tolerate: opts.tolerate,
            time_limit: seconds(opts.time_limit_s)?,
            max_time: max_seconds(opts.max_time_s)?,
            explain: opts.explain,
            ..CheckOptions::default()
        };
        let report = with_threads(opts.threads, || haplan::check(&p.pool, &check))?;
        let json = to_json(&haplan_wire::report::check_json(&p.pool, &report));
        unsafe { write(out, c_string(json)) };
        Ok(())
    })
}

/// `haplan plan`: the restart plan if exactly the given hosts fail now.
///
/// `failed_json` is a JSON list of host names, e.g. `["xs01"]` (each up or
/// already down: `HAPLAN_UNKNOWN_NAME` for a name the pool does not have,
/// `HAPLAN_INVALID_ARGUMENT` for a host in maintenance). `options_json`
/// (absent when `options_len` is 0) may hold `time_limit_s`. On success
/// `*plan_json` is the JSON of `haplan plan --format json` (every field in
/// `haplan schema plan`): `verdict` `"ok"` when every protected VM is
/// placed, `"not_ok"` when some proved not to fit, `"undecided"` when
/// neither was proved in time.
///
/// # Safety
/// `pool` is NULL or a live pool; each buffer is NULL or valid for reads of
/// its length; `plan_json` and `error_json` are NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn haplan_plan(
    pool: *const haplan_pool,
    failed_json: *const u8,
    failed_len: usize,
    options_json: *const u8,
    options_len: usize,
    plan_json: *mut *mut c_char,
    error_json: *mut *mut c_char,
) -> haplan_result {
    guard(error_json, || {
        // SAFETY (every `unsafe` below): the caller's promises.
        let p = unsafe { pool_ref("pool", pool) }?;
        let failed = unsafe { text("failed_json", failed_json, failed_len) }?;
        let opts: PlanOpts = unsafe { options(options_json, options_len) }?;
        let out = out_ptr("plan_json", plan_json)?;
        let names: Vec<String> = parse("failed_json", failed)?;
        let failed = haplan::failure_set(&p.pool, &names).map_err(|e| match e {
            QueryError::UnknownHost(_) => {
                Failure::new(haplan_result::HAPLAN_UNKNOWN_NAME, e.to_string())
            }
            _ => Failure::invalid(e.to_string()),
        })?;
        let budget = Budget {
            deadline: seconds(opts.time_limit_s)?.map(|d| Instant::now() + d),
            cancel: None,
        };
        let plan = haplan::plan(&p.pool, &failed, &budget);
        let json = to_json(&haplan_wire::report::plan_json(&p.pool, &plan));
        unsafe { write(out, c_string(json)) };
        Ok(())
    })
}

/// `haplan agility`: for every protected VM, the hosts it could restart
/// on, or why none. On success `*agility_json` is the JSON of `haplan
/// agility --format json` (every field in `haplan schema agility`):
/// `verdict` `"ok"` when every protected VM has a host to restart on, else
/// `"not_ok"`.
///
/// # Safety
/// `pool` is NULL or a live pool; `agility_json` and `error_json` are NULL
/// or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn haplan_agility(
    pool: *const haplan_pool,
    agility_json: *mut *mut c_char,
    error_json: *mut *mut c_char,
) -> haplan_result {
    guard(error_json, || {
        // SAFETY (every `unsafe` below): the caller's promises.
        let p = unsafe { pool_ref("pool", pool) }?;
        let out = out_ptr("agility_json", agility_json)?;
        let ag = haplan::Agility::of(&p.pool);
        let json = haplan_wire::report::agility_json_compact(&p.pool, &ag);
        unsafe { write(out, c_string(json)) };
        Ok(())
    })
}

/// `haplan whatif`: what the pool would tolerate after a list of changes
/// (`docs/whatif.md`), the pool itself unchanged.
///
/// `changes_json` is the change list; `HAPLAN_INVALID_CHANGES` gives every
/// problem at its path (`changes[2].name`), nothing applied. `options_json`
/// as for `haplan_check`, for both pools. On success `*report_json` is the
/// JSON of `haplan whatif --format json` (every field in `haplan schema
/// whatif`; `verdict` is the changed pool's, as `haplan_check`'s), and,
/// when `changed` is not NULL,
/// `*changed` a new pool, the changed one, to free with `haplan_pool_free`.
///
/// # Safety
/// `pool` is NULL or a live pool; each buffer is NULL or valid for reads of
/// its length; `report_json`, `changed` and `error_json` are NULL or valid
/// for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn haplan_whatif(
    pool: *const haplan_pool,
    changes_json: *const u8,
    changes_len: usize,
    options_json: *const u8,
    options_len: usize,
    report_json: *mut *mut c_char,
    changed: *mut *mut haplan_pool,
    error_json: *mut *mut c_char,
) -> haplan_result {
    guard(error_json, || {
        // SAFETY (every `unsafe` below): the caller's promises.
        let p = unsafe { pool_ref("pool", pool) }?;
        let changes = unsafe { text("changes_json", changes_json, changes_len) }?;
        let opts: CheckOpts = unsafe { options(options_json, options_len) }?;
        let out = out_ptr("report_json", report_json)?;
        // Not JSON at all is INVALID_JSON, as for every other input.
        parse::<serde::de::IgnoredAny>("changes_json", changes)?;
        let after = haplan::whatif::apply_text(&p.doc, changes).map_err(|e| {
            Failure::with_problems(
                haplan_result::HAPLAN_INVALID_CHANGES,
                e.to_string(),
                e.problems,
            )
        })?;
        let check = CheckOptions {
            tolerate: opts.tolerate,
            time_limit: seconds(opts.time_limit_s)?,
            max_time: max_seconds(opts.max_time_s)?,
            explain: opts.explain,
            ..CheckOptions::default()
        };
        let r = with_threads(opts.threads, || {
            haplan::what_if(&p.pool, &after.pool, &check)
        })?;
        let json = haplan_wire::report::whatif_json(&p.pool, &after.pool, &after.changes, &r);
        let json = c_string(to_json(&json));
        unsafe { write(out, json) };
        if !changed.is_null() {
            let pool = haplan_pool {
                pool: after.pool,
                doc: after.value,
            };
            unsafe { write(changed, Box::into_raw(Box::new(pool))) };
        }
        Ok(())
    })
}

/// `haplan diff`: whether `new_pool` is worse than `old_pool` under a CI
/// policy. `options_json` as for `haplan_check` (`tolerate` is K for both;
/// default NEW's), plus `no_regress` (NEW must tolerate as many failures as
/// OLD). On success `*report_json` is the JSON of `haplan diff --format
/// json` (every field in `haplan schema diff`): `verdict` `"not_ok"` when
/// NEW proved not to tolerate K (or, with `no_regress`, to tolerate fewer
/// than OLD), `"undecided"` when NEW's check is open, else `"ok"`.
///
/// # Safety
/// `old_pool` and `new_pool` are NULL or live pools; `options_json` is NULL
/// or valid for reads of `options_len` bytes; `report_json` and
/// `error_json` are NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn haplan_diff(
    old_pool: *const haplan_pool,
    new_pool: *const haplan_pool,
    options_json: *const u8,
    options_len: usize,
    report_json: *mut *mut c_char,
    error_json: *mut *mut c_char,
) -> haplan_result {
    guard(error_json, || {
        // SAFETY (every `unsafe` below): the caller's promises.
        let old = unsafe { pool_ref("old_pool", old_pool) }?;
        let new = unsafe { pool_ref("new_pool", new_pool) }?;
        let opts: DiffOpts = unsafe { options(options_json, options_len) }?;
        let out = out_ptr("report_json", report_json)?;
        let diff = DiffOptions {
            check: CheckOptions {
                tolerate: opts.tolerate,
                time_limit: seconds(opts.time_limit_s)?,
                max_time: max_seconds(opts.max_time_s)?,
                explain: opts.explain,
                ..CheckOptions::default()
            },
            no_regress: opts.no_regress,
            vm: None,
        };
        let d = with_threads(opts.threads, || haplan::diff(&old.pool, &new.pool, &diff))?;
        let json = to_json(&haplan_wire::report::diff_json(&old.pool, &new.pool, &d));
        unsafe { write(out, c_string(json)) };
        Ok(())
    })
}

/// The options of `haplan_headroom`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct HeadroomOpts {
    #[serde(default)]
    storage: Vec<String>,
    #[serde(default)]
    networks: Vec<String>,
    #[serde(default, deserialize_with = "tolerate")]
    tolerate: Option<u32>,
    #[serde(default, deserialize_with = "present")]
    time_limit_s: Limit,
    #[serde(default, deserialize_with = "present")]
    max_time_s: Limit,
    threads: Option<usize>,
}

/// The options of `haplan_drain` and `haplan_tiers`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitOpts {
    #[serde(default, deserialize_with = "tolerate")]
    tolerate: Option<u32>,
    #[serde(default, deserialize_with = "present")]
    time_limit_s: Limit,
    #[serde(default, deserialize_with = "present")]
    max_time_s: Limit,
    threads: Option<usize>,
}

/// The options of `haplan_timing`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TimingOpts {
    #[serde(default, deserialize_with = "tolerate")]
    tolerate: Option<u32>,
    #[serde(default, deserialize_with = "present")]
    time_limit_s: Limit,
    boot_time_s: Option<u64>,
    concurrency: Option<u32>,
    fence_time_s: Option<u64>,
    fail: Option<Vec<String>>,
    threads: Option<usize>,
}

/// A query error naming a host: `HAPLAN_UNKNOWN_NAME` for a name the pool
/// does not have, else `HAPLAN_INVALID_ARGUMENT`; `prefix` starts the
/// message.
fn query_failure(prefix: &str, e: QueryError) -> Failure {
    let code = match e {
        QueryError::UnknownHost(_) => haplan_result::HAPLAN_UNKNOWN_NAME,
        _ => haplan_result::HAPLAN_INVALID_ARGUMENT,
    };
    Failure::new(code, format!("{prefix}{e}"))
}

/// `haplan headroom`: how many more protected VMs of one shape can start
/// with the pool still tolerating K.
///
/// `vm_json` is the VM's demand, an object of resource amounts as in a
/// pool file, e.g. `{"memory_mib": 32768, "vcpus": 8}` (the CLI's `--vm`).
/// `options_json` (absent when `options_len` is 0) is an object with any
/// of `storage` and `networks` (lists of names the VM's disks and NICs
/// need, the CLI's `--storage` and `--networks`), `tolerate` (K; default
/// the pool's `ha.host_failures_to_tolerate`), `time_limit_s` (0 to 1e9:
/// then `exact` may be false, between proved bounds; the check of the
/// pool as it is searches its exact maximum for at most a tenth of it)
/// and `threads` (1 to
/// 1024). A bad shape is `HAPLAN_INVALID_ARGUMENT` (`HAPLAN_INVALID_JSON`
/// when `vm_json` is not JSON) with every problem at the path the CLI
/// names it (`--vm.vcpus`, `--storage[0]`): an amount out of range, a
/// resource the pool does not know, an empty name, a demand of nothing, or
/// a VM so small that more than 100,000 would fit. On success
/// `*report_json` is the JSON of `haplan headroom --format json` (every
/// field in `haplan schema headroom`): the count is `max_additional`;
/// `verdict` is `"ok"` when the pool tolerates K and the count is exact,
/// `"not_ok"` when the pool proved not to (an answer, not an error), else
/// `"undecided"`.
///
/// # Safety
/// `pool` is NULL or a live pool; each buffer is NULL or valid for reads of
/// its length; `report_json` and `error_json` are NULL or valid for a
/// write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn haplan_headroom(
    pool: *const haplan_pool,
    vm_json: *const u8,
    vm_len: usize,
    options_json: *const u8,
    options_len: usize,
    report_json: *mut *mut c_char,
    error_json: *mut *mut c_char,
) -> haplan_result {
    guard(error_json, || {
        // SAFETY (every `unsafe` below): the caller's promises.
        let p = unsafe { pool_ref("pool", pool) }?;
        let vm = unsafe { text("vm_json", vm_json, vm_len) }?;
        let opts: HeadroomOpts = unsafe { options(options_json, options_len) }?;
        let out = out_ptr("report_json", report_json)?;
        let time_limit = seconds(opts.time_limit_s)?;
        let shape = Shape::parse(vm, "--vm", &opts.storage, &opts.networks).map_err(|e| {
            // Not JSON at all is INVALID_JSON, as for every other input.
            let code = match serde_json::from_str::<serde::de::IgnoredAny>(vm) {
                Err(_) => haplan_result::HAPLAN_INVALID_JSON,
                Ok(_) => haplan_result::HAPLAN_INVALID_ARGUMENT,
            };
            Failure::with_problems(code, e.to_string(), e.problems)
        })?;
        shape.check_resources(&p.pool, "--vm").map_err(|e| {
            Failure::with_problems(
                haplan_result::HAPLAN_INVALID_ARGUMENT,
                e.to_string(),
                e.problems,
            )
        })?;
        let headroom = HeadroomOptions {
            tolerate: opts.tolerate,
            time_limit,
            max_time: max_seconds(opts.max_time_s)?,
            ..HeadroomOptions::default()
        };
        let r = with_threads(opts.threads, || {
            haplan::headroom(&p.pool, &shape, &headroom)
        })?
        // As the command line words it: `--vm: so small a VM ...`.
        .map_err(|e| Failure::invalid(format!("--vm: {e}")))?;
        let json = to_json(&haplan_wire::report::headroom_json(&p.pool, &r));
        unsafe { write(out, c_string(json)) };
        Ok(())
    })
}

/// `haplan drain`: whether a host can go into maintenance, its running and
/// paused VMs live-migrated, with the pool still tolerating K.
///
/// `host_json` is the host's name as a JSON string, e.g. `"xs01"`:
/// `HAPLAN_UNKNOWN_NAME` for a name the pool does not have,
/// `HAPLAN_INVALID_ARGUMENT` for a host that is not up (down or already in
/// maintenance). `options_json` (absent when `options_len` is 0) may hold
/// `tolerate` (K; default the pool's `ha.host_failures_to_tolerate`),
/// `time_limit_s` (0 to 1e9: then the verdict may be `"undecided"`) and
/// `threads` (1 to 1024). On success `*report_json` is the JSON of `haplan
/// drain --format json` (every field in `haplan schema drain`): `verdict`
/// is `"drainable"` (with the moves and the check of the end state; the
/// `"ok"` of the other answers), `"blocked"` (with the proof; their
/// `"not_ok"`) or `"undecided"`; a host that cannot be drained is an
/// answer, not an error.
///
/// # Safety
/// `pool` is NULL or a live pool; each buffer is NULL or valid for reads of
/// its length; `report_json` and `error_json` are NULL or valid for a
/// write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn haplan_drain(
    pool: *const haplan_pool,
    host_json: *const u8,
    host_len: usize,
    options_json: *const u8,
    options_len: usize,
    report_json: *mut *mut c_char,
    error_json: *mut *mut c_char,
) -> haplan_result {
    guard(error_json, || {
        // SAFETY (every `unsafe` below): the caller's promises.
        let p = unsafe { pool_ref("pool", pool) }?;
        let host = unsafe { text("host_json", host_json, host_len) }?;
        let opts: LimitOpts = unsafe { options(options_json, options_len) }?;
        let out = out_ptr("report_json", report_json)?;
        let host: String = parse("host_json", host)?;
        let h = haplan::drain::host_to_drain(&p.pool, &host).map_err(|e| query_failure("", e))?;
        let drain = DrainOptions {
            tolerate: opts.tolerate,
            time_limit: seconds(opts.time_limit_s)?,
            max_time: max_seconds(opts.max_time_s)?,
            ..DrainOptions::default()
        };
        let r = with_threads(opts.threads, || haplan::drain(&p.pool, h, &drain))?
            .map_err(|e| query_failure("", e))?;
        let json = to_json(&haplan_wire::report::drain_json(&p.pool, &r));
        unsafe { write(out, c_string(json)) };
        Ok(())
    })
}

/// `haplan tiers`: the tolerance of each restart-priority tier (its
/// protected VMs and those of the tiers above it) and, for each k past the
/// pool's tolerance, the tiers still safe, the VMs at risk and an example
/// failure set.
///
/// `options_json` (absent when `options_len` is 0) may hold `tolerate` (K
/// for the verdict; default the pool's `ha.host_failures_to_tolerate`),
/// `time_limit_s` (0 to 1e9, every check together: then `exact` may be
/// false, with proved bounds) and `threads` (1 to 1024). On success
/// `*report_json` is the JSON of `haplan tiers --format json` (each tier's
/// `max_tolerable`, the `degradation` rows; every field in `haplan schema
/// tiers`): `verdict` is the whole pool's (the lowest tier's), as
/// `haplan_check`'s, but `"undecided"` when some tier's search was cut
/// short; an overcommitted pool is an answer, not an error.
///
/// # Safety
/// `pool` is NULL or a live pool; `options_json` is NULL or valid for reads
/// of `options_len` bytes; `report_json` and `error_json` are NULL or valid
/// for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn haplan_tiers(
    pool: *const haplan_pool,
    options_json: *const u8,
    options_len: usize,
    report_json: *mut *mut c_char,
    error_json: *mut *mut c_char,
) -> haplan_result {
    guard(error_json, || {
        // SAFETY (every `unsafe` below): the caller's promises.
        let p = unsafe { pool_ref("pool", pool) }?;
        let opts: LimitOpts = unsafe { options(options_json, options_len) }?;
        let out = out_ptr("report_json", report_json)?;
        let tiers = TiersOptions {
            tolerate: opts.tolerate,
            time_limit: seconds(opts.time_limit_s)?,
            max_time: max_seconds(opts.max_time_s)?,
            ..TiersOptions::default()
        };
        let r = with_threads(opts.threads, || haplan::tiers(&p.pool, &tiers))?;
        let json = haplan_wire::report::tiers_json_compact(&p.pool, &r);
        unsafe { write(out, c_string(json)) };
        Ok(())
    })
}

/// `haplan timing`: how long until every protected VM runs again after the
/// worst failure of at most K up hosts (or after the given failure):
/// detection, fencing and the restart schedule.
///
/// `options_json` (absent when `options_len` is 0) is an object with any
/// of `tolerate` (K of the worst case; default the pool's
/// `ha.host_failures_to_tolerate`), `boot_time_s` (the boot time of a VM
/// without `boot_time_s`, whole seconds from 0 to 4294967295, default 60),
/// `concurrency` (at most this many starts at once, at least 1; default no
/// limit), `fence_time_s` (how long fencing takes, whole seconds from 0 to
/// 4294967295, default 0), `fail` (a list of host names: the estimate for
/// exactly that failure, not the worst case; not with `tolerate`) and
/// `threads` (1 to 1024). A name in `fail` the pool does not have is
/// `HAPLAN_UNKNOWN_NAME`, a host in maintenance there
/// `HAPLAN_INVALID_ARGUMENT`. On success `*report_json` is the JSON of
/// `haplan timing --format json` (the worst case's `total_s`, its set and
/// schedule; every field in `haplan schema timing`): `verdict` `"ok"` when
/// every protected VM concerned runs again, `"not_ok"` when a pool that
/// does not tolerate K leaves some stranded (an answer, with the witness,
/// not an error), `"undecided"` when no failure set was looked at in
/// time.
///
/// # Safety
/// `pool` is NULL or a live pool; `options_json` is NULL or valid for reads
/// of `options_len` bytes; `report_json` and `error_json` are NULL or valid
/// for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn haplan_timing(
    pool: *const haplan_pool,
    options_json: *const u8,
    options_len: usize,
    report_json: *mut *mut c_char,
    error_json: *mut *mut c_char,
) -> haplan_result {
    guard(error_json, || {
        // SAFETY (every `unsafe` below): the caller's promises.
        let p = unsafe { pool_ref("pool", pool) }?;
        let opts: TimingOpts = unsafe { options(options_json, options_len) }?;
        let out = out_ptr("report_json", report_json)?;
        if let Some(c) = opts.concurrency {
            limits::CONCURRENCY
                .check(c)
                .map_err(|e| Failure::invalid(format!("options_json: {e}")))?;
        }
        let defaults = TimingOptions::default();
        let boot_time_s = opts.boot_time_s.unwrap_or(defaults.boot_time_s);
        let fence_time_s = opts.fence_time_s.unwrap_or(defaults.fence_time_s);
        for (name, s) in [("boot_time_s", boot_time_s), ("fence_time_s", fence_time_s)] {
            limits::WHOLE_SECONDS
                .named(name)
                .check(s)
                .map_err(|e| Failure::invalid(format!("options_json: {e}")))?;
        }
        if opts.tolerate.is_some() && opts.fail.is_some() {
            return Err(Failure::invalid(
                "options_json: tolerate and fail cannot both be given (fail is one failure set, tolerate asks for the worst)",
            ));
        }
        let fail = match &opts.fail {
            Some(names) => Some(
                haplan::failure_set(&p.pool, names)
                    .map_err(|e| query_failure("options_json: fail: ", e))?,
            ),
            None => None,
        };
        let timing = TimingOptions {
            tolerate: opts.tolerate,
            boot_time_s,
            concurrency: opts.concurrency,
            fence_time_s,
            fail,
            time_limit: seconds(opts.time_limit_s)?,
            ..defaults
        };
        let r = with_threads(opts.threads, || haplan::timing(&p.pool, &timing))?;
        let json = to_json(&haplan_wire::report::timing_json(&p.pool, &r));
        unsafe { write(out, c_string(json)) };
        Ok(())
    })
}

/// A runtime error as a failure; `refused` is the code of a refusal.
fn runtime_failure(e: RuntimeError, refused: haplan_result) -> Failure {
    let message = e.to_string();
    match e {
        RuntimeError::UnknownHost(_) | RuntimeError::UnknownVm(_) => {
            Failure::new(haplan_result::HAPLAN_UNKNOWN_NAME, message)
        }
        RuntimeError::Invalid(_) | RuntimeError::Misaddressed { .. } => {
            Failure::new(refused, message)
        }
        RuntimeError::Pool(p) => Failure::with_problems(refused, message, p.problems),
        RuntimeError::Changes(c) => Failure::with_problems(refused, message, c.problems),
    }
}

/// Starts the HA runtime (`docs/runtime.md`) for `pool` at `now_ms`
/// (milliseconds since an epoch the caller chooses and keeps, at most
/// `HAPLAN_MAX_TIME_MS`, as every event's `at`). The runtime
/// has its own copy of the pool: `pool` may be freed afterwards.
///
/// On success `*out` is the runtime, to free with `haplan_runtime_free`,
/// and `*output_json` its first output, an `Output` (`{"actions": [...],
/// "alerts": [...], "notes": [...], "wake_at": ms}`): an overcommitted pool
/// is already alerted there.
///
/// # Safety
/// `pool` is NULL or a live pool; `out`, `output_json` and `error_json` are
/// NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn haplan_runtime_new(
    pool: *const haplan_pool,
    now_ms: u64,
    out: *mut *mut haplan_runtime,
    output_json: *mut *mut c_char,
    error_json: *mut *mut c_char,
) -> haplan_result {
    guard(error_json, || {
        // SAFETY (every `unsafe` below): the caller's promises.
        let p = unsafe { pool_ref("pool", pool) }?;
        let out = out_ptr("out", out)?;
        let output_out = out_ptr("output_json", output_json)?;
        let now_ms = time("now_ms", now_ms)?;
        let (rt, output) = Runtime::new(p.doc.clone(), now_ms).map_err(|e| match e {
            RuntimeError::Pool(e) => invalid_pool(e),
            e => runtime_failure(e, haplan_result::HAPLAN_INVALID_ARGUMENT),
        })?;
        let output = c_string(to_json(&output));
        let rt = Box::new(haplan_runtime {
            rt,
            poisoned: false,
        });
        unsafe {
            write(out, Box::into_raw(rt));
            write(output_out, output);
        }
        Ok(())
    })
}

/// `rt` itself, checked not NULL and not poisoned.
///
/// # Safety
/// `rt` is NULL or a live runtime.
unsafe fn runtime_ref<'a>(rt: *const haplan_runtime) -> Result<&'a haplan_runtime, Failure> {
    // SAFETY: the caller's promise.
    let r = unsafe { rt.as_ref() }.ok_or_else(|| Failure::null("rt"))?;
    if r.poisoned {
        return Err(poisoned());
    }
    Ok(r)
}

fn poisoned() -> Failure {
    Failure::new(
        haplan_result::HAPLAN_POISONED,
        "a panic interrupted an earlier step of this runtime: free it",
    )
}

/// Runs one step of `rt`, which stays poisoned if a panic interrupts it.
fn step<T>(rt: &mut haplan_runtime, f: impl FnOnce(&mut Runtime) -> T) -> Result<T, Failure> {
    if rt.poisoned {
        return Err(poisoned());
    }
    rt.poisoned = true;
    let r = f(&mut rt.rt);
    rt.poisoned = false;
    Ok(r)
}

/// Feeds one event to the runtime: `input_json` is an `Input`, `{"at": ms,
/// "event": {"type": "tick"}}` (the events are in `docs/runtime.md`). On
/// success `*output_json` is the `Output`: the actions to perform (each
/// answered later by an event with its `id`), the alerts to raise, the
/// notes, and `wake_at`, when to send the next `tick`.
///
/// An event naming a host or VM the pool does not have gives
/// `HAPLAN_UNKNOWN_NAME`, one the runtime refuses `HAPLAN_REFUSED`, an
/// unknown event type or field `HAPLAN_INVALID_ARGUMENT`: the runtime is
/// left as it was.
///
/// # Safety
/// `rt` is NULL or a live runtime used by no other call; `input_json` is
/// NULL or valid for reads of `len` bytes; `output_json` and `error_json`
/// are NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn haplan_runtime_handle(
    rt: *mut haplan_runtime,
    input_json: *const u8,
    len: usize,
    output_json: *mut *mut c_char,
    error_json: *mut *mut c_char,
) -> haplan_result {
    guard(error_json, || {
        // SAFETY (every `unsafe` below): the caller's promises.
        let r = unsafe { rt.as_mut() }.ok_or_else(|| Failure::null("rt"))?;
        let input = unsafe { text("input_json", input_json, len) }?;
        let out = out_ptr("output_json", output_json)?;
        let input: Input = parse("input_json", input)?;
        time("input_json: at", input.at)?;
        let output = step(r, |rt| rt.handle(&input))?
            .map_err(|e| runtime_failure(e, haplan_result::HAPLAN_REFUSED))?;
        unsafe { write(out, c_string(to_json(&output))) };
        Ok(())
    })
}

/// An admission check: would the operation in `op_json` leave the pool
/// short of its configured k? E.g. `{"op": "vm_start", "vm": "db9",
/// "host": "r2"}` (the operations are in `docs/runtime.md`). Nothing
/// changes. On success `*admission_json` is the answer: `{"verdict":
/// "allowed", ...}`, `"would_overcommit"` (with the failure set and the VMs
/// it would strand) or `"refused"` (with the reason).
///
/// # Safety
/// `rt` is NULL or a live runtime used by no other call; `op_json` is NULL
/// or valid for reads of `len` bytes; `admission_json` and `error_json`
/// are NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn haplan_runtime_check_operation(
    rt: *const haplan_runtime,
    op_json: *const u8,
    len: usize,
    admission_json: *mut *mut c_char,
    error_json: *mut *mut c_char,
) -> haplan_result {
    guard(error_json, || {
        // SAFETY (every `unsafe` below): the caller's promises.
        let r = unsafe { runtime_ref(rt) }?;
        let op = unsafe { text("op_json", op_json, len) }?;
        let out = out_ptr("admission_json", admission_json)?;
        let op: Operation = parse("op_json", op)?;
        let admission =
            r.rt.check_operation(&op)
                .map_err(|e| runtime_failure(e, haplan_result::HAPLAN_INVALID_ARGUMENT))?;
        unsafe { write(out, c_string(to_json(&admission))) };
        Ok(())
    })
}

/// The runtime's whole state as JSON, credentials redacted (equal for two
/// runtimes exactly when they are in the same state): for logs and
/// debugging; its fields may change between versions.
///
/// # Safety
/// `rt` is NULL or a live runtime used by no other call; `state_json` and
/// `error_json` are NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn haplan_runtime_state_json(
    rt: *const haplan_runtime,
    state_json: *mut *mut c_char,
    error_json: *mut *mut c_char,
) -> haplan_result {
    guard(error_json, || {
        // SAFETY (every `unsafe` below): the caller's promises.
        let r = unsafe { runtime_ref(rt) }?;
        let out = out_ptr("state_json", state_json)?;
        let json = c_string(to_json(&r.rt.state_json()));
        unsafe { write(out, json) };
        Ok(())
    })
}

/// Frees a runtime (a poisoned one too). NULL is accepted and does
/// nothing.
///
/// # Safety
/// `rt` is NULL or a runtime from haplan not yet freed, used by no other
/// call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn haplan_runtime_free(rt: *mut haplan_runtime) {
    if rt.is_null() {
        return;
    }
    // SAFETY: made by `Box::into_raw` (the caller's promise).
    infallible(|| drop(unsafe { Box::from_raw(rt) }));
}

#[cfg(test)]
mod answers;
#[cfg(test)]
mod fields;
#[cfg(test)]
mod tests;
