//! What rvsd changes in the host so that the kernel never answers or forwards what
//! the director handles, and undoes on exit: an nftables `netdev` table with an
//! ingress chain per port that drops, after our AF_PACKET tap has seen them, frames
//! to VIPs and NAT replies from real servers (the kernel would otherwise forward
//! them un-NATed, or answer for the VIP). Everything else (the host's own traffic,
//! ssh, the control API) flows as before. A restart after a crash starts by deleting
//! whatever a previous instance left.

use std::collections::BTreeSet;
use std::io::Write;
use std::net::IpAddr;
use std::process::{Command, Stdio};

use rvs_core::service::Snapshot;
use rvs_core::{ForwardMethod, Protocol, ServiceKey};

/// The nftables table rvsd owns.
pub const TABLE: &str = "rvsd";

/// Desired drop sets, derived from the service table.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DropSets {
    pub vip4: BTreeSet<IpAddr>,
    pub vip6: BTreeSet<IpAddr>,
    /// (address, protocol, port) of NAT real servers; port 0 = every port.
    pub real4: BTreeSet<(IpAddr, Protocol, u16)>,
    pub real6: BTreeSet<(IpAddr, Protocol, u16)>,
    /// The director's own addresses: replies to its own connections (health checks)
    /// are never dropped.
    pub local4: BTreeSet<IpAddr>,
    pub local6: BTreeSet<IpAddr>,
}

impl DropSets {
    pub fn from_snapshot(snap: &Snapshot) -> DropSets {
        let mut s = DropSets::default();
        for p in &snap.ports {
            for a in &p.addrs {
                if a.addr.is_ipv4() {
                    s.local4.insert(a.addr);
                } else {
                    s.local6.insert(a.addr);
                }
            }
        }
        for svc in snap.services() {
            if let ServiceKey::Addr { addr, .. } = svc.config.key {
                if addr.is_ipv4() {
                    s.vip4.insert(addr);
                } else {
                    s.vip6.insert(addr);
                }
            }
        }
        // Every NAT real server the table still knows: those of the services, and those
        // deleted with connections still open (in the trash until these end), whose
        // replies must keep reaching the director, as IPVS keeps forwarding them.
        for d in snap.dests() {
            if d.method() != ForwardMethod::Masq {
                continue;
            }
            let protos: &[Protocol] = match snap
                .service_of(d.id())
                .and_then(|id| snap.service(id))
                .map(|svc| svc.config.key)
            {
                Some(ServiceKey::Addr {
                    proto: Protocol::Tcp,
                    ..
                }) => &[Protocol::Tcp],
                Some(ServiceKey::Addr {
                    proto: Protocol::Udp,
                    ..
                }) => &[Protocol::Udp],
                // Firewall-mark services (and a trashed server whose service went too).
                _ => &[Protocol::Tcp, Protocol::Udp],
            };
            for p in protos {
                let e = (d.addr(), *p, d.port());
                if d.addr().is_ipv4() {
                    s.real4.insert(e);
                } else {
                    s.real6.insert(e);
                }
            }
        }
        for r in &snap.fwmark_rules {
            // Marked traffic goes to the director too.
            if r.dest.addr.is_ipv4() && r.dest.prefix_len == 32 {
                s.vip4.insert(r.dest.addr);
            } else if r.dest.addr.is_ipv6() && r.dest.prefix_len == 128 {
                s.vip6.insert(r.dest.addr);
            }
        }
        s
    }
}

fn proto_name(p: Protocol) -> &'static str {
    match p {
        Protocol::Tcp => "tcp",
        Protocol::Udp => "udp",
    }
}

/// The nft script that (re)creates the table for `ports` with `sets`.
pub fn script(ports: &[String], sets: &DropSets) -> String {
    let mut s = String::new();
    // Create-then-delete makes the delete succeed whether or not the table exists.
    s.push_str(&format!(
        "table netdev {TABLE}\ndelete table netdev {TABLE}\n"
    ));
    s.push_str(&format!("table netdev {TABLE} {{\n"));
    let elems = |v: Vec<String>| {
        if v.is_empty() {
            String::new()
        } else {
            format!("elements = {{ {} }}", v.join(", "))
        }
    };
    s.push_str(&format!(
        "  set vip4 {{ type ipv4_addr; {} }}\n",
        elems(sets.vip4.iter().map(|a| a.to_string()).collect())
    ));
    s.push_str(&format!(
        "  set vip6 {{ type ipv6_addr; {} }}\n",
        elems(sets.vip6.iter().map(|a| a.to_string()).collect())
    ));
    let (real4_any, real4_port): (Vec<_>, Vec<_>) = sets.real4.iter().partition(|e| e.2 == 0);
    let (real6_any, real6_port): (Vec<_>, Vec<_>) = sets.real6.iter().partition(|e| e.2 == 0);
    let port_elems = |v: &[&(IpAddr, Protocol, u16)]| {
        elems(
            v.iter()
                .map(|(a, p, port)| format!("{a} . {} . {port}", proto_name(*p)))
                .collect(),
        )
    };
    let addr_elems = |v: &[&(IpAddr, Protocol, u16)]| {
        let set: BTreeSet<String> = v.iter().map(|(a, _, _)| a.to_string()).collect();
        elems(set.into_iter().collect())
    };
    s.push_str(&format!(
        "  set real4 {{ type ipv4_addr . inet_proto . inet_service; {} }}\n",
        port_elems(&real4_port)
    ));
    s.push_str(&format!(
        "  set real6 {{ type ipv6_addr . inet_proto . inet_service; {} }}\n",
        port_elems(&real6_port)
    ));
    s.push_str(&format!(
        "  set realany4 {{ type ipv4_addr; {} }}\n",
        addr_elems(&real4_any)
    ));
    s.push_str(&format!(
        "  set realany6 {{ type ipv6_addr; {} }}\n",
        addr_elems(&real6_any)
    ));
    let all4: Vec<&(IpAddr, Protocol, u16)> = sets.real4.iter().collect();
    let all6: Vec<&(IpAddr, Protocol, u16)> = sets.real6.iter().collect();
    s.push_str(&format!(
        "  set local4 {{ type ipv4_addr; {} }}\n",
        elems(sets.local4.iter().map(|a| a.to_string()).collect())
    ));
    s.push_str(&format!(
        "  set local6 {{ type ipv6_addr; {} }}\n",
        elems(sets.local6.iter().map(|a| a.to_string()).collect())
    ));
    s.push_str(&format!(
        "  set realaddr4 {{ type ipv4_addr; {} }}\n",
        addr_elems(&all4)
    ));
    s.push_str(&format!(
        "  set realaddr6 {{ type ipv6_addr; {} }}\n",
        addr_elems(&all6)
    ));
    for (i, p) in ports.iter().enumerate() {
        s.push_str(&format!(
            "  chain in{i} {{\n    type filter hook ingress device \"{p}\" priority -500; policy accept;\n"
        ));
        s.push_str("    ip daddr @vip4 drop\n");
        s.push_str("    ip6 daddr @vip6 drop\n");
        // What follows is about the real servers' traffic: the director's own
        // connections to them (health checks) are the host's business.
        s.push_str("    ip daddr @local4 accept\n");
        s.push_str("    ip6 daddr @local6 accept\n");
        s.push_str("    ip saddr . meta l4proto . th sport @real4 drop\n");
        s.push_str("    ip6 saddr . meta l4proto . th sport @real6 drop\n");
        s.push_str("    ip saddr @realany4 meta l4proto { tcp, udp } drop\n");
        s.push_str("    ip6 saddr @realany6 meta l4proto { tcp, udp } drop\n");
        // ICMP errors from NAT real servers are NATed by the director, not forwarded.
        s.push_str(
            "    ip saddr @realaddr4 icmp type { destination-unreachable, time-exceeded, parameter-problem } drop\n",
        );
        s.push_str(
            "    ip6 saddr @realaddr6 icmpv6 type { destination-unreachable, packet-too-big, time-exceeded, parameter-problem } drop\n",
        );
        s.push_str("  }\n");
    }
    s.push_str("}\n");
    s
}

fn run_nft(script: &str) -> std::io::Result<()> {
    let mut child = Command::new("nft")
        .arg("-f")
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!("cannot run nft: {e} (is nftables installed?)"),
            )
        })?;
    if let Some(stdin) = child.stdin.as_mut() {
        stdin.write_all(script.as_bytes())?;
    }
    let out = child.wait_with_output()?;
    if !out.status.success() {
        return Err(std::io::Error::other(format!(
            "nft failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

/// The host-side rules, kept in step with the service table.
pub struct HostSetup {
    ports: Vec<String>,
    current: Option<DropSets>,
    enabled: bool,
}

impl HostSetup {
    pub fn new(ports: Vec<String>, enabled: bool) -> HostSetup {
        HostSetup {
            ports,
            current: None,
            enabled,
        }
    }

    /// Install (or refresh) the rules for `sets`; a no-op when nothing changed.
    pub fn apply(&mut self, sets: &DropSets) -> std::io::Result<()> {
        if !self.enabled || self.current.as_ref() == Some(sets) {
            return Ok(());
        }
        run_nft(&script(&self.ports, sets))?;
        self.current = Some(sets.clone());
        Ok(())
    }

    /// Remove the table (at exit; also at start, to clean up after a crash).
    pub fn remove(&mut self) -> std::io::Result<()> {
        if !self.enabled {
            return Ok(());
        }
        self.current = None;
        run_nft(&format!(
            "table netdev {TABLE}\ndelete table netdev {TABLE}\n"
        ))
    }
}

impl Drop for HostSetup {
    fn drop(&mut self) {
        if self.current.is_some() {
            if let Err(e) = self.remove() {
                tracing::warn!("could not remove nftables table {TABLE}: {e}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deleted_real_server_with_open_connections_keeps_its_replies_steered() {
        use rvs_core::service::{DesiredConfig, Limits, ServiceTable};
        use rvs_core::{DestConfig, SchedFlags, SchedulerKind, ServiceConfig, Time};
        let svc = ServiceConfig {
            key: ServiceKey::Addr {
                proto: Protocol::Tcp,
                addr: "192.0.2.10".parse().unwrap(),
                port: 80,
            },
            scheduler: SchedulerKind::Rr,
            sched_flags: SchedFlags::default(),
            persistence: None,
            one_packet: false,
        };
        let real = |last: u8| DestConfig {
            addr: format!("198.51.100.{last}").parse().unwrap(),
            port: 80,
            method: ForwardMethod::Masq,
            weight: 1,
            u_threshold: 0,
            l_threshold: 0,
        };
        let want = |dests| DesiredConfig {
            services: vec![(svc.clone(), dests)],
            ..DesiredConfig::default()
        };
        let mut t = ServiceTable::new(Limits::default());
        let (s1, _) = t
            .reconcile(&want(vec![real(11), real(12)]), Time::ZERO)
            .unwrap();
        let d12 = s1.services().next().unwrap().dests[1].clone();
        d12.bind_conn(false, true); // a request in flight
        let (s2, _) = t
            .reconcile(&want(vec![real(11)]), Time::from_secs(1))
            .unwrap();
        let rip12: IpAddr = "198.51.100.12".parse().unwrap();
        let sets = DropSets::from_snapshot(&s2);
        assert!(sets.real4.contains(&(rip12, Protocol::Tcp, 80)), "{sets:?}");
        // Once its last connection ends and the trash is collected, it goes.
        d12.unbind_conn(false, true);
        let (s3, _) = t.collect_garbage(Time::from_secs(2)).unwrap();
        let sets = DropSets::from_snapshot(&s3);
        assert!(!sets.real4.iter().any(|(a, _, _)| *a == rip12), "{sets:?}");
        assert_eq!(sets.real4.len(), 1);
    }

    #[test]
    fn script_lists_vips_and_nat_reals() {
        let mut sets = DropSets::default();
        sets.vip4.insert("192.0.2.10".parse().unwrap());
        sets.real4
            .insert(("198.51.100.11".parse().unwrap(), Protocol::Tcp, 80));
        sets.real4
            .insert(("198.51.100.12".parse().unwrap(), Protocol::Tcp, 0));
        let s = script(&["eth0".into(), "eth1".into()], &sets);
        assert!(s.contains("set vip4 { type ipv4_addr; elements = { 192.0.2.10 } }"));
        assert!(s.contains("198.51.100.11 . tcp . 80"));
        assert!(s.contains("set realany4 { type ipv4_addr; elements = { 198.51.100.12 } }"));
        assert!(s.contains("hook ingress device \"eth1\""));
        assert!(s.starts_with("table netdev rvsd\ndelete table netdev rvsd\n"));
    }
}
