//! In-place rewriting of parsed packets with incremental checksum updates: the NAT
//! (masq) address/port rewrite, TTL decrement, the embedded header of ICMP errors, and
//! frame-level checksum helpers (verify, complete a partial checksum).
//!
//! Every function checks the metadata's offsets against the frame first and leaves
//! the frame unchanged when it returns an error. After a rewrite the changed fields of
//! the [`IpMeta`] (addresses, ports, TTL) are stale; its offsets remain valid. The
//! functions read the current values from the frame, never from the metadata, so
//! chained rewrites of one frame with one metadata are correct.

use std::net::IpAddr;

use crate::checksum::{
    self, finish, fold, sum, transport_v4_ok, transport_v6_ok, update16, update_partial_bytes,
};
use crate::error::RewriteError;
use crate::icmp::InnerMeta;
use crate::ip::{IpMeta, IpVersion, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP};
use crate::l4::{L4Meta, ICMP_CSUM_OFFSET, TCP_CSUM_OFFSET, UDP_CSUM_OFFSET};

/// What the transport checksum field of a frame holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CsumMode {
    /// A full checksum (what a wire or a real NIC delivers).
    Full,
    /// A partial checksum: the folded pseudo-header sum, not complemented, as frames
    /// from a local stack with checksum offload carry (AF_PACKET
    /// `TP_STATUS_CSUMNOTREADY`; on XDP nothing says so, see [`l4_checksum_state`]).
    Partial,
}

/// Which end of the packet a rewrite changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    Src,
    Dst,
}

/// Offset of the source address within the IP header.
const fn addr_offset(version: IpVersion, side: Side) -> usize {
    match (version, side) {
        (IpVersion::V4, Side::Src) => 12,
        (IpVersion::V4, Side::Dst) => 16,
        (IpVersion::V6, Side::Src) => 8,
        (IpVersion::V6, Side::Dst) => 24,
    }
}

/// Address bytes of `addr` if it is of family `version`: (buffer, length).
#[inline]
fn addr_bytes(version: IpVersion, addr: IpAddr) -> Option<([u8; 16], usize)> {
    let mut out = [0u8; 16];
    match (version, addr) {
        (IpVersion::V4, IpAddr::V4(a)) => {
            out[..4].copy_from_slice(&a.octets());
            Some((out, 4))
        }
        (IpVersion::V6, IpAddr::V6(a)) => {
            out = a.octets();
            Some((out, 16))
        }
        _ => None,
    }
}

#[inline]
fn read16(frame: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([frame[at], frame[at + 1]])
}

#[inline]
fn write16(frame: &mut [u8], at: usize, v: u16) {
    frame[at..at + 2].copy_from_slice(&v.to_be_bytes());
}

/// Whether `frame[at..at + len]` exists.
#[inline]
fn fits(frame: &[u8], at: usize, len: usize) -> bool {
    at.checked_add(len).is_some_and(|end| end <= frame.len())
}

/// Rewrite the source address (and port) of a parsed packet in place: the NAT
/// outbound direction (RIP:rport back to VIP:vport). See [`set_dst`] for the rules.
#[inline]
pub fn set_src(
    frame: &mut [u8],
    meta: &IpMeta,
    addr: IpAddr,
    port: Option<u16>,
    mode: CsumMode,
) -> Result<(), RewriteError> {
    set_endpoint(frame, meta, Side::Src, addr, port, mode)
}

/// Rewrite the destination address (and port) of a parsed packet in place: the NAT
/// inbound direction (VIP:vport to RIP:rport).
///
/// Updates incrementally the IPv4 header checksum and the transport checksum: TCP,
/// UDP and ICMPv6 cover the addresses through the pseudo-header, ICMPv4 does not. A
/// UDP checksum of 0 ("none": IPv4, or IPv6 under RFC 6936) stays 0; a UDP result
/// of 0 is stored as 0xFFFF. With [`CsumMode::Partial`] the field is a pseudo-header
/// sum: it follows the address and ignores the port.
///
/// `port` needs a TCP or UDP header ([`RewriteError::NoPorts`] otherwise), except on
/// a non-first fragment, where only the IP header changes and `port` is ignored (the
/// first fragment carries the ports and the checksum of the whole datagram).
#[inline]
pub fn set_dst(
    frame: &mut [u8],
    meta: &IpMeta,
    addr: IpAddr,
    port: Option<u16>,
    mode: CsumMode,
) -> Result<(), RewriteError> {
    set_endpoint(frame, meta, Side::Dst, addr, port, mode)
}

/// Where a port rewrite goes (`None`: no port to rewrite), or why it cannot be done.
#[inline]
fn port_target(
    meta: &IpMeta,
    side: Side,
    port: Option<u16>,
) -> Result<Option<(usize, u16)>, RewriteError> {
    match (port, meta.l4) {
        (None, _) => Ok(None),
        (Some(p), Some(L4Meta::Tcp { .. } | L4Meta::Udp { .. })) => {
            let at = meta
                .l4_offset
                .saturating_add(if side == Side::Src { 0 } else { 2 });
            Ok(Some((at, p)))
        }
        (Some(_), _) if meta.is_later_fragment() => Ok(None),
        (Some(_), _) => Err(RewriteError::NoPorts),
    }
}

fn set_endpoint(
    frame: &mut [u8],
    meta: &IpMeta,
    side: Side,
    addr: IpAddr,
    port: Option<u16>,
    mode: CsumMode,
) -> Result<(), RewriteError> {
    if let (IpVersion::V4, IpAddr::V4(a)) = (meta.version, addr) {
        return set_endpoint_v4(frame, meta, side, a.octets(), port, mode);
    }
    set_endpoint_any(frame, meta, side, addr, port, mode)
}

/// [`set_endpoint`] for either family, from byte slices.
fn set_endpoint_any(
    frame: &mut [u8],
    meta: &IpMeta,
    side: Side,
    addr: IpAddr,
    port: Option<u16>,
    mode: CsumMode,
) -> Result<(), RewriteError> {
    let (new_addr, addr_len) =
        addr_bytes(meta.version, addr).ok_or(RewriteError::FamilyMismatch)?;
    let new_addr = &new_addr[..addr_len];
    let header_len = match meta.version {
        IpVersion::V4 => 20,
        IpVersion::V6 => 40,
    };
    if meta.end > frame.len() || !fits(frame, meta.l3_offset, header_len) {
        return Err(RewriteError::OutOfBounds);
    }
    // Inside the header just checked: cannot overflow.
    let addr_at = meta.l3_offset + addr_offset(meta.version, side);
    // The port, if any, and where it goes.
    let port_at = port_target(meta, side, port)?;
    // The transport checksum field, if the transport header is here and its checksum
    // covers the addresses (true of every transport that has ports).
    let l4_csum_at = match meta.l4 {
        Some(l4) if l4.checksum_covers_addresses() => {
            let at = meta.l4_offset.saturating_add(l4.checksum_offset());
            if !fits(frame, at, 2) {
                return Err(RewriteError::OutOfBounds);
            }
            Some((at, l4))
        }
        _ => None,
    };
    if let Some((at, _)) = port_at {
        if !fits(frame, at, 2) {
            return Err(RewriteError::OutOfBounds);
        }
    }

    // All offsets checked: from here on nothing can fail.
    let old_sum = fold(sum(&frame[addr_at..addr_at + addr_len], 0));
    let new_sum = fold(sum(new_addr, 0));
    if meta.version == IpVersion::V4 {
        let at = meta.l3_offset + 10;
        let csum = update16(read16(frame, at), old_sum, new_sum);
        write16(frame, at, csum);
    }
    if let Some((at, l4)) = l4_csum_at {
        let field = read16(frame, at);
        let is_udp = matches!(l4, L4Meta::Udp { .. });
        // 0 in a UDP field means "no checksum" (a computed 0 is sent as 0xFFFF, so 0
        // is never a real one): keep it, on IPv4 and on IPv6 (RFC 6936 tunnels).
        let no_checksum = is_udp && field == 0;
        if !no_checksum {
            let csum = match mode {
                CsumMode::Full => {
                    // RFC 1624 eqn. 3 over the address and the port at once.
                    let mut acc = u32::from(!field) + u32::from(!old_sum) + u32::from(new_sum);
                    if let Some((p_at, p)) = port_at {
                        acc += u32::from(!read16(frame, p_at)) + u32::from(p);
                    }
                    let csum = finish(acc);
                    if is_udp && csum == 0 {
                        0xFFFF
                    } else {
                        csum
                    }
                }
                CsumMode::Partial => {
                    update_partial_bytes(field, &frame[addr_at..addr_at + addr_len], new_addr)
                }
            };
            write16(frame, at, csum);
        }
    }
    frame[addr_at..addr_at + addr_len].copy_from_slice(new_addr);
    if let Some((at, p)) = port_at {
        write16(frame, at, p);
    }
    Ok(())
}

/// [`set_endpoint`] for IPv4, the common case: the same rules and checks, with the
/// checksum updates done on 32-bit words in registers rather than summed from slices.
#[inline]
fn set_endpoint_v4(
    frame: &mut [u8],
    meta: &IpMeta,
    side: Side,
    new: [u8; 4],
    port: Option<u16>,
    mode: CsumMode,
) -> Result<(), RewriteError> {
    let l3 = meta.l3_offset;
    if meta.end > frame.len() || !fits(frame, l3, 20) {
        return Err(RewriteError::OutOfBounds);
    }
    let addr_at = l3 + addr_offset(IpVersion::V4, side);
    let port_at = port_target(meta, side, port)?;
    let l4_csum_at = match meta.l4 {
        Some(l4) if l4.checksum_covers_addresses() => {
            let at = meta.l4_offset.saturating_add(l4.checksum_offset());
            if !fits(frame, at, 2) {
                return Err(RewriteError::OutOfBounds);
            }
            Some((at, matches!(l4, L4Meta::Udp { .. })))
        }
        _ => None,
    };
    if let Some((at, _)) = port_at {
        if !fits(frame, at, 2) {
            return Err(RewriteError::OutOfBounds);
        }
    }
    // All offsets checked: from here on nothing can fail.
    let old = u32::from_be_bytes([
        frame[addr_at],
        frame[addr_at + 1],
        frame[addr_at + 2],
        frame[addr_at + 3],
    ]);
    let new32 = u32::from_be_bytes(new);
    // The address's words: the old ones complemented (subtracted), the new ones added.
    let delta = u32::from(!(old >> 16) as u16)
        + u32::from(!(old as u16))
        + (new32 >> 16)
        + (new32 & 0xFFFF);
    let hc_at = l3 + 10;
    write16(
        frame,
        hc_at,
        checksum::update32(read16(frame, hc_at), old, new32),
    );
    if let Some((at, is_udp)) = l4_csum_at {
        let field = read16(frame, at);
        // UDP 0: no checksum; it stays 0 (see set_dst).
        if !(is_udp && field == 0) {
            let csum = match mode {
                CsumMode::Full => {
                    let mut acc = u32::from(!field) + delta;
                    if let Some((p_at, p)) = port_at {
                        acc += u32::from(!read16(frame, p_at)) + u32::from(p);
                    }
                    let csum = finish(acc);
                    if is_udp && csum == 0 {
                        0xFFFF
                    } else {
                        csum
                    }
                }
                CsumMode::Partial => fold(u32::from(field) + delta),
            };
            write16(frame, at, csum);
        }
    }
    frame[addr_at..addr_at + 4].copy_from_slice(&new);
    if let Some((at, p)) = port_at {
        write16(frame, at, p);
    }
    Ok(())
}

/// Decrement the TTL (IPv4, header checksum updated incrementally) or hop limit
/// (IPv6). Returns false, changing nothing, when the result would be 0 (the packet
/// must not be forwarded; the core may answer with time exceeded) or the metadata
/// does not fit the frame.
#[inline]
pub fn decrement_ttl(frame: &mut [u8], meta: &IpMeta) -> bool {
    match meta.version {
        IpVersion::V4 => {
            if !fits(frame, meta.l3_offset, 20) {
                return false;
            }
            let ttl_at = meta.l3_offset + 8;
            if frame[ttl_at] <= 1 {
                return false;
            }
            // TTL shares its 16-bit word with the protocol byte.
            let old = read16(frame, ttl_at);
            let new = old - 0x0100;
            let csum_at = meta.l3_offset + 10;
            let csum = update16(read16(frame, csum_at), old, new);
            write16(frame, csum_at, csum);
            write16(frame, ttl_at, new);
            true
        }
        IpVersion::V6 => {
            if !fits(frame, meta.l3_offset, 40) {
                return false;
            }
            let at = meta.l3_offset + 7;
            if frame[at] <= 1 {
                return false;
            }
            frame[at] -= 1;
            true
        }
    }
}

/// One end of the embedded packet to change: address bytes (`len` used) and port.
#[derive(Clone, Copy)]
struct EndpointChange {
    side: Side,
    bytes: [u8; 16],
    len: usize,
    port: u16,
}

/// Rewrite the packet embedded in an ICMP error (NAT of errors: the outer addresses
/// are rewritten separately with [`set_src`] / [`set_dst`], before or after this).
///
/// Changes the embedded source and/or destination address and port, the embedded
/// IPv4 header checksum, the embedded transport checksum when its field is among the
/// quoted bytes (incrementally: right even though the rest of the segment is not
/// quoted; a UDP 0 stays 0), then recomputes the outer ICMP/ICMPv6 checksum
/// over the whole message (with the outer addresses the frame holds now).
///
/// Ports are applied only when the embedded packet has them (TCP/UDP, not a later
/// fragment); otherwise they are ignored.
pub fn rewrite_icmp_inner(
    frame: &mut [u8],
    outer: &IpMeta,
    inner: &InnerMeta,
    new_inner_src: Option<(IpAddr, u16)>,
    new_inner_dst: Option<(IpAddr, u16)>,
) -> Result<(), RewriteError> {
    if outer.version != inner.version {
        return Err(RewriteError::FamilyMismatch);
    }
    let header_len = match inner.version {
        IpVersion::V4 => 20,
        IpVersion::V6 => 40,
    };
    let icmp_len = outer.end.saturating_sub(outer.l4_offset);
    if inner.end > frame.len()
        || !fits(frame, inner.l3_offset, header_len)
        || !fits(frame, inner.l4_offset, 8)
        || inner.l4_offset.saturating_add(8) > inner.end
        || outer.end > frame.len()
        || icmp_len < 8
        || !fits(frame, outer.l3_offset, header_len)
    {
        return Err(RewriteError::OutOfBounds);
    }
    // Check both families before changing anything.
    let mut changes: [Option<EndpointChange>; 2] = [None, None];
    for (slot, (side, new)) in changes
        .iter_mut()
        .zip([(Side::Src, new_inner_src), (Side::Dst, new_inner_dst)])
    {
        if let Some((addr, port)) = new {
            let (bytes, len) =
                addr_bytes(inner.version, addr).ok_or(RewriteError::FamilyMismatch)?;
            *slot = Some(EndpointChange {
                side,
                bytes,
                len,
                port,
            });
        }
    }

    // The embedded transport checksum, if quoted and meaningful.
    let later_fragment = inner.fragment.is_some_and(|f| f.offset_units != 0);
    let l4_csum = if later_fragment {
        None
    } else {
        match (inner.proto, inner.version) {
            (PROTO_TCP, _) => Some((inner.l4_offset + TCP_CSUM_OFFSET, false)),
            (PROTO_UDP, _) => Some((inner.l4_offset + UDP_CSUM_OFFSET, true)),
            (PROTO_ICMPV6, IpVersion::V6) => Some((inner.l4_offset + ICMP_CSUM_OFFSET, false)),
            _ => None,
        }
        .filter(|&(at, _)| at + 2 <= inner.end)
    };

    for EndpointChange {
        side,
        bytes,
        len,
        port,
    } in changes.into_iter().flatten()
    {
        let addr_at = inner.l3_offset + addr_offset(inner.version, side);
        let new_addr = &bytes[..len];
        let old_sum = fold(sum(&frame[addr_at..addr_at + len], 0));
        let new_sum = fold(sum(new_addr, 0));
        if inner.version == IpVersion::V4 {
            let at = inner.l3_offset + 10;
            let csum = update16(read16(frame, at), old_sum, new_sum);
            write16(frame, at, csum);
        }
        let port_at = inner
            .ports
            .map(|_| inner.l4_offset + if side == Side::Src { 0 } else { 2 });
        if let Some((at, is_udp)) = l4_csum {
            let field = read16(frame, at);
            if !(is_udp && field == 0) {
                let mut csum = update16(field, old_sum, new_sum);
                if let Some(p_at) = port_at {
                    csum = update16(csum, read16(frame, p_at), port);
                }
                if is_udp && csum == 0 {
                    csum = 0xFFFF;
                }
                write16(frame, at, csum);
            }
        }
        frame[addr_at..addr_at + len].copy_from_slice(new_addr);
        if let Some(p_at) = port_at {
            write16(frame, p_at, port);
        }
    }

    // The outer ICMP checksum covers the embedded bytes: recompute it.
    let csum_at = outer.l4_offset + ICMP_CSUM_OFFSET;
    write16(frame, csum_at, 0);
    let message = &frame[outer.l4_offset..outer.end];
    let csum = match outer.version {
        IpVersion::V4 => finish(sum(message, 0)),
        IpVersion::V6 => {
            let (src, dst) = ipv6_addrs(frame, outer.l3_offset);
            checksum::transport_v6(&src, &dst, PROTO_ICMPV6, message, ICMP_CSUM_OFFSET)
        }
    };
    write16(frame, csum_at, csum);
    Ok(())
}

/// Source and destination of the IPv6 header at `l3` (the caller checked 40 bytes).
#[inline]
fn ipv6_addrs(frame: &[u8], l3: usize) -> ([u8; 16], [u8; 16]) {
    let mut src = [0u8; 16];
    let mut dst = [0u8; 16];
    src.copy_from_slice(&frame[l3 + 8..l3 + 24]);
    dst.copy_from_slice(&frame[l3 + 24..l3 + 40]);
    (src, dst)
}

#[inline]
fn ipv4_addrs(frame: &[u8], l3: usize) -> ([u8; 4], [u8; 4]) {
    (
        [
            frame[l3 + 12],
            frame[l3 + 13],
            frame[l3 + 14],
            frame[l3 + 15],
        ],
        [
            frame[l3 + 16],
            frame[l3 + 17],
            frame[l3 + 18],
            frame[l3 + 19],
        ],
    )
}

/// The range the transport checksum covers (the UDP length for UDP, else the rest
/// of the IP packet), checked against the frame. `None` for fragments (their checksum
/// covers the reassembled datagram) and unparsed transports.
fn l4_checksum_span(frame: &[u8], meta: &IpMeta) -> Option<(usize, usize, L4Meta)> {
    let l4 = meta.l4?;
    if meta.is_fragment() || meta.end > frame.len() || meta.l4_offset > meta.end {
        return None;
    }
    let header_len = match meta.version {
        IpVersion::V4 => 20,
        IpVersion::V6 => 40,
    };
    if !fits(frame, meta.l3_offset, header_len) {
        return None;
    }
    let end = match l4 {
        L4Meta::Udp { .. } => {
            let udp_len = usize::from(u16::from_be_bytes([
                *frame.get(meta.l4_offset + 4)?,
                *frame.get(meta.l4_offset + 5)?,
            ]));
            meta.l4_offset + udp_len
        }
        _ => meta.end,
    };
    (end <= meta.end && meta.l4_offset + l4.checksum_offset() + 2 <= end).then_some((
        meta.l4_offset,
        end,
        l4,
    ))
}

/// Pseudo-header accumulator for the packet's transport segment of `len` bytes.
fn pseudo_for(frame: &[u8], meta: &IpMeta, len: usize) -> u32 {
    match meta.version {
        IpVersion::V4 => {
            let (src, dst) = ipv4_addrs(frame, meta.l3_offset);
            checksum::pseudo_v4(src, dst, meta.proto, len as u16)
        }
        IpVersion::V6 => {
            let (src, dst) = ipv6_addrs(frame, meta.l3_offset);
            checksum::pseudo_v6(&src, &dst, meta.proto, len as u32)
        }
    }
}

/// Turn a partial transport checksum (see [`CsumMode::Partial`]) into the full one
/// in place. Returns false, changing nothing, for fragments, unparsed transports,
/// ICMPv4 (never partial: no pseudo-header) and metadata that does not fit.
pub fn complete_partial_l4(frame: &mut [u8], meta: &IpMeta) -> bool {
    match l4_checksum_span(frame, meta) {
        Some((start, end, l4)) if l4.checksum_covers_addresses() => {
            checksum::complete_partial(&mut frame[start..end], l4.checksum_offset());
            true
        }
        _ => false,
    }
}

/// What the transport checksum field of a packet holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum L4ChecksumState {
    /// A full checksum that verifies.
    Valid,
    /// The folded pseudo-header sum: a partial checksum from a local stack.
    Partial,
    /// Neither: a corrupt packet.
    Invalid,
    /// UDP with checksum 0: none was computed (legal on IPv4; on IPv6 only for
    /// tunnels under RFC 6936, the caller decides).
    Absent,
    /// Cannot tell: a fragment, an unparsed transport, or metadata that does not fit.
    Unknown,
}

/// Classify the transport checksum: full and valid, partial (pseudo-header sum only,
/// as a frame from a local stack over veth carries when nothing flags it, e.g. on
/// XDP), invalid, absent. Costs a sum over the whole segment: for paths where the
/// checksum state is unknown, not for every packet on a NIC that delivers full sums.
pub fn l4_checksum_state(frame: &[u8], meta: &IpMeta) -> L4ChecksumState {
    let Some((start, end, l4)) = l4_checksum_span(frame, meta) else {
        return L4ChecksumState::Unknown;
    };
    let segment = &frame[start..end];
    let field_at = l4.checksum_offset();
    let field = u16::from_be_bytes([segment[field_at], segment[field_at + 1]]);
    let valid = match (meta.version, l4) {
        (_, L4Meta::Udp { .. }) if field == 0 => return L4ChecksumState::Absent,
        (_, L4Meta::Icmp { .. }) => fold(sum(segment, 0)) == 0xFFFF,
        (IpVersion::V4, _) => {
            let (src, dst) = ipv4_addrs(frame, meta.l3_offset);
            transport_v4_ok(src, dst, meta.proto, segment)
        }
        (IpVersion::V6, _) => {
            let (src, dst) = ipv6_addrs(frame, meta.l3_offset);
            transport_v6_ok(&src, &dst, meta.proto, segment)
        }
    };
    if valid {
        L4ChecksumState::Valid
    } else if l4.checksum_covers_addresses()
        && field == fold(pseudo_for(frame, meta, segment.len()))
    {
        L4ChecksumState::Partial
    } else {
        L4ChecksumState::Invalid
    }
}

#[cfg(test)]
mod v4_fast_path {
    use super::*;
    use crate::build::{build_frame, Endpoints, L4Spec};
    use crate::ether::MacAddr;
    use crate::ip::parse_frame;
    use proptest::prelude::*;

    proptest! {
        /// The IPv4 fast path writes exactly what the general path writes.
        #[test]
        fn matches_the_general_path(
            src in any::<[u8; 4]>(),
            dst in any::<[u8; 4]>(),
            new in any::<[u8; 4]>(),
            ports in any::<(u16, u16, u16)>(),
            payload in proptest::collection::vec(any::<u8>(), 0..64),
            udp in any::<bool>(),
            dst_side in any::<bool>(),
            with_port in any::<bool>(),
            partial in any::<bool>(),
            zero_udp in any::<bool>(),
        ) {
            let l4 = if udp {
                L4Spec::Udp { src_port: ports.0, dst_port: ports.1 }
            } else {
                L4Spec::Tcp { src_port: ports.0, dst_port: ports.1, flags: 0x10, seq: 1, ack: 2 }
            };
            let ends = Endpoints {
                src_mac: MacAddr([2, 0, 0, 0, 0, 1]),
                dst_mac: MacAddr([2, 0, 0, 0, 0, 2]),
                src: IpAddr::from(src),
                dst: IpAddr::from(dst),
                ttl: 64,
            };
            let mut buf = vec![0u8; 256];
            let n = build_frame(&mut buf, &ends, l4, &payload).unwrap();
            buf.truncate(n);
            if udp && zero_udp {
                buf[14 + 20 + 6] = 0;
                buf[14 + 20 + 7] = 0;
            }
            let meta = parse_frame(&buf).unwrap().ip.unwrap();
            let side = if dst_side { Side::Dst } else { Side::Src };
            let mode = if partial { CsumMode::Partial } else { CsumMode::Full };
            let port = with_port.then_some(ports.2);
            let (mut fast, mut general) = (buf.clone(), buf.clone());
            let a = set_endpoint(&mut fast, &meta, side, IpAddr::from(new), port, mode);
            let b = set_endpoint_any(&mut general, &meta, side, IpAddr::from(new), port, mode);
            prop_assert_eq!(a, b);
            prop_assert_eq!(fast, general);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::{build_frame, Endpoints, L4Spec};
    use crate::ether::MacAddr;
    use crate::icmp::parse_icmp_inner;
    use crate::ip::parse_frame;

    const MACS: (MacAddr, MacAddr) = (MacAddr([2, 0, 0, 0, 0, 1]), MacAddr([2, 0, 0, 0, 0, 2]));

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn frame(src: &str, dst: &str, l4: L4Spec, payload: &[u8]) -> Vec<u8> {
        let mut buf = vec![0u8; 2048];
        let ends = Endpoints {
            src_mac: MACS.0,
            dst_mac: MACS.1,
            src: ip(src),
            dst: ip(dst),
            ttl: 64,
        };
        let n = build_frame(&mut buf, &ends, l4, payload).unwrap();
        buf.truncate(n);
        buf
    }

    fn assert_checksums_valid(f: &[u8]) {
        let meta = parse_frame(f).unwrap().ip.unwrap();
        if meta.version == IpVersion::V4 {
            assert!(checksum::ipv4_header_ok(&f[meta.l3_offset..meta.l4_offset]));
        }
        assert_eq!(l4_checksum_state(f, &meta), L4ChecksumState::Valid);
    }

    #[test]
    fn nat_inbound_tcp_v4() {
        let mut f = frame(
            "203.0.113.5",
            "192.0.2.10",
            L4Spec::Tcp {
                src_port: 40000,
                dst_port: 80,
                flags: crate::l4::TCP_SYN,
                seq: 1,
                ack: 0,
            },
            b"hello",
        );
        let meta = parse_frame(&f).unwrap().ip.unwrap();
        set_dst(
            &mut f,
            &meta,
            ip("198.51.100.2"),
            Some(8080),
            CsumMode::Full,
        )
        .unwrap();
        let after = parse_frame(&f).unwrap().ip.unwrap();
        assert_eq!(after.dst, ip("198.51.100.2"));
        assert_eq!(after.ports(), Some((40000, 8080)));
        assert_checksums_valid(&f);
        // And back out again, through set_src on the reply direction's fields.
        set_src(&mut f, &after, ip("192.0.2.99"), Some(443), CsumMode::Full).unwrap();
        let again = parse_frame(&f).unwrap().ip.unwrap();
        assert_eq!(again.src, ip("192.0.2.99"));
        assert_eq!(again.ports(), Some((443, 8080)));
        assert_checksums_valid(&f);
    }

    #[test]
    fn udp_zero_checksum_stays_zero_v4() {
        let mut f = frame(
            "203.0.113.5",
            "192.0.2.10",
            L4Spec::Udp {
                src_port: 5000,
                dst_port: 53,
            },
            b"query",
        );
        let meta = parse_frame(&f).unwrap().ip.unwrap();
        let at = meta.l4_offset + 6;
        f[at] = 0;
        f[at + 1] = 0;
        assert_eq!(l4_checksum_state(&f, &meta), L4ChecksumState::Absent);
        set_dst(
            &mut f,
            &meta,
            ip("198.51.100.3"),
            Some(5353),
            CsumMode::Full,
        )
        .unwrap();
        assert_eq!(&f[at..at + 2], &[0, 0]);
        assert!(checksum::ipv4_header_ok(&f[14..34]));
    }

    #[test]
    fn udp_zero_checksum_stays_zero_v6() {
        let mut f = frame(
            "2001:db8::5",
            "2001:db8::10",
            L4Spec::Udp {
                src_port: 4789,
                dst_port: 4789,
            },
            b"tunnel",
        );
        let meta = parse_frame(&f).unwrap().ip.unwrap();
        let at = meta.l4_offset + 6;
        f[at..at + 2].copy_from_slice(&[0, 0]);
        assert_eq!(l4_checksum_state(&f, &meta), L4ChecksumState::Absent);
        set_dst(&mut f, &meta, ip("2001:db8:1::2"), Some(1), CsumMode::Full).unwrap();
        assert_eq!(&f[at..at + 2], &[0, 0]);
    }

    #[test]
    fn absurd_metadata_is_refused_without_panics() {
        let mut f = frame(
            "203.0.113.5",
            "192.0.2.10",
            L4Spec::Tcp {
                src_port: 1,
                dst_port: 2,
                flags: 0,
                seq: 0,
                ack: 0,
            },
            b"x",
        );
        let good = parse_frame(&f).unwrap().ip.unwrap();
        let before = f.clone();
        for (l3, l4, end) in [
            (usize::MAX, usize::MAX, usize::MAX),
            (usize::MAX - 3, 14 + 20, 50),
            (14, usize::MAX - 1, 50),
            (14, 34, usize::MAX),
            (1000, 1020, 1040),
        ] {
            let meta = IpMeta {
                l3_offset: l3,
                l4_offset: l4,
                end,
                ..good
            };
            assert!(set_dst(&mut f, &meta, ip("198.51.100.2"), Some(3), CsumMode::Full).is_err());
            assert!(set_src(&mut f, &meta, ip("198.51.100.2"), None, CsumMode::Partial).is_err());
            assert!(!decrement_ttl(&mut f, &meta) || l3 == 14);
            assert!(!complete_partial_l4(&mut f, &meta));
            assert_eq!(l4_checksum_state(&f, &meta), L4ChecksumState::Unknown);
            let _ = crate::icmp::parse_icmp_inner(&f, &meta);
            let _ = crate::encap::icmp_frag_needed_v4(
                &mut f,
                54,
                &meta,
                "192.0.2.1".parse().unwrap(),
                1000,
            );
            f.copy_from_slice(&before);
        }
    }

    /// A payload word that makes the full checksum of `spec` from `src` to `dst`
    /// compute to 0 (the one's-complement sum folds to 0xFFFF).
    fn zero_checksum_payload(src: &str, dst: &str, spec: L4Spec) -> [u8; 2] {
        let f = frame(src, dst, spec, &[0, 0]);
        let meta = parse_frame(&f).unwrap().ip.unwrap();
        let at = meta.l4_checksum_offset().unwrap();
        let mut seg = f[meta.l4_offset..meta.end].to_vec();
        let field_rel = at - meta.l4_offset;
        seg[field_rel] = 0;
        seg[field_rel + 1] = 0;
        let acc = pseudo_for(&f, &meta, seg.len());
        let folded = fold(sum(&seg, acc));
        (0xFFFF - folded).to_be_bytes()
    }

    #[test]
    fn udp_result_zero_is_sent_as_ffff_and_tcp_zero_stays_zero() {
        let udp = L4Spec::Udp {
            src_port: 5000,
            dst_port: 53,
        };
        let word = zero_checksum_payload("203.0.113.5", "198.51.100.2", udp);
        let expected = frame("203.0.113.5", "198.51.100.2", udp, &word);
        let at = 14 + 20 + 6;
        assert_eq!(
            &expected[at..at + 2],
            &[0xFF, 0xFF],
            "built with the UDP rule"
        );
        let mut f = frame("203.0.113.5", "192.0.2.10", udp, &word);
        let meta = parse_frame(&f).unwrap().ip.unwrap();
        set_dst(&mut f, &meta, ip("198.51.100.2"), None, CsumMode::Full).unwrap();
        assert_eq!(f, expected);
        // Rewriting back from a 0xFFFF field.
        set_dst(&mut f, &meta, ip("192.0.2.10"), None, CsumMode::Full).unwrap();
        assert_eq!(f, frame("203.0.113.5", "192.0.2.10", udp, &word));

        let tcp = L4Spec::Tcp {
            src_port: 1,
            dst_port: 2,
            flags: 0x10,
            seq: 3,
            ack: 4,
        };
        let word = zero_checksum_payload("2001:db8::1", "2001:db8::3", tcp);
        let expected = frame("2001:db8::1", "2001:db8::3", tcp, &word);
        let at = 14 + 40 + 16;
        assert_eq!(&expected[at..at + 2], &[0, 0], "TCP keeps a computed 0");
        let mut f = frame("2001:db8::1", "2001:db8::2", tcp, &word);
        let meta = parse_frame(&f).unwrap().ip.unwrap();
        set_dst(&mut f, &meta, ip("2001:db8::3"), None, CsumMode::Full).unwrap();
        assert_eq!(f, expected);
    }

    #[test]
    fn errors_leave_the_frame_alone() {
        let f0 = frame(
            "203.0.113.5",
            "192.0.2.10",
            L4Spec::Icmp {
                icmp_type: 8,
                code: 0,
                rest: [0, 1, 0, 1],
            },
            b"ping",
        );
        let meta = parse_frame(&f0).unwrap().ip.unwrap();
        let mut f = f0.clone();
        assert_eq!(
            set_dst(&mut f, &meta, ip("2001:db8::1"), None, CsumMode::Full),
            Err(RewriteError::FamilyMismatch)
        );
        assert_eq!(
            set_dst(&mut f, &meta, ip("198.51.100.2"), Some(1), CsumMode::Full),
            Err(RewriteError::NoPorts)
        );
        assert_eq!(
            set_dst(
                &mut f[..40],
                &meta,
                ip("198.51.100.2"),
                None,
                CsumMode::Full
            ),
            Err(RewriteError::OutOfBounds)
        );
        assert_eq!(f, f0);
        // ICMPv4 has no pseudo-header: only the IP header checksum changes.
        set_dst(&mut f, &meta, ip("198.51.100.2"), None, CsumMode::Full).unwrap();
        assert_eq!(f[meta.l4_offset..], f0[meta.l4_offset..]);
        assert_checksums_valid(&f);
    }

    #[test]
    fn later_fragment_changes_only_ip() {
        let mut f = frame(
            "203.0.113.5",
            "192.0.2.10",
            L4Spec::Udp {
                src_port: 1,
                dst_port: 2,
            },
            &[0xAB; 16],
        );
        // Turn it into a later fragment by hand: offset 8 units.
        f[20] = 0x00;
        f[21] = 0x08;
        let c = checksum::ipv4_header(&f[14..34]);
        f[24..26].copy_from_slice(&c.to_be_bytes());
        let meta = parse_frame(&f).unwrap().ip.unwrap();
        assert!(meta.is_later_fragment());
        let before = f.clone();
        set_dst(&mut f, &meta, ip("198.51.100.2"), Some(99), CsumMode::Full).unwrap();
        assert_eq!(f[34..], before[34..]);
        assert!(checksum::ipv4_header_ok(&f[14..34]));
        assert_eq!(l4_checksum_state(&f, &meta), L4ChecksumState::Unknown);
    }

    #[test]
    fn ttl_decrement() {
        let mut f = frame(
            "203.0.113.5",
            "192.0.2.10",
            L4Spec::Udp {
                src_port: 1,
                dst_port: 2,
            },
            b"x",
        );
        let meta = parse_frame(&f).unwrap().ip.unwrap();
        assert!(decrement_ttl(&mut f, &meta));
        assert_eq!(f[22], 63);
        assert!(checksum::ipv4_header_ok(&f[14..34]));
        f[22] = 1;
        let c = checksum::ipv4_header(&f[14..34]);
        f[24..26].copy_from_slice(&c.to_be_bytes());
        let before = f.clone();
        assert!(!decrement_ttl(&mut f, &meta));
        assert_eq!(f, before);
        assert!(!decrement_ttl(&mut f[..20], &meta));

        let mut f = frame(
            "2001:db8::1",
            "2001:db8::2",
            L4Spec::Udp {
                src_port: 1,
                dst_port: 2,
            },
            b"x",
        );
        let meta = parse_frame(&f).unwrap().ip.unwrap();
        assert!(decrement_ttl(&mut f, &meta));
        assert_eq!(f[21], 63);
        f[21] = 1;
        assert!(!decrement_ttl(&mut f, &meta));
    }

    #[test]
    fn partial_checksum_classified_and_completed() {
        let mut f = frame(
            "2001:db8::1",
            "2001:db8::2",
            L4Spec::Tcp {
                src_port: 1,
                dst_port: 2,
                flags: 0x10,
                seq: 7,
                ack: 9,
            },
            b"abcdef",
        );
        let meta = parse_frame(&f).unwrap().ip.unwrap();
        let at = meta.l4_offset + 16;
        let pseudo = fold(pseudo_for(&f, &meta, meta.l4_len()));
        f[at..at + 2].copy_from_slice(&pseudo.to_be_bytes());
        assert_eq!(l4_checksum_state(&f, &meta), L4ChecksumState::Partial);
        set_dst(
            &mut f,
            &meta,
            ip("2001:db8::99"),
            Some(8080),
            CsumMode::Partial,
        )
        .unwrap();
        assert_eq!(l4_checksum_state(&f, &meta), L4ChecksumState::Partial);
        assert!(complete_partial_l4(&mut f, &meta));
        assert_checksums_valid(&f);
        f[at] ^= 0x40;
        assert_eq!(l4_checksum_state(&f, &meta), L4ChecksumState::Invalid);
    }

    #[test]
    fn icmp_error_inner_nat_v4() {
        // The client's router reports "fragmentation needed" about a reply the
        // director sent as VIP:80 -> client; NAT maps it to the real server.
        let inner_tcp = frame(
            "192.0.2.10",
            "203.0.113.5",
            L4Spec::Tcp {
                src_port: 80,
                dst_port: 40000,
                flags: 0x18,
                seq: 100,
                ack: 200,
            },
            &[0x55; 64],
        );
        let quoted = &inner_tcp[14..14 + 20 + 20 + 8]; // header + TCP header + 8 bytes
        let mut rest = [0u8; 4];
        rest[2..].copy_from_slice(&1400u16.to_be_bytes());
        let mut f = frame(
            "203.0.113.1",
            "192.0.2.10",
            L4Spec::Icmp {
                icmp_type: 3,
                code: 4,
                rest,
            },
            quoted,
        );
        let outer = parse_frame(&f).unwrap().ip.unwrap();
        let inner = parse_icmp_inner(&f, &outer).unwrap();
        rewrite_icmp_inner(
            &mut f,
            &outer,
            &inner,
            Some((ip("198.51.100.2"), 8080)),
            None,
        )
        .unwrap();
        set_dst(&mut f, &outer, ip("198.51.100.2"), None, CsumMode::Full).unwrap();
        let outer2 = parse_frame(&f).unwrap().ip.unwrap();
        let inner2 = parse_icmp_inner(&f, &outer2).unwrap();
        assert_eq!(inner2.src, ip("198.51.100.2"));
        assert_eq!(inner2.ports, Some((8080, 40000)));
        assert!(checksum::ipv4_header_ok(
            &f[inner2.l3_offset..inner2.l4_offset]
        ));
        assert_checksums_valid(&f);
        // The embedded TCP checksum equals that of the whole rewritten segment.
        let mut whole = inner_tcp.clone();
        let m = parse_frame(&whole).unwrap().ip.unwrap();
        set_src(
            &mut whole,
            &m,
            ip("198.51.100.2"),
            Some(8080),
            CsumMode::Full,
        )
        .unwrap();
        assert_eq!(
            &f[inner2.l4_offset + 16..inner2.l4_offset + 18],
            &whole[m.l4_offset + 16..m.l4_offset + 18]
        );
        // Family mismatch is refused.
        assert_eq!(
            rewrite_icmp_inner(&mut f, &outer2, &inner2, Some((ip("2001:db8::1"), 1)), None),
            Err(RewriteError::FamilyMismatch)
        );
    }
}
