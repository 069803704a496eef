//! `-S` and `-R`: the table as ipvsadm rules (`-A -t 192.0.2.10:80 -s wrr`,
//! `-a -t 192.0.2.10:80 -r 198.51.100.11:80 -m -w 1`), in ipvsadm's sorted
//! order, and the reading of such a script back into commands.
//!
//! Where ipvsadm 1.31's `-S` loses information, rvs keeps it, so that restoring
//! a save rebuilds the same table: real server thresholds (`-x`, `-y`), flag-3
//! on sh/mh services, non-default timeouts (`--set`) and running sync daemons
//! (`--start-daemon`). A table without those saves exactly as ipvsadm saves it.

use std::fmt::Write;

use rvs_core::{Family, ForwardMethod, Protocol, SchedulerKind, ServiceConfig, ServiceKey};

use crate::cli;
use crate::command::Command;
use crate::config::{Config, SyncDaemonConfig, VirtualService, DEFAULT_MCAST_IFN};
use crate::error::CliError;
use crate::inet::ip_to_string;
use crate::listing::{
    addr_port, any_sched_flag, listed_sched_flags, persistence_mask, service_protocol,
};
use crate::names::Names;
use crate::order;
use crate::status::Timeouts;

/// The service part of a rule: `-t 192.0.2.10:80`, `-f 1`, `-f 1 -6`.
fn service_rule(key: &ServiceKey, names: Option<&Names>) -> String {
    match *key {
        ServiceKey::FwMark {
            mark,
            family: Family::V4,
        } => format!("-f {mark}"),
        ServiceKey::FwMark {
            mark,
            family: Family::V6,
        } => format!("-f {mark} -6"),
        ServiceKey::Addr { proto, addr, port } => {
            let option = match proto {
                Protocol::Tcp => "-t",
                Protocol::Udp => "-u",
            };
            format!("{option} {}", addr_port(&addr, port, Some(proto), names))
        }
    }
}

/// Scheduler flags for `-b`: as listed, plus flag-3 for sh and mh, which
/// ipvsadm's listing never shows (so its save would drop it).
fn saved_sched_flags(config: &ServiceConfig) -> String {
    let mut flags = listed_sched_flags(config.scheduler, config.sched_flags);
    if matches!(config.scheduler, SchedulerKind::Sh | SchedulerKind::Mh) && config.sched_flags.flag3
    {
        flags.push("flag-3");
    }
    flags.join(",")
}

fn write_service(out: &mut String, service: &VirtualService, names: Option<&Names>) {
    let config = &service.config;
    let svc = service_rule(&config.key, names);
    // printf("-A %s -s %s", ...), then " -p %u", " -M %s", " -o", " -b %s"
    let _ = write!(out, "-A {svc} -s {}", config.scheduler.name());
    if let Some(p) = config.persistence {
        let _ = write!(out, " -p {}", p.timeout_secs);
        if let Some(mask) = persistence_mask(config) {
            let _ = write!(out, " -M {mask}");
        }
    }
    if config.one_packet {
        out.push_str(" -o");
    }
    if any_sched_flag(config.sched_flags) {
        let _ = write!(out, " -b {}", saved_sched_flags(config));
    }
    out.push('\n');

    let proto = service_protocol(&config.key);
    let mut dests: Vec<_> = service.dests.iter().collect();
    order::sort_by(&mut dests, |a, b| {
        order::compare_dests(a.addr, a.port, b.addr, b.port)
    });
    for d in dests {
        let switch = match d.method {
            ForwardMethod::Masq => "-m",
            ForwardMethod::Tunnel => "-i",
            ForwardMethod::Route => "-g",
        };
        // printf("-a %s -r %s %s -w %d\n", ...); 1.31 adds "--tun-type ipip" for tunnels
        let _ = write!(
            out,
            "-a {svc} -r {} {switch} -w {}",
            addr_port(&d.addr, d.port, Some(proto), names),
            d.weight
        );
        if d.method == ForwardMethod::Tunnel {
            out.push_str(" --tun-type ipip");
        }
        if d.u_threshold != 0 {
            let _ = write!(out, " -x {}", d.u_threshold);
        }
        if d.l_threshold != 0 {
            let _ = write!(out, " -y {}", d.l_threshold);
        }
        out.push('\n');
    }
}

fn write_daemon(out: &mut String, d: &SyncDaemonConfig) {
    let _ = write!(out, "--start-daemon {}", d.state.name());
    if d.mcast_ifn != DEFAULT_MCAST_IFN {
        let _ = write!(out, " --mcast-interface {}", d.mcast_ifn);
    }
    if d.syncid != 0 {
        let _ = write!(out, " --syncid {}", d.syncid);
    }
    if let Some(v) = d.sync_maxlen {
        let _ = write!(out, " --sync-maxlen {v}");
    }
    if let Some(v) = d.mcast_group {
        let _ = write!(out, " --mcast-group {}", ip_to_string(&v));
    }
    if let Some(v) = d.mcast_port {
        let _ = write!(out, " --mcast-port {v}");
    }
    if let Some(v) = d.mcast_ttl {
        let _ = write!(out, " --mcast-ttl {v}");
    }
    out.push('\n');
}

/// The table as an ipvsadm rule script. `names`: `None` for numeric output
/// (`-S -n`), or the names to print addresses and ports with (`-S`).
pub fn render_save(config: &Config, names: Option<&Names>) -> String {
    let mut out = String::new();
    let sorted = config.sorted();
    for service in &sorted.services {
        write_service(&mut out, service, names);
    }
    if config.timeouts != Timeouts::default() {
        let t = config.timeouts;
        let _ = writeln!(out, "--set {} {} {}", t.tcp, t.tcpfin, t.udp);
    }
    for d in &config.daemons {
        write_daemon(&mut out, d);
    }
    out
}

/// A restore script line that could not be read, by 1-based line number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RestoreError {
    pub line: usize,
    pub error: CliError,
}

impl std::fmt::Display for RestoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.error)
    }
}

impl std::error::Error for RestoreError {}

/// Splits a script line into arguments as ipvsadm's `-R` does: whitespace
/// separated, the words "ipvsadm" (and "rvsadm") dropped. Unlike ipvsadm, a word
/// starting with `#` begins a comment, so saved files with comments restore.
fn script_words(line: &str) -> Vec<String> {
    line.split([' ', '\t', '\r'])
        .filter(|w| !w.is_empty())
        .take_while(|w| !w.starts_with('#'))
        .filter(|w| *w != "ipvsadm" && *w != cli::PROGRAM)
        .map(str::to_string)
        .collect()
}

/// Reads a restore script into table commands with their line numbers. Blank
/// and comment lines are skipped; anything but a table change (listing,
/// saving, a nested restore) is refused.
pub fn parse_restore(script: &str, names: &Names) -> Result<Vec<(usize, Command)>, RestoreError> {
    let mut commands = Vec::new();
    for (i, line) in script.lines().enumerate() {
        let line_no = i + 1;
        let words = script_words(line);
        if words.is_empty() {
            continue;
        }
        let command = cli::parse(&words, names).map_err(|error| RestoreError {
            line: line_no,
            error,
        })?;
        if !command.is_change() {
            return Err(RestoreError {
                line: line_no,
                error: CliError::usage(format!(
                    "the '{}' command cannot be used in a restore script",
                    command.name()
                )),
            });
        }
        commands.push((line_no, command));
    }
    Ok(commands)
}

/// Applies a script to a copy of `config` and returns the result (all or
/// nothing); errors name the line.
pub fn restore_into(config: &Config, script: &str, names: &Names) -> Result<Config, String> {
    let commands = parse_restore(script, names).map_err(|e| e.to_string())?;
    let mut next = config.clone();
    for (line, command) in &commands {
        next.apply(command)
            .map_err(|e| format!("line {line}: {e}"))?;
    }
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rvs_core::{DestConfig, Persistence, SchedFlags};
    use std::net::IpAddr;

    use crate::config::SyncState;

    fn svc(key: ServiceKey, scheduler: SchedulerKind) -> ServiceConfig {
        ServiceConfig {
            key,
            scheduler,
            sched_flags: SchedFlags::default(),
            persistence: None,
            one_packet: false,
        }
    }

    fn dest(addr: &str, port: u16, method: ForwardMethod, weight: u32) -> DestConfig {
        DestConfig {
            addr: addr.parse().unwrap(),
            port,
            method,
            weight,
            u_threshold: 0,
            l_threshold: 0,
        }
    }

    fn tcp(addr: &str, port: u16) -> ServiceKey {
        ServiceKey::Addr {
            proto: Protocol::Tcp,
            addr: addr.parse().unwrap(),
            port,
        }
    }

    fn sample() -> Config {
        let mut web = svc(tcp("192.0.2.10", 80), SchedulerKind::Wrr);
        web.persistence = Some(Persistence {
            timeout_secs: 600,
            prefix_len: 24,
        });
        let mut dns = svc(
            ServiceKey::Addr {
                proto: Protocol::Udp,
                addr: "192.0.2.10".parse().unwrap(),
                port: 53,
            },
            SchedulerKind::Sh,
        );
        dns.one_packet = true;
        dns.sched_flags = SchedFlags {
            fallback: true,
            port: true,
            flag3: false,
        };
        let fw6 = svc(
            ServiceKey::FwMark {
                mark: 7,
                family: Family::V6,
            },
            SchedulerKind::Wlc,
        );
        let mut thresholds = dest("198.51.100.12", 80, ForwardMethod::Masq, 100);
        thresholds.u_threshold = 500;
        thresholds.l_threshold = 400;
        Config {
            services: vec![
                VirtualService {
                    config: fw6,
                    dests: vec![dest("2001:db8::5", 0, ForwardMethod::Masq, 1)],
                },
                VirtualService {
                    config: web,
                    dests: vec![
                        thresholds,
                        dest("198.51.100.11", 80, ForwardMethod::Route, 1),
                        dest("198.51.100.13", 80, ForwardMethod::Tunnel, 2),
                    ],
                },
                VirtualService {
                    config: dns,
                    dests: vec![dest("198.51.100.11", 5353, ForwardMethod::Masq, 1)],
                },
            ],
            timeouts: Timeouts::default(),
            daemons: vec![],
        }
    }

    #[test]
    fn save_format() {
        // Formats of print_service_entry with FMT_RULE: "-A %s -s %s", " -p %u",
        // " -M %s", " -o", " -b flags"; "-a %s -r %s %s -w %d" (+ " --tun-type ipip").
        let expected = "\
-A -t 192.0.2.10:80 -s wrr -p 600 -M 255.255.255.0
-a -t 192.0.2.10:80 -r 198.51.100.11:80 -g -w 1
-a -t 192.0.2.10:80 -r 198.51.100.12:80 -m -w 100 -x 500 -y 400
-a -t 192.0.2.10:80 -r 198.51.100.13:80 -i -w 2 --tun-type ipip
-A -u 192.0.2.10:53 -s sh -o -b sh-fallback,sh-port
-a -u 192.0.2.10:53 -r 198.51.100.11:5353 -m -w 1
-A -f 7 -6 -s wlc
-a -f 7 -6 -r [2001:db8::5]:0 -m -w 1
";
        assert_eq!(render_save(&sample(), None), expected);
    }

    #[test]
    fn save_with_names() {
        let names = Names::parse(
            "192.0.2.10 www.example.test\n",
            "http 80/tcp\ndomain 53/udp\n",
        );
        let mut config = sample();
        config.services.truncate(2);
        config.services[1].dests.truncate(1);
        let text = render_save(&config, Some(&names));
        assert!(
            text.starts_with("-A -t www.example.test:http -s wrr -p 600 -M 255.255.255.0\n"),
            "{text}"
        );
        assert!(
            text.contains("-a -t www.example.test:http -r 198.51.100.12:http -m -w 100"),
            "{text}"
        );
        // Names restore to the same table.
        let restored = restore_into(&Config::new(), &text, &names).unwrap();
        assert_eq!(restored, config.sorted());
    }

    #[test]
    fn timeouts_and_daemons_saved_when_set() {
        let mut config = Config::new();
        assert_eq!(render_save(&config, None), "");
        config.timeouts = Timeouts {
            tcp: 3600,
            tcpfin: 120,
            udp: 300,
        };
        let mut d = SyncDaemonConfig::new(SyncState::Master);
        d.syncid = 9;
        d.mcast_group = Some("239.1.1.1".parse::<IpAddr>().unwrap());
        config.daemons.push(d);
        config
            .daemons
            .push(SyncDaemonConfig::new(SyncState::Backup));
        let text = render_save(&config, None);
        assert_eq!(
            text,
            "--set 3600 120 300\n--start-daemon master --syncid 9 --mcast-group 239.1.1.1\n--start-daemon backup\n"
        );
        assert_eq!(
            restore_into(&Config::new(), &text, &Names::default()).unwrap(),
            config
        );
    }

    #[test]
    fn round_trip_sample() {
        let config = sample();
        let text = render_save(&config, None);
        let restored = restore_into(&Config::new(), &text, &Names::default()).unwrap();
        assert_eq!(restored, config.sorted());
        assert_eq!(render_save(&restored, None), text);
    }

    #[test]
    fn restore_script_syntax() {
        let script = "\
# saved by ipvsadm
ipvsadm -A -t 192.0.2.10:80 -s rr

   -a -t 192.0.2.10:80 -r 198.51.100.11 -m   # trailing comment
\t-a\t-t 192.0.2.10:80 -r 198.51.100.12:8080 -m -w 3\r
";
        let commands = parse_restore(script, &Names::default()).unwrap();
        assert_eq!(
            commands.iter().map(|(l, _)| *l).collect::<Vec<_>>(),
            vec![2, 4, 5]
        );
        let config = restore_into(&Config::new(), script, &Names::default()).unwrap();
        assert_eq!(config.services[0].dests[0].port, 80);
        assert_eq!(config.services[0].dests[1].port, 8080);
        assert_eq!(config.services[0].dests[1].weight, 3);
    }

    #[test]
    fn restore_errors_name_the_line() {
        let bad_syntax = "-A -t 192.0.2.10:80\n-a -t 192.0.2.10:80 -r 198.51.100.11 -w 70000\n";
        let err = parse_restore(bad_syntax, &Names::default()).unwrap_err();
        assert_eq!(err.line, 2);
        assert_eq!(err.to_string(), "line 2: illegal weight specified");

        let listing = "-A -t 192.0.2.10:80\n-L -n\n";
        assert_eq!(
            parse_restore(listing, &Names::default()).unwrap_err().line,
            2
        );
        let nested = "-R\n";
        assert_eq!(
            parse_restore(nested, &Names::default()).unwrap_err().line,
            1
        );

        let conflict = "-A -t 192.0.2.10:80\n-A -t 192.0.2.11:80\n-A -t 192.0.2.10:80\n";
        assert_eq!(
            restore_into(&Config::new(), conflict, &Names::default()),
            Err("line 3: Service already exists".into())
        );
    }
}
