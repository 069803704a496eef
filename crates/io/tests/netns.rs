//! Root tests in network namespaces: packet rings, fanout steering, routes, neighbours and
//! addresses against the kernel and iproute2. Each test skips (with a message) when not
//! root or when namespaces cannot be made. No timing assertions; every wait is bounded.

// Test helpers outside #[test] functions unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, UdpSocket};
use std::num::NonZeroU32;
use std::time::Duration;

use common::{ip, json, udp_frame, Lab, A_IP, B_IP};
use rvs_io::{
    steering_program_client_side, steering_program_server_side, Fanout, FanoutMode, Interface,
    MacAddr, NeighCache, NeighState, PacketSocket, PacketType, RingConfig, RingVersion, RouteKind,
    RtNetlink, RxFrame, RxRing, TxError,
};

const MARKER: &[u8] = b"rvsio";
/// Upper bound on 100 ms waits in one receive loop.
const MAX_WAITS: usize = 100;

/// What a test wants to know about one received UDP frame carrying MARKER.
#[derive(Debug, Clone)]
struct Seen {
    sport: u16,
    dport: u16,
    payload_len: usize,
    len: usize,
    wire_len: u32,
    captured_len: u32,
    truncated: bool,
    csum_partial: bool,
    packet_type: PacketType,
    start: usize,
}

/// Reads a UDP-over-IPv4 frame carrying MARKER (possibly truncated after the UDP header).
fn inspect(frame: &RxFrame<'_>) -> Option<Seen> {
    let d = frame.data();
    if d.len() < 14 + 20 + 8 || d[12..14] != [0x08, 0x00] || d[14 + 9] != 17 {
        return None;
    }
    let ihl = usize::from(d[14] & 0x0f) * 4;
    let udp = 14 + ihl;
    let payload = d.get(udp + 8..)?;
    if !payload.starts_with(MARKER) {
        return None;
    }
    let udp_len = usize::from(u16::from_be_bytes([d[udp + 4], d[udp + 5]]));
    Some(Seen {
        sport: u16::from_be_bytes([d[udp], d[udp + 1]]),
        dport: u16::from_be_bytes([d[udp + 2], d[udp + 3]]),
        payload_len: udp_len - 8,
        len: frame.len(),
        wire_len: frame.wire_len(),
        captured_len: frame.captured_len(),
        truncated: frame.is_truncated(),
        csum_partial: frame.csum_partial(),
        packet_type: frame.packet_type(),
        start: frame.start(),
    })
}

/// Receives until `want` marked frames arrived or the wait budget is spent; returns them
/// and the number of frames each non-empty batch held.
fn collect(rx: &mut RxRing, want: usize) -> (Vec<Seen>, Vec<usize>) {
    let mut seen = Vec::new();
    let mut batches = Vec::new();
    for _ in 0..MAX_WAITS {
        if seen.len() >= want {
            break;
        }
        if !rx.wait_readable(Some(Duration::from_millis(100))).unwrap() {
            continue;
        }
        let n = rx.recv_batch(256, |frame| seen.extend(inspect(frame)));
        if n > 0 {
            batches.push(n);
        }
    }
    (seen, batches)
}

fn payload(index: usize, len: usize) -> Vec<u8> {
    let mut p = MARKER.to_vec();
    p.push(index as u8);
    p.resize(len.max(p.len()), 0xa5);
    p
}

/// Sends `count` datagrams from b (source ports `sport0 + i`, destination `dport0 + i` on
/// a, sizes from `size`).
fn send_from_b(lab: &Lab, count: usize, sport0: u16, dport0: u16, size: fn(usize) -> usize) {
    lab.in_b(move || {
        for i in 0..count {
            let sock = UdpSocket::bind((B_IP, sport0 + i as u16)).unwrap();
            sock.send_to(&payload(i, size(i)), (A_IP, dport0 + i as u16))
                .unwrap();
        }
    });
}

#[test]
fn rx_ring_hands_frames_in_batches_with_headroom() {
    let Some(lab) = Lab::new() else { return };
    let cfg = RingConfig::default();
    let mut sock = lab.in_a(move || PacketSocket::open("veth-a", &cfg).unwrap());
    let ifindex = lab.in_a(|| Interface::by_name("veth-a").unwrap().index);
    assert_eq!(sock.ifindex(), ifindex);

    // The first datagram waits for ARP; b's kernel then releases all 20 at once.
    send_from_b(&lab, 20, 40000, 9000, |i| 10 + i * 50);
    let (seen, batches) = collect(sock.rx(), 20);
    assert_eq!(seen.len(), 20, "batches {batches:?}");
    assert!(
        batches.iter().any(|&n| n > 1),
        "frames should arrive in batches: {batches:?}"
    );
    for s in &seen {
        let expected = 14 + 20 + 8 + s.payload_len;
        assert_eq!(s.len, expected);
        assert_eq!(s.wire_len as usize, expected);
        assert_eq!(s.captured_len as usize, expected);
        assert!(!s.truncated);
        assert_eq!(s.packet_type, PacketType::Host);
        assert!(s.start >= 128, "headroom {}", s.start);
        // b's stack leaves the UDP checksum to the veth "hardware": the frame arrives
        // with only the pseudo-header sum, and the ring says so.
        assert!(s.csum_partial, "{s:?}");
    }
    let stats = sock.rx().stats();
    assert!(stats.frames >= 20);
    // a answered with ICMP port unreachable; its own outgoing frames must not show up.
    assert_eq!(
        stats.outgoing_skipped, 0,
        "kernel PACKET_IGNORE_OUTGOING expected on this kernel"
    );
    assert!(sock.rx().kernel_ignores_outgoing());

    // In-place prepend into the headroom.
    send_from_b(&lab, 1, 40100, 9100, |_| 64);
    let mut prepended = 0;
    for _ in 0..MAX_WAITS {
        if prepended > 0 {
            break;
        }
        sock.rx()
            .wait_readable(Some(Duration::from_millis(100)))
            .unwrap();
        sock.rx().recv_batch(64, |frame| {
            if inspect(frame).is_none() {
                return;
            }
            let (start, len) = (frame.start(), frame.len());
            let eth = frame.data()[..14].to_vec();
            frame.buf_with_headroom()[start - 20..start].copy_from_slice(&[0x45; 20]);
            frame.set_range(start - 20, len + 20).unwrap();
            assert_eq!(&frame.data()[..20], &[0x45; 20]);
            assert_eq!(&frame.data()[20..34], &eth[..]);
            let capacity = frame.capacity();
            assert!(frame.set_range(capacity - 10, 11).is_err());
            assert!(frame.set_range(usize::MAX, 2).is_err());
            prepended += 1;
        });
    }
    assert_eq!(prepended, 1);
}

#[test]
fn frames_larger_than_the_slot_are_flagged_truncated() {
    let Some(lab) = Lab::new() else { return };
    let cfg = RingConfig {
        frame_size: 256,
        headroom: 0,
        rx_frames: 64,
        tx_frames: 0,
        ..RingConfig::default()
    };
    let mut sock = lab.in_a(move || PacketSocket::open("veth-a", &cfg).unwrap());
    send_from_b(&lab, 2, 40200, 9200, |i| if i == 0 { 20 } else { 300 });
    let (seen, _) = collect(sock.rx(), 2);
    assert_eq!(seen.len(), 2);
    let small = seen.iter().find(|s| s.payload_len == 20).unwrap();
    assert!(!small.truncated);
    let big = seen.iter().find(|s| s.payload_len == 300).unwrap();
    assert!(big.truncated);
    assert_eq!(big.wire_len, 14 + 20 + 8 + 300);
    assert!(big.captured_len < big.wire_len);
    assert_eq!(big.len, big.captured_len as usize);
    assert!(sock.rx().stats().truncated >= 1);
}

#[test]
fn tx_ring_sends_a_batch_with_one_kick() {
    let Some(lab) = Lab::new() else { return };
    let a = lab.in_a(|| Interface::by_name("veth-a").unwrap());
    let b = lab.in_b(|| Interface::by_name("veth-b").unwrap());
    let receiver = lab.in_b(|| {
        let s = UdpSocket::bind((B_IP, 7000)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        s
    });
    let cfg = RingConfig::default();
    let (mut rx, mut tx) = lab
        .in_a(move || PacketSocket::open("veth-a", &cfg).unwrap())
        .split();
    assert_eq!(tx.ifindex(), a.index);

    let src = A_IP.parse::<Ipv4Addr>().unwrap().octets();
    let dst = B_IP.parse::<Ipv4Addr>().unwrap().octets();
    for i in 0..10 {
        let frame = udp_frame(
            b.mac.octets(),
            a.mac.octets(),
            src,
            dst,
            7001,
            7000,
            &payload(i, 100 + i),
        );
        tx.push(&frame).unwrap();
    }
    assert_eq!(tx.pending(), 10);
    assert_eq!(tx.flush().unwrap(), 10);
    assert_eq!(tx.pending(), 0);
    assert_eq!(tx.flush().unwrap(), 0, "nothing pending, no syscall");
    let stats = tx.stats();
    assert_eq!((stats.frames, stats.kicks), (10, 1));

    let mut got = Vec::new();
    let mut buf = [0u8; 2048];
    for _ in 0..10 {
        let (n, from) = receiver
            .recv_from(&mut buf)
            .expect("datagram from the TX ring");
        assert_eq!(from.port(), 7001);
        got.push(buf[..n].to_vec());
    }
    got.sort_by_key(|p| p[MARKER.len()]);
    for (i, p) in got.iter().enumerate() {
        assert_eq!(p, &payload(i, 100 + i));
    }

    // Our own transmissions never come back on our RX ring.
    let mut own = 0;
    rx.recv_batch(1024, |frame| {
        if frame.packet_type() == PacketType::Outgoing
            || inspect(frame).is_some_and(|s| s.sport == 7001)
        {
            own += 1;
        }
    });
    assert_eq!(own, 0);

    // Bad lengths are refused without touching the ring.
    assert_eq!(
        tx.push(&[0u8; 10]),
        Err(TxError::BadLength {
            len: 10,
            max: tx.max_frame_len()
        })
    );
    assert!(matches!(
        tx.push(&vec![0u8; 5000]),
        Err(TxError::BadLength { .. })
    ));
}

#[test]
fn tx_ring_reports_full_and_recovers_after_flush() {
    let Some(lab) = Lab::new() else { return };
    let cfg = RingConfig {
        rx_frames: 0,
        tx_frames: 32,
        ..RingConfig::default()
    };
    let mut sock = lab.in_a(move || PacketSocket::open("veth-a", &cfg).unwrap());
    let tx = sock.tx();
    let capacity = tx.capacity();
    assert_eq!(capacity, 32);
    // To a MAC nobody has: b drops them, which frees the slots.
    let frame = udp_frame(
        [0x02, 0, 0, 0, 0, 0x99],
        [0x02, 0, 0, 0, 0, 0x98],
        [198, 51, 100, 1],
        [198, 51, 100, 2],
        1,
        2,
        MARKER,
    );
    for _ in 0..capacity {
        tx.push(&frame).unwrap();
    }
    assert_eq!(tx.push(&frame), Err(TxError::Full));
    assert_eq!(tx.stats().full, 1);
    assert_eq!(tx.flush().unwrap(), capacity);
    let mut pushed = false;
    for _ in 0..MAX_WAITS {
        if tx.push(&frame).is_ok() {
            pushed = true;
            break;
        }
        tx.wait_writable(Some(Duration::from_millis(100))).unwrap();
    }
    assert!(pushed, "slots come back once the kernel has sent them");
    tx.flush().unwrap();
    // A receive-only half of a transmit-only socket simply has nothing.
    assert_eq!(sock.rx().capacity(), 0);
    assert_eq!(sock.rx().recv_batch(8, |_| {}), 0);
    assert!(!sock
        .rx()
        .wait_readable(Some(Duration::from_millis(1)))
        .unwrap());
}

#[test]
fn cbpf_fanout_steers_both_sides_by_client_address() {
    let Some(lab) = Lab::new() else { return };
    const WORKERS: usize = 3;
    let workers = NonZeroU32::new(WORKERS as u32).unwrap();
    // Group 1 steers like the client-facing side (source address), group 2 like the
    // server-facing side (destination address); each group gets its own copy of every
    // frame. Every flow from b to a goes to one worker per group, whatever its ports.
    let mut client_side = Vec::new();
    let mut server_side = Vec::new();
    for _ in 0..WORKERS {
        let client_cfg = RingConfig {
            rx_frames: 256,
            tx_frames: 0,
            fanout: Some(Fanout {
                group_id: 0x51,
                mode: FanoutMode::Cbpf(steering_program_client_side(workers)),
            }),
            ..RingConfig::default()
        };
        let server_cfg = RingConfig {
            rx_frames: 256,
            tx_frames: 0,
            fanout: Some(Fanout {
                group_id: 0x52,
                mode: FanoutMode::Cbpf(steering_program_server_side(workers)),
            }),
            ..RingConfig::default()
        };
        client_side.push(lab.in_a(move || PacketSocket::open("veth-a", &client_cfg).unwrap()));
        server_side.push(lab.in_a(move || PacketSocket::open("veth-a", &server_cfg).unwrap()));
    }
    const FLOWS: usize = 13;
    send_from_b(&lab, FLOWS, 41000, 9300, |_| 32);

    let word = |ip: &str| u32::from(ip.parse::<Ipv4Addr>().unwrap());
    for (group, expected) in [
        (
            &mut client_side,
            rvs_io::bpf::steering_index(word(B_IP), workers),
        ),
        (
            &mut server_side,
            rvs_io::bpf::steering_index(word(A_IP), workers),
        ),
    ] {
        let mut total = 0;
        for round in 0..MAX_WAITS {
            if total >= FLOWS {
                break;
            }
            for (index, sock) in group.iter_mut().enumerate() {
                let timeout = if round == 0 { 100 } else { 10 };
                if !sock
                    .rx()
                    .wait_readable(Some(Duration::from_millis(timeout)))
                    .unwrap()
                {
                    continue;
                }
                sock.rx().recv_batch(256, |frame| {
                    if let Some(seen) = inspect(frame) {
                        assert_eq!(expected as usize, index, "{seen:?} on worker {index}");
                        total += 1;
                    }
                });
            }
        }
        assert_eq!(total, FLOWS);
        // a's ICMP port unreachable answers are outgoing: the fanout flag keeps them away.
        for sock in group.iter_mut() {
            assert_eq!(sock.rx().stats().outgoing_skipped, 0);
        }
    }
}

#[test]
fn hash_fanout_delivers_each_frame_once() {
    let Some(lab) = Lab::new() else { return };
    let mut socks = Vec::new();
    for _ in 0..2 {
        let cfg = RingConfig {
            rx_frames: 256,
            tx_frames: 0,
            fanout: Some(Fanout {
                group_id: 0x53,
                mode: FanoutMode::Hash,
            }),
            ..RingConfig::default()
        };
        socks.push(lab.in_a(move || PacketSocket::open("veth-a", &cfg).unwrap()));
    }
    send_from_b(&lab, 8, 42000, 9400, |_| 32);
    let mut total = 0;
    for _ in 0..MAX_WAITS {
        if total >= 8 {
            break;
        }
        for sock in &mut socks {
            if sock
                .rx()
                .wait_readable(Some(Duration::from_millis(20)))
                .unwrap()
            {
                sock.rx()
                    .recv_batch(256, |frame| total += usize::from(inspect(frame).is_some()));
            }
        }
    }
    assert_eq!(total, 8);
}

#[test]
fn open_rejects_bad_configurations() {
    let Some(lab) = Lab::new() else { return };
    lab.in_a(|| {
        for cfg in [
            RingConfig {
                frame_size: 3000,
                ..RingConfig::default()
            },
            RingConfig {
                frame_size: 128,
                ..RingConfig::default()
            },
            RingConfig {
                frame_size: 256,
                headroom: 200,
                ..RingConfig::default()
            },
        ] {
            let err = PacketSocket::open("veth-a", &cfg).unwrap_err();
            assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{cfg:?}");
        }
        assert!(PacketSocket::open("no-such-if", &RingConfig::default()).is_err());
    });
}

#[test]
fn route_get_matches_ip_route_get() {
    let Some(lab) = Lab::new() else { return };
    ip(&[
        "-n",
        &lab.ns_a,
        "route",
        "add",
        "203.0.113.0/24",
        "via",
        B_IP,
    ])
    .unwrap();
    let ns = lab.ns_a.clone();
    lab.in_a(move || {
        let veth = Interface::by_name("veth-a").unwrap();
        let lo = Interface::by_name("lo").unwrap();
        let mut nl = RtNetlink::open().unwrap();

        let route = nl.route_get("203.0.113.9".parse().unwrap()).unwrap();
        let reference = json(&ip(&["-n", &ns, "-j", "route", "get", "203.0.113.9"]).unwrap());
        let reference = &reference[0];
        assert_eq!(reference["dev"], "veth-a");
        assert_eq!(route.oif, veth.index);
        assert_eq!(
            route.gateway.map(|g| g.to_string()).as_deref(),
            reference["gateway"].as_str()
        );
        assert_eq!(
            route.prefsrc.map(|g| g.to_string()).as_deref(),
            reference["prefsrc"].as_str()
        );
        assert_eq!(route.kind, RouteKind::Unicast);
        assert_eq!(
            route.next_hop("203.0.113.9".parse().unwrap()),
            B_IP.parse::<IpAddr>().unwrap()
        );

        let on_link = nl.route_get(B_IP.parse().unwrap()).unwrap();
        assert_eq!((on_link.oif, on_link.gateway), (veth.index, None));
        assert_eq!(on_link.prefsrc, Some(A_IP.parse().unwrap()));

        let local = nl.route_get(A_IP.parse().unwrap()).unwrap();
        assert_eq!((local.kind, local.oif), (RouteKind::Local, lo.index));

        let v6 = nl.route_get("2001:db8::2".parse().unwrap()).unwrap();
        assert_eq!((v6.oif, v6.gateway), (veth.index, None));

        let err = nl.route_get("192.0.2.99".parse().unwrap()).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENETUNREACH), "{err}");
        // The client keeps working after an error.
        assert_eq!(nl.route_get(B_IP.parse().unwrap()).unwrap().oif, veth.index);
    });
}

#[test]
fn neighbours_resolve_and_match_ip_neigh() {
    let Some(lab) = Lab::new() else { return };
    let b_mac = lab.in_b(|| Interface::by_name("veth-b").unwrap().mac);
    let ns = lab.ns_a.clone();
    lab.in_a(move || {
        let ifindex = Interface::by_name("veth-a").unwrap().index;
        let mut nl = RtNetlink::open().unwrap();
        for target in [B_IP, "2001:db8::2"] {
            let target: IpAddr = target.parse().unwrap();
            if target.is_ipv4() {
                assert_eq!(
                    nl.neigh_get(ifindex, target).unwrap(),
                    None,
                    "no traffic yet"
                );
            }
            nl.neigh_resolve(ifindex, target).unwrap();
            let mut found = None;
            for _ in 0..MAX_WAITS {
                found = nl.neigh_get(ifindex, target).unwrap();
                if found.is_some() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let (mac, state) = found.expect("resolution completes");
            assert_eq!(mac, b_mac);
            assert!(state.is_usable(), "{state:?}");
            let reference = json(
                &ip(&[
                    "-n",
                    &ns,
                    "-j",
                    "neigh",
                    "show",
                    &target.to_string(),
                    "dev",
                    "veth-a",
                ])
                .unwrap(),
            );
            let reference = &reference[0];
            assert_eq!(
                reference["lladdr"]
                    .as_str()
                    .unwrap()
                    .parse::<MacAddr>()
                    .unwrap(),
                mac
            );
            let dump = nl.neigh_dump(Some(ifindex)).unwrap();
            assert!(
                dump.iter().any(|e| e.ip == target && e.mac == Some(b_mac)),
                "{dump:?}"
            );
        }
        // Nobody answers for .77: an entry appears but without an address.
        let absent: IpAddr = "198.51.100.77".parse().unwrap();
        nl.neigh_resolve(ifindex, absent).unwrap();
        assert_eq!(nl.neigh_get(ifindex, absent).unwrap(), None);
        let dump = nl.neigh_dump(Some(ifindex)).unwrap();
        let entry = dump
            .iter()
            .find(|e| e.ip == absent)
            .expect("probe entry exists");
        assert!(
            matches!(entry.state, NeighState::Incomplete | NeighState::Failed),
            "{entry:?}"
        );
    });
}

#[test]
fn neighbour_cache_follows_the_kernel() {
    let Some(lab) = Lab::new() else { return };
    let ns = lab.ns_a.clone();
    ip(&[
        "-n",
        &ns,
        "neigh",
        "add",
        "198.51.100.40",
        "lladdr",
        "02:00:5e:00:00:40",
        "dev",
        "veth-a",
        "nud",
        "permanent",
    ])
    .unwrap();
    let (cache, watcher, ifindex) = lab.in_a(|| {
        let cache = NeighCache::new();
        let watcher = cache.watch().unwrap();
        (cache, watcher, Interface::by_name("veth-a").unwrap().index)
    });
    let before: IpAddr = "198.51.100.40".parse().unwrap();
    assert_eq!(
        cache.lookup(before),
        Some("02:00:5e:00:00:40".parse().unwrap()),
        "initial dump"
    );
    assert_eq!(cache.lookup_on(ifindex, before), cache.lookup(before));

    let added: IpAddr = "198.51.100.50".parse().unwrap();
    ip(&[
        "-n",
        &ns,
        "neigh",
        "add",
        "198.51.100.50",
        "lladdr",
        "02:00:5e:00:00:50",
        "dev",
        "veth-a",
        "nud",
        "permanent",
    ])
    .unwrap();
    let wait_for = |want: Option<MacAddr>| {
        for _ in 0..MAX_WAITS {
            if cache.lookup(added) == want {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    };
    assert!(wait_for(Some("02:00:5e:00:00:50".parse().unwrap())));
    ip(&["-n", &ns, "neigh", "del", "198.51.100.50", "dev", "veth-a"]).unwrap();
    assert!(wait_for(None));
    assert!(watcher.is_running());
    watcher.stop().unwrap();

    // Refresh-by-dump mode.
    let fresh = NeighCache::new();
    lab.in_a({
        let fresh = fresh.clone();
        move || fresh.refresh(&mut RtNetlink::open().unwrap()).unwrap()
    });
    assert!(fresh.lookup(before).is_some());
}

#[test]
fn addresses_come_and_go_and_show_in_interface() {
    let Some(lab) = Lab::new() else { return };
    let ns = lab.ns_a.clone();
    lab.in_a(move || {
        let veth = Interface::by_name("veth-a").unwrap();
        let link = json(&ip(&["-n", &ns, "-j", "link", "show", "veth-a"]).unwrap());
        assert_eq!(
            veth.mac,
            link[0]["address"]
                .as_str()
                .unwrap()
                .parse::<MacAddr>()
                .unwrap()
        );
        assert_eq!(veth.mtu, 1500);
        assert!(
            veth.ipv4.contains(&(A_IP.parse().unwrap(), 24)),
            "{:?}",
            veth.ipv4
        );
        assert!(
            veth.ipv6.contains(&("2001:db8::1".parse().unwrap(), 64)),
            "{:?}",
            veth.ipv6
        );

        let mut nl = RtNetlink::open().unwrap();
        let vip4 = Ipv4Addr::new(192, 0, 2, 10);
        let vip6: Ipv6Addr = "2001:db8:0:1::10".parse().unwrap();
        nl.addr_add(veth.index, vip4.into(), 32).unwrap();
        nl.addr_add(veth.index, vip6.into(), 128).unwrap();
        let now = Interface::by_name("veth-a").unwrap();
        assert!(now.ipv4.contains(&(vip4, 32)), "{:?}", now.ipv4);
        assert!(now.ipv6.contains(&(vip6, 128)), "{:?}", now.ipv6);
        let again = nl.addr_add(veth.index, vip4.into(), 32).unwrap_err();
        assert_eq!(again.kind(), std::io::ErrorKind::AlreadyExists);
        let shown = ip(&["-n", &ns, "addr", "show", "dev", "veth-a"]).unwrap();
        assert!(
            shown.contains("192.0.2.10/32") && shown.contains("2001:db8:0:1::10/128"),
            "{shown}"
        );

        nl.addr_del(veth.index, vip4.into(), 32).unwrap();
        nl.addr_del(veth.index, vip6.into(), 128).unwrap();
        let after = Interface::by_name("veth-a").unwrap();
        assert!(!after.ipv4.contains(&(vip4, 32)));
        assert!(!after.ipv6.contains(&(vip6, 128)));
        assert!(nl.addr_del(veth.index, vip4.into(), 32).is_err());
        assert_eq!(
            nl.addr_add(veth.index, vip4.into(), 33).unwrap_err().kind(),
            std::io::ErrorKind::InvalidInput
        );
    });
}

#[test]
fn outgoing_frames_are_seen_when_not_ignored() {
    let Some(lab) = Lab::new() else { return };
    let cfg = RingConfig {
        ignore_outgoing: false,
        ..RingConfig::default()
    };
    let mut sock = lab.in_a(move || PacketSocket::open("veth-a", &cfg).unwrap());
    assert!(!sock.rx().kernel_ignores_outgoing());
    // a's own datagrams to b leave through veth-a.
    lab.in_a(|| {
        let s = UdpSocket::bind((A_IP, 43000)).unwrap();
        for i in 0..3 {
            s.send_to(&payload(i, 40), (B_IP, 9500)).unwrap();
        }
    });
    let (seen, _) = collect(sock.rx(), 3);
    assert_eq!(seen.len(), 3);
    assert!(
        seen.iter()
            .all(|s| s.packet_type == PacketType::Outgoing && s.sport == 43000),
        "{seen:?}"
    );
}

#[test]
fn a_full_rx_ring_drops_and_counts() {
    let Some(lab) = Lab::new() else { return };
    let cfg = RingConfig {
        rx_frames: 32,
        tx_frames: 0,
        ..RingConfig::default()
    };
    let mut sock = lab.in_a(move || PacketSocket::open("veth-a", &cfg).unwrap());
    assert_eq!(sock.rx().capacity(), 32);
    const SENT: usize = 100;
    send_from_b(&lab, SENT, 44000, 9600, |_| 16);
    // Nothing reads the ring meanwhile: it holds 32 frames and the kernel drops the rest.
    // The counters reset on each read, so add them up until all datagrams are accounted.
    let (mut packets, mut drops) = (0usize, 0usize);
    for _ in 0..MAX_WAITS {
        let stats = sock.rx().kernel_stats().unwrap();
        packets += stats.packets as usize;
        drops += stats.drops as usize;
        if packets >= SENT {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(packets >= SENT, "{packets}");
    assert!(drops >= SENT - 32, "{drops}");
    let held = sock.rx().recv_batch(1024, |_| {});
    assert!(held <= 32, "{held}");
    // The counters reset on read.
    assert_eq!(sock.rx().kernel_stats().unwrap().drops, 0);
}

#[test]
fn tpacket_v3_receives_across_blocks_and_transmits() {
    let Some(lab) = Lab::new() else { return };
    let a = lab.in_a(|| Interface::by_name("veth-a").unwrap());
    let b = lab.in_b(|| Interface::by_name("veth-b").unwrap());
    // 16 x 2048 bytes = eight 4 KiB blocks: rounds of ~10 KiB of frames wrap the ring.
    let cfg = RingConfig {
        rx_frames: 16,
        tx_frames: 32,
        version: RingVersion::V3 {
            block_size: 4096,
            block_timeout_ms: 2,
        },
        ..RingConfig::default()
    };
    let (mut rx, mut tx) = lab
        .in_a(move || PacketSocket::open("veth-a", &cfg).unwrap())
        .split();
    assert_eq!(rx.capacity(), 16);
    for round in 0..4u16 {
        send_from_b(&lab, 12, 45000 + round * 100, 9700, |i| 200 + i * 60);
        let (seen, batches) = collect(&mut rx, 12);
        assert_eq!(seen.len(), 12, "round {round}: batches {batches:?}");
        for s in &seen {
            let expected = 14 + 20 + 8 + s.payload_len;
            assert_eq!((s.len, s.wire_len as usize), (expected, expected));
            assert!(!s.truncated);
            assert!(s.start >= 128, "headroom {}", s.start);
            assert!(s.csum_partial);
            assert_eq!(s.packet_type, PacketType::Host);
        }
    }
    assert_eq!(rx.stats().malformed, 0);

    let receiver = lab.in_b(|| {
        let s = UdpSocket::bind((B_IP, 7100)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        s
    });
    let src = A_IP.parse::<Ipv4Addr>().unwrap().octets();
    let dst = B_IP.parse::<Ipv4Addr>().unwrap().octets();
    for i in 0..5 {
        tx.push(&udp_frame(
            b.mac.octets(),
            a.mac.octets(),
            src,
            dst,
            7101,
            7100,
            &payload(i, 300),
        ))
        .unwrap();
    }
    assert_eq!(tx.flush().unwrap(), 5);
    let mut buf = [0u8; 2048];
    for _ in 0..5 {
        let (n, _) = receiver
            .recv_from(&mut buf)
            .expect("datagram from the V3 TX ring");
        assert_eq!(n, 300);
        assert!(buf.starts_with(MARKER));
    }
}

#[test]
fn tpacket_v3_rejects_bad_block_sizes() {
    let Some(lab) = Lab::new() else { return };
    lab.in_a(|| {
        for block_size in [1000, 1024, 0] {
            let cfg = RingConfig {
                version: RingVersion::V3 {
                    block_size,
                    block_timeout_ms: 1,
                },
                ..RingConfig::default()
            };
            let err = PacketSocket::open("veth-a", &cfg).unwrap_err();
            assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{block_size}");
        }
    });
}

#[test]
fn vnet_hdr_flags_partial_checksums_and_passes_checksum_requests_on() {
    let Some(lab) = Lab::new() else { return };
    let a = lab.in_a(|| Interface::by_name("veth-a").unwrap());
    let b = lab.in_b(|| Interface::by_name("veth-b").unwrap());
    let cfg = RingConfig {
        vnet_hdr: true,
        ..RingConfig::default()
    };
    let (mut rx, mut tx) = lab
        .in_a(move || PacketSocket::open("veth-a", &cfg).unwrap())
        .split();
    assert!(tx.has_vnet_hdr());
    // Received: b's stack leaves the UDP checksum partial; the vnet header says so.
    send_from_b(&lab, 3, 41000, 9100, |_| 20);
    let mut offloads = Vec::new();
    for _ in 0..MAX_WAITS {
        if offloads.len() >= 3 {
            break;
        }
        rx.wait_readable(Some(Duration::from_millis(100))).unwrap();
        rx.recv_batch(64, |f| {
            if inspect(f).is_some() {
                offloads.push(f.offload());
            }
        });
    }
    assert_eq!(offloads.len(), 3);
    assert!(offloads
        .iter()
        .all(|o| o.csum == rvs_io::CsumState::Partial && o.gso.is_none()));

    // Sent: a checksum request goes out as a CHECKSUM_PARTIAL skb, which b's packet
    // socket sees flagged, and b's UDP socket accepts (it trusts a partial checksum).
    let cap_cfg = RingConfig::default();
    let (mut cap, _) = lab
        .in_b(move || PacketSocket::open("veth-b", &cap_cfg).unwrap())
        .split();
    let receiver = lab.in_b(|| {
        let s = UdpSocket::bind((B_IP, 7100)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        s
    });
    let src = A_IP.parse::<Ipv4Addr>().unwrap().octets();
    let dst = B_IP.parse::<Ipv4Addr>().unwrap().octets();
    let mut frame = udp_frame(
        b.mac.octets(),
        a.mac.octets(),
        src,
        dst,
        7101,
        7100,
        &payload(0, 64),
    );
    // The UDP checksum field as a local stack leaves it: the pseudo-header sum.
    let udp_len = (frame.len() - 34) as u32;
    let mut sum = 17 + udp_len;
    for w in [src, dst] {
        sum += u32::from(u16::from_be_bytes([w[0], w[1]]))
            + u32::from(u16::from_be_bytes([w[2], w[3]]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    frame[40..42].copy_from_slice(&(sum as u16).to_be_bytes());
    let offload = rvs_io::TxOffload {
        csum: Some(rvs_io::CsumRequest {
            start: 34,
            offset: 6,
        }),
        gso: None,
    };
    tx.push_offload(&frame, offload).unwrap();
    tx.flush().unwrap();
    let mut buf = [0u8; 2048];
    let (n, _) = receiver
        .recv_from(&mut buf)
        .expect("datagram with a partial checksum");
    assert_eq!(&buf[..n], &payload(0, 64)[..]);
    let mut flagged = false;
    for _ in 0..MAX_WAITS {
        cap.recv_batch(64, |f| {
            if inspect(f).is_some_and(|s| s.dport == 7100) {
                flagged = f.csum_partial();
            }
        });
        if flagged {
            break;
        }
        cap.wait_readable(Some(Duration::from_millis(100))).unwrap();
    }
    assert!(flagged, "the peer sees the checksum as partial");
    // Without PACKET_VNET_HDR an offload request is refused.
    let plain = RingConfig::default();
    let mut sock = lab.in_a(move || PacketSocket::open("veth-a", &plain).unwrap());
    assert_eq!(
        sock.tx().push_offload(&frame, offload),
        Err(TxError::NoOffload)
    );
}
