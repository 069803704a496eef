//! MISC_CHECK: run a command in its own process group and read its exit status.
//!
//! keepalived's rules: exit 0 = up, anything else = down; with `misc_dynamic`, 2..=255
//! = up with weight `code - 2` and exit 0 restores the configured weight. A script
//! still running at its timeout gets SIGTERM (its whole process group), then SIGKILL
//! after a grace period; a checker stopped mid-script kills the group too.

use std::ffi::CString;
use std::fmt;
use std::io;
use std::os::unix::process::ExitStatusExt;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::process::Command;
use tokio::time::timeout;

use super::{Failure, Outcome};

/// Time a script gets between SIGTERM and SIGKILL (keepalived: 2 s).
const TERM_GRACE: Duration = Duration::from_secs(2);
/// How long to wait for a SIGKILLed script to be reaped before leaving it to the runtime.
const KILL_WAIT: Duration = Duration::from_secs(10);

/// What a `misc_dynamic` script said about its real server's weight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScriptWeight {
    /// Exit code 2..=255: use weight `code - 2`.
    Set(u32),
    /// Exit code 0: use the configured weight.
    Configured,
}

#[derive(Debug)]
pub(crate) enum ScriptFailure {
    Spawn(io::Error),
    Wait(io::Error),
    Exited(i32),
    Signaled(i32),
    TimedOut(Duration),
}

impl fmt::Display for ScriptFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScriptFailure::Spawn(e) => write!(f, "cannot start script: {e}"),
            ScriptFailure::Wait(e) => write!(f, "cannot wait for script: {e}"),
            ScriptFailure::Exited(c) => write!(f, "script exited with status {c}"),
            ScriptFailure::Signaled(s) => write!(f, "script killed by signal {s}"),
            ScriptFailure::TimedOut(t) => write!(f, "script timed out after {t:?}"),
        }
    }
}

/// The account a script runs as (keepalived's `user`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ScriptUser {
    uid: u32,
    gid: u32,
}

impl ScriptUser {
    /// Look a user up by name (or take a numeric uid, with the same gid).
    pub fn lookup(name: &str) -> Result<Self, String> {
        match lookup_passwd(name) {
            Ok(Some(user)) => Ok(user),
            Ok(None) => match name.parse::<u32>() {
                Ok(uid) => Ok(Self { uid, gid: uid }),
                Err(_) => Err(format!("no such user {name:?}")),
            },
            Err(e) => Err(format!("looking up user {name:?}: {e}")),
        }
    }
}

fn lookup_passwd(name: &str) -> io::Result<Option<ScriptUser>> {
    let cname = CString::new(name).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let mut buf: Vec<libc::c_char> = vec![0; 1024];
    loop {
        // SAFETY: an all-zero passwd is a valid value (null pointers, zero ids).
        let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        // SAFETY: every pointer is valid for the call, `buf.len()` is its real size, and
        // the strings getpwnam_r writes into `buf` are not used after it.
        let rc = unsafe {
            libc::getpwnam_r(
                cname.as_ptr(),
                &mut pwd,
                buf.as_mut_ptr(),
                buf.len(),
                &mut result,
            )
        };
        if rc == libc::ERANGE && buf.len() < 1 << 20 {
            buf.resize(buf.len() * 2, 0);
            continue;
        }
        if rc != 0 {
            return Err(io::Error::from_raw_os_error(rc));
        }
        if result.is_null() {
            return Ok(None);
        }
        return Ok(Some(ScriptUser {
            uid: pwd.pw_uid,
            gid: pwd.pw_gid,
        }));
    }
}

/// Signals a script's process group; SIGKILLs it on drop unless disarmed (so a
/// checker cancelled mid-script leaves nothing behind).
struct ProcessGroup {
    pgid: libc::pid_t,
    armed: bool,
}

impl ProcessGroup {
    fn signal(&self, sig: libc::c_int) {
        // SAFETY: killpg has no memory-safety preconditions. ESRCH (group gone) is fine.
        unsafe {
            libc::killpg(self.pgid, sig);
        }
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        if self.armed {
            self.signal(libc::SIGKILL);
        }
    }
}

pub(super) async fn run_script(
    command: &[String],
    limit: Duration,
    dynamic: bool,
    user: Option<ScriptUser>,
) -> Outcome {
    let Some((program, args)) = command.split_first() else {
        return Outcome::from(Err(Failure::Setup("empty misc command".into())));
    };
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0);
    if let Some(u) = user {
        cmd.uid(u.uid).gid(u.gid);
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return Outcome::from(Err(Failure::Script(ScriptFailure::Spawn(e)))),
    };
    let Some(pid) = child.id().and_then(|p| libc::pid_t::try_from(p).ok()) else {
        // Already reaped: cannot happen before we wait, but do not guess.
        return Outcome::from(Err(Failure::Script(ScriptFailure::Wait(io::Error::other(
            "script has no pid",
        )))));
    };
    let mut group = ProcessGroup {
        pgid: pid,
        armed: true,
    };
    match timeout(limit, child.wait()).await {
        Ok(Ok(status)) => {
            // A script that exited leaves its background children alone, as keepalived.
            group.armed = false;
            interpret(status, dynamic)
        }
        Ok(Err(e)) => Outcome::from(Err(Failure::Script(ScriptFailure::Wait(e)))),
        Err(_) => {
            group.signal(libc::SIGTERM);
            if timeout(TERM_GRACE, child.wait()).await.is_err() {
                group.signal(libc::SIGKILL);
                let _ = timeout(KILL_WAIT, child.wait()).await;
            }
            // The drop of `group` SIGKILLs whatever the script left in its group.
            Outcome::from(Err(Failure::Script(ScriptFailure::TimedOut(limit))))
        }
    }
}

fn interpret(status: ExitStatus, dynamic: bool) -> Outcome {
    match (status.code(), status.signal()) {
        (Some(0), _) => Outcome {
            result: Ok("exit status 0".into()),
            weight: dynamic.then_some(ScriptWeight::Configured),
        },
        (Some(code @ 2..=255), _) if dynamic => {
            // 2..=255 fits in u32 and code - 2 >= 0.
            let weight = code.unsigned_abs() - 2;
            Outcome {
                result: Ok(format!("exit status {code}, weight {weight}")),
                weight: Some(ScriptWeight::Set(weight)),
            }
        }
        (Some(code), _) => Outcome::from(Err(Failure::Script(ScriptFailure::Exited(code)))),
        (None, Some(sig)) => Outcome::from(Err(Failure::Script(ScriptFailure::Signaled(sig)))),
        (None, None) => Outcome::from(Err(Failure::Script(ScriptFailure::Exited(-1)))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exit(code: i32) -> ExitStatus {
        ExitStatus::from_raw(code << 8)
    }

    #[test]
    fn exit_codes() {
        let o = interpret(exit(0), false);
        assert!(o.result.is_ok() && o.weight.is_none());
        let o = interpret(exit(0), true);
        assert_eq!(o.weight, Some(ScriptWeight::Configured));
        assert!(interpret(exit(1), true).result.is_err());
        assert!(interpret(exit(7), false).result.is_err());
        let o = interpret(exit(7), true);
        assert!(o.result.is_ok());
        assert_eq!(o.weight, Some(ScriptWeight::Set(5)));
        assert_eq!(interpret(exit(2), true).weight, Some(ScriptWeight::Set(0)));
        assert_eq!(
            interpret(exit(255), true).weight,
            Some(ScriptWeight::Set(253))
        );
        let killed = interpret(ExitStatus::from_raw(libc::SIGKILL), true);
        assert!(matches!(
            killed.result,
            Err(Failure::Script(ScriptFailure::Signaled(9)))
        ));
    }

    #[test]
    fn user_lookup() {
        assert_eq!(
            ScriptUser::lookup("root"),
            Ok(ScriptUser { uid: 0, gid: 0 })
        );
        assert!(ScriptUser::lookup("no-such-user-rvs").is_err());
        assert!(ScriptUser::lookup("bad\0name").is_err());
        assert_eq!(ScriptUser::lookup("65534").map(|u| u.uid), Ok(65534));
    }
}
