//! The two kinds of failure an administrator sees: a command line that ipvsadm
//! would refuse (`CliError`, with ipvsadm's message and exit status), and a
//! well-formed command that the table refuses (`AdminError`, the kernel IPVS
//! error meanings with libipvs's messages for them).

use std::fmt;

/// Exit status ipvsadm uses for usage errors (its `fail(2, ...)`).
pub const EXIT_USAGE: i32 = 2;
/// Exit status ipvsadm ends with for option-parser errors, "try -h" and failed
/// table operations (it returns -1 from `main`).
pub const EXIT_FAILURE: i32 = 255;
/// Exit status for "no such service" when listing one service, and for an
/// unreachable daemon.
pub const EXIT_LIST: i32 = 1;

/// A refused command line: the message ipvsadm prints and the status it exits with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CliError {
    pub message: String,
    pub exit_code: i32,
}

impl CliError {
    /// A usage error (exit status 2), like ipvsadm's `fail(2, ...)`.
    pub fn usage(message: impl Into<String>) -> CliError {
        CliError {
            message: message.into(),
            exit_code: EXIT_USAGE,
        }
    }

    /// ipvsadm's "try -h" answer to a command line it cannot make sense of.
    pub fn try_help(program: &str) -> CliError {
        CliError {
            message: format!("Try `{program} -h' or '{program} --help' for more information."),
            exit_code: EXIT_FAILURE,
        }
    }

    /// An option-parser error ("-t: missing argument"), exit status 255.
    pub fn parser(bad_option: &str, what: &str) -> CliError {
        CliError {
            message: format!("{bad_option}: {what}"),
            exit_code: EXIT_FAILURE,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CliError {}

/// A command the table refuses. `Display` is the message ipvsadm prints for the
/// corresponding kernel error; `detail()` says what exactly was wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AdminError {
    /// EEXIST on add-service.
    ServiceExists,
    /// ENOENT on add/edit-service: unknown scheduler name.
    SchedulerNotFound(String),
    /// ESRCH on edit/delete/zero of a service.
    NoSuchService,
    /// ESRCH on a real-server command: its virtual service does not exist.
    ServiceNotDefined,
    /// EEXIST on add-server.
    DestExists,
    /// ENOENT on edit/delete-server.
    NoSuchDest,
    /// EEXIST on start-daemon.
    DaemonRunning,
    /// ESRCH on stop-daemon.
    NoDaemon,
    /// EINVAL: a value the table cannot hold (address not unicast, mixed
    /// families without tunnelling, bad prefix, ...). The string says which.
    Invalid(String),
    /// ERANGE: weight or thresholds out of range.
    OutOfRange(String),
    /// A list/save/restore/help/version command given where a table change was expected.
    NotAChange(String),
}

impl AdminError {
    /// The specific reason, for logs; the ipvsadm-compatible message is `to_string()`.
    pub fn detail(&self) -> String {
        match self {
            AdminError::SchedulerNotFound(name) => format!("unknown scheduler '{name}'"),
            AdminError::Invalid(why)
            | AdminError::OutOfRange(why)
            | AdminError::NotAChange(why) => why.clone(),
            other => other.to_string(),
        }
    }
}

impl fmt::Display for AdminError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The texts of libipvs's ipvs_strerror() (ipvsadm 1.31) and strerror(ERANGE).
        let text = match self {
            AdminError::ServiceExists => "Service already exists",
            AdminError::SchedulerNotFound(_) => "Scheduler or persistence engine not found",
            AdminError::NoSuchService => "No such service",
            AdminError::ServiceNotDefined => "Service not defined",
            AdminError::DestExists => "Destination already exists",
            AdminError::NoSuchDest => "No such destination",
            AdminError::DaemonRunning => "Daemon has already run",
            AdminError::NoDaemon => "No daemon is running",
            AdminError::Invalid(_) => {
                "Invalid operation.  Possibly wrong module version, address not unicast, ..."
            }
            AdminError::OutOfRange(_) => "Numerical result out of range",
            AdminError::NotAChange(what) => return write!(f, "not a table change: {what}"),
        };
        f.write_str(text)
    }
}

impl std::error::Error for AdminError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_ipvsadms() {
        assert_eq!(
            AdminError::ServiceExists.to_string(),
            "Service already exists"
        );
        assert_eq!(
            AdminError::SchedulerNotFound("foo".into()).to_string(),
            "Scheduler or persistence engine not found"
        );
        assert_eq!(
            AdminError::SchedulerNotFound("foo".into()).detail(),
            "unknown scheduler 'foo'"
        );
        assert_eq!(AdminError::NoSuchService.to_string(), "No such service");
        assert_eq!(
            AdminError::ServiceNotDefined.to_string(),
            "Service not defined"
        );
        assert_eq!(
            AdminError::DestExists.to_string(),
            "Destination already exists"
        );
        assert_eq!(AdminError::NoSuchDest.to_string(), "No such destination");
        assert_eq!(
            AdminError::DaemonRunning.to_string(),
            "Daemon has already run"
        );
        assert_eq!(AdminError::NoDaemon.to_string(), "No daemon is running");
        assert_eq!(
            AdminError::OutOfRange("x".into()).to_string(),
            "Numerical result out of range"
        );
        assert!(AdminError::Invalid("why".into())
            .to_string()
            .starts_with("Invalid operation."));
        assert_eq!(AdminError::Invalid("why".into()).detail(), "why");
    }

    #[test]
    fn cli_errors() {
        let e = CliError::try_help("rvsadm");
        assert_eq!(e.exit_code, 255);
        assert_eq!(
            e.message,
            "Try `rvsadm -h' or 'rvsadm --help' for more information."
        );
        assert_eq!(
            CliError::parser("--foo", "unknown option").to_string(),
            "--foo: unknown option"
        );
        assert_eq!(CliError::usage("x").exit_code, 2);
    }
}
