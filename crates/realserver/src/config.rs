//! What the tunnel agent is told: the VIPs, the TUN device's name, where the VIPs live,
//! and a few knobs.

use std::net::IpAddr;
use std::time::Duration;

/// Name of the TUN device unless told otherwise.
pub const DEFAULT_TUN_NAME: &str = "rvstun0";
/// Largest number of packets read with one `recvmmsg` call.
pub const MAX_BATCH: usize = 64;

/// Where the agent puts the VIP addresses while it runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum VipDevice {
    /// On `lo` (/32, /128), the classic LVS real-server setup; packets written to the TUN
    /// device are delivered to it all the same.
    #[default]
    Loopback,
    /// On the TUN device itself; they vanish with it.
    Tun,
    /// Leave addresses alone: the administrator configured the VIPs already.
    Unmanaged,
}

/// Configuration of [`crate::run`] and [`crate::TunnelAgent::new`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TunnelAgentConfig {
    /// The virtual service addresses the director tunnels to this server. Inner packets
    /// to any other destination are dropped.
    pub vips: Vec<IpAddr>,
    /// TUN device name (at most 15 bytes); a `%d` in it lets the kernel pick a number.
    pub tun_name: String,
    /// Where the VIPs go.
    pub vip_device: VipDevice,
    /// While running, set `arp_ignore=1` and `arp_announce=2` on all interfaces so the
    /// server neither answers nor announces ARP for the VIPs (restored on exit). Has no
    /// effect with [`VipDevice::Unmanaged`].
    pub quiet_arp: bool,
    /// Packets read per `recvmmsg` call (1..=[`MAX_BATCH`]).
    pub batch: usize,
    /// Longest wait for packets before the stop flag is looked at again.
    pub poll_interval: Duration,
}

impl TunnelAgentConfig {
    /// The defaults for these VIPs.
    pub fn new(vips: Vec<IpAddr>) -> TunnelAgentConfig {
        TunnelAgentConfig {
            vips,
            ..TunnelAgentConfig::default()
        }
    }
}

impl Default for TunnelAgentConfig {
    fn default() -> TunnelAgentConfig {
        TunnelAgentConfig {
            vips: Vec::new(),
            tun_name: DEFAULT_TUN_NAME.to_owned(),
            vip_device: VipDevice::Loopback,
            quiet_arp: true,
            batch: 32,
            poll_interval: Duration::from_millis(100),
        }
    }
}
