//! Connections: the table, the protocol state machine and per-state timeouts.

pub mod addr;
pub mod state;
pub mod table;

pub use addr::IpBytes;
pub use state::{ConnState, Direction, Timeouts};
pub use table::{Conn, ConnTable, Expiry, NewConn, TableFull, NIL};
