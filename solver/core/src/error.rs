//! Errors. An overcommitted pool is a result, never an error: these are for
//! input that cannot be read or a question that cannot be asked.

use std::fmt;

/// One problem in a pool file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// JSON path of the offending value, e.g. `vms[3].demand.memory_mib`;
    /// empty for the document itself.
    pub path: String,
    pub message: String,
    /// 1-based line and column, for syntax errors.
    pub line: Option<usize>,
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

/// A rejected pool file: every problem found. Problems of single values
/// come first, in document order, then those between values (duplicate
/// names, unknown hosts), also in document order.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct PoolError {
    pub problems: Vec<Problem>,
}

impl PoolError {
    pub fn new(problems: Vec<Problem>) -> Self {
        debug_assert!(!problems.is_empty());
        PoolError { problems }
    }
}

impl fmt::Display for PoolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_problems(f, "pool", &self.problems)
    }
}

/// Rejected what-if changes (`whatif`): every problem, each named by its
/// path in the changes file (`changes[2].name: unknown VM "x"`). Nothing of
/// the changes is applied.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ChangesError {
    pub problems: Vec<Problem>,
}

impl ChangesError {
    pub fn new(problems: Vec<Problem>) -> Self {
        debug_assert!(!problems.is_empty());
        ChangesError { problems }
    }
}

impl fmt::Display for ChangesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_problems(f, "changes", &self.problems)
    }
}

/// A rejected VM shape (`haplan headroom --vm`): every problem, each named
/// by its path (`--vm.memory_mib: must not be negative, found -1`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ShapeError {
    pub problems: Vec<Problem>,
}

impl ShapeError {
    pub fn new(problems: Vec<Problem>) -> Self {
        debug_assert!(!problems.is_empty());
        ShapeError { problems }
    }
}

impl fmt::Display for ShapeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_problems(f, "VM shape", &self.problems)
    }
}

/// `invalid <what> (N problems)`, then one indented line per problem.
fn write_problems(f: &mut fmt::Formatter<'_>, what: &str, problems: &[Problem]) -> fmt::Result {
    let n = problems.len();
    write!(
        f,
        "invalid {what} ({n} problem{})",
        if n == 1 { "" } else { "s" }
    )?;
    for p in problems {
        write!(f, "\n  {p}")?;
    }
    Ok(())
}

/// A question that does not fit the pool (the pool itself is valid).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    #[error("unknown host \"{0}\"")]
    UnknownHost(String),
    #[error("host \"{0}\" is in maintenance: it is not a failure candidate")]
    HostInMaintenance(String),
    #[error("host \"{0}\" is already in maintenance: only a host that is up can be drained")]
    AlreadyInMaintenance(String),
    #[error("host \"{0}\" is down: only a host that is up can be drained")]
    HostDown(String),
}
