//! The instance state machine and sync groups driven with a fake clock.

// Test helpers outside #[test] functions build fixed, known-good values.
#![allow(clippy::unwrap_used)]

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use proptest::prelude::*;
use rvs_vrrp::{
    Action, Advert, Auth, Event, Instance, InstanceConfig, MemberAction, State, SyncGroup, Version,
};

fn ip(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(198, 51, 100, last))
}
fn vip() -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10))
}
fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

fn config(priority: u8, last: u8) -> InstanceConfig {
    InstanceConfig::new("VI_1", 51, priority, ip(last), vec![vip()])
}

fn instance(cfg: InstanceConfig) -> Instance {
    Instance::new(cfg).unwrap()
}

fn advert(priority: u8) -> Advert {
    Advert {
        version: Version::V2,
        vrid: 51,
        priority,
        advert_int_cs: 100,
        auth: Auth::None,
        addrs: vec![vip()],
    }
}

fn run(inst: &mut Instance, now: Duration, event: Event<'_>) -> Vec<Action> {
    let mut out = Vec::new();
    inst.handle(now, event, &mut out);
    out
}

fn sends(actions: &[Action]) -> Vec<u8> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::SendAdvert { priority } => Some(*priority),
            _ => None,
        })
        .collect()
}

#[test]
fn backup_takes_over_after_master_down_interval() {
    let mut b = instance(config(100, 2));
    let out = run(&mut b, Duration::ZERO, Event::Startup);
    assert_eq!(out, vec![Action::BecomeBackup { vips: vec![vip()] }]);
    assert_eq!(b.state(), State::Backup);
    // VRRPv2: 3 * 1 s + (256 - 100) / 256 s.
    let down = secs(3.0) + Duration::from_secs(156) / 256;
    assert_eq!(b.master_down_interval(), down);
    assert_eq!(b.next_deadline(), Some(down));
    assert!(run(&mut b, down - Duration::from_millis(1), Event::Timer).is_empty());
    let out = run(&mut b, down, Event::Timer);
    assert_eq!(
        out,
        vec![
            Action::SendAdvert { priority: 100 },
            Action::BecomeMaster { vips: vec![vip()] },
            Action::Announce {
                vips: vec![vip()],
                count: 5
            },
        ]
    );
    assert_eq!(b.state(), State::Master);
    assert_eq!(b.next_deadline(), Some(down + secs(1.0)));
    // Adverts every interval; the second announcement burst after garp_master_delay.
    let mut now = down;
    let mut bursts = 0;
    for _ in 0..6 {
        now = b.next_deadline().unwrap();
        for a in run(&mut b, now, Event::Timer) {
            if matches!(a, Action::Announce { count: 5, .. }) {
                bursts += 1;
            }
        }
    }
    assert_eq!(bursts, 1);
    assert_eq!(b.stats().adverts_sent, 7);
    assert!(now <= down + secs(6.0));
}

#[test]
fn adverts_from_the_master_hold_the_backup() {
    let mut b = instance(config(100, 2));
    run(&mut b, Duration::ZERO, Event::Startup);
    for s in 1..20 {
        let now = secs(f64::from(s));
        assert!(run(&mut b, now, Event::AdvertReceived(&advert(150), ip(1))).is_empty());
        assert!(run(&mut b, now, Event::Timer).is_empty());
    }
    assert_eq!(b.state(), State::Backup);
    assert_eq!(b.master_addr(), Some(ip(1)));
}

#[test]
fn address_owner_starts_as_master() {
    let mut m = instance(config(255, 1));
    let out = run(&mut m, Duration::ZERO, Event::Startup);
    assert_eq!(sends(&out), vec![255]);
    assert_eq!(m.state(), State::Master);
}

#[test]
fn master_yields_to_higher_priority_and_answers_lower() {
    let mut m = instance(config(150, 5));
    run(&mut m, Duration::ZERO, Event::Startup);
    run(&mut m, secs(4.0), Event::Timer);
    assert_eq!(m.state(), State::Master);
    // Lower priority: keepalived answers with its own advert at once.
    let out = run(
        &mut m,
        secs(4.5),
        Event::AdvertReceived(&advert(100), ip(9)),
    );
    assert_eq!(out, vec![Action::SendAdvert { priority: 150 }]);
    // Equal priority from a lower address: also answered.
    let out = run(
        &mut m,
        secs(4.6),
        Event::AdvertReceived(&advert(150), ip(4)),
    );
    assert_eq!(sends(&out), vec![150]);
    assert_eq!(m.state(), State::Master);
    // Equal priority from a higher address wins.
    let out = run(
        &mut m,
        secs(4.7),
        Event::AdvertReceived(&advert(150), ip(6)),
    );
    assert_eq!(out, vec![Action::BecomeBackup { vips: vec![vip()] }]);
    assert_eq!(m.state(), State::Backup);
    assert_eq!(m.master_addr(), Some(ip(6)));
}

#[test]
fn priority_zero_makes_the_backup_take_over_after_skew() {
    let mut b = instance(config(100, 2));
    run(&mut b, Duration::ZERO, Event::Startup);
    run(
        &mut b,
        secs(1.0),
        Event::AdvertReceived(&advert(150), ip(1)),
    );
    run(&mut b, secs(1.5), Event::AdvertReceived(&advert(0), ip(1)));
    assert_eq!(b.next_deadline(), Some(secs(1.5) + b.skew_time()));
    let at = secs(1.5) + b.skew_time();
    let out = run(&mut b, at, Event::Timer);
    assert!(out.contains(&Action::BecomeMaster { vips: vec![vip()] }));
}

#[test]
fn master_answers_priority_zero() {
    let mut m = instance(config(255, 1));
    run(&mut m, Duration::ZERO, Event::Startup);
    let out = run(&mut m, secs(0.5), Event::AdvertReceived(&advert(0), ip(2)));
    assert_eq!(sends(&out), vec![255]);
    assert_eq!(m.next_deadline(), Some(secs(1.5)));
}

#[test]
fn preempting_backup_ignores_a_lower_master() {
    let mut b = instance(config(200, 2));
    run(&mut b, Duration::ZERO, Event::Startup);
    let down = b.master_down_interval();
    // A lower-priority master keeps advertising; we discard it and take over.
    let mut took_over_at = None;
    for tenth in 1..100u32 {
        let now = Duration::from_millis(u64::from(tenth) * 100);
        if tenth % 10 == 0 {
            run(&mut b, now, Event::AdvertReceived(&advert(100), ip(1)));
        }
        if b.next_deadline().is_some_and(|d| d <= now) && b.state() == State::Backup {
            run(&mut b, now, Event::Timer);
            took_over_at = Some(now);
        }
    }
    let at = took_over_at.unwrap();
    assert!(
        at <= down + Duration::from_millis(100),
        "took over at {at:?}"
    );
    assert!(b.stats().discarded_lower >= 1);
}

#[test]
fn nopreempt_keeps_the_lower_master() {
    let mut cfg = config(200, 2);
    cfg.preempt = false;
    let mut b = instance(cfg);
    run(&mut b, Duration::ZERO, Event::Startup);
    for s in 1..30 {
        let now = secs(f64::from(s));
        run(&mut b, now, Event::AdvertReceived(&advert(100), ip(1)));
        run(&mut b, now, Event::Timer);
    }
    assert_eq!(b.state(), State::Backup);
    // Until the master stops.
    let last = b.next_deadline().unwrap();
    run(&mut b, last, Event::Timer);
    assert_eq!(b.state(), State::Master);
}

#[test]
fn preempt_delay_accepts_a_lower_master_for_a_while() {
    let mut cfg = config(200, 2);
    cfg.preempt_delay = secs(10.0);
    let mut b = instance(cfg);
    run(&mut b, Duration::ZERO, Event::Startup);
    let mut became = None;
    for s in 1..40u32 {
        let now = secs(f64::from(s));
        run(&mut b, now, Event::AdvertReceived(&advert(100), ip(1)));
        if b.next_deadline().is_some_and(|d| d <= now) {
            run(&mut b, now, Event::Timer);
        }
        if b.state() == State::Master {
            became = Some(s);
            break;
        }
    }
    // First lower advert at 1 s starts the delay; accepted until 11 s; the down timer
    // set by the last accepted advert (at 10 s) expires 3.2 s later.
    let s = became.unwrap();
    assert!((13..=15).contains(&s), "preempted at {s} s");
}

#[test]
fn v3_learns_the_master_interval() {
    let mut cfg = config(100, 2);
    cfg.version = Version::V3;
    let mut b = instance(cfg);
    run(&mut b, Duration::ZERO, Event::Startup);
    let mut adv = advert(150);
    adv.version = Version::V3;
    adv.advert_int_cs = 50;
    run(&mut b, secs(1.0), Event::AdvertReceived(&adv, ip(1)));
    assert_eq!(b.master_adver_int(), Duration::from_millis(500));
    // 3 * 0.5 s + (156 * 0.5 s) / 256.
    assert_eq!(
        b.master_down_interval(),
        Duration::from_millis(1500) + Duration::from_millis(500) * 156 / 256
    );
}

#[test]
fn receiver_checks_of_the_configuration() {
    let mut cfg = config(100, 2);
    cfg.auth = Auth::simple("secret");
    cfg.unicast_peers = vec![ip(1)];
    let mut b = instance(cfg);
    run(&mut b, Duration::ZERO, Event::Startup);
    let mut good = advert(150);
    good.auth = Auth::simple("secret");
    let mut wrong_pass = good.clone();
    wrong_pass.auth = Auth::simple("guess");
    let mut wrong_interval = good.clone();
    wrong_interval.advert_int_cs = 200;
    let mut other_vrid = good.clone();
    other_vrid.vrid = 52;
    run(&mut b, secs(1.0), Event::AdvertReceived(&wrong_pass, ip(1)));
    run(
        &mut b,
        secs(1.0),
        Event::AdvertReceived(&wrong_interval, ip(1)),
    );
    run(&mut b, secs(1.0), Event::AdvertReceived(&good, ip(7)));
    run(&mut b, secs(1.0), Event::AdvertReceived(&other_vrid, ip(1)));
    assert_eq!(b.stats().dropped, 3);
    assert_eq!(b.stats().adverts_received, 0);
    run(&mut b, secs(1.0), Event::AdvertReceived(&good, ip(1)));
    assert_eq!(b.stats().adverts_received, 1);
}

#[test]
fn interface_down_means_fault() {
    let mut m = instance(config(255, 1));
    run(&mut m, Duration::ZERO, Event::Startup);
    let out = run(&mut m, secs(1.0), Event::InterfaceDown);
    assert_eq!(
        out,
        vec![
            Action::SendAdvert { priority: 0 },
            Action::BecomeFault { vips: vec![vip()] }
        ]
    );
    assert_eq!(m.next_deadline(), None);
    assert!(run(
        &mut m,
        secs(2.0),
        Event::AdvertReceived(&advert(100), ip(2))
    )
    .is_empty());
    let out = run(&mut m, secs(3.0), Event::InterfaceUp);
    assert_eq!(m.state(), State::Master);
    assert_eq!(sends(&out), vec![255]);

    let mut b = instance(config(100, 2));
    run(&mut b, Duration::ZERO, Event::InterfaceDown);
    run(&mut b, Duration::ZERO, Event::Startup);
    assert_eq!(b.state(), State::Fault);
    run(&mut b, secs(1.0), Event::InterfaceUp);
    assert_eq!(b.state(), State::Backup);
}

#[test]
fn shutdown_of_a_master_sends_priority_zero() {
    let mut cfg = config(255, 1);
    cfg.notify.stop = Some("/bin/stop".into());
    cfg.notify.generic = Some("/bin/notify".into());
    let mut m = instance(cfg);
    run(&mut m, Duration::ZERO, Event::Startup);
    let out = run(&mut m, secs(1.0), Event::Shutdown);
    assert_eq!(
        out,
        vec![
            Action::SendAdvert { priority: 0 },
            Action::Stopped { vips: vec![vip()] },
            Action::RunNotify {
                script: "/bin/stop".into(),
                state: State::Init,
                generic: false
            },
            Action::RunNotify {
                script: "/bin/notify".into(),
                state: State::Init,
                generic: true
            },
        ]
    );
    assert_eq!(m.state(), State::Init);
    assert!(run(&mut m, secs(2.0), Event::Timer).is_empty());
}

#[test]
fn notify_scripts_follow_transitions() {
    let mut cfg = config(100, 2);
    cfg.notify.master = Some("/m".into());
    cfg.notify.backup = Some("/b".into());
    let mut b = instance(cfg);
    let out = run(&mut b, Duration::ZERO, Event::Startup);
    assert!(out.contains(&Action::RunNotify {
        script: "/b".into(),
        state: State::Backup,
        generic: false
    }));
    let out = run(&mut b, secs(4.0), Event::Timer);
    assert!(out.contains(&Action::RunNotify {
        script: "/m".into(),
        state: State::Master,
        generic: false
    }));
}

#[test]
fn config_validation() {
    let mut cfg = config(100, 2);
    cfg.advert_int = Duration::from_millis(1500);
    assert!(Instance::new(cfg.clone()).is_err());
    cfg.version = Version::V3;
    assert!(Instance::new(cfg.clone()).is_ok());
    cfg.auth = Auth::simple("x");
    assert!(Instance::new(cfg.clone()).is_err());
    let mut cfg = config(0, 2);
    assert!(Instance::new(cfg.clone()).is_err());
    cfg.priority = 10;
    cfg.vips = vec![IpAddr::V6("2001:db8::1".parse().unwrap())];
    assert!(Instance::new(cfg).is_err());
}

fn member_states(g: &SyncGroup) -> Vec<State> {
    g.members().iter().map(Instance::state).collect()
}

#[test]
fn sync_group_moves_together() {
    let mut a = config(100, 2);
    a.name = "VI_CLIENT".into();
    let mut b = config(100, 2);
    b.name = "VI_SERVER".into();
    b.vrid = 52;
    b.vips = vec![ip(100)];
    // The server-side instance would time out later (lower priority); the group still
    // moves as one.
    b.priority = 50;
    let mut g = SyncGroup::new("G", vec![instance(a), instance(b)], Default::default());
    let mut out: Vec<MemberAction> = Vec::new();
    g.startup(Duration::ZERO, &mut out);
    assert_eq!(member_states(&g), vec![State::Backup, State::Backup]);
    let first = g.next_deadline().unwrap();
    out.clear();
    g.timer(first, &mut out);
    assert_eq!(member_states(&g), vec![State::Master, State::Master]);
    assert_eq!(g.state(), State::Master);
    let became: Vec<Option<usize>> = out
        .iter()
        .filter(|m| matches!(m.action, Action::BecomeMaster { .. }))
        .map(|m| m.member)
        .collect();
    assert_eq!(became, vec![Some(0), Some(1)]);

    // A higher-priority peer on one member: both go back.
    let mut adv = advert(150);
    adv.vrid = 51;
    g.handle(0, secs(5.0), Event::AdvertReceived(&adv, ip(1)), &mut out);
    assert_eq!(member_states(&g), vec![State::Backup, State::Backup]);

    // One interface down: the whole group is in Fault, and stays there until it is up.
    g.handle(1, secs(6.0), Event::InterfaceDown, &mut out);
    assert_eq!(member_states(&g), vec![State::Fault, State::Fault]);
    assert_eq!(g.state(), State::Fault);
    g.handle(1, secs(7.0), Event::InterfaceUp, &mut out);
    assert_eq!(member_states(&g), vec![State::Backup, State::Backup]);
    assert_eq!(g.find(52, ip(2)), Some(1));
}

/// Two routers on one simulated link: every advert one sends reaches the other at
/// once (unless its "process" is stopped).
struct Link {
    routers: [Instance; 2],
    running: [bool; 2],
    masters_seen: Vec<(Duration, usize)>,
}

impl Link {
    fn new(p0: u8, p1: u8, preempt: bool) -> Link {
        let mut c0 = config(p0, 1);
        let mut c1 = config(p1, 2);
        c0.preempt = preempt;
        c1.preempt = preempt;
        Link {
            routers: [instance(c0), instance(c1)],
            running: [true, true],
            masters_seen: Vec::new(),
        }
    }

    fn deliver(&mut self, now: Duration, from: usize, actions: Vec<Action>) {
        for action in actions {
            match action {
                Action::SendAdvert { priority } => {
                    let to = 1 - from;
                    if self.running[to] {
                        let adv = self.routers[from].advert(priority);
                        let src = self.routers[from].config().local_addr;
                        let mut out = Vec::new();
                        self.routers[to].handle(now, Event::AdvertReceived(&adv, src), &mut out);
                        self.deliver(now, to, out);
                    }
                }
                Action::BecomeMaster { .. } => self.masters_seen.push((now, from)),
                _ => {}
            }
        }
    }

    fn event(&mut self, now: Duration, who: usize, event: Event<'_>) {
        let mut out = Vec::new();
        self.routers[who].handle(now, event, &mut out);
        self.deliver(now, who, out);
    }

    /// Advance the clock to `until`, firing timers in order.
    fn run_until(&mut self, until: Duration) {
        loop {
            let next = (0..2)
                .filter(|&i| self.running[i])
                .filter_map(|i| self.routers[i].next_deadline().map(|d| (d, i)))
                .min();
            match next {
                Some((d, i)) if d <= until => self.event(d, i, Event::Timer),
                _ => break,
            }
        }
    }

    fn states(&self) -> [State; 2] {
        [self.routers[0].state(), self.routers[1].state()]
    }
}

#[test]
fn two_routers_elect_fail_over_and_preempt() {
    let mut link = Link::new(150, 100, true);
    link.event(Duration::ZERO, 0, Event::Startup);
    link.event(Duration::ZERO, 1, Event::Startup);
    link.run_until(secs(10.0));
    assert_eq!(link.states(), [State::Master, State::Backup]);

    // The master's process dies without a word.
    link.running[0] = false;
    let stopped = secs(10.0);
    link.run_until(secs(20.0));
    assert_eq!(link.routers[1].state(), State::Master);
    let (at, who) = *link.masters_seen.last().unwrap();
    assert_eq!(who, 1);
    assert!(at - stopped <= link.routers[1].master_down_interval());

    // It comes back: Init, startup as backup, then preempts the lower master.
    link.running[0] = true;
    let mut r0 = instance(link.routers[0].config().clone());
    std::mem::swap(&mut link.routers[0], &mut r0);
    link.event(secs(20.0), 0, Event::Startup);
    link.run_until(secs(30.0));
    assert_eq!(link.states(), [State::Master, State::Backup]);
}

#[test]
fn graceful_shutdown_hands_over_within_skew() {
    let mut link = Link::new(150, 100, true);
    link.event(Duration::ZERO, 0, Event::Startup);
    link.event(Duration::ZERO, 1, Event::Startup);
    link.run_until(secs(10.0));
    link.event(secs(10.0), 0, Event::Shutdown);
    link.running[0] = false;
    link.run_until(secs(10.0) + link.routers[1].skew_time());
    assert_eq!(link.routers[1].state(), State::Master);
}

proptest! {
    /// Any priorities, any start order: the link settles on exactly one master, the
    /// one with the higher priority (on a tie whichever timed out first: a backup
    /// accepts an equal-priority master, the address breaks ties between masters only).
    #[test]
    fn one_master_after_settling(p0 in 1u8..=255, p1 in 1u8..=255, delay_ms in 0u64..5000) {
        let mut link = Link::new(p0, p1, true);
        link.event(Duration::ZERO, 0, Event::Startup);
        link.run_until(Duration::from_millis(delay_ms));
        link.event(Duration::from_millis(delay_ms), 1, Event::Startup);
        link.run_until(secs(30.0));
        let masters = link.states().iter().filter(|s| **s == State::Master).count();
        prop_assert_eq!(masters, 1);
        if p0 != p1 {
            let winner = if p1 > p0 { 1 } else { 0 };
            prop_assert_eq!(link.routers[winner].state(), State::Master);
        }
    }

    /// Random event sequences never panic and keep the timers consistent with the state.
    #[test]
    fn random_events_keep_invariants(
        priority in 1u8..=255,
        events in prop::collection::vec((0u8..7, 0u8..=255, 0u64..3000), 0..60),
    ) {
        let mut inst = instance(config(priority, 2));
        let mut now = Duration::ZERO;
        for (kind, prio, step) in events {
            now += Duration::from_millis(step);
            let adv = advert(prio);
            let event = match kind {
                0 => Event::Startup,
                1 => Event::AdvertReceived(&adv, ip(1)),
                2 => Event::AdvertReceived(&adv, ip(3)),
                3 => Event::InterfaceDown,
                4 => Event::InterfaceUp,
                5 => Event::Shutdown,
                _ => Event::Timer,
            };
            let mut out = Vec::new();
            inst.handle(now, event, &mut out);
            match inst.state() {
                State::Master => {
                    let d = inst.next_deadline().unwrap();
                    prop_assert!(d <= now + Duration::from_secs(5));
                }
                State::Backup => {
                    let d = inst.next_deadline().unwrap();
                    prop_assert!(d <= now + inst.master_down_interval());
                }
                State::Fault | State::Init => prop_assert_eq!(inst.next_deadline(), None),
            }
        }
    }
}

#[test]
fn garp_master_refresh_announces_again_while_master_only() {
    let mut cfg = config(100, 2);
    cfg.garp_master_delay = Duration::ZERO;
    cfg.garp_master_refresh = Some(secs(10.0));
    cfg.garp_master_refresh_repeat = 2;
    let mut m = instance(cfg);
    run(&mut m, Duration::ZERO, Event::Startup);
    let became = m.next_deadline().unwrap();
    run(&mut m, became, Event::Timer);
    assert_eq!(m.state(), State::Master);
    // Walk the timers for 35 s: refreshes at +10, +20, +30, two announcements each.
    let mut refreshes = Vec::new();
    let mut now = became;
    while now < became + secs(35.0) {
        now = m.next_deadline().unwrap();
        for a in run(&mut m, now, Event::Timer) {
            if let Action::Announce { count, .. } = a {
                assert_eq!(count, 2);
                refreshes.push(now - became);
            }
        }
    }
    assert_eq!(refreshes, vec![secs(10.0), secs(20.0), secs(30.0)]);
    // A higher-priority master takes over: no more refreshes.
    run(&mut m, now, Event::AdvertReceived(&advert(200), ip(9)));
    assert_eq!(m.state(), State::Backup);
    // The new master advertises every second; the backup never announces.
    for step in 1..=25 {
        let t = now + secs(f64::from(step));
        let mut out = run(&mut m, t, Event::AdvertReceived(&advert(200), ip(9)));
        out.extend(run(&mut m, t, Event::Timer));
        assert!(
            !out.iter().any(|a| matches!(a, Action::Announce { .. })),
            "{out:?}"
        );
        assert_eq!(m.state(), State::Backup);
    }
}
