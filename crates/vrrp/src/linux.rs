//! The Linux adapter: raw IPPROTO_VRRP sockets on one interface, VIP add/remove
//! through rtnetlink, gratuitous ARP / unsolicited NA through AF_PACKET, notify
//! scripts, and [`run_instance`], a small blocking loop that drives one [`Instance`].
//! rvsd will integrate the pieces in its own loop; everything here works in the calling
//! thread's network namespace.
//!
//! Two raw sockets per instance: the receiving one is not bound to an address (a raw
//! socket bound to an address only sees packets addressed to it, not to 224.0.0.18)
//! and reads the IPv4 header (or the IPv6 hop limit and destination as ancillary data)
//! to check the TTL rule; the sending one is bound to the instance's local address so
//! the source the v3 checksum covers is the one the kernel puts in the header, and
//! drops everything it would receive with a one-instruction BPF filter.

use std::ffi::CString;
use std::io;
use std::mem::{size_of, MaybeUninit};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rvs_io::{Interface, RtNetlink};
use rvs_wire::MacAddr;

use crate::instance::{Action, Event, Instance, State, Stats};
use crate::packet::{
    parse, parse_ignoring_ttl, Advert, VrrpError, IPPROTO_VRRP, MAX_ADVERT_LEN, VRRP_GROUP_V4,
    VRRP_GROUP_V6, VRRP_TTL,
};

/// Receive buffer: the largest advert behind an IPv4 header with options.
const RECV_BUF: usize = 60 + MAX_ADVERT_LEN + 8;
/// How often [`run_instance`] looks at the stop flag and the interface's link state.
const HOUSEKEEPING: Duration = Duration::from_millis(100);

fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

fn socket(domain: libc::c_int, ty: libc::c_int, proto: libc::c_int) -> io::Result<OwnedFd> {
    // SAFETY: plain syscall with integer arguments.
    let fd = check(unsafe { libc::socket(domain, ty | libc::SOCK_CLOEXEC, proto) })?;
    // SAFETY: `fd` was just returned by socket(2) and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn setsockopt<T: Copy>(
    fd: &OwnedFd,
    level: libc::c_int,
    name: libc::c_int,
    value: &T,
) -> io::Result<()> {
    // SAFETY: `value` points to size_of::<T>() readable bytes for the whole call; the
    // kernel copies them.
    check(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (value as *const T).cast(),
            size_of::<T>() as libc::socklen_t,
        )
    })
    .map(drop)
}

fn bind_to_device(fd: &OwnedFd, ifname: &str) -> io::Result<()> {
    let name = CString::new(ifname).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let bytes = name.as_bytes_with_nul();
    // SAFETY: `bytes` is readable for its length during the call.
    check(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_BINDTODEVICE,
            bytes.as_ptr().cast(),
            bytes.len() as libc::socklen_t,
        )
    })
    .map(drop)
}

/// Attach a classic BPF program that accepts nothing: the sending socket must not
/// queue the VRRP traffic it would otherwise receive.
fn drop_all_input(fd: &OwnedFd) -> io::Result<()> {
    let mut insn = [libc::sock_filter {
        code: 0x06, // BPF_RET | BPF_K
        jt: 0,
        jf: 0,
        k: 0,
    }];
    let prog = libc::sock_fprog {
        len: 1,
        filter: insn.as_mut_ptr(),
    };
    setsockopt(fd, libc::SOL_SOCKET, libc::SO_ATTACH_FILTER, &prog)
}

fn sockaddr_v4(addr: Ipv4Addr) -> libc::sockaddr_in {
    libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: 0,
        sin_addr: libc::in_addr {
            s_addr: u32::from_ne_bytes(addr.octets()),
        },
        sin_zero: [0; 8],
    }
}

fn sockaddr_v6(addr: Ipv6Addr, scope: u32) -> libc::sockaddr_in6 {
    libc::sockaddr_in6 {
        sin6_family: libc::AF_INET6 as libc::sa_family_t,
        sin6_port: 0,
        sin6_flowinfo: 0,
        sin6_addr: libc::in6_addr {
            s6_addr: addr.octets(),
        },
        // Only link-local addresses need the scope; others must not carry one.
        sin6_scope_id: if addr.is_unicast_link_local() || addr.is_multicast() {
            scope
        } else {
            0
        },
    }
}

/// Run `f` with the socket address of `addr` as a (pointer, length) pair.
fn with_sockaddr<R>(
    addr: IpAddr,
    scope: u32,
    f: impl FnOnce(*const libc::sockaddr, libc::socklen_t) -> R,
) -> R {
    match addr {
        IpAddr::V4(a) => {
            let sa = sockaddr_v4(a);
            f(
                (&sa as *const libc::sockaddr_in).cast(),
                size_of::<libc::sockaddr_in>() as libc::socklen_t,
            )
        }
        IpAddr::V6(a) => {
            let sa = sockaddr_v6(a, scope);
            f(
                (&sa as *const libc::sockaddr_in6).cast(),
                size_of::<libc::sockaddr_in6>() as libc::socklen_t,
            )
        }
    }
}

/// One received VRRP packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Received {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// TTL (IPv4) or hop limit (IPv6) it arrived with.
    pub ttl: u8,
    /// The VRRP bytes within the receive buffer.
    pub payload: std::ops::Range<usize>,
}

/// The raw VRRP sockets of one instance on one interface.
#[derive(Debug)]
pub struct VrrpSocket {
    rx: OwnedFd,
    tx: OwnedFd,
    ifindex: u32,
    local: IpAddr,
    /// Where adverts go: the multicast group, or the unicast peers.
    destinations: Vec<IpAddr>,
}

impl VrrpSocket {
    /// Open on interface `ifname`, sending from `local` (an address of that interface)
    /// to the VRRP group of its family, or to `unicast_peers` when not empty.
    pub fn open(ifname: &str, local: IpAddr, unicast_peers: &[IpAddr]) -> io::Result<VrrpSocket> {
        let iface = Interface::by_name(ifname)?;
        let ifindex = iface.index;
        let multicast = unicast_peers.is_empty();
        let proto = libc::c_int::from(IPPROTO_VRRP);
        let ttl: libc::c_int = libc::c_int::from(VRRP_TTL);
        let off: libc::c_int = 0;
        let on: libc::c_int = 1;
        let (rx, tx) = match local {
            IpAddr::V4(_) => {
                let rx = socket(libc::AF_INET, libc::SOCK_RAW, proto)?;
                let tx = socket(libc::AF_INET, libc::SOCK_RAW, proto)?;
                let mreq = libc::ip_mreqn {
                    imr_multiaddr: libc::in_addr {
                        s_addr: u32::from_ne_bytes(VRRP_GROUP_V4.octets()),
                    },
                    imr_address: libc::in_addr { s_addr: 0 },
                    imr_ifindex: ifindex as libc::c_int,
                };
                if multicast {
                    setsockopt(&rx, libc::IPPROTO_IP, libc::IP_ADD_MEMBERSHIP, &mreq)?;
                }
                let ifreq = libc::ip_mreqn {
                    imr_multiaddr: libc::in_addr { s_addr: 0 },
                    ..mreq
                };
                setsockopt(&tx, libc::IPPROTO_IP, libc::IP_MULTICAST_IF, &ifreq)?;
                setsockopt(&tx, libc::IPPROTO_IP, libc::IP_MULTICAST_TTL, &ttl)?;
                setsockopt(&tx, libc::IPPROTO_IP, libc::IP_TTL, &ttl)?;
                setsockopt(&tx, libc::IPPROTO_IP, libc::IP_MULTICAST_LOOP, &off)?;
                (rx, tx)
            }
            IpAddr::V6(_) => {
                let rx = socket(libc::AF_INET6, libc::SOCK_RAW, proto)?;
                let tx = socket(libc::AF_INET6, libc::SOCK_RAW, proto)?;
                setsockopt(&rx, libc::IPPROTO_IPV6, libc::IPV6_RECVHOPLIMIT, &on)?;
                setsockopt(&rx, libc::IPPROTO_IPV6, libc::IPV6_RECVPKTINFO, &on)?;
                if multicast {
                    let mreq = libc::ipv6_mreq {
                        ipv6mr_multiaddr: libc::in6_addr {
                            s6_addr: VRRP_GROUP_V6.octets(),
                        },
                        ipv6mr_interface: ifindex,
                    };
                    setsockopt(&rx, libc::IPPROTO_IPV6, libc::IPV6_ADD_MEMBERSHIP, &mreq)?;
                }
                let index = ifindex as libc::c_int;
                setsockopt(&tx, libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_IF, &index)?;
                setsockopt(&tx, libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_HOPS, &ttl)?;
                setsockopt(&tx, libc::IPPROTO_IPV6, libc::IPV6_UNICAST_HOPS, &ttl)?;
                setsockopt(&tx, libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_LOOP, &off)?;
                (rx, tx)
            }
        };
        bind_to_device(&rx, ifname)?;
        bind_to_device(&tx, ifname)?;
        drop_all_input(&tx)?;
        with_sockaddr(local, ifindex, |sa, len| {
            // SAFETY: `sa` points to a socket address of `len` bytes for the call.
            check(unsafe { libc::bind(tx.as_raw_fd(), sa, len) })
        })?;
        let destinations = if multicast {
            vec![match local {
                IpAddr::V4(_) => IpAddr::V4(VRRP_GROUP_V4),
                IpAddr::V6(_) => IpAddr::V6(VRRP_GROUP_V6),
            }]
        } else {
            unicast_peers.to_vec()
        };
        Ok(VrrpSocket {
            rx,
            tx,
            ifindex,
            local,
            destinations,
        })
    }

    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }
    pub fn is_unicast(&self) -> bool {
        !self.destinations.iter().any(IpAddr::is_multicast)
    }

    /// Send `advert` to every destination.
    pub fn send(&self, advert: &Advert) -> io::Result<()> {
        let mut buf = [0u8; MAX_ADVERT_LEN + 8];
        for &dst in &self.destinations {
            let len = advert
                .write(&mut buf, self.local, dst)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
            with_sockaddr(dst, self.ifindex, |sa, salen| {
                // SAFETY: `buf[..len]` is readable and `sa` valid for `salen` bytes.
                let sent = unsafe {
                    libc::sendto(self.tx.as_raw_fd(), buf.as_ptr().cast(), len, 0, sa, salen)
                };
                if sent < 0 {
                    Err(io::Error::last_os_error())
                } else {
                    Ok(())
                }
            })?;
        }
        Ok(())
    }

    /// Wait up to `timeout` for a packet; true when one can be read.
    pub fn wait_readable(&self, timeout: Duration) -> io::Result<bool> {
        let mut pfd = libc::pollfd {
            fd: self.rx.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = timeout.as_millis().min(i32::MAX as u128) as libc::c_int;
        // SAFETY: one valid pollfd for the call.
        match check(unsafe { libc::poll(&mut pfd, 1, ms) }) {
            Ok(n) => Ok(n > 0),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Read one packet without blocking; `None` when there is none.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<Option<Received>> {
        let received = match self.local {
            IpAddr::V4(_) => self.recv_v4(buf),
            IpAddr::V6(_) => self.recv_v6(buf),
        };
        match received {
            Err(e)
                if e.kind() == io::ErrorKind::WouldBlock
                    || e.kind() == io::ErrorKind::Interrupted =>
            {
                Ok(None)
            }
            other => other,
        }
    }

    fn recv_v4(&self, buf: &mut [u8]) -> io::Result<Option<Received>> {
        // SAFETY: `buf` is writable for its length during the call.
        let n = unsafe {
            libc::recv(
                self.rx.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                libc::MSG_DONTWAIT,
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let data = &buf[..n as usize];
        // An IPv4 raw socket delivers the IP header: take TTL and addresses from it and
        // trim to its total length (link-layer padding).
        let Some(hdr) = data.first_chunk::<20>() else {
            return Ok(None);
        };
        let ihl = usize::from(hdr[0] & 0x0F) * 4;
        let total = usize::from(u16::from_be_bytes([hdr[2], hdr[3]]));
        if hdr[0] >> 4 != 4 || ihl < 20 || total < ihl || total > data.len() {
            return Ok(None);
        }
        let src = IpAddr::V4(Ipv4Addr::new(hdr[12], hdr[13], hdr[14], hdr[15]));
        let dst = IpAddr::V4(Ipv4Addr::new(hdr[16], hdr[17], hdr[18], hdr[19]));
        Ok(Some(Received {
            src,
            dst,
            ttl: hdr[8],
            payload: ihl..total,
        }))
    }

    fn recv_v6(&self, buf: &mut [u8]) -> io::Result<Option<Received>> {
        let mut from = MaybeUninit::<libc::sockaddr_in6>::zeroed();
        // u64 elements keep the control buffer aligned for cmsghdr.
        let mut control = [0u64; 16];
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        // SAFETY: msghdr is plain old data; all-zero is valid.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_name = from.as_mut_ptr().cast();
        msg.msg_namelen = size_of::<libc::sockaddr_in6>() as libc::socklen_t;
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = size_of::<[u64; 16]>();
        // SAFETY: every pointer in `msg` refers to a live buffer of the stated length.
        let n = unsafe { libc::recvmsg(self.rx.as_raw_fd(), &mut msg, libc::MSG_DONTWAIT) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: recvmsg filled the name (the length was checked by the kernel).
        let from = unsafe { from.assume_init() };
        let src = IpAddr::V6(Ipv6Addr::from(from.sin6_addr.s6_addr));
        let mut ttl = None;
        let mut dst = None;
        // SAFETY: the CMSG_* walk stays within `msg.msg_control`/`msg_controllen`, which
        // the kernel set to what it wrote.
        unsafe {
            let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
            while !cmsg.is_null() {
                let c = &*cmsg;
                if c.cmsg_level == libc::IPPROTO_IPV6 && c.cmsg_type == libc::IPV6_HOPLIMIT {
                    let v = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<libc::c_int>());
                    ttl = u8::try_from(v).ok();
                } else if c.cmsg_level == libc::IPPROTO_IPV6 && c.cmsg_type == libc::IPV6_PKTINFO {
                    let info =
                        std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<libc::in6_pktinfo>());
                    dst = Some(IpAddr::V6(Ipv6Addr::from(info.ipi6_addr.s6_addr)));
                }
                cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
            }
        }
        let (Some(ttl), Some(dst)) = (ttl, dst) else {
            return Ok(None);
        };
        Ok(Some(Received {
            src,
            dst,
            ttl,
            payload: 0..n as usize,
        }))
    }

    /// Read one packet and parse it as an advertisement: `Ok(None)` when nothing is
    /// queued or the packet is our own; `Ok(Some(Err(_)))` for an invalid packet.
    pub fn recv_advert(
        &self,
        buf: &mut [u8],
    ) -> io::Result<Option<Result<(Advert, IpAddr), VrrpError>>> {
        let Some(rx) = self.recv(buf)? else {
            return Ok(None);
        };
        if rx.src == self.local {
            return Ok(None);
        }
        let bytes = &buf[rx.payload.clone()];
        let parsed = if self.is_unicast() {
            parse_ignoring_ttl(rx.src, rx.dst, bytes)
        } else {
            parse(rx.src, rx.dst, rx.ttl, bytes)
        };
        Ok(Some(parsed.map(|a| (a, rx.src))))
    }
}

/// Sends gratuitous ARPs and unsolicited neighbour advertisements on one interface.
#[derive(Debug)]
pub struct Announcer {
    fd: OwnedFd,
    mac: MacAddr,
}

impl Announcer {
    pub fn open(iface: &Interface) -> io::Result<Announcer> {
        // Protocol 0: this socket sends only and receives nothing.
        let fd = socket(libc::AF_PACKET, libc::SOCK_RAW, 0)?;
        // SAFETY: sockaddr_ll is plain old data; all-zero is valid.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_ifindex = iface.index as libc::c_int;
        // SAFETY: `sll` is a valid sockaddr_ll for the call.
        check(unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&sll as *const libc::sockaddr_ll).cast(),
                size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        })?;
        Ok(Announcer {
            fd,
            mac: MacAddr(iface.mac.octets()),
        })
    }

    /// Announce each address `count` times.
    pub fn announce(&self, addrs: &[IpAddr], count: u32) -> io::Result<()> {
        let mut frame = [0u8; 128];
        for _ in 0..count {
            for addr in addrs {
                let len = match addr {
                    IpAddr::V4(a) => rvs_wire::arp::build_gratuitous_arp(&mut frame, self.mac, *a),
                    IpAddr::V6(a) => rvs_wire::ndp::build_unsolicited_na(&mut frame, self.mac, *a),
                };
                // SAFETY: `frame[..len]` is readable for the call.
                let sent =
                    unsafe { libc::send(self.fd.as_raw_fd(), frame.as_ptr().cast(), len, 0) };
                if sent < 0 {
                    return Err(io::Error::last_os_error());
                }
            }
        }
        Ok(())
    }
}

/// Everything one instance needs on one interface: sockets, rtnetlink for the VIPs,
/// the announcer, and the notify scripts it started.
#[derive(Debug)]
pub struct Adapter {
    pub socket: VrrpSocket,
    iface: Interface,
    netlink: RtNetlink,
    announcer: Announcer,
    /// A datagram socket for SIOCGIFFLAGS, opened once.
    probe: OwnedFd,
    children: Vec<Child>,
    /// VIPs that live on another interface or with another prefix than the default
    /// (keepalived's `virtual_ipaddress { ADDR/PREFIX dev IF }`).
    placements: Vec<VipPlacement>,
    /// Other interfaces that must be up (keepalived's `track_interface`).
    tracked_interfaces: Vec<String>,
    /// Conditions kept by others that must hold (`track_script` results).
    tracked_flags: Vec<Arc<AtomicBool>>,
}

/// Where one VIP goes: interface, prefix length, and that interface's announcer.
#[derive(Debug)]
struct VipPlacement {
    vip: IpAddr,
    ifindex: u32,
    prefix: u8,
    /// IPv4 address label (`virtual_ipaddress { ADDR label eth0:1 }`).
    label: Option<String>,
    announcer: Option<Announcer>,
}

impl Adapter {
    /// Open everything for `instance` on `ifname` in the calling thread's namespace.
    pub fn open(instance: &Instance, ifname: &str) -> io::Result<Adapter> {
        let cfg = instance.config();
        let iface = Interface::by_name(ifname)?;
        Ok(Adapter {
            socket: VrrpSocket::open(ifname, cfg.local_addr, &cfg.unicast_peers)?,
            announcer: Announcer::open(&iface)?,
            netlink: RtNetlink::open()?,
            probe: socket(libc::AF_INET, libc::SOCK_DGRAM, 0)?,
            iface,
            children: Vec::new(),
            placements: Vec::new(),
            tracked_interfaces: Vec::new(),
            tracked_flags: Vec::new(),
        })
    }

    /// Put `vip` on interface `ifname` with `prefix` (instead of a host address on
    /// the instance's interface), announcing it there.
    pub fn place_vip(
        &mut self,
        vip: IpAddr,
        ifname: Option<&str>,
        prefix: u8,
        label: Option<&str>,
    ) -> io::Result<()> {
        let (ifindex, announcer) = match ifname {
            Some(name) if name != self.iface.name => {
                let iface = Interface::by_name(name)?;
                (iface.index, Some(Announcer::open(&iface)?))
            }
            _ => (self.iface.index, None),
        };
        self.placements.retain(|p| p.vip != vip);
        self.placements.push(VipPlacement {
            vip,
            ifindex,
            prefix,
            label: label.map(str::to_owned),
            announcer,
        });
        Ok(())
    }

    fn placement(&self, vip: IpAddr) -> (u32, u8, Option<&str>) {
        match self.placements.iter().find(|p| p.vip == vip) {
            Some(p) => (p.ifindex, p.prefix, p.label.as_deref()),
            None => (self.iface.index, if vip.is_ipv4() { 32 } else { 128 }, None),
        }
    }

    fn announce(&self, vips: &[IpAddr], count: u32) -> io::Result<()> {
        let (elsewhere, here): (Vec<IpAddr>, Vec<IpAddr>) = vips.iter().partition(|v| {
            self.placements
                .iter()
                .any(|p| p.vip == **v && p.announcer.is_some())
        });
        self.announcer.announce(&here, count)?;
        for v in elsewhere {
            if let Some(a) = self
                .placements
                .iter()
                .find(|p| p.vip == v)
                .and_then(|p| p.announcer.as_ref())
            {
                a.announce(&[v], count)?;
            }
        }
        Ok(())
    }

    /// Whether the interface is up and has carrier.
    pub fn link_up(&self) -> io::Result<bool> {
        self.named_link_up(&self.iface.name)
    }

    /// Also require interface `name` to be up with carrier (keepalived's
    /// `track_interface` without a weight): while it is down the instance is in FAULT.
    pub fn track_interface(&mut self, name: &str) {
        self.tracked_interfaces.push(name.to_string());
    }

    /// Also require `flag` to be set (a `track_script` whose result someone else keeps):
    /// while it is clear the instance is in FAULT.
    pub fn track_flag(&mut self, flag: Arc<AtomicBool>) {
        self.tracked_flags.push(flag);
    }

    /// The instance's own interface is up, and so is everything it tracks. A tracked
    /// interface that does not exist counts as down.
    pub fn tracked_up(&self) -> io::Result<bool> {
        if !self.link_up()? {
            return Ok(false);
        }
        for name in &self.tracked_interfaces {
            match self.named_link_up(name) {
                Ok(true) => {}
                Ok(false) => return Ok(false),
                Err(e) if e.raw_os_error() == Some(libc::ENODEV) => return Ok(false),
                Err(e) => return Err(e),
            }
        }
        Ok(self.tracked_flags.iter().all(|f| f.load(Ordering::Relaxed)))
    }

    fn named_link_up(&self, name: &str) -> io::Result<bool> {
        // SAFETY: ifreq is plain old data; all-zero is valid.
        let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
        for (dst, src) in req
            .ifr_name
            .iter_mut()
            .zip(name.bytes().take(libc::IFNAMSIZ - 1))
        {
            *dst = src as libc::c_char;
        }
        // SAFETY: SIOCGIFFLAGS reads the name and writes the flags of `req`.
        check(unsafe { libc::ioctl(self.probe.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) })?;
        // SAFETY: SIOCGIFFLAGS filled the `ifru_flags` member.
        let flags = i32::from(unsafe { req.ifr_ifru.ifru_flags });
        Ok(flags & libc::IFF_UP != 0 && flags & libc::IFF_RUNNING != 0)
    }

    fn set_vips(&mut self, vips: &[IpAddr], present: bool) -> io::Result<()> {
        for &vip in vips {
            let (ifindex, prefix, label) = self.placement(vip);
            let result = if present {
                let label = label.map(str::to_owned);
                self.netlink
                    .addr_add_labelled(ifindex, vip, prefix, label.as_deref())
            } else {
                self.netlink.addr_del(ifindex, vip, prefix)
            };
            match result {
                Ok(()) => {}
                // Already there / already gone: the wanted end state holds.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) if !present && e.raw_os_error() == Some(libc::EADDRNOTAVAIL) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Carry out one action of `instance`.
    pub fn apply(&mut self, instance: &Instance, action: &Action) -> io::Result<()> {
        self.children
            .retain_mut(|c| !matches!(c.try_wait(), Ok(Some(_))));
        match action {
            Action::SendAdvert { priority } => self.socket.send(&instance.advert(*priority)),
            Action::BecomeMaster { vips } => self.set_vips(vips, true),
            Action::Announce { vips, count } => self.announce(vips, *count),
            Action::BecomeBackup { vips }
            | Action::BecomeFault { vips }
            | Action::Stopped { vips } => self.set_vips(vips, false),
            Action::RunNotify {
                script,
                state,
                generic,
            } => self.run_notify(instance, script, *state, *generic),
        }
    }

    /// keepalived runs notify scripts directly, splitting the configured line on
    /// white space; the generic `notify` script gets `INSTANCE <name> <STATE> <prio>`.
    fn run_notify(
        &mut self,
        instance: &Instance,
        script: &str,
        state: State,
        generic: bool,
    ) -> io::Result<()> {
        let mut words = script.split_whitespace();
        let Some(program) = words.next() else {
            return Ok(());
        };
        let mut cmd = Command::new(program);
        cmd.args(words);
        if generic {
            cmd.arg("INSTANCE")
                .arg(&instance.config().name)
                .arg(state.as_str())
                .arg(instance.config().priority.to_string());
        }
        self.children.push(cmd.spawn()?);
        Ok(())
    }
}

/// What [`run_instance`] reports besides carrying the actions out.
pub trait Observer {
    /// Called after each action was carried out (or failed with `result`).
    fn action(&mut self, _action: &Action, _result: &io::Result<()>) {}
    /// Called for each packet that was not a valid advertisement.
    fn invalid(&mut self, _error: VrrpError) {}
    /// Called once per turn of the loop with the instance's counters.
    fn stats(&mut self, _stats: &Stats) {}
}

/// An observer that ignores everything.
pub struct Quiet;
impl Observer for Quiet {}

/// Drive `instance` on `adapter` until `stop` is set, then shut it down (priority 0
/// advert, VIPs removed). Time is measured from the call. Errors of single actions go
/// to `observer` and do not end the loop; socket errors do.
pub fn run_instance(
    instance: &mut Instance,
    adapter: &mut Adapter,
    stop: &AtomicBool,
    observer: &mut dyn Observer,
) -> io::Result<()> {
    let origin = Instant::now();
    let mut actions = Vec::new();
    let mut buf = vec![0u8; RECV_BUF];
    let mut link_up = adapter.tracked_up()?;
    if !link_up {
        instance.handle(origin.elapsed(), Event::InterfaceDown, &mut actions);
    }
    instance.handle(origin.elapsed(), Event::Startup, &mut actions);
    loop {
        for action in actions.drain(..) {
            let result = adapter.apply(instance, &action);
            observer.action(&action, &result);
        }
        if stop.load(Ordering::Relaxed) {
            instance.handle(origin.elapsed(), Event::Shutdown, &mut actions);
            for action in actions.drain(..) {
                let result = adapter.apply(instance, &action);
                observer.action(&action, &result);
            }
            return Ok(());
        }
        let now = origin.elapsed();
        let wait = instance
            .next_deadline()
            .map_or(HOUSEKEEPING, |d| d.saturating_sub(now).min(HOUSEKEEPING));
        if adapter.socket.wait_readable(wait)? {
            // Bounded: at most a burst's worth per wake-up, then timers get their turn.
            for _ in 0..64 {
                match adapter.socket.recv_advert(&mut buf)? {
                    None => break,
                    Some(Err(e)) => observer.invalid(e),
                    Some(Ok((advert, from))) => instance.handle(
                        origin.elapsed(),
                        Event::AdvertReceived(&advert, from),
                        &mut actions,
                    ),
                }
            }
        }
        let up = adapter.tracked_up()?;
        if up != link_up {
            link_up = up;
            let event = if up {
                Event::InterfaceUp
            } else {
                Event::InterfaceDown
            };
            instance.handle(origin.elapsed(), event, &mut actions);
        }
        instance.handle(origin.elapsed(), Event::Timer, &mut actions);
        observer.stats(instance.stats());
    }
}
