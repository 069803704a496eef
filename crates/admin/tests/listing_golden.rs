//! Golden tests of `-L` output. Every expected text below was derived from
//! ipvsadm 1.31's printf formats (print_title, print_service_entry,
//! print_largenum, print_conn, list_conn, list_timeout, list_daemon in
//! ipvsadm.c), fed with the same table:
//!
//! - header: "IP Virtual Server version %d.%d.%d (size=%d)\n"
//! - service: "%-4s %s" (protocol, addr:port), cut at 33 bytes for IPv4, then
//!   "%s %s" with the scheduler, " (flags)", " persistent %u", " mask %s",
//!   " ops"; firewall marks "FWM  %u" / "FWM  %u IPv6"
//! - real server: "  -> %-28s %-7s %-6d %-10u %-10u\n" (name cut at 28 bytes
//!   for IPv4); --thresholds "  -> %-28s %-10u %-10u %-10u %-10u\n";
//!   --persistent-conn "  -> %-28s %-9u %-11u %-10u %-10u\n"; --tun-info
//!   "  -> %-28s %-7s %-13s %-6d %-10u %-10u\n"
//! - --stats/--rate: "%-33s" then five print_largenum ("%9llu", or "%8lluK",
//!   "%8lluM", "%8lluG", "%8lluT" from 100 million on; "%*llu" with --exact);
//!   real servers "  -> %-28s" (rates: " %8llu %8llu %8llu" then two large numbers)
//! - titles: "%-33s %8s %8s %8s %8s %8s\n  -> RemoteAddress:Port\n" (stats,
//!   rate), "%-33s %-10s %-10s %-10s %-10s\n..." (thresholds),
//!   "%-33s %-9s %-11s %-10s %-10s\n..." (persistent-conn)
//! - connections: "pro expire %-11s %-18s %-18s %s\n" and rows
//!   "%-3s %-6s %-11s %-18s %-18s %s\n" with "%02d:%02d" expiry
//!
//! The tables are built in a scrambled order: the listing sorts like libipvs.

// Test helpers outside #[test] functions may unwrap too.
#![allow(clippy::unwrap_used)]

use std::net::IpAddr;

use rvs_admin::status::{
    ConnStatus, DestStatus, Rates, ServiceStatus, Stats, Status, SyncDaemonStatus, Timeouts,
};
use rvs_admin::{render, try_render, AdminError, ListOptions, ListView, Names, SyncState};
use rvs_core::{
    DestConfig, Family, ForwardMethod, Persistence, Protocol, SchedFlags, SchedulerKind,
    ServiceConfig, ServiceKey,
};

fn service(key: ServiceKey, scheduler: SchedulerKind) -> ServiceConfig {
    ServiceConfig {
        key,
        scheduler,
        sched_flags: SchedFlags::default(),
        persistence: None,
        one_packet: false,
    }
}

fn tcp(addr: &str, port: u16) -> ServiceKey {
    ServiceKey::Addr {
        proto: Protocol::Tcp,
        addr: addr.parse().unwrap(),
        port,
    }
}

fn dest(
    addr: &str,
    port: u16,
    method: ForwardMethod,
    weight: u32,
    active: u32,
    inactive: u32,
) -> DestStatus {
    DestStatus {
        config: DestConfig {
            addr: addr.parse().unwrap(),
            port,
            method,
            weight,
            u_threshold: 0,
            l_threshold: 0,
        },
        weight,
        active_conns: active,
        inactive_conns: inactive,
        persist_conns: 0,
        stats: Stats::default(),
        rates: Rates::default(),
        configured_weight: None,
        health: None,
        held_out: false,
    }
}

fn svc_status(config: ServiceConfig, dests: Vec<DestStatus>) -> ServiceStatus {
    ServiceStatus {
        config,
        stats: Stats::default(),
        rates: Rates::default(),
        dests,
    }
}

fn stats(v: [u64; 5]) -> Stats {
    Stats {
        conns: v[0],
        inpkts: v[1],
        outpkts: v[2],
        inbytes: v[3],
        outbytes: v[4],
    }
}

fn rates(v: [u64; 5]) -> Rates {
    Rates {
        cps: v[0],
        inpps: v[1],
        outpps: v[2],
        inbps: v[3],
        outbps: v[4],
    }
}

/// A director with NAT, DR and tunnel real servers, persistence, one-packet
/// UDP with sh flags, IPv6 and firewall-mark services.
fn table() -> Status {
    let mut web = svc_status(
        service(tcp("192.0.2.10", 80), SchedulerKind::Wrr),
        vec![
            dest("198.51.100.12", 80, ForwardMethod::Masq, 100, 0, 0),
            dest("198.51.100.11", 80, ForwardMethod::Masq, 1, 3, 10),
        ],
    );
    web.stats = stats([
        1_234_567,
        98_765_432,
        87_654_321,
        123_456_789_012,
        98_765_432_109_876,
    ]);
    web.rates = rates([12, 3400, 3100, 2_500_000, 150_000_000]);
    web.dests[0].stats = stats([
        234_567,
        48_765_432,
        47_654_321,
        63_456_789_012,
        97_765_432_109_876,
    ]);
    web.dests[0].rates = rates([6, 1700, 1600, 1_250_000, 75_000_000]);
    web.dests[0].config.u_threshold = 500;
    web.dests[0].config.l_threshold = 400;
    web.dests[1].stats = stats([
        1_000_000,
        50_000_000,
        40_000_000,
        60_000_000_000,
        1_000_000_000_000,
    ]);
    web.dests[1].rates = rates([6, 1700, 1500, 1_250_000, 75_000_000]);

    let mut https = service(tcp("192.0.2.10", 443), SchedulerKind::Wlc);
    https.persistence = Some(Persistence {
        timeout_secs: 600,
        prefix_len: 24,
    });
    let mut https = svc_status(
        https,
        vec![dest("198.51.100.11", 443, ForwardMethod::Route, 1, 7, 2)],
    );
    https.dests[0].persist_conns = 4;

    let mut dns = service(
        ServiceKey::Addr {
            proto: Protocol::Udp,
            addr: "192.0.2.10".parse().unwrap(),
            port: 53,
        },
        SchedulerKind::Sh,
    );
    dns.sched_flags = SchedFlags {
        fallback: true,
        port: true,
        flag3: false,
    };
    dns.one_packet = true;
    let dns = svc_status(
        dns,
        vec![dest("198.51.100.13", 53, ForwardMethod::Masq, 1, 0, 25)],
    );

    let mut v6 = service(tcp("2001:db8::10", 80), SchedulerKind::Wlc);
    v6.persistence = Some(Persistence {
        timeout_secs: 360,
        prefix_len: 64,
    });
    let v6 = svc_status(
        v6,
        vec![dest("2001:db8::11", 80, ForwardMethod::Masq, 1, 0, 0)],
    );

    let fw1 = svc_status(
        service(
            ServiceKey::FwMark {
                mark: 1,
                family: Family::V4,
            },
            SchedulerKind::Rr,
        ),
        vec![dest("198.51.100.14", 0, ForwardMethod::Tunnel, 2, 1, 0)],
    );
    let fw2 = svc_status(
        service(
            ServiceKey::FwMark {
                mark: 2,
                family: Family::V6,
            },
            SchedulerKind::Wlc,
        ),
        vec![],
    );

    Status {
        version: "1.2.1".into(),
        conn_table_size: 4096,
        services: vec![fw2, v6, dns, https, fw1, web],
        timeouts: Timeouts::default(),
        daemons: vec![],
        connections: None,
        vrrp: vec![],
        sync: None,
    }
}

fn numeric() -> ListOptions {
    ListOptions {
        numeric: true,
        ..ListOptions::default()
    }
}

const PLAIN: &str = concat!(
    "IP Virtual Server version 1.2.1 (size=4096)\n",
    "Prot LocalAddress:Port Scheduler Flags\n",
    "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n",
    "TCP  192.0.2.10:80 wrr\n",
    "  -> 198.51.100.11:80             Masq    1      3          10        \n",
    "  -> 198.51.100.12:80             Masq    100    0          0         \n",
    "TCP  192.0.2.10:443 wlc persistent 600 mask 255.255.255.0\n",
    "  -> 198.51.100.11:443            Route   1      7          2         \n",
    "UDP  192.0.2.10:53 sh (sh-fallback,sh-port) ops\n",
    "  -> 198.51.100.13:53             Masq    1      0          25        \n",
    "TCP  [2001:db8::10]:80 wlc persistent 360 mask 64\n",
    "  -> [2001:db8::11]:80            Masq    1      0          0         \n",
    "FWM  1 rr\n",
    "  -> 198.51.100.14:0              Tunnel  2      1          0         \n",
    "FWM  2 IPv6 wlc\n",
);

const STATS: &str = concat!(
    "IP Virtual Server version 1.2.1 (size=4096)\n",
    "Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes\n",
    "  -> RemoteAddress:Port\n",
    "TCP  192.0.2.10:80                 1234567 98765432 87654321     123G   98765G\n",
    "  -> 198.51.100.11:80              1000000 50000000 40000000   60000M    1000G\n",
    "  -> 198.51.100.12:80               234567 48765432 47654321   63456M   97765G\n",
    "TCP  192.0.2.10:443                      0        0        0        0        0\n",
    "  -> 198.51.100.11:443                   0        0        0        0        0\n",
    "UDP  192.0.2.10:53                       0        0        0        0        0\n",
    "  -> 198.51.100.13:53                    0        0        0        0        0\n",
    "TCP  [2001:db8::10]:80                   0        0        0        0        0\n",
    "  -> [2001:db8::11]:80                   0        0        0        0        0\n",
    "FWM  1                                   0        0        0        0        0\n",
    "  -> 198.51.100.14:0                     0        0        0        0        0\n",
    "FWM  2 IPv6                              0        0        0        0        0\n",
);

const STATS_EXACT: &str = concat!(
    "IP Virtual Server version 1.2.1 (size=4096)\n",
    "Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes\n",
    "  -> RemoteAddress:Port\n",
    "TCP  192.0.2.10:80                 1234567 98765432 87654321 123456789012 98765432109876\n",
    "  -> 198.51.100.11:80              1000000 50000000 40000000 60000000000 1000000000000\n",
    "  -> 198.51.100.12:80               234567 48765432 47654321 63456789012 97765432109876\n",
    "TCP  192.0.2.10:443                      0        0        0        0        0\n",
    "  -> 198.51.100.11:443                   0        0        0        0        0\n",
    "UDP  192.0.2.10:53                       0        0        0        0        0\n",
    "  -> 198.51.100.13:53                    0        0        0        0        0\n",
    "TCP  [2001:db8::10]:80                   0        0        0        0        0\n",
    "  -> [2001:db8::11]:80                   0        0        0        0        0\n",
    "FWM  1                                   0        0        0        0        0\n",
    "  -> 198.51.100.14:0                     0        0        0        0        0\n",
    "FWM  2 IPv6                              0        0        0        0        0\n",
);

const RATE: &str = concat!(
    "IP Virtual Server version 1.2.1 (size=4096)\n",
    "Prot LocalAddress:Port                 CPS    InPPS   OutPPS    InBPS   OutBPS\n",
    "  -> RemoteAddress:Port\n",
    "TCP  192.0.2.10:80                      12     3400     3100  2500000  150000K\n",
    "  -> 198.51.100.11:80                    6     1700     1500  1250000 75000000\n",
    "  -> 198.51.100.12:80                    6     1700     1600  1250000 75000000\n",
    "TCP  192.0.2.10:443                      0        0        0        0        0\n",
    "  -> 198.51.100.11:443                   0        0        0        0        0\n",
    "UDP  192.0.2.10:53                       0        0        0        0        0\n",
    "  -> 198.51.100.13:53                    0        0        0        0        0\n",
    "TCP  [2001:db8::10]:80                   0        0        0        0        0\n",
    "  -> [2001:db8::11]:80                   0        0        0        0        0\n",
    "FWM  1                                   0        0        0        0        0\n",
    "  -> 198.51.100.14:0                     0        0        0        0        0\n",
    "FWM  2 IPv6                              0        0        0        0        0\n",
);

const THRESHOLDS: &str = concat!(
    "IP Virtual Server version 1.2.1 (size=4096)\n",
    "Prot LocalAddress:Port            Uthreshold Lthreshold ActiveConn InActConn \n",
    "  -> RemoteAddress:Port\n",
    "TCP  192.0.2.10:80 wrr\n",
    "  -> 198.51.100.11:80             0          0          3          10        \n",
    "  -> 198.51.100.12:80             500        400        0          0         \n",
    "TCP  192.0.2.10:443 wlc persistent 600 mask 255.255.255.0\n",
    "  -> 198.51.100.11:443            0          0          7          2         \n",
    "UDP  192.0.2.10:53 sh (sh-fallback,sh-port) ops\n",
    "  -> 198.51.100.13:53             0          0          0          25        \n",
    "TCP  [2001:db8::10]:80 wlc persistent 360 mask 64\n",
    "  -> [2001:db8::11]:80            0          0          0          0         \n",
    "FWM  1 rr\n",
    "  -> 198.51.100.14:0              0          0          1          0         \n",
    "FWM  2 IPv6 wlc\n",
);

const PERSISTENT_CONN: &str = concat!(
    "IP Virtual Server version 1.2.1 (size=4096)\n",
    "Prot LocalAddress:Port            Weight    PersistConn ActiveConn InActConn \n",
    "  -> RemoteAddress:Port\n",
    "TCP  192.0.2.10:80 wrr\n",
    "  -> 198.51.100.11:80             1         0           3          10        \n",
    "  -> 198.51.100.12:80             100       0           0          0         \n",
    "TCP  192.0.2.10:443 wlc persistent 600 mask 255.255.255.0\n",
    "  -> 198.51.100.11:443            1         4           7          2         \n",
    "UDP  192.0.2.10:53 sh (sh-fallback,sh-port) ops\n",
    "  -> 198.51.100.13:53             1         0           0          25        \n",
    "TCP  [2001:db8::10]:80 wlc persistent 360 mask 64\n",
    "  -> [2001:db8::11]:80            1         0           0          0         \n",
    "FWM  1 rr\n",
    "  -> 198.51.100.14:0              2         0           1          0         \n",
    "FWM  2 IPv6 wlc\n",
);

const TUN_INFO: &str = concat!(
    "IP Virtual Server version 1.2.1 (size=4096)\n",
    "Prot LocalAddress:Port Scheduler Flags\n",
    "  -> RemoteAddress:Port           Forward TunnelInfo    Weight ActiveConn InActConn\n",
    "TCP  192.0.2.10:80 wrr\n",
    "  -> 198.51.100.11:80             Masq    n/a           1      3          10        \n",
    "  -> 198.51.100.12:80             Masq    n/a           100    0          0         \n",
    "TCP  192.0.2.10:443 wlc persistent 600 mask 255.255.255.0\n",
    "  -> 198.51.100.11:443            Route   n/a           1      7          2         \n",
    "UDP  192.0.2.10:53 sh (sh-fallback,sh-port) ops\n",
    "  -> 198.51.100.13:53             Masq    n/a           1      0          25        \n",
    "TCP  [2001:db8::10]:80 wlc persistent 360 mask 64\n",
    "  -> [2001:db8::11]:80            Masq    n/a           1      0          0         \n",
    "FWM  1 rr\n",
    "  -> 198.51.100.14:0              Tunnel  ipip          2      1          0         \n",
    "FWM  2 IPv6 wlc\n",
);

const ONE_SERVICE: &str = concat!(
    "Prot LocalAddress:Port Scheduler Flags\n",
    "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n",
    "TCP  192.0.2.10:80 wrr\n",
    "  -> 198.51.100.11:80             Masq    1      3          10        \n",
    "  -> 198.51.100.12:80             Masq    100    0          0         \n",
);

const CONNECTIONS: &str = concat!(
    "IPVS connection entries\n",
    "pro expire state       source             virtual            destination\n",
    "TCP 14:59  ESTABLISHED 203.0.113.5:40000  192.0.2.10:80      198.51.100.11:80\n",
    "TCP 01:58  FIN_WAIT    203.0.113.6:40001  192.0.2.10:80      198.51.100.12:80\n",
    "UDP 04:59  UDP         203.0.113.7:5353   192.0.2.10:53      198.51.100.13:53\n",
    "TCP 09:59  NONE        203.0.113.0:0      192.0.2.10:443     198.51.100.11:443\n",
    "IP  05:59  NONE        203.0.113.8:0      0.0.0.1:0          198.51.100.14:0\n",
    "TCP 100:00 ESTABLISHED [2001:db8:1::5]:50000 [2001:db8::10]:80  [2001:db8::11]:80\n",
);

const WITH_NAMES: &str = concat!(
    "IP Virtual Server version 1.2.1 (size=4096)\n",
    "Prot LocalAddress:Port Scheduler Flags\n",
    "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n",
    "TCP  www.a-rather-long-name.examp wlc\n",
    "  -> realserver-one.example.test: Route   1      0          0         \n",
    "  -> 198.51.100.12:8080           Masq    1      0          0         \n",
    "UDP  dns.example.test:domain rr\n",
    "TCP  [www6.example.test]:https wlc\n",
    "  -> [2001:db8::11]:https         Masq    1      0          0         \n",
);

#[test]
fn plain_listing() {
    assert_eq!(render(&table(), &numeric()), PLAIN);
}

#[test]
fn stats_listing() {
    assert_eq!(
        render(
            &table(),
            &ListOptions {
                stats: true,
                ..numeric()
            }
        ),
        STATS
    );
    // --stats wins over --rate and the others, as in ipvsadm.
    assert_eq!(
        render(
            &table(),
            &ListOptions {
                stats: true,
                rate: true,
                thresholds: true,
                ..numeric()
            }
        ),
        STATS
    );
}

#[test]
fn exact_stats_listing() {
    assert_eq!(
        render(
            &table(),
            &ListOptions {
                stats: true,
                exact: true,
                ..numeric()
            }
        ),
        STATS_EXACT
    );
}

#[test]
fn rate_listing() {
    assert_eq!(
        render(
            &table(),
            &ListOptions {
                rate: true,
                ..numeric()
            }
        ),
        RATE
    );
}

#[test]
fn thresholds_listing() {
    assert_eq!(
        render(
            &table(),
            &ListOptions {
                thresholds: true,
                ..numeric()
            }
        ),
        THRESHOLDS
    );
}

#[test]
fn persistent_conn_listing() {
    assert_eq!(
        render(
            &table(),
            &ListOptions {
                persistent_conn: true,
                ..numeric()
            }
        ),
        PERSISTENT_CONN
    );
}

#[test]
fn tun_info_listing() {
    assert_eq!(
        render(
            &table(),
            &ListOptions {
                tun_info: true,
                ..numeric()
            }
        ),
        TUN_INFO
    );
}

#[test]
fn one_service_has_no_header() {
    let opts = ListOptions {
        view: ListView::Service(tcp("192.0.2.10", 80)),
        ..numeric()
    };
    assert_eq!(render(&table(), &opts), ONE_SERVICE);
    let missing = ListOptions {
        view: ListView::Service(tcp("192.0.2.99", 80)),
        ..numeric()
    };
    assert_eq!(
        try_render(&table(), &missing),
        Err(AdminError::NoSuchService)
    );
    assert_eq!(render(&table(), &missing), "");
}

#[test]
fn nosort_keeps_table_order() {
    let opts = ListOptions {
        nosort: true,
        ..numeric()
    };
    let text = render(&table(), &opts);
    let services: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with(' '))
        .skip(2)
        .collect();
    assert_eq!(
        services,
        vec![
            "FWM  2 IPv6 wlc",
            "TCP  [2001:db8::10]:80 wlc persistent 360 mask 64",
            "UDP  192.0.2.10:53 sh (sh-fallback,sh-port) ops",
            "TCP  192.0.2.10:443 wlc persistent 600 mask 255.255.255.0",
            "FWM  1 rr",
            "TCP  192.0.2.10:80 wrr",
        ]
    );
    assert!(text.contains("  -> 198.51.100.12:80             Masq    100    0          0         \n  -> 198.51.100.11:80"));
}

#[test]
fn empty_table() {
    let status = Status {
        services: vec![],
        ..table()
    };
    assert_eq!(
        render(&status, &numeric()),
        "IP Virtual Server version 1.2.1 (size=4096)\n\
         Prot LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n"
    );
}

fn conn(
    proto: Protocol,
    client: &str,
    vip: &str,
    rip: &str,
    state: &str,
    expires_ms: u64,
) -> ConnStatus {
    ConnStatus {
        proto,
        client: client.parse().unwrap(),
        r#virtual: vip.parse().unwrap(),
        dest: rip.parse().unwrap(),
        state: state.into(),
        expires_ms,
        template: false,
        fwmark: None,
    }
}

#[test]
fn connection_listing() {
    let mut status = table();
    let mut template = conn(
        Protocol::Tcp,
        "203.0.113.0:0",
        "192.0.2.10:443",
        "198.51.100.11:443",
        "NONE",
        599_999,
    );
    template.template = true;
    let mut fw_template = conn(
        Protocol::Tcp,
        "203.0.113.8:0",
        "192.0.2.10:0",
        "198.51.100.14:0",
        "NONE",
        359_000,
    );
    fw_template.template = true;
    fw_template.fwmark = Some(1);
    status.connections = Some(vec![
        conn(
            Protocol::Tcp,
            "203.0.113.5:40000",
            "192.0.2.10:80",
            "198.51.100.11:80",
            "ESTABLISHED",
            899_999,
        ),
        conn(
            Protocol::Tcp,
            "203.0.113.6:40001",
            "192.0.2.10:80",
            "198.51.100.12:80",
            "FIN_WAIT",
            118_500,
        ),
        conn(
            Protocol::Udp,
            "203.0.113.7:5353",
            "192.0.2.10:53",
            "198.51.100.13:53",
            "UDP",
            299_000,
        ),
        template,
        fw_template,
        conn(
            Protocol::Tcp,
            "[2001:db8:1::5]:50000",
            "[2001:db8::10]:80",
            "[2001:db8::11]:80",
            "ESTABLISHED",
            6_000_000,
        ),
    ]);
    let opts = ListOptions {
        view: ListView::Connections,
        ..numeric()
    };
    assert_eq!(render(&status, &opts), CONNECTIONS);

    let pe = ListOptions {
        view: ListView::Connections,
        persistent_conn: true,
        ..numeric()
    };
    let text = render(&status, &pe);
    assert!(text.starts_with(
        "IPVS connection entries\n\
         pro expire state       source             virtual            destination        pe name          pe_data\n\
         TCP 14:59  ESTABLISHED 203.0.113.5:40000  192.0.2.10:80      198.51.100.11:80\n"
    ));

    // No connection list in the status: just the headings.
    status.connections = None;
    assert_eq!(render(&status, &opts).lines().count(), 2);
}

#[test]
fn timeout_and_daemon_listings() {
    let mut status = table();
    status.timeouts = Timeouts {
        tcp: 900,
        tcpfin: 120,
        udp: 300,
    };
    let opts = ListOptions {
        view: ListView::Timeouts,
        ..numeric()
    };
    // "Timeout (tcp tcpfin udp): %d %d %d\n"
    assert_eq!(
        render(&status, &opts),
        "Timeout (tcp tcpfin udp): 900 120 300\n"
    );

    status.daemons = vec![
        SyncDaemonStatus {
            state: SyncState::Backup,
            mcast_ifn: "eth1".into(),
            syncid: 7,
            sync_maxlen: None,
            mcast_group: None,
            mcast_port: None,
            mcast_ttl: None,
        },
        SyncDaemonStatus {
            state: SyncState::Master,
            mcast_ifn: "eth0".into(),
            syncid: 0,
            sync_maxlen: Some(1472),
            mcast_group: Some("224.0.0.81".parse::<IpAddr>().unwrap()),
            mcast_port: Some(8848),
            mcast_ttl: Some(1),
        },
    ];
    let opts = ListOptions {
        view: ListView::Daemons,
        ..numeric()
    };
    // "%s sync daemon (mcast=%s, syncid=%d", ", maxlen=%u", ", group=%s", ", port=%u", ", ttl=%u", ")\n"
    assert_eq!(
        render(&status, &opts),
        "master sync daemon (mcast=eth0, syncid=0, maxlen=1472, group=224.0.0.81, port=8848, ttl=1)\n\
         backup sync daemon (mcast=eth1, syncid=7)\n"
    );
}

#[test]
fn names_instead_of_numbers() {
    let names = Names::parse(
        "192.0.2.10 www.a-rather-long-name.example.test\n\
         192.0.2.53 dns.example.test\n\
         198.51.100.11 realserver-one.example.test rs1\n\
         2001:db8::10 www6.example.test\n",
        "http 80/tcp www\nhttps 443/tcp\ndomain 53/udp\n",
    );
    let mut web = service(tcp("192.0.2.10", 80), SchedulerKind::Wlc);
    web.persistence = None;
    let status = Status {
        services: vec![
            svc_status(
                web,
                vec![
                    dest("198.51.100.12", 8080, ForwardMethod::Masq, 1, 0, 0),
                    dest("198.51.100.11", 80, ForwardMethod::Route, 1, 0, 0),
                ],
            ),
            svc_status(
                service(
                    ServiceKey::Addr {
                        proto: Protocol::Udp,
                        addr: "192.0.2.53".parse().unwrap(),
                        port: 53,
                    },
                    SchedulerKind::Rr,
                ),
                vec![],
            ),
            svc_status(
                service(tcp("2001:db8::10", 443), SchedulerKind::Wlc),
                vec![dest("2001:db8::11", 443, ForwardMethod::Masq, 1, 0, 0)],
            ),
        ],
        ..table()
    };
    let opts = ListOptions {
        names,
        ..ListOptions::default()
    };
    assert_eq!(render(&status, &opts), WITH_NAMES);
    // -n ignores the names.
    let numeric_text = render(
        &status,
        &ListOptions {
            numeric: true,
            ..opts
        },
    );
    assert!(numeric_text.contains("TCP  192.0.2.10:80 wlc\n"));
}

#[test]
fn json_output() {
    let opts = ListOptions {
        json: true,
        ..numeric()
    };
    let text = render(&table(), &opts);
    let back: Status = serde_json::from_str(&text).unwrap();
    assert_eq!(back, table());
    assert!(text.ends_with("}\n"));
    let one = ListOptions {
        json: true,
        view: ListView::Service(tcp("192.0.2.10", 80)),
        ..numeric()
    };
    let back: Status = serde_json::from_str(&render(&table(), &one)).unwrap();
    assert_eq!(back.services.len(), 1);
}

#[test]
fn ipvsadm_order_for_far_apart_addresses() {
    // libipvs compares addresses by int subtraction, which wraps: 192.0.2.10
    // lists before 10.0.0.1 in ipvsadm, and so it does here.
    let status = Status {
        services: vec![
            svc_status(service(tcp("10.0.0.1", 80), SchedulerKind::Wlc), vec![]),
            svc_status(service(tcp("192.0.2.10", 80), SchedulerKind::Wlc), vec![]),
        ],
        ..table()
    };
    let text = render(&status, &numeric());
    let lines: Vec<&str> = text.lines().skip(3).collect();
    assert_eq!(
        lines,
        vec!["TCP  192.0.2.10:80 wlc", "TCP  10.0.0.1:80 wlc"]
    );
}
