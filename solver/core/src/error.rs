//! Errors. An overcommitted pool is a result, never an error: these are for
//! input that cannot be read or a question that cannot be asked.

use std::fmt;

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

/// A rejected pool file: every problem found (the first [`MAX_PROBLEMS`],
/// and how many more). Problems of single values come first, in document
/// order, then those between values (duplicate names, unknown hosts), also
/// in document order.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct PoolError {
    /// Every problem found, up to the limit ([`crate::strict`]), in the order
    /// above.
    pub problems: Vec<Problem>,
    /// Problems found beyond those listed.
    pub omitted: usize,
}

impl PoolError {
    /// An error of exactly these problems.
    pub fn new(problems: Vec<Problem>) -> Self {
        Self::with_omitted(problems, 0)
    }

    /// `problems` and `omitted` more that were only counted.
    pub fn with_omitted(problems: Vec<Problem>, omitted: usize) -> Self {
        debug_assert!(!problems.is_empty());
        let (problems, omitted) = capped(problems, omitted);
        PoolError { problems, omitted }
    }
}

impl fmt::Display for PoolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_problems(f, "pool", &self.problems, self.omitted)
    }
}

/// Rejected what-if changes (`whatif`): every problem, each named by its
/// path in the changes file (`changes[2].name: unknown VM "x"`). Nothing of
/// the changes is applied.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ChangesError {
    /// Every problem found, each at its change.
    pub problems: Vec<Problem>,
    /// Problems found beyond those listed.
    pub omitted: usize,
}

impl ChangesError {
    /// An error of exactly these problems.
    pub fn new(problems: Vec<Problem>) -> Self {
        Self::with_omitted(problems, 0)
    }

    /// `problems` and `omitted` more that were only counted.
    pub fn with_omitted(problems: Vec<Problem>, omitted: usize) -> Self {
        debug_assert!(!problems.is_empty());
        let (problems, omitted) = capped(problems, omitted);
        ChangesError { problems, omitted }
    }
}

impl fmt::Display for ChangesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_problems(f, "changes", &self.problems, self.omitted)
    }
}

/// A rejected VM shape (`haplan headroom --vm`): every problem, each named
/// by its path (`--vm.memory_mib: must not be negative, found -1`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ShapeError {
    /// Every problem found, each at its path (`--vm.vcpus`).
    pub problems: Vec<Problem>,
    /// Problems found beyond those listed.
    pub omitted: usize,
}

impl ShapeError {
    /// An error of exactly these problems.
    pub fn new(problems: Vec<Problem>) -> Self {
        debug_assert!(!problems.is_empty());
        let (problems, omitted) = capped(problems, 0);
        ShapeError { problems, omitted }
    }
}

impl fmt::Display for ShapeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_problems(f, "VM shape", &self.problems, self.omitted)
    }
}

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
