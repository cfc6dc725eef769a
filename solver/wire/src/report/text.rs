//! Helpers the answers share: names from ids, priorities in words.

use super::*;

/// At most this many names in one list of a text answer: the text is for
/// people, and a failure of a pool of thousands of VMs can strand
/// thousands; `--format json` lists them all.
pub const TEXT_NAMES: usize = 20;

/// `names` joined by commas for people: the first [`TEXT_NAMES`] of them
/// and how many more, when there are more.
pub fn name_list<S: AsRef<str>>(names: &[S]) -> String {
    first_names(names.iter().map(AsRef::as_ref), names.len())
}

/// [`name_list`] of a list of `total` names that `names` yields in order
/// (only its first [`TEXT_NAMES`] are taken).
pub fn first_names<'a>(names: impl Iterator<Item = &'a str>, total: usize) -> String {
    let shown: Vec<&str> = names.take(TEXT_NAMES).collect();
    let mut s = shown.join(", ");
    if total > TEXT_NAMES {
        let _ = write!(
            s,
            " and {} more: --format json lists them all",
            haplan::error::thousands(total - TEXT_NAMES)
        );
    }
    s
}

pub(super) fn names<'a>(pool: &'a Pool, vms: &[usize]) -> Vec<&'a str> {
    vms.iter().map(|&v| pool.vms[v].name.as_str()).collect()
}

pub(super) fn host_names<'a>(pool: &'a Pool, hosts: &[usize]) -> Vec<&'a str> {
    hosts.iter().map(|&h| pool.hosts[h].name.as_str()).collect()
}

pub(super) fn domain_names<'a>(r: &'a CheckReport, failed: &[usize]) -> Option<Vec<&'a str>> {
    r.failure_domains.as_ref().map(|d| {
        haplan::domains::covering(d, failed)
            .into_iter()
            .map(|i| d[i].name.as_str())
            .collect()
    })
}

pub(super) fn priorities(ps: &[Priority]) -> Vec<Priority> {
    ps.to_vec()
}

/// Priorities for people: `critical, high`.
pub(super) fn priority_words(ps: &[Priority]) -> String {
    let words: Vec<String> = ps.iter().map(|p| p.to_string()).collect();
    words.join(", ")
}
