//! A data-plane worker: one thread, one director shard, the ports of one backend
//! (AF_PACKET rings or AF_XDP sockets, behind [`PortIo`]). It receives a batch per
//! port, lets the core decide about each frame in place, fills in the next hop's MAC,
//! hands the frame to the egress port (AF_XDP: the same buffer, no copy) and kicks each
//! ring once per round. Partial checksums stay partial when the backend can ask the
//! kernel to finish them. It busy-polls while traffic flows and blocks in poll(2) when
//! idle (an idle director costs no CPU). Between batches it picks up a new service
//! table, runs the connection timers and answers the control plane.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::mpsc::{Receiver, Sender, SyncSender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use rvs_core::director::sync::SyncRecord;
use rvs_core::director::{ConnInfo, Director, Rx, Verdict};
use rvs_core::service::{PortId, Snapshot};
use rvs_core::Time;
use rvs_io::{CsumRequest, CsumState, Disposition, NeighCache, PacketType, PortIo, TxOffload};

/// Frames waiting for a neighbour resolution, at most this many per worker.
const PENDING_MAX: usize = 512;
/// How long a frame may wait for its next hop's MAC.
const PENDING_TTL: Duration = Duration::from_millis(1000);
const BATCH: usize = 64;
/// Empty rounds before the worker blocks in poll(2).
const SPIN_ROUNDS: u32 = 200;
/// Scheduler tables, memory figures and counters' log line: every 2 s.
const HOUSEKEEPING_NS: u64 = 2_000_000_000;
/// Longest block in poll(2): timers and control requests run at least this often.
const IDLE_WAIT: Duration = Duration::from_millis(20);

/// Requests from the control plane, answered between batches.
pub enum WorkerRequest {
    Connections(SyncSender<Vec<ConnInfo>>),
    /// Note connections for a master sync daemon (Some) or stop (None).
    SetSync(Option<Sender<Vec<SyncRecord>>>),
    /// Every connection as sync records (bulk resync).
    SyncDump(SyncSender<Vec<SyncRecord>>),
    /// Connections a master director synchronised.
    InstallSynced(Vec<SyncRecord>),
}

/// Counters the worker keeps besides the core's.
#[derive(Debug, Default)]
pub struct WorkerStats {
    pub rx_frames: AtomicU64,
    pub batches: AtomicU64,
    pub tx_frames: AtomicU64,
    pub tx_full: AtomicU64,
    pub truncated: AtomicU64,
    pub neigh_wait: AtomicU64,
    pub neigh_timeout: AtomicU64,
    pub conns: AtomicU64,
    pub polls: AtomicU64,
    pub synced_installed: AtomicU64,
    /// Frames addressed to another host's MAC, ignored.
    pub other_host: AtomicU64,
    pub synced_failed: AtomicU64,
}

#[inline]
fn bump(c: &AtomicU64, n: u64) {
    c.store(c.load(Relaxed).wrapping_add(n), Relaxed);
}

/// The MAC lookup the worker uses for next hops.
pub struct Neighbours {
    pub cache: NeighCache,
    /// (ifindex, ip) whose resolution the worker asks for.
    pub resolve: Sender<(u32, IpAddr)>,
}

pub struct Worker<P: PortIo> {
    pub index: usize,
    pub director: Director,
    pub ports: P,
    /// Whether the backend can send frames whose checksum is left partial.
    pub keep_partial: bool,
    pub ifindex: Vec<u32>,
    /// Each port's own MAC: unicast frames for any other MAC are not ours.
    pub macs: Vec<[u8; 6]>,
    pub snapshot: Arc<ArcSwap<Snapshot>>,
    pub neigh: Neighbours,
    pub requests: Receiver<WorkerRequest>,
    pub stop: Arc<AtomicBool>,
    pub stats: Arc<WorkerStats>,
    pub epoch: Instant,
    pub sync: Option<Sender<Vec<SyncRecord>>>,
}

/// A frame that waits for its next hop's MAC (a copy: the receive buffer goes back).
struct Pending {
    port: PortId,
    next_hop: IpAddr,
    since: Instant,
    offload: TxOffload,
    frame: Vec<u8>,
}

/// What the per-frame callback needs besides the ports (disjoint borrows of the worker).
struct FrameCtx<'a> {
    director: &'a mut Director,
    neigh: &'a Neighbours,
    ifindex: &'a [u32],
    macs: &'a [[u8; 6]],
    stats: &'a WorkerStats,
    pending: &'a mut VecDeque<Pending>,
    asked: &'a mut HashMap<(u32, IpAddr), Instant>,
    keep_partial: bool,
    now: Time,
}

impl FrameCtx<'_> {
    /// A frame for another host's MAC (a switch flooding unknown unicast, e.g. to a VRRP
    /// backup): the kernel would drop it before IP, and so do we. AF_PACKET tells the
    /// packet type; AF_XDP sees every frame the port receives, so the MAC is compared.
    #[inline]
    fn for_another_host(&self, f: &rvs_io::RxFrame<'_>, port: PortId) -> bool {
        if matches!(
            f.packet_type(),
            PacketType::OtherHost | PacketType::Outgoing
        ) {
            return true;
        }
        match (f.data().get(..6), self.macs.get(port.0 as usize)) {
            // Group bit clear: unicast, and not to this port.
            (Some(dst), Some(own)) => dst[0] & 1 == 0 && dst != own,
            _ => false,
        }
    }

    /// Decide about one received frame.
    #[inline]
    fn handle(&mut self, f: &mut rvs_io::RxFrame<'_>, port: PortId) -> Disposition {
        if f.is_unforwardable() {
            bump(&self.stats.truncated, 1);
            return Disposition::Release;
        }
        if self.for_another_host(f, port) {
            bump(&self.stats.other_host, 1);
            return Disposition::Release;
        }
        let offload = f.offload();
        let (start, len) = (f.start(), f.len());
        let mut rx = Rx::new(f.buf_with_headroom(), start, len, port);
        rx.csum_partial = offload.csum == CsumState::Partial;
        rx.csum_unknown = offload.csum == CsumState::Unknown;
        rx.keep_partial = self.keep_partial;
        rx.gso = offload.gso.is_some();
        match self.director.process(&mut rx, self.now) {
            Verdict::Forward {
                port,
                next_hop,
                start,
                len,
            } => {
                let out = port.0 as usize;
                let Some(&oif) = self.ifindex.get(out) else {
                    return Disposition::Release;
                };
                let tx = TxOffload {
                    csum: rx
                        .out_csum
                        .map(|(start, offset)| CsumRequest { start, offset }),
                    gso: offload.gso,
                };
                if tx.gso.is_some() && tx.csum.is_none() {
                    // A super-frame must leave partial; the core completed it (tunnel).
                    return Disposition::Release;
                }
                let frame = &mut rx.buf[start..start + len];
                match self.neigh.cache.lookup_on(oif, next_hop) {
                    Some(mac) => {
                        frame[..6].copy_from_slice(&mac.octets());
                        Disposition::Transmit {
                            port: out,
                            start,
                            len,
                            offload: tx,
                        }
                    }
                    None => {
                        self.wait_for_neighbour(port, oif, next_hop, tx, frame);
                        Disposition::Release
                    }
                }
            }
            Verdict::Reply { port, start, len } => Disposition::Transmit {
                port: port.0 as usize,
                start,
                len,
                offload: TxOffload::NONE,
            },
            Verdict::Pass | Verdict::Drop(_) => Disposition::Release,
        }
    }

    #[cold]
    fn wait_for_neighbour(
        &mut self,
        port: PortId,
        oif: u32,
        next_hop: IpAddr,
        offload: TxOffload,
        frame: &[u8],
    ) {
        bump(&self.stats.neigh_wait, 1);
        let key = (oif, next_hop);
        let t = Instant::now();
        if self
            .asked
            .get(&key)
            .is_none_or(|at| t.duration_since(*at) > Duration::from_millis(200))
        {
            self.asked.insert(key, t);
            let _ = self.neigh.resolve.send(key);
        }
        if self.pending.len() < PENDING_MAX {
            self.pending.push_back(Pending {
                port,
                next_hop,
                since: t,
                offload,
                frame: frame.to_vec(),
            });
        } else {
            bump(&self.stats.neigh_timeout, 1);
        }
    }
}

impl<P: PortIo> Worker<P> {
    fn now(&self) -> Time {
        Time::from_nanos(self.epoch.elapsed().as_nanos() as u64)
    }

    pub fn run(mut self) {
        tracing::debug!(
            worker = self.index,
            ports = self.ports.ports(),
            keep_partial = self.keep_partial,
            "worker running"
        );
        let mut pending: VecDeque<Pending> = VecDeque::new();
        let mut asked: HashMap<(u32, IpAddr), Instant> = HashMap::new();
        let mut idle = 0u32;
        // One clock read per round (the vDSO read is not free at a few hundred thousand
        // rounds a second); timers and housekeeping use that reading.
        let mut last_housekeeping = self.now();
        while !self.stop.load(Relaxed) {
            let snap = self.snapshot.load();
            if snap.generation != self.director.snapshot().generation {
                self.director.set_snapshot(snap.clone());
            }
            drop(snap);
            self.serve_requests();

            let mut frames = 0usize;
            let now = self.now();
            let mut ctx = FrameCtx {
                director: &mut self.director,
                neigh: &self.neigh,
                ifindex: &self.ifindex,
                macs: &self.macs,
                stats: &self.stats,
                pending: &mut pending,
                asked: &mut asked,
                keep_partial: self.keep_partial,
                now,
            };
            for p in 0..self.ports.ports() {
                let port = PortId(p as u8);
                // Two look-ahead passes over the batch start the connection-table loads
                // (buckets, then entries) before any frame is decided.
                // (Both callbacks reach the shard; they never run at the same time.)
                let ctx = RefCell::new(&mut ctx);
                frames += self.ports.recv_staged(
                    p,
                    BATCH,
                    2,
                    |stage, data| ctx.borrow().director.prefetch(stage, data),
                    |f| ctx.borrow_mut().handle(f, port),
                );
            }
            if !pending.is_empty() {
                self.retry_pending(&mut pending);
            }
            let _ = self.ports.flush();
            if frames > 0 {
                bump(&self.stats.batches, 1);
                let io = self.ports.stats();
                self.stats.rx_frames.store(io.rx_frames, Relaxed);
                self.stats.tx_frames.store(io.tx_frames, Relaxed);
                self.stats.tx_full.store(io.tx_full, Relaxed);
            }
            if let Some(tx) = &self.sync {
                let mut recs = Vec::new();
                self.director.take_sync(&mut recs);
                if !recs.is_empty() && tx.send(recs).is_err() {
                    self.sync = None;
                    self.director.set_sync(false);
                }
            }
            self.director.expire(now, 4096);
            self.stats
                .conns
                .store(self.director.conn_count() as u64, Relaxed);
            if now.0.saturating_sub(last_housekeeping.0) >= HOUSEKEEPING_NS {
                last_housekeeping = now;
                self.director.housekeeping(now);
                let io = self.ports.stats();
                tracing::debug!(
                    worker = self.index,
                    rx = io.rx_frames,
                    tx = io.tx_frames,
                    kicks = io.kicks,
                    tx_full = io.tx_full,
                    tx_invalid = io.tx_invalid,
                    batches = self.stats.batches.load(Relaxed),
                    polls = self.stats.polls.load(Relaxed),
                    "worker I/O"
                );
                asked.retain(|_, at| at.elapsed() < Duration::from_secs(5));
            }
            if frames == 0 {
                idle += 1;
                if idle > SPIN_ROUNDS {
                    let wait = if pending.is_empty() {
                        IDLE_WAIT
                    } else {
                        Duration::from_millis(1)
                    };
                    let _ = self.ports.wait(wait);
                    bump(&self.stats.polls, 1);
                }
            } else {
                idle = 0;
            }
        }
        // Release real-server counts held by this shard's connections.
        self.director.flush();
    }

    fn retry_pending(&mut self, pending: &mut VecDeque<Pending>) {
        let n = pending.len();
        for _ in 0..n {
            let Some(mut p) = pending.pop_front() else {
                break;
            };
            let out = p.port.0 as usize;
            let Some(&oif) = self.ifindex.get(out) else {
                continue;
            };
            if let Some(mac) = self.neigh.cache.lookup_on(oif, p.next_hop) {
                p.frame[..6].copy_from_slice(&mac.octets());
                let _ = self.ports.send_copy(out, &p.frame, p.offload);
            } else if p.since.elapsed() < PENDING_TTL {
                pending.push_back(p);
            } else {
                bump(&self.stats.neigh_timeout, 1);
            }
        }
    }

    fn serve_requests(&mut self) {
        while let Ok(req) = self.requests.try_recv() {
            match req {
                WorkerRequest::Connections(reply) => {
                    let _ = reply.send(self.director.connections(self.now()));
                }
                WorkerRequest::SetSync(tx) => {
                    self.director.set_sync(tx.is_some());
                    self.sync = tx;
                }
                WorkerRequest::SyncDump(reply) => {
                    let mut all = Vec::new();
                    self.director.sync_dump(self.now(), &mut all);
                    let _ = reply.send(all);
                }
                WorkerRequest::InstallSynced(records) => {
                    let now = self.now();
                    for r in &records {
                        match self.director.install_synced(r, now) {
                            Ok(()) => bump(&self.stats.synced_installed, 1),
                            Err(_) => bump(&self.stats.synced_failed, 1),
                        }
                    }
                }
            }
        }
    }
}
