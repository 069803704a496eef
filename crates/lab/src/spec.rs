//! What lab to build ([`LabSpec`]) and its fixed address plan (documentation ranges
//! only: clients 203.0.113.0/24, VIPs 192.0.2.0/24, servers and the director's server
//! side 198.51.100.0/24, IPv6 2001:db8::/32).

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// The virtual service address every topology routes to the director.
pub const VIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);
/// The IPv6 virtual service address.
pub const VIP6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xa, 0, 0, 0, 0, 0x10);
/// The client.
pub const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 2);
/// The client's IPv6 address.
pub const CLIENT_IP6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xc, 0, 0, 0, 0, 2);
/// The client's gateway (the director in NAT, the router otherwise).
pub const CLIENT_GW: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 1);
/// The client's IPv6 gateway.
pub const CLIENT_GW6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xc, 0, 0, 0, 0, 1);
/// The director's address on the server side (DIP), in every topology.
pub const DIP: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
/// UDP port of the real servers' responders.
pub const UDP_PORT: u16 = 5000;
/// Most real servers a lab can have.
pub const MAX_REAL_SERVERS: usize = 9;
/// Most directors a lab can have (a primary and a backup).
pub const MAX_DIRECTORS: usize = 2;
/// TCP port of the real servers' echo responders.
pub const TCP_ECHO_PORT: u16 = 7000;

/// The forwarding method a topology is built for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Method {
    /// Masquerading (`-m`): client - director - switch - real servers, whose gateway is
    /// the director.
    #[default]
    Nat,
    /// Direct routing (`-g`): client - router - switch with the director and the real
    /// servers; VIP on the servers' `lo`.
    Route,
    /// IP-in-IP tunnel (`-i`): client - router, director and real servers on two other
    /// router ports; servers decapsulate with the tunnel agent.
    Tunnel,
}

impl Method {
    /// The ipvsadm flag of the method: `-m`, `-g` or `-i`.
    pub const fn ipvsadm_flag(self) -> &'static str {
        match self {
            Method::Nat => "-m",
            Method::Route => "-g",
            Method::Tunnel => "-i",
        }
    }

    /// Short name: `nat`, `dr`, `tun`.
    pub const fn name(self) -> &'static str {
        match self {
            Method::Nat => "nat",
            Method::Route => "dr",
            Method::Tunnel => "tun",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Method {
    type Err = String;

    /// `nat`/`masq`/`m`, `dr`/`route`/`direct`/`g`, `tun`/`tunnel`/`ipip`/`i`.
    fn from_str(s: &str) -> Result<Method, String> {
        match s.to_ascii_lowercase().as_str() {
            "nat" | "masq" | "masquerading" | "m" => Ok(Method::Nat),
            "dr" | "route" | "direct" | "droute" | "g" => Ok(Method::Route),
            "tun" | "tunnel" | "ipip" | "i" => Ok(Method::Tunnel),
            _ => Err(format!("unknown forwarding method {s:?} (nat, dr or tun)")),
        }
    }
}

/// How tunnel-method real servers decapsulate.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum AgentMode {
    /// [`rvs_realserver::TunnelAgent`] in a thread of this process that entered the
    /// server's namespace (needs no binary; stops with the lab).
    #[default]
    InProcess,
    /// A command run in each server namespace, e.g.
    /// `{rvsd} realserver --tunnel {vip_args}`. Placeholders: `{rvsd}`, `{rvs_lab}`
    /// (binary paths), `{vip_args}` (`--vip 192.0.2.10 [--vip 2001:db8:a::10]`),
    /// `{name}` (`rs1`).
    Command(String),
    /// No agent: the caller starts its own.
    None,
}

/// The command template of [`AgentMode::Command`] that runs rvsd's agent.
pub const RVSD_AGENT_TEMPLATE: &str = "{rvsd} realserver --tunnel {vip_args}";
/// The command template that runs this crate's binary as the agent.
pub const RVS_LAB_AGENT_TEMPLATE: &str = "{rvs_lab} tunnel-agent {vip_args}";

/// What lab to build. `LabSpec::new(Method::Nat)` or `LabSpec::default()` and adjust.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabSpec {
    /// The forwarding method the topology is for.
    pub method: Method,
    /// Number of real servers, 1..=[`MAX_REAL_SERVERS`] (`rs1`, `rs2`, ...).
    pub real_servers: usize,
    /// Also IPv6 addresses, routes and VIP6 (otherwise IPv6 is disabled everywhere).
    pub ipv6: bool,
    /// nginx on port 80 in every real server.
    pub http: bool,
    /// A UDP responder on [`UDP_PORT`] in every real server.
    pub udp: bool,
    /// Size of the `/big` file nginx serves, in MiB (sparse: costs no disk).
    pub big_file_mib: u64,
    /// Switch TSO, GSO and GRO off on every veth (a director reading frames with
    /// AF_PACKET would otherwise see 64 KB frames). Transmit checksumming stays on.
    pub offloads_off: bool,
    /// Switch transmit checksum offload off on the client's and the real servers'
    /// interfaces, so that every packet they send carries a full checksum. Leave it off
    /// to test a director against partial checksums (what a veth really delivers).
    pub hosts_full_checksums: bool,
    /// Decapsulation on tunnel-method servers.
    pub tunnel_agent: AgentMode,
    /// MTU of every link behind the client's gateway (director, router, servers), e.g.
    /// 1520 so that tunnelled full-size packets fit. `None`: 1500 everywhere, and a
    /// tunnelling director must send "fragmentation needed" for full-size packets.
    pub backend_mtu: Option<u32>,
    /// Directors: 1, or 2 for failover (NAT and DR only, IPv4 only). With two, the
    /// addresses the single director holds ([`CLIENT_GW`] in NAT, [`DIP`]) float
    /// between them (VRRP puts them on the master) and each director has its own:
    /// [`director_client_ip`] and [`director_server_ip`].
    pub directors: usize,
    /// A TCP echo responder on [`TCP_ECHO_PORT`] in every real server (for
    /// interactive sessions that must survive a failover).
    pub tcp_echo: bool,
}

impl Default for LabSpec {
    fn default() -> LabSpec {
        LabSpec {
            method: Method::Nat,
            real_servers: 3,
            ipv6: false,
            http: true,
            udp: true,
            big_file_mib: 20,
            offloads_off: true,
            hosts_full_checksums: false,
            tunnel_agent: AgentMode::InProcess,
            backend_mtu: None,
            directors: 1,
            tcp_echo: true,
        }
    }
}

impl LabSpec {
    /// The defaults for `method`: three real servers, nginx and UDP responders, IPv4.
    pub fn new(method: Method) -> LabSpec {
        LabSpec {
            method,
            ..LabSpec::default()
        }
    }

    pub(crate) fn validate(&self) -> Result<(), String> {
        if let Some(mtu) = self.backend_mtu {
            if !(1280..=65535).contains(&mtu) {
                return Err(format!("backend_mtu must be 1280..=65535, not {mtu}"));
            }
        }
        if self.directors == 0 || self.directors > MAX_DIRECTORS {
            return Err(format!(
                "directors must be 1..={MAX_DIRECTORS}, not {}",
                self.directors
            ));
        }
        if self.directors > 1
            && (self.method == Method::Tunnel || self.ipv6 || self.backend_mtu.is_some())
        {
            return Err(
                "two directors: NAT or DR over IPv4 with the default MTU only (no failover topology for the rest)"
                    .to_owned(),
            );
        }
        if self.real_servers == 0 || self.real_servers > MAX_REAL_SERVERS {
            return Err(format!(
                "real_servers must be 1..={MAX_REAL_SERVERS}, not {}",
                self.real_servers
            ));
        }
        Ok(())
    }
}

/// Address of real server `i` (1-based) for `method`: 198.51.100.11.. on the shared
/// segment (NAT, DR), 198.51.100.71.. on the tunnel topology's own server subnet.
pub fn real_server_ip(method: Method, i: usize) -> Ipv4Addr {
    let base = match method {
        Method::Nat | Method::Route => 10,
        Method::Tunnel => 70,
    };
    Ipv4Addr::new(198, 51, 100, base + i as u8)
}

/// Director `i`'s (1-based) own address on the client side in a two-director NAT lab:
/// 203.0.113.11, 203.0.113.12.
pub fn director_client_ip(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(203, 0, 113, 10 + i as u8)
}

/// Director `i`'s (1-based) own address on the server side in a two-director lab:
/// 198.51.100.2, 198.51.100.3 (the floating [`DIP`] is .1).
pub fn director_server_ip(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(198, 51, 100, 1 + i as u8)
}

/// IPv6 address of real server `i`: 2001:db8:5::11.. (::71.. for the tunnel topology),
/// written with the same digits as the IPv4 one.
pub fn real_server_ip6(method: Method, i: usize) -> Ipv6Addr {
    let base = match method {
        Method::Nat | Method::Route => 0x10,
        Method::Tunnel => 0x70,
    };
    Ipv6Addr::new(0x2001, 0xdb8, 0x5, 0, 0, 0, 0, base + i as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_parse_and_print() {
        for (s, m) in [
            ("nat", Method::Nat),
            ("DR", Method::Route),
            ("tunnel", Method::Tunnel),
        ] {
            assert_eq!(s.parse::<Method>().unwrap(), m);
        }
        assert!("fullnat".parse::<Method>().is_err());
        assert_eq!(Method::Route.to_string(), "dr");
        assert_eq!(Method::Tunnel.ipvsadm_flag(), "-i");
        for m in [Method::Nat, Method::Route, Method::Tunnel] {
            assert_eq!(m.name().parse::<Method>().unwrap(), m);
        }
    }

    #[test]
    fn real_server_addresses_follow_the_plan() {
        assert_eq!(real_server_ip(Method::Nat, 1).to_string(), "198.51.100.11");
        assert_eq!(
            real_server_ip(Method::Route, 3).to_string(),
            "198.51.100.13"
        );
        assert_eq!(
            real_server_ip(Method::Tunnel, 2).to_string(),
            "198.51.100.72"
        );
        assert_eq!(
            real_server_ip6(Method::Nat, 1).to_string(),
            "2001:db8:5::11"
        );
        assert_eq!(
            real_server_ip6(Method::Tunnel, 3).to_string(),
            "2001:db8:5::73"
        );
    }

    #[test]
    fn spec_bounds_are_checked() {
        let mut spec = LabSpec::new(Method::Route);
        assert!(spec.validate().is_ok());
        spec.real_servers = 0;
        assert!(spec.validate().is_err());
        spec.real_servers = MAX_REAL_SERVERS + 1;
        assert!(spec.validate().is_err());
        spec.real_servers = 3;
        spec.backend_mtu = Some(1000);
        assert!(spec.validate().is_err());
        spec.backend_mtu = Some(1520);
        assert!(spec.validate().is_ok());
        spec.directors = 2;
        assert!(spec.validate().is_err(), "no MTU choice with two directors");
        spec.backend_mtu = None;
        assert!(spec.validate().is_ok());
        spec.directors = 0;
        assert!(spec.validate().is_err());
        spec.directors = 3;
        assert!(spec.validate().is_err());
        spec.directors = 2;
        spec.method = Method::Tunnel;
        assert!(spec.validate().is_err());
        spec.method = Method::Nat;
        spec.ipv6 = true;
        assert!(spec.validate().is_err());
    }

    #[test]
    fn director_addresses_follow_the_plan() {
        assert_eq!(director_client_ip(1).to_string(), "203.0.113.11");
        assert_eq!(director_client_ip(2).to_string(), "203.0.113.12");
        assert_eq!(director_server_ip(1).to_string(), "198.51.100.2");
        assert_eq!(director_server_ip(2).to_string(), "198.51.100.3");
    }
}
