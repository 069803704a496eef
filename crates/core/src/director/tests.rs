//! Director tests: byte-exact verdicts for NAT, tunnel and direct routing on IPv4
//! and IPv6 against frames built from scratch, state and counters, persistence,
//! ICMP handling, expiry with a fake clock.

use std::net::IpAddr;
use std::sync::Arc;

use super::*;

mod v6;
use crate::conn::state::{TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN};
use crate::model::{
    DestConfig, ForwardMethod, Persistence, SchedFlags, SchedulerKind, ServiceConfig, ServiceKey,
};
use crate::service::{DesiredConfig, IpNet, Limits, PortConfig, PortId, Route, ServiceTable};
use crate::testkit::{make_partial, verify_checksums, with_headroom, Spec, DIRECTOR_MAC, L4};

const CLIENT_PORT: PortId = PortId(0);
const SERVER_PORT: PortId = PortId(1);
const MAC0: [u8; 6] = [0x02, 0xD0, 0, 0, 0, 0];
const MAC1: [u8; 6] = [0x02, 0xD1, 0, 0, 0, 1];
const HEADROOM: usize = 128;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn ports() -> Vec<PortConfig> {
    vec![
        PortConfig {
            id: CLIENT_PORT,
            name: "eth0".into(),
            mac: MAC0,
            mtu: 1500,
            addrs: vec![
                IpNet::new(ip("203.0.113.1"), 24),
                IpNet::new(ip("2001:db8:c::1"), 64),
            ],
        },
        PortConfig {
            id: SERVER_PORT,
            name: "eth1".into(),
            mac: MAC1,
            mtu: 1500,
            addrs: vec![
                IpNet::new(ip("198.51.100.1"), 24),
                IpNet::new(ip("2001:db8:5::1"), 64),
            ],
        },
    ]
}

fn service(proto: Protocol, vip: &str, port: u16, sched: SchedulerKind) -> ServiceConfig {
    ServiceConfig {
        key: ServiceKey::Addr {
            proto,
            addr: ip(vip),
            port,
        },
        scheduler: sched,
        sched_flags: SchedFlags::default(),
        persistence: None,
        one_packet: false,
    }
}

fn real(addr: &str, port: u16, method: ForwardMethod, weight: u32) -> DestConfig {
    DestConfig {
        addr: ip(addr),
        port,
        method,
        weight,
        u_threshold: 0,
        l_threshold: 0,
    }
}

struct Lab {
    table: ServiceTable,
    want: DesiredConfig,
    dir: Director,
}

impl Lab {
    fn new(services: Vec<(ServiceConfig, Vec<DestConfig>)>) -> Lab {
        let want = DesiredConfig {
            services,
            ports: ports(),
            routes: vec![Route {
                dest: IpNet::new(ip("0.0.0.0"), 0),
                port: CLIENT_PORT,
                gateway: Some(ip("203.0.113.254")),
            }],
            ..Default::default()
        };
        let mut table = ServiceTable::new(Limits::default());
        let (snap, _) = table.reconcile(&want, Time::ZERO).unwrap();
        let dir = Director::new(DirectorConfig::default(), snap);
        Lab { table, want, dir }
    }

    fn nat_tcp() -> Lab {
        Lab::new(vec![(
            service(Protocol::Tcp, "192.0.2.10", 80, SchedulerKind::Rr),
            vec![
                real("198.51.100.11", 8080, ForwardMethod::Masq, 1),
                real("198.51.100.12", 8080, ForwardMethod::Masq, 1),
            ],
        )])
    }

    fn apply(&mut self, now: Time) {
        let (snap, _) = self.table.reconcile(&self.want, now).unwrap();
        self.dir.set_snapshot(snap);
    }

    /// Run one frame through the director; the output frame and the verdict.
    fn run(&mut self, frame: &[u8], port: PortId, now: Time) -> (Verdict, Vec<u8>) {
        self.run_with(frame, port, now, false)
    }

    fn run_with(
        &mut self,
        frame: &[u8],
        port: PortId,
        now: Time,
        partial: bool,
    ) -> (Verdict, Vec<u8>) {
        let mut buf = with_headroom(frame, HEADROOM);
        let mut rx = Rx::new(&mut buf, HEADROOM, frame.len(), port);
        rx.csum_partial = partial;
        let v = self.dir.process(&mut rx, now);
        let out = match v {
            Verdict::Forward { start, len, .. } | Verdict::Reply { start, len, .. } => {
                buf[start..start + len].to_vec()
            }
            _ => Vec::new(),
        };
        (v, out)
    }

    fn dest(&self, addr: &str) -> Arc<crate::dest::Dest> {
        self.dir
            .snapshot()
            .dests()
            .find(|d| d.addr() == ip(addr))
            .cloned()
            .unwrap()
    }
}

fn t(s: u64) -> Time {
    Time::from_secs(s)
}

/// The output equals `want` from the EtherType on, with the port's source MAC.
fn assert_frame(out: &[u8], want: &[u8], src_mac: [u8; 6]) {
    assert_eq!(&out[6..12], &src_mac, "source MAC");
    assert_eq!(hex(&out[12..]), hex(&want[12..]), "frame from EtherType on");
    verify_checksums(out).unwrap();
}

fn hex(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn forward_target(v: Verdict) -> (PortId, IpAddr) {
    match v {
        Verdict::Forward { port, next_hop, .. } => (port, next_hop),
        other => panic!("expected Forward, got {other:?}"),
    }
}

#[test]
fn nat_tcp_v4_both_directions_byte_exact() {
    let mut lab = Lab::nat_tcp();
    let syn = Spec::tcp("203.0.113.2", 40000, "192.0.2.10", 80, TCP_SYN).frame();
    let (v, out) = lab.run(&syn, CLIENT_PORT, t(1));
    assert_eq!(forward_target(v), (SERVER_PORT, ip("198.51.100.11")));
    let want = Spec::tcp("203.0.113.2", 40000, "198.51.100.11", 8080, TCP_SYN).frame();
    assert_frame(&out, &want, MAC1);

    let synack = Spec::tcp(
        "198.51.100.11",
        8080,
        "203.0.113.2",
        40000,
        TCP_SYN | TCP_ACK,
    )
    .frame();
    let (v, out) = lab.run(&synack, SERVER_PORT, t(1));
    assert_eq!(forward_target(v), (CLIENT_PORT, ip("203.0.113.2")));
    let want = Spec::tcp("192.0.2.10", 80, "203.0.113.2", 40000, TCP_SYN | TCP_ACK)
        .ttl(63)
        .frame();
    assert_frame(&out, &want, MAC0);

    let ack = Spec::tcp("203.0.113.2", 40000, "192.0.2.10", 80, TCP_ACK)
        .payload(b"GET / HTTP/1.0\r\n\r\n")
        .frame();
    let (_, out) = lab.run(&ack, CLIENT_PORT, t(1));
    let want = Spec::tcp("203.0.113.2", 40000, "198.51.100.11", 8080, TCP_ACK)
        .payload(b"GET / HTTP/1.0\r\n\r\n")
        .frame();
    assert_frame(&out, &want, MAC1);

    let d = lab.dest("198.51.100.11");
    assert_eq!((d.active_conns(), d.inactive_conns()), (1, 0));
    let conns = lab.dir.connections(t(1));
    assert_eq!(conns.len(), 1);
    assert_eq!(conns[0].state, ConnState::Established);
    assert_eq!(
        conns[0].expires.as_secs(),
        900,
        "ESTABLISHED: 15 min (to the tick)"
    );

    // The client closes: FIN -> CLOSE_WAIT, the server's FIN -> TIME_WAIT, inactive.
    let fin = Spec::tcp("203.0.113.2", 40000, "192.0.2.10", 80, TCP_FIN | TCP_ACK).frame();
    lab.run(&fin, CLIENT_PORT, t(2));
    let sfin = Spec::tcp(
        "198.51.100.11",
        8080,
        "203.0.113.2",
        40000,
        TCP_FIN | TCP_ACK,
    )
    .frame();
    lab.run(&sfin, SERVER_PORT, t(2));
    assert_eq!(lab.dir.connections(t(2))[0].state, ConnState::TimeWait);
    assert_eq!((d.active_conns(), d.inactive_conns()), (1 - 1, 1));

    // TIME_WAIT lasts 2 minutes, then the connection and its count are gone.
    lab.dir.expire(t(100), usize::MAX);
    assert_eq!(lab.dir.conn_count(), 1);
    lab.dir.expire(t(123), usize::MAX);
    assert_eq!(lab.dir.conn_count(), 0);
    assert_eq!((d.active_conns(), d.inactive_conns()), (0, 0));

    let st = lab.dir.stats();
    let svc = st.services[0].read();
    assert_eq!((svc.conns, svc.inpkts, svc.outpkts), (1, 3, 2));
}

#[test]
fn nat_rr_alternates_and_counts() {
    let mut lab = Lab::nat_tcp();
    let mut seen = Vec::new();
    for p in 0..4u16 {
        let syn = Spec::tcp("203.0.113.2", 50000 + p, "192.0.2.10", 80, TCP_SYN).frame();
        let (v, _) = lab.run(&syn, CLIENT_PORT, t(1));
        seen.push(forward_target(v).1);
    }
    assert_eq!(seen[0], seen[2]);
    assert_eq!(seen[1], seen[3]);
    assert_ne!(seen[0], seen[1]);
    assert_eq!(lab.dest("198.51.100.11").inactive_conns(), 2);
    assert_eq!(lab.dest("198.51.100.12").inactive_conns(), 2);
}

#[test]
fn nat_udp_v4_and_zero_checksum() {
    let mut lab = Lab::new(vec![(
        service(Protocol::Udp, "192.0.2.10", 53, SchedulerKind::Rr),
        vec![real("198.51.100.11", 5353, ForwardMethod::Masq, 1)],
    )]);
    let q = Spec::udp("203.0.113.2", 33333, "192.0.2.10", 53, b"query").frame();
    let (v, out) = lab.run(&q, CLIENT_PORT, t(1));
    assert_eq!(forward_target(v), (SERVER_PORT, ip("198.51.100.11")));
    assert_frame(
        &out,
        &Spec::udp("203.0.113.2", 33333, "198.51.100.11", 5353, b"query").frame(),
        MAC1,
    );
    assert_eq!(lab.dir.connections(t(1))[0].state, ConnState::Udp);
    assert_eq!(lab.dir.connections(t(1))[0].expires.as_secs(), 300);

    let mut spec = Spec::udp("198.51.100.11", 5353, "203.0.113.2", 33333, b"answer");
    if let L4::Udp { zero_csum, .. } = &mut spec.l4 {
        *zero_csum = true;
    }
    let (_, out) = lab.run(&spec.frame(), SERVER_PORT, t(1));
    let l4 = 14 + 20;
    assert_eq!(
        &out[l4 + 6..l4 + 8],
        &[0, 0],
        "UDP checksum 0 stays 0 on IPv4"
    );
    assert_eq!(&out[14 + 12..14 + 16], &[192, 0, 2, 10]);
    assert_eq!(&out[l4..l4 + 2], &53u16.to_be_bytes());
    verify_checksums(&out).unwrap();
    // UDP connections count as inactive, like IPVS.
    assert_eq!(lab.dest("198.51.100.11").inactive_conns(), 1);
}

#[test]
fn nat_tcp_v6_byte_exact() {
    let mut lab = Lab::new(vec![(
        service(Protocol::Tcp, "2001:db8::10", 80, SchedulerKind::Wlc),
        vec![real("2001:db8:5::11", 8080, ForwardMethod::Masq, 1)],
    )]);
    let syn = Spec::tcp("2001:db8:c::2", 40000, "2001:db8::10", 80, TCP_SYN).frame();
    let (v, out) = lab.run(&syn, CLIENT_PORT, t(1));
    assert_eq!(forward_target(v), (SERVER_PORT, ip("2001:db8:5::11")));
    assert_frame(
        &out,
        &Spec::tcp("2001:db8:c::2", 40000, "2001:db8:5::11", 8080, TCP_SYN).frame(),
        MAC1,
    );
    let synack = Spec::tcp(
        "2001:db8:5::11",
        8080,
        "2001:db8:c::2",
        40000,
        TCP_SYN | TCP_ACK,
    )
    .frame();
    let (v, out) = lab.run(&synack, SERVER_PORT, t(1));
    assert_eq!(forward_target(v), (CLIENT_PORT, ip("2001:db8:c::2")));
    let want = Spec::tcp(
        "2001:db8::10",
        80,
        "2001:db8:c::2",
        40000,
        TCP_SYN | TCP_ACK,
    )
    .ttl(63)
    .frame();
    assert_frame(&out, &want, MAC0);
}

#[test]
fn partial_checksums_are_completed() {
    let mut lab = Lab::nat_tcp();
    let mut syn = Spec::tcp("203.0.113.2", 40000, "192.0.2.10", 80, TCP_SYN)
        .payload(b"data!")
        .frame();
    make_partial(&mut syn);
    assert!(verify_checksums(&syn).is_err());
    let (_, out) = lab.run_with(&syn, CLIENT_PORT, t(1), true);
    let want = Spec::tcp("203.0.113.2", 40000, "198.51.100.11", 8080, TCP_SYN)
        .payload(b"data!")
        .frame();
    assert_frame(&out, &want, MAC1);
}

#[test]
fn direct_routing_changes_only_the_mac() {
    let mut lab = Lab::new(vec![(
        service(Protocol::Tcp, "192.0.2.10", 80, SchedulerKind::Rr),
        vec![real("198.51.100.11", 80, ForwardMethod::Route, 1)],
    )]);
    let syn = Spec::tcp("203.0.113.2", 40000, "192.0.2.10", 80, TCP_SYN).frame();
    let (v, out) = lab.run(&syn, CLIENT_PORT, t(1));
    assert_eq!(forward_target(v), (SERVER_PORT, ip("198.51.100.11")));
    assert_frame(&out, &syn, MAC1);
    // Input-only tracking: the client's ACK establishes the connection.
    let ack = Spec::tcp("203.0.113.2", 40000, "192.0.2.10", 80, TCP_ACK).frame();
    lab.run(&ack, CLIENT_PORT, t(1));
    assert_eq!(lab.dir.connections(t(1))[0].state, ConnState::Established);
    let fin = Spec::tcp("203.0.113.2", 40000, "192.0.2.10", 80, TCP_FIN | TCP_ACK).frame();
    lab.run(&fin, CLIENT_PORT, t(1));
    assert_eq!(lab.dir.connections(t(1))[0].state, ConnState::FinWait);
}

fn outer_v4(
    inner: &[u8],
    src: [u8; 4],
    dst: [u8; 4],
    ttl: u8,
    id: u16,
    df: bool,
    tos: u8,
) -> Vec<u8> {
    let mut h = vec![0x45, tos];
    h.extend(((20 + inner.len()) as u16).to_be_bytes());
    h.extend(id.to_be_bytes());
    h.extend(if df { [0x40, 0] } else { [0, 0] });
    h.extend([ttl, 4, 0, 0]);
    h.extend(src);
    h.extend(dst);
    let c = crate::testkit::naive_sum(&[&h]);
    h[10..12].copy_from_slice(&c.to_be_bytes());
    h.extend(inner);
    h
}

#[test]
fn tunnel_v4_encapsulates_byte_exact() {
    let mut lab = Lab::new(vec![(
        service(Protocol::Tcp, "192.0.2.10", 80, SchedulerKind::Rr),
        vec![real("198.51.100.11", 80, ForwardMethod::Tunnel, 1)],
    )]);
    let spec = Spec::tcp("203.0.113.2", 40000, "192.0.2.10", 80, TCP_SYN);
    let (v, out) = lab.run(&spec.frame(), CLIENT_PORT, t(1));
    assert_eq!(forward_target(v), (SERVER_PORT, ip("198.51.100.11")));
    assert_eq!(&out[12..14], &[0x08, 0x00]);
    let id = u16::from_be_bytes([out[14 + 4], out[14 + 5]]);
    let want_ip = outer_v4(
        &spec.ip_packet(),
        [198, 51, 100, 1],
        [198, 51, 100, 11],
        64,
        id,
        true,
        0,
    );
    assert_eq!(hex(&out[14..]), hex(&want_ip));
    assert_eq!(&out[6..12], &MAC1);
    verify_checksums(&out).unwrap();
}

#[test]
fn tunnel_v6_encapsulates() {
    let mut lab = Lab::new(vec![(
        service(Protocol::Udp, "2001:db8::10", 53, SchedulerKind::Rr),
        vec![real("2001:db8:5::11", 53, ForwardMethod::Tunnel, 1)],
    )]);
    let spec = Spec::udp("2001:db8:c::2", 5000, "2001:db8::10", 53, b"hello");
    let (v, out) = lab.run(&spec.frame(), CLIENT_PORT, t(1));
    assert_eq!(forward_target(v), (SERVER_PORT, ip("2001:db8:5::11")));
    assert_eq!(&out[12..14], &[0x86, 0xDD]);
    let o = &out[14..];
    assert_eq!(o[0] >> 4, 6);
    assert_eq!(o[6], 41, "next header: IPv6");
    assert_eq!(&o[8..24], &ip_bytes("2001:db8:5::1"));
    assert_eq!(&o[24..40], &ip_bytes("2001:db8:5::11"));
    assert_eq!(&o[40..], &spec.ip_packet()[..]);
    verify_checksums(&out).unwrap();
}

fn ip_bytes(s: &str) -> Vec<u8> {
    match ip(s) {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    }
}

#[test]
fn tunnel_too_big_answers_fragmentation_needed() {
    let mut lab = Lab::new(vec![(
        service(Protocol::Tcp, "192.0.2.10", 80, SchedulerKind::Rr),
        vec![real("198.51.100.11", 80, ForwardMethod::Tunnel, 1)],
    )]);
    let syn = Spec::tcp("203.0.113.2", 40000, "192.0.2.10", 80, TCP_SYN).frame();
    lab.run(&syn, CLIENT_PORT, t(1));
    // 1490 bytes of IP + 20 of tunnel header > 1500.
    let big = Spec::tcp("203.0.113.2", 40000, "192.0.2.10", 80, TCP_ACK)
        .payload(&[7u8; 1450])
        .frame();
    let (v, out) = lab.run(&big, CLIENT_PORT, t(1));
    assert!(
        matches!(
            v,
            Verdict::Reply {
                port: CLIENT_PORT,
                ..
            }
        ),
        "{v:?}"
    );
    verify_checksums(&out).unwrap();
    let o = &out[14..];
    assert_eq!(o[9], 1, "ICMP");
    assert_eq!(&o[12..16], &[192, 0, 2, 10], "from the VIP");
    assert_eq!(&o[16..20], &[203, 0, 113, 2], "to the client");
    assert_eq!((o[20], o[21]), (3, 4), "fragmentation needed");
    assert_eq!(u16::from_be_bytes([o[26], o[27]]), 1480);
    assert_eq!(
        &out[0..6],
        &crate::testkit::CLIENT_MAC,
        "back to the sender's MAC"
    );
    assert!(out.len() <= 14 + 576);
}

#[test]
fn no_service_not_syn_and_unrelated_traffic() {
    let mut lab = Lab::nat_tcp();
    let other_port = Spec::tcp("203.0.113.2", 40000, "192.0.2.10", 81, TCP_SYN).frame();
    assert_eq!(
        lab.run(&other_port, CLIENT_PORT, t(1)).0,
        Verdict::Drop(DropReason::NoService)
    );
    let stray_ack = Spec::tcp("203.0.113.2", 40000, "192.0.2.10", 80, TCP_ACK).frame();
    assert_eq!(
        lab.run(&stray_ack, CLIENT_PORT, t(1)).0,
        Verdict::Drop(DropReason::NotSyn)
    );
    let host = Spec::tcp("203.0.113.2", 40000, "203.0.113.1", 22, TCP_SYN).frame();
    assert_eq!(lab.run(&host, CLIENT_PORT, t(1)).0, Verdict::Pass);
    // A NAT real server's reply without a connection never leaks un-NATed.
    let leak = Spec::tcp("198.51.100.11", 8080, "203.0.113.2", 40000, TCP_ACK).frame();
    assert_eq!(
        lab.run(&leak, SERVER_PORT, t(1)).0,
        Verdict::Drop(DropReason::NatReplyWithoutConn)
    );
    // The real server's own traffic on other ports passes.
    let own = Spec::tcp("198.51.100.11", 33000, "203.0.113.2", 22, TCP_SYN).frame();
    assert_eq!(lab.run(&own, SERVER_PORT, t(1)).0, Verdict::Pass);
    let st = lab.dir.stats();
    assert_eq!(st.drop_counts().len(), 3);
}

#[test]
fn no_destination_gets_port_unreachable() {
    let mut lab = Lab::new(vec![(
        service(Protocol::Tcp, "192.0.2.10", 80, SchedulerKind::Wlc),
        vec![real("198.51.100.11", 80, ForwardMethod::Masq, 0)],
    )]);
    let syn = Spec::tcp("203.0.113.2", 40000, "192.0.2.10", 80, TCP_SYN).frame();
    let (v, out) = lab.run(&syn, CLIENT_PORT, t(1));
    assert!(
        matches!(
            v,
            Verdict::Reply {
                port: CLIENT_PORT,
                ..
            }
        ),
        "{v:?}"
    );
    verify_checksums(&out).unwrap();
    let o = &out[14..];
    assert_eq!((o[20], o[21]), (3, 3), "port unreachable");
    assert_eq!(&o[12..16], &[192, 0, 2, 10]);
    assert_eq!(lab.dir.conn_count(), 0);
}

#[test]
fn quiescing_drains_and_removal_keeps_or_expires_connections() {
    let mut lab = Lab::nat_tcp();
    let syn = |p: u16| Spec::tcp("203.0.113.2", p, "192.0.2.10", 80, TCP_SYN).frame();
    let (v, _) = lab.run(&syn(1000), CLIENT_PORT, t(1));
    let first = forward_target(v).1;
    // Weight 0 on the server that took the first connection.
    let idx = if first == ip("198.51.100.11") { 0 } else { 1 };
    lab.want.services[0].1[idx].weight = 0;
    lab.apply(t(2));
    for p in 2000..2010 {
        let (v, _) = lab.run(&syn(p), CLIENT_PORT, t(2));
        assert_ne!(
            forward_target(v).1,
            first,
            "quiescent server gets nothing new"
        );
    }
    // The existing connection still flows to it.
    let data = Spec::tcp("203.0.113.2", 1000, "192.0.2.10", 80, TCP_ACK).frame();
    assert_eq!(forward_target(lab.run(&data, CLIENT_PORT, t(3)).0).1, first);
    // Removed: still flows by default...
    lab.want.services[0].1.remove(idx);
    lab.apply(t(4));
    assert_eq!(forward_target(lab.run(&data, CLIENT_PORT, t(4)).0).1, first);
    // ...and is expired at its next packet with expire_nodest_conn.
    lab.want.settings.expire_nodest_conn = true;
    lab.apply(t(5));
    assert_eq!(
        lab.run(&data, CLIENT_PORT, t(5)).0,
        Verdict::Drop(DropReason::DestRemoved)
    );
}

#[test]
fn persistence_keeps_client_network_on_one_server() {
    let mut svc = service(Protocol::Tcp, "192.0.2.10", 0, SchedulerKind::Rr);
    svc.persistence = Some(Persistence {
        timeout_secs: 300,
        prefix_len: 25,
    });
    let mut lab = Lab::new(vec![(
        svc,
        vec![
            real("198.51.100.11", 0, ForwardMethod::Masq, 1),
            real("198.51.100.12", 0, ForwardMethod::Masq, 1),
        ],
    )]);
    let mut servers = std::collections::HashSet::new();
    for (i, (client, dport)) in [
        ("203.0.113.2", 80),
        ("203.0.113.2", 443),
        ("203.0.113.77", 80),
        ("203.0.113.2", 8443),
    ]
    .into_iter()
    .enumerate()
    {
        let syn = Spec::tcp(client, 30000 + i as u16, "192.0.2.10", dport, TCP_SYN).frame();
        let (v, out) = lab.run(&syn, CLIENT_PORT, t(1));
        servers.insert(forward_target(v).1);
        let ack = Spec::tcp(client, 30000 + i as u16, "192.0.2.10", dport, TCP_ACK).frame();
        lab.run(&ack, CLIENT_PORT, t(1));
        // Port-zero service: the real server gets the port the client asked for.
        assert_eq!(u16::from_be_bytes([out[36], out[37]]), dport);
    }
    assert_eq!(
        servers.len(),
        1,
        "one /25 sticks to one server across ports"
    );
    let d = lab.dir.connections(t(1));
    assert_eq!(d.iter().filter(|c| c.template).count(), 1);
    // Another network gets the other server (rr), and keeps it.
    let other = Spec::tcp("203.0.113.200", 1, "192.0.2.10", 80, TCP_SYN).frame();
    let (v, _) = lab.run(&other, CLIENT_PORT, t(1));
    assert!(!servers.contains(&forward_target(v).1));
    lab.run(
        &Spec::tcp("203.0.113.200", 1, "192.0.2.10", 80, TCP_ACK).frame(),
        CLIENT_PORT,
        t(1),
    );

    // The template outlives its timeout while a connection it controls lives...
    lab.dir.expire(t(302), usize::MAX);
    assert_eq!(
        lab.dir
            .connections(t(302))
            .iter()
            .filter(|c| c.template)
            .count(),
        2
    );
    // ...and goes once they have all expired (ESTABLISHED: 15 min) and its time is up.
    lab.dir.expire(t(700), usize::MAX);
    lab.dir.expire(t(1400), usize::MAX);
    assert_eq!(lab.dir.conn_count(), 0);
    for d in lab.dir.snapshot().dests() {
        assert_eq!(d.refs(), 0);
    }
}

#[test]
fn syn_on_time_wait_reschedules() {
    let mut lab = Lab::nat_tcp();
    let c = |f| Spec::tcp("203.0.113.2", 40000, "192.0.2.10", 80, f).frame();
    let s = |f| Spec::tcp("198.51.100.11", 8080, "203.0.113.2", 40000, f).frame();
    let (v, _) = lab.run(&c(TCP_SYN), CLIENT_PORT, t(1));
    assert_eq!(forward_target(v).1, ip("198.51.100.11"));
    lab.run(&s(TCP_SYN | TCP_ACK), SERVER_PORT, t(1));
    lab.run(&c(TCP_ACK), CLIENT_PORT, t(1));
    lab.run(&c(TCP_FIN | TCP_ACK), CLIENT_PORT, t(1));
    lab.run(&s(TCP_FIN | TCP_ACK), SERVER_PORT, t(1));
    assert_eq!(lab.dir.connections(t(1))[0].state, ConnState::TimeWait);
    // Same client port again: a new connection, scheduled to the next server.
    let (v, _) = lab.run(&c(TCP_SYN), CLIENT_PORT, t(2));
    assert_eq!(forward_target(v).1, ip("198.51.100.12"));
    assert_eq!(lab.dir.conn_count(), 1);
    assert_eq!(lab.dest("198.51.100.11").refs(), 0);
}

#[test]
fn rst_closes_and_short_timeout_applies() {
    let mut lab = Lab::nat_tcp();
    let c = |f| Spec::tcp("203.0.113.2", 40000, "192.0.2.10", 80, f).frame();
    lab.run(&c(TCP_SYN), CLIENT_PORT, t(1));
    lab.run(&c(TCP_ACK), CLIENT_PORT, t(1));
    lab.run(&c(TCP_RST), CLIENT_PORT, t(1));
    assert_eq!(lab.dir.connections(t(1))[0].state, ConnState::Close);
    lab.dir.expire(t(12), usize::MAX);
    assert_eq!(lab.dir.conn_count(), 0);
}

#[test]
fn icmp_errors_reach_the_right_party_rewritten() {
    let mut lab = Lab::nat_tcp();
    lab.run(
        &Spec::tcp("203.0.113.2", 40000, "192.0.2.10", 80, TCP_SYN).frame(),
        CLIENT_PORT,
        t(1),
    );
    // A router on the client's side says "fragmentation needed" about VIP -> client.
    let offending = Spec::tcp("192.0.2.10", 80, "203.0.113.2", 40000, TCP_ACK)
        .payload(&[1; 40])
        .ip_packet();
    let err = Spec::new(
        "203.0.113.254",
        "192.0.2.10",
        L4::Icmp {
            icmp_type: 3,
            code: 4,
            rest: [0, 0, 0x05, 0x00],
            body: offending[..48].to_vec(),
        },
    )
    .frame();
    let (v, out) = lab.run(&err, CLIENT_PORT, t(2));
    assert_eq!(forward_target(v), (SERVER_PORT, ip("198.51.100.11")));
    verify_checksums(&out).unwrap();
    let o = &out[14..];
    assert_eq!(
        &o[16..20],
        &[198, 51, 100, 11],
        "outer destination: the real server"
    );
    let inner = &o[28..];
    assert_eq!(
        &inner[12..16],
        &[198, 51, 100, 11],
        "inner source: the real server"
    );
    assert_eq!(
        u16::from_be_bytes([inner[20], inner[21]]),
        8080,
        "inner source port"
    );
    assert_eq!(
        crate::testkit::naive_sum(&[&inner[..20]]),
        0,
        "inner header checksum"
    );

    // The real server says "port unreachable" about client -> RIP: back to the client.
    let offending = Spec::tcp("203.0.113.2", 40000, "198.51.100.11", 8080, TCP_ACK).ip_packet();
    let err = Spec::new(
        "198.51.100.11",
        "203.0.113.2",
        L4::Icmp {
            icmp_type: 3,
            code: 3,
            rest: [0; 4],
            body: offending[..28].to_vec(),
        },
    )
    .frame();
    let (v, out) = lab.run(&err, SERVER_PORT, t(2));
    assert_eq!(forward_target(v), (CLIENT_PORT, ip("203.0.113.2")));
    verify_checksums(&out).unwrap();
    let o = &out[14..];
    assert_eq!(&o[12..16], &[192, 0, 2, 10], "outer source: the VIP");
    let inner = &o[28..];
    assert_eq!(
        &inner[16..20],
        &[192, 0, 2, 10],
        "inner destination: the VIP"
    );
    assert_eq!(u16::from_be_bytes([inner[22], inner[23]]), 80);
}

#[test]
fn arp_and_ping_for_vips() {
    let mut lab = Lab::nat_tcp();
    let mut arp = vec![0xFF; 6];
    arp.extend(crate::testkit::CLIENT_MAC);
    arp.extend([0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1]);
    arp.extend(crate::testkit::CLIENT_MAC);
    arp.extend([203, 0, 113, 2]);
    arp.extend([0; 6]);
    arp.extend([192, 0, 2, 10]);
    let (v, out) = lab.run(&arp, CLIENT_PORT, t(1));
    assert!(
        matches!(
            v,
            Verdict::Reply {
                port: CLIENT_PORT,
                ..
            }
        ),
        "{v:?}"
    );
    assert_eq!(&out[0..6], &crate::testkit::CLIENT_MAC);
    assert_eq!(&out[6..12], &MAC0);
    assert_eq!(&out[20..22], &[0, 2], "ARP reply");
    assert_eq!(&out[22..28], &MAC0, "sender MAC: the director");
    assert_eq!(&out[28..32], &[192, 0, 2, 10]);
    // Not a VIP: the host answers.
    let mut other = arp.clone();
    other[38..42].copy_from_slice(&[203, 0, 113, 1]);
    assert_eq!(lab.run(&other, CLIENT_PORT, t(1)).0, Verdict::Pass);

    let ping = Spec::new(
        "203.0.113.2",
        "192.0.2.10",
        L4::Icmp {
            icmp_type: 8,
            code: 0,
            rest: [0, 1, 0, 1],
            body: b"abcdefgh".to_vec(),
        },
    )
    .frame();
    let (v, out) = lab.run(&ping, CLIENT_PORT, t(1));
    assert!(matches!(v, Verdict::Reply { .. }), "{v:?}");
    verify_checksums(&out).unwrap();
    assert_eq!(out[14 + 20], 0, "echo reply");
    assert_eq!(&out[14 + 12..14 + 16], &[192, 0, 2, 10]);
    let _ = DIRECTOR_MAC;
}

#[test]
fn malformed_frames_are_dropped_and_counted() {
    let mut lab = Lab::nat_tcp();
    let syn = Spec::tcp("203.0.113.2", 40000, "192.0.2.10", 80, TCP_SYN).frame();
    for cut in [10, 20, 33, 40, 50] {
        let (v, _) = lab.run(&syn[..cut], CLIENT_PORT, t(1));
        assert!(
            matches!(v, Verdict::Drop(DropReason::Malformed(_))),
            "cut {cut}: {v:?}"
        );
    }
    assert_eq!(lab.dir.conn_count(), 0);
}

#[test]
fn ops_udp_schedules_every_datagram() {
    let mut svc = service(Protocol::Udp, "192.0.2.10", 53, SchedulerKind::Rr);
    svc.one_packet = true;
    let mut lab = Lab::new(vec![(
        svc,
        vec![
            real("198.51.100.11", 53, ForwardMethod::Masq, 1),
            real("198.51.100.12", 53, ForwardMethod::Masq, 1),
        ],
    )]);
    let q = Spec::udp("203.0.113.2", 33333, "192.0.2.10", 53, b"q").frame();
    let a = forward_target(lab.run(&q, CLIENT_PORT, t(1)).0).1;
    let b = forward_target(lab.run(&q, CLIENT_PORT, t(1)).0).1;
    assert_ne!(a, b);
    assert_eq!(lab.dir.conn_count(), 0);
}

#[test]
fn synced_connections_continue_on_the_backup() {
    let mut svc = service(Protocol::Tcp, "192.0.2.10", 80, SchedulerKind::Rr);
    svc.persistence = Some(Persistence {
        timeout_secs: 300,
        prefix_len: 32,
    });
    let services = vec![(
        svc,
        vec![
            real("198.51.100.11", 8080, ForwardMethod::Masq, 1),
            real("198.51.100.12", 8080, ForwardMethod::Masq, 1),
        ],
    )];
    let mut master = Lab::new(services.clone());
    let mut backup = Lab::new(services);
    master.dir.set_sync(true);
    let c = |f| Spec::tcp("203.0.113.2", 40000, "192.0.2.10", 80, f).frame();
    let (v, _) = master.run(&c(TCP_SYN), CLIENT_PORT, t(1));
    let rip = forward_target(v).1;
    let mut records = Vec::new();
    master.dir.take_sync(&mut records);
    assert!(records.is_empty(), "nothing to sync on the first packet");
    for _ in 0..3 {
        master.run(&c(TCP_ACK), CLIENT_PORT, t(2));
    }
    master.dir.take_sync(&mut records);
    // The 3rd inbound packet (the threshold) sends it, established by then.
    assert!(records.iter().any(|r| r.template), "{records:?}");
    let conn = records.iter().rev().find(|r| !r.template).unwrap();
    assert_eq!(conn.state, ConnState::Established);
    assert_eq!(conn.daddr, rip);
    assert!(conn.timeout_secs > 800);

    for r in &records {
        backup.dir.install_synced(r, t(3)).unwrap();
    }
    // Installing twice refreshes instead of duplicating.
    for r in &records {
        backup.dir.install_synced(r, t(3)).unwrap();
    }
    assert_eq!(
        backup.dir.conn_count(),
        2,
        "one connection and its template"
    );
    // After a failover, the client's next segment (no SYN) goes to the same server.
    let (v, out) = backup.run(&c(TCP_ACK), CLIENT_PORT, t(4));
    assert_eq!(forward_target(v).1, rip);
    assert_eq!(&out[14 + 16..14 + 20], &ip_bytes(&rip.to_string())[..]);
    let d = backup.dest(&rip.to_string());
    assert_eq!((d.active_conns(), d.persist_conns()), (1, 1));
    // And a new connection from that client follows the synced template.
    let (v, _) = backup.run(
        &Spec::tcp("203.0.113.2", 40001, "192.0.2.10", 80, TCP_SYN).frame(),
        CLIENT_PORT,
        t(4),
    );
    assert_eq!(forward_target(v).1, rip);
    // A record for an unknown real server is refused.
    let mut bad = *conn;
    bad.daddr = ip("198.51.100.99");
    assert_eq!(
        backup.dir.install_synced(&bad, t(4)),
        Err(super::sync::SyncInstallError::NoSuchDest)
    );
}

/// Runs a frame with the checksum flags of a backend: (partial, unknown, keep_partial).
fn run_offload(
    lab: &mut Lab,
    frame: &[u8],
    port: PortId,
    now: Time,
    (partial, unknown, keep): (bool, bool, bool),
) -> (Verdict, Vec<u8>, Option<(u16, u16)>) {
    let mut buf = with_headroom(frame, HEADROOM);
    let mut rx = Rx::new(&mut buf, HEADROOM, frame.len(), port);
    rx.csum_partial = partial;
    rx.csum_unknown = unknown;
    rx.keep_partial = keep;
    let v = lab.dir.process(&mut rx, now);
    let out_csum = rx.out_csum;
    let out = match v {
        Verdict::Forward { start, len, .. } | Verdict::Reply { start, len, .. } => {
            buf[start..start + len].to_vec()
        }
        _ => Vec::new(),
    };
    (v, out, out_csum)
}

/// Completes a partial checksum as the kernel would (for checking a kept-partial frame).
fn complete(frame: &mut [u8]) {
    let meta = rvs_wire::parse_frame(frame).unwrap().ip.unwrap();
    assert!(rvs_wire::rewrite::complete_partial_l4(frame, &meta));
}

#[test]
fn partial_checksums_can_stay_partial_both_ways() {
    let mut lab = Lab::nat_tcp();
    let mut syn = Spec::tcp("203.0.113.2", 40000, "192.0.2.10", 80, TCP_SYN)
        .payload(b"data!")
        .frame();
    make_partial(&mut syn);
    let (_, mut out, csum) = run_offload(&mut lab, &syn, CLIENT_PORT, t(1), (true, false, true));
    assert_eq!(csum, Some((34, 16)), "L4 at 14 + 20, TCP checksum at 16");
    assert!(verify_checksums(&out).is_err(), "left partial");
    complete(&mut out);
    let want = Spec::tcp("203.0.113.2", 40000, "198.51.100.11", 8080, TCP_SYN)
        .payload(b"data!")
        .frame();
    assert_frame(&out, &want, MAC1);
    let mut reply = Spec::tcp(
        "198.51.100.11",
        8080,
        "203.0.113.2",
        40000,
        TCP_SYN | TCP_ACK,
    )
    .frame();
    make_partial(&mut reply);
    let (_, mut out, csum) = run_offload(&mut lab, &reply, SERVER_PORT, t(1), (true, false, true));
    assert_eq!(csum, Some((34, 16)));
    complete(&mut out);
    let want = Spec::tcp("192.0.2.10", 80, "203.0.113.2", 40000, TCP_SYN | TCP_ACK)
        .ttl(63)
        .frame();
    assert_frame(&out, &want, MAC0);
    // A complete checksum leaves complete, with nothing to ask of the kernel.
    let ack = Spec::tcp("203.0.113.2", 40000, "192.0.2.10", 80, TCP_ACK).frame();
    let (_, out, csum) = run_offload(&mut lab, &ack, CLIENT_PORT, t(1), (false, false, true));
    assert_eq!(csum, None);
    verify_checksums(&out).unwrap();
    assert_eq!(
        lab.dir
            .stats()
            .csum_completed
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );
}

#[test]
fn unknown_checksum_state_is_recognised() {
    let mut lab = Lab::new(vec![(
        service(Protocol::Udp, "192.0.2.10", 53, SchedulerKind::Rr),
        vec![real("198.51.100.11", 5353, ForwardMethod::Masq, 1)],
    )]);
    let full = Spec::udp("203.0.113.2", 40000, "192.0.2.10", 53, b"query").frame();
    let mut partial = full.clone();
    make_partial(&mut partial);
    let want = Spec::udp("203.0.113.2", 40000, "198.51.100.11", 5353, b"query").frame();
    // Unknown + complete: rewritten incrementally, valid.
    let (_, out, csum) = run_offload(&mut lab, &full, CLIENT_PORT, t(1), (false, true, false));
    assert_eq!(csum, None);
    assert_frame(&out, &want, MAC1);
    // Unknown + partial: recognised and completed...
    let (_, out, _) = run_offload(&mut lab, &partial, CLIENT_PORT, t(1), (false, true, false));
    assert_frame(&out, &want, MAC1);
    // ... or kept partial when the backend can ask the kernel.
    let (_, mut out, csum) =
        run_offload(&mut lab, &partial, CLIENT_PORT, t(1), (false, true, true));
    assert_eq!(csum, Some((34, 6)));
    complete(&mut out);
    assert_frame(&out, &want, MAC1);
}

/// A complete checksum that happens to equal the pseudo-header sum is taken for a partial
/// one when nobody says which it is: completing it gives the right checksum anyway.
#[test]
fn a_complete_checksum_equal_to_the_pseudo_sum_is_harmless() {
    let mut lab = Lab::new(vec![(
        service(Protocol::Udp, "192.0.2.10", 53, SchedulerKind::Rr),
        vec![real("198.51.100.11", 5353, ForwardMethod::Masq, 1)],
    )]);
    // Find a payload whose complete UDP checksum equals the pseudo-header sum.
    let frame_for = |w: u16| {
        let mut p = b"query!".to_vec();
        p.extend_from_slice(&w.to_be_bytes());
        Spec::udp("203.0.113.2", 40000, "192.0.2.10", 53, &p).frame()
    };
    let pseudo = {
        let f = frame_for(0);
        let mut partial = f.clone();
        make_partial(&mut partial);
        u16::from_be_bytes([partial[40], partial[41]])
    };
    let frame = (0..=u16::MAX)
        .map(frame_for)
        .find(|f| u16::from_be_bytes([f[40], f[41]]) == pseudo)
        .expect("some payload word gives that checksum");
    verify_checksums(&frame).unwrap();
    let (_, mut out, csum) = run_offload(&mut lab, &frame, CLIENT_PORT, t(1), (false, true, true));
    assert_eq!(csum, Some((34, 6)), "taken as partial");
    complete(&mut out);
    verify_checksums(&out).unwrap();
    let (_, out, csum) = run_offload(&mut lab, &frame, CLIENT_PORT, t(1), (false, true, false));
    assert_eq!(csum, None);
    verify_checksums(&out).unwrap();
}

#[test]
fn gso_frames_are_not_tunnelled() {
    let mut lab = Lab::new(vec![(
        service(Protocol::Tcp, "192.0.2.10", 80, SchedulerKind::Rr),
        vec![real("198.51.100.11", 80, ForwardMethod::Tunnel, 1)],
    )]);
    let syn = Spec::tcp("203.0.113.2", 40000, "192.0.2.10", 80, TCP_SYN).frame();
    let mut buf = with_headroom(&syn, HEADROOM);
    let mut rx = Rx::new(&mut buf, HEADROOM, syn.len(), CLIENT_PORT);
    rx.gso = true;
    assert_eq!(
        lab.dir.process(&mut rx, t(1)),
        Verdict::Drop(DropReason::Unsupported)
    );
}

mod offload_props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever the payload and whether the checksum arrives complete or partial,
        /// with its state known or not, kept partial or not: once the kernel has done what
        /// was asked, the forwarded frame's checksums are valid and its bytes are right.
        #[test]
        fn forwarded_checksums_are_valid(
            payload in proptest::collection::vec(any::<u8>(), 0..200),
            sport in 1024u16..65535,
            tcp in any::<bool>(),
            partial in any::<bool>(),
            known in any::<bool>(),
            keep in any::<bool>(),
        ) {
            let proto = if tcp { Protocol::Tcp } else { Protocol::Udp };
            let mut lab = Lab::new(vec![(
                service(proto, "192.0.2.10", 80, SchedulerKind::Rr),
                vec![real("198.51.100.11", 8080, ForwardMethod::Masq, 1)],
            )]);
            let spec = |src: &str, sp: u16, dst: &str, dp: u16| {
                if tcp {
                    Spec::tcp(src, sp, dst, dp, TCP_SYN).payload(&payload)
                } else {
                    Spec::udp(src, sp, dst, dp, &payload)
                }
            };
            let mut frame = spec("203.0.113.2", sport, "192.0.2.10", 80).frame();
            if partial {
                make_partial(&mut frame);
            }
            let flags = (partial && known, !known, keep);
            let (v, mut out, csum) = run_offload(&mut lab, &frame, CLIENT_PORT, t(1), flags);
            let forwarded = matches!(v, Verdict::Forward { .. });
            prop_assert!(forwarded);
            // (A complete checksum that equals the pseudo-header sum may be taken as partial
            // when the state is unknown: harmless, see the next test.)
            if partial && keep {
                prop_assert!(csum.is_some());
            }
            if !keep || (known && !partial) {
                prop_assert!(csum.is_none());
            }
            if csum.is_some() {
                complete(&mut out);
            }
            let want = spec("203.0.113.2", sport, "198.51.100.11", 8080).frame();
            prop_assert_eq!(hex(&out[12..]), hex(&want[12..]));
            prop_assert!(verify_checksums(&out).is_ok());
        }
    }
}

mod prefetch_props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The look-ahead stages read any bytes without panicking (they only hint).
        #[test]
        fn prefetch_takes_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..120), v6 in any::<bool>()) {
            let lab = Lab::nat_tcp();
            let mut f = bytes.clone();
            if f.len() >= 14 {
                f[12..14].copy_from_slice(if v6 { &[0x86, 0xdd] } else { &[0x08, 0x00] });
            }
            for stage in 0..2 {
                lab.dir.prefetch(stage, &f);
            }
        }
    }

    #[test]
    fn prefetch_then_process_is_unchanged() {
        let mut lab = Lab::nat_tcp();
        let syn = Spec::tcp("203.0.113.2", 40000, "192.0.2.10", 80, TCP_SYN).frame();
        lab.run(&syn, CLIENT_PORT, t(1));
        let ack = Spec::tcp("203.0.113.2", 40000, "192.0.2.10", 80, TCP_ACK).frame();
        lab.dir.prefetch(0, &ack);
        lab.dir.prefetch(1, &ack);
        let (_, out) = lab.run(&ack, CLIENT_PORT, t(1));
        let want = Spec::tcp("203.0.113.2", 40000, "198.51.100.11", 8080, TCP_ACK).frame();
        assert_frame(&out, &want, MAC1);
    }
}
