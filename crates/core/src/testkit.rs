//! Frame builders for tests, benchmarks and fuzzing seeds: well-formed Ethernet
//! frames carrying TCP, UDP and ICMP over IPv4 and IPv6, with checksums computed by
//! a deliberately naive implementation (independent of the wire crate's fast one),
//! so that tests compare the director's incremental rewrites against packets built
//! from scratch.

use std::net::IpAddr;

/// Ethernet source/destination used by the builders unless changed.
pub const CLIENT_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0xC1];
pub const DIRECTOR_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0xD1];

/// Naive RFC 1071 sum over 16-bit words.
pub fn naive_sum(chunks: &[&[u8]]) -> u16 {
    let mut all = Vec::new();
    for c in chunks {
        all.extend_from_slice(c);
    }
    if all.len() % 2 == 1 {
        all.push(0);
    }
    let mut s: u64 = 0;
    for w in all.chunks(2) {
        s += u16::from_be_bytes([w[0], w[1]]) as u64;
    }
    while s > 0xFFFF {
        s = (s & 0xFFFF) + (s >> 16);
    }
    !(s as u16)
}

fn addr_bytes(a: &IpAddr) -> Vec<u8> {
    match a {
        IpAddr::V4(v) => v.octets().to_vec(),
        IpAddr::V6(v) => v.octets().to_vec(),
    }
}

fn pseudo(src: &IpAddr, dst: &IpAddr, proto: u8, len: usize) -> Vec<u8> {
    let mut p = addr_bytes(src);
    p.extend(addr_bytes(dst));
    match src {
        IpAddr::V4(_) => {
            p.push(0);
            p.push(proto);
            p.extend((len as u16).to_be_bytes());
        }
        IpAddr::V6(_) => {
            p.extend((len as u32).to_be_bytes());
            p.extend([0, 0, 0, proto]);
        }
    }
    p
}

/// What to put in a frame.
#[derive(Clone, Debug)]
pub struct Spec {
    pub src_mac: [u8; 6],
    pub dst_mac: [u8; 6],
    pub src: IpAddr,
    pub dst: IpAddr,
    pub ttl: u8,
    pub tos: u8,
    pub id: u16,
    pub df: bool,
    pub l4: L4,
}

#[derive(Clone, Debug)]
pub enum L4 {
    Tcp {
        sport: u16,
        dport: u16,
        flags: u8,
        seq: u32,
        payload: Vec<u8>,
    },
    Udp {
        sport: u16,
        dport: u16,
        payload: Vec<u8>,
        zero_csum: bool,
    },
    /// ICMP (v4) or ICMPv6 message: type, code, 4 bytes of rest-of-header, body.
    Icmp {
        icmp_type: u8,
        code: u8,
        rest: [u8; 4],
        body: Vec<u8>,
    },
}

impl Spec {
    pub fn tcp(src: &str, sport: u16, dst: &str, dport: u16, flags: u8) -> Spec {
        Spec::new(
            src,
            dst,
            L4::Tcp {
                sport,
                dport,
                flags,
                seq: 1000,
                payload: Vec::new(),
            },
        )
    }
    pub fn udp(src: &str, sport: u16, dst: &str, dport: u16, payload: &[u8]) -> Spec {
        Spec::new(
            src,
            dst,
            L4::Udp {
                sport,
                dport,
                payload: payload.to_vec(),
                zero_csum: false,
            },
        )
    }
    pub fn new(src: &str, dst: &str, l4: L4) -> Spec {
        Spec {
            src_mac: CLIENT_MAC,
            dst_mac: DIRECTOR_MAC,
            src: src.parse().expect("test address"),
            dst: dst.parse().expect("test address"),
            ttl: 64,
            tos: 0,
            id: 0x1234,
            df: true,
            l4,
        }
    }
    pub fn payload(mut self, data: &[u8]) -> Spec {
        match &mut self.l4 {
            L4::Tcp { payload, .. } | L4::Udp { payload, .. } => *payload = data.to_vec(),
            L4::Icmp { body, .. } => *body = data.to_vec(),
        }
        self
    }
    pub fn macs(mut self, src: [u8; 6], dst: [u8; 6]) -> Spec {
        self.src_mac = src;
        self.dst_mac = dst;
        self
    }
    pub fn ttl(mut self, ttl: u8) -> Spec {
        self.ttl = ttl;
        self
    }

    /// The transport segment with its checksum.
    pub fn segment(&self) -> (u8, Vec<u8>) {
        let v6 = self.src.is_ipv6();
        match &self.l4 {
            L4::Tcp {
                sport,
                dport,
                flags,
                seq,
                payload,
            } => {
                let mut t = Vec::new();
                t.extend(sport.to_be_bytes());
                t.extend(dport.to_be_bytes());
                t.extend(seq.to_be_bytes());
                t.extend(0u32.to_be_bytes());
                t.push(5 << 4);
                t.push(*flags);
                t.extend(64240u16.to_be_bytes());
                t.extend([0, 0, 0, 0]);
                t.extend(payload);
                let c = naive_sum(&[&pseudo(&self.src, &self.dst, 6, t.len()), &t]);
                t[16..18].copy_from_slice(&c.to_be_bytes());
                (6, t)
            }
            L4::Udp {
                sport,
                dport,
                payload,
                zero_csum,
            } => {
                let mut u = Vec::new();
                u.extend(sport.to_be_bytes());
                u.extend(dport.to_be_bytes());
                u.extend(((8 + payload.len()) as u16).to_be_bytes());
                u.extend([0, 0]);
                u.extend(payload);
                if !*zero_csum {
                    let mut c = naive_sum(&[&pseudo(&self.src, &self.dst, 17, u.len()), &u]);
                    if c == 0 {
                        c = 0xFFFF;
                    }
                    u[6..8].copy_from_slice(&c.to_be_bytes());
                }
                (17, u)
            }
            L4::Icmp {
                icmp_type,
                code,
                rest,
                body,
            } => {
                let mut m = vec![*icmp_type, *code, 0, 0];
                m.extend(rest);
                m.extend(body);
                let c = if v6 {
                    naive_sum(&[&pseudo(&self.src, &self.dst, 58, m.len()), &m])
                } else {
                    naive_sum(&[&m])
                };
                m[2..4].copy_from_slice(&c.to_be_bytes());
                (if v6 { 58 } else { 1 }, m)
            }
        }
    }

    /// The IP packet (no Ethernet header).
    pub fn ip_packet(&self) -> Vec<u8> {
        let (proto, seg) = self.segment();
        match (self.src, self.dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                let mut h = vec![0x45, self.tos];
                h.extend(((20 + seg.len()) as u16).to_be_bytes());
                h.extend(self.id.to_be_bytes());
                h.extend(if self.df { [0x40, 0] } else { [0, 0] });
                h.push(self.ttl);
                h.push(proto);
                h.extend([0, 0]);
                h.extend(s.octets());
                h.extend(d.octets());
                let c = naive_sum(&[&h]);
                h[10..12].copy_from_slice(&c.to_be_bytes());
                h.extend(seg);
                h
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => {
                let mut h = vec![0x60 | (self.tos >> 4), self.tos << 4, 0, 0];
                h.extend((seg.len() as u16).to_be_bytes());
                h.push(proto);
                h.push(self.ttl);
                h.extend(s.octets());
                h.extend(d.octets());
                h.extend(seg);
                h
            }
            _ => panic!("mixed address families in a test packet"),
        }
    }

    /// The Ethernet frame.
    pub fn frame(&self) -> Vec<u8> {
        let mut f = Vec::new();
        f.extend(self.dst_mac);
        f.extend(self.src_mac);
        f.extend(if self.src.is_ipv6() {
            [0x86, 0xDD]
        } else {
            [0x08, 0x00]
        });
        f.extend(self.ip_packet());
        f
    }
}

/// A buffer with `headroom` bytes before the frame, as the I/O layer gives them.
pub fn with_headroom(frame: &[u8], headroom: usize) -> Vec<u8> {
    let mut b = vec![0u8; headroom];
    b.extend_from_slice(frame);
    b.resize(headroom + frame.len().max(1600), 0);
    b
}

/// Verify every checksum of an Ethernet frame carrying IPv4/IPv6 with TCP, UDP or
/// ICMP (recursing into IP-in-IP). Returns a description of the first bad one.
pub fn verify_checksums(frame: &[u8]) -> Result<(), String> {
    if frame.len() < 14 {
        return Err("short frame".into());
    }
    verify_ip(&frame[14..])
}

pub fn verify_ip(p: &[u8]) -> Result<(), String> {
    let (src, dst, proto, l4) = match p.first().map(|b| b >> 4) {
        Some(4) => {
            let ihl = (p[0] & 0xF) as usize * 4;
            let total = u16::from_be_bytes([p[2], p[3]]) as usize;
            if naive_sum(&[&p[..ihl]]) != 0 {
                return Err("ipv4 header checksum".into());
            }
            let s: [u8; 4] = p[12..16].try_into().map_err(|_| "addr")?;
            let d: [u8; 4] = p[16..20].try_into().map_err(|_| "addr")?;
            (IpAddr::from(s), IpAddr::from(d), p[9], &p[ihl..total])
        }
        Some(6) => {
            let plen = u16::from_be_bytes([p[4], p[5]]) as usize;
            let s: [u8; 16] = p[8..24].try_into().map_err(|_| "addr")?;
            let d: [u8; 16] = p[24..40].try_into().map_err(|_| "addr")?;
            (IpAddr::from(s), IpAddr::from(d), p[6], &p[40..40 + plen])
        }
        _ => return Err("not ip".into()),
    };
    match proto {
        4 | 41 => verify_ip(l4),
        6 => (naive_sum(&[&pseudo(&src, &dst, 6, l4.len()), l4]) == 0)
            .then_some(())
            .ok_or_else(|| "tcp checksum".into()),
        17 => {
            if src.is_ipv4() && l4[6..8] == [0, 0] {
                return Ok(());
            }
            (naive_sum(&[&pseudo(&src, &dst, 17, l4.len()), l4]) == 0)
                .then_some(())
                .ok_or_else(|| "udp checksum".into())
        }
        1 => (naive_sum(&[l4]) == 0)
            .then_some(())
            .ok_or_else(|| "icmp checksum".into()),
        58 => (naive_sum(&[&pseudo(&src, &dst, 58, l4.len()), l4]) == 0)
            .then_some(())
            .ok_or_else(|| "icmpv6 checksum".into()),
        _ => Ok(()),
    }
}

/// Turn a frame's L4 checksum into a partial one (pseudo-header sum only, as a local
/// stack hands it to a veth), to test completion.
pub fn make_partial(frame: &mut [u8]) {
    let p = &frame[14..];
    let (src, dst, proto, l4off, l4len) = match p[0] >> 4 {
        4 => {
            let ihl = (p[0] & 0xF) as usize * 4;
            let total = u16::from_be_bytes([p[2], p[3]]) as usize;
            let s: [u8; 4] = p[12..16].try_into().unwrap_or_default();
            let d: [u8; 4] = p[16..20].try_into().unwrap_or_default();
            (
                IpAddr::from(s),
                IpAddr::from(d),
                p[9],
                14 + ihl,
                total - ihl,
            )
        }
        _ => {
            let plen = u16::from_be_bytes([p[4], p[5]]) as usize;
            let s: [u8; 16] = p[8..24].try_into().unwrap_or_default();
            let d: [u8; 16] = p[24..40].try_into().unwrap_or_default();
            (IpAddr::from(s), IpAddr::from(d), p[6], 14 + 40, plen)
        }
    };
    let off = match proto {
        6 => 16,
        17 => 6,
        _ => return,
    };
    // The folded (not complemented) pseudo-header sum.
    let ps = !naive_sum(&[&pseudo(&src, &dst, proto, l4len)]);
    frame[l4off + off..l4off + off + 2].copy_from_slice(&ps.to_be_bytes());
}

/// The benchmarks' director: TCP 192.0.2.10:80 (wlc) over three real servers
/// 198.51.100.11-13:80 by `method`; port 0 faces the clients (203.0.113.1/24), port 1
/// the servers (198.51.100.1/24).
pub fn bench_director(
    method: crate::ForwardMethod,
    cfg: crate::director::DirectorConfig,
) -> crate::director::Director {
    use crate::service::{DesiredConfig, IpNet, Limits, PortConfig, PortId, ServiceTable};
    use crate::{DestConfig, Protocol, SchedFlags, SchedulerKind, ServiceConfig, ServiceKey, Time};
    let ip = |s: &str| -> IpAddr { s.parse().unwrap_or(IpAddr::from([0, 0, 0, 0])) };
    let port = |id: u8, mac: u8, addr: &str| PortConfig {
        id: PortId(id),
        name: format!("eth{id}"),
        mac: [2, 0, 0, 0, 0, mac],
        mtu: 1500,
        addrs: vec![IpNet::new(ip(addr), 24)],
    };
    let want = DesiredConfig {
        services: vec![(
            ServiceConfig {
                key: ServiceKey::Addr {
                    proto: Protocol::Tcp,
                    addr: ip("192.0.2.10"),
                    port: 80,
                },
                scheduler: SchedulerKind::Wlc,
                sched_flags: SchedFlags::default(),
                persistence: None,
                one_packet: false,
            },
            (11..14)
                .map(|i| DestConfig {
                    addr: ip(&format!("198.51.100.{i}")),
                    port: 80,
                    method,
                    weight: 1,
                    u_threshold: 0,
                    l_threshold: 0,
                })
                .collect(),
        )],
        ports: vec![port(0, 1, "203.0.113.1"), port(1, 2, "198.51.100.1")],
        ..Default::default()
    };
    let mut table = ServiceTable::new(Limits::default());
    let snap = match table.reconcile(&want, Time::ZERO) {
        Ok((snap, _)) => snap,
        Err(e) => panic!("the bench configuration is valid: {e:?}"),
    };
    crate::director::Director::new(cfg, snap)
}
