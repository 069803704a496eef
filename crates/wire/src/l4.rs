//! Transport headers: TCP, UDP, ICMP and ICMPv6, as far as the director needs them
//! (ports, TCP flags, ICMP type and code, where each checksum field sits).

use crate::error::ParseError;
use crate::ip::{IpVersion, PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP};

/// TCP FIN flag.
pub const TCP_FIN: u8 = 0x01;
/// TCP SYN flag.
pub const TCP_SYN: u8 = 0x02;
/// TCP RST flag.
pub const TCP_RST: u8 = 0x04;
/// TCP PSH flag.
pub const TCP_PSH: u8 = 0x08;
/// TCP ACK flag.
pub const TCP_ACK: u8 = 0x10;
/// TCP URG flag.
pub const TCP_URG: u8 = 0x20;
/// TCP ECE flag.
pub const TCP_ECE: u8 = 0x40;
/// TCP CWR flag.
pub const TCP_CWR: u8 = 0x80;

/// Minimum TCP header length.
pub const TCP_HLEN: usize = 20;
/// UDP header length.
pub const UDP_HLEN: usize = 8;
/// ICMP / ICMPv6 header length (type, code, checksum and the 4-byte rest).
pub const ICMP_HLEN: usize = 8;

/// Offset of the checksum field within a TCP header.
pub const TCP_CSUM_OFFSET: usize = 16;
/// Offset of the checksum field within a UDP header.
pub const UDP_CSUM_OFFSET: usize = 6;
/// Offset of the checksum field within an ICMP or ICMPv6 header.
pub const ICMP_CSUM_OFFSET: usize = 2;

/// The transport header of a packet (or of the first fragment of one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum L4Meta {
    /// TCP; `flags` is the flag byte (see `TCP_*`), `header_len` in bytes (20..=60).
    Tcp {
        src_port: u16,
        dst_port: u16,
        flags: u8,
        header_len: u8,
    },
    /// UDP.
    Udp { src_port: u16, dst_port: u16 },
    /// ICMPv4 (protocol 1).
    Icmp { icmp_type: u8, code: u8 },
    /// ICMPv6 (next header 58).
    Icmpv6 { icmp_type: u8, code: u8 },
}

impl L4Meta {
    /// (source port, destination port) for TCP and UDP.
    #[inline]
    pub const fn ports(&self) -> Option<(u16, u16)> {
        match *self {
            L4Meta::Tcp {
                src_port, dst_port, ..
            }
            | L4Meta::Udp { src_port, dst_port } => Some((src_port, dst_port)),
            _ => None,
        }
    }

    /// The TCP flag byte, for TCP.
    #[inline]
    pub const fn tcp_flags(&self) -> Option<u8> {
        match *self {
            L4Meta::Tcp { flags, .. } => Some(flags),
            _ => None,
        }
    }

    /// Offset of the checksum field within the transport header.
    #[inline]
    pub const fn checksum_offset(&self) -> usize {
        match self {
            L4Meta::Tcp { .. } => TCP_CSUM_OFFSET,
            L4Meta::Udp { .. } => UDP_CSUM_OFFSET,
            L4Meta::Icmp { .. } | L4Meta::Icmpv6 { .. } => ICMP_CSUM_OFFSET,
        }
    }

    /// Whether the transport checksum covers the IP pseudo-header (all but ICMPv4),
    /// so that an address rewrite must update it.
    #[inline]
    pub const fn checksum_covers_addresses(&self) -> bool {
        !matches!(self, L4Meta::Icmp { .. })
    }
}

/// Parse the transport header at the start of `seg` (which ends where the IP packet
/// ends). `more_fragments` says the packet is the first of several fragments, where
/// the UDP length describes the whole datagram rather than this fragment.
///
/// Protocols this crate does not parse (and ICMP of the other family) give `None`.
#[inline]
pub(crate) fn parse_l4(
    seg: &[u8],
    proto: u8,
    version: IpVersion,
    more_fragments: bool,
) -> Result<Option<L4Meta>, ParseError> {
    match proto {
        PROTO_TCP => {
            let Some(hdr) = seg.get(..TCP_HLEN) else {
                return Err(ParseError::TruncatedTcp);
            };
            let header_len = (hdr[12] >> 4) * 4;
            if (header_len as usize) < TCP_HLEN || header_len as usize > seg.len() {
                return Err(ParseError::TcpBadDataOffset);
            }
            Ok(Some(L4Meta::Tcp {
                src_port: u16::from_be_bytes([hdr[0], hdr[1]]),
                dst_port: u16::from_be_bytes([hdr[2], hdr[3]]),
                flags: hdr[13],
                header_len,
            }))
        }
        PROTO_UDP => {
            let Some(hdr) = seg.get(..UDP_HLEN) else {
                return Err(ParseError::TruncatedUdp);
            };
            // Like Linux: the UDP length may be shorter than the IP payload (trailing
            // bytes are ignored), never longer, never below the header.
            let udp_len = usize::from(u16::from_be_bytes([hdr[4], hdr[5]]));
            if udp_len < UDP_HLEN || (!more_fragments && udp_len > seg.len()) {
                return Err(ParseError::UdpBadLength);
            }
            Ok(Some(L4Meta::Udp {
                src_port: u16::from_be_bytes([hdr[0], hdr[1]]),
                dst_port: u16::from_be_bytes([hdr[2], hdr[3]]),
            }))
        }
        PROTO_ICMP if version == IpVersion::V4 => {
            let Some(hdr) = seg.get(..ICMP_HLEN) else {
                return Err(ParseError::TruncatedIcmp);
            };
            Ok(Some(L4Meta::Icmp {
                icmp_type: hdr[0],
                code: hdr[1],
            }))
        }
        PROTO_ICMPV6 if version == IpVersion::V6 => {
            let Some(hdr) = seg.get(..ICMP_HLEN) else {
                return Err(ParseError::TruncatedIcmp);
            };
            Ok(Some(L4Meta::Icmpv6 {
                icmp_type: hdr[0],
                code: hdr[1],
            }))
        }
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp(doff: u8, flags: u8, extra: usize) -> Vec<u8> {
        let mut h = vec![0u8; 20 + extra];
        h[0..2].copy_from_slice(&1234u16.to_be_bytes());
        h[2..4].copy_from_slice(&80u16.to_be_bytes());
        h[12] = doff << 4;
        h[13] = flags;
        h
    }

    #[test]
    fn tcp_header() {
        let h = tcp(5, TCP_SYN | TCP_ACK, 0);
        let m = parse_l4(&h, PROTO_TCP, IpVersion::V4, false)
            .unwrap()
            .unwrap();
        assert_eq!(
            m,
            L4Meta::Tcp {
                src_port: 1234,
                dst_port: 80,
                flags: TCP_SYN | TCP_ACK,
                header_len: 20
            }
        );
        assert_eq!(m.ports(), Some((1234, 80)));
        assert_eq!(m.tcp_flags(), Some(0x12));
        assert_eq!(m.checksum_offset(), 16);
        let h = tcp(15, 0, 40);
        let m = parse_l4(&h, PROTO_TCP, IpVersion::V6, false)
            .unwrap()
            .unwrap();
        assert!(matches!(m, L4Meta::Tcp { header_len: 60, .. }));
    }

    #[test]
    fn tcp_malformed() {
        let h = tcp(5, 0, 0);
        for len in 0..20 {
            assert_eq!(
                parse_l4(&h[..len], PROTO_TCP, IpVersion::V4, false),
                Err(ParseError::TruncatedTcp)
            );
        }
        for doff in 0..5 {
            assert_eq!(
                parse_l4(&tcp(doff, 0, 0), PROTO_TCP, IpVersion::V4, false),
                Err(ParseError::TcpBadDataOffset)
            );
        }
        assert_eq!(
            parse_l4(&tcp(6, 0, 3), PROTO_TCP, IpVersion::V4, false),
            Err(ParseError::TcpBadDataOffset)
        );
        assert!(parse_l4(&tcp(6, 0, 4), PROTO_TCP, IpVersion::V4, false).is_ok());
    }

    #[test]
    fn udp_header() {
        let mut h = [0u8; 12];
        h[0..2].copy_from_slice(&53u16.to_be_bytes());
        h[2..4].copy_from_slice(&5353u16.to_be_bytes());
        h[4..6].copy_from_slice(&12u16.to_be_bytes());
        let m = parse_l4(&h, PROTO_UDP, IpVersion::V4, false)
            .unwrap()
            .unwrap();
        assert_eq!(
            m,
            L4Meta::Udp {
                src_port: 53,
                dst_port: 5353
            }
        );
        assert_eq!(m.checksum_offset(), 6);
        // Shorter than the payload is accepted; longer or below 8 is not.
        h[4..6].copy_from_slice(&10u16.to_be_bytes());
        assert!(parse_l4(&h, PROTO_UDP, IpVersion::V4, false).is_ok());
        h[4..6].copy_from_slice(&13u16.to_be_bytes());
        assert_eq!(
            parse_l4(&h, PROTO_UDP, IpVersion::V4, false),
            Err(ParseError::UdpBadLength)
        );
        // ... unless this is the first of several fragments.
        assert!(parse_l4(&h, PROTO_UDP, IpVersion::V4, true).is_ok());
        h[4..6].copy_from_slice(&7u16.to_be_bytes());
        assert_eq!(
            parse_l4(&h, PROTO_UDP, IpVersion::V4, true),
            Err(ParseError::UdpBadLength)
        );
        for len in 0..8 {
            assert_eq!(
                parse_l4(&h[..len], PROTO_UDP, IpVersion::V4, false),
                Err(ParseError::TruncatedUdp)
            );
        }
    }

    #[test]
    fn icmp_headers() {
        let h = [3u8, 4, 0, 0, 0, 0, 5, 0xDC];
        assert_eq!(
            parse_l4(&h, PROTO_ICMP, IpVersion::V4, false),
            Ok(Some(L4Meta::Icmp {
                icmp_type: 3,
                code: 4
            }))
        );
        assert_eq!(
            parse_l4(&h, PROTO_ICMPV6, IpVersion::V6, false),
            Ok(Some(L4Meta::Icmpv6 {
                icmp_type: 3,
                code: 4
            }))
        );
        // ICMP of the other family is not parsed.
        assert_eq!(parse_l4(&h, PROTO_ICMPV6, IpVersion::V4, false), Ok(None));
        assert_eq!(parse_l4(&h, PROTO_ICMP, IpVersion::V6, false), Ok(None));
        assert_eq!(
            parse_l4(&h[..7], PROTO_ICMP, IpVersion::V4, false),
            Err(ParseError::TruncatedIcmp)
        );
        assert_eq!(parse_l4(&h, 132, IpVersion::V4, false), Ok(None));
        assert!(!L4Meta::Icmp {
            icmp_type: 0,
            code: 0
        }
        .checksum_covers_addresses());
    }
}
