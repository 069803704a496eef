//! The desired table — virtual services in insertion order, each with its real
//! servers in order, the timeouts and the sync daemons — and the rules by which
//! commands change it: the kernel IPVS checks and error meanings, applied
//! atomically (a failing command, or a failing command of a batch, changes
//! nothing).

use std::net::IpAddr;

use rvs_core::{DestConfig, Family, ForwardMethod, Protocol, ServiceConfig, ServiceKey};
use serde::{Deserialize, Serialize};

use crate::command::{Command, ServiceSpec};
use crate::error::AdminError;
use crate::order;
use crate::status::Timeouts;

/// ipvsadm's upper bound for timeouts: 31 days.
pub const MAX_TIMEOUT: u32 = 86400 * 31;
/// ipvsadm's upper bound for connection thresholds (a C `int`).
pub const MAX_THRESHOLD: u32 = i32::MAX as u32;
/// Largest real server weight.
pub const MAX_WEIGHT: u32 = 65535;
/// Multicast interface ipvsadm names when `--mcast-interface` is not given.
pub const DEFAULT_MCAST_IFN: &str = "eth0";

/// Role of a connection sync daemon.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SyncState {
    Master,
    Backup,
}

impl SyncState {
    pub fn name(self) -> &'static str {
        match self {
            SyncState::Master => "master",
            SyncState::Backup => "backup",
        }
    }
}

/// A sync daemon as `--start-daemon` configures it; unset values take the IPVS defaults.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncDaemonConfig {
    pub state: SyncState,
    pub mcast_ifn: String,
    pub syncid: u8,
    pub sync_maxlen: Option<u16>,
    pub mcast_group: Option<IpAddr>,
    pub mcast_port: Option<u16>,
    pub mcast_ttl: Option<u8>,
}

impl SyncDaemonConfig {
    /// A daemon with ipvsadm's defaults: interface eth0, sync id 0.
    pub fn new(state: SyncState) -> SyncDaemonConfig {
        SyncDaemonConfig {
            state,
            mcast_ifn: DEFAULT_MCAST_IFN.to_string(),
            syncid: 0,
            sync_maxlen: None,
            mcast_group: None,
            mcast_port: None,
            mcast_ttl: None,
        }
    }
}

/// A virtual service and its real servers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VirtualService {
    pub config: ServiceConfig,
    pub dests: Vec<DestConfig>,
}

/// The desired table.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    pub services: Vec<VirtualService>,
    pub timeouts: Timeouts,
    pub daemons: Vec<SyncDaemonConfig>,
}

/// What an applied command did, for the daemon to carry out on live state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Applied {
    ServiceAdded(ServiceKey),
    ServiceEdited(ServiceKey),
    ServiceDeleted(ServiceKey),
    Cleared,
    DestAdded {
        service: ServiceKey,
        addr: IpAddr,
        port: u16,
    },
    DestEdited {
        service: ServiceKey,
        addr: IpAddr,
        port: u16,
    },
    DestDeleted {
        service: ServiceKey,
        addr: IpAddr,
        port: u16,
    },
    /// Counters of one service, or of all (`None`), are to be zeroed.
    Zeroed(Option<ServiceKey>),
    /// The timeouts now in force.
    TimeoutsSet(Timeouts),
    DaemonStarted(SyncState),
    DaemonsStopped(Vec<SyncState>),
}

/// The failing command of a batch (`Config::apply_all`), by index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchError {
    pub index: usize,
    pub error: AdminError,
}

fn invalid(why: impl Into<String>) -> AdminError {
    AdminError::Invalid(why.into())
}

/// The kernel's "address type" check for a real server: it must be a unicast
/// address (not unspecified, broadcast, multicast, or IPv6 link-local/mapped).
fn is_unicast(addr: &IpAddr) -> bool {
    match addr {
        IpAddr::V4(a) => !(a.octets()[0] == 0 || a.is_broadcast() || a.is_multicast()),
        IpAddr::V6(a) => {
            let link_local = (a.segments()[0] & 0xffc0) == 0xfe80;
            let mapped = a.to_ipv4_mapped().is_some();
            !(a.is_unspecified() || a.is_multicast() || link_local || mapped)
        }
    }
}

/// Checks a service configuration against what the table can hold.
fn check_service(config: &ServiceConfig) -> Result<(), AdminError> {
    if let ServiceKey::FwMark { mark: 0, .. } = config.key {
        return Err(invalid("firewall mark 0 is not a valid service"));
    }
    if let Some(p) = config.persistence {
        let max_prefix = match config.key.family() {
            Family::V4 => 32,
            Family::V6 => 128,
        };
        let min_prefix = match config.key.family() {
            Family::V4 => 0,
            Family::V6 => 1,
        };
        if p.prefix_len < min_prefix || p.prefix_len > max_prefix {
            return Err(invalid(format!(
                "persistence prefix /{} out of range",
                p.prefix_len
            )));
        }
        if p.timeout_secs == 0 || p.timeout_secs > MAX_TIMEOUT {
            return Err(invalid(format!(
                "persistence timeout {} out of range",
                p.timeout_secs
            )));
        }
    }
    if let ServiceKey::Addr { proto, port, .. } = config.key {
        if port == 0 && config.persistence.is_none() {
            return Err(invalid("Zero port specified for non-persistent service"));
        }
        if config.one_packet && proto != Protocol::Udp {
            return Err(invalid(
                "One-Packet Scheduling is only for UDP virtual services",
            ));
        }
    }
    Ok(())
}

/// Checks a real server's settings against its service, in the kernel's order
/// (the address type comes later, after "already exists", and on add only).
fn check_dest(service: &ServiceConfig, dest: &DestConfig) -> Result<(), AdminError> {
    if Family::of(&dest.addr) != service.key.family() && dest.method != ForwardMethod::Tunnel {
        return Err(invalid(
            "Different address family is allowed only for tunneling servers",
        ));
    }
    if dest.weight > MAX_WEIGHT {
        return Err(AdminError::OutOfRange(format!(
            "weight {} above {MAX_WEIGHT}",
            dest.weight
        )));
    }
    if dest.u_threshold > MAX_THRESHOLD || dest.l_threshold > MAX_THRESHOLD {
        return Err(AdminError::OutOfRange("threshold above 2147483647".into()));
    }
    // IPVS refuses a lower threshold above the upper one, even when the upper is 0 (unset).
    if dest.l_threshold > dest.u_threshold {
        return Err(AdminError::OutOfRange(
            "lower threshold is higher than upper threshold".into(),
        ));
    }
    if let ServiceKey::Addr { port, .. } = service.key {
        // Direct routing and tunnelling cannot change the port (ipvsadm forces
        // the service port for them); the core relies on it.
        if dest.method != ForwardMethod::Masq && dest.port != port {
            return Err(invalid(
                "real server port must equal the service port for gatewaying and tunneling",
            ));
        }
    }
    Ok(())
}

impl Config {
    /// An empty table with the default timeouts.
    pub fn new() -> Config {
        Config::default()
    }

    /// The virtual service with this key.
    pub fn service(&self, key: &ServiceKey) -> Option<&VirtualService> {
        self.services.iter().find(|s| s.config.key == *key)
    }

    fn service_index(&self, key: &ServiceKey) -> Option<usize> {
        self.services.iter().position(|s| s.config.key == *key)
    }

    /// Validates and applies one command. On error nothing has changed.
    pub fn apply(&mut self, command: &Command) -> Result<Applied, AdminError> {
        match command {
            Command::AddService(spec) => self.add_service(spec),
            Command::EditService(spec) => self.edit_service(spec),
            Command::DeleteService(key) => {
                let i = self.service_index(key).ok_or(AdminError::NoSuchService)?;
                self.services.remove(i);
                Ok(Applied::ServiceDeleted(*key))
            }
            Command::Clear => {
                self.services.clear();
                Ok(Applied::Cleared)
            }
            Command::AddDest { service, dest } => self.add_dest(service, dest),
            Command::EditDest { service, dest } => self.edit_dest(service, dest),
            Command::DeleteDest {
                service,
                addr,
                port,
            } => {
                let si = self
                    .service_index(service)
                    .ok_or(AdminError::ServiceNotDefined)?;
                let dests = &mut self.services[si].dests;
                let di = dests
                    .iter()
                    .position(|d| d.addr == *addr && d.port == *port)
                    .ok_or(AdminError::NoSuchDest)?;
                dests.remove(di);
                Ok(Applied::DestDeleted {
                    service: *service,
                    addr: *addr,
                    port: *port,
                })
            }
            Command::Zero(key) => {
                if let Some(k) = key {
                    self.service_index(k).ok_or(AdminError::NoSuchService)?;
                }
                Ok(Applied::Zeroed(*key))
            }
            Command::SetTimeouts(t) => {
                // A 0 keeps the current value, as with IPVS.
                let keep = |new: u32, old: u32| if new == 0 { old } else { new };
                self.timeouts = Timeouts {
                    tcp: keep(t.tcp, self.timeouts.tcp),
                    tcpfin: keep(t.tcpfin, self.timeouts.tcpfin),
                    udp: keep(t.udp, self.timeouts.udp),
                };
                Ok(Applied::TimeoutsSet(self.timeouts))
            }
            Command::StartDaemon(daemon) => {
                if self.daemons.iter().any(|d| d.state == daemon.state) {
                    return Err(AdminError::DaemonRunning);
                }
                self.daemons.push(daemon.clone());
                self.daemons.sort_by_key(|d| d.state);
                Ok(Applied::DaemonStarted(daemon.state))
            }
            Command::StopDaemon(state) => {
                let stopping: Vec<SyncState> = self
                    .daemons
                    .iter()
                    .map(|d| d.state)
                    .filter(|s| state.is_none_or(|want| want == *s))
                    .collect();
                if stopping.is_empty() {
                    return Err(AdminError::NoDaemon);
                }
                self.daemons.retain(|d| !stopping.contains(&d.state));
                Ok(Applied::DaemonsStopped(stopping))
            }
            other => Err(AdminError::NotAChange(format!(
                "the '{}' command",
                other.name()
            ))),
        }
    }

    fn add_service(&mut self, spec: &ServiceSpec) -> Result<Applied, AdminError> {
        if self.service_index(&spec.key).is_some() {
            return Err(AdminError::ServiceExists);
        }
        let config = spec.to_config()?;
        check_service(&config)?;
        self.services.push(VirtualService {
            config,
            dests: Vec::new(),
        });
        Ok(Applied::ServiceAdded(spec.key))
    }

    fn edit_service(&mut self, spec: &ServiceSpec) -> Result<Applied, AdminError> {
        let i = self
            .service_index(&spec.key)
            .ok_or(AdminError::NoSuchService)?;
        let config = spec.to_config()?;
        check_service(&config)?;
        // Real servers that a new service setting would make invalid are not
        // an issue: the key (family, port) cannot change with -E.
        self.services[i].config = config;
        Ok(Applied::ServiceEdited(spec.key))
    }

    fn add_dest(&mut self, service: &ServiceKey, dest: &DestConfig) -> Result<Applied, AdminError> {
        let si = self
            .service_index(service)
            .ok_or(AdminError::ServiceNotDefined)?;
        let vs = &mut self.services[si];
        check_dest(&vs.config, dest)?;
        if vs
            .dests
            .iter()
            .any(|d| d.addr == dest.addr && d.port == dest.port)
        {
            return Err(AdminError::DestExists);
        }
        if !is_unicast(&dest.addr) {
            return Err(invalid("real server address is not unicast"));
        }
        vs.dests.push(dest.clone());
        Ok(Applied::DestAdded {
            service: *service,
            addr: dest.addr,
            port: dest.port,
        })
    }

    fn edit_dest(
        &mut self,
        service: &ServiceKey,
        dest: &DestConfig,
    ) -> Result<Applied, AdminError> {
        let si = self
            .service_index(service)
            .ok_or(AdminError::ServiceNotDefined)?;
        let vs = &mut self.services[si];
        check_dest(&vs.config, dest)?;
        let existing = vs
            .dests
            .iter_mut()
            .find(|d| d.addr == dest.addr && d.port == dest.port)
            .ok_or(AdminError::NoSuchDest)?;
        *existing = dest.clone();
        Ok(Applied::DestEdited {
            service: *service,
            addr: dest.addr,
            port: dest.port,
        })
    }

    /// Applies a batch atomically: all commands, or (on the first failure) none.
    pub fn apply_all(&mut self, commands: &[Command]) -> Result<Vec<Applied>, BatchError> {
        let mut next = self.clone();
        let mut applied = Vec::with_capacity(commands.len());
        for (index, command) in commands.iter().enumerate() {
            match next.apply(command) {
                Ok(a) => applied.push(a),
                Err(error) => return Err(BatchError { index, error }),
            }
        }
        *self = next;
        Ok(applied)
    }

    /// The same table in ipvsadm's listing order (services, and the real servers
    /// of each, sorted as `ipvsadm -L` and `-S` sort them).
    pub fn sorted(&self) -> Config {
        let mut services: Vec<&VirtualService> = self.services.iter().collect();
        order::sort_by(&mut services, |a, b| {
            order::compare_services(&a.config.key, &b.config.key)
        });
        Config {
            services: services
                .into_iter()
                .map(|vs| {
                    let mut dests: Vec<&DestConfig> = vs.dests.iter().collect();
                    order::sort_by(&mut dests, |a, b| {
                        order::compare_dests(a.addr, a.port, b.addr, b.port)
                    });
                    VirtualService {
                        config: vs.config.clone(),
                        dests: dests.into_iter().cloned().collect(),
                    }
                })
                .collect(),
            timeouts: self.timeouts,
            daemons: self.daemons.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rvs_core::{Persistence, SchedFlags};

    fn tcp(addr: &str, port: u16) -> ServiceKey {
        ServiceKey::Addr {
            proto: Protocol::Tcp,
            addr: addr.parse().unwrap(),
            port,
        }
    }

    fn spec(key: ServiceKey, sched: &str) -> ServiceSpec {
        ServiceSpec {
            key,
            scheduler: sched.into(),
            sched_flags: SchedFlags::default(),
            persistence: None,
            one_packet: false,
        }
    }

    fn dest(addr: &str, port: u16, method: ForwardMethod, weight: u32) -> DestConfig {
        DestConfig {
            addr: addr.parse().unwrap(),
            port,
            method,
            weight,
            u_threshold: 0,
            l_threshold: 0,
        }
    }

    fn vip() -> ServiceKey {
        tcp("192.0.2.10", 80)
    }

    fn base() -> Config {
        let mut c = Config::new();
        c.apply(&Command::AddService(spec(vip(), "wrr"))).unwrap();
        c.apply(&Command::AddDest {
            service: vip(),
            dest: dest("198.51.100.11", 80, ForwardMethod::Masq, 1),
        })
        .unwrap();
        c
    }

    #[test]
    fn add_service_and_dest() {
        let c = base();
        assert_eq!(c.services.len(), 1);
        assert_eq!(c.services[0].config.scheduler, rvs_core::SchedulerKind::Wrr);
        assert_eq!(c.services[0].dests.len(), 1);
    }

    #[test]
    fn add_service_errors_change_nothing() {
        let mut c = base();
        let before = c.clone();
        assert_eq!(
            c.apply(&Command::AddService(spec(vip(), "wlc"))),
            Err(AdminError::ServiceExists)
        );
        assert_eq!(
            c.apply(&Command::AddService(spec(tcp("192.0.2.11", 80), "nosuch"))),
            Err(AdminError::SchedulerNotFound("nosuch".into()))
        );
        assert_eq!(c, before);
    }

    #[test]
    fn exists_is_checked_before_the_scheduler() {
        let mut c = base();
        assert_eq!(
            c.apply(&Command::AddService(spec(vip(), "nosuch"))),
            Err(AdminError::ServiceExists)
        );
    }

    #[test]
    fn edit_service_replaces_settings_and_keeps_dests() {
        let mut c = base();
        let mut s = spec(vip(), "rr");
        s.persistence = Some(Persistence {
            timeout_secs: 600,
            prefix_len: 24,
        });
        assert_eq!(
            c.apply(&Command::EditService(s)),
            Ok(Applied::ServiceEdited(vip()))
        );
        assert_eq!(c.services[0].config.scheduler, rvs_core::SchedulerKind::Rr);
        assert_eq!(c.services[0].config.persistence.unwrap().timeout_secs, 600);
        assert_eq!(c.services[0].dests.len(), 1);
        assert_eq!(
            c.apply(&Command::EditService(spec(tcp("192.0.2.99", 80), "rr"))),
            Err(AdminError::NoSuchService)
        );
        assert_eq!(
            c.apply(&Command::EditService(spec(vip(), "bogus"))),
            Err(AdminError::SchedulerNotFound("bogus".into()))
        );
    }

    #[test]
    fn delete_and_clear() {
        let mut c = base();
        assert_eq!(
            c.apply(&Command::DeleteService(tcp("192.0.2.99", 80))),
            Err(AdminError::NoSuchService)
        );
        assert_eq!(
            c.apply(&Command::DeleteService(vip())),
            Ok(Applied::ServiceDeleted(vip()))
        );
        assert!(c.services.is_empty());
        let mut c = base();
        assert_eq!(c.apply(&Command::Clear), Ok(Applied::Cleared));
        assert!(c.services.is_empty());
        assert_eq!(c.apply(&Command::Clear), Ok(Applied::Cleared));
    }

    #[test]
    fn dest_errors() {
        let mut c = base();
        let before = c.clone();
        let other = tcp("192.0.2.99", 80);
        let d = dest("198.51.100.12", 80, ForwardMethod::Masq, 1);
        assert_eq!(
            c.apply(&Command::AddDest {
                service: other,
                dest: d.clone()
            }),
            Err(AdminError::ServiceNotDefined)
        );
        assert_eq!(
            c.apply(&Command::EditDest {
                service: other,
                dest: d.clone()
            }),
            Err(AdminError::ServiceNotDefined)
        );
        assert_eq!(
            c.apply(&Command::DeleteDest {
                service: other,
                addr: d.addr,
                port: 80
            }),
            Err(AdminError::ServiceNotDefined)
        );
        assert_eq!(
            c.apply(&Command::AddDest {
                service: vip(),
                dest: dest("198.51.100.11", 80, ForwardMethod::Masq, 5)
            }),
            Err(AdminError::DestExists)
        );
        assert_eq!(
            c.apply(&Command::EditDest {
                service: vip(),
                dest: d.clone()
            }),
            Err(AdminError::NoSuchDest)
        );
        assert_eq!(
            c.apply(&Command::DeleteDest {
                service: vip(),
                addr: d.addr,
                port: 80
            }),
            Err(AdminError::NoSuchDest)
        );
        // Same address, other port: a different real server.
        assert_eq!(
            c.apply(&Command::DeleteDest {
                service: vip(),
                addr: "198.51.100.11".parse().unwrap(),
                port: 81
            }),
            Err(AdminError::NoSuchDest)
        );
        assert_eq!(c, before);
    }

    #[test]
    fn edit_and_delete_dest() {
        let mut c = base();
        let mut d = dest("198.51.100.11", 80, ForwardMethod::Route, 7);
        d.u_threshold = 100;
        d.l_threshold = 50;
        assert!(c
            .apply(&Command::EditDest {
                service: vip(),
                dest: d.clone()
            })
            .is_ok());
        assert_eq!(c.services[0].dests[0], d);
        assert!(c
            .apply(&Command::DeleteDest {
                service: vip(),
                addr: d.addr,
                port: 80
            })
            .is_ok());
        assert!(c.services[0].dests.is_empty());
    }

    #[test]
    fn dest_value_checks() {
        let mut c = base();
        let mut d = dest("198.51.100.12", 80, ForwardMethod::Masq, 1);
        d.l_threshold = 10;
        assert!(matches!(
            c.apply(&Command::AddDest {
                service: vip(),
                dest: d.clone()
            }),
            Err(AdminError::OutOfRange(_))
        ));
        d.u_threshold = 5;
        assert!(matches!(
            c.apply(&Command::AddDest {
                service: vip(),
                dest: d.clone()
            }),
            Err(AdminError::OutOfRange(_))
        ));
        d.u_threshold = 10;
        assert!(c
            .apply(&Command::AddDest {
                service: vip(),
                dest: d
            })
            .is_ok());

        let heavy = dest("198.51.100.13", 80, ForwardMethod::Masq, 65536);
        assert!(matches!(
            c.apply(&Command::AddDest {
                service: vip(),
                dest: heavy
            }),
            Err(AdminError::OutOfRange(_))
        ));
        for bad in ["0.0.0.0", "255.255.255.255", "224.0.0.1"] {
            let d = dest(bad, 80, ForwardMethod::Masq, 1);
            assert!(
                matches!(
                    c.apply(&Command::AddDest {
                        service: vip(),
                        dest: d
                    }),
                    Err(AdminError::Invalid(_))
                ),
                "{bad}"
            );
        }
        let v6 = dest("2001:db8::1", 80, ForwardMethod::Masq, 1);
        assert!(matches!(
            c.apply(&Command::AddDest {
                service: vip(),
                dest: v6
            }),
            Err(AdminError::Invalid(_))
        ));
        let v6_tunnel = dest("2001:db8::1", 80, ForwardMethod::Tunnel, 1);
        assert!(c
            .apply(&Command::AddDest {
                service: vip(),
                dest: v6_tunnel
            })
            .is_ok());
        let dr_other_port = dest("198.51.100.14", 8080, ForwardMethod::Route, 1);
        assert!(matches!(
            c.apply(&Command::AddDest {
                service: vip(),
                dest: dr_other_port
            }),
            Err(AdminError::Invalid(_))
        ));
    }

    #[test]
    fn ipv6_dest_checks() {
        let key = ServiceKey::Addr {
            proto: Protocol::Tcp,
            addr: "2001:db8::10".parse().unwrap(),
            port: 80,
        };
        let mut c = Config::new();
        c.apply(&Command::AddService(spec(key, "wlc"))).unwrap();
        for bad in ["::", "ff02::1", "fe80::1", "::ffff:198.51.100.1"] {
            let d = dest(bad, 80, ForwardMethod::Masq, 1);
            assert!(
                matches!(
                    c.apply(&Command::AddDest {
                        service: key,
                        dest: d
                    }),
                    Err(AdminError::Invalid(_))
                ),
                "{bad}"
            );
        }
        assert!(c
            .apply(&Command::AddDest {
                service: key,
                dest: dest("2001:db8::11", 80, ForwardMethod::Masq, 1)
            })
            .is_ok());
    }

    #[test]
    fn service_value_checks() {
        let mut c = Config::new();
        let zero_port = tcp("192.0.2.10", 0);
        assert!(matches!(
            c.apply(&Command::AddService(spec(zero_port, "wlc"))),
            Err(AdminError::Invalid(_))
        ));
        let mut persistent = spec(zero_port, "wlc");
        persistent.persistence = Some(Persistence {
            timeout_secs: 300,
            prefix_len: 32,
        });
        assert!(c.apply(&Command::AddService(persistent)).is_ok());

        let mut ops = spec(vip(), "rr");
        ops.one_packet = true;
        assert!(matches!(
            c.apply(&Command::AddService(ops.clone())),
            Err(AdminError::Invalid(_))
        ));
        ops.key = ServiceKey::Addr {
            proto: Protocol::Udp,
            addr: "192.0.2.10".parse().unwrap(),
            port: 53,
        };
        assert!(c.apply(&Command::AddService(ops)).is_ok());

        let v6 = ServiceKey::Addr {
            proto: Protocol::Tcp,
            addr: "2001:db8::10".parse().unwrap(),
            port: 443,
        };
        let mut bad_prefix = spec(v6, "wlc");
        bad_prefix.persistence = Some(Persistence {
            timeout_secs: 300,
            prefix_len: 0,
        });
        assert!(matches!(
            c.apply(&Command::AddService(bad_prefix)),
            Err(AdminError::Invalid(_))
        ));

        let mark0 = ServiceKey::FwMark {
            mark: 0,
            family: Family::V4,
        };
        assert!(matches!(
            c.apply(&Command::AddService(spec(mark0, "wlc"))),
            Err(AdminError::Invalid(_))
        ));
    }

    #[test]
    fn zero_checks_the_service() {
        let mut c = base();
        assert_eq!(c.apply(&Command::Zero(None)), Ok(Applied::Zeroed(None)));
        assert_eq!(
            c.apply(&Command::Zero(Some(vip()))),
            Ok(Applied::Zeroed(Some(vip())))
        );
        assert_eq!(
            c.apply(&Command::Zero(Some(tcp("192.0.2.99", 80)))),
            Err(AdminError::NoSuchService)
        );
    }

    #[test]
    fn timeouts_zero_keeps_value() {
        let mut c = Config::new();
        assert_eq!(
            c.timeouts,
            Timeouts {
                tcp: 900,
                tcpfin: 120,
                udp: 300
            }
        );
        c.apply(&Command::SetTimeouts(Timeouts {
            tcp: 3600,
            tcpfin: 0,
            udp: 60,
        }))
        .unwrap();
        assert_eq!(
            c.timeouts,
            Timeouts {
                tcp: 3600,
                tcpfin: 120,
                udp: 60
            }
        );
    }

    #[test]
    fn daemons() {
        let mut c = Config::new();
        assert_eq!(
            c.apply(&Command::StopDaemon(None)),
            Err(AdminError::NoDaemon)
        );
        c.apply(&Command::StartDaemon(SyncDaemonConfig::new(
            SyncState::Backup,
        )))
        .unwrap();
        c.apply(&Command::StartDaemon(SyncDaemonConfig::new(
            SyncState::Master,
        )))
        .unwrap();
        assert_eq!(c.daemons[0].state, SyncState::Master, "master listed first");
        assert_eq!(
            c.apply(&Command::StartDaemon(SyncDaemonConfig::new(
                SyncState::Master
            ))),
            Err(AdminError::DaemonRunning)
        );
        assert_eq!(
            c.apply(&Command::StopDaemon(Some(SyncState::Master))),
            Ok(Applied::DaemonsStopped(vec![SyncState::Master]))
        );
        assert_eq!(
            c.apply(&Command::StopDaemon(Some(SyncState::Master))),
            Err(AdminError::NoDaemon)
        );
        assert_eq!(
            c.apply(&Command::StopDaemon(None)),
            Ok(Applied::DaemonsStopped(vec![SyncState::Backup]))
        );
        assert!(c.daemons.is_empty());
    }

    #[test]
    fn non_changes_are_refused() {
        let mut c = Config::new();
        assert!(matches!(
            c.apply(&Command::Restore),
            Err(AdminError::NotAChange(_))
        ));
        assert!(matches!(
            c.apply(&Command::Save { numeric: true }),
            Err(AdminError::NotAChange(_))
        ));
    }

    #[test]
    fn batch_is_atomic() {
        let mut c = base();
        let before = c.clone();
        let batch = vec![
            Command::AddService(spec(tcp("192.0.2.20", 443), "rr")),
            Command::AddDest {
                service: tcp("192.0.2.20", 443),
                dest: dest("198.51.100.21", 443, ForwardMethod::Masq, 1),
            },
            Command::AddService(spec(vip(), "rr")),
        ];
        assert_eq!(
            c.apply_all(&batch),
            Err(BatchError {
                index: 2,
                error: AdminError::ServiceExists
            })
        );
        assert_eq!(c, before);
        assert_eq!(c.apply_all(&batch[..2]).map(|a| a.len()), Ok(2));
        assert_eq!(c.services.len(), 2);
    }

    #[test]
    fn sorted_order() {
        let mut c = Config::new();
        for (addr, port) in [("192.0.2.20", 80), ("192.0.2.10", 443), ("192.0.2.10", 80)] {
            c.apply(&Command::AddService(spec(tcp(addr, port), "wlc")))
                .unwrap();
        }
        let fw = ServiceKey::FwMark {
            mark: 1,
            family: Family::V4,
        };
        c.services.insert(
            0,
            VirtualService {
                config: spec(fw, "wlc").to_config().unwrap(),
                dests: vec![],
            },
        );
        let keys: Vec<ServiceKey> = c.sorted().services.iter().map(|s| s.config.key).collect();
        assert_eq!(
            keys,
            vec![
                tcp("192.0.2.10", 80),
                tcp("192.0.2.10", 443),
                tcp("192.0.2.20", 80),
                fw
            ]
        );
    }
}
