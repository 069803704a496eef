//! DNS_CHECK: one hand-built query over UDP, judged on the reply's RCODE and ANCOUNT.
//!
//! keepalived sends one question with Recursion Desired and accepts any reply with
//! RCODE 0; this check also requires at least one answer record, so a server that
//! answers NOERROR with no data for the configured name counts as failing.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::time::{timeout_at, Instant};

use super::Failure;
use crate::spec::DnsType;

const HEADER_LEN: usize = 12;
const CLASS_IN: u16 = 1;
const FLAG_QR: u16 = 0x8000;
const FLAG_RD: u16 = 0x0100;
const FLAG_TC: u16 = 0x0200;
/// A UDP reply without EDNS is at most 512 bytes; allow more for servers that send it.
const MAX_REPLY: usize = 4096;

/// Why a reply did not pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DnsFailure {
    Rcode(u8),
    NoAnswer,
}

impl fmt::Display for DnsFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DnsFailure::Rcode(r) => write!(f, "error reply (rcode {r}: {})", rcode_name(*r)),
            DnsFailure::NoAnswer => write!(f, "reply has no answer record"),
        }
    }
}

fn rcode_name(r: u8) -> &'static str {
    match r {
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        _ => "other",
    }
}

/// Check a query name: dot-separated labels of 1..=63 bytes, at most 255 bytes on the
/// wire. "" and "." mean the root (keepalived's default name).
pub(crate) fn validate_name(name: &str) -> Result<(), &'static str> {
    let trimmed = name.strip_suffix('.').unwrap_or(name);
    if trimmed.is_empty() {
        return Ok(());
    }
    let mut wire_len = 1; // the root label
    for label in trimmed.split('.') {
        if label.is_empty() {
            return Err("empty label");
        }
        if label.len() > 63 {
            return Err("label longer than 63 bytes");
        }
        wire_len += 1 + label.len();
    }
    if wire_len > 255 {
        return Err("name longer than 255 bytes");
    }
    Ok(())
}

/// Write a query with one question into `out` (cleared first). `name` must have
/// passed [`validate_name`].
pub(crate) fn encode_query(id: u16, name: &str, qtype: DnsType, out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&FLAG_RD.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes()); // QDCOUNT
    out.extend_from_slice(&[0; 6]); // ANCOUNT, NSCOUNT, ARCOUNT
    let trimmed = name.strip_suffix('.').unwrap_or(name);
    for label in trimmed.split('.').filter(|l| !l.is_empty()) {
        // validate_name bounds labels to 63 bytes.
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    out.extend_from_slice(&qtype.code().to_be_bytes());
    out.extend_from_slice(&CLASS_IN.to_be_bytes());
}

/// What a received datagram means for the query `id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ReplyVerdict {
    /// Not a reply to our query (short, wrong id, or a query): keep waiting.
    Ignore,
    Answered {
        ancount: u16,
    },
    Failed(DnsFailure),
    /// TC set and no answers: the server is alive but would need TCP. Counted up, as
    /// keepalived does (it only reads RCODE).
    Truncated,
}

pub(crate) fn judge_reply(id: u16, reply: &[u8]) -> ReplyVerdict {
    let Some(header) = reply.get(..HEADER_LEN) else {
        return ReplyVerdict::Ignore;
    };
    let rid = u16::from_be_bytes([header[0], header[1]]);
    let flags = u16::from_be_bytes([header[2], header[3]]);
    if rid != id || flags & FLAG_QR == 0 {
        return ReplyVerdict::Ignore;
    }
    let rcode = (flags & 0x000f) as u8;
    if rcode != 0 {
        return ReplyVerdict::Failed(DnsFailure::Rcode(rcode));
    }
    let ancount = u16::from_be_bytes([header[6], header[7]]);
    if ancount == 0 {
        if flags & FLAG_TC != 0 {
            return ReplyVerdict::Truncated;
        }
        return ReplyVerdict::Failed(DnsFailure::NoAnswer);
    }
    ReplyVerdict::Answered { ancount }
}

/// A query id that is hard to guess from outside (spoofed replies must match it).
fn query_id() -> u16 {
    use std::hash::{BuildHasher, RandomState};
    (RandomState::new().hash_one(std::time::Instant::now()) & 0xffff) as u16
}

pub(super) async fn check_dns(
    addr: SocketAddr,
    bind: Option<SocketAddr>,
    timeout: Duration,
    qtype: DnsType,
    name: &str,
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
    let id = query_id();
    let mut query = Vec::with_capacity(HEADER_LEN + name.len() + 6);
    encode_query(id, name, qtype, &mut query);
    socket
        .send(&query)
        .await
        .map_err(|e| Failure::Io("send query", e))?;
    let mut reply = vec![0u8; MAX_REPLY];
    loop {
        let n = match timeout_at(deadline, socket.recv(&mut reply)).await {
            Ok(Ok(n)) => n,
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                return Err(Failure::PortUnreachable)
            }
            Ok(Err(e)) => return Err(Failure::Io("receive reply", e)),
            Err(_) => return Err(Failure::Timeout("waiting for the DNS reply", timeout)),
        };
        match judge_reply(id, &reply[..n]) {
            ReplyVerdict::Ignore => continue,
            ReplyVerdict::Answered { ancount } => return Ok(format!("{ancount} answer(s)")),
            ReplyVerdict::Truncated => return Ok("truncated reply".to_owned()),
            ReplyVerdict::Failed(f) => return Err(Failure::Dns(f)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn query_layout() {
        let mut q = Vec::new();
        encode_query(0x1234, "www.example.com.", DnsType::A, &mut q);
        assert_eq!(&q[..4], &[0x12, 0x34, 0x01, 0x00]);
        assert_eq!(&q[4..6], &[0, 1]);
        assert_eq!(&q[12..29], b"\x03www\x07example\x03com\x00");
        assert_eq!(&q[29..], &[0, 1, 0, 1]);
        encode_query(1, "", DnsType::Soa, &mut q);
        assert_eq!(&q[12..], &[0, 0, 6, 0, 1]);
    }

    #[test]
    fn names() {
        assert!(validate_name("").is_ok());
        assert!(validate_name(".").is_ok());
        assert!(validate_name("a.b.").is_ok());
        assert!(validate_name("a..b").is_err());
        assert!(validate_name(&"x".repeat(64)).is_err());
        let long = vec!["y".repeat(63); 4].join(".");
        assert!(validate_name(&long).is_err());
    }

    fn reply(id: u16, flags: u16, ancount: u16) -> Vec<u8> {
        let mut r = Vec::new();
        r.extend_from_slice(&id.to_be_bytes());
        r.extend_from_slice(&flags.to_be_bytes());
        r.extend_from_slice(&[0, 1]);
        r.extend_from_slice(&ancount.to_be_bytes());
        r.extend_from_slice(&[0, 0, 0, 0]);
        r
    }

    #[test]
    fn verdicts() {
        assert_eq!(
            judge_reply(7, &reply(7, 0x8180, 2)),
            ReplyVerdict::Answered { ancount: 2 }
        );
        assert_eq!(
            judge_reply(7, &reply(7, 0x8183, 0)),
            ReplyVerdict::Failed(DnsFailure::Rcode(3))
        );
        assert_eq!(
            judge_reply(7, &reply(7, 0x8180, 0)),
            ReplyVerdict::Failed(DnsFailure::NoAnswer)
        );
        assert_eq!(judge_reply(7, &reply(8, 0x8180, 1)), ReplyVerdict::Ignore);
        assert_eq!(judge_reply(7, &reply(7, 0x0100, 1)), ReplyVerdict::Ignore);
        assert_eq!(judge_reply(7, &[0, 7, 0x81]), ReplyVerdict::Ignore);
        assert_eq!(
            judge_reply(7, &reply(7, 0x8380, 0)),
            ReplyVerdict::Truncated
        );
    }

    proptest! {
        #[test]
        fn judging_never_panics(id in any::<u16>(), data in proptest::collection::vec(any::<u8>(), 0..40)) {
            let _ = judge_reply(id, &data);
        }

        #[test]
        fn valid_names_encode_within_bounds(labels in proptest::collection::vec("[a-z0-9-]{1,63}", 0..6)) {
            let name = labels.join(".");
            if validate_name(&name).is_ok() {
                let mut q = Vec::new();
                encode_query(1, &name, DnsType::Aaaa, &mut q);
                prop_assert!(q.len() <= HEADER_LEN + 255 + 4);
            }
        }
    }
}
