//! Root test in a namespace pair: the "director" side sends hand-made IP-in-IP and
//! IPv6-in-IPv6 packets through raw sockets, the agent on the "real server" side
//! decapsulates them onto its TUN device, and UDP sockets bound to the VIPs receive the
//! datagrams. Skips (with a visible message) without root or network namespaces. Every
//! wait is bounded; nothing asserts on timing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs::File;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rvs_realserver::{DropReason, TunnelAgent, TunnelAgentConfig, VipDevice};
use rvs_wire::build::{build_frame, Endpoints, L4Spec};
use rvs_wire::ether::ETH_HLEN;
use rvs_wire::MacAddr;

const VIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);
const VIP6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xa, 0, 0, 0, 0, 0x10);
const CLIENT: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 2);
const CLIENT6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xc, 0, 0, 0, 0, 2);
const DIRECTOR: &str = "198.51.100.1";
const SERVER: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 2);
const SERVER6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0x5, 0, 0, 0, 0, 2);

static NEXT: AtomicU32 = AtomicU32::new(0);

fn skip(why: &str) {
    // Straight to stderr: the harness captures eprintln! of passing tests.
    let _ = writeln!(
        std::io::stderr(),
        "skipping: needs root and network namespaces ({why})"
    );
}

fn ip(args: &[&str]) -> Result<String, String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("ip: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Two namespaces joined by a veth pair; deleted on drop.
struct Pair {
    director: String,
    server: String,
}

impl Pair {
    fn new() -> Option<Pair> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            skip("not root");
            return None;
        }
        let prefix = format!(
            "rvsrs-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let pair = Pair {
            director: format!("{prefix}-dir"),
            server: format!("{prefix}-rs"),
        };
        if let Err(e) = ip(&["netns", "add", &pair.director]) {
            skip(&e);
            std::mem::forget(pair);
            return None;
        }
        pair.build().unwrap();
        Some(pair)
    }

    fn build(&self) -> Result<(), String> {
        let (d, s) = (self.director.as_str(), self.server.as_str());
        ip(&["netns", "add", s])?;
        ip(&[
            "-n", d, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", s,
        ])?;
        ip(&["-n", d, "addr", "add", "198.51.100.1/24", "dev", "eth0"])?;
        ip(&[
            "-n",
            d,
            "addr",
            "add",
            "2001:db8:5::1/64",
            "dev",
            "eth0",
            "nodad",
        ])?;
        ip(&["-n", s, "addr", "add", "198.51.100.2/24", "dev", "eth0"])?;
        ip(&[
            "-n",
            s,
            "addr",
            "add",
            "2001:db8:5::2/64",
            "dev",
            "eth0",
            "nodad",
        ])?;
        for ns in [d, s] {
            ip(&["-n", ns, "link", "set", "lo", "up"])?;
            ip(&["-n", ns, "link", "set", "eth0", "up"])?;
        }
        ip(&["-n", s, "route", "add", "default", "via", DIRECTOR])?;
        ip(&[
            "-n",
            s,
            "-6",
            "route",
            "add",
            "default",
            "via",
            "2001:db8:5::1",
        ])?;
        Ok(())
    }
}

impl Drop for Pair {
    fn drop(&mut self) {
        for ns in [&self.director, &self.server] {
            let _ = ip(&["netns", "del", ns]);
        }
    }
}

/// Moves the calling thread into namespace `ns`.
fn enter(ns: &str) {
    let file = File::open(format!("/run/netns/{ns}")).unwrap();
    // SAFETY: a valid namespace descriptor; only this thread changes namespace.
    let ret = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
    assert_eq!(ret, 0, "setns {ns}: {}", std::io::Error::last_os_error());
}

/// Runs `f` in a new thread inside namespace `ns`.
fn in_ns<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let ns = ns.to_owned();
    std::thread::spawn(move || {
        enter(&ns);
        f()
    })
    .join()
    .unwrap()
}

fn sysctl(ns: &str, name: &str) -> String {
    let name = name.to_owned();
    in_ns(ns, move || {
        std::fs::read_to_string(format!("/proc/sys/{}", name.replace('.', "/")))
            .unwrap()
            .trim()
            .to_owned()
    })
}

fn set_sysctl(ns: &str, name: &str, value: &str) {
    let (name, value) = (name.to_owned(), value.to_owned());
    in_ns(ns, move || {
        std::fs::write(format!("/proc/sys/{}", name.replace('.', "/")), value).unwrap()
    })
}

/// A UDP packet without link header (the inner packet of a tunnel).
fn inner_udp(src: IpAddr, dst: IpAddr, payload: &[u8]) -> Vec<u8> {
    let mut frame = vec![0u8; payload.len() + 128];
    let ends = Endpoints {
        src_mac: MacAddr([2, 0, 0, 0, 0, 1]),
        dst_mac: MacAddr([2, 0, 0, 0, 0, 2]),
        src,
        dst,
        ttl: 64,
    };
    let udp = L4Spec::Udp {
        src_port: 40000,
        dst_port: 5000,
    };
    let len = build_frame(&mut frame, &ends, udp, payload).unwrap();
    frame[ETH_HLEN..len].to_vec()
}

/// Sends `payload` with a raw socket of `domain` and protocol `proto` to `to`: the
/// kernel puts the outer header in front.
fn send_raw(domain: libc::c_int, proto: libc::c_int, to: IpAddr, payload: &[u8]) {
    // SAFETY: plain syscall.
    let fd = unsafe { libc::socket(domain, libc::SOCK_RAW | libc::SOCK_CLOEXEC, proto) };
    assert!(fd >= 0, "raw socket: {}", std::io::Error::last_os_error());
    // SAFETY: fd was just returned by socket(2).
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let ret = match to {
        IpAddr::V4(v4) => {
            // SAFETY: plain old data.
            let mut sa: libc::sockaddr_in = unsafe { std::mem::zeroed() };
            sa.sin_family = libc::AF_INET as libc::sa_family_t;
            sa.sin_addr.s_addr = u32::from_ne_bytes(v4.octets());
            // SAFETY: buffer and address valid for the call.
            unsafe {
                libc::sendto(
                    fd.as_raw_fd(),
                    payload.as_ptr().cast(),
                    payload.len(),
                    0,
                    (&sa as *const libc::sockaddr_in).cast(),
                    std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
                )
            }
        }
        IpAddr::V6(v6) => {
            // SAFETY: plain old data.
            let mut sa: libc::sockaddr_in6 = unsafe { std::mem::zeroed() };
            sa.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sa.sin6_addr.s6_addr = v6.octets();
            // SAFETY: buffer and address valid for the call.
            unsafe {
                libc::sendto(
                    fd.as_raw_fd(),
                    payload.as_ptr().cast(),
                    payload.len(),
                    0,
                    (&sa as *const libc::sockaddr_in6).cast(),
                    std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t,
                )
            }
        }
    };
    assert_eq!(
        ret as usize,
        payload.len(),
        "sendto: {}",
        std::io::Error::last_os_error()
    );
}

#[test]
fn agent_delivers_tunnelled_datagrams_to_vips_on_lo_and_cleans_up() {
    delivers_and_cleans_up(VipDevice::Loopback);
}

#[test]
fn agent_delivers_tunnelled_datagrams_to_vips_on_the_tun_device_and_cleans_up() {
    delivers_and_cleans_up(VipDevice::Tun);
}

fn delivers_and_cleans_up(device: VipDevice) {
    let Some(pair) = Pair::new() else { return };
    // Values the agent must change and put back.
    set_sysctl(&pair.server, "net.ipv4.conf.all.rp_filter", "2");
    set_sysctl(&pair.server, "net.ipv4.conf.default.rp_filter", "1");

    // The agent in its own thread inside the server namespace.
    let (ready_tx, ready_rx) = mpsc::channel();
    let server_ns = pair.server.clone();
    let agent_thread = std::thread::spawn(move || {
        enter(&server_ns);
        let mut cfg = TunnelAgentConfig::new(vec![IpAddr::V4(VIP), IpAddr::V6(VIP6)]);
        cfg.vip_device = device;
        cfg.poll_interval = Duration::from_millis(50);
        let mut agent = TunnelAgent::new(&cfg).unwrap();
        ready_tx
            .send((
                agent.stop_handle(),
                agent.counters(),
                agent.tun_name().to_owned(),
            ))
            .unwrap();
        agent.run()
    });
    let (stop, counters, tun_name) = ready_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(tun_name, "rvstun0");
    assert_eq!(sysctl(&pair.server, "net.ipv4.conf.all.rp_filter"), "0");
    assert_eq!(sysctl(&pair.server, "net.ipv4.conf.all.arp_ignore"), "1");
    let vip_dev = if device == VipDevice::Tun {
        "rvstun0"
    } else {
        "lo"
    };
    let addrs = ip(&["-n", &pair.server, "addr", "show", "dev", vip_dev]).unwrap();
    assert!(
        addrs.contains("192.0.2.10/32") && addrs.contains("2001:db8:a::10/128"),
        "{addrs}"
    );

    // Receivers bound to the VIPs, in the server namespace.
    let receivers = in_ns(&pair.server, || {
        let v4 = UdpSocket::bind(SocketAddr::new(IpAddr::V4(VIP), 5000)).unwrap();
        let v6 = UdpSocket::bind(SocketAddr::new(IpAddr::V6(VIP6), 5000)).unwrap();
        for s in [&v4, &v6] {
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        }
        (v4, v6)
    });

    // The "director" sends one good packet of each family, one to an address that is
    // not a VIP, and one that is garbage inside a valid outer header.
    let director = pair.director.clone();
    in_ns(&director, || {
        let to_vip = inner_udp(IpAddr::V4(CLIENT), IpAddr::V4(VIP), b"through the tunnel");
        send_raw(libc::AF_INET, 4, IpAddr::V4(SERVER), &to_vip);
        let to_vip6 = inner_udp(
            IpAddr::V6(CLIENT6),
            IpAddr::V6(VIP6),
            b"through the v6 tunnel",
        );
        send_raw(libc::AF_INET6, 41, IpAddr::V6(SERVER6), &to_vip6);
        let elsewhere = inner_udp(
            IpAddr::V4(CLIENT),
            IpAddr::V4(Ipv4Addr::new(192, 0, 2, 99)),
            b"not for us",
        );
        send_raw(libc::AF_INET, 4, IpAddr::V4(SERVER), &elsewhere);
        send_raw(libc::AF_INET, 4, IpAddr::V4(SERVER), &[0x45, 0, 0, 3, 1, 2]);
        // Larger than both MTUs (veth and TUN device): the sender fragments the outer
        // packet, the server's kernel reassembles it before the raw socket sees it.
        let big = inner_udp(IpAddr::V4(CLIENT), IpAddr::V4(VIP), &[b'x'; 3000]);
        send_raw(libc::AF_INET, 4, IpAddr::V4(SERVER), &big);
    });

    let mut buf = [0u8; 256];
    let (n, from) = receivers.0.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"through the tunnel");
    assert_eq!(from, SocketAddr::new(IpAddr::V4(CLIENT), 40000));
    let mut big = [0u8; 4096];
    let (n, _) = receivers.0.recv_from(&mut big).unwrap();
    assert_eq!(n, 3000);
    assert!(big[..n].iter().all(|&b| b == b'x'));
    let (n, from) = receivers.1.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"through the v6 tunnel");
    assert_eq!(from, SocketAddr::new(IpAddr::V6(CLIENT6), 40000));

    // The two drops are counted (bounded wait: the agent may not have read them yet,
    // and it counts a delivery only after the TUN write the receiver already saw).
    let deadline = Instant::now() + Duration::from_secs(10);
    let snap = loop {
        let snap = counters.snapshot();
        let settled = snap.received >= 5 && snap.delivered + snap.dropped_total() >= snap.received;
        if settled || Instant::now() > deadline {
            break snap;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(snap.received, 5, "{snap}");
    assert_eq!(snap.delivered, 3, "{snap}");
    assert_eq!(snap.dropped(DropReason::NotVip), 1, "{snap}");
    assert_eq!(snap.dropped(DropReason::InnerMalformed), 1, "{snap}");

    stop.store(true, Ordering::Relaxed);
    agent_thread.join().unwrap().unwrap();

    // Everything the agent changed is back.
    assert_eq!(sysctl(&pair.server, "net.ipv4.conf.all.rp_filter"), "2");
    assert_eq!(sysctl(&pair.server, "net.ipv4.conf.default.rp_filter"), "1");
    assert_eq!(sysctl(&pair.server, "net.ipv4.conf.all.arp_ignore"), "0");
    let lo = ip(&["-n", &pair.server, "addr", "show", "dev", "lo"]).unwrap();
    assert!(
        !lo.contains("192.0.2.10") && !lo.contains("2001:db8:a::10"),
        "{lo}"
    );
    let links = ip(&["-n", &pair.server, "link", "show"]).unwrap();
    assert!(!links.contains("rvstun0"), "{links}");
}

#[test]
fn agent_refuses_an_empty_vip_list_before_touching_anything() {
    let Some(pair) = Pair::new() else { return };
    let server = pair.server.clone();
    let err = in_ns(&server, || {
        TunnelAgent::new(&TunnelAgentConfig::default()).unwrap_err()
    });
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    let links = ip(&["-n", &pair.server, "link", "show"]).unwrap();
    assert!(!links.contains("rvstun0"), "{links}");
}
