//! The runtime's durable log: one JSON object per line, appended and
//! flushed to disk before the actions of a step are handed out.
//!
//! The first line starts the log: `{"log": "haplan-runtime/v1", "at": T,
//! "pool": {...}}` (the pool file with every fencing parameter redacted),
//! with `"undecided": [...]` when a check of the runtime's first
//! recalculation did not decide within its budget.
//! Each following line is one step: `{"seq": N, "input": {...}, "output":
//! {...}}`, the event taken and everything it led to (actions, alerts,
//! notes). The runtime is deterministic, so replaying the inputs from the
//! start line rebuilds its state exactly, and the replayed outputs must
//! equal the logged ones (a log that does not replay is refused rather than
//! trusted). An exact check that did not decide within its time budget is
//! not run again: its outcome, logged in the step's `undecided`, is taken
//! ([`crate::budget`]). A last line cut short by a crash was never acted on and is
//! dropped. [`recover`] then tells the runtime it restarted (also a logged
//! step), which settles what was in flight without repeating or losing it.
//!
//! A log is kept bounded by compaction: a new log whose first line is a
//! snapshot of the whole state (`{"log": "haplan-runtime/v1", "at": T,
//! "seq": N, "pool": {...}, "snapshot": {...}}`, the pool as the runtime
//! knows it then, redacted like the state), followed by the steps after it
//! (numbered on from `N`). Replay starts from the snapshot.

use std::fs::File;
use std::io::{self, BufRead, Write};

use serde_json::{Value, json};

use super::budget::Undecided;
use super::machine::{Runtime, RuntimeError};
use super::{Event, Input, Millis, Output};
pub use crate::redact::{redact_input, redact_pool};

/// The format of a log, in its first line's `log`.
pub const FORMAT: &str = "haplan-runtime/v1";

/// Something a log can be flushed to disk on.
pub trait Durable: Write {
    /// Returns once what was written is on disk (`fsync` for a file).
    fn sync(&mut self) -> io::Result<()>;
}

impl Durable for File {
    fn sync(&mut self) -> io::Result<()> {
        self.sync_data()
    }
}

impl Durable for &mut Vec<u8> {
    fn sync(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Durable for Vec<u8> {
    fn sync(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Appends steps to a log.
#[derive(Debug)]
pub struct Journal<W: Durable> {
    w: W,
    seq: u64,
    /// Steps since the first line (the start or the snapshot).
    tail: u64,
    /// Unix time: each step line also gets its `time` in UTC (RFC 3339).
    wall: bool,
}

impl<W: Durable> Journal<W> {
    /// A new log whose first line starts it for `pool` at time `at`.
    pub fn start(w: W, pool: &Value, at: Millis) -> io::Result<Journal<W>> {
        Journal::begin(w, pool, at, &[])
    }

    /// [`Journal::start`] for a runtime built with checks that did not
    /// decide within their budget (the `undecided` of
    /// [`Runtime::new`]'s output): the first line keeps them, and a replay
    /// takes their outcome ([`Runtime::replay_new`]).
    pub fn begin(
        mut w: W,
        pool: &Value,
        at: Millis,
        undecided: &[Undecided],
    ) -> io::Result<Journal<W>> {
        let mut line = json!({"log": FORMAT, "at": at, "pool": redact_pool(pool)});
        if !undecided.is_empty() {
            line["undecided"] = json!(undecided);
        }
        writeln!(w, "{line}")?;
        w.flush()?;
        w.sync()?;
        Ok(Journal {
            w,
            seq: 0,
            tail: 0,
            wall: false,
        })
    }

    /// A compacted log: its first line a snapshot of `rt`, which has taken
    /// `seq` steps so far.
    pub fn snapshot(mut w: W, rt: &Runtime, seq: u64) -> io::Result<Journal<W>> {
        let state = rt.state_json();
        let line = json!({"log": FORMAT, "at": rt.now(), "seq": seq,
                          "pool": state["pool"], "snapshot": state});
        writeln!(w, "{line}")?;
        w.flush()?;
        w.sync()?;
        Ok(Journal {
            w,
            seq,
            tail: 0,
            wall: false,
        })
    }

    /// Goes on with a log that already has `steps` steps.
    pub fn resume(w: W, steps: u64) -> Journal<W> {
        Journal {
            w,
            seq: steps,
            tail: 0,
            wall: false,
        }
    }

    /// Times are Unix milliseconds: every step line also carries its
    /// `time` in UTC, for people reading the log.
    pub fn wall_clock(mut self, on: bool) -> Journal<W> {
        self.wall = on;
        self
    }

    /// Steps written since the first line of this log.
    pub fn tail_steps(&self) -> u64 {
        self.tail
    }

    /// Writes one step and flushes it to disk.
    pub fn append(&mut self, input: &Input, output: &Output) -> io::Result<()> {
        self.seq += 1;
        let redacted;
        let input = if matches!(input.event, Event::HostAdded { .. }) {
            redacted = redact_input(input);
            &redacted
        } else {
            input
        };
        let line = StepRef {
            seq: self.seq,
            time: self.wall.then(|| utc(input.at)),
            input,
            output,
        };
        self.tail += 1;
        serde_json::to_writer(&mut self.w, &line).map_err(io::Error::other)?;
        self.w.write_all(b"\n")?;
        self.w.flush()?;
        self.w.sync()
    }

    /// Steps taken since the runtime started (the number of the last one).
    pub fn steps(&self) -> u64 {
        self.seq
    }

    /// What the log is written to.
    pub fn get_ref(&self) -> &W {
        &self.w
    }

    /// What the log is written to, the journal given up.
    pub fn into_inner(self) -> W {
        self.w
    }
}

#[derive(serde::Serialize)]
struct StepRef<'a> {
    seq: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    time: Option<String>,
    input: &'a Input,
    output: &'a Output,
}

/// Unix milliseconds as an RFC 3339 UTC time (`2025-01-31T12:00:00.250Z`).
pub fn utc(ms: Millis) -> String {
    let secs = ms / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        ms % 1000
    )
}

#[derive(serde::Deserialize)]
struct StepLine {
    #[allow(dead_code)]
    seq: u64,
    input: Input,
    output: Output,
}

/// Why a log cannot be replayed.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// The log could not be read.
    #[error("reading the log: {0}")]
    Io(#[from] io::Error),
    /// A line that is not a log line (bad JSON, a missing field, another
    /// format).
    #[error("line {line}: {msg}")]
    Bad {
        /// The line, from 1.
        line: usize,
        /// What is wrong with it.
        msg: String,
    },
    /// Replaying a step gave other outputs than the log holds: the log was
    /// not written by this runtime (or this version of it), so it is not
    /// trusted.
    #[error("line {line}: the replayed step differs from the logged one ({what})")]
    Diverged {
        /// The line, from 1.
        line: usize,
        /// The first difference.
        what: String,
    },
    /// The runtime refused a logged step's input.
    #[error("line {line}: {source}")]
    Refused {
        /// The line, from 1.
        line: usize,
        /// Why the runtime refused it.
        source: RuntimeError,
    },
}

/// A runtime rebuilt from its log, and how many steps the log holds.
pub struct Replayed {
    /// The runtime in the state the log leaves it.
    pub runtime: Runtime,
    /// Steps taken since the runtime started (a snapshot counts those
    /// before it).
    pub steps: u64,
    /// Lines of the log (its first line included).
    pub lines: usize,
    /// Whether a last, unfinished line was dropped.
    pub truncated: bool,
}

/// Rebuilds the runtime's state from its log, checking every step.
pub fn replay<R: BufRead>(r: R) -> Result<Replayed, LogError> {
    let mut lines: Vec<String> = Vec::new();
    let mut text = String::new();
    let mut r = r;
    r.read_to_string(&mut text)?;
    let complete = text.ends_with('\n');
    lines.extend(text.lines().map(str::to_string));
    let mut truncated = false;
    if !complete && !lines.is_empty() {
        lines.pop(); // cut short by a crash: never acted on
        truncated = true;
    }
    let line_count = lines.len();
    let mut it = lines.into_iter().enumerate();
    let Some((_, first)) = it.next() else {
        return Err(LogError::Bad {
            line: 1,
            msg: "the log is empty".into(),
        });
    };
    let head: Value = serde_json::from_str(&first).map_err(|e| LogError::Bad {
        line: 1,
        msg: e.to_string(),
    })?;
    if head.get("log").and_then(Value::as_str) != Some(FORMAT) {
        return Err(LogError::Bad {
            line: 1,
            msg: format!("not a {FORMAT} log"),
        });
    }
    let at = head.get("at").and_then(Value::as_u64).unwrap_or(0);
    let (mut runtime, mut steps) = match head.get("snapshot") {
        Some(state) => {
            let rt =
                Runtime::restore(state).map_err(|source| LogError::Refused { line: 1, source })?;
            (rt, head.get("seq").and_then(Value::as_u64).unwrap_or(0))
        }
        None => {
            let pool = head.get("pool").cloned().unwrap_or(Value::Null);
            let undecided: Vec<Undecided> = match head.get("undecided") {
                Some(u) => serde_json::from_value(u.clone()).map_err(|e| LogError::Bad {
                    line: 1,
                    msg: e.to_string(),
                })?,
                None => Vec::new(),
            };
            let (rt, _) = Runtime::replay_new(pool, at, &undecided)
                .map_err(|source| LogError::Refused { line: 1, source })?;
            (rt, 0)
        }
    };
    for (i, line) in it {
        let n = i + 1;
        let StepLine {
            input,
            output: logged,
            ..
        } = serde_json::from_str(&line).map_err(|e| LogError::Bad {
            line: n,
            msg: e.to_string(),
        })?;
        // Checks that ran out of their budget take their logged outcome.
        let out = runtime
            .replay_step(&input, &logged.undecided)
            .map_err(|source| LogError::Refused { line: n, source })?;
        if out != logged {
            let what = if out.actions != logged.actions {
                "actions"
            } else if out.alerts != logged.alerts {
                "alerts"
            } else if out.notes != logged.notes {
                "notes"
            } else {
                "undecided checks"
            };
            return Err(LogError::Diverged {
                line: n,
                what: what.into(),
            });
        }
        steps += 1;
    }
    Ok(Replayed {
        runtime,
        steps,
        lines: line_count,
        truncated,
    })
}

fn lines_after(rep: &Replayed) -> usize {
    rep.lines + 1
}

/// A runtime back from a crash: its log replayed, then told that it
/// restarted ([`Event::Restarted`]): fences in flight are sent again and
/// VMs whose start was in flight are looked for before anything else
/// happens to them. The caller appends the returned step to the log before
/// performing its actions.
pub fn recover<R: BufRead>(r: R, at: Millis) -> Result<(Replayed, Input, Output), LogError> {
    let mut rep = replay(r)?;
    let input = Input {
        at,
        event: Event::Restarted,
    };
    let line = lines_after(&rep);
    let out = rep
        .runtime
        .handle(&input)
        .map_err(|source| LogError::Refused { line, source })?;
    Ok((rep, input, out))
}
