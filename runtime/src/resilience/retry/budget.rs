//! The retry budget: retries as a share of first attempts, so that a failing service is not
//! hit by every caller's retries on top of its normal load.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use super::error::InvalidBudget;
use crate::System;

/// The budget's memory is this many buckets of `ttl / BUCKETS` each.
const BUCKETS: usize = 10;

/// What one retry costs, in the budget's unit (a thousandth of a retry), so that a ratio
/// like 0.2 is exact: a first attempt deposits 200, a retry withdraws 1000.
const WITHDRAWAL: i64 = 1_000;

/// A budget for the retries towards one target, shared by all its callers (a handle: clones
/// share the budget). Tower's `TpsBudget` semantics: every first attempt
/// [`deposit`](Self::deposit)s, every retry [`withdraw`](Self::withdraw)s, and within any
/// `ttl` the retries allowed are
///
/// ```text
/// min_per_second * ttl + retry_ratio * (first attempts within ttl)
/// ```
///
/// Deposits and withdrawals are forgotten after `ttl`, at a resolution of `ttl / 10`: one made
/// in the tenth of `ttl` that starts at `k * ttl / 10` (on the system's clock) counts until
/// `(k + 10) * ttl / 10`. `min_per_second` lets a caller with few calls still retry;
/// `retry_ratio` (0.2: one retry per five calls) bounds the extra load that retries put on
/// a failing target.
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// use std::time::Duration;
/// use snowglobe_runtime::System;
/// use snowglobe_runtime::resilience::RetryBudget;
///
/// let system = System::new();
/// // 1 retry per second over 10 s, plus one retry per five first attempts
/// let budget = RetryBudget::new(&system, Duration::from_secs(10), 1, 0.2).unwrap();
/// for _ in 0..100 {
///     budget.deposit();
/// }
/// let retries = (0..1_000).filter(|_| budget.withdraw()).count();
/// assert_eq!(retries, 10 + 20);
///
/// // after ttl, the spent retries and the deposits are forgotten: the reserve is back
/// tokio::time::advance(Duration::from_secs(10)).await;
/// assert_eq!(budget.available(), 10);
/// # }
/// ```
#[derive(Clone)]
pub struct RetryBudget {
    inner: Arc<Inner>,
}

struct Inner {
    system: System,
    ttl: Duration,
    min_per_second: u32,
    retry_ratio: f32,
    bucket_nanos: u64,
    /// `min_per_second * ttl` retries, always there.
    reserve: i64,
    /// What a first attempt deposits: `retry_ratio` retries.
    deposit: i64,
    ring: Mutex<Ring>,
}

/// The last `BUCKETS` buckets' net deposits; `newest` is the number (time / bucket width) of
/// the newest, which lives at `buckets[newest % BUCKETS]`.
struct Ring {
    newest: u64,
    buckets: [i64; BUCKETS],
}

impl RetryBudget {
    /// A budget that allows `min_per_second * ttl` retries in any `ttl`, plus `retry_ratio`
    /// retries per first attempt in that `ttl`, on `system`'s clock. The ratio counts in
    /// thousandths of a retry: one below 0.0005 allows no retry beyond the minimum.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use std::time::Duration;
    /// use snowglobe_runtime::System;
    /// use snowglobe_runtime::resilience::{InvalidBudget, RetryBudget};
    ///
    /// let system = System::new();
    /// let budget = RetryBudget::new(&system, Duration::from_secs(10), 10, 0.2).unwrap();
    /// assert_eq!(budget.available(), 100);
    ///
    /// let error = RetryBudget::new(&system, Duration::from_millis(10), 10, 0.2).unwrap_err();
    /// assert_eq!(error, InvalidBudget::Ttl(Duration::from_millis(10)));
    /// assert_eq!(error.to_string(), "retry budget ttl 10ms is not within 1s..=60s");
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`InvalidBudget`] if `ttl` is not within 1 s to 60 s, or `retry_ratio` not within
    /// 0 to 1000 (tower's and Finagle's bounds).
    pub fn new(
        system: &System,
        ttl: Duration,
        min_per_second: u32,
        retry_ratio: f32,
    ) -> Result<RetryBudget, InvalidBudget> {
        if !(Duration::from_secs(1)..=Duration::from_secs(60)).contains(&ttl) {
            return Err(InvalidBudget::Ttl(ttl));
        }
        if !(0.0..=1000.0).contains(&retry_ratio) {
            return Err(InvalidBudget::RetryRatio(retry_ratio));
        }
        let ttl_nanos = ttl.as_nanos();
        // Within range: ttl is at most 6e10 ns, so the reserve is below 2^48 thousandths.
        let reserve = u128::from(min_per_second) * ttl_nanos / 1_000_000;
        let reserve = i64::try_from(reserve).unwrap_or(i64::MAX);
        // Within range: the ratio is at most 1000, the deposit at most 1e6 thousandths.
        #[allow(clippy::cast_possible_truncation)]
        let deposit = (f64::from(retry_ratio) * 1_000.0).round() as i64;
        let bucket_nanos = u64::try_from(ttl_nanos / BUCKETS as u128).unwrap_or(u64::MAX);
        Ok(RetryBudget {
            inner: Arc::new(Inner {
                ring: Mutex::new(Ring {
                    newest: system.now().as_nanos() / bucket_nanos,
                    buckets: [0; BUCKETS],
                }),
                system: system.clone(),
                ttl,
                min_per_second,
                retry_ratio,
                bucket_nanos,
                reserve,
                deposit,
            }),
        })
    }

    /// Records a first attempt: it adds `retry_ratio` retries to the budget for `ttl`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # use std::time::Duration;
    /// # use snowglobe_runtime::System;
    /// # use snowglobe_runtime::resilience::RetryBudget;
    /// let system = System::new();
    /// let budget = RetryBudget::new(&system, Duration::from_secs(1), 0, 0.5).unwrap();
    /// assert_eq!(budget.available(), 0);
    /// budget.deposit();
    /// budget.deposit();
    /// assert_eq!(budget.available(), 1);
    /// # }
    /// ```
    pub fn deposit(&self) {
        self.inner
            .with_current_bucket(|bucket, _| *bucket += self.inner.deposit);
    }

    /// Takes one retry from the budget: `true` if there was one (retry), `false` if the
    /// budget is exhausted (do not retry; nothing was taken).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # use std::time::Duration;
    /// # use snowglobe_runtime::System;
    /// # use snowglobe_runtime::resilience::RetryBudget;
    /// let system = System::new();
    /// let budget = RetryBudget::new(&system, Duration::from_secs(2), 1, 0.0).unwrap();
    /// assert!(budget.withdraw());
    /// assert!(budget.withdraw());
    /// assert!(!budget.withdraw());
    /// # }
    /// ```
    #[must_use = "`false` means the budget forbids the retry"]
    pub fn withdraw(&self) -> bool {
        self.inner.with_current_bucket(|bucket, balance| {
            let allowed = balance >= WITHDRAWAL;
            if allowed {
                *bucket -= WITHDRAWAL;
            }
            allowed
        })
    }

    /// How many retries [`withdraw`](Self::withdraw) would allow now.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # use std::time::Duration;
    /// # use snowglobe_runtime::System;
    /// # use snowglobe_runtime::resilience::RetryBudget;
    /// let system = System::new();
    /// let budget = RetryBudget::new(&system, Duration::from_secs(5), 2, 1.0).unwrap();
    /// budget.deposit();
    /// assert_eq!(budget.available(), 11);
    /// # }
    /// ```
    #[must_use]
    pub fn available(&self) -> u64 {
        let balance = self.inner.with_current_bucket(|_, balance| balance);
        u64::try_from(balance / WITHDRAWAL).unwrap_or(0)
    }
}

impl Inner {
    /// Forgets the buckets older than `ttl`, then runs `op` on the current bucket and the
    /// balance (the reserve plus every bucket still remembered).
    fn with_current_bucket<R>(&self, op: impl FnOnce(&mut i64, i64) -> R) -> R {
        let now = self.system.now().as_nanos() / self.bucket_nanos;
        let mut guard = self.ring.lock();
        let ring = &mut *guard;
        if now > ring.newest {
            let expired = (now - ring.newest).min(BUCKETS as u64);
            for k in 1..=expired {
                ring.buckets[index(ring.newest + k)] = 0;
            }
            ring.newest = now;
        }
        let balance = ring
            .buckets
            .iter()
            .fold(self.reserve, |sum, bucket| sum.saturating_add(*bucket));
        let current = index(ring.newest);
        op(&mut ring.buckets[current], balance)
    }
}

fn index(bucket: u64) -> usize {
    // The remainder is below BUCKETS, so it fits any usize.
    #[allow(clippy::cast_possible_truncation)]
    let index = (bucket % BUCKETS as u64) as usize;
    index
}

impl fmt::Debug for RetryBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &*self.inner;
        f.debug_struct("RetryBudget")
            .field("ttl", &inner.ttl)
            .field("min_per_second", &inner.min_per_second)
            .field("retry_ratio", &inner.retry_ratio)
            .field("available", &self.available())
            .finish()
    }
}
