//! Checksum and segmentation offload facts that travel with a frame: what the receive
//! side knows about a frame's L4 checksum (complete, partial, or unknown) and whether it
//! is a GSO super-frame, and what the transmit side should ask the kernel to finish.
//!
//! Linux hands frames from a local stack (veth, virtio) over with a *partial* L4 checksum
//! (only the pseudo-header sum) and, with offloads on, as 64 KB GSO super-frames. A
//! forwarder that keeps both as they are (instead of completing checksums and cutting
//! segments in user space) saves two passes over every payload byte: its own, and the
//! receiver's verification (a partial checksum is trusted by the receiving stack).
//!
//! On AF_PACKET these facts come in and go out in the `virtio_net_hdr` that
//! PACKET_VNET_HDR puts before each frame ([`VnetHeader`]). On AF_XDP nothing marks a
//! partial checksum on receive ([`CsumState::Unknown`]: the core recognises it), and
//! AF_XDP's TX metadata carries the checksum request.

/// What a received frame's L4 checksum field holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CsumState {
    /// A complete checksum (or none to speak of: not TCP/UDP), as a wire delivers it.
    #[default]
    Complete,
    /// Only the pseudo-header sum: the frame came from a local stack with checksum
    /// offload and nobody has finished it yet.
    Partial,
    /// The backend cannot tell (AF_XDP): the consumer must look.
    Unknown,
}

/// The kind of a GSO super-frame (`virtio_net_hdr.gso_type` without the ECN bit).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GsoKind {
    TcpV4,
    TcpV6,
    /// UDP segmentation (USO): each segment a datagram.
    UdpL4,
}

/// A GSO super-frame: the kernel cuts it into `size`-byte payload segments on the way out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gso {
    pub kind: GsoKind,
    /// Payload bytes per segment (the MSS for TCP).
    pub size: u16,
    /// Length of the headers repeated in every segment (a hint; may be 0).
    pub hdr_len: u16,
    /// The TCP ECN (CWR) flag must be handled across segments.
    pub ecn: bool,
}

/// Offload facts of a received frame.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RxOffload {
    pub csum: CsumState,
    pub gso: Option<Gso>,
}

/// What the kernel must finish on a transmitted frame.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TxOffload {
    /// Complete the L4 checksum: it starts `start` bytes into the frame (the L4 header) and
    /// the field sits `offset` bytes into that; the field holds the pseudo-header sum.
    pub csum: Option<CsumRequest>,
    /// Segment the frame (implies `csum`).
    pub gso: Option<Gso>,
}

/// A partial checksum the device (or the kernel, or the receiving stack) completes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CsumRequest {
    /// Offset of the checksummed area (the L4 header) from the frame's first byte.
    pub start: u16,
    /// Offset of the checksum field within that area (16 for TCP, 6 for UDP).
    pub offset: u16,
}

impl TxOffload {
    /// Nothing to finish: the frame leaves as it is.
    pub const NONE: TxOffload = TxOffload {
        csum: None,
        gso: None,
    };
}

/// `struct virtio_net_hdr` (10 bytes, little-endian fields on the little-endian hosts the
/// kernel calls "vio_le"; packet sockets use the host's virtio endianness, which is little
/// endian everywhere Linux runs virtio 1.0).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VnetHeader {
    pub flags: u8,
    pub gso_type: u8,
    pub hdr_len: u16,
    pub gso_size: u16,
    pub csum_start: u16,
    pub csum_offset: u16,
}

/// Size of `struct virtio_net_hdr`.
pub const VNET_HDR_LEN: usize = 10;

const F_NEEDS_CSUM: u8 = 1;
const F_DATA_VALID: u8 = 2;
const GSO_NONE: u8 = 0;
const GSO_TCPV4: u8 = 1;
const GSO_TCPV6: u8 = 4;
const GSO_UDP_L4: u8 = 5;
const GSO_ECN: u8 = 0x80;

impl VnetHeader {
    /// Reads a header from its 10 bytes.
    pub fn parse(b: &[u8; VNET_HDR_LEN]) -> VnetHeader {
        let le = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
        VnetHeader {
            flags: b[0],
            gso_type: b[1],
            hdr_len: le(2),
            gso_size: le(4),
            csum_start: le(6),
            csum_offset: le(8),
        }
    }

    /// Its 10 bytes.
    pub fn to_bytes(self) -> [u8; VNET_HDR_LEN] {
        let mut b = [0u8; VNET_HDR_LEN];
        b[0] = self.flags;
        b[1] = self.gso_type;
        b[2..4].copy_from_slice(&self.hdr_len.to_le_bytes());
        b[4..6].copy_from_slice(&self.gso_size.to_le_bytes());
        b[6..8].copy_from_slice(&self.csum_start.to_le_bytes());
        b[8..10].copy_from_slice(&self.csum_offset.to_le_bytes());
        b
    }

    /// The receive-side facts this header states. A GSO type this crate does not know
    /// (legacy UFO, ...) yields `None` for `gso`, and the caller treats the frame as
    /// unforwardable (it is larger than a segment).
    pub fn rx_offload(self) -> (RxOffload, bool) {
        let csum = if self.flags & F_NEEDS_CSUM != 0 {
            CsumState::Partial
        } else {
            CsumState::Complete
        };
        let kind = match self.gso_type & !GSO_ECN {
            GSO_NONE => None,
            GSO_TCPV4 => Some(GsoKind::TcpV4),
            GSO_TCPV6 => Some(GsoKind::TcpV6),
            GSO_UDP_L4 => Some(GsoKind::UdpL4),
            _ => return (RxOffload { csum, gso: None }, false),
        };
        let gso = kind.map(|kind| Gso {
            kind,
            size: self.gso_size,
            hdr_len: self.hdr_len,
            ecn: self.gso_type & GSO_ECN != 0,
        });
        (RxOffload { csum, gso }, true)
    }

    /// The header that asks the kernel for `tx`.
    pub fn for_tx(tx: TxOffload) -> VnetHeader {
        let mut h = VnetHeader::default();
        if let Some(c) = tx.csum {
            h.flags = F_NEEDS_CSUM;
            h.csum_start = c.start;
            h.csum_offset = c.offset;
        }
        if let Some(g) = tx.gso {
            h.gso_type = match g.kind {
                GsoKind::TcpV4 => GSO_TCPV4,
                GsoKind::TcpV6 => GSO_TCPV6,
                GsoKind::UdpL4 => GSO_UDP_L4,
            } | if g.ecn { GSO_ECN } else { 0 };
            h.gso_size = g.size;
            h.hdr_len = g.hdr_len;
        }
        h
    }

    /// Whether the device verified the checksum (`VIRTIO_NET_HDR_F_DATA_VALID`).
    pub fn data_valid(self) -> bool {
        self.flags & F_DATA_VALID != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vnet_header_round_trips() {
        let h = VnetHeader {
            flags: F_NEEDS_CSUM,
            gso_type: GSO_TCPV4 | GSO_ECN,
            hdr_len: 66,
            gso_size: 1448,
            csum_start: 34,
            csum_offset: 16,
        };
        assert_eq!(VnetHeader::parse(&h.to_bytes()), h);
        let (rx, known) = h.rx_offload();
        assert!(known);
        assert_eq!(rx.csum, CsumState::Partial);
        let gso = rx.gso.unwrap();
        assert_eq!(gso.kind, GsoKind::TcpV4);
        assert!(gso.ecn);
        let back = VnetHeader::for_tx(TxOffload {
            csum: Some(CsumRequest {
                start: 34,
                offset: 16,
            }),
            gso: Some(gso),
        });
        assert_eq!(back, h);
    }

    #[test]
    fn unknown_gso_is_flagged() {
        let h = VnetHeader {
            gso_type: 3, // legacy UFO
            ..VnetHeader::default()
        };
        assert!(!h.rx_offload().1);
        assert_eq!(VnetHeader::for_tx(TxOffload::NONE), VnetHeader::default());
    }
}
