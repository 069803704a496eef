//! Opening the packet backend the workers run on, and starting them.
//!
//! - `xdp`: an XDP program on every port steers only the director's traffic (VIPs, NAT
//!   replies) to AF_XDP sockets sharing one UMEM; everything else goes to the kernel, so
//!   no nftables rules are needed. The program's address maps follow the service table
//!   through a [`SnapshotHook`] ([`XdpHook`]). One worker: a veth has one queue, and an
//!   AF_XDP socket only receives its own queue, so sharding by client address across
//!   workers needs the NIC's steering; several workers use AF_PACKET.
//! - `packet`: AF_PACKET TPACKET_V2 rings with PACKET_VNET_HDR (partial checksums and
//!   GSO frames pass through), fanout steering by client address for several workers,
//!   and the nftables drop table of [`crate::host`].
//! - `auto`: XDP, else AF_PACKET with one log line saying why. Interfaces left with
//!   segmentation offloads on (GRO/TSO) carry 64 KB GSO super-frames, which XDP cannot
//!   take whole (it would force MTU-sized frames on the senders): auto then chooses
//!   AF_PACKET with GSO-sized ring slots, which passes them through.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::AtomicBool;
use std::sync::mpsc::{channel, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use arc_swap::ArcSwap;
use rvs_core::director::{Director, DirectorConfig};
use rvs_core::service::{Limits, Snapshot};
use rvs_core::Protocol;
use rvs_io::xdp::{FilterLimits, FilterSet, XdpFilter, XdpMode, XskConfig, XskPorts};
use rvs_io::{
    steering_program_client_side, steering_program_server_side, steering_program_split, Fanout,
    FanoutMode, NeighCache, PacketPorts, PacketSocket, PortIo, PortRings, RingConfig,
};

use crate::control::WorkerHandle;
use crate::hooks::SnapshotHook;
use crate::host::DropSets;
use crate::ports::Port;
use crate::worker::{Neighbours, Worker, WorkerStats};

/// Which packet I/O the workers use (`--backend`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum BackendChoice {
    /// AF_XDP when it can be set up, else AF_PACKET.
    Auto,
    /// AF_XDP with the director's XDP program (fails if unavailable).
    Xdp,
    /// AF_PACKET rings and nftables drop rules.
    Packet,
}

/// Options of the backends.
#[derive(Clone, Copy, Debug)]
pub struct PacketOptions {
    /// AF_PACKET: a second ring of 128 KB slots per port so GRO/GSO super-frames (offloads
    /// on) pass whole.
    pub gso: bool,
    /// AF_XDP: attach the program in this mode only (default: native, else generic).
    pub xdp_mode: Option<XdpMode>,
}

/// Where the XDP program runs (`--xdp-mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum XdpModeChoice {
    /// Native (in the driver) where the driver has it, else generic.
    Auto,
    Native,
    Generic,
}

impl XdpModeChoice {
    pub fn mode(self) -> Option<XdpMode> {
        match self {
            XdpModeChoice::Auto => None,
            XdpModeChoice::Native => Some(XdpMode::Native),
            XdpModeChoice::Generic => Some(XdpMode::Generic),
        }
    }
}

/// An opened backend, ready for the workers.
pub enum Backend {
    Packet(Vec<PacketPorts>),
    Xdp {
        ports: Box<XskPorts>,
        filter: Arc<XdpFilter>,
    },
}

impl Backend {
    /// Opens the chosen backend on `ports` for `workers` workers.
    pub fn open(
        choice: BackendChoice,
        ports: &[Port],
        workers: NonZeroU32,
        opts: PacketOptions,
    ) -> Result<Backend, String> {
        let offloads: Vec<&str> = ports
            .iter()
            .filter(|p| rvs_io::has_segmentation_offloads(&p.name))
            .map(|p| p.name.as_str())
            .collect();
        let opts = PacketOptions {
            gso: opts.gso || !offloads.is_empty(),
            ..opts
        };
        let xdp = match choice {
            BackendChoice::Packet => None,
            BackendChoice::Auto if !offloads.is_empty() => {
                tracing::info!(
                    interfaces = ?offloads,
                    "GRO/TSO on: using AF_PACKET, which forwards GSO super-frames whole"
                );
                None
            }
            BackendChoice::Xdp => Some(open_xdp(ports, workers, opts.xdp_mode)?),
            BackendChoice::Auto => match open_xdp(ports, workers, opts.xdp_mode) {
                Ok(b) => Some(b),
                Err(e) => {
                    tracing::warn!("AF_XDP unavailable ({e}); using AF_PACKET");
                    None
                }
            },
        };
        match xdp {
            Some(b) => Ok(b),
            None => open_packet(ports, workers, opts),
        }
    }

    /// Whether the kernel must be kept away from the director's traffic by nftables
    /// rules (AF_PACKET only taps frames; XDP takes them).
    pub fn needs_host_rules(&self) -> bool {
        matches!(self, Backend::Packet(_))
    }

    pub fn name(&self) -> &'static str {
        match self {
            Backend::Packet(_) => "af_packet",
            Backend::Xdp { .. } => "af_xdp",
        }
    }

    /// The hook that keeps the XDP program's maps in step with the service table.
    pub fn hook(&self, ports: &[Port]) -> Option<Box<dyn SnapshotHook>> {
        match self {
            Backend::Xdp { filter, .. } => Some(Box::new(XdpHook {
                filter: filter.clone(),
                local: ports
                    .iter()
                    .flat_map(|p| p.config.addrs.iter().map(|a| a.addr))
                    .collect(),
            })),
            Backend::Packet(_) => None,
        }
    }

    /// Starts one worker per opened port set.
    pub fn spawn(self, ctx: SpawnContext) -> Result<Vec<(WorkerHandle, JoinHandle<()>)>, String> {
        match self {
            Backend::Packet(sets) => {
                let keep = !ctx.complete_checksums; // PACKET_VNET_HDR on every ring
                sets.into_iter()
                    .enumerate()
                    .map(|(w, p)| spawn_worker(w, p, keep, &ctx))
                    .collect()
            }
            Backend::Xdp { ports, filter } => {
                let keep = ports.tx_csum_offload() && !ctx.complete_checksums;
                let info = ports.info().clone();
                tracing::info!(
                    zero_copy = info.zero_copy,
                    tx_metadata = info.tx_metadata,
                    umem_bytes = info.umem_bytes,
                    "AF_XDP sockets bound"
                );
                // The filter lives as long as the hook and this worker's thread need it.
                let w = spawn_worker(0, *ports, keep, &ctx)?;
                drop(filter);
                Ok(vec![w])
            }
        }
    }
}

/// What every worker shares.
pub struct SpawnContext {
    pub ports: Vec<Port>,
    pub conn_tab_bits: u8,
    pub max_conns: u32,
    pub limits: Limits,
    pub snap: Arc<Snapshot>,
    pub snapshot: Arc<ArcSwap<Snapshot>>,
    pub cache: NeighCache,
    pub resolve: Sender<(u32, IpAddr)>,
    pub stop: Arc<AtomicBool>,
    pub epoch: Instant,
    pub seed: fn() -> u64,
    /// Never leave a checksum partial (`--complete-checksums`).
    pub complete_checksums: bool,
}

fn spawn_worker<P: PortIo + Send + 'static>(
    index: usize,
    ports: P,
    keep_partial: bool,
    ctx: &SpawnContext,
) -> Result<(WorkerHandle, JoinHandle<()>), String> {
    let dcfg = DirectorConfig {
        conn_tab_bits: ctx.conn_tab_bits,
        max_conns: ctx.max_conns,
        seed: (ctx.seed)(),
        max_services: ctx.limits.max_services,
        max_dests: ctx.limits.max_dests,
    };
    let director = Director::new(dcfg, ctx.snap.clone());
    let (req_tx, req_rx) = channel();
    let stats = Arc::new(WorkerStats::default());
    let handle = WorkerHandle {
        requests: req_tx,
        shard: director.stats(),
        stats: stats.clone(),
    };
    let worker = Worker {
        index,
        director,
        ports,
        keep_partial,
        ifindex: ctx.ports.iter().map(|p| p.ifindex).collect(),
        macs: ctx.ports.iter().map(|p| p.config.mac).collect(),
        snapshot: ctx.snapshot.clone(),
        neigh: Neighbours {
            cache: ctx.cache.clone(),
            resolve: ctx.resolve.clone(),
        },
        requests: req_rx,
        stop: ctx.stop.clone(),
        stats,
        epoch: ctx.epoch,
        sync: None,
    };
    let join = std::thread::Builder::new()
        .name(format!("rvsd-worker-{index}"))
        .spawn(move || worker.run())
        .map_err(|e| e.to_string())?;
    Ok((handle, join))
}

/// Frames longer than this (IP length, as the fanout program sees them) are GSO
/// super-frames and take the big-slot rings; an MTU-sized frame fits the small slots.
const GSO_SPLIT_ABOVE: u32 = 1600;

fn open_packet(
    ports: &[Port],
    workers: NonZeroU32,
    opts: PacketOptions,
) -> Result<Backend, String> {
    let fanout_base = (std::process::id() & 0x7fff) as u16;
    let open = |name: &str, cfg: &RingConfig| {
        PacketSocket::open(name, cfg).map_err(|e| format!("AF_PACKET on {name}: {e}"))
    };
    let mut sets = Vec::new();
    for _ in 0..workers.get() {
        let mut rings = Vec::new();
        for (i, p) in ports.iter().enumerate() {
            let client_side = i == 0;
            let group_id = fanout_base.wrapping_add(i as u16);
            if opts.gso {
                // Two sockets per worker and port, joined small first: a deep ring of
                // small slots for ordinary frames, a shallow one of 128 KB slots for
                // super-frames, told apart by the fanout program.
                let fanout = Some(Fanout {
                    group_id,
                    mode: FanoutMode::Cbpf(steering_program_split(
                        client_side,
                        workers,
                        GSO_SPLIT_ABOVE,
                    )),
                });
                let small = open(
                    &p.name,
                    &RingConfig {
                        fanout: fanout.clone(),
                        vnet_hdr: true,
                        ..RingConfig::default()
                    },
                )?;
                let big = open(
                    &p.name,
                    &RingConfig {
                        frame_size: 1 << 17,
                        rx_frames: 256,
                        tx_frames: 128,
                        fanout,
                        vnet_hdr: true,
                        ..RingConfig::default()
                    },
                )?;
                let (small_rx, small_tx) = small.split();
                let (big_rx, big_tx) = big.split();
                rings.push(PortRings {
                    rx: vec![small_rx, big_rx],
                    tx: small_tx,
                    tx_big: Some(big_tx),
                });
            } else {
                let fanout = (workers.get() > 1).then(|| Fanout {
                    group_id,
                    mode: FanoutMode::Cbpf(if client_side {
                        steering_program_client_side(workers)
                    } else {
                        steering_program_server_side(workers)
                    }),
                });
                let cfg = RingConfig {
                    fanout,
                    vnet_hdr: true,
                    ..RingConfig::default()
                };
                let (rx, tx) = open(&p.name, &cfg)?.split();
                rings.push(PortRings {
                    rx: vec![rx],
                    tx,
                    tx_big: None,
                });
            }
        }
        sets.push(PacketPorts::with_rings(rings));
    }
    Ok(Backend::Packet(sets))
}

fn open_xdp(ports: &[Port], workers: NonZeroU32, mode: Option<XdpMode>) -> Result<Backend, String> {
    if workers.get() > 1 {
        return Err(format!(
            "the AF_XDP backend runs one worker (asked for {}): an AF_XDP socket receives one \
             queue, and both directions of a connection must meet one shard",
            workers.get()
        ));
    }
    let filter = XdpFilter::new(FilterLimits::default()).map_err(|e| e.to_string())?;
    for p in ports {
        filter
            .add_interface(p.ifindex)
            .map_err(|e| format!("{}: {e}", p.name))?;
    }
    let names: Vec<String> = ports.iter().map(|p| p.name.clone()).collect();
    let mtu = ports.iter().map(|p| p.config.mtu).max().unwrap_or(1500);
    let cfg = XskConfig {
        frame_size: if mtu > 1500 { 4096 } else { 2048 },
        ..XskConfig::default()
    };
    let xsk = XskPorts::open(&names, &cfg, &filter).map_err(|e| e.to_string())?;
    let modes = filter.attach_all(mode).map_err(|e| e.to_string())?;
    for (ifindex, mode) in modes {
        tracing::info!(ifindex, ?mode, "XDP program attached");
    }
    Ok(Backend::Xdp {
        ports: Box::new(xsk),
        filter: Arc::new(filter),
    })
}

/// Keeps the XDP program's maps in step with the service table.
struct XdpHook {
    filter: Arc<XdpFilter>,
    local: BTreeSet<IpAddr>,
}

/// What the XDP program must steer for a service table: the nftables drop sets' VIPs and
/// NAT real servers, and the host's own addresses.
pub fn filter_set(snap: &Snapshot, local: &BTreeSet<IpAddr>) -> FilterSet {
    let d = DropSets::from_snapshot(snap);
    let proto = |p: Protocol| match p {
        Protocol::Tcp => 6u8,
        Protocol::Udp => 17u8,
    };
    FilterSet {
        vips: d.vip4.iter().chain(d.vip6.iter()).copied().collect(),
        reals: d
            .real4
            .iter()
            .chain(d.real6.iter())
            .map(|(a, p, port)| (*a, proto(*p), *port))
            .collect(),
        local: local
            .iter()
            .chain(
                snap.ports
                    .iter()
                    .flat_map(|p| p.addrs.iter().map(|a| &a.addr)),
            )
            .copied()
            .collect(),
    }
}

impl SnapshotHook for XdpHook {
    fn on_snapshot(&mut self, snap: &Snapshot) -> Result<(), String> {
        self.filter
            .apply(&filter_set(snap, &self.local))
            .map_err(|e| format!("updating the XDP maps: {e}"))
    }
}
