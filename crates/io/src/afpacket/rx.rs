//! The receive half of a packet socket: walks the TPACKET_V2 RX ring, hands each ready frame
//! to the caller in place, and gives the slot back to the kernel.

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::{KernelStats, RingLayout, Shared};
use crate::offload::{CsumState, RxOffload, VnetHeader, VNET_HDR_LEN};
use crate::sys;

/// Most frames one staged receive looks ahead over.
pub const STAGE_MAX: usize = 64;
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

/// Offset from a frame header's start at which the kernel places an Ethernet frame when
/// PACKET_RESERVE is `headroom` (the network header is aligned after the frame headers and
/// 16 bytes of link header room, plus the reserve).
pub(super) fn data_offset(headroom: u32, v3: bool, vnet: bool) -> usize {
    let header_len = if v3 { V3_HEADER_LEN } else { SLOT_HEADER_LEN };
    let vnet_len = if vnet { VNET_HDR_LEN } else { 0 };
    tpacket_align(header_len + 16) + headroom as usize + vnet_len - ETH_HEADER_LEN
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
    offload: RxOffload,
    /// A GSO type the backend does not know: the frame is not a single packet.
    unknown_gso: bool,
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

impl<'a> RxFrame<'a> {
    /// A frame view over a caller-owned buffer (in-memory backends).
    pub(crate) fn from_parts(
        buf: &'a mut [u8],
        start: usize,
        len: usize,
        wire_len: u32,
        status: u32,
        vlan_tci: u16,
        packet_type: PacketType,
    ) -> RxFrame<'a> {
        let csum = if status & libc::TP_STATUS_CSUMNOTREADY != 0 {
            CsumState::Partial
        } else {
            CsumState::Complete
        };
        RxFrame {
            buf,
            start,
            len,
            snaplen: len as u32,
            wire_len,
            status,
            vlan_tci,
            vlan_tpid: 0,
            packet_type,
            offload: RxOffload { csum, gso: None },
            unknown_gso: false,
        }
    }

    /// A frame view for backends without a status word (AF_XDP): whole, its checksum
    /// state as given.
    pub(crate) fn from_buffer(
        buf: &'a mut [u8],
        start: usize,
        len: usize,
        csum: CsumState,
    ) -> RxFrame<'a> {
        RxFrame {
            buf,
            start,
            len,
            snaplen: len as u32,
            wire_len: len as u32,
            status: 0,
            vlan_tci: 0,
            vlan_tpid: 0,
            packet_type: PacketType::Host,
            offload: RxOffload { csum, gso: None },
            unknown_gso: false,
        }
    }

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

    /// TP_STATUS_CSUMNOTREADY (or the vnet header's NEEDS_CSUM): the L4 checksum holds
    /// only the pseudo-header sum (a frame from a local stack over veth, or a GSO frame);
    /// complete it before forwarding, or forward it with a checksum request.
    pub fn csum_partial(&self) -> bool {
        self.offload.csum == CsumState::Partial
    }

    /// What is known about the frame's checksum and segmentation.
    pub fn offload(&self) -> RxOffload {
        self.offload
    }

    /// The frame cannot be forwarded as one packet: cut short (see
    /// [`is_truncated`](Self::is_truncated)) or a GSO super-frame of a kind this crate
    /// does not know.
    pub fn is_unforwardable(&self) -> bool {
        self.is_truncated() || self.unknown_gso
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
    /// GSO super-frames handed over (PACKET_VNET_HDR only).
    pub gso: u64,
}

/// Where the RX half is in its ring.
#[derive(Clone, Copy, Debug)]
enum Walk {
    /// TPACKET_V2: one frame per slot; `head` is the next slot to look at.
    Frames { head: usize },
    /// TPACKET_V3: variable-size frames packed into blocks handed over whole; `cursor` is
    /// the position inside block `block` once it has been opened.
    Blocks {
        block: usize,
        cursor: Option<BlockCursor>,
    },
}

/// Position inside an open V3 block.
#[derive(Clone, Copy, Debug)]
struct BlockCursor {
    /// Frames of the block not handed over yet.
    remaining: u32,
    /// Offset of the next frame's tpacket3_hdr from the block start.
    offset: usize,
}

// tpacket_block_desc: version, offset_to_priv, then tpacket_hdr_v1 { block_status,
// num_pkts, offset_to_first_pkt, ... }.
const BLOCK_STATUS_OFFSET: usize = 8;
const BLOCK_NUM_PKTS_OFFSET: usize = 12;
const BLOCK_FIRST_PKT_OFFSET: usize = 16;
/// `sockaddr_ll` after the aligned tpacket3_hdr.
const V3_SOCKADDR_OFFSET: usize = tpacket_align(std::mem::size_of::<libc::tpacket3_hdr>());
const V3_HEADER_LEN: usize = libc::TPACKET3_HDRLEN;

/// The receive half of a [`PacketSocket`](super::PacketSocket).
#[derive(Debug)]
pub struct RxRing {
    shared: Arc<Shared>,
    base: *mut u8,
    layout: RingLayout,
    walk: Walk,
    skip_outgoing: bool,
    kernel_ignores_outgoing: bool,
    /// Each frame is preceded by a `virtio_net_hdr` (PACKET_VNET_HDR).
    vnet: bool,
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
        blocks: bool,
        skip_outgoing: bool,
        kernel_ignores_outgoing: bool,
        vnet: bool,
    ) -> Self {
        let base = shared.ring_base(&layout);
        let walk = if blocks {
            Walk::Blocks {
                block: 0,
                cursor: None,
            }
        } else {
            Walk::Frames { head: 0 }
        };
        RxRing {
            shared,
            base,
            layout,
            walk,
            skip_outgoing,
            kernel_ignores_outgoing,
            vnet,
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

    /// Slots in the ring (for TPACKET_V3, the frame-size slots its memory amounts to; the
    /// kernel packs frames tighter).
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

    /// The status word at byte `offset` of the ring.
    fn status_at(&self, offset: usize) -> &AtomicU32 {
        // SAFETY: callers pass the offset of a slot's or block's status word, inside the
        // ring; the mapping lives as long as `self`.
        unsafe { status_word(self.base, offset) }
    }

    /// Whether a frame is ready for user space at our position.
    fn head_ready(&self) -> bool {
        if self.layout.frames == 0 {
            return false;
        }
        let offset = match self.walk {
            Walk::Frames { head } => head * self.layout.frame_size,
            Walk::Blocks {
                cursor: Some(c), ..
            } if c.remaining > 0 => return true,
            Walk::Blocks { block, .. } => block * self.layout.block_size + BLOCK_STATUS_OFFSET,
        };
        self.status_at(offset).load(Ordering::Acquire) & libc::TP_STATUS_USER != 0
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
    /// returning each slot to the kernel right after its callback (TPACKET_V3: each block
    /// right after its last frame). Returns the number of frames handed over; 0 when none
    /// is ready. Never blocks, never allocates, makes no syscall.
    pub fn recv_batch<F>(&mut self, max: usize, on_frame: F) -> usize
    where
        F: FnMut(&mut RxFrame<'_>),
    {
        if self.layout.frames == 0 {
            return 0;
        }
        match self.walk {
            Walk::Frames { .. } => self.recv_frames(max, on_frame),
            Walk::Blocks { .. } => self.recv_blocks(max, on_frame),
        }
    }

    /// Like [`recv_batch`](Self::recv_batch), but first looks ahead over up to `max`
    /// (at most [`STAGE_MAX`]) ready frames and runs `stages` passes of `prefetch` over
    /// their bytes, so that a consumer can start the memory loads its processing will need
    /// (connection-table buckets, then entries) for the whole batch before it waits on
    /// the first. TPACKET_V3 rings hand frames over without the look-ahead.
    pub fn recv_batch_staged<P, F>(
        &mut self,
        max: usize,
        stages: usize,
        mut prefetch: P,
        on_frame: F,
    ) -> usize
    where
        P: FnMut(usize, &[u8]),
        F: FnMut(&mut RxFrame<'_>),
    {
        let Walk::Frames { head } = self.walk else {
            return self.recv_batch(max, on_frame);
        };
        if self.layout.frames == 0 {
            return 0;
        }
        let frame_size = self.layout.frame_size;
        let ahead = max.min(STAGE_MAX).min(self.layout.frames);
        let mut slots = [0usize; STAGE_MAX];
        let mut n = 0;
        while n < ahead {
            let index = (head + n) % self.layout.frames;
            let offset = index * frame_size;
            if self.status_at(offset).load(Ordering::Acquire) & libc::TP_STATUS_USER == 0 {
                break;
            }
            slots[n] = index;
            // SAFETY: a slot of the ring that the kernel handed to user space (status seen
            // with Acquire); reading its header is allowed until it is given back.
            let (mac, snaplen) = unsafe {
                let hdr: libc::tpacket2_hdr = std::ptr::read(self.base.add(offset).cast());
                (usize::from(hdr.tp_mac), hdr.tp_snaplen as usize)
            };
            if mac >= SLOT_HEADER_LEN && mac.saturating_add(snaplen) <= frame_size {
                crate::sys::prefetch(self.base.wrapping_add(offset + mac));
            }
            n += 1;
        }
        for stage in 0..stages {
            for &index in &slots[..n] {
                let offset = index * frame_size;
                // SAFETY: as above; the bytes are only read, and stay ours until the
                // processing pass below gives the slot back.
                let data = unsafe {
                    let hdr: libc::tpacket2_hdr = std::ptr::read(self.base.add(offset).cast());
                    let (mac, snaplen) = (usize::from(hdr.tp_mac), hdr.tp_snaplen as usize);
                    if mac < SLOT_HEADER_LEN || mac.saturating_add(snaplen) > frame_size {
                        continue;
                    }
                    std::slice::from_raw_parts(self.base.add(offset + mac), snaplen)
                };
                prefetch(stage, data);
            }
        }
        // The look-ahead saw `n` ready frames: hand exactly those over.
        self.recv_frames(n, on_frame)
    }

    fn recv_frames<F>(&mut self, max: usize, mut on_frame: F) -> usize
    where
        F: FnMut(&mut RxFrame<'_>),
    {
        let frame_size = self.layout.frame_size;
        let mut handed = 0;
        // Each iteration consumes one slot, so the loop is bounded by `max` plus skipped
        // slots, themselves bounded by the ring size.
        let mut budget = max.saturating_add(self.layout.frames);
        while handed < max && budget > 0 && self.head_ready() {
            budget -= 1;
            let Walk::Frames { head: index } = self.walk else {
                break;
            };
            self.walk = Walk::Frames {
                head: (index + 1) % self.layout.frames,
            };
            let slot_offset = index * frame_size;
            // Hands the slot back when this iteration ends, even if `on_frame` panics, so a
            // panic cannot leave behind a slot the kernel would wait on forever.
            // SAFETY: the slot is inside the ring; the mapping outlives this loop.
            let _release = SlotRelease(unsafe { status_word(self.base, slot_offset) });
            // SAFETY: slot `index` is inside the ring (`index < frames`) and an Acquire load
            // just saw TP_STATUS_USER on it; the frame is dropped before `_release` hands
            // the slot back.
            let frame = unsafe {
                let slot = self.base.add(slot_offset);
                let hdr: libc::tpacket2_hdr = std::ptr::read(slot.cast());
                let raw = RawHeader {
                    status: hdr.tp_status,
                    len: hdr.tp_len,
                    snaplen: hdr.tp_snaplen,
                    mac: usize::from(hdr.tp_mac),
                    vlan_tci: hdr.tp_vlan_tci,
                    vlan_tpid: hdr.tp_vlan_tpid,
                };
                frame_in(
                    slot,
                    frame_size,
                    SOCKADDR_OFFSET,
                    SLOT_HEADER_LEN,
                    raw,
                    (self.skip_outgoing, self.vnet),
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

    fn recv_blocks<F>(&mut self, max: usize, mut on_frame: F) -> usize
    where
        F: FnMut(&mut RxFrame<'_>),
    {
        let block_size = self.layout.block_size;
        let blocks = self.layout.blocks;
        let mut handed = 0;
        // Each iteration hands over one frame or moves past one block; a block holds at
        // most block_size / 16 frames, so this bounds the walk over the whole ring.
        let mut budget = max.saturating_add(blocks.saturating_mul(block_size / 16 + 1));
        while handed < max && budget > 0 {
            budget -= 1;
            let Walk::Blocks { block, cursor } = self.walk else {
                break;
            };
            let block_offset = block * block_size;
            // SAFETY: the block's status word is inside the ring, 4-byte aligned; the mapping
            // outlives this loop.
            let status = unsafe { status_word(self.base, block_offset + BLOCK_STATUS_OFFSET) };
            let mut cursor = match cursor {
                Some(cursor) => cursor,
                None => {
                    if status.load(Ordering::Acquire) & libc::TP_STATUS_USER == 0 {
                        break;
                    }
                    // SAFETY: the block is ours (TP_STATUS_USER seen with Acquire) and its
                    // descriptor fields are aligned u32s inside it.
                    let (num, first) = unsafe {
                        let desc = self.base.add(block_offset);
                        (
                            std::ptr::read(desc.add(BLOCK_NUM_PKTS_OFFSET).cast::<u32>()),
                            std::ptr::read(desc.add(BLOCK_FIRST_PKT_OFFSET).cast::<u32>()),
                        )
                    };
                    BlockCursor {
                        remaining: num,
                        offset: first as usize,
                    }
                }
            };
            let frame_offset = cursor.offset;
            if cursor.remaining == 0 || frame_offset.saturating_add(V3_HEADER_LEN) > block_size {
                if cursor.remaining != 0 {
                    self.stats.malformed += 1;
                }
                status.store(libc::TP_STATUS_KERNEL, Ordering::Release);
                self.walk = Walk::Blocks {
                    block: (block + 1) % blocks,
                    cursor: None,
                };
                continue;
            }
            // SAFETY: the block is ours until handed back below, the header lies inside it
            // (checked above) at a 16-byte aligned offset the kernel chose.
            let hdr: libc::tpacket3_hdr =
                unsafe { std::ptr::read(self.base.add(block_offset + frame_offset).cast()) };
            let next = hdr.tp_next_offset as usize;
            let mac = usize::from(hdr.tp_mac);
            // A frame's area runs to the next frame, or for the last one to its end.
            let area_end = if next != 0 {
                next
            } else {
                mac.saturating_add(hdr.tp_snaplen as usize)
            };
            let area_len = area_end.min(block_size - frame_offset);
            cursor.remaining -= 1;
            cursor.offset = if next == 0 {
                block_size
            } else {
                frame_offset + next
            };
            self.walk = Walk::Blocks {
                block,
                cursor: Some(cursor),
            };
            let raw = RawHeader {
                status: hdr.tp_status,
                len: hdr.tp_len,
                snaplen: hdr.tp_snaplen,
                mac,
                vlan_tci: hdr.hv1.tp_vlan_tci as u16,
                vlan_tpid: hdr.hv1.tp_vlan_tpid,
            };
            // SAFETY: the area lies inside the block, which is ours until its status is
            // stored back below, after the frame is dropped.
            let frame = unsafe {
                let area = self.base.add(block_offset + frame_offset);
                frame_in(
                    area,
                    area_len,
                    V3_SOCKADDR_OFFSET,
                    V3_HEADER_LEN,
                    raw,
                    (self.skip_outgoing, self.vnet),
                    &mut self.stats,
                )
            };
            if let Some(mut frame) = frame {
                handed += 1;
                on_frame(&mut frame);
            }
            if cursor.remaining == 0 {
                status.store(libc::TP_STATUS_KERNEL, Ordering::Release);
                self.walk = Walk::Blocks {
                    block: (block + 1) % blocks,
                    cursor: None,
                };
            }
        }
        handed
    }
}

/// The status word at byte `offset` of a ring.
///
/// # Safety
/// `base + offset` must be a 4-byte aligned status word inside a ring that stays mapped
/// for `'r`.
unsafe fn status_word<'r>(base: *mut u8, offset: usize) -> &'r AtomicU32 {
    // SAFETY: per the contract the word lies inside the mapping and is aligned. The kernel
    // accesses it concurrently, which is why it is only ever read and written atomically.
    unsafe { &*(base.add(offset) as *const AtomicU32) }
}

/// Returns an RX slot to the kernel on drop. Release: our reads and writes of the slot
/// happen before the kernel may reuse it.
struct SlotRelease<'r>(&'r AtomicU32);

impl Drop for SlotRelease<'_> {
    fn drop(&mut self) {
        self.0.store(libc::TP_STATUS_KERNEL, Ordering::Release);
    }
}

/// The per-frame fields shared by tpacket2_hdr and tpacket3_hdr.
struct RawHeader {
    status: u32,
    len: u32,
    snaplen: u32,
    /// Offset of the MAC header from the start of the frame's header.
    mac: usize,
    vlan_tci: u16,
    vlan_tpid: u16,
}

/// Builds the view of one received frame whose kernel header starts at `area`, or `None`
/// for a frame to skip, counting it in `stats`. `sockaddr_offset` is where its
/// `sockaddr_ll` sits and `header_len` where headroom starts; outgoing frames are skipped
/// when asked, and a `virtio_net_hdr` is read before the frame when the ring has them.
///
/// # Safety
/// `area..area + area_len` must lie inside the ring, belong to user space (its slot or
/// block status seen as TP_STATUS_USER with Acquire) until the frame is dropped, and hold
/// no status word past `header_len`.
unsafe fn frame_in<'s>(
    area: *mut u8,
    area_len: usize,
    sockaddr_offset: usize,
    header_len: usize,
    raw: RawHeader,
    (skip_outgoing, vnet): (bool, bool),
    stats: &mut RxStats,
) -> Option<RxFrame<'s>> {
    let pkttype_offset = sockaddr_offset + std::mem::offset_of!(libc::sockaddr_ll, sll_pkttype);
    if header_len > area_len || pkttype_offset >= header_len {
        stats.malformed += 1;
        return None;
    }
    // SAFETY: inside the area (checked just above).
    let packet_type = PacketType::from(unsafe { area.add(pkttype_offset).read() });
    if skip_outgoing && packet_type == PacketType::Outgoing {
        stats.outgoing_skipped += 1;
        return None;
    }
    if raw.status & libc::TP_STATUS_LOSING != 0 {
        stats.losing += 1;
    }
    let snaplen = raw.snaplen as usize;
    if raw.mac < header_len || raw.mac.saturating_add(snaplen) > area_len {
        stats.malformed += 1;
        return None;
    }
    // With PACKET_VNET_HDR the kernel writes the header right before the MAC header.
    let (offload, unknown_gso) = if vnet {
        if raw.mac < header_len + VNET_HDR_LEN {
            stats.malformed += 1;
            return None;
        }
        let mut bytes = [0u8; VNET_HDR_LEN];
        // SAFETY: the 10 bytes before the MAC header lie inside the area, past the kernel's
        // headers (checked just above); they are ours like the frame.
        unsafe {
            std::ptr::copy_nonoverlapping(
                area.add(raw.mac - VNET_HDR_LEN),
                bytes.as_mut_ptr(),
                VNET_HDR_LEN,
            )
        };
        let (offload, known) = VnetHeader::parse(&bytes).rx_offload();
        (offload, !known)
    } else {
        let csum = if raw.status & libc::TP_STATUS_CSUMNOTREADY != 0 {
            CsumState::Partial
        } else {
            CsumState::Complete
        };
        (RxOffload { csum, gso: None }, false)
    };
    stats.frames += 1;
    stats.bytes += snaplen as u64;
    if raw.snaplen < raw.len {
        stats.truncated += 1;
    }
    if offload.gso.is_some() {
        stats.gso += 1;
    }
    // SAFETY: per the contract the bytes after the headers are ours for `'s`, and they hold
    // no word the kernel or another reference touches meanwhile.
    let buf =
        unsafe { std::slice::from_raw_parts_mut(area.add(header_len), area_len - header_len) };
    Some(RxFrame {
        buf,
        start: raw.mac - header_len,
        len: snaplen,
        snaplen: raw.snaplen,
        wire_len: raw.len,
        status: raw.status,
        vlan_tci: raw.vlan_tci,
        vlan_tpid: raw.vlan_tpid,
        packet_type,
        offload,
        unknown_gso,
    })
}

impl AsRawFd for RxRing {
    fn as_raw_fd(&self) -> RawFd {
        self.shared.fd.as_raw_fd()
    }
}
