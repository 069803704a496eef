//! End-to-end tests of health checking and keepalived.conf in the lab: rvsd runs from
//! a keepalived.conf with HTTP_GET (status code and digest), TCP_CHECK and MISC_CHECK
//! checkers and a sorry server; nginx is stopped and started under a bounded stream of
//! curl requests. Skips, visibly, without root.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rvs_lab::{needs_root, Lab, LabSpec, Method};

fn md5_hex(text: &str) -> String {
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("printf '{text}' | md5sum"))
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

fn config(weight: u32, notify: &std::path::Path) -> String {
    format!(
        r#"! The lab's LVS/NAT service, watched by three kinds of checkers.
global_defs {{
    router_id rvs_lab
}}

virtual_server 192.0.2.10 80 {{
    delay_loop 1
    lb_algo wrr
    lb_kind NAT
    protocol TCP
    sorry_server 198.51.100.14 80

    real_server 198.51.100.11 80 {{
        weight {weight}
        HTTP_GET {{
            url {{
                path /
                status_code 200
                digest {digest}
            }}
            connect_timeout 1
            retry 1
            delay_before_retry 1
        }}
    }}
    real_server 198.51.100.12 80 {{
        weight {weight}
        notify_down "/bin/sh -c 'echo down >> {notify}'"
        notify_up "/bin/sh -c 'echo up >> {notify}'"
        TCP_CHECK {{
            connect_timeout 1
            retry 1
            delay_before_retry 1
        }}
    }}
    real_server 198.51.100.13 80 {{
        weight {weight}
        MISC_CHECK {{
            misc_path "curl -sf -m 1 -o /dev/null http://198.51.100.13/"
            misc_timeout 3
        }}
    }}
}}
"#,
        digest = md5_hex("rs1\\n"),
        notify = notify.display()
    )
}

fn tally(lab: &Lab, n: usize) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for i in 0..n {
        let a = lab
            .curl(&lab.url("/"))
            .unwrap_or_else(|e| panic!("request {i}: {e}\n--- rvsd ---\n{}", lab.director_log()));
        *m.entry(a.trim().to_string()).or_insert(0) += 1;
    }
    m
}

/// Wait (bounded) until `rvsadm -L -n` satisfies `pred`; the time it took.
fn wait_listing(lab: &Lab, what: &str, limit: Duration, pred: impl Fn(&str) -> bool) -> Duration {
    let t0 = Instant::now();
    loop {
        let l = lab.rvsadm(&["-L", "-n"]).unwrap();
        if pred(&l) {
            return t0.elapsed();
        }
        assert!(
            t0.elapsed() < limit,
            "{what}: not within {limit:?}:\n{l}\n--- rvsd ---\n{}",
            lab.director_log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn health_checks_take_servers_out_bring_them_back_and_call_the_sorry_server() {
    if needs_root() {
        return;
    }
    let lab = Lab::build(&LabSpec {
        real_servers: 4,
        udp: false,
        ..LabSpec::new(Method::Nat)
    })
    .unwrap();
    let conf = lab.dir().join("keepalived.conf");
    let notify = lab.dir().join("notify.log");
    std::fs::write(&conf, config(100, &notify)).unwrap();
    let template = format!(
        "{{rvsd}} -i eth0 -i eth1 --socket {{sock}} -f {} --slow-start 4",
        conf.display()
    );
    lab.start_director(Some(&template)).unwrap();
    wait_listing(&lab, "three real servers", Duration::from_secs(10), |l| {
        l.matches("Masq    100").count() == 3
    });
    let t = tally(&lab, 30);
    assert_eq!(t.len(), 3, "{t:?}");

    // rs2's nginx stops: TCP_CHECK (delay_loop 1 s, retry 1, delay_before_retry 1 s,
    // connect_timeout 1 s) takes it out within about 3 s.
    lab.stop_nginx("rs2").unwrap();
    let took = wait_listing(&lab, "rs2 removed", Duration::from_secs(10), |l| {
        !l.contains("198.51.100.12")
    });
    eprintln!("rs2 taken out {took:?} after nginx stopped");
    let t = tally(&lab, 20);
    assert!(
        !t.contains_key("rs2"),
        "no request goes to the dead server: {t:?}"
    );
    let t0 = Instant::now();
    while std::fs::read_to_string(&notify).unwrap_or_default().trim() != "down" {
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "notify_down did not run"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    // Back: it returns with a ramping weight (slow start over 4 s), then full weight.
    lab.start_nginx_again("rs2").unwrap();
    wait_listing(&lab, "rs2 back", Duration::from_secs(10), |l| {
        l.contains("198.51.100.12")
    });
    let json = lab.rvsadm(&["-L", "-n", "--json"]).unwrap();
    let status: serde_json::Value = serde_json::from_str(&json).unwrap();
    let rs2 = status["services"][0]["dests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["config"]["addr"] == "198.51.100.12")
        .unwrap()
        .clone();
    assert!(rs2["weight"].as_u64().unwrap() < 100, "ramping: {rs2}");
    assert_eq!(rs2["configured_weight"], 100, "{rs2}");
    assert_eq!(rs2["health"]["up"], true, "{rs2}");
    assert_eq!(rs2["health"]["changes"], 2, "down and up again: {rs2}");
    assert_eq!(rs2["health"]["checkers"][0], "TCP_CHECK", "{rs2}");
    wait_listing(&lab, "rs2 at full weight", Duration::from_secs(10), |l| {
        l.contains("  -> 198.51.100.12:80             Masq    100")
    });

    // Every real server down: the sorry server (rs4) answers.
    for rs in ["rs1", "rs2", "rs3"] {
        lab.stop_nginx(rs).unwrap();
    }
    wait_listing(&lab, "sorry server in", Duration::from_secs(12), |l| {
        l.contains("198.51.100.14") && !l.contains("198.51.100.11") && !l.contains("198.51.100.13")
    });
    let t = tally(&lab, 5);
    assert_eq!(t.get("rs4"), Some(&5), "{t:?}");
    for rs in ["rs1", "rs3"] {
        lab.start_nginx_again(rs).unwrap();
    }
    wait_listing(&lab, "sorry server out", Duration::from_secs(12), |l| {
        !l.contains("198.51.100.14") && l.contains("198.51.100.11") && l.contains("198.51.100.13")
    });
    let t = tally(&lab, 10);
    assert!(!t.contains_key("rs4"), "{t:?}");

    wait_listing(&lab, "full weights again", Duration::from_secs(10), |l| {
        l.matches("Masq    100").count() == 2
    });

    // A bad file on reload is refused with file:line:column and changes nothing.
    let before = lab.rvsadm(&["-L", "-n"]).unwrap();
    let conns_before = service_conns(&lab);
    std::fs::write(
        &conf,
        config(100, &notify).replace(
            "weight 100\n        HTTP_GET",
            "weight 70000\n        HTTP_GET",
        ),
    )
    .unwrap();
    let err = lab.rvsadm(&["--reload"]).unwrap_err().to_string();
    assert!(
        err.contains("keepalived.conf:") && err.contains("weight"),
        "{err}"
    );
    assert_eq!(lab.rvsadm(&["-L", "-n"]).unwrap(), before);
    // A good one applies the difference (a new weight) at once.
    std::fs::write(&conf, config(50, &notify)).unwrap();
    lab.rvsadm(&["--reload"]).unwrap();
    wait_listing(&lab, "new weights", Duration::from_secs(10), |l| {
        l.matches("Masq    50").count() == 2
    });
    // The service was kept, with its counters.
    assert!(
        service_conns(&lab) >= conns_before,
        "counters survive a reload"
    );
}

fn service_conns(lab: &Lab) -> u64 {
    let json = lab.rvsadm(&["-L", "-n", "--json"]).unwrap();
    let status: serde_json::Value = serde_json::from_str(&json).unwrap();
    status["services"][0]["stats"]["conns"].as_u64().unwrap()
}
