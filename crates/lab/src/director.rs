//! Running the directors (rvsd, or keepalived as a VRRP peer) in their namespaces and
//! talking to rvsd with rvsadm over its control socket. Director indexes are 1-based
//! (`dir1`, `dir2`); the plain methods (`start_director`, `rvsadm`, ...) act on
//! director 1, the only one of a one-director lab.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
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
/// Longest wait for keepalived to write its VRRP child's pid file.
const KEEPALIVED_READY_TIMEOUT: Duration = Duration::from_secs(15);

impl Lab {
    /// The default director command for this topology.
    pub fn default_director_template(&self) -> &'static str {
        match self.spec.method {
            Method::Nat => NAT_DIRECTOR_TEMPLATE,
            Method::Route | Method::Tunnel => ONE_ARM_DIRECTOR_TEMPLATE,
        }
    }

    /// Director 1's control socket path (`{sock}` in templates).
    pub fn director_socket(&self) -> PathBuf {
        self.director_socket_of(1)
    }

    /// Director `i`'s control socket path: `rvsd.sock` in a one-director lab,
    /// `rvsd1.sock`, `rvsd2.sock` otherwise.
    pub fn director_socket_of(&self, i: usize) -> PathBuf {
        if self.directors.len() == 1 {
            self.dir.join("rvsd.sock")
        } else {
            self.dir.join(format!("rvsd{i}.sock"))
        }
    }

    fn director_label(&self, i: usize) -> String {
        if self.directors.len() == 1 {
            "director".to_owned()
        } else {
            format!("director{i}")
        }
    }

    /// Starts director 1 (see [`Lab::start_director_at`]).
    pub fn start_director(&self, template: Option<&str>) -> Result<ProcessHandle> {
        self.start_director_at(1, template)
    }

    /// Starts director `i` in its namespace from `template` (or the default: see
    /// [`Lab::default_director_template`]) and waits, bounded, until
    /// `rvsadm --socket SOCK -L -n` succeeds. Placeholders: `{rvsd}`, `{rvsadm}`,
    /// `{rvs_lab}`, `{sock}` (director `i`'s socket), `{ifaces}` (`-i eth0 [-i eth1]`).
    /// Binaries are found through `RVSD_BIN` / `RVSADM_BIN` or next to the current
    /// executable or in `target/{release,debug}`.
    pub fn start_director_at(&self, i: usize, template: Option<&str>) -> Result<ProcessHandle> {
        let ns = self.director_ns_of(i)?.to_owned();
        if lock(&self.director_process)[i - 1].is_some() {
            return Err(LabError::invalid(format!(
                "director {i} is already running: stop or kill it first"
            )));
        }
        let rvsadm = locate(Binary::Rvsadm)?;
        let template = template.unwrap_or(self.default_director_template());
        let ifaces = self
            .director_interfaces()
            .iter()
            .map(|i| format!("-i {i}"))
            .collect::<Vec<_>>()
            .join(" ");
        let sock_path = self.director_socket_of(i);
        let vars = HashMap::from([
            ("sock", sock_path.display().to_string()),
            ("ifaces", ifaces),
        ]);
        let args = expand_template(template, &vars)?;
        let _ = std::fs::remove_file(&sock_path);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let handle = self.spawn_labeled(&self.director_label(i), &ns, &args)?;
        lock(&self.director_process)[i - 1] = Some(handle.clone());

        let rvsadm = rvsadm.display().to_string();
        let sock = sock_path.display().to_string();
        let probe = [rvsadm.as_str(), "--socket", sock.as_str(), "-L", "-n"];
        let deadline = Instant::now() + DIRECTOR_READY_TIMEOUT;
        loop {
            if !self.is_running(&handle) {
                let status = self.stop_director_at(i);
                return Err(LabError::invalid(format!(
                    "director {i} exited ({}) before answering rvsadm; its log ({}):\n{}",
                    status.map_or("status unknown".to_owned(), |s| s.to_string()),
                    handle.log.display(),
                    tail(&self.log_of(&handle), 15)
                )));
            }
            let last = match self.exec_timeout(&ns, &probe, Duration::from_secs(5)) {
                Ok(out) if out.status.success() => return Ok(handle),
                Ok(out) => String::from_utf8_lossy(&out.stderr).into_owned(),
                Err(e) => e.to_string(),
            };
            if Instant::now() > deadline {
                let log = tail(&self.log_of(&handle), 15);
                self.stop_director_at(i);
                return Err(LabError::invalid(format!(
                    "director {i} did not answer `rvsadm -L -n` within {} s (last: {}); its log:\n{log}",
                    DIRECTOR_READY_TIMEOUT.as_secs(),
                    last.trim()
                )));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Starts Debian's keepalived as director `i`'s VRRP speaker (VRRP only:
    /// `keepalived -n -l -D --vrrp -f CONF -p PID -r VRRP_PID`), for interoperability
    /// tests, and waits until its VRRP process runs. [`Lab::kill_director`] kills both
    /// of its processes; [`Lab::stop_director_at`] stops it gracefully.
    pub fn start_keepalived_at(&self, i: usize, conf: &Path) -> Result<ProcessHandle> {
        let ns = self.director_ns_of(i)?.to_owned();
        if lock(&self.director_process)[i - 1].is_some() {
            return Err(LabError::invalid(format!(
                "director {i} is already running: stop or kill it first"
            )));
        }
        let (pid_file, vrrp_pid_file) = self.keepalived_pid_files(i);
        for f in [&pid_file, &vrrp_pid_file] {
            let _ = std::fs::remove_file(f);
        }
        let conf = conf.display().to_string();
        let pid = pid_file.display().to_string();
        let vrrp_pid = vrrp_pid_file.display().to_string();
        let args = [
            "keepalived",
            "-n",
            "-l",
            "-D",
            "--vrrp",
            "-f",
            &conf,
            "-p",
            &pid,
            "-r",
            &vrrp_pid,
        ];
        let handle = self.spawn_labeled(&format!("keepalived{i}"), &ns, &args)?;
        lock(&self.director_process)[i - 1] = Some(handle.clone());
        let deadline = Instant::now() + KEEPALIVED_READY_TIMEOUT;
        loop {
            if read_pid(&vrrp_pid_file).is_some() {
                return Ok(handle);
            }
            if !self.is_running(&handle) || Instant::now() > deadline {
                let log = tail(&self.log_of(&handle), 15);
                self.stop_director_at(i);
                return Err(LabError::invalid(format!(
                    "keepalived in director {i} did not start its VRRP process; its log:\n{log}"
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// keepalived's pid files for director `i`: the parent's and the VRRP child's.
    fn keepalived_pid_files(&self, i: usize) -> (PathBuf, PathBuf) {
        (
            self.dir.join(format!("keepalived{i}.pid")),
            self.dir.join(format!("keepalived{i}-vrrp.pid")),
        )
    }

    /// The running director 1, if one was started.
    pub fn director(&self) -> Option<ProcessHandle> {
        self.director_at(1)
    }

    /// The running director `i` (rvsd or keepalived), if one was started.
    pub fn director_at(&self, i: usize) -> Option<ProcessHandle> {
        lock(&self.director_process)
            .get(i.checked_sub(1)?)
            .cloned()
            .flatten()
    }

    /// Director 1's log so far (empty without a director).
    pub fn director_log(&self) -> String {
        self.director_log_of(1)
    }

    /// Director `i`'s log so far: every run of it, oldest first, each under a
    /// `==> FILE <==` line (a killed and restarted director has one log per run).
    pub fn director_log_of(&self, i: usize) -> String {
        let logs = self.dir.join("logs");
        let label = self.director_label(i);
        let keepalived = format!("keepalived{i}-");
        let prefix = format!("{label}-");
        let mut files: Vec<(u32, PathBuf)> = std::fs::read_dir(&logs)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let rest = name
                    .strip_prefix(&prefix)
                    .or_else(|| name.strip_prefix(&keepalived))?;
                let n = rest.strip_suffix(".log")?.parse().ok()?;
                Some((n, e.path()))
            })
            .collect();
        files.sort();
        let mut out = String::new();
        for (_, path) in files {
            out.push_str(&format!("==> {} <==\n", path.display()));
            out.push_str(&std::fs::read_to_string(&path).unwrap_or_default());
        }
        out
    }

    /// Stops director 1 (SIGTERM, 10 s, SIGKILL) and returns how it ended.
    pub fn stop_director(&self) -> Option<ExitStatus> {
        self.stop_director_at(1)
    }

    /// Stops director `i` gracefully (SIGTERM, 10 s, SIGKILL): rvsd hands its VIPs
    /// over (VRRP priority 0) and removes its host rules.
    pub fn stop_director_at(&self, i: usize) -> Option<ExitStatus> {
        let handle = lock(&self.director_process)
            .get_mut(i.checked_sub(1)?)?
            .take()?;
        self.stop(&handle, Duration::from_secs(10))
    }

    /// Simulates director `i`'s death: SIGKILL of its process (and, for keepalived,
    /// of its VRRP child) and all its links set down. A killed process leaves its VIPs
    /// on the kernel's interfaces; a dead host would also stop answering ARP for them,
    /// which the links going down give. Returns when both are done.
    pub fn kill_director(&self, i: usize) -> Result<()> {
        let ns = self.director_ns_of(i)?.to_owned();
        let handle = lock(&self.director_process)[i - 1]
            .take()
            .ok_or_else(|| LabError::invalid(format!("director {i} is not running")))?;
        let (_, vrrp_pid_file) = self.keepalived_pid_files(i);
        if handle.label.starts_with("keepalived") {
            if let Some(pid) = read_pid(&vrrp_pid_file) {
                crate::process::signal(pid, libc::SIGKILL);
            }
        }
        self.kill(&handle);
        for iface in self.director_interfaces() {
            crate::netns::ip(&["-n", &ns, "link", "set", iface, "down"])?;
        }
        Ok(())
    }

    /// Brings director `i`'s links back up after [`Lab::kill_director`] (as a host
    /// that comes back), with the routes that went down with them. Addresses a killed
    /// process left behind stay, as they would on a host that was only cut off; the
    /// director started next must clean them up. Start the director again with
    /// [`Lab::start_director_at`].
    pub fn revive_director(&self, i: usize) -> Result<()> {
        let ns = self.director_ns_of(i)?.to_owned();
        for iface in self.director_interfaces() {
            crate::netns::ip(&["-n", &ns, "link", "set", iface, "up"])?;
        }
        self.director_routes(&ns)?;
        Ok(())
    }

    /// Runs `rvsadm --socket SOCK ARGS...` against director 1; its stdout on success.
    /// E.g. `lab.rvsadm(&["-A", "-t", "192.0.2.10:80", "-s", "rr"])`.
    pub fn rvsadm(&self, args: &[&str]) -> Result<String> {
        self.rvsadm_at(1, args)
    }

    /// Runs `rvsadm --socket SOCK ARGS...` in director `i`'s namespace against its
    /// socket; its stdout on success.
    pub fn rvsadm_at(&self, i: usize, args: &[&str]) -> Result<String> {
        let ns = self.director_ns_of(i)?;
        let rvsadm = locate(Binary::Rvsadm)?.display().to_string();
        let sock = self.director_socket_of(i).display().to_string();
        let mut full = vec![rvsadm.as_str(), "--socket", sock.as_str()];
        full.extend_from_slice(args);
        let out = self.exec_timeout(ns, &full, RVSADM_TIMEOUT)?;
        let shown = crate::lab::netns_exec(ns, &full);
        crate::process::check_output(&shown, &out)?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// The switch ports (bridge ports in the switch namespace) director `i` is plugged
    /// into: `dir1c`, `dir1` in a two-director NAT lab, `dir1` in DR, `dir` with one
    /// director.
    pub fn director_switch_ports(&self, i: usize) -> Result<Vec<String>> {
        self.director_ns_of(i)?;
        let base = if self.directors.len() == 1 {
            "dir".to_owned()
        } else {
            format!("dir{i}")
        };
        Ok(match (self.spec.method, self.directors.len()) {
            (Method::Nat, 2) => vec![format!("{base}c"), base],
            // One director in NAT: eth0 is a veth straight to the client.
            _ => vec![base],
        })
    }

    /// Lets the switch flood unknown-unicast frames to the directors' ports or not
    /// (`bridge link set dev PORT flood on|off`). A switch floods a frame whose
    /// destination MAC it has not learned (or forgot: a port going down flushes what
    /// was learned on it), so with flooding on, a backup director sees the frames the
    /// clients still send to a dead master's MAC. Broadcast (ARP) and multicast (VRRP,
    /// sync) are not affected.
    pub fn set_director_flooding(&self, on: bool) -> Result<()> {
        let state = if on { "on" } else { "off" };
        for i in 1..=self.directors.len() {
            for port in self.director_switch_ports(i)? {
                self.exec_ok(
                    &self.switch,
                    &["bridge", "link", "set", "dev", &port, "flood", state],
                )?;
            }
        }
        Ok(())
    }

    /// Whether director `i`'s kernel holds IPv4 address `addr` on an interface that is
    /// up (VRRP puts the floating addresses on the master; a killed director's
    /// leftovers on its downed links do not count).
    pub fn director_holds(&self, i: usize, addr: std::net::Ipv4Addr) -> Result<bool> {
        let ns = self.director_ns_of(i)?;
        let out = crate::netns::ip(&["-n", ns, "-4", "-o", "addr", "show", "up"])?;
        let needle = format!(" {addr}/");
        Ok(out.lines().any(|l| l.contains(&needle)))
    }

    /// Which directors hold `addr` now (1-based indexes).
    pub fn holders_of(&self, addr: std::net::Ipv4Addr) -> Result<Vec<usize>> {
        let mut holders = Vec::new();
        for i in 1..=self.directors.len() {
            if self.director_holds(i, addr)? {
                holders.push(i);
            }
        }
        Ok(holders)
    }

    /// Waits, polling every 20 ms for at most `limit`, until exactly director `i` holds
    /// `addr`; returns how long it took.
    pub fn wait_for_holder(
        &self,
        addr: std::net::Ipv4Addr,
        i: usize,
        limit: Duration,
    ) -> Result<Duration> {
        let start = Instant::now();
        loop {
            let holders = self.holders_of(addr)?;
            if holders == [i] {
                return Ok(start.elapsed());
            }
            if start.elapsed() > limit {
                return Err(LabError::Timeout {
                    what: format!("{addr} on director {i} alone (held by {holders:?})"),
                    after: limit,
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// The PID in a pid file, if it holds one.
fn read_pid(path: &Path) -> Option<u32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}
