//! Configuration of one VRRP instance (a `vrrp_instance` block of keepalived.conf) and
//! its validation.

use std::net::IpAddr;
use std::time::Duration;

use crate::packet::{Auth, Version, V3_MAX_INTERVAL_CS};

/// Scripts run on state changes (keepalived's `notify_master`, `notify_backup`,
/// `notify_fault`, `notify_stop` and the generic `notify`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NotifyScripts {
    pub master: Option<String>,
    pub backup: Option<String>,
    pub fault: Option<String>,
    pub stop: Option<String>,
    /// Run on every change; keepalived passes `INSTANCE|GROUP <name> <STATE> <priority>`.
    pub generic: Option<String>,
}

/// One virtual router as this director takes part in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstanceConfig {
    /// Instance name (for notify scripts and logs).
    pub name: String,
    /// Virtual router id, 1..=255.
    pub vrid: u8,
    /// 1..=254, or 255 for the address owner (which becomes master at once).
    pub priority: u8,
    /// Advertisement interval: whole seconds (1..=255) for VRRPv2, multiples of 10 ms up
    /// to 40.95 s for VRRPv3.
    pub advert_int: Duration,
    /// A higher-priority backup takes over from a lower-priority master (default). When
    /// false (keepalived's `nopreempt`) a backup waits for the master to stop.
    pub preempt: bool,
    /// keepalived's `preempt_delay`: after first seeing a lower-priority master, keep
    /// accepting it this long before preempting.
    pub preempt_delay: Duration,
    /// RFC 5798 Accept_Mode: the master accepts packets addressed to the VIPs it does not
    /// own. Carried for the adapter and rvsd; the state machine does not use it.
    pub accept: bool,
    /// The virtual addresses, all of one family (IPv4 only for VRRPv2).
    pub vips: Vec<IpAddr>,
    pub version: Version,
    /// This director's primary address on the interface: the source of adverts and the
    /// tie-break between equal priorities (the higher address wins).
    pub local_addr: IpAddr,
    /// Unicast peers; empty means multicast to 224.0.0.18 / ff02::12.
    pub unicast_peers: Vec<IpAddr>,
    /// VRRPv2 authentication (must be [`Auth::None`] for VRRPv3).
    pub auth: Auth,
    /// Gratuitous ARPs / unsolicited NAs per VIP when becoming master, and again after
    /// `garp_master_delay` (keepalived's `garp_master_repeat`, default 5).
    pub garp_master_repeat: u32,
    /// Delay of the second announcement burst (keepalived's `garp_master_delay`,
    /// default 5 s; zero: no second burst).
    pub garp_master_delay: Duration,
    /// While master, announce the VIPs again every this long (keepalived's
    /// `garp_master_refresh`; None: never, the default).
    pub garp_master_refresh: Option<Duration>,
    /// Gratuitous ARPs / unsolicited NAs per VIP at each refresh
    /// (`garp_master_refresh_repeat`, default 1).
    pub garp_master_refresh_repeat: u32,
    /// keepalived's `lower_prio_no_advert`: a master that hears a lower-priority advert
    /// does not answer it at once with its own.
    pub lower_prio_no_advert: bool,
    pub notify: NotifyScripts,
}

impl InstanceConfig {
    /// A configuration with keepalived's defaults for everything but the essentials.
    pub fn new(name: &str, vrid: u8, priority: u8, local_addr: IpAddr, vips: Vec<IpAddr>) -> Self {
        InstanceConfig {
            name: name.to_owned(),
            vrid,
            priority,
            advert_int: Duration::from_secs(1),
            preempt: true,
            preempt_delay: Duration::ZERO,
            accept: false,
            vips,
            version: Version::V2,
            local_addr,
            unicast_peers: Vec::new(),
            auth: Auth::None,
            garp_master_repeat: 5,
            garp_master_delay: Duration::from_secs(5),
            garp_master_refresh: None,
            garp_master_refresh_repeat: 1,
            lower_prio_no_advert: false,
            notify: NotifyScripts::default(),
        }
    }

    /// The advertisement interval in centiseconds as carried on the wire.
    pub fn advert_int_cs(&self) -> u16 {
        (self.advert_int.as_millis() / 10).min(u128::from(u16::MAX)) as u16
    }

    /// Check the configuration against what the protocol can express.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.vrid == 0 {
            return Err(ConfigError::Vrid);
        }
        if self.priority == 0 {
            return Err(ConfigError::Priority);
        }
        let ms = self.advert_int.as_millis();
        let interval_ok = match self.version {
            Version::V2 => {
                self.advert_int.subsec_nanos() == 0
                    && (1..=255).contains(&self.advert_int.as_secs())
            }
            Version::V3 => {
                self.advert_int.as_nanos().is_multiple_of(10_000_000)
                    && ms >= 10
                    && ms <= u128::from(V3_MAX_INTERVAL_CS) * 10
            }
        };
        if !interval_ok {
            return Err(ConfigError::AdvertInterval);
        }
        if self.vips.is_empty() || self.vips.len() > 255 {
            return Err(ConfigError::VipCount);
        }
        let v4 = self.local_addr.is_ipv4();
        if self
            .vips
            .iter()
            .chain(&self.unicast_peers)
            .any(|a| a.is_ipv4() != v4)
        {
            return Err(ConfigError::MixedFamilies);
        }
        if self.version == Version::V2 && !v4 {
            return Err(ConfigError::V2Ipv6);
        }
        if self.version == Version::V3 && self.auth != Auth::None {
            return Err(ConfigError::V3Auth);
        }
        Ok(())
    }
}

/// What is wrong with an [`InstanceConfig`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigError {
    Vrid,
    Priority,
    AdvertInterval,
    VipCount,
    MixedFamilies,
    V2Ipv6,
    V3Auth,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ConfigError::Vrid => "virtual_router_id must be 1..255",
            ConfigError::Priority => "priority must be 1..255",
            ConfigError::AdvertInterval => {
                "advert_int must be whole seconds 1..255 (VRRPv2) or 10 ms steps up to 40.95 s (VRRPv3)"
            }
            ConfigError::VipCount => "an instance needs 1..255 virtual addresses",
            ConfigError::MixedFamilies => "virtual, local and peer addresses must be of one family",
            ConfigError::V2Ipv6 => "VRRPv2 is IPv4 only",
            ConfigError::V3Auth => "VRRPv3 has no authentication",
        })
    }
}

impl std::error::Error for ConfigError {}
