//! `-L` output, byte for byte as ipvsadm 1.31 prints it: the version header, the
//! column titles of each format (plain, `--stats`, `--rate`, `--thresholds`,
//! `--persistent-conn`, `--tun-info`), the service and real server lines with
//! their widths and truncation, K/M/G abbreviation of large counters, the
//! connection list (`-c`), `--timeout` and `--daemon`; or the status as JSON.

use std::fmt::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use rvs_core::{
    Family, ForwardMethod, Protocol, SchedFlags, SchedulerKind, ServiceConfig, ServiceKey,
};

use crate::command::{ListOptions, ListView};
use crate::error::AdminError;
use crate::inet::{ip_to_string, prefix_to_mask};
use crate::names::Names;
use crate::order;
use crate::status::{ConnStatus, DestStatus, ServiceStatus, Status, SyncDaemonStatus};

/// Renders the listing `opts` asks for. A missing service (`-L -t ...` for a
/// service that does not exist) renders as nothing; `try_render` reports it.
pub fn render(status: &Status, opts: &ListOptions) -> String {
    try_render(status, opts).unwrap_or_default()
}

/// Renders the listing, or "No such service" when one service is asked for
/// and it does not exist (ipvsadm prints that and exits 1).
pub fn try_render(status: &Status, opts: &ListOptions) -> Result<String, AdminError> {
    if opts.json {
        return render_json(status, opts);
    }
    let mut out = String::new();
    match &opts.view {
        ListView::All => {
            // printf("IP Virtual Server version %d.%d.%d (size=%d)\n", ...)
            let _ = writeln!(
                out,
                "IP Virtual Server version {} (size={})",
                status.version, status.conn_table_size
            );
            write_title(&mut out, opts);
            for service in in_listing_order(status.services.iter().collect(), opts) {
                write_service(&mut out, service, opts);
            }
        }
        ListView::Service(key) => {
            let service = status.service(key).ok_or(AdminError::NoSuchService)?;
            write_title(&mut out, opts);
            write_service(&mut out, service, opts);
        }
        ListView::Connections => write_connections(&mut out, status, opts),
        ListView::Timeouts => {
            let t = status.timeouts;
            let _ = writeln!(
                out,
                "Timeout (tcp tcpfin udp): {} {} {}",
                t.tcp, t.tcpfin, t.udp
            );
        }
        ListView::Daemons => {
            let mut daemons: Vec<&SyncDaemonStatus> = status.daemons.iter().collect();
            daemons.sort_by_key(|d| d.state);
            for d in daemons {
                write_daemon(&mut out, d);
            }
        }
    }
    Ok(out)
}

fn render_json(status: &Status, opts: &ListOptions) -> Result<String, AdminError> {
    let selected;
    let shown = match &opts.view {
        ListView::Service(key) => {
            let service = status.service(key).ok_or(AdminError::NoSuchService)?;
            selected = Status {
                services: vec![service.clone()],
                ..status.clone()
            };
            &selected
        }
        _ => status,
    };
    let mut text = serde_json::to_string_pretty(shown)
        .map_err(|e| AdminError::Invalid(format!("status not representable as JSON: {e}")))?;
    text.push('\n');
    Ok(text)
}

fn in_listing_order<'a>(
    mut services: Vec<&'a ServiceStatus>,
    opts: &ListOptions,
) -> Vec<&'a ServiceStatus> {
    if !opts.nosort {
        order::sort_by(&mut services, |a, b| {
            order::compare_services(&a.config.key, &b.config.key)
        });
    }
    services
}

/// The names to use, or none for numeric output.
fn names_for(opts: &ListOptions) -> Option<&Names> {
    (!opts.numeric).then_some(&opts.names)
}

/// ipvsadm's `addrport_to_anyname`: `addr:port`, IPv6 in brackets, each part
/// replaced by its name when names are in use and one is known.
pub(crate) fn addr_port(
    addr: &IpAddr,
    port: u16,
    proto: Option<Protocol>,
    names: Option<&Names>,
) -> String {
    let host = names
        .and_then(|n| n.host_name(addr))
        .map(str::to_string)
        .unwrap_or_else(|| ip_to_string(addr));
    let port_name = names
        .zip(proto)
        .and_then(|(n, p)| n.service_name(port, p))
        .map(str::to_string)
        .unwrap_or_else(|| port.to_string());
    match addr {
        IpAddr::V4(_) => format!("{host}:{port_name}"),
        IpAddr::V6(_) => format!("[{host}]:{port_name}"),
    }
}

/// Cuts a C string at `len` bytes (keeping whole characters).
fn truncate_c(text: &mut String, len: usize) {
    if text.len() > len {
        let mut cut = len;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
}

/// The protocol whose port names apply to a service's addresses; ipvsadm
/// registers firewall-mark services as TCP.
pub(crate) fn service_protocol(key: &ServiceKey) -> Protocol {
    match key {
        ServiceKey::Addr { proto, .. } => *proto,
        ServiceKey::FwMark { .. } => Protocol::Tcp,
    }
}

/// The "Prot LocalAddress:Port" cell: `TCP  192.0.2.10:80`, `FWM  1`,
/// `FWM  1 IPv6`. IPv4 service names are cut at 33 bytes, as ipvsadm does.
fn service_label(key: &ServiceKey, names: Option<&Names>) -> String {
    match *key {
        ServiceKey::FwMark {
            mark,
            family: Family::V4,
        } => format!("FWM  {mark}"),
        ServiceKey::FwMark {
            mark,
            family: Family::V6,
        } => format!("FWM  {mark} IPv6"),
        ServiceKey::Addr { proto, addr, port } => {
            // snprintf(svc_name, ..., "%-4s %s", protocol_name, vname)
            let mut label = format!(
                "{:<4} {}",
                proto.ipvs_name(),
                addr_port(&addr, port, Some(proto), names)
            );
            if addr.is_ipv4() {
                truncate_c(&mut label, 33);
            }
            label
        }
    }
}

/// Scheduler flag names as ipvsadm lists them: per-scheduler names for sh and
/// mh (which never show flag-3), generic flag-N for the others.
pub(crate) fn listed_sched_flags(scheduler: SchedulerKind, flags: SchedFlags) -> Vec<&'static str> {
    let mut names = Vec::new();
    match scheduler {
        SchedulerKind::Sh | SchedulerKind::Mh => {
            let sh = scheduler == SchedulerKind::Sh;
            if flags.fallback {
                names.push(if sh { "sh-fallback" } else { "mh-fallback" });
            }
            if flags.port {
                names.push(if sh { "sh-port" } else { "mh-port" });
            }
        }
        _ => {
            if flags.fallback {
                names.push("flag-1");
            }
            if flags.port {
                names.push("flag-2");
            }
            if flags.flag3 {
                names.push("flag-3");
            }
        }
    }
    names
}

pub(crate) fn any_sched_flag(flags: SchedFlags) -> bool {
    flags.fallback || flags.port || flags.flag3
}

/// The persistence netmask as ipvsadm prints it, when it is not the full
/// host mask: dotted for IPv4, a prefix length for IPv6.
pub(crate) fn persistence_mask(config: &ServiceConfig) -> Option<String> {
    let p = config.persistence?;
    match config.key.family() {
        Family::V4 if p.prefix_len < 32 => Some(prefix_to_mask(p.prefix_len).to_string()),
        Family::V6 if p.prefix_len != 128 => Some(p.prefix_len.to_string()),
        _ => None,
    }
}

/// `print_largenum`: nine columns, abbreviated with K/M/G/T from 100 million
/// on, or exact and widened as needed with `--exact`.
fn large_number(out: &mut String, n: u64, exact: bool) {
    if exact {
        let digits = n.to_string();
        let width = if digits.len() <= 8 {
            9
        } else {
            digits.len() + 1
        };
        let _ = write!(out, "{digits:>width$}");
    } else if n < 100_000_000 {
        let _ = write!(out, "{n:>9}");
    } else if n < 1_000_000_000 {
        let _ = write!(out, "{:>8}K", n / 1_000);
    } else if n < 100_000_000_000 {
        let _ = write!(out, "{:>8}M", n / 1_000_000);
    } else if n < 100_000_000_000_000 {
        let _ = write!(out, "{:>8}G", n / 1_000_000_000);
    } else {
        let _ = write!(out, "{:>8}T", n / 1_000_000_000_000);
    }
}

/// `print_title`: the two heading lines of the chosen format.
fn write_title(out: &mut String, opts: &ListOptions) {
    let first = "Prot LocalAddress:Port";
    if opts.stats {
        // "%-33s %8s %8s %8s %8s %8s\n  -> RemoteAddress:Port\n"
        let _ = writeln!(
            out,
            "{first:<33} {:>8} {:>8} {:>8} {:>8} {:>8}",
            "Conns", "InPkts", "OutPkts", "InBytes", "OutBytes"
        );
        out.push_str("  -> RemoteAddress:Port\n");
    } else if opts.rate {
        let _ = writeln!(
            out,
            "{first:<33} {:>8} {:>8} {:>8} {:>8} {:>8}",
            "CPS", "InPPS", "OutPPS", "InBPS", "OutBPS"
        );
        out.push_str("  -> RemoteAddress:Port\n");
    } else if opts.thresholds {
        // "%-33s %-10s %-10s %-10s %-10s\n  -> RemoteAddress:Port\n"
        let _ = writeln!(
            out,
            "{first:<33} {:<10} {:<10} {:<10} {:<10}",
            "Uthreshold", "Lthreshold", "ActiveConn", "InActConn"
        );
        out.push_str("  -> RemoteAddress:Port\n");
    } else if opts.persistent_conn {
        // "%-33s %-9s %-11s %-10s %-10s\n  -> RemoteAddress:Port\n"
        let _ = writeln!(
            out,
            "{first:<33} {:<9} {:<11} {:<10} {:<10}",
            "Weight", "PersistConn", "ActiveConn", "InActConn"
        );
        out.push_str("  -> RemoteAddress:Port\n");
    } else if opts.tun_info {
        out.push_str("Prot LocalAddress:Port Scheduler Flags\n");
        out.push_str(
            "  -> RemoteAddress:Port           Forward TunnelInfo    Weight ActiveConn InActConn\n",
        );
    } else {
        out.push_str("Prot LocalAddress:Port Scheduler Flags\n");
        out.push_str("  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n");
    }
}

/// `print_service_entry` for listings: the service line, then its real servers.
fn write_service(out: &mut String, service: &ServiceStatus, opts: &ListOptions) {
    let names = names_for(opts);
    let config = &service.config;
    let label = service_label(&config.key, names);
    if opts.stats {
        let _ = write!(out, "{label:<33}");
        let s = &service.stats;
        for n in [s.conns, s.inpkts, s.outpkts, s.inbytes, s.outbytes] {
            large_number(out, n, opts.exact);
        }
    } else if opts.rate {
        let _ = write!(out, "{label:<33}");
        let r = &service.rates;
        for n in [r.cps, r.inpps, r.outpps, r.inbps, r.outbps] {
            large_number(out, n, opts.exact);
        }
    } else {
        // printf("%s %s", svc_name, sched_name), then " (flags)", " persistent %u",
        // " mask %s" / " mask %i", " ops"
        let _ = write!(out, "{label} {}", config.scheduler.name());
        if any_sched_flag(config.sched_flags) {
            let _ = write!(
                out,
                " ({})",
                listed_sched_flags(config.scheduler, config.sched_flags).join(",")
            );
        }
        if let Some(p) = config.persistence {
            let _ = write!(out, " persistent {}", p.timeout_secs);
            if let Some(mask) = persistence_mask(config) {
                let _ = write!(out, " mask {mask}");
            }
        }
        if config.one_packet {
            out.push_str(" ops");
        }
    }
    out.push('\n');

    let proto = service_protocol(&config.key);
    let mut dests: Vec<&DestStatus> = service.dests.iter().filter(|d| !d.held_out).collect();
    if !opts.nosort {
        order::sort_by(&mut dests, |a, b| {
            order::compare_dests(a.config.addr, a.config.port, b.config.addr, b.config.port)
        });
    }
    for dest in dests {
        write_dest(out, dest, proto, opts);
    }
}

fn write_dest(out: &mut String, dest: &DestStatus, proto: Protocol, opts: &ListOptions) {
    let mut name = addr_port(
        &dest.config.addr,
        dest.config.port,
        Some(proto),
        names_for(opts),
    );
    if dest.config.addr.is_ipv4() {
        truncate_c(&mut name, 28);
    }
    let method = dest.config.method.ipvs_name();
    if opts.stats {
        let _ = write!(out, "  -> {name:<28}");
        let s = &dest.stats;
        for n in [s.conns, s.inpkts, s.outpkts, s.inbytes, s.outbytes] {
            large_number(out, n, opts.exact);
        }
        out.push('\n');
    } else if opts.rate {
        // "  -> %-28s %8llu %8llu %8llu", then inbps and outbps as large numbers
        let r = &dest.rates;
        let _ = write!(
            out,
            "  -> {name:<28} {:>8} {:>8} {:>8}",
            r.cps, r.inpps, r.outpps
        );
        large_number(out, r.inbps, opts.exact);
        large_number(out, r.outbps, opts.exact);
        out.push('\n');
    } else if opts.thresholds {
        // "  -> %-28s %-10u %-10u %-10u %-10u\n"
        let c = &dest.config;
        let _ = writeln!(
            out,
            "  -> {name:<28} {:<10} {:<10} {:<10} {:<10}",
            c.u_threshold, c.l_threshold, dest.active_conns, dest.inactive_conns
        );
    } else if opts.persistent_conn {
        // "  -> %-28s %-9u %-11u %-10u %-10u\n"
        let _ = writeln!(
            out,
            "  -> {name:<28} {:<9} {:<11} {:<10} {:<10}",
            dest.weight, dest.persist_conns, dest.active_conns, dest.inactive_conns
        );
    } else if opts.tun_info {
        // "  -> %-28s %-7s %-13s %-6d %-10u %-10u\n"; rvs tunnels are plain IP-in-IP
        let info = if dest.config.method == ForwardMethod::Tunnel {
            "ipip"
        } else {
            "n/a"
        };
        let _ = writeln!(
            out,
            "  -> {name:<28} {method:<7} {info:<13} {:<6} {:<10} {:<10}",
            dest.weight, dest.active_conns, dest.inactive_conns
        );
    } else {
        // "  -> %-28s %-7s %-6d %-10u %-10u\n"
        let _ = writeln!(
            out,
            "  -> {name:<28} {method:<7} {:<6} {:<10} {:<10}",
            dest.weight, dest.active_conns, dest.inactive_conns
        );
    }
}

/// The address the kernel stores as "virtual" for a firewall-mark template:
/// the mark in the first 32 bits of an address of the service's family.
fn fwmark_address(mark: u32, family_of: &IpAddr) -> IpAddr {
    match family_of {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::from(mark)),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::from(u128::from(mark) << 96)),
    }
}

fn write_connection(out: &mut String, conn: &ConnStatus, names: Option<&Names>) {
    // Firewall-mark templates are protocol "IP" (no port names) with the mark as address.
    let (proto_name, proto, vip): (&str, Option<Protocol>, SocketAddr) =
        match (conn.template, conn.fwmark) {
            (true, Some(mark)) => (
                "IP",
                None,
                SocketAddr::new(fwmark_address(mark, &conn.client.ip()), 0),
            ),
            _ => (conn.proto.ipvs_name(), Some(conn.proto), conn.r#virtual),
        };
    let client = addr_port(&conn.client.ip(), conn.client.port(), proto, names);
    let virt = addr_port(&vip.ip(), vip.port(), proto, names);
    let dest = addr_port(&conn.dest.ip(), conn.dest.port(), proto, names);
    // The kernel reports whole seconds; ipvsadm prints "%02d:%02d" minutes and seconds.
    let secs = conn.expires_ms / 1000;
    let expire = format!("{:02}:{:02}", secs / 60, secs % 60);
    // "%-3s %-6s %-11s %-18s %-18s %s\n"
    let _ = writeln!(
        out,
        "{proto_name:<3} {expire:<6} {:<11} {client:<18} {virt:<18} {dest}",
        conn.state
    );
}

fn write_connections(out: &mut String, status: &Status, opts: &ListOptions) {
    out.push_str("IPVS connection entries\n");
    if opts.persistent_conn {
        // "pro expire %-11s %-18s %-18s %-18s %-16s %s\n"
        let _ = writeln!(
            out,
            "pro expire {:<11} {:<18} {:<18} {:<18} {:<16} pe_data",
            "state", "source", "virtual", "destination", "pe name"
        );
    } else {
        // "pro expire %-11s %-18s %-18s %s\n"
        let _ = writeln!(
            out,
            "pro expire {:<11} {:<18} {:<18} destination",
            "state", "source", "virtual"
        );
    }
    // rvs has no persistence engines, so entries never carry pe columns.
    for conn in status.connections.iter().flatten() {
        write_connection(out, conn, names_for(opts));
    }
}

/// `list_daemon`: "master sync daemon (mcast=eth0, syncid=0, ...)".
fn write_daemon(out: &mut String, d: &SyncDaemonStatus) {
    let _ = write!(
        out,
        "{} sync daemon (mcast={}, syncid={}",
        d.state.name(),
        d.mcast_ifn,
        d.syncid
    );
    if let Some(maxlen) = d.sync_maxlen.filter(|v| *v != 0) {
        let _ = write!(out, ", maxlen={maxlen}");
    }
    if let Some(group) = d.mcast_group {
        let _ = write!(out, ", group={}", ip_to_string(&group));
    }
    if let Some(port) = d.mcast_port.filter(|v| *v != 0) {
        let _ = write!(out, ", port={port}");
    }
    if let Some(ttl) = d.mcast_ttl.filter(|v| *v != 0) {
        let _ = write!(out, ", ttl={ttl}");
    }
    out.push_str(")\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_numbers() {
        let cases: [(u64, &str); 8] = [
            (0, "        0"),
            (99_999_999, " 99999999"),
            (100_000_000, "  100000K"),
            (999_999_999, "  999999K"),
            (1_000_000_000, "    1000M"),
            (99_999_999_999, "   99999M"),
            (100_000_000_000, "     100G"),
            (100_000_000_000_000, "     100T"),
        ];
        for (n, want) in cases {
            let mut s = String::new();
            large_number(&mut s, n, false);
            assert_eq!(s, want, "{n}");
        }
        let mut s = String::new();
        large_number(&mut s, 12, true);
        large_number(&mut s, 123_456_789, true);
        large_number(&mut s, 12_345_678, true);
        assert_eq!(s, "       12 123456789 12345678");
    }

    #[test]
    fn truncation_keeps_characters_whole() {
        let mut s = "abcé".to_string();
        truncate_c(&mut s, 4);
        assert_eq!(s, "abc");
        let mut s = "short".to_string();
        truncate_c(&mut s, 28);
        assert_eq!(s, "short");
    }

    #[test]
    fn fwmark_addresses() {
        assert_eq!(
            fwmark_address(1, &"203.0.113.1".parse().unwrap()).to_string(),
            "0.0.0.1"
        );
        assert_eq!(
            ip_to_string(&fwmark_address(1, &"2001:db8::1".parse().unwrap())),
            "0:1::"
        );
    }
}
