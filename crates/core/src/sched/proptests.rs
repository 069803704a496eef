//! Property tests of the schedulers' definitions: over random weights, counters and
//! flags, each scheduler's picks match what its rule says, and no scheduler ever
//! picks a quiescent, overloaded or removed destination.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use proptest::prelude::*;

use super::hash::mix64;
use super::hashing::{dh_shares, sh_shares};
use super::testutil::*;
use super::*;
use crate::dest::DestId;

/// One destination of a generated setup.
#[derive(Clone, Debug)]
struct Spec {
    weight: u32,
    active: u32,
    inactive: u32,
    overloaded: bool,
    removed: bool,
}

fn spec(max_weight: u32) -> impl Strategy<Value = Spec> {
    (
        0..=max_weight,
        0..12u32,
        0..40u32,
        prop::bool::weighted(0.15),
        prop::bool::weighted(0.05),
    )
        .prop_map(|(weight, active, inactive, overloaded, removed)| Spec {
            weight,
            active,
            inactive,
            overloaded,
            removed,
        })
}

fn build(specs: &[Spec]) -> Vec<Arc<Dest>> {
    let dests = test_dests(&specs.iter().map(|s| s.weight).collect::<Vec<_>>());
    for (d, s) in dests.iter().zip(specs) {
        set_conns(d, s.active, s.inactive);
        if s.overloaded {
            make_overloaded(d);
        }
        if s.removed {
            d.set_available(false);
        }
    }
    dests
}

fn usable(d: &Dest) -> bool {
    d.weight() > 0 && d.is_available() && !d.is_overloaded()
}

/// The first usable index minimising `cost / weight` (compared exactly).
fn first_weighted_min(dests: &[Arc<Dest>], cost: impl Fn(&Dest) -> u64) -> Option<usize> {
    let cands: Vec<usize> = (0..dests.len()).filter(|&i| usable(&dests[i])).collect();
    cands.iter().copied().find(|&i| {
        cands.iter().all(|&j| {
            cost(&dests[i]) * dests[j].weight() as u64 <= cost(&dests[j]) * dests[i].weight() as u64
        })
    })
}

fn client(key: u64) -> SchedContext {
    let mut c = ctx_v4(0, 1);
    let h = mix64(key);
    c.client_addr = IpAddr::V4(Ipv4Addr::from(h as u32));
    c.client_port = (h >> 32) as u16;
    c
}

fn fallback_port() -> SchedFlags {
    SchedFlags {
        fallback: true,
        port: true,
        flag3: false,
    }
}

/// `cases` cases unless `PROPTEST_CASES` asks for another number; failing inputs
/// are kept beside this file (sched/regressions/).
fn config(cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(cases);
    ProptestConfig {
        cases,
        failure_persistence: Some(Box::new(
            proptest::test_runner::FileFailurePersistence::WithSource("regressions"),
        )),
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn rr_gives_equal_shares(specs in prop::collection::vec(spec(5), 1..12), rounds in 1..5usize) {
        let dests = build(&specs);
        let mut s = RoundRobin::new();
        s.update(&dests);
        let n_usable = dests.iter().filter(|d| usable(d)).count();
        let counts = pick_counts(&mut s, &dests, rounds * n_usable.max(1));
        for (i, d) in dests.iter().enumerate() {
            prop_assert_eq!(counts[i], if usable(d) { rounds } else { 0 });
        }
    }

    #[test]
    fn wrr_period_gives_exactly_the_weights(specs in prop::collection::vec(spec(12), 1..10), periods in 1..3usize) {
        let dests = build(&specs);
        let mut s = WeightedRoundRobin::new();
        s.update(&dests);
        let total: usize = dests.iter().filter(|d| usable(d)).map(|d| d.weight() as usize).sum();
        let counts = pick_counts(&mut s, &dests, periods * total.max(1));
        for (i, d) in dests.iter().enumerate() {
            let want = if usable(d) { periods * d.weight() as usize } else { 0 };
            prop_assert_eq!(counts[i], want, "weights {:?}", specs);
        }
    }

    #[test]
    fn wrr_interleaves_within_a_period(weights in prop::collection::vec(1..9u32, 2..6)) {
        // Within one period every destination is picked as evenly as its weight
        // allows: after k picks of the heaviest, a weight-w one has had at most
        // ceil(k * w / max) picks (no bursts of a light server).
        let dests = test_dests(&weights);
        let mut s = WeightedRoundRobin::new();
        s.update(&dests);
        let max = *weights.iter().max().unwrap() as usize;
        let heaviest = weights.iter().position(|&w| w as usize == max).unwrap();
        let mut seen = vec![0usize; weights.len()];
        for p in picks(&mut s, &dests, weights.iter().sum::<u32>() as usize) {
            seen[p] += 1;
            for (i, &w) in weights.iter().enumerate() {
                prop_assert!(seen[i] <= (seen[heaviest] * w as usize).div_ceil(max) + 1);
            }
        }
    }

    #[test]
    fn lc_family_picks_the_first_minimiser(specs in prop::collection::vec(spec(8), 0..12)) {
        let dests = build(&specs);
        let ctx = ctx_v4(1, 1);
        let oh = |d: &Dest| conn_overhead(d);
        let delay = |d: &Dest| u64::from(d.active_conns()) + 1;
        let lc = (0..dests.len())
            .filter(|&i| usable(&dests[i]))
            .min_by_key(|&i| (oh(&dests[i]), i));
        prop_assert_eq!(LeastConn.schedule(&dests, &ctx), lc);
        prop_assert_eq!(WeightedLeastConn.schedule(&dests, &ctx), first_weighted_min(&dests, oh));
        prop_assert_eq!(ShortestExpectedDelay.schedule(&dests, &ctx), first_weighted_min(&dests, delay));
        let idle = (0..dests.len()).find(|&i| usable(&dests[i]) && dests[i].active_conns() == 0);
        prop_assert_eq!(NeverQueue.schedule(&dests, &ctx), idle.or(first_weighted_min(&dests, delay)));
    }

    #[test]
    fn fo_and_ovf_follow_their_rules(specs in prop::collection::vec(spec(8), 0..12)) {
        let dests = build(&specs);
        let ctx = ctx_v4(1, 1);
        let heaviest = |ok: &dyn Fn(&Dest) -> bool| {
            let cands: Vec<usize> = (0..dests.len()).filter(|&i| usable(&dests[i]) && ok(&dests[i])).collect();
            let max = cands.iter().map(|&i| dests[i].weight()).max()?;
            cands.into_iter().find(|&i| dests[i].weight() == max)
        };
        prop_assert_eq!(WeightedFailover.schedule(&dests, &ctx), heaviest(&|_| true));
        prop_assert_eq!(
            Overflow.schedule(&dests, &ctx),
            heaviest(&|d| i64::from(d.active_conns()) <= i64::from(d.weight()))
        );
    }

    #[test]
    fn sh_table_follows_weights_and_keys_follow_the_table(
        weights in prop::collection::vec(0..40u32, 1..12),
        seed in any::<u64>(),
    ) {
        let dests = test_dests(&weights);
        let mut s = SourceHash::new(SchedFlags::default());
        s.update(&dests);
        // Rounds of max(weight, 1) consecutive buckets each, in list order.
        let per_round: Vec<usize> = weights.iter().map(|&w| w.max(1) as usize).collect();
        let round: usize = per_round.iter().sum();
        let (full, mut rest) = (256 / round, 256 % round);
        let want: Vec<usize> = per_round
            .iter()
            .map(|&w| {
                let extra = rest.min(w);
                rest -= extra;
                full * w + extra
            })
            .collect();
        let shares = sh_shares(&s, weights.len());
        prop_assert_eq!(&shares, &want);
        // Keys land in proportion to the buckets, and the same key stays put.
        let mut again = SourceHash::new(SchedFlags::default());
        again.update(&dests);
        let n = 20_000;
        let mut counts = vec![0usize; weights.len()];
        for k in 0..n {
            let c = client(seed.wrapping_add(k));
            let a = s.schedule(&dests, &c);
            prop_assert_eq!(again.schedule(&dests, &c), a);
            prop_assert_eq!(s.schedule(&dests, &c), a);
            if let Some(i) = a {
                counts[i] += 1;
            }
        }
        for (i, &w) in weights.iter().enumerate() {
            let expected = if w > 0 { shares[i] as f64 / 256.0 } else { 0.0 };
            prop_assert!((counts[i] as f64 / n as f64 - expected).abs() < 0.03, "{:?} {:?}", counts, shares);
        }
    }

    #[test]
    fn dh_table_is_even_and_deterministic(n in 1..40usize, seed in any::<u64>()) {
        let dests = test_dests(&vec![3; n]);
        let mut s = DestHash::new();
        s.update(&dests);
        let shares = dh_shares(&s, n);
        for (i, &c) in shares.iter().enumerate() {
            prop_assert_eq!(c, 256 / n + usize::from(i < 256 % n));
        }
        let mut again = DestHash::new();
        again.update(&dests);
        for k in 0..500u64 {
            let mut c = client(seed.wrapping_add(k));
            c.dest_addr = c.client_addr;
            let a = s.schedule(&dests, &c);
            prop_assert!(a.is_some());
            prop_assert_eq!(again.schedule(&dests, &c), a);
        }
    }

    #[test]
    fn never_picks_an_unusable_destination(
        specs in prop::collection::vec(spec(6), 0..10),
        changes in prop::collection::vec((any::<prop::sample::Index>(), 0..4i32), 0..4),
        seed in any::<u64>(),
    ) {
        let dests = build(&specs);
        for kind in SchedulerKind::ALL {
            let mut s = new_scheduler(kind, fallback_port());
            s.update(&dests);
            for k in 0..200u64 {
                let mut c = client(seed.wrapping_add(k));
                c.dest_addr = client(seed.wrapping_add(k % 7)).client_addr;
                c.now = crate::time::Time::from_secs(k);
                let pick = s.schedule(&dests, &c);
                if let Some(i) = pick {
                    prop_assert!(usable(&dests[i]), "{} picked {} of {:?}", kind, i, specs);
                }
                // Everyone but ovf (which also wants room under the weight) and dh
                // (no fallback) finds a usable destination whenever there is one.
                let anyone = dests.iter().any(|d| usable(d));
                if kind != SchedulerKind::Ovf && kind != SchedulerKind::Dh {
                    prop_assert_eq!(pick.is_some(), anyone, "{}", kind);
                }
                s.tick(c.now);
            }
        }
        // Weights edited behind the schedulers' backs (no update) are honoured too.
        let mut scheds: Vec<_> = SchedulerKind::ALL
            .iter()
            .map(|&k| {
                let mut s = new_scheduler(k, fallback_port());
                s.update(&dests);
                s
            })
            .collect();
        if !dests.is_empty() {
            for (at, w) in &changes {
                dests[at.index(dests.len())].set_weight(*w);
            }
        }
        for s in &mut scheds {
            for k in 0..50u64 {
                if let Some(i) = s.schedule(&dests, &client(seed ^ k)) {
                    prop_assert!(usable(&dests[i]), "{:?} picked {}", s.kind(), i);
                }
            }
        }
    }
}

proptest! {
    // Maglev tables take a moment to build in debug builds: fewer cases.
    #![proptest_config(config(24))]

    #[test]
    fn mh_removing_one_of_n_moves_about_one_nth(n in 3..=16usize, gone in any::<prop::sample::Index>(), seed in any::<u64>()) {
        let all = test_dests(&vec![1; n]);
        let gone = gone.index(n);
        let rest: Vec<_> = all.iter().enumerate().filter(|&(i, _)| i != gone).map(|(_, d)| d.clone()).collect();
        let mut s = Maglev::new(SchedFlags::default());
        s.update(&all);
        let keys = 10_000u64;
        let before: Vec<DestId> = (0..keys)
            .map(|k| all[s.schedule(&all, &client(seed.wrapping_add(k))).unwrap()].id())
            .collect();
        s.update(&rest);
        let mut moved = 0;
        let mut moved_elsewhere = 0;
        for k in 0..keys {
            let now = rest[s.schedule(&rest, &client(seed.wrapping_add(k))).unwrap()].id();
            if now != before[k as usize] {
                moved += 1;
                if before[k as usize] != all[gone].id() {
                    moved_elsewhere += 1;
                }
            }
            prop_assert_ne!(now, all[gone].id());
        }
        let frac = moved as f64 / keys as f64;
        let ideal = 1.0 / n as f64;
        prop_assert!((frac - ideal).abs() < 0.03, "moved {} of {} (ideal {:.3})", moved, keys, ideal);
        prop_assert!((moved_elsewhere as f64) < 0.02 * keys as f64, "{} flows of staying servers moved", moved_elsewhere);
    }

    #[test]
    fn mh_shares_track_weights(weights in prop::collection::vec(1..=10u32, 2..10), seed in any::<u64>()) {
        let dests = test_dests(&weights);
        let mut s = Maglev::new(SchedFlags::default());
        s.update(&dests);
        let total: u32 = weights.iter().sum();
        let pos = s.positions(weights.len());
        let keys = 20_000u64;
        let mut counts: HashMap<usize, u64> = HashMap::new();
        for k in 0..keys {
            *counts.entry(s.schedule(&dests, &client(seed.wrapping_add(k))).unwrap()).or_default() += 1;
        }
        for (i, &w) in weights.iter().enumerate() {
            let ideal = f64::from(w) / f64::from(total);
            prop_assert!((pos[i] as f64 / f64::from(s.table_size()) - ideal).abs() < 0.001, "{:?}", pos);
            let share = counts.get(&i).copied().unwrap_or(0) as f64 / keys as f64;
            prop_assert!((share - ideal).abs() < 0.02, "dest {} share {:.3} ideal {:.3}", i, share, ideal);
        }
    }
}
