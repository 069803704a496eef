//! The transmit half of a packet socket: copies frames into TPACKET_V2 TX-ring slots and
//! kicks the kernel once per batch.

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use super::{RingLayout, Shared};
use crate::offload::{TxOffload, VnetHeader, VNET_HDR_LEN};
use crate::sys;

/// Where the fields of a TX slot are, which depends on the TPACKET version.
#[derive(Clone, Copy, Debug)]
pub(super) struct SlotFormat {
    status: usize,
    len: usize,
    snaplen: usize,
    /// Frame data: without PACKET_TX_HAS_OFF the kernel reads it right after the aligned
    /// frame header (tp_hdrlen minus sizeof(sockaddr_ll)).
    data: usize,
}

impl SlotFormat {
    pub(super) const V2: SlotFormat = SlotFormat {
        status: std::mem::offset_of!(libc::tpacket2_hdr, tp_status),
        len: std::mem::offset_of!(libc::tpacket2_hdr, tp_len),
        snaplen: std::mem::offset_of!(libc::tpacket2_hdr, tp_snaplen),
        data: libc::TPACKET2_HDRLEN - std::mem::size_of::<libc::sockaddr_ll>(),
    };
    /// V3 TX slots are fixed-size frames too, with a tpacket3_hdr (tp_next_offset 0).
    pub(super) const V3: SlotFormat = SlotFormat {
        status: std::mem::offset_of!(libc::tpacket3_hdr, tp_status),
        len: std::mem::offset_of!(libc::tpacket3_hdr, tp_len),
        snaplen: std::mem::offset_of!(libc::tpacket3_hdr, tp_snaplen),
        data: libc::TPACKET3_HDRLEN - std::mem::size_of::<libc::sockaddr_ll>(),
    };
}
/// The kernel rejects frames shorter than the link-layer header.
const MIN_FRAME_LEN: usize = 14;

/// Why [`TxRing::push`] did not queue a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxError {
    /// Every slot is still waiting for the kernel: flush, or drop the frame.
    Full,
    /// The frame is shorter than an Ethernet header or longer than a slot holds.
    BadLength {
        /// The frame's length.
        len: usize,
        /// The largest frame a slot holds.
        max: usize,
    },
    /// An offload was asked of a ring that cannot carry it (no PACKET_VNET_HDR).
    NoOffload,
}

impl std::fmt::Display for TxError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TxError::Full => write!(f, "TX ring full"),
            TxError::BadLength { len, max } => write!(f, "frame of {len} bytes outside 14..={max}"),
            TxError::NoOffload => write!(f, "offload requested without PACKET_VNET_HDR"),
        }
    }
}

impl std::error::Error for TxError {}

/// Counters kept by the transmit half (cumulative, never reset).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TxStats {
    /// Frames queued into the ring.
    pub frames: u64,
    /// Bytes queued into the ring.
    pub bytes: u64,
    /// `push` calls refused because the ring was full.
    pub full: u64,
    /// `push` calls refused for a bad length.
    pub bad_length: u64,
    /// Slots found with TP_STATUS_WRONG_FORMAT when reused: the kernel refused the frame
    /// (e.g. longer than the MTU). With PACKET_LOSS the kernel normally drops those
    /// silently, so this mostly stays 0.
    pub wrong_format: u64,
    /// Kicks (`send`) made.
    pub kicks: u64,
    /// Kicks the kernel answered with EAGAIN/ENOBUFS (frames stay queued for the next).
    pub kick_busy: u64,
}

/// The transmit half of a [`PacketSocket`](super::PacketSocket).
#[derive(Debug)]
pub struct TxRing {
    shared: Arc<Shared>,
    base: *mut u8,
    layout: RingLayout,
    format: SlotFormat,
    head: usize,
    pending: usize,
    /// Each slot starts with a `virtio_net_hdr` (PACKET_VNET_HDR).
    vnet: bool,
    stats: TxStats,
}

// SAFETY: as for RxRing: the TX slots are touched only through `&mut self` of the socket's
// one `TxRing`, and the mapping lives as long as the `Arc<Shared>`.
unsafe impl Send for TxRing {}

impl TxRing {
    pub(super) fn new(
        shared: Arc<Shared>,
        layout: RingLayout,
        format: SlotFormat,
        vnet: bool,
    ) -> Self {
        let base = shared.ring_base(&layout);
        TxRing {
            shared,
            base,
            layout,
            format,
            head: 0,
            pending: 0,
            vnet,
            stats: TxStats::default(),
        }
    }

    /// Whether frames can carry offload requests ([`push_offload`](Self::push_offload)
    /// honours them; without PACKET_VNET_HDR they are refused).
    pub fn has_vnet_hdr(&self) -> bool {
        self.vnet
    }

    fn vnet_len(&self) -> usize {
        if self.vnet {
            VNET_HDR_LEN
        } else {
            0
        }
    }

    /// Index of the interface frames leave by.
    pub fn ifindex(&self) -> u32 {
        self.shared.ifindex
    }

    /// Slots in the ring.
    pub fn capacity(&self) -> usize {
        self.layout.frames
    }

    /// The largest frame one slot holds. The kernel also drops frames longer than the
    /// interface MTU plus the Ethernet (and a VLAN) header.
    pub fn max_frame_len(&self) -> usize {
        self.layout
            .frame_size
            .saturating_sub(self.format.data + self.vnet_len())
    }

    /// Frames pushed since the last successful [`flush`](Self::flush).
    pub fn pending(&self) -> usize {
        self.pending
    }

    /// Counters so far.
    pub fn stats(&self) -> TxStats {
        self.stats
    }

    fn status_of(&self, index: usize) -> &AtomicU32 {
        // SAFETY: `index < frames`, so the slot is inside the mapping; the status word is an
        // aligned u32 of the slot header that the kernel also accesses atomically.
        unsafe {
            &*(self
                .base
                .add(index * self.layout.frame_size + self.format.status)
                as *const AtomicU32)
        }
    }

    /// Copies `frame` (a complete Ethernet frame) into the next free slot and marks it for
    /// sending; nothing leaves before [`flush`](Self::flush). Never blocks or allocates.
    pub fn push(&mut self, frame: &[u8]) -> Result<(), TxError> {
        self.push_offload(frame, TxOffload::NONE)
    }

    /// Like [`push`](Self::push), asking the kernel to finish the frame as `offload` says
    /// (complete a partial checksum, segment a GSO frame). Needs PACKET_VNET_HDR
    /// ([`RingConfig::vnet_hdr`](super::RingConfig::vnet_hdr)) unless `offload` is empty:
    /// otherwise [`TxError::NoOffload`].
    pub fn push_offload(&mut self, frame: &[u8], offload: TxOffload) -> Result<(), TxError> {
        if !self.vnet && offload != TxOffload::NONE {
            return Err(TxError::NoOffload);
        }
        let max = self.max_frame_len();
        if frame.len() < MIN_FRAME_LEN || frame.len() > max {
            self.stats.bad_length += 1;
            return Err(TxError::BadLength {
                len: frame.len(),
                max,
            });
        }
        if self.layout.frames == 0 {
            self.stats.full += 1;
            return Err(TxError::Full);
        }
        let index = self.head;
        // The kernel walks the ring in order, so the slot at our head is the oldest one we
        // handed over: if it is not back, none after it is either.
        match self.status_of(index).load(Ordering::Acquire) {
            libc::TP_STATUS_AVAILABLE => {}
            libc::TP_STATUS_WRONG_FORMAT => self.stats.wrong_format += 1,
            _ => {
                self.stats.full += 1;
                return Err(TxError::Full);
            }
        }
        let vnet_len = self.vnet_len();
        let len = (vnet_len + frame.len()) as u32;
        // SAFETY: the slot is inside the mapping and its status is AVAILABLE (or
        // WRONG_FORMAT), so the kernel does not touch it until we set SEND_REQUEST below;
        // `&mut self` makes this the only user-space access. The data area (vnet header and
        // frame, checked against max_frame_len) and the two aligned u32 length fields lie
        // inside the slot and do not overlap the status word.
        unsafe {
            let slot = self.base.add(index * self.layout.frame_size);
            let data = slot.add(self.format.data);
            if self.vnet {
                let hdr = VnetHeader::for_tx(offload).to_bytes();
                std::ptr::copy_nonoverlapping(hdr.as_ptr(), data, VNET_HDR_LEN);
            }
            std::ptr::copy_nonoverlapping(frame.as_ptr(), data.add(vnet_len), frame.len());
            slot.add(self.format.len).cast::<u32>().write(len);
            slot.add(self.format.snaplen).cast::<u32>().write(len);
        }
        // Release: the frame and its length are visible before the kernel sees the request.
        self.status_of(index)
            .store(libc::TP_STATUS_SEND_REQUEST, Ordering::Release);
        self.head = (index + 1) % self.layout.frames;
        self.pending += 1;
        self.stats.frames += 1;
        self.stats.bytes += frame.len() as u64;
        Ok(())
    }

    /// Asks the kernel to send everything pushed, with one non-blocking
    /// `send(fd, NULL, 0, MSG_DONTWAIT)`. Returns the number of frames handed over (0 when
    /// nothing was pending or the kernel was busy: they stay queued for the next flush).
    pub fn flush(&mut self) -> io::Result<usize> {
        if self.pending == 0 {
            return Ok(0);
        }
        self.stats.kicks += 1;
        match sys::kick_tx(self.shared.fd.as_raw_fd()) {
            Ok(_) => Ok(std::mem::take(&mut self.pending)),
            Err(err) if matches!(err.raw_os_error(), Some(libc::EAGAIN) | Some(libc::ENOBUFS)) => {
                self.stats.kick_busy += 1;
                Ok(0)
            }
            Err(err) => Err(err),
        }
    }

    /// Waits (poll POLLOUT) until the kernel has room again or `timeout` passes.
    pub fn wait_writable(&self, timeout: Option<std::time::Duration>) -> io::Result<bool> {
        sys::poll_one(self.shared.fd.as_raw_fd(), libc::POLLOUT, timeout)
    }
}

impl AsRawFd for TxRing {
    fn as_raw_fd(&self) -> RawFd {
        self.shared.fd.as_raw_fd()
    }
}
