//! Golden tests of the renderers: the metrics text of [`rvs_web::model::example`] must
//! equal `tests/data/example.prom` byte for byte (`UPDATE_GOLDEN=1 cargo test -p rvs-web`
//! rewrites it after an intended change; review the diff), pass `promtool check
//! metrics` when promtool is installed, and the page and JSON must show every part.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use rvs_web::model::example;
use rvs_web::{metrics, page};

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

#[test]
fn metrics_text_matches_the_golden_file() {
    let text = metrics::render(&example());
    let path = data("example.prom");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &text).unwrap();
    }
    let golden = std::fs::read_to_string(&path).unwrap();
    if text != golden {
        for (i, (a, b)) in text.lines().zip(golden.lines()).enumerate() {
            assert_eq!(a, b, "line {} differs", i + 1);
        }
        assert_eq!(text.lines().count(), golden.lines().count(), "line counts");
    }
}

#[test]
fn node_exporter_lines_are_exact() {
    let text = metrics::render(&example());
    for line in [
        "# HELP node_ipvs_connections_total The total number of connections made.",
        "# TYPE node_ipvs_connections_total counter",
        "node_ipvs_connections_total 2043",
        "# HELP node_ipvs_incoming_bytes_total The total amount of incoming data.",
        "# HELP node_ipvs_backend_weight The current backend weight by local and remote address.",
        "# TYPE node_ipvs_backend_weight gauge",
        "node_ipvs_backend_weight{local_address=\"192.0.2.10\",local_port=\"80\",remote_address=\"198.51.100.12\",remote_port=\"80\",proto=\"TCP\",local_mark=\"\"} 0",
        "node_ipvs_backend_connections_inactive{local_address=\"2001:db8:a::10\",local_port=\"53\",remote_address=\"2001:db8:5::11\",remote_port=\"53\",proto=\"UDP\",local_mark=\"\"} 4",
        "node_ipvs_backend_connections_active{local_address=\"\",local_port=\"0\",remote_address=\"198.51.100.71\",remote_port=\"0\",proto=\"FWM\",local_mark=\"00000001\"} 0",
        "rvs_vrrp_state{instance=\"VI_\\\"edge\\\"\",interface=\"eth1\",vrid=\"52\",state=\"BACKUP\"} 1",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing line: {line}\n{text}"
        );
    }
}

#[test]
fn passes_promtool_check_metrics() {
    let Ok(mut child) = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    else {
        eprintln!("skipping: promtool not installed (Debian package prometheus; scripts/deps.sh)");
        return;
    };
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(metrics::render(&example()).as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn page_shows_every_part() {
    let o = example();
    let html = page::render(&o);
    for needle in [
        "TCP 192.0.2.10:80",
        "UDP [2001:db8:a::10]:53",
        "FWM 1",
        "persistent 300 s",
        "\u{2192} 198.51.100.12:80",
        "<tr class=\"rs down\"",
        "<tr class=\"rs up\"",
        "<tr class=\"rs unknown\"",
        "<tr class=\"rs unchecked\"",
        "connection refused",
        "Masq",
        "Route",
        "Tunnel",
        "<td class=\"state MASTER\"",
        "VI_&quot;edge&quot;",
        "224.0.0.81:8848",
        "not_syn",
        "2.1 ms",
        "1 s ago",
    ] {
        assert!(html.contains(needle), "page lacks {needle:?}");
    }
    assert!(!html.contains("VI_\"edge\""), "names are escaped");
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "no external assets"
    );
    assert!(!html.contains("<form"), "read-only");
}

#[test]
fn every_page_path_resolves_in_the_json() {
    let o = example();
    let html = page::render(&o);
    let json: serde_json::Value = serde_json::from_str(&page::status_json(&o)).unwrap();
    let mut checked = 0;
    for piece in html.split("data-f=\"").skip(1) {
        let path = &piece[..piece.find('"').unwrap()];
        let mut v = &json;
        for key in path.split('.') {
            v = match key.parse::<usize>() {
                Ok(i) => &v[i],
                Err(_) => &v[key],
            };
        }
        // Paths into absent health results are null by design; the rest must exist.
        if !path.contains(".health.") && !path.contains(".lag_secs") {
            assert!(!v.is_null(), "{path} is not in the JSON");
        }
        checked += 1;
    }
    assert!(checked > 100, "checked {checked} cells");
    assert_eq!(json["summary"]["stats"]["conns"], 2043);
    assert_eq!(json["summary"]["dropped"], 120);
}
