//! keepalived's LVS blocks: `virtual_server_group`, `virtual_server` and its
//! `real_server`s, then the checks keepalived makes once a virtual server is
//! complete (forwarding method and scheduler defaults, ports of DR/TUN real
//! servers, address families, quorum limits, duplicates).

use std::collections::HashSet;
use std::net::IpAddr;
use std::time::Duration;

use rvs_core::{Family, ForwardMethod, Protocol, SchedFlags, SchedulerKind};

use crate::error::ConfigError;
use crate::keepalived::check::{self, Inherited, RawChecker, CHECKER_KEYWORDS};
use crate::keepalived::ctx::{Ctx, TIMER_MAX};
use crate::keepalived::tree::Stmt;
use crate::keywords::section as sec;
use crate::model::{
    GlobalDefs, RealServer, Script, SorryServer, VirtualServer, VirtualServerGroup, VsKey,
    VsgEntry, VsgEntryKind,
};
use crate::source::Pos;
use crate::values;

/// keepalived's default persistence timeout (IPVS_SVC_PERSISTENT_TIMEOUT).
pub const DEFAULT_PERSISTENCE: u32 = 360;
/// keepalived's default delay_loop.
pub const DEFAULT_DELAY_LOOP: Duration = Duration::from_secs(60);
/// keepalived's default connect_timeout.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// IPVS timeouts top out at 31 days.
const LVS_MAX_TIMEOUT: u32 = 86400 * 31;
/// Real server weights.
pub const MAX_WEIGHT: u32 = 65535;

#[derive(Clone, Copy, Debug)]
enum Granularity {
    V4(u8),
    V6(u8),
}

#[derive(Clone, Debug)]
struct RawSorry {
    ip: IpAddr,
    port: u16,
    lb_kind: Option<ForwardMethod>,
    inhibit: bool,
    pos: Pos,
}

#[derive(Clone, Debug)]
pub(crate) struct RawRs {
    ip: IpAddr,
    port: u16,
    pos: Pos,
    weight: Option<u32>,
    lb_kind: Option<ForwardMethod>,
    uthreshold: u32,
    lthreshold: u32,
    inhibit: Option<bool>,
    notify_up: Option<Script>,
    notify_down: Option<Script>,
    alpha: Option<bool>,
    retry: Option<u32>,
    delay_before_retry: Option<Duration>,
    warmup: Option<Duration>,
    connect_timeout: Option<Duration>,
    delay_loop: Option<Duration>,
    virtualhost: Option<String>,
    smtp_alert: Option<bool>,
    checkers: Vec<RawChecker>,
}

#[derive(Clone, Debug)]
pub(crate) struct RawVs {
    key: VsKey,
    pos: Pos,
    ip_family: Option<Family>,
    protocol: Option<(Protocol, Pos)>,
    delay_loop: Option<Duration>,
    lb_algo: Option<SchedulerKind>,
    flags: Vec<(String, Pos)>,
    ops: Option<Pos>,
    lb_kind: Option<ForwardMethod>,
    persistence_timeout: Option<u32>,
    granularity: Option<(Granularity, Pos)>,
    sorry: Option<RawSorry>,
    inhibit: bool,
    quorum: u32,
    quorum_pos: Option<Pos>,
    hysteresis: u32,
    quorum_up: Option<Script>,
    quorum_down: Option<Script>,
    alpha: bool,
    omega: bool,
    virtualhost: Option<String>,
    ha_suspend: bool,
    smtp_alert: Option<bool>,
    weight: u32,
    retry: Option<u32>,
    delay_before_retry: Option<Duration>,
    connect_timeout: Option<Duration>,
    warmup: Option<Duration>,
    rs: Vec<RawRs>,
}

// ------------------------------------------------------------------ groups

pub(crate) fn virtual_server_group(
    ctx: &mut Ctx,
    st: &Stmt,
) -> Result<VirtualServerGroup, ConfigError> {
    let name = ctx.arg(st, 0)?.text.clone();
    ctx.max_args(st, 1)?;
    let mut entries = Vec::new();
    for it in ctx.block(st)? {
        ctx.no_block(it)?;
        let first = &it.words[0];
        let at = ctx.loc(first.pos);
        if first.text == "fwmark" {
            ctx.max_args(it, 2)?;
            let mark = ctx.uint_at(it, 0, 0, u32::MAX as u64)? as u32;
            let family = match it.args().get(1) {
                None => None,
                Some(w) if w.text == "inet" => Some(Family::V4),
                Some(w) if w.text == "inet6" => Some(Family::V6),
                Some(w) => {
                    return Err(ctx.err(
                        w.pos,
                        format!("fwmark family must be inet or inet6, got '{}'", w.text),
                    ))
                }
            };
            entries.push(VsgEntry {
                kind: VsgEntryKind::FwMark { mark, family },
                at,
            });
            continue;
        }
        ctx.max_args(it, 1)?;
        let (first_ip, last_ip) = address_range(&first.text).map_err(|r| ctx.err(first.pos, r))?;
        let port = match it.args().first() {
            Some(w) => values::port("port", &w.text, true).map_err(|r| ctx.err(w.pos, r))?,
            None => 0,
        };
        entries.push(VsgEntry {
            kind: VsgEntryKind::Range {
                first: first_ip,
                last: last_ip,
                port,
            },
            at,
        });
    }
    if entries.is_empty() {
        return Err(ctx.err(
            st.pos(),
            format!("virtual_server_group {name} has no entries"),
        ));
    }
    Ok(VirtualServerGroup {
        name,
        entries,
        at: ctx.loc(st.pos()),
    })
}

/// `A`, `A-LAST` (last IPv4 octet, or last IPv6 group in hex), `A-B` and
/// `A/PREFIX` (the whole prefix; host bits must be zero).
pub(crate) fn address_range(text: &str) -> Result<(IpAddr, IpAddr), String> {
    if let Some((a, p)) = text.split_once('/') {
        let addr = values::ip("virtual_server_group address", a)?;
        let fam = Family::of(&addr);
        let len = values::prefix_len("prefix length", p, fam)?;
        if len == 0 {
            return Err(format!("prefix length of {text} must not be 0"));
        }
        return match addr {
            IpAddr::V4(v4) => {
                let bits = u32::from(v4);
                let host = if len >= 32 { 0 } else { u32::MAX >> len };
                if bits & host != 0 {
                    return Err(format!("{text} has host bits set"));
                }
                Ok((addr, IpAddr::V4((bits | host).into())))
            }
            IpAddr::V6(v6) => {
                let bits = u128::from(v6);
                let host = if len >= 128 { 0 } else { u128::MAX >> len };
                if bits & host != 0 {
                    return Err(format!("{text} has host bits set"));
                }
                Ok((addr, IpAddr::V6((bits | host).into())))
            }
        };
    }
    let Some((a, b)) = text.split_once('-') else {
        let addr = values::ip("virtual_server_group address", text)?;
        return Ok((addr, addr));
    };
    let first = values::ip("virtual_server_group address", a)?;
    let last = match first {
        IpAddr::V4(_) if b.contains('.') => {
            let end = values::ip("range end", b)?;
            if !end.is_ipv4() {
                return Err(format!("range {text} mixes address families"));
            }
            end
        }
        IpAddr::V6(_) if b.contains(':') => {
            let end = values::ip("range end", b)?;
            if !end.is_ipv6() {
                return Err(format!("range {text} mixes address families"));
            }
            end
        }
        IpAddr::V4(v4) => {
            let last = values::uint("range end", b, 0, 255)? as u8;
            let o = v4.octets();
            if last <= o[3] {
                return Err(format!("range end {last} is not above the start in {text}"));
            }
            IpAddr::V4([o[0], o[1], o[2], last].into())
        }
        IpAddr::V6(v6) => {
            let last = u16::from_str_radix(b, 16)
                .map_err(|_| format!("range end must be a hex group in {text}, got '{b}'"))?;
            let mut s = v6.segments();
            if last <= s[7] {
                return Err(format!("range end {b} is not above the start in {text}"));
            }
            s[7] = last;
            IpAddr::V6(s.into())
        }
    };
    let ordered = match (first, last) {
        (IpAddr::V4(x), IpAddr::V4(y)) => u32::from(x) <= u32::from(y),
        (IpAddr::V6(x), IpAddr::V6(y)) => u128::from(x) <= u128::from(y),
        _ => false,
    };
    if !ordered {
        return Err(format!("range end is below the start in {text}"));
    }
    Ok((first, last))
}

// ------------------------------------------------------------------ virtual_server

fn parse_lb_kind(ctx: &Ctx, st: &Stmt) -> Result<ForwardMethod, ConfigError> {
    ctx.no_block(st)?;
    let w = ctx.arg(st, 0)?;
    let method = match w.text.to_ascii_uppercase().as_str() {
        "NAT" => ForwardMethod::Masq,
        "DR" => ForwardMethod::Route,
        "TUN" => ForwardMethod::Tunnel,
        _ => {
            return Err(ctx.err(
                w.pos,
                format!("{} must be NAT, DR or TUN, got '{}'", st.keyword(), w.text),
            ))
        }
    };
    // Tunnel options: only IP-in-IP exists in rvs.
    let args = st.args();
    let mut i = 1;
    while i < args.len() {
        let a = &args[i];
        match a.text.as_str() {
            "type" if method == ForwardMethod::Tunnel => {
                let t = args
                    .get(i + 1)
                    .ok_or_else(|| ctx.err(st.end_pos(), "tunnel 'type' needs ipip, gue or gre"))?;
                match t.text.as_str() {
                    "ipip" => {}
                    "gue" | "gre" => {
                        return Err(ctx.err(
                            t.pos,
                            format!(
                                "tunnel type {} is not supported by rvs (IP-in-IP only)",
                                t.text
                            ),
                        ))
                    }
                    other => return Err(ctx.err(t.pos, format!("unknown tunnel type '{other}'"))),
                }
                i += 2;
            }
            "nocsum" if method == ForwardMethod::Tunnel => i += 1,
            "csum" | "remcsum" if method == ForwardMethod::Tunnel => {
                return Err(ctx.err(
                    a.pos,
                    "ipip tunnels have no checksum option (csum/remcsum need gue or gre)",
                ))
            }
            _ => {
                return Err(ctx.err(
                    a.pos,
                    format!(
                        "unexpected '{}' after '{} {}'",
                        a.text,
                        st.keyword(),
                        w.text
                    ),
                ))
            }
        }
    }
    Ok(method)
}

/// Port argument of virtual_server / real_server / sorry_server: absent or 0
/// means "no port", as keepalived treats them.
fn opt_port(ctx: &Ctx, st: &Stmt, i: usize) -> Result<u16, ConfigError> {
    match st.args().get(i) {
        None => Ok(0),
        Some(w) => values::port("port", &w.text, true).map_err(|r| ctx.err(w.pos, r)),
    }
}

pub(crate) fn virtual_server(ctx: &mut Ctx, st: &Stmt) -> Result<RawVs, ConfigError> {
    let first = ctx.arg(st, 0)?;
    let key = match first.text.as_str() {
        "group" => {
            ctx.max_args(st, 2)?;
            VsKey::Group(ctx.arg(st, 1)?.text.clone())
        }
        "fwmark" => {
            ctx.max_args(st, 2)?;
            VsKey::FwMark(ctx.uint_at(st, 1, 0, u32::MAX as u64)? as u32)
        }
        _ => {
            ctx.max_args(st, 2)?;
            let ip = values::ip("virtual_server address", &first.text)
                .map_err(|r| ctx.err(first.pos, r))?;
            VsKey::Addr {
                ip,
                port: opt_port(ctx, st, 1)?,
            }
        }
    };
    let mut vs = RawVs {
        key,
        pos: st.pos(),
        ip_family: None,
        protocol: None,
        delay_loop: None,
        lb_algo: None,
        flags: Vec::new(),
        ops: None,
        lb_kind: None,
        persistence_timeout: None,
        granularity: None,
        sorry: None,
        inhibit: false,
        quorum: 1,
        quorum_pos: None,
        hysteresis: 0,
        quorum_up: None,
        quorum_down: None,
        alpha: false,
        omega: false,
        virtualhost: None,
        ha_suspend: false,
        smtp_alert: None,
        weight: 1,
        retry: None,
        delay_before_retry: None,
        connect_timeout: None,
        warmup: None,
        rs: Vec::new(),
    };
    let mut sorry_inhibit: Option<Pos> = None;
    let mut sorry_method: Option<(ForwardMethod, Pos)> = None;
    for it in ctx.block(st)? {
        match it.keyword() {
            "ip_family" => {
                let w = ctx.single(it)?;
                vs.ip_family = Some(match w.text.as_str() {
                    "inet" => Family::V4,
                    "inet6" => Family::V6,
                    other => {
                        return Err(ctx.err(
                            w.pos,
                            format!("ip_family must be inet or inet6, got '{other}'"),
                        ))
                    }
                });
            }
            "retry" => vs.retry = Some(ctx.u32(it, 1, u32::MAX)?),
            "delay_before_retry" => {
                vs.delay_before_retry = Some(ctx.timer(it, Duration::ZERO, TIMER_MAX)?)
            }
            "warmup" => vs.warmup = Some(ctx.timer(it, Duration::ZERO, TIMER_MAX)?),
            "connect_timeout" => {
                vs.connect_timeout = Some(ctx.timer(it, Duration::from_micros(1), TIMER_MAX)?)
            }
            "delay_loop" => {
                vs.delay_loop = Some(ctx.timer(it, Duration::from_micros(1), TIMER_MAX)?)
            }
            "inhibit_on_failure" => vs.inhibit = ctx.flag(it)?,
            "lb_algo" | "lvs_sched" => {
                let w = ctx.single(it)?;
                vs.lb_algo = Some(scheduler(&w.text).map_err(|r| ctx.err(w.pos, r))?);
            }
            "ops" => {
                ctx.bare(it)?;
                vs.ops = Some(it.pos());
            }
            "flag-1" | "flag-2" | "flag-3" | "sh-port" | "sh-fallback" | "mh-port"
            | "mh-fallback" => {
                ctx.bare(it)?;
                vs.flags.push((it.keyword().to_string(), it.pos()));
            }
            "lb_kind" | "lvs_method" => vs.lb_kind = Some(parse_lb_kind(ctx, it)?),
            "persistence_timeout" => {
                ctx.no_block(it)?;
                ctx.max_args(it, 1)?;
                vs.persistence_timeout = Some(match it.args().first() {
                    None => DEFAULT_PERSISTENCE,
                    Some(_) => ctx.uint_at(it, 0, 1, LVS_MAX_TIMEOUT as u64)? as u32,
                });
            }
            "persistence_granularity" => {
                let w = ctx.single(it)?;
                let g = if w.text.contains('.') {
                    Granularity::V4(
                        values::netmask_v4("persistence_granularity", &w.text)
                            .map_err(|r| ctx.err(w.pos, r))?,
                    )
                } else {
                    Granularity::V6(
                        values::uint("persistence_granularity", &w.text, 1, 128)
                            .map_err(|r| ctx.err(w.pos, r))? as u8,
                    )
                };
                vs.granularity = Some((g, w.pos));
            }
            "protocol" => {
                let w = ctx.single(it)?;
                let p = match w.text.to_ascii_uppercase().as_str() {
                    "TCP" => Protocol::Tcp,
                    "UDP" => Protocol::Udp,
                    "SCTP" => return Err(ctx.err(w.pos, "protocol SCTP is not supported by rvs")),
                    _ => {
                        return Err(ctx.err(
                            w.pos,
                            format!("protocol must be TCP, UDP or SCTP, got '{}'", w.text),
                        ))
                    }
                };
                vs.protocol = Some((p, w.pos));
            }
            "ha_suspend" => {
                ctx.bare(it)?;
                vs.ha_suspend = true;
            }
            "smtp_alert" => vs.smtp_alert = Some(ctx.flag(it)?),
            "virtualhost" => vs.virtualhost = Some(ctx.string(it)?),
            "alpha" => vs.alpha = ctx.flag(it)?,
            "omega" => vs.omega = ctx.flag(it)?,
            "quorum_up" => vs.quorum_up = Some(ctx.script(it)?),
            "quorum_down" => vs.quorum_down = Some(ctx.script(it)?),
            "quorum" => {
                vs.quorum = ctx.u32(it, 1, u32::MAX)?;
                vs.quorum_pos = Some(it.pos());
            }
            "hysteresis" => vs.hysteresis = ctx.u32(it, 0, u32::MAX)?,
            "weight" => vs.weight = ctx.u32(it, 1, MAX_WEIGHT)?,
            "sorry_server" => {
                ctx.no_block(it)?;
                ctx.max_args(it, 2)?;
                vs.sorry = Some(RawSorry {
                    ip: ctx.ip_at(it, 0)?,
                    port: opt_port(ctx, it, 1)?,
                    lb_kind: None,
                    inhibit: false,
                    pos: it.pos(),
                });
            }
            "sorry_server_inhibit" => {
                ctx.bare(it)?;
                sorry_inhibit = Some(it.pos());
            }
            "sorry_server_lvs_method" => {
                sorry_method = Some((parse_lb_kind(ctx, it)?, it.pos()));
            }
            "real_server" => {
                let rs = real_server(ctx, it)?;
                vs.rs.push(rs);
            }
            _ => ctx.other(&[sec::VS], it)?,
        }
    }
    match (&mut vs.sorry, sorry_inhibit, sorry_method) {
        (Some(s), inh, m) => {
            s.inhibit = inh.is_some();
            s.lb_kind = m.map(|(k, _)| k);
        }
        (None, Some(p), _) | (None, None, Some((_, p))) => {
            return Err(ctx.err(
                p,
                "sorry_server_inhibit / sorry_server_lvs_method need a sorry_server",
            ))
        }
        (None, None, None) => {}
    }
    Ok(vs)
}

/// IPVS scheduler names, as keepalived's lb_algo / lvs_sched accept them.
fn scheduler(text: &str) -> Result<SchedulerKind, String> {
    match text {
        "twos" => Err("scheduler twos is not supported by rvs".into()),
        _ => text.parse::<SchedulerKind>().map_err(|_| {
            format!("unknown scheduler '{text}' (rr wrr lc wlc sed nq sh dh lblc lblcr mh fo ovf)")
        }),
    }
}

fn real_server(ctx: &mut Ctx, st: &Stmt) -> Result<RawRs, ConfigError> {
    ctx.max_args(st, 2)?;
    let ip = ctx.ip_at(st, 0)?;
    let port = opt_port(ctx, st, 1)?;
    let mut rs = RawRs {
        ip,
        port,
        pos: st.pos(),
        weight: None,
        lb_kind: None,
        uthreshold: 0,
        lthreshold: 0,
        inhibit: None,
        notify_up: None,
        notify_down: None,
        alpha: None,
        retry: None,
        delay_before_retry: None,
        warmup: None,
        connect_timeout: None,
        delay_loop: None,
        virtualhost: None,
        smtp_alert: None,
        checkers: Vec::new(),
    };
    for it in ctx.block(st)? {
        let kw = it.keyword();
        if CHECKER_KEYWORDS.contains(&kw) {
            rs.checkers.extend(check::parse_checker(ctx, it)?);
            continue;
        }
        match kw {
            "weight" => rs.weight = Some(ctx.u32(it, 0, MAX_WEIGHT)?),
            "lvs_method" | "lb_kind" => rs.lb_kind = Some(parse_lb_kind(ctx, it)?),
            "uthreshold" => rs.uthreshold = ctx.u32(it, 0, u32::MAX)?,
            "lthreshold" => rs.lthreshold = ctx.u32(it, 0, u32::MAX)?,
            "inhibit_on_failure" => rs.inhibit = Some(ctx.flag(it)?),
            "notify_up" => rs.notify_up = Some(ctx.script(it)?),
            "notify_down" => rs.notify_down = Some(ctx.script(it)?),
            "alpha" => rs.alpha = Some(ctx.flag(it)?),
            "retry" => rs.retry = Some(ctx.u32(it, 1, u32::MAX)?),
            "delay_before_retry" => {
                rs.delay_before_retry = Some(ctx.timer(it, Duration::ZERO, TIMER_MAX)?)
            }
            "warmup" => rs.warmup = Some(ctx.timer(it, Duration::ZERO, TIMER_MAX)?),
            "connect_timeout" => {
                rs.connect_timeout = Some(ctx.timer(it, Duration::from_micros(1), TIMER_MAX)?)
            }
            "delay_loop" => {
                rs.delay_loop = Some(ctx.timer(it, Duration::from_micros(1), TIMER_MAX)?)
            }
            "smtp_alert" => rs.smtp_alert = Some(ctx.flag(it)?),
            "virtualhost" => rs.virtualhost = Some(ctx.string(it)?),
            _ => ctx.other(&[sec::RS], it)?,
        }
    }
    Ok(rs)
}

// ------------------------------------------------------------------ resolution

/// Turn the parsed virtual servers into the model, applying keepalived's
/// defaults and checks. Virtual servers without real servers are dropped
/// with a warning, as keepalived does.
pub(crate) fn resolve_all(
    ctx: &mut Ctx,
    raws: Vec<RawVs>,
    groups: &[VirtualServerGroup],
    global: &GlobalDefs,
) -> Result<Vec<VirtualServer>, ConfigError> {
    let mut out: Vec<VirtualServer> = Vec::new();
    let mut seen: HashSet<(VsKey, Protocol)> = HashSet::new();
    for raw in raws {
        let Some(vs) = resolve(ctx, raw, groups, global)? else {
            continue;
        };
        let proto = match vs.key {
            VsKey::FwMark(_) => Protocol::Tcp,
            _ => vs.protocol,
        };
        if !seen.insert((vs.key.clone(), proto)) {
            let what = match &vs.key {
                VsKey::Addr { ip, port } => format!("{} {ip} port {port}", vs.protocol.ipvs_name()),
                VsKey::FwMark(m) => format!("fwmark {m}"),
                VsKey::Group(g) => format!("group {g} ({})", vs.protocol.ipvs_name()),
            };
            return Err(ConfigError::new(
                vs.at.clone(),
                format!("duplicate virtual_server: {what} is already defined"),
            ));
        }
        out.push(vs);
    }
    Ok(out)
}

fn resolve(
    ctx: &mut Ctx,
    raw: RawVs,
    groups: &[VirtualServerGroup],
    global: &GlobalDefs,
) -> Result<Option<VirtualServer>, ConfigError> {
    let pos = raw.pos;
    let group = match &raw.key {
        VsKey::Group(name) => Some(groups.iter().find(|g| &g.name == name).ok_or_else(|| {
            ctx.err(
                pos,
                format!("virtual_server group {name}: no virtual_server_group {name} is defined"),
            )
        })?),
        _ => None,
    };
    let has_addresses = match &raw.key {
        VsKey::Addr { .. } => true,
        VsKey::FwMark(_) => false,
        VsKey::Group(_) => group.is_some_and(|g| {
            g.entries
                .iter()
                .any(|e| matches!(e.kind, VsgEntryKind::Range { .. }))
        }),
    };

    if raw.rs.is_empty() {
        ctx.warn(
            pos,
            "virtual_server has no real_server: ignored (as keepalived does)",
        );
        return Ok(None);
    }

    // Protocol: keepalived defaults to UDP (what the kernel does with 0).
    let protocol = match raw.protocol {
        Some((p, ppos)) => {
            if !has_addresses {
                ctx.warn(
                    ppos,
                    "protocol is ignored for a firewall-mark virtual_server",
                );
            }
            p
        }
        None if has_addresses => {
            ctx.warn(
                pos,
                "virtual_server has no protocol: using UDP, as keepalived does",
            );
            Protocol::Udp
        }
        None => Protocol::Tcp,
    };

    // Scheduler and its flags.
    let lb_algo = match raw.lb_algo {
        Some(s) => s,
        None => {
            ctx.warn(
                pos,
                "virtual_server has no lb_algo: using wlc, as keepalived does",
            );
            SchedulerKind::Wlc
        }
    };
    let mut sched_flags = SchedFlags::default();
    for (flag, fpos) in &raw.flags {
        let needs = match flag.as_str() {
            "sh-port" | "sh-fallback" => Some(SchedulerKind::Sh),
            "mh-port" | "mh-fallback" => Some(SchedulerKind::Mh),
            _ => None,
        };
        if let Some(need) = needs {
            if lb_algo != need {
                ctx.warn(
                    *fpos,
                    format!("{flag} only applies to the {need} scheduler: ignored"),
                );
                continue;
            }
        }
        match flag.as_str() {
            "flag-1" | "sh-fallback" | "mh-fallback" => sched_flags.fallback = true,
            "flag-2" | "sh-port" | "mh-port" => sched_flags.port = true,
            _ => sched_flags.flag3 = true,
        }
    }

    let mut ops = raw.ops.is_some();
    if let Some(opos) = raw.ops {
        if has_addresses && protocol != Protocol::Udp {
            ctx.warn(opos, "ops (one-packet scheduling) needs UDP: ignored");
            ops = false;
        }
    }

    let vs_kind = match raw.lb_kind {
        Some(k) => k,
        None => {
            ctx.warn(
                pos,
                "virtual_server has no lb_kind: using NAT, as keepalived does",
            );
            ForwardMethod::Masq
        }
    };

    // Address family.
    let family = vs_family(ctx, &raw, group)?;

    let mut persistence_timeout = raw.persistence_timeout;
    let mut persistence_granularity = None;
    if let Some((g, gpos)) = raw.granularity {
        let (gf, len) = match g {
            Granularity::V4(l) => (Family::V4, l),
            Granularity::V6(l) => (Family::V6, l),
        };
        if gf != family {
            return Err(ctx.err(
                gpos,
                "persistence_granularity is not of the virtual server's address family (a netmask for IPv4, a prefix length for IPv6)",
            ));
        }
        persistence_granularity = Some(len);
        if persistence_timeout.is_none() {
            persistence_timeout = Some(DEFAULT_PERSISTENCE);
        }
    }
    let zero_port = match &raw.key {
        VsKey::Addr { port, .. } => *port == 0,
        VsKey::FwMark(_) => false,
        VsKey::Group(_) => group.is_some_and(|g| {
            g.entries
                .iter()
                .any(|e| matches!(e.kind, VsgEntryKind::Range { port: 0, .. }))
        }),
    };
    if zero_port && persistence_timeout.is_none() {
        ctx.warn(
            pos,
            "port 0 is only valid for persistent services: persistence_timeout 360 set, as keepalived does",
        );
        persistence_timeout = Some(DEFAULT_PERSISTENCE);
    }

    let vs_port = match &raw.key {
        VsKey::Addr { port, .. } => Some(*port),
        _ => None,
    };
    let is_fwmark = matches!(raw.key, VsKey::FwMark(_));

    // Real servers.
    let mut real_servers: Vec<RealServer> = Vec::new();
    let mut weight_sum: u64 = 0;
    let mut seen_rs: HashSet<(IpAddr, u16)> = HashSet::new();
    for r in &raw.rs {
        let lb_kind = r.lb_kind.unwrap_or(vs_kind);
        if Family::of(&r.ip) != family {
            return Err(ctx.err(
                r.pos,
                format!(
                    "real_server {} is {} but the virtual server is {}: rvs does not mix address families",
                    r.ip,
                    fam_name(Family::of(&r.ip)),
                    fam_name(family)
                ),
            ));
        }
        let port = fix_port(
            ctx,
            r.pos,
            "real_server",
            r.port,
            lb_kind,
            vs_port,
            is_fwmark,
        );
        if !seen_rs.insert((r.ip, port)) {
            return Err(ctx.err(
                r.pos,
                format!(
                    "duplicate real_server {} port {port} in this virtual_server",
                    r.ip
                ),
            ));
        }
        let weight = r.weight.unwrap_or(raw.weight);
        weight_sum += weight as u64;
        let inh = Inherited {
            retry: r.retry.or(raw.retry),
            delay_before_retry: r.delay_before_retry.or(raw.delay_before_retry),
            connect_timeout: r
                .connect_timeout
                .or(raw.connect_timeout)
                .unwrap_or(DEFAULT_CONNECT_TIMEOUT),
            warmup: r.warmup.or(raw.warmup),
            delay_loop: r
                .delay_loop
                .or(raw.delay_loop)
                .unwrap_or(DEFAULT_DELAY_LOOP),
            alpha: r.alpha.unwrap_or(raw.alpha),
            log_all_failures: global.checker_log_all_failures,
            virtualhost: r.virtualhost.as_ref().or(raw.virtualhost.as_ref()),
        };
        let checkers = r.checkers.iter().map(|c| check::resolve(c, &inh)).collect();
        real_servers.push(RealServer {
            ip: r.ip,
            port,
            at: ctx.loc(r.pos),
            name: None,
            active: true,
            weight,
            lb_kind,
            uthreshold: r.uthreshold,
            lthreshold: r.lthreshold,
            inhibit_on_failure: r.inhibit.unwrap_or(raw.inhibit),
            notify_up: r.notify_up.clone(),
            notify_down: r.notify_down.clone(),
            alpha: r.alpha.unwrap_or(raw.alpha),
            virtualhost: r.virtualhost.clone(),
            smtp_alert: r.smtp_alert,
            checkers,
        });
    }

    let sorry_server = match &raw.sorry {
        None => None,
        Some(s) => {
            if Family::of(&s.ip) != family {
                return Err(ctx.err(
                    s.pos,
                    format!(
                        "sorry_server {} is {} but the virtual server is {}",
                        s.ip,
                        fam_name(Family::of(&s.ip)),
                        fam_name(family)
                    ),
                ));
            }
            let lb_kind = s.lb_kind.unwrap_or(vs_kind);
            let port = fix_port(
                ctx,
                s.pos,
                "sorry_server",
                s.port,
                lb_kind,
                vs_port,
                is_fwmark,
            );
            Some(SorryServer {
                ip: s.ip,
                port,
                lb_kind,
                inhibit: s.inhibit,
            })
        }
    };

    // Quorum limits, corrected as keepalived corrects them.
    let mut quorum = raw.quorum;
    if (quorum as u64) > weight_sum {
        let at = raw.quorum_pos.unwrap_or(pos);
        ctx.warn(
            at,
            format!("quorum {quorum} exceeds the total weight {weight_sum} of the real servers: using {weight_sum}"),
        );
        quorum = weight_sum as u32;
    }
    let mut hysteresis = raw.hysteresis;
    if hysteresis >= quorum && hysteresis > 0 {
        let fixed = quorum.saturating_sub(1);
        ctx.warn(
            pos,
            format!("hysteresis {hysteresis} >= quorum {quorum}: using {fixed}"),
        );
        hysteresis = fixed;
    }

    let mut ha_suspend = raw.ha_suspend;
    if ha_suspend && !has_addresses {
        ctx.warn(
            pos,
            "ha_suspend cannot be used with firewall marks: ignored",
        );
        ha_suspend = false;
    }

    Ok(Some(VirtualServer {
        key: raw.key,
        protocol,
        at: ctx.loc(pos),
        name: None,
        active: true,
        family,
        delay_loop: raw.delay_loop.unwrap_or(DEFAULT_DELAY_LOOP),
        lb_algo,
        sched_flags,
        ops,
        lb_kind: vs_kind,
        persistence_timeout,
        persistence_granularity,
        sorry_server,
        inhibit_on_failure: raw.inhibit,
        quorum,
        hysteresis,
        quorum_up: raw.quorum_up,
        quorum_down: raw.quorum_down,
        alpha: raw.alpha,
        omega: raw.omega,
        virtualhost: raw.virtualhost,
        ha_suspend,
        smtp_alert: raw.smtp_alert,
        weight: raw.weight,
        retry: raw.retry,
        delay_before_retry: raw.delay_before_retry,
        connect_timeout: raw.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT),
        warmup: raw.warmup,
        vip_interface: None,
        real_servers,
    }))
}

fn fam_name(f: Family) -> &'static str {
    match f {
        Family::V4 => "IPv4",
        Family::V6 => "IPv6",
    }
}

/// NAT keeps its port (an absent one takes the virtual server's); DR and TUN
/// cannot change the port, so theirs becomes the virtual server's (0 for
/// firewall marks), with a warning when a different one was written.
fn fix_port(
    ctx: &mut Ctx,
    pos: Pos,
    what: &str,
    port: u16,
    kind: ForwardMethod,
    vs_port: Option<u16>,
    is_fwmark: bool,
) -> u16 {
    if kind == ForwardMethod::Masq {
        return match vs_port {
            Some(vp) if port == 0 => vp,
            _ => port,
        };
    }
    if is_fwmark {
        if port != 0 {
            ctx.warn(
                pos,
                format!("{what} port {port} is ignored: DR/TUN real servers of a firewall mark take the packet's port"),
            );
        }
        return 0;
    }
    match vs_port {
        Some(vp) => {
            if port != 0 && port != vp {
                ctx.warn(
                    pos,
                    format!("{what} port {port} differs from the virtual server's {vp}: DR/TUN cannot change ports, using {vp}"),
                );
            }
            vp
        }
        // Groups: each member service sets the port when it is expanded.
        None => port,
    }
}

fn vs_family(
    ctx: &Ctx,
    raw: &RawVs,
    group: Option<&VirtualServerGroup>,
) -> Result<Family, ConfigError> {
    let from_key = match &raw.key {
        VsKey::Addr { ip, .. } => Some(Family::of(ip)),
        VsKey::FwMark(_) => None,
        VsKey::Group(_) => {
            let mut fam: Option<Family> = None;
            if let Some(g) = group {
                for e in &g.entries {
                    let f = match &e.kind {
                        VsgEntryKind::Range { first, .. } => Some(Family::of(first)),
                        VsgEntryKind::FwMark { family, .. } => *family,
                    };
                    match (fam, f) {
                        (Some(a), Some(b)) if a != b => {
                            return Err(ConfigError::new(
                                e.at.clone(),
                                format!(
                                    "virtual_server_group {} mixes IPv4 and IPv6: rvs does not tunnel across address families",
                                    g.name
                                ),
                            ))
                        }
                        (None, Some(b)) => fam = Some(b),
                        _ => {}
                    }
                }
            }
            fam
        }
    };
    if let (Some(k), Some(f)) = (from_key, raw.ip_family) {
        if k != f {
            return Err(ctx.err(
                raw.pos,
                "ip_family conflicts with the virtual server's addresses",
            ));
        }
    }
    let granularity = raw.granularity.map(|(g, _)| match g {
        Granularity::V4(_) => Family::V4,
        Granularity::V6(_) => Family::V6,
    });
    Ok(from_key
        .or(raw.ip_family)
        .or(granularity)
        .or_else(|| raw.rs.first().map(|r| Family::of(&r.ip)))
        .or_else(|| raw.sorry.as_ref().map(|s| Family::of(&s.ip)))
        .unwrap_or(Family::V4))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(t: &str) -> Result<(String, String), String> {
        address_range(t).map(|(a, b)| (a.to_string(), b.to_string()))
    }

    #[test]
    fn group_ranges_take_keepalived_forms() {
        let r = |a: &str, b: &str| Ok((a.to_string(), b.to_string()));
        assert_eq!(range("192.0.2.1"), r("192.0.2.1", "192.0.2.1"));
        assert_eq!(range("192.0.2.3-10"), r("192.0.2.3", "192.0.2.10"));
        assert_eq!(
            range("192.0.2.250-192.0.3.10"),
            r("192.0.2.250", "192.0.3.10")
        );
        assert_eq!(range("192.0.2.8/29"), r("192.0.2.8", "192.0.2.15"));
        assert_eq!(range("2001:db8::2-a"), r("2001:db8::2", "2001:db8::a"));
        assert_eq!(range("2001:db8::/126"), r("2001:db8::", "2001:db8::3"));
        assert!(range("192.0.2.10-5").is_err());
        assert!(range("192.0.2.10-10").is_err());
        assert!(range("192.0.2.1/24").is_err());
        assert!(range("192.0.2.0/0").is_err());
        assert!(range("192.0.3.1-192.0.2.1").is_err());
        assert!(range("192.0.2.1-2001:db8::1").is_err());
        assert!(range("192.0.2.1-256").is_err());
        assert!(range("2001:db8::2-xyz").is_err());
    }
}
