//! Running the director (rvsd) in the director's namespace and talking to it with
//! rvsadm over its control socket.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use crate::binaries::{expand_template, locate, Binary};
use crate::error::{tail, LabError, Result};
use crate::lab::{lock, Lab};
use crate::process::ProcessHandle;
use crate::spec::Method;

/// Default director command for the NAT topology (client side first).
pub const NAT_DIRECTOR_TEMPLATE: &str = "{rvsd} -i eth0 -i eth1 --socket {sock}";
/// Default director command for the DR and tunnel topologies (one interface).
pub const ONE_ARM_DIRECTOR_TEMPLATE: &str = "{rvsd} -i eth0 --socket {sock}";
/// Longest wait for the director to answer `rvsadm -L -n`.
pub const DIRECTOR_READY_TIMEOUT: Duration = Duration::from_secs(30);
/// Time bound of one rvsadm command.
const RVSADM_TIMEOUT: Duration = Duration::from_secs(15);

impl Lab {
    /// The default director command for this topology.
    pub fn default_director_template(&self) -> &'static str {
        match self.spec.method {
            Method::Nat => NAT_DIRECTOR_TEMPLATE,
            Method::Route | Method::Tunnel => ONE_ARM_DIRECTOR_TEMPLATE,
        }
    }

    /// The director's control socket path (`{sock}` in templates).
    pub fn director_socket(&self) -> PathBuf {
        self.dir.join("rvsd.sock")
    }

    /// Starts the director in its namespace from `template` (or the default: see
    /// [`Lab::default_director_template`]) and waits, bounded, until
    /// `rvsadm --socket SOCK -L -n` succeeds. Placeholders: `{rvsd}`, `{rvsadm}`,
    /// `{rvs_lab}`, `{sock}`, `{ifaces}` (`-i eth0 [-i eth1]`). Binaries are found
    /// through `RVSD_BIN` / `RVSADM_BIN` or next to the current executable or in
    /// `target/{release,debug}`.
    pub fn start_director(&self, template: Option<&str>) -> Result<ProcessHandle> {
        if lock(&self.director_process).is_some() {
            return Err(LabError::invalid(
                "the director is already running: stop_director first",
            ));
        }
        let rvsadm = locate(Binary::Rvsadm)?;
        let template = template.unwrap_or(self.default_director_template());
        let ifaces = self
            .director_interfaces()
            .iter()
            .map(|i| format!("-i {i}"))
            .collect::<Vec<_>>()
            .join(" ");
        let vars = HashMap::from([
            ("sock", self.director_socket().display().to_string()),
            ("ifaces", ifaces),
        ]);
        let args = expand_template(template, &vars)?;
        let _ = std::fs::remove_file(self.director_socket());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let handle = self.spawn_labeled("director", &self.director, &args)?;
        *lock(&self.director_process) = Some(handle.clone());

        let rvsadm = rvsadm.display().to_string();
        let sock = self.director_socket().display().to_string();
        let probe = [rvsadm.as_str(), "--socket", sock.as_str(), "-L", "-n"];
        let deadline = Instant::now() + DIRECTOR_READY_TIMEOUT;
        loop {
            if !self.is_running(&handle) {
                let status = self.stop_director();
                return Err(LabError::invalid(format!(
                    "the director exited ({}) before answering rvsadm; its log ({}):\n{}",
                    status.map_or("status unknown".to_owned(), |s| s.to_string()),
                    handle.log.display(),
                    tail(&self.log_of(&handle), 15)
                )));
            }
            let last = match self.exec_timeout(&self.director, &probe, Duration::from_secs(5)) {
                Ok(out) if out.status.success() => return Ok(handle),
                Ok(out) => String::from_utf8_lossy(&out.stderr).into_owned(),
                Err(e) => e.to_string(),
            };
            if Instant::now() > deadline {
                let log = tail(&self.log_of(&handle), 15);
                self.stop_director();
                return Err(LabError::invalid(format!(
                    "the director did not answer `rvsadm -L -n` within {} s (last: {}); its log:\n{log}",
                    DIRECTOR_READY_TIMEOUT.as_secs(),
                    last.trim()
                )));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The running director, if [`Lab::start_director`] started one.
    pub fn director(&self) -> Option<ProcessHandle> {
        lock(&self.director_process).clone()
    }

    /// The director's log so far (empty without a director).
    pub fn director_log(&self) -> String {
        self.director().map(|h| self.log_of(&h)).unwrap_or_default()
    }

    /// Stops the director (SIGTERM, 10 s, SIGKILL) and returns how it ended.
    pub fn stop_director(&self) -> Option<ExitStatus> {
        let handle = lock(&self.director_process).take()?;
        self.stop(&handle, Duration::from_secs(10))
    }

    /// Runs `rvsadm --socket SOCK ARGS...` in the director's namespace; its stdout on
    /// success. E.g. `lab.rvsadm(&["-A", "-t", "192.0.2.10:80", "-s", "rr"])`.
    pub fn rvsadm(&self, args: &[&str]) -> Result<String> {
        let rvsadm = locate(Binary::Rvsadm)?.display().to_string();
        let sock = self.director_socket().display().to_string();
        let mut full = vec![rvsadm.as_str(), "--socket", sock.as_str()];
        full.extend_from_slice(args);
        let out = self.exec_timeout(&self.director, &full, RVSADM_TIMEOUT)?;
        let shown = crate::lab::netns_exec(&self.director, &full);
        crate::process::check_output(&shown, &out)?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}
