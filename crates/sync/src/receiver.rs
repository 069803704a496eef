//! The backup's side: check a received datagram (authentication, sync id, structure)
//! and each record as the kernel's `ip_vs_proc_sync_conn` does (known protocol, valid
//! state, persistence-engine data with a name), then hand out [`SyncConn`] records for
//! the director to install, flags reduced to what a backup keeps.

use crate::auth::SyncKey;
use crate::control::{ResyncRequest, CONTROL_MARKER};
use crate::message::{
    flags, parse_message, states, SyncConn, SyncError, IPPROTO_AH, IPPROTO_ESP, IPPROTO_SCTP,
    IPPROTO_TCP, IPPROTO_UDP,
};

/// What a datagram was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Incoming {
    /// Connection records: `accepted` were appended to the output, `dropped` were not
    /// (unknown protocol, invalid state, unknown mandatory option, PE data without
    /// name).
    Conns { accepted: usize, dropped: usize },
    /// A backup asks for a full resync.
    ResyncRequest(ResyncRequest),
}

/// Receiver configuration and counters.
#[derive(Debug, Clone, Default)]
pub struct Receiver {
    /// Accept only this sync id; 0 accepts all (as the kernel).
    pub syncid: u8,
    /// Require the authentication trailer with this key.
    pub key: Option<SyncKey>,
    pub stats: ReceiverStats,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReceiverStats {
    pub messages: u64,
    pub conns: u64,
    pub dropped_conns: u64,
    pub bad_messages: u64,
    pub auth_failures: u64,
    pub other_syncid: u64,
}

/// Number of states of a protocol IPVS synchronises, `None` for unknown protocols.
fn state_count(protocol: u8) -> Option<u16> {
    match protocol {
        IPPROTO_TCP => Some(states::TCP_LAST),
        IPPROTO_UDP | IPPROTO_AH | IPPROTO_ESP => Some(states::UDP_LAST),
        IPPROTO_SCTP => Some(states::SCTP_LAST),
        _ => None,
    }
}

/// The kernel's per-record checks; the record as a backup installs it, or None.
pub fn accept_conn(mut conn: SyncConn) -> Option<SyncConn> {
    if conn.flags & flags::TEMPLATE == 0 {
        let count = state_count(conn.protocol)?;
        if conn.state >= count {
            return None;
        }
    }
    if conn.pe.as_ref().is_some_and(|pe| pe.name.is_empty()) {
        return None;
    }
    conn.flags = (conn.flags & flags::BACKUP_MASK) | flags::SYNC;
    Some(conn)
}

impl Receiver {
    pub fn new(syncid: u8, key: Option<SyncKey>) -> Receiver {
        Receiver {
            syncid,
            key,
            stats: ReceiverStats::default(),
        }
    }

    /// Process one datagram; accepted records are appended to `out`.
    pub fn receive(
        &mut self,
        datagram: &[u8],
        out: &mut Vec<SyncConn>,
    ) -> Result<Incoming, SyncError> {
        let result = self.receive_inner(datagram, out);
        match &result {
            Err(SyncError::AuthFailed) => self.stats.auth_failures += 1,
            Err(SyncError::OtherSyncId { .. }) => self.stats.other_syncid += 1,
            Err(_) => self.stats.bad_messages += 1,
            Ok(_) => self.stats.messages += 1,
        }
        result
    }

    fn receive_inner(
        &mut self,
        datagram: &[u8],
        out: &mut Vec<SyncConn>,
    ) -> Result<Incoming, SyncError> {
        let message = match &self.key {
            Some(key) => key.verify(datagram)?,
            None => datagram,
        };
        let syncid = message.get(1).copied().unwrap_or(0);
        if self.syncid != 0 && syncid != self.syncid {
            return Err(SyncError::OtherSyncId { syncid });
        }
        if message.first() == Some(&CONTROL_MARKER) {
            return ResyncRequest::parse(message).map(Incoming::ResyncRequest);
        }
        let msg = parse_message(message)?;
        let mut accepted = 0;
        let mut dropped = usize::from(msg.skipped);
        for conn in msg.conns {
            match accept_conn(conn) {
                Some(conn) => {
                    out.push(conn);
                    accepted += 1;
                }
                None => dropped += 1,
            }
        }
        self.stats.conns += accepted as u64;
        self.stats.dropped_conns += dropped as u64;
        Ok(Incoming::Conns { accepted, dropped })
    }
}
