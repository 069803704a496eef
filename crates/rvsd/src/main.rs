//! `rvsd`, the rvs director daemon.
//!
//! It handles the interfaces named with `-i` (the first one faces the clients):
//! AF_PACKET rings feed one or more workers, each a shard of the sans-IO director;
//! a control socket takes `rvsadm` requests; nftables rules keep the kernel away from
//! what the director handles. `rvsd realserver --tunnel` runs the real-server side of
//! the tunnel method on hosts without the ipip module.

mod control;
mod dataplane;
mod docs;
mod fileconf;
mod health;
mod hooks;
mod host;
mod observe;
mod ports;
mod server;
mod sync;
mod vrrp;
mod worker;

use std::hash::{BuildHasher, Hasher};
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::channel;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use clap::{Args, Parser, Subcommand};
use rvs_core::service::{Limits, ServiceTable};
use rvs_io::{NeighCache, PacketSocket, RingConfig, RtNetlink, TxRing};

use control::{Announcer, Control};

pub const DEFAULT_SOCKET: &str = "/run/rvsd/rvsd.sock";

#[derive(Parser, Debug)]
#[command(
    name = "rvsd",
    version = observe::VERSION,
    long_version = observe::LONG_VERSION,
    about = "rvs director daemon: Linux Virtual Server in user space"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Cmd>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Args, Debug)]
struct RunArgs {
    /// Interface to handle (repeat; the first faces the clients).
    #[arg(short = 'i', long = "interface")]
    interfaces: Vec<String>,
    /// Control socket for rvsadm.
    #[arg(short = 's', long, default_value = DEFAULT_SOCKET, env = "RVSD_SOCKET")]
    socket: PathBuf,
    /// Data-plane worker threads.
    #[arg(short = 'w', long, default_value_t = 1)]
    workers: u32,
    /// log2 of the connection hash buckets per worker (IPVS's conn_tab_bits).
    #[arg(long, default_value_t = 20)]
    conn_tab_bits: u8,
    /// Most connections per worker and address family.
    #[arg(long, default_value_t = 4_000_000)]
    max_conns: u32,
    /// Rules to restore at start, in ipvsadm-save format (as `ipvsadm -R` reads).
    #[arg(long)]
    rules: Option<PathBuf>,
    /// Configuration file: keepalived.conf, ldirectord.cf or Piranha's lvs.cf (the
    /// format is recognised). Health checks run as it says; SIGHUP or `rvsadm --reload`
    /// re-reads it.
    #[arg(short = 'f', long = "config")]
    config: Option<PathBuf>,
    /// Check a configuration file and exit: 0 if it loads, 1 with file:line:column: reason.
    #[arg(long, value_name = "FILE")]
    check_config: Option<PathBuf>,
    /// A file holding a shared secret: sync messages carry an HMAC-SHA256 made with it
    /// and unsigned ones are refused (every director of the cluster needs the key).
    #[arg(long, value_name = "FILE")]
    sync_key: Option<PathBuf>,
    /// Seconds over which a recovered or newly added real server's weight ramps up
    /// (0: off).
    #[arg(long, default_value_t = 0)]
    slow_start: u64,
    /// Do not install nftables rules (the kernel will also see VIP traffic).
    #[arg(long)]
    no_host_setup: bool,
    /// Log filter (also RUST_LOG), e.g. info, debug, rvsd=debug.
    #[arg(long, default_value = "info")]
    log_level: String,
    /// Serve Prometheus metrics (/metrics), the status page (/) and /status.json over
    /// HTTP on ADDR; off unless given, 127.0.0.1:9810 without ADDR. Never a VIP or a
    /// wildcard address: a loopback or management address.
    #[arg(long, value_name = "ADDR", num_args = 0..=1,
          default_missing_value = rvs_web::DEFAULT_LISTEN, env = "RVSD_METRICS_LISTEN")]
    metrics_listen: Option<SocketAddr>,
    /// Packet I/O: AF_XDP (with the director's XDP program), AF_PACKET, or XDP falling
    /// back to AF_PACKET.
    #[arg(long, value_enum, default_value = "auto", env = "RVSD_BACKEND")]
    backend: dataplane::BackendChoice,
    /// AF_PACKET: 128 KB ring slots, so that GRO/GSO super-frames of interfaces left with
    /// offloads on pass whole (their checksums and segmentation left to the kernel).
    #[arg(long)]
    gso: bool,
    /// Where the XDP program runs: native (in the driver) where it can, else generic.
    #[arg(long, value_enum, default_value = "auto")]
    xdp_mode: dataplane::XdpModeChoice,
    /// Complete partial checksums in user space instead of leaving them to the kernel
    /// (for captures that check checksums, or egress NICs without checksum offload).
    #[arg(long)]
    complete_checksums: bool,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// The real-server side of the tunnel method, for kernels without ipip.
    Realserver(RealserverArgs),
    /// Write the man pages and shell completions into a directory (packaging).
    #[command(hide = true)]
    GenDocs(docs::GenDocsArgs),
}

#[derive(Args, Debug)]
struct RealserverArgs {
    /// Decapsulate IP-in-IP and deliver the inner packets locally.
    #[arg(long)]
    tunnel: bool,
    /// A VIP this real server serves (repeat).
    #[arg(long = "vip", required = true)]
    vips: Vec<IpAddr>,
    /// Name of the TUN device to create.
    #[arg(long, default_value = "rvstun0")]
    tun_name: String,
    #[arg(long, default_value = "info")]
    log_level: String,
}

fn init_logging(level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .init();
}

fn main() {
    let cli = Cli::parse();
    let code = match cli.command {
        Some(Cmd::Realserver(a)) => {
            init_logging(&a.log_level);
            run_realserver(a)
        }
        Some(Cmd::GenDocs(a)) => docs::generate(&a),
        None => {
            init_logging(&cli.run.log_level);
            run_director(cli.run)
        }
    };
    std::process::exit(code);
}

fn run_realserver(a: RealserverArgs) -> i32 {
    if !a.tunnel {
        eprintln!("rvsd realserver: only --tunnel is implemented");
        return 2;
    }
    let mut cfg = rvs_realserver::TunnelAgentConfig::new(a.vips);
    cfg.tun_name = a.tun_name;
    // Runs until SIGTERM/SIGINT; undoes what it changed on the way out.
    match rvs_realserver::run(&cfg) {
        Ok(()) => 0,
        Err(e) => {
            tracing::error!("tunnel agent: {e}");
            eprintln!("rvsd realserver: {e}");
            1
        }
    }
}

/// Gratuitous ARP / unsolicited NA through small TX-only rings.
struct RingAnnouncer {
    rings: Vec<Option<TxRing>>,
}

impl Announcer for RingAnnouncer {
    fn announce(&mut self, port: usize, frame: &[u8]) {
        if let Some(Some(tx)) = self.rings.get_mut(port) {
            if tx.push(frame).is_ok() {
                let _ = tx.flush();
            }
        }
    }
}

fn random_seed() -> u64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(std::process::id() as u64);
    h.finish()
}

/// Tell systemd (Type=notify) that we are ready, if it is listening.
fn sd_notify(state: &str) {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let sock = match std::os::unix::net::UnixDatagram::unbound() {
        Ok(s) => s,
        Err(_) => return,
    };
    let p = path.to_string_lossy().to_string();
    let res = if let Some(abs) = p.strip_prefix('@') {
        use std::os::linux::net::SocketAddrExt;
        std::os::unix::net::SocketAddr::from_abstract_name(abs.as_bytes())
            .and_then(|addr| sock.send_to_addr(state.as_bytes(), &addr))
    } else {
        sock.send_to(state.as_bytes(), &p)
    };
    if let Err(e) = res {
        tracing::debug!("sd_notify: {e}");
    }
}

fn run_director(args: RunArgs) -> i32 {
    match director_main(args) {
        Ok(()) => 0,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("rvsd: {e}");
            1
        }
    }
}

/// `rvsd --check-config FILE`: load, report, exit.
fn check_config(path: &std::path::Path) -> i32 {
    let mut ids = fileconf::TargetIds::default();
    match fileconf::load(path, &mut ids).and_then(|plan| {
        vrrp::validate(&plan.loaded)?;
        Ok(plan)
    }) {
        Ok(plan) => {
            let reals: usize = plan.base.services.iter().map(|s| s.dests.len()).sum();
            println!(
                "{}: ok ({:?}): {} virtual services, {} real servers, {} health checks, {} VRRP instances",
                path.display(),
                plan.loaded.source,
                plan.base.services.len(),
                reals,
                plan.checks.len(),
                plan.loaded.vrrp_instances.len()
            );
            for n in &plan.notes {
                println!("  {n}");
            }
            0
        }
        Err(e) => {
            eprintln!("{e}");
            1
        }
    }
}

fn director_main(args: RunArgs) -> Result<(), String> {
    if let Some(path) = &args.check_config {
        std::process::exit(check_config(path));
    }
    // Load the configuration file before touching the host: a bad file changes nothing.
    let mut ids = fileconf::TargetIds::default();
    let plan = match &args.config {
        Some(path) => Some(fileconf::load(path, &mut ids)?),
        None => None,
    };
    if args.interfaces.is_empty() {
        return Err("no interface given: rvsd -i IFACE [-i IFACE ...]".into());
    }
    let workers_n = NonZeroU32::new(args.workers).ok_or("--workers must be at least 1")?;
    let epoch = Instant::now();
    let ports = ports::discover(&args.interfaces).map_err(|e| e.to_string())?;
    let mut nl = RtNetlink::open().map_err(|e| format!("rtnetlink: {e}"))?;
    let routes =
        ports::kernel_routes(&mut nl, &ports).map_err(|e| format!("reading routes: {e}"))?;
    for p in &ports {
        tracing::info!(
            port = p.id.0,
            name = %p.name,
            mac = %rvs_wire::ether::MacAddr(p.config.mac),
            mtu = p.config.mtu,
            addrs = ?p.config.addrs.iter().map(|a| format!("{}/{}", a.addr, a.prefix_len)).collect::<Vec<_>>(),
            "port"
        );
    }

    // Data plane first: with XDP the kernel never sees the director's traffic, and no
    // nftables rules are needed.
    let backend = dataplane::Backend::open(
        args.backend,
        &ports,
        workers_n,
        dataplane::PacketOptions {
            gso: args.gso,
            xdp_mode: args.xdp_mode.mode(),
        },
    )?;
    tracing::info!(backend = backend.name(), "data plane");
    let xdp_hook = backend.hook(&ports);

    // Host rules: start clean (a previous instance may have crashed), then install.
    let _ = host::HostSetup::new(args.interfaces.clone(), !args.no_host_setup).remove();
    let mut host = host::HostSetup::new(
        args.interfaces.clone(),
        !args.no_host_setup && backend.needs_host_rules(),
    );
    host.apply(&host::DropSets::default())
        .map_err(|e| format!("installing nftables rules: {e}"))?;

    let limits = Limits::default();
    let table = ServiceTable::new(limits);
    let snap = table.snapshot();
    let snapshot = Arc::new(ArcSwap::new(snap.clone()));

    // Neighbours: a watched copy of the kernel's table; resolutions on request.
    let cache = NeighCache::new();
    let _watcher = cache
        .watch()
        .map_err(|e| format!("neighbour watcher: {e}"))?;
    let (resolve_tx, resolve_rx) = channel::<(u32, IpAddr)>();
    std::thread::Builder::new()
        .name("rvsd-resolver".into())
        .spawn(move || {
            let mut nl = match RtNetlink::open() {
                Ok(n) => n,
                Err(e) => {
                    tracing::error!("resolver: {e}");
                    return;
                }
            };
            while let Ok((ifindex, ip)) = resolve_rx.recv() {
                if let Err(e) = nl.neigh_resolve(ifindex, ip) {
                    tracing::debug!(%ip, "neighbour resolution: {e}");
                }
            }
        })
        .map_err(|e| e.to_string())?;

    // Workers.
    let stop = Arc::new(AtomicBool::new(false));
    let (handles, joins): (Vec<_>, Vec<_>) = backend
        .spawn(dataplane::SpawnContext {
            ports: ports.clone(),
            conn_tab_bits: args.conn_tab_bits,
            max_conns: args.max_conns,
            limits,
            snap: snap.clone(),
            snapshot: snapshot.clone(),
            cache: cache.clone(),
            resolve: resolve_tx.clone(),
            stop: stop.clone(),
            epoch,
            seed: random_seed,
            complete_checksums: args.complete_checksums,
        })?
        .into_iter()
        .unzip();

    let announcer = RingAnnouncer {
        rings: ports
            .iter()
            .map(|p| {
                let cfg = RingConfig {
                    rx_frames: 0,
                    tx_frames: 64,
                    ..RingConfig::default()
                };
                PacketSocket::open(&p.name, &cfg).ok().map(|s| s.split().1)
            })
            .collect(),
    };
    let sync_key = match &args.sync_key {
        Some(p) => {
            let secret = std::fs::read(p).map_err(|e| format!("sync key {}: {e}", p.display()))?;
            let secret = String::from_utf8_lossy(&secret).trim().as_bytes().to_vec();
            if secret.is_empty() {
                return Err(format!("sync key {} is empty", p.display()));
            }
            Some(rvs_sync::SyncKey::new(1, &secret))
        }
        None => None,
    };
    let conn_tab_size = 1u32 << args.conn_tab_bits.min(31);
    let control = Arc::new(Mutex::new(Control::new(
        table,
        snapshot,
        ports,
        routes,
        host,
        handles,
        Some(Box::new(announcer)),
        resolve_tx,
        epoch,
        conn_tab_size,
    )));
    if let Some(hook) = xdp_hook {
        control
            .lock()
            .map_err(|_| "control lock poisoned")?
            .add_hook(hook);
    }

    if let Ok(mut c) = control.lock() {
        c.sync_key = sync_key;
    }
    // VRRP (keepalived's vrrp_instance blocks): the master's kernel holds the VIPs.
    let mut vrrp_runtime = match &plan {
        Some(p) => vrrp::start(&p.loaded)?,
        None => None,
    };
    if let Some(v) = &vrrp_runtime {
        let mut c = control.lock().map_err(|_| "control lock poisoned")?;
        c.set_answer_arp(false);
        c.vrrp = Some(v.states.clone());
    }
    if let Some(plan) = plan {
        for n in &plan.notes {
            tracing::info!("{n}");
        }
        let (engine, mut events) = rvs_health::HealthEngine::start(plan.checks.clone())
            .map_err(|e| format!("{}: health checks: {e}", plan.path.display()))?;
        let base = plan.base.clone();
        let path = plan.path.clone();
        {
            let mut c = control.lock().map_err(|_| "control lock poisoned")?;
            c.health = health::HealthView::new(Duration::from_secs(args.slow_start));
            c.health.sync_targets(&plan);
            c.file = Some(control::FileState {
                plan,
                ids,
                engine: Some(engine),
            });
            c.publish(&base)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            c.config = base;
            c.reconcile_daemons();
        }
        let ctl = control.clone();
        std::thread::Builder::new()
            .name("rvsd-health".into())
            .spawn(move || {
                while let Some(ev) = events.blocking_recv() {
                    match ctl.lock() {
                        Ok(mut c) => c.on_health(&ev),
                        Err(_) => return,
                    }
                }
            })
            .map_err(|e| e.to_string())?;
        tracing::info!(file = %path.display(), "configuration loaded");
    } else {
        let mut c = control.lock().map_err(|_| "control lock poisoned")?;
        c.health = health::HealthView::new(Duration::from_secs(args.slow_start));
    }

    if let Some(path) = &args.rules {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let names = rvs_admin::names::Names::system();
        let cmds = rvs_admin::save::parse_restore(&text, &names)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let cmds: Vec<_> = cmds.into_iter().map(|(_, c)| c).collect();
        let mut c = control.lock().map_err(|_| "control lock poisoned")?;
        if let rvs_admin::proto::Response::Error { message, .. } = c.apply(&cmds) {
            return Err(format!("{}: {message}", path.display()));
        }
        tracing::info!(rules = %path.display(), "restored");
    }

    let server = server::ControlServer::bind(&args.socket, control.clone())
        .map_err(|e| format!("control socket {}: {e}", args.socket.display()))?;
    let server_stop = stop.clone();
    let server_thread = std::thread::Builder::new()
        .name("rvsd-control".into())
        .spawn(move || server.run(server_stop))
        .map_err(|e| e.to_string())?;

    let web_thread = match args.metrics_listen {
        Some(addr) => Some(observe::start(addr, &control, stop.clone(), epoch)?),
        None => None,
    };

    tracing::info!(socket = %args.socket.display(), workers = workers_n.get(), "rvsd ready");
    sd_notify("READY=1");

    let mut signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGHUP,
    ])
    .map_err(|e| format!("signals: {e}"))?;
    let mut last_tick = Instant::now();
    let mut last_ramp = Instant::now();
    'main: loop {
        for sig in signals.pending() {
            match sig {
                signal_hook::consts::SIGHUP => {
                    tracing::info!("SIGHUP: nothing to reload (no configuration file)")
                }
                _ => {
                    tracing::info!(signal = sig, "stopping");
                    break 'main;
                }
            }
        }
        std::thread::sleep(Duration::from_millis(100));
        if last_ramp.elapsed() >= Duration::from_secs(1) {
            last_ramp = Instant::now();
            if let Ok(mut c) = control.lock() {
                c.ramp_tick();
            }
        }
        if last_tick.elapsed() >= Duration::from_secs(2) {
            last_tick = Instant::now();
            if let Ok(mut c) = control.lock() {
                c.tick();
            }
        }
    }
    sd_notify("STOPPING=1");
    // Hand the VIPs over at once (priority 0) before the data plane stops.
    if let Some(v) = vrrp_runtime.as_mut() {
        v.stop();
    }
    stop.store(true, Ordering::Relaxed);
    for j in joins {
        let _ = j.join();
    }
    let _ = server_thread.join();
    if let Some(t) = web_thread {
        let _ = t.join();
    }
    let _ = std::fs::remove_file(&args.socket);
    // Dropping the control plane removes the host rules.
    drop(control);
    tracing::info!("stopped");
    Ok(())
}
