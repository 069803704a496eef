//! The director's ports: the interfaces named on the command line, with their MAC,
//! MTU and addresses as the kernel has them, and the kernel's routes through them,
//! turned into the core's port and route configuration.

use std::io;
use std::net::IpAddr;

use rvs_core::service::{IpNet, PortConfig, PortId, Route};
use rvs_io::{Interface, RtNetlink};

/// One interface the director handles.
#[derive(Clone, Debug)]
pub struct Port {
    pub id: PortId,
    pub name: String,
    pub ifindex: u32,
    pub config: PortConfig,
}

/// Look up the named interfaces; port ids follow the command-line order.
pub fn discover(names: &[String]) -> io::Result<Vec<Port>> {
    let mut ports = Vec::with_capacity(names.len());
    for (i, name) in names.iter().enumerate() {
        let ifc = Interface::by_name(name)
            .map_err(|e| io::Error::new(e.kind(), format!("interface {name}: {e}")))?;
        let mut addrs: Vec<IpNet> = ifc
            .ipv4
            .iter()
            .map(|(a, p)| IpNet::new(IpAddr::V4(*a), *p))
            .collect();
        addrs.extend(
            ifc.ipv6
                .iter()
                .filter(|(a, _)| (a.segments()[0] & 0xffc0) != 0xfe80)
                .map(|(a, p)| IpNet::new(IpAddr::V6(*a), *p)),
        );
        let id = PortId(u8::try_from(i).map_err(|_| io::Error::other("more than 255 interfaces"))?);
        ports.push(Port {
            id,
            name: name.clone(),
            ifindex: ifc.index,
            config: PortConfig {
                id,
                name: name.clone(),
                mac: ifc.mac.octets(),
                mtu: u16::try_from(ifc.mtu).unwrap_or(u16::MAX),
                addrs,
            },
        });
    }
    Ok(ports)
}

/// The kernel's main-table routes that leave through our ports (connected subnets
/// come from the port addresses; these add gateways and the default route).
pub fn kernel_routes(nl: &mut RtNetlink, ports: &[Port]) -> io::Result<Vec<Route>> {
    let mut routes = Vec::new();
    for v6 in [false, true] {
        for r in nl.route_dump(v6)? {
            let Some(port) = ports.iter().find(|p| p.ifindex == r.oif) else {
                continue;
            };
            let dest = match r.dest {
                Some(d) => d,
                None if v6 => IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED),
                None => IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
            };
            if let IpAddr::V6(a) = dest {
                if (a.segments()[0] & 0xffc0) == 0xfe80 || a.is_multicast() {
                    continue;
                }
            }
            routes.push(Route {
                dest: IpNet::new(dest, r.prefix_len),
                port: port.id,
                gateway: r.gateway,
            });
        }
    }
    Ok(routes)
}
