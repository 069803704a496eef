//! One check of each kind against tiny servers on loopback (`check_once`).
#![allow(clippy::unwrap_used)] // test helpers below are not #[test] functions

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use md5::{Digest, Md5};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rvs_health::{check_once, CheckKind, DnsType, ScriptWeight, TlsOptions, UrlCheck};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};

fn http(urls: Vec<UrlCheck>, virtualhost: Option<&str>) -> CheckKind {
    CheckKind::Http {
        urls,
        virtualhost: virtualhost.map(str::to_owned),
        tls: None,
    }
}

#[tokio::test]
async fn tcp_connect_and_refused() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let up = spec(1, listener.local_addr().unwrap(), CheckKind::Tcp);
    let r = check_once(&up).await;
    assert!(r.ok, "{r:?}");
    let closed = closed_tcp_port();
    let down = spec(1, closed.addr, CheckKind::Tcp);
    let r = check_once(&down).await;
    assert!(!r.ok);
    assert!(r.detail.contains("connect"), "{}", r.detail);
}

#[tokio::test]
async fn tcp_bind_source_address() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut s = spec(1, listener.local_addr().unwrap(), CheckKind::Tcp);
    s.bind = Some("127.0.0.2:0".parse().unwrap());
    let accept = tokio::spawn(async move { listener.accept().await.unwrap().1 });
    assert!(check_once(&s).await.ok);
    let peer = accept.await.unwrap();
    assert_eq!(peer.ip().to_string(), "127.0.0.2");
}

#[tokio::test]
async fn http_status_codes() {
    let (ok_addr, _) = http_server(response("200 OK", b"fine")).await;
    let (busy_addr, _) = http_server(response("503 Service Unavailable", b"busy")).await;
    assert!(
        check_once(&spec(1, ok_addr, http(vec![UrlCheck::new("/")], None)))
            .await
            .ok
    );
    let r = check_once(&spec(1, busy_addr, http(vec![UrlCheck::new("/")], None))).await;
    assert!(!r.ok);
    assert!(r.detail.contains("503"), "{}", r.detail);
    let accept_503 = UrlCheck {
        status_codes: vec![500..=503],
        ..UrlCheck::new("/")
    };
    assert!(
        check_once(&spec(1, busy_addr, http(vec![accept_503], None)))
            .await
            .ok
    );
}

#[tokio::test]
async fn http_digest_match_and_mismatch() {
    let body = b"<html>healthy</html>\n";
    let (addr, _) = http_server(response("200 OK", body)).await;
    let good = UrlCheck {
        digest: Some(Md5::digest(body).into()),
        ..UrlCheck::new("/index.html")
    };
    assert!(check_once(&spec(1, addr, http(vec![good], None))).await.ok);
    let bad = UrlCheck {
        digest: rvs_health::parse_digest("00000000000000000000000000000000"),
        ..UrlCheck::new("/index.html")
    };
    let r = check_once(&spec(1, addr, http(vec![bad], None))).await;
    assert!(!r.ok);
    let want = rvs_health::format_digest(&Md5::digest(body).into());
    assert!(r.detail.contains(&want), "{}", r.detail);
}

#[tokio::test]
async fn http_virtualhost_and_path_sent() {
    let (addr, log) = http_server(response("200 OK", b"")).await;
    let urls = vec![UrlCheck::new("/health?full=1"), UrlCheck::new("/second")];
    assert!(
        check_once(&spec(1, addr, http(urls, Some("www.example.com"))))
            .await
            .ok
    );
    assert!(
        check_once(&spec(1, addr, http(vec![UrlCheck::new("/")], None)))
            .await
            .ok
    );
    let seen = log.lock().unwrap().clone();
    assert_eq!(seen.len(), 3);
    let first = String::from_utf8_lossy(&seen[0].request).into_owned();
    assert!(
        first.starts_with("GET /health?full=1 HTTP/1.0\r\n"),
        "{first}"
    );
    assert!(first.contains("\r\nHost: www.example.com\r\n"), "{first}");
    assert!(String::from_utf8_lossy(&seen[1].request).starts_with("GET /second "));
    let third = String::from_utf8_lossy(&seen[2].request).into_owned();
    assert!(third.contains(&format!("\r\nHost: {addr}\r\n")), "{third}");
}

#[tokio::test]
async fn http_expect_substring() {
    let (addr, _) = http_server(response("200 OK", b"status: all systems go")).await;
    let url = |expect: &str| UrlCheck {
        expect: Some(expect.to_owned()),
        ..UrlCheck::new("/")
    };
    assert!(
        check_once(&spec(1, addr, http(vec![url("systems go")], None)))
            .await
            .ok
    );
    let r = check_once(&spec(1, addr, http(vec![url("maintenance")], None))).await;
    assert!(!r.ok);
    assert!(r.detail.contains("expected text"), "{}", r.detail);
}

#[tokio::test]
async fn http_bounded_by_connect_timeout() {
    // Accepts and never answers: the whole exchange must give up at connect_timeout.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    let mut s = spec(1, addr, http(vec![UrlCheck::new("/")], None));
    s.timing.connect_timeout = Duration::from_millis(200);
    let r = tokio::time::timeout(WITHIN, check_once(&s)).await.unwrap();
    assert!(!r.ok);
    assert!(r.detail.contains("timeout"), "{}", r.detail);
    hold.abort();
}

#[tokio::test]
async fn http_garbage_is_a_failure_not_a_panic() {
    let (addr, _) = http_server(b"SSH-2.0-OpenSSH_9.2\r\n".to_vec()).await;
    let r = check_once(&spec(1, addr, http(vec![UrlCheck::new("/")], None))).await;
    assert!(!r.ok);
    assert!(r.detail.contains("bad HTTP response"), "{}", r.detail);
}

/// A TLS server with a self-signed certificate for "localhost"; returns its address,
/// request log and the certificate PEM.
async fn tls_server(body: &'static [u8]) -> (SocketAddr, Log, String) {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert_pem = ck.cert.pem();
    let cert: CertificateDer<'static> = ck.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.key_pair.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let log: Log = Arc::default();
    let log2 = log.clone();
    let resp = Arc::new(response("200 OK", body));
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            let log = log2.clone();
            let resp = resp.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let sni = tls.get_ref().1.server_name().map(str::to_owned);
                answer(tls, &resp, &log, sni).await;
            });
        }
    });
    (addr, log, cert_pem)
}

fn ssl(urls: Vec<UrlCheck>, tls: TlsOptions) -> CheckKind {
    CheckKind::Http {
        urls,
        virtualhost: Some("localhost".into()),
        tls: Some(tls),
    }
}

#[tokio::test]
async fn ssl_get_self_signed() {
    let body = b"secure and healthy";
    let (addr, log, cert_pem) = tls_server(body).await;
    let url = UrlCheck {
        digest: Some(Md5::digest(body).into()),
        expect: Some("healthy".into()),
        ..UrlCheck::new("/")
    };

    // keepalived's default: no verification, no SNI.
    let r = check_once(&spec(
        1,
        addr,
        ssl(vec![url.clone()], TlsOptions::default()),
    ))
    .await;
    assert!(r.ok, "{r:?}");

    // SNI sent when asked.
    let with_sni = TlsOptions {
        sni: Some("www.example.com".into()),
        ..TlsOptions::default()
    };
    assert!(
        check_once(&spec(1, addr, ssl(vec![url.clone()], with_sni)))
            .await
            .ok
    );

    // Verification against the certificate itself as the trusted CA.
    let dir = scratch_dir("ssl");
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, cert_pem).unwrap();
    let verified = TlsOptions {
        sni: Some("localhost".into()),
        verify: true,
        ca_file: Some(ca.clone()),
    };
    let r = check_once(&spec(1, addr, ssl(vec![url.clone()], verified))).await;
    assert!(r.ok, "{r:?}");

    // ...which fails for a name the certificate does not carry.
    let wrong_name = TlsOptions {
        sni: Some("other.example.com".into()),
        verify: true,
        ca_file: Some(ca),
    };
    let r = check_once(&spec(1, addr, ssl(vec![url], wrong_name))).await;
    assert!(!r.ok);
    assert!(r.detail.contains("TLS"), "{}", r.detail);

    let seen = log.lock().unwrap().clone();
    assert_eq!(seen[0].sni, None);
    assert_eq!(seen[1].sni.as_deref(), Some("www.example.com"));
    assert_eq!(seen[2].sni.as_deref(), Some("localhost"));
    assert!(String::from_utf8_lossy(&seen[0].request).contains("Host: localhost\r\n"));
    let _ = std::fs::remove_dir_all(dir);
}

fn misc(script: &str, dynamic: bool, timeout: Duration) -> CheckKind {
    CheckKind::Misc {
        command: vec!["/bin/sh".into(), "-c".into(), script.into()],
        timeout,
        dynamic,
        user: None,
    }
}

#[tokio::test]
async fn misc_exit_codes() {
    let addr: SocketAddr = "127.0.0.1:1".parse().unwrap();
    let t = Duration::from_secs(5);
    let r = check_once(&spec(1, addr, misc("exit 0", false, t))).await;
    assert!(r.ok && r.weight.is_none(), "{r:?}");
    let r = check_once(&spec(1, addr, misc("exit 1", false, t))).await;
    assert!(!r.ok);
    assert!(r.detail.contains("status 1"), "{}", r.detail);
    assert!(
        !check_once(&spec(1, addr, misc("exit 7", false, t)))
            .await
            .ok
    );
    let r = check_once(&spec(1, addr, misc("exit 7", true, t))).await;
    assert!(r.ok);
    assert_eq!(r.weight, Some(ScriptWeight::Set(5)));
    let r = check_once(&spec(1, addr, misc("exit 0", true, t))).await;
    assert_eq!(r.weight, Some(ScriptWeight::Configured));
    assert!(!check_once(&spec(1, addr, misc("exit 1", true, t))).await.ok);
    let missing = CheckKind::Misc {
        command: vec!["/nonexistent/rvs-check".into()],
        timeout: t,
        dynamic: false,
        user: None,
    };
    let r = check_once(&spec(1, addr, missing)).await;
    assert!(!r.ok && r.detail.contains("cannot start"), "{r:?}");
}

#[tokio::test]
async fn misc_timeout_kills_the_process_group() {
    let dir = scratch_dir("misc-timeout");
    let pidfile = dir.join("child.pid");
    // The script and its child ignore SIGTERM, so the SIGKILL escalation is exercised.
    let script = format!(
        "trap '' TERM; sleep 30 & echo $! > {}; wait",
        pidfile.display()
    );
    let s = spec(
        1,
        "127.0.0.1:1".parse().unwrap(),
        misc(&script, false, Duration::from_millis(300)),
    );
    let r = tokio::time::timeout(WITHIN, check_once(&s)).await.unwrap();
    assert!(!r.ok);
    assert!(r.detail.contains("timed out"), "{}", r.detail);
    let child = read_pid(&pidfile).await;
    wait_gone(child).await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn misc_runs_as_user() {
    if !is_root() {
        eprintln!("skipping misc_runs_as_user: needs root to switch user");
        return;
    }
    let kind = CheckKind::Misc {
        command: vec![
            "/bin/sh".into(),
            "-c".into(),
            "test \"$(id -u)\" = 65534".into(),
        ],
        timeout: Duration::from_secs(5),
        dynamic: false,
        user: Some("65534".into()),
    };
    let r = check_once(&spec(1, "127.0.0.1:1".parse().unwrap(), kind)).await;
    assert!(r.ok, "{r:?}");
}

/// A DNS responder: answers each query with `rcode` and `ancount` answers (first
/// sending a reply with a wrong id, which the checker must ignore).
async fn dns_server(rcode: u8, ancount: u16) -> SocketAddr {
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = sock.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = [0u8; 512];
        loop {
            let Ok((n, peer)) = sock.recv_from(&mut buf).await else {
                return;
            };
            if n < 12 {
                continue;
            }
            let query = &buf[..n];
            let mut reply = query.to_vec();
            reply[2] = 0x81; // QR, RD
            reply[3] = 0x80 | rcode; // RA
            reply[6..8].copy_from_slice(&ancount.to_be_bytes());
            for _ in 0..ancount {
                // Name pointer to the question, type A, class IN, TTL 60, 198.51.100.1.
                reply.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]);
                reply.extend_from_slice(&[198, 51, 100, 1]);
            }
            let mut decoy = reply.clone();
            decoy[0] ^= 0xff;
            let _ = sock.send_to(&decoy, peer).await;
            let _ = sock.send_to(&reply, peer).await;
        }
    });
    addr
}

#[tokio::test]
async fn dns_rcode_and_answers() {
    let kind = || CheckKind::Dns {
        qtype: DnsType::A,
        name: "www.example.com".into(),
    };
    let r = check_once(&spec(1, dns_server(0, 1).await, kind())).await;
    assert!(r.ok, "{r:?}");
    let r = check_once(&spec(1, dns_server(3, 0).await, kind())).await;
    assert!(!r.ok);
    assert!(r.detail.contains("NXDOMAIN"), "{}", r.detail);
    let r = check_once(&spec(1, dns_server(0, 0).await, kind())).await;
    assert!(!r.ok);
    assert!(r.detail.contains("no answer"), "{}", r.detail);
    // Nothing listening: port unreachable (or a timeout), never success.
    let mut s = spec(1, closed_udp_port(), kind());
    s.timing.connect_timeout = Duration::from_millis(300);
    assert!(!check_once(&s).await.ok);
}

#[tokio::test]
async fn udp_with_and_without_reply() {
    // Echo server.
    let echo = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let echo_addr = echo.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = [0u8; 512];
        while let Ok((n, peer)) = echo.recv_from(&mut buf).await {
            let _ = echo.send_to(&buf[..n], peer).await;
        }
    });
    // Silent server: bound, never answers.
    let silent = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let silent_addr = silent.local_addr().unwrap();
    let closed_addr = closed_udp_port();

    let udp = |require_reply| CheckKind::Udp {
        payload: b"ping".to_vec(),
        require_reply,
    };
    let quick = |addr, kind| {
        let mut s = spec(1, addr, kind);
        s.timing.connect_timeout = Duration::from_millis(200);
        s
    };
    assert!(check_once(&quick(echo_addr, udp(true))).await.ok);
    assert!(check_once(&quick(silent_addr, udp(false))).await.ok);
    let r = check_once(&quick(silent_addr, udp(true))).await;
    assert!(!r.ok && r.detail.contains("no reply"), "{r:?}");
    let r = check_once(&quick(closed_addr, udp(false))).await;
    assert!(!r.ok && r.detail.contains("unreachable"), "{r:?}");
    drop(silent);
}

#[tokio::test]
async fn ping_loopback() {
    for target in ["127.0.0.1:0", "[::1]:0"] {
        let s = spec(1, target.parse().unwrap(), CheckKind::Ping);
        let r = check_once(&s).await;
        if !r.ok && r.detail.contains("ICMP socket") {
            eprintln!("skipping ping to {target}: {}", r.detail);
            continue;
        }
        if !r.ok && target.starts_with('[') && r.detail.contains("connect") {
            eprintln!(
                "skipping ping to {target}: no IPv6 loopback here ({})",
                r.detail
            );
            continue;
        }
        assert!(r.ok, "ping {target}: {r:?}");
        // A second check uses the next sequence number on a fresh socket.
        assert!(check_once(&s).await.ok);
    }
}

#[tokio::test]
async fn send_expect() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 64];
                let n = s.read(&mut buf).await.unwrap_or(0);
                let reply: &[u8] = if &buf[..n] == b"PING\r\n" {
                    b"+PONG\r\n"
                } else {
                    b"-ERR\r\n"
                };
                let _ = s.write_all(reply).await;
            });
        }
    });
    let kind = |send: &[u8], expect: &str| CheckKind::TcpSendExpect {
        send: send.to_vec(),
        expect: Some(expect.to_owned()),
    };
    assert!(
        check_once(&spec(1, addr, kind(b"PING\r\n", "PONG")))
            .await
            .ok
    );
    let r = check_once(&spec(1, addr, kind(b"HELLO\r\n", "PONG"))).await;
    assert!(!r.ok && r.detail.contains("expected reply"), "{r:?}");
}
