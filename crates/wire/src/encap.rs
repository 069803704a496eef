//! The tunnel forwarding method (IP-in-IP: RFC 2003, and IPv6 in IPv6: RFC 2473),
//! its decapsulation on the real-server side, and the "too big" ICMP errors the
//! director sends when an encapsulated packet would not fit the path MTU.
//!
//! Encapsulation is done in place: the caller leaves headroom in front of the packet
//! and the outer header is written into it, so nothing is copied but the link header.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::checksum;
use crate::error::{EncapError, ParseError};
use crate::ether::{ETH_HLEN, ETH_P_IPV4, ETH_P_IPV6};
use crate::icmp::{
    is_any_icmp_error, ICMPV6_DEST_UNREACH, ICMPV6_PACKET_TOO_BIG, ICMP_CODE_FRAG_NEEDED,
    ICMP_DEST_UNREACH,
};
use crate::ip::{
    parse_ip, IpMeta, IPV4_HLEN, IPV6_HLEN, PROTO_ICMP, PROTO_ICMPV6, PROTO_IPIP, PROTO_IPV6,
};
use crate::l4::{ICMP_CSUM_OFFSET, ICMP_HLEN};

/// Bytes an IPv4 outer header adds.
pub const IPIP_OVERHEAD_V4: usize = IPV4_HLEN;
/// Bytes an IPv6 outer header adds.
pub const IP6IP6_OVERHEAD: usize = IPV6_HLEN;
/// TTL / hop limit of the headers this module originates (the Linux default).
pub const DEFAULT_TTL: u8 = 64;
/// Largest ICMPv4 error: every IPv4 host must accept 576-byte datagrams (RFC 1812
/// 4.3.2.3).
pub const ICMPV4_ERROR_MAX: usize = 576;
/// Largest ICMPv6 error: the IPv6 minimum MTU (RFC 4443 2.4 (c)).
pub const ICMPV6_ERROR_MAX: usize = 1280;

/// Fields of an outer IPv4 header (also used for the other IPv4 headers this crate
/// writes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OuterV4 {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub ttl: u8,
    pub tos: u8,
    pub id: u16,
    pub dont_fragment: bool,
}

impl OuterV4 {
    /// The outer header IPVS would use for `inner`: TOS and DF copied from the inner
    /// packet (so ECN/DSCP survive the tunnel and path-MTU discovery keeps working end
    /// to end; an IPv6 inner packet counts as DF), TTL [`DEFAULT_TTL`] (the tunnel
    /// is one hop of the director's own routing, not a continuation of the client's
    /// TTL budget). `id` is the caller's: a per-director counter does.
    pub fn for_inner(inner: &IpMeta, src: Ipv4Addr, dst: Ipv4Addr, id: u16) -> OuterV4 {
        OuterV4 {
            src,
            dst,
            ttl: DEFAULT_TTL,
            tos: inner.tos,
            id,
            dont_fragment: inner.dont_fragment,
        }
    }
}

/// Fields of an outer IPv6 header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OuterV6 {
    pub src: Ipv6Addr,
    pub dst: Ipv6Addr,
    pub hop_limit: u8,
    pub traffic_class: u8,
    /// Low 20 bits used.
    pub flow_label: u32,
}

impl OuterV6 {
    /// Traffic class copied from `inner`, hop limit [`DEFAULT_TTL`], flow label 0.
    pub fn for_inner(inner: &IpMeta, src: Ipv6Addr, dst: Ipv6Addr) -> OuterV6 {
        OuterV6 {
            src,
            dst,
            hop_limit: DEFAULT_TTL,
            traffic_class: inner.tos,
            flow_label: 0,
        }
    }
}

/// Write a 20-byte IPv4 header (no options, checksum filled in) at the start of
/// `out`, which must hold at least 20 bytes.
pub(crate) fn write_ipv4(out: &mut [u8], h: &OuterV4, proto: u8, total_len: u16) {
    let flags: u16 = if h.dont_fragment { 0x4000 } else { 0 };
    let hdr = &mut out[..IPV4_HLEN];
    hdr[0] = 0x45;
    hdr[1] = h.tos;
    hdr[2..4].copy_from_slice(&total_len.to_be_bytes());
    hdr[4..6].copy_from_slice(&h.id.to_be_bytes());
    hdr[6..8].copy_from_slice(&flags.to_be_bytes());
    hdr[8] = h.ttl;
    hdr[9] = proto;
    hdr[10..12].copy_from_slice(&[0, 0]);
    hdr[12..16].copy_from_slice(&h.src.octets());
    hdr[16..20].copy_from_slice(&h.dst.octets());
    let csum = checksum::ipv4_header(hdr);
    hdr[10..12].copy_from_slice(&csum.to_be_bytes());
}

/// Write a 40-byte IPv6 header at the start of `out`, which must hold 40 bytes.
pub(crate) fn write_ipv6(out: &mut [u8], h: &OuterV6, next_header: u8, payload_len: u16) {
    let word0 = (6u32 << 28) | (u32::from(h.traffic_class) << 20) | (h.flow_label & 0xF_FFFF);
    let hdr = &mut out[..IPV6_HLEN];
    hdr[0..4].copy_from_slice(&word0.to_be_bytes());
    hdr[4..6].copy_from_slice(&payload_len.to_be_bytes());
    hdr[6] = next_header;
    hdr[7] = h.hop_limit;
    hdr[8..24].copy_from_slice(&h.src.octets());
    hdr[24..40].copy_from_slice(&h.dst.octets());
}

/// Tunnel protocol number for the packet starting at `l3_start`: 41 for IPv6 inner
/// packets, 4 otherwise.
fn tunnel_proto(buf: &[u8], l3_start: usize) -> u8 {
    match buf.get(l3_start).map(|b| b >> 4) {
        Some(6) => PROTO_IPV6,
        _ => PROTO_IPIP,
    }
}

fn check_range(buf: &[u8], start: usize, len: usize) -> Result<(), EncapError> {
    match start.checked_add(len) {
        Some(end) if end <= buf.len() => Ok(()),
        _ => Err(EncapError::OutOfBounds),
    }
}

/// Encapsulate the IP packet `buf[l3_start..l3_start + l3_len]` in an outer IPv4
/// header written at `l3_start - 20` (the caller leaves that headroom). Returns the
/// new start of the IP packet, now `l3_len + 20` bytes long.
///
/// The outer protocol is 4 (IP-in-IP) for an IPv4 inner packet, as IPVS sends it, and
/// 41 for an IPv6 inner packet (6in4).
pub fn encap_ipip_v4(
    buf: &mut [u8],
    l3_start: usize,
    l3_len: usize,
    outer: OuterV4,
) -> Result<usize, EncapError> {
    check_range(buf, l3_start, l3_len)?;
    let new_start = l3_start
        .checked_sub(IPIP_OVERHEAD_V4)
        .ok_or(EncapError::NoHeadroom)?;
    let total = u16::try_from(l3_len + IPIP_OVERHEAD_V4).map_err(|_| EncapError::TooLong)?;
    let proto = tunnel_proto(buf, l3_start);
    write_ipv4(&mut buf[new_start..], &outer, proto, total);
    Ok(new_start)
}

/// Encapsulate the IP packet `buf[l3_start..l3_start + l3_len]` in an outer IPv6
/// header written at `l3_start - 40`. Returns the new start of the IP packet.
///
/// The next header is 41 (IPv6 in IPv6) for an IPv6 inner packet and 4 for IPv4.
pub fn encap_ip6ip6(
    buf: &mut [u8],
    l3_start: usize,
    l3_len: usize,
    outer: OuterV6,
) -> Result<usize, EncapError> {
    check_range(buf, l3_start, l3_len)?;
    let new_start = l3_start
        .checked_sub(IP6IP6_OVERHEAD)
        .ok_or(EncapError::NoHeadroom)?;
    let payload_len = u16::try_from(l3_len).map_err(|_| EncapError::TooLong)?;
    let next_header = tunnel_proto(buf, l3_start);
    write_ipv6(&mut buf[new_start..], &outer, next_header, payload_len);
    Ok(new_start)
}

/// The outer header for [`encap_frame`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outer {
    V4(OuterV4),
    V6(OuterV6),
}

/// Encapsulate the IP packet of an Ethernet frame in place, moving the link header
/// (with any VLAN tags) down into the headroom and setting its EtherType to the outer
/// family. The frame starts at `frame_start` in `buf`; `meta` was parsed from the
/// frame (offsets relative to `frame_start`). Padding after the IP packet is dropped.
///
/// Returns the new (frame start, frame length). MAC addresses are the caller's.
pub fn encap_frame(
    buf: &mut [u8],
    frame_start: usize,
    meta: &IpMeta,
    outer: Outer,
) -> Result<(usize, usize), EncapError> {
    let overhead = match outer {
        Outer::V4(_) => IPIP_OVERHEAD_V4,
        Outer::V6(_) => IP6IP6_OVERHEAD,
    };
    let l3 = frame_start
        .checked_add(meta.l3_offset)
        .ok_or(EncapError::OutOfBounds)?;
    let l3_len = meta
        .end
        .checked_sub(meta.l3_offset)
        .ok_or(EncapError::OutOfBounds)?;
    check_range(buf, l3, l3_len)?;
    if meta.l3_offset < ETH_HLEN {
        return Err(EncapError::OutOfBounds);
    }
    let new_frame_start = frame_start
        .checked_sub(overhead)
        .ok_or(EncapError::NoHeadroom)?;
    // The IPv4 total length counts the outer header, the IPv6 payload length not.
    let length_field = match outer {
        Outer::V4(_) => l3_len + IPIP_OVERHEAD_V4,
        Outer::V6(_) => l3_len,
    };
    if length_field > usize::from(u16::MAX) {
        return Err(EncapError::TooLong);
    }
    buf.copy_within(frame_start..l3, new_frame_start);
    let ether_type = match outer {
        Outer::V4(_) => ETH_P_IPV4,
        Outer::V6(_) => ETH_P_IPV6,
    };
    let type_at = l3 - overhead - 2;
    buf[type_at..type_at + 2].copy_from_slice(&ether_type.to_be_bytes());
    match outer {
        Outer::V4(o) => encap_ipip_v4(buf, l3, l3_len, o)?,
        Outer::V6(o) => encap_ip6ip6(buf, l3, l3_len, o)?,
    };
    Ok((new_frame_start, meta.l3_offset + overhead + l3_len))
}

/// For the real-server side: given an IP-in-IP / IPv6-in-IP packet (no Ethernet
/// header), the inner packet's range as (start, end) offsets into `packet`.
pub fn decap_inner(packet: &[u8]) -> Result<(usize, usize), ParseError> {
    let meta = parse_ip(packet, 0)?;
    let want_version = match meta.proto {
        PROTO_IPIP => 4,
        PROTO_IPV6 => 6,
        _ => return Err(ParseError::NotTunnel),
    };
    if meta.is_fragment() {
        return Err(ParseError::TunnelFragment);
    }
    match packet.get(meta.l4_offset).map(|b| b >> 4) {
        Some(v) if v == want_version && meta.l4_offset < meta.end => Ok((meta.l4_offset, meta.end)),
        _ => Err(ParseError::TunnelInnerMismatch),
    }
}

/// Common checks of the "too big" builders; returns how many bytes of the original
/// IP packet to quote.
fn error_quote_len(
    frame: &[u8],
    frame_len: usize,
    meta: &IpMeta,
    new_headers: usize,
    max_error: usize,
) -> Result<usize, EncapError> {
    if frame_len > frame.len() || meta.end > frame_len || meta.l3_offset < ETH_HLEN {
        return Err(EncapError::OutOfBounds);
    }
    if meta.l4_offset > meta.end || meta.l3_offset > meta.l4_offset {
        return Err(EncapError::OutOfBounds);
    }
    if is_any_icmp_error(meta) {
        return Err(EncapError::AboutIcmpError);
    }
    if meta.is_later_fragment() {
        return Err(EncapError::AboutFragment);
    }
    let packet_len = meta.end - meta.l3_offset;
    let room = (frame.len() - meta.l3_offset).saturating_sub(new_headers);
    let quote = packet_len.min(max_error - new_headers).min(room);
    // At least the original IP header (with extensions) and 8 transport bytes.
    let needed = (meta.l4_offset - meta.l3_offset + 8).min(packet_len);
    if quote < needed {
        return Err(EncapError::NoRoom);
    }
    Ok(quote)
}

/// Swap the Ethernet source and destination of a frame (the caller checked 12 bytes).
fn swap_macs(frame: &mut [u8]) {
    for i in 0..6 {
        frame.swap(i, i + 6);
    }
}

/// Turn the frame of a packet that is too big for the path into an ICMP
/// "fragmentation needed" (type 3 code 4, next-hop MTU `mtu`) from `from` back to the
/// packet's source, in place (see [`icmp_error_v4`]). Returns the new frame length.
pub fn icmp_frag_needed_v4(
    frame: &mut [u8],
    frame_len: usize,
    meta: &IpMeta,
    from: Ipv4Addr,
    mtu: u16,
) -> Result<usize, EncapError> {
    let m = mtu.to_be_bytes();
    icmp_error_v4(
        frame,
        frame_len,
        meta,
        from,
        ICMP_DEST_UNREACH,
        ICMP_CODE_FRAG_NEEDED,
        [0, 0, m[0], m[1]],
    )
}

/// Turn the frame of an offending packet into an ICMP error (`icmp_type`, `code`,
/// the 4 bytes after the checksum `rest`) from `from` back to the packet's source, in
/// place: Ethernet source and destination swapped (VLAN tags kept), a new IPv4 header
/// (TTL 64, precedence "internetwork control", DF clear, as Linux sends errors), then
/// the original IP header and as much of its data as keeps the error within 576
/// bytes. Never about an ICMP error or a non-first fragment. Returns the new frame
/// length.
///
/// `frame` is the whole buffer (it may be longer than the frame: room to grow);
/// `frame_len` the frame's current length.
pub fn icmp_error_v4(
    frame: &mut [u8],
    frame_len: usize,
    meta: &IpMeta,
    from: Ipv4Addr,
    icmp_type: u8,
    code: u8,
    rest: [u8; 4],
) -> Result<usize, EncapError> {
    let IpAddr::V4(dst) = meta.src else {
        return Err(EncapError::FamilyMismatch);
    };
    const NEW: usize = IPV4_HLEN + ICMP_HLEN;
    let quote = error_quote_len(frame, frame_len, meta, NEW, ICMPV4_ERROR_MAX)?;
    if dst.is_unspecified() || dst.is_broadcast() || dst.is_multicast() {
        return Err(EncapError::BadSource);
    }
    let l3 = meta.l3_offset;
    frame.copy_within(l3..l3 + quote, l3 + NEW);
    swap_macs(frame);
    let header = OuterV4 {
        src: from,
        dst,
        ttl: DEFAULT_TTL,
        tos: 0xC0 | (meta.tos & 0x1E),
        id: 0,
        dont_fragment: false,
    };
    // NEW + quote <= 576: fits u16.
    write_ipv4(&mut frame[l3..], &header, PROTO_ICMP, (NEW + quote) as u16);
    let icmp = &mut frame[l3 + IPV4_HLEN..l3 + NEW + quote];
    icmp[..4].copy_from_slice(&[icmp_type, code, 0, 0]);
    icmp[4..8].copy_from_slice(&rest);
    let csum = checksum::finish(checksum::sum(icmp, 0));
    icmp[ICMP_CSUM_OFFSET..ICMP_CSUM_OFFSET + 2].copy_from_slice(&csum.to_be_bytes());
    Ok(l3 + NEW + quote)
}

/// The IPv6 counterpart of [`icmp_frag_needed_v4`]: an ICMPv6 Packet Too Big (type 2,
/// MTU `mtu`) from `from` to the packet's source (see [`icmpv6_error`]).
pub fn icmpv6_packet_too_big(
    frame: &mut [u8],
    frame_len: usize,
    meta: &IpMeta,
    from: Ipv6Addr,
    mtu: u32,
) -> Result<usize, EncapError> {
    icmpv6_error(
        frame,
        frame_len,
        meta,
        from,
        ICMPV6_PACKET_TOO_BIG,
        0,
        mtu.to_be_bytes(),
    )
}

/// The IPv6 counterpart of [`icmp_error_v4`]: hop limit 64, the whole error within
/// 1280 bytes, checksum over the pseudo-header. Returns the new frame length.
pub fn icmpv6_error(
    frame: &mut [u8],
    frame_len: usize,
    meta: &IpMeta,
    from: Ipv6Addr,
    icmp_type: u8,
    code: u8,
    rest: [u8; 4],
) -> Result<usize, EncapError> {
    let IpAddr::V6(dst) = meta.src else {
        return Err(EncapError::FamilyMismatch);
    };
    const NEW: usize = IPV6_HLEN + ICMP_HLEN;
    let quote = error_quote_len(frame, frame_len, meta, NEW, ICMPV6_ERROR_MAX)?;
    if dst.is_unspecified() || dst.is_multicast() {
        return Err(EncapError::BadSource);
    }
    let l3 = meta.l3_offset;
    frame.copy_within(l3..l3 + quote, l3 + NEW);
    swap_macs(frame);
    let header = OuterV6 {
        src: from,
        dst,
        hop_limit: DEFAULT_TTL,
        traffic_class: 0,
        flow_label: 0,
    };
    let icmp_len = ICMP_HLEN + quote;
    // icmp_len <= 1240: fits u16.
    write_ipv6(&mut frame[l3..], &header, PROTO_ICMPV6, icmp_len as u16);
    let icmp = &mut frame[l3 + IPV6_HLEN..l3 + NEW + quote];
    icmp[..4].copy_from_slice(&[icmp_type, code, 0, 0]);
    icmp[4..8].copy_from_slice(&rest);
    let csum = checksum::transport_v6(
        &from.octets(),
        &dst.octets(),
        PROTO_ICMPV6,
        icmp,
        ICMP_CSUM_OFFSET,
    );
    icmp[ICMP_CSUM_OFFSET..ICMP_CSUM_OFFSET + 2].copy_from_slice(&csum.to_be_bytes());
    Ok(l3 + NEW + quote)
}

/// "Port unreachable" from `from` (a VIP) back to the source of the offending packet:
/// ICMP type 3 code 3, or ICMPv6 type 1 code 4. What IPVS answers when a virtual
/// service has no real server left.
pub fn dest_unreachable_port(
    frame: &mut [u8],
    frame_len: usize,
    meta: &IpMeta,
    from: IpAddr,
) -> Result<usize, EncapError> {
    match from {
        IpAddr::V4(f) => icmp_error_v4(frame, frame_len, meta, f, ICMP_DEST_UNREACH, 3, [0; 4]),
        IpAddr::V6(f) => icmpv6_error(frame, frame_len, meta, f, ICMPV6_DEST_UNREACH, 4, [0; 4]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::{build_frame, Endpoints, L4Spec};
    use crate::ether::{parse_ether, MacAddr};
    use crate::icmp::{is_icmp_error, parse_icmp_inner};
    use crate::ip::parse_frame;
    use crate::rewrite::{l4_checksum_state, L4ChecksumState};

    const A: MacAddr = MacAddr([2, 0, 0, 0, 0, 0xA]);
    const B: MacAddr = MacAddr([2, 0, 0, 0, 0, 0xB]);

    fn frame_at(headroom: usize, src: &str, dst: &str, payload_len: usize) -> (Vec<u8>, usize) {
        let mut buf = vec![0u8; headroom + 2000];
        let ends = Endpoints {
            src_mac: A,
            dst_mac: B,
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            ttl: 61,
        };
        let payload: Vec<u8> = (0..payload_len).map(|i| i as u8).collect();
        let spec = L4Spec::Tcp {
            src_port: 40000,
            dst_port: 80,
            flags: 0x10,
            seq: 1,
            ack: 1,
        };
        let n = build_frame(&mut buf[headroom..], &ends, spec, &payload).unwrap();
        (buf, n)
    }

    #[test]
    fn ipip_v4_roundtrip() {
        let (mut buf, n) = frame_at(64, "203.0.113.5", "192.0.2.10", 100);
        let original = buf[64 + 14..64 + n].to_vec();
        let meta = parse_frame(&buf[64..64 + n]).unwrap().ip.unwrap();
        let outer = OuterV4::for_inner(
            &meta,
            "198.51.100.1".parse().unwrap(),
            "198.51.100.2".parse().unwrap(),
            7,
        );
        assert_eq!((outer.ttl, outer.tos, outer.dont_fragment), (64, 0, true));
        let start = encap_ipip_v4(&mut buf, 64 + 14, n - 14, outer).unwrap();
        assert_eq!(start, 64 + 14 - 20);
        let packet = &buf[start..64 + n];
        assert!(checksum::ipv4_header_ok(&packet[..20]));
        assert_eq!(packet[9], PROTO_IPIP);
        assert_eq!(
            u16::from_be_bytes([packet[2], packet[3]]) as usize,
            n - 14 + 20
        );
        let (s, e) = decap_inner(packet).unwrap();
        assert_eq!(&packet[s..e], &original[..]);
    }

    #[test]
    fn encap_errors() {
        let (mut buf, n) = frame_at(0, "203.0.113.5", "192.0.2.10", 10);
        let o = OuterV4 {
            src: Ipv4Addr::LOCALHOST,
            dst: Ipv4Addr::LOCALHOST,
            ttl: 1,
            tos: 0,
            id: 0,
            dont_fragment: false,
        };
        assert_eq!(
            encap_ipip_v4(&mut buf, 14, n - 14, o),
            Err(EncapError::NoHeadroom)
        );
        assert_eq!(
            encap_ipip_v4(&mut buf, 30, 5000, o),
            Err(EncapError::OutOfBounds)
        );
        let mut big = vec![0u8; 70_000];
        assert_eq!(
            encap_ipip_v4(&mut big, 20, 65_516, o),
            Err(EncapError::TooLong)
        );
        assert!(encap_ipip_v4(&mut big, 20, 65_515, o).is_ok());
        let o6 = OuterV6 {
            src: Ipv6Addr::LOCALHOST,
            dst: Ipv6Addr::LOCALHOST,
            hop_limit: 1,
            traffic_class: 0,
            flow_label: 0,
        };
        assert_eq!(
            encap_ip6ip6(&mut buf, 39, 10, o6),
            Err(EncapError::NoHeadroom)
        );
        assert_eq!(
            encap_ip6ip6(&mut big, 40, 65_536, o6),
            Err(EncapError::TooLong)
        );
        assert_eq!(
            encap_ip6ip6(&mut buf, usize::MAX, 10, o6),
            Err(EncapError::OutOfBounds)
        );
    }

    #[test]
    fn ip6ip6_frame_roundtrip() {
        let (mut buf, n) = frame_at(48, "2001:db8:1::5", "2001:db8::10", 33);
        let original = buf[48 + 14..48 + n].to_vec();
        let meta = parse_frame(&buf[48..48 + n]).unwrap().ip.unwrap();
        let outer = OuterV6::for_inner(
            &meta,
            "2001:db8:2::1".parse().unwrap(),
            "2001:db8:2::2".parse().unwrap(),
        );
        let (start, len) = encap_frame(&mut buf, 48, &meta, Outer::V6(outer)).unwrap();
        assert_eq!((start, len), (8, n + 40));
        let f = &buf[start..start + len];
        let eth = parse_ether(f).unwrap();
        assert_eq!((eth.dst, eth.src, eth.ether_type), (B, A, ETH_P_IPV6));
        let outer_meta = parse_frame(f).unwrap().ip.unwrap();
        assert_eq!(outer_meta.proto, PROTO_IPV6);
        assert_eq!(outer_meta.ttl, 64);
        let (s, e) = decap_inner(&f[14..]).unwrap();
        assert_eq!(&f[14 + s..14 + e], &original[..]);
    }

    #[test]
    fn mixed_family_tunnel_protocols() {
        let (mut buf, n) = frame_at(64, "2001:db8:1::5", "2001:db8::10", 0);
        let meta = parse_frame(&buf[64..64 + n]).unwrap().ip.unwrap();
        let outer = OuterV4 {
            src: "198.51.100.1".parse().unwrap(),
            dst: "198.51.100.2".parse().unwrap(),
            ttl: 64,
            tos: 0,
            id: 1,
            dont_fragment: true,
        };
        let (start, len) = encap_frame(&mut buf, 64, &meta, Outer::V4(outer)).unwrap();
        let f = &buf[start..start + len];
        assert_eq!(parse_ether(f).unwrap().ether_type, ETH_P_IPV4);
        assert_eq!(f[14 + 9], PROTO_IPV6);
        assert!(decap_inner(&f[14..]).is_ok());
    }

    #[test]
    fn decap_rejects() {
        let (buf, n) = frame_at(0, "203.0.113.5", "192.0.2.10", 0);
        assert_eq!(decap_inner(&buf[14..n]), Err(ParseError::NotTunnel));
        assert_eq!(decap_inner(&[]), Err(ParseError::TruncatedIpv4));
        // Protocol 4 carrying something that is not IPv4.
        let mut p = buf[14..n].to_vec();
        p[9] = PROTO_IPIP;
        let c = checksum::ipv4_header(&p[..20]);
        p[10..12].copy_from_slice(&c.to_be_bytes());
        assert_eq!(decap_inner(&p), Err(ParseError::TunnelInnerMismatch));
        p[6] = 0x20; // MF
        assert_eq!(decap_inner(&p), Err(ParseError::TunnelFragment));
    }

    #[test]
    fn frag_needed_v4_built_in_place() {
        let (mut buf, n) = frame_at(0, "203.0.113.5", "192.0.2.10", 1400);
        let meta = parse_frame(&buf[..n]).unwrap().ip.unwrap();
        let original_ip = buf[14..n].to_vec();
        let len =
            icmp_frag_needed_v4(&mut buf, n, &meta, "192.0.2.10".parse().unwrap(), 1480).unwrap();
        assert_eq!(len, 14 + 576);
        let f = &buf[..len];
        let eth = parse_ether(f).unwrap();
        assert_eq!((eth.dst, eth.src), (A, B));
        let m = parse_frame(f).unwrap().ip.unwrap();
        assert!(is_icmp_error(&m));
        assert_eq!(m.dst, meta.src);
        assert_eq!(m.ttl, 64);
        assert_eq!(m.end, len);
        assert!(checksum::ipv4_header_ok(&f[14..34]));
        assert_eq!(l4_checksum_state(f, &m), L4ChecksumState::Valid);
        assert_eq!(&f[34..42], &[3, 4, f[36], f[37], 0, 0, 0x05, 0xC8]);
        assert_eq!(&f[42..], &original_ip[..548]);
        let inner = parse_icmp_inner(f, &m).unwrap();
        assert_eq!(inner.ports, Some((40000, 80)));

        // Never about an ICMP error.
        let copy = f.to_vec();
        let mut again = copy.clone();
        assert_eq!(
            icmp_frag_needed_v4(&mut again, len, &m, Ipv4Addr::LOCALHOST, 1000),
            Err(EncapError::AboutIcmpError)
        );
        assert_eq!(again, copy);
    }

    #[test]
    fn frag_needed_v4_small_packet_and_small_buffer() {
        let (buf, n) = frame_at(0, "203.0.113.5", "192.0.2.10", 10);
        let meta = parse_frame(&buf[..n]).unwrap().ip.unwrap();
        let mut small = buf[..n + 28].to_vec();
        let len = icmp_frag_needed_v4(&mut small, n, &meta, Ipv4Addr::LOCALHOST, 576).unwrap();
        assert_eq!(len, n + 28, "whole packet quoted");
        let mut tiny = buf[..n + 10].to_vec();
        let len = icmp_frag_needed_v4(&mut tiny, n, &meta, Ipv4Addr::LOCALHOST, 576).unwrap();
        assert_eq!(len, n + 10, "quote cut to the buffer");
        let mut too_small = buf[..14 + 28 + 27].to_vec();
        let before = too_small.clone();
        assert_eq!(
            icmp_frag_needed_v4(&mut too_small, n, &meta, Ipv4Addr::LOCALHOST, 576),
            Err(EncapError::NoRoom)
        );
        assert_eq!(too_small, before);
        let mut b = buf.clone();
        assert_eq!(
            icmp_frag_needed_v4(&mut b, n + 1, &meta, Ipv4Addr::LOCALHOST, 576).map(|_| ()),
            Ok(()),
            "a frame longer than its IP packet (padding) is fine"
        );
        assert_eq!(
            icmp_frag_needed_v4(&mut b[..n], n + 1, &meta, Ipv4Addr::LOCALHOST, 576),
            Err(EncapError::OutOfBounds)
        );
        // Bad source.
        let (buf3, n3) = frame_at(0, "0.0.0.0", "192.0.2.10", 10);
        let meta3 = parse_frame(&buf3[..n3]).unwrap().ip.unwrap();
        let mut b3 = buf3.clone();
        assert_eq!(
            icmp_frag_needed_v4(&mut b3, n3, &meta3, Ipv4Addr::LOCALHOST, 576),
            Err(EncapError::BadSource)
        );
        // Wrong family.
        let (buf4, n4) = frame_at(0, "2001:db8::1", "2001:db8::2", 10);
        let meta4 = parse_frame(&buf4[..n4]).unwrap().ip.unwrap();
        let mut b4 = buf4.clone();
        assert_eq!(
            icmp_frag_needed_v4(&mut b4, n4, &meta4, Ipv4Addr::LOCALHOST, 576),
            Err(EncapError::FamilyMismatch)
        );
    }

    #[test]
    fn packet_too_big_v6() {
        let (mut buf, n) = frame_at(0, "2001:db8:1::5", "2001:db8::10", 1400);
        let meta = parse_frame(&buf[..n]).unwrap().ip.unwrap();
        let original_ip = buf[14..n].to_vec();
        let from: Ipv6Addr = "2001:db8::1".parse().unwrap();
        let len = icmpv6_packet_too_big(&mut buf, n, &meta, from, 1280).unwrap();
        assert_eq!(len, 14 + 1280);
        let f = &buf[..len];
        let m = parse_frame(f).unwrap().ip.unwrap();
        assert!(is_icmp_error(&m));
        assert_eq!((m.src, m.dst, m.ttl), (IpAddr::V6(from), meta.src, 64));
        assert_eq!(l4_checksum_state(f, &m), L4ChecksumState::Valid);
        assert_eq!(&f[54..62], &[2, 0, f[56], f[57], 0, 0, 0x05, 0x00]);
        assert_eq!(&f[62..], &original_ip[..1232]);
        let inner = parse_icmp_inner(f, &m).unwrap();
        assert_eq!(inner.ports, Some((40000, 80)));
    }
}
