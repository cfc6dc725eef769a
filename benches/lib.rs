//! Deterministic pool generators for benchmarks and scale tests.
//!
//! Every generator takes a seed and returns the same pool (as pool-format
//! JSON) for the same arguments, on every machine.

use serde_json::{Value, json};

/// SplitMix64: small, fast, and the same everywhere.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }
}

const GIB: u64 = 1024;

/// Memory-only pool: `hosts` hosts of 256 GiB ± 25% (whole GiB), each running
/// `vms_per_host` protected VMs of 1 to 16 GiB (a VM that would overload its
/// host is shrunk to what is left, and left out when under 1 GiB is).
pub fn memory_pool(hosts: usize, vms_per_host: usize, seed: u64) -> Value {
    let mut rng = Rng::new(seed);
    let mut hs = Vec::new();
    let mut vms = Vec::new();
    for h in 0..hosts {
        let mem = rng.range(192, 320) * GIB;
        hs.push(json!({"name": format!("h{h:03}"), "capacity": {"memory_mib": mem}}));
        let mut free = mem;
        for v in 0..vms_per_host {
            let m = (rng.range(1, 16) * GIB).min(free);
            if m < GIB {
                continue;
            }
            free -= m;
            vms.push(json!({
                "name": format!("vm{h:03}-{v:02}"),
                "host": format!("h{h:03}"),
                "demand": {"memory_mib": m},
            }));
        }
    }
    json!({"format": "haplan/v1", "name": format!("mem-{hosts}x{}", hosts * vms_per_host),
           "ha": {"host_failures_to_tolerate": 1}, "hosts": hs, "vms": vms})
}

/// T-shirt VM sizes: (memory GiB, vCPUs).
const SIZES: [(u64, u64); 5] = [(2, 1), (4, 2), (8, 4), (16, 4), (32, 8)];
/// Host models: (memory GiB, cores).
const MODELS: [(u64, u64); 3] = [(256, 32), (384, 48), (512, 64)];

/// Two resources (memory, vCPUs with 4:1 overcommit), a few host models and
/// t-shirt VM sizes, `vms` VMs spread over `hosts` hosts without overload.
pub fn tshirt_pool(hosts: usize, vms: usize, seed: u64) -> Value {
    let mut rng = Rng::new(seed);
    let mut free: Vec<(i64, i64)> = Vec::new();
    let mut hs = Vec::new();
    for h in 0..hosts {
        let (mem, cores) = MODELS[rng.range(0, MODELS.len() as u64 - 1) as usize];
        free.push(((mem * GIB) as i64 - 8 * GIB as i64, (cores * 4) as i64));
        hs.push(json!({"name": format!("h{h:03}"),
            "capacity": {"memory_mib": mem * GIB, "vcpus": cores},
            "reserved": {"memory_mib": 8 * GIB}}));
    }
    let mut out = Vec::new();
    for v in 0..vms {
        let (m, c) = SIZES[rng.range(0, SIZES.len() as u64 - 1) as usize];
        let (m, c) = ((m * GIB) as i64, c as i64);
        let start = rng.range(0, hosts as u64 - 1) as usize;
        let Some(h) = (0..hosts)
            .map(|i| (start + i) % hosts)
            .find(|&h| free[h].0 >= m && free[h].1 >= c)
        else {
            continue;
        };
        free[h].0 -= m;
        free[h].1 -= c;
        let restart = if rng.range(0, 9) == 0 {
            "best_effort"
        } else {
            "protected"
        };
        out.push(
            json!({"name": format!("vm{v:04}"), "host": format!("h{h:03}"),
            "demand": {"memory_mib": m, "vcpus": c}, "restart": restart}),
        );
    }
    json!({"format": "haplan/v1", "name": format!("tshirt-{hosts}x{vms}"),
           "ha": {"host_failures_to_tolerate": 1, "overcommit": {"vcpus": 4.0}},
           "hosts": hs, "vms": out})
}
