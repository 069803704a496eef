//! ARP for Ethernet/IPv4 (RFC 826): parse requests and replies, build replies and
//! gratuitous announcements, so the director can own a VIP on a segment.

use std::net::Ipv4Addr;

use crate::error::ParseError;
use crate::ether::{write_ether, MacAddr, ETH_HLEN, ETH_P_ARP, ETH_P_IPV4};

/// ARP operation: request.
pub const ARP_REQUEST: u16 = 1;
/// ARP operation: reply.
pub const ARP_REPLY: u16 = 2;
/// Length of an Ethernet/IPv4 ARP packet.
pub const ARP_LEN: usize = 28;
/// Length of an untagged frame carrying one (without padding to 60 bytes).
pub const ARP_FRAME_LEN: usize = ETH_HLEN + ARP_LEN;

/// An Ethernet/IPv4 ARP packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArpMeta {
    /// Operation ([`ARP_REQUEST`], [`ARP_REPLY`], or another value as received).
    pub op: u16,
    pub sender_mac: MacAddr,
    pub sender_ip: Ipv4Addr,
    pub target_mac: MacAddr,
    pub target_ip: Ipv4Addr,
}

impl ArpMeta {
    /// A request (who has `target_ip`?).
    pub const fn is_request(&self) -> bool {
        self.op == ARP_REQUEST
    }

    /// A gratuitous ARP or announcement: the sender announces its own address.
    pub fn is_gratuitous(&self) -> bool {
        self.sender_ip == self.target_ip
    }
}

/// Parse the ARP packet at `l3_offset` of a frame (see
/// [`crate::ether::EtherMeta::l3_offset`]). Only Ethernet hardware and IPv4
/// protocol addresses are accepted.
pub fn parse_arp(frame: &[u8], l3_offset: usize) -> Result<ArpMeta, ParseError> {
    let Some(p) = frame.get(l3_offset..).and_then(|p| p.get(..ARP_LEN)) else {
        return Err(ParseError::TruncatedArp);
    };
    let htype = u16::from_be_bytes([p[0], p[1]]);
    let ptype = u16::from_be_bytes([p[2], p[3]]);
    if htype != 1 || ptype != ETH_P_IPV4 || p[4] != 6 || p[5] != 4 {
        return Err(ParseError::ArpUnsupported);
    }
    let mac = |at: usize| MacAddr([p[at], p[at + 1], p[at + 2], p[at + 3], p[at + 4], p[at + 5]]);
    Ok(ArpMeta {
        op: u16::from_be_bytes([p[6], p[7]]),
        sender_mac: mac(8),
        sender_ip: Ipv4Addr::new(p[14], p[15], p[16], p[17]),
        target_mac: mac(18),
        target_ip: Ipv4Addr::new(p[24], p[25], p[26], p[27]),
    })
}

/// Write an untagged Ethernet frame carrying `arp`. Returns [`ARP_FRAME_LEN`], or 0
/// when `out` is shorter than that.
pub fn write_arp_frame(out: &mut [u8], eth_dst: MacAddr, eth_src: MacAddr, arp: &ArpMeta) -> usize {
    let Some(frame) = out.get_mut(..ARP_FRAME_LEN) else {
        return 0;
    };
    write_ether(frame, eth_dst, eth_src, ETH_P_ARP);
    let p = &mut frame[ETH_HLEN..];
    p[0..2].copy_from_slice(&1u16.to_be_bytes());
    p[2..4].copy_from_slice(&ETH_P_IPV4.to_be_bytes());
    p[4] = 6;
    p[5] = 4;
    p[6..8].copy_from_slice(&arp.op.to_be_bytes());
    p[8..14].copy_from_slice(&arp.sender_mac.0);
    p[14..18].copy_from_slice(&arp.sender_ip.octets());
    p[18..24].copy_from_slice(&arp.target_mac.0);
    p[24..28].copy_from_slice(&arp.target_ip.octets());
    ARP_FRAME_LEN
}

/// Build the reply to `req` ("`req.target_ip` is at `our_mac`"), unicast to the
/// requester. The caller decides that `req.target_ip` is ours. Returns the frame
/// length ([`ARP_FRAME_LEN`]), or 0 when `out` is too short.
pub fn build_arp_reply(out: &mut [u8], req: &ArpMeta, our_mac: MacAddr) -> usize {
    let reply = ArpMeta {
        op: ARP_REPLY,
        sender_mac: our_mac,
        sender_ip: req.target_ip,
        target_mac: req.sender_mac,
        target_ip: req.sender_ip,
    };
    write_arp_frame(out, req.sender_mac, our_mac, &reply)
}

/// Build a gratuitous ARP announcing `ip` at `mac` (broadcast request with sender and
/// target address both `ip`, target MAC zero, as RFC 5227 announcements), sent when
/// the director takes over a VIP. Returns the frame length, or 0 when `out` is too
/// short.
pub fn build_gratuitous_arp(out: &mut [u8], mac: MacAddr, ip: Ipv4Addr) -> usize {
    let arp = ArpMeta {
        op: ARP_REQUEST,
        sender_mac: mac,
        sender_ip: ip,
        target_mac: MacAddr::ZERO,
        target_ip: ip,
    };
    write_arp_frame(out, MacAddr::BROADCAST, mac, &arp)
}

/// Build a broadcast request for the MAC of `target_ip`. Returns the frame length, or
/// 0 when `out` is too short.
pub fn build_arp_request(
    out: &mut [u8],
    our_mac: MacAddr,
    our_ip: Ipv4Addr,
    target_ip: Ipv4Addr,
) -> usize {
    let arp = ArpMeta {
        op: ARP_REQUEST,
        sender_mac: our_mac,
        sender_ip: our_ip,
        target_mac: MacAddr::ZERO,
        target_ip,
    };
    write_arp_frame(out, MacAddr::BROADCAST, our_mac, &arp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ether::parse_ether;

    const CLIENT: MacAddr = MacAddr([0x02, 0x00, 0x00, 0x00, 0x00, 0x05]);
    const DIRECTOR: MacAddr = MacAddr([0x02, 0x00, 0x00, 0x00, 0x00, 0x0D]);

    /// A request from 203.0.113.5 for 192.0.2.10, written byte by byte.
    fn request_bytes() -> Vec<u8> {
        let mut f = vec![0xFF; 6];
        f.extend_from_slice(&CLIENT.0);
        f.extend_from_slice(&[0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x01]);
        f.extend_from_slice(&CLIENT.0);
        f.extend_from_slice(&[203, 0, 113, 5]);
        f.extend_from_slice(&[0; 6]);
        f.extend_from_slice(&[192, 0, 2, 10]);
        f.extend_from_slice(&[0; 18]); // padding to 60
        f
    }

    #[test]
    fn parse_request_and_reply() {
        let f = request_bytes();
        let eth = parse_ether(&f).unwrap();
        assert_eq!(eth.ether_type, ETH_P_ARP);
        let req = parse_arp(&f, eth.l3_offset).unwrap();
        assert!(req.is_request() && !req.is_gratuitous());
        assert_eq!(req.sender_mac, CLIENT);
        assert_eq!(req.sender_ip, Ipv4Addr::new(203, 0, 113, 5));
        assert_eq!(req.target_ip, Ipv4Addr::new(192, 0, 2, 10));

        let mut out = [0u8; 64];
        let n = build_arp_reply(&mut out, &req, DIRECTOR);
        assert_eq!(n, 42);
        let mut expect = CLIENT.0.to_vec();
        expect.extend_from_slice(&DIRECTOR.0);
        expect.extend_from_slice(&[0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x02]);
        expect.extend_from_slice(&DIRECTOR.0);
        expect.extend_from_slice(&[192, 0, 2, 10]);
        expect.extend_from_slice(&CLIENT.0);
        expect.extend_from_slice(&[203, 0, 113, 5]);
        assert_eq!(&out[..n], &expect[..]);
        assert_eq!(build_arp_reply(&mut out[..41], &req, DIRECTOR), 0);
    }

    #[test]
    fn gratuitous_and_request() {
        let mut out = [0u8; 42];
        let vip = Ipv4Addr::new(192, 0, 2, 10);
        assert_eq!(build_gratuitous_arp(&mut out, DIRECTOR, vip), 42);
        let eth = parse_ether(&out).unwrap();
        assert!(eth.dst.is_broadcast());
        let g = parse_arp(&out, 14).unwrap();
        assert!(g.is_request() && g.is_gratuitous());
        assert_eq!(
            (g.sender_mac, g.sender_ip, g.target_mac),
            (DIRECTOR, vip, MacAddr::ZERO)
        );

        let rip = Ipv4Addr::new(198, 51, 100, 2);
        let dip = Ipv4Addr::new(198, 51, 100, 1);
        assert_eq!(build_arp_request(&mut out, DIRECTOR, dip, rip), 42);
        let r = parse_arp(&out, 14).unwrap();
        assert_eq!((r.sender_ip, r.target_ip), (dip, rip));
    }

    #[test]
    fn malformed() {
        let f = request_bytes();
        for len in 0..14 + ARP_LEN {
            assert_eq!(parse_arp(&f[..len], 14), Err(ParseError::TruncatedArp));
        }
        for (at, value) in [(14, 0x01), (15, 0x06), (16, 0x86), (18, 8), (19, 16)] {
            let mut g = f.clone();
            g[at] = value;
            assert_eq!(
                parse_arp(&g, 14),
                Err(ParseError::ArpUnsupported),
                "byte {at}"
            );
        }
        assert_eq!(parse_arp(&f, usize::MAX), Err(ParseError::TruncatedArp));
    }
}
