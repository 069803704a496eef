//! keepalived.conf for the directors of a two-director lab ([`DirectorConf`]): the VRRP
//! instances that float the lab's gateway addresses, the connection sync daemon, and
//! the virtual services. The same text runs rvsd (`rvsd -f`) or, without the virtual
//! servers and the sync daemon, Debian's keepalived (`--vrrp`) as an interoperability
//! peer.
//!
//! - NAT: sync group `G` of `VI_CLI` (eth0, VRID 51, 203.0.113.1/24, the clients'
//!   gateway) and `VI_GW` (eth1, VRID 52, 198.51.100.1/24, the real servers' gateway);
//!   sync on eth1.
//! - DR: `VI_DIP` (eth0, VRID 51, 198.51.100.1/24, where the router sends the VIP);
//!   sync on eth0.

use std::fmt::Write as _;
use std::net::Ipv4Addr;

use crate::spec::{Method, CLIENT_GW, DIP, VIP};

/// The `state` line of the VRRP instances.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InitialState {
    Master,
    Backup,
}

/// One director's keepalived.conf. `DirectorConf::new(method, 1, InitialState::Master,
/// 150)` and adjust the fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirectorConf {
    pub method: Method,
    /// 1-based director index (`router_id dN`).
    pub index: usize,
    pub state: InitialState,
    pub priority: u8,
    /// `nopreempt` (keepalived honours it with `state BACKUP` only).
    pub nopreempt: bool,
    /// `advert_int`, seconds.
    pub advert_int: u32,
    /// `lvs_sync_daemon IFACE INSTANCE` in global_defs.
    pub sync_daemon: bool,
    /// The virtual servers: VIP:port for each of these TCP ports, every real server
    /// with a TCP_CHECK. None for a VRRP-only peer.
    pub service_ports: Vec<u16>,
    /// The real servers' addresses.
    pub real_servers: Vec<Ipv4Addr>,
    /// `lb_algo`.
    pub scheduler: String,
}

impl DirectorConf {
    /// Director `index` of a lab for `method`: the given state and priority, preempt,
    /// advert_int 1, the sync daemon, no virtual servers yet.
    pub fn new(method: Method, index: usize, state: InitialState, priority: u8) -> DirectorConf {
        DirectorConf {
            method,
            index,
            state,
            priority,
            nopreempt: false,
            advert_int: 1,
            sync_daemon: true,
            service_ports: Vec::new(),
            real_servers: Vec::new(),
            scheduler: "rr".to_owned(),
        }
    }

    /// The VRRP instances: (name, interface, VRID, floating address/prefix).
    pub fn instances(&self) -> Vec<(&'static str, &'static str, u8, String)> {
        match self.method {
            Method::Nat => vec![
                ("VI_CLI", "eth0", 51, format!("{CLIENT_GW}/24")),
                ("VI_GW", "eth1", 52, format!("{DIP}/24")),
            ],
            Method::Route | Method::Tunnel => vec![("VI_DIP", "eth0", 51, format!("{DIP}/24"))],
        }
    }

    /// The interface the sync daemon runs on and the instance it follows.
    pub fn sync_interface(&self) -> (&'static str, &'static str) {
        match self.method {
            Method::Nat => ("eth1", "VI_GW"),
            Method::Route | Method::Tunnel => ("eth0", "VI_DIP"),
        }
    }

    /// The configuration text.
    pub fn text(&self) -> String {
        let mut t = String::new();
        let _ = writeln!(
            t,
            "! director {} of the rvs failover lab ({}): written by rvs-lab",
            self.index, self.method
        );
        let _ = writeln!(t, "global_defs {{\n    router_id d{}", self.index);
        if self.sync_daemon {
            let (iface, instance) = self.sync_interface();
            let _ = writeln!(t, "    lvs_sync_daemon {iface} {instance}");
        }
        t.push_str("}\n\n");
        let instances = self.instances();
        if instances.len() > 1 {
            let names: Vec<&str> = instances.iter().map(|(n, ..)| *n).collect();
            let _ = writeln!(
                t,
                "vrrp_sync_group G {{\n    group {{\n        {}\n    }}\n}}\n",
                names.join("\n        ")
            );
        }
        let state = match self.state {
            InitialState::Master => "MASTER",
            InitialState::Backup => "BACKUP",
        };
        for (name, iface, vrid, addr) in &instances {
            let _ = writeln!(t, "vrrp_instance {name} {{");
            let _ = writeln!(t, "    state {state}");
            let _ = writeln!(t, "    interface {iface}");
            let _ = writeln!(t, "    virtual_router_id {vrid}");
            let _ = writeln!(t, "    priority {}", self.priority);
            let _ = writeln!(t, "    advert_int {}", self.advert_int);
            if self.nopreempt {
                t.push_str("    nopreempt\n");
            }
            let _ = writeln!(t, "    virtual_ipaddress {{\n        {addr}\n    }}\n}}\n");
        }
        let kind = match self.method {
            Method::Nat => "NAT",
            Method::Route => "DR",
            Method::Tunnel => "TUN",
        };
        for port in &self.service_ports {
            let _ = writeln!(t, "virtual_server {VIP} {port} {{");
            let _ = writeln!(t, "    delay_loop 2");
            let _ = writeln!(t, "    lb_algo {}", self.scheduler);
            let _ = writeln!(t, "    lb_kind {kind}");
            t.push_str("    protocol TCP\n");
            for rs in &self.real_servers {
                let _ = writeln!(
                    t,
                    "    real_server {rs} {port} {{\n        weight 1\n        TCP_CHECK {{\n            connect_timeout 1\n        }}\n    }}"
                );
            }
            t.push_str("}\n\n");
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nat_directors_float_both_gateways_in_one_sync_group() {
        let mut c = DirectorConf::new(Method::Nat, 2, InitialState::Backup, 100);
        c.nopreempt = true;
        c.service_ports = vec![80, 7000];
        c.real_servers = vec![Ipv4Addr::new(198, 51, 100, 11)];
        let t = c.text();
        assert!(t.contains("router_id d2"), "{t}");
        assert!(t.contains("lvs_sync_daemon eth1 VI_GW"), "{t}");
        assert!(
            t.contains("group {\n        VI_CLI\n        VI_GW\n    }"),
            "{t}"
        );
        assert!(t.contains("virtual_router_id 52"), "{t}");
        assert!(
            t.contains("203.0.113.1/24") && t.contains("198.51.100.1/24"),
            "{t}"
        );
        assert_eq!(t.matches("nopreempt").count(), 2, "{t}");
        assert_eq!(t.matches("state BACKUP").count(), 2, "{t}");
        assert!(t.contains("virtual_server 192.0.2.10 7000 {"), "{t}");
        assert!(t.contains("lb_kind NAT"), "{t}");
        assert!(t.contains("real_server 198.51.100.11 80 {"), "{t}");
        // Braces balance.
        assert_eq!(t.matches('{').count(), t.matches('}').count(), "{t}");
    }

    #[test]
    fn dr_directors_float_the_dip_and_a_vrrp_only_peer_has_no_services() {
        let mut c = DirectorConf::new(Method::Route, 1, InitialState::Master, 150);
        c.sync_daemon = false;
        let t = c.text();
        assert!(t.contains("vrrp_instance VI_DIP {"), "{t}");
        assert!(!t.contains("vrrp_sync_group"), "{t}");
        assert!(!t.contains("lvs_sync_daemon"), "{t}");
        assert!(!t.contains("virtual_server"), "{t}");
        assert!(
            t.contains("state MASTER") && t.contains("priority 150"),
            "{t}"
        );
        assert!(!t.contains("nopreempt"), "{t}");
        assert_eq!(t.matches('{').count(), t.matches('}').count(), "{t}");
    }

    proptest::proptest! {
        /// Whatever the settings, braces balance and every instance is there.
        #[test]
        fn any_settings_give_balanced_text(
            nat in proptest::bool::ANY,
            prio in 1u8..=254,
            ports in proptest::collection::vec(1u16.., 0..3),
            servers in 0usize..4,
            nopreempt in proptest::bool::ANY,
        ) {
            let method = if nat { Method::Nat } else { Method::Route };
            let mut c = DirectorConf::new(method, 1, InitialState::Backup, prio);
            c.nopreempt = nopreempt;
            c.service_ports = ports.clone();
            c.real_servers = (0..servers).map(|i| Ipv4Addr::new(198, 51, 100, 11 + i as u8)).collect();
            let t = c.text();
            proptest::prop_assert_eq!(t.matches('{').count(), t.matches('}').count());
            proptest::prop_assert_eq!(t.matches("vrrp_instance").count(), c.instances().len());
            proptest::prop_assert_eq!(t.matches("virtual_server ").count(), ports.len());
        }
    }
}
