//! The engine over time: retries, initial states, dynamic weights, warmup, update and
//! stop. Loopback only, short delays, generous "within" bounds.
#![allow(clippy::unwrap_used)] // test helpers below are not #[test] functions

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use common::*;
use rvs_health::{CheckKind, EngineError, HealthEngine, HealthEvent, InitialState, TargetId};

fn is_result(target: u64, ok: bool) -> impl Fn(&HealthEvent) -> bool {
    move |e| matches!(e, HealthEvent::Result { target: t, ok: o, .. } if *t == TargetId(target) && *o == ok)
}

fn is_up(target: u64) -> impl Fn(&HealthEvent) -> bool {
    move |e| {
        *e == HealthEvent::Up {
            target: TargetId(target),
        }
    }
}

fn is_down(target: u64) -> impl Fn(&HealthEvent) -> bool {
    move |e| matches!(e, HealthEvent::Down { target: t, .. } if *t == TargetId(target))
}

/// Failed results of `target` since its last successful one.
fn trailing_failures(events: &[HealthEvent], target: u64) -> usize {
    let mut n = 0;
    for e in events {
        if let HealthEvent::Result { target: t, ok, .. } = e {
            if *t == TargetId(target) {
                n = if *ok { 0 } else { n + 1 };
            }
        }
    }
    n
}

#[tokio::test]
async fn tcp_goes_down_after_retries_and_comes_back() {
    // An address of its own, so no other test can take the port while it is closed.
    let listener = std::net::TcpListener::bind("127.0.0.61:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut s = spec(1, addr, CheckKind::Tcp);
    s.timing.retry = 2;
    let (handle, mut rx) = HealthEngine::start(vec![s]).unwrap();
    wait_for(&mut rx, "a first good check", is_result(1, true)).await;

    drop(listener);
    let (down, before) = wait_for(&mut rx, "Down", is_down(1)).await;
    // keepalived's retry: the first failure and `retry` retries, then down.
    assert_eq!(trailing_failures(&before, 1), 3, "{before:?}");
    let HealthEvent::Down { reason, .. } = down else {
        unreachable!()
    };
    assert!(reason.contains("connect"), "{reason}");
    let status = handle.status(TargetId(1)).unwrap();
    assert!(!status.up && status.has_run);

    let _listener = std::net::TcpListener::bind(addr).unwrap();
    wait_for(&mut rx, "Up after the listener is back", is_up(1)).await;
    assert!(handle.status(TargetId(1)).unwrap().up);
}

#[tokio::test]
async fn initial_states_and_first_result() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    // Alpha-style: starts down, one success brings it up.
    let mut alpha = spec(1, listener.local_addr().unwrap(), CheckKind::Tcp);
    alpha.initial = InitialState::Down;
    // Starts up: before any check has run, one failure is enough, whatever `retry`.
    let closed = closed_tcp_port();
    let mut fresh = spec(2, closed.addr, CheckKind::Tcp);
    fresh.timing.retry = 5;
    let (_handle, mut rx) = HealthEngine::start(vec![alpha, fresh]).unwrap();
    wait_for(&mut rx, "Up of the alpha target", is_up(1)).await;
    let (_, before) = wait_for(&mut rx, "Down of the fresh target", is_down(2)).await;
    let mut rest = before;
    rest.retain(|e| e.target() == TargetId(2));
    assert_eq!(trailing_failures(&rest, 2), 1, "{rest:?}");
}

fn set_exit_code(file: &Path, code: u8) {
    // Replace atomically so the script never reads a half-written file.
    let tmp = file.with_extension("tmp");
    std::fs::write(&tmp, code.to_string()).unwrap();
    std::fs::rename(&tmp, file).unwrap();
}

#[tokio::test]
async fn misc_dynamic_weights() {
    let dir = scratch_dir("dynamic");
    let code = dir.join("code");
    set_exit_code(&code, 7);
    let kind = CheckKind::Misc {
        command: vec![
            "/bin/sh".into(),
            "-c".into(),
            format!("exit $(cat {})", code.display()),
        ],
        timeout: Duration::from_secs(5),
        dynamic: true,
        user: None,
    };
    let mut s = spec(1, "127.0.0.1:1".parse().unwrap(), kind);
    s.timing.retry = 0;
    let (handle, mut rx) = HealthEngine::start(vec![s.clone()]).unwrap();
    let t = TargetId(1);
    wait_for(&mut rx, "weight 5", |e| {
        *e == HealthEvent::Weight {
            target: t,
            weight: 5,
        }
    })
    .await;
    assert_eq!(handle.status(t).unwrap().dynamic_weight, Some(5));

    set_exit_code(&code, 0);
    wait_for(&mut rx, "weight reset", |e| {
        *e == HealthEvent::WeightReset { target: t }
    })
    .await;
    assert_eq!(handle.status(t).unwrap().dynamic_weight, None);

    set_exit_code(&code, 9);
    wait_for(&mut rx, "weight 7", |e| {
        *e == HealthEvent::Weight {
            target: t,
            weight: 7,
        }
    })
    .await;

    // Exit 1 is down (retry 0: at once), and the dynamic weight goes with it.
    set_exit_code(&code, 1);
    wait_for(&mut rx, "Down", is_down(1)).await;
    wait_for(&mut rx, "weight reset after Down", |e| {
        *e == HealthEvent::WeightReset { target: t }
    })
    .await;

    set_exit_code(&code, 12);
    wait_for(&mut rx, "weight 10", |e| {
        *e == HealthEvent::Weight {
            target: t,
            weight: 10,
        }
    })
    .await;
    wait_for(&mut rx, "Up", is_up(1)).await;

    // Changing the check to a non-dynamic one withdraws the script's weight.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut tcp = s.clone();
    tcp.kind = CheckKind::Tcp;
    tcp.addr = listener.local_addr().unwrap();
    handle.update(vec![tcp]).unwrap();
    wait_for(&mut rx, "weight reset on change", |e| {
        *e == HealthEvent::WeightReset { target: t }
    })
    .await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn warmup_delays_the_first_check() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut late = spec(1, addr, CheckKind::Tcp);
    // Uniform in 0..24h: the odds of a first check within the next second are ~1e-5.
    late.timing.warmup = Some(Duration::from_secs(24 * 3600));
    let mut soon = spec(2, addr, CheckKind::Tcp);
    soon.timing.warmup = Some(Duration::from_millis(100));
    let (handle, mut rx) = HealthEngine::start(vec![late, soon]).unwrap();
    let (_, before) = wait_for(&mut rx, "a check of target 2", is_result(2, true)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    while let Ok(e) = rx.try_recv() {
        assert_ne!(
            e.target(),
            TargetId(1),
            "target 1 checked during its warmup"
        );
    }
    assert!(before.iter().all(|e| e.target() != TargetId(1)));
    let status = handle.status(TargetId(1)).unwrap();
    assert!(!status.has_run && status.checks_run == 0 && status.up);
}

async fn wait_retries(handle: &rvs_health::HealthHandle, target: TargetId, at_least: u32) -> u32 {
    let deadline = tokio::time::Instant::now() + WITHIN;
    loop {
        let r = handle.status(target).unwrap().retries;
        if r >= at_least {
            return r;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "retries stuck at {r}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn update_keeps_unchanged_checks() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let a_id = TargetId(1);
    // Target 1 passes once, then (changed to a closed port, keeping its state) fails
    // forever while staying up: a long retry sequence to watch.
    let mut a_ok = spec(1, listener.local_addr().unwrap(), CheckKind::Tcp);
    a_ok.timing.retry = 100_000;
    let (handle, mut rx) = HealthEngine::start(vec![a_ok.clone()]).unwrap();
    wait_for(&mut rx, "a good check", is_result(1, true)).await;
    let mut a = a_ok.clone();
    let closed = closed_tcp_port();
    a.addr = closed.addr;
    handle.update(vec![a.clone()]).unwrap();
    let before = wait_retries(&handle, a_id, 5).await;
    let runs_before = handle.status(a_id).unwrap().checks_run;

    // Unchanged spec (only the initial state differs) plus a new target: untouched.
    let mut same = a.clone();
    same.initial = InitialState::Down;
    let b = spec(2, listener.local_addr().unwrap(), CheckKind::Tcp);
    handle.update(vec![same, b.clone()]).unwrap();
    let st = handle.status(a_id).unwrap();
    assert!(st.up && st.retries >= before, "restarted: {st:?}");
    wait_for(&mut rx, "a check of the new target", is_result(2, true)).await;

    // A changed spec restarts the checker: same up state and history, fresh retries.
    // (With an hour before each retry, the new checker stays at one retry.)
    let mut changed = a.clone();
    changed.timing.delay_before_retry = Duration::from_secs(3600);
    handle.update(vec![changed, b.clone()]).unwrap();
    let st = handle.status(a_id).unwrap();
    assert!(st.up, "{st:?}");
    assert!(st.retries <= 1, "{st:?}");
    assert!(st.checks_run >= runs_before, "{st:?}");

    // Removed: no status, no more events.
    handle.update(vec![b]).unwrap();
    assert!(handle.status(a_id).is_none());
    while rx.try_recv().is_ok() {}
    tokio::time::sleep(Duration::from_millis(300)).await;
    while let Ok(e) = rx.try_recv() {
        assert_ne!(e.target(), a_id, "removed checker reported {e:?}");
    }
    assert_eq!(handle.statuses().len(), 1);
}

#[tokio::test]
async fn stop_kills_scripts_and_closes_the_channel() {
    let dir = scratch_dir("stop");
    let pidfile = dir.join("script.pid");
    let kind = CheckKind::Misc {
        command: vec![
            "/bin/sh".into(),
            "-c".into(),
            format!("echo $$ > {}; exec sleep 30", pidfile.display()),
        ],
        timeout: Duration::from_secs(60),
        dynamic: false,
        user: None,
    };
    let addr: SocketAddr = "127.0.0.1:1".parse().unwrap();
    let (handle, mut rx) = HealthEngine::start(vec![spec(1, addr, kind)]).unwrap();
    let pid = read_pid(&pidfile).await;
    handle.stop();
    wait_gone(pid).await;
    let closed = tokio::time::timeout(WITHIN, async { while rx.recv().await.is_some() {} }).await;
    assert!(closed.is_ok(), "event channel still open after stop");
    assert!(matches!(handle.update(vec![]), Err(EngineError::Stopped)));
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_on_the_callers_runtime() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut s = spec(1, listener.local_addr().unwrap(), CheckKind::Tcp);
    s.initial = InitialState::Down;
    let (handle, mut rx) =
        HealthEngine::start_on(tokio::runtime::Handle::current(), vec![s]).unwrap();
    wait_for(&mut rx, "Up", is_up(1)).await;
    drop(handle);
    let closed = tokio::time::timeout(WITHIN, async { while rx.recv().await.is_some() {} }).await;
    assert!(closed.is_ok());
}

#[test]
fn bad_specs_are_refused() {
    let addr: SocketAddr = "127.0.0.1:80".parse().unwrap();
    let s = spec(1, addr, CheckKind::Tcp);
    assert!(matches!(
        HealthEngine::start(vec![s.clone(), s.clone()]),
        Err(EngineError::DuplicateTarget(TargetId(1)))
    ));
    let mut bad = s.clone();
    bad.kind = CheckKind::Dns {
        qtype: rvs_health::DnsType::A,
        name: "a..b".into(),
    };
    assert!(matches!(
        HealthEngine::start(vec![bad.clone()]),
        Err(EngineError::Spec(_))
    ));
    let (handle, _rx) = HealthEngine::start(vec![s]).unwrap();
    assert!(handle.update(vec![bad]).is_err());
    assert!(
        handle.status(TargetId(1)).is_some(),
        "a refused update changes nothing"
    );
}
