//! The IPVS schedulers. A scheduler picks the real server for a new connection of
//! one virtual service. Each data-plane shard owns its own scheduler instances
//! (no locks); they read the shared destination counters that connections keep.
//!
//! | name  | module       | picks                                                        |
//! |-------|--------------|--------------------------------------------------------------|
//! | rr    | [`rr`]       | the next schedulable destination in list order               |
//! | wrr   | [`wrr`]      | interleaved weighted round robin (current weight stepped by the gcd) |
//! | lc    | [`lc`]       | least connection overhead (active × 256 + inactive)          |
//! | wlc   | [`lc`]       | least overhead / weight                                      |
//! | sed   | [`lc`]       | least (active + 1) / weight                                  |
//! | nq    | [`lc`]       | an idle destination if any, else as sed                      |
//! | sh    | [`hashing`]  | 256-bucket table, weighted, keyed by the client address      |
//! | dh    | [`hashing`]  | 256-bucket table keyed by the destination address            |
//! | lblc  | [`lblc`]     | the destination remembered for the destination address, else wlc |
//! | lblcr | [`lblcr`]    | the least loaded of a remembered set per destination address |
//! | mh    | [`mh`]       | Maglev consistent hashing of the client address              |
//! | fo    | [`failover`] | the highest-weight schedulable destination                   |
//! | ovf   | [`failover`] | the highest-weight destination still under its weight in active connections |
//!
//! Everywhere IPVS's skip rule holds: a destination that is quiescent (weight 0 or
//! less), overloaded (upper connection threshold) or removed from its service gets
//! no new connection. [`Scheduler::schedule`] never allocates and never panics; the
//! tables that some schedulers derive from the destination list are rebuilt in
//! [`Scheduler::update`], and lblc/lblcr expire their tables in [`Scheduler::tick`].

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use crate::dest::Dest;
use crate::model::{SchedFlags, SchedulerKind};
use crate::time::Time;

pub mod failover;
mod hash;
pub mod hashing;
pub mod lblc;
pub mod lblcr;
pub mod lc;
mod locality;
pub mod mh;
pub mod rr;
pub mod wrr;

#[cfg(test)]
mod alloc_check;
#[cfg(test)]
mod proptests;
#[cfg(test)]
pub mod testutil;

pub use failover::{Overflow, WeightedFailover};
pub use hashing::{DestHash, SourceHash};
pub use lblc::Lblc;
pub use lblcr::Lblcr;
pub use lc::{LeastConn, NeverQueue, ShortestExpectedDelay, WeightedLeastConn};
pub use mh::{Maglev, MhTableSizeError};
pub use rr::RoundRobin;
pub use wrr::WeightedRoundRobin;

/// What a scheduler may look at for one new connection.
#[derive(Clone, Copy, Debug)]
pub struct SchedContext {
    /// Client (source) address and port of the first packet.
    pub client_addr: IpAddr,
    pub client_port: u16,
    /// Destination address and port of the first packet (the VIP, or for a
    /// firewall-mark service whatever address the mark covers: dh/lblc/lblcr hash it).
    pub dest_addr: IpAddr,
    pub dest_port: u16,
    pub now: Time,
}

/// A scheduling algorithm for one virtual service.
pub trait Scheduler: Send + fmt::Debug {
    fn kind(&self) -> SchedulerKind;

    /// The destination list changed (added, removed, weights or thresholds edited):
    /// rebuild whatever the scheduler derives from it. `dests` is the service's
    /// current list, in the order destinations were added.
    fn update(&mut self, dests: &[Arc<Dest>]);

    /// Pick a destination for a new connection: an index into `dests` (the same list
    /// last passed to `update`), or `None` when no destination may take it. Must
    /// tolerate weights and counters that changed since `update`.
    fn schedule(&mut self, dests: &[Arc<Dest>], ctx: &SchedContext) -> Option<usize>;

    /// Periodic housekeeping driven by the caller's slow timer (lblc/lblcr expire
    /// their tables here). Default: nothing.
    fn tick(&mut self, _now: Time) {}
}

/// A new scheduler of `kind` with `flags`, not yet updated with any destination.
/// Only sh and mh read the flags (fallback, port); the others ignore them, as in IPVS.
pub fn new_scheduler(kind: SchedulerKind, flags: SchedFlags) -> Box<dyn Scheduler> {
    match kind {
        SchedulerKind::Rr => Box::new(RoundRobin::new()),
        SchedulerKind::Wrr => Box::new(WeightedRoundRobin::new()),
        SchedulerKind::Lc => Box::new(LeastConn),
        SchedulerKind::Wlc => Box::new(WeightedLeastConn),
        SchedulerKind::Sed => Box::new(ShortestExpectedDelay),
        SchedulerKind::Nq => Box::new(NeverQueue),
        SchedulerKind::Sh => Box::new(SourceHash::new(flags)),
        SchedulerKind::Dh => Box::new(DestHash::new()),
        SchedulerKind::Lblc => Box::new(Lblc::new()),
        SchedulerKind::Lblcr => Box::new(Lblcr::new()),
        SchedulerKind::Mh => Box::new(Maglev::new(flags)),
        SchedulerKind::Fo => Box::new(WeightedFailover),
        SchedulerKind::Ovf => Box::new(Overflow),
    }
}

/// The weight of `d` when it may take a new connection (IPVS's skip rule: still in
/// its service, weight above 0, not overloaded), else `None`.
#[inline]
pub(crate) fn usable_weight(d: &Dest) -> Option<u64> {
    let w = d.weight();
    (w > 0 && d.is_schedulable()).then_some(w as u64)
}

/// Whether load `a_load` on weight `a_weight` is strictly lighter per unit of weight
/// than `b_load` on `b_weight`: IPVS's cross multiplication (no division), in u128
/// so that no overhead × weight product can overflow.
#[inline]
pub(crate) fn lighter(a_load: u64, a_weight: u64, b_load: u64, b_weight: u64) -> bool {
    u128::from(a_load) * u128::from(b_weight) < u128::from(b_load) * u128::from(a_weight)
}

/// IPVS's weighted least-connection pick over `dests` with `overhead` as the load
/// measure: the first usable destination is the candidate, and a later one replaces
/// it only when strictly less loaded per unit of weight. Used by wlc, sed and
/// lblc/lblcr.
#[inline]
pub(crate) fn weighted_least(
    dests: &[Arc<Dest>],
    overhead: impl Fn(&Dest) -> u64,
) -> Option<usize> {
    let mut rest = dests.iter().enumerate();
    let (mut least, mut least_oh, mut least_w) = loop {
        let (i, d) = rest.next()?;
        if let Some(w) = usable_weight(d) {
            break (i, overhead(d), w);
        }
    };
    for (i, d) in rest {
        let Some(w) = usable_weight(d) else { continue };
        let oh = overhead(d);
        if lighter(oh, w, least_oh, least_w) {
            (least, least_oh, least_w) = (i, oh, w);
        }
    }
    Some(least)
}

/// IPVS's connection overhead as a u64 (active connections weigh 256 inactive ones).
#[inline]
pub(crate) fn conn_overhead(d: &Dest) -> u64 {
    (u64::from(d.active_conns()) << 8) + u64::from(d.inactive_conns())
}

/// True when `d` carries more active connections than its weight while another
/// destination of the service is below half of its weight: lblc and lblcr then move
/// the destination address elsewhere (IPVS's `is_overloaded` of those schedulers).
pub(crate) fn locality_overloaded(d: &Dest, dests: &[Arc<Dest>]) -> bool {
    if i64::from(d.active_conns()) <= i64::from(d.weight()) {
        return false;
    }
    dests
        .iter()
        .any(|o| o.is_available() && i64::from(o.active_conns()) * 2 < i64::from(o.weight()))
}
