//! rvs-health: the director's health checks (keepalived's checkers) and slow start.
//!
//! The caller describes one [`CheckSpec`] per real server checker and starts a
//! [`HealthEngine`]; it gets a [`HealthHandle`] (update the set of checks, read status,
//! stop) and a channel of [`HealthEvent`]s: `Up`/`Down` on state changes (after
//! keepalived's `retry` semantics), `Weight`/`WeightReset` from `misc_dynamic`
//! scripts, and a `Result` for every check. [`WeightPlanner`] turns those events and
//! the clock into the effective weight of each real server, ramping recovered ones
//! up with [`SlowStart`].
//!
//! Check kinds: TCP connect, HTTP_GET / SSL_GET (status codes, MD5 digest of the body,
//! virtualhost, expected substring), MISC_CHECK scripts, DNS, ICMP echo, UDP, and
//! TCP send/expect.

mod checks;
mod engine;
mod event;
mod slowstart;
mod spec;
mod state;

pub use checks::{check_once, CheckReport, ScriptWeight};
pub use engine::{EngineError, HealthEngine, HealthEvents, HealthHandle};
pub use event::{HealthEvent, TargetStatus};
pub use slowstart::{ramp_weight, SlowStart, WeightChange, WeightPlanner};
pub use spec::{
    format_digest, parse_digest, CheckKind, CheckSpec, DnsType, InitialState, SpecError, TargetId,
    Timing, TlsOptions, UrlCheck,
};
