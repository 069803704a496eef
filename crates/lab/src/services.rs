//! Starting the real servers' services: nginx, the UDP responders and, in the tunnel
//! topology, the decapsulating agents. Each start waits (bounded) until the service is
//! ready.

use std::collections::HashMap;
use std::fs;
use std::sync::atomic::AtomicBool;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use rvs_realserver::{TunnelAgent, TunnelAgentConfig, VipDevice};

use crate::binaries::{expand_template, locate, Binary};
use crate::error::{tail, LabError, Result};
use crate::lab::{lock, Background, Lab, RealServer};
use crate::netns::in_netns;
use crate::process::ProcessHandle;
use crate::spec::{AgentMode, Method, TCP_ECHO_PORT, UDP_PORT, VIP, VIP6};
use crate::{tcp_echo, udp_echo};

/// Longest wait for one service to become ready.
const READY_TIMEOUT: Duration = Duration::from_secs(15);

impl Lab {
    pub(crate) fn start_services(&mut self) -> Result<()> {
        if self.spec.method == Method::Tunnel {
            self.start_tunnel_agents()?;
        }
        if self.spec.http {
            for i in 0..self.real_servers.len() {
                self.start_nginx(i)?;
            }
        }
        let binary = locate(Binary::RvsLab).ok();
        let servers = self.real_servers.clone();
        if self.spec.udp {
            for rs in &servers {
                match &binary {
                    Some(path) => self.start_udp_echo_process(rs, &path.display().to_string())?,
                    None => self.start_udp_echo_thread(rs)?,
                }
            }
        }
        if self.spec.tcp_echo {
            for rs in &servers {
                match &binary {
                    Some(path) => self.start_tcp_echo_process(rs, &path.display().to_string())?,
                    None => self.start_tcp_echo_thread(rs)?,
                }
            }
        }
        Ok(())
    }

    fn start_tcp_echo_process(&self, rs: &RealServer, binary: &str) -> Result<()> {
        let port = TCP_ECHO_PORT.to_string();
        let handle = self.spawn_labeled(
            &format!("tcp-echo-{}", rs.name),
            &rs.ns,
            &[binary, "tcp-echo", "--port", &port],
        )?;
        self.wait_ready(
            &handle,
            &format!("TCP echo responder in {}", rs.name),
            || {
                fs::read_to_string(&handle.log)
                    .map(|s| s.contains(tcp_echo::READY_LINE))
                    .unwrap_or(false)
            },
        )
    }

    /// Without the rvs-lab binary, the TCP echo responder runs as a thread of this
    /// process inside the server's namespace.
    fn start_tcp_echo_thread(&self, rs: &RealServer) -> Result<()> {
        self.start_responder_thread(rs, "TCP echo responder", |_, stop, ready| {
            tcp_echo::serve_with(TCP_ECHO_PORT, stop, ready)
        })
    }

    /// Runs `serve(name, stop, ready)` in a thread inside `rs`'s namespace, registered as
    /// a background service to stop, and waits (bounded) until it calls `ready`.
    fn start_responder_thread<F>(&self, rs: &RealServer, label: &str, serve: F) -> Result<()>
    where
        F: FnOnce(&str, &AtomicBool, Box<dyn FnOnce() + Send>) -> std::io::Result<()>
            + Send
            + 'static,
    {
        let stop = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready_rx) = mpsc::channel();
        let (ns, name) = (rs.ns.clone(), rs.name.clone());
        let flag = Arc::clone(&stop);
        let what = label.to_string();
        let thread = std::thread::spawn(move || {
            let ready = Box::new(move || {
                let _ = ready_tx.send(());
            });
            let outcome = in_netns(&ns, || serve(&name, &flag, ready));
            let problem = match outcome {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(e.to_string()),
                Err(e) => Some(e.to_string()),
            };
            if let Some(e) = problem {
                crate::lab::eprintln_visible(&format!("rvs-lab: {what} {name}: {e}"));
            }
        });
        lock(&self.background).push(Background {
            label: format!("{label} {}", rs.name),
            stop,
            thread: Some(thread),
        });
        ready_rx
            .recv_timeout(READY_TIMEOUT)
            .map_err(|_| LabError::invalid(format!("{label} thread in {} did not start", rs.name)))
    }

    /// Stops real server `name`'s nginx (as an administrator would, or a crash):
    /// health checks should take the server out.
    pub fn stop_nginx(&self, name: &str) -> Result<()> {
        let label = format!("nginx-{name}");
        let handle = lock(&self.processes)
            .iter()
            .find(|t| t.handle.label == label)
            .map(|t| t.handle.clone())
            .ok_or_else(|| LabError::invalid(format!("no running nginx for {name}")))?;
        self.stop(&handle, Duration::from_secs(5));
        if let Some(rs) = self.real_servers.iter().find(|r| r.name == name) {
            if let Some(files) = &rs.nginx {
                let _ = fs::remove_file(&files.pid_file);
            }
        }
        Ok(())
    }

    /// Starts real server `name`'s nginx again (after [`Lab::stop_nginx`]).
    pub fn start_nginx_again(&self, name: &str) -> Result<()> {
        let rs = self
            .real_servers
            .iter()
            .find(|r| r.name == name)
            .ok_or_else(|| LabError::invalid(format!("no real server {name}")))?;
        let files = rs
            .nginx
            .as_ref()
            .ok_or_else(|| LabError::invalid(format!("{name} has no nginx")))?;
        let args = files.command();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let handle = self.spawn_labeled(&format!("nginx-{name}"), &rs.ns, &args)?;
        self.wait_ready(&handle, &format!("nginx in {name}"), || {
            files.pid_file.exists()
        })
    }

    fn start_nginx(&mut self, i: usize) -> Result<()> {
        let rs = &self.real_servers[i];
        let files =
            crate::nginx::prepare(&rs.dir, &rs.name, self.spec.ipv6, self.spec.big_file_mib)?;
        let args = files.command();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (ns, label) = (rs.ns.clone(), format!("nginx-{}", rs.name));
        let handle = self.spawn_labeled(&label, &ns, &args)?;
        // nginx writes its pid file after its listening sockets are open.
        self.wait_ready(&handle, &format!("nginx in {}", rs.name), || {
            files.pid_file.exists()
        })?;
        self.real_servers[i].nginx = Some(files);
        Ok(())
    }

    fn start_udp_echo_process(&self, rs: &RealServer, binary: &str) -> Result<()> {
        let port = UDP_PORT.to_string();
        let handle = self.spawn_labeled(
            &format!("udp-echo-{}", rs.name),
            &rs.ns,
            &[binary, "udp-echo", "--port", &port, "--name", &rs.name],
        )?;
        self.wait_ready(&handle, &format!("UDP responder in {}", rs.name), || {
            fs::read_to_string(&handle.log)
                .map(|s| s.contains(udp_echo::READY_LINE))
                .unwrap_or(false)
        })
    }

    /// Without the rvs-lab binary (e.g. in another crate's tests), the responder runs
    /// as a thread of this process inside the server's namespace.
    fn start_udp_echo_thread(&self, rs: &RealServer) -> Result<()> {
        self.start_responder_thread(rs, "UDP responder", |name, stop, ready| {
            udp_echo::serve_with(UDP_PORT, name, stop, ready)
        })
    }

    fn start_tunnel_agents(&mut self) -> Result<()> {
        let mut vips = vec![std::net::IpAddr::V4(VIP)];
        if self.spec.ipv6 {
            vips.push(std::net::IpAddr::V6(VIP6));
        }
        match self.spec.tunnel_agent.clone() {
            AgentMode::None => Ok(()),
            AgentMode::InProcess => {
                for i in 0..self.real_servers.len() {
                    let counters = self.start_agent_thread(&self.real_servers[i].clone(), &vips)?;
                    self.agent_counters[i] = Some(counters);
                }
                Ok(())
            }
            AgentMode::Command(template) => {
                let vip_args = vips
                    .iter()
                    .map(|v| format!("--vip {v}"))
                    .collect::<Vec<_>>()
                    .join(" ");
                for rs in self.real_servers.clone() {
                    let vars =
                        HashMap::from([("vip_args", vip_args.clone()), ("name", rs.name.clone())]);
                    let args = expand_template(&template, &vars)?;
                    let args: Vec<&str> = args.iter().map(String::as_str).collect();
                    let handle =
                        self.spawn_labeled(&format!("tunnel-agent-{}", rs.name), &rs.ns, &args)?;
                    let ns = rs.ns.clone();
                    self.wait_ready(&handle, &format!("tunnel agent in {}", rs.name), || {
                        crate::netns::ip(&[
                            "-n",
                            &ns,
                            "link",
                            "show",
                            "dev",
                            rvs_realserver::DEFAULT_TUN_NAME,
                        ])
                        .is_ok()
                    })?;
                }
                Ok(())
            }
        }
    }

    fn start_agent_thread(
        &self,
        rs: &RealServer,
        vips: &[std::net::IpAddr],
    ) -> Result<Arc<rvs_realserver::TunnelCounters>> {
        let mut cfg = TunnelAgentConfig::new(vips.to_vec());
        cfg.vip_device = VipDevice::Loopback;
        let (ready_tx, ready_rx) = mpsc::channel();
        let ns = rs.ns.clone();
        let name = rs.name.clone();
        let thread = std::thread::spawn(move || {
            let outcome = in_netns(&ns, || match TunnelAgent::new(&cfg) {
                Ok(mut agent) => {
                    let _ = ready_tx.send(Ok((agent.stop_handle(), agent.counters())));
                    agent.run().map_err(|e| e.to_string())
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e.to_string()));
                    Ok(())
                }
            });
            let problem = match outcome {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(e),
                Err(e) => Some(e.to_string()),
            };
            if let Some(e) = problem {
                crate::lab::eprintln_visible(&format!("rvs-lab: tunnel agent {name}: {e}"));
            }
        });
        let (stop, counters) = match ready_rx.recv_timeout(READY_TIMEOUT) {
            Ok(Ok(pair)) => pair,
            Ok(Err(e)) => {
                let _ = thread.join();
                return Err(LabError::invalid(format!(
                    "tunnel agent in {}: {e}",
                    rs.name
                )));
            }
            Err(_) => {
                // The thread may still be setting up: let teardown stop it through a
                // flag it will never see, so detach it rather than block.
                return Err(LabError::invalid(format!(
                    "tunnel agent in {} did not start",
                    rs.name
                )));
            }
        };
        lock(&self.background).push(Background {
            label: format!("tunnel agent {}", rs.name),
            stop,
            thread: Some(thread),
        });
        Ok(counters)
    }

    /// Waits until `ready()` or [`READY_TIMEOUT`]; fails early, with the log's end, if
    /// the process exits.
    pub(crate) fn wait_ready(
        &self,
        handle: &ProcessHandle,
        what: &str,
        mut ready: impl FnMut() -> bool,
    ) -> Result<()> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if ready() {
                return Ok(());
            }
            if !self.is_running(handle) {
                return Err(LabError::invalid(format!(
                    "{what} exited before it was ready:\n{}",
                    tail(&self.log_of(handle), 10)
                )));
            }
            if Instant::now() > deadline {
                return Err(LabError::Timeout {
                    what: format!("{what} to become ready (log {})", handle.log.display()),
                    after: READY_TIMEOUT,
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
