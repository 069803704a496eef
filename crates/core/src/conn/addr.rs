//! Address storage for connection entries: IPv4 tables store 4-byte addresses and
//! IPv6 tables 16-byte ones, so an IPv4 entry stays small.

use std::fmt::Debug;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// An IP address as stored in a connection entry (network byte order bytes).
pub trait IpBytes: Copy + Eq + Default + Debug + Send + Sync + 'static {
    /// Build from a std address of the right family.
    fn from_ip(ip: IpAddr) -> Option<Self>;
    fn to_ip(self) -> IpAddr;
    /// A 64-bit digest for hashing.
    fn fold64(&self) -> u64;
    /// Keep the first `prefix_len` bits (persistence netmask), zero the rest.
    fn masked(self, prefix_len: u8) -> Self;
    /// A firewall mark stored where an address would be (fwmark templates).
    fn from_mark(mark: u32) -> Self;
}

impl IpBytes for [u8; 4] {
    #[inline]
    fn from_ip(ip: IpAddr) -> Option<Self> {
        match ip {
            IpAddr::V4(a) => Some(a.octets()),
            IpAddr::V6(_) => None,
        }
    }
    #[inline]
    fn to_ip(self) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(self))
    }
    #[inline]
    fn fold64(&self) -> u64 {
        u32::from_ne_bytes(*self) as u64
    }
    fn masked(self, prefix_len: u8) -> Self {
        let bits = prefix_len.min(32) as u32;
        let mask = if bits == 0 {
            0
        } else {
            u32::MAX << (32 - bits)
        };
        (u32::from_be_bytes(self) & mask).to_be_bytes()
    }
    fn from_mark(mark: u32) -> Self {
        mark.to_be_bytes()
    }
}

impl IpBytes for [u8; 16] {
    #[inline]
    fn from_ip(ip: IpAddr) -> Option<Self> {
        match ip {
            IpAddr::V6(a) => Some(a.octets()),
            IpAddr::V4(_) => None,
        }
    }
    #[inline]
    fn to_ip(self) -> IpAddr {
        IpAddr::V6(Ipv6Addr::from(self))
    }
    #[inline]
    fn fold64(&self) -> u64 {
        let v = u128::from_ne_bytes(*self);
        (v as u64) ^ ((v >> 64) as u64).rotate_left(29)
    }
    fn masked(self, prefix_len: u8) -> Self {
        let bits = prefix_len.min(128) as u32;
        let mask = if bits == 0 {
            0
        } else {
            u128::MAX << (128 - bits)
        };
        (u128::from_be_bytes(self) & mask).to_be_bytes()
    }
    fn from_mark(mark: u32) -> Self {
        let mut b = [0u8; 16];
        b[12..].copy_from_slice(&mark.to_be_bytes());
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks() {
        let a: [u8; 4] = [203, 0, 113, 77];
        assert_eq!(a.masked(24), [203, 0, 113, 0]);
        assert_eq!(a.masked(32), a);
        assert_eq!(a.masked(0), [0; 4]);
        let b = <[u8; 16]>::from_ip("2001:db8:1:2:3:4:5:6".parse().unwrap()).unwrap();
        assert_eq!(
            b.masked(64).to_ip(),
            "2001:db8:1:2::".parse::<IpAddr>().unwrap()
        );
    }
}
