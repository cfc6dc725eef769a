//! Writes a generated pool to stdout:
//! `gen mem HOSTS VMS_PER_HOST SEED`, `gen tshirt HOSTS VMS SEED`, or
//! `gen mixed HOSTS VMS RESOURCES GROUPS SEED`, `gen twins HOSTS RESOURCES SEED`,
//! `gen knife HOSTS VMS_PER_HOST SEED`, `gen gpu HOSTS VMS GPU_HOSTS GPU_VMS SEED`,
//! `gen aa HOSTS VMS GROUP_SIZE SEED`, `gen near-full HOSTS SEED` or
//! `gen small HOSTS VMS_PER_HOST MAX_GIB SEED`.

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n = |i: usize| -> u64 {
        args.get(i)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| usage())
    };
    let pool = match args.first().map(String::as_str) {
        Some("mem") => haplan_benches::memory_pool(n(1) as usize, n(2) as usize, n(3)),
        Some("tshirt") => haplan_benches::tshirt_pool(n(1) as usize, n(2) as usize, n(3)),
        Some("twins") => haplan_benches::twins_pool(n(1) as usize, n(2) as usize, n(3)),
        Some("small") => haplan_benches::small_vm_pool(n(1) as usize, n(2) as usize, n(3), n(4)),
        Some("knife") => haplan_benches::knife_edge_pool(n(1) as usize, n(2) as usize, n(3)),
        Some("gpu") => haplan_benches::gpu_pool(
            n(1) as usize,
            n(2) as usize,
            n(3) as usize,
            n(4) as usize,
            n(5),
        ),
        Some("aa") => {
            haplan_benches::anti_affinity_pool(n(1) as usize, n(2) as usize, n(3) as usize, n(4))
        }
        Some("near-full") => haplan_benches::near_full_pool(n(1) as usize, n(2)),
        Some("mixed") => haplan_benches::mixed_pool(
            n(1) as usize,
            n(2) as usize,
            n(3) as usize,
            n(4) as usize,
            n(5),
        ),
        _ => usage(),
    };
    println!("{}", serde_json::to_string_pretty(&pool).unwrap());
}

fn usage() -> ! {
    eprintln!(
        "usage: gen mem HOSTS VMS_PER_HOST SEED | gen tshirt HOSTS VMS SEED | gen mixed HOSTS VMS RESOURCES GROUPS SEED\n       | gen twins HOSTS RESOURCES SEED | gen knife HOSTS VMS_PER_HOST SEED\n       | gen gpu HOSTS VMS GPU_HOSTS GPU_VMS SEED | gen aa HOSTS VMS GROUP_SIZE SEED | gen near-full HOSTS SEED\n       | gen small HOSTS VMS_PER_HOST MAX_GIB SEED"
    );
    std::process::exit(2);
}
