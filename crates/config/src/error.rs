//! What the loader reports back: the typed error that stops a load, the
//! warnings for settings that were accepted but adjusted (as keepalived
//! adjusts them), and the keywords that were parsed but are not used by rvs.
//! Every report names a file, a line and a column.

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// A position in one of the loaded files (1-based line and column; 0 when the
/// problem concerns the whole file, e.g. it cannot be read).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Location {
    pub file: PathBuf,
    pub line: u32,
    pub column: u32,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

/// Why a configuration could not be loaded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigError {
    pub file: PathBuf,
    pub line: u32,
    pub column: u32,
    pub reason: String,
}

impl ConfigError {
    pub fn new(at: Location, reason: impl Into<String>) -> ConfigError {
        ConfigError {
            file: at.file,
            line: at.line,
            column: at.column,
            reason: reason.into(),
        }
    }

    pub fn location(&self) -> Location {
        Location {
            file: self.file.clone(),
            line: self.line,
            column: self.column,
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file.display(),
            self.line,
            self.column,
            self.reason
        )
    }
}

impl std::error::Error for ConfigError {}

/// A setting that was accepted but changed or questionable, reported the way
/// keepalived logs it and carries on (e.g. "no scheduler set, using wlc").
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Warning {
    pub at: Location,
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: warning: {}", self.at, self.message)
    }
}

/// A keyword that was parsed (and its block skipped) but that rvs does not use:
/// kept so that operators can see what a configuration asks for that is not
/// applied, never rejected.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ignored {
    pub file: PathBuf,
    pub line: u32,
    pub column: u32,
    /// The section it appeared in ("global_defs", "vrrp_instance", "top", ...).
    pub section: String,
    pub keyword: String,
}

impl fmt::Display for Ignored {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: '{}' in {} is not used by rvs",
            self.file.display(),
            self.line,
            self.column,
            self.keyword,
            self.section
        )
    }
}
