//! Strict reading of JSON text that may come from anyone (a pull request,
//! an importer, a caller of the C ABI): every input haplan reads is parsed
//! here, so that a file means exactly one thing.
//!
//! - **Duplicate keys are an error.** JSON leaves them undefined and
//!   `serde_json` keeps the last one, so a pool file with a second
//!   `"ha": {"host_failures_to_tolerate": 0}` or `"vms": []` at its end would
//!   otherwise be read as a different pool than the one a reviewer reads at
//!   its top. Both positions are reported.
//! - **Names are printable.** A name with a control character (a line feed,
//!   a carriage return, an escape sequence) could forge lines of a report or
//!   of a CI log; [`forbidden_char`] says which characters no name may hold.
//! - **Echoed input is escaped.** A message that repeats what the input
//!   said quotes it with [`quoted`] (JSON string syntax), so even rejected
//!   input prints on one line, as what it is.

use std::borrow::Cow;
use std::collections::HashMap;

use serde_json::Value;

use crate::error::Problem;
pub use crate::words::{forbidden_char, quoted};

/// Parses `text` as one JSON document and rejects duplicate keys in any
/// object. `path` prefixes the JSON paths of problems (empty for a file).
/// Syntax errors carry line and column; duplicate keys both positions.
pub fn parse_json(text: &str, path: &str) -> Result<Value, Vec<Problem>> {
    let value: Value = serde_json::from_str(text).map_err(|e| {
        let msg = e.to_string();
        let msg = msg.rfind(" at line ").map_or(msg.as_str(), |i| &msg[..i]);
        vec![Problem {
            path: path.to_string(),
            message: format!("invalid JSON: {msg}"),
            line: Some(e.line()),
            // serde_json says column 0 at the start of a line; columns are 1-based.
            column: Some(e.column().max(1)),
        }]
    })?;
    let duplicates = duplicate_keys(text, path);
    if duplicates.is_empty() {
        Ok(value)
    } else {
        Err(duplicates)
    }
}

/// `bytes` as text: UTF-8, as the formats require. Invalid UTF-8 is a
/// problem at the line and column (in bytes) of the first bad byte.
pub fn utf8(bytes: &[u8]) -> Result<&str, Problem> {
    std::str::from_utf8(bytes).map_err(|e| {
        let good = &bytes[..e.valid_up_to()];
        let line = good.iter().filter(|&&b| b == b'\n').count() + 1;
        let line_start = good.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        Problem {
            path: String::new(),
            message: format!(
                "invalid UTF-8 (byte 0x{:02x} at offset {}): the file must be UTF-8 text",
                bytes[e.valid_up_to()],
                e.valid_up_to()
            ),
            line: Some(line),
            column: Some(good.len() - line_start + 1),
        }
    })
}

/// The problem with a name holding a forbidden character, if it has one.
pub fn name_problem(s: &str) -> Option<String> {
    forbidden_char(s).map(|c| {
        format!(
            "{} contains the control character U+{:04X}; names must be printable",
            quoted(s),
            c as u32
        )
    })
}

enum Frame<'a> {
    Object {
        /// Each key seen, with the line and column where it starts.
        keys: HashMap<Cow<'a, str>, (usize, usize)>,
        /// The key whose value comes next.
        key: Option<Cow<'a, str>>,
    },
    Array {
        index: usize,
    },
}

/// The JSON path of the value the innermost frame of `stack` is at, with
/// `last` as its key (built only for a problem: most files have none).
fn path_of(root: &str, stack: &[Frame], last: &str) -> String {
    let mut path = root.to_string();
    for frame in &stack[..stack.len() - 1] {
        match frame {
            Frame::Object { key, .. } => path = join(&path, key.as_deref().unwrap_or("")),
            Frame::Array { index } => path = format!("{path}[{index}]"),
        }
    }
    join(&path, last)
}

/// Every duplicate key of `text`, which must be valid JSON (parse it
/// first), each with both positions. One pass, no recursion, no allocation
/// per value (keys are borrowed from `text` unless they hold escapes).
pub fn duplicate_keys(text: &str, root: &str) -> Vec<Problem> {
    let bytes = text.as_bytes();
    let mut problems = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let (mut line, mut line_start) = (1usize, 0usize);
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => {
                line += 1;
                line_start = i + 1;
            }
            b'{' => stack.push(Frame::Object {
                keys: HashMap::new(),
                key: None,
            }),
            b'[' => stack.push(Frame::Array { index: 0 }),
            b'}' | b']' => {
                stack.pop();
            }
            b',' => match stack.last_mut() {
                Some(Frame::Array { index }) => *index += 1,
                Some(Frame::Object { key, .. }) => *key = None,
                None => {}
            },
            b'"' => {
                let start = i;
                i += 1;
                let mut escaped = false;
                while i < bytes.len() && bytes[i] != b'"' {
                    if bytes[i] == b'\\' {
                        escaped = true;
                        i += 1;
                    }
                    i += 1;
                }
                // A key is a string in an object where no key is pending.
                let pending = matches!(stack.last(), Some(Frame::Object { key: None, .. }));
                if pending {
                    let raw = &text[start..=i.min(bytes.len() - 1)];
                    let name: Cow<str> = if escaped {
                        Cow::Owned(serde_json::from_str::<String>(raw).unwrap_or_default())
                    } else {
                        Cow::Borrowed(&raw[1..raw.len() - 1])
                    };
                    // In bytes, as serde_json counts syntax errors' columns
                    // (and in constant time: a file may be one long line).
                    let column = start - line_start + 1;
                    let first = match stack.last() {
                        Some(Frame::Object { keys, .. }) => keys.get(&name).copied(),
                        _ => None,
                    };
                    if let Some((l0, c0)) = first {
                        problems.push(Problem {
                            path: path_of(root, &stack, &name),
                            message: format!(
                                "duplicate key {} (first at line {l0}, column {c0}): \
                                 JSON readers disagree on which one counts",
                                quoted(&name)
                            ),
                            line: Some(line),
                            column: Some(column),
                        });
                    }
                    if let Some(Frame::Object { keys, key }) = stack.last_mut() {
                        keys.entry(name.clone()).or_insert((line, column));
                        *key = Some(name);
                    }
                }
            }
            _ => {}
        }
        i += 1;
    }
    problems
}

/// `path` followed by the object key `key`, as problems name paths:
/// `hosts[0].name`, or `labels["rack id"]` for a key that is not a plain word.
pub(crate) fn join(path: &str, key: &str) -> String {
    let simple = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    match (path.is_empty(), simple) {
        (true, true) => key.to_string(),
        (false, true) => format!("{path}.{key}"),
        (_, false) => format!("{path}[{}]", Value::String(key.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_keys_are_reported_with_both_positions_and_the_path() {
        let text = "{\n  \"a\": 1,\n  \"b\": {\"x\": [1, {\"y\": 2, \"y\": 3}]},\n  \"a\": 2\n}";
        let e = parse_json(text, "").unwrap_err();
        assert_eq!(e.len(), 2, "{e:?}");
        assert_eq!(e[0].path, "b.x[1].y");
        assert_eq!((e[0].line, e[0].column), (Some(3), Some(27)));
        assert!(
            e[0].message.contains("first at line 3, column 19"),
            "{}",
            e[0].message
        );
        assert_eq!(e[1].path, "a");
        assert_eq!((e[1].line, e[1].column), (Some(4), Some(3)));
        assert!(
            e[1].message.contains("first at line 2, column 3"),
            "{}",
            e[1].message
        );
    }

    #[test]
    fn invalid_utf8_is_a_problem_at_its_place() {
        let p = utf8(b"{\n  \"name\": \"a\xff\"}").unwrap_err();
        assert_eq!((p.line, p.column), (Some(2), Some(13)));
        assert!(
            p.message
                .starts_with("invalid UTF-8 (byte 0xff at offset 14)"),
            "{}",
            p.message
        );
        assert_eq!(utf8("h\u{e9}".as_bytes()), Ok("h\u{e9}"));
    }

    #[test]
    fn escaped_spellings_of_one_key_are_the_same_key() {
        let e = parse_json(r#"{"ab": 1, "a\u0062": 2}"#, "").unwrap_err();
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].path, "ab");
    }

    #[test]
    fn keys_in_sibling_objects_and_string_values_are_not_duplicates() {
        let text = r#"[{"a": "a", "b": "{\"a\": 1}"}, {"a": 2, "x": ["a", "a"]}]"#;
        assert!(parse_json(text, "").is_ok());
        // A value that is a string equal to a key is not a key either.
        assert!(parse_json(r#"{"a": "b", "b": "a"}"#, "").is_ok());
    }

    #[test]
    fn names_with_control_characters_are_flagged_and_quoted_on_one_line() {
        assert_eq!(forbidden_char("h1"), None);
        assert_eq!(forbidden_char("ok\u{1b}[2K"), Some('\u{1b}'));
        assert_eq!(forbidden_char("a\rOK: b"), Some('\r'));
        assert_eq!(forbidden_char("x\u{202e}y"), Some('\u{202e}'));
        assert_eq!(forbidden_char("x\u{85}"), Some('\u{85}'));
        assert_eq!(forbidden_char("héllo wörld"), None);
        let q = quoted("a\nOK: \u{1b}[0m\"\u{2028}");
        assert_eq!(q, r#""a\nOK: \u001b[0m\"\u2028""#);
        assert!(!q.contains('\n'));
    }
}
