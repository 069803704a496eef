//! Client workloads that run in the background while a test breaks something (a
//! director failover): a rate-limited download with its progress sampled
//! ([`SlowDownload`]), an interactive line-by-line session with the real servers' TCP
//! echo responders ([`EchoSession`]), and a bounded stream of new requests
//! ([`RequestStream`]). Each is bounded in count and time and stops by itself; each
//! keeps timestamps so a test can say when traffic stopped and when it flowed again.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::ExitStatus;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::error::{LabError, Result};
use crate::lab::{lock, Lab};
use crate::netns::in_netns;
use crate::process::{run_with_timeout, ProcessHandle};

/// How often a download's progress is sampled.
const SAMPLE_INTERVAL: Duration = Duration::from_millis(20);

// ---------------------------------------------------------------------- download

/// A curl download from the client (slow: rate-limited by the server), its body written
/// to a file whose size is sampled to find the longest stall. Start with [`Lab::start_slow_download`].
#[derive(Debug)]
pub struct SlowDownload {
    handle: ProcessHandle,
    file: PathBuf,
    started: Instant,
    stop: Arc<AtomicBool>,
    sampler: Option<JoinHandle<Progress>>,
}

#[derive(Debug, Default)]
struct Progress {
    longest_stall: Duration,
    stall_started: Option<Instant>,
}

/// How a download ended.
#[derive(Debug, Clone)]
pub struct DownloadReport {
    /// curl's exit status (`None`: killed at the time limit).
    pub status: Option<ExitStatus>,
    /// Bytes written.
    pub bytes: u64,
    /// Start to end.
    pub elapsed: Duration,
    /// Longest time the body did not grow while the download ran.
    pub longest_stall: Duration,
    /// When that stall began.
    pub stall_started: Option<Instant>,
    /// curl's `-w` line (`HTTP_CODE SIZE`) and any error it printed.
    pub curl_output: String,
}

impl DownloadReport {
    /// curl exited 0 and wrote exactly `expected` bytes.
    pub fn complete(&self, expected: u64) -> bool {
        self.status.is_some_and(|s| s.success()) && self.bytes == expected
    }
}

impl Lab {
    /// Starts `curl URL` in the client's namespace, bounded by `max_time`, writing the
    /// body into the lab's directory, and samples its growth until `expected_bytes`
    /// arrived. Slow it down on the server side: the real servers' nginx serves
    /// `/big?rate=700k` at that rate (curl 7.88's own `--limit-rate` is not honoured for
    /// these transfers: 3 MiB at `--limit-rate 700k` took 0.1 s here).
    pub fn start_slow_download(
        &self,
        url: &str,
        expected_bytes: u64,
        max_time: Duration,
    ) -> Result<SlowDownload> {
        let n = self.spawned.fetch_add(1, Ordering::Relaxed);
        let file = self.dir.join(format!("download-{n}.body"));
        let file_arg = file.display().to_string();
        let max = max_time.as_secs().max(1).to_string();
        let args = [
            "curl",
            "-sS",
            "-g",
            "--max-time",
            &max,
            "-o",
            &file_arg,
            "-w",
            "%{http_code} %{size_download}\\n",
            url,
        ];
        let started = Instant::now();
        let handle = self.spawn_labeled("download", &self.client, &args)?;
        let stop = Arc::new(AtomicBool::new(false));
        let (flag, path) = (Arc::clone(&stop), file.clone());
        let sampler = std::thread::spawn(move || sample_progress(&path, expected_bytes, &flag));
        Ok(SlowDownload {
            handle,
            file,
            started,
            stop,
            sampler: Some(sampler),
        })
    }
}

fn file_len(path: &PathBuf) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

fn sample_progress(path: &PathBuf, expected: u64, stop: &AtomicBool) -> Progress {
    let mut p = Progress::default();
    let mut last = (file_len(path), Instant::now());
    while !stop.load(Ordering::Relaxed) && last.0 < expected {
        std::thread::sleep(SAMPLE_INTERVAL);
        let len = file_len(path);
        let now = Instant::now();
        if len != last.0 {
            last = (len, now);
        } else if last.0 > 0 && now - last.1 > p.longest_stall {
            // Stalls count once the body started to arrive.
            p.longest_stall = now - last.1;
            p.stall_started = Some(last.1);
        }
    }
    p
}

impl SlowDownload {
    /// Bytes written so far.
    pub fn bytes_so_far(&self) -> u64 {
        file_len(&self.file)
    }

    /// Waits at most `limit` for curl to end (killing it then) and reports.
    pub fn finish(mut self, lab: &Lab, limit: Duration) -> DownloadReport {
        let status = lab.wait(&self.handle, limit).or_else(|| {
            lab.kill(&self.handle);
            None
        });
        self.stop.store(true, Ordering::Relaxed);
        let progress = self
            .sampler
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default();
        let report = DownloadReport {
            status,
            bytes: file_len(&self.file),
            elapsed: self.started.elapsed(),
            longest_stall: progress.longest_stall,
            stall_started: progress.stall_started,
            curl_output: lab.log_of(&self.handle).trim().to_owned(),
        };
        let _ = std::fs::remove_file(&self.file);
        report
    }
}

impl Drop for SlowDownload {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.sampler.take() {
            let _ = t.join();
        }
    }
}

// ---------------------------------------------------------------------- echo

/// One line of an echo session: when it was sent and when its echo came back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EchoLine {
    pub sent: Instant,
    pub answered: Instant,
}

/// An interactive session from the client: a line every `interval` over one TCP
/// connection, each echo checked and timed. Start with [`Lab::start_echo_session`].
#[derive(Debug)]
pub struct EchoSession {
    stop: Arc<AtomicBool>,
    lines: Arc<Mutex<Vec<EchoLine>>>,
    thread: Option<JoinHandle<Option<String>>>,
    started: Instant,
}

/// How an echo session went.
#[derive(Debug, Clone)]
pub struct EchoReport {
    /// Lines answered correctly, in order.
    pub lines: Vec<EchoLine>,
    /// Why the session ended early (reset, wrong answer, no answer in time), if it did.
    pub error: Option<String>,
    /// Longest time between two consecutive answers (from the start for the first).
    pub longest_gap: Duration,
    /// When the answer before that gap came.
    pub gap_started: Option<Instant>,
    /// Longest time a line waited for its echo.
    pub longest_rtt: Duration,
}

impl Lab {
    /// Connects from the client to `addr` (a VIP and the echo port) and starts the
    /// session: up to `max_lines` lines, one every `interval`; a line whose echo has
    /// not come back within `answer_timeout` ends the session with an error.
    pub fn start_echo_session(
        &self,
        addr: SocketAddr,
        interval: Duration,
        max_lines: usize,
        answer_timeout: Duration,
    ) -> Result<EchoSession> {
        let stream = in_netns(&self.client, || {
            TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        })?
        .map_err(|e| LabError::io(format!("echo session to {addr}"), e))?;
        stream
            .set_read_timeout(Some(answer_timeout))
            .and_then(|()| stream.set_nodelay(true))
            .map_err(|e| LabError::io("echo session socket", e))?;
        let stop = Arc::new(AtomicBool::new(false));
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (flag, log) = (Arc::clone(&stop), Arc::clone(&lines));
        let started = Instant::now();
        let thread =
            std::thread::spawn(move || run_echo(stream, interval, max_lines, &flag, &log).err());
        Ok(EchoSession {
            stop,
            lines,
            thread: Some(thread),
            started,
        })
    }
}

fn run_echo(
    stream: TcpStream,
    interval: Duration,
    max_lines: usize,
    stop: &AtomicBool,
    log: &Mutex<Vec<EchoLine>>,
) -> std::result::Result<(), String> {
    let mut reader = BufReader::new(stream.try_clone().map_err(|e| e.to_string())?);
    let mut writer = stream;
    let mut answer = String::new();
    for n in 0..max_lines {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let sent = Instant::now();
        let line = format!("line {n} of an interactive session\n");
        writer
            .write_all(line.as_bytes())
            .map_err(|e| format!("line {n}: send: {e}"))?;
        answer.clear();
        match reader.read_line(&mut answer) {
            Ok(0) => return Err(format!("line {n}: the connection was closed")),
            Ok(_) if answer == line => {}
            Ok(_) => return Err(format!("line {n}: wrong echo {answer:?}")),
            Err(e) => {
                return Err(format!(
                    "line {n}: no echo after {:.1} s: {e}",
                    sent.elapsed().as_secs_f64()
                ))
            }
        }
        lock(log).push(EchoLine {
            sent,
            answered: Instant::now(),
        });
        let next = sent + interval;
        let now = Instant::now();
        if next > now {
            std::thread::sleep(next - now);
        }
    }
    // A clean end: our FIN, then theirs.
    let _ = writer.shutdown(std::net::Shutdown::Write);
    answer.clear();
    let _ = reader.read_line(&mut answer);
    Ok(())
}

impl EchoSession {
    /// The first echo that came back after `t`, if any yet.
    pub fn first_answer_after(&self, t: Instant) -> Option<Instant> {
        lock(&self.lines)
            .iter()
            .map(|l| l.answered)
            .find(|a| *a > t)
    }

    /// Lines answered so far.
    pub fn answered(&self) -> usize {
        lock(&self.lines).len()
    }

    /// Whether the session still runs (no error, lines left).
    pub fn is_running(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// Ends the session (after the line in flight) and reports.
    pub fn finish(mut self) -> EchoReport {
        self.stop.store(true, Ordering::Relaxed);
        let error = match self.thread.take().map(JoinHandle::join) {
            Some(Ok(e)) => e,
            Some(Err(_)) => Some("the session thread panicked".to_owned()),
            None => None,
        };
        let lines = lock(&self.lines).clone();
        let mut longest_gap = Duration::ZERO;
        let mut gap_started = None;
        let mut previous = self.started;
        let mut longest_rtt = Duration::ZERO;
        for l in &lines {
            if l.answered - previous > longest_gap {
                longest_gap = l.answered - previous;
                gap_started = Some(previous);
            }
            previous = l.answered;
            longest_rtt = longest_rtt.max(l.answered - l.sent);
        }
        EchoReport {
            lines,
            error,
            longest_gap,
            gap_started,
            longest_rtt,
        }
    }
}

impl Drop for EchoSession {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

// ---------------------------------------------------------------------- requests

/// One new request of a [`RequestStream`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestOutcome {
    pub started: Instant,
    pub finished: Instant,
    /// The answer's first line, or curl's error.
    pub result: std::result::Result<String, String>,
}

/// A bounded stream of new requests from the client (`curl` each, one at a time,
/// one every `interval`), every outcome timestamped. Start with
/// [`Lab::start_request_stream`].
#[derive(Debug)]
pub struct RequestStream {
    stop: Arc<AtomicBool>,
    outcomes: Arc<Mutex<Vec<RequestOutcome>>>,
    thread: Option<JoinHandle<()>>,
}

/// How a request stream went.
#[derive(Debug, Clone)]
pub struct StreamReport {
    pub outcomes: Vec<RequestOutcome>,
}

impl StreamReport {
    /// The requests that failed.
    pub fn failures(&self) -> Vec<&RequestOutcome> {
        self.outcomes.iter().filter(|o| o.result.is_err()).collect()
    }

    /// From the start of the first failed request to the end of the last one.
    pub fn failure_window(&self) -> Option<(Instant, Instant)> {
        let f = self.failures();
        Some((f.first()?.started, f.last()?.finished))
    }

    /// The first request started after `t` that succeeded: when it ended.
    pub fn first_success_started_after(&self, t: Instant) -> Option<Instant> {
        self.outcomes
            .iter()
            .find(|o| o.started > t && o.result.is_ok())
            .map(|o| o.finished)
    }
}

impl Lab {
    /// Starts up to `count` requests to `url` from the client, one every `interval`,
    /// for at most `limit`; each is `curl --max-time MAX_TIME` (seconds).
    pub fn start_request_stream(
        &self,
        url: &str,
        count: usize,
        interval: Duration,
        limit: Duration,
        max_time_secs: u32,
    ) -> Result<RequestStream> {
        let stop = Arc::new(AtomicBool::new(false));
        let outcomes = Arc::new(Mutex::new(Vec::new()));
        let (flag, log) = (Arc::clone(&stop), Arc::clone(&outcomes));
        let max_time = max_time_secs.max(1).to_string();
        let args: Vec<String> = [
            "ip",
            "netns",
            "exec",
            &self.client,
            "curl",
            "-sS",
            "-g",
            "--max-time",
            &max_time,
            url,
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        let bound = Duration::from_secs(u64::from(max_time_secs) + 5);
        let thread = std::thread::spawn(move || {
            let began = Instant::now();
            for _ in 0..count {
                if flag.load(Ordering::Relaxed) || began.elapsed() > limit {
                    break;
                }
                let started = Instant::now();
                let result = match run_with_timeout(&args, bound) {
                    Ok(out) if out.status.success() => Ok(String::from_utf8_lossy(&out.stdout)
                        .lines()
                        .next()
                        .unwrap_or("")
                        .to_owned()),
                    Ok(out) => Err(String::from_utf8_lossy(&out.stderr).trim().to_owned()),
                    Err(e) => Err(e.to_string()),
                };
                lock(&log).push(RequestOutcome {
                    started,
                    finished: Instant::now(),
                    result,
                });
                let next = started + interval;
                let now = Instant::now();
                if next > now {
                    std::thread::sleep(next - now);
                }
            }
        });
        Ok(RequestStream {
            stop,
            outcomes,
            thread: Some(thread),
        })
    }

    /// `count` new connections to `url` as fast as one curl process makes them (each
    /// with `Connection: close`), bounded by `limit`; how many answered 200.
    pub fn request_burst(&self, url: &str, count: usize, limit: Duration) -> Result<usize> {
        if count == 0 {
            return Ok(0);
        }
        let sep = if url.contains('?') { '&' } else { '?' };
        let globbed = format!("{url}{sep}n=[1-{count}]");
        let out = self.exec_timeout(
            &self.client,
            &[
                "curl",
                "-s",
                "--max-time",
                "5",
                "-H",
                "Connection: close",
                "-o",
                "/dev/null",
                "-w",
                "\\ncode=%{http_code}\\n",
                &globbed,
            ],
            limit,
        )?;
        Ok(String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| *l == "code=200")
            .count())
    }
}

impl RequestStream {
    /// Outcomes so far.
    pub fn outcomes(&self) -> Vec<RequestOutcome> {
        lock(&self.outcomes).clone()
    }

    /// Whether requests are still being sent.
    pub fn is_running(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// Stops after the request in flight and reports.
    pub fn finish(mut self) -> StreamReport {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        StreamReport {
            outcomes: lock(&self.outcomes).clone(),
        }
    }
}

impl Drop for RequestStream {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(base: Instant, start_ms: u64, ok: bool) -> RequestOutcome {
        RequestOutcome {
            started: base + Duration::from_millis(start_ms),
            finished: base + Duration::from_millis(start_ms + 50),
            result: if ok {
                Ok("rs1".into())
            } else {
                Err("timeout".into())
            },
        }
    }

    #[test]
    fn the_failure_window_spans_the_first_to_the_last_failure() {
        let t = Instant::now();
        let r = StreamReport {
            outcomes: vec![
                outcome(t, 0, true),
                outcome(t, 100, false),
                outcome(t, 200, true),
                outcome(t, 300, false),
                outcome(t, 400, true),
            ],
        };
        assert_eq!(r.failures().len(), 2);
        let (a, b) = r.failure_window().unwrap();
        assert_eq!(a - t, Duration::from_millis(100));
        assert_eq!(b - t, Duration::from_millis(350));
        assert_eq!(
            r.first_success_started_after(t + Duration::from_millis(150))
                .unwrap()
                - t,
            Duration::from_millis(250)
        );
        let clean = StreamReport {
            outcomes: vec![outcome(t, 0, true)],
        };
        assert!(clean.failure_window().is_none());
    }
}
