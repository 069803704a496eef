//! ipvsadm's command line, parsed the way ipvsadm 1.31 (with popt) parses it:
//! the command must be the first option; short options cluster (`-Ln`) and take
//! attached or following values (`-t192.0.2.10:80`, `-t 192.0.2.10:80`); `-p`
//! takes an optional value only when the next word does not start with `-`;
//! long options take `--name=value` or `--name value`; words that are not
//! options are collected as arguments (only `--set` wants three). Then the
//! option values are checked in command-line order with ipvsadm's messages,
//! the command/option compatibility table is enforced in ipvsadm's option
//! order, and the defaults and consistency rules ipvsadm applies are applied.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use rvs_core::{DestConfig, Family, ForwardMethod, Persistence, Protocol, SchedFlags, ServiceKey};

use crate::command::{Command, ListOptions, ListView, ServiceSpec};
use crate::config::{SyncDaemonConfig, SyncState, DEFAULT_MCAST_IFN, MAX_TIMEOUT};
use crate::error::CliError;
use crate::inet::{all_digits, atoi, inet_aton, mask_to_prefix, number_in, strtol_exact};
use crate::names::Names;
use crate::status::Timeouts;

/// The program name messages use.
pub const PROGRAM: &str = "rvsadm";
/// `-p` without a value (libipvs's IPVS_SVC_PERSISTENT_TIMEOUT, 6 minutes; the
/// ipvsadm manual page says 300, the code has always used 360).
pub const DEFAULT_PERSISTENT_TIMEOUT: u32 = 360;
/// Scheduler of `-A`/`-E` without `-s`.
pub const DEFAULT_SCHEDULER: &str = "wlc";
/// Longest scheduler name IPVS keeps (IP_VS_SCHEDNAME_MAXLEN - 1).
const SCHED_NAME_MAX: usize = 15;
/// Longest interface name (IFNAMSIZ - 1).
const IFNAME_MAX: usize = 15;

const IPPROTO_TCP: u8 = 6;
const IPPROTO_UDP: u8 = 17;
const IPPROTO_SCTP: u8 = 132;

// ---------------------------------------------------------------------------
// Options as ipvsadm defines them.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tag {
    AddService,
    EditService,
    DeleteService,
    Clear,
    List,
    Zero,
    AddServer,
    EditServer,
    DeleteServer,
    Set,
    Help,
    Version,
    Restore,
    Save,
    StartDaemon,
    StopDaemon,
    TcpService,
    UdpService,
    SctpService,
    FwmarkService,
    Scheduler,
    Persistent,
    Netmask,
    RealServer,
    Masquerading,
    Ipip,
    Gatewaying,
    Weight,
    UThreshold,
    LThreshold,
    Numeric,
    Connection,
    McastInterface,
    SyncId,
    Timeout,
    Daemon,
    Stats,
    Rate,
    Thresholds,
    PersistentConn,
    NoSort,
    Sort,
    Exact,
    Ipv6,
    Ops,
    Pe,
    SchedFlags,
    McastGroup,
    McastPort,
    McastTtl,
    SyncMaxlen,
    TunInfo,
    TunType,
    TunPort,
    TunNocsum,
    TunCsum,
    TunRemcsum,
    Json,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Value {
    None,
    Required,
    /// Taken only when attached or when the next word does not start with '-'.
    Optional,
}

struct OptionSpec {
    long: &'static str,
    short: Option<u8>,
    value: Value,
    tag: Tag,
}

const fn opt(long: &'static str, short: Option<u8>, value: Value, tag: Tag) -> OptionSpec {
    OptionSpec {
        long,
        short,
        value,
        tag,
    }
}

const OPTIONS: &[OptionSpec] = &[
    opt("add-service", Some(b'A'), Value::None, Tag::AddService),
    opt("edit-service", Some(b'E'), Value::None, Tag::EditService),
    opt(
        "delete-service",
        Some(b'D'),
        Value::None,
        Tag::DeleteService,
    ),
    opt("clear", Some(b'C'), Value::None, Tag::Clear),
    opt("list", Some(b'L'), Value::None, Tag::List),
    opt("list", Some(b'l'), Value::None, Tag::List),
    opt("zero", Some(b'Z'), Value::None, Tag::Zero),
    opt("add-server", Some(b'a'), Value::None, Tag::AddServer),
    opt("edit-server", Some(b'e'), Value::None, Tag::EditServer),
    opt("delete-server", Some(b'd'), Value::None, Tag::DeleteServer),
    opt("set", None, Value::None, Tag::Set),
    opt("help", Some(b'h'), Value::None, Tag::Help),
    opt("version", Some(b'v'), Value::None, Tag::Version),
    opt("restore", Some(b'R'), Value::None, Tag::Restore),
    opt("save", Some(b'S'), Value::None, Tag::Save),
    opt("start-daemon", None, Value::Required, Tag::StartDaemon),
    // ipvsadm requires the state; rvs also accepts none (stop every daemon).
    opt("stop-daemon", None, Value::Optional, Tag::StopDaemon),
    opt("tcp-service", Some(b't'), Value::Required, Tag::TcpService),
    opt("udp-service", Some(b'u'), Value::Required, Tag::UdpService),
    opt("sctp-service", None, Value::Required, Tag::SctpService),
    opt(
        "fwmark-service",
        Some(b'f'),
        Value::Required,
        Tag::FwmarkService,
    ),
    opt("scheduler", Some(b's'), Value::Required, Tag::Scheduler),
    opt("persistent", Some(b'p'), Value::Optional, Tag::Persistent),
    opt("netmask", Some(b'M'), Value::Required, Tag::Netmask),
    opt("real-server", Some(b'r'), Value::Required, Tag::RealServer),
    opt("masquerading", Some(b'm'), Value::None, Tag::Masquerading),
    opt("ipip", Some(b'i'), Value::None, Tag::Ipip),
    opt("gatewaying", Some(b'g'), Value::None, Tag::Gatewaying),
    opt("weight", Some(b'w'), Value::Required, Tag::Weight),
    opt("u-threshold", Some(b'x'), Value::Required, Tag::UThreshold),
    opt("l-threshold", Some(b'y'), Value::Required, Tag::LThreshold),
    opt("numeric", Some(b'n'), Value::None, Tag::Numeric),
    opt("connection", Some(b'c'), Value::None, Tag::Connection),
    opt(
        "mcast-interface",
        None,
        Value::Required,
        Tag::McastInterface,
    ),
    opt("syncid", None, Value::Required, Tag::SyncId),
    opt("timeout", None, Value::None, Tag::Timeout),
    opt("daemon", None, Value::None, Tag::Daemon),
    opt("stats", None, Value::None, Tag::Stats),
    opt("rate", None, Value::None, Tag::Rate),
    opt("thresholds", None, Value::None, Tag::Thresholds),
    opt("persistent-conn", None, Value::None, Tag::PersistentConn),
    opt("nosort", None, Value::None, Tag::NoSort),
    opt("sort", None, Value::None, Tag::Sort),
    opt("exact", Some(b'X'), Value::None, Tag::Exact),
    opt("ipv6", Some(b'6'), Value::None, Tag::Ipv6),
    opt("ops", Some(b'o'), Value::None, Tag::Ops),
    opt("pe", None, Value::Required, Tag::Pe),
    opt("sched-flags", Some(b'b'), Value::Required, Tag::SchedFlags),
    opt("mcast-group", None, Value::Required, Tag::McastGroup),
    opt("mcast-port", None, Value::Required, Tag::McastPort),
    opt("mcast-ttl", None, Value::Required, Tag::McastTtl),
    opt("sync-maxlen", None, Value::Required, Tag::SyncMaxlen),
    opt("tun-info", None, Value::None, Tag::TunInfo),
    opt("tun-type", None, Value::Required, Tag::TunType),
    opt("tun-port", None, Value::Required, Tag::TunPort),
    opt("tun-nocsum", None, Value::None, Tag::TunNocsum),
    opt("tun-csum", None, Value::None, Tag::TunCsum),
    opt("tun-remcsum", None, Value::None, Tag::TunRemcsum),
    opt("json", None, Value::None, Tag::Json),
];

// ---------------------------------------------------------------------------
// The popt-style word scanner.

enum ScanError {
    UnknownOption,
    MissingArgument,
    UnwantedArgument,
}

impl ScanError {
    fn text(&self) -> &'static str {
        match self {
            ScanError::UnknownOption => "unknown option",
            ScanError::MissingArgument => "missing argument",
            ScanError::UnwantedArgument => "option does not take an argument",
        }
    }
}

struct Scanner<'a> {
    words: &'a [String],
    /// Index of the next word to read.
    next: usize,
    /// A short-option cluster in progress: word index and byte offset.
    cluster: Option<(usize, usize)>,
    /// After "--" every word is an argument.
    only_arguments: bool,
    arguments: Vec<String>,
}

impl<'a> Scanner<'a> {
    fn new(words: &'a [String]) -> Self {
        Scanner {
            words,
            next: 0,
            cluster: None,
            only_arguments: false,
            arguments: Vec::new(),
        }
    }

    /// The last word read: what popt names in its error messages.
    fn last_word(&self) -> &str {
        self.next
            .checked_sub(1)
            .and_then(|i| self.words.get(i))
            .map_or("", String::as_str)
    }

    /// The value of an option whose text did not include one.
    fn following_value(&mut self, value: Value) -> Result<Option<String>, ScanError> {
        match self.words.get(self.next) {
            None if value == Value::Required => Err(ScanError::MissingArgument),
            None => Ok(None),
            Some(word) if value == Value::Optional && word.starts_with('-') => Ok(None),
            Some(word) => {
                self.next += 1;
                Ok(Some(word.clone()))
            }
        }
    }

    /// The next option and its value; `None` at the end of the words.
    fn next_option(&mut self) -> Option<Result<(Tag, Option<String>), ScanError>> {
        loop {
            if let Some((word_index, offset)) = self.cluster.take() {
                return Some(self.short_option(word_index, offset));
            }
            let word = self.words.get(self.next)?;
            self.next += 1;
            if self.only_arguments || !word.starts_with('-') || word == "-" {
                self.arguments.push(word.clone());
                continue;
            }
            if word == "--" {
                self.only_arguments = true;
                continue;
            }
            if let Some(long) = word.strip_prefix("--") {
                return Some(self.long_option(long));
            }
            self.cluster = Some((self.next - 1, 1));
        }
    }

    fn long_option(&mut self, text: &str) -> Result<(Tag, Option<String>), ScanError> {
        let (name, attached) = match text.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (text, None),
        };
        let spec = OPTIONS
            .iter()
            .find(|o| o.long == name)
            .ok_or(ScanError::UnknownOption)?;
        match (spec.value, attached) {
            (Value::None, Some(_)) => Err(ScanError::UnwantedArgument),
            (Value::None, None) => Ok((spec.tag, None)),
            (_, Some(v)) => Ok((spec.tag, Some(v))),
            (value, None) => Ok((spec.tag, self.following_value(value)?)),
        }
    }

    fn short_option(
        &mut self,
        word_index: usize,
        offset: usize,
    ) -> Result<(Tag, Option<String>), ScanError> {
        let word = &self.words[word_index];
        let letter = word.as_bytes()[offset];
        let spec = OPTIONS
            .iter()
            .find(|o| o.short == Some(letter))
            .ok_or(ScanError::UnknownOption)?;
        // `letter` matched an ASCII option letter, so offset + 1 is a character boundary.
        let rest = &word[offset + 1..];
        match spec.value {
            Value::None => {
                if rest.starts_with('=') {
                    return Err(ScanError::UnwantedArgument);
                }
                if !rest.is_empty() {
                    self.cluster = Some((word_index, offset + 1));
                }
                Ok((spec.tag, None))
            }
            value => {
                if !rest.is_empty() {
                    let attached = rest.strip_prefix('=').unwrap_or(rest);
                    Ok((spec.tag, Some(attached.to_string())))
                } else {
                    Ok((spec.tag, self.following_value(value)?))
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// The command/option compatibility table (ipvsadm's commands_v_options).

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Cmd {
    Add,
    Edit,
    Del,
    Flush,
    List,
    AddDest,
    DelDest,
    EditDest,
    Timeout,
    StartDaemon,
    StopDaemon,
    Restore,
    Save,
    Zero,
}

impl Cmd {
    fn name(self) -> &'static str {
        match self {
            Cmd::Add => "add-service",
            Cmd::Edit => "edit-service",
            Cmd::Del => "delete-service",
            Cmd::Flush => "flush",
            Cmd::List => "list",
            Cmd::AddDest => "add-server",
            Cmd::DelDest => "delete-server",
            Cmd::EditDest => "edit-server",
            Cmd::Timeout => "set",
            Cmd::StartDaemon => "start-daemon",
            Cmd::StopDaemon => "stop-daemon",
            Cmd::Restore => "restore",
            Cmd::Save => "save",
            Cmd::Zero => "zero",
        }
    }
}

/// The options ipvsadm tracks, in its order (which decides which of several
/// violations is reported), with the names its messages use.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Opt {
    Numeric,
    Connection,
    Service,
    Scheduler,
    Persistent,
    Netmask,
    Server,
    Forward,
    Weight,
    UThreshold,
    LThreshold,
    Mcast,
    Timeout,
    Daemon,
    Stats,
    Rate,
    Thresholds,
    PersistentConn,
    NoSort,
    SyncId,
    Exact,
    OnePacket,
    Pe,
    SchedFlags,
    McastGroup,
    McastPort,
    McastTtl,
    SyncMaxlen,
    TunInfo,
    TunType,
    TunPort,
    TunNocsum,
    TunCsum,
    TunRemcsum,
    /// rvs's own `--json`.
    Json,
}

const ALL_OPTS: [Opt; 35] = [
    Opt::Numeric,
    Opt::Connection,
    Opt::Service,
    Opt::Scheduler,
    Opt::Persistent,
    Opt::Netmask,
    Opt::Server,
    Opt::Forward,
    Opt::Weight,
    Opt::UThreshold,
    Opt::LThreshold,
    Opt::Mcast,
    Opt::Timeout,
    Opt::Daemon,
    Opt::Stats,
    Opt::Rate,
    Opt::Thresholds,
    Opt::PersistentConn,
    Opt::NoSort,
    Opt::SyncId,
    Opt::Exact,
    Opt::OnePacket,
    Opt::Pe,
    Opt::SchedFlags,
    Opt::McastGroup,
    Opt::McastPort,
    Opt::McastTtl,
    Opt::SyncMaxlen,
    Opt::TunInfo,
    Opt::TunType,
    Opt::TunPort,
    Opt::TunNocsum,
    Opt::TunCsum,
    Opt::TunRemcsum,
    Opt::Json,
];

impl Opt {
    fn bit(self) -> u64 {
        1u64 << (self as u32)
    }

    fn name(self) -> &'static str {
        match self {
            Opt::Numeric => "numeric",
            Opt::Connection => "connection",
            Opt::Service => "service-address",
            Opt::Scheduler => "scheduler",
            Opt::Persistent => "persistent",
            Opt::Netmask => "netmask",
            Opt::Server => "real-server",
            Opt::Forward => "forwarding-method",
            Opt::Weight => "weight",
            Opt::UThreshold => "u-threshold",
            Opt::LThreshold => "l-threshold",
            Opt::Mcast => "mcast-interface",
            Opt::Timeout => "timeout",
            Opt::Daemon => "daemon",
            Opt::Stats => "stats",
            Opt::Rate => "rate",
            Opt::Thresholds => "thresholds",
            Opt::PersistentConn => "persistent-conn",
            Opt::NoSort => "nosort",
            Opt::SyncId => "syncid",
            Opt::Exact => "exact",
            Opt::OnePacket => "ops",
            Opt::Pe => "pe",
            Opt::SchedFlags => "sched-flags",
            Opt::McastGroup => "mcast-group",
            Opt::McastPort => "mcast-port",
            Opt::McastTtl => "mcast-ttl",
            Opt::SyncMaxlen => "sync-maxlen",
            Opt::TunInfo => "tun-info",
            Opt::TunType => "tun-type",
            Opt::TunPort => "tun-port",
            Opt::TunNocsum => "tun-nocsum",
            Opt::TunCsum => "tun-csum",
            Opt::TunRemcsum => "tun-remcsum",
            Opt::Json => "json",
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Rule {
    Required,
    Allowed,
    /// At most one of the options so marked.
    OneOf,
    Illegal,
}

/// Which options each command takes (ipvsadm's table, plus `--json` for `-L`).
fn rule(cmd: Cmd, opt: Opt) -> Rule {
    use Opt as O;
    match cmd {
        Cmd::Add | Cmd::Edit => match opt {
            O::Service => Rule::Required,
            O::Scheduler | O::Persistent | O::Netmask | O::OnePacket | O::Pe | O::SchedFlags => {
                Rule::Allowed
            }
            _ => Rule::Illegal,
        },
        Cmd::Del | Cmd::DelDest => match opt {
            O::Service => Rule::Required,
            O::Server if cmd == Cmd::DelDest => Rule::Required,
            _ => Rule::Illegal,
        },
        Cmd::List => match opt {
            O::Connection | O::Service | O::Timeout | O::Daemon => Rule::OneOf,
            O::Numeric
            | O::Stats
            | O::Rate
            | O::Thresholds
            | O::PersistentConn
            | O::NoSort
            | O::SyncId
            | O::Exact
            | O::TunInfo
            | O::Json => Rule::Allowed,
            _ => Rule::Illegal,
        },
        Cmd::AddDest | Cmd::EditDest => match opt {
            O::Service | O::Server => Rule::Required,
            O::Forward
            | O::Weight
            | O::UThreshold
            | O::LThreshold
            | O::TunType
            | O::TunPort
            | O::TunNocsum
            | O::TunCsum
            | O::TunRemcsum => Rule::Allowed,
            _ => Rule::Illegal,
        },
        Cmd::StartDaemon => match opt {
            O::Mcast | O::SyncId | O::McastGroup | O::McastPort | O::McastTtl | O::SyncMaxlen => {
                Rule::Allowed
            }
            _ => Rule::Illegal,
        },
        Cmd::StopDaemon => match opt {
            O::SyncId => Rule::Allowed,
            _ => Rule::Illegal,
        },
        Cmd::Save => match opt {
            O::Numeric => Rule::Allowed,
            _ => Rule::Illegal,
        },
        Cmd::Zero => match opt {
            O::Service => Rule::Allowed,
            _ => Rule::Illegal,
        },
        Cmd::Flush | Cmd::Timeout | Cmd::Restore => Rule::Illegal,
    }
}

/// ipvsadm's generic_opt_check: the first violation in option order.
fn check_options(cmd: Cmd, options: u64) -> Result<(), CliError> {
    let mut one_of: Option<Opt> = None;
    for opt in ALL_OPTS {
        let given = options & opt.bit() != 0;
        match (rule(cmd, opt), given) {
            (Rule::Required, false) => {
                return Err(CliError::usage(format!(
                    "You need to supply the '{}' option for the '{}' command",
                    opt.name(),
                    cmd.name()
                )));
            }
            (Rule::Illegal, true) => {
                return Err(CliError::usage(format!(
                    "Illegal '{}' option with the '{}' command",
                    opt.name(),
                    cmd.name()
                )));
            }
            (Rule::OneOf, true) => {
                if let Some(first) = one_of {
                    return Err(CliError::usage(format!(
                        "The option '{}' conflicts with the '{}' option in the '{}' command",
                        opt.name(),
                        first.name(),
                        cmd.name()
                    )));
                }
                one_of = Some(opt);
            }
            _ => {}
        }
    }
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum TunType {
    Ipip,
    Gue,
    Gre,
}

impl TunType {
    fn name(self) -> &'static str {
        match self {
            TunType::Ipip => "ipip",
            TunType::Gue => "gue",
            TunType::Gre => "gre",
        }
    }
}

/// ipvsadm's tunnel_types_v_options check.
fn check_tunnel_options(tun: TunType, options: u64) -> Result<(), CliError> {
    let tun_opts = [Opt::TunPort, Opt::TunNocsum, Opt::TunCsum, Opt::TunRemcsum];
    let rules: [Rule; 4] = match tun {
        TunType::Ipip => [Rule::Illegal; 4],
        TunType::Gue => [Rule::Required, Rule::OneOf, Rule::OneOf, Rule::OneOf],
        TunType::Gre => [Rule::Illegal, Rule::OneOf, Rule::OneOf, Rule::Illegal],
    };
    let mut one_of: Option<Opt> = None;
    for (opt, r) in tun_opts.into_iter().zip(rules) {
        let given = options & opt.bit() != 0;
        match (r, given) {
            (Rule::Required, false) => {
                return Err(CliError::usage(format!(
                    "You need to supply the '{}' option for the '{}' tunnel type",
                    opt.name(),
                    tun.name()
                )));
            }
            (Rule::Illegal, true) => {
                return Err(CliError::usage(format!(
                    "Illegal '{}' option with the '{}' tunnel type",
                    opt.name(),
                    tun.name()
                )));
            }
            (Rule::OneOf, true) => {
                if let Some(first) = one_of {
                    return Err(CliError::usage(format!(
                        "The option '{}' conflicts with the '{}' option in the '{}' tunnel type",
                        opt.name(),
                        first.name(),
                        tun.name()
                    )));
                }
                one_of = Some(opt);
            }
            _ => {}
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Values, in the order and with the side effects ipvsadm gives them.

/// The virtual service as the options so far describe it (ipvsadm's `svc`).
#[derive(Clone)]
struct ServiceDraft {
    family: Option<Family>,
    protocol: u8,
    addr: IpAddr,
    port: u16,
    fwmark: u32,
    /// IPv4: the mask's bits; IPv6: the prefix length. Starts as the full IPv4 mask.
    netmask: u32,
    persistent: bool,
    timeout: u32,
    one_packet: bool,
    scheduler: String,
    sched_flags: SchedFlags,
    pe: Option<String>,
}

impl Default for ServiceDraft {
    fn default() -> Self {
        ServiceDraft {
            family: None,
            protocol: 0,
            addr: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            port: 0,
            fwmark: 0,
            netmask: u32::MAX,
            persistent: false,
            timeout: 0,
            one_packet: false,
            scheduler: String::new(),
            sched_flags: SchedFlags::default(),
            pe: None,
        }
    }
}

impl ServiceDraft {
    fn protocol(&self) -> Option<Protocol> {
        Protocol::from_ip_proto(self.protocol)
    }
}

/// The real server so far (ipvsadm's `dest`): direct routing, weight 1 by default.
struct DestDraft {
    family: Option<Family>,
    addr: IpAddr,
    port: u16,
    method: ForwardMethod,
    weight: u32,
    u_threshold: u32,
    l_threshold: u32,
    tun_type: TunType,
}

impl Default for DestDraft {
    fn default() -> Self {
        DestDraft {
            family: None,
            addr: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            port: 0,
            method: ForwardMethod::Route,
            weight: 1,
            u_threshold: 0,
            l_threshold: 0,
            tun_type: TunType::Ipip,
        }
    }
}

/// ipvsadm's parse_service: `host[:port]`, `[v6]:port` or a bare IPv6 address.
/// Hosts are IPv4 dotted forms (inet_aton) or names from the hosts file; ports
/// numbers or service names of `proto`. `None` when no address was found or a
/// port was given but is not valid.
fn parse_host_port(
    text: &str,
    proto: Option<Protocol>,
    names: &Names,
) -> Option<(IpAddr, Option<u16>)> {
    if all_digits(text) {
        return None;
    }
    fn ipv4_with_port<'t>(s: &'t str, names: &Names) -> Option<(IpAddr, Option<&'t str>)> {
        let (host, port) = match s.rfind(':') {
            Some(i) => (&s[..i], Some(&s[i + 1..])),
            None => (s, None),
        };
        let addr = inet_aton(host).or_else(|| names.host_v4(host))?;
        Some((IpAddr::V4(addr), port))
    }
    let (addr, port_text) = if let Some(inner) = text.strip_prefix('[') {
        let close = inner.find(']')?;
        let (host, after) = (&inner[..close], &inner[close + 1..]);
        let port = after.strip_prefix(':')?;
        match host.parse::<Ipv6Addr>() {
            Ok(a) => (IpAddr::V6(a), Some(port)),
            // Not IPv6 inside the brackets: ipvsadm goes on with what is inside.
            Err(_) => ipv4_with_port(host, names)?,
        }
    } else if let Ok(a) = text.parse::<Ipv6Addr>() {
        (IpAddr::V6(a), None)
    } else {
        ipv4_with_port(text, names)?
    };
    let port = match port_text {
        None => None,
        Some(p) => Some(match number_in(p, 0, 65535) {
            Some(n) => n as u16,
            None => proto.and_then(|pr| names.service_port(p, pr))?,
        }),
    };
    Some((addr, port))
}

/// A whole-string number in `min..=max`, or the usage error `message`.
fn number(text: &str, min: i64, max: i64, message: &str) -> Result<i64, CliError> {
    number_in(text, min, max).ok_or_else(|| CliError::usage(message))
}

fn timeout_value(text: &str, min: u32) -> Result<u32, CliError> {
    number_in(text, i64::from(min), i64::from(MAX_TIMEOUT))
        .map(|n| n as u32)
        .ok_or_else(|| CliError::usage(format!("invalid timeout value `{text}' specified")))
}

fn truncated(text: &str, max: usize) -> String {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_string()
}

/// ipvsadm's parse_sched_flags, checked against the scheduler given (or wlc).
fn sched_flags_value(scheduler: &str, text: &str) -> Result<SchedFlags, CliError> {
    let scheduler = if scheduler.is_empty() {
        DEFAULT_SCHEDULER
    } else {
        scheduler
    };
    let mut flags = SchedFlags::default();
    let mut any = false;
    for flag in text.split(',').filter(|f| !f.is_empty()) {
        any = true;
        let needs = match flag {
            "flag-1" => {
                flags.fallback = true;
                None
            }
            "flag-2" => {
                flags.port = true;
                None
            }
            "flag-3" => {
                flags.flag3 = true;
                None
            }
            "sh-fallback" | "mh-fallback" => {
                flags.fallback = true;
                Some(&flag[..2])
            }
            "sh-port" | "mh-port" => {
                flags.port = true;
                Some(&flag[..2])
            }
            _ => return Err(CliError::usage(format!("invalid scheduler flag `{flag}'"))),
        };
        if needs.is_some_and(|s| s != scheduler) {
            return Err(CliError::usage(format!(
                "incompatible scheduler flag `{flag}'"
            )));
        }
    }
    if !any {
        return Err(CliError::usage(format!("invalid scheduler flag `{text}'")));
    }
    Ok(flags)
}

/// Everything one command line says, as ipvsadm accumulates it.
#[derive(Default)]
struct Parsed {
    options: u64,
    svc: ServiceDraft,
    dest: DestDraft,
    daemon_state: Option<SyncState>,
    daemon: DaemonDraft,
    list: ListOptions,
    sched_flags_text: Option<String>,
}

#[derive(Default)]
struct DaemonDraft {
    mcast_ifn: String,
    syncid: u8,
    sync_maxlen: Option<u16>,
    mcast_group: Option<IpAddr>,
    mcast_port: Option<u16>,
    mcast_ttl: Option<u8>,
}

impl Parsed {
    /// Marks an option as given; ipvsadm refuses the same option twice.
    fn set(&mut self, opt: Opt) -> Result<(), CliError> {
        if self.options & opt.bit() != 0 {
            return Err(CliError::usage(format!(
                "multiple '{}' options specified",
                opt.name()
            )));
        }
        self.options |= opt.bit();
        Ok(())
    }

    fn has(&self, opt: Opt) -> bool {
        self.options & opt.bit() != 0
    }

    /// One option after the command, with its value.
    fn option(
        &mut self,
        tag: Tag,
        value: Option<String>,
        last_word: &str,
        names: &Names,
    ) -> Result<(), CliError> {
        let given = value.is_some();
        let text = value.unwrap_or_default();
        match tag {
            Tag::TcpService | Tag::UdpService | Tag::SctpService => {
                self.set(Opt::Service)?;
                self.svc.protocol = match tag {
                    Tag::TcpService => IPPROTO_TCP,
                    Tag::UdpService => IPPROTO_UDP,
                    _ => IPPROTO_SCTP,
                };
                let (addr, port) =
                    parse_host_port(&text, self.svc.protocol(), names).ok_or_else(|| {
                        CliError::usage("illegal virtual server address[:port] specified")
                    })?;
                self.svc.addr = addr;
                self.svc.family = Some(Family::of(&addr));
                if addr.is_ipv6() {
                    self.svc.netmask = 128;
                }
                if let Some(p) = port {
                    self.svc.port = p;
                }
            }
            Tag::FwmarkService => {
                self.set(Opt::Service)?;
                self.svc.family = Some(Family::V4);
                self.svc.protocol = IPPROTO_TCP;
                self.svc.fwmark = strtol_exact(&text)
                    .filter(|m| *m > 0 && *m <= i64::from(u32::MAX))
                    .map(|m| m as u32)
                    .ok_or_else(|| {
                        CliError::usage(format!("invalid fwmark value `{text}' specified"))
                    })?;
            }
            Tag::Scheduler => {
                self.set(Opt::Scheduler)?;
                self.svc.scheduler = truncated(&text, SCHED_NAME_MAX);
            }
            Tag::Persistent => {
                self.set(Opt::Persistent)?;
                self.svc.persistent = true;
                self.svc.timeout = if given {
                    timeout_value(&text, 1)?
                } else {
                    DEFAULT_PERSISTENT_TIMEOUT
                };
            }
            Tag::Netmask => {
                self.set(Opt::Netmask)?;
                if self.svc.family != Some(Family::V6) {
                    let mask = inet_aton(&text)
                        .or_else(|| names.host_v4(&text))
                        .ok_or_else(|| {
                            CliError::usage("illegal virtual server persistent mask specified")
                        })?;
                    self.svc.netmask = u32::from(mask);
                } else {
                    let prefix = atoi(&text);
                    if !(1..=128).contains(&prefix) {
                        return Err(CliError::usage("illegal ipv6 netmask specified"));
                    }
                    self.svc.netmask = prefix as u32;
                }
            }
            Tag::RealServer => {
                self.set(Opt::Server)?;
                let (addr, port) =
                    parse_host_port(&text, self.svc.protocol(), names).ok_or_else(|| {
                        CliError::usage("illegal real server address[:port] specified")
                    })?;
                self.dest.addr = addr;
                self.dest.family = Some(Family::of(&addr));
                // Without a port, the service port as known at this point.
                self.dest.port = port.unwrap_or(self.svc.port);
            }
            Tag::Ipip | Tag::Gatewaying | Tag::Masquerading => {
                self.set(Opt::Forward)?;
                self.dest.method = match tag {
                    Tag::Ipip => ForwardMethod::Tunnel,
                    Tag::Gatewaying => ForwardMethod::Route,
                    _ => ForwardMethod::Masq,
                };
            }
            Tag::Weight => {
                self.set(Opt::Weight)?;
                self.dest.weight = number(&text, 0, 65535, "illegal weight specified")? as u32;
            }
            Tag::UThreshold => {
                self.set(Opt::UThreshold)?;
                self.dest.u_threshold = number(
                    &text,
                    0,
                    i64::from(i32::MAX),
                    "illegal u_threshold specified",
                )? as u32;
            }
            Tag::LThreshold => {
                self.set(Opt::LThreshold)?;
                self.dest.l_threshold = number(
                    &text,
                    0,
                    i64::from(i32::MAX),
                    "illegal l_threshold specified",
                )? as u32;
            }
            Tag::Connection => self.set(Opt::Connection)?,
            Tag::Numeric => {
                self.set(Opt::Numeric)?;
                self.list.numeric = true;
            }
            Tag::McastInterface => {
                self.set(Opt::Mcast)?;
                self.daemon.mcast_ifn = truncated(&text, IFNAME_MAX);
            }
            Tag::SyncId => {
                self.set(Opt::SyncId)?;
                self.daemon.syncid = number(&text, 0, 255, "illegal syncid specified")? as u8;
            }
            Tag::Timeout => self.set(Opt::Timeout)?,
            Tag::Daemon => self.set(Opt::Daemon)?,
            Tag::Stats => {
                self.set(Opt::Stats)?;
                self.list.stats = true;
            }
            Tag::Rate => {
                self.set(Opt::Rate)?;
                self.list.rate = true;
            }
            Tag::Thresholds => {
                self.set(Opt::Thresholds)?;
                self.list.thresholds = true;
            }
            Tag::PersistentConn => {
                self.set(Opt::PersistentConn)?;
                self.list.persistent_conn = true;
            }
            Tag::NoSort => {
                self.set(Opt::NoSort)?;
                self.list.nosort = true;
            }
            Tag::Sort => {}
            Tag::Exact => {
                self.set(Opt::Exact)?;
                self.list.exact = true;
            }
            Tag::Ipv6 => {
                if self.svc.fwmark == 0 {
                    return Err(CliError::usage("-6 used before -f\n"));
                }
                self.svc.family = Some(Family::V6);
                self.svc.netmask = 128;
            }
            Tag::Ops => {
                self.set(Opt::OnePacket)?;
                self.svc.one_packet = true;
            }
            Tag::Pe => {
                self.set(Opt::Pe)?;
                self.svc.pe = Some(text);
            }
            Tag::SchedFlags => {
                self.set(Opt::SchedFlags)?;
                self.sched_flags_text = Some(text);
            }
            Tag::McastGroup => {
                self.set(Opt::McastGroup)?;
                let group = if text.contains(':') {
                    text.parse::<Ipv6Addr>()
                        .ok()
                        .filter(Ipv6Addr::is_multicast)
                        .map(IpAddr::V6)
                        .ok_or_else(|| {
                            CliError::usage(format!("invalid IPv6 mcast-group `{text}'"))
                        })?
                } else {
                    text.parse::<Ipv4Addr>()
                        .ok()
                        .filter(Ipv4Addr::is_multicast)
                        .map(IpAddr::V4)
                        .ok_or_else(|| {
                            CliError::usage(format!("invalid IPv4 mcast-group `{text}'"))
                        })?
                };
                self.daemon.mcast_group = Some(group);
            }
            Tag::McastPort => {
                self.set(Opt::McastPort)?;
                self.daemon.mcast_port =
                    Some(number(&text, 1, 65535, "illegal mcast-port specified")? as u16);
            }
            Tag::McastTtl => {
                self.set(Opt::McastTtl)?;
                self.daemon.mcast_ttl =
                    Some(number(&text, 1, 255, "illegal mcast-ttl specified")? as u8);
            }
            Tag::SyncMaxlen => {
                self.set(Opt::SyncMaxlen)?;
                self.daemon.sync_maxlen =
                    Some(number(&text, 1, 65535 - 20 - 8, "illegal sync-maxlen specified")? as u16);
            }
            Tag::TunInfo => {
                self.set(Opt::TunInfo)?;
                self.list.tun_info = true;
            }
            Tag::TunType => {
                self.set(Opt::TunType)?;
                self.dest.tun_type = match text.as_str() {
                    "ipip" => TunType::Ipip,
                    "gue" => TunType::Gue,
                    "gre" => TunType::Gre,
                    _ => return Err(CliError::usage("illegal tunnel type specified")),
                };
            }
            Tag::TunPort => {
                self.set(Opt::TunPort)?;
                number(&text, 1, 65535, "illegal tunnel port specified")?;
            }
            Tag::TunNocsum => self.set(Opt::TunNocsum)?,
            Tag::TunCsum => self.set(Opt::TunCsum)?,
            Tag::TunRemcsum => self.set(Opt::TunRemcsum)?,
            Tag::Json => {
                self.set(Opt::Json)?;
                self.list.json = true;
            }
            // A second command, or -h/-v after the command.
            Tag::AddService
            | Tag::EditService
            | Tag::DeleteService
            | Tag::Clear
            | Tag::List
            | Tag::Zero
            | Tag::AddServer
            | Tag::EditServer
            | Tag::DeleteServer
            | Tag::Set
            | Tag::Help
            | Tag::Version
            | Tag::Restore
            | Tag::Save
            | Tag::StartDaemon
            | Tag::StopDaemon => {
                return Err(CliError::usage(format!("invalid option `{last_word}'")));
            }
        }
        Ok(())
    }

    fn service_key(&self) -> Result<ServiceKey, CliError> {
        if self.svc.fwmark != 0 {
            return Ok(ServiceKey::FwMark {
                mark: self.svc.fwmark,
                family: self.svc.family.unwrap_or(Family::V4),
            });
        }
        let proto = self
            .svc
            .protocol()
            .ok_or_else(|| CliError::usage("SCTP virtual services are not supported by rvs"))?;
        Ok(ServiceKey::Addr {
            proto,
            addr: self.svc.addr,
            port: self.svc.port,
        })
    }

    fn persistence(&self) -> Result<Option<Persistence>, CliError> {
        if !self.svc.persistent {
            return Ok(None);
        }
        let prefix_len = match self.svc.family {
            Some(Family::V6) => u8::try_from(self.svc.netmask)
                .ok()
                .filter(|p| (1..=128).contains(p))
                .ok_or_else(|| CliError::usage("illegal ipv6 netmask specified"))?,
            _ => mask_to_prefix(Ipv4Addr::from(self.svc.netmask)).ok_or_else(|| {
                CliError::usage("illegal virtual server persistent mask specified (rvs needs a contiguous mask)")
            })?,
        };
        Ok(Some(Persistence {
            timeout_secs: self.svc.timeout,
            prefix_len,
        }))
    }

    fn service_spec(&self) -> Result<ServiceSpec, CliError> {
        if let Some(pe) = &self.svc.pe {
            return Err(CliError::usage(format!(
                "persistence engine `{pe}' is not supported by rvs"
            )));
        }
        Ok(ServiceSpec {
            key: self.service_key()?,
            scheduler: self.svc.scheduler.clone(),
            sched_flags: self.svc.sched_flags,
            persistence: self.persistence()?,
            one_packet: self.svc.one_packet,
        })
    }

    fn dest_config(&self) -> Result<DestConfig, CliError> {
        if self.dest.tun_type != TunType::Ipip {
            return Err(CliError::usage(format!(
                "tunnel type `{}' is not supported by rvs (only ipip)",
                self.dest.tun_type.name()
            )));
        }
        Ok(DestConfig {
            addr: self.dest.addr,
            port: self.dest.port,
            method: self.dest.method,
            weight: self.dest.weight,
            u_threshold: self.dest.u_threshold,
            l_threshold: self.dest.l_threshold,
        })
    }
}

/// The first option must be the command; -h and -v answer at once.
fn first_command(
    tag: Tag,
    value: Option<String>,
) -> Result<Result<(Cmd, Option<String>), Command>, CliError> {
    let cmd = match tag {
        Tag::AddService => Cmd::Add,
        Tag::EditService => Cmd::Edit,
        Tag::DeleteService => Cmd::Del,
        Tag::AddServer => Cmd::AddDest,
        Tag::EditServer => Cmd::EditDest,
        Tag::DeleteServer => Cmd::DelDest,
        Tag::Clear => Cmd::Flush,
        Tag::List => Cmd::List,
        Tag::Zero => Cmd::Zero,
        Tag::Set => Cmd::Timeout,
        Tag::Restore => Cmd::Restore,
        Tag::Save => Cmd::Save,
        Tag::StartDaemon => Cmd::StartDaemon,
        Tag::StopDaemon => Cmd::StopDaemon,
        Tag::Help => return Ok(Err(Command::Help)),
        Tag::Version => return Ok(Err(Command::Version)),
        _ => return Err(CliError::try_help(PROGRAM)),
    };
    Ok(Ok((cmd, value)))
}

/// Parses an ipvsadm argument list (without the program name). `names`
/// resolves host and port names; numeric forms need none.
pub fn parse(args: &[String], names: &Names) -> Result<Command, CliError> {
    let mut scanner = Scanner::new(args);
    let (cmd, cmd_value) = match scanner.next_option() {
        Some(Ok((tag, value))) => match first_command(tag, value)? {
            Ok(c) => c,
            Err(immediate) => return Ok(immediate),
        },
        _ => return Err(CliError::try_help(PROGRAM)),
    };
    let mut p = Parsed::default();
    match cmd {
        Cmd::StartDaemon => {
            p.daemon_state = Some(match cmd_value.as_deref() {
                Some("master") => SyncState::Master,
                Some("backup") => SyncState::Backup,
                _ => return Err(CliError::usage("illegal start-daemon parameter specified")),
            });
        }
        Cmd::StopDaemon => {
            p.daemon_state = match cmd_value.as_deref() {
                None => None,
                Some("master") => Some(SyncState::Master),
                Some("backup") => Some(SyncState::Backup),
                // ipvsadm's wording.
                Some(_) => return Err(CliError::usage("illegal start_daemon specified")),
            };
        }
        _ => {}
    }

    while let Some(next) = scanner.next_option() {
        let (tag, value) = next.map_err(|e| CliError::parser(scanner.last_word(), e.text()))?;
        let last = scanner.last_word().to_string();
        p.option(tag, value, &last, names)?;
    }

    let mut arguments = std::mem::take(&mut scanner.arguments).into_iter();
    let mut timeouts = Timeouts {
        tcp: 0,
        tcpfin: 0,
        udp: 0,
    };
    if cmd == Cmd::Timeout {
        let (Some(tcp), Some(tcpfin), Some(udp)) =
            (arguments.next(), arguments.next(), arguments.next())
        else {
            return Err(CliError::usage("--set option requires 3 timeout values"));
        };
        timeouts = Timeouts {
            tcp: timeout_value(&tcp, 0)?,
            tcpfin: timeout_value(&tcpfin, 0)?,
            udp: timeout_value(&udp, 0)?,
        };
    }
    if let Some(extra) = arguments.next() {
        return Err(CliError::usage(format!("unexpected argument {extra}")));
    }
    if let Some(text) = p.sched_flags_text.take().filter(|t| !t.is_empty()) {
        p.svc.sched_flags = sched_flags_value(&p.svc.scheduler, &text)?;
    }

    check_options(cmd, p.options)?;
    finish(cmd, p, timeouts)
}

/// ipvsadm's checks and defaults after option parsing, then the command.
fn finish(cmd: Cmd, mut p: Parsed, timeouts: Timeouts) -> Result<Command, CliError> {
    if matches!(cmd, Cmd::Add | Cmd::Edit) {
        if p.svc.fwmark == 0 && p.svc.port == 0 && !p.svc.persistent {
            return Err(CliError::usage(
                "Zero port specified for non-persistent service",
            ));
        }
        if p.svc.one_packet && p.svc.fwmark == 0 && p.svc.protocol != IPPROTO_UDP {
            return Err(CliError::usage(
                "One-Packet Scheduling is only for UDP virtual services",
            ));
        }
        if p.svc.scheduler.is_empty() {
            p.svc.scheduler = DEFAULT_SCHEDULER.to_string();
        }
    }
    if matches!(cmd, Cmd::AddDest | Cmd::EditDest) {
        // Gatewaying and tunnelling keep the destination port: it must be the
        // service port (firewall-mark services have none to force).
        if p.svc.fwmark == 0 && p.dest.method != ForwardMethod::Masq {
            p.dest.port = p.svc.port;
        }
        if p.dest.family != p.svc.family && p.dest.method != ForwardMethod::Tunnel {
            return Err(CliError::usage(
                "Different address family is allowed only for tunneling servers",
            ));
        }
        let tunnel_opts = Opt::TunType.bit()
            | Opt::TunPort.bit()
            | Opt::TunNocsum.bit()
            | Opt::TunCsum.bit()
            | Opt::TunRemcsum.bit();
        if p.options & tunnel_opts != 0 && p.dest.method != ForwardMethod::Tunnel {
            return Err(CliError::usage(
                "Tunnel options conflict with forward method",
            ));
        }
        check_tunnel_options(p.dest.tun_type, p.options)?;
    }

    let command = match cmd {
        Cmd::Add => Command::AddService(p.service_spec()?),
        Cmd::Edit => Command::EditService(p.service_spec()?),
        Cmd::Del => Command::DeleteService(p.service_key()?),
        Cmd::Flush => Command::Clear,
        Cmd::AddDest => Command::AddDest {
            service: p.service_key()?,
            dest: p.dest_config()?,
        },
        Cmd::EditDest => Command::EditDest {
            service: p.service_key()?,
            dest: p.dest_config()?,
        },
        Cmd::DelDest => Command::DeleteDest {
            service: p.service_key()?,
            addr: p.dest.addr,
            port: p.dest.port,
        },
        Cmd::Zero => Command::Zero(if p.has(Opt::Service) {
            Some(p.service_key()?)
        } else {
            None
        }),
        Cmd::Timeout => Command::SetTimeouts(timeouts),
        Cmd::StartDaemon => {
            let state = p.daemon_state.unwrap_or(SyncState::Master);
            let d = std::mem::take(&mut p.daemon);
            Command::StartDaemon(SyncDaemonConfig {
                state,
                mcast_ifn: if d.mcast_ifn.is_empty() {
                    DEFAULT_MCAST_IFN.to_string()
                } else {
                    d.mcast_ifn
                },
                syncid: d.syncid,
                sync_maxlen: d.sync_maxlen,
                mcast_group: d.mcast_group,
                mcast_port: d.mcast_port,
                mcast_ttl: d.mcast_ttl,
            })
        }
        Cmd::StopDaemon => Command::StopDaemon(p.daemon_state),
        Cmd::Restore => Command::Restore,
        Cmd::Save => Command::Save {
            numeric: p.has(Opt::Numeric),
        },
        Cmd::List => {
            let conflicting_format =
                p.has(Opt::Stats) || p.has(Opt::Rate) || p.has(Opt::Thresholds);
            let other_view = p.has(Opt::Connection) || p.has(Opt::Timeout) || p.has(Opt::Daemon);
            if (other_view && conflicting_format)
                || ((p.has(Opt::Timeout) || p.has(Opt::Daemon)) && p.has(Opt::PersistentConn))
            {
                return Err(CliError::usage("options conflicts in the list command"));
            }
            let mut list = std::mem::take(&mut p.list);
            list.view = if p.has(Opt::Connection) {
                ListView::Connections
            } else if p.has(Opt::Service) {
                ListView::Service(p.service_key()?)
            } else if p.has(Opt::Timeout) {
                ListView::Timeouts
            } else if p.has(Opt::Daemon) {
                ListView::Daemons
            } else {
                ListView::All
            };
            Command::List(list)
        }
    };
    Ok(command)
}

/// Takes rvs's `--socket PATH` / `--socket=PATH` out of the arguments, wherever it is.
pub fn take_socket_option(args: &mut Vec<String>) -> Result<Option<String>, CliError> {
    let mut socket = None;
    let mut i = 0;
    while i < args.len() {
        if args[i] == "--" {
            break;
        }
        if let Some(path) = args[i].strip_prefix("--socket=") {
            socket = Some(path.to_string());
            args.remove(i);
        } else if args[i] == "--socket" {
            if i + 1 >= args.len() {
                return Err(CliError::parser("--socket", "missing argument"));
            }
            socket = Some(args.remove(i + 1));
            args.remove(i);
        } else {
            i += 1;
        }
    }
    Ok(socket)
}

/// The `-h` text.
pub fn usage() -> String {
    let p = PROGRAM;
    format!(
        "{version}\
Usage:
  {p} -A|E virtual-service [-s scheduler] [-p [timeout]] [-M netmask] [-b sched-flags]
  {p} -D virtual-service
  {p} -C
  {p} -R
  {p} -S [-n]
  {p} -a|e virtual-service -r server-address [options]
  {p} -d virtual-service -r server-address
  {p} -L|l [virtual-service] [options]
  {p} -Z [virtual-service]
  {p} --set tcp tcpfin udp
  {p} --start-daemon {{master|backup}} [daemon-options]
  {p} --stop-daemon [master|backup]
  {p} -h

Commands:
Either long or short options are allowed.
  --add-service     -A        add virtual service with options
  --edit-service    -E        edit virtual service with options
  --delete-service  -D        delete virtual service
  --clear           -C        clear the whole table
  --restore         -R        restore rules from stdin
  --save            -S        save rules to stdout
  --add-server      -a        add real server with options
  --edit-server     -e        edit real server with options
  --delete-server   -d        delete real server
  --list            -L|-l     list the table
  --zero            -Z        zero counters in a service or all services
  --set tcp tcpfin udp        set connection timeout values
  --start-daemon              start connection sync daemon
  --stop-daemon               stop connection sync daemon
  --help            -h        display this help message

virtual-service:
  --tcp-service|-t  service-address   service-address is host[:port]
  --udp-service|-u  service-address   service-address is host[:port]
  --fwmark-service|-f fwmark          fwmark is an integer greater than zero

Options:
  --ipv6         -6                   fwmark entry uses IPv6
  --scheduler    -s scheduler         one of rr|wrr|lc|wlc|lblc|lblcr|dh|sh|sed|nq|fo|ovf|mh,
                                      the default scheduler is {DEFAULT_SCHEDULER}.
  --persistent   -p [timeout]         persistent service (default {DEFAULT_PERSISTENT_TIMEOUT} seconds)
  --netmask      -M netmask           persistent granularity mask
  --real-server  -r server-address    server-address is host (and port)
  --gatewaying   -g                   gatewaying (direct routing) (default)
  --ipip         -i                   ipip encapsulation (tunneling)
  --masquerading -m                   masquerading (NAT)
  --tun-type      ipip                tunnel type (rvs tunnels with ipip only)
  --weight       -w weight            capacity of real server
  --u-threshold  -x uthreshold        upper threshold of connections
  --l-threshold  -y lthreshold        lower threshold of connections
  --connection   -c                   output of current IPVS connections
  --timeout                           output of timeout (tcp tcpfin udp)
  --daemon                            output of daemon information
  --stats                             output of statistics information
  --rate                              output of rate information
  --exact                             expand numbers (display exact values)
  --thresholds                        output of thresholds information
  --persistent-conn                   output of persistent connection info
  --tun-info                          output of tunnel information
  --nosort                            disable sorting output of service/server entries
  --sort                              does nothing, for backwards compatibility
  --ops          -o                   one-packet scheduling
  --numeric      -n                   numeric output of addresses and ports
  --sched-flags  -b flags             scheduler flags (comma-separated)
  --json                              output of the status as JSON
  --reload                            rvsd re-reads its configuration file (alone)
  --socket       path                 control socket of rvsd
                                      (default $RVSD_SOCKET or /run/rvsd/rvsd.sock)
Daemon Options:
  --syncid sid                        syncid for connection sync (default=0)
  --sync-maxlen length                Max sync message length (default=1472)
  --mcast-interface interface         multicast interface for connection sync
  --mcast-group address               IPv4/IPv6 group (default=224.0.0.81)
  --mcast-port port                   UDP port (default=8848)
  --mcast-ttl ttl                     Multicast TTL (default=1)
",
        version = version_line()
    )
}

/// The `-v` line.
pub fn version_line() -> String {
    format!(
        "{PROGRAM} v{} (ipvsadm v1.31 compatible, IPVS v{})\n",
        env!("CARGO_PKG_VERSION"),
        crate::status::IPVS_VERSION
    )
}

/// What `-v` prints after the version line: the build (git commit, compiler).
pub fn build_line() -> String {
    format!(
        "build: commit {}, {}\n",
        env!("RVS_BUILD_COMMIT"),
        env!("RVS_BUILD_RUSTC")
    )
}

#[cfg(test)]
mod tests;
