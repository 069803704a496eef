//! Connection synchronisation, the core's side: which connections to tell a backup
//! director about and when (IPVS's rule: when a connection's inbound packet count
//! reaches the sync threshold and every sync period after, and at once when TCP
//! moves into a closing state; templates travel before the connections they
//! control), and installing what a master director sent.
//! The wire format and the sockets live in the control layer (`rvs-sync`).

use std::net::IpAddr;
use std::time::Duration;

use super::{bump, Director, Fam};
use crate::conn::table::{flags, fwd_flags, NewConn, NIL};
use crate::conn::{Conn, ConnState, IpBytes};
use crate::model::{ForwardMethod, Protocol};
use crate::time::Time;

/// IPVS's defaults: sync at the 3rd inbound packet, then every 50.
pub const SYNC_THRESHOLD: u16 = 3;
pub const SYNC_PERIOD: u16 = 50;
/// Records kept for the caller between drains (the worker drains every round); beyond,
/// new records are counted in [`ShardStats::sync_lost`](super::ShardStats) and dropped.
pub const SYNC_BUFFER: usize = 8192;

/// A connection or template as synchronisation carries it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyncRecord {
    pub proto: u8,
    pub caddr: IpAddr,
    pub cport: u16,
    /// For firewall-mark templates: the mark in `fwmark`, `vaddr` meaningless.
    pub vaddr: IpAddr,
    pub vport: u16,
    pub daddr: IpAddr,
    pub dport: u16,
    pub state: ConnState,
    pub method: ForwardMethod,
    pub template: bool,
    pub fwmark: u32,
    /// Seconds the receiver should keep it without traffic.
    pub timeout_secs: u32,
}

/// Why a synced record was not installed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncInstallError {
    FamilyMismatch,
    NoSuchDest,
    TableFull,
}

impl Director {
    /// Start or stop noting connections for synchronisation (a master sync daemon).
    pub fn set_sync(&mut self, enabled: bool) {
        self.sync_enabled = enabled;
        if !enabled {
            self.sync_out.clear();
        }
    }

    /// Move the noted records into `out` (the worker sends them to the sync daemon).
    pub fn take_sync(&mut self, out: &mut Vec<SyncRecord>) {
        out.append(&mut self.sync_out);
    }

    /// Every connection and template of this shard as records (a bulk resync for a
    /// backup that started late).
    pub fn sync_dump(&self, now: Time, out: &mut Vec<SyncRecord>) {
        for (_, c) in self.tables.v4.iter() {
            out.push(record(c, now));
        }
        for (_, c) in self.tables.v6.iter() {
            out.push(record(c, now));
        }
    }

    /// After a packet of connection `slot`: note it if the sync rule says so.
    #[inline]
    pub(super) fn sync_note<A: Fam>(&mut self, slot: u32, old_state: ConnState, now: Time) {
        if !self.sync_enabled {
            return;
        }
        let c = *A::table_ref(&self.tables).get(slot);
        let state = c.state();
        // Like IPVS, a change *to* ESTABLISHED waits for the packet threshold (the 3rd
        // inbound packet follows at once); closing states go out at once.
        let changed = state != old_state
            && matches!(
                state,
                ConnState::FinWait
                    | ConnState::CloseWait
                    | ConnState::TimeWait
                    | ConnState::Close
                    | ConnState::LastAck
            );
        let pkts = c.in_pkts;
        let periodic =
            pkts >= SYNC_THRESHOLD && (pkts - SYNC_THRESHOLD).is_multiple_of(SYNC_PERIOD);
        if !(changed || periodic) {
            return;
        }
        if let Some(t) = c.controller() {
            let tc = *A::table_ref(&self.tables).get(t);
            self.push_sync(record(&tc, now));
        }
        self.push_sync(record(&c, now));
    }

    fn push_sync(&mut self, r: SyncRecord) {
        if self.sync_out.len() >= SYNC_BUFFER {
            bump(&self.stats.sync_lost);
            return;
        }
        self.sync_out.push(r);
    }

    /// Install (or refresh) a connection a master director synchronised.
    pub fn install_synced(&mut self, r: &SyncRecord, now: Time) -> Result<(), SyncInstallError> {
        match r.caddr {
            IpAddr::V4(_) => self.install_family::<[u8; 4]>(r, now),
            IpAddr::V6(_) => self.install_family::<[u8; 16]>(r, now),
        }
    }

    fn install_family<A: Fam>(
        &mut self,
        r: &SyncRecord,
        now: Time,
    ) -> Result<(), SyncInstallError> {
        let (Some(caddr), Some(daddr)) = (A::from_ip(r.caddr), A::from_ip(r.daddr)) else {
            return Err(SyncInstallError::FamilyMismatch);
        };
        let vaddr = if r.template && r.fwmark != 0 {
            A::from_mark(r.fwmark)
        } else {
            A::from_ip(r.vaddr).ok_or(SyncInstallError::FamilyMismatch)?
        };
        let dest = self
            .snap
            .dests()
            .find(|d| d.addr() == r.daddr && (d.port() == r.dport || d.port() == 0 || r.template))
            .cloned()
            .ok_or(SyncInstallError::NoSuchDest)?;
        let timeout = Duration::from_secs(r.timeout_secs.max(1) as u64);
        let table = A::table(&mut self.tables);
        let existing = if r.template {
            table.lookup_template(r.proto, &caddr, &vaddr, r.vport)
        } else {
            table.lookup_in(r.proto, &caddr, r.cport, &vaddr, r.vport)
        };
        if let Some(slot) = existing {
            // Refresh: state (keeping the real server's counts right) and deadline.
            let c = *table.get(slot);
            if !r.template && c.state() != r.state {
                let was_inactive = c.is_inactive();
                let now_inactive = r.state != ConnState::Established;
                if was_inactive != now_inactive {
                    if let Some(d) = self.snap.dest(c.dest()) {
                        d.move_conn(!now_inactive);
                    }
                    let cm = table.get_mut(slot);
                    if now_inactive {
                        cm.flags |= flags::INACTIVE;
                    } else {
                        cm.flags &= !flags::INACTIVE;
                    }
                }
                table.set_state(slot, r.state);
            }
            table.touch(slot, timeout, now);
            return Ok(());
        }
        let inactive = r.state != ConnState::Established || r.proto == Protocol::Udp as u8;
        let mut f = fwd_flags(r.method) | flags::SYNCED;
        if r.template {
            f |= flags::TEMPLATE;
            if r.fwmark != 0 {
                f |= flags::FWMARK;
            }
        } else {
            if inactive {
                f |= flags::INACTIVE;
            }
            if r.method != ForwardMethod::Masq {
                f |= flags::NO_OUTPUT;
            }
        }
        let new = NewConn {
            proto: r.proto,
            caddr,
            cport: r.cport,
            vaddr,
            vport: r.vport,
            daddr,
            dport: r.dport,
            state: r.state,
            flags: f,
            dest: dest.id(),
            control: NIL,
        };
        table
            .insert(new, timeout, now)
            .map_err(|_| SyncInstallError::TableFull)?;
        dest.bind_conn(r.template, !inactive);
        bump(if r.template {
            &self.stats.templates
        } else {
            &self.stats.conns
        });
        Ok(())
    }
}

fn record<A: IpBytes>(c: &Conn<A>, now: Time) -> SyncRecord {
    let fwmark = if c.flags & flags::FWMARK != 0 {
        match c.vaddr.to_ip() {
            IpAddr::V4(a) => u32::from(a),
            IpAddr::V6(a) => (u128::from(a) & 0xFFFF_FFFF) as u32,
        }
    } else {
        0
    };
    SyncRecord {
        proto: c.proto,
        caddr: c.caddr.to_ip(),
        cport: c.cport,
        vaddr: c.vaddr.to_ip(),
        vport: c.vport,
        daddr: c.daddr.to_ip(),
        dport: c.dport,
        state: c.state(),
        method: c.method(),
        template: c.is_template(),
        fwmark,
        timeout_secs: c.expires_in(now).as_secs().max(1) as u32,
    }
}
