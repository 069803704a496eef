//! Protocol state of a connection: the IPVS TCP state machine (its three tables:
//! input, output and input-only), UDP's single state, and the per-state timeouts
//! (IPVS defaults, settable like `ipvsadm --set tcp tcpfin udp`).

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// IPVS TCP states (and the single UDP state), in IPVS's order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum ConnState {
    None = 0,
    Established = 1,
    SynSent = 2,
    SynRecv = 3,
    FinWait = 4,
    TimeWait = 5,
    Close = 6,
    CloseWait = 7,
    LastAck = 8,
    Listen = 9,
    SynAck = 10,
    /// UDP connections have one state.
    Udp = 11,
}

pub const TCP_STATES: usize = 11;

impl ConnState {
    pub fn from_u8(v: u8) -> ConnState {
        use ConnState::*;
        match v {
            1 => Established,
            2 => SynSent,
            3 => SynRecv,
            4 => FinWait,
            5 => TimeWait,
            6 => Close,
            7 => CloseWait,
            8 => LastAck,
            9 => Listen,
            10 => SynAck,
            11 => Udp,
            _ => None,
        }
    }

    /// The name ipvsadm prints in `-L -c`.
    pub fn name(self) -> &'static str {
        use ConnState::*;
        match self {
            None => "NONE",
            Established => "ESTABLISHED",
            SynSent => "SYN_SENT",
            SynRecv => "SYN_RECV",
            FinWait => "FIN_WAIT",
            TimeWait => "TIME_WAIT",
            Close => "CLOSE",
            CloseWait => "CLOSE_WAIT",
            LastAck => "LAST_ACK",
            Listen => "LISTEN",
            SynAck => "SYNACK",
            Udp => "UDP",
        }
    }
}

/// Which way a packet travels relative to the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Client to real server (through the VIP).
    Input,
    /// Real server to client (NAT replies).
    Output,
    /// Client to real server on a connection whose replies the director never sees
    /// (tunnel and direct routing, or NAT before the first reply).
    InputOnly,
}

/// TCP flag bits as they appear in the header.
pub const TCP_FIN: u8 = 0x01;
pub const TCP_SYN: u8 = 0x02;
pub const TCP_RST: u8 = 0x04;
pub const TCP_ACK: u8 = 0x10;

use ConnState as S;
const ES: S = S::Established;
const SS: S = S::SynSent;
const SR: S = S::SynRecv;
const FW: S = S::FinWait;
const TW: S = S::TimeWait;
const CL: S = S::Close;
const CW: S = S::CloseWait;
const LA: S = S::LastAck;
const LI: S = S::Listen;

type Row = [ConnState; TCP_STATES];

// IPVS's transition tables (ip_vs_proto_tcp.c), rows by event (syn, fin, ack, rst),
// columns by current state (NONE, ES, SS, SR, FW, TW, CL, CW, LA, LI, SA).
const INPUT: [Row; 4] = [
    [SR, ES, ES, SR, SR, SR, SR, SR, SR, SR, SR],
    [CL, CW, SS, TW, TW, TW, CL, CW, LA, LI, TW],
    [CL, ES, SS, ES, FW, TW, CL, CW, CL, LI, ES],
    [CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, SR],
];
const OUTPUT: [Row; 4] = [
    [SS, ES, SS, SR, SS, SS, SS, SS, SS, LI, SR],
    [TW, FW, SS, TW, FW, TW, CL, TW, LA, LI, TW],
    [ES, ES, SS, ES, FW, TW, CL, CW, LA, ES, ES],
    [CL, CL, SS, CL, CL, TW, CL, CL, CL, CL, CL],
];
const INPUT_ONLY: [Row; 4] = [
    [SR, ES, ES, SR, SR, SR, SR, SR, SR, SR, SR],
    [CL, FW, SS, TW, FW, TW, CL, CW, LA, LI, TW],
    [CL, ES, SS, ES, FW, TW, CL, CW, CL, LI, ES],
    [CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, CL],
];

/// The next TCP state for a packet with `flags` seen in `dir`, per IPVS: RST wins
/// over SYN, SYN over FIN, FIN over ACK; a segment with none of them moves to CLOSE.
pub fn tcp_next_state(current: ConnState, dir: Direction, flags: u8) -> ConnState {
    let event = if flags & TCP_RST != 0 {
        3
    } else if flags & TCP_SYN != 0 {
        0
    } else if flags & TCP_FIN != 0 {
        1
    } else if flags & TCP_ACK != 0 {
        2
    } else {
        return ConnState::Close;
    };
    let table = match dir {
        Direction::Input => &INPUT,
        Direction::Output => &OUTPUT,
        Direction::InputOnly => &INPUT_ONLY,
    };
    let col = (current as usize).min(TCP_STATES - 1);
    table[event][col]
}

/// Per-state timeouts, in whole seconds like IPVS's sysctls.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timeouts {
    pub tcp: [u32; TCP_STATES],
    pub udp: u32,
}

impl Default for Timeouts {
    /// IPVS defaults: ESTABLISHED 15 min, SYN_SENT 2 min, SYN_RECV 1 min,
    /// FIN_WAIT 2 min, TIME_WAIT 2 min, CLOSE 10 s, CLOSE_WAIT 60 s, LAST_ACK 30 s,
    /// LISTEN 2 min, SYNACK 2 min, NONE 2 s; UDP 5 min.
    fn default() -> Self {
        Timeouts {
            tcp: [2, 900, 120, 60, 120, 120, 10, 60, 30, 120, 120],
            udp: 300,
        }
    }
}

impl Timeouts {
    pub fn for_state(&self, s: ConnState) -> Duration {
        let secs = match s {
            ConnState::Udp => self.udp,
            other => self.tcp[(other as usize).min(TCP_STATES - 1)],
        };
        Duration::from_secs(secs as u64)
    }

    /// `ipvsadm --set tcp tcpfin udp`: a zero leaves that value unchanged, as in IPVS.
    pub fn set(&mut self, tcp: u32, tcpfin: u32, udp: u32) {
        if tcp != 0 {
            self.tcp[ConnState::Established as usize] = tcp;
        }
        if tcpfin != 0 {
            self.tcp[ConnState::FinWait as usize] = tcpfin;
        }
        if udp != 0 {
            self.udp = udp;
        }
    }

    /// The three values `ipvsadm -L --timeout` shows.
    pub fn tcp_tcpfin_udp(&self) -> (u32, u32, u32) {
        (
            self.tcp[ConnState::Established as usize],
            self.tcp[ConnState::FinWait as usize],
            self.udp,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ConnState::*;
    use Direction::*;

    const SYN: u8 = TCP_SYN;
    const SYNACK: u8 = TCP_SYN | TCP_ACK;
    const ACK: u8 = TCP_ACK;
    const FINACK: u8 = TCP_FIN | TCP_ACK;
    const RST: u8 = TCP_RST;

    fn walk(start: ConnState, steps: &[(Direction, u8, ConnState)]) {
        let mut s = start;
        for (i, (dir, flags, want)) in steps.iter().enumerate() {
            s = tcp_next_state(s, *dir, *flags);
            assert_eq!(s, *want, "step {i}: {dir:?} flags {flags:#x}");
        }
    }

    #[test]
    fn nat_handshake_data_and_close() {
        walk(
            None,
            &[
                (Input, SYN, SynRecv),
                (Output, SYNACK, SynRecv),
                (Input, ACK, Established),
                (Output, ACK, Established),
                (Input, FINACK, CloseWait),
                (Output, FINACK, TimeWait),
                (Input, ACK, TimeWait),
            ],
        );
    }

    #[test]
    fn server_closes_first() {
        walk(
            Established,
            &[
                (Output, FINACK, FinWait),
                (Input, ACK, FinWait),
                (Input, FINACK, TimeWait),
            ],
        );
    }

    #[test]
    fn input_only_direct_routing() {
        walk(
            None,
            &[
                (InputOnly, SYN, SynRecv),
                (InputOnly, ACK, Established),
                (InputOnly, FINACK, FinWait),
                (InputOnly, ACK, FinWait),
                (InputOnly, RST, Close),
            ],
        );
    }

    #[test]
    fn rst_and_flagless_segments() {
        assert_eq!(tcp_next_state(Established, Input, RST | ACK), Close);
        assert_eq!(tcp_next_state(SynRecv, Input, RST), SynRecv);
        assert_eq!(tcp_next_state(Established, Input, 0), Close);
        // An ACK without a connection in progress closes, as in IPVS.
        assert_eq!(tcp_next_state(None, Input, ACK), Close);
    }

    #[test]
    fn default_timeouts_are_ipvs_defaults() {
        let t = Timeouts::default();
        assert_eq!(t.tcp_tcpfin_udp(), (900, 120, 300));
        assert_eq!(t.for_state(Close), Duration::from_secs(10));
        assert_eq!(t.for_state(SynRecv), Duration::from_secs(60));
        assert_eq!(t.for_state(Udp), Duration::from_secs(300));
    }

    #[test]
    fn set_timeouts_zero_keeps_value() {
        let mut t = Timeouts::default();
        t.set(3600, 0, 60);
        assert_eq!(t.tcp_tcpfin_udp(), (3600, 120, 60));
    }
}
