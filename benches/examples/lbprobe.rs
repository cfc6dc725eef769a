//! The largest k whose every failure set the set bounds prove feasible at once, per pool file.
use std::time::Instant;

fn main() {
    for path in std::env::args().skip(1) {
        let pool = haplan_benches::read_pool_or_exit(&path);
        let an = haplan::Analysis::new(&pool);
        let t = Instant::now();
        let sb = haplan::setbound::SetBounds::new(&an);
        let build = t.elapsed();
        let t = Instant::now();
        let mut k = 0;
        while k < an.candidates.len() && sb.all_of_size(&an.candidates, k + 1) {
            k += 1;
        }
        println!(
            "{path}: lower {k} build {:.3}s ask {:.3}s",
            build.as_secs_f64(),
            t.elapsed().as_secs_f64()
        );
    }
}
