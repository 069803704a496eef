//! Putting packets on their way: NAT rewrites in both directions, direct routing,
//! IP-in-IP encapsulation with its MTU rule, ARP for VIPs.

use std::net::IpAddr;

use rvs_wire::checksum::{complete_partial, fold, sum};
use rvs_wire::encap::{
    encap_ip6ip6, encap_ipip_v4, OuterV4, OuterV6, IP6IP6_OVERHEAD, IPIP_OVERHEAD_V4,
};
use rvs_wire::ether::{ETH_HLEN, ETH_P_IPV4, ETH_P_IPV6};
use rvs_wire::ip::{IpMeta, IpVersion};
use rvs_wire::rewrite::{decrement_ttl, set_dst, set_src, CsumMode};

use super::{bump, Director, DropReason, Fam, Rx, Verdict};
use crate::conn::Conn;
use crate::model::{Family, ForwardMethod};
use crate::service::PortId;
use crate::time::Time;

impl Director {
    /// A frame leaves: complete a partial L4 checksum, or (when the caller's backend can
    /// ask the kernel to, and the frame is not about to be encapsulated) leave it
    /// partial and say where it is.
    #[inline]
    pub(super) fn finish_csum(&self, rx: &mut Rx<'_>, ip: &IpMeta, encap: bool) {
        if !rx.csum_partial {
            return;
        }
        if let Some(l4) = ip.l4 {
            if rx.keep_partial && !encap && l4.checksum_covers_addresses() {
                if let (Ok(start), Ok(off)) = (
                    u16::try_from(ip.l4_offset),
                    u16::try_from(l4.checksum_offset()),
                ) {
                    rx.out_csum = Some((start, off));
                    return;
                }
            }
            let seg = &mut rx.buf[rx.start + ip.l4_offset..rx.start + ip.end];
            complete_partial(seg, l4.checksum_offset());
            bump(&self.stats.csum_completed);
        }
        rx.csum_partial = false;
    }

    /// For frames whose checksum state nobody reported (AF_XDP): a TCP/UDP checksum
    /// field that equals the pseudo-header sum is partial. Costs a few additions, no pass
    /// over the payload.
    #[inline(always)]
    pub(super) fn resolve_csum(&self, rx: &mut Rx<'_>, ip: &IpMeta) {
        if rx.csum_unknown {
            Self::look_at_csum(rx, ip);
        }
    }

    fn look_at_csum(rx: &mut Rx<'_>, ip: &IpMeta) {
        rx.csum_unknown = false;
        let Some(l4) = ip.l4 else { return };
        if !l4.checksum_covers_addresses() || ip.is_fragment() {
            return;
        }
        let frame = &rx.buf[rx.start..rx.start + rx.len];
        let at = ip.l4_offset + l4.checksum_offset();
        let (Some(field), Some(_)) = (frame.get(at..at + 2), frame.get(ip.l4_offset..ip.end))
        else {
            return;
        };
        let field = u16::from_be_bytes([field[0], field[1]]);
        let l4_len = (ip.end - ip.l4_offset) as u32;
        let (src, dst) = match ip.version {
            IpVersion::V4 => (
                &frame[ip.l3_offset + 12..ip.l3_offset + 16],
                &frame[ip.l3_offset + 16..ip.l3_offset + 20],
            ),
            IpVersion::V6 => (
                &frame[ip.l3_offset + 8..ip.l3_offset + 24],
                &frame[ip.l3_offset + 24..ip.l3_offset + 40],
            ),
        };
        let pseudo = sum(
            src,
            sum(
                dst,
                u32::from(ip.proto) + (l4_len >> 16) + (l4_len & 0xffff),
            ),
        );
        // A field equal to the pseudo-header sum is taken as partial without summing the
        // segment to rule out a complete checksum that happens to have the same value:
        // treating such a frame as partial is harmless, since completing a field that
        // holds the pseudo-header sum yields exactly that complete checksum (and the
        // rewrite is then redone from the data). Any other field is complete (or corrupt,
        // and forwarded as it is: the receiver drops it).
        if field == fold(pseudo) {
            rx.csum_partial = true;
        }
    }

    #[inline]
    fn csum_mode(rx: &Rx<'_>) -> CsumMode {
        if rx.csum_partial {
            CsumMode::Partial
        } else {
            CsumMode::Full
        }
    }

    /// Client to real server, by the connection's forwarding method.
    pub(super) fn forward_in<A: Fam>(
        &mut self,
        rx: &mut Rx<'_>,
        ip: &IpMeta,
        c: &Conn<A>,
        _now: Time,
    ) -> Verdict {
        let daddr = c.daddr.to_ip();
        let route = match self.snap.dest_route(c.dest()) {
            Some(r) => Some(r),
            None => self.snap.route(&daddr),
        };
        let Some((port, next_hop)) = route else {
            return self.drop(DropReason::NoRoute);
        };
        let (start, len) = (rx.start, rx.len);
        self.resolve_csum(rx, ip);
        match c.method() {
            ForwardMethod::Masq => {
                let mode = Self::csum_mode(rx);
                let port_num = ip.ports().map(|_| c.dport);
                if let Err(e) = set_dst(&mut rx.buf[start..start + len], ip, daddr, port_num, mode)
                {
                    return self.drop(DropReason::Rewrite(e));
                }
                self.finish_csum(rx, ip, false);
                self.set_src_mac(rx.buf, start, port);
                Verdict::Forward {
                    port,
                    next_hop,
                    start,
                    len,
                }
            }
            ForwardMethod::Route => {
                self.finish_csum(rx, ip, false);
                self.set_src_mac(rx.buf, start, port);
                // The real server shares a segment with the director: its own MAC.
                Verdict::Forward {
                    port,
                    next_hop: daddr,
                    start,
                    len,
                }
            }
            ForwardMethod::Tunnel => self.tunnel(rx, ip, daddr, port, next_hop),
        }
    }

    /// Wrap the client's packet in an outer IP header to the real server. A packet
    /// that would no longer fit the egress MTU and may not be fragmented earns the
    /// client an ICMP "fragmentation needed" / "packet too big".
    pub(super) fn tunnel(
        &mut self,
        rx: &mut Rx<'_>,
        ip: &IpMeta,
        daddr: IpAddr,
        port: PortId,
        next_hop: IpAddr,
    ) -> Verdict {
        let (overhead, family, ether_type) = match ip.version {
            IpVersion::V4 => (IPIP_OVERHEAD_V4, Family::V4, ETH_P_IPV4),
            IpVersion::V6 => (IP6IP6_OVERHEAD, Family::V6, ETH_P_IPV6),
        };
        if rx.gso {
            // No encapsulation offload here: a super-frame cannot be tunnelled.
            return self.drop(DropReason::Unsupported);
        }
        let l3_len = ip.end - ip.l3_offset;
        let mtu = self.snap.port(port).map(|p| p.mtu as usize).unwrap_or(1500);
        if l3_len + overhead > mtu {
            if ip.dont_fragment {
                return self.too_big(rx, ip, (mtu - overhead.min(mtu)) as u32);
            }
            return self.drop(DropReason::TooBig);
        }
        let Some(src) = self.snap.port_addr(port, family) else {
            return self.drop(DropReason::NoRoute);
        };
        self.finish_csum(rx, ip, true);
        let l3 = rx.start + ip.l3_offset;
        if l3 < overhead + ETH_HLEN {
            return self.drop(DropReason::Encap(rvs_wire::error::EncapError::NoHeadroom));
        }
        let res = match (src, daddr) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                let id = self.next_ip_id();
                encap_ipip_v4(rx.buf, l3, l3_len, OuterV4::for_inner(ip, s, d, id))
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => {
                encap_ip6ip6(rx.buf, l3, l3_len, OuterV6::for_inner(ip, s, d))
            }
            _ => return self.drop(DropReason::NoRoute),
        };
        let new_l3 = match res {
            Ok(n) => n,
            Err(e) => return self.drop(DropReason::Encap(e)),
        };
        let start = new_l3 - ETH_HLEN;
        let mac = self.port_mac(port);
        let eth = &mut rx.buf[start..new_l3];
        eth[0..6].fill(0);
        eth[6..12].copy_from_slice(&mac);
        eth[12..14].copy_from_slice(&ether_type.to_be_bytes());
        rx.start = start;
        rx.len = ETH_HLEN + l3_len + overhead;
        Verdict::Forward {
            port,
            next_hop,
            start,
            len: rx.len,
        }
    }

    /// Real server to client (NAT): the source becomes the VIP again.
    pub(super) fn forward_out<A: Fam>(
        &mut self,
        rx: &mut Rx<'_>,
        ip: &IpMeta,
        c: &Conn<A>,
    ) -> Verdict {
        let caddr = c.caddr.to_ip();
        let Some((port, next_hop)) = self.snap.route(&caddr) else {
            return self.drop(DropReason::NoRoute);
        };
        let (start, len) = (rx.start, rx.len);
        self.resolve_csum(rx, ip);
        let mode = Self::csum_mode(rx);
        let frame = &mut rx.buf[start..start + len];
        if !decrement_ttl(frame, ip) {
            return self.drop(DropReason::TtlExceeded);
        }
        let port_num = ip.ports().map(|_| c.vport);
        if let Err(e) = set_src(frame, ip, c.vaddr.to_ip(), port_num, mode) {
            return self.drop(DropReason::Rewrite(e));
        }
        self.finish_csum(rx, ip, false);
        self.set_src_mac(rx.buf, start, port);
        Verdict::Forward {
            port,
            next_hop,
            start,
            len,
        }
    }
}
