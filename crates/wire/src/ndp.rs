//! IPv6 Neighbor Discovery (RFC 4861) as far as VIP ownership needs it: parse a
//! Neighbor Solicitation, answer with a Neighbor Advertisement, and announce an
//! address with an unsolicited advertisement to all nodes.

use std::net::{IpAddr, Ipv6Addr};

use crate::checksum;
use crate::encap::{write_ipv6, OuterV6};
use crate::error::ParseError;
use crate::ether::{write_ether, MacAddr, ETH_HLEN, ETH_P_IPV6};
use crate::icmp::{ICMPV6_NEIGHBOR_ADVERTISEMENT, ICMPV6_NEIGHBOR_SOLICITATION};
use crate::ip::{IpMeta, IPV6_HLEN, PROTO_ICMPV6};
use crate::l4::{L4Meta, ICMP_CSUM_OFFSET};

/// Hop limit of every Neighbor Discovery message; anything else was forwarded by a
/// router and must be ignored.
pub const NDP_HOP_LIMIT: u8 = 255;
/// Option type: source link-layer address.
pub const OPT_SOURCE_LL_ADDR: u8 = 1;
/// Option type: target link-layer address.
pub const OPT_TARGET_LL_ADDR: u8 = 2;
/// Length of a solicitation or advertisement body before options.
const ND_BODY_LEN: usize = 24;
/// Length of a link-layer address option for Ethernet.
const LL_OPT_LEN: usize = 8;
/// Length of the advertisement frames built here.
pub const NA_FRAME_LEN: usize = ETH_HLEN + IPV6_HLEN + ND_BODY_LEN + LL_OPT_LEN;

/// Advertisement flag: sent by a router.
pub const NA_FLAG_ROUTER: u8 = 0x80;
/// Advertisement flag: in answer to a solicitation.
pub const NA_FLAG_SOLICITED: u8 = 0x40;
/// Advertisement flag: override an existing cache entry.
pub const NA_FLAG_OVERRIDE: u8 = 0x20;

/// ff02::1, all nodes.
pub const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);

/// A parsed Neighbor Solicitation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NeighborSolicitation {
    /// IPv6 source; `::` for duplicate address detection.
    pub src: Ipv6Addr,
    /// IPv6 destination (solicited-node multicast or the target itself).
    pub dst: Ipv6Addr,
    /// The address whose link-layer address is asked for.
    pub target: Ipv6Addr,
    /// The source link-layer address option, if present.
    pub source_mac: Option<MacAddr>,
    /// The Ethernet source of the frame.
    pub ether_src: MacAddr,
}

impl NeighborSolicitation {
    /// Duplicate address detection (source `::`): the answer goes to all nodes.
    pub fn is_dad(&self) -> bool {
        self.src.is_unspecified()
    }

    /// Where a unicast answer goes: the source link-layer option, else the frame's
    /// Ethernet source.
    pub fn reply_mac(&self) -> MacAddr {
        self.source_mac.unwrap_or(self.ether_src)
    }
}

/// Parse the Neighbor Solicitation in an Ethernet frame whose IP packet `meta`
/// describes, applying the validity checks of RFC 4861 7.1.1 (hop limit 255, code 0,
/// at least 24 bytes, valid checksum, target not multicast, options of non-zero
/// length, no source link-layer option from `::`).
pub fn parse_neighbor_solicitation(
    frame: &[u8],
    meta: &IpMeta,
) -> Result<NeighborSolicitation, ParseError> {
    let code = match meta.l4 {
        Some(L4Meta::Icmpv6 {
            icmp_type: ICMPV6_NEIGHBOR_SOLICITATION,
            code,
        }) => code,
        _ => return Err(ParseError::NotNeighborSolicitation),
    };
    let (IpAddr::V6(src), IpAddr::V6(dst)) = (meta.src, meta.dst) else {
        return Err(ParseError::NotNeighborSolicitation);
    };
    if meta.ttl != NDP_HOP_LIMIT || code != 0 || meta.is_fragment() {
        return Err(ParseError::NdpInvalid);
    }
    let msg = frame
        .get(meta.l4_offset..meta.end)
        .ok_or(ParseError::NdpInvalid)?;
    if msg.len() < ND_BODY_LEN {
        return Err(ParseError::NdpInvalid);
    }
    if !checksum::transport_v6_ok(&src.octets(), &dst.octets(), PROTO_ICMPV6, msg) {
        return Err(ParseError::BadChecksum);
    }
    let mut target = [0u8; 16];
    target.copy_from_slice(&msg[8..24]);
    let target = Ipv6Addr::from(target);
    if target.is_multicast() {
        return Err(ParseError::NdpInvalid);
    }
    let mut source_mac = None;
    let mut options = &msg[ND_BODY_LEN..];
    while let [opt_type, units, ..] = *options {
        let len = usize::from(units) * 8;
        if len == 0 || len > options.len() {
            return Err(ParseError::NdpInvalid);
        }
        if opt_type == OPT_SOURCE_LL_ADDR && len == LL_OPT_LEN {
            let o = &options[2..8];
            source_mac = Some(MacAddr([o[0], o[1], o[2], o[3], o[4], o[5]]));
        }
        options = &options[len..];
    }
    if !options.is_empty() {
        return Err(ParseError::NdpInvalid);
    }
    if src.is_unspecified() && source_mac.is_some() {
        return Err(ParseError::NdpInvalid);
    }
    let ether_src = frame
        .get(6..12)
        .map(|m| MacAddr([m[0], m[1], m[2], m[3], m[4], m[5]]))
        .ok_or(ParseError::TruncatedEthernet)?;
    Ok(NeighborSolicitation {
        src,
        dst,
        target,
        source_mac,
        ether_src,
    })
}

/// The link-layer and IP addressing of an advertisement.
struct NaAddressing {
    eth_dst: MacAddr,
    our_mac: MacAddr,
    ip_src: Ipv6Addr,
    ip_dst: Ipv6Addr,
    target: Ipv6Addr,
    flags: u8,
}

fn write_na(out: &mut [u8], a: &NaAddressing) -> usize {
    let Some(frame) = out.get_mut(..NA_FRAME_LEN) else {
        return 0;
    };
    write_ether(frame, a.eth_dst, a.our_mac, ETH_P_IPV6);
    let header = OuterV6 {
        src: a.ip_src,
        dst: a.ip_dst,
        hop_limit: NDP_HOP_LIMIT,
        traffic_class: 0,
        flow_label: 0,
    };
    let icmp_len = ND_BODY_LEN + LL_OPT_LEN;
    write_ipv6(
        &mut frame[ETH_HLEN..],
        &header,
        PROTO_ICMPV6,
        icmp_len as u16,
    );
    let msg = &mut frame[ETH_HLEN + IPV6_HLEN..];
    msg[..8].copy_from_slice(&[ICMPV6_NEIGHBOR_ADVERTISEMENT, 0, 0, 0, a.flags, 0, 0, 0]);
    msg[8..24].copy_from_slice(&a.target.octets());
    msg[24] = OPT_TARGET_LL_ADDR;
    msg[25] = 1;
    msg[26..32].copy_from_slice(&a.our_mac.0);
    let csum = checksum::transport_v6(
        &a.ip_src.octets(),
        &a.ip_dst.octets(),
        PROTO_ICMPV6,
        msg,
        ICMP_CSUM_OFFSET,
    );
    msg[2..4].copy_from_slice(&csum.to_be_bytes());
    NA_FRAME_LEN
}

/// Build the advertisement answering `ns` ("`ns.target` is at `our_mac`"): from the
/// target address, override flag set, target link-layer option; solicited and
/// unicast to the asker, or, for duplicate address detection, unsolicited to all
/// nodes. The caller decides that `ns.target` is ours. Returns the frame length
/// ([`NA_FRAME_LEN`]), or 0 when `out` is too short.
pub fn build_neighbor_advertisement(
    out: &mut [u8],
    ns: &NeighborSolicitation,
    our_mac: MacAddr,
) -> usize {
    let (eth_dst, ip_dst, flags) = if ns.is_dad() {
        (
            MacAddr::ipv6_multicast(&ALL_NODES.octets()),
            ALL_NODES,
            NA_FLAG_OVERRIDE,
        )
    } else {
        (ns.reply_mac(), ns.src, NA_FLAG_SOLICITED | NA_FLAG_OVERRIDE)
    };
    write_na(
        out,
        &NaAddressing {
            eth_dst,
            our_mac,
            ip_src: ns.target,
            ip_dst,
            target: ns.target,
            flags,
        },
    )
}

/// Build an unsolicited advertisement of `addr` at `our_mac` to all nodes (override
/// set): the IPv6 counterpart of a gratuitous ARP, sent when the director takes over
/// a VIP. Returns the frame length, or 0 when `out` is too short.
pub fn build_unsolicited_na(out: &mut [u8], our_mac: MacAddr, addr: Ipv6Addr) -> usize {
    write_na(
        out,
        &NaAddressing {
            eth_dst: MacAddr::ipv6_multicast(&ALL_NODES.octets()),
            our_mac,
            ip_src: addr,
            ip_dst: ALL_NODES,
            target: addr,
            flags: NA_FLAG_OVERRIDE,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ip::parse_frame;
    use crate::rewrite::{l4_checksum_state, L4ChecksumState};

    const CLIENT: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 0x05]);
    const DIRECTOR: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 0x0D]);

    fn addr(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    /// A solicitation for 2001:db8::10 from 2001:db8::5, built byte by byte.
    fn ns_frame(src: Ipv6Addr, with_sll: bool, hop_limit: u8) -> Vec<u8> {
        let target = addr("2001:db8::10");
        let dst = addr("ff02::1:ff00:10");
        let mut msg = vec![135, 0, 0, 0, 0, 0, 0, 0];
        msg.extend_from_slice(&target.octets());
        if with_sll {
            msg.extend_from_slice(&[1, 1]);
            msg.extend_from_slice(&CLIENT.0);
        }
        let c = checksum::transport_v6(&src.octets(), &dst.octets(), 58, &msg, 2);
        msg[2..4].copy_from_slice(&c.to_be_bytes());
        let mut f = MacAddr::ipv6_multicast(&dst.octets()).0.to_vec();
        f.extend_from_slice(&CLIENT.0);
        f.extend_from_slice(&[0x86, 0xDD, 0x60, 0, 0, 0]);
        f.extend_from_slice(&(msg.len() as u16).to_be_bytes());
        f.extend_from_slice(&[58, hop_limit]);
        f.extend_from_slice(&src.octets());
        f.extend_from_slice(&dst.octets());
        f.extend_from_slice(&msg);
        f
    }

    #[test]
    fn solicitation_and_answer() {
        let f = ns_frame(addr("2001:db8::5"), true, 255);
        let meta = parse_frame(&f).unwrap().ip.unwrap();
        let ns = parse_neighbor_solicitation(&f, &meta).unwrap();
        assert_eq!(ns.target, addr("2001:db8::10"));
        assert_eq!(ns.source_mac, Some(CLIENT));
        assert!(!ns.is_dad());

        let mut out = [0u8; 128];
        let n = build_neighbor_advertisement(&mut out, &ns, DIRECTOR);
        assert_eq!(n, 86);
        let na = parse_frame(&out[..n]).unwrap();
        assert_eq!((na.ether.dst, na.ether.src), (CLIENT, DIRECTOR));
        let m = na.ip.unwrap();
        assert_eq!(m.src, IpAddr::V6(ns.target));
        assert_eq!(m.dst, IpAddr::V6(addr("2001:db8::5")));
        assert_eq!(m.ttl, 255);
        assert_eq!(
            m.l4,
            Some(L4Meta::Icmpv6 {
                icmp_type: 136,
                code: 0
            })
        );
        assert_eq!(l4_checksum_state(&out[..n], &m), L4ChecksumState::Valid);
        let body = &out[54..n];
        assert_eq!(body[4], NA_FLAG_SOLICITED | NA_FLAG_OVERRIDE);
        assert_eq!(&body[8..24], &ns.target.octets());
        assert_eq!(&body[24..32], &[2, 1, 2, 0, 0, 0, 0, 0x0D]);
        assert_eq!(
            build_neighbor_advertisement(&mut out[..85], &ns, DIRECTOR),
            0
        );
    }

    #[test]
    fn without_option_answers_the_ethernet_source() {
        let f = ns_frame(addr("2001:db8::5"), false, 255);
        let meta = parse_frame(&f).unwrap().ip.unwrap();
        let ns = parse_neighbor_solicitation(&f, &meta).unwrap();
        assert_eq!(ns.source_mac, None);
        assert_eq!(ns.reply_mac(), CLIENT);
    }

    #[test]
    fn dad_is_answered_to_all_nodes() {
        let f = ns_frame(Ipv6Addr::UNSPECIFIED, false, 255);
        let meta = parse_frame(&f).unwrap().ip.unwrap();
        let ns = parse_neighbor_solicitation(&f, &meta).unwrap();
        assert!(ns.is_dad());
        let mut out = [0u8; 86];
        let n = build_neighbor_advertisement(&mut out, &ns, DIRECTOR);
        let m = parse_frame(&out[..n]).unwrap();
        assert_eq!(m.ether.dst.to_string(), "33:33:00:00:00:01");
        assert_eq!(m.ip.unwrap().dst, IpAddr::V6(ALL_NODES));
        assert_eq!(out[54 + 4], NA_FLAG_OVERRIDE);
        // A DAD probe must not carry a source link-layer option.
        let f = ns_frame(Ipv6Addr::UNSPECIFIED, true, 255);
        let meta = parse_frame(&f).unwrap().ip.unwrap();
        assert_eq!(
            parse_neighbor_solicitation(&f, &meta),
            Err(ParseError::NdpInvalid)
        );
    }

    #[test]
    fn unsolicited() {
        let mut out = [0u8; 86];
        let vip = addr("2001:db8::10");
        assert_eq!(build_unsolicited_na(&mut out, DIRECTOR, vip), 86);
        let m = parse_frame(&out).unwrap().ip.unwrap();
        assert_eq!(
            (m.src, m.dst, m.ttl),
            (IpAddr::V6(vip), IpAddr::V6(ALL_NODES), 255)
        );
        assert_eq!(l4_checksum_state(&out, &m), L4ChecksumState::Valid);
        assert_eq!(out[54 + 4], NA_FLAG_OVERRIDE);
    }

    #[test]
    fn invalid_solicitations() {
        let src = addr("2001:db8::5");
        let f = ns_frame(src, true, 64);
        let meta = parse_frame(&f).unwrap().ip.unwrap();
        assert_eq!(
            parse_neighbor_solicitation(&f, &meta),
            Err(ParseError::NdpInvalid)
        );

        let mut f = ns_frame(src, true, 255);
        let meta = parse_frame(&f).unwrap().ip.unwrap();
        f[54 + 30] ^= 1; // corrupt the option's MAC
        assert_eq!(
            parse_neighbor_solicitation(&f, &meta),
            Err(ParseError::BadChecksum)
        );

        // Zero-length option (checksum fixed up so that only the option is wrong).
        let mut f = ns_frame(src, true, 255);
        f[54 + 25] = 0;
        fix_checksum(&mut f);
        let meta = parse_frame(&f).unwrap().ip.unwrap();
        assert_eq!(
            parse_neighbor_solicitation(&f, &meta),
            Err(ParseError::NdpInvalid)
        );

        // Multicast target.
        let mut f = ns_frame(src, true, 255);
        f[54 + 8] = 0xFF;
        fix_checksum(&mut f);
        let meta = parse_frame(&f).unwrap().ip.unwrap();
        assert_eq!(
            parse_neighbor_solicitation(&f, &meta),
            Err(ParseError::NdpInvalid)
        );

        // Nonzero code.
        let mut f = ns_frame(src, true, 255);
        f[54 + 1] = 1;
        fix_checksum(&mut f);
        let meta = parse_frame(&f).unwrap().ip.unwrap();
        assert_eq!(
            parse_neighbor_solicitation(&f, &meta),
            Err(ParseError::NdpInvalid)
        );

        // Not a solicitation at all.
        let mut out = [0u8; 86];
        build_unsolicited_na(&mut out, DIRECTOR, src);
        let meta = parse_frame(&out).unwrap().ip.unwrap();
        assert_eq!(
            parse_neighbor_solicitation(&out, &meta),
            Err(ParseError::NotNeighborSolicitation)
        );
    }

    fn fix_checksum(f: &mut [u8]) {
        let src: [u8; 16] = f[22..38].try_into().unwrap();
        let dst: [u8; 16] = f[38..54].try_into().unwrap();
        let c = checksum::transport_v6(&src, &dst, 58, &f[54..], 2);
        f[56..58].copy_from_slice(&c.to_be_bytes());
    }
}
