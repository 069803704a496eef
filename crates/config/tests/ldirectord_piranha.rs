//! ldirectord.cf and Piranha lvs.cf samples loaded into the same model.

// Test helpers outside #[test] functions may unwrap too.
#![allow(clippy::unwrap_used)]

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use rvs_config::{load, parse_str, Checker, DnsType, Format, HttpMethod, LoadedConfig, VsKey};
use rvs_core::{Family, ForwardMethod, Protocol, SchedulerKind, ServiceKey};

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn load_sample(name: &str) -> LoadedConfig {
    match load(&data(name)) {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn ldirectord_sample() {
    let c = load_sample("ldirectord.cf");
    assert_eq!(c.source, Format::Ldirectord);
    assert!(c.global.ldirectord.as_ref().unwrap().autoreload);
    assert_eq!(c.virtual_servers.len(), 9);

    // HTTP negotiate check -> HTTP_GET with the receive regex.
    let web = &c.virtual_servers[0];
    assert_eq!(web.name.as_deref(), Some("Web Site"));
    assert_eq!(
        web.key,
        VsKey::Addr {
            ip: ip("192.0.2.240"),
            port: 80
        }
    );
    assert_eq!(web.lb_algo, SchedulerKind::Rr);
    assert_eq!(web.persistence_timeout, Some(600));
    assert_eq!(web.persistence_granularity, Some(24));
    assert!(web.inhibit_on_failure, "quiescent=yes");
    let sorry = web.sorry_server.as_ref().unwrap();
    assert_eq!(
        (sorry.ip, sorry.port, sorry.lb_kind),
        (ip("198.51.100.99"), 80, ForwardMethod::Route)
    );
    assert_eq!(web.real_servers.len(), 3);
    assert_eq!(web.real_servers[1].weight, 5);
    let Checker::HttpGet(h) = &web.real_servers[0].checkers[0] else {
        panic!("expected HTTP_GET")
    };
    assert_eq!(h.urls[0].path, "/index.html");
    assert_eq!(h.urls[0].regex.as_deref(), Some("Test Page"));
    assert_eq!(h.virtualhost.as_deref(), Some("www.example.org"));
    assert_eq!(h.method, HttpMethod::Get);
    assert_eq!(h.common.connect_port, Some(80));
    // negotiatetimeout for negotiate checks, failurecount 3 = 2 retries.
    assert_eq!(h.common.connect_timeout, Duration::from_secs(10));
    assert_eq!(h.common.retry, 2);
    assert_eq!(h.common.delay_loop, Duration::from_secs(5));
    // Per real server request/receive and thresholds.
    let r3 = &web.real_servers[2];
    assert_eq!(
        (r3.lb_kind, r3.port, r3.weight),
        (ForwardMethod::Masq, 8080, 2)
    );
    assert_eq!((r3.lthreshold, r3.uthreshold), (10, 200));
    let Checker::HttpGet(h3) = &r3.checkers[0] else {
        panic!()
    };
    assert_eq!(h3.urls[0].path, "/alive.html");
    assert_eq!(h3.urls[0].regex.as_deref(), Some("I am alive"));

    // Firewall mark, range of real servers, connect check.
    let fwm = &c.virtual_servers[1];
    assert_eq!(fwm.key, VsKey::FwMark(1));
    let addrs: Vec<_> = fwm.real_servers.iter().map(|r| r.ip).collect();
    assert_eq!(
        addrs,
        vec![
            ip("198.51.100.20"),
            ip("198.51.100.21"),
            ip("198.51.100.22"),
            ip("198.51.100.23")
        ]
    );
    let Checker::TcpCheck { common } = &fwm.real_servers[0].checkers[0] else {
        panic!()
    };
    assert_eq!(common.connect_timeout, Duration::from_secs(3));
    // The global fallback is used where the virtual has none.
    assert_eq!(fwm.sorry_server.as_ref().unwrap().ip, ip("127.0.0.1"));

    // https by service name; the virtual's own fallback.
    let https = &c.virtual_servers[2];
    assert_eq!(
        https.key,
        VsKey::Addr {
            ip: ip("192.0.2.240"),
            port: 443
        }
    );
    assert!(matches!(
        https.real_servers[0].checkers[0],
        Checker::SslGet(_)
    ));
    assert_eq!(https.sorry_server.as_ref().unwrap().port, 443);
    assert!(!https.inhibit_on_failure);

    // DNS over UDP with one-packet scheduling.
    let dns = &c.virtual_servers[3];
    assert_eq!(dns.protocol, Protocol::Udp);
    assert!(dns.ops);
    let Checker::DnsCheck {
        query_type, name, ..
    } = &dns.real_servers[0].checkers[0]
    else {
        panic!()
    };
    assert_eq!(
        (*query_type, name.as_str()),
        (DnsType::A, "www.example.org")
    );
    assert!(c.warnings.iter().any(|w| w.message.contains("DNS answers")));

    // External check: MISC_CHECK with ldirectord's arguments.
    let ext = &c.virtual_servers[4];
    let Checker::MiscCheck { script, .. } = &ext.real_servers[0].checkers[0] else {
        panic!()
    };
    assert_eq!(
        script.argv().unwrap(),
        vec![
            "/usr/local/bin/check-mysql",
            "192.0.2.241",
            "3306",
            "198.51.100.30",
            "3306"
        ]
    );

    // checktype=4: a connect check and an SMTP check every 4 intervals.
    let smtp = &c.virtual_servers[5];
    assert!(smtp.sched_flags.fallback);
    let cs = &smtp.real_servers[0].checkers;
    assert_eq!(cs.len(), 2);
    assert!(matches!(cs[0], Checker::TcpCheck { .. }));
    assert!(matches!(cs[1], Checker::SmtpCheck { .. }));
    assert_eq!(cs[1].common().delay_loop, Duration::from_secs(20));
    assert_eq!(smtp.real_servers[0].lb_kind, ForwardMethod::Tunnel);

    // checktype=on: no checker; ftp negotiate: connect check with a warning.
    assert!(c.virtual_servers[6].real_servers[0].checkers.is_empty());
    assert!(matches!(
        c.virtual_servers[7].real_servers[0].checkers[0],
        Checker::TcpCheck { .. }
    ));
    assert!(c
        .warnings
        .iter()
        .any(|w| w.message.contains("no ftp negotiate check")));

    // IPv6.
    let v6 = &c.virtual_servers[8];
    assert_eq!(v6.family, Family::V6);
    assert_eq!(v6.real_servers[1].ip, ip("2001:db8:0:1::6"));
    assert_eq!(v6.sorry_server.as_ref().unwrap().ip, ip("2001:db8::1"));

    let ignored: Vec<_> = c.unknown.iter().map(|i| i.keyword.as_str()).collect();
    assert_eq!(
        ignored,
        vec![
            "logfile",
            "emailalert",
            "comment",
            "login",
            "passwd",
            "database"
        ]
    );

    let services = c.services().unwrap();
    assert_eq!(services.len(), 9);
    assert_eq!(
        services[1].0.key,
        ServiceKey::FwMark {
            mark: 1,
            family: Family::V4
        }
    );
    // gate real servers of a mark have port 0.
    assert!(services[1].1.iter().all(|d| d.port == 0));
}

#[test]
fn ldirectord_checktype_off_deactivates_real_servers() {
    let c = parse_str(
        "virtual=192.0.2.1:80\n\treal=198.51.100.1:80 gate\n\tchecktype=off\n",
        "ld.cf",
        Format::Ldirectord,
    )
    .unwrap();
    assert!(!c.virtual_servers[0].real_servers[0].active);
    let services = c.services().unwrap();
    assert!(services[0].1.is_empty());
}

#[test]
fn piranha_sample() {
    let c = load_sample("lvs.cf");
    assert_eq!(c.source, Format::Piranha);
    let p = c.global.piranha.as_ref().unwrap();
    assert_eq!(p.network, Some(ForwardMethod::Masq));
    assert_eq!(p.nat_router_addr, Some(ip("198.51.100.254")));
    let nr = p.nat_router.as_ref().unwrap();
    assert_eq!(
        (nr.dev.as_str(), nr.label.as_deref(), nr.prefix_len),
        ("eth1", Some("eth1:1"), Some(24))
    );
    let sd = c.global.lvs_sync_daemon.as_ref().unwrap();
    assert_eq!((sd.interface.as_str(), sd.id), ("eth1", Some(9)));

    assert_eq!(c.virtual_servers.len(), 3);
    let web = &c.virtual_servers[0];
    assert_eq!(web.name.as_deref(), Some("web"));
    assert_eq!(
        web.key,
        VsKey::Addr {
            ip: ip("192.0.2.10"),
            port: 80
        }
    );
    let vif = web.vip_interface.as_ref().unwrap();
    assert_eq!(
        (vif.dev.as_str(), vif.label.as_deref(), vif.prefix_len),
        ("eth0", Some("eth0:1"), Some(24))
    );
    assert_eq!(web.lb_algo, SchedulerKind::Wlc);
    assert_eq!(
        (web.persistence_timeout, web.persistence_granularity),
        (Some(300), Some(24))
    );
    assert_eq!(web.sorry_server.as_ref().unwrap().ip, ip("198.51.100.99"));
    assert_eq!(web.real_servers[0].name.as_deref(), Some("web1"));
    assert_eq!(web.real_servers[0].port, 80);
    assert!(!web.real_servers[1].active);
    let Checker::TcpSendExpect {
        common,
        send,
        expect,
        regex,
        dead_after,
        alive_after,
    } = &web.real_servers[0].checkers[0]
    else {
        panic!("expected a send/expect checker")
    };
    assert_eq!(send.as_deref(), Some("GET / HTTP/1.0\r\n\r\n"));
    assert_eq!(expect.as_deref(), Some("HTTP"));
    assert!(!regex);
    assert_eq!(*dead_after, Some(Duration::from_secs(6)));
    assert_eq!(*alive_after, Some(Duration::from_secs(15)));
    assert_eq!(common.delay_loop, Duration::from_secs(6));
    assert_eq!(common.connect_port, Some(80));

    let ftp = &c.virtual_servers[1];
    assert_eq!(ftp.key, VsKey::FwMark(21));
    assert_eq!(
        ftp.real_servers[0].checkers[0].common().connect_port,
        Some(21)
    );

    let proxy = &c.virtual_servers[2];
    assert!(!proxy.active);
    let Checker::MiscCheck {
        script,
        expect_output,
        ..
    } = &proxy.real_servers[0].checkers[0]
    else {
        panic!()
    };
    assert_eq!(script.command, "/usr/local/bin/testproxy 198.51.100.5");
    assert_eq!(expect_output.as_deref(), Some("OK"));

    let ignored: Vec<_> = c.unknown.iter().map(|i| i.keyword.as_str()).collect();
    assert!(ignored.contains(&"serial_no") && ignored.contains(&"load_monitor"));

    // Inactive virtuals and servers are not installed.
    let services = c.services().unwrap();
    assert_eq!(services.len(), 2);
    assert_eq!(services[0].1.len(), 1);
    assert_eq!(
        services[1].0.key,
        ServiceKey::FwMark {
            mark: 21,
            family: Family::V4
        }
    );
    assert_eq!(c.checks().len(), 2);
}

#[test]
fn piranha_direct_routing_ports() {
    let text = "service = lvs\nnetwork = direct\nvirtual v {\n address = 192.0.2.5 eth0:1\n port = 443\n server a {\n  address = 198.51.100.7\n  port = 8443\n }\n}\n";
    let c = parse_str(text, "lvs.cf", Format::Piranha).unwrap();
    let rs = &c.virtual_servers[0].real_servers[0];
    assert_eq!((rs.lb_kind, rs.port), (ForwardMethod::Route, 443));
    assert!(c.warnings.iter().any(|w| w.at.line == 6));
}

#[test]
fn formats_are_detected_from_content() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            continue;
        }
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let want = if name.starts_with("ldirectord") {
            Format::Ldirectord
        } else if name == "lvs.cf" {
            Format::Piranha
        } else {
            Format::Keepalived
        };
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(rvs_config::detect_format(&text), want, "{name}");
    }
}
