//! Interoperability with Debian's keepalived (2.2.7): two network namespaces on a veth
//! pair, keepalived on one side, our adapter ([`run_instance`]) on the other. Shows
//! both directions of the election: the higher priority wins, the other side takes
//! over when the master stops, and a returning higher-priority router preempts.
//!
//! Needs root and `keepalived` on the PATH; skips with a message otherwise. Takeover
//! times are printed (`--nocapture`), not asserted: waits are bounded, generous
//! timeouts only.

// Test scaffolding: failures to set up the lab should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::io;
use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rvs_vrrp::linux::{run_instance, Adapter, Observer};
use rvs_vrrp::{Action, Auth, Instance, InstanceConfig, State, Version, VrrpError};

const KEEPALIVED_ADDR: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
const RVS_ADDR: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 2);
const VIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);
const VIP6: &str = "2001:db8:51::10";
const KEEPALIVED_IF: &str = "vka";
const RVS_IF: &str = "vrv";

fn skip_reason() -> Option<&'static str> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("not root");
    }
    let found = Command::new("keepalived")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !found {
        return Some("keepalived not installed (apt-get install keepalived)");
    }
    None
}

fn sh(args: &[&str]) {
    let status = Command::new(args[0]).args(&args[1..]).status().unwrap();
    assert!(status.success(), "{args:?} failed");
}

/// Two namespaces joined by a veth pair, removed on drop.
struct Lab {
    ka_ns: String,
    rvs_ns: String,
    dir: PathBuf,
}

impl Lab {
    fn new(tag: &str, ipv6: bool) -> Lab {
        let id = format!("rvsvrrp{}{tag}", std::process::id());
        let lab = Lab {
            ka_ns: format!("{id}k"),
            rvs_ns: format!("{id}r"),
            dir: std::env::temp_dir().join(&id),
        };
        let _ = fs::remove_dir_all(&lab.dir);
        fs::create_dir_all(&lab.dir).unwrap();
        sh(&["ip", "netns", "add", &lab.ka_ns]);
        sh(&["ip", "netns", "add", &lab.rvs_ns]);
        sh(&[
            "ip",
            "link",
            "add",
            KEEPALIVED_IF,
            "netns",
            &lab.ka_ns,
            "type",
            "veth",
            "peer",
            "name",
            RVS_IF,
            "netns",
            &lab.rvs_ns,
        ]);
        for (ns, dev, addr) in [
            (&lab.ka_ns, KEEPALIVED_IF, KEEPALIVED_ADDR),
            (&lab.rvs_ns, RVS_IF, RVS_ADDR),
        ] {
            if ipv6 {
                // No duplicate address detection: link-local addresses usable at once.
                sh(&[
                    "ip",
                    "netns",
                    "exec",
                    ns,
                    "sysctl",
                    "-qw",
                    &format!("net.ipv6.conf.{dev}.accept_dad=0"),
                ]);
            }
            sh(&[
                "ip",
                "-n",
                ns,
                "addr",
                "add",
                &format!("{addr}/24"),
                "dev",
                dev,
            ]);
            sh(&["ip", "-n", ns, "link", "set", "lo", "up"]);
            sh(&["ip", "-n", ns, "link", "set", dev, "up"]);
        }
        lab
    }

    fn has_vip(&self, ns: &str, dev: &str, vip: &str) -> bool {
        let out = Command::new("ip")
            .args(["-n", ns, "-o", "addr", "show", "dev", dev])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).contains(&format!(" {vip}/"))
    }

    fn link_local(&self, ns: &str, dev: &str) -> Ipv6Addr {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let out = Command::new("ip")
                .args([
                    "-n", ns, "-6", "-o", "addr", "show", "dev", dev, "scope", "link",
                ])
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout);
            if let Some(addr) = text
                .split_whitespace()
                .find_map(|w| w.strip_suffix("/64").and_then(|a| a.parse().ok()))
            {
                return addr;
            }
            assert!(Instant::now() < deadline, "no link-local address on {dev}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for ns in [&self.ka_ns, &self.rvs_ns] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// keepalived running VRRP only in the keepalived namespace; killed (by PID) on drop.
struct Keepalived {
    child: Child,
    /// keepalived forks a VRRP child; its PID file lets us end it by PID too.
    vrrp_pidfile: PathBuf,
}

impl Keepalived {
    fn start(lab: &Lab, name: &str, config: &str) -> Keepalived {
        let conf = lab.dir.join(format!("{name}.conf"));
        fs::write(&conf, config).unwrap();
        let log = fs::File::create(lab.dir.join(format!("{name}.log"))).unwrap();
        let vrrp_pidfile = lab.dir.join(format!("{name}.vrrp.pid"));
        let child = Command::new("ip")
            .args([
                "netns",
                "exec",
                &lab.ka_ns,
                "keepalived",
                "-n",
                "-l",
                "-D",
                "--vrrp",
                "-f",
            ])
            .arg(&conf)
            .arg("-p")
            .arg(lab.dir.join(format!("{name}.pid")))
            .arg("-r")
            .arg(&vrrp_pidfile)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        Keepalived {
            child,
            vrrp_pidfile,
        }
    }

    /// SIGKILL the VRRP child if it outlived its parent.
    fn kill_vrrp_child(&self) {
        let pid = fs::read_to_string(&self.vrrp_pidfile)
            .ok()
            .and_then(|s| s.trim().parse::<libc::pid_t>().ok());
        if let Some(pid) = pid.filter(|p| *p > 1) {
            // SAFETY: signalling the VRRP process our keepalived started, by PID.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }

    /// Stop without a word (no priority-0 advert): a crashed master.
    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.kill_vrrp_child();
    }

    /// SIGTERM: keepalived sends priority 0 and removes its VIPs.
    fn terminate(mut self) {
        // SAFETY: signalling our own child by its PID.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Keepalived {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
            self.kill_vrrp_child();
        }
    }
}

fn keepalived_conf(
    version: Version,
    priority: u8,
    vip: &str,
    unicast: Option<(IpAddr, IpAddr)>,
) -> String {
    let (ver, auth) = match version {
        Version::V2 => (
            2,
            "    authentication {\n        auth_type PASS\n        auth_pass secret\n    }\n",
        ),
        Version::V3 => (3, ""),
    };
    let unicast = match unicast {
        Some((src, peer)) => {
            format!("    unicast_src_ip {src}\n    unicast_peer {{\n        {peer}\n    }}\n")
        }
        None => String::new(),
    };
    format!(
        "global_defs {{\n    router_id rvs_interop\n    vrrp_version {ver}\n}}\n\
         vrrp_instance VI_1 {{\n    state BACKUP\n    interface {KEEPALIVED_IF}\n    virtual_router_id 51\n    \
         priority {priority}\n    advert_int 1\n{auth}{unicast}    virtual_ipaddress {{\n        {vip} dev {KEEPALIVED_IF}\n    }}\n}}\n"
    )
}

/// Records every action with the time it was carried out.
#[derive(Clone, Default)]
struct Recorder {
    actions: Arc<Mutex<Vec<(Instant, Action, bool)>>>,
    invalid: Arc<Mutex<Vec<VrrpError>>>,
}

impl Observer for Recorder {
    fn action(&mut self, action: &Action, result: &io::Result<()>) {
        if let Err(e) = result {
            eprintln!("rvs action {action:?} failed: {e}");
        }
        self.actions
            .lock()
            .unwrap()
            .push((Instant::now(), action.clone(), result.is_ok()));
    }
    fn invalid(&mut self, error: VrrpError) {
        self.invalid.lock().unwrap().push(error);
    }
}

impl Recorder {
    /// Time of the last transition to `state`, if any.
    fn last(&self, wanted: State) -> Option<Instant> {
        self.actions
            .lock()
            .unwrap()
            .iter()
            .rev()
            .find(|(_, a, _)| {
                matches!(
                    (a, wanted),
                    (Action::BecomeMaster { .. }, State::Master)
                        | (Action::BecomeBackup { .. }, State::Backup)
                )
            })
            .map(|(t, _, _)| *t)
    }
    fn adverts_sent(&self) -> usize {
        self.actions
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, a, ok)| *ok && matches!(a, Action::SendAdvert { .. }))
            .count()
    }
}

/// Our instance running in a thread that entered the rvs namespace.
struct Rvs {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<io::Result<()>>>,
    rec: Recorder,
}

impl Rvs {
    fn start(lab: &Lab, cfg: InstanceConfig) -> Rvs {
        Rvs::start_tracking(lab, cfg, None, None)
    }

    /// Like [`Rvs::start`], also tracking interface `track_if` and `flag`; the VIPs get
    /// the label `vrv:vip` when tracking anything.
    fn start_tracking(
        lab: &Lab,
        cfg: InstanceConfig,
        track_if: Option<&str>,
        flag: Option<Arc<AtomicBool>>,
    ) -> Rvs {
        let labelled: Vec<IpAddr> = if track_if.is_some() || flag.is_some() {
            cfg.vips.clone()
        } else {
            Vec::new()
        };
        let track_if = track_if.map(str::to_owned);
        let stop = Arc::new(AtomicBool::new(false));
        let rec = Recorder::default();
        let ns_path = format!("/run/netns/{}", lab.rvs_ns);
        let (stop2, mut rec2) = (stop.clone(), rec.clone());
        let thread = std::thread::spawn(move || {
            let ns = fs::File::open(&ns_path)?;
            // SAFETY: setns on this thread only; the file descriptor is valid.
            if unsafe { libc::setns(std::os::fd::AsRawFd::as_raw_fd(&ns), libc::CLONE_NEWNET) } != 0
            {
                return Err(io::Error::last_os_error());
            }
            let mut instance =
                Instance::new(cfg).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
            let mut adapter = Adapter::open(&instance, RVS_IF)?;
            if let Some(name) = &track_if {
                adapter.track_interface(name);
            }
            if let Some(flag) = flag {
                adapter.track_flag(flag);
            }
            for vip in labelled {
                let prefix = if vip.is_ipv4() { 32 } else { 128 };
                adapter.place_vip(vip, None, prefix, Some("vrv:vip"))?;
            }
            run_instance(&mut instance, &mut adapter, &stop2, &mut rec2)
        });
        Rvs {
            stop,
            thread: Some(thread),
            rec,
        }
    }

    /// Graceful stop: priority-0 advert, VIPs removed.
    fn shutdown(mut self) {
        self.finish();
    }

    fn finish(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            match t.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => panic!("rvs instance failed: {e}"),
                Err(_) => panic!("rvs instance thread panicked"),
            }
        }
    }
}

impl Drop for Rvs {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            self.finish();
        } else {
            self.stop.store(true, Ordering::Relaxed);
        }
    }
}

/// Drop every VRRP packet a namespace sends (a router that hangs without a word).
fn silence(ns: &str) {
    sh(&[
        "ip",
        "netns",
        "exec",
        ns,
        "nft",
        "add table inet rvs_silence",
    ]);
    sh(&[
        "ip",
        "netns",
        "exec",
        ns,
        "nft",
        "add chain inet rvs_silence out { type filter hook output priority 0; }",
    ]);
    sh(&[
        "ip",
        "netns",
        "exec",
        ns,
        "nft",
        "add rule inet rvs_silence out meta l4proto 112 drop",
    ]);
}

fn unsilence(ns: &str) {
    sh(&[
        "ip",
        "netns",
        "exec",
        ns,
        "nft",
        "delete table inet rvs_silence",
    ]);
}

/// Poll `cond` every 50 ms for at most `limit`; the time it took when it held.
fn wait_for(limit: Duration, mut cond: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if cond() {
            return Some(start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

/// Generous bound for anything the protocol does within a few seconds.
const PATIENCE: Duration = Duration::from_secs(15);

fn rvs_config(version: Version, priority: u8, local: IpAddr, vip: IpAddr) -> InstanceConfig {
    let mut cfg = InstanceConfig::new("VI_1", 51, priority, local, vec![vip]);
    cfg.version = version;
    if version == Version::V2 {
        cfg.auth = Auth::simple("secret");
    }
    cfg
}

/// Runs both directions of the election against keepalived.
fn election_scenario(tag: &str, version: Version, ipv6: bool, unicast: bool) {
    if let Some(reason) = skip_reason() {
        // Straight to stderr: the test harness captures eprintln! of passing tests.
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED keepalived interop ({tag}): {reason}"
        );
        return;
    }
    let lab = Lab::new(tag, ipv6);
    let (ka_local, rvs_local, vip): (IpAddr, IpAddr, String) = if ipv6 {
        (
            IpAddr::V6(lab.link_local(&lab.ka_ns, KEEPALIVED_IF)),
            IpAddr::V6(lab.link_local(&lab.rvs_ns, RVS_IF)),
            VIP6.to_owned(),
        )
    } else {
        (
            IpAddr::V4(KEEPALIVED_ADDR),
            IpAddr::V4(RVS_ADDR),
            VIP.to_string(),
        )
    };
    let vip_ip: IpAddr = vip.parse().unwrap();
    let ka_unicast = unicast.then_some((ka_local, rvs_local));
    let rvs_cfg = |priority| {
        let mut cfg = rvs_config(version, priority, rvs_local, vip_ip);
        if unicast {
            cfg.unicast_peers = vec![ka_local];
        }
        cfg
    };
    let ka_has_vip = || lab.has_vip(&lab.ka_ns, KEEPALIVED_IF, &vip);
    let rvs_has_vip = || lab.has_vip(&lab.rvs_ns, RVS_IF, &vip);
    let skew = |priority: u8| Duration::from_secs(1) * (256 - u32::from(priority)) / 256;

    // 1. keepalived 150 vs rvs 100: keepalived wins, we stay backup on its adverts.
    let ka = Keepalived::start(
        &lab,
        "ka150",
        &keepalived_conf(version, 150, &vip, ka_unicast),
    );
    let rvs = Rvs::start(&lab, rvs_cfg(100));
    assert!(
        wait_for(PATIENCE, ka_has_vip).is_some(),
        "keepalived never became master"
    );
    // Several advert intervals with both running: roles must stay put.
    std::thread::sleep(Duration::from_secs(5));
    assert!(ka_has_vip(), "keepalived lost the VIP");
    assert!(
        !rvs_has_vip(),
        "rvs took the VIP although keepalived is master"
    );
    assert!(
        rvs.rec.last(State::Master).is_none(),
        "rvs went master under a higher keepalived"
    );
    assert!(
        rvs.rec.invalid.lock().unwrap().is_empty(),
        "rvs rejected keepalived adverts: {:?}",
        rvs.rec.invalid.lock().unwrap()
    );

    // 2. keepalived falls silent (as if it hung; a killed keepalived still sends
    //    priority 0 from its VRRP child): rvs takes over after Master_Down_Interval.
    let silenced = Instant::now();
    silence(&lab.ka_ns);
    assert!(
        wait_for(PATIENCE, rvs_has_vip).is_some(),
        "rvs never took over"
    );
    let took = rvs.rec.last(State::Master).unwrap() - silenced;
    println!(
        "[{tag}] keepalived silenced -> rvs master after {took:?} (3 x advert_int + skew = {:?})",
        Duration::from_secs(3) + skew(100)
    );
    ka.kill();
    unsilence(&lab.ka_ns);

    // 3. keepalived comes back with the higher priority and preempts.
    let ka = Keepalived::start(
        &lab,
        "ka150b",
        &keepalived_conf(version, 150, &vip, ka_unicast),
    );
    assert!(
        wait_for(PATIENCE, || ka_has_vip() && !rvs_has_vip()).is_some(),
        "keepalived did not preempt rvs"
    );
    assert!(rvs.rec.last(State::Backup).unwrap() > rvs.rec.last(State::Master).unwrap());
    println!("[{tag}] keepalived restarted -> preempted rvs");
    ka.terminate();
    rvs.shutdown();

    // 4. Other direction: rvs 200 vs keepalived 100: rvs wins, keepalived accepts our adverts.
    let rvs = Rvs::start(&lab, rvs_cfg(200));
    let ka = Keepalived::start(
        &lab,
        "ka100",
        &keepalived_conf(version, 100, &vip, ka_unicast),
    );
    assert!(
        wait_for(PATIENCE, rvs_has_vip).is_some(),
        "rvs never became master"
    );
    std::thread::sleep(Duration::from_secs(5));
    assert!(
        rvs_has_vip() && !ka_has_vip(),
        "keepalived did not accept rvs as master"
    );
    assert!(rvs.rec.adverts_sent() >= 5);

    // 5. rvs stops gracefully (priority 0): keepalived takes over after its skew time.
    rvs.shutdown();
    let took = wait_for(PATIENCE, ka_has_vip).expect("keepalived never took over");
    println!(
        "[{tag}] rvs shut down (priority 0) -> keepalived master after {took:?} (skew = {:?})",
        skew(100)
    );
    assert!(!rvs_has_vip());

    // 6. rvs returns with the higher priority and preempts keepalived.
    let rvs = Rvs::start(&lab, rvs_cfg(200));
    assert!(
        wait_for(PATIENCE, || rvs_has_vip() && !ka_has_vip()).is_some(),
        "rvs did not preempt keepalived"
    );
    println!("[{tag}] rvs restarted -> preempted keepalived");

    // 7. rvs falls silent without a priority-0 advert (as if it crashed): a firewall
    //    rule in its namespace drops its adverts. keepalived takes over after its
    //    Master_Down_Interval.
    let silenced = Instant::now();
    sh(&[
        "ip",
        "netns",
        "exec",
        &lab.rvs_ns,
        "nft",
        "add table inet rvs_silence",
    ]);
    sh(&[
        "ip",
        "netns",
        "exec",
        &lab.rvs_ns,
        "nft",
        "add chain inet rvs_silence out { type filter hook output priority 0; }",
    ]);
    sh(&[
        "ip",
        "netns",
        "exec",
        &lab.rvs_ns,
        "nft",
        "add rule inet rvs_silence out meta l4proto 112 drop",
    ]);
    let took =
        wait_for(PATIENCE, ka_has_vip).expect("keepalived never took over from a silent rvs");
    println!(
        "[{tag}] rvs silenced -> keepalived master after {took:?} (3 x advert_int + skew = {:?}; {:?} since)",
        Duration::from_secs(3) + skew(100),
        silenced.elapsed()
    );
    rvs.shutdown();
    ka.terminate();
    assert_keepalived_accepted_us(&lab);
}

/// keepalived logs every advert it rejects; none of ours may be among them.
fn assert_keepalived_accepted_us(lab: &Lab) {
    const REJECTIONS: [&str; 10] = [
        "checksum",
        "invalid TTL",
        "wrong VRRP version",
        "interval mismatch",
        "invalid passwd",
        "auth",
        "too short",
        "too long",
        "VIPs but received",
        "not present in advert",
    ];
    let mut transitions = 0;
    for entry in fs::read_dir(&lab.dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "log") {
            let log = fs::read_to_string(&path).unwrap();
            transitions += log.matches("Entering ").count();
            for line in log.lines() {
                let lower = line.to_lowercase();
                let hit = REJECTIONS.iter().any(|r| lower.contains(&r.to_lowercase()));
                assert!(
                    !hit,
                    "keepalived rejected an advert ({}): {line}",
                    path.display()
                );
            }
        }
    }
    // The logs are real: keepalived reported its state changes in them.
    assert!(
        transitions >= 3,
        "keepalived logs show {transitions} state changes"
    );
}

#[test]
fn keepalived_v2_multicast_ipv4() {
    election_scenario("a", Version::V2, false, false);
}

#[test]
fn keepalived_v3_multicast_ipv4() {
    election_scenario("b", Version::V3, false, false);
}

#[test]
fn keepalived_v3_multicast_ipv6() {
    election_scenario("c", Version::V3, true, false);
}

#[test]
fn keepalived_v2_unicast_ipv4() {
    election_scenario("d", Version::V2, false, true);
}

#[test]
fn keepalived_v3_unicast_ipv4() {
    election_scenario("e", Version::V3, false, true);
}

/// keepalived's `track_interface` and `track_script` (without weights): a tracked
/// interface that goes down, or a tracked check that fails, puts the instance in FAULT
/// and takes its VIP away; when it recovers the instance becomes master again. No
/// keepalived needed, only root.
#[test]
fn a_tracked_interface_or_check_going_down_puts_the_instance_in_fault() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        let _ = writeln!(std::io::stderr(), "SKIPPED VRRP tracking: not root");
        return;
    }
    let lab = Lab::new("trk", false);
    // A veth pair inside the namespace (this kernel has no dummy interfaces).
    sh(&[
        "ip",
        "-n",
        &lab.rvs_ns,
        "link",
        "add",
        "trk0",
        "type",
        "veth",
        "peer",
        "name",
        "trk1",
    ]);
    for dev in ["trk0", "trk1"] {
        sh(&["ip", "-n", &lab.rvs_ns, "link", "set", dev, "up"]);
    }
    let check = Arc::new(AtomicBool::new(true));
    let vip = VIP.to_string();
    let rvs = Rvs::start_tracking(
        &lab,
        rvs_config(Version::V2, 200, IpAddr::V4(RVS_ADDR), IpAddr::V4(VIP)),
        Some("trk0"),
        Some(check.clone()),
    );
    let has_vip = || lab.has_vip(&lab.rvs_ns, RVS_IF, &vip);
    let faults = || {
        rvs.rec
            .actions
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, a, _)| matches!(a, Action::BecomeFault { .. }))
            .count()
    };
    assert!(
        wait_for(PATIENCE, has_vip).is_some(),
        "alone, it became master"
    );
    // The VIP carries its label (`virtual_ipaddress { ADDR label DEV:NAME }`).
    let out = Command::new("ip")
        .args(["-n", &lab.rvs_ns, "-o", "-4", "addr", "show", "dev", RVS_IF])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines()
            .any(|l| l.contains(&format!(" {vip}/")) && l.contains("vrv:vip")),
        "{text}"
    );

    sh(&["ip", "-n", &lab.rvs_ns, "link", "set", "trk0", "down"]);
    let gone = wait_for(Duration::from_secs(3), || !has_vip());
    assert!(
        gone.is_some(),
        "the tracked interface went down: VIP released"
    );
    let after_interface = faults();
    assert!(after_interface >= 1, "FAULT entered");
    sh(&["ip", "-n", &lab.rvs_ns, "link", "set", "trk0", "up"]);
    assert!(wait_for(PATIENCE, has_vip).is_some(), "back to master");

    check.store(false, Ordering::Relaxed);
    let gone = wait_for(Duration::from_secs(3), || !has_vip());
    assert!(gone.is_some(), "the tracked check failed: VIP released");
    assert!(faults() > after_interface, "FAULT entered again");
    check.store(true, Ordering::Relaxed);
    assert!(wait_for(PATIENCE, has_vip).is_some(), "back to master");
    rvs.shutdown();
}
