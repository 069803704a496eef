//! IPv4 and IPv6 headers: [`parse_frame`], the director's one parse per packet, and
//! the [`IpMeta`] it yields (addresses, protocol, offsets, fragment facts, and the
//! transport header from [`crate::l4`]).
//!
//! Parsing validates every length against the buffer, walks IPv6 extension headers
//! and never panics; a malformed packet is a typed [`ParseError`]. It does not check
//! the IPv4 header checksum (see [`crate::checksum::ipv4_header_ok`]).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::error::ParseError;
use crate::ether::{parse_ether, EtherMeta, ETH_P_IPV4, ETH_P_IPV6};
use crate::l4::{parse_l4, L4Meta};

/// IP protocol number: hop-by-hop options (IPv6 extension header).
pub const PROTO_HOPOPTS: u8 = 0;
/// IP protocol number: ICMP.
pub const PROTO_ICMP: u8 = 1;
/// IP protocol number: IPv4 in IP (IP-in-IP tunnel).
pub const PROTO_IPIP: u8 = 4;
/// IP protocol number: TCP.
pub const PROTO_TCP: u8 = 6;
/// IP protocol number: UDP.
pub const PROTO_UDP: u8 = 17;
/// IP protocol number: IPv6 in IP.
pub const PROTO_IPV6: u8 = 41;
/// IP protocol number: IPv6 routing header.
pub const PROTO_ROUTING: u8 = 43;
/// IP protocol number: IPv6 fragment header.
pub const PROTO_FRAGMENT: u8 = 44;
/// IP protocol number: authentication header.
pub const PROTO_AH: u8 = 51;
/// IP protocol number: ICMPv6.
pub const PROTO_ICMPV6: u8 = 58;
/// IP protocol number: no next header (IPv6).
pub const PROTO_NONE: u8 = 59;
/// IP protocol number: IPv6 destination options.
pub const PROTO_DSTOPTS: u8 = 60;

/// Length of an IPv4 header without options.
pub const IPV4_HLEN: usize = 20;
/// Length of the IPv6 fixed header.
pub const IPV6_HLEN: usize = 40;
/// Longest IPv6 extension-header chain accepted; longer chains are dropped as
/// [`ParseError::Ipv6TooManyExtensions`] (a cheap guard against header-chain abuse).
pub const MAX_IPV6_EXTENSIONS: usize = 8;

/// IP version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IpVersion {
    V4,
    V6,
}

/// Fragmentation facts of a fragment (IPv4 flags/offset or the IPv6 fragment header).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FragmentInfo {
    /// Offset of this fragment's data in 8-byte units.
    pub offset_units: u16,
    /// More fragments follow.
    pub more: bool,
    /// Identification (16 bits for IPv4, 32 for IPv6).
    pub id: u32,
}

/// A parsed frame: Ethernet plus, for IPv4/IPv6 EtherTypes, the IP packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame {
    /// The Ethernet header.
    pub ether: EtherMeta,
    /// `None` for EtherTypes other than IPv4 and IPv6 (ARP is parsed separately).
    pub ip: Option<IpMeta>,
}

/// What the IP header of a packet says, with the offsets of its parts in the buffer.
///
/// Offsets are absolute within the buffer given to the parser. After an in-place
/// rewrite (see [`crate::rewrite`]) the fields that were changed (addresses, ports,
/// TTL) are stale; the offsets stay valid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpMeta {
    /// Start of the IP header.
    pub l3_offset: usize,
    /// IPv4 or IPv6.
    pub version: IpVersion,
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// Upper-layer protocol, after any IPv6 extension headers.
    pub proto: u8,
    /// Start of the transport header (IPv6: after the extension headers).
    pub l4_offset: usize,
    /// End of the IP packet per its length field (a frame may carry padding after it).
    pub end: usize,
    /// TTL or hop limit.
    pub ttl: u8,
    /// TOS or traffic class.
    pub tos: u8,
    /// IPv4 DF flag; always true for IPv6 (routers never fragment it).
    pub dont_fragment: bool,
    /// Set for fragments (IPv4 MF or offset, or an IPv6 fragment header).
    pub fragment: Option<FragmentInfo>,
    /// The transport header; `None` for non-first fragments and for protocols this
    /// crate does not parse.
    pub l4: Option<L4Meta>,
}

impl IpMeta {
    /// (source port, destination port) for TCP and UDP (first fragment or whole).
    #[inline]
    pub fn ports(&self) -> Option<(u16, u16)> {
        self.l4.and_then(|l4| l4.ports())
    }

    /// Length of the IP payload from the transport header on (`end - l4_offset`).
    #[inline]
    pub fn l4_len(&self) -> usize {
        self.end.saturating_sub(self.l4_offset)
    }

    /// Whether this is a fragment at all.
    #[inline]
    pub fn is_fragment(&self) -> bool {
        self.fragment.is_some()
    }

    /// Whether this is the first fragment of a fragmented packet (offset 0). False
    /// for unfragmented packets; see [`IpMeta::has_transport_header`].
    #[inline]
    pub fn is_first_fragment(&self) -> bool {
        matches!(self.fragment, Some(f) if f.offset_units == 0)
    }

    /// Whether this is a fragment other than the first (no transport header).
    #[inline]
    pub fn is_later_fragment(&self) -> bool {
        matches!(self.fragment, Some(f) if f.offset_units != 0)
    }

    /// Whether the packet starts with its transport header: unfragmented or first
    /// fragment.
    #[inline]
    pub fn has_transport_header(&self) -> bool {
        !self.is_later_fragment()
    }

    /// Absolute offset of the transport checksum field, for parsed transports.
    #[inline]
    pub fn l4_checksum_offset(&self) -> Option<usize> {
        self.l4.map(|l4| self.l4_offset + l4.checksum_offset())
    }
}

/// Parse an Ethernet frame and, for IPv4/IPv6, its IP packet and transport header.
#[inline]
pub fn parse_frame(frame: &[u8]) -> Result<Frame, ParseError> {
    let ether = parse_ether(frame)?;
    let ip = match ether.ether_type {
        ETH_P_IPV4 => Some(parse_ipv4(frame, ether.l3_offset)?),
        ETH_P_IPV6 => Some(parse_ipv6(frame, ether.l3_offset)?),
        _ => None,
    };
    Ok(Frame { ether, ip })
}

/// Parse the IP packet starting at `l3_offset` in `buf`, by its version nibble (for
/// packets without Ethernet: TUN devices, tunnel payloads).
#[inline]
pub fn parse_ip(buf: &[u8], l3_offset: usize) -> Result<IpMeta, ParseError> {
    match buf.get(l3_offset).map(|b| b >> 4) {
        Some(6) => parse_ipv6(buf, l3_offset),
        Some(_) => parse_ipv4(buf, l3_offset),
        None => Err(ParseError::TruncatedIpv4),
    }
}

/// Parse the IPv4 packet starting at `l3_offset` in `buf`.
#[inline]
pub fn parse_ipv4(buf: &[u8], l3_offset: usize) -> Result<IpMeta, ParseError> {
    let Some(hdr) = buf.get(l3_offset..).and_then(|p| p.get(..IPV4_HLEN)) else {
        return Err(ParseError::TruncatedIpv4);
    };
    if hdr[0] >> 4 != 4 {
        return Err(ParseError::Ipv4BadVersion);
    }
    let header_len = usize::from(hdr[0] & 0x0F) * 4;
    if header_len < IPV4_HLEN {
        return Err(ParseError::Ipv4BadHeaderLength);
    }
    if l3_offset + header_len > buf.len() {
        return Err(ParseError::TruncatedIpv4);
    }
    let total_len = usize::from(u16::from_be_bytes([hdr[2], hdr[3]]));
    if total_len < header_len {
        return Err(ParseError::Ipv4BadTotalLength);
    }
    // l3_offset < buf.len() here, and total_len <= 65535: no overflow.
    let end = l3_offset + total_len;
    if end > buf.len() {
        return Err(ParseError::TruncatedIpv4);
    }
    let flags_frag = u16::from_be_bytes([hdr[6], hdr[7]]);
    let more = flags_frag & 0x2000 != 0;
    let offset_units = flags_frag & 0x1FFF;
    let fragment = (more || offset_units != 0).then_some(FragmentInfo {
        offset_units,
        more,
        id: u32::from(u16::from_be_bytes([hdr[4], hdr[5]])),
    });
    let proto = hdr[9];
    let l4_offset = l3_offset + header_len;
    let l4 = if offset_units == 0 {
        parse_l4(&buf[l4_offset..end], proto, IpVersion::V4, more)?
    } else {
        None
    };
    Ok(IpMeta {
        l3_offset,
        version: IpVersion::V4,
        src: IpAddr::V4(Ipv4Addr::new(hdr[12], hdr[13], hdr[14], hdr[15])),
        dst: IpAddr::V4(Ipv4Addr::new(hdr[16], hdr[17], hdr[18], hdr[19])),
        proto,
        l4_offset,
        end,
        ttl: hdr[8],
        tos: hdr[1],
        dont_fragment: flags_frag & 0x4000 != 0,
        fragment,
        l4,
    })
}

#[inline]
pub(crate) fn ipv6_addr_at(b: &[u8], at: usize) -> Option<Ipv6Addr> {
    let bytes: [u8; 16] = b.get(at..at.checked_add(16)?)?.try_into().ok()?;
    Some(Ipv6Addr::from(bytes))
}

/// Where an IPv6 extension-header walk ended.
pub(crate) struct Ipv6Chain {
    pub proto: u8,
    pub l4_offset: usize,
    pub fragment: Option<FragmentInfo>,
}

/// Walk the IPv6 extension headers of `packet[..end]` starting with `next_header` at
/// `pos`. Stops at the first header that is not hop-by-hop, routing, fragment,
/// destination options or AH, and right after the fragment header of a non-first
/// fragment (what follows it there is fragment data).
pub(crate) fn walk_ipv6_chain(
    packet: &[u8],
    mut next_header: u8,
    mut pos: usize,
    end: usize,
) -> Result<Ipv6Chain, ParseError> {
    let mut fragment = None;
    let mut count = 0;
    loop {
        let len = match next_header {
            PROTO_HOPOPTS | PROTO_ROUTING | PROTO_DSTOPTS => match packet.get(pos + 1) {
                Some(&units) if pos + 2 <= end => (usize::from(units) + 1) * 8,
                _ => return Err(ParseError::Ipv6ExtensionTruncated),
            },
            PROTO_AH => match packet.get(pos + 1) {
                Some(&units) if pos + 2 <= end => (usize::from(units) + 2) * 4,
                _ => return Err(ParseError::Ipv6ExtensionTruncated),
            },
            PROTO_FRAGMENT => 8,
            _ => break,
        };
        count += 1;
        if count > MAX_IPV6_EXTENSIONS {
            return Err(ParseError::Ipv6TooManyExtensions);
        }
        if pos + len > end {
            return Err(ParseError::Ipv6ExtensionTruncated);
        }
        let hdr = &packet[pos..pos + len];
        let this = next_header;
        next_header = hdr[0];
        pos += len;
        if this == PROTO_FRAGMENT {
            let off_flags = u16::from_be_bytes([hdr[2], hdr[3]]);
            let info = FragmentInfo {
                offset_units: off_flags >> 3,
                more: off_flags & 1 != 0,
                id: u32::from_be_bytes([hdr[4], hdr[5], hdr[6], hdr[7]]),
            };
            fragment = Some(info);
            if info.offset_units != 0 {
                break;
            }
        }
    }
    Ok(Ipv6Chain {
        proto: next_header,
        l4_offset: pos,
        fragment,
    })
}

/// Parse the IPv6 packet starting at `l3_offset` in `buf`.
#[inline]
pub fn parse_ipv6(buf: &[u8], l3_offset: usize) -> Result<IpMeta, ParseError> {
    let Some(hdr) = buf.get(l3_offset..).and_then(|p| p.get(..IPV6_HLEN)) else {
        return Err(ParseError::TruncatedIpv6);
    };
    if hdr[0] >> 4 != 6 {
        return Err(ParseError::Ipv6BadVersion);
    }
    let payload_len = usize::from(u16::from_be_bytes([hdr[4], hdr[5]]));
    let end = l3_offset + IPV6_HLEN + payload_len;
    if end > buf.len() {
        return Err(ParseError::TruncatedIpv6);
    }
    let (Some(src), Some(dst)) = (ipv6_addr_at(hdr, 8), ipv6_addr_at(hdr, 24)) else {
        return Err(ParseError::TruncatedIpv6);
    };
    let chain = walk_ipv6_chain(buf, hdr[6], l3_offset + IPV6_HLEN, end)?;
    let l4 = match chain.fragment {
        Some(f) if f.offset_units != 0 => None,
        _ => parse_l4(
            &buf[chain.l4_offset..end],
            chain.proto,
            IpVersion::V6,
            chain.fragment.is_some_and(|f| f.more),
        )?,
    };
    Ok(IpMeta {
        l3_offset,
        version: IpVersion::V6,
        src: IpAddr::V6(src),
        dst: IpAddr::V6(dst),
        proto: chain.proto,
        l4_offset: chain.l4_offset,
        end,
        ttl: hdr[7],
        tos: (hdr[0] << 4) | (hdr[1] >> 4),
        dont_fragment: true,
        fragment: chain.fragment,
        l4,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::l4::{TCP_ACK, TCP_SYN};

    fn eth(ether_type: u16) -> Vec<u8> {
        let mut f = vec![0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2];
        f.extend_from_slice(&ether_type.to_be_bytes());
        f
    }

    fn ipv4(proto: u8, options: &[u8], payload: &[u8], flags_frag: u16) -> Vec<u8> {
        let hlen = 20 + options.len();
        let total = hlen + payload.len();
        let mut p = vec![
            0x40 | (hlen / 4) as u8,
            0x10,
            (total >> 8) as u8,
            total as u8,
            0x12,
            0x34,
            (flags_frag >> 8) as u8,
            flags_frag as u8,
            64,
            proto,
            0,
            0,
            203,
            0,
            113,
            5,
            192,
            0,
            2,
            10,
        ];
        p.extend_from_slice(options);
        let c = crate::checksum::ipv4_header(&p);
        p[10..12].copy_from_slice(&c.to_be_bytes());
        p.extend_from_slice(payload);
        p
    }

    fn tcp_syn() -> Vec<u8> {
        let mut t = vec![0u8; 20];
        t[0..2].copy_from_slice(&40000u16.to_be_bytes());
        t[2..4].copy_from_slice(&80u16.to_be_bytes());
        t[12] = 0x50;
        t[13] = TCP_SYN;
        t
    }

    fn ipv6(next: u8, payload: &[u8]) -> Vec<u8> {
        let mut p = vec![0x6A, 0xB0, 0, 0];
        p.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        p.push(next);
        p.push(63);
        p.extend_from_slice(&"2001:db8::1".parse::<Ipv6Addr>().unwrap().octets());
        p.extend_from_slice(&"2001:db8::2".parse::<Ipv6Addr>().unwrap().octets());
        p.extend_from_slice(payload);
        p
    }

    #[test]
    fn ipv4_tcp_frame() {
        let mut f = eth(ETH_P_IPV4);
        f.extend(ipv4(PROTO_TCP, &[], &tcp_syn(), 0x4000));
        f.extend_from_slice(&[0; 6]); // Ethernet padding
        let frame = parse_frame(&f).unwrap();
        let ip = frame.ip.unwrap();
        assert_eq!(ip.version, IpVersion::V4);
        assert_eq!(ip.src, "203.0.113.5".parse::<IpAddr>().unwrap());
        assert_eq!(ip.dst, "192.0.2.10".parse::<IpAddr>().unwrap());
        assert_eq!(ip.proto, PROTO_TCP);
        assert_eq!((ip.l3_offset, ip.l4_offset, ip.end), (14, 34, 54));
        assert_eq!(ip.l4_len(), 20);
        assert_eq!((ip.ttl, ip.tos, ip.dont_fragment), (64, 0x10, true));
        assert_eq!(ip.fragment, None);
        assert_eq!(ip.ports(), Some((40000, 80)));
        assert!(!ip.is_first_fragment() && !ip.is_fragment() && ip.has_transport_header());
        assert_eq!(ip.l4_checksum_offset(), Some(50));
    }

    #[test]
    fn ipv4_options_and_fragments() {
        let opts = [1, 1, 1, 0]; // NOP NOP NOP EOL
        let p = ipv4(PROTO_TCP, &opts, &tcp_syn(), 0x2000);
        let ip = parse_ipv4(&p, 0).unwrap();
        assert_eq!(ip.l4_offset, 24);
        assert_eq!(
            ip.fragment,
            Some(FragmentInfo {
                offset_units: 0,
                more: true,
                id: 0x1234
            })
        );
        assert!(ip.is_first_fragment() && ip.has_transport_header());
        assert_eq!(ip.ports(), Some((40000, 80)));

        // A later fragment: the bytes are data, not a header (here too short for one).
        let p = ipv4(PROTO_TCP, &[], &[0xAA; 5], 0x0003);
        let ip = parse_ipv4(&p, 0).unwrap();
        assert_eq!(ip.l4, None);
        assert!(ip.is_later_fragment() && !ip.is_first_fragment());
        assert_eq!(ip.fragment.unwrap().offset_units, 3);
        assert!(!ip.dont_fragment);
    }

    #[test]
    fn ipv4_malformed() {
        let good = ipv4(PROTO_TCP, &[], &tcp_syn(), 0);
        for len in 0..20 {
            assert_eq!(parse_ipv4(&good[..len], 0), Err(ParseError::TruncatedIpv4));
        }
        for len in 20..good.len() {
            assert_eq!(parse_ipv4(&good[..len], 0), Err(ParseError::TruncatedIpv4));
        }
        let mut bad = good.clone();
        bad[0] = 0x55;
        assert_eq!(parse_ipv4(&bad, 0), Err(ParseError::Ipv4BadVersion));
        let mut bad = good.clone();
        bad[0] = 0x44;
        assert_eq!(parse_ipv4(&bad, 0), Err(ParseError::Ipv4BadHeaderLength));
        let mut bad = good.clone();
        bad[0] = 0x4F; // 60-byte header, buffer of 40
        assert_eq!(parse_ipv4(&bad, 0), Err(ParseError::TruncatedIpv4));
        let mut bad = good.clone();
        bad[2..4].copy_from_slice(&19u16.to_be_bytes());
        assert_eq!(parse_ipv4(&bad, 0), Err(ParseError::Ipv4BadTotalLength));
        let mut bad = good.clone();
        bad[2..4].copy_from_slice(&30u16.to_be_bytes());
        assert_eq!(parse_ipv4(&bad, 0), Err(ParseError::TruncatedTcp));
        let mut bad = good.clone();
        bad[32] = 0x40;
        assert_eq!(parse_ipv4(&bad, 0), Err(ParseError::TcpBadDataOffset));
        assert_eq!(parse_ipv4(&good, 100), Err(ParseError::TruncatedIpv4));
    }

    #[test]
    fn non_ip_frames() {
        let mut f = eth(0x0806);
        f.extend_from_slice(&[0; 28]);
        let frame = parse_frame(&f).unwrap();
        assert_eq!(frame.ip, None);
        // IPv6 EtherType with a version-4 packet.
        let mut f = eth(ETH_P_IPV6);
        f.extend(ipv4(PROTO_TCP, &[], &tcp_syn(), 0));
        f.extend_from_slice(&[0; 20]);
        assert_eq!(parse_frame(&f), Err(ParseError::Ipv6BadVersion));
    }

    #[test]
    fn ipv6_plain_udp() {
        let udp = [0x13, 0x88, 0x00, 0x35, 0x00, 0x0A, 0, 0, 0xAB, 0xCD];
        let mut f = eth(ETH_P_IPV6);
        f.extend(ipv6(PROTO_UDP, &udp));
        let ip = parse_frame(&f).unwrap().ip.unwrap();
        assert_eq!(ip.version, IpVersion::V6);
        assert_eq!(ip.src, "2001:db8::1".parse::<IpAddr>().unwrap());
        assert_eq!(ip.dst, "2001:db8::2".parse::<IpAddr>().unwrap());
        assert_eq!((ip.l4_offset, ip.end), (54, 64));
        assert_eq!((ip.ttl, ip.tos, ip.dont_fragment), (63, 0xAB, true));
        assert_eq!(ip.ports(), Some((5000, 53)));
    }

    #[test]
    fn ipv6_extension_chain() {
        let mut tcp = tcp_syn();
        tcp[13] = TCP_SYN | TCP_ACK;
        let mut payload = vec![PROTO_ROUTING, 0, 1, 4, 0, 0, 0, 0]; // hop-by-hop, 8 bytes
        payload.extend_from_slice(&[PROTO_FRAGMENT, 0, 0, 0, 0, 0, 0, 0]); // routing, 8 bytes
        payload.extend_from_slice(&[PROTO_AH, 0, 0x00, 0x01, 0xDE, 0xAD, 0xBE, 0xEF]); // frag
        payload.extend_from_slice(&[PROTO_DSTOPTS, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]); // AH 12
        payload.extend_from_slice(&[PROTO_TCP, 0, 1, 4, 0, 0, 0, 0]); // dest options
        payload.extend_from_slice(&tcp);
        let p = ipv6(PROTO_HOPOPTS, &payload);
        let ip = parse_ipv6(&p, 0).unwrap();
        assert_eq!(ip.proto, PROTO_TCP);
        assert_eq!(ip.l4_offset, 40 + 8 + 8 + 8 + 12 + 8);
        assert_eq!(
            ip.fragment,
            Some(FragmentInfo {
                offset_units: 0,
                more: true,
                id: 0xDEAD_BEEF
            })
        );
        assert!(ip.is_first_fragment());
        assert_eq!(ip.l4.and_then(|l| l.tcp_flags()), Some(TCP_SYN | TCP_ACK));
        // Truncated anywhere inside the chain or TCP header is a typed error.
        for cut in 0..payload.len() {
            let mut q = ipv6(PROTO_HOPOPTS, &payload[..cut]);
            assert!(parse_ipv6(&q, 0).is_err(), "cut {cut}");
            q.truncate(40 + cut / 2);
            assert!(parse_ipv6(&q, 0).is_err(), "cut {cut}");
        }
    }

    #[test]
    fn ipv6_later_fragment_stops_the_walk() {
        // Fragment header with offset 16 units; what follows looks like a header but
        // is data and must not be walked.
        let mut payload = vec![PROTO_HOPOPTS, 0, 0, 0x80, 0, 0, 0, 7];
        payload.extend_from_slice(&[0xFF; 3]);
        let p = ipv6(PROTO_FRAGMENT, &payload);
        let ip = parse_ipv6(&p, 0).unwrap();
        assert_eq!(ip.proto, PROTO_HOPOPTS);
        assert_eq!(ip.l4_offset, 48);
        assert_eq!(ip.l4, None);
        assert!(ip.is_later_fragment());
        assert_eq!(ip.fragment.unwrap().id, 7);
    }

    #[test]
    fn ipv6_limits() {
        let mut payload = Vec::new();
        for _ in 0..MAX_IPV6_EXTENSIONS {
            payload.extend_from_slice(&[PROTO_DSTOPTS, 0, 1, 4, 0, 0, 0, 0]);
        }
        payload[(MAX_IPV6_EXTENSIONS - 1) * 8] = PROTO_NONE;
        let p = ipv6(PROTO_DSTOPTS, &payload);
        let ip = parse_ipv6(&p, 0).unwrap();
        assert_eq!(ip.proto, PROTO_NONE);
        assert_eq!(ip.l4, None);
        assert_eq!(ip.l4_len(), 0);
        payload[(MAX_IPV6_EXTENSIONS - 1) * 8] = PROTO_DSTOPTS;
        payload.extend_from_slice(&[PROTO_NONE, 0, 1, 4, 0, 0, 0, 0]);
        let p = ipv6(PROTO_DSTOPTS, &payload);
        assert_eq!(parse_ipv6(&p, 0), Err(ParseError::Ipv6TooManyExtensions));

        let p = ipv6(PROTO_UDP, &[0; 8]);
        for len in 0..40 {
            assert_eq!(parse_ipv6(&p[..len], 0), Err(ParseError::TruncatedIpv6));
        }
        for len in 40..p.len() {
            assert_eq!(parse_ipv6(&p[..len], 0), Err(ParseError::TruncatedIpv6));
        }
        let mut bad = p.clone();
        bad[0] = 0x4A;
        assert_eq!(parse_ipv6(&bad, 0), Err(ParseError::Ipv6BadVersion));
        // Destination options whose length runs past the payload.
        let p = ipv6(PROTO_DSTOPTS, &[PROTO_TCP, 1, 0, 0, 0, 0, 0, 0]);
        assert_eq!(parse_ipv6(&p, 0), Err(ParseError::Ipv6ExtensionTruncated));
    }

    #[test]
    fn parse_ip_dispatches_on_version() {
        let p4 = ipv4(PROTO_TCP, &[], &tcp_syn(), 0);
        assert_eq!(parse_ip(&p4, 0).unwrap().version, IpVersion::V4);
        let p6 = ipv6(PROTO_NONE, &[]);
        assert_eq!(parse_ip(&p6, 0).unwrap().version, IpVersion::V6);
        assert_eq!(parse_ip(&[], 0), Err(ParseError::TruncatedIpv4));
        assert_eq!(parse_ip(&[0x10; 20], 0), Err(ParseError::Ipv4BadVersion));
    }
}
