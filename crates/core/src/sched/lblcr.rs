//! lblcr, locality-based least connection with replication: remember a *set* of
//! destinations per destination address. A connection goes to the set's member with
//! the least overhead per weight; when that member is overloaded in lblc's sense (or
//! the set has none usable), the service-wide wlc choice joins the set. A set that
//! has not changed for `lblcr_expiration` (default a day) sheds its most loaded
//! member. Entries idle for that long are swept; the table is bounded (16K entries)
//! and so is the pool of set members (64K), both reserved up front.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::locality::{LocalityTable, MAX_ENTRIES};
use super::{
    conn_overhead, lighter, locality_overloaded, usable_weight, weighted_least, SchedContext,
    Scheduler,
};
use crate::dest::{Dest, DestId};
use crate::model::SchedulerKind;
use crate::time::Time;

/// IPVS's default of the `lblcr_expiration` sysctl: 24 hours.
pub const DEFAULT_EXPIRATION: Duration = Duration::from_secs(24 * 60 * 60);
/// Set members available to all entries together.
pub const MAX_MEMBERS: usize = 4 * MAX_ENTRIES;

const NIL: u32 = u32::MAX;

/// One destination of a set, chained to the next member.
#[derive(Clone, Copy)]
struct Member {
    dest: u32,
    next: u32,
}

/// The destination set of one destination address: a chain in the member pool,
/// newest member first (IPVS adds at the head).
#[derive(Clone, Copy)]
struct DestSet {
    head: u32,
    size: u32,
    last_mod: Time,
}

/// Storage for all set members, reserved once; freed members are reused.
struct MemberPool {
    slots: Vec<Member>,
    free: u32,
}

impl MemberPool {
    fn new(max: usize) -> MemberPool {
        MemberPool {
            slots: Vec::with_capacity(max.clamp(1, NIL as usize - 1)),
            free: NIL,
        }
    }

    fn get(&self, at: u32) -> Option<Member> {
        self.slots.get(at as usize).copied()
    }

    fn alloc(&mut self, m: Member) -> Option<u32> {
        if self.free != NIL {
            let at = self.free;
            let slot = self.slots.get_mut(at as usize)?;
            self.free = slot.next;
            *slot = m;
            Some(at)
        } else if self.slots.len() < self.slots.capacity() {
            self.slots.push(m);
            Some((self.slots.len() - 1) as u32)
        } else {
            None
        }
    }

    fn release(&mut self, at: u32) {
        if let Some(slot) = self.slots.get_mut(at as usize) {
            slot.next = self.free;
            self.free = at;
        }
    }

    /// Iterate the destination indices of `set`.
    fn members(&self, set: &DestSet) -> impl Iterator<Item = u32> + '_ {
        let mut at = set.head;
        std::iter::from_fn(move || {
            let m = self.get(at)?;
            at = m.next;
            Some(m.dest)
        })
    }

    fn contains(&self, set: &DestSet, dest: u32) -> bool {
        self.members(set).any(|d| d == dest)
    }

    /// Add `dest` at the head of `set` unless present. When the pool is exhausted
    /// the set simply does not grow (the caller still uses `dest`).
    fn insert(&mut self, set: &mut DestSet, dest: u32, now: Time) {
        if self.contains(set, dest) {
            return;
        }
        if let Some(at) = self.alloc(Member {
            dest,
            next: set.head,
        }) {
            set.head = at;
            set.size += 1;
            set.last_mod = now;
        }
    }

    /// Drop the members for which `keep` says false (it may also rewrite them).
    fn retain(&mut self, set: &mut DestSet, mut keep: impl FnMut(&mut u32) -> bool) {
        let mut prev = NIL;
        let mut at = set.head;
        while let Some(mut m) = self.get(at) {
            let next = m.next;
            if keep(&mut m.dest) {
                if let Some(slot) = self.slots.get_mut(at as usize) {
                    slot.dest = m.dest;
                }
                prev = at;
            } else {
                match self.slots.get_mut(prev as usize) {
                    Some(p) if prev != NIL => p.next = next,
                    _ => set.head = next,
                }
                self.release(at);
                set.size -= 1;
            }
            at = next;
        }
    }

    fn clear(&mut self, set: &DestSet) {
        let mut at = set.head;
        while let Some(m) = self.get(at) {
            self.release(at);
            at = m.next;
        }
    }
}

/// The set member with the least overhead per weight (IPVS's `ip_vs_dest_set_min`):
/// the first usable member is the candidate; later ones replace it when strictly
/// less loaded.
fn set_min(pool: &MemberPool, set: &DestSet, dests: &[Arc<Dest>]) -> Option<usize> {
    let mut best: Option<(usize, u64, u64)> = None;
    for i in pool.members(set) {
        let i = i as usize;
        let Some(d) = dests.get(i) else { continue };
        let Some(w) = usable_weight(d) else { continue };
        let oh = conn_overhead(d);
        match best {
            Some((_, loh, lw)) if !lighter(oh, w, loh, lw) => {}
            _ => best = Some((i, oh, w)),
        }
    }
    best.map(|(i, _, _)| i)
}

/// The set member with the most overhead per weight among those of positive weight
/// (IPVS's `ip_vs_dest_set_max`): the one to shed when the set grew stale.
fn set_max(pool: &MemberPool, set: &DestSet, dests: &[Arc<Dest>]) -> Option<u32> {
    let mut worst: Option<(u32, u64, u64)> = None;
    for i in pool.members(set) {
        let Some(d) = dests.get(i as usize) else {
            continue;
        };
        let w = d.weight();
        if w <= 0 {
            continue;
        }
        let (oh, w) = (conn_overhead(d), w as u64);
        match worst {
            Some((_, moh, mw)) if !lighter(moh, mw, oh, w) => {}
            _ => worst = Some((i, oh, w)),
        }
    }
    worst.map(|(i, _, _)| i)
}

/// Locality-based least-connection with replication scheduler.
pub struct Lblcr {
    table: LocalityTable<DestSet>,
    pool: MemberPool,
    expiration: Duration,
    /// Ids of the list the member indices refer to, to carry sets across updates.
    ids: Vec<DestId>,
}

impl Lblcr {
    pub fn new() -> Lblcr {
        Lblcr::with_expiration(DEFAULT_EXPIRATION)
    }

    /// With a non-default `lblcr_expiration` (set shrinking and entry expiry).
    pub fn with_expiration(expiration: Duration) -> Lblcr {
        Lblcr::with_limits(expiration, MAX_ENTRIES, MAX_MEMBERS)
    }

    /// With non-default expiration, table bound and member pool size.
    pub fn with_limits(expiration: Duration, max_entries: usize, max_members: usize) -> Lblcr {
        Lblcr {
            table: LocalityTable::new(max_entries),
            pool: MemberPool::new(max_members),
            expiration,
            ids: Vec::new(),
        }
    }

    /// Number of destination addresses remembered.
    pub fn entries(&self) -> usize {
        self.table.len()
    }

    /// The destination indices remembered for `addr`, newest first (diagnostics).
    pub fn dest_set(&self, addr: std::net::IpAddr) -> Vec<usize> {
        match self.table.find(addr).and_then(|s| self.table.entry(s)) {
            Some(e) => self.pool.members(&e.value).map(|i| i as usize).collect(),
            None => Vec::new(),
        }
    }
}

impl Default for Lblcr {
    fn default() -> Lblcr {
        Lblcr::new()
    }
}

impl fmt::Debug for Lblcr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lblcr")
            .field("entries", &self.table.len())
            .field("expiration", &self.expiration)
            .finish_non_exhaustive()
    }
}

impl Scheduler for Lblcr {
    fn kind(&self) -> SchedulerKind {
        SchedulerKind::Lblcr
    }

    fn update(&mut self, dests: &[Arc<Dest>]) {
        // Re-point members at the new list; members whose destination left go.
        let new_index: HashMap<DestId, u32> = dests
            .iter()
            .enumerate()
            .map(|(i, d)| (d.id(), i as u32))
            .collect();
        let old_ids = &self.ids;
        let pool = &mut self.pool;
        self.table.retain(|e| {
            pool.retain(&mut e.value, |dest| {
                match old_ids.get(*dest as usize).and_then(|id| new_index.get(id)) {
                    Some(&i) => {
                        *dest = i;
                        true
                    }
                    None => false,
                }
            });
            true
        });
        self.ids = dests.iter().map(|d| d.id()).collect();
    }

    fn schedule(&mut self, dests: &[Arc<Dest>], ctx: &SchedContext) -> Option<usize> {
        let now = ctx.now;
        let slot = self.table.find(ctx.dest_addr);
        let Some(e) = slot.and_then(|s| self.table.entry_mut(s)) else {
            let i = weighted_least(dests, conn_overhead)?;
            let mut set = DestSet {
                head: NIL,
                size: 0,
                last_mod: now,
            };
            self.pool.insert(&mut set, i as u32, now);
            if self.table.insert(ctx.dest_addr, set, now).is_none() {
                // Not remembered (table full): give the member back.
                self.pool.clear(&set);
            }
            return Some(i);
        };
        e.last_use = now;
        let set = &mut e.value;
        let pick = set_min(&self.pool, set, dests);
        // A set unchanged for the expiration time sheds its most loaded member.
        if set.size > 1 && now > set.last_mod + self.expiration {
            if let Some(m) = set_max(&self.pool, set, dests) {
                self.pool.retain(set, |d| *d != m);
                set.last_mod = now;
            }
        }
        if let Some(i) = pick {
            if !locality_overloaded(&dests[i], dests) {
                return Some(i);
            }
        }
        let i = weighted_least(dests, conn_overhead)?;
        self.pool.insert(set, i as u32, now);
        Some(i)
    }

    fn tick(&mut self, now: Time) {
        let pool = &mut self.pool;
        self.table
            .collect(now, self.expiration, |set| pool.clear(&set));
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

    fn set_of(s: &Lblcr, vip: u8) -> Vec<usize> {
        s.dest_set(at(vip, 0).dest_addr)
    }

    #[test]
    fn set_grows_under_overload_and_spreads_over_members() {
        let dests = test_dests(&[1, 1, 4]);
        set_conns(&dests[1], 1, 0);
        set_conns(&dests[2], 3, 0);
        let mut s = Lblcr::new();
        s.update(&dests);
        assert_eq!(s.schedule(&dests, &at(1, 0)), Some(0));
        assert_eq!(set_of(&s, 1), vec![0]);
        // A: 2 active > weight 1, but nobody is under half its weight: stays.
        set_conns(&dests[0], 2, 0);
        assert_eq!(s.schedule(&dests, &at(1, 1)), Some(0));
        // C drops to 1 active (2 < 4): A counts as overloaded; wlc picks C
        // (256/4 against A's 512/1 and B's 256/1) and C joins the set.
        set_conns(&dests[2], 1, 0);
        assert_eq!(s.schedule(&dests, &at(1, 2)), Some(2));
        assert_eq!(set_of(&s, 1), vec![2, 0]);
        assert_eq!(s.schedule(&dests, &at(1, 3)), Some(2));
        // The set's least loaded member serves: now A.
        set_conns(&dests[2], 3, 0);
        set_conns(&dests[0], 0, 0);
        assert_eq!(s.schedule(&dests, &at(1, 4)), Some(0));
        assert_eq!(
            set_of(&s, 1),
            vec![2, 0],
            "no growth while a member is fine"
        );
    }

    #[test]
    fn stale_set_sheds_its_most_loaded_member() {
        let dests = test_dests(&[1, 1]);
        let mut s = Lblcr::with_expiration(Duration::from_secs(100));
        s.update(&dests);
        assert_eq!(s.schedule(&dests, &at(1, 0)), Some(0));
        set_conns(&dests[0], 3, 0); // overloaded, and B is under half its weight
        assert_eq!(s.schedule(&dests, &at(1, 10)), Some(1));
        assert_eq!(set_of(&s, 1), vec![1, 0]);
        set_conns(&dests[0], 1, 0);
        // Within the expiration: both stay.
        assert_eq!(s.schedule(&dests, &at(1, 100)), Some(1));
        assert_eq!(set_of(&s, 1).len(), 2);
        // Past it (last change at 10 s): A (more loaded) is dropped.
        assert_eq!(s.schedule(&dests, &at(1, 111)), Some(1));
        assert_eq!(set_of(&s, 1), vec![1]);
        // A single member is never shed.
        assert_eq!(s.schedule(&dests, &at(1, 1000)), Some(1));
        assert_eq!(set_of(&s, 1), vec![1]);
    }

    #[test]
    fn unusable_members_are_skipped() {
        let dests = test_dests(&[1, 1, 1]);
        let mut s = Lblcr::new();
        s.update(&dests);
        assert_eq!(s.schedule(&dests, &at(1, 0)), Some(0));
        dests[0].set_weight(0);
        assert_eq!(s.schedule(&dests, &at(1, 0)), Some(1));
        assert_eq!(set_of(&s, 1), vec![1, 0]);
        make_overloaded(&dests[1]);
        assert_eq!(s.schedule(&dests, &at(1, 0)), Some(2));
        dests[2].set_weight(0);
        assert_eq!(s.schedule(&dests, &at(1, 0)), None);
    }

    #[test]
    fn members_follow_their_destination_across_updates() {
        let dests = test_dests(&[1, 1, 1]);
        let mut s = Lblcr::new();
        s.update(&dests);
        s.schedule(&dests, &at(1, 0));
        dests[0].set_weight(0);
        s.schedule(&dests, &at(1, 0));
        assert_eq!(set_of(&s, 1), vec![1, 0]);
        let new = vec![dests[2].clone(), dests[1].clone()];
        s.update(&new);
        assert_eq!(
            set_of(&s, 1),
            vec![1],
            "dests[0] left, dests[1] is now index 1"
        );
        assert_eq!(s.schedule(&new, &at(1, 0)), Some(1));
    }

    #[test]
    fn idle_entries_expire_and_return_their_members() {
        let dests = test_dests(&[1]);
        let mut s = Lblcr::with_limits(Duration::from_secs(3600), 4, 4);
        s.update(&dests);
        for vip in 0..4 {
            s.schedule(&dests, &at(vip, 0));
        }
        assert_eq!(s.entries(), 4);
        for t in (0..=2 * 3600).step_by(60) {
            s.tick(Time::from_secs(t));
        }
        assert_eq!(s.entries(), 0);
        // The pool is whole again: four new entries fit.
        for vip in 10..14 {
            s.schedule(&dests, &at(vip, 7200));
        }
        assert_eq!(s.entries(), 4);
        assert!((10..14).all(|v| set_of(&s, v) == vec![0]));
    }

    #[test]
    fn exhausted_pool_still_schedules() {
        let dests = test_dests(&[1, 1]);
        let mut s = Lblcr::with_limits(DEFAULT_EXPIRATION, 16, 1);
        s.update(&dests);
        assert_eq!(s.schedule(&dests, &at(1, 0)), Some(0));
        assert_eq!(
            s.schedule(&dests, &at(2, 0)),
            Some(0),
            "no member left to remember"
        );
        dests[0].set_weight(0);
        assert_eq!(s.schedule(&dests, &at(1, 0)), Some(1));
        assert_eq!(set_of(&s, 1), vec![0]);
    }
}
