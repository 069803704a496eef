//! The control protocol between `rvsadm` and the daemon: one JSON object per
//! line over a Unix stream socket, a request answered by a response, as many
//! as the client likes on one connection.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rvs_core::ServiceKey;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::command::Command;
use crate::status::Status;

/// Where the daemon listens unless told otherwise.
pub const DEFAULT_SOCKET: &str = "/run/rvsd/rvsd.sock";
/// Environment variable that overrides the socket path (`--socket` overrides both).
pub const SOCKET_ENV: &str = "RVSD_SOCKET";
/// Longest message accepted, so a confused peer cannot make us buffer without end.
pub const MAX_MESSAGE: usize = 64 << 20;
/// How long the client waits for the daemon before giving up.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(30);

/// A request to the daemon.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Request {
    /// Apply table changes atomically: all of them or, if one fails, none.
    Apply(Vec<Command>),
    /// Report the status, with the connection entries if asked.
    Status { connections: bool },
    /// Zero the counters of one service, or of all.
    Zero(Option<ServiceKey>),
    /// Is anyone there?
    Ping,
    /// Re-read the configuration file (rvsadm --reload; SIGHUP does the same).
    Reload,
}

/// The daemon's answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Response {
    Ok,
    Status(Status),
    /// The request failed. `message` is what ipvsadm would print; for `Apply`,
    /// `index` names the failing command of the batch.
    Error {
        message: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        index: Option<usize>,
    },
}

/// The socket to use: `--socket`, else `$RVSD_SOCKET`, else the default.
pub fn socket_path(flag: Option<&str>, env: Option<&str>) -> PathBuf {
    PathBuf::from(
        flag.or(env)
            .filter(|p| !p.is_empty())
            .unwrap_or(DEFAULT_SOCKET),
    )
}

/// Writes one message as a line of JSON.
pub fn write_message<T: Serialize>(out: &mut impl Write, message: &T) -> io::Result<()> {
    let mut line =
        serde_json::to_vec(message).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    line.push(b'\n');
    out.write_all(&line)?;
    out.flush()
}

/// Reads one line of JSON; `None` at a clean end of stream.
pub fn read_message<T: DeserializeOwned>(input: &mut impl BufRead) -> io::Result<Option<T>> {
    let mut line = Vec::new();
    let read = input
        .take(MAX_MESSAGE as u64 + 1)
        .read_until(b'\n', &mut line)?;
    if read == 0 {
        return Ok(None);
    }
    if line.len() > MAX_MESSAGE {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "control message too long",
        ));
    }
    if line.last() != Some(&b'\n') {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "control message cut short",
        ));
    }
    serde_json::from_slice(&line)
        .map(Some)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// A connection to the daemon.
pub struct Client {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Client {
    /// Connects to the daemon's socket.
    pub fn connect(path: &Path) -> io::Result<Client> {
        let stream = UnixStream::connect(path)?;
        stream.set_read_timeout(Some(CLIENT_TIMEOUT))?;
        stream.set_write_timeout(Some(CLIENT_TIMEOUT))?;
        let writer = stream.try_clone()?;
        Ok(Client {
            reader: BufReader::new(stream),
            writer,
        })
    }

    /// Sends a request and waits for its response.
    pub fn call(&mut self, request: &Request) -> io::Result<Response> {
        write_message(&mut self.writer, request)?;
        read_message(&mut self.reader)?.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the daemon closed the connection",
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::ServiceSpec;
    use rvs_core::{Protocol, SchedFlags};

    #[test]
    fn socket_path_precedence() {
        assert_eq!(
            socket_path(None, None),
            PathBuf::from("/run/rvsd/rvsd.sock")
        );
        assert_eq!(
            socket_path(None, Some("/tmp/e.sock")),
            PathBuf::from("/tmp/e.sock")
        );
        assert_eq!(
            socket_path(Some("/tmp/f.sock"), Some("/tmp/e.sock")),
            PathBuf::from("/tmp/f.sock")
        );
        assert_eq!(socket_path(None, Some("")), PathBuf::from(DEFAULT_SOCKET));
    }

    #[test]
    fn messages_round_trip_as_lines() {
        let key = ServiceKey::Addr {
            proto: Protocol::Tcp,
            addr: "192.0.2.10".parse().unwrap(),
            port: 80,
        };
        let requests = vec![
            Request::Ping,
            Request::Status { connections: true },
            Request::Zero(Some(key)),
            Request::Apply(vec![Command::AddService(ServiceSpec {
                key,
                scheduler: "wrr".into(),
                sched_flags: SchedFlags::default(),
                persistence: None,
                one_packet: false,
            })]),
        ];
        let mut wire = Vec::new();
        for r in &requests {
            write_message(&mut wire, r).unwrap();
        }
        assert_eq!(wire.iter().filter(|b| **b == b'\n').count(), requests.len());
        let mut input = io::Cursor::new(wire);
        for r in &requests {
            assert_eq!(
                read_message::<Request>(&mut input).unwrap().as_ref(),
                Some(r)
            );
        }
        assert_eq!(read_message::<Request>(&mut input).unwrap(), None);
    }

    #[test]
    fn error_index_is_optional_on_the_wire() {
        let text = serde_json::to_string(&Response::Error {
            message: "No such service".into(),
            index: None,
        })
        .unwrap();
        assert_eq!(text, r#"{"error":{"message":"No such service"}}"#);
        let back: Response =
            serde_json::from_str(r#"{"error":{"message":"x","index":2}}"#).unwrap();
        assert_eq!(
            back,
            Response::Error {
                message: "x".into(),
                index: Some(2)
            }
        );
        assert_eq!(serde_json::to_string(&Response::Ok).unwrap(), r#""ok""#);
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        let mut input = io::Cursor::new(b"{not json}\n".to_vec());
        assert!(read_message::<Request>(&mut input).is_err());
        let mut input = io::Cursor::new(b"\"ping\"".to_vec());
        assert!(
            read_message::<Request>(&mut input).is_err(),
            "no newline: cut short"
        );
    }
}
