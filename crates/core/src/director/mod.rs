//! The director: one data-plane shard. It takes a frame, the port it came in on and
//! the time, and returns a [`Verdict`]; it owns its connection tables and scheduler
//! instances and reads the service table through an immutable [`Snapshot`].
//!
//! Sharding: run one `Director` per worker and steer frames so that both directions
//! of a connection, and all connections of one client address, reach the same
//! shard (hash the client address: the source on the client side, the destination
//! on the server side). Persistence templates then live with their connections.

mod forward;
mod icmp;
mod schedule;
pub mod sync;
pub mod verdict;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use rvs_wire::ether::{ETH_HLEN, ETH_P_ARP};
use rvs_wire::ip::{parse_frame, IpMeta, IpVersion};
use rvs_wire::l4::L4Meta;

use crate::conn::state::{tcp_next_state, TCP_ACK, TCP_RST, TCP_SYN};
use crate::conn::table::{flags, ticks_for, ConnTable, Expiry};
use crate::conn::{ConnState, Direction, IpBytes};
use crate::model::Protocol;
use crate::sched::{new_scheduler, Scheduler};
use crate::service::{PortId, ServiceId, Snapshot};
use crate::time::Time;

use verdict::bump;
pub use verdict::{DropReason, Rx, ShardStats, Verdict};

/// Sizing of one shard.
#[derive(Clone, Copy, Debug)]
pub struct DirectorConfig {
    /// log2 of the number of hash buckets per address family (IPVS's conn_tab_bits).
    pub conn_tab_bits: u8,
    /// Most connections + templates per address family.
    pub max_conns: u32,
    /// Keys the connection hash (use a random value per process).
    pub seed: u64,
    pub max_services: usize,
    pub max_dests: usize,
}

impl Default for DirectorConfig {
    fn default() -> Self {
        DirectorConfig {
            conn_tab_bits: 16,
            max_conns: 4_000_000,
            seed: 0x5eed,
            max_services: 1024,
            max_dests: 16384,
        }
    }
}

/// Address-family plumbing: which table holds a family's connections.
pub(crate) trait Fam: IpBytes {
    fn table(t: &mut Tables) -> &mut ConnTable<Self>;
    fn table_ref(t: &Tables) -> &ConnTable<Self>;
}

pub(crate) struct Tables {
    pub v4: ConnTable<[u8; 4]>,
    pub v6: ConnTable<[u8; 16]>,
}

impl Fam for [u8; 4] {
    #[inline]
    fn table(t: &mut Tables) -> &mut ConnTable<Self> {
        &mut t.v4
    }
    #[inline]
    fn table_ref(t: &Tables) -> &ConnTable<Self> {
        &t.v4
    }
}

impl Fam for [u8; 16] {
    #[inline]
    fn table(t: &mut Tables) -> &mut ConnTable<Self> {
        &mut t.v6
    }
    #[inline]
    fn table_ref(t: &Tables) -> &ConnTable<Self> {
        &t.v6
    }
}

struct SchedSlot {
    version: u64,
    sched: Box<dyn Scheduler>,
}

/// A connection or template as listings show it (`ipvsadm -L -c`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnInfo {
    pub proto: u8,
    pub client: (IpAddr, u16),
    pub virt: (IpAddr, u16),
    pub dest: (IpAddr, u16),
    pub state: ConnState,
    pub expires: Duration,
    pub template: bool,
    /// For fwmark templates: the mark (`virt` is then meaningless).
    pub fwmark: Option<u32>,
    pub method: crate::model::ForwardMethod,
    pub in_pkts: u16,
}

/// One data-plane shard of the director.
pub struct Director {
    snap: Arc<Snapshot>,
    scheds: Vec<Option<SchedSlot>>,
    tables: Tables,
    stats: Arc<ShardStats>,
    ip_id: u16,
    sync_enabled: bool,
    sync_out: Vec<sync::SyncRecord>,
    /// Per-state timeouts in wheel ticks (index: `ConnState as usize`), converted from the
    /// snapshot's settings once per table change rather than per packet.
    timeout_ticks: [u32; 12],
}

/// Fields of a parsed packet the hot path needs, by value.
#[derive(Clone, Copy)]
pub(crate) struct Pkt<A> {
    pub src: A,
    pub dst: A,
    pub proto: u8,
    pub sport: u16,
    pub dport: u16,
    pub tcp_flags: u8,
    /// IP packet length (what the byte counters count).
    pub ip_len: u64,
}

impl Director {
    pub fn new(cfg: DirectorConfig, snap: Arc<Snapshot>) -> Director {
        let mut d = Director {
            snap: Arc::new(Snapshot::default()),
            scheds: Vec::new(),
            tables: Tables {
                v4: ConnTable::new(cfg.conn_tab_bits, cfg.max_conns, cfg.seed),
                v6: ConnTable::new(cfg.conn_tab_bits, cfg.max_conns, cfg.seed ^ 0x6666),
            },
            stats: Arc::new(ShardStats::new(cfg.max_services, cfg.max_dests)),
            ip_id: (cfg.seed as u16) | 1,
            sync_enabled: false,
            sync_out: Vec::new(),
            timeout_ticks: [1; 12],
        };
        d.set_snapshot(snap);
        d
    }

    /// The counters of this shard, for the control plane to read.
    pub fn stats(&self) -> Arc<ShardStats> {
        self.stats.clone()
    }

    pub fn snapshot(&self) -> &Arc<Snapshot> {
        &self.snap
    }

    /// Switch to a new service table. Schedulers of unchanged services keep their
    /// state; changed ones are updated; connections are untouched.
    pub fn set_snapshot(&mut self, snap: Arc<Snapshot>) {
        if self.scheds.len() < snap.service_slots() {
            self.scheds.resize_with(snap.service_slots(), || None);
        }
        for (i, slot) in self.scheds.iter_mut().enumerate() {
            let Some(svc) = snap.service(ServiceId(i as u32)) else {
                *slot = None;
                continue;
            };
            let same_kind = slot
                .as_ref()
                .is_some_and(|s| s.sched.kind() == svc.config.scheduler);
            match slot {
                Some(s) if same_kind && s.version == svc.version => {}
                Some(s) if same_kind => {
                    s.sched.update(&svc.dests);
                    s.version = svc.version;
                }
                _ => {
                    let mut sched = new_scheduler(svc.config.scheduler, svc.config.sched_flags);
                    sched.update(&svc.dests);
                    *slot = Some(SchedSlot {
                        version: svc.version,
                        sched,
                    });
                }
            }
        }
        for (i, t) in self.timeout_ticks.iter_mut().enumerate() {
            let state = ConnState::from_u8(i as u8);
            *t = ticks_for(snap.settings.timeouts.for_state(state));
        }
        self.snap = snap;
    }

    /// The timeout of `state` in wheel ticks.
    #[inline]
    pub(crate) fn ticks(&self, state: ConnState) -> u32 {
        self.timeout_ticks[(state as usize).min(11)]
    }

    /// Connections (not templates) and templates in this shard.
    pub fn conn_count(&self) -> usize {
        self.tables.v4.len() + self.tables.v6.len()
    }

    /// Bytes held by this shard's connection tables.
    pub fn table_memory_bytes(&self) -> usize {
        self.tables.v4.memory_bytes() + self.tables.v6.memory_bytes()
    }

    /// Hash buckets per family (ipvsadm's "size=" figure).
    pub fn conn_tab_size(&self) -> usize {
        self.tables.v4.bucket_count()
    }

    /// Expire what is due, handling at most `budget` timer items; returns how many
    /// were handled (less than `budget` means caught up). Call often (every batch or
    /// every few milliseconds): cheap when nothing is due.
    pub fn expire(&mut self, now: Time, budget: usize) -> usize {
        let n4 = self.expire_family::<[u8; 4]>(now, budget);
        let n6 = self.expire_family::<[u8; 16]>(now, budget.saturating_sub(n4));
        n4 + n6
    }

    fn expire_family<A: Fam>(&mut self, now: Time, budget: usize) -> usize {
        let snap = &self.snap;
        let stats = &self.stats;
        A::table(&mut self.tables).expire(
            now,
            budget,
            |c| {
                if c.is_template() && c.controlled() > 0 {
                    let t = snap
                        .service_of(c.dest())
                        .and_then(|s| snap.service(s))
                        .and_then(|s| s.persistence_timeout())
                        .unwrap_or(Duration::from_secs(60));
                    Expiry::Rearm(t)
                } else {
                    Expiry::Remove
                }
            },
            |c| {
                if let Some(d) = snap.dest(c.dest()) {
                    d.unbind_conn(c.is_template(), !c.is_inactive());
                }
                let ctr = if c.is_template() {
                    &stats.templates
                } else {
                    &stats.conns
                };
                dec(ctr);
            },
        )
    }

    /// Periodic housekeeping: scheduler tables (lblc/lblcr expiry) and the table-memory
    /// figure (it walks the timer wheel, so not per batch); call every few seconds.
    pub fn housekeeping(&mut self, now: Time) {
        for s in self.scheds.iter_mut().flatten() {
            s.sched.tick(now);
        }
        self.stats.table_bytes.store(
            self.table_memory_bytes() as u64,
            std::sync::atomic::Ordering::Relaxed,
        );
    }

    /// Remove every connection and template (`ipvsadm -C` does not do this in IPVS;
    /// used on shutdown and by tests).
    pub fn flush(&mut self) {
        self.flush_family::<[u8; 4]>();
        self.flush_family::<[u8; 16]>();
    }

    fn flush_family<A: Fam>(&mut self) {
        let t = A::table(&mut self.tables);
        for s in t.slots() {
            let c = t.remove(s);
            if let Some(d) = self.snap.dest(c.dest()) {
                d.unbind_conn(c.is_template(), !c.is_inactive());
            }
            dec(if c.is_template() {
                &self.stats.templates
            } else {
                &self.stats.conns
            });
        }
    }

    /// Every connection and template, for listings.
    pub fn connections(&self, now: Time) -> Vec<ConnInfo> {
        let mut v = Vec::with_capacity(self.conn_count());
        Self::list_family(&self.tables.v4, now, &mut v);
        Self::list_family(&self.tables.v6, now, &mut v);
        v
    }

    fn list_family<A: IpBytes>(t: &ConnTable<A>, now: Time, out: &mut Vec<ConnInfo>) {
        for (_, c) in t.iter() {
            let fwmark = (c.flags & flags::FWMARK != 0).then(|| {
                let ip = c.vaddr.to_ip();
                match ip {
                    IpAddr::V4(a) => u32::from(a),
                    IpAddr::V6(a) => (u128::from(a) & 0xFFFF_FFFF) as u32,
                }
            });
            out.push(ConnInfo {
                proto: c.proto,
                client: (c.caddr.to_ip(), c.cport),
                virt: (c.vaddr.to_ip(), c.vport),
                dest: (c.daddr.to_ip(), c.dport),
                state: c.state(),
                expires: c.expires_in(now),
                template: c.is_template(),
                fwmark,
                method: c.method(),
                in_pkts: c.in_pkts,
            });
        }
    }

    #[inline]
    fn drop(&self, r: DropReason) -> Verdict {
        bump(&self.stats.drops[r.counter_index()]);
        Verdict::Drop(r)
    }

    #[inline]
    fn pass(&self) -> Verdict {
        bump(&self.stats.passed);
        Verdict::Pass
    }

    /// Decide about one frame.
    pub fn process(&mut self, rx: &mut Rx<'_>, now: Time) -> Verdict {
        let frame = match parse_frame(rx.frame()) {
            Ok(f) => f,
            Err(e) => return self.drop(DropReason::Malformed(e)),
        };
        let Some(ip) = frame.ip else {
            if frame.ether.ether_type == ETH_P_ARP {
                return self.arp(rx);
            }
            return self.pass();
        };
        let v = match ip.version {
            IpVersion::V4 => self.ip::<[u8; 4]>(rx, &ip, now),
            IpVersion::V6 => self.ip::<[u8; 16]>(rx, &ip, now),
        };
        match v {
            Verdict::Forward { .. } => bump(&self.stats.forwarded),
            Verdict::Reply { .. } => bump(&self.stats.replied),
            _ => {}
        }
        v
    }

    fn ip<A: Fam>(&mut self, rx: &mut Rx<'_>, ip: &IpMeta, now: Time) -> Verdict {
        let (Some(src), Some(dst)) = (A::from_ip(ip.src), A::from_ip(ip.dst)) else {
            return self.pass();
        };
        let ip_len = (ip.end - ip.l3_offset) as u64;
        match ip.l4 {
            Some(L4Meta::Tcp {
                src_port,
                dst_port,
                flags,
                ..
            }) => self.transport(
                rx,
                ip,
                Pkt {
                    src,
                    dst,
                    proto: 6,
                    sport: src_port,
                    dport: dst_port,
                    tcp_flags: flags,
                    ip_len,
                },
                now,
            ),
            Some(L4Meta::Udp { src_port, dst_port }) => self.transport(
                rx,
                ip,
                Pkt {
                    src,
                    dst,
                    proto: 17,
                    sport: src_port,
                    dport: dst_port,
                    tcp_flags: 0,
                    ip_len,
                },
                now,
            ),
            Some(L4Meta::Icmp { icmp_type, code }) | Some(L4Meta::Icmpv6 { icmp_type, code }) => {
                self.icmp::<A>(rx, ip, icmp_type, code, now)
            }
            None => {
                if self.is_director_address(&ip.dst, None, 0) {
                    if ip.is_later_fragment() {
                        self.drop(DropReason::Fragment)
                    } else {
                        self.drop(DropReason::Unsupported)
                    }
                } else if ip.is_later_fragment()
                    && self.snap.is_masq_real(Protocol::Tcp, &ip.src, 0)
                {
                    self.drop(DropReason::Fragment)
                } else {
                    self.pass()
                }
            }
        }
    }

    /// Is `dst` served by the director (a VIP, or covered by a firewall-mark rule)?
    fn is_director_address(&self, dst: &IpAddr, proto: Option<Protocol>, dport: u16) -> bool {
        if self.snap.is_vip(dst) {
            return true;
        }
        if self.snap.fwmark_rules.is_empty() {
            return false;
        }
        match proto {
            Some(p) => self.snap.classify(p, dst, dport) != 0,
            None => self.snap.fwmark_rules.iter().any(|r| r.dest.contains(dst)),
        }
    }

    /// TCP and UDP: an existing connection either way, else maybe a new one.
    fn transport<A: Fam>(&mut self, rx: &mut Rx<'_>, ip: &IpMeta, p: Pkt<A>, now: Time) -> Verdict {
        let table = A::table_ref(&self.tables);
        if let Some(slot) = table.lookup_in(p.proto, &p.src, p.sport, &p.dst, p.dport) {
            return self.inbound::<A>(rx, ip, p, slot, now);
        }
        if let Some(slot) = table.lookup_out(p.proto, &p.src, p.sport, &p.dst, p.dport) {
            return self.outbound::<A>(rx, ip, p, slot, now);
        }
        let Some(proto) = Protocol::from_ip_proto(p.proto) else {
            return self.pass();
        };
        if self.is_director_address(&ip.dst, Some(proto), p.dport) {
            return self.new_conn::<A>(rx, ip, p, proto, now);
        }
        // A NAT real server's reply without a connection must not leave un-NATed;
        // answers to the director's own connections (health checks) are the host's.
        if self.snap.is_masq_real(proto, &ip.src, p.sport) && !self.snap.is_local_addr(&ip.dst) {
            return self.drop(DropReason::NatReplyWithoutConn);
        }
        self.pass()
    }

    /// A packet from the client on a known connection.
    fn inbound<A: Fam>(
        &mut self,
        rx: &mut Rx<'_>,
        ip: &IpMeta,
        p: Pkt<A>,
        slot: u32,
        now: Time,
    ) -> Verdict {
        let c = *A::table_ref(&self.tables).get(slot);
        if self.snap.settings.expire_nodest_conn
            && !self.snap.dest(c.dest()).is_some_and(|d| d.is_available())
        {
            self.remove_conn::<A>(slot);
            return self.drop(DropReason::DestRemoved);
        }
        if p.proto == 6 {
            // A new SYN on a connection that is closing: a new connection reusing the
            // client port (IPVS conn_reuse_mode), scheduled afresh.
            if p.tcp_flags & (TCP_SYN | TCP_ACK | TCP_RST) == TCP_SYN
                && self.snap.settings.conn_reuse
                && c.controller().is_none()
                && matches!(c.state(), ConnState::TimeWait | ConnState::Close)
            {
                self.remove_conn::<A>(slot);
                if let Some(proto) = Protocol::from_ip_proto(p.proto) {
                    return self.new_conn::<A>(rx, ip, p, proto, now);
                }
            }
            let dir = if c.flags & flags::NO_OUTPUT != 0 {
                Direction::InputOnly
            } else {
                Direction::Input
            };
            self.tcp_transition::<A>(slot, dir, p.tcp_flags, now);
        } else {
            let t = self.ticks(ConnState::Udp);
            A::table(&mut self.tables).touch_ticks(slot, t, now);
        }
        let cm = A::table(&mut self.tables).get_mut(slot);
        cm.in_pkts = cm.in_pkts.wrapping_add(1);
        self.sync_note::<A>(slot, c.state(), now);
        self.count_in(c.dest(), p.ip_len);
        self.forward_in::<A>(rx, ip, &c, now)
    }

    /// A reply from a NAT real server on a known connection.
    fn outbound<A: Fam>(
        &mut self,
        rx: &mut Rx<'_>,
        ip: &IpMeta,
        p: Pkt<A>,
        slot: u32,
        now: Time,
    ) -> Verdict {
        let old_state = A::table_ref(&self.tables).get(slot).state();
        if p.proto == 6 {
            let cm = A::table(&mut self.tables).get_mut(slot);
            cm.flags &= !flags::NO_OUTPUT;
            self.tcp_transition::<A>(slot, Direction::Output, p.tcp_flags, now);
        } else {
            let t = self.ticks(ConnState::Udp);
            A::table(&mut self.tables).touch_ticks(slot, t, now);
        }
        let c = *A::table_ref(&self.tables).get(slot);
        if c.state() != old_state {
            self.sync_note::<A>(slot, old_state, now);
        }
        self.count_out(c.dest(), p.ip_len);
        self.forward_out::<A>(rx, ip, &c)
    }

    /// Apply the TCP state machine; keep the real server's active/inactive counts in step.
    fn tcp_transition<A: Fam>(&mut self, slot: u32, dir: Direction, tcp_flags: u8, now: Time) {
        let ticks = &self.timeout_ticks;
        let t = A::table(&mut self.tables);
        let c = t.get(slot);
        let old = c.state();
        let new = tcp_next_state(old, dir, tcp_flags);
        if new != old {
            let was_inactive = c.is_inactive();
            let now_inactive = new != ConnState::Established;
            if was_inactive != now_inactive {
                if let Some(d) = self.snap.dest(c.dest()) {
                    d.move_conn(!now_inactive);
                }
                let cm = t.get_mut(slot);
                if now_inactive {
                    cm.flags |= flags::INACTIVE;
                } else {
                    cm.flags &= !flags::INACTIVE;
                }
            }
            t.set_state(slot, new);
        }
        t.touch_ticks(slot, ticks[(new as usize).min(11)], now);
    }

    /// Remove a connection now, releasing its real server's count.
    fn remove_conn<A: Fam>(&mut self, slot: u32) {
        let c = A::table(&mut self.tables).remove(slot);
        if let Some(d) = self.snap.dest(c.dest()) {
            d.unbind_conn(c.is_template(), !c.is_inactive());
        }
        dec(if c.is_template() {
            &self.stats.templates
        } else {
            &self.stats.conns
        });
    }

    #[inline]
    fn count_in(&self, dest: crate::dest::DestId, bytes: u64) {
        if let Some(c) = self.stats.dests.get(dest.0 as usize) {
            c.inbound(bytes);
        }
        if let Some(s) = self.snap.service_of(dest) {
            if let Some(c) = self.stats.services.get(s.0 as usize) {
                c.inbound(bytes);
            }
        }
    }

    #[inline]
    fn count_out(&self, dest: crate::dest::DestId, bytes: u64) {
        if let Some(c) = self.stats.dests.get(dest.0 as usize) {
            c.outbound(bytes);
        }
        if let Some(s) = self.snap.service_of(dest) {
            if let Some(c) = self.stats.services.get(s.0 as usize) {
                c.outbound(bytes);
            }
        }
    }

    fn next_ip_id(&mut self) -> u16 {
        self.ip_id = self.ip_id.wrapping_add(1);
        self.ip_id
    }

    /// The MAC address of a port (zero if the port is unknown).
    fn port_mac(&self, port: PortId) -> [u8; 6] {
        self.snap.port(port).map(|p| p.mac).unwrap_or([0; 6])
    }

    fn set_src_mac(&self, buf: &mut [u8], start: usize, port: PortId) {
        let mac = self.port_mac(port);
        if buf.len() >= start + ETH_HLEN {
            buf[start + 6..start + 12].copy_from_slice(&mac);
        }
    }
}

#[inline]
fn dec(c: &std::sync::atomic::AtomicU64) {
    use std::sync::atomic::Ordering::Relaxed;
    c.store(c.load(Relaxed).saturating_sub(1), Relaxed);
}

#[cfg(test)]
mod tests;

/// Staged prefetching for a batch of frames (the connection table is far larger than the
/// caches, so each lookup would otherwise wait for two memory loads: the hash bucket,
/// then the entry). A worker calls [`Director::prefetch`] with stage 0 on every frame of a
/// batch, then with stage 1 on every frame, then processes them: by then the loads for
/// each frame have overlapped with the work on the others.
impl Director {
    /// Stage 0: start loading the buckets the lookups of `frame` will read (both
    /// directions: the frame may come from a client or from a NAT real server). Stage 1:
    /// start loading the first entries of those buckets. Never fails: frames that do not
    /// parse are left alone (processing will deal with them).
    #[inline]
    pub fn prefetch(&self, stage: usize, frame: &[u8]) {
        let Some(k) = prefetch_key(frame) else {
            return;
        };
        match k {
            PrefetchKey::V4 {
                proto,
                src,
                dst,
                sport,
                dport,
            } => {
                prefetch_both(&self.tables.v4, stage, proto, (&src, sport), (&dst, dport));
            }
            PrefetchKey::V6 {
                proto,
                src,
                dst,
                sport,
                dport,
            } => {
                prefetch_both(&self.tables.v6, stage, proto, (&src, sport), (&dst, dport));
            }
        }
    }
}

/// Stage 0 loads the buckets of both endpoints (either may be the client's: inbound or
/// a NAT reply), later stages the entries they point to.
#[inline]
fn prefetch_both<A: IpBytes>(
    t: &ConnTable<A>,
    stage: usize,
    proto: u8,
    (src, sport): (&A, u16),
    (dst, dport): (&A, u16),
) {
    if stage == 0 {
        t.prefetch_bucket(proto, src, sport);
        t.prefetch_bucket(proto, dst, dport);
    } else {
        t.prefetch_entry(proto, src, sport);
        t.prefetch_entry(proto, dst, dport);
    }
}

/// The lookup keys of a TCP/UDP frame without VLAN tags or IPv6 extension headers (the
/// common case; others are simply not prefetched).
enum PrefetchKey {
    V4 {
        proto: u8,
        src: [u8; 4],
        dst: [u8; 4],
        sport: u16,
        dport: u16,
    },
    V6 {
        proto: u8,
        src: [u8; 16],
        dst: [u8; 16],
        sport: u16,
        dport: u16,
    },
}

#[inline]
fn prefetch_key(f: &[u8]) -> Option<PrefetchKey> {
    let ports = |at: usize| -> Option<(u16, u16)> {
        let p = f.get(at..at + 4)?;
        Some((
            u16::from_be_bytes([p[0], p[1]]),
            u16::from_be_bytes([p[2], p[3]]),
        ))
    };
    match f.get(12..14)? {
        [0x08, 0x00] => {
            let ip = f.get(14..34)?;
            let proto = ip[9];
            // No ports in later fragments.
            if !(proto == 6 || proto == 17) || (ip[6] & 0x1f) != 0 || ip[7] != 0 {
                return None;
            }
            let (sport, dport) = ports(14 + usize::from(ip[0] & 0x0f) * 4)?;
            Some(PrefetchKey::V4 {
                proto,
                src: [ip[12], ip[13], ip[14], ip[15]],
                dst: [ip[16], ip[17], ip[18], ip[19]],
                sport,
                dport,
            })
        }
        [0x86, 0xdd] => {
            let ip = f.get(14..54)?;
            let proto = ip[6];
            if !(proto == 6 || proto == 17) {
                return None;
            }
            let (sport, dport) = ports(54)?;
            let mut src = [0u8; 16];
            let mut dst = [0u8; 16];
            src.copy_from_slice(&ip[8..24]);
            dst.copy_from_slice(&ip[24..40]);
            Some(PrefetchKey::V6 {
                proto,
                src,
                dst,
                sport,
                dport,
            })
        }
        _ => None,
    }
}
