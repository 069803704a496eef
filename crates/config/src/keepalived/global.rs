//! keepalived's `global_defs` and top-level `SSL` blocks.

use std::net::IpAddr;
use std::time::Duration;

use crate::error::ConfigError;
use crate::keepalived::ctx::Ctx;
use crate::keepalived::tree::Stmt;
use crate::keywords::section as sec;
use crate::model::{FlushOnStop, GlobalDefs, LvsSyncDaemon, ScriptUser, SmtpServer, SslFiles};
use crate::values;

/// IPVS timeouts are capped at 31 days, as keepalived and ipvsadm do.
const LVS_MAX_TIMEOUT: u64 = 86400 * 31;
/// Interface names: IFNAMSIZ - 1.
const MAX_IFNAME: usize = 15;

pub(crate) fn global_defs(ctx: &mut Ctx, g: &mut GlobalDefs, st: &Stmt) -> Result<(), ConfigError> {
    ctx.max_args(st, 0)?;
    for it in ctx.block(st)? {
        match it.keyword() {
            "router_id" | "lvs_id" => g.router_id = Some(ctx.string(it)?),
            "notification_email" => {
                ctx.max_args(it, 0)?;
                g.notification_email = ctx
                    .list_block(it)?
                    .into_iter()
                    .map(|w| w.text.clone())
                    .collect();
            }
            "notification_email_from" => g.notification_email_from = Some(ctx.string(it)?),
            "smtp_server" => {
                ctx.no_block(it)?;
                ctx.max_args(it, 2)?;
                let host = ctx.arg(it, 0)?.text.clone();
                let port = match it.args().get(1) {
                    Some(_) => ctx.port_at(it, 1, false)?,
                    None => 25,
                };
                g.smtp_server = Some(SmtpServer { host, port });
            }
            "smtp_helo_name" => g.smtp_helo_name = Some(ctx.string(it)?),
            "smtp_connect_timeout" => {
                g.smtp_connect_timeout = Some(ctx.seconds(it, 1, LVS_MAX_TIMEOUT)?)
            }
            "smtp_alert" => g.smtp_alert = Some(ctx.flag(it)?),
            "smtp_alert_vrrp" => g.smtp_alert_vrrp = Some(ctx.flag(it)?),
            "smtp_alert_checker" => g.smtp_alert_checker = Some(ctx.flag(it)?),
            "checker_log_all_failures" => g.checker_log_all_failures = ctx.flag(it)?,
            "lvs_timeouts" => lvs_timeouts(ctx, g, it)?,
            "lvs_sync_daemon" => {
                g.lvs_sync_daemon = Some(lvs_sync_daemon(ctx, it)?);
                ctx.sync_daemon_pos = Some(it.pos());
            }
            "lvs_flush" => {
                ctx.bare(it)?;
                g.lvs_flush = true;
            }
            "lvs_flush_on_stop" | "lvs_flush_onstop" => {
                ctx.no_block(it)?;
                ctx.max_args(it, 1)?;
                g.lvs_flush_on_stop = Some(match it.args().first() {
                    None => FlushOnStop::All,
                    Some(w) if w.text == "VS" => FlushOnStop::VirtualServers,
                    Some(w) => {
                        return Err(ctx.err(
                            w.pos,
                            format!("lvs_flush_on_stop takes nothing or VS, got '{}'", w.text),
                        ))
                    }
                });
            }
            "vrrp_version" => g.vrrp_version = Some(ctx.uint(it, 2, 3)? as u8),
            "vrrp_mcast_group4" => match ctx.ip(it)? {
                IpAddr::V4(a) if a.is_multicast() => g.vrrp_mcast_group4 = Some(a),
                _ => {
                    return Err(ctx.err(
                        it.args()[0].pos,
                        "vrrp_mcast_group4 must be an IPv4 multicast address",
                    ))
                }
            },
            "vrrp_mcast_group6" => match ctx.ip(it)? {
                IpAddr::V6(a) if a.is_multicast() => g.vrrp_mcast_group6 = Some(a),
                _ => {
                    return Err(ctx.err(
                        it.args()[0].pos,
                        "vrrp_mcast_group6 must be an IPv6 multicast address",
                    ))
                }
            },
            "vrrp_garp_master_delay" => {
                g.vrrp_garp_master_delay = Some(ctx.seconds(it, 0, u32::MAX as u64)?)
            }
            "vrrp_garp_master_repeat" => g.vrrp_garp_master_repeat = Some(garp_repeat(ctx, it)?),
            "vrrp_garp_master_refresh" => {
                g.vrrp_garp_master_refresh = Some(ctx.seconds(it, 0, u32::MAX as u64)?)
            }
            "vrrp_garp_master_refresh_repeat" => {
                g.vrrp_garp_master_refresh_repeat = Some(garp_repeat(ctx, it)?)
            }
            "vrrp_garp_lower_prio_delay" => {
                g.vrrp_garp_lower_prio_delay = Some(ctx.seconds(it, 0, u32::MAX as u64)?)
            }
            "vrrp_garp_lower_prio_repeat" => {
                g.vrrp_garp_lower_prio_repeat = Some(ctx.u32(it, 0, u32::MAX)?)
            }
            "vrrp_strict" => {
                ctx.bare(it)?;
                g.vrrp_strict = true;
            }
            "default_interface" => g.default_interface = Some(ifname(ctx, it)?),
            "script_user" => {
                ctx.no_block(it)?;
                ctx.max_args(it, 2)?;
                g.script_user = Some(ScriptUser {
                    user: ctx.arg(it, 0)?.text.clone(),
                    group: it.args().get(1).map(|w| w.text.clone()),
                });
            }
            "enable_script_security" => {
                ctx.bare(it)?;
                g.enable_script_security = true;
            }
            "dynamic_interfaces" => {
                ctx.no_block(it)?;
                ctx.max_args(it, 1)?;
                g.dynamic_interfaces = true;
            }
            _ => ctx.other(&[sec::GLOBAL_DEFS], it)?,
        }
    }
    Ok(())
}

/// `vrrp_garp_master_repeat N`: 0 means 1, as keepalived corrects it.
fn garp_repeat(ctx: &mut Ctx, it: &Stmt) -> Result<u32, ConfigError> {
    let v = ctx.u32(it, 0, u32::MAX)?;
    if v == 0 {
        ctx.warn(
            it.pos(),
            format!("{} must be at least 1, using 1", it.keyword()),
        );
        return Ok(1);
    }
    Ok(v)
}

pub(crate) fn ifname(ctx: &Ctx, it: &Stmt) -> Result<String, ConfigError> {
    let w = ctx.single(it)?;
    if w.text.is_empty() || w.text.len() > MAX_IFNAME {
        return Err(ctx.err(
            w.pos,
            format!(
                "interface name must be 1..{MAX_IFNAME} characters, got '{}'",
                w.text
            ),
        ));
    }
    Ok(w.text.clone())
}

fn lvs_timeouts(ctx: &Ctx, g: &mut GlobalDefs, st: &Stmt) -> Result<(), ConfigError> {
    ctx.no_block(st)?;
    if st.args().is_empty() {
        return Err(ctx.err(
            st.end_pos(),
            "lvs_timeouts needs at least one of tcp N, tcpfin N, udp N",
        ));
    }
    let mut i = 0;
    while i < st.args().len() {
        let w = &st.args()[i];
        let slot = match w.text.as_str() {
            "tcp" => &mut g.lvs_timeouts.tcp,
            "tcpfin" => &mut g.lvs_timeouts.tcp_fin,
            "udp" => &mut g.lvs_timeouts.udp,
            other => {
                return Err(ctx.err(
                    w.pos,
                    format!("lvs_timeouts takes tcp, tcpfin and udp, got '{other}'"),
                ))
            }
        };
        let v = st.args().get(i + 1).ok_or_else(|| {
            ctx.err(
                st.end_pos(),
                format!("lvs_timeouts {} needs a value", w.text),
            )
        })?;
        let secs = values::uint(
            &format!("lvs_timeouts {}", w.text),
            &v.text,
            0,
            LVS_MAX_TIMEOUT,
        )
        .map_err(|r| ctx.err(v.pos, r))?;
        *slot = Some(secs as u32);
        i += 2;
    }
    Ok(())
}

fn lvs_sync_daemon(ctx: &Ctx, st: &Stmt) -> Result<LvsSyncDaemon, ConfigError> {
    ctx.no_block(st)?;
    let iface = ctx.arg(st, 0)?;
    if iface.text.len() > MAX_IFNAME {
        return Err(ctx.err(
            iface.pos,
            format!("lvs_sync_daemon interface name longer than {MAX_IFNAME} characters"),
        ));
    }
    let mut d = LvsSyncDaemon {
        interface: iface.text.clone(),
        instance: None,
        id: None,
        maxlen: None,
        port: None,
        ttl: None,
        group: None,
    };
    let args = st.args();
    let mut i = 1;
    while i < args.len() {
        let w = &args[i];
        let value = |ctx: &Ctx| {
            args.get(i + 1).ok_or_else(|| {
                ctx.err(
                    st.end_pos(),
                    format!("lvs_sync_daemon {} needs a value", w.text),
                )
            })
        };
        let what = format!("lvs_sync_daemon {}", w.text);
        match w.text.as_str() {
            "inst" => d.instance = Some(value(ctx)?.text.clone()),
            "id" => {
                let v = value(ctx)?;
                d.id = Some(
                    values::uint(&what, &v.text, 0, 255).map_err(|r| ctx.err(v.pos, r))? as u8,
                );
            }
            "maxlen" => {
                let v = value(ctx)?;
                d.maxlen = Some(
                    values::uint(&what, &v.text, 1, 65535 - 20 - 8)
                        .map_err(|r| ctx.err(v.pos, r))? as u16,
                );
            }
            "port" => {
                let v = value(ctx)?;
                d.port = Some(values::port(&what, &v.text, false).map_err(|r| ctx.err(v.pos, r))?);
            }
            "ttl" => {
                let v = value(ctx)?;
                d.ttl = Some(
                    values::uint(&what, &v.text, 1, 255).map_err(|r| ctx.err(v.pos, r))? as u8,
                );
            }
            "group" => {
                let v = value(ctx)?;
                let a = values::ip(&what, &v.text).map_err(|r| ctx.err(v.pos, r))?;
                if !a.is_multicast() {
                    return Err(ctx.err(
                        v.pos,
                        format!("lvs_sync_daemon group {a} is not a multicast address"),
                    ));
                }
                d.group = Some(a);
            }
            // Old positional form: IFACE VRRP_INSTANCE [SYNC_ID].
            _ if i == 1 => {
                d.instance = Some(w.text.clone());
                i += 1;
                continue;
            }
            _ if i == 2 && d.instance.is_some() && d.id.is_none() => {
                d.id = Some(
                    values::uint("lvs_sync_daemon sync id", &w.text, 0, 255)
                        .map_err(|r| ctx.err(w.pos, r))? as u8,
                );
                i += 1;
                continue;
            }
            other => {
                return Err(ctx.err(w.pos, format!("unknown lvs_sync_daemon option '{other}'")))
            }
        }
        i += 2;
    }
    Ok(d)
}

pub(crate) fn ssl(ctx: &mut Ctx, g: &mut GlobalDefs, st: &Stmt) -> Result<(), ConfigError> {
    ctx.max_args(st, 0)?;
    let mut files = SslFiles::default();
    for it in ctx.block(st)? {
        let slot = match it.keyword() {
            "password" => &mut files.password,
            "ca" => &mut files.ca,
            "certificate" => &mut files.certificate,
            "key" => &mut files.key,
            _ => {
                ctx.other(&[sec::SSL], it)?;
                continue;
            }
        };
        *slot = Some(ctx.string(it)?);
    }
    g.ssl = Some(files);
    Ok(())
}

/// GARP defaults (keepalived's): 5 s second burst, 5 ARPs a burst, no refresh.
pub(crate) const DEFAULT_GARP_DELAY: Duration = Duration::from_secs(5);
pub(crate) const DEFAULT_GARP_REPEAT: u32 = 5;
