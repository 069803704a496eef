//! Property tests across the crate: parsers never panic, incremental checksum
//! updates equal full recomputation, encapsulation round-trips, built ICMP errors
//! carry valid checksums.

// Test helpers outside #[test] functions unwrap too: this whole file is a test.
#![allow(clippy::unwrap_used)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;
use rvs_wire::arp::parse_arp;
use rvs_wire::build::{build_frame, Endpoints, L4Spec};
use rvs_wire::checksum;
use rvs_wire::encap::{
    decap_inner, encap_frame, icmp_frag_needed_v4, icmpv6_packet_too_big, Outer, OuterV4, OuterV6,
};
use rvs_wire::ether::MacAddr;
use rvs_wire::icmp::{is_icmp_error, parse_icmp_inner};
use rvs_wire::ndp::parse_neighbor_solicitation;
use rvs_wire::rewrite::{
    complete_partial_l4, decrement_ttl, l4_checksum_state, rewrite_icmp_inner, set_dst, set_src,
    L4ChecksumState,
};
use rvs_wire::{parse_frame, parse_ip, CsumMode, EncapError, IpMeta, IpVersion, L4Meta};

const MAC_A: MacAddr = MacAddr([2, 0, 0, 0, 0, 0xA]);
const MAC_B: MacAddr = MacAddr([2, 0, 0, 0, 0, 0xB]);

/// Three addresses of one family: source, destination, and a rewrite target.
fn three_addrs() -> impl Strategy<Value = (IpAddr, IpAddr, IpAddr)> {
    prop_oneof![
        any::<([u8; 4], [u8; 4], [u8; 4])>().prop_map(|(a, b, c)| (
            IpAddr::V4(Ipv4Addr::from(a)),
            IpAddr::V4(Ipv4Addr::from(b)),
            IpAddr::V4(Ipv4Addr::from(c)),
        )),
        any::<([u8; 16], [u8; 16], [u8; 16])>().prop_map(|(a, b, c)| (
            IpAddr::V6(Ipv6Addr::from(a)),
            IpAddr::V6(Ipv6Addr::from(b)),
            IpAddr::V6(Ipv6Addr::from(c)),
        )),
    ]
}

/// A transport header that fits the family: TCP, UDP, and ICMP or ICMPv6.
fn l4_for(v6: bool) -> BoxedStrategy<L4Spec> {
    let tcp = any::<(u16, u16, u8, u32, u32)>().prop_map(|(s, d, f, seq, ack)| L4Spec::Tcp {
        src_port: s,
        dst_port: d,
        flags: f,
        seq,
        ack,
    });
    let udp = any::<(u16, u16)>().prop_map(|(s, d)| L4Spec::Udp {
        src_port: s,
        dst_port: d,
    });
    let icmp = any::<(u8, u8, [u8; 4])>().prop_map(move |(t, c, rest)| {
        if v6 {
            L4Spec::Icmpv6 {
                icmp_type: t,
                code: c,
                rest,
            }
        } else {
            L4Spec::Icmp {
                icmp_type: t,
                code: c,
                rest,
            }
        }
    });
    prop_oneof![tcp, udp, icmp].boxed()
}

#[derive(Clone, Debug)]
struct Case {
    src: IpAddr,
    dst: IpAddr,
    new_addr: IpAddr,
    l4: L4Spec,
    payload: Vec<u8>,
    new_port: u16,
    rewrite_dst: bool,
    with_port: bool,
}

fn case() -> impl Strategy<Value = Case> {
    three_addrs().prop_flat_map(|(src, dst, new_addr)| {
        (
            l4_for(src.is_ipv6()),
            proptest::collection::vec(any::<u8>(), 0..200),
            any::<u16>(),
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(
                move |(l4, payload, new_port, rewrite_dst, with_port)| Case {
                    src,
                    dst,
                    new_addr,
                    l4,
                    payload,
                    new_port,
                    rewrite_dst,
                    with_port,
                },
            )
    })
}

fn has_ports(l4: &L4Spec) -> bool {
    matches!(l4, L4Spec::Tcp { .. } | L4Spec::Udp { .. })
}

fn build(src: IpAddr, dst: IpAddr, l4: L4Spec, payload: &[u8]) -> Vec<u8> {
    let mut buf = vec![0u8; 14 + 40 + 20 + payload.len()];
    let ends = Endpoints {
        src_mac: MAC_A,
        dst_mac: MAC_B,
        src,
        dst,
        ttl: 64,
    };
    let n = build_frame(&mut buf, &ends, l4, payload).unwrap();
    buf.truncate(n);
    buf
}

/// The frame a case should turn into: built from scratch with the new endpoint.
fn expected_after(c: &Case) -> Vec<u8> {
    let port = (c.with_port && has_ports(&c.l4)).then_some(c.new_port);
    let mut l4 = c.l4;
    if let (
        Some(p),
        L4Spec::Tcp {
            src_port, dst_port, ..
        }
        | L4Spec::Udp { src_port, dst_port },
    ) = (port, &mut l4)
    {
        if c.rewrite_dst {
            *dst_port = p;
        } else {
            *src_port = p;
        }
    }
    if c.rewrite_dst {
        build(c.src, c.new_addr, l4, &c.payload)
    } else {
        build(c.new_addr, c.dst, l4, &c.payload)
    }
}

fn apply(frame: &mut [u8], meta: &IpMeta, c: &Case, mode: CsumMode) {
    let port = (c.with_port && has_ports(&c.l4)).then_some(c.new_port);
    let r = if c.rewrite_dst {
        set_dst(frame, meta, c.new_addr, port, mode)
    } else {
        set_src(frame, meta, c.new_addr, port, mode)
    };
    r.unwrap();
}

fn pseudo_field(frame: &[u8], meta: &IpMeta) -> u16 {
    let seg_len = meta.l4_len();
    let acc = match (meta.src, meta.dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            checksum::pseudo_v4(s.octets(), d.octets(), meta.proto, seg_len as u16)
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            checksum::pseudo_v6(&s.octets(), &d.octets(), meta.proto, seg_len as u32)
        }
        _ => unreachable!(),
    };
    let _ = frame;
    checksum::fold(acc)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parse_frame_never_panics_on_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = parse_frame(&bytes);
        let _ = parse_ip(&bytes, 0);
        let _ = decap_inner(&bytes);
        let _ = parse_arp(&bytes, 14);
    }

    #[test]
    fn parsers_never_panic_on_prefixes_and_mutations(
        c in case(),
        cut in any::<prop::sample::Index>(),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..6),
    ) {
        let frame = build(c.src, c.dst, c.l4, &c.payload);
        // Every prefix of a valid frame parses or fails cleanly.
        for len in 0..=frame.len() {
            let _ = parse_frame(&frame[..len]);
        }
        // Random byte changes, then every consumer of the metadata.
        let mut bad = frame.clone();
        for (at, v) in &flips {
            let i = at.index(bad.len());
            bad[i] = *v;
        }
        let bad = &bad[..cut.index(bad.len() + 1)];
        if let Ok(f) = parse_frame(bad) {
            if let Some(meta) = f.ip {
                let _ = parse_icmp_inner(bad, &meta);
                let _ = parse_neighbor_solicitation(bad, &meta);
                let _ = l4_checksum_state(bad, &meta);
                let mut copy = bad.to_vec();
                let _ = set_dst(&mut copy, &meta, c.new_addr, Some(1), CsumMode::Full);
                let _ = set_src(&mut copy, &meta, c.new_addr, None, CsumMode::Partial);
                let _ = decrement_ttl(&mut copy, &meta);
                let _ = complete_partial_l4(&mut copy, &meta);
                if let Ok(inner) = parse_icmp_inner(bad, &meta) {
                    let _ = rewrite_icmp_inner(&mut copy, &meta, &inner, Some((c.new_addr, 1)), Some((c.new_addr, 2)));
                }
                let mut grown = bad.to_vec();
                grown.resize(bad.len() + 64, 0);
                let _ = icmp_frag_needed_v4(&mut grown, bad.len(), &meta, Ipv4Addr::LOCALHOST, 1400);
                let _ = icmpv6_packet_too_big(&mut grown, bad.len(), &meta, Ipv6Addr::LOCALHOST, 1280);
            }
        }
    }

    #[test]
    fn stale_metadata_on_a_shorter_frame_is_an_error_not_a_panic(c in case(), cut in any::<prop::sample::Index>()) {
        let frame = build(c.src, c.dst, c.l4, &c.payload);
        let meta = parse_frame(&frame).unwrap().ip.unwrap();
        let mut short = frame[..cut.index(frame.len())].to_vec();
        prop_assert!(set_dst(&mut short, &meta, c.new_addr, None, CsumMode::Full).is_err());
        prop_assert!(!complete_partial_l4(&mut short, &meta));
        prop_assert_eq!(l4_checksum_state(&short, &meta), L4ChecksumState::Unknown);
    }

    #[test]
    fn incremental_full_equals_recompute(c in case()) {
        let mut frame = build(c.src, c.dst, c.l4, &c.payload);
        let meta = parse_frame(&frame).unwrap().ip.unwrap();
        apply(&mut frame, &meta, &c, CsumMode::Full);
        prop_assert_eq!(frame, expected_after(&c));
    }

    #[test]
    fn both_ends_rewritten_in_turn_equal_recompute(c in case(), port2 in any::<u16>(), addr2 in any::<[u8; 16]>()) {
        // NAT inbound then the reply direction's rewrite on the same frame and metadata.
        let mut frame = build(c.src, c.dst, c.l4, &c.payload);
        let meta = parse_frame(&frame).unwrap().ip.unwrap();
        let other = match c.src {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::new(addr2[0], addr2[1], addr2[2], addr2[3])),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::from(addr2)),
        };
        let ports = has_ports(&c.l4);
        set_dst(&mut frame, &meta, c.new_addr, ports.then_some(c.new_port), CsumMode::Full).unwrap();
        set_src(&mut frame, &meta, other, ports.then_some(port2), CsumMode::Full).unwrap();
        let mut l4 = c.l4;
        if let L4Spec::Tcp { src_port, dst_port, .. } | L4Spec::Udp { src_port, dst_port } = &mut l4 {
            *dst_port = c.new_port;
            *src_port = port2;
        }
        prop_assert_eq!(frame, build(other, c.new_addr, l4, &c.payload));
    }

    #[test]
    fn partial_rewrite_then_complete_equals_recompute(c in case()) {
        prop_assume!(!matches!(c.l4, L4Spec::Icmp { .. })); // ICMPv4 has no pseudo-header
        let mut frame = build(c.src, c.dst, c.l4, &c.payload);
        let meta = parse_frame(&frame).unwrap().ip.unwrap();
        let field_at = meta.l4_checksum_offset().unwrap();
        let partial = pseudo_field(&frame, &meta);
        frame[field_at..field_at + 2].copy_from_slice(&partial.to_be_bytes());
        prop_assert_eq!(l4_checksum_state(&frame, &meta), L4ChecksumState::Partial);

        apply(&mut frame, &meta, &c, CsumMode::Partial);
        // The partial field follows the address exactly.
        let after = parse_frame(&frame).unwrap().ip.unwrap();
        let field = u16::from_be_bytes([frame[field_at], frame[field_at + 1]]);
        prop_assert_eq!(field, pseudo_field(&frame, &after));

        prop_assert!(complete_partial_l4(&mut frame, &after));
        let expected = expected_after(&c);
        let got = u16::from_be_bytes([frame[field_at], frame[field_at + 1]]);
        let want = u16::from_be_bytes([expected[field_at], expected[field_at + 1]]);
        // Completion stores a computed 0 as 0xFFFF for every protocol (both verify).
        prop_assert!(got == want || (want == 0 && got == 0xFFFF), "got {got:#x} want {want:#x}");
        frame[field_at..field_at + 2].copy_from_slice(&want.to_be_bytes());
        prop_assert_eq!(frame, expected);
    }

    #[test]
    fn udp_zero_checksum_stays_zero_on_ipv4(
        addrs in any::<([u8; 4], [u8; 4], [u8; 4])>(),
        ports in any::<(u16, u16, u16)>(),
        payload in proptest::collection::vec(any::<u8>(), 0..64),
        dst_side in any::<bool>(),
    ) {
        let (s, d, n) = (IpAddr::from(addrs.0), IpAddr::from(addrs.1), IpAddr::from(addrs.2));
        let l4 = L4Spec::Udp { src_port: ports.0, dst_port: ports.1 };
        let mut frame = build(s, d, l4, &payload);
        let meta = parse_frame(&frame).unwrap().ip.unwrap();
        let at = meta.l4_checksum_offset().unwrap();
        frame[at..at + 2].copy_from_slice(&[0, 0]);
        for mode in [CsumMode::Full, CsumMode::Partial] {
            let mut f = frame.clone();
            if dst_side {
                set_dst(&mut f, &meta, n, Some(ports.2), mode).unwrap();
            } else {
                set_src(&mut f, &meta, n, Some(ports.2), mode).unwrap();
            }
            prop_assert_eq!(&f[at..at + 2], &[0, 0]);
            prop_assert!(checksum::ipv4_header_ok(&f[14..34]));
        }
    }

    #[test]
    fn ttl_decrement_keeps_header_valid(c in case(), ttl in 0u8..=255) {
        let mut frame = build(c.src, c.dst, c.l4, &c.payload);
        let meta = parse_frame(&frame).unwrap().ip.unwrap();
        let (ttl_at, v4) = match meta.version { IpVersion::V4 => (22, true), IpVersion::V6 => (21, false) };
        frame[ttl_at] = ttl;
        if v4 {
            let h = checksum::ipv4_header(&frame[14..34]);
            frame[24..26].copy_from_slice(&h.to_be_bytes());
        }
        let before = frame.clone();
        let ok = decrement_ttl(&mut frame, &meta);
        prop_assert_eq!(ok, ttl > 1);
        if ok {
            prop_assert_eq!(frame[ttl_at], ttl - 1);
        } else {
            prop_assert_eq!(&frame, &before);
        }
        if v4 {
            prop_assert!(checksum::ipv4_header_ok(&frame[14..34]));
            let h = checksum::ipv4_header(&frame[14..34]);
            prop_assert_eq!(&frame[24..26], &h.to_be_bytes());
        }
    }

    #[test]
    fn encap_then_decap_returns_the_original(
        c in case(),
        outer_v6 in any::<bool>(),
        extra_headroom in 0usize..16,
        outer_addrs in any::<([u8; 16], [u8; 16])>(),
        id in any::<u16>(),
    ) {
        let frame = build(c.src, c.dst, c.l4, &c.payload);
        let headroom = 40 + extra_headroom;
        let mut buf = vec![0u8; headroom + frame.len()];
        buf[headroom..].copy_from_slice(&frame);
        let meta = parse_frame(&frame).unwrap().ip.unwrap();
        let outer = if outer_v6 {
            Outer::V6(OuterV6::for_inner(&meta, Ipv6Addr::from(outer_addrs.0), Ipv6Addr::from(outer_addrs.1)))
        } else {
            let a: [u8; 4] = outer_addrs.0[..4].try_into().unwrap();
            let b: [u8; 4] = outer_addrs.1[..4].try_into().unwrap();
            Outer::V4(OuterV4::for_inner(&meta, a.into(), b.into(), id))
        };
        let (start, len) = encap_frame(&mut buf, headroom, &meta, outer).unwrap();
        let out = &buf[start..start + len];
        prop_assert_eq!(&out[..12], &frame[..12]);
        let outer_meta = parse_frame(out).unwrap().ip.unwrap();
        prop_assert_eq!(outer_meta.end, len);
        if !outer_v6 {
            prop_assert!(checksum::ipv4_header_ok(&out[14..34]));
            prop_assert_eq!(outer_meta.tos, meta.tos);
        }
        let (s, e) = decap_inner(&out[14..]).unwrap();
        prop_assert_eq!(&out[14 + s..14 + e], &frame[14..]);
    }

    #[test]
    fn built_icmp_errors_have_valid_checksums(
        c in case(),
        big in proptest::collection::vec(any::<u8>(), 0..1500),
        mtu in 68u16..9000,
        slack in 0usize..64,
    ) {
        let mut payload = c.payload.clone();
        payload.extend_from_slice(&big);
        let frame = build(c.src, c.dst, c.l4, &payload);
        let meta = parse_frame(&frame).unwrap().ip.unwrap();
        let mut buf = frame.clone();
        buf.resize(frame.len() + slack, 0);
        let result = match meta.src {
            IpAddr::V4(_) => icmp_frag_needed_v4(&mut buf, frame.len(), &meta, Ipv4Addr::new(192, 0, 2, 1), mtu),
            IpAddr::V6(_) => icmpv6_packet_too_big(&mut buf, frame.len(), &meta, "2001:db8::1".parse().unwrap(), u32::from(mtu)),
        };
        let src_ok = match meta.src {
            IpAddr::V4(a) => !(a.is_unspecified() || a.is_broadcast() || a.is_multicast()),
            IpAddr::V6(a) => !(a.is_unspecified() || a.is_multicast()),
        };
        let about_error = match meta.l4 {
            Some(L4Meta::Icmp { icmp_type, .. }) => matches!(icmp_type, 3 | 4 | 5 | 11 | 12),
            Some(L4Meta::Icmpv6 { icmp_type, .. }) => icmp_type < 128,
            _ => false,
        };
        match result {
            Ok(len) => {
                prop_assert!(src_ok && !about_error);
                let limit = if meta.version == IpVersion::V4 { 576 } else { 1280 };
                prop_assert!(len <= 14 + limit);
                let out = &buf[..len];
                let m = parse_frame(out).unwrap().ip.unwrap();
                prop_assert!(is_icmp_error(&m));
                prop_assert_eq!(m.dst, meta.src);
                prop_assert_eq!(l4_checksum_state(out, &m), L4ChecksumState::Valid);
                if m.version == IpVersion::V4 {
                    prop_assert!(checksum::ipv4_header_ok(&out[14..34]));
                }
                let inner = parse_icmp_inner(out, &m).unwrap();
                prop_assert_eq!(inner.ports, meta.ports());
                let quoted = len - (inner.l3_offset);
                prop_assert_eq!(&out[inner.l3_offset..], &frame[14..14 + quoted]);
            }
            Err(e) => {
                let new_headers = if meta.version == IpVersion::V4 { 28 } else { 48 };
                let needed = (meta.l4_offset - 14 + 8).min(meta.end - 14);
                let room_short = buf.len() - 14 - new_headers < needed;
                prop_assert!(
                    !src_ok || about_error || (e == EncapError::NoRoom && room_short),
                    "unexpected {e:?}"
                );
                prop_assert_eq!(&buf[..frame.len()], &frame[..]);
            }
        }
    }

    #[test]
    fn icmp_error_inner_nat_matches_a_whole_rewrite(
        addrs in three_addrs(),
        udp in any::<bool>(),
        ports in any::<(u16, u16, u16)>(),
        payload in proptest::collection::vec(any::<u8>(), 0..100),
        quote_extra in any::<prop::sample::Index>(),
        reporter in any::<[u8; 16]>(),
        rewrite_dst in any::<bool>(),
    ) {
        let (s, d, n) = addrs;
        let l4 = if udp {
            L4Spec::Udp { src_port: ports.0, dst_port: ports.1 }
        } else {
            L4Spec::Tcp { src_port: ports.0, dst_port: ports.1, flags: 0x18, seq: 1, ack: 2 }
        };
        let inner_frame = build(s, d, l4, &payload);
        let inner_meta = parse_frame(&inner_frame).unwrap().ip.unwrap();
        let inner_ip = &inner_frame[14..];
        let min_quote = inner_meta.l4_offset - 14 + 8;
        let quote = min_quote + quote_extra.index(inner_ip.len() - min_quote + 1);
        // Half a quoted TCP checksum cannot be updated (the carry needs both bytes).
        prop_assume!(udp || quote != inner_meta.l4_offset - 14 + 17);
        let quoted = &inner_ip[..quote];
        let (err_src, err_spec) = match s {
            IpAddr::V4(_) => (
                IpAddr::V4(Ipv4Addr::new(reporter[0], reporter[1], reporter[2], reporter[3])),
                L4Spec::Icmp { icmp_type: 3, code: 4, rest: [0, 0, 5, 0] },
            ),
            IpAddr::V6(_) => (
                IpAddr::V6(Ipv6Addr::from(reporter)),
                L4Spec::Icmpv6 { icmp_type: 2, code: 0, rest: [0, 0, 5, 0] },
            ),
        };
        let mut err = build(err_src, s, err_spec, quoted);
        let outer = parse_frame(&err).unwrap().ip.unwrap();
        let inner = parse_icmp_inner(&err, &outer).unwrap();
        prop_assert_eq!(inner.ports, Some((ports.0, ports.1)));
        let change = Some((n, ports.2));
        if rewrite_dst {
            rewrite_icmp_inner(&mut err, &outer, &inner, None, change).unwrap();
        } else {
            rewrite_icmp_inner(&mut err, &outer, &inner, change, None).unwrap();
        }
        // The quoted bytes equal the start of the whole packet rewritten normally.
        let mut whole = inner_frame.clone();
        if rewrite_dst {
            set_dst(&mut whole, &inner_meta, n, Some(ports.2), CsumMode::Full).unwrap();
        } else {
            set_src(&mut whole, &inner_meta, n, Some(ports.2), CsumMode::Full).unwrap();
        }
        prop_assert_eq!(&err[inner.l3_offset..], &whole[14..14 + quote]);
        prop_assert_eq!(l4_checksum_state(&err, &outer), L4ChecksumState::Valid);
    }

    #[test]
    fn sum_is_split_invariant_and_matches_reference(
        data in proptest::collection::vec(any::<u8>(), 0..300),
        split in any::<prop::sample::Index>(),
        acc in any::<u32>(),
    ) {
        let mut reference: u32 = checksum::fold(acc).into();
        for pair in data.chunks(2) {
            let w = (u32::from(pair[0]) << 8) | u32::from(pair.get(1).copied().unwrap_or(0));
            reference += w;
            reference = (reference & 0xFFFF) + (reference >> 16);
        }
        let whole = checksum::sum(&data, acc);
        prop_assert_eq!(checksum::fold(whole), checksum::fold(reference));
        let at = split.index(data.len() + 1) & !1;
        let chained = checksum::sum(&data[at..], checksum::sum(&data[..at], acc));
        prop_assert_eq!(checksum::fold(chained), checksum::fold(whole));
    }

    #[test]
    fn update_bytes_equals_recompute(
        data in proptest::collection::vec(any::<u8>(), 32..64),
        at in 0usize..8,
        new in any::<[u8; 16]>(),
        wide in any::<bool>(),
    ) {
        // Data that does not sum to zero, as any real header does not.
        prop_assume!(data.iter().any(|&b| b != 0));
        let len = if wide { 16 } else { 4 };
        let at = at * 2;
        let c0 = checksum::finish(checksum::sum(&data, 0));
        let c1 = checksum::update_bytes(c0, &data[at..at + len], &new[..len]);
        let mut changed = data.clone();
        changed[at..at + len].copy_from_slice(&new[..len]);
        prop_assume!(changed.iter().any(|&b| b != 0));
        prop_assert_eq!(c1, checksum::finish(checksum::sum(&changed, 0)));
        // update32 and update16 agree with it for 4-byte changes.
        if !wide {
            let old32 = u32::from_be_bytes(data[at..at + 4].try_into().unwrap());
            let new32 = u32::from_be_bytes(new[..4].try_into().unwrap());
            prop_assert_eq!(checksum::update32(c0, old32, new32), c1);
        }
    }
}
