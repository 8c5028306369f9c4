//! One permitted call, and how its outcome reaches the breaker.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use super::Core;
use super::config::Verdict;
use super::window::Outcome;
use crate::Instant;
use crate::resilience::FailureKind;

/// Permission for one call, from [`CircuitBreaker::try_acquire`](super::CircuitBreaker::try_acquire).
/// Make the call, then report how it went: [`success`](Self::success),
/// [`failure`](Self::failure) or [`ignore`](Self::ignore).
///
/// The call's duration, for the slow-call rate, runs from `try_acquire` to the report, on
/// the system's clock. An outcome counts only toward the state that granted the permit: a
/// call permitted while closed that ends after the breaker opened counts for nothing.
///
/// Dropping a permit without a report is [`ignore`](Self::ignore): a call cancelled midway
/// (its future dropped) does not count, and a half-open breaker's trial slot is freed for
/// another call.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use snowglobe_runtime::System;
/// use snowglobe_runtime::resilience::{CircuitBreaker, CircuitBreakerConfig, FailureKind};
///
/// let system = System::new();
/// let breaker = CircuitBreaker::new(&system, CircuitBreakerConfig::new("payments")).unwrap();
///
/// let permit = breaker.try_acquire().unwrap();
/// let outcome: Result<u32, FailureKind> = Err(FailureKind::Timeout); // the call
/// match outcome {
///     Ok(_) => permit.success(),
///     Err(kind) => permit.failure(kind),
/// }
/// assert_eq!(breaker.metrics().failed_calls, 1);
/// # }
/// ```
#[must_use = "a permit records nothing unless told how the call went"]
pub struct BreakerPermit {
    grant: Grant<Arc<Core>>,
}

/// A permitted call, holding the breaker by an `Arc` (a [`BreakerPermit`]) or by reference
/// (a [`Policy`](crate::resilience::Policy)'s attempt, which saves the reference count).
pub(crate) struct Grant<C: Deref<Target = Core>> {
    /// `None` for a disabled breaker's permits, and once reported.
    core: Option<C>,
    epoch: u64,
    started: Instant,
    trial: bool,
}

impl<C: Deref<Target = Core>> Grant<C> {
    pub(super) fn new(core: C, epoch: u64, trial: bool, started: Instant) -> Self {
        Grant {
            core: Some(core),
            epoch,
            started,
            trial,
        }
    }

    /// A grant whose outcome is not recorded: a disabled breaker's.
    pub(super) fn unrecorded() -> Self {
        Grant {
            core: None,
            epoch: 0,
            started: Instant::ZERO,
            trial: false,
        }
    }

    pub(crate) fn success(mut self) {
        self.record(false);
    }

    /// The call succeeded, its answer in before `deadline`. When even a call lasting until
    /// the deadline would not be slow, its duration does not matter: a settled breaker then
    /// counts it without reading the clock. (An answer can come a moment past the deadline,
    /// before the timeout fires; such a call counts as not slow.)
    pub(crate) fn success_by(mut self, deadline: Instant) {
        if let Some(core) = &self.core
            && !self.trial
            && deadline.saturating_duration_since(self.started) < core.config.slow_call_duration
            && core.defer_good_call(self.epoch)
        {
            self.core = None;
            return;
        }
        self.record(false);
    }

    /// Starts the call's duration at `now`: the caller waited in a local queue first.
    pub(crate) fn restart_clock(&mut self, now: Instant) {
        self.started = now;
    }

    pub(crate) fn failure(mut self, kind: FailureKind) {
        let Some(core) = &self.core else {
            return;
        };
        match core.config.verdict(kind) {
            Verdict::Failure => self.record(true),
            Verdict::Success => self.record(false),
            Verdict::Ignored => self.release(),
        }
    }

    fn record(&mut self, failed: bool) {
        let Some(core) = self.core.take() else {
            return;
        };
        let now = core.system.now();
        let slow = now.saturating_duration_since(self.started) > core.config.slow_call_duration;
        if !failed && !slow && !self.trial && core.defer_good_call(self.epoch) {
            return;
        }
        let outcome = Outcome { failed, slow };
        core.with_machine(|machine, config| machine.record(self.epoch, outcome, now, config));
    }

    fn release(&mut self) {
        let Some(core) = self.core.take() else {
            return;
        };
        // A call outside half-open holds no slot: nothing to give back, no lock to take.
        if self.trial {
            core.with_machine(|machine, config| machine.release(self.epoch, config));
        }
    }
}

impl<C: Deref<Target = Core>> Drop for Grant<C> {
    fn drop(&mut self) {
        // Checked here, inlined into the caller: a reported grant (most of them) is dropped
        // with nothing to do.
        if self.core.is_some() {
            self.release();
        }
    }
}

impl BreakerPermit {
    pub(super) fn new(grant: Grant<Arc<Core>>) -> Self {
        BreakerPermit { grant }
    }

    /// Whether this is one of a half-open breaker's trial calls.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # use snowglobe_runtime::System;
    /// # use snowglobe_runtime::resilience::{CircuitBreaker, CircuitBreakerConfig};
    /// let system = System::new();
    /// let breaker = CircuitBreaker::new(&system, CircuitBreakerConfig::new("a")).unwrap();
    /// breaker.transition_to_half_open();
    /// assert!(breaker.try_acquire().unwrap().is_trial());
    /// # }
    /// ```
    #[must_use]
    pub fn is_trial(&self) -> bool {
        self.grant.trial
    }

    /// The call succeeded (slowly, if it took longer than the slow-call duration).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # use snowglobe_runtime::System;
    /// # use snowglobe_runtime::resilience::{CircuitBreaker, CircuitBreakerConfig};
    /// let system = System::new();
    /// let breaker = CircuitBreaker::new(&system, CircuitBreakerConfig::new("a")).unwrap();
    /// breaker.try_acquire().unwrap().success();
    /// assert_eq!(breaker.metrics().buffered_calls, 1);
    /// # }
    /// ```
    pub fn success(self) {
        self.grant.success();
    }

    /// The call failed with `kind`. The breaker's config decides how that counts: ignored
    /// ([`ignore_if`]), a failure ([`record_failure_if`], every kind by default), or else a
    /// success.
    ///
    /// [`ignore_if`]: super::CircuitBreakerConfig::ignore_if
    /// [`record_failure_if`]: super::CircuitBreakerConfig::record_failure_if
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # use snowglobe_runtime::System;
    /// # use snowglobe_runtime::resilience::{CircuitBreaker, CircuitBreakerConfig, FailureKind};
    /// let system = System::new();
    /// let config = CircuitBreakerConfig::new("a").ignore_if(|kind| kind == FailureKind::Full);
    /// let breaker = CircuitBreaker::new(&system, config).unwrap();
    /// breaker.try_acquire().unwrap().failure(FailureKind::Full); // not counted
    /// breaker.try_acquire().unwrap().failure(FailureKind::Panicked);
    /// let metrics = breaker.metrics();
    /// assert_eq!((metrics.buffered_calls, metrics.failed_calls), (1, 1));
    /// # }
    /// ```
    pub fn failure(self, kind: FailureKind) {
        self.grant.failure(kind);
    }

    /// The call does not count, as if it had not been made (it was cancelled, say); a trial
    /// call's slot is freed for another.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # use snowglobe_runtime::System;
    /// # use snowglobe_runtime::resilience::{CircuitBreaker, CircuitBreakerConfig};
    /// let system = System::new();
    /// let breaker = CircuitBreaker::new(&system, CircuitBreakerConfig::new("a")).unwrap();
    /// breaker.try_acquire().unwrap().ignore();
    /// assert_eq!(breaker.metrics().buffered_calls, 0);
    /// # }
    /// ```
    pub fn ignore(self) {
        drop(self.grant);
    }
}

impl fmt::Debug for BreakerPermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BreakerPermit")
            .field(
                "breaker",
                &self.grant.core.as_ref().map(|core| core.config.name()),
            )
            .field("started", &self.grant.started)
            .field("trial", &self.grant.trial)
            .finish_non_exhaustive()
    }
}
