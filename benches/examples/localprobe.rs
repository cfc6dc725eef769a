//! The local search for failing sets (`haplan::tolerance::local_failing_set`)
//! on a pool file: `localprobe POOL SIZE LOWER` looks for a set of SIZE hosts
//! down to LOWER + 1 that the exact decision proves fails, and prints the
//! smallest found (its size less one is an upper bound on the tolerance).
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = || -> ! {
        eprintln!("usage: localprobe POOL SIZE LOWER");
        std::process::exit(2)
    };
    if args.len() != 3 {
        usage();
    }
    let n = |i: usize| -> usize { args[i].parse().unwrap_or_else(|_| usage()) };
    let pool = haplan_benches::read_pool_or_exit(&args[0]);
    let t = Instant::now();
    let found = haplan::tolerance::local_failing_set(&pool, n(1), n(2));
    let secs = t.elapsed().as_secs_f64();
    match found {
        Some(set) => println!(
            "{}: failing set of {} (upper bound {}) in {secs:.2}s: {set:?}",
            args[0],
            set.len(),
            set.len() - 1
        ),
        None => println!("{}: none found in {secs:.2}s", args[0]),
    }
}
