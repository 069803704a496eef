//! What the daemon reports: the table with its counters, rates and connection
//! counts, the timeouts, the sync daemons and (on request) the connection
//! entries. Serializable, because it crosses the control socket and `--json`
//! prints it as is.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use rvs_core::{DestConfig, Protocol, ServiceConfig};
use serde::{Deserialize, Serialize};

use crate::config::{Config, SyncDaemonConfig, SyncState, VirtualService};

/// The IPVS version the header line names; scripts match on it.
pub const IPVS_VERSION: &str = "1.2.1";
/// The connection hash table size IPVS reports by default ("size=4096").
pub const DEFAULT_CONN_TABLE_SIZE: u32 = 4096;

/// Connection timeouts in seconds (`--set tcp tcpfin udp`, `--timeout`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Timeouts {
    pub tcp: u32,
    pub tcpfin: u32,
    pub udp: u32,
}

impl Default for Timeouts {
    /// The IPVS defaults: 15 minutes established, 2 minutes after FIN, 5 minutes UDP.
    fn default() -> Self {
        Timeouts {
            tcp: 900,
            tcpfin: 120,
            udp: 300,
        }
    }
}

/// Cumulative counters of a service or real server.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    pub conns: u64,
    pub inpkts: u64,
    pub outpkts: u64,
    pub inbytes: u64,
    pub outbytes: u64,
}

/// Estimated rates, per second.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rates {
    pub cps: u64,
    pub inpps: u64,
    pub outpps: u64,
    pub inbps: u64,
    pub outbps: u64,
}

/// A real server as reported.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DestStatus {
    pub config: DestConfig,
    /// The weight in effect, which may differ from the configured one (for
    /// example while a health checker holds the server out).
    pub weight: u32,
    pub active_conns: u32,
    pub inactive_conns: u32,
    pub persist_conns: u32,
    pub stats: Stats,
    pub rates: Rates,
    /// The weight the configuration gives (when health checks or slow start hold
    /// `weight` elsewhere); absent when they agree or nothing manages the server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub configured_weight: Option<u32>,
    /// Health-check state, when checkers watch this real server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<DestHealth>,
    /// Configured but out of the table: a health check holds it out (keepalived
    /// removes a failed real server). `rvsadm -L` and `-S` leave it out, as ipvsadm
    /// would not see it; the status page shows it down.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub held_out: bool,
}

/// What the health checkers say of a real server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DestHealth {
    /// In rotation (every checker up).
    pub up: bool,
    /// Held at weight 0 instead of removed (`inhibit_on_failure`).
    pub inhibited: bool,
    /// Checker kinds watching it ("HTTP_GET", "TCP_CHECK", ...).
    pub checkers: Vec<String>,
    /// The last check's result and detail ("HTTP status 200", "connection refused").
    pub last_ok: Option<bool>,
    pub last_detail: String,
    /// Latency of the last check, in microseconds.
    pub last_latency_us: Option<u64>,
    /// Seconds since the last up/down change.
    pub since_secs: Option<u64>,
    /// Up/down changes seen since rvsd started.
    #[serde(default)]
    pub changes: u64,
    /// Checks completed since rvsd started.
    #[serde(default)]
    pub checks_run: u64,
}

/// A virtual service as reported, with its real servers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceStatus {
    pub config: ServiceConfig,
    pub stats: Stats,
    pub rates: Rates,
    pub dests: Vec<DestStatus>,
}

/// A running connection sync daemon (`--daemon`). Optional values the daemon
/// does not report are left out of the listing, as ipvsadm does.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncDaemonStatus {
    pub state: SyncState,
    pub mcast_ifn: String,
    pub syncid: u8,
    pub sync_maxlen: Option<u16>,
    pub mcast_group: Option<IpAddr>,
    pub mcast_port: Option<u16>,
    pub mcast_ttl: Option<u8>,
}

/// One entry of the connection table (`-c`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnStatus {
    pub proto: Protocol,
    pub client: SocketAddr,
    /// The virtual address and port the client addressed. For a firewall-mark
    /// template the listing shows the mark in its place, as the kernel does.
    pub r#virtual: SocketAddr,
    pub dest: SocketAddr,
    /// ipvsadm's state name: NONE, ESTABLISHED, SYN_SENT, SYN_RECV, FIN_WAIT,
    /// TIME_WAIT, CLOSE, CLOSE_WAIT, LAST_ACK, LISTEN, SYNACK; UDP for UDP
    /// entries; NONE for templates.
    pub state: String,
    pub expires_ms: u64,
    /// A persistence template rather than a connection.
    pub template: bool,
    /// The firewall mark of the service, when it is a firewall-mark service.
    pub fwmark: Option<u32>,
}

/// Everything `rvsadm -L` and friends show.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// IPVS version for the header line, "1.2.1".
    pub version: String,
    /// Connection table size for the header line ("size=4096").
    pub conn_table_size: u32,
    pub services: Vec<ServiceStatus>,
    pub timeouts: Timeouts,
    pub daemons: Vec<SyncDaemonStatus>,
    /// The connection entries, when they were asked for.
    pub connections: Option<Vec<ConnStatus>>,
    /// VRRP instances this director runs (rvs's own; not in ipvsadm's listings).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vrrp: Vec<VrrpInstanceStatus>,
    /// Connection synchronisation counters, when a sync daemon runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync: Option<SyncCountersStatus>,
}

/// One VRRP instance as reported.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VrrpInstanceStatus {
    pub name: String,
    /// MASTER, BACKUP, FAULT, INIT or STOP.
    pub state: String,
    pub interface: String,
    pub vrid: u8,
    pub priority: u8,
    /// State changes since rvsd started.
    pub changes: u64,
    /// Times this director became master.
    #[serde(default)]
    pub became_master: u64,
    #[serde(default)]
    pub adverts_sent: u64,
    #[serde(default)]
    pub adverts_received: u64,
    /// Adverts refused (version, interval, authentication, peer) or malformed.
    #[serde(default)]
    pub adverts_dropped: u64,
}

/// Connection synchronisation counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncCountersStatus {
    pub sent_messages: u64,
    pub sent_conns: u64,
    pub received_messages: u64,
    pub received_conns: u64,
    pub rejected: u64,
    pub installed: u64,
    pub install_failed: u64,
    pub resyncs: u64,
}

/// Sync daemon defaults IPVS fills in for values not given at start.
pub const DEFAULT_MCAST_GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 81);
pub const DEFAULT_MCAST_PORT: u16 = 8848;
pub const DEFAULT_MCAST_TTL: u8 = 1;
/// Largest sync message on a 1500-byte MTU: minus IPv4 (20) or IPv6 (40) and UDP (8) headers.
pub const DEFAULT_SYNC_MAXLEN_V4: u16 = 1472;
pub const DEFAULT_SYNC_MAXLEN_V6: u16 = 1452;

impl SyncDaemonStatus {
    /// A started daemon as IPVS reports it: unset values take their defaults.
    pub fn from_config(d: &SyncDaemonConfig) -> SyncDaemonStatus {
        let group = d.mcast_group.unwrap_or(IpAddr::V4(DEFAULT_MCAST_GROUP));
        let default_maxlen = match group {
            IpAddr::V4(_) => DEFAULT_SYNC_MAXLEN_V4,
            IpAddr::V6(_) => DEFAULT_SYNC_MAXLEN_V6,
        };
        SyncDaemonStatus {
            state: d.state,
            mcast_ifn: d.mcast_ifn.clone(),
            syncid: d.syncid,
            sync_maxlen: Some(d.sync_maxlen.unwrap_or(default_maxlen)),
            mcast_group: Some(group),
            mcast_port: Some(d.mcast_port.unwrap_or(DEFAULT_MCAST_PORT)),
            mcast_ttl: Some(d.mcast_ttl.unwrap_or(DEFAULT_MCAST_TTL)),
        }
    }
}

impl DestStatus {
    /// A real server with zero counters and its configured weight in effect.
    pub fn from_config(config: &DestConfig) -> DestStatus {
        DestStatus {
            config: config.clone(),
            weight: config.weight,
            active_conns: 0,
            inactive_conns: 0,
            persist_conns: 0,
            stats: Stats::default(),
            rates: Rates::default(),
            configured_weight: None,
            health: None,
            held_out: false,
        }
    }
}

impl ServiceStatus {
    /// A virtual service with zero counters.
    pub fn from_config(service: &VirtualService) -> ServiceStatus {
        ServiceStatus {
            config: service.config.clone(),
            stats: Stats::default(),
            rates: Rates::default(),
            dests: service.dests.iter().map(DestStatus::from_config).collect(),
        }
    }
}

impl Status {
    /// The status of a table that carries no traffic: all counters zero, no
    /// connection list. What a fake daemon reports, and the daemon's starting point.
    pub fn from_config(config: &Config) -> Status {
        Status {
            version: IPVS_VERSION.to_string(),
            conn_table_size: DEFAULT_CONN_TABLE_SIZE,
            services: config
                .services
                .iter()
                .map(ServiceStatus::from_config)
                .collect(),
            timeouts: config.timeouts,
            daemons: config
                .daemons
                .iter()
                .map(SyncDaemonStatus::from_config)
                .collect(),
            connections: None,
            vrrp: Vec::new(),
            sync: None,
        }
    }

    /// The configured table behind this status (configured weights, not
    /// effective ones); what `-S` saves.
    pub fn to_config(&self) -> Config {
        Config {
            services: self
                .services
                .iter()
                .map(|s| VirtualService {
                    config: s.config.clone(),
                    dests: s
                        .dests
                        .iter()
                        .filter(|d| !d.held_out)
                        .map(|d| d.config.clone())
                        .collect(),
                })
                .collect(),
            timeouts: self.timeouts,
            daemons: self
                .daemons
                .iter()
                .map(|d| SyncDaemonConfig {
                    state: d.state,
                    mcast_ifn: d.mcast_ifn.clone(),
                    syncid: d.syncid,
                    sync_maxlen: d.sync_maxlen,
                    mcast_group: d.mcast_group,
                    mcast_port: d.mcast_port,
                    mcast_ttl: d.mcast_ttl,
                })
                .collect(),
        }
    }

    /// The service with this key, if any.
    pub fn service(&self, key: &rvs_core::ServiceKey) -> Option<&ServiceStatus> {
        self.services.iter().find(|s| s.config.key == *key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rvs_core::{ForwardMethod, SchedFlags, SchedulerKind, ServiceKey};

    fn sample_config() -> Config {
        let key = ServiceKey::Addr {
            proto: Protocol::Tcp,
            addr: "192.0.2.10".parse().unwrap(),
            port: 80,
        };
        Config {
            services: vec![VirtualService {
                config: ServiceConfig {
                    key,
                    scheduler: SchedulerKind::Wrr,
                    sched_flags: SchedFlags::default(),
                    persistence: None,
                    one_packet: false,
                },
                dests: vec![DestConfig {
                    addr: "198.51.100.11".parse().unwrap(),
                    port: 80,
                    method: ForwardMethod::Masq,
                    weight: 3,
                    u_threshold: 0,
                    l_threshold: 0,
                }],
            }],
            timeouts: Timeouts::default(),
            daemons: vec![SyncDaemonConfig::new(SyncState::Master)],
        }
    }

    #[test]
    fn from_config_zero_counters_and_defaults() {
        let status = Status::from_config(&sample_config());
        assert_eq!(status.version, "1.2.1");
        assert_eq!(status.conn_table_size, 4096);
        assert_eq!(status.services[0].dests[0].weight, 3);
        assert_eq!(status.services[0].stats, Stats::default());
        let d = &status.daemons[0];
        assert_eq!(d.mcast_ifn, "eth0");
        assert_eq!(d.sync_maxlen, Some(1472));
        assert_eq!(d.mcast_group, Some(IpAddr::V4(DEFAULT_MCAST_GROUP)));
        assert_eq!(d.mcast_port, Some(8848));
        assert_eq!(d.mcast_ttl, Some(1));
    }

    #[test]
    fn to_config_uses_configured_weight() {
        let config = sample_config();
        let mut status = Status::from_config(&config);
        status.services[0].dests[0].weight = 0;
        assert_eq!(status.to_config().services, config.services);
    }

    #[test]
    fn json_round_trip() {
        let mut status = Status::from_config(&sample_config());
        status.connections = Some(vec![ConnStatus {
            proto: Protocol::Tcp,
            client: "203.0.113.5:40000".parse().unwrap(),
            r#virtual: "192.0.2.10:80".parse().unwrap(),
            dest: "198.51.100.11:80".parse().unwrap(),
            state: "ESTABLISHED".into(),
            expires_ms: 899_000,
            template: false,
            fwmark: None,
        }]);
        let text = serde_json::to_string(&status).unwrap();
        assert!(text.contains("\"virtual\":\"192.0.2.10:80\""));
        let back: Status = serde_json::from_str(&text).unwrap();
        assert_eq!(back, status);
    }
}
