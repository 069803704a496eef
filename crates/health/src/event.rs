//! What the engine reports: events on the channel and a status snapshot per target.

use std::time::Duration;

use crate::spec::TargetId;

/// One report from the engine.
///
/// For each completed check the engine sends `Result` first, then any `Weight` /
/// `WeightReset`, then `Up` / `Down` when the state changed (a `WeightReset` that
/// follows from going down comes after the `Down`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HealthEvent {
    /// The target passed a check while it was down.
    Up { target: TargetId },
    /// The target failed its last allowed retry (or its first check) while up.
    Down { target: TargetId, reason: String },
    /// `misc_dynamic`: the script asked for this weight (exit code - 2).
    Weight { target: TargetId, weight: u32 },
    /// `misc_dynamic`: the dynamic weight no longer applies (the script exited 0, the
    /// target went down, or the check stopped being dynamic): use the configured weight.
    WeightReset { target: TargetId },
    /// Every completed check, for metrics and logs.
    Result {
        target: TargetId,
        ok: bool,
        latency: Duration,
        detail: String,
    },
}

impl HealthEvent {
    pub fn target(&self) -> TargetId {
        match self {
            HealthEvent::Up { target }
            | HealthEvent::Down { target, .. }
            | HealthEvent::Weight { target, .. }
            | HealthEvent::WeightReset { target }
            | HealthEvent::Result { target, .. } => *target,
        }
    }
}

/// A snapshot of one checker, for listings (`rvsadm`, metrics) and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetStatus {
    pub up: bool,
    /// Whether at least one check has completed since the checker started.
    pub has_run: bool,
    /// Completed checks since the checker was first started (kept across changes).
    pub checks_run: u64,
    /// Failures counted towards `retry` in the current retry sequence.
    pub retries: u32,
    /// The weight a `misc_dynamic` script set, while it applies.
    pub dynamic_weight: Option<u32>,
    /// The last check's detail ("connected", "HTTP status 503", ...); empty before.
    pub last_detail: String,
}
