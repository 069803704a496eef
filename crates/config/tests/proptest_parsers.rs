//! Property tests: no input makes a parser panic (random text, random token
//! soup, random mutations of the valid samples), and generated valid
//! keepalived virtual servers come back with the values they were written
//! with.

// Test helpers outside #[test] functions may unwrap too.
#![allow(clippy::unwrap_used)]

use std::net::Ipv4Addr;

use proptest::prelude::*;
use rvs_config::{detect_format, parse_str, Checker, Format, LoadedConfig, VsKey};
use rvs_core::{ForwardMethod, SchedulerKind};

const FORMATS: [Format; 3] = [Format::Keepalived, Format::Ldirectord, Format::Piranha];

const SAMPLES: &[&str] = &[
    include_str!("data/keepalived-nat-http-digest.conf"),
    include_str!("data/keepalived-dr-tcp.conf"),
    include_str!("data/keepalived-fwmark.conf"),
    include_str!("data/keepalived-vsg.conf"),
    include_str!("data/keepalived-ssl.conf"),
    include_str!("data/keepalived-misc.conf"),
    include_str!("data/keepalived-vrrp-sync.conf"),
    include_str!("data/ldirectord.cf"),
    include_str!("data/lvs.cf"),
];

const VOCAB: &[&str] = &[
    "{",
    "}",
    "\"",
    "'",
    "\n",
    "\n",
    "\n",
    " ",
    " ",
    "\t",
    "#",
    "!",
    "\\",
    "=",
    ":",
    "->",
    "[",
    "]",
    "/",
    "-",
    ",",
    "$",
    "${A}",
    "$A=x",
    "$A=${A}${A}",
    "$B= \\",
    "@x ",
    "@^x ",
    "~SEQ(a,1,2)",
    "include",
    "includea",
    "*.conf",
    "{a,b}",
    "virtual_server",
    "virtual_server_group",
    "real_server",
    "group",
    "fwmark",
    "1",
    "0",
    "80",
    "65536",
    "70000",
    "-1",
    "0.5",
    "192.0.2.1",
    "192.0.2.1-9",
    "192.0.2.0/30",
    "2001:db8::1",
    "198.51.100.1",
    "weight",
    "lb_algo",
    "rr",
    "sh",
    "lb_kind",
    "NAT",
    "DR",
    "TUN",
    "protocol",
    "TCP",
    "UDP",
    "SCTP",
    "persistence_timeout",
    "persistence_granularity",
    "255.255.255.0",
    "sorry_server",
    "quorum",
    "hysteresis",
    "HTTP_GET",
    "SSL_GET",
    "TCP_CHECK",
    "MISC_CHECK",
    "UDP_CHECK",
    "DNS_CHECK",
    "url",
    "path",
    "digest",
    "status_code",
    "200-299",
    "regex",
    "misc_path",
    "payload",
    "0aX1",
    "require_reply",
    "connect_port",
    "connect_ip",
    "vrrp_instance",
    "VI_1",
    "virtual_router_id",
    "priority",
    "state",
    "MASTER",
    "virtual_ipaddress",
    "vrrp_sync_group",
    "track_script",
    "vrrp_script",
    "script",
    "notify_master",
    "global_defs",
    "lvs_sync_daemon",
    "lvs_timeouts",
    "tcp",
    "static_ipaddress",
    "virtual=",
    "virtual6=",
    "real=",
    "real6=",
    "192.0.2.1:80",
    "[2001:db8::1]:80",
    "gate",
    "masq",
    "ipip",
    "checktype=",
    "negotiate",
    "service=",
    "http",
    "fallback=",
    "scheduler=",
    "serial_no = 1",
    "network = nat",
    "virtual web {",
    "server a {",
    "address = ",
    "port = ",
    "send = ",
    "expect = ",
    "active = 0",
];

fn check_no_panic(text: &str) {
    let _ = detect_format(text);
    for f in FORMATS {
        if let Ok(cfg) = parse_str(text, "fuzz.conf", f) {
            exercise(&cfg);
        }
    }
}

/// Everything a consumer does with a loaded configuration.
fn exercise(cfg: &LoadedConfig) {
    let _ = cfg.services();
    for t in cfg.checks() {
        if let Checker::MiscCheck { script, .. } = t.checker {
            let _ = script.argv();
        }
    }
    for vs in &cfg.virtual_servers {
        let _ = vs.persistence();
        for rs in &vs.real_servers {
            if let Some(s) = &rs.notify_up {
                let _ = s.argv();
            }
        }
    }
}

fn soup() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(VOCAB), 0..200).prop_map(|toks| {
        let mut s = String::new();
        for (i, t) in toks.iter().enumerate() {
            s.push_str(t);
            if i % 3 == 0 {
                s.push(' ');
            }
        }
        s
    })
}

#[derive(Clone, Debug)]
enum Edit {
    Delete(usize, usize),
    Insert(usize, &'static str),
    DuplicateLine(usize),
    SwapLines(usize, usize),
    Truncate(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), 0usize..40).prop_map(|(a, n)| Edit::Delete(a, n)),
        (any::<usize>(), prop::sample::select(VOCAB)).prop_map(|(a, t)| Edit::Insert(a, t)),
        any::<usize>().prop_map(Edit::DuplicateLine),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Edit::SwapLines(a, b)),
        any::<usize>().prop_map(Edit::Truncate),
    ]
}

fn boundary(s: &str, at: usize) -> usize {
    let mut i = at % (s.len() + 1);
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn apply(text: &str, edits: &[Edit]) -> String {
    let mut s = text.to_string();
    for e in edits {
        match *e {
            Edit::Delete(at, n) => {
                let a = boundary(&s, at);
                let b = boundary(&s, (a + n).min(s.len()));
                if b > a {
                    s.replace_range(a..b, "");
                }
            }
            Edit::Insert(at, tok) => {
                let a = boundary(&s, at);
                s.insert_str(a, tok);
            }
            Edit::DuplicateLine(at) => {
                let mut lines: Vec<&str> = s.split('\n').collect();
                let i = at % lines.len();
                let l = lines[i];
                lines.insert(i, l);
                s = lines.join("\n");
            }
            Edit::SwapLines(a, b) => {
                let mut lines: Vec<&str> = s.split('\n').collect();
                let n = lines.len();
                lines.swap(a % n, b % n);
                s = lines.join("\n");
            }
            Edit::Truncate(at) => {
                let a = boundary(&s, at);
                s.truncate(a);
            }
        }
    }
    s
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 384, ..ProptestConfig::default() })]

    #[test]
    fn random_text_never_panics(text in "\\PC{0,400}") {
        check_no_panic(&text);
    }

    #[test]
    fn token_soup_never_panics(text in soup()) {
        check_no_panic(&text);
    }

    #[test]
    fn mutated_samples_never_panic(
        sample in prop::sample::select(SAMPLES),
        edits in prop::collection::vec(edit(), 1..8),
    ) {
        let text = apply(sample, &edits);
        check_no_panic(&text);
    }

    #[test]
    fn comments_and_blank_lines_change_nothing(
        sample in prop::sample::select(&SAMPLES[..7]),
        seed in any::<u64>(),
    ) {
        let plain = parse_str(sample, "k.conf", Format::Keepalived).unwrap();
        let mut noisy = String::new();
        for (i, line) in sample.split('\n').enumerate() {
            noisy.push_str(line);
            // A comment after a line never reaches inside quotes in the samples.
            if (seed >> (i % 64)) & 1 == 1 && !line.contains('"') {
                noisy.push_str(" # noise { } \"");
            }
            noisy.push('\n');
        }
        let with_noise = parse_str(&noisy, "k.conf", Format::Keepalived).unwrap();
        prop_assert_eq!(plain.virtual_servers.len(), with_noise.virtual_servers.len());
        prop_assert_eq!(plain.services().unwrap(), with_noise.services().unwrap());
        prop_assert_eq!(plain.vrrp_instances, with_noise.vrrp_instances);
    }

    #[test]
    fn generated_virtual_servers_load_as_written(
        vip in any::<u8>(),
        port in 1u16..,
        sched in prop::sample::select(&SchedulerKind::ALL[..]),
        kind in prop::sample::select(&["NAT", "DR", "TUN"][..]),
        servers in prop::collection::btree_map(any::<u8>(), (0u32..=65535, 1u16..), 1..8),
        persistence in proptest::option::of(1u32..=2_678_400),
    ) {
        let mut text = format!(
            "virtual_server 192.0.2.{vip} {port} {{\n  lb_algo {sched}\n  lb_kind {kind}\n  protocol TCP\n"
        );
        if let Some(p) = persistence {
            text.push_str(&format!("  persistence_timeout {p}\n"));
        }
        for (host, (weight, rport)) in &servers {
            text.push_str(&format!(
                "  real_server 198.51.100.{host} {rport} {{\n    weight {weight}\n    TCP_CHECK {{\n      connect_timeout 2.5\n    }}\n  }}\n"
            ));
        }
        text.push_str("}\n");
        let cfg = parse_str(&text, "gen.conf", Format::Keepalived).unwrap();
        let vs = &cfg.virtual_servers[0];
        prop_assert_eq!(&vs.key, &VsKey::Addr { ip: Ipv4Addr::new(192, 0, 2, vip).into(), port });
        prop_assert_eq!(vs.lb_algo, sched);
        prop_assert_eq!(vs.persistence_timeout, persistence);
        let method = match kind {
            "NAT" => ForwardMethod::Masq,
            "DR" => ForwardMethod::Route,
            _ => ForwardMethod::Tunnel,
        };
        let services = cfg.services().unwrap();
        prop_assert_eq!(services.len(), 1);
        let dests = &services[0].1;
        prop_assert_eq!(dests.len(), servers.len());
        for (d, (host, (weight, rport))) in dests.iter().zip(&servers) {
            prop_assert_eq!(d.addr, std::net::IpAddr::from(Ipv4Addr::new(198, 51, 100, *host)));
            prop_assert_eq!(d.weight, *weight);
            prop_assert_eq!(d.method, method);
            let want_port = if method == ForwardMethod::Masq { *rport } else { port };
            prop_assert_eq!(d.port, want_port);
        }
        for c in cfg.checks() {
            prop_assert_eq!(c.checker.common().connect_timeout, std::time::Duration::from_millis(2500));
        }
    }
}
