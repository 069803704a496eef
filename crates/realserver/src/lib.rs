//! `rvs-realserver`: the real-server side of the tunnel forwarding method, for kernels
//! without the `ipip` module.
//!
//! With the tunnel method (`ipvsadm -a ... -i`) the director wraps each client packet,
//! unchanged, in an outer IPv4 header addressed to the real server (IP-in-IP, protocol
//! 4; protocol 41 for an IPv6 client packet). The real server must strip that header,
//! accept the inner packet for the VIP, and answer the client directly from the VIP.
//! Where the kernel has `ipip`, `tunl0` does the stripping (see the crate's README).
//! Without it, this agent does it in user space:
//!
//! 1. `rp_filter` is switched off (all, default and the TUN device): decapsulated
//!    packets come in on the TUN device from clients the server routes elsewhere;
//! 2. a TUN device (`rvstun0`, IFF_TUN | IFF_NO_PI) is created and brought up, and the
//!    VIPs are added to `lo` (or to the TUN device); `arp_ignore=1` and
//!    `arp_announce=2` keep the server from answering ARP for them;
//! 3. raw sockets for protocols 4 and 41 receive the tunnel packets (with a raw socket
//!    open, the kernel no longer answers them with "protocol unreachable");
//! 4. each packet's outer header is stripped ([`rvs_wire::encap::decap_inner`]), the
//!    inner packet is checked to be for a VIP (dropped and counted otherwise) and
//!    written to the TUN device: the local stack receives it as if it had arrived on a
//!    wire, and the reply leaves from the VIP straight to the client;
//! 5. on exit the VIPs it added are removed and the sysctls it changed restored; the
//!    TUN device goes with its descriptor.
//!
//! Modules: [`config`] (what the agent is told), [`filter`] (which bytes are delivered,
//! pure), [`counters`], and the agent itself ([`TunnelAgent`]).
//!
//! ```no_run
//! use rvs_realserver::{run, TunnelAgentConfig};
//! # fn main() -> std::io::Result<()> {
//! // Until SIGTERM or SIGINT; counters are logged on exit.
//! run(&TunnelAgentConfig::new(vec!["192.0.2.10".parse().unwrap()]))
//! # }
//! ```
//!
//! Or, to stop it from another thread and read its counters:
//!
//! ```no_run
//! use std::sync::atomic::Ordering;
//! use rvs_realserver::{TunnelAgent, TunnelAgentConfig};
//! # fn main() -> std::io::Result<()> {
//! let mut agent = TunnelAgent::new(&TunnelAgentConfig::new(vec!["192.0.2.10".parse().unwrap()]))?;
//! let (stop, counters) = (agent.stop_handle(), agent.counters());
//! let worker = std::thread::spawn(move || agent.run());
//! // ...
//! stop.store(true, Ordering::Relaxed);
//! worker.join().expect("agent thread")?;
//! println!("{}", counters.snapshot());
//! # Ok(())
//! # }
//! ```
//!
//! Everything happens in the calling thread's network namespace. Needs CAP_NET_ADMIN
//! and CAP_NET_RAW. Linux only.

#![cfg(target_os = "linux")]

mod agent;
pub mod config;
pub mod counters;
pub mod filter;
mod sys;

pub use agent::TunnelAgent;
pub use config::{TunnelAgentConfig, VipDevice, DEFAULT_TUN_NAME};
pub use counters::{CountersSnapshot, TunnelCounters};
pub use filter::DropReason;

use std::io;

/// Runs the tunnel agent until SIGTERM or SIGINT, then undoes its changes and logs its
/// counters. This is what `rvsd realserver --tunnel --vip ADDR ...` calls.
pub fn run(cfg: &TunnelAgentConfig) -> io::Result<()> {
    let mut agent = TunnelAgent::new(cfg)?;
    agent.stop_on_signals()?;
    let result = agent.run();
    log::info!(
        "tunnel agent on {} stopping: {}",
        agent.tun_name(),
        agent.counters().snapshot()
    );
    result
}
