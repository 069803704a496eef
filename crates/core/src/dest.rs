//! Runtime state of a real server (destination): its identity, the settings the
//! control plane may change in place, and the connection counters that the
//! schedulers read. Shared between the control plane and every data-plane shard,
//! so everything mutable is atomic; counters change on connection creation, state
//! change and expiry, never per packet.

use std::net::IpAddr;
use std::sync::atomic::{AtomicI32, AtomicU32, AtomicU8, Ordering::Relaxed};

use crate::model::{DestConfig, ForwardMethod};

/// Index of a destination in the director's destination registry. Connections
/// refer to their real server by this id (4 bytes instead of a pointer).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DestId(pub u32);

const F_AVAILABLE: u8 = 1;
const F_OVERLOAD: u8 = 2;

/// A real server as the data plane sees it.
#[derive(Debug)]
pub struct Dest {
    id: DestId,
    addr: IpAddr,
    port: u16,
    method: AtomicU8,
    weight: AtomicI32,
    u_threshold: AtomicU32,
    l_threshold: AtomicU32,
    flags: AtomicU8,
    active: AtomicU32,
    inactive: AtomicU32,
    persist: AtomicU32,
}

fn method_to_u8(m: ForwardMethod) -> u8 {
    match m {
        ForwardMethod::Masq => 0,
        ForwardMethod::Tunnel => 1,
        ForwardMethod::Route => 2,
    }
}

fn method_from_u8(v: u8) -> ForwardMethod {
    match v {
        1 => ForwardMethod::Tunnel,
        2 => ForwardMethod::Route,
        _ => ForwardMethod::Masq,
    }
}

impl Dest {
    /// A new, available destination with zero counters.
    pub fn new(id: DestId, cfg: &DestConfig) -> Dest {
        let d = Dest {
            id,
            addr: cfg.addr,
            port: cfg.port,
            method: AtomicU8::new(0),
            weight: AtomicI32::new(0),
            u_threshold: AtomicU32::new(0),
            l_threshold: AtomicU32::new(0),
            flags: AtomicU8::new(F_AVAILABLE),
            active: AtomicU32::new(0),
            inactive: AtomicU32::new(0),
            persist: AtomicU32::new(0),
        };
        d.apply(cfg);
        d
    }

    /// Apply an edit (`ipvsadm -e`): method, weight and thresholds change in place,
    /// counters and connections stay.
    pub fn apply(&self, cfg: &DestConfig) {
        self.method.store(method_to_u8(cfg.method), Relaxed);
        self.weight
            .store(cfg.weight.min(i32::MAX as u32) as i32, Relaxed);
        self.u_threshold.store(cfg.u_threshold, Relaxed);
        self.l_threshold.store(cfg.l_threshold, Relaxed);
        self.update_overload();
    }

    pub fn id(&self) -> DestId {
        self.id
    }
    pub fn addr(&self) -> IpAddr {
        self.addr
    }
    pub fn port(&self) -> u16 {
        self.port
    }
    pub fn method(&self) -> ForwardMethod {
        method_from_u8(self.method.load(Relaxed))
    }
    /// Current (effective) weight; 0 or less means quiescent.
    pub fn weight(&self) -> i32 {
        self.weight.load(Relaxed)
    }
    /// Set the effective weight (health checks, slow start) without touching counters.
    pub fn set_weight(&self, w: i32) {
        self.weight.store(w, Relaxed);
    }
    pub fn u_threshold(&self) -> u32 {
        self.u_threshold.load(Relaxed)
    }
    pub fn l_threshold(&self) -> u32 {
        self.l_threshold.load(Relaxed)
    }
    /// Active connections (TCP ESTABLISHED).
    pub fn active_conns(&self) -> u32 {
        self.active.load(Relaxed)
    }
    /// Inactive connections (every other state, and UDP).
    pub fn inactive_conns(&self) -> u32 {
        self.inactive.load(Relaxed)
    }
    /// Persistence templates pointing at this destination.
    pub fn persist_conns(&self) -> u32 {
        self.persist.load(Relaxed)
    }
    /// Connections and templates that still refer to this destination.
    pub fn refs(&self) -> u32 {
        self.active_conns() + self.inactive_conns() + self.persist_conns()
    }
    /// IPVS's connection overhead for lc/wlc: active connections weigh 256 inactive ones.
    pub fn conn_overhead(&self) -> u32 {
        (self.active_conns() << 8).wrapping_add(self.inactive_conns())
    }
    /// Still part of its service (a removed destination stays until its connections end).
    pub fn is_available(&self) -> bool {
        self.flags.load(Relaxed) & F_AVAILABLE != 0
    }
    /// Over its upper threshold and not yet back under the lower one.
    pub fn is_overloaded(&self) -> bool {
        self.flags.load(Relaxed) & F_OVERLOAD != 0
    }
    /// May receive new connections: available, weight > 0, not overloaded.
    pub fn is_schedulable(&self) -> bool {
        self.flags.load(Relaxed) == F_AVAILABLE && self.weight() > 0
    }
    /// Mark as removed from its service (or put back).
    pub fn set_available(&self, yes: bool) {
        if yes {
            self.flags.fetch_or(F_AVAILABLE, Relaxed);
        } else {
            self.flags.fetch_and(!F_AVAILABLE, Relaxed);
        }
    }

    /// A connection (or template) now refers to this destination.
    pub fn bind_conn(&self, template: bool, active: bool) {
        if template {
            self.persist.fetch_add(1, Relaxed);
        } else if active {
            self.active.fetch_add(1, Relaxed);
        } else {
            self.inactive.fetch_add(1, Relaxed);
        }
        self.update_overload();
    }

    /// A connection (or template) no longer refers to this destination.
    pub fn unbind_conn(&self, template: bool, active: bool) {
        let ctr = if template {
            &self.persist
        } else if active {
            &self.active
        } else {
            &self.inactive
        };
        // Saturate: a counter never wraps below zero even if a caller is wrong.
        let _ = ctr.fetch_update(Relaxed, Relaxed, |v| Some(v.saturating_sub(1)));
        self.update_overload();
    }

    /// A connection moved between active (ESTABLISHED) and inactive.
    pub fn move_conn(&self, to_active: bool) {
        let (from, to) = if to_active {
            (&self.inactive, &self.active)
        } else {
            (&self.active, &self.inactive)
        };
        let _ = from.fetch_update(Relaxed, Relaxed, |v| Some(v.saturating_sub(1)));
        to.fetch_add(1, Relaxed);
    }

    /// IPVS's overload hysteresis: set at or above the upper threshold; cleared below
    /// the lower threshold, or below 3/4 of the upper one when no lower is set.
    fn update_overload(&self) {
        let total = self.active_conns() as u64 + self.inactive_conns() as u64;
        let upper = self.u_threshold() as u64;
        let lower = self.l_threshold() as u64;
        let overloaded = self.is_overloaded();
        let set = upper != 0 && total >= upper;
        let clear = if lower != 0 {
            total < lower
        } else if upper != 0 {
            total * 4 < upper * 3
        } else {
            true
        };
        if set && !overloaded {
            self.flags.fetch_or(F_OVERLOAD, Relaxed);
        } else if clear && overloaded {
            self.flags.fetch_and(!F_OVERLOAD, Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(u: u32, l: u32) -> DestConfig {
        DestConfig {
            addr: "198.51.100.11".parse().unwrap(),
            port: 80,
            method: ForwardMethod::Masq,
            weight: 1,
            u_threshold: u,
            l_threshold: l,
        }
    }

    #[test]
    fn overload_hysteresis_with_lower_threshold() {
        let d = Dest::new(DestId(0), &cfg(3, 1));
        for _ in 0..3 {
            assert!(!d.is_overloaded());
            d.bind_conn(false, false);
        }
        assert!(d.is_overloaded());
        assert!(!d.is_schedulable());
        d.unbind_conn(false, false);
        assert!(
            d.is_overloaded(),
            "2 conns: still above the lower threshold"
        );
        d.unbind_conn(false, false);
        assert!(
            d.is_overloaded(),
            "1 conn: not yet below the lower threshold"
        );
        d.unbind_conn(false, false);
        assert!(!d.is_overloaded());
        assert!(d.is_schedulable());
    }

    #[test]
    fn overload_hysteresis_without_lower_threshold() {
        let d = Dest::new(DestId(0), &cfg(4, 0));
        for _ in 0..4 {
            d.bind_conn(false, true);
        }
        assert!(d.is_overloaded());
        d.unbind_conn(false, true); // 3*4 = 12 < 12? no
        assert!(d.is_overloaded());
        d.unbind_conn(false, true); // 2*4 = 8 < 12
        assert!(!d.is_overloaded());
    }

    #[test]
    fn quiescent_is_not_schedulable() {
        let mut c = cfg(0, 0);
        c.weight = 0;
        let d = Dest::new(DestId(1), &c);
        assert!(d.is_available());
        assert!(!d.is_schedulable());
    }
}
