//! rvs-admin: the ipvsadm-compatible administration layer of rvs.
//!
//! - [`inet`] and [`names`] convert addresses, ports and names exactly as
//!   ipvsadm (through the C library) does.

pub mod inet;
pub mod names;

pub use names::Names;
