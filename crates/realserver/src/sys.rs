//! Thin, checked wrappers over the syscalls the agent needs: the TUN device, raw
//! sockets, batched receive, poll, interface flags and sysctls. Every `unsafe` block of
//! the crate lives here.

use std::fs;
use std::io;
use std::mem::size_of;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::PathBuf;
use std::time::Duration;

use crate::config::MAX_BATCH;

/// Turns a `-1` syscall result into the thread's `errno`.
fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// Longest interface name the kernel accepts (IFNAMSIZ less the NUL).
pub(crate) const IFNAME_MAX: usize = libc::IFNAMSIZ - 1;

/// An `ifreq` with `name` filled in.
fn ifreq_named(name: &str) -> io::Result<libc::ifreq> {
    if name.is_empty() || name.len() > IFNAME_MAX || name.bytes().any(|b| b == 0 || b == b'/') {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("bad interface name {name:?} (1 to {IFNAME_MAX} bytes, no '/')"),
        ));
    }
    // SAFETY: ifreq is plain old data; all-zero is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(name.bytes()) {
        *dst = src as libc::c_char;
    }
    Ok(req)
}

/// The name the kernel wrote back into an `ifreq`.
fn ifreq_name(req: &libc::ifreq) -> String {
    let bytes: Vec<u8> = req
        .ifr_name
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Opens `/dev/net/tun` and attaches a new IFF_TUN | IFF_NO_PI device named `name`.
/// Returns the device's descriptor and its actual name. The device goes away when the
/// descriptor is closed.
pub(crate) fn tun_create(name: &str) -> io::Result<(OwnedFd, String)> {
    let mut req = ifreq_named(name)?;
    let fd = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/net/tun")
        .map_err(|e| io::Error::new(e.kind(), format!("/dev/net/tun: {e}")))?;
    req.ifr_ifru.ifru_flags = (libc::IFF_TUN | libc::IFF_NO_PI) as libc::c_short;
    // SAFETY: TUNSETIFF reads the name and flags from and writes the name into the
    // `ifreq` we own for the duration of the call.
    check(unsafe {
        libc::ioctl(
            fd.as_raw_fd(),
            libc::TUNSETIFF,
            &mut req as *mut libc::ifreq,
        )
    })
    .map_err(|e| io::Error::new(e.kind(), format!("TUNSETIFF {name}: {e}")))?;
    Ok((OwnedFd::from(fd), ifreq_name(&req)))
}

/// Sets IFF_UP on interface `name` (like `ip link set NAME up`).
pub(crate) fn link_up(name: &str) -> io::Result<()> {
    let probe = socket(libc::AF_INET, libc::SOCK_DGRAM, 0)?;
    let mut req = ifreq_named(name)?;
    // SAFETY: SIOCGIFFLAGS reads the name and writes `ifru_flags` of our `ifreq`.
    check(unsafe {
        libc::ioctl(
            probe.as_raw_fd(),
            libc::SIOCGIFFLAGS,
            &mut req as *mut libc::ifreq,
        )
    })?;
    // SAFETY: SIOCGIFFLAGS filled the `ifru_flags` member.
    let flags = unsafe { req.ifr_ifru.ifru_flags };
    req.ifr_ifru.ifru_flags = flags | libc::IFF_UP as libc::c_short;
    // SAFETY: SIOCSIFFLAGS reads the name and flags of our `ifreq`.
    check(unsafe {
        libc::ioctl(
            probe.as_raw_fd(),
            libc::SIOCSIFFLAGS,
            &mut req as *mut libc::ifreq,
        )
    })?;
    Ok(())
}

/// `socket(2)`, close-on-exec, owned.
pub(crate) fn socket(
    domain: libc::c_int,
    ty: libc::c_int,
    proto: libc::c_int,
) -> io::Result<OwnedFd> {
    // SAFETY: plain syscall with integer arguments.
    let fd = check(unsafe { libc::socket(domain, ty | libc::SOCK_CLOEXEC, proto) })?;
    // SAFETY: `fd` was just returned by socket(2) and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// A non-blocking raw socket of `domain` for IP protocol `proto` (4 or 41), with a
/// receive buffer of about `rcvbuf` bytes when the kernel allows it.
pub(crate) fn raw_socket(
    domain: libc::c_int,
    proto: libc::c_int,
    rcvbuf: libc::c_int,
) -> io::Result<OwnedFd> {
    let fd = socket(domain, libc::SOCK_RAW | libc::SOCK_NONBLOCK, proto)?;
    // A larger buffer absorbs bursts while the agent writes to the TUN device; failure
    // only means the default size.
    // SAFETY: the value points to a c_int for the whole call; the kernel copies it.
    let _ = check(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&rcvbuf as *const libc::c_int).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    });
    Ok(fd)
}

/// Receives up to `lens.len()` (at most [`MAX_BATCH`]) datagrams from the non-blocking
/// socket `fd` into consecutive `slot`-byte slots of `bufs`, writing each datagram's
/// length into `lens`. Returns how many arrived (0 when none was waiting). A datagram
/// longer than a slot is reported with its full length (MSG_TRUNC), so the caller can
/// tell.
pub(crate) fn recv_batch(
    fd: &impl AsRawFd,
    bufs: &mut [u8],
    slot: usize,
    lens: &mut [usize],
) -> io::Result<usize> {
    let n = lens.len().min(MAX_BATCH).min(bufs.len() / slot.max(1));
    if n == 0 {
        return Ok(0);
    }
    // SAFETY: iovec and mmsghdr are plain old data; all-zero is valid (null pointers,
    // zero lengths).
    let mut iov: [libc::iovec; MAX_BATCH] = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    let mut msgs: [libc::mmsghdr; MAX_BATCH] = unsafe { std::mem::zeroed() };
    for (i, (v, m)) in iov.iter_mut().zip(msgs.iter_mut()).take(n).enumerate() {
        v.iov_base = bufs[i * slot..].as_mut_ptr().cast();
        v.iov_len = slot;
        m.msg_hdr.msg_iov = v;
        m.msg_hdr.msg_iovlen = 1;
    }
    // SAFETY: the first `n` headers point to `n` iovecs, each covering `slot` writable
    // bytes of `bufs` (n * slot <= bufs.len()), all alive for the whole call; the
    // kernel writes at most that much and fills `msg_len`.
    let got = unsafe {
        libc::recvmmsg(
            fd.as_raw_fd(),
            msgs.as_mut_ptr(),
            n as libc::c_uint,
            libc::MSG_DONTWAIT | libc::MSG_TRUNC,
            std::ptr::null_mut(),
        )
    };
    if got < 0 {
        let err = io::Error::last_os_error();
        return match err.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(0),
            _ => Err(err),
        };
    }
    let got = got as usize;
    for (len, m) in lens.iter_mut().zip(&msgs).take(got) {
        *len = m.msg_len as usize;
    }
    Ok(got)
}

/// Writes one packet to the TUN device (one write, one packet).
pub(crate) fn write_packet(fd: &impl AsRawFd, packet: &[u8]) -> io::Result<()> {
    // SAFETY: `packet` is readable for its length for the whole call.
    let n = unsafe { libc::write(fd.as_raw_fd(), packet.as_ptr().cast(), packet.len()) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    if n as usize != packet.len() {
        return Err(io::Error::new(
            io::ErrorKind::WriteZero,
            "short write to the TUN device",
        ));
    }
    Ok(())
}

/// Waits until one of `fds` is readable or `timeout` passes; marks the readable ones in
/// their `revents`. Returns how many are ready (0 on timeout or signal).
pub(crate) fn poll(fds: &mut [libc::pollfd], timeout: Duration) -> io::Result<usize> {
    let ms = libc::c_int::try_from(timeout.as_millis()).unwrap_or(libc::c_int::MAX);
    // SAFETY: `fds` is a valid, writable array of `fds.len()` pollfd structs.
    let ret = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
    if ret < 0 {
        let err = io::Error::last_os_error();
        if err.kind() == io::ErrorKind::Interrupted {
            return Ok(0);
        }
        return Err(err);
    }
    Ok(ret as usize)
}

/// Sysctls changed by the agent, put back (in reverse order) when dropped.
#[derive(Debug, Default)]
pub(crate) struct SysctlGuard {
    saved: Vec<(PathBuf, String)>,
}

/// Path of a sysctl under /proc/sys given its dotted or slashed name. Interface names
/// with dots are not supported (none of ours have them).
fn sysctl_path(name: &str) -> PathBuf {
    PathBuf::from("/proc/sys").join(name.replace('.', "/"))
}

/// Reads a sysctl (trimmed).
pub(crate) fn sysctl_read(name: &str) -> io::Result<String> {
    let path = sysctl_path(name);
    fs::read_to_string(&path)
        .map(|s| s.trim().to_owned())
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))
}

/// Writes a sysctl.
pub(crate) fn sysctl_write(name: &str, value: &str) -> io::Result<()> {
    let path = sysctl_path(name);
    fs::write(&path, value)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))
}

impl SysctlGuard {
    /// Sets `name` to `value`, remembering the old value unless it was already `value`.
    pub(crate) fn set(&mut self, name: &str, value: &str) -> io::Result<()> {
        let old = sysctl_read(name)?;
        if old == value {
            return Ok(());
        }
        sysctl_write(name, value)?;
        self.saved.push((sysctl_path(name), old));
        Ok(())
    }

    /// Puts every changed sysctl back; errors are logged, not returned (this runs on
    /// the way out).
    pub(crate) fn restore(&mut self) {
        while let Some((path, old)) = self.saved.pop() {
            if let Err(e) = fs::write(&path, &old) {
                log::warn!("could not restore {} to {old}: {e}", path.display());
            }
        }
    }
}

impl Drop for SysctlGuard {
    fn drop(&mut self) {
        self.restore();
    }
}

pub(crate) mod signals {
    //! SIGTERM and SIGINT set a process-wide flag instead of ending the process, while a
    //! [`StopOnSignals`] is alive.

    use std::io;
    use std::sync::atomic::{AtomicBool, Ordering};

    static STOP_REQUESTED: AtomicBool = AtomicBool::new(false);

    extern "C" fn on_signal(_: libc::c_int) {
        // Only an atomic store: async-signal-safe.
        STOP_REQUESTED.store(true, Ordering::SeqCst);
    }

    /// Whether SIGTERM or SIGINT arrived since the handlers were installed.
    pub(crate) fn stop_requested() -> bool {
        STOP_REQUESTED.load(Ordering::SeqCst)
    }

    /// The installed handlers; the previous ones are put back on drop.
    pub(crate) struct StopOnSignals {
        previous: Vec<(libc::c_int, libc::sigaction)>,
    }

    impl std::fmt::Debug for StopOnSignals {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("StopOnSignals")
        }
    }

    impl StopOnSignals {
        pub(crate) fn install() -> io::Result<StopOnSignals> {
            STOP_REQUESTED.store(false, Ordering::SeqCst);
            let mut guard = StopOnSignals {
                previous: Vec::new(),
            };
            for sig in [libc::SIGTERM, libc::SIGINT] {
                // SAFETY: sigaction is plain old data; all-zero is valid.
                let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
                action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as usize;
                // No SA_RESTART: a blocking poll returns early with EINTR.
                action.sa_flags = 0;
                // SAFETY: `action.sa_mask` is a valid sigset_t we own.
                unsafe { libc::sigemptyset(&mut action.sa_mask) };
                // SAFETY: as above.
                let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
                // SAFETY: both pointers are valid for the call; the handler only does an
                // atomic store.
                if unsafe { libc::sigaction(sig, &action, &mut old) } < 0 {
                    return Err(io::Error::last_os_error());
                }
                guard.previous.push((sig, old));
            }
            Ok(guard)
        }
    }

    impl Drop for StopOnSignals {
        fn drop(&mut self) {
            for (sig, old) in self.previous.drain(..).rev() {
                // SAFETY: `old` was filled by sigaction for this signal.
                unsafe { libc::sigaction(sig, &old, std::ptr::null_mut()) };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interface_names_are_checked() {
        assert!(ifreq_named("rvstun0").is_ok());
        assert!(ifreq_named("").is_err());
        assert!(ifreq_named("a-name-that-is-too-long").is_err());
        assert!(ifreq_named("a/b").is_err());
        let req = ifreq_named("rvstun%d").unwrap();
        assert_eq!(ifreq_name(&req), "rvstun%d");
    }

    #[test]
    fn sysctl_names_map_to_proc_paths() {
        assert_eq!(
            sysctl_path("net.ipv4.conf.all.rp_filter"),
            PathBuf::from("/proc/sys/net/ipv4/conf/all/rp_filter")
        );
        assert_eq!(
            sysctl_path("net/ipv4/conf/rvstun0/rp_filter"),
            PathBuf::from("/proc/sys/net/ipv4/conf/rvstun0/rp_filter")
        );
    }
}
