//! Cross-checks against bytes from an independent implementation: the frames below
//! were produced with Scapy 2.8 (its own checksum code), and the RFC 1624 worked
//! example.

// Test helpers outside #[test] functions unwrap too: this whole file is a test.
#![allow(clippy::unwrap_used)]

use std::net::IpAddr;

use rvs_wire::build::{build_frame, Endpoints, L4Spec};
use rvs_wire::checksum;
use rvs_wire::ether::MacAddr;
use rvs_wire::ndp::build_unsolicited_na;
use rvs_wire::rewrite::{set_dst, set_src};
use rvs_wire::{parse_frame, CsumMode};

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// TCP SYN 203.0.113.5:40000 -> 192.0.2.10:80, DF, TTL 64, window 65535, "hello".
const TCP_SYN_TO_VIP: &str = "02000000000102000000000208004500002d0000400040063cbbcb007105c000020a\
9c40005000000001000000005002ffffd169000068656c6c6f";
/// The same after NAT to 198.51.100.2:8080.
const TCP_SYN_TO_RIP: &str = "02000000000102000000000208004500002d000040004006d48fcb007105c6336402\
9c401f9000000001000000005002ffff49fe000068656c6c6f";
/// UDP 2001:db8::1:5000 -> 2001:db8::10:53, hop limit 64, "query".
const UDP6_TO_VIP: &str =
    "02000000000102000000000286dd60000000000d114020010db800000000000000000000\
000120010db800000000000000000000001013880035000d40ac7175657279";
/// The same after NAT to [2001:db8:1::2]:5353.
const UDP6_TO_RIP: &str =
    "02000000000102000000000286dd60000000000d114020010db800000000000000000000\
000120010db8000100000000000000000002138814e9000d2c057175657279";
/// Unsolicited neighbor advertisement of 2001:db8::10 at 02:00:00:00:00:0d (override).
const UNSOLICITED_NA: &str = "33330000000102000000000d86dd6000000000203aff20010db8000000000000000000\
000010ff0200000000000000000000000000018800f9002000000020010db800000000000000000000001002010200000000\
0d";

fn endpoints(src: &str, dst: &str) -> Endpoints {
    Endpoints {
        src_mac: MacAddr([2, 0, 0, 0, 0, 2]),
        dst_mac: MacAddr([2, 0, 0, 0, 0, 1]),
        src: ip(src),
        dst: ip(dst),
        ttl: 64,
    }
}

#[test]
fn rfc1624_example() {
    // RFC 1624 section 4: m 0x5555 -> 0x3285 with the other octets summing to 0xCD7A:
    // HC = 0xDD2F and eqn. 3 gives 0x0000 (eqn. 2 would give the wrong 0xFFFF).
    let hc = !checksum::fold(0xCD7A + 0x5555);
    assert_eq!(hc, 0xDD2F);
    assert_eq!(checksum::update16(hc, 0x5555, 0x3285), 0x0000);
    assert_eq!(checksum::finish(0xCD7A + 0x3285), 0x0000);
}

#[test]
fn tcp_v4_build_and_nat_match_known_bytes() {
    let mut buf = [0u8; 128];
    let syn = L4Spec::Tcp {
        src_port: 40000,
        dst_port: 80,
        flags: 0x02,
        seq: 1,
        ack: 0,
    };
    let n = build_frame(
        &mut buf,
        &endpoints("203.0.113.5", "192.0.2.10"),
        syn,
        b"hello",
    )
    .unwrap();
    let to_vip = hex(TCP_SYN_TO_VIP);
    assert_eq!(&buf[..n], &to_vip[..]);

    let mut frame = to_vip.clone();
    let meta = parse_frame(&frame).unwrap().ip.unwrap();
    set_dst(
        &mut frame,
        &meta,
        ip("198.51.100.2"),
        Some(8080),
        CsumMode::Full,
    )
    .unwrap();
    assert_eq!(frame, hex(TCP_SYN_TO_RIP));
    // And back.
    set_dst(
        &mut frame,
        &meta,
        ip("192.0.2.10"),
        Some(80),
        CsumMode::Full,
    )
    .unwrap();
    assert_eq!(frame, to_vip);
}

#[test]
fn udp_v6_build_and_nat_match_known_bytes() {
    let mut buf = [0u8; 128];
    let udp = L4Spec::Udp {
        src_port: 5000,
        dst_port: 53,
    };
    let n = build_frame(
        &mut buf,
        &endpoints("2001:db8::1", "2001:db8::10"),
        udp,
        b"query",
    )
    .unwrap();
    let to_vip = hex(UDP6_TO_VIP);
    assert_eq!(&buf[..n], &to_vip[..]);

    let mut frame = to_vip.clone();
    let meta = parse_frame(&frame).unwrap().ip.unwrap();
    set_dst(
        &mut frame,
        &meta,
        ip("2001:db8:1::2"),
        Some(5353),
        CsumMode::Full,
    )
    .unwrap();
    assert_eq!(frame, hex(UDP6_TO_RIP));
    // The reply direction's rewrite on a copy swaps roles but keeps checksums right.
    let mut reply = hex(UDP6_TO_RIP);
    let m = parse_frame(&reply).unwrap().ip.unwrap();
    set_src(&mut reply, &m, ip("2001:db8::99"), Some(1), CsumMode::Full).unwrap();
    let m = parse_frame(&reply).unwrap().ip.unwrap();
    let (IpAddr::V6(s), IpAddr::V6(d)) = (m.src, m.dst) else {
        panic!("not IPv6")
    };
    assert!(checksum::transport_v6_ok(
        &s.octets(),
        &d.octets(),
        17,
        &reply[m.l4_offset..m.end]
    ));
}

#[test]
fn unsolicited_na_matches_known_bytes() {
    let mut out = [0u8; 86];
    let n = build_unsolicited_na(
        &mut out,
        MacAddr([2, 0, 0, 0, 0, 0x0d]),
        "2001:db8::10".parse().unwrap(),
    );
    assert_eq!(&out[..n], &hex(UNSOLICITED_NA)[..]);
}
