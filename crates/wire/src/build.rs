//! Builders of whole, valid frames (Ethernet + IPv4/IPv6 + TCP/UDP/ICMP/ICMPv6 with
//! correct checksums) into a caller's buffer: synthetic packets for tests, replay and
//! lab tools. Not meant for the per-packet path.

use std::net::IpAddr;

use crate::checksum;
use crate::encap::{write_ipv4, write_ipv6, OuterV4, OuterV6};
use crate::error::EncapError;
use crate::ether::{write_ether, MacAddr, ETH_HLEN, ETH_P_IPV4, ETH_P_IPV6};
use crate::ip::{IPV4_HLEN, IPV6_HLEN, PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP};
use crate::l4::{
    ICMP_CSUM_OFFSET, ICMP_HLEN, TCP_CSUM_OFFSET, TCP_HLEN, UDP_CSUM_OFFSET, UDP_HLEN,
};

/// Link and network addresses of a frame to build.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Endpoints {
    pub src_mac: MacAddr,
    pub dst_mac: MacAddr,
    /// Source address; must be of the same family as `dst`.
    pub src: IpAddr,
    pub dst: IpAddr,
    /// TTL or hop limit.
    pub ttl: u8,
}

/// The transport header of a frame to build.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum L4Spec {
    /// A 20-byte TCP header (window 65535, no options).
    Tcp {
        src_port: u16,
        dst_port: u16,
        flags: u8,
        seq: u32,
        ack: u32,
    },
    /// UDP with a checksum.
    Udp { src_port: u16, dst_port: u16 },
    /// ICMPv4 (IPv4 only); `rest` is the second header word (identifier and
    /// sequence, unused + MTU, ...).
    Icmp {
        icmp_type: u8,
        code: u8,
        rest: [u8; 4],
    },
    /// ICMPv6 (IPv6 only).
    Icmpv6 {
        icmp_type: u8,
        code: u8,
        rest: [u8; 4],
    },
    /// No transport header: the payload follows the IP header under protocol `proto`.
    Raw { proto: u8 },
}

/// Build an untagged Ethernet frame into `out`: IP header (IPv4: DF set, id 0, TOS 0;
/// IPv6: traffic class and flow label 0), the transport header of `l4`, `payload`,
/// all checksums filled in. Returns the frame length.
pub fn build_frame(
    out: &mut [u8],
    ends: &Endpoints,
    l4: L4Spec,
    payload: &[u8],
) -> Result<usize, EncapError> {
    let (proto, l4_hlen, csum_at) = match l4 {
        L4Spec::Tcp { .. } => (PROTO_TCP, TCP_HLEN, Some(TCP_CSUM_OFFSET)),
        L4Spec::Udp { .. } => (PROTO_UDP, UDP_HLEN, Some(UDP_CSUM_OFFSET)),
        L4Spec::Icmp { .. } => (PROTO_ICMP, ICMP_HLEN, None),
        L4Spec::Icmpv6 { .. } => (PROTO_ICMPV6, ICMP_HLEN, Some(ICMP_CSUM_OFFSET)),
        L4Spec::Raw { proto } => (proto, 0, None),
    };
    let l4_len = l4_hlen + payload.len();
    let (ip_hlen, ether_type) = match (ends.src, ends.dst, l4) {
        (IpAddr::V4(_), IpAddr::V4(_), L4Spec::Icmpv6 { .. }) => {
            return Err(EncapError::FamilyMismatch)
        }
        (IpAddr::V6(_), IpAddr::V6(_), L4Spec::Icmp { .. }) => {
            return Err(EncapError::FamilyMismatch)
        }
        (IpAddr::V4(_), IpAddr::V4(_), _) => (IPV4_HLEN, ETH_P_IPV4),
        (IpAddr::V6(_), IpAddr::V6(_), _) => (IPV6_HLEN, ETH_P_IPV6),
        _ => return Err(EncapError::FamilyMismatch),
    };
    let length_field = match ends.src {
        IpAddr::V4(_) => ip_hlen + l4_len,
        IpAddr::V6(_) => l4_len,
    };
    let length_field = u16::try_from(length_field).map_err(|_| EncapError::TooLong)?;
    let total = ETH_HLEN + ip_hlen + l4_len;
    let frame = out.get_mut(..total).ok_or(EncapError::NoRoom)?;

    write_ether(frame, ends.dst_mac, ends.src_mac, ether_type);
    let l3 = ETH_HLEN;
    let l4_at = l3 + ip_hlen;
    match (ends.src, ends.dst) {
        (IpAddr::V4(src), IpAddr::V4(dst)) => {
            let h = OuterV4 {
                src,
                dst,
                ttl: ends.ttl,
                tos: 0,
                id: 0,
                dont_fragment: true,
            };
            write_ipv4(&mut frame[l3..], &h, proto, length_field);
        }
        (IpAddr::V6(src), IpAddr::V6(dst)) => {
            let h = OuterV6 {
                src,
                dst,
                hop_limit: ends.ttl,
                traffic_class: 0,
                flow_label: 0,
            };
            write_ipv6(&mut frame[l3..], &h, proto, length_field);
        }
        _ => return Err(EncapError::FamilyMismatch),
    }

    let seg = &mut frame[l4_at..];
    seg[..l4_hlen].fill(0);
    match l4 {
        L4Spec::Tcp {
            src_port,
            dst_port,
            flags,
            seq,
            ack,
        } => {
            seg[0..2].copy_from_slice(&src_port.to_be_bytes());
            seg[2..4].copy_from_slice(&dst_port.to_be_bytes());
            seg[4..8].copy_from_slice(&seq.to_be_bytes());
            seg[8..12].copy_from_slice(&ack.to_be_bytes());
            seg[12] = 0x50;
            seg[13] = flags;
            seg[14..16].copy_from_slice(&0xFFFFu16.to_be_bytes());
        }
        L4Spec::Udp { src_port, dst_port } => {
            seg[0..2].copy_from_slice(&src_port.to_be_bytes());
            seg[2..4].copy_from_slice(&dst_port.to_be_bytes());
            // l4_len <= length_field, which fit u16.
            seg[4..6].copy_from_slice(&(l4_len as u16).to_be_bytes());
        }
        L4Spec::Icmp {
            icmp_type,
            code,
            rest,
        }
        | L4Spec::Icmpv6 {
            icmp_type,
            code,
            rest,
        } => {
            seg[0] = icmp_type;
            seg[1] = code;
            seg[4..8].copy_from_slice(&rest);
        }
        L4Spec::Raw { .. } => {}
    }
    seg[l4_hlen..].copy_from_slice(payload);

    let csum = match (ends.src, ends.dst, csum_at) {
        (_, _, None) if proto == PROTO_ICMP => {
            Some((ICMP_CSUM_OFFSET, checksum::finish(checksum::sum(seg, 0))))
        }
        (IpAddr::V4(s), IpAddr::V4(d), Some(at)) => Some((
            at,
            checksum::transport_v4(s.octets(), d.octets(), proto, seg, at),
        )),
        (IpAddr::V6(s), IpAddr::V6(d), Some(at)) => Some((
            at,
            checksum::transport_v6(&s.octets(), &d.octets(), proto, seg, at),
        )),
        _ => None,
    };
    if let Some((at, value)) = csum {
        seg[at..at + 2].copy_from_slice(&value.to_be_bytes());
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ip::parse_frame;
    use crate::l4::L4Meta;
    use crate::rewrite::{l4_checksum_state, L4ChecksumState};

    fn ends(src: &str, dst: &str) -> Endpoints {
        Endpoints {
            src_mac: MacAddr([2, 0, 0, 0, 0, 1]),
            dst_mac: MacAddr([2, 0, 0, 0, 0, 2]),
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            ttl: 64,
        }
    }

    #[test]
    fn every_kind_parses_back_with_valid_checksums() {
        let specs = [
            (
                "203.0.113.1",
                "192.0.2.1",
                L4Spec::Udp {
                    src_port: 9,
                    dst_port: 7,
                },
            ),
            (
                "2001:db8::1",
                "2001:db8::2",
                L4Spec::Tcp {
                    src_port: 9,
                    dst_port: 7,
                    flags: 2,
                    seq: 5,
                    ack: 0,
                },
            ),
            (
                "203.0.113.1",
                "192.0.2.1",
                L4Spec::Icmp {
                    icmp_type: 8,
                    code: 0,
                    rest: [0, 1, 0, 2],
                },
            ),
            (
                "2001:db8::1",
                "2001:db8::2",
                L4Spec::Icmpv6 {
                    icmp_type: 128,
                    code: 0,
                    rest: [0, 1, 0, 2],
                },
            ),
        ];
        for (s, d, spec) in specs {
            let mut buf = [0u8; 256];
            let n = build_frame(&mut buf, &ends(s, d), spec, b"payload!").unwrap();
            let m = parse_frame(&buf[..n]).unwrap().ip.unwrap();
            assert_eq!(m.end, n);
            assert_eq!(
                l4_checksum_state(&buf[..n], &m),
                L4ChecksumState::Valid,
                "{spec:?}"
            );
            if let Some(L4Meta::Tcp { header_len, .. }) = m.l4 {
                assert_eq!(header_len, 20);
            }
        }
    }

    #[test]
    fn known_icmp_echo_bytes() {
        // Echo request 192.0.2.1 -> 192.0.2.2, id 1 seq 1, no payload: ICMP checksum
        // !(0x0800 + 0x0001 + 0x0001) = 0xF7FD; IPv4 header checksum worked by hand:
        // 4500+001c+0000+4000+4001+c000+0201+c000+0202 = 0x24920 -> 0x4922 -> !=B6DD.
        let mut buf = [0u8; 64];
        let n = build_frame(
            &mut buf,
            &ends("192.0.2.1", "192.0.2.2"),
            L4Spec::Icmp {
                icmp_type: 8,
                code: 0,
                rest: [0, 1, 0, 1],
            },
            &[],
        )
        .unwrap();
        assert_eq!(n, 14 + 28);
        assert_eq!(&buf[34..42], &[8, 0, 0xF7, 0xFD, 0, 1, 0, 1]);
        assert_eq!(&buf[24..26], &[0xB6, 0xDD]);
    }

    #[test]
    fn refusals() {
        let mut buf = [0u8; 64];
        assert_eq!(
            build_frame(
                &mut buf,
                &ends("192.0.2.1", "2001:db8::1"),
                L4Spec::Raw { proto: 6 },
                &[]
            ),
            Err(EncapError::FamilyMismatch)
        );
        let icmp6 = L4Spec::Icmpv6 {
            icmp_type: 128,
            code: 0,
            rest: [0; 4],
        };
        assert_eq!(
            build_frame(&mut buf, &ends("192.0.2.1", "192.0.2.2"), icmp6, &[]),
            Err(EncapError::FamilyMismatch)
        );
        assert_eq!(
            build_frame(
                &mut buf,
                &ends("192.0.2.1", "192.0.2.2"),
                L4Spec::Raw { proto: 6 },
                &[0; 40]
            ),
            Err(EncapError::NoRoom)
        );
        let big = vec![0u8; 70_000];
        let mut out = vec![0u8; 80_000];
        assert_eq!(
            build_frame(
                &mut out,
                &ends("192.0.2.1", "192.0.2.2"),
                L4Spec::Raw { proto: 6 },
                &big
            ),
            Err(EncapError::TooLong)
        );
    }
}
