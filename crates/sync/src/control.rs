//! rvs's own control datagram on the sync channel: a backup asks the master for a
//! bulk resynchronisation of its whole connection table (after a start, or after it
//! missed messages). Kernels ignore it.
//!
//! It shares the group and port with connection messages and is told apart by the
//! first byte, which a version 1 message has zero:
//!
//! ```text
//!  0: 0xFF (control marker)   1: syncid   2: size = 16 (2)   4: kind = 1 (resync request)
//!  5: version = 1             6: 0 0      8: nonce (8), echoed in logs, lets a master
//!                                            coalesce repeated requests
//! ```
//!
//! A kernel backup reads a datagram whose first byte is not zero as a version 0
//! message with 255 entries; the first entry (24 bytes) does not fit the 16-byte
//! datagram, so it drops the datagram before installing anything. That is why the
//! request must stay shorter than 28 bytes.

use crate::message::{SyncError, SYNC_PROTO_VER};

/// First byte of a control datagram.
pub const CONTROL_MARKER: u8 = 0xFF;
/// Control kind: bulk resync request.
pub const KIND_RESYNC_REQUEST: u8 = 1;
/// Length of a control datagram (without an authentication trailer).
pub const CONTROL_LEN: usize = 16;

// Shorter than one version 0 entry (24 bytes) behind a version 0 header (4): a kernel
// drops the datagram.
const _: () = assert!(CONTROL_LEN < 4 + 24);

/// A backup's request for a full table dump.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ResyncRequest {
    pub syncid: u8,
    pub nonce: u64,
}

impl ResyncRequest {
    pub fn to_bytes(&self) -> [u8; CONTROL_LEN] {
        let mut b = [0u8; CONTROL_LEN];
        b[0] = CONTROL_MARKER;
        b[1] = self.syncid;
        b[2..4].copy_from_slice(&(CONTROL_LEN as u16).to_be_bytes());
        b[4] = KIND_RESYNC_REQUEST;
        b[5] = SYNC_PROTO_VER;
        b[8..16].copy_from_slice(&self.nonce.to_be_bytes());
        b
    }

    /// Parse a control datagram (marker already seen by the caller or not).
    pub fn parse(bytes: &[u8]) -> Result<ResyncRequest, SyncError> {
        let Some(b) = bytes.first_chunk::<CONTROL_LEN>() else {
            return Err(SyncError::Truncated { len: bytes.len() });
        };
        let size = u16::from_be_bytes([b[2], b[3]]);
        if usize::from(size) != bytes.len() {
            return Err(SyncError::SizeMismatch {
                header: size,
                datagram: bytes.len(),
            });
        }
        if b[0] != CONTROL_MARKER
            || b[4] != KIND_RESYNC_REQUEST
            || b[5] != SYNC_PROTO_VER
            || b[6..8] != [0, 0]
        {
            return Err(SyncError::UnsupportedVersion);
        }
        let mut nonce = [0u8; 8];
        nonce.copy_from_slice(&b[8..16]);
        Ok(ResyncRequest {
            syncid: b[1],
            nonce: u64::from_be_bytes(nonce),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_rejections() {
        let req = ResyncRequest {
            syncid: 9,
            nonce: 0x0102_0304_0506_0708,
        };
        let bytes = req.to_bytes();
        assert_eq!(ResyncRequest::parse(&bytes), Ok(req));
        assert!(ResyncRequest::parse(&bytes[..15]).is_err());
        let mut bad = bytes;
        bad[4] = 2;
        assert_eq!(
            ResyncRequest::parse(&bad),
            Err(SyncError::UnsupportedVersion)
        );
    }
}
