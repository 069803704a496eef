//! Optional authentication of synchronisation datagrams (an rvs extension; kernels do
//! not know it). A trailer follows the message, which itself stays byte-identical to
//! the kernel's (its header `size` still counts only the message):
//!
//! ```text
//! message (size bytes) | "RVSA" | key id (1) | 0 0 0 | HMAC-SHA256 (32)
//! ```
//!
//! The HMAC covers the message and the first eight bytes of the trailer. A kernel
//! backup drops authenticated datagrams (their length differs from `size`), so a
//! cluster uses authentication on all directors or on none.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::message::SyncError;

/// Trailer magic.
pub const TRAILER_MAGIC: [u8; 4] = *b"RVSA";
/// Trailer length: magic, key id, three reserved bytes, the HMAC.
pub const TRAILER_LEN: usize = 40;
const MAC_LEN: usize = 32;

type HmacSha256 = Hmac<Sha256>;

/// A shared key. The id lets directors roll keys over: a receiver picks the key whose
/// id the trailer names.
#[derive(Clone)]
pub struct SyncKey {
    id: u8,
    mac: HmacSha256,
}

impl std::fmt::Debug for SyncKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.debug_struct("SyncKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl SyncKey {
    /// A key from shared secret bytes (any length; HMAC hashes long keys).
    pub fn new(id: u8, secret: &[u8]) -> SyncKey {
        // HMAC accepts keys of every length, so this cannot fail.
        let mac = match HmacSha256::new_from_slice(secret) {
            Ok(mac) => mac,
            Err(_) => unreachable!("HMAC takes keys of any length"),
        };
        SyncKey { id, mac }
    }

    pub fn id(&self) -> u8 {
        self.id
    }

    /// The trailer to send after `message`.
    pub fn trailer(&self, message: &[u8]) -> [u8; TRAILER_LEN] {
        let mut trailer = [0u8; TRAILER_LEN];
        trailer[..4].copy_from_slice(&TRAILER_MAGIC);
        trailer[4] = self.id;
        let mut mac = self.mac.clone();
        mac.update(message);
        mac.update(&trailer[..8]);
        trailer[8..].copy_from_slice(&mac.finalize().into_bytes());
        trailer
    }

    /// Check an authenticated datagram and return its message part. The message length
    /// is taken from the header's `size` field (bytes 2..4 of every message type).
    pub fn verify<'a>(&self, datagram: &'a [u8]) -> Result<&'a [u8], SyncError> {
        let (message, trailer) = split_trailer(datagram).ok_or(SyncError::AuthFailed)?;
        if trailer[..4] != TRAILER_MAGIC || trailer[4] != self.id || trailer[5..8] != [0, 0, 0] {
            return Err(SyncError::AuthFailed);
        }
        let mut mac = self.mac.clone();
        mac.update(message);
        mac.update(&trailer[..8]);
        // verify_slice compares in constant time.
        mac.verify_slice(&trailer[8..8 + MAC_LEN])
            .map_err(|_| SyncError::AuthFailed)?;
        Ok(message)
    }
}

/// Split at the header's size into (message, trailer) when exactly a trailer follows.
pub fn split_trailer(datagram: &[u8]) -> Option<(&[u8], &[u8])> {
    let size = datagram
        .get(2..4)
        .map(|s| usize::from(u16::from_be_bytes([s[0], s[1]])))?;
    if datagram.len() != size.checked_add(TRAILER_LEN)? {
        return None;
    }
    Some(datagram.split_at(size))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message() -> Vec<u8> {
        vec![0, 7, 0, 8, 0, 1, 0, 0]
    }

    #[test]
    fn sign_and_verify() {
        let key = SyncKey::new(3, b"shared secret");
        let msg = message();
        let mut datagram = msg.clone();
        datagram.extend_from_slice(&key.trailer(&msg));
        assert_eq!(key.verify(&datagram), Ok(&msg[..]));
        // Any flipped bit fails.
        for i in 0..datagram.len() {
            let mut bad = datagram.clone();
            bad[i] ^= 0x10;
            assert_eq!(key.verify(&bad), Err(SyncError::AuthFailed), "byte {i}");
        }
        // Another key, another id, a missing trailer.
        assert!(SyncKey::new(3, b"other").verify(&datagram).is_err());
        assert!(SyncKey::new(4, b"shared secret").verify(&datagram).is_err());
        assert!(key.verify(&msg).is_err());
        assert!(key.verify(&[]).is_err());
    }

    #[test]
    fn debug_hides_the_key() {
        let text = format!("{:?}", SyncKey::new(1, b"topsecret"));
        assert!(!text.contains("topsecret"));
    }
}
