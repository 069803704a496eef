//! The command model: one ipvsadm invocation (or one line of a restore script)
//! as data. Table changes travel to the daemon in this form; list, save and the
//! rest are carried out by `rvsadm` itself.

use std::net::IpAddr;

use rvs_core::{DestConfig, Persistence, SchedFlags, SchedulerKind, ServiceConfig, ServiceKey};
use serde::{Deserialize, Serialize};

use crate::config::{SyncDaemonConfig, SyncState};
use crate::error::AdminError;
use crate::names::Names;
use crate::status::Timeouts;

/// A virtual service as `-A`/`-E` describe it. The scheduler stays a name until
/// the command is applied: an unknown name is the table's error ("Scheduler or
/// persistence engine not found"), as with the kernel, not a usage error.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceSpec {
    pub key: ServiceKey,
    pub scheduler: String,
    pub sched_flags: SchedFlags,
    pub persistence: Option<Persistence>,
    pub one_packet: bool,
}

impl ServiceSpec {
    /// The spec that describes an existing service configuration.
    pub fn from_config(config: &ServiceConfig) -> ServiceSpec {
        ServiceSpec {
            key: config.key,
            scheduler: config.scheduler.name().to_string(),
            sched_flags: config.sched_flags,
            persistence: config.persistence,
            one_packet: config.one_packet,
        }
    }

    /// The service configuration, once the scheduler name is known.
    pub fn to_config(&self) -> Result<ServiceConfig, AdminError> {
        let scheduler: SchedulerKind = self
            .scheduler
            .parse()
            .map_err(|_| AdminError::SchedulerNotFound(self.scheduler.clone()))?;
        Ok(ServiceConfig {
            key: self.key,
            scheduler,
            sched_flags: self.sched_flags,
            persistence: self.persistence,
            one_packet: self.one_packet,
        })
    }
}

/// Which table `-L` shows.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ListView {
    /// The whole service table, with the version header.
    #[default]
    All,
    /// One service (`-L -t ...`), without the header.
    Service(ServiceKey),
    /// The connection entries (`-c`).
    Connections,
    /// The timeouts (`--timeout`).
    Timeouts,
    /// The sync daemons (`--daemon`).
    Daemons,
}

/// How `-L` shows it: ipvsadm's format options, plus `--json`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListOptions {
    pub view: ListView,
    /// `-n`: addresses and ports as numbers. When false, names come from `names`.
    pub numeric: bool,
    pub stats: bool,
    pub rate: bool,
    pub thresholds: bool,
    pub persistent_conn: bool,
    pub tun_info: bool,
    /// `--exact`: no K/M/G abbreviation of large counters.
    pub exact: bool,
    /// `--nosort`: table order (insertion order) instead of ipvsadm's sorted order.
    pub nosort: bool,
    /// `--json`: the status as JSON instead of ipvsadm's layout.
    pub json: bool,
    /// Host and port names for non-numeric output; not part of the wire form.
    #[serde(skip)]
    pub names: Names,
}

/// One ipvsadm command.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Command {
    /// `-A`
    AddService(ServiceSpec),
    /// `-E`: replaces every setting of the service (unset ones take their defaults).
    EditService(ServiceSpec),
    /// `-D`
    DeleteService(ServiceKey),
    /// `-C`
    Clear,
    /// `-a`
    AddDest {
        service: ServiceKey,
        dest: DestConfig,
    },
    /// `-e`: replaces every setting of the real server.
    EditDest {
        service: ServiceKey,
        dest: DestConfig,
    },
    /// `-d`
    DeleteDest {
        service: ServiceKey,
        addr: IpAddr,
        port: u16,
    },
    /// `-Z [service]`: zero the counters of one or all services.
    Zero(Option<ServiceKey>),
    /// `--set tcp tcpfin udp`; a 0 keeps the current value.
    SetTimeouts(Timeouts),
    /// `--start-daemon master|backup`
    StartDaemon(SyncDaemonConfig),
    /// `--stop-daemon [master|backup]`; without a state, every running daemon.
    StopDaemon(Option<SyncState>),
    /// `-L`, `-l`
    List(ListOptions),
    /// `-S [-n]`
    Save { numeric: bool },
    /// `-R`: the script comes on standard input.
    Restore,
    /// `-h`
    Help,
    /// `-v`
    Version,
}

impl Command {
    /// Whether this command changes the table (or its counters), i.e. is
    /// something `Config::apply` carries out.
    pub fn is_change(&self) -> bool {
        !matches!(
            self,
            Command::List(_)
                | Command::Save { .. }
                | Command::Restore
                | Command::Help
                | Command::Version
        )
    }

    /// ipvsadm's name for the command, as its messages use it.
    pub fn name(&self) -> &'static str {
        match self {
            Command::AddService(_) => "add-service",
            Command::EditService(_) => "edit-service",
            Command::DeleteService(_) => "delete-service",
            Command::Clear => "flush",
            Command::AddDest { .. } => "add-server",
            Command::EditDest { .. } => "edit-server",
            Command::DeleteDest { .. } => "delete-server",
            Command::Zero(_) => "zero",
            Command::SetTimeouts(_) => "set",
            Command::StartDaemon(_) => "start-daemon",
            Command::StopDaemon(_) => "stop-daemon",
            Command::List(_) => "list",
            Command::Save { .. } => "save",
            Command::Restore => "restore",
            Command::Help => "help",
            Command::Version => "version",
        }
    }
}
