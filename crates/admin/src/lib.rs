//! rvs-admin: the ipvsadm-compatible administration layer of rvs.
//!
//! - [`config`] is the desired table and applies [`Command`]s to it with the
//!   kernel IPVS checks, atomically.
//! - [`status`] is what the daemon reports.
//! - [`inet`] and [`names`] convert addresses, ports and names exactly as
//!   ipvsadm (through the C library) does.

pub mod command;
pub mod config;
pub mod error;
pub mod inet;
pub mod names;
pub mod order;
pub mod status;

pub use command::{Command, ListOptions, ListView, ServiceSpec};
pub use config::{Applied, BatchError, Config, SyncDaemonConfig, SyncState, VirtualService};
pub use error::{AdminError, CliError};
pub use names::Names;
pub use status::{
    ConnStatus, DestStatus, Rates, ServiceStatus, Stats, Status, SyncDaemonStatus, Timeouts,
};
