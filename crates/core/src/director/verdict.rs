//! What the director says about a frame, why it drops one, and the per-shard
//! counters that record both.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use rvs_wire::error::{EncapError, ParseError, RewriteError};

use crate::service::PortId;
use crate::stats::Counters;

/// A frame handed to the director: `buf[start..start + len]` is the Ethernet frame;
/// bytes before `start` are headroom the director may use to prepend a tunnel
/// header (give at least 64 bytes).
pub struct Rx<'a> {
    pub buf: &'a mut [u8],
    pub start: usize,
    pub len: usize,
    /// The port (interface) it arrived on.
    pub port: PortId,
    /// Its L4 checksum field holds only the pseudo-header sum (a frame from a
    /// local stack over veth/virtio; AF_PACKET's TP_STATUS_CSUMNOTREADY).
    pub csum_partial: bool,
    /// Nobody says whether the checksum is partial (AF_XDP): the director looks, on
    /// the frames it rewrites (see [`rvs_wire::rewrite::l4_checksum_state`]).
    pub csum_unknown: bool,
    /// The frame may leave with its checksum still partial: the caller's backend asks
    /// the kernel to finish it (PACKET_VNET_HDR, AF_XDP TX metadata). Saves summing the
    /// payload here and again at the receiver. Otherwise partial checksums are completed.
    pub keep_partial: bool,
    /// A GSO super-frame (offloads on): larger than the MTU, cut by the kernel on the
    /// way out. NAT and direct routing forward it; tunnelling cannot.
    pub gso: bool,
    /// Firewall mark set by the caller (0: none; the director's own fwmark rules apply).
    pub mark: u32,
    /// Output: on a forwarded frame whose checksum is left partial (`keep_partial`),
    /// (offset of the L4 header from the frame start, offset of the checksum field in
    /// it); `None` when the checksum is complete.
    pub out_csum: Option<(u16, u16)>,
}

impl<'a> Rx<'a> {
    pub fn new(buf: &'a mut [u8], start: usize, len: usize, port: PortId) -> Rx<'a> {
        Rx {
            buf,
            start,
            len,
            port,
            csum_partial: false,
            csum_unknown: false,
            keep_partial: false,
            gso: false,
            mark: 0,
            out_csum: None,
        }
    }
    pub fn frame(&self) -> &[u8] {
        &self.buf[self.start..self.start + self.len]
    }
}

/// The director's decision about one frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Send `buf[start..start + len]` out of `port`. The source MAC is set; the
    /// destination MAC must be set to that of `next_hop` (the caller's neighbour table).
    Forward {
        port: PortId,
        next_hop: IpAddr,
        start: usize,
        len: usize,
    },
    /// Send `buf[start..start + len]` out of `port` as it is (an ARP reply, an ICMP
    /// message): both MAC addresses are set.
    Reply {
        port: PortId,
        start: usize,
        len: usize,
    },
    /// Not the director's: let the host's own stack have it.
    Pass,
    /// Dropped, and counted under this reason.
    Drop(DropReason),
}

/// Why the director dropped a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// The frame did not parse.
    Malformed(ParseError),
    /// To a VIP, but no virtual service for its protocol and port.
    NoService,
    /// The service has no real server that may take a new connection.
    NoDest,
    /// A TCP segment without SYN (or with RST) and no connection.
    NotSyn,
    /// The connection table is full.
    TableFull,
    /// The connection's real server was removed (`expire_nodest_conn`).
    DestRemoved,
    /// A non-first fragment (reassembly is not done).
    Fragment,
    /// A reply from a NAT real server with no connection: never leaks un-NATed.
    NatReplyWithoutConn,
    /// An ICMP error about no known connection, sent to a VIP.
    IcmpNoConn,
    /// TTL ran out on a routed reply.
    TtlExceeded,
    /// Too big for the egress MTU and may not be fragmented (an ICMP error was sent if possible).
    TooBig,
    /// No route to the real server or client.
    NoRoute,
    /// A protocol the director does not balance, sent to a VIP.
    Unsupported,
    /// A rewrite failed (should not happen with a parsed frame).
    Rewrite(RewriteError),
    /// Encapsulation or an ICMP reply could not be built (no headroom, ...).
    Encap(EncapError),
}

const OWN_REASONS: usize = 15;

impl DropReason {
    pub const OWN_NAMES: [&'static str; OWN_REASONS] = [
        "malformed",
        "no_service",
        "no_dest",
        "not_syn",
        "table_full",
        "dest_removed",
        "fragment",
        "nat_reply_without_conn",
        "icmp_no_conn",
        "ttl_exceeded",
        "too_big",
        "no_route",
        "unsupported",
        "rewrite",
        "encap",
    ];

    /// Number of distinct counters: our reasons plus one per parse error.
    pub const COUNTERS: usize = OWN_REASONS + ParseError::ALL.len();

    /// Index of this reason's counter.
    pub fn counter_index(&self) -> usize {
        match self {
            DropReason::Malformed(e) => {
                OWN_REASONS + ParseError::ALL.iter().position(|x| x == e).unwrap_or(0)
            }
            DropReason::NoService => 1,
            DropReason::NoDest => 2,
            DropReason::NotSyn => 3,
            DropReason::TableFull => 4,
            DropReason::DestRemoved => 5,
            DropReason::Fragment => 6,
            DropReason::NatReplyWithoutConn => 7,
            DropReason::IcmpNoConn => 8,
            DropReason::TtlExceeded => 9,
            DropReason::TooBig => 10,
            DropReason::NoRoute => 11,
            DropReason::Unsupported => 12,
            DropReason::Rewrite(_) => 13,
            DropReason::Encap(_) => 14,
        }
    }

    /// The label of counter `index`: "no_service", "malformed:truncated_ipv4", ...
    pub fn counter_name(index: usize) -> String {
        if index < OWN_REASONS {
            Self::OWN_NAMES[index].to_string()
        } else {
            ParseError::ALL
                .get(index - OWN_REASONS)
                .map(|e| format!("malformed:{}", e.reason()))
                .unwrap_or_else(|| "unknown".to_string())
        }
    }

    pub fn name(&self) -> String {
        Self::counter_name(self.counter_index())
    }
}

/// Counters of one shard (single writer: the shard; readers: the control plane).
#[derive(Debug)]
pub struct ShardStats {
    pub services: Box<[Counters]>,
    pub dests: Box<[Counters]>,
    pub drops: Box<[AtomicU64]>,
    pub forwarded: AtomicU64,
    pub replied: AtomicU64,
    pub passed: AtomicU64,
    /// ICMP errors the director generated (too big, port unreachable).
    pub icmp_sent: AtomicU64,
    /// Partial checksums completed in user space.
    pub csum_completed: AtomicU64,
    /// Connections and templates currently in this shard's tables.
    pub conns: AtomicU64,
    pub templates: AtomicU64,
    /// Bytes the shard's connection tables hold.
    pub table_bytes: AtomicU64,
    /// Sync records not kept because the buffer between drains was full.
    pub sync_lost: AtomicU64,
}

#[inline]
pub(crate) fn bump(c: &AtomicU64) {
    c.store(c.load(Relaxed).wrapping_add(1), Relaxed);
}

impl ShardStats {
    pub fn new(max_services: usize, max_dests: usize) -> ShardStats {
        ShardStats {
            services: (0..max_services).map(|_| Counters::default()).collect(),
            dests: (0..max_dests * 2).map(|_| Counters::default()).collect(),
            drops: (0..DropReason::COUNTERS)
                .map(|_| AtomicU64::new(0))
                .collect(),
            forwarded: AtomicU64::new(0),
            replied: AtomicU64::new(0),
            passed: AtomicU64::new(0),
            icmp_sent: AtomicU64::new(0),
            csum_completed: AtomicU64::new(0),
            conns: AtomicU64::new(0),
            templates: AtomicU64::new(0),
            table_bytes: AtomicU64::new(0),
            sync_lost: AtomicU64::new(0),
        }
    }

    /// Drop counters with their labels (non-zero only).
    pub fn drop_counts(&self) -> Vec<(String, u64)> {
        self.drops
            .iter()
            .enumerate()
            .map(|(i, c)| (DropReason::counter_name(i), c.load(Relaxed)))
            .filter(|(_, v)| *v != 0)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_indices_are_distinct_and_named() {
        let mut seen = std::collections::HashSet::new();
        let all = [
            DropReason::NoService,
            DropReason::NoDest,
            DropReason::NotSyn,
            DropReason::TableFull,
            DropReason::DestRemoved,
            DropReason::Fragment,
            DropReason::NatReplyWithoutConn,
            DropReason::IcmpNoConn,
            DropReason::TtlExceeded,
            DropReason::TooBig,
            DropReason::NoRoute,
            DropReason::Unsupported,
        ];
        for r in all {
            assert!(seen.insert(r.counter_index()));
        }
        for e in ParseError::ALL {
            let r = DropReason::Malformed(e);
            assert!(seen.insert(r.counter_index()));
            assert!(r.name().starts_with("malformed:"));
        }
        assert!(seen.iter().all(|&i| i < DropReason::COUNTERS));
        assert_eq!(DropReason::NoService.name(), "no_service");
    }
}
