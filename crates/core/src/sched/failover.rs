//! fo and ovf, the weight-ordered schedulers. fo (weighted failover) sends every new
//! connection to the usable destination with the highest weight. ovf (overflow
//! connection) does the same but passes over a destination once its active
//! connections exceed its weight, overflowing to the next heaviest. Ties keep the
//! destination earlier in the list.

use std::sync::Arc;

use super::{usable_weight, SchedContext, Scheduler};
use crate::dest::Dest;
use crate::model::SchedulerKind;

/// fo: weighted failover.
#[derive(Clone, Copy, Debug, Default)]
pub struct WeightedFailover;

/// ovf: overflow connection.
#[derive(Clone, Copy, Debug, Default)]
pub struct Overflow;

/// The first destination of the highest weight among those `eligible` lets through.
fn heaviest(dests: &[Arc<Dest>], eligible: impl Fn(&Dest, u64) -> bool) -> Option<usize> {
    let mut best: Option<(usize, u64)> = None;
    for (i, d) in dests.iter().enumerate() {
        let Some(w) = usable_weight(d) else { continue };
        if eligible(d, w) && best.is_none_or(|(_, bw)| w > bw) {
            best = Some((i, w));
        }
    }
    best.map(|(i, _)| i)
}

impl Scheduler for WeightedFailover {
    fn kind(&self) -> SchedulerKind {
        SchedulerKind::Fo
    }
    fn update(&mut self, _dests: &[Arc<Dest>]) {}
    fn schedule(&mut self, dests: &[Arc<Dest>], _ctx: &SchedContext) -> Option<usize> {
        heaviest(dests, |_, _| true)
    }
}

impl Scheduler for Overflow {
    fn kind(&self) -> SchedulerKind {
        SchedulerKind::Ovf
    }
    fn update(&mut self, _dests: &[Arc<Dest>]) {}
    fn schedule(&mut self, dests: &[Arc<Dest>], _ctx: &SchedContext) -> Option<usize> {
        // IPVS skips a destination when activeconns > weight, so one at exactly its
        // weight still takes the next connection.
        heaviest(dests, |d, w| u64::from(d.active_conns()) <= w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sched::testutil::*;

    fn pick(s: &mut dyn Scheduler, dests: &[Arc<Dest>]) -> Option<usize> {
        s.schedule(dests, &ctx_v4(1, 1))
    }

    #[test]
    fn fo_takes_the_heaviest_and_fails_over_in_weight_order() {
        let dests = test_dests(&[3, 10, 5, 10]);
        set_conns(&dests[1], 1000, 0);
        assert_eq!(
            pick(&mut WeightedFailover, &dests),
            Some(1),
            "load is ignored"
        );
        make_overloaded(&dests[1]);
        assert_eq!(pick(&mut WeightedFailover, &dests), Some(3));
        dests[3].set_weight(0);
        assert_eq!(pick(&mut WeightedFailover, &dests), Some(2));
        dests[2].set_weight(0);
        dests[0].set_weight(0);
        assert_eq!(pick(&mut WeightedFailover, &dests), None);
        assert_eq!(pick(&mut WeightedFailover, &[]), None);
    }

    #[test]
    fn ovf_overflows_when_active_exceeds_weight() {
        let dests = test_dests(&[2, 3, 1]);
        assert_eq!(pick(&mut Overflow, &dests), Some(1));
        set_conns(&dests[1], 3, 50);
        assert_eq!(
            pick(&mut Overflow, &dests),
            Some(1),
            "3 active at weight 3 still fits"
        );
        set_conns(&dests[1], 4, 0);
        assert_eq!(pick(&mut Overflow, &dests), Some(0));
        set_conns(&dests[0], 3, 0);
        assert_eq!(pick(&mut Overflow, &dests), Some(2));
        set_conns(&dests[2], 2, 0);
        assert_eq!(pick(&mut Overflow, &dests), None, "everyone above weight");
        set_conns(&dests[2], 0, 0);
        make_overloaded(&dests[2]);
        assert_eq!(pick(&mut Overflow, &dests), None);
    }
}
