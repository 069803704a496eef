//! Instructions per packet on the established paths, for callgrind (noise-free on a
//! shared machine, unlike wall-clock time). `scripts/instructions.sh` runs this under
//! `valgrind --tool=callgrind` with N packets and with 0 and divides the difference.
//! Run alone it just processes the packets: `PACKETS=1000000 cargo bench --bench instructions`.

#![allow(clippy::unwrap_used)] // benchmark set-up: a failure is a bug in the bench

use std::hint::black_box;

use rvs_core::conn::state::{TCP_ACK, TCP_SYN};
use rvs_core::director::{Director, DirectorConfig, Rx, Verdict};
use rvs_core::service::PortId;
use rvs_core::testkit::{bench_director, with_headroom, Spec};
use rvs_core::{ForwardMethod, Time};

fn director(method: ForwardMethod) -> Director {
    bench_director(method, DirectorConfig::default())
}

fn main() {
    let packets: u64 = std::env::var("PACKETS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let path = std::env::var("PATH_KIND").unwrap_or_else(|_| "nat_in".into());
    let method = match path.as_str() {
        "route_in" => ForwardMethod::Route,
        "tunnel_in" => ForwardMethod::Tunnel,
        _ => ForwardMethod::Masq,
    };
    let mut d = director(method);
    let syn = Spec::tcp("203.0.113.250", 40000, "192.0.2.10", 80, TCP_SYN).frame();
    let mut buf = with_headroom(&syn, 128);
    let len = syn.len();
    let rip = match d.process(
        &mut Rx::new(&mut buf, 128, len, PortId(0)),
        Time::from_secs(1),
    ) {
        Verdict::Forward { next_hop, .. } => next_hop,
        v => panic!("{v:?}"),
    };
    let (frame, port) = if path == "nat_out" {
        (
            Spec::tcp(&rip.to_string(), 80, "203.0.113.250", 40000, TCP_ACK)
                .payload(&[0u8; 6])
                .frame(),
            PortId(1),
        )
    } else {
        (
            Spec::tcp("203.0.113.250", 40000, "192.0.2.10", 80, TCP_ACK)
                .payload(&[0u8; 6])
                .frame(),
            PortId(0),
        )
    };
    let mut buf = with_headroom(&frame, 128);
    let len = frame.len();
    let mut forwarded = 0u64;
    for _ in 0..packets {
        buf[128..128 + len].copy_from_slice(&frame);
        let mut rx = Rx::new(&mut buf, 128, len, port);
        if let Verdict::Forward { .. } = black_box(d.process(&mut rx, Time::from_secs(2))) {
            forwarded += 1;
        }
    }
    assert_eq!(forwarded, packets);
}
