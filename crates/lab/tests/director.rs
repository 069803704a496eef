//! The director plumbing (start_director, its readiness wait, rvsadm, logs, stop) and
//! the `rvs-lab demo` command, run against shell stand-ins for rvsd and rvsadm
//! (tests/fixtures): the kernel's nftables do the forwarding. One test function, so the
//! RVSD_BIN / RVSADM_BIN variables are set before any other thread of this process
//! reads the environment. Skips, visibly, without root.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

use rvs_lab::{needs_root, Lab, LabError, LabSpec, Method};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

#[test]
fn stand_in_director_runs_through_the_director_api_and_the_demo() {
    if needs_root() {
        return;
    }
    // Single-threaded here: no other test in this binary.
    std::env::set_var("RVSD_BIN", fixture("fake-rvsd"));
    std::env::set_var("RVSADM_BIN", fixture("fake-rvsadm"));

    let lab = Lab::build(&LabSpec {
        udp: false,
        ..LabSpec::new(Method::Nat)
    })
    .unwrap();

    // A director that dies at once is reported with its log.
    let err = lab
        .start_director(Some("{rvsd} --fail --socket {sock}"))
        .unwrap_err();
    assert!(matches!(err, LabError::Invalid(_)), "{err}");
    assert!(err.to_string().contains("asked to fail"), "{err}");
    assert!(lab.director().is_none());

    // The default template for NAT, readiness through `rvsadm -L -n`.
    let director = lab.start_director(None).unwrap();
    assert!(lab.is_running(&director));
    let log = lab.director_log();
    assert!(log.contains("-i eth0 -i eth1 --socket"), "{log}");
    lab.rvsadm(&["-A", "-t", "192.0.2.10:80", "-s", "rr"])
        .unwrap();
    let listing = lab.rvsadm(&["-L", "-n"]).unwrap();
    assert!(listing.contains("-A -t 192.0.2.10:80 -s rr"), "{listing}");
    let seen: BTreeSet<String> = (0..3)
        .map(|_| lab.curl(&lab.url("/")).unwrap().trim().to_owned())
        .collect();
    assert_eq!(seen.len(), 3, "{seen:?}");

    // A second director is refused; stopping ends it cleanly (it removes its rules).
    assert!(lab.start_director(None).is_err());
    let status = lab.stop_director().unwrap();
    assert!(status.success(), "{status}");
    assert!(lab.director().is_none());
    let rules = lab
        .exec_ok(lab.director_ns(), &["nft", "list", "ruleset"])
        .unwrap();
    assert!(!rules.contains("fake_rvsd"), "{rules}");
    drop(lab);

    // The demo, end to end, with the same stand-ins.
    let out = Command::new(env!("CARGO_BIN_EXE_rvs-lab"))
        .args(["demo", "--requests", "3"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in ["request 1 -> rs1", "request 2 -> rs2", "request 3 -> rs3"] {
        assert!(stdout.contains(line), "{stdout}");
    }
    assert!(
        stdout.contains("-a -t 192.0.2.10:80 -r 198.51.100.13:80 -m -w 1"),
        "{stdout}"
    );
    assert!(stdout.contains("rvsadm -L -n --stats:"), "{stdout}");
    assert!(stdout.contains("tearing the lab down."), "{stdout}");

    // Without rvsd the demo says how to get it.
    let out = Command::new(env!("CARGO_BIN_EXE_rvs-lab"))
        .args(["demo"])
        .env("RVSD_BIN", "/nonexistent/rvsd")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("rvsd"), "{stderr}");
    assert!(stderr.contains("not found"), "{stderr}");
}
