//! The sync message codec against hand-assembled kernel layouts, and properties:
//! build -> parse round trips, the builder's size limit, never panicking on random
//! bytes or mutations of valid messages.

// Test helpers outside #[test] functions build fixed, known-good values.
#![allow(clippy::unwrap_used)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use proptest::prelude::*;
use rvs_sync::message::{flags, states, IPPROTO_TCP, IPPROTO_UDP};
use rvs_sync::receiver::Incoming;
use rvs_sync::{
    fuzz_parse, parse_message, sync_maxlen, MessageBuilder, PeData, Receiver, ResyncRequest,
    SeqAdjust, SeqOptions, SyncConn, SyncError, SyncKey,
};

fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(a, b, c, d))
}

fn tcp_conn() -> SyncConn {
    SyncConn {
        protocol: IPPROTO_TCP,
        flags: flags::TUNNEL,
        state: states::TCP_ESTABLISHED,
        caddr: v4(203, 0, 113, 5),
        cport: 50000,
        vaddr: v4(192, 0, 2, 10),
        vport: 80,
        daddr: v4(198, 51, 100, 11),
        dport: 80,
        fwmark: 0,
        timeout: 900,
        seq: None,
        pe: None,
    }
}

fn build(conns: &[SyncConn], syncid: u8, maxlen: usize) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    let mut b = MessageBuilder::new(syncid, maxlen);
    for c in conns {
        b.push(Duration::ZERO, c, &mut |m| out.push(m.to_vec()))
            .unwrap();
    }
    b.flush(&mut |m| out.push(m.to_vec()));
    out
}

/// One IPv4 TCP connection, laid out field by field as `struct ip_vs_sync_mesg` and
/// `struct ip_vs_sync_v4` in ip_vs_sync.c.
#[test]
fn ipv4_message_matches_the_kernel_layout() {
    let expected: Vec<u8> = [
        &[0u8, 5, 0, 44, 1, 1, 0, 0][..], // reserved, syncid, size, nr_conns, version, spare
        &[0, IPPROTO_TCP, 0, 36],         // type v4, protocol, ver_size (version 0, 36 bytes)
        &[0, 0, 0, 2],                    // flags: IP_VS_CONN_F_TUNNEL
        &[0, 1],                          // state: ESTABLISHED
        &[0xC3, 0x50, 0, 80, 0, 80],      // cport 50000, vport 80, dport 80
        &[0, 0, 0, 0],                    // fwmark
        &[0, 0, 0x03, 0x84],              // timeout 900 s
        &[203, 0, 113, 5, 192, 0, 2, 10, 198, 51, 100, 11],
    ]
    .concat();
    let mut conn = tcp_conn();
    // The sender never sends HASHED.
    conn.flags |= flags::HASHED;
    let out = build(&[conn.clone()], 5, 1472);
    assert_eq!(out, vec![expected.clone()]);
    let msg = parse_message(&expected).unwrap();
    assert_eq!(msg.syncid, 5);
    conn.flags &= !flags::HASHED;
    assert_eq!(msg.conns, vec![conn]);
}

/// Options and the 4-byte alignment of the second entry.
#[test]
fn options_and_padding() {
    let mut first = tcp_conn();
    first.flags |= flags::IN_SEQ;
    first.seq = Some(SeqOptions {
        in_seq: SeqAdjust {
            init_seq: 0x0102_0304,
            delta: 5,
            previous_delta: 6,
        },
        out_seq: SeqAdjust::default(),
    });
    first.pe = Some(PeData {
        name: b"sip".to_vec(),
        data: b"abc".to_vec(),
    });
    let second = SyncConn {
        protocol: IPPROTO_UDP,
        state: 0,
        caddr: IpAddr::V6("2001:db8:1::5".parse().unwrap()),
        vaddr: IpAddr::V6("2001:db8:2::10".parse().unwrap()),
        daddr: IpAddr::V6("2001:db8:3::11".parse().unwrap()),
        ..tcp_conn()
    };
    let out = build(&[first.clone(), second.clone()], 1, 1472);
    assert_eq!(out.len(), 1);
    let m = &out[0];
    // First entry: 36 + (2 + 24) + (2 + 3) + (2 + 3) = 72 bytes, from offset 8.
    assert_eq!(&m[10..12], &[0, 72]);
    assert_eq!(m[8 + 36], 1); // IPVS_OPT_SEQ_DATA
    assert_eq!(m[8 + 37], 24);
    assert_eq!(&m[8 + 38..8 + 42], &[1, 2, 3, 4]);
    assert_eq!(&m[8 + 62..8 + 67], &[2, 3, b'a', b'b', b'c']); // IPVS_OPT_PE_DATA
    assert_eq!(&m[8 + 67..8 + 72], &[3, 3, b's', b'i', b'p']); // IPVS_OPT_PE_NAME
                                                               // 80 is aligned: the IPv6 entry starts right there, type STYPE_F_INET6.
    assert_eq!(m[80], 1);
    assert_eq!(m.len(), 80 + 72);
    let msg = parse_message(m).unwrap();
    assert_eq!(msg.conns, vec![first.clone(), second]);

    // An odd-sized first entry is followed by zero padding.
    let mut odd = tcp_conn();
    odd.pe = Some(PeData {
        name: b"sip".to_vec(),
        data: b"ab".to_vec(),
    });
    let out = build(&[odd.clone(), tcp_conn()], 1, 1472);
    let m = &out[0];
    let first_len = 36 + 4 + 5; // 45
    assert_eq!(&m[8 + first_len..8 + first_len + 3], &[0, 0, 0]);
    assert_eq!(m.len(), 8 + 48 + 36);
    assert_eq!(parse_message(m).unwrap().conns, vec![odd, tcp_conn()]);
}

#[test]
fn strict_structure() {
    let good = build(&[tcp_conn(), tcp_conn()], 1, 1472).remove(0);
    assert_eq!(
        parse_message(&good[..3]),
        Err(SyncError::Truncated { len: 3 })
    );
    assert!(matches!(
        parse_message(&good[..good.len() - 1]),
        Err(SyncError::SizeMismatch { .. })
    ));
    let mut bad = good.clone();
    bad[5] = 0; // version 0
    assert_eq!(parse_message(&bad), Err(SyncError::UnsupportedVersion));
    let mut bad = good.clone();
    bad[4] = 3; // three entries announced, two present
    assert_eq!(
        parse_message(&bad),
        Err(SyncError::ConnTruncated { index: 2 })
    );
    let mut bad = good.clone();
    bad[4] = 1; // one announced: the second is trailing garbage
    assert_eq!(
        parse_message(&bad),
        Err(SyncError::TrailingBytes { extra: 36 })
    );
    let mut bad = good.clone();
    bad[10] = 0x10; // entry version 1
    assert_eq!(
        parse_message(&bad),
        Err(SyncError::ConnVersion { index: 0 })
    );
    let mut bad = good.clone();
    bad[8] = 2; // unknown type
    assert_eq!(parse_message(&bad), Err(SyncError::ConnType { index: 0 }));
    let mut bad = good.clone();
    bad[11] = 30; // size below the fixed part
    assert!(parse_message(&bad).is_err());
}

#[test]
fn unknown_options() {
    // Entry with an extra optional (F_PARAM) option and one with a mandatory unknown.
    let base = build(&[tcp_conn()], 1, 1472).remove(0);
    let with_option = |ptype: u8| {
        let mut m = base.clone();
        m.extend_from_slice(&[ptype, 2, 0xAA, 0xBB]);
        let size = m.len() as u16;
        m[2..4].copy_from_slice(&size.to_be_bytes());
        m[11] = 40;
        m
    };
    let optional = parse_message(&with_option(0x40 | 9)).unwrap();
    assert_eq!(optional.conns, vec![tcp_conn()]);
    let mandatory = parse_message(&with_option(9)).unwrap();
    assert!(mandatory.conns.is_empty());
    assert_eq!(mandatory.skipped, 1);
    // SEQ_DATA of the wrong length is malformed.
    assert_eq!(
        parse_message(&with_option(1)),
        Err(SyncError::BadOption { index: 0 })
    );
}

#[test]
fn builder_respects_maxlen_and_flushes() {
    let conns = vec![tcp_conn(); 100];
    let out = build(&conns, 1, 1472);
    // (1472 - 8) / 36 = 40 records a message.
    assert_eq!(
        out.iter().map(|m| m[4] as usize).collect::<Vec<_>>(),
        vec![40, 40, 20]
    );
    assert!(out.iter().all(|m| m.len() <= 1472));
    let parsed: Vec<SyncConn> = out
        .iter()
        .flat_map(|m| parse_message(m).unwrap().conns)
        .collect();
    assert_eq!(parsed, conns);

    let mut b = MessageBuilder::new(1, 100);
    let mut sent = 0;
    b.push(Duration::from_secs(10), &tcp_conn(), &mut |_| sent += 1)
        .unwrap();
    assert_eq!(b.next_deadline(), Some(Duration::from_secs(12)));
    b.flush_older(Duration::from_secs(11), &mut |_| sent += 1);
    assert_eq!(sent, 0);
    b.flush_older(Duration::from_secs(12), &mut |_| sent += 1);
    assert_eq!(sent, 1);
    assert!(b.is_empty());
    // A record that cannot fit even an empty message.
    let mut tiny = MessageBuilder::new(1, 40);
    assert_eq!(
        tiny.push(Duration::ZERO, &tcp_conn(), &mut |_| {}),
        Err(SyncError::RecordTooLarge { len: 36 })
    );
}

#[test]
fn maxlen_like_the_kernel() {
    assert_eq!(sync_maxlen(false, 9000, None, false), 1472);
    assert_eq!(sync_maxlen(true, 9000, None, false), 8972);
    assert_eq!(sync_maxlen(true, 1400, None, false), 1472);
    assert_eq!(sync_maxlen(false, 1500, None, true), 1452);
    assert_eq!(sync_maxlen(true, 1500, Some(100), false), 1024);
    assert_eq!(sync_maxlen(false, 1500, Some(70000), false), 65507);
}

#[test]
fn receiver_checks_and_auth() {
    let mut bogus_state = tcp_conn();
    bogus_state.state = 42;
    let mut unknown_proto = tcp_conn();
    unknown_proto.protocol = 99;
    let mut template = tcp_conn();
    template.flags = flags::TEMPLATE | flags::HASHED | flags::ONE_PACKET | flags::DROUTE;
    template.state = 42;
    let msg = build(&[tcp_conn(), bogus_state, unknown_proto, template], 7, 1472).remove(0);

    let mut rx = Receiver::new(0, None);
    let mut out = Vec::new();
    assert_eq!(
        rx.receive(&msg, &mut out),
        Ok(Incoming::Conns {
            accepted: 2,
            dropped: 2
        })
    );
    assert_eq!(out[0].flags, flags::TUNNEL | flags::SYNC);
    // A backup keeps only BACKUP_MASK of the flags (no ONE_PACKET).
    assert_eq!(out[1].flags, flags::TEMPLATE | flags::DROUTE | flags::SYNC);

    let mut other = Receiver::new(8, None);
    assert_eq!(
        other.receive(&msg, &mut out),
        Err(SyncError::OtherSyncId { syncid: 7 })
    );

    let key = SyncKey::new(1, b"k");
    let mut signed = msg.clone();
    signed.extend_from_slice(&key.trailer(&msg));
    let mut authed = Receiver::new(7, Some(key.clone()));
    out.clear();
    assert!(authed.receive(&signed, &mut out).is_ok());
    assert_eq!(out.len(), 2);
    assert_eq!(authed.receive(&msg, &mut out), Err(SyncError::AuthFailed));
    // Without a key, a signed datagram is not a kernel message (size mismatch).
    assert!(matches!(
        rx.receive(&signed, &mut out),
        Err(SyncError::SizeMismatch { .. })
    ));

    let req = ResyncRequest {
        syncid: 7,
        nonce: 42,
    };
    assert_eq!(
        rx.receive(&req.to_bytes(), &mut out),
        Ok(Incoming::ResyncRequest(req))
    );
}

fn arb_addr(v6: bool) -> BoxedStrategy<IpAddr> {
    if v6 {
        any::<[u8; 16]>()
            .prop_map(|a| IpAddr::V6(Ipv6Addr::from(a)))
            .boxed()
    } else {
        any::<[u8; 4]>()
            .prop_map(|a| IpAddr::V4(Ipv4Addr::from(a)))
            .boxed()
    }
}

fn arb_conn() -> impl Strategy<Value = SyncConn> {
    any::<bool>().prop_flat_map(|v6| {
        (
            (
                any::<u8>(),
                any::<u32>(),
                any::<u16>(),
                any::<u32>(),
                any::<u32>(),
            ),
            (arb_addr(v6), arb_addr(v6), arb_addr(v6)),
            (any::<u16>(), any::<u16>(), any::<u16>()),
            prop::option::of(any::<[u32; 6]>()),
            prop::option::of((
                prop::collection::vec(any::<u8>(), 1..=255),
                prop::collection::vec(any::<u8>(), 0..=16),
            )),
        )
            .prop_map(
                |(
                    (protocol, fl, state, fwmark, timeout),
                    (caddr, vaddr, daddr),
                    (cport, vport, dport),
                    seq,
                    pe,
                )| {
                    SyncConn {
                        protocol,
                        flags: fl & !flags::HASHED,
                        state,
                        caddr,
                        cport,
                        vaddr,
                        vport,
                        daddr,
                        dport,
                        fwmark,
                        timeout,
                        seq: seq.map(|w| SeqOptions {
                            in_seq: SeqAdjust {
                                init_seq: w[0],
                                delta: w[1],
                                previous_delta: w[2],
                            },
                            out_seq: SeqAdjust {
                                init_seq: w[3],
                                delta: w[4],
                                previous_delta: w[5],
                            },
                        }),
                        pe: pe.map(|(data, name)| PeData { name, data }),
                    }
                },
            )
    })
}

proptest! {
    #[test]
    fn round_trip(conns in prop::collection::vec(arb_conn(), 0..30), maxlen in 400usize..3000, syncid in any::<u8>()) {
        let out = build(&conns, syncid, maxlen);
        let mut parsed = Vec::new();
        for m in &out {
            prop_assert!(m.len() <= maxlen);
            let msg = parse_message(m).unwrap();
            prop_assert_eq!(msg.syncid, syncid);
            prop_assert_eq!(usize::from(m[4]), msg.conns.len());
            parsed.extend(msg.conns);
        }
        prop_assert_eq!(parsed, conns);
    }

    #[test]
    fn never_panics_on_random_bytes(data in prop::collection::vec(any::<u8>(), 0..400)) {
        fuzz_parse(&data);
        let mut rx = Receiver::new(0, Some(SyncKey::new(0, b"x")));
        let _ = rx.receive(&data, &mut Vec::new());
    }

    /// Random bytes behind a plausible header reach the entry parser.
    #[test]
    fn never_panics_on_random_entries(nr in any::<u8>(), body in prop::collection::vec(any::<u8>(), 0..400)) {
        let mut m = vec![0, 1, 0, 0, nr, 1, 0, 0];
        m.extend_from_slice(&body);
        let size = m.len() as u16;
        m[2..4].copy_from_slice(&size.to_be_bytes());
        fuzz_parse(&m);
    }

    #[test]
    fn never_panics_on_mutations(
        conns in prop::collection::vec(arb_conn(), 1..6),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut m = build(&conns, 3, 65535).remove(0);
        for (at, x) in flips {
            let i = at.index(m.len());
            m[i] ^= x;
        }
        fuzz_parse(&m);
        let keep = cut.index(m.len() + 1);
        fuzz_parse(&m[..keep]);
        let _ = Receiver::new(0, None).receive(&m, &mut Vec::new());
    }
}
