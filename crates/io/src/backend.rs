//! The small API a worker loop is written against, so the same loop runs over AF_PACKET
//! rings, a later AF_XDP backend, or the in-memory backend of [`crate::mem`] in tests.
//!
//! Generic methods (not trait objects): the per-packet callback is monomorphised and
//! inlined, as on the concrete types.

use std::io;
use std::time::Duration;

use crate::afpacket::{RxFrame, RxRing, TxError, TxRing};

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
