//! mh, Maglev hashing (Eisenbud et al., NSDI 2016, §3.4): consistent hashing of the
//! client address (and port with the port flag) through a prime-sized lookup table.
//! Each destination has a permutation of the table positions (offset and skip from
//! hashes of its address and port); destinations take turns claiming their next
//! preferred free position until the table is full, each claiming as many positions
//! per turn as its weight divided by the gcd of the weights (scaled down to at most
//! 2^(bits/2) turns, as IPVS does). When a destination leaves, only the flows it held
//! and a small fraction of others move. The table is rebuilt on `update` only.
//!
//! Like IPVS, a destination set to weight 0 keeps its positions (its last non-zero
//! weight counts), so quiescing one server moves nobody else's flows; its own flows
//! get no pick, or with the fallback flag a pseudo-random other destination.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use super::hash::{hash_endpoint, mix64, reduce, SEED_MH_LOOKUP, SEED_MH_OFFSET, SEED_MH_SKIP};
use super::{usable_weight, SchedContext, Scheduler};
use crate::dest::{Dest, DestId};
use crate::model::{SchedFlags, SchedulerKind};

/// Lookup table size by default: a prime well above 100 × the number of servers a
/// service usually has, for an even spread. IPVS's compile-time default is 4093.
pub const DEFAULT_TABLE_SIZE: u32 = 65_537;
/// Largest accepted table size (2^24 - 3, a prime).
pub const MAX_TABLE_SIZE: u32 = 16_777_213;
const NO_DEST: u16 = u16::MAX;
/// Destinations beyond this many cannot be indexed by the u16 table.
const MAX_DESTS: usize = NO_DEST as usize;

/// The requested mh table size is not a prime in `3..=MAX_TABLE_SIZE`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MhTableSizeError(pub u32);

impl fmt::Display for MhTableSizeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "mh table size {} is not a prime between 3 and {MAX_TABLE_SIZE}",
            self.0
        )
    }
}

impl std::error::Error for MhTableSizeError {}

/// Maglev hashing scheduler.
pub struct Maglev {
    flags: SchedFlags,
    size: u32,
    /// Per-turn claims are scaled to fit this many bits (IPVS: half the table bits).
    turn_bits: u32,
    /// Table position → destination index.
    lookup: Box<[u16]>,
    /// Destination indices holding at least one position (for a quick "no one
    /// usable" answer before probing with the fallback flag).
    in_table: Vec<bool>,
    /// Last non-zero weight per destination (IPVS's `last_weight`).
    last_weights: HashMap<DestId, i32>,
}

impl Maglev {
    /// With `flags.fallback` (mh-fallback) an unusable hashed destination makes the
    /// lookup rehash until it meets a usable one; `flags.port` (mh-port) hashes the
    /// client port too.
    pub fn new(flags: SchedFlags) -> Maglev {
        Maglev::build(flags, DEFAULT_TABLE_SIZE)
    }

    /// With a lookup table of `size` positions (a prime; IPVS offers 251 … 131071).
    pub fn with_table_size(flags: SchedFlags, size: u32) -> Result<Maglev, MhTableSizeError> {
        if !(3..=MAX_TABLE_SIZE).contains(&size) || !is_prime(size) {
            return Err(MhTableSizeError(size));
        }
        Ok(Maglev::build(flags, size))
    }

    fn build(flags: SchedFlags, size: u32) -> Maglev {
        Maglev {
            flags,
            size,
            turn_bits: size.ilog2() / 2,
            lookup: vec![NO_DEST; size as usize].into_boxed_slice(),
            in_table: Vec::new(),
            last_weights: HashMap::new(),
        }
    }

    pub fn table_size(&self) -> u32 {
        self.size
    }

    /// Positions held per destination index (diagnostics and tests).
    pub fn positions(&self, n: usize) -> Vec<usize> {
        let mut counts = vec![0; n];
        for &i in self.lookup.iter() {
            if let Some(c) = counts.get_mut(usize::from(i)) {
                *c += 1;
            }
        }
        counts
    }

    #[inline]
    fn usable_at(dests: &[Arc<Dest>], i: u16) -> bool {
        dests
            .get(usize::from(i))
            .is_some_and(|d| usable_weight(d).is_some())
    }

    /// Rebuild the lookup table from per-destination weights (`0` = no positions).
    fn populate(&mut self, dests: &[Arc<Dest>], weights: &[i64]) {
        self.lookup.fill(NO_DEST);
        self.in_table = weights.iter().map(|&w| w > 0).collect();
        let gcd = weights
            .iter()
            .filter(|&&w| w > 0)
            .fold(0, |g, &w| if g == 0 { w } else { gcd_of(g, w) });
        if gcd == 0 {
            return;
        }
        let max = weights.iter().copied().max().unwrap_or(0) / gcd;
        let shift = (64 - max.leading_zeros()).saturating_sub(self.turn_bits);
        let size = self.size;

        struct Setup {
            next: u32,
            skip: u32,
            turns: u32,
        }
        let mut setup: Vec<Setup> = dests
            .iter()
            .zip(weights)
            .map(|(d, &w)| Setup {
                next: reduce(hash_endpoint(d.addr(), d.port(), SEED_MH_OFFSET), size),
                skip: reduce(hash_endpoint(d.addr(), d.port(), SEED_MH_SKIP), size - 1) + 1,
                turns: if w > 0 {
                    ((w / gcd) >> shift).max(1) as u32
                } else {
                    0
                },
            })
            .collect();

        let mut taken = vec![0u64; size.div_ceil(64) as usize];
        let mut filled = 0u32;
        // Each round every destination claims `turns` positions, each the next free
        // one along its own permutation; a prime size makes every permutation reach
        // every position, so the loop ends once all are claimed.
        'rounds: loop {
            for (i, s) in setup.iter_mut().enumerate() {
                for _ in 0..s.turns {
                    let mut c = s.next;
                    while taken[(c / 64) as usize] & (1 << (c % 64)) != 0 {
                        c += s.skip;
                        if c >= size {
                            c -= size;
                        }
                    }
                    s.next = c;
                    taken[(c / 64) as usize] |= 1 << (c % 64);
                    self.lookup[c as usize] = i as u16;
                    filled += 1;
                    if filled == size {
                        break 'rounds;
                    }
                }
            }
        }
    }
}

impl fmt::Debug for Maglev {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Maglev")
            .field("flags", &self.flags)
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

impl Scheduler for Maglev {
    fn kind(&self) -> SchedulerKind {
        SchedulerKind::Mh
    }

    fn update(&mut self, dests: &[Arc<Dest>]) {
        let dests = &dests[..dests.len().min(MAX_DESTS)];
        let mut last_weights = HashMap::with_capacity(dests.len());
        let weights: Vec<i64> = dests
            .iter()
            .map(|d| {
                // A new destination starts from its weight, even 0; a known one keeps
                // its last non-zero weight while quiescent.
                let w = d.weight();
                let last = match self.last_weights.get(&d.id()) {
                    Some(&old) if w == 0 => old,
                    _ => w,
                };
                last_weights.insert(d.id(), last);
                if d.is_available() {
                    i64::from(last.max(0))
                } else {
                    0
                }
            })
            .collect();
        self.last_weights = last_weights;
        self.populate(dests, &weights);
    }

    fn schedule(&mut self, dests: &[Arc<Dest>], ctx: &SchedContext) -> Option<usize> {
        let port = if self.flags.port { ctx.client_port } else { 0 };
        let hash = hash_endpoint(ctx.client_addr, port, SEED_MH_LOOKUP);
        let i = *self.lookup.get(reduce(hash, self.size) as usize)?;
        if i == NO_DEST {
            return None;
        }
        if Self::usable_at(dests, i) {
            return Some(usize::from(i));
        }
        if !self.flags.fallback {
            return None;
        }
        let anyone = dests
            .iter()
            .zip(&self.in_table)
            .any(|(d, &held)| held && usable_weight(d).is_some());
        if !anyone {
            return None;
        }
        // Rehash with growing offsets (IPVS's fallback): the flows of an unusable
        // destination spread over the others in proportion to their positions.
        (1..u64::from(self.size))
            .map(|k| {
                let h = mix64(hash ^ k.wrapping_mul(0x9e37_79b9_7f4a_7c15));
                self.lookup[reduce(h, self.size) as usize]
            })
            .find(|&i| Self::usable_at(dests, i))
            .map(usize::from)
    }
}

fn gcd_of(mut a: i64, mut b: i64) -> i64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

fn is_prime(n: u32) -> bool {
    let n = u64::from(n);
    n >= 2
        && (2..)
            .take_while(|d| d * d <= n)
            .all(|d| !n.is_multiple_of(d))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sched::testutil::*;

    fn flags(fallback: bool, port: bool) -> SchedFlags {
        SchedFlags {
            fallback,
            port,
            flag3: false,
        }
    }

    #[test]
    fn table_size_must_be_prime() {
        assert!(Maglev::with_table_size(SchedFlags::default(), 4093).is_ok());
        assert!(Maglev::with_table_size(SchedFlags::default(), 251).is_ok());
        assert_eq!(
            Maglev::with_table_size(SchedFlags::default(), 4096).unwrap_err(),
            MhTableSizeError(4096)
        );
        assert!(Maglev::with_table_size(SchedFlags::default(), 1).is_err());
        assert!(Maglev::with_table_size(SchedFlags::default(), MAX_TABLE_SIZE + 2).is_err());
        assert!(is_prime(65_537) && is_prime(MAX_TABLE_SIZE) && !is_prime(65_535));
    }

    #[test]
    fn fills_every_position_in_weight_proportion() {
        let dests = test_dests(&[1, 2, 3, 4]);
        let mut s = Maglev::new(SchedFlags::default());
        s.update(&dests);
        let pos = s.positions(4);
        assert_eq!(pos.iter().sum::<usize>(), 65_537);
        for (i, &p) in pos.iter().enumerate() {
            let want = 65_537.0 * (i + 1) as f64 / 10.0;
            assert!((p as f64 - want).abs() < 5.0, "{pos:?}");
        }
    }

    #[test]
    fn heavy_weights_are_scaled_not_truncated() {
        // 65535 / 1 needs 16 bits; turns are scaled to 8 bits, ratios kept.
        let dests = test_dests(&[65_535, 1, 32_768]);
        let mut s = Maglev::new(SchedFlags::default());
        s.update(&dests);
        let pos = s.positions(3);
        assert!(pos[1] > 0, "the light one keeps at least a turn per round");
        assert!(pos[0] > 100 * pos[1] && pos[0] > pos[2], "{pos:?}");
    }

    #[test]
    fn sticky_per_client_and_port_flag() {
        let dests = test_dests(&[1, 1, 1]);
        let mut s = Maglev::new(SchedFlags::default());
        s.update(&dests);
        let mut seen = [0; 3];
        for c in 0..300 {
            let a = s.schedule(&dests, &ctx_v4(c, 1)).unwrap();
            let mut p = ctx_v4(c, 2);
            p.client_port = 999;
            assert_eq!(s.schedule(&dests, &p), Some(a));
            seen[a] += 1;
        }
        assert!(seen.iter().all(|&n| n > 60), "{seen:?}");
        let mut s = Maglev::new(flags(false, true));
        s.update(&dests);
        let mut seen = [0; 3];
        for port in 0..300 {
            let mut p = ctx_v6(5, 1);
            p.client_port = port;
            seen[s.schedule(&dests, &p).unwrap()] += 1;
        }
        assert!(seen.iter().all(|&n| n > 60), "{seen:?}");
    }

    #[test]
    fn quiesced_server_keeps_its_positions() {
        let dests = test_dests(&[2, 2, 2]);
        let mut s = Maglev::new(SchedFlags::default());
        s.update(&dests);
        let before = s.lookup.clone();
        dests[1].set_weight(0);
        s.update(&dests);
        assert_eq!(s.lookup, before, "nobody moves");
        let held: Vec<u32> = (0..500)
            .filter(|&c| s.schedule(&dests, &ctx_v4(c, 1)).is_none())
            .collect();
        assert!(!held.is_empty());
        // With fallback its flows spread over the others.
        let mut f = Maglev::new(flags(true, false));
        f.update(&dests);
        let mut seen = [0; 3];
        for &c in &held {
            seen[f.schedule(&dests, &ctx_v4(c, 1)).unwrap()] += 1;
        }
        assert_eq!(seen[1], 0);
        assert!(
            seen[0] > held.len() / 4 && seen[2] > held.len() / 4,
            "{seen:?}"
        );
        // A destination added at weight 0 has no positions.
        let more = test_dests(&[2, 2, 2, 0]);
        s.update(&more);
        assert_eq!(s.positions(4)[3], 0);
    }

    #[test]
    fn nothing_usable() {
        let mut s = Maglev::new(flags(true, true));
        assert_eq!(s.schedule(&[], &ctx_v4(1, 1)), None);
        s.update(&[]);
        assert_eq!(s.schedule(&[], &ctx_v4(1, 1)), None);
        let dests = test_dests(&[0, 0]);
        s.update(&dests);
        assert_eq!(s.schedule(&dests, &ctx_v4(1, 1)), None);
        let dests = test_dests(&[1, 1]);
        s.update(&dests);
        make_overloaded(&dests[0]);
        dests[1].set_weight(0);
        assert_eq!(s.schedule(&dests, &ctx_v4(1, 1)), None);
        // A shorter list than at the update is tolerated.
        dests[1].set_weight(1);
        for c in 0..50 {
            assert_ne!(s.schedule(&dests[..1], &ctx_v4(c, 1)), Some(1));
        }
    }
}
