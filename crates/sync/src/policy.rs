//! When the master syncs a connection: the kernel's `ip_vs_sync_conn_needed` rule as
//! `ip_vs_in` applies it, sans-IO.
//!
//! For each packet from the client on a connection, the director counts `in_pkts`
//! (a ONE_PACKET connection counts as `threshold`) and asks [`SyncPolicy::needed`]:
//!
//! - TCP is synced only in ESTABLISHED, FIN_WAIT, CLOSE, CLOSE_WAIT and TIME_WAIT
//!   (SCTP likewise in its established and shutdown states); a change into any of
//!   these but ESTABLISHED is synced at once;
//! - otherwise (and for UDP and templates) when `in_pkts % sync_period == sync_threshold`
//!   (3 and 50 by default: packets 3, 53, 103, ...); templates on every call when
//!   `sync_period` is set;
//! - with `sync_refresh_period` set, a connection is not re-synced while its timeout
//!   moved by less than that period (and half its timeout), except for up to
//!   `sync_retries` retries spaced by a eighth of the period;
//! - `sync_persist_mode` skips connections under a persistence template (the template
//!   is synced instead).
//!
//! After deciding for a connection, the kernel also considers its controlling template
//! (persistence): the caller increments the template's own `in_pkts` and asks again
//! with the template. ONE_PACKET connections themselves are never synced.

use std::time::Duration;

use crate::message::{flags, states, IPPROTO_SCTP, IPPROTO_TCP};

/// The sync sysctls (net.ipv4.vs.sync_*), kernel defaults by [`Default`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyncPolicy {
    /// `sync_threshold[0]`, default 3.
    pub threshold: u32,
    /// `sync_threshold[1]` (sync period), default 50; 0 syncs once at the threshold.
    pub period: u32,
    /// `sync_refresh_period`, default 0 (off).
    pub refresh_period: Duration,
    /// `sync_retries`, default 0 (0..=3).
    pub retries: u8,
    /// `sync_persist_mode`, default off.
    pub persist_mode: bool,
}

impl Default for SyncPolicy {
    fn default() -> Self {
        SyncPolicy {
            threshold: 3,
            period: 50,
            refresh_period: Duration::ZERO,
            retries: 0,
            persist_mode: false,
        }
    }
}

/// Per-connection sync bookkeeping the director keeps in its connection entry (the
/// kernel's `old_state` and `sync_endtime`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConnSyncState {
    /// State at the last sync.
    pub old_state: u16,
    /// `now + timeout` at the last sync.
    pub sync_endtime: Duration,
    /// Retries done for the current `sync_endtime`.
    pub retries: u8,
}

/// What the policy needs to know about a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnFacts {
    pub protocol: u8,
    pub state: u16,
    /// `IP_VS_CONN_F_*` (TEMPLATE and ONE_PACKET matter here).
    pub flags: u32,
    /// The connection's current timeout.
    pub timeout: Duration,
    /// Controlled by a persistence template.
    pub in_persistence: bool,
}

fn tcp_syncable(state: u16) -> bool {
    matches!(
        state,
        states::TCP_ESTABLISHED
            | states::TCP_FIN_WAIT
            | states::TCP_CLOSE
            | states::TCP_CLOSE_WAIT
            | states::TCP_TIME_WAIT
    )
}

fn sctp_syncable(state: u16) -> bool {
    matches!(
        state,
        states::SCTP_ESTABLISHED
            | states::SCTP_SHUTDOWN_SENT
            | states::SCTP_SHUTDOWN_RECEIVED
            | states::SCTP_SHUTDOWN_ACK_SENT
            | states::SCTP_CLOSED
    )
}

impl SyncPolicy {
    /// The packet count to pass for a packet of `conn`: its incremented `in_pkts`, or
    /// the threshold for a ONE_PACKET connection (as `ip_vs_in`).
    pub fn packet_count(&self, conn_flags: u32, in_pkts: u32) -> u32 {
        if conn_flags & flags::ONE_PACKET != 0 {
            self.threshold
        } else {
            in_pkts
        }
    }

    /// Whether to sync `conn` now, after a packet that brought its count to `pkts`.
    /// Updates `st` when it says yes.
    pub fn needed(
        &self,
        conn: &ConnFacts,
        pkts: u32,
        st: &mut ConnSyncState,
        now: Duration,
    ) -> bool {
        if conn.flags & flags::ONE_PACKET != 0 {
            return false;
        }
        let template = conn.flags & flags::TEMPLATE != 0;
        let new_endtime = now + conn.timeout;
        if !template {
            if self.persist_mode && conn.in_persistence {
                return false;
            }
            let (syncable, established) = match conn.protocol {
                IPPROTO_TCP => (tcp_syncable(conn.state), states::TCP_ESTABLISHED),
                IPPROTO_SCTP => (sctp_syncable(conn.state), states::SCTP_ESTABLISHED),
                // UDP and other single-state protocols.
                _ => (true, conn.state),
            };
            if !syncable {
                return false;
            }
            // A change into a closing state is synced at once, whatever the count.
            if conn.state != st.old_state && conn.state != established {
                st.old_state = conn.state;
                st.sync_endtime = new_endtime;
                st.retries = 0;
                return true;
            }
        }
        let mut retries = 0;
        if !self.refresh_period.is_zero() {
            let diff = new_endtime.abs_diff(st.sync_endtime);
            let min_diff = (conn.timeout / 2).max(Duration::from_secs(10));
            if diff < self.refresh_period.min(min_diff) {
                if st.retries >= self.retries {
                    return false;
                }
                // Retries are spaced by an eighth of the refresh period from the sync.
                let synced_at = st.sync_endtime.saturating_sub(conn.timeout);
                if now < synced_at + self.refresh_period / 8 {
                    return false;
                }
                retries = st.retries + 1;
            }
        }
        if self.period > 0 {
            if !template && pkts % self.period != self.threshold {
                return false;
            }
        } else if self.refresh_period.is_zero() && pkts != self.threshold {
            return false;
        }
        st.old_state = conn.state;
        st.sync_endtime = new_endtime;
        st.retries = retries;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::IPPROTO_UDP;

    fn tcp(state: u16) -> ConnFacts {
        ConnFacts {
            protocol: IPPROTO_TCP,
            state,
            flags: 0,
            timeout: Duration::from_secs(900),
            in_persistence: false,
        }
    }

    #[test]
    fn threshold_then_every_period() {
        let policy = SyncPolicy::default();
        let conn = tcp(states::TCP_ESTABLISHED);
        let mut st = ConnSyncState {
            old_state: states::TCP_ESTABLISHED,
            ..Default::default()
        };
        let synced: Vec<u32> = (1..=200)
            .filter(|&p| policy.needed(&conn, p, &mut st, Duration::from_secs(u64::from(p))))
            .collect();
        assert_eq!(synced, vec![3, 53, 103, 153]);
    }

    #[test]
    fn tcp_state_changes() {
        let policy = SyncPolicy::default();
        let mut st = ConnSyncState::default();
        let now = Duration::from_secs(1);
        // SYN_RECV is never synced.
        assert!(!policy.needed(&tcp(states::TCP_SYN_RECV), 1, &mut st, now));
        // Into ESTABLISHED: not forced, waits for the threshold.
        assert!(!policy.needed(&tcp(states::TCP_ESTABLISHED), 2, &mut st, now));
        assert!(policy.needed(&tcp(states::TCP_ESTABLISHED), 3, &mut st, now));
        assert!(!policy.needed(&tcp(states::TCP_ESTABLISHED), 4, &mut st, now));
        // Into FIN_WAIT: at once, whatever the count; then not again.
        assert!(policy.needed(&tcp(states::TCP_FIN_WAIT), 17, &mut st, now));
        assert!(!policy.needed(&tcp(states::TCP_FIN_WAIT), 18, &mut st, now));
        assert!(policy.needed(&tcp(states::TCP_CLOSE_WAIT), 19, &mut st, now));
        assert!(policy.needed(&tcp(states::TCP_TIME_WAIT), 20, &mut st, now));
        assert!(policy.needed(&tcp(states::TCP_CLOSE), 21, &mut st, now));
    }

    #[test]
    fn udp_templates_and_one_packet() {
        let policy = SyncPolicy::default();
        let mut st = ConnSyncState::default();
        let now = Duration::ZERO;
        let udp = ConnFacts {
            protocol: IPPROTO_UDP,
            state: states::UDP_NORMAL,
            flags: 0,
            timeout: Duration::from_secs(300),
            in_persistence: false,
        };
        assert!(!policy.needed(&udp, 2, &mut st, now));
        assert!(policy.needed(&udp, 3, &mut st, now));
        let template = ConnFacts {
            flags: flags::TEMPLATE,
            ..udp
        };
        assert!(policy.needed(&template, 1, &mut st, now));
        assert!(policy.needed(&template, 2, &mut st, now));
        let one = ConnFacts {
            flags: flags::ONE_PACKET,
            ..udp
        };
        assert_eq!(policy.packet_count(one.flags, 1), 3);
        assert!(!policy.needed(&one, 3, &mut st, now));
        let persistent = ConnFacts {
            in_persistence: true,
            ..udp
        };
        let persist_mode = SyncPolicy {
            persist_mode: true,
            ..policy
        };
        assert!(!persist_mode.needed(&persistent, 3, &mut st, now));
        assert!(policy.needed(&persistent, 3, &mut st, now));
    }

    #[test]
    fn no_period_syncs_once() {
        let policy = SyncPolicy {
            period: 0,
            ..Default::default()
        };
        let conn = tcp(states::TCP_ESTABLISHED);
        let mut st = ConnSyncState {
            old_state: states::TCP_ESTABLISHED,
            ..Default::default()
        };
        let n = (1..500)
            .filter(|&p| policy.needed(&conn, p, &mut st, Duration::ZERO))
            .count();
        assert_eq!(n, 1);
    }

    #[test]
    fn refresh_period_limits_resyncs() {
        let policy = SyncPolicy {
            period: 0,
            refresh_period: Duration::from_secs(60),
            retries: 1,
            ..Default::default()
        };
        let conn = tcp(states::TCP_ESTABLISHED);
        let mut st = ConnSyncState {
            old_state: states::TCP_ESTABLISHED,
            ..Default::default()
        };
        let at = |s: u64| Duration::from_secs(s);
        assert!(policy.needed(&conn, 1, &mut st, at(100)));
        // Timeout moved by < 60 s: not yet; one retry after 60/8 s.
        assert!(!policy.needed(&conn, 2, &mut st, at(101)));
        assert!(policy.needed(&conn, 3, &mut st, at(108)));
        assert_eq!(st.retries, 1);
        assert!(!policy.needed(&conn, 4, &mut st, at(120)));
        // Moved by a full refresh period: synced again.
        assert!(policy.needed(&conn, 5, &mut st, at(170)));
        assert_eq!(st.retries, 0);
    }
}
