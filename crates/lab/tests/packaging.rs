//! rvsd runs with exactly the capabilities its systemd unit leaves it
//! (`CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_RAW`, `NoNewPrivileges=yes`): started
//! through `setpriv` with that bounding set, it installs its rules, balances NAT traffic
//! and answers rvsadm, and the kernel shows it holding those two capabilities only.
//! Skips, visibly, without root.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use rvs_lab::{needs_root, Lab, LabSpec, Method};

/// CAP_NET_ADMIN (12) and CAP_NET_RAW (13).
const UNIT_CAPS: u64 = (1 << 12) | (1 << 13);

#[test]
fn rvsd_works_with_only_the_units_capabilities() {
    if needs_root() {
        return;
    }
    let lab = Lab::build(&LabSpec::new(Method::Nat)).expect("lab");
    let handle = lab
        .start_director(Some(
            "setpriv --no-new-privs --bounding-set -all,+net_admin,+net_raw \
             --inh-caps -all {rvsd} -i eth0 -i eth1 --socket {sock}",
        ))
        .unwrap_or_else(|e| panic!("rvsd under the unit's capabilities: {e}"));

    let status = std::fs::read_to_string(format!("/proc/{}/status", handle.pid)).unwrap();
    let cap = |field: &str| {
        let line = status
            .lines()
            .find(|l| l.starts_with(field))
            .unwrap_or_else(|| panic!("{field} in {status}"));
        u64::from_str_radix(line.split_whitespace().nth(1).unwrap(), 16).unwrap()
    };
    assert_eq!(cap("CapEff:"), UNIT_CAPS, "effective capabilities");
    assert_eq!(cap("CapBnd:"), UNIT_CAPS, "bounding set");

    lab.rvsadm(&["-A", "-t", "192.0.2.10:80", "-s", "rr"])
        .unwrap();
    for rs in lab.real_servers() {
        let rip = format!("{}:80", rs.ip);
        lab.rvsadm(&["-a", "-t", "192.0.2.10:80", "-r", &rip, "-m"])
            .unwrap();
    }
    let mut seen = std::collections::BTreeSet::new();
    for i in 0..6 {
        let body = lab
            .curl(&lab.url("/"))
            .unwrap_or_else(|e| panic!("request {i}: {e}\n{}", lab.director_log()));
        seen.insert(body.trim().to_string());
    }
    assert_eq!(seen.len(), 3, "every real server answered: {seen:?}");
    let rules = lab
        .exec_ok(
            lab.director_ns(),
            &["nft", "list", "table", "netdev", "rvsd"],
        )
        .expect("rvsd installed its nftables table");
    assert!(rules.contains("192.0.2.10"), "{rules}");
}
