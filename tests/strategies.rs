//! The full strategy (set-level bounds, then the sets they leave open) must
//! give exactly the answer of deciding every failure set one by one, on
//! generated pools of every family, with and without constraints.

use haplan::{CheckOptions, Strategy, check, pool_from_value};
use haplan_benches::{memory_pool, mixed_pool, tshirt_pool, twins_pool};
use serde_json::Value;

fn compare(name: &str, value: &Value) {
    let pool = pool_from_value(value).unwrap_or_else(|e| panic!("{name}: {e}"));
    let run = |strategy| {
        check(
            &pool,
            &CheckOptions {
                strategy,
                explain: true,
                ..Default::default()
            },
        )
    };
    let full = run(Strategy::Full);
    let each = run(Strategy::Enumerate);
    assert!(full.exact && each.exact, "{name}: not exact");
    assert_eq!(
        full.max_tolerable, each.max_tolerable,
        "{name}: strategies disagree"
    );
    // A witness from either must really fail: its size is max_tolerable + 1
    // and the plan for it leaves a protected VM out.
    for r in [&full, &each] {
        if let Some(w) = &r.witness {
            assert_eq!(
                w.failed.len() as u32,
                r.max_tolerable + 1,
                "{name}: witness size"
            );
            let plan = haplan::plan(&pool, &w.failed, &haplan::Budget::unlimited());
            assert!(
                !plan.all_protected_placed(&pool),
                "{name}: witness {:?} is feasible",
                w.failed
            );
            haplan::verify_plan(&pool, &plan).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        } else {
            assert_eq!(
                r.max_tolerable as usize,
                pool.up_hosts().len(),
                "{name}: no witness"
            );
        }
    }
}

#[test]
fn memory_pools() {
    for seed in 0..40 {
        let hosts = 4 + (seed % 7) as usize;
        compare(
            &format!("mem seed {seed}"),
            &memory_pool(hosts, 6 + (seed % 9) as usize, seed),
        );
    }
}

#[test]
fn tshirt_pools() {
    for seed in 0..40 {
        let hosts = 4 + (seed % 7) as usize;
        compare(
            &format!("tshirt seed {seed}"),
            &tshirt_pool(hosts, hosts * (4 + (seed % 11) as usize), seed),
        );
    }
}

#[test]
fn mixed_pools_with_constraints() {
    for seed in 0..60 {
        let hosts = 4 + (seed % 7) as usize;
        let nres = 1 + (seed % 4) as usize;
        let groups = (seed % 3) as usize * 3;
        compare(
            &format!("mixed seed {seed}"),
            &mixed_pool(hosts, hosts * (3 + (seed % 8) as usize), nres, groups, seed),
        );
    }
}

/// Pools built from templates, where many hosts are interchangeable (the
/// full strategy searches one host of each twin class first).
#[test]
fn templated_pools_with_interchangeable_hosts() {
    for seed in 0..60 {
        let hosts = 4 + (seed % 9) as usize;
        compare(
            &format!("twins seed {seed}"),
            &twins_pool(hosts, 1 + (seed % 2) as usize, seed),
        );
    }
}

/// One ILP per failure set (a peer's method) agrees too.
#[test]
fn ilp_per_set_agrees() {
    for seed in 0..6 {
        let value = mixed_pool(6, 30, 2, 3, 100 + seed);
        let pool = pool_from_value(&value).unwrap();
        let full = check(&pool, &CheckOptions::default());
        let ilp = check(
            &pool,
            &CheckOptions {
                strategy: Strategy::IlpPerSet,
                ..Default::default()
            },
        );
        assert_eq!(full.max_tolerable, ilp.max_tolerable, "seed {seed}");
    }
}
