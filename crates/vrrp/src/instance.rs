//! The sans-IO state machine of one VRRP instance: RFC 5798 section 6 (and RFC 3768)
//! with keepalived's refinements where it departs from the RFCs (a master answers a
//! lower-priority advert with its own; `nopreempt`; `preempt_delay`; announcement
//! repeats). Events and the caller's clock go in, [`Action`]s come out; the instance
//! never reads a clock or touches a socket, so every behaviour is testable with a fake
//! clock.
//!
//! Time is a [`Duration`] since an origin the caller chooses (monotonic).

use std::net::IpAddr;
use std::time::Duration;

use crate::config::{ConfigError, InstanceConfig};
use crate::packet::{Advert, Version};

/// Priority of the address owner.
pub const PRIORITY_OWNER: u8 = 255;
/// Priority a stopping master advertises.
pub const PRIORITY_STOP: u8 = 0;

/// Instance state (RFC 5798 Initialize, Backup, Master, plus keepalived's Fault).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    Init,
    Backup,
    Master,
    Fault,
}

impl State {
    /// The word keepalived passes to notify scripts.
    pub const fn as_str(self) -> &'static str {
        match self {
            State::Init => "STOP",
            State::Backup => "BACKUP",
            State::Master => "MASTER",
            State::Fault => "FAULT",
        }
    }
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happens to an instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event<'a> {
    /// Start the instance (leaves Init).
    Startup,
    /// A valid advertisement (already checked by [`crate::packet::parse`]) from `from`.
    AdvertReceived(&'a Advert, IpAddr),
    /// The clock reached [`Instance::next_deadline`] (extra calls are harmless).
    Timer,
    /// The interface lost carrier or its address.
    InterfaceDown,
    InterfaceUp,
    /// Stop: a master advertises priority 0 so a backup takes over at once.
    Shutdown,
}

/// What the caller must do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Send one advertisement with this priority (0 when giving up mastership).
    SendAdvert { priority: u8 },
    /// Add the VIPs to the interface.
    BecomeMaster { vips: Vec<IpAddr> },
    /// Send `count` gratuitous ARPs (IPv4) or unsolicited neighbour advertisements (IPv6)
    /// for each VIP.
    Announce { vips: Vec<IpAddr>, count: u32 },
    /// Remove the VIPs if held (idempotent: also emitted when entering Backup from Init).
    BecomeBackup { vips: Vec<IpAddr> },
    /// Remove the VIPs if held; the instance waits for [`Event::InterfaceUp`].
    BecomeFault { vips: Vec<IpAddr> },
    /// Remove the VIPs if held; the instance is stopped (Init).
    Stopped { vips: Vec<IpAddr> },
    /// Run a notify script. `generic` scripts get keepalived's arguments
    /// `INSTANCE <name> <STATE> <priority>` (or `GROUP ...` for a sync group).
    RunNotify {
        script: String,
        state: State,
        generic: bool,
    },
}

/// Counters for status output.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub adverts_sent: u64,
    pub adverts_received: u64,
    pub priority_zero_sent: u64,
    pub priority_zero_received: u64,
    pub became_master: u64,
    pub released_master: u64,
    /// Adverts for our VRID dropped: wrong version, interval (v2), auth, family or peer.
    pub dropped: u64,
    /// Lower-priority adverts a preempting backup discarded.
    pub discarded_lower: u64,
}

/// One VRRP instance.
#[derive(Clone, Debug)]
pub struct Instance {
    cfg: InstanceConfig,
    state: State,
    iface_up: bool,
    /// RFC 5798 Master_Adver_Interval: learned from the master's adverts (v3).
    master_adver_int: Duration,
    /// Master: next advert. Backup: master down.
    timer: Option<Duration>,
    /// Second announcement burst after becoming master.
    garp_timer: Option<Duration>,
    /// Next periodic announcement while master (`garp_master_refresh`).
    refresh_timer: Option<Duration>,
    /// keepalived's preempt_time: when a lower-priority master stops being accepted.
    preempt_until: Option<Duration>,
    master_addr: Option<IpAddr>,
    stats: Stats,
}

impl Instance {
    pub fn new(cfg: InstanceConfig) -> Result<Instance, ConfigError> {
        cfg.validate()?;
        Ok(Instance {
            master_adver_int: cfg.advert_int,
            cfg,
            state: State::Init,
            iface_up: true,
            timer: None,
            garp_timer: None,
            refresh_timer: None,
            preempt_until: None,
            master_addr: None,
            stats: Stats::default(),
        })
    }

    pub fn config(&self) -> &InstanceConfig {
        &self.cfg
    }
    pub fn state(&self) -> State {
        self.state
    }
    pub fn stats(&self) -> &Stats {
        &self.stats
    }
    pub fn interface_up(&self) -> bool {
        self.iface_up
    }
    /// The address of the current master as last heard (None while we are master or
    /// have heard none).
    pub fn master_addr(&self) -> Option<IpAddr> {
        self.master_addr
    }
    /// The master's advertisement interval currently in use (v3 learns it).
    pub fn master_adver_int(&self) -> Duration {
        self.master_adver_int
    }

    /// Skew_Time: VRRPv3 `((256 - priority) * Master_Adver_Interval) / 256`; VRRPv2
    /// `(256 - priority) / 256` seconds (RFC 3768 does not scale it by the interval).
    pub fn skew_time(&self) -> Duration {
        let weight = 256 - u32::from(self.cfg.priority);
        match self.cfg.version {
            Version::V3 => self.master_adver_int * weight / 256,
            Version::V2 => Duration::from_secs(1) * weight / 256,
        }
    }

    /// Master_Down_Interval: `3 * Master_Adver_Interval + Skew_Time`.
    pub fn master_down_interval(&self) -> Duration {
        self.master_adver_int * 3 + self.skew_time()
    }

    /// The earliest time [`Event::Timer`] must be delivered, if any.
    pub fn next_deadline(&self) -> Option<Duration> {
        [self.timer, self.garp_timer, self.refresh_timer]
            .into_iter()
            .flatten()
            .min()
    }

    /// The advert this instance sends with `priority`.
    pub fn advert(&self, priority: u8) -> Advert {
        Advert {
            version: self.cfg.version,
            vrid: self.cfg.vrid,
            priority,
            advert_int_cs: self.cfg.advert_int_cs(),
            auth: self.cfg.auth,
            addrs: self.cfg.vips.clone(),
        }
    }

    /// Feed one event at time `now`; the resulting actions are appended to `out` in the
    /// order they must be carried out.
    pub fn handle(&mut self, now: Duration, event: Event<'_>, out: &mut Vec<Action>) {
        match event {
            Event::Startup => self.startup(now, out),
            Event::AdvertReceived(advert, from) => self.advert_received(now, advert, from, out),
            Event::Timer => self.timer(now, out),
            Event::InterfaceDown => {
                self.iface_up = false;
                if matches!(self.state, State::Backup | State::Master) {
                    self.enter_fault(out);
                }
            }
            Event::InterfaceUp => {
                self.iface_up = true;
                if self.state == State::Fault {
                    self.leave_fault(now, out);
                }
            }
            Event::Shutdown => self.shutdown(out),
        }
    }

    fn startup(&mut self, now: Duration, out: &mut Vec<Action>) {
        if self.state != State::Init {
            return;
        }
        self.master_adver_int = self.cfg.advert_int;
        if !self.iface_up {
            self.enter_fault(out);
        } else if self.cfg.priority == PRIORITY_OWNER {
            self.become_master(now, out);
        } else {
            self.enter_backup(now, out);
        }
    }

    fn shutdown(&mut self, out: &mut Vec<Action>) {
        if self.state == State::Init {
            return;
        }
        if self.state == State::Master {
            self.send(PRIORITY_STOP, out);
            self.stats.released_master += 1;
        }
        self.state = State::Init;
        self.timer = None;
        self.garp_timer = None;
        self.refresh_timer = None;
        self.preempt_until = None;
        self.master_addr = None;
        out.push(Action::Stopped {
            vips: self.cfg.vips.clone(),
        });
        self.notify(State::Init, out);
    }

    fn timer(&mut self, now: Duration, out: &mut Vec<Action>) {
        if self.garp_timer.is_some_and(|t| t <= now) {
            self.garp_timer = None;
            if self.state == State::Master {
                out.push(Action::Announce {
                    vips: self.cfg.vips.clone(),
                    count: self.cfg.garp_master_repeat,
                });
            }
        }
        if self.refresh_timer.is_some_and(|t| t <= now) {
            self.refresh_timer = None;
            if let (State::Master, Some(every)) = (self.state, self.cfg.garp_master_refresh) {
                out.push(Action::Announce {
                    vips: self.cfg.vips.clone(),
                    count: self.cfg.garp_master_refresh_repeat.max(1),
                });
                self.refresh_timer = Some(now + every);
            }
        }
        let Some(deadline) = self.timer else { return };
        if deadline > now {
            return;
        }
        match self.state {
            State::Master => {
                self.send(self.cfg.priority, out);
                self.timer = Some(now + self.cfg.advert_int);
            }
            State::Backup => self.become_master(now, out),
            State::Init | State::Fault => self.timer = None,
        }
    }

    /// Receiver checks that depend on the configuration (the packet itself was checked
    /// by the parser). Returns false to drop.
    fn acceptable(&self, advert: &Advert, from: IpAddr) -> bool {
        if advert.version != self.cfg.version || from.is_ipv4() != self.cfg.local_addr.is_ipv4() {
            return false;
        }
        // RFC 3768: the interval MUST match; keepalived drops mismatches too, to keep
        // two routers with different intervals from both being master.
        if self.cfg.version == Version::V2 && advert.advert_int_cs != self.cfg.advert_int_cs() {
            return false;
        }
        if !self.cfg.auth.accepts(&advert.auth) {
            return false;
        }
        self.cfg.unicast_peers.is_empty() || self.cfg.unicast_peers.contains(&from)
    }

    fn advert_received(
        &mut self,
        now: Duration,
        advert: &Advert,
        from: IpAddr,
        out: &mut Vec<Action>,
    ) {
        if advert.vrid != self.cfg.vrid || matches!(self.state, State::Init | State::Fault) {
            return;
        }
        if !self.acceptable(advert, from) {
            self.stats.dropped += 1;
            return;
        }
        self.stats.adverts_received += 1;
        if advert.priority == PRIORITY_STOP {
            self.stats.priority_zero_received += 1;
        }
        match self.state {
            State::Backup => self.backup_rx(now, advert, from),
            State::Master => self.master_rx(now, advert, from, out),
            State::Init | State::Fault => {}
        }
    }

    fn learn_interval(&mut self, advert: &Advert) {
        if self.cfg.version == Version::V3 {
            self.master_adver_int = Duration::from_millis(u64::from(advert.advert_int_cs) * 10);
        }
    }

    fn backup_rx(&mut self, now: Duration, advert: &Advert, from: IpAddr) {
        let ours = self.cfg.priority;
        if advert.priority == PRIORITY_STOP {
            // The master is leaving: take over after Skew_Time only.
            self.timer = Some(now + self.skew_time());
            return;
        }
        let in_preempt_delay =
            !self.cfg.preempt_delay.is_zero() && self.preempt_until.is_none_or(|t| t > now);
        if !self.cfg.preempt || advert.priority >= ours || in_preempt_delay {
            self.learn_interval(advert);
            self.timer = Some(now + self.master_down_interval());
            self.master_addr = Some(from);
            if !self.cfg.preempt_delay.is_zero() {
                if advert.priority >= ours {
                    self.preempt_until = None;
                } else if self.preempt_until.is_none() {
                    self.preempt_until = Some(now + self.cfg.preempt_delay);
                }
            }
        } else {
            // A lower-priority master while we preempt: ignore it and let the
            // Master_Down timer run out.
            self.stats.discarded_lower += 1;
            self.master_addr = Some(from);
        }
    }

    fn master_rx(&mut self, now: Duration, advert: &Advert, from: IpAddr, out: &mut Vec<Action>) {
        let ours = self.cfg.priority;
        let addr_order = addr_key(from).cmp(&addr_key(self.cfg.local_addr));
        if advert.priority == PRIORITY_STOP {
            self.send(ours, out);
            self.timer = Some(now + self.cfg.advert_int);
            return;
        }
        let theirs_wins = advert.priority > ours || (advert.priority == ours && addr_order.is_gt());
        if theirs_wins {
            self.learn_interval(advert);
            self.master_addr = Some(from);
            self.stats.released_master += 1;
            self.enter_backup_keeping_interval(now, out);
        } else if (advert.priority < ours || addr_order.is_lt()) && !self.cfg.lower_prio_no_advert {
            // keepalived answers a lower-priority master at once, so it steps down
            // without waiting for our next advert.
            self.send(ours, out);
        }
    }

    fn send(&mut self, priority: u8, out: &mut Vec<Action>) {
        self.stats.adverts_sent += 1;
        if priority == PRIORITY_STOP {
            self.stats.priority_zero_sent += 1;
        }
        out.push(Action::SendAdvert { priority });
    }

    fn become_master(&mut self, now: Duration, out: &mut Vec<Action>) {
        // Advert first: the old master (if any) drops the VIPs before our announcements.
        self.send(self.cfg.priority, out);
        self.state = State::Master;
        self.stats.became_master += 1;
        self.master_addr = None;
        self.preempt_until = None;
        out.push(Action::BecomeMaster {
            vips: self.cfg.vips.clone(),
        });
        if self.cfg.garp_master_repeat > 0 {
            out.push(Action::Announce {
                vips: self.cfg.vips.clone(),
                count: self.cfg.garp_master_repeat,
            });
            if !self.cfg.garp_master_delay.is_zero() {
                self.garp_timer = Some(now + self.cfg.garp_master_delay);
            }
        }
        self.refresh_timer = self
            .cfg
            .garp_master_refresh
            .filter(|d| !d.is_zero())
            .map(|d| now + d);
        self.timer = Some(now + self.cfg.advert_int);
        self.notify(State::Master, out);
    }

    fn enter_backup(&mut self, now: Duration, out: &mut Vec<Action>) {
        self.master_adver_int = self.cfg.advert_int;
        self.enter_backup_keeping_interval(now, out);
    }

    fn enter_backup_keeping_interval(&mut self, now: Duration, out: &mut Vec<Action>) {
        self.state = State::Backup;
        self.garp_timer = None;
        self.refresh_timer = None;
        self.preempt_until = None;
        self.timer = Some(now + self.master_down_interval());
        out.push(Action::BecomeBackup {
            vips: self.cfg.vips.clone(),
        });
        self.notify(State::Backup, out);
    }

    fn enter_fault(&mut self, out: &mut Vec<Action>) {
        if self.state == State::Master {
            self.send(PRIORITY_STOP, out);
            self.stats.released_master += 1;
        }
        self.state = State::Fault;
        self.timer = None;
        self.garp_timer = None;
        self.refresh_timer = None;
        self.preempt_until = None;
        self.master_addr = None;
        out.push(Action::BecomeFault {
            vips: self.cfg.vips.clone(),
        });
        self.notify(State::Fault, out);
    }

    fn leave_fault(&mut self, now: Duration, out: &mut Vec<Action>) {
        if self.cfg.priority == PRIORITY_OWNER {
            self.master_adver_int = self.cfg.advert_int;
            self.become_master(now, out);
        } else {
            self.enter_backup(now, out);
        }
    }

    fn notify(&self, state: State, out: &mut Vec<Action>) {
        let scripts = &self.cfg.notify;
        let specific = match state {
            State::Master => &scripts.master,
            State::Backup => &scripts.backup,
            State::Fault => &scripts.fault,
            State::Init => &scripts.stop,
        };
        if let Some(script) = specific {
            out.push(Action::RunNotify {
                script: script.clone(),
                state,
                generic: false,
            });
        }
        if let Some(script) = &scripts.generic {
            out.push(Action::RunNotify {
                script: script.clone(),
                state,
                generic: true,
            });
        }
    }

    // Sync-group hooks: a group moves all its members together.

    /// Become master now if in Backup (a sync group member went master).
    pub fn force_master(&mut self, now: Duration, out: &mut Vec<Action>) {
        if self.state == State::Backup {
            self.become_master(now, out);
        }
    }

    /// Become backup if master, or leave a forced fault if the interface is up.
    pub fn force_backup(&mut self, now: Duration, out: &mut Vec<Action>) {
        match self.state {
            State::Master => {
                self.stats.released_master += 1;
                self.enter_backup(now, out);
            }
            State::Fault if self.iface_up => self.enter_backup(now, out),
            _ => {}
        }
    }

    /// Enter Fault although the own interface is up (another member's is down).
    pub fn force_fault(&mut self, out: &mut Vec<Action>) {
        if matches!(self.state, State::Backup | State::Master) {
            self.enter_fault(out);
        }
    }
}

/// Addresses compare as unsigned integers in network order (RFC 5798 6.4.3).
fn addr_key(addr: IpAddr) -> u128 {
    match addr {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}
