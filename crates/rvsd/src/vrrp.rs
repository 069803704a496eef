//! VRRP for rvsd: the `vrrp_instance` and `vrrp_sync_group` blocks of keepalived.conf
//! run here (VRRPv2/v3, keepalived-compatible on the wire). The master holds the
//! virtual addresses on its interfaces (the kernel answers ARP for them; rvsd's
//! nftables table still keeps VIP traffic away from the kernel), announces them with
//! gratuitous ARP / unsolicited NA, and runs the notify scripts; a backup removes
//! them. The members of a sync group change state together.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rvs_config::{AuthType, LoadedConfig, VrrpInstance, VrrpState};
use rvs_vrrp::config::{InstanceConfig, NotifyScripts};
use rvs_vrrp::group::{MemberAction, SyncGroup};
use rvs_vrrp::instance::{Action, Event, Instance, Stats};
use rvs_vrrp::linux::{run_instance, Adapter, Observer};
use rvs_vrrp::packet::{Auth, Version};

/// What the status shows of one instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstanceStatus {
    pub state: String,
    pub interface: String,
    pub vrid: u8,
    pub priority: u8,
    pub changes: u64,
    pub became_master: u64,
    pub adverts_sent: u64,
    pub adverts_received: u64,
    /// Adverts for this VRID refused (version, interval, authentication, family, peer)
    /// and packets that were no valid advert at all.
    pub adverts_dropped: u64,
}

pub type VrrpStates = Arc<Mutex<BTreeMap<String, InstanceStatus>>>;

/// The running instances; stopping sends priority 0 and removes the VIPs.
pub struct VrrpRuntime {
    pub states: VrrpStates,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl VrrpRuntime {
    pub fn stop(&mut self) {
        self.stop.store(true, Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for VrrpRuntime {
    fn drop(&mut self) {
        self.stop();
    }
}

fn script(s: &Option<rvs_config::Script>) -> Option<String> {
    s.as_ref().map(|s| s.command.clone())
}

fn local_addr(vi: &VrrpInstance, ifname: &str) -> Result<IpAddr, String> {
    if let Some(a) = vi.unicast_src_ip.or(vi.mcast_src_ip) {
        return Ok(a);
    }
    let v6 = vi
        .virtual_ipaddress
        .first()
        .is_some_and(|v| v.addr.is_ipv6());
    let ifc = rvs_io::Interface::by_name(ifname)
        .map_err(|e| format!("vrrp_instance {}: interface {ifname}: {e}", vi.name))?;
    let found = if v6 {
        ifc.ipv6
            .iter()
            .find(|(a, _)| (a.segments()[0] & 0xffc0) == 0xfe80)
            .or_else(|| ifc.ipv6.first())
            .map(|(a, _)| IpAddr::V6(*a))
    } else {
        ifc.ipv4.first().map(|(a, _)| IpAddr::V4(*a))
    };
    found.ok_or_else(|| {
        format!(
            "vrrp_instance {}: {ifname} has no address to send from",
            vi.name
        )
    })
}

/// keepalived's vrrp_instance into the VRRP engine's configuration.
fn instance_config(
    vi: &VrrpInstance,
    default_version: u8,
) -> Result<(InstanceConfig, String), String> {
    let ifname = vi
        .interface
        .clone()
        .ok_or_else(|| format!("vrrp_instance {}: no interface", vi.name))?;
    let local = local_addr(vi, &ifname)?;
    let vips: Vec<IpAddr> = vi.virtual_ipaddress.iter().map(|v| v.addr).collect();
    let mut c = InstanceConfig::new(&vi.name, vi.virtual_router_id, vi.priority, local, vips);
    c.advert_int = vi.advert_int;
    c.preempt = !vi.nopreempt;
    c.preempt_delay = vi.preempt_delay;
    c.accept = vi.accept.unwrap_or(false);
    let version = if local.is_ipv6() {
        3
    } else if vi.version != 0 {
        vi.version
    } else {
        default_version
    };
    c.version = if version == 3 {
        Version::V3
    } else {
        Version::V2
    };
    c.unicast_peers = vi.unicast_peer.iter().map(|p| p.addr).collect();
    if let Some(a) = &vi.authentication {
        if a.auth_type == AuthType::Pass {
            c.auth = Auth::simple(&a.auth_pass);
        }
    }
    c.garp_master_repeat = vi.garp_master_repeat;
    c.garp_master_delay = vi.garp_master_delay;
    c.notify = NotifyScripts {
        master: script(&vi.notify_master),
        backup: script(&vi.notify_backup),
        fault: script(&vi.notify_fault),
        stop: script(&vi.notify_stop),
        generic: script(&vi.notify),
    };
    c.validate()
        .map_err(|e| format!("vrrp_instance {}: {e}", vi.name))?;
    Ok((c, ifname))
}

fn open_adapter(instance: &Instance, vi: &VrrpInstance, ifname: &str) -> Result<Adapter, String> {
    let mut a = Adapter::open(instance, ifname)
        .map_err(|e| format!("vrrp_instance {} on {ifname}: {e}", vi.name))?;
    for v in &vi.virtual_ipaddress {
        a.place_vip(v.addr, v.dev.as_deref(), v.prefix_len)
            .map_err(|e| format!("vrrp_instance {}: VIP {}: {e}", vi.name, v.addr))?;
    }
    Ok(a)
}

/// Logs state changes and records them for the status.
struct Reporter {
    states: VrrpStates,
}

impl Reporter {
    fn note(&self, name: &str, state: &str) {
        if let Ok(mut m) = self.states.lock() {
            if let Some(s) = m.get_mut(name) {
                if s.state != state {
                    s.state = state.to_string();
                    s.changes += 1;
                    if state == "MASTER" {
                        s.became_master += 1;
                    }
                    tracing::info!(instance = name, state, "VRRP state");
                }
            }
        }
    }

    /// Copies an instance's advert counters (plus `invalid`: packets on its socket that
    /// were no valid advert) into the status.
    fn counters(&self, name: &str, stats: &Stats, invalid: u64) {
        if let Ok(mut m) = self.states.lock() {
            if let Some(s) = m.get_mut(name) {
                s.adverts_sent = stats.adverts_sent;
                s.adverts_received = stats.adverts_received;
                s.adverts_dropped = stats.dropped + invalid;
            }
        }
    }
}

struct InstanceObserver {
    name: String,
    reporter: Reporter,
    invalid: u64,
    /// What was last copied to the status (the loop turns on every advert and timer).
    reported: (Stats, u64),
}

impl Observer for InstanceObserver {
    fn action(&mut self, action: &Action, result: &std::io::Result<()>) {
        if let Err(e) = result {
            tracing::warn!(instance = %self.name, ?action, "VRRP action failed: {e}");
        }
        match action {
            Action::BecomeMaster { .. } => self.reporter.note(&self.name, "MASTER"),
            Action::BecomeBackup { .. } => self.reporter.note(&self.name, "BACKUP"),
            Action::BecomeFault { .. } => self.reporter.note(&self.name, "FAULT"),
            Action::Stopped { .. } => self.reporter.note(&self.name, "STOP"),
            _ => {}
        }
    }

    fn invalid(&mut self, error: rvs_vrrp::VrrpError) {
        self.invalid += 1;
        tracing::debug!(instance = %self.name, "VRRP packet dropped: {error}");
    }

    fn stats(&mut self, stats: &Stats) {
        if self.reported != (*stats, self.invalid) {
            self.reported = (*stats, self.invalid);
            self.reporter.counters(&self.name, stats, self.invalid);
        }
    }
}

/// A sync group's name, notify scripts and members, before it runs.
type GroupParts = (String, NotifyScripts, Vec<(Instance, Adapter)>);

/// Start every instance and sync group of `loaded`. Nothing starts if one is invalid.
pub fn start(loaded: &LoadedConfig) -> Result<Option<VrrpRuntime>, String> {
    if loaded.vrrp_instances.is_empty() {
        return Ok(None);
    }
    let default_version = loaded.global.vrrp_version.unwrap_or(2);
    let states: VrrpStates = Arc::new(Mutex::new(BTreeMap::new()));
    let stop = Arc::new(AtomicBool::new(false));
    // Validate and open everything first.
    let mut prepared: Vec<(Instance, Adapter, &VrrpInstance)> = Vec::new();
    for vi in &loaded.vrrp_instances {
        let (cfg, ifname) = instance_config(vi, default_version)?;
        let initial = match vi.state {
            VrrpState::Master => "INIT(master)",
            VrrpState::Backup => "INIT",
        };
        if let Ok(mut m) = states.lock() {
            m.insert(
                vi.name.clone(),
                InstanceStatus {
                    state: initial.into(),
                    interface: ifname.clone(),
                    vrid: cfg.vrid,
                    priority: cfg.priority,
                    changes: 0,
                    became_master: 0,
                    adverts_sent: 0,
                    adverts_received: 0,
                    adverts_dropped: 0,
                },
            );
        }
        let instance = Instance::new(cfg).map_err(|e| format!("vrrp_instance {}: {e}", vi.name))?;
        let adapter = open_adapter(&instance, vi, &ifname)?;
        prepared.push((instance, adapter, vi));
    }
    let mut threads = Vec::new();
    let mut grouped: Vec<GroupParts> = Vec::new();
    let mut singles = Vec::new();
    for (inst, adapter, vi) in prepared {
        let group = loaded
            .vrrp_sync_groups
            .iter()
            .find(|g| g.group.contains(&vi.name));
        match group {
            Some(g) => {
                let at = match grouped.iter().position(|(n, _, _)| *n == g.name) {
                    Some(i) => i,
                    None => {
                        grouped.push((
                            g.name.clone(),
                            NotifyScripts {
                                master: script(&g.notify_master),
                                backup: script(&g.notify_backup),
                                fault: script(&g.notify_fault),
                                stop: script(&g.notify_stop),
                                generic: script(&g.notify),
                            },
                            Vec::new(),
                        ));
                        grouped.len() - 1
                    }
                };
                grouped[at].2.push((inst, adapter));
            }
            None => singles.push((inst, adapter)),
        }
    }
    for (mut inst, mut adapter) in singles {
        let stop = stop.clone();
        let mut obs = InstanceObserver {
            name: inst.config().name.clone(),
            reporter: Reporter {
                states: states.clone(),
            },
            invalid: 0,
            reported: (Stats::default(), 0),
        };
        threads.push(
            std::thread::Builder::new()
                .name("rvsd-vrrp".into())
                .spawn(move || {
                    if let Err(e) = run_instance(&mut inst, &mut adapter, &stop, &mut obs) {
                        tracing::error!(instance = %obs.name, "VRRP: {e}");
                    }
                })
                .map_err(|e| e.to_string())?,
        );
    }
    for (name, notify, members) in grouped {
        let stop = stop.clone();
        let reporter = Reporter {
            states: states.clone(),
        };
        threads.push(
            std::thread::Builder::new()
                .name("rvsd-vrrp-group".into())
                .spawn(move || run_group(&name, notify, members, &stop, &reporter))
                .map_err(|e| e.to_string())?,
        );
    }
    Ok(Some(VrrpRuntime {
        states,
        stop,
        threads,
    }))
}

/// Drive a sync group: every member's socket is read, the group decides together.
fn run_group(
    name: &str,
    notify: NotifyScripts,
    members: Vec<(Instance, Adapter)>,
    stop: &AtomicBool,
    reporter: &Reporter,
) {
    let (instances, mut adapters): (Vec<Instance>, Vec<Adapter>) = members.into_iter().unzip();
    let names: Vec<String> = instances.iter().map(|i| i.config().name.clone()).collect();
    let mut group = SyncGroup::new(name, instances, notify);
    let origin = Instant::now();
    let mut out: Vec<MemberAction> = Vec::new();
    let mut buf = vec![0u8; 2048];
    let mut invalid = vec![0u64; names.len()];
    let mut reported = vec![(Stats::default(), 0u64); names.len()];
    group.startup(origin.elapsed(), &mut out);
    loop {
        for ma in out.drain(..) {
            let Some(m) = ma.member else {
                continue; // the group's own notify scripts: run by the members' adapters' rules
            };
            let result = adapters[m].apply(&group.members()[m], &ma.action);
            if let Err(e) = &result {
                tracing::warn!(group = name, instance = %names[m], "VRRP action failed: {e}");
            }
            match ma.action {
                Action::BecomeMaster { .. } => reporter.note(&names[m], "MASTER"),
                Action::BecomeBackup { .. } => reporter.note(&names[m], "BACKUP"),
                Action::BecomeFault { .. } => reporter.note(&names[m], "FAULT"),
                Action::Stopped { .. } => reporter.note(&names[m], "STOP"),
                _ => {}
            }
        }
        if stop.load(Relaxed) {
            group.shutdown(origin.elapsed(), &mut out);
            for ma in out.drain(..) {
                if let Some(m) = ma.member {
                    let _ = adapters[m].apply(&group.members()[m], &ma.action);
                }
            }
            return;
        }
        // Bounded waits on each member's socket in turn keep every timer on time.
        let slice = Duration::from_millis(20);
        for (m, adapter) in adapters.iter().enumerate() {
            match adapter.socket.wait_readable(slice) {
                Ok(true) => {
                    for _ in 0..64 {
                        match adapter.socket.recv_advert(&mut buf) {
                            Ok(Some(Ok((advert, from)))) => group.handle(
                                m,
                                origin.elapsed(),
                                Event::AdvertReceived(&advert, from),
                                &mut out,
                            ),
                            Ok(Some(Err(_))) => invalid[m] += 1,
                            Ok(None) | Err(_) => break,
                        }
                    }
                }
                Ok(false) => {}
                Err(e) => {
                    tracing::error!(group = name, "VRRP socket: {e}");
                    return;
                }
            }
        }
        group.timer(origin.elapsed(), &mut out);
        for (m, inst) in group.members().iter().enumerate() {
            let now = (*inst.stats(), invalid[m]);
            if reported[m] != now {
                reported[m] = now;
                reporter.counters(&names[m], &now.0, now.1);
            }
        }
    }
}

/// The states for the status (instance name → state).
pub fn snapshot(states: &VrrpStates) -> BTreeMap<String, InstanceStatus> {
    states.lock().map(|m| m.clone()).unwrap_or_default()
}
