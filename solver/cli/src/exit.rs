//! The exit codes of every command, a contract (docs/cli.md): below the
//! modules that return them (`cli`, `fleet`, `github`).

/// The pool meets what was asked (verdict `ok`, `drainable`).
pub const EXIT_OK: i32 = 0;
/// It does not, and that is proved (verdict `not_ok`, `blocked`).
pub const EXIT_NOT_OK: i32 = 1;
/// Bad input or usage; nothing was answered.
pub const EXIT_BAD_INPUT: i32 = 2;
/// A budget ran out before the answer was proved either way (`undecided`).
pub const EXIT_UNDECIDED: i32 = 3;
