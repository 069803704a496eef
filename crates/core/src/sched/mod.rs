//! The IPVS schedulers. A scheduler picks the real server for a new connection of
//! one virtual service. Each data-plane shard owns its own scheduler instances
//! (no locks); they read the shared destination counters that connections keep.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use crate::dest::Dest;
use crate::model::{SchedFlags, SchedulerKind};
use crate::time::Time;

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
pub fn new_scheduler(kind: SchedulerKind, flags: SchedFlags) -> Box<dyn Scheduler> {
    let _ = (kind, flags);
    todo!("schedulers")
}
