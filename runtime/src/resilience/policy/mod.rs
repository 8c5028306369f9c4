//! [`Policy`]: retry, circuit breaker, rate limit, timeouts and a concurrency limit,
//! composed around the asks to one target.

mod builder;
mod call;
mod error;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

pub use builder::PolicyBuilder;
pub use error::CallError;

use crate::System;
use crate::resilience::{CircuitBreaker, ConcurrencyLimit, RateLimiter, Retry};

/// Resilience policies composed around the asks to one target, in a fixed order from the
/// outside in:
///
/// 1. **retry**: a failed attempt whose [`FailureKind`](super::FailureKind) the [`Retry`]
///    accepts is sent again after a backoff (at least as long as a breaker's or rate
///    limiter's `retry_after`, and at least 1 ms after any local refusal), with the message id of the first attempt, while attempts, the
///    retry budget and the total deadline allow. A retry after a reply classified as a
///    failure ([`FailureKind::Application`](super::FailureKind::Application)) gets a fresh
///    id: the service answered, so the request is not in doubt, and a deduplicating receiver
///    would only repeat its answer;
/// 2. **circuit breaker**: each attempt asks the [`CircuitBreaker`] for permission and
///    reports its outcome (a rejection by the rate limiter or the concurrency limit below it
///    is not the target's fault and is not counted);
/// 3. **rate limit**: each attempt takes a token from the [`RateLimiter`], waiting up to the
///    configured time;
/// 4. **timeout**: each attempt has a deadline, the per-attempt timeout (the request's own
///    [`timeout`](crate::Request::timeout), else the policy's, else the system's ask timeout)
///    cut short by the total deadline, set when the attempt starts. It bounds the waits for a
///    token and for a concurrency permit (an attempt whose deadline passes there is not sent
///    and fails with [`Timeout`](crate::AskError::Timeout)), for mailbox room and for the
///    reply, and it travels in the message's headers so the handler sees how much time is
///    left ([`Headers::remaining`](crate::Headers::remaining)); the breaker times the call
///    from the end of the local waits;
/// 5. **concurrency limit** (the semaphore bulkhead): at most so many attempts in flight to
///    the target through this policy.
///
/// A policy is cheap to clone and its clones share state (the breaker, the budget, the
/// limits, the counters): build one per target and share it among the callers.
///
/// Retrying re-sends the message, so `M: Clone`. A message whose handler may already have
/// run when the caller stopped waiting (a [`Timeout`](crate::AskError::Timeout)) must be
/// safe to handle twice: mark it `#[message(idempotent)]`, and the retry, carrying the first
/// attempt's id, gets the first reply instead of a second execution.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use std::time::Duration;
/// use snowglobe_runtime::resilience::{
///     CircuitBreaker, CircuitBreakerConfig, Jitter, Policy, Retry,
/// };
/// use snowglobe_runtime::{Actor, Context, DynMessage, Handler, Message, System};
///
/// struct Payments;
/// impl Actor for Payments { type Msg = DynMessage<Self>; }
/// #[derive(Clone)]
/// struct Charge { cents: u64 }
/// impl Message for Charge { type Reply = u64; }
/// impl Handler<Charge> for Payments {
///     async fn handle(&mut self, charge: Charge, _: &mut Context<Self>) -> u64 { charge.cents }
/// }
///
/// let system = System::new();
/// let payments = system.spawn(Payments).unwrap();
/// let breaker = CircuitBreaker::new(&system, CircuitBreakerConfig::new("payments")).unwrap();
/// let policy = Policy::builder(&system)
///     .retry(Retry::new(3).backoff(Duration::from_millis(10), Duration::from_secs(1)).jitter(Jitter::Full))
///     .circuit_breaker(breaker)
///     .timeout(Duration::from_millis(200))
///     .total_timeout(Duration::from_secs(1))
///     .build();
/// let charged = policy.call(payments.ask(Charge { cents: 500 })).await.unwrap();
/// assert_eq!(charged, 500);
/// assert_eq!(policy.stats().calls, 1);
/// # system.shutdown().await;
/// # }
/// ```
#[derive(Clone)]
pub struct Policy {
    inner: Arc<Inner>,
}

struct Inner {
    system: System,
    retry: Option<Retry>,
    breaker: Option<CircuitBreaker>,
    rate_limit: Option<(RateLimiter, Duration)>,
    timeout: Option<Duration>,
    total_timeout: Option<Duration>,
    concurrency: Option<ConcurrencyLimit>,
    counters: Counters,
}

#[derive(Default)]
struct Counters {
    calls: AtomicU64,
    retries: AtomicU64,
    failed_calls: AtomicU64,
    rejected_attempts: AtomicU64,
}

/// What a [`Policy`] has done since it was built.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PolicyStats {
    /// Calls made through it.
    pub calls: u64,
    /// Attempts: calls plus retries.
    pub attempts: u64,
    /// Attempts that were retries.
    pub retries: u64,
    /// Calls that ended without a reply, or with a reply classified as a failure.
    pub failed_calls: u64,
    /// Attempts refused before they were sent (breaker, rate limit, concurrency limit).
    pub rejected_attempts: u64,
}

impl Policy {
    /// A builder for a policy whose time and randomness come from `system`.
    pub fn builder(system: &System) -> PolicyBuilder {
        PolicyBuilder::new(system)
    }

    /// The circuit breaker, if the policy has one.
    #[must_use]
    pub fn circuit_breaker(&self) -> Option<&CircuitBreaker> {
        self.inner.breaker.as_ref()
    }

    /// The retry, if the policy has one.
    #[must_use]
    pub fn retry(&self) -> Option<&Retry> {
        self.inner.retry.as_ref()
    }

    /// What the policy has done so far.
    #[must_use]
    pub fn stats(&self) -> PolicyStats {
        let c = &self.inner.counters;
        let (calls, retries) = (
            c.calls.load(Ordering::Relaxed),
            c.retries.load(Ordering::Relaxed),
        );
        PolicyStats {
            calls,
            attempts: calls + retries,
            retries,
            failed_calls: c.failed_calls.load(Ordering::Relaxed),
            rejected_attempts: c.rejected_attempts.load(Ordering::Relaxed),
        }
    }
}

impl std::fmt::Debug for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let inner = &self.inner;
        f.debug_struct("Policy")
            .field("retry", &inner.retry.as_ref().map(Retry::max_attempts))
            .field(
                "circuit_breaker",
                &inner.breaker.as_ref().map(CircuitBreaker::name),
            )
            .field(
                "rate_limit",
                &inner.rate_limit.as_ref().map(|(l, _)| l.name()),
            )
            .field("timeout", &inner.timeout)
            .field("total_timeout", &inner.total_timeout)
            .field(
                "concurrency",
                &inner.concurrency.as_ref().map(ConcurrencyLimit::name),
            )
            .finish()
    }
}
