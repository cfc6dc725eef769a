//! `check` on generated pools, named by size. Pools are built outside the
//! timed loop; parsing is timed apart from solving.

use criterion::{Criterion, criterion_group, criterion_main};
use haplan::{CheckOptions, check, pool_from_value};
use haplan_benches::{memory_pool, tshirt_pool};

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("check");
    group.sample_size(10);
    let cases = [
        ("mem/hosts=16,vms=320", memory_pool(16, 20, 1)),
        ("mem/hosts=32,vms=960", memory_pool(32, 30, 2)),
        ("tshirt/hosts=16,vms=200", tshirt_pool(16, 200, 3)),
    ];
    for (name, value) in &cases {
        let pool = pool_from_value(value).expect("generated pools are valid");
        group.bench_function(*name, |b| b.iter(|| check(&pool, &CheckOptions::default())));
    }
    group.finish();
    let mut parse = c.benchmark_group("parse");
    let text = serde_json::to_string(&memory_pool(32, 30, 2)).unwrap();
    parse.bench_function("mem/hosts=32,vms=960", |b| {
        b.iter(|| haplan::parse_pool(&text).unwrap())
    });
    parse.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
