//! The semaphore bulkhead: a cap on the calls in flight towards a target, with a bounded
//! wait for a permit on the system's clock.

mod error;
mod permit;

use std::fmt;
use std::future::poll_fn;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::Poll;
use std::time::Duration;

use tokio::sync::Semaphore;

pub use error::{BulkheadFull, InvalidLimit};
pub use permit::ConcurrencyPermit;

use crate::System;
use crate::system::Instant;

/// A cap on the calls in flight at once, each holding a [`ConcurrencyPermit`] until it is
/// done: the semaphore kind of bulkhead, which keeps one slow target from tying up every
/// caller. (The other kind, [`Bulkhead`](crate::Bulkhead), is a separate executor.)
///
/// A caller with no permit free waits at most `max_wait` on the [`System`]'s clock, in line:
/// permits go to waiters in the order they came (a tokio [`Semaphore`], which is fair). No
/// clock is read unless a caller has to wait.
///
/// A handle: cheap to clone (one `Arc`), shared by every caller it limits.
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// use std::time::Duration;
/// use snowglobe_runtime::System;
/// use snowglobe_runtime::resilience::ConcurrencyLimit;
///
/// let system = System::new();
/// let limit = ConcurrencyLimit::new(&system, "payments", 2, Duration::from_millis(50)).unwrap();
/// let first = limit.try_acquire().unwrap();
/// let _second = limit.acquire().await.unwrap();
/// assert!(limit.try_acquire().is_err());
///
/// // nobody lets go within 50 ms
/// let start = system.now();
/// assert!(limit.acquire().await.is_err());
/// assert_eq!(system.now() - start, Duration::from_millis(50));
///
/// drop(first);
/// let _third = limit.acquire().await.unwrap();
/// assert_eq!((limit.in_flight(), limit.rejected()), (2, 2));
/// # }
/// ```
#[derive(Clone)]
pub struct ConcurrencyLimit {
    inner: Arc<Inner>,
}

struct Inner {
    name: Arc<str>,
    system: System,
    semaphore: Arc<Semaphore>,
    max_in_flight: usize,
    max_wait: Duration,
    waiting: AtomicUsize,
    rejected: AtomicU64,
}

impl ConcurrencyLimit {
    /// A limit named `name` (for errors and logs) of `max_in_flight` calls at once, where a
    /// caller waits at most `max_wait` for a permit (zero: it never waits), on `system`'s
    /// clock.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use std::time::Duration;
    /// use snowglobe_runtime::System;
    /// use snowglobe_runtime::resilience::ConcurrencyLimit;
    ///
    /// let system = System::new();
    /// let limit = ConcurrencyLimit::new(&system, "payments", 8, Duration::from_secs(1)).unwrap();
    /// assert_eq!(limit.in_flight(), 0);
    /// assert!(ConcurrencyLimit::new(&system, "payments", 0, Duration::ZERO).is_err());
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`InvalidLimit`] if `max_in_flight` is zero, or above `usize::MAX >> 3` (what a tokio
    /// semaphore can count).
    pub fn new(
        system: &System,
        name: impl Into<Arc<str>>,
        max_in_flight: usize,
        max_wait: Duration,
    ) -> Result<ConcurrencyLimit, InvalidLimit> {
        let name = name.into();
        if max_in_flight == 0 {
            return Err(InvalidLimit::ZeroInFlight { limit: name });
        }
        if max_in_flight > Semaphore::MAX_PERMITS {
            return Err(InvalidLimit::TooManyInFlight {
                limit: name,
                max_in_flight,
                max: Semaphore::MAX_PERMITS,
            });
        }
        Ok(ConcurrencyLimit {
            inner: Arc::new(Inner {
                name,
                system: system.clone(),
                semaphore: Arc::new(Semaphore::new(max_in_flight)),
                max_in_flight,
                max_wait,
                waiting: AtomicUsize::new(0),
                rejected: AtomicU64::new(0),
            }),
        })
    }

    /// The limit's name.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # use std::time::Duration;
    /// # use snowglobe_runtime::System;
    /// # use snowglobe_runtime::resilience::ConcurrencyLimit;
    /// let system = System::new();
    /// let limit = ConcurrencyLimit::new(&system, "payments", 8, Duration::ZERO).unwrap();
    /// assert_eq!(limit.name(), "payments");
    /// # }
    /// ```
    #[must_use]
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Takes a permit if one is free now, without waiting.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # use std::time::Duration;
    /// # use snowglobe_runtime::System;
    /// # use snowglobe_runtime::resilience::ConcurrencyLimit;
    /// let system = System::new();
    /// let limit = ConcurrencyLimit::new(&system, "payments", 1, Duration::ZERO).unwrap();
    /// let permit = limit.try_acquire().unwrap();
    /// assert!(limit.try_acquire().is_err());
    /// drop(permit);
    /// assert!(limit.try_acquire().is_ok());
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`BulkheadFull`] if every permit is in use (or promised to a waiting caller).
    pub fn try_acquire(&self) -> Result<ConcurrencyPermit, BulkheadFull> {
        match self.inner.semaphore.clone().try_acquire_owned() {
            Ok(permit) => Ok(ConcurrencyPermit::new(permit)),
            Err(_) => Err(self.reject()),
        }
    }

    /// A permit if one is free now, without counting a refusal: the fast path of a
    /// [`Policy`](crate::resilience::Policy), which waits with [`acquire`](Self::acquire)
    /// otherwise.
    pub(crate) fn try_acquire_uncounted(&self) -> Option<ConcurrencyPermit> {
        self.inner
            .semaphore
            .clone()
            .try_acquire_owned()
            .ok()
            .map(ConcurrencyPermit::new)
    }

    /// Takes a permit, waiting for one on the system's clock for at most the limit's
    /// `max_wait`, behind the callers already waiting. With a `max_wait` of zero, the same as
    /// [`try_acquire`](Self::try_acquire).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use std::time::Duration;
    /// # use snowglobe_runtime::System;
    /// # use snowglobe_runtime::resilience::ConcurrencyLimit;
    /// let system = System::new();
    /// let limit = ConcurrencyLimit::new(&system, "payments", 1, Duration::from_secs(1)).unwrap();
    /// let held = limit.acquire().await.unwrap();
    /// let waiter = tokio::spawn({
    ///     let limit = limit.clone();
    ///     async move { limit.acquire().await.map(drop) }
    /// });
    /// drop(held); // the waiter gets it
    /// assert!(waiter.await.unwrap().is_ok());
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`BulkheadFull`] if no permit came free within `max_wait`.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future while it waits takes the caller out of the line; a permit handed
    /// to it in the meantime goes to the next caller. Nothing is counted as rejected.
    pub async fn acquire(&self) -> Result<ConcurrencyPermit, BulkheadFull> {
        self.acquire_until(None).await
    }

    /// [`acquire`](Self::acquire), waiting no later than `deadline` either (a policy's
    /// attempt deadline).
    pub(crate) async fn acquire_until(
        &self,
        deadline: Option<Instant>,
    ) -> Result<ConcurrencyPermit, BulkheadFull> {
        let inner = &*self.inner;
        if let Ok(permit) = inner.semaphore.clone().try_acquire_owned() {
            return Ok(ConcurrencyPermit::new(permit));
        }
        let wait = match deadline {
            Some(deadline) => inner
                .max_wait
                .min(deadline.saturating_duration_since(inner.system.now())),
            None => inner.max_wait,
        };
        if wait.is_zero() {
            return Err(self.reject());
        }
        let _waiting = Waiting::enter(&inner.waiting);
        let mut acquire = pin!(inner.semaphore.clone().acquire_owned());
        let mut expired = pin!(inner.system.sleep(wait));
        let permit = poll_fn(|cx| {
            // The semaphore first: a permit that came at the deadline is taken, not wasted.
            if let Poll::Ready(permit) = acquire.as_mut().poll(cx) {
                // An error means the semaphore was closed, which this limit never does;
                // should it happen, the caller is refused rather than let through.
                return Poll::Ready(permit.ok());
            }
            expired.as_mut().poll(cx).map(|()| None)
        })
        .await;
        match permit {
            Some(permit) => Ok(ConcurrencyPermit::new(permit)),
            None => Err(self.reject()),
        }
    }

    /// The permits in use now.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # use std::time::Duration;
    /// # use snowglobe_runtime::System;
    /// # use snowglobe_runtime::resilience::ConcurrencyLimit;
    /// let system = System::new();
    /// let limit = ConcurrencyLimit::new(&system, "payments", 4, Duration::ZERO).unwrap();
    /// let _permits = [limit.try_acquire().unwrap(), limit.try_acquire().unwrap()];
    /// assert_eq!(limit.in_flight(), 2);
    /// # }
    /// ```
    #[must_use]
    pub fn in_flight(&self) -> usize {
        let inner = &*self.inner;
        inner.max_in_flight - inner.semaphore.available_permits()
    }

    /// The callers waiting for a permit now.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use std::time::Duration;
    /// # use snowglobe_runtime::System;
    /// # use snowglobe_runtime::resilience::ConcurrencyLimit;
    /// let system = System::new();
    /// let limit = ConcurrencyLimit::new(&system, "payments", 1, Duration::from_secs(1)).unwrap();
    /// let held = limit.try_acquire().unwrap();
    /// let waiter = tokio::spawn({
    ///     let limit = limit.clone();
    ///     async move { limit.acquire().await.map(drop) }
    /// });
    /// tokio::task::yield_now().await; // the waiter runs and queues
    /// assert_eq!(limit.waiting(), 1);
    /// drop(held);
    /// waiter.await.unwrap().unwrap();
    /// assert_eq!(limit.waiting(), 0);
    /// # }
    /// ```
    #[must_use]
    pub fn waiting(&self) -> usize {
        self.inner.waiting.load(Ordering::Relaxed)
    }

    /// The calls refused so far, by [`try_acquire`](Self::try_acquire) or
    /// [`acquire`](Self::acquire).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # use std::time::Duration;
    /// # use snowglobe_runtime::System;
    /// # use snowglobe_runtime::resilience::ConcurrencyLimit;
    /// let system = System::new();
    /// let limit = ConcurrencyLimit::new(&system, "payments", 1, Duration::ZERO).unwrap();
    /// let _held = limit.try_acquire().unwrap();
    /// assert!(limit.try_acquire().is_err());
    /// assert_eq!(limit.rejected(), 1);
    /// # }
    /// ```
    #[must_use]
    pub fn rejected(&self) -> u64 {
        self.inner.rejected.load(Ordering::Relaxed)
    }

    fn reject(&self) -> BulkheadFull {
        let inner = &*self.inner;
        inner.rejected.fetch_add(1, Ordering::Relaxed);
        BulkheadFull {
            limit: inner.name.clone(),
            max_in_flight: inner.max_in_flight,
        }
    }
}

/// Counts a caller as waiting while it lives, however the wait ends.
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn enter(count: &'a AtomicUsize) -> Waiting<'a> {
        count.fetch_add(1, Ordering::Relaxed);
        Waiting(count)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl fmt::Debug for ConcurrencyLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConcurrencyLimit")
            .field("name", &self.inner.name)
            .field("max_in_flight", &self.inner.max_in_flight)
            .field("max_wait", &self.inner.max_wait)
            .field("in_flight", &self.in_flight())
            .field("waiting", &self.waiting())
            .field("rejected", &self.rejected())
            .finish()
    }
}
