//! An in-memory backend for tests and replay: frames queued by hand come out of
//! [`MemRx::recv_batch`] exactly as a ring would hand them (with headroom and flags), and
//! frames pushed into [`MemTx`] are kept for inspection. No root, no sockets.

use std::collections::VecDeque;
use std::io;
use std::time::Duration;

use crate::afpacket::{PacketType, RxFrame, TxError};
use crate::backend::{PacketRx, PacketTx};

/// Metadata of a queued frame, as a ring would report it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemFrameMeta {
    /// Packet type (`sockaddr_ll`).
    pub packet_type: PacketType,
    /// TP_STATUS_CSUMNOTREADY: the L4 checksum is partial.
    pub csum_partial: bool,
    /// TP_STATUS_CSUM_VALID.
    pub csum_valid: bool,
    /// A device-stripped VLAN tag.
    pub vlan_tci: Option<u16>,
    /// Length on the wire; `None`: the frame's own length. Larger than the frame makes it
    /// a truncated capture.
    pub wire_len: Option<u32>,
}

impl Default for MemFrameMeta {
    fn default() -> Self {
        MemFrameMeta {
            packet_type: PacketType::Host,
            csum_partial: false,
            csum_valid: false,
            vlan_tci: None,
            wire_len: None,
        }
    }
}

#[derive(Debug)]
struct Queued {
    buf: Vec<u8>,
    len: usize,
    meta: MemFrameMeta,
}

/// Receive side of the in-memory backend.
#[derive(Debug)]
pub struct MemRx {
    headroom: usize,
    slot_size: usize,
    queue: VecDeque<Queued>,
}

impl MemRx {
    /// Frames get `headroom` bytes before them and slots of `slot_size` bytes in all (like
    /// `RingConfig::headroom` and the frame room of a slot).
    pub fn new(headroom: usize, slot_size: usize) -> MemRx {
        MemRx {
            headroom,
            slot_size,
            queue: VecDeque::new(),
        }
    }

    /// Queues a frame; a frame longer than the slot's room is cut and flagged truncated,
    /// as the kernel does.
    pub fn queue(&mut self, frame: &[u8], meta: MemFrameMeta) {
        let room = self.slot_size.saturating_sub(self.headroom);
        let len = frame.len().min(room);
        let mut buf = vec![0u8; self.headroom.max(self.slot_size)];
        buf[self.headroom..self.headroom + len].copy_from_slice(&frame[..len]);
        let wire = meta
            .wire_len
            .unwrap_or(frame.len() as u32)
            .max(frame.len() as u32);
        self.queue.push_back(Queued {
            buf,
            len,
            meta: MemFrameMeta {
                wire_len: Some(wire),
                ..meta
            },
        });
    }

    /// Frames still queued.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }
}

impl PacketRx for MemRx {
    fn recv_batch<F>(&mut self, max: usize, mut on_frame: F) -> usize
    where
        F: FnMut(&mut RxFrame<'_>),
    {
        let mut handed = 0;
        while handed < max {
            let Some(mut queued) = self.queue.pop_front() else {
                break;
            };
            let meta = queued.meta;
            let mut status = 0;
            if meta.csum_partial {
                status |= libc::TP_STATUS_CSUMNOTREADY;
            }
            if meta.csum_valid {
                status |= libc::TP_STATUS_CSUM_VALID;
            }
            if meta.vlan_tci.is_some() {
                status |= libc::TP_STATUS_VLAN_VALID;
            }
            let mut frame = RxFrame::from_parts(
                &mut queued.buf,
                self.headroom,
                queued.len,
                meta.wire_len.unwrap_or(queued.len as u32),
                status,
                meta.vlan_tci.unwrap_or(0),
                meta.packet_type,
            );
            on_frame(&mut frame);
            handed += 1;
        }
        handed
    }

    fn wait_readable(&self, _timeout: Option<Duration>) -> io::Result<bool> {
        Ok(!self.queue.is_empty())
    }
}

/// Transmit side of the in-memory backend: keeps what was flushed.
#[derive(Debug, Default)]
pub struct MemTx {
    capacity: usize,
    max_frame_len: usize,
    pending: Vec<Vec<u8>>,
    /// Frames flushed so far, in order.
    pub sent: Vec<Vec<u8>>,
    /// Number of flushes that sent something.
    pub kicks: usize,
}

impl MemTx {
    /// Holds up to `capacity` unflushed frames of at most `max_frame_len` bytes.
    pub fn new(capacity: usize, max_frame_len: usize) -> MemTx {
        MemTx {
            capacity,
            max_frame_len,
            ..MemTx::default()
        }
    }

    /// Frames pushed but not flushed.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }
}

impl PacketTx for MemTx {
    fn push(&mut self, frame: &[u8]) -> Result<(), TxError> {
        if frame.len() < 14 || frame.len() > self.max_frame_len {
            return Err(TxError::BadLength {
                len: frame.len(),
                max: self.max_frame_len,
            });
        }
        if self.pending.len() >= self.capacity {
            return Err(TxError::Full);
        }
        self.pending.push(frame.to_vec());
        Ok(())
    }

    fn flush(&mut self) -> io::Result<usize> {
        let n = self.pending.len();
        if n > 0 {
            self.kicks += 1;
            self.sent.append(&mut self.pending);
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A toy worker loop, generic over the backend: swaps the MACs and sends back.
    fn reflect<R: PacketRx, T: PacketTx>(rx: &mut R, tx: &mut T) -> usize {
        let n = rx.recv_batch(32, |frame| {
            let data = frame.data_mut();
            let (dst, src) = data.split_at_mut(6);
            dst.swap_with_slice(&mut src[..6]);
            let _ = tx.push(frame.data());
        });
        tx.flush().unwrap();
        n
    }

    #[test]
    fn frames_round_trip_through_a_generic_loop() {
        let mut rx = MemRx::new(128, 2048 - 66);
        let mut tx = MemTx::new(64, 1900);
        let mut frame = vec![0u8; 60];
        frame[..6].copy_from_slice(&[1; 6]);
        frame[6..12].copy_from_slice(&[2; 6]);
        for _ in 0..3 {
            rx.queue(&frame, MemFrameMeta::default());
        }
        assert!(rx.wait_readable(None).unwrap());
        assert_eq!(reflect(&mut rx, &mut tx), 3);
        assert!(rx.is_empty());
        assert_eq!((tx.sent.len(), tx.kicks), (3, 1));
        assert_eq!(&tx.sent[0][..12], &[2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1]);
    }

    #[test]
    fn flags_headroom_and_truncation_match_the_rings() {
        let mut rx = MemRx::new(128, 256);
        rx.queue(
            &[0xab; 200],
            MemFrameMeta {
                csum_partial: true,
                vlan_tci: Some(7),
                ..MemFrameMeta::default()
            },
        );
        rx.queue(
            &[0xcd; 60],
            MemFrameMeta {
                packet_type: PacketType::OtherHost,
                csum_valid: true,
                ..MemFrameMeta::default()
            },
        );
        let mut seen = Vec::new();
        rx.recv_batch(8, |frame| {
            assert_eq!(frame.start(), 128);
            seen.push((
                frame.len(),
                frame.wire_len(),
                frame.is_truncated(),
                frame.csum_partial(),
                frame.csum_valid(),
                frame.vlan_tci(),
                frame.packet_type(),
            ));
            let start = frame.start();
            frame.buf_with_headroom()[start - 20..start].fill(0x45);
            frame.set_range(start - 20, frame.len() + 20).unwrap();
            assert_eq!(frame.data()[0], 0x45);
        });
        assert_eq!(
            seen[0],
            (128, 200, true, true, false, Some(7), PacketType::Host)
        );
        assert_eq!(
            seen[1],
            (60, 60, false, false, true, None, PacketType::OtherHost)
        );
    }

    #[test]
    fn tx_full_and_bad_length() {
        let mut tx = MemTx::new(2, 100);
        tx.push(&[0; 14]).unwrap();
        tx.push(&[0; 100]).unwrap();
        assert_eq!(tx.push(&[0; 20]), Err(TxError::Full));
        assert!(matches!(tx.push(&[0; 13]), Err(TxError::BadLength { .. })));
        assert_eq!(tx.flush().unwrap(), 2);
        assert_eq!(tx.flush().unwrap(), 0);
        assert_eq!(tx.kicks, 1);
    }
}
