//! The real servers' TCP echo responder (`rvs-lab tcp-echo --port 7000`): sends back
//! every byte it receives, on each connection, until the client closes. An interactive
//! session through the VIP (a line, its echo, the next line...) shows whether an
//! established connection survives a director failover unbroken.
//!
//! Replies leave from the address the client connected to (the accepted socket's local
//! address), so it works behind direct routing and tunnelling too, where that is the
//! VIP on `lo`.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// What the responder prints to stdout once it listens.
pub const READY_LINE: &str = "tcp-echo: listening";

/// How often the stop flag is looked at.
const POLL_INTERVAL: Duration = Duration::from_millis(100);
/// Most connections served at once; more are closed at once (bounded threads).
pub const MAX_SESSIONS: usize = 256;

/// Serves until `stop` is set (never, for the binary). Prints [`READY_LINE`] once
/// listening.
pub fn serve(port: u16, stop: &AtomicBool) -> io::Result<()> {
    serve_with(port, stop, || {
        let mut out = io::stdout();
        let _ = writeln!(out, "{READY_LINE} on port {port}");
        let _ = out.flush();
    })
}

/// Like [`serve`], calling `ready` instead of printing once the listeners are open.
/// Listens on IPv4 and, where the namespace has IPv6, on IPv6 as well.
pub fn serve_with(port: u16, stop: &AtomicBool, ready: impl FnOnce()) -> io::Result<()> {
    let mut listeners = vec![TcpListener::bind((Ipv4Addr::UNSPECIFIED, port))?];
    if let Ok(l6) = bind_v6_only(port) {
        listeners.push(l6);
    }
    for l in &listeners {
        l.set_nonblocking(true)?;
    }
    ready();
    let active = Arc::new(AtomicUsize::new(0));
    let stop_all = Arc::new(AtomicBool::new(false));
    while !stop.load(Ordering::Relaxed) {
        let mut accepted = false;
        for l in &listeners {
            match l.accept() {
                Ok((stream, _peer)) => {
                    accepted = true;
                    if active.load(Ordering::Relaxed) >= MAX_SESSIONS {
                        continue; // dropped: closed at once
                    }
                    active.fetch_add(1, Ordering::Relaxed);
                    let (count, stop_one) = (Arc::clone(&active), Arc::clone(&stop_all));
                    let spawned =
                        std::thread::Builder::new()
                            .name("tcp-echo".into())
                            .spawn(move || {
                                let _ = echo(stream, &stop_one);
                                count.fetch_sub(1, Ordering::Relaxed);
                            });
                    if spawned.is_err() {
                        active.fetch_sub(1, Ordering::Relaxed);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::ConnectionAborted => {}
                Err(e) => return Err(e),
            }
        }
        if !accepted {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    stop_all.store(true, Ordering::Relaxed);
    Ok(())
}

/// An IPv6-only listener (so it does not collide with the IPv4 one on the port).
fn bind_v6_only(port: u16) -> io::Result<TcpListener> {
    use std::os::fd::FromRawFd;
    // SAFETY: plain syscall with integer arguments.
    let fd = unsafe { libc::socket(libc::AF_INET6, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just returned by socket(2) and is owned by nobody else.
    let fd = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) };
    let one: libc::c_int = 1;
    for (level, name) in [
        (libc::IPPROTO_IPV6, libc::IPV6_V6ONLY),
        (libc::SOL_SOCKET, libc::SO_REUSEADDR),
    ] {
        use std::os::fd::AsRawFd;
        // SAFETY: the value points to a c_int for the whole call.
        let r = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                level,
                name,
                (&one as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    let listener = TcpListener::from(fd);
    // Binding through std needs a bound socket; rebind is not possible, so use bind(2).
    let addr = SocketAddr::from((Ipv6Addr::UNSPECIFIED, port));
    bind_listen(&listener, addr)?;
    Ok(listener)
}

fn bind_listen(listener: &TcpListener, addr: SocketAddr) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let SocketAddr::V6(a) = addr else {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "IPv6 only"));
    };
    // SAFETY: sockaddr_in6 is plain old data; all-zero is valid.
    let mut sa: libc::sockaddr_in6 = unsafe { std::mem::zeroed() };
    sa.sin6_family = libc::AF_INET6 as libc::sa_family_t;
    sa.sin6_port = a.port().to_be();
    sa.sin6_addr.s6_addr = a.ip().octets();
    // SAFETY: `sa` is a valid sockaddr_in6 for the whole call.
    let r = unsafe {
        libc::bind(
            listener.as_raw_fd(),
            (&sa as *const libc::sockaddr_in6).cast(),
            std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: plain syscall on a bound socket.
    if unsafe { libc::listen(listener.as_raw_fd(), 128) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Echoes one connection until EOF, an error or `stop`.
fn echo(mut stream: TcpStream, stop: &AtomicBool) -> io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(POLL_INTERVAL))?;
    stream.set_nodelay(true)?;
    let mut buf = [0u8; 4096];
    while !stop.load(Ordering::Relaxed) {
        match stream.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => stream.write_all(&buf[..n])?,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader};

    #[test]
    fn every_line_comes_back_on_a_long_session() {
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, rx) = std::sync::mpsc::channel();
        // Port 0 is not usable here (the port must be known): find a free one first.
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let flag = Arc::clone(&stop);
        let server = std::thread::spawn(move || {
            serve_with(port, &flag, || tx.send(()).unwrap()).unwrap();
        });
        rx.recv_timeout(Duration::from_secs(5)).unwrap();
        let stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut writer = stream;
        for i in 0..20 {
            let line = format!("line {i}\n");
            writer.write_all(line.as_bytes()).unwrap();
            let mut answer = String::new();
            reader.read_line(&mut answer).unwrap();
            assert_eq!(answer, line);
        }
        stop.store(true, Ordering::Relaxed);
        server.join().unwrap();
    }
}
