//! The real servers' UDP responder (`rvs-lab udp-echo --port 5000 --name rs1`): answers
//! every datagram with the server's name, from the address the datagram was sent to.
//!
//! Answering from the request's destination matters for direct routing and tunnelling:
//! the request is for the VIP (on `lo`), and the client only accepts an answer from the
//! VIP, while a socket bound to the wildcard address would otherwise answer from the
//! interface address. The destination comes from IP_PKTINFO / IPV6_PKTINFO.

use std::io;
use std::mem::{size_of, zeroed};
use std::net::{Ipv4Addr, Ipv6Addr, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// What the responder prints to stdout once its sockets are bound.
pub const READY_LINE: &str = "udp-echo: listening";

/// How often the stop flag is looked at.
const POLL_INTERVAL: Duration = Duration::from_millis(200);

/// A socket that reports each datagram's destination address.
struct EchoSocket {
    socket: UdpSocket,
    v6: bool,
}

fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

fn set_int_option(
    fd: &impl AsRawFd,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    // SAFETY: the value points to a c_int for the whole call; the kernel copies it.
    check(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&value as *const libc::c_int).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    })
    .map(drop)
}

impl EchoSocket {
    fn v4(port: u16) -> io::Result<EchoSocket> {
        let socket = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, port))?;
        set_int_option(&socket, libc::IPPROTO_IP, libc::IP_PKTINFO, 1)?;
        Ok(EchoSocket { socket, v6: false })
    }

    /// An IPv6-only socket (so it does not collide with the IPv4 one on the port).
    fn v6(port: u16) -> io::Result<EchoSocket> {
        // SAFETY: plain syscall with integer arguments.
        let fd = check(unsafe {
            libc::socket(libc::AF_INET6, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0)
        })?;
        // SAFETY: `fd` was just returned by socket(2) and is owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        set_int_option(&fd, libc::IPPROTO_IPV6, libc::IPV6_V6ONLY, 1)?;
        set_int_option(&fd, libc::IPPROTO_IPV6, libc::IPV6_RECVPKTINFO, 1)?;
        // SAFETY: sockaddr_in6 is plain old data; all-zero is the wildcard address.
        let mut addr: libc::sockaddr_in6 = unsafe { zeroed() };
        addr.sin6_family = libc::AF_INET6 as libc::sa_family_t;
        addr.sin6_port = port.to_be();
        // SAFETY: `addr` is a valid sockaddr_in6 for the whole call.
        check(unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&addr as *const libc::sockaddr_in6).cast(),
                size_of::<libc::sockaddr_in6>() as libc::socklen_t,
            )
        })?;
        Ok(EchoSocket {
            socket: UdpSocket::from(fd),
            v6: true,
        })
    }

    /// Answers one waiting datagram, if any, with `reply`.
    fn answer_one(&self, reply: &[u8]) -> io::Result<bool> {
        let mut data = [0u8; 2048];
        // 8-byte aligned room for the control messages.
        let mut control = [0u64; 32];
        // SAFETY: sockaddr_storage is plain old data; all-zero is valid.
        let mut peer: libc::sockaddr_storage = unsafe { zeroed() };
        let mut iov = libc::iovec {
            iov_base: data.as_mut_ptr().cast(),
            iov_len: data.len(),
        };
        // SAFETY: msghdr is plain old data; all-zero is valid.
        let mut msg: libc::msghdr = unsafe { zeroed() };
        msg.msg_name = (&mut peer as *mut libc::sockaddr_storage).cast();
        msg.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = size_of::<[u64; 32]>();
        // SAFETY: every pointer in `msg` refers to a live local buffer of the stated size.
        let n = unsafe { libc::recvmsg(self.socket.as_raw_fd(), &mut msg, libc::MSG_DONTWAIT) };
        if n < 0 {
            let err = io::Error::last_os_error();
            return match err.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(false),
                _ => Err(err),
            };
        }
        let local = self.destination(&msg);

        // Reply to the peer, from the request's destination when known.
        let mut out_control = [0u64; 16];
        let mut out_iov = libc::iovec {
            iov_base: reply.as_ptr() as *mut libc::c_void,
            iov_len: reply.len(),
        };
        // SAFETY: msghdr is plain old data; all-zero is valid.
        let mut out: libc::msghdr = unsafe { zeroed() };
        out.msg_name = msg.msg_name;
        out.msg_namelen = msg.msg_namelen;
        out.msg_iov = &mut out_iov;
        out.msg_iovlen = 1;
        match local {
            Some(Local::V4(addr)) => {
                // SAFETY: in_pktinfo is plain old data.
                let mut info: libc::in_pktinfo = unsafe { zeroed() };
                info.ipi_spec_dst.s_addr = u32::from_ne_bytes(addr.octets());
                write_control(
                    &mut out,
                    &mut out_control,
                    libc::IPPROTO_IP,
                    libc::IP_PKTINFO,
                    &info,
                );
            }
            Some(Local::V6(addr)) => {
                // SAFETY: in6_pktinfo is plain old data.
                let mut info: libc::in6_pktinfo = unsafe { zeroed() };
                info.ipi6_addr.s6_addr = addr.octets();
                write_control(
                    &mut out,
                    &mut out_control,
                    libc::IPPROTO_IPV6,
                    libc::IPV6_PKTINFO,
                    &info,
                );
            }
            None => {}
        }
        // SAFETY: every pointer in `out` refers to a live buffer of the stated size
        // (`peer`, `reply`, `out_control`).
        let sent = unsafe { libc::sendmsg(self.socket.as_raw_fd(), &out, 0) };
        if sent < 0 {
            // An unreachable client is its problem, not the responder's.
            log::debug!("udp-echo reply: {}", io::Error::last_os_error());
        }
        Ok(true)
    }

    /// The destination address in the control messages of a received `msg`.
    fn destination(&self, msg: &libc::msghdr) -> Option<Local> {
        // SAFETY: `msg` was filled by recvmsg; the CMSG_* helpers walk its control
        // buffer within `msg_controllen`.
        let mut cmsg = unsafe { libc::CMSG_FIRSTHDR(msg) };
        while !cmsg.is_null() {
            // SAFETY: non-null headers returned by CMSG_FIRSTHDR/NXTHDR lie inside the
            // control buffer.
            let hdr = unsafe { &*cmsg };
            // SAFETY: as above; the data of a PKTINFO message is the matching struct,
            // read unaligned since the buffer gives no alignment promise for it.
            unsafe {
                if !self.v6
                    && hdr.cmsg_level == libc::IPPROTO_IP
                    && hdr.cmsg_type == libc::IP_PKTINFO
                {
                    let info: libc::in_pktinfo =
                        std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast());
                    return Some(Local::V4(Ipv4Addr::from(
                        info.ipi_addr.s_addr.to_ne_bytes(),
                    )));
                }
                if self.v6
                    && hdr.cmsg_level == libc::IPPROTO_IPV6
                    && hdr.cmsg_type == libc::IPV6_PKTINFO
                {
                    let info: libc::in6_pktinfo =
                        std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast());
                    return Some(Local::V6(Ipv6Addr::from(info.ipi6_addr.s6_addr)));
                }
                cmsg = libc::CMSG_NXTHDR(msg, cmsg);
            }
        }
        None
    }
}

enum Local {
    V4(Ipv4Addr),
    V6(Ipv6Addr),
}

/// Puts one control message carrying `value` into `buf` and points `msg` at it.
fn write_control<T: Copy>(
    msg: &mut libc::msghdr,
    buf: &mut [u64; 16],
    level: libc::c_int,
    ty: libc::c_int,
    value: &T,
) {
    msg.msg_control = buf.as_mut_ptr().cast();
    // SAFETY: CMSG_SPACE is a pure size computation.
    msg.msg_controllen = unsafe { libc::CMSG_SPACE(size_of::<T>() as u32) } as usize;
    // SAFETY: the buffer (128 bytes) holds CMSG_SPACE(size_of::<T>()) for the pktinfo
    // structs used here; CMSG_FIRSTHDR returns its start, and CMSG_DATA a pointer inside.
    unsafe {
        let cmsg = libc::CMSG_FIRSTHDR(msg);
        (*cmsg).cmsg_level = level;
        (*cmsg).cmsg_type = ty;
        (*cmsg).cmsg_len = libc::CMSG_LEN(size_of::<T>() as u32) as usize;
        std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<T>(), *value);
    }
}

/// Binds port `port` (IPv4, and IPv6 where the namespace has it), prints
/// [`READY_LINE`] to stdout, and answers every datagram with `name` until `stop` is set.
pub fn serve(port: u16, name: &str, stop: &AtomicBool) -> io::Result<()> {
    serve_with(port, name, stop, || {
        use std::io::Write;
        let mut out = io::stdout().lock();
        let _ = writeln!(out, "{READY_LINE} on port {port} as {name}");
        let _ = out.flush();
    })
}

/// Like [`serve`], calling `on_ready` once the sockets are bound instead of printing.
pub fn serve_with(
    port: u16,
    name: &str,
    stop: &AtomicBool,
    on_ready: impl FnOnce(),
) -> io::Result<()> {
    let mut sockets = vec![EchoSocket::v4(port)?];
    match EchoSocket::v6(port) {
        Ok(s) => sockets.push(s),
        Err(e) => log::debug!("udp-echo: no IPv6 socket: {e}"),
    }
    on_ready();
    let mut pollfds: Vec<libc::pollfd> = sockets
        .iter()
        .map(|s| libc::pollfd {
            fd: s.socket.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    let reply = name.as_bytes();
    while !stop.load(Ordering::Relaxed) {
        // SAFETY: `pollfds` is a valid array of its length.
        let ready = unsafe {
            libc::poll(
                pollfds.as_mut_ptr(),
                pollfds.len() as libc::nfds_t,
                POLL_INTERVAL.as_millis() as libc::c_int,
            )
        };
        if ready <= 0 {
            continue;
        }
        for (pfd, socket) in pollfds.iter_mut().zip(&sockets) {
            if pfd.revents & libc::POLLIN != 0 {
                // Bounded: at most 64 datagrams per socket per wake-up.
                for _ in 0..64 {
                    if !socket.answer_one(reply)? {
                        break;
                    }
                }
            }
            pfd.revents = 0;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// On loopback, no root needed: the answer is the name, from the address asked.
    #[test]
    fn answers_with_the_name_from_the_address_asked() {
        let probe = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = probe.local_addr().unwrap().port();
        drop(probe); // a free port, most likely still free a moment later
        let stop = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let server = {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                serve_with(port, "rs9", &stop, || ready_tx.send(()).unwrap())
            })
        };
        ready_rx.recv_timeout(Duration::from_secs(10)).unwrap();
        let client = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        client
            .set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        // 127.0.0.2 is local too: the answer must come from it, not from 127.0.0.1.
        client.connect((Ipv4Addr::new(127, 0, 0, 2), port)).unwrap();
        let mut buf = [0u8; 64];
        let mut answer = None;
        for _ in 0..20 {
            let _ = client.send(b"who");
            if let Ok(n) = client.recv(&mut buf) {
                answer = Some(buf[..n].to_vec());
                break;
            }
        }
        stop.store(true, Ordering::Relaxed);
        server.join().unwrap().unwrap();
        assert_eq!(answer.as_deref(), Some(&b"rs9"[..]));
    }
}
