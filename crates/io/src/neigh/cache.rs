//! The data plane's neighbour map: IP -> MAC lookups that never block or lock.
//!
//! The map is an immutable snapshot behind an `arc-swap` pointer. A watcher thread keeps a
//! working copy up to date from the kernel's neighbour notifications (RTNLGRP_NEIGH, after
//! one initial dump; a full re-dump when notifications were lost) and publishes a new
//! snapshot after each batch of changes. A worker's lookup is an atomic pointer load plus a
//! hash lookup: it never waits for the watcher, and a lookup that misses tells the worker
//! to ask the control side to resolve (see [`RtNetlink::neigh_resolve`]).
//!
//! Only entries with a usable link-layer address are kept (reachable, stale, delay, probe,
//! permanent, noarp). Stale entries are kept on purpose: the kernel uses them too, and
//! revalidates when traffic goes out through it. The director's frames bypass the kernel,
//! so the control side should `neigh_resolve` the real servers now and then to keep their
//! entries fresh.

use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use arc_swap::ArcSwap;
use netlink_packet_core::NetlinkPayload;
use netlink_packet_route::RouteNetlinkMessage;

use super::{datagram_messages, NeighEntry, RtNetlink};
use crate::mac::MacAddr;
use crate::sys;

/// RTMGRP_NEIGH: the legacy multicast bitmask for neighbour notifications.
const RTMGRP_NEIGH: u32 = 1 << 2;
/// How often the watcher thread looks at its stop flag when no notification comes.
const WATCH_POLL: std::time::Duration = std::time::Duration::from_millis(200);

/// One published snapshot.
#[derive(Debug, Default)]
struct Snapshot {
    /// Usable entries by (interface, IP).
    by_link: HashMap<(u32, IpAddr), MacAddr>,
    /// Usable entries by IP alone; when an IP is known on several interfaces, the lowest
    /// interface index wins (deterministic).
    by_ip: HashMap<IpAddr, (u32, MacAddr)>,
}

impl Snapshot {
    fn from_entries(entries: &HashMap<(u32, IpAddr), MacAddr>) -> Snapshot {
        let mut by_ip: HashMap<IpAddr, (u32, MacAddr)> = HashMap::with_capacity(entries.len());
        for (&(ifindex, ip), &mac) in entries {
            by_ip
                .entry(ip)
                .and_modify(|held| {
                    if ifindex < held.0 {
                        *held = (ifindex, mac);
                    }
                })
                .or_insert((ifindex, mac));
        }
        Snapshot {
            by_link: entries.clone(),
            by_ip,
        }
    }
}

/// A cheap-to-clone handle on the shared neighbour map. Lookups are wait-free for readers.
#[derive(Clone, Debug, Default)]
pub struct NeighCache {
    snapshot: Arc<ArcSwap<Snapshot>>,
}

impl NeighCache {
    /// An empty cache; fill it with [`refresh`](Self::refresh) or [`watch`](Self::watch).
    pub fn new() -> NeighCache {
        NeighCache::default()
    }

    /// The MAC address of neighbour `ip` on any interface.
    pub fn lookup(&self, ip: IpAddr) -> Option<MacAddr> {
        self.snapshot.load().by_ip.get(&ip).map(|&(_, mac)| mac)
    }

    /// The MAC address of neighbour `ip` on interface `ifindex`.
    pub fn lookup_on(&self, ifindex: u32, ip: IpAddr) -> Option<MacAddr> {
        self.snapshot.load().by_link.get(&(ifindex, ip)).copied()
    }

    /// Number of usable entries.
    pub fn len(&self) -> usize {
        self.snapshot.load().by_link.len()
    }

    /// Whether the cache holds no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Replaces the map with a fresh dump of the kernel's neighbour tables (all interfaces).
    /// For callers that refresh between batches instead of running a watcher.
    pub fn refresh(&self, netlink: &mut RtNetlink) -> io::Result<()> {
        let entries = dump_usable(netlink)?;
        self.publish(&entries);
        Ok(())
    }

    fn publish(&self, entries: &HashMap<(u32, IpAddr), MacAddr>) {
        self.snapshot
            .store(Arc::new(Snapshot::from_entries(entries)));
    }

    /// Fills the cache from a dump, then starts a thread that follows the kernel's neighbour
    /// notifications. The netlink sockets are opened in the calling thread, so the cache
    /// follows the calling thread's network namespace. Stops when the returned watcher is
    /// dropped (or [`NeighWatcher::stop`] is called).
    pub fn watch(&self) -> io::Result<NeighWatcher> {
        // Subscribe before dumping so no change falls between the two; notifications that
        // queue up meanwhile are replayed in order on top of the dump, which converges.
        let events = RtNetlink::open_with_groups(RTMGRP_NEIGH)?;
        let timeout = libc::timeval {
            tv_sec: 0,
            tv_usec: WATCH_POLL.as_micros() as libc::suseconds_t,
        };
        sys::setsockopt(
            &events.socket,
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            &timeout,
        )?;
        let mut dumper = RtNetlink::open()?;
        let entries = dump_usable(&mut dumper)?;
        self.publish(&entries);

        let stop = Arc::new(AtomicBool::new(false));
        let thread = std::thread::Builder::new()
            .name("rvs-neigh".into())
            .spawn({
                let cache = self.clone();
                let stop = Arc::clone(&stop);
                move || cache.follow(events, dumper, entries, &stop)
            })?;
        Ok(NeighWatcher {
            stop,
            thread: Some(thread),
        })
    }

    /// The watcher thread's loop: apply notifications, publish after each datagram.
    fn follow(
        &self,
        mut events: RtNetlink,
        mut dumper: RtNetlink,
        mut entries: HashMap<(u32, IpAddr), MacAddr>,
        stop: &AtomicBool,
    ) -> io::Result<()> {
        while !stop.load(Ordering::Relaxed) {
            let datagram = match events.recv_datagram() {
                Ok(datagram) => datagram,
                Err(err)
                    if matches!(
                        err.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                    ) =>
                {
                    continue;
                }
                Err(err) if err.raw_os_error() == Some(libc::ENOBUFS) => {
                    // Notifications were lost: start over from a full dump.
                    entries = dump_usable(&mut dumper)?;
                    self.publish(&entries);
                    continue;
                }
                Err(err) => return Err(err),
            };
            let mut changed = false;
            for message in datagram_messages(datagram).flatten() {
                if let NetlinkPayload::InnerMessage(inner) = message.payload {
                    changed |= apply(&mut entries, &inner);
                }
            }
            if changed {
                self.publish(&entries);
            }
        }
        Ok(())
    }

    /// Inserts an entry by hand (static neighbours, tests).
    pub fn insert(&self, ifindex: u32, ip: IpAddr, mac: MacAddr) {
        let mut entries = self.snapshot.load().by_link.clone();
        entries.insert((ifindex, ip), mac);
        self.publish(&entries);
    }
}

/// Applies one neighbour notification to the working map; returns whether it changed.
fn apply(entries: &mut HashMap<(u32, IpAddr), MacAddr>, message: &RouteNetlinkMessage) -> bool {
    let (entry, deleted) = match message {
        RouteNetlinkMessage::NewNeighbour(n) => (NeighEntry::from_message(n), false),
        RouteNetlinkMessage::DelNeighbour(n) => (NeighEntry::from_message(n), true),
        _ => return false,
    };
    let Some(entry) = entry else { return false };
    let key = (entry.ifindex, entry.ip);
    match entry.mac {
        Some(mac) if !deleted && entry.state.is_usable() => entries.insert(key, mac) != Some(mac),
        _ => entries.remove(&key).is_some(),
    }
}

fn dump_usable(netlink: &mut RtNetlink) -> io::Result<HashMap<(u32, IpAddr), MacAddr>> {
    Ok(netlink
        .neigh_dump(None)?
        .into_iter()
        .filter(|e| e.state.is_usable())
        .filter_map(|e| Some(((e.ifindex, e.ip), e.mac?)))
        .collect())
}

/// The thread that keeps a [`NeighCache`] current; stops and joins on drop.
#[derive(Debug)]
pub struct NeighWatcher {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<io::Result<()>>>,
}

impl NeighWatcher {
    /// Whether the watcher thread is still following notifications (it ends on a netlink
    /// error; [`stop`](Self::stop) returns that error).
    pub fn is_running(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// Stops the thread and returns how it ended.
    pub fn stop(mut self) -> io::Result<()> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> io::Result<()> {
        self.stop.store(true, Ordering::Relaxed);
        match self.thread.take() {
            Some(thread) => thread
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("neighbour watcher panicked"))),
            None => Ok(()),
        }
    }
}

impl Drop for NeighWatcher {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use netlink_packet_route::neighbour::{NeighbourAddress, NeighbourAttribute, NeighbourMessage};
    use std::net::Ipv4Addr;

    fn neigh(ifindex: u32, ip: Ipv4Addr, mac: Option<[u8; 6]>, state: u16) -> NeighbourMessage {
        let mut msg = NeighbourMessage::default();
        msg.header.family = netlink_packet_route::AddressFamily::Inet;
        msg.header.ifindex = ifindex;
        msg.header.state = state.into();
        msg.attributes
            .push(NeighbourAttribute::Destination(NeighbourAddress::Inet(ip)));
        if let Some(mac) = mac {
            msg.attributes
                .push(NeighbourAttribute::LinkLayerAddress(mac.to_vec()));
        }
        msg
    }

    #[test]
    fn notifications_update_the_map() {
        let ip = Ipv4Addr::new(198, 51, 100, 2);
        let mac = [2, 0, 0, 0, 0, 2];
        let mut entries = HashMap::new();
        let reachable = RouteNetlinkMessage::NewNeighbour(neigh(3, ip, Some(mac), 0x02));
        assert!(apply(&mut entries, &reachable));
        assert!(
            !apply(&mut entries, &reachable),
            "same entry again changes nothing"
        );
        assert_eq!(entries.get(&(3, IpAddr::V4(ip))), Some(&MacAddr(mac)));
        // Stale keeps the address; failed drops it; delete drops it.
        assert!(!apply(
            &mut entries,
            &RouteNetlinkMessage::NewNeighbour(neigh(3, ip, Some(mac), 0x04))
        ));
        assert!(apply(
            &mut entries,
            &RouteNetlinkMessage::NewNeighbour(neigh(3, ip, None, 0x20))
        ));
        assert!(entries.is_empty());
        assert!(apply(&mut entries, &reachable));
        assert!(apply(
            &mut entries,
            &RouteNetlinkMessage::DelNeighbour(neigh(3, ip, Some(mac), 0x02))
        ));
        assert!(entries.is_empty());
    }

    #[test]
    fn lookups_by_ip_and_by_link() {
        let cache = NeighCache::new();
        let ip = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 3));
        assert!(cache.is_empty());
        assert_eq!(cache.lookup(ip), None);
        cache.insert(7, ip, MacAddr([7; 6]));
        cache.insert(4, ip, MacAddr([4; 6]));
        assert_eq!(cache.len(), 2);
        assert_eq!(
            cache.lookup(ip),
            Some(MacAddr([4; 6])),
            "lowest ifindex wins"
        );
        assert_eq!(cache.lookup_on(7, ip), Some(MacAddr([7; 6])));
        assert_eq!(cache.lookup_on(5, ip), None);
        let clone = cache.clone();
        cache.insert(4, ip, MacAddr([9; 6]));
        assert_eq!(
            clone.lookup(ip),
            Some(MacAddr([9; 6])),
            "clones share the map"
        );
    }
}
