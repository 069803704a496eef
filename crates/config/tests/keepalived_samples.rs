//! The keepalived.conf samples under tests/data (our own versions of the
//! typical configurations keepalived documents) loaded end to end.

// Test helpers outside #[test] functions may unwrap too.
#![allow(clippy::unwrap_used)]

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use rvs_config::{
    load, AuthType, Broadcast, Checker, DnsType, Format, HttpProtocol, LoadedConfig, VrrpState,
    VsKey, VsgEntryKind,
};
use rvs_core::{Family, ForwardMethod, Persistence, Protocol, SchedulerKind, ServiceKey};

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
fn nat_with_http_get_and_digest() {
    let c = load_sample("keepalived-nat-http-digest.conf");
    assert_eq!(c.source, Format::Keepalived);
    assert_eq!(c.files, vec![data("keepalived-nat-http-digest.conf")]);
    assert_eq!(c.global.router_id.as_deref(), Some("LVS_NAT_1"));
    assert_eq!(
        c.global.notification_email,
        vec!["ops@example.org", "LVS admin <lvs@example.org>"]
    );
    let smtp = c.global.smtp_server.as_ref().unwrap();
    assert_eq!((smtp.host.as_str(), smtp.port), ("198.51.100.250", 25));
    assert_eq!(c.global.smtp_connect_timeout, Some(Duration::from_secs(30)));

    let vi = &c.vrrp_instances[0];
    assert_eq!(vi.name, "VI_1");
    assert_eq!(vi.state, VrrpState::Master);
    assert_eq!((vi.virtual_router_id, vi.priority), (50, 150));
    assert_eq!(
        vi.authentication.as_ref().unwrap().auth_type,
        AuthType::Pass
    );
    assert_eq!(vi.authentication.as_ref().unwrap().auth_pass, "s3cret");
    let vip = &vi.virtual_ipaddress[0];
    assert_eq!((vip.addr, vip.prefix_len), (ip("192.0.2.10"), 24));
    assert_eq!(vip.dev.as_deref(), Some("eth0"));
    assert_eq!(vip.label.as_deref(), Some("eth0:1"));

    assert_eq!(c.virtual_servers.len(), 1);
    let vs = &c.virtual_servers[0];
    assert_eq!(
        vs.key,
        VsKey::Addr {
            ip: ip("192.0.2.10"),
            port: 80
        }
    );
    assert_eq!(vs.protocol, Protocol::Tcp);
    assert_eq!(vs.lb_algo, SchedulerKind::Wlc);
    assert_eq!(vs.lb_kind, ForwardMethod::Masq);
    assert_eq!(vs.delay_loop, Duration::from_secs(6));
    assert_eq!(vs.persistence_timeout, Some(50));
    let sorry = vs.sorry_server.as_ref().unwrap();
    assert_eq!((sorry.ip, sorry.port), (ip("198.51.100.200"), 8080));

    let rs = &vs.real_servers[0];
    assert_eq!((rs.ip, rs.port, rs.weight), (ip("198.51.100.2"), 8080, 3));
    let Checker::HttpGet(h) = &rs.checkers[0] else {
        panic!("expected HTTP_GET")
    };
    assert_eq!(h.urls.len(), 2);
    assert_eq!(h.urls[0].path, "/health/status.html");
    assert_eq!(
        h.urls[0].digest.as_deref(),
        Some("640205b7b0fc66c1ea91c463fac6334d")
    );
    // Default status codes, then the explicit ones.
    assert_eq!(
        (
            h.urls[0].status_code[0].first,
            h.urls[0].status_code[0].last
        ),
        (200, 299)
    );
    let codes: Vec<_> = h.urls[1]
        .status_code
        .iter()
        .map(|s| (s.first, s.last))
        .collect();
    assert_eq!(codes, vec![(200, 200), (301, 302)]);
    assert_eq!(h.common.connect_timeout, Duration::from_secs(3));
    assert_eq!(h.common.retry, 3);
    assert_eq!(h.common.delay_before_retry, Duration::from_secs(2));
    assert_eq!(h.common.delay_loop, Duration::from_secs(6));
    // keepalived's warmup default: the delay loop.
    assert_eq!(h.common.warmup, Duration::from_secs(6));

    // Second server: digest lowercased, nb_get_retry accepted (with a
    // warning), HTTP_GET's default delay_before_retry of 3 s.
    let Checker::HttpGet(h2) = &vs.real_servers[1].checkers[0] else {
        panic!("expected HTTP_GET")
    };
    assert_eq!(
        h2.urls[0].digest.as_deref(),
        Some("640205b7b0fc66c1ea91c463fac6334d")
    );
    assert_eq!(h2.common.retry, 2);
    assert_eq!(h2.common.delay_before_retry, Duration::from_secs(3));
    assert!(c
        .warnings
        .iter()
        .any(|w| w.message.contains("nb_get_retry")));

    let services = c.services().unwrap();
    assert_eq!(services.len(), 1);
    let (svc, dests) = &services[0];
    assert_eq!(
        svc.key,
        ServiceKey::Addr {
            proto: Protocol::Tcp,
            addr: ip("192.0.2.10"),
            port: 80
        }
    );
    assert_eq!(
        svc.persistence,
        Some(Persistence {
            timeout_secs: 50,
            prefix_len: 32
        })
    );
    assert_eq!(dests.len(), 2);
    assert_eq!(
        (dests[0].port, dests[0].method),
        (8080, ForwardMethod::Masq)
    );
    assert!(c.unknown.is_empty(), "{:?}", c.unknown);
}

#[test]
fn direct_routing_with_tcp_check() {
    let c = load_sample("keepalived-dr-tcp.conf");
    assert_eq!(c.global.lvs_timeouts.tcp, Some(900));
    assert_eq!(c.global.lvs_timeouts.tcp_fin, Some(120));
    assert_eq!(c.global.lvs_timeouts.udp, Some(300));
    let vs = &c.virtual_servers[0];
    assert_eq!(vs.lb_algo, SchedulerKind::Sh);
    assert!(vs.sched_flags.port && vs.sched_flags.fallback);
    assert_eq!(vs.lb_kind, ForwardMethod::Route);
    assert!(vs.inhibit_on_failure);
    // Ports: absent takes the VS port; a different one is reset (with a warning).
    let ports: Vec<u16> = vs.real_servers.iter().map(|r| r.port).collect();
    assert_eq!(ports, vec![443, 443, 443]);
    assert!(c
        .warnings
        .iter()
        .any(|w| w.message.contains("port 8443 differs") && w.at.line == 34));
    let rs2 = &vs.real_servers[1];
    assert_eq!(
        (rs2.weight, rs2.uthreshold, rs2.lthreshold),
        (50, 5000, 4000)
    );
    let Checker::TcpCheck { common } = &rs2.checkers[0] else {
        panic!()
    };
    assert_eq!(common.connect_port, Some(8443));
    assert_eq!(common.bindto, Some(ip("198.51.100.1")));
    assert_eq!(common.warmup, Duration::from_secs(5));
    // Inherited from the virtual server.
    assert_eq!(common.connect_timeout, Duration::from_secs(4));
    assert_eq!(common.retry, 2);
    assert_eq!(common.delay_loop, Duration::from_secs(10));
    // Default weight.
    assert_eq!(vs.real_servers[2].weight, 1);

    let udp = &c.virtual_servers[1];
    assert_eq!(udp.protocol, Protocol::Udp);
    assert!(udp.ops);
    let Checker::DnsCheck {
        common,
        query_type,
        name,
    } = &udp.real_servers[0].checkers[0]
    else {
        panic!()
    };
    assert_eq!((*query_type, name.as_str()), (DnsType::A, "ns.example.org"));
    // DNS_CHECK defaults: 3 retries, delay_before_retry = delay_loop.
    assert_eq!(common.retry, 3);
    assert_eq!(common.delay_before_retry, Duration::from_secs(60));
    let Checker::PingCheck { common } = &udp.real_servers[1].checkers[0] else {
        panic!()
    };
    assert_eq!(common.delay_loop, Duration::from_secs(2));
    let Checker::UdpCheck {
        payload,
        require_reply,
        max_reply_length,
        ..
    } = &udp.real_servers[1].checkers[1]
    else {
        panic!()
    };
    assert_eq!(payload.as_deref(), Some(&[0x0a, 0x0b, 0x0c][..]));
    let reply = require_reply.as_ref().unwrap().as_ref().unwrap();
    assert_eq!(reply.bytes, vec![0x0a, 0x0b]);
    assert_eq!(reply.ignore_mask, vec![0x00, 0xf0]);
    assert_eq!(*max_reply_length, 255);

    let services = c.services().unwrap();
    assert_eq!(services.len(), 2);
    assert!(services[1].0.one_packet);
    assert!(services[0]
        .1
        .iter()
        .all(|d| d.port == 443 && d.method == ForwardMethod::Route));

    let checks = c.checks();
    assert_eq!(checks.len(), 3 + 3);
    assert_eq!(
        (checks[1].addr, checks[1].port),
        (ip("198.51.100.12"), 8443)
    );
}

#[test]
fn fwmark_with_persistence() {
    let c = load_sample("keepalived-fwmark.conf");
    let vs = &c.virtual_servers[0];
    assert_eq!(vs.key, VsKey::FwMark(1));
    assert_eq!(vs.family, Family::V4);
    assert_eq!(vs.persistence_timeout, Some(900));
    assert_eq!(vs.persistence_granularity, Some(24));
    // DR real servers of a mark have no port of their own.
    assert!(vs.real_servers.iter().all(|r| r.port == 0));
    assert!(c
        .warnings
        .iter()
        .any(|w| w.message.contains("protocol is ignored")));

    let v6 = &c.virtual_servers[1];
    assert_eq!(v6.family, Family::V6);
    assert_eq!(v6.persistence_timeout, Some(360));
    assert_eq!(v6.persistence_granularity, Some(64));

    let services = c.services().unwrap();
    assert_eq!(
        services[0].0.key,
        ServiceKey::FwMark {
            mark: 1,
            family: Family::V4
        }
    );
    assert_eq!(
        services[0].0.persistence,
        Some(Persistence {
            timeout_secs: 900,
            prefix_len: 24
        })
    );
    assert_eq!(
        services[1].0.key,
        ServiceKey::FwMark {
            mark: 2,
            family: Family::V6
        }
    );
    assert_eq!(services[1].1[0].port, 8080);
    let checks = c.checks();
    assert_eq!(checks[0].port, 80);
}

#[test]
fn virtual_server_group_expands() {
    let c = load_sample("keepalived-vsg.conf");
    let g = &c.virtual_server_groups[0];
    assert_eq!(g.name, "VSG_1");
    assert_eq!(g.entries.len(), 6);
    assert_eq!(
        g.entries[2].kind,
        VsgEntryKind::Range {
            first: ip("192.0.2.30"),
            last: ip("192.0.2.32"),
            port: 80
        }
    );
    assert_eq!(
        g.entries[3].kind,
        VsgEntryKind::Range {
            first: ip("192.0.2.64"),
            last: ip("192.0.2.67"),
            port: 80
        }
    );
    assert_eq!(c.virtual_servers[0].key, VsKey::Group("VSG_1".into()));

    let services = c.services().unwrap();
    // 2 single addresses + 3 + 4 + 2 marks, then 3 + 1 IPv6.
    assert_eq!(services.len(), 2 + 3 + 4 + 2 + 4);
    for (svc, dests) in &services[..11] {
        assert_eq!(dests.len(), 2);
        assert_eq!(svc.scheduler, SchedulerKind::Rr);
        assert_eq!(svc.persistence.unwrap().timeout_secs, 50);
    }
    assert_eq!(
        services[8].0.key,
        ServiceKey::Addr {
            proto: Protocol::Tcp,
            addr: ip("192.0.2.67"),
            port: 80
        }
    );
    assert_eq!(
        services[10].0.key,
        ServiceKey::FwMark {
            mark: 2,
            family: Family::V4
        }
    );
    // NAT keeps the real server port; the IPv6 DR group takes each member's port.
    assert_eq!(services[0].1[0].port, 1358);
    let v6: Vec<_> = services[11..].iter().map(|(s, _)| s.key).collect();
    assert_eq!(
        v6[2],
        ServiceKey::Addr {
            proto: Protocol::Tcp,
            addr: ip("2001:db8::12"),
            port: 80
        }
    );
    assert!(services[11..].iter().all(|(_, d)| d[0].port == 80));

    // One checker per real server, covering every member service.
    let checks = c.checks();
    assert_eq!(checks.len(), 3);
    assert_eq!(checks[0].services.len(), 11);
}

#[test]
fn ssl_get() {
    let c = load_sample("keepalived-ssl.conf");
    let ssl = c.global.ssl.as_ref().unwrap();
    assert_eq!(ssl.ca.as_deref(), Some("/etc/keepalived/ssl/ca.pem"));
    assert_eq!(ssl.password.as_deref(), Some("secret"));
    let Checker::SslGet(h) = &c.virtual_servers[0].real_servers[0].checkers[0] else {
        panic!("expected SSL_GET")
    };
    assert_eq!(h.urls.len(), 3);
    let codes: Vec<_> = h.urls[0]
        .status_code
        .iter()
        .map(|s| (s.first, s.last))
        .collect();
    assert_eq!(codes, vec![(200, 299), (400, 499), (503, 503), (505, 505)]);
    assert_eq!(h.urls[1].virtualhost.as_deref(), Some("mrtg.example.org"));
    // Host header inherited from the virtual server.
    assert_eq!(h.virtualhost.as_deref(), Some("www.example.org"));
    // regex values are read with escapes, like keepalived.
    assert_eq!(h.urls[2].regex.as_deref(), Some("^ready( now)?.$"));
    assert_eq!(h.urls[2].regex_options, vec!["caseless", "multiline"]);
    assert!(h.enable_sni);
    assert_eq!(h.http_protocol, HttpProtocol::Http11);
}

#[test]
fn misc_check_with_misc_dynamic() {
    let c = load_sample("keepalived-misc.conf");
    assert!(c.global.enable_script_security);
    assert_eq!(
        c.global.script_user.as_ref().unwrap().user,
        "keepalived_script"
    );
    let rs = &c.virtual_servers[0].real_servers[0];
    let up = rs.notify_up.as_ref().unwrap();
    assert_eq!(up.command, "/usr/local/bin/rs-notify.sh up 198.51.100.6");
    assert_eq!(up.user.as_deref(), Some("root"));
    assert_eq!(
        up.argv().unwrap(),
        vec!["/usr/local/bin/rs-notify.sh", "up", "198.51.100.6"]
    );
    let Checker::MiscCheck {
        common,
        script,
        timeout,
        dynamic,
        ..
    } = &rs.checkers[0]
    else {
        panic!("expected MISC_CHECK")
    };
    assert!(*dynamic);
    assert_eq!(*timeout, Some(Duration::from_secs(5)));
    assert_eq!(script.user.as_deref(), Some("nobody"));
    assert_eq!(script.group.as_deref(), Some("nogroup"));
    assert_eq!(
        script.argv().unwrap(),
        vec![
            "/usr/local/bin/check-app.sh",
            "--host",
            "198.51.100.6",
            "--port",
            "1358",
            "a b"
        ]
    );
    // MISC_CHECK's default retry is 0.
    assert_eq!(common.retry, 0);
    let Checker::MiscCheck {
        timeout, dynamic, ..
    } = &c.virtual_servers[0].real_servers[1].checkers[0]
    else {
        panic!()
    };
    assert_eq!((*timeout, *dynamic), (None, false));
}

#[test]
fn vrrp_instances_and_sync_group() {
    let c = load_sample("keepalived-vrrp-sync.conf");
    let g = &c.global;
    assert_eq!(g.vrrp_version, Some(3));
    let sd = g.lvs_sync_daemon.as_ref().unwrap();
    assert_eq!(sd.interface, "eth1");
    assert_eq!(sd.instance.as_deref(), Some("VI_OUT"));
    assert_eq!(
        (sd.id, sd.maxlen, sd.port, sd.ttl),
        (Some(7), Some(1450), Some(8848), Some(1))
    );
    assert_eq!(sd.group, Some(ip("239.1.2.3")));

    let script = &c.vrrp_scripts[0];
    assert_eq!(script.name, "chk_director");
    assert_eq!(
        script.script.command,
        "/usr/local/bin/check-director.sh --quick"
    );
    assert_eq!(script.interval, Duration::from_secs(2));
    assert_eq!(script.timeout, Some(Duration::from_millis(1500)));
    assert_eq!((script.weight, script.weight_reverse), (-20, true));
    assert_eq!((script.rise, script.fall), (2, 3));
    assert_eq!(script.script.user.as_deref(), Some("nobody"));
    assert!(script.init_fail);

    let sg = &c.vrrp_sync_groups[0];
    assert_eq!(sg.group, vec!["VI_OUT", "VI_IN"]);
    assert_eq!(
        sg.notify_master.as_ref().unwrap().command,
        "/usr/local/bin/vrrp.notify master G1"
    );
    assert_eq!(
        sg.notify.as_ref().unwrap().command,
        "/usr/local/bin/vrrp.all"
    );
    assert_eq!(sg.track_script[0].name, "chk_director");

    let out = &c.vrrp_instances[0];
    assert_eq!(out.state, VrrpState::Backup);
    assert_eq!(out.version, 3);
    assert_eq!(out.advert_int, Duration::from_millis(500));
    assert!(out.nopreempt);
    assert_eq!(out.preempt_delay, Duration::from_secs(30));
    // Global GARP defaults, instance override of the repeat.
    assert_eq!(out.garp_master_delay, Duration::from_secs(1));
    assert_eq!(out.garp_master_repeat, 3);
    assert_eq!(out.garp_master_refresh, Some(Duration::from_secs(60)));
    assert_eq!(out.unicast_src_ip, Some(ip("203.0.113.1")));
    assert_eq!(out.unicast_peer.len(), 2);
    assert_eq!(
        (out.unicast_peer[1].min_ttl, out.unicast_peer[1].max_ttl),
        (Some(250), Some(255))
    );
    assert_eq!(out.track_interface[1].name, "eth2");
    assert_eq!(out.track_interface[1].weight, -10);
    assert_eq!(out.track_script[0].weight, Some(10));
    assert_eq!(out.track_script[0].reverse, Some(false));
    let v0 = &out.virtual_ipaddress[0];
    assert_eq!(v0.brd, Some(Broadcast::Addr(ip("192.0.2.255"))));
    assert_eq!(v0.label.as_deref(), Some("eth0:vip"));
    assert_eq!(out.virtual_ipaddress[1].prefix_len, 32);
    let ex = &out.virtual_ipaddress_excluded[0];
    assert_eq!(
        (ex.addr, ex.prefix_len, ex.no_track),
        (ip("2001:db8::10"), 64, true)
    );
    assert!(out.notify_stop.is_some());
    assert_eq!(out.smtp_alert, Some(true));

    let inside = &c.vrrp_instances[1];
    assert_eq!(inside.version, 2);
    // Only 8 characters of a VRRPv2 password are used.
    assert_eq!(
        inside.authentication.as_ref().unwrap().auth_pass,
        "longerth"
    );
    assert_eq!(inside.garp_master_repeat, 5);

    // Not used by rvs, but kept.
    let ignored: Vec<_> = c
        .unknown
        .iter()
        .map(|i| (i.section.as_str(), i.keyword.as_str()))
        .collect();
    assert_eq!(
        ignored,
        vec![
            ("global_defs", "vrrp_garp_interval"),
            ("global_defs", "vrrp_skip_check_adv_addr"),
            ("global_defs", "enable_snmp_checker"),
            ("top", "static_ipaddress"),
            ("vrrp_instance", "virtual_routes"),
        ]
    );
    assert_eq!(c.unknown[3].line, 14);
    assert!(c.virtual_servers.is_empty());
    assert!(c.services().unwrap().is_empty());
}

#[test]
fn includes_are_followed_and_listed() {
    let c = load_sample("keepalived-main.conf");
    let names: Vec<_> = c
        .files
        .iter()
        .map(|p| {
            p.strip_prefix(data(""))
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert_eq!(
        names,
        vec![
            "keepalived-main.conf",
            "conf.d/10-web.conf",
            "conf.d/20-mail.conf",
            "conf.d/../mail-servers.inc"
        ]
    );
    assert_eq!(c.virtual_servers.len(), 2);
    assert_eq!(
        c.virtual_servers[1].key,
        VsKey::Addr {
            ip: ip("192.0.2.40"),
            port: 25
        }
    );
    let rs = &c.virtual_servers[1].real_servers[0];
    assert!(rs.at.file.ends_with("mail-servers.inc"));
    assert_eq!(rs.at.line, 1);
    let Checker::SmtpCheck { helo_name, .. } = &rs.checkers[0] else {
        panic!()
    };
    assert_eq!(helo_name.as_deref(), Some("director.example.org"));
}

#[test]
fn loaded_config_round_trips_through_json() {
    for name in [
        "keepalived-nat-http-digest.conf",
        "keepalived-vrrp-sync.conf",
        "keepalived-vsg.conf",
        "keepalived-misc.conf",
    ] {
        let c = load_sample(name);
        let json = serde_json::to_string(&c).unwrap();
        let back: LoadedConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(back, c, "{name}");
    }
}

#[test]
fn smtp_check_host_blocks_become_checkers() {
    let text = "virtual_server 192.0.2.25 25 {\n lb_algo rr\n lb_kind NAT\n protocol TCP\n real_server 198.51.100.11 25 {\n  SMTP_CHECK {\n   retry 2\n   helo_name mx.example.org\n   host {\n    connect_ip 198.51.100.11\n   }\n   host {\n    connect_ip 198.51.100.12\n    connect_port 587\n    retry 4\n   }\n  }\n }\n}\n";
    let c = rvs_config::parse_str(text, "k.conf", Format::Keepalived).unwrap();
    let checkers = &c.virtual_servers[0].real_servers[0].checkers;
    assert_eq!(checkers.len(), 2);
    let targets: Vec<_> = c.checks().iter().map(|t| (t.addr, t.port)).collect();
    assert_eq!(
        targets,
        vec![(ip("198.51.100.11"), 25), (ip("198.51.100.12"), 587)]
    );
    assert_eq!(checkers[0].common().retry, 2);
    assert_eq!(checkers[1].common().retry, 4);
    let Checker::SmtpCheck { helo_name, .. } = &checkers[1] else {
        panic!()
    };
    assert_eq!(helo_name.as_deref(), Some("mx.example.org"));
}

#[test]
fn advert_intervals_are_rounded_like_keepalived() {
    let text = "vrrp_instance A {\n virtual_router_id 1\n advert_int 1.6\n}\nvrrp_instance B {\n virtual_router_id 2\n version 3\n advert_int 0.015\n}\nvrrp_instance C {\n virtual_router_id 3\n version 3\n advert_int 100\n}\n";
    let c = rvs_config::parse_str(text, "k.conf", Format::Keepalived).unwrap();
    let ints: Vec<_> = c.vrrp_instances.iter().map(|i| i.advert_int).collect();
    assert_eq!(
        ints,
        vec![
            Duration::from_secs(2),
            Duration::from_millis(20),
            Duration::from_millis(40950)
        ]
    );
    assert_eq!(c.warnings.len(), 3);
}
