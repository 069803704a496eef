//! The bpf(2) commands the XDP backend needs, as checked wrappers: create maps and read or
//! change their elements, load a program (with the verifier's log on failure), run it on a
//! test frame (BPF_PROG_TEST_RUN), and attach it to an interface through a bpf_link so it
//! is detached when the last descriptor closes (when the process dies).

use std::io;
use std::mem::size_of;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use super::asm::Insn;

const BPF_MAP_CREATE: libc::c_int = 0;
const BPF_MAP_LOOKUP_ELEM: libc::c_int = 1;
const BPF_MAP_UPDATE_ELEM: libc::c_int = 2;
const BPF_MAP_DELETE_ELEM: libc::c_int = 3;
const BPF_MAP_GET_NEXT_KEY: libc::c_int = 4;
const BPF_PROG_LOAD: libc::c_int = 5;
const BPF_PROG_TEST_RUN: libc::c_int = 10;
const BPF_LINK_CREATE: libc::c_int = 28;

pub const MAP_TYPE_HASH: u32 = 1;
pub const MAP_TYPE_XSKMAP: u32 = 17;
pub const PROG_TYPE_XDP: u32 = 6;
pub const ATTACH_TYPE_XDP: u32 = 37;

pub const XDP_FLAGS_SKB_MODE: u32 = 1 << 1;
pub const XDP_FLAGS_DRV_MODE: u32 = 1 << 2;

#[repr(C)]
#[derive(Default)]
struct MapCreateAttr {
    map_type: u32,
    key_size: u32,
    value_size: u32,
    max_entries: u32,
    map_flags: u32,
    inner_map_fd: u32,
    numa_node: u32,
    map_name: [u8; 16],
}

#[repr(C)]
#[derive(Default)]
struct MapElemAttr {
    map_fd: u32,
    _pad: u32,
    key: u64,
    value: u64,
    flags: u64,
}

#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

#[repr(C)]
#[derive(Default)]
struct TestRunAttr {
    prog_fd: u32,
    retval: u32,
    data_size_in: u32,
    data_size_out: u32,
    data_in: u64,
    data_out: u64,
    repeat: u32,
    duration: u32,
    ctx_size_in: u32,
    ctx_size_out: u32,
    ctx_in: u64,
    ctx_out: u64,
    flags: u32,
    cpu: u32,
    batch_size: u32,
    _pad: u32,
}

#[repr(C)]
#[derive(Default)]
struct LinkCreateAttr {
    prog_fd: u32,
    target_ifindex: u32,
    attach_type: u32,
    flags: u32,
    // The rest of the union, zero for XDP links.
    _rest: [u64; 4],
}

/// bpf(cmd, attr, sizeof attr). `T` is one of the attribute structs above.
fn bpf<T>(cmd: libc::c_int, attr: &mut T) -> io::Result<libc::c_long> {
    // SAFETY: `attr` points to a fully initialised attribute struct of the size passed;
    // the kernel reads it and (for some commands) writes results back into it. Pointers
    // inside it are set by the callers to buffers that outlive the call.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            (attr as *mut T).cast::<libc::c_void>(),
            size_of::<T>() as libc::c_uint,
        )
    };
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

fn owned_fd(ret: libc::c_long) -> io::Result<OwnedFd> {
    let fd = libc::c_int::try_from(ret).map_err(|_| io::Error::other("bad descriptor"))?;
    // SAFETY: the kernel just returned this new descriptor; nobody else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn name16(name: &str) -> [u8; 16] {
    let mut out = [0u8; 16];
    // Object names: up to 15 characters of [A-Za-z0-9_.].
    for (o, c) in out.iter_mut().zip(name.bytes().take(15)) {
        *o = if c.is_ascii_alphanumeric() || c == b'_' || c == b'.' {
            c
        } else {
            b'_'
        };
    }
    out
}

/// A BPF map: its descriptor and the sizes its elements must have.
#[derive(Debug)]
pub struct Map {
    fd: OwnedFd,
    key_size: usize,
    value_size: usize,
}

impl Map {
    /// BPF_MAP_CREATE.
    pub fn create(
        map_type: u32,
        name: &str,
        key_size: u32,
        value_size: u32,
        max_entries: u32,
    ) -> io::Result<Map> {
        let mut attr = MapCreateAttr {
            map_type,
            key_size,
            value_size,
            max_entries,
            map_name: name16(name),
            ..MapCreateAttr::default()
        };
        let ret = bpf(BPF_MAP_CREATE, &mut attr)
            .map_err(|e| io::Error::new(e.kind(), format!("creating BPF map {name}: {e}")))?;
        Ok(Map {
            fd: owned_fd(ret)?,
            key_size: key_size as usize,
            value_size: value_size as usize,
        })
    }

    /// The descriptor, as programs name the map.
    pub fn raw_fd(&self) -> i32 {
        self.fd.as_raw_fd()
    }

    fn check(&self, key: &[u8], value: Option<&[u8]>) -> io::Result<()> {
        if key.len() != self.key_size || value.is_some_and(|v| v.len() != self.value_size) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "BPF map key or value of the wrong size",
            ));
        }
        Ok(())
    }

    /// BPF_MAP_UPDATE_ELEM (BPF_ANY: create or replace).
    pub fn update(&self, key: &[u8], value: &[u8]) -> io::Result<()> {
        self.check(key, Some(value))?;
        let mut attr = MapElemAttr {
            map_fd: self.fd.as_raw_fd() as u32,
            key: key.as_ptr() as u64,
            value: value.as_ptr() as u64,
            ..MapElemAttr::default()
        };
        bpf(BPF_MAP_UPDATE_ELEM, &mut attr).map(drop)
    }

    /// BPF_MAP_DELETE_ELEM; a missing key is not an error.
    pub fn delete(&self, key: &[u8]) -> io::Result<()> {
        self.check(key, None)?;
        let mut attr = MapElemAttr {
            map_fd: self.fd.as_raw_fd() as u32,
            key: key.as_ptr() as u64,
            ..MapElemAttr::default()
        };
        match bpf(BPF_MAP_DELETE_ELEM, &mut attr) {
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(()),
            other => other.map(drop),
        }
    }

    /// BPF_MAP_LOOKUP_ELEM: whether `key` is present (its value copied into `value`).
    pub fn lookup(&self, key: &[u8], value: &mut [u8]) -> io::Result<bool> {
        self.check(key, Some(value))?;
        let mut attr = MapElemAttr {
            map_fd: self.fd.as_raw_fd() as u32,
            key: key.as_ptr() as u64,
            value: value.as_mut_ptr() as u64,
            ..MapElemAttr::default()
        };
        match bpf(BPF_MAP_LOOKUP_ELEM, &mut attr) {
            Ok(_) => Ok(true),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Every key (BPF_MAP_GET_NEXT_KEY from the start), at most `limit` of them.
    pub fn keys(&self, limit: usize) -> io::Result<Vec<Vec<u8>>> {
        let mut keys: Vec<Vec<u8>> = Vec::new();
        let mut next = vec![0u8; self.key_size];
        while keys.len() < limit {
            let mut attr = MapElemAttr {
                map_fd: self.fd.as_raw_fd() as u32,
                // A null key asks for the first one.
                key: keys.last().map_or(0, |k| k.as_ptr() as u64),
                value: next.as_mut_ptr() as u64,
                ..MapElemAttr::default()
            };
            match bpf(BPF_MAP_GET_NEXT_KEY, &mut attr) {
                Ok(_) => keys.push(next.clone()),
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => break,
                Err(e) => return Err(e),
            }
        }
        Ok(keys)
    }
}

/// A loaded BPF program.
#[derive(Debug)]
pub struct Program {
    fd: OwnedFd,
}

impl Program {
    /// BPF_PROG_LOAD of an XDP program. On a verifier rejection the error carries the tail
    /// of the verifier's log.
    pub fn load_xdp(name: &str, insns: &[Insn]) -> io::Result<Program> {
        let license = c"Dual MIT/GPL";
        let mut log = vec![0u8; 64 * 1024];
        let attempt = |log_level: u32, log: &mut [u8]| {
            let mut attr = ProgLoadAttr {
                prog_type: PROG_TYPE_XDP,
                insn_cnt: insns.len() as u32,
                insns: insns.as_ptr() as u64,
                license: license.as_ptr() as u64,
                log_level,
                log_size: if log_level > 0 { log.len() as u32 } else { 0 },
                log_buf: if log_level > 0 {
                    log.as_mut_ptr() as u64
                } else {
                    0
                },
                prog_name: name16(name),
                expected_attach_type: ATTACH_TYPE_XDP,
                ..ProgLoadAttr::default()
            };
            bpf(BPF_PROG_LOAD, &mut attr)
        };
        match attempt(0, &mut log) {
            Ok(ret) => Ok(Program { fd: owned_fd(ret)? }),
            Err(first) => {
                // Load again with the log on, to say why.
                let _ = attempt(1, &mut log);
                let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
                let text = String::from_utf8_lossy(&log[..end]);
                let tail: Vec<&str> = text.lines().rev().take(12).collect();
                let tail: Vec<&str> = tail.into_iter().rev().collect();
                Err(io::Error::new(
                    first.kind(),
                    format!(
                        "loading XDP program {name}: {first}; verifier: {}",
                        tail.join(" | ")
                    ),
                ))
            }
        }
    }

    pub fn raw_fd(&self) -> i32 {
        self.fd.as_raw_fd()
    }

    /// BPF_PROG_TEST_RUN on one frame: the program's return value (XDP action).
    pub fn test_run(&self, frame: &[u8]) -> io::Result<u32> {
        let mut out = vec![0u8; frame.len() + 512];
        let mut attr = TestRunAttr {
            prog_fd: self.fd.as_raw_fd() as u32,
            data_size_in: frame.len() as u32,
            data_size_out: out.len() as u32,
            data_in: frame.as_ptr() as u64,
            data_out: out.as_mut_ptr() as u64,
            repeat: 1,
            ..TestRunAttr::default()
        };
        bpf(BPF_PROG_TEST_RUN, &mut attr)?;
        Ok(attr.retval)
    }

    /// Attaches the program to interface `ifindex` through a bpf_link (BPF_LINK_CREATE):
    /// native (driver) mode when the driver has it, else generic (or only the mode `only`). The program stays
    /// attached while the returned link is open, and goes when the process does.
    pub fn attach_xdp(&self, ifindex: u32, only: Option<XdpMode>) -> io::Result<XdpLink> {
        let mut last = io::Error::other("no XDP mode tried");
        for (mode, flags) in [
            (XdpMode::Native, XDP_FLAGS_DRV_MODE),
            (XdpMode::Generic, XDP_FLAGS_SKB_MODE),
        ] {
            if only.is_some_and(|m| m != mode) {
                continue;
            }
            let mut attr = LinkCreateAttr {
                prog_fd: self.fd.as_raw_fd() as u32,
                target_ifindex: ifindex,
                attach_type: ATTACH_TYPE_XDP,
                flags,
                ..LinkCreateAttr::default()
            };
            match bpf(BPF_LINK_CREATE, &mut attr) {
                Ok(ret) => {
                    return Ok(XdpLink {
                        _fd: owned_fd(ret)?,
                        mode,
                        ifindex,
                    })
                }
                // Busy: another program owns the interface; no point trying generic mode.
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                    return Err(io::Error::new(
                        e.kind(),
                        format!("interface {ifindex} already has an XDP program: {e}"),
                    ))
                }
                Err(e) => last = e,
            }
        }
        Err(last)
    }
}

/// Where the kernel runs an attached XDP program.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XdpMode {
    /// In the driver, before an skb exists.
    Native,
    /// After the skb is built (any device, slower).
    Generic,
}

/// An XDP program attached to an interface; detached when dropped.
#[derive(Debug)]
pub struct XdpLink {
    _fd: OwnedFd,
    pub mode: XdpMode,
    pub ifindex: u32,
}

/// Raises RLIMIT_MEMLOCK to unlimited when allowed (CAP_SYS_RESOURCE), so that maps on
/// older kernels and the UMEM of processes without CAP_IPC_LOCK can be pinned. Returns
/// the limit in force afterwards (None: unlimited).
pub fn raise_memlock_limit() -> Option<u64> {
    let inf = libc::rlimit {
        rlim_cur: libc::RLIM_INFINITY,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: plain syscall on a valid struct.
    if unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &inf) } == 0 {
        return None;
    }
    let mut cur = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain syscall writing into a valid struct.
    if unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut cur) } != 0 {
        return Some(0);
    }
    if cur.rlim_max > cur.rlim_cur {
        let raised = libc::rlimit {
            rlim_cur: cur.rlim_max,
            rlim_max: cur.rlim_max,
        };
        // SAFETY: as above.
        if unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &raised) } == 0 {
            cur = raised;
        }
    }
    (cur.rlim_cur != libc::RLIM_INFINITY).then_some(cur.rlim_cur)
}
