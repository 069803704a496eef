//! Classic BPF programs for AF_PACKET fanout steering (PACKET_FANOUT_CBPF).
//!
//! A director with several workers must deliver both directions of a NAT connection to the
//! same worker, because each worker owns a shard of the connection table; and all of one
//! client's connections too, because persistence templates (IPVS's client affinity) live in
//! the shard with the connections they control. The one value every such packet carries,
//! untouched by the NAT rewrite, is the client's **address**:
//!
//! - on the client-facing interface, frames come from clients: the IP **source**;
//! - on the server-facing interface, frames are replies from real servers: the IP
//!   **destination** (the director rewrote only the VIP side).
//!
//! So `steering_program_client_side(n)` returns `mix(source address) % n` and
//! `steering_program_server_side(n)` returns `mix(destination address) % n` (IPv4: the whole
//! address; IPv6: its last 32 bits), where `mix` is a multiplicative hash that spreads
//! neighbouring addresses. ICMP errors (IPv4 types 3, 4, 11, 12; ICMPv6 types 1-4) are
//! steered by the address inside the quoted packet, which travelled the opposite way (client
//! side: the quoted destination; server side: the quoted source). Fragments carry the
//! addresses too, so every piece of a datagram meets the others.
//!
//! Assumptions, documented because the core must agree with them:
//! - the client address is not rewritten by the director (true for masq, tunnel and route);
//! - replies come back on the other interface (one-armed NAT, clients and servers on one
//!   interface, would need both addresses looked at);
//! - persistence granularity below /32 (`-M`) holds within a worker: clients of one
//!   persistence network on different workers get a template each.
//! - everything that is not IP (ARP, ...) goes to worker 0.
//!
//! Loads use `SKF_NET_OFF`-relative offsets and the `SKF_AD_PROTOCOL` ancillary load, so the
//! program reads the same bytes whether the kernel runs it with `skb->data` at the MAC header
//! or at the network header (fanout runs it at the network header on ingress), and VLAN tags
//! stripped by the device do not shift it. A load past the end of the packet makes classic
//! BPF return 0, which is the fallback anyway.
//!
//! The kernel takes the program's result modulo the number of group members, in the order
//! the sockets joined: open worker `i`'s socket `i`-th on each interface.

use std::num::NonZeroU32;

/// One classic BPF instruction, laid out exactly as the kernel's `struct sock_filter`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BpfInsn {
    /// Opcode (`BPF_LD | BPF_H | BPF_ABS`, ...).
    pub code: u16,
    /// Jump offset when the condition is true.
    pub jt: u8,
    /// Jump offset when the condition is false.
    pub jf: u8,
    /// Generic operand.
    pub k: u32,
}

/// A classic BPF program (at most `BPF_MAXINSNS` instructions).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BpfProgram {
    /// The instructions, executed from index 0.
    pub insns: Vec<BpfInsn>,
}

impl BpfProgram {
    /// Wraps caller-assembled instructions.
    pub fn new(insns: Vec<BpfInsn>) -> Self {
        BpfProgram { insns }
    }

    /// The `sock_fprog` that points at these instructions; valid while `self` lives.
    pub(crate) fn as_fprog(&self) -> libc::sock_fprog {
        libc::sock_fprog {
            len: self.insns.len() as u16,
            // The kernel only reads through this pointer (copy_from_user).
            filter: self.insns.as_ptr() as *mut libc::sock_filter,
        }
    }
}

// Offsets within the network header, relative to SKF_NET_OFF.
const NET: u32 = libc::SKF_NET_OFF as u32;
const AD_PROTOCOL: u32 = (libc::SKF_AD_OFF + libc::SKF_AD_PROTOCOL) as u32;

const ETH_P_IP: u32 = 0x0800;
const ETH_P_IPV6: u32 = 0x86dd;
const IPPROTO_ICMP: u32 = 1;
const IPPROTO_ICMPV6: u32 = 58;
const IPV6_HEADER_LEN: u32 = 40;
const ICMP_HEADER_LEN: u32 = 8;
/// Fibonacci hashing's multiplier (2^32 / golden ratio): neighbouring addresses spread.
const MIX: u32 = 0x9e37_79b1;

/// Which IP address is the client's in frames on this interface.
#[derive(Clone, Copy)]
enum ClientAddr {
    Source,
    Destination,
}

impl ClientAddr {
    /// Offset of the client's IPv4 address in an IPv4 header.
    fn v4(self) -> u32 {
        match self {
            ClientAddr::Source => 12,
            ClientAddr::Destination => 16,
        }
    }

    /// Offset of the last 32 bits of the client's address in an IPv6 header.
    fn v6(self) -> u32 {
        match self {
            ClientAddr::Source => 8 + 12,
            ClientAddr::Destination => 24 + 12,
        }
    }

    /// The client's side in a packet quoted by an ICMP error, which travelled the other way.
    fn quoted(self) -> ClientAddr {
        match self {
            ClientAddr::Source => ClientAddr::Destination,
            ClientAddr::Destination => ClientAddr::Source,
        }
    }
}

/// Steering program for the client-facing interface: by the IP source address.
pub fn steering_program_client_side(n: NonZeroU32) -> BpfProgram {
    steering_program(ClientAddr::Source, n, None)
}

/// Steering program for the server-facing interface: by the IP destination address.
pub fn steering_program_server_side(n: NonZeroU32) -> BpfProgram {
    steering_program(ClientAddr::Destination, n, None)
}

/// Steering for a group with two sockets per worker, one with small ring slots and one
/// with GSO-sized ones (joined in that order): returns `2 * worker + 1` for frames longer
/// than `split_above` bytes and `2 * worker` for the others, `worker` chosen as by
/// [`steering_program_client_side`] (`client_side`) or [`steering_program_server_side`].
/// So small frames fill a deep ring of small slots and only super-frames take big ones.
pub fn steering_program_split(client_side: bool, n: NonZeroU32, split_above: u32) -> BpfProgram {
    let addr = if client_side {
        ClientAddr::Source
    } else {
        ClientAddr::Destination
    };
    steering_program(addr, n, Some(split_above))
}

/// What both programs compute from a client's address word (as the network-order bytes
/// read as a big-endian u32), for callers that must agree with the kernel's choice.
pub fn steering_index(addr_word: u32, n: NonZeroU32) -> u32 {
    let h = addr_word.wrapping_mul(MIX);
    (h ^ (h >> 16)) % n.get()
}

fn steering_program(addr: ClientAddr, n: NonZeroU32, split_above: Option<u32>) -> BpfProgram {
    use libc::{
        BPF_A, BPF_ABS, BPF_ADD, BPF_ALU, BPF_B, BPF_H, BPF_IND, BPF_K, BPF_LD, BPF_LDX, BPF_LEN,
        BPF_LSH, BPF_MISC, BPF_MOD, BPF_MSH, BPF_MUL, BPF_RET, BPF_RSH, BPF_TAX, BPF_TXA, BPF_W,
        BPF_X, BPF_XOR,
    };
    let mut a = Asm::default();
    let ld_abs_w = (BPF_LD | BPF_W | BPF_ABS) as u16;
    let ld_abs_h = (BPF_LD | BPF_H | BPF_ABS) as u16;
    let ld_abs_b = (BPF_LD | BPF_B | BPF_ABS) as u16;
    let ld_ind_w = (BPF_LD | BPF_W | BPF_IND) as u16;
    let ld_ind_b = (BPF_LD | BPF_B | BPF_IND) as u16;
    let ldx_msh = (BPF_LDX | BPF_B | BPF_MSH) as u16;

    a.op(ld_abs_h, AD_PROTOCOL);
    a.jeq(ETH_P_IP, "v4", "next");
    a.jeq(ETH_P_IPV6, "v6", "zero");

    // IPv4: by the client address, unless this is an ICMP error (not a later fragment,
    // whose ICMP header is elsewhere).
    a.label("v4");
    a.op(ld_abs_b, NET + 9);
    a.jeq(IPPROTO_ICMP, "next", "v4_addr");
    a.op(ld_abs_h, NET + 6);
    a.jset(0x1fff, "v4_addr", "next");
    a.op(ldx_msh, NET);
    a.op(ld_ind_b, NET);
    for ty in [3, 4, 11] {
        a.jeq(ty, "v4_quoted", "next");
    }
    a.jeq(12, "v4_quoted", "v4_addr");
    a.label("v4_quoted");
    // X = outer header length; the quoted IPv4 header follows the 8-byte ICMP header.
    a.op(ld_ind_w, NET + ICMP_HEADER_LEN + addr.quoted().v4());
    a.jmp("hash");
    a.label("v4_addr");
    a.op(ld_abs_w, NET + addr.v4());
    a.jmp("hash");

    // IPv6: the last 32 bits of the client address; ICMPv6 errors (types 1..=4) by the
    // quoted packet's.
    a.label("v6");
    a.op(ld_abs_b, NET + 6);
    a.jeq(IPPROTO_ICMPV6, "next", "v6_addr");
    a.op(ld_abs_b, NET + IPV6_HEADER_LEN);
    a.jgt(4, "v6_addr", "next");
    a.jeq(0, "v6_addr", "next");
    a.op(
        ld_abs_w,
        NET + IPV6_HEADER_LEN + ICMP_HEADER_LEN + addr.quoted().v6(),
    );
    a.jmp("hash");
    a.label("v6_addr");
    a.op(ld_abs_w, NET + addr.v6());

    // Spread neighbouring addresses (the same function as `steering_index`).
    a.label("hash");
    a.op((BPF_ALU | BPF_MUL | BPF_K) as u16, MIX);
    a.op((BPF_MISC | BPF_TAX) as u16, 0);
    a.op((BPF_ALU | BPF_RSH | BPF_K) as u16, 16);
    a.op((BPF_ALU | BPF_XOR | BPF_X) as u16, 0);
    a.op((BPF_ALU | BPF_MOD | BPF_K) as u16, n.get());
    if let Some(threshold) = split_above {
        // X = 2 * worker; then + 1 for a long frame.
        a.op((BPF_ALU | BPF_LSH | BPF_K) as u16, 1);
        a.op((BPF_MISC | BPF_TAX) as u16, 0);
        a.op((BPF_LD | BPF_W | BPF_LEN) as u16, 0);
        a.jgt(threshold, "next", "small");
        a.op((BPF_MISC | BPF_TXA) as u16, 0);
        a.op((BPF_ALU | BPF_ADD | BPF_K) as u16, 1);
        a.op((BPF_RET | BPF_A) as u16, 0);
        a.label("small");
        a.op((BPF_MISC | BPF_TXA) as u16, 0);
    }
    a.op((BPF_RET | BPF_A) as u16, 0);
    a.label("zero");
    a.op((BPF_RET | BPF_K) as u16, 0);
    a.finish()
}

/// A tiny assembler with named forward jump targets ("next" is the following instruction).
#[derive(Default)]
struct Asm {
    insns: Vec<(BpfInsn, &'static str, &'static str)>,
    labels: Vec<(&'static str, usize)>,
}

impl Asm {
    fn op(&mut self, code: u16, k: u32) {
        self.insns.push((
            BpfInsn {
                code,
                jt: 0,
                jf: 0,
                k,
            },
            "next",
            "next",
        ));
    }

    fn jump(&mut self, op: u32, k: u32, jt: &'static str, jf: &'static str) {
        let code = (libc::BPF_JMP | op | libc::BPF_K) as u16;
        self.insns.push((
            BpfInsn {
                code,
                jt: 0,
                jf: 0,
                k,
            },
            jt,
            jf,
        ));
    }

    fn jeq(&mut self, k: u32, jt: &'static str, jf: &'static str) {
        self.jump(libc::BPF_JEQ, k, jt, jf);
    }

    fn jgt(&mut self, k: u32, jt: &'static str, jf: &'static str) {
        self.jump(libc::BPF_JGT, k, jt, jf);
    }

    fn jset(&mut self, k: u32, jt: &'static str, jf: &'static str) {
        self.jump(libc::BPF_JSET, k, jt, jf);
    }

    /// Unconditional jump (`BPF_JA` takes its offset in `k`).
    fn jmp(&mut self, target: &'static str) {
        let code = (libc::BPF_JMP | libc::BPF_JA) as u16;
        self.insns.push((
            BpfInsn {
                code,
                jt: 0,
                jf: 0,
                k: 0,
            },
            target,
            "next",
        ));
    }

    fn label(&mut self, name: &'static str) {
        self.labels.push((name, self.insns.len()));
    }

    /// Resolves labels. The programs are fixed at compile time, so a bad label or a jump
    /// that does not fit is a bug in this module, caught by the unit tests.
    fn finish(self) -> BpfProgram {
        let find = |name: &str, at: usize| -> u32 {
            if name == "next" {
                return 0;
            }
            let target = self
                .labels
                .iter()
                .find(|(label, _)| *label == name)
                .map_or(at + 1, |(_, index)| *index);
            debug_assert!(target > at, "label {name} must be forward");
            target.saturating_sub(at + 1) as u32
        };
        let ja = (libc::BPF_JMP | libc::BPF_JA) as u16;
        let insns = self
            .insns
            .iter()
            .enumerate()
            .map(|(at, (insn, jt, jf))| {
                let mut insn = *insn;
                if insn.code == ja {
                    insn.k = find(jt, at);
                } else if insn.code & 0x07 == libc::BPF_JMP as u16 {
                    insn.jt = u8::try_from(find(jt, at)).unwrap_or(u8::MAX);
                    insn.jf = u8::try_from(find(jf, at)).unwrap_or(u8::MAX);
                }
                insn
            })
            .collect();
        BpfProgram { insns }
    }
}

/// A minimal classic BPF interpreter for tests: runs a program over a frame given as its
/// ethertype (what `SKF_AD_PROTOCOL` yields) and the bytes from the network header on.
#[cfg(test)]
pub(crate) fn interpret(prog: &BpfProgram, ethertype: u16, net: &[u8]) -> u32 {
    use libc::*;
    let load = |offset: i64, size: usize| -> Option<u32> {
        if offset == i64::from(SKF_AD_OFF + SKF_AD_PROTOCOL) {
            return Some(u32::from(ethertype));
        }
        let offset = offset.checked_sub(i64::from(SKF_NET_OFF))?;
        let start = usize::try_from(offset).ok()?;
        let bytes = net.get(start..start.checked_add(size)?)?;
        Some(bytes.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b)))
    };
    let (mut a, mut x) = (0u32, 0u32);
    let mut pc = 0usize;
    for _ in 0..BPF_MAXINSNS {
        let Some(insn) = prog.insns.get(pc) else {
            return 0;
        };
        let code = u32::from(insn.code);
        let k = insn.k;
        pc += 1;
        let size = match code & 0x18 {
            BPF_W => 4,
            BPF_H => 2,
            _ => 1,
        };
        match code & 0x07 {
            BPF_LD if code & 0xe0 == BPF_LEN => a = (net.len() + 14) as u32,
            BPF_LD => {
                let offset = match code & 0xe0 {
                    BPF_ABS => i64::from(k as i32),
                    BPF_IND => i64::from(x.wrapping_add(k) as i32),
                    _ => panic!("unsupported load {code:#x}"),
                };
                match load(offset, size) {
                    Some(v) => a = v,
                    None => return 0,
                }
            }
            BPF_LDX => {
                assert_eq!(code & 0xe0, BPF_MSH, "unsupported ldx {code:#x}");
                match load(i64::from(k as i32), 1) {
                    Some(v) => x = (v & 0x0f) << 2,
                    None => return 0,
                }
            }
            BPF_ALU => {
                let operand = if code & BPF_X != 0 { x } else { k };
                a = match code & 0xf0 {
                    BPF_ADD => a.wrapping_add(operand),
                    BPF_MUL => a.wrapping_mul(operand),
                    BPF_RSH => a.wrapping_shr(operand),
                    BPF_XOR => a ^ operand,
                    BPF_AND => a & operand,
                    BPF_LSH => a.wrapping_shl(operand),
                    BPF_MOD => a % operand,
                    _ => panic!("unsupported alu {code:#x}"),
                };
            }
            BPF_JMP => {
                if code & 0xf0 == BPF_JA {
                    pc += k as usize;
                    continue;
                }
                let taken = match code & 0xf0 {
                    BPF_JEQ => a == k,
                    BPF_JGT => a > k,
                    BPF_JGE => a >= k,
                    BPF_JSET => a & k != 0,
                    _ => panic!("unsupported jump {code:#x}"),
                };
                pc += usize::from(if taken { insn.jt } else { insn.jf });
            }
            BPF_RET => return if code & 0x18 == BPF_A { a } else { k },
            BPF_MISC if code & 0xf8 == BPF_TXA => a = x,
            BPF_MISC => {
                assert_eq!(code & 0xf8, BPF_TAX, "unsupported misc {code:#x}");
                x = a;
            }
            _ => panic!("unsupported class {code:#x}"),
        }
    }
    panic!("program did not return");
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    const TCP: u8 = 6;
    const UDP: u8 = 17;
    const CLIENT: [u8; 4] = [203, 0, 113, 7];
    const VIP: [u8; 4] = [192, 0, 2, 10];
    const RIP: [u8; 4] = [198, 51, 100, 11];

    fn n(workers: u32) -> NonZeroU32 {
        NonZeroU32::new(workers).unwrap()
    }

    /// An IPv4 packet (network header on) with `options` words of IP options and a
    /// ported L4 header.
    fn ipv4(
        src: [u8; 4],
        dst: [u8; 4],
        proto: u8,
        ports: (u16, u16),
        options: u8,
        frag: u16,
    ) -> Vec<u8> {
        let ihl = 5 + options;
        let mut p = vec![0u8; usize::from(ihl) * 4];
        p[0] = 0x40 | ihl;
        p[6..8].copy_from_slice(&frag.to_be_bytes());
        p[8] = 64;
        p[9] = proto;
        p[12..16].copy_from_slice(&src);
        p[16..20].copy_from_slice(&dst);
        p.extend_from_slice(&ports.0.to_be_bytes());
        p.extend_from_slice(&ports.1.to_be_bytes());
        p.extend_from_slice(&[0; 16]);
        p
    }

    fn ipv6(src: Ipv6Addr, dst: Ipv6Addr, next: u8, ports: (u16, u16)) -> Vec<u8> {
        let mut p = vec![0u8; 40];
        p[0] = 0x60;
        p[6] = next;
        p[7] = 64;
        p[8..24].copy_from_slice(&src.octets());
        p[24..40].copy_from_slice(&dst.octets());
        p.extend_from_slice(&ports.0.to_be_bytes());
        p.extend_from_slice(&ports.1.to_be_bytes());
        p.extend_from_slice(&[0; 16]);
        p
    }

    /// An ICMP error from `src` to `dst` quoting `quoted` (a whole IPv4 packet).
    fn icmp4_error(src: [u8; 4], dst: [u8; 4], ty: u8, quoted: &[u8]) -> Vec<u8> {
        let mut p = ipv4(src, dst, IPPROTO_ICMP as u8, (0, 0), 0, 0);
        p.truncate(20);
        p.extend_from_slice(&[ty, 4, 0, 0, 0, 0, 5, 0xdc]);
        p.extend_from_slice(quoted);
        p
    }

    fn icmp6_error(src: Ipv6Addr, dst: Ipv6Addr, ty: u8, quoted: &[u8]) -> Vec<u8> {
        let mut p = ipv6(src, dst, IPPROTO_ICMPV6 as u8, (0, 0));
        p.truncate(40);
        p.extend_from_slice(&[ty, 0, 0, 0, 0, 0, 5, 0xdc]);
        p.extend_from_slice(quoted);
        p
    }

    fn client(workers: u32, ethertype: u16, net: &[u8]) -> u32 {
        interpret(&steering_program_client_side(n(workers)), ethertype, net)
    }

    fn server(workers: u32, ethertype: u16, net: &[u8]) -> u32 {
        interpret(&steering_program_server_side(n(workers)), ethertype, net)
    }

    fn want4(addr: [u8; 4], workers: u32) -> u32 {
        steering_index(u32::from_be_bytes(addr), n(workers))
    }

    fn want6(addr: Ipv6Addr, workers: u32) -> u32 {
        let o = addr.octets();
        steering_index(u32::from_be_bytes([o[12], o[13], o[14], o[15]]), n(workers))
    }

    #[test]
    fn programs_are_valid_classic_bpf() {
        for prog in [
            steering_program_client_side(n(3)),
            steering_program_server_side(n(3)),
        ] {
            assert!(prog.insns.len() < 100);
            let last = prog.insns.last().unwrap();
            assert_eq!(u32::from(last.code) & 0x07, libc::BPF_RET);
            for (at, insn) in prog.insns.iter().enumerate() {
                let code = u32::from(insn.code);
                if code & 0x07 == libc::BPF_JMP {
                    let reach = if code & 0xf0 == libc::BPF_JA {
                        insn.k as usize
                    } else {
                        usize::from(insn.jt.max(insn.jf))
                    };
                    assert!(
                        at + 1 + reach < prog.insns.len(),
                        "jump at {at} leaves the program"
                    );
                }
            }
        }
    }

    #[test]
    fn ipv4_by_client_address_whatever_the_ports() {
        let p = ipv4(CLIENT, VIP, TCP, (40000, 80), 0, 0);
        assert_eq!(client(7, 0x0800, &p), want4(CLIENT, 7));
        let reply = ipv4(RIP, CLIENT, TCP, (8080, 40000), 0, 0);
        assert_eq!(server(7, 0x0800, &reply), want4(CLIENT, 7));
        // Another connection of the same client, another port, another protocol.
        let other = ipv4(CLIENT, VIP, UDP, (5353, 53), 3, 0);
        assert_eq!(client(7, 0x0800, &other), want4(CLIENT, 7));
        // Fragments (first and later) follow their addresses.
        assert_eq!(
            client(7, 0x0800, &ipv4(CLIENT, VIP, UDP, (1, 2), 0, 0x2000)),
            want4(CLIENT, 7)
        );
        assert_eq!(
            client(7, 0x0800, &ipv4(CLIENT, VIP, UDP, (1, 2), 0, 0x00b9)),
            want4(CLIENT, 7)
        );
        // Any protocol.
        assert_eq!(
            client(7, 0x0800, &ipv4(CLIENT, VIP, 47, (0, 0), 0, 0)),
            want4(CLIENT, 7)
        );
    }

    #[test]
    fn split_programs_add_the_size_class() {
        for workers in [1, 3] {
            let w = want4(CLIENT, workers);
            for (client_side, frame) in [
                (true, ipv4(CLIENT, VIP, TCP, (40000, 80), 0, 0)),
                (false, ipv4(RIP, CLIENT, TCP, (80, 40000), 0, 0)),
            ] {
                let prog = steering_program_split(client_side, n(workers), 1600);
                let mut big = frame.clone();
                big.resize(9000, 0);
                assert_eq!(interpret(&prog, 0x0800, &frame), 2 * w);
                assert_eq!(interpret(&prog, 0x0800, &big), 2 * w + 1);
            }
            let prog = steering_program_split(true, n(workers), 1600);
            assert_eq!(
                interpret(&prog, 0x0806, &[0u8; 28]),
                0,
                "ARP: small, worker 0"
            );
        }
    }

    #[test]
    fn neighbouring_clients_spread() {
        let mut seen = [0u32; 4];
        for last in 0..=255u8 {
            let p = ipv4([203, 0, 113, last], VIP, TCP, (40000, 80), 0, 0);
            seen[client(4, 0x0800, &p) as usize] += 1;
        }
        assert!(seen.iter().all(|&c| c > 40), "{seen:?}");
    }

    #[test]
    fn ipv6_by_the_last_32_bits() {
        let c: Ipv6Addr = "2001:db8:c::7".parse().unwrap();
        let v: Ipv6Addr = "2001:db8:10::10".parse().unwrap();
        let r: Ipv6Addr = "2001:db8:5::11".parse().unwrap();
        assert_eq!(
            client(5, 0x86dd, &ipv6(c, v, TCP, (50001, 443))),
            want6(c, 5)
        );
        assert_eq!(
            server(5, 0x86dd, &ipv6(r, c, TCP, (443, 50001))),
            want6(c, 5)
        );
        // Extension headers do not matter: the addresses are in the fixed header.
        assert_eq!(client(5, 0x86dd, &ipv6(c, v, 0, (1, 2))), want6(c, 5));
    }

    #[test]
    fn anything_else_goes_to_worker_zero() {
        assert_eq!(client(5, 0x0806, &[0u8; 28]), 0, "ARP");
        assert_eq!(
            client(5, 0x0800, &ipv4(CLIENT, VIP, TCP, (1, 2), 0, 0)[..15]),
            0,
            "truncated"
        );
        assert_eq!(client(5, 0x0800, &[]), 0, "empty");
    }

    #[test]
    fn icmp_errors_follow_the_quoted_connection() {
        // Client side: a router tells the director its reply VIP:80 -> client was too big;
        // the quoted packet's destination is the client.
        let router = [203, 0, 113, 254];
        let quoted_reply = ipv4(VIP, CLIENT, TCP, (80, 40000), 0, 0);
        assert_eq!(
            client(7, 0x0800, &icmp4_error(router, VIP, 3, &quoted_reply)),
            want4(CLIENT, 7)
        );
        // Server side: a real server reports on client -> RIP; it is addressed to the client.
        let quoted_request = ipv4(CLIENT, RIP, TCP, (40000, 8080), 2, 0);
        assert_eq!(
            server(7, 0x0800, &icmp4_error(RIP, CLIENT, 11, &quoted_request)),
            want4(CLIENT, 7)
        );
        // An echo request is not an error: by its own source.
        let echo = icmp4_error(CLIENT, VIP, 8, &quoted_request);
        assert_eq!(client(7, 0x0800, &echo), want4(CLIENT, 7));
        let c: Ipv6Addr = "2001:db8:c::9".parse().unwrap();
        let v: Ipv6Addr = "2001:db8:10::10".parse().unwrap();
        let rt: Ipv6Addr = "2001:db8:c::fe".parse().unwrap();
        let quoted6 = ipv6(v, c, UDP, (53, 50002));
        assert_eq!(
            client(9, 0x86dd, &icmp6_error(rt, v, 2, &quoted6)),
            want6(c, 9)
        );
        assert_eq!(
            client(9, 0x86dd, &icmp6_error(rt, v, 128, &quoted6)),
            want6(rt, 9),
            "echo request: by its own source"
        );
    }

    proptest! {
        /// Both directions of a NAT connection, and every connection of one client, get the
        /// same worker index: the inbound frame on the client side (client -> VIP) and the
        /// real server's reply on the server side (RIP -> client).
        #[test]
        fn both_directions_and_all_connections_meet(
            workers in 1u32..64,
            caddr in any::<[u8; 4]>(),
            raddr in any::<[u8; 4]>(),
            ports in any::<[u16; 4]>(),
            udp in any::<bool>(),
            v6 in any::<bool>(),
            options in 0u8..10,
        ) {
            let proto = if udp { UDP } else { TCP };
            let (ethertype, inbound, reply, again, expected) = if v6 {
                let c = Ipv6Addr::from(u128::from(u32::from_be_bytes(caddr)) | (0x2001_0db8 << 96));
                let r = Ipv6Addr::from(u128::from(u32::from_be_bytes(raddr)) | (0x2001_0db8 << 96) | (5 << 64));
                let v: Ipv6Addr = "2001:db8:10::10".parse().unwrap();
                (0x86dd, ipv6(c, v, proto, (ports[0], ports[1])), ipv6(r, c, proto, (ports[2], ports[0])),
                 ipv6(c, v, proto, (ports[3], ports[1])), want6(c, workers))
            } else {
                (0x0800, ipv4(caddr, VIP, proto, (ports[0], ports[1]), options, 0),
                 ipv4(raddr, caddr, proto, (ports[2], ports[0]), 0, 0),
                 ipv4(caddr, VIP, proto, (ports[3], ports[1]), 0, 0), want4(caddr, workers))
            };
            prop_assert_eq!(client(workers, ethertype, &inbound), expected);
            prop_assert_eq!(server(workers, ethertype, &reply), expected);
            prop_assert_eq!(client(workers, ethertype, &again), expected);
            let _ = Ipv4Addr::from(caddr);
        }

        /// Arbitrary bytes never make the program misbehave: it returns a worker index.
        #[test]
        fn garbage_stays_in_range(workers in 1u32..16, ethertype in prop_oneof![Just(0x0800u16), Just(0x86dd), any::<u16>()], bytes in proptest::collection::vec(any::<u8>(), 0..120)) {
            prop_assert!(client(workers, ethertype, &bytes) < workers);
            prop_assert!(server(workers, ethertype, &bytes) < workers);
        }
    }
}
