//! One pool's search split into parts (`haplan::tolerance::split`) gives
//! `check`'s report exactly, whatever the partition of each round, the order
//! the answers come back in, and whether the answers after a found set are
//! dropped; answers travel as JSON, as between processes. Parts and answers
//! that do not fit their round are refused, never merged.

use haplan::tolerance::Strategy as CheckStrategy;
use haplan::tolerance::split::{Part, PartAnswer, Round, SplitError, check_split, search_part};
use haplan::{Budget, CheckOptions, CheckReport, Pool, check};
use haplan_benches::{Rng, memory_pool, mixed_pool, tshirt_pool, twins_pool};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde_json::{Value, json};

use crate::properties::{config, domain_pools, pools};

/// How an executor splits a round and returns its answers.
#[derive(Clone, Debug)]
struct Executor {
    /// Parts per round.
    parts: usize,
    /// Consecutive parts of about equal work (`Round::parts`), or each first
    /// unit in a part drawn at random.
    balanced: bool,
    /// Leaves out the answers of parts whose first units all come after a
    /// found one, as an executor that cancels them does.
    stop_early: bool,
    seed: u64,
}

fn executors() -> impl Strategy<Value = Executor> {
    (1usize..9, any::<bool>(), any::<bool>(), any::<u64>()).prop_map(
        |(parts, balanced, stop_early, seed)| Executor {
            parts,
            balanced,
            stop_early,
            seed,
        },
    )
}

impl Executor {
    fn parts(&self, round: &Round, rng: &mut Rng) -> Vec<Part> {
        if self.balanced {
            return round.parts(self.parts);
        }
        let mut firsts = vec![Vec::new(); self.parts];
        for f in 0..round.firsts {
            firsts[rng.range(0, self.parts as u64 - 1) as usize].push(f);
        }
        firsts
            .into_iter()
            .filter(|f| !f.is_empty())
            .map(|f| round.part(f))
            .collect()
    }

    /// Every part decided alone, its answer sent through JSON, the answers
    /// in a shuffled order.
    fn answers(&self, pool: &Pool, round: &Round) -> Vec<PartAnswer> {
        let mut rng = Rng::new(self.seed ^ u64::from(round.k));
        let mut answers: Vec<PartAnswer> = self
            .parts(round, &mut rng)
            .iter()
            .map(|p| {
                let part: Part = through_json(p);
                let a =
                    search_part(pool, &part, &Budget::unlimited()).expect("a part of the round");
                through_json(&a)
            })
            .collect();
        if self.stop_early {
            let best = answers
                .iter()
                .filter_map(|a| a.found.as_ref().map(|f| f.first))
                .min();
            answers.retain(|a| best.is_none_or(|b| a.part.firsts[0] <= b));
        }
        for i in (1..answers.len()).rev() {
            answers.swap(i, rng.range(0, i as u64) as usize);
        }
        answers
    }
}

fn through_json<T: serde::Serialize + serde::de::DeserializeOwned>(x: &T) -> T {
    serde_json::from_str(&serde_json::to_string(x).unwrap()).unwrap()
}

fn without_stats(mut r: CheckReport) -> CheckReport {
    r.stats = Default::default();
    r
}

/// The wire JSON without the statistics, which count every part's work.
fn wire(pool: &Pool, r: &CheckReport) -> Value {
    let mut v = haplan_wire::report::check_json(pool, r);
    v["stats"] = json!(null);
    v
}

/// `check_split` with `ex` gives `check`'s report; returns the rounds run.
fn same_as_check(pool: &Pool, opts: &CheckOptions, ex: &Executor) -> Result<usize, TestCaseError> {
    let want = check(pool, opts);
    let mut rounds = 0;
    let got = check_split(pool, opts, |round| {
        rounds += 1;
        Some(ex.answers(pool, round))
    })
    .map_err(|e| TestCaseError::fail(format!("split check failed: {e}")))?;
    prop_assert_eq!(wire(pool, &got), wire(pool, &want));
    prop_assert_eq!(without_stats(got.clone()), without_stats(want.clone()));
    // The statistics are not compared: the check's own parallel search
    // decides sets past its answer, and K first and the failing-set
    // builder count sets no part is asked about.
    Ok(rounds)
}

fn options(enumerate: bool, explain: bool, tolerate: Option<u32>) -> CheckOptions<'static> {
    CheckOptions {
        strategy: if enumerate {
            CheckStrategy::Enumerate
        } else {
            CheckStrategy::Full
        },
        explain,
        tolerate,
        ..Default::default()
    }
}

proptest! {
    #![proptest_config(config(200))]

    /// On small random pools, with the bounds (the search then has few
    /// rounds) and without (every k is a round).
    #[test]
    fn split_check_is_check(p in pools(), ex in executors(), enumerate in any::<bool>(), explain in any::<bool>()) {
        same_as_check(&p.pool(), &options(enumerate, explain, None), &ex)?;
    }

    /// In failure domains, each part's first units are domains.
    #[test]
    fn split_check_is_check_in_domains(p in domain_pools(), ex in executors(), enumerate in any::<bool>()) {
        same_as_check(&p.pool(), &options(enumerate, true, None), &ex)?;
    }
}

proptest! {
    #![proptest_config(config(24))]

    /// On generated pools of 16 to 64 hosts, of every family.
    #[test]
    fn split_check_is_check_on_generated_pools(seed in 0u64..1_000_000, family in 0u8..4, ex in executors()) {
        let hosts = 16 + (seed % 49) as usize;
        let (value, k) = match family {
            0 => (memory_pool(hosts, 6 + (seed % 9) as usize, seed), None),
            1 => (tshirt_pool(hosts, hosts * 12, seed), Some(3)),
            2 => (mixed_pool(hosts, hosts * 15, 2, 0, seed), Some(3)),
            // Twins tolerate about a third of their hosts, and the search
            // to prove it takes seconds from about 30 hosts on.
            _ => (twins_pool(16 + (seed % 5) as usize, 2, seed), None),
        };
        let pool = haplan::pool_from_value(&value).expect("generated pools are valid");
        same_as_check(&pool, &options(false, true, k), &ex)?;
    }
}

/// A pool whose search runs rounds (every k, without the set-level bounds)
/// and fails at k = 2.
fn demo() -> (Pool, CheckOptions<'static>) {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fixtures/basic/demo.json"
    ))
    .unwrap();
    let pool = haplan::parse_pool(&text).unwrap();
    (pool, options(true, true, None))
}

#[test]
fn rounds_follow_the_bounds() {
    let (pool, opts) = demo();
    let want = check(&pool, &opts);
    assert_eq!(want.max_tolerable, 1);
    let mut ks = Vec::new();
    let ex = Executor {
        parts: 3,
        balanced: true,
        stop_early: true,
        seed: 1,
    };
    let got = check_split(&pool, &opts, |round| {
        ks.push(round.k);
        assert_eq!(
            round.firsts as usize,
            pool.hosts.len() + 1 - round.k as usize
        );
        Some(ex.answers(&pool, round))
    })
    .unwrap();
    assert_eq!(ks, [1, 2]);
    assert_eq!(without_stats(got), without_stats(want));
    // With the bounds, a memory-only pool is settled without any round.
    let pool = haplan::pool_from_value(&memory_pool(16, 20, 1)).unwrap();
    let got = check_split(&pool, &CheckOptions::default(), |_| {
        panic!("no round: the bounds settle this pool")
    })
    .unwrap();
    assert_eq!(
        without_stats(got),
        without_stats(check(&pool, &CheckOptions::default()))
    );
}

#[test]
fn balanced_parts_cover_every_first_unit_once_in_order() {
    for (firsts, k) in [(1u32, 1u32), (7, 1), (7, 3), (100, 2), (998, 3), (40, 30)] {
        let round = Round {
            k,
            firsts,
            domains: false,
            key: 7,
            strategy: CheckStrategy::Full,
            deadline: None,
        };
        for n in [1, 2, 3, 8, 1000] {
            let parts = round.parts(n);
            assert_eq!(parts.len(), n.min(firsts as usize));
            let all: Vec<u32> = parts.iter().flat_map(|p| p.firsts.clone()).collect();
            assert_eq!(all, (0..firsts).collect::<Vec<_>>(), "n = {n}");
            assert!(parts.iter().all(|p| !p.firsts.is_empty() && p.key == 7));
        }
        // Early first units carry more sets, so the first part is the
        // shortest when k > 1.
        let parts = round.parts(4);
        if k > 1 && firsts >= 40 {
            assert!(
                parts[0].firsts.len() < parts[3].firsts.len(),
                "{:?}",
                parts.iter().map(|p| p.firsts.len()).collect::<Vec<_>>()
            );
        }
    }
}

/// Runs the demo check with `tamper` applied to each round's answers.
fn tampered(
    tamper: impl Fn(&Round, &mut Vec<PartAnswer>) + Send + Sync,
) -> Result<CheckReport, SplitError> {
    let (pool, opts) = demo();
    let ex = Executor {
        parts: 3,
        balanced: true,
        stop_early: false,
        seed: 3,
    };
    check_split(&pool, &opts, |round| {
        let mut answers = ex.answers(&pool, round);
        tamper(round, &mut answers);
        Some(answers)
    })
}

#[test]
fn answers_that_do_not_fit_are_refused() {
    assert!(tampered(|_, _| {}).is_ok());
    // A part never answered.
    let e = tampered(|_, a| {
        a.sort_by_key(|a| a.part.firsts[0]);
        a.remove(0);
    });
    assert_eq!(e.unwrap_err(), SplitError::Uncovered(0));
    // A part answered twice.
    let e = tampered(|_, a| a.push(a[0].clone()));
    assert!(matches!(e.unwrap_err(), SplitError::Overlap(_)));
    // An answer of another round.
    let e = tampered(|_, a| a[0].part.key ^= 1);
    assert_eq!(e.unwrap_err(), SplitError::OtherSearch);
    // A failing set that does not hold its first unit, or names no host.
    for bad in [vec![], vec![999]] {
        let e = tampered(|_, a| {
            for f in a.iter_mut().filter_map(|a| a.found.as_mut()) {
                f.failing.as_mut().unwrap().hosts = bad.clone();
            }
        });
        assert!(
            matches!(e.unwrap_err(), SplitError::BadAnswer(_)),
            "{bad:?}"
        );
    }
    // A first unit outside the round.
    let e = tampered(|r, a| a[0].part.firsts.push(r.firsts));
    assert!(matches!(e.unwrap_err(), SplitError::BadPart(_)));
}

#[test]
fn a_part_of_another_pool_is_refused() {
    let (pool, opts) = demo();
    let other = haplan::pool_from_value(&memory_pool(6, 4, 2)).unwrap();
    let mut tried = false;
    let _ = check_split(&pool, &opts, |round| {
        let part = round.parts(1).remove(0);
        assert_eq!(
            search_part(&other, &part, &Budget::unlimited()),
            Err(SplitError::OtherSearch)
        );
        tried = true;
        None
    });
    assert!(tried);
}

#[test]
fn a_round_given_up_leaves_proved_bounds() {
    let (pool, opts) = demo();
    let want = check(&pool, &opts);
    let ex = Executor {
        parts: 2,
        balanced: true,
        stop_early: false,
        seed: 5,
    };
    // The first round is answered, the second given up.
    let got = check_split(&pool, &opts, |round| {
        (round.k == 1).then(|| ex.answers(&pool, round))
    })
    .unwrap();
    assert!(!got.exact);
    assert_eq!(got.max_tolerable, 1);
    assert_eq!(got.upper_bound, pool.hosts.len() as u32);
    assert!(got.max_tolerable <= want.max_tolerable && want.max_tolerable <= got.upper_bound);
}
