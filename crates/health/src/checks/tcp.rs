//! TCP_CHECK (connect only) and Piranha-style send/expect over TCP.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::{timeout_at, Instant};

use super::Failure;

/// How much of a send/expect reply is searched for the expected text.
const MAX_EXPECT_REPLY: usize = 64 * 1024;

/// Open a TCP connection from `bind` (if any) to `addr`, by `deadline`.
pub(super) async fn connect(
    addr: SocketAddr,
    bind: Option<SocketAddr>,
    deadline: Instant,
    timeout: Duration,
) -> Result<TcpStream, Failure> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }
    .map_err(|e| Failure::Io("socket", e))?;
    if let Some(bind) = bind {
        socket.bind(bind).map_err(|e| Failure::Io("bind", e))?;
    }
    match timeout_at(deadline, socket.connect(addr)).await {
        Ok(Ok(stream)) => {
            // Checks are tiny request/response exchanges: do not wait for Nagle.
            let _ = stream.set_nodelay(true);
            Ok(stream)
        }
        Ok(Err(e)) => Err(Failure::Io("connect", e)),
        Err(_) => Err(Failure::Timeout("connecting", timeout)),
    }
}

pub(super) async fn check_connect(
    addr: SocketAddr,
    bind: Option<SocketAddr>,
    timeout: Duration,
) -> Result<String, Failure> {
    let deadline = Instant::now() + timeout;
    let _stream = connect(addr, bind, deadline, timeout).await?;
    Ok("connected".to_owned())
}

pub(super) async fn check_send_expect(
    addr: SocketAddr,
    bind: Option<SocketAddr>,
    timeout: Duration,
    send: &[u8],
    expect: Option<&str>,
) -> Result<String, Failure> {
    let deadline = Instant::now() + timeout;
    let mut stream = connect(addr, bind, deadline, timeout).await?;
    if !send.is_empty() {
        match timeout_at(deadline, stream.write_all(send)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(Failure::Io("send", e)),
            Err(_) => return Err(Failure::Timeout("sending", timeout)),
        }
    }
    let Some(expect) = expect else {
        return Ok("sent".to_owned());
    };
    let needle = expect.as_bytes();
    let mut reply = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    loop {
        let n = match timeout_at(deadline, stream.read(&mut chunk)).await {
            Ok(Ok(n)) => n,
            Ok(Err(e)) => return Err(Failure::Io("receive", e)),
            Err(_) => return Err(Failure::Timeout("waiting for the expected reply", timeout)),
        };
        if n == 0 {
            return Err(Failure::ExpectNotSeen);
        }
        let take = n.min(MAX_EXPECT_REPLY - reply.len());
        reply.extend_from_slice(&chunk[..take]);
        if contains(&reply, needle) {
            return Ok("expected reply received".to_owned());
        }
        if reply.len() >= MAX_EXPECT_REPLY {
            return Err(Failure::ExpectNotSeen);
        }
    }
}

/// Whether `needle` occurs in `haystack` (an empty needle always does).
pub(super) fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::contains;

    #[test]
    fn substring_search() {
        assert!(contains(b"HTTP/1.0 200 OK\r\n\r\nall good", b"good"));
        assert!(contains(b"abc", b""));
        assert!(!contains(b"ab", b"abc"));
        assert!(!contains(b"", b"x"));
    }
}
