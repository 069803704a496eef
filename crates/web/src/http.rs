//! The HTTP/1.1 listener: a plain `std` TCP server, one short-lived thread per client
//! (a few at most), GET and HEAD only, one request per connection. It serves
//! `/metrics`, `/`, `/status.json`, and the page's `/status.css` and `/status.js`;
//! everything is read-only. Each request takes one fresh observation from the
//! daemon (the counters are read at that moment, never pushed by the data plane).
//!
//! Where it listens is the operator's choice, within limits: never on a VIP (that
//! traffic belongs to the real servers, and the director's own rules drop it) and
//! never on a wildcard address (which would include the VIPs); a loopback or a
//! management address.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::model::Observed;
use crate::{exposition, metrics, page};

/// The address `--metrics-listen` takes when given without one.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9810";
/// Longest request head accepted.
const MAX_REQUEST: usize = 8 * 1024;
/// Clients served at once; more are told to come back (503).
const MAX_CLIENTS: usize = 8;
/// How long a client may take to send its request or read the answer.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a closing connection waits for the client to finish sending.
const LINGER: Duration = Duration::from_secs(1);
/// How often the accept loop looks at the stop flag.
const ACCEPT_POLL: Duration = Duration::from_millis(50);

/// The daemon's side: one fresh observation per request.
pub trait Observe: Send + Sync + 'static {
    fn observe(&self) -> Result<Observed, String>;
}

impl<F> Observe for F
where
    F: Fn() -> Result<Observed, String> + Send + Sync + 'static,
{
    fn observe(&self) -> Result<Observed, String> {
        self()
    }
}

/// Why the listener could not start.
#[derive(Debug)]
pub enum WebError {
    /// The address is a VIP of a virtual service.
    Vip(SocketAddr),
    /// 0.0.0.0 or `::`: that would listen on every VIP too.
    Wildcard(SocketAddr),
    Bind(SocketAddr, io::Error),
}

impl fmt::Display for WebError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WebError::Vip(a) => write!(
                f,
                "{a}: the metrics listener may not use a VIP; use a loopback or management address"
            ),
            WebError::Wildcard(a) => write!(
                f,
                "{a}: the metrics listener needs one address (a wildcard would include the VIPs); \
                 use a loopback or management address"
            ),
            WebError::Bind(a, e) => write!(f, "metrics listener {a}: {e}"),
        }
    }
}

impl std::error::Error for WebError {}

/// Whether the listener may use `addr`, given the director's VIPs.
pub fn check_listen_addr(addr: SocketAddr, vips: &[IpAddr]) -> Result<(), WebError> {
    if addr.ip().is_unspecified() {
        return Err(WebError::Wildcard(addr));
    }
    if vips.contains(&addr.ip()) {
        return Err(WebError::Vip(addr));
    }
    Ok(())
}

/// A bound listener, ready to run.
pub struct WebServer {
    listener: TcpListener,
    observe: Arc<dyn Observe>,
}

impl WebServer {
    /// Binds `addr` after [`check_listen_addr`].
    pub fn bind(
        addr: SocketAddr,
        vips: &[IpAddr],
        observe: Arc<dyn Observe>,
    ) -> Result<WebServer, WebError> {
        check_listen_addr(addr, vips)?;
        let listener = TcpListener::bind(addr).map_err(|e| WebError::Bind(addr, e))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| WebError::Bind(addr, e))?;
        Ok(WebServer { listener, observe })
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `stop` is set.
    pub fn run(self, stop: Arc<AtomicBool>) {
        let clients = Arc::new(AtomicUsize::new(0));
        while !stop.load(Relaxed) {
            match self.listener.accept() {
                Ok((stream, _)) => {
                    if clients.load(Relaxed) >= MAX_CLIENTS {
                        let _ = stream.set_write_timeout(Some(CLIENT_TIMEOUT));
                        let _ = write_response(
                            &stream,
                            &Response::text(503, "busy, try again\n"),
                            false,
                        );
                        continue;
                    }
                    clients.fetch_add(1, Relaxed);
                    let observe = self.observe.clone();
                    let done = clients.clone();
                    let spawned = std::thread::Builder::new()
                        .name("rvsd-web-client".into())
                        .spawn(move || {
                            serve(stream, observe.as_ref());
                            done.fetch_sub(1, Relaxed);
                        });
                    if spawned.is_err() {
                        clients.fetch_sub(1, Relaxed);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::thread::sleep(ACCEPT_POLL),
                Err(e) => {
                    tracing::warn!("metrics listener: {e}");
                    std::thread::sleep(ACCEPT_POLL);
                }
            }
        }
    }

    /// Runs the server on its own thread.
    pub fn spawn(self, stop: Arc<AtomicBool>) -> io::Result<JoinHandle<()>> {
        std::thread::Builder::new()
            .name("rvsd-web".into())
            .spawn(move || self.run(stop))
    }
}

fn serve(mut stream: TcpStream, observe: &dyn Observe) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(CLIENT_TIMEOUT));
    let _ = stream.set_write_timeout(Some(CLIENT_TIMEOUT));
    let mut buf = vec![0u8; MAX_REQUEST];
    let mut len = 0;
    let head_end = loop {
        if let Some(end) = find_head_end(&buf[..len]) {
            break end;
        }
        if len == buf.len() {
            let _ = write_response(&stream, &Response::text(431, "request too large\n"), false);
            linger(&mut stream, &mut buf);
            return;
        }
        match stream.read(&mut buf[len..]) {
            Ok(0) | Err(_) => return,
            Ok(n) => len += n,
        }
    };
    let (response, head_only) = match parse_request(&buf[..head_end]) {
        Ok(req) => (respond(&req, observe), req.method == Method::Head),
        Err(status) => (Response::text(status, "bad request\n"), false),
    };
    let _ = write_response(&stream, &response, head_only);
    linger(&mut stream, &mut buf);
}

/// Closes gracefully: stop sending, then read (and discard, bounded) what the client
/// still sends, so that unread input does not turn the close into a reset that could
/// destroy the answer before the client has read it.
fn linger(stream: &mut TcpStream, buf: &mut [u8]) {
    let _ = stream.shutdown(Shutdown::Write);
    let _ = stream.set_read_timeout(Some(LINGER));
    let mut left = 16 * MAX_REQUEST;
    while left > 0 {
        match stream.read(buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => left = left.saturating_sub(n),
        }
    }
}

fn find_head_end(b: &[u8]) -> Option<usize> {
    b.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4)
}

/// The methods served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    /// Anything else: answered 405.
    Other,
}

/// A parsed request line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub method: Method,
    /// The path, without the query string.
    pub path: String,
}

/// Parses the head of a request; `Err` carries the status to answer.
pub fn parse_request(head: &[u8]) -> Result<Request, u16> {
    let text = std::str::from_utf8(head).map_err(|_| 400u16)?;
    let line = text.split("\r\n").next().unwrap_or_default();
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(400);
    };
    if version != "HTTP/1.1" && version != "HTTP/1.0" {
        return Err(505);
    }
    if !target.starts_with('/') {
        return Err(400);
    }
    let method = match method {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        _ => Method::Other,
    };
    let path = target.split(['?', '#']).next().unwrap_or("/").to_string();
    Ok(Request { method, path })
}

/// An answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

impl Response {
    fn new(status: u16, content_type: &'static str, body: impl Into<Vec<u8>>) -> Response {
        Response {
            status,
            content_type,
            body: body.into(),
        }
    }

    fn text(status: u16, body: &str) -> Response {
        Response::new(status, "text/plain; charset=utf-8", body)
    }
}

/// The answer to a request: the routing of the server, without sockets.
pub fn respond(req: &Request, observe: &dyn Observe) -> Response {
    if req.method == Method::Other {
        return Response::text(405, "only GET and HEAD: this server is read-only\n");
    }
    let fresh =
        |render: fn(&Observed) -> String, content_type: &'static str| match observe.observe() {
            Ok(o) => Response::new(200, content_type, render(&o)),
            Err(e) => Response::text(503, &format!("no observation: {e}\n")),
        };
    match req.path.as_str() {
        "/metrics" => fresh(metrics::render, exposition::CONTENT_TYPE),
        "/" | "/index.html" => fresh(page::render, "text/html; charset=utf-8"),
        "/status.json" => fresh(page::status_json, "application/json"),
        "/status.css" => Response::new(200, "text/css; charset=utf-8", page::STYLE),
        "/status.js" => Response::new(200, "text/javascript; charset=utf-8", page::SCRIPT),
        _ => Response::text(404, "not found: try /, /metrics or /status.json\n"),
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

fn write_response(mut w: &TcpStream, r: &Response, head_only: bool) -> io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\
Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n\
Content-Security-Policy: default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
base-uri 'none'; form-action 'none'; frame-ancestors 'none'\r\n",
        r.status,
        reason(r.status),
        r.content_type,
        r.body.len()
    );
    if r.status == 405 {
        head.push_str("Allow: GET, HEAD\r\n");
    }
    head.push_str("\r\n");
    w.write_all(head.as_bytes())?;
    if !head_only {
        w.write_all(&r.body)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn observed() -> Result<Observed, String> {
        Ok(Observed::default())
    }

    #[test]
    fn request_lines() {
        assert_eq!(
            parse_request(b"GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\n\r\n"),
            Ok(Request {
                method: Method::Get,
                path: "/metrics".into()
            })
        );
        assert_eq!(
            parse_request(b"HEAD / HTTP/1.0\r\n\r\n").map(|r| r.method),
            Ok(Method::Head)
        );
        assert_eq!(
            parse_request(b"POST / HTTP/1.1\r\n\r\n").map(|r| r.method),
            Ok(Method::Other)
        );
        assert_eq!(parse_request(b"GET /\r\n\r\n"), Err(400));
        assert_eq!(parse_request(b"GET / HTTP/2\r\n\r\n"), Err(505));
        assert_eq!(parse_request(b"GET http://x/ HTTP/1.1\r\n\r\n"), Err(400));
        assert_eq!(parse_request(b"\xff\xfe HTTP/1.1\r\n\r\n"), Err(400));
    }

    #[test]
    fn routes() {
        let get = |p: &str| {
            respond(
                &Request {
                    method: Method::Get,
                    path: p.into(),
                },
                &observed,
            )
        };
        assert_eq!(get("/metrics").status, 200);
        assert_eq!(get("/metrics").content_type, exposition::CONTENT_TYPE);
        assert!(get("/").body.starts_with(b"<!DOCTYPE html>"));
        assert_eq!(get("/status.json").content_type, "application/json");
        assert_eq!(get("/status.js").status, 200);
        assert_eq!(get("/nope").status, 404);
        let post = Request {
            method: Method::Other,
            path: "/".into(),
        };
        assert_eq!(respond(&post, &observed).status, 405);
        let failing = || -> Result<Observed, String> { Err("control plane busy".into()) };
        assert_eq!(
            respond(
                &Request {
                    method: Method::Get,
                    path: "/metrics".into()
                },
                &failing
            )
            .status,
            503
        );
    }

    #[test]
    fn refuses_vips_and_wildcards() {
        let vip: IpAddr = "192.0.2.10".parse().unwrap();
        assert!(matches!(
            check_listen_addr("192.0.2.10:9810".parse().unwrap(), &[vip]),
            Err(WebError::Vip(_))
        ));
        assert!(matches!(
            check_listen_addr("0.0.0.0:9810".parse().unwrap(), &[vip]),
            Err(WebError::Wildcard(_))
        ));
        assert!(matches!(
            check_listen_addr("[::]:9810".parse().unwrap(), &[]),
            Err(WebError::Wildcard(_))
        ));
        assert!(check_listen_addr(DEFAULT_LISTEN.parse().unwrap(), &[vip]).is_ok());
    }

    fn fetch(addr: SocketAddr, request: &str) -> String {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(request.as_bytes()).unwrap();
        let _ = s.shutdown(Shutdown::Write);
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    }

    #[test]
    fn serves_over_loopback() {
        let server =
            WebServer::bind("127.0.0.1:0".parse().unwrap(), &[], Arc::new(observed)).unwrap();
        let addr = server.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let thread = server.spawn(stop.clone()).unwrap();

        let metrics = fetch(addr, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(metrics.starts_with("HTTP/1.1 200 OK\r\n"), "{metrics}");
        assert!(metrics.contains("\r\nContent-Type: text/plain; version=0.0.4"));
        assert!(metrics.contains("\nnode_ipvs_connections_total 0\n"));

        let head = fetch(addr, "HEAD /status.json HTTP/1.1\r\n\r\n");
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"));
        assert!(head.ends_with("\r\n\r\n"), "HEAD has no body: {head}");

        let post = fetch(addr, "POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
        assert!(post.starts_with("HTTP/1.1 405 "));
        assert!(post.contains("\r\nAllow: GET, HEAD\r\n"));

        let huge = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(MAX_REQUEST));
        assert!(fetch(addr, &huge).starts_with("HTTP/1.1 431 "));

        stop.store(true, Relaxed);
        thread.join().unwrap();
    }
}
