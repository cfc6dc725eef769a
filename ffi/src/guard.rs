//! What every export shares: the panic guard, failures as error JSON, and
//! reading the caller's buffers and writing its out-parameters.

use std::any::Any;
use std::ffi::{CString, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};

use haplan::Problem;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use crate::haplan_result;

/// Why a call failed: its code, a message for people, and the problems
/// with their JSON paths (for a pool, changes, or a JSON syntax error).
#[derive(Debug)]
pub(crate) struct Failure {
    pub code: haplan_result,
    pub message: String,
    pub problems: Vec<Problem>,
}

impl Failure {
    pub fn new(code: haplan_result, message: impl Into<String>) -> Failure {
        Failure {
            code,
            message: message.into(),
            problems: Vec::new(),
        }
    }

    pub fn with_problems(
        code: haplan_result,
        message: impl Into<String>,
        problems: Vec<Problem>,
    ) -> Failure {
        Failure {
            code,
            message: message.into(),
            problems,
        }
    }

    pub fn null(name: &str) -> Failure {
        Failure::new(
            haplan_result::HAPLAN_NULL_ARGUMENT,
            format!("{name} is NULL"),
        )
    }

    pub fn invalid(message: impl Into<String>) -> Failure {
        Failure::new(haplan_result::HAPLAN_INVALID_ARGUMENT, message)
    }

    fn panic(payload: &(dyn Any + Send)) -> Failure {
        let what = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic without a message".to_string());
        Failure::new(
            haplan_result::HAPLAN_PANIC,
            format!("haplan panicked (a bug, please report it): {what}"),
        )
    }

    /// The error JSON of the conventions (README.md, 3).
    pub fn to_json(&self) -> String {
        let problems: Vec<Value> = self
            .problems
            .iter()
            .map(|p| {
                let mut o = Map::new();
                o.insert("path".into(), json!(p.path));
                o.insert("message".into(), json!(p.message));
                if let Some(line) = p.line {
                    o.insert("line".into(), json!(line));
                }
                if let Some(column) = p.column {
                    o.insert("column".into(), json!(column));
                }
                Value::Object(o)
            })
            .collect();
        json!({
            "error": self.code.error_name(),
            "message": self.message,
            "problems": problems,
        })
        .to_string()
    }
}

/// Runs `body` with every panic caught: the code of the result, and on
/// failure the error JSON written to `error_json` if that is not NULL.
/// `body` writes its outputs itself, last, once nothing can fail.
pub(crate) fn guard(
    error_json: *mut *mut c_char,
    body: impl FnOnce() -> Result<(), Failure>,
) -> haplan_result {
    let failure = match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => return haplan_result::HAPLAN_OK,
        Ok(Err(f)) => f,
        Err(payload) => {
            let f = Failure::panic(&*payload);
            // A payload whose drop panics would unwind out of here.
            let _ = catch_unwind(AssertUnwindSafe(move || drop(payload)));
            f
        }
    };
    let code = failure.code;
    if !error_json.is_null() {
        // Building the JSON allocates; should even that panic, the code
        // still goes back, without details.
        if let Ok(s) = catch_unwind(AssertUnwindSafe(|| c_string(failure.to_json()))) {
            // SAFETY: not NULL; the caller passes a valid `char **`.
            unsafe { *error_json = s };
        }
    }
    code
}

/// Runs `body` for a function that cannot fail (the `_free`s): a panic is
/// caught and dropped.
pub(crate) fn infallible(body: impl FnOnce()) {
    if let Err(payload) = catch_unwind(AssertUnwindSafe(body)) {
        let _ = catch_unwind(AssertUnwindSafe(move || drop(payload)));
    }
}

/// A Rust-allocated C string for `s` (JSON never holds a NUL byte, but a
/// stray one is dropped rather than cut the string short).
pub(crate) fn c_string(s: String) -> *mut c_char {
    CString::new(s)
        .unwrap_or_else(|e| {
            let mut bytes = e.into_vec();
            bytes.retain(|&b| b != 0);
            CString::new(bytes).expect("no NUL left")
        })
        .into_raw()
}

/// `out` itself, checked not NULL (before any work is done).
pub(crate) fn out_ptr<T>(name: &str, out: *mut *mut T) -> Result<*mut *mut T, Failure> {
    if out.is_null() {
        Err(Failure::null(name))
    } else {
        Ok(out)
    }
}

/// Writes `value` to an out-parameter checked by [`out_ptr`].
///
/// # Safety
/// `out` must be valid for a write.
pub(crate) unsafe fn write<T>(out: *mut *mut T, value: *mut T) {
    // SAFETY: the caller's promise.
    unsafe { *out = value };
}

/// The bytes of a required input buffer.
///
/// # Safety
/// If not NULL, `ptr` must be valid for reads of `len` bytes for `'a`.
pub(crate) unsafe fn bytes<'a>(
    name: &str,
    ptr: *const u8,
    len: usize,
) -> Result<&'a [u8], Failure> {
    if ptr.is_null() {
        return Err(Failure::null(name));
    }
    if len > isize::MAX as usize {
        return Err(Failure::invalid(format!(
            "the length of {name} is {len}, above PTRDIFF_MAX"
        )));
    }
    // SAFETY: not NULL, `len` within what a slice may hold, and the
    // caller's promise for the rest.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// The text of a required input buffer.
///
/// # Safety
/// As [`bytes`].
pub(crate) unsafe fn text<'a>(name: &str, ptr: *const u8, len: usize) -> Result<&'a str, Failure> {
    // SAFETY: the caller's promise.
    let b = unsafe { bytes(name, ptr, len) }?;
    std::str::from_utf8(b).map_err(|e| {
        Failure::new(
            haplan_result::HAPLAN_INVALID_UTF8,
            format!("{name} is not UTF-8: {e}"),
        )
    })
}

/// The text of an optional input buffer: absent when `len` is 0.
///
/// # Safety
/// As [`bytes`].
pub(crate) unsafe fn optional_text<'a>(
    name: &str,
    ptr: *const u8,
    len: usize,
) -> Result<Option<&'a str>, Failure> {
    if len == 0 {
        Ok(None)
    } else {
        // SAFETY: the caller's promise.
        unsafe { text(name, ptr, len) }.map(Some)
    }
}

/// `text` read as a `T`: a syntax error is `HAPLAN_INVALID_JSON`, JSON of
/// the wrong shape `HAPLAN_INVALID_ARGUMENT`, each with line and column.
pub(crate) fn parse<T: DeserializeOwned>(name: &str, text: &str) -> Result<T, Failure> {
    serde_json::from_str(text).map_err(|e| json_failure(name, &e))
}

pub(crate) fn json_failure(name: &str, e: &serde_json::Error) -> Failure {
    use serde_json::error::Category;
    let (code, what) = match e.classify() {
        Category::Data => (haplan_result::HAPLAN_INVALID_ARGUMENT, "unexpected JSON"),
        Category::Syntax | Category::Eof | Category::Io => {
            (haplan_result::HAPLAN_INVALID_JSON, "invalid JSON")
        }
    };
    let full = e.to_string();
    let msg = full
        .rfind(" at line ")
        .map_or(full.as_str(), |i| &full[..i]);
    let problem = Problem {
        path: String::new(),
        message: format!("{what}: {msg}"),
        line: Some(e.line()),
        // serde_json says column 0 at the start of a line; columns are 1-based.
        column: Some(e.column().max(1)),
    };
    Failure::with_problems(code, format!("{name}: {problem}"), vec![problem])
}
