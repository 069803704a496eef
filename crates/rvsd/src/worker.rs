//! A data-plane worker: one thread, one director shard, one AF_PACKET socket per
//! port. It receives a batch per port, lets the core decide about each frame in
//! place, fills in the next hop's MAC, queues the frame on the egress TX ring and
//! kicks each ring once per batch. It busy-polls while traffic flows and blocks in
//! poll(2) when idle, so an idle director costs no CPU. Between batches it picks up
//! a new service table, runs the connection timers and answers the control plane.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::mpsc::{Receiver, Sender, SyncSender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use rvs_core::director::sync::SyncRecord;
use rvs_core::director::{ConnInfo, Director, Rx, Verdict};
use rvs_core::service::{PortId, Snapshot};
use rvs_core::Time;
use rvs_io::{NeighCache, PacketType, RxRing, TxRing};

/// Frames waiting for a neighbour resolution, at most this many per worker.
const PENDING_MAX: usize = 512;
/// How long a frame may wait for its next hop's MAC.
const PENDING_TTL: Duration = Duration::from_millis(1000);
const BATCH: usize = 64;
/// Empty rounds before the worker blocks in poll(2).
const SPIN_ROUNDS: u32 = 200;
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

pub struct Worker {
    pub index: usize,
    pub director: Director,
    pub rx: Vec<RxRing>,
    pub tx: Vec<TxRing>,
    pub ifindex: Vec<u32>,
    pub snapshot: Arc<ArcSwap<Snapshot>>,
    pub neigh: Neighbours,
    pub requests: Receiver<WorkerRequest>,
    pub stop: Arc<AtomicBool>,
    pub stats: Arc<WorkerStats>,
    pub epoch: Instant,
    pub sync: Option<Sender<Vec<SyncRecord>>>,
}

struct Pending {
    port: PortId,
    next_hop: IpAddr,
    since: Instant,
    frame: Vec<u8>,
}

impl Worker {
    fn now(&self) -> Time {
        Time::from_nanos(self.epoch.elapsed().as_nanos() as u64)
    }

    pub fn run(mut self) {
        tracing::debug!(worker = self.index, ports = self.rx.len(), "worker running");
        let mut pending: VecDeque<Pending> = VecDeque::new();
        let mut asked: HashMap<(u32, IpAddr), Instant> = HashMap::new();
        let mut idle = 0u32;
        let mut last_housekeeping = Instant::now();
        while !self.stop.load(Relaxed) {
            let snap = self.snapshot.load();
            if snap.generation != self.director.snapshot().generation {
                self.director.set_snapshot(snap.clone());
            }
            drop(snap);
            self.serve_requests();

            let mut frames = 0usize;
            let now = self.now();
            for p in 0..self.rx.len() {
                let (rxs, txs) = (&mut self.rx, &mut self.tx);
                let director = &mut self.director;
                let neigh = &self.neigh;
                let ifindex = &self.ifindex;
                let stats = &self.stats;
                let pend = &mut pending;
                let asked = &mut asked;
                frames += rxs[p].recv_batch(BATCH, |f| {
                    if f.is_truncated() {
                        bump(&stats.truncated, 1);
                        return;
                    }
                    // A frame for another host's MAC (a switch flooding unknown unicast,
                    // e.g. to a VRRP backup): the kernel would drop it before IP; so do we.
                    if matches!(
                        f.packet_type(),
                        PacketType::OtherHost | PacketType::Outgoing
                    ) {
                        bump(&stats.other_host, 1);
                        return;
                    }
                    let (start, len, partial) = (f.start(), f.len(), f.csum_partial());
                    let mut rx = Rx::new(f.buf_with_headroom(), start, len, PortId(p as u8));
                    rx.csum_partial = partial;
                    match director.process(&mut rx, now) {
                        Verdict::Forward {
                            port,
                            next_hop,
                            start,
                            len,
                        } => {
                            let out = port.0 as usize;
                            let Some(&oif) = ifindex.get(out) else { return };
                            let frame = &mut rx.buf[start..start + len];
                            match neigh.cache.lookup_on(oif, next_hop) {
                                Some(mac) => {
                                    frame[..6].copy_from_slice(&mac.octets());
                                    transmit(&mut txs[out], frame, stats);
                                }
                                None => {
                                    bump(&stats.neigh_wait, 1);
                                    let key = (oif, next_hop);
                                    let t = Instant::now();
                                    if asked.get(&key).is_none_or(|at| {
                                        t.duration_since(*at) > Duration::from_millis(200)
                                    }) {
                                        asked.insert(key, t);
                                        let _ = neigh.resolve.send(key);
                                    }
                                    if pend.len() < PENDING_MAX {
                                        pend.push_back(Pending {
                                            port,
                                            next_hop,
                                            since: t,
                                            frame: frame.to_vec(),
                                        });
                                    } else {
                                        bump(&stats.neigh_timeout, 1);
                                    }
                                }
                            }
                        }
                        Verdict::Reply { port, start, len } => {
                            let out = port.0 as usize;
                            if out < txs.len() {
                                transmit(&mut txs[out], &rx.buf[start..start + len], stats);
                            }
                        }
                        Verdict::Pass | Verdict::Drop(_) => {}
                    }
                });
            }
            if !pending.is_empty() {
                self.retry_pending(&mut pending);
            }
            for t in &mut self.tx {
                if t.pending() > 0 {
                    let _ = t.flush();
                }
            }
            if frames > 0 {
                bump(&self.stats.rx_frames, frames as u64);
                bump(&self.stats.batches, 1);
            }
            if let Some(tx) = &self.sync {
                let mut recs = Vec::new();
                self.director.take_sync(&mut recs);
                if !recs.is_empty() && tx.send(recs).is_err() {
                    self.sync = None;
                    self.director.set_sync(false);
                }
            }
            let now = self.now();
            self.director.expire(now, 4096);
            self.stats
                .conns
                .store(self.director.conn_count() as u64, Relaxed);
            if last_housekeeping.elapsed() >= Duration::from_secs(2) {
                last_housekeeping = Instant::now();
                self.director.housekeeping(now);
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
                    self.wait(wait);
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
                transmit(&mut self.tx[out], &p.frame, &self.stats);
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

    /// Block until a port has frames or `timeout` passes.
    fn wait(&self, timeout: Duration) {
        let mut fds: Vec<libc::pollfd> = self
            .rx
            .iter()
            .map(|r| libc::pollfd {
                fd: r.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        if self.rx.iter().any(|r| r.has_ready()) {
            return;
        }
        // SAFETY: `fds` is a valid, initialised array of pollfd of the given length
        // that outlives the call.
        unsafe {
            libc::poll(
                fds.as_mut_ptr(),
                fds.len() as libc::nfds_t,
                timeout.as_millis().min(i32::MAX as u128) as i32,
            );
        }
    }
}

#[inline]
fn transmit(tx: &mut TxRing, frame: &[u8], stats: &WorkerStats) {
    if tx.push(frame).is_err() {
        // The ring is full: kick it and try once more before dropping.
        let _ = tx.flush();
        if tx.push(frame).is_err() {
            bump(&stats.tx_full, 1);
            return;
        }
    }
    bump(&stats.tx_frames, 1);
}
