//! The keyword table is the truth: docs/keepalived-keywords.md is generated
//! from it, and every keyword it calls supported or ignored is accepted by
//! the parser of its section (none falls through to "unknown keyword").

// Test helpers outside #[test] functions may unwrap too.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use rvs_config::keywords::{keywords_markdown, section as sec, Support, KEYWORDS};
use rvs_config::{parse_str, Format};

#[test]
fn docs_match_the_table() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/keepalived-keywords.md");
    let want = keywords_markdown();
    if std::env::var_os("RVS_BLESS").is_some() {
        std::fs::write(&path, &want).unwrap();
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "{} is out of date: run RVS_BLESS=1 cargo test -p rvs-config --test keywords_doc",
        path.display()
    );
}

/// A configuration that puts `kw VALUE` in `section`.
fn keepalived_snippet(section: &str, kw: &str) -> Option<String> {
    let line = format!("{kw} 1");
    Some(match section {
        s if s == sec::TOP => format!("{kw}\n"),
        s if s == sec::GLOBAL_DEFS => format!("global_defs {{\n {line}\n}}\n"),
        s if s == sec::SSL => format!("SSL {{\n {line}\n}}\n"),
        s if s == sec::VS => format!("virtual_server 192.0.2.1 80 {{\n {line}\n}}\n"),
        s if s == sec::RS => {
            format!("virtual_server 192.0.2.1 80 {{\n real_server 198.51.100.1 80 {{\n  {line}\n }}\n}}\n")
        }
        s if s == sec::CHECKER || s == sec::CHECKER_CONN || s == sec::TCP => {
            checker("TCP_CHECK", &line)
        }
        s if s == sec::HTTP => checker("HTTP_GET", &line),
        s if s == sec::URL => checker("HTTP_GET", &format!("url {{\n {line}\n }}")),
        s if s == sec::MISC => checker("MISC_CHECK", &line),
        s if s == sec::DNS => checker("DNS_CHECK", &line),
        s if s == sec::PING => checker("PING_CHECK", &line),
        s if s == sec::UDP => checker("UDP_CHECK", &line),
        s if s == sec::SMTP => checker("SMTP_CHECK", &line),
        s if s == sec::VRRP => format!("vrrp_instance V {{\n {line}\n}}\n"),
        s if s == sec::AUTH => {
            format!("vrrp_instance V {{\n authentication {{\n  {line}\n }}\n}}\n")
        }
        s if s == sec::SYNC => format!("vrrp_sync_group G {{\n {line}\n}}\n"),
        s if s == sec::SCRIPT => format!("vrrp_script S {{\n {line}\n}}\n"),
        _ => return None,
    })
}

fn checker(kind: &str, body: &str) -> String {
    format!(
        "virtual_server 192.0.2.1 80 {{\n real_server 198.51.100.1 80 {{\n  {kind} {{\n   {body}\n  }}\n }}\n}}\n"
    )
}

fn assert_accepted(format: Format, section: &str, kw: &str, support: Support, text: &str) {
    match parse_str(text, "t.conf", format) {
        Ok(cfg) => {
            if support == Support::Ignored {
                assert!(
                    cfg.unknown.iter().any(|i| i.keyword == kw),
                    "{format} {section} '{kw}' should be listed as ignored"
                );
            }
        }
        Err(e) => assert!(
            !(e.reason.starts_with("unknown keyword")
                || e.reason.starts_with("unknown ldirectord option")
                || e.reason.starts_with("unknown lvs.cf option")
                || e.reason.starts_with("internal")),
            "{format} {section} '{kw}': {e}"
        ),
    }
}

#[test]
fn every_listed_keyword_reaches_its_parser() {
    let mut tried = 0;
    for k in KEYWORDS {
        if k.support == Support::Unsupported
            || k.keyword.contains(['*', '/', '$', ' ', '~', '@'])
            || k.keyword.starts_with("include")
        {
            continue;
        }
        let text = match k.format {
            Format::Keepalived => match keepalived_snippet(k.section, k.keyword) {
                Some(t) => t,
                None => continue,
            },
            Format::Ldirectord => {
                if k.section == sec::GLOBAL {
                    format!("{}=1\n", k.keyword)
                } else {
                    format!("virtual=192.0.2.1:80\n\t{}=1\n", k.keyword)
                }
            }
            Format::Piranha => match k.section {
                s if s == sec::GLOBAL => format!("{} = 1\n", k.keyword),
                s if s == sec::VIRTUAL => format!("virtual v {{\n {} = 1\n}}\n", k.keyword),
                _ => format!("virtual v {{\n server s {{\n  {} = 1\n }}\n}}\n", k.keyword),
            },
        };
        assert_accepted(k.format, k.section, k.keyword, k.support, &text);
        tried += 1;
    }
    assert!(tried > 300, "only {tried} keywords tried");
}

#[test]
fn unsupported_keywords_say_so() {
    for k in KEYWORDS
        .iter()
        .filter(|k| k.support == Support::Unsupported)
    {
        let text = match k.format {
            Format::Keepalived => match keepalived_snippet(k.section, k.keyword) {
                Some(t) if !k.keyword.contains(['~', ' ']) => t,
                _ => continue,
            },
            Format::Ldirectord if k.section == sec::GLOBAL => format!("{}=1\n", k.keyword),
            Format::Ldirectord => format!("virtual=192.0.2.1:80\n\t{}=1\n", k.keyword),
            Format::Piranha => continue,
        };
        let e = parse_str(&text, "t.conf", k.format).unwrap_err();
        assert!(
            e.reason.contains("not supported by rvs"),
            "{} {} '{}': {e}",
            k.format,
            k.section,
            k.keyword
        );
    }
}
