//! Routes, neighbours and addresses through rtnetlink: a small synchronous client for the
//! control side ([`RtNetlink`]) and the data plane's lock-free neighbour map
//! ([`NeighCache`]).
//!
//! Everything acts on the network namespace the netlink socket was opened in (that of the
//! calling thread at [`RtNetlink::open`]).

mod cache;

use std::io;
use std::net::IpAddr;
use std::os::fd::AsRawFd;
use std::time::Duration;

use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL,
    NLM_F_MULTIPART, NLM_F_REQUEST,
};
use netlink_packet_route::address::{AddressAttribute, AddressFlags, AddressMessage};
use netlink_packet_route::neighbour::{
    NeighbourAddress, NeighbourAttribute, NeighbourFlags, NeighbourMessage,
};
use netlink_packet_route::route::{RouteAddress, RouteAttribute, RouteMessage, RouteType};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};

pub use cache::{NeighCache, NeighWatcher};

use crate::mac::MacAddr;
use crate::sys;

/// The answer to a route lookup for one destination (like `ip route get`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Route {
    /// Output interface index.
    pub oif: u32,
    /// Next-hop router, or `None` when the destination is on link.
    pub gateway: Option<IpAddr>,
    /// Preferred source address for traffic to the destination.
    pub prefsrc: Option<IpAddr>,
    /// Route type: unicast for forwarding, local for the host's own addresses.
    pub kind: RouteKind,
    /// Routing table the answer came from.
    pub table: u32,
}

/// One route of a dump: `dest`/`prefix_len` (None = default route), out interface,
/// gateway.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RouteEntry {
    pub dest: Option<IpAddr>,
    pub prefix_len: u8,
    pub oif: u32,
    pub gateway: Option<IpAddr>,
    pub table: u32,
}

impl Route {
    /// The address to resolve to a MAC: the gateway, or the destination itself on link.
    pub fn next_hop(&self, dst: IpAddr) -> IpAddr {
        self.gateway.unwrap_or(dst)
    }
}

/// Route types (`rtm_type`) a lookup may return.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RouteKind {
    /// A gateway or direct route.
    Unicast,
    /// One of this host's addresses.
    Local,
    /// A broadcast address.
    Broadcast,
    /// Multicast.
    Multicast,
    /// Silently dropped.
    Blackhole,
    /// Answered with "unreachable".
    Unreachable,
    /// Answered with "prohibited".
    Prohibit,
    /// Anything else.
    Other,
}

impl From<RouteType> for RouteKind {
    fn from(kind: RouteType) -> Self {
        match kind {
            RouteType::Unicast => RouteKind::Unicast,
            RouteType::Local => RouteKind::Local,
            RouteType::Broadcast => RouteKind::Broadcast,
            RouteType::Multicast => RouteKind::Multicast,
            RouteType::BlackHole => RouteKind::Blackhole,
            RouteType::Unreachable => RouteKind::Unreachable,
            RouteType::Prohibit => RouteKind::Prohibit,
            _ => RouteKind::Other,
        }
    }
}

/// Neighbour unreachability detection state of an entry (`NUD_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NeighState {
    /// Resolution in progress, no address yet.
    Incomplete,
    /// Confirmed recently.
    Reachable,
    /// Address known but unconfirmed for a while; still used, revalidated on use.
    Stale,
    /// Waiting before probing a stale entry.
    Delay,
    /// Probing a stale entry.
    Probe,
    /// Resolution failed.
    Failed,
    /// No resolution needed on this device.
    NoArp,
    /// Configured statically.
    Permanent,
    /// No state (just created).
    None,
    /// Any other combination of bits.
    Other(u16),
}

impl NeighState {
    /// Whether an entry in this state carries a link-layer address worth sending to.
    pub fn is_usable(self) -> bool {
        matches!(
            self,
            NeighState::Reachable
                | NeighState::Stale
                | NeighState::Delay
                | NeighState::Probe
                | NeighState::NoArp
                | NeighState::Permanent
        )
    }

    fn from_raw(raw: u16) -> Self {
        match raw {
            0x01 => NeighState::Incomplete,
            0x02 => NeighState::Reachable,
            0x04 => NeighState::Stale,
            0x08 => NeighState::Delay,
            0x10 => NeighState::Probe,
            0x20 => NeighState::Failed,
            0x40 => NeighState::NoArp,
            0x80 => NeighState::Permanent,
            0x00 => NeighState::None,
            other => NeighState::Other(other),
        }
    }
}

/// One neighbour table entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NeighEntry {
    /// Interface the neighbour is on.
    pub ifindex: u32,
    /// The neighbour's IP address.
    pub ip: IpAddr,
    /// Its link-layer address, when known.
    pub mac: Option<MacAddr>,
    /// Its NUD state.
    pub state: NeighState,
}

impl NeighEntry {
    /// Reads an entry out of an RTM_NEWNEIGH/RTM_DELNEIGH message; `None` for entries that
    /// are not IPv4/IPv6 neighbours.
    fn from_message(msg: &NeighbourMessage) -> Option<NeighEntry> {
        let mut ip = None;
        let mut mac = None;
        for attr in &msg.attributes {
            match attr {
                NeighbourAttribute::Destination(NeighbourAddress::Inet(v4)) => {
                    ip = Some(IpAddr::V4(*v4))
                }
                NeighbourAttribute::Destination(NeighbourAddress::Inet6(v6)) => {
                    ip = Some(IpAddr::V6(*v6))
                }
                NeighbourAttribute::LinkLayerAddress(bytes) => mac = MacAddr::from_slice(bytes),
                _ => {}
            }
        }
        Some(NeighEntry {
            ifindex: msg.header.ifindex,
            ip: ip?,
            mac,
            state: NeighState::from_raw(u16::from(msg.header.state)),
        })
    }
}

/// How long a request waits for the kernel's answer before giving up.
const REPLY_TIMEOUT: Duration = Duration::from_secs(5);
/// Receive buffer: the kernel sizes dump datagrams up to 32 KiB.
const RECV_BUFFER: usize = 1 << 16;
/// Upper bound on datagrams read for one request (a dump of a very large table).
const MAX_DATAGRAMS: usize = 1 << 20;

/// A synchronous rtnetlink client. Not for the per-packet path: every call is a syscall
/// round trip.
pub struct RtNetlink {
    socket: Socket,
    seq: u32,
    buf: Vec<u8>,
}

impl std::fmt::Debug for RtNetlink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RtNetlink")
            .field("fd", &self.socket.as_raw_fd())
            .field("seq", &self.seq)
            .finish()
    }
}

fn family_of(ip: IpAddr) -> AddressFamily {
    match ip {
        IpAddr::V4(_) => AddressFamily::Inet,
        IpAddr::V6(_) => AddressFamily::Inet6,
    }
}

fn host_prefix(ip: IpAddr) -> u8 {
    match ip {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    }
}

fn route_ip(addr: &RouteAddress) -> Option<IpAddr> {
    match addr {
        RouteAddress::Inet(v4) => Some(IpAddr::V4(*v4)),
        RouteAddress::Inet6(v6) => Some(IpAddr::V6(*v6)),
        _ => None,
    }
}

impl RtNetlink {
    /// Opens a NETLINK_ROUTE socket in the calling thread's network namespace.
    pub fn open() -> io::Result<RtNetlink> {
        Self::open_with_groups(0)
    }

    /// Opens a socket subscribed to the legacy multicast `groups` bitmask (RTMGRP_*).
    fn open_with_groups(groups: u32) -> io::Result<RtNetlink> {
        let mut socket = Socket::new(NETLINK_ROUTE)?;
        socket.bind(&SocketAddr::new(0, groups))?;
        let timeout = libc::timeval {
            tv_sec: REPLY_TIMEOUT.as_secs() as libc::time_t,
            tv_usec: 0,
        };
        sys::setsockopt(&socket, libc::SOL_SOCKET, libc::SO_RCVTIMEO, &timeout)?;
        Ok(RtNetlink {
            socket,
            seq: 0,
            buf: Vec::with_capacity(RECV_BUFFER),
        })
    }

    /// Looks up the route the kernel would use for `dst` (RTM_GETROUTE, like
    /// `ip route get DST`).
    pub fn route_get(&mut self, dst: IpAddr) -> io::Result<Route> {
        let mut msg = RouteMessage::default();
        msg.header.address_family = family_of(dst);
        msg.header.destination_prefix_length = host_prefix(dst);
        msg.attributes
            .push(RouteAttribute::Destination(RouteAddress::from(dst)));
        let replies = self.request(
            RouteNetlinkMessage::GetRoute(msg),
            NLM_F_REQUEST | NLM_F_ACK,
        )?;
        let reply = replies
            .into_iter()
            .find_map(|m| match m {
                RouteNetlinkMessage::NewRoute(route) => Some(route),
                _ => None,
            })
            .ok_or_else(|| {
                io::Error::new(io::ErrorKind::InvalidData, "no route in RTM_GETROUTE reply")
            })?;
        let mut route = Route {
            oif: 0,
            gateway: None,
            prefsrc: None,
            kind: RouteKind::from(reply.header.kind),
            table: u32::from(reply.header.table),
        };
        for attr in &reply.attributes {
            match attr {
                RouteAttribute::Oif(oif) => route.oif = *oif,
                RouteAttribute::Gateway(gw) => route.gateway = route_ip(gw),
                RouteAttribute::PrefSource(src) => route.prefsrc = route_ip(src),
                RouteAttribute::Table(table) => route.table = *table,
                _ => {}
            }
        }
        Ok(route)
    }

    /// Every unicast route of the main table for `family` (RTM_GETROUTE dump): the
    /// director mirrors them to reach clients and real servers behind gateways.
    pub fn route_dump(&mut self, v6: bool) -> io::Result<Vec<RouteEntry>> {
        let mut msg = RouteMessage::default();
        msg.header.address_family = if v6 {
            AddressFamily::Inet6
        } else {
            AddressFamily::Inet
        };
        let replies = self.request(
            RouteNetlinkMessage::GetRoute(msg),
            NLM_F_REQUEST | NLM_F_DUMP,
        )?;
        let mut out = Vec::new();
        for m in replies {
            let RouteNetlinkMessage::NewRoute(r) = m else {
                continue;
            };
            if RouteKind::from(r.header.kind) != RouteKind::Unicast {
                continue;
            }
            let mut e = RouteEntry {
                dest: None,
                prefix_len: r.header.destination_prefix_length,
                oif: 0,
                gateway: None,
                table: u32::from(r.header.table),
            };
            for attr in &r.attributes {
                match attr {
                    RouteAttribute::Destination(d) => e.dest = route_ip(d),
                    RouteAttribute::Oif(oif) => e.oif = *oif,
                    RouteAttribute::Gateway(gw) => e.gateway = route_ip(gw),
                    RouteAttribute::Table(t) => e.table = *t,
                    _ => {}
                }
            }
            if e.table == u32::from(libc::RT_TABLE_MAIN) {
                out.push(e);
            }
        }
        Ok(out)
    }

    /// The kernel's neighbour entry for `ip` on `ifindex` (RTM_GETNEIGH for one entry):
    /// `None` when there is no entry or it has no link-layer address yet (incomplete or
    /// failed resolution).
    pub fn neigh_get(
        &mut self,
        ifindex: u32,
        ip: IpAddr,
    ) -> io::Result<Option<(MacAddr, NeighState)>> {
        let mut msg = NeighbourMessage::default();
        msg.header.family = family_of(ip);
        msg.header.ifindex = ifindex;
        msg.attributes
            .push(NeighbourAttribute::Destination(neighbour_address(ip)));
        let replies = match self.request(
            RouteNetlinkMessage::GetNeighbour(msg),
            NLM_F_REQUEST | NLM_F_ACK,
        ) {
            Ok(replies) => replies,
            Err(err) if err.raw_os_error() == Some(libc::ENOENT) => return Ok(None),
            Err(err) => return Err(err),
        };
        Ok(replies.iter().find_map(|m| match m {
            RouteNetlinkMessage::NewNeighbour(n) => {
                let entry = NeighEntry::from_message(n)?;
                Some((entry.mac?, entry.state))
            }
            _ => None,
        }))
    }

    /// All IPv4 and IPv6 neighbour entries, optionally of one interface (RTM_GETNEIGH dump).
    pub fn neigh_dump(&mut self, ifindex: Option<u32>) -> io::Result<Vec<NeighEntry>> {
        let msg = NeighbourMessage::default();
        let replies = self.request(
            RouteNetlinkMessage::GetNeighbour(msg),
            NLM_F_REQUEST | NLM_F_DUMP,
        )?;
        Ok(replies
            .iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewNeighbour(n) => NeighEntry::from_message(n),
                _ => None,
            })
            .filter(|e| ifindex.is_none_or(|i| i == e.ifindex))
            .collect())
    }

    /// Makes the kernel resolve `ip` on `ifindex` now (RTM_NEWNEIGH with NTF_USE: the
    /// kernel creates the entry if needed and sends an ARP request or neighbour
    /// solicitation, or revalidates a stale entry), so a later lookup finds the address.
    /// Returns at once; resolution completes asynchronously.
    pub fn neigh_resolve(&mut self, ifindex: u32, ip: IpAddr) -> io::Result<()> {
        let mut msg = NeighbourMessage::default();
        msg.header.family = family_of(ip);
        msg.header.ifindex = ifindex;
        msg.header.flags = NeighbourFlags::Use;
        msg.attributes
            .push(NeighbourAttribute::Destination(neighbour_address(ip)));
        self.request(
            RouteNetlinkMessage::NewNeighbour(msg),
            NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE,
        )
        .map(drop)
    }

    /// Adds `ip/prefix` to interface `ifindex` (RTM_NEWADDR, like `ip addr add`). IPv6
    /// addresses are added without duplicate address detection, so a VIP is usable at
    /// once. Fails with `AlreadyExists` when the address is there already.
    pub fn addr_add(&mut self, ifindex: u32, ip: IpAddr, prefix: u8) -> io::Result<()> {
        self.addr_add_labelled(ifindex, ip, prefix, None)
    }

    /// [`addr_add`](Self::addr_add) with an IPv4 address label (`ip addr add ... label
    /// eth0:1`; the kernel wants it to start with the interface's name). IPv6 addresses
    /// have no labels: `label` is not sent for them.
    pub fn addr_add_labelled(
        &mut self,
        ifindex: u32,
        ip: IpAddr,
        prefix: u8,
        label: Option<&str>,
    ) -> io::Result<()> {
        let mut msg = address_message(ifindex, ip, prefix)?;
        if let (Some(label), IpAddr::V4(_)) = (label, ip) {
            msg.attributes
                .push(AddressAttribute::Label(label.to_string()));
        }
        self.request(
            RouteNetlinkMessage::NewAddress(msg),
            NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
        )
        .map(drop)
    }

    /// Removes `ip/prefix` from interface `ifindex` (RTM_DELADDR, like `ip addr del`).
    pub fn addr_del(&mut self, ifindex: u32, ip: IpAddr, prefix: u8) -> io::Result<()> {
        let msg = address_message(ifindex, ip, prefix)?;
        self.request(
            RouteNetlinkMessage::DelAddress(msg),
            NLM_F_REQUEST | NLM_F_ACK,
        )
        .map(drop)
    }

    /// Sends one request and collects the inner messages of its answer: until the ACK for
    /// non-dump requests (`NLM_F_ACK` set), until NLMSG_DONE for dumps.
    fn request(
        &mut self,
        msg: RouteNetlinkMessage,
        flags: u16,
    ) -> io::Result<Vec<RouteNetlinkMessage>> {
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        let mut header = NetlinkHeader::default();
        header.flags = flags;
        header.sequence_number = seq;
        let mut packet = NetlinkMessage::new(header, NetlinkPayload::from(msg));
        packet.finalize();
        let mut out = vec![0u8; packet.buffer_len()];
        packet.serialize(&mut out);
        self.socket.send(&out, 0)?;

        let mut replies = Vec::new();
        for _ in 0..MAX_DATAGRAMS {
            let datagram = self.recv_datagram()?;
            for message in datagram_messages(datagram) {
                let message = match message {
                    Ok(message) => message,
                    // One undecodable entry must not lose the rest of a dump.
                    Err(_) if flags & NLM_F_DUMP == NLM_F_DUMP => continue,
                    Err(err) => return Err(err),
                };
                if message.header.sequence_number != seq {
                    continue; // a late answer to an earlier, abandoned request
                }
                match message.payload {
                    NetlinkPayload::Done(_) => return Ok(replies),
                    NetlinkPayload::Error(err) => {
                        return match err.code {
                            None => Ok(replies),
                            Some(_) => Err(err.to_io()),
                        };
                    }
                    NetlinkPayload::InnerMessage(inner) => {
                        replies.push(inner);
                        if flags & (NLM_F_ACK | NLM_F_DUMP) == 0
                            && message.header.flags & NLM_F_MULTIPART == 0
                        {
                            return Ok(replies);
                        }
                    }
                    _ => {}
                }
            }
        }
        Err(io::Error::other("netlink answer did not end"))
    }

    /// Receives one datagram into the internal buffer.
    fn recv_datagram(&mut self) -> io::Result<&[u8]> {
        self.buf.clear();
        let len = self.socket.recv(&mut self.buf, libc::MSG_TRUNC)?;
        if len > self.buf.len() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "netlink datagram larger than buffer",
            ));
        }
        Ok(&self.buf[..len])
    }
}

/// Splits a datagram into netlink messages, decoding each.
fn datagram_messages(
    mut data: &[u8],
) -> impl Iterator<Item = io::Result<NetlinkMessage<RouteNetlinkMessage>>> + '_ {
    std::iter::from_fn(move || {
        if data.len() < 16 {
            return None;
        }
        let len = u32::from_ne_bytes([data[0], data[1], data[2], data[3]]) as usize;
        if len < 16 || len > data.len() {
            data = &[];
            return Some(Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "bad netlink message length",
            )));
        }
        let (message, rest) = data.split_at(len);
        data = rest.get(len.next_multiple_of(4) - len..).unwrap_or(&[]);
        Some(
            NetlinkMessage::<RouteNetlinkMessage>::deserialize(message)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string())),
        )
    })
}

fn neighbour_address(ip: IpAddr) -> NeighbourAddress {
    match ip {
        IpAddr::V4(v4) => NeighbourAddress::Inet(v4),
        IpAddr::V6(v6) => NeighbourAddress::Inet6(v6),
    }
}

fn address_message(ifindex: u32, ip: IpAddr, prefix: u8) -> io::Result<AddressMessage> {
    if prefix > host_prefix(ip) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("prefix /{prefix} too long for {ip}"),
        ));
    }
    let mut msg = AddressMessage::default();
    msg.header.family = family_of(ip);
    msg.header.prefix_len = prefix;
    msg.header.index = ifindex;
    match ip {
        IpAddr::V4(_) => {
            // IFA_LOCAL is the interface's address; IFA_ADDRESS the peer (the same on
            // broadcast links), as iproute2 sends them.
            msg.attributes.push(AddressAttribute::Local(ip));
            msg.attributes.push(AddressAttribute::Address(ip));
        }
        IpAddr::V6(_) => {
            msg.attributes.push(AddressAttribute::Address(ip));
            msg.attributes
                .push(AddressAttribute::Flags(AddressFlags::Nodad));
        }
    }
    Ok(msg)
}
