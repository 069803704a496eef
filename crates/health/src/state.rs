//! The per-checker up/down state machine, with keepalived's retry semantics.
//!
//! Sans-IO: it is fed check results and answers with a state transition (if any) and
//! which delay to wait before the next check. keepalived's rules, restated:
//! - any success marks the target up (one success is enough to come back);
//! - before the first check has completed, one failure marks it down;
//! - afterwards, an up target that fails is re-checked after `delay_before_retry`, up
//!   to `retry` times; the failure after the last retry marks it down;
//! - a target known down is simply re-checked every `delay_loop`.

/// A change of a target's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    Up,
    Down,
}

/// Which delay to wait before the next check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextCheck {
    DelayLoop,
    DelayBeforeRetry,
}

/// State of one checker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckerState {
    up: bool,
    has_run: bool,
    /// Retries done since the last success (keepalived's `retry_it`).
    retries: u32,
}

impl CheckerState {
    pub fn new(up: bool) -> Self {
        Self {
            up,
            has_run: false,
            retries: 0,
        }
    }

    pub fn is_up(&self) -> bool {
        self.up
    }

    pub fn has_run(&self) -> bool {
        self.has_run
    }

    /// Consecutive failures counted towards `retry` (0 when up and healthy, or down).
    pub fn retries(&self) -> u32 {
        self.retries
    }

    /// Keep up/down and whether a check has run, forget an ongoing retry sequence
    /// (used when a checker's specification changes).
    pub fn restarted(self) -> Self {
        Self { retries: 0, ..self }
    }

    /// Record one check result; `retry` is the checker's retry count.
    pub fn record(&mut self, ok: bool, retry: u32) -> (Option<Transition>, NextCheck) {
        let first = !self.has_run;
        self.has_run = true;
        if ok {
            self.retries = 0;
            if self.up {
                return (None, NextCheck::DelayLoop);
            }
            self.up = true;
            return (Some(Transition::Up), NextCheck::DelayLoop);
        }
        if !self.up {
            return (None, NextCheck::DelayLoop);
        }
        if first || self.retries >= retry {
            self.retries = 0;
            self.up = false;
            return (Some(Transition::Down), NextCheck::DelayLoop);
        }
        self.retries += 1;
        (None, NextCheck::DelayBeforeRetry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn retry_one_means_two_failures() {
        let mut s = CheckerState::new(true);
        assert_eq!(s.record(true, 1), (None, NextCheck::DelayLoop));
        assert_eq!(s.record(false, 1), (None, NextCheck::DelayBeforeRetry));
        assert_eq!(
            s.record(false, 1),
            (Some(Transition::Down), NextCheck::DelayLoop)
        );
        assert_eq!(s.record(false, 1), (None, NextCheck::DelayLoop));
        assert_eq!(
            s.record(true, 1),
            (Some(Transition::Up), NextCheck::DelayLoop)
        );
    }

    #[test]
    fn first_result_decides() {
        let mut s = CheckerState::new(true);
        assert_eq!(s.record(false, 3).0, Some(Transition::Down));
        let mut s = CheckerState::new(false);
        assert_eq!(s.record(true, 3).0, Some(Transition::Up));
        let mut s = CheckerState::new(false);
        assert_eq!(s.record(false, 3), (None, NextCheck::DelayLoop));
    }

    #[test]
    fn success_resets_retries() {
        let mut s = CheckerState::new(true);
        s.record(true, 2);
        s.record(false, 2);
        s.record(false, 2);
        assert_eq!(s.retries(), 2);
        s.record(true, 2);
        assert_eq!(s.retries(), 0);
        assert_eq!(s.record(false, 2).0, None);
    }

    proptest! {
        /// A reference model: after the first check, an up target goes down exactly at
        /// its (retry+1)-th consecutive failure; any success brings it up; transitions
        /// are only ever reported on a real change.
        #[test]
        fn matches_reference_model(
            initial_up in any::<bool>(),
            retry in 0u32..5,
            results in proptest::collection::vec(any::<bool>(), 0..60),
        ) {
            let mut s = CheckerState::new(initial_up);
            let mut up = initial_up;
            let mut fails = 0u32;
            for (i, &ok) in results.iter().enumerate() {
                let before = s.is_up();
                let (tr, next) = s.record(ok, retry);
                fails = if ok { 0 } else { fails + 1 };
                let expect_up = if ok {
                    true
                } else if !up {
                    false
                } else {
                    !(i == 0 || fails > retry)
                };
                if !expect_up && up {
                    fails = 0;
                }
                prop_assert_eq!(s.is_up(), expect_up);
                match tr {
                    Some(Transition::Up) => prop_assert!(!before && s.is_up()),
                    Some(Transition::Down) => prop_assert!(before && !s.is_up()),
                    None => prop_assert_eq!(before, s.is_up()),
                }
                if next == NextCheck::DelayBeforeRetry {
                    prop_assert!(s.is_up() && !ok);
                }
                prop_assert!(s.retries() <= retry);
                up = expect_up;
            }
        }
    }
}
