//! The locality table of lblc and lblcr: destination address → what the scheduler
//! remembers for it (a destination, or a set of them), with last-use times, a bound
//! on its size and IPVS's garbage collection. Buckets are a fixed array and entries
//! live in a slab reserved up front, so lookups and inserts never allocate.

use std::net::IpAddr;
use std::time::Duration;

use super::hash::{hash_endpoint, SEED_LOCALITY};
use crate::time::Time;

/// IPVS's `CONFIG_IP_VS_LBLC_TAB_BITS` default: 1024 buckets.
const BUCKET_BITS: u32 = 10;
const BUCKETS: usize = 1 << BUCKET_BITS;
/// IPVS's table size bound: 16 entries per bucket.
pub const MAX_ENTRIES: usize = BUCKETS * 16;
/// How often the garbage collector looks at the table (IPVS: every minute).
pub const CHECK_INTERVAL: Duration = Duration::from_secs(60);
/// When the table is full, entries idle this long make room (IPVS: 6 minutes).
pub const ENTRY_TIMEOUT: Duration = Duration::from_secs(6 * 60);
/// Every this many checks, entries idle for the expiration time go (IPVS: 30,
/// i.e. a full expiration sweep every half hour).
const FULL_CHECK_EVERY: u32 = 30;

const NIL: u32 = u32::MAX;

pub(crate) struct Entry<V> {
    pub addr: IpAddr,
    pub last_use: Time,
    next: u32,
    pub value: V,
}

pub(crate) struct LocalityTable<V> {
    /// Head entry of each bucket's chain.
    heads: Box<[u32]>,
    /// Entry storage; its capacity is reserved once, so pushes never reallocate.
    slab: Vec<Entry<V>>,
    /// Free slab slots, chained through `next`.
    free: u32,
    len: usize,
    max: usize,
    /// Where the next partial collection resumes.
    rover: usize,
    /// Inserts refused since the last check because the table was full.
    refused: usize,
    next_check: Option<Time>,
    /// Checks since the last full expiration sweep (starts at 1, like IPVS).
    counter: u32,
}

impl<V: Copy> LocalityTable<V> {
    pub fn new(max: usize) -> LocalityTable<V> {
        let max = max.clamp(1, NIL as usize - 1);
        LocalityTable {
            heads: vec![NIL; BUCKETS].into_boxed_slice(),
            slab: Vec::with_capacity(max),
            free: NIL,
            len: 0,
            max,
            rover: 0,
            refused: 0,
            next_check: None,
            counter: 1,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    #[inline]
    fn bucket(addr: IpAddr) -> usize {
        (hash_endpoint(addr, 0, SEED_LOCALITY) >> (64 - BUCKET_BITS)) as usize
    }

    /// The slot of the entry for `addr`.
    #[inline]
    pub fn find(&self, addr: IpAddr) -> Option<u32> {
        let mut at = self.heads[Self::bucket(addr)];
        while at != NIL {
            let e = self.slab.get(at as usize)?;
            if e.addr == addr {
                return Some(at);
            }
            at = e.next;
        }
        None
    }

    #[inline]
    pub fn entry(&self, slot: u32) -> Option<&Entry<V>> {
        self.slab.get(slot as usize)
    }

    #[inline]
    pub fn entry_mut(&mut self, slot: u32) -> Option<&mut Entry<V>> {
        self.slab.get_mut(slot as usize)
    }

    /// Add an entry for `addr` (not yet present). `None` when the table is full:
    /// the caller goes on without remembering, as IPVS does.
    pub fn insert(&mut self, addr: IpAddr, value: V, now: Time) -> Option<u32> {
        if self.len >= self.max {
            self.refused = self.refused.saturating_add(1);
            return None;
        }
        let b = Self::bucket(addr);
        let entry = Entry {
            addr,
            last_use: now,
            next: self.heads[b],
            value,
        };
        let slot = if self.free != NIL {
            let slot = self.free;
            let e = self.slab.get_mut(slot as usize)?;
            self.free = e.next;
            *e = entry;
            slot
        } else if self.slab.len() < self.slab.capacity() {
            self.slab.push(entry);
            (self.slab.len() - 1) as u32
        } else {
            return None;
        };
        self.heads[b] = slot;
        self.len += 1;
        Some(slot)
    }

    /// Visit every entry of bucket `b`; drop those for which `keep` says false.
    /// Returns how many were dropped.
    fn retain_bucket(&mut self, b: usize, keep: &mut impl FnMut(&mut Entry<V>) -> bool) -> usize {
        let mut dropped = 0;
        let mut prev = NIL;
        let mut at = self.heads[b];
        while at != NIL {
            let Some(e) = self.slab.get_mut(at as usize) else {
                break;
            };
            let next = e.next;
            if keep(e) {
                prev = at;
            } else {
                e.next = self.free;
                self.free = at;
                if prev == NIL {
                    self.heads[b] = next;
                } else if let Some(p) = self.slab.get_mut(prev as usize) {
                    p.next = next;
                }
                self.len -= 1;
                dropped += 1;
            }
            at = next;
        }
        dropped
    }

    /// Visit every entry; drop those for which `keep` says false.
    pub fn retain(&mut self, mut keep: impl FnMut(&mut Entry<V>) -> bool) {
        for b in 0..BUCKETS {
            self.retain_bucket(b, &mut keep);
        }
    }

    /// IPVS's periodic collection, run at most once per [`CHECK_INTERVAL`] however
    /// often it is called. Every 30th run drops entries idle for `expiration`;
    /// otherwise, while the table is full (or refused inserts), it drops entries idle
    /// for [`ENTRY_TIMEOUT`], bucket by bucket from a rover, until it has made room
    /// for about 4/3 of the refused inserts. `dropped` sees each dropped value.
    pub fn collect(&mut self, now: Time, expiration: Duration, mut dropped: impl FnMut(V)) {
        match self.next_check {
            None => {
                self.next_check = Some(now + CHECK_INTERVAL);
                return;
            }
            Some(at) if now < at => return,
            Some(_) => self.next_check = Some(now + CHECK_INTERVAL),
        }
        if self.counter.is_multiple_of(FULL_CHECK_EVERY) {
            self.retain(|e| {
                let keep = now.since(e.last_use) < expiration;
                if !keep {
                    dropped(e.value);
                }
                keep
            });
            self.counter = 1;
        } else if self.refused == 0 && self.len < self.max {
            self.counter += 1;
        } else {
            let mut goal =
                (self.refused.max(1).saturating_mul(4) / 3).clamp(1, (self.max / 2).max(1));
            let mut keep = |e: &mut Entry<V>| {
                let keep = now.since(e.last_use) < ENTRY_TIMEOUT;
                if !keep {
                    dropped(e.value);
                }
                keep
            };
            for _ in 0..BUCKETS {
                self.rover = (self.rover + 1) % BUCKETS;
                let n = self.retain_bucket(self.rover, &mut keep);
                goal = goal.saturating_sub(n);
                if goal == 0 {
                    break;
                }
            }
        }
        self.refused = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn addr(i: u32) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(0xc000_0200 + i))
    }

    #[test]
    fn insert_find_remove_reuse() {
        let mut t = LocalityTable::<u32>::new(3);
        for i in 0..3 {
            assert!(t.insert(addr(i), i, Time::ZERO).is_some());
        }
        assert_eq!(t.insert(addr(9), 9, Time::ZERO), None, "full");
        assert_eq!(t.len(), 3);
        for i in 0..3 {
            let s = t.find(addr(i)).unwrap();
            assert_eq!(t.entry_mut(s).unwrap().value, i);
        }
        t.retain(|e| e.value != 1);
        assert_eq!(t.len(), 2);
        assert_eq!(t.find(addr(1)), None);
        assert!(t.insert(addr(7), 7, Time::ZERO).is_some(), "slot reused");
        assert_eq!(t.slab.len(), 3, "no growth past the bound");
        assert!(t.find(addr(0)).is_some() && t.find(addr(2)).is_some());
    }

    #[test]
    fn many_entries_share_buckets() {
        let mut t = LocalityTable::<u32>::new(MAX_ENTRIES);
        for i in 0..5000 {
            t.insert(addr(i), i, Time::ZERO).unwrap();
        }
        for i in (0..5000).step_by(7) {
            let s = t.find(addr(i)).unwrap();
            assert_eq!(t.entry_mut(s).unwrap().value, i);
        }
        t.retain(|e| e.value % 2 == 0);
        assert_eq!(t.len(), 2500);
        assert!(t.find(addr(3)).is_none() && t.find(addr(4)).is_some());
    }

    #[test]
    fn full_sweep_every_thirty_checks() {
        let mut t = LocalityTable::<u32>::new(100);
        let day = Duration::from_secs(86_400);
        t.insert(addr(1), 1, Time::ZERO).unwrap();
        let mut gone = Vec::new();
        let mut now = Time::ZERO;
        // Idle 23 h: still there after many sweeps.
        while now < Time::from_secs(23 * 3600) {
            t.collect(now, day, |v| gone.push(v));
            now = now + Duration::from_secs(10);
        }
        assert_eq!(t.len(), 1);
        // Idle a day and a half-hour sweep later: gone.
        while now < Time::from_secs(24 * 3600 + 31 * 60) {
            t.collect(now, day, |v| gone.push(v));
            now = now + Duration::from_secs(10);
        }
        assert_eq!(t.len(), 0);
        assert_eq!(gone, vec![1]);
    }

    #[test]
    fn full_table_drops_stale_entries_to_make_room() {
        let mut t = LocalityTable::<u32>::new(4);
        let day = Duration::from_secs(86_400);
        for i in 0..4 {
            t.insert(addr(i), i, Time::ZERO).unwrap();
        }
        let fresh = t.find(addr(3)).unwrap();
        t.entry_mut(fresh).unwrap().last_use = Time::from_secs(400);
        assert!(t.insert(addr(8), 8, Time::from_secs(400)).is_none());
        t.collect(Time::from_secs(400), day, |_| {}); // arms the timer
        t.collect(Time::from_secs(460), day, |_| {});
        assert!(t.len() < 4, "stale entries dropped");
        assert!(t.find(addr(3)).is_some(), "recently used entry kept");
        assert!(t.insert(addr(8), 8, Time::from_secs(460)).is_some());
    }
}
