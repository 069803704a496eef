//! `rvs-sync`: IPVS connection synchronisation (layer 4 of the design). The master
//! director multicasts its connections so a backup that takes over the VIPs continues
//! established connections. Speaks the kernel's protocol version 1 byte for byte, so
//! rvs directors and kernel IPVS directors can sync with each other.
//!
//! Modules:
//! - [`message`]: the codec ([`parse_message`], [`MessageBuilder`], [`sync_maxlen`]).
//! - [`policy`]: when the master syncs a connection ([`SyncPolicy`], the kernel's
//!   sync_threshold / sync_period / state-change rule).
//! - [`receiver`]: the backup's checks ([`Receiver`]) yielding records to install.
//! - [`auth`]: the optional HMAC-SHA256 trailer ([`SyncKey`]), an rvs extension.
//! - [`control`]: rvs's bulk resync request ([`ResyncRequest`]), which kernels ignore.
//! - [`linux`]: the UDP multicast [`linux::SyncSocket`].

pub mod auth;
pub mod control;
pub mod linux;
pub mod message;
pub mod policy;
pub mod receiver;

pub use auth::SyncKey;
pub use control::ResyncRequest;
pub use message::{
    fuzz_parse, parse_message, sync_maxlen, MessageBuilder, PeData, SeqAdjust, SeqOptions,
    SyncConn, SyncError, SyncMessage,
};
pub use policy::{ConnFacts, ConnSyncState, SyncPolicy};
pub use receiver::{accept_conn, Incoming, Receiver, ReceiverStats};
