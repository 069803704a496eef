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

use rvs_config::{
    AuthType, LoadedConfig, TrackInterface, TrackScript, VrrpInstance, VrrpScript, VrrpState,
};
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
    scripts: Option<ScriptChecks>,
}

impl VrrpRuntime {
    pub fn stop(&mut self) {
        self.stop.store(true, Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        if let Some(s) = self.scripts.take() {
            s.engine.stop();
            let _ = s.thread.join();
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
    c.garp_master_refresh = vi.garp_master_refresh;
    c.garp_master_refresh_repeat = vi.garp_master_refresh_repeat;
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

fn open_adapter(
    instance: &Instance,
    vi: &VrrpInstance,
    ifname: &str,
    tracking: &mut Tracking,
    loaded: &LoadedConfig,
) -> Result<Adapter, String> {
    let mut a = Adapter::open(instance, ifname)
        .map_err(|e| format!("vrrp_instance {} on {ifname}: {e}", vi.name))?;
    for v in &vi.virtual_ipaddress {
        a.place_vip(v.addr, v.dev.as_deref(), v.prefix_len, v.label.as_deref())
            .map_err(|e| format!("vrrp_instance {}: VIP {}: {e}", vi.name, v.addr))?;
    }
    let (interfaces, scripts) = tracked(vi, loaded)?;
    for name in interfaces {
        a.track_interface(name);
    }
    for script in scripts {
        a.track_flag(tracking.flag(script));
    }
    Ok(a)
}

/// What an instance tracks: its own `track_interface`/`track_script` and its sync
/// group's (a member in FAULT pulls the whole group along). Weights are refused: rvs
/// does not change priorities, a tracked failure means FAULT.
fn tracked<'a>(
    vi: &'a VrrpInstance,
    loaded: &'a LoadedConfig,
) -> Result<(Vec<&'a str>, Vec<&'a VrrpScript>), String> {
    let group = loaded
        .vrrp_sync_groups
        .iter()
        .find(|g| g.group.contains(&vi.name));
    let what = format!("{}: vrrp_instance {}", vi.at, vi.name);
    let mut interfaces: Vec<&TrackInterface> = vi.track_interface.iter().collect();
    let mut scripts: Vec<&TrackScript> = vi.track_script.iter().collect();
    if let Some(g) = group {
        interfaces.extend(&g.track_interface);
        scripts.extend(&g.track_script);
    }
    let mut names = Vec::new();
    for t in interfaces {
        if t.weight != 0 {
            return Err(format!(
                "{what}: track_interface {} weight {}: weights are not supported by rvs \
                 (without a weight, a tracked interface that goes down puts the instance in FAULT)",
                t.name, t.weight
            ));
        }
        names.push(t.name.as_str());
    }
    let mut found = Vec::new();
    for t in scripts {
        let Some(script) = loaded.vrrp_scripts.iter().find(|s| s.name == t.name) else {
            return Err(format!(
                "{what}: track_script {}: no vrrp_script of that name",
                t.name
            ));
        };
        let weight = t.weight.unwrap_or(script.weight);
        if weight != 0 {
            return Err(format!(
                "{what}: track_script {} weight {weight}: weights are not supported by rvs \
                 (without a weight, a failing script puts the instance in FAULT)",
                t.name
            ));
        }
        found.push(script);
    }
    Ok((names, found))
}

/// Everything `start` would refuse in `loaded`'s VRRP part, without opening anything
/// (for `--check-config`).
pub fn validate(loaded: &LoadedConfig) -> Result<(), String> {
    for vi in &loaded.vrrp_instances {
        check_supported(vi, loaded)?;
        tracked(vi, loaded)?;
    }
    Ok(())
}

/// Refuses what rvs would otherwise silently do differently from keepalived; warns of
/// what it leaves out without changing the election or the addresses.
fn check_supported(vi: &VrrpInstance, loaded: &LoadedConfig) -> Result<(), String> {
    let what = format!("{}: vrrp_instance {}", vi.at, vi.name);
    let refuse = |k: &str, why: &str| Err(format!("{what}: {k} is not supported by rvs ({why})"));
    if vi.use_vmac.is_some() {
        return refuse("use_vmac", "the VIPs are held on the interface itself");
    }
    if vi.mcast_dst_ip.is_some() {
        return refuse(
            "mcast_dst_ip",
            "adverts go to 224.0.0.18 / ff02::12 or unicast peers",
        );
    }
    if !vi.virtual_ipaddress_excluded.is_empty() {
        return refuse(
            "virtual_ipaddress_excluded",
            "list the addresses in virtual_ipaddress",
        );
    }
    if vi
        .authentication
        .as_ref()
        .is_some_and(|a| a.auth_type == AuthType::Ah)
    {
        return refuse("auth_type AH", "use PASS, or none");
    }
    for v in &vi.virtual_ipaddress {
        let dev = v.dev.as_deref().or(vi.interface.as_deref()).unwrap_or("");
        if let Some(label) = &v.label {
            if v.addr.is_ipv4() && !label.starts_with(dev) {
                return Err(format!(
                    "{what}: VIP {} label {label}: a label must start with the interface's name ({dev})",
                    v.addr
                ));
            }
            if v.addr.is_ipv6() {
                tracing::warn!(
                    "{what}: VIP {} label {label}: IPv6 addresses have no labels; ignored",
                    v.addr
                );
            }
        }
        if v.brd.is_some() || v.scope.is_some() || v.peer.is_some() || !v.flags.is_empty() {
            tracing::warn!(
                "{what}: VIP {}: brd, scope, peer and other address options are not implemented by rvs and have no effect",
                v.addr
            );
        }
    }
    let g = &loaded.global;
    if g.vrrp_mcast_group4
        .is_some_and(|a| a != rvs_vrrp::packet::VRRP_GROUP_V4)
        || g.vrrp_mcast_group6
            .is_some_and(|a| a.segments() != [0xff02, 0, 0, 0, 0, 0, 0, 0x12])
    {
        return Err(format!(
            "global_defs vrrp_mcast_group4/6 other than 224.0.0.18 / ff02::12 is not supported by rvs (needed by vrrp_instance {})",
            vi.name
        ));
    }
    let ignored = [
        (
            "garp_lower_prio_delay/repeat",
            vi.garp_lower_prio_delay.is_some() || vi.garp_lower_prio_repeat.is_some(),
        ),
        ("unicast_ttl", vi.unicast_ttl.is_some()),
        ("strict_mode", vi.strict_mode),
        ("check_unicast_src", vi.check_unicast_src),
        ("down_timer_adverts", vi.down_timer_adverts.is_some()),
    ];
    for (k, set) in ignored {
        if set {
            tracing::warn!("{what}: {k} is not implemented by rvs and has no effect");
        }
    }
    Ok(())
}

/// `vrrp_script` results that instances track. The scripts run as MISC_CHECKs in a
/// health engine of their own (interval, timeout, process-group kill, `user`); a flag
/// per script is set while it passes, after keepalived's `rise`/`fall`.
#[derive(Default)]
struct Tracking {
    flags: BTreeMap<String, (VrrpScript, Arc<AtomicBool>)>,
}

/// The running script checks: stopping the engine closes its event channel, which ends
/// the thread that keeps the flags.
struct ScriptChecks {
    engine: rvs_health::HealthHandle,
    thread: JoinHandle<()>,
}

impl Tracking {
    fn flag(&mut self, script: &VrrpScript) -> Arc<AtomicBool> {
        self.flags
            .entry(script.name.clone())
            .or_insert_with(|| (script.clone(), Arc::new(AtomicBool::new(!script.init_fail))))
            .1
            .clone()
    }

    fn start(self) -> Result<Option<ScriptChecks>, String> {
        if self.flags.is_empty() {
            return Ok(None);
        }
        let mut specs = Vec::new();
        let mut tracked = Vec::new();
        for (i, (name, (script, flag))) in self.flags.into_iter().enumerate() {
            let timeout = script.timeout.unwrap_or(script.interval);
            let kind = rvs_health::CheckKind::Misc {
                command: script
                    .script
                    .argv()
                    .map_err(|e| format!("{}: vrrp_script {name}: {e}", script.at))?,
                timeout,
                dynamic: false,
                user: script.script.user.clone(),
            };
            let mut spec = rvs_health::CheckSpec::new(
                rvs_health::TargetId(i as u64),
                std::net::SocketAddr::from(([0, 0, 0, 0], 0)),
                kind,
            );
            // Every result counts: rise and fall are applied here, not by retries.
            spec.timing.delay_loop = script.interval;
            spec.timing.connect_timeout = timeout;
            spec.timing.retry = 0;
            spec.timing.warmup = None;
            tracked.push((name, script.rise.max(1), script.fall.max(1), flag));
            specs.push(spec);
        }
        let (engine, mut events) =
            rvs_health::HealthEngine::start(specs).map_err(|e| format!("vrrp_script: {e}"))?;
        let thread = std::thread::Builder::new()
            .name("rvsd-vrrp-script".into())
            .spawn(move || {
                // Consecutive (successes, failures) per script.
                let mut runs = vec![(0u32, 0u32); tracked.len()];
                while let Some(ev) = events.blocking_recv() {
                    let rvs_health::HealthEvent::Result { target, ok, .. } = ev else {
                        continue;
                    };
                    let i = target.0 as usize;
                    let (Some((name, rise, fall, flag)), Some(run)) =
                        (tracked.get(i), runs.get_mut(i))
                    else {
                        continue;
                    };
                    *run = if ok { (run.0 + 1, 0) } else { (0, run.1 + 1) };
                    let up = flag.load(Relaxed);
                    if up && run.1 >= *fall {
                        flag.store(false, Relaxed);
                        tracing::warn!(script = %name, failures = run.1, "vrrp_script failed: tracking instances go to FAULT");
                    } else if !up && run.0 >= *rise {
                        flag.store(true, Relaxed);
                        tracing::info!(script = %name, "vrrp_script succeeds again");
                    }
                }
            })
            .map_err(|e| e.to_string())?;
        Ok(Some(ScriptChecks { engine, thread }))
    }
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
    let mut tracking = Tracking::default();
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
        check_supported(vi, loaded)?;
        let instance = Instance::new(cfg).map_err(|e| format!("vrrp_instance {}: {e}", vi.name))?;
        let adapter = open_adapter(&instance, vi, &ifname, &mut tracking, loaded)?;
        prepared.push((instance, adapter, vi));
    }
    let scripts = tracking.start()?;
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
        scripts,
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
    // Each member's interface and what it tracks, polled like a single instance's.
    let mut up: Vec<bool> = adapters
        .iter()
        .map(|a| a.tracked_up().unwrap_or(false))
        .collect();
    for (m, &u) in up.iter().enumerate() {
        if !u {
            group.handle(m, origin.elapsed(), Event::InterfaceDown, &mut out);
        }
    }
    let mut last_poll = Instant::now();
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
        if last_poll.elapsed() >= Duration::from_millis(100) {
            last_poll = Instant::now();
            for (m, adapter) in adapters.iter().enumerate() {
                let now_up = adapter.tracked_up().unwrap_or(false);
                if now_up != up[m] {
                    up[m] = now_up;
                    let event = if now_up {
                        Event::InterfaceUp
                    } else {
                        Event::InterfaceDown
                    };
                    group.handle(m, origin.elapsed(), event, &mut out);
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

#[cfg(test)]
mod tests {
    use super::*;
    use rvs_config::{Location, Script};

    fn script(name: &str, command: &str, fall: u32, rise: u32, init_fail: bool) -> VrrpScript {
        VrrpScript {
            name: name.into(),
            at: Location {
                file: "keepalived.conf".into(),
                line: 1,
                column: 1,
            },
            script: Script {
                command: command.into(),
                user: None,
                group: None,
            },
            interval: Duration::from_millis(200),
            timeout: Some(Duration::from_secs(2)),
            weight: 0,
            weight_reverse: false,
            rise,
            fall,
            init_fail,
        }
    }

    fn wait(flag: &AtomicBool, want: bool) -> bool {
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(10) {
            if flag.load(Relaxed) == want {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// vrrp_scripts run as health-engine MISC checks; fall and rise apply to the flag.
    #[test]
    fn script_results_drive_the_tracking_flags() {
        let mut t = Tracking::default();
        let failing = t.flag(&script("chk_down", "/bin/false", 2, 1, false));
        let passing = t.flag(&script("chk_up", "/bin/true", 1, 2, true));
        assert!(failing.load(Relaxed), "starts up without init_fail");
        assert!(!passing.load(Relaxed), "starts down with init_fail");
        let checks = t.start().unwrap().unwrap();
        assert!(wait(&failing, false), "two failures clear it");
        assert!(wait(&passing, true), "two successes set it");
        checks.engine.stop();
        checks.thread.join().unwrap();
    }
}
