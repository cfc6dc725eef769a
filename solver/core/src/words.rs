//! How the core writes names and lists in the sentences of its answers
//! and messages: names quoted so that they print on one line as what they
//! are, lists in words. The lowest module of the crate (it uses none of the
//! others), so that errors, parsing and the questions can all use it.

/// The first character of `s` that no name may contain: a control
/// character (C0, DEL, C1: a line feed, a carriage return, an escape), a
/// line or paragraph separator, or a bidirectional override or isolate
/// (which reorders how the rest of a line is displayed).
pub fn forbidden_char(s: &str) -> Option<char> {
    s.chars().find(|&c| {
        c.is_control()
            || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    })
}

/// `s` as a JSON string literal: in double quotes, with quotes, backslashes
/// and control characters escaped (`"a\nb"`), separators and bidirectional
/// controls as `\u` escapes, so that it prints on one line as what it is.
pub fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if forbidden_char(c.encode_utf8(&mut [0; 4])).is_some() => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `a`, `a and b`, `a, b and c`.
pub(crate) fn and_list(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [one] => one.to_string(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}
