//! Bytes per tracked IPv4 connection, measured: fills a connection table with
//! 1 M and 10 M connections and reports the table's own accounting and the growth of
//! the process's resident memory. Run: `cargo bench -p rvs-core --bench conn_memory`.

#![allow(clippy::unwrap_used)] // benchmark set-up: a failure is a bug in the bench

use std::time::Duration;

use rvs_core::conn::table::{flags, NewConn, NIL};
use rvs_core::conn::{ConnState, ConnTable};
use rvs_core::{DestId, Time};

fn rss_bytes() -> usize {
    // /proc/self/statm: size resident ... in pages
    let s = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: usize = s
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn measure(n: u32, bits: u8) {
    let before = rss_bytes();
    let mut t = ConnTable::<[u8; 4]>::new(bits, n, 42);
    for i in 0..n {
        let caddr = (0xCB00_7100u32 ^ (i / 60000)).to_be_bytes();
        t.insert(
            NewConn {
                proto: 6,
                caddr,
                cport: (i % 60000) as u16 + 1024,
                vaddr: [192, 0, 2, 10],
                vport: 80,
                daddr: [198, 51, 100, 11],
                dport: 80,
                state: ConnState::Established,
                flags: flags::FWD_MASQ,
                dest: DestId(0),
                control: NIL,
            },
            // Spread deadlines over the wheel like real traffic does.
            Duration::from_secs(60 + (i % 840) as u64),
            Time::from_secs(1),
        )
        .expect("capacity");
    }
    let after = rss_bytes();
    println!(
        "conn_memory: {n} IPv4 connections, 2^{bits} buckets: table accounting {:.1} bytes/conn, RSS growth {:.1} bytes/conn",
        t.memory_bytes() as f64 / n as f64,
        (after - before) as f64 / n as f64
    );
    drop(t);
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` passes nothing useful.
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    measure(1_000_000, 20);
    measure(10_000_000, 23);
}
