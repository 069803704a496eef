//! Property tests of the renderers with hostile names: whatever an instance, interface
//! or health detail is called, every metrics line stays valid text format (families
//! contiguous and announced by HELP and TYPE, label values escaped and read back
//! unchanged), and the page never carries the raw markup.

use std::collections::HashSet;

use proptest::prelude::*;
use rvs_web::model::{example, CheckResult, Health, HealthState};
use rvs_web::{metrics, page};

fn is_name(s: &str, colon: bool) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || (colon && c == ':'))
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || (colon && c == ':'))
}

/// Reads one sample line strictly, as a Prometheus parser would:
/// `name{label="value",...} number`. Returns the name and the unescaped label values.
fn read_sample(line: &str) -> Option<(String, Vec<String>)> {
    let name_end = line.find(['{', ' '])?;
    let name = &line[..name_end];
    if !is_name(name, true) {
        return None;
    }
    let mut rest = &line[name_end..];
    let mut values = Vec::new();
    if let Some(mut body) = rest.strip_prefix('{') {
        loop {
            let eq = body.find("=\"")?;
            if !is_name(&body[..eq], false) {
                return None;
            }
            let mut value = String::new();
            let mut chars = body[eq + 2..].char_indices();
            let close = loop {
                let (i, c) = chars.next()?;
                match c {
                    '\\' => match chars.next()?.1 {
                        '\\' => value.push('\\'),
                        '"' => value.push('"'),
                        'n' => value.push('\n'),
                        _ => return None,
                    },
                    '"' => break eq + 2 + i,
                    '\n' => return None,
                    c => value.push(c),
                }
            };
            values.push(value);
            body = &body[close + 1..];
            if let Some(more) = body.strip_prefix(',') {
                body = more;
            } else {
                rest = body.strip_prefix('}')?;
                break;
            }
        }
    }
    let number = rest.strip_prefix(' ')?;
    let ok = number.parse::<f64>().is_ok() || ["+Inf", "-Inf", "NaN"].contains(&number);
    ok.then(|| (name.to_string(), values))
}

fn hostile() -> impl Strategy<Value = String> {
    prop_oneof![any::<String>(), "[a-z\"\\\\\n<>&' {}=,]{0,12}",]
}

proptest! {
    #[test]
    fn metrics_stay_valid_whatever_the_names(
        instance in hostile(),
        interface in hostile(),
        detail in hostile(),
        reason in hostile(),
    ) {
        let mut o = example();
        let vrrp = o.vrrp.as_mut().unwrap();
        vrrp[0].name = instance.clone();
        vrrp[1].interface = interface.clone();
        o.drops[0].reason = reason.clone();
        o.services[0].real_servers[0].health = Some(Health {
            state: HealthState::Down,
            checker: "MISC_CHECK".into(),
            checks_run: 1,
            last: Some(CheckResult { ok: false, detail: detail.clone(), latency_secs: 0.5, age_secs: 0.0 }),
        });
        let text = metrics::render(&o);
        let mut announced: HashSet<String> = HashSet::new();
        let mut finished: HashSet<String> = HashSet::new();
        let mut current = String::new();
        let mut label_values = Vec::new();
        for line in text.lines() {
            if let Some(help) = line.strip_prefix("# HELP ") {
                let name = help.split(' ').next().unwrap().to_string();
                prop_assert!(announced.insert(name.clone()), "family {} announced twice", name);
                if !current.is_empty() {
                    finished.insert(current.clone());
                }
                current = name;
            } else if let Some(t) = line.strip_prefix("# TYPE ") {
                prop_assert!(t == format!("{current} counter") || t == format!("{current} gauge"), "{}", t);
            } else {
                let (name, values) = read_sample(line).ok_or_else(|| TestCaseError::fail(format!("bad line {line:?}")))?;
                prop_assert_eq!(&name, &current, "sample outside its family");
                prop_assert!(!finished.contains(&name));
                label_values.extend(values);
            }
        }
        for s in [&instance, &interface, &reason] {
            prop_assert!(label_values.contains(s), "{:?} read back", s);
        }
    }

    #[test]
    fn page_escapes_every_name(instance in hostile(), detail in hostile()) {
        let mut o = example();
        o.vrrp.as_mut().unwrap()[0].name = format!("<b>{instance}");
        o.services[0].real_servers[1].health.as_mut().unwrap().last.as_mut().unwrap().detail =
            format!("<script>{detail}");
        let html = page::render(&o);
        prop_assert!(!html.contains("<b>"));
        prop_assert!(!html.contains("<script>"));
        prop_assert!(html.contains("&lt;b&gt;"));
        // The JSON carries the text as it is, for the script to set as text.
        let json: serde_json::Value = serde_json::from_str(&page::status_json(&o)).unwrap();
        prop_assert_eq!(json["vrrp"][0]["name"].as_str().unwrap(), format!("<b>{instance}"));
    }
}
