//! The agent's counters: packets received from the tunnel sockets, delivered to the TUN
//! device, and dropped by reason. Written by the agent's thread, readable from any
//! thread at any time.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::filter::DropReason;

/// Live counters, shared through an `Arc` (see [`crate::TunnelAgent::counters`]).
#[derive(Debug, Default)]
pub struct TunnelCounters {
    received: AtomicU64,
    delivered: AtomicU64,
    dropped: [AtomicU64; DropReason::ALL.len()],
}

impl TunnelCounters {
    pub(crate) fn count_received(&self) {
        self.received.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_delivered(&self) {
        self.delivered.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_dropped(&self, reason: DropReason) {
        self.dropped[reason.index()].fetch_add(1, Ordering::Relaxed);
    }

    /// A consistent-enough copy (each counter read once; they are independent).
    pub fn snapshot(&self) -> CountersSnapshot {
        let mut dropped = [0; DropReason::ALL.len()];
        for (out, counter) in dropped.iter_mut().zip(&self.dropped) {
            *out = counter.load(Ordering::Relaxed);
        }
        CountersSnapshot {
            received: self.received.load(Ordering::Relaxed),
            delivered: self.delivered.load(Ordering::Relaxed),
            dropped,
        }
    }
}

/// The counters at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CountersSnapshot {
    /// Packets read from the tunnel sockets.
    pub received: u64,
    /// Inner packets written to the TUN device.
    pub delivered: u64,
    /// Drops, indexed by [`DropReason::index`].
    pub dropped: [u64; DropReason::ALL.len()],
}

impl CountersSnapshot {
    /// Packets dropped for `reason`.
    pub fn dropped(&self, reason: DropReason) -> u64 {
        self.dropped[reason.index()]
    }

    /// Packets dropped for any reason.
    pub fn dropped_total(&self) -> u64 {
        self.dropped.iter().sum()
    }
}

impl fmt::Display for CountersSnapshot {
    /// `received 10 delivered 8 dropped 2 (not_vip 2)`: reasons with a zero count are
    /// left out.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "received {} delivered {} dropped {}",
            self.received,
            self.delivered,
            self.dropped_total()
        )?;
        let mut first = true;
        for reason in DropReason::ALL {
            let n = self.dropped(reason);
            if n == 0 {
                continue;
            }
            f.write_str(if first { " (" } else { ", " })?;
            write!(f, "{} {}", reason.name(), n)?;
            first = false;
        }
        if !first {
            f.write_str(")")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_counts_and_formats() {
        let c = TunnelCounters::default();
        assert_eq!(c.snapshot().to_string(), "received 0 delivered 0 dropped 0");
        for _ in 0..3 {
            c.count_received();
        }
        c.count_delivered();
        c.count_dropped(DropReason::NotVip);
        c.count_dropped(DropReason::OuterMalformed);
        let s = c.snapshot();
        assert_eq!(s.received, 3);
        assert_eq!(s.delivered, 1);
        assert_eq!(s.dropped(DropReason::NotVip), 1);
        assert_eq!(s.dropped_total(), 2);
        assert_eq!(
            s.to_string(),
            "received 3 delivered 1 dropped 2 (outer_malformed 1, not_vip 1)"
        );
    }
}
