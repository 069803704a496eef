//! The small API a worker loop is written against, so the same loop runs over AF_PACKET
//! rings, the AF_XDP backend, or the in-memory backend of [`crate::mem`] in tests:
//! [`PacketRx`]/[`PacketTx`] for one ring, [`PortIo`] for the set of ports a worker
//! forwards between.
//!
//! Generic methods (not trait objects): the per-packet callback is monomorphised and
//! inlined, as on the concrete types.

use std::io;
use std::time::Duration;

use crate::afpacket::{RxFrame, RxRing, TxError, TxRing};
use crate::offload::TxOffload;

/// A source of received frames, handed over in place in batches.
pub trait PacketRx {
    /// Hands up to `max` ready frames to `on_frame`, in arrival order; returns how many.
    /// Never blocks.
    fn recv_batch<F>(&mut self, max: usize, on_frame: F) -> usize
    where
        F: FnMut(&mut RxFrame<'_>);

    /// Waits until a frame is ready or `timeout` passes; returns whether one is ready.
    fn wait_readable(&self, timeout: Option<Duration>) -> io::Result<bool>;
}

/// A sink of frames to transmit, queued then sent in one go.
pub trait PacketTx {
    /// Queues a copy of `frame`; never blocks.
    fn push(&mut self, frame: &[u8]) -> Result<(), TxError>;

    /// Sends everything queued; returns how many frames were handed to the device.
    fn flush(&mut self) -> io::Result<usize>;
}

impl PacketRx for RxRing {
    fn recv_batch<F>(&mut self, max: usize, on_frame: F) -> usize
    where
        F: FnMut(&mut RxFrame<'_>),
    {
        RxRing::recv_batch(self, max, on_frame)
    }

    fn wait_readable(&self, timeout: Option<Duration>) -> io::Result<bool> {
        RxRing::wait_readable(self, timeout)
    }
}

impl PacketTx for TxRing {
    fn push(&mut self, frame: &[u8]) -> Result<(), TxError> {
        TxRing::push(self, frame)
    }

    fn flush(&mut self) -> io::Result<usize> {
        TxRing::flush(self)
    }
}

/// What becomes of a frame after a [`PortIo::recv`] callback.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Disposition {
    /// Done with it (dropped, answered elsewhere, or copied away).
    Release,
    /// Send `buf_with_headroom()[start..start + len]` of the frame out of port `port`,
    /// with the kernel finishing what `offload` asks. Backends that share buffers
    /// between ports (AF_XDP) send it without copying.
    Transmit {
        port: usize,
        start: usize,
        len: usize,
        offload: TxOffload,
    },
}

/// Counters common to the port backends (cumulative).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PortIoStats {
    /// Frames handed to callbacks.
    pub rx_frames: u64,
    /// Frames queued for transmission.
    pub tx_frames: u64,
    /// Frames dropped because a TX ring stayed full.
    pub tx_full: u64,
    /// Frames the backend refused to send (bad length, unsupported offload).
    pub tx_invalid: u64,
    /// Transmit kicks (syscalls).
    pub kicks: u64,
    /// Frames the kernel dropped on receive (ring or fill queue empty), when it says.
    pub rx_dropped: u64,
}

/// The ports (interfaces) one worker drives: receive in batches, forward in place,
/// transmit in batches with one kick per ring. Implemented by the AF_PACKET backend
/// ([`PacketPorts`]) and the AF_XDP one ([`crate::xdp::XskPorts`]).
pub trait PortIo {
    /// Number of ports; port indices are `0..ports()`.
    fn ports(&self) -> usize;

    /// Hands up to `max` ready frames of `port` to `on_frame` in arrival order and does
    /// what each callback returns. Returns how many frames were handed over. Never blocks.
    fn recv<F>(&mut self, port: usize, max: usize, on_frame: F) -> usize
    where
        F: FnMut(&mut RxFrame<'_>) -> Disposition;

    /// Like [`recv`](Self::recv), but first runs `stages` passes of `prefetch` over the
    /// bytes of every frame of the batch (see [`RxRing::recv_batch_staged`]). Backends
    /// without a look-ahead just receive.
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
        let _ = (stages, prefetch);
        self.recv(port, max, on_frame)
    }

    /// Queues a copy of `frame` on `port` (frames that waited for a neighbour, control
    /// traffic). Nothing leaves before [`flush`](Self::flush).
    fn send_copy(&mut self, port: usize, frame: &[u8], offload: TxOffload) -> Result<(), TxError>;

    /// Sends everything queued on every port; reclaims transmitted buffers.
    fn flush(&mut self) -> io::Result<()>;

    /// Whether a frame is ready on any port now (no syscall).
    fn has_ready(&self) -> bool;

    /// Blocks until a frame is ready on some port or `timeout` passes.
    fn wait(&mut self, timeout: Duration) -> io::Result<bool>;

    /// Counters so far.
    fn stats(&self) -> PortIoStats;
}

/// AF_PACKET ports: per interface one RX ring (or two: small slots, and GSO-sized ones
/// for super-frames, see [`crate::bpf::steering_program_split`]) and one TX ring (or two
/// likewise). A forwarded frame is copied from its RX slot into the egress TX ring that
/// fits it.
#[derive(Debug)]
pub struct PacketPorts {
    rx: Vec<Vec<RxRing>>,
    tx: Vec<PortTx>,
    pollfds: Vec<libc::pollfd>,
    stats: PortIoStats,
}

/// The transmit rings of one port.
#[derive(Debug)]
struct PortTx {
    small: TxRing,
    /// GSO-sized slots, for frames longer than `small`'s.
    big: Option<TxRing>,
}

impl PortTx {
    /// The ring for a frame of `len` bytes.
    #[inline]
    fn for_len(&mut self, len: usize) -> &mut TxRing {
        match &mut self.big {
            Some(big) if len > self.small.max_frame_len() => big,
            _ => &mut self.small,
        }
    }
}

/// The rings of one port for [`PacketPorts::with_rings`].
#[derive(Debug)]
pub struct PortRings {
    /// Receive rings (usually one; a small-slot and a GSO-slot one under a size split).
    pub rx: Vec<RxRing>,
    /// The transmit ring for ordinary frames.
    pub tx: TxRing,
    /// A transmit ring with GSO-sized slots for super-frames.
    pub tx_big: Option<TxRing>,
}

impl PacketPorts {
    /// Ports from (receive, transmit) ring pairs, port `i` being pair `i`.
    pub fn new(rings: Vec<(RxRing, TxRing)>) -> PacketPorts {
        Self::with_rings(
            rings
                .into_iter()
                .map(|(rx, tx)| PortRings {
                    rx: vec![rx],
                    tx,
                    tx_big: None,
                })
                .collect(),
        )
    }

    /// Ports with any number of receive rings and one or two transmit rings each.
    pub fn with_rings(ports: Vec<PortRings>) -> PacketPorts {
        let mut rx = Vec::new();
        let mut tx = Vec::new();
        for p in ports {
            rx.push(p.rx);
            tx.push(PortTx {
                small: p.tx,
                big: p.tx_big,
            });
        }
        let pollfds = rx
            .iter()
            .flatten()
            .map(|r| libc::pollfd {
                fd: std::os::fd::AsRawFd::as_raw_fd(r),
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        PacketPorts {
            rx,
            tx,
            pollfds,
            stats: PortIoStats::default(),
        }
    }

    /// The receive rings, for their own counters.
    pub fn rx_rings(&self) -> impl Iterator<Item = &RxRing> {
        self.rx.iter().flatten()
    }
}

/// Queues `frame` on `tx`, kicking the ring once and retrying when it is full.
fn push_or_kick(
    tx: &mut TxRing,
    frame: &[u8],
    offload: TxOffload,
    stats: &mut PortIoStats,
) -> Result<(), TxError> {
    let res = match tx.push_offload(frame, offload) {
        Err(TxError::Full) => {
            stats.kicks += 1;
            let _ = tx.flush();
            tx.push_offload(frame, offload)
        }
        other => other,
    };
    match res {
        Ok(()) => stats.tx_frames += 1,
        Err(TxError::Full) => stats.tx_full += 1,
        Err(_) => stats.tx_invalid += 1,
    }
    res
}

/// Carries out a callback's disposition of an AF_PACKET frame: copy it into a TX ring.
#[inline]
fn forward(txs: &mut [PortTx], stats: &mut PortIoStats, frame: &mut RxFrame<'_>, d: Disposition) {
    if let Disposition::Transmit {
        port,
        start,
        len,
        offload,
    } = d
    {
        let buf = frame.buf_with_headroom();
        match (txs.get_mut(port), buf.get(start..start.saturating_add(len))) {
            (Some(tx), Some(bytes)) => {
                let _ = push_or_kick(tx.for_len(len), bytes, offload, stats);
            }
            _ => stats.tx_invalid += 1,
        }
    }
}

impl PortIo for PacketPorts {
    fn ports(&self) -> usize {
        self.rx.len()
    }

    #[inline]
    fn recv<F>(&mut self, port: usize, max: usize, on_frame: F) -> usize
    where
        F: FnMut(&mut RxFrame<'_>) -> Disposition,
    {
        self.recv_staged(port, max, 0, |_, _| {}, on_frame)
    }

    fn recv_staged<P, F>(
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
        let Some(rings) = self.rx.get_mut(port) else {
            return 0;
        };
        let txs = &mut self.tx;
        let stats = &mut self.stats;
        let mut n = 0;
        for rx in rings.iter_mut() {
            n += rx.recv_batch_staged(max.saturating_sub(n), stages, &mut prefetch, |frame| {
                let d = on_frame(frame);
                forward(txs, stats, frame, d);
            });
        }
        self.stats.rx_frames += n as u64;
        n
    }

    fn send_copy(&mut self, port: usize, frame: &[u8], offload: TxOffload) -> Result<(), TxError> {
        let Some(tx) = self.tx.get_mut(port) else {
            self.stats.tx_invalid += 1;
            return Err(TxError::BadLength {
                len: frame.len(),
                max: 0,
            });
        };
        push_or_kick(tx.for_len(frame.len()), frame, offload, &mut self.stats)
    }

    fn flush(&mut self) -> io::Result<()> {
        let mut first_err = None;
        for p in &mut self.tx {
            for tx in std::iter::once(&mut p.small).chain(p.big.as_mut()) {
                if tx.pending() > 0 {
                    self.stats.kicks += 1;
                    if let Err(e) = tx.flush() {
                        first_err.get_or_insert(e);
                    }
                }
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    fn has_ready(&self) -> bool {
        self.rx.iter().flatten().any(|r| r.has_ready())
    }

    fn wait(&mut self, timeout: Duration) -> io::Result<bool> {
        if self.has_ready() {
            return Ok(true);
        }
        crate::sys::poll_many(&mut self.pollfds, Some(timeout))
    }

    fn stats(&self) -> PortIoStats {
        let mut s = self.stats;
        s.rx_dropped = self.rx.iter().flatten().map(|r| r.stats().losing).sum();
        s
    }
}
