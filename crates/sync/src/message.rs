//! The IPVS synchronisation message, protocol version 1, byte for byte as the kernel's
//! `net/netfilter/ipvs/ip_vs_sync.c` sends and accepts it (all fields in network
//! order):
//!
//! ```text
//! header (8):  reserved=0 | syncid | size(2, whole datagram) | nr_conns | version=1 | spare(2)=0
//! conn v4 (36): type=0 | protocol | ver_size(2: version<<12 | size) | flags(4) | state(2)
//!               | cport(2) | vport(2) | dport(2) | fwmark(4) | timeout(4, seconds)
//!               | caddr(4) | vaddr(4) | daddr(4)
//! conn v6 (72): type=1 (STYPE_F_INET6), then as v4 with 16-byte addresses
//! options:     type(1) | length(1) | data — 1 SEQ_DATA (24: in_seq, out_seq, each
//!              init_seq, delta, previous_delta), 2 PE_DATA (<= 255), 3 PE_NAME (<= 16);
//!              type bit 0x40 (IPVS_OPT_F_PARAM) marks an option a receiver may skip
//! ```
//!
//! A connection's `size` counts its fixed part and options, not the padding; each
//! connection after the first starts at a 4-byte boundary (zero padding in between).
//!
//! [`parse_message`] is strict (header size equals the datagram, version 1, counts and
//! sizes consistent, options well formed) and never panics. [`MessageBuilder`] packs
//! records into messages of at most `maxlen` bytes as the kernel's master thread does.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

/// The default multicast group, 224.0.0.81.
pub const SYNC_GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 81);
/// The default UDP port.
pub const SYNC_PORT: u16 = 8848;
/// Protocol version in the header.
pub const SYNC_PROTO_VER: u8 = 1;
/// Message header length.
pub const HEADER_LEN: usize = 8;
/// Fixed part of an IPv4 connection entry.
pub const CONN_V4_LEN: usize = 36;
/// Fixed part of an IPv6 connection entry.
pub const CONN_V6_LEN: usize = 72;
/// Type bit of an IPv6 entry (`STYPE_F_INET6`).
pub const STYPE_F_INET6: u8 = 1;
/// `ver_size`: version in the top 4 bits, size in the low 12.
pub const SVER_SHIFT: u16 = 12;
pub const SVER_MASK: u16 = 0x0FFF;

/// Option types.
pub const OPT_SEQ_DATA: u8 = 1;
pub const OPT_PE_DATA: u8 = 2;
pub const OPT_PE_NAME: u8 = 3;
/// Option type bit: not mandatory, a receiver that does not know it skips it.
pub const OPT_F_PARAM: u8 = 1 << 6;
/// Length of the SEQ_DATA option's data (two `ip_vs_seq`).
pub const SEQ_DATA_LEN: usize = 24;
/// Limits of the persistence-engine options.
pub const PE_DATA_MAXLEN: usize = 255;
pub const PE_NAME_MAXLEN: usize = 16;

/// Connection flags (`IP_VS_CONN_F_*`, include/uapi/linux/ip_vs.h).
pub mod flags {
    pub const FWD_MASK: u32 = 0x0007;
    pub const MASQ: u32 = 0x0000;
    pub const LOCALNODE: u32 = 0x0001;
    pub const TUNNEL: u32 = 0x0002;
    pub const DROUTE: u32 = 0x0003;
    pub const BYPASS: u32 = 0x0004;
    pub const SYNC: u32 = 0x0020;
    pub const HASHED: u32 = 0x0040;
    pub const NOOUTPUT: u32 = 0x0080;
    pub const INACTIVE: u32 = 0x0100;
    pub const OUT_SEQ: u32 = 0x0200;
    pub const IN_SEQ: u32 = 0x0400;
    pub const SEQ_MASK: u32 = 0x0600;
    pub const NO_CPORT: u32 = 0x0800;
    pub const TEMPLATE: u32 = 0x1000;
    pub const ONE_PACKET: u32 = 0x2000;
    /// What a backup keeps of received flags.
    pub const BACKUP_MASK: u32 = FWD_MASK | NOOUTPUT | INACTIVE | SEQ_MASK | NO_CPORT | TEMPLATE;
}

/// IPVS per-protocol state numbers carried in `state`.
pub mod states {
    pub const TCP_NONE: u16 = 0;
    pub const TCP_ESTABLISHED: u16 = 1;
    pub const TCP_SYN_SENT: u16 = 2;
    pub const TCP_SYN_RECV: u16 = 3;
    pub const TCP_FIN_WAIT: u16 = 4;
    pub const TCP_TIME_WAIT: u16 = 5;
    pub const TCP_CLOSE: u16 = 6;
    pub const TCP_CLOSE_WAIT: u16 = 7;
    pub const TCP_LAST_ACK: u16 = 8;
    pub const TCP_LISTEN: u16 = 9;
    pub const TCP_SYNACK: u16 = 10;
    /// Number of TCP states (`IP_VS_TCP_S_LAST`).
    pub const TCP_LAST: u16 = 11;
    /// UDP (and AH/ESP) have one state.
    pub const UDP_NORMAL: u16 = 0;
    pub const UDP_LAST: u16 = 1;
    pub const SCTP_ESTABLISHED: u16 = 7;
    pub const SCTP_SHUTDOWN_SENT: u16 = 8;
    pub const SCTP_SHUTDOWN_RECEIVED: u16 = 9;
    pub const SCTP_SHUTDOWN_ACK_SENT: u16 = 10;
    pub const SCTP_CLOSED: u16 = 12;
    pub const SCTP_LAST: u16 = 13;
    /// Template states (`IP_VS_CTPL_S_*`).
    pub const TEMPLATE_NONE: u16 = 0;
    pub const TEMPLATE_ASSURED: u16 = 1;
    pub const TEMPLATE_LAST: u16 = 2;
}

pub const IPPROTO_TCP: u8 = 6;
pub const IPPROTO_UDP: u8 = 17;
pub const IPPROTO_SCTP: u8 = 132;
pub const IPPROTO_ESP: u8 = 50;
pub const IPPROTO_AH: u8 = 51;

/// One `struct ip_vs_seq`: TCP sequence adjustment of a connection whose payload
/// length an application helper changed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SeqAdjust {
    pub init_seq: u32,
    pub delta: u32,
    pub previous_delta: u32,
}

/// The SEQ_DATA option.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SeqOptions {
    pub in_seq: SeqAdjust,
    pub out_seq: SeqAdjust,
}

/// Persistence-engine data (the PE_DATA and PE_NAME options, e.g. the SIP Call-ID).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct PeData {
    /// Engine name, at most 16 bytes ("sip").
    pub name: Vec<u8>,
    /// At most 255 bytes.
    pub data: Vec<u8>,
}

/// One synchronised connection (or persistence template when `flags` has
/// [`flags::TEMPLATE`]). Addresses are all IPv4 or all IPv6.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SyncConn {
    pub protocol: u8,
    /// `IP_VS_CONN_F_*` as sent (the sender clears HASHED; see [`flags`]).
    pub flags: u32,
    /// Protocol state ([`states`]).
    pub state: u16,
    pub caddr: IpAddr,
    pub cport: u16,
    pub vaddr: IpAddr,
    pub vport: u16,
    pub daddr: IpAddr,
    pub dport: u16,
    pub fwmark: u32,
    /// Connection timeout in seconds (0: the backup uses its protocol's default).
    pub timeout: u32,
    /// Present when `flags` has IN_SEQ or OUT_SEQ.
    pub seq: Option<SeqOptions>,
    pub pe: Option<PeData>,
}

impl SyncConn {
    pub fn is_ipv6(&self) -> bool {
        self.caddr.is_ipv6()
    }
    pub fn is_template(&self) -> bool {
        self.flags & flags::TEMPLATE != 0
    }
    /// Timeout as a duration.
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(u64::from(self.timeout))
    }

    /// Bytes of this entry on the wire, options included, padding excluded.
    pub fn wire_len(&self) -> usize {
        let mut len = if self.is_ipv6() {
            CONN_V6_LEN
        } else {
            CONN_V4_LEN
        };
        if self.seq.is_some() {
            len += 2 + SEQ_DATA_LEN;
        }
        if let Some(pe) = &self.pe {
            if !pe.data.is_empty() {
                len += 2 + pe.data.len();
                if !pe.name.is_empty() {
                    len += 2 + pe.name.len();
                }
            }
        }
        len
    }

    /// Check what [`SyncConn::write`] needs.
    fn check(&self) -> Result<(), SyncError> {
        let v6 = self.is_ipv6();
        if self.vaddr.is_ipv6() != v6 || self.daddr.is_ipv6() != v6 {
            return Err(SyncError::MixedFamilies);
        }
        if let Some(pe) = &self.pe {
            if pe.data.len() > PE_DATA_MAXLEN || pe.name.len() > PE_NAME_MAXLEN {
                return Err(SyncError::PeTooLong);
            }
        }
        Ok(())
    }

    /// Encode into `out` (exactly [`SyncConn::wire_len`] bytes, checked by the caller).
    fn write(&self, out: &mut [u8]) {
        let len = self.wire_len();
        out[0] = if self.is_ipv6() { STYPE_F_INET6 } else { 0 };
        out[1] = self.protocol;
        // Version 0 in the top bits; the length fits 12 bits (at most 72 + 26 + 257 + 18).
        out[2..4].copy_from_slice(&((len as u16) & SVER_MASK).to_be_bytes());
        out[4..8].copy_from_slice(&(self.flags & !flags::HASHED).to_be_bytes());
        out[8..10].copy_from_slice(&self.state.to_be_bytes());
        out[10..12].copy_from_slice(&self.cport.to_be_bytes());
        out[12..14].copy_from_slice(&self.vport.to_be_bytes());
        out[14..16].copy_from_slice(&self.dport.to_be_bytes());
        out[16..20].copy_from_slice(&self.fwmark.to_be_bytes());
        out[20..24].copy_from_slice(&self.timeout.to_be_bytes());
        let mut at = 24;
        for addr in [self.caddr, self.vaddr, self.daddr] {
            match addr {
                IpAddr::V4(a) => {
                    out[at..at + 4].copy_from_slice(&a.octets());
                    at += 4;
                }
                IpAddr::V6(a) => {
                    out[at..at + 16].copy_from_slice(&a.octets());
                    at += 16;
                }
            }
        }
        if let Some(seq) = &self.seq {
            out[at] = OPT_SEQ_DATA;
            out[at + 1] = SEQ_DATA_LEN as u8;
            at += 2;
            for s in [seq.in_seq, seq.out_seq] {
                for word in [s.init_seq, s.delta, s.previous_delta] {
                    out[at..at + 4].copy_from_slice(&word.to_be_bytes());
                    at += 4;
                }
            }
        }
        if let Some(pe) = &self.pe {
            // As the kernel: the name is sent only along with data.
            if !pe.data.is_empty() {
                for (kind, bytes) in [(OPT_PE_DATA, &pe.data), (OPT_PE_NAME, &pe.name)] {
                    if bytes.is_empty() {
                        continue;
                    }
                    out[at] = kind;
                    out[at + 1] = bytes.len() as u8;
                    out[at + 2..at + 2 + bytes.len()].copy_from_slice(bytes);
                    at += 2 + bytes.len();
                }
            }
        }
        debug_assert_eq!(at, len);
    }
}

/// A parsed synchronisation message.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncMessage {
    pub syncid: u8,
    pub conns: Vec<SyncConn>,
    /// Entries skipped because they carry an unknown mandatory option (the kernel drops
    /// such an entry and goes on with the next).
    pub skipped: u8,
}

/// Why a datagram is not a valid synchronisation message, or a record cannot be sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncError {
    /// Shorter than a header.
    Truncated { len: usize },
    /// The header's size differs from the datagram length.
    SizeMismatch { header: u16, datagram: usize },
    /// Not a version 1 message (reserved, version or spare not 0 / 1 / 0). Version 0
    /// messages are not supported.
    UnsupportedVersion,
    /// Entry `index` does not fit in the datagram.
    ConnTruncated { index: u8 },
    /// Entry `index` declares a version other than 0 in `ver_size`.
    ConnVersion { index: u8 },
    /// Entry `index` has an unknown type.
    ConnType { index: u8 },
    /// Entry `index` has a size smaller than its fixed part.
    ConnSize { index: u8 },
    /// Entry `index` has a malformed option (zero or overlong length, wrong SEQ_DATA
    /// length, too-long PE data or name, or an option given twice).
    BadOption { index: u8 },
    /// Bytes after the last entry.
    TrailingBytes { extra: usize },
    /// Record with addresses of different families.
    MixedFamilies,
    /// Persistence-engine data over 255 bytes or name over 16.
    PeTooLong,
    /// A record larger than an empty message can hold.
    RecordTooLarge { len: usize },
    /// The authentication trailer is missing or does not verify.
    AuthFailed,
    /// The message carries another sync id.
    OtherSyncId { syncid: u8 },
}

impl std::fmt::Display for SyncError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SyncError::Truncated { len } => write!(f, "sync message too short ({len} bytes)"),
            SyncError::SizeMismatch { header, datagram } => {
                write!(
                    f,
                    "sync message size {header} but datagram of {datagram} bytes"
                )
            }
            SyncError::UnsupportedVersion => write!(f, "not a version 1 sync message"),
            SyncError::ConnTruncated { index } => write!(f, "sync entry {index} truncated"),
            SyncError::ConnVersion { index } => write!(f, "sync entry {index} of unknown version"),
            SyncError::ConnType { index } => write!(f, "sync entry {index} of unknown type"),
            SyncError::ConnSize { index } => write!(f, "sync entry {index} too small"),
            SyncError::BadOption { index } => {
                write!(f, "sync entry {index} has a malformed option")
            }
            SyncError::TrailingBytes { extra } => {
                write!(f, "{extra} bytes after the last sync entry")
            }
            SyncError::MixedFamilies => write!(f, "sync record mixes address families"),
            SyncError::PeTooLong => write!(f, "persistence engine data or name too long"),
            SyncError::RecordTooLarge { len } => {
                write!(f, "sync record of {len} bytes does not fit a message")
            }
            SyncError::AuthFailed => write!(f, "sync message authentication failed"),
            SyncError::OtherSyncId { syncid } => write!(f, "sync message for sync id {syncid}"),
        }
    }
}

impl std::error::Error for SyncError {}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}
fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Parse one version 1 message. Strict: every inconsistency is an error for the whole
/// datagram, as the kernel drops the rest of a buffer on any structural error; an
/// entry with an unknown mandatory option is skipped and counted.
pub fn parse_message(bytes: &[u8]) -> Result<SyncMessage, SyncError> {
    let Some(header) = bytes.first_chunk::<HEADER_LEN>() else {
        return Err(SyncError::Truncated { len: bytes.len() });
    };
    let size = be16(header, 2);
    if usize::from(size) != bytes.len() {
        return Err(SyncError::SizeMismatch {
            header: size,
            datagram: bytes.len(),
        });
    }
    if header[0] != 0 || header[5] != SYNC_PROTO_VER || header[6] != 0 || header[7] != 0 {
        return Err(SyncError::UnsupportedVersion);
    }
    let syncid = header[1];
    let nr_conns = header[4];
    let mut msg = SyncMessage {
        syncid,
        conns: Vec::with_capacity(usize::from(nr_conns)),
        skipped: 0,
    };
    let mut at = HEADER_LEN;
    let mut end = HEADER_LEN;
    for index in 0..nr_conns {
        // Entries after the first start on a 4-byte boundary; the padding is zero.
        let start = if index == 0 { at } else { (end + 3) & !3 };
        let Some(fixed) = bytes.get(start..start + CONN_V4_LEN) else {
            return Err(SyncError::ConnTruncated { index });
        };
        let ver_size = be16(fixed, 2);
        if ver_size >> SVER_SHIFT != 0 {
            return Err(SyncError::ConnVersion { index });
        }
        let conn_len = usize::from(ver_size & SVER_MASK);
        let Some(entry) = bytes.get(start..start + conn_len) else {
            return Err(SyncError::ConnTruncated { index });
        };
        match parse_conn(entry, index)? {
            Some(conn) => msg.conns.push(conn),
            None => msg.skipped += 1,
        }
        at = start;
        end = at + conn_len;
    }
    if end != bytes.len() {
        return Err(SyncError::TrailingBytes {
            extra: bytes.len().saturating_sub(end),
        });
    }
    Ok(msg)
}

/// One entry of exactly its declared size. `Ok(None)`: skip it (unknown mandatory
/// option).
fn parse_conn(entry: &[u8], index: u8) -> Result<Option<SyncConn>, SyncError> {
    let Some(&conn_type) = entry.first() else {
        // A declared size of 0 (found by fuzzing): no entry at all.
        return Err(SyncError::ConnSize { index });
    };
    let ipv6 = match conn_type {
        0 => false,
        t if t & STYPE_F_INET6 != 0 => true,
        _ => return Err(SyncError::ConnType { index }),
    };
    let fixed_len = if ipv6 { CONN_V6_LEN } else { CONN_V4_LEN };
    if entry.len() < fixed_len {
        return Err(SyncError::ConnSize { index });
    }
    let addr = |at: usize| -> IpAddr {
        if ipv6 {
            let mut a = [0u8; 16];
            a.copy_from_slice(&entry[at..at + 16]);
            IpAddr::V6(Ipv6Addr::from(a))
        } else {
            IpAddr::V4(Ipv4Addr::new(
                entry[at],
                entry[at + 1],
                entry[at + 2],
                entry[at + 3],
            ))
        }
    };
    let alen = if ipv6 { 16 } else { 4 };
    let mut conn = SyncConn {
        protocol: entry[1],
        flags: be32(entry, 4),
        state: be16(entry, 8),
        cport: be16(entry, 10),
        vport: be16(entry, 12),
        dport: be16(entry, 14),
        fwmark: be32(entry, 16),
        timeout: be32(entry, 20),
        caddr: addr(24),
        vaddr: addr(24 + alen),
        daddr: addr(24 + 2 * alen),
        seq: None,
        pe: None,
    };
    let mut skip = false;
    let mut pe_data: Option<&[u8]> = None;
    let mut pe_name: Option<&[u8]> = None;
    let mut p = fixed_len;
    while p < entry.len() {
        let (Some(&ptype), Some(&plen)) = (entry.get(p), entry.get(p + 1)) else {
            return Err(SyncError::BadOption { index });
        };
        let plen = usize::from(plen);
        let Some(data) = entry.get(p + 2..p + 2 + plen).filter(|_| plen > 0) else {
            return Err(SyncError::BadOption { index });
        };
        match ptype & !OPT_F_PARAM {
            OPT_SEQ_DATA => {
                if plen != SEQ_DATA_LEN || conn.seq.is_some() {
                    return Err(SyncError::BadOption { index });
                }
                let seq = |at: usize| SeqAdjust {
                    init_seq: be32(data, at),
                    delta: be32(data, at + 4),
                    previous_delta: be32(data, at + 8),
                };
                conn.seq = Some(SeqOptions {
                    in_seq: seq(0),
                    out_seq: seq(12),
                });
            }
            OPT_PE_DATA => {
                if pe_data.is_some() {
                    return Err(SyncError::BadOption { index });
                }
                pe_data = Some(data);
            }
            OPT_PE_NAME => {
                if plen > PE_NAME_MAXLEN || pe_name.is_some() {
                    return Err(SyncError::BadOption { index });
                }
                pe_name = Some(data);
            }
            _ if ptype & OPT_F_PARAM == 0 => skip = true,
            _ => {}
        }
        p += 2 + plen;
    }
    if skip {
        return Ok(None);
    }
    if let Some(data) = pe_data {
        conn.pe = Some(PeData {
            name: pe_name.map(<[u8]>::to_vec).unwrap_or_default(),
            data: data.to_vec(),
        });
    }
    Ok(Some(conn))
}

/// The kernel's `sync_maxlen`: the largest message a master sends or a backup reads.
/// A master assumes an MTU of 1500 whatever the device's; a backup uses the device MTU
/// (at least 1500). `configured` (ipvsadm `--sync-maxlen`) overrides, clamped.
pub fn sync_maxlen(backup: bool, device_mtu: u32, configured: Option<u32>, ipv6: bool) -> usize {
    let hlen: u32 = if ipv6 { 40 + 8 } else { 20 + 8 };
    let mtu = if backup {
        device_mtu.clamp(1500, 65535)
    } else {
        1500
    };
    let min = if backup { 1024 } else { 1 };
    match configured.filter(|&c| c != 0) {
        Some(c) => c.clamp(min, 65535 - hlen) as usize,
        None => (mtu - hlen) as usize,
    }
}

/// Packs records into messages no longer than `maxlen` and hands each finished
/// message to a caller-supplied `send`. Allocation happens once, at construction.
#[derive(Debug, Clone)]
pub struct MessageBuilder {
    buf: Vec<u8>,
    maxlen: usize,
    syncid: u8,
    nr_conns: u8,
    /// Time the first record entered the current message (for [`Self::flush_older`]).
    first_use: Option<Duration>,
}

/// The kernel sends a partly filled message after two seconds (`IPVS_SYNC_FLUSH_TIME`).
pub const FLUSH_TIME: Duration = Duration::from_secs(2);

impl MessageBuilder {
    /// A builder for messages of at most `maxlen` bytes (see [`sync_maxlen`]; 1472 for
    /// an IPv4 master).
    pub fn new(syncid: u8, maxlen: usize) -> MessageBuilder {
        let maxlen = maxlen.clamp(HEADER_LEN, usize::from(u16::MAX));
        let mut b = MessageBuilder {
            buf: Vec::with_capacity(maxlen),
            maxlen,
            syncid,
            nr_conns: 0,
            first_use: None,
        };
        b.reset();
        b
    }

    fn reset(&mut self) {
        self.buf.clear();
        self.buf
            .extend_from_slice(&[0, self.syncid, 0, HEADER_LEN as u8, 0, SYNC_PROTO_VER, 0, 0]);
        self.nr_conns = 0;
        self.first_use = None;
    }

    pub fn maxlen(&self) -> usize {
        self.maxlen
    }
    pub fn is_empty(&self) -> bool {
        self.nr_conns == 0
    }
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Add `conn` at time `now`. When it does not fit (or the message holds 255
    /// records), the current message is first finished and passed to `send`.
    pub fn push(
        &mut self,
        now: Duration,
        conn: &SyncConn,
        send: &mut dyn FnMut(&[u8]),
    ) -> Result<(), SyncError> {
        conn.check()?;
        let len = conn.wire_len();
        if HEADER_LEN + len > self.maxlen {
            return Err(SyncError::RecordTooLarge { len });
        }
        let pad = if self.nr_conns == 0 {
            0
        } else {
            (4 - self.buf.len() % 4) % 4
        };
        if self.buf.len() + pad + len > self.maxlen || self.nr_conns == u8::MAX {
            self.flush(send);
            return self.push(now, conn, send);
        }
        let start = self.buf.len() + pad;
        self.buf.resize(start + len, 0);
        conn.write(&mut self.buf[start..]);
        self.nr_conns += 1;
        self.first_use.get_or_insert(now);
        let size = self.buf.len() as u16;
        self.buf[2..4].copy_from_slice(&size.to_be_bytes());
        self.buf[4] = self.nr_conns;
        Ok(())
    }

    /// Finish the current message, if it holds any record, and pass it to `send`.
    pub fn flush(&mut self, send: &mut dyn FnMut(&[u8])) {
        if self.nr_conns > 0 {
            send(&self.buf);
        }
        self.reset();
    }

    /// [`Self::flush`] when the first record waits for [`FLUSH_TIME`] or longer.
    pub fn flush_older(&mut self, now: Duration, send: &mut dyn FnMut(&[u8])) {
        if self
            .first_use
            .is_some_and(|t| now.saturating_sub(t) >= FLUSH_TIME)
        {
            self.flush(send);
        }
    }

    /// When [`Self::flush_older`] will have something to send.
    pub fn next_deadline(&self) -> Option<Duration> {
        self.first_use.map(|t| t + FLUSH_TIME)
    }
}

/// Fuzzing entry point for [`parse_message`]: must not panic; a parsed message must
/// re-encode and parse to the same records.
pub fn fuzz_parse(data: &[u8]) {
    if let Ok(msg) = parse_message(data) {
        let mut builder = MessageBuilder::new(msg.syncid, usize::from(u16::MAX));
        let mut out: Vec<Vec<u8>> = Vec::new();
        for conn in &msg.conns {
            // Records of a message always fit an empty message of the largest size.
            if builder
                .push(Duration::ZERO, conn, &mut |m| out.push(m.to_vec()))
                .is_err()
            {
                return;
            }
        }
        builder.flush(&mut |m| out.push(m.to_vec()));
        let again: Vec<SyncConn> = out
            .iter()
            .filter_map(|m| parse_message(m).ok())
            .flat_map(|m| m.conns)
            .collect();
        let expected: Vec<SyncConn> = msg
            .conns
            .into_iter()
            .map(|mut c| {
                c.flags &= !flags::HASHED;
                c
            })
            .collect();
        assert_eq!(again, expected);
    }
}

#[cfg(test)]
mod fuzz_regressions {
    use super::*;

    /// A connection entry whose ver_size declares 0 bytes (the first crash
    /// `cargo fuzz run sync_parse` found): an error, not an index out of bounds.
    #[test]
    fn zero_sized_entry_is_an_error() {
        let bytes: [u8; 46] = [
            0x00, 0x00, 0x00, 0x2c, 0x01, 0x01, 0x00, 0x00, 0x00, 0x2a, 0x00, 0x00, 0xff, 0xff,
            0x00, 0x00, 0xff, 0xff, 0x00, 0x11, 0x00, 0x11, 0x01, 0x01, 0x00, 0x00, 0x00, 0x2a,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x2a, 0xff, 0xff, 0x00, 0x00, 0x00, 0x2a, 0xff, 0xff,
            0x0a, 0x12, 0x00, 0x00,
        ];
        for n in 0..=bytes.len() {
            let _ = parse_message(&bytes[..n]);
            fuzz_parse(&bytes[..n]);
        }
    }
}
