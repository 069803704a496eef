//! Thin, checked wrappers over the few raw syscalls this crate needs (socket options,
//! mmap, poll). Every `unsafe` block of the crate that is not about ring memory lives here.

use std::io;
use std::mem::{size_of, MaybeUninit};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::ptr::NonNull;
use std::time::Duration;

/// Turns a `-1` syscall result into the thread's `errno`.
fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
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

/// `setsockopt(2)` with a plain-old-data value.
pub(crate) fn setsockopt<T: Copy>(
    fd: &impl AsRawFd,
    level: libc::c_int,
    name: libc::c_int,
    value: &T,
) -> io::Result<()> {
    // SAFETY: `value` points to `size_of::<T>()` readable bytes for the whole call; the
    // kernel copies them and keeps no reference.
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

/// `getsockopt(2)` into a plain-old-data value; `T` must be valid for any bit pattern.
pub(crate) fn getsockopt<T: Copy>(
    fd: &impl AsRawFd,
    level: libc::c_int,
    name: libc::c_int,
) -> io::Result<T> {
    let mut value = MaybeUninit::<T>::zeroed();
    let mut len = size_of::<T>() as libc::socklen_t;
    // SAFETY: `value` has room for `len` bytes; the kernel writes at most `len` bytes.
    check(unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            level,
            name,
            value.as_mut_ptr().cast(),
            &mut len,
        )
    })?;
    // SAFETY: zero-initialised and then (partly) written by the kernel; callers only use
    // integer structs, for which every bit pattern is valid.
    Ok(unsafe { value.assume_init() })
}

/// `bind(2)` of an AF_PACKET socket to one interface and ethertype.
pub(crate) fn bind_packet(fd: &impl AsRawFd, ifindex: i32, protocol_be: u16) -> io::Result<()> {
    // SAFETY: sockaddr_ll is plain old data; all-zero is a valid value.
    let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    addr.sll_family = libc::AF_PACKET as u16;
    addr.sll_protocol = protocol_be;
    addr.sll_ifindex = ifindex;
    // SAFETY: `addr` is a valid sockaddr_ll of the length passed.
    check(unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&addr as *const libc::sockaddr_ll).cast(),
            size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    })
    .map(drop)
}

/// A shared memory mapping of a packet socket's rings, unmapped on drop.
#[derive(Debug)]
pub(crate) struct Mmap {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: the mapping is plain memory owned by this value until drop; which parts may be
// touched by whom (the kernel, the RX half, the TX half) is governed by the ring protocol
// in the afpacket module, not by this handle, which only hands out the base pointer.
unsafe impl Send for Mmap {}
// SAFETY: as above; `&Mmap` only exposes the base pointer and the length.
unsafe impl Sync for Mmap {}

impl Mmap {
    /// Maps `len` bytes of `fd` read-write and shared (`MAP_LOCKED` is not used: it would
    /// need CAP_IPC_LOCK or a raised RLIMIT_MEMLOCK; the ring pages are kernel pages anyway).
    pub(crate) fn shared(fd: RawFd, len: usize) -> io::Result<Mmap> {
        Self::map(fd, len, 0, libc::MAP_SHARED | libc::MAP_POPULATE)
    }

    /// Maps `len` bytes of `fd` at page offset `offset` (AF_XDP rings).
    pub(crate) fn shared_at(fd: RawFd, len: usize, offset: u64) -> io::Result<Mmap> {
        let offset = libc::off_t::try_from(offset)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "mmap offset"))?;
        Self::map(fd, len, offset, libc::MAP_SHARED | libc::MAP_POPULATE)
    }

    /// Anonymous private memory, populated (an AF_XDP UMEM).
    pub(crate) fn anonymous(len: usize) -> io::Result<Mmap> {
        Self::map(
            -1,
            len,
            0,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_POPULATE,
        )
    }

    fn map(fd: RawFd, len: usize, offset: libc::off_t, flags: libc::c_int) -> io::Result<Mmap> {
        // SAFETY: a fresh mapping chosen by the kernel; no existing memory is affected.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                flags,
                fd,
                offset,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let ptr =
            NonNull::new(ptr.cast::<u8>()).ok_or_else(|| io::Error::other("mmap returned null"))?;
        Ok(Mmap { ptr, len })
    }

    pub(crate) fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }
}

impl Drop for Mmap {
    fn drop(&mut self) {
        // SAFETY: `ptr`/`len` describe exactly the mapping created in `shared`, and no
        // reference into it outlives `self` (the rings borrow it through an Arc).
        unsafe {
            libc::munmap(self.ptr.as_ptr().cast(), self.len);
        }
    }
}

/// Waits until `fd` has `events` (POLLIN or POLLOUT) or `timeout` passes (`None`: forever).
/// Returns whether the descriptor became ready. EINTR counts as "not ready".
pub(crate) fn poll_one(
    fd: RawFd,
    events: libc::c_short,
    timeout: Option<Duration>,
) -> io::Result<bool> {
    let mut pfd = libc::pollfd {
        fd,
        events,
        revents: 0,
    };
    let ms = match timeout {
        None => -1,
        Some(t) => i32::try_from(t.as_millis()).unwrap_or(i32::MAX),
    };
    // SAFETY: one valid pollfd for the duration of the call.
    let ret = unsafe { libc::poll(&mut pfd, 1, ms) };
    if ret < 0 {
        let err = io::Error::last_os_error();
        if err.kind() == io::ErrorKind::Interrupted {
            return Ok(false);
        }
        return Err(err);
    }
    if pfd.revents & (libc::POLLERR | libc::POLLNVAL) != 0 && pfd.revents & events == 0 {
        return Err(io::Error::other(format!(
            "poll: revents {:#x}",
            pfd.revents
        )));
    }
    Ok(pfd.revents & events != 0)
}

/// `send(fd, NULL, 0, MSG_DONTWAIT)`: asks the kernel to transmit every TX-ring slot
/// marked TP_STATUS_SEND_REQUEST. Returns the bytes queued.
pub(crate) fn kick_tx(fd: RawFd) -> io::Result<usize> {
    // SAFETY: a zero-length send with a null buffer is the documented TX-ring kick; the
    // kernel reads no user buffer.
    let ret = unsafe { libc::send(fd, std::ptr::null(), 0, libc::MSG_DONTWAIT) };
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret as usize)
    }
}

/// Resolves an interface name to its index (`if_nametoindex(3)`).
pub(crate) fn ifindex_of(name: &str) -> io::Result<u32> {
    let cname = interface_cstring(name)?;
    // SAFETY: `cname` is a valid NUL-terminated string for the call.
    let index = unsafe { libc::if_nametoindex(cname.as_ptr()) };
    if index == 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(index)
}

/// Validates an interface name (non-empty, shorter than IFNAMSIZ, no NUL).
pub(crate) fn interface_cstring(name: &str) -> io::Result<std::ffi::CString> {
    if name.is_empty() || name.len() >= libc::IFNAMSIZ {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("bad interface name {name:?}"),
        ));
    }
    std::ffi::CString::new(name).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("bad interface name {name:?}"),
        )
    })
}

/// Waits until one of `fds` is ready or `timeout` passes (`None`: forever). Returns
/// whether one is. EINTR counts as "not ready".
pub(crate) fn poll_many(fds: &mut [libc::pollfd], timeout: Option<Duration>) -> io::Result<bool> {
    let ms = match timeout {
        None => -1,
        Some(t) => i32::try_from(t.as_millis()).unwrap_or(i32::MAX),
    };
    for f in fds.iter_mut() {
        f.revents = 0;
    }
    // SAFETY: `fds` is a valid, initialised array of pollfd of the given length for the
    // duration of the call.
    let ret = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
    if ret < 0 {
        let err = io::Error::last_os_error();
        if err.kind() == io::ErrorKind::Interrupted {
            return Ok(false);
        }
        return Err(err);
    }
    Ok(ret > 0)
}

/// Asks the CPU to start loading the cache line at `p`; never faults, whatever the address
/// (no effect on other targets).
#[inline(always)]
pub(crate) fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: PREFETCHT0 is a hint: it reads nothing architecturally and never faults;
    // SSE is part of the x86_64 baseline.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}
