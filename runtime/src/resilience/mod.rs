//! Resilience on the messaging path: circuit breakers, retries with backoff and a budget,
//! rate limits, concurrency limits (the semaphore bulkhead; [`Bulkhead`](crate::Bulkhead) is
//! the other kind, an executor of its own), deduplication of retried requests, and the
//! [`Policy`] that composes them around an ask.
//!
//! Every policy reads time and randomness from its [`System`](crate::System), so a paused or
//! simulated clock drives breakers, backoff and limits deterministically.

mod circuit_breaker;
mod concurrency;
mod dedup;
mod policy;
mod rate_limit;
mod retry;

pub use circuit_breaker::{
    BreakerConfigError, BreakerMetrics, BreakerPermit, BreakerRejected, BreakerState,
    BreakerTransition, CircuitBreaker, CircuitBreakerConfig, SlidingWindow,
};
pub use concurrency::{BulkheadFull, ConcurrencyLimit, ConcurrencyPermit, InvalidLimit};
pub(crate) use dedup::SharedStore;
pub use dedup::{
    DEFAULT_DEDUP_WINDOW, DedupEntry, DedupKey, DedupStore, DedupTicket, MemoryDedupStore, Seen,
};
pub use policy::{CallError, Policy, PolicyBuilder, PolicyStats};
pub use rate_limit::{InvalidRateLimit, RateLimited, RateLimiter};
pub use retry::{InvalidBudget, Jitter, Retry, RetryBudget};

/// What went wrong with one call, in the terms the policies decide on: a breaker counts some
/// kinds as failures, a retry retries some kinds.
///
/// ```
/// use snowglobe_runtime::AskError;
/// use snowglobe_runtime::resilience::FailureKind;
///
/// assert_eq!(AskError::<()>::Timeout.kind(), FailureKind::Timeout);
/// assert!(FailureKind::Timeout.is_transient());
/// assert!(!FailureKind::Panicked.is_transient());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FailureKind {
    /// No reply before the deadline: the handler may or may not have run.
    Timeout,
    /// The mailbox stayed full until the deadline: the message was not sent.
    Full,
    /// The actor had stopped: the message was not sent.
    Closed,
    /// The message was queued, but the actor stopped before handling it.
    Stopped,
    /// The actor was killed while it handled the message.
    Interrupted,
    /// The handler panicked.
    Panicked,
    /// The request was dropped without a reply.
    Dropped,
    /// The message id was used before for a message with other content (deduplication).
    IdReused,
    /// An open (or forced-open) circuit breaker rejected the call.
    BreakerOpen,
    /// A half-open circuit breaker had no trial call left for it.
    BreakerHalfOpen,
    /// A concurrency limit (bulkhead) had no permit within its wait.
    BulkheadFull,
    /// A rate limiter had no token within its wait.
    RateLimited,
    /// The reply arrived, and the caller's classification called it a failure (an `Err`
    /// from the service, say).
    Application,
}

impl FailureKind {
    /// Whether trying again may succeed without the caller changing anything, and the
    /// first attempt cannot have been applied twice by a retry that reuses its message id:
    /// a timeout, a full mailbox, a half-open breaker's busy trial slots, a full bulkhead, a
    /// rate limit. These are what [`Retry`] retries unless told otherwise.
    ///
    /// A timeout is transient but the handler may have run: retry it only towards a
    /// handler that deduplicates by message id (`#[message(idempotent)]`), or one without
    /// side effects.
    #[must_use]
    pub const fn is_transient(self) -> bool {
        matches!(
            self,
            FailureKind::Timeout
                | FailureKind::Full
                | FailureKind::BreakerHalfOpen
                | FailureKind::BulkheadFull
                | FailureKind::RateLimited
        )
    }
}
