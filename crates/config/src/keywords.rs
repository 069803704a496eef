//! The keyword table: for each format and section, which keywords rvs
//! supports, which it parses but does not use (they land in
//! `LoadedConfig::unknown`), and which it refuses because ignoring them
//! would change what the director does. The parsers consult it for every
//! keyword they do not handle themselves, and `docs/keepalived-keywords.md`
//! is generated from it ([`keywords_markdown`]).

use serde::Serialize;

use crate::model::Format;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Support {
    /// Parsed into the model and honoured.
    Supported,
    /// Parsed, listed in `unknown`, no effect on rvs.
    Ignored,
    /// Rejected with "not supported by rvs".
    Unsupported,
}

impl Support {
    pub fn name(self) -> &'static str {
        match self {
            Support::Supported => "supported",
            Support::Ignored => "parsed, ignored",
            Support::Unsupported => "unsupported (error)",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct KeywordInfo {
    pub format: Format,
    pub section: &'static str,
    pub keyword: &'static str,
    pub support: Support,
    pub note: &'static str,
}

use Format::{Keepalived as K, Ldirectord as L, Piranha as P};
use Support::{Ignored as I, Supported as S, Unsupported as U};

macro_rules! kw {
    ($f:expr, $sec:expr, $k:expr, $s:expr) => {
        KeywordInfo {
            format: $f,
            section: $sec,
            keyword: $k,
            support: $s,
            note: "",
        }
    };
    ($f:expr, $sec:expr, $k:expr, $s:expr, $n:expr) => {
        KeywordInfo {
            format: $f,
            section: $sec,
            keyword: $k,
            support: $s,
            note: $n,
        }
    };
}

/// Section names used in the table (and in `Ignored::section`).
pub mod section {
    pub const TOP: &str = "top";
    pub const GLOBAL_DEFS: &str = "global_defs";
    pub const SSL: &str = "SSL";
    pub const VS_GROUP: &str = "virtual_server_group";
    pub const VS: &str = "virtual_server";
    pub const RS: &str = "real_server";
    pub const CHECKER: &str = "checker";
    pub const CHECKER_CONN: &str = "checker (connecting)";
    pub const HTTP: &str = "HTTP_GET/SSL_GET";
    pub const URL: &str = "url";
    pub const TCP: &str = "TCP_CHECK";
    pub const MISC: &str = "MISC_CHECK";
    pub const DNS: &str = "DNS_CHECK";
    pub const PING: &str = "PING_CHECK";
    pub const UDP: &str = "UDP_CHECK";
    pub const SMTP: &str = "SMTP_CHECK";
    pub const VRRP: &str = "vrrp_instance";
    pub const AUTH: &str = "authentication";
    pub const SYNC: &str = "vrrp_sync_group";
    pub const SCRIPT: &str = "vrrp_script";
    pub const GLOBAL: &str = "global";
    pub const VIRTUAL: &str = "virtual";
    pub const SERVER: &str = "server";
}

use section as sec;

pub static KEYWORDS: &[KeywordInfo] = &[
    // ------------------------------------------------------------ keepalived: top level
    kw!(K, sec::TOP, "global_defs", S),
    kw!(K, sec::TOP, "virtual_server", S, "IP [PORT] | fwmark N | group NAME"),
    kw!(K, sec::TOP, "virtual_server_group", S),
    kw!(K, sec::TOP, "vrrp_instance", S),
    kw!(K, sec::TOP, "vrrp_sync_group", S),
    kw!(K, sec::TOP, "vrrp_script", S),
    kw!(K, sec::TOP, "SSL", S, "files for SSL_GET"),
    kw!(K, sec::TOP, "include", S, "glob; unlike keepalived, a literal path that does not exist is an error"),
    kw!(K, sec::TOP, "includer", S, "missing files are not an error"),
    kw!(K, sec::TOP, "includem", S),
    kw!(K, sec::TOP, "includew", S),
    kw!(K, sec::TOP, "includeb", S),
    kw!(K, sec::TOP, "includea", S),
    kw!(K, sec::TOP, "@ID / @^ID", S, "conditional lines, matched against LoadOptions::config_id"),
    kw!(K, sec::TOP, "$NAME=VALUE", S, "parameters, also multi-line; ${_PWD} ${_INSTANCE} ${_HASH} ${_BANG}"),
    kw!(K, sec::TOP, "~SEQ / ~LST", U),
    kw!(K, sec::TOP, "static_ipaddress", I),
    kw!(K, sec::TOP, "static_routes", I),
    kw!(K, sec::TOP, "static_rules", I),
    kw!(K, sec::TOP, "track_group", I),
    kw!(K, sec::TOP, "track_file", I),
    kw!(K, sec::TOP, "vrrp_track_file", I),
    kw!(K, sec::TOP, "vrrp_track_process", I),
    kw!(K, sec::TOP, "linkbeat_interfaces", I),
    kw!(K, sec::TOP, "linkbeat_use_polling", I),
    kw!(K, sec::TOP, "interface_up_down_delays", I),
    kw!(K, sec::TOP, "garp_group", I),
    kw!(K, sec::TOP, "bfd_instance", I),
    kw!(K, sec::TOP, "net_namespace", I),
    kw!(K, sec::TOP, "net_namespace_ipvs", I),
    kw!(K, sec::TOP, "namespace_with_ipsets", I),
    kw!(K, sec::TOP, "use_pid_dir", I),
    kw!(K, sec::TOP, "instance", I),
    kw!(K, sec::TOP, "child_wait_time", I),
    // ------------------------------------------------------------ keepalived: global_defs
    kw!(K, sec::GLOBAL_DEFS, "router_id", S, "names the director in keepalived's e-mails; rvs sends none"),
    kw!(K, sec::GLOBAL_DEFS, "lvs_id", S, "keepalived 1.x name of router_id"),
    kw!(K, sec::GLOBAL_DEFS, "notification_email", S, "kept in the model; rvs sends no e-mail (use notify scripts)"),
    kw!(K, sec::GLOBAL_DEFS, "notification_email_from", S, "kept in the model; rvs sends no e-mail (use notify scripts)"),
    kw!(K, sec::GLOBAL_DEFS, "smtp_server", S, "kept in the model; rvs sends no e-mail (use notify scripts)"),
    kw!(K, sec::GLOBAL_DEFS, "smtp_helo_name", S, "kept in the model; rvs sends no e-mail (use notify scripts)"),
    kw!(K, sec::GLOBAL_DEFS, "smtp_connect_timeout", S, "kept in the model; rvs sends no e-mail (use notify scripts)"),
    kw!(K, sec::GLOBAL_DEFS, "smtp_alert", S, "kept in the model; rvs sends no e-mail (use notify scripts)"),
    kw!(K, sec::GLOBAL_DEFS, "smtp_alert_vrrp", S, "kept in the model; rvs sends no e-mail (use notify scripts)"),
    kw!(K, sec::GLOBAL_DEFS, "smtp_alert_checker", S, "kept in the model; rvs sends no e-mail (use notify scripts)"),
    kw!(K, sec::GLOBAL_DEFS, "checker_log_all_failures", S),
    kw!(K, sec::GLOBAL_DEFS, "lvs_timeouts", S, "tcp N tcpfin N udp N"),
    kw!(K, sec::GLOBAL_DEFS, "lvs_sync_daemon", S, "IFACE [inst NAME] [id N] [maxlen N] [port N] [ttl N] [group IP]"),
    kw!(K, sec::GLOBAL_DEFS, "lvs_flush", S, "rvsd always starts with an empty table"),
    kw!(K, sec::GLOBAL_DEFS, "lvs_flush_on_stop", S, "rvsd's table goes with the process"),
    kw!(K, sec::GLOBAL_DEFS, "lvs_flush_onstop", S, "rvsd's table goes with the process"),
    kw!(K, sec::GLOBAL_DEFS, "vrrp_version", S),
    kw!(K, sec::GLOBAL_DEFS, "vrrp_mcast_group4", S, "224.0.0.18 only: another group is refused when an instance runs"),
    kw!(K, sec::GLOBAL_DEFS, "vrrp_mcast_group6", S, "ff02::12 only: another group is refused when an instance runs"),
    kw!(K, sec::GLOBAL_DEFS, "vrrp_garp_master_delay", S),
    kw!(K, sec::GLOBAL_DEFS, "vrrp_garp_master_repeat", S),
    kw!(K, sec::GLOBAL_DEFS, "vrrp_garp_master_refresh", S, "default for garp_master_refresh"),
    kw!(K, sec::GLOBAL_DEFS, "vrrp_garp_master_refresh_repeat", S, "default for garp_master_refresh_repeat"),
    kw!(K, sec::GLOBAL_DEFS, "vrrp_garp_lower_prio_delay", S, "default for garp_lower_prio_delay, which rvs does not implement"),
    kw!(K, sec::GLOBAL_DEFS, "vrrp_garp_lower_prio_repeat", S, "see vrrp_garp_lower_prio_delay"),
    kw!(K, sec::GLOBAL_DEFS, "vrrp_strict", S, "sets strict_mode, which rvs does not implement (warned)"),
    kw!(K, sec::GLOBAL_DEFS, "default_interface", S, "kept in the model; give each vrrp_instance its interface"),
    kw!(K, sec::GLOBAL_DEFS, "script_user", S),
    kw!(K, sec::GLOBAL_DEFS, "enable_script_security", S, "kept in the model; scripts run as rvsd's user"),
    kw!(K, sec::GLOBAL_DEFS, "dynamic_interfaces", S, "kept in the model; interfaces must exist at start"),
    kw!(K, sec::GLOBAL_DEFS, "vrrp_*", I, "any other vrrp_ option"),
    kw!(K, sec::GLOBAL_DEFS, "process_names", I),
    kw!(K, sec::GLOBAL_DEFS, "process_name", I),
    kw!(K, sec::GLOBAL_DEFS, "checker_process_name", I),
    kw!(K, sec::GLOBAL_DEFS, "lvs_process_name", I),
    kw!(K, sec::GLOBAL_DEFS, "bfd_process_name", I),
    kw!(K, sec::GLOBAL_DEFS, "use_symlink_paths", I),
    kw!(K, sec::GLOBAL_DEFS, "set_supplementary_groups", I),
    kw!(K, sec::GLOBAL_DEFS, "startup_script", I),
    kw!(K, sec::GLOBAL_DEFS, "startup_script_timeout", I),
    kw!(K, sec::GLOBAL_DEFS, "shutdown_script", I),
    kw!(K, sec::GLOBAL_DEFS, "shutdown_script_timeout", I),
    kw!(K, sec::GLOBAL_DEFS, "max_auto_priority", I),
    kw!(K, sec::GLOBAL_DEFS, "min_auto_priority_delay", I),
    kw!(K, sec::GLOBAL_DEFS, "no_email_faults", I),
    kw!(K, sec::GLOBAL_DEFS, "disable_local_igmp", I),
    kw!(K, sec::GLOBAL_DEFS, "v3_checksum_as_v2", I),
    kw!(K, sec::GLOBAL_DEFS, "nftables", I),
    kw!(K, sec::GLOBAL_DEFS, "nftables_priority", I),
    kw!(K, sec::GLOBAL_DEFS, "nftables_ifindex", I),
    kw!(K, sec::GLOBAL_DEFS, "nftables_counters", I),
    kw!(K, sec::GLOBAL_DEFS, "nftables_ipvs", I),
    kw!(K, sec::GLOBAL_DEFS, "nftables_ipvs_priority", I),
    kw!(K, sec::GLOBAL_DEFS, "nftables_ipvs_start_fwmark", I),
    kw!(K, sec::GLOBAL_DEFS, "notify_fifo", I),
    kw!(K, sec::GLOBAL_DEFS, "notify_fifo_script", I),
    kw!(K, sec::GLOBAL_DEFS, "fifo_write_vrrp_states_on_reload", I),
    kw!(K, sec::GLOBAL_DEFS, "lvs_notify_fifo", I),
    kw!(K, sec::GLOBAL_DEFS, "lvs_notify_fifo_script", I),
    kw!(K, sec::GLOBAL_DEFS, "checker_priority", I),
    kw!(K, sec::GLOBAL_DEFS, "checker_no_swap", I),
    kw!(K, sec::GLOBAL_DEFS, "checker_rt_priority", I),
    kw!(K, sec::GLOBAL_DEFS, "checker_cpu_affinity", I),
    kw!(K, sec::GLOBAL_DEFS, "checker_rlimit_rttime", I),
    kw!(K, sec::GLOBAL_DEFS, "checker_rlimit_rtime", I),
    kw!(K, sec::GLOBAL_DEFS, "bfd_priority", I),
    kw!(K, sec::GLOBAL_DEFS, "bfd_no_swap", I),
    kw!(K, sec::GLOBAL_DEFS, "bfd_rt_priority", I),
    kw!(K, sec::GLOBAL_DEFS, "bfd_cpu_affinity", I),
    kw!(K, sec::GLOBAL_DEFS, "bfd_rlimit_rttime", I),
    kw!(K, sec::GLOBAL_DEFS, "bfd_rlimit_rtime", I),
    kw!(K, sec::GLOBAL_DEFS, "snmp_socket", I),
    kw!(K, sec::GLOBAL_DEFS, "enable_traps", I),
    kw!(K, sec::GLOBAL_DEFS, "enable_snmp_vrrp", I),
    kw!(K, sec::GLOBAL_DEFS, "enable_snmp_keepalived", I),
    kw!(K, sec::GLOBAL_DEFS, "enable_snmp_rfc", I),
    kw!(K, sec::GLOBAL_DEFS, "enable_snmp_rfcv2", I),
    kw!(K, sec::GLOBAL_DEFS, "enable_snmp_rfcv3", I),
    kw!(K, sec::GLOBAL_DEFS, "enable_snmp_checker", I),
    kw!(K, sec::GLOBAL_DEFS, "snmp_vs_stats_update_interval", I),
    kw!(K, sec::GLOBAL_DEFS, "snmp_rs_stats_update_interval", I),
    kw!(K, sec::GLOBAL_DEFS, "enable_dbus", I),
    kw!(K, sec::GLOBAL_DEFS, "dbus_service_name", I),
    kw!(K, sec::GLOBAL_DEFS, "dbus_no_interface_name", I),
    kw!(K, sec::GLOBAL_DEFS, "process_monitor_rcv_bufs", I),
    kw!(K, sec::GLOBAL_DEFS, "process_monitor_rcv_bufs_force", I),
    kw!(K, sec::GLOBAL_DEFS, "lvs_netlink_cmd_rcv_bufs", I),
    kw!(K, sec::GLOBAL_DEFS, "lvs_netlink_cmd_rcv_bufs_force", I),
    kw!(K, sec::GLOBAL_DEFS, "lvs_netlink_monitor_rcv_bufs", I),
    kw!(K, sec::GLOBAL_DEFS, "lvs_netlink_monitor_rcv_bufs_force", I),
    kw!(K, sec::GLOBAL_DEFS, "rs_init_notifies", I),
    kw!(K, sec::GLOBAL_DEFS, "no_checker_emails", I),
    kw!(K, sec::GLOBAL_DEFS, "log_unknown_vrids", I),
    kw!(K, sec::GLOBAL_DEFS, "vmac_prefix", I),
    kw!(K, sec::GLOBAL_DEFS, "vmac_addr_prefix", I),
    kw!(K, sec::GLOBAL_DEFS, "umask", I),
    kw!(K, sec::GLOBAL_DEFS, "random_seed", I),
    kw!(K, sec::GLOBAL_DEFS, "reload_check_config", I),
    kw!(K, sec::GLOBAL_DEFS, "reload_time_file", I),
    kw!(K, sec::GLOBAL_DEFS, "reload_repeat", I),
    kw!(K, sec::GLOBAL_DEFS, "reload_file", I),
    kw!(K, sec::GLOBAL_DEFS, "include_check", I),
    kw!(K, sec::GLOBAL_DEFS, "config_save_dir", I),
    kw!(K, sec::GLOBAL_DEFS, "tmp_config_directory", I),
    kw!(K, sec::GLOBAL_DEFS, "data_use_instance", I),
    kw!(K, sec::GLOBAL_DEFS, "json_version", I),
    kw!(K, sec::GLOBAL_DEFS, "iproute_usr_dir", I),
    kw!(K, sec::GLOBAL_DEFS, "iproute_etc_dir", I),
    kw!(K, sec::GLOBAL_DEFS, "state_dump_file", I),
    kw!(K, sec::GLOBAL_DEFS, "stats_dump_file", I),
    kw!(K, sec::GLOBAL_DEFS, "json_dump_file", I),
    kw!(K, sec::GLOBAL_DEFS, "state_file_location", I),
    kw!(K, sec::GLOBAL_DEFS, "stats_file_location", I),
    kw!(K, sec::GLOBAL_DEFS, "json_file_location", I),
    kw!(K, sec::GLOBAL_DEFS, "linkbeat_use_polling", I),
    // ------------------------------------------------------------ keepalived: SSL
    kw!(K, sec::SSL, "password", S),
    kw!(K, sec::SSL, "ca", S),
    kw!(K, sec::SSL, "certificate", S),
    kw!(K, sec::SSL, "key", S),
    // ------------------------------------------------------------ keepalived: virtual_server_group
    kw!(K, sec::VS_GROUP, "IP [PORT]", S),
    kw!(K, sec::VS_GROUP, "IP-RANGE [PORT]", S, "a.b.c.d-e, a.b.c.d-a.b.c.d, a.b.c.d/nn and IPv6 forms"),
    kw!(K, sec::VS_GROUP, "fwmark", S, "fwmark N [inet|inet6]"),
    // ------------------------------------------------------------ keepalived: virtual_server
    kw!(K, sec::VS, "delay_loop", S),
    kw!(K, sec::VS, "lb_algo", S, "also lvs_sched; twos is not an IPVS scheduler rvs has"),
    kw!(K, sec::VS, "lvs_sched", S),
    kw!(K, sec::VS, "lb_kind", S, "also lvs_method: NAT|DR|TUN (TUN type ipip only)"),
    kw!(K, sec::VS, "lvs_method", S),
    kw!(K, sec::VS, "persistence_timeout", S),
    kw!(K, sec::VS, "persistence_granularity", S, "netmask (IPv4) or prefix length (IPv6)"),
    kw!(K, sec::VS, "protocol", S, "TCP|UDP; SCTP is an error"),
    kw!(K, sec::VS, "ops", S),
    kw!(K, sec::VS, "flag-1", S),
    kw!(K, sec::VS, "flag-2", S),
    kw!(K, sec::VS, "flag-3", S),
    kw!(K, sec::VS, "sh-port", S),
    kw!(K, sec::VS, "sh-fallback", S),
    kw!(K, sec::VS, "mh-port", S),
    kw!(K, sec::VS, "mh-fallback", S),
    kw!(K, sec::VS, "sorry_server", S),
    kw!(K, sec::VS, "sorry_server_inhibit", S),
    kw!(K, sec::VS, "sorry_server_lvs_method", S),
    kw!(K, sec::VS, "inhibit_on_failure", S),
    kw!(K, sec::VS, "quorum", S),
    kw!(K, sec::VS, "hysteresis", S),
    kw!(K, sec::VS, "quorum_up", S),
    kw!(K, sec::VS, "quorum_down", S),
    kw!(K, sec::VS, "alpha", S),
    kw!(K, sec::VS, "omega", S),
    kw!(K, sec::VS, "virtualhost", S),
    kw!(K, sec::VS, "ha_suspend", S),
    kw!(K, sec::VS, "smtp_alert", S, "kept in the model; rvs sends no e-mail (use notify scripts)"),
    kw!(K, sec::VS, "weight", S, "default real server weight"),
    kw!(K, sec::VS, "retry", S),
    kw!(K, sec::VS, "delay_before_retry", S),
    kw!(K, sec::VS, "connect_timeout", S),
    kw!(K, sec::VS, "warmup", S),
    kw!(K, sec::VS, "ip_family", S),
    kw!(K, sec::VS, "real_server", S),
    kw!(K, sec::VS, "snmp_name", I),
    kw!(K, sec::VS, "hashed", I),
    kw!(K, sec::VS, "nat_mask", I, "keepalived 1.x, no effect"),
    kw!(K, sec::VS, "persistence_engine", U, "IPVS persistence engines (sip) are not implemented"),
    // ------------------------------------------------------------ keepalived: real_server
    kw!(K, sec::RS, "weight", S, "0..65535"),
    kw!(K, sec::RS, "lvs_method", S),
    kw!(K, sec::RS, "lb_kind", S, "accepted as lvs_method"),
    kw!(K, sec::RS, "uthreshold", S),
    kw!(K, sec::RS, "lthreshold", S),
    kw!(K, sec::RS, "inhibit_on_failure", S),
    kw!(K, sec::RS, "notify_up", S),
    kw!(K, sec::RS, "notify_down", S),
    kw!(K, sec::RS, "alpha", S),
    kw!(K, sec::RS, "retry", S),
    kw!(K, sec::RS, "delay_before_retry", S),
    kw!(K, sec::RS, "warmup", S),
    kw!(K, sec::RS, "connect_timeout", S),
    kw!(K, sec::RS, "delay_loop", S),
    kw!(K, sec::RS, "smtp_alert", S, "kept in the model; rvs sends no e-mail (use notify scripts)"),
    kw!(K, sec::RS, "virtualhost", S),
    kw!(K, sec::RS, "TCP_CHECK", S),
    kw!(K, sec::RS, "HTTP_GET", S),
    kw!(K, sec::RS, "SSL_GET", S),
    kw!(K, sec::RS, "MISC_CHECK", S),
    kw!(K, sec::RS, "DNS_CHECK", S),
    kw!(K, sec::RS, "PING_CHECK", S),
    kw!(K, sec::RS, "UDP_CHECK", S),
    kw!(K, sec::RS, "SMTP_CHECK", S),
    kw!(K, sec::RS, "snmp_name", I),
    kw!(K, sec::RS, "BFD_CHECK", U, "ignoring a checker would keep a dead server in service"),
    kw!(K, sec::RS, "FILE_CHECK", U, "ignoring a checker would keep a dead server in service"),
    kw!(K, sec::RS, "track_file", U, "dynamic weights from files are not implemented"),
    kw!(K, sec::RS, "track_bfd", U),
    // ------------------------------------------------------------ keepalived: checkers
    kw!(K, sec::CHECKER, "retry", S),
    kw!(K, sec::CHECKER, "nb_get_retry", S, "old name of retry (accepted in every checker)"),
    kw!(K, sec::CHECKER, "delay_before_retry", S),
    kw!(K, sec::CHECKER, "warmup", S),
    kw!(K, sec::CHECKER, "delay_loop", S),
    kw!(K, sec::CHECKER, "alpha", S),
    kw!(K, sec::CHECKER, "log_all_failures", S),
    kw!(K, sec::CHECKER_CONN, "connect_ip", S),
    kw!(K, sec::CHECKER_CONN, "connect_port", S),
    kw!(K, sec::CHECKER_CONN, "bindto", S),
    kw!(K, sec::CHECKER_CONN, "bind_port", S),
    kw!(K, sec::CHECKER_CONN, "bind_if", S),
    kw!(K, sec::CHECKER_CONN, "connect_timeout", S),
    kw!(K, sec::CHECKER_CONN, "fwmark", S),
    kw!(K, sec::HTTP, "url", S),
    kw!(K, sec::HTTP, "virtualhost", S),
    kw!(K, sec::HTTP, "http_protocol", S, "1.0 | 1.0C | 1.1"),
    kw!(K, sec::HTTP, "fast_recovery", S),
    kw!(K, sec::HTTP, "enable_sni", S),
    kw!(K, sec::HTTP, "sni_name", S),
    kw!(K, sec::HTTP, "tls_compliant", S),
    kw!(K, sec::URL, "path", S),
    kw!(K, sec::URL, "digest", S, "32 hex digits (MD5)"),
    kw!(K, sec::URL, "status_code", S, "codes and ranges; default 200-299"),
    kw!(K, sec::URL, "virtualhost", S),
    kw!(K, sec::URL, "regex", S),
    kw!(K, sec::URL, "regex_no_match", S),
    kw!(K, sec::URL, "regex_options", S),
    kw!(K, sec::URL, "regex_min_offset", S),
    kw!(K, sec::URL, "regex_max_offset", S),
    kw!(K, sec::URL, "regex_stack", I),
    kw!(K, sec::URL, "tls_compliant", I),
    kw!(K, sec::MISC, "misc_path", S),
    kw!(K, sec::MISC, "misc_timeout", S),
    kw!(K, sec::MISC, "misc_dynamic", S),
    kw!(K, sec::MISC, "user", S),
    kw!(K, sec::DNS, "type", S, "A NS CNAME SOA MX TXT AAAA; default SOA"),
    kw!(K, sec::DNS, "name", S),
    kw!(K, sec::UDP, "payload", S),
    kw!(K, sec::UDP, "require_reply", S),
    kw!(K, sec::UDP, "min_reply_length", S),
    kw!(K, sec::UDP, "max_reply_length", S),
    kw!(K, sec::SMTP, "helo_name", S),
    kw!(K, sec::SMTP, "host", S, "deprecated: one more SMTP check per host block"),
    // ------------------------------------------------------------ keepalived: vrrp_instance
    kw!(K, sec::VRRP, "state", S),
    kw!(K, sec::VRRP, "interface", S),
    kw!(K, sec::VRRP, "virtual_router_id", S, "required"),
    kw!(K, sec::VRRP, "priority", S),
    kw!(K, sec::VRRP, "advert_int", S),
    kw!(K, sec::VRRP, "version", S),
    kw!(K, sec::VRRP, "authentication", S),
    kw!(K, sec::VRRP, "virtual_ipaddress", S, "ADDR[/PREFIX] [dev IF] [label IF:NAME]; brd, scope, peer and other ip-address options are kept but have no effect (rvsd warns)"),
    kw!(K, sec::VRRP, "virtual_ipaddress_excluded", S, "rvsd refuses it when the instance runs (and --check-config); list the addresses in virtual_ipaddress"),
    kw!(K, sec::VRRP, "mcast_src_ip", S),
    kw!(K, sec::VRRP, "unicast_src_ip", S),
    kw!(K, sec::VRRP, "unicast_peer", S),
    kw!(K, sec::VRRP, "mcast_dst_ip", S, "rvsd refuses it when the instance runs (and --check-config)"),
    kw!(K, sec::VRRP, "unicast_ttl", S, "kept in the model; not implemented: rvsd warns and it has no effect"),
    kw!(K, sec::VRRP, "nopreempt", S),
    kw!(K, sec::VRRP, "preempt", S),
    kw!(K, sec::VRRP, "preempt_delay", S),
    kw!(K, sec::VRRP, "garp_master_delay", S),
    kw!(K, sec::VRRP, "garp_master_repeat", S),
    kw!(K, sec::VRRP, "garp_master_refresh", S, "announce the VIPs again every N s while master"),
    kw!(K, sec::VRRP, "garp_master_refresh_repeat", S),
    kw!(K, sec::VRRP, "garp_lower_prio_delay", S, "kept in the model; not implemented: rvsd warns and it has no effect"),
    kw!(K, sec::VRRP, "garp_lower_prio_repeat", S, "kept in the model; not implemented: rvsd warns and it has no effect"),
    kw!(K, sec::VRRP, "track_interface", S, "a tracked interface down puts the instance in FAULT; a weight is refused"),
    kw!(K, sec::VRRP, "track_script", S, "a failing vrrp_script puts the instance in FAULT; a weight is refused"),
    kw!(K, sec::VRRP, "dont_track_primary", S, "kept in the model; the instance's own interface is always tracked"),
    kw!(K, sec::VRRP, "notify_master", S),
    kw!(K, sec::VRRP, "notify_backup", S),
    kw!(K, sec::VRRP, "notify_fault", S),
    kw!(K, sec::VRRP, "notify_stop", S),
    kw!(K, sec::VRRP, "notify", S),
    kw!(K, sec::VRRP, "smtp_alert", S, "kept in the model; rvs sends no e-mail (use notify scripts)"),
    kw!(K, sec::VRRP, "use_vmac", S, "rvsd refuses it when the instance runs (and --check-config)"),
    kw!(K, sec::VRRP, "vmac_xmit_base", S, "use_vmac is refused"),
    kw!(K, sec::VRRP, "accept", S),
    kw!(K, sec::VRRP, "no_accept", S),
    kw!(K, sec::VRRP, "strict_mode", S, "kept in the model; not implemented: rvsd warns and it has no effect"),
    kw!(K, sec::VRRP, "check_unicast_src", S, "kept in the model; not implemented: rvsd warns and it has no effect"),
    kw!(K, sec::VRRP, "skip_check_adv_addr", S, "kept in the model; no effect"),
    kw!(K, sec::VRRP, "down_timer_adverts", S, "kept in the model; not implemented: rvsd warns and it has no effect"),
    kw!(K, sec::VRRP, "native_ipv6", S, "deprecated; the addresses decide"),
    kw!(K, sec::VRRP, "use_vmac_addr", I),
    kw!(K, sec::VRRP, "use_ipvlan", I),
    kw!(K, sec::VRRP, "vrf", I),
    kw!(K, sec::VRRP, "track_file", I),
    kw!(K, sec::VRRP, "track_process", I),
    kw!(K, sec::VRRP, "track_bfd", I),
    kw!(K, sec::VRRP, "track_src_ip", I),
    kw!(K, sec::VRRP, "unicast_fault_no_peer", I),
    kw!(K, sec::VRRP, "old_unicast_checksum", I),
    kw!(K, sec::VRRP, "no_virtual_ipaddress", I),
    kw!(K, sec::VRRP, "promote_secondaries", I),
    kw!(K, sec::VRRP, "linkbeat_use_polling", I),
    kw!(K, sec::VRRP, "v3_checksum_as_v2", I),
    kw!(K, sec::VRRP, "virtual_routes", I),
    kw!(K, sec::VRRP, "virtual_rules", I),
    kw!(K, sec::VRRP, "debug", I),
    kw!(K, sec::VRRP, "notify_deleted", I),
    kw!(K, sec::VRRP, "notify_master_rx_lower_pri", I),
    kw!(K, sec::VRRP, "notify_priority_changes", I),
    kw!(K, sec::VRRP, "lvs_sync_daemon_interface", I, "use global_defs lvs_sync_daemon"),
    kw!(K, sec::VRRP, "timer_expired_backup", I),
    kw!(K, sec::VRRP, "thread_timer_expired", I),
    kw!(K, sec::VRRP, "garp_extra_if", I),
    kw!(K, sec::VRRP, "vmac_garp_intvl", I),
    kw!(K, sec::VRRP, "lower_prio_no_advert", I),
    kw!(K, sec::VRRP, "higher_prio_send_advert", I),
    kw!(K, sec::VRRP, "owner_ignore_adverts", I),
    kw!(K, sec::VRRP, "kernel_rx_buf_size", I),
    kw!(K, sec::VRRP, "auth_hmac", U, "keepalived's HMAC advert trailer is not implemented"),
    kw!(K, sec::AUTH, "auth_type", S, "PASS; AH is refused when the instance runs"),
    kw!(K, sec::AUTH, "auth_pass", S),
    kw!(K, sec::SYNC, "group", S),
    kw!(K, sec::SYNC, "track_interface", S, "as in vrrp_instance, for every member"),
    kw!(K, sec::SYNC, "track_script", S, "as in vrrp_instance, for every member"),
    kw!(K, sec::SYNC, "notify_master", S),
    kw!(K, sec::SYNC, "notify_backup", S),
    kw!(K, sec::SYNC, "notify_fault", S),
    kw!(K, sec::SYNC, "notify_stop", S),
    kw!(K, sec::SYNC, "notify", S),
    kw!(K, sec::SYNC, "smtp_alert", S, "kept in the model; rvs sends no e-mail (use notify scripts)"),
    kw!(K, sec::SYNC, "track_file", I),
    kw!(K, sec::SYNC, "track_process", I),
    kw!(K, sec::SYNC, "track_bfd", I),
    kw!(K, sec::SYNC, "global_tracking", I),
    kw!(K, sec::SYNC, "sync_group_tracking_weight", I),
    kw!(K, sec::SYNC, "notify_priority_changes", I),
    kw!(K, sec::SYNC, "notify_deleted", I),
    kw!(K, sec::SCRIPT, "script", S),
    kw!(K, sec::SCRIPT, "interval", S),
    kw!(K, sec::SCRIPT, "timeout", S),
    kw!(K, sec::SCRIPT, "weight", S, "0 only: rvs does not change priorities, a weight is refused"),
    kw!(K, sec::SCRIPT, "rise", S),
    kw!(K, sec::SCRIPT, "fall", S),
    kw!(K, sec::SCRIPT, "user", S),
    kw!(K, sec::SCRIPT, "init_fail", S),
    // ------------------------------------------------------------ ldirectord.cf
    kw!(L, sec::GLOBAL, "virtual", S, "IP:PORT | FWMARK, then indented options"),
    kw!(L, sec::GLOBAL, "virtual6", S, "[IPv6]:PORT | FWMARK"),
    kw!(L, sec::GLOBAL, "checkinterval", S, "delay_loop of every checker"),
    kw!(L, sec::GLOBAL, "checktimeout", S, "connect timeout of connect/ping/external checks"),
    kw!(L, sec::GLOBAL, "negotiatetimeout", S, "timeout of negotiate checks"),
    kw!(L, sec::GLOBAL, "failurecount", S, "retry = failurecount - 1"),
    kw!(L, sec::GLOBAL, "checkcount", S, "deprecated; used as failurecount when that is unset"),
    kw!(L, sec::GLOBAL, "fallback", S, "sorry_server"),
    kw!(L, sec::GLOBAL, "fallback6", S),
    kw!(L, sec::GLOBAL, "quiescent", S, "yes = inhibit_on_failure (default no)"),
    kw!(L, sec::GLOBAL, "autoreload", S),
    kw!(L, sec::GLOBAL, "maintenancedir", S),
    kw!(L, sec::GLOBAL, "readdquiescent", I),
    kw!(L, sec::GLOBAL, "callback", I),
    kw!(L, sec::GLOBAL, "fallbackcommand", I),
    kw!(L, sec::GLOBAL, "logfile", I),
    kw!(L, sec::GLOBAL, "execute", I),
    kw!(L, sec::GLOBAL, "fork", I),
    kw!(L, sec::GLOBAL, "supervised", I),
    kw!(L, sec::GLOBAL, "emailalert", I),
    kw!(L, sec::GLOBAL, "emailalertfreq", I),
    kw!(L, sec::GLOBAL, "emailalertstatus", I),
    kw!(L, sec::GLOBAL, "emailalertfrom", I),
    kw!(L, sec::GLOBAL, "cleanstop", I),
    kw!(L, sec::GLOBAL, "smtp", I),
    kw!(L, sec::GLOBAL, "connecttimeout", U, "ldirectord itself rejects it (use negotiatetimeout)"),
    kw!(L, sec::GLOBAL, "timeout", U, "ldirectord itself rejects it"),
    kw!(L, sec::VIRTUAL, "real", S, "IP[->IP][:PORT] gate|masq|ipip [WEIGHT] [\"request\", \"receive\"] [l:N] [u:N]"),
    kw!(L, sec::VIRTUAL, "real6", S),
    kw!(L, sec::VIRTUAL, "checktype", S, "negotiate, connect, ping, external, external-perl, on, off or N (combined)"),
    kw!(L, sec::VIRTUAL, "service", S, "http, https, dns, simpletcp, smtp checked; others fall back to a connect check with a warning"),
    kw!(L, sec::VIRTUAL, "request", S),
    kw!(L, sec::VIRTUAL, "receive", S, "a regular expression"),
    kw!(L, sec::VIRTUAL, "httpmethod", S),
    kw!(L, sec::VIRTUAL, "virtualhost", S),
    kw!(L, sec::VIRTUAL, "checkcommand", S, "MISC_CHECK with VIP VPORT RIP RPORT appended"),
    kw!(L, sec::VIRTUAL, "checkport", S),
    kw!(L, sec::VIRTUAL, "checkinterval", S),
    kw!(L, sec::VIRTUAL, "checktimeout", S),
    kw!(L, sec::VIRTUAL, "negotiatetimeout", S),
    kw!(L, sec::VIRTUAL, "failurecount", S),
    kw!(L, sec::VIRTUAL, "checkcount", S),
    kw!(L, sec::VIRTUAL, "scheduler", S, "default wrr"),
    kw!(L, sec::VIRTUAL, "schedflags", S, "comma list: flag-1..3, sh-port, sh-fallback, mh-port, mh-fallback"),
    kw!(L, sec::VIRTUAL, "persistent", S),
    kw!(L, sec::VIRTUAL, "netmask", S),
    kw!(L, sec::VIRTUAL, "protocol", S, "tcp|udp|fwm"),
    kw!(L, sec::VIRTUAL, "ops", S),
    kw!(L, sec::VIRTUAL, "fallback", S),
    kw!(L, sec::VIRTUAL, "fallback6", S),
    kw!(L, sec::VIRTUAL, "quiescent", S),
    kw!(L, sec::VIRTUAL, "servicename", S),
    kw!(L, sec::VIRTUAL, "login", I),
    kw!(L, sec::VIRTUAL, "passwd", I),
    kw!(L, sec::VIRTUAL, "database", I),
    kw!(L, sec::VIRTUAL, "secret", I),
    kw!(L, sec::VIRTUAL, "load", I),
    kw!(L, sec::VIRTUAL, "fallbackcommand", I),
    kw!(L, sec::VIRTUAL, "emailalert", I),
    kw!(L, sec::VIRTUAL, "emailalertfreq", I),
    kw!(L, sec::VIRTUAL, "emailalertstatus", I),
    kw!(L, sec::VIRTUAL, "monitorfile", I),
    kw!(L, sec::VIRTUAL, "cleanstop", I),
    kw!(L, sec::VIRTUAL, "smtp", I),
    kw!(L, sec::VIRTUAL, "comment", I),
    kw!(L, sec::VIRTUAL, "connecttimeout", U),
    // ------------------------------------------------------------ Piranha lvs.cf
    kw!(P, sec::GLOBAL, "service", S, "lvs; fos (failover services) is an error"),
    kw!(P, sec::GLOBAL, "network", S, "nat|direct|tunnel: forwarding method of all real servers"),
    kw!(P, sec::GLOBAL, "nat_router", S, "IP DEV:LABEL"),
    kw!(P, sec::GLOBAL, "nat_nmask", S),
    kw!(P, sec::GLOBAL, "syncdaemon", S, "with syncd_iface and syncd_id: lvs_sync_daemon"),
    kw!(P, sec::GLOBAL, "syncd_iface", S),
    kw!(P, sec::GLOBAL, "syncd_id", S),
    kw!(P, sec::GLOBAL, "tcp_timeout", S, "lvs_timeouts"),
    kw!(P, sec::GLOBAL, "tcpfin_timeout", S),
    kw!(P, sec::GLOBAL, "udp_timeout", S),
    kw!(P, sec::GLOBAL, "keepalive", S, "also the interval of the real server checks"),
    kw!(P, sec::GLOBAL, "virtual", S),
    kw!(P, sec::GLOBAL, "serial_no", I),
    kw!(P, sec::GLOBAL, "primary", I),
    kw!(P, sec::GLOBAL, "primary_private", I),
    kw!(P, sec::GLOBAL, "primary_shared", I),
    kw!(P, sec::GLOBAL, "backup", I),
    kw!(P, sec::GLOBAL, "backup_private", I),
    kw!(P, sec::GLOBAL, "backup_shared", I),
    kw!(P, sec::GLOBAL, "backup_active", I),
    kw!(P, sec::GLOBAL, "heartbeat", I),
    kw!(P, sec::GLOBAL, "heartbeat_port", I),
    kw!(P, sec::GLOBAL, "deadtime", I),
    kw!(P, sec::GLOBAL, "rsh_command", I),
    kw!(P, sec::GLOBAL, "debug_level", I),
    kw!(P, sec::GLOBAL, "monitor_links", I),
    kw!(P, sec::GLOBAL, "hard_shutdown", I),
    kw!(P, sec::GLOBAL, "reservation_conflict_action", I),
    kw!(P, sec::GLOBAL, "failover", I, "failover service blocks"),
    kw!(P, sec::VIRTUAL, "active", S),
    kw!(P, sec::VIRTUAL, "address", S, "IP [DEV:LABEL]"),
    kw!(P, sec::VIRTUAL, "vip_nmask", S),
    kw!(P, sec::VIRTUAL, "port", S),
    kw!(P, sec::VIRTUAL, "fwmark", S),
    kw!(P, sec::VIRTUAL, "protocol", S),
    kw!(P, sec::VIRTUAL, "scheduler", S),
    kw!(P, sec::VIRTUAL, "persistent", S),
    kw!(P, sec::VIRTUAL, "pmask", S),
    kw!(P, sec::VIRTUAL, "send", S, "TCP_SEND_EXPECT checker"),
    kw!(P, sec::VIRTUAL, "expect", S),
    kw!(P, sec::VIRTUAL, "use_regex", S),
    kw!(P, sec::VIRTUAL, "send_program", S, "MISC_CHECK (%h = real server); expect matched against its output"),
    kw!(P, sec::VIRTUAL, "timeout", S, "dead after N seconds of failure"),
    kw!(P, sec::VIRTUAL, "reentry", S, "alive again after N seconds of success"),
    kw!(P, sec::VIRTUAL, "sorry_server", S),
    kw!(P, sec::VIRTUAL, "server", S),
    kw!(P, sec::VIRTUAL, "load_monitor", I, "rup/ruptime weight adjustment"),
    kw!(P, sec::VIRTUAL, "quiesce_server", I),
    kw!(P, sec::SERVER, "address", S),
    kw!(P, sec::SERVER, "active", S),
    kw!(P, sec::SERVER, "weight", S),
    kw!(P, sec::SERVER, "port", S),
];

/// The table entry for `keyword` in `section`, if any. In keepalived's
/// global_defs every `vrrp_*` keyword without its own entry falls under the
/// `vrrp_*` entry.
pub fn lookup(format: Format, section: &str, keyword: &str) -> Option<&'static KeywordInfo> {
    let exact = KEYWORDS
        .iter()
        .find(|k| k.format == format && k.section == section && k.keyword == keyword);
    if exact.is_some() {
        return exact;
    }
    if format == Format::Keepalived && section == sec::GLOBAL_DEFS && keyword.starts_with("vrrp_") {
        return KEYWORDS
            .iter()
            .find(|k| k.format == format && k.section == section && k.keyword == "vrrp_*");
    }
    None
}

/// The keyword tables as Markdown (the content of docs/keepalived-keywords.md).
pub fn keywords_markdown() -> String {
    let mut out = String::new();
    out.push_str("# Configuration keywords\n\n");
    out.push_str(
        "Generated from `rvs_config::keywords::KEYWORDS` (run \
         `RVS_BLESS=1 cargo test -p rvs-config --test keywords_doc` to refresh).\n\n\
         - **supported**: parsed into the model and honoured by rvs; where the note \
         says otherwise (kept in the model with no effect, or refused by rvsd when it \
         starts the part that would need it, `--check-config` included), that is the \
         exception.\n\
         - **parsed, ignored**: accepted and listed in `LoadedConfig::unknown`; no effect.\n\
         - **unsupported (error)**: the load fails with \"... is not supported by rvs\", \
         because ignoring it would change what the director does.\n\
         - Any other keyword is an error (\"unknown keyword\").\n",
    );
    for format in [Format::Keepalived, Format::Ldirectord, Format::Piranha] {
        let title = match format {
            Format::Keepalived => "keepalived.conf",
            Format::Ldirectord => "ldirectord.cf",
            Format::Piranha => "Piranha lvs.cf",
        };
        out.push_str(&format!("\n## {title}\n"));
        let mut sections: Vec<&str> = Vec::new();
        for k in KEYWORDS.iter().filter(|k| k.format == format) {
            if !sections.contains(&k.section) {
                sections.push(k.section);
            }
        }
        for s in sections {
            out.push_str(&format!(
                "\n### {s}\n\n| keyword | support | note |\n|---|---|---|\n"
            ));
            for k in KEYWORDS
                .iter()
                .filter(|k| k.format == format && k.section == s)
            {
                out.push_str(&format!(
                    "| `{}` | {} | {} |\n",
                    k.keyword.replace('|', "\\|"),
                    k.support.name(),
                    k.note.replace('|', "\\|")
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_duplicate_entries() {
        for (i, a) in KEYWORDS.iter().enumerate() {
            for b in &KEYWORDS[i + 1..] {
                assert!(
                    !(a.format == b.format && a.section == b.section && a.keyword == b.keyword),
                    "duplicate {:?} {} {}",
                    a.format,
                    a.section,
                    a.keyword
                );
            }
        }
    }

    #[test]
    fn vrrp_prefix_falls_back() {
        let k = lookup(Format::Keepalived, sec::GLOBAL_DEFS, "vrrp_something_new").unwrap();
        assert_eq!(k.support, Support::Ignored);
        let k = lookup(Format::Keepalived, sec::GLOBAL_DEFS, "vrrp_version").unwrap();
        assert_eq!(k.support, Support::Supported);
        assert!(lookup(Format::Keepalived, sec::GLOBAL_DEFS, "bogus").is_none());
    }
}
