//! Errors name the file, line and column of the fault and say why, in every
//! format, including inside included files.

// Test helpers outside #[test] functions may unwrap too.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use rvs_config::{load, load_with, parse_str, ConfigError, Format, LoadOptions, MemoryFiles};

fn kerr(text: &str) -> ConfigError {
    match parse_str(text, "keepalived.conf", Format::Keepalived) {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(e) => e,
    }
}

fn at(e: &ConfigError) -> (u32, u32) {
    (e.line, e.column)
}

const VS_HEAD: &str =
    "virtual_server 192.0.2.1 80 {\n  lb_algo rr\n  lb_kind NAT\n  protocol TCP\n";

#[test]
fn bad_weight_names_the_value() {
    let e = kerr(&format!(
        "{VS_HEAD}  real_server 198.51.100.1 80 {{\n    weight 70000\n  }}\n}}\n"
    ));
    assert_eq!(e.reason, "weight must be 0..65535, got 70000");
    assert_eq!(at(&e), (6, 12));
    assert_eq!(e.file, PathBuf::from("keepalived.conf"));
    assert_eq!(
        e.to_string(),
        "keepalived.conf:6:12: weight must be 0..65535, got 70000"
    );
}

#[test]
fn unknown_keyword_in_a_strict_section() {
    let e = kerr(&format!("{VS_HEAD}  lb_algoo rr\n}}\n"));
    assert_eq!(e.reason, "unknown keyword 'lb_algoo' in virtual_server");
    assert_eq!(at(&e), (5, 3));
    let e = kerr("global_defs {\n  router_idd x\n}\n");
    assert_eq!(e.reason, "unknown keyword 'router_idd' in global_defs");
    let e = kerr("virtual_servers 192.0.2.1 80 {\n}\n");
    assert_eq!(e.reason, "unknown keyword 'virtual_servers' in top");
    assert_eq!(at(&e), (1, 1));
}

#[test]
fn missing_values_and_blocks() {
    let e = kerr(&format!(
        "{VS_HEAD}  real_server 198.51.100.1 80 {{\n    weight\n  }}\n}}\n"
    ));
    assert_eq!(e.reason, "'weight' needs a value");
    assert_eq!(at(&e), (6, 11));
    let e = kerr("virtual_server 192.0.2.1 80\n");
    assert_eq!(e.reason, "'virtual_server' needs a { ... } block");
    let e = kerr("vrrp_instance VI_1 {\n  interface eth0\n}\n");
    assert_eq!(e.reason, "vrrp_instance VI_1 needs virtual_router_id");
    assert_eq!(at(&e), (1, 1));
    let e = kerr(&format!(
        "{VS_HEAD}  real_server 198.51.100.1 80 {{\n    HTTP_GET {{\n      connect_timeout 3\n    }}\n  }}\n}}\n"
    ));
    assert_eq!(e.reason, "HTTP_GET needs at least one url { } block");
    assert_eq!(at(&e), (6, 5));
    let e = kerr(&format!(
        "{VS_HEAD}  real_server 198.51.100.1 80 {{\n    MISC_CHECK {{\n    }}\n  }}\n}}\n"
    ));
    assert_eq!(e.reason, "MISC_CHECK needs misc_path");
}

#[test]
fn unbalanced_braces() {
    let e = kerr(&format!("{VS_HEAD}  real_server 198.51.100.1 80 {{\n}}\n"));
    assert_eq!(e.reason, "unbalanced braces: this '{' is never closed");
    assert_eq!(at(&e), (1, 29));
    let e = kerr("global_defs {\n}\n}\n");
    assert_eq!(e.reason, "unbalanced braces: '}' without a matching '{'");
    assert_eq!(at(&e), (3, 1));
}

#[test]
fn duplicates() {
    let one = format!("{VS_HEAD}  real_server 198.51.100.1 80 {{\n  }}\n}}\n");
    let e = kerr(&format!("{one}{one}"));
    assert_eq!(
        e.reason,
        "duplicate virtual_server: TCP 192.0.2.1 port 80 is already defined"
    );
    assert_eq!(at(&e), (8, 1));
    let e = kerr(&format!(
        "{VS_HEAD}  real_server 198.51.100.1 80 {{\n  }}\n  real_server 198.51.100.1 80 {{\n  }}\n}}\n"
    ));
    assert_eq!(
        e.reason,
        "duplicate real_server 198.51.100.1 port 80 in this virtual_server"
    );
    assert_eq!(at(&e), (7, 3));
    let e = kerr("vrrp_script a {\n script /bin/true\n}\nvrrp_script a {\n script /bin/true\n}\n");
    assert_eq!(e.reason, "duplicate vrrp_script a");
    assert_eq!(at(&e), (4, 1));
}

#[test]
fn address_family_mismatch() {
    let e = kerr(&format!(
        "{VS_HEAD}  real_server 2001:db8::1 80 {{\n  }}\n}}\n"
    ));
    assert_eq!(
        e.reason,
        "real_server 2001:db8::1 is IPv6 but the virtual server is IPv4: rvs does not mix address families"
    );
    assert_eq!(at(&e), (5, 3));
    let e = kerr("virtual_server_group g {\n 192.0.2.1 80\n 2001:db8::1 80\n}\nvirtual_server group g {\n lb_kind TUN\n lb_algo rr\n protocol TCP\n real_server 198.51.100.1 80 {\n }\n}\n");
    assert!(e.reason.contains("mixes IPv4 and IPv6"));
    assert_eq!(at(&e), (3, 2));
}

#[test]
fn unsupported_features_are_refused() {
    let e = kerr("virtual_server 192.0.2.1 80 {\n  protocol SCTP\n}\n");
    assert_eq!(e.reason, "protocol SCTP is not supported by rvs");
    assert_eq!(at(&e), (2, 12));
    let e = kerr("virtual_server 192.0.2.1 80 {\n  persistence_engine sip\n}\n");
    assert!(e
        .reason
        .starts_with("'persistence_engine' in virtual_server is not supported by rvs"));
    let e = kerr("virtual_server 192.0.2.1 80 {\n real_server 198.51.100.1 80 {\n  BFD_CHECK {\n  }\n }\n}\n");
    assert!(e
        .reason
        .starts_with("'BFD_CHECK' in real_server is not supported by rvs"));
    assert_eq!(at(&e), (3, 3));
    let e = kerr("virtual_server 192.0.2.1 80 {\n lb_algo twos\n}\n");
    assert_eq!(e.reason, "scheduler twos is not supported by rvs");
    let e = kerr("virtual_server 192.0.2.1 80 {\n lb_kind TUN type gue port 6080\n}\n");
    assert_eq!(
        e.reason,
        "tunnel type gue is not supported by rvs (IP-in-IP only)"
    );
    assert_eq!(at(&e), (2, 19));
    let e = kerr("~SEQ(N, 1, 3) real_server 198.51.100.${N} 80\n");
    assert!(e.reason.contains("~SEQ"));
}

#[test]
fn bad_values() {
    let e = kerr("virtual_server 192.0.2.1 80 {\n lb_kind XYZ\n}\n");
    assert_eq!(e.reason, "lb_kind must be NAT, DR or TUN, got 'XYZ'");
    let e = kerr("virtual_server 192.0.2.1 80 {\n lb_algo fastest\n}\n");
    assert!(e.reason.starts_with("unknown scheduler 'fastest'"));
    let e = kerr("virtual_server 192.0.2.1 80 {\n delay_loop soon\n}\n");
    assert_eq!(
        e.reason,
        "delay_loop must be a time in seconds (e.g. 3 or 0.5), got 'soon'"
    );
    let e = kerr("virtual_server web.example.org 80 {\n}\n");
    assert!(e.reason.contains("host names are not resolved"));
    assert_eq!(at(&e), (1, 16));
    let e = kerr("virtual_server 192.0.2.1 80 {\n persistence_granularity 255.0.255.0\n}\n");
    assert!(e.reason.contains("contiguous"));
    let e = kerr("global_defs {\n lvs_timeouts tcp 900 udpp 3\n}\n");
    assert_eq!(
        e.reason,
        "lvs_timeouts takes tcp, tcpfin and udp, got 'udpp'"
    );
    assert_eq!(at(&e), (2, 23));
    let e = kerr("vrrp_instance V {\n virtual_router_id 256\n}\n");
    assert_eq!(e.reason, "virtual_router_id must be 1..255, got 256");
    let e = kerr("vrrp_instance V {\n virtual_router_id 1\n state MAIN\n}\n");
    assert_eq!(e.reason, "state must be MASTER or BACKUP, got 'MAIN'");
    let e = kerr("virtual_server 192.0.2.1 80 {\n real_server 198.51.100.1 80 {\n  HTTP_GET {\n   url {\n    path /\n    digest 1234\n   }\n  }\n }\n}\n");
    assert_eq!(
        e.reason,
        "digest must be 32 hex digits (an MD5 sum), got '1234'"
    );
    assert_eq!(at(&e), (6, 12));
    let e = kerr("virtual_server 192.0.2.1 80 {\n quorum_up \"/bin/x\n}\n");
    assert_eq!(e.reason, "missing closing \" of a quoted string");
    assert_eq!(at(&e), (2, 12));
    let e = kerr("virtual_server group nope {\n real_server 198.51.100.1 80 {\n }\n}\n");
    assert_eq!(
        e.reason,
        "virtual_server group nope: no virtual_server_group nope is defined"
    );
}

#[test]
fn vrrp_cross_references() {
    let inst = "vrrp_instance VI_1 {\n virtual_router_id 1\n track_script {\n  chk\n }\n}\n";
    let e = kerr(inst);
    assert_eq!(
        e.reason,
        "vrrp_instance VI_1 tracks unknown vrrp_script chk"
    );
    let e = kerr("vrrp_sync_group G {\n group {\n  VI_9\n }\n}\n");
    assert_eq!(
        e.reason,
        "vrrp_sync_group G names unknown vrrp_instance VI_9"
    );
    assert_eq!(at(&e), (1, 1));
    let e = kerr("vrrp_instance V {\n virtual_router_id 1\n version 2\n virtual_ipaddress {\n  2001:db8::1\n }\n}\n");
    assert_eq!(e.reason, "VRRP version 2 cannot carry IPv6 addresses");
    assert_eq!(at(&e), (3, 2));
}

fn mem_load(fs: &MemoryFiles, main: &str) -> Result<rvs_config::LoadedConfig, ConfigError> {
    load_with(
        fs,
        Path::new(main),
        Some(Format::Keepalived),
        &LoadOptions::default(),
    )
}

#[test]
fn errors_inside_included_files_name_them() {
    let fs = MemoryFiles::new()
        .with(
            "/etc/keepalived/keepalived.conf",
            "global_defs {\n}\ninclude conf.d/*.conf\n",
        )
        .with(
            "/etc/keepalived/conf.d/web.conf",
            format!("{VS_HEAD}  real_server 198.51.100.1 80 {{\n    weight 70000\n  }}\n}}\n"),
        );
    let e = mem_load(&fs, "/etc/keepalived/keepalived.conf").unwrap_err();
    assert_eq!(e.file, PathBuf::from("/etc/keepalived/conf.d/web.conf"));
    assert_eq!((e.line, e.column), (6, 12));
    assert_eq!(e.reason, "weight must be 0..65535, got 70000");

    // A brace left open in an included file is reported there.
    let fs = MemoryFiles::new()
        .with("/k/main.conf", "include a.conf\n")
        .with("/k/a.conf", "global_defs {\n");
    let e = mem_load(&fs, "/k/main.conf").unwrap_err();
    assert_eq!(e.file, PathBuf::from("/k/a.conf"));
    assert_eq!((e.line, e.column), (1, 13));
}

#[test]
fn include_problems() {
    let fs = MemoryFiles::new().with("/k/main.conf", "global_defs {\n}\n  include missing.conf\n");
    let e = mem_load(&fs, "/k/main.conf").unwrap_err();
    assert_eq!(e.reason, "included file /k/missing.conf not found");
    assert_eq!(
        (e.file.as_path(), e.line, e.column),
        (Path::new("/k/main.conf"), 3, 3)
    );

    // Wildcards may match nothing; includew may not.
    let fs = MemoryFiles::new().with("/k/main.conf", "include none/*.conf\n");
    assert!(mem_load(&fs, "/k/main.conf").is_ok());
    let fs = MemoryFiles::new().with("/k/main.conf", "includew none/*.conf\n");
    assert!(mem_load(&fs, "/k/main.conf").is_err());
    let fs = MemoryFiles::new()
        .with("/k/main.conf", "includeb {a,b}.conf\n")
        .with("/k/a.conf", "");
    let e = mem_load(&fs, "/k/main.conf").unwrap_err();
    assert_eq!(
        e.reason,
        "include {a,b}.conf: brace alternative b.conf matches no file"
    );
    let fs = MemoryFiles::new().with("/k/main.conf", "includer missing.conf\n");
    assert!(mem_load(&fs, "/k/main.conf").is_ok());

    // Cycles.
    let fs = MemoryFiles::new()
        .with("/k/main.conf", "include a.conf\n")
        .with("/k/a.conf", "include sub/b.conf\n")
        .with("/k/sub/b.conf", "include ../a.conf\n");
    let e = mem_load(&fs, "/k/main.conf").unwrap_err();
    assert_eq!(e.file, PathBuf::from("/k/sub/b.conf"));
    assert_eq!(
        e.reason,
        "include cycle: /k/a.conf -> /k/sub/b.conf -> /k/sub/../a.conf"
    );

    // Depth bound.
    let mut fs = MemoryFiles::new().with("/k/main.conf", "include d0.conf\n");
    for i in 0..40 {
        fs.add(
            format!("/k/d{i}.conf"),
            format!("include d{}.conf\n", i + 1),
        );
    }
    fs.add("/k/d40.conf", "");
    let e = mem_load(&fs, "/k/main.conf").unwrap_err();
    assert!(e
        .reason
        .starts_with("includes nested deeper than 16 levels"));

    // parse_str never reads the disk.
    let e = kerr("include /etc/passwd\n");
    assert_eq!(e.reason, "included file /etc/passwd not found");
}

#[test]
fn includes_share_parameters_and_pwd() {
    let fs = MemoryFiles::new()
        .with(
            "/k/main.conf",
            "$PORT=80\n@main $PRIO=150\n@^main $PRIO=100\ninclude vs/*.conf\nvrrp_instance V {\n virtual_router_id 9\n priority $PRIO\n notify_master ${_PWD}/notify.sh\n}\n",
        )
        .with(
            "/k/vs/a.conf",
            "virtual_server 192.0.2.1 $PORT {\n lb_algo rr\n lb_kind NAT\n protocol TCP\n real_server 198.51.100.1 ${PORT} {\n  MISC_CHECK {\n   misc_path ${_PWD}/check.sh\n  }\n }\n}\n",
        );
    let opts = LoadOptions {
        config_id: Some("main".into()),
    };
    let c = load_with(&fs, Path::new("/k/main.conf"), None, &opts).unwrap();
    assert_eq!(c.files.len(), 2);
    assert_eq!(c.vrrp_instances[0].priority, 150);
    assert_eq!(
        c.vrrp_instances[0].notify_master.as_ref().unwrap().command,
        "/k/notify.sh"
    );
    let rs = &c.virtual_servers[0].real_servers[0];
    assert_eq!(rs.port, 80);
    let rvs_config::Checker::MiscCheck { script, .. } = &rs.checkers[0] else {
        panic!()
    };
    assert_eq!(script.command, "/k/vs/check.sh");
    let c = load_with(
        &fs,
        Path::new("/k/main.conf"),
        None,
        &LoadOptions::default(),
    )
    .unwrap();
    assert_eq!(c.vrrp_instances[0].priority, 100);
}

#[test]
fn include_with_real_files_and_relative_paths() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("conf.d/deeper")).unwrap();
    std::fs::write(root.join("keepalived.conf"), "include conf.d/*.conf\n").unwrap();
    std::fs::write(root.join("conf.d/b.conf"), "include deeper/c.inc\n").unwrap();
    std::fs::write(
        root.join("conf.d/a.conf"),
        "global_defs {\n router_id a\n}\n",
    )
    .unwrap();
    std::fs::write(
        root.join("conf.d/deeper/c.inc"),
        "vrrp_instance X {\n virtual_router_id 3\n priority 300\n}\n",
    )
    .unwrap();
    let e = load(&root.join("keepalived.conf")).unwrap_err();
    assert_eq!(e.file, root.join("conf.d/deeper/c.inc"));
    assert_eq!((e.line, e.column), (3, 11));
    assert_eq!(e.reason, "priority must be 1..255, got 300");
    std::fs::write(
        root.join("conf.d/deeper/c.inc"),
        "vrrp_instance X {\n virtual_router_id 3\n}\n",
    )
    .unwrap();
    let c = load(&root.join("keepalived.conf")).unwrap();
    assert_eq!(c.global.router_id.as_deref(), Some("a"));
    assert_eq!(c.files.len(), 4);
    let e = load(&root.join("nothing.conf")).unwrap_err();
    assert_eq!((e.line, e.column), (0, 0));
    assert!(e.reason.starts_with("cannot read configuration file"));
}

#[test]
fn ldirectord_errors() {
    let lerr = |t: &str| match parse_str(t, "ldirectord.cf", Format::Ldirectord) {
        Ok(_) => panic!("expected an error for {t}"),
        Err(e) => e,
    };
    let e = lerr("checktimeout=3\nvirtual=192.0.2.1:80\n\treal=198.51.100.1:80 forward\n");
    assert_eq!(
        e.reason,
        "forward method must be gate, masq or ipip, got 'forward'"
    );
    assert_eq!((e.line, e.column), (3, 7));
    let e = lerr("virtual=192.0.2.1:80\n\tchecktypo=connect\n");
    assert_eq!(
        e.reason,
        "unknown ldirectord option 'checktypo' in virtual section"
    );
    assert_eq!((e.line, e.column), (2, 2));
    let e = lerr("\treal=198.51.100.1:80 gate\n");
    assert_eq!(e.reason, "indented option outside a virtual section");
    let e = lerr("virtual=192.0.2.1:80\n\treal=198.51.100.1:80 gate 70000\n");
    assert_eq!(e.reason, "weight must be 0..65535, got 70000");
    let e = lerr("virtual=192.0.2.1:80\n\treal6=[2001:db8::1]:80 gate\n");
    assert!(e.reason.starts_with("'real6' cannot be used here"));
    let e = lerr("quiescent=maybe\n");
    assert_eq!(e.reason, "quiescent must be 'yes' or 'no', got 'maybe'");
    assert_eq!((e.line, e.column), (1, 11));
    let e = lerr("virtual=192.0.2.1:80\n\tprotocol=fwm\n");
    assert!(e.reason.starts_with("protocol must be tcp or udp"));
    let e = lerr("virtual=192.0.2.1:80\n\treal=198.51.100.1:80 gate\nvirtual=192.0.2.1:80\n\treal=198.51.100.1:80 gate\n");
    assert_eq!(e.reason, "duplicate virtual server");
    assert_eq!(e.line, 3);
    let e = lerr("timeout=3\n");
    assert!(e.reason.contains("not supported by rvs"));
}

#[test]
fn piranha_errors() {
    let perr = |t: &str| match parse_str(t, "lvs.cf", Format::Piranha) {
        Ok(_) => panic!("expected an error for {t}"),
        Err(e) => e,
    };
    let e = perr("service = lvs\nvirtual web {\n port = 80\n}\n");
    assert_eq!(e.reason, "virtual web needs an address");
    assert_eq!((e.line, e.column), (2, 1));
    let e = perr("virtual web {\n address = 192.0.2.1\n port = 80\n");
    assert_eq!(e.reason, "unbalanced braces: this block is never closed");
    let e = perr("service = fos\n");
    assert!(e.reason.contains("not supported by rvs"));
    let e = perr("virtual web {\n address = 192.0.2.1\n port = 80\n server a {\n  address = 198.51.100.1\n  weight = 70000\n }\n}\n");
    assert_eq!(e.reason, "weight must be 0..65535, got 70000");
    assert_eq!((e.line, e.column), (6, 12));
    let e = perr("virtual web {\n address = 192.0.2.1\n port = 80\n colour = blue\n}\n");
    assert_eq!(
        e.reason,
        "unknown lvs.cf option 'colour' in virtual section"
    );
}

#[test]
fn services_overlapping_after_group_expansion() {
    let text = "virtual_server_group g {\n 192.0.2.1-5 80\n}\nvirtual_server group g {\n lb_algo rr\n lb_kind NAT\n protocol TCP\n real_server 198.51.100.1 80 {\n }\n}\nvirtual_server 192.0.2.3 80 {\n lb_algo rr\n lb_kind NAT\n protocol TCP\n real_server 198.51.100.2 80 {\n }\n}\n";
    let e = kerr(text);
    assert_eq!(
        e.reason,
        "virtual service TCP 192.0.2.3:80 is defined twice (first at keepalived.conf:2:2)"
    );
    assert_eq!(at(&e), (11, 1));
    let e = kerr("virtual_server_group g {\n 10.0.0.0/8 80\n}\nvirtual_server group g {\n lb_algo rr\n lb_kind NAT\n protocol TCP\n real_server 198.51.100.1 80 {\n }\n}\n");
    assert_eq!(
        e.reason,
        "virtual_server_group g expands to more than 65536 services"
    );
    assert_eq!(at(&e), (2, 2));
}
