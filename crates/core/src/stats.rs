//! Traffic counters and rate estimation, like `ipvsadm --stats` and `--rate`.
//!
//! Each data-plane shard owns its counters and is their only writer, so a counter
//! update is a plain load and store (no atomic read-modify-write, no shared cache
//! line); readers on the control plane sum the shards. Zeroing (`ipvsadm -Z`) is done
//! by the reader keeping a baseline, never by writing into a shard's counters.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use serde::{Deserialize, Serialize};

/// Plain totals (connections, packets and bytes each way).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    pub conns: u64,
    pub inpkts: u64,
    pub outpkts: u64,
    pub inbytes: u64,
    pub outbytes: u64,
}

impl Totals {
    pub fn add(&mut self, o: &Totals) {
        self.conns += o.conns;
        self.inpkts += o.inpkts;
        self.outpkts += o.outpkts;
        self.inbytes += o.inbytes;
        self.outbytes += o.outbytes;
    }
    /// `self - base`, saturating (for zeroed counters).
    pub fn since(&self, base: &Totals) -> Totals {
        Totals {
            conns: self.conns.saturating_sub(base.conns),
            inpkts: self.inpkts.saturating_sub(base.inpkts),
            outpkts: self.outpkts.saturating_sub(base.outpkts),
            inbytes: self.inbytes.saturating_sub(base.inbytes),
            outbytes: self.outbytes.saturating_sub(base.outbytes),
        }
    }
}

/// Single-writer counters of one service or real server in one shard.
#[derive(Debug, Default)]
pub struct Counters {
    conns: AtomicU64,
    inpkts: AtomicU64,
    outpkts: AtomicU64,
    inbytes: AtomicU64,
    outbytes: AtomicU64,
}

#[inline]
fn bump(c: &AtomicU64, n: u64) {
    // Single writer: load + store compiles to a plain add, no locked instruction.
    c.store(c.load(Relaxed).wrapping_add(n), Relaxed);
}

impl Counters {
    #[inline]
    pub fn conn(&self) {
        bump(&self.conns, 1);
    }
    #[inline]
    pub fn inbound(&self, bytes: u64) {
        bump(&self.inpkts, 1);
        bump(&self.inbytes, bytes);
    }
    #[inline]
    pub fn outbound(&self, bytes: u64) {
        bump(&self.outpkts, 1);
        bump(&self.outbytes, bytes);
    }
    pub fn read(&self) -> Totals {
        Totals {
            conns: self.conns.load(Relaxed),
            inpkts: self.inpkts.load(Relaxed),
            outpkts: self.outpkts.load(Relaxed),
            inbytes: self.inbytes.load(Relaxed),
            outbytes: self.outbytes.load(Relaxed),
        }
    }
}

/// Rates per second, as `ipvsadm --rate` shows them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rates {
    pub cps: u64,
    pub inpps: u64,
    pub outpps: u64,
    pub inbps: u64,
    pub outbps: u64,
}

/// IPVS's rate estimator: sampled every 2 s, each rate is an exponentially weighted
/// moving average with weight 1/4, kept in fixed point (2^10 for cps/pps, 2^5 for
/// bytes/s) exactly as the kernel does, so figures match what LVS users know.
#[derive(Clone, Debug, Default)]
pub struct Estimator {
    last: Totals,
    started: bool,
    cps: i64,
    inpps: i64,
    outpps: i64,
    inbps: i64,
    outbps: i64,
}

/// The interval at which [`Estimator::sample`] should be called.
pub const ESTIMATOR_INTERVAL_SECS: u64 = 2;

impl Estimator {
    /// Feed the current totals; call every [`ESTIMATOR_INTERVAL_SECS`].
    pub fn sample(&mut self, now: &Totals) {
        if !self.started {
            self.started = true;
            self.last = *now;
            return;
        }
        let d = now.since(&self.last);
        self.last = *now;
        // Per 2 s interval: << 9 is "per second, scaled by 2^10"; << 4 is 2^5 for bytes.
        let ewma = |avg: &mut i64, rate: i64| *avg += (rate - *avg) >> 2;
        ewma(&mut self.cps, (d.conns as i64) << 9);
        ewma(&mut self.inpps, (d.inpkts as i64) << 9);
        ewma(&mut self.outpps, (d.outpkts as i64) << 9);
        ewma(&mut self.inbps, (d.inbytes as i64) << 4);
        ewma(&mut self.outbps, (d.outbytes as i64) << 4);
    }

    pub fn rates(&self) -> Rates {
        let r10 = |v: i64| ((v.max(0) + 0x1FF) >> 10) as u64;
        let r5 = |v: i64| ((v.max(0) + 0xF) >> 5) as u64;
        Rates {
            cps: r10(self.cps),
            inpps: r10(self.inpps),
            outpps: r10(self.outpps),
            inbps: r5(self.inbps),
            outbps: r5(self.outbps),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_sum() {
        let c = Counters::default();
        c.conn();
        c.inbound(100);
        c.inbound(60);
        c.outbound(1500);
        let t = c.read();
        assert_eq!(
            (t.conns, t.inpkts, t.inbytes, t.outpkts, t.outbytes),
            (1, 2, 160, 1, 1500)
        );
    }

    #[test]
    fn estimator_converges_to_steady_rate() {
        let mut e = Estimator::default();
        let mut t = Totals::default();
        e.sample(&t);
        for _ in 0..60 {
            // 100 conn/s, 1000 pkt/s in, 1 MB/s in, over a 2 s interval
            t.conns += 200;
            t.inpkts += 2000;
            t.inbytes += 2_000_000;
            e.sample(&t);
        }
        let r = e.rates();
        assert_eq!(r.cps, 100);
        assert_eq!(r.inpps, 1000);
        assert_eq!(r.inbps, 1_000_000);
        assert_eq!(r.outpps, 0);
        // Traffic stops: the averages decay towards zero.
        for _ in 0..60 {
            e.sample(&t);
        }
        assert_eq!(e.rates().cps, 0);
    }
}
