//! `rvs-lab`: build a namespace lab and show the director at work (`demo`), or serve as
//! a lab's helper process (`udp-echo`, `tunnel-agent`), or build and remove labs by hand
//! (`up`, `down`).

use std::net::IpAddr;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use std::time::{Duration, Instant};

use rvs_lab::{
    cleanup_stale, AgentMode, DirectorConf, InitialState, Lab, LabError, LabSpec, Method,
    RVSD_AGENT_TEMPLATE, RVS_LAB_AGENT_TEMPLATE, VIP, VIP6,
};
use rvs_realserver::TunnelAgentConfig;

const USAGE: &str = "\
usage:
  rvs-lab demo [--method nat|dr|tun] [--scheduler NAME] [--requests N] [--weights W1,W2,...]
               [--real-servers N] [--ipv6] [--backend-mtu N] [--keep] [--stand-in]
               [--director-cmd TEMPLATE] [--agent-cmd TEMPLATE]
      Build the lab, start rvsd, configure VIP:80 with rvsadm, send N requests through the
      VIP printing which real server answered each, print `rvsadm -L -n --stats` and
      `rvsadm -L -n`, and tear the lab down (unless --keep).
      --stand-in  use the kernel's nftables instead of rvsd (nat and dr only): proves the lab
      --backend-mtu  MTU behind the client's gateway (e.g. 1520: room for the tunnel header)
      --director-cmd  default '{rvsd} -i eth0 -i eth1 --socket {sock}' (nat), '{rvsd} -i eth0 --socket {sock}'
      --agent-cmd     tunnel real servers' agent, default '{rvsd} realserver --tunnel {vip_args}'
  rvs-lab demo --directors 2 [--method nat|dr] [--nopreempt] [--requests N] [--scheduler NAME]
      Two rvsd directors from keepalived.conf (VRRP and connection sync): requests through the
      VIP, the primary killed (SIGKILL, links down), the backup taking over, the primary back
      (preempting, or not with --nopreempt), requests after each step.
  rvs-lab up [--method nat|dr|tun] [--directors 1|2] [--real-servers N] [--ipv6] [--backend-mtu N]
      Build a lab and keep it (tunnel agents: '{rvs_lab} tunnel-agent {vip_args}'); prints its namespaces.
  rvs-lab down
      Remove every kept or leftover lab (namespaces of processes that are gone, and what runs in them).
  rvs-lab udp-echo --port PORT --name NAME
      Answer every UDP datagram to PORT with NAME, from the address it was sent to.
  rvs-lab tcp-echo [--port PORT]
      Echo every byte of every TCP connection to PORT (default 7000) back to its sender.
  rvs-lab tunnel-agent --vip ADDR [--vip ADDR ...] [--tun NAME]
      Decapsulate IP-in-IP to the VIPs through a TUN device until SIGTERM (rvs-realserver).
Binaries: rvsd and rvsadm are found through RVSD_BIN / RVSADM_BIN, next to rvs-lab, or in
target/{release,debug}. Needs root (network namespaces) and scripts/deps.sh's tools.";

/// `println!` that ignores a closed stdout (`rvs-lab demo | head`): the demo must go on
/// to tear its lab down rather than panic.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// `print!` that ignores a closed stdout.
macro_rules! out_raw {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout(), $($arg)*);
    }};
}

/// A minimal stderr logger for the tunnel agent's and the responder's records.
struct StderrLogger;

impl log::Log for StderrLogger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "{}: {}", record.level(), record.args());
        }
    }

    fn flush(&self) {}
}

static LOGGER: StderrLogger = StderrLogger;

fn init_logging() {
    let level = match std::env::var("RVS_LAB_LOG").as_deref() {
        Ok("debug") => log::LevelFilter::Debug,
        Ok("warn") => log::LevelFilter::Warn,
        _ => log::LevelFilter::Info,
    };
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(level);
    }
}

/// Set by SIGINT/SIGTERM while a demo runs: it then stops and tears its lab down.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_interrupt(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Turns SIGINT and SIGTERM into [`INTERRUPTED`], so a demo never leaves a lab behind.
fn catch_interrupts() {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: the handler only stores to an atomic (async-signal-safe).
        unsafe {
            libc::signal(
                sig,
                on_interrupt as extern "C" fn(libc::c_int) as libc::sighandler_t,
            )
        };
    }
}

fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// Command-line failures: a message for the user.
type CliResult<T> = Result<T, String>;

/// A simple argument cursor: `--flag`, `--option VALUE`.
struct Args {
    items: Vec<String>,
    at: usize,
}

impl Args {
    fn next(&mut self) -> Option<String> {
        let item = self.items.get(self.at).cloned();
        self.at += 1;
        item
    }

    fn value(&mut self, option: &str) -> CliResult<String> {
        self.next().ok_or_else(|| format!("{option} needs a value"))
    }

    fn number<T: std::str::FromStr>(&mut self, option: &str) -> CliResult<T> {
        let v = self.value(option)?;
        v.parse()
            .map_err(|_| format!("{option}: not a number: {v}"))
    }
}

fn main() -> ExitCode {
    init_logging();
    let mut args = Args {
        items: std::env::args().skip(1).collect(),
        at: 0,
    };
    let result = match args.next().as_deref() {
        Some("demo") => demo(&mut args),
        Some("up") => up(&mut args),
        Some("down") => down(),
        Some("udp-echo") => udp_echo(&mut args),
        Some("tcp-echo") => tcp_echo(&mut args),
        Some("tunnel-agent") => tunnel_agent(&mut args),
        Some("help" | "--help" | "-h") => {
            out!("{USAGE}");
            Ok(ExitCode::SUCCESS)
        }
        Some(other) => Err(format!("unknown command {other:?}\n{USAGE}")),
        None => Err(USAGE.to_owned()),
    };
    match result {
        Ok(code) => code,
        Err(msg) => {
            eprintln!("rvs-lab: {msg}");
            ExitCode::FAILURE
        }
    }
}

fn lab_error(e: LabError) -> String {
    e.to_string()
}

fn require_root(what: &str) -> CliResult<()> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err(format!(
            "{what} needs root (network namespaces): run it with sudo"
        ));
    }
    Ok(())
}

struct DemoOptions {
    spec: LabSpec,
    scheduler: String,
    requests: usize,
    weights: Vec<u32>,
    keep: bool,
    stand_in: bool,
    director_cmd: Option<String>,
    nopreempt: bool,
}

fn parse_demo(args: &mut Args) -> CliResult<DemoOptions> {
    let mut opts = DemoOptions {
        spec: LabSpec::default(),
        scheduler: "rr".to_owned(),
        requests: 6,
        weights: Vec::new(),
        keep: false,
        stand_in: false,
        director_cmd: None,
        nopreempt: false,
    };
    let mut agent_cmd = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--method" | "-m" => opts.spec.method = args.value(&arg)?.parse()?,
            "--scheduler" | "-s" => opts.scheduler = args.value(&arg)?,
            "--requests" | "-n" => opts.requests = args.number(&arg)?,
            "--real-servers" => opts.spec.real_servers = args.number(&arg)?,
            "--weights" => {
                opts.weights = args
                    .value(&arg)?
                    .split(',')
                    .map(|w| {
                        w.trim()
                            .parse()
                            .map_err(|_| format!("--weights: not a number: {w}"))
                    })
                    .collect::<CliResult<_>>()?;
            }
            "--ipv6" | "-6" => opts.spec.ipv6 = true,
            "--backend-mtu" => opts.spec.backend_mtu = Some(args.number(&arg)?),
            "--keep" => opts.keep = true,
            "--stand-in" => opts.stand_in = true,
            "--director-cmd" => opts.director_cmd = Some(args.value(&arg)?),
            "--agent-cmd" => agent_cmd = Some(args.value(&arg)?),
            "--directors" => opts.spec.directors = args.number(&arg)?,
            "--nopreempt" => opts.nopreempt = true,
            _ => return Err(format!("demo: unknown option {arg:?}\n{USAGE}")),
        }
    }
    if opts.requests > 10_000 {
        return Err("--requests: at most 10000".to_owned());
    }
    if !opts.weights.is_empty() {
        opts.spec.real_servers = opts.weights.len();
    }
    if opts.spec.directors > 1 && (opts.stand_in || opts.director_cmd.is_some() || opts.keep) {
        return Err(
            "--directors 2: runs rvsd from keepalived.conf on both; --stand-in, --director-cmd and --keep do not apply"
                .to_owned(),
        );
    }
    if opts.nopreempt && opts.spec.directors < 2 {
        return Err("--nopreempt: only with --directors 2".to_owned());
    }
    opts.spec.tunnel_agent =
        AgentMode::Command(agent_cmd.unwrap_or_else(|| RVSD_AGENT_TEMPLATE.to_owned()));
    Ok(opts)
}

fn describe(lab: &Lab) -> String {
    let roles: Vec<&str> = lab
        .namespaces()
        .iter()
        .map(|n| n.strip_prefix(lab.prefix()).unwrap_or(n))
        .collect();
    format!("{}{{{}}}", lab.prefix(), roles.join(","))
}

fn demo(args: &mut Args) -> CliResult<ExitCode> {
    let opts = parse_demo(args)?;
    require_root("rvs-lab demo")?;
    if opts.spec.directors > 1 {
        return failover_demo(&opts);
    }
    let method = opts.spec.method;
    if opts.stand_in && method == Method::Tunnel {
        return Err("--stand-in: the kernel here cannot encapsulate (no ipip module), so the tunnel method has no stand-in; it needs rvsd".to_owned());
    }
    if !opts.stand_in {
        // Say what is missing before building anything.
        rvs_lab::locate(rvs_lab::Binary::Rvsd).map_err(lab_error)?;
        rvs_lab::locate(rvs_lab::Binary::Rvsadm).map_err(lab_error)?;
    }
    out!(
        "building the {} lab ({} real servers{})...",
        method,
        opts.spec.real_servers,
        if opts.spec.ipv6 { ", IPv6 too" } else { "" }
    );
    catch_interrupts();
    let lab = Lab::build(&opts.spec).map_err(lab_error)?;
    out!("  namespaces {}", describe(&lab));
    if interrupted() {
        out!("interrupted: tearing the lab down.");
        return Ok(ExitCode::from(130));
    }

    let services = configure_director(&lab, &opts)?;
    let mut failures = 0;
    for (label, url) in services
        .iter()
        .map(|(label, url)| (label.as_str(), url.as_str()))
    {
        out!(
            "sending {} requests to {url} from the client:",
            opts.requests
        );
        for i in 1..=opts.requests {
            if interrupted() {
                out!("interrupted: tearing the lab down.");
                return Ok(ExitCode::from(130));
            }
            match lab.curl(url) {
                Ok(body) => out!("  request {i}{label} -> {}", body.trim()),
                Err(e) => {
                    failures += 1;
                    out!(
                        "  request {i}{label} -> failed: {}",
                        first_line(&e.to_string())
                    );
                }
            }
        }
    }
    report_director(&lab, &opts);

    if opts.keep {
        let kept = lab.keep().map_err(lab_error)?;
        out!("keeping the lab: namespaces {}", kept.namespaces.join(" "));
        out!("  try: ip netns exec {}cli curl http://{VIP}/", kept.prefix);
        out!("  remove it with: rvs-lab down");
    } else {
        out!("tearing the lab down.");
        drop(lab);
    }
    if failures > 0 {
        eprintln!("rvs-lab: {failures} request(s) failed");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

/// Starts the director (or the stand-in) and configures the virtual services; returns
/// the (label, URL) pairs to request.
fn configure_director(lab: &Lab, opts: &DemoOptions) -> CliResult<Vec<(String, String)>> {
    let mut services = vec![(String::new(), lab.url("/"))];
    if opts.spec.ipv6 {
        services.push((" (IPv6)".to_owned(), lab.url6("/")));
    }
    if opts.stand_in {
        out!("installing the kernel stand-in (nftables) in the director's namespace");
        match lab.method() {
            Method::Nat => lab.start_nat_standin(),
            _ => lab.start_route_standin(),
        }
        .map_err(lab_error)?;
        return Ok(services);
    }
    let template = opts
        .director_cmd
        .as_deref()
        .unwrap_or(lab.default_director_template());
    out!("starting the director: {template}");
    lab.start_director(Some(template)).map_err(|e| {
        format!(
            "{e}\n(the director's log is in {})",
            lab.dir().join("logs").display()
        )
    })?;
    let mut vips = vec![format!("{VIP}:80")];
    if opts.spec.ipv6 {
        vips.push(format!("[{VIP6}]:80"));
    }
    out!(
        "configuring the virtual service{}:",
        if vips.len() > 1 { "s" } else { "" }
    );
    let flag = lab.method().ipvsadm_flag();
    for vip in &vips {
        rvsadm_shown(lab, &["-A", "-t", vip, "-s", &opts.scheduler])?;
        for (i, rs) in lab.real_servers().iter().enumerate() {
            let weight = opts.weights.get(i).copied().unwrap_or(1).to_string();
            let rip = if vip.starts_with('[') {
                match rs.ip6 {
                    Some(ip6) => format!("[{ip6}]:80"),
                    None => continue,
                }
            } else {
                format!("{}:80", rs.ip)
            };
            rvsadm_shown(lab, &["-a", "-t", vip, "-r", &rip, flag, "-w", &weight])?;
        }
    }
    Ok(services)
}

fn rvsadm_shown(lab: &Lab, args: &[&str]) -> CliResult<String> {
    out!("  rvsadm {}", args.join(" "));
    lab.rvsadm(args).map_err(lab_error)
}

fn report_director(lab: &Lab, opts: &DemoOptions) {
    if opts.stand_in {
        out!("the stand-in's nftables rules:");
        match lab.exec_ok(lab.director_ns(), &["nft", "list", "ruleset"]) {
            Ok(text) => out_raw!("{text}"),
            Err(e) => out!("  (nft list ruleset failed: {e})"),
        }
        return;
    }
    for args in [&["-L", "-n", "--stats"][..], &["-L", "-n"][..]] {
        out!("rvsadm {}:", args.join(" "));
        match lab.rvsadm(args) {
            Ok(text) => out_raw!("{text}"),
            Err(e) => out!("  (failed: {e})"),
        }
    }
}

/// The floating addresses of a two-director lab.
fn floating(method: Method) -> Vec<std::net::Ipv4Addr> {
    match method {
        Method::Nat => vec![rvs_lab::CLIENT_GW, rvs_lab::DIP],
        _ => vec![rvs_lab::DIP],
    }
}

/// Waits until director `i` holds every floating address; the time it took.
fn wait_master(lab: &Lab, i: usize, limit: Duration) -> CliResult<Duration> {
    let start = Instant::now();
    for addr in floating(lab.method()) {
        let left = limit.saturating_sub(start.elapsed());
        lab.wait_for_holder(addr, i, left).map_err(|e| {
            format!(
                "{e}\n--- director {i} ---\n{}",
                tail_lines(&lab.director_log_of(i), 15)
            )
        })?;
    }
    Ok(start.elapsed())
}

fn tail_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Sends `n` requests through the VIP, printing who answered; the failures.
fn demo_requests(lab: &Lab, n: usize, label: &str) -> usize {
    let mut failures = 0;
    for i in 1..=n {
        match lab.curl_with(&["--max-time", "2", &lab.url("/")]) {
            Ok(body) => out!("  request {i} ({label}) -> {}", body.trim()),
            Err(e) => {
                failures += 1;
                out!(
                    "  request {i} ({label}) -> failed: {}",
                    first_line(&e.to_string())
                );
            }
        }
    }
    failures
}

/// `rvs-lab demo --directors 2`: see the usage.
fn failover_demo(opts: &DemoOptions) -> CliResult<ExitCode> {
    let method = opts.spec.method;
    rvs_lab::locate(rvs_lab::Binary::Rvsd).map_err(lab_error)?;
    rvs_lab::locate(rvs_lab::Binary::Rvsadm).map_err(lab_error)?;
    out!(
        "building the {method} lab with two directors ({} real servers)...",
        opts.spec.real_servers
    );
    catch_interrupts();
    let lab = Lab::build(&opts.spec).map_err(lab_error)?;
    out!("  namespaces {}", describe(&lab));
    let servers: Vec<std::net::Ipv4Addr> = lab.real_servers().iter().map(|r| r.ip).collect();
    let mut templates = Vec::new();
    for (i, priority) in [(1, 150), (2, 100)] {
        let state = if i == 1 && !opts.nopreempt {
            InitialState::Master
        } else {
            InitialState::Backup
        };
        let mut conf = DirectorConf::new(method, i, state, priority);
        conf.nopreempt = opts.nopreempt;
        conf.scheduler = opts.scheduler.clone();
        conf.service_ports = vec![80, rvs_lab::TCP_ECHO_PORT];
        conf.real_servers = servers.clone();
        let path = lab.dir().join(format!("d{i}.conf"));
        std::fs::write(&path, conf.text()).map_err(|e| format!("{}: {e}", path.display()))?;
        out!(
            "director {i}: state {}, priority {priority}{}, keepalived.conf {}",
            match state {
                InitialState::Master => "MASTER",
                InitialState::Backup => "BACKUP",
            },
            if opts.nopreempt { ", nopreempt" } else { "" },
            path.display()
        );
        templates.push(format!(
            "{{rvsd}} {{ifaces}} --socket {{sock}} -f {}",
            path.display()
        ));
    }
    let addrs = floating(method)
        .iter()
        .map(|a| a.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let mut failures = 0;
    let start = |i: usize| -> CliResult<()> {
        out!("starting director {i}: {}", templates[i - 1]);
        lab.start_director_at(i, Some(&templates[i - 1]))
            .map(drop)
            .map_err(lab_error)
    };
    start(1)?;
    let t = wait_master(&lab, 1, Duration::from_secs(15))?;
    out!(
        "director 1 is master after {:.2} s (holds {addrs})",
        t.as_secs_f64()
    );
    start(2)?;
    // Let the checkers of both find the real servers.
    std::thread::sleep(Duration::from_secs(3));
    if interrupted() {
        return Ok(ExitCode::from(130));
    }
    failures += demo_requests(&lab, opts.requests, "through director 1");

    out!("killing director 1: SIGKILL of rvsd, its links down");
    lab.kill_director(1).map_err(lab_error)?;
    let t = wait_master(&lab, 2, Duration::from_secs(10))?;
    out!(
        "director 2 holds {addrs} {:.2} s after the death (3 x advert_int + skew = 3.61 s)",
        t.as_secs_f64()
    );
    failures += demo_requests(&lab, opts.requests, "through director 2");
    if interrupted() {
        return Ok(ExitCode::from(130));
    }

    out!("director 1 comes back: links up, rvsd started again");
    lab.revive_director(1).map_err(lab_error)?;
    start(1)?;
    if opts.nopreempt {
        std::thread::sleep(Duration::from_secs(6));
        let holders = lab.holders_of(rvs_lab::DIP).map_err(lab_error)?;
        out!("with nopreempt, 6 s later the addresses are on director(s) {holders:?}");
        failures += demo_requests(&lab, opts.requests, "after the return");
    } else {
        let t = wait_master(&lab, 1, Duration::from_secs(15))?;
        out!(
            "director 1 preempted: holds {addrs} again {:.2} s after its start",
            t.as_secs_f64()
        );
        failures += demo_requests(&lab, opts.requests, "through director 1");
    }
    for i in 1..=2 {
        out!("director {i}: rvsadm -L -n --stats");
        match lab.rvsadm_at(i, &["-L", "-n", "--stats"]) {
            Ok(text) => out_raw!("{text}"),
            Err(e) => out!("  (failed: {e})"),
        }
    }
    out!("tearing the lab down.");
    drop(lab);
    if failures > 0 {
        eprintln!("rvs-lab: {failures} request(s) failed");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

fn up(args: &mut Args) -> CliResult<ExitCode> {
    let mut spec = LabSpec::default();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--method" | "-m" => spec.method = args.value(&arg)?.parse()?,
            "--real-servers" => spec.real_servers = args.number(&arg)?,
            "--ipv6" | "-6" => spec.ipv6 = true,
            "--backend-mtu" => spec.backend_mtu = Some(args.number(&arg)?),
            "--agent-cmd" => spec.tunnel_agent = AgentMode::Command(args.value(&arg)?),
            "--directors" => spec.directors = args.number(&arg)?,
            _ => return Err(format!("up: unknown option {arg:?}\n{USAGE}")),
        }
    }
    if spec.tunnel_agent == AgentMode::InProcess {
        spec.tunnel_agent = AgentMode::Command(RVS_LAB_AGENT_TEMPLATE.to_owned());
    }
    require_root("rvs-lab up")?;
    let lab = Lab::build(&spec).map_err(lab_error)?;
    let kept = lab.keep().map_err(lab_error)?;
    out!("{} lab up: {}", spec.method, kept.namespaces.join(" "));
    out!(
        "  client: ip netns exec {}cli curl http://{VIP}/",
        kept.prefix
    );
    if spec.directors > 1 {
        out!(
            "  directors: ip netns exec {0}dir1 ..., ip netns exec {0}dir2 ...",
            kept.prefix
        );
    } else {
        out!("  director: ip netns exec {}dir ...", kept.prefix);
    }
    out!("  files: {}", kept.dir.display());
    out!("  remove it with: rvs-lab down");
    Ok(ExitCode::SUCCESS)
}

fn down() -> CliResult<ExitCode> {
    require_root("rvs-lab down")?;
    let removed = cleanup_stale().map_err(lab_error)?;
    if removed.is_empty() {
        out!("no lab to remove");
    } else {
        out!("removed {}", removed.join(" "));
    }
    let dir = std::env::temp_dir().join("rvs-lab");
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            // Directories of labs whose namespaces are gone.
            let live = rvs_lab::netns::list()
                .map(|l| l.iter().any(|n| n.starts_with(&format!("{name}-"))))
                .unwrap_or(true);
            if !live {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn udp_echo(args: &mut Args) -> CliResult<ExitCode> {
    let mut port = rvs_lab::UDP_PORT;
    let mut name = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" | "-p" => port = args.number(&arg)?,
            "--name" => name = Some(args.value(&arg)?),
            _ => return Err(format!("udp-echo: unknown option {arg:?}")),
        }
    }
    let name = name.ok_or("udp-echo: --name is required")?;
    let never = AtomicBool::new(false);
    rvs_lab::udp_echo::serve(port, &name, &never)
        .map_err(|e| format!("udp-echo on port {port}: {e}"))?;
    Ok(ExitCode::SUCCESS)
}

fn tcp_echo(args: &mut Args) -> CliResult<ExitCode> {
    let mut port = rvs_lab::TCP_ECHO_PORT;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" | "-p" => port = args.number(&arg)?,
            _ => return Err(format!("tcp-echo: unknown option {arg:?}")),
        }
    }
    let never = AtomicBool::new(false);
    rvs_lab::tcp_echo::serve(port, &never).map_err(|e| format!("tcp-echo on port {port}: {e}"))?;
    Ok(ExitCode::SUCCESS)
}

fn tunnel_agent(args: &mut Args) -> CliResult<ExitCode> {
    let mut cfg = TunnelAgentConfig::default();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--vip" => {
                let v = args.value(&arg)?;
                let vip: IpAddr = v
                    .parse()
                    .map_err(|_| format!("--vip: not an address: {v}"))?;
                cfg.vips.push(vip);
            }
            "--tun" => cfg.tun_name = args.value(&arg)?,
            // Accepted for the same command line as `rvsd realserver --tunnel`.
            "--tunnel" => {}
            _ => return Err(format!("tunnel-agent: unknown option {arg:?}")),
        }
    }
    if cfg.vips.is_empty() {
        return Err("tunnel-agent: at least one --vip is required".to_owned());
    }
    rvs_realserver::run(&cfg).map_err(|e| format!("tunnel agent: {e}"))?;
    Ok(ExitCode::SUCCESS)
}
