//! Hashing of addresses (and ports) for the hashing schedulers (sh, dh, mh) and the
//! locality tables (lblc, lblcr). Not the kernel's `hash_32`/`hsiphash` bit for bit,
//! but the same job: spread client or destination addresses evenly over buckets,
//! cheaply and deterministically, with no per-call state.

use std::net::IpAddr;

/// Seeds keep the users' hashes independent of one another.
pub(crate) const SEED_SH: u64 = 0x5348_5f73_6565_6431;
pub(crate) const SEED_DH: u64 = 0x4448_5f73_6565_6432;
pub(crate) const SEED_LOCALITY: u64 = 0x4c42_4c43_7365_6564;
pub(crate) const SEED_MH_LOOKUP: u64 = 0x4d48_5f6c_6f6f_6b31;
pub(crate) const SEED_MH_OFFSET: u64 = 0x4d48_5f6f_6666_7332;
pub(crate) const SEED_MH_SKIP: u64 = 0x4d48_5f73_6b69_7033;

/// The 64-bit finaliser of SplitMix64: every input bit flips about half the output
/// bits, so sequential addresses land in unrelated buckets.
#[inline]
pub(crate) fn mix64(mut x: u64) -> u64 {
    x ^= x >> 30;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Hash of an address and a port (0 when the port is not part of the key).
#[inline]
pub(crate) fn hash_endpoint(addr: IpAddr, port: u16, seed: u64) -> u64 {
    match addr {
        IpAddr::V4(a) => mix64(seed ^ u64::from(u32::from(a)) ^ (u64::from(port) << 32)),
        IpAddr::V6(a) => {
            let v = u128::from(a);
            let high = (v >> 64) as u64;
            let low = v as u64;
            mix64(mix64(seed ^ high ^ u64::from(port)) ^ low)
        }
    }
}

/// Map a uniform 64-bit hash onto `0..n` without a division (multiply-high).
#[inline]
pub(crate) fn reduce(hash: u64, n: u32) -> u32 {
    ((u128::from(hash) * u128::from(n)) >> 64) as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    #[test]
    fn reduce_stays_in_range() {
        for h in [0, 1, u64::MAX / 2, u64::MAX] {
            assert!(reduce(h, 256) < 256);
            assert!(reduce(h, 65537) < 65537);
        }
        assert_eq!(reduce(u64::MAX, 7), 6);
    }

    #[test]
    fn sequential_v4_addresses_spread_over_buckets() {
        let mut counts = [0u32; 256];
        for i in 0..25_600u32 {
            let a = IpAddr::V4(Ipv4Addr::from(0xcb00_7100u32.wrapping_add(i)));
            counts[(hash_endpoint(a, 0, SEED_SH) >> 56) as usize] += 1;
        }
        // 100 expected per bucket; a poor hash leaves buckets empty or doubled.
        assert!(
            counts.iter().all(|&c| (50..=150).contains(&c)),
            "{counts:?}"
        );
    }

    #[test]
    fn port_and_family_change_the_hash() {
        let v4 = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7));
        let v6 = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 7));
        assert_ne!(hash_endpoint(v4, 1, 0), hash_endpoint(v4, 2, 0));
        assert_ne!(hash_endpoint(v6, 1, 0), hash_endpoint(v6, 2, 0));
        assert_ne!(hash_endpoint(v4, 0, 0), hash_endpoint(v6, 0, 0));
    }
}
