//! The receive half of a packet socket: walks the TPACKET_V2 RX ring, hands each ready frame
//! to the caller in place, and gives the slot back to the kernel.

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::{KernelStats, RingLayout, Shared};
use crate::sys;

/// Where `sockaddr_ll` sits in a slot: right after the aligned `tpacket2_hdr`.
const SOCKADDR_OFFSET: usize = tpacket_align(std::mem::size_of::<libc::tpacket2_hdr>());
/// First byte after the kernel's per-slot headers; headroom and frame follow.
pub(super) const SLOT_HEADER_LEN: usize = libc::TPACKET2_HDRLEN;
/// Smallest frame room we accept per slot when checking the configuration.
pub(super) const MIN_FRAME_ROOM: usize = 128;
const ETH_HEADER_LEN: usize = 14;

const fn tpacket_align(x: usize) -> usize {
    (x + libc::TPACKET_ALIGNMENT - 1) & !(libc::TPACKET_ALIGNMENT - 1)
}

/// Offset from a slot's start at which the kernel places an Ethernet frame when
/// PACKET_RESERVE is `headroom` (net/packet/af_packet.c: the network header is aligned after
/// the slot headers and 16 bytes of link header room, plus the reserve).
pub(super) fn data_offset(headroom: u32) -> usize {
    tpacket_align(SLOT_HEADER_LEN + 16) + headroom as usize - ETH_HEADER_LEN
}

/// The packet type the kernel gave a received frame (`sll_pkttype`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PacketType {
    /// Addressed to this host's MAC.
    Host,
    /// Link-layer broadcast.
    Broadcast,
    /// Link-layer multicast.
    Multicast,
    /// Addressed to another host's MAC (seen in promiscuous mode or on a bridge port).
    OtherHost,
    /// Sent by this host (only when outgoing frames are not ignored).
    Outgoing,
    /// Any other value the kernel reports.
    Other(u8),
}

impl From<u8> for PacketType {
    fn from(raw: u8) -> Self {
        match raw {
            libc::PACKET_HOST => PacketType::Host,
            libc::PACKET_BROADCAST => PacketType::Broadcast,
            libc::PACKET_MULTICAST => PacketType::Multicast,
            libc::PACKET_OTHERHOST => PacketType::OtherHost,
            libc::PACKET_OUTGOING => PacketType::Outgoing,
            other => PacketType::Other(other),
        }
    }
}

/// One received frame, borrowed in place from its ring slot for the duration of the
/// `recv_batch` callback.
///
/// The slot's bytes from the end of the kernel's headers to the end of the slot are
/// exposed as one buffer ([`buf_with_headroom`](Self::buf_with_headroom)); the frame
/// occupies `start()..start() + len()` of it. Writing an outer header into the headroom
/// and moving the range with [`set_range`](Self::set_range) encapsulates in place.
#[derive(Debug)]
pub struct RxFrame<'a> {
    buf: &'a mut [u8],
    start: usize,
    len: usize,
    snaplen: u32,
    wire_len: u32,
    status: u32,
    vlan_tci: u16,
    vlan_tpid: u16,
    packet_type: PacketType,
}

/// A [`RxFrame::set_range`] request that does not fit the slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SetRangeError {
    /// Requested start.
    pub start: usize,
    /// Requested length.
    pub len: usize,
    /// Size of the slot buffer.
    pub capacity: usize,
}

impl std::fmt::Display for SetRangeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "range {}+{} exceeds the {}-byte slot",
            self.start, self.len, self.capacity
        )
    }
}

impl std::error::Error for SetRangeError {}

impl RxFrame<'_> {
    /// The frame bytes (from the Ethernet header on; a device-stripped VLAN tag is not in
    /// them, see [`vlan_tci`](Self::vlan_tci)).
    pub fn data(&self) -> &[u8] {
        &self.buf[self.start..self.start + self.len]
    }

    /// The frame bytes, writable for in-place rewriting.
    pub fn data_mut(&mut self) -> &mut [u8] {
        &mut self.buf[self.start..self.start + self.len]
    }

    /// The whole writable slot buffer: headroom, frame, and free tail room.
    pub fn buf_with_headroom(&mut self) -> &mut [u8] {
        self.buf
    }

    /// Offset of the frame within [`buf_with_headroom`](Self::buf_with_headroom); equally
    /// the headroom available before it.
    pub fn start(&self) -> usize {
        self.start
    }

    /// Length of the frame as captured (at most the slot's room; see [`is_truncated`]).
    ///
    /// [`is_truncated`]: Self::is_truncated
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the frame range is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Capacity of the slot buffer.
    pub fn capacity(&self) -> usize {
        self.buf.len()
    }

    /// Moves the frame range within the slot buffer, e.g. `(start - 20, len + 20)` after
    /// writing an outer IPv4 header into the headroom, or a shorter `len` to trim.
    pub fn set_range(&mut self, start: usize, len: usize) -> Result<(), SetRangeError> {
        match start.checked_add(len) {
            Some(end) if end <= self.buf.len() => {
                self.start = start;
                self.len = len;
                Ok(())
            }
            _ => Err(SetRangeError {
                start,
                len,
                capacity: self.buf.len(),
            }),
        }
    }

    /// The frame's length on the wire (`tp_len`).
    pub fn wire_len(&self) -> u32 {
        self.wire_len
    }

    /// Bytes the kernel captured (`tp_snaplen`).
    pub fn captured_len(&self) -> u32 {
        self.snaplen
    }

    /// The frame did not fit its slot and was cut: `captured_len() < wire_len()`. Such a
    /// frame must not be forwarded as if whole.
    pub fn is_truncated(&self) -> bool {
        self.snaplen < self.wire_len
    }

    /// TP_STATUS_CSUMNOTREADY: the L4 checksum holds only the pseudo-header sum (a frame
    /// from a local stack over veth, or a GSO frame); complete it before forwarding.
    pub fn csum_partial(&self) -> bool {
        self.status & libc::TP_STATUS_CSUMNOTREADY != 0
    }

    /// TP_STATUS_CSUM_VALID: the device verified the L4 checksum.
    pub fn csum_valid(&self) -> bool {
        self.status & libc::TP_STATUS_CSUM_VALID != 0
    }

    /// The VLAN tag control information the device stripped from the frame, if any.
    pub fn vlan_tci(&self) -> Option<u16> {
        (self.status & libc::TP_STATUS_VLAN_VALID != 0).then_some(self.vlan_tci)
    }

    /// The stripped tag's protocol (0x8100 or 0x88a8), when the kernel reports it.
    pub fn vlan_tpid(&self) -> Option<u16> {
        (self.status & libc::TP_STATUS_VLAN_TPID_VALID != 0).then_some(self.vlan_tpid)
    }

    /// The packet type from `sockaddr_ll`.
    pub fn packet_type(&self) -> PacketType {
        self.packet_type
    }

    /// The raw `tp_status` word, for flags not covered above.
    pub fn raw_status(&self) -> u32 {
        self.status
    }
}

/// Counters kept by the receive half (cumulative, never reset).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RxStats {
    /// Frames handed to the callback.
    pub frames: u64,
    /// Captured bytes handed to the callback.
    pub bytes: u64,
    /// Frames handed over truncated (`captured_len < wire_len`).
    pub truncated: u64,
    /// Outgoing frames skipped in user space (kernel without PACKET_IGNORE_OUTGOING).
    pub outgoing_skipped: u64,
    /// Slots whose kernel header made no sense (skipped; never seen in practice).
    pub malformed: u64,
    /// Frames flagged TP_STATUS_LOSING: the kernel dropped frames since the last
    /// PACKET_STATISTICS read (see [`RxRing::kernel_stats`]).
    pub losing: u64,
}

/// The receive half of a [`PacketSocket`](super::PacketSocket).
#[derive(Debug)]
pub struct RxRing {
    shared: Arc<Shared>,
    base: *mut u8,
    layout: RingLayout,
    head: usize,
    skip_outgoing: bool,
    kernel_ignores_outgoing: bool,
    stats: RxStats,
}

// SAFETY: the ring memory and descriptor are owned through `Arc<Shared>`; the RX slots are
// touched only through `&mut self` of the one `RxRing` of a socket, so moving it to another
// thread cannot create concurrent access (the TX half uses disjoint slots).
unsafe impl Send for RxRing {}

impl RxRing {
    pub(super) fn new(
        shared: Arc<Shared>,
        layout: RingLayout,
        skip_outgoing: bool,
        kernel_ignores_outgoing: bool,
    ) -> Self {
        let base = shared.ring_base(&layout);
        RxRing {
            shared,
            base,
            layout,
            head: 0,
            skip_outgoing,
            kernel_ignores_outgoing,
            stats: RxStats::default(),
        }
    }

    /// Index of the interface the socket is bound to.
    pub fn ifindex(&self) -> u32 {
        self.shared.ifindex
    }

    /// Whether the kernel drops outgoing frames itself (otherwise they are skipped here).
    pub fn kernel_ignores_outgoing(&self) -> bool {
        self.kernel_ignores_outgoing
    }

    /// Slots in the ring.
    pub fn capacity(&self) -> usize {
        self.layout.frames
    }

    /// Counters so far.
    pub fn stats(&self) -> RxStats {
        self.stats
    }

    /// The kernel's packet and drop counters since the previous call (PACKET_STATISTICS).
    pub fn kernel_stats(&self) -> io::Result<KernelStats> {
        self.shared.kernel_stats()
    }

    /// The status word of slot `index`, shared with the kernel.
    fn status_of(&self, index: usize) -> &AtomicU32 {
        // SAFETY: callers pass `index < frames`; the mapping lives as long as `self`.
        unsafe { status_word(self.base, self.layout.frame_size, index) }
    }

    /// Whether the slot at the head holds a frame for user space.
    fn head_ready(&self) -> bool {
        self.layout.frames > 0
            && self.status_of(self.head).load(Ordering::Acquire) & libc::TP_STATUS_USER != 0
    }

    /// Whether a frame is ready now, without a syscall.
    pub fn has_ready(&self) -> bool {
        self.head_ready()
    }

    /// Waits until a frame is ready or `timeout` passes (`None`: no limit). Returns
    /// whether a frame is ready. Checks the ring first, so a worker can call it after
    /// every empty batch: it blocks only when the ring really is empty.
    pub fn wait_readable(&self, timeout: Option<Duration>) -> io::Result<bool> {
        if self.layout.frames == 0 {
            return Ok(false);
        }
        if self.head_ready() {
            return Ok(true);
        }
        sys::poll_one(self.shared.fd.as_raw_fd(), libc::POLLIN, timeout)?;
        Ok(self.head_ready())
    }

    /// Hands up to `max` ready frames, one at a time and in arrival order, to `on_frame`,
    /// returning each slot to the kernel right after its callback. Returns the number of
    /// frames handed over; 0 when none is ready. Never blocks, never allocates, makes no
    /// syscall.
    pub fn recv_batch<F>(&mut self, max: usize, mut on_frame: F) -> usize
    where
        F: FnMut(&mut RxFrame<'_>),
    {
        let mut handed = 0;
        // Each iteration consumes one slot, so the loop is bounded by `max` plus skipped
        // slots, themselves bounded by the ring size.
        let mut budget = max.saturating_add(self.layout.frames);
        while handed < max && budget > 0 && self.head_ready() {
            budget -= 1;
            let index = self.head;
            self.head = (self.head + 1) % self.layout.frames;
            // Hands the slot back when this iteration ends, even if `on_frame` panics, so a
            // panic cannot leave behind a slot the kernel would wait on forever.
            // SAFETY: `index < frames`; the mapping outlives this loop (held by `shared`).
            let _release =
                SlotRelease(unsafe { status_word(self.base, self.layout.frame_size, index) });
            // SAFETY: `index < frames` and an Acquire load just saw TP_STATUS_USER on the
            // slot; the frame is dropped before `_release` hands the slot back.
            let frame = unsafe {
                slot_frame(
                    self.base,
                    self.layout.frame_size,
                    index,
                    self.skip_outgoing,
                    &mut self.stats,
                )
            };
            if let Some(mut frame) = frame {
                handed += 1;
                on_frame(&mut frame);
            }
        }
        handed
    }
}

/// The status word of slot `index`, shared with the kernel.
///
/// # Safety
/// `base` must point at a ring of more than `index` slots of `frame_size` bytes that stays
/// mapped for `'r`.
unsafe fn status_word<'r>(base: *mut u8, frame_size: usize, index: usize) -> &'r AtomicU32 {
    // SAFETY: per the contract the slot lies inside the mapping; slots start on 16-byte
    // boundaries and `tp_status` is their first u32. The kernel accesses the word
    // concurrently, which is why it is only ever read and written atomically.
    unsafe { &*(base.add(index * frame_size) as *const AtomicU32) }
}

/// Returns an RX slot to the kernel on drop. Release: our reads and writes of the slot
/// happen before the kernel may reuse it.
struct SlotRelease<'r>(&'r AtomicU32);

impl Drop for SlotRelease<'_> {
    fn drop(&mut self) {
        self.0.store(libc::TP_STATUS_KERNEL, Ordering::Release);
    }
}

/// Builds the view of slot `index`, or `None` for a slot to skip, counting it in `stats`.
///
/// # Safety
/// `base` must point at an RX ring of more than `index` slots of `frame_size` bytes, an
/// Acquire load must have seen TP_STATUS_USER in the slot's status (so the kernel leaves it
/// alone), and the returned frame must be dropped before the slot is handed back.
unsafe fn slot_frame<'s>(
    base: *mut u8,
    frame_size: usize,
    index: usize,
    skip_outgoing: bool,
    stats: &mut RxStats,
) -> Option<RxFrame<'s>> {
    // SAFETY: per the contract the slot is inside the mapping and owned by user space; no
    // other reference to it exists while the frame lives.
    let slot = unsafe { std::slice::from_raw_parts_mut(base.add(index * frame_size), frame_size) };
    // SAFETY: the slot starts with a tpacket2_hdr and is 16-byte aligned; any bit pattern
    // is a valid header (plain integers).
    let hdr: libc::tpacket2_hdr = unsafe { std::ptr::read(slot.as_ptr().cast()) };
    let pkttype = slot[SOCKADDR_OFFSET + std::mem::offset_of!(libc::sockaddr_ll, sll_pkttype)];
    let packet_type = PacketType::from(pkttype);
    if skip_outgoing && packet_type == PacketType::Outgoing {
        stats.outgoing_skipped += 1;
        return None;
    }
    if hdr.tp_status & libc::TP_STATUS_LOSING != 0 {
        stats.losing += 1;
    }
    let mac = usize::from(hdr.tp_mac);
    let snaplen = hdr.tp_snaplen as usize;
    if mac < SLOT_HEADER_LEN || mac.saturating_add(snaplen) > frame_size {
        stats.malformed += 1;
        return None;
    }
    stats.frames += 1;
    stats.bytes += snaplen as u64;
    if hdr.tp_snaplen < hdr.tp_len {
        stats.truncated += 1;
    }
    Some(RxFrame {
        buf: &mut slot[SLOT_HEADER_LEN..],
        start: mac - SLOT_HEADER_LEN,
        len: snaplen,
        snaplen: hdr.tp_snaplen,
        wire_len: hdr.tp_len,
        status: hdr.tp_status,
        vlan_tci: hdr.tp_vlan_tci,
        vlan_tpid: hdr.tp_vlan_tpid,
        packet_type,
    })
}

impl AsRawFd for RxRing {
    fn as_raw_fd(&self) -> RawFd {
        self.shared.fd.as_raw_fd()
    }
}
