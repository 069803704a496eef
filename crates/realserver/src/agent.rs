//! The tunnel agent: sets the real server up (TUN device, VIPs, sysctls, tunnel
//! sockets), moves decapsulated packets from the tunnel sockets to the TUN device until
//! told to stop, and undoes its changes when dropped.

use std::io;
use std::net::IpAddr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use rvs_io::{Interface, RtNetlink};
use rvs_wire::IpVersion;

use crate::config::{TunnelAgentConfig, VipDevice, MAX_BATCH};
use crate::counters::TunnelCounters;
use crate::filter::{inner_packet, Delivery, DropReason};
use crate::sys::{self, signals, SysctlGuard};

/// Bytes per receive slot: the largest IP packet.
const SLOT: usize = 65536;
/// Receive buffer asked for on each tunnel socket.
const SOCKET_RCVBUF: libc::c_int = 4 << 20;
/// IP protocol numbers of the tunnels (IPPROTO_IPIP, IPPROTO_IPV6).
const PROTO_IPIP: libc::c_int = 4;
const PROTO_IPV6: libc::c_int = 41;
/// Batches read from one socket per wake-up before the others get their turn.
const BATCHES_PER_WAKEUP: usize = 8;

/// One raw socket receiving one kind of tunnel packet.
#[derive(Debug)]
struct TunnelSocket {
    fd: OwnedFd,
    delivery: Delivery,
    what: &'static str,
}

/// A running real-server tunnel agent. See the crate documentation.
#[derive(Debug)]
pub struct TunnelAgent {
    vips: Vec<IpAddr>,
    batch: usize,
    poll_interval: std::time::Duration,
    tun: OwnedFd,
    tun_name: String,
    sockets: Vec<TunnelSocket>,
    pollfds: Vec<libc::pollfd>,
    bufs: Vec<u8>,
    lens: [usize; MAX_BATCH],
    counters: Arc<TunnelCounters>,
    stop: Arc<AtomicBool>,
    /// Addresses this agent added (interface index, address, prefix), removed on drop.
    added: Vec<(u32, IpAddr, u8)>,
    sysctls: SysctlGuard,
    signals: Option<signals::StopOnSignals>,
}

fn with_context(e: io::Error, what: &str) -> io::Error {
    io::Error::new(e.kind(), format!("{what}: {e}"))
}

impl TunnelAgent {
    /// Sets up the real server in the calling thread's network namespace: rp_filter off
    /// (all, default), the TUN device up with rp_filter off, the VIPs on their device,
    /// ARP kept quiet if asked, and the tunnel sockets open. Anything done before a
    /// failure is undone before the error returns.
    pub fn new(cfg: &TunnelAgentConfig) -> io::Result<TunnelAgent> {
        if cfg.vips.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the tunnel agent needs at least one VIP",
            ));
        }
        if cfg.batch == 0 || cfg.batch > MAX_BATCH {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("batch must be 1..={MAX_BATCH}, not {}", cfg.batch),
            ));
        }
        let mut sysctls = SysctlGuard::default();
        // Decapsulated packets come in on the TUN device from clients whose route points
        // elsewhere: strict reverse-path filtering would drop them. The kernel uses the
        // larger of "all" and the device's value, and "default" seeds the new device.
        sysctls.set("net.ipv4.conf.all.rp_filter", "0")?;
        sysctls.set("net.ipv4.conf.default.rp_filter", "0")?;
        let (tun, tun_name) = sys::tun_create(&cfg.tun_name)?;
        // The device (and this sysctl of it) goes away with the descriptor: not restored.
        sys::sysctl_write(&format!("net/ipv4/conf/{tun_name}/rp_filter"), "0")?;
        sys::link_up(&tun_name).map_err(|e| with_context(e, &format!("set {tun_name} up")))?;

        let mut agent = TunnelAgent {
            vips: cfg.vips.clone(),
            batch: cfg.batch,
            poll_interval: cfg.poll_interval,
            tun,
            tun_name,
            sockets: Vec::new(),
            pollfds: Vec::new(),
            bufs: vec![0u8; cfg.batch * SLOT],
            lens: [0; MAX_BATCH],
            counters: Arc::new(TunnelCounters::default()),
            stop: Arc::new(AtomicBool::new(false)),
            added: Vec::new(),
            sysctls,
            signals: None,
        };
        // From here on, dropping `agent` undoes what was done.
        agent.add_vips(cfg.vip_device)?;
        if cfg.quiet_arp && cfg.vip_device != VipDevice::Unmanaged {
            agent.sysctls.set("net.ipv4.conf.all.arp_ignore", "1")?;
            agent.sysctls.set("net.ipv4.conf.all.arp_announce", "2")?;
        }
        agent.open_sockets()?;
        log::info!(
            "tunnel agent up: {} delivers to {} for VIPs {}",
            agent
                .sockets
                .iter()
                .map(|s| s.what)
                .collect::<Vec<_>>()
                .join(", "),
            agent.tun_name,
            agent
                .vips
                .iter()
                .map(IpAddr::to_string)
                .collect::<Vec<_>>()
                .join(" ")
        );
        Ok(agent)
    }

    fn add_vips(&mut self, device: VipDevice) -> io::Result<()> {
        let name = match device {
            VipDevice::Loopback => "lo",
            VipDevice::Tun => self.tun_name.as_str(),
            VipDevice::Unmanaged => return Ok(()),
        };
        let index = Interface::by_name(name)
            .map_err(|e| with_context(e, &format!("interface {name}")))?
            .index;
        let mut netlink = RtNetlink::open()?;
        for &vip in &self.vips {
            let prefix = if vip.is_ipv4() { 32 } else { 128 };
            match netlink.addr_add(index, vip, prefix) {
                Ok(()) => {
                    // Addresses on the TUN device go with it; only the others are ours
                    // to remove.
                    if device == VipDevice::Loopback {
                        self.added.push((index, vip, prefix));
                    }
                }
                // Configured by someone else: use it, and leave it there on exit.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(with_context(e, &format!("add {vip}/{prefix} to {name}"))),
            }
        }
        Ok(())
    }

    fn open_sockets(&mut self) -> io::Result<()> {
        let want_v4 = self.vips.iter().any(IpAddr::is_ipv4);
        let want_v6 = self.vips.iter().any(IpAddr::is_ipv6);
        // (domain, protocol, what arrives, label, required)
        let mut kinds = Vec::new();
        if want_v4 {
            kinds.push((
                libc::AF_INET,
                PROTO_IPIP,
                Delivery::WithOuterIpv4,
                "IPv4-in-IPv4",
                true,
            ));
            kinds.push((
                libc::AF_INET6,
                PROTO_IPIP,
                Delivery::PayloadOnly(IpVersion::V4),
                "IPv4-in-IPv6",
                false,
            ));
        }
        if want_v6 {
            kinds.push((
                libc::AF_INET6,
                PROTO_IPV6,
                Delivery::PayloadOnly(IpVersion::V6),
                "IPv6-in-IPv6",
                true,
            ));
            kinds.push((
                libc::AF_INET,
                PROTO_IPV6,
                Delivery::WithOuterIpv4,
                "IPv6-in-IPv4",
                false,
            ));
        }
        for (domain, proto, delivery, what, required) in kinds {
            match sys::raw_socket(domain, proto, SOCKET_RCVBUF) {
                Ok(fd) => self.sockets.push(TunnelSocket { fd, delivery, what }),
                Err(e) if !required => log::warn!("no {what} tunnel socket: {e}"),
                Err(e) => return Err(with_context(e, &format!("{what} raw socket"))),
            }
        }
        self.pollfds = self
            .sockets
            .iter()
            .map(|s| libc::pollfd {
                fd: s.fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        Ok(())
    }

    /// The TUN device's name.
    pub fn tun_name(&self) -> &str {
        &self.tun_name
    }

    /// The VIPs this agent delivers to.
    pub fn vips(&self) -> &[IpAddr] {
        &self.vips
    }

    /// The live counters (shared; read them from any thread).
    pub fn counters(&self) -> Arc<TunnelCounters> {
        Arc::clone(&self.counters)
    }

    /// A flag that makes [`TunnelAgent::run`] return within one poll interval when set
    /// (from any thread).
    pub fn stop_handle(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.stop)
    }

    /// Also stop on SIGTERM and SIGINT (process-wide handlers, put back when the agent
    /// is dropped). For a process that runs the agent and nothing else.
    pub fn stop_on_signals(&mut self) -> io::Result<()> {
        if self.signals.is_none() {
            self.signals = Some(signals::StopOnSignals::install()?);
        }
        Ok(())
    }

    fn stop_requested(&self) -> bool {
        self.stop.load(Ordering::Relaxed) || (self.signals.is_some() && signals::stop_requested())
    }

    /// Moves packets until stopped (stop handle or, if enabled, a signal). Returns early
    /// only on an error of the sockets themselves; drops are counted, not returned.
    pub fn run(&mut self) -> io::Result<()> {
        while !self.stop_requested() {
            self.poll_once()?;
        }
        Ok(())
    }

    /// Waits at most one poll interval for tunnel packets and handles what arrived.
    /// Returns how many packets were read.
    pub fn poll_once(&mut self) -> io::Result<usize> {
        if sys::poll(&mut self.pollfds, self.poll_interval)? == 0 {
            return Ok(0);
        }
        let mut total = 0;
        for i in 0..self.sockets.len() {
            let revents = self.pollfds[i].revents;
            self.pollfds[i].revents = 0;
            if revents & libc::POLLIN == 0 {
                continue;
            }
            for _ in 0..BATCHES_PER_WAKEUP {
                let n = self.drain_batch(i)?;
                total += n;
                if n < self.batch {
                    break;
                }
            }
        }
        Ok(total)
    }

    /// Reads one batch from socket `i` and delivers it. Returns how many were read.
    fn drain_batch(&mut self, i: usize) -> io::Result<usize> {
        let socket = &self.sockets[i];
        let n = sys::recv_batch(
            &socket.fd,
            &mut self.bufs,
            SLOT,
            &mut self.lens[..self.batch],
        )?;
        for k in 0..n {
            self.counters.count_received();
            let len = self.lens[k];
            if len > SLOT {
                self.counters.count_dropped(DropReason::OuterMalformed);
                continue;
            }
            let packet = &self.bufs[k * SLOT..k * SLOT + len];
            match inner_packet(packet, socket.delivery, &self.vips) {
                Ok(range) => match sys::write_packet(&self.tun, &packet[range]) {
                    Ok(()) => self.counters.count_delivered(),
                    Err(e) => {
                        log::debug!("write to {}: {e}", self.tun_name);
                        self.counters.count_dropped(DropReason::TunWrite);
                    }
                },
                Err(reason) => self.counters.count_dropped(reason),
            }
        }
        Ok(n)
    }
}

impl Drop for TunnelAgent {
    fn drop(&mut self) {
        if !self.added.is_empty() {
            match RtNetlink::open() {
                Ok(mut netlink) => {
                    for (index, vip, prefix) in self.added.drain(..) {
                        if let Err(e) = netlink.addr_del(index, vip, prefix) {
                            log::warn!("could not remove {vip}/{prefix}: {e}");
                        }
                    }
                }
                Err(e) => log::warn!("could not remove the VIPs: {e}"),
            }
        }
        self.sysctls.restore();
        // The TUN device goes when `tun` is closed; the signal handlers when `signals`
        // drops.
    }
}
