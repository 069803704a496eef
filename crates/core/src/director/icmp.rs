//! ICMP and neighbour discovery: errors about tracked connections (forwarded to the
//! real server, or back to the client, rewritten inside and out for NAT), echo
//! replies and ARP / neighbour advertisements for VIPs, and the errors the director
//! itself sends (port unreachable when no real server is left, too big for the tunnel).

use std::net::IpAddr;

use rvs_wire::arp::{build_arp_reply, parse_arp, ARP_REQUEST};
use rvs_wire::encap::{dest_unreachable_port, icmp_frag_needed_v4, icmpv6_packet_too_big};
use rvs_wire::ether::{parse_ether, MacAddr};
use rvs_wire::icmp::{echo_reply_in_place, is_icmp_error, parse_icmp_inner};
use rvs_wire::ip::{IpMeta, IpVersion};
use rvs_wire::ndp::{build_neighbor_advertisement, parse_neighbor_solicitation};
use rvs_wire::rewrite::{decrement_ttl, rewrite_icmp_inner, set_dst, set_src, CsumMode};

use super::{bump, Director, DropReason, Fam, Rx, Verdict};
use crate::model::ForwardMethod;
use crate::time::Time;

const ICMP_ECHO_REQUEST: u8 = 8;
const ICMPV6_ECHO_REQUEST: u8 = 128;
const ICMPV6_NEIGHBOR_SOLICIT: u8 = 135;

impl Director {
    pub(super) fn icmp<A: Fam>(
        &mut self,
        rx: &mut Rx<'_>,
        ip: &IpMeta,
        icmp_type: u8,
        _code: u8,
        now: Time,
    ) -> Verdict {
        if is_icmp_error(ip) {
            return self.icmp_error::<A>(rx, ip, now);
        }
        let to_us = self.is_director_address(&ip.dst, None, 0);
        match (ip.version, icmp_type) {
            (IpVersion::V6, ICMPV6_NEIGHBOR_SOLICIT) => self.neighbor_solicit(rx, ip),
            (IpVersion::V4, ICMP_ECHO_REQUEST) | (IpVersion::V6, ICMPV6_ECHO_REQUEST)
                if to_us && self.snap.settings.answer_ping =>
            {
                let (start, len) = (rx.start, rx.len);
                match echo_reply_in_place(&mut rx.buf[start..start + len], ip) {
                    Ok(()) => Verdict::Reply {
                        port: rx.port,
                        start,
                        len,
                    },
                    Err(e) => self.drop(DropReason::Malformed(e)),
                }
            }
            _ if to_us => self.drop(DropReason::Unsupported),
            _ => self.pass(),
        }
    }

    /// An ICMP error: about a packet the client got from a VIP (goes on to the real
    /// server), or about a packet a NAT real server got (goes back to the client).
    fn icmp_error<A: Fam>(&mut self, rx: &mut Rx<'_>, ip: &IpMeta, _now: Time) -> Verdict {
        let inner = match parse_icmp_inner(rx.frame(), ip) {
            Ok(i) => i,
            Err(e) => {
                if self.is_director_address(&ip.dst, None, 0) {
                    return self.drop(DropReason::Malformed(e));
                }
                return self.pass();
            }
        };
        let (Some(isrc), Some(idst)) = (A::from_ip(inner.src), A::from_ip(inner.dst)) else {
            return self.pass();
        };
        let Some((isport, idport)) = inner.ports else {
            return if self.snap.is_vip(&ip.dst) {
                self.drop(DropReason::IcmpNoConn)
            } else {
                self.pass()
            };
        };
        let proto = inner.proto;
        let table = A::table_ref(&self.tables);
        // The client (or a router on its side) complains about VIP -> client.
        if let Some(slot) = table.lookup_in(proto, &idst, idport, &isrc, isport) {
            let c = *table.get(slot);
            let daddr = c.daddr.to_ip();
            let Some((port, next_hop)) = self.snap.route(&daddr) else {
                return self.drop(DropReason::NoRoute);
            };
            self.count_in(c.dest(), (ip.end - ip.l3_offset) as u64);
            match c.method() {
                ForwardMethod::Masq => {
                    let (start, len) = (rx.start, rx.len);
                    let frame = &mut rx.buf[start..start + len];
                    if let Err(e) = set_dst(frame, ip, daddr, None, CsumMode::Full) {
                        return self.drop(DropReason::Rewrite(e));
                    }
                    if let Err(e) =
                        rewrite_icmp_inner(frame, ip, &inner, Some((daddr, c.dport)), None)
                    {
                        return self.drop(DropReason::Rewrite(e));
                    }
                    self.set_src_mac(rx.buf, start, port);
                    return Verdict::Forward {
                        port,
                        next_hop,
                        start,
                        len,
                    };
                }
                ForwardMethod::Route => {
                    let start = rx.start;
                    self.set_src_mac(rx.buf, start, port);
                    return Verdict::Forward {
                        port,
                        next_hop: daddr,
                        start,
                        len: rx.len,
                    };
                }
                ForwardMethod::Tunnel => {
                    rx.csum_partial = false;
                    return self.forward_tunnel_raw(rx, ip, daddr, port, next_hop);
                }
            }
        }
        // A NAT real server (or a router on its side) complains about client -> RIP.
        if let Some(slot) = table.lookup_out(proto, &idst, idport, &isrc, isport) {
            let c = *table.get(slot);
            let caddr = c.caddr.to_ip();
            let vaddr = c.vaddr.to_ip();
            let Some((port, next_hop)) = self.snap.route(&caddr) else {
                return self.drop(DropReason::NoRoute);
            };
            self.count_out(c.dest(), (ip.end - ip.l3_offset) as u64);
            let (start, len) = (rx.start, rx.len);
            let frame = &mut rx.buf[start..start + len];
            if !decrement_ttl(frame, ip) {
                return self.drop(DropReason::TtlExceeded);
            }
            if let Err(e) = set_src(frame, ip, vaddr, None, CsumMode::Full) {
                return self.drop(DropReason::Rewrite(e));
            }
            if let Err(e) = rewrite_icmp_inner(frame, ip, &inner, None, Some((vaddr, c.vport))) {
                return self.drop(DropReason::Rewrite(e));
            }
            self.set_src_mac(rx.buf, start, port);
            return Verdict::Forward {
                port,
                next_hop,
                start,
                len,
            };
        }
        if self.snap.is_vip(&ip.dst) {
            return self.drop(DropReason::IcmpNoConn);
        }
        self.pass()
    }

    fn forward_tunnel_raw(
        &mut self,
        rx: &mut Rx<'_>,
        ip: &IpMeta,
        daddr: IpAddr,
        port: crate::service::PortId,
        next_hop: IpAddr,
    ) -> Verdict {
        // Same encapsulation as for the connection's own packets.
        let mut meta = *ip;
        // ICMP errors are small; never answer an ICMP error with another one.
        meta.dont_fragment = false;
        self.tunnel(rx, &meta, daddr, port, next_hop)
    }

    /// "Port unreachable" to the client: what IPVS answers when a service has no
    /// real server left.
    pub(super) fn port_unreachable<A: Fam>(&mut self, rx: &mut Rx<'_>, ip: &IpMeta) -> Verdict {
        let (start, len) = (rx.start, rx.len);
        match dest_unreachable_port(&mut rx.buf[start..], len, ip, ip.dst) {
            Ok(n) => {
                bump(&self.stats.icmp_sent);
                bump(&self.stats.drops[DropReason::NoDest.counter_index()]);
                rx.len = n;
                Verdict::Reply {
                    port: rx.port,
                    start,
                    len: n,
                }
            }
            Err(e) => self.drop(DropReason::Encap(e)),
        }
    }

    /// "Fragmentation needed" / "packet too big" back to the client, from the VIP.
    pub(super) fn too_big(&mut self, rx: &mut Rx<'_>, ip: &IpMeta, mtu: u32) -> Verdict {
        let (start, len) = (rx.start, rx.len);
        let res = match ip.dst {
            IpAddr::V4(vip) => icmp_frag_needed_v4(
                &mut rx.buf[start..],
                len,
                ip,
                vip,
                mtu.min(u16::MAX as u32) as u16,
            ),
            IpAddr::V6(vip) => icmpv6_packet_too_big(&mut rx.buf[start..], len, ip, vip, mtu),
        };
        match res {
            Ok(n) => {
                bump(&self.stats.icmp_sent);
                bump(&self.stats.drops[DropReason::TooBig.counter_index()]);
                rx.len = n;
                Verdict::Reply {
                    port: rx.port,
                    start,
                    len: n,
                }
            }
            Err(_) => self.drop(DropReason::TooBig),
        }
    }

    /// ARP requests for a VIP get the director's MAC on the asking port.
    pub(super) fn arp(&mut self, rx: &mut Rx<'_>) -> Verdict {
        if !self.snap.settings.answer_arp {
            return self.pass();
        }
        let Ok(eth) = parse_ether(rx.frame()) else {
            return self.pass();
        };
        let Ok(req) = parse_arp(rx.frame(), eth.l3_offset) else {
            return self.pass();
        };
        if req.op != ARP_REQUEST || !self.is_director_address(&IpAddr::V4(req.target_ip), None, 0) {
            return self.pass();
        }
        let mac = MacAddr(self.port_mac(rx.port));
        let mut out = [0u8; 64];
        let n = build_arp_reply(&mut out, &req, mac);
        if n == 0 {
            return self.pass();
        }
        let start = rx.start;
        if rx.buf.len() < start + n {
            return self.pass();
        }
        rx.buf[start..start + n].copy_from_slice(&out[..n]);
        rx.len = n;
        bump(&self.stats.replied);
        Verdict::Reply {
            port: rx.port,
            start,
            len: n,
        }
    }

    /// Neighbour solicitations for a VIP get a solicited advertisement.
    fn neighbor_solicit(&mut self, rx: &mut Rx<'_>, ip: &IpMeta) -> Verdict {
        if !self.snap.settings.answer_arp {
            return self.pass();
        }
        let Ok(ns) = parse_neighbor_solicitation(rx.frame(), ip) else {
            return self.pass();
        };
        if !self.is_director_address(&IpAddr::V6(ns.target), None, 0) {
            return self.pass();
        }
        let mac = MacAddr(self.port_mac(rx.port));
        let mut out = [0u8; 128];
        let n = build_neighbor_advertisement(&mut out, &ns, mac);
        if n == 0 {
            return self.pass();
        }
        let start = rx.start;
        if rx.buf.len() < start + n {
            return self.pass();
        }
        rx.buf[start..start + n].copy_from_slice(&out[..n]);
        rx.len = n;
        Verdict::Reply {
            port: rx.port,
            start,
            len: n,
        }
    }
}
