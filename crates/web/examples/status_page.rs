//! Serves the example director (`rvs_web::model::example`) for a while, to look at the
//! status page and metrics without a lab:
//! `cargo run -p rvs-web --example status_page -- [ADDR [SECONDS]]`
//! (default 127.0.0.1:9810 for 60 s), then open http://ADDR/.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn main() {
    let mut args = std::env::args().skip(1);
    let addr = args
        .next()
        .unwrap_or_else(|| rvs_web::DEFAULT_LISTEN.to_string());
    let secs: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(60);
    let addr = match addr.parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{addr}: {e}");
            std::process::exit(2);
        }
    };
    let observe = || Ok(rvs_web::model::example());
    let server = match rvs_web::WebServer::bind(addr, &[], Arc::new(observe)) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    let stop = Arc::new(AtomicBool::new(false));
    let Ok(thread) = server.spawn(stop.clone()) else {
        eprintln!("cannot start the server thread");
        std::process::exit(1);
    };
    println!("serving the example director on http://{addr}/ for {secs} s");
    std::thread::sleep(Duration::from_secs(secs));
    stop.store(true, Ordering::Relaxed);
    let _ = thread.join();
}
