//! Retries: which failures to retry, how long to wait before each retry (`backoff.rs`), and
//! how many retries a target can take from all its callers together (`budget.rs`).

mod backoff;
mod budget;
mod error;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

pub use backoff::Jitter;
pub use budget::RetryBudget;
pub use error::InvalidBudget;

use crate::resilience::FailureKind;

/// A retry policy: how many attempts, which failures to retry, the backoff between attempts
/// and an optional [`RetryBudget`] shared with other callers of the same target.
///
/// `Retry` is configuration: it holds no state of its own (the budget it may hold is shared),
/// reads no clock and draws no random number. Whoever runs the attempts (the resilience
/// `Policy` around an ask, or a loop of your own) asks it
/// [`should_retry`](Self::should_retry) and [`delay`](Self::delay), feeding it the system's
/// random numbers, and sleeps on the system's clock.
///
/// The defaults: retry the [transient](FailureKind::is_transient) failures, with no delay
/// (until [`backoff`](Self::backoff) sets one) and [`Jitter::Full`] once there is one, and no
/// budget.
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// use std::time::Duration;
/// use snowglobe_runtime::System;
/// use snowglobe_runtime::resilience::{FailureKind, Jitter, Retry};
///
/// let system = System::new();
/// let retry = Retry::new(4)
///     .backoff(Duration::from_millis(100), Duration::from_secs(2))
///     .jitter(Jitter::None);
///
/// // a loop that fails with a timeout every time
/// let (mut attempts, mut previous) = (0, Duration::ZERO);
/// let start = system.now();
/// loop {
///     attempts += 1;
///     let failure = FailureKind::Timeout;
///     if attempts >= retry.max_attempts() || !retry.should_retry(failure) {
///         break;
///     }
///     previous = retry.delay(attempts, previous, system.random_u64());
///     system.sleep(previous).await;
/// }
/// assert_eq!(attempts, 4);
/// // 100 ms + 200 ms + 400 ms of backoff
/// assert_eq!(system.now() - start, Duration::from_millis(700));
/// # }
/// ```
#[derive(Clone)]
pub struct Retry {
    max_attempts: u32,
    base: Duration,
    max: Duration,
    jitter: Jitter,
    /// `None`: [`FailureKind::is_transient`], without a call through a pointer.
    retry_on: Option<Arc<dyn Fn(FailureKind) -> bool + Send + Sync>>,
    budget: Option<RetryBudget>,
}

impl Retry {
    /// At most `max_attempts` attempts, the first one included: `3` is a call and two
    /// retries. `0` and `1` both mean no retry.
    ///
    /// ```
    /// use snowglobe_runtime::resilience::Retry;
    ///
    /// assert_eq!(Retry::new(3).max_attempts(), 3);
    /// assert_eq!(Retry::new(0).max_attempts(), 0); // a single attempt, like 1
    /// ```
    #[must_use]
    pub fn new(max_attempts: u32) -> Retry {
        Retry {
            max_attempts,
            base: Duration::ZERO,
            max: Duration::ZERO,
            jitter: Jitter::default(),
            retry_on: None,
            budget: None,
        }
    }

    /// Exponential backoff: before retry number `n` (1 = the first retry), wait
    /// `min(max, base * 2^(n - 1))`, then apply the [`Jitter`]. A `max` below `base` caps
    /// every delay at `max`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use snowglobe_runtime::resilience::{Jitter, Retry};
    ///
    /// let ms = Duration::from_millis;
    /// let retry = Retry::new(10).backoff(ms(50), ms(300)).jitter(Jitter::None);
    /// let delays: Vec<_> = (1..=5).map(|n| retry.delay(n, Duration::ZERO, 0)).collect();
    /// assert_eq!(delays, [ms(50), ms(100), ms(200), ms(300), ms(300)]);
    /// ```
    #[must_use]
    pub fn backoff(mut self, base: Duration, max: Duration) -> Retry {
        self.base = base;
        self.max = max;
        self
    }

    /// How the delays are spread; [`Jitter::Full`] unless set.
    ///
    /// ```
    /// use std::time::Duration;
    /// use snowglobe_runtime::resilience::{Jitter, Retry};
    ///
    /// let ms = Duration::from_millis;
    /// let retry = Retry::new(3).backoff(ms(100), ms(1_000)).jitter(Jitter::Equal);
    /// assert_eq!(retry.delay(1, Duration::ZERO, 0), ms(50));
    /// ```
    #[must_use]
    pub fn jitter(mut self, jitter: Jitter) -> Retry {
        self.jitter = jitter;
        self
    }

    /// Takes every retry from `budget` ([`RetryBudget::withdraw`]); whoever runs the attempts
    /// deposits each first attempt ([`RetryBudget::deposit`]).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use std::time::Duration;
    /// use snowglobe_runtime::System;
    /// use snowglobe_runtime::resilience::{Retry, RetryBudget};
    ///
    /// let system = System::new();
    /// let budget = RetryBudget::new(&system, Duration::from_secs(10), 1, 0.1).unwrap();
    /// let retry = Retry::new(3).budget(budget);
    /// assert_eq!(retry.budget_ref().map(|b| b.available()), Some(10));
    /// # }
    /// ```
    #[must_use]
    pub fn budget(mut self, budget: RetryBudget) -> Retry {
        self.budget = Some(budget);
        self
    }

    /// Retries the failures for which `f` is true, instead of the
    /// [transient](FailureKind::is_transient) ones.
    ///
    /// ```
    /// use snowglobe_runtime::resilience::{FailureKind, Retry};
    ///
    /// let retry = Retry::new(3).retry_on(|kind| kind == FailureKind::Application);
    /// assert!(retry.should_retry(FailureKind::Application));
    /// assert!(!retry.should_retry(FailureKind::Timeout));
    /// ```
    #[must_use]
    pub fn retry_on(mut self, f: impl Fn(FailureKind) -> bool + Send + Sync + 'static) -> Retry {
        self.retry_on = Some(Arc::new(f));
        self
    }

    /// The most attempts a call makes, the first one included (`0` and `1`: no retry).
    ///
    /// ```
    /// use snowglobe_runtime::resilience::Retry;
    ///
    /// assert_eq!(Retry::new(5).max_attempts(), 5);
    /// ```
    #[must_use]
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// Whether a failure of this kind is worth a retry. The predicate only: the attempt count
    /// and the budget are the caller's to check.
    ///
    /// ```
    /// use snowglobe_runtime::resilience::{FailureKind, Retry};
    ///
    /// let retry = Retry::new(3);
    /// assert!(retry.should_retry(FailureKind::Timeout));
    /// assert!(!retry.should_retry(FailureKind::Panicked));
    /// ```
    #[must_use]
    pub fn should_retry(&self, kind: FailureKind) -> bool {
        match &self.retry_on {
            Some(f) => f(kind),
            None => kind.is_transient(),
        }
    }

    /// The delay before retry number `retry` (1 = the first retry; 0 counts as 1), given the
    /// delay before the previous retry (`Duration::ZERO` before the first; only
    /// [`Jitter::Decorrelated`] uses it) and a random number (from
    /// [`System::random_u64`](crate::System::random_u64)): `0` picks the shortest delay
    /// the jitter allows, `u64::MAX` the longest. Zero without a [`backoff`](Self::backoff).
    ///
    /// ```
    /// use std::time::Duration;
    /// use snowglobe_runtime::resilience::{Jitter, Retry};
    ///
    /// let ms = Duration::from_millis;
    /// let retry = Retry::new(5).backoff(ms(100), ms(1_000)).jitter(Jitter::Full);
    /// assert_eq!(retry.delay(4, Duration::ZERO, u64::MAX), ms(800));
    /// assert_eq!(retry.delay(4, Duration::ZERO, u64::MAX / 2), ms(400));
    /// assert_eq!(Retry::new(5).delay(4, Duration::ZERO, u64::MAX), Duration::ZERO);
    /// ```
    #[must_use]
    pub fn delay(&self, retry: u32, previous: Duration, random: u64) -> Duration {
        backoff::delay(self.jitter, self.base, self.max, retry, previous, random)
    }

    /// The budget set with [`budget`](Self::budget), if any.
    ///
    /// ```
    /// use snowglobe_runtime::resilience::Retry;
    ///
    /// assert!(Retry::new(3).budget_ref().is_none());
    /// ```
    #[must_use]
    pub fn budget_ref(&self) -> Option<&RetryBudget> {
        self.budget.as_ref()
    }
}

impl fmt::Debug for Retry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Retry")
            .field("max_attempts", &self.max_attempts)
            .field("base", &self.base)
            .field("max", &self.max)
            .field("jitter", &self.jitter)
            .field(
                "retry_on",
                &if self.retry_on.is_some() {
                    "custom"
                } else {
                    "transient"
                },
            )
            .field("budget", &self.budget)
            .finish()
    }
}
