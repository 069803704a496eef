//! The connection synchronisation daemons (`rvsadm --start-daemon master|backup`,
//! keepalived's `lvs_sync_daemon`): the master sends the connections the workers note
//! (IPVS sync protocol v1 over UDP multicast, 224.0.0.81:8848 by default) and answers
//! a late backup's request for a bulk resync; the backup checks what it receives and
//! has the workers install it, so that a failover continues established connections.
//! Optionally every message carries an HMAC (a shared key, beyond IPVS).

use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::mpsc::{sync_channel, Receiver as ChanReceiver, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rvs_admin::config::{SyncDaemonConfig, SyncState};
use rvs_core::conn::ConnState;
use rvs_core::director::sync::SyncRecord;
use rvs_core::ForwardMethod;
use rvs_sync::control::ResyncRequest;
use rvs_sync::linux::{SyncChannel, SyncSocket};
use rvs_sync::message::{flags, MessageBuilder, SyncConn};
use rvs_sync::receiver::{Incoming, Receiver};
use rvs_sync::SyncKey;

use crate::worker::WorkerRequest;

/// Counters of the sync daemons (shown by the status page and metrics).
#[derive(Debug, Default)]
pub struct SyncCounters {
    pub sent_messages: AtomicU64,
    pub sent_conns: AtomicU64,
    pub received_messages: AtomicU64,
    pub received_conns: AtomicU64,
    pub rejected: AtomicU64,
    pub resyncs: AtomicU64,
}

/// A running daemon; stops and joins on drop.
pub struct SyncDaemon {
    pub config: SyncDaemonConfig,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for SyncDaemon {
    fn drop(&mut self) {
        self.stop.store(true, Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn channel_of(cfg: &SyncDaemonConfig) -> SyncChannel {
    let mut ch = SyncChannel::default();
    if let Some(IpAddr::V4(g)) = cfg.mcast_group {
        ch.group = g;
    }
    if let Some(p) = cfg.mcast_port {
        ch.port = p;
    }
    if let Some(t) = cfg.mcast_ttl {
        ch.ttl = t;
    }
    ch
}

fn interface_v4(name: &str) -> Result<Ipv4Addr, String> {
    let ifc =
        rvs_io::Interface::by_name(name).map_err(|e| format!("sync interface {name}: {e}"))?;
    ifc.ipv4
        .first()
        .map(|(a, _)| *a)
        .ok_or_else(|| format!("sync interface {name} has no IPv4 address"))
}

/// Our record into the IPVS wire record.
pub fn to_wire(r: &SyncRecord) -> SyncConn {
    let mut f = match r.method {
        ForwardMethod::Masq => flags::MASQ,
        ForwardMethod::Tunnel => flags::TUNNEL,
        ForwardMethod::Route => flags::DROUTE,
    };
    if r.template {
        f |= flags::TEMPLATE;
    } else if r.state != ConnState::Established {
        f |= flags::INACTIVE;
    }
    if r.method != ForwardMethod::Masq && !r.template {
        f |= flags::NOOUTPUT;
    }
    let state = match r.state {
        ConnState::Udp => 0,
        s => s as u16,
    };
    SyncConn {
        protocol: if r.template && r.fwmark != 0 {
            0
        } else {
            r.proto
        },
        flags: f,
        state,
        caddr: r.caddr,
        cport: r.cport,
        vaddr: r.vaddr,
        vport: r.vport,
        daddr: r.daddr,
        dport: r.dport,
        fwmark: r.fwmark,
        timeout: r.timeout_secs,
        seq: None,
        pe: None,
    }
}

/// The IPVS wire record into ours (None for what the director does not handle).
pub fn from_wire(c: &SyncConn) -> Option<SyncRecord> {
    let template = c.flags & flags::TEMPLATE != 0;
    let method = match c.flags & flags::FWD_MASK {
        flags::MASQ => ForwardMethod::Masq,
        flags::TUNNEL => ForwardMethod::Tunnel,
        flags::DROUTE => ForwardMethod::Route,
        _ => return None,
    };
    let proto = if template && c.protocol == 0 {
        6
    } else {
        c.protocol
    };
    let state = match proto {
        17 => ConnState::Udp,
        6 => ConnState::from_u8(c.state.min(10) as u8),
        _ => return None,
    };
    Some(SyncRecord {
        proto,
        caddr: c.caddr,
        cport: c.cport,
        vaddr: c.vaddr,
        vport: c.vport,
        daddr: c.daddr,
        dport: c.dport,
        state,
        method,
        template,
        fwmark: c.fwmark,
        timeout_secs: c.timeout,
    })
}

/// Where records from workers reach a master daemon.
pub type RecordSender = Sender<Vec<SyncRecord>>;

/// Start a daemon. A master returns the sender the workers must use.
pub fn start(
    cfg: &SyncDaemonConfig,
    workers: Vec<Sender<WorkerRequest>>,
    key: Option<SyncKey>,
    counters: Arc<SyncCounters>,
) -> Result<(SyncDaemon, Option<RecordSender>), String> {
    let stop = Arc::new(AtomicBool::new(false));
    let ch = channel_of(cfg);
    let local = interface_v4(&cfg.mcast_ifn)?;
    let ifn = cfg.mcast_ifn.clone();
    let syncid = cfg.syncid;
    let maxlen = cfg.sync_maxlen.map(usize::from).unwrap_or(1472);
    let stop2 = stop.clone();
    let (thread, records) = match cfg.state {
        SyncState::Master => {
            let (tx, rx) = std::sync::mpsc::channel::<Vec<SyncRecord>>();
            let out = SyncSocket::sender(&ifn, local, ch)
                .map_err(|e| format!("sync master on {ifn}: {e}"))?;
            let inbox =
                SyncSocket::receiver(&ifn, ch).map_err(|e| format!("sync master on {ifn}: {e}"))?;
            let t = std::thread::Builder::new()
                .name("rvsd-sync-master".into())
                .spawn(move || {
                    master(
                        out, inbox, rx, workers, syncid, maxlen, key, local, counters, stop2,
                    )
                })
                .map_err(|e| e.to_string())?;
            (t, Some(tx))
        }
        SyncState::Backup => {
            let inbox =
                SyncSocket::receiver(&ifn, ch).map_err(|e| format!("sync backup on {ifn}: {e}"))?;
            let out = SyncSocket::sender(&ifn, local, ch)
                .map_err(|e| format!("sync backup on {ifn}: {e}"))?;
            let t = std::thread::Builder::new()
                .name("rvsd-sync-backup".into())
                .spawn(move || backup(inbox, out, workers, syncid, key, local, counters, stop2))
                .map_err(|e| e.to_string())?;
            (t, None)
        }
    };
    tracing::info!(state = ?cfg.state, interface = %cfg.mcast_ifn, syncid = cfg.syncid, "sync daemon started");
    Ok((
        SyncDaemon {
            config: cfg.clone(),
            stop,
            thread: Some(thread),
        },
        records,
    ))
}

#[allow(clippy::too_many_arguments)]
fn master(
    out: SyncSocket,
    inbox: SyncSocket,
    records: ChanReceiver<Vec<SyncRecord>>,
    workers: Vec<Sender<WorkerRequest>>,
    syncid: u8,
    maxlen: usize,
    key: Option<SyncKey>,
    local: Ipv4Addr,
    counters: Arc<SyncCounters>,
    stop: Arc<AtomicBool>,
) {
    let origin = Instant::now();
    let mut builder = MessageBuilder::new(syncid, maxlen);
    let mut receiver = Receiver::new(syncid, key.clone());
    let mut buf = vec![0u8; 65536];
    let mut conns = Vec::new();
    let mut send = |m: &[u8]| {
        if out.send(m, key.as_ref()).is_ok() {
            counters.sent_messages.fetch_add(1, Relaxed);
        }
    };
    while !stop.load(Relaxed) {
        let mut batch = Vec::new();
        if let Ok(v) = records.recv_timeout(Duration::from_millis(50)) {
            batch = v;
        }
        while let Ok(mut v) = records.try_recv() {
            batch.append(&mut v);
        }
        // A backup that started late asks for everything.
        while let Ok(Some((n, from))) = inbox.recv(&mut buf, Some(Duration::from_millis(1))) {
            if *from.ip() == local {
                continue;
            }
            conns.clear();
            if let Ok(Incoming::ResyncRequest(_)) = receiver.receive(&buf[..n], &mut conns) {
                counters.resyncs.fetch_add(1, Relaxed);
                tracing::info!(from = %from.ip(), "bulk resync requested");
                for w in &workers {
                    let (tx, rx) = sync_channel(1);
                    if w.send(WorkerRequest::SyncDump(tx)).is_ok() {
                        if let Ok(mut all) = rx.recv_timeout(Duration::from_secs(5)) {
                            batch.append(&mut all);
                        }
                    }
                }
            }
        }
        let now = origin.elapsed();
        for r in &batch {
            if builder.push(now, &to_wire(r), &mut send).is_ok() {
                counters.sent_conns.fetch_add(1, Relaxed);
            }
        }
        // Send what waits at once when the flow pauses (IPVS waits up to 2 s).
        if batch.is_empty() {
            builder.flush(&mut send);
        } else {
            builder.flush_older(now, &mut send);
        }
    }
    builder.flush(&mut send);
}

#[allow(clippy::too_many_arguments)]
fn backup(
    inbox: SyncSocket,
    out: SyncSocket,
    workers: Vec<Sender<WorkerRequest>>,
    syncid: u8,
    key: Option<SyncKey>,
    local: Ipv4Addr,
    counters: Arc<SyncCounters>,
    stop: Arc<AtomicBool>,
) {
    // Do not wait for traffic: ask the master for its whole table.
    let req = ResyncRequest {
        syncid,
        nonce: (u64::from(std::process::id()) << 32) | u64::from(u32::from(local)),
    };
    let _ = out.send(&req.to_bytes(), key.as_ref());
    let mut receiver = Receiver::new(syncid, key);
    let mut buf = vec![0u8; 65536];
    let mut conns = Vec::new();
    let n_workers = workers.len().max(1);
    while !stop.load(Relaxed) {
        let Ok(Some((n, from))) = inbox.recv(&mut buf, Some(Duration::from_millis(100))) else {
            continue;
        };
        if *from.ip() == local {
            continue; // our own master's messages, looped back
        }
        conns.clear();
        match receiver.receive(&buf[..n], &mut conns) {
            Ok(Incoming::Conns { accepted, dropped }) => {
                counters.received_messages.fetch_add(1, Relaxed);
                counters.received_conns.fetch_add(accepted as u64, Relaxed);
                counters.rejected.fetch_add(dropped as u64, Relaxed);
                let mut per: Vec<Vec<SyncRecord>> = vec![Vec::new(); n_workers];
                for c in &conns {
                    if let Some(r) = from_wire(c) {
                        // The same steering as the data plane: by client port.
                        per[usize::from(r.cport) % n_workers].push(r);
                    }
                }
                for (w, recs) in workers.iter().zip(per) {
                    if !recs.is_empty() {
                        let _ = w.send(WorkerRequest::InstallSynced(recs));
                    }
                }
            }
            Ok(Incoming::ResyncRequest(_)) => {}
            Err(e) => {
                counters.rejected.fetch_add(1, Relaxed);
                tracing::debug!(from = %from.ip(), "sync message rejected: {e}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_through_the_wire_form() {
        let r = SyncRecord {
            proto: 6,
            caddr: "203.0.113.2".parse().unwrap(),
            cport: 40000,
            vaddr: "192.0.2.10".parse().unwrap(),
            vport: 80,
            daddr: "198.51.100.11".parse().unwrap(),
            dport: 8080,
            state: ConnState::Established,
            method: ForwardMethod::Route,
            template: false,
            fwmark: 0,
            timeout_secs: 900,
        };
        let w = to_wire(&r);
        assert_eq!(w.flags & flags::FWD_MASK, flags::DROUTE);
        assert_eq!(w.flags & flags::INACTIVE, 0);
        assert_eq!(from_wire(&w), Some(r));
        let mut t = r;
        t.template = true;
        t.cport = 0;
        t.state = ConnState::None;
        assert_eq!(from_wire(&to_wire(&t)), Some(t));
        let mut u = r;
        u.proto = 17;
        u.state = ConnState::Udp;
        assert_eq!(to_wire(&u).state, 0);
        assert_eq!(from_wire(&to_wire(&u)), Some(u));
    }
}
