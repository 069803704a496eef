//! Classic BPF programs for AF_PACKET fanout steering (PACKET_FANOUT_CBPF).
//!
//! A director with several workers must deliver both directions of a NAT connection to the
//! same worker, because each worker owns a shard of the connection table. The one value both
//! directions share, untouched by the NAT rewrite, is the client's endpoint; of that, the
//! client *port* is cheap to read:
//!
//! - on the client-facing interface, frames come from clients: client port = L4 **source**;
//! - on the server-facing interface, frames are replies from real servers: client port = L4
//!   **destination** (the director rewrote only the VIP side; the client side is unchanged).
//!
//! So `steering_program_client_side(n)` returns `source port % n` and
//! `steering_program_server_side(n)` returns `destination port % n`, and the worker with that
//! index on either side sees the connection. ICMP errors (IPv4 types 3, 4, 11, 12; ICMPv6
//! types 1–4) are steered by the port inside the quoted packet, which travelled the opposite
//! way (so client side reads the quoted destination port, server side the quoted source port).
//!
//! Assumptions, documented because the core must agree with them:
//! - the client port is not rewritten by the director (true for masq, tunnel and route);
//! - IPv4 and IPv6 without extension headers, L4 TCP, UDP, SCTP or UDP-Lite;
//! - everything else (ARP, IPv6 extension headers, IPv4 fragments — first ones included, so
//!   all pieces of a datagram meet — other protocols, truncated frames) goes to worker 0.
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
/// L4 protocols whose first four bytes are (source port, destination port).
const PORTED_PROTOCOLS: [u32; 4] = [6, 17, 132, 136];
const IPV6_HEADER_LEN: u32 = 40;
const ICMP_HEADER_LEN: u32 = 8;

/// Which L4 port carries the client's port in frames on this interface.
#[derive(Clone, Copy)]
enum ClientPort {
    Source,
    Destination,
}

impl ClientPort {
    /// Offset of the port in the L4 header of the frame itself.
    fn outer(self) -> u32 {
        match self {
            ClientPort::Source => 0,
            ClientPort::Destination => 2,
        }
    }

    /// Offset of the client port in the L4 header quoted by an ICMP error, which describes a
    /// packet that travelled the other way.
    fn quoted(self) -> u32 {
        2 - self.outer()
    }
}

/// Steering program for the client-facing interface: `L4 source port % n`.
pub fn steering_program_client_side(n: NonZeroU32) -> BpfProgram {
    steering_program(ClientPort::Source, n)
}

/// Steering program for the server-facing interface: `L4 destination port % n`.
pub fn steering_program_server_side(n: NonZeroU32) -> BpfProgram {
    steering_program(ClientPort::Destination, n)
}

fn steering_program(port: ClientPort, n: NonZeroU32) -> BpfProgram {
    use libc::{
        BPF_A, BPF_ABS, BPF_ADD, BPF_ALU, BPF_AND, BPF_B, BPF_H, BPF_IND, BPF_K, BPF_LD, BPF_LDX,
        BPF_LSH, BPF_MISC, BPF_MOD, BPF_MSH, BPF_RET, BPF_TAX, BPF_X,
    };
    let mut a = Asm::default();
    let ld_abs_h = (BPF_LD | BPF_H | BPF_ABS) as u16;
    let ld_abs_b = (BPF_LD | BPF_B | BPF_ABS) as u16;
    let ld_ind_h = (BPF_LD | BPF_H | BPF_IND) as u16;
    let ld_ind_b = (BPF_LD | BPF_B | BPF_IND) as u16;
    let ldx_msh = (BPF_LDX | BPF_B | BPF_MSH) as u16;

    a.op(ld_abs_h, AD_PROTOCOL);
    a.jeq(ETH_P_IP, "v4", "next");
    a.jeq(ETH_P_IPV6, "v6", "zero");

    // IPv4: no fragments, then the header length into X.
    a.label("v4");
    a.op(ld_abs_h, NET + 6);
    a.jset(0x3fff, "zero", "next");
    a.op(ldx_msh, NET);
    a.op(ld_abs_b, NET + 9);
    for proto in PORTED_PROTOCOLS {
        a.jeq(proto, "v4_ports", "next");
    }
    a.jeq(IPPROTO_ICMP, "v4_icmp", "zero");
    a.label("v4_ports");
    a.op(ld_ind_h, NET + port.outer());
    a.jmp("modulo");

    // IPv4 ICMP error: X = outer header length; the quoted IPv4 header follows the 8-byte
    // ICMP header.
    a.label("v4_icmp");
    a.op(ld_ind_b, NET);
    for ty in [3, 4, 11] {
        a.jeq(ty, "v4_quoted", "next");
    }
    a.jeq(12, "v4_quoted", "zero");
    a.label("v4_quoted");
    a.op(ld_ind_b, NET + ICMP_HEADER_LEN + 9);
    for proto in &PORTED_PROTOCOLS[..3] {
        a.jeq(*proto, "v4_quoted_ports", "next");
    }
    a.jeq(PORTED_PROTOCOLS[3], "v4_quoted_ports", "zero");
    a.label("v4_quoted_ports");
    a.op(ld_ind_b, NET + ICMP_HEADER_LEN);
    a.op((BPF_ALU | BPF_AND | BPF_K) as u16, 0x0f);
    a.op((BPF_ALU | BPF_LSH | BPF_K) as u16, 2);
    a.op((BPF_ALU | BPF_ADD | BPF_X) as u16, 0);
    a.op((BPF_MISC | BPF_TAX) as u16, 0);
    a.op(ld_ind_h, NET + ICMP_HEADER_LEN + port.quoted());
    a.jmp("modulo");

    // IPv6 without extension headers.
    a.label("v6");
    a.op(ld_abs_b, NET + 6);
    for proto in PORTED_PROTOCOLS {
        a.jeq(proto, "v6_ports", "next");
    }
    a.jeq(IPPROTO_ICMPV6, "v6_icmp", "zero");
    a.label("v6_ports");
    a.op(ld_abs_h, NET + IPV6_HEADER_LEN + port.outer());
    a.jmp("modulo");

    // ICMPv6 error (types 1..=4) quoting an IPv6 packet without extension headers.
    a.label("v6_icmp");
    a.op(ld_abs_b, NET + IPV6_HEADER_LEN);
    a.jgt(4, "zero", "next");
    a.jeq(0, "zero", "next");
    a.op(ld_abs_b, NET + IPV6_HEADER_LEN + ICMP_HEADER_LEN + 6);
    for proto in &PORTED_PROTOCOLS[..3] {
        a.jeq(*proto, "v6_quoted_ports", "next");
    }
    a.jeq(PORTED_PROTOCOLS[3], "v6_quoted_ports", "zero");
    a.label("v6_quoted_ports");
    a.op(
        ld_abs_h,
        NET + 2 * IPV6_HEADER_LEN + ICMP_HEADER_LEN + port.quoted(),
    );

    a.label("modulo");
    a.op((BPF_ALU | BPF_MOD | BPF_K) as u16, n.get());
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

    const TCP: u8 = 6;
    const UDP: u8 = 17;

    fn n(workers: u32) -> NonZeroU32 {
        NonZeroU32::new(workers).unwrap()
    }

    /// An IPv4 packet (network header on) with `options` words of IP options and a
    /// ported L4 header.
    fn ipv4(proto: u8, sport: u16, dport: u16, options: u8, frag: u16) -> Vec<u8> {
        let ihl = 5 + options;
        let mut p = vec![0u8; usize::from(ihl) * 4];
        p[0] = 0x40 | ihl;
        p[6..8].copy_from_slice(&frag.to_be_bytes());
        p[8] = 64;
        p[9] = proto;
        p[12..16].copy_from_slice(&[203, 0, 113, 7]);
        p[16..20].copy_from_slice(&[192, 0, 2, 10]);
        p.extend_from_slice(&sport.to_be_bytes());
        p.extend_from_slice(&dport.to_be_bytes());
        p.extend_from_slice(&[0; 16]);
        p
    }

    fn ipv6(next: u8, sport: u16, dport: u16) -> Vec<u8> {
        let mut p = vec![0u8; 40];
        p[0] = 0x60;
        p[6] = next;
        p[7] = 64;
        p.extend_from_slice(&sport.to_be_bytes());
        p.extend_from_slice(&dport.to_be_bytes());
        p.extend_from_slice(&[0; 16]);
        p
    }

    /// An ICMP error quoting `quoted` (a whole IPv4 packet).
    fn icmp4_error(ty: u8, quoted: &[u8]) -> Vec<u8> {
        let mut p = ipv4(IPPROTO_ICMP as u8, 0, 0, 0, 0);
        p.truncate(20);
        p.extend_from_slice(&[ty, 4, 0, 0, 0, 0, 5, 0xdc]);
        p.extend_from_slice(quoted);
        p
    }

    fn icmp6_error(ty: u8, quoted: &[u8]) -> Vec<u8> {
        let mut p = ipv6(IPPROTO_ICMPV6 as u8, 0, 0);
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
    fn ipv4_tcp_and_udp() {
        let p = ipv4(TCP, 40000, 80, 0, 0);
        assert_eq!(client(7, 0x0800, &p), 40000 % 7);
        assert_eq!(server(7, 0x0800, &p), 80 % 7);
        let with_options = ipv4(UDP, 40001, 53, 3, 0);
        assert_eq!(client(4, 0x0800, &with_options), 40001 % 4);
        // Don't-fragment alone is fine; MF or an offset sends to worker 0.
        assert_eq!(
            client(7, 0x0800, &ipv4(TCP, 40000, 80, 0, 0x4000)),
            40000 % 7
        );
        assert_eq!(client(7, 0x0800, &ipv4(UDP, 40000, 80, 0, 0x2000)), 0);
        assert_eq!(client(7, 0x0800, &ipv4(UDP, 40000, 80, 0, 0x0010)), 0);
    }

    #[test]
    fn ipv6_without_extension_headers() {
        let p = ipv6(TCP, 50001, 443);
        assert_eq!(client(5, 0x86dd, &p), 50001 % 5);
        assert_eq!(server(5, 0x86dd, &p), 443 % 5);
        // Hop-by-hop options header: fallback.
        assert_eq!(client(5, 0x86dd, &ipv6(0, 50001, 443)), 0);
    }

    #[test]
    fn anything_else_goes_to_worker_zero() {
        assert_eq!(client(5, 0x0806, &[0u8; 28]), 0, "ARP");
        assert_eq!(client(5, 0x0800, &ipv4(47, 1, 2, 0, 0)), 0, "GRE");
        assert_eq!(
            client(5, 0x0800, &ipv4(TCP, 40000, 80, 0, 0)[..21]),
            0,
            "truncated"
        );
        assert_eq!(client(5, 0x0800, &[]), 0, "empty");
        let echo = icmp4_error(8, &ipv4(TCP, 1, 2, 0, 0));
        assert_eq!(client(5, 0x0800, &echo), 0, "echo request is not an error");
    }

    #[test]
    fn icmp_errors_follow_the_quoted_connection() {
        // Client side: a router tells the director its reply VIP:80 -> client:40000 was
        // too big; the quoted packet's destination port is the client port.
        let quoted_reply = ipv4(TCP, 80, 40000, 0, 0);
        assert_eq!(client(7, 0x0800, &icmp4_error(3, &quoted_reply)), 40000 % 7);
        // Server side: a real server reports on client:40000 -> RIP:8080.
        let quoted_request = ipv4(TCP, 40000, 8080, 2, 0);
        assert_eq!(
            server(7, 0x0800, &icmp4_error(11, &quoted_request)),
            40000 % 7
        );
        let quoted6 = ipv6(UDP, 53, 50002);
        assert_eq!(client(9, 0x86dd, &icmp6_error(2, &quoted6)), 50002 % 9);
        assert_eq!(
            client(9, 0x86dd, &icmp6_error(128, &quoted6)),
            0,
            "echo request"
        );
    }

    proptest! {
        /// Both directions of a NAT connection get the same worker index: the inbound frame
        /// on the client side (client -> VIP) and the real server's reply on the server side
        /// (RIP -> client).
        #[test]
        fn both_directions_meet(
            workers in 1u32..64,
            cport in any::<u16>(),
            vport in any::<u16>(),
            rport in any::<u16>(),
            udp in any::<bool>(),
            v6 in any::<bool>(),
            options in 0u8..10,
        ) {
            let proto = if udp { UDP } else { TCP };
            let (ethertype, inbound, reply) = if v6 {
                (0x86dd, ipv6(proto, cport, vport), ipv6(proto, rport, cport))
            } else {
                (0x0800, ipv4(proto, cport, vport, options, 0), ipv4(proto, rport, cport, 0, 0))
            };
            let expected = u32::from(cport) % workers;
            prop_assert_eq!(client(workers, ethertype, &inbound), expected);
            prop_assert_eq!(server(workers, ethertype, &reply), expected);
        }

        /// Arbitrary bytes never make the program misbehave: it returns a worker index.
        #[test]
        fn garbage_stays_in_range(workers in 1u32..16, ethertype in prop_oneof![Just(0x0800u16), Just(0x86dd), any::<u16>()], bytes in proptest::collection::vec(any::<u8>(), 0..120)) {
            prop_assert!(client(workers, ethertype, &bytes) < workers);
            prop_assert!(server(workers, ethertype, &bytes) < workers);
        }
    }
}
