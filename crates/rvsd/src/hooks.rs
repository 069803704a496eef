//! Extension points of the control plane: components that must follow the service
//! table (data-plane steering such as an XDP program's maps, ...) register a
//! [`SnapshotHook`]; the control plane calls it after every publication.

use rvs_core::service::Snapshot;

/// Told about every newly published service table.
pub trait SnapshotHook: Send {
    /// Called with the snapshot the workers are about to use. Errors are logged by the
    /// caller; they must not undo the publication.
    fn on_snapshot(&mut self, snap: &Snapshot) -> Result<(), String>;
}
