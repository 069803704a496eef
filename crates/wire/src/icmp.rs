//! ICMP and ICMPv6 error messages: which messages are errors, and the packet an
//! error carries (its embedded IP header and first transport bytes), so the director
//! can find the connection an error belongs to.

use std::net::{IpAddr, Ipv4Addr};

use crate::checksum;
use crate::error::ParseError;
use crate::ip::{
    ipv6_addr_at, walk_ipv6_chain, FragmentInfo, IpMeta, IpVersion, IPV4_HLEN, IPV6_HLEN,
    PROTO_TCP, PROTO_UDP,
};
use crate::l4::{L4Meta, ICMP_HLEN};

/// ICMPv4 type: echo reply.
pub const ICMP_ECHO_REPLY: u8 = 0;
/// ICMPv4 type: destination unreachable.
pub const ICMP_DEST_UNREACH: u8 = 3;
/// ICMPv4 type: source quench (deprecated, still an error).
pub const ICMP_SOURCE_QUENCH: u8 = 4;
/// ICMPv4 type: redirect.
pub const ICMP_REDIRECT: u8 = 5;
/// ICMPv4 type: echo request.
pub const ICMP_ECHO_REQUEST: u8 = 8;
/// ICMPv4 type: time exceeded.
pub const ICMP_TIME_EXCEEDED: u8 = 11;
/// ICMPv4 type: parameter problem.
pub const ICMP_PARAMETER_PROBLEM: u8 = 12;
/// ICMPv4 destination-unreachable code: fragmentation needed and DF set.
pub const ICMP_CODE_FRAG_NEEDED: u8 = 4;

/// ICMPv6 type: destination unreachable.
pub const ICMPV6_DEST_UNREACH: u8 = 1;
/// ICMPv6 type: packet too big.
pub const ICMPV6_PACKET_TOO_BIG: u8 = 2;
/// ICMPv6 type: time exceeded.
pub const ICMPV6_TIME_EXCEEDED: u8 = 3;
/// ICMPv6 type: parameter problem.
pub const ICMPV6_PARAMETER_PROBLEM: u8 = 4;
/// ICMPv6 type: echo request.
pub const ICMPV6_ECHO_REQUEST: u8 = 128;
/// ICMPv6 type: echo reply.
pub const ICMPV6_ECHO_REPLY: u8 = 129;
/// ICMPv6 type: neighbor solicitation.
pub const ICMPV6_NEIGHBOR_SOLICITATION: u8 = 135;
/// ICMPv6 type: neighbor advertisement.
pub const ICMPV6_NEIGHBOR_ADVERTISEMENT: u8 = 136;

/// How many transport bytes of the offending packet an ICMP error must carry to be
/// usable (RFC 792 guarantees 64 bits: both ports and, for UDP, the checksum).
pub const INNER_L4_BYTES: usize = 8;

/// Turn an ICMP echo request (or ICMPv6 echo request) into its reply in place:
/// addresses swapped, type changed, TTL 64, checksums updated incrementally (the
/// ICMPv6 pseudo-header sum does not change when its addresses swap), Ethernet
/// addresses swapped. The payload is echoed unchanged.
pub fn echo_reply_in_place(frame: &mut [u8], meta: &IpMeta) -> Result<(), ParseError> {
    let (req, rep) = match meta.l4 {
        Some(L4Meta::Icmp {
            icmp_type: ICMP_ECHO_REQUEST,
            ..
        }) => (ICMP_ECHO_REQUEST, ICMP_ECHO_REPLY),
        Some(L4Meta::Icmpv6 {
            icmp_type: ICMPV6_ECHO_REQUEST,
            ..
        }) => (ICMPV6_ECHO_REQUEST, ICMPV6_ECHO_REPLY),
        _ => return Err(ParseError::TruncatedIcmp),
    };
    if meta.is_fragment() || meta.end > frame.len() || meta.l4_offset + ICMP_HLEN > meta.end {
        return Err(ParseError::TruncatedIcmp);
    }
    if frame.len() < 12 {
        return Err(ParseError::TruncatedEthernet);
    }
    for i in 0..6 {
        frame.swap(i, i + 6);
    }
    let l3 = meta.l3_offset;
    match meta.version {
        IpVersion::V4 => {
            // Swap addresses: the header checksum is unchanged by a swap; the TTL is not.
            for i in 0..4 {
                frame.swap(l3 + 12 + i, l3 + 16 + i);
            }
            let old = u16::from_be_bytes([frame[l3 + 8], frame[l3 + 9]]);
            frame[l3 + 8] = 64;
            let new = u16::from_be_bytes([frame[l3 + 8], frame[l3 + 9]]);
            let hc = u16::from_be_bytes([frame[l3 + 10], frame[l3 + 11]]);
            frame[l3 + 10..l3 + 12]
                .copy_from_slice(&checksum::update16(hc, old, new).to_be_bytes());
        }
        IpVersion::V6 => {
            for i in 0..16 {
                frame.swap(l3 + 8 + i, l3 + 24 + i);
            }
            frame[l3 + 7] = 64;
        }
    }
    let l4 = meta.l4_offset;
    frame[l4] = rep;
    let c = u16::from_be_bytes([frame[l4 + 2], frame[l4 + 3]]);
    let c = checksum::update16(c, u16::from(req) << 8, u16::from(rep) << 8);
    frame[l4 + 2..l4 + 4].copy_from_slice(&c.to_be_bytes());
    Ok(())
}

/// Whether the packet is an ICMP error that relates to another packet the director
/// may track: ICMPv4 destination unreachable, source quench, time exceeded, parameter
/// problem (3, 4, 11, 12) or ICMPv6 types 1 to 4.
#[inline]
pub fn is_icmp_error(meta: &IpMeta) -> bool {
    match meta.l4 {
        Some(L4Meta::Icmp { icmp_type, .. }) => matches!(
            icmp_type,
            ICMP_DEST_UNREACH | ICMP_SOURCE_QUENCH | ICMP_TIME_EXCEEDED | ICMP_PARAMETER_PROBLEM
        ),
        Some(L4Meta::Icmpv6 { icmp_type, .. }) => {
            (ICMPV6_DEST_UNREACH..=ICMPV6_PARAMETER_PROBLEM).contains(&icmp_type)
        }
        _ => false,
    }
}

/// Whether the packet is any ICMP error message, redirects and unknown ICMPv6 error
/// types included: the set about which no ICMP error may ever be sent.
#[inline]
pub fn is_any_icmp_error(meta: &IpMeta) -> bool {
    match meta.l4 {
        Some(L4Meta::Icmp { icmp_type, .. }) => matches!(
            icmp_type,
            ICMP_DEST_UNREACH
                | ICMP_SOURCE_QUENCH
                | ICMP_REDIRECT
                | ICMP_TIME_EXCEEDED
                | ICMP_PARAMETER_PROBLEM
        ),
        Some(L4Meta::Icmpv6 { icmp_type, .. }) => icmp_type < 128,
        _ => false,
    }
}

/// The offending packet embedded in an ICMP error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InnerMeta {
    /// Start of the embedded IP header in the frame.
    pub l3_offset: usize,
    /// Its version (always that of the outer packet).
    pub version: IpVersion,
    /// Its source (for an error about a packet the director sent: the director's
    /// side of the connection).
    pub src: IpAddr,
    /// Its destination.
    pub dst: IpAddr,
    /// Its upper-layer protocol (after IPv6 extension headers).
    pub proto: u8,
    /// Start of its transport header in the frame.
    pub l4_offset: usize,
    /// End of the bytes present (the end of the ICMP message); the embedded packet
    /// is usually cut short of its own length field.
    pub end: usize,
    /// Its first 8 transport bytes.
    pub l4_head: [u8; INNER_L4_BYTES],
    /// (source port, destination port) when it is TCP or UDP and not a later fragment.
    pub ports: Option<(u16, u16)>,
    /// Its fragment facts, if it was a fragment.
    pub fragment: Option<FragmentInfo>,
}

/// Parse the packet embedded in an ICMP error. `outer` is the ICMP packet's own
/// metadata; it must satisfy [`is_icmp_error`].
///
/// Tolerates an embedded packet cut short right after 8 transport bytes (its length
/// field then overstates what is present); needs at least those 8 bytes.
pub fn parse_icmp_inner(frame: &[u8], outer: &IpMeta) -> Result<InnerMeta, ParseError> {
    if !is_icmp_error(outer) {
        return Err(ParseError::IcmpNotError);
    }
    let packet = frame
        .get(..outer.end)
        .ok_or(ParseError::TruncatedIcmpInner)?;
    let l3 = outer.l4_offset.saturating_add(ICMP_HLEN);
    let (version, src, dst, proto, l4_offset, fragment) = match outer.version {
        IpVersion::V4 => {
            let hdr = packet
                .get(l3..)
                .and_then(|p| p.get(..IPV4_HLEN))
                .ok_or(ParseError::TruncatedIcmpInner)?;
            if hdr[0] >> 4 != 4 {
                return Err(ParseError::IcmpInnerBadHeader);
            }
            let header_len = usize::from(hdr[0] & 0x0F) * 4;
            if header_len < IPV4_HLEN {
                return Err(ParseError::IcmpInnerBadHeader);
            }
            let flags_frag = u16::from_be_bytes([hdr[6], hdr[7]]);
            let more = flags_frag & 0x2000 != 0;
            let offset_units = flags_frag & 0x1FFF;
            let fragment = (more || offset_units != 0).then_some(FragmentInfo {
                offset_units,
                more,
                id: u32::from(u16::from_be_bytes([hdr[4], hdr[5]])),
            });
            (
                IpVersion::V4,
                IpAddr::V4(Ipv4Addr::new(hdr[12], hdr[13], hdr[14], hdr[15])),
                IpAddr::V4(Ipv4Addr::new(hdr[16], hdr[17], hdr[18], hdr[19])),
                hdr[9],
                l3 + header_len,
                fragment,
            )
        }
        IpVersion::V6 => {
            let hdr = packet
                .get(l3..)
                .and_then(|p| p.get(..IPV6_HLEN))
                .ok_or(ParseError::TruncatedIcmpInner)?;
            if hdr[0] >> 4 != 6 {
                return Err(ParseError::IcmpInnerBadHeader);
            }
            let (Some(src), Some(dst)) = (ipv6_addr_at(hdr, 8), ipv6_addr_at(hdr, 24)) else {
                return Err(ParseError::TruncatedIcmpInner);
            };
            // Walk only over the bytes present; a chain cut short is a truncation.
            let chain = walk_ipv6_chain(packet, hdr[6], l3 + IPV6_HLEN, packet.len()).map_err(
                |e| match e {
                    ParseError::Ipv6ExtensionTruncated => ParseError::TruncatedIcmpInner,
                    _ => ParseError::IcmpInnerBadHeader,
                },
            )?;
            (
                IpVersion::V6,
                IpAddr::V6(src),
                IpAddr::V6(dst),
                chain.proto,
                chain.l4_offset,
                chain.fragment,
            )
        }
    };
    let head = packet
        .get(l4_offset..)
        .and_then(|p| p.get(..INNER_L4_BYTES))
        .ok_or(ParseError::TruncatedIcmpInner)?;
    let mut l4_head = [0u8; INNER_L4_BYTES];
    l4_head.copy_from_slice(head);
    let later_fragment = fragment.is_some_and(|f| f.offset_units != 0);
    let ports = (matches!(proto, PROTO_TCP | PROTO_UDP) && !later_fragment).then(|| {
        (
            u16::from_be_bytes([l4_head[0], l4_head[1]]),
            u16::from_be_bytes([l4_head[2], l4_head[3]]),
        )
    });
    Ok(InnerMeta {
        l3_offset: l3,
        version,
        src,
        dst,
        proto,
        l4_offset,
        end: packet.len(),
        l4_head,
        ports,
        fragment,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ip::parse_frame;

    /// Ethernet + IPv4 ICMP type 3 code 4 quoting a TCP packet cut after 8 bytes.
    fn frag_needed_v4(quoted_l4: usize) -> Vec<u8> {
        let mut inner = vec![
            0x45, 0, 0x05, 0xDC, 0, 1, 0x40, 0, 64, PROTO_TCP, 0, 0, 192, 0, 2, 10, 203, 0, 113, 5,
        ];
        inner.extend_from_slice(&[0x00, 0x50, 0x9C, 0x40, 1, 2, 3, 4][..quoted_l4.min(8)]);
        inner.resize(20 + quoted_l4, 0);
        let icmp_len = 8 + inner.len();
        let total = 20 + icmp_len;
        let mut f = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00];
        f.extend_from_slice(&[
            0x45,
            0xC0,
            (total >> 8) as u8,
            total as u8,
            0,
            0,
            0,
            0,
            64,
            1,
            0,
            0,
            198,
            51,
            100,
            1,
            192,
            0,
            2,
            10,
        ]);
        f.extend_from_slice(&[3, 4, 0, 0, 0, 0, 0x05, 0x78]);
        f.extend_from_slice(&inner);
        f
    }

    #[test]
    fn icmpv4_error_inner() {
        let f = frag_needed_v4(8);
        let outer = parse_frame(&f).unwrap().ip.unwrap();
        assert!(is_icmp_error(&outer) && is_any_icmp_error(&outer));
        let inner = parse_icmp_inner(&f, &outer).unwrap();
        assert_eq!(inner.l3_offset, 14 + 20 + 8);
        assert_eq!(inner.l4_offset, 14 + 20 + 8 + 20);
        assert_eq!(inner.src, "192.0.2.10".parse::<IpAddr>().unwrap());
        assert_eq!(inner.dst, "203.0.113.5".parse::<IpAddr>().unwrap());
        assert_eq!(inner.proto, PROTO_TCP);
        assert_eq!(inner.ports, Some((80, 40000)));
        assert_eq!(inner.end, f.len());
        assert_eq!(inner.l4_head, [0x00, 0x50, 0x9C, 0x40, 1, 2, 3, 4]);
        for short in 0..8 {
            let f = frag_needed_v4(short);
            let outer = parse_frame(&f).unwrap().ip.unwrap();
            assert_eq!(
                parse_icmp_inner(&f, &outer),
                Err(ParseError::TruncatedIcmpInner)
            );
        }
    }

    #[test]
    fn not_an_error() {
        let mut f = frag_needed_v4(8);
        f[34] = ICMP_ECHO_REQUEST;
        let outer = parse_frame(&f).unwrap().ip.unwrap();
        assert!(!is_icmp_error(&outer) && !is_any_icmp_error(&outer));
        assert_eq!(parse_icmp_inner(&f, &outer), Err(ParseError::IcmpNotError));
        f[34] = ICMP_REDIRECT;
        let outer = parse_frame(&f).unwrap().ip.unwrap();
        assert!(!is_icmp_error(&outer) && is_any_icmp_error(&outer));
    }

    #[test]
    fn bad_inner_header() {
        let mut f = frag_needed_v4(8);
        f[42] = 0x65;
        let outer = parse_frame(&f).unwrap().ip.unwrap();
        assert_eq!(
            parse_icmp_inner(&f, &outer),
            Err(ParseError::IcmpInnerBadHeader)
        );
        f[42] = 0x43;
        assert_eq!(
            parse_icmp_inner(&f, &outer),
            Err(ParseError::IcmpInnerBadHeader)
        );
        f[42] = 0x46; // options claimed but the quoted bytes run out
        assert_eq!(
            parse_icmp_inner(&f, &outer),
            Err(ParseError::TruncatedIcmpInner)
        );
    }

    #[test]
    fn inner_later_fragment_has_no_ports() {
        let mut f = frag_needed_v4(8);
        f[48] = 0x00;
        f[49] = 0x10; // fragment offset 16 units
        let outer = parse_frame(&f).unwrap().ip.unwrap();
        let inner = parse_icmp_inner(&f, &outer).unwrap();
        assert_eq!(inner.ports, None);
        assert_eq!(inner.fragment.map(|x| x.offset_units), Some(16));
    }

    #[test]
    fn icmpv6_error_inner_with_extension() {
        let a: [u8; 16] = "2001:db8::10"
            .parse::<std::net::Ipv6Addr>()
            .unwrap()
            .octets();
        let b: [u8; 16] = "2001:db8:1::5"
            .parse::<std::net::Ipv6Addr>()
            .unwrap()
            .octets();
        let mut inner = vec![0x60, 0, 0, 0, 0x05, 0x00, crate::ip::PROTO_DSTOPTS, 64];
        inner.extend_from_slice(&a);
        inner.extend_from_slice(&b);
        inner.extend_from_slice(&[PROTO_UDP, 0, 1, 4, 0, 0, 0, 0]);
        inner.extend_from_slice(&[0x13, 0x88, 0x00, 0x35, 0x05, 0x00, 0xAB, 0xCD]);
        let mut icmp = vec![ICMPV6_PACKET_TOO_BIG, 0, 0, 0, 0, 0, 0x05, 0x00];
        icmp.extend_from_slice(&inner);
        let mut f = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x86, 0xDD];
        f.extend_from_slice(&[0x60, 0, 0, 0]);
        f.extend_from_slice(&(icmp.len() as u16).to_be_bytes());
        f.extend_from_slice(&[58, 64]);
        f.extend_from_slice(&b);
        f.extend_from_slice(&a);
        f.extend_from_slice(&icmp);
        let outer = parse_frame(&f).unwrap().ip.unwrap();
        assert!(is_icmp_error(&outer));
        let inner = parse_icmp_inner(&f, &outer).unwrap();
        assert_eq!(inner.version, IpVersion::V6);
        assert_eq!(inner.proto, PROTO_UDP);
        assert_eq!(inner.l4_offset, 14 + 40 + 8 + 40 + 8);
        assert_eq!(inner.ports, Some((5000, 53)));
        assert_eq!(inner.src, IpAddr::from(a));
        // Cut inside the quoted extension header or UDP header.
        for cut in 1..16 {
            let mut g = f.clone();
            g.truncate(f.len() - cut);
            let n = (icmp.len() - cut) as u16;
            g[18..20].copy_from_slice(&n.to_be_bytes());
            let outer = parse_frame(&g).unwrap().ip.unwrap();
            assert_eq!(
                parse_icmp_inner(&g, &outer),
                Err(ParseError::TruncatedIcmpInner)
            );
        }
    }
}
