//! Helpers for scheduler tests here and elsewhere in the crate: destinations with
//! given weights and counters, contexts for synthetic first packets, pick loops.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use super::{SchedContext, Scheduler};
use crate::dest::{Dest, DestId};
use crate::model::{DestConfig, ForwardMethod};
use crate::time::Time;

fn config(addr: IpAddr, weight: u32) -> DestConfig {
    DestConfig {
        addr,
        port: 80,
        method: ForwardMethod::Masq,
        weight,
        u_threshold: 0,
        l_threshold: 0,
    }
}

/// Real servers 198.51.100.1, .2, ... port 80 with the given weights, ids 0, 1, ...
pub fn test_dests(weights: &[u32]) -> Vec<Arc<Dest>> {
    weights
        .iter()
        .enumerate()
        .map(|(i, &w)| {
            let addr = IpAddr::V4(Ipv4Addr::from(0xc633_6400u32 + 1 + i as u32));
            Arc::new(Dest::new(DestId(i as u32), &config(addr, w)))
        })
        .collect()
}

/// A real server with an arbitrary address and id (for lists built by hand).
pub fn dest_at(id: u32, addr: IpAddr, weight: u32) -> Arc<Dest> {
    Arc::new(Dest::new(DestId(id), &config(addr, weight)))
}

/// Set the active and inactive connection counters of `d`.
pub fn set_conns(d: &Dest, active: u32, inactive: u32) {
    while d.active_conns() > active {
        d.unbind_conn(false, true);
    }
    while d.active_conns() < active {
        d.bind_conn(false, true);
    }
    while d.inactive_conns() > inactive {
        d.unbind_conn(false, false);
    }
    while d.inactive_conns() < inactive {
        d.bind_conn(false, false);
    }
}

/// Raise the OVERLOAD flag of `d` (upper threshold reached), keeping its weight.
pub fn make_overloaded(d: &Dest) {
    let mut cfg = config(d.addr(), d.weight().max(0) as u32);
    cfg.port = d.port();
    cfg.u_threshold = 1;
    if d.active_conns() + d.inactive_conns() == 0 {
        d.bind_conn(false, false);
    }
    d.apply(&cfg);
    assert!(d.is_overloaded());
}

/// A context for client 203.0.113.x (x = `client`, wrapping into the /16 above it)
/// towards VIP 192.0.2.y (y = `vip`), at time zero.
pub fn ctx_v4(client: u32, vip: u8) -> SchedContext {
    SchedContext {
        client_addr: IpAddr::V4(Ipv4Addr::from(0xcb00_7100u32.wrapping_add(client))),
        client_port: 40000,
        dest_addr: IpAddr::V4(Ipv4Addr::new(192, 0, 2, vip)),
        dest_port: 80,
        now: Time::ZERO,
    }
}

/// A context for client 2001:db8:c::`client` towards VIP 2001:db8:f::`vip`.
pub fn ctx_v6(client: u32, vip: u16) -> SchedContext {
    SchedContext {
        client_addr: IpAddr::V6(Ipv6Addr::new(
            0x2001,
            0xdb8,
            0xc,
            0,
            0,
            0,
            (client >> 16) as u16,
            client as u16,
        )),
        client_port: 40000,
        dest_addr: IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0xf, 0, 0, 0, 0, vip)),
        dest_port: 80,
        now: Time::ZERO,
    }
}

/// `n` picks with the same context, `usize::MAX` standing for "no pick".
pub fn picks(s: &mut dyn Scheduler, dests: &[Arc<Dest>], n: usize) -> Vec<usize> {
    let ctx = ctx_v4(1, 1);
    (0..n)
        .map(|_| s.schedule(dests, &ctx).unwrap_or(usize::MAX))
        .collect()
}

/// How often each destination is picked over `n` picks (no connection is bound).
pub fn pick_counts(s: &mut dyn Scheduler, dests: &[Arc<Dest>], n: usize) -> Vec<usize> {
    let mut counts = vec![0; dests.len()];
    for p in picks(s, dests, n) {
        if p != usize::MAX {
            counts[p] += 1;
        }
    }
    counts
}
