//! Slow start: bring a recovered real server back gently, and plan effective weights.
//!
//! Beyond keepalived: a real server that comes back up starts at weight 1 and ramps
//! linearly to its full weight over the slow-start duration, so it is not flooded with
//! new connections (least-connection schedulers would otherwise send it every new
//! connection until it catches up). [`WeightPlanner`] folds health events, script
//! weights and the clock into the effective weight of each real server; the daemon
//! calls [`WeightPlanner::plan`] every second and applies what changed. Sans-IO: the
//! caller passes "now".

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::event::HealthEvent;
use crate::spec::TargetId;

/// How long a recovered real server takes to reach its full weight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlowStart {
    pub duration: Duration,
}

/// The weight of a real server `since_up` after it came up, ramping linearly to
/// `configured` over `ramp`. At least 1 while ramping (a weight of 0 would quiesce
/// it), `configured` once done; a configured weight of 0 stays 0.
pub fn ramp_weight(configured: u32, since_up: Duration, ramp: Duration) -> u32 {
    if configured == 0 || since_up >= ramp {
        return configured;
    }
    // since_up < ramp, so the quotient is below `configured` and fits in u32.
    let scaled = u128::from(configured) * since_up.as_nanos() / ramp.as_nanos();
    u32::try_from(scaled).unwrap_or(configured).max(1)
}

/// What the caller should set for one real server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WeightChange {
    pub target: TargetId,
    /// Whether the real server should be in rotation. When false the caller removes it
    /// (or, with keepalived's `inhibit_on_failure`, sets weight 0).
    pub up: bool,
    /// The effective weight while up; 0 when down.
    pub weight: u32,
}

#[derive(Debug, Clone)]
struct PlannedTarget {
    configured: u32,
    slow_start: Option<SlowStart>,
    up: bool,
    /// When the current ramp started; None when not ramping.
    ramp_from: Option<Instant>,
    /// A `misc_dynamic` weight replacing the configured one.
    dynamic: Option<u32>,
    /// What was last reported by `plan`.
    reported: Option<(bool, u32)>,
}

impl PlannedTarget {
    fn effective(&self, now: Instant) -> (bool, u32) {
        if !self.up {
            return (false, 0);
        }
        let base = self.dynamic.unwrap_or(self.configured);
        let weight = match (self.slow_start, self.ramp_from) {
            (Some(ss), Some(from)) => {
                ramp_weight(base, now.saturating_duration_since(from), ss.duration)
            }
            _ => base,
        };
        (true, weight)
    }
}

/// Tracks each real server's health and weights and says which effective weights to
/// set now.
#[derive(Debug, Clone, Default)]
pub struct WeightPlanner {
    targets: HashMap<TargetId, PlannedTarget>,
}

impl WeightPlanner {
    pub fn new() -> Self {
        Self::default()
    }

    /// Add a real server, or change its configured weight or slow start. `up` is its
    /// state when first added (ignored for a known target, whose health events rule).
    /// A server added up is already serving: it does not ramp.
    pub fn set_target(
        &mut self,
        target: TargetId,
        configured: u32,
        slow_start: Option<SlowStart>,
        up: bool,
    ) {
        let entry = self.targets.entry(target).or_insert(PlannedTarget {
            configured,
            slow_start,
            up,
            ramp_from: None,
            dynamic: None,
            reported: None,
        });
        entry.configured = configured;
        entry.slow_start = slow_start;
    }

    pub fn remove_target(&mut self, target: TargetId) {
        self.targets.remove(&target);
    }

    /// Fold one health event in. Events for unknown targets are ignored.
    pub fn observe(&mut self, event: &HealthEvent, now: Instant) {
        let Some(t) = self.targets.get_mut(&event.target()) else {
            return;
        };
        match event {
            HealthEvent::Up { .. } => {
                if !t.up {
                    t.up = true;
                    t.ramp_from = t.slow_start.map(|_| now);
                }
            }
            HealthEvent::Down { .. } => {
                t.up = false;
                t.ramp_from = None;
            }
            HealthEvent::Weight { weight, .. } => t.dynamic = Some(*weight),
            HealthEvent::WeightReset { .. } => t.dynamic = None,
            HealthEvent::Result { .. } => {}
        }
    }

    /// The real servers whose (state, effective weight) changed since the last call
    /// (all of them on the first call), ordered by target.
    pub fn plan(&mut self, now: Instant) -> Vec<WeightChange> {
        let mut changes = Vec::new();
        for (target, t) in &mut self.targets {
            let (up, weight) = t.effective(now);
            if let (Some(ss), Some(from)) = (t.slow_start, t.ramp_from) {
                if now.saturating_duration_since(from) >= ss.duration {
                    t.ramp_from = None;
                }
            }
            if t.reported != Some((up, weight)) {
                t.reported = Some((up, weight));
                changes.push(WeightChange {
                    target: *target,
                    up,
                    weight,
                });
            }
        }
        changes.sort_by_key(|c| c.target);
        changes
    }

    /// The effective state and weight of one real server now.
    pub fn current(&self, target: TargetId, now: Instant) -> Option<WeightChange> {
        let t = self.targets.get(&target)?;
        let (up, weight) = t.effective(now);
        Some(WeightChange { target, up, weight })
    }

    /// Whether any real server is still ramping (the caller may then plan more often).
    pub fn ramping(&self) -> bool {
        self.targets.values().any(|t| t.up && t.ramp_from.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const T: TargetId = TargetId(1);

    #[test]
    fn ramp_examples() {
        let ramp = Duration::from_secs(10);
        assert_eq!(ramp_weight(100, Duration::ZERO, ramp), 1);
        assert_eq!(ramp_weight(100, Duration::from_secs(5), ramp), 50);
        assert_eq!(ramp_weight(100, Duration::from_secs(10), ramp), 100);
        assert_eq!(ramp_weight(100, Duration::from_secs(99), ramp), 100);
        assert_eq!(ramp_weight(0, Duration::from_secs(5), ramp), 0);
        assert_eq!(ramp_weight(7, Duration::from_secs(5), Duration::ZERO), 7);
        assert_eq!(
            ramp_weight(u32::MAX, Duration::from_secs(5), ramp),
            u32::MAX / 2
        );
    }

    proptest! {
        #[test]
        fn ramp_bounded_and_monotone(
            configured in any::<u32>(),
            a in 0u64..20_000,
            b in 0u64..20_000,
            ramp_ms in 0u64..10_000,
        ) {
            let ramp = Duration::from_millis(ramp_ms);
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            let w_lo = ramp_weight(configured, Duration::from_millis(lo), ramp);
            let w_hi = ramp_weight(configured, Duration::from_millis(hi), ramp);
            prop_assert!(w_lo <= w_hi);
            prop_assert!(w_hi <= configured);
            if configured > 0 {
                prop_assert!(w_lo >= 1);
            }
            if Duration::from_millis(hi) >= ramp {
                prop_assert_eq!(w_hi, configured);
            }
        }
    }

    #[test]
    fn planner_ramps_after_recovery() {
        let t0 = Instant::now();
        let mut p = WeightPlanner::new();
        let ss = SlowStart {
            duration: Duration::from_secs(10),
        };
        p.set_target(T, 100, Some(ss), true);
        assert_eq!(
            p.plan(t0),
            vec![WeightChange {
                target: T,
                up: true,
                weight: 100
            }]
        );
        assert!(p.plan(t0).is_empty());
        p.observe(
            &HealthEvent::Down {
                target: T,
                reason: "x".into(),
            },
            t0,
        );
        assert!(!p.plan(t0)[0].up);
        let t1 = t0 + Duration::from_secs(1);
        p.observe(&HealthEvent::Up { target: T }, t1);
        assert_eq!(p.plan(t1)[0].weight, 1);
        assert!(p.ramping());
        assert_eq!(p.plan(t1 + Duration::from_secs(5))[0].weight, 50);
        assert_eq!(p.plan(t1 + Duration::from_secs(10))[0].weight, 100);
        assert!(!p.ramping());
        assert!(p.plan(t1 + Duration::from_secs(11)).is_empty());
    }

    #[test]
    fn planner_uses_dynamic_weights() {
        let t0 = Instant::now();
        let mut p = WeightPlanner::new();
        p.set_target(T, 10, None, true);
        p.plan(t0);
        p.observe(
            &HealthEvent::Weight {
                target: T,
                weight: 3,
            },
            t0,
        );
        assert_eq!(p.plan(t0)[0].weight, 3);
        p.observe(&HealthEvent::WeightReset { target: T }, t0);
        assert_eq!(p.plan(t0)[0].weight, 10);
        p.set_target(T, 20, None, false);
        assert_eq!(p.current(T, t0).map(|c| (c.up, c.weight)), Some((true, 20)));
        p.remove_target(T);
        assert!(p.current(T, t0).is_none());
        p.observe(&HealthEvent::Up { target: T }, t0);
        assert!(p.plan(t0).is_empty());
    }
}
