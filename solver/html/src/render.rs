//! The template environment: the templates compiled into the crate, HTML
//! escaping for `.html` templates and Markdown escaping for `.md` ones, and
//! control characters made visible as U+FFFD in both.

use std::sync::OnceLock;

use minijinja::{AutoEscape, Environment, Error, UndefinedBehavior, Value};

const TEMPLATES: &[(&str, &str)] = &[
    ("style.css", include_str!("../templates/style.css")),
    ("base.html", include_str!("../templates/base.html")),
    ("macros.html", include_str!("../templates/macros.html")),
    ("report.html", include_str!("../templates/report.html")),
    ("diff.html", include_str!("../templates/diff.html")),
    ("fragment.html", include_str!("../templates/fragment.html")),
    ("check.md", include_str!("../templates/check.md")),
    ("diff.md", include_str!("../templates/diff.md")),
    ("report.md", include_str!("../templates/report.md")),
];

/// A name or a reason as it may be shown: every control character (C0, DEL,
/// C1) and every bidirectional override or isolate, which could make a
/// hostile name read as something else, becomes U+FFFD. Tabs and line
/// breaks are kept where `keep_breaks`.
pub fn visible(s: &str, keep_breaks: bool) -> std::borrow::Cow<'_, str> {
    let bad = |c: char| {
        (c.is_control() && !(keep_breaks && matches!(c, '\t' | '\n')))
            || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    if s.chars().any(bad) {
        s.chars()
            .map(|c| if bad(c) { '\u{fffd}' } else { c })
            .collect::<String>()
            .into()
    } else {
        s.into()
    }
}

/// Markdown (GitHub's) for text inside a line, a list item or a table
/// cell: every character with an inline meaning is backslash-escaped, `&`,
/// `<` and `>` become entities (GitHub would otherwise read HTML), line
/// breaks become U+FFFD, and a start that would open a block (`#`, `-`,
/// `+`, `=`, `1.`) is escaped too.
pub fn markdown_text(s: &str) -> String {
    let text = visible(s, false);
    let mut out = String::with_capacity(text.len() + 8);
    let digits = text.chars().take_while(char::is_ascii_digit).count();
    for (i, c) in text.chars().enumerate() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '#' | '-' | '+' | '=' if i == 0 => {
                out.push('\\');
                out.push(c);
            }
            '.' | ')' if i == digits && digits > 0 => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

/// Escapes what the templates print: HTML in `.html` templates (minijinja's
/// own escaping, after [`visible`]), Markdown in `.md` ones.
fn formatter(
    out: &mut minijinja::Output,
    state: &mut minijinja::State,
    value: &Value,
) -> Result<(), Error> {
    if value.is_safe() {
        return minijinja::escape_formatter(out, state, value);
    }
    let text = match value.as_str() {
        Some(s) => s.to_string(),
        None if value.is_undefined() || value.is_none() => String::new(),
        None => value.to_string(),
    };
    match state.auto_escape() {
        AutoEscape::Custom(name)
            if name == "markdown" && value.as_str().is_none() && !value.is_none() =>
        {
            write!(out, "{value}")
                .map_err(|_| Error::new(minijinja::ErrorKind::WriteFailure, "write failed"))
        }
        AutoEscape::Custom(name) if name == "markdown" => out
            .write_str(&markdown_text(&text))
            .map_err(|_| Error::new(minijinja::ErrorKind::WriteFailure, "write failed")),
        _ => minijinja::escape_formatter(out, state, &Value::from(visible(&text, false).as_ref())),
    }
}

/// `1234567` as `1,234,567` (for counts in prose; table cells keep the
/// JSON's digits).
fn grouped(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// `1 host failure`, `2 host failures`.
fn plural(n: i64, one: &str, many: Option<&str>) -> String {
    let many = many.map_or_else(|| format!("{one}s"), str::to_string);
    format!("{} {}", grouped(n), haplan::words::noun(n, one, &many))
}

/// `75` seconds as `1 min 15 s`, `3600` as `1 h`.
fn seconds(s: i64) -> String {
    let (h, m, sec) = (s / 3600, s / 60 % 60, s % 60);
    let mut parts = Vec::new();
    if h > 0 {
        parts.push(format!("{h} h"));
    }
    if m > 0 {
        parts.push(format!("{m} min"));
    }
    if sec > 0 || parts.is_empty() {
        parts.push(format!("{sec} s"));
    }
    parts.join(" ")
}

/// `text` cut to at most `max` characters, with a note when cut.
fn clip(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_string(),
        Some((i, _)) => format!("{}… (cut; the JSON has it whole)", &text[..i]),
    }
}

/// A JSON Pointer the templates built from field names and indices, as an
/// attribute value: printed as it is (no `/` escaping: pointers fill much of
/// a large page), after checking it holds nothing but those.
fn pointer(p: &str) -> Result<Value, Error> {
    if p.bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'/')
    {
        Ok(Value::from_safe_string(p.to_string()))
    } else {
        Err(Error::new(
            minijinja::ErrorKind::InvalidOperation,
            format!("not a pointer of field names and indices: {p:?}"),
        ))
    }
}

/// The runs of consecutive items of `list` that are equal but for the
/// field `key`, as `[first, last]` index pairs (a long degradation table
/// whose rows differ only in the number of failures becomes a few rows).
fn runs(list: &Value, key: &str) -> Result<Value, Error> {
    let items: Vec<Value> = list.try_iter()?.collect();
    let rest = |v: &Value| -> Result<Vec<(String, String)>, Error> {
        let mut out = Vec::new();
        if let Ok(keys) = v.try_iter() {
            for k in keys {
                let name = k.to_string();
                if name != key {
                    out.push((name, v.get_item(&k)?.to_string()));
                }
            }
        }
        Ok(out)
    };
    let mut out: Vec<Value> = Vec::new();
    let mut first = 0;
    for i in 1..=items.len() {
        if i == items.len() || rest(&items[i])? != rest(&items[first])? {
            out.push(Value::from(vec![first, i - 1]));
            first = i;
        }
    }
    Ok(Value::from(out))
}

/// The indices of the (at most) `n` items of `list` with the largest
/// number at `key`, largest first, ties in list order.
fn top(list: &Value, key: &str, n: usize) -> Result<Value, Error> {
    let mut keyed = Vec::new();
    for (i, item) in list.try_iter()?.enumerate() {
        let v = item.get_attr(key)?;
        let x = i64::try_from(v.clone()).map_err(|_| {
            Error::new(
                minijinja::ErrorKind::InvalidOperation,
                format!("{key} is not a whole number: {v}"),
            )
        })?;
        keyed.push((std::cmp::Reverse(x), i));
    }
    keyed.sort();
    Ok(Value::from(
        keyed
            .into_iter()
            .take(n)
            .map(|(_, i)| i)
            .collect::<Vec<_>>(),
    ))
}

fn build() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::SemiStrict);
    env.set_auto_escape_callback(|name| {
        if name.ends_with(".html") {
            AutoEscape::Html
        } else if name.ends_with(".md") {
            AutoEscape::Custom("markdown".into())
        } else {
            AutoEscape::None
        }
    });
    env.set_formatter(formatter);
    env.set_syntax(
        minijinja::syntax::SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .build()
            .expect("the default delimiters"),
    );
    env.add_filter("grouped", grouped);
    env.add_filter("plural", plural);
    env.add_filter("seconds", seconds);
    env.add_filter("clip", clip);
    env.add_filter("pointer", |p: &str| pointer(p));
    env.add_filter("runs", |l: Value, k: &str| runs(&l, k));
    env.add_filter("top", |l: Value, k: &str, n: usize| top(&l, k, n));
    for (name, source) in TEMPLATES {
        env.add_template(name, source)
            .unwrap_or_else(|e| panic!("template {name}: {e:#}"));
    }
    env
}

/// Renders template `name` with `ctx`.
pub fn render(name: &str, ctx: Value) -> Result<String, Error> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(build).get_template(name)?.render(ctx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_and_bidi_characters_become_visible() {
        assert_eq!(
            visible("a\u{1b}[31mb\u{0}", false),
            "a\u{fffd}[31mb\u{fffd}"
        );
        assert_eq!(visible("x\u{202e}y\u{2066}", false), "x\u{fffd}y\u{fffd}");
        assert_eq!(visible("a\tb\nc", true), "a\tb\nc");
        assert_eq!(visible("a\tb", false), "a\u{fffd}b");
        assert_eq!(visible("plain", false), "plain");
    }

    #[test]
    fn markdown_text_escapes_what_github_reads() {
        assert_eq!(
            markdown_text("<script>|*x*`[a](b)\n"),
            "&lt;script&gt;\\|\\*x\\*\\`\\[a\\](b)\u{fffd}"
        );
        assert_eq!(markdown_text("vm-01.a"), "vm-01.a");
        assert_eq!(markdown_text("# x"), "\\# x");
        assert_eq!(markdown_text("12. x"), "12\\. x");
        assert_eq!(markdown_text("a&b"), "a&amp;b");
    }

    #[test]
    fn runs_join_rows_equal_but_for_the_key() {
        let rows = Value::from(minijinja::value::Serde(serde_json::json!([
            {"f": 1, "a": [1]}, {"f": 2, "a": [2]}, {"f": 3, "a": [2]},
            {"f": 4, "a": [2]}, {"f": 5, "a": [1]}
        ])));
        assert_eq!(
            runs(&rows, "f").unwrap().to_string(),
            "[[0, 0], [1, 3], [4, 4]]"
        );
        assert_eq!(
            runs(&Value::from(Vec::<i64>::new()), "f")
                .unwrap()
                .to_string(),
            "[]"
        );
    }

    #[test]
    fn top_takes_the_largest_first_ties_in_order() {
        let rows = Value::from(minijinja::value::Serde(serde_json::json!([
            {"r": 3}, {"r": 7}, {"r": 3}, {"r": 9}, {"r": 0}
        ])));
        assert_eq!(top(&rows, "r", 3).unwrap().to_string(), "[3, 1, 0]");
        assert_eq!(top(&rows, "r", 9).unwrap().to_string(), "[3, 1, 0, 2, 4]");
    }

    #[test]
    fn numbers_in_prose() {
        assert_eq!(grouped(1234567), "1,234,567");
        assert_eq!(grouped(-1000), "-1,000");
        assert_eq!(grouped(999), "999");
        assert_eq!(plural(1, "host failure", None), "1 host failure");
        assert_eq!(plural(2, "VM", None), "2 VMs");
        assert_eq!(seconds(75), "1 min 15 s");
        assert_eq!(seconds(3600), "1 h");
        assert_eq!(seconds(0), "0 s");
    }
}
