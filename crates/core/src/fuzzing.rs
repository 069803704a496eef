//! The fuzzing harness, shared by the cargo-fuzz target (`fuzz/`) and the property
//! test that runs in every `cargo test`: a director with NAT, tunnel and
//! direct-routing services on IPv4 and IPv6, persistent and not, fed a sequence of
//! arbitrary frames. Input layout: repeated records of
//! `[flags: u8][len: u8][len bytes of frame]`; flags choose the ingress port, a
//! partial checksum and how far the clock moves.

use std::net::IpAddr;
use std::sync::Arc;

use crate::director::{Director, DirectorConfig, Rx, Verdict};
use crate::model::{
    DestConfig, ForwardMethod, Persistence, Protocol, SchedFlags, SchedulerKind, ServiceConfig,
    ServiceKey,
};
use crate::service::{DesiredConfig, IpNet, Limits, PortConfig, PortId, ServiceTable, Snapshot};
use crate::time::Time;

fn ip(s: &str) -> IpAddr {
    s.parse()
        .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
}

fn svc(
    proto: Protocol,
    vip: &str,
    port: u16,
    sched: SchedulerKind,
    persist: bool,
) -> ServiceConfig {
    ServiceConfig {
        key: ServiceKey::Addr {
            proto,
            addr: ip(vip),
            port,
        },
        scheduler: sched,
        sched_flags: SchedFlags::default(),
        persistence: persist.then_some(Persistence {
            timeout_secs: 60,
            prefix_len: 24,
        }),
        one_packet: false,
    }
}

fn real(addr: &str, port: u16, method: ForwardMethod) -> DestConfig {
    DestConfig {
        addr: ip(addr),
        port,
        method,
        weight: 1,
        u_threshold: 0,
        l_threshold: 0,
    }
}

/// The fuzzing director's service table.
pub fn fuzz_snapshot() -> Arc<Snapshot> {
    let want = DesiredConfig {
        services: vec![
            (
                svc(Protocol::Tcp, "192.0.2.10", 80, SchedulerKind::Rr, false),
                vec![
                    real("198.51.100.11", 8080, ForwardMethod::Masq),
                    real("198.51.100.12", 8080, ForwardMethod::Masq),
                ],
            ),
            (
                svc(Protocol::Udp, "192.0.2.10", 53, SchedulerKind::Wlc, false),
                vec![real("198.51.100.11", 53, ForwardMethod::Masq)],
            ),
            (
                svc(Protocol::Tcp, "192.0.2.11", 0, SchedulerKind::Sh, true),
                vec![
                    real("198.51.100.13", 0, ForwardMethod::Tunnel),
                    real("198.51.100.14", 0, ForwardMethod::Route),
                ],
            ),
            (
                svc(Protocol::Tcp, "2001:db8::10", 80, SchedulerKind::Mh, false),
                vec![
                    real("2001:db8:5::11", 80, ForwardMethod::Masq),
                    real("2001:db8:5::12", 80, ForwardMethod::Tunnel),
                ],
            ),
            (
                svc(
                    Protocol::Udp,
                    "2001:db8::10",
                    53,
                    SchedulerKind::Lblcr,
                    true,
                ),
                vec![real("2001:db8:5::13", 53, ForwardMethod::Route)],
            ),
        ],
        ports: vec![
            PortConfig {
                id: PortId(0),
                name: "eth0".into(),
                mac: [2, 0, 0, 0, 0, 1],
                mtu: 1500,
                addrs: vec![
                    IpNet::new(ip("203.0.113.1"), 24),
                    IpNet::new(ip("2001:db8:c::1"), 64),
                ],
            },
            PortConfig {
                id: PortId(1),
                name: "eth1".into(),
                mac: [2, 0, 0, 0, 0, 2],
                mtu: 1400,
                addrs: vec![
                    IpNet::new(ip("198.51.100.1"), 24),
                    IpNet::new(ip("2001:db8:5::1"), 64),
                ],
            },
        ],
        ..Default::default()
    };
    let mut table = ServiceTable::new(Limits {
        max_services: 16,
        max_dests: 64,
    });
    match table.reconcile(&want, Time::ZERO) {
        Ok((s, _)) => s,
        Err(_) => Arc::new(Snapshot::default()),
    }
}

/// Run one fuzz input. Panics only on a broken invariant (a verdict pointing
/// outside the buffer), which is what a fuzzer should report.
pub fn fuzz_director(data: &[u8]) {
    thread_local! {
        // Built once per thread (the mh table takes a millisecond); each input starts
        // from an empty connection table.
        static DIRECTOR: std::cell::RefCell<Option<(Director, Time)>> = const { std::cell::RefCell::new(None) };
    }
    DIRECTOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        let (d, clock) = slot.get_or_insert_with(|| {
            let cfg = DirectorConfig {
                conn_tab_bits: 6,
                max_conns: 64,
                seed: 1,
                max_services: 16,
                max_dests: 64,
            };
            (Director::new(cfg, fuzz_snapshot()), Time::from_secs(1))
        });
        // The clock never goes back, not even between inputs.
        *clock = run_input(d, data, *clock);
        d.flush();
    });
}

fn run_input(d: &mut Director, data: &[u8], start: Time) -> Time {
    let mut now = start;
    let mut rest = data;
    let mut buf = vec![0u8; 128 + 1600];
    while rest.len() >= 2 {
        let flags = rest[0];
        let len = (rest[1] as usize).min(rest.len() - 2);
        let frame = &rest[2..2 + len];
        rest = &rest[2 + len..];
        buf.fill(0);
        buf[128..128 + frame.len()].copy_from_slice(frame);
        let mut rx = Rx::new(&mut buf, 128, frame.len(), PortId(flags & 1));
        rx.csum_partial = flags & 2 != 0;
        match d.process(&mut rx, now) {
            Verdict::Forward { start, len, .. } | Verdict::Reply { start, len, .. } => {
                assert!(start + len <= buf.len(), "verdict outside the buffer");
            }
            Verdict::Pass | Verdict::Drop(_) => {}
        }
        now = now + std::time::Duration::from_millis(((flags >> 2) as u64) * 500);
        d.expire(now, 64);
    }
    let _ = d.connections(now);
    now
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conn::state::{TCP_ACK, TCP_SYN};
    use crate::testkit::Spec;
    use proptest::prelude::*;

    fn record(flags: u8, frame: &[u8]) -> Vec<u8> {
        let mut v = vec![flags, frame.len().min(255) as u8];
        v.extend_from_slice(&frame[..frame.len().min(255)]);
        v
    }

    /// Valid frames the director acts on: seeds for mutation.
    fn seeds() -> Vec<Vec<u8>> {
        vec![
            Spec::tcp("203.0.113.2", 40000, "192.0.2.10", 80, TCP_SYN).frame(),
            Spec::tcp("203.0.113.2", 40000, "192.0.2.10", 80, TCP_ACK)
                .payload(b"GET /")
                .frame(),
            Spec::tcp(
                "198.51.100.11",
                8080,
                "203.0.113.2",
                40000,
                TCP_SYN | TCP_ACK,
            )
            .frame(),
            Spec::udp("203.0.113.2", 5353, "192.0.2.10", 53, b"q").frame(),
            Spec::tcp("203.0.113.9", 1234, "192.0.2.11", 443, TCP_SYN).frame(),
            Spec::tcp("2001:db8:c::2", 40000, "2001:db8::10", 80, TCP_SYN).frame(),
            Spec::udp("2001:db8:c::2", 4000, "2001:db8::10", 53, b"q").frame(),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        #[test]
        fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..600)) {
            fuzz_director(&data);
        }

        #[test]
        fn mutated_valid_frames_never_panic(
            picks in proptest::collection::vec((0usize..7, any::<u8>(), proptest::collection::vec((any::<u8>(), any::<u8>()), 0..6)), 1..8)
        ) {
            let seeds = seeds();
            let mut data = Vec::new();
            for (i, flags, muts) in picks {
                let mut f = seeds[i].clone();
                for (pos, val) in muts {
                    let p = pos as usize % f.len();
                    f[p] = val;
                }
                data.extend(record(flags, &f));
            }
            fuzz_director(&data);
        }
    }
}
