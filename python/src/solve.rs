//! Running a solve without the GIL while the calling thread still answers
//! Ctrl-C.
//!
//! Python runs signal handlers only in the main thread, and only when that
//! thread calls `PyErr_CheckSignals`. So the solve runs on a worker thread
//! and the calling thread waits for it in short slices with the GIL
//! released, taking the GIL back between slices to check for signals. On a
//! signal whose handler raises (Ctrl-C: `KeyboardInterrupt`), the cancel
//! flag, which the core polls through `Budget` / `CheckOptions::cancel`,
//! tells the worker to stop, and the exception propagates at once; the
//! worker's result, proved bounds at best, is dropped, never reported.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::panic::PanicException;
use pyo3::prelude::*;

/// How long the calling thread waits without the GIL before it checks for
/// signals: the bound on how late a Ctrl-C is noticed.
const SLICE: Duration = Duration::from_millis(20);

enum Workers {
    Shared(&'static rayon::ThreadPool),
    Own(rayon::ThreadPool),
}

/// The rayon pool solves share, one per process. Not rayon's global pool:
/// its threads exist only in the process that started them, so in a child
/// forked after a solve (`multiprocessing` on Linux) it would wait forever.
/// This one is made again when the process id changes; the parent's pool,
/// a husk in the child, is left alone.
fn shared_pool() -> PyResult<&'static rayon::ThreadPool> {
    // Taken only by threads holding the GIL, which `fork()` from Python also
    // holds: never held across a fork.
    static POOL: Mutex<Option<(u32, &'static rayon::ThreadPool)>> = Mutex::new(None);
    let pid = std::process::id();
    let mut slot = POOL.lock().unwrap_or_else(|e| e.into_inner());
    match *slot {
        Some((owner, pool)) if owner == pid => Ok(pool),
        _ => {
            let pool = rayon::ThreadPoolBuilder::new()
                .thread_name(|i| format!("haplan-{i}"))
                .build()
                .map_err(|e| PyRuntimeError::new_err(format!("cannot start threads: {e}")))?;
            let pool: &'static rayon::ThreadPool = Box::leak(Box::new(pool));
            *slot = Some((pid, pool));
            Ok(pool)
        }
    }
}

/// Runs `job` on a worker thread, with the GIL released, and returns its
/// result. `threads` sets the number of rayon worker threads the job may
/// use (`None`: one per core, shared with every other solve of the process).
///
/// `time_limit` is the job's own, counted from this call: the job is
/// given what is left of it when it starts (a job waiting for a worker of
/// the shared pool does not get a fresh limit) less a reserve for making
/// the answer, as the command line keeps (`haplan::limits::answer_reserve`
/// of the pools' JSON, `input_bytes`), and the core stops its search then
/// and answers with what it proved; what cannot stop on its own (the
/// set-up of a very large pool, a very large answer) is waited for until a
/// hard deadline within 10 % + 1 s of it, past which the job is cancelled
/// and `TimeLimitError` raised: nothing was proved.
pub fn run<T, F>(
    py: Python<'_>,
    threads: Option<usize>,
    time_limit: Option<Duration>,
    input_bytes: usize,
    job: F,
) -> PyResult<T>
where
    T: Send + 'static,
    F: FnOnce(&AtomicBool, Option<Duration>) -> T + Send + 'static,
{
    let rayon_pool = match threads {
        None => Workers::Shared(shared_pool()?),
        Some(n) if haplan::limits::THREADS.check(n).is_err() => {
            return Err(PyValueError::new_err(
                haplan::limits::THREADS.error(n).to_string(),
            ));
        }
        Some(n) => Workers::Own(
            rayon::ThreadPoolBuilder::new()
                .num_threads(n)
                .build()
                .map_err(|e| PyRuntimeError::new_err(format!("cannot start {n} threads: {e}")))?,
        ),
    };
    let start = Instant::now();
    let hard = hard_deadline(start, time_limit);
    let cancel = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::sync_channel(1);
    let flag = Arc::clone(&cancel);
    std::thread::Builder::new()
        .name("haplan-solve".to_string())
        .spawn(move || {
            let out = catch_unwind(AssertUnwindSafe(|| match &rayon_pool {
                Workers::Shared(p) => {
                    p.install(|| job(&flag, left(start, time_limit, input_bytes)))
                }
                Workers::Own(p) => p.install(|| job(&flag, left(start, time_limit, input_bytes))),
            }));
            // The caller may be gone (interrupted): nobody to tell then.
            let _ = tx.send(out);
        })
        .map_err(|e| PyRuntimeError::new_err(format!("cannot start a solver thread: {e}")))?;

    let mut rx = rx;
    loop {
        let (got, back) = py.detach(move || {
            let got = rx.recv_timeout(SLICE);
            (got, rx)
        });
        rx = back;
        match got {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(panic)) => {
                let msg = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "unknown panic".to_string());
                return Err(PanicException::new_err(format!(
                    "haplan: internal error: {msg}"
                )));
            }
            Err(RecvTimeoutError::Timeout) => {
                if let Err(e) = py.check_signals() {
                    cancel.store(true, Ordering::Relaxed);
                    return Err(e);
                }
                if hard.is_some_and(|h| Instant::now() >= h) {
                    cancel.store(true, Ordering::Relaxed);
                    return Err(time_limit_error(time_limit));
                }
            }
            Err(RecvTimeoutError::Disconnected) => {
                return Err(PyRuntimeError::new_err(
                    "haplan: the solver thread stopped without an answer",
                ));
            }
        }
    }
}

/// When a job started at `start` with `limit` is given up: within 10 % +
/// 1 s of the limit, with room left for the caller to make Python objects.
pub fn hard_deadline(start: Instant, limit: Option<Duration>) -> Option<Instant> {
    limit.map(|l| start + l + (l / 10 + Duration::from_secs(1)).mul_f64(0.6))
}

/// The error of a job given up at its [`hard_deadline`]: nothing proved.
pub fn time_limit_error(limit: Option<Duration>) -> PyErr {
    let limit = limit.unwrap_or_default().as_secs_f64();
    crate::TimeLimitError::new_err(format!(
        "the time limit of {limit} s ran out before the answer was ready (setting up the pool, or making a very large answer): nothing was proved"
    ))
}

/// What is left of `limit` since `start`, less the reserve for making the
/// answer of a job on `input_bytes` of pools.
fn left(start: Instant, limit: Option<Duration>, input_bytes: usize) -> Option<Duration> {
    limit.map(|l| {
        l.saturating_sub(haplan::limits::answer_reserve(l, input_bytes))
            .saturating_sub(start.elapsed())
    })
}
