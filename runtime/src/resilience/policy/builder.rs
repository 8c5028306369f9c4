//! Building a [`Policy`].

use std::sync::Arc;
use std::time::Duration;

use super::{Counters, Inner, Policy};
use crate::System;
use crate::resilience::{CircuitBreaker, ConcurrencyLimit, RateLimiter, Retry};

/// Builds a [`Policy`]; every part is optional. See [`Policy`] for the order they apply in.
#[must_use]
pub struct PolicyBuilder {
    inner: Inner,
}

impl PolicyBuilder {
    pub(super) fn new(system: &System) -> PolicyBuilder {
        PolicyBuilder {
            inner: Inner {
                system: system.clone(),
                retry: None,
                breaker: None,
                rate_limit: None,
                timeout: None,
                total_timeout: None,
                concurrency: None,
                counters: Counters::default(),
            },
        }
    }

    /// Retries failed attempts as `retry` says.
    pub fn retry(mut self, retry: Retry) -> PolicyBuilder {
        self.inner.retry = Some(retry);
        self
    }

    /// Asks `breaker` before each attempt and tells it the outcome.
    pub fn circuit_breaker(mut self, breaker: CircuitBreaker) -> PolicyBuilder {
        self.inner.breaker = Some(breaker);
        self
    }

    /// Takes a token from `limiter` for each attempt, waiting at most `max_wait` for one.
    pub fn rate_limit(mut self, limiter: RateLimiter, max_wait: Duration) -> PolicyBuilder {
        self.inner.rate_limit = Some((limiter, max_wait));
        self
    }

    /// Each attempt's deadline, unless the request sets its own
    /// ([`Request::timeout`](crate::Request::timeout)). Without it, the system's ask timeout.
    pub fn timeout(mut self, timeout: Duration) -> PolicyBuilder {
        self.inner.timeout = Some(timeout);
        self
    }

    /// A deadline for the whole call, retries and backoff included: no attempt's deadline
    /// goes past it, and no retry starts whose backoff would.
    pub fn total_timeout(mut self, timeout: Duration) -> PolicyBuilder {
        self.inner.total_timeout = Some(timeout);
        self
    }

    /// Holds a permit of `limit` for each attempt in flight.
    pub fn concurrency_limit(mut self, limit: ConcurrencyLimit) -> PolicyBuilder {
        self.inner.concurrency = Some(limit);
        self
    }

    /// The policy.
    pub fn build(self) -> Policy {
        Policy {
            inner: Arc::new(self.inner),
        }
    }
}

impl std::fmt::Debug for PolicyBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyBuilder").finish_non_exhaustive()
    }
}
