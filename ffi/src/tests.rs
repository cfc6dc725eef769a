//! The guard, the NULL handling and the capacity queries' answers, from
//! Rust (the C tests in `tests/` do the rest through the real libraries).

use std::ffi::{CStr, c_char};
use std::ptr;

use super::*;

const POOL: &str = r#"{
  "name": "demo",
  "hosts": [
    {"name": "h1", "capacity": {"memory_mib": 262144}},
    {"name": "h2", "capacity": {"memory_mib": 262144}}
  ],
  "vms": [
    {"name": "a", "host": "h1", "demand": {"memory_mib": 122880}},
    {"name": "b", "host": "h2", "demand": {"memory_mib": 122880}}
  ]
}"#;

/// Takes a string haplan returned, and frees it.
fn take(s: *mut c_char) -> String {
    assert!(!s.is_null());
    let text = unsafe { CStr::from_ptr(s) }.to_str().unwrap().to_string();
    unsafe { haplan_string_free(s) };
    text
}

fn error(s: *mut c_char) -> Value {
    serde_json::from_str(&take(s)).unwrap()
}

fn new_pool(json: &str) -> *mut haplan_pool {
    let mut pool = ptr::null_mut();
    let rc = unsafe { haplan_pool_new(json.as_ptr(), json.len(), &mut pool, ptr::null_mut()) };
    assert_eq!(rc, haplan_result::HAPLAN_OK);
    pool
}

#[test]
fn a_panic_is_a_code_and_its_message() {
    let mut err = ptr::null_mut();
    let rc = guard::guard(&mut err, || panic!("boom {}", 42));
    assert_eq!(rc, haplan_result::HAPLAN_PANIC);
    let e = error(err);
    assert_eq!(e["error"], "panic");
    assert!(e["message"].as_str().unwrap().contains("boom 42"), "{e}");
    // A &str payload, and no error_json wanted.
    let rc = guard::guard(ptr::null_mut(), || panic!("plain"));
    assert_eq!(rc, haplan_result::HAPLAN_PANIC);
    // A panic in a free is swallowed.
    guard::infallible(|| panic!("in a free"));
}

#[test]
fn a_panic_in_a_step_poisons_the_runtime() {
    let pool = new_pool(POOL);
    let mut rt = ptr::null_mut();
    let mut out = ptr::null_mut();
    let rc = unsafe { haplan_runtime_new(pool, 0, &mut rt, &mut out, ptr::null_mut()) };
    assert_eq!(rc, haplan_result::HAPLAN_OK);
    take(out);
    unsafe { haplan_pool_free(pool) };
    let mut err = ptr::null_mut();
    let rc = guard::guard(&mut err, || {
        step(unsafe { &mut *rt }, |_| panic!("in the middle of a step"))
    });
    assert_eq!(rc, haplan_result::HAPLAN_PANIC);
    take(err);
    let tick = r#"{"at": 5000, "event": {"type": "tick"}}"#;
    let mut out = ptr::null_mut();
    let mut err = ptr::null_mut();
    let rc = unsafe { haplan_runtime_handle(rt, tick.as_ptr(), tick.len(), &mut out, &mut err) };
    assert_eq!(rc, haplan_result::HAPLAN_POISONED);
    assert!(out.is_null());
    assert_eq!(error(err)["error"], "poisoned");
    let rc = unsafe { haplan_runtime_state_json(rt, &mut out, ptr::null_mut()) };
    assert_eq!(rc, haplan_result::HAPLAN_POISONED);
    unsafe { haplan_runtime_free(rt) };
}

#[test]
fn null_arguments_are_codes_and_outputs_stay_untouched() {
    let sentinel = ptr::dangling_mut::<haplan_pool>();
    let mut out = sentinel;
    let mut err = ptr::null_mut();
    let rc = unsafe { haplan_pool_new(ptr::null(), 0, &mut out, &mut err) };
    assert_eq!(rc, haplan_result::HAPLAN_NULL_ARGUMENT);
    assert_eq!(out, sentinel);
    let e = error(err);
    assert_eq!(e["error"], "null_argument");
    assert_eq!(e["problems"], serde_json::json!([]));

    let rc =
        unsafe { haplan_pool_new(POOL.as_ptr(), POOL.len(), ptr::null_mut(), ptr::null_mut()) };
    assert_eq!(rc, haplan_result::HAPLAN_NULL_ARGUMENT);

    let mut report = ptr::null_mut();
    let rc = unsafe { haplan_check(ptr::null(), ptr::null(), 0, &mut report, ptr::null_mut()) };
    assert_eq!(rc, haplan_result::HAPLAN_NULL_ARGUMENT);
    assert!(report.is_null());
    let rc = unsafe {
        haplan_runtime_handle(
            ptr::null_mut(),
            ptr::null(),
            0,
            &mut report,
            ptr::null_mut(),
        )
    };
    assert_eq!(rc, haplan_result::HAPLAN_NULL_ARGUMENT);

    // The frees accept NULL.
    unsafe {
        haplan_pool_free(ptr::null_mut());
        haplan_runtime_free(ptr::null_mut());
        haplan_string_free(ptr::null_mut());
    }
}

#[test]
fn a_pool_checks_and_a_bad_one_gives_its_paths() {
    let pool = new_pool(POOL);
    let opts = r#"{"explain": true, "threads": 2}"#;
    let mut report = ptr::null_mut();
    let rc = unsafe {
        haplan_check(
            pool,
            opts.as_ptr(),
            opts.len(),
            &mut report,
            ptr::null_mut(),
        )
    };
    assert_eq!(rc, haplan_result::HAPLAN_OK);
    let report: Value = serde_json::from_str(&take(report)).unwrap();
    assert_eq!(report["max_tolerable"], 1);
    unsafe { haplan_pool_free(pool) };

    let bad = POOL.replace(
        "122880}},\n    {\"name\": \"b\"",
        "\"x\"}},\n    {\"name\": \"b\"",
    );
    let mut out = ptr::null_mut();
    let mut err = ptr::null_mut();
    let rc = unsafe { haplan_pool_new(bad.as_ptr(), bad.len(), &mut out, &mut err) };
    assert_eq!(rc, haplan_result::HAPLAN_INVALID_POOL);
    assert!(out.is_null());
    let e = error(err);
    assert_eq!(e["error"], "invalid_pool");
    assert_eq!(e["problems"][0]["path"], "vms[0].demand.memory_mib", "{e}");
}

#[test]
fn every_code_has_its_name() {
    for r in haplan_result::all() {
        let name = unsafe { CStr::from_ptr(haplan_result_name(r as i32)) };
        assert_eq!(
            name.to_str().unwrap().to_ascii_lowercase(),
            format!("haplan_{}", r.error_name())
        );
    }
    let unknown = unsafe { CStr::from_ptr(haplan_result_name(-7)) };
    assert_eq!(unknown.to_str().unwrap(), "HAPLAN_UNKNOWN_RESULT");
    let version = unsafe { CStr::from_ptr(haplan_version()) };
    assert_eq!(version.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
}

/// Calls a query of the form `f(pool, options, out, err)` and returns its
/// code, the report and the error JSON (each `Value::Null` when not
/// written).
fn query(
    f: unsafe extern "C" fn(
        *const haplan_pool,
        *const u8,
        usize,
        *mut *mut c_char,
        *mut *mut c_char,
    ) -> haplan_result,
    pool: *const haplan_pool,
    options: &str,
) -> (haplan_result, Value, Value) {
    let mut report = ptr::null_mut();
    let mut err = ptr::null_mut();
    let rc = unsafe { f(pool, options.as_ptr(), options.len(), &mut report, &mut err) };
    let report = if report.is_null() {
        Value::Null
    } else {
        serde_json::from_str(&take(report)).unwrap()
    };
    let err = if err.is_null() {
        Value::Null
    } else {
        error(err)
    };
    (rc, report, err)
}

/// Calls a query of the form `f(pool, input, options, out, err)`.
fn query_with(
    f: unsafe extern "C" fn(
        *const haplan_pool,
        *const u8,
        usize,
        *const u8,
        usize,
        *mut *mut c_char,
        *mut *mut c_char,
    ) -> haplan_result,
    pool: *const haplan_pool,
    input: &str,
    options: &str,
) -> (haplan_result, Value, Value) {
    let mut report = ptr::null_mut();
    let mut err = ptr::null_mut();
    let rc = unsafe {
        f(
            pool,
            input.as_ptr(),
            input.len(),
            options.as_ptr(),
            options.len(),
            &mut report,
            &mut err,
        )
    };
    let report = if report.is_null() {
        Value::Null
    } else {
        serde_json::from_str(&take(report)).unwrap()
    };
    let err = if err.is_null() {
        Value::Null
    } else {
        error(err)
    };
    (rc, report, err)
}

#[test]
fn the_capacity_queries_answer_as_the_library() {
    let ptr = new_pool(POOL);
    let pool = &unsafe { &*ptr }.pool;

    // headroom: the library's count, storage and networks as options.
    let vm = r#"{"memory_mib": 32768}"#;
    let (rc, r, _) = query_with(haplan_headroom, ptr, vm, r#"{"tolerate": 0}"#);
    assert_eq!(rc, haplan_result::HAPLAN_OK);
    let shape = Shape::parse(vm, "--vm", &[], &[]).unwrap();
    let opts = HeadroomOptions {
        tolerate: Some(0),
        ..HeadroomOptions::default()
    };
    let lib = haplan::headroom(pool, &shape, &opts).unwrap();
    assert_eq!(r["max_additional"], lib.max_additional);
    assert_eq!(r["tolerate"], 0);
    // Storage no host reaches: an error (a typo), not "0 more".
    let (rc, _, e) = query_with(haplan_headroom, ptr, vm, r#"{"storage": ["nfs"]}"#);
    assert_eq!(rc, haplan_result::HAPLAN_INVALID_ARGUMENT);
    assert!(
        e["message"]
            .as_str()
            .is_some_and(|m| m.contains("unknown storage \"nfs\": no host reaches it")),
        "{e}"
    );
    let (rc, _, e) = query_with(haplan_headroom, ptr, r#"{"vcpus": 1}"#, "");
    assert_eq!(rc, haplan_result::HAPLAN_INVALID_ARGUMENT);
    assert_eq!(e["problems"][0]["path"], "--vm.vcpus", "{e}");
    let (rc, _, e) = query_with(haplan_headroom, ptr, "{", "");
    assert_eq!(rc, haplan_result::HAPLAN_INVALID_JSON);
    assert_eq!(e["problems"][0]["path"], "--vm", "{e}");

    // drain: with h1 in maintenance, b could restart nowhere: blocked, an
    // answer; the library's JSON but for the timings.
    let (rc, r, _) = query_with(haplan_drain, ptr, r#""h1""#, r#"{"tolerate": 0}"#);
    assert_eq!(rc, haplan_result::HAPLAN_OK);
    assert_eq!(r["verdict"], "blocked", "{r}");
    assert_eq!(r["ok"], false);
    let opts = DrainOptions {
        tolerate: Some(0),
        ..DrainOptions::default()
    };
    let lib = haplan::drain(pool, 0, &opts).unwrap();
    let mut lib = serde_json::to_value(haplan_wire::report::drain_json(pool, &lib)).unwrap();
    let mut r = r;
    r["stats"] = Value::Null;
    lib["stats"] = Value::Null;
    assert_eq!(r, lib);
    let (rc, _, e) = query_with(haplan_drain, ptr, r#""h9""#, "");
    assert_eq!(rc, haplan_result::HAPLAN_UNKNOWN_NAME);
    assert_eq!(e["message"], "unknown host \"h9\"");

    // tiers: the lowest tier is the pool's check.
    let (rc, r, _) = query(haplan_tiers, ptr, "");
    assert_eq!(rc, haplan_result::HAPLAN_OK);
    let check = haplan::check(pool, &CheckOptions::default());
    assert_eq!(r["max_tolerable"], check.max_tolerable);
    let (rc, _, e) = query(haplan_tiers, ptr, r#"{"tolerate": 1, "no": 2}"#);
    assert_eq!(rc, haplan_result::HAPLAN_INVALID_ARGUMENT);
    assert_eq!(e["error"], "invalid_argument");

    // timing: the library's total, and the CLI's validation.
    let (rc, r, _) = query(haplan_timing, ptr, r#"{"fail": ["h1"], "boot_time_s": 7}"#);
    assert_eq!(rc, haplan_result::HAPLAN_OK);
    let opts = TimingOptions {
        boot_time_s: 7,
        fail: Some(haplan::failure_set(pool, &["h1".to_string()]).unwrap()),
        ..TimingOptions::default()
    };
    let lib = haplan::timing(pool, &opts);
    assert_eq!(
        r,
        serde_json::to_value(haplan_wire::report::timing_json(pool, &lib)).unwrap()
    );
    for (opts, code) in [
        (
            r#"{"concurrency": 0}"#,
            haplan_result::HAPLAN_INVALID_ARGUMENT,
        ),
        (
            r#"{"fence_time_s": 5000000000}"#,
            haplan_result::HAPLAN_INVALID_ARGUMENT,
        ),
        (
            r#"{"tolerate": 1, "fail": []}"#,
            haplan_result::HAPLAN_INVALID_ARGUMENT,
        ),
        (r#"{"fail": ["h3"]}"#, haplan_result::HAPLAN_UNKNOWN_NAME),
        (
            r#"{"boot_time_s": -1}"#,
            haplan_result::HAPLAN_INVALID_ARGUMENT,
        ),
    ] {
        let (rc, r, e) = query(haplan_timing, ptr, opts);
        assert_eq!(rc, code, "{opts}: {e}");
        assert!(r.is_null());
    }

    // NULL pointers.
    let (rc, _, e) = query(haplan_tiers, ptr::null(), "");
    assert_eq!(rc, haplan_result::HAPLAN_NULL_ARGUMENT);
    assert_eq!(e["message"], "pool is NULL");
    let rc = unsafe {
        haplan_drain(
            ptr,
            ptr::null(),
            0,
            ptr::null(),
            0,
            ptr::null_mut(),
            ptr::null_mut(),
        )
    };
    assert_eq!(rc, haplan_result::HAPLAN_NULL_ARGUMENT);
    unsafe { haplan_pool_free(ptr) };
}
