//! The packaging files agree with the daemon: the sample keepalived.conf loads without
//! errors or warnings, the systemd unit is a notify service that reloads with SIGHUP and
//! keeps only the capabilities rvsd needs, and the example options of /etc/default/rvsd
//! are options rvsd takes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::Command;

fn packaging(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../packaging")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn sample_keepalived_conf_loads_cleanly() {
    let text = packaging("keepalived.conf");
    let cfg = rvs_config::parse_str(&text, "keepalived.conf", rvs_config::Format::Keepalived)
        .expect("the sample loads");
    assert!(cfg.warnings.is_empty(), "{:?}", cfg.warnings);
    assert_eq!(cfg.services().unwrap().len(), 1);
    assert_eq!(cfg.vrrp_instances.len(), 1);
}

#[test]
fn unit_is_notify_reloads_with_sighup_and_keeps_two_capabilities() {
    let unit = packaging("rvsd.service");
    let has = |line: &str| unit.lines().any(|l| l.trim() == line);
    assert!(has("Type=notify"));
    assert!(has("ExecReload=/bin/kill -HUP $MAINPID"));
    assert!(has("Restart=on-failure"));
    assert!(has("After=network-online.target") && has("Wants=network-online.target"));
    assert!(has("CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_RAW"));
    assert!(has("ExecStart=/usr/sbin/rvsd $RVSD_OPTS"));
}

#[test]
fn default_file_examples_are_rvsd_options() {
    let text = packaging("default/rvsd");
    let example = text
        .lines()
        .find_map(|l| l.strip_prefix("#RVSD_OPTS=\""))
        .and_then(|l| l.strip_suffix('"'))
        .expect("an example RVSD_OPTS line");
    let help = Command::new(env!("CARGO_BIN_EXE_rvsd"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    for word in example.split_whitespace().filter(|w| w.starts_with('-')) {
        assert!(help.contains(word), "rvsd --help lacks {word}");
    }
}

#[test]
fn version_names_commit_and_compiler() {
    let out = Command::new(env!("CARGO_BIN_EXE_rvsd"))
        .arg("--version")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(text.starts_with(&format!("rvsd {}", env!("CARGO_PKG_VERSION"))));
    assert!(text.contains("\ncommit "), "{text}");
    assert!(text.contains("rustc "), "{text}");
}
