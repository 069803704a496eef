//! The health-check engine: one task per checker on a tokio runtime, a registry of
//! their state, and the event channel.
//!
//! Runtime choice: by default the engine owns a current-thread runtime on a dedicated
//! OS thread ("rvs-health"). The daemon is not async, checks are I/O-bound and small,
//! and one thread keeps health checking off the data-plane cores; checks still never
//! wait on each other because every wait is an async one (sockets, timers, child
//! processes). A caller that already runs tokio can use [`HealthEngine::start_on`].
//!
//! The registry lives behind one mutex shared by the handle and the checker tasks. A
//! task records each result under it, checking its generation first, so a checker that
//! was replaced or removed by [`HealthHandle::update`] can never report again.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::checks::{CheckReport, Prepared, ScriptWeight};
use crate::event::{HealthEvent, TargetStatus};
use crate::spec::{CheckKind, CheckSpec, InitialState, SpecError, TargetId};
use crate::state::{CheckerState, NextCheck, Transition};

/// The events of a running engine. It closes when the engine stops. Unbounded (every
/// check sends a `Result`): the caller must keep draining it.
pub type HealthEvents = mpsc::UnboundedReceiver<HealthEvent>;

/// Why the engine refused to start or to apply an update.
#[derive(Debug)]
pub enum EngineError {
    Spec(SpecError),
    DuplicateTarget(TargetId),
    /// The runtime or its thread could not be created.
    Runtime(io::Error),
    /// The engine was stopped.
    Stopped,
}

impl fmt::Display for EngineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EngineError::Spec(e) => write!(f, "invalid check: {e}"),
            EngineError::DuplicateTarget(t) => write!(f, "{t} is checked twice"),
            EngineError::Runtime(e) => write!(f, "cannot start the health-check runtime: {e}"),
            EngineError::Stopped => write!(f, "the health-check engine is stopped"),
        }
    }
}

impl std::error::Error for EngineError {}

impl From<SpecError> for EngineError {
    fn from(e: SpecError) -> Self {
        EngineError::Spec(e)
    }
}

/// Entry points; the running engine is driven through its [`HealthHandle`].
pub struct HealthEngine;

impl HealthEngine {
    /// Start checking `specs` on the engine's own thread and runtime.
    pub fn start(specs: Vec<CheckSpec>) -> Result<(HealthHandle, HealthEvents), EngineError> {
        check_specs(&specs)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .thread_name("rvs-health-blocking")
            .build()
            .map_err(EngineError::Runtime)?;
        let handle = runtime.handle().clone();
        let (shutdown_tx, shutdown_rx) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("rvs-health".into())
            .spawn(move || {
                runtime.block_on(async {
                    let _ = shutdown_rx.await;
                });
                // Dropping the tasks kills running scripts; do not wait long for a
                // blocking user lookup that hangs.
                runtime.shutdown_timeout(Duration::from_secs(1));
            })
            .map_err(EngineError::Runtime)?;
        let own = OwnThread {
            shutdown: shutdown_tx,
            thread,
        };
        Ok(Self::launch(handle, Some(own), specs))
    }

    /// Start checking `specs` as tasks on the caller's tokio runtime.
    pub fn start_on(
        runtime: tokio::runtime::Handle,
        specs: Vec<CheckSpec>,
    ) -> Result<(HealthHandle, HealthEvents), EngineError> {
        check_specs(&specs)?;
        Ok(Self::launch(runtime, None, specs))
    }

    fn launch(
        runtime: tokio::runtime::Handle,
        own: Option<OwnThread>,
        specs: Vec<CheckSpec>,
    ) -> (HealthHandle, HealthEvents) {
        let (tx, rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            registry: Mutex::new(Registry {
                checkers: HashMap::new(),
                events: Some(tx),
                next_generation: 0,
            }),
        });
        let handle = HealthHandle {
            shared,
            runtime,
            own_thread: Mutex::new(own),
        };
        // Validated above; the registry is fresh and open, so this cannot fail.
        let _ = handle.apply(specs);
        (handle, rx)
    }
}

/// Controls a running engine. Dropping it stops the engine.
pub struct HealthHandle {
    shared: Arc<Shared>,
    runtime: tokio::runtime::Handle,
    own_thread: Mutex<Option<OwnThread>>,
}

struct OwnThread {
    shutdown: oneshot::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

impl HealthHandle {
    /// Replace the set of checks: new targets start, missing ones stop, changed ones
    /// restart keeping their up/down state, and unchanged ones keep running untouched.
    pub fn update(&self, specs: Vec<CheckSpec>) -> Result<(), EngineError> {
        check_specs(&specs)?;
        self.apply(specs)
    }

    /// The status of one target's checker.
    pub fn status(&self, target: TargetId) -> Option<TargetStatus> {
        self.shared
            .lock()
            .checkers
            .get(&target)
            .map(Checker::status)
    }

    /// The status of every checker, ordered by target.
    pub fn statuses(&self) -> Vec<(TargetId, TargetStatus)> {
        let reg = self.shared.lock();
        let mut all: Vec<_> = reg.checkers.iter().map(|(t, c)| (*t, c.status())).collect();
        all.sort_by_key(|(t, _)| *t);
        all
    }

    /// Stop every checker (killing running scripts) and close the event channel.
    /// Idempotent; also done on drop.
    pub fn stop(&self) {
        {
            let mut reg = self.shared.lock();
            for (_, checker) in reg.checkers.drain() {
                checker.task.abort();
            }
            reg.events = None;
        }
        let own = self
            .own_thread
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(own) = own {
            let _ = own.shutdown.send(());
            if own.thread.thread().id() != std::thread::current().id() {
                let _ = own.thread.join();
            }
        }
    }

    fn apply(&self, specs: Vec<CheckSpec>) -> Result<(), EngineError> {
        let mut reg = self.shared.lock();
        let Registry {
            checkers,
            events,
            next_generation,
        } = &mut *reg;
        let Some(events) = events.as_ref() else {
            return Err(EngineError::Stopped);
        };
        let wanted: HashSet<TargetId> = specs.iter().map(|s| s.target).collect();
        checkers.retain(|target, checker| {
            let keep = wanted.contains(target);
            if !keep {
                checker.task.abort();
            }
            keep
        });
        for spec in specs {
            let target = spec.target;
            *next_generation += 1;
            let generation = *next_generation;
            match checkers.get_mut(&target) {
                Some(checker) if checker.spec.same_check(&spec) => {}
                Some(checker) => {
                    checker.task.abort();
                    if !is_dynamic_misc(&spec.kind) && checker.dynamic_weight.take().is_some() {
                        let _ = events.send(HealthEvent::WeightReset { target });
                    }
                    let spec = Arc::new(spec);
                    checker.state = checker.state.restarted();
                    checker.generation = generation;
                    checker.task = self.spawn(spec.clone(), generation);
                    checker.spec = spec;
                }
                None => {
                    let spec = Arc::new(spec);
                    let up = spec.initial == InitialState::Up;
                    let task = self.spawn(spec.clone(), generation);
                    checkers.insert(
                        target,
                        Checker {
                            spec,
                            generation,
                            state: CheckerState::new(up),
                            checks_run: 0,
                            dynamic_weight: None,
                            last_detail: String::new(),
                            task,
                        },
                    );
                }
            }
        }
        Ok(())
    }

    fn spawn(&self, spec: Arc<CheckSpec>, generation: u64) -> JoinHandle<()> {
        let first = warmup_delay(spec.timing.warmup, random_u64(spec.target));
        self.runtime
            .spawn(run_checker(self.shared.clone(), spec, generation, first))
    }
}

impl Drop for HealthHandle {
    fn drop(&mut self) {
        self.stop();
    }
}

struct Shared {
    registry: Mutex<Registry>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Registry> {
        // A panic elsewhere must not take health checking down with it.
        self.registry.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Record one check result of checker `generation`; the delay before its next
    /// check, or None when that checker is no longer current.
    fn record(&self, spec: &CheckSpec, generation: u64, report: CheckReport) -> Option<Duration> {
        let mut reg = self.shared_registry_for(spec.target, generation)?;
        let Registry {
            checkers, events, ..
        } = &mut *reg;
        let events = events.as_ref()?;
        let checker = checkers.get_mut(&spec.target)?;
        let target = spec.target;
        checker.checks_run += 1;
        let (transition, next) = checker.state.record(report.ok, spec.timing.retry);
        let _ = events.send(HealthEvent::Result {
            target,
            ok: report.ok,
            latency: report.latency,
            detail: report.detail.clone(),
        });
        if report.ok {
            match report.weight {
                Some(ScriptWeight::Set(w)) if checker.dynamic_weight != Some(w) => {
                    checker.dynamic_weight = Some(w);
                    let _ = events.send(HealthEvent::Weight { target, weight: w });
                }
                Some(ScriptWeight::Configured) if checker.dynamic_weight.is_some() => {
                    checker.dynamic_weight = None;
                    let _ = events.send(HealthEvent::WeightReset { target });
                }
                _ => {}
            }
        }
        match transition {
            Some(Transition::Up) => {
                let _ = events.send(HealthEvent::Up { target });
            }
            Some(Transition::Down) => {
                let _ = events.send(HealthEvent::Down {
                    target,
                    reason: report.detail.clone(),
                });
                // keepalived forgets a failed script's weight: it comes back up at the
                // configured weight unless the script says otherwise again.
                if checker.dynamic_weight.take().is_some() {
                    let _ = events.send(HealthEvent::WeightReset { target });
                }
            }
            None => {}
        }
        checker.last_detail = report.detail;
        Some(match next {
            NextCheck::DelayLoop => spec.timing.delay_loop,
            NextCheck::DelayBeforeRetry => spec.timing.delay_before_retry,
        })
    }

    /// The locked registry, if checker `generation` of `target` is still current.
    fn shared_registry_for(
        &self,
        target: TargetId,
        generation: u64,
    ) -> Option<MutexGuard<'_, Registry>> {
        let reg = self.lock();
        let current = reg.checkers.get(&target)?.generation == generation;
        current.then_some(reg)
    }
}

struct Registry {
    checkers: HashMap<TargetId, Checker>,
    /// None once stopped.
    events: Option<mpsc::UnboundedSender<HealthEvent>>,
    next_generation: u64,
}

struct Checker {
    spec: Arc<CheckSpec>,
    /// Which spawned task is the current one for this target.
    generation: u64,
    state: CheckerState,
    checks_run: u64,
    dynamic_weight: Option<u32>,
    last_detail: String,
    task: JoinHandle<()>,
}

impl Checker {
    fn status(&self) -> TargetStatus {
        TargetStatus {
            up: self.state.is_up(),
            has_run: self.state.has_run(),
            checks_run: self.checks_run,
            retries: self.state.retries(),
            dynamic_weight: self.dynamic_weight,
            last_detail: self.last_detail.clone(),
        }
    }
}

/// One checker's life: wait out the warmup, then check, record, sleep, forever.
async fn run_checker(shared: Arc<Shared>, spec: Arc<CheckSpec>, generation: u64, first: Duration) {
    tokio::time::sleep(first).await;
    // Loading a CA bundle or looking up a script user may block: not on this thread.
    let setup_spec = spec.clone();
    let Ok(mut prepared) = tokio::task::spawn_blocking(move || Prepared::new(&setup_spec)).await
    else {
        return;
    };
    loop {
        let started = Instant::now();
        let outcome = prepared.run(&spec).await;
        let report = outcome.into_report(started.elapsed());
        let Some(next) = shared.record(&spec, generation, report) else {
            return;
        };
        tokio::time::sleep(next).await;
    }
}

fn check_specs(specs: &[CheckSpec]) -> Result<(), EngineError> {
    let mut seen = HashSet::with_capacity(specs.len());
    for spec in specs {
        spec.validate()?;
        if !seen.insert(spec.target) {
            return Err(EngineError::DuplicateTarget(spec.target));
        }
    }
    Ok(())
}

fn is_dynamic_misc(kind: &CheckKind) -> bool {
    matches!(kind, CheckKind::Misc { dynamic: true, .. })
}

/// A fresh random number (for warmup spreading; not for anything secret).
fn random_u64(target: TargetId) -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one((target, std::time::Instant::now()))
}

/// The first check's delay: `random / 2^64` of the warmup, so uniform in `0..warmup`.
pub(crate) fn warmup_delay(warmup: Option<Duration>, random: u64) -> Duration {
    let Some(warmup) = warmup else {
        return Duration::ZERO;
    };
    let nanos = warmup.as_nanos().min(u128::from(u64::MAX));
    let scaled = (nanos * u128::from(random)) >> 64;
    Duration::from_nanos(u64::try_from(scaled).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn no_warmup_means_at_once() {
        assert_eq!(warmup_delay(None, u64::MAX), Duration::ZERO);
        assert_eq!(warmup_delay(Some(Duration::ZERO), 12345), Duration::ZERO);
    }

    proptest! {
        #[test]
        fn warmup_within_bounds(secs in 0u64..1_000_000, nanos in 0u32..1_000_000_000, r in any::<u64>()) {
            let w = Duration::new(secs, nanos);
            let d = warmup_delay(Some(w), r);
            prop_assert!(d <= w);
            if r == 0 { prop_assert_eq!(d, Duration::ZERO); }
        }

        #[test]
        fn warmup_monotone_in_draw(ms in 1u64..100_000, a in any::<u64>(), b in any::<u64>()) {
            let w = Some(Duration::from_millis(ms));
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            prop_assert!(warmup_delay(w, lo) <= warmup_delay(w, hi));
        }
    }

    #[test]
    fn huge_warmup_does_not_overflow() {
        let d = warmup_delay(Some(Duration::MAX), u64::MAX);
        assert!(d > Duration::ZERO);
    }
}
