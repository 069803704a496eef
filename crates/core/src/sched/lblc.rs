//! lblc, locality-based least connection: remember a destination per destination
//! address (cache clusters: one real server per origin site). A new destination
//! address, or one whose remembered server is unusable or overloaded in lblc's sense
//! (more active connections than its weight while another server is under half its
//! weight), is given to the wlc choice, which is then remembered. Entries idle for
//! `lblc_expiration` (default a day) are swept; the table is bounded (16K entries).

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::locality::{LocalityTable, MAX_ENTRIES};
use super::{
    conn_overhead, locality_overloaded, usable_weight, weighted_least, SchedContext, Scheduler,
};
use crate::dest::{Dest, DestId};
use crate::model::SchedulerKind;
use crate::time::Time;

/// IPVS's default of the `lblc_expiration` sysctl: 24 hours.
pub const DEFAULT_EXPIRATION: Duration = Duration::from_secs(24 * 60 * 60);

/// Locality-based least-connection scheduler.
pub struct Lblc {
    /// Destination address → index of the remembered destination.
    table: LocalityTable<u32>,
    expiration: Duration,
    /// Ids of the list the indices refer to, to carry entries across updates.
    ids: Vec<DestId>,
}

impl Lblc {
    pub fn new() -> Lblc {
        Lblc::with_expiration(DEFAULT_EXPIRATION)
    }

    /// With a non-default `lblc_expiration`.
    pub fn with_expiration(expiration: Duration) -> Lblc {
        Lblc::with_limits(expiration, MAX_ENTRIES)
    }

    /// With a non-default expiration and table bound.
    pub fn with_limits(expiration: Duration, max_entries: usize) -> Lblc {
        Lblc {
            table: LocalityTable::new(max_entries),
            expiration,
            ids: Vec::new(),
        }
    }

    /// Number of destination addresses remembered.
    pub fn entries(&self) -> usize {
        self.table.len()
    }
}

impl Default for Lblc {
    fn default() -> Lblc {
        Lblc::new()
    }
}

impl fmt::Debug for Lblc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lblc")
            .field("entries", &self.table.len())
            .field("expiration", &self.expiration)
            .finish_non_exhaustive()
    }
}

impl Scheduler for Lblc {
    fn kind(&self) -> SchedulerKind {
        SchedulerKind::Lblc
    }

    fn update(&mut self, dests: &[Arc<Dest>]) {
        // Entries refer to destinations by index: re-point them at the new list and
        // forget those whose destination left (IPVS would reschedule them anyway).
        let new_index: HashMap<DestId, u32> = dests
            .iter()
            .enumerate()
            .map(|(i, d)| (d.id(), i as u32))
            .collect();
        let old_ids = &self.ids;
        self.table.retain(|e| {
            let moved = old_ids
                .get(e.value as usize)
                .and_then(|id| new_index.get(id));
            match moved {
                Some(&i) => {
                    e.value = i;
                    true
                }
                None => false,
            }
        });
        self.ids = dests.iter().map(|d| d.id()).collect();
    }

    fn schedule(&mut self, dests: &[Arc<Dest>], ctx: &SchedContext) -> Option<usize> {
        let slot = self.table.find(ctx.dest_addr);
        if let Some(e) = slot.and_then(|s| self.table.entry_mut(s)) {
            e.last_use = ctx.now;
            let i = e.value as usize;
            if let Some(d) = dests.get(i) {
                if usable_weight(d).is_some() && !locality_overloaded(d, dests) {
                    return Some(i);
                }
            }
        }
        let i = weighted_least(dests, conn_overhead)?;
        match slot.and_then(|s| self.table.entry_mut(s)) {
            Some(e) => e.value = i as u32,
            None => {
                // A full table only means this address is not remembered.
                let _ = self.table.insert(ctx.dest_addr, i as u32, ctx.now);
            }
        }
        Some(i)
    }

    fn tick(&mut self, now: Time) {
        self.table.collect(now, self.expiration, |_| {});
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sched::testutil::*;

    fn at(vip: u8, secs: u64) -> SchedContext {
        let mut c = ctx_v4(1, vip);
        c.now = Time::from_secs(secs);
        c
    }

    #[test]
    fn remembers_the_wlc_choice_per_destination_address() {
        let dests = test_dests(&[1, 1, 1]);
        set_conns(&dests[0], 0, 5);
        set_conns(&dests[2], 0, 9);
        let mut s = Lblc::new();
        s.update(&dests);
        assert_eq!(
            s.schedule(&dests, &at(10, 0)),
            Some(1),
            "wlc: least overhead"
        );
        // Load moves, but 192.0.2.10 stays with its server.
        set_conns(&dests[1], 0, 100);
        assert_eq!(s.schedule(&dests, &at(10, 1)), Some(1));
        // Another destination address gets the current wlc choice.
        assert_eq!(s.schedule(&dests, &at(11, 1)), Some(0));
        assert_eq!(s.entries(), 2);
    }

    #[test]
    fn moves_when_overloaded_and_someone_is_under_half_load() {
        let dests = test_dests(&[2, 4]);
        set_conns(&dests[1], 1, 0);
        let mut s = Lblc::new();
        s.update(&dests);
        assert_eq!(s.schedule(&dests, &at(1, 0)), Some(0));
        // 3 active > weight 2, but B has 3 active (not under 4/2): stay.
        set_conns(&dests[0], 3, 0);
        set_conns(&dests[1], 3, 0);
        assert_eq!(s.schedule(&dests, &at(1, 0)), Some(0));
        // B drops to 1 active (1*2 < 4): reassign via wlc to B, and remember.
        set_conns(&dests[1], 1, 0);
        assert_eq!(s.schedule(&dests, &at(1, 0)), Some(1));
        set_conns(&dests[0], 0, 0);
        assert_eq!(s.schedule(&dests, &at(1, 0)), Some(1));
    }

    #[test]
    fn unusable_remembered_server_is_replaced() {
        let dests = test_dests(&[1, 1]);
        let mut s = Lblc::new();
        s.update(&dests);
        assert_eq!(s.schedule(&dests, &at(1, 0)), Some(0));
        dests[0].set_weight(0);
        assert_eq!(s.schedule(&dests, &at(1, 0)), Some(1));
        dests[0].set_weight(1);
        assert_eq!(
            s.schedule(&dests, &at(1, 0)),
            Some(1),
            "the new choice stays"
        );
        dests[1].set_weight(0);
        make_overloaded(&dests[0]);
        assert_eq!(s.schedule(&dests, &at(1, 0)), None);
    }

    #[test]
    fn entries_follow_their_destination_across_updates() {
        let dests = test_dests(&[1, 1, 1]);
        set_conns(&dests[0], 0, 1);
        set_conns(&dests[1], 0, 1);
        let mut s = Lblc::new();
        s.update(&dests);
        assert_eq!(s.schedule(&dests, &at(1, 0)), Some(2));
        set_conns(&dests[2], 0, 1);
        assert_eq!(s.schedule(&dests, &at(2, 0)), Some(0));
        // Drop dests[0], put dests[2] first.
        let new = vec![dests[2].clone(), dests[1].clone()];
        s.update(&new);
        assert_eq!(s.entries(), 1);
        assert_eq!(s.schedule(&new, &at(1, 0)), Some(0), "still dests[2]");
        assert_eq!(s.schedule(&new, &at(2, 0)), Some(0), "rescheduled by wlc");
    }

    #[test]
    fn idle_entries_expire() {
        let dests = test_dests(&[1, 1]);
        let mut s = Lblc::with_expiration(Duration::from_secs(3600));
        s.update(&dests);
        s.schedule(&dests, &at(1, 0));
        s.schedule(&dests, &at(2, 0));
        let mut t = 0;
        while t <= 2 * 3600 {
            if t % 600 == 0 {
                s.schedule(&dests, &at(2, t)); // keeps 192.0.2.2 in use
            }
            s.tick(Time::from_secs(t));
            t += 60;
        }
        assert_eq!(s.entries(), 1);
        assert!(s.table.find(ctx_v4(1, 2).dest_addr).is_some());
    }

    #[test]
    fn bounded_table() {
        let dests = test_dests(&[1]);
        let mut s = Lblc::with_limits(DEFAULT_EXPIRATION, 8);
        s.update(&dests);
        for vip in 0..=255u8 {
            assert_eq!(s.schedule(&dests, &at(vip, 0)), Some(0));
        }
        assert_eq!(s.entries(), 8);
    }
}
