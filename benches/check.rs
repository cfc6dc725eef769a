//! `check` on generated pools, named by size, on all cores and on one thread;
//! `headroom` for a reference VM on pools of the same sizes.
//! Pools are built and parsed outside the timed loop; parsing is timed apart.
//! The figures the performance targets name come from `examples/bench.rs`.

use criterion::{Criterion, criterion_group, criterion_main};
use haplan::{
    Budget, CheckOptions, HeadroomOptions, Shape, check, headroom, plan, pool_from_value,
};
use haplan_benches::{memory_pool, mixed_pool, tshirt_pool, twins_pool};

fn bench(c: &mut Criterion) {
    let cases = [
        ("mem/hosts=16,vms=320", memory_pool(16, 20, 1), None),
        ("mem/hosts=32,vms=960", memory_pool(32, 30, 2), None),
        ("mem/hosts=64,vms=960", memory_pool(64, 15, 5), None),
        ("mem/hosts=64,vms=768", memory_pool(64, 12, 2), None),
        (
            "tshirt/hosts=64,vms=1000,res=2,k=3",
            tshirt_pool(64, 1000, 4),
            Some(3),
        ),
        (
            "mixed/hosts=64,vms=1000,res=2,k=3",
            mixed_pool(64, 1000, 2, 0, 3),
            Some(3),
        ),
        (
            "mixed/hosts=100,vms=5000,res=12,aa=500,k=2",
            mixed_pool(100, 5000, 12, 500, 9),
            Some(2),
        ),
        ("twins/hosts=40,res=2", twins_pool(40, 2, 3), None),
    ];
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let mut group = c.benchmark_group("check");
    group.sample_size(10);
    for (name, value, k) in &cases {
        let pool = pool_from_value(value).expect("generated pools are valid");
        let opts = CheckOptions {
            tolerate: *k,
            ..Default::default()
        };
        group.bench_function(format!("{name},threads=all"), |b| {
            b.iter(|| check(&pool, &opts))
        });
        group.bench_function(format!("{name},threads=1"), |b| {
            b.iter(|| one.install(|| check(&pool, &opts)))
        });
    }
    group.finish();

    let mut group = c.benchmark_group("plan");
    group.sample_size(10);
    let pool = pool_from_value(&tshirt_pool(64, 1000, 4)).unwrap();
    let failed: Vec<usize> = (0..3).collect();
    group.bench_function("tshirt/hosts=64,vms=1000,fail=3", |b| {
        b.iter(|| plan(&pool, &failed, &Budget::unlimited()))
    });
    group.finish();

    let mut group = c.benchmark_group("headroom");
    group.sample_size(10);
    let shape = |vm: &[(&str, i64)]| Shape {
        demand: vm.iter().map(|&(r, a)| (r.to_string(), a)).collect(),
        ..Shape::default()
    };
    let cases = [
        (
            "mem/hosts=64,vms=960,vm=32GiB",
            memory_pool(64, 15, 5),
            None,
            shape(&[("memory_mib", 32768)]),
        ),
        (
            "tshirt/hosts=64,vms=1000,k=3,vm=32GiB/8",
            tshirt_pool(64, 1000, 4),
            Some(3),
            shape(&[("memory_mib", 32768), ("vcpus", 8)]),
        ),
    ];
    for (name, value, k, vm) in &cases {
        let pool = pool_from_value(value).expect("generated pools are valid");
        let opts = HeadroomOptions {
            tolerate: *k,
            ..Default::default()
        };
        group.bench_function(*name, |b| b.iter(|| headroom(&pool, vm, &opts).unwrap()));
    }
    group.finish();

    // What every check does before deciding any failure set: agility,
    // spare, the set-level bounds. Linear in hosts plus VMs.
    let mut group = c.benchmark_group("setup");
    group.sample_size(10);
    let cases = [
        (
            "small/hosts=2000,vms=100000",
            haplan_benches::small_vm_pool(2000, 50, 6, 9),
        ),
        (
            "mixed/hosts=256,vms=10000,res=12,aa=1000",
            mixed_pool(256, 10000, 12, 1000, 6),
        ),
    ];
    for (name, value) in &cases {
        let pool = pool_from_value(value).expect("generated pools are valid");
        group.bench_function(*name, |b| {
            b.iter(|| {
                let an = haplan::Analysis::new(&pool);
                haplan::setbound::SetBounds::new(&an)
            })
        });
    }
    group.finish();

    let mut parse = c.benchmark_group("parse");
    let text = serde_json::to_string(&mixed_pool(100, 5000, 12, 500, 9)).unwrap();
    parse.bench_function("mixed/hosts=100,vms=5000,res=12", |b| {
        b.iter(|| haplan::parse_pool(&text).unwrap())
    });
    parse.finish();

    // The runtime's admission check: a new 16 GiB, 4-vCPU VM on one host.
    let mut group = c.benchmark_group("admission");
    group.sample_size(20);
    let mut doc = tshirt_pool(64, 1000, 4);
    doc["ha"]["host_failures_to_tolerate"] = serde_json::json!(2);
    let (rt, _) = haplan_runtime::Runtime::new(doc, 0).unwrap();
    let op = haplan_runtime::Operation::VmStart {
        vm: "new".into(),
        host: "h007".into(),
        definition: Some(serde_json::json!({"demand": {"memory_mib": 16384, "vcpus": 4}})),
    };
    group.bench_function("tshirt/hosts=64,vms=1000,k=2,vm_start", |b| {
        b.iter(|| rt.check_operation(&op).unwrap())
    });
    group.bench_function("tshirt/hosts=64,vms=1000,k=2,vm_start,full_search", |b| {
        b.iter(|| rt.check_operation_exact(&op).unwrap())
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
