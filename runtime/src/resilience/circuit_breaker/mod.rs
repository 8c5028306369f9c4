//! The circuit breaker, with resilience4j's state machine. The states are described on
//! [`CircuitBreaker`]; `machine.rs` holds the machine, `window.rs` the sliding windows, and
//! this file the handle and the lock-free fast paths.

mod config;
mod error;
mod event;
mod machine;
mod metrics;
mod permit;
mod state;
mod window;

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;

pub use config::{CircuitBreakerConfig, SlidingWindow};
pub use error::{BreakerConfigError, BreakerRejected};
pub use event::BreakerTransition;
pub use metrics::BreakerMetrics;
pub use permit::BreakerPermit;
pub(crate) use permit::Grant;
pub use state::BreakerState;

use crate::System;
use crate::pubsub::Topic;
use crate::system::Instant;
use machine::{Machine, Permission};

/// A circuit breaker: stop calling a service that keeps failing (or keeps being slow), and
/// try it again, carefully, after a while. Asked for permission before each call
/// ([`try_acquire`](Self::try_acquire)), told how each call went through the
/// [`BreakerPermit`]. The state machine is resilience4j's:
///
/// - **Closed**: calls go through and are recorded in a sliding window (the last N calls, or
///   the last N seconds). Once the window holds the minimum number of calls, a failure rate
///   or a slow-call rate at or above its threshold opens the breaker.
/// - **Open**: calls are rejected ([`BreakerRejected`], counted as not permitted) until the
///   wait in open has passed, growing with each opening in a row if an open backoff is set.
///   Then the breaker is half-open, on the first look at it: no timer runs.
/// - **Half-open**: a fixed number of trial calls go through; others are rejected. When the
///   trials are done, rates below the thresholds close the breaker (with an empty window),
///   else it opens again. With a maximum wait in half-open, a breaker whose trials take
///   longer opens again.
/// - **Forced open** and **disabled** are manual: every call rejected, or every call let
///   through and nothing recorded, until another manual transition.
///
/// Every transition is published on the system's bus as a [`BreakerTransition`]. Time comes
/// from the breaker's [`System`], so a paused or simulated clock drives it.
///
/// A handle: cheap to clone (one `Arc`), shared by every caller of the service. Asking for
/// permission on a closed breaker takes no lock, and reporting the outcome takes one short
/// lock; neither allocates.
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// use std::time::Duration;
/// use snowglobe_runtime::System;
/// use snowglobe_runtime::resilience::{
///     BreakerState, CircuitBreaker, CircuitBreakerConfig, FailureKind, SlidingWindow,
/// };
///
/// let system = System::new();
/// let config = CircuitBreakerConfig::new("payments")
///     .sliding_window(SlidingWindow::Count(4))
///     .minimum_calls(4)
///     .wait_in_open(Duration::from_secs(10))
///     .permitted_calls_in_half_open(2);
/// let breaker = CircuitBreaker::new(&system, config).unwrap();
///
/// // two failures in four calls: 50 %, the default threshold
/// for ok in [true, false, true, false] {
///     let permit = breaker.try_acquire().unwrap();
///     if ok { permit.success() } else { permit.failure(FailureKind::Timeout) }
/// }
/// assert_eq!(breaker.state(), BreakerState::Open);
/// assert!(breaker.try_acquire().is_err());
///
/// tokio::time::advance(Duration::from_secs(10)).await;
/// assert_eq!(breaker.state(), BreakerState::HalfOpen);
/// breaker.try_acquire().unwrap().success();
/// breaker.try_acquire().unwrap().success();
/// assert_eq!(breaker.state(), BreakerState::Closed);
/// # }
/// ```
#[derive(Clone)]
pub struct CircuitBreaker {
    core: Arc<Core>,
}

/// What the handles and permits of one breaker share.
pub(crate) struct Core {
    config: CircuitBreakerConfig,
    system: System,
    transitions: Topic<BreakerTransition>,
    /// The state and its epoch ([`state::pack`]): written under the lock, read without it so
    /// that a closed breaker grants permits without locking.
    word: AtomicU64,
    /// Good calls of a settled breaker not yet in the window: the epoch's low 32 bits, then a
    /// count. Folded into the window under the lock before anything else happens there.
    deferred: AtomicU64,
    not_permitted: AtomicU64,
    machine: Mutex<Machine>,
}

/// Good calls deferred before the lock is taken to record them all.
const DEFER_AT_MOST: u64 = 255;

impl Core {
    /// Runs `op` under the lock, then publishes the transition it made, if any.
    fn with_machine<R>(&self, op: impl FnOnce(&mut Machine, &CircuitBreakerConfig) -> R) -> R {
        let mut machine = self.machine.lock();
        let deferred = self.deferred.swap(0, Ordering::AcqRel);
        if deferred & 0xffff_ffff != 0 {
            // Deferred only while settled, which only a locked operation ends: the calls are
            // of the machine's epoch unless the tag says otherwise. (A count window ignores
            // the time of a call.)
            let epoch = machine.epoch_matching(deferred >> 32);
            machine.absorb_good_calls(epoch, deferred & 0xffff_ffff, Instant::ZERO);
        }
        let result = op(&mut machine, &self.config);
        let word = machine.word();
        // Compared first so that recording an outcome does not write the cache line the
        // lock-free readers load.
        if self.word.load(Ordering::Relaxed) != word {
            self.word.store(word, Ordering::Release);
        }
        if let Some(change) = machine.take_change() {
            tracing::debug!(
                breaker = %self.config.name,
                from = %change.from,
                to = %change.to,
                "circuit breaker transition"
            );
            // Under the lock, so that one breaker's events are published in order.
            if self.transitions.has_subscribers() {
                self.transitions.try_publish(BreakerTransition {
                    breaker: self.config.name.clone(),
                    from: change.from,
                    to: change.to,
                    at: change.at,
                });
            }
        }
        result
    }

    fn rejected(&self, state: BreakerState, retry_after: Option<Duration>) -> BreakerRejected {
        self.not_permitted.fetch_add(1, Ordering::Relaxed);
        BreakerRejected {
            breaker: self.config.name.clone(),
            state,
            retry_after,
        }
    }

    /// Counts a good call of `epoch` without the lock, if the breaker is settled in that
    /// epoch; `false` when the caller must record it under the lock.
    #[inline]
    pub(super) fn defer_good_call(&self, epoch: u64) -> bool {
        let word = self.word.load(Ordering::Acquire);
        if word & state::SETTLED == 0 || state::unpack(word).1 != epoch {
            return false;
        }
        self.add_deferred(epoch)
    }

    /// The counting half of [`defer_good_call`](Self::defer_good_call), once the word said
    /// the breaker is settled in `epoch`. The breaker may have moved on since (the thread
    /// was preempted): the counter then holds another epoch's batch, which is never
    /// overwritten.
    fn add_deferred(&self, epoch: u64) -> bool {
        // The epoch's low 32 bits tell a batch of this epoch from a stale one.
        let tag = (epoch & 0xffff_ffff) << 32;
        let mut current = self.deferred.load(Ordering::Relaxed);
        loop {
            let next = if current & !0xffff_ffff == tag {
                if current & 0xffff_ffff >= DEFER_AT_MOST {
                    return false;
                }
                current + 1
            } else if current & 0xffff_ffff == 0 {
                tag | 1
            } else {
                // Another epoch's batch, older or newer: never overwrite it. Under the lock a
                // stale call counts for nothing and a current batch is folded in.
                return false;
            };
            match self.deferred.compare_exchange_weak(
                current,
                next,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(seen) => current = seen,
            }
        }
    }

    fn transition(&self, to: BreakerState) {
        let now = self.system.now();
        self.with_machine(|machine, config| machine.transition(to, now, config));
    }
}

impl CircuitBreaker {
    /// A closed breaker with `config`, on `system`'s clock and bus.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use snowglobe_runtime::System;
    /// use snowglobe_runtime::resilience::{BreakerState, CircuitBreaker, CircuitBreakerConfig};
    ///
    /// let system = System::new();
    /// let breaker = CircuitBreaker::new(&system, CircuitBreakerConfig::new("payments")).unwrap();
    /// assert_eq!(breaker.state(), BreakerState::Closed);
    ///
    /// let invalid = CircuitBreakerConfig::new("payments").failure_rate_threshold(120.0);
    /// assert!(CircuitBreaker::new(&system, invalid).is_err());
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`BreakerConfigError`] if a setting is out of its range (see
    /// [`CircuitBreakerConfig::validate`]).
    pub fn new(
        system: &System,
        config: CircuitBreakerConfig,
    ) -> Result<CircuitBreaker, BreakerConfigError> {
        config.validate()?;
        let machine = Machine::new(&config);
        Ok(CircuitBreaker {
            core: Arc::new(Core {
                word: AtomicU64::new(machine.word()),
                deferred: AtomicU64::new(0),
                machine: Mutex::new(machine),
                transitions: system.events().topic(),
                system: system.clone(),
                not_permitted: AtomicU64::new(0),
                config,
            }),
        })
    }

    /// The breaker's name.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # use snowglobe_runtime::System;
    /// # use snowglobe_runtime::resilience::{CircuitBreaker, CircuitBreakerConfig};
    /// let system = System::new();
    /// let breaker = CircuitBreaker::new(&system, CircuitBreakerConfig::new("payments")).unwrap();
    /// assert_eq!(breaker.name(), "payments");
    /// # }
    /// ```
    #[must_use]
    pub fn name(&self) -> &str {
        self.core.config.name()
    }

    /// The settings the breaker was made with.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # use snowglobe_runtime::System;
    /// # use snowglobe_runtime::resilience::{CircuitBreaker, CircuitBreakerConfig};
    /// let system = System::new();
    /// let breaker = CircuitBreaker::new(&system, CircuitBreakerConfig::new("payments")).unwrap();
    /// assert_eq!(breaker.config().name(), "payments");
    /// # }
    /// ```
    pub fn config(&self) -> &CircuitBreakerConfig {
        &self.core.config
    }

    /// Asks permission for one call. Make the call only with the permit, and report its
    /// outcome through it.
    ///
    /// An open breaker whose wait has passed becomes half-open here and grants a trial call.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use snowglobe_runtime::System;
    /// use snowglobe_runtime::resilience::{CircuitBreaker, CircuitBreakerConfig, FailureKind};
    ///
    /// let system = System::new();
    /// let breaker = CircuitBreaker::new(&system, CircuitBreakerConfig::new("payments")).unwrap();
    /// match breaker.try_acquire() {
    ///     Ok(permit) => permit.success(), // after the call went well
    ///     Err(rejected) => assert_eq!(rejected.kind(), FailureKind::BreakerOpen),
    /// }
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`BreakerRejected`] when the breaker is open or forced open, or half-open with every
    /// trial call taken. The rejection is counted in
    /// [`BreakerMetrics::not_permitted_calls`].
    pub fn try_acquire(&self) -> Result<BreakerPermit, BreakerRejected> {
        self.grant(self.core.clone(), None).map(BreakerPermit::new)
    }

    /// A permit that borrows the breaker: a [`Policy`](crate::resilience::Policy)'s attempt,
    /// which has read the clock already and needs no reference count of its own.
    ///
    /// A closed breaker, the common case, grants inline: the grant is built where the caller
    /// keeps it rather than returned from a call, which read it back through the stack.
    #[inline]
    pub(crate) fn try_acquire_local(&self, now: Instant) -> Result<Grant<&Core>, BreakerRejected> {
        let (state, epoch) = state::unpack(self.core.word.load(Ordering::Acquire));
        if state == BreakerState::Closed {
            // As in `grant`: a state that changes meanwhile makes this epoch stale.
            return Ok(Grant::new(&*self.core, epoch, false, now));
        }
        self.grant(&*self.core, Some(now))
    }

    fn grant<C: Deref<Target = Core>>(
        &self,
        handle: C,
        now: Option<Instant>,
    ) -> Result<Grant<C>, BreakerRejected> {
        let core = &self.core;
        let (state, epoch) = state::unpack(core.word.load(Ordering::Acquire));
        match state {
            BreakerState::Disabled => return Ok(Grant::unrecorded()),
            BreakerState::ForcedOpen => return Err(core.rejected(state, None)),
            _ => {}
        }
        let now = now.unwrap_or_else(|| core.system.now());
        let permission = if state == BreakerState::Closed {
            // A state that changes meanwhile makes this epoch stale: the call then counts
            // for nothing, as if granted just before the change.
            Permission::Granted {
                epoch,
                trial: false,
            }
        } else {
            core.with_machine(|machine, config| machine.acquire(now, config))
        };
        match permission {
            Permission::Granted { epoch, trial } => Ok(Grant::new(handle, epoch, trial, now)),
            Permission::Rejected { state, retry_after } => Err(core.rejected(state, retry_after)),
        }
    }

    /// The breaker's state. An open breaker whose wait has passed becomes half-open here (and
    /// a half-open one past its maximum wait opens again).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # use snowglobe_runtime::System;
    /// # use snowglobe_runtime::resilience::{BreakerState, CircuitBreaker, CircuitBreakerConfig};
    /// let system = System::new();
    /// let breaker = CircuitBreaker::new(&system, CircuitBreakerConfig::new("a")).unwrap();
    /// assert_eq!(breaker.state(), BreakerState::Closed);
    /// # }
    /// ```
    #[must_use]
    pub fn state(&self) -> BreakerState {
        let (state, _) = state::unpack(self.core.word.load(Ordering::Acquire));
        match state {
            // Only time moves these two on.
            BreakerState::Open | BreakerState::HalfOpen => {
                let now = self.core.system.now();
                self.core
                    .with_machine(|machine, config| machine.state(now, config))
            }
            state => state,
        }
    }

    /// A snapshot of the state and the calls recorded. See [`BreakerMetrics`].
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # use snowglobe_runtime::System;
    /// # use snowglobe_runtime::resilience::{CircuitBreaker, CircuitBreakerConfig};
    /// let system = System::new();
    /// let breaker = CircuitBreaker::new(&system, CircuitBreakerConfig::new("a")).unwrap();
    /// breaker.transition_to_forced_open();
    /// let _ = breaker.try_acquire();
    /// assert_eq!(breaker.metrics().not_permitted_calls, 1);
    /// # }
    /// ```
    #[must_use]
    pub fn metrics(&self) -> BreakerMetrics {
        let now = self.core.system.now();
        let (state, totals, minimum) = self
            .core
            .with_machine(|machine, config| machine.snapshot(now, config));
        let not_permitted = self.core.not_permitted.load(Ordering::Relaxed);
        BreakerMetrics::new(state, totals, minimum, not_permitted)
    }

    /// Closes the breaker, with an empty window and the open backoff started over.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # use snowglobe_runtime::System;
    /// # use snowglobe_runtime::resilience::{BreakerState, CircuitBreaker, CircuitBreakerConfig};
    /// let system = System::new();
    /// let breaker = CircuitBreaker::new(&system, CircuitBreakerConfig::new("a")).unwrap();
    /// breaker.transition_to_open();
    /// breaker.transition_to_closed();
    /// assert!(breaker.try_acquire().is_ok());
    /// # }
    /// ```
    pub fn transition_to_closed(&self) {
        self.core.transition(BreakerState::Closed);
    }

    /// Opens the breaker, as if its rates had crossed a threshold: it rejects calls for the
    /// wait in open (counted as an opening in a row for the backoff), then is half-open.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # use snowglobe_runtime::System;
    /// # use snowglobe_runtime::resilience::{BreakerState, CircuitBreaker, CircuitBreakerConfig};
    /// let system = System::new();
    /// let breaker = CircuitBreaker::new(&system, CircuitBreakerConfig::new("a")).unwrap();
    /// breaker.transition_to_open();
    /// assert_eq!(breaker.state(), BreakerState::Open);
    /// # }
    /// ```
    pub fn transition_to_open(&self) {
        self.core.transition(BreakerState::Open);
    }

    /// Makes the breaker half-open, with a fresh set of trial calls.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # use snowglobe_runtime::System;
    /// # use snowglobe_runtime::resilience::{BreakerState, CircuitBreaker, CircuitBreakerConfig};
    /// let system = System::new();
    /// let breaker = CircuitBreaker::new(&system, CircuitBreakerConfig::new("a")).unwrap();
    /// breaker.transition_to_half_open();
    /// assert_eq!(breaker.state(), BreakerState::HalfOpen);
    /// # }
    /// ```
    pub fn transition_to_half_open(&self) {
        self.core.transition(BreakerState::HalfOpen);
    }

    /// Rejects every call until another manual transition.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # use snowglobe_runtime::System;
    /// # use snowglobe_runtime::resilience::{BreakerState, CircuitBreaker, CircuitBreakerConfig};
    /// let system = System::new();
    /// let breaker = CircuitBreaker::new(&system, CircuitBreakerConfig::new("a")).unwrap();
    /// breaker.transition_to_forced_open();
    /// let rejected = breaker.try_acquire().unwrap_err();
    /// assert_eq!((rejected.state, rejected.retry_after), (BreakerState::ForcedOpen, None));
    /// # }
    /// ```
    pub fn transition_to_forced_open(&self) {
        self.core.transition(BreakerState::ForcedOpen);
    }

    /// Lets every call through and records nothing until another manual transition.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # use snowglobe_runtime::System;
    /// # use snowglobe_runtime::resilience::{CircuitBreaker, CircuitBreakerConfig, FailureKind};
    /// let system = System::new();
    /// let breaker = CircuitBreaker::new(&system, CircuitBreakerConfig::new("a")).unwrap();
    /// breaker.transition_to_disabled();
    /// breaker.try_acquire().unwrap().failure(FailureKind::Panicked);
    /// assert_eq!(breaker.metrics().buffered_calls, 0);
    /// # }
    /// ```
    pub fn transition_to_disabled(&self) {
        self.core.transition(BreakerState::Disabled);
    }

    /// Starts over: closed, an empty window, the open backoff and the not-permitted count
    /// back at zero.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # use snowglobe_runtime::System;
    /// # use snowglobe_runtime::resilience::{BreakerState, CircuitBreaker, CircuitBreakerConfig};
    /// let system = System::new();
    /// let breaker = CircuitBreaker::new(&system, CircuitBreakerConfig::new("a")).unwrap();
    /// breaker.transition_to_forced_open();
    /// let _ = breaker.try_acquire();
    /// breaker.reset();
    /// let metrics = breaker.metrics();
    /// assert_eq!((metrics.state, metrics.not_permitted_calls), (BreakerState::Closed, 0));
    /// # }
    /// ```
    pub fn reset(&self) {
        let now = self.core.system.now();
        self.core
            .with_machine(|machine, config| machine.transition(BreakerState::Closed, now, config));
        self.core.not_permitted.store(0, Ordering::Relaxed);
    }
}

impl fmt::Debug for CircuitBreaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The state as last written: no lock, so that `{:?}` never blocks.
        let (state, _) = state::unpack(self.core.word.load(Ordering::Acquire));
        f.debug_struct("CircuitBreaker")
            .field("name", &self.name())
            .field("state", &state)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resilience::{FailureKind, SlidingWindow};

    /// A thread passes `defer_good_call`'s check of the word in settled epoch e and is
    /// preempted; meanwhile the breaker moves to a later settled epoch with a batch of its
    /// own. The late count must not overwrite that batch.
    #[tokio::test(flavor = "current_thread")]
    async fn a_late_deferral_of_an_old_epoch_leaves_the_current_batch_alone() {
        let system = System::new();
        let config = CircuitBreakerConfig::new("b")
            .sliding_window(SlidingWindow::Count(4))
            .minimum_calls(4)
            .failure_rate_threshold(50.0);
        let breaker = CircuitBreaker::new(&system, config).unwrap();
        for _ in 0..4 {
            breaker.try_acquire().unwrap().success();
        }
        // The preempted thread read the word in settled epoch 0.
        let word = breaker.core.word.load(Ordering::Acquire);
        assert_ne!(word & state::SETTLED, 0);
        let stale = state::unpack(word).1;
        // Meanwhile: a manual close (epoch 1) and a full window again, 25 % failures.
        breaker.transition_to_closed();
        breaker.try_acquire().unwrap().success();
        breaker.try_acquire().unwrap().failure(FailureKind::Timeout);
        breaker.try_acquire().unwrap().success();
        breaker.try_acquire().unwrap().success();
        // Two good calls deferred in epoch 1: they push out `ok` and the failure.
        breaker.try_acquire().unwrap().success();
        breaker.try_acquire().unwrap().success();
        // The preempted thread resumes: refused, it would record under the lock, where its
        // stale epoch counts for nothing.
        assert!(!breaker.core.add_deferred(stale));
        // One failure: [ok, ok, ok, F] = 25 % with both good calls; [F, ok, ok, F] = 50 %,
        // open, had they been lost.
        breaker.try_acquire().unwrap().failure(FailureKind::Timeout);
        let metrics = breaker.metrics();
        assert_eq!(
            (metrics.state, metrics.failed_calls),
            (BreakerState::Closed, 1)
        );
    }
}
