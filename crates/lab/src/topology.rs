//! Building the three topologies: namespaces, veths, bridges, addresses, routes,
//! sysctls, offloads, and a reachability check at the end.
//!
//! ```text
//! NAT    cli eth0 203.0.113.2 ── eth0 203.0.113.1  dir  eth1 198.51.100.1 ── sw br0 ── rsN eth0 198.51.100.1N
//!        (gw .1)                  ip_forward=1                                         (gw 198.51.100.1)
//!
//! DR     cli eth0 ── eth0 203.0.113.1  rt  eth1 198.51.100.254 ── sw br0 ─┬─ dir eth0 198.51.100.1 (gw .254)
//!                    route VIP via 198.51.100.1                            └─ rsN eth0 198.51.100.1N (gw .254),
//!                                                                             VIP on lo, arp_ignore=1, arp_announce=2
//!
//! TUN    cli eth0 ── eth0 203.0.113.1  rt  eth1 198.51.100.62/26 ── sw br0 ── dir eth0 198.51.100.1/26 (gw .62)
//!                    route VIP via .1      eth2 198.51.100.126/26 ── sw br1 ── rsN eth0 198.51.100.7N/26 (gw .126),
//!                    rp_filter=0                                              VIP on lo, tunnel agent, rp_filter=0
//! ```
//!
//! With two directors (failover; NAT and DR, IPv4), the addresses the single director
//! holds float (VRRP puts them on the master) and each director has its own:
//!
//! ```text
//! NAT2   cli eth0 203.0.113.2 (gw .1) ── sw brc ─┬─ dir1 eth0 203.0.113.11, eth1 198.51.100.2 ─┬─ sw br0 ── rsN (gw 198.51.100.1)
//!                                                └─ dir2 eth0 203.0.113.12, eth1 198.51.100.3 ─┘
//!        floating: 203.0.113.1 (client side), 198.51.100.1 (server side); ip_forward=1 on both
//!
//! DR2    cli ── rt (route VIP via 198.51.100.1) ── sw br0 ─┬─ dir1 eth0 198.51.100.2 (gw .254)
//!                                                          ├─ dir2 eth0 198.51.100.3 (gw .254)
//!                                                          └─ rsN (gw .254, VIP on lo)
//!        floating: 198.51.100.1 (the DIP the router sends the VIP to)
//! ```
//!
//! IPv6 (when asked): client 2001:db8:c::2/64 (gw ::1); servers 2001:db8:5::1N/64
//! (::7N in TUN); the director 2001:db8:c::1 and 2001:db8:5::1 (NAT), 2001:db8:5::1
//! (DR), 2001:db8:d::1 (TUN, router 2001:db8:d::fe); routers ::fe on the server side;
//! VIP6 2001:db8:a::10 routed like the VIP. Addresses are added without DAD.

use crate::error::{LabError, Result};
use crate::lab::Lab;
use crate::netns::{self, ip, set_sysctls};
use crate::process::run_with_timeout;
use crate::spec::{
    director_client_ip, director_server_ip, Method, CLIENT_GW, CLIENT_GW6, CLIENT_IP, CLIENT_IP6,
    DIP, VIP, VIP6,
};

/// Attempts of each reachability ping (1 packet, 2 s each).
const PING_TRIES: usize = 3;

/// Whether `program` is an executable file in a `PATH` directory.
fn on_path(program: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| {
            dir.join(program)
                .metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
    })
}

/// The tools this spec needs, each checked before anything is built.
fn preflight(spec: &crate::spec::LabSpec) -> Result<()> {
    let mut tools = vec!["ip", "ping", "curl"];
    if spec.offloads_off || spec.hosts_full_checksums {
        tools.push("ethtool");
    }
    if spec.http {
        tools.push("nginx");
    }
    let missing: Vec<&str> = tools.into_iter().filter(|t| !on_path(t)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(LabError::NotFound {
        what: missing.join(", "),
        hint: "install the lab's tools with scripts/deps.sh".to_owned(),
    })
}

impl Lab {
    pub(crate) fn build_topology(&mut self) -> Result<()> {
        preflight(&self.spec)?;
        let mut roles = vec![self.client.clone()];
        roles.extend(self.directors.iter().cloned());
        roles.extend(self.router.clone());
        roles.push(self.switch.clone());
        roles.extend(self.real_servers.iter().map(|rs| rs.ns.clone()));
        for ns in roles {
            if std::path::Path::new("/run/netns").join(&ns).exists() {
                // A leftover of a dead process that had our PID: ours to remove.
                netns::kill_all_inside(&ns);
                netns::delete(&ns)?;
            }
            netns::create(&ns)?;
            self.namespaces.push(ns.clone());
            self.base_sysctls(&ns)?;
        }
        match (self.spec.method, self.directors.len()) {
            (Method::Nat, 1) => self.build_nat()?,
            (Method::Route, 1) => self.build_route()?,
            (Method::Tunnel, 1) => self.build_tunnel()?,
            (Method::Nat, _) => self.build_nat_pair()?,
            (Method::Route, _) => self.build_route_pair()?,
            (Method::Tunnel, _) => {
                return Err(LabError::invalid("no two-director tunnel topology"));
            }
        }
        self.set_offloads()?;
        self.set_backend_mtu()?;
        self.check_reachability()
    }

    /// The spec's backend MTU on every veth end but the client's link (bridges follow
    /// their ports).
    fn set_backend_mtu(&self) -> Result<()> {
        let Some(mtu) = self.spec.backend_mtu else {
            return Ok(());
        };
        let gateway = self.router.as_deref().unwrap_or(&self.director);
        let mtu = mtu.to_string();
        for (ns, iface) in &self.veths {
            let client_link = *ns == self.client || (ns == gateway && iface == "eth0");
            if !client_link {
                ip(&["-n", ns, "link", "set", iface, "mtu", &mtu])?;
            }
        }
        Ok(())
    }

    /// Sysctls set before any interface exists, so new interfaces inherit them.
    fn base_sysctls(&self, ns: &str) -> Result<()> {
        let v6 = self.spec.ipv6 && ns != self.switch;
        let mut settings = vec![
            ("net.ipv4.conf.all.rp_filter", "0"),
            ("net.ipv4.conf.default.rp_filter", "0"),
        ];
        if v6 {
            settings.extend([
                ("net.ipv6.conf.all.disable_ipv6", "0"),
                ("net.ipv6.conf.default.disable_ipv6", "0"),
                ("net.ipv6.conf.all.accept_dad", "0"),
                ("net.ipv6.conf.default.accept_dad", "0"),
                ("net.ipv6.conf.all.accept_ra", "0"),
                ("net.ipv6.conf.default.accept_ra", "0"),
            ]);
        } else {
            // No router solicitations or DAD chatter in captures.
            settings.extend([
                ("net.ipv6.conf.all.disable_ipv6", "1"),
                ("net.ipv6.conf.default.disable_ipv6", "1"),
            ]);
        }
        set_sysctls(ns, &settings)
    }

    /// A veth pair, each end named and placed in its namespace, both up.
    fn veth(&mut self, a_ns: &str, a_if: &str, b_ns: &str, b_if: &str) -> Result<()> {
        ip(&[
            "link", "add", a_if, "netns", a_ns, "type", "veth", "peer", "name", b_if, "netns", b_ns,
        ])?;
        for (ns, iface) in [(a_ns, a_if), (b_ns, b_if)] {
            ip(&["-n", ns, "link", "set", iface, "up"])?;
            self.veths.push((ns.to_owned(), iface.to_owned()));
        }
        Ok(())
    }

    fn bridge(&self, name: &str) -> Result<()> {
        let sw = self.switch.as_str();
        ip(&["-n", sw, "link", "add", name, "type", "bridge"])?;
        ip(&["-n", sw, "link", "set", name, "up"])?;
        Ok(())
    }

    /// A veth from `ns`'s `iface` to a new port `port` of `bridge`.
    fn plug(&mut self, ns: &str, iface: &str, port: &str, bridge: &str) -> Result<()> {
        let sw = self.switch.clone();
        self.veth(ns, iface, &sw, port)?;
        ip(&["-n", &sw, "link", "set", port, "master", bridge])?;
        Ok(())
    }

    fn addr(&self, ns: &str, iface: &str, cidr: &str) -> Result<()> {
        if cidr.contains(':') {
            ip(&["-n", ns, "addr", "add", cidr, "dev", iface, "nodad"])?;
        } else {
            ip(&["-n", ns, "addr", "add", cidr, "dev", iface])?;
        }
        Ok(())
    }

    fn route(&self, ns: &str, dst: &str, via: &str) -> Result<()> {
        let family = if via.contains(':') { "-6" } else { "-4" };
        ip(&["-n", ns, family, "route", "add", dst, "via", via])?;
        Ok(())
    }

    /// Client: `eth0` with its addresses and the default route via `CLIENT_GW`.
    fn client_side(&self) -> Result<()> {
        let cli = self.client.as_str();
        self.addr(cli, "eth0", &format!("{CLIENT_IP}/24"))?;
        self.route(cli, "default", &CLIENT_GW.to_string())?;
        if self.spec.ipv6 {
            self.addr(cli, "eth0", &format!("{CLIENT_IP6}/64"))?;
            self.route(cli, "default", &CLIENT_GW6.to_string())?;
        }
        Ok(())
    }

    /// Real servers: `eth0` on `bridge` with `prefix_len`, default routes via `gw`/`gw6`,
    /// and for DR and tunnel the VIPs on `lo` with ARP kept quiet.
    fn real_server_side(
        &mut self,
        bridge: &str,
        prefix_len: u8,
        gw: &str,
        gw6: &str,
    ) -> Result<()> {
        let servers = self.real_servers.clone();
        for rs in &servers {
            self.plug(&rs.ns, "eth0", &rs.name, bridge)?;
            self.addr(&rs.ns, "eth0", &format!("{}/{prefix_len}", rs.ip))?;
            self.route(&rs.ns, "default", gw)?;
            if let Some(ip6) = rs.ip6 {
                self.addr(&rs.ns, "eth0", &format!("{ip6}/64"))?;
                self.route(&rs.ns, "default", gw6)?;
            }
            if self.spec.method != Method::Nat {
                self.addr(&rs.ns, "lo", &format!("{VIP}/32"))?;
                if self.spec.ipv6 {
                    self.addr(&rs.ns, "lo", &format!("{VIP6}/128"))?;
                }
                // The VIP is the director's on the wire: never answer or announce ARP
                // for it (the effective value is the larger of "all" and the device's).
                set_sysctls(
                    &rs.ns,
                    &[
                        ("net.ipv4.conf.all.arp_ignore", "1"),
                        ("net.ipv4.conf.all.arp_announce", "2"),
                    ],
                )?;
            }
        }
        Ok(())
    }

    fn forwarding(&self, ns: &str) -> Result<()> {
        let mut settings = vec![
            ("net.ipv4.ip_forward", "1"),
            ("net.ipv4.conf.all.send_redirects", "0"),
            ("net.ipv4.conf.default.send_redirects", "0"),
        ];
        if self.spec.ipv6 {
            settings.push(("net.ipv6.conf.all.forwarding", "1"));
        }
        set_sysctls(ns, &settings)
    }

    fn build_nat(&mut self) -> Result<()> {
        let (cli, dir) = (self.client.clone(), self.director.clone());
        self.veth(&cli, "eth0", &dir, "eth0")?;
        self.bridge("br0")?;
        self.plug(&dir, "eth1", "dir", "br0")?;
        self.client_side()?;
        self.addr(&dir, "eth0", &format!("{CLIENT_GW}/24"))?;
        self.addr(&dir, "eth1", &format!("{DIP}/24"))?;
        if self.spec.ipv6 {
            self.addr(&dir, "eth0", &format!("{CLIENT_GW6}/64"))?;
            self.addr(&dir, "eth1", "2001:db8:5::1/64")?;
        }
        self.forwarding(&dir)?;
        self.real_server_side("br0", 24, &DIP.to_string(), "2001:db8:5::1")
    }

    fn build_route(&mut self) -> Result<()> {
        let (cli, dir) = (self.client.clone(), self.director.clone());
        let rt = self
            .router
            .clone()
            .ok_or_else(|| LabError::invalid("DR needs a router"))?;
        self.veth(&cli, "eth0", &rt, "eth0")?;
        self.bridge("br0")?;
        self.plug(&rt, "eth1", "rt", "br0")?;
        self.plug(&dir, "eth0", "dir", "br0")?;
        self.client_side()?;
        self.addr(&rt, "eth0", &format!("{CLIENT_GW}/24"))?;
        self.addr(&rt, "eth1", "198.51.100.254/24")?;
        self.route(&rt, &format!("{VIP}/32"), &DIP.to_string())?;
        self.addr(&dir, "eth0", &format!("{DIP}/24"))?;
        self.route(&dir, "default", "198.51.100.254")?;
        if self.spec.ipv6 {
            self.addr(&rt, "eth0", &format!("{CLIENT_GW6}/64"))?;
            self.addr(&rt, "eth1", "2001:db8:5::fe/64")?;
            self.route(&rt, &format!("{VIP6}/128"), "2001:db8:5::1")?;
            self.addr(&dir, "eth0", "2001:db8:5::1/64")?;
            self.route(&dir, "default", "2001:db8:5::fe")?;
        }
        self.forwarding(&rt)?;
        set_sysctls(&dir, &[("net.ipv4.conf.all.send_redirects", "0")])?;
        self.real_server_side("br0", 24, "198.51.100.254", "2001:db8:5::fe")
    }

    /// NAT with two directors: a client-side bridge and the server-side bridge, each
    /// director on both; the gateways float (see the module documentation).
    fn build_nat_pair(&mut self) -> Result<()> {
        let cli = self.client.clone();
        self.bridge("brc")?;
        self.bridge("br0")?;
        self.plug(&cli, "eth0", "cli", "brc")?;
        self.client_side()?;
        for (at, dir) in self.directors.clone().iter().enumerate() {
            let i = at + 1;
            self.plug(dir, "eth0", &format!("dir{i}c"), "brc")?;
            self.plug(dir, "eth1", &format!("dir{i}"), "br0")?;
            self.addr(dir, "eth0", &format!("{}/24", director_client_ip(i)))?;
            self.addr(dir, "eth1", &format!("{}/24", director_server_ip(i)))?;
            self.forwarding(dir)?;
        }
        self.real_server_side("br0", 24, &DIP.to_string(), "2001:db8:5::1")
    }

    /// DR with two directors on the one LAN; the router sends the VIP to the floating
    /// DIP.
    fn build_route_pair(&mut self) -> Result<()> {
        let cli = self.client.clone();
        let rt = self
            .router
            .clone()
            .ok_or_else(|| LabError::invalid("DR needs a router"))?;
        self.veth(&cli, "eth0", &rt, "eth0")?;
        self.bridge("br0")?;
        self.plug(&rt, "eth1", "rt", "br0")?;
        self.client_side()?;
        self.addr(&rt, "eth0", &format!("{CLIENT_GW}/24"))?;
        self.addr(&rt, "eth1", "198.51.100.254/24")?;
        self.route(&rt, &format!("{VIP}/32"), &DIP.to_string())?;
        self.forwarding(&rt)?;
        for (at, dir) in self.directors.clone().iter().enumerate() {
            let i = at + 1;
            self.plug(dir, "eth0", &format!("dir{i}"), "br0")?;
            self.addr(dir, "eth0", &format!("{}/24", director_server_ip(i)))?;
            self.director_routes(dir)?;
            set_sysctls(dir, &[("net.ipv4.conf.all.send_redirects", "0")])?;
        }
        self.real_server_side("br0", 24, "198.51.100.254", "2001:db8:5::fe")
    }

    /// The routes of a director that go away when its links go down (its default
    /// route in DR and TUN); idempotent.
    pub(crate) fn director_routes(&self, ns: &str) -> Result<()> {
        let gw = match self.spec.method {
            Method::Nat => return Ok(()),
            Method::Route => "198.51.100.254",
            Method::Tunnel => "198.51.100.62",
        };
        ip(&["-n", ns, "-4", "route", "replace", "default", "via", gw])?;
        if self.spec.ipv6 {
            let gw6 = match self.spec.method {
                Method::Route => "2001:db8:5::fe",
                _ => "2001:db8:d::fe",
            };
            ip(&["-n", ns, "-6", "route", "replace", "default", "via", gw6])?;
        }
        Ok(())
    }

    fn build_tunnel(&mut self) -> Result<()> {
        let (cli, dir) = (self.client.clone(), self.director.clone());
        let rt = self
            .router
            .clone()
            .ok_or_else(|| LabError::invalid("TUN needs a router"))?;
        self.veth(&cli, "eth0", &rt, "eth0")?;
        self.bridge("br0")?;
        self.bridge("br1")?;
        self.plug(&rt, "eth1", "rt0", "br0")?;
        self.plug(&dir, "eth0", "dir", "br0")?;
        self.plug(&rt, "eth2", "rt1", "br1")?;
        self.client_side()?;
        self.addr(&rt, "eth0", &format!("{CLIENT_GW}/24"))?;
        self.addr(&rt, "eth1", "198.51.100.62/26")?;
        self.addr(&rt, "eth2", "198.51.100.126/26")?;
        self.route(&rt, &format!("{VIP}/32"), &DIP.to_string())?;
        self.addr(&dir, "eth0", &format!("{DIP}/26"))?;
        self.route(&dir, "default", "198.51.100.62")?;
        if self.spec.ipv6 {
            self.addr(&rt, "eth0", &format!("{CLIENT_GW6}/64"))?;
            self.addr(&rt, "eth1", "2001:db8:d::fe/64")?;
            self.addr(&rt, "eth2", "2001:db8:5::fe/64")?;
            self.route(&rt, &format!("{VIP6}/128"), "2001:db8:d::1")?;
            self.addr(&dir, "eth0", "2001:db8:d::1/64")?;
            self.route(&dir, "default", "2001:db8:d::fe")?;
        }
        // Replies leave the servers from the VIP, which the router routes towards the
        // director: a strict reverse-path check on eth2 would drop them. (rp_filter is 0
        // in every lab namespace; said again here because it matters here.)
        self.forwarding(&rt)?;
        set_sysctls(&rt, &[("net.ipv4.conf.all.rp_filter", "0")])?;
        self.real_server_side("br1", 26, "198.51.100.126", "2001:db8:5::fe")
    }

    /// TSO/GSO/GRO off on every veth (frames stay MTU-sized for an AF_PACKET director);
    /// transmit checksumming off on the hosts' interfaces if the spec asks.
    fn set_offloads(&self) -> Result<()> {
        for (ns, iface) in &self.veths {
            let host = *ns == self.client || self.real_servers.iter().any(|rs| rs.ns == *ns);
            let mut args = vec!["ethtool", "-K", iface.as_str()];
            if self.spec.offloads_off {
                args.extend(["tso", "off", "gso", "off", "gro", "off"]);
            }
            if host && self.spec.hosts_full_checksums {
                args.extend(["tx", "off"]);
            }
            if args.len() == 3 {
                continue;
            }
            let mut full = vec!["ip", "netns", "exec", ns.as_str()];
            full.extend(args);
            let out = run_with_timeout(&full, netns::IP_TIMEOUT)?;
            crate::process::check_output(&full, &out)?;
        }
        Ok(())
    }

    /// Pings along every path the topology must have (also fills the neighbour
    /// caches, the director's included).
    fn check_reachability(&self) -> Result<()> {
        if self.directors.len() > 1 {
            return self.check_pair_reachability();
        }
        let mut paths: Vec<(&str, String)> = Vec::new();
        let cli = self.client.as_str();
        let dir = self.director.as_str();
        paths.push((cli, CLIENT_GW.to_string()));
        if self.spec.method != Method::Nat {
            paths.push((cli, DIP.to_string()));
        }
        for rs in &self.real_servers {
            paths.push((dir, rs.ip.to_string()));
            paths.push((cli, rs.ip.to_string()));
        }
        if self.spec.ipv6 {
            paths.push((cli, CLIENT_GW6.to_string()));
            for rs in &self.real_servers {
                if let Some(ip6) = rs.ip6 {
                    paths.push((dir, ip6.to_string()));
                    paths.push((cli, ip6.to_string()));
                }
            }
        }
        for (from, to) in paths {
            self.ping(from, &to)?;
        }
        Ok(())
    }

    /// Two directors: the floating addresses are not up yet (VRRP puts them up), so
    /// only the fixed ones are checked.
    fn check_pair_reachability(&self) -> Result<()> {
        let mut paths: Vec<(&str, String)> = Vec::new();
        let cli = self.client.as_str();
        if self.spec.method == Method::Route {
            paths.push((cli, CLIENT_GW.to_string()));
            for rs in &self.real_servers {
                paths.push((cli, rs.ip.to_string()));
            }
        }
        for (at, dir) in self.directors.iter().enumerate() {
            let i = at + 1;
            match self.spec.method {
                Method::Nat => paths.push((cli, director_client_ip(i).to_string())),
                _ => paths.push((cli, director_server_ip(i).to_string())),
            }
            for rs in &self.real_servers {
                paths.push((dir.as_str(), rs.ip.to_string()));
            }
        }
        for (from, to) in paths {
            self.ping(from, &to)?;
        }
        Ok(())
    }

    fn ping(&self, from: &str, to: &str) -> Result<()> {
        let args = [
            "ip", "netns", "exec", from, "ping", "-c", "1", "-W", "2", "-q", to,
        ];
        let mut last = String::new();
        for _ in 0..PING_TRIES {
            let out = run_with_timeout(&args, std::time::Duration::from_secs(5))?;
            if out.status.success() {
                return Ok(());
            }
            last = String::from_utf8_lossy(&out.stdout).into_owned();
        }
        let role = from.strip_prefix(&self.prefix).unwrap_or(from);
        Err(LabError::invalid(format!(
            "lab topology check failed: {role} cannot reach {to}\n{}",
            crate::error::tail(&last, 4)
        )))
    }
}
