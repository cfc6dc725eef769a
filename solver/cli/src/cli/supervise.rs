//! The time limit of a whole run, and what a long run shows while it goes.
//!
//! `--time-limit` counts from the start of the process and covers reading
//! and validating the input, the set-up, the search and writing the answer.
//! The search stops by itself at the deadline (the core watches it through
//! `CheckOptions` and `Budget`) and the answer is then what was proved; the
//! deadline is the time limit less a reserve for the steps that run after
//! it whatever the time (writing the answer, the set-up of a check that
//! then stops at once), which grow with the input. What
//! cannot stop on its own (parsing a large file, the set-up of a large
//! pool) runs on a worker thread that this one waits for until a hard
//! deadline, a little after the time limit (within 10 % + 1 s of it): past
//! that the run ends undecided, with what had been proved by then on stderr,
//! and the worker is told to stop (the process ends with it).

use std::collections::HashMap;
use std::io::{IsTerminal, Read};
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use haplan::tolerance::{Phase, Progress, ProgressSnapshot};

use super::{CliError, Ctx, Reader};

/// An input read: its name to show and its text, or why it could not be read.
type InputText = Result<(String, String), CliError>;

/// The budget of one run.
pub(crate) struct Limits {
    /// When the process started: the time limit counts from there.
    pub(crate) start: Instant,
    pub(crate) time_limit: Option<Duration>,
    pub(crate) max_time: Option<Duration>,
    /// Show progress on stderr (when it is a terminal).
    pub(crate) show_progress: bool,
}

impl Limits {
    /// When the work stops (the search, then each step after it that can
    /// wait for the deadline: explanations, further checks): the time
    /// limit less a reserve for what runs after it whatever the time
    /// (writing the answer, the set-up of a check that then stops at once),
    /// which grows with the input: `input_bytes` read.
    fn deadline(&self, input_bytes: usize) -> Option<Instant> {
        self.time_limit
            .map(|l| self.start + l.saturating_sub(haplan::limits::answer_reserve(l, input_bytes)))
    }

    /// When the run ends whatever the worker is doing: the time limit plus
    /// 60 % of the 10 % + 1 s allowed past it (the rest is for writing the
    /// answer and ending the process).
    fn hard_deadline(&self) -> Option<Instant> {
        self.time_limit
            .map(|l| self.start + l + (l / 10 + Duration::from_secs(1)).mul_f64(0.6))
    }
}

/// How a supervised run ended.
pub(crate) enum Ended<T> {
    Done(T),
    /// The hard deadline passed first: why, and what was proved by then.
    TimedOut(String),
}

/// Reads the inputs (files, or standard input for `-`) here, then runs
/// `job` on a worker thread with them, until it ends or the hard deadline
/// passes.
pub(crate) fn run<T, F>(
    limits: &Limits,
    inputs: &[String],
    stdin: &mut dyn Read,
    job: F,
) -> Ended<T>
where
    T: Send + 'static,
    F: FnOnce(&mut Reader<'_>, &Ctx) -> T + Send + 'static,
{
    let hard = limits.hard_deadline();
    // Each input once, in order; a name given twice is read once.
    let mut texts: HashMap<String, (usize, InputText)> = HashMap::new();
    for name in inputs {
        if let Some((uses, _)) = texts.get_mut(name) {
            *uses += 1;
        } else {
            texts.insert(name.clone(), (1, super::read_text(name, stdin)));
        }
    }
    let input_bytes = texts
        .values()
        .map(|(uses, text)| uses * text.as_ref().map_or(0, |(_, t)| t.len()))
        .sum();
    let ctx = Ctx {
        deadline: limits.deadline(input_bytes),
        max_time: limits.max_time,
        cancel: Arc::new(AtomicBool::new(false)),
        progress: Arc::new(Progress::default()),
        loaded: Arc::new(AtomicBool::new(false)),
        answering: Arc::new(AtomicBool::new(false)),
    };
    if hard.is_some_and(|h| Instant::now() >= h) {
        return Ended::TimedOut(timed_out(limits, &ctx.progress.snapshot(), Stage::Reading));
    }
    let (cancel, progress) = (Arc::clone(&ctx.cancel), Arc::clone(&ctx.progress));
    let (loaded, answering) = (Arc::clone(&ctx.loaded), Arc::clone(&ctx.answering));
    let (tx, rx) = mpsc::sync_channel(1);
    let worker = std::thread::Builder::new()
        .name("haplan-run".to_string())
        .spawn(move || {
            let mut read = |name: &str| match texts.get_mut(name) {
                Some((uses, text)) if *uses > 1 => {
                    *uses -= 1;
                    text.clone()
                }
                Some(_) => texts.remove(name).expect("present").1,
                None => Err(format!("cannot read {name}: not an input of this command").into()),
            };
            let out = catch_unwind(AssertUnwindSafe(|| job(&mut read, &ctx)));
            // Nobody may be waiting any more (the deadline passed).
            let _ = tx.send(out);
        });
    if let Err(e) = worker {
        return Ended::TimedOut(format!("cannot start a worker thread: {e}"));
    }
    let mut display = Display::new(limits.show_progress, limits.start);
    loop {
        let now = Instant::now();
        let wait = match hard {
            Some(h) if now >= h => {
                cancel.store(true, Ordering::Relaxed);
                display.clear();
                let stage = if answering.load(Ordering::Relaxed) {
                    Stage::Writing
                } else if loaded.load(Ordering::Relaxed) {
                    Stage::Working
                } else {
                    Stage::Reading
                };
                return Ended::TimedOut(timed_out(limits, &progress.snapshot(), stage));
            }
            Some(h) => (h - now).min(Display::TICK),
            None => Display::TICK,
        };
        match rx.recv_timeout(wait) {
            Ok(Ok(value)) => {
                display.clear();
                return Ended::Done(value);
            }
            Ok(Err(panic)) => {
                display.clear();
                resume_unwind(panic)
            }
            Err(RecvTimeoutError::Timeout) => display.show(&progress.snapshot()),
            Err(RecvTimeoutError::Disconnected) => {
                display.clear();
                return Ended::TimedOut("the worker thread stopped without an answer".into());
            }
        }
    }
}

/// Where a command was when its time ran out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    /// Reading and validating its input.
    Reading,
    /// Working out its answer.
    Working,
    /// Writing the answer it has.
    Writing,
}

/// Why a run ended at its hard deadline, and what was proved by then.
fn timed_out(limits: &Limits, p: &ProgressSnapshot, stage: Stage) -> String {
    let limit = limits
        .time_limit
        .map(|l| format!("{} s", l.as_secs_f64()))
        .unwrap_or_default();
    let proved = (p.checks > 0).then_some(p);
    let (doing, proved) = if stage == Stage::Reading {
        ("reading and validating the input", None)
    } else if stage == Stage::Writing {
        ("writing the answer", proved)
    } else if p.checks == 0 {
        ("working out the answer", None)
    } else {
        match p.phase {
            Phase::SetUp => ("setting up a tolerance check", None),
            Phase::K | Phase::Max => ("searching failure sets", Some(p)),
            Phase::Done => ("writing the answer", Some(p)),
        }
    };
    let mut s = format!("the time limit of {limit} ran out while {doing}");
    match proved {
        Some(p) => {
            s += &format!(
                "; proved so far: the pool tolerates between {} and {} failures (K = {}); nothing was written",
                p.lower, p.upper, p.configured
            );
        }
        None if stage == Stage::Writing => s += ": nothing was written",
        None => s += ": nothing was proved",
    }
    s
}

/// The progress line on stderr, when it is a terminal and a run lasts.
struct Display {
    on: bool,
    start: Instant,
    bar: Option<indicatif::ProgressBar>,
}

impl Display {
    const TICK: Duration = Duration::from_millis(100);
    /// Runs shorter than this show nothing.
    const AFTER: Duration = Duration::from_millis(500);

    fn new(show: bool, start: Instant) -> Display {
        Display {
            on: show && std::io::stderr().is_terminal(),
            start,
            bar: None,
        }
    }

    fn show(&mut self, p: &ProgressSnapshot) {
        if !self.on || self.start.elapsed() < Self::AFTER {
            return;
        }
        let bar = self.bar.get_or_insert_with(|| {
            let bar = indicatif::ProgressBar::with_draw_target(
                None,
                indicatif::ProgressDrawTarget::stderr(),
            );
            bar.set_style(
                indicatif::ProgressStyle::with_template("{spinner} {elapsed:>4} {wide_msg}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
            );
            bar
        });
        bar.set_message(progress_words(p));
        bar.tick();
    }

    fn clear(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

/// One line of progress: which check, its bounds, its counts.
pub(crate) fn progress_words(p: &ProgressSnapshot) -> String {
    if p.checks == 0 {
        return "reading and validating the input".to_string();
    }
    let which = if p.checks > 1 {
        format!("check {}: ", p.checks)
    } else {
        String::new()
    };
    let counts = format!(
        "{} sets decided one by one, {} groups at once",
        p.sets, p.set_level
    );
    let bounds = format!("tolerates {}..={}", p.lower, p.upper);
    match p.phase {
        Phase::SetUp => format!("{which}setting up"),
        Phase::K => format!("{which}deciding K = {}: {bounds}; {counts}", p.configured),
        Phase::Max => {
            let k = if p.lower >= p.configured {
                "tolerated"
            } else {
                "not tolerated"
            };
            format!(
                "{which}K = {} {k}; the exact maximum: {bounds}; {counts}",
                p.configured
            )
        }
        Phase::Done => format!("{which}{bounds}; {counts}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            start: Instant::now(),
            time_limit: Some(Duration::from_secs(5)),
            max_time: None,
            show_progress: false,
        }
    }

    #[test]
    fn a_time_limit_says_where_a_command_without_a_check_was() {
        // `agility` runs no tolerance check: it was not "setting up".
        let none = Progress::default().snapshot();
        let said = |stage| timed_out(&limits(), &none, stage);
        assert_eq!(
            said(Stage::Reading),
            "the time limit of 5 s ran out while reading and validating the input: nothing was proved"
        );
        assert_eq!(
            said(Stage::Working),
            "the time limit of 5 s ran out while working out the answer: nothing was proved"
        );
        assert_eq!(
            said(Stage::Writing),
            "the time limit of 5 s ran out while writing the answer: nothing was written"
        );
    }

    #[test]
    fn a_time_limit_while_writing_a_checked_answer_gives_its_bounds() {
        let p = ProgressSnapshot {
            checks: 1,
            phase: Phase::Done,
            configured: 2,
            lower: 3,
            upper: 5,
            sets: 0,
            set_level: 0,
        };
        assert_eq!(
            timed_out(&limits(), &p, Stage::Writing),
            "the time limit of 5 s ran out while writing the answer; proved so far: the pool \
             tolerates between 3 and 5 failures (K = 2); nothing was written"
        );
    }
}
