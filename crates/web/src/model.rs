//! The observed director: a plain, serializable picture of everything the metrics and
//! the status page show, built by the daemon at scrape time from counters the data
//! plane already keeps. Nothing here reads a clock, a socket or a shard: the daemon
//! fills it in, the renderers only read it. What other components will report later
//! (health checks, VRRP, connection sync) is optional and simply absent until then.

use std::fmt;
use std::net::IpAddr;

use rvs_core::stats::{Rates, Totals};
use rvs_core::{ForwardMethod, Protocol, SchedulerKind, ServiceKey};
use serde::{Deserialize, Serialize};

/// Everything one observation of the director holds. `/status.json` is this, as JSON.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Observed {
    pub director: DirectorInfo,
    pub services: Vec<VirtualService>,
    /// Frames the data plane dropped, by reason, summed over the workers. Every
    /// known reason is listed, also at zero, so that series never appear from nowhere.
    pub drops: Vec<DropCount>,
    pub workers: Vec<Worker>,
    /// The VRRP instances of this director; `None` while the daemon runs no VRRP.
    pub vrrp: Option<Vec<VrrpInstance>>,
    /// The connection sync daemons (`--start-daemon`).
    pub sync: Vec<SyncDaemon>,
}

/// The daemon itself: its build and how long it has run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectorInfo {
    pub build: BuildInfo,
    pub uptime_secs: u64,
    /// The connection hash table size (`ipvsadm -L`'s "size=").
    pub conn_table_size: u32,
}

/// Version and build facts (`rvsd --version`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildInfo {
    pub version: String,
    /// The git commit the daemon was built from, "unknown" outside a checkout.
    pub commit: String,
    /// The compiler that built it ("rustc 1.95.0 (...)").
    pub rustc: String,
}

/// The protocol column of a virtual service, as `/proc/net/ip_vs` and ipvsadm name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ServiceProto {
    Tcp,
    Udp,
    /// A firewall-mark service.
    Fwm,
}

impl ServiceProto {
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceProto::Tcp => "TCP",
            ServiceProto::Udp => "UDP",
            ServiceProto::Fwm => "FWM",
        }
    }
}

/// A virtual service with its real servers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VirtualService {
    pub proto: ServiceProto,
    /// The VIP; `None` for a firewall-mark service.
    pub address: Option<IpAddr>,
    /// The virtual port; 0 for a firewall-mark service (and "any port" services).
    pub port: u16,
    /// The firewall mark of a firewall-mark service.
    pub fwmark: Option<u32>,
    /// Whether the service is IPv6 (for firewall-mark services, where no address says so).
    pub ipv6: bool,
    pub scheduler: SchedulerKind,
    /// Persistence timeout in seconds, for persistent services.
    pub persistence_secs: Option<u32>,
    pub stats: Totals,
    pub rates: Rates,
    pub real_servers: Vec<RealServer>,
}

impl VirtualService {
    /// A service with the identity of `key`, zero counters and no real servers.
    pub fn new(key: &ServiceKey, scheduler: SchedulerKind) -> VirtualService {
        let (proto, address, port, fwmark, ipv6) = match *key {
            ServiceKey::Addr { proto, addr, port } => {
                let p = match proto {
                    Protocol::Tcp => ServiceProto::Tcp,
                    Protocol::Udp => ServiceProto::Udp,
                };
                (p, Some(addr), port, None, addr.is_ipv6())
            }
            ServiceKey::FwMark { mark, family } => (
                ServiceProto::Fwm,
                None,
                0,
                Some(mark),
                family == rvs_core::Family::V6,
            ),
        };
        VirtualService {
            proto,
            address,
            port,
            fwmark,
            ipv6,
            scheduler,
            persistence_secs: None,
            stats: Totals::default(),
            rates: Rates::default(),
            real_servers: Vec::new(),
        }
    }

    /// The name ipvsadm would list: `TCP 192.0.2.10:80`, `UDP [2001:db8::10]:53`, `FWM 1`.
    pub fn name(&self) -> String {
        match (self.address, self.fwmark) {
            (Some(addr), _) => format!("{} {}", self.proto.as_str(), Endpoint(addr, self.port)),
            (None, Some(mark)) if self.ipv6 => format!("FWM {mark} IPv6"),
            (None, Some(mark)) => format!("FWM {mark}"),
            (None, None) => self.proto.as_str().to_string(),
        }
    }
}

/// `addr:port` with IPv6 addresses in brackets.
pub struct Endpoint(pub IpAddr, pub u16);

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            IpAddr::V4(a) => write!(f, "{a}:{}", self.1),
            IpAddr::V6(a) => write!(f, "[{a}]:{}", self.1),
        }
    }
}

/// A real server of a virtual service.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RealServer {
    pub address: IpAddr,
    pub port: u16,
    pub method: ForwardMethod,
    /// The weight the administrator configured.
    pub weight: u32,
    /// The weight in effect: lower during slow start, 0 while a health check holds
    /// the server out. What `ipvsadm -L` shows and `node_ipvs_backend_weight` reports.
    pub effective_weight: u32,
    pub active_conns: u32,
    pub inactive_conns: u32,
    pub persist_conns: u32,
    pub stats: Totals,
    pub rates: Rates,
    /// Health checking of this real server; `None` when nothing checks it.
    pub health: Option<Health>,
}

impl RealServer {
    /// A real server with zero counters, its configured weight in effect, unchecked.
    pub fn new(address: IpAddr, port: u16, method: ForwardMethod, weight: u32) -> RealServer {
        RealServer {
            address,
            port,
            method,
            weight,
            effective_weight: weight,
            active_conns: 0,
            inactive_conns: 0,
            persist_conns: 0,
            stats: Totals::default(),
            rates: Rates::default(),
            health: None,
        }
    }
}

/// The health state of a checked real server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthState {
    Up,
    Down,
    /// No check has completed yet.
    Unknown,
}

impl HealthState {
    pub fn as_str(self) -> &'static str {
        match self {
            HealthState::Up => "up",
            HealthState::Down => "down",
            HealthState::Unknown => "unknown",
        }
    }
}

/// What the health checks say about a real server.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Health {
    pub state: HealthState,
    /// The checker, in keepalived's words: "TCP_CHECK", "HTTP_GET", "MISC_CHECK", ...
    pub checker: String,
    /// Completed checks since the checker started.
    pub checks_run: u64,
    /// The last completed check, if any.
    pub last: Option<CheckResult>,
}

/// One completed health check.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    pub ok: bool,
    /// "connected", "HTTP status 503", ...
    pub detail: String,
    pub latency_secs: f64,
    /// How long before the observation the check completed.
    pub age_secs: f64,
}

/// Dropped frames of one reason.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DropCount {
    /// The core's counter name: "no_service", "malformed:truncated_ipv4", ...
    pub reason: String,
    pub count: u64,
}

/// One data-plane worker (a shard of the director) and its connection table.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Worker {
    pub index: usize,
    pub rx_frames: u64,
    pub tx_frames: u64,
    /// Receive rounds that found frames; `rx_frames / batches` is the mean batch size.
    pub batches: u64,
    /// Frames dropped because a transmit ring stayed full.
    pub tx_ring_full: u64,
    /// Frames cut short by the receive ring (larger than its frame size).
    pub truncated: u64,
    /// Frames that waited for a neighbour (MAC) resolution, and those given up on.
    pub neighbour_wait: u64,
    pub neighbour_timeout: u64,
    /// Times the worker blocked in poll(2) for want of traffic.
    pub polls: u64,
    /// Verdicts: frames forwarded, answered by the director itself, passed to the
    /// host, dropped (for any reason; see [`Observed::drops`]).
    pub forwarded: u64,
    pub replied: u64,
    pub passed: u64,
    pub dropped: u64,
    /// ICMP errors the director generated.
    pub icmp_sent: u64,
    /// Partial checksums completed in user space.
    pub csum_completed: u64,
    /// Entries in this shard's connection table, and the bytes it holds.
    pub connections: u64,
    pub templates: u64,
    pub table_bytes: u64,
}

/// The VRRP state of an instance (RFC 5798, plus keepalived's FAULT).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum VrrpState {
    Init,
    Backup,
    Master,
    Fault,
}

impl VrrpState {
    pub const ALL: [VrrpState; 4] = [
        VrrpState::Init,
        VrrpState::Backup,
        VrrpState::Master,
        VrrpState::Fault,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            VrrpState::Init => "INIT",
            VrrpState::Backup => "BACKUP",
            VrrpState::Master => "MASTER",
            VrrpState::Fault => "FAULT",
        }
    }
}

/// One VRRP instance of this director.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VrrpInstance {
    pub name: String,
    pub interface: String,
    pub vrid: u8,
    pub state: VrrpState,
    pub priority: u8,
    pub adverts_sent: u64,
    pub adverts_received: u64,
    /// Adverts refused (wrong version, interval, authentication, peer) or malformed.
    #[serde(default)]
    pub adverts_dropped: u64,
    pub became_master: u64,
}

/// The role of a connection sync daemon.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SyncRole {
    Master,
    Backup,
}

impl SyncRole {
    pub fn as_str(self) -> &'static str {
        match self {
            SyncRole::Master => "master",
            SyncRole::Backup => "backup",
        }
    }
}

/// A connection sync daemon as configured, with its counters once it reports them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SyncDaemon {
    pub role: SyncRole,
    pub syncid: u8,
    pub interface: String,
    pub group: Option<IpAddr>,
    pub port: Option<u16>,
    /// `None` while the daemon reports no counters.
    pub counters: Option<SyncCounters>,
}

/// What a sync daemon sent, received and refused.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SyncCounters {
    pub messages_sent: u64,
    pub messages_received: u64,
    /// Messages refused: malformed, wrong sync id, failed authentication.
    pub messages_rejected: u64,
    pub conns_sent: u64,
    pub conns_received: u64,
    /// How far behind the master this backup is (age of the newest message), if known.
    pub lag_secs: Option<f64>,
}

impl Observed {
    /// The connection-table entries over every worker: (connections, templates, bytes).
    pub fn table_totals(&self) -> (u64, u64, u64) {
        self.workers.iter().fold((0, 0, 0), |(c, t, b), w| {
            (c + w.connections, t + w.templates, b + w.table_bytes)
        })
    }

    /// The counters of every virtual service together (what `/proc/net/ip_vs_stats` holds).
    pub fn totals(&self) -> Totals {
        let mut t = Totals::default();
        for s in &self.services {
            t.add(&s.stats);
        }
        t
    }

    /// The rates of every virtual service together.
    pub fn rates(&self) -> Rates {
        let mut r = Rates::default();
        for s in &self.services {
            r.cps += s.rates.cps;
            r.inpps += s.rates.inpps;
            r.outpps += s.rates.outpps;
            r.inbps += s.rates.inbps;
            r.outbps += s.rates.outbps;
        }
        r
    }
}

/// A small director with every part filled in: two workers, a NAT service with a
/// healthy, a failing and a not-yet-checked real server, an IPv6 direct-routing
/// service, a firewall-mark service, two VRRP instances and a reporting sync daemon.
/// For golden tests, the documentation and trying the page without a lab.
pub fn example() -> Observed {
    let totals = |conns: u64, pkts: u64, bytes: u64| Totals {
        conns,
        inpkts: pkts,
        outpkts: pkts * 3 / 2,
        inbytes: bytes,
        outbytes: bytes * 20,
    };
    let rates = |cps: u64| Rates {
        cps,
        inpps: cps * 6,
        outpps: cps * 9,
        inbps: cps * 500,
        outbps: cps * 10_000,
    };
    let addr = |s: &str| {
        s.parse::<IpAddr>()
            .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
    };

    let mut web = VirtualService::new(
        &ServiceKey::Addr {
            proto: Protocol::Tcp,
            addr: addr("192.0.2.10"),
            port: 80,
        },
        SchedulerKind::Wlc,
    );
    let check = |state, ok, detail: &str, latency_secs| Health {
        state,
        checker: "HTTP_GET".into(),
        checks_run: 120,
        last: Some(CheckResult {
            ok,
            detail: detail.into(),
            latency_secs,
            age_secs: 1.5,
        }),
    };
    let mut rs1 = RealServer::new(addr("198.51.100.11"), 80, ForwardMethod::Masq, 100);
    rs1.active_conns = 12;
    rs1.inactive_conns = 30;
    rs1.stats = totals(1200, 9000, 640_000);
    rs1.rates = rates(4);
    rs1.health = Some(check(HealthState::Up, true, "HTTP status 200", 0.0021));
    let mut rs2 = RealServer::new(addr("198.51.100.12"), 80, ForwardMethod::Masq, 100);
    rs2.effective_weight = 0;
    rs2.stats = totals(800, 6000, 420_000);
    rs2.health = Some(check(
        HealthState::Down,
        false,
        "connection refused",
        0.0004,
    ));
    let mut rs3 = RealServer::new(addr("198.51.100.13"), 80, ForwardMethod::Masq, 50);
    rs3.effective_weight = 20;
    rs3.active_conns = 1;
    rs3.stats = totals(3, 20, 1_500);
    rs3.health = Some(Health {
        state: HealthState::Unknown,
        checker: "TCP_CHECK".into(),
        checks_run: 0,
        last: None,
    });
    web.real_servers = vec![rs1, rs2, rs3];
    web.stats = totals(2003, 15_020, 1_061_500);
    web.rates = rates(4);

    let mut dns = VirtualService::new(
        &ServiceKey::Addr {
            proto: Protocol::Udp,
            addr: addr("2001:db8:a::10"),
            port: 53,
        },
        SchedulerKind::Rr,
    );
    let mut d6 = RealServer::new(addr("2001:db8:5::11"), 53, ForwardMethod::Route, 1);
    d6.inactive_conns = 4;
    d6.stats = totals(40, 40, 2_400);
    dns.real_servers = vec![d6];
    dns.stats = totals(40, 40, 2_400);

    let mut mark = VirtualService::new(
        &ServiceKey::FwMark {
            mark: 1,
            family: rvs_core::Family::V4,
        },
        SchedulerKind::Sh,
    );
    mark.persistence_secs = Some(300);
    let mut t1 = RealServer::new(addr("198.51.100.71"), 0, ForwardMethod::Tunnel, 1);
    t1.persist_conns = 2;
    mark.real_servers = vec![t1];

    let worker = |index: usize, scale: u64| Worker {
        index,
        rx_frames: 10_000 * scale,
        tx_frames: 9_900 * scale,
        batches: 700 * scale,
        tx_ring_full: 0,
        truncated: 0,
        neighbour_wait: 3,
        neighbour_timeout: 0,
        polls: 5_000,
        forwarded: 9_850 * scale,
        replied: 50 * scale,
        passed: 60,
        dropped: 40 * scale,
        icmp_sent: 1,
        csum_completed: 4_000 * scale,
        connections: 20 * scale,
        templates: scale - 1,
        table_bytes: 45_056 * scale,
    };
    let reasons = rvs_core::director::DropReason::COUNTERS;
    let drops = (0..reasons)
        .map(|i| DropCount {
            reason: rvs_core::director::DropReason::counter_name(i),
            count: match i {
                3 => 100, // not_syn
                1 => 20,  // no_service
                _ => 0,
            },
        })
        .collect();
    Observed {
        director: DirectorInfo {
            build: BuildInfo {
                version: "0.1.0".into(),
                commit: "0123456789ab".into(),
                rustc: "rustc 1.95.0".into(),
            },
            uptime_secs: 3725,
            conn_table_size: 1 << 20,
        },
        services: vec![web, dns, mark],
        drops,
        workers: vec![worker(0, 1), worker(1, 2)],
        vrrp: Some(vec![
            VrrpInstance {
                name: "VI_1".into(),
                interface: "eth0".into(),
                vrid: 51,
                state: VrrpState::Master,
                priority: 150,
                adverts_sent: 1800,
                adverts_received: 2,
                adverts_dropped: 0,
                became_master: 1,
            },
            VrrpInstance {
                name: "VI_\"edge\"".into(),
                interface: "eth1".into(),
                vrid: 52,
                state: VrrpState::Backup,
                priority: 100,
                adverts_sent: 0,
                adverts_received: 1790,
                adverts_dropped: 3,
                became_master: 0,
            },
        ]),
        sync: vec![SyncDaemon {
            role: SyncRole::Master,
            syncid: 7,
            interface: "eth1".into(),
            group: Some(addr("224.0.0.81")),
            port: Some(8848),
            counters: Some(SyncCounters {
                messages_sent: 400,
                messages_received: 0,
                messages_rejected: 0,
                conns_sent: 2100,
                conns_received: 0,
                lag_secs: None,
            }),
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rvs_core::Family;

    #[test]
    fn service_names_follow_ipvsadm() {
        let tcp = ServiceKey::Addr {
            proto: Protocol::Tcp,
            addr: "192.0.2.10".parse().unwrap(),
            port: 80,
        };
        assert_eq!(
            VirtualService::new(&tcp, SchedulerKind::Rr).name(),
            "TCP 192.0.2.10:80"
        );
        let udp6 = ServiceKey::Addr {
            proto: Protocol::Udp,
            addr: "2001:db8::10".parse().unwrap(),
            port: 53,
        };
        let s = VirtualService::new(&udp6, SchedulerKind::Rr);
        assert_eq!(s.name(), "UDP [2001:db8::10]:53");
        assert!(s.ipv6);
        let fwm = ServiceKey::FwMark {
            mark: 7,
            family: Family::V6,
        };
        let s = VirtualService::new(&fwm, SchedulerKind::Wlc);
        assert_eq!(s.name(), "FWM 7 IPv6");
        assert_eq!((s.proto, s.address, s.port), (ServiceProto::Fwm, None, 0));
    }

    #[test]
    fn json_names_are_stable() {
        let mut s = VirtualService::new(
            &ServiceKey::Addr {
                proto: Protocol::Tcp,
                addr: "192.0.2.10".parse().unwrap(),
                port: 80,
            },
            SchedulerKind::Wrr,
        );
        s.real_servers.push(RealServer::new(
            "198.51.100.11".parse().unwrap(),
            80,
            ForwardMethod::Masq,
            3,
        ));
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["proto"], "TCP");
        assert_eq!(v["scheduler"], "wrr");
        assert_eq!(v["real_servers"][0]["method"], "masq");
        assert_eq!(v["real_servers"][0]["effective_weight"], 3);
        assert_eq!(v["real_servers"][0]["health"], serde_json::Value::Null);
        let back: VirtualService = serde_json::from_value(v).unwrap();
        assert_eq!(back, s);
    }
}
