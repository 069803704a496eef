//! PING_CHECK: one ICMP (or ICMPv6) echo request, answered in time.
//!
//! Uses an unprivileged ping socket (SOCK_DGRAM + IPPROTO_ICMP, allowed by the
//! `net.ipv4.ping_group_range` sysctl): the kernel owns the echo identifier and hands
//! this socket only its own replies. Without that permission it falls back to a raw
//! socket, which needs CAP_NET_RAW and sees every ICMP packet, so replies are matched
//! on identifier and sequence here.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;
use tokio::time::{timeout_at, Instant};

use super::Failure;

const ICMP_ECHO_REQUEST: u8 = 8;
const ICMP_ECHO_REPLY: u8 = 0;
const ICMPV6_ECHO_REQUEST: u8 = 128;
const ICMPV6_ECHO_REPLY: u8 = 129;
const ECHO_HEADER: usize = 8;
/// Payload size of the echo (as ping's default 56 bytes).
const PAYLOAD: usize = 56;

/// Which kind of socket carries the echo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IcmpSocketKind {
    /// Ping socket: kernel sets and filters the identifier; no IP header on receive.
    Datagram,
    /// Raw socket: IPv4 replies carry their IP header; IPv6 ones do not.
    Raw,
}

/// Open an ICMP socket for `family`, preferring the unprivileged kind.
fn open_socket(v6: bool) -> io::Result<(Socket, IcmpSocketKind)> {
    let (domain, proto) = if v6 {
        (Domain::IPV6, Protocol::ICMPV6)
    } else {
        (Domain::IPV4, Protocol::ICMPV4)
    };
    match Socket::new(domain, Type::DGRAM, Some(proto)) {
        Ok(s) => Ok((s, IcmpSocketKind::Datagram)),
        Err(dgram_err) => match Socket::new(domain, Type::RAW, Some(proto)) {
            Ok(s) => Ok((s, IcmpSocketKind::Raw)),
            // Report the ping-socket error: that is the one an unprivileged user fixes.
            Err(_) => Err(dgram_err),
        },
    }
}

/// Build an echo request into `out`.
pub(crate) fn build_echo(v6: bool, ident: u16, seq: u16, out: &mut [u8; ECHO_HEADER + PAYLOAD]) {
    out[0] = if v6 {
        ICMPV6_ECHO_REQUEST
    } else {
        ICMP_ECHO_REQUEST
    };
    out[1] = 0;
    out[2..4].copy_from_slice(&[0, 0]);
    out[4..6].copy_from_slice(&ident.to_be_bytes());
    out[6..8].copy_from_slice(&seq.to_be_bytes());
    for (i, b) in out[ECHO_HEADER..].iter_mut().enumerate() {
        *b = i as u8;
    }
    if !v6 {
        // ICMPv6 checksums need the pseudo-header: the kernel fills them in.
        let csum = rvs_wire::checksum::finish(rvs_wire::checksum::sum(out, 0));
        out[2..4].copy_from_slice(&csum.to_be_bytes());
    }
}

/// Whether `packet` is the reply to our echo. `ident` is None on a ping socket, where
/// the kernel rewrote it and already filtered.
pub(crate) fn is_our_reply(
    packet: &[u8],
    v6: bool,
    kind: IcmpSocketKind,
    ident: Option<u16>,
    seq: u16,
) -> bool {
    let icmp = if !v6 && kind == IcmpSocketKind::Raw {
        // Raw IPv4 sockets deliver the IP header too.
        let Some(&first) = packet.first() else {
            return false;
        };
        let ihl = usize::from(first & 0x0f) * 4;
        if first >> 4 != 4 || ihl < 20 {
            return false;
        }
        match packet.get(ihl..) {
            Some(rest) => rest,
            None => return false,
        }
    } else {
        packet
    };
    let Some(h) = icmp.get(..ECHO_HEADER) else {
        return false;
    };
    let want_type = if v6 {
        ICMPV6_ECHO_REPLY
    } else {
        ICMP_ECHO_REPLY
    };
    if h[0] != want_type || h[1] != 0 {
        return false;
    }
    if u16::from_be_bytes([h[6], h[7]]) != seq {
        return false;
    }
    ident.is_none_or(|id| u16::from_be_bytes([h[4], h[5]]) == id)
}

pub(super) async fn check_ping(
    addr: SocketAddr,
    bind: Option<SocketAddr>,
    timeout: Duration,
    seq: u16,
) -> Result<String, Failure> {
    let deadline = Instant::now() + timeout;
    let v6 = addr.is_ipv6();
    let (socket, kind) = open_socket(v6).map_err(|e| {
        Failure::Setup(format!(
            "ICMP socket: {e} (ping sockets need net.ipv4.ping_group_range, raw ones CAP_NET_RAW)"
        ))
    })?;
    socket
        .set_nonblocking(true)
        .map_err(|e| Failure::Io("ICMP socket", e))?;
    if let Some(bind) = bind {
        // On a ping socket the port is the echo identifier: let the kernel pick it.
        let local = SocketAddr::new(bind.ip(), 0);
        socket
            .bind(&local.into())
            .map_err(|e| Failure::Io("bind", e))?;
    }
    // Raw IPv6 sockets refuse a port other than 0 (or the protocol number).
    let peer = SocketAddr::new(addr.ip(), 0);
    socket
        .connect(&peer.into())
        .map_err(|e| Failure::Io("connect", e))?;
    // A connected datagram-style socket: tokio's UdpSocket only does send/recv on the
    // descriptor, which is what ICMP sockets need.
    let socket = UdpSocket::from_std(std::net::UdpSocket::from(socket))
        .map_err(|e| Failure::Io("ICMP socket", e))?;
    let ident = match kind {
        IcmpSocketKind::Datagram => None,
        IcmpSocketKind::Raw => Some(raw_ident(addr.ip())),
    };
    let mut request = [0u8; ECHO_HEADER + PAYLOAD];
    build_echo(v6, ident.unwrap_or(0), seq, &mut request);
    match timeout_at(deadline, socket.send(&request)).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => return Err(Failure::Io("send echo", e)),
        Err(_) => return Err(Failure::Timeout("sending the echo", timeout)),
    }
    let mut reply = [0u8; 1500];
    loop {
        let n = match timeout_at(deadline, socket.recv(&mut reply)).await {
            Ok(Ok(n)) => n,
            Ok(Err(e)) => return Err(Failure::Io("receive echo reply", e)),
            Err(_) => return Err(Failure::Timeout("waiting for the echo reply", timeout)),
        };
        if is_our_reply(&reply[..n], v6, kind, ident, seq) {
            return Ok("echo reply".to_owned());
        }
    }
}

/// An echo identifier for raw sockets: distinct per process and destination so two
/// checkers' replies are not mistaken for each other.
fn raw_ident(ip: IpAddr) -> u16 {
    use std::hash::{BuildHasher, RandomState};
    let h = RandomState::new().hash_one((std::process::id(), ip, std::time::Instant::now()));
    (h & 0xffff) as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_request_checksum_is_valid() {
        let mut req = [0u8; ECHO_HEADER + PAYLOAD];
        build_echo(false, 0xbeef, 3, &mut req);
        assert_eq!(req[0], ICMP_ECHO_REQUEST);
        assert_eq!(
            rvs_wire::checksum::fold(rvs_wire::checksum::sum(&req, 0)),
            0xffff
        );
    }

    #[test]
    fn reply_matching() {
        let mut reply = [0u8; ECHO_HEADER + PAYLOAD];
        build_echo(false, 0x1111, 9, &mut reply);
        reply[0] = ICMP_ECHO_REPLY;
        let dgram = IcmpSocketKind::Datagram;
        assert!(is_our_reply(&reply, false, dgram, None, 9));
        assert!(!is_our_reply(&reply, false, dgram, None, 10));
        assert!(is_our_reply(&reply, false, dgram, Some(0x1111), 9));
        assert!(!is_our_reply(&reply, false, dgram, Some(0x2222), 9));
        // Raw IPv4: behind a 20-byte IP header.
        let mut raw = vec![0x45u8];
        raw.extend_from_slice(&[0; 19]);
        raw.extend_from_slice(&reply);
        assert!(is_our_reply(
            &raw,
            false,
            IcmpSocketKind::Raw,
            Some(0x1111),
            9
        ));
        assert!(!is_our_reply(
            &reply,
            false,
            IcmpSocketKind::Raw,
            Some(0x1111),
            9
        ));
        // Our own request seen on loopback is not a reply.
        let mut req = [0u8; ECHO_HEADER + PAYLOAD];
        build_echo(true, 5, 1, &mut req);
        assert!(!is_our_reply(&req, true, IcmpSocketKind::Raw, Some(5), 1));
        req[0] = ICMPV6_ECHO_REPLY;
        assert!(is_our_reply(&req, true, IcmpSocketKind::Raw, Some(5), 1));
        assert!(!is_our_reply(
            &[0x45, 0, 0],
            false,
            IcmpSocketKind::Raw,
            None,
            1
        ));
        assert!(!is_our_reply(&[], true, dgram, None, 1));
    }
}
