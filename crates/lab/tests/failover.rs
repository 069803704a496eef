//! End-to-end tests of director failover: two rvsd directors run from keepalived.conf
//! (VRRP instances floating the lab's gateway addresses, `lvs_sync_daemon` for
//! connection synchronisation), three nginx and TCP echo real servers, and a client
//! holding a slow download and an interactive echo session while a bounded stream of
//! new requests goes on. The primary dies (SIGKILL of rvsd and its links down); the
//! backup must take the floating addresses within VRRP's Master_Down_Interval
//! (3 x advert_int + skew) and carry on every established connection; new requests may
//! fail only while the death goes undetected. Then the old primary comes back: with
//! preempt it takes the addresses back, with nopreempt it stays backup. The figures
//! (takeover time, when traffic flowed again, longest echo gap, failed requests and
//! their window, sync traffic per 1000 new connections) are printed.
//!
//! Skips, visibly, without root. Runs the binaries named by RVSD_BIN / RVSADM_BIN /
//! RVS_LAB_BIN or found in target/{release,debug}.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write as _;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use rvs_lab::{
    director_server_ip, needs_root, pcap_frame_totals, DirectorConf, InitialState, Lab, LabSpec,
    Method, CLIENT_GW, DIP, TCP_ECHO_PORT, VIP,
};

/// VRRP advertisement interval of the lab's instances (seconds).
const ADVERT_INT: u32 = 1;
/// Priorities of the primary and the backup.
const PRIMARY_PRIORITY: u8 = 150;
const BACKUP_PRIORITY: u8 = 100;
/// Allowed on top of 3 x advert_int + skew for the backup to hold the addresses:
/// the adverts' own timing (the last one may come just before the death), the poll
/// period of the test (20 ms) and scheduling on a loaded machine.
const TAKEOVER_MARGIN: Duration = Duration::from_millis(1000);
/// The download: /big (20 MiB) at this rate (nginx's limit_rate) takes ~30 s, long
/// enough to live through a failover and a failback.
const DOWNLOAD_RATE: &str = "700k";
const DOWNLOAD_BYTES: u64 = 20 * 1024 * 1024;

/// Prints where the harness does not hide it.
fn say(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

/// The skew of VRRP's Master_Down_Interval for a priority (RFC 3768: (256 - p) / 256 s).
fn skew(priority: u8) -> Duration {
    Duration::from_secs_f64(f64::from(256 - u32::from(priority)) / 256.0)
}

/// 3 x advert_int + skew: how long a backup waits before taking over.
fn master_down_interval(priority: u8) -> Duration {
    Duration::from_secs(3 * u64::from(ADVERT_INT)) + skew(priority)
}

/// A two-director lab and its directors' configurations.
struct Pair {
    lab: Lab,
    confs: Vec<DirectorConf>,
    paths: Vec<PathBuf>,
}

impl Pair {
    /// Builds the lab; `nopreempt`: both start BACKUP with nopreempt (keepalived's way),
    /// otherwise director 1 is MASTER and both preempt.
    fn build(method: Method, nopreempt: bool) -> Pair {
        let lab = Lab::build(&LabSpec {
            directors: 2,
            udp: false,
            ..LabSpec::new(method)
        })
        .expect("two-director lab");
        let real_servers: Vec<Ipv4Addr> = lab.real_servers().iter().map(|r| r.ip).collect();
        let mut confs = Vec::new();
        let mut paths = Vec::new();
        for (i, priority) in [(1, PRIMARY_PRIORITY), (2, BACKUP_PRIORITY)] {
            let state = if i == 1 && !nopreempt {
                InitialState::Master
            } else {
                InitialState::Backup
            };
            let mut c = DirectorConf::new(method, i, state, priority);
            c.nopreempt = nopreempt;
            c.advert_int = ADVERT_INT;
            c.service_ports = vec![80, TCP_ECHO_PORT];
            c.real_servers = real_servers.clone();
            let path = lab.dir().join(format!("d{i}.conf"));
            std::fs::write(&path, c.text()).unwrap();
            confs.push(c);
            paths.push(path);
        }
        Pair { lab, confs, paths }
    }

    fn template(&self, i: usize) -> String {
        format!(
            "{{rvsd}} {{ifaces}} --socket {{sock}} -f {}",
            self.paths[i - 1].display()
        )
    }

    fn start(&self, i: usize) {
        self.lab
            .start_director_at(i, Some(&self.template(i)))
            .unwrap_or_else(|e| panic!("director {i}: {e}"));
    }

    /// The floating addresses that must move together.
    fn floating(&self) -> Vec<Ipv4Addr> {
        match self.lab.method() {
            Method::Nat => vec![CLIENT_GW, DIP],
            _ => vec![DIP],
        }
    }

    /// Waits until director `i` alone holds every floating address; the time it took.
    fn wait_master(&self, i: usize, limit: Duration) -> Duration {
        let start = Instant::now();
        for addr in self.floating() {
            let left = limit.saturating_sub(start.elapsed());
            self.lab
                .wait_for_holder(addr, i, left)
                .unwrap_or_else(|e| panic!("{e}\n{}", self.logs()));
        }
        start.elapsed()
    }

    /// Waits until director `i`'s checkers have every real server in both services.
    fn wait_services(&self, i: usize) {
        let start = Instant::now();
        let want = 2 * self.lab.real_servers().len();
        loop {
            let listing = self.lab.rvsadm_at(i, &["-L", "-n"]).unwrap();
            if listing.matches("  -> 198.51.100.").count() == want {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "director {i}'s services never had every real server:\n{listing}\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn status(&self, i: usize) -> serde_json::Value {
        let json = self.lab.rvsadm_at(i, &["-L", "-n", "--json"]).unwrap();
        serde_json::from_str(&json).unwrap()
    }

    fn vrrp_states(&self, i: usize) -> Vec<String> {
        self.status(i)["vrrp"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|v| format!("{}={}", v["name"].as_str().unwrap_or("?"), v["state"]))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The warnings and errors the directors logged (every run of each).
    fn complaints(&self) -> Vec<String> {
        (1..=2)
            .flat_map(|i| {
                self.lab
                    .director_log_of(i)
                    .lines()
                    .filter(|l| l.contains(" WARN ") || l.contains(" ERROR "))
                    .map(|l| format!("director {i}: {l}"))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    fn logs(&self) -> String {
        format!(
            "--- director 1 ---\n{}\n--- director 2 ---\n{}",
            tail(&self.lab.director_log_of(1), 40),
            tail(&self.lab.director_log_of(2), 40)
        )
    }
}

fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The figures of one failover, relative to the moment of the death.
struct Takeover {
    /// Until the backup held every floating address.
    addresses: Duration,
    /// Until the first echo came back.
    echo: Duration,
    /// Until the first new request started after the death succeeded.
    request: Duration,
}

/// Measures a takeover by director `to` that began at `since` (a death, or a restart
/// that preempts): addresses first, then traffic. Bounded by `limit` in all.
fn measure_takeover(
    pair: &Pair,
    to: usize,
    since: Instant,
    limit: Duration,
    echo: &rvs_lab::EchoSession,
    stream: &rvs_lab::RequestStream,
) -> Takeover {
    pair.wait_master(to, limit.saturating_sub(since.elapsed()));
    let addresses = since.elapsed();
    loop {
        let echo_at = echo.first_answer_after(since + addresses);
        let outcomes = rvs_lab::StreamReport {
            outcomes: stream.outcomes(),
        };
        let request_at = outcomes.first_success_started_after(since);
        if let (Some(e), Some(r)) = (echo_at, request_at) {
            return Takeover {
                addresses,
                echo: e - since,
                request: r - since,
            };
        }
        assert!(
            since.elapsed() < limit + Duration::from_secs(25),
            "traffic did not flow again through director {to} (echo {echo_at:?}, request {request_at:?})\n{}",
            pair.logs()
        );
        assert!(
            echo.is_running(),
            "the echo session ended while waiting for the takeover"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Sync counters of director `i`: (sent_messages, sent_conns, received_conns).
fn sync_counters(pair: &Pair, i: usize) -> (u64, u64, u64) {
    let s = pair.status(i);
    let c = &s["sync"];
    (
        c["sent_messages"].as_u64().unwrap_or(0),
        c["sent_conns"].as_u64().unwrap_or(0),
        c["received_conns"].as_u64().unwrap_or(0),
    )
}

/// A burst of 1000 new connections through the master (director 1): what its sync
/// master sent for them, from its counters and from a capture of the sync traffic.
fn sync_traffic_per_1000(pair: &Pair) {
    let lab = &pair.lab;
    let (iface, _) = pair.confs[0].sync_interface();
    let d1 = director_server_ip(1);
    let ns = lab.director_ns_of(1).unwrap().to_owned();
    let before = sync_counters(pair, 1);
    let before_backup = sync_counters(pair, 2);
    let capture = lab
        .capture(&ns, iface, &format!("udp port 8848 and src host {d1}"))
        .unwrap();
    let t0 = Instant::now();
    let ok = lab
        .request_burst(&lab.url("/"), 1000, Duration::from_secs(120))
        .unwrap();
    let burst = t0.elapsed();
    assert_eq!(ok, 1000, "every request of the burst answered");
    // The sync master sends what waits as soon as the flow pauses; wait until its
    // counters stop moving (bounded).
    let mut last = sync_counters(pair, 1);
    for _ in 0..50 {
        std::thread::sleep(Duration::from_millis(200));
        let now = sync_counters(pair, 1);
        if now == last {
            break;
        }
        last = now;
    }
    let pcap = capture.stop().unwrap();
    let frames = pcap_frame_totals(&pcap).unwrap();
    let after_backup = sync_counters(pair, 2);
    let backup_sync = &pair.status(2)["sync"];
    let messages = last.0 - before.0;
    let conns = last.1 - before.1;
    say(&format!(
        "{} sync traffic for 1000 new connections (burst of {}): {messages} messages, {conns} connection records, \
         {} frames / {} bytes on the wire ({} bytes of IP), backup received {} records (installed or refreshed in all {}, failed {}, rejected {})",
        lab.method(),
        secs(burst),
        frames.frames,
        frames.bytes,
        frames.bytes.saturating_sub(14 * frames.frames),
        after_backup.2 - before_backup.2,
        backup_sync["installed"],
        backup_sync["install_failed"],
        backup_sync["rejected"]
    ));
    assert_eq!(backup_sync["install_failed"], 0, "{backup_sync}");
    assert_eq!(backup_sync["rejected"], 0, "{backup_sync}");
    assert!(conns >= 1000, "every new connection was synced: {conns}");
    assert!(
        messages > 0 && messages <= conns,
        "records share messages: {messages} for {conns}"
    );
    assert_eq!(
        frames.frames, messages,
        "the capture saw every message sent"
    );
}

/// The whole scenario for one forwarding method and preempt mode.
fn failover(method: Method, nopreempt: bool) {
    let pair = Pair::build(method, nopreempt);
    let lab = &pair.lab;
    // When the master's port goes down the switch forgets its MAC and floods what the
    // clients still send there; the backup's rvsd would forward those frames before it
    // is master (see a_backup_director_does_not_forward_frames_for_the_master), which
    // would hide the detection window. Without that flooding the figures are VRRP's.
    lab.set_director_flooding(false).unwrap();
    let mode = if nopreempt { "nopreempt" } else { "preempt" };
    say(&format!("{method} failover ({mode}): lab {}", lab.prefix()));

    // The primary first (with nopreempt both start as backup: the first up wins).
    pair.start(1);
    pair.wait_master(1, Duration::from_secs(15));
    pair.start(2);
    pair.wait_services(1);
    pair.wait_services(2);
    // The backup is backup (it heard the primary) and listens to its sync.
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        lab.holders_of(pair.floating()[0]).unwrap(),
        [1],
        "{:?}",
        pair.vrrp_states(2)
    );
    // The advert counters: the master sends, the backup hears it and sends nothing;
    // neither drops a packet of the other's.
    let adverts = |i: usize| {
        let v = &pair.status(i)["vrrp"][0];
        let n = |k: &str| v[k].as_u64().unwrap_or_else(|| panic!("{k} in {v}"));
        (
            n("adverts_sent"),
            n("adverts_received"),
            n("adverts_dropped"),
        )
    };
    let (sent, _, dropped) = adverts(1);
    assert!(sent >= 2 && dropped == 0, "primary {:?}", adverts(1));
    let (sent, received, dropped) = adverts(2);
    assert!(
        sent == 0 && received >= 1 && dropped == 0,
        "backup {:?}",
        adverts(2)
    );
    if nopreempt {
        sync_traffic_per_1000(&pair);
    }

    // The clients.
    let download = lab
        .start_slow_download(
            &lab.url(&format!("/big?rate={DOWNLOAD_RATE}")),
            DOWNLOAD_BYTES,
            Duration::from_secs(120),
        )
        .unwrap();
    let echo = lab
        .start_echo_session(
            SocketAddr::from((VIP, TCP_ECHO_PORT)),
            Duration::from_millis(200),
            600,
            Duration::from_secs(30),
        )
        .unwrap();
    let stream = lab
        .start_request_stream(
            &lab.url("/"),
            1000,
            Duration::from_millis(100),
            Duration::from_secs(90),
            1,
        )
        .unwrap();
    std::thread::sleep(Duration::from_secs(3));
    let synced = sync_counters(&pair, 2).2;
    assert!(
        synced > 0,
        "the backup received connections before the death"
    );
    assert!(
        download.bytes_so_far() > 0 && echo.answered() > 5,
        "traffic flows before the death"
    );

    // The primary dies.
    let death = Instant::now();
    lab.kill_director(1).unwrap();
    let budget = master_down_interval(BACKUP_PRIORITY) + TAKEOVER_MARGIN;
    let t = measure_takeover(&pair, 2, death, budget, &echo, &stream);
    say(&format!(
        "{method} ({mode}): primary killed; backup held the addresses after {} \
         (3 x advert_int + skew = {}, limit with margin {}); echo answered again after {}, \
         first new request after {}",
        secs(t.addresses),
        secs(master_down_interval(BACKUP_PRIORITY)),
        secs(budget),
        secs(t.echo),
        secs(t.request)
    ));
    let flowing_again = death + t.echo.min(t.request);
    std::thread::sleep(Duration::from_secs(3));

    // The old primary comes back.
    lab.revive_director(1).unwrap();
    let back = Instant::now();
    pair.start(1);
    // When new requests may fail: from each event to when traffic flowed again.
    let mut windows = vec![(death, flowing_again)];
    if nopreempt {
        // It stays backup: watch for well over a Master_Down_Interval of its own.
        let watch = master_down_interval(PRIMARY_PRIORITY) * 2 + Duration::from_secs(2);
        while back.elapsed() < watch {
            assert_eq!(
                lab.holders_of(pair.floating()[0]).unwrap(),
                [2],
                "with nopreempt the restarted primary stays backup\n{}",
                pair.logs()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        for addr in pair.floating() {
            assert_eq!(lab.holders_of(addr).unwrap(), [2], "{addr}");
        }
        let states = pair.vrrp_states(1);
        assert!(
            states.iter().all(|s| s.ends_with("\"BACKUP\"")),
            "{states:?}"
        );
        say(&format!(
            "{method} ({mode}): restarted primary stayed backup for {} ({states:?})",
            secs(back.elapsed())
        ));
        // And it is a backup in earnest: it has the connections (bulk resync and sync
        // from the new master), so the new master's death costs none either.
        let second = Instant::now();
        lab.kill_director(2).unwrap();
        let budget = master_down_interval(PRIMARY_PRIORITY) + TAKEOVER_MARGIN;
        let t = measure_takeover(&pair, 1, second, budget, &echo, &stream);
        say(&format!(
            "{method} ({mode}): then the new master killed; the old primary held the addresses after {} \
             (3 x advert_int + skew = {}); echo answered again after {}, first new request after {}",
            secs(t.addresses),
            secs(master_down_interval(PRIMARY_PRIORITY)),
            secs(t.echo),
            secs(t.request)
        ));
        windows.push((second, second + t.echo.min(t.request)));
    } else {
        let limit =
            Duration::from_secs(5) + master_down_interval(PRIMARY_PRIORITY) + TAKEOVER_MARGIN;
        let t = measure_takeover(&pair, 1, back, limit, &echo, &stream);
        say(&format!(
            "{method} ({mode}): restarted primary took the addresses back {} after its start \
             (its Master_Down_Interval {}); echo answered after {}, new request after {}",
            secs(t.addresses),
            secs(master_down_interval(PRIMARY_PRIORITY)),
            secs(t.echo),
            secs(t.request)
        ));
        windows.push((back, back + t.echo.min(t.request)));
    }
    std::thread::sleep(Duration::from_secs(2));

    // The end: every established connection went on, unbroken.
    let stream = stream.finish();
    let echo = echo.finish();
    let download = download.finish(lab, Duration::from_secs(90));
    say(&format!(
        "{method} ({mode}): download {} bytes in {} (curl: {:?}, longest stall {}); \
         echo {} lines, longest gap {}, longest round trip {}",
        download.bytes,
        secs(download.elapsed),
        download.curl_output,
        secs(download.longest_stall),
        echo.lines.len(),
        secs(echo.longest_gap),
        secs(echo.longest_rtt)
    ));
    assert!(
        download.complete(DOWNLOAD_BYTES),
        "the download survived: {download:?}\n{}",
        pair.logs()
    );
    assert!(
        echo.error.is_none(),
        "the echo session survived: {:?}\n{}",
        echo.error,
        pair.logs()
    );

    // New requests failed only while the death went undetected.
    let failures = stream.failures();
    say(&format!(
        "{method} ({mode}): {} new requests, {} failed",
        stream.outcomes.len(),
        failures.len()
    ));
    for (n, (from, to)) in windows.iter().enumerate() {
        let inside: Vec<_> = failures
            .iter()
            .filter(|f| f.finished >= *from && f.started <= *to)
            .collect();
        if let (Some(first), Some(last)) = (inside.first(), inside.last()) {
            say(&format!(
                "{method} ({mode}):   event {}: {} failed, started {} to {} after it (traffic flowed again after {})",
                n + 1,
                inside.len(),
                secs(first.started.saturating_duration_since(*from)),
                secs(last.started.saturating_duration_since(*from)),
                secs(to.saturating_duration_since(*from))
            ));
        } else {
            say(&format!(
                "{method} ({mode}):   event {}: none failed",
                n + 1
            ));
        }
    }
    for f in &failures {
        let in_a_window = windows
            .iter()
            .any(|(from, to)| f.finished >= *from && f.started <= *to);
        assert!(
            in_a_window,
            "a new request failed outside the detection window ({} after the death): {:?}",
            secs(f.started.saturating_duration_since(death)),
            f.result
        );
    }
    assert!(
        stream.outcomes.len() - failures.len() > 50,
        "the request stream ran"
    );
    for line in pair.complaints() {
        say(&format!("{method} ({mode}): logged: {line}"));
    }
}

#[test]
fn nat_failover_keeps_connections_and_the_primary_preempts_on_return() {
    if needs_root() {
        return;
    }
    failover(Method::Nat, false);
}

#[test]
fn nat_failover_with_nopreempt_leaves_the_new_master_in_charge() {
    if needs_root() {
        return;
    }
    failover(Method::Nat, true);
}

#[test]
fn dr_failover_keeps_connections_and_the_primary_preempts_on_return() {
    if needs_root() {
        return;
    }
    failover(Method::Route, false);
}

#[test]
fn dr_failover_with_nopreempt_leaves_the_new_master_in_charge() {
    if needs_root() {
        return;
    }
    failover(Method::Route, true);
}

/// A backup director must leave alone frames addressed to another host's MAC, as the
/// kernel does (it drops PACKET_OTHERHOST before IP, so an IPVS backup never sees
/// them). A switch floods such frames whenever it does not know the destination (an
/// aged-out or flushed forwarding entry); here the client-side and server-side bridges
/// flood everything (ageing time 0), so both directors see the master's traffic.
#[test]
fn a_backup_director_does_not_forward_frames_for_the_master() {
    if needs_root() {
        return;
    }
    let pair = Pair::build(Method::Nat, false);
    let lab = &pair.lab;
    pair.start(1);
    pair.wait_master(1, Duration::from_secs(15));
    pair.start(2);
    pair.wait_services(1);
    pair.wait_services(2);
    std::thread::sleep(Duration::from_millis(1500));
    for bridge in ["brc", "br0"] {
        lab.exec_ok(
            lab.switch_ns(),
            &[
                "ip",
                "link",
                "set",
                bridge,
                "type",
                "bridge",
                "ageing_time",
                "0",
            ],
        )
        .unwrap();
    }
    let conns = |i: usize| -> u64 {
        pair.status(i)["services"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["stats"]["conns"].as_u64().unwrap_or(0))
            .sum()
    };
    let before = (conns(1), conns(2));
    let syn = "tcp port 80 and tcp[tcpflags] & tcp-syn != 0 and tcp[tcpflags] & tcp-ack == 0";
    let syn_ack = "tcp port 80 and tcp[tcpflags] & tcp-syn != 0 and tcp[tcpflags] & tcp-ack != 0";
    let servers: Vec<_> = lab
        .real_servers()
        .iter()
        .map(|rs| {
            // Only what is addressed to this server (the bridges flood everything).
            let mac = lab.mac(&rs.ns, "eth0").unwrap();
            let filter = format!("ether dst {mac} and {syn}");
            lab.capture_direction(&rs.ns, "eth0", &filter, rvs_lab::Direction::In)
                .unwrap()
        })
        .collect();
    let mac = lab.mac(lab.client_ns(), "eth0").unwrap();
    let client = lab
        .capture_direction(
            lab.client_ns(),
            "eth0",
            &format!("ether dst {mac} and {syn_ack}"),
            rvs_lab::Direction::In,
        )
        .unwrap();
    let ok = lab
        .request_burst(&lab.url("/"), 20, Duration::from_secs(60))
        .unwrap();
    let after = (conns(1), conns(2));
    let syns: u64 = servers
        .into_iter()
        .map(|c| pcap_frame_totals(&c.stop().unwrap()).unwrap().frames)
        .sum();
    let syn_acks = pcap_frame_totals(&client.stop().unwrap()).unwrap().frames;
    say(&format!(
        "flooded frames: {ok}/20 answered; new connections scheduled by the master {}, by the backup {}; \
         SYNs reaching the real servers {syns}, SYN-ACKs reaching the client {syn_acks}; backup VRRP {:?}",
        after.0 - before.0,
        after.1 - before.1,
        pair.vrrp_states(2)
    ));
    assert_eq!(
        after.1 - before.1,
        0,
        "the backup scheduled connections from frames addressed to the master"
    );
    assert_eq!(ok, 20);
}

// ---------------------------------------------------------------------- keepalived

/// Which program speaks VRRP on a director in an interoperability test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Speaker {
    Rvsd,
    Keepalived,
}

/// A two-director lab where one director runs rvsd and the other Debian's keepalived
/// (VRRP only). `primary` (director 1, priority 150, MASTER) and the backup (director
/// 2, priority 100, BACKUP), both preempting.
struct Mixed {
    pair: Pair,
    speakers: [Speaker; 2],
}

impl Mixed {
    fn build(method: Method, primary: Speaker) -> Option<Mixed> {
        let on_path = std::process::Command::new("keepalived")
            .arg("--version")
            .output()
            .is_ok();
        if !on_path {
            say("skipping: keepalived is not installed (scripts/deps.sh)");
            return None;
        }
        let mut pair = Pair::build(method, false);
        let speakers = match primary {
            Speaker::Rvsd => [Speaker::Rvsd, Speaker::Keepalived],
            Speaker::Keepalived => [Speaker::Keepalived, Speaker::Rvsd],
        };
        for (at, speaker) in speakers.iter().enumerate() {
            let c = &mut pair.confs[at];
            // No connection sync without a peer for it; keepalived gets no virtual
            // servers (this kernel has no IPVS for them).
            c.sync_daemon = false;
            if *speaker == Speaker::Keepalived {
                c.service_ports.clear();
            }
            std::fs::write(&pair.paths[at], c.text()).unwrap();
        }
        Some(Mixed { pair, speakers })
    }

    fn start(&self, i: usize) {
        match self.speakers[i - 1] {
            Speaker::Rvsd => self.pair.start(i),
            Speaker::Keepalived => {
                self.pair
                    .lab
                    .start_keepalived_at(i, &self.pair.paths[i - 1])
                    .unwrap_or_else(|e| panic!("keepalived as director {i}: {e}"));
            }
        }
    }

    /// The director running rvsd.
    fn rvsd(&self) -> usize {
        if self.speakers[0] == Speaker::Rvsd {
            1
        } else {
            2
        }
    }

    /// A request through the VIP must be answered (rvsd is master and forwards).
    fn request_through_vip(&self) {
        let lab = &self.pair.lab;
        let start = Instant::now();
        loop {
            match lab.curl_with(&["--max-time", "2", &lab.url("/")]) {
                Ok(body) if body.starts_with("rs") => return,
                other => assert!(
                    start.elapsed() < Duration::from_secs(15),
                    "no answer through the VIP: {other:?}\n{}",
                    self.pair.logs()
                ),
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// rvsd and keepalived hand the floating addresses to each other: the backup takes
/// over from the killed primary, and the primary, restarted, preempts.
fn interop(method: Method, primary: Speaker) {
    let Some(mixed) = Mixed::build(method, primary) else {
        return;
    };
    let pair = &mixed.pair;
    let lab = &pair.lab;
    let name = |i: usize| format!("{:?} (director {i})", mixed.speakers[i - 1]);
    mixed.start(1);
    let t = pair.wait_master(1, Duration::from_secs(15));
    say(&format!(
        "{method}: {} master {} after start",
        name(1),
        secs(t)
    ));
    mixed.start(2);
    pair.wait_services(mixed.rvsd());
    std::thread::sleep(Duration::from_secs(3));
    for addr in pair.floating() {
        assert_eq!(
            lab.holders_of(addr).unwrap(),
            [1],
            "{} stays backup while {} advertises a higher priority\n{}",
            name(2),
            name(1),
            pair.logs()
        );
    }
    if mixed.rvsd() == 1 {
        mixed.request_through_vip();
    }

    let death = Instant::now();
    lab.kill_director(1).unwrap();
    let budget = master_down_interval(BACKUP_PRIORITY) + TAKEOVER_MARGIN;
    let took = pair.wait_master(2, budget);
    say(&format!(
        "{method}: {} killed; {} held the addresses after {} (3 x advert_int + skew = {})",
        name(1),
        name(2),
        secs(took),
        secs(master_down_interval(BACKUP_PRIORITY))
    ));
    if mixed.rvsd() == 2 {
        mixed.request_through_vip();
        say(&format!(
            "{method}: requests answered through {} {} after the death",
            name(2),
            secs(death.elapsed())
        ));
    }

    lab.revive_director(1).unwrap();
    let back = Instant::now();
    mixed.start(1);
    let limit = Duration::from_secs(5) + master_down_interval(PRIMARY_PRIORITY) + TAKEOVER_MARGIN;
    pair.wait_master(1, limit);
    say(&format!(
        "{method}: {} restarted and took the addresses back after {}; {} released them",
        name(1),
        secs(back.elapsed()),
        name(2)
    ));
    if mixed.rvsd() == 1 {
        mixed.request_through_vip();
    }
    let states = if mixed.rvsd() == 2 {
        pair.vrrp_states(2)
    } else {
        pair.vrrp_states(1)
    };
    say(&format!("{method}: rvsd's VRRP states: {states:?}"));
}

#[test]
fn keepalived_backup_takes_over_from_rvsd_and_rvsd_preempts_on_return() {
    if needs_root() {
        return;
    }
    interop(Method::Nat, Speaker::Rvsd);
}

#[test]
fn rvsd_backup_takes_over_from_keepalived_and_keepalived_preempts_on_return() {
    if needs_root() {
        return;
    }
    interop(Method::Route, Speaker::Keepalived);
}
