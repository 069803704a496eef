//! Typed errors of the parsers, the rewriters and the builders.
//!
//! Every malformed input maps to one [`ParseError`] variant; none of the code in this
//! crate panics on packet bytes. [`ParseError::reason`] gives a stable short name per
//! variant, meant as a label for drop counters ("why did the director drop it").

use core::fmt;

/// Why a frame or packet could not be parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ParseError {
    /// Shorter than an Ethernet header (or than its VLAN tags).
    TruncatedEthernet,
    /// More than two stacked 802.1Q/802.1ad tags.
    TooManyVlanTags,
    /// IPv4 header or packet runs past the buffer.
    TruncatedIpv4,
    /// The version nibble of an IPv4 packet is not 4.
    Ipv4BadVersion,
    /// IPv4 header length (IHL) below 5 words.
    Ipv4BadHeaderLength,
    /// IPv4 total length shorter than the header itself.
    Ipv4BadTotalLength,
    /// IPv6 fixed header or payload runs past the buffer.
    TruncatedIpv6,
    /// The version nibble of an IPv6 packet is not 6.
    Ipv6BadVersion,
    /// An IPv6 extension header runs past the end of the packet.
    Ipv6ExtensionTruncated,
    /// The IPv6 extension-header chain is longer than [`crate::ip::MAX_IPV6_EXTENSIONS`].
    Ipv6TooManyExtensions,
    /// Fewer than 20 bytes of TCP header.
    TruncatedTcp,
    /// TCP data offset below 5 words or past the end of the packet.
    TcpBadDataOffset,
    /// Fewer than 8 bytes of UDP header.
    TruncatedUdp,
    /// UDP length field below 8 or larger than the IP payload.
    UdpBadLength,
    /// Fewer than 8 bytes of ICMP/ICMPv6 header.
    TruncatedIcmp,
    /// Asked for the embedded packet of an ICMP message that is not an error.
    IcmpNotError,
    /// The packet embedded in an ICMP error is shorter than its IP header plus 8 bytes.
    TruncatedIcmpInner,
    /// The packet embedded in an ICMP error has a bad or mismatched IP header.
    IcmpInnerBadHeader,
    /// Not an IP-in-IP (protocol 4) or IPv6-in-IP (41) packet.
    NotTunnel,
    /// A fragmented tunnel packet (needs reassembly first).
    TunnelFragment,
    /// The inner packet's version does not match the tunnel protocol.
    TunnelInnerMismatch,
    /// Shorter than an Ethernet/IPv4 ARP packet.
    TruncatedArp,
    /// ARP for another hardware or protocol type.
    ArpUnsupported,
    /// Not an ICMPv6 Neighbor Solicitation.
    NotNeighborSolicitation,
    /// A Neighbor Solicitation that RFC 4861 says to discard (hop limit, code, length,
    /// multicast target, zero-length option, source link-layer option from `::`).
    NdpInvalid,
    /// Checksum does not verify.
    BadChecksum,
}

impl ParseError {
    /// Stable short name, suitable as a drop-counter label.
    pub const fn reason(&self) -> &'static str {
        match self {
            Self::TruncatedEthernet => "truncated_ethernet",
            Self::TooManyVlanTags => "too_many_vlan_tags",
            Self::TruncatedIpv4 => "truncated_ipv4",
            Self::Ipv4BadVersion => "ipv4_bad_version",
            Self::Ipv4BadHeaderLength => "ipv4_bad_ihl",
            Self::Ipv4BadTotalLength => "ipv4_bad_total_length",
            Self::TruncatedIpv6 => "truncated_ipv6",
            Self::Ipv6BadVersion => "ipv6_bad_version",
            Self::Ipv6ExtensionTruncated => "ipv6_ext_truncated",
            Self::Ipv6TooManyExtensions => "ipv6_too_many_ext",
            Self::TruncatedTcp => "truncated_tcp",
            Self::TcpBadDataOffset => "tcp_bad_data_offset",
            Self::TruncatedUdp => "truncated_udp",
            Self::UdpBadLength => "udp_bad_length",
            Self::TruncatedIcmp => "truncated_icmp",
            Self::IcmpNotError => "icmp_not_error",
            Self::TruncatedIcmpInner => "truncated_icmp_inner",
            Self::IcmpInnerBadHeader => "icmp_inner_bad_header",
            Self::NotTunnel => "not_tunnel",
            Self::TunnelFragment => "tunnel_fragment",
            Self::TunnelInnerMismatch => "tunnel_inner_mismatch",
            Self::TruncatedArp => "truncated_arp",
            Self::ArpUnsupported => "arp_unsupported",
            Self::NotNeighborSolicitation => "not_neighbor_solicitation",
            Self::NdpInvalid => "ndp_invalid",
            Self::BadChecksum => "bad_checksum",
        }
    }

    /// Every variant, for registering drop counters up front.
    pub const ALL: [ParseError; 26] = [
        Self::TruncatedEthernet,
        Self::TooManyVlanTags,
        Self::TruncatedIpv4,
        Self::Ipv4BadVersion,
        Self::Ipv4BadHeaderLength,
        Self::Ipv4BadTotalLength,
        Self::TruncatedIpv6,
        Self::Ipv6BadVersion,
        Self::Ipv6ExtensionTruncated,
        Self::Ipv6TooManyExtensions,
        Self::TruncatedTcp,
        Self::TcpBadDataOffset,
        Self::TruncatedUdp,
        Self::UdpBadLength,
        Self::TruncatedIcmp,
        Self::IcmpNotError,
        Self::TruncatedIcmpInner,
        Self::IcmpInnerBadHeader,
        Self::NotTunnel,
        Self::TunnelFragment,
        Self::TunnelInnerMismatch,
        Self::TruncatedArp,
        Self::ArpUnsupported,
        Self::NotNeighborSolicitation,
        Self::NdpInvalid,
        Self::BadChecksum,
    ];
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            Self::TruncatedEthernet => "frame shorter than its Ethernet header",
            Self::TooManyVlanTags => "more than two VLAN tags",
            Self::TruncatedIpv4 => "IPv4 header or packet runs past the frame",
            Self::Ipv4BadVersion => "IPv4 packet with a version other than 4",
            Self::Ipv4BadHeaderLength => "IPv4 header length below 20 bytes",
            Self::Ipv4BadTotalLength => "IPv4 total length shorter than its header",
            Self::TruncatedIpv6 => "IPv6 header or payload runs past the frame",
            Self::Ipv6BadVersion => "IPv6 packet with a version other than 6",
            Self::Ipv6ExtensionTruncated => "IPv6 extension header runs past the packet",
            Self::Ipv6TooManyExtensions => "too many IPv6 extension headers",
            Self::TruncatedTcp => "TCP header truncated",
            Self::TcpBadDataOffset => "TCP data offset out of range",
            Self::TruncatedUdp => "UDP header truncated",
            Self::UdpBadLength => "UDP length inconsistent with the IP payload",
            Self::TruncatedIcmp => "ICMP header truncated",
            Self::IcmpNotError => "ICMP message is not an error",
            Self::TruncatedIcmpInner => "packet embedded in an ICMP error is truncated",
            Self::IcmpInnerBadHeader => "packet embedded in an ICMP error has a bad header",
            Self::NotTunnel => "not an IP-in-IP packet",
            Self::TunnelFragment => "fragmented IP-in-IP packet",
            Self::TunnelInnerMismatch => "tunnelled packet's version does not match",
            Self::TruncatedArp => "ARP packet truncated",
            Self::ArpUnsupported => "ARP for an unsupported hardware or protocol type",
            Self::NotNeighborSolicitation => "not an ICMPv6 neighbor solicitation",
            Self::NdpInvalid => "invalid neighbor discovery message",
            Self::BadChecksum => "bad checksum",
        };
        f.write_str(text)
    }
}

impl std::error::Error for ParseError {}

/// Why an in-place rewrite was refused. The frame is left unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RewriteError {
    /// The new address is of the other IP family than the packet.
    FamilyMismatch,
    /// A port was given but the packet has no TCP/UDP header to put it in.
    NoPorts,
    /// The metadata's offsets do not fit this frame (metadata from another frame?).
    OutOfBounds,
}

impl RewriteError {
    /// Stable short name, suitable as a counter label.
    pub const fn reason(&self) -> &'static str {
        match self {
            Self::FamilyMismatch => "rewrite_family_mismatch",
            Self::NoPorts => "rewrite_no_ports",
            Self::OutOfBounds => "rewrite_out_of_bounds",
        }
    }
}

impl fmt::Display for RewriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::FamilyMismatch => "new address is of the other IP family",
            Self::NoPorts => "packet has no ports to rewrite",
            Self::OutOfBounds => "packet metadata does not fit the frame",
        })
    }
}

impl std::error::Error for RewriteError {}

/// Why an encapsulation or an in-place ICMP error could not be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EncapError {
    /// Not enough room before the packet for the outer header.
    NoHeadroom,
    /// The buffer is too small for the result.
    NoRoom,
    /// The given range or metadata does not fit the buffer.
    OutOfBounds,
    /// The result would exceed the 65535-byte IP length limit.
    TooLong,
    /// The packet's IP family does not fit the requested operation.
    FamilyMismatch,
    /// No ICMP error is ever sent about an ICMP error (RFC 1122 3.2.2, RFC 4443 2.4).
    AboutIcmpError,
    /// No ICMP error is sent about a non-first fragment.
    AboutFragment,
    /// No ICMP error is sent to an unspecified, broadcast or multicast source.
    BadSource,
}

impl EncapError {
    /// Stable short name, suitable as a counter label.
    pub const fn reason(&self) -> &'static str {
        match self {
            Self::NoHeadroom => "encap_no_headroom",
            Self::NoRoom => "encap_no_room",
            Self::OutOfBounds => "encap_out_of_bounds",
            Self::TooLong => "encap_too_long",
            Self::FamilyMismatch => "encap_family_mismatch",
            Self::AboutIcmpError => "icmp_error_about_icmp_error",
            Self::AboutFragment => "icmp_error_about_fragment",
            Self::BadSource => "icmp_error_bad_source",
        }
    }
}

impl fmt::Display for EncapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NoHeadroom => "no headroom for the outer header",
            Self::NoRoom => "buffer too small",
            Self::OutOfBounds => "range does not fit the buffer",
            Self::TooLong => "packet would exceed the IP length limit",
            Self::FamilyMismatch => "wrong IP family for this operation",
            Self::AboutIcmpError => "refusing an ICMP error about an ICMP error",
            Self::AboutFragment => "refusing an ICMP error about a non-first fragment",
            Self::BadSource => "refusing an ICMP error to a non-unicast source",
        })
    }
}

impl std::error::Error for EncapError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_unique_snake_case() {
        let mut seen = std::collections::HashSet::new();
        for e in ParseError::ALL {
            let r = e.reason();
            assert!(seen.insert(r), "duplicate reason {r}");
            assert!(r
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'_' || b.is_ascii_digit()));
            assert!(!e.to_string().is_empty());
        }
    }
}
