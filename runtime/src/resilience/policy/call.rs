//! One call through a [`Policy`]: the attempts, and what each meets on its way.

use std::future::Future;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::{CallError, Policy};
use crate::address::AskError;
use crate::address::{Endpoint, Request};
use crate::message::{Message, MessageId};
use crate::resilience::FailureKind;
use crate::sim::SimRt;
use crate::system::Instant;

/// The shortest wait before retrying an attempt that a breaker, rate limiter or
/// concurrency limit refused.
const LOCAL_REFUSAL_PAUSE: Duration = Duration::from_millis(1);

/// How one attempt ended: the call's result if it is the last, and the failure if any.
struct Attempt<R, M> {
    result: Result<R, CallError<M>>,
    failure: Option<FailureKind>,
}

impl<R, M> Attempt<R, M> {
    /// How long to wait at least before trying again: what a refusal said, and never
    /// nothing after a local refusal, so that a retry without backoff does not spin on a
    /// full bulkhead (nor keep a paused or simulated clock from moving).
    fn retry_after(&self) -> Duration {
        let said = match &self.result {
            Err(CallError::BreakerOpen(rejected)) => rejected.retry_after.unwrap_or_default(),
            Err(CallError::RateLimited(limited)) => limited.retry_after,
            Err(CallError::BulkheadFull(_)) => Duration::ZERO,
            _ => return Duration::ZERO,
        };
        said.max(LOCAL_REFUSAL_PAUSE)
    }
}

impl Policy {
    /// Sends `request` through the policy and waits for the reply.
    ///
    /// A reply is a success; see [`call_classified`](Policy::call_classified) to count
    /// some replies (an `Err` from the service) as failures.
    ///
    /// # Errors
    ///
    /// The last attempt's [`AskError`](crate::AskError), or the rejection of a breaker,
    /// rate limiter or concurrency limit: see [`CallError`].
    ///
    /// # Cancel safety
    ///
    /// Dropping the future drops the attempt in flight (see [`Ask`](crate::Ask): a message
    /// already sent is still handled) and any breaker or concurrency permit it held; the
    /// breaker does not count a cancelled attempt.
    // Not `async`: the future is `call_classified`'s own, without a layer around it.
    pub fn call<'a, E, M>(
        &'a self,
        request: Request<'a, E, M>,
    ) -> impl Future<Output = Result<M::Reply, CallError<M>>> + 'a
    where
        E: Endpoint<M>,
        M: Message + Clone,
    {
        self.call_classified(request, |_| false)
    }

    /// Like [`call`](Policy::call), with `is_failure` deciding which replies count as
    /// failures: the breaker records them as [`FailureKind::Application`], and the retry
    /// retries them if its predicate accepts that kind. When no attempt is left, such a
    /// reply is returned as it is.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use snowglobe_runtime::resilience::{FailureKind, Policy, Retry};
    /// use snowglobe_runtime::{Actor, Context, DynMessage, Handler, Message, System};
    ///
    /// #[derive(Default)]
    /// struct Flaky { calls: u32 }
    /// impl Actor for Flaky { type Msg = DynMessage<Self>; }
    /// #[derive(Clone)]
    /// struct Get;
    /// impl Message for Get { type Reply = Result<u32, String>; }
    /// impl Handler<Get> for Flaky {
    ///     async fn handle(&mut self, _: Get, _: &mut Context<Self>) -> Result<u32, String> {
    ///         self.calls += 1;
    ///         if self.calls < 3 { Err("busy".into()) } else { Ok(self.calls) }
    ///     }
    /// }
    ///
    /// let system = System::new();
    /// let flaky = system.spawn(Flaky::default()).unwrap();
    /// let policy = Policy::builder(&system)
    ///     .retry(Retry::new(5).retry_on(|kind| kind == FailureKind::Application))
    ///     .build();
    /// let reply = policy.call_classified(flaky.ask(Get), Result::is_err).await.unwrap();
    /// assert_eq!(reply, Ok(3));
    /// assert_eq!(policy.stats().retries, 2);
    /// # system.shutdown().await;
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`call`](Policy::call).
    pub async fn call_classified<E, M>(
        &self,
        request: Request<'_, E, M>,
        is_failure: impl Fn(&M::Reply) -> bool,
    ) -> Result<M::Reply, CallError<M>>
    where
        E: Endpoint<M>,
        M: Message + Clone,
    {
        let inner = &*self.inner;
        let system = &inner.system;
        let counters = &inner.counters;
        counters.calls.fetch_add(1, Ordering::Relaxed);
        let (target, msg, request_timeout, id) = request.into_parts();
        // Every attempt carries the first one's id: that is how the receiver knows a retry.
        let id = id.unwrap_or_else(MessageId::next);
        let attempt_timeout = request_timeout
            .or(inner.timeout)
            .unwrap_or_else(|| system.ask_timeout());
        let deadline = inner
            .total_timeout
            .map(|total| system.now().saturating_add(total));
        let max_attempts = inner.retry.as_ref().map_or(1, |r| r.max_attempts().max(1));
        if let Some(budget) = inner.retry.as_ref().and_then(|r| r.budget_ref()) {
            budget.deposit();
        }

        let mut msg = Some(msg);
        let mut id = id;
        let mut attempt = 0;
        let mut previous_delay = Duration::ZERO;
        loop {
            attempt += 1;
            // The last possible attempt sends the message itself, the others a copy.
            let copy = if attempt >= max_attempts {
                msg.take()
            } else {
                msg.clone()
            };
            let Some(copy) = copy else {
                unreachable!("invariant: the message is taken by the last attempt only");
            };
            let outcome = self
                .attempt(target, copy, id, attempt_timeout, deadline, &is_failure)
                .await;
            let Some(kind) = outcome.failure else {
                return outcome.result;
            };
            let retry = match &inner.retry {
                Some(retry) if attempt < max_attempts && retry.should_retry(kind) => retry,
                _ => return self.failed(outcome.result),
            };
            // Not sooner than a refusal said, and never past the total deadline.
            let delay = retry
                .delay(attempt, previous_delay, system.random_u64())
                .max(outcome.retry_after());
            if deadline.is_some_and(|deadline| system.now().saturating_add(delay) >= deadline) {
                return self.failed(outcome.result);
            }
            if retry.budget_ref().is_some_and(|budget| !budget.withdraw()) {
                return self.failed(outcome.result);
            }
            counters.retries.fetch_add(1, Ordering::Relaxed);
            previous_delay = delay;
            if kind == FailureKind::Application {
                // The service answered: the request is not in doubt, and a retry under the
                // same id would only get the same answer from a deduplicating receiver.
                id = MessageId::next();
            }
            if delay.is_zero() {
                // Other tasks (the one holding the permit this attempt lacked, say) run
                // before the next attempt, and a paused or simulated clock can move on.
                system.shared().rt().yield_now().await;
            } else {
                // Boxed, as the waits of an attempt: a timer would widen every call's future.
                Box::pin(system.sleep(delay)).await;
            }
        }
    }

    fn failed<R, M>(&self, result: Result<R, CallError<M>>) -> Result<R, CallError<M>> {
        self.inner
            .counters
            .failed_calls
            .fetch_add(1, Ordering::Relaxed);
        result
    }

    /// One attempt: breaker, rate limit, timeout, concurrency limit, ask.
    async fn attempt<E, M>(
        &self,
        target: &E,
        msg: M,
        id: MessageId,
        attempt_timeout: Duration,
        deadline: Option<Instant>,
        is_failure: &impl Fn(&M::Reply) -> bool,
    ) -> Attempt<M::Reply, M>
    where
        E: Endpoint<M>,
        M: Message,
    {
        let inner = &*self.inner;
        let system = &inner.system;
        let rejected = |error: CallError<M>| {
            inner
                .counters
                .rejected_attempts
                .fetch_add(1, Ordering::Relaxed);
            let kind = error.kind();
            Attempt {
                result: Err(error),
                failure: Some(kind),
            }
        };

        // One clock read serves the breaker and the attempt's deadline; only a wait for a
        // token or a permit makes another necessary.
        let now = system.now();
        let attempt_deadline = match deadline {
            Some(deadline) => deadline.min(now.saturating_add(attempt_timeout)),
            None => now.saturating_add(attempt_timeout),
        };
        let mut permit = match &inner.breaker {
            Some(breaker) => match breaker.try_acquire_local(now) {
                Ok(permit) => Some(permit),
                Err(rejection) => return rejected(CallError::BreakerOpen(rejection)),
            },
            None => None,
        };
        // From here on, a dropped breaker permit counts the attempt as neither success nor
        // failure: a local refusal or wait says nothing about the target. The waits for a
        // token and for a permit are boxed: most attempts need neither, and their futures
        // would otherwise widen every call's future. Neither waits past the attempt's
        // deadline.
        let mut waited = false;
        if let Some((limiter, max_wait)) = &inner.rate_limit
            && limiter.try_acquire().is_err()
        {
            let left = attempt_deadline.saturating_duration_since(system.now());
            if let Err(limited) = Box::pin(limiter.acquire((*max_wait).min(left))).await {
                return rejected(CallError::RateLimited(limited));
            }
            waited = true;
        }
        let _in_flight = match &inner.concurrency {
            Some(limit) => match limit.try_acquire_uncounted() {
                Some(permit) => Some(permit),
                None => match Box::pin(limit.acquire_until(Some(attempt_deadline))).await {
                    Ok(permit) => {
                        waited = true;
                        Some(permit)
                    }
                    Err(full) => return rejected(CallError::BulkheadFull(full)),
                },
            },
            None => None,
        };
        if waited {
            let now = system.now();
            if now >= attempt_deadline {
                // The deadline passed in the local queue: the message is not sent, so a
                // late copy cannot run after its caller gave up.
                return Attempt {
                    result: Err(CallError::Ask(AskError::Timeout)),
                    failure: Some(FailureKind::Timeout),
                };
            }
            // The target's time starts now: a slow local queue is not a slow call.
            if let Some(permit) = &mut permit {
                permit.restart_clock(now);
            }
        }
        // Under simulation the target's node may read another (skewed) clock than ours.
        let due = match target.node() {
            0 => attempt_deadline,
            to => {
                let from = system.shared().rt().sim().map_or(0, SimRt::node_id);
                crate::sim::rebase_deadline(attempt_deadline, from, to)
            }
        };
        let outcome = Request::new(target, msg)
            .message_id(id)
            .ask_until(due)
            .await;
        match outcome {
            Ok(reply) if is_failure(&reply) => {
                if let Some(permit) = permit {
                    permit.failure(FailureKind::Application);
                }
                Attempt {
                    result: Ok(reply),
                    failure: Some(FailureKind::Application),
                }
            }
            Ok(reply) => {
                if let Some(permit) = permit {
                    permit.success_by(attempt_deadline);
                }
                Attempt {
                    result: Ok(reply),
                    failure: None,
                }
            }
            Err(error) => {
                let kind = error.kind();
                if let Some(permit) = permit {
                    permit.failure(kind);
                }
                Attempt {
                    result: Err(CallError::Ask(error)),
                    failure: Some(kind),
                }
            }
        }
    }
}
