//! Why a breaker refused a call, and why a config made no breaker.

use std::sync::Arc;
use std::time::Duration;

use super::state::BreakerState;
use crate::resilience::FailureKind;

/// A call the breaker did not permit: it is open or forced open, or half-open with every
/// trial call taken. The call was not made.
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// use snowglobe_runtime::System;
/// use snowglobe_runtime::resilience::{BreakerState, CircuitBreaker, CircuitBreakerConfig, FailureKind};
///
/// let system = System::new();
/// let breaker = CircuitBreaker::new(&system, CircuitBreakerConfig::new("payments")).unwrap();
/// breaker.transition_to_open();
/// let rejected = breaker.try_acquire().unwrap_err();
/// assert_eq!(rejected.to_string(), "circuit breaker `payments` is open");
/// assert_eq!(rejected.state, BreakerState::Open);
/// assert_eq!(rejected.kind(), FailureKind::BreakerOpen);
/// assert_eq!(rejected.retry_after, Some(std::time::Duration::from_secs(60)));
/// # }
/// ```
#[derive(Clone, Debug, thiserror::Error)]
#[error("circuit breaker `{breaker}` is {}", describe(*.state))]
pub struct BreakerRejected {
    /// The breaker's name.
    pub breaker: Arc<str>,
    /// The state that rejected the call: open, forced open or half-open.
    pub state: BreakerState,
    /// How long until an open breaker lets trial calls through; `None` when that is not
    /// known (forced open, half-open).
    pub retry_after: Option<Duration>,
}

impl BreakerRejected {
    /// The rejection as a [`FailureKind`]: [`BreakerHalfOpen`](FailureKind::BreakerHalfOpen)
    /// (transient: a trial slot frees up soon) when half-open,
    /// [`BreakerOpen`](FailureKind::BreakerOpen) otherwise.
    ///
    /// ```
    /// use snowglobe_runtime::resilience::{BreakerRejected, BreakerState, FailureKind};
    ///
    /// let rejected = BreakerRejected {
    ///     breaker: "search".into(),
    ///     state: BreakerState::HalfOpen,
    ///     retry_after: None,
    /// };
    /// assert_eq!(rejected.kind(), FailureKind::BreakerHalfOpen);
    /// assert_eq!(rejected.to_string(), "circuit breaker `search` is half-open with no trial call left");
    /// ```
    #[must_use]
    pub fn kind(&self) -> FailureKind {
        match self.state {
            BreakerState::HalfOpen => FailureKind::BreakerHalfOpen,
            _ => FailureKind::BreakerOpen,
        }
    }
}

fn describe(state: BreakerState) -> &'static str {
    match state {
        BreakerState::HalfOpen => "half-open with no trial call left",
        BreakerState::ForcedOpen => "forced open",
        // Closed and disabled breakers reject nothing; a hand-made rejection says open.
        _ => "open",
    }
}

/// A [`CircuitBreakerConfig`](super::CircuitBreakerConfig) setting out of its range.
///
/// ```
/// use snowglobe_runtime::resilience::{BreakerConfigError, CircuitBreakerConfig};
///
/// let error = CircuitBreakerConfig::new("search").permitted_calls_in_half_open(0).validate();
/// assert_eq!(
///     error.unwrap_err().to_string(),
///     "circuit breaker `search`: no call is permitted in half-open"
/// );
/// ```
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum BreakerConfigError {
    /// The failure rate threshold is not in (0, 100].
    #[error("circuit breaker `{breaker}`: failure rate threshold {value} is not in (0, 100]")]
    FailureRateThreshold {
        /// The breaker's name.
        breaker: Arc<str>,
        /// The threshold given.
        value: f64,
    },
    /// The slow-call rate threshold is not in (0, 100].
    #[error("circuit breaker `{breaker}`: slow-call rate threshold {value} is not in (0, 100]")]
    SlowCallRateThreshold {
        /// The breaker's name.
        breaker: Arc<str>,
        /// The threshold given.
        value: f64,
    },
    /// The sliding window holds no call: a count of zero, or a span of zero.
    #[error("circuit breaker `{breaker}`: the sliding window is empty")]
    EmptyWindow {
        /// The breaker's name.
        breaker: Arc<str>,
    },
    /// The minimum number of calls is zero.
    #[error("circuit breaker `{breaker}`: the minimum number of calls is zero")]
    ZeroMinimumCalls {
        /// The breaker's name.
        breaker: Arc<str>,
    },
    /// No trial call is permitted in half-open: the breaker could never close again.
    #[error("circuit breaker `{breaker}`: no call is permitted in half-open")]
    ZeroPermittedCalls {
        /// The breaker's name.
        breaker: Arc<str>,
    },
    /// The maximum wait in half-open is zero: no trial call could ever complete.
    #[error("circuit breaker `{breaker}`: the maximum wait in half-open is zero")]
    ZeroMaxWaitInHalfOpen {
        /// The breaker's name.
        breaker: Arc<str>,
    },
    /// The open backoff's multiplier is below 1 (or not a number).
    #[error("circuit breaker `{breaker}`: open backoff multiplier {multiplier} is below 1")]
    BackoffMultiplier {
        /// The breaker's name.
        breaker: Arc<str>,
        /// The multiplier given.
        multiplier: f64,
    },
    /// The open backoff's maximum is below the wait in open.
    #[error(
        "circuit breaker `{breaker}`: open backoff max {max:?} is below the wait in open {wait:?}"
    )]
    BackoffMax {
        /// The breaker's name.
        breaker: Arc<str>,
        /// The maximum given.
        max: Duration,
        /// The wait in open.
        wait: Duration,
    },
}
