//! rvs-core: the sans-IO director. It takes frames, the port they came in on and
//! the time, and returns verdicts; it never reads a clock or touches a socket.

pub mod conn;
pub mod dest;
pub mod director;
pub mod fuzzing;
pub mod model;
pub mod sched;
pub mod service;
pub mod stats;
pub mod testkit;
pub mod time;

pub use dest::{Dest, DestId};
pub use model::*;
pub use time::Time;
