//! The rate limiter: a token bucket kept as one atomic word (`gcra.rs`), refilled lazily
//! from the system's clock, so no timer task runs.

mod error;
mod gcra;

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

pub use error::{InvalidRateLimit, RateLimited};

use crate::System;
use gcra::Bucket;

/// A rate limit: at most `per_second` calls a second on average, with bursts of up to
/// `burst` calls. A token bucket holding `burst` tokens, full at the start, refilled one
/// token every `1 / per_second` seconds of the [`System`]'s clock; each call takes a token.
///
/// Callers that wait ([`acquire`](Self::acquire)) reserve their token when they start
/// waiting, so they are served in the order they came, and a later
/// [`try_acquire`](Self::try_acquire) cannot take the token a waiter is owed (resilience4j's
/// reservations, kept as GCRA). No task or timer runs: the bucket is refilled when it is
/// looked at, and taking a token is a compare-exchange on one word.
///
/// A handle: cheap to clone (one `Arc`), shared by every caller it limits.
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// use std::time::Duration;
/// use snowglobe_runtime::System;
/// use snowglobe_runtime::resilience::RateLimiter;
///
/// let system = System::new();
/// let limiter = RateLimiter::new(&system, "search", 10.0, 2).unwrap();
/// let start = system.now();
/// assert!(limiter.try_acquire().is_ok());
/// assert!(limiter.try_acquire().is_ok());
/// assert!(limiter.try_acquire().is_err()); // burst spent
///
/// // a token every 100 ms: waiting gets the next one
/// limiter.acquire(Duration::from_secs(1)).await.unwrap();
/// assert_eq!(system.now() - start, Duration::from_millis(100));
/// # }
/// ```
#[derive(Clone)]
pub struct RateLimiter {
    inner: Arc<Inner>,
}

struct Inner {
    name: Arc<str>,
    system: System,
    per_second: f64,
    bucket: Bucket,
    /// The bucket's theoretical arrival time (see `gcra.rs`), in nanoseconds.
    tat: AtomicU64,
}

impl RateLimiter {
    /// A limiter named `name` (for errors and logs) allowing `per_second` calls a second,
    /// `burst` of them at once, on `system`'s clock. The bucket starts full.
    ///
    /// The time between two tokens is counted in whole nanoseconds (rounded), so rates that
    /// do not divide a second exactly are approximated to a nanosecond per token.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use snowglobe_runtime::System;
    /// use snowglobe_runtime::resilience::RateLimiter;
    ///
    /// let system = System::new();
    /// let limiter = RateLimiter::new(&system, "search", 0.5, 3).unwrap(); // one every 2 s
    /// assert_eq!(limiter.available(), 3);
    /// assert!(RateLimiter::new(&system, "search", 0.0, 3).is_err());
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`InvalidRateLimit`] if `per_second` is not above zero (or not a number), is above
    /// 10^9 (a token per nanosecond), or `burst` is zero.
    pub fn new(
        system: &System,
        name: impl Into<Arc<str>>,
        per_second: f64,
        burst: u32,
    ) -> Result<RateLimiter, InvalidRateLimit> {
        let name = name.into();
        if !(per_second > 0.0 && per_second <= 1e9) {
            return Err(InvalidRateLimit::Rate {
                limiter: name,
                per_second,
            });
        }
        if burst == 0 {
            return Err(InvalidRateLimit::ZeroBurst { limiter: name });
        }
        // Positive and at least 1 (the rate is at most 1e9); a rate so low that the interval
        // passes u64::MAX nanoseconds (584 years) saturates, which `as` does for f64.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let interval = (1e9 / per_second).round() as u64;
        Ok(RateLimiter {
            inner: Arc::new(Inner {
                name,
                per_second,
                bucket: Bucket::new(interval.max(1), burst),
                tat: AtomicU64::new(system.now().as_nanos()),
                system: system.clone(),
            }),
        })
    }

    /// The limiter's name.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # use snowglobe_runtime::System;
    /// # use snowglobe_runtime::resilience::RateLimiter;
    /// let system = System::new();
    /// let limiter = RateLimiter::new(&system, "search", 10.0, 1).unwrap();
    /// assert_eq!(limiter.name(), "search");
    /// # }
    /// ```
    #[must_use]
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Takes a token if the bucket has one now, without waiting. Tokens reserved by callers
    /// waiting in [`acquire`](Self::acquire) are not available.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use std::time::Duration;
    /// # use snowglobe_runtime::System;
    /// # use snowglobe_runtime::resilience::RateLimiter;
    /// let system = System::new();
    /// let limiter = RateLimiter::new(&system, "search", 4.0, 1).unwrap();
    /// assert!(limiter.try_acquire().is_ok());
    /// let limited = limiter.try_acquire().unwrap_err();
    /// assert_eq!(limited.retry_after, Duration::from_millis(250));
    /// tokio::time::advance(limited.retry_after).await;
    /// assert!(limiter.try_acquire().is_ok());
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`RateLimited`] with the time until a token is free, if there is none now.
    pub fn try_acquire(&self) -> Result<(), RateLimited> {
        self.take(Duration::ZERO).map(|_| ())
    }

    /// Takes a token, waiting on the system's clock for one if needed, but not longer than
    /// `max_wait`. A caller that will wait reserves its token at once: waiters are served in
    /// the order they called, and one that cannot get a token within `max_wait` is refused
    /// at once, without waiting and without reserving anything.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use std::time::Duration;
    /// # use snowglobe_runtime::System;
    /// # use snowglobe_runtime::resilience::RateLimiter;
    /// let system = System::new();
    /// let limiter = RateLimiter::new(&system, "search", 10.0, 1).unwrap();
    /// limiter.acquire(Duration::ZERO).await.unwrap(); // the burst
    /// limiter.acquire(Duration::from_millis(100)).await.unwrap(); // waits 100 ms
    /// let limited = limiter.acquire(Duration::from_millis(50)).await.unwrap_err();
    /// assert_eq!(limited.retry_after, Duration::from_millis(100));
    /// assert_eq!(system.now().as_nanos(), 100_000_000);
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`RateLimited`] if no token would be free within `max_wait`; its `retry_after` is
    /// how long the wait would have been.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future while it waits gives its reservation back if no caller reserved
    /// after it, so the next caller gets that token. Otherwise the token is forfeited: the
    /// callers queued behind keep their turns, and the limiter lets one call fewer through,
    /// never one more.
    pub async fn acquire(&self, max_wait: Duration) -> Result<(), RateLimited> {
        let (wait, tat) = self.take(max_wait)?;
        if wait == 0 {
            return Ok(());
        }
        let reservation = Reservation { limiter: self, tat };
        self.inner.system.sleep(Duration::from_nanos(wait)).await;
        std::mem::forget(reservation);
        Ok(())
    }

    /// The tokens in the bucket now, not counting those reserved by waiting callers.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use std::time::Duration;
    /// # use snowglobe_runtime::System;
    /// # use snowglobe_runtime::resilience::RateLimiter;
    /// let system = System::new();
    /// let limiter = RateLimiter::new(&system, "search", 1.0, 5).unwrap();
    /// for _ in 0..5 {
    ///     limiter.try_acquire().unwrap();
    /// }
    /// assert_eq!(limiter.available(), 0);
    /// tokio::time::advance(Duration::from_millis(2_500)).await;
    /// assert_eq!(limiter.available(), 2);
    /// # }
    /// ```
    #[must_use]
    pub fn available(&self) -> u32 {
        let inner = &*self.inner;
        let now = inner.system.now().as_nanos();
        inner
            .bucket
            .available(inner.tat.load(Ordering::Acquire), now)
    }

    /// Takes or reserves a token if the wait for it is at most `max_wait`; returns the wait
    /// in nanoseconds and the `tat` this call set.
    fn take(&self, max_wait: Duration) -> Result<(u64, u64), RateLimited> {
        let inner = &*self.inner;
        let now = inner.system.now().as_nanos();
        let mut tat = inner.tat.load(Ordering::Acquire);
        loop {
            let wait = inner.bucket.wait(tat, now);
            let next = match inner.bucket.take(tat, now) {
                Some(next) if wait <= max_wait.as_nanos() => next,
                _ => return Err(self.limited(wait)),
            };
            match inner
                .tat
                .compare_exchange_weak(tat, next, Ordering::AcqRel, Ordering::Acquire)
            {
                // A wait past u64::MAX nanoseconds (584 years) is cut to that.
                Ok(_) => return Ok((u64::try_from(wait).unwrap_or(u64::MAX), next)),
                Err(actual) => tat = actual,
            }
        }
    }

    fn limited(&self, wait: u128) -> RateLimited {
        RateLimited {
            limiter: self.inner.name.clone(),
            retry_after: Duration::from_nanos(u64::try_from(wait).unwrap_or(u64::MAX)),
        }
    }
}

/// A token reserved by a waiting [`RateLimiter::acquire`]; dropped only when the wait is
/// cancelled (a finished wait forgets it).
struct Reservation<'a> {
    limiter: &'a RateLimiter,
    /// The `tat` the reservation set.
    tat: u64,
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        let inner = &*self.limiter.inner;
        // Only the latest reservation can be undone exactly: later ones computed their turn
        // from this one's, and moving `tat` back under them would let a newcomer share a
        // turn with them. A failed exchange forfeits the token.
        let _ = inner.tat.compare_exchange(
            self.tat,
            self.tat.saturating_sub(inner.bucket.interval),
            Ordering::AcqRel,
            Ordering::Relaxed,
        );
    }
}

impl fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimiter")
            .field("name", &self.inner.name)
            .field("per_second", &self.inner.per_second)
            .field("burst", &self.inner.bucket.burst)
            .field("available", &self.available())
            .finish()
    }
}
