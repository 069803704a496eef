//! The connection table of one data-plane shard: compact entries in a chunked slab,
//! one hash index keyed on the client endpoint (so a NAT connection is found from
//! both directions: client→VIP inbound and real server→client outbound), and a
//! timer wheel for expiry that never scans the whole table.
//!
//! Memory: an IPv4 entry is 44 bytes; the index adds 4 bytes a bucket and the wheel
//! about 4 bytes a connection, so a tracked IPv4 connection costs well under 64 bytes.
//!
//! Expiry is lazy: a packet only moves the entry's `expires` tick forward; the wheel
//! item that comes due later re-files the entry at its new deadline. Only when a
//! deadline moves *earlier* (a state with a shorter timeout) is a new wheel item
//! added; stale items are recognised and skipped.

use std::marker::PhantomData;
use std::time::Duration;

use super::addr::IpBytes;
use super::state::ConnState;
use crate::dest::DestId;
use crate::model::ForwardMethod;
use crate::time::Time;

/// "No slot": end of a hash chain, or a connection without a controlling template.
pub const NIL: u32 = u32::MAX;

const CHUNK_BITS: u32 = 14;
const CHUNK: usize = 1 << CHUNK_BITS;
const CHUNK_MASK: u32 = (CHUNK as u32) - 1;

/// A tick is 2^26 ns (about 67 ms): fine enough for IPVS's whole-second timeouts,
/// coarse enough that a u32 tick count lasts about nine years.
pub const TICK_SHIFT: u32 = 26;
const WHEEL_BITS: u32 = 12;
const WHEEL_SIZE: usize = 1 << WHEEL_BITS;
const WHEEL_MASK: u32 = (WHEEL_SIZE as u32) - 1;

const STATE_FREE: u8 = 0xFF;

/// Connection flags (an IPVS-like subset).
pub mod flags {
    /// Forwarding method in the two low bits.
    pub const FWD_MASK: u16 = 0b11;
    pub const FWD_MASQ: u16 = 0;
    pub const FWD_TUNNEL: u16 = 1;
    pub const FWD_ROUTE: u16 = 2;
    /// Counted as inactive at its real server (every state but ESTABLISHED).
    pub const INACTIVE: u16 = 1 << 2;
    /// No reply seen yet (tunnel, route): TCP uses the input-only table.
    pub const NO_OUTPUT: u16 = 1 << 3;
    /// A persistence template, not a connection.
    pub const TEMPLATE: u16 = 1 << 4;
    /// A template of a firewall-mark service: `vaddr` holds the mark.
    pub const FWMARK: u16 = 1 << 5;
    /// Created from a synchronisation message rather than by scheduling.
    pub const SYNCED: u16 = 1 << 6;
}

pub fn fwd_flags(m: ForwardMethod) -> u16 {
    match m {
        ForwardMethod::Masq => flags::FWD_MASQ,
        ForwardMethod::Tunnel => flags::FWD_TUNNEL,
        ForwardMethod::Route => flags::FWD_ROUTE,
    }
}

/// One connection or persistence template.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Conn<A> {
    next: u32,
    expires: u32,
    sched: u32,
    dest: u32,
    /// Connections: slot of the controlling template (or NIL).
    /// Templates: number of connections they control.
    control: u32,
    /// Client address (templates: the client network under the persistence mask).
    pub caddr: A,
    /// Virtual address (fwmark templates: the mark).
    pub vaddr: A,
    /// Real server address.
    pub daddr: A,
    pub cport: u16,
    pub vport: u16,
    pub dport: u16,
    /// Inbound packets, wrapping (drives connection synchronisation).
    pub in_pkts: u16,
    pub proto: u8,
    state: u8,
    pub flags: u16,
}

impl<A: IpBytes> Conn<A> {
    fn free() -> Self {
        Conn {
            next: NIL,
            expires: 0,
            sched: 0,
            dest: 0,
            control: NIL,
            caddr: A::default(),
            vaddr: A::default(),
            daddr: A::default(),
            cport: 0,
            vport: 0,
            dport: 0,
            in_pkts: 0,
            proto: 0,
            state: STATE_FREE,
            flags: 0,
        }
    }
    /// An entry as `n` describes it, stored in no table (one-packet scheduling).
    pub fn view(n: &NewConn<A>) -> Conn<A> {
        Conn {
            next: NIL,
            expires: 0,
            sched: 0,
            dest: n.dest.0,
            control: n.control,
            caddr: n.caddr,
            vaddr: n.vaddr,
            daddr: n.daddr,
            cport: n.cport,
            vport: n.vport,
            dport: n.dport,
            in_pkts: 1,
            proto: n.proto,
            state: n.state as u8,
            flags: n.flags,
        }
    }
    pub fn is_free(&self) -> bool {
        self.state == STATE_FREE
    }
    pub fn state(&self) -> ConnState {
        ConnState::from_u8(self.state)
    }
    pub fn dest(&self) -> DestId {
        DestId(self.dest)
    }
    pub fn is_template(&self) -> bool {
        self.flags & flags::TEMPLATE != 0
    }
    pub fn is_inactive(&self) -> bool {
        self.flags & flags::INACTIVE != 0
    }
    pub fn method(&self) -> ForwardMethod {
        match self.flags & flags::FWD_MASK {
            flags::FWD_TUNNEL => ForwardMethod::Tunnel,
            flags::FWD_ROUTE => ForwardMethod::Route,
            _ => ForwardMethod::Masq,
        }
    }
    /// Slot of the controlling template, for a connection.
    pub fn controller(&self) -> Option<u32> {
        if self.is_template() || self.control == NIL {
            None
        } else {
            Some(self.control)
        }
    }
    /// Connections this template controls (0 for a connection).
    pub fn controlled(&self) -> u32 {
        if self.is_template() {
            self.control
        } else {
            0
        }
    }
    /// Time left before expiry, as of `now`.
    pub fn expires_in(&self, now: Time) -> Duration {
        let now_t = tick_of(now);
        let left = self.expires.wrapping_sub(now_t) as i32;
        if left <= 0 {
            Duration::ZERO
        } else {
            Duration::from_nanos((left as u64) << TICK_SHIFT)
        }
    }
}

/// What a new entry holds.
#[derive(Clone, Copy, Debug)]
pub struct NewConn<A> {
    pub proto: u8,
    pub caddr: A,
    pub cport: u16,
    pub vaddr: A,
    pub vport: u16,
    pub daddr: A,
    pub dport: u16,
    pub state: ConnState,
    pub flags: u16,
    pub dest: DestId,
    /// Slot of the controlling template, or NIL.
    pub control: u32,
}

/// What to do with an entry whose deadline has come.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expiry {
    Remove,
    /// Keep it for this much longer (a template that still controls connections).
    Rearm(Duration),
}

/// The table is at its configured maximum number of entries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TableFull;

#[inline]
pub fn tick_of(t: Time) -> u32 {
    (t.0 >> TICK_SHIFT) as u32
}

/// A timeout in wheel ticks (at least one), as the table stores deadlines.
#[inline]
pub fn ticks_for(d: Duration) -> u32 {
    let ns = d.as_nanos().min(u64::MAX as u128) as u64;
    let t = ns.div_ceil(1 << TICK_SHIFT);
    t.clamp(1, (i32::MAX / 2) as u64) as u32
}

#[inline]
fn after(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) > 0
}

/// Connection table for one address family (`[u8; 4]` or `[u8; 16]`).
pub struct ConnTable<A> {
    chunks: Vec<Box<[Conn<A>]>>,
    /// Slots handed out so far (the bump pointer); below it, free slots are listed.
    high: u32,
    free_head: u32,
    len: u32,
    max: u32,
    buckets: Box<[u32]>,
    bucket_shift: u32,
    mul: u64,
    wheel: Box<[Vec<u32>]>,
    /// Next tick the wheel processes, and items of that tick not yet processed.
    cursor: u32,
    started: bool,
    pending: Vec<u32>,
    _a: PhantomData<A>,
}

impl<A: IpBytes> ConnTable<A> {
    /// A table with 2^`bucket_bits` hash buckets holding at most `max` entries.
    /// `seed` keys the hash so that clients cannot aim at one chain.
    pub fn new(bucket_bits: u8, max: u32, seed: u64) -> Self {
        let bits = bucket_bits.clamp(4, 30) as u32;
        let mut wheel = Vec::with_capacity(WHEEL_SIZE);
        wheel.resize_with(WHEEL_SIZE, Vec::new);
        ConnTable {
            chunks: Vec::new(),
            high: 0,
            free_head: NIL,
            len: 0,
            max: max.min(NIL - 1),
            buckets: vec![NIL; 1 << bits].into_boxed_slice(),
            bucket_shift: 64 - bits,
            // Multiply-shift hashing wants an odd multiplier.
            mul: mix64(seed) | 1,
            wheel: wheel.into_boxed_slice(),
            cursor: 0,
            started: false,
            pending: Vec::new(),
            _a: PhantomData,
        }
    }

    pub fn len(&self) -> usize {
        self.len as usize
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    pub fn capacity(&self) -> usize {
        self.max as usize
    }
    pub fn bucket_count(&self) -> usize {
        self.buckets.len()
    }

    /// Bytes held by the table: slab chunks, hash buckets, wheel items.
    pub fn memory_bytes(&self) -> usize {
        let slab = self.chunks.len() * CHUNK * std::mem::size_of::<Conn<A>>();
        let buckets = self.buckets.len() * 4;
        let wheel: usize = self.wheel.iter().map(|v| v.capacity() * 4).sum::<usize>()
            + self.wheel.len() * std::mem::size_of::<Vec<u32>>()
            + self.pending.capacity() * 4;
        slab + buckets + wheel
    }

    /// Stage 1 of a batch's lookups: start loading the hash bucket that a lookup keyed on
    /// this client endpoint will read.
    #[inline]
    pub fn prefetch_bucket(&self, proto: u8, caddr: &A, cport: u16) {
        prefetch(
            self.buckets
                .as_ptr()
                .wrapping_add(self.bucket_of(proto, caddr, cport)),
        );
    }

    /// Stage 2: start loading the first entry of that bucket's chain (its bucket should be
    /// in cache by now).
    #[inline]
    pub fn prefetch_entry(&self, proto: u8, caddr: &A, cport: u16) {
        let slot = self.buckets[self.bucket_of(proto, caddr, cport)];
        if slot != NIL {
            if let Some(chunk) = self.chunks.get((slot >> CHUNK_BITS) as usize) {
                let entry = chunk.as_ptr().wrapping_add((slot & CHUNK_MASK) as usize);
                // An entry (44 bytes for IPv4) may straddle two cache lines.
                prefetch(entry);
                prefetch(
                    entry
                        .cast::<u8>()
                        .wrapping_add(std::mem::size_of::<Conn<A>>() - 1),
                );
            }
        }
    }

    #[inline]
    fn bucket_of(&self, proto: u8, caddr: &A, cport: u16) -> usize {
        let key = caddr.fold64() ^ ((cport as u64) << 32) ^ ((proto as u64) << 48);
        let h = (key ^ (key >> 29)).wrapping_mul(self.mul);
        (h >> self.bucket_shift) as usize
    }

    #[inline]
    pub fn get(&self, slot: u32) -> &Conn<A> {
        &self.chunks[(slot >> CHUNK_BITS) as usize][(slot & CHUNK_MASK) as usize]
    }

    #[inline]
    pub fn get_mut(&mut self, slot: u32) -> &mut Conn<A> {
        &mut self.chunks[(slot >> CHUNK_BITS) as usize][(slot & CHUNK_MASK) as usize]
    }

    /// Find the entry keyed on the client endpoint whose other side is `(oaddr, oport)`:
    /// the virtual side for inbound lookups, the real server side for outbound ones.
    #[inline]
    fn find(
        &self,
        proto: u8,
        caddr: &A,
        cport: u16,
        pred: impl Fn(&Conn<A>) -> bool,
    ) -> Option<u32> {
        let mut slot = self.buckets[self.bucket_of(proto, caddr, cport)];
        while slot != NIL {
            let c = self.get(slot);
            if c.cport == cport && c.proto == proto && c.caddr == *caddr && pred(c) {
                return Some(slot);
            }
            slot = c.next;
        }
        None
    }

    /// Inbound: a packet from the client `caddr:cport` to `vaddr:vport`.
    #[inline]
    pub fn lookup_in(
        &self,
        proto: u8,
        caddr: &A,
        cport: u16,
        vaddr: &A,
        vport: u16,
    ) -> Option<u32> {
        self.find(proto, caddr, cport, |c| {
            c.vport == vport && c.vaddr == *vaddr && c.flags & flags::TEMPLATE == 0
        })
    }

    /// Outbound (NAT replies): a packet from the real server `daddr:dport` to the
    /// client `caddr:cport`.
    #[inline]
    pub fn lookup_out(
        &self,
        proto: u8,
        daddr: &A,
        dport: u16,
        caddr: &A,
        cport: u16,
    ) -> Option<u32> {
        self.find(proto, caddr, cport, |c| {
            c.dport == dport
                && c.daddr == *daddr
                && c.flags & (flags::TEMPLATE | flags::FWD_MASK) == flags::FWD_MASQ
        })
    }

    /// A persistence template for the client network `cnet` (already masked) and the
    /// service side `vaddr:vport` (port 0 for "any port"; fwmark: the mark).
    pub fn lookup_template(&self, proto: u8, cnet: &A, vaddr: &A, vport: u16) -> Option<u32> {
        self.find(proto, cnet, 0, |c| {
            c.flags & flags::TEMPLATE != 0 && c.vport == vport && c.vaddr == *vaddr
        })
    }

    /// Add an entry that lives `timeout` from `now`.
    pub fn insert(
        &mut self,
        n: NewConn<A>,
        timeout: Duration,
        now: Time,
    ) -> Result<u32, TableFull> {
        if self.len >= self.max {
            return Err(TableFull);
        }
        let slot = if self.free_head != NIL {
            let s = self.free_head;
            self.free_head = self.get(s).next;
            s
        } else {
            if (self.high as usize) == self.chunks.len() * CHUNK {
                self.chunks
                    .push(vec![Conn::free(); CHUNK].into_boxed_slice());
            }
            let s = self.high;
            self.high += 1;
            s
        };
        let now_t = self.now_tick(now);
        let expires = now_t.wrapping_add(ticks_for(timeout));
        let b = self.bucket_of(n.proto, &n.caddr, n.cport);
        let head = self.buckets[b];
        *self.get_mut(slot) = Conn {
            next: head,
            expires,
            sched: expires,
            dest: n.dest.0,
            control: if n.flags & flags::TEMPLATE != 0 {
                0
            } else {
                n.control
            },
            caddr: n.caddr,
            vaddr: n.vaddr,
            daddr: n.daddr,
            cport: n.cport,
            vport: n.vport,
            dport: n.dport,
            in_pkts: 0,
            proto: n.proto,
            state: n.state as u8,
            flags: n.flags,
        };
        self.buckets[b] = slot;
        if n.flags & flags::TEMPLATE == 0 && n.control != NIL {
            let t = self.get_mut(n.control);
            t.control = t.control.saturating_add(1);
        }
        self.wheel[(expires & WHEEL_MASK) as usize].push(slot);
        self.len += 1;
        Ok(slot)
    }

    /// Set the deadline of `slot` to `timeout` from `now`.
    #[inline]
    pub fn touch(&mut self, slot: u32, timeout: Duration, now: Time) {
        self.touch_ticks(slot, ticks_for(timeout), now);
    }

    /// Set the deadline of `slot` to `ticks` (see [`ticks_for`]) from `now`: the per-packet
    /// form, with the timeout converted once per service-table change.
    #[inline]
    pub fn touch_ticks(&mut self, slot: u32, ticks: u32, now: Time) {
        let expires = self.now_tick(now).wrapping_add(ticks);
        let c = self.get_mut(slot);
        c.expires = expires;
        if after(c.sched, expires) {
            c.sched = expires;
            self.wheel[(expires & WHEEL_MASK) as usize].push(slot);
        }
    }

    /// Change the protocol state (the caller keeps real-server counters in step).
    #[inline]
    pub fn set_state(&mut self, slot: u32, state: ConnState) {
        self.get_mut(slot).state = state as u8;
    }

    /// Remove `slot` at once, returning what it held. Its wheel items go stale.
    pub fn remove(&mut self, slot: u32) -> Conn<A> {
        let c = *self.get(slot);
        let b = self.bucket_of(c.proto, &c.caddr, c.cport);
        if self.buckets[b] == slot {
            self.buckets[b] = c.next;
        } else {
            let mut prev = self.buckets[b];
            while prev != NIL {
                let next = self.get(prev).next;
                if next == slot {
                    self.get_mut(prev).next = c.next;
                    break;
                }
                prev = next;
            }
        }
        if let Some(t) = c.controller() {
            let tc = self.get_mut(t);
            tc.control = tc.control.saturating_sub(1);
        }
        let free_head = self.free_head;
        let f = self.get_mut(slot);
        *f = Conn::free();
        f.next = free_head;
        self.free_head = slot;
        self.len -= 1;
        c
    }

    fn now_tick(&mut self, now: Time) -> u32 {
        let t = tick_of(now);
        if !self.started {
            self.started = true;
            self.cursor = t;
        }
        t
    }

    /// Expire what is due at `now`, handling at most `budget` wheel items, so that
    /// the caller can bound the time spent. `decide` is asked for every entry whose
    /// deadline has passed; entries it removes are returned to it through `removed`.
    /// Returns the number of wheel items handled (less than `budget`: caught up).
    pub fn expire(
        &mut self,
        now: Time,
        budget: usize,
        mut decide: impl FnMut(&Conn<A>) -> Expiry,
        mut removed: impl FnMut(Conn<A>),
    ) -> usize {
        let now_t = self.now_tick(now);
        // Nothing tracked: nothing can be due; skip the empty ticks.
        if self.len == 0 && self.pending.is_empty() {
            self.cursor = now_t.wrapping_add(1);
            return 0;
        }
        // Far behind (the caller slept): every bucket is visited within one turn. Signed:
        // a cursor one tick ahead (caught up) is not "far behind".
        let behind = now_t.wrapping_sub(self.cursor) as i32;
        if behind > (WHEEL_MASK + 1) as i32 && self.pending.is_empty() {
            self.cursor = now_t.wrapping_sub(WHEEL_MASK);
        }
        let mut done = 0;
        loop {
            if self.pending.is_empty() {
                if after(self.cursor, now_t) {
                    break;
                }
                let b = (self.cursor & WHEEL_MASK) as usize;
                if self.wheel[b].is_empty() {
                    self.cursor = self.cursor.wrapping_add(1);
                    continue;
                }
                std::mem::swap(&mut self.pending, &mut self.wheel[b]);
            }
            let tick = self.cursor;
            while let Some(slot) = self.pending.pop() {
                if done >= budget {
                    self.pending.push(slot);
                    return done;
                }
                done += 1;
                let c = self.get(slot);
                if c.is_free() || (c.sched & WHEEL_MASK) != (tick & WHEEL_MASK) {
                    continue; // stale item
                }
                if after(c.sched, tick) {
                    // Due in a later turn of the wheel.
                    self.wheel[(tick & WHEEL_MASK) as usize].push(slot);
                    continue;
                }
                if after(c.expires, tick) {
                    let e = c.expires;
                    self.get_mut(slot).sched = e;
                    self.wheel[(e & WHEEL_MASK) as usize].push(slot);
                    continue;
                }
                match decide(c) {
                    Expiry::Remove => {
                        let gone = self.remove(slot);
                        removed(gone);
                    }
                    Expiry::Rearm(d) => {
                        let e = tick.wrapping_add(ticks_for(d));
                        let c = self.get_mut(slot);
                        c.expires = e;
                        c.sched = e;
                        self.wheel[(e & WHEEL_MASK) as usize].push(slot);
                    }
                }
            }
            self.cursor = self.cursor.wrapping_add(1);
        }
        done
    }

    /// Every live entry with its slot.
    pub fn iter(&self) -> impl Iterator<Item = (u32, &Conn<A>)> + '_ {
        (0..self.high).filter_map(move |s| {
            let c = self.get(s);
            (!c.is_free()).then_some((s, c))
        })
    }

    /// Slots of every live entry (to remove some while walking).
    pub fn slots(&self) -> Vec<u32> {
        self.iter().map(|(s, _)| s).collect()
    }
}

/// Asks the CPU to start loading the cache line at `p` (no effect on other targets).
/// Prefetching never faults, whatever the address.
#[inline(always)]
pub fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: PREFETCHT0 is a hint: it reads nothing architecturally and never faults,
    // whatever the address; SSE is part of the x86_64 baseline.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// A 64-bit finaliser (splitmix64) to spread a seed.
pub fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    type A4 = [u8; 4];

    fn conn(cport: u16, dport: u16) -> NewConn<A4> {
        NewConn {
            proto: 6,
            caddr: [203, 0, 113, 2],
            cport,
            vaddr: [192, 0, 2, 10],
            vport: 80,
            daddr: [198, 51, 100, 11],
            dport,
            state: ConnState::SynRecv,
            flags: flags::FWD_MASQ | flags::INACTIVE,
            dest: DestId(0),
            control: NIL,
        }
    }

    fn secs(s: u64) -> Time {
        Time::from_secs(s)
    }

    #[test]
    fn entry_is_small() {
        assert_eq!(std::mem::size_of::<Conn<[u8; 4]>>(), 44);
        assert!(std::mem::size_of::<Conn<[u8; 16]>>() <= 80);
    }

    #[test]
    fn both_directions_find_one_entry() {
        let mut t = ConnTable::<A4>::new(8, 100, 1);
        let s = t
            .insert(conn(40000, 8080), Duration::from_secs(60), secs(1))
            .unwrap();
        let c = [203, 0, 113, 2];
        assert_eq!(t.lookup_in(6, &c, 40000, &[192, 0, 2, 10], 80), Some(s));
        assert_eq!(
            t.lookup_out(6, &[198, 51, 100, 11], 8080, &c, 40000),
            Some(s)
        );
        assert_eq!(t.lookup_in(6, &c, 40001, &[192, 0, 2, 10], 80), None);
        assert_eq!(t.lookup_in(17, &c, 40000, &[192, 0, 2, 10], 80), None);
        assert_eq!(t.lookup_out(6, &[198, 51, 100, 12], 8080, &c, 40000), None);
    }

    #[test]
    fn outbound_lookup_ignores_route_and_tunnel() {
        let mut t = ConnTable::<A4>::new(8, 100, 1);
        let mut n = conn(40000, 80);
        n.flags = flags::FWD_ROUTE;
        t.insert(n, Duration::from_secs(60), secs(1)).unwrap();
        assert_eq!(
            t.lookup_out(6, &[198, 51, 100, 11], 80, &[203, 0, 113, 2], 40000),
            None
        );
    }

    #[test]
    fn expiry_follows_touch_and_removes_once() {
        let mut t = ConnTable::<A4>::new(8, 100, 7);
        let s = t
            .insert(conn(1, 80), Duration::from_secs(10), secs(0))
            .unwrap();
        let mut gone = Vec::new();
        t.expire(
            secs(5),
            usize::MAX,
            |_| Expiry::Remove,
            |c| gone.push(c.cport),
        );
        assert!(gone.is_empty());
        // A packet at 8 s pushes the deadline to 18 s.
        t.touch(s, Duration::from_secs(10), secs(8));
        t.expire(
            secs(12),
            usize::MAX,
            |_| Expiry::Remove,
            |c| gone.push(c.cport),
        );
        assert!(gone.is_empty());
        t.expire(
            secs(19),
            usize::MAX,
            |_| Expiry::Remove,
            |c| gone.push(c.cport),
        );
        assert_eq!(gone, vec![1]);
        assert!(t.is_empty());
        t.expire(
            secs(400),
            usize::MAX,
            |_| Expiry::Remove,
            |c| gone.push(c.cport),
        );
        assert_eq!(gone, vec![1]);
    }

    #[test]
    fn shorter_deadline_takes_effect() {
        let mut t = ConnTable::<A4>::new(8, 100, 7);
        let s = t
            .insert(conn(1, 80), Duration::from_secs(900), secs(0))
            .unwrap();
        t.touch(s, Duration::from_secs(10), secs(1));
        let mut gone = 0;
        t.expire(secs(12), usize::MAX, |_| Expiry::Remove, |_| gone += 1);
        assert_eq!(gone, 1);
    }

    #[test]
    fn long_timeouts_survive_wheel_turns() {
        let mut t = ConnTable::<A4>::new(8, 100, 7);
        t.insert(conn(1, 80), Duration::from_secs(900), secs(0))
            .unwrap();
        let mut gone = 0;
        for s in (0..=899).step_by(7) {
            t.expire(secs(s), usize::MAX, |_| Expiry::Remove, |_| gone += 1);
        }
        assert_eq!(gone, 0);
        t.expire(secs(901), usize::MAX, |_| Expiry::Remove, |_| gone += 1);
        assert_eq!(gone, 1);
    }

    #[test]
    fn templates_count_and_rearm() {
        let mut t = ConnTable::<A4>::new(8, 100, 3);
        let mut tn = conn(0, 80);
        tn.flags |= flags::TEMPLATE;
        let ts = t.insert(tn, Duration::from_secs(300), secs(0)).unwrap();
        let mut cn = conn(5555, 80);
        cn.control = ts;
        let cs = t.insert(cn, Duration::from_secs(900), secs(0)).unwrap();
        assert_eq!(t.get(ts).controlled(), 1);
        assert_eq!(t.get(cs).controller(), Some(ts));
        assert_eq!(
            t.lookup_template(6, &[203, 0, 113, 2], &[192, 0, 2, 10], 80),
            Some(ts)
        );
        // The template is due at 300 s but still controls a connection.
        let mut removed = Vec::new();
        t.expire(
            secs(301),
            usize::MAX,
            |c| {
                if c.controlled() > 0 {
                    Expiry::Rearm(Duration::from_secs(300))
                } else {
                    Expiry::Remove
                }
            },
            |c| removed.push(c.is_template()),
        );
        assert!(removed.is_empty());
        t.remove(cs);
        assert_eq!(t.get(ts).controlled(), 0);
        t.expire(
            secs(602),
            usize::MAX,
            |_| Expiry::Remove,
            |c| removed.push(c.is_template()),
        );
        assert_eq!(removed, vec![true]);
    }

    #[test]
    fn budget_bounds_work_and_resumes() {
        let mut t = ConnTable::<A4>::new(8, 10_000, 3);
        for p in 0..1000 {
            t.insert(conn(p, 80), Duration::from_secs(1), secs(0))
                .unwrap();
        }
        let mut gone = 0;
        let n = t.expire(secs(5), 100, |_| Expiry::Remove, |_| gone += 1);
        assert_eq!(n, 100);
        assert_eq!(gone, 100);
        while t.expire(secs(5), 100, |_| Expiry::Remove, |_| gone += 1) == 100 {}
        assert_eq!(gone, 1000);
        assert!(t.is_empty());
    }

    #[test]
    fn full_table_refuses_and_slots_are_reused() {
        let mut t = ConnTable::<A4>::new(4, 2, 3);
        let a = t
            .insert(conn(1, 80), Duration::from_secs(1), secs(0))
            .unwrap();
        t.insert(conn(2, 80), Duration::from_secs(1), secs(0))
            .unwrap();
        assert_eq!(
            t.insert(conn(3, 80), Duration::from_secs(1), secs(0)),
            Err(TableFull)
        );
        t.remove(a);
        let c = t
            .insert(conn(3, 80), Duration::from_secs(1), secs(0))
            .unwrap();
        assert_eq!(c, a);
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn stale_wheel_items_do_not_touch_reused_slots() {
        let mut t = ConnTable::<A4>::new(4, 10, 3);
        let a = t
            .insert(conn(1, 80), Duration::from_secs(10), secs(0))
            .unwrap();
        t.remove(a);
        // Reuse the slot with a much longer lifetime; the old item is due at 10 s.
        let b = t
            .insert(conn(2, 80), Duration::from_secs(100), secs(0))
            .unwrap();
        assert_eq!(a, b);
        let mut gone = 0;
        t.expire(secs(50), usize::MAX, |_| Expiry::Remove, |_| gone += 1);
        assert_eq!(gone, 0);
        t.expire(secs(101), usize::MAX, |_| Expiry::Remove, |_| gone += 1);
        assert_eq!(gone, 1);
    }

    /// Calls in the tick the wheel has just caught up with do no work (a cursor one tick
    /// ahead once passed for "far behind" and re-walked a whole turn on every call).
    #[test]
    fn caught_up_calls_handle_nothing() {
        let mut t = ConnTable::<A4>::new(10, 100_000, 5);
        let udp = ticks_for(Duration::from_secs(300));
        let mut handled = 0;
        for step in 0..2000u64 {
            let now = Time::from_nanos(step * 5_000_000);
            for k in 0..50u16 {
                let port = (step as u16).wrapping_mul(50).wrapping_add(k) % 5000;
                let c = [203, 0, 113, 2];
                match t.lookup_in(6, &c, port, &[192, 0, 2, 10], 80) {
                    Some(s) => t.touch_ticks(s, udp, now),
                    None => {
                        let s = t
                            .insert(conn(port, 80), Duration::from_secs(2), now)
                            .unwrap();
                        t.touch_ticks(s, udp, now);
                    }
                }
            }
            handled += t.expire(now, 4096, |_| Expiry::Remove, |_| {});
        }
        // One item per connection (its 2 s first deadline, re-filed at 300 s); none of the
        // re-filed ones is due within these 10 s.
        assert_eq!(t.len(), 5000);
        assert_eq!(handled, 5000);
    }

    #[test]
    fn chains_with_many_entries_per_bucket() {
        let mut t = ConnTable::<A4>::new(4, 100_000, 9);
        for p in 0..5000u16 {
            t.insert(conn(p, p), Duration::from_secs(60), secs(0))
                .unwrap();
        }
        for p in (0..5000u16).step_by(3) {
            let s = t
                .lookup_in(6, &[203, 0, 113, 2], p, &[192, 0, 2, 10], 80)
                .unwrap();
            t.remove(s);
        }
        for p in 0..5000u16 {
            let found = t.lookup_out(6, &[198, 51, 100, 11], p, &[203, 0, 113, 2], p);
            assert_eq!(found.is_some(), p % 3 != 0, "port {p}");
        }
    }
}
