//! Errors. An overcommitted pool is a result, never an error: these are for
//! input that cannot be read or a question that cannot be asked.

use std::fmt;
use std::marker::PhantomData;

use crate::words::quoted;

/// One problem in a pool file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// JSON path of the offending value, e.g. `vms[3].demand.memory_mib`;
    /// empty for the document itself.
    pub path: String,
    /// What is wrong with it, in a sentence.
    pub message: String,
    /// The 1-based line, for syntax errors.
    pub line: Option<usize>,
    /// The 1-based column, for syntax errors.
    pub column: Option<usize>,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let (Some(line), Some(column)) = (self.line, self.column) {
            write!(f, "line {line}, column {column}: ")?;
        }
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)
    }
}

/// The most problems an error lists; the rest are only counted
/// (`omitted`), so that a file with a million mistakes gives a short
/// message, not a hundred megabytes of them.
pub const MAX_PROBLEMS: usize = 50;

/// The first [`MAX_PROBLEMS`] of `problems`, and how many more there were.
fn capped(mut problems: Vec<Problem>, omitted: usize) -> (Vec<Problem>, usize) {
    let extra = problems.len().saturating_sub(MAX_PROBLEMS);
    problems.truncate(MAX_PROBLEMS);
    (problems, omitted + extra)
}

/// What kind of input a [`Rejected`] error is about: the noun its message
/// uses (`invalid pool (2 problems)`) and the name it shows as in `Debug`.
pub trait Input {
    /// The input as the message names it: `pool`, `changes`, `VM shape`.
    const NOUN: &'static str;
    /// The name of the error type, for `Debug`.
    const NAME: &'static str;
}

/// The input of a [`PoolError`]: a pool file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PoolInput {}

impl Input for PoolInput {
    const NOUN: &'static str = "pool";
    const NAME: &'static str = "PoolError";
}

/// The input of a [`ChangesError`]: what-if changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangesInput {}

impl Input for ChangesInput {
    const NOUN: &'static str = "changes";
    const NAME: &'static str = "ChangesError";
}

/// The input of a [`ShapeError`]: the VM shape of `headroom`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShapeInput {}

impl Input for ShapeInput {
    const NOUN: &'static str = "VM shape";
    const NAME: &'static str = "ShapeError";
}

/// Rejected input of kind `K`: every problem found (the first
/// [`MAX_PROBLEMS`], and how many more). Used through its aliases
/// [`PoolError`], [`ChangesError`] and [`ShapeError`].
#[derive(Clone, PartialEq, Eq)]
pub struct Rejected<K: Input> {
    /// Every problem found, up to [`MAX_PROBLEMS`], each at its path.
    pub problems: Vec<Problem>,
    /// Problems found beyond those listed.
    pub omitted: usize,
    kind: PhantomData<K>,
}

impl<K: Input> Rejected<K> {
    /// An error of exactly these problems.
    pub fn new(problems: Vec<Problem>) -> Self {
        Self::with_omitted(problems, 0)
    }

    /// `problems` and `omitted` more that were only counted.
    pub fn with_omitted(problems: Vec<Problem>, omitted: usize) -> Self {
        debug_assert!(!problems.is_empty());
        let (problems, omitted) = capped(problems, omitted);
        Rejected {
            problems,
            omitted,
            kind: PhantomData,
        }
    }
}

impl<K: Input> fmt::Display for Rejected<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_problems(f, K::NOUN, &self.problems, self.omitted)
    }
}

impl<K: Input> fmt::Debug for Rejected<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(K::NAME)
            .field("problems", &self.problems)
            .field("omitted", &self.omitted)
            .finish()
    }
}

impl<K: Input> std::error::Error for Rejected<K> {}

/// A rejected pool file. Problems of single values come first, in document
/// order, then those between values (duplicate names, unknown hosts), also
/// in document order.
pub type PoolError = Rejected<PoolInput>;

/// Rejected what-if changes (`whatif`): every problem, each named by its
/// path in the changes file (`changes[2].name: unknown VM "x"`). Nothing of
/// the changes is applied.
pub type ChangesError = Rejected<ChangesInput>;

/// A rejected VM shape (`haplan headroom --vm`): every problem, each named
/// by its path (`--vm.memory_mib: must not be negative, found -1`).
pub type ShapeError = Rejected<ShapeInput>;

/// `1,199,950`: a count with thousands separators.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `invalid <what> (N problems)`, then one indented line per problem, and
/// `and N more` when some were only counted.
fn write_problems(
    f: &mut fmt::Formatter<'_>,
    what: &str,
    problems: &[Problem],
    omitted: usize,
) -> fmt::Result {
    let n = problems.len() + omitted;
    write!(
        f,
        "invalid {what} ({} problem{})",
        thousands(n),
        if n == 1 { "" } else { "s" }
    )?;
    for p in problems {
        write!(f, "\n  {p}")?;
    }
    if omitted > 0 {
        write!(f, "\n  and {} more", thousands(omitted))?;
    }
    Ok(())
}

/// A question that does not fit the pool (the pool itself is valid).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// The name is no host of the pool.
    #[error("unknown host {}", quoted(.0))]
    UnknownHost(String),
    /// A host in maintenance was given as failing; it cannot fail.
    #[error("host {} is in maintenance: it is not a failure candidate", quoted(.0))]
    HostInMaintenance(String),
    /// The host to drain is in maintenance already.
    #[error("host {} is already in maintenance: only a host that is up can be drained", quoted(.0))]
    AlreadyInMaintenance(String),
    /// The host to drain is down.
    #[error("host {} is down: only a host that is up can be drained", quoted(.0))]
    HostDown(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(path: &str) -> Problem {
        Problem {
            path: path.into(),
            message: "must not be negative".into(),
            line: None,
            column: None,
        }
    }

    #[test]
    fn each_kind_names_its_input() {
        let one = vec![problem("a")];
        assert_eq!(
            PoolError::new(one.clone()).to_string(),
            "invalid pool (1 problem)\n  a: must not be negative"
        );
        assert_eq!(
            ChangesError::with_omitted(one.clone(), 1).to_string(),
            "invalid changes (2 problems)\n  a: must not be negative\n  and 1 more"
        );
        assert_eq!(
            ShapeError::new(vec![problem("--vm.vcpus"), problem("--vm.memory_mib")]).to_string(),
            "invalid VM shape (2 problems)\n  --vm.vcpus: must not be negative\n  \
             --vm.memory_mib: must not be negative"
        );
        let debug = format!("{:?}", ShapeError::new(one));
        assert!(debug.starts_with("ShapeError { problems: ["), "{debug}");
        assert!(debug.ends_with("], omitted: 0 }"), "{debug}");
    }

    #[test]
    fn problems_past_the_limit_are_counted() {
        let many: Vec<Problem> = (0..MAX_PROBLEMS + 3)
            .map(|i| problem(&i.to_string()))
            .collect();
        let e = PoolError::with_omitted(many, 1_000);
        assert_eq!(e.problems.len(), MAX_PROBLEMS);
        assert_eq!(e.omitted, 1_003);
        assert!(e.to_string().starts_with("invalid pool (1,053 problems)"));
        assert!(e.to_string().ends_with("\n  and 1,003 more"));
    }
}
