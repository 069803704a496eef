//! `rvsadm` end to end against a fake daemon: a Unix socket in a private
//! temporary directory, served by a thread that holds a `Config` and answers
//! with `rvs_admin::server`. Nothing here depends on the environment of the
//! test run: the socket path is passed explicitly (in process) or through the
//! child's own environment (for the real binary).

// Test helpers outside #[test] functions may unwrap too.
#![allow(clippy::unwrap_used)]

use std::io::{Cursor, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Command as Process, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use rvs_admin::app::{run, Streams};
use rvs_admin::server::serve_connection;
use rvs_admin::{Config, Names};

/// Most connections one fake daemon serves; keeps its loop bounded.
const MAX_CONNECTIONS: usize = 200;

struct FakeDaemon {
    dir: PathBuf,
    socket: PathBuf,
    config: Arc<Mutex<Config>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FakeDaemon {
    fn start(name: &str) -> FakeDaemon {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "rvsadm-test-{}-{}-{name}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let socket = dir.join("rvsd.sock");
        let listener = UnixListener::bind(&socket).unwrap();
        let config = Arc::new(Mutex::new(Config::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (config, stop) = (config.clone(), stop.clone());
            std::thread::spawn(move || {
                for _ in 0..MAX_CONNECTIONS {
                    let Ok((stream, _)) = listener.accept() else {
                        return;
                    };
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    let mut table = config.lock().unwrap();
                    let _ = serve_connection(stream, &mut table);
                }
            })
        };
        FakeDaemon {
            dir,
            socket,
            config,
            stop,
            thread: Some(thread),
        }
    }

    fn config(&self) -> Config {
        self.config.lock().unwrap().clone()
    }
}

impl Drop for FakeDaemon {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept() so the thread sees the flag.
        let _ = UnixStream::connect(&self.socket);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

struct Outcome {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs rvsadm in process with a command line as typed, against `socket`.
fn rvsadm_with(socket: &Path, line: &str, stdin: &str) -> Outcome {
    let args: Vec<String> = line
        .split_whitespace()
        .skip(1)
        .map(str::to_string)
        .collect();
    assert_eq!(line.split_whitespace().next(), Some("rvsadm"));
    let mut input = Cursor::new(stdin.as_bytes().to_vec());
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let mut streams = Streams {
        stdin: &mut input,
        stdout: &mut out,
        stderr: &mut err,
    };
    let code = run(&args, socket.to_str(), &Names::default(), &mut streams);
    Outcome {
        code,
        stdout: String::from_utf8(out).unwrap(),
        stderr: String::from_utf8(err).unwrap(),
    }
}

fn rvsadm(daemon: &FakeDaemon, line: &str) -> Outcome {
    rvsadm_with(&daemon.socket, line, "")
}

fn ok(daemon: &FakeDaemon, line: &str) -> String {
    let o = rvsadm(daemon, line);
    assert_eq!((o.code, o.stderr.as_str()), (0, ""), "{line}");
    o.stdout
}

const HEADER: &str = "IP Virtual Server version 1.2.1 (size=4096)\n\
                      Prot LocalAddress:Port Scheduler Flags\n  \
                      -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n";

#[test]
fn the_everyday_session() {
    let d = FakeDaemon::start("session");
    assert_eq!(ok(&d, "rvsadm -A -t 192.0.2.10:80 -s wrr"), "");
    assert_eq!(
        ok(&d, "rvsadm -a -t 192.0.2.10:80 -r 198.51.100.11 -g -w 1"),
        ""
    );
    // As with ipvsadm, adding the same service again is refused (exit 255).
    let again = rvsadm(&d, "rvsadm -A -t 192.0.2.10:80 -p 600");
    assert_eq!(
        (again.code, again.stderr.as_str(), again.stdout.as_str()),
        (255, "Service already exists\n", "")
    );
    assert_eq!(
        ok(&d, "rvsadm -a -t 192.0.2.10:80 -r 198.51.100.12 -m -w 100"),
        ""
    );
    let listing = ok(&d, "rvsadm -L -n");
    assert_eq!(
        listing,
        format!(
            "{HEADER}TCP  192.0.2.10:80 wrr\n  \
             -> 198.51.100.11:80             Route   1      0          0         \n  \
             -> 198.51.100.12:80             Masq    100    0          0         \n"
        )
    );
    assert_eq!(ok(&d, "rvsadm -C"), "");
    assert_eq!(ok(&d, "rvsadm -L -n"), HEADER);
    assert!(d.config().services.is_empty());
}

#[test]
fn persistent_service() {
    let d = FakeDaemon::start("persistent");
    assert_eq!(ok(&d, "rvsadm -A -t 192.0.2.10:80 -p 600"), "");
    assert_eq!(
        ok(&d, "rvsadm -a -t 192.0.2.10:80 -r 198.51.100.12 -m -w 100"),
        ""
    );
    assert_eq!(
        ok(&d, "rvsadm -Ln"),
        format!("{HEADER}TCP  192.0.2.10:80 wlc persistent 600\n  -> 198.51.100.12:80             Masq    100    0          0         \n")
    );
    assert_eq!(
        ok(&d, "rvsadm -E -t 192.0.2.10:80 -s rr -p -M 255.255.255.0"),
        ""
    );
    assert_eq!(
        ok(&d, "rvsadm -L -n -t 192.0.2.10:80"),
        "Prot LocalAddress:Port Scheduler Flags\n  \
         -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n\
         TCP  192.0.2.10:80 rr persistent 360 mask 255.255.255.0\n  \
         -> 198.51.100.12:80             Masq    100    0          0         \n"
    );
}

#[test]
fn errors_like_ipvsadm() {
    let d = FakeDaemon::start("errors");
    let o = rvsadm(&d, "rvsadm -a -t 192.0.2.10:80 -r 198.51.100.11");
    assert_eq!((o.code, o.stderr.as_str()), (255, "Service not defined\n"));
    let o = rvsadm(&d, "rvsadm -A -t 192.0.2.10:80 -s nosuch");
    assert_eq!(
        (o.code, o.stderr.as_str()),
        (255, "Scheduler or persistence engine not found\n")
    );
    let o = rvsadm(&d, "rvsadm -A -t 192.0.2.10:80 -r 198.51.100.11");
    assert_eq!(
        (o.code, o.stderr.as_str()),
        (
            2,
            "Illegal 'real-server' option with the 'add-service' command\n"
        )
    );
    let o = rvsadm(&d, "rvsadm -L -n -t 192.0.2.10:80");
    assert_eq!(
        (o.code, o.stderr.as_str(), o.stdout.as_str()),
        (1, "No such service\n", "")
    );
    let o = rvsadm(&d, "rvsadm -D -t 192.0.2.10:80");
    assert_eq!((o.code, o.stderr.as_str()), (255, "No such service\n"));
    let o = rvsadm(&d, "rvsadm -Z -t 192.0.2.10:80");
    assert_eq!((o.code, o.stderr.as_str()), (255, "No such service\n"));
    let o = rvsadm(&d, "rvsadm --foo");
    assert_eq!(
        (o.code, o.stderr.as_str()),
        (
            255,
            "Try `rvsadm -h' or 'rvsadm --help' for more information.\n"
        )
    );
    let o = rvsadm(&d, "rvsadm -L --foo");
    assert_eq!(
        (o.code, o.stderr.as_str()),
        (255, "--foo: unknown option\n")
    );
    assert!(d.config().services.is_empty());
}

#[test]
fn other_listings_and_commands() {
    let d = FakeDaemon::start("other");
    ok(&d, "rvsadm --set 3600 0 60");
    assert_eq!(
        ok(&d, "rvsadm -L --timeout"),
        "Timeout (tcp tcpfin udp): 3600 120 60\n"
    );
    ok(&d, "rvsadm --start-daemon master --syncid 3");
    assert_eq!(
        ok(&d, "rvsadm -L --daemon"),
        "master sync daemon (mcast=eth0, syncid=3, maxlen=1472, group=224.0.0.81, port=8848, ttl=1)\n"
    );
    let o = rvsadm(&d, "rvsadm --start-daemon master");
    assert_eq!(
        (o.code, o.stderr.as_str()),
        (255, "Daemon has already run\n")
    );
    ok(&d, "rvsadm --stop-daemon master");
    let o = rvsadm(&d, "rvsadm --stop-daemon");
    assert_eq!((o.code, o.stderr.as_str()), (255, "No daemon is running\n"));
    ok(&d, "rvsadm -A -u 192.0.2.10:53 -s rr -o");
    ok(&d, "rvsadm -Z");
    ok(&d, "rvsadm -Z -u 192.0.2.10:53");
    assert_eq!(ok(&d, "rvsadm -L -n -c"), "IPVS connection entries\npro expire state       source             virtual            destination\n");
    let json = ok(&d, "rvsadm -L --json");
    let status: rvs_admin::Status = serde_json::from_str(&json).unwrap();
    assert_eq!(status.services.len(), 1);
    // No arguments: list, with names where known (none here).
    assert_eq!(
        ok(&d, "rvsadm"),
        format!("{HEADER}UDP  192.0.2.10:53 rr ops\n")
    );
    assert!(ok(&d, "rvsadm -h").contains("Usage:"));
    assert!(ok(&d, "rvsadm -v").starts_with("rvsadm v"));
}

#[test]
fn save_and_restore() {
    let d = FakeDaemon::start("save");
    for line in [
        "rvsadm -A -t 192.0.2.10:80 -s wrr",
        "rvsadm -a -t 192.0.2.10:80 -r 198.51.100.12 -m -w 100 -x 50 -y 10",
        "rvsadm -a -t 192.0.2.10:80 -r 198.51.100.11 -g -w 1",
        "rvsadm -A -f 1 -s sh -b sh-port -p 900 -M 255.255.0.0",
        "rvsadm -a -f 1 -r 198.51.100.13 -i -w 2",
    ] {
        ok(&d, line);
    }
    let saved = ok(&d, "rvsadm -S -n");
    assert_eq!(
        saved,
        "-A -t 192.0.2.10:80 -s wrr\n\
         -a -t 192.0.2.10:80 -r 198.51.100.11:80 -g -w 1\n\
         -a -t 192.0.2.10:80 -r 198.51.100.12:80 -m -w 100 -x 50 -y 10\n\
         -A -f 1 -s sh -p 900 -M 255.255.0.0 -b sh-port\n\
         -a -f 1 -r 198.51.100.13:0 -i -w 2 --tun-type ipip\n"
    );
    let before = d.config();

    // Restore into a fresh daemon rebuilds the same table (in listing order).
    let fresh = FakeDaemon::start("restore");
    let o = rvsadm_with(&fresh.socket, "rvsadm -R", &saved);
    assert_eq!((o.code, o.stderr.as_str()), (0, ""));
    assert_eq!(fresh.config(), before.sorted());
    assert_eq!(ok(&fresh, "rvsadm -S -n"), saved);

    // A failing line names itself and changes nothing.
    let script = "-A -t 192.0.2.20:80\n# comment\n-A -t 192.0.2.10:80\n";
    let o = rvsadm_with(&fresh.socket, "rvsadm -R", script);
    assert_eq!(
        (o.code, o.stderr.as_str()),
        (255, "line 3: Service already exists\n")
    );
    let o = rvsadm_with(
        &fresh.socket,
        "rvsadm -R",
        "-A -t 192.0.2.20:80\n-A -t 192.0.2.21:80 -w 3\n",
    );
    assert_eq!(
        (o.code, o.stderr.as_str()),
        (
            2,
            "line 2: Illegal 'weight' option with the 'add-service' command\n"
        )
    );
    assert_eq!(fresh.config(), before.sorted());
}

#[test]
fn unreachable_daemon() {
    let dir = std::env::temp_dir().join(format!("rvsadm-test-{}-nodaemon", std::process::id()));
    let socket = dir.join("rvsd.sock");
    let o = rvsadm_with(&socket, "rvsadm -L -n", "");
    assert_eq!(o.code, 1);
    assert!(
        o.stderr.starts_with(&format!(
            "rvsadm: cannot reach rvsd at {}: ",
            socket.display()
        )) && o.stderr.ends_with(" (is rvsd running?)\n"),
        "{}",
        o.stderr
    );
    // Usage errors are reported without a daemon.
    let o = rvsadm_with(&socket, "rvsadm -A", "");
    assert_eq!(o.code, 2);
}

#[test]
fn socket_flag_overrides_the_environment_value() {
    let d = FakeDaemon::start("flag");
    let bogus = d.dir.join("elsewhere.sock");
    let line = format!("rvsadm --socket {} -A -t 192.0.2.10:80", d.socket.display());
    let o = rvsadm_with(&bogus, &line, "");
    assert_eq!((o.code, o.stderr.as_str()), (0, ""));
    assert_eq!(d.config().services.len(), 1);
}

/// The real binary, with the socket in the child's environment.
fn binary(socket: &Path, args: &[&str], stdin: &str) -> Outcome {
    let mut child = Process::new(env!("CARGO_BIN_EXE_rvsadm"))
        .args(args)
        .env("RVSD_SOCKET", socket)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    Outcome {
        code: out.status.code().unwrap(),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

#[test]
fn the_binary_end_to_end() {
    let d = FakeDaemon::start("binary");
    for args in [
        &["-A", "-t", "192.0.2.10:80", "-s", "wrr"][..],
        &[
            "-a",
            "-t",
            "192.0.2.10:80",
            "-r",
            "198.51.100.11",
            "-g",
            "-w",
            "1",
        ],
        &[
            "-a",
            "-t",
            "192.0.2.10:80",
            "-r",
            "198.51.100.12",
            "-m",
            "-w",
            "100",
        ],
    ] {
        let o = binary(&d.socket, args, "");
        assert_eq!((o.code, o.stderr.as_str()), (0, ""), "{args:?}");
    }
    let o = binary(&d.socket, &["-A", "-t", "192.0.2.10:80", "-p", "600"], "");
    assert_eq!(
        (o.code, o.stderr.as_str()),
        (255, "Service already exists\n")
    );
    let o = binary(&d.socket, &["-L", "-n"], "");
    assert_eq!(
        o.stdout,
        format!(
            "{HEADER}TCP  192.0.2.10:80 wrr\n  \
             -> 198.51.100.11:80             Route   1      0          0         \n  \
             -> 198.51.100.12:80             Masq    100    0          0         \n"
        )
    );
    let saved = binary(&d.socket, &["-S", "-n"], "").stdout;
    assert_eq!(binary(&d.socket, &["-C"], "").code, 0);
    assert_eq!(binary(&d.socket, &["-R"], &saved).code, 0);
    assert_eq!(binary(&d.socket, &["-S", "-n"], "").stdout, saved);
    let o = binary(&d.socket, &["-C", "-n"], "");
    assert_eq!(
        (o.code, o.stderr.as_str()),
        (2, "Illegal 'numeric' option with the 'flush' command\n")
    );
    let o = binary(&d.dir.join("none.sock"), &["-L"], "");
    assert_eq!(o.code, 1);
}
