//! Proxmox VE's section configuration files (`/etc/pve/ha/resources.cfg`,
//! `groups.cfg`, `rules.cfg`): `TYPE: ID` lines, each followed by indented
//! `KEY VALUE` lines, sections separated by blank lines, `#` comments.

use crate::ImportError;

#[derive(Debug)]
pub(crate) struct Section<'a> {
    pub kind: &'a str,
    pub id: &'a str,
    pub line: usize,
    pub props: Vec<(&'a str, &'a str, usize)>,
}

impl<'a> Section<'a> {
    pub fn get(&self, key: &str) -> Option<&'a str> {
        self.props
            .iter()
            .find(|(k, _, _)| *k == key)
            .map(|(_, v, _)| *v)
    }

    /// The line of `key`, else of the section header.
    pub fn line_of(&self, key: &str) -> usize {
        self.props
            .iter()
            .find(|(k, _, _)| *k == key)
            .map_or(self.line, |(_, _, l)| *l)
    }
}

/// Whether the text reads as a section configuration whose sections are
/// all of the given kinds.
pub(crate) fn is_sections(text: &str, kinds: &[&str]) -> bool {
    match parse("", text) {
        Ok(s) => !s.is_empty() && s.iter().all(|s| kinds.contains(&s.kind)),
        Err(_) => false,
    }
}

pub(crate) fn parse<'a>(file: &str, text: &'a str) -> Result<Vec<Section<'a>>, ImportError> {
    let mut out: Vec<Section<'a>> = Vec::new();
    let mut open = false;
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = raw.trim_end();
        if line.trim_start().starts_with('#') {
            continue;
        }
        if line.trim().is_empty() {
            open = false;
            continue;
        }
        let indented = line.starts_with([' ', '\t']);
        if indented {
            let Some(section) = out.last_mut().filter(|_| open) else {
                return Err(ImportError::syntax(
                    file,
                    format!("line {n}: a property outside any section"),
                ));
            };
            let body = line.trim();
            let (key, value) = match body.split_once([' ', '\t']) {
                Some((k, v)) => (k, v.trim()),
                None => (body, ""),
            };
            section.props.push((key, value, n));
        } else {
            let Some((kind, id)) = line.split_once(':') else {
                return Err(ImportError::syntax(
                    file,
                    format!("line {n}: expected \"TYPE: ID\", found {line:?}"),
                ));
            };
            let (kind, id) = (kind.trim(), id.trim());
            if kind.is_empty() || id.is_empty() || kind.contains(char::is_whitespace) {
                return Err(ImportError::syntax(
                    file,
                    format!("line {n}: expected \"TYPE: ID\", found {line:?}"),
                ));
            }
            out.push(Section {
                kind,
                id,
                line: n,
                props: Vec::new(),
            });
            open = true;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_with_comments_and_flags() {
        let text = "# rules\nnode-affinity: a\n\tnodes n1:2,n2\n\tresources vm:1\n\tdisable\n\nresource-affinity: b\n    resources vm:1,vm:2\n    affinity negative\n";
        let s = parse("rules.cfg", text).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!((s[0].kind, s[0].id, s[0].line), ("node-affinity", "a", 2));
        assert_eq!(s[0].get("nodes"), Some("n1:2,n2"));
        assert_eq!(s[0].get("disable"), Some(""));
        assert_eq!(s[0].line_of("resources"), 4);
        assert_eq!(s[1].get("affinity"), Some("negative"));
        assert!(is_sections(text, &["node-affinity", "resource-affinity"]));
        assert!(!is_sections(text, &["group"]));
    }

    #[test]
    fn bad_sections_name_the_line() {
        let e = parse("f", "\tnodes a\n").unwrap_err().to_string();
        assert!(e.contains("f: line 1"), "{e}");
        let e = parse("f", "vm: 1\n\tstate started\n\njust words\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 4"), "{e}");
        assert!(!is_sections("{\"a\": 1}", &["vm"]));
    }
}
