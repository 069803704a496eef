//! The one configuration model that keepalived.conf, ldirectord.cf and
//! Piranha's lvs.cf are all loaded into: global definitions, virtual servers
//! with their real servers and health checkers, virtual server groups, VRRP
//! instances, sync groups and scripts. Pure data; every default that the
//! source format implies has already been applied (a checker's retry count,
//! a real server's forwarding method, ...), so consumers never re-derive them.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::time::Duration;

use rvs_core::{Family, ForwardMethod, Protocol, SchedFlags, SchedulerKind};
use serde::{Deserialize, Serialize};

use crate::error::{Ignored, Location, Warning};

/// The configuration language a file is written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Keepalived,
    Ldirectord,
    Piranha,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Keepalived => "keepalived",
            Format::Ldirectord => "ldirectord",
            Format::Piranha => "piranha",
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Everything one load produced.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LoadedConfig {
    pub source: Format,
    /// The main file first, then every included file once, in reading order:
    /// the set to watch for reload-on-change.
    pub files: Vec<PathBuf>,
    pub global: GlobalDefs,
    pub virtual_servers: Vec<VirtualServer>,
    pub virtual_server_groups: Vec<VirtualServerGroup>,
    pub vrrp_instances: Vec<VrrpInstance>,
    pub vrrp_sync_groups: Vec<VrrpSyncGroup>,
    pub vrrp_scripts: Vec<VrrpScript>,
    /// Keywords parsed but not used by rvs (kept, never rejected).
    pub unknown: Vec<Ignored>,
    /// Settings accepted with an adjustment, as keepalived would log them.
    pub warnings: Vec<Warning>,
}

/// A command line to run (notify scripts, MISC_CHECK, vrrp_script), with the
/// user and group keepalived would run it as.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Script {
    /// The command and its parameters as written (quotes already removed from
    /// the configuration token); split it with [`Script::argv`].
    pub command: String,
    pub user: Option<String>,
    pub group: Option<String>,
}

/// `smtp_server HOST [PORT]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmtpServer {
    pub host: String,
    pub port: u16,
}

/// `lvs_timeouts tcp N tcpfin N udp N` (seconds; unset values stay as they are).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LvsTimeouts {
    pub tcp: Option<u32>,
    pub tcp_fin: Option<u32>,
    pub udp: Option<u32>,
}

/// `lvs_sync_daemon IFACE [inst VRRP_INSTANCE] [id N] [maxlen N] [port N] [ttl N] [group IP]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LvsSyncDaemon {
    pub interface: String,
    /// The VRRP instance whose state decides master or backup role.
    pub instance: Option<String>,
    /// Sync id (0..255); defaults to the instance's virtual_router_id.
    pub id: Option<u8>,
    pub maxlen: Option<u16>,
    pub port: Option<u16>,
    pub ttl: Option<u8>,
    pub group: Option<IpAddr>,
}

/// `lvs_flush_on_stop [VS]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlushOnStop {
    /// Flush the whole table.
    All,
    /// Delete each managed virtual server (the kernel drops its real servers).
    VirtualServers,
}

/// `script_user USER [GROUP]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScriptUser {
    pub user: String,
    pub group: Option<String>,
}

/// The top-level `SSL { password ca certificate key }` block used by SSL_GET.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SslFiles {
    pub password: Option<String>,
    pub ca: Option<String>,
    pub certificate: Option<String>,
    pub key: Option<String>,
}

/// Global definitions (keepalived `global_defs`, plus the per-format globals).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GlobalDefs {
    pub router_id: Option<String>,
    pub notification_email: Vec<String>,
    pub notification_email_from: Option<String>,
    pub smtp_server: Option<SmtpServer>,
    pub smtp_helo_name: Option<String>,
    pub smtp_connect_timeout: Option<Duration>,
    pub smtp_alert: Option<bool>,
    pub smtp_alert_vrrp: Option<bool>,
    pub smtp_alert_checker: Option<bool>,
    pub checker_log_all_failures: bool,
    pub lvs_timeouts: LvsTimeouts,
    pub lvs_sync_daemon: Option<LvsSyncDaemon>,
    pub lvs_flush: bool,
    pub lvs_flush_on_stop: Option<FlushOnStop>,
    /// Default VRRP version (2 unless set; IPv6 instances always use 3).
    pub vrrp_version: Option<u8>,
    pub vrrp_mcast_group4: Option<Ipv4Addr>,
    pub vrrp_mcast_group6: Option<Ipv6Addr>,
    pub vrrp_garp_master_delay: Option<Duration>,
    pub vrrp_garp_master_repeat: Option<u32>,
    pub vrrp_garp_master_refresh: Option<Duration>,
    pub vrrp_garp_master_refresh_repeat: Option<u32>,
    pub vrrp_garp_lower_prio_delay: Option<Duration>,
    pub vrrp_garp_lower_prio_repeat: Option<u32>,
    pub vrrp_strict: bool,
    pub default_interface: Option<String>,
    pub script_user: Option<ScriptUser>,
    pub enable_script_security: bool,
    pub dynamic_interfaces: bool,
    pub ssl: Option<SslFiles>,
    /// ldirectord's own globals (only for ldirectord.cf).
    pub ldirectord: Option<LdirectordGlobals>,
    /// Piranha's own globals (only for lvs.cf).
    pub piranha: Option<PiranhaGlobals>,
}

/// ldirectord global options that change how the director runs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LdirectordGlobals {
    /// `autoreload = yes`: reload when a configuration file changes.
    pub autoreload: bool,
    /// `maintenancedir`: a file named after a real server there forces it down.
    pub maintenancedir: Option<PathBuf>,
}

/// Piranha (pulse) globals that describe the failover pair and the NAT router.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PiranhaGlobals {
    /// `network = nat|direct|tunnel`: forwarding method of every real server.
    pub network: Option<ForwardMethod>,
    /// `nat_router = IP DEV:LABEL`: the inside gateway address NAT servers route through.
    pub nat_router: Option<VipInterface>,
    pub nat_router_addr: Option<IpAddr>,
}

/// Which interface (and alias label) a VIP is brought up on, as Piranha's
/// `address = IP eth0:1` and `vip_nmask` say.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VipInterface {
    pub dev: String,
    pub label: Option<String>,
    pub prefix_len: Option<u8>,
}

/// How a virtual server is identified.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VsKey {
    /// `virtual_server IP [PORT]` (port 0 = all ports, persistent services only).
    Addr { ip: IpAddr, port: u16 },
    /// `virtual_server fwmark N`.
    FwMark(u32),
    /// `virtual_server group NAME`: every member of a virtual_server_group.
    Group(String),
}

/// A `virtual_server_group`: addresses, address ranges and firewall marks
/// that share one set of real servers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VirtualServerGroup {
    pub name: String,
    pub entries: Vec<VsgEntry>,
    pub at: Location,
}

/// One line of a virtual_server_group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VsgEntry {
    pub kind: VsgEntryKind,
    pub at: Location,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VsgEntryKind {
    /// `IP [PORT]`, `IP-LAST_OCTET [PORT]`, `IP-IP [PORT]` or `IP/PREFIX [PORT]`:
    /// every address from `first` to `last` inclusive.
    Range {
        first: IpAddr,
        last: IpAddr,
        port: u16,
    },
    /// `fwmark N [inet|inet6]`.
    FwMark { mark: u32, family: Option<Family> },
}

/// The `sorry_server` used when a virtual server's quorum is lost.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SorryServer {
    pub ip: IpAddr,
    pub port: u16,
    pub lb_kind: ForwardMethod,
    /// `sorry_server_inhibit`: weight 0 instead of removal.
    pub inhibit: bool,
}

/// A virtual server (virtual service) with its real servers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VirtualServer {
    pub key: VsKey,
    /// TCP or UDP (meaningless for a firewall mark, left at TCP there).
    pub protocol: Protocol,
    pub at: Location,
    /// Piranha `virtual NAME` / ldirectord `servicename`.
    pub name: Option<String>,
    /// False for Piranha `active = 0`: kept in the model, not installed.
    pub active: bool,
    /// Address family (for fwmark services: from `ip_family`, the
    /// persistence granularity or the real servers, IPv4 otherwise).
    pub family: Family,
    pub delay_loop: Duration,
    pub lb_algo: SchedulerKind,
    pub sched_flags: SchedFlags,
    /// One-packet scheduling (`ops`, UDP and fwmark only).
    pub ops: bool,
    pub lb_kind: ForwardMethod,
    pub persistence_timeout: Option<u32>,
    /// Client prefix length sharing one persistence template (from a netmask
    /// for IPv4, a prefix length for IPv6).
    pub persistence_granularity: Option<u8>,
    pub sorry_server: Option<SorryServer>,
    pub inhibit_on_failure: bool,
    pub quorum: u32,
    pub hysteresis: u32,
    pub quorum_up: Option<Script>,
    pub quorum_down: Option<Script>,
    pub alpha: bool,
    pub omega: bool,
    pub virtualhost: Option<String>,
    pub ha_suspend: bool,
    pub smtp_alert: Option<bool>,
    /// Default weight of real servers that set none.
    pub weight: u32,
    /// Checker defaults as configured here (the resolved values are in each checker).
    pub retry: Option<u32>,
    pub delay_before_retry: Option<Duration>,
    pub connect_timeout: Duration,
    pub warmup: Option<Duration>,
    /// Where Piranha brings the VIP up.
    pub vip_interface: Option<VipInterface>,
    pub real_servers: Vec<RealServer>,
}

impl VirtualServer {
    /// Persistence as the core wants it (default prefix: the whole address).
    pub fn persistence(&self) -> Option<rvs_core::Persistence> {
        self.persistence_timeout.map(|t| rvs_core::Persistence {
            timeout_secs: t,
            prefix_len: self.persistence_granularity.unwrap_or(match self.family {
                Family::V4 => 32,
                Family::V6 => 128,
            }),
        })
    }
}

/// A real server (destination) of a virtual server.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RealServer {
    pub ip: IpAddr,
    /// For Route/Tunnel this is the virtual server's port (0 for fwmark
    /// services), as IPVS requires; for a group it is as written and each
    /// member service sets it when [`LoadedConfig::services`] expands the group.
    pub port: u16,
    pub at: Location,
    /// Piranha server name.
    pub name: Option<String>,
    /// False for Piranha `active = 0` and ldirectord `checktype = off`.
    pub active: bool,
    pub weight: u32,
    /// The forwarding method (the real server's own `lvs_method`, else the
    /// virtual server's).
    pub lb_kind: ForwardMethod,
    pub uthreshold: u32,
    pub lthreshold: u32,
    pub inhibit_on_failure: bool,
    pub notify_up: Option<Script>,
    pub notify_down: Option<Script>,
    pub alpha: bool,
    pub virtualhost: Option<String>,
    pub smtp_alert: Option<bool>,
    /// No checker means always up (keepalived's and ldirectord's `on`).
    pub checkers: Vec<Checker>,
}

/// Settings every connecting checker shares; all defaults already applied
/// (checker value, else real server, else virtual server, else the checker
/// type's keepalived default).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckCommon {
    /// Address to check (default: the real server).
    pub connect_ip: Option<IpAddr>,
    /// Port to check (default: the real server's port).
    pub connect_port: Option<u16>,
    pub bindto: Option<IpAddr>,
    pub bind_port: Option<u16>,
    pub bind_if: Option<String>,
    /// SO_MARK for the checker's packets.
    pub fwmark: Option<u32>,
    pub connect_timeout: Duration,
    /// Extra attempts after a failure before the real server is declared down.
    pub retry: u32,
    pub delay_before_retry: Duration,
    /// Random delay (at most this) before the first check.
    pub warmup: Duration,
    pub delay_loop: Duration,
    /// Start in the failed state.
    pub alpha: bool,
    pub log_all_failures: bool,
}

/// An inclusive range of accepted HTTP status codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusRange {
    pub first: u16,
    pub last: u16,
}

/// One `url { }` of HTTP_GET / SSL_GET.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UrlCheck {
    pub path: String,
    /// MD5 of the body, 32 lowercase hex digits.
    pub digest: Option<String>,
    /// Accepted status codes (default 200-299).
    pub status_code: Vec<StatusRange>,
    /// Host header for this url only (else the checker's).
    pub virtualhost: Option<String>,
    /// Regular expression the body must match (PCRE syntax, as keepalived).
    pub regex: Option<String>,
    pub regex_no_match: bool,
    pub regex_options: Vec<String>,
    pub regex_min_offset: Option<u64>,
    pub regex_max_offset: Option<u64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum HttpProtocol {
    #[serde(rename = "1.0")]
    Http10,
    /// 1.0 with "Connection: close".
    #[serde(rename = "1.0C")]
    Http10Close,
    #[serde(rename = "1.1")]
    Http11,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    Get,
    Head,
}

/// HTTP_GET and SSL_GET.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpCheck {
    pub common: CheckCommon,
    pub urls: Vec<UrlCheck>,
    /// Host header (checker's, else real server's, else virtual server's).
    pub virtualhost: Option<String>,
    pub http_protocol: HttpProtocol,
    pub method: HttpMethod,
    pub fast_recovery: bool,
    pub enable_sni: bool,
    pub sni_name: Option<String>,
    pub tls_compliant: bool,
}

/// DNS_CHECK query types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum DnsType {
    A,
    Ns,
    Cname,
    Soa,
    Mx,
    Txt,
    Aaaa,
}

/// Bytes to compare, with a mask of nibbles to ignore ("X" in the hex string).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HexPattern {
    pub bytes: Vec<u8>,
    /// Same length as `bytes`; a set bit means "ignore this bit". Empty when
    /// nothing is masked.
    pub ignore_mask: Vec<u8>,
}

/// A health checker, with keepalived's meanings and defaults.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Checker {
    /// A TCP connect succeeds.
    TcpCheck {
        common: CheckCommon,
    },
    HttpGet(HttpCheck),
    SslGet(HttpCheck),
    /// An external program's exit status (with `misc_dynamic`, 2..255 sets
    /// the weight to status - 2).
    MiscCheck {
        /// Timing (connect fields unused).
        common: CheckCommon,
        script: Script,
        /// Kill after this long (default: the delay loop).
        timeout: Option<Duration>,
        dynamic: bool,
        /// Piranha `send_program` + `expect`: the output must contain this.
        expect_output: Option<String>,
    },
    DnsCheck {
        common: CheckCommon,
        query_type: DnsType,
        /// Name to query ("" = the root, as keepalived's default).
        name: String,
    },
    PingCheck {
        common: CheckCommon,
    },
    UdpCheck {
        common: CheckCommon,
        /// Datagram to send (random when unset).
        payload: Option<Vec<u8>>,
        /// A reply is needed; with a pattern, it must match it.
        require_reply: Option<Option<HexPattern>>,
        min_reply_length: u16,
        max_reply_length: u16,
    },
    SmtpCheck {
        common: CheckCommon,
        helo_name: Option<String>,
    },
    /// Send a string, look for a string in the answer (Piranha nanny's
    /// send/expect, ldirectord's simpletcp).
    TcpSendExpect {
        common: CheckCommon,
        /// Sent verbatim after `\n`, `\r`, `\t`, `\\` escapes are applied.
        send: Option<String>,
        expect: Option<String>,
        /// `expect` is a regular expression rather than plain text.
        regex: bool,
        /// Piranha `timeout`: failing this long marks the server down.
        dead_after: Option<Duration>,
        /// Piranha `reentry`: succeeding this long brings it back.
        alive_after: Option<Duration>,
    },
}

impl Checker {
    pub fn common(&self) -> &CheckCommon {
        match self {
            Checker::TcpCheck { common }
            | Checker::MiscCheck { common, .. }
            | Checker::DnsCheck { common, .. }
            | Checker::PingCheck { common }
            | Checker::UdpCheck { common, .. }
            | Checker::SmtpCheck { common, .. }
            | Checker::TcpSendExpect { common, .. } => common,
            Checker::HttpGet(h) | Checker::SslGet(h) => &h.common,
        }
    }

    /// The keepalived block name of this checker.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Checker::TcpCheck { .. } => "TCP_CHECK",
            Checker::HttpGet(_) => "HTTP_GET",
            Checker::SslGet(_) => "SSL_GET",
            Checker::MiscCheck { .. } => "MISC_CHECK",
            Checker::DnsCheck { .. } => "DNS_CHECK",
            Checker::PingCheck { .. } => "PING_CHECK",
            Checker::UdpCheck { .. } => "UDP_CHECK",
            Checker::SmtpCheck { .. } => "SMTP_CHECK",
            Checker::TcpSendExpect { .. } => "TCP_SEND_EXPECT",
        }
    }
}

// ---------------------------------------------------------------- VRRP

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum VrrpState {
    Master,
    Backup,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum AuthType {
    Pass,
    Ah,
}

/// `authentication { auth_type PASS|AH  auth_pass SECRET }`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VrrpAuth {
    pub auth_type: AuthType,
    /// At most 8 characters are used on the wire.
    pub auth_pass: String,
}

/// `brd` of a virtual address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Broadcast {
    Addr(IpAddr),
    /// `brd +`: the host bits set.
    SetHostBits,
    /// `brd -`: the host bits cleared.
    ClearHostBits,
}

/// One `virtual_ipaddress` line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VirtualIpAddress {
    pub addr: IpAddr,
    pub prefix_len: u8,
    pub brd: Option<Broadcast>,
    pub dev: Option<String>,
    pub label: Option<String>,
    pub scope: Option<String>,
    pub peer: Option<IpAddr>,
    pub no_track: bool,
    pub use_vmac: bool,
    /// Any other `ip address add` options given (`home`, `-nodad`, ...).
    pub flags: Vec<String>,
}

/// `track_interface` line: `IFACE [weight N [reverse]]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackInterface {
    pub name: String,
    pub weight: i32,
    pub reverse: bool,
}

/// `track_script` line: `NAME [weight N [reverse|noreverse]]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackScript {
    pub name: String,
    /// None: the script's own weight.
    pub weight: Option<i32>,
    /// None: the script's own setting.
    pub reverse: Option<bool>,
}

/// `unicast_peer` line: `IP [min_ttl N] [max_ttl N]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnicastPeer {
    pub addr: IpAddr,
    pub min_ttl: Option<u8>,
    pub max_ttl: Option<u8>,
}

/// `use_vmac [NAME] [MAC]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vmac {
    pub name: Option<String>,
    pub mac: Option<String>,
}

/// A `vrrp_instance`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VrrpInstance {
    pub name: String,
    pub at: Location,
    pub state: VrrpState,
    pub interface: Option<String>,
    pub virtual_router_id: u8,
    pub priority: u8,
    pub advert_int: Duration,
    /// 2 or 3 (instance, else global vrrp_version, else 2; IPv6 forces 3).
    pub version: u8,
    pub authentication: Option<VrrpAuth>,
    pub virtual_ipaddress: Vec<VirtualIpAddress>,
    pub virtual_ipaddress_excluded: Vec<VirtualIpAddress>,
    pub mcast_src_ip: Option<IpAddr>,
    pub unicast_src_ip: Option<IpAddr>,
    pub unicast_peer: Vec<UnicastPeer>,
    pub mcast_dst_ip: Option<IpAddr>,
    pub unicast_ttl: Option<u8>,
    pub nopreempt: bool,
    pub preempt_delay: Duration,
    pub garp_master_delay: Duration,
    pub garp_master_repeat: u32,
    /// None: no periodic refresh.
    pub garp_master_refresh: Option<Duration>,
    pub garp_master_refresh_repeat: u32,
    pub garp_lower_prio_delay: Option<Duration>,
    pub garp_lower_prio_repeat: Option<u32>,
    pub track_interface: Vec<TrackInterface>,
    pub track_script: Vec<TrackScript>,
    pub dont_track_primary: bool,
    pub notify_master: Option<Script>,
    pub notify_backup: Option<Script>,
    pub notify_fault: Option<Script>,
    pub notify_stop: Option<Script>,
    pub notify: Option<Script>,
    pub smtp_alert: Option<bool>,
    pub use_vmac: Option<Vmac>,
    pub vmac_xmit_base: bool,
    /// Accept mode (None: keepalived's default, accept unless strict).
    pub accept: Option<bool>,
    pub strict_mode: bool,
    pub check_unicast_src: bool,
    pub skip_check_adv_addr: bool,
    pub down_timer_adverts: Option<u32>,
}

/// A `vrrp_sync_group`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VrrpSyncGroup {
    pub name: String,
    pub at: Location,
    pub group: Vec<String>,
    pub track_interface: Vec<TrackInterface>,
    pub track_script: Vec<TrackScript>,
    pub notify_master: Option<Script>,
    pub notify_backup: Option<Script>,
    pub notify_fault: Option<Script>,
    pub notify_stop: Option<Script>,
    pub notify: Option<Script>,
    pub smtp_alert: Option<bool>,
}

/// A `vrrp_script`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VrrpScript {
    pub name: String,
    pub at: Location,
    pub script: Script,
    pub interval: Duration,
    /// None: the interval.
    pub timeout: Option<Duration>,
    pub weight: i32,
    pub weight_reverse: bool,
    pub rise: u32,
    pub fall: u32,
    pub init_fail: bool,
}
