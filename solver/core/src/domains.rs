//! Failure domains: hosts that fail together.
//!
//! With `ha.failure_domain_label` set (a key of `hosts[].labels`, e.g.
//! `"rack"`), the up hosts that carry the same value of that label form one
//! failure domain, and k counts domains: a pool tolerates k when every set of
//! k domains can fail at once (all their hosts) and every protected VM still
//! restarts. An up host without the label is a domain of its own. Hosts down
//! or in maintenance belong to no domain (they cannot fail now).

use crate::model::{HostId, HostState, Pool};

/// One failure domain: the up hosts that fail together.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Domain {
    /// The label's value, or the host's name for a host without the label.
    pub name: String,
    /// Whether the name is the label's value (false: a host of its own).
    pub labelled: bool,
    /// Its hosts, in file order.
    pub hosts: Vec<HostId>,
}

/// The failure domains of the pool's up hosts, labelled ones first (by
/// name), then hosts without the label (in file order); `None` when the
/// pool sets no `ha.failure_domain_label`.
pub fn of(pool: &Pool) -> Option<Vec<Domain>> {
    let label = pool.ha.failure_domain_label.as_deref()?;
    let mut labelled: Vec<Domain> = Vec::new();
    let mut own = Vec::new();
    for (h, host) in pool.hosts.iter().enumerate() {
        if host.state != HostState::Up {
            continue;
        }
        match host.labels.get(label) {
            Some(value) => match labelled.iter_mut().find(|d| &d.name == value) {
                Some(d) => d.hosts.push(h),
                None => labelled.push(Domain {
                    name: value.clone(),
                    labelled: true,
                    hosts: vec![h],
                }),
            },
            None => own.push(Domain {
                name: host.name.clone(),
                labelled: false,
                hosts: vec![h],
            }),
        }
    }
    labelled.sort_by(|a, b| a.name.cmp(&b.name));
    labelled.extend(own);
    Some(labelled)
}

/// The domains a failure set made of whole domains consists of (by index
/// into `domains`); hosts of no domain are ignored.
pub fn covering(domains: &[Domain], failed: &[HostId]) -> Vec<usize> {
    (0..domains.len())
        .filter(|&d| domains[d].hosts.iter().any(|h| failed.contains(h)))
        .collect()
}

/// Warnings about the labels: no host carries the label at all (a typo?),
/// or some up hosts lack it.
pub fn warnings(pool: &Pool, domains: &[Domain]) -> Vec<String> {
    let Some(label) = pool.ha.failure_domain_label.as_deref() else {
        return Vec::new();
    };
    let own: Vec<&str> = domains
        .iter()
        .filter(|d| !d.labelled)
        .map(|d| d.name.as_str())
        .collect();
    if own.is_empty() {
        return Vec::new();
    }
    if own.len() == domains.len() {
        return vec![format!(
            "no up host has the label \"{label}\" (ha.failure_domain_label): every host is a failure domain of its own"
        )];
    }
    vec![format!(
        "{} without the label \"{label}\" (ha.failure_domain_label), each a failure domain of its own: {}",
        if own.len() == 1 { "host" } else { "hosts" },
        own.join(", ")
    )]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(label: Option<&str>) -> Pool {
        let mut p = crate::parse_pool(
            r#"{"name": "p", "hosts": [
                {"name": "a", "capacity": {"m": 1}, "labels": {"rack": "r2"}},
                {"name": "b", "capacity": {"m": 1}, "labels": {"rack": "r1"}},
                {"name": "c", "capacity": {"m": 1}},
                {"name": "d", "capacity": {"m": 1}, "labels": {"rack": "r2"}},
                {"name": "e", "capacity": {"m": 1}, "labels": {"rack": "r1"}, "state": "maintenance"}
            ], "vms": []}"#,
        )
        .unwrap();
        p.ha.failure_domain_label = label.map(str::to_string);
        p
    }

    #[test]
    fn hosts_group_by_label_value_and_unlabelled_hosts_stand_alone() {
        assert_eq!(of(&pool(None)), None);
        let d = of(&pool(Some("rack"))).unwrap();
        let shown: Vec<(&str, bool, &[usize])> = d
            .iter()
            .map(|d| (d.name.as_str(), d.labelled, d.hosts.as_slice()))
            .collect();
        // e is in maintenance: it cannot fail, so it is in no domain.
        assert_eq!(
            shown,
            vec![
                ("r1", true, &[1][..]),
                ("r2", true, &[0, 3][..]),
                ("c", false, &[2][..])
            ]
        );
        assert_eq!(covering(&d, &[0, 2, 3]), vec![1, 2]);
        let w = warnings(&pool(Some("rack")), &d);
        assert_eq!(w.len(), 1);
        assert!(w[0].contains("host without the label \"rack\"") && w[0].ends_with(": c"));
        let d = of(&pool(Some("row"))).unwrap();
        assert_eq!(d.len(), 4);
        assert!(warnings(&pool(Some("row")), &d)[0].starts_with("no up host has the label"));
    }
}
