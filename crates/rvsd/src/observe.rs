//! What rvsd shows an operator: builds `rvs_web`'s observed-director model from the
//! control plane at request time, and starts the metrics / status-page listener
//! (`--metrics-listen`). Counting costs the packet path nothing: the workers keep
//! their single-writer counters as always, and a scrape only reads and sums them.
//! Also the version and build facts `--version` prints.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex, Weak};
use std::thread::JoinHandle;
use std::time::Instant;

use rvs_admin::config::SyncState;
use rvs_admin::status::{Rates as StatusRates, Stats, Status};
use rvs_core::director::DropReason;
use rvs_core::stats::{Rates, Totals};
use rvs_core::ServiceKey;
use rvs_web::model::{
    BuildInfo, CheckResult, DirectorInfo, DropCount, Health, HealthState, Observed, RealServer,
    SyncCounters, SyncDaemon, SyncRole, VirtualService, VrrpInstance, VrrpState, Worker,
};
use rvs_web::WebServer;

use crate::control::{Control, WorkerHandle};

/// `rvsd -V`.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("RVS_BUILD_COMMIT"),
    ")"
);
/// `rvsd --version`.
pub const LONG_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    "\ncommit ",
    env!("RVS_BUILD_COMMIT"),
    "\nbuilt with ",
    env!("RVS_BUILD_RUSTC"),
    "\nIPVS compatible: ipvsadm 1.31, node_exporter ipvs metrics"
);

pub fn build_info() -> BuildInfo {
    BuildInfo {
        version: env!("CARGO_PKG_VERSION").to_string(),
        commit: env!("RVS_BUILD_COMMIT").to_string(),
        rustc: env!("RVS_BUILD_RUSTC").to_string(),
    }
}

/// The daemon's side of the web listener. It holds the control plane weakly, so a
/// scrape in flight never keeps it (and its host rules) alive past shutdown.
pub struct Observer {
    control: Weak<Mutex<Control>>,
    started: Instant,
}

impl rvs_web::Observe for Observer {
    fn observe(&self) -> Result<Observed, String> {
        let control = self.control.upgrade().ok_or("rvsd is stopping")?;
        let mut c = control
            .lock()
            .map_err(|_| "control state poisoned".to_string())?;
        let status = c.status(false);
        Ok(observed(
            &status,
            c.worker_handles(),
            self.started.elapsed().as_secs(),
        ))
    }
}

/// Binds `addr` (refusing the configured VIPs and wildcards) and serves on a thread
/// until `stop` is set; join the handle at shutdown.
pub fn start(
    addr: SocketAddr,
    control: &Arc<Mutex<Control>>,
    stop: Arc<AtomicBool>,
    started: Instant,
) -> Result<JoinHandle<()>, String> {
    let vips: Vec<IpAddr> = {
        let c = control.lock().map_err(|_| "control lock poisoned")?;
        c.config
            .services
            .iter()
            .filter_map(|s| match s.config.key {
                ServiceKey::Addr { addr, .. } => Some(addr),
                ServiceKey::FwMark { .. } => None,
            })
            .collect()
    };
    let observer = Observer {
        control: Arc::downgrade(control),
        started,
    };
    let server = WebServer::bind(addr, &vips, Arc::new(observer)).map_err(|e| e.to_string())?;
    let bound = server.local_addr().map_err(|e| e.to_string())?;
    tracing::info!(listen = %bound, "metrics and status page: http://{bound}/ and /metrics");
    server.spawn(stop).map_err(|e| e.to_string())
}

fn totals(s: &Stats) -> Totals {
    Totals {
        conns: s.conns,
        inpkts: s.inpkts,
        outpkts: s.outpkts,
        inbytes: s.inbytes,
        outbytes: s.outbytes,
    }
}

fn rates(r: &StatusRates) -> Rates {
    Rates {
        cps: r.cps,
        inpps: r.inpps,
        outpps: r.outpps,
        inbps: r.inbps,
        outbps: r.outbps,
    }
}

/// The observation from what `rvsadm -L` sees plus the workers' own counters.
pub fn observed(status: &Status, workers: &[WorkerHandle], uptime_secs: u64) -> Observed {
    let services = status
        .services
        .iter()
        .map(|s| {
            let mut vs = VirtualService::new(&s.config.key, s.config.scheduler);
            vs.persistence_secs = s.config.persistence.map(|p| p.timeout_secs);
            vs.stats = totals(&s.stats);
            vs.rates = rates(&s.rates);
            vs.real_servers = s
                .dests
                .iter()
                .map(|d| {
                    // (held_out servers are listed too: down, weight 0.)
                    let mut rs = RealServer::new(
                        d.config.addr,
                        d.config.port,
                        d.config.method,
                        d.config.weight,
                    );
                    rs.effective_weight = d.weight;
                    rs.active_conns = d.active_conns;
                    rs.inactive_conns = d.inactive_conns;
                    rs.persist_conns = d.persist_conns;
                    rs.stats = totals(&d.stats);
                    rs.rates = rates(&d.rates);
                    if let Some(w) = d.configured_weight {
                        rs.weight = w;
                    }
                    rs.health = d.health.as_ref().map(|h| Health {
                        state: if h.up {
                            HealthState::Up
                        } else {
                            HealthState::Down
                        },
                        checker: h.checkers.join(","),
                        checks_run: h.checks_run,
                        last: h.last_ok.map(|ok| CheckResult {
                            ok,
                            detail: h.last_detail.clone(),
                            latency_secs: h.last_latency_us.unwrap_or(0) as f64 / 1e6,
                            age_secs: 0.0,
                        }),
                    });
                    rs
                })
                .collect();
            vs
        })
        .collect();

    let mut drops = vec![0u64; DropReason::COUNTERS];
    let workers = workers
        .iter()
        .enumerate()
        .map(|(index, w)| {
            let mut dropped = 0;
            for (i, c) in w.shard.drops.iter().enumerate() {
                let n = c.load(Relaxed);
                dropped += n;
                if let Some(sum) = drops.get_mut(i) {
                    *sum += n;
                }
            }
            Worker {
                index,
                rx_frames: w.stats.rx_frames.load(Relaxed),
                tx_frames: w.stats.tx_frames.load(Relaxed),
                batches: w.stats.batches.load(Relaxed),
                tx_ring_full: w.stats.tx_full.load(Relaxed),
                truncated: w.stats.truncated.load(Relaxed),
                neighbour_wait: w.stats.neigh_wait.load(Relaxed),
                neighbour_timeout: w.stats.neigh_timeout.load(Relaxed),
                polls: w.stats.polls.load(Relaxed),
                forwarded: w.shard.forwarded.load(Relaxed),
                replied: w.shard.replied.load(Relaxed),
                passed: w.shard.passed.load(Relaxed),
                dropped,
                icmp_sent: w.shard.icmp_sent.load(Relaxed),
                csum_completed: w.shard.csum_completed.load(Relaxed),
                connections: w.shard.conns.load(Relaxed),
                templates: w.shard.templates.load(Relaxed),
                table_bytes: w.shard.table_bytes.load(Relaxed),
            }
        })
        .collect();
    let drops = drops
        .into_iter()
        .enumerate()
        .map(|(i, count)| DropCount {
            reason: DropReason::counter_name(i),
            count,
        })
        .collect();

    let sync = status
        .daemons
        .iter()
        .map(|d| SyncDaemon {
            role: match d.state {
                SyncState::Master => SyncRole::Master,
                SyncState::Backup => SyncRole::Backup,
            },
            syncid: d.syncid,
            interface: d.mcast_ifn.clone(),
            group: d.mcast_group,
            port: d.mcast_port,
            counters: status.sync.map(|c| match d.state {
                SyncState::Master => SyncCounters {
                    messages_sent: c.sent_messages,
                    conns_sent: c.sent_conns,
                    ..Default::default()
                },
                SyncState::Backup => SyncCounters {
                    messages_received: c.received_messages,
                    messages_rejected: c.rejected,
                    conns_received: c.received_conns,
                    ..Default::default()
                },
            }),
        })
        .collect();

    Observed {
        director: DirectorInfo {
            build: build_info(),
            uptime_secs,
            conn_table_size: status.conn_table_size,
        },
        services,
        drops,
        workers,
        vrrp: (!status.vrrp.is_empty()).then(|| {
            status
                .vrrp
                .iter()
                .map(|v| VrrpInstance {
                    name: v.name.clone(),
                    interface: v.interface.clone(),
                    vrid: v.vrid,
                    state: match v.state.as_str() {
                        "MASTER" => VrrpState::Master,
                        "BACKUP" => VrrpState::Backup,
                        "FAULT" => VrrpState::Fault,
                        _ => VrrpState::Init,
                    },
                    priority: v.priority,
                    adverts_sent: v.adverts_sent,
                    adverts_received: v.adverts_received,
                    adverts_dropped: v.adverts_dropped,
                    became_master: v.became_master,
                })
                .collect()
        }),
        sync,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rvs_admin::config::{Config, SyncDaemonConfig, VirtualService as ConfigService};
    use rvs_core::director::ShardStats;
    use rvs_core::{DestConfig, ForwardMethod, Protocol, SchedFlags, SchedulerKind, ServiceConfig};
    use std::sync::atomic::Ordering;

    use crate::worker::WorkerStats;

    fn handle(conns: u64, no_service: u64) -> WorkerHandle {
        let shard = Arc::new(ShardStats::new(4, 4));
        shard.conns.store(conns, Ordering::Relaxed);
        shard.drops[DropReason::NoService.counter_index()].store(no_service, Ordering::Relaxed);
        let stats = Arc::new(WorkerStats::default());
        stats.rx_frames.store(640, Ordering::Relaxed);
        stats.batches.store(10, Ordering::Relaxed);
        let (requests, _) = std::sync::mpsc::channel();
        WorkerHandle {
            requests,
            shard,
            stats,
        }
    }

    #[test]
    fn status_and_workers_become_the_observation() {
        let key = ServiceKey::Addr {
            proto: Protocol::Tcp,
            addr: "192.0.2.10".parse().unwrap(),
            port: 80,
        };
        let config = Config {
            services: vec![ConfigService {
                config: ServiceConfig {
                    key,
                    scheduler: SchedulerKind::Wrr,
                    sched_flags: SchedFlags::default(),
                    persistence: None,
                    one_packet: false,
                },
                dests: vec![DestConfig {
                    addr: "198.51.100.11".parse().unwrap(),
                    port: 8080,
                    method: ForwardMethod::Masq,
                    weight: 5,
                    u_threshold: 0,
                    l_threshold: 0,
                }],
            }],
            timeouts: Default::default(),
            daemons: vec![SyncDaemonConfig::new(SyncState::Backup)],
        };
        let mut status = Status::from_config(&config);
        status.services[0].stats.conns = 7;
        status.services[0].dests[0].weight = 2;
        status.services[0].dests[0].stats.outbytes = 900;

        let o = observed(&status, &[handle(3, 1), handle(4, 2)], 61);
        assert_eq!(o.director.uptime_secs, 61);
        assert_eq!(o.services[0].name(), "TCP 192.0.2.10:80");
        assert_eq!(o.services[0].stats.conns, 7);
        let rs = &o.services[0].real_servers[0];
        assert_eq!((rs.port, rs.weight, rs.effective_weight), (8080, 5, 2));
        assert_eq!(rs.stats.outbytes, 900);
        assert_eq!(o.table_totals().0, 7);
        let no_service = o.drops.iter().find(|d| d.reason == "no_service").unwrap();
        assert_eq!(no_service.count, 3);
        assert_eq!(o.drops.len(), DropReason::COUNTERS);
        assert_eq!((o.workers[1].index, o.workers[1].dropped), (1, 2));
        assert_eq!(o.sync[0].role, SyncRole::Backup);
        assert!(o.vrrp.is_none());
        let text = rvs_web::metrics::render(&o);
        assert!(text.contains("\nrvs_drops_total{reason=\"no_service\"} 3\n"));
    }

    #[test]
    fn versions_name_the_commit() {
        assert!(VERSION.starts_with(env!("CARGO_PKG_VERSION")));
        assert!(LONG_VERSION.contains("\ncommit "));
        assert!(LONG_VERSION.contains("rustc"));
    }
}
