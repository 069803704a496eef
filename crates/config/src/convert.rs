//! From the loaded model to what the rest of rvs consumes: the core's
//! virtual services with their destinations (virtual server groups expanded,
//! inactive servers left out, DR/TUN ports set to the service's), and the
//! list of health checks to run.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use rvs_core::{DestConfig, Family, ForwardMethod, Protocol, ServiceConfig, ServiceKey};

use crate::error::{ConfigError, Location};
use crate::model::{Checker, LoadedConfig, RealServer, VirtualServer, VsKey, VsgEntryKind};

/// Most services one virtual server group may expand to.
pub const MAX_GROUP_SERVICES: u64 = 65536;
/// Most services one configuration may define (far above what the core's
/// tables are sized for; this only keeps a typo like /8 from exhausting memory).
pub const MAX_SERVICES: usize = 1 << 18;

/// One health check to run: a checker of a real server, with the virtual
/// services whose destination it decides (several for a group).
#[derive(Clone, Debug, PartialEq)]
pub struct CheckTarget<'a> {
    /// Shared by every check of the same virtual server.
    pub services: Arc<[ServiceKey]>,
    pub virtual_server: &'a VirtualServer,
    pub real_server: &'a RealServer,
    /// Where the check connects: connect_ip, else the real server.
    pub addr: IpAddr,
    /// connect_port, else the real server's port (0 for a DR/TUN real
    /// server of a firewall mark without connect_port: nothing to connect to
    /// except with PING_CHECK or MISC_CHECK).
    pub port: u16,
    pub checker: &'a Checker,
}

impl LoadedConfig {
    /// The virtual services and destinations to install, in configuration
    /// order. Errors name the virtual server (or group entry) at fault.
    pub fn services(&self) -> Result<Vec<(ServiceConfig, Vec<DestConfig>)>, ConfigError> {
        let mut out: Vec<(ServiceConfig, Vec<DestConfig>)> = Vec::new();
        let mut defined: HashMap<ServiceKey, Location> = HashMap::new();
        for vs in self.virtual_servers.iter().filter(|v| v.active) {
            for (key, at) in self.service_keys(vs)? {
                if defined.len() >= MAX_SERVICES {
                    return Err(ConfigError::new(
                        at,
                        format!("more than {MAX_SERVICES} virtual services"),
                    ));
                }
                if let Some(first) = defined.get(&key) {
                    return Err(ConfigError::new(
                        at,
                        format!(
                            "virtual service {} is defined twice (first at {first})",
                            describe(&key)
                        ),
                    ));
                }
                defined.insert(key, at.clone());
                let service_port = match key {
                    ServiceKey::Addr { port, .. } => port,
                    ServiceKey::FwMark { .. } => 0,
                };
                let mut dests = Vec::new();
                for rs in vs.real_servers.iter().filter(|r| r.active) {
                    if Family::of(&rs.ip) != key.family() {
                        return Err(ConfigError::new(
                            rs.at.clone(),
                            format!(
                                "real server {} is not of the address family of virtual service {}",
                                rs.ip,
                                describe(&key)
                            ),
                        ));
                    }
                    let port = match rs.lb_kind {
                        ForwardMethod::Masq if rs.port == 0 => service_port,
                        ForwardMethod::Masq => rs.port,
                        ForwardMethod::Route | ForwardMethod::Tunnel => service_port,
                    };
                    dests.push(DestConfig {
                        addr: rs.ip,
                        port,
                        method: rs.lb_kind,
                        weight: rs.weight,
                        u_threshold: rs.uthreshold,
                        l_threshold: rs.lthreshold,
                    });
                }
                let persistence = vs.persistence().map(|mut p| {
                    if vs.persistence_granularity.is_none() {
                        p.prefix_len = match key.family() {
                            Family::V4 => 32,
                            Family::V6 => 128,
                        };
                    }
                    p
                });
                out.push((
                    ServiceConfig {
                        key,
                        scheduler: vs.lb_algo,
                        sched_flags: vs.sched_flags,
                        persistence,
                        one_packet: vs.ops,
                    },
                    dests,
                ));
            }
        }
        Ok(out)
    }

    /// Every checker of every active real server of every active virtual
    /// server, in configuration order.
    pub fn checks(&self) -> Vec<CheckTarget<'_>> {
        let mut out = Vec::new();
        for vs in self.virtual_servers.iter().filter(|v| v.active) {
            // A group that cannot be expanded has no services; services()
            // reports why.
            let services: Arc<[ServiceKey]> = self
                .service_keys(vs)
                .map(|v| v.into_iter().map(|(k, _)| k).collect())
                .unwrap_or_else(|_| Arc::from(Vec::new()));
            for rs in vs.real_servers.iter().filter(|r| r.active) {
                for checker in &rs.checkers {
                    let c = checker.common();
                    out.push(CheckTarget {
                        services: Arc::clone(&services),
                        virtual_server: vs,
                        real_server: rs,
                        addr: c.connect_ip.unwrap_or(rs.ip),
                        port: c.connect_port.unwrap_or(rs.port),
                        checker,
                    });
                }
            }
        }
        out
    }

    /// The core service keys of one virtual server, with where each comes from.
    pub fn service_keys(
        &self,
        vs: &VirtualServer,
    ) -> Result<Vec<(ServiceKey, Location)>, ConfigError> {
        let proto = vs.protocol;
        match &vs.key {
            VsKey::Addr { ip, port } => Ok(vec![(
                ServiceKey::Addr {
                    proto,
                    addr: *ip,
                    port: *port,
                },
                vs.at.clone(),
            )]),
            VsKey::FwMark(mark) => Ok(vec![(
                ServiceKey::FwMark {
                    mark: *mark,
                    family: vs.family,
                },
                vs.at.clone(),
            )]),
            VsKey::Group(name) => {
                let group = self
                    .virtual_server_groups
                    .iter()
                    .find(|g| &g.name == name)
                    .ok_or_else(|| {
                        ConfigError::new(
                            vs.at.clone(),
                            format!("virtual_server_group {name} is not defined"),
                        )
                    })?;
                let mut keys = Vec::new();
                let mut count: u64 = 0;
                for e in &group.entries {
                    match &e.kind {
                        VsgEntryKind::FwMark { mark, family } => {
                            count += 1;
                            keys.push((
                                ServiceKey::FwMark {
                                    mark: *mark,
                                    family: family.unwrap_or(vs.family),
                                },
                                e.at.clone(),
                            ));
                        }
                        VsgEntryKind::Range { first, last, port } => {
                            let span = range_len(*first, *last);
                            count = count.saturating_add(span);
                            if count > MAX_GROUP_SERVICES {
                                return Err(ConfigError::new(
                                    e.at.clone(),
                                    format!(
                                        "virtual_server_group {name} expands to more than {MAX_GROUP_SERVICES} services"
                                    ),
                                ));
                            }
                            for addr in addresses(*first, *last) {
                                keys.push((
                                    ServiceKey::Addr {
                                        proto,
                                        addr,
                                        port: *port,
                                    },
                                    e.at.clone(),
                                ));
                            }
                        }
                    }
                }
                Ok(keys)
            }
        }
    }
}

fn range_len(first: IpAddr, last: IpAddr) -> u64 {
    match (first, last) {
        (IpAddr::V4(a), IpAddr::V4(b)) => u64::from(u32::from(b).saturating_sub(u32::from(a))) + 1,
        (IpAddr::V6(a), IpAddr::V6(b)) => {
            let d = u128::from(b).saturating_sub(u128::from(a));
            u64::try_from(d).unwrap_or(u64::MAX).saturating_add(1)
        }
        _ => 1,
    }
}

/// Every address from `first` to `last` (callers bound the count).
fn addresses(first: IpAddr, last: IpAddr) -> Box<dyn Iterator<Item = IpAddr>> {
    match (first, last) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            Box::new((u32::from(a)..=u32::from(b)).map(|x| IpAddr::V4(x.into())))
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => {
            Box::new((u128::from(a)..=u128::from(b)).map(|x| IpAddr::V6(x.into())))
        }
        _ => Box::new(std::iter::once(first)),
    }
}

fn describe(key: &ServiceKey) -> String {
    match key {
        ServiceKey::Addr { proto, addr, port } => {
            let p = match proto {
                Protocol::Tcp => "TCP",
                Protocol::Udp => "UDP",
            };
            match addr {
                IpAddr::V4(_) => format!("{p} {addr}:{port}"),
                IpAddr::V6(_) => format!("{p} [{addr}]:{port}"),
            }
        }
        ServiceKey::FwMark { mark, family } => match family {
            Family::V4 => format!("FWM {mark}"),
            Family::V6 => format!("FWM {mark} IPv6"),
        },
    }
}
