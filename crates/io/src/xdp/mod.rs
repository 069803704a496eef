//! The AF_XDP backend: an XDP program that steers only the director's traffic to AF_XDP
//! sockets ([`filter`]), the sockets and their shared UMEM behind the worker API
//! ([`xsk`], [`XskPorts`]), and what both stand on: a small eBPF assembler ([`asm`]) and
//! the bpf(2) calls ([`bpfsys`]). No clang, no libbpf: the program is a few dozen
//! instructions written in Rust and loaded with bpf(2).
//!
//! Set-up order (what `rvsd --backend xdp` does): [`XdpFilter::new`], one
//! [`XdpFilter::add_interface`] per port, [`XskPorts::open`] (which registers the sockets
//! in the program's XSKMAPs), [`XdpFilter::apply`] with the service table's addresses,
//! then [`XdpFilter::attach_all`]. The programs are attached through bpf_links: they go
//! away with the process.

pub mod asm;
pub mod bpfsys;
pub mod filter;
pub mod xsk;

pub use bpfsys::XdpMode;
pub use filter::{FilterLimits, FilterSet, XdpFilter};
pub use xsk::{rx_queue_count, XskConfig, XskInfo, XskMode, XskPorts, XskStats};
