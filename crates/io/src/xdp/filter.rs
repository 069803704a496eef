//! The director's XDP program: it sends to the AF_XDP sockets exactly the traffic the
//! director handles, and passes everything else to the kernel untouched, so the host stays
//! usable (ssh, the control socket, health checks) and the kernel never sees a VIP packet
//! (no RST for a VIP port, no un-NATed reply forwarded).
//!
//! Redirected to the socket of the receiving queue (`bpf_redirect_map` on an XSKMAP):
//! - IPv4/IPv6 packets to a VIP (hash maps `vip4`, `vip6`);
//! - ARP requests and IPv6 neighbour solicitations for a VIP (the director answers them);
//! - from a NAT real server (`real4`/`real6`, keyed on address, protocol and source port,
//!   port 0 meaning every port) to anyone but the host itself (`local4`/`local6`): the NAT
//!   replies; also its ICMP errors (destination unreachable, source quench, time exceeded,
//!   parameter problem; ICMPv6 types 1-4) and the later fragments of its packets (the core
//!   counts and drops those), found through the address-only key (address, 0, 0).
//!
//! Up to two VLAN tags are skipped. IPv6 extension headers other than a fragment header
//! are not walked (such packets to a VIP are still redirected: the VIP test needs only the
//! fixed header). When the queue has no socket (the director is starting or stopping),
//! director traffic is dropped rather than handed to a kernel that would mishandle it.
//!
//! One program per interface (each names its own XSKMAP, since every veth has a queue 0);
//! the address maps are shared. About 150 instructions; unit-tested with
//! BPF_PROG_TEST_RUN in a variant that returns `XDP_TX` where the real one redirects.

use std::collections::BTreeSet;
use std::io;
use std::net::IpAddr;
use std::sync::Mutex;

use super::asm::*;
use super::bpfsys::{Map, Program, XdpLink, XdpMode, MAP_TYPE_HASH, MAP_TYPE_XSKMAP};

/// XDP actions.
pub const XDP_DROP: u32 = 1;
pub const XDP_PASS: u32 = 2;
pub const XDP_TX: u32 = 3;
pub const XDP_REDIRECT: u32 = 4;

const HELPER_MAP_LOOKUP: i32 = 1;
const HELPER_REDIRECT_MAP: i32 = 51;

/// Queue slots of an interface's XSKMAP (keys are `rx_queue_index`).
pub const MAX_QUEUES: u32 = 256;

// `struct xdp_md` offsets.
const MD_DATA: i16 = 0;
const MD_DATA_END: i16 = 4;
const MD_RX_QUEUE: i16 = 16;

// Stack slots for map keys (offsets from r10).
const K_ADDR4: i16 = -4; // 4 bytes
const K_REAL4: i16 = -16; // 8 bytes: addr, proto, 0, port
const K_ADDR6: i16 = -32; // 16 bytes
const K_REAL6: i16 = -56; // 20 bytes: addr, proto, 0, port

const REAL4_KEY: u32 = 8;
const REAL6_KEY: u32 = 20;

/// What the director handles, as the XDP program sees it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FilterSet {
    /// Virtual addresses (and firewall-mark /32, /128 destinations).
    pub vips: BTreeSet<IpAddr>,
    /// NAT real servers: (address, IP protocol, port), port 0 for every port.
    pub reals: BTreeSet<(IpAddr, u8, u16)>,
    /// The director host's own addresses: replies to them belong to the host (its health
    /// checks, its own connections to real servers).
    pub local: BTreeSet<IpAddr>,
}

/// Capacity of the filter maps.
#[derive(Clone, Copy, Debug)]
pub struct FilterLimits {
    pub vips: u32,
    pub reals: u32,
    pub local: u32,
}

impl Default for FilterLimits {
    fn default() -> Self {
        FilterLimits {
            vips: 4096,
            reals: 16384,
            local: 256,
        }
    }
}

/// The address maps shared by every interface's program.
#[derive(Debug)]
struct AddrMaps {
    vip4: Map,
    vip6: Map,
    real4: Map,
    real6: Map,
    local4: Map,
    local6: Map,
}

/// One interface's program, its XSKMAP and (once attached) its link.
#[derive(Debug)]
struct PortProgram {
    ifindex: u32,
    xsks: Map,
    prog: Program,
    link: Option<XdpLink>,
}

/// The director's XDP filter: shared address maps, one program per interface.
#[derive(Debug)]
pub struct XdpFilter {
    maps: AddrMaps,
    ports: Mutex<Vec<PortProgram>>,
    current: Mutex<FilterSet>,
}

/// The key bytes of an address map entry (network order, as in the packet).
fn addr_key(a: &IpAddr) -> Vec<u8> {
    match a {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets().to_vec(),
    }
}

/// The key bytes of a real-server entry: address, protocol, 0, port (network order).
fn real_key(a: &IpAddr, proto: u8, port: u16) -> Vec<u8> {
    let mut k = addr_key(a);
    k.push(proto);
    k.push(0);
    k.extend_from_slice(&port.to_be_bytes());
    k
}

/// The real-server keys a set stands for: each entry, and (address, 0, 0) per address.
fn real_keys(set: &FilterSet) -> BTreeSet<(IpAddr, u8, u16)> {
    let mut keys = set.reals.clone();
    for (a, _, _) in &set.reals {
        keys.insert((*a, 0, 0));
    }
    keys
}

const VALUE: [u8; 4] = [1, 0, 0, 0];

impl XdpFilter {
    /// Creates the shared maps (empty). Programs are added per interface with
    /// [`add_interface`](Self::add_interface).
    pub fn new(limits: FilterLimits) -> io::Result<XdpFilter> {
        let hash = |name: &str, key: u32, max: u32| Map::create(MAP_TYPE_HASH, name, key, 4, max);
        Ok(XdpFilter {
            maps: AddrMaps {
                vip4: hash("rvs_vip4", 4, limits.vips)?,
                vip6: hash("rvs_vip6", 16, limits.vips)?,
                real4: hash("rvs_real4", REAL4_KEY, limits.reals)?,
                real6: hash("rvs_real6", REAL6_KEY, limits.reals)?,
                local4: hash("rvs_local4", 4, limits.local)?,
                local6: hash("rvs_local6", 16, limits.local)?,
            },
            ports: Mutex::new(Vec::new()),
            current: Mutex::new(FilterSet::default()),
        })
    }

    /// Loads the program for interface `ifindex` (not attached yet). Returns its index.
    pub fn add_interface(&self, ifindex: u32) -> io::Result<usize> {
        let xsks = Map::create(MAP_TYPE_XSKMAP, "rvs_xsks", 4, 4, MAX_QUEUES)?;
        let insns = build(&self.maps, Some(xsks.raw_fd()))
            .map_err(|e| io::Error::other(format!("assembling the XDP program: {e}")))?;
        let prog = Program::load_xdp("rvs_director", &insns)?;
        let mut ports = self.lock_ports();
        ports.push(PortProgram {
            ifindex,
            xsks,
            prog,
            link: None,
        });
        Ok(ports.len() - 1)
    }

    fn lock_ports(&self) -> std::sync::MutexGuard<'_, Vec<PortProgram>> {
        self.ports.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Puts socket `fd` at `queue` of interface `ifindex`'s XSKMAP.
    pub fn register_socket(&self, ifindex: u32, queue: u32, fd: i32) -> io::Result<()> {
        let ports = self.lock_ports();
        let p = ports
            .iter()
            .find(|p| p.ifindex == ifindex)
            .ok_or_else(|| io::Error::other(format!("no XDP program for interface {ifindex}")))?;
        p.xsks.update(&queue.to_ne_bytes(), &fd.to_ne_bytes())
    }

    /// Attaches every interface's program (native mode where the driver has it, or only
    /// the mode `only`). Returns the mode per interface.
    pub fn attach_all(&self, only: Option<XdpMode>) -> io::Result<Vec<(u32, XdpMode)>> {
        let mut ports = self.lock_ports();
        let mut modes = Vec::new();
        for p in ports.iter_mut() {
            if p.link.is_none() {
                p.link = Some(p.prog.attach_xdp(p.ifindex, only)?);
            }
            if let Some(l) = &p.link {
                modes.push((p.ifindex, l.mode));
            }
        }
        Ok(modes)
    }

    /// Detaches every program (also done on drop).
    pub fn detach_all(&self) {
        for p in self.lock_ports().iter_mut() {
            p.link = None;
        }
    }

    /// Brings the maps to `want`, changing only what differs from the last call.
    pub fn apply(&self, want: &FilterSet) -> io::Result<()> {
        let mut cur = self.current.lock().unwrap_or_else(|p| p.into_inner());
        let m = &self.maps;
        // Additions first, removals after: a change never opens a gap.
        for a in want.vips.difference(&cur.vips) {
            let map = if a.is_ipv4() { &m.vip4 } else { &m.vip6 };
            map.update(&addr_key(a), &VALUE)?;
        }
        for a in want.local.difference(&cur.local) {
            let map = if a.is_ipv4() { &m.local4 } else { &m.local6 };
            map.update(&addr_key(a), &VALUE)?;
        }
        let (want_real, cur_real) = (real_keys(want), real_keys(&cur));
        for (a, proto, port) in want_real.difference(&cur_real) {
            let map = if a.is_ipv4() { &m.real4 } else { &m.real6 };
            map.update(&real_key(a, *proto, *port), &VALUE)?;
        }
        for a in cur.vips.difference(&want.vips) {
            let map = if a.is_ipv4() { &m.vip4 } else { &m.vip6 };
            map.delete(&addr_key(a))?;
        }
        for a in cur.local.difference(&want.local) {
            let map = if a.is_ipv4() { &m.local4 } else { &m.local6 };
            map.delete(&addr_key(a))?;
        }
        for (a, proto, port) in cur_real.difference(&want_real) {
            let map = if a.is_ipv4() { &m.real4 } else { &m.real6 };
            map.delete(&real_key(a, *proto, *port))?;
        }
        *cur = want.clone();
        Ok(())
    }

    /// Entries in the address maps (vip, real, local), read back from the kernel.
    pub fn map_sizes(&self) -> io::Result<(usize, usize, usize)> {
        let m = &self.maps;
        let n = |map: &Map| map.keys(1 << 20).map(|k| k.len());
        Ok((
            n(&m.vip4)? + n(&m.vip6)?,
            n(&m.real4)? + n(&m.real6)?,
            n(&m.local4)? + n(&m.local6)?,
        ))
    }
}

/// Emits `r0 = map_lookup(map, r10 + key)`.
fn lookup(a: &mut Asm, map: &Map, key: i16) {
    a.load_map_fd(R1, map.raw_fd());
    a.mov(R2, R10);
    a.alu_imm(ADD, R2, i32::from(key));
    a.call(HELPER_MAP_LOOKUP);
}

/// Emits `if ptr + len > data_end goto fail`, reloading data_end (calls clobber r3).
fn need(a: &mut Asm, ptr: Reg, len: i32, fail: Label) {
    a.load(W, R3, R6, MD_DATA_END);
    a.mov(R4, ptr);
    a.alu_imm(ADD, R4, len);
    a.jmp_reg(JGT, R4, R3, fail);
}

/// Copies 16 bytes at `src + off` (packet) to the stack at `key`.
fn copy16(a: &mut Asm, src: Reg, off: i16, key: i16) {
    a.load(DW, R5, src, off);
    a.store(DW, R10, key, R5);
    a.load(DW, R5, src, off + 8);
    a.store(DW, R10, key + 8, R5);
}

/// The program. `xsks`: the XSKMAP to redirect into; `None` builds the test variant,
/// which returns `XDP_TX` instead of redirecting.
fn build(m: &AddrMaps, xsks: Option<i32>) -> Result<Vec<Insn>, AsmError> {
    let mut a = Asm::new();
    let pass = a.label();
    let redirect = a.label();
    let untagged = a.label();
    let v4 = a.label();
    let v6 = a.label();
    let arp = a.label();

    a.mov(R6, R1);
    a.load(W, R7, R6, MD_DATA);
    // Ethernet, then up to two VLAN tags: r7 moves 4 bytes per tag, so the (inner) ether
    // type is always at r7 + 12 and the network header at r7 + 14.
    need(&mut a, R7, 14, pass);
    a.load(H, R5, R7, 12);
    for _ in 0..2 {
        let tagged = a.label();
        a.jmp_imm(JEQ, R5, be16(0x8100), tagged);
        a.jmp_imm(JNE, R5, be16(0x88a8), untagged);
        a.bind(tagged);
        a.alu_imm(ADD, R7, 4);
        need(&mut a, R7, 14, pass);
        a.load(H, R5, R7, 12);
    }
    a.bind(untagged);
    a.mov(R8, R7);
    a.alu_imm(ADD, R8, 14);
    a.jmp_imm(JEQ, R5, be16(0x0800), v4);
    a.jmp_imm(JEQ, R5, be16(0x86dd), v6);
    a.jmp_imm(JEQ, R5, be16(0x0806), arp);
    a.ja(pass);

    // ---- IPv4: r8 = header, r9 = protocol.
    a.bind(v4);
    need(&mut a, R8, 20, pass);
    a.load(W, R5, R8, 16);
    a.store(W, R10, K_ADDR4, R5);
    lookup(&mut a, &m.vip4, K_ADDR4);
    a.jmp_imm(JNE, R0, 0, redirect);
    // From a NAT real server at all? (address-only key)
    a.load(W, R5, R8, 12);
    a.store(W, R10, K_REAL4, R5);
    a.store_imm(W, R10, K_REAL4 + 4, 0);
    lookup(&mut a, &m.real4, K_REAL4);
    a.jmp_imm(JEQ, R0, 0, pass);
    // To the host itself: its own conversation with the real server.
    lookup(&mut a, &m.local4, K_ADDR4);
    a.jmp_imm(JNE, R0, 0, pass);
    a.load(B, R9, R8, 9);
    // Later fragments carry no ports: the director takes them (and drops them).
    a.load(H, R5, R8, 6);
    a.alu_imm(AND, R5, be16(0x1fff));
    a.jmp_imm(JNE, R5, 0, redirect);
    // r4 = transport header (IHL in 20..=60).
    a.load(B, R5, R8, 0);
    a.alu_imm(AND, R5, 0x0f);
    a.alu_imm(LSH, R5, 2);
    a.jmp_imm(JLT, R5, 20, pass);
    a.mov(R7, R8);
    a.alu(ADD, R7, R5);
    let v4_ports = a.label();
    a.jmp_imm(JEQ, R9, 6, v4_ports);
    a.jmp_imm(JEQ, R9, 17, v4_ports);
    a.jmp_imm(JNE, R9, 1, pass);
    // ICMP errors from the real server go to the director (it NATs them).
    need(&mut a, R7, 1, pass);
    a.load(B, R5, R7, 0);
    for t in [3, 4, 11, 12] {
        a.jmp_imm(JEQ, R5, t, redirect);
    }
    a.ja(pass);
    a.bind(v4_ports);
    need(&mut a, R7, 4, pass);
    a.load(H, R5, R7, 0);
    a.store(B, R10, K_REAL4 + 4, R9);
    a.store(H, R10, K_REAL4 + 6, R5);
    lookup(&mut a, &m.real4, K_REAL4);
    a.jmp_imm(JNE, R0, 0, redirect);
    a.store_imm(H, R10, K_REAL4 + 6, 0);
    lookup(&mut a, &m.real4, K_REAL4);
    a.jmp_imm(JNE, R0, 0, redirect);
    a.ja(pass);

    // ---- IPv6: r8 = header, r9 = next header.
    a.bind(v6);
    need(&mut a, R8, 40, pass);
    copy16(&mut a, R8, 24, K_ADDR6);
    lookup(&mut a, &m.vip6, K_ADDR6);
    a.jmp_imm(JNE, R0, 0, redirect);
    a.load(B, R9, R8, 6);
    let not_ns = a.label();
    a.jmp_imm(JNE, R9, 58, not_ns);
    // A neighbour solicitation for a VIP: type 135, target at +8.
    need(&mut a, R8, 64, not_ns);
    a.load(B, R5, R8, 40);
    a.jmp_imm(JNE, R5, 135, not_ns);
    copy16(&mut a, R8, 48, K_ADDR6);
    lookup(&mut a, &m.vip6, K_ADDR6);
    a.jmp_imm(JNE, R0, 0, redirect);
    a.bind(not_ns);
    copy16(&mut a, R8, 8, K_REAL6);
    a.store_imm(W, R10, K_REAL6 + 16, 0);
    lookup(&mut a, &m.real6, K_REAL6);
    a.jmp_imm(JEQ, R0, 0, pass);
    copy16(&mut a, R8, 24, K_ADDR6);
    lookup(&mut a, &m.local6, K_ADDR6);
    a.jmp_imm(JNE, R0, 0, pass);
    a.jmp_imm(JEQ, R9, 44, redirect);
    let v6_ports = a.label();
    a.jmp_imm(JEQ, R9, 6, v6_ports);
    a.jmp_imm(JEQ, R9, 17, v6_ports);
    a.jmp_imm(JNE, R9, 58, pass);
    need(&mut a, R8, 41, pass);
    a.load(B, R5, R8, 40);
    a.jmp_imm(JLT, R5, 1, pass);
    a.jmp_imm(JGT, R5, 4, pass);
    a.ja(redirect);
    a.bind(v6_ports);
    need(&mut a, R8, 44, pass);
    a.load(H, R5, R8, 40);
    a.store(B, R10, K_REAL6 + 16, R9);
    a.store(H, R10, K_REAL6 + 18, R5);
    lookup(&mut a, &m.real6, K_REAL6);
    a.jmp_imm(JNE, R0, 0, redirect);
    a.store_imm(H, R10, K_REAL6 + 18, 0);
    lookup(&mut a, &m.real6, K_REAL6);
    a.jmp_imm(JNE, R0, 0, redirect);
    a.ja(pass);

    // ---- ARP: requests for a VIP.
    a.bind(arp);
    need(&mut a, R8, 28, pass);
    a.load(H, R5, R8, 6);
    a.jmp_imm(JNE, R5, be16(1), pass);
    a.load(W, R5, R8, 24);
    a.store(W, R10, K_ADDR4, R5);
    lookup(&mut a, &m.vip4, K_ADDR4);
    a.jmp_imm(JNE, R0, 0, redirect);
    a.ja(pass);

    // ---- Verdicts.
    a.bind(redirect);
    match xsks {
        Some(fd) => {
            a.load_map_fd(R1, fd);
            a.load(W, R2, R6, MD_RX_QUEUE);
            a.mov_imm(R3, XDP_DROP as i32);
            a.call(HELPER_REDIRECT_MAP);
            a.exit();
        }
        None => {
            a.mov_imm(R0, XDP_TX as i32);
            a.exit();
        }
    }
    a.bind(pass);
    a.mov_imm(R0, XDP_PASS as i32);
    a.exit();
    a.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn program_assembles_within_bounds() {
        // Map descriptors are only numbers to the assembler: fake maps are not needed to
        // count instructions, so build with real ones only when root (below). Here: keys.
        assert_eq!(
            real_key(&ip("198.51.100.11"), 6, 80),
            vec![198, 51, 100, 11, 6, 0, 0, 80]
        );
        assert_eq!(
            real_key(&ip("2001:db8::1"), 17, 0).len(),
            REAL6_KEY as usize
        );
        let set = FilterSet {
            reals: [
                (ip("198.51.100.11"), 6, 80),
                (ip("198.51.100.11"), 17, 5000),
            ]
            .into(),
            ..FilterSet::default()
        };
        let keys = real_keys(&set);
        assert_eq!(keys.len(), 3);
        assert!(keys.contains(&(ip("198.51.100.11"), 0, 0)));
    }

    /// Root only: the kernel's verifier accepts the program, and BPF_PROG_TEST_RUN shows
    /// what it does with each kind of frame.
    fn test_filter() -> Option<(XdpFilter, Program)> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "skipping: XDP program tests need root");
            return None;
        }
        let f = XdpFilter::new(FilterLimits::default()).unwrap();
        let insns = build(&f.maps, None).unwrap();
        let prog = Program::load_xdp("rvs_test", &insns).unwrap();
        // The real variant must pass the verifier too.
        let xsks = Map::create(MAP_TYPE_XSKMAP, "rvs_xsks", 4, 4, 4).unwrap();
        Program::load_xdp("rvs_real", &build(&f.maps, Some(xsks.raw_fd())).unwrap()).unwrap();
        f.apply(&FilterSet {
            vips: [ip("192.0.2.10"), ip("2001:db8:10::10")].into(),
            reals: [
                (ip("198.51.100.11"), 6, 80),
                (ip("198.51.100.12"), 17, 0),
                (ip("2001:db8:2::11"), 6, 8080),
            ]
            .into(),
            local: [ip("198.51.100.1"), ip("2001:db8:2::1")].into(),
        })
        .unwrap();
        Some((f, prog))
    }

    fn eth(ether_type: u16, vlans: usize) -> Vec<u8> {
        let mut f = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2];
        for _ in 0..vlans {
            f.extend_from_slice(&[0x81, 0x00, 0x00, 0x05]);
        }
        f.extend_from_slice(&ether_type.to_be_bytes());
        f
    }

    fn v4(src: &str, dst: &str, proto: u8, l4: &[u8], frag: u16, vlans: usize) -> Vec<u8> {
        let (s, d): (Ipv4Addr, Ipv4Addr) = (src.parse().unwrap(), dst.parse().unwrap());
        let mut f = eth(0x0800, vlans);
        let total = 20 + l4.len() as u16;
        f.extend_from_slice(&[0x45, 0]);
        f.extend_from_slice(&total.to_be_bytes());
        f.extend_from_slice(&[0, 0]);
        f.extend_from_slice(&frag.to_be_bytes());
        f.extend_from_slice(&[64, proto, 0, 0]);
        f.extend_from_slice(&s.octets());
        f.extend_from_slice(&d.octets());
        f.extend_from_slice(l4);
        f
    }

    fn v6(src: &str, dst: &str, next: u8, l4: &[u8]) -> Vec<u8> {
        let (s, d): (Ipv6Addr, Ipv6Addr) = (src.parse().unwrap(), dst.parse().unwrap());
        let mut f = eth(0x86dd, 0);
        f.extend_from_slice(&[0x60, 0, 0, 0]);
        f.extend_from_slice(&(l4.len() as u16).to_be_bytes());
        f.extend_from_slice(&[next, 64]);
        f.extend_from_slice(&s.octets());
        f.extend_from_slice(&d.octets());
        f.extend_from_slice(l4);
        f
    }

    fn ports(sport: u16, dport: u16) -> Vec<u8> {
        let mut p = sport.to_be_bytes().to_vec();
        p.extend_from_slice(&dport.to_be_bytes());
        p.extend_from_slice(&[0u8; 16]);
        p
    }

    fn arp_request(target: &str) -> Vec<u8> {
        let t: Ipv4Addr = target.parse().unwrap();
        let mut f = eth(0x0806, 0);
        f.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1]);
        f.extend_from_slice(&[2, 0, 0, 0, 0, 2, 203, 0, 113, 2]);
        f.extend_from_slice(&[0; 6]);
        f.extend_from_slice(&t.octets());
        f
    }

    #[test]
    fn steers_director_traffic_and_passes_the_rest() {
        let Some((_f, prog)) = test_filter() else {
            return;
        };
        let run = |frame: &[u8]| prog.test_run(frame).unwrap();
        let tcp = 6;
        let udp = 17;
        // To a VIP, any protocol, with and without VLAN tags.
        assert_eq!(
            run(&v4(
                "203.0.113.2",
                "192.0.2.10",
                tcp,
                &ports(40000, 80),
                0,
                0
            )),
            XDP_TX
        );
        assert_eq!(
            run(&v4("203.0.113.2", "192.0.2.10", udp, &ports(1, 5000), 0, 1)),
            XDP_TX
        );
        assert_eq!(
            run(&v4("203.0.113.2", "192.0.2.10", 47, &[0; 8], 0, 2)),
            XDP_TX
        );
        // NAT replies from a real server's service port (and any port of a port-0 entry).
        assert_eq!(
            run(&v4(
                "198.51.100.11",
                "203.0.113.2",
                tcp,
                &ports(80, 40000),
                0,
                0
            )),
            XDP_TX
        );
        assert_eq!(
            run(&v4(
                "198.51.100.12",
                "203.0.113.2",
                udp,
                &ports(9, 40000),
                0,
                0
            )),
            XDP_TX
        );
        // ... but not its other ports, nor its traffic to the director host itself.
        assert_eq!(
            run(&v4(
                "198.51.100.11",
                "203.0.113.2",
                tcp,
                &ports(22, 40000),
                0,
                0
            )),
            XDP_PASS
        );
        assert_eq!(
            run(&v4(
                "198.51.100.11",
                "198.51.100.1",
                tcp,
                &ports(80, 40000),
                0,
                0
            )),
            XDP_PASS
        );
        // ICMP errors from a real server; echo replies stay the host's.
        assert_eq!(
            run(&v4(
                "198.51.100.11",
                "203.0.113.2",
                1,
                &[3, 4, 0, 0, 0, 0, 0, 0],
                0,
                0
            )),
            XDP_TX
        );
        assert_eq!(
            run(&v4(
                "198.51.100.11",
                "203.0.113.2",
                1,
                &[0, 0, 0, 0, 0, 0, 0, 0],
                0,
                0
            )),
            XDP_PASS
        );
        // Later fragments of a real server's packets.
        assert_eq!(
            run(&v4("198.51.100.11", "203.0.113.2", tcp, &[0; 8], 0x00b9, 0)),
            XDP_TX
        );
        // Other hosts' traffic.
        assert_eq!(
            run(&v4(
                "203.0.113.2",
                "198.51.100.1",
                tcp,
                &ports(40000, 22),
                0,
                0
            )),
            XDP_PASS
        );
        assert_eq!(
            run(&v4(
                "198.51.100.99",
                "203.0.113.2",
                tcp,
                &ports(80, 40000),
                0,
                0
            )),
            XDP_PASS
        );
        // ARP: requests for a VIP only.
        assert_eq!(run(&arp_request("192.0.2.10")), XDP_TX);
        assert_eq!(run(&arp_request("203.0.113.1")), XDP_PASS);
        // IPv6.
        assert_eq!(
            run(&v6(
                "2001:db8:1::2",
                "2001:db8:10::10",
                tcp,
                &ports(40000, 80)
            )),
            XDP_TX
        );
        assert_eq!(
            run(&v6(
                "2001:db8:2::11",
                "2001:db8:1::2",
                tcp,
                &ports(8080, 40000)
            )),
            XDP_TX
        );
        assert_eq!(
            run(&v6(
                "2001:db8:2::11",
                "2001:db8:1::2",
                tcp,
                &ports(80, 40000)
            )),
            XDP_PASS
        );
        assert_eq!(
            run(&v6(
                "2001:db8:2::11",
                "2001:db8:2::1",
                tcp,
                &ports(8080, 40000)
            )),
            XDP_PASS
        );
        assert_eq!(
            run(&v6(
                "2001:db8:2::11",
                "2001:db8:1::2",
                58,
                &[1, 4, 0, 0, 0, 0, 0, 0]
            )),
            XDP_TX
        );
        assert_eq!(
            run(&v6("2001:db8:2::11", "2001:db8:1::2", 58, &[129, 0, 0, 0])),
            XDP_PASS
        );
        let mut ns = vec![135, 0, 0, 0, 0, 0, 0, 0];
        ns.extend_from_slice(&"2001:db8:10::10".parse::<Ipv6Addr>().unwrap().octets());
        assert_eq!(
            run(&v6("2001:db8:1::2", "ff02::1:ff00:10", 58, &ns)),
            XDP_TX
        );
        // Short and odd frames pass.
        // (BPF_PROG_TEST_RUN refuses frames shorter than an Ethernet header.)
        assert_eq!(run(&eth(0x0800, 0)), XDP_PASS);
        assert_eq!(run(&eth(0x88cc, 0)), XDP_PASS);
    }

    #[test]
    fn maps_follow_the_set() {
        let Some((f, _prog)) = test_filter() else {
            return;
        };
        assert_eq!(f.map_sizes().unwrap(), (2, 6, 2));
        f.apply(&FilterSet {
            vips: [ip("192.0.2.11")].into(),
            reals: [(ip("198.51.100.11"), 6, 80)].into(),
            local: BTreeSet::new(),
        })
        .unwrap();
        assert_eq!(f.map_sizes().unwrap(), (1, 2, 0));
        f.apply(&FilterSet::default()).unwrap();
        assert_eq!(f.map_sizes().unwrap(), (0, 0, 0));
    }
}
