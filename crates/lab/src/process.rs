//! Running commands with a time bound, and stopping the processes the lab started: by
//! PID, SIGTERM first, SIGKILL after a grace period, always reaped.

use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::error::{LabError, Result};

/// How often a running child is looked at while waiting for it.
const WAIT_STEP: Duration = Duration::from_millis(10);

/// `args` as one shell-like line, for messages.
pub fn display_command<S: AsRef<str>>(args: &[S]) -> String {
    args.iter()
        .map(|a| {
            let a = a.as_ref();
            if a.is_empty() || a.contains(char::is_whitespace) {
                format!("'{a}'")
            } else {
                a.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs `args` (program first) to completion, killing it after `timeout`. Returns its
/// output whatever the exit status.
pub fn run_with_timeout<S: AsRef<str>>(args: &[S], timeout: Duration) -> Result<Output> {
    let Some((program, rest)) = args.split_first() else {
        return Err(LabError::invalid("empty command"));
    };
    let shown = display_command(args);
    let mut child = Command::new(program.as_ref())
        .args(rest.iter().map(AsRef::as_ref))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => LabError::NotFound {
                what: program.as_ref().to_owned(),
                hint: "install the lab's tools with scripts/deps.sh".to_owned(),
            },
            _ => LabError::io(format!("start `{shown}`"), e),
        })?;
    // Pipes are drained in threads so a chatty child never blocks on a full pipe.
    let stdout = child.stdout.take().map(drain);
    let stderr = child.stderr.take().map(drain);
    let status = wait_bounded(&mut child, timeout)
        .map_err(|e| LabError::io(format!("wait for `{shown}`"), e))?;
    let Some(status) = status else {
        kill_and_reap(&mut child);
        return Err(LabError::Timeout {
            what: format!("`{shown}`"),
            after: timeout,
        });
    };
    let collect = |h: Option<thread::JoinHandle<Vec<u8>>>| {
        h.map(|h| h.join().unwrap_or_default()).unwrap_or_default()
    };
    Ok(Output {
        status,
        stdout: collect(stdout),
        stderr: collect(stderr),
    })
}

/// Like [`run_with_timeout`], but a non-zero exit is an error; returns stdout.
pub fn run_checked<S: AsRef<str>>(args: &[S], timeout: Duration) -> Result<String> {
    let out = run_with_timeout(args, timeout)?;
    check_output(args, &out)?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// An error for a failed command's output, or `Ok` when it succeeded.
pub(crate) fn check_output<S: AsRef<str>>(args: &[S], out: &Output) -> Result<()> {
    if out.status.success() {
        return Ok(());
    }
    Err(LabError::Command {
        command: display_command(args),
        status: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

fn drain(mut pipe: impl Read + Send + 'static) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = pipe.read_to_end(&mut buf);
        buf
    })
}

/// Waits at most `timeout` for `child` to exit.
pub(crate) fn wait_bounded(
    child: &mut Child,
    timeout: Duration,
) -> std::io::Result<Option<ExitStatus>> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        if Instant::now() >= deadline {
            return Ok(None);
        }
        thread::sleep(WAIT_STEP);
    }
}

/// Sends `signal` to process `pid` (ignoring "no such process").
pub(crate) fn signal(pid: u32, signal: libc::c_int) {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return;
    };
    // SAFETY: plain syscall; `pid` is a child we started (or a process inside one of our
    // namespaces), never 0 or negative.
    if pid > 0 {
        unsafe { libc::kill(pid, signal) };
    }
}

fn kill_and_reap(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// Stops `child`: SIGTERM, up to `grace` to exit, then SIGKILL; always reaped.
pub(crate) fn terminate(child: &mut Child, grace: Duration) -> Option<ExitStatus> {
    if let Ok(Some(status)) = child.try_wait() {
        return Some(status);
    }
    signal(child.id(), libc::SIGTERM);
    match wait_bounded(child, grace) {
        Ok(Some(status)) => Some(status),
        _ => {
            kill_and_reap(child);
            child.try_wait().ok().flatten()
        }
    }
}

/// A long-running process the lab started (a director, nginx, a UDP responder, ...),
/// killed and reaped when the lab is dropped. Its stdout and stderr go to `log`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessHandle {
    /// Process ID (of `ip netns exec`, which execs the program itself: the same process).
    pub pid: u32,
    /// Short name, e.g. `nginx-rs1`.
    pub label: String,
    /// File with the process's stdout and stderr.
    pub log: PathBuf,
    /// The command line, for messages.
    pub command: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_and_status_are_returned() {
        let out = run_with_timeout(
            &["sh", "-c", "echo out; echo err >&2; exit 3"],
            Duration::from_secs(10),
        )
        .unwrap();
        assert_eq!(out.status.code(), Some(3));
        assert_eq!(String::from_utf8_lossy(&out.stdout), "out\n");
        assert_eq!(String::from_utf8_lossy(&out.stderr), "err\n");
        let e = run_checked(
            &["sh", "-c", "echo nope >&2; exit 1"],
            Duration::from_secs(10),
        )
        .unwrap_err();
        assert!(e.to_string().contains("nope"), "{e}");
    }

    #[test]
    fn a_hanging_command_is_killed_at_its_deadline() {
        let e = run_with_timeout(&["sleep", "30"], Duration::from_millis(100)).unwrap_err();
        assert!(matches!(e, LabError::Timeout { .. }), "{e}");
    }

    #[test]
    fn a_missing_program_is_not_found() {
        let e = run_with_timeout(&["rvs-lab-no-such-program"], Duration::from_secs(1)).unwrap_err();
        assert!(matches!(e, LabError::NotFound { .. }), "{e}");
    }

    #[test]
    fn commands_are_shown_with_quotes_where_needed() {
        assert_eq!(
            display_command(&["nft", "add rule", ""]),
            "nft 'add rule' ''"
        );
    }
}
