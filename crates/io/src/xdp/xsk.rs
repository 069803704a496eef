//! AF_XDP sockets for one worker: one UMEM (frame buffers shared by every socket) and one
//! socket per (interface, queue), each with its RX, TX, fill and completion rings. Because
//! the UMEM is shared (XDP_SHARED_UMEM), a frame received on one interface is transmitted
//! on another by handing its buffer to that socket's TX ring: no copy in user space.
//!
//! Buffer life cycle: free list → fill ring → (kernel writes a frame) → RX ring → the
//! worker's callback → either the free list again (dropped) or a TX ring → (kernel sends
//! it) → completion ring → free list. One thread owns all rings, so nothing is locked.
//!
//! Copy mode (veth, most drivers) sends only inside `sendto()`, at most 32 frames a call
//! (the kernel's batch), so [`XskPorts::flush`] kicks until the TX rings are drained,
//! reaping completions in between. Partial checksums are kept partial on transmit through
//! AF_XDP TX metadata (`XDP_TXMD_FLAGS_CHECKSUM`; the kernel turns it into a
//! CHECKSUM_PARTIAL skb in copy mode) when the kernel has it.

use std::io;
use std::mem::size_of;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use super::filter::XdpFilter;
use crate::afpacket::{RxFrame, TxError};
use crate::backend::{Disposition, PortIo, PortIoStats};
use crate::offload::{CsumState, TxOffload};
use crate::sys::{self, Mmap};

/// The kernel's headroom before every received frame in a UMEM chunk.
const XDP_PACKET_HEADROOM: u64 = 256;
/// `union xsk_tx_metadata` (flags, then csum_start/csum_offset or a launch time).
const TX_METADATA_LEN: u32 = 24;
/// `sendto` kicks per socket per flush, at most (copy mode sends 32 frames a kick).
const MAX_KICKS: usize = 256;
/// `XDP_MAX_TX_SKB_BUDGET` (Linux 6.17): frames one copy-mode `sendto` may send (default
/// 32); raised to the TX ring's size so that one kick sends a whole batch.
const XDP_MAX_TX_SKB_BUDGET: libc::c_int = 9;
/// Frames read ahead per look-ahead batch.
const LOOKAHEAD: usize = 64;
/// How long to retry a bind that says EBUSY (the previous owner's socket is still being
/// torn down for about a second after it exits).
const BIND_RETRY: Duration = Duration::from_secs(3);

/// How to bind the sockets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum XskMode {
    /// Zero-copy where the driver offers it, else copy mode.
    #[default]
    Auto,
    /// Copy mode only (XDP_COPY).
    Copy,
    /// Zero-copy only (XDP_ZEROCOPY); fails where the driver lacks it.
    ZeroCopy,
}

/// Geometry of a worker's UMEM and rings.
#[derive(Clone, Debug)]
pub struct XskConfig {
    /// Bytes per UMEM chunk: 2048 (frames up to ~1.7 KB) or 4096.
    pub frame_size: u32,
    /// Slots per ring (each of RX, TX, fill, completion), a power of two.
    pub ring_size: u32,
    pub mode: XskMode,
    /// Ask for AF_XDP TX metadata so that partial checksums can stay partial.
    pub tx_metadata: bool,
}

impl Default for XskConfig {
    fn default() -> Self {
        XskConfig {
            frame_size: 2048,
            ring_size: 2048,
            mode: XskMode::Auto,
            tx_metadata: true,
        }
    }
}

/// One mapped ring. Producer rings (fill, TX) are written by us; consumer rings (RX,
/// completion) are read by us. `cached_*` are our private copies of the indices.
#[derive(Debug)]
struct Ring {
    map: Mmap,
    producer: usize,
    consumer: usize,
    flags: usize,
    desc: usize,
    mask: u32,
    size: u32,
    cached_prod: u32,
    cached_cons: u32,
}

impl Ring {
    fn map(
        fd: &OwnedFd,
        off: &libc::xdp_ring_offset,
        size: u32,
        entry: usize,
        pgoff: u64,
    ) -> io::Result<Ring> {
        let len = off.desc as usize + size as usize * entry;
        let map = Mmap::shared_at(fd.as_raw_fd(), len, pgoff)?;
        Ok(Ring {
            map,
            producer: off.producer as usize,
            consumer: off.consumer as usize,
            flags: off.flags as usize,
            desc: off.desc as usize,
            mask: size - 1,
            size,
            cached_prod: 0,
            cached_cons: 0,
        })
    }

    fn word(&self, offset: usize) -> &AtomicU32 {
        // SAFETY: the offsets come from XDP_MMAP_OFFSETS and lie inside the mapping; the
        // words are aligned u32s the kernel accesses concurrently, hence atomics.
        unsafe { &*(self.map.as_ptr().add(offset) as *const AtomicU32) }
    }

    fn needs_wakeup(&self) -> bool {
        self.word(self.flags).load(Ordering::Relaxed) & libc::XDP_RING_NEED_WAKEUP != 0
    }

    /// Consumer side: entries ready to read.
    fn ready(&mut self) -> u32 {
        let n = self.cached_prod.wrapping_sub(self.cached_cons);
        if n > 0 {
            return n;
        }
        self.cached_prod = self.word(self.producer).load(Ordering::Acquire);
        self.cached_prod.wrapping_sub(self.cached_cons)
    }

    /// Consumer side: hands the entries read so far back to the kernel.
    fn release(&self) {
        self.word(self.consumer)
            .store(self.cached_cons, Ordering::Release);
    }

    /// Producer side: free slots.
    fn room(&mut self) -> u32 {
        let free = self.size - self.cached_prod.wrapping_sub(self.cached_cons);
        if free > 0 {
            return free;
        }
        self.cached_cons = self.word(self.consumer).load(Ordering::Acquire);
        self.size - self.cached_prod.wrapping_sub(self.cached_cons)
    }

    /// Producer side: publishes the entries written so far.
    fn submit(&self) {
        self.word(self.producer)
            .store(self.cached_prod, Ordering::Release);
    }

    /// Producer side: entries the kernel has not consumed yet.
    fn unconsumed(&mut self) -> u32 {
        self.cached_cons = self.word(self.consumer).load(Ordering::Acquire);
        self.cached_prod.wrapping_sub(self.cached_cons)
    }

    fn slot(&self, index: u32, entry: usize) -> *mut u8 {
        // SAFETY: `index & mask < size`, and the mapping holds `size` entries after `desc`.
        unsafe {
            self.map
                .as_ptr()
                .add(self.desc + (index & self.mask) as usize * entry)
        }
    }

    fn read_addr(&mut self) -> u64 {
        let p = self.slot(self.cached_cons, 8) as *const u64;
        self.cached_cons = self.cached_cons.wrapping_add(1);
        // SAFETY: an entry the kernel published (index below the producer seen with
        // Acquire), 8-byte aligned inside the ring.
        unsafe { p.read() }
    }

    fn write_addr(&mut self, addr: u64) {
        let p = self.slot(self.cached_prod, 8) as *mut u64;
        self.cached_prod = self.cached_prod.wrapping_add(1);
        // SAFETY: a free producer slot (room() said so); the kernel reads it only after
        // submit() publishes it with Release.
        unsafe { p.write(addr) }
    }

    fn read_desc(&mut self) -> libc::xdp_desc {
        let p = self.slot(self.cached_cons, size_of::<libc::xdp_desc>()) as *const libc::xdp_desc;
        self.cached_cons = self.cached_cons.wrapping_add(1);
        // SAFETY: as read_addr, for a 16-byte descriptor.
        unsafe { p.read() }
    }

    fn write_desc(&mut self, d: libc::xdp_desc) {
        let p = self.slot(self.cached_prod, size_of::<libc::xdp_desc>()) as *mut libc::xdp_desc;
        self.cached_prod = self.cached_prod.wrapping_add(1);
        // SAFETY: as write_addr, for a 16-byte descriptor.
        unsafe { p.write(d) }
    }
}

/// One AF_XDP socket bound to (interface, queue).
#[derive(Debug)]
struct Xsk {
    // Field order is drop order: rings unmapped before the socket closes.
    rx: Ring,
    tx: Ring,
    fill: Ring,
    comp: Ring,
    fd: OwnedFd,
    port: usize,
    /// TX descriptors handed to the kernel and not completed yet.
    in_flight: u32,
}

/// Counters of the XDP backend.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct XskStats {
    pub io: PortIoStats,
    /// Frames sent with a checksum request in their TX metadata.
    pub tx_csum_offload: u64,
    /// Kicks that found the kernel busy (EAGAIN/EBUSY/ENOBUFS).
    pub kick_busy: u64,
    /// Times the free list was empty when a fill ring wanted frames.
    pub free_empty: u64,
}

/// Facts about how the sockets were bound.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct XskInfo {
    pub zero_copy: bool,
    pub tx_metadata: bool,
    /// (port, interface index, queues bound).
    pub queues: Vec<(usize, u32, u32)>,
    pub umem_bytes: usize,
}

/// The AF_XDP ports of one worker.
#[derive(Debug)]
pub struct XskPorts {
    // Sockets before the UMEM: they are closed (and unregistered) before it is unmapped.
    socks: Vec<Xsk>,
    umem: Mmap,
    frame_size: u64,
    /// Sockets of each port (one per queue).
    port_socks: Vec<Vec<usize>>,
    free: Vec<u64>,
    tx_meta: bool,
    info: XskInfo,
    pollfds: Vec<libc::pollfd>,
    stats: XskStats,
}

// SAFETY: the rings and the UMEM are plain memory shared only with the kernel; the
// process touches them only through `&mut self` of the one XskPorts that owns them, so
// moving it to the worker thread cannot create concurrent access from user space.
unsafe impl Send for XskPorts {}

fn bind_xsk(
    fd: &OwnedFd,
    ifindex: u32,
    queue: u32,
    flags: u16,
    shared: Option<i32>,
) -> io::Result<()> {
    let addr = libc::sockaddr_xdp {
        sxdp_family: libc::AF_XDP as u16,
        sxdp_flags: flags,
        sxdp_ifindex: ifindex,
        sxdp_queue_id: queue,
        sxdp_shared_umem_fd: shared.unwrap_or(0) as u32,
    };
    let deadline = Instant::now() + BIND_RETRY;
    loop {
        // SAFETY: a valid sockaddr_xdp of the length passed.
        let ret = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&addr as *const libc::sockaddr_xdp).cast(),
                size_of::<libc::sockaddr_xdp>() as libc::socklen_t,
            )
        };
        if ret == 0 {
            return Ok(());
        }
        let err = io::Error::last_os_error();
        if err.raw_os_error() == Some(libc::EBUSY) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
            continue;
        }
        return Err(err);
    }
}

/// Receive queues of an interface (ETHTOOL_GCHANNELS; 1 when the driver does not say).
pub fn rx_queue_count(ifname: &str) -> u32 {
    #[repr(C)]
    #[derive(Default)]
    struct Channels {
        cmd: u32,
        max_rx: u32,
        max_tx: u32,
        max_other: u32,
        max_combined: u32,
        rx_count: u32,
        tx_count: u32,
        other_count: u32,
        combined_count: u32,
    }
    const ETHTOOL_GCHANNELS: u32 = 0x3c;
    let Ok(name) = sys::interface_cstring(ifname) else {
        return 1;
    };
    let Ok(sock) = sys::socket(libc::AF_INET, libc::SOCK_DGRAM, 0) else {
        return 1;
    };
    let mut ch = Channels {
        cmd: ETHTOOL_GCHANNELS,
        ..Channels::default()
    };
    // SAFETY: ifreq is plain old data; all-zero is valid.
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in ifr.ifr_name.iter_mut().zip(name.as_bytes_with_nul()) {
        *d = *s as libc::c_char;
    }
    ifr.ifr_ifru.ifru_data = (&mut ch as *mut Channels).cast();
    // SAFETY: SIOCETHTOOL with an ifreq whose data points to a Channels that outlives the
    // call; the kernel writes at most its size.
    let ret = unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCETHTOOL, &mut ifr) };
    if ret < 0 {
        return 1;
    }
    (ch.rx_count + ch.combined_count).max(1)
}

impl XskPorts {
    /// Opens sockets on every receive queue of each interface (port `i` = `ifnames[i]`),
    /// sharing one UMEM, and registers them in `filter`'s XSKMAPs. The filter's programs
    /// must have been added for these interfaces; attach them after this returns.
    pub fn open(ifnames: &[String], cfg: &XskConfig, filter: &XdpFilter) -> io::Result<XskPorts> {
        match cfg.mode {
            XskMode::Copy => Self::open_mode(ifnames, cfg, filter, false),
            XskMode::ZeroCopy => Self::open_mode(ifnames, cfg, filter, true),
            XskMode::Auto => Self::open_mode(ifnames, cfg, filter, true)
                .or_else(|_| Self::open_mode(ifnames, cfg, filter, false)),
        }
    }

    fn open_mode(
        ifnames: &[String],
        cfg: &XskConfig,
        filter: &XdpFilter,
        zero_copy: bool,
    ) -> io::Result<XskPorts> {
        let invalid = |m: &str| io::Error::new(io::ErrorKind::InvalidInput, m.to_owned());
        if !cfg.frame_size.is_power_of_two() || !(2048..=4096).contains(&cfg.frame_size) {
            return Err(invalid("XDP frame_size must be 2048 or 4096"));
        }
        if !cfg.ring_size.is_power_of_two() || cfg.ring_size < 64 {
            return Err(invalid("XDP ring_size must be a power of two >= 64"));
        }
        let mut targets = Vec::new();
        for (port, name) in ifnames.iter().enumerate() {
            let ifindex = sys::ifindex_of(name)
                .map_err(|e| io::Error::new(e.kind(), format!("interface {name}: {e}")))?;
            for q in 0..rx_queue_count(name) {
                targets.push((port, ifindex, q));
            }
        }
        let ring = cfg.ring_size;
        // Every socket can hold a full fill ring (plus its RX ring's worth in flight) and a
        // full TX ring; and a batch's worth of slack.
        let frames = targets.len() as u64 * u64::from(ring) * 2 + 512;
        let umem_len = usize::try_from(frames * u64::from(cfg.frame_size))
            .map_err(|_| invalid("UMEM too large"))?;
        super::bpfsys::raise_memlock_limit();
        let umem = Mmap::anonymous(umem_len)?;

        let mut socks: Vec<Xsk> = Vec::new();
        let mut tx_meta = false;
        let mut first_fd: Option<i32> = None;
        for &(port, ifindex, queue) in &targets {
            let fd = sys::socket(libc::AF_XDP, libc::SOCK_RAW, 0)
                .map_err(|e| io::Error::new(e.kind(), format!("AF_XDP socket: {e}")))?;
            if first_fd.is_none() {
                tx_meta = register_umem(&fd, &umem, cfg)?;
            }
            for opt in [
                libc::XDP_UMEM_FILL_RING,
                libc::XDP_UMEM_COMPLETION_RING,
                libc::XDP_RX_RING,
                libc::XDP_TX_RING,
            ] {
                sys::setsockopt(&fd, libc::SOL_XDP, opt, &ring)?;
            }
            // Older kernels lack the option: then kicks send 32 frames each.
            let _ = sys::setsockopt(&fd, libc::SOL_XDP, XDP_MAX_TX_SKB_BUDGET, &ring);
            let off: libc::xdp_mmap_offsets =
                sys::getsockopt(&fd, libc::SOL_XDP, libc::XDP_MMAP_OFFSETS)?;
            let desc = size_of::<libc::xdp_desc>();
            let rx = Ring::map(&fd, &off.rx, ring, desc, libc::XDP_PGOFF_RX_RING as u64)?;
            let tx = Ring::map(&fd, &off.tx, ring, desc, libc::XDP_PGOFF_TX_RING as u64)?;
            let fill = Ring::map(&fd, &off.fr, ring, 8, libc::XDP_UMEM_PGOFF_FILL_RING)?;
            let comp = Ring::map(&fd, &off.cr, ring, 8, libc::XDP_UMEM_PGOFF_COMPLETION_RING)?;
            let bound = match first_fd {
                None => {
                    let mode = if zero_copy {
                        libc::XDP_ZEROCOPY
                    } else {
                        libc::XDP_COPY
                    };
                    bind_xsk(&fd, ifindex, queue, mode | libc::XDP_USE_NEED_WAKEUP, None)
                }
                // Sharing sockets inherit the first one's mode; flags are refused.
                Some(first) => bind_xsk(&fd, ifindex, queue, libc::XDP_SHARED_UMEM, Some(first)),
            };
            bound.map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!(
                        "binding AF_XDP to interface {ifindex} queue {queue} ({}): {e}",
                        if zero_copy { "zero-copy" } else { "copy mode" }
                    ),
                )
            })?;
            filter.register_socket(ifindex, queue, fd.as_raw_fd())?;
            first_fd.get_or_insert(fd.as_raw_fd());
            socks.push(Xsk {
                rx,
                tx,
                fill,
                comp,
                fd,
                port,
                in_flight: 0,
            });
        }
        let mut port_socks = vec![Vec::new(); ifnames.len()];
        for (i, s) in socks.iter().enumerate() {
            port_socks[s.port].push(i);
        }
        let free = (0..frames)
            .rev()
            .map(|i| i * u64::from(cfg.frame_size))
            .collect();
        let pollfds = socks
            .iter()
            .map(|s| libc::pollfd {
                fd: s.fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        let info = XskInfo {
            zero_copy,
            tx_metadata: tx_meta,
            queues: ifnames
                .iter()
                .enumerate()
                .map(|(p, _)| {
                    let t: Vec<_> = targets.iter().filter(|t| t.0 == p).collect();
                    (p, t.first().map_or(0, |t| t.1), t.len() as u32)
                })
                .collect(),
            umem_bytes: umem_len,
        };
        let mut ports = XskPorts {
            socks,
            umem,
            frame_size: u64::from(cfg.frame_size),
            port_socks,
            free,
            tx_meta,
            info,
            pollfds,
            stats: XskStats::default(),
        };
        for i in 0..ports.socks.len() {
            ports.refill(i);
        }
        Ok(ports)
    }

    /// How the sockets were bound.
    pub fn info(&self) -> &XskInfo {
        &self.info
    }

    /// Backend counters.
    pub fn xsk_stats(&self) -> XskStats {
        self.stats
    }

    /// Kernel counters summed over the sockets (XDP_STATISTICS).
    pub fn kernel_stats(&self) -> io::Result<libc::xdp_statistics> {
        let mut sum = libc::xdp_statistics {
            rx_dropped: 0,
            rx_invalid_descs: 0,
            tx_invalid_descs: 0,
            rx_ring_full: 0,
            rx_fill_ring_empty_descs: 0,
            tx_ring_empty_descs: 0,
        };
        for s in &self.socks {
            let st: libc::xdp_statistics =
                sys::getsockopt(&s.fd, libc::SOL_XDP, libc::XDP_STATISTICS)?;
            sum.rx_dropped += st.rx_dropped;
            sum.rx_invalid_descs += st.rx_invalid_descs;
            sum.tx_invalid_descs += st.tx_invalid_descs;
            sum.rx_ring_full += st.rx_ring_full;
            sum.rx_fill_ring_empty_descs += st.rx_fill_ring_empty_descs;
            sum.tx_ring_empty_descs += st.tx_ring_empty_descs;
        }
        Ok(sum)
    }

    /// Tops up socket `i`'s fill ring from the free list.
    fn refill(&mut self, i: usize) {
        let s = &mut self.socks[i];
        let room = s.fill.room() as usize;
        if room == 0 {
            return;
        }
        // Keep some frames back for other sockets when the pool runs low.
        let n = room.min(self.free.len());
        if n < room {
            self.stats.free_empty += 1;
        }
        for _ in 0..n {
            if let Some(addr) = self.free.pop() {
                s.fill.write_addr(addr);
            }
        }
        if n > 0 {
            s.fill.submit();
        }
    }

    /// Moves completed TX buffers of socket `i` to the free list.
    fn reap(&mut self, i: usize) {
        let mask = !(self.frame_size - 1);
        let s = &mut self.socks[i];
        let n = s.comp.ready();
        for _ in 0..n {
            let addr = s.comp.read_addr();
            self.free.push(addr & mask);
        }
        if n > 0 {
            s.comp.release();
            s.in_flight = s.in_flight.saturating_sub(n);
        }
    }

    /// Kicks socket `i`'s TX ring until the kernel has taken everything, reaping
    /// completions in between (a full completion ring stalls the kernel's sending).
    fn kick(&mut self, i: usize) {
        for _ in 0..MAX_KICKS {
            if self.socks[i].tx.unconsumed() == 0 {
                break;
            }
            if !self.info.zero_copy || self.socks[i].tx.needs_wakeup() {
                self.stats.io.kicks += 1;
                // SAFETY: the documented AF_XDP TX kick: no buffer, no address.
                let ret = unsafe {
                    libc::sendto(
                        self.socks[i].fd.as_raw_fd(),
                        std::ptr::null(),
                        0,
                        libc::MSG_DONTWAIT,
                        std::ptr::null(),
                        0,
                    )
                };
                if ret < 0 {
                    let err = io::Error::last_os_error().raw_os_error();
                    match err {
                        Some(libc::EAGAIN) | Some(libc::EBUSY) | Some(libc::ENOBUFS) => {
                            self.stats.kick_busy += 1
                        }
                        // The link went down or the socket broke: frames stay queued.
                        _ => {
                            self.reap(i);
                            break;
                        }
                    }
                }
            }
            self.reap(i);
            if self.info.zero_copy {
                break;
            }
        }
        self.reap(i);
    }

    /// Queues the buffer `addr` (a frame of `len` bytes) on port `port`'s TX ring;
    /// returns the buffer to the free list when that is impossible.
    fn enqueue_tx(
        &mut self,
        port: usize,
        addr: u64,
        len: u32,
        offload: TxOffload,
    ) -> Result<(), TxError> {
        let Some(&i) = self.port_socks.get(port).and_then(|v| v.first()) else {
            self.free.push(addr & !(self.frame_size - 1));
            self.stats.io.tx_invalid += 1;
            return Err(TxError::BadLength {
                len: len as usize,
                max: 0,
            });
        };
        let mut options = 0;
        if let Some(c) = offload.csum {
            if self.tx_meta && offload.gso.is_none() {
                // SAFETY: the metadata sits in the TX_METADATA_LEN bytes before the frame,
                // inside the same chunk (callers keep `start >= XDP_PACKET_HEADROOM`), in
                // a buffer we own until the completion ring returns it.
                unsafe {
                    let meta = self
                        .umem
                        .as_ptr()
                        .add((addr - u64::from(TX_METADATA_LEN)) as usize);
                    std::ptr::write_bytes(meta, 0, TX_METADATA_LEN as usize);
                    (meta as *mut u64).write_unaligned(u64::from(libc::XDP_TXMD_FLAGS_CHECKSUM));
                    (meta.add(8) as *mut u16).write_unaligned(c.start);
                    (meta.add(10) as *mut u16).write_unaligned(c.offset);
                }
                options = libc::XDP_TX_METADATA;
                self.stats.tx_csum_offload += 1;
            } else {
                self.free.push(addr & !(self.frame_size - 1));
                self.stats.io.tx_invalid += 1;
                return Err(TxError::NoOffload);
            }
        } else if offload.gso.is_some() {
            self.free.push(addr & !(self.frame_size - 1));
            self.stats.io.tx_invalid += 1;
            return Err(TxError::NoOffload);
        }
        if self.socks[i].tx.room() == 0 {
            self.kick(i);
            if self.socks[i].tx.room() == 0 {
                self.free.push(addr & !(self.frame_size - 1));
                self.stats.io.tx_full += 1;
                return Err(TxError::Full);
            }
        }
        let s = &mut self.socks[i];
        s.tx.write_desc(libc::xdp_desc { addr, len, options });
        s.tx.submit();
        s.in_flight += 1;
        self.stats.io.tx_frames += 1;
        Ok(())
    }

    /// The chunk base and offset of an RX descriptor, if it lies inside the UMEM.
    #[inline]
    fn rx_place(&self, d: &libc::xdp_desc) -> Option<(u64, usize)> {
        let chunk = d.addr & !(self.frame_size - 1);
        let start = (d.addr - chunk) as usize;
        (chunk + self.frame_size <= self.umem.len() as u64
            && start + d.len as usize <= self.frame_size as usize)
            .then_some((chunk, start))
    }

    /// Receives up to `max` frames of `port` in look-ahead batches: read the batch's
    /// descriptors, start loading each frame, run the `stages` prefetch passes, then hand
    /// the frames over one by one.
    fn recv_inner<P, F>(
        &mut self,
        port: usize,
        max: usize,
        stages: usize,
        mut prefetch: P,
        mut on_frame: F,
    ) -> usize
    where
        P: FnMut(usize, &[u8]),
        F: FnMut(&mut RxFrame<'_>) -> Disposition,
    {
        let Some(list) = self.port_socks.get(port) else {
            return 0;
        };
        let fs = self.frame_size as usize;
        let mut handed = 0;
        let mut descs = [libc::xdp_desc {
            addr: 0,
            len: 0,
            options: 0,
        }; LOOKAHEAD];
        for li in 0..list.len() {
            let i = self.port_socks[port][li];
            loop {
                let n = (self.socks[i].rx.ready() as usize)
                    .min(max - handed)
                    .min(LOOKAHEAD);
                if n == 0 {
                    break;
                }
                for d in descs.iter_mut().take(n) {
                    *d = self.socks[i].rx.read_desc();
                    crate::sys::prefetch(self.umem.as_ptr().wrapping_add(d.addr as usize));
                }
                for stage in 0..stages {
                    for d in &descs[..n] {
                        if self.rx_place(d).is_some() {
                            // SAFETY: inside the UMEM (checked), in a chunk that is ours
                            // until handed on below; only read here.
                            let data = unsafe {
                                std::slice::from_raw_parts(
                                    self.umem.as_ptr().add(d.addr as usize),
                                    d.len as usize,
                                )
                            };
                            prefetch(stage, data);
                        }
                    }
                }
                for d in &descs[..n] {
                    let Some((chunk, start)) = self.rx_place(d) else {
                        // Never happens with a sane kernel; touch nothing outside the UMEM.
                        self.stats.io.rx_dropped += 1;
                        continue;
                    };
                    // SAFETY: the chunk lies inside the UMEM (checked) and is ours from the
                    // moment the RX descriptor was read until we hand it on (fill or TX
                    // ring); no other reference to it exists meanwhile.
                    let buf = unsafe {
                        std::slice::from_raw_parts_mut(self.umem.as_ptr().add(chunk as usize), fs)
                    };
                    let mut frame =
                        RxFrame::from_buffer(buf, start, d.len as usize, CsumState::Unknown);
                    let verdict = on_frame(&mut frame);
                    handed += 1;
                    match verdict {
                        Disposition::Release => self.free.push(chunk),
                        Disposition::Transmit {
                            port: out,
                            start,
                            len,
                            offload,
                        } => {
                            // The kernel checks the TX metadata room before every frame.
                            if start < TX_METADATA_LEN as usize || start + len > fs || len == 0 {
                                self.free.push(chunk);
                                self.stats.io.tx_invalid += 1;
                                continue;
                            }
                            let _ = self.enqueue_tx(out, chunk + start as u64, len as u32, offload);
                        }
                    }
                }
                self.socks[i].rx.release();
                self.refill(i);
            }
        }
        self.stats.io.rx_frames += handed as u64;
        handed
    }

    /// Whether partial checksums can be left to the kernel on transmit.
    pub fn tx_csum_offload(&self) -> bool {
        self.tx_meta
    }
}

/// Registers `umem` on `fd`, with TX metadata when asked and the kernel has it. Returns
/// whether TX metadata is on.
fn register_umem(fd: &OwnedFd, umem: &Mmap, cfg: &XskConfig) -> io::Result<bool> {
    let mut reg = libc::xdp_umem_reg {
        addr: umem.as_ptr() as u64,
        len: umem.len() as u64,
        chunk_size: cfg.frame_size,
        headroom: 0,
        flags: 0,
        tx_metadata_len: 0,
    };
    if cfg.tx_metadata {
        reg.flags = libc::XDP_UMEM_TX_METADATA_LEN;
        reg.tx_metadata_len = TX_METADATA_LEN;
        if sys::setsockopt(fd, libc::SOL_XDP, libc::XDP_UMEM_REG, &reg).is_ok() {
            return Ok(true);
        }
        reg.flags = 0;
        reg.tx_metadata_len = 0;
    }
    sys::setsockopt(fd, libc::SOL_XDP, libc::XDP_UMEM_REG, &reg).map_err(|e| {
        let hint = if matches!(
            e.raw_os_error(),
            Some(libc::ENOMEM) | Some(libc::ENOBUFS) | Some(libc::EPERM)
        ) {
            format!(
                " (pinning {} bytes needs CAP_IPC_LOCK or RLIMIT_MEMLOCK at least that)",
                umem.len()
            )
        } else {
            String::new()
        };
        io::Error::new(e.kind(), format!("registering the AF_XDP UMEM: {e}{hint}"))
    })?;
    Ok(false)
}

impl PortIo for XskPorts {
    fn ports(&self) -> usize {
        self.port_socks.len()
    }

    fn recv<F>(&mut self, port: usize, max: usize, on_frame: F) -> usize
    where
        F: FnMut(&mut RxFrame<'_>) -> Disposition,
    {
        self.recv_inner(port, max, 0, |_, _| {}, on_frame)
    }

    fn recv_staged<P, F>(
        &mut self,
        port: usize,
        max: usize,
        stages: usize,
        prefetch: P,
        on_frame: F,
    ) -> usize
    where
        P: FnMut(usize, &[u8]),
        F: FnMut(&mut RxFrame<'_>) -> Disposition,
    {
        self.recv_inner(port, max, stages, prefetch, on_frame)
    }

    fn send_copy(&mut self, port: usize, frame: &[u8], offload: TxOffload) -> Result<(), TxError> {
        let fs = self.frame_size as usize;
        let start = XDP_PACKET_HEADROOM as usize;
        if frame.len() < 14 || start + frame.len() > fs {
            self.stats.io.tx_invalid += 1;
            return Err(TxError::BadLength {
                len: frame.len(),
                max: fs - start,
            });
        }
        if self.free.is_empty() {
            for i in 0..self.socks.len() {
                self.reap(i);
            }
        }
        let Some(chunk) = self.free.pop() else {
            self.stats.io.tx_full += 1;
            return Err(TxError::Full);
        };
        // SAFETY: a free chunk inside the UMEM, owned by us; the frame fits after the
        // headroom (checked above).
        unsafe {
            std::ptr::copy_nonoverlapping(
                frame.as_ptr(),
                self.umem.as_ptr().add(chunk as usize + start),
                frame.len(),
            );
        }
        self.enqueue_tx(port, chunk + start as u64, frame.len() as u32, offload)
    }

    fn flush(&mut self) -> io::Result<()> {
        for i in 0..self.socks.len() {
            if self.socks[i].in_flight > 0 {
                self.kick(i);
            }
        }
        for i in 0..self.socks.len() {
            self.refill(i);
        }
        Ok(())
    }

    fn has_ready(&self) -> bool {
        self.socks
            .iter()
            .any(|s| s.rx.word(s.rx.producer).load(Ordering::Acquire) != s.rx.cached_cons)
    }

    fn wait(&mut self, timeout: Duration) -> io::Result<bool> {
        if self.has_ready() {
            return Ok(true);
        }
        sys::poll_many(&mut self.pollfds, Some(timeout))
    }

    fn stats(&self) -> PortIoStats {
        self.stats.io
    }
}
