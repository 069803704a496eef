//! keepalived's health checker blocks inside a real_server (TCP_CHECK,
//! HTTP_GET, SSL_GET, MISC_CHECK, DNS_CHECK, PING_CHECK, UDP_CHECK,
//! SMTP_CHECK), and the resolution of their timing defaults: the checker's own
//! value, else the real server's (which inherits the virtual server's), else
//! the checker type's keepalived default.

use std::net::IpAddr;
use std::time::Duration;

use crate::error::ConfigError;
use crate::keepalived::ctx::{Ctx, TIMER_MAX};
use crate::keepalived::tree::Stmt;
use crate::keywords::section as sec;
use crate::model::{
    CheckCommon, Checker, DnsType, HexPattern, HttpCheck, HttpMethod, HttpProtocol, Script,
    StatusRange, UrlCheck,
};
use crate::values;

/// Values a checker may leave unset, as written in its block.
#[derive(Clone, Debug, Default)]
pub(crate) struct RawCommon {
    pub connect_ip: Option<IpAddr>,
    pub connect_port: Option<u16>,
    pub bindto: Option<IpAddr>,
    pub bind_port: Option<u16>,
    pub bind_if: Option<String>,
    pub fwmark: Option<u32>,
    pub connect_timeout: Option<Duration>,
    pub retry: Option<u32>,
    pub delay_before_retry: Option<Duration>,
    pub warmup: Option<Duration>,
    pub delay_loop: Option<Duration>,
    pub alpha: Option<bool>,
    pub log_all_failures: Option<bool>,
}

#[derive(Clone, Debug)]
pub(crate) struct RawHttp {
    pub urls: Vec<UrlCheck>,
    pub virtualhost: Option<String>,
    pub http_protocol: HttpProtocol,
    pub fast_recovery: bool,
    pub enable_sni: bool,
    pub sni_name: Option<String>,
    pub tls_compliant: bool,
}

#[derive(Clone, Debug)]
pub(crate) enum RawKind {
    Tcp,
    Http {
        ssl: bool,
        http: RawHttp,
    },
    Misc {
        script: Script,
        timeout: Option<Duration>,
        dynamic: bool,
    },
    Dns {
        query_type: DnsType,
        name: String,
    },
    Ping,
    Udp {
        payload: Option<Vec<u8>>,
        require_reply: Option<Option<HexPattern>>,
        min_reply_length: u16,
        max_reply_length: u16,
    },
    Smtp {
        helo_name: Option<String>,
    },
}

#[derive(Clone, Debug)]
pub(crate) struct RawChecker {
    pub kind: RawKind,
    pub common: RawCommon,
}

/// What a checker inherits from its real server (already merged with the
/// virtual server's values).
pub(crate) struct Inherited<'a> {
    pub retry: Option<u32>,
    pub delay_before_retry: Option<Duration>,
    pub connect_timeout: Duration,
    pub warmup: Option<Duration>,
    pub delay_loop: Duration,
    pub alpha: bool,
    pub log_all_failures: bool,
    pub virtualhost: Option<&'a String>,
}

pub(crate) const CHECKER_KEYWORDS: [&str; 8] = [
    "TCP_CHECK",
    "HTTP_GET",
    "SSL_GET",
    "MISC_CHECK",
    "DNS_CHECK",
    "PING_CHECK",
    "UDP_CHECK",
    "SMTP_CHECK",
];

/// Parse one checker block (`st.keyword()` is one of [`CHECKER_KEYWORDS`]).
/// Usually one checker; SMTP_CHECK's deprecated `host { }` blocks add one
/// checker per host.
pub(crate) fn parse_checker(ctx: &mut Ctx, st: &Stmt) -> Result<Vec<RawChecker>, ConfigError> {
    ctx.max_args(st, 0)?;
    let items = ctx.block(st)?;
    let kw = st.keyword();
    let mut common = RawCommon::default();
    let connecting = kw != "MISC_CHECK";
    let specific = match kw {
        "HTTP_GET" | "SSL_GET" => sec::HTTP,
        "TCP_CHECK" => sec::TCP,
        "MISC_CHECK" => sec::MISC,
        "DNS_CHECK" => sec::DNS,
        "PING_CHECK" => sec::PING,
        "UDP_CHECK" => sec::UDP,
        _ => sec::SMTP,
    };
    let mut http = RawHttp {
        urls: Vec::new(),
        virtualhost: None,
        http_protocol: HttpProtocol::Http10,
        fast_recovery: false,
        enable_sni: false,
        sni_name: None,
        tls_compliant: false,
    };
    let mut misc_script: Option<Script> = None;
    let mut misc_timeout = None;
    let mut misc_dynamic = false;
    let mut misc_user: Option<(String, Option<String>)> = None;
    let mut dns_type = DnsType::Soa;
    let mut dns_name: Option<String> = None;
    let mut udp_payload = None;
    let mut udp_reply: Option<Option<HexPattern>> = None;
    let mut udp_min = 0u16;
    let mut udp_max = 255u16;
    let mut smtp_helo = None;
    let mut smtp_hosts: Vec<RawCommon> = Vec::new();

    for it in items {
        if common_keyword(ctx, &mut common, it, connecting)? {
            continue;
        }
        match (kw, it.keyword()) {
            ("HTTP_GET" | "SSL_GET", "url") => http.urls.push(url(ctx, it)?),
            ("HTTP_GET" | "SSL_GET", "virtualhost") => http.virtualhost = Some(ctx.string(it)?),
            ("HTTP_GET" | "SSL_GET", "http_protocol") => {
                let w = ctx.single(it)?;
                http.http_protocol = match w.text.as_str() {
                    "1.0" => HttpProtocol::Http10,
                    "1.0C" | "1.0c" => HttpProtocol::Http10Close,
                    "1.1" => HttpProtocol::Http11,
                    other => {
                        return Err(ctx.err(
                            w.pos,
                            format!("http_protocol must be 1.0, 1.0C or 1.1, got '{other}'"),
                        ))
                    }
                };
            }
            ("HTTP_GET" | "SSL_GET", "fast_recovery") => http.fast_recovery = ctx.flag(it)?,
            ("HTTP_GET" | "SSL_GET", "enable_sni") => http.enable_sni = ctx.flag(it)?,
            ("HTTP_GET" | "SSL_GET", "sni_name") => {
                ctx.no_block(it)?;
                ctx.max_args(it, 1)?;
                http.sni_name = it.args().first().map(|w| w.text.clone());
                http.enable_sni = true;
            }
            ("HTTP_GET" | "SSL_GET", "tls_compliant") => http.tls_compliant = ctx.flag(it)?,
            ("MISC_CHECK", "misc_path") => misc_script = Some(ctx.script(it)?),
            ("MISC_CHECK", "misc_timeout") => {
                misc_timeout = Some(ctx.seconds(it, 0, u32::MAX as u64)?)
            }
            ("MISC_CHECK", "misc_dynamic") => {
                ctx.bare(it)?;
                misc_dynamic = true;
            }
            ("MISC_CHECK", "user") => {
                ctx.no_block(it)?;
                ctx.max_args(it, 2)?;
                misc_user = Some((
                    ctx.arg(it, 0)?.text.clone(),
                    it.args().get(1).map(|w| w.text.clone()),
                ));
            }
            ("DNS_CHECK", "type") => {
                let w = ctx.single(it)?;
                dns_type = match w.text.to_ascii_uppercase().as_str() {
                    "A" => DnsType::A,
                    "NS" => DnsType::Ns,
                    "CNAME" => DnsType::Cname,
                    "SOA" => DnsType::Soa,
                    "MX" => DnsType::Mx,
                    "TXT" => DnsType::Txt,
                    "AAAA" => DnsType::Aaaa,
                    _ => {
                        return Err(ctx.err(
                            w.pos,
                            format!(
                            "DNS_CHECK type must be A, NS, CNAME, SOA, MX, TXT or AAAA, got '{}'",
                            w.text
                        ),
                        ))
                    }
                };
            }
            ("DNS_CHECK", "name") => {
                let w = ctx.single(it)?;
                let name = &w.text;
                let empty_label = (name.starts_with('.') && name.len() > 1) || name.contains("..");
                if empty_label {
                    return Err(
                        ctx.err(w.pos, format!("DNS_CHECK name '{name}' has an empty label"))
                    );
                }
                dns_name = Some(name.clone());
            }
            ("UDP_CHECK", "payload") => {
                ctx.no_block(it)?;
                let text = join_args(ctx, it)?;
                let p = values::hex_string("payload", &text, false)
                    .map_err(|r| ctx.err(it.args()[0].pos, r))?;
                udp_payload = Some(p.bytes);
            }
            ("UDP_CHECK", "require_reply") => {
                ctx.no_block(it)?;
                if it.args().is_empty() {
                    udp_reply = Some(None);
                } else {
                    let text = join_args(ctx, it)?;
                    let p = values::hex_string("require_reply", &text, true)
                        .map_err(|r| ctx.err(it.args()[0].pos, r))?;
                    udp_reply = Some(Some(p));
                }
            }
            ("UDP_CHECK", "min_reply_length") => udp_min = ctx.uint(it, 0, 65535)? as u16,
            ("UDP_CHECK", "max_reply_length") => udp_max = ctx.uint(it, 0, 65535)? as u16,
            ("SMTP_CHECK", "helo_name") => {
                ctx.no_block(it)?;
                let words = crate::script::split_words(it.raw(), false)
                    .map_err(|r| ctx.err(it.pos(), r))?;
                ctx.max_args(it, 1)?;
                smtp_helo = Some(
                    words
                        .get(1)
                        .cloned()
                        .ok_or_else(|| ctx.err(it.end_pos(), "'helo_name' needs a value"))?,
                );
            }
            ("SMTP_CHECK", "host") => {
                ctx.max_args(it, 0)?;
                let mut host = RawCommon::default();
                for h in ctx.block(it)? {
                    if !common_keyword(ctx, &mut host, h, true)? {
                        ctx.other(&[sec::CHECKER, sec::CHECKER_CONN], h)?;
                    }
                }
                smtp_hosts.push(host);
            }
            _ => {
                let mut sections = vec![specific, sec::CHECKER];
                if connecting {
                    sections.push(sec::CHECKER_CONN);
                }
                ctx.other(&sections, it)?
            }
        }
    }

    if let (Some(ip), Some(b)) = (common.connect_ip, common.bindto) {
        if ip.is_ipv4() != b.is_ipv4() {
            return Err(ctx.err(
                st.pos(),
                format!("{kw}: connect_ip {ip} and bindto {b} are of different address families"),
            ));
        }
    }
    if let Some(IpAddr::V6(a)) = common.connect_ip.or(common.bindto) {
        if (a.segments()[0] & 0xffc0) == 0xfe80 && common.bind_if.is_none() {
            return Err(ctx.err(
                st.pos(),
                format!("{kw}: link-local address {a} needs bind_if"),
            ));
        }
    }

    let kind = match kw {
        "HTTP_GET" | "SSL_GET" => {
            if http.urls.is_empty() {
                return Err(ctx.err(st.pos(), format!("{kw} needs at least one url {{ }} block")));
            }
            RawKind::Http {
                ssl: kw == "SSL_GET",
                http,
            }
        }
        "TCP_CHECK" => RawKind::Tcp,
        "MISC_CHECK" => {
            let Some(mut script) = misc_script else {
                return Err(ctx.err(st.pos(), "MISC_CHECK needs misc_path"));
            };
            if let Some((user, group)) = misc_user {
                script.user = Some(user);
                script.group = group;
            }
            RawKind::Misc {
                script,
                timeout: misc_timeout,
                dynamic: misc_dynamic,
            }
        }
        "DNS_CHECK" => RawKind::Dns {
            query_type: dns_type,
            name: dns_name.unwrap_or_default(),
        },
        "PING_CHECK" => RawKind::Ping,
        "UDP_CHECK" => {
            if udp_min > udp_max {
                ctx.warn(
                    st.pos(),
                    format!("UDP_CHECK min_reply_length {udp_min} > max_reply_length {udp_max}: the check always fails"),
                );
            }
            RawKind::Udp {
                payload: udp_payload,
                require_reply: udp_reply,
                min_reply_length: udp_min,
                max_reply_length: udp_max,
            }
        }
        _ => RawKind::Smtp {
            helo_name: smtp_helo,
        },
    };
    if smtp_hosts.is_empty() {
        return Ok(vec![RawChecker { kind, common }]);
    }
    // keepalived: without connection options of its own the checker takes
    // the first host's; every other host is one more checker. Timing not
    // given in a host comes from the checker.
    let own_connection = common.connect_ip.is_some()
        || common.connect_port.is_some()
        || common.bindto.is_some()
        || common.bind_port.is_some()
        || common.bind_if.is_some()
        || common.fwmark.is_some()
        || common.connect_timeout.is_some();
    let mut out = Vec::new();
    if own_connection {
        out.push(RawChecker {
            kind: kind.clone(),
            common: common.clone(),
        });
    }
    for host in smtp_hosts {
        out.push(RawChecker {
            kind: kind.clone(),
            common: merge_host(&common, host),
        });
    }
    Ok(out)
}

/// A host block's connection settings over the checker's timing settings.
fn merge_host(checker: &RawCommon, host: RawCommon) -> RawCommon {
    RawCommon {
        connect_ip: host.connect_ip,
        connect_port: host.connect_port,
        bindto: host.bindto,
        bind_port: host.bind_port,
        bind_if: host.bind_if,
        fwmark: host.fwmark,
        connect_timeout: host.connect_timeout.or(checker.connect_timeout),
        retry: host.retry.or(checker.retry),
        delay_before_retry: host.delay_before_retry.or(checker.delay_before_retry),
        warmup: host.warmup.or(checker.warmup),
        delay_loop: host.delay_loop.or(checker.delay_loop),
        alpha: host.alpha.or(checker.alpha),
        log_all_failures: host.log_all_failures.or(checker.log_all_failures),
    }
}

/// The arguments joined by single spaces (hex strings span several words).
fn join_args(ctx: &Ctx, it: &Stmt) -> Result<String, ConfigError> {
    ctx.arg(it, 0)?;
    Ok(it
        .args()
        .iter()
        .map(|w| w.text.as_str())
        .collect::<Vec<_>>()
        .join(" "))
}

/// Keywords every checker shares. Returns false when `it` is not one of them.
fn common_keyword(
    ctx: &mut Ctx,
    c: &mut RawCommon,
    it: &Stmt,
    connecting: bool,
) -> Result<bool, ConfigError> {
    match it.keyword() {
        "retry" => c.retry = Some(ctx.u32(it, 0, u32::MAX)?),
        "nb_get_retry" => {
            c.retry = Some(ctx.u32(it, 0, u32::MAX)?);
            ctx.warn(it.pos(), "nb_get_retry is deprecated; use retry");
        }
        "delay_before_retry" => {
            c.delay_before_retry = Some(ctx.timer(it, Duration::ZERO, TIMER_MAX)?)
        }
        "warmup" => c.warmup = Some(ctx.timer(it, Duration::ZERO, TIMER_MAX)?),
        "delay_loop" => c.delay_loop = Some(ctx.timer(it, Duration::from_micros(1), TIMER_MAX)?),
        "alpha" => c.alpha = Some(ctx.flag(it)?),
        "log_all_failures" => c.log_all_failures = Some(ctx.flag(it)?),
        "connect_ip" if connecting => c.connect_ip = Some(ctx.ip(it)?),
        "connect_port" if connecting => {
            ctx.single(it)?;
            c.connect_port = Some(ctx.port_at(it, 0, false)?);
        }
        "bindto" if connecting => c.bindto = Some(ctx.ip(it)?),
        "bind_port" if connecting => {
            ctx.single(it)?;
            c.bind_port = Some(ctx.port_at(it, 0, false)?);
        }
        "bind_if" if connecting => c.bind_if = Some(crate::keepalived::global::ifname(ctx, it)?),
        "connect_timeout" if connecting => {
            c.connect_timeout = Some(ctx.timer(it, Duration::from_micros(1), TIMER_MAX)?)
        }
        "fwmark" if connecting => c.fwmark = Some(ctx.u32(it, 0, u32::MAX)?),
        _ => return Ok(false),
    }
    Ok(true)
}

fn url(ctx: &mut Ctx, st: &Stmt) -> Result<UrlCheck, ConfigError> {
    ctx.max_args(st, 0)?;
    let mut u = UrlCheck {
        path: String::new(),
        digest: None,
        status_code: Vec::new(),
        virtualhost: None,
        regex: None,
        regex_no_match: false,
        regex_options: Vec::new(),
        regex_min_offset: None,
        regex_max_offset: None,
    };
    let mut have_path = false;
    for it in ctx.block(st)? {
        match it.keyword() {
            "path" => {
                u.path = ctx.string(it)?;
                have_path = true;
            }
            "digest" => {
                let w = ctx.single(it)?;
                let d = w.text.to_ascii_lowercase();
                if d.len() != 32 || !d.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(ctx.err(
                        w.pos,
                        format!(
                            "digest must be 32 hex digits (an MD5 sum), got '{}'",
                            w.text
                        ),
                    ));
                }
                if u.digest.is_some() {
                    return Err(ctx.err(w.pos, "a url takes one digest"));
                }
                u.digest = Some(d);
            }
            "status_code" => {
                ctx.no_block(it)?;
                ctx.arg(it, 0)?;
                for w in it.args() {
                    u.status_code
                        .push(status_range(&w.text).map_err(|r| ctx.err(w.pos, r))?);
                }
            }
            "virtualhost" => u.virtualhost = Some(ctx.string(it)?),
            "regex" => {
                ctx.no_block(it)?;
                let words =
                    crate::script::split_words(it.raw(), true).map_err(|r| ctx.err(it.pos(), r))?;
                if words.len() != 2 {
                    return Err(ctx.err(
                        it.pos(),
                        "regex takes one value (quote a pattern with spaces)",
                    ));
                }
                u.regex = Some(words[1].clone());
            }
            "regex_no_match" => {
                ctx.bare(it)?;
                u.regex_no_match = true;
            }
            "regex_options" => {
                ctx.no_block(it)?;
                for w in it.args() {
                    if !REGEX_OPTIONS.contains(&w.text.as_str()) {
                        return Err(ctx.err(w.pos, format!("unknown regex option '{}'", w.text)));
                    }
                    u.regex_options.push(w.text.clone());
                }
            }
            "regex_min_offset" => u.regex_min_offset = Some(ctx.uint(it, 0, u64::MAX)?),
            "regex_max_offset" => u.regex_max_offset = Some(ctx.uint(it, 0, u64::MAX)?),
            _ => ctx.other(&[sec::URL], it)?,
        }
    }
    if !have_path {
        return Err(ctx.err(st.pos(), "url needs a path"));
    }
    if u.regex.is_none()
        && (u.regex_no_match
            || !u.regex_options.is_empty()
            || u.regex_min_offset.is_some()
            || u.regex_max_offset.is_some())
    {
        ctx.warn(st.pos(), "regex options given without a regex: ignored");
        u.regex_no_match = false;
        u.regex_options.clear();
        u.regex_min_offset = None;
        u.regex_max_offset = None;
    }
    if let (Some(lo), Some(hi)) = (u.regex_min_offset, u.regex_max_offset) {
        if lo > hi {
            return Err(ctx.err(
                st.pos(),
                format!("regex_min_offset {lo} is beyond regex_max_offset {hi}"),
            ));
        }
    }
    if u.status_code.is_empty() {
        u.status_code.push(StatusRange {
            first: 200,
            last: 299,
        });
    }
    Ok(u)
}

/// pcre2 options keepalived accepts in regex_options.
const REGEX_OPTIONS: [&str; 24] = [
    "allow_empty_class",
    "alt_bsux",
    "auto_callout",
    "caseless",
    "dollar_endonly",
    "dotall",
    "dupnames",
    "extended",
    "firstline",
    "match_unset_backref",
    "multiline",
    "never_ucp",
    "never_utf",
    "no_auto_capture",
    "no_auto_possess",
    "no_dotstar_anchor",
    "no_start_optimize",
    "ucp",
    "ungreedy",
    "utf",
    "never_backslash_c",
    "alt_circumflex",
    "alt_verbnames",
    "use_offset_limit",
];

/// "200" or "200-299", within 100..599 like keepalived.
fn status_range(text: &str) -> Result<StatusRange, String> {
    let (a, b) = match text.split_once('-') {
        Some((a, b)) => (a, b),
        None => (text, text),
    };
    let first = values::uint("status_code", a, 100, 599)? as u16;
    let last = values::uint("status_code", b, 100, 599)? as u16;
    if first > last {
        return Err(format!("status_code range {text} is reversed"));
    }
    Ok(StatusRange { first, last })
}

/// Apply the inheritance rules and the per-type defaults.
pub(crate) fn resolve(raw: &RawChecker, inh: &Inherited<'_>) -> Checker {
    let c = &raw.common;
    let (default_retry, default_dbr) = match raw.kind {
        RawKind::Misc { .. } => (0, Some(Duration::from_secs(1))),
        RawKind::Dns { .. } => (3, None),
        RawKind::Http { .. } => (1, Some(Duration::from_secs(3))),
        _ => (1, Some(Duration::from_secs(1))),
    };
    let delay_loop = c.delay_loop.unwrap_or(inh.delay_loop);
    let common = CheckCommon {
        connect_ip: c.connect_ip,
        connect_port: c.connect_port,
        bindto: c.bindto,
        bind_port: c.bind_port,
        bind_if: c.bind_if.clone(),
        fwmark: c.fwmark,
        connect_timeout: c.connect_timeout.unwrap_or(inh.connect_timeout),
        retry: c.retry.or(inh.retry).unwrap_or(default_retry),
        delay_before_retry: c
            .delay_before_retry
            .or(inh.delay_before_retry)
            .or(default_dbr)
            .unwrap_or(delay_loop),
        warmup: c.warmup.or(inh.warmup).unwrap_or(delay_loop),
        delay_loop,
        alpha: c.alpha.unwrap_or(inh.alpha),
        log_all_failures: c.log_all_failures.unwrap_or(inh.log_all_failures),
    };
    match &raw.kind {
        RawKind::Tcp => Checker::TcpCheck { common },
        RawKind::Http { ssl, http } => {
            let h = HttpCheck {
                common,
                urls: http.urls.clone(),
                virtualhost: http
                    .virtualhost
                    .clone()
                    .or_else(|| inh.virtualhost.cloned()),
                http_protocol: http.http_protocol,
                method: HttpMethod::Get,
                fast_recovery: http.fast_recovery,
                enable_sni: http.enable_sni,
                sni_name: http.sni_name.clone(),
                tls_compliant: http.tls_compliant,
            };
            if *ssl {
                Checker::SslGet(h)
            } else {
                Checker::HttpGet(h)
            }
        }
        RawKind::Misc {
            script,
            timeout,
            dynamic,
        } => Checker::MiscCheck {
            common,
            script: script.clone(),
            timeout: *timeout,
            dynamic: *dynamic,
            expect_output: None,
        },
        RawKind::Dns { query_type, name } => Checker::DnsCheck {
            common,
            query_type: *query_type,
            name: name.clone(),
        },
        RawKind::Ping => Checker::PingCheck { common },
        RawKind::Udp {
            payload,
            require_reply,
            min_reply_length,
            max_reply_length,
        } => Checker::UdpCheck {
            common,
            payload: payload.clone(),
            require_reply: require_reply.clone(),
            min_reply_length: *min_reply_length,
            max_reply_length: *max_reply_length,
        },
        RawKind::Smtp { helo_name } => Checker::SmtpCheck {
            common,
            helo_name: helo_name.clone(),
        },
    }
}
