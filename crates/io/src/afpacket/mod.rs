//! AF_PACKET TPACKET_V2 rings: one socket per (worker, interface), bound to ETH_P_ALL, with a
//! memory-mapped RX ring and TX ring, split into halves a worker can use at the same time.
//!
//! Why TPACKET_V2 and not V3: V3 hands frames over a block at a time and holds a partly
//! filled block until its retire timer (>= 1 ms) fires, which stalls request/response and
//! bulk TCP through the director. V2 hands over every frame as soon as it is written and
//! `poll` wakes on each one.
//!
//! Why ETH_P_ALL: a socket bound to ETH_P_IP only sees frames after the netdev ingress hook,
//! so it would miss whatever that hook drops (the director drops handled traffic there so
//! the host stack never answers for the VIP).

mod rx;
mod tx;

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::Arc;

pub use rx::{PacketType, RxFrame, RxRing, RxStats, SetRangeError};
use tx::SlotFormat;
pub use tx::{TxError, TxRing, TxStats};

use crate::bpf::BpfProgram;
use crate::sys;

/// Geometry and options of one packet socket's rings.
#[derive(Clone, Debug)]
pub struct RingConfig {
    /// Bytes per ring slot, a power of two between 256 and 65536. A slot holds the kernel's
    /// header, the headroom and the frame: with the default headroom, 2048 fits a 1500-byte
    /// MTU frame with room to spare; use 16384 for jumbo frames.
    pub frame_size: u32,
    /// Slots in the RX ring (rounded up to fill whole blocks); 0 for a transmit-only socket.
    pub rx_frames: u32,
    /// Slots in the TX ring (rounded up to fill whole blocks); 0 for a receive-only socket.
    pub tx_frames: u32,
    /// Bytes reserved before each received frame (PACKET_RESERVE), so a worker can prepend
    /// an outer header in place (tunnel method: 20 bytes of IPv4).
    pub headroom: u32,
    /// PACKET_QDISC_BYPASS: transmit straight to the driver, skipping the qdisc layer
    /// (faster; loses traffic shaping and the qdisc's back-pressure).
    pub qdisc_bypass: bool,
    /// Do not hand this socket frames the host itself transmits on the interface
    /// (PACKET_OUTGOING), ours included. Uses PACKET_IGNORE_OUTGOING (Linux 4.20) or the
    /// fanout flag of the same name, and filters in user space when the kernel lacks both.
    pub ignore_outgoing: bool,
    /// Put the interface into promiscuous mode for as long as the socket is open
    /// (PACKET_ADD_MEMBERSHIP PACKET_MR_PROMISC), to see frames for other MACs.
    pub promiscuous: bool,
    /// Join a fanout group so several sockets (one per worker) share the interface's frames.
    pub fanout: Option<Fanout>,
    /// Ring format: TPACKET_V2 (default) or TPACKET_V3.
    pub version: RingVersion,
    /// PACKET_VNET_HDR: every frame carries a `virtio_net_hdr`, so that received frames
    /// say whether their checksum is partial or they are GSO super-frames
    /// ([`RxFrame::offload`]) and transmitted ones can leave checksums and segmentation to
    /// the kernel ([`TxRing::push_offload`]). Size `frame_size` for GSO frames (64 KB and
    /// more) when the interfaces have GRO/TSO on.
    pub vnet_hdr: bool,
}

/// The TPACKET ring format. The API is the same for both.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RingVersion {
    /// One frame per slot, handed over as soon as the kernel wrote it. The default: it
    /// wakes the worker per frame, which request/response and bulk TCP need.
    #[default]
    V2,
    /// Frames packed into blocks (denser for small frames), but a block is handed over only
    /// when full or when its retire timer fires, so a lone frame can wait up to
    /// `block_timeout_ms`. Suits capture-like, throughput-only uses.
    V3 {
        /// Block size in bytes: a power of two, at least the page size and `frame_size`.
        /// The RX ring gets as many blocks as `rx_frames * frame_size` bytes need.
        block_size: u32,
        /// Retire timer for a partly filled block, in milliseconds (0: the kernel's
        /// default, derived from the link speed).
        block_timeout_ms: u32,
    },
}

impl Default for RingConfig {
    fn default() -> Self {
        RingConfig {
            frame_size: 2048,
            rx_frames: 4096,
            tx_frames: 2048,
            headroom: 128,
            qdisc_bypass: false,
            ignore_outgoing: true,
            promiscuous: false,
            fanout: None,
            version: RingVersion::V2,
            vnet_hdr: false,
        }
    }
}

/// Membership of a PACKET_FANOUT group: the sockets of one interface with the same
/// `group_id` share its frames; each frame goes to exactly one of them.
#[derive(Clone, Debug)]
pub struct Fanout {
    /// Group identifier, unique per interface among the process's groups.
    pub group_id: u16,
    /// How the kernel picks the member socket.
    pub mode: FanoutMode,
}

/// How a fanout group picks the socket for a frame.
#[derive(Clone, Debug)]
pub enum FanoutMode {
    /// By the kernel's flow hash (both directions of a flow are *not* guaranteed to meet).
    Hash,
    /// By the CPU that received the frame.
    Cpu,
    /// Round robin.
    LoadBalance,
    /// By a classic BPF program's result modulo the member count (members are indexed in
    /// the order they joined). See [`crate::bpf`] for the director's steering programs.
    Cbpf(BpfProgram),
}

impl FanoutMode {
    fn kernel_mode(&self) -> u32 {
        match self {
            FanoutMode::Hash => libc::PACKET_FANOUT_HASH,
            FanoutMode::Cpu => libc::PACKET_FANOUT_CPU,
            FanoutMode::LoadBalance => libc::PACKET_FANOUT_LB,
            FanoutMode::Cbpf(_) => libc::PACKET_FANOUT_CBPF,
        }
    }
}

/// The socket and the mapping both ring halves point into; dropped when the last half goes.
#[derive(Debug)]
struct Shared {
    // Field order is drop order: unmap before closing the descriptor.
    map: Option<sys::Mmap>,
    fd: OwnedFd,
    ifindex: u32,
}

/// Geometry of one ring inside the mapping.
#[derive(Clone, Copy, Debug)]
struct RingLayout {
    /// Byte offset of the ring's first slot in the mapping.
    offset: usize,
    frame_size: usize,
    /// Frame-size slots in the ring (V2: exactly the slots).
    frames: usize,
    /// Kernel allocation blocks (V3 RX walks these).
    block_size: usize,
    blocks: usize,
}

/// An AF_PACKET socket on one interface with its RX and TX rings.
#[derive(Debug)]
pub struct PacketSocket {
    rx: RxRing,
    tx: TxRing,
}

const MIN_FRAME_SIZE: u32 = 256;
/// Room for a 64 KB GSO super-frame with its headers.
const MAX_FRAME_SIZE: u32 = 1 << 17;
/// Ring memory is allocated by the kernel in blocks; 64 KiB blocks keep the allocation
/// order low while holding several slots each.
const BLOCK_SIZE: u32 = 1 << 16;

impl PacketSocket {
    /// Opens a packet socket bound to ETH_P_ALL on `ifname`, with TPACKET_V2 (or V3) rings
    /// as `cfg` describes. Needs CAP_NET_RAW in the interface's network namespace.
    pub fn open(ifname: &str, cfg: &RingConfig) -> io::Result<PacketSocket> {
        let ifindex = sys::ifindex_of(ifname)?;
        let invalid = |what: String| io::Error::new(io::ErrorKind::InvalidInput, what);
        if !cfg.frame_size.is_power_of_two()
            || !(MIN_FRAME_SIZE..=MAX_FRAME_SIZE).contains(&cfg.frame_size)
        {
            return Err(invalid(format!(
                "frame_size {} is not a power of two in 256..=131072",
                cfg.frame_size
            )));
        }
        let v3 = matches!(cfg.version, RingVersion::V3 { .. });
        let data_start = rx::data_offset(cfg.headroom, v3, cfg.vnet_hdr);
        if data_start + rx::MIN_FRAME_ROOM > cfg.frame_size as usize {
            return Err(invalid(format!(
                "headroom {} leaves no room for a frame in a {}-byte slot",
                cfg.headroom, cfg.frame_size
            )));
        }
        // Kernel blocks hold whole slots: at least one slot each.
        let block = BLOCK_SIZE.max(cfg.frame_size);
        // RX geometry: (block size, blocks, retire timer).
        let (rx_block_size, rx_blocks, block_timeout_ms) = match cfg.version {
            RingVersion::V2 => (block, cfg.rx_frames.div_ceil(block / cfg.frame_size), 0),
            RingVersion::V3 {
                block_size,
                block_timeout_ms,
            } => {
                if !block_size.is_power_of_two()
                    || block_size < page_size()
                    || block_size < cfg.frame_size
                {
                    return Err(invalid(format!(
                        "block_size {block_size} is not a power of two of at least a page and frame_size"
                    )));
                }
                let bytes = u64::from(cfg.rx_frames) * u64::from(cfg.frame_size);
                let blocks = u32::try_from(bytes.div_ceil(u64::from(block_size)))
                    .map_err(|_| invalid("RX ring too large".to_owned()))?;
                (block_size, blocks, block_timeout_ms)
            }
        };
        let tx_blocks = cfg.tx_frames.div_ceil(block / cfg.frame_size);

        // Protocol 0: the socket receives nothing until bound, so the ring does not fill
        // with other interfaces' frames while it is being set up.
        let fd = sys::socket(libc::AF_PACKET, libc::SOCK_RAW, 0)?;
        let version = if v3 {
            libc::tpacket_versions::TPACKET_V3
        } else {
            libc::tpacket_versions::TPACKET_V2
        };
        sys::setsockopt(
            &fd,
            libc::SOL_PACKET,
            libc::PACKET_VERSION,
            &(version as libc::c_int),
        )?;
        sys::setsockopt(
            &fd,
            libc::SOL_PACKET,
            libc::PACKET_RESERVE,
            &(cfg.headroom as libc::c_uint),
        )?;
        if cfg.vnet_hdr {
            // Before the rings: the kernel refuses the option on a socket with rings.
            sys::setsockopt(
                &fd,
                libc::SOL_PACKET,
                libc::PACKET_VNET_HDR,
                &(1 as libc::c_int),
            )?;
        }
        // Without PACKET_LOSS a malformed TX slot stops the kernel's TX ring walk for good;
        // with it the kernel drops that frame and goes on.
        sys::setsockopt(
            &fd,
            libc::SOL_PACKET,
            libc::PACKET_LOSS,
            &(1 as libc::c_int),
        )?;
        if cfg.qdisc_bypass {
            sys::setsockopt(
                &fd,
                libc::SOL_PACKET,
                libc::PACKET_QDISC_BYPASS,
                &(1 as libc::c_int),
            )?;
        }
        let kernel_ignores_outgoing = cfg.ignore_outgoing
            && sys::setsockopt(
                &fd,
                libc::SOL_PACKET,
                libc::PACKET_IGNORE_OUTGOING,
                &(1 as libc::c_int),
            )
            .is_ok();

        for (option, block_size, nr, timeout) in [
            (
                libc::PACKET_RX_RING,
                rx_block_size,
                rx_blocks,
                block_timeout_ms,
            ),
            (libc::PACKET_TX_RING, block, tx_blocks, 0),
        ] {
            if nr == 0 {
                continue;
            }
            let frame_nr = nr
                .checked_mul(block_size / cfg.frame_size)
                .ok_or_else(|| invalid("ring too large".to_owned()))?;
            if v3 {
                // V3 takes the longer request for both rings; the TX ring must leave the
                // block-only fields zero.
                let req = libc::tpacket_req3 {
                    tp_block_size: block_size,
                    tp_block_nr: nr,
                    tp_frame_size: cfg.frame_size,
                    tp_frame_nr: frame_nr,
                    tp_retire_blk_tov: timeout,
                    tp_sizeof_priv: 0,
                    tp_feature_req_word: 0,
                };
                sys::setsockopt(&fd, libc::SOL_PACKET, option, &req)?;
            } else {
                let req = libc::tpacket_req {
                    tp_block_size: block_size,
                    tp_block_nr: nr,
                    tp_frame_size: cfg.frame_size,
                    tp_frame_nr: frame_nr,
                };
                sys::setsockopt(&fd, libc::SOL_PACKET, option, &req)?;
            }
        }
        let rx_len = rx_blocks as usize * rx_block_size as usize;
        let tx_len = tx_blocks as usize * block as usize;
        let map = if rx_len + tx_len > 0 {
            Some(sys::Mmap::shared(fd.as_raw_fd(), rx_len + tx_len)?)
        } else {
            None
        };

        let ifindex_c = i32::try_from(ifindex)
            .map_err(|_| invalid(format!("ifindex {ifindex} out of range")))?;
        // A transmit-only socket binds with protocol 0 so it never receives.
        let protocol = if rx_blocks > 0 {
            (libc::ETH_P_ALL as u16).to_be()
        } else {
            0
        };
        sys::bind_packet(&fd, ifindex_c, protocol)?;

        if let Some(fanout) = &cfg.fanout {
            join_fanout(&fd, fanout, cfg.ignore_outgoing)?;
        }
        if cfg.promiscuous {
            let mreq = libc::packet_mreq {
                mr_ifindex: ifindex_c,
                mr_type: libc::PACKET_MR_PROMISC as u16,
                mr_alen: 0,
                mr_address: [0; 8],
            };
            sys::setsockopt(&fd, libc::SOL_PACKET, libc::PACKET_ADD_MEMBERSHIP, &mreq)?;
        }

        let shared = Arc::new(Shared { map, fd, ifindex });
        let frame_size = cfg.frame_size as usize;
        let rx_layout = RingLayout {
            offset: 0,
            frame_size,
            frames: rx_len / frame_size,
            block_size: rx_block_size as usize,
            blocks: rx_blocks as usize,
        };
        let tx_layout = RingLayout {
            offset: rx_len,
            frame_size,
            frames: tx_len / frame_size,
            block_size: block as usize,
            blocks: tx_blocks as usize,
        };
        let rx = RxRing::new(
            Arc::clone(&shared),
            rx_layout,
            v3,
            cfg.ignore_outgoing,
            kernel_ignores_outgoing,
            cfg.vnet_hdr,
        );
        let tx = TxRing::new(
            shared,
            tx_layout,
            if v3 { SlotFormat::V3 } else { SlotFormat::V2 },
            cfg.vnet_hdr,
        );
        Ok(PacketSocket { rx, tx })
    }

    /// Index of the interface the socket is bound to.
    pub fn ifindex(&self) -> u32 {
        self.rx.ifindex()
    }

    /// The receive half.
    pub fn rx(&mut self) -> &mut RxRing {
        &mut self.rx
    }

    /// The transmit half.
    pub fn tx(&mut self) -> &mut TxRing {
        &mut self.tx
    }

    /// Splits into halves that can live in different places (a worker receives on
    /// interface A while transmitting on A and B). The socket closes when both are dropped.
    pub fn split(self) -> (RxRing, TxRing) {
        (self.rx, self.tx)
    }
}

fn page_size() -> u32 {
    // SAFETY: sysconf has no preconditions.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u32::try_from(size).unwrap_or(4096)
}

fn join_fanout(fd: &OwnedFd, fanout: &Fanout, ignore_outgoing: bool) -> io::Result<()> {
    let base = u32::from(fanout.group_id) | (fanout.mode.kernel_mode() << 16);
    let with_flag = base | (libc::PACKET_FANOUT_FLAG_IGNORE_OUTGOING << 16);
    let joined = if ignore_outgoing {
        // Older kernels reject the flag; user space filtering covers for it then.
        sys::setsockopt(fd, libc::SOL_PACKET, libc::PACKET_FANOUT, &with_flag)
            .or_else(|_| sys::setsockopt(fd, libc::SOL_PACKET, libc::PACKET_FANOUT, &base))
    } else {
        sys::setsockopt(fd, libc::SOL_PACKET, libc::PACKET_FANOUT, &base)
    };
    joined?;
    if let FanoutMode::Cbpf(program) = &fanout.mode {
        if program.insns.is_empty() || program.insns.len() > libc::BPF_MAXINSNS as usize {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "fanout program length out of range",
            ));
        }
        // The program belongs to the group; every member setting it is harmless (same one).
        let fprog = program.as_fprog();
        sys::setsockopt(fd, libc::SOL_PACKET, libc::PACKET_FANOUT_DATA, &fprog)?;
    }
    Ok(())
}

/// Kernel counters of a packet socket since the previous read (PACKET_STATISTICS resets
/// them): frames the kernel accepted for the socket, and those it dropped (ring full).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KernelStats {
    /// Frames seen by the socket (delivered plus dropped).
    pub packets: u32,
    /// Frames dropped because the RX ring was full (or the filter said so).
    pub drops: u32,
}

impl Shared {
    fn kernel_stats(&self) -> io::Result<KernelStats> {
        let raw: libc::tpacket_stats =
            sys::getsockopt(&self.fd, libc::SOL_PACKET, libc::PACKET_STATISTICS)?;
        Ok(KernelStats {
            packets: raw.tp_packets,
            drops: raw.tp_drops,
        })
    }

    /// Start of the ring described by `layout`, or null when the ring is empty.
    fn ring_base(&self, layout: &RingLayout) -> *mut u8 {
        match &self.map {
            Some(map) if layout.frames > 0 => {
                debug_assert!(layout.offset + layout.frames * layout.frame_size <= map.len());
                // SAFETY: the offset lies inside the mapping (checked at construction: the
                // mapping is the RX ring followed by the TX ring).
                unsafe { map.as_ptr().add(layout.offset) }
            }
            _ => std::ptr::null_mut(),
        }
    }
}
