//! End-to-end tests of the lab with stand-ins for the director: every topology is built
//! and proven (NAT through kernel nftables DNAT, DR through an nftables netdev rule that
//! does what LVS direct routing does, the tunnel path through a hand-made IP-in-IP
//! datagram and the real servers' decapsulating agents), captures are checked with
//! tshark, and teardown leaves nothing behind. Each test skips, visibly, without root.
//! No timing assertions; every wait is bounded.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::net::IpAddr;

use rvs_lab::{
    needs_root, netns, verify_pcap_checksums, Direction, Lab, LabSpec, Method, CLIENT_IP, UDP_PORT,
    VIP, VIP6,
};

/// The lab namespaces whose names start with `prefix`.
/// Tests share a lab across threads (e.g. a load thread and an observer).
#[allow(dead_code)]
fn lab_is_send_and_sync(lab: Lab) -> impl Send + Sync {
    lab
}

fn namespaces_with(prefix: &str) -> Vec<String> {
    netns::list()
        .unwrap()
        .into_iter()
        .filter(|n| n.starts_with(prefix))
        .collect()
}

fn answers(lab: &Lab, url: &str, n: usize) -> BTreeSet<String> {
    (0..n)
        .map(|_| lab.curl(url).unwrap().trim().to_owned())
        .collect()
}

fn all_servers(lab: &Lab) -> BTreeSet<String> {
    lab.real_servers()
        .iter()
        .map(|rs| rs.name.clone())
        .collect()
}

#[test]
fn nat_standin_spreads_http_and_udp_over_all_real_servers_with_valid_checksums() {
    if needs_root() {
        return;
    }
    let spec = LabSpec {
        // The kernel stand-in forwards partial checksums as they are: let the hosts
        // send full ones, so the capture judges the NAT rewrite alone.
        hosts_full_checksums: true,
        ..LabSpec::new(Method::Nat)
    };
    let lab = Lab::build(&spec).unwrap();
    let prefix = lab.prefix().to_owned();
    assert_eq!(namespaces_with(&prefix).len(), 6);
    lab.start_nat_standin().unwrap();

    let rs1 = lab.real_servers()[0].clone();
    let capture = lab
        .capture_direction(
            &rs1.ns,
            "eth0",
            "tcp port 80 or udp port 5000",
            Direction::In,
        )
        .unwrap();
    // Round robin: six requests meet every server twice.
    assert_eq!(answers(&lab, &lab.url("/"), 6), all_servers(&lab));
    let udp: BTreeSet<String> = (0..3)
        .map(|_| lab.udp_request(IpAddr::V4(VIP), UDP_PORT, b"who").unwrap())
        .collect();
    assert_eq!(udp, all_servers(&lab));
    let pcap = capture.stop().unwrap();
    let report = verify_pcap_checksums(&pcap).unwrap();
    assert!(report.packets >= 6, "{report}");
    assert_eq!(report.bad(), 0, "{report}");

    // NAT keeps the client's address: the servers see the client, on their own address.
    let log = std::fs::read_to_string(&rs1.nginx.as_ref().unwrap().access_log).unwrap();
    let line = log.lines().next().expect("rs1 logged a request");
    assert!(line.starts_with(&format!("{CLIENT_IP} ")), "{line}");
    assert!(
        line.contains(&format!("{}:80 \"GET / HTTP/1.1\" 200", rs1.ip)),
        "{line}"
    );

    drop(lab);
    assert!(namespaces_with(&prefix).is_empty());
}

#[test]
fn nat_standin_works_for_ipv6_too() {
    if needs_root() {
        return;
    }
    let spec = LabSpec {
        ipv6: true,
        ..LabSpec::new(Method::Nat)
    };
    let lab = Lab::build(&spec).unwrap();
    lab.start_nat_standin().unwrap();
    assert_eq!(answers(&lab, &lab.url6("/"), 3), all_servers(&lab));
    assert_eq!(answers(&lab, &lab.url("/"), 3), all_servers(&lab));
    let answer = lab.udp_request(IpAddr::V6(VIP6), UDP_PORT, b"who").unwrap();
    assert!(all_servers(&lab).contains(&answer), "{answer}");
}

#[test]
fn checksum_verification_sees_the_partial_checksums_of_veth() {
    if needs_root() {
        return;
    }
    // Hosts keep transmit checksum offload (the default): the client's TCP segments
    // carry only the pseudo-header sum, which kernel forwarding leaves as it is. A
    // director in user space must complete them; tshark must see them as bad.
    let lab = Lab::build(&LabSpec {
        udp: false,
        real_servers: 1,
        ..LabSpec::new(Method::Nat)
    })
    .unwrap();
    lab.start_nat_standin().unwrap();
    let rs1 = &lab.real_servers()[0];
    let capture = lab
        .capture_direction(&rs1.ns, "eth0", "tcp port 80", Direction::In)
        .unwrap();
    assert_eq!(lab.curl(&lab.url("/")).unwrap(), "rs1\n");
    let report = verify_pcap_checksums(&capture.stop().unwrap()).unwrap();
    assert!(report.bad_tcp > 0, "{report}");
    assert_eq!(report.bad_ip, 0, "{report}");
}

#[test]
fn dr_standin_reaches_every_real_server_which_answers_from_the_vip() {
    if needs_root() {
        return;
    }
    let lab = Lab::build(&LabSpec::new(Method::Route)).unwrap();
    let prefix = lab.prefix().to_owned();
    assert_eq!(namespaces_with(&prefix).len(), 7);
    // Without a director the router's VIP route leads nowhere.
    assert!(lab.curl_with(&["--max-time", "1", &lab.url("/")]).is_err());
    // The servers themselves answer on their own addresses.
    for rs in lab.real_servers() {
        let url = format!("http://{}/", rs.ip);
        assert_eq!(lab.curl(&url).unwrap().trim(), rs.name);
    }

    lab.start_route_standin().unwrap();
    let capture = lab
        .capture_direction(lab.client_ns(), "eth0", "tcp port 80", Direction::In)
        .unwrap();
    // The stand-in hashes client address and port; 30 connections meet every server
    // but with a probability of about 1e-5.
    assert_eq!(answers(&lab, &lab.url("/"), 30), all_servers(&lab));
    // UDP answers come from the VIP (the client's socket is connected to it).
    let answer = lab.udp_request(IpAddr::V4(VIP), UDP_PORT, b"who").unwrap();
    assert!(all_servers(&lab).contains(&answer), "{answer}");
    let report = verify_pcap_checksums(&capture.stop().unwrap()).unwrap();
    assert!(report.packets > 0, "{report}");

    // The servers saw the client's address on the VIP, and the replies bypassed the
    // director: its eth0 counted no packet from the VIP.
    for rs in lab.real_servers() {
        let log = std::fs::read_to_string(&rs.nginx.as_ref().unwrap().access_log).unwrap();
        for line in log.lines().filter(|l| l.contains("192.0.2.10:80")) {
            assert!(line.starts_with(&format!("{CLIENT_IP} ")), "{line}");
        }
    }
    let stats = lab
        .exec_ok(
            lab.director_ns(),
            &["nft", "list", "table", "netdev", "rvs_standin"],
        )
        .unwrap();
    assert!(stats.contains("fwd to \"eth0\""), "{stats}");
    drop(lab);
    assert!(namespaces_with(&prefix).is_empty());
}

#[test]
fn dr_standin_works_for_ipv6_too() {
    if needs_root() {
        return;
    }
    let lab = Lab::build(&LabSpec {
        ipv6: true,
        ..LabSpec::new(Method::Route)
    })
    .unwrap();
    lab.start_route_standin().unwrap();
    let got = answers(&lab, &lab.url6("/"), 12);
    assert!(
        !got.is_empty() && got.is_subset(&all_servers(&lab)),
        "{got:?}"
    );
    let answer = lab.udp_request(IpAddr::V6(VIP6), UDP_PORT, b"who").unwrap();
    assert!(all_servers(&lab).contains(&answer), "{answer}");
}

#[test]
fn tunnel_topology_decapsulates_and_answers_the_client_directly() {
    if needs_root() {
        return;
    }
    let lab = Lab::build(&LabSpec::new(Method::Tunnel)).unwrap();
    let prefix = lab.prefix().to_owned();
    assert_eq!(namespaces_with(&prefix).len(), 7);
    // Plain routing to every server works, and nginx answers there.
    for rs in lab.real_servers() {
        assert!(rs.ip.to_string().starts_with("198.51.100.7"), "{}", rs.ip);
        assert_eq!(
            lab.curl(&format!("http://{}/", rs.ip)).unwrap().trim(),
            rs.name
        );
    }
    // The router's reverse-path filter must let the VIP-sourced replies pass.
    let rt = lab.router_ns().unwrap();
    assert_eq!(
        netns::sysctl(rt, "net.ipv4.conf.all.rp_filter").unwrap(),
        "0"
    );

    let capture = lab
        .capture_direction(lab.client_ns(), "eth0", "udp port 5000", Direction::In)
        .unwrap();
    for (i, rs) in lab.real_servers().iter().enumerate() {
        let answer = lab.tunnel_udp_probe(rs.index, 41000 + i as u16).unwrap();
        assert_eq!(answer, rs.name);
        // The agent counts a delivery after its write to the TUN device returns, which
        // can be after the answer reached the client: wait for it, bounded.
        let agent = lab.tunnel_agent_counters(rs.index).unwrap();
        let t0 = std::time::Instant::now();
        while agent.snapshot().delivered == 0 && t0.elapsed() < std::time::Duration::from_secs(3) {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let counters = agent.snapshot();
        assert!(counters.delivered >= 1, "{counters}");
        assert_eq!(counters.dropped_total(), 0, "{counters}");
    }
    let report = verify_pcap_checksums(&capture.stop().unwrap()).unwrap();
    assert!(report.packets >= 3, "{report}");
    drop(lab);
    assert!(namespaces_with(&prefix).is_empty());
}

#[test]
fn tunnel_topology_with_ipv6_builds_and_routes() {
    if needs_root() {
        return;
    }
    let lab = Lab::build(&LabSpec {
        ipv6: true,
        http: false,
        backend_mtu: Some(1520),
        ..LabSpec::new(Method::Tunnel)
    })
    .unwrap();
    // Room for the outer header behind the router; the client's link keeps 1500.
    let mtu = |ns: &str, iface: &str| {
        let out = lab
            .exec_ok(ns, &["ip", "-o", "link", "show", "dev", iface])
            .unwrap();
        out.split_whitespace()
            .skip_while(|w| *w != "mtu")
            .nth(1)
            .unwrap()
            .to_owned()
    };
    let rt = lab.router_ns().unwrap();
    assert_eq!(mtu(lab.client_ns(), "eth0"), "1500");
    assert_eq!(mtu(rt, "eth0"), "1500");
    assert_eq!(mtu(rt, "eth2"), "1520");
    assert_eq!(mtu(lab.director_ns(), "eth0"), "1520");
    assert_eq!(mtu(&lab.real_servers()[0].ns, "eth0"), "1520");
    assert_eq!(mtu(lab.switch_ns(), "br1"), "1520");
    // Build already pinged every server over IPv4 and IPv6; the agents hold both VIPs.
    for rs in lab.real_servers() {
        let lo = lab
            .exec_ok(&rs.ns, &["ip", "addr", "show", "dev", "lo"])
            .unwrap();
        assert!(
            lo.contains("192.0.2.10/32") && lo.contains("2001:db8:a::10/128"),
            "{lo}"
        );
        assert!(lab.tunnel_agent_counters(rs.index).is_some());
    }
    assert_eq!(lab.tunnel_udp_probe(2, 41100).unwrap(), "rs2");
}

#[test]
fn teardown_removes_namespaces_and_processes_even_after_a_panic() {
    if needs_root() {
        return;
    }
    let spec = LabSpec {
        http: false,
        udp: false,
        real_servers: 1,
        ..LabSpec::new(Method::Nat)
    };
    let (prefix, pid) = {
        let lab = Lab::build(&spec).unwrap();
        let sleeper = lab.spawn(lab.client_ns(), &["sleep", "60"]).unwrap();
        assert!(lab.is_running(&sleeper));
        (lab.prefix().to_owned(), sleeper.pid)
    };
    assert!(namespaces_with(&prefix).is_empty());
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());

    let mut stray = None;
    let (prefix, dir) = *std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let lab = Lab::build(&spec).unwrap();
        let prefix = lab.prefix().to_owned();
        // A process the lab did not track, started inside a lab namespace, goes too.
        stray = Some(
            std::process::Command::new("ip")
                .args(["netns", "exec", &format!("{prefix}rs1"), "sleep", "60"])
                .spawn()
                .unwrap(),
        );
        let rs1 = format!("{prefix}rs1");
        for _ in 0..500 {
            if !netns::pids(&rs1).is_empty() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        std::panic::panic_any((prefix, lab.dir().to_owned()));
    }))
    .unwrap_err()
    .downcast::<(String, std::path::PathBuf)>()
    .unwrap();
    let status = stray.unwrap().wait().unwrap();
    assert!(!status.success(), "the stray process was killed");
    assert!(namespaces_with(&prefix).is_empty());
    // After a panic the lab keeps its files for inspection.
    assert!(dir.exists());
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn spawned_processes_can_be_stopped_and_their_logs_read() {
    if needs_root() {
        return;
    }
    let lab = Lab::build(&LabSpec {
        http: false,
        udp: false,
        real_servers: 1,
        ..LabSpec::new(Method::Nat)
    })
    .unwrap();
    let dir_ns = lab.director_ns().to_owned();
    let echo = lab
        .spawn(
            &dir_ns,
            &["sh", "-c", "ip -o link show eth1; exec sleep 60"],
        )
        .unwrap();
    for _ in 0..500 {
        if lab.log_of(&echo).contains("eth1") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let stopped = lab.stop(&echo, std::time::Duration::from_secs(5)).unwrap();
    assert!(!stopped.success());
    assert!(lab.log_of(&echo).contains("eth1"), "{}", lab.log_of(&echo));
    assert!(!lab.is_running(&echo));
    let out = lab.exec(lab.client_ns(), &["ip", "route"]).unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("default via 203.0.113.1"));
    assert!(lab.exec_ok(lab.client_ns(), &["false"]).is_err());
}
