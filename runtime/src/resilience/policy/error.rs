//! Why a call through a [`Policy`](super::Policy) failed.

use std::fmt;

use crate::address::AskError;
use crate::resilience::{BreakerRejected, BulkheadFull, FailureKind, RateLimited};

/// Why a call through a [`Policy`](super::Policy) got no reply: the last attempt's ask
/// error, or the policy that refused the call before it was sent.
///
/// ```
/// use snowglobe_runtime::AskError;
/// use snowglobe_runtime::resilience::{CallError, FailureKind};
///
/// let err: CallError<&str> = CallError::Ask(AskError::Closed("charge"));
/// assert_eq!(err.kind(), FailureKind::Closed);
/// assert_eq!(err.to_string(), "actor stopped");
/// assert_eq!(err.into_message(), Some("charge"));
/// ```
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum CallError<M> {
    /// The ask of the last attempt failed (after any retries the policy allowed).
    #[error(transparent)]
    Ask(AskError<M>),
    /// The circuit breaker refused the call: the target has been failing.
    #[error(transparent)]
    BreakerOpen(BreakerRejected),
    /// The rate limiter had no token for the call within its wait.
    #[error(transparent)]
    RateLimited(RateLimited),
    /// The concurrency limit (bulkhead) had no permit for the call within its wait.
    #[error(transparent)]
    BulkheadFull(BulkheadFull),
}

impl<M> CallError<M> {
    /// The kind of failure, as the policies classify it.
    #[must_use]
    pub fn kind(&self) -> FailureKind {
        match self {
            CallError::Ask(error) => error.kind(),
            CallError::BreakerOpen(rejected) => rejected.kind(),
            CallError::RateLimited(_) => FailureKind::RateLimited,
            CallError::BulkheadFull(_) => FailureKind::BulkheadFull,
        }
    }

    /// The message, if the last attempt never sent it.
    pub fn into_message(self) -> Option<M> {
        match self {
            CallError::Ask(error) => error.into_message(),
            _ => None,
        }
    }
}

impl<M> fmt::Debug for CallError<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::Ask(error) => f.debug_tuple("Ask").field(error).finish(),
            CallError::BreakerOpen(rejected) => {
                f.debug_tuple("BreakerOpen").field(rejected).finish()
            }
            CallError::RateLimited(limited) => f.debug_tuple("RateLimited").field(limited).finish(),
            CallError::BulkheadFull(full) => f.debug_tuple("BulkheadFull").field(full).finish(),
        }
    }
}
