//! End-to-end tests of rvsd's metrics listener and status page in the namespace lab:
//! the scraped counters add up to the connections and bytes that really went through
//! the VIP and pass `promtool check metrics`; headless Chromium loads the status page,
//! saves a screenshot (`target/lab-artifacts/status.png`, or `$RVS_LAB_ARTIFACTS`) and
//! its DOM shows the lab's services after the page refreshed itself. They skip, visibly,
//! without root; promtool and chromium come from scripts/deps.sh.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use rvs_lab::{needs_root, Lab, LabSpec, Method, UDP_PORT};

/// Where rvsd listens, inside the director's namespace (each lab has its own loopback).
const LISTEN: &str = "127.0.0.1:9810";

fn director_template() -> String {
    format!("{{rvsd}} -i eth0 -i eth1 --socket {{sock}} --metrics-listen {LISTEN}")
}

fn lab_with_metrics(spec: LabSpec) -> Lab {
    let lab = Lab::build(&spec).expect("lab");
    lab.start_director(Some(&director_template()))
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

/// A round-robin service on the VIP with every real server of the lab, NAT.
fn service(lab: &Lab, proto: &str, port: u16) {
    let svc = format!("{}:{port}", lab.vip());
    adm(lab, &["-A", proto, &svc, "-s", "rr"]);
    for rs in lab.real_servers() {
        let rip = format!("{}:{port}", rs.ip);
        adm(lab, &["-a", proto, &svc, "-r", &rip, "-m", "-w", "1"]);
    }
}

/// GET `path` from rvsd's listener, from inside the director's namespace.
fn get(lab: &Lab, path: &str) -> String {
    let url = format!("http://{LISTEN}{path}");
    lab.exec_ok(lab.director_ns(), &["curl", "-sS", "--max-time", "5", &url])
        .unwrap_or_else(|e| panic!("GET {url}: {e}\n--- rvsd log ---\n{}", lab.director_log()))
}

#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// A reader of the text format good enough for rvsd's output (no escaped quotes in
/// the lab's label values, no timestamps).
fn parse(text: &str) -> Vec<Sample> {
    let mut out = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("sample line");
        let (name, labels) = match series.split_once('{') {
            Some((n, rest)) => {
                let body = rest.strip_suffix('}').expect("closing brace");
                let labels = body
                    .split("\",")
                    .filter(|p| !p.is_empty())
                    .map(|p| {
                        let (k, v) = p.split_once("=\"").expect("label");
                        (k.to_string(), v.trim_end_matches('"').to_string())
                    })
                    .collect();
                (n.to_string(), labels)
            }
            None => (series.to_string(), BTreeMap::new()),
        };
        out.push(Sample {
            name,
            labels,
            value: value.parse().expect("value"),
        });
    }
    out
}

/// Samples of `name` whose labels include all of `want`.
fn select<'a>(samples: &'a [Sample], name: &str, want: &[(&str, &str)]) -> Vec<&'a Sample> {
    samples
        .iter()
        .filter(|s| s.name == name)
        .filter(|s| {
            want.iter()
                .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .collect()
}

fn sum(samples: &[Sample], name: &str, want: &[(&str, &str)]) -> u64 {
    select(samples, name, want)
        .iter()
        .map(|s| s.value as u64)
        .sum()
}

fn one(samples: &[Sample], name: &str) -> u64 {
    let s = select(samples, name, &[]);
    assert_eq!(s.len(), 1, "{name}: {s:?}");
    s[0].value as u64
}

/// Scrapes until two scrapes in a row agree on the packet counters (the last ACKs of
/// the transfers have been counted), bounded.
fn settled_scrape(lab: &Lab) -> String {
    let mut last = get(lab, "/metrics");
    for _ in 0..30 {
        std::thread::sleep(Duration::from_millis(200));
        let next = get(lab, "/metrics");
        let key = |t: &str| {
            let s = parse(t);
            (
                one(&s, "node_ipvs_incoming_packets_total"),
                one(&s, "node_ipvs_outgoing_packets_total"),
            )
        };
        if key(&next) == key(&last) {
            return next;
        }
        last = next;
    }
    last
}

/// The client's eth0 counters: (rx bytes, rx packets, tx bytes, tx packets).
/// Counts the IP bytes the client receives and sends (nftables counters on its input and
/// output hooks: the IP packet lengths, as IPVS counts them). The interface's own
/// statistics are not used: a veth whose peer runs a native XDP program accounts its
/// transmissions through the peer's queues, not per frame sent.
fn count_client_ip(lab: &Lab) {
    let script = "table ip rvslab_acct {\n\
        chain input { type filter hook input priority 0; counter; }\n\
        chain output { type filter hook output priority 0; counter; }\n}\n";
    let path = lab.dir().join("client-acct.nft");
    std::fs::write(&path, script).unwrap();
    lab.exec_ok(lab.client_ns(), &["nft", "-f", path.to_str().unwrap()])
        .unwrap();
}

/// (bytes received, bytes sent) of IP at the client, from [`count_client_ip`]'s counters.
fn client_ip_bytes(lab: &Lab) -> (u64, u64) {
    let out = lab
        .exec_ok(
            lab.client_ns(),
            &["nft", "list", "table", "ip", "rvslab_acct"],
        )
        .unwrap();
    let bytes: Vec<u64> = out
        .split("bytes ")
        .skip(1)
        .map(|rest| rest.split_whitespace().next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(bytes.len(), 2, "{out}");
    (bytes[0], bytes[1])
}

fn promtool_check(text: &str) {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian package prometheus): run scripts/deps.sh");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics:\n{}{}\n--- scraped ---\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Ethernet header bytes per frame on the lab's veths (no VLAN tags).

#[test]
fn scraped_counters_add_up_to_the_requests_and_bytes() {
    if needs_root() {
        return;
    }
    let lab = lab_with_metrics(LabSpec {
        big_file_mib: 2,
        ..LabSpec::new(Method::Nat)
    });
    service(&lab, "-t", 80);

    // Before any traffic: valid, and zero.
    let idle = get(&lab, "/metrics");
    promtool_check(&idle);
    assert_eq!(one(&parse(&idle), "node_ipvs_connections_total"), 0);

    const SMALL: usize = 30;
    const BIG: usize = 3;
    count_client_ip(&lab);
    let mut received_app = 0u64;
    for i in 0..SMALL + BIG {
        let path = if i < SMALL { "/" } else { "/big" };
        let out = lab
            .curl_with(&[
                "--max-time",
                "60",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code} %{size_download} %{size_header}",
                &lab.url(path),
            ])
            .unwrap_or_else(|e| panic!("request {i}: {e}\n{}", lab.director_log()));
        let f: Vec<u64> = out.split_whitespace().map(|v| v.parse().unwrap()).collect();
        assert_eq!(f[0], 200, "request {i}: {out}");
        received_app += f[1] + f[2];
    }
    let n = (SMALL + BIG) as u64;
    let text = settled_scrape(&lab);
    let (rx_ip, tx_ip) = client_ip_bytes(&lab);
    promtool_check(&text);
    let s = parse(&text);

    // Connections: the director, the service and its real servers each count all N.
    let vip = lab.vip().to_string();
    let svc = [
        ("local_address", vip.as_str()),
        ("local_port", "80"),
        ("proto", "TCP"),
    ];
    assert_eq!(one(&s, "node_ipvs_connections_total"), n, "{text}");
    assert_eq!(sum(&s, "rvs_virtual_service_connections_total", &svc), n);
    assert_eq!(sum(&s, "rvs_real_server_connections_total", &svc), n);
    for rs in lab.real_servers() {
        let ip = rs.ip.to_string();
        let mut want = svc.to_vec();
        want.extend([("remote_address", ip.as_str()), ("remote_port", "80")]);
        let c = sum(&s, "rvs_real_server_connections_total", &want);
        assert!(
            c == n / 3 || c == n / 3 + 1,
            "rr spreads {n} connections evenly; {ip} got {c}"
        );
        // node_exporter's backend series with its six labels.
        let w = select(&s, "node_ipvs_backend_weight", &want);
        assert_eq!(w.len(), 1, "{ip}: {w:?}");
        let keys: Vec<&str> = w[0].labels.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "local_address",
                "local_mark",
                "local_port",
                "proto",
                "remote_address",
                "remote_port"
            ]
        );
        assert_eq!((w[0].value, w[0].labels["local_mark"].as_str()), (1.0, ""));
    }

    // Bytes: IPVS counts IP packet lengths. What the client's IP layer received and
    // sent in the same window must match within 1 % + 2 KiB (the tolerance covers
    // segments in flight at either reading); and the director can never have sent less
    // than the client's HTTP responses (headers and bodies).
    let out_bytes = one(&s, "node_ipvs_outgoing_bytes_total");
    let in_bytes = one(&s, "node_ipvs_incoming_bytes_total");
    let close = |counted: u64, seen: u64| counted.abs_diff(seen) <= seen / 100 + 2048;
    assert!(
        close(out_bytes, rx_ip),
        "director sent {out_bytes} B to the client, the client received {rx_ip} B of IP"
    );
    assert!(
        close(in_bytes, tx_ip),
        "director took {in_bytes} B from the client, the client sent {tx_ip} B of IP"
    );
    assert!(
        out_bytes >= received_app,
        "{out_bytes} B sent < {received_app} B of HTTP the client read"
    );
    assert!(received_app >= (BIG as u64) * 2 * 1024 * 1024);
    // The per-real-server counters add up to the director's.
    for (node, rvs) in [
        (
            "node_ipvs_outgoing_bytes_total",
            "rvs_real_server_outgoing_bytes_total",
        ),
        (
            "node_ipvs_incoming_bytes_total",
            "rvs_real_server_incoming_bytes_total",
        ),
        (
            "node_ipvs_outgoing_packets_total",
            "rvs_real_server_outgoing_packets_total",
        ),
        (
            "node_ipvs_incoming_packets_total",
            "rvs_real_server_incoming_packets_total",
        ),
    ] {
        assert_eq!(one(&s, node), sum(&s, rvs, &[]), "{node} vs {rvs}");
    }

    // rvs's own families are there.
    assert_eq!(select(&s, "rvs_build_info", &[]).len(), 1);
    assert!(sum(&s, "rvs_worker_received_frames_total", &[("worker", "0")]) > 0);
    assert!(sum(&s, "rvs_worker_batches_total", &[("worker", "0")]) > 0);
    assert!(!select(&s, "rvs_drops_total", &[("reason", "no_service")]).is_empty());
    assert!(!select(
        &s,
        "rvs_connection_table_entries",
        &[("kind", "connection")]
    )
    .is_empty());
    // The listener is read-only.
    let post = lab
        .exec_ok(
            lab.director_ns(),
            &[
                "curl",
                "-sS",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "-X",
                "POST",
                &format!("http://{LISTEN}/metrics"),
            ],
        )
        .unwrap();
    assert_eq!(post, "405");
}

/// Where test artefacts go: `$RVS_LAB_ARTIFACTS` or `<target>/lab-artifacts`.
fn artifacts_dir() -> PathBuf {
    let dir = std::env::var_os("RVS_LAB_ARTIFACTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::env::var_os("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"))
                .join("lab-artifacts")
        });
    std::fs::create_dir_all(&dir).unwrap();
    dir.canonicalize().unwrap_or(dir)
}

/// Runs Debian's chromium headless in the director's namespace (where the listener
/// is) with `extra` arguments and the page; bounded, and its whole process group is
/// killed if it hangs.
fn chromium(lab: &Lab, extra: &[&str], url: &str) -> String {
    let profile = lab.dir().join(format!("chromium-{}", extra.len()));
    std::fs::create_dir_all(&profile).unwrap();
    let profile_arg = format!("--user-data-dir={}", profile.display());
    let mut args = vec![
        "timeout",
        "-k",
        "5",
        "90",
        "chromium",
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        &profile_arg,
    ];
    args.extend_from_slice(extra);
    args.push(url);
    let out = lab
        .exec_timeout(lab.director_ns(), &args, Duration::from_secs(120))
        .expect("chromium (Debian package chromium): run scripts/deps.sh");
    assert!(
        out.status.success(),
        "chromium {extra:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn status_page_in_headless_chromium_shows_the_lab() {
    if needs_root() {
        return;
    }
    let lab = lab_with_metrics(LabSpec::new(Method::Nat));
    service(&lab, "-t", 80);
    service(&lab, "-u", UDP_PORT);
    for i in 0..9 {
        lab.curl(&lab.url("/"))
            .unwrap_or_else(|e| panic!("request {i}: {e}"));
    }
    for i in 0..3 {
        lab.udp_request(lab.vip().into(), UDP_PORT, b"ping")
            .unwrap_or_else(|e| panic!("datagram {i}: {e}"));
    }

    // The JSON first: every service and real server is there.
    let json: serde_json::Value = serde_json::from_str(&get(&lab, "/status.json")).unwrap();
    assert_eq!(json["services"].as_array().unwrap().len(), 2);
    assert_eq!(json["summary"]["stats"]["conns"].as_u64().unwrap(), 12);
    assert_eq!(json["services"][0]["real_servers"][0]["method"], "masq");

    let url = format!("http://{LISTEN}/");
    let shot = artifacts_dir().join("status.png");
    let _ = std::fs::remove_file(&shot);
    let shot_arg = format!("--screenshot={}", shot.display());
    chromium(
        &lab,
        &["--hide-scrollbars", "--window-size=1600,900", &shot_arg],
        &url,
    );
    let png = std::fs::read(&shot).expect("screenshot written");
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 10_000,
        "a real PNG"
    );
    eprintln!("status page screenshot: {}", shot.display());

    // The DOM after the page's script has refreshed it from /status.json at least once
    // (virtual time runs its timer without waiting).
    let dom = chromium(&lab, &["--virtual-time-budget=5000", "--dump-dom"], &url);
    std::fs::write(artifacts_dir().join("status.html"), &dom).unwrap();
    let vip = lab.vip();
    for needle in [
        format!("TCP {vip}:80"),
        format!("UDP {vip}:{UDP_PORT}"),
        "Masq".to_string(),
        "rvs director".to_string(),
    ] {
        assert!(dom.contains(&needle), "DOM lacks {needle:?}:\n{dom}");
    }
    for rs in lab.real_servers() {
        for port in [80, UDP_PORT] {
            let row = format!("\u{2192} {}:{port}", rs.ip);
            assert!(dom.contains(&row), "DOM lacks the row {row:?}");
        }
    }
    assert!(
        dom.contains("data-updates=\""),
        "the page refreshed itself from /status.json without reloading:\n{dom}"
    );
}

/// The part of the issue that needs health checks in rvsd: stopping nginx on one real
/// server turns its row down. It runs once rvsd takes a keepalived.conf with checks
/// (`--config FILE`, or the arguments in `RVS_WEB_HEALTH_ARGS`, `{conf}` standing for
/// the file) and reports health state on /status.json; until then it says why it skips.
#[test]
fn stopping_nginx_turns_its_row_down() {
    if needs_root() {
        return;
    }
    let help = std::process::Command::new(rvs_lab::locate(rvs_lab::Binary::Rvsd).unwrap())
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    let args = match std::env::var("RVS_WEB_HEALTH_ARGS") {
        Ok(a) => a,
        Err(_) if help.contains("--config") => "--config {conf}".to_string(),
        Err(_) => {
            eprintln!(
                "skipping: rvsd takes no keepalived.conf yet (no --config), so no health checks"
            );
            return;
        }
    };
    let lab = Lab::build(&LabSpec::new(Method::Nat)).expect("lab");
    let conf = lab.dir().join("keepalived.conf");
    let mut text = format!(
        "virtual_server {} 80 {{\n  delay_loop 1\n  lb_algo rr\n  lb_kind NAT\n  protocol TCP\n",
        lab.vip()
    );
    for rs in lab.real_servers() {
        text += &format!(
            "  real_server {} 80 {{\n    weight 1\n    TCP_CHECK {{\n      connect_timeout 1\n      retry 1\n      delay_before_retry 1\n    }}\n  }}\n",
            rs.ip
        );
    }
    text += "}\n";
    std::fs::write(&conf, text).unwrap();
    let template = format!(
        "{} {}",
        director_template(),
        args.replace("{conf}", &conf.display().to_string())
    );
    lab.start_director(Some(&template))
        .expect("rvsd with a configuration");

    let state = |lab: &Lab, i: usize| -> Option<String> {
        let json: serde_json::Value = serde_json::from_str(&get(lab, "/status.json")).ok()?;
        json["services"][0]["real_servers"][i]["health"]["state"]
            .as_str()
            .map(str::to_string)
    };
    // Wait (bounded) for the checks to report every server up.
    let mut all_up = false;
    for _ in 0..50 {
        if (0..lab.real_servers().len()).all(|i| state(&lab, i).as_deref() == Some("up")) {
            all_up = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    if (0..lab.real_servers().len()).all(|i| state(&lab, i).is_none()) {
        eprintln!("skipping: rvsd runs checks but reports no health state on /status.json yet");
        return;
    }
    assert!(
        all_up,
        "every real server up: {}",
        get(&lab, "/status.json")
    );

    let rs2 = &lab.real_servers()[1];
    let nginx = rs2.nginx.as_ref().unwrap();
    let (dir, conf, err) = (
        format!("{}/", nginx.dir.display()),
        nginx.config.display().to_string(),
        nginx.error_log.display().to_string(),
    );
    lab.exec_ok(
        &rs2.ns,
        &["nginx", "-p", &dir, "-e", &err, "-c", &conf, "-s", "stop"],
    )
    .unwrap();
    // Detection: delay_loop 1 s, connect_timeout 1 s, one retry after 1 s; 15 s bound.
    let mut down = false;
    for _ in 0..75 {
        if state(&lab, 1).as_deref() == Some("down") {
            down = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(down, "rs2 down: {}", get(&lab, "/status.json"));
    let dom = chromium(&lab, &["--dump-dom"], &format!("http://{LISTEN}/"));
    let row = format!("<tr class=\"rs down\" data-health=\"services.0.real_servers.1.health.state\"><th scope=\"row\">\u{2192} {}:80", rs2.ip);
    assert!(dom.contains(&row), "rs2's row is down:\n{dom}");
}
