//! End-to-end tests of the real director: rvsd and rvsadm in the namespace lab, with
//! nginx real servers, curl as the client, UDP responders and tshark checking the
//! checksums of rewritten packets. NAT, direct routing and tunnelling; TCP and UDP;
//! IPv4 and IPv6 (NAT). Each test builds its own lab and tears it down. They skip,
//! visibly, without root. They run the binaries named by RVSD_BIN / RVSADM_BIN or
//! found in target/{release,debug} (scripts/test.sh builds release ones first).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rvs_lab::{
    needs_root, verify_pcap_checksums, Direction, Lab, LabSpec, Method, UDP_PORT, VIP, VIP6,
};

fn lab(spec: LabSpec) -> Lab {
    let lab = Lab::build(&spec).expect("lab");
    lab.start_director(None)
        .expect("rvsd starts and answers rvsadm");
    lab
}

fn adm(lab: &Lab, args: &[&str]) -> String {
    lab.rvsadm(args).unwrap_or_else(|e| {
        panic!(
            "rvsadm {}: {e}\n--- rvsd log ---\n{}",
            args.join(" "),
            lab.director_log()
        )
    })
}

/// Add a TCP (or UDP) service on `vip:port` with every real server of the lab.
fn service(lab: &Lab, proto: &str, vip: &str, port: u16, sched: &str, weights: &[u32]) {
    let svc = format!("{vip}:{port}");
    adm(lab, &["-A", proto, &svc, "-s", sched]);
    let flag = lab.method().ipvsadm_flag();
    for (i, rs) in lab.real_servers().iter().enumerate() {
        let w = weights.get(i).copied().unwrap_or(1).to_string();
        let rip = if vip.starts_with('[') {
            format!("[{}]:{port}", rs.ip6.expect("IPv6 real server"))
        } else {
            format!("{}:{port}", rs.ip)
        };
        adm(lab, &["-a", proto, &svc, "-r", &rip, flag, "-w", &w]);
    }
}

fn tally(answers: &[String]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for a in answers {
        *m.entry(a.trim().to_string()).or_insert(0) += 1;
    }
    m
}

fn http(lab: &Lab, n: usize, url: &str) -> Vec<String> {
    (0..n)
        .map(|i| {
            lab.curl(url).unwrap_or_else(|e| {
                panic!(
                    "request {i} to {url}: {e}\n--- rvsd log ---\n{}",
                    lab.director_log()
                )
            })
        })
        .collect()
}

fn udp(lab: &Lab, n: usize, addr: IpAddr) -> Vec<String> {
    (0..n)
        .map(|i| {
            lab.udp_request(addr, UDP_PORT, format!("ping {i}").as_bytes())
                .unwrap_or_else(|e| panic!("datagram {i} to {addr}: {e}"))
        })
        .collect()
}

fn rs_ns(lab: &Lab, name: &str) -> String {
    lab.real_servers()
        .iter()
        .find(|r| r.name == name)
        .unwrap()
        .ns
        .clone()
}

#[test]
fn nat_tcp_and_udp_over_ipv4_and_ipv6_with_valid_checksums() {
    if needs_root() {
        return;
    }
    let lab = Lab::build(&LabSpec {
        ipv6: true,
        ..LabSpec::new(Method::Nat)
    })
    .expect("lab");
    // Partial checksums completed by rvsd (not left to the receiving kernel, which trusts
    // them), so that the captures below can check every rewritten checksum.
    lab.start_director(Some("{rvsd} {ifaces} --socket {sock} --complete-checksums"))
        .expect("rvsd starts and answers rvsadm");
    service(&lab, "-t", "192.0.2.10", 80, "rr", &[]);
    service(&lab, "-u", "192.0.2.10", UDP_PORT, "rr", &[]);
    service(&lab, "-t", &format!("[{VIP6}]"), 80, "rr", &[]);

    let rs1 = rs_ns(&lab, "rs1");
    // Only what arrives: a host's own outgoing frames carry partial checksums (the
    // capture sees them before the offload would complete them).
    let filter = "tcp port 80 or udp port 5000";
    let cap_rs = lab
        .capture_direction(&rs1, "eth0", filter, Direction::In)
        .unwrap();
    let cap_cli = lab
        .capture_direction(lab.client_ns(), "eth0", filter, Direction::In)
        .unwrap();

    let answers = http(&lab, 30, &lab.url("/"));
    let t = tally(&answers);
    assert_eq!(
        t.values().copied().collect::<Vec<_>>(),
        vec![10, 10, 10],
        "rr over three servers: {t:?}"
    );
    let u = tally(&udp(&lab, 12, IpAddr::V4(VIP)));
    assert_eq!(
        u.len(),
        3,
        "UDP through the VIP reaches every server: {u:?}"
    );
    let v6 = tally(&http(&lab, 9, &lab.url6("/")));
    assert_eq!(
        v6.values().copied().collect::<Vec<_>>(),
        vec![3, 3, 3],
        "IPv6 NAT: {v6:?}"
    );

    // The real server saw the client's own address (NAT keeps it).
    let log = std::fs::read_to_string(
        lab.real_servers()[0]
            .nginx
            .as_ref()
            .unwrap()
            .access_log
            .clone(),
    )
    .unwrap_or_default();
    assert!(log.contains("203.0.113.2"), "access log: {log}");

    for (what, cap) in [("rs1", cap_rs), ("client", cap_cli)] {
        let path = cap.stop().unwrap();
        let report = verify_pcap_checksums(&path).unwrap();
        assert!(report.packets > 20, "{what}: captured {report:?}");
        assert!(
            report.good >= report.packets,
            "{what}: checksums were checked: {report:?}"
        );
        assert_eq!(report.bad(), 0, "{what}: bad checksums in {report:?}");
    }
    let stats = adm(&lab, &["-L", "-n", "--stats"]);
    assert!(
        stats.contains("TCP  192.0.2.10:80                      30"),
        "{stats}"
    );
}

#[test]
fn direct_routing_spreads_by_weight_and_answers_udp() {
    if needs_root() {
        return;
    }
    let lab = lab(LabSpec::new(Method::Route));
    // The command lines of the issue, verbatim but for the lab's addresses.
    adm(&lab, &["-A", "-t", "192.0.2.10:80", "-s", "wrr"]);
    adm(
        &lab,
        &[
            "-a",
            "-t",
            "192.0.2.10:80",
            "-r",
            "198.51.100.11",
            "-g",
            "-w",
            "1",
        ],
    );
    adm(
        &lab,
        &[
            "-a",
            "-t",
            "192.0.2.10:80",
            "-r",
            "198.51.100.12",
            "-g",
            "-w",
            "2",
        ],
    );
    adm(
        &lab,
        &[
            "-a",
            "-t",
            "192.0.2.10:80",
            "-r",
            "198.51.100.13",
            "-g",
            "-w",
            "3",
        ],
    );
    service(&lab, "-u", "192.0.2.10", UDP_PORT, "rr", &[]);
    let t = tally(&http(&lab, 12, &lab.url("/")));
    assert_eq!(
        (t["rs1"], t["rs2"], t["rs3"]),
        (2, 4, 6),
        "wrr 1:2:3 over two periods: {t:?}"
    );
    let u = tally(&udp(&lab, 9, IpAddr::V4(VIP)));
    assert_eq!(
        u.values().copied().collect::<Vec<_>>(),
        vec![3, 3, 3],
        "{u:?}"
    );
    let list = adm(&lab, &["-L", "-n"]);
    assert!(
        list.contains("  -> 198.51.100.13:80             Route   3      0          6"),
        "{list}"
    );
    adm(&lab, &["-C"]);
    assert!(!adm(&lab, &["-L", "-n"]).contains("192.0.2.10"));
}

#[test]
fn tunnel_tcp_and_udp_through_the_agent() {
    if needs_root() {
        return;
    }
    let lab = lab(LabSpec {
        backend_mtu: Some(1520),
        ..LabSpec::new(Method::Tunnel)
    });
    service(&lab, "-t", "192.0.2.10", 80, "wlc", &[]);
    service(&lab, "-u", "192.0.2.10", UDP_PORT, "rr", &[]);
    let t = tally(&http(&lab, 12, &lab.url("/")));
    assert_eq!(t.len(), 3, "every server answers through the tunnel: {t:?}");
    // A bulk transfer: full-size segments inside the tunnel.
    let body = lab
        .curl_with(&[
            "-o",
            "/dev/null",
            "-w",
            "%{size_download}",
            &lab.url("/big"),
        ])
        .unwrap();
    assert_eq!(body.trim(), (20 * 1024 * 1024).to_string());
    let u = tally(&udp(&lab, 6, IpAddr::V4(VIP)));
    assert_eq!(u.len(), 3, "{u:?}");
}

#[test]
fn persistence_keeps_a_client_on_one_server() {
    if needs_root() {
        return;
    }
    let lab = lab(LabSpec::new(Method::Nat));
    adm(&lab, &["-A", "-t", "192.0.2.10:80", "-p", "600"]);
    for rs in lab.real_servers().to_vec() {
        adm(
            &lab,
            &[
                "-a",
                "-t",
                "192.0.2.10:80",
                "-r",
                &rs.ip.to_string(),
                "-m",
                "-w",
                "100",
            ],
        );
    }
    let t = tally(&http(&lab, 12, &lab.url("/")));
    assert_eq!(t.len(), 1, "one server for the persistent client: {t:?}");
    let list = adm(&lab, &["-L", "-n"]);
    assert!(
        list.contains("TCP  192.0.2.10:80 wlc persistent 600"),
        "{list}"
    );
    let conns = adm(&lab, &["-L", "-n", "-c"]);
    assert!(
        conns.contains("NONE        203.0.113.2:0      192.0.2.10:80"),
        "template listed: {conns}"
    );
}

#[test]
fn weight_zero_drains_while_a_download_completes() {
    if needs_root() {
        return;
    }
    let lab = lab(LabSpec::new(Method::Nat));
    service(&lab, "-t", "192.0.2.10", 80, "rr", &[]);
    // rr: the first connection goes to rs1. A 20 MiB download at 5 MiB/s takes ~4 s.
    let lab = Arc::new(lab);
    let l2 = lab.clone();
    let download = std::thread::spawn(move || {
        l2.curl_with(&[
            "-o",
            "/dev/null",
            "-w",
            "%{size_download}",
            "--limit-rate",
            "5M",
            &l2.url("/big"),
        ])
    });
    let t0 = Instant::now();
    while !adm(&lab, &["-L", "-n"]).contains("  -> 198.51.100.11:80             Masq    1      1") {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "download never became active"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    adm(
        &lab,
        &[
            "-e",
            "-t",
            "192.0.2.10:80",
            "-r",
            "198.51.100.11:80",
            "-m",
            "-w",
            "0",
        ],
    );
    let t = tally(&http(&lab, 10, &lab.url("/")));
    assert!(
        !t.contains_key("rs1"),
        "a quiescent server gets no new connection: {t:?}"
    );
    let size = download
        .join()
        .unwrap()
        .expect("the download in progress completes");
    assert_eq!(size.trim(), (20 * 1024 * 1024).to_string());
}

#[test]
fn deleting_a_real_server_under_load_fails_no_request() {
    if needs_root() {
        return;
    }
    let lab = Arc::new(lab(LabSpec::new(Method::Nat)));
    service(&lab, "-t", "192.0.2.10", 80, "rr", &[]);
    let stop = Arc::new(AtomicBool::new(false));
    let (done, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let load = {
        let (lab, stop, done, failed) = (lab.clone(), stop.clone(), done.clone(), failed.clone());
        std::thread::spawn(move || {
            // Bounded: at most 400 requests or until told to stop.
            for _ in 0..400 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                match lab.curl(&lab.url("/")) {
                    Ok(_) => done.fetch_add(1, Ordering::Relaxed),
                    Err(_) => failed.fetch_add(1, Ordering::Relaxed),
                };
            }
        })
    };
    let t0 = Instant::now();
    while done.load(Ordering::Relaxed) < 20 && t0.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(20));
    }
    adm(
        &lab,
        &["-d", "-t", "192.0.2.10:80", "-r", "198.51.100.12:80"],
    );
    let mark = done.load(Ordering::Relaxed);
    while done.load(Ordering::Relaxed) < mark + 30 && t0.elapsed() < Duration::from_secs(40) {
        std::thread::sleep(Duration::from_millis(20));
    }
    stop.store(true, Ordering::Relaxed);
    load.join().unwrap();
    assert!(
        done.load(Ordering::Relaxed) >= mark + 30,
        "the load kept going"
    );
    assert_eq!(failed.load(Ordering::Relaxed), 0, "no request failed");
    assert!(!adm(&lab, &["-L", "-n"]).contains("198.51.100.12"));
}

#[test]
fn a_vip_port_without_service_gets_nothing_from_the_host() {
    if needs_root() {
        return;
    }
    let lab = lab(LabSpec::new(Method::Nat));
    service(&lab, "-t", "192.0.2.10", 80, "rr", &[]);
    let cap = lab
        .capture(lab.client_ns(), "eth0", "src host 192.0.2.10")
        .unwrap();
    let out = lab
        .exec(
            lab.client_ns(),
            &["curl", "-sS", "--max-time", "2", "http://192.0.2.10:81/"],
        )
        .unwrap();
    // 28: timed out. 7 would be "connection refused": a RST from somebody's TCP stack.
    assert_eq!(
        out.status.code(),
        Some(28),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let path = cap.stop().unwrap();
    let report = verify_pcap_checksums(&path).unwrap();
    assert_eq!(
        report.packets, 0,
        "nothing came back from the VIP: {report:?}"
    );
}

#[test]
fn rvsadm_commands_and_clean_shutdown() {
    if needs_root() {
        return;
    }
    let lab = lab(LabSpec::new(Method::Nat));
    adm(&lab, &["-A", "-t", "192.0.2.10:80", "-p", "600"]);
    adm(
        &lab,
        &[
            "-a",
            "-t",
            "192.0.2.10:80",
            "-r",
            "198.51.100.11",
            "-m",
            "-w",
            "100",
        ],
    );
    let dup = lab.rvsadm(&["-A", "-t", "192.0.2.10:80", "-s", "wrr"]);
    assert!(dup.is_err(), "a second -A for the same service is refused");
    let saved = adm(&lab, &["-S", "-n"]);
    assert!(
        saved.contains("-A -t 192.0.2.10:80 -s wlc -p 600"),
        "{saved}"
    );
    assert!(
        saved.contains("-a -t 192.0.2.10:80 -r 198.51.100.11:80 -m -w 100"),
        "{saved}"
    );
    adm(&lab, &["-C"]);
    assert_eq!(
        adm(&lab, &["-L", "-n"]).lines().count(),
        3,
        "empty table: header only"
    );
    // Host integration: the nftables table (AF_PACKET backend) or the XDP program (AF_XDP
    // backend) keeps the kernel away from the director's traffic while rvsd runs.
    let host_hooks = |lab: &Lab| {
        let rules = lab
            .exec_ok(lab.director_ns(), &["nft", "list", "tables"])
            .unwrap();
        let links = lab
            .exec_ok(lab.director_ns(), &["ip", "-d", "link", "show", "eth0"])
            .unwrap();
        (rules.contains("netdev rvsd"), links.contains("prog/xdp"))
    };
    let (nft, xdp) = host_hooks(&lab);
    assert!(nft != xdp, "exactly one of nftables ({nft}) or XDP ({xdp})");
    let status = lab.stop_director().expect("director was running");
    assert!(status.success(), "rvsd exits 0 on SIGTERM: {status}");
    assert_eq!(host_hooks(&lab), (false, false), "removed on exit");
}
