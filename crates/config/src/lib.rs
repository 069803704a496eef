//! rvs-config: loads a director configuration written for keepalived
//! (keepalived.conf), ldirectord (ldirectord.cf) or Piranha (lvs.cf) into one
//! model ([`LoadedConfig`]), and turns it into the core's virtual services
//! ([`LoadedConfig::services`]) and the health checker list
//! ([`LoadedConfig::checks`]).
//!
//! The parsers are our own, written from keepalived's, ldirectord's and
//! Piranha's documentation and behaviour. Every problem is a typed
//! [`ConfigError`] naming file, line and column; nothing in a configuration
//! can make the loader panic. Keywords rvs does not use are kept in
//! [`LoadedConfig::unknown`] (see [`keywords`] for the full table).
//!
//! How the formats meet in the model:
//!
//! - keepalived: keyword for keyword; where keepalived corrects a setting
//!   and carries on (no protocol → UDP, no scheduler → wlc, a DR real
//!   server's port → the virtual server's, quorum above the total weight, a
//!   virtual server without real servers dropped) the same correction is
//!   made and reported in [`LoadedConfig::warnings`]; where it logs an error
//!   and ignores the value, rvs refuses the configuration. A plain `include`
//!   of a literal path that does not exist is an error (`includer` keeps
//!   keepalived's leniency).
//! - ldirectord: `negotiate` checks become HTTP_GET/SSL_GET (path =
//!   `request`, body regex = `receive`), DNS_CHECK, SMTP_CHECK or a
//!   [`Checker::TcpSendExpect`] (`simpletcp`); services rvs has no checker for
//!   fall back to a connect check with a warning. `connect` is TCP_CHECK (a
//!   ping for UDP services, as ldirectord does), `external` a MISC_CHECK with
//!   ldirectord's four arguments, `N` a connect check plus a negotiate check
//!   every N intervals, `on` no checker, `off` inactive real servers.
//!   `failurecount` is keepalived's retry + 1, `quiescent=yes` is
//!   `inhibit_on_failure`, `fallback` the sorry server.
//! - Piranha: nanny's `send`/`expect` is a [`Checker::TcpSendExpect`]
//!   (not HTTP_GET: nanny compares raw text, whatever the protocol) with
//!   `timeout` as its dead-after and `reentry` as its alive-again-after time;
//!   `send_program` is a MISC_CHECK (`%h` = the real server) whose output
//!   must contain `expect`. `network` gives every real server its
//!   forwarding method; `active = 0` virtuals and servers stay in the model
//!   but are not installed.
//!
//! ```
//! use rvs_config::{parse_str, Format};
//! let cfg = parse_str(
//!     "virtual_server 192.0.2.10 80 {\n lb_algo rr\n lb_kind DR\n protocol TCP\n\
//!      real_server 198.51.100.1 80 { TCP_CHECK { } }\n}\n",
//!     "keepalived.conf",
//!     Format::Keepalived,
//! )
//! .unwrap();
//! let services = cfg.services().unwrap();
//! assert_eq!(services.len(), 1);
//! ```

mod convert;
mod detect;
pub mod error;
pub mod glob;
mod keepalived;
pub mod keywords;
mod ldirectord;
pub mod model;
mod piranha;
pub mod script;
pub mod source;
pub mod values;

use std::path::Path;

pub use convert::CheckTarget;
pub use detect::detect_format;
pub use error::{ConfigError, Ignored, Location, Warning};
pub use model::*;
pub use source::{FsLoader, MemoryFiles, SourceLoader};

/// Settings of a load that do not come from the files.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoadOptions {
    /// keepalived's config id (`-i`): selects `@id` lines and is `${_INSTANCE}`.
    /// keepalived defaults it to the host name's first label; rvsd should pass
    /// that. None selects no `@id` line and every `@^id` line.
    pub config_id: Option<String>,
}

/// Load `path` from the file system, detecting the format from its content.
pub fn load(path: &Path) -> Result<LoadedConfig, ConfigError> {
    load_with(&FsLoader, path, None, &LoadOptions::default())
}

/// Load `path` from the file system as `format`.
pub fn load_as(path: &Path, format: Format) -> Result<LoadedConfig, ConfigError> {
    load_with(&FsLoader, path, Some(format), &LoadOptions::default())
}

/// Load `path` through `loader` (the format detected when None).
pub fn load_with(
    loader: &dyn SourceLoader,
    path: &Path,
    format: Option<Format>,
    opts: &LoadOptions,
) -> Result<LoadedConfig, ConfigError> {
    let text = loader.read_to_string(path).map_err(|e| {
        ConfigError::new(
            Location {
                file: path.to_path_buf(),
                line: 0,
                column: 0,
            },
            format!("cannot read configuration file: {e}"),
        )
    })?;
    parse_text(loader, &text, path, format, opts)
}

/// Parse `text` as if it were the file `name`. Includes resolve against
/// nothing (an in-memory, empty file system), so this never touches the disk:
/// the entry point for tests and fuzzing.
pub fn parse_str(text: &str, name: &str, format: Format) -> Result<LoadedConfig, ConfigError> {
    parse_text(
        &MemoryFiles::new(),
        text,
        Path::new(name),
        Some(format),
        &LoadOptions::default(),
    )
}

/// Parse `text` of file `path`, reading includes through `loader`.
pub fn parse_text(
    loader: &dyn SourceLoader,
    text: &str,
    path: &Path,
    format: Option<Format>,
    opts: &LoadOptions,
) -> Result<LoadedConfig, ConfigError> {
    let format = format.unwrap_or_else(|| detect_format(text));
    let cfg = match format {
        Format::Keepalived => keepalived::parse(loader, path, Some(text), opts)?,
        Format::Ldirectord => ldirectord::parse(text, path)?,
        Format::Piranha => piranha::parse(text, path)?,
    };
    // Services that collide only once groups are expanded are load errors
    // too, so that a configuration that loads can always be installed.
    cfg.services()?;
    Ok(cfg)
}
