//! Why a rate limiter refused a call, and why a configuration made no limiter.

use std::sync::Arc;
use std::time::Duration;

use crate::resilience::FailureKind;

/// A call the [`RateLimiter`](super::RateLimiter) did not let through: it had no token, and
/// none would come within the wait allowed. The call was not made, and nothing was reserved.
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// use std::time::Duration;
/// use snowglobe_runtime::System;
/// use snowglobe_runtime::resilience::{FailureKind, RateLimiter};
///
/// let system = System::new();
/// let limiter = RateLimiter::new(&system, "search", 2.0, 1).unwrap();
/// limiter.try_acquire().unwrap();
/// let limited = limiter.try_acquire().unwrap_err();
/// assert_eq!(limited.retry_after, Duration::from_millis(500));
/// assert_eq!(limited.kind(), FailureKind::RateLimited);
/// assert_eq!(limited.to_string(), "rate limiter `search` has no token, retry after 500ms");
/// # }
/// ```
#[derive(Clone, Debug, thiserror::Error)]
#[error("rate limiter `{limiter}` has no token, retry after {retry_after:?}")]
pub struct RateLimited {
    /// The limiter's name.
    pub limiter: Arc<str>,
    /// How long until a token is free for a caller who asks then: the refill of one token,
    /// plus the tokens the callers already waiting have reserved.
    pub retry_after: Duration,
}

impl RateLimited {
    /// Always [`FailureKind::RateLimited`], a transient failure.
    ///
    /// ```
    /// use std::time::Duration;
    /// use snowglobe_runtime::resilience::{FailureKind, RateLimited};
    ///
    /// let limited = RateLimited { limiter: "search".into(), retry_after: Duration::ZERO };
    /// assert_eq!(limited.kind(), FailureKind::RateLimited);
    /// ```
    #[must_use]
    pub fn kind(&self) -> FailureKind {
        FailureKind::RateLimited
    }
}

/// A [`RateLimiter`](super::RateLimiter) setting out of its range.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use snowglobe_runtime::System;
/// use snowglobe_runtime::resilience::{InvalidRateLimit, RateLimiter};
///
/// let system = System::new();
/// let error = RateLimiter::new(&system, "search", 10.0, 0).unwrap_err();
/// assert_eq!(error.to_string(), "rate limiter `search`: the burst is zero");
/// let error = RateLimiter::new(&system, "search", f64::NAN, 1).unwrap_err();
/// assert!(matches!(error, InvalidRateLimit::Rate { .. }));
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidRateLimit {
    /// The rate is not a number above zero, or is above one token per nanosecond.
    #[error(
        "rate limiter `{limiter}`: {per_second} per second is not a rate above zero and at most 1e9"
    )]
    Rate {
        /// The limiter's name.
        limiter: Arc<str>,
        /// The rate given.
        per_second: f64,
    },
    /// The burst is zero: no call could ever go through.
    #[error("rate limiter `{limiter}`: the burst is zero")]
    ZeroBurst {
        /// The limiter's name.
        limiter: Arc<str>,
    },
}
