//! sh and dh, the static hashing schedulers: a 256-bucket table maps a hash of the
//! client address (sh, optionally with the client port) or of the destination
//! address (dh) to a destination. The table is filled in list order on every update:
//! sh gives each destination `weight` consecutive buckets per round (at least one),
//! dh one bucket per round, weights ignored as in IPVS. An unusable hashed
//! destination means no pick, unless sh's fallback flag lets it probe further.

use std::fmt;
use std::sync::Arc;

use super::hash::{hash_endpoint, SEED_DH, SEED_SH};
use super::{usable_weight, SchedContext, Scheduler};
use crate::dest::Dest;
use crate::model::{SchedFlags, SchedulerKind};

/// Number of buckets (IPVS's `CONFIG_IP_VS_SH_TAB_BITS` / `DH_TAB_BITS` default 8).
pub const BUCKETS: usize = 256;
const NO_DEST: u16 = u16::MAX;

/// Bucket → destination index (`NO_DEST` when the list is empty).
#[derive(Clone)]
struct BucketTable([u16; BUCKETS]);

impl BucketTable {
    fn empty() -> BucketTable {
        BucketTable([NO_DEST; BUCKETS])
    }

    /// Fill the buckets in rounds over the destinations still in the service, each
    /// taking `share(dest)` consecutive buckets per round.
    fn fill(&mut self, dests: &[Arc<Dest>], share: impl Fn(&Dest) -> usize) {
        let members: Vec<usize> = (0..dests.len().min(usize::from(NO_DEST)))
            .filter(|&i| dests[i].is_available())
            .collect();
        if members.is_empty() {
            self.0 = [NO_DEST; BUCKETS];
            return;
        }
        let mut member = members.iter().cycle();
        let mut bucket = 0;
        while bucket < BUCKETS {
            let Some(&i) = member.next() else { break };
            let take = share(&dests[i]).clamp(1, BUCKETS - bucket);
            self.0[bucket..bucket + take].fill(i as u16);
            bucket += take;
        }
    }

    #[inline]
    fn get(&self, bucket: usize) -> Option<usize> {
        let i = self.0[bucket % BUCKETS];
        (i != NO_DEST).then_some(usize::from(i))
    }

    /// Buckets per destination index (for tests and diagnostics).
    #[cfg(test)]
    fn shares(&self, n: usize) -> Vec<usize> {
        let mut counts = vec![0; n];
        for &i in &self.0 {
            if i != NO_DEST {
                counts[usize::from(i)] += 1;
            }
        }
        counts
    }
}

/// Which bucket a 64-bit hash selects: its top 8 bits.
#[inline]
fn bucket_of(hash: u64) -> usize {
    (hash >> 56) as usize
}

fn usable_at(dests: &[Arc<Dest>], i: usize) -> bool {
    dests.get(i).is_some_and(|d| usable_weight(d).is_some())
}

/// sh: source hashing.
pub struct SourceHash {
    flags: SchedFlags,
    table: BucketTable,
}

impl SourceHash {
    /// `flags.fallback` (sh-fallback) probes the following buckets when the hashed
    /// destination is unusable; `flags.port` (sh-port) hashes the client port too.
    pub fn new(flags: SchedFlags) -> SourceHash {
        SourceHash {
            flags,
            table: BucketTable::empty(),
        }
    }
}

impl fmt::Debug for SourceHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SourceHash")
            .field("flags", &self.flags)
            .finish_non_exhaustive()
    }
}

impl Scheduler for SourceHash {
    fn kind(&self) -> SchedulerKind {
        SchedulerKind::Sh
    }

    fn update(&mut self, dests: &[Arc<Dest>]) {
        // IPVS moves on after `weight` buckets, counting the first before comparing,
        // so a quiescent destination still holds one bucket per round.
        self.table
            .fill(dests, |d| usize::try_from(d.weight()).unwrap_or(0).max(1));
    }

    fn schedule(&mut self, dests: &[Arc<Dest>], ctx: &SchedContext) -> Option<usize> {
        let port = if self.flags.port { ctx.client_port } else { 0 };
        let home = bucket_of(hash_endpoint(ctx.client_addr, port, SEED_SH));
        let i = self.table.get(home)?;
        if usable_at(dests, i) {
            return Some(i);
        }
        if !self.flags.fallback {
            return None;
        }
        // Walk the table from the home bucket on: every other destination is met
        // within one turn, and each key keeps its own deterministic fallback.
        (1..BUCKETS)
            .filter_map(|step| self.table.get(home + step))
            .find(|&i| usable_at(dests, i))
    }
}

/// dh: destination hashing.
pub struct DestHash {
    table: BucketTable,
}

impl DestHash {
    pub fn new() -> DestHash {
        DestHash {
            table: BucketTable::empty(),
        }
    }
}

impl Default for DestHash {
    fn default() -> DestHash {
        DestHash::new()
    }
}

impl fmt::Debug for DestHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DestHash").finish_non_exhaustive()
    }
}

impl Scheduler for DestHash {
    fn kind(&self) -> SchedulerKind {
        SchedulerKind::Dh
    }

    fn update(&mut self, dests: &[Arc<Dest>]) {
        self.table.fill(dests, |_| 1);
    }

    fn schedule(&mut self, dests: &[Arc<Dest>], ctx: &SchedContext) -> Option<usize> {
        let bucket = bucket_of(hash_endpoint(ctx.dest_addr, 0, SEED_DH));
        let i = self.table.get(bucket)?;
        usable_at(dests, i).then_some(i)
    }
}

/// Buckets per destination of the table an sh scheduler built (for tests).
#[cfg(test)]
pub(crate) fn sh_shares(s: &SourceHash, n: usize) -> Vec<usize> {
    s.table.shares(n)
}

/// Buckets per destination of the table a dh scheduler built (for tests).
#[cfg(test)]
pub(crate) fn dh_shares(s: &DestHash, n: usize) -> Vec<usize> {
    s.table.shares(n)
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
    fn sh_buckets_follow_weights_in_rounds() {
        let dests = test_dests(&[4, 3, 2]);
        let mut s = SourceHash::new(SchedFlags::default());
        s.update(&dests);
        // 256 = 28 rounds of 9 + 4 buckets more for A.
        assert_eq!(sh_shares(&s, 3), vec![28 * 4 + 4, 28 * 3, 28 * 2]);
        assert_eq!(&s.table.0[..10], &[0, 0, 0, 0, 1, 1, 1, 2, 2, 0]);
        // A quiescent destination keeps one bucket per round.
        let dests = test_dests(&[2, 0]);
        s.update(&dests);
        assert_eq!(sh_shares(&s, 2), vec![171, 85]);
        // A weight larger than the table takes it all.
        let dests = test_dests(&[300, 1]);
        s.update(&dests);
        assert_eq!(sh_shares(&s, 2), vec![256, 0]);
    }

    #[test]
    fn sh_is_sticky_per_client_and_spreads_clients() {
        let dests = test_dests(&[1, 1, 1, 1]);
        let mut s = SourceHash::new(SchedFlags::default());
        s.update(&dests);
        let mut seen = [0; 4];
        for c in 0..400 {
            let a = s.schedule(&dests, &ctx_v4(c, 1)).unwrap();
            let mut other_port = ctx_v4(c, 9);
            other_port.client_port = 1234;
            assert_eq!(
                s.schedule(&dests, &other_port),
                Some(a),
                "port ignored by default"
            );
            seen[a] += 1;
        }
        assert!(seen.iter().all(|&n| n > 50), "{seen:?}");
    }

    #[test]
    fn sh_port_flag_spreads_one_client_over_servers() {
        let dests = test_dests(&[1, 1, 1, 1]);
        let mut s = SourceHash::new(flags(false, true));
        s.update(&dests);
        let mut seen = [0; 4];
        for port in 1000..1400 {
            let mut c = ctx_v4(7, 1);
            c.client_port = port;
            let a = s.schedule(&dests, &c).unwrap();
            assert_eq!(s.schedule(&dests, &c), Some(a));
            seen[a] += 1;
        }
        assert!(seen.iter().all(|&n| n > 50), "{seen:?}");
    }

    #[test]
    fn sh_unusable_home_without_and_with_fallback() {
        let dests = test_dests(&[1, 1, 1]);
        let mut plain = SourceHash::new(SchedFlags::default());
        let mut fb = SourceHash::new(flags(true, false));
        plain.update(&dests);
        fb.update(&dests);
        let clients: Vec<u32> = (0..300)
            .filter(|&c| plain.schedule(&dests, &ctx_v4(c, 1)) == Some(1))
            .collect();
        assert!(!clients.is_empty());
        dests[1].set_weight(0);
        for &c in &clients {
            assert_eq!(plain.schedule(&dests, &ctx_v4(c, 1)), None);
            let alt = fb.schedule(&dests, &ctx_v4(c, 1)).unwrap();
            assert_ne!(alt, 1);
            assert_eq!(
                fb.schedule(&dests, &ctx_v4(c, 1)),
                Some(alt),
                "deterministic"
            );
        }
        // Clients of the other servers do not move.
        for c in 0..300 {
            let before = plain.schedule(&dests, &ctx_v4(c, 1));
            if before.is_some() {
                assert_eq!(fb.schedule(&dests, &ctx_v4(c, 1)), before);
            }
        }
        make_overloaded(&dests[0]);
        make_overloaded(&dests[2]);
        assert_eq!(fb.schedule(&dests, &ctx_v4(clients[0], 1)), None);
    }

    #[test]
    fn dh_hashes_the_destination_address_one_bucket_each() {
        let dests = test_dests(&[5, 1, 1]);
        let mut s = DestHash::new();
        s.update(&dests);
        assert_eq!(dh_shares(&s, 3), vec![86, 85, 85]);
        for vip in 0..=255u8 {
            let a = s.schedule(&dests, &ctx_v4(1, vip));
            assert!(a.is_some());
            assert_eq!(s.schedule(&dests, &ctx_v4(999, vip)), a, "client ignored");
        }
        let v6 = ctx_v6(1, 1);
        assert_eq!(s.schedule(&dests, &v6), s.schedule(&dests, &ctx_v6(2, 1)));
    }

    #[test]
    fn dh_unusable_target_is_no_pick() {
        let dests = test_dests(&[1, 1]);
        let mut s = DestHash::new();
        s.update(&dests);
        let vip = (0..=255u8)
            .find(|&v| s.schedule(&dests, &ctx_v4(1, v)) == Some(0))
            .unwrap();
        make_overloaded(&dests[0]);
        assert_eq!(s.schedule(&dests, &ctx_v4(1, vip)), None);
    }

    #[test]
    fn empty_and_shrunk_lists() {
        let mut s = SourceHash::new(flags(true, true));
        let mut d = DestHash::new();
        assert_eq!(s.schedule(&[], &ctx_v4(1, 1)), None);
        assert_eq!(d.schedule(&[], &ctx_v4(1, 1)), None);
        let dests = test_dests(&[1, 1, 1]);
        s.update(&dests);
        d.update(&dests);
        // Called with a shorter list than the last update: never out of bounds.
        for c in 0..100 {
            let _ = s.schedule(&dests[..1], &ctx_v4(c, c as u8));
            let _ = d.schedule(&dests[..1], &ctx_v4(c, c as u8));
        }
        s.update(&[]);
        assert_eq!(s.schedule(&[], &ctx_v4(1, 1)), None);
    }
}
