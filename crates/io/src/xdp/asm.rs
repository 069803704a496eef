//! A tiny eBPF assembler: the instruction encoding (`struct bpf_insn`), the handful of
//! opcodes the director's XDP program uses, and forward/backward labels resolved when the
//! program is finished. Enough to write a few dozen instructions by hand without clang.

/// One eBPF instruction, laid out as the kernel's `struct bpf_insn`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Insn {
    pub code: u8,
    /// Destination register in the low nibble, source register in the high one.
    pub regs: u8,
    pub off: i16,
    pub imm: i32,
}

impl Insn {
    pub fn dst(&self) -> u8 {
        self.regs & 0x0f
    }
    pub fn src(&self) -> u8 {
        self.regs >> 4
    }
}

/// A register, r0..r10 (r10: the read-only frame pointer).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reg(pub u8);

pub const R0: Reg = Reg(0);
pub const R1: Reg = Reg(1);
pub const R2: Reg = Reg(2);
pub const R3: Reg = Reg(3);
pub const R4: Reg = Reg(4);
pub const R5: Reg = Reg(5);
pub const R6: Reg = Reg(6);
pub const R7: Reg = Reg(7);
pub const R8: Reg = Reg(8);
pub const R9: Reg = Reg(9);
pub const R10: Reg = Reg(10);

// Instruction classes.
pub const LD: u8 = 0x00;
pub const LDX: u8 = 0x01;
pub const ST: u8 = 0x02;
pub const STX: u8 = 0x03;
pub const ALU64: u8 = 0x07;
pub const JMP: u8 = 0x05;
// Sizes.
pub const W: u8 = 0x00;
pub const H: u8 = 0x08;
pub const B: u8 = 0x10;
pub const DW: u8 = 0x18;
// Modes.
pub const IMM: u8 = 0x00;
pub const MEM: u8 = 0x60;
// ALU operations.
pub const ADD: u8 = 0x00;
pub const OR: u8 = 0x40;
pub const AND: u8 = 0x50;
pub const LSH: u8 = 0x60;
pub const RSH: u8 = 0x70;
pub const MOV: u8 = 0xb0;
// Operand source.
pub const K: u8 = 0x00;
pub const X: u8 = 0x08;
// Jump operations.
pub const JA: u8 = 0x00;
pub const JEQ: u8 = 0x10;
pub const JGT: u8 = 0x20;
pub const JGE: u8 = 0x30;
pub const JNE: u8 = 0x50;
pub const JLT: u8 = 0xa0;
pub const CALL: u8 = 0x80;
pub const EXIT: u8 = 0x90;

/// `src_reg` of a 64-bit immediate load that names a map by file descriptor.
pub const PSEUDO_MAP_FD: u8 = 1;

/// A jump target, bound to a position with [`Asm::bind`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Label(usize);

/// A label was used but never bound, or a jump does not fit the 16-bit offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AsmError {
    Unbound(usize),
    TooFar { at: usize },
}

impl std::fmt::Display for AsmError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AsmError::Unbound(l) => write!(f, "label {l} never bound"),
            AsmError::TooFar { at } => write!(f, "jump at {at} out of range"),
        }
    }
}

impl std::error::Error for AsmError {}

/// Program under construction.
#[derive(Debug, Default)]
pub struct Asm {
    insns: Vec<Insn>,
    labels: Vec<Option<usize>>,
    /// (instruction index, label) of jumps to patch.
    fixups: Vec<(usize, Label)>,
}

fn regs(dst: Reg, src: Reg) -> u8 {
    (dst.0 & 0x0f) | (src.0 << 4)
}

impl Asm {
    pub fn new() -> Asm {
        Asm::default()
    }

    /// Instructions so far.
    pub fn len(&self) -> usize {
        self.insns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.insns.is_empty()
    }

    fn push(&mut self, code: u8, dst: Reg, src: Reg, off: i16, imm: i32) {
        self.insns.push(Insn {
            code,
            regs: regs(dst, src),
            off,
            imm,
        });
    }

    pub fn label(&mut self) -> Label {
        self.labels.push(None);
        Label(self.labels.len() - 1)
    }

    /// The next instruction is `label`'s target.
    pub fn bind(&mut self, label: Label) {
        self.labels[label.0] = Some(self.insns.len());
    }

    /// `dst = imm` (64-bit register, sign-extended immediate).
    pub fn mov_imm(&mut self, dst: Reg, imm: i32) {
        self.push(ALU64 | MOV | K, dst, R0, 0, imm);
    }

    /// `dst = src`.
    pub fn mov(&mut self, dst: Reg, src: Reg) {
        self.push(ALU64 | MOV | X, dst, src, 0, 0);
    }

    /// `dst op= imm` (64-bit).
    pub fn alu_imm(&mut self, op: u8, dst: Reg, imm: i32) {
        self.push(ALU64 | op | K, dst, R0, 0, imm);
    }

    /// `dst op= src` (64-bit).
    pub fn alu(&mut self, op: u8, dst: Reg, src: Reg) {
        self.push(ALU64 | op | X, dst, src, 0, 0);
    }

    /// `dst = *(size *)(src + off)`.
    pub fn load(&mut self, size: u8, dst: Reg, src: Reg, off: i16) {
        self.push(LDX | MEM | size, dst, src, off, 0);
    }

    /// `*(size *)(dst + off) = src`.
    pub fn store(&mut self, size: u8, dst: Reg, off: i16, src: Reg) {
        self.push(STX | MEM | size, dst, src, off, 0);
    }

    /// `*(size *)(dst + off) = imm`.
    pub fn store_imm(&mut self, size: u8, dst: Reg, off: i16, imm: i32) {
        self.push(ST | MEM | size, dst, R0, off, imm);
    }

    /// `dst = map` (the two-slot 64-bit immediate load of a map file descriptor).
    pub fn load_map_fd(&mut self, dst: Reg, fd: i32) {
        self.push(LD | DW | IMM, dst, Reg(PSEUDO_MAP_FD), 0, fd);
        self.push(0, R0, R0, 0, 0);
    }

    /// `if dst op imm goto label`.
    pub fn jmp_imm(&mut self, op: u8, dst: Reg, imm: i32, label: Label) {
        self.fixups.push((self.insns.len(), label));
        self.push(JMP | op | K, dst, R0, 0, imm);
    }

    /// `if dst op src goto label`.
    pub fn jmp_reg(&mut self, op: u8, dst: Reg, src: Reg, label: Label) {
        self.fixups.push((self.insns.len(), label));
        self.push(JMP | op | X, dst, src, 0, 0);
    }

    /// `goto label`.
    pub fn ja(&mut self, label: Label) {
        self.fixups.push((self.insns.len(), label));
        self.push(JMP | JA, R0, R0, 0, 0);
    }

    /// Call helper number `helper` (arguments in r1..r5, result in r0; r1..r5 clobbered).
    pub fn call(&mut self, helper: i32) {
        self.push(JMP | CALL, R0, R0, 0, helper);
    }

    pub fn exit(&mut self) {
        self.push(JMP | EXIT, R0, R0, 0, 0);
    }

    /// Resolves the labels.
    pub fn finish(mut self) -> Result<Vec<Insn>, AsmError> {
        for &(at, label) in &self.fixups {
            let target = self.labels[label.0].ok_or(AsmError::Unbound(label.0))?;
            let off = target as i64 - at as i64 - 1;
            self.insns[at].off = i16::try_from(off).map_err(|_| AsmError::TooFar { at })?;
        }
        Ok(self.insns)
    }
}

/// A 16-bit network-order constant as a little- or big-endian `LDX H` reads it from packet
/// memory (loads are in host order), for comparisons against packet fields.
pub const fn be16(v: u16) -> i32 {
    u16::from_ne_bytes(v.to_be_bytes()) as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_resolve_forward_and_backward() {
        let mut a = Asm::new();
        let top = a.label();
        let end = a.label();
        a.bind(top);
        a.mov_imm(R0, 1);
        a.jmp_imm(JEQ, R0, 1, end);
        a.ja(top);
        a.bind(end);
        a.exit();
        let p = a.finish().unwrap();
        assert_eq!(p[1].off, 1);
        assert_eq!(p[2].off, -3);
        assert_eq!(p[3].code, JMP | EXIT);
    }

    #[test]
    fn unbound_label_is_an_error() {
        let mut a = Asm::new();
        let l = a.label();
        a.ja(l);
        assert_eq!(a.finish(), Err(AsmError::Unbound(0)));
    }

    #[test]
    fn map_load_takes_two_slots() {
        let mut a = Asm::new();
        a.load_map_fd(R1, 7);
        let p = a.finish().unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].code, 0x18);
        assert_eq!(p[0].src(), PSEUDO_MAP_FD);
        assert_eq!(p[0].imm, 7);
        assert_eq!(std::mem::size_of::<Insn>(), 8);
    }
}
