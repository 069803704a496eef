//! HTTP_GET and SSL_GET: one GET per url, status/digest/expected-text verdicts, and a
//! small sans-IO HTTP/1.x response reader (Content-Length, chunked, or until close).

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use md5::{Digest, Md5};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::{timeout_at, Instant};

use super::tcp::{connect, contains};
use super::tls::TlsSetup;
use super::Failure;
use crate::spec::UrlCheck;

/// Largest response (head and body) read; a health page bigger than this is a failure.
const MAX_RESPONSE: usize = 8 * 1024 * 1024;

/// Why a response could not be read as HTTP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HttpError {
    BadStatusLine,
    BadHeader,
    BadContentLength,
    BadChunk,
    /// The connection closed before the response was complete.
    Truncated,
    TooLarge,
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            HttpError::BadStatusLine => "malformed status line",
            HttpError::BadHeader => "malformed header",
            HttpError::BadContentLength => "invalid Content-Length",
            HttpError::BadChunk => "malformed chunked body",
            HttpError::Truncated => "connection closed before the response was complete",
            HttpError::TooLarge => "response too large",
        };
        f.write_str(s)
    }
}

/// The parsed status line and the headers that frame the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Head {
    pub status: u16,
    pub content_length: Option<usize>,
    pub chunked: bool,
    /// Bytes of status line and headers, blank line included.
    pub len: usize,
}

impl Head {
    fn has_body(&self) -> bool {
        !(self.status < 200 || self.status == 204 || self.status == 304)
    }
}

/// Split off the next line (without its `\n` or `\r\n`), or None when incomplete.
fn next_line(buf: &[u8]) -> Option<(&[u8], usize)> {
    let nl = buf.iter().position(|&b| b == b'\n')?;
    let line = &buf[..nl];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    Some((line, nl + 1))
}

/// Parse the response head at the start of `buf`; Ok(None) until it is complete.
pub(crate) fn parse_head(buf: &[u8]) -> Result<Option<Head>, HttpError> {
    let Some((status_line, mut pos)) = next_line(buf) else {
        if buf.len() > 5 && !buf.starts_with(b"HTTP/") {
            return Err(HttpError::BadStatusLine);
        }
        return Ok(None);
    };
    let status = parse_status_line(status_line)?;
    let mut head = Head {
        status,
        content_length: None,
        chunked: false,
        len: 0,
    };
    loop {
        let Some((line, used)) = next_line(&buf[pos..]) else {
            return Ok(None);
        };
        pos += used;
        if line.is_empty() {
            head.len = pos;
            return Ok(Some(head));
        }
        let colon = line
            .iter()
            .position(|&b| b == b':')
            .ok_or(HttpError::BadHeader)?;
        let name = &line[..colon];
        let value = trim(&line[colon + 1..]);
        if name.eq_ignore_ascii_case(b"content-length") {
            let text = std::str::from_utf8(value).map_err(|_| HttpError::BadContentLength)?;
            let len: usize = text.parse().map_err(|_| HttpError::BadContentLength)?;
            if head.content_length.is_some_and(|l| l != len) {
                return Err(HttpError::BadContentLength);
            }
            head.content_length = Some(len);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            // The last coding decides the framing; only chunked is framed.
            let last = value.rsplit(|&b| b == b',').next().map(trim).unwrap_or(b"");
            head.chunked = last.eq_ignore_ascii_case(b"chunked");
        }
    }
}

fn parse_status_line(line: &[u8]) -> Result<u16, HttpError> {
    let rest = line
        .strip_prefix(b"HTTP/")
        .ok_or(HttpError::BadStatusLine)?;
    let sp = rest
        .iter()
        .position(|&b| b == b' ')
        .ok_or(HttpError::BadStatusLine)?;
    let code = rest[sp + 1..].get(..3).ok_or(HttpError::BadStatusLine)?;
    if !code.iter().all(u8::is_ascii_digit) {
        return Err(HttpError::BadStatusLine);
    }
    if rest.get(sp + 4).is_some_and(|&b| b != b' ') {
        return Err(HttpError::BadStatusLine);
    }
    let status = code
        .iter()
        .fold(0u16, |acc, d| acc * 10 + u16::from(d - b'0'));
    Ok(status)
}

fn trim(s: &[u8]) -> &[u8] {
    let start = s
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &s[start..end.max(start)]
}

/// Decode a chunked body; Ok(None) until the last chunk has arrived.
pub(crate) fn decode_chunked(mut data: &[u8]) -> Result<Option<Vec<u8>>, HttpError> {
    let mut body = Vec::new();
    loop {
        let Some((line, used)) = next_line(data) else {
            return Ok(None);
        };
        let size_text = line.split(|&b| b == b';').next().map(trim).unwrap_or(b"");
        let size_text = std::str::from_utf8(size_text).map_err(|_| HttpError::BadChunk)?;
        let size = usize::from_str_radix(size_text, 16).map_err(|_| HttpError::BadChunk)?;
        data = &data[used..];
        if size == 0 {
            // Trailers until a blank line; a peer closing right after "0\r\n" is
            // accepted by the caller at end of stream.
            loop {
                let Some((line, used)) = next_line(data) else {
                    return Ok(None);
                };
                data = &data[used..];
                if line.is_empty() {
                    return Ok(Some(body));
                }
            }
        }
        if size > MAX_RESPONSE {
            return Err(HttpError::TooLarge);
        }
        if data.len() < size {
            return Ok(None);
        }
        body.extend_from_slice(&data[..size]);
        data = &data[size..];
        match data {
            [] | [b'\r'] => return Ok(None),
            [b'\r', b'\n', ..] => data = &data[2..],
            [b'\n', ..] => data = &data[1..],
            _ => return Err(HttpError::BadChunk),
        }
    }
}

/// The body, once `data` (everything after the head) holds all of it.
pub(crate) fn complete_body(
    head: &Head,
    data: &[u8],
    eof: bool,
) -> Result<Option<Vec<u8>>, HttpError> {
    if !head.has_body() {
        return Ok(Some(Vec::new()));
    }
    if head.chunked {
        return match decode_chunked(data)? {
            Some(body) => Ok(Some(body)),
            None if eof => {
                // Tolerate a missing final CRLF after the last chunk.
                let mut closed = data.to_vec();
                closed.extend_from_slice(b"\r\n\r\n");
                decode_chunked(&closed)?
                    .map(Some)
                    .ok_or(HttpError::Truncated)
            }
            None => Ok(None),
        };
    }
    match head.content_length {
        Some(len) if data.len() >= len => Ok(Some(data[..len].to_vec())),
        Some(_) if eof => Err(HttpError::Truncated),
        Some(_) => Ok(None),
        None if eof => Ok(Some(data.to_vec())),
        None => Ok(None),
    }
}

/// A complete response.
#[derive(Debug)]
pub(crate) struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

/// The GET request keepalived would send (HTTP/1.0), with our User-Agent.
pub(crate) fn build_request(path: &str, host: &str) -> Vec<u8> {
    format!(
        "GET {path} HTTP/1.0\r\nUser-Agent: rvs-health\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .into_bytes()
}

/// The Host header value: the virtualhost, or the checked address and port.
pub(crate) fn host_header(addr: SocketAddr, virtualhost: Option<&str>) -> String {
    match virtualhost {
        Some(v) => v.to_owned(),
        None => addr.to_string(),
    }
}

/// Send `request` and read one response from `stream`.
async fn exchange<S>(stream: &mut S, request: &[u8]) -> Result<Response, Failure>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    stream
        .write_all(request)
        .await
        .map_err(|e| Failure::Io("send request", e))?;
    stream
        .flush()
        .await
        .map_err(|e| Failure::Io("send request", e))?;
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    let mut chunk = [0u8; 8192];
    let mut head: Option<Head> = None;
    loop {
        if head.is_none() {
            if let Some(h) = parse_head(&buf).map_err(Failure::HttpMalformed)? {
                if (100..200).contains(&h.status) && h.status != 101 {
                    // An interim response (100 Continue): the real one follows.
                    buf.drain(..h.len);
                    continue;
                }
                head = Some(h);
            }
        }
        if let Some(h) = &head {
            if let Some(body) =
                complete_body(h, &buf[h.len..], false).map_err(Failure::HttpMalformed)?
            {
                return Ok(Response {
                    status: h.status,
                    body,
                });
            }
        }
        let n = match stream.read(&mut chunk).await {
            Ok(n) => n,
            // Many TLS servers close without close_notify; after the head, treat that
            // as the end of the body, as browsers and curl do.
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof && head.is_some() => 0,
            Err(e) => return Err(Failure::Io("read response", e)),
        };
        if n == 0 {
            let Some(h) = &head else {
                return Err(Failure::HttpMalformed(HttpError::Truncated));
            };
            let body = complete_body(h, &buf[h.len..], true)
                .map_err(Failure::HttpMalformed)?
                .ok_or(Failure::HttpMalformed(HttpError::Truncated))?;
            return Ok(Response {
                status: h.status,
                body,
            });
        }
        if buf.len() + n > MAX_RESPONSE {
            return Err(Failure::HttpMalformed(HttpError::TooLarge));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Fetch one url over a fresh connection (TLS when `tls` is set).
async fn fetch(
    addr: SocketAddr,
    bind: Option<SocketAddr>,
    deadline: Instant,
    timeout: Duration,
    request: &[u8],
    tls: Option<&TlsSetup>,
) -> Result<Response, Failure> {
    let stream = connect(addr, bind, deadline, timeout).await?;
    let exchange = async {
        match tls {
            None => {
                let mut stream = stream;
                exchange(&mut stream, request).await
            }
            Some(setup) => {
                let mut stream = setup.handshake(stream).await?;
                exchange(&mut stream, request).await
            }
        }
    };
    timeout_at(deadline, exchange)
        .await
        .unwrap_or(Err(Failure::Timeout(
            "waiting for the HTTP response",
            timeout,
        )))
}

/// Check every url in turn; the first failing one fails the check.
pub(super) async fn check_urls(
    addr: SocketAddr,
    bind: Option<SocketAddr>,
    timeout: Duration,
    urls: &[UrlCheck],
    virtualhost: Option<&str>,
    tls: Option<&TlsSetup>,
) -> Result<String, Failure> {
    let host = host_header(addr, virtualhost);
    let mut last_status = 0;
    for url in urls {
        let request = build_request(&url.path, &host);
        let deadline = Instant::now() + timeout;
        let response = fetch(addr, bind, deadline, timeout, &request, tls).await?;
        verify(url, &response)?;
        last_status = response.status;
    }
    Ok(match urls {
        [one] => format!("HTTP status {last_status} for {}", one.path),
        _ => format!("{} urls ok", urls.len()),
    })
}

/// Apply a url's status, digest and expected-text rules to its response.
pub(crate) fn verify(url: &UrlCheck, response: &Response) -> Result<(), Failure> {
    if !url.accepts(response.status) {
        return Err(Failure::HttpStatus {
            path: url.path.clone(),
            status: response.status,
        });
    }
    if let Some(want) = url.digest {
        let got: [u8; 16] = Md5::digest(&response.body).into();
        if got != want {
            return Err(Failure::HttpDigest {
                path: url.path.clone(),
                got,
            });
        }
    }
    if let Some(expect) = &url.expect {
        if !contains(&response.body, expect.as_bytes()) {
            return Err(Failure::HttpExpect {
                path: url.path.clone(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn full(resp: &[u8]) -> Result<Option<(u16, Vec<u8>)>, HttpError> {
        let Some(h) = parse_head(resp)? else {
            return Ok(None);
        };
        Ok(complete_body(&h, &resp[h.len..], true)?.map(|b| (h.status, b)))
    }

    #[test]
    fn content_length_framing() {
        let r = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloEXTRA";
        let h = parse_head(r).unwrap().unwrap();
        assert_eq!(h.status, 200);
        assert_eq!(h.content_length, Some(5));
        assert_eq!(
            complete_body(&h, &r[h.len..], false).unwrap().unwrap(),
            b"hello"
        );
        let short = b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nhello";
        let h = parse_head(short).unwrap().unwrap();
        assert_eq!(complete_body(&h, &short[h.len..], false).unwrap(), None);
        assert_eq!(
            complete_body(&h, &short[h.len..], true),
            Err(HttpError::Truncated)
        );
    }

    #[test]
    fn until_close_and_bare_newlines() {
        assert_eq!(
            full(b"HTTP/1.0 503 Service Unavailable\nServer: x\n\nbusy").unwrap(),
            Some((503, b"busy".to_vec()))
        );
        assert_eq!(
            full(b"HTTP/1.0 204 No Content\r\n\r\n").unwrap(),
            Some((204, vec![]))
        );
    }

    #[test]
    fn chunked_framing() {
        let body = b"4\r\nWiki\r\n5;ext=1\r\npedia\r\n0\r\nX-T: 1\r\n\r\n";
        assert_eq!(decode_chunked(body).unwrap().unwrap(), b"Wikipedia");
        assert_eq!(decode_chunked(&body[..10]).unwrap(), None);
        assert_eq!(decode_chunked(b"zz\r\n"), Err(HttpError::BadChunk));
        assert_eq!(decode_chunked(b"2\r\nabX\r\n"), Err(HttpError::BadChunk));
        let r = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n";
        assert_eq!(full(r).unwrap(), Some((200, b"abc".to_vec())));
    }

    #[test]
    fn malformed_heads() {
        assert_eq!(
            parse_head(b"SSH-2.0-OpenSSH\r\n"),
            Err(HttpError::BadStatusLine)
        );
        assert_eq!(
            parse_head(b"HTTP/1.1 2x0 OK\r\n\r\n"),
            Err(HttpError::BadStatusLine)
        );
        assert_eq!(
            parse_head(b"HTTP/1.1 2000 OK\r\n\r\n"),
            Err(HttpError::BadStatusLine)
        );
        assert_eq!(
            parse_head(b"HTTP/1.1 200 OK\r\nNoColon\r\n\r\n"),
            Err(HttpError::BadHeader)
        );
        assert_eq!(
            parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"),
            Err(HttpError::BadContentLength)
        );
        assert_eq!(parse_head(b"HTTP/1.1 200 OK\r\nServer: x\r\n"), Ok(None));
        assert_eq!(parse_head(b"HTT"), Ok(None));
        assert_eq!(
            parse_head(b"HTTP/1.1 200\r\n\r\n").unwrap().unwrap().status,
            200
        );
    }

    #[test]
    fn request_and_host() {
        let v4: SocketAddr = "198.51.100.7:8080".parse().unwrap();
        let v6: SocketAddr = "[2001:db8::7]:80".parse().unwrap();
        assert_eq!(host_header(v4, None), "198.51.100.7:8080");
        assert_eq!(host_header(v6, None), "[2001:db8::7]:80");
        assert_eq!(host_header(v4, Some("www.example.com")), "www.example.com");
        let req = build_request("/health", "www.example.com");
        assert!(req.starts_with(b"GET /health HTTP/1.0\r\n"));
        assert!(contains(&req, b"\r\nHost: www.example.com\r\n"));
        assert!(req.ends_with(b"\r\n\r\n"));
    }

    #[test]
    fn verdicts() {
        let resp = Response {
            status: 200,
            body: b"hello world".to_vec(),
        };
        let mut url = UrlCheck::new("/");
        assert!(verify(&url, &resp).is_ok());
        url.digest = Some(Md5::digest(b"hello world").into());
        url.expect = Some("lo wo".into());
        assert!(verify(&url, &resp).is_ok());
        url.expect = Some("bye".into());
        assert!(matches!(
            verify(&url, &resp),
            Err(Failure::HttpExpect { .. })
        ));
        url.expect = None;
        url.digest = Some([0; 16]);
        assert!(matches!(
            verify(&url, &resp),
            Err(Failure::HttpDigest { .. })
        ));
        url.digest = None;
        url.status_codes = vec![300..=399];
        assert!(matches!(
            verify(&url, &resp),
            Err(Failure::HttpStatus { status: 200, .. })
        ));
    }

    proptest! {
        #[test]
        fn parser_never_panics(data in proptest::collection::vec(any::<u8>(), 0..300), eof in any::<bool>()) {
            if let Ok(Some(h)) = parse_head(&data) {
                prop_assert!(h.len <= data.len());
                let _ = complete_body(&h, &data[h.len..], eof);
            }
            let _ = decode_chunked(&data);
        }

        /// Splitting a body into arbitrary chunks and decoding gives it back.
        #[test]
        fn chunked_round_trip(body in proptest::collection::vec(any::<u8>(), 0..200), cuts in proptest::collection::vec(1usize..40, 0..10)) {
            let mut enc = Vec::new();
            let mut rest = &body[..];
            for c in cuts {
                if rest.is_empty() { break; }
                let n = c.min(rest.len());
                enc.extend_from_slice(format!("{n:x}\r\n").as_bytes());
                enc.extend_from_slice(&rest[..n]);
                enc.extend_from_slice(b"\r\n");
                rest = &rest[n..];
            }
            if !rest.is_empty() {
                enc.extend_from_slice(format!("{:X}\r\n", rest.len()).as_bytes());
                enc.extend_from_slice(rest);
                enc.extend_from_slice(b"\r\n");
            }
            enc.extend_from_slice(b"0\r\n\r\n");
            prop_assert_eq!(decode_chunked(&enc).unwrap(), Some(body.clone()));
            // Any strict prefix is incomplete, never an error or a wrong body.
            for cut in 0..enc.len() {
                prop_assert_eq!(decode_chunked(&enc[..cut]), Ok(None));
            }
        }
    }
}
