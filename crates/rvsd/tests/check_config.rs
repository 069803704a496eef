//! `rvsd --check-config`: a good file loads and is summarised; a bad one is refused
//! with file:line:column: reason and a non-zero exit. No root needed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

fn check(text: &str) -> (i32, String, String) {
    let dir =
        std::env::temp_dir().join(format!("rvsd-check-{}-{}", std::process::id(), text.len()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("keepalived.conf");
    std::fs::write(&path, text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_rvsd"))
        .arg("--check-config")
        .arg(&path)
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const GOOD: &str = r#"
global_defs {
    router_id director1
}
virtual_server 192.0.2.10 80 {
    delay_loop 6
    lb_algo wlc
    lb_kind DR
    persistence_timeout 300
    protocol TCP
    real_server 198.51.100.11 80 {
        weight 3
        TCP_CHECK {
            connect_timeout 3
        }
    }
    real_server 198.51.100.12 80 {
        weight 1
        HTTP_GET {
            url {
                path /health
                status_code 200
            }
        }
    }
}
"#;

#[test]
fn a_good_file_is_summarised() {
    let (code, out, err) = check(GOOD);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("ok (Keepalived): 1 virtual services, 2 real servers, 2 health checks"),
        "{out}"
    );
}

#[test]
fn a_bad_file_names_file_line_column_and_reason() {
    let bad = GOOD.replace("weight 3", "weight 70000");
    let (code, out, err) = check(&bad);
    assert_eq!(code, 1, "{out}{err}");
    let line = GOOD.lines().position(|l| l.contains("weight 3")).unwrap() + 1;
    assert!(err.contains(&format!("keepalived.conf:{line}:")), "{err}");
    assert!(err.contains("weight"), "{err}");
}

fn vrrp(body: &str, extra: &str) -> String {
    format!(
        r#"{extra}
vrrp_instance VI_1 {{
    state MASTER
    interface eth0
    virtual_router_id 51
    priority 150
    advert_int 1
    virtual_ipaddress {{
        192.0.2.10/24
    }}
{body}
}}
"#
    )
}

#[test]
fn vrrp_tracking_without_weights_is_accepted() {
    let text = vrrp(
        "    track_interface {\n        eth1\n    }\n    track_script {\n        chk_nginx\n    }",
        "vrrp_script chk_nginx {\n    script \"/bin/true\"\n    interval 2\n}",
    );
    let (code, out, err) = check(&text);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("1 VRRP instances"), "{out}");
}

#[test]
fn vrrp_features_rvs_would_silently_change_are_refused_with_the_place() {
    let cases = [
        (
            vrrp("    track_interface {\n        eth1 weight -20\n    }", ""),
            "track_interface eth1 weight -20: weights are not supported by rvs",
        ),
        (
            vrrp(
                "    track_script {\n        chk\n    }",
                "vrrp_script chk {\n    script \"/bin/true\"\n    weight 10\n}",
            ),
            "track_script chk weight 10: weights are not supported by rvs",
        ),
        (
            vrrp("    track_script {\n        nowhere\n    }", ""),
            "tracks unknown vrrp_script nowhere",
        ),
        (
            vrrp(
                "    authentication {\n        auth_type AH\n        auth_pass secret\n    }",
                "",
            ),
            "auth_type AH is not supported by rvs",
        ),
        (vrrp("    use_vmac", ""), "use_vmac is not supported by rvs"),
        (
            vrrp(
                "    virtual_ipaddress {\n        192.0.2.11/24 label other:1\n    }",
                "",
            ),
            "label other:1: a label must start with the interface's name (eth0)",
        ),
    ];
    for (text, want) in cases {
        let (code, out, err) = check(&text);
        assert_eq!(code, 1, "{want}: {out}{err}");
        assert!(err.contains(want), "want {want:?} in {err}");
        // The place: the instance's file and line.
        assert!(err.contains("keepalived.conf:"), "{err}");
    }
}
