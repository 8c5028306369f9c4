//! What a breaker reports about itself.

use super::state::BreakerState;
use super::window::Totals;

/// A snapshot of a breaker: its state and the calls it judges on.
///
/// The calls are those of the sliding window while closed, those of the trials while
/// half-open, and, while open, those that opened it (the window, or the trials of the
/// half-open state before); a time window goes on sliding while open, so its calls age out
/// of the metrics as they would have out of the window. Forced open and disabled breakers record nothing. Rates are
/// `None` until the minimum number of calls is reached (the permitted trial calls, in
/// half-open), as resilience4j's `-1`.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use snowglobe_runtime::System;
/// use snowglobe_runtime::resilience::{BreakerState, CircuitBreaker, CircuitBreakerConfig, FailureKind};
///
/// let system = System::new();
/// let config = CircuitBreakerConfig::new("payments").minimum_calls(4);
/// let breaker = CircuitBreaker::new(&system, config).unwrap();
/// breaker.try_acquire().unwrap().success();
/// breaker.try_acquire().unwrap().failure(FailureKind::Timeout);
/// breaker.try_acquire().unwrap().success();
///
/// let metrics = breaker.metrics();
/// assert_eq!(metrics.state, BreakerState::Closed);
/// assert_eq!((metrics.buffered_calls, metrics.failed_calls), (3, 1));
/// assert_eq!(metrics.failure_rate, None); // 3 calls of the 4 needed
///
/// breaker.try_acquire().unwrap().success();
/// assert_eq!(breaker.metrics().failure_rate, Some(25.0));
/// # }
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct BreakerMetrics {
    /// The breaker's state.
    pub state: BreakerState,
    /// Failed calls in percent of the calls; `None` below the minimum number of calls.
    pub failure_rate: Option<f64>,
    /// Slow calls (failed or not) in percent of the calls; `None` below the minimum.
    pub slow_call_rate: Option<f64>,
    /// The calls recorded.
    pub buffered_calls: u64,
    /// Of those, the failed ones.
    pub failed_calls: u64,
    /// Of those, the slow ones (failed or not).
    pub slow_calls: u64,
    /// Of those, the ones both slow and failed.
    pub slow_failed_calls: u64,
    /// The calls rejected since the breaker was made or [reset](super::CircuitBreaker::reset)
    /// (resilience4j counts them per state; this count goes on across states).
    pub not_permitted_calls: u64,
}

impl BreakerMetrics {
    /// The calls recorded that did not fail (slow or not), as resilience4j's
    /// `getNumberOfSuccessfulCalls`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # use snowglobe_runtime::System;
    /// # use snowglobe_runtime::resilience::{CircuitBreaker, CircuitBreakerConfig, FailureKind};
    /// let system = System::new();
    /// let breaker = CircuitBreaker::new(&system, CircuitBreakerConfig::new("a")).unwrap();
    /// breaker.try_acquire().unwrap().success();
    /// breaker.try_acquire().unwrap().failure(FailureKind::Panicked);
    /// assert_eq!(breaker.metrics().successful_calls(), 1);
    /// # }
    /// ```
    #[must_use]
    pub fn successful_calls(&self) -> u64 {
        self.buffered_calls.saturating_sub(self.failed_calls)
    }

    pub(super) fn new(
        state: BreakerState,
        totals: Totals,
        minimum: u64,
        not_permitted_calls: u64,
    ) -> BreakerMetrics {
        BreakerMetrics {
            state,
            failure_rate: totals.failure_rate(minimum),
            slow_call_rate: totals.slow_call_rate(minimum),
            buffered_calls: totals.calls,
            failed_calls: totals.failed,
            slow_calls: totals.slow,
            slow_failed_calls: totals.slow_failed,
            not_permitted_calls,
        }
    }
}
