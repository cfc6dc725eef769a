//! Writes a generated pool to stdout:
//! `gen mem HOSTS VMS_PER_HOST SEED`, `gen tshirt HOSTS VMS SEED`, or
//! `gen mixed HOSTS VMS RESOURCES GROUPS SEED`, `gen twins HOSTS RESOURCES SEED`,
//! `gen knife HOSTS VMS_PER_HOST SEED`, `gen gpu HOSTS VMS GPU_HOSTS GPU_VMS SEED`,
//! `gen aa HOSTS VMS GROUP_SIZE SEED`, `gen near-full HOSTS SEED`,
//! `gen filled HOSTS MIN_PERCENT MAX_PERCENT SEED`, `gen rules HOSTS VMS SEED` or
//! `gen small HOSTS VMS_PER_HOST MAX_GIB SEED`; or a fleet of COUNT pools of
//! 16 to 64 hosts of every family, written to DIR as `pool-NNNNN.json`:
//! `gen fleet DIR COUNT SEED`.

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n = |i: usize| -> u64 {
        args.get(i)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| usage())
    };
    if args.first().map(String::as_str) == Some("fleet") {
        let dir = std::path::Path::new(args.get(1).unwrap_or_else(|| usage()));
        std::fs::create_dir_all(dir).expect("cannot create the fleet's directory");
        for i in 0..n(2) {
            let pool = haplan_benches::fleet_pool(n(3).wrapping_add(i));
            let path = dir.join(format!("pool-{i:05}.json"));
            std::fs::write(&path, serde_json::to_string(&pool).unwrap())
                .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        }
        return;
    }
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
        Some("rules") => haplan_benches::rules_pool(n(1) as usize, n(2) as usize, n(3)),
        Some("filled") => haplan_benches::filled_pool(n(1) as usize, (n(2), n(3)), n(4)),
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
        "usage: gen mem HOSTS VMS_PER_HOST SEED | gen tshirt HOSTS VMS SEED | gen mixed HOSTS VMS RESOURCES GROUPS SEED\n       | gen twins HOSTS RESOURCES SEED | gen knife HOSTS VMS_PER_HOST SEED\n       | gen gpu HOSTS VMS GPU_HOSTS GPU_VMS SEED | gen aa HOSTS VMS GROUP_SIZE SEED | gen near-full HOSTS SEED\n       | gen filled HOSTS MIN_PERCENT MAX_PERCENT SEED | gen rules HOSTS VMS SEED\n       | gen small HOSTS VMS_PER_HOST MAX_GIB SEED | gen fleet DIR COUNT SEED"
    );
    std::process::exit(2);
}
