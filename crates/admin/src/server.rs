//! The daemon side of the control protocol for a table without traffic:
//! requests are applied to a `Config` and the status is reported from it. The
//! real daemon reuses `handle` for the table and overlays its live counters;
//! tests use it as a complete fake daemon.

use std::io::{self, BufReader, Read, Write};
use std::os::unix::net::UnixListener;

use crate::command::Command;
use crate::config::Config;
use crate::proto::{read_message, write_message, Request, Response};
use crate::status::Status;

/// Answers one request against `config`.
pub fn handle(config: &mut Config, request: Request) -> Response {
    match request {
        Request::Ping => Response::Ok,
        Request::Reload => Response::Error {
            message: "no configuration file to reload".into(),
            index: None,
        },
        Request::Status { connections } => {
            let mut status = Status::from_config(config);
            // No traffic, hence no connection entries, but the list was asked for.
            if connections {
                status.connections = Some(Vec::new());
            }
            Response::Status(status)
        }
        Request::Apply(commands) => match config.apply_all(&commands) {
            Ok(_) => Response::Ok,
            Err(e) => Response::Error {
                message: e.error.to_string(),
                index: Some(e.index),
            },
        },
        Request::Zero(key) => match config.apply(&Command::Zero(key)) {
            Ok(_) => Response::Ok,
            Err(e) => Response::Error {
                message: e.to_string(),
                index: None,
            },
        },
    }
}

/// Serves one client connection until it closes. A request that cannot be
/// read gets an error response and ends the connection.
pub fn serve_connection<S: Read + Write>(stream: S, config: &mut Config) -> io::Result<()> {
    let mut reader = BufReader::new(stream);
    loop {
        let request = match read_message::<Request>(&mut reader) {
            Ok(Some(r)) => r,
            Ok(None) => return Ok(()),
            Err(e) => {
                let response = Response::Error {
                    message: format!("bad request: {e}"),
                    index: None,
                };
                return write_message(reader.get_mut(), &response);
            }
        };
        let response = handle(config, request);
        write_message(reader.get_mut(), &response)?;
    }
}

/// Serves `connections` clients one after the other (every loop bounded), then
/// returns the table. For tests and tools that need a daemon stand-in.
pub fn serve(
    listener: &UnixListener,
    mut config: Config,
    connections: usize,
) -> io::Result<Config> {
    for _ in 0..connections {
        let (stream, _) = listener.accept()?;
        serve_connection(stream, &mut config)?;
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::ServiceSpec;
    use rvs_core::{Protocol, SchedFlags, ServiceKey};

    fn add(addr: &str) -> Command {
        Command::AddService(ServiceSpec {
            key: ServiceKey::Addr {
                proto: Protocol::Tcp,
                addr: addr.parse().unwrap(),
                port: 80,
            },
            scheduler: "wlc".into(),
            sched_flags: SchedFlags::default(),
            persistence: None,
            one_packet: false,
        })
    }

    #[test]
    fn handle_requests() {
        let mut config = Config::new();
        assert_eq!(handle(&mut config, Request::Ping), Response::Ok);
        assert_eq!(
            handle(&mut config, Request::Apply(vec![add("192.0.2.10")])),
            Response::Ok
        );
        assert_eq!(
            handle(
                &mut config,
                Request::Apply(vec![add("192.0.2.11"), add("192.0.2.10")])
            ),
            Response::Error {
                message: "Service already exists".into(),
                index: Some(1)
            }
        );
        assert_eq!(config.services.len(), 1, "a failed batch changes nothing");
        match handle(&mut config, Request::Status { connections: true }) {
            Response::Status(s) => {
                assert_eq!(s.services.len(), 1);
                assert_eq!(s.connections, Some(vec![]));
            }
            other => panic!("{other:?}"),
        }
        match handle(&mut config, Request::Status { connections: false }) {
            Response::Status(s) => assert_eq!(s.connections, None),
            other => panic!("{other:?}"),
        }
        let missing = ServiceKey::FwMark {
            mark: 9,
            family: rvs_core::Family::V4,
        };
        assert_eq!(
            handle(&mut config, Request::Zero(Some(missing))),
            Response::Error {
                message: "No such service".into(),
                index: None
            }
        );
        assert_eq!(handle(&mut config, Request::Zero(None)), Response::Ok);
    }

    #[test]
    fn serve_a_stream() {
        let mut input = Vec::new();
        write_message(&mut input, &Request::Apply(vec![add("192.0.2.10")])).unwrap();
        write_message(&mut input, &Request::Ping).unwrap();
        input.extend_from_slice(b"garbage\n");
        let mut stream = io::Cursor::new(input);
        let mut config = Config::new();
        let mut rw = Duplex {
            input: &mut stream,
            output: Vec::new(),
        };
        serve_connection(&mut rw, &mut config).unwrap();
        assert_eq!(config.services.len(), 1);
        let mut replies = io::Cursor::new(rw.output);
        assert_eq!(
            read_message::<Response>(&mut replies).unwrap(),
            Some(Response::Ok)
        );
        assert_eq!(
            read_message::<Response>(&mut replies).unwrap(),
            Some(Response::Ok)
        );
        match read_message::<Response>(&mut replies).unwrap() {
            Some(Response::Error { message, .. }) => assert!(message.starts_with("bad request")),
            other => panic!("{other:?}"),
        }
    }

    struct Duplex<'a> {
        input: &'a mut io::Cursor<Vec<u8>>,
        output: Vec<u8>,
    }

    impl Read for Duplex<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.input.read(buf)
        }
    }

    impl Write for Duplex<'_> {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.output.write(buf)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
}
