//! The ranges of every numeric option a caller gives (the command line's
//! flags, the Python package's keyword arguments, the C ABI's option
//! objects), defined once so that every surface accepts and rejects the
//! same values with the same message: `threads: must be from 1 to 1024,
//! found 4000`.

use std::fmt;

/// An inclusive range of whole numbers an option may take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range {
    /// The option's name as the command line spells it, without dashes.
    pub name: &'static str,
    /// The least value allowed.
    pub min: u64,
    /// The greatest value allowed.
    pub max: u64,
}

/// Worker threads of a search. The answer never depends on it; beyond a
/// thousand, threads only cost memory and start-up time.
pub const THREADS: Range = Range {
    name: "threads",
    min: 1,
    max: 1024,
};

/// K, host failures to tolerate: as `ha.host_failures_to_tolerate`.
pub const TOLERATE: Range = Range {
    name: "tolerate",
    min: 0,
    max: u32::MAX as u64,
};

/// Whole seconds (`--boot-time`, `--fence-time`): as the pool format's
/// settings in seconds.
pub const WHOLE_SECONDS: Range = Range {
    name: "seconds",
    min: 0,
    max: u32::MAX as u64,
};

/// VM starts in flight at once (`timing --concurrency`).
pub const CONCURRENCY: Range = Range {
    name: "concurrency",
    min: 1,
    max: u32::MAX as u64,
};

/// Failure sets `timing` enumerates before it searches greedily.
pub const SET_LIMIT: Range = Range {
    name: "set-limit",
    min: 1,
    max: 1_000_000_000,
};

/// A time limit in seconds (a number, fractions allowed): about 31 years.
pub const MAX_TIME_LIMIT_S: f64 = 1e9;

/// A value out of its range (or not a whole number).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{name}: must be from {min} to {max}, found {found}")]
pub struct OutOfRange {
    /// The option's name.
    pub name: &'static str,
    /// The least value allowed.
    pub min: u64,
    /// The greatest value allowed.
    pub max: u64,
    /// The value as given.
    pub found: String,
}

impl Range {
    /// `value` when it lies in the range.
    pub fn check<T>(&self, value: T) -> Result<T, OutOfRange>
    where
        T: Copy + TryInto<u64> + fmt::Display,
    {
        match value.try_into() {
            Ok(v) if (self.min..=self.max).contains(&v) => Ok(value),
            _ => Err(self.error(value)),
        }
    }

    /// Reads a whole number in the range from text (a flag's value).
    pub fn parse(&self, text: &str) -> Result<u64, OutOfRange> {
        match text.trim().parse::<u64>() {
            Ok(v) if (self.min..=self.max).contains(&v) => Ok(v),
            _ => Err(self.error(text)),
        }
    }

    /// The same range under another name (`--boot-time` for seconds).
    pub const fn named(self, name: &'static str) -> Range {
        Range { name, ..self }
    }

    /// The error for `found`, a value out of the range.
    pub fn error(&self, found: impl fmt::Display) -> OutOfRange {
        OutOfRange {
            name: self.name,
            min: self.min,
            max: self.max,
            found: found.to_string(),
        }
    }
}

/// Checks a time limit in seconds: finite, from 0 to [`MAX_TIME_LIMIT_S`].
pub fn time_limit(seconds: f64) -> Result<std::time::Duration, String> {
    if seconds.is_finite() && (0.0..=MAX_TIME_LIMIT_S).contains(&seconds) {
        Ok(std::time::Duration::from_secs_f64(seconds))
    } else {
        Err(format!(
            "time_limit: must be a number of seconds from 0 to {MAX_TIME_LIMIT_S:.0}, found {seconds}"
        ))
    }
}

/// The part of a time limit `limit` kept for the steps that run after the
/// search's deadline whatever the time (making and writing the answer,
/// the set-up of a check that then stops at once), for an input of
/// `input_bytes`: a twentieth of the limit (at most 1 s) and 150 ms per
/// MB (answers and set-ups grow with the pool), never more than a quarter
/// of the limit. The command line and the Python package both keep it.
pub fn answer_reserve(limit: std::time::Duration, input_bytes: usize) -> std::time::Duration {
    use std::time::Duration;
    let per_mb = Duration::from_millis(150).mul_f64(input_bytes as f64 / 1e6);
    ((limit / 20).min(Duration::from_secs(1)) + per_mb).min(limit / 4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_reserve_grows_with_the_input_within_a_quarter_of_the_limit() {
        use std::time::Duration;
        let s = Duration::from_secs_f64;
        // A twentieth of the limit, at most 1 s, and 150 ms per MB.
        assert_eq!(answer_reserve(s(10.0), 0), s(0.5));
        assert_eq!(answer_reserve(s(100.0), 0), s(1.0));
        assert_eq!(answer_reserve(s(10.0), 12_000_000), s(2.3));
        // Never more than a quarter of the limit.
        assert_eq!(answer_reserve(s(5.0), 12_000_000), s(1.25));
        assert_eq!(answer_reserve(Duration::ZERO, 1 << 30), Duration::ZERO);
    }

    #[test]
    fn ranges_accept_their_ends_and_reject_past_them() {
        assert_eq!(THREADS.check(1usize), Ok(1));
        assert_eq!(THREADS.check(1024usize), Ok(1024));
        assert!(THREADS.check(0usize).is_err());
        assert!(THREADS.check(1025usize).is_err());
        assert!(THREADS.check(-1i64).is_err());
        assert_eq!(
            THREADS.check(4000usize).unwrap_err().to_string(),
            "threads: must be from 1 to 1024, found 4000"
        );
        assert_eq!(TOLERATE.parse("4294967295"), Ok(u32::MAX as u64));
        assert!(TOLERATE.parse("4294967296").is_err());
        assert!(TOLERATE.parse("-1").is_err());
        assert!(TOLERATE.parse("x").is_err());
        assert!(time_limit(f64::NAN).is_err());
        assert!(time_limit(-0.5).is_err());
        assert!(time_limit(2e9).is_err());
        assert_eq!(time_limit(1.5), Ok(std::time::Duration::from_millis(1500)));
    }
}
