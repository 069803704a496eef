//! What `rvsadm` does with a command line: parse it like ipvsadm, ask the
//! daemon for the status to list or save, send table changes to be applied,
//! and print results and errors the way ipvsadm prints them. Kept in the
//! library, with the streams and the environment passed in, so that it runs
//! in tests against a fake daemon.

use std::io::{BufRead, Write};
use std::path::Path;

use crate::cli;
use crate::command::{Command, ListOptions, ListView};
use crate::error::{EXIT_FAILURE, EXIT_LIST};
use crate::listing;
use crate::names::Names;
use crate::proto::{self, Client, Request, Response};
use crate::save;
use crate::status::Status;

/// The standard streams of one run.
pub struct Streams<'a> {
    pub stdin: &'a mut dyn BufRead,
    pub stdout: &'a mut dyn Write,
    pub stderr: &'a mut dyn Write,
}

/// A failed run: what to print on standard error and the exit status.
struct Failure {
    message: String,
    exit_code: i32,
}

impl Failure {
    fn new(message: impl Into<String>, exit_code: i32) -> Failure {
        Failure {
            message: message.into(),
            exit_code,
        }
    }
}

/// Runs `rvsadm` with `args` (without the program name). `socket_env` is the
/// value of `$RVSD_SOCKET`, if set; `names` resolves host and port names.
/// Returns the exit status.
pub fn run(args: &[String], socket_env: Option<&str>, names: &Names, io: &mut Streams<'_>) -> i32 {
    match run_inner(args, socket_env, names, io) {
        Ok(()) => 0,
        Err(f) => {
            // Like ipvsadm's fail(): the message and a newline on standard error.
            let _ = writeln!(io.stderr, "{}", f.message);
            let _ = io.stderr.flush();
            f.exit_code
        }
    }
}

fn run_inner(
    args: &[String],
    socket_env: Option<&str>,
    names: &Names,
    io: &mut Streams<'_>,
) -> Result<(), Failure> {
    let mut args = args.to_vec();
    let socket_flag =
        cli::take_socket_option(&mut args).map_err(|e| Failure::new(e.message, e.exit_code))?;
    let socket = proto::socket_path(socket_flag.as_deref(), socket_env);
    // rvs's own: have rvsd re-read its configuration file (as SIGHUP does).
    if args.len() == 1 && args[0] == "--reload" {
        return expect_ok(call(&socket, &Request::Reload)?);
    }
    // Without arguments ipvsadm lists the table (with names).
    let command = if args.is_empty() {
        Command::List(ListOptions::default())
    } else {
        cli::parse(&args, names).map_err(|e| Failure::new(e.message, e.exit_code))?
    };
    match command {
        Command::Help => print(io, &cli::usage()),
        Command::Version => print(io, &(cli::version_line() + &cli::build_line())),
        Command::List(mut opts) => {
            let connections = opts.view == ListView::Connections;
            let status = fetch_status(&socket, connections)?;
            if !opts.numeric {
                opts.names = names.clone();
            }
            match listing::try_render(&status, &opts) {
                Ok(text) => print(io, &text),
                Err(e) => Err(Failure::new(e.to_string(), EXIT_LIST)),
            }
        }
        Command::Save { numeric } => {
            let status = fetch_status(&socket, false)?;
            let text = save::render_save(&status.to_config(), (!numeric).then_some(names));
            print(io, &text)
        }
        Command::Restore => restore(&socket, names, io),
        Command::Zero(key) => expect_ok(call(&socket, &Request::Zero(key))?),
        change => expect_ok(call(&socket, &Request::Apply(vec![change]))?),
    }
}

fn print(io: &mut Streams<'_>, text: &str) -> Result<(), Failure> {
    io.stdout
        .write_all(text.as_bytes())
        .and_then(|()| io.stdout.flush())
        .map_err(|e| Failure::new(format!("rvsadm: cannot write output: {e}"), EXIT_LIST))
}

fn call(socket: &Path, request: &Request) -> Result<Response, Failure> {
    let mut client = Client::connect(socket).map_err(|e| {
        Failure::new(
            format!(
                "rvsadm: cannot reach rvsd at {}: {e} (is rvsd running?)",
                socket.display()
            ),
            EXIT_LIST,
        )
    })?;
    client.call(request).map_err(|e| {
        Failure::new(
            format!("rvsadm: no answer from rvsd at {}: {e}", socket.display()),
            EXIT_LIST,
        )
    })
}

fn fetch_status(socket: &Path, connections: bool) -> Result<Status, Failure> {
    match call(socket, &Request::Status { connections })? {
        Response::Status(status) => Ok(status),
        Response::Error { message, .. } => Err(Failure::new(message, EXIT_FAILURE)),
        Response::Ok => Err(Failure::new(
            "rvsadm: rvsd answered without a status",
            EXIT_LIST,
        )),
    }
}

/// Table errors exit with 255, like ipvsadm's failed IPVS calls.
fn expect_ok(response: Response) -> Result<(), Failure> {
    match response {
        Response::Ok => Ok(()),
        Response::Error { message, .. } => Err(Failure::new(message, EXIT_FAILURE)),
        Response::Status(_) => Err(Failure::new(
            "rvsadm: unexpected answer from rvsd",
            EXIT_LIST,
        )),
    }
}

/// `-R`: the whole script from standard input, applied all or nothing.
fn restore(socket: &Path, names: &Names, io: &mut Streams<'_>) -> Result<(), Failure> {
    let mut script = String::new();
    io.stdin
        .read_to_string(&mut script)
        .map_err(|e| Failure::new(format!("rvsadm: cannot read the rules: {e}"), EXIT_FAILURE))?;
    let numbered = save::parse_restore(&script, names)
        .map_err(|e| Failure::new(e.to_string(), e.error.exit_code))?;
    if numbered.is_empty() {
        return Ok(());
    }
    let (lines, commands): (Vec<usize>, Vec<Command>) = numbered.into_iter().unzip();
    match call(socket, &Request::Apply(commands))? {
        Response::Ok => Ok(()),
        Response::Error { message, index } => {
            let message = match index.and_then(|i| lines.get(i)) {
                Some(line) => format!("line {line}: {message}"),
                None => message,
            };
            Err(Failure::new(message, EXIT_FAILURE))
        }
        Response::Status(_) => Err(Failure::new(
            "rvsadm: unexpected answer from rvsd",
            EXIT_LIST,
        )),
    }
}
