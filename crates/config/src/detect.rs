//! Telling the three formats apart by content: the first line that only one
//! of them could contain decides (ldirectord's `virtual=` and `key=value`
//! globals, Piranha's `serial_no =`/`virtual NAME {`, keepalived's block
//! keywords); keepalived when nothing decides.

use crate::model::Format;

const LDIRECTORD_GLOBALS: &[&str] = &[
    "virtual",
    "virtual6",
    "checktimeout",
    "negotiatetimeout",
    "checkinterval",
    "checkcount",
    "failurecount",
    "autoreload",
    "callback",
    "fallback",
    "fallback6",
    "fallbackcommand",
    "logfile",
    "emailalert",
    "emailalertfreq",
    "emailalertstatus",
    "emailalertfrom",
    "smtp",
    "execute",
    "supervised",
    "fork",
    "quiescent",
    "readdquiescent",
    "cleanstop",
    "maintenancedir",
];

const PIRANHA_GLOBALS: &[&str] = &[
    "serial_no",
    "primary",
    "primary_private",
    "backup",
    "backup_private",
    "backup_active",
    "service",
    "network",
    "nat_router",
    "nat_nmask",
    "heartbeat",
    "heartbeat_port",
    "keepalive",
    "deadtime",
    "rsh_command",
    "debug_level",
    "monitor_links",
    "syncdaemon",
];

/// Guess the format of `text`.
pub fn detect_format(text: &str) -> Format {
    for raw in text.lines() {
        let line = raw.split('#').next().unwrap_or("");
        let line = line.split('!').next().unwrap_or("").trim_end();
        let trimmed = line.trim_start();
        if trimmed.is_empty() {
            continue;
        }
        let word_end = trimmed
            .find(|c: char| c.is_whitespace() || c == '=' || c == '{')
            .unwrap_or(trimmed.len());
        let word = &trimmed[..word_end];
        let rest = trimmed[word_end..].trim_start();
        if rest.starts_with('=') {
            if word == "virtual" || word == "virtual6" {
                return Format::Ldirectord;
            }
            // ldirectord globals sit in the first column.
            if LDIRECTORD_GLOBALS.contains(&word) && !line.starts_with(char::is_whitespace) {
                return Format::Ldirectord;
            }
            if PIRANHA_GLOBALS.contains(&word) {
                return Format::Piranha;
            }
            continue;
        }
        if (word == "virtual" || word == "failover") && rest.ends_with('{') {
            return Format::Piranha;
        }
        if matches!(
            word,
            "global_defs"
                | "virtual_server"
                | "virtual_server_group"
                | "vrrp_instance"
                | "vrrp_sync_group"
                | "vrrp_script"
                | "include"
                | "static_ipaddress"
        ) {
            return Format::Keepalived;
        }
    }
    Format::Keepalived
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_each_format() {
        assert_eq!(
            detect_format("! Configuration File for keepalived\nglobal_defs {\n}\n"),
            Format::Keepalived
        );
        assert_eq!(
            detect_format("# ldirectord\nchecktimeout=3\nvirtual=192.0.2.1:80\n"),
            Format::Ldirectord
        );
        assert_eq!(
            detect_format("serial_no = 25\nprimary = 203.0.113.1\nservice = lvs\n"),
            Format::Piranha
        );
        assert_eq!(
            detect_format("virtual web {\n address = 192.0.2.1\n}\n"),
            Format::Piranha
        );
        assert_eq!(detect_format(""), Format::Keepalived);
    }
}
