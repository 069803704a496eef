//! `rvs-wire`: typed, zero-copy views over packet bytes for the rvs director (layer 1
//! of the design). No allocation, no I/O, no knowledge of virtual services: the
//! director core parses each frame once with [`parse_frame`] into a small `Copy`
//! struct of offsets and fields, decides, then rewrites the same bytes in place.
//!
//! Modules:
//! - [`checksum`]: the Internet checksum (RFC 1071), pseudo-headers, RFC 1624
//!   incremental updates, and partial (offloaded) checksums.
//! - [`ether`]: MAC addresses, the Ethernet header with up to two VLAN tags.
//! - [`ip`]: IPv4 and IPv6 (extension headers, fragments); [`parse_frame`] and
//!   [`IpMeta`].
//! - [`l4`]: TCP, UDP, ICMP and ICMPv6 headers ([`L4Meta`], TCP flag constants).
//! - [`icmp`]: ICMP errors and the packet they embed ([`parse_icmp_inner`]).
//! - [`rewrite`]: in-place NAT rewriting of addresses and ports with incremental
//!   checksums, TTL decrement, NAT of ICMP errors, checksum verification and
//!   completion of partial checksums.
//! - [`encap`]: the tunnel forwarding method (IP-in-IP, IPv6-in-IPv6), decapsulation
//!   for real servers, and the "fragmentation needed" / "packet too big" errors.
//! - [`arp`] and [`ndp`]: VIP ownership on a segment (ARP, Neighbor Discovery).
//! - [`build`]: whole valid frames for tests and tools (not for the packet path).
//! - [`error`]: the typed errors, with stable short names for drop counters.
//!
//! Nothing here panics on malformed packet bytes: every parser returns a typed
//! [`ParseError`], and rewriters check the metadata's offsets against the frame.

pub mod arp;
pub mod build;
pub mod checksum;
pub mod encap;
pub mod error;
pub mod ether;
pub mod icmp;
pub mod ip;
pub mod l4;
pub mod ndp;
pub mod rewrite;

pub use error::{EncapError, ParseError, RewriteError};
pub use ether::{parse_ether, EtherMeta, MacAddr};
pub use icmp::{is_icmp_error, parse_icmp_inner, InnerMeta};
pub use ip::{parse_frame, parse_ip, FragmentInfo, Frame, IpMeta, IpVersion};
pub use l4::L4Meta;
pub use rewrite::CsumMode;
