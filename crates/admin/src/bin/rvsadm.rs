//! `rvsadm`: ipvsadm's command line for the rvs director. Everything but
//! reading the process environment lives in `rvs_admin::app`.

use std::io::{self, BufReader};

use rvs_admin::app::{self, Streams};
use rvs_admin::names::Names;
use rvs_admin::proto::SOCKET_ENV;

fn main() {
    let args: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let socket_env = std::env::var(SOCKET_ENV).ok();
    let names = Names::system();
    let stdin = io::stdin();
    let mut input = BufReader::new(stdin.lock());
    let mut stdout = io::stdout().lock();
    let mut stderr = io::stderr().lock();
    let mut streams = Streams {
        stdin: &mut input,
        stdout: &mut stdout,
        stderr: &mut stderr,
    };
    let code = app::run(&args, socket_env.as_deref(), &names, &mut streams);
    std::process::exit(code);
}
