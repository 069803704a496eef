//! Stand-ins for the director, to prove a topology without rvsd:
//!
//! - NAT: kernel nftables DNAT in the director's namespace, round robin
//!   (`numgen inc mod N`) over the real servers, for VIP:80/tcp and VIP:5000/udp;
//! - DR: an nftables netdev ingress rule on the director's `eth0` that rewrites the
//!   destination MAC to a real server's (chosen by a hash of the client's address and
//!   port, so one connection stays on one server) and the source MAC to the director's,
//!   and sends the frame back out of `eth0` — what LVS direct routing does;
//! - tunnel: [`Lab::tunnel_udp_probe`] sends one hand-made IP-in-IP packet from the
//!   director's namespace, as the director would forward a client's datagram.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

use rvs_wire::build::{build_frame, Endpoints, L4Spec};
use rvs_wire::ether::ETH_HLEN;
use rvs_wire::MacAddr;

use crate::error::{LabError, Result};
use crate::lab::Lab;
use crate::netns::in_netns;
use crate::spec::{Method, CLIENT_IP, UDP_PORT, VIP, VIP6};

/// Name of the nftables tables the stand-ins install.
const TABLE: &str = "rvs_standin";

impl Lab {
    fn apply_nft(&self, name: &str, script: &str) -> Result<()> {
        let path = self.dir.join(format!("{name}.nft"));
        std::fs::write(&path, script).map_err(|e| LabError::io(path.display().to_string(), e))?;
        let file = path.display().to_string();
        self.exec_ok(&self.director, &["nft", "-f", &file])
            .map(drop)
    }

    /// Installs the NAT stand-in (see the module documentation). NAT topology only.
    pub fn start_nat_standin(&self) -> Result<()> {
        if self.spec.method != Method::Nat {
            return Err(LabError::invalid("the NAT stand-in needs the NAT topology"));
        }
        let n = self.real_servers.len();
        let map4 = self
            .real_servers
            .iter()
            .enumerate()
            .map(|(i, rs)| format!("{i} : {}", rs.ip))
            .collect::<Vec<_>>()
            .join(", ");
        let mut script = format!(
            "table ip {TABLE} {{\n  chain pre {{\n    type nat hook prerouting priority dstnat; policy accept;\n    \
             ip daddr {VIP} tcp dport 80 dnat to numgen inc mod {n} map {{ {map4} }}\n    \
             ip daddr {VIP} udp dport {UDP_PORT} dnat to numgen inc mod {n} map {{ {map4} }}\n  }}\n  \
             chain post {{ type nat hook postrouting priority srcnat; policy accept; }}\n}}\n"
        );
        if self.spec.ipv6 {
            let map6 = self
                .real_servers
                .iter()
                .enumerate()
                .filter_map(|(i, rs)| rs.ip6.map(|ip6| format!("{i} : {ip6}")))
                .collect::<Vec<_>>()
                .join(", ");
            let _ = write!(
                script,
                "table ip6 {TABLE} {{\n  chain pre {{\n    type nat hook prerouting priority dstnat; policy accept;\n    \
                 ip6 daddr {VIP6} tcp dport 80 dnat to numgen inc mod {n} map {{ {map6} }}\n    \
                 ip6 daddr {VIP6} udp dport {UDP_PORT} dnat to numgen inc mod {n} map {{ {map6} }}\n  }}\n  \
                 chain post {{ type nat hook postrouting priority srcnat; policy accept; }}\n}}\n"
            );
        }
        self.apply_nft("standin-nat", &script)
    }

    /// Installs the DR stand-in (see the module documentation). DR topology only.
    pub fn start_route_standin(&self) -> Result<()> {
        if self.spec.method != Method::Route {
            return Err(LabError::invalid("the DR stand-in needs the DR topology"));
        }
        let n = self.real_servers.len();
        let director_mac = self.mac(&self.director, "eth0")?;
        let mut macs = Vec::new();
        for rs in &self.real_servers {
            macs.push(self.mac(&rs.ns, "eth0")?);
        }
        let map = macs
            .iter()
            .enumerate()
            .map(|(i, m)| format!("{i} : {m}"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut rules = String::new();
        for (family, vip) in [("ip", VIP.to_string()), ("ip6", VIP6.to_string())] {
            if family == "ip6" && !self.spec.ipv6 {
                continue;
            }
            for proto in ["tcp", "udp"] {
                let _ = writeln!(
                    rules,
                    "    {family} daddr {vip} {proto} dport {{ 80, {UDP_PORT} }} ether saddr set {director_mac} \
                     ether daddr set jhash {family} saddr . {proto} sport mod {n} map {{ {map} }} fwd to \"eth0\""
                );
            }
        }
        let script = format!(
            "table netdev {TABLE} {{\n  chain ingress {{\n    type filter hook ingress device \"eth0\" priority 0; policy accept;\n{rules}  }}\n}}\n"
        );
        self.apply_nft("standin-dr", &script)
    }

    /// Removes the stand-in's nftables tables from the director's namespace.
    pub fn stop_standin(&self) -> Result<()> {
        for family in ["ip", "ip6", "netdev"] {
            let out = self.exec(&self.director, &["nft", "list", "table", family, TABLE])?;
            if out.status.success() {
                self.exec_ok(&self.director, &["nft", "delete", "table", family, TABLE])?;
            }
        }
        Ok(())
    }

    /// Tunnel topology: plays the director for one UDP datagram. From the client's
    /// namespace a socket on `CLIENT:client_port` connected to VIP:5000 waits; from the
    /// director's namespace an IP-in-IP packet (outer 198.51.100.1 → real server
    /// `index`, inner client → VIP:5000) goes out of a raw socket. The real server's
    /// agent decapsulates it, its UDP responder answers from the VIP straight to the
    /// client through the router. Returns that answer (the server's name).
    pub fn tunnel_udp_probe(&self, index: usize, client_port: u16) -> Result<String> {
        if self.spec.method != Method::Tunnel {
            return Err(LabError::invalid(
                "the tunnel probe needs the tunnel topology",
            ));
        }
        let rs = index
            .checked_sub(1)
            .and_then(|i| self.real_servers.get(i))
            .ok_or_else(|| LabError::invalid(format!("no real server {index}")))?;
        let client = in_netns(&self.client, || -> std::io::Result<UdpSocket> {
            let s = UdpSocket::bind((CLIENT_IP, client_port))?;
            s.connect((VIP, UDP_PORT))?;
            s.set_read_timeout(Some(Duration::from_secs(1)))?;
            Ok(s)
        })?
        .map_err(|e| LabError::io(format!("client socket on port {client_port}"), e))?;

        let mut frame = vec![0u8; 256];
        let ends = Endpoints {
            src_mac: MacAddr([0; 6]),
            dst_mac: MacAddr([0; 6]),
            src: IpAddr::V4(CLIENT_IP),
            dst: IpAddr::V4(VIP),
            ttl: 64,
        };
        let udp = L4Spec::Udp {
            src_port: client_port,
            dst_port: UDP_PORT,
        };
        let len = build_frame(&mut frame, &ends, udp, b"tunnel probe")
            .map_err(|e| LabError::invalid(format!("build the probe: {e:?}")))?;
        let inner = frame[ETH_HLEN..len].to_vec();
        let target = rs.ip;
        let mut buf = [0u8; 256];
        for _ in 0..3 {
            in_netns(&self.director, || send_ipip(target, &inner))?
                .map_err(|e| LabError::io("send the IP-in-IP probe", e))?;
            match client.recv(&mut buf) {
                Ok(n) => return Ok(String::from_utf8_lossy(&buf[..n]).into_owned()),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => return Err(LabError::io("the probe's answer", e)),
            }
        }
        Err(LabError::Timeout {
            what: format!(
                "an answer from {} to the tunnelled probe (client {})",
                SocketAddr::new(IpAddr::V4(VIP), UDP_PORT),
                SocketAddr::new(IpAddr::V4(CLIENT_IP), client_port)
            ),
            after: Duration::from_secs(3),
        })
    }
}

/// Sends `inner` to `to` over a raw IPPROTO_IPIP socket: the kernel adds the outer IPv4
/// header (protocol 4).
fn send_ipip(to: Ipv4Addr, inner: &[u8]) -> std::io::Result<()> {
    // SAFETY: plain syscall with integer arguments.
    let fd = unsafe {
        libc::socket(
            libc::AF_INET,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::IPPROTO_IPIP,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `fd` was just returned by socket(2) and is owned by nobody else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: sockaddr_in is plain old data.
    let mut sa: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    sa.sin_family = libc::AF_INET as libc::sa_family_t;
    sa.sin_addr.s_addr = u32::from_ne_bytes(to.octets());
    // SAFETY: `inner` and `sa` are valid for the whole call.
    let sent = unsafe {
        libc::sendto(
            fd.as_raw_fd(),
            inner.as_ptr().cast(),
            inner.len(),
            0,
            (&sa as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        )
    };
    if sent < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}
