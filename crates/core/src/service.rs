//! The service table: virtual services, their real servers, the director's ports and
//! routes, and settings, published to the data plane as an immutable [`Snapshot`]
//! that is swapped atomically (RCU style). The control plane owns a
//! [`ServiceTable`] and reconciles it with the desired configuration: unchanged
//! services and real servers keep their identity, counters and connections; removed
//! real servers stay (unavailable) until their last connection ends, as in IPVS.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::conn::Timeouts;
use crate::dest::{Dest, DestId};
use crate::model::{DestConfig, Family, ForwardMethod, Protocol, ServiceConfig, ServiceKey};
use crate::time::Time;

/// Index of a virtual service (stable while the service exists).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServiceId(pub u32);

/// Index of one of the director's network ports (interfaces), as the caller numbers them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PortId(pub u8);

/// An address with a prefix length (an interface address or a route's destination).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct IpNet {
    pub addr: IpAddr,
    pub prefix_len: u8,
}

impl IpNet {
    pub fn new(addr: IpAddr, prefix_len: u8) -> IpNet {
        IpNet { addr, prefix_len }
    }
    pub fn contains(&self, ip: &IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let bits = self.prefix_len.min(32) as u32;
                let mask = if bits == 0 {
                    0
                } else {
                    u32::MAX << (32 - bits)
                };
                u32::from(n) & mask == u32::from(*a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let bits = self.prefix_len.min(128) as u32;
                let mask = if bits == 0 {
                    0
                } else {
                    u128::MAX << (128 - bits)
                };
                u128::from(n) & mask == u128::from(*a) & mask
            }
            _ => false,
        }
    }
}

/// A network port of the director.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortConfig {
    pub id: PortId,
    pub name: String,
    pub mac: [u8; 6],
    pub mtu: u16,
    /// The director's own addresses on this port (DIPs), with their subnets.
    pub addrs: Vec<IpNet>,
}

/// A route: destinations in `dest` leave through `port`, via `gateway` if any.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    pub dest: IpNet,
    pub port: PortId,
    pub gateway: Option<IpAddr>,
}

/// Classifies packets into a firewall mark (what `iptables -t mangle ... -j MARK`
/// does for kernel IPVS): packets to `dest` (and a port range, if given) of `proto`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FwMarkRule {
    pub mark: u32,
    pub proto: Option<Protocol>,
    pub dest: IpNet,
    pub ports: Option<(u16, u16)>,
}

/// Director-wide settings (IPVS sysctls and our own).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    pub timeouts: Timeouts,
    /// Expire a connection at its next packet when its real server was removed
    /// (IPVS `expire_nodest_conn`); otherwise it continues.
    pub expire_nodest_conn: bool,
    /// Invalidate persistence templates pointing at a quiescent (weight 0) real
    /// server, so persistent clients move on (IPVS `expire_quiescent_template`).
    pub expire_quiescent_template: bool,
    /// A SYN for a connection in TIME_WAIT/CLOSE schedules a new connection
    /// (IPVS `conn_reuse_mode` 1).
    pub conn_reuse: bool,
    /// Create TCP connections from non-SYN packets too (IPVS `sloppy_tcp`).
    pub sloppy_tcp: bool,
    /// Answer ARP / neighbour solicitations for VIPs.
    pub answer_arp: bool,
    /// Answer ICMP echo requests to VIPs.
    pub answer_ping: bool,
    /// Tell a client "port unreachable" when a service has no real server left
    /// (what IPVS does).
    pub icmp_when_no_dest: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            timeouts: Timeouts::default(),
            expire_nodest_conn: false,
            expire_quiescent_template: false,
            conn_reuse: true,
            sloppy_tcp: false,
            answer_arp: true,
            answer_ping: true,
            icmp_when_no_dest: true,
        }
    }
}

/// A virtual service as the data plane sees it.
#[derive(Debug)]
pub struct Service {
    pub id: ServiceId,
    pub config: ServiceConfig,
    /// Its available real servers, in the order they were added.
    pub dests: Vec<Arc<Dest>>,
    /// Changes whenever `config` or `dests` (or a weight) change: schedulers rebuild.
    pub version: u64,
}

impl Service {
    pub fn persistence_timeout(&self) -> Option<Duration> {
        self.config
            .persistence
            .map(|p| Duration::from_secs(p.timeout_secs as u64))
    }
}

/// Everything the data plane reads, immutable once published.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub generation: u64,
    services: Vec<Option<Arc<Service>>>,
    by_addr: HashMap<(Protocol, IpAddr, u16), ServiceId>,
    by_mark: HashMap<(u32, Family), ServiceId>,
    vips: HashSet<IpAddr>,
    masq_reals: HashSet<(Protocol, IpAddr, u16)>,
    dests: Vec<Option<Arc<Dest>>>,
    dest_service: Vec<u32>,
    /// Egress port and next hop of every destination, resolved once per snapshot.
    dest_routes: Vec<Option<(PortId, IpAddr)>>,
    pub ports: Vec<PortConfig>,
    routes: Vec<Route>,
    pub fwmark_rules: Vec<FwMarkRule>,
    pub settings: Settings,
}

impl Snapshot {
    pub fn services(&self) -> impl Iterator<Item = &Arc<Service>> {
        self.services.iter().flatten()
    }
    pub fn service_slots(&self) -> usize {
        self.services.len()
    }
    #[inline]
    pub fn service(&self, id: ServiceId) -> Option<&Arc<Service>> {
        self.services.get(id.0 as usize).and_then(|s| s.as_ref())
    }
    #[inline]
    pub fn dest(&self, id: DestId) -> Option<&Arc<Dest>> {
        self.dests.get(id.0 as usize).and_then(|d| d.as_ref())
    }
    /// Every destination still referenced (available or in the trash).
    pub fn dests(&self) -> impl Iterator<Item = &Arc<Dest>> {
        self.dests.iter().flatten()
    }
    /// The service a destination belongs (or belonged) to.
    #[inline]
    pub fn service_of(&self, id: DestId) -> Option<ServiceId> {
        match self.dest_service.get(id.0 as usize) {
            Some(&s) if s != u32::MAX => Some(ServiceId(s)),
            _ => None,
        }
    }
    /// Egress port and next hop towards destination `id` (precomputed [`Snapshot::route`]).
    #[inline]
    pub fn dest_route(&self, id: DestId) -> Option<(PortId, IpAddr)> {
        self.dest_routes.get(id.0 as usize).copied().flatten()
    }
    /// Is `ip` an address the director serves (a VIP of an address service)?
    #[inline]
    pub fn is_vip(&self, ip: &IpAddr) -> bool {
        self.vips.contains(ip)
    }
    pub fn has_vips(&self) -> bool {
        !self.vips.is_empty() || !self.fwmark_rules.is_empty()
    }
    /// Is `ip` one of the director's own port addresses (DIPs)? Traffic to them is
    /// the host's own (health checks, administration), never NATed.
    pub fn is_local_addr(&self, ip: &IpAddr) -> bool {
        self.ports
            .iter()
            .any(|p| p.addrs.iter().any(|n| n.addr == *ip))
    }
    /// Is `(proto, addr, port)` a NAT real server of some service (its replies must
    /// never leave un-NATed)?
    pub fn is_masq_real(&self, proto: Protocol, addr: &IpAddr, port: u16) -> bool {
        self.masq_reals.contains(&(proto, *addr, port))
            || self.masq_reals.contains(&(proto, *addr, 0))
    }
    /// The firewall mark the rules give a packet, 0 if none.
    pub fn classify(&self, proto: Protocol, dst: &IpAddr, dport: u16) -> u32 {
        for r in &self.fwmark_rules {
            if r.proto.is_some_and(|p| p != proto) || !r.dest.contains(dst) {
                continue;
            }
            if let Some((lo, hi)) = r.ports {
                if dport < lo || dport > hi {
                    continue;
                }
            }
            return r.mark;
        }
        0
    }
    /// IPVS's lookup order: a firewall-mark service first (if the packet has a mark),
    /// then protocol/VIP/port, then the port-zero ("any port") service of that VIP.
    #[inline]
    pub fn find_service(
        &self,
        proto: Protocol,
        dst: &IpAddr,
        dport: u16,
        mark: u32,
    ) -> Option<&Arc<Service>> {
        if mark != 0 {
            if let Some(&id) = self.by_mark.get(&(mark, Family::of(dst))) {
                return self.service(id);
            }
        }
        let id = self
            .by_addr
            .get(&(proto, *dst, dport))
            .or_else(|| self.by_addr.get(&(proto, *dst, 0)))?;
        self.service(*id)
    }
    /// Egress port and next hop for `dst`: the longest matching route, else the
    /// subnet of a port address.
    pub fn route(&self, dst: &IpAddr) -> Option<(PortId, IpAddr)> {
        // Routes are kept sorted by prefix length, longest first.
        for r in &self.routes {
            if r.dest.contains(dst) {
                return Some((r.port, r.gateway.unwrap_or(*dst)));
            }
        }
        None
    }
    pub fn port(&self, id: PortId) -> Option<&PortConfig> {
        self.ports.iter().find(|p| p.id == id)
    }
    /// The director's first address of `family` on `port` (source of tunnels and
    /// ICMP errors).
    pub fn port_addr(&self, id: PortId, family: Family) -> Option<IpAddr> {
        self.port(id)?
            .addrs
            .iter()
            .find(|n| Family::of(&n.addr) == family)
            .map(|n| n.addr)
    }
}

/// The whole desired configuration that the control plane reconciles against.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DesiredConfig {
    pub services: Vec<(ServiceConfig, Vec<DestConfig>)>,
    pub ports: Vec<PortConfig>,
    /// Extra routes (the ports' connected subnets are added automatically).
    pub routes: Vec<Route>,
    pub fwmark_rules: Vec<FwMarkRule>,
    pub settings: Settings,
}

/// Why a desired configuration cannot be applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TableError {
    DuplicateService(ServiceKey),
    DuplicateDest(ServiceKey, IpAddr, u16),
    FamilyMismatch(ServiceKey, IpAddr),
    TooManyServices(usize),
    TooManyDests(usize),
}

impl std::fmt::Display for TableError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TableError::DuplicateService(k) => write!(f, "service {k:?} defined twice"),
            TableError::DuplicateDest(k, a, p) => {
                write!(f, "real server {a} port {p} defined twice in service {k:?}")
            }
            TableError::FamilyMismatch(k, a) => write!(
                f,
                "real server {a} is not of the address family of service {k:?}"
            ),
            TableError::TooManyServices(n) => write!(f, "more than {n} virtual services"),
            TableError::TooManyDests(n) => write!(f, "more than {n} real servers"),
        }
    }
}

impl std::error::Error for TableError {}

/// Capacity limits (they size the per-shard counter arrays).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub max_services: usize,
    pub max_dests: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_services: 1024,
            max_dests: 16384,
        }
    }
}

/// Ids freed at some generation, reusable once shards cannot still hold them.
const QUARANTINE_GENERATIONS: u64 = 2;
const QUARANTINE: Duration = Duration::from_secs(10);

struct SvcEntry {
    service: Arc<Service>,
}

/// What a reconcile changed (the caller zeroes counters of reused ids).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Changes {
    pub new_services: Vec<ServiceId>,
    pub new_dests: Vec<DestId>,
    pub removed_services: Vec<ServiceId>,
    pub removed_dests: Vec<DestId>,
}

/// The control plane's mutable service table.
pub struct ServiceTable {
    limits: Limits,
    generation: u64,
    version: u64,
    services: Vec<Option<SvcEntry>>,
    svc_free: Vec<(u32, u64, Time)>,
    /// Registry of every destination still referenced, by id.
    dests: Vec<Option<Arc<Dest>>>,
    dest_service: Vec<u32>,
    /// Service key + real server address/port of every registered destination.
    dest_keys: HashMap<(ServiceKey, IpAddr, u16), DestId>,
    dest_free: Vec<(u32, u64, Time)>,
    current: Arc<Snapshot>,
}

impl ServiceTable {
    pub fn new(limits: Limits) -> ServiceTable {
        ServiceTable {
            limits,
            generation: 0,
            version: 0,
            services: Vec::new(),
            svc_free: Vec::new(),
            dests: Vec::new(),
            dest_service: Vec::new(),
            dest_keys: HashMap::new(),
            dest_free: Vec::new(),
            current: Arc::new(Snapshot::default()),
        }
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// The last published snapshot.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current.clone()
    }

    fn alloc_id(
        free: &mut Vec<(u32, u64, Time)>,
        used: usize,
        max: usize,
        generation: u64,
        now: Time,
    ) -> Option<u32> {
        if let Some(pos) = free.iter().position(|&(_, g, t)| {
            generation >= g + QUARANTINE_GENERATIONS && now.since(t) >= QUARANTINE
        }) {
            return Some(free.remove(pos).0);
        }
        (used < max).then_some(used as u32)
    }

    /// Make the table match `want`, publish and return the new snapshot. A failing
    /// configuration changes nothing.
    pub fn reconcile(
        &mut self,
        want: &DesiredConfig,
        now: Time,
    ) -> Result<(Arc<Snapshot>, Changes), TableError> {
        // Validate first so that an error changes nothing.
        let mut keys = HashSet::new();
        let mut ndests = 0usize;
        for (svc, dests) in &want.services {
            if !keys.insert(svc.key) {
                return Err(TableError::DuplicateService(svc.key));
            }
            let mut seen = HashSet::new();
            for d in dests {
                if Family::of(&d.addr) != svc.key.family() {
                    return Err(TableError::FamilyMismatch(svc.key, d.addr));
                }
                if !seen.insert((d.addr, d.port)) {
                    return Err(TableError::DuplicateDest(svc.key, d.addr, d.port));
                }
            }
            ndests += dests.len();
        }
        if want.services.len() > self.limits.max_services {
            return Err(TableError::TooManyServices(self.limits.max_services));
        }
        let live_dests = self.dests.iter().flatten().count();
        if ndests > self.limits.max_dests || live_dests + ndests > self.limits.max_dests * 2 {
            return Err(TableError::TooManyDests(self.limits.max_dests));
        }

        self.generation += 1;
        let generation = self.generation;
        let mut changes = Changes::default();

        // Services that disappear: their destinations go to the trash.
        let wanted: HashSet<ServiceKey> = keys;
        for slot in 0..self.services.len() {
            let gone = match &self.services[slot] {
                Some(e) => !wanted.contains(&e.service.config.key),
                None => false,
            };
            if gone {
                if let Some(e) = self.services[slot].take() {
                    for d in &e.service.dests {
                        d.set_available(false);
                    }
                    self.svc_free.push((slot as u32, generation, now));
                    changes.removed_services.push(ServiceId(slot as u32));
                }
            }
        }

        for (cfg, dcfgs) in &want.services {
            let existing = self
                .services
                .iter()
                .position(|e| e.as_ref().is_some_and(|e| e.service.config.key == cfg.key));
            let id = match existing {
                Some(i) => i as u32,
                None => {
                    let id = Self::alloc_id(
                        &mut self.svc_free,
                        self.services.len(),
                        self.limits.max_services,
                        generation,
                        now,
                    )
                    .ok_or(TableError::TooManyServices(self.limits.max_services))?;
                    if id as usize >= self.services.len() {
                        self.services.resize_with(id as usize + 1, || None);
                    }
                    changes.new_services.push(ServiceId(id));
                    id
                }
            };
            let old = self.services[id as usize].take();
            let mut list = Vec::with_capacity(dcfgs.len());
            let mut changed = old.is_none();
            if let Some(o) = &old {
                changed |= o.service.config != *cfg;
            }
            for dc in dcfgs {
                let k = (cfg.key, dc.addr, dc.port);
                let dest = match self
                    .dest_keys
                    .get(&k)
                    .and_then(|id| self.dests[id.0 as usize].clone())
                {
                    Some(d) => {
                        let before = (
                            d.method(),
                            d.weight(),
                            d.u_threshold(),
                            d.l_threshold(),
                            d.is_available(),
                        );
                        d.apply(dc);
                        d.set_available(true);
                        let after = (
                            d.method(),
                            d.weight(),
                            d.u_threshold(),
                            d.l_threshold(),
                            true,
                        );
                        changed |= before != after;
                        d
                    }
                    None => {
                        let did = Self::alloc_id(
                            &mut self.dest_free,
                            self.dests.len(),
                            self.limits.max_dests * 2,
                            generation,
                            now,
                        )
                        .ok_or(TableError::TooManyDests(self.limits.max_dests))?;
                        if did as usize >= self.dests.len() {
                            self.dests.resize_with(did as usize + 1, || None);
                            self.dest_service.resize(did as usize + 1, u32::MAX);
                        }
                        let d = Arc::new(Dest::new(DestId(did), dc));
                        self.dests[did as usize] = Some(d.clone());
                        self.dest_service[did as usize] = id;
                        self.dest_keys.insert(k, DestId(did));
                        changes.new_dests.push(DestId(did));
                        changed = true;
                        d
                    }
                };
                list.push(dest);
            }
            // Destinations dropped from this service go to the trash.
            if let Some(o) = &old {
                for d in &o.service.dests {
                    if !list.iter().any(|n| Arc::ptr_eq(n, d)) {
                        d.set_available(false);
                        changed = true;
                    }
                }
            }
            let service = match old {
                Some(o) if !changed => o.service,
                _ => {
                    self.version += 1;
                    Arc::new(Service {
                        id: ServiceId(id),
                        config: cfg.clone(),
                        dests: list,
                        version: self.version,
                    })
                }
            };
            self.services[id as usize] = Some(SvcEntry { service });
        }

        self.collect_garbage_inner(now, &mut changes);
        let snap = self.publish(want);
        Ok((snap, changes))
    }

    /// Drop trashed destinations that no connection refers to any more; call now and
    /// then (the daemon does it every few seconds). Publishes a new snapshot if
    /// anything was dropped.
    pub fn collect_garbage(&mut self, now: Time) -> Option<(Arc<Snapshot>, Changes)> {
        let mut changes = Changes::default();
        self.collect_garbage_inner(now, &mut changes);
        if changes.removed_dests.is_empty() {
            return None;
        }
        self.generation += 1;
        let cur = self.current.clone();
        let want = DesiredConfig {
            services: Vec::new(),
            ports: cur.ports.clone(),
            routes: cur.routes.clone(),
            fwmark_rules: cur.fwmark_rules.clone(),
            settings: cur.settings.clone(),
        };
        Some((self.publish_with_routes(&want, false), changes))
    }

    fn collect_garbage_inner(&mut self, now: Time, changes: &mut Changes) {
        let generation = self.generation;
        for i in 0..self.dests.len() {
            let drop = matches!(&self.dests[i], Some(d) if !d.is_available() && d.refs() == 0);
            if drop {
                if let Some(d) = self.dests[i].take() {
                    self.dest_keys.retain(|_, v| *v != d.id());
                    self.dest_service[i] = u32::MAX;
                    self.dest_free.push((i as u32, generation, now));
                    changes.removed_dests.push(d.id());
                }
            }
        }
    }

    fn publish(&mut self, want: &DesiredConfig) -> Arc<Snapshot> {
        self.publish_with_routes(want, true)
    }

    fn publish_with_routes(&mut self, want: &DesiredConfig, connected: bool) -> Arc<Snapshot> {
        let mut snap = Snapshot {
            generation: self.generation,
            services: self
                .services
                .iter()
                .map(|e| e.as_ref().map(|e| e.service.clone()))
                .collect(),
            dests: self.dests.clone(),
            dest_service: self.dest_service.clone(),
            ports: want.ports.clone(),
            fwmark_rules: want.fwmark_rules.clone(),
            settings: want.settings.clone(),
            ..Default::default()
        };
        let mut routes = want.routes.clone();
        if connected {
            for p in &want.ports {
                for a in &p.addrs {
                    routes.push(Route {
                        dest: IpNet::new(a.addr, a.prefix_len),
                        port: p.id,
                        gateway: None,
                    });
                }
            }
        }
        // Longest prefix first; stable so that earlier routes win ties.
        routes.sort_by_key(|r| std::cmp::Reverse(r.dest.prefix_len));
        routes.dedup();
        snap.routes = routes;
        snap.dest_routes = snap
            .dests
            .iter()
            .map(|d| d.as_ref().and_then(|d| snap.route(&d.addr())))
            .collect();
        for s in snap.services.iter().flatten() {
            match s.config.key {
                ServiceKey::Addr { proto, addr, port } => {
                    snap.by_addr.insert((proto, addr, port), s.id);
                    snap.vips.insert(addr);
                }
                ServiceKey::FwMark { mark, family } => {
                    snap.by_mark.insert((mark, family), s.id);
                }
            }
            for d in &s.dests {
                if d.method() == ForwardMethod::Masq {
                    let protos: &[Protocol] = match s.config.key {
                        ServiceKey::Addr { proto, .. } => match proto {
                            Protocol::Tcp => &[Protocol::Tcp],
                            Protocol::Udp => &[Protocol::Udp],
                        },
                        ServiceKey::FwMark { .. } => &[Protocol::Tcp, Protocol::Udp],
                    };
                    for p in protos {
                        snap.masq_reals.insert((*p, d.addr(), d.port()));
                    }
                }
            }
        }
        let snap = Arc::new(snap);
        self.current = snap.clone();
        snap
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{SchedFlags, SchedulerKind};

    fn svc(port: u16) -> ServiceConfig {
        ServiceConfig {
            key: ServiceKey::Addr {
                proto: Protocol::Tcp,
                addr: "192.0.2.10".parse().unwrap(),
                port,
            },
            scheduler: SchedulerKind::Wrr,
            sched_flags: SchedFlags::default(),
            persistence: None,
            one_packet: false,
        }
    }

    fn real(last: u8, weight: u32) -> DestConfig {
        DestConfig {
            addr: format!("198.51.100.{last}").parse().unwrap(),
            port: 80,
            method: ForwardMethod::Masq,
            weight,
            u_threshold: 0,
            l_threshold: 0,
        }
    }

    fn desired(services: Vec<(ServiceConfig, Vec<DestConfig>)>) -> DesiredConfig {
        DesiredConfig {
            services,
            ports: vec![PortConfig {
                id: PortId(1),
                name: "eth1".into(),
                mac: [2, 0, 0, 0, 0, 1],
                mtu: 1500,
                addrs: vec![IpNet::new("198.51.100.1".parse().unwrap(), 24)],
            }],
            routes: vec![Route {
                dest: IpNet::new("0.0.0.0".parse().unwrap(), 0),
                port: PortId(0),
                gateway: Some("203.0.113.254".parse().unwrap()),
            }],
            ..Default::default()
        }
    }

    #[test]
    fn lookup_order_and_routes() {
        let mut t = ServiceTable::new(Limits::default());
        let (s, _) = t
            .reconcile(
                &desired(vec![
                    (svc(80), vec![real(11, 1)]),
                    (svc(0), vec![real(12, 1)]),
                ]),
                Time::ZERO,
            )
            .unwrap();
        let vip: IpAddr = "192.0.2.10".parse().unwrap();
        assert!(s.is_vip(&vip));
        let a = s.find_service(Protocol::Tcp, &vip, 80, 0).unwrap();
        assert_eq!(a.config.key, svc(80).key);
        let b = s.find_service(Protocol::Tcp, &vip, 443, 0).unwrap();
        assert_eq!(b.config.key, svc(0).key);
        assert!(s.find_service(Protocol::Udp, &vip, 80, 0).is_none());
        let rip: IpAddr = "198.51.100.11".parse().unwrap();
        assert_eq!(s.route(&rip), Some((PortId(1), rip)));
        let client: IpAddr = "203.0.113.2".parse().unwrap();
        assert_eq!(
            s.route(&client),
            Some((PortId(0), "203.0.113.254".parse().unwrap()))
        );
        assert!(s.is_masq_real(Protocol::Tcp, &rip, 80));
        assert!(!s.is_masq_real(Protocol::Udp, &rip, 80));
    }

    #[test]
    fn reconcile_keeps_identity_and_trashes_removed() {
        let mut t = ServiceTable::new(Limits::default());
        let (s1, c1) = t
            .reconcile(
                &desired(vec![(svc(80), vec![real(11, 1), real(12, 1)])]),
                Time::ZERO,
            )
            .unwrap();
        assert_eq!(c1.new_dests.len(), 2);
        let d12 = s1.services().next().unwrap().dests[1].clone();
        d12.bind_conn(false, true); // a live connection
        let (s2, c2) = t
            .reconcile(
                &desired(vec![(svc(80), vec![real(11, 3)])]),
                Time::from_secs(1),
            )
            .unwrap();
        assert!(c2.new_dests.is_empty());
        let svc2 = s2.services().next().unwrap();
        assert_eq!(svc2.dests.len(), 1);
        assert_eq!(svc2.dests[0].weight(), 3);
        assert!(Arc::ptr_eq(
            &svc2.dests[0],
            &s1.services().next().unwrap().dests[0]
        ));
        assert!(svc2.version > s1.services().next().unwrap().version);
        // The removed one stays registered while its connection lives.
        assert!(!d12.is_available());
        assert!(s2.dest(d12.id()).is_some());
        d12.unbind_conn(false, true);
        let (s3, c3) = t.collect_garbage(Time::from_secs(2)).unwrap();
        assert_eq!(c3.removed_dests, vec![d12.id()]);
        assert!(s3.dest(d12.id()).is_none());
        // Unchanged reconcile keeps the service version.
        let v = s3.services().next().unwrap().version;
        let (s4, _) = t
            .reconcile(
                &desired(vec![(svc(80), vec![real(11, 3)])]),
                Time::from_secs(3),
            )
            .unwrap();
        assert_eq!(s4.services().next().unwrap().version, v);
    }

    #[test]
    fn readding_a_trashed_dest_revives_it() {
        let mut t = ServiceTable::new(Limits::default());
        let (s1, _) = t
            .reconcile(&desired(vec![(svc(80), vec![real(11, 1)])]), Time::ZERO)
            .unwrap();
        let d = s1.services().next().unwrap().dests[0].clone();
        d.bind_conn(false, false);
        t.reconcile(&desired(vec![(svc(80), vec![])]), Time::ZERO)
            .unwrap();
        assert!(!d.is_available());
        let (s3, c3) = t
            .reconcile(&desired(vec![(svc(80), vec![real(11, 1)])]), Time::ZERO)
            .unwrap();
        assert!(c3.new_dests.is_empty());
        assert!(Arc::ptr_eq(&s3.services().next().unwrap().dests[0], &d));
        assert!(d.is_available());
        assert_eq!(d.inactive_conns(), 1);
    }

    #[test]
    fn bad_config_changes_nothing() {
        let mut t = ServiceTable::new(Limits::default());
        let (s1, _) = t
            .reconcile(&desired(vec![(svc(80), vec![real(11, 1)])]), Time::ZERO)
            .unwrap();
        let err = t
            .reconcile(
                &desired(vec![(svc(80), vec![real(11, 1), real(11, 2)])]),
                Time::ZERO,
            )
            .unwrap_err();
        assert!(matches!(err, TableError::DuplicateDest(..)));
        assert!(Arc::ptr_eq(&t.snapshot(), &s1));
        let mut v6 = real(11, 1);
        v6.addr = "2001:db8::11".parse().unwrap();
        assert!(matches!(
            t.reconcile(&desired(vec![(svc(80), vec![v6])]), Time::ZERO),
            Err(TableError::FamilyMismatch(..))
        ));
    }

    #[test]
    fn fwmark_classification() {
        let mut t = ServiceTable::new(Limits::default());
        let mut d = desired(vec![(
            ServiceConfig {
                key: ServiceKey::FwMark {
                    mark: 7,
                    family: Family::V4,
                },
                ..svc(80)
            },
            vec![real(11, 1)],
        )]);
        d.fwmark_rules.push(FwMarkRule {
            mark: 7,
            proto: Some(Protocol::Tcp),
            dest: IpNet::new("192.0.2.0".parse().unwrap(), 28),
            ports: Some((80, 443)),
        });
        let (s, _) = t.reconcile(&d, Time::ZERO).unwrap();
        let ip: IpAddr = "192.0.2.5".parse().unwrap();
        assert_eq!(s.classify(Protocol::Tcp, &ip, 443), 7);
        assert_eq!(s.classify(Protocol::Tcp, &ip, 22), 0);
        assert_eq!(s.classify(Protocol::Udp, &ip, 443), 0);
        assert!(s.find_service(Protocol::Tcp, &ip, 443, 7).is_some());
    }
}
