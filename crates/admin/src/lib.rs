//! rvs-admin: the ipvsadm-compatible administration layer of rvs.
//!
//! - [`cli`] parses an ipvsadm command line into a [`Command`], with ipvsadm's
//!   syntax, defaults, option rules and messages.
//! - [`config`] is the desired table and applies commands to it with the
//!   kernel IPVS checks, atomically.
//! - [`status`] is what the daemon reports; [`listing`] prints it exactly as
//!   `ipvsadm -L` does (or as JSON); [`save`] writes and reads `-S`/`-R` rules.
//! - [`proto`] is the control protocol to the daemon, [`server`] its
//!   table-only implementation (a fake daemon, and the real daemon's table
//!   handling), and [`app`] the `rvsadm` program itself.
//! - [`inet`] and [`names`] convert addresses, ports and names exactly as
//!   ipvsadm (through the C library) does.
//!
//! # Where rvsadm differs from ipvsadm 1.31
//!
//! - Names come from `/etc/hosts` and `/etc/services` only, never DNS.
//! - `-R` is atomic: the whole script applies or nothing does, and the error
//!   names the line; words starting with `#` are comments.
//! - `-S` also writes what ipvsadm's save loses (real server thresholds,
//!   flag-3 on sh/mh, non-default timeouts as `--set`, running sync daemons as
//!   `--start-daemon`), so that `-R` rebuilds the same table. A table without
//!   those saves exactly as with ipvsadm.
//! - `--stop-daemon` without a state stops every running daemon.
//! - `--json` lists the status as JSON; `--socket` names the daemon's socket.
//! - Refused as unsupported: SCTP services, persistence engines (`--pe`),
//!   GUE/GRE tunnels, and non-contiguous IPv4 persistence masks.
//! - `--nosort` lists in configuration order (the kernel's is hash order).

pub mod app;
pub mod cli;
pub mod command;
pub mod config;
pub mod error;
pub mod inet;
pub mod listing;
pub mod names;
pub mod order;
pub mod proto;
pub mod save;
pub mod server;
pub mod status;

pub use command::{Command, ListOptions, ListView, ServiceSpec};
pub use config::{Applied, BatchError, Config, SyncDaemonConfig, SyncState, VirtualService};
pub use error::{AdminError, CliError};
pub use listing::{render, try_render};
pub use names::Names;
pub use proto::{Request, Response};
pub use save::{parse_restore, render_save};
pub use status::{
    ConnStatus, DestStatus, Rates, ServiceStatus, Stats, Status, SyncDaemonStatus, Timeouts,
};
