//! Configuration files (keepalived.conf, ldirectord.cf, Piranha lvs.cf) turned into
//! what the daemon runs: the base table (services and real servers with their
//! configured weights, timeouts), the health checks with stable ids, and the policy
//! around each real server (inhibit on failure, notify scripts) and each service
//! (sorry server, quorum, hysteresis, quorum scripts).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rvs_admin::config::{Config, SyncDaemonConfig, SyncState, VirtualService};
use rvs_admin::status::Timeouts;
use rvs_config::LoadedConfig;
use rvs_config::{CheckCommon, Checker, DnsType as CfgDns, HttpCheck, Script};
use rvs_core::{DestConfig, ServiceKey};
use rvs_health::{
    CheckKind, CheckSpec, DnsType, InitialState, TargetId, Timing, TlsOptions, UrlCheck,
};

/// A real server of a service.
pub type RsKey = (ServiceKey, IpAddr, u16);

/// What the file says around one real server.
#[derive(Clone, Debug, PartialEq)]
pub struct RealPolicy {
    pub inhibit_on_failure: bool,
    pub notify_up: Option<Script>,
    pub notify_down: Option<Script>,
    /// The checkers watching it: up when every one is up.
    pub targets: Vec<TargetId>,
    pub kinds: Vec<String>,
}

/// What the file says around one virtual service.
#[derive(Clone, Debug, PartialEq)]
pub struct ServicePolicy {
    pub sorry: Option<DestConfig>,
    pub quorum: u32,
    pub hysteresis: u32,
    pub quorum_up: Option<Script>,
    pub quorum_down: Option<Script>,
}

/// A loaded file, ready to run.
pub struct FilePlan {
    pub path: PathBuf,
    pub loaded: LoadedConfig,
    pub base: Config,
    pub services: HashMap<ServiceKey, ServicePolicy>,
    pub reals: HashMap<RsKey, RealPolicy>,
    pub checks: Vec<CheckSpec>,
    /// Notes for the log: checkers mapped approximately, keywords ignored.
    pub notes: Vec<String>,
}

/// Stable checker ids across reloads: the same checker of the same real server in
/// the same virtual server keeps its id (and so its state).
#[derive(Default)]
pub struct TargetIds {
    ids: HashMap<String, TargetId>,
    next: u64,
}

impl TargetIds {
    fn id(&mut self, key: String) -> TargetId {
        if let Some(id) = self.ids.get(&key) {
            return *id;
        }
        self.next += 1;
        let id = TargetId(self.next);
        self.ids.insert(key, id);
        id
    }
}

/// Load and plan `path`. Errors carry file, line, column and reason.
pub fn load(path: &Path, ids: &mut TargetIds) -> Result<FilePlan, String> {
    let loaded = rvs_config::load(path).map_err(|e| e.to_string())?;
    plan(path, loaded, ids)
}

fn parse_digest(hex: &str) -> Option<[u8; 16]> {
    let hex = hex.trim();
    if hex.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

fn dns_type(t: CfgDns) -> DnsType {
    match t {
        CfgDns::A => DnsType::A,
        CfgDns::Ns => DnsType::Ns,
        CfgDns::Cname => DnsType::Cname,
        CfgDns::Soa => DnsType::Soa,
        CfgDns::Mx => DnsType::Mx,
        CfgDns::Txt => DnsType::Txt,
        CfgDns::Aaaa => DnsType::Aaaa,
    }
}

fn http_kind(h: &HttpCheck, tls: bool, notes: &mut Vec<String>) -> CheckKind {
    let urls = h
        .urls
        .iter()
        .map(|u| {
            if u.regex.is_some() {
                notes.push(format!(
                    "url {}: regex not supported, checked by status and digest only",
                    u.path
                ));
            }
            UrlCheck {
                path: u.path.clone(),
                status_codes: u.status_code.iter().map(|r| r.first..=r.last).collect(),
                digest: u.digest.as_deref().and_then(parse_digest),
                expect: None,
            }
        })
        .collect();
    CheckKind::Http {
        urls,
        virtualhost: h.virtualhost.clone(),
        tls: tls.then(|| TlsOptions {
            sni: if h.enable_sni {
                h.sni_name.clone().or_else(|| h.virtualhost.clone())
            } else {
                None
            },
            verify: false,
            ca_file: None,
        }),
    }
}

fn timing(c: &CheckCommon) -> Timing {
    Timing {
        delay_loop: c.delay_loop,
        connect_timeout: c.connect_timeout,
        retry: c.retry,
        delay_before_retry: c.delay_before_retry,
        warmup: (!c.warmup.is_zero()).then_some(c.warmup),
    }
}

fn common(c: &Checker) -> &CheckCommon {
    match c {
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

fn kind(c: &Checker, notes: &mut Vec<String>) -> Result<CheckKind, String> {
    Ok(match c {
        Checker::TcpCheck { .. } => CheckKind::Tcp,
        Checker::HttpGet(h) => http_kind(h, false, notes),
        Checker::SslGet(h) => http_kind(h, true, notes),
        Checker::MiscCheck {
            common,
            script,
            timeout,
            dynamic,
            ..
        } => CheckKind::Misc {
            command: script.argv()?,
            timeout: timeout.unwrap_or(common.delay_loop.max(Duration::from_secs(1))),
            dynamic: *dynamic,
            user: script.user.clone(),
        },
        Checker::DnsCheck {
            query_type, name, ..
        } => CheckKind::Dns {
            qtype: dns_type(*query_type),
            name: name.clone(),
        },
        Checker::PingCheck { .. } => CheckKind::Ping,
        Checker::UdpCheck {
            payload,
            require_reply,
            ..
        } => CheckKind::Udp {
            payload: payload.clone().unwrap_or_default(),
            require_reply: require_reply.is_some(),
        },
        Checker::SmtpCheck { .. } => {
            notes.push("SMTP_CHECK is checked as a TCP connection".into());
            CheckKind::Tcp
        }
        Checker::TcpSendExpect { send, expect, .. } => CheckKind::TcpSendExpect {
            send: send.clone().unwrap_or_default().into_bytes(),
            expect: expect.clone(),
        },
    })
}

fn checker_name(c: &Checker) -> &'static str {
    match c {
        Checker::TcpCheck { .. } => "TCP_CHECK",
        Checker::HttpGet(_) => "HTTP_GET",
        Checker::SslGet(_) => "SSL_GET",
        Checker::MiscCheck { .. } => "MISC_CHECK",
        Checker::DnsCheck { .. } => "DNS_CHECK",
        Checker::PingCheck { .. } => "PING_CHECK",
        Checker::UdpCheck { .. } => "UDP_CHECK",
        Checker::SmtpCheck { .. } => "SMTP_CHECK",
        Checker::TcpSendExpect { .. } => "SEND_EXPECT",
    }
}

/// Plan an already loaded configuration.
pub fn plan(path: &Path, loaded: LoadedConfig, ids: &mut TargetIds) -> Result<FilePlan, String> {
    let services = loaded.services().map_err(|e| e.to_string())?;
    let mut base = Config::default();
    let t = &loaded.global.lvs_timeouts;
    base.timeouts = Timeouts {
        tcp: t.tcp.unwrap_or(900),
        tcpfin: t.tcp_fin.unwrap_or(120),
        udp: t.udp.unwrap_or(300),
    };
    for (config, dests) in services {
        base.services.push(VirtualService { config, dests });
    }
    // keepalived's lvs_sync_daemon: rvsd runs a master and a backup daemon on it at
    // once (as IPVS can): whichever director holds the VIPs sends, the other listens.
    if let Some(d) = &loaded.global.lvs_sync_daemon {
        let syncid = d.id.unwrap_or_else(|| {
            d.instance
                .as_ref()
                .and_then(|name| loaded.vrrp_instances.iter().find(|i| &i.name == name))
                .map(|i| i.virtual_router_id)
                .unwrap_or(0)
        });
        for state in [SyncState::Master, SyncState::Backup] {
            let mut c = SyncDaemonConfig::new(state);
            c.mcast_ifn = d.interface.clone();
            c.syncid = syncid;
            c.sync_maxlen = d.maxlen;
            c.mcast_group = d.group;
            c.mcast_port = d.port;
            c.mcast_ttl = d.ttl;
            base.daemons.push(c);
        }
    }

    let mut notes = Vec::new();
    let mut policies = HashMap::new();
    let mut reals: HashMap<RsKey, RealPolicy> = HashMap::new();
    for vs in loaded.virtual_servers.iter().filter(|v| v.active) {
        let keys = loaded.service_keys(vs).map_err(|e| e.to_string())?;
        for (key, _) in keys.iter() {
            let sorry = vs.sorry_server.as_ref().map(|s| DestConfig {
                addr: s.ip,
                port: if s.port == 0 {
                    service_port(key)
                } else {
                    s.port
                },
                method: s.lb_kind,
                weight: 1,
                u_threshold: 0,
                l_threshold: 0,
            });
            policies.insert(
                *key,
                ServicePolicy {
                    sorry,
                    quorum: vs.quorum.max(1),
                    hysteresis: vs.hysteresis,
                    quorum_up: vs.quorum_up.clone(),
                    quorum_down: vs.quorum_down.clone(),
                },
            );
            for rs in vs.real_servers.iter().filter(|r| r.active) {
                let port = if rs.port == 0 {
                    service_port(key)
                } else {
                    rs.port
                };
                reals.insert(
                    (*key, rs.ip, port),
                    RealPolicy {
                        inhibit_on_failure: rs.inhibit_on_failure || vs.inhibit_on_failure,
                        notify_up: rs.notify_up.clone(),
                        notify_down: rs.notify_down.clone(),
                        targets: Vec::new(),
                        kinds: Vec::new(),
                    },
                );
            }
        }
    }

    let mut checks = Vec::new();
    for (n, ct) in loaded.checks().into_iter().enumerate() {
        let c = ct.checker;
        let cm = common(c);
        let id_key = format!(
            "{:?}|{}|{}|{}|{:?}",
            ct.services.first(),
            ct.real_server.ip,
            ct.real_server.port,
            n,
            c
        );
        let target = ids.id(id_key);
        let kind = kind(c, &mut notes)
            .map_err(|e| format!("{}: checker of {}: {e}", path.display(), ct.real_server.ip))?;
        let bind = cm
            .bindto
            .map(|a| SocketAddr::new(a, cm.bind_port.unwrap_or(0)));
        let alpha = cm.alpha || ct.real_server.alpha || ct.virtual_server.alpha;
        let mut spec = CheckSpec::new(target, SocketAddr::new(ct.addr, ct.port), kind);
        spec.bind = bind;
        spec.timing = timing(cm);
        spec.initial = if alpha {
            InitialState::Down
        } else {
            InitialState::Up
        };
        checks.push(spec);
        for key in ct.services.iter() {
            let port = if ct.real_server.port == 0 {
                service_port(key)
            } else {
                ct.real_server.port
            };
            let rk = (*key, ct.real_server.ip, port);
            if let Some(p) = reals.get_mut(&rk) {
                p.targets.push(target);
                p.kinds.push(checker_name(c).to_string());
            }
        }
    }
    for i in &loaded.unknown {
        notes.push(format!(
            "{}:{}: {} is parsed but not used",
            i.file.display(),
            i.line,
            i.keyword
        ));
    }
    for w in &loaded.warnings {
        notes.push(w.to_string());
    }
    Ok(FilePlan {
        path: path.to_path_buf(),
        loaded,
        base,
        services: policies,
        reals,
        checks,
        notes,
    })
}

fn service_port(key: &ServiceKey) -> u16 {
    match key {
        ServiceKey::Addr { port, .. } => *port,
        ServiceKey::FwMark { .. } => 0,
    }
}
