//! Root tests of the AF_XDP backend on a veth pair in namespaces: the XDP program steers
//! VIP traffic to the socket and leaves the host's own traffic alone; frames go back out
//! of the shared UMEM without a copy; a checksum request in the TX metadata reaches the
//! peer as a partial checksum; the program goes away with its link. Each test skips (with
//! a message) when not root. No timing assertions; every wait is bounded.

#![allow(clippy::unwrap_used)]

mod common;

use std::net::UdpSocket;
use std::process::Command;
use std::time::Duration;

use common::{Lab, A_IP, B_IP};
use rvs_io::xdp::{FilterLimits, FilterSet, XdpFilter, XskConfig, XskPorts};
use rvs_io::{CsumRequest, Disposition, Interface, PacketSocket, PortIo, RingConfig, TxOffload};

const VIP: &str = "192.0.2.10";
const MARKER: &[u8] = b"rvsxdp";

struct Director {
    filter: XdpFilter,
    ports: XskPorts,
}

fn director(lab: &Lab) -> Director {
    lab.in_a(|| {
        let filter = XdpFilter::new(FilterLimits::default()).unwrap();
        let ifindex = Interface::by_name("veth-a").unwrap().index;
        filter.add_interface(ifindex).unwrap();
        let ports =
            XskPorts::open(&["veth-a".to_string()], &XskConfig::default(), &filter).unwrap();
        filter
            .apply(&FilterSet {
                vips: [VIP.parse().unwrap()].into(),
                local: [A_IP.parse().unwrap()].into(),
                ..FilterSet::default()
            })
            .unwrap();
        filter.attach_all(None).unwrap();
        Director { filter, ports }
    })
}

fn ping_b_to_a(lab: &Lab) -> bool {
    Command::new("ip")
        .args(["netns", "exec", &lab.ns_b, "ping", "-c1", "-W2", "-q", A_IP])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// Sends `n` marked datagrams from b to VIP:5000 (routed via a).
fn send_to_vip(lab: &Lab, n: usize) {
    common::ip(&["-n", &lab.ns_b, "route", "replace", VIP, "via", A_IP]).unwrap();
    lab.in_b(move || {
        let s = UdpSocket::bind((B_IP, 0)).unwrap();
        for i in 0..n {
            let mut p = MARKER.to_vec();
            p.push(i as u8);
            s.send_to(&p, (VIP, 5000)).unwrap();
        }
    });
}

fn is_marked(f: &[u8]) -> bool {
    f.len() >= 42 + MARKER.len()
        && f[12..14] == [8, 0]
        && f[23] == 17
        && &f[42..42 + MARKER.len()] == MARKER
}

#[test]
fn vip_traffic_reaches_the_socket_and_the_host_stays_usable() {
    let Some(lab) = Lab::new() else { return };
    let mut d = director(&lab);
    assert!(
        ping_b_to_a(&lab),
        "the host's own traffic must pass the XDP program"
    );
    send_to_vip(&lab, 8);
    let mut got = 0;
    let mut partial_unknown = true;
    for _ in 0..50 {
        d.ports.wait(Duration::from_millis(100)).unwrap();
        got += {
            let mut n = 0;
            d.ports.recv(0, 64, |f| {
                if is_marked(f.data()) {
                    n += 1;
                    partial_unknown &= f.offload().csum == rvs_io::CsumState::Unknown;
                }
                Disposition::Release
            });
            n
        };
        if got >= 8 {
            break;
        }
    }
    assert_eq!(got, 8);
    assert!(partial_unknown, "AF_XDP cannot tell a partial checksum");
    // Still usable after the redirects.
    assert!(ping_b_to_a(&lab));
    // The program goes with its link.
    drop(d);
    let out = common::ip(&["-n", &lab.ns_a, "-j", "link", "show", "veth-a"]).unwrap();
    assert!(
        !out.contains("\"xdp\""),
        "XDP program still attached: {out}"
    );
}

#[test]
fn frames_go_back_out_without_a_copy_and_keep_checksum_requests() {
    let Some(lab) = Lab::new() else { return };
    let mut d = director(&lab);
    let cap = lab.in_b(|| PacketSocket::open("veth-b", &RingConfig::default()).unwrap());
    let (mut cap_rx, _cap_tx) = cap.split();
    let b_mac = lab.in_b(|| Interface::by_name("veth-b").unwrap().mac.octets());
    send_to_vip(&lab, 4);
    let mut sent = 0;
    for _ in 0..50 {
        d.ports.wait(Duration::from_millis(100)).unwrap();
        d.ports.recv(0, 64, |f| {
            if !is_marked(f.data()) {
                return Disposition::Release;
            }
            let (start, len) = (f.start(), f.len());
            let data = f.data_mut();
            // Back to b: swap the MACs; odd datagrams ask the kernel to complete the
            // (partial) UDP checksum.
            let src: [u8; 6] = data[6..12].try_into().unwrap();
            data[0..6].copy_from_slice(&b_mac);
            data[6..12].copy_from_slice(&src);
            let index = data[42 + MARKER.len()];
            let offload = if index % 2 == 1 {
                TxOffload {
                    csum: Some(CsumRequest {
                        start: 34,
                        offset: 6,
                    }),
                    gso: None,
                }
            } else {
                TxOffload::NONE
            };
            sent += 1;
            Disposition::Transmit {
                port: 0,
                start,
                len,
                offload,
            }
        });
        d.ports.flush().unwrap();
        if sent >= 4 {
            break;
        }
    }
    assert_eq!(sent, 4);
    let mut seen = Vec::new();
    for _ in 0..50 {
        if seen.len() >= 4 {
            break;
        }
        cap_rx
            .wait_readable(Some(Duration::from_millis(100)))
            .unwrap();
        cap_rx.recv_batch(64, |f| {
            let data = f.data();
            if is_marked(data) && data[0..6] == b_mac {
                seen.push((data[42 + MARKER.len()], f.csum_partial()));
            }
        });
    }
    seen.sort();
    assert_eq!(seen.len(), 4, "{seen:?}");
    let tx_meta = d.ports.tx_csum_offload();
    eprintln!("tx metadata: {tx_meta}, info {:?}", d.ports.info());
    for (index, partial) in seen {
        // With TX metadata the kernel sends a CHECKSUM_PARTIAL skb: the peer's packet
        // socket says so. Without a request the frame goes as it is.
        assert_eq!(partial, tx_meta && index % 2 == 1, "datagram {index}");
    }
    let st = d.ports.stats();
    assert_eq!(st.tx_frames, 4);
    assert!(st.kicks >= 1);
    let _ = &d.filter;
}
