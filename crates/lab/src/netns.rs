//! Network namespaces: unique names per lab, creation and deletion, running code or
//! commands inside one, finding leftovers, and the root check tests start with.

use std::fs::File;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use crate::error::{LabError, Result};
use crate::process::{run_checked, run_with_timeout};

/// Every lab namespace name starts with this.
pub const NAME_ROOT: &str = "rvs-";
/// Time bound of one `ip` command.
pub(crate) const IP_TIMEOUT: Duration = Duration::from_secs(15);

static NEXT_LAB: AtomicU32 = AtomicU32::new(0);

/// A prefix no other lab uses at the same time: `rvs-<pid>-<counter>-`.
pub fn unique_prefix() -> String {
    format!(
        "{NAME_ROOT}{}-{}-",
        std::process::id(),
        NEXT_LAB.fetch_add(1, Ordering::Relaxed)
    )
}

/// Runs `ip ARGS...`; returns its stdout.
pub fn ip<S: AsRef<str>>(args: &[S]) -> Result<String> {
    let mut full = vec!["ip".to_owned()];
    full.extend(args.iter().map(|a| a.as_ref().to_owned()));
    run_checked(&full, IP_TIMEOUT)
}

/// Names of all network namespaces (`ip netns list`).
pub fn list() -> Result<Vec<String>> {
    let out = ip(&["netns", "list"])?;
    Ok(out
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect())
}

/// PIDs of the processes inside namespace `ns` (`ip netns pids`).
pub fn pids(ns: &str) -> Vec<u32> {
    match run_with_timeout(&["ip", "netns", "pids", ns], IP_TIMEOUT) {
        Ok(out) => String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// Creates namespace `ns` with `lo` up.
pub(crate) fn create(ns: &str) -> Result<()> {
    ip(&["netns", "add", ns])?;
    ip(&["-n", ns, "link", "set", "lo", "up"])?;
    Ok(())
}

/// Deletes namespace `ns` (its interfaces go with it once no process is left inside).
pub(crate) fn delete(ns: &str) -> Result<()> {
    ip(&["netns", "del", ns]).map(drop)
}

/// Moves the calling thread into namespace `ns` for good.
fn enter(ns: &str) -> Result<()> {
    let path = format!("/run/netns/{ns}");
    let file = File::open(&path).map_err(|e| LabError::io(&path, e))?;
    // SAFETY: `file` is an open namespace descriptor for the whole call; setns only
    // changes the calling thread's namespace.
    if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(LabError::io(
            format!("setns {ns}"),
            std::io::Error::last_os_error(),
        ));
    }
    Ok(())
}

/// Runs `f` in a new thread that entered namespace `ns`, and returns its result.
/// Sockets it creates belong to `ns` for their whole life, wherever they are used
/// afterwards. A panic inside `f` is passed on.
pub fn in_netns<T, F>(ns: &str, f: F) -> Result<T>
where
    T: Send,
    F: FnOnce() -> T + Send,
{
    std::thread::scope(|scope| {
        let handle = scope.spawn(|| {
            enter(ns)?;
            Ok(f())
        });
        match handle.join() {
            Ok(result) => result,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

/// Writes sysctls (`name` dotted, e.g. `net.ipv4.ip_forward`) inside namespace `ns`.
pub fn set_sysctls(ns: &str, settings: &[(&str, &str)]) -> Result<()> {
    in_netns(ns, || {
        for (name, value) in settings {
            let path = format!("/proc/sys/{}", name.replace('.', "/"));
            std::fs::write(&path, value)
                .map_err(|e| LabError::io(format!("{ns}: set {name}={value}"), e))?;
        }
        Ok(())
    })?
}

/// Reads a sysctl inside namespace `ns`.
pub fn sysctl(ns: &str, name: &str) -> Result<String> {
    in_netns(ns, || {
        let path = format!("/proc/sys/{}", name.replace('.', "/"));
        std::fs::read_to_string(&path)
            .map(|s| s.trim().to_owned())
            .map_err(|e| LabError::io(format!("{ns}: read {name}"), e))
    })?
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Whether namespaces can be made here (root, `ip netns` works); probed once per process.
fn netns_usable() -> std::result::Result<(), String> {
    static PROBE: OnceLock<std::result::Result<(), String>> = OnceLock::new();
    PROBE
        .get_or_init(|| {
            if !is_root() {
                return Err("not root".to_owned());
            }
            let probe = format!("{}probe", unique_prefix());
            ip(&["netns", "add", &probe]).map_err(|e| e.to_string())?;
            let _ = ip(&["netns", "del", &probe]);
            Ok(())
        })
        .clone()
}

/// For tests: `true` (after printing "skipping: needs root and network namespaces" to
/// stderr, where the test harness does not hide it) when this process cannot build a
/// lab; `false` when it can.
///
/// ```no_run
/// #[test]
/// fn nat_works() {
///     if rvs_lab::needs_root() {
///         return;
///     }
///     // ... Lab::build(...)
/// }
/// ```
pub fn needs_root() -> bool {
    match netns_usable() {
        Ok(()) => false,
        Err(why) => {
            let _ = writeln!(
                std::io::stderr(),
                "skipping: needs root and network namespaces ({why})"
            );
            true
        }
    }
}

/// Whether process `pid` is alive.
fn alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// The PID in a lab namespace name `rvs-<pid>-<counter>-<role>`, if it has one.
pub(crate) fn owner_pid(name: &str) -> Option<u32> {
    let rest = name.strip_prefix(NAME_ROOT)?;
    let (pid, rest) = rest.split_once('-')?;
    let (counter, _) = rest.split_once('-')?;
    counter.parse::<u32>().ok()?;
    pid.parse().ok()
}

/// Deletes lab namespaces (`rvs-<pid>-<counter>-*`) whose creating process is gone, after
/// killing what still runs inside them (processes a lab started and left behind, e.g.
/// after `rvs-lab demo --keep` or a crashed test). Returns the names removed.
pub fn cleanup_stale() -> Result<Vec<String>> {
    let mut removed = Vec::new();
    for ns in list()? {
        match owner_pid(&ns) {
            Some(pid) if !alive(pid) => {}
            _ => continue,
        }
        kill_all_inside(&ns);
        delete(&ns)?;
        removed.push(ns);
    }
    Ok(removed)
}

/// SIGKILLs every process inside `ns` (all of them were started by a lab) and waits,
/// bounded, until none is left.
pub(crate) fn kill_all_inside(ns: &str) {
    for _ in 0..50 {
        let left = pids(ns);
        if left.is_empty() {
            return;
        }
        for pid in left {
            if pid != std::process::id() {
                crate::process::signal(pid, libc::SIGKILL);
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_unique_and_parse_back() {
        let a = unique_prefix();
        let b = unique_prefix();
        assert_ne!(a, b);
        let ns = format!("{a}cli");
        assert_eq!(owner_pid(&ns), Some(std::process::id()));
        assert_eq!(owner_pid("rvs-probe"), None);
        assert_eq!(owner_pid("rvs-12-x-cli"), None);
        assert_eq!(owner_pid("lvs-dir"), None);
    }
}
