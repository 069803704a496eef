//! Linux packet I/O for the rvs director (layer 3 of the design).
//!
//! - [`afpacket`]: AF_PACKET TPACKET_V2 RX/TX rings bound to ETH_P_ALL, batched receive
//!   in place, batched transmit with one kick per batch, fanout groups.
//! - [`bpf`]: classic BPF fanout steering programs that send both directions of a NAT
//!   connection to the same worker.
//! - [`iface`]: interface index, MAC, MTU and addresses.
//! - [`neigh`]: a synchronous rtnetlink client (routes, neighbours, addresses) and the
//!   data plane's non-blocking neighbour cache.
//!
//! Linux only.

#![cfg(target_os = "linux")]

pub mod afpacket;
pub mod bpf;
pub mod iface;
mod mac;
pub mod neigh;
mod sys;

pub use afpacket::{
    Fanout, FanoutMode, KernelStats, PacketSocket, PacketType, RingConfig, RxFrame, RxRing,
    RxStats, SetRangeError, TxError, TxRing, TxStats,
};
pub use bpf::{steering_program_client_side, steering_program_server_side, BpfInsn, BpfProgram};
pub use iface::Interface;
pub use mac::{MacAddr, ParseMacError};
pub use neigh::{NeighCache, NeighEntry, NeighState, NeighWatcher, Route, RouteKind, RtNetlink};
