//! Linux packet I/O for the rvs director (layer 3 of the design).
//!
//! - [`backend`]: the [`PortIo`] trait a worker loop is written against (and the
//!   single-ring [`PacketRx`]/[`PacketTx`]), with its AF_PACKET implementation
//!   [`PacketPorts`].
//! - [`afpacket`]: AF_PACKET TPACKET_V2 (or V3) RX/TX rings bound to ETH_P_ALL, batched
//!   receive in place, batched transmit with one kick per batch, fanout groups.
//! - [`xdp`]: AF_XDP sockets with a shared UMEM, and the XDP program that steers only the
//!   director's traffic to them.
//! - [`offload`]: partial checksums and GSO frames, received and transmitted.
//! - [`mem`]: an in-memory backend for tests and replay.
//! - [`bpf`]: classic BPF fanout steering programs that send both directions of a NAT
//!   connection, and all of a client's connections, to the same worker (by client address).
//! - [`iface`]: interface index, MAC, MTU, addresses and segmentation offloads.
//! - [`neigh`]: a synchronous rtnetlink client (routes, neighbours, addresses) and the
//!   data plane's non-blocking neighbour cache.
//!
//! Linux only.
//!
//! # A worker loop
//!
//! Each worker opens one socket per interface (the `i`-th worker's socket `i`-th, so
//! fanout indices match), receives a batch, rewrites frames in place and transmits them
//! on the egress ring, kicks the kernel once per batch, busy-polls while traffic flows and
//! blocks in `poll` when idle:
//!
//! ```no_run
//! use std::num::NonZeroU32;
//! use std::time::Duration;
//! use rvs_io::{steering_program_client_side, Fanout, FanoutMode, PacketSocket, RingConfig};
//!
//! # fn main() -> std::io::Result<()> {
//! let workers = NonZeroU32::new(4).unwrap();
//! let cfg = RingConfig {
//!     fanout: Some(Fanout { group_id: 1, mode: FanoutMode::Cbpf(steering_program_client_side(workers)) }),
//!     ..RingConfig::default()
//! };
//! let (mut rx, mut tx) = PacketSocket::open("eth0", &cfg)?.split();
//! let mut idle_rounds = 0u32;
//! for _ in 0..1_000_000 {
//!     let n = rx.recv_batch(64, |frame| {
//!         if frame.is_truncated() {
//!             return; // never forward a cut frame
//!         }
//!         // ... let the core rewrite frame.data_mut() (or prepend into the headroom and
//!         // frame.set_range(..)), then queue it; a full ring drops the frame.
//!         let _ = tx.push(frame.data());
//!     });
//!     tx.flush()?;
//!     if n == 0 {
//!         idle_rounds += 1;
//!         if idle_rounds > 64 {
//!             rx.wait_readable(Some(Duration::from_millis(100)))?;
//!         }
//!     } else {
//!         idle_rounds = 0;
//!     }
//! }
//! # Ok(())
//! # }
//! ```

#![cfg(target_os = "linux")]

pub mod afpacket;
pub mod backend;
pub mod bpf;
pub mod iface;
mod mac;
pub mod mem;
pub mod neigh;
pub mod offload;
mod sys;
pub mod xdp;

pub use afpacket::{
    Fanout, FanoutMode, KernelStats, PacketSocket, PacketType, RingConfig, RingVersion, RxFrame,
    RxRing, RxStats, SetRangeError, TxError, TxRing, TxStats,
};
pub use backend::{Disposition, PacketPorts, PacketRx, PacketTx, PortIo, PortIoStats, PortRings};
pub use bpf::{
    steering_program_client_side, steering_program_server_side, steering_program_split, BpfInsn,
    BpfProgram,
};
pub use iface::{has_segmentation_offloads, Interface};
pub use mac::{MacAddr, ParseMacError};
pub use mem::{MemFrameMeta, MemRx, MemTx};
pub use neigh::{
    NeighCache, NeighEntry, NeighState, NeighWatcher, Route, RouteEntry, RouteKind, RtNetlink,
};
pub use offload::{CsumRequest, CsumState, Gso, GsoKind, RxOffload, TxOffload};
