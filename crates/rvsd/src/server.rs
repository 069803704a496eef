//! The control socket: a Unix stream socket (mode 0600, root only) speaking the
//! rvsadm protocol, one JSON message per line. Each client is served by its own
//! short-lived thread; requests are applied one at a time through the control plane.

use std::io::{self, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rvs_admin::proto::{read_message, write_message, Request, Response};

use crate::control::Control;

pub struct ControlServer {
    listener: UnixListener,
    path: PathBuf,
    control: Arc<Mutex<Control>>,
}

impl ControlServer {
    pub fn bind(path: &Path, control: Arc<Mutex<Control>>) -> io::Result<ControlServer> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        if path.exists() {
            // A live daemon answers; a stale socket from a crash does not.
            if UnixStream::connect(path).is_ok() {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    "another rvsd is listening there",
                ));
            }
            std::fs::remove_file(path)?;
        }
        let listener = UnixListener::bind(path)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        listener.set_nonblocking(true)?;
        Ok(ControlServer {
            listener,
            path: path.to_path_buf(),
            control,
        })
    }

    pub fn run(self, stop: Arc<AtomicBool>) {
        while !stop.load(Relaxed) {
            match self.listener.accept() {
                Ok((stream, _)) => {
                    let control = self.control.clone();
                    let _ = std::thread::Builder::new()
                        .name("rvsd-client".into())
                        .spawn(move || serve(stream, control));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => {
                    tracing::warn!("control socket {}: {e}", self.path.display());
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        }
    }
}

fn serve(stream: UnixStream, control: Arc<Mutex<Control>>) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(60)));
    let mut reader = BufReader::new(stream);
    loop {
        let req = match read_message::<Request>(&mut reader) {
            Ok(Some(r)) => r,
            Ok(None) => return,
            Err(e) => {
                let _ = write_message(
                    reader.get_mut(),
                    &Response::Error {
                        message: format!("bad request: {e}"),
                        index: None,
                    },
                );
                return;
            }
        };
        let resp = match control.lock() {
            Ok(mut c) => c.handle(req),
            Err(_) => Response::Error {
                message: "internal error: control state poisoned".into(),
                index: None,
            },
        };
        if write_message(reader.get_mut(), &resp).is_err() {
            return;
        }
    }
}
