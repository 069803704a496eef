//! `rvs-vrrp`: VRRP for director failover (layer 4 of the design). The director that
//! is VRRP master holds the VIPs; a backup takes over when the master's advertisements
//! stop. Speaks VRRPv2 (RFC 3768) and VRRPv3 (RFC 5798) and interoperates with
//! keepalived.
//!
//! Modules:
//! - [`packet`]: the advertisement codec ([`parse`], [`Advert::write`]).
//! - [`config`]: an instance's configuration ([`InstanceConfig`]).
//! - [`instance`]: the sans-IO state machine of one instance ([`Instance`]): events and
//!   a caller-supplied clock in, [`Action`]s out.
//! - [`group`]: sync groups moving several instances together ([`SyncGroup`]).
//! - [`linux`]: the Linux adapter: raw IPPROTO_VRRP sockets, gratuitous ARP /
//!   unsolicited NA, and a small [`linux::run_instance`] loop.

pub mod config;
pub mod group;
pub mod instance;
pub mod linux;
pub mod packet;

pub use config::{ConfigError, InstanceConfig, NotifyScripts};
pub use group::{MemberAction, SyncGroup};
pub use instance::{Action, Event, Instance, State, Stats, PRIORITY_OWNER, PRIORITY_STOP};
pub use packet::{fuzz_parse, parse, parse_ignoring_ttl, Advert, Auth, Version, VrrpError};
