use super::*;
use proptest::prelude::*;

fn args(line: &str) -> Vec<String> {
    line.split_whitespace().map(str::to_string).collect()
}

fn ok(line: &str) -> Command {
    parse(&args(line), &Names::default()).unwrap_or_else(|e| panic!("{line}: {e}"))
}

fn err(line: &str) -> CliError {
    match parse(&args(line), &Names::default()) {
        Ok(c) => panic!("{line}: parsed as {c:?}"),
        Err(e) => e,
    }
}

fn usage_err(line: &str) -> String {
    let e = err(line);
    assert_eq!(e.exit_code, 2, "{line}: {e}");
    e.message
}

fn tcp(addr: &str, port: u16) -> ServiceKey {
    ServiceKey::Addr {
        proto: Protocol::Tcp,
        addr: addr.parse().unwrap(),
        port,
    }
}

fn add_spec(line: &str) -> ServiceSpec {
    match ok(line) {
        Command::AddService(s) => s,
        other => panic!("{line}: {other:?}"),
    }
}

fn add_dest(line: &str) -> (ServiceKey, DestConfig) {
    match ok(line) {
        Command::AddDest { service, dest } => (service, dest),
        other => panic!("{line}: {other:?}"),
    }
}

fn list(line: &str) -> ListOptions {
    match ok(line) {
        Command::List(l) => l,
        other => panic!("{line}: {other:?}"),
    }
}

#[test]
fn the_everyday_commands() {
    let s = add_spec("-A -t 192.0.2.10:80 -s wrr");
    assert_eq!(s.key, tcp("192.0.2.10", 80));
    assert_eq!(s.scheduler, "wrr");
    assert_eq!(s.persistence, None);

    let (svc, d) = add_dest("-a -t 192.0.2.10:80 -r 198.51.100.11 -g -w 1");
    assert_eq!(svc, tcp("192.0.2.10", 80));
    assert_eq!(d.addr, "198.51.100.11".parse::<IpAddr>().unwrap());
    assert_eq!(d.port, 80, "real server port defaults to the service port");
    assert_eq!(d.method, ForwardMethod::Route);
    assert_eq!(d.weight, 1);

    let s = add_spec("-A -t 192.0.2.10:80 -p 600");
    assert_eq!(s.scheduler, "wlc");
    assert_eq!(
        s.persistence,
        Some(Persistence {
            timeout_secs: 600,
            prefix_len: 32
        })
    );

    let (_, d) = add_dest("-a -t 192.0.2.10:80 -r 198.51.100.12 -m -w 100");
    assert_eq!((d.method, d.weight, d.port), (ForwardMethod::Masq, 100, 80));

    let l = list("-L -n");
    assert!(l.numeric);
    assert_eq!(l.view, ListView::All);
    assert_eq!(ok("-C"), Command::Clear);
}

#[test]
fn defaults() {
    let s = add_spec("-A -t 192.0.2.10:80");
    assert_eq!(s.scheduler, DEFAULT_SCHEDULER);
    assert_eq!(s.sched_flags, SchedFlags::default());
    assert!(!s.one_packet);
    let s = add_spec("-A -t 192.0.2.10:80 -p");
    assert_eq!(
        s.persistence,
        Some(Persistence {
            timeout_secs: 360,
            prefix_len: 32
        })
    );
    let (_, d) = add_dest("-a -t 192.0.2.10:80 -r 198.51.100.11");
    assert_eq!(
        (d.method, d.weight, d.u_threshold, d.l_threshold),
        (ForwardMethod::Route, 1, 0, 0)
    );
}

#[test]
fn long_forms_and_clusters() {
    let long = add_spec("--add-service --tcp-service 192.0.2.10:80 --scheduler rr --persistent 60");
    assert_eq!(long, add_spec("-A -t 192.0.2.10:80 -s rr -p 60"));
    assert_eq!(long, add_spec("-At 192.0.2.10:80 -srr -p60"));
    assert_eq!(
        long,
        add_spec("-A --tcp-service=192.0.2.10:80 --scheduler=rr --persistent=60")
    );
    assert_eq!(long, add_spec("-A -t=192.0.2.10:80 -s rr -p=60"));
    let l = list("-Ln");
    assert!(l.numeric);
    let l = list("-lnc");
    assert_eq!(l.view, ListView::Connections);
    let l = list("--list --numeric --stats --exact --nosort --sort");
    assert!(l.numeric && l.stats && l.exact && l.nosort);
    let l = list("-L -X");
    assert!(l.exact);
}

#[test]
fn persistent_takes_a_value_only_when_it_is_not_an_option() {
    assert_eq!(
        add_spec("-A -t 192.0.2.10:80 -p -s rr")
            .persistence
            .unwrap()
            .timeout_secs,
        360
    );
    assert_eq!(
        add_spec("-A -t 192.0.2.10:80 -p 900 -s rr")
            .persistence
            .unwrap()
            .timeout_secs,
        900
    );
    assert_eq!(
        usage_err("-A -t 192.0.2.10:80 -p rr"),
        "invalid timeout value `rr' specified"
    );
    assert_eq!(
        usage_err("-A -t 192.0.2.10:80 -p 0"),
        "invalid timeout value `0' specified"
    );
    assert_eq!(
        usage_err("-A -t 192.0.2.10:80 -p 2678401"),
        "invalid timeout value `2678401' specified"
    );
    assert_eq!(
        add_spec("-A -t 192.0.2.10:80 -p 2678400")
            .persistence
            .unwrap()
            .timeout_secs,
        2_678_400
    );
    assert_eq!(
        usage_err("-A -t 192.0.2.10:80 --persistent="),
        "invalid timeout value `' specified"
    );
}

#[test]
fn required_values_take_the_next_word_whatever_it_is() {
    // popt gives a required value the next word even when it looks like an option;
    // the table, not the parser, then refuses the unknown scheduler.
    let s = add_spec("-A -t 192.0.2.10:80 -s -p");
    assert_eq!((s.scheduler.as_str(), s.persistence), ("-p", None));
    assert_eq!(
        usage_err("-A -t -s rr"),
        "illegal virtual server address[:port] specified"
    );
}

#[test]
fn service_addresses() {
    let s = add_spec("-A -t [2001:db8::10]:443");
    assert_eq!(s.key, tcp("2001:db8::10", 443));
    let s = add_spec("-A -u 192.0.2.10:53");
    assert_eq!(
        s.key,
        ServiceKey::Addr {
            proto: Protocol::Udp,
            addr: "192.0.2.10".parse().unwrap(),
            port: 53
        }
    );
    // A bare IPv6 address has no port.
    assert_eq!(
        usage_err("-A -t 2001:db8::10:80"),
        "Zero port specified for non-persistent service"
    );
    let s = add_spec("-A -t 2001:db8::10 -p");
    assert_eq!(s.key, tcp("2001:db8::10", 0));
    assert_eq!(
        s.persistence,
        Some(Persistence {
            timeout_secs: 360,
            prefix_len: 128
        })
    );
    // inet_aton short forms.
    assert_eq!(add_spec("-A -t 192.0.522:80").key, tcp("192.0.2.10", 80));
    // ipvsadm's quirk: IPv4 in brackets keeps the address but loses the port.
    assert_eq!(
        add_spec("-A -t [192.0.2.10]:80 -p").key,
        tcp("192.0.2.10", 0)
    );
    for bad in [
        "80",
        "",
        "192.0.2.10:",
        "192.0.2.10:65536",
        "192.0.2.10:http",
        "[2001:db8::1]",
        "[2001:db8::1]80",
        "nosuchhost:80",
    ] {
        let e = parse(
            &["-A".to_string(), "-t".to_string(), bad.to_string()],
            &Names::default(),
        )
        .unwrap_err();
        assert_eq!(
            e.message, "illegal virtual server address[:port] specified",
            "{bad}"
        );
        assert_eq!(e.exit_code, 2);
    }
    assert_eq!(add_spec("-A -t 192.0.2.10:+80").key, tcp("192.0.2.10", 80));
}

#[test]
fn names_from_the_files() {
    let names = Names::parse(
        "192.0.2.10 www.example.test www\n198.51.100.11 rs1\n",
        "http 80/tcp www\ndomain 53/udp\n",
    );
    let c = parse(&args("-A -t www:http"), &names).unwrap();
    assert_eq!(
        c,
        Command::AddService(ServiceSpec {
            key: tcp("192.0.2.10", 80),
            ..add_spec("-A -t 192.0.2.10:80")
        })
    );
    let c = parse(&args("-a -t www.example.test:www -r rs1:http -m"), &names).unwrap();
    assert_eq!(c, ok("-a -t 192.0.2.10:80 -r 198.51.100.11:80 -m"));
    // Port names are per protocol.
    let e = parse(&args("-A -u www:http"), &names).unwrap_err();
    assert_eq!(e.message, "illegal virtual server address[:port] specified");
    assert!(parse(&args("-A -u www:domain"), &names).is_ok());
}

#[test]
fn real_server_ports() {
    let (_, d) = add_dest("-a -t 192.0.2.10:80 -r 198.51.100.11:8080 -m");
    assert_eq!(d.port, 8080);
    // Gatewaying and tunnelling force the service port.
    let (_, d) = add_dest("-a -t 192.0.2.10:80 -r 198.51.100.11:8080 -g");
    assert_eq!(d.port, 80);
    let (_, d) = add_dest("-a -t 192.0.2.10:80 -r 198.51.100.11:8080 -i");
    assert_eq!((d.port, d.method), (80, ForwardMethod::Tunnel));
    // Firewall-mark services have no port to force.
    let (svc, d) = add_dest("-a -f 1 -r 198.51.100.11:8080 -g");
    assert_eq!(
        svc,
        ServiceKey::FwMark {
            mark: 1,
            family: Family::V4
        }
    );
    assert_eq!(d.port, 8080);
    let (_, d) = add_dest("-a -f 1 -r 198.51.100.11 -m");
    assert_eq!(d.port, 0);
    // Without a port, the service port known when -r is read.
    let (_, d) = add_dest("-a -r 198.51.100.11 -m -t 192.0.2.10:80");
    assert_eq!(d.port, 0);
    // Tunnelling may cross families; the others may not.
    let (_, d) = add_dest("-a -t 192.0.2.10:80 -r [2001:db8::11]:80 -i");
    assert_eq!(d.addr, "2001:db8::11".parse::<IpAddr>().unwrap());
    assert_eq!(
        usage_err("-a -t 192.0.2.10:80 -r [2001:db8::11]:80 -m"),
        "Different address family is allowed only for tunneling servers"
    );
    assert_eq!(
        usage_err("-a -t 192.0.2.10:80 -r 198.51.100:x -m"),
        "illegal real server address[:port] specified"
    );
}

#[test]
fn edit_and_delete() {
    match ok("-e -t 192.0.2.10:80 -r 198.51.100.11:80 -m -w 0") {
        Command::EditDest { dest, .. } => {
            assert_eq!((dest.weight, dest.method), (0, ForwardMethod::Masq))
        }
        other => panic!("{other:?}"),
    }
    // -e without -w puts the weight back to 1, as ipvsadm does.
    match ok("-e -t 192.0.2.10:80 -r 198.51.100.11:80") {
        Command::EditDest { dest, .. } => {
            assert_eq!((dest.weight, dest.method), (1, ForwardMethod::Route))
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        ok("-d -t 192.0.2.10:80 -r 198.51.100.11"),
        Command::DeleteDest {
            service: tcp("192.0.2.10", 80),
            addr: "198.51.100.11".parse().unwrap(),
            port: 80
        }
    );
    assert_eq!(
        ok("-D -t 192.0.2.10:80"),
        Command::DeleteService(tcp("192.0.2.10", 80))
    );
    match ok("-E -t 192.0.2.10:80 -s rr") {
        Command::EditService(s) => assert_eq!((s.scheduler.as_str(), s.persistence), ("rr", None)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn weights_and_thresholds() {
    let (_, d) = add_dest("-a -t 192.0.2.10:80 -r 198.51.100.11 -w 65535 -x 2147483647 -y 10");
    assert_eq!(
        (d.weight, d.u_threshold, d.l_threshold),
        (65535, 2_147_483_647, 10)
    );
    assert_eq!(
        usage_err("-a -t 192.0.2.10:80 -r 198.51.100.11 -w 65536"),
        "illegal weight specified"
    );
    assert_eq!(
        usage_err("-a -t 192.0.2.10:80 -r 198.51.100.11 -w -1"),
        "illegal weight specified"
    );
    assert_eq!(
        usage_err("-a -t 192.0.2.10:80 -r 198.51.100.11 -x 2147483648"),
        "illegal u_threshold specified"
    );
    assert_eq!(
        usage_err("-a -t 192.0.2.10:80 -r 198.51.100.11 -y x"),
        "illegal l_threshold specified"
    );
}

#[test]
fn persistence_masks() {
    let s = add_spec("-A -t 192.0.2.10:80 -p 600 -M 255.255.255.0");
    assert_eq!(
        s.persistence,
        Some(Persistence {
            timeout_secs: 600,
            prefix_len: 24
        })
    );
    let s = add_spec("-A -t 192.0.2.10:80 -M 255.255.0.0 -p");
    assert_eq!(s.persistence.unwrap().prefix_len, 16);
    // A mask without -p is accepted and has no effect.
    assert_eq!(
        add_spec("-A -t 192.0.2.10:80 -M 255.255.0.0").persistence,
        None
    );
    assert_eq!(
        usage_err("-A -t 192.0.2.10:80 -p -M bogus"),
        "illegal virtual server persistent mask specified"
    );
    assert!(usage_err("-A -t 192.0.2.10:80 -p -M 255.0.255.0").contains("contiguous"));
    let s = add_spec("-A -t [2001:db8::10]:443 -p -M 64");
    assert_eq!(s.persistence.unwrap().prefix_len, 64);
    assert_eq!(
        usage_err("-A -t [2001:db8::10]:443 -p -M 0"),
        "illegal ipv6 netmask specified"
    );
    assert_eq!(
        usage_err("-A -t [2001:db8::10]:443 -p -M 129"),
        "illegal ipv6 netmask specified"
    );
}

#[test]
fn fwmark_services() {
    let s = add_spec("-A -f 1 -s rr");
    assert_eq!(
        s.key,
        ServiceKey::FwMark {
            mark: 1,
            family: Family::V4
        }
    );
    let s = add_spec("-A -f 4294967295 -6 -p -M 64");
    assert_eq!(
        s.key,
        ServiceKey::FwMark {
            mark: u32::MAX,
            family: Family::V6
        }
    );
    assert_eq!(s.persistence.unwrap().prefix_len, 64);
    let s = add_spec("-A -f 2 -6 -p");
    assert_eq!(s.persistence.unwrap().prefix_len, 128);
    assert_eq!(usage_err("-A -6 -f 1"), "-6 used before -f\n");
    for bad in ["0", "-1", "x", "4294967296", ""] {
        let e = parse(&["-A".into(), "-f".into(), bad.into()], &Names::default()).unwrap_err();
        assert_eq!(e.message, format!("invalid fwmark value `{bad}' specified"));
    }
    // One-packet scheduling is fine for marks.
    assert!(add_spec("-A -f 1 -o").one_packet);
}

#[test]
fn scheduler_flags() {
    let s = add_spec("-A -t 192.0.2.10:80 -s sh -b sh-fallback,sh-port");
    assert_eq!(
        s.sched_flags,
        SchedFlags {
            fallback: true,
            port: true,
            flag3: false
        }
    );
    // -b may come before -s: the check happens after all options are read.
    let s = add_spec("-A -t 192.0.2.10:80 -b mh-port -s mh");
    assert_eq!(
        s.sched_flags,
        SchedFlags {
            fallback: false,
            port: true,
            flag3: false
        }
    );
    let s = add_spec("-A -t 192.0.2.10:80 -b flag-1,flag-3,,");
    assert_eq!(
        s.sched_flags,
        SchedFlags {
            fallback: true,
            port: false,
            flag3: true
        }
    );
    assert_eq!(
        usage_err("-A -t 192.0.2.10:80 -b sh-port"),
        "incompatible scheduler flag `sh-port'"
    );
    assert_eq!(
        usage_err("-A -t 192.0.2.10:80 -s sh -b mh-port"),
        "incompatible scheduler flag `mh-port'"
    );
    assert_eq!(
        usage_err("-A -t 192.0.2.10:80 -b bogus"),
        "invalid scheduler flag `bogus'"
    );
    assert_eq!(
        add_spec("-A -t 192.0.2.10:80 --sched-flags=").sched_flags,
        SchedFlags::default()
    );
}

#[test]
fn one_packet_scheduling() {
    assert!(add_spec("-A -u 192.0.2.10:53 -o").one_packet);
    assert_eq!(
        usage_err("-A -t 192.0.2.10:80 -o"),
        "One-Packet Scheduling is only for UDP virtual services"
    );
}

#[test]
fn compatibility_table() {
    assert_eq!(
        usage_err("-A -t 192.0.2.10:80 -r 198.51.100.11"),
        "Illegal 'real-server' option with the 'add-service' command"
    );
    assert_eq!(
        usage_err("-A -s rr"),
        "You need to supply the 'service-address' option for the 'add-service' command"
    );
    assert_eq!(
        usage_err("-a -t 192.0.2.10:80"),
        "You need to supply the 'real-server' option for the 'add-server' command"
    );
    assert_eq!(
        usage_err("-d -t 192.0.2.10:80 -r 198.51.100.11 -w 1"),
        "Illegal 'weight' option with the 'delete-server' command"
    );
    assert_eq!(
        usage_err("-C -n"),
        "Illegal 'numeric' option with the 'flush' command"
    );
    assert_eq!(
        usage_err("-R -n"),
        "Illegal 'numeric' option with the 'restore' command"
    );
    assert_eq!(
        usage_err("-S -c"),
        "Illegal 'connection' option with the 'save' command"
    );
    assert_eq!(
        usage_err("-Z -n"),
        "Illegal 'numeric' option with the 'zero' command"
    );
    assert_eq!(
        usage_err("--set 1 2 3 -n"),
        "Illegal 'numeric' option with the 'set' command"
    );
    assert_eq!(
        usage_err("-L -s rr"),
        "Illegal 'scheduler' option with the 'list' command"
    );
    assert_eq!(
        usage_err("-A -t 192.0.2.10:80 --json"),
        "Illegal 'json' option with the 'add-service' command"
    );
    assert_eq!(
        usage_err("-L -c -t 192.0.2.10:80"),
        "The option 'service-address' conflicts with the 'connection' option in the 'list' command"
    );
    assert_eq!(
        usage_err("-L --daemon --timeout"),
        "The option 'daemon' conflicts with the 'timeout' option in the 'list' command"
    );
    // The first violation in ipvsadm's option order wins.
    assert_eq!(
        usage_err("-D -w 1 -n"),
        "Illegal 'numeric' option with the 'delete-service' command"
    );
    assert_eq!(
        usage_err("-A -t 192.0.2.10:80 -s rr -s wrr"),
        "multiple 'scheduler' options specified"
    );
    assert_eq!(
        usage_err("-a -t 192.0.2.10:80 -r 198.51.100.11 -g -m"),
        "multiple 'forwarding-method' options specified"
    );
    assert_eq!(
        usage_err("-L -n -n"),
        "multiple 'numeric' options specified"
    );
}

#[test]
fn list_views_and_conflicts() {
    assert_eq!(
        list("-L -t 192.0.2.10:80").view,
        ListView::Service(tcp("192.0.2.10", 80))
    );
    assert_eq!(
        list("-L -f 3 -6").view,
        ListView::Service(ServiceKey::FwMark {
            mark: 3,
            family: Family::V6
        })
    );
    assert_eq!(list("-L --timeout").view, ListView::Timeouts);
    assert_eq!(list("-L --daemon").view, ListView::Daemons);
    assert_eq!(list("-L -c --persistent-conn").view, ListView::Connections);
    let l = list("-L -n --rate --thresholds --persistent-conn --tun-info --json");
    assert!(l.rate && l.thresholds && l.persistent_conn && l.tun_info && l.json);
    assert_eq!(list("-L --syncid 3").view, ListView::All);
    for line in [
        "-L -c --stats",
        "-L --timeout --rate",
        "-L --daemon --thresholds",
        "-L --timeout --persistent-conn",
    ] {
        assert_eq!(
            usage_err(line),
            "options conflicts in the list command",
            "{line}"
        );
    }
}

#[test]
fn parser_errors() {
    let e = err("-L --foo");
    assert_eq!(
        (e.message.as_str(), e.exit_code),
        ("--foo: unknown option", 255)
    );
    let e = err("-A -t");
    assert_eq!(
        (e.message.as_str(), e.exit_code),
        ("-t: missing argument", 255)
    );
    let e = err("-L --stats=1");
    assert_eq!(e.message, "--stats=1: option does not take an argument");
    let e = err("-Lq");
    assert_eq!(e.message, "-Lq: unknown option");
    let e = err("-L -n=1");
    assert_eq!(e.message, "-n=1: option does not take an argument");
    // The command must come first; anything else is "try -h".
    for line in ["-n -L", "-t 192.0.2.10:80 -A", "foo", "--foo -L", ""] {
        let e = err(line);
        assert_eq!(e.exit_code, 255, "{line}");
        assert_eq!(
            e.message,
            "Try `rvsadm -h' or 'rvsadm --help' for more information."
        );
    }
    assert_eq!(usage_err("-L -A"), "invalid option `-A'");
    assert_eq!(usage_err("-L -h"), "invalid option `-h'");
    assert_eq!(
        usage_err("-L --start-daemon master"),
        "invalid option `master'"
    );
    assert_eq!(
        usage_err("-A -t 192.0.2.10:80 extra"),
        "unexpected argument extra"
    );
    assert_eq!(
        usage_err("-A -- -t 192.0.2.10:80"),
        "unexpected argument -t"
    );
    assert_eq!(usage_err("-L -"), "unexpected argument -");
}

#[test]
fn help_and_version_answer_first() {
    assert_eq!(ok("-h"), Command::Help);
    assert_eq!(ok("--help -n"), Command::Help);
    assert_eq!(ok("-v"), Command::Version);
    assert_eq!(ok("--version"), Command::Version);
    assert!(usage().contains("-A|E virtual-service"));
    assert!(version_line().starts_with("rvsadm v"));
    assert!(build_line().starts_with("build: commit "));
    assert!(build_line().contains("rustc"));
}

#[test]
fn timeouts_command() {
    assert_eq!(
        ok("--set 900 120 300"),
        Command::SetTimeouts(Timeouts {
            tcp: 900,
            tcpfin: 120,
            udp: 300
        })
    );
    assert_eq!(
        ok("--set 0 0 60"),
        Command::SetTimeouts(Timeouts {
            tcp: 0,
            tcpfin: 0,
            udp: 60
        })
    );
    assert_eq!(
        usage_err("--set 900 120"),
        "--set option requires 3 timeout values"
    );
    assert_eq!(
        usage_err("--set 900 x 300"),
        "invalid timeout value `x' specified"
    );
    assert_eq!(usage_err("--set 1 2 3 4"), "unexpected argument 4");
    assert_eq!(
        usage_err("--set 2678401 2 3"),
        "invalid timeout value `2678401' specified"
    );
}

#[test]
fn daemon_commands() {
    match ok("--start-daemon master") {
        Command::StartDaemon(d) => assert_eq!(d, SyncDaemonConfig::new(SyncState::Master)),
        other => panic!("{other:?}"),
    }
    match ok("--start-daemon=backup --mcast-interface eth1 --syncid 5 --mcast-group 239.0.0.1 --mcast-port 9000 --mcast-ttl 2 --sync-maxlen 1400") {
        Command::StartDaemon(d) => {
            assert_eq!(d.state, SyncState::Backup);
            assert_eq!(d.mcast_ifn, "eth1");
            assert_eq!(d.syncid, 5);
            assert_eq!(d.mcast_group, Some("239.0.0.1".parse().unwrap()));
            assert_eq!((d.mcast_port, d.mcast_ttl, d.sync_maxlen), (Some(9000), Some(2), Some(1400)));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        ok("--start-daemon master --mcast-group ff02::81"),
        Command::StartDaemon(_)
    ));
    assert_eq!(
        usage_err("--start-daemon foo"),
        "illegal start-daemon parameter specified"
    );
    assert_eq!(
        usage_err("--start-daemon master --syncid 256"),
        "illegal syncid specified"
    );
    assert_eq!(
        usage_err("--start-daemon master --mcast-group 192.0.2.1"),
        "invalid IPv4 mcast-group `192.0.2.1'"
    );
    assert_eq!(
        usage_err("--start-daemon master --mcast-group 2001:db8::1"),
        "invalid IPv6 mcast-group `2001:db8::1'"
    );
    assert_eq!(
        usage_err("--start-daemon master --mcast-port 0"),
        "illegal mcast-port specified"
    );
    assert_eq!(
        usage_err("--start-daemon master --mcast-ttl 256"),
        "illegal mcast-ttl specified"
    );
    assert_eq!(
        usage_err("--start-daemon master --sync-maxlen 65508"),
        "illegal sync-maxlen specified"
    );
    assert_eq!(
        usage_err("--start-daemon master -n"),
        "Illegal 'numeric' option with the 'start-daemon' command"
    );
    assert_eq!(
        ok("--stop-daemon master"),
        Command::StopDaemon(Some(SyncState::Master))
    );
    assert_eq!(
        ok("--stop-daemon backup --syncid 1"),
        Command::StopDaemon(Some(SyncState::Backup))
    );
    assert_eq!(ok("--stop-daemon"), Command::StopDaemon(None));
    assert_eq!(ok("--stop-daemon --syncid 1"), Command::StopDaemon(None));
    assert_eq!(
        usage_err("--stop-daemon other"),
        "illegal start_daemon specified"
    );
}

#[test]
fn zero_save_restore() {
    assert_eq!(ok("-Z"), Command::Zero(None));
    assert_eq!(
        ok("-Z -t 192.0.2.10:80"),
        Command::Zero(Some(tcp("192.0.2.10", 80)))
    );
    assert_eq!(ok("-S"), Command::Save { numeric: false });
    assert_eq!(ok("-S -n"), Command::Save { numeric: true });
    assert_eq!(ok("-R"), Command::Restore);
}

#[test]
fn features_rvs_does_not_have() {
    assert_eq!(
        usage_err("-A --sctp-service 192.0.2.10:80"),
        "SCTP virtual services are not supported by rvs"
    );
    assert_eq!(
        usage_err("-A -t 192.0.2.10:80 -p --pe sip"),
        "persistence engine `sip' is not supported by rvs"
    );
    assert_eq!(
        usage_err("-a -t 192.0.2.10:80 -r 198.51.100.11 -i --tun-type gue --tun-port 6080"),
        "tunnel type `gue' is not supported by rvs (only ipip)"
    );
    // ipvsadm's own tunnel option checks come first.
    assert_eq!(
        usage_err("-a -t 192.0.2.10:80 -r 198.51.100.11 -i --tun-type gue"),
        "You need to supply the 'tun-port' option for the 'gue' tunnel type"
    );
    assert_eq!(
        usage_err("-a -t 192.0.2.10:80 -r 198.51.100.11 -i --tun-type gre --tun-csum --tun-nocsum"),
        "The option 'tun-csum' conflicts with the 'tun-nocsum' option in the 'gre' tunnel type"
    );
    assert_eq!(
        usage_err("-a -t 192.0.2.10:80 -r 198.51.100.11 -i --tun-port 1"),
        "Illegal 'tun-port' option with the 'ipip' tunnel type"
    );
    assert_eq!(
        usage_err("-a -t 192.0.2.10:80 -r 198.51.100.11 -m --tun-type ipip"),
        "Tunnel options conflict with forward method"
    );
    assert_eq!(
        usage_err("-a -t 192.0.2.10:80 -r 198.51.100.11 -i --tun-type vxlan"),
        "illegal tunnel type specified"
    );
    let (_, d) = add_dest("-a -t 192.0.2.10:80 -r 198.51.100.11 -i --tun-type ipip");
    assert_eq!(d.method, ForwardMethod::Tunnel);
}

#[test]
fn socket_option_is_taken_out() {
    let mut a = args("-L --socket /tmp/x.sock -n");
    assert_eq!(
        take_socket_option(&mut a).unwrap(),
        Some("/tmp/x.sock".into())
    );
    assert_eq!(a, args("-L -n"));
    let mut a = args("--socket=/tmp/y.sock -C");
    assert_eq!(
        take_socket_option(&mut a).unwrap(),
        Some("/tmp/y.sock".into())
    );
    assert_eq!(a, args("-C"));
    let mut a = args("-C --socket");
    assert_eq!(
        take_socket_option(&mut a).unwrap_err().message,
        "--socket: missing argument"
    );
    let mut a = args("-L");
    assert_eq!(take_socket_option(&mut a).unwrap(), None);
}

fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "-A",
            "-E",
            "-D",
            "-C",
            "-R",
            "-S",
            "-a",
            "-e",
            "-d",
            "-L",
            "-l",
            "-Z",
            "-n",
            "-c",
            "-t",
            "-u",
            "-f",
            "-s",
            "-p",
            "-M",
            "-r",
            "-g",
            "-i",
            "-m",
            "-w",
            "-x",
            "-y",
            "-6",
            "-o",
            "-b",
            "--set",
            "--stats",
            "--rate",
            "--timeout",
            "--daemon",
            "--start-daemon",
            "--stop-daemon",
            "--json",
            "--",
            "-",
            "192.0.2.10:80",
            "[2001:db8::1]:80",
            "198.51.100.11",
            "wrr",
            "sh",
            "sh-port",
            "600",
            "255.255.255.0",
            "64",
            "master",
            "-Ln",
            "-At",
            "--tun-type",
            "gue",
            "--pe",
            "--sctp-service",
            "--mcast-group",
            "0",
        ])
        .prop_map(str::to_string),
        ".{0,12}",
    ]
}

proptest! {
    #[test]
    fn never_panics(words in proptest::collection::vec(word(), 0..10)) {
        let _ = parse(&words, &Names::default());
    }

    #[test]
    fn add_dest_ports_follow_ipvsadm(port in 1u16.., rport in 0u16.., method in 0usize..3) {
        let switch = ["-g", "-i", "-m"][method];
        let line = format!("-a -t 192.0.2.10:{port} -r 198.51.100.11:{rport} {switch}");
        let (_, d) = add_dest(&line);
        let want = if switch == "-m" { rport } else { port };
        prop_assert_eq!(d.port, want);
    }
}
