//! keepalived's VRRP blocks: `vrrp_instance` (with `authentication`,
//! `virtual_ipaddress`, tracking and notify scripts), `vrrp_sync_group` and
//! `vrrp_script`, and the cross references between them.

use std::collections::HashSet;
use std::net::IpAddr;
use std::time::Duration;

use rvs_core::Family;

use crate::error::ConfigError;
use crate::keepalived::ctx::{Ctx, TIMER_MAX};
use crate::keepalived::global::{ifname, DEFAULT_GARP_DELAY, DEFAULT_GARP_REPEAT};
use crate::keepalived::tree::Stmt;
use crate::keywords::section as sec;
use crate::model::{
    AuthType, Broadcast, GlobalDefs, TrackInterface, TrackScript, UnicastPeer, VirtualIpAddress,
    Vmac, VrrpAuth, VrrpInstance, VrrpScript, VrrpState, VrrpSyncGroup,
};
use crate::source::Pos;
use crate::values;

/// An instance before the global defaults are applied.
pub(crate) struct RawInstance {
    pub inst: VrrpInstance,
    pub pos: Pos,
    vrid: Option<u8>,
    version: Option<(u8, Pos)>,
    garp_master_delay: Option<Duration>,
    garp_master_repeat: Option<u32>,
    garp_master_refresh: Option<Duration>,
    garp_master_refresh_repeat: Option<u32>,
}

pub(crate) fn vrrp_instance(ctx: &mut Ctx, st: &Stmt) -> Result<RawInstance, ConfigError> {
    let name = ctx.arg(st, 0)?.text.clone();
    ctx.max_args(st, 1)?;
    let mut inst = VrrpInstance {
        name,
        at: ctx.loc(st.pos()),
        state: VrrpState::Backup,
        interface: None,
        virtual_router_id: 0,
        priority: 100,
        advert_int: Duration::from_secs(1),
        version: 2,
        authentication: None,
        virtual_ipaddress: Vec::new(),
        virtual_ipaddress_excluded: Vec::new(),
        mcast_src_ip: None,
        unicast_src_ip: None,
        unicast_peer: Vec::new(),
        mcast_dst_ip: None,
        unicast_ttl: None,
        nopreempt: false,
        preempt_delay: Duration::ZERO,
        garp_master_delay: DEFAULT_GARP_DELAY,
        garp_master_repeat: DEFAULT_GARP_REPEAT,
        garp_master_refresh: None,
        garp_master_refresh_repeat: 1,
        garp_lower_prio_delay: None,
        garp_lower_prio_repeat: None,
        track_interface: Vec::new(),
        track_script: Vec::new(),
        dont_track_primary: false,
        notify_master: None,
        notify_backup: None,
        notify_fault: None,
        notify_stop: None,
        notify: None,
        smtp_alert: None,
        use_vmac: None,
        vmac_xmit_base: false,
        accept: None,
        strict_mode: false,
        check_unicast_src: false,
        skip_check_adv_addr: false,
        down_timer_adverts: None,
    };
    let mut raw = RawInstance {
        inst: inst.clone(),
        pos: st.pos(),
        vrid: None,
        version: None,
        garp_master_delay: None,
        garp_master_repeat: None,
        garp_master_refresh: None,
        garp_master_refresh_repeat: None,
    };
    for it in ctx.block(st)? {
        match it.keyword() {
            "state" => {
                let w = ctx.single(it)?;
                inst.state = match w.text.as_str() {
                    "MASTER" => VrrpState::Master,
                    "BACKUP" => VrrpState::Backup,
                    other => {
                        return Err(ctx.err(
                            w.pos,
                            format!("state must be MASTER or BACKUP, got '{other}'"),
                        ))
                    }
                };
            }
            "interface" => inst.interface = Some(ifname(ctx, it)?),
            "virtual_router_id" => raw.vrid = Some(ctx.u32(it, 1, 255)? as u8),
            "priority" => inst.priority = ctx.u32(it, 1, 255)? as u8,
            "advert_int" => {
                inst.advert_int =
                    ctx.timer(it, Duration::from_millis(10), Duration::from_secs(255))?
            }
            "version" => raw.version = Some((ctx.u32(it, 2, 3)? as u8, it.pos())),
            "native_ipv6" => ctx.bare(it)?,
            "authentication" => inst.authentication = Some(authentication(ctx, it)?),
            "virtual_ipaddress" => inst.virtual_ipaddress = vips(ctx, it)?,
            "virtual_ipaddress_excluded" => inst.virtual_ipaddress_excluded = vips(ctx, it)?,
            "mcast_src_ip" => inst.mcast_src_ip = Some(ctx.ip(it)?),
            "unicast_src_ip" => inst.unicast_src_ip = Some(ctx.ip(it)?),
            "mcast_dst_ip" => {
                let a = ctx.ip(it)?;
                if !a.is_multicast() {
                    return Err(ctx.err(
                        it.args()[0].pos,
                        format!("mcast_dst_ip {a} is not multicast"),
                    ));
                }
                inst.mcast_dst_ip = Some(a);
            }
            "unicast_ttl" => inst.unicast_ttl = Some(ctx.u32(it, 0, 255)? as u8),
            "unicast_peer" => inst.unicast_peer = unicast_peers(ctx, it)?,
            "nopreempt" => {
                ctx.bare(it)?;
                inst.nopreempt = true;
            }
            "preempt" => {
                ctx.bare(it)?;
                inst.nopreempt = false;
            }
            "preempt_delay" => {
                inst.preempt_delay = ctx.timer(it, Duration::ZERO, Duration::from_secs(1000))?
            }
            "garp_master_delay" => {
                raw.garp_master_delay = Some(ctx.seconds(it, 0, u32::MAX as u64)?)
            }
            "garp_master_repeat" => {
                let v = ctx.u32(it, 0, u32::MAX)?;
                if v == 0 {
                    ctx.warn(it.pos(), "garp_master_repeat must be at least 1, using 1");
                }
                raw.garp_master_repeat = Some(v.max(1));
            }
            "garp_master_refresh" => {
                raw.garp_master_refresh = Some(ctx.seconds(it, 0, u32::MAX as u64)?)
            }
            "garp_master_refresh_repeat" => {
                let v = ctx.u32(it, 0, u32::MAX)?;
                raw.garp_master_refresh_repeat = Some(v.max(1));
            }
            "garp_lower_prio_delay" => {
                inst.garp_lower_prio_delay = Some(ctx.seconds(it, 0, u32::MAX as u64)?)
            }
            "garp_lower_prio_repeat" => {
                inst.garp_lower_prio_repeat = Some(ctx.u32(it, 0, u32::MAX)?)
            }
            "track_interface" => inst.track_interface = track_interfaces(ctx, it)?,
            "track_script" => inst.track_script = track_scripts(ctx, it)?,
            "dont_track_primary" => {
                ctx.bare(it)?;
                inst.dont_track_primary = true;
            }
            "notify_master" => inst.notify_master = Some(ctx.script(it)?),
            "notify_backup" => inst.notify_backup = Some(ctx.script(it)?),
            "notify_fault" => inst.notify_fault = Some(ctx.script(it)?),
            "notify_stop" => inst.notify_stop = Some(ctx.script(it)?),
            "notify" => inst.notify = Some(ctx.script(it)?),
            "smtp_alert" => inst.smtp_alert = Some(ctx.flag(it)?),
            "use_vmac" => inst.use_vmac = Some(use_vmac(ctx, it)?),
            "vmac_xmit_base" => {
                ctx.bare(it)?;
                inst.vmac_xmit_base = true;
            }
            "accept" => {
                ctx.bare(it)?;
                inst.accept = Some(true);
            }
            "no_accept" => {
                ctx.bare(it)?;
                inst.accept = Some(false);
            }
            "strict_mode" => inst.strict_mode = ctx.flag(it)?,
            "check_unicast_src" => {
                ctx.bare(it)?;
                inst.check_unicast_src = true;
            }
            "skip_check_adv_addr" => inst.skip_check_adv_addr = ctx.flag(it)?,
            "down_timer_adverts" => inst.down_timer_adverts = Some(ctx.u32(it, 1, 100)?),
            _ => ctx.other(&[sec::VRRP], it)?,
        }
    }
    raw.inst = inst;
    Ok(raw)
}

fn authentication(ctx: &mut Ctx, st: &Stmt) -> Result<VrrpAuth, ConfigError> {
    ctx.max_args(st, 0)?;
    let mut auth_type = None;
    let mut auth_pass = None;
    for it in ctx.block(st)? {
        match it.keyword() {
            "auth_type" => {
                let w = ctx.single(it)?;
                auth_type = Some(match w.text.as_str() {
                    "PASS" => AuthType::Pass,
                    "AH" => AuthType::Ah,
                    other => {
                        return Err(ctx.err(
                            w.pos,
                            format!("auth_type must be PASS or AH, got '{other}'"),
                        ))
                    }
                });
            }
            "auth_pass" => {
                let w = ctx.single(it)?;
                let mut pass = w.text.clone();
                if pass.len() > 8 {
                    ctx.warn(
                        w.pos,
                        "auth_pass is longer than 8 characters: only the first 8 are used",
                    );
                    let mut cut = 8;
                    while !pass.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    pass.truncate(cut);
                }
                auth_pass = Some(pass);
            }
            _ => ctx.other(&[sec::AUTH], it)?,
        }
    }
    let auth_type = auth_type.ok_or_else(|| ctx.err(st.pos(), "authentication needs auth_type"))?;
    Ok(VrrpAuth {
        auth_type,
        auth_pass: auth_pass.unwrap_or_default(),
    })
}

/// `virtual_ipaddress { ADDR[/LEN] [brd X] [dev X] [scope X] [label X] ... }`.
fn vips(ctx: &mut Ctx, st: &Stmt) -> Result<Vec<VirtualIpAddress>, ConfigError> {
    ctx.max_args(st, 0)?;
    let mut out = Vec::new();
    for it in ctx.block(st)? {
        ctx.no_block(it)?;
        let w = &it.words[0];
        let (addr, prefix_len) =
            values::addr_prefix("virtual_ipaddress", &w.text).map_err(|r| ctx.err(w.pos, r))?;
        let mut v = VirtualIpAddress {
            addr,
            prefix_len,
            brd: None,
            dev: None,
            label: None,
            scope: None,
            peer: None,
            no_track: false,
            use_vmac: false,
            flags: Vec::new(),
        };
        let args = it.args();
        let mut i = 0;
        while i < args.len() {
            let a = &args[i];
            let value = || {
                args.get(i + 1)
                    .ok_or_else(|| ctx.err(it.end_pos(), format!("'{}' needs a value", a.text)))
            };
            match a.text.as_str() {
                "brd" | "broadcast" => {
                    let b = value()?;
                    v.brd = Some(match b.text.as_str() {
                        "+" => Broadcast::SetHostBits,
                        "-" => Broadcast::ClearHostBits,
                        t => Broadcast::Addr(values::ip("brd", t).map_err(|r| ctx.err(b.pos, r))?),
                    });
                    i += 2;
                }
                "dev" => {
                    v.dev = Some(value()?.text.clone());
                    i += 2;
                }
                "label" => {
                    v.label = Some(value()?.text.clone());
                    i += 2;
                }
                "scope" => {
                    let s = value()?;
                    if !matches!(
                        s.text.as_str(),
                        "site" | "link" | "host" | "nowhere" | "global"
                    ) && values::uint("scope", &s.text, 0, 255).is_err()
                    {
                        return Err(ctx.err(
                            s.pos,
                            format!(
                                "scope must be site, link, host, nowhere or global, got '{}'",
                                s.text
                            ),
                        ));
                    }
                    v.scope = Some(s.text.clone());
                    i += 2;
                }
                "peer" => {
                    let p = value()?;
                    v.peer = Some(
                        values::addr_prefix("peer", &p.text)
                            .map_err(|r| ctx.err(p.pos, r))?
                            .0,
                    );
                    i += 2;
                }
                "preferred_lft" | "track_group" => {
                    let val = value()?;
                    v.flags.push(format!("{} {}", a.text, val.text));
                    i += 2;
                }
                "no_track" => {
                    v.no_track = true;
                    i += 1;
                }
                "use_vmac" => {
                    v.use_vmac = true;
                    i += 1;
                }
                "home" | "-nodad" | "nodad" | "mngtmpaddr" | "noprefixroute" | "autojoin" => {
                    v.flags.push(a.text.clone());
                    i += 1;
                }
                other => {
                    return Err(
                        ctx.err(a.pos, format!("unknown virtual_ipaddress option '{other}'"))
                    )
                }
            }
        }
        out.push(v);
    }
    Ok(out)
}

fn unicast_peers(ctx: &mut Ctx, st: &Stmt) -> Result<Vec<UnicastPeer>, ConfigError> {
    ctx.max_args(st, 0)?;
    let mut out = Vec::new();
    for it in ctx.block(st)? {
        ctx.no_block(it)?;
        let w = &it.words[0];
        let addr = values::ip("unicast_peer", &w.text).map_err(|r| ctx.err(w.pos, r))?;
        let mut p = UnicastPeer {
            addr,
            min_ttl: None,
            max_ttl: None,
        };
        let args = it.args();
        let mut i = 0;
        while i < args.len() {
            let a = &args[i];
            let v = args
                .get(i + 1)
                .ok_or_else(|| ctx.err(it.end_pos(), format!("'{}' needs a value", a.text)))?;
            let ttl = values::uint(&a.text, &v.text, 0, 255).map_err(|r| ctx.err(v.pos, r))? as u8;
            match a.text.as_str() {
                "min_ttl" => p.min_ttl = Some(ttl),
                "max_ttl" => p.max_ttl = Some(ttl),
                other => {
                    return Err(ctx.err(a.pos, format!("unknown unicast_peer option '{other}'")))
                }
            }
            i += 2;
        }
        out.push(p);
    }
    Ok(out)
}

/// `use_vmac [[name] NAME] [MAC] [netlink_notify_msg] [group ID]`.
fn use_vmac(ctx: &Ctx, st: &Stmt) -> Result<Vmac, ConfigError> {
    ctx.no_block(st)?;
    let mut v = Vmac {
        name: None,
        mac: None,
    };
    let args = st.args();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        match a.text.as_str() {
            "name" => {
                v.name = Some(
                    args.get(i + 1)
                        .ok_or_else(|| ctx.err(st.end_pos(), "use_vmac name needs a value"))?
                        .text
                        .clone(),
                );
                i += 2;
            }
            "group" => i += 2,
            "netlink_notify_msg" => i += 1,
            t if t.contains(':') => {
                v.mac = Some(t.to_string());
                i += 1;
            }
            t if v.name.is_none() => {
                v.name = Some(t.to_string());
                i += 1;
            }
            t => return Err(ctx.err(a.pos, format!("unexpected '{t}' after use_vmac"))),
        }
    }
    Ok(v)
}

/// Lines of `IFACE [weight N [reverse]]`.
pub(crate) fn track_interfaces(
    ctx: &mut Ctx,
    st: &Stmt,
) -> Result<Vec<TrackInterface>, ConfigError> {
    ctx.max_args(st, 0)?;
    let mut out = Vec::new();
    for it in ctx.block(st)? {
        ctx.no_block(it)?;
        let (weight, reverse) = weight_opts(ctx, it)?;
        out.push(TrackInterface {
            name: it.words[0].text.clone(),
            weight: weight.unwrap_or(0),
            reverse: reverse.unwrap_or(false),
        });
    }
    Ok(out)
}

/// Lines of `SCRIPT [weight N [reverse|noreverse]]`.
pub(crate) fn track_scripts(ctx: &mut Ctx, st: &Stmt) -> Result<Vec<TrackScript>, ConfigError> {
    ctx.max_args(st, 0)?;
    let mut out = Vec::new();
    for it in ctx.block(st)? {
        ctx.no_block(it)?;
        let (weight, reverse) = weight_opts(ctx, it)?;
        out.push(TrackScript {
            name: it.words[0].text.clone(),
            weight,
            reverse,
        });
    }
    Ok(out)
}

fn weight_opts(ctx: &Ctx, it: &Stmt) -> Result<(Option<i32>, Option<bool>), ConfigError> {
    let args = it.args();
    let mut weight = None;
    let mut reverse = None;
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        match a.text.as_str() {
            "weight" => {
                let v = args
                    .get(i + 1)
                    .ok_or_else(|| ctx.err(it.end_pos(), "'weight' needs a value"))?;
                weight = Some(
                    values::int("weight", &v.text, -253, 253).map_err(|r| ctx.err(v.pos, r))?
                        as i32,
                );
                i += 2;
            }
            "reverse" => {
                reverse = Some(true);
                i += 1;
            }
            "noreverse" => {
                reverse = Some(false);
                i += 1;
            }
            other => return Err(ctx.err(a.pos, format!("unexpected '{other}' in a tracking line"))),
        }
    }
    Ok((weight, reverse))
}

pub(crate) fn vrrp_sync_group(ctx: &mut Ctx, st: &Stmt) -> Result<VrrpSyncGroup, ConfigError> {
    let name = ctx.arg(st, 0)?.text.clone();
    ctx.max_args(st, 1)?;
    let mut g = VrrpSyncGroup {
        name,
        at: ctx.loc(st.pos()),
        group: Vec::new(),
        track_interface: Vec::new(),
        track_script: Vec::new(),
        notify_master: None,
        notify_backup: None,
        notify_fault: None,
        notify_stop: None,
        notify: None,
        smtp_alert: None,
    };
    for it in ctx.block(st)? {
        match it.keyword() {
            "group" => {
                ctx.max_args(it, 0)?;
                for w in ctx.list_block(it)? {
                    if g.group.contains(&w.text) {
                        return Err(
                            ctx.err(w.pos, format!("{} is listed twice in the group", w.text))
                        );
                    }
                    g.group.push(w.text.clone());
                }
            }
            "track_interface" => g.track_interface = track_interfaces(ctx, it)?,
            "track_script" => g.track_script = track_scripts(ctx, it)?,
            "notify_master" => g.notify_master = Some(ctx.script(it)?),
            "notify_backup" => g.notify_backup = Some(ctx.script(it)?),
            "notify_fault" => g.notify_fault = Some(ctx.script(it)?),
            "notify_stop" => g.notify_stop = Some(ctx.script(it)?),
            "notify" => g.notify = Some(ctx.script(it)?),
            "smtp_alert" => g.smtp_alert = Some(ctx.flag(it)?),
            _ => ctx.other(&[sec::SYNC], it)?,
        }
    }
    Ok(g)
}

pub(crate) fn vrrp_script(ctx: &mut Ctx, st: &Stmt) -> Result<VrrpScript, ConfigError> {
    let name = ctx.arg(st, 0)?.text.clone();
    ctx.max_args(st, 1)?;
    let mut script = None;
    let mut user: Option<(String, Option<String>)> = None;
    let mut s = VrrpScript {
        name,
        at: ctx.loc(st.pos()),
        script: crate::model::Script {
            command: String::new(),
            user: None,
            group: None,
        },
        interval: Duration::from_secs(1),
        timeout: None,
        weight: 0,
        weight_reverse: false,
        rise: 1,
        fall: 1,
        init_fail: false,
    };
    for it in ctx.block(st)? {
        match it.keyword() {
            "script" => script = Some(ctx.script(it)?),
            "interval" => {
                let d = ctx.timer(it, Duration::ZERO, TIMER_MAX)?;
                if d.is_zero() {
                    ctx.warn(it.pos(), "vrrp_script interval must be above 0, using 1");
                }
                s.interval = if d.is_zero() {
                    Duration::from_secs(1)
                } else {
                    d
                };
            }
            "timeout" => s.timeout = Some(ctx.timer(it, Duration::from_millis(1), TIMER_MAX)?),
            "weight" => {
                ctx.no_block(it)?;
                ctx.max_args(it, 2)?;
                s.weight = ctx.int_at(it, 0, -253, 253)? as i32;
                if let Some(w) = it.args().get(1) {
                    if w.text != "reverse" {
                        return Err(ctx.err(w.pos, format!("expected 'reverse', got '{}'", w.text)));
                    }
                    s.weight_reverse = true;
                }
            }
            "rise" => s.rise = ctx.u32(it, 1, i32::MAX as u32)?,
            "fall" => s.fall = ctx.u32(it, 1, i32::MAX as u32)?,
            "user" => {
                ctx.no_block(it)?;
                ctx.max_args(it, 2)?;
                user = Some((
                    ctx.arg(it, 0)?.text.clone(),
                    it.args().get(1).map(|w| w.text.clone()),
                ));
            }
            "init_fail" => {
                ctx.bare(it)?;
                s.init_fail = true;
            }
            _ => ctx.other(&[sec::SCRIPT], it)?,
        }
    }
    let Some(mut script) = script else {
        return Err(ctx.err(st.pos(), format!("vrrp_script {} needs a script", s.name)));
    };
    if let Some((u, g)) = user {
        script.user = Some(u);
        script.group = g;
    }
    s.script = script;
    Ok(s)
}

/// keepalived's rounding of the advert interval: whole seconds below 256 for
/// VRRPv2, centiseconds below 40.96 s for VRRPv3.
fn round_advert_int(version: u8, d: Duration) -> (Duration, Option<String>) {
    let micros = d.as_micros() as u64;
    let (unit, max_units, what) = if version == 2 {
        (
            1_000_000u64,
            255u64,
            "VRRPv2 advert_int is in whole seconds",
        )
    } else {
        (10_000u64, 4095u64, "VRRPv3 advert_int is in units of 10 ms")
    };
    let units = ((micros + unit / 2) / unit).clamp(1, max_units);
    let rounded = Duration::from_micros(units * unit);
    if rounded == d {
        (d, None)
    } else {
        (
            rounded,
            Some(format!("{what}: using {}", values::fmt_secs(rounded))),
        )
    }
}

/// Apply global defaults to the instances and check every cross reference.
pub(crate) fn finish(
    ctx: &mut Ctx,
    raws: Vec<RawInstance>,
    groups: &[VrrpSyncGroup],
    scripts: &[VrrpScript],
    global: &GlobalDefs,
) -> Result<Vec<VrrpInstance>, ConfigError> {
    let mut out: Vec<VrrpInstance> = Vec::new();
    let mut names = HashSet::new();
    let mut script_names = HashSet::new();
    for s in scripts {
        if !script_names.insert(s.name.as_str()) {
            return Err(ConfigError::new(
                s.at.clone(),
                format!("duplicate vrrp_script {}", s.name),
            ));
        }
    }
    for raw in raws {
        let mut inst = raw.inst;
        if !names.insert(inst.name.clone()) {
            return Err(ctx.err(raw.pos, format!("duplicate vrrp_instance {}", inst.name)));
        }
        inst.virtual_router_id = raw.vrid.ok_or_else(|| {
            ctx.err(
                raw.pos,
                format!("vrrp_instance {} needs virtual_router_id", inst.name),
            )
        })?;
        let v6 = inst
            .virtual_ipaddress
            .first()
            .is_some_and(|v| Family::of(&v.addr) == Family::V6);
        let mut fam: Option<Family> = None;
        for v in &inst.virtual_ipaddress {
            let f = Family::of(&v.addr);
            if fam.is_some_and(|x| x != f) {
                return Err(ctx.err(
                    raw.pos,
                    format!(
                        "vrrp_instance {}: virtual_ipaddress mixes IPv4 and IPv6 (put the others in virtual_ipaddress_excluded)",
                        inst.name
                    ),
                ));
            }
            fam = Some(f);
        }
        inst.version = match raw.version {
            Some((2, vpos)) if v6 => {
                return Err(ctx.err(vpos, "VRRP version 2 cannot carry IPv6 addresses"))
            }
            Some((v, _)) => v,
            None if v6 => 3,
            None => global.vrrp_version.unwrap_or(2),
        };
        let (advert_int, fixed) = round_advert_int(inst.version, inst.advert_int);
        if let Some(why) = fixed {
            ctx.warn(raw.pos, format!("vrrp_instance {}: {why}", inst.name));
        }
        inst.advert_int = advert_int;
        inst.garp_master_delay = raw
            .garp_master_delay
            .or(global.vrrp_garp_master_delay)
            .unwrap_or(DEFAULT_GARP_DELAY);
        inst.garp_master_repeat = raw
            .garp_master_repeat
            .or(global.vrrp_garp_master_repeat)
            .unwrap_or(DEFAULT_GARP_REPEAT);
        inst.garp_master_refresh = raw
            .garp_master_refresh
            .or(global.vrrp_garp_master_refresh)
            .filter(|d| !d.is_zero());
        inst.garp_master_refresh_repeat = raw
            .garp_master_refresh_repeat
            .or(global.vrrp_garp_master_refresh_repeat)
            .unwrap_or(1);
        if inst.garp_lower_prio_delay.is_none() {
            inst.garp_lower_prio_delay = global.vrrp_garp_lower_prio_delay;
        }
        if inst.garp_lower_prio_repeat.is_none() {
            inst.garp_lower_prio_repeat = global.vrrp_garp_lower_prio_repeat;
        }
        if global.vrrp_strict {
            inst.strict_mode = true;
        }
        for t in &inst.track_script {
            if !script_names.contains(t.name.as_str()) {
                return Err(ctx.err(
                    raw.pos,
                    format!(
                        "vrrp_instance {} tracks unknown vrrp_script {}",
                        inst.name, t.name
                    ),
                ));
            }
        }
        if let (Some(IpAddr::V4(_)), Some(IpAddr::V6(_)))
        | (Some(IpAddr::V6(_)), Some(IpAddr::V4(_))) = (
            inst.unicast_src_ip,
            inst.unicast_peer.first().map(|p| p.addr),
        ) {
            return Err(ctx.err(
                raw.pos,
                format!(
                    "vrrp_instance {}: unicast_src_ip and unicast_peer are of different families",
                    inst.name
                ),
            ));
        }
        out.push(inst);
    }
    let mut member_of: Vec<(&str, &str)> = Vec::new();
    for g in groups {
        for m in &g.group {
            if !out.iter().any(|i| &i.name == m) {
                return Err(ConfigError::new(
                    g.at.clone(),
                    format!("vrrp_sync_group {} names unknown vrrp_instance {m}", g.name),
                ));
            }
            if let Some((_, other)) = member_of.iter().find(|(i, _)| i == m) {
                return Err(ConfigError::new(
                    g.at.clone(),
                    format!(
                        "vrrp_instance {m} is in both vrrp_sync_group {other} and {}",
                        g.name
                    ),
                ));
            }
            member_of.push((m.as_str(), g.name.as_str()));
        }
        for t in &g.track_script {
            if !script_names.contains(t.name.as_str()) {
                return Err(ConfigError::new(
                    g.at.clone(),
                    format!(
                        "vrrp_sync_group {} tracks unknown vrrp_script {}",
                        g.name, t.name
                    ),
                ));
            }
        }
    }
    if let Some(d) = &global.lvs_sync_daemon {
        if let Some(name) = &d.instance {
            if !out.iter().any(|i| &i.name == name) {
                let at = ctx.sync_daemon_pos.unwrap_or_default();
                ctx.warn(
                    at,
                    format!("lvs_sync_daemon refers to unknown vrrp_instance {name}"),
                );
            }
        }
    }
    Ok(out)
}
