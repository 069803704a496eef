//! The [`Lab`]: a built topology, the helpers tests use on it, and its teardown.

use std::fs;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rvs_realserver::TunnelCounters;

use crate::capture::{Capture, Direction};
use crate::error::{LabError, Result};
use crate::netns::{self, in_netns};
use crate::nginx::NginxFiles;
use crate::process::{self, check_output, run_with_timeout, ProcessHandle};
use crate::spec::{LabSpec, Method, VIP, VIP6};

/// Default time bound of [`Lab::exec`].
pub const EXEC_TIMEOUT: Duration = Duration::from_secs(30);
/// `curl --max-time` of [`Lab::curl`], in seconds.
pub const CURL_MAX_TIME_SECS: u32 = 5;
/// Grace period between SIGTERM and SIGKILL at teardown.
const STOP_GRACE: Duration = Duration::from_secs(3);

/// One real server of the lab.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RealServer {
    /// 1-based index.
    pub index: usize,
    /// `rs1`, `rs2`, ...: also what its HTTP and UDP services answer.
    pub name: String,
    /// Its network namespace.
    pub ns: String,
    /// Its address (RIP).
    pub ip: Ipv4Addr,
    /// Its IPv6 address, when the lab has IPv6.
    pub ip6: Option<Ipv6Addr>,
    /// Its directory (nginx files, logs).
    pub dir: PathBuf,
    /// Its nginx instance, when the lab has HTTP.
    pub nginx: Option<NginxFiles>,
}

/// A process the lab started and will stop.
#[derive(Debug)]
pub(crate) struct Tracked {
    pub(crate) handle: ProcessHandle,
    pub(crate) child: Child,
}

/// A thread of this process working inside a lab namespace (tunnel agent, UDP
/// responder), stopped through its flag.
#[derive(Debug)]
pub(crate) struct Background {
    pub(crate) label: String,
    pub(crate) stop: Arc<AtomicBool>,
    pub(crate) thread: Option<JoinHandle<()>>,
}

/// A built lab. Everything it made (namespaces and what lives in them, processes,
/// threads, files) goes when it is dropped, also when a test panics. See the crate
/// documentation for the topologies.
#[derive(Debug)]
pub struct Lab {
    pub(crate) spec: LabSpec,
    pub(crate) prefix: String,
    pub(crate) dir: PathBuf,
    /// In creation order.
    pub(crate) namespaces: Vec<String>,
    pub(crate) client: String,
    /// The first director's namespace (`dir`, or `dir1` with two directors).
    pub(crate) director: String,
    /// Every director's namespace, director 1 first.
    pub(crate) directors: Vec<String>,
    pub(crate) router: Option<String>,
    pub(crate) switch: String,
    pub(crate) real_servers: Vec<RealServer>,
    /// Every veth end made: (namespace, interface).
    pub(crate) veths: Vec<(String, String)>,
    pub(crate) agent_counters: Vec<Option<Arc<TunnelCounters>>>,
    pub(crate) processes: Mutex<Vec<Tracked>>,
    pub(crate) background: Mutex<Vec<Background>>,
    /// The running director process of each director, by index - 1.
    pub(crate) director_process: Mutex<Vec<Option<ProcessHandle>>>,
    pub(crate) spawned: AtomicU32,
    pub(crate) kept: bool,
}

/// Locks a mutex even if a panicking test poisoned it (the data is a plain list).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Lab {
    /// Builds the lab `spec` describes: namespaces, links, addresses, routes, sysctls,
    /// offloads, a reachability check, then the services (nginx, UDP responders, tunnel
    /// agents). On error, whatever was built is torn down before the error returns.
    pub fn build(spec: &LabSpec) -> Result<Lab> {
        spec.validate().map_err(LabError::Invalid)?;
        let prefix = netns::unique_prefix();
        let dir = std::env::temp_dir()
            .join("rvs-lab")
            .join(prefix.trim_end_matches('-'));
        if dir.exists() {
            // A leftover of a dead process that had our PID.
            let _ = fs::remove_dir_all(&dir);
        }
        fs::create_dir_all(dir.join("logs"))
            .map_err(|e| LabError::io(dir.display().to_string(), e))?;
        let name = |role: &str| format!("{prefix}{role}");
        let real_servers = (1..=spec.real_servers)
            .map(|i| RealServer {
                index: i,
                name: format!("rs{i}"),
                ns: name(&format!("rs{i}")),
                ip: crate::spec::real_server_ip(spec.method, i),
                ip6: spec
                    .ipv6
                    .then(|| crate::spec::real_server_ip6(spec.method, i)),
                dir: dir.join(format!("rs{i}")),
                nginx: None,
            })
            .collect();
        let directors: Vec<String> = if spec.directors == 1 {
            vec![name("dir")]
        } else {
            (1..=spec.directors)
                .map(|i| name(&format!("dir{i}")))
                .collect()
        };
        let mut lab = Lab {
            spec: spec.clone(),
            client: name("cli"),
            director: directors[0].clone(),
            director_process: Mutex::new(vec![None; directors.len()]),
            directors,
            router: (spec.method != Method::Nat).then(|| name("rt")),
            switch: name("sw"),
            prefix,
            dir,
            namespaces: Vec::new(),
            real_servers,
            veths: Vec::new(),
            agent_counters: vec![None; spec.real_servers],
            processes: Mutex::new(Vec::new()),
            background: Mutex::new(Vec::new()),
            spawned: AtomicU32::new(0),
            kept: false,
        };
        lab.build_topology()?;
        lab.start_services()?;
        Ok(lab)
    }

    /// The spec the lab was built from.
    pub fn spec(&self) -> &LabSpec {
        &self.spec
    }

    /// The forwarding method of the topology.
    pub fn method(&self) -> Method {
        self.spec.method
    }

    /// The namespace-name prefix of this lab (`rvs-<pid>-<n>-`).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The lab's directory (logs, nginx files, captures, the director's socket).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// All namespaces of the lab, in creation order.
    pub fn namespaces(&self) -> &[String] {
        &self.namespaces
    }

    /// The client's namespace (interface `eth0`).
    pub fn client_ns(&self) -> &str {
        &self.client
    }

    /// The director's namespace (the first director's, with two).
    pub fn director_ns(&self) -> &str {
        &self.director
    }

    /// How many directors the lab has.
    pub fn director_count(&self) -> usize {
        self.directors.len()
    }

    /// Director `i`'s namespace (1-based: `dir1`, `dir2`; `dir` in a one-director lab).
    pub fn director_ns_of(&self, i: usize) -> Result<&str> {
        i.checked_sub(1)
            .and_then(|at| self.directors.get(at))
            .map(String::as_str)
            .ok_or_else(|| {
                LabError::invalid(format!(
                    "no director {i}: the lab has {} (1-based)",
                    self.directors.len()
                ))
            })
    }

    /// The router's namespace (DR and tunnel topologies).
    pub fn router_ns(&self) -> Option<&str> {
        self.router.as_deref()
    }

    /// The switch's namespace (the bridges `br0`, and `br1` in the tunnel topology).
    pub fn switch_ns(&self) -> &str {
        &self.switch
    }

    /// The director's interfaces, client-facing first: `eth0`, `eth1` in NAT; `eth0`
    /// otherwise.
    pub fn director_interfaces(&self) -> &'static [&'static str] {
        match self.spec.method {
            Method::Nat => &["eth0", "eth1"],
            Method::Route | Method::Tunnel => &["eth0"],
        }
    }

    /// The real servers.
    pub fn real_servers(&self) -> &[RealServer] {
        &self.real_servers
    }

    /// The VIP (192.0.2.10).
    pub fn vip(&self) -> Ipv4Addr {
        VIP
    }

    /// The IPv6 VIP, when the lab has IPv6.
    pub fn vip6(&self) -> Option<Ipv6Addr> {
        self.spec.ipv6.then_some(VIP6)
    }

    /// `http://192.0.2.10{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{VIP}{path}")
    }

    /// `http://[2001:db8:a::10]{path}`.
    pub fn url6(&self, path: &str) -> String {
        format!("http://[{VIP6}]{path}")
    }

    /// The counters of the in-process tunnel agent of real server `index` (1-based), if
    /// it runs one.
    pub fn tunnel_agent_counters(&self, index: usize) -> Option<Arc<TunnelCounters>> {
        self.agent_counters.get(index.checked_sub(1)?)?.clone()
    }

    /// The MAC address of `iface` in `ns`.
    pub fn mac(&self, ns: &str, iface: &str) -> Result<String> {
        let path = format!("/sys/class/net/{iface}/address");
        Ok(self.exec_ok(ns, &["cat", &path])?.trim().to_owned())
    }

    // ------------------------------------------------------------------ commands

    /// Runs `args` in namespace `ns` (`ip netns exec`), bounded by [`EXEC_TIMEOUT`];
    /// returns its output whatever its exit status.
    pub fn exec(&self, ns: &str, args: &[&str]) -> Result<Output> {
        self.exec_timeout(ns, args, EXEC_TIMEOUT)
    }

    /// Like [`Lab::exec`] with another time bound.
    pub fn exec_timeout(&self, ns: &str, args: &[&str], timeout: Duration) -> Result<Output> {
        run_with_timeout(&netns_exec(ns, args), timeout)
    }

    /// Runs `args` in `ns` and fails unless it exits 0; returns its stdout.
    pub fn exec_ok(&self, ns: &str, args: &[&str]) -> Result<String> {
        let full = netns_exec(ns, args);
        let out = run_with_timeout(&full, EXEC_TIMEOUT)?;
        check_output(&full, &out)?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Starts `args` in namespace `ns` in the background, its stdout and stderr to a log
    /// file in the lab's directory. The lab stops it (SIGTERM, then SIGKILL) at the
    /// latest when dropped.
    pub fn spawn(&self, ns: &str, args: &[&str]) -> Result<ProcessHandle> {
        let program = args
            .first()
            .map(|p| {
                Path::new(p)
                    .file_name()
                    .map_or(*p, |f| f.to_str().unwrap_or(p))
            })
            .unwrap_or("process");
        let role = ns.strip_prefix(&self.prefix).unwrap_or(ns);
        self.spawn_labeled(&format!("{role}-{program}"), ns, args)
    }

    /// Like [`Lab::spawn`] with a chosen label (log file `logs/<label>-<n>.log`).
    pub fn spawn_labeled(&self, label: &str, ns: &str, args: &[&str]) -> Result<ProcessHandle> {
        if args.is_empty() {
            return Err(LabError::invalid("spawn: empty command"));
        }
        let n = self.spawned.fetch_add(1, Ordering::Relaxed);
        let log = self.dir.join("logs").join(format!("{label}-{n}.log"));
        let out = fs::File::create(&log).map_err(|e| LabError::io(log.display().to_string(), e))?;
        let err = out
            .try_clone()
            .map_err(|e| LabError::io(log.display().to_string(), e))?;
        // `ip netns exec` execs the program in place: the child's PID is the program's.
        let child = Command::new("ip")
            .args(["netns", "exec", ns])
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| LabError::io(format!("start `{}`", process::display_command(args)), e))?;
        let handle = ProcessHandle {
            pid: child.id(),
            label: label.to_owned(),
            log,
            command: process::display_command(args),
        };
        lock(&self.processes).push(Tracked {
            handle: handle.clone(),
            child,
        });
        Ok(handle)
    }

    /// Whether a spawned process is still running.
    pub fn is_running(&self, handle: &ProcessHandle) -> bool {
        let mut procs = lock(&self.processes);
        procs
            .iter_mut()
            .find(|t| t.handle.pid == handle.pid)
            .is_some_and(|t| matches!(t.child.try_wait(), Ok(None)))
    }

    /// Stops a spawned process (SIGTERM, `grace`, SIGKILL) and returns how it ended.
    pub fn stop(&self, handle: &ProcessHandle, grace: Duration) -> Option<ExitStatus> {
        let tracked = {
            let mut procs = lock(&self.processes);
            let at = procs.iter().position(|t| t.handle.pid == handle.pid)?;
            procs.swap_remove(at)
        };
        let mut child = tracked.child;
        process::terminate(&mut child, grace)
    }

    /// Kills a spawned process at once (SIGKILL: no handler runs, as when a host dies)
    /// and reaps it; returns how it ended.
    pub fn kill(&self, handle: &ProcessHandle) -> Option<ExitStatus> {
        let tracked = {
            let mut procs = lock(&self.processes);
            let at = procs.iter().position(|t| t.handle.pid == handle.pid)?;
            procs.swap_remove(at)
        };
        let mut child = tracked.child;
        process::signal(handle.pid, libc::SIGKILL);
        match process::wait_bounded(&mut child, Duration::from_secs(5)) {
            Ok(Some(status)) => Some(status),
            _ => {
                let _ = child.kill();
                child.wait().ok()
            }
        }
    }

    /// Waits at most `timeout` for a spawned process to exit by itself; its exit status
    /// if it did (it is then reaped and no longer tracked), `None` if it still runs.
    pub fn wait(&self, handle: &ProcessHandle, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            {
                let mut procs = lock(&self.processes);
                let at = procs.iter().position(|t| t.handle.pid == handle.pid)?;
                if let Ok(Some(status)) = procs[at].child.try_wait() {
                    procs.swap_remove(at);
                    return Some(status);
                }
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends `signal` (e.g. `libc::SIGHUP`) to a spawned process that still runs.
    pub fn signal(&self, handle: &ProcessHandle, signal: i32) {
        if self.is_running(handle) {
            process::signal(handle.pid, signal);
        }
    }

    /// The log (stdout and stderr) of a spawned process so far.
    pub fn log_of(&self, handle: &ProcessHandle) -> String {
        fs::read_to_string(&handle.log).unwrap_or_default()
    }

    // ------------------------------------------------------------------ client side

    /// `curl URL` from the client (`-sS -g --max-time 5`); the body on success.
    pub fn curl(&self, url: &str) -> Result<String> {
        self.curl_with(&[url])
    }

    /// curl from the client with more arguments (`-sS -g --max-time 5` come first;
    /// a later `--max-time` wins).
    pub fn curl_with(&self, args: &[&str]) -> Result<String> {
        let max_time = CURL_MAX_TIME_SECS.to_string();
        let mut full = vec!["curl", "-sS", "-g", "--max-time", &max_time];
        full.extend_from_slice(args);
        self.exec_ok(&self.client, &full)
    }

    /// Sends `payload` in one UDP datagram from the client to `addr:port` and returns
    /// the answer (up to 3 tries of 1 s each). The client's socket is connected, so only
    /// an answer from `addr:port` counts.
    pub fn udp_request(&self, addr: IpAddr, port: u16, payload: &[u8]) -> Result<String> {
        let target = SocketAddr::new(addr, port);
        in_netns(&self.client, || -> Result<String> {
            let bind: SocketAddr = match addr {
                IpAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
                IpAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
            };
            let io = |e| LabError::io(format!("UDP to {target}"), e);
            let socket = UdpSocket::bind(bind).map_err(io)?;
            socket.connect(target).map_err(io)?;
            socket
                .set_read_timeout(Some(Duration::from_secs(1)))
                .map_err(io)?;
            let mut buf = [0u8; 2048];
            for _ in 0..3 {
                socket.send(payload).map_err(io)?;
                match socket.recv(&mut buf) {
                    Ok(n) => return Ok(String::from_utf8_lossy(&buf[..n]).into_owned()),
                    Err(e)
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                        ) => {}
                    Err(e) => return Err(io(e)),
                }
            }
            Err(LabError::Timeout {
                what: format!("UDP answer from {target}"),
                after: Duration::from_secs(3),
            })
        })?
    }

    // ------------------------------------------------------------------ captures

    /// Captures on `iface` in namespace `ns` (both directions) with a pcap `filter`
    /// (may be empty), into a file in the lab's directory.
    pub fn capture(&self, ns: &str, iface: &str, filter: &str) -> Result<Capture> {
        self.capture_direction(ns, iface, filter, Direction::Both)
    }

    /// Like [`Lab::capture`], for packets in one direction only.
    pub fn capture_direction(
        &self,
        ns: &str,
        iface: &str,
        filter: &str,
        direction: Direction,
    ) -> Result<Capture> {
        let dir = self.dir.join("captures");
        fs::create_dir_all(&dir).map_err(|e| LabError::io(dir.display().to_string(), e))?;
        let n = self.spawned.fetch_add(1, Ordering::Relaxed);
        let role = ns.strip_prefix(&self.prefix).unwrap_or(ns);
        let path = dir.join(format!("{role}-{iface}-{n}.pcap"));
        Capture::start(ns, iface, filter, direction, path)
    }

    // ------------------------------------------------------------------ teardown

    /// Keeps the lab when this value is dropped (for `rvs-lab demo --keep` and manual
    /// use): namespaces, processes and files stay; `rvs-lab down` removes them later.
    /// Fails if threads of this process serve the lab (in-process tunnel agents or UDP
    /// responders), since they end with the process.
    pub fn keep(mut self) -> Result<KeptLab> {
        let threads: Vec<String> = lock(&self.background)
            .iter()
            .map(|b| b.label.clone())
            .collect();
        if !threads.is_empty() {
            return Err(LabError::invalid(format!(
                "cannot keep the lab: {} run in this process (use AgentMode::Command and the rvs-lab binary)",
                threads.join(", ")
            )));
        }
        self.kept = true;
        Ok(KeptLab {
            prefix: self.prefix.clone(),
            namespaces: self.namespaces.clone(),
            dir: self.dir.clone(),
        })
    }

    fn teardown(&mut self) {
        let mut problems = Vec::new();
        // Threads first: tunnel agents restore what they changed in their namespace.
        let background: Vec<Background> = lock(&self.background).drain(..).collect();
        for b in &background {
            b.stop.store(true, Ordering::Relaxed);
        }
        for mut b in background {
            if let Some(t) = b.thread.take() {
                if t.join().is_err() {
                    problems.push(format!("{} panicked", b.label));
                }
            }
        }
        // Processes: SIGTERM to all, a shared grace period, then SIGKILL; all reaped.
        let mut procs: Vec<Tracked> = lock(&self.processes).drain(..).collect();
        for t in &mut procs {
            if matches!(t.child.try_wait(), Ok(None)) {
                process::signal(t.handle.pid, libc::SIGTERM);
            }
        }
        let deadline = Instant::now() + STOP_GRACE;
        for t in &mut procs {
            let left = deadline.saturating_duration_since(Instant::now());
            if !matches!(process::wait_bounded(&mut t.child, left), Ok(Some(_))) {
                let _ = t.child.kill();
                let _ = t.child.wait();
            }
        }
        // Anything else inside (nginx workers, processes started with `ip netns exec`
        // by a test) was started by this lab; then the namespaces go.
        for ns in self.namespaces.iter().rev() {
            netns::kill_all_inside(ns);
            if let Err(e) = netns::delete(ns) {
                problems.push(format!("delete namespace {ns}: {e}"));
            }
        }
        if std::thread::panicking() {
            eprintln_visible(&format!(
                "rvs-lab: the lab's files are kept for inspection in {}",
                self.dir.display()
            ));
        } else if let Err(e) = fs::remove_dir_all(&self.dir) {
            problems.push(format!("remove {}: {e}", self.dir.display()));
        }
        for p in problems {
            eprintln_visible(&format!("rvs-lab teardown: {p}"));
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if !self.kept {
            self.teardown();
        }
    }
}

/// What is left of a lab after [`Lab::keep`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeptLab {
    pub prefix: String,
    pub namespaces: Vec<String>,
    pub dir: PathBuf,
}

/// `ip netns exec NS ARGS...` as one argument list.
pub(crate) fn netns_exec(ns: &str, args: &[&str]) -> Vec<String> {
    let mut full: Vec<String> = vec!["ip".into(), "netns".into(), "exec".into(), ns.into()];
    full.extend(args.iter().map(|a| (*a).to_owned()));
    full
}

/// Writes a line to stderr directly (the test harness captures `eprintln!`).
pub(crate) fn eprintln_visible(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}
