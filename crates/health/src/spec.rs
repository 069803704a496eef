//! What to check and how often: the checker specification the caller hands to the engine.
//!
//! These are this crate's own types; the keepalived.conf parser maps `TCP_CHECK`,
//! `HTTP_GET`, `SSL_GET`, `MISC_CHECK`, `DNS_CHECK`, `PING_CHECK` and `UDP_CHECK` blocks
//! into them. Defaults follow keepalived (see [`Timing::for_kind`]).

use std::fmt;
use std::net::SocketAddr;
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::time::Duration;

/// Opaque identity of one checker, chosen by the caller (typically one per real server
/// of a virtual service). Events and status are keyed on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TargetId(pub u64);

impl fmt::Display for TargetId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "target {}", self.0)
    }
}

/// Whether a target counts as up before its first check has completed.
///
/// keepalived starts real servers up, unless `alpha` is set, then down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InitialState {
    #[default]
    Up,
    Down,
}

/// One checker: where to connect, what to check, and when.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckSpec {
    pub target: TargetId,
    /// `connect_ip`/`connect_port` (or the real server's address), resolved by the caller.
    pub addr: SocketAddr,
    /// `bindto`/`bind_port`: the source address of the check's sockets. Port 0 = any.
    pub bind: Option<SocketAddr>,
    pub kind: CheckKind,
    pub timing: Timing,
    pub initial: InitialState,
}

impl CheckSpec {
    /// A spec with keepalived's default timing for `kind`, starting up.
    pub fn new(target: TargetId, addr: SocketAddr, kind: CheckKind) -> Self {
        let timing = Timing::for_kind(&kind);
        Self {
            target,
            addr,
            bind: None,
            kind,
            timing,
            initial: InitialState::Up,
        }
    }

    /// True when `other` describes the same check (everything but the initial state,
    /// which only matters for a checker that is not running yet).
    pub(crate) fn same_check(&self, other: &CheckSpec) -> bool {
        self.target == other.target
            && self.addr == other.addr
            && self.bind == other.bind
            && self.kind == other.kind
            && self.timing == other.timing
    }

    /// Reject specifications no check could ever run with.
    pub fn validate(&self) -> Result<(), SpecError> {
        let t = &self.timing;
        if t.delay_loop.is_zero() {
            return Err(SpecError::new(self.target, "delay_loop must be positive"));
        }
        if t.connect_timeout.is_zero() && !matches!(self.kind, CheckKind::Misc { .. }) {
            return Err(SpecError::new(
                self.target,
                "connect_timeout must be positive",
            ));
        }
        if let Some(bind) = self.bind {
            if bind.is_ipv4() != self.addr.is_ipv4() {
                return Err(SpecError::new(
                    self.target,
                    "bind address family differs from the check address",
                ));
            }
        }
        match &self.kind {
            CheckKind::Tcp | CheckKind::Ping | CheckKind::Udp { .. } => Ok(()),
            CheckKind::TcpSendExpect { send, expect } => {
                if send.is_empty() && expect.is_none() {
                    Err(SpecError::new(
                        self.target,
                        "send/expect check with neither",
                    ))
                } else {
                    Ok(())
                }
            }
            CheckKind::Http {
                urls,
                virtualhost,
                tls,
            } => {
                if urls.is_empty() {
                    return Err(SpecError::new(self.target, "HTTP check has no url"));
                }
                for url in urls {
                    if !url.path.starts_with('/') || url.path.bytes().any(is_http_unsafe) {
                        return Err(SpecError::new(
                            self.target,
                            format!("invalid url path {:?}", url.path),
                        ));
                    }
                    if url.status_codes.iter().any(|r| r.start() > r.end()) {
                        return Err(SpecError::new(self.target, "empty status_code range"));
                    }
                }
                let vhost_bad = |h: &String| h.is_empty() || h.bytes().any(is_http_unsafe);
                if virtualhost.as_ref().is_some_and(vhost_bad) {
                    return Err(SpecError::new(self.target, "invalid virtualhost"));
                }
                if let Some(sni) = tls.as_ref().and_then(|t| t.sni.as_ref()) {
                    if rustls::pki_types::ServerName::try_from(sni.as_str()).is_err() {
                        return Err(SpecError::new(self.target, format!("invalid SNI {sni:?}")));
                    }
                }
                Ok(())
            }
            CheckKind::Misc {
                command, timeout, ..
            } => {
                if command.first().is_none_or(|c| c.is_empty()) {
                    return Err(SpecError::new(self.target, "misc check without a command"));
                }
                if command.iter().any(|a| a.contains('\0')) {
                    return Err(SpecError::new(self.target, "NUL byte in misc command"));
                }
                if timeout.is_zero() {
                    return Err(SpecError::new(self.target, "misc_timeout must be positive"));
                }
                Ok(())
            }
            CheckKind::Dns { name, .. } => crate::checks::dns::validate_name(name)
                .map_err(|why| SpecError::new(self.target, format!("DNS name {name:?}: {why}"))),
        }
    }
}

/// Bytes that may not appear in a request path or Host value we build (they would
/// split the request line or inject headers).
fn is_http_unsafe(b: u8) -> bool {
    matches!(b, b'\r' | b'\n' | 0 | b' ' | b'\t')
}

/// The kinds of check, after keepalived's checkers and ldirectord's/Piranha's.
#[derive(Debug, Clone, PartialEq)]
pub enum CheckKind {
    /// `TCP_CHECK`: the check succeeds when a TCP connection is established.
    Tcp,
    /// `HTTP_GET` (or `SSL_GET` when `tls` is set): every url must answer with an
    /// accepted status, and match its digest and expected substring when given.
    Http {
        urls: Vec<UrlCheck>,
        /// The `Host:` header; without it, the checked address and port.
        virtualhost: Option<String>,
        tls: Option<TlsOptions>,
    },
    /// `MISC_CHECK`: run a command (no shell) in its own process group. Exit 0 = up,
    /// 1 = down; with `dynamic` (`misc_dynamic`), 2..=255 = up with weight `code - 2`.
    /// Killed (whole process group) after `timeout` (keepalived's `misc_timeout`,
    /// which defaults to the `delay_loop`; the caller resolves that default).
    Misc {
        command: Vec<String>,
        timeout: Duration,
        dynamic: bool,
        /// Run as this user (needs privilege), as keepalived's `user`.
        user: Option<String>,
    },
    /// `DNS_CHECK`: one query over UDP; up when the answer has RCODE NOERROR and at
    /// least one answer record.
    Dns { qtype: DnsType, name: String },
    /// `PING_CHECK`: one ICMP/ICMPv6 echo answered in time.
    Ping,
    /// `UDP_CHECK`: send `payload`; down on ICMP port unreachable, and, with
    /// `require_reply`, also when nothing comes back in time.
    Udp {
        payload: Vec<u8>,
        require_reply: bool,
    },
    /// Piranha's send/expect over TCP: send `send`, then (if `expect` is set) read until
    /// the reply contains `expect`.
    TcpSendExpect {
        send: Vec<u8>,
        expect: Option<String>,
    },
}

impl CheckKind {
    /// The keepalived keyword for this kind, for logs and details.
    pub fn name(&self) -> &'static str {
        match self {
            CheckKind::Tcp => "TCP_CHECK",
            CheckKind::Http { tls: None, .. } => "HTTP_GET",
            CheckKind::Http { tls: Some(_), .. } => "SSL_GET",
            CheckKind::Misc { .. } => "MISC_CHECK",
            CheckKind::Dns { .. } => "DNS_CHECK",
            CheckKind::Ping => "PING_CHECK",
            CheckKind::Udp { .. } => "UDP_CHECK",
            CheckKind::TcpSendExpect { .. } => "SEND_EXPECT",
        }
    }
}

/// One `url { }` block of HTTP_GET/SSL_GET.
#[derive(Debug, Clone, PartialEq)]
pub struct UrlCheck {
    pub path: String,
    /// Accepted status codes. Empty means keepalived's default, 200..=299.
    pub status_codes: Vec<RangeInclusive<u16>>,
    /// MD5 of the response body (keepalived's `digest`, genhash's output).
    pub digest: Option<[u8; 16]>,
    /// A substring the body must contain (ldirectord's `receive`).
    pub expect: Option<String>,
}

impl UrlCheck {
    /// A url accepting any 2xx answer, with no digest or expected text.
    pub fn new(path: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            status_codes: Vec::new(),
            digest: None,
            expect: None,
        }
    }

    /// Whether `status` is accepted (empty list: 200..=299, as keepalived).
    pub fn accepts(&self, status: u16) -> bool {
        if self.status_codes.is_empty() {
            (200..=299).contains(&status)
        } else {
            self.status_codes.iter().any(|r| r.contains(&status))
        }
    }
}

/// SSL_GET options.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TlsOptions {
    /// Server name to send as SNI (keepalived's `enable_sni` sends the virtualhost).
    /// None sends no SNI.
    pub sni: Option<String>,
    /// Verify the server's certificate chain and name. Off by default, as keepalived:
    /// real servers commonly present self-signed certificates.
    pub verify: bool,
    /// PEM bundle of trusted CAs when verifying; None uses the system bundle. An
    /// unreadable bundle fails every check of this checker, with the reason as detail.
    pub ca_file: Option<PathBuf>,
}

/// DNS query types keepalived's DNS_CHECK knows, plus any other by number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DnsType {
    A,
    Ns,
    Cname,
    /// keepalived's default (with the root name).
    #[default]
    Soa,
    Mx,
    Txt,
    Aaaa,
    Rrsig,
    Dnskey,
    Other(u16),
}

impl DnsType {
    pub fn code(self) -> u16 {
        match self {
            DnsType::A => 1,
            DnsType::Ns => 2,
            DnsType::Cname => 5,
            DnsType::Soa => 6,
            DnsType::Mx => 15,
            DnsType::Txt => 16,
            DnsType::Aaaa => 28,
            DnsType::Rrsig => 46,
            DnsType::Dnskey => 48,
            DnsType::Other(c) => c,
        }
    }

    /// Parse keepalived's `type` keyword (case-insensitive).
    pub fn from_name(name: &str) -> Option<Self> {
        let t = match name.to_ascii_uppercase().as_str() {
            "A" => DnsType::A,
            "NS" => DnsType::Ns,
            "CNAME" => DnsType::Cname,
            "SOA" => DnsType::Soa,
            "MX" => DnsType::Mx,
            "TXT" => DnsType::Txt,
            "AAAA" => DnsType::Aaaa,
            "RRSIG" => DnsType::Rrsig,
            "DNSKEY" => DnsType::Dnskey,
            _ => return None,
        };
        Some(t)
    }
}

/// When checks run, after keepalived's checker timing keywords.
///
/// `retry` means what keepalived means: how many times a failed check is retried
/// (after `delay_before_retry`) before the target is declared down. So an up target
/// goes down after `retry + 1` consecutive failures. Before the first check has
/// completed a single result decides, as in keepalived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// Interval between checks (keepalived `delay_loop`, default 60 s).
    pub delay_loop: Duration,
    /// Bound on one check's network exchange (default 5 s). For HTTP it bounds the
    /// whole exchange of one url (connect, TLS, request, response).
    pub connect_timeout: Duration,
    pub retry: u32,
    pub delay_before_retry: Duration,
    /// The first check starts at a random point in `0..=warmup` so that checks of many
    /// real servers spread out. keepalived defaults this to `delay_loop`; here None
    /// means "check at once", and the configuration mapper passes keepalived's value.
    pub warmup: Option<Duration>,
}

impl Default for Timing {
    /// keepalived's defaults for TCP_CHECK (and most checkers).
    fn default() -> Self {
        Self {
            delay_loop: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(5),
            retry: 1,
            delay_before_retry: Duration::from_secs(1),
            warmup: None,
        }
    }
}

impl Timing {
    /// keepalived's per-checker defaults: HTTP_GET/SSL_GET retry after 3 s, MISC_CHECK
    /// does not retry, DNS_CHECK retries 3 times, each after `delay_loop`.
    pub fn for_kind(kind: &CheckKind) -> Self {
        let mut t = Timing::default();
        match kind {
            CheckKind::Http { .. } => t.delay_before_retry = Duration::from_secs(3),
            CheckKind::Misc { .. } => t.retry = 0,
            CheckKind::Dns { .. } => {
                t.retry = 3;
                t.delay_before_retry = t.delay_loop;
            }
            _ => {}
        }
        t
    }
}

/// A specification the engine refuses, with the target it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError {
    pub target: TargetId,
    pub reason: String,
}

impl SpecError {
    pub(crate) fn new(target: TargetId, reason: impl Into<String>) -> Self {
        Self {
            target,
            reason: reason.into(),
        }
    }
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.target, self.reason)
    }
}

impl std::error::Error for SpecError {}

/// Parse keepalived's `digest` value: 32 hex digits.
pub fn parse_digest(hex: &str) -> Option<[u8; 16]> {
    let bytes = hex.as_bytes();
    if bytes.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        let hi = (pair[0] as char).to_digit(16)?;
        let lo = (pair[1] as char).to_digit(16)?;
        out[i] = (hi * 16 + lo) as u8;
    }
    Some(out)
}

/// Format a digest as keepalived and genhash print it (lower-case hex).
pub fn format_digest(digest: &[u8; 16]) -> String {
    use fmt::Write as _;
    let mut s = String::with_capacity(32);
    for b in digest {
        let _ = write!(s, "{b:02x}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn keepalived_defaults() {
        let t = Timing::for_kind(&CheckKind::Tcp);
        assert_eq!(t.delay_loop, Duration::from_secs(60));
        assert_eq!(t.connect_timeout, Duration::from_secs(5));
        assert_eq!(t.retry, 1);
        assert_eq!(t.delay_before_retry, Duration::from_secs(1));
        let misc = CheckKind::Misc {
            command: vec!["true".into()],
            timeout: Duration::from_secs(5),
            dynamic: false,
            user: None,
        };
        assert_eq!(Timing::for_kind(&misc).retry, 0);
        let dns = CheckKind::Dns {
            qtype: DnsType::Soa,
            name: String::new(),
        };
        assert_eq!(Timing::for_kind(&dns).retry, 3);
    }

    #[test]
    fn default_status_codes_are_2xx() {
        let u = UrlCheck::new("/");
        assert!(u.accepts(200) && u.accepts(299));
        assert!(!u.accepts(301) && !u.accepts(199));
        let u = UrlCheck {
            status_codes: vec![301..=302, 404..=404],
            ..UrlCheck::new("/")
        };
        assert!(u.accepts(404) && u.accepts(302) && !u.accepts(200));
    }

    #[test]
    fn validation_rejects_bad_specs() {
        let addr: SocketAddr = "127.0.0.1:80".parse().unwrap();
        let mut s = CheckSpec::new(
            TargetId(1),
            addr,
            CheckKind::Http {
                urls: vec![UrlCheck::new("/a\r\nX: y")],
                virtualhost: None,
                tls: None,
            },
        );
        assert!(s.validate().is_err());
        s.kind = CheckKind::Http {
            urls: vec![],
            virtualhost: None,
            tls: None,
        };
        assert!(s.validate().is_err());
        s.kind = CheckKind::Tcp;
        assert!(s.validate().is_ok());
        s.bind = Some("[::1]:0".parse().unwrap());
        assert!(s.validate().is_err());
        s.bind = None;
        s.timing.delay_loop = Duration::ZERO;
        assert!(s.validate().is_err());
    }

    #[test]
    fn digest_hex_round_trip_and_rejects() {
        let d = parse_digest("9b3a0c85a887a256d6939da88aabd8cd").unwrap();
        assert_eq!(format_digest(&d), "9b3a0c85a887a256d6939da88aabd8cd");
        assert!(parse_digest("9b3a").is_none());
        assert!(parse_digest("zz3a0c85a887a256d6939da88aabd8cd").is_none());
        assert!(parse_digest("é3a0c85a887a256d6939da88aabd8c").is_none());
    }

    proptest! {
        #[test]
        fn digest_parse_never_panics(s in ".{0,40}") {
            let _ = parse_digest(&s);
        }

        #[test]
        fn digest_round_trips(d in any::<[u8; 16]>()) {
            prop_assert_eq!(parse_digest(&format_digest(&d)), Some(d));
        }
    }
}
