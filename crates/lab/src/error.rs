//! The lab's error type: every failure says what was being done and, for commands, what
//! they printed.

use std::fmt;
use std::io;
use std::time::Duration;

/// Why building or using a lab failed.
#[derive(Debug)]
pub enum LabError {
    /// A system call or file operation failed.
    Io { context: String, source: io::Error },
    /// A command ran and failed (non-zero exit or killed by a signal).
    Command {
        command: String,
        status: Option<i32>,
        stdout: String,
        stderr: String,
    },
    /// Something did not happen within its time bound.
    Timeout { what: String, after: Duration },
    /// A program or file the lab needs is missing.
    NotFound { what: String, hint: String },
    /// The lab cannot be used as asked (bad spec, wrong topology for a helper, ...).
    Invalid(String),
}

/// The lab's result type.
pub type Result<T> = std::result::Result<T, LabError>;

impl LabError {
    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> LabError {
        LabError::Io {
            context: context.into(),
            source,
        }
    }

    pub(crate) fn invalid(msg: impl Into<String>) -> LabError {
        LabError::Invalid(msg.into())
    }
}

/// At most the last `max` lines of `text`, for error messages.
pub(crate) fn tail(text: &str, max: usize) -> String {
    let lines: Vec<&str> = text.trim_end().lines().collect();
    let start = lines.len().saturating_sub(max);
    lines[start..].join("\n")
}

impl fmt::Display for LabError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LabError::Io { context, source } => write!(f, "{context}: {source}"),
            LabError::Command {
                command,
                status,
                stdout,
                stderr,
            } => {
                match status {
                    Some(code) => write!(f, "`{command}` failed with exit status {code}")?,
                    None => write!(f, "`{command}` was killed by a signal")?,
                }
                let err = tail(stderr, 10);
                if !err.is_empty() {
                    write!(f, "\n{err}")?;
                } else {
                    let out = tail(stdout, 5);
                    if !out.is_empty() {
                        write!(f, "\n{out}")?;
                    }
                }
                Ok(())
            }
            LabError::Timeout { what, after } => {
                write!(f, "{what}: no success within {:.1} s", after.as_secs_f64())
            }
            LabError::NotFound { what, hint } => write!(f, "{what} not found: {hint}"),
            LabError::Invalid(msg) => f.write_str(msg),
        }
    }
}

impl std::error::Error for LabError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LabError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_errors_show_the_end_of_stderr() {
        let e = LabError::Command {
            command: "ip link add".into(),
            status: Some(2),
            stdout: String::new(),
            stderr: (1..=20).map(|i| format!("line {i}\n")).collect(),
        };
        let s = e.to_string();
        assert!(s.starts_with("`ip link add` failed with exit status 2\nline 11\n"));
        assert!(s.ends_with("line 20"));
        assert!(!s.contains("line 10\n"));
    }

    #[test]
    fn not_found_gives_the_hint() {
        let e = LabError::NotFound {
            what: "rvsd".into(),
            hint: "build it with cargo build --release".into(),
        };
        assert_eq!(
            e.to_string(),
            "rvsd not found: build it with cargo build --release"
        );
    }
}
