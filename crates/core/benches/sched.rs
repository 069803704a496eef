//! Cost of one scheduling decision (a pick) for each IPVS scheduler with 100 real
//! servers of mixed weights and loads, new clients on every pick; plus the table
//! rebuilds that sh and mh do on `update`.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use rvs_core::sched::{new_scheduler, SchedContext};
use rvs_core::{Dest, DestConfig, DestId, ForwardMethod, SchedFlags, SchedulerKind, Time};

const SERVERS: u32 = 100;

/// 100 real servers 198.51.100.x / 198.51.101.x with weights 1..=10 and a spread of
/// active and inactive connections, so the least-connection scans do real work (all
/// busy: nq's shortcut to an idle server never applies, its full scan is measured).
fn servers() -> Vec<Arc<Dest>> {
    (0..SERVERS)
        .map(|i| {
            let cfg = DestConfig {
                addr: IpAddr::V4(Ipv4Addr::from(0xc633_6400 + 1 + i)),
                port: 80,
                method: ForwardMethod::Route,
                weight: 1 + (i * 7) % 10,
                u_threshold: 0,
                l_threshold: 0,
            };
            let d = Dest::new(DestId(i), &cfg);
            for _ in 0..1 + (i * 13) % 40 {
                d.bind_conn(false, true);
            }
            for _ in 0..(i * 29) % 150 {
                d.bind_conn(false, false);
            }
            Arc::new(d)
        })
        .collect()
}

/// The first packet of the `n`th new connection: a new client each time, one of
/// 1024 destination addresses (lblc/lblcr keep an entry per destination address).
fn context(n: u32) -> SchedContext {
    SchedContext {
        client_addr: IpAddr::V4(Ipv4Addr::from(
            0xcb00_7100u32.wrapping_add(n.wrapping_mul(2_654_435_761)),
        )),
        client_port: 1024 + (n % 60_000) as u16,
        dest_addr: IpAddr::V4(Ipv4Addr::from(0xc000_0200 + (n % 1024))),
        dest_port: 80,
        now: Time::from_millis(u64::from(n)),
    }
}

fn picks(c: &mut Criterion) {
    let dests = servers();
    let mut group = c.benchmark_group("pick_100_servers");
    for kind in SchedulerKind::ALL {
        let mut s = new_scheduler(kind, SchedFlags::default());
        s.update(&dests);
        let mut n = 0u32;
        group.bench_function(kind.name(), |b| {
            b.iter(|| {
                n = n.wrapping_add(1);
                black_box(s.schedule(black_box(&dests), &context(n)))
            })
        });
    }
    // The fallback walk of sh and mh, with the hashed server quiescent for 10%.
    let flags = SchedFlags {
        fallback: true,
        port: true,
        flag3: false,
    };
    for kind in [SchedulerKind::Sh, SchedulerKind::Mh] {
        let dests = servers();
        let mut s = new_scheduler(kind, flags);
        s.update(&dests);
        for d in dests.iter().step_by(10) {
            d.set_weight(0);
        }
        let mut n = 0u32;
        group.bench_function(format!("{}-fallback", kind.name()), |b| {
            b.iter(|| {
                n = n.wrapping_add(1);
                black_box(s.schedule(black_box(&dests), &context(n)))
            })
        });
    }
    group.finish();
}

fn updates(c: &mut Criterion) {
    let dests = servers();
    let mut group = c.benchmark_group("update_100_servers");
    for kind in [SchedulerKind::Sh, SchedulerKind::Mh] {
        let mut s = new_scheduler(kind, SchedFlags::default());
        group.bench_function(kind.name(), |b| b.iter(|| s.update(black_box(&dests))));
    }
    group.finish();
}

criterion_group!(benches, picks, updates);
criterion_main!(benches);
