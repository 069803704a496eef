//! wrr, weighted round robin: IPVS's interleaved form. Passes over the list pick every
//! destination whose weight reaches the current weight `cw`; `cw` starts at the
//! maximum weight and steps down by the gcd of the weights, then starts over. Weights
//! 4, 3, 2 give `A A B A B C A B C` per period.

use std::sync::Arc;

use super::{usable_weight, SchedContext, Scheduler};
use crate::dest::Dest;
use crate::model::SchedulerKind;

/// Weighted round-robin scheduler state.
#[derive(Debug, Default)]
pub struct WeightedRoundRobin {
    /// Index where the current pass resumes (one past the last pick).
    next: usize,
    /// Current weight: a destination qualifies in this pass with weight >= cw.
    cw: i64,
    /// Starting weight of a cycle: the maximum weight lowered by `di - 1`, so that
    /// the last pass of a cycle runs at cw = 1 and still finds a destination whose
    /// weight dropped below the gcd since the last update (as IPVS does).
    mw: i64,
    /// Step between passes: the gcd of the positive weights.
    di: i64,
}

impl WeightedRoundRobin {
    pub fn new() -> WeightedRoundRobin {
        WeightedRoundRobin::default()
    }

    /// The cw of the next pass that can pick something, given that the largest
    /// usable weight is `max_usable` (>= 1): passes with a higher cw would find
    /// nothing, so skip them instead of walking the list for each.
    fn next_cw(&self, max_usable: i64) -> i64 {
        let down_to = |cw: i64| {
            if cw > max_usable {
                cw - (cw - max_usable + self.di - 1) / self.di * self.di
            } else {
                cw
            }
        };
        let mut cw = self.cw - self.di;
        if cw <= 0 {
            cw = self.mw;
        }
        cw = down_to(cw);
        if cw <= 0 {
            cw = down_to(self.mw);
        }
        // cw stays congruent to 1 modulo di, so a pass at 1 always exists.
        cw.max(1)
    }
}

impl Scheduler for WeightedRoundRobin {
    fn kind(&self) -> SchedulerKind {
        SchedulerKind::Wrr
    }

    fn update(&mut self, dests: &[Arc<Dest>]) {
        let mut gcd = 0i64;
        let mut max = 0i64;
        for d in dests.iter().filter(|d| d.is_available()) {
            let w = i64::from(d.weight());
            if w > 0 {
                gcd = if gcd == 0 { w } else { gcd_of(gcd, w) };
            }
            max = max.max(w);
        }
        self.di = gcd.max(1);
        self.mw = if max > 0 { max - (self.di - 1) } else { 0 };
        self.next = 0;
        // Keep the position in the cycle where it still makes sense, aligned to the
        // new step; restart the cycle otherwise (IPVS's rule).
        if self.cw > self.mw || self.cw <= 0 {
            self.cw = self.mw;
        } else if self.di > 1 {
            self.cw = self.cw / self.di * self.di + 1;
        }
    }

    fn schedule(&mut self, dests: &[Arc<Dest>], _ctx: &SchedContext) -> Option<usize> {
        if self.mw <= 0 {
            return None;
        }
        let qualifies = |d: &Dest, cw: i64| usable_weight(d).is_some_and(|w| w as i64 >= cw);

        // Finish the current pass.
        let start = self.next.min(dests.len());
        if let Some(off) = dests[start..].iter().position(|d| qualifies(d, self.cw)) {
            self.next = start + off + 1;
            return Some(start + off);
        }

        let max_usable = dests
            .iter()
            .filter_map(|d| usable_weight(d))
            .max()
            .map_or(0, |w| w as i64);
        if max_usable <= 0 {
            return None;
        }
        // The first new pass finds the heaviest usable destination; a second or third
        // attempt only matters if counters or flags moved under us meanwhile.
        for _ in 0..3 {
            self.cw = self.next_cw(max_usable);
            if let Some(i) = dests.iter().position(|d| qualifies(d, self.cw)) {
                self.next = i + 1;
                return Some(i);
            }
        }
        None
    }
}

fn gcd_of(mut a: i64, mut b: i64) -> i64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sched::testutil::*;

    fn letters(p: &[usize]) -> String {
        p.iter()
            .map(|&i| {
                if i == usize::MAX {
                    '-'
                } else {
                    (b'A' + i as u8) as char
                }
            })
            .collect()
    }

    #[test]
    fn lvs_paper_example_4_3_2() {
        let dests = test_dests(&[4, 3, 2]);
        let mut s = WeightedRoundRobin::new();
        s.update(&dests);
        assert_eq!(letters(&picks(&mut s, &dests, 18)), "AABABCABCAABABCABC");
    }

    #[test]
    fn steps_by_the_gcd() {
        let dests = test_dests(&[4, 2]);
        let mut s = WeightedRoundRobin::new();
        s.update(&dests);
        // mw = 4 - (2 - 1) = 3: passes at cw 3 and 1.
        assert_eq!(letters(&picks(&mut s, &dests, 6)), "AABAAB");
        // gcd 3, mw = 9 - 2 = 7: passes at cw 7, 4 and 1.
        let dests = test_dests(&[6, 9, 3]);
        let mut s = WeightedRoundRobin::new();
        s.update(&dests);
        assert_eq!(letters(&picks(&mut s, &dests, 6)), "BABABC");
    }

    #[test]
    fn skips_quiescent_and_overloaded_even_the_heaviest() {
        let dests = test_dests(&[4, 3, 2, 0]);
        make_overloaded(&dests[0]);
        let mut s = WeightedRoundRobin::new();
        s.update(&dests);
        assert_eq!(letters(&picks(&mut s, &dests, 10)), "BBCBCBBCBC");
    }

    #[test]
    fn weights_changed_since_update() {
        let dests = test_dests(&[4, 3, 2]);
        let mut s = WeightedRoundRobin::new();
        s.update(&dests);
        assert_eq!(letters(&picks(&mut s, &dests, 3)), "AAB");
        dests[0].set_weight(0);
        dests[2].set_weight(0);
        assert_eq!(letters(&picks(&mut s, &dests, 4)), "BBBB");
        dests[1].set_weight(0);
        assert_eq!(letters(&picks(&mut s, &dests, 2)), "--");
        // Raised above the old maximum: qualifies in every pass.
        dests[2].set_weight(9);
        assert_eq!(letters(&picks(&mut s, &dests, 3)), "CCC");
    }

    #[test]
    fn update_keeps_the_cycle_position() {
        let dests = test_dests(&[4, 3, 2]);
        let mut s = WeightedRoundRobin::new();
        s.update(&dests);
        assert_eq!(letters(&picks(&mut s, &dests, 4)), "AABA");
        // cw is 2 here; after an update the pass restarts at the head with cw 2.
        s.update(&dests);
        assert_eq!(letters(&picks(&mut s, &dests, 5)), "ABCAB");
    }

    #[test]
    fn empty_or_all_zero() {
        let mut s = WeightedRoundRobin::new();
        assert_eq!(s.schedule(&[], &ctx_v4(1, 1)), None);
        s.update(&[]);
        assert_eq!(s.schedule(&[], &ctx_v4(1, 1)), None);
        let dests = test_dests(&[0, 0]);
        s.update(&dests);
        assert_eq!(s.schedule(&dests, &ctx_v4(1, 1)), None);
    }
}
