//! The least-connection family, stateless scans over the destination list:
//! lc (least overhead), wlc (least overhead per weight), sed (least expected delay,
//! (active + 1) / weight) and nq (an idle server if there is one, else as sed).
//! Overhead is IPVS's: active connections × 256 + inactive ones. Ties keep the
//! destination earlier in the list.

use std::sync::Arc;

use super::{conn_overhead, lighter, usable_weight, weighted_least, SchedContext, Scheduler};
use crate::dest::Dest;
use crate::model::SchedulerKind;

/// lc: the usable destination with the least connection overhead.
#[derive(Clone, Copy, Debug, Default)]
pub struct LeastConn;

/// wlc: the usable destination with the least overhead / weight.
#[derive(Clone, Copy, Debug, Default)]
pub struct WeightedLeastConn;

/// sed: the usable destination with the least (active + 1) / weight; inactive
/// connections do not count.
#[derive(Clone, Copy, Debug, Default)]
pub struct ShortestExpectedDelay;

/// nq: the first usable destination with no active connection; failing that, as sed.
#[derive(Clone, Copy, Debug, Default)]
pub struct NeverQueue;

/// sed's and nq's cost: the connection in hand joins the active ones.
fn expected_delay(d: &Dest) -> u64 {
    u64::from(d.active_conns()) + 1
}

impl Scheduler for LeastConn {
    fn kind(&self) -> SchedulerKind {
        SchedulerKind::Lc
    }
    fn update(&mut self, _dests: &[Arc<Dest>]) {}
    fn schedule(&mut self, dests: &[Arc<Dest>], _ctx: &SchedContext) -> Option<usize> {
        let mut best: Option<(usize, u64)> = None;
        for (i, d) in dests.iter().enumerate() {
            if usable_weight(d).is_none() {
                continue;
            }
            let oh = conn_overhead(d);
            if best.is_none_or(|(_, least)| oh < least) {
                best = Some((i, oh));
            }
        }
        best.map(|(i, _)| i)
    }
}

impl Scheduler for WeightedLeastConn {
    fn kind(&self) -> SchedulerKind {
        SchedulerKind::Wlc
    }
    fn update(&mut self, _dests: &[Arc<Dest>]) {}
    fn schedule(&mut self, dests: &[Arc<Dest>], _ctx: &SchedContext) -> Option<usize> {
        weighted_least(dests, conn_overhead)
    }
}

impl Scheduler for ShortestExpectedDelay {
    fn kind(&self) -> SchedulerKind {
        SchedulerKind::Sed
    }
    fn update(&mut self, _dests: &[Arc<Dest>]) {}
    fn schedule(&mut self, dests: &[Arc<Dest>], _ctx: &SchedContext) -> Option<usize> {
        weighted_least(dests, expected_delay)
    }
}

impl Scheduler for NeverQueue {
    fn kind(&self) -> SchedulerKind {
        SchedulerKind::Nq
    }
    fn update(&mut self, _dests: &[Arc<Dest>]) {}
    fn schedule(&mut self, dests: &[Arc<Dest>], _ctx: &SchedContext) -> Option<usize> {
        // One pass as in IPVS: an idle server ends the scan at once; otherwise the
        // running sed minimum is the answer.
        let mut best: Option<(usize, u64, u64)> = None;
        for (i, d) in dests.iter().enumerate() {
            let Some(w) = usable_weight(d) else { continue };
            if d.active_conns() == 0 {
                return Some(i);
            }
            let cost = expected_delay(d);
            match best {
                Some((_, least, lw)) if !lighter(cost, w, least, lw) => {}
                _ => best = Some((i, cost, w)),
            }
        }
        best.map(|(i, _, _)| i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sched::testutil::*;

    fn pick(s: &mut dyn Scheduler, dests: &[Arc<Dest>]) -> Option<usize> {
        s.update(dests);
        s.schedule(dests, &ctx_v4(1, 1))
    }

    #[test]
    fn lc_counts_active_as_256_inactive() {
        let dests = test_dests(&[1, 1, 1]);
        set_conns(&dests[0], 1, 0); // 256
        set_conns(&dests[1], 0, 255); // 255
        set_conns(&dests[2], 0, 300); // 300
        assert_eq!(pick(&mut LeastConn, &dests), Some(1));
        set_conns(&dests[1], 0, 256); // tie with dests[0]: the first wins
        assert_eq!(pick(&mut LeastConn, &dests), Some(0));
    }

    #[test]
    fn lc_ignores_weight_but_not_quiescence() {
        let dests = test_dests(&[1, 100, 0]);
        set_conns(&dests[0], 0, 1);
        set_conns(&dests[1], 0, 2);
        assert_eq!(pick(&mut LeastConn, &dests), Some(0));
        make_overloaded(&dests[0]);
        assert_eq!(pick(&mut LeastConn, &dests), Some(1));
    }

    #[test]
    fn wlc_divides_by_weight() {
        // A: 256/1, B: 512/3 (170.7), C: 300/2 (150) -> C.
        let dests = test_dests(&[1, 3, 2]);
        set_conns(&dests[0], 1, 0);
        set_conns(&dests[1], 2, 0);
        set_conns(&dests[2], 1, 44);
        assert_eq!(pick(&mut WeightedLeastConn, &dests), Some(2));
        // Equal ratios (256/1 vs 512/2) keep the first.
        let dests = test_dests(&[1, 2]);
        set_conns(&dests[0], 1, 0);
        set_conns(&dests[1], 2, 0);
        assert_eq!(pick(&mut WeightedLeastConn, &dests), Some(0));
        // All idle: the first usable one.
        let dests = test_dests(&[0, 5, 9]);
        assert_eq!(pick(&mut WeightedLeastConn, &dests), Some(1));
    }

    #[test]
    fn sed_counts_the_new_connection_and_only_active_ones() {
        // wlc would pick A (0 overhead); sed compares 1/1 with (2+1)/4 and picks B.
        let dests = test_dests(&[1, 4]);
        set_conns(&dests[1], 2, 1000);
        assert_eq!(pick(&mut WeightedLeastConn, &dests), Some(0));
        assert_eq!(pick(&mut ShortestExpectedDelay, &dests), Some(1));
    }

    #[test]
    fn nq_prefers_an_idle_server_else_sed() {
        let dests = test_dests(&[1, 4, 1]);
        set_conns(&dests[0], 1, 0);
        set_conns(&dests[1], 2, 0);
        assert_eq!(pick(&mut NeverQueue, &dests), Some(2), "idle C");
        set_conns(&dests[2], 1, 0);
        // A: 2/1, B: 3/4, C: 2/1 -> B.
        assert_eq!(pick(&mut NeverQueue, &dests), Some(1));
        // An idle but quiescent server does not count.
        dests[0].set_weight(0);
        set_conns(&dests[0], 0, 0);
        assert_eq!(pick(&mut NeverQueue, &dests), Some(1));
    }

    #[test]
    fn load_comparison_cannot_overflow() {
        let huge_overhead = (u64::from(u32::MAX) << 8) + u64::from(u32::MAX);
        let huge_weight = i32::MAX as u64;
        assert!(lighter(
            huge_overhead - 1,
            huge_weight,
            huge_overhead,
            huge_weight
        ));
        assert!(!lighter(
            huge_overhead,
            huge_weight,
            huge_overhead,
            huge_weight
        ));
        assert!(lighter(
            huge_overhead,
            huge_weight,
            huge_overhead,
            huge_weight - 1
        ));
        assert!(!lighter(1, 1, 0, huge_weight));
    }

    #[test]
    fn all_none_when_nothing_usable() {
        let dests = test_dests(&[0, 1]);
        make_overloaded(&dests[1]);
        for s in [
            &mut LeastConn as &mut dyn Scheduler,
            &mut WeightedLeastConn,
            &mut ShortestExpectedDelay,
            &mut NeverQueue,
        ] {
            assert_eq!(pick(s, &dests), None);
            assert_eq!(s.schedule(&[], &ctx_v4(1, 1)), None);
        }
    }
}
