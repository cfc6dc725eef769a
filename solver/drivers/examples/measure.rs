//! Times the drivers against the end-to-end bench: a fence (`off`, then
//! `status` confirming off) by fence_ipmilan at an ipmi_sim BMC, and a domain
//! start through libvirt. Prints the median of several runs.
//!
//!     cargo run --release -p haplan-drivers --example measure [RUNS]

use std::time::{Duration, Instant};

use haplan_drivers::bench::Bench;
use haplan_drivers::fence::{FenceDevice, PowerState};
use haplan_drivers::libvirt::LibvirtHost;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn show(what: &str, v: &[Duration]) {
    let ms = |d: &Duration| d.as_secs_f64() * 1000.0;
    let min = v.iter().min().unwrap();
    let max = v.iter().max().unwrap();
    println!(
        "{what}: median {:.1} ms (min {:.1}, max {:.1}, {} runs)",
        ms(&median(v.to_vec())),
        ms(min),
        ms(max),
        v.len()
    );
}

fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse().expect("RUNS is a number"))
        .unwrap_or(9);
    let bench = Bench::start(1).expect("the end-to-end bench");
    let h1 = bench.host("h1").unwrap();
    let device = FenceDevice::new("fence_ipmilan", h1.fence_params()).unwrap();
    let timeout = Duration::from_secs(30);

    let mut status = Vec::new();
    let mut fence = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        assert_eq!(device.status(timeout).unwrap(), PowerState::On);
        status.push(t.elapsed());
        let t = Instant::now();
        device.off_and_confirm(timeout).unwrap();
        fence.push(t.elapsed());
        bench.power_on("h1").unwrap();
    }

    let host = LibvirtHost::open(&h1.uri).unwrap();
    let mut probe = Vec::new();
    let mut start = Vec::new();
    let mut define_start = Vec::new();
    for i in 0..runs.max(5) * 3 {
        let name = format!("vm{i}");
        let xml = format!(
            "<domain type='test'><name>{name}</name><memory unit='MiB'>256</memory><vcpu>1</vcpu>\
             <os><type>hvm</type></os></domain>"
        );
        let t = Instant::now();
        host.probe(timeout).unwrap();
        probe.push(t.elapsed());
        host.define(&xml).unwrap();
        let t = Instant::now();
        host.start(&name).unwrap();
        start.push(t.elapsed());
        host.destroy(&name).unwrap();
        host.undefine(&name).unwrap();
        let t = Instant::now();
        host.define_and_start(&xml).unwrap();
        define_start.push(t.elapsed());
    }

    show("fence_ipmilan status", &status);
    show("fence off + status confirming off", &fence);
    show("libvirt probe", &probe);
    show("libvirt start (defined domain)", &start);
    show("libvirt define + start", &define_start);
    bench.stop().unwrap();
}
