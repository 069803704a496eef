//! ldirectord.cf: `key = value` globals, then `virtual = ...` sections whose
//! options are indented below them. Checks map onto the keepalived checkers:
//! negotiate+http(s) to HTTP_GET/SSL_GET with the receive regex,
//! negotiate+dns to DNS_CHECK, negotiate+smtp to SMTP_CHECK,
//! negotiate+simpletcp to a send/expect check, connect to TCP_CHECK (a ping
//! for UDP services, as ldirectord does), ping to PING_CHECK, external to
//! MISC_CHECK with ldirectord's four arguments, a number N to a connect check
//! plus a negotiate check every N intervals; `on` means no checker, `off`
//! means the real servers are never used. Negotiate checks for services rvs
//! has no checker for (ftp, imap, mysql, ...) fall back to a connect check
//! with a warning.

use std::collections::HashSet;
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use rvs_core::{Family, ForwardMethod, Protocol, SchedFlags, SchedulerKind};

use crate::error::{ConfigError, Ignored, Warning};
use crate::keywords::{self, section as sec, Support};
use crate::model::{
    CheckCommon, Checker, DnsType, Format, GlobalDefs, HttpCheck, HttpMethod, HttpProtocol,
    LdirectordGlobals, LoadedConfig, RealServer, Script, SorryServer, StatusRange, UrlCheck,
    VirtualServer, VsKey,
};
use crate::script::unescape_send;
use crate::source::{Files, Pos};
use crate::values;

/// Most real servers one `real=A->B` range may produce.
const MAX_RANGE: u32 = 65536;

#[derive(Clone, Debug)]
struct Fallback {
    ip: IpAddr,
    port: Option<u16>,
    method: ForwardMethod,
}

#[derive(Default)]
struct Globals {
    checkinterval: Option<u64>,
    checktimeout: Option<u64>,
    negotiatetimeout: Option<u64>,
    failurecount: Option<u32>,
    checkcount: Option<u32>,
    fallback: Option<Fallback>,
    fallback6: Option<Fallback>,
    quiescent: Option<bool>,
    autoreload: bool,
    maintenancedir: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CheckType {
    Negotiate,
    Connect,
    Ping,
    External,
    On,
    Off,
    Combined(u32),
}

struct Real {
    ip: IpAddr,
    port: u16,
    method: ForwardMethod,
    weight: u32,
    request: Option<String>,
    receive: Option<String>,
    lthreshold: u32,
    uthreshold: u32,
    pos: Pos,
}

struct Virtual {
    pos: Pos,
    family: Family,
    key: VsKey,
    port: u16,
    reals: Vec<Real>,
    request: String,
    receive: String,
    checktype: CheckType,
    checkcommand: String,
    checktimeout: Option<u64>,
    negotiatetimeout: Option<u64>,
    checkcount: Option<u32>,
    failurecount: Option<u32>,
    checkinterval: Option<u64>,
    checkport: Option<u16>,
    scheduler: SchedulerKind,
    schedflags: SchedFlags,
    persistent: Option<u32>,
    netmask: Option<u8>,
    protocol: Option<Protocol>,
    ops: bool,
    service: Option<String>,
    httpmethod: HttpMethod,
    virtualhost: Option<String>,
    fallback: Option<Fallback>,
    quiescent: Option<bool>,
    servicename: Option<String>,
}

struct Parser {
    files: Files,
    unknown: Vec<Ignored>,
    warnings: Vec<Warning>,
    globals: Globals,
}

pub(crate) fn parse(text: &str, path: &Path) -> Result<LoadedConfig, ConfigError> {
    let mut files = Files::default();
    let file = files.add(path.to_path_buf());
    let mut p = Parser {
        files,
        unknown: Vec::new(),
        warnings: Vec::new(),
        globals: Globals::default(),
    };
    let mut virtuals: Vec<Virtual> = Vec::new();
    let mut current: Option<Virtual> = None;
    for (n, raw) in text.split('\n').enumerate() {
        let line_no = (n + 1).min(u32::MAX as usize) as u32;
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        let line = strip_comment(raw);
        if line.trim().is_empty() {
            continue;
        }
        let indented = line.starts_with([' ', '\t']);
        let lead = line.len() - line.trim_start().len();
        let pos = Pos {
            file,
            line: line_no,
            col: (line[..lead].chars().count() + 1) as u32,
        };
        let body = line.trim();
        if indented {
            let Some(v) = current.as_mut() else {
                return Err(p
                    .files
                    .err(pos, "indented option outside a virtual section"));
            };
            p.virtual_option(v, body, pos, line, lead)?;
            continue;
        }
        if let Some(v) = current.take() {
            virtuals.push(v);
        }
        let (key, value, vpos) = split_kv(&p.files, body, pos, line, lead)?;
        match key {
            "virtual" | "virtual6" => {
                let family = if key == "virtual6" {
                    Family::V6
                } else {
                    Family::V4
                };
                current = Some(p.virtual_head(family, value, vpos, pos)?);
            }
            _ => p.global_option(key, value, vpos, pos)?,
        }
    }
    if let Some(v) = current.take() {
        virtuals.push(v);
    }

    let mut servers = Vec::new();
    let mut seen = HashSet::new();
    for v in virtuals {
        let vs = p.finish_virtual(v)?;
        let proto = match vs.key {
            VsKey::FwMark(_) => Protocol::Tcp,
            _ => vs.protocol,
        };
        if !seen.insert((vs.key.clone(), proto, vs.family)) {
            return Err(crate::error::ConfigError::new(
                vs.at.clone(),
                "duplicate virtual server",
            ));
        }
        servers.push(vs);
    }
    let global = GlobalDefs {
        ldirectord: Some(LdirectordGlobals {
            autoreload: p.globals.autoreload,
            maintenancedir: p.globals.maintenancedir.clone().map(Into::into),
        }),
        ..GlobalDefs::default()
    };
    Ok(LoadedConfig {
        source: Format::Ldirectord,
        files: p.files.distinct(),
        global,
        virtual_servers: servers,
        virtual_server_groups: Vec::new(),
        vrrp_instances: Vec::new(),
        vrrp_sync_groups: Vec::new(),
        vrrp_scripts: Vec::new(),
        unknown: p.unknown,
        warnings: p.warnings,
    })
}

/// The line up to a `#` that is not inside double quotes.
fn strip_comment(line: &str) -> &str {
    let mut quoted = false;
    for (i, c) in line.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '#' if !quoted => return &line[..i],
            _ => {}
        }
    }
    line
}

/// `key = value` → (key, value, position of value).
fn split_kv<'a>(
    files: &Files,
    body: &'a str,
    pos: Pos,
    line: &str,
    lead: usize,
) -> Result<(&'a str, &'a str, Pos), ConfigError> {
    let Some(eq) = body.find('=') else {
        // ldirectord accepts a bare "supervised".
        if body == "supervised" {
            return Ok(("supervised", "yes", pos));
        }
        return Err(files.err(pos, format!("expected 'option = value', got '{body}'")));
    };
    let key = body[..eq].trim();
    let value_raw = &body[eq + 1..];
    let value = value_raw.trim();
    let value_off = lead + eq + 1 + (value_raw.len() - value_raw.trim_start().len());
    let vpos = Pos {
        col: (line[..value_off.min(line.len())].chars().count() + 1) as u32,
        ..pos
    };
    if key.is_empty()
        || !key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(files.err(pos, format!("expected 'option = value', got '{body}'")));
    }
    Ok((key, value, vpos))
}

fn unquote(v: &str) -> &str {
    v.strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(v)
}

/// ldirectord's service names for ports (ld_service_to_port) plus the
/// /etc/services names configurations commonly use.
fn service_port(name: &str) -> Option<u16> {
    Some(match name {
        "ftp" => 21,
        "smtp" => 25,
        "dns" | "domain" => 53,
        "http" | "www" => 80,
        "pop" | "pop3" => 110,
        "nntp" => 119,
        "imap" | "imap2" => 143,
        "ldap" => 389,
        "https" => 443,
        "submission" => 587,
        "ldaps" => 636,
        "imaps" => 993,
        "pops" | "pop3s" => 995,
        "oracle" => 1521,
        "radius" => 1812,
        "http_proxy" => 3128,
        "mysql" => 3306,
        "sip" => 5060,
        "pgsql" | "postgresql" => 5432,
        _ => return None,
    })
}

/// ldirectord's default service for a virtual port (ld_port_to_service).
fn port_service(port: u16) -> &'static str {
    match port {
        21 => "ftp",
        25 => "smtp",
        53 => "dns",
        80 => "http",
        110 => "pop",
        119 => "nntp",
        143 => "imap",
        389 => "ldap",
        443 => "https",
        587 => "submission",
        636 => "ldaps",
        993 => "imaps",
        995 => "pops",
        1521 => "oracle",
        1812 => "radius",
        3128 => "http_proxy",
        3306 => "mysql",
        5060 => "sip",
        5432 => "pgsql",
        _ => "none",
    }
}

const SERVICES: &[&str] = &[
    "dns",
    "ftp",
    "http",
    "https",
    "http_proxy",
    "imap",
    "imaps",
    "ldap",
    "ldaps",
    "nntp",
    "mysql",
    "none",
    "oracle",
    "pop",
    "pops",
    "radius",
    "pgsql",
    "sip",
    "smtp",
    "submission",
    "simpletcp",
];

fn parse_port(files: &Files, text: &str, pos: Pos, allow_zero: bool) -> Result<u16, ConfigError> {
    if let Some(p) = service_port(text) {
        return Ok(p);
    }
    values::port("port", text, allow_zero).map_err(|_| {
        files.err(
            pos,
            format!("port must be a number or a known service name, got '{text}'"),
        )
    })
}

fn parse_addr(files: &Files, text: &str, family: Family, pos: Pos) -> Result<IpAddr, ConfigError> {
    let bare = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(text);
    let ip: IpAddr = bare.parse().map_err(|_| {
        files.err(
            pos,
            format!("'{text}' is not an IP address (rvs does not resolve host names)"),
        )
    })?;
    if Family::of(&ip) != family {
        let want = match family {
            Family::V4 => "an IPv4 address (use virtual6/real6/fallback6 for IPv6)",
            Family::V6 => "an IPv6 address in brackets",
        };
        return Err(files.err(pos, format!("'{text}' must be {want}")));
    }
    Ok(ip)
}

/// `HOST[:PORT]` or `[V6][:PORT]`.
fn split_host_port(text: &str) -> (&str, Option<&str>) {
    if text.starts_with('[') {
        if let Some(end) = text.find(']') {
            let host = &text[..=end];
            let rest = &text[end + 1..];
            return (host, rest.strip_prefix(':'));
        }
        return (text, None);
    }
    match text.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => (h, Some(p)),
        _ => (text, None),
    }
}

fn yes_no(files: &Files, key: &str, value: &str, pos: Pos) -> Result<bool, ConfigError> {
    match value {
        "yes" => Ok(true),
        "no" => Ok(false),
        _ => Err(files.err(pos, format!("{key} must be 'yes' or 'no', got '{value}'"))),
    }
}

fn number(
    files: &Files,
    key: &str,
    value: &str,
    pos: Pos,
    min: u64,
    max: u64,
) -> Result<u64, ConfigError> {
    values::uint(key, value, min, max).map_err(|r| files.err(pos, r))
}

fn method(word: &str) -> Option<ForwardMethod> {
    match word {
        "gate" => Some(ForwardMethod::Route),
        "masq" => Some(ForwardMethod::Masq),
        "ipip" => Some(ForwardMethod::Tunnel),
        _ => None,
    }
}

impl Parser {
    fn ignore(&mut self, section: &str, key: &str, pos: Pos) {
        let at = self.files.loc(pos);
        self.unknown.push(Ignored {
            file: at.file,
            line: at.line,
            column: at.column,
            section: section.to_string(),
            keyword: key.to_string(),
        });
    }

    fn warn(&mut self, pos: Pos, message: impl Into<String>) {
        let at = self.files.loc(pos);
        self.warnings.push(Warning {
            at,
            message: message.into(),
        });
    }

    /// Table-driven handling of keywords not parsed here.
    fn other(&mut self, section: &'static str, key: &str, pos: Pos) -> Result<(), ConfigError> {
        match keywords::lookup(Format::Ldirectord, section, key) {
            Some(k) if k.support == Support::Ignored => {
                self.ignore(section, key, pos);
                Ok(())
            }
            Some(k) if k.support == Support::Unsupported => Err(self
                .files
                .err(pos, format!("'{key}' is not supported by rvs ({})", k.note))),
            Some(_) => Err(self.files.err(
                pos,
                format!("internal: '{key}' in {section} is listed as supported but not handled"),
            )),
            None => Err(self.files.err(
                pos,
                format!("unknown ldirectord option '{key}' in {section} section"),
            )),
        }
    }

    fn fallback(&self, value: &str, family: Family, pos: Pos) -> Result<Fallback, ConfigError> {
        let mut words = value.split_whitespace();
        let spec = words
            .next()
            .ok_or_else(|| self.files.err(pos, "fallback needs an address"))?;
        let method = match words.next() {
            None => ForwardMethod::Route,
            Some(w) => method(w).ok_or_else(|| {
                self.files.err(
                    pos,
                    format!("forward method must be gate, masq or ipip, got '{w}'"),
                )
            })?,
        };
        if let Some(extra) = words.next() {
            return Err(self
                .files
                .err(pos, format!("unexpected '{extra}' in fallback")));
        }
        let (host, port) = split_host_port(spec);
        let ip = parse_addr(&self.files, host, family, pos)?;
        let port = match port {
            Some(p) => Some(parse_port(&self.files, p, pos, false)?),
            None => None,
        };
        Ok(Fallback { ip, port, method })
    }

    fn global_option(
        &mut self,
        key: &str,
        value: &str,
        vpos: Pos,
        pos: Pos,
    ) -> Result<(), ConfigError> {
        let f = &self.files;
        match key {
            "checkinterval" => {
                self.globals.checkinterval = Some(number(f, key, value, vpos, 1, u32::MAX as u64)?)
            }
            "checktimeout" => {
                self.globals.checktimeout = Some(number(f, key, value, vpos, 1, u32::MAX as u64)?)
            }
            "negotiatetimeout" => {
                self.globals.negotiatetimeout =
                    Some(number(f, key, value, vpos, 1, u32::MAX as u64)?)
            }
            "failurecount" => {
                self.globals.failurecount =
                    Some(number(f, key, value, vpos, 1, u32::MAX as u64)? as u32)
            }
            "checkcount" => {
                self.globals.checkcount =
                    Some(number(f, key, value, vpos, 1, u32::MAX as u64)? as u32);
                self.warn(pos, "checkcount is deprecated; use failurecount");
            }
            "fallback" => self.globals.fallback = Some(self.fallback(value, Family::V4, vpos)?),
            "fallback6" => self.globals.fallback6 = Some(self.fallback(value, Family::V6, vpos)?),
            "quiescent" => self.globals.quiescent = Some(yes_no(f, key, value, vpos)?),
            "autoreload" => self.globals.autoreload = yes_no(f, key, value, vpos)?,
            "maintenancedir" => {
                if value.is_empty() {
                    return Err(f.err(vpos, "maintenancedir needs a directory"));
                }
                self.globals.maintenancedir = Some(unquote(value).to_string());
            }
            _ => self.other(sec::GLOBAL, key, pos)?,
        }
        Ok(())
    }

    fn virtual_head(
        &mut self,
        family: Family,
        value: &str,
        vpos: Pos,
        pos: Pos,
    ) -> Result<Virtual, ConfigError> {
        let spec = value.split_whitespace().next().unwrap_or("");
        if spec.is_empty() {
            return Err(self
                .files
                .err(vpos, "virtual needs IP:PORT or a firewall mark"));
        }
        let (key, port) = if spec.bytes().all(|b| b.is_ascii_digit()) {
            let mark = number(&self.files, "firewall mark", spec, vpos, 1, u32::MAX as u64)? as u32;
            (VsKey::FwMark(mark), 0)
        } else {
            let (host, port) = split_host_port(spec);
            let Some(port) = port else {
                return Err(self
                    .files
                    .err(vpos, format!("virtual '{spec}' needs a port (IP:PORT)")));
            };
            let ip = parse_addr(&self.files, host, family, vpos)?;
            let port = parse_port(&self.files, port, vpos, false)?;
            (VsKey::Addr { ip, port }, port)
        };
        Ok(Virtual {
            pos,
            family,
            key,
            port,
            reals: Vec::new(),
            request: "/".into(),
            receive: String::new(),
            checktype: CheckType::Negotiate,
            checkcommand: "/bin/true".into(),
            checktimeout: None,
            negotiatetimeout: None,
            checkcount: None,
            failurecount: None,
            checkinterval: None,
            checkport: None,
            scheduler: SchedulerKind::Wrr,
            schedflags: SchedFlags::default(),
            persistent: None,
            netmask: None,
            protocol: None,
            ops: false,
            service: None,
            httpmethod: HttpMethod::Get,
            virtualhost: None,
            fallback: None,
            quiescent: None,
            servicename: None,
        })
    }

    fn virtual_option(
        &mut self,
        v: &mut Virtual,
        body: &str,
        pos: Pos,
        line: &str,
        lead: usize,
    ) -> Result<(), ConfigError> {
        let (key, value, vpos) = split_kv(&self.files, body, pos, line, lead)?;
        let f = &self.files;
        match key {
            "real" | "real6" => {
                let want = if key == "real6" {
                    Family::V6
                } else {
                    Family::V4
                };
                if want != v.family {
                    return Err(f.err(
                        pos,
                        format!(
                            "'{key}' cannot be used here: use {} in a {} section",
                            if v.family == Family::V6 {
                                "real6"
                            } else {
                                "real"
                            },
                            if v.family == Family::V6 {
                                "virtual6"
                            } else {
                                "virtual"
                            },
                        ),
                    ));
                }
                let reals = self.real(value, v.family, vpos)?;
                v.reals.extend(reals);
            }
            "request" => {
                let r = unquote(value);
                if r.is_empty() {
                    return Err(f.err(vpos, "request needs a string"));
                }
                // ldirectord makes requests absolute paths.
                v.request = if r.starts_with('/') || r.starts_with("http") {
                    r.to_string()
                } else {
                    format!("/{r}")
                };
            }
            "receive" => v.receive = unquote(value).to_string(),
            "checktype" => {
                v.checktype = match value {
                    "negotiate" => CheckType::Negotiate,
                    "connect" => CheckType::Connect,
                    "ping" => CheckType::Ping,
                    "external" | "external-perl" => CheckType::External,
                    "on" => CheckType::On,
                    "off" => CheckType::Off,
                    n if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => {
                        CheckType::Combined(number(f, key, n, vpos, 1, u32::MAX as u64)? as u32)
                    }
                    other => {
                        return Err(f.err(
                            vpos,
                            format!(
                                "checktype must be connect, negotiate, on, off, ping, external, external-perl or a number, got '{other}'"
                            ),
                        ))
                    }
                };
            }
            "checkcommand" => {
                let c = unquote(value);
                if c.is_empty() {
                    return Err(f.err(vpos, "checkcommand needs a command"));
                }
                v.checkcommand = c.to_string();
            }
            "checktimeout" => {
                v.checktimeout = Some(number(f, key, value, vpos, 1, u32::MAX as u64)?)
            }
            "negotiatetimeout" => {
                v.negotiatetimeout = Some(number(f, key, value, vpos, 1, u32::MAX as u64)?)
            }
            "checkcount" => {
                v.checkcount = Some(number(f, key, value, vpos, 1, u32::MAX as u64)? as u32);
                self.warn(pos, "checkcount is deprecated; use failurecount");
            }
            "failurecount" => {
                v.failurecount = Some(number(f, key, value, vpos, 1, u32::MAX as u64)? as u32)
            }
            "checkinterval" => {
                v.checkinterval = Some(number(f, key, value, vpos, 1, u32::MAX as u64)?)
            }
            "checkport" => v.checkport = Some(parse_port(f, value, vpos, false)?),
            "scheduler" => {
                v.scheduler = value
                    .parse()
                    .map_err(|_| f.err(vpos, format!("unknown scheduler '{value}'")))?;
            }
            "schedflags" => {
                for flag in value.split(',').map(str::trim) {
                    match flag {
                        "flag-1" | "sh-fallback" | "mh-fallback" => v.schedflags.fallback = true,
                        "flag-2" | "sh-port" | "mh-port" => v.schedflags.port = true,
                        "flag-3" => v.schedflags.flag3 = true,
                        other => {
                            return Err(f.err(vpos, format!("unknown scheduler flag '{other}'")))
                        }
                    }
                }
            }
            "persistent" => v.persistent = Some(number(f, key, value, vpos, 1, 86400 * 31)? as u32),
            "netmask" => {
                v.netmask = Some(match v.family {
                    Family::V4 => {
                        values::netmask_v4("netmask", value).map_err(|r| f.err(vpos, r))?
                    }
                    Family::V6 => number(f, key, value, vpos, 1, 128)? as u8,
                });
            }
            "protocol" => {
                let fwm = matches!(v.key, VsKey::FwMark(_));
                v.protocol = match (value, fwm) {
                    ("fwm", true) => None,
                    ("tcp", false) => Some(Protocol::Tcp),
                    ("udp", false) => Some(Protocol::Udp),
                    (_, true) => {
                        return Err(f.err(
                            vpos,
                            "protocol must be fwm if the virtual service is a firewall mark",
                        ))
                    }
                    _ => return Err(f.err(
                        vpos,
                        "protocol must be tcp or udp if the virtual service is an address and port",
                    )),
                };
            }
            "ops" => v.ops = yes_no(f, key, value, vpos)?,
            "service" => {
                if !SERVICES.contains(&value) {
                    return Err(f.err(vpos, format!("unknown service '{value}'")));
                }
                v.service = Some(value.to_string());
            }
            "httpmethod" => {
                v.httpmethod = match value.to_ascii_uppercase().as_str() {
                    "GET" => HttpMethod::Get,
                    "HEAD" => HttpMethod::Head,
                    _ => return Err(f.err(vpos, "httpmethod must be GET or HEAD")),
                };
            }
            "virtualhost" => v.virtualhost = Some(unquote(value).to_string()),
            "fallback" | "fallback6" => {
                let want = if key == "fallback6" {
                    Family::V6
                } else {
                    Family::V4
                };
                if want != v.family {
                    return Err(f.err(
                        pos,
                        format!("'{key}' does not match the virtual's address family"),
                    ));
                }
                v.fallback = Some(self.fallback(value, v.family, vpos)?);
            }
            "quiescent" => v.quiescent = Some(yes_no(f, key, value, vpos)?),
            "servicename" => v.servicename = Some(value.to_string()),
            _ => self.other(sec::VIRTUAL, key, pos)?,
        }
        Ok(())
    }

    /// `ADDR[->ADDR][:PORT] gate|masq|ipip [WEIGHT] ["req", "recv"] [l:N] [u:N]`.
    fn real(&self, value: &str, family: Family, pos: Pos) -> Result<Vec<Real>, ConfigError> {
        let f = &self.files;
        let value = value.trim();
        let (spec, flags) = match value.find(char::is_whitespace) {
            Some(i) => (&value[..i], value[i..].trim_start()),
            None => (value, ""),
        };
        let (first, last, port) = match spec.split_once("->") {
            Some((a, b)) => {
                let (b_host, port) = split_host_port(b);
                (a, Some(b_host), port)
            }
            None => {
                let (h, port) = split_host_port(spec);
                (h, None, port)
            }
        };
        let first = parse_addr(f, first, family, pos)?;
        let last = match last {
            Some(l) => Some(parse_addr(f, l, family, pos)?),
            None => None,
        };
        let port = match port {
            Some(p) => parse_port(f, p, pos, true)?,
            None => 0,
        };
        // Forwarding method, weight, request/receive, thresholds.
        let mut rest = flags;
        let word_end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let fwd = &rest[..word_end];
        let method = method(fwd).ok_or_else(|| {
            f.err(
                pos,
                format!("forward method must be gate, masq or ipip, got '{fwd}'"),
            )
        })?;
        rest = rest[word_end..].trim_start();
        let mut weight = 1;
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 {
            weight =
                values::u32_in("weight", &rest[..digits], 0, 65535).map_err(|r| f.err(pos, r))?;
            rest = rest[digits..].trim_start();
        }
        let mut request = None;
        let mut receive = None;
        if let Some(r) = rest.strip_prefix('"') {
            let end = r
                .find('"')
                .ok_or_else(|| f.err(pos, "missing closing \" of the request string"))?;
            let mut req = r[..end].to_string();
            if !req.starts_with('/') && !req.starts_with("http") {
                req.insert(0, '/');
            }
            request = Some(req);
            rest = r[end + 1..].trim_start();
            rest = rest.strip_prefix(',').unwrap_or(rest).trim_start();
            let r2 = rest.strip_prefix('"').ok_or_else(|| {
                f.err(pos, "a request string must be followed by a receive string")
            })?;
            let end = r2
                .find('"')
                .ok_or_else(|| f.err(pos, "missing closing \" of the receive string"))?;
            receive = Some(r2[..end].to_string());
            rest = r2[end + 1..].trim_start();
        }
        let mut lthreshold = 0;
        let mut uthreshold = 0;
        for word in rest.split_whitespace() {
            let w = word.trim_matches('"');
            if let Some(n) = w.strip_prefix("l:") {
                lthreshold = values::u32_in("l-threshold", n, 0, i32::MAX as u32)
                    .map_err(|r| f.err(pos, r))?;
            } else if let Some(n) = w.strip_prefix("u:") {
                uthreshold = values::u32_in("u-threshold", n, 0, i32::MAX as u32)
                    .map_err(|r| f.err(pos, r))?;
            } else {
                return Err(f.err(pos, format!("invalid real server line, around '{word}'")));
            }
        }
        let make = |ip| Real {
            ip,
            port,
            method,
            weight,
            request: request.clone(),
            receive: receive.clone(),
            lthreshold,
            uthreshold,
            pos,
        };
        let Some(last) = last else {
            return Ok(vec![make(first)]);
        };
        match (first, last) {
            (IpAddr::V4(a), IpAddr::V4(b)) => {
                let (a, b) = (u32::from(a), u32::from(b));
                if a > b {
                    return Err(f.err(
                        pos,
                        "real server range: the first address must not be above the last",
                    ));
                }
                if b - a >= MAX_RANGE {
                    return Err(f.err(
                        pos,
                        format!("real server range larger than {MAX_RANGE} addresses"),
                    ));
                }
                Ok((a..=b).map(|x| make(IpAddr::V4(x.into()))).collect())
            }
            _ => Err(f.err(
                pos,
                "address ranges are only supported for IPv4 (as in ldirectord)",
            )),
        }
    }

    fn finish_virtual(&mut self, v: Virtual) -> Result<VirtualServer, ConfigError> {
        let g = &self.globals;
        let is_fwmark = matches!(v.key, VsKey::FwMark(_));
        let protocol = v.protocol.unwrap_or(if v.port == 53 {
            Protocol::Udp
        } else {
            Protocol::Tcp
        });
        if v.ops && (is_fwmark || protocol != Protocol::Udp) {
            return Err(self
                .files
                .err(v.pos, "ops can only be used for UDP services"));
        }
        let service = v.service.clone().unwrap_or_else(|| {
            if is_fwmark {
                "none".into()
            } else {
                port_service(v.port).into()
            }
        });
        let interval = Duration::from_secs(v.checkinterval.or(g.checkinterval).unwrap_or(10));
        let ct = v.checktimeout.or(g.checktimeout);
        let nt = v.negotiatetimeout.or(g.negotiatetimeout);
        let connect_timeout = Duration::from_secs(ct.or(nt).unwrap_or(5));
        let negotiate_timeout = Duration::from_secs(nt.or(ct).unwrap_or(30));
        let failures = v
            .failurecount
            .or(g.failurecount)
            .or(v.checkcount)
            .or(g.checkcount)
            .unwrap_or(1);
        let quiescent = v.quiescent.or(g.quiescent).unwrap_or(false);
        let fallback = v.fallback.clone().or_else(|| match v.family {
            Family::V4 => g.fallback.clone(),
            Family::V6 => g.fallback6.clone(),
        });
        let common = |timeout: Duration, every: Duration| CheckCommon {
            connect_ip: None,
            connect_port: v.checkport,
            bindto: None,
            bind_port: None,
            bind_if: None,
            fwmark: None,
            connect_timeout: timeout,
            retry: failures - 1,
            delay_before_retry: every,
            warmup: Duration::ZERO,
            delay_loop: every,
            alpha: true,
            log_all_failures: false,
        };

        let vip_text = match &v.key {
            VsKey::Addr { ip, .. } => ip.to_string(),
            VsKey::FwMark(m) => m.to_string(),
            VsKey::Group(_) => String::new(),
        };
        let mut warned_service = false;
        let mut reals = Vec::new();
        let mut seen = HashSet::new();
        for r in &v.reals {
            let port = if r.method == ForwardMethod::Masq {
                if r.port == 0 && !is_fwmark {
                    v.port
                } else {
                    r.port
                }
            } else if is_fwmark {
                0
            } else {
                v.port
            };
            if !seen.insert((r.ip, port)) {
                return Err(self
                    .files
                    .err(r.pos, format!("duplicate real server {} port {port}", r.ip)));
            }
            let request = r.request.clone().unwrap_or_else(|| v.request.clone());
            let receive = r.receive.clone().unwrap_or_else(|| v.receive.clone());
            let negotiate = |warned: &mut bool,
                             warnings: &mut Vec<(Pos, String)>|
             -> Option<Checker> {
                let c = common(negotiate_timeout, interval);
                match service.as_str() {
                    "http" | "https" => {
                        let (path, connect_ip, connect_port, host) = split_request_url(&request);
                        let mut c = c;
                        if connect_ip.is_some() {
                            c.connect_ip = connect_ip;
                        }
                        if connect_port.is_some() {
                            c.connect_port = connect_port;
                        }
                        let h = HttpCheck {
                            common: c,
                            urls: vec![UrlCheck {
                                path,
                                digest: None,
                                status_code: vec![StatusRange {
                                    first: 200,
                                    last: 299,
                                }],
                                virtualhost: None,
                                regex: (!receive.is_empty()).then(|| receive.clone()),
                                regex_no_match: false,
                                regex_options: Vec::new(),
                                regex_min_offset: None,
                                regex_max_offset: None,
                            }],
                            virtualhost: v.virtualhost.clone().or(host),
                            http_protocol: HttpProtocol::Http10,
                            method: v.httpmethod,
                            fast_recovery: false,
                            enable_sni: service == "https" && v.virtualhost.is_some(),
                            sni_name: None,
                            tls_compliant: false,
                        };
                        Some(if service == "https" {
                            Checker::SslGet(h)
                        } else {
                            Checker::HttpGet(h)
                        })
                    }
                    "dns" => {
                        if !receive.is_empty() && !*warned {
                            *warned = true;
                            warnings.push((v.pos, "DNS answers are not compared with receive by rvs; only a reply is required".into()));
                        }
                        Some(Checker::DnsCheck {
                            common: c,
                            query_type: DnsType::A,
                            name: request.trim_start_matches('/').to_string(),
                        })
                    }
                    "smtp" | "submission" => Some(Checker::SmtpCheck {
                        common: c,
                        helo_name: None,
                    }),
                    "simpletcp" => Some(Checker::TcpSendExpect {
                        common: c,
                        send: Some(unescape_send(request.trim_start_matches('/'))),
                        expect: (!receive.is_empty()).then(|| receive.clone()),
                        regex: true,
                        dead_after: None,
                        alive_after: None,
                    }),
                    "none" => None,
                    other => {
                        if !*warned {
                            *warned = true;
                            warnings.push((
                                v.pos,
                                format!("rvs has no {other} negotiate check: using a connect check instead"),
                            ));
                        }
                        Some(connect_check(protocol, common(connect_timeout, interval)))
                    }
                }
            };
            let mut pending_warnings = Vec::new();
            let (checkers, active) = match v.checktype {
                CheckType::Negotiate => (
                    negotiate(&mut warned_service, &mut pending_warnings)
                        .into_iter()
                        .collect(),
                    true,
                ),
                CheckType::Connect => (
                    vec![connect_check(protocol, common(connect_timeout, interval))],
                    true,
                ),
                CheckType::Ping => (
                    vec![Checker::PingCheck {
                        common: common(connect_timeout, interval),
                    }],
                    true,
                ),
                CheckType::External => {
                    let rport = if port == 0 { v.port } else { port };
                    let command = format!(
                        "{} {} {} {} {}",
                        v.checkcommand, vip_text, v.port, r.ip, rport
                    );
                    (
                        vec![Checker::MiscCheck {
                            common: common(connect_timeout, interval),
                            script: Script {
                                command,
                                user: None,
                                group: None,
                            },
                            timeout: Some(connect_timeout),
                            dynamic: false,
                            expect_output: None,
                        }],
                        true,
                    )
                }
                CheckType::On => (Vec::new(), true),
                CheckType::Off => (Vec::new(), false),
                CheckType::Combined(n) => {
                    let mut list = vec![connect_check(protocol, common(connect_timeout, interval))];
                    if let Some(mut neg) = negotiate(&mut warned_service, &mut pending_warnings) {
                        set_interval(&mut neg, interval.saturating_mul(n));
                        list.push(neg);
                    }
                    (list, true)
                }
            };
            for (p, m) in pending_warnings {
                self.warn(p, m);
            }
            reals.push(RealServer {
                ip: r.ip,
                port,
                at: self.files.loc(r.pos),
                name: None,
                active,
                weight: r.weight,
                lb_kind: r.method,
                uthreshold: r.uthreshold,
                lthreshold: r.lthreshold,
                inhibit_on_failure: quiescent,
                notify_up: None,
                notify_down: None,
                alpha: true,
                virtualhost: None,
                smtp_alert: None,
                checkers,
            });
        }

        let sorry_server = match (fallback, v.checktype) {
            (Some(fb), t) if t != CheckType::Off => {
                let port = if fb.method == ForwardMethod::Masq {
                    fb.port.unwrap_or(v.port)
                } else if is_fwmark {
                    0
                } else {
                    v.port
                };
                if Family::of(&fb.ip) != v.family {
                    return Err(self.files.err(
                        v.pos,
                        "fallback server is not of the virtual's address family",
                    ));
                }
                Some(SorryServer {
                    ip: fb.ip,
                    port,
                    lb_kind: fb.method,
                    inhibit: quiescent,
                })
            }
            _ => None,
        };
        let persistence_timeout = v.persistent;
        let mut granularity = v.netmask;
        if granularity.is_some() && persistence_timeout.is_none() {
            self.warn(v.pos, "netmask has no effect without persistent: ignored");
            granularity = None;
        }
        let lb_kind = reals
            .first()
            .map(|r| r.lb_kind)
            .unwrap_or(ForwardMethod::Route);
        let weight_sum: u64 = reals.iter().map(|r| r.weight as u64).sum();
        Ok(VirtualServer {
            key: v.key,
            protocol,
            at: self.files.loc(v.pos),
            name: v.servicename,
            active: true,
            family: v.family,
            delay_loop: interval,
            lb_algo: v.scheduler,
            sched_flags: v.schedflags,
            ops: v.ops,
            lb_kind,
            persistence_timeout,
            persistence_granularity: granularity,
            sorry_server,
            inhibit_on_failure: quiescent,
            quorum: weight_sum.min(1) as u32,
            hysteresis: 0,
            quorum_up: None,
            quorum_down: None,
            alpha: true,
            omega: false,
            virtualhost: v.virtualhost,
            ha_suspend: false,
            smtp_alert: None,
            weight: 1,
            retry: Some(failures - 1),
            delay_before_retry: Some(interval),
            connect_timeout,
            warmup: Some(Duration::ZERO),
            vip_interface: None,
            real_servers: reals,
        })
    }
}

fn connect_check(protocol: Protocol, common: CheckCommon) -> Checker {
    match protocol {
        // ldirectord pings UDP services for a connect check.
        Protocol::Udp => Checker::PingCheck { common },
        Protocol::Tcp => Checker::TcpCheck { common },
    }
}

fn set_interval(c: &mut Checker, every: Duration) {
    let common = match c {
        Checker::TcpCheck { common }
        | Checker::MiscCheck { common, .. }
        | Checker::DnsCheck { common, .. }
        | Checker::PingCheck { common }
        | Checker::UdpCheck { common, .. }
        | Checker::SmtpCheck { common, .. }
        | Checker::TcpSendExpect { common, .. } => common,
        Checker::HttpGet(h) | Checker::SslGet(h) => &mut h.common,
    };
    common.delay_loop = every;
    common.delay_before_retry = every;
}

/// A request of `http://HOST[:PORT]/PATH` overrides where the check connects
/// (an address) or the Host header (a name); a plain path is used as is.
fn split_request_url(request: &str) -> (String, Option<IpAddr>, Option<u16>, Option<String>) {
    let rest = request
        .strip_prefix("http://")
        .or_else(|| request.strip_prefix("https://"));
    let Some(rest) = rest else {
        return (request.to_string(), None, None, None);
    };
    let (hostport, path) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].to_string()),
        None => (rest, "/".to_string()),
    };
    let (host, port) = split_host_port(hostport);
    let port = port.and_then(|p| p.parse::<u16>().ok());
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<IpAddr>() {
        Ok(ip) => (path, Some(ip), port, None),
        Err(_) => (path, None, port, Some(host.to_string())),
    }
}
