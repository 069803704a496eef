//! Running one check of any kind: dispatch, deadlines, and the failure vocabulary.
//!
//! Every network check is bounded by the spec's `connect_timeout` (for HTTP, each url's
//! whole exchange); MISC_CHECK is bounded by its own timeout. Nothing here blocks the
//! runtime thread: all I/O is async and scripts are separate processes.

pub(crate) mod dns;
mod http;
mod misc;
mod ping;
mod tcp;
mod tls;
mod udp;

use std::fmt;
use std::io;
use std::time::Duration;

use tokio::time::Instant;

use crate::spec::{CheckKind, CheckSpec};

pub use misc::ScriptWeight;

/// The outcome of one check, as [`check_once`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckReport {
    pub ok: bool,
    pub latency: Duration,
    /// What happened, for logs ("connected", "HTTP status 503 for /health", ...).
    pub detail: String,
    /// What a `misc_dynamic` script said about the weight; None for other checks.
    pub weight: Option<ScriptWeight>,
}

/// Run one check of `spec` now, outside the engine (like keepalived's genhash, or a
/// "check now" command). Timing fields other than `connect_timeout` are ignored.
pub async fn check_once(spec: &CheckSpec) -> CheckReport {
    let mut prepared = Prepared::new(spec);
    let started = Instant::now();
    let outcome = prepared.run(spec).await;
    outcome.into_report(started.elapsed())
}

/// Why a check failed. Its Display text is the event's detail/reason.
#[derive(Debug)]
pub(crate) enum Failure {
    Timeout(&'static str, Duration),
    Io(&'static str, io::Error),
    Tls(String),
    Setup(String),
    HttpStatus { path: String, status: u16 },
    HttpDigest { path: String, got: [u8; 16] },
    HttpExpect { path: String },
    HttpMalformed(http::HttpError),
    Dns(dns::DnsFailure),
    PortUnreachable,
    NoReply,
    ExpectNotSeen,
    Script(misc::ScriptFailure),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Timeout(stage, after) => write!(f, "timeout {stage} after {after:?}"),
            Failure::Io(stage, e) => write!(f, "{stage}: {e}"),
            Failure::Tls(e) => write!(f, "TLS: {e}"),
            Failure::Setup(e) => write!(f, "{e}"),
            Failure::HttpStatus { path, status } => write!(f, "HTTP status {status} for {path}"),
            Failure::HttpDigest { path, got } => write!(
                f,
                "digest mismatch for {path} (got {})",
                crate::spec::format_digest(got)
            ),
            Failure::HttpExpect { path } => write!(f, "expected text not in body of {path}"),
            Failure::HttpMalformed(e) => write!(f, "bad HTTP response: {e}"),
            Failure::Dns(e) => write!(f, "DNS: {e}"),
            Failure::PortUnreachable => write!(f, "port unreachable"),
            Failure::NoReply => write!(f, "no reply"),
            Failure::ExpectNotSeen => write!(f, "expected reply not received"),
            Failure::Script(e) => write!(f, "{e}"),
        }
    }
}

/// A finished check before timing is attached.
pub(crate) struct Outcome {
    pub result: Result<String, Failure>,
    pub weight: Option<ScriptWeight>,
}

impl Outcome {
    fn from(result: Result<String, Failure>) -> Self {
        Self {
            result,
            weight: None,
        }
    }

    pub fn into_report(self, latency: Duration) -> CheckReport {
        let (ok, detail) = match self.result {
            Ok(d) => (true, d),
            Err(f) => (false, f.to_string()),
        };
        CheckReport {
            ok,
            latency,
            detail,
            weight: self.weight,
        }
    }
}

/// Per-checker state kept between checks: TLS configuration built once, the ICMP
/// sequence number, the resolved script user.
pub(crate) struct Prepared {
    tls: Option<Result<tls::TlsSetup, String>>,
    ping_seq: u16,
    script_user: Option<Result<misc::ScriptUser, String>>,
}

impl Prepared {
    pub fn new(spec: &CheckSpec) -> Self {
        let tls = match &spec.kind {
            CheckKind::Http {
                tls: Some(opts),
                virtualhost,
                ..
            } => Some(tls::TlsSetup::new(
                opts,
                virtualhost.as_deref(),
                spec.addr.ip(),
            )),
            _ => None,
        };
        let script_user = match &spec.kind {
            CheckKind::Misc {
                user: Some(name), ..
            } => Some(misc::ScriptUser::lookup(name)),
            _ => None,
        };
        Self {
            tls,
            ping_seq: 0,
            script_user,
        }
    }

    pub async fn run(&mut self, spec: &CheckSpec) -> Outcome {
        let timeout = spec.timing.connect_timeout;
        match &spec.kind {
            CheckKind::Tcp => {
                Outcome::from(tcp::check_connect(spec.addr, spec.bind, timeout).await)
            }
            CheckKind::TcpSendExpect { send, expect } => Outcome::from(
                tcp::check_send_expect(spec.addr, spec.bind, timeout, send, expect.as_deref())
                    .await,
            ),
            CheckKind::Http {
                urls, virtualhost, ..
            } => {
                let tls = match &self.tls {
                    None => None,
                    Some(Ok(setup)) => Some(setup),
                    Some(Err(e)) => return Outcome::from(Err(Failure::Setup(e.clone()))),
                };
                Outcome::from(
                    http::check_urls(
                        spec.addr,
                        spec.bind,
                        timeout,
                        urls,
                        virtualhost.as_deref(),
                        tls,
                    )
                    .await,
                )
            }
            CheckKind::Misc {
                command,
                timeout,
                dynamic,
                ..
            } => {
                let user = match &self.script_user {
                    None => None,
                    Some(Ok(u)) => Some(*u),
                    Some(Err(e)) => return Outcome::from(Err(Failure::Setup(e.clone()))),
                };
                misc::run_script(command, *timeout, *dynamic, user).await
            }
            CheckKind::Dns { qtype, name } => {
                Outcome::from(dns::check_dns(spec.addr, spec.bind, timeout, *qtype, name).await)
            }
            CheckKind::Ping => {
                self.ping_seq = self.ping_seq.wrapping_add(1);
                Outcome::from(ping::check_ping(spec.addr, spec.bind, timeout, self.ping_seq).await)
            }
            CheckKind::Udp {
                payload,
                require_reply,
            } => Outcome::from(
                udp::check_udp(spec.addr, spec.bind, timeout, payload, *require_reply).await,
            ),
        }
    }
}
