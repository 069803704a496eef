//! Shared helpers for the integration tests: fast timing, tiny loopback servers and
//! event waiting with generous bounds.
// Each test binary uses some of these; tests may unwrap.
#![allow(dead_code, clippy::unwrap_used)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rvs_health::{CheckKind, CheckSpec, HealthEvent, HealthEvents, TargetId, Timing};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;

/// Generous bound for "eventually" in tests (never a timing assertion).
pub const WITHIN: Duration = Duration::from_secs(10);

/// Checks every 50 ms, retries after 20 ms, 1 s to connect, no warmup.
pub fn fast_timing() -> Timing {
    Timing {
        delay_loop: Duration::from_millis(50),
        connect_timeout: Duration::from_secs(1),
        retry: 1,
        delay_before_retry: Duration::from_millis(20),
        warmup: None,
    }
}

pub fn spec(target: u64, addr: SocketAddr, kind: CheckKind) -> CheckSpec {
    let mut s = CheckSpec::new(TargetId(target), addr, kind);
    s.timing = fast_timing();
    s
}

/// Wait for the first event matching `pred`, returning it and every event before it.
pub async fn wait_for(
    rx: &mut HealthEvents,
    what: &str,
    pred: impl Fn(&HealthEvent) -> bool,
) -> (HealthEvent, Vec<HealthEvent>) {
    let mut seen = Vec::new();
    let result = tokio::time::timeout(WITHIN, async {
        while let Some(ev) = rx.recv().await {
            if pred(&ev) {
                return Some(ev);
            }
            seen.push(ev);
        }
        None
    })
    .await;
    match result {
        Ok(Some(ev)) => (ev, seen),
        Ok(None) => panic!("event channel closed while waiting for {what}; saw {seen:?}"),
        Err(_) => panic!("no {what} within {WITHIN:?}; saw {seen:?}"),
    }
}

/// A TCP port on loopback that refuses connections. The port stays bound (without
/// listening) while this lives, so no concurrently running test can take it over.
pub struct ClosedPort {
    pub addr: SocketAddr,
    _reserved: tokio::net::TcpSocket,
}

pub fn closed_tcp_port() -> ClosedPort {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = socket.local_addr().unwrap();
    ClosedPort {
        addr,
        _reserved: socket,
    }
}

/// A UDP port nothing listens on, on a loopback address no other test binds.
pub fn closed_udp_port() -> SocketAddr {
    let s = std::net::UdpSocket::bind("127.0.0.77:0").unwrap();
    let addr = s.local_addr().unwrap();
    drop(s);
    addr
}

/// What one HTTP connection sent, and the SNI name when it was TLS.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    pub request: Vec<u8>,
    pub sni: Option<String>,
}

pub type Log = Arc<Mutex<Vec<Seen>>>;

/// Read a request head, record it, answer `response`, close.
pub async fn answer<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    response: &[u8],
    log: &Log,
    sni: Option<String>,
) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    log.lock().unwrap().push(Seen { request: buf, sni });
    let _ = stream.write_all(response).await;
    let _ = stream.shutdown().await;
}

/// A plain HTTP server answering every connection with `response`.
pub async fn http_server(response: Vec<u8>) -> (SocketAddr, Log) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let log: Log = Arc::default();
    let log2 = log.clone();
    let response = Arc::new(response);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let log = log2.clone();
            let response = response.clone();
            tokio::spawn(async move { answer(stream, &response, &log, None).await });
        }
    });
    (addr, log)
}

pub fn response(status: &str, body: &[u8]) -> Vec<u8> {
    let mut r = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    r.extend_from_slice(body);
    r
}

/// A scratch directory for a test, removed by the caller when done (best effort).
pub fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rvs-health-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Whether a process is gone (absent, or a zombie nobody reaped yet).
pub fn process_gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

/// Wait (bounded) for a file a script writes, and read a pid from it.
pub async fn read_pid(path: &std::path::Path) -> u32 {
    let deadline = tokio::time::Instant::now() + WITHIN;
    loop {
        if let Ok(text) = std::fs::read_to_string(path) {
            if let Ok(pid) = text.trim().parse() {
                return pid;
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no pid in {}",
            path.display()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Wait (bounded) until `pid` is gone.
pub async fn wait_gone(pid: u32) {
    let deadline = tokio::time::Instant::now() + WITHIN;
    while !process_gone(pid) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "process {pid} still alive"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}
