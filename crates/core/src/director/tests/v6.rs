//! IPv6 counterparts: NAT UDP byte-exact both ways, direct routing, ICMPv6 errors
//! rewritten inside and out, packet too big for the tunnel, neighbour solicitations
//! and echo requests for a VIP.

use super::*;

fn v6_lab(proto: Protocol, port: u16, method: ForwardMethod) -> Lab {
    Lab::new(vec![(
        service(proto, "2001:db8::10", port, SchedulerKind::Rr),
        vec![real(
            "2001:db8:5::11",
            if method == ForwardMethod::Masq {
                5353
            } else {
                port
            },
            method,
            1,
        )],
    )])
}

#[test]
fn nat_udp_v6_both_directions_byte_exact() {
    let mut lab = v6_lab(Protocol::Udp, 53, ForwardMethod::Masq);
    let q = Spec::udp("2001:db8:c::2", 33333, "2001:db8::10", 53, b"query").frame();
    let (v, out) = lab.run(&q, CLIENT_PORT, t(1));
    assert_eq!(forward_target(v), (SERVER_PORT, ip("2001:db8:5::11")));
    assert_frame(
        &out,
        &Spec::udp("2001:db8:c::2", 33333, "2001:db8:5::11", 5353, b"query").frame(),
        MAC1,
    );
    let a = Spec::udp("2001:db8:5::11", 5353, "2001:db8:c::2", 33333, b"answer").frame();
    let (v, out) = lab.run(&a, SERVER_PORT, t(1));
    assert_eq!(forward_target(v), (CLIENT_PORT, ip("2001:db8:c::2")));
    let want = Spec::udp("2001:db8::10", 53, "2001:db8:c::2", 33333, b"answer")
        .ttl(63)
        .frame();
    assert_frame(&out, &want, MAC0);
}

#[test]
fn direct_routing_v6_changes_only_the_mac() {
    let mut lab = v6_lab(Protocol::Tcp, 80, ForwardMethod::Route);
    let syn = Spec::tcp("2001:db8:c::2", 40000, "2001:db8::10", 80, TCP_SYN).frame();
    let (v, out) = lab.run(&syn, CLIENT_PORT, t(1));
    assert_eq!(forward_target(v), (SERVER_PORT, ip("2001:db8:5::11")));
    assert_frame(&out, &syn, MAC1);
}

#[test]
fn icmpv6_packet_too_big_reaches_the_real_server_rewritten() {
    let mut lab = v6_lab(Protocol::Tcp, 80, ForwardMethod::Masq);
    lab.run(
        &Spec::tcp("2001:db8:c::2", 40000, "2001:db8::10", 80, TCP_SYN).frame(),
        CLIENT_PORT,
        t(1),
    );
    // A router on the client's side: "packet too big" about VIP -> client.
    let offending = Spec::tcp("2001:db8::10", 80, "2001:db8:c::2", 40000, TCP_ACK)
        .payload(&[9; 64])
        .ip_packet();
    let err = Spec::new(
        "2001:db8:c::fe",
        "2001:db8::10",
        L4::Icmp {
            icmp_type: 2,
            code: 0,
            rest: 1280u32.to_be_bytes(),
            body: offending[..80].to_vec(),
        },
    )
    .frame();
    let (v, out) = lab.run(&err, CLIENT_PORT, t(2));
    assert_eq!(forward_target(v), (SERVER_PORT, ip("2001:db8:5::11")));
    verify_checksums(&out).unwrap();
    let o = &out[14..];
    assert_eq!(
        &o[24..40],
        &ip_bytes("2001:db8:5::11")[..],
        "outer destination: the real server"
    );
    let inner = &o[48..];
    assert_eq!(
        &inner[8..24],
        &ip_bytes("2001:db8:5::11")[..],
        "inner source: the real server"
    );
    assert_eq!(
        u16::from_be_bytes([inner[40], inner[41]]),
        5353,
        "inner source port"
    );
}

#[test]
fn tunnel_v6_too_big_answers_packet_too_big() {
    let mut lab = v6_lab(Protocol::Tcp, 80, ForwardMethod::Tunnel);
    lab.run(
        &Spec::tcp("2001:db8:c::2", 40000, "2001:db8::10", 80, TCP_SYN).frame(),
        CLIENT_PORT,
        t(1),
    );
    let big = Spec::tcp("2001:db8:c::2", 40000, "2001:db8::10", 80, TCP_ACK)
        .payload(&[7u8; 1420])
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
    assert_eq!(o[6], 58, "ICMPv6");
    assert_eq!(o[40], 2, "packet too big");
    assert_eq!(u32::from_be_bytes([o[44], o[45], o[46], o[47]]), 1500 - 40);
    assert!(out.len() <= 14 + 1280);
}

#[test]
fn neighbour_solicitation_and_echo_for_a_vip6() {
    let mut lab = v6_lab(Protocol::Tcp, 80, ForwardMethod::Masq);
    // NS for 2001:db8::10 from the client, to the solicited-node group, with its MAC.
    let mut body = ip_bytes("2001:db8::10");
    body.extend([1, 1]);
    body.extend(crate::testkit::CLIENT_MAC);
    let mut ns = Spec::new(
        "2001:db8:c::2",
        "ff02::1:ff00:10",
        L4::Icmp {
            icmp_type: 135,
            code: 0,
            rest: [0; 4],
            body,
        },
    )
    .ttl(255);
    ns.dst_mac = [0x33, 0x33, 0xff, 0, 0, 0x10];
    let (v, out) = lab.run(&ns.frame(), CLIENT_PORT, t(1));
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
    assert_eq!(o[40], 136, "neighbour advertisement");
    assert_eq!(&o[48..64], &ip_bytes("2001:db8::10")[..], "target");
    assert_eq!(&out[..6], &crate::testkit::CLIENT_MAC, "to the asker");

    let ping = Spec::new(
        "2001:db8:c::2",
        "2001:db8::10",
        L4::Icmp {
            icmp_type: 128,
            code: 0,
            rest: [0, 7, 0, 1],
            body: b"hello".to_vec(),
        },
    )
    .frame();
    let (v, out) = lab.run(&ping, CLIENT_PORT, t(1));
    assert!(matches!(v, Verdict::Reply { .. }), "{v:?}");
    verify_checksums(&out).unwrap();
    assert_eq!(out[14 + 40], 129, "echo reply");
    assert_eq!(&out[14 + 8..14 + 24], &ip_bytes("2001:db8::10")[..]);
}
