//! The control plane: the desired table (what `rvsadm` changes), its reconciliation
//! into the core's service table and publication to the workers, the host rules that
//! follow it, counters summed over the shards with IPVS-style rate estimation, and
//! the status `rvsadm -L` shows. Requests are applied atomically: a bad command
//! changes nothing, and a good one takes effect at once without touching
//! established connections.

use std::collections::{BTreeSet, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::mpsc::{sync_channel, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use rvs_admin::command::Command;
use rvs_admin::config::Config;
use rvs_admin::proto::{Request, Response};
use rvs_admin::status::{
    ConnStatus, DestStatus, Rates, ServiceStatus, Stats, Status, SyncCountersStatus,
    SyncDaemonStatus, Timeouts, VrrpInstanceStatus,
};
use rvs_core::director::{ConnInfo, ShardStats};
use rvs_core::service::{DesiredConfig, Route, ServiceId, ServiceTable, Settings, Snapshot};
use rvs_core::stats::{Estimator, Totals};
use rvs_core::{DestId, Protocol, ServiceKey, Time};
use rvs_wire::arp::build_gratuitous_arp;
use rvs_wire::ether::MacAddr;
use rvs_wire::ndp::build_unsolicited_na;

use crate::fileconf::{FilePlan, TargetIds};
use crate::health::HealthView;
use crate::hooks::SnapshotHook;
use crate::host::{DropSets, HostSetup};
use crate::ports::Port;
use crate::sync::{SyncCounters, SyncDaemon};
use crate::worker::{WorkerRequest, WorkerStats};

/// What the control plane holds of each worker.
pub struct WorkerHandle {
    pub requests: Sender<WorkerRequest>,
    pub shard: Arc<ShardStats>,
    pub stats: Arc<WorkerStats>,
}

/// Sends gratuitous ARP / unsolicited NA when the director takes a VIP.
pub trait Announcer: Send {
    fn announce(&mut self, port: usize, frame: &[u8]);
}

/// A configuration file in force, with its health-check engine.
pub struct FileState {
    pub plan: FilePlan,
    pub ids: TargetIds,
    pub engine: Option<rvs_health::HealthHandle>,
}

pub struct Control {
    /// The base table: the configuration file's, changed by rvsadm.
    pub config: Config,
    /// What is installed: the base with health checks, sorry servers and slow start applied.
    effective: Config,
    pub file: Option<FileState>,
    pub health: HealthView,
    table: ServiceTable,
    snapshot: Arc<ArcSwap<Snapshot>>,
    ports: Vec<Port>,
    routes: Vec<Route>,
    settings: Settings,
    host: HostSetup,
    workers: Vec<WorkerHandle>,
    svc_est: HashMap<u32, Estimator>,
    dest_est: HashMap<u32, Estimator>,
    svc_base: HashMap<u32, Totals>,
    dest_base: HashMap<u32, Totals>,
    announced: BTreeSet<IpAddr>,
    announcer: Option<Box<dyn Announcer>>,
    resolve: Sender<(u32, IpAddr)>,
    epoch: Instant,
    conn_tab_size: u32,
    hooks: Vec<Box<dyn SnapshotHook>>,
    daemons: Vec<SyncDaemon>,
    pub sync_counters: Arc<SyncCounters>,
    pub sync_key: Option<rvs_sync::SyncKey>,
    pub vrrp: Option<crate::vrrp::VrrpStates>,
}

impl Control {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        table: ServiceTable,
        snapshot: Arc<ArcSwap<Snapshot>>,
        ports: Vec<Port>,
        routes: Vec<Route>,
        host: HostSetup,
        workers: Vec<WorkerHandle>,
        announcer: Option<Box<dyn Announcer>>,
        resolve: Sender<(u32, IpAddr)>,
        epoch: Instant,
        conn_tab_size: u32,
    ) -> Control {
        Control {
            config: Config::default(),
            effective: Config::default(),
            file: None,
            health: HealthView::default(),
            table,
            snapshot,
            ports,
            routes,
            settings: Settings::default(),
            host,
            workers,
            svc_est: HashMap::new(),
            dest_est: HashMap::new(),
            svc_base: HashMap::new(),
            dest_base: HashMap::new(),
            announced: BTreeSet::new(),
            announcer,
            resolve,
            epoch,
            conn_tab_size,
            hooks: Vec::new(),
            daemons: Vec::new(),
            sync_counters: Arc::new(SyncCounters::default()),
            sync_key: None,
            vrrp: None,
        }
    }

    /// With VRRP, the master's kernel holds the VIPs and answers ARP for them; the
    /// data plane must not answer on a backup.
    pub fn set_answer_arp(&mut self, yes: bool) {
        self.settings.answer_arp = yes;
    }

    /// Start and stop sync daemons so that they match the table's `daemons`.
    pub fn reconcile_daemons(&mut self) {
        let want = self.config.daemons.clone();
        let before = self.daemons.len();
        self.daemons.retain(|d| want.contains(&d.config));
        let has_master = |ds: &[SyncDaemon]| {
            ds.iter()
                .any(|d| d.config.state == rvs_admin::config::SyncState::Master)
        };
        if self.daemons.len() != before && !has_master(&self.daemons) {
            for w in &self.workers {
                let _ = w.requests.send(WorkerRequest::SetSync(None));
            }
        }
        for cfg in want {
            if self.daemons.iter().any(|d| d.config == cfg) {
                continue;
            }
            let senders = self.workers.iter().map(|w| w.requests.clone()).collect();
            match crate::sync::start(
                &cfg,
                senders,
                self.sync_key.clone(),
                self.sync_counters.clone(),
            ) {
                Ok((daemon, records)) => {
                    if let Some(tx) = records {
                        for w in &self.workers {
                            let _ = w.requests.send(WorkerRequest::SetSync(Some(tx.clone())));
                        }
                    }
                    self.daemons.push(daemon);
                }
                Err(e) => tracing::error!("sync daemon: {e}"),
            }
        }
    }

    /// Register a component that follows the service table; it is told about the
    /// current table at once.
    #[allow(dead_code)] // the XDP steering maps register here
    pub fn add_hook(&mut self, mut hook: Box<dyn SnapshotHook>) {
        if let Err(e) = hook.on_snapshot(&self.snapshot.load_full()) {
            tracing::error!("snapshot hook: {e}");
        }
        self.hooks.push(hook);
    }

    fn now(&self) -> Time {
        Time::from_nanos(self.epoch.elapsed().as_nanos() as u64)
    }

    pub fn handle(&mut self, req: Request) -> Response {
        match req {
            Request::Ping => Response::Ok,
            Request::Reload => match self.reload() {
                Ok(()) => Response::Ok,
                Err(message) => Response::Error {
                    message,
                    index: None,
                },
            },
            Request::Status { connections } => Response::Status(self.status(connections)),
            Request::Apply(cmds) => self.apply(&cmds),
            Request::Zero(key) => {
                self.zero(key);
                Response::Ok
            }
        }
    }

    /// Apply a batch of commands: all or nothing.
    pub fn apply(&mut self, cmds: &[Command]) -> Response {
        let mut next = self.config.clone();
        if let Err(e) = next.apply_all(cmds) {
            return Response::Error {
                message: e.error.to_string(),
                index: Some(e.index),
            };
        }
        for c in cmds {
            if let Command::Zero(key) = c {
                self.zero(*key);
            }
        }
        match self.publish(&next) {
            Ok(()) => {
                self.config = next;
                self.reconcile_daemons();
                Response::Ok
            }
            Err(message) => Response::Error {
                message,
                index: None,
            },
        }
    }

    fn desired(&self, cfg: &Config) -> DesiredConfig {
        let mut settings = self.settings.clone();
        settings
            .timeouts
            .set(cfg.timeouts.tcp, cfg.timeouts.tcpfin, cfg.timeouts.udp);
        DesiredConfig {
            services: cfg
                .services
                .iter()
                .map(|s| (s.config.clone(), s.dests.clone()))
                .collect(),
            ports: self.ports.iter().map(|p| p.config.clone()).collect(),
            routes: self.routes.clone(),
            fwmark_rules: Vec::new(),
            settings,
        }
    }

    /// Re-read the configuration file: a bad file changes nothing (the running table
    /// and its connections stay); a good one replaces the base table, keeps unchanged
    /// checkers (and their state), and applies only the difference to the data plane.
    pub fn reload(&mut self) -> Result<(), String> {
        let Some(fs) = self.file.as_mut() else {
            return Err("no configuration file to reload (rvsd was started without -f)".into());
        };
        let path = fs.plan.path.clone();
        let plan = match crate::fileconf::load(&path, &mut fs.ids) {
            Ok(p) => p,
            Err(e) => {
                tracing::error!("reload refused, keeping the running configuration: {e}");
                return Err(e);
            }
        };
        if let Some(engine) = &fs.engine {
            engine
                .update(plan.checks.clone())
                .map_err(|e| format!("{}: health checks: {e}", path.display()))?;
        }
        for n in &plan.notes {
            tracing::info!("{n}");
        }
        let base = plan.base.clone();
        self.health.sync_targets(&plan);
        let old = std::mem::replace(&mut fs.plan, plan);
        if let Err(e) = self.publish(&base) {
            if let Some(fs) = self.file.as_mut() {
                fs.plan = old;
            }
            return Err(e);
        }
        self.config = base;
        self.reconcile_daemons();
        tracing::info!(file = %path.display(), services = self.config.services.len(), "configuration reloaded");
        Ok(())
    }

    /// A health-check event: republish when it changes the table.
    pub fn on_health(&mut self, ev: &rvs_health::HealthEvent) {
        if self.health.observe(ev) {
            let base = self.config.clone();
            if let Err(e) = self.publish(&base) {
                tracing::error!("applying a health change: {e}");
            }
        }
    }

    /// Every second: move slow-starting real servers along their ramp.
    pub fn ramp_tick(&mut self) {
        if self.health.ramping() {
            let base = self.config.clone();
            if let Err(e) = self.publish(&base) {
                tracing::error!("slow start: {e}");
            }
        }
    }

    /// Reconcile the core's table with `cfg` (the base table; health checks applied
    /// here) and publish it to the workers.
    pub fn publish(&mut self, cfg: &Config) -> Result<(), String> {
        let eff = self
            .health
            .effective(cfg, self.file.as_ref().map(|f| &f.plan));
        let want = self.desired(&eff);
        let now = self.now();
        let (snap, changes) = self
            .table
            .reconcile(&want, now)
            .map_err(|e| e.to_string())?;
        // Ids handed out again start their counters from zero.
        for id in &changes.new_services {
            let t = self.sum_services(*id);
            self.svc_base.insert(id.0, t);
            self.svc_est.remove(&id.0);
        }
        for id in &changes.new_dests {
            let t = self.sum_dests(*id);
            self.dest_base.insert(id.0, t);
            self.dest_est.remove(&id.0);
        }
        self.install(snap);
        self.effective = eff;
        Ok(())
    }

    fn install(&mut self, snap: Arc<Snapshot>) {
        self.snapshot.store(snap.clone());
        if let Err(e) = self.host.apply(&DropSets::from_snapshot(&snap)) {
            tracing::error!("host rules: {e}");
        }
        for h in &mut self.hooks {
            if let Err(e) = h.on_snapshot(&snap) {
                tracing::error!("snapshot hook: {e}");
            }
        }
        self.announce_new_vips(&snap);
        self.resolve_real_servers(&snap);
    }

    fn announce_new_vips(&mut self, snap: &Snapshot) {
        let vips: BTreeSet<IpAddr> = snap
            .services()
            .filter_map(|s| match s.config.key {
                ServiceKey::Addr { addr, .. } => Some(addr),
                ServiceKey::FwMark { .. } => None,
            })
            .collect();
        let new: Vec<IpAddr> = vips.difference(&self.announced).copied().collect();
        if let Some(a) = self.announcer.as_mut() {
            for vip in &new {
                for (i, p) in self.ports.iter().enumerate() {
                    let mac = MacAddr(p.config.mac);
                    let mut buf = [0u8; 128];
                    let n = match vip {
                        IpAddr::V4(v) => build_gratuitous_arp(&mut buf, mac, *v),
                        IpAddr::V6(v) => build_unsolicited_na(&mut buf, mac, *v),
                    };
                    if n > 0 {
                        a.announce(i, &buf[..n]);
                    }
                }
                tracing::info!(vip = %vip, "announced VIP");
            }
        }
        self.announced = vips;
    }

    /// Ask the kernel to resolve every real server (or its gateway) now, so the
    /// first packets of a connection do not wait for ARP.
    fn resolve_real_servers(&self, snap: &Snapshot) {
        for d in snap.dests() {
            if let Some((port, hop)) = snap.route(&d.addr()) {
                let hop = if d.method() == rvs_core::ForwardMethod::Route {
                    d.addr()
                } else {
                    hop
                };
                if let Some(p) = self.ports.get(port.0 as usize) {
                    let _ = self.resolve.send((p.ifindex, hop));
                }
            }
        }
    }

    fn sum_services(&self, id: ServiceId) -> Totals {
        let mut t = Totals::default();
        for w in &self.workers {
            if let Some(c) = w.shard.services.get(id.0 as usize) {
                t.add(&c.read());
            }
        }
        t
    }

    fn sum_dests(&self, id: DestId) -> Totals {
        let mut t = Totals::default();
        for w in &self.workers {
            if let Some(c) = w.shard.dests.get(id.0 as usize) {
                t.add(&c.read());
            }
        }
        t
    }

    fn service_totals(&self, id: ServiceId) -> Totals {
        let t = self.sum_services(id);
        t.since(self.svc_base.get(&id.0).unwrap_or(&Totals::default()))
    }

    fn dest_totals(&self, id: DestId) -> Totals {
        let t = self.sum_dests(id);
        t.since(self.dest_base.get(&id.0).unwrap_or(&Totals::default()))
    }

    /// `-Z`: counters restart from zero (the shards' own counters are never written).
    pub fn zero(&mut self, key: Option<ServiceKey>) {
        let snap = self.snapshot.load_full();
        for s in snap.services() {
            if key.is_some_and(|k| k != s.config.key) {
                continue;
            }
            let t = self.sum_services(s.id);
            self.svc_base.insert(s.id.0, t);
            self.svc_est.remove(&s.id.0);
            for d in &s.dests {
                let t = self.sum_dests(d.id());
                self.dest_base.insert(d.id().0, t);
                self.dest_est.remove(&d.id().0);
            }
        }
    }

    /// Every 2 s: rate estimators, and dropping removed real servers whose last
    /// connection has gone.
    pub fn tick(&mut self) {
        let snap = self.snapshot.load_full();
        for s in snap.services() {
            let t = self.service_totals(s.id);
            self.svc_est.entry(s.id.0).or_default().sample(&t);
            for d in &s.dests {
                let t = self.dest_totals(d.id());
                self.dest_est.entry(d.id().0).or_default().sample(&t);
            }
        }
        for (i, w) in self.workers.iter().enumerate() {
            use std::sync::atomic::Ordering::Relaxed;
            tracing::debug!(
                worker = i,
                rx = w.stats.rx_frames.load(Relaxed),
                tx = w.stats.tx_frames.load(Relaxed),
                tx_full = w.stats.tx_full.load(Relaxed),
                neigh_wait = w.stats.neigh_wait.load(Relaxed),
                neigh_timeout = w.stats.neigh_timeout.load(Relaxed),
                conns = w.stats.conns.load(Relaxed),
                drops = ?w.shard.drop_counts(),
                sync_lost = w.shard.sync_lost.load(Relaxed),
                "worker counters"
            );
        }
        let now = self.now();
        if let Some((snap, _)) = self.table.collect_garbage(now) {
            // The host rules and XDP maps let go of the collected real servers too.
            self.install(snap);
        }
    }

    fn rates(e: Option<&Estimator>) -> Rates {
        let r = e.map(|e| e.rates()).unwrap_or_default();
        Rates {
            cps: r.cps,
            inpps: r.inpps,
            outpps: r.outpps,
            inbps: r.inbps,
            outbps: r.outbps,
        }
    }

    fn stats(t: Totals) -> Stats {
        Stats {
            conns: t.conns,
            inpkts: t.inpkts,
            outpkts: t.outpkts,
            inbytes: t.inbytes,
            outbytes: t.outbytes,
        }
    }

    pub fn status(&mut self, with_conns: bool) -> Status {
        let snap = self.snapshot.load_full();
        let mut services = Vec::with_capacity(self.effective.services.len());
        let plan = self.file.as_ref().map(|f| &f.plan);
        for vs in &self.effective.services {
            let base = self
                .config
                .services
                .iter()
                .find(|b| b.config.key == vs.config.key);
            let live = snap.services().find(|s| s.config.key == vs.config.key);
            let mut st = ServiceStatus {
                config: vs.config.clone(),
                stats: Stats::default(),
                rates: Rates::default(),
                dests: Vec::with_capacity(vs.dests.len()),
            };
            if let Some(s) = live {
                st.stats = Self::stats(self.service_totals(s.id));
                st.rates = Self::rates(self.svc_est.get(&s.id.0));
            }
            for dc in &vs.dests {
                let mut ds = DestStatus::from_config(dc);
                let configured = base
                    .and_then(|b| {
                        b.dests
                            .iter()
                            .find(|d| d.addr == dc.addr && d.port == dc.port)
                    })
                    .map(|d| d.weight);
                if configured.is_some_and(|w| w != dc.weight) {
                    ds.configured_weight = configured;
                }
                if let Some(p) = plan {
                    ds.health = self
                        .health
                        .dest_health(p, &(vs.config.key, dc.addr, dc.port));
                }
                if let Some(d) = live.and_then(|s| {
                    s.dests
                        .iter()
                        .find(|d| d.addr() == dc.addr && d.port() == dc.port)
                }) {
                    ds.weight = d.weight().max(0) as u32;
                    ds.active_conns = d.active_conns();
                    ds.inactive_conns = d.inactive_conns();
                    ds.persist_conns = d.persist_conns();
                    ds.stats = Self::stats(self.dest_totals(d.id()));
                    ds.rates = Self::rates(self.dest_est.get(&d.id().0));
                }
                st.dests.push(ds);
            }
            // Real servers a health check holds out of the table: listed (in their
            // configured place) for the status page, marked held_out so that rvsadm -L
            // does not show them, as ipvsadm would not.
            if let Some(b) = base {
                let mut ordered = Vec::with_capacity(b.dests.len() + 1);
                for bd in &b.dests {
                    let at = st
                        .dests
                        .iter()
                        .position(|d| d.config.addr == bd.addr && d.config.port == bd.port);
                    match at {
                        Some(i) => ordered.push(st.dests.remove(i)),
                        None => {
                            let mut ds = DestStatus::from_config(bd);
                            ds.weight = 0;
                            ds.held_out = true;
                            if let Some(p) = plan {
                                ds.health = self
                                    .health
                                    .dest_health(p, &(vs.config.key, bd.addr, bd.port));
                            }
                            ordered.push(ds);
                        }
                    }
                }
                // What the base does not have (a sorry server) goes last.
                ordered.append(&mut st.dests);
                st.dests = ordered;
            }
            services.push(st);
        }
        let connections = with_conns.then(|| self.connections());
        Status {
            version: rvs_admin::status::IPVS_VERSION.to_string(),
            conn_table_size: self.conn_tab_size,
            services,
            timeouts: Timeouts {
                tcp: self.config.timeouts.tcp,
                tcpfin: self.config.timeouts.tcpfin,
                udp: self.config.timeouts.udp,
            },
            daemons: self
                .config
                .daemons
                .iter()
                .map(SyncDaemonStatus::from_config)
                .collect(),
            connections,
            vrrp: self
                .vrrp
                .as_ref()
                .map(|v| {
                    crate::vrrp::snapshot(v)
                        .into_iter()
                        .map(|(name, s)| VrrpInstanceStatus {
                            name,
                            state: s.state,
                            interface: s.interface,
                            vrid: s.vrid,
                            priority: s.priority,
                            changes: s.changes,
                            became_master: s.became_master,
                            adverts_sent: s.adverts_sent,
                            adverts_received: s.adverts_received,
                            adverts_dropped: s.adverts_dropped,
                        })
                        .collect()
                })
                .unwrap_or_default(),
            sync: (!self.daemons.is_empty()).then(|| self.sync_status()),
        }
    }

    fn sync_status(&self) -> SyncCountersStatus {
        use std::sync::atomic::Ordering::Relaxed;
        let c = &self.sync_counters;
        let (mut installed, mut failed) = (0, 0);
        for w in &self.workers {
            installed += w.stats.synced_installed.load(Relaxed);
            failed += w.stats.synced_failed.load(Relaxed);
        }
        SyncCountersStatus {
            sent_messages: c.sent_messages.load(Relaxed),
            sent_conns: c.sent_conns.load(Relaxed),
            received_messages: c.received_messages.load(Relaxed),
            received_conns: c.received_conns.load(Relaxed),
            rejected: c.rejected.load(Relaxed),
            installed,
            install_failed: failed,
            resyncs: c.resyncs.load(Relaxed),
        }
    }

    fn connections(&self) -> Vec<ConnStatus> {
        let mut all = Vec::new();
        for w in &self.workers {
            let (tx, rx) = sync_channel(1);
            if w.requests.send(WorkerRequest::Connections(tx)).is_err() {
                continue;
            }
            if let Ok(list) = rx.recv_timeout(Duration::from_secs(2)) {
                all.extend(list.into_iter().map(conn_status));
            }
        }
        all
    }
}

fn conn_status(c: ConnInfo) -> ConnStatus {
    let proto = match c.proto {
        17 => Protocol::Udp,
        _ => Protocol::Tcp,
    };
    ConnStatus {
        proto,
        client: SocketAddr::new(c.client.0, c.client.1),
        r#virtual: SocketAddr::new(c.virt.0, c.virt.1),
        dest: SocketAddr::new(c.dest.0, c.dest.1),
        state: c.state.name().to_string(),
        expires_ms: c.expires.as_millis() as u64,
        template: c.template,
        fwmark: c.fwmark,
    }
}

// Observability accessors
impl Control {
    /// The workers' counters (shard and worker statistics), which the metrics and the
    /// status page read, never write.
    pub fn worker_handles(&self) -> &[WorkerHandle] {
        &self.workers
    }
}
