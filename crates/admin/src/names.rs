//! Host and port names the way ipvsadm resolves them through the C library, but
//! from files only: `/etc/hosts` for addresses and `/etc/services` for ports. No
//! DNS, so listing never stalls on a resolver. An empty `Names` resolves nothing,
//! which is what numeric output (`-n`) and tests use.

use std::net::{IpAddr, Ipv4Addr};

use rvs_core::Protocol;

#[derive(Clone, Debug, PartialEq, Eq)]
struct HostLine {
    addr: IpAddr,
    /// Canonical name first, then aliases.
    names: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct ServiceLine {
    port: u16,
    proto: String,
    /// Official name first, then aliases.
    names: Vec<String>,
}

/// A snapshot of the hosts and services databases.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Names {
    hosts: Vec<HostLine>,
    services: Vec<ServiceLine>,
}

fn strip_comment(line: &str) -> &str {
    match line.find('#') {
        Some(i) => &line[..i],
        None => line,
    }
}

fn proto_name(proto: Protocol) -> &'static str {
    match proto {
        Protocol::Tcp => "tcp",
        Protocol::Udp => "udp",
    }
}

impl Names {
    /// Parse the text of an `/etc/hosts` and an `/etc/services` file. Lines that
    /// do not parse are skipped, as the C library does.
    pub fn parse(hosts: &str, services: &str) -> Names {
        let mut names = Names::default();
        for line in hosts.lines() {
            let mut fields = strip_comment(line).split_whitespace();
            let Some(addr) = fields.next().and_then(|a| a.parse::<IpAddr>().ok()) else {
                continue;
            };
            let host_names: Vec<String> = fields.map(str::to_string).collect();
            if !host_names.is_empty() {
                names.hosts.push(HostLine {
                    addr,
                    names: host_names,
                });
            }
        }
        for line in services.lines() {
            let mut fields = strip_comment(line).split_whitespace();
            let (Some(name), Some(port_proto)) = (fields.next(), fields.next()) else {
                continue;
            };
            let Some((port, proto)) = port_proto.split_once('/') else {
                continue;
            };
            let Ok(port) = port.parse::<u16>() else {
                continue;
            };
            let mut all = vec![name.to_string()];
            all.extend(fields.map(str::to_string));
            names.services.push(ServiceLine {
                port,
                proto: proto.to_string(),
                names: all,
            });
        }
        names
    }

    /// The system's `/etc/hosts` and `/etc/services`; a missing file resolves nothing.
    pub fn system() -> Names {
        let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
        let services = std::fs::read_to_string("/etc/services").unwrap_or_default();
        Names::parse(&hosts, &services)
    }

    /// `gethostbyname` for an IPv4 host (ipvsadm accepts only IPv4 host names):
    /// the first line naming it, case-insensitively.
    pub fn host_v4(&self, name: &str) -> Option<Ipv4Addr> {
        self.hosts.iter().find_map(|h| match h.addr {
            IpAddr::V4(a) if h.names.iter().any(|n| n.eq_ignore_ascii_case(name)) => Some(a),
            _ => None,
        })
    }

    /// `gethostbyaddr`: the canonical name of the first line with this address.
    pub fn host_name(&self, addr: &IpAddr) -> Option<&str> {
        self.hosts
            .iter()
            .find(|h| h.addr == *addr)
            .and_then(|h| h.names.first())
            .map(String::as_str)
    }

    /// `getservbyname(name, proto)`: the port of a service name or alias.
    pub fn service_port(&self, name: &str, proto: Protocol) -> Option<u16> {
        let proto = proto_name(proto);
        self.services
            .iter()
            .find(|s| s.proto == proto && s.names.iter().any(|n| n == name))
            .map(|s| s.port)
    }

    /// `getservbyport(port, proto)`: the official name of the first entry.
    pub fn service_name(&self, port: u16, proto: Protocol) -> Option<&str> {
        let proto = proto_name(proto);
        self.services
            .iter()
            .find(|s| s.proto == proto && s.port == port)
            .and_then(|s| s.names.first())
            .map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTS: &str = "127.0.0.1\tlocalhost\n\
        ::1 localhost ip6-localhost ip6-loopback\n\
        # a comment line\n\
        192.0.2.10 www.example.test www   # the VIP\n\
        198.51.100.11 rs1.example.test rs1\n\
        2001:db8::10 www6.example.test\n\
        not-an-address bogus\n";
    const SERVICES: &str = "http\t\t80/tcp\t\twww\t\t# WorldWideWeb HTTP\n\
        https 443/tcp\n\
        https 443/udp\n\
        domain 53/udp\n\
        domain 53/tcp\n\
        broken-line\n";

    #[test]
    fn hosts_lookups() {
        let n = Names::parse(HOSTS, SERVICES);
        assert_eq!(n.host_v4("www"), Some(Ipv4Addr::new(192, 0, 2, 10)));
        assert_eq!(
            n.host_v4("WWW.example.test"),
            Some(Ipv4Addr::new(192, 0, 2, 10))
        );
        assert_eq!(n.host_v4("localhost"), Some(Ipv4Addr::new(127, 0, 0, 1)));
        assert_eq!(
            n.host_v4("www6.example.test"),
            None,
            "IPv4 lookups skip IPv6 lines"
        );
        assert_eq!(n.host_v4("bogus"), None);
        assert_eq!(
            n.host_name(&"192.0.2.10".parse().unwrap()),
            Some("www.example.test")
        );
        assert_eq!(n.host_name(&"::1".parse().unwrap()), Some("localhost"));
        assert_eq!(n.host_name(&"192.0.2.99".parse().unwrap()), None);
    }

    #[test]
    fn services_lookups() {
        let n = Names::parse(HOSTS, SERVICES);
        assert_eq!(n.service_port("http", Protocol::Tcp), Some(80));
        assert_eq!(n.service_port("www", Protocol::Tcp), Some(80));
        assert_eq!(n.service_port("http", Protocol::Udp), None);
        assert_eq!(n.service_port("domain", Protocol::Udp), Some(53));
        assert_eq!(n.service_name(443, Protocol::Udp), Some("https"));
        assert_eq!(n.service_name(80, Protocol::Tcp), Some("http"));
        assert_eq!(n.service_name(8080, Protocol::Tcp), None);
        assert_eq!(Names::default().service_name(80, Protocol::Tcp), None);
    }
}
