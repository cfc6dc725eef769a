//! The guard and the NULL handling, from Rust (the C tests in `tests/` do
//! the rest through the real libraries).

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
