//! UDP_CHECK: send a datagram to the real server and watch what comes back.
//!
//! As keepalived: an ICMP port unreachable (seen as ECONNREFUSED on the connected
//! socket) fails the check; silence until the timeout passes the check unless a reply
//! is required; any reply passes.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::time::{timeout_at, Instant};

use super::Failure;

pub(super) async fn check_udp(
    addr: SocketAddr,
    bind: Option<SocketAddr>,
    timeout: Duration,
    payload: &[u8],
    require_reply: bool,
) -> Result<String, Failure> {
    let deadline = Instant::now() + timeout;
    let local = bind.unwrap_or(if addr.is_ipv4() {
        SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0))
    } else {
        SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0))
    });
    let socket = UdpSocket::bind(local)
        .await
        .map_err(|e| Failure::Io("bind", e))?;
    socket
        .connect(addr)
        .await
        .map_err(|e| Failure::Io("connect", e))?;
    match socket.send(payload).await {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
            return Err(Failure::PortUnreachable)
        }
        Err(e) => return Err(Failure::Io("send", e)),
    }
    let mut reply = [0u8; 2048];
    match timeout_at(deadline, socket.recv(&mut reply)).await {
        Ok(Ok(n)) => Ok(format!("reply of {n} bytes")),
        Ok(Err(e)) if e.kind() == io::ErrorKind::ConnectionRefused => Err(Failure::PortUnreachable),
        Ok(Err(e)) => Err(Failure::Io("receive", e)),
        Err(_) if require_reply => Err(Failure::NoReply),
        Err(_) => Ok("no reply, no port unreachable".to_owned()),
    }
}
