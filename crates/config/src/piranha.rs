//! Piranha's lvs.cf (pulse/nanny): `key = value` globals, `virtual NAME { }`
//! blocks holding `server NAME { }` blocks. nanny's send/expect test becomes
//! a TCP send/expect checker (kept apart from HTTP_GET because nanny compares
//! raw text, not HTTP status), `send_program` a MISC_CHECK whose output must
//! contain `expect`; `timeout` and `reentry` are the dead-after and
//! alive-again-after times of that checker. The global `network` gives every
//! real server its forwarding method.

use std::collections::HashSet;
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use rvs_core::{Family, ForwardMethod, Protocol, SchedFlags, SchedulerKind};

use crate::error::{ConfigError, Ignored, Warning};
use crate::keywords::{self, section as sec, Support};
use crate::model::{
    CheckCommon, Checker, Format, GlobalDefs, LoadedConfig, LvsSyncDaemon, PiranhaGlobals,
    RealServer, Script, SorryServer, VipInterface, VirtualServer, VsKey,
};
use crate::script::unescape_send;
use crate::source::{Files, Pos};
use crate::values;

/// nanny's defaults as the Piranha GUI writes them.
const DEFAULT_TIMEOUT: u64 = 6;
const DEFAULT_REENTRY: u64 = 15;
/// Check interval when the global `keepalive` is not set.
const DEFAULT_INTERVAL: u64 = 6;
/// Deepest nesting (virtual > server is 2).
const MAX_DEPTH: usize = 8;

#[derive(Debug)]
enum Item {
    Assign {
        key: String,
        value: String,
        pos: Pos,
        vpos: Pos,
    },
    Block {
        kind: String,
        name: String,
        pos: Pos,
        items: Vec<Item>,
    },
}

struct Parser {
    files: Files,
    unknown: Vec<Ignored>,
    warnings: Vec<Warning>,
}

pub(crate) fn parse(text: &str, path: &Path) -> Result<LoadedConfig, ConfigError> {
    let mut files = Files::default();
    let file = files.add(path.to_path_buf());
    let mut p = Parser {
        files,
        unknown: Vec::new(),
        warnings: Vec::new(),
    };
    let items = p.tree(text, file)?;

    let mut piranha = PiranhaGlobals::default();
    let mut global = GlobalDefs::default();
    let mut network = ForwardMethod::Masq;
    let mut interval = Duration::from_secs(DEFAULT_INTERVAL);
    let mut syncdaemon = false;
    let mut sync_iface: Option<String> = None;
    let mut sync_id: Option<u8> = None;
    let mut nat_nmask: Option<u8> = None;
    let mut virtuals = Vec::new();
    for it in &items {
        match it {
            Item::Block {
                kind,
                name,
                pos,
                items,
            } if kind == "virtual" => virtuals.push((name.clone(), *pos, items)),
            Item::Block { kind, pos, .. } => p.other(sec::GLOBAL, kind, *pos)?,
            Item::Assign {
                key,
                value,
                pos,
                vpos,
            } => {
                let (value, vpos) = (value.as_str(), *vpos);
                match key.as_str() {
                    "service" => match value {
                        "lvs" => {}
                        "fos" => {
                            return Err(p.files.err(
                                vpos,
                                "service = fos (failover services) is not supported by rvs",
                            ))
                        }
                        other => {
                            return Err(p
                                .files
                                .err(vpos, format!("service must be lvs or fos, got '{other}'")))
                        }
                    },
                    "network" => {
                        network = match value {
                            "nat" => ForwardMethod::Masq,
                            "direct" => ForwardMethod::Route,
                            "tunnel" => ForwardMethod::Tunnel,
                            other => {
                                return Err(p.files.err(
                                    vpos,
                                    format!("network must be nat, direct or tunnel, got '{other}'"),
                                ))
                            }
                        };
                        piranha.network = Some(network);
                    }
                    "nat_router" => {
                        let mut words = value.split_whitespace();
                        let ip = words.next().unwrap_or("");
                        let ip = values::ip("nat_router", ip).map_err(|r| p.files.err(vpos, r))?;
                        piranha.nat_router_addr = Some(ip);
                        if let Some(dev) = words.next() {
                            piranha.nat_router = Some(dev_label(dev, None));
                        }
                    }
                    "nat_nmask" => {
                        nat_nmask = Some(
                            values::netmask_v4("nat_nmask", value)
                                .map_err(|r| p.files.err(vpos, r))?,
                        )
                    }
                    "syncdaemon" => syncdaemon = p.zero_one(key, value, vpos)?,
                    "syncd_iface" => sync_iface = Some(value.to_string()),
                    "syncd_id" => sync_id = Some(p.number(key, value, vpos, 0, 255)? as u8),
                    "tcp_timeout" => {
                        global.lvs_timeouts.tcp =
                            Some(p.number(key, value, vpos, 0, 86400 * 31)? as u32)
                    }
                    "tcpfin_timeout" => {
                        global.lvs_timeouts.tcp_fin =
                            Some(p.number(key, value, vpos, 0, 86400 * 31)? as u32)
                    }
                    "udp_timeout" => {
                        global.lvs_timeouts.udp =
                            Some(p.number(key, value, vpos, 0, 86400 * 31)? as u32)
                    }
                    "keepalive" => {
                        interval =
                            Duration::from_secs(p.number(key, value, vpos, 1, u32::MAX as u64)?)
                    }
                    "virtual" => {
                        return Err(p
                            .files
                            .err(*pos, "virtual is a block: virtual NAME { ... }"))
                    }
                    _ => p.other(sec::GLOBAL, key, *pos)?,
                }
            }
        }
    }
    if let (Some(nr), Some(len)) = (piranha.nat_router.as_mut(), nat_nmask) {
        nr.prefix_len = Some(len);
    }
    if syncdaemon {
        global.lvs_sync_daemon = Some(LvsSyncDaemon {
            interface: sync_iface.unwrap_or_else(|| "eth0".into()),
            instance: None,
            id: sync_id,
            maxlen: None,
            port: None,
            ttl: None,
            group: None,
        });
    }

    let mut servers = Vec::new();
    let mut seen = HashSet::new();
    let mut names = HashSet::new();
    for (name, pos, items) in virtuals {
        if !names.insert(name.clone()) {
            return Err(p.files.err(pos, format!("duplicate virtual {name}")));
        }
        let vs = p.virtual_server(name, pos, items, network, interval)?;
        if vs.active {
            let proto = match vs.key {
                VsKey::FwMark(_) => Protocol::Tcp,
                _ => vs.protocol,
            };
            if !seen.insert((vs.key.clone(), proto)) {
                return Err(p.files.err(
                    pos,
                    "another active virtual has the same address, port and protocol",
                ));
            }
        }
        servers.push(vs);
    }
    global.piranha = Some(piranha);
    Ok(LoadedConfig {
        source: Format::Piranha,
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

/// `eth0:1` → dev eth0, label eth0:1.
fn dev_label(text: &str, prefix_len: Option<u8>) -> VipInterface {
    match text.split_once(':') {
        Some((dev, _)) => VipInterface {
            dev: dev.to_string(),
            label: Some(text.to_string()),
            prefix_len,
        },
        None => VipInterface {
            dev: text.to_string(),
            label: None,
            prefix_len,
        },
    }
}

fn unquote(v: &str) -> &str {
    v.strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(v)
}

impl Parser {
    fn tree(&mut self, text: &str, file: u32) -> Result<Vec<Item>, ConfigError> {
        // Stack of open blocks: (kind, name, pos, items).
        let mut stack: Vec<(String, String, Pos, Vec<Item>)> = Vec::new();
        let mut top: Vec<Item> = Vec::new();
        for (n, raw) in text.split('\n').enumerate() {
            let line_no = (n + 1).min(u32::MAX as usize) as u32;
            let raw = raw.strip_suffix('\r').unwrap_or(raw);
            let line = strip_comment(raw);
            let body = line.trim();
            if body.is_empty() {
                continue;
            }
            let lead = line.len() - line.trim_start().len();
            let pos = Pos {
                file,
                line: line_no,
                col: (line[..lead].chars().count() + 1) as u32,
            };
            if body == "}" {
                let Some((kind, name, bpos, items)) = stack.pop() else {
                    return Err(self
                        .files
                        .err(pos, "unbalanced braces: '}' without a block"));
                };
                let block = Item::Block {
                    kind,
                    name,
                    pos: bpos,
                    items,
                };
                match stack.last_mut() {
                    Some(parent) => parent.3.push(block),
                    None => top.push(block),
                }
                continue;
            }
            if let Some(head) = body.strip_suffix('{') {
                let mut words = head.split_whitespace();
                let kind = words.next().unwrap_or("").to_string();
                let name = words.next().unwrap_or("").to_string();
                if kind.is_empty()
                    || name.is_empty()
                    || words.next().is_some()
                    || kind.contains('=')
                {
                    return Err(self
                        .files
                        .err(pos, format!("expected 'KIND NAME {{', got '{body}'")));
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(self.files.err(pos, "blocks nested too deeply"));
                }
                stack.push((kind, name, pos, Vec::new()));
                continue;
            }
            let Some(eq) = body.find('=') else {
                return Err(self
                    .files
                    .err(pos, format!("expected 'option = value', got '{body}'")));
            };
            let key = body[..eq].trim();
            if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(self
                    .files
                    .err(pos, format!("expected 'option = value', got '{body}'")));
            }
            let after = &body[eq + 1..];
            let value = after.trim();
            let off = lead + eq + 1 + (after.len() - after.trim_start().len());
            let vpos = Pos {
                col: (line[..off.min(line.len())].chars().count() + 1) as u32,
                ..pos
            };
            let item = Item::Assign {
                key: key.to_string(),
                value: value.to_string(),
                pos,
                vpos,
            };
            match stack.last_mut() {
                Some(parent) => parent.3.push(item),
                None => top.push(item),
            }
        }
        if let Some((_, _, bpos, _)) = stack.last() {
            return Err(self
                .files
                .err(*bpos, "unbalanced braces: this block is never closed"));
        }
        Ok(top)
    }

    fn other(&mut self, section: &'static str, key: &str, pos: Pos) -> Result<(), ConfigError> {
        match keywords::lookup(Format::Piranha, section, key) {
            Some(k) if k.support == Support::Ignored => {
                let at = self.files.loc(pos);
                self.unknown.push(Ignored {
                    file: at.file,
                    line: at.line,
                    column: at.column,
                    section: section.to_string(),
                    keyword: key.to_string(),
                });
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
                format!("unknown lvs.cf option '{key}' in {section} section"),
            )),
        }
    }

    fn number(
        &self,
        key: &str,
        value: &str,
        pos: Pos,
        min: u64,
        max: u64,
    ) -> Result<u64, ConfigError> {
        values::uint(key, value, min, max).map_err(|r| self.files.err(pos, r))
    }

    fn zero_one(&self, key: &str, value: &str, pos: Pos) -> Result<bool, ConfigError> {
        match value {
            "0" => Ok(false),
            "1" => Ok(true),
            _ => Err(self
                .files
                .err(pos, format!("{key} must be 0 or 1, got '{value}'"))),
        }
    }

    fn virtual_server(
        &mut self,
        name: String,
        pos: Pos,
        items: &[Item],
        network: ForwardMethod,
        interval: Duration,
    ) -> Result<VirtualServer, ConfigError> {
        let mut active = true;
        let mut address: Option<(IpAddr, Option<String>)> = None;
        let mut vip_nmask: Option<u8> = None;
        let mut port: Option<u16> = None;
        let mut fwmark: Option<u32> = None;
        let mut protocol = Protocol::Tcp;
        let mut scheduler = SchedulerKind::Wlc;
        let mut persistent: Option<u32> = None;
        let mut pmask: Option<u8> = None;
        let mut send: Option<String> = None;
        let mut expect: Option<String> = None;
        let mut use_regex = false;
        let mut send_program: Option<String> = None;
        let mut timeout = DEFAULT_TIMEOUT;
        let mut reentry = DEFAULT_REENTRY;
        let mut sorry: Option<IpAddr> = None;
        let mut servers = Vec::new();
        for it in items {
            match it {
                Item::Block {
                    kind,
                    name,
                    pos,
                    items,
                } if kind == "server" => servers.push((name.clone(), *pos, items)),
                Item::Block { kind, pos, .. } => {
                    return Err(self
                        .files
                        .err(*pos, format!("unexpected '{kind}' block in a virtual")))
                }
                Item::Assign {
                    key,
                    value,
                    vpos,
                    pos,
                } => {
                    let (value, vpos) = (value.as_str(), *vpos);
                    match key.as_str() {
                        "active" => active = self.zero_one(key, value, vpos)?,
                        "address" => {
                            let mut words = value.split_whitespace();
                            let ip = values::ip("address", words.next().unwrap_or(""))
                                .map_err(|r| self.files.err(vpos, r))?;
                            address = Some((ip, words.next().map(str::to_string)));
                        }
                        "vip_nmask" => {
                            vip_nmask = Some(
                                values::netmask_v4("vip_nmask", value)
                                    .map_err(|r| self.files.err(vpos, r))?,
                            )
                        }
                        "port" => port = Some(self.number(key, value, vpos, 0, 65535)? as u16),
                        "fwmark" => {
                            fwmark = Some(self.number(key, value, vpos, 1, u32::MAX as u64)? as u32)
                        }
                        "protocol" => {
                            protocol = match value {
                                "tcp" => Protocol::Tcp,
                                "udp" => Protocol::Udp,
                                other => {
                                    return Err(self.files.err(
                                        vpos,
                                        format!("protocol must be tcp or udp, got '{other}'"),
                                    ))
                                }
                            }
                        }
                        "scheduler" => {
                            scheduler = value.parse().map_err(|_| {
                                self.files.err(vpos, format!("unknown scheduler '{value}'"))
                            })?
                        }
                        "persistent" => {
                            persistent = Some(self.number(key, value, vpos, 1, 86400 * 31)? as u32)
                        }
                        "pmask" => {
                            pmask = Some(
                                values::netmask_v4("pmask", value)
                                    .map_err(|r| self.files.err(vpos, r))?,
                            )
                        }
                        "send" => send = Some(unescape_send(unquote(value))),
                        "expect" => expect = Some(unquote(value).to_string()),
                        "use_regex" => use_regex = self.zero_one(key, value, vpos)?,
                        "send_program" => send_program = Some(unquote(value).to_string()),
                        "timeout" => timeout = self.number(key, value, vpos, 1, u32::MAX as u64)?,
                        "reentry" => reentry = self.number(key, value, vpos, 0, u32::MAX as u64)?,
                        "server" => {
                            return Err(self
                                .files
                                .err(*pos, "server is a block: server NAME { ... }"))
                        }
                        "sorry_server" => {
                            sorry = Some(
                                values::ip("sorry_server", value)
                                    .map_err(|r| self.files.err(vpos, r))?,
                            )
                        }
                        _ => self.other(sec::VIRTUAL, key, *pos)?,
                    }
                }
            }
        }
        let (vip, dev) = address.ok_or_else(|| {
            self.files
                .err(pos, format!("virtual {name} needs an address"))
        })?;
        let port =
            port.ok_or_else(|| self.files.err(pos, format!("virtual {name} needs a port")))?;
        let family = Family::of(&vip);
        let key = match fwmark {
            Some(m) => VsKey::FwMark(m),
            None => VsKey::Addr { ip: vip, port },
        };
        let is_fwmark = fwmark.is_some();
        let vip_interface = dev.map(|d| dev_label(&d, vip_nmask));
        if pmask.is_some() && persistent.is_none() {
            self.warnings.push(Warning {
                at: self.files.loc(pos),
                message: "pmask has no effect without persistent: ignored".into(),
            });
            pmask = None;
        }
        if let Some(ip) = sorry {
            if Family::of(&ip) != family {
                return Err(self
                    .files
                    .err(pos, "sorry_server is not of the virtual's address family"));
            }
        }

        let mut reals = Vec::new();
        let mut seen = HashSet::new();
        let mut snames = HashSet::new();
        for (sname, spos, sitems) in servers {
            if !snames.insert(sname.clone()) {
                return Err(self.files.err(spos, format!("duplicate server {sname}")));
            }
            let mut addr: Option<IpAddr> = None;
            let mut sactive = true;
            let mut weight = 1u32;
            let mut sport: Option<u16> = None;
            for it in sitems {
                match it {
                    Item::Block { kind, pos, .. } => {
                        return Err(self
                            .files
                            .err(*pos, format!("unexpected '{kind}' block in a server")))
                    }
                    Item::Assign {
                        key,
                        value,
                        vpos,
                        pos,
                    } => {
                        let (value, vpos) = (value.as_str(), *vpos);
                        match key.as_str() {
                            "address" => {
                                let a = value.split_whitespace().next().unwrap_or("");
                                addr = Some(
                                    values::ip("address", a)
                                        .map_err(|r| self.files.err(vpos, r))?,
                                );
                            }
                            "active" => sactive = self.zero_one(key, value, vpos)?,
                            "weight" => weight = self.number(key, value, vpos, 0, 65535)? as u32,
                            "port" => sport = Some(self.number(key, value, vpos, 0, 65535)? as u16),
                            _ => self.other(sec::SERVER, key, *pos)?,
                        }
                    }
                }
            }
            let ip = addr.ok_or_else(|| {
                self.files
                    .err(spos, format!("server {sname} needs an address"))
            })?;
            if Family::of(&ip) != family {
                return Err(self.files.err(
                    spos,
                    format!("server {sname} ({ip}) is not of the virtual's address family"),
                ));
            }
            let rport = match network {
                ForwardMethod::Masq => sport.filter(|p| *p != 0).unwrap_or(port),
                _ if is_fwmark => 0,
                _ => {
                    if let Some(p) = sport.filter(|p| *p != 0 && *p != port) {
                        self.warnings.push(Warning {
                            at: self.files.loc(spos),
                            message: format!(
                                "server port {p} differs from the virtual's {port}: direct routing and tunnelling cannot change ports, using {port}"
                            ),
                        });
                    }
                    port
                }
            };
            if !seen.insert((ip, rport)) {
                return Err(self
                    .files
                    .err(spos, format!("duplicate server {ip} port {rport}")));
            }
            // nanny checks the server's own port (the virtual's for marks).
            let check_port = sport.filter(|p| *p != 0).unwrap_or(port);
            let common = CheckCommon {
                connect_ip: None,
                connect_port: Some(check_port),
                bindto: None,
                bind_port: None,
                bind_if: None,
                fwmark: None,
                connect_timeout: Duration::from_secs(timeout),
                retry: 0,
                delay_before_retry: interval,
                warmup: Duration::ZERO,
                delay_loop: interval,
                alpha: true,
                log_all_failures: false,
            };
            let checker = match (&send_program, protocol) {
                (Some(prog), _) => Checker::MiscCheck {
                    common,
                    script: Script {
                        command: prog.replace("%h", &ip.to_string()),
                        user: None,
                        group: None,
                    },
                    timeout: Some(Duration::from_secs(timeout)),
                    dynamic: false,
                    expect_output: expect.clone(),
                },
                (None, Protocol::Udp) => Checker::UdpCheck {
                    common,
                    payload: send.as_ref().map(|s| s.as_bytes().to_vec()),
                    require_reply: expect.as_ref().map(|_| None),
                    min_reply_length: 0,
                    max_reply_length: 65535,
                },
                (None, Protocol::Tcp) => Checker::TcpSendExpect {
                    common,
                    send: send.clone(),
                    expect: expect.clone(),
                    regex: use_regex,
                    dead_after: Some(Duration::from_secs(timeout)),
                    alive_after: Some(Duration::from_secs(reentry)),
                },
            };
            reals.push(RealServer {
                ip,
                port: rport,
                at: self.files.loc(spos),
                name: Some(sname),
                active: sactive,
                weight,
                lb_kind: network,
                uthreshold: 0,
                lthreshold: 0,
                inhibit_on_failure: false,
                notify_up: None,
                notify_down: None,
                alpha: true,
                virtualhost: None,
                smtp_alert: None,
                checkers: vec![checker],
            });
        }
        if protocol == Protocol::Udp && expect.is_some() && send_program.is_none() {
            self.warnings.push(Warning {
                at: self.files.loc(pos),
                message:
                    "UDP replies are not compared with expect by rvs; only a reply is required"
                        .into(),
            });
        }
        let sorry_server = sorry.map(|ip| SorryServer {
            ip,
            port: if is_fwmark && network != ForwardMethod::Masq {
                0
            } else {
                port
            },
            lb_kind: network,
            inhibit: false,
        });
        Ok(VirtualServer {
            key,
            protocol,
            at: self.files.loc(pos),
            name: Some(name),
            active,
            family,
            delay_loop: interval,
            lb_algo: scheduler,
            sched_flags: SchedFlags::default(),
            ops: false,
            lb_kind: network,
            persistence_timeout: persistent,
            persistence_granularity: pmask,
            sorry_server,
            inhibit_on_failure: false,
            quorum: 1,
            hysteresis: 0,
            quorum_up: None,
            quorum_down: None,
            alpha: true,
            omega: false,
            virtualhost: None,
            ha_suspend: false,
            smtp_alert: None,
            weight: 1,
            retry: Some(0),
            delay_before_retry: Some(interval),
            connect_timeout: Duration::from_secs(timeout),
            warmup: Some(Duration::ZERO),
            vip_interface,
            real_servers: reals,
        })
    }
}

/// The line up to a `#` outside double quotes.
fn strip_comment(line: &str) -> &str {
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        match c {
            '\\' if quoted && !escaped => {
                escaped = true;
                continue;
            }
            '"' if !escaped => quoted = !quoted,
            '#' if !quoted => return &line[..i],
            _ => {}
        }
        escaped = false;
    }
    line
}
