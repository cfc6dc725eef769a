//! `--format github`: GitHub Actions workflow commands, so that a CI job's
//! log shows the verdict, or each problem of a rejected file, as an
//! annotation on the file (`::error file=pool.json,line=3,col=5::...`).
//!
//! The report itself is printed between `::stop-commands::TOKEN` and
//! `::TOKEN::`, which tells the runner not to read any of its lines as a
//! command: names come from the pool file, which may come from the pull
//! request being checked. The token is derived from the report, which
//! cannot contain it.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use crate::exit::{EXIT_NOT_OK, EXIT_OK};

/// The text report `text` of a command that exited with `code`, fenced off
/// from the runner, then one annotation with its first line (the verdict):
/// a notice when the pool meets what was asked, an error when it does not,
/// a warning when it is undecided.
pub(crate) fn report(text: &str, code: i32, file: Option<&str>) -> String {
    let token = token(text);
    let level = match code {
        EXIT_OK => "notice",
        EXIT_NOT_OK => "error",
        _ => "warning",
    };
    let verdict = text.lines().next().unwrap_or_default();
    let mut out = format!("::stop-commands::{token}\n{text}");
    if !text.ends_with('\n') && !text.is_empty() {
        out.push('\n');
    }
    out += &format!("::{token}::\n");
    out += &annotation(level, file, None, None, verdict);
    out
}

/// One error annotation per problem of a rejected input (`message` alone
/// when there are none), and one for the problems only counted.
pub(crate) fn problems(
    file: Option<&str>,
    message: &str,
    problems: &[haplan::Problem],
    omitted: usize,
) -> String {
    if problems.is_empty() {
        return annotation("error", file, None, None, message);
    }
    let mut out = String::new();
    for p in problems {
        let text = if p.path.is_empty() {
            p.message.clone()
        } else {
            format!("{}: {}", p.path, p.message)
        };
        out += &annotation("error", file, p.line, p.column, &text);
    }
    if omitted > 0 {
        out += &annotation(
            "error",
            file,
            None,
            None,
            &format!("and {} more problems", haplan::error::thousands(omitted)),
        );
    }
    out
}

fn annotation(
    level: &str,
    file: Option<&str>,
    line: Option<usize>,
    column: Option<usize>,
    message: &str,
) -> String {
    let mut props = Vec::new();
    // Standard input and flags (`--vm`) are no file of the repository.
    if let Some(f) = file.filter(|f| !matches!(*f, "-" | "<stdin>") && !f.starts_with("--")) {
        props.push(format!("file={}", property(f)));
    }
    if let Some(l) = line {
        props.push(format!("line={l}"));
    }
    if let Some(c) = column {
        props.push(format!("col={c}"));
    }
    props.push("title=haplan".to_string());
    format!("::{level} {}::{}\n", props.join(","), data(message))
}

/// A command's message: `%`, CR and LF escaped, so that it stays one line.
fn data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A command's property value: as [`data`], and `:` and `,` too.
fn property(s: &str) -> String {
    data(s).replace(':', "%3A").replace(',', "%2C")
}

/// A token that `text` does not contain: a hash of it (text holding its
/// own hash is out of reach), longer if it ever did.
fn token(text: &str) -> String {
    let mut salt = 0u64;
    loop {
        let mut h = DefaultHasher::new();
        (text, salt).hash(&mut h);
        let t = format!("haplan-{:016x}", h.finish());
        if !text.contains(&t) {
            return t;
        }
        salt += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_are_fenced_and_annotated_by_exit_code() {
        let text =
            "OVERCOMMITTED: pool p tolerates 0 host failures (configured: 1)\n::error::forged\n";
        let out = report(text, EXIT_NOT_OK, Some("pools/a,b.json"));
        let lines: Vec<&str> = out.lines().collect();
        let token = lines[0].strip_prefix("::stop-commands::").unwrap();
        assert!(token.starts_with("haplan-"));
        assert_eq!(
            lines[1],
            "OVERCOMMITTED: pool p tolerates 0 host failures (configured: 1)"
        );
        assert_eq!(lines[2], "::error::forged");
        assert_eq!(lines[3], format!("::{token}::"));
        assert_eq!(
            lines[4],
            "::error file=pools/a%2Cb.json,title=haplan::OVERCOMMITTED: pool p tolerates 0 host failures (configured: 1)"
        );
        assert!(report("OK: x\n", EXIT_OK, None).ends_with("::notice title=haplan::OK: x\n"));
        assert!(report("UNDECIDED: x\n", 3, None).contains("::warning title=haplan::UNDECIDED"));
    }

    #[test]
    fn problems_keep_their_place_and_stay_on_one_line() {
        let p = haplan::Problem {
            path: "vms[0].name".into(),
            message: "bad\nOK: forged 100%".into(),
            line: Some(3),
            column: Some(7),
        };
        let out = problems(Some("p.json"), "invalid", &[p], 5);
        assert_eq!(
            out,
            "::error file=p.json,line=3,col=7,title=haplan::vms[0].name: bad%0AOK: forged 100%25\n\
             ::error file=p.json,title=haplan::and 5 more problems\n"
        );
        assert_eq!(
            problems(Some("<stdin>"), "m", &[], 0),
            "::error title=haplan::m\n"
        );
    }
}
