//! Which bytes of a packet read from a tunnel socket go to the TUN device: strip the
//! outer header (when the socket hands it over), check the inner packet, and accept it
//! only when it is addressed to one of the VIPs. Pure functions, no I/O.

use std::net::IpAddr;
use std::ops::Range;

use rvs_wire::encap::decap_inner;
use rvs_wire::{parse_ip, IpVersion, ParseError};

/// What a tunnel socket hands to `recv` for one packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// An IPv4 raw socket: the whole packet, starting with the outer IPv4 header.
    WithOuterIpv4,
    /// An IPv6 raw socket: only the payload (the inner packet, of this version); the
    /// kernel strips the outer IPv6 header and its extension headers.
    PayloadOnly(IpVersion),
}

/// Why a tunnel packet was not delivered. Each reason has its own counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// The outer header does not parse, or is not IP-in-IP / IPv6-in-IP.
    OuterMalformed,
    /// The outer packet is a fragment (the kernel reassembles before raw delivery, so
    /// this only shows up for hand-made input).
    OuterFragment,
    /// The inner packet does not parse, or its version does not match the tunnel
    /// protocol.
    InnerMalformed,
    /// The inner destination is not one of the agent's VIPs.
    NotVip,
    /// Writing the inner packet to the TUN device failed.
    TunWrite,
}

impl DropReason {
    /// Every reason, in counter order.
    pub const ALL: [DropReason; 5] = [
        DropReason::OuterMalformed,
        DropReason::OuterFragment,
        DropReason::InnerMalformed,
        DropReason::NotVip,
        DropReason::TunWrite,
    ];

    /// Position in [`DropReason::ALL`] (the counter index).
    pub const fn index(self) -> usize {
        match self {
            DropReason::OuterMalformed => 0,
            DropReason::OuterFragment => 1,
            DropReason::InnerMalformed => 2,
            DropReason::NotVip => 3,
            DropReason::TunWrite => 4,
        }
    }

    /// Stable short name, used as a counter label in logs.
    pub const fn name(self) -> &'static str {
        match self {
            DropReason::OuterMalformed => "outer_malformed",
            DropReason::OuterFragment => "outer_fragment",
            DropReason::InnerMalformed => "inner_malformed",
            DropReason::NotVip => "not_vip",
            DropReason::TunWrite => "tun_write",
        }
    }
}

/// The inner packet to deliver, as a range of `packet`, or why not.
///
/// The inner packet is cut to its own length (an outer packet may carry padding after
/// it). Inner fragments are delivered: the local stack reassembles them.
pub fn inner_packet(
    packet: &[u8],
    delivery: Delivery,
    vips: &[IpAddr],
) -> Result<Range<usize>, DropReason> {
    let (start, end) = match delivery {
        Delivery::WithOuterIpv4 => decap_inner(packet).map_err(|e| match e {
            ParseError::TunnelFragment => DropReason::OuterFragment,
            ParseError::TunnelInnerMismatch => DropReason::InnerMalformed,
            _ => DropReason::OuterMalformed,
        })?,
        Delivery::PayloadOnly(version) => {
            let want = match version {
                IpVersion::V4 => 4,
                IpVersion::V6 => 6,
            };
            match packet.first() {
                Some(b) if b >> 4 == want => (0, packet.len()),
                _ => return Err(DropReason::InnerMalformed),
            }
        }
    };
    let inner = packet.get(start..end).ok_or(DropReason::OuterMalformed)?;
    let meta = parse_ip(inner, 0).map_err(|_| DropReason::InnerMalformed)?;
    if !vips.contains(&meta.dst) {
        return Err(DropReason::NotVip);
    }
    Ok(start..start + meta.end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rvs_wire::build::{build_frame, Endpoints, L4Spec};
    use rvs_wire::encap::{encap_ipip_v4, OuterV4};
    use rvs_wire::ether::ETH_HLEN;
    use rvs_wire::MacAddr;
    use std::net::{Ipv4Addr, Ipv6Addr};

    const VIP: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10));
    const VIP6: IpAddr = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0xa, 0, 0, 0, 0, 0x10));
    const CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 2));
    const CLIENT6: IpAddr = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0xc, 0, 0, 0, 0, 2));
    const HEADROOM: usize = 20;

    /// A UDP packet (no Ethernet header) from `src` to `dst`, `HEADROOM` bytes into the
    /// returned buffer, and its length.
    fn udp_packet(src: IpAddr, dst: IpAddr, payload: &[u8]) -> (Vec<u8>, usize) {
        let mut frame = vec![0u8; 2048];
        let ends = Endpoints {
            src_mac: MacAddr([2, 0, 0, 0, 0, 1]),
            dst_mac: MacAddr([2, 0, 0, 0, 0, 2]),
            src,
            dst,
            ttl: 64,
        };
        let udp = L4Spec::Udp {
            src_port: 40000,
            dst_port: 5000,
        };
        let len = build_frame(&mut frame, &ends, udp, payload).unwrap();
        let mut buf = vec![0u8; HEADROOM];
        buf.extend_from_slice(&frame[ETH_HLEN..len]);
        (buf, len - ETH_HLEN)
    }

    /// The packet wrapped in an outer IPv4 header from the director to the real server.
    fn ipip(inner_src: IpAddr, inner_dst: IpAddr) -> (Vec<u8>, usize) {
        let (mut buf, len) = udp_packet(inner_src, inner_dst, b"hello");
        let outer = OuterV4 {
            src: Ipv4Addr::new(198, 51, 100, 1),
            dst: Ipv4Addr::new(198, 51, 100, 71),
            ttl: 64,
            tos: 0,
            id: 1,
            dont_fragment: true,
        };
        let start = encap_ipip_v4(&mut buf, HEADROOM, len, outer).unwrap();
        assert_eq!(start, 0);
        (buf, len)
    }

    #[test]
    fn ipv4_in_ipv4_to_a_vip_is_delivered_without_the_outer_header() {
        let (buf, inner_len) = ipip(CLIENT, VIP);
        let range = inner_packet(&buf, Delivery::WithOuterIpv4, &[VIP]).unwrap();
        assert_eq!(range, 20..20 + inner_len);
        assert_eq!(buf[range.start] >> 4, 4);
    }

    #[test]
    fn ipv6_in_ipv4_to_a_vip6_is_delivered() {
        let (buf, inner_len) = ipip(CLIENT6, VIP6);
        assert_eq!(buf[9], 41, "6in4 uses protocol 41");
        let range = inner_packet(&buf, Delivery::WithOuterIpv4, &[VIP, VIP6]).unwrap();
        assert_eq!(range, 20..20 + inner_len);
    }

    #[test]
    fn outer_padding_is_not_delivered() {
        let (mut buf, inner_len) = ipip(CLIENT, VIP);
        // Ethernet minimum-size padding after the outer packet, counted by a sloppy sender
        // in the outer total length: the inner packet keeps its own length.
        let total = u16::from_be_bytes([buf[2], buf[3]]) + 6;
        buf.extend_from_slice(&[0; 6]);
        buf[2..4].copy_from_slice(&total.to_be_bytes());
        let range = inner_packet(&buf, Delivery::WithOuterIpv4, &[VIP]).unwrap();
        assert_eq!(range.len(), inner_len);
    }

    #[test]
    fn inner_destination_outside_the_vips_is_dropped() {
        let (buf, _) = ipip(CLIENT, IpAddr::V4(Ipv4Addr::new(192, 0, 2, 99)));
        assert_eq!(
            inner_packet(&buf, Delivery::WithOuterIpv4, &[VIP]),
            Err(DropReason::NotVip)
        );
        assert_eq!(
            inner_packet(&buf, Delivery::WithOuterIpv4, &[]),
            Err(DropReason::NotVip)
        );
    }

    #[test]
    fn not_a_tunnel_packet_is_outer_malformed() {
        let (buf, len) = udp_packet(CLIENT, VIP, b"plain");
        let plain = &buf[HEADROOM..HEADROOM + len];
        assert_eq!(
            inner_packet(plain, Delivery::WithOuterIpv4, &[VIP]),
            Err(DropReason::OuterMalformed)
        );
        assert_eq!(
            inner_packet(&[], Delivery::WithOuterIpv4, &[VIP]),
            Err(DropReason::OuterMalformed)
        );
    }

    #[test]
    fn fragmented_outer_packet_is_dropped() {
        let (mut buf, _) = ipip(CLIENT, VIP);
        buf[6] = 0x20; // more fragments
        let csum_zeroed = {
            buf[10] = 0;
            buf[11] = 0;
            rvs_wire::checksum::ipv4_header(&buf[..20])
        };
        buf[10..12].copy_from_slice(&csum_zeroed.to_be_bytes());
        assert_eq!(
            inner_packet(&buf, Delivery::WithOuterIpv4, &[VIP]),
            Err(DropReason::OuterFragment)
        );
    }

    #[test]
    fn inner_version_must_match_the_tunnel_protocol() {
        let (mut buf, _) = ipip(CLIENT, VIP);
        buf[9] = 41; // claims IPv6 inside, carries IPv4
        assert_eq!(
            inner_packet(&buf, Delivery::WithOuterIpv4, &[VIP]),
            Err(DropReason::InnerMalformed)
        );
        let (v6, len) = udp_packet(CLIENT6, VIP6, b"x");
        let payload = &v6[HEADROOM..HEADROOM + len];
        assert_eq!(
            inner_packet(payload, Delivery::PayloadOnly(IpVersion::V4), &[VIP6]),
            Err(DropReason::InnerMalformed)
        );
    }

    #[test]
    fn payload_only_sockets_deliver_the_whole_payload() {
        let (v6, len) = udp_packet(CLIENT6, VIP6, b"x");
        let payload = &v6[HEADROOM..HEADROOM + len];
        assert_eq!(
            inner_packet(payload, Delivery::PayloadOnly(IpVersion::V6), &[VIP6]),
            Ok(0..len)
        );
        let (v4, len) = udp_packet(CLIENT, VIP, b"x");
        let payload = &v4[HEADROOM..HEADROOM + len];
        assert_eq!(
            inner_packet(payload, Delivery::PayloadOnly(IpVersion::V4), &[VIP]),
            Ok(0..len)
        );
    }

    #[test]
    fn truncated_inner_packet_is_inner_malformed() {
        let (buf, _) = ipip(CLIENT, VIP);
        // Keep the outer header consistent but cut the inner one short.
        let mut cut = buf[..30].to_vec();
        cut[2..4].copy_from_slice(&30u16.to_be_bytes());
        cut[10] = 0;
        cut[11] = 0;
        let csum = rvs_wire::checksum::ipv4_header(&cut[..20]);
        cut[10..12].copy_from_slice(&csum.to_be_bytes());
        assert_eq!(
            inner_packet(&cut, Delivery::WithOuterIpv4, &[VIP]),
            Err(DropReason::InnerMalformed)
        );
    }

    #[test]
    fn drop_reason_indices_follow_all() {
        for (i, r) in DropReason::ALL.iter().enumerate() {
            assert_eq!(r.index(), i);
        }
    }

    proptest! {
        /// Arbitrary bytes never panic, and whatever is accepted lies inside the packet
        /// and is an IP packet to a VIP.
        #[test]
        fn arbitrary_bytes_are_classified_without_panic(
            bytes in proptest::collection::vec(any::<u8>(), 0..200),
            which in 0usize..3,
        ) {
            let delivery = [
                Delivery::WithOuterIpv4,
                Delivery::PayloadOnly(IpVersion::V4),
                Delivery::PayloadOnly(IpVersion::V6),
            ][which];
            if let Ok(range) = inner_packet(&bytes, delivery, &[VIP, VIP6]) {
                prop_assert!(range.end <= bytes.len());
                let meta = parse_ip(&bytes[range.clone()], 0).unwrap();
                prop_assert!(meta.dst == VIP || meta.dst == VIP6);
            }
        }

        /// Every well-formed tunnel packet to a VIP is delivered as exactly the inner
        /// packet, whatever its payload.
        #[test]
        fn well_formed_tunnel_packets_are_delivered(
            payload in proptest::collection::vec(any::<u8>(), 0..300),
            v6 in any::<bool>(),
        ) {
            let (src, dst) = if v6 { (CLIENT6, VIP6) } else { (CLIENT, VIP) };
            let (mut buf, len) = udp_packet(src, dst, &payload);
            let inner: Vec<u8> = buf[HEADROOM..HEADROOM + len].to_vec();
            let outer = OuterV4 {
                src: Ipv4Addr::new(198, 51, 100, 1),
                dst: Ipv4Addr::new(198, 51, 100, 71),
                ttl: 64, tos: 0, id: 7, dont_fragment: false,
            };
            encap_ipip_v4(&mut buf, HEADROOM, len, outer).unwrap();
            let range = inner_packet(&buf, Delivery::WithOuterIpv4, &[VIP, VIP6]).unwrap();
            prop_assert_eq!(&buf[range], &inner[..]);
        }
    }
}
