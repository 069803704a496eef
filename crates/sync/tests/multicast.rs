//! SyncSocket over a veth pair between two network namespaces: a master sends
//! connection messages (plain and authenticated) and a backup's resync request comes
//! back the other way; tshark's independent IPVS sync dissector decodes what was on
//! the wire. Needs root (skips with a message otherwise); tshark is optional.

// Test scaffolding: failures to set up the lab should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use rvs_sync::linux::{SyncChannel, SyncSocket};
use rvs_sync::message::{flags, states, IPPROTO_TCP};
use rvs_sync::receiver::Incoming;
use rvs_sync::{MessageBuilder, Receiver, ResyncRequest, SyncConn, SyncKey};

const MASTER_ADDR: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
const BACKUP_ADDR: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 2);

fn sh(args: &[&str]) {
    let status = Command::new(args[0]).args(&args[1..]).status().unwrap();
    assert!(status.success(), "{args:?} failed");
}

struct Lab {
    master: String,
    backup: String,
    dir: std::path::PathBuf,
}

impl Lab {
    fn new() -> Lab {
        let id = format!("rvssync{}", std::process::id());
        let lab = Lab {
            master: format!("{id}m"),
            backup: format!("{id}b"),
            dir: std::env::temp_dir().join(&id),
        };
        fs::create_dir_all(&lab.dir).unwrap();
        sh(&["ip", "netns", "add", &lab.master]);
        sh(&["ip", "netns", "add", &lab.backup]);
        sh(&[
            "ip",
            "link",
            "add",
            "sm",
            "netns",
            &lab.master,
            "type",
            "veth",
            "peer",
            "name",
            "sb",
            "netns",
            &lab.backup,
        ]);
        for (ns, dev, addr) in [
            (&lab.master, "sm", MASTER_ADDR),
            (&lab.backup, "sb", BACKUP_ADDR),
        ] {
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
            sh(&["ip", "-n", ns, "link", "set", dev, "up"]);
        }
        lab
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for ns in [&self.master, &self.backup] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Run `f` on a thread inside namespace `ns`.
fn in_netns<T: Send + 'static>(
    ns: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> std::thread::JoinHandle<T> {
    let path = format!("/run/netns/{ns}");
    std::thread::spawn(move || {
        let file = fs::File::open(path).unwrap();
        // SAFETY: setns on this thread only, with a valid namespace file descriptor.
        let rc = unsafe { libc::setns(std::os::fd::AsRawFd::as_raw_fd(&file), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
        f()
    })
}

fn conn(i: u16) -> SyncConn {
    SyncConn {
        protocol: IPPROTO_TCP,
        flags: flags::DROUTE,
        state: states::TCP_ESTABLISHED,
        caddr: IpAddr::V4(Ipv4Addr::new(203, 0, 113, (i % 250) as u8 + 1)),
        cport: 10000 + i,
        vaddr: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10)),
        vport: 80,
        daddr: IpAddr::V4(Ipv4Addr::new(198, 51, 100, 11)),
        dport: 80,
        fwmark: 0,
        timeout: 900,
        seq: None,
        pe: None,
    }
}

#[test]
fn sync_over_multicast() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        // Straight to stderr: the test harness captures eprintln! of passing tests.
        let _ = writeln!(std::io::stderr(), "SKIPPED sync multicast test: not root");
        return;
    }
    let lab = Lab::new();
    let pcap = lab.dir.join("sync.pcap");
    let have_tshark = Command::new("tshark")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok();
    let tcpdump_log = lab.dir.join("tcpdump.log");
    let mut capture = have_tshark.then(|| {
        let child = Command::new("ip")
            .args([
                "netns",
                "exec",
                &lab.backup,
                "tcpdump",
                "--immediate-mode",
                "-Z",
                "root",
                "-i",
                "sb",
                "-U",
                "-w",
            ])
            .arg(&pcap)
            .arg("udp port 8848")
            .stdout(Stdio::null())
            .stderr(fs::File::create(&tcpdump_log).unwrap())
            .spawn()
            .unwrap();
        // Bounded wait for tcpdump to attach.
        for _ in 0..100 {
            if fs::read_to_string(&tcpdump_log).is_ok_and(|l| l.contains("listening on")) {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        child
    });

    let conns: Vec<SyncConn> = (0..100).map(conn).collect();
    let key = SyncKey::new(1, b"cluster secret");
    let (ready_tx, ready_rx) = mpsc::channel();

    // Backup: receive 6 datagrams (3 plain, 3 authenticated), then ask for a resync.
    let backup = {
        let key = key.clone();
        in_netns(&lab.backup, move || {
            let socket = SyncSocket::receiver("sb", SyncChannel::default()).unwrap();
            let requester = SyncSocket::sender("sb", BACKUP_ADDR, SyncChannel::default()).unwrap();
            ready_tx.send(()).unwrap();
            let mut plain = Receiver::new(7, None);
            let mut authed = Receiver::new(7, Some(key.clone()));
            let mut got = Vec::new();
            let mut buf = vec![0u8; 65536];
            for i in 0..6 {
                let (n, from) = socket
                    .recv(&mut buf, Some(Duration::from_secs(10)))
                    .unwrap()
                    .expect("sync message did not arrive");
                assert_eq!(*from.ip(), MASTER_ADDR);
                let rx = if i < 3 { &mut plain } else { &mut authed };
                match rx.receive(&buf[..n], &mut got).unwrap() {
                    Incoming::Conns { dropped, .. } => assert_eq!(dropped, 0),
                    other => panic!("unexpected {other:?}"),
                }
            }
            requester
                .send(
                    &ResyncRequest {
                        syncid: 7,
                        nonce: 99,
                    }
                    .to_bytes(),
                    Some(&key),
                )
                .unwrap();
            got
        })
    };

    // Master: wait for the backup, send the table twice, then hear the resync request.
    let master = {
        let conns = conns.clone();
        let key = key.clone();
        in_netns(&lab.master, move || {
            let listener = SyncSocket::receiver("sm", SyncChannel::default()).unwrap();
            let socket = SyncSocket::sender("sm", MASTER_ADDR, SyncChannel::default()).unwrap();
            ready_rx.recv_timeout(Duration::from_secs(10)).unwrap();
            for signed in [false, true] {
                let mut builder = MessageBuilder::new(7, 1472);
                let mut send = |m: &[u8]| {
                    socket.send(m, signed.then_some(&key)).unwrap();
                };
                for c in &conns {
                    builder.push(Duration::ZERO, c, &mut send).unwrap();
                }
                builder.flush(&mut send);
            }
            let mut buf = [0u8; 1500];
            let (n, _) = listener
                .recv(&mut buf, Some(Duration::from_secs(10)))
                .unwrap()
                .expect("resync request did not arrive");
            let mut rx = Receiver::new(7, Some(key));
            rx.receive(&buf[..n], &mut Vec::new()).unwrap()
        })
    };

    let got = backup.join().unwrap();
    let request = master.join().unwrap();
    assert_eq!(
        request,
        Incoming::ResyncRequest(ResyncRequest {
            syncid: 7,
            nonce: 99
        })
    );
    let expected: Vec<SyncConn> = conns
        .iter()
        .chain(&conns)
        .map(|c| SyncConn {
            flags: c.flags | flags::SYNC,
            ..c.clone()
        })
        .collect();
    assert_eq!(got, expected);

    if let Some(child) = capture.as_mut() {
        std::thread::sleep(Duration::from_millis(300));
        // SAFETY: signalling our own tcpdump child by its PID.
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
        let _ = child.wait();
        // Wireshark's own IPVS sync dissector reads the three plain messages (the
        // first three captured).
        let tshark = |fields: &[&str]| {
            let mut cmd = Command::new("tshark");
            cmd.arg("-r")
                .arg(&pcap)
                .args(["-d", "udp.port==8848,ipvs", "-c", "3", "-T", "fields"]);
            for f in fields {
                cmd.args(["-e", f]);
            }
            String::from_utf8_lossy(&cmd.output().unwrap().stdout).into_owned()
        };
        let text = tshark(&["ipvs.conncount", "ipvs.syncid", "ipvs.version"]);
        println!("tshark (conncount, syncid, version) per message:\n{text}");
        let rows: Vec<&str> = text.lines().collect();
        assert_eq!(
            rows,
            vec!["40\t7\t1", "40\t7\t1", "20\t7\t1"],
            "tshark read {text:?}"
        );
        let ports = tshark(&["ipvs.cport"]);
        let first: Vec<&str> = ports.lines().next().unwrap_or("").split(',').collect();
        assert_eq!(first.len(), 40);
        assert_eq!(first[0], "10000");
        assert_eq!(first[39], "10039");
    } else {
        eprintln!("tshark not installed: wire check by an independent dissector skipped");
    }
}
