//! Data-path micro-benchmarks: ns per packet on the established NAT path (both
//! directions), new-connection cost, and connection-table lookups at 1 M and 10 M
//! entries. Run: `cargo bench -p rvs-core --bench datapath`.

#![allow(clippy::unwrap_used)] // benchmark set-up: a failure is a bug in the bench

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use rvs_core::conn::state::{TCP_ACK, TCP_SYN};
use rvs_core::conn::table::{flags, NewConn, NIL};
use rvs_core::conn::{ConnState, ConnTable};
use rvs_core::director::{Director, DirectorConfig, Rx, Verdict};
use rvs_core::service::PortId;
use rvs_core::testkit::{bench_director, with_headroom, Spec};
use rvs_core::{DestId, ForwardMethod, Time};

fn director(method: ForwardMethod, conns: u32) -> Director {
    let cfg = DirectorConfig {
        conn_tab_bits: 20,
        max_conns: conns + 16,
        ..Default::default()
    };
    let mut d = bench_director(method, cfg);
    // Fill the table with other clients' connections so lookups are realistic.
    for i in 0..conns {
        let client = format!("203.0.113.{}", 2 + (i % 200));
        let syn = Spec::tcp(&client, 1024 + (i / 200) as u16, "192.0.2.10", 80, TCP_SYN).frame();
        let mut buf = with_headroom(&syn, 128);
        let mut rx = Rx::new(&mut buf, 128, syn.len(), PortId(0));
        d.process(&mut rx, Time::from_secs(1));
    }
    d
}

fn bench_established(c: &mut Criterion) {
    let mut g = c.benchmark_group("established");
    g.throughput(Throughput::Elements(1));
    for (name, method) in [
        ("nat_in", ForwardMethod::Masq),
        ("route_in", ForwardMethod::Route),
        ("tunnel_in", ForwardMethod::Tunnel),
    ] {
        let mut d = director(method, 10_000);
        let syn = Spec::tcp("203.0.113.250", 40000, "192.0.2.10", 80, TCP_SYN).frame();
        let ack = Spec::tcp("203.0.113.250", 40000, "192.0.2.10", 80, TCP_ACK)
            .payload(&[0u8; 6])
            .frame();
        let mut buf = with_headroom(&syn, 128);
        let len = syn.len();
        let v = d.process(
            &mut Rx::new(&mut buf, 128, len, PortId(0)),
            Time::from_secs(1),
        );
        assert!(matches!(v, Verdict::Forward { .. }));
        let mut buf = with_headroom(&ack, 128);
        let len = ack.len();
        g.bench_function(name, |b| {
            b.iter(|| {
                buf[128..128 + len].copy_from_slice(&ack);
                let mut rx = Rx::new(&mut buf, 128, len, PortId(0));
                black_box(d.process(&mut rx, Time::from_secs(2)))
            })
        });
    }
    // NAT reply direction.
    let mut d = director(ForwardMethod::Masq, 10_000);
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
    let reply = Spec::tcp(&rip.to_string(), 80, "203.0.113.250", 40000, TCP_ACK)
        .payload(&[0u8; 6])
        .frame();
    let mut buf = with_headroom(&reply, 128);
    let len = reply.len();
    g.bench_function("nat_out", |b| {
        b.iter(|| {
            buf[128..128 + len].copy_from_slice(&reply);
            let mut rx = Rx::new(&mut buf, 128, len, PortId(1));
            black_box(d.process(&mut rx, Time::from_secs(2)))
        })
    });
    g.finish();
}

fn bench_new_conn(c: &mut Criterion) {
    let mut g = c.benchmark_group("new_connection");
    g.throughput(Throughput::Elements(1));
    let mut d = director(ForwardMethod::Masq, 0);
    let mut port: u32 = 0;
    let syn = Spec::tcp("203.0.113.250", 1, "192.0.2.10", 80, TCP_SYN).frame();
    let mut buf = with_headroom(&syn, 128);
    let len = syn.len();
    let mut now = 10u64;
    g.bench_function("nat_syn", |b| {
        b.iter_batched(
            || {},
            |_| {
                port = port.wrapping_add(1);
                buf[128..128 + len].copy_from_slice(&syn);
                // A new client port each time (the checksum is not re-done: the
                // director does not verify it, and the cost is the same).
                let p = (port % 60000 + 1024) as u16;
                buf[128 + 34..128 + 36].copy_from_slice(&p.to_be_bytes());
                if port.is_multiple_of(60000) {
                    now += 200;
                    d.expire(Time::from_secs(now), usize::MAX);
                }
                let mut rx = Rx::new(&mut buf, 128, len, PortId(0));
                black_box(d.process(&mut rx, Time::from_secs(now)))
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

type Keys = Vec<([u8; 4], u16)>;

fn fill(n: u32) -> (ConnTable<[u8; 4]>, Keys) {
    let bits = (32 - n.leading_zeros()) as u8;
    let mut t = ConnTable::<[u8; 4]>::new(bits, n, 0xabcdef);
    let mut keys = Vec::with_capacity(n as usize);
    for i in 0..n {
        let caddr = (0xCB00_7100u32 ^ (i / 60000)).to_be_bytes();
        let cport = (i % 60000) as u16 + 1024;
        t.insert(
            NewConn {
                proto: 6,
                caddr,
                cport,
                vaddr: [192, 0, 2, 10],
                vport: 80,
                daddr: [198, 51, 100, 11],
                dport: 80,
                state: ConnState::Established,
                flags: flags::FWD_MASQ,
                dest: DestId(0),
                control: NIL,
            },
            Duration::from_secs(900),
            Time::from_secs(1),
        )
        .unwrap();
        keys.push((caddr, cport));
    }
    // Look up in an order unrelated to insertion, so caches do not help.
    let mut x = 0x9E37_79B9u64;
    for i in (1..keys.len()).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        keys.swap(i, (x % (i as u64 + 1)) as usize);
    }
    (t, keys)
}

fn bench_lookup(c: &mut Criterion) {
    let mut g = c.benchmark_group("lookup");
    g.throughput(Throughput::Elements(1));
    g.sample_size(30);
    for (name, n) in [("1M", 1_000_000u32), ("10M", 10_000_000u32)] {
        let (t, keys) = fill(n);
        let mut i = 0usize;
        g.bench_function(name, |b| {
            b.iter(|| {
                i = (i + 1) % keys.len();
                let (ca, cp) = keys[i];
                black_box(t.lookup_in(6, &ca, cp, &[192, 0, 2, 10], 80))
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench_established, bench_new_conn, bench_lookup);
criterion_main!(benches);
