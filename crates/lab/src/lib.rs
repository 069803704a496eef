//! `rvs-lab`: network-namespace labs for rvs on one machine, for the end-to-end tests
//! and for `rvs-lab demo`.
//!
//! A [`Lab`] is a topology for one forwarding method ([`Method`]): a client, a director
//! (or two, for failover: [`LabSpec::directors`]), a router where the method needs one,
//! a switch (Linux bridges) and real servers (`rs1`..), each in its own namespace named
//! `rvs-<pid>-<n>-<role>`, so that labs of parallel tests never meet. Real servers run
//! nginx (`GET /` answers `rs1\n`, `/big` for drain tests, an access log with the client
//! address seen), a UDP responder on port 5000 that answers its name and a TCP echo
//! responder on port 7000; in the tunnel topology they run the decapsulating agent of
//! `rvs-realserver`. Everything is torn down when the lab is dropped, also when
//! a test panics. Only documentation address ranges are used; see [`topology`] for the
//! address plan.
//!
//! ```no_run
//! use rvs_lab::{needs_root, Lab, LabSpec, Method};
//!
//! # fn main() -> rvs_lab::Result<()> {
//! if needs_root() {
//!     return Ok(());
//! }
//! let lab = Lab::build(&LabSpec::new(Method::Nat))?;
//! lab.start_director(None)?; // {rvsd} -i eth0 -i eth1 --socket {sock}
//! lab.rvsadm(&["-A", "-t", "192.0.2.10:80", "-s", "rr"])?;
//! for rs in lab.real_servers() {
//!     let rip = format!("{}:80", rs.ip);
//!     lab.rvsadm(&["-a", "-t", "192.0.2.10:80", "-r", &rip, "-m", "-w", "1"])?;
//! }
//! let capture = lab.capture_direction(&lab.real_servers()[0].ns, "eth0", "tcp port 80",
//!     rvs_lab::Direction::In)?;
//! assert_eq!(lab.curl(&lab.url("/"))?.trim().len(), 3); // "rs1", "rs2" or "rs3"
//! let report = rvs_lab::verify_pcap_checksums(&capture.stop()?)?;
//! assert_eq!(report.bad(), 0, "{report}");
//! # Ok(())
//! # }
//! ```
//!
//! Modules: [`spec`] (what to build, addresses), [`topology`] (how), [`capture`]
//! (tcpdump, tshark checksum checks, pcap frame counts), [`binaries`] (finding
//! rvsd/rvsadm, command templates), [`standin`] (kernel stand-ins for the director),
//! [`udp_echo`] and [`tcp_echo`] (the responders), [`traffic`] (client workloads for
//! failover tests), [`vrrp_conf`] (the directors' keepalived.conf in a two-director
//! lab), [`nginx`], [`netns`], [`process`] (bounded commands).
//!
//! Needs root, iproute2, nftables, ethtool, nginx, curl, tcpdump and tshark, and
//! keepalived for the interoperability tests (`scripts/deps.sh`). Tests call [`needs_root`] first and skip, visibly, without.

#![cfg(target_os = "linux")]

pub mod binaries;
pub mod capture;
mod director;
pub mod error;
mod lab;
pub mod netns;
pub mod nginx;
pub mod process;
mod services;
pub mod spec;
pub mod standin;
pub mod tcp_echo;
pub mod topology;
pub mod traffic;
pub mod udp_echo;
pub mod vrrp_conf;

pub use binaries::{expand_template, locate, Binary};
pub use capture::{
    pcap_frame_totals, verify_pcap_checksums, Capture, CheckReport, Direction, FrameTotals,
};
pub use director::{DIRECTOR_READY_TIMEOUT, NAT_DIRECTOR_TEMPLATE, ONE_ARM_DIRECTOR_TEMPLATE};
pub use error::{LabError, Result};
pub use lab::{KeptLab, Lab, RealServer, CURL_MAX_TIME_SECS, EXEC_TIMEOUT};
pub use netns::{cleanup_stale, in_netns, needs_root};
pub use process::ProcessHandle;
pub use spec::{
    director_client_ip, director_server_ip, AgentMode, LabSpec, Method, CLIENT_GW, CLIENT_IP,
    CLIENT_IP6, DIP, RVSD_AGENT_TEMPLATE, RVS_LAB_AGENT_TEMPLATE, TCP_ECHO_PORT, UDP_PORT, VIP,
    VIP6,
};
pub use traffic::{
    DownloadReport, EchoLine, EchoReport, EchoSession, RequestOutcome, RequestStream, SlowDownload,
    StreamReport,
};
pub use vrrp_conf::{DirectorConf, InitialState};
