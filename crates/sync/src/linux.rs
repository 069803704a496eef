//! The Linux adapter: UDP multicast on one interface, as the kernel's sync threads set
//! it up (group 224.0.0.81, port 8848, TTL 1, no loopback, no DF so a message larger
//! than a path MTU is fragmented). One [`SyncSocket`] sends (master) or receives
//! (backup); a master that answers resync requests opens a receiving one too.

use std::io;
use std::mem::size_of;
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

use crate::auth::{SyncKey, TRAILER_LEN};
use crate::message::{SYNC_GROUP, SYNC_PORT};

fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

fn setsockopt<T: Copy>(
    fd: &impl AsRawFd,
    level: libc::c_int,
    name: libc::c_int,
    value: &T,
) -> io::Result<()> {
    // SAFETY: `value` is readable for size_of::<T>() bytes during the call.
    check(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (value as *const T).cast(),
            size_of::<T>() as libc::socklen_t,
        )
    })
    .map(drop)
}

fn ifindex(ifname: &str) -> io::Result<u32> {
    let name =
        std::ffi::CString::new(ifname).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: `name` is a valid C string for the call.
    let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
    if index == 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(index)
    }
}

fn bind_to_device(fd: &impl AsRawFd, ifname: &str) -> io::Result<()> {
    let name =
        std::ffi::CString::new(ifname).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let bytes = name.as_bytes_with_nul();
    // SAFETY: `bytes` is readable for its length during the call.
    check(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_BINDTODEVICE,
            bytes.as_ptr().cast(),
            bytes.len() as libc::socklen_t,
        )
    })
    .map(drop)
}

/// Where the sync traffic goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyncChannel {
    pub group: Ipv4Addr,
    pub port: u16,
    pub ttl: u8,
}

impl Default for SyncChannel {
    fn default() -> Self {
        SyncChannel {
            group: SYNC_GROUP,
            port: SYNC_PORT,
            ttl: 1,
        }
    }
}

/// A UDP socket on the sync channel of one interface.
#[derive(Debug)]
pub struct SyncSocket {
    socket: UdpSocket,
}

impl SyncSocket {
    /// A sending socket: multicast out of `ifname` from `source` (an address of that
    /// interface), to the channel's group and port.
    pub fn sender(ifname: &str, source: Ipv4Addr, channel: SyncChannel) -> io::Result<SyncSocket> {
        let index = ifindex(ifname)?;
        let socket = UdpSocket::bind(SocketAddrV4::new(source, 0))?;
        let mreq = libc::ip_mreqn {
            imr_multiaddr: libc::in_addr { s_addr: 0 },
            imr_address: libc::in_addr { s_addr: 0 },
            imr_ifindex: index as libc::c_int,
        };
        setsockopt(&socket, libc::IPPROTO_IP, libc::IP_MULTICAST_IF, &mreq)?;
        socket.set_multicast_ttl_v4(u32::from(channel.ttl))?;
        socket.set_multicast_loop_v4(false)?;
        // As the kernel (IP_PMTUDISC_DONT): fragment rather than lose a large message.
        let dont: libc::c_int = libc::IP_PMTUDISC_DONT;
        setsockopt(&socket, libc::IPPROTO_IP, libc::IP_MTU_DISCOVER, &dont)?;
        socket.connect(SocketAddrV4::new(channel.group, channel.port))?;
        Ok(SyncSocket { socket })
    }

    /// A receiving socket: bound to the channel's group and port on `ifname`, member of
    /// the group there. Several may share the port (SO_REUSEADDR, as the kernel).
    pub fn receiver(ifname: &str, channel: SyncChannel) -> io::Result<SyncSocket> {
        let index = ifindex(ifname)?;
        // SAFETY: plain syscall with integer arguments.
        let fd = check(unsafe {
            libc::socket(
                libc::AF_INET,
                libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
                libc::IPPROTO_UDP,
            )
        })?;
        // SAFETY: `fd` was just returned by socket(2) and is owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let on: libc::c_int = 1;
        setsockopt(&fd, libc::SOL_SOCKET, libc::SO_REUSEADDR, &on)?;
        bind_to_device(&fd, ifname)?;
        let addr = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: channel.port.to_be(),
            sin_addr: libc::in_addr {
                s_addr: u32::from_ne_bytes(channel.group.octets()),
            },
            sin_zero: [0; 8],
        };
        // SAFETY: `addr` is a valid sockaddr_in for the call.
        check(unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&addr as *const libc::sockaddr_in).cast(),
                size_of::<libc::sockaddr_in>() as libc::socklen_t,
            )
        })?;
        let mreq = libc::ip_mreqn {
            imr_multiaddr: addr.sin_addr,
            imr_address: libc::in_addr { s_addr: 0 },
            imr_ifindex: index as libc::c_int,
        };
        setsockopt(&fd, libc::IPPROTO_IP, libc::IP_ADD_MEMBERSHIP, &mreq)?;
        Ok(SyncSocket {
            socket: UdpSocket::from(fd),
        })
    }

    /// Send one message (a [`crate::MessageBuilder`] output or a resync request), with
    /// the authentication trailer when `key` is given. One datagram, no copy.
    pub fn send(&self, message: &[u8], key: Option<&SyncKey>) -> io::Result<usize> {
        let trailer = key.map(|k| k.trailer(message));
        let mut iov = [
            libc::iovec {
                iov_base: message.as_ptr().cast_mut().cast(),
                iov_len: message.len(),
            },
            libc::iovec {
                iov_base: trailer
                    .as_ref()
                    .map_or(std::ptr::null_mut(), |t| t.as_ptr().cast_mut().cast()),
                iov_len: if trailer.is_some() { TRAILER_LEN } else { 0 },
            },
        ];
        // SAFETY: msghdr is plain old data; all-zero is valid.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = iov.as_mut_ptr();
        msg.msg_iovlen = if trailer.is_some() { 2 } else { 1 };
        // SAFETY: the iovecs point to buffers that live across the call; the kernel
        // only reads them.
        let sent = unsafe { libc::sendmsg(self.socket.as_raw_fd(), &msg, libc::MSG_NOSIGNAL) };
        if sent < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(sent as usize)
        }
    }

    /// Receive one datagram, waiting at most `timeout` (`None`: block). `Ok(None)` on
    /// timeout.
    pub fn recv(
        &self,
        buf: &mut [u8],
        timeout: Option<Duration>,
    ) -> io::Result<Option<(usize, SocketAddrV4)>> {
        self.socket
            .set_read_timeout(timeout.map(|t| t.max(Duration::from_millis(1))))?;
        match self.socket.recv_from(buf) {
            Ok((n, std::net::SocketAddr::V4(from))) => Ok(Some((n, from))),
            Ok((_, std::net::SocketAddr::V6(_))) => Ok(None),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    pub fn local_addr(&self) -> io::Result<std::net::SocketAddr> {
        self.socket.local_addr()
    }
}
