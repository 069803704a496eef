//! Packet captures in a lab namespace (tcpdump writing a pcap file) and checksum
//! verification of a capture with tshark.
//!
//! Mind what a veth delivers: a packet sent by a local stack with transmit checksum
//! offload on carries only a partial TCP/UDP checksum (the pseudo-header sum), and keeps
//! it through kernel forwarding, so it shows as "bad" in a capture. Capture what the
//! director sent (inbound on a real server or the client), and let the hosts compute full
//! checksums ([`crate::LabSpec::hosts_full_checksums`]) when the packets checked are the
//! kernel's own.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::{tail, LabError, Result};
use crate::process::{run_with_timeout, terminate};

/// Longest wait for tcpdump to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait for tcpdump to flush and exit after SIGTERM.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// Time bound of one tshark run.
const TSHARK_TIMEOUT: Duration = Duration::from_secs(120);

/// The count of the last "N packets captured" statistics line tcpdump printed.
fn last_captured_count(log: &str) -> Option<u64> {
    log.lines().rev().find_map(|line| {
        let at = line
            .find(" packets captured")
            .or_else(|| line.find(" packet captured"))?;
        line[..at]
            .rsplit(|c: char| !c.is_ascii_digit())
            .next()?
            .parse()
            .ok()
    })
}

/// Which packets of an interface to capture.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Direction {
    /// Received and sent.
    #[default]
    Both,
    /// Received only (tcpdump `-Q in`).
    In,
    /// Sent only (tcpdump `-Q out`).
    Out,
}

/// A running tcpdump. [`Capture::stop`] flushes the file and returns its path; dropping
/// the capture kills tcpdump.
#[derive(Debug)]
pub struct Capture {
    child: Option<Child>,
    path: PathBuf,
    log: PathBuf,
}

impl Capture {
    /// Starts `tcpdump -i IFACE -w FILE` in namespace `ns`, with `filter` (pcap syntax,
    /// may be empty), and waits until it listens.
    pub(crate) fn start(
        ns: &str,
        iface: &str,
        filter: &str,
        direction: Direction,
        path: PathBuf,
    ) -> Result<Capture> {
        let log = path.with_extension("tcpdump.log");
        let log_file =
            fs::File::create(&log).map_err(|e| LabError::io(log.display().to_string(), e))?;
        let log_err = log_file
            .try_clone()
            .map_err(|e| LabError::io(log.display().to_string(), e))?;
        let mut cmd = Command::new("ip");
        // --immediate-mode: hand each packet over at once (no ring-block timeout);
        // -U: write each packet at once; -Z root: keep the right to write into the
        // lab's directory.
        cmd.args([
            "netns",
            "exec",
            ns,
            "tcpdump",
            "-n",
            "--immediate-mode",
            "-U",
            "-s",
            "0",
            "-Z",
            "root",
            "-i",
            iface,
        ]);
        match direction {
            Direction::Both => {}
            Direction::In => {
                cmd.args(["-Q", "in"]);
            }
            Direction::Out => {
                cmd.args(["-Q", "out"]);
            }
        }
        cmd.arg("-w").arg(&path);
        if !filter.trim().is_empty() {
            cmd.arg(filter);
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(log_file)
            .stderr(log_err)
            .spawn()
            .map_err(|e| LabError::io("start tcpdump", e))?;
        let mut capture = Capture {
            child: Some(child),
            path,
            log,
        };
        capture.wait_listening()?;
        Ok(capture)
    }

    fn wait_listening(&mut self) -> Result<()> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let text = fs::read_to_string(&self.log).unwrap_or_default();
            if text.contains("listening on") {
                return Ok(());
            }
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(_)) = child.try_wait() {
                    self.child = None;
                    return Err(LabError::invalid(format!(
                        "tcpdump exited: {}",
                        tail(&text, 5)
                    )));
                }
            }
            if Instant::now() > deadline {
                return Err(LabError::Timeout {
                    what: "tcpdump to start listening".to_owned(),
                    after: START_TIMEOUT,
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The pcap file being written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Stops tcpdump and returns the pcap file's path. Packets that passed the
    /// interface before the call are in the file: tcpdump would drop what it has not
    /// read yet when told to stop, so first its "captured" count (asked for with
    /// SIGUSR1) must stop growing (bounded: 2 s).
    pub fn stop(mut self) -> Result<PathBuf> {
        if let Some(mut child) = self.child.take() {
            let mut last = None;
            for _ in 0..40 {
                if !matches!(child.try_wait(), Ok(None)) {
                    break;
                }
                crate::process::signal(child.id(), libc::SIGUSR1);
                std::thread::sleep(Duration::from_millis(50));
                let now = last_captured_count(&fs::read_to_string(&self.log).unwrap_or_default());
                if now.is_some() && now == last {
                    break;
                }
                last = now;
            }
            terminate(&mut child, STOP_GRACE);
        }
        Ok(self.path.clone())
    }

    /// tcpdump's messages so far (start, statistics).
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            terminate(&mut child, STOP_GRACE);
        }
    }
}

/// Checksum verdicts of a capture, per protocol.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CheckReport {
    /// Packets in the file.
    pub packets: u64,
    /// Checksums found good (IPv4 header, TCP, UDP, ICMP, ICMPv6; tunnelled packets have
    /// more than one).
    pub good: u64,
    pub bad_ip: u64,
    pub bad_tcp: u64,
    pub bad_udp: u64,
    pub bad_icmp: u64,
    /// Frame numbers of the first bad packets (at most 20), to look at with tshark.
    pub first_bad_frames: [u64; 20],
    /// How many entries of `first_bad_frames` are used.
    pub first_bad_count: usize,
}

impl CheckReport {
    /// Bad checksums of any kind.
    pub fn bad(&self) -> u64 {
        self.bad_ip + self.bad_tcp + self.bad_udp + self.bad_icmp
    }

    /// The frame numbers of the first bad packets.
    pub fn bad_frames(&self) -> &[u64] {
        &self.first_bad_frames[..self.first_bad_count]
    }

    fn note_bad_frame(&mut self, frame: u64) {
        if self.bad_frames().last() == Some(&frame) {
            return;
        }
        if self.first_bad_count < self.first_bad_frames.len() {
            self.first_bad_frames[self.first_bad_count] = frame;
            self.first_bad_count += 1;
        }
    }
}

impl std::fmt::Display for CheckReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} packets, {} good checksums, {} bad (ip {}, tcp {}, udp {}, icmp {})",
            self.packets,
            self.good,
            self.bad(),
            self.bad_ip,
            self.bad_tcp,
            self.bad_udp,
            self.bad_icmp
        )?;
        if self.first_bad_count > 0 {
            write!(f, "; first bad frames {:?}", self.bad_frames())?;
        }
        Ok(())
    }
}

/// The tshark fields read, in column order after `frame.number`.
const FIELDS: [&str; 5] = [
    "ip.checksum.status",
    "tcp.checksum.status",
    "udp.checksum.status",
    "icmp.checksum.status",
    "icmpv6.checksum.status",
];

/// Counts the bad checksums in a pcap file with tshark (IP, TCP and UDP checking on).
pub fn verify_pcap_checksums(path: &Path) -> Result<CheckReport> {
    let file = path.display().to_string();
    let mut args: Vec<String> = [
        "tshark",
        "-n",
        "-r",
        &file,
        "-o",
        "ip.check_checksum:TRUE",
        "-o",
        "tcp.check_checksum:TRUE",
        "-o",
        "udp.check_checksum:TRUE",
        "-T",
        "fields",
        "-E",
        "separator=/t",
        "-E",
        "occurrence=a",
        "-E",
        "aggregator=,",
        "-e",
        "frame.number",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    for field in FIELDS {
        args.push("-e".to_owned());
        args.push(field.to_owned());
    }
    let out = run_with_timeout(&args, TSHARK_TIMEOUT)?;
    if !out.status.success() {
        crate::process::check_output(&args, &out)?;
    }
    Ok(parse_tshark_fields(&String::from_utf8_lossy(&out.stdout)))
}

/// Whether a checksum status value (numeric or by name) means good or bad; `None` for
/// unverified or absent.
fn status_verdict(value: &str) -> Option<bool> {
    match value.trim() {
        "1" | "Good" => Some(true),
        "0" | "Bad" => Some(false),
        _ => None,
    }
}

/// Parses tshark's `-T fields` output: frame number, then the status fields of
/// [`FIELDS`] (several values per field joined by commas for tunnelled packets).
pub(crate) fn parse_tshark_fields(text: &str) -> CheckReport {
    let mut report = CheckReport::default();
    for line in text.lines() {
        let mut cols = line.split('\t');
        let Some(frame) = cols.next().and_then(|f| f.trim().parse::<u64>().ok()) else {
            continue;
        };
        report.packets += 1;
        for (i, col) in cols.enumerate().take(5) {
            for value in col.split(',') {
                match status_verdict(value) {
                    Some(true) => report.good += 1,
                    Some(false) => {
                        match i {
                            0 => report.bad_ip += 1,
                            1 => report.bad_tcp += 1,
                            2 => report.bad_udp += 1,
                            _ => report.bad_icmp += 1,
                        }
                        report.note_bad_frame(frame);
                    }
                    None => {}
                }
            }
        }
    }
    report
}

/// Sizes of the frames in a capture: how many and how many bytes on the wire.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FrameTotals {
    pub frames: u64,
    /// Sum of the frames' original lengths (Ethernet header included).
    pub bytes: u64,
}

/// Counts the frames of a classic pcap file (what tcpdump writes) and their bytes.
pub fn pcap_frame_totals(path: &Path) -> Result<FrameTotals> {
    let bytes = fs::read(path).map_err(|e| LabError::io(path.display().to_string(), e))?;
    parse_pcap_totals(&bytes).map_err(|why| LabError::invalid(format!("{}: {why}", path.display())))
}

/// The classic pcap format: a 24-byte file header whose magic gives the byte order,
/// then per frame a 16-byte header (seconds, fraction, captured length, original
/// length) and the captured bytes. A file cut short in its last frame (tcpdump killed
/// mid-write) counts the frames before it.
pub fn parse_pcap_totals(data: &[u8]) -> std::result::Result<FrameTotals, String> {
    const FILE_HEADER: usize = 24;
    const FRAME_HEADER: usize = 16;
    let magic = data.get(..4).ok_or("shorter than a pcap header")?;
    let little = match magic {
        [0xd4, 0xc3, 0xb2, 0xa1] | [0x4d, 0x3c, 0xb2, 0xa1] => true,
        [0xa1, 0xb2, 0xc3, 0xd4] | [0xa1, 0xb2, 0x3c, 0x4d] => false,
        _ => return Err("not a classic pcap file (unknown magic)".to_owned()),
    };
    let word = |at: usize| -> Option<u32> {
        let b: [u8; 4] = data.get(at..at + 4)?.try_into().ok()?;
        Some(if little {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    };
    if data.len() < FILE_HEADER {
        return Err("shorter than a pcap header".to_owned());
    }
    let mut totals = FrameTotals::default();
    let mut at = FILE_HEADER;
    while let (Some(captured), Some(original)) = (word(at + 8), word(at + 12)) {
        let end = (at + FRAME_HEADER).saturating_add(captured as usize);
        if end > data.len() {
            break;
        }
        totals.frames += 1;
        totals.bytes += u64::from(original);
        at = end;
    }
    Ok(totals)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pcap(frames: &[(u32, u32)]) -> Vec<u8> {
        let mut v = vec![0xd4, 0xc3, 0xb2, 0xa1];
        v.extend_from_slice(&[2, 0, 4, 0]);
        v.extend_from_slice(&[0; 12]);
        v.extend_from_slice(&[1, 0, 0, 0]);
        for &(captured, original) in frames {
            v.extend_from_slice(&[0; 8]);
            v.extend_from_slice(&captured.to_le_bytes());
            v.extend_from_slice(&original.to_le_bytes());
            v.extend(std::iter::repeat_n(0u8, captured as usize));
        }
        v
    }

    #[test]
    fn pcap_frames_and_bytes_are_counted() {
        let data = pcap(&[(60, 60), (100, 1514), (42, 42)]);
        assert_eq!(
            parse_pcap_totals(&data).unwrap(),
            FrameTotals {
                frames: 3,
                bytes: 1616
            }
        );
        // Cut in the last frame: the first two count.
        let cut = &data[..data.len() - 10];
        assert_eq!(parse_pcap_totals(cut).unwrap().frames, 2);
        assert!(parse_pcap_totals(b"nope").is_err());
        assert!(parse_pcap_totals(&data[..10]).is_err());
    }

    proptest::proptest! {
        /// Any bytes: an answer or an error, never a panic.
        #[test]
        fn pcap_parser_takes_any_bytes(tail in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            let mut data = pcap(&[]);
            data.extend_from_slice(&tail);
            let t = parse_pcap_totals(&data).unwrap();
            proptest::prop_assert!(t.frames as usize <= tail.len() / 16);
            let _ = parse_pcap_totals(&tail);
        }
    }

    #[test]
    fn tshark_fields_are_counted_per_protocol() {
        let text = "1\t1\t1\t\t\t\n\
                    2\t1\t0\t\t\t\n\
                    3\t1,1\t\t1\t\t\n\
                    4\t\t\t\t\t1\n\
                    5\t0,1\t\t0\t\t\n\
                    6\t2\t2\t\t\t\n\
                    garbage line\n";
        let r = parse_tshark_fields(text);
        assert_eq!(r.packets, 6);
        assert_eq!(r.bad_tcp, 1);
        assert_eq!(r.bad_ip, 1);
        assert_eq!(r.bad_udp, 1);
        assert_eq!(r.bad_icmp, 0);
        assert_eq!(r.bad(), 3);
        assert_eq!(r.good, 8);
        assert_eq!(r.bad_frames(), &[2, 5]);
        assert!(r.to_string().contains("3 bad (ip 1, tcp 1, udp 1, icmp 0)"));
    }

    #[test]
    fn captured_counts_are_read_from_tcpdump_statistics() {
        let log = "tcpdump: listening on eth0, link-type EN10MB (Ethernet)\n\
                   tcpdump: 3 packets captured, 4 packets received by filter, 0 packets dropped by kernel\n\
                   tcpdump: 1 packet captured, 4 packets received by filter, 0 packets dropped by kernel\n";
        assert_eq!(last_captured_count(log), Some(1));
        assert_eq!(last_captured_count("tcpdump: listening on eth0\n"), None);
        assert_eq!(last_captured_count("12 packets captured\n"), Some(12));
    }

    #[test]
    fn named_status_values_are_understood() {
        let r = parse_tshark_fields("7\tGood\tBad\t\t\t\n");
        assert_eq!((r.good, r.bad_tcp), (1, 1));
    }

    proptest::proptest! {
        /// Whatever tshark or tcpdump print, the parsers neither panic nor count more
        /// packets than there are lines.
        #[test]
        fn parsers_take_any_text(text in "[0-9a-zA-Z,\t\n .:]{0,400}") {
            let r = parse_tshark_fields(&text);
            proptest::prop_assert!(r.packets as usize <= text.lines().count());
            proptest::prop_assert!(r.bad_frames().len() <= 20);
            let _ = last_captured_count(&text);
        }
    }

    #[test]
    fn the_bad_frame_list_is_bounded() {
        let text: String = (1..=50).map(|i| format!("{i}\t0\t\t\t\t\n")).collect();
        let r = parse_tshark_fields(&text);
        assert_eq!(r.bad_ip, 50);
        assert_eq!(r.bad_frames().len(), 20);
    }
}
