//! Small pools written as text for the unit tests of the search modules
//! (`adversary`, `warm`): hosts of memory and vCPUs, VMs with an optional
//! anti-affinity group.

/// A pool of hosts `h{i}` with `caps[i]` = (memory_mib, vcpu) and VMs
/// `v{i}` = (host index, memory_mib, vcpu, anti-affinity group `g{n}`).
pub(crate) fn pool_text(caps: &[(i64, i64)], vms: &[(usize, i64, i64, Option<u8>)]) -> String {
    let hosts: Vec<String> = caps
        .iter()
        .enumerate()
        .map(|(i, (m, c))| {
            format!(r#"{{"name":"h{i}","capacity":{{"memory_mib":{m},"vcpu":{c}}}}}"#)
        })
        .collect();
    let vms: Vec<String> = vms
        .iter()
        .enumerate()
        .map(|(i, &(h, m, c, g))| {
            let group = g
                .map(|g| format!(r#","anti_affinity":"g{g}""#))
                .unwrap_or_default();
            format!(
                r#"{{"name":"v{i}","host":"h{h}","demand":{{"memory_mib":{m},"vcpu":{c}}}{group}}}"#
            )
        })
        .collect();
    format!(
        r#"{{"name":"p","hosts":[{}],"vms":[{}]}}"#,
        hosts.join(","),
        vms.join(",")
    )
}
