//! Health checks applied to the table: what the checkers say of each real server,
//! and the effective table derived from the base one (keepalived's semantics: a failed
//! real server leaves the service, or stays at weight 0 with `inhibit_on_failure`;
//! the sorry server takes over when the live weight falls below the quorum; a
//! `misc_dynamic` script sets the weight), plus slow start: a real server that comes
//! back (or is added) ramps its weight up over a configurable time so that lc/wlc do
//! not flood it with every new connection at once.

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rvs_admin::config::Config;
use rvs_admin::status::DestHealth;
use rvs_config::Script;
use rvs_core::ServiceKey;
use rvs_health::{ramp_weight, HealthEvent, InitialState, TargetId};

use crate::fileconf::{FilePlan, RsKey};

/// The latest word of one checker.
#[derive(Clone, Debug)]
pub struct TargetInfo {
    pub up: bool,
    pub dynamic_weight: Option<u32>,
    pub last_ok: Option<bool>,
    pub last_detail: String,
    pub last_latency: Option<Duration>,
    pub checks_run: u64,
    /// When the last check completed.
    pub last_at: Option<Instant>,
}

/// Health state of the whole table, owned by the control plane.
#[derive(Default)]
pub struct HealthView {
    targets: HashMap<TargetId, TargetInfo>,
    /// When each real server last came up (for slow start), or was first seen.
    up_since: HashMap<RsKey, Instant>,
    /// Last reported up/down per real server (for notify scripts and logs).
    rs_up: HashMap<RsKey, bool>,
    since_change: HashMap<RsKey, Instant>,
    changes: HashMap<RsKey, u64>,
    /// Quorum state per service (true: enough live weight).
    quorum_up: HashMap<ServiceKey, bool>,
    pub slow_start: Duration,
    /// Real servers present at start do not ramp.
    started: Option<Instant>,
}

impl HealthView {
    pub fn new(slow_start: Duration) -> HealthView {
        HealthView {
            slow_start,
            ..Default::default()
        }
    }

    /// Checkers of a (re)loaded plan: new ones start as their spec says; known ones
    /// keep their state; gone ones are forgotten.
    pub fn sync_targets(&mut self, plan: &FilePlan) {
        let mut next = HashMap::new();
        for spec in &plan.checks {
            let info = self.targets.remove(&spec.target).unwrap_or(TargetInfo {
                up: spec.initial == InitialState::Up,
                dynamic_weight: None,
                last_ok: None,
                last_detail: String::new(),
                last_latency: None,
                checks_run: 0,
                last_at: None,
            });
            next.insert(spec.target, info);
        }
        self.targets = next;
        if self.started.is_none() {
            self.started = Some(Instant::now());
        }
    }

    /// Take an event; true when the effective table may have changed.
    pub fn observe(&mut self, ev: &HealthEvent) -> bool {
        let Some(t) = self.targets.get_mut(&ev.target()) else {
            return false;
        };
        match ev {
            HealthEvent::Up { .. } => {
                let changed = !t.up;
                t.up = true;
                changed
            }
            HealthEvent::Down { reason, .. } => {
                let changed = t.up;
                t.up = false;
                t.last_detail = reason.clone();
                changed
            }
            HealthEvent::Weight { weight, .. } => {
                let changed = t.dynamic_weight != Some(*weight);
                t.dynamic_weight = Some(*weight);
                changed
            }
            HealthEvent::WeightReset { .. } => {
                let changed = t.dynamic_weight.is_some();
                t.dynamic_weight = None;
                changed
            }
            HealthEvent::Result {
                ok,
                latency,
                detail,
                ..
            } => {
                t.last_ok = Some(*ok);
                t.last_latency = Some(*latency);
                t.last_detail = detail.clone();
                t.checks_run += 1;
                t.last_at = Some(Instant::now());
                false
            }
        }
    }

    fn rs_state(&self, targets: &[TargetId]) -> (bool, Option<u32>) {
        let up = targets
            .iter()
            .all(|t| self.targets.get(t).is_none_or(|i| i.up));
        let dynamic = targets
            .iter()
            .filter_map(|t| self.targets.get(t).and_then(|i| i.dynamic_weight))
            .min();
        (up, dynamic)
    }

    /// What `rvsadm -L --json` and the status page show for a real server.
    pub fn dest_health(&self, plan: &FilePlan, rk: &RsKey) -> Option<DestHealth> {
        let rp = plan.reals.get(rk)?;
        if rp.targets.is_empty() {
            return None;
        }
        let (up, _) = self.rs_state(&rp.targets);
        let last = rp
            .targets
            .iter()
            .filter_map(|t| self.targets.get(t))
            .find(|i| i.last_ok.is_some());
        Some(DestHealth {
            up,
            inhibited: !up && rp.inhibit_on_failure,
            checkers: rp.kinds.clone(),
            last_ok: last.and_then(|i| i.last_ok),
            last_detail: last.map(|i| i.last_detail.clone()).unwrap_or_default(),
            last_latency_us: last
                .and_then(|i| i.last_latency)
                .map(|d| d.as_micros() as u64),
            since_secs: self.since_change.get(rk).map(|t| t.elapsed().as_secs()),
            changes: self.changes.get(rk).copied().unwrap_or(0),
            checks_run: rp
                .targets
                .iter()
                .filter_map(|t| self.targets.get(t))
                .map(|i| i.checks_run)
                .sum(),
        })
    }

    /// The table to install: `base` with the health checks, sorry servers, quorum
    /// and slow start applied. Runs notify and quorum scripts on transitions.
    pub fn effective(&mut self, base: &Config, plan: Option<&FilePlan>) -> Config {
        let now = Instant::now();
        let mut eff = base.clone();
        let started = *self.started.get_or_insert(now);
        for vs in &mut eff.services {
            let key = vs.config.key;
            let mut alive: u64 = 0;
            let mut kept = Vec::with_capacity(vs.dests.len());
            for d in vs.dests.drain(..) {
                let rk = (key, d.addr, d.port);
                let policy = plan.and_then(|p| p.reals.get(&rk));
                let (up, dynamic) = match policy {
                    Some(rp) => self.rs_state(&rp.targets),
                    None => (true, None),
                };
                // Up/down transitions: notify scripts, slow start, logs.
                let was = self.rs_up.insert(rk, up);
                if was != Some(up) {
                    self.since_change.insert(rk, now);
                    if was.is_some() {
                        *self.changes.entry(rk).or_insert(0) += 1;
                        tracing::info!(service = ?key, real = %d.addr, port = d.port, up, "real server {}", if up { "up" } else { "down" });
                        if let Some(rp) = policy {
                            let script = if up { &rp.notify_up } else { &rp.notify_down };
                            if let Some(s) = script {
                                run_script(s);
                            }
                        }
                    }
                    if up {
                        // Ramp after a recovery, or for a server added after start.
                        let fresh =
                            was.is_some() || now.duration_since(started) > Duration::from_secs(1);
                        if fresh {
                            self.up_since.insert(rk, now);
                        }
                    }
                }
                let mut d = d;
                if up {
                    let w = dynamic.unwrap_or(d.weight);
                    d.weight = match self.up_since.get(&rk) {
                        Some(since) if !self.slow_start.is_zero() => {
                            let w2 = ramp_weight(w, now.duration_since(*since), self.slow_start);
                            if w2 >= w {
                                self.up_since.remove(&rk);
                            }
                            w2
                        }
                        _ => w,
                    };
                    alive += d.weight as u64;
                    kept.push(d);
                } else if policy.is_some_and(|p| p.inhibit_on_failure) {
                    d.weight = 0;
                    kept.push(d);
                }
            }
            vs.dests = kept;
            if let Some(pol) = plan.and_then(|p| p.services.get(&key)) {
                let was_up = *self.quorum_up.get(&key).unwrap_or(&true);
                let now_up = if was_up {
                    alive + pol.hysteresis as u64 >= pol.quorum as u64
                } else {
                    alive >= pol.quorum as u64 + pol.hysteresis as u64
                };
                if now_up != was_up {
                    tracing::warn!(service = ?key, alive, quorum = pol.quorum, "quorum {}", if now_up { "regained" } else { "lost" });
                    let script = if now_up {
                        &pol.quorum_up
                    } else {
                        &pol.quorum_down
                    };
                    if let Some(s) = script {
                        run_script(s);
                    }
                }
                self.quorum_up.insert(key, now_up);
                if !now_up {
                    if let Some(sorry) = &pol.sorry {
                        if !vs
                            .dests
                            .iter()
                            .any(|d| d.addr == sorry.addr && d.port == sorry.port)
                        {
                            vs.dests.push(sorry.clone());
                        }
                    }
                }
            }
        }
        eff
    }

    /// Is any real server still ramping (the caller recomputes every second then)?
    pub fn ramping(&self) -> bool {
        !self.slow_start.is_zero() && !self.up_since.is_empty()
    }
}

/// Run a notify or quorum script in the background (bounded: killed after 60 s).
pub fn run_script(s: &Script) {
    let cmd = s.command.clone();
    let child = Command::new("/bin/sh")
        .arg("-c")
        .arg(&cmd)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    match child {
        Ok(mut child) => {
            let _ = std::thread::Builder::new()
                .name("rvsd-script".into())
                .spawn(move || {
                    let t0 = Instant::now();
                    loop {
                        match child.try_wait() {
                            Ok(Some(status)) => {
                                if !status.success() {
                                    tracing::warn!(script = %cmd, %status, "script failed");
                                }
                                return;
                            }
                            Ok(None) if t0.elapsed() < Duration::from_secs(60) => {
                                std::thread::sleep(Duration::from_millis(50))
                            }
                            _ => {
                                let _ = child.kill();
                                let _ = child.wait();
                                tracing::warn!(script = %cmd, "script killed after 60 s");
                                return;
                            }
                        }
                    }
                });
        }
        Err(e) => tracing::warn!(script = %cmd, "cannot run script: {e}"),
    }
}
