//! rr, round robin: walk the destination list circularly, continuing after the last
//! pick, and take the first destination that may receive connections.

use std::sync::Arc;

use super::{SchedContext, Scheduler};
use crate::dest::{Dest, DestId};
use crate::model::SchedulerKind;

/// Round-robin scheduler state: where the circular walk resumes.
#[derive(Debug, Default)]
pub struct RoundRobin {
    /// Index of the destination to examine first (one past the last pick).
    next: usize,
    /// The last pick, to find our place again when the list changes.
    last: Option<DestId>,
}

impl RoundRobin {
    pub fn new() -> RoundRobin {
        RoundRobin::default()
    }
}

impl Scheduler for RoundRobin {
    fn kind(&self) -> SchedulerKind {
        SchedulerKind::Rr
    }

    fn update(&mut self, dests: &[Arc<Dest>]) {
        // Resume after the last pick wherever it now sits. When it was removed, its
        // successor moved into its index, which is where IPVS continues too.
        match self
            .last
            .and_then(|id| dests.iter().position(|d| d.id() == id))
        {
            Some(i) => self.next = i + 1,
            None => self.next = self.next.saturating_sub(1),
        }
    }

    fn schedule(&mut self, dests: &[Arc<Dest>], _ctx: &SchedContext) -> Option<usize> {
        let n = dests.len();
        let start = if self.next < n { self.next } else { 0 };
        let found = (start..n)
            .chain(0..start)
            .find(|&i| dests[i].is_schedulable())?;
        self.next = found + 1;
        self.last = Some(dests[found].id());
        Some(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sched::testutil::*;

    #[test]
    fn cycles_and_skips_quiescent_and_overloaded() {
        let dests = test_dests(&[1, 0, 5, 1]);
        make_overloaded(&dests[3]);
        let mut s = RoundRobin::new();
        s.update(&dests);
        assert_eq!(picks(&mut s, &dests, 5), vec![0, 2, 0, 2, 0]);
    }

    #[test]
    fn continues_after_last_pick_across_updates() {
        let dests = test_dests(&[1, 1, 1, 1]);
        let mut s = RoundRobin::new();
        s.update(&dests);
        assert_eq!(picks(&mut s, &dests, 2), vec![0, 1]);
        // Remove the last pick (index 1): IPVS continues with its successor.
        let fewer: Vec<_> = [0, 2, 3].iter().map(|&i| dests[i].clone()).collect();
        s.update(&fewer);
        assert_eq!(picks(&mut s, &fewer, 3), vec![1, 2, 0]);
        // Add one in front: the walk follows the last pick (index 0 = dests[0]).
        let more: Vec<_> = [3, 0, 2].iter().map(|&i| dests[i].clone()).collect();
        s.update(&more);
        assert_eq!(picks(&mut s, &more, 2), vec![2, 0]);
    }

    #[test]
    fn none_when_nothing_schedulable() {
        let mut s = RoundRobin::new();
        assert_eq!(s.schedule(&[], &ctx_v4(1, 1)), None);
        let dests = test_dests(&[0, 0]);
        s.update(&dests);
        assert_eq!(s.schedule(&dests, &ctx_v4(1, 1)), None);
        // A weight raised without an update is honoured at once.
        dests[1].set_weight(3);
        assert_eq!(s.schedule(&dests, &ctx_v4(1, 1)), Some(1));
    }
}
