//! A breaker's settings, with resilience4j's defaults, and their check.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::error::BreakerConfigError;
use crate::resilience::FailureKind;

/// What a closed breaker judges its failure and slow-call rates on.
///
/// ```
/// use std::time::Duration;
/// use snowglobe_runtime::resilience::{CircuitBreakerConfig, SlidingWindow};
///
/// // the last 20 calls
/// let by_count = CircuitBreakerConfig::new("search").sliding_window(SlidingWindow::Count(20));
/// // the calls of the last 30 seconds
/// let by_time = CircuitBreakerConfig::new("search")
///     .sliding_window(SlidingWindow::Time(Duration::from_secs(30)));
/// # let _ = (by_count, by_time);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlidingWindow {
    /// The last `n` calls (at least 1).
    Count(u32),
    /// The calls of the last `span` (more than zero), in buckets of one second as in
    /// resilience4j: the window holds the current bucket and the ones before it, as many
    /// buckets as cover the span (rounded up), so its history is up to one bucket shorter
    /// than that: `Time(1500 ms)` has two buckets, 1 to 2 s of history. A span under a second
    /// has ten buckets; one over ten minutes has 600 wider ones.
    Time(Duration),
}

/// How a recorded call's [`FailureKind`] counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Verdict {
    Failure,
    Success,
    Ignored,
}

type Predicate = Arc<dyn Fn(FailureKind) -> bool + Send + Sync>;

/// The settings of one [`CircuitBreaker`](super::CircuitBreaker), builder-style.
///
/// The defaults are resilience4j's:
///
/// | setting | default |
/// |---|---|
/// | [`failure_rate_threshold`](Self::failure_rate_threshold) | 50 % |
/// | [`slow_call_rate_threshold`](Self::slow_call_rate_threshold) | 100 % |
/// | [`slow_call_duration`](Self::slow_call_duration) | 60 s |
/// | [`sliding_window`](Self::sliding_window) | the last 100 calls |
/// | [`minimum_calls`](Self::minimum_calls) | 100 |
/// | [`wait_in_open`](Self::wait_in_open) | 60 s, no backoff |
/// | [`permitted_calls_in_half_open`](Self::permitted_calls_in_half_open) | 10 |
/// | [`max_wait_in_half_open`](Self::max_wait_in_half_open) | none: half-open waits for its trials |
/// | [`record_failure_if`](Self::record_failure_if) | every kind is a failure |
/// | [`ignore_if`](Self::ignore_if) | no kind is ignored |
///
/// The settings are checked when the breaker is made ([`validate`](Self::validate)).
///
/// ```
/// use std::time::Duration;
/// use snowglobe_runtime::resilience::{CircuitBreakerConfig, FailureKind, SlidingWindow};
///
/// let config = CircuitBreakerConfig::new("payments")
///     .failure_rate_threshold(25.0)
///     .slow_call_duration(Duration::from_secs(2))
///     .slow_call_rate_threshold(80.0)
///     .sliding_window(SlidingWindow::Time(Duration::from_secs(10)))
///     .minimum_calls(20)
///     .wait_in_open(Duration::from_secs(5))
///     .open_backoff(2.0, Duration::from_secs(300))
///     .permitted_calls_in_half_open(3)
///     .max_wait_in_half_open(Some(Duration::from_secs(30)))
///     .ignore_if(|kind| kind == FailureKind::Full);
/// assert!(config.validate().is_ok());
/// assert_eq!(config.name(), "payments");
/// ```
#[derive(Clone)]
#[must_use = "a config does nothing until a breaker is made with it"]
pub struct CircuitBreakerConfig {
    pub(super) name: Arc<str>,
    pub(super) failure_rate_threshold: f64,
    pub(super) slow_call_rate_threshold: f64,
    pub(super) slow_call_duration: Duration,
    pub(super) sliding_window: SlidingWindow,
    pub(super) minimum_calls: u32,
    pub(super) wait_in_open: Duration,
    /// The multiplier and the longest wait.
    pub(super) open_backoff: Option<(f64, Duration)>,
    pub(super) permitted_calls_in_half_open: u32,
    pub(super) max_wait_in_half_open: Option<Duration>,
    /// `None`: every kind is a failure.
    record_failure: Option<Predicate>,
    /// `None`: no kind is ignored.
    ignore: Option<Predicate>,
}

impl CircuitBreakerConfig {
    /// The defaults (see the table above) for a breaker named `name`; the name appears in its
    /// rejections, its events and its logs.
    ///
    /// ```
    /// use snowglobe_runtime::resilience::CircuitBreakerConfig;
    ///
    /// assert_eq!(CircuitBreakerConfig::new("inventory").name(), "inventory");
    /// ```
    pub fn new(name: impl Into<Arc<str>>) -> CircuitBreakerConfig {
        CircuitBreakerConfig {
            name: name.into(),
            failure_rate_threshold: 50.0,
            slow_call_rate_threshold: 100.0,
            slow_call_duration: Duration::from_secs(60),
            sliding_window: SlidingWindow::Count(100),
            minimum_calls: 100,
            wait_in_open: Duration::from_secs(60),
            open_backoff: None,
            permitted_calls_in_half_open: 10,
            max_wait_in_half_open: None,
            record_failure: None,
            ignore: None,
        }
    }

    /// The breaker's name.
    ///
    /// ```
    /// # use snowglobe_runtime::resilience::CircuitBreakerConfig;
    /// assert_eq!(CircuitBreakerConfig::new("a").name(), "a");
    /// ```
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The failure rate, in percent (more than 0, at most 100), at or above which the breaker
    /// opens: in closed once the window holds the minimum number of calls, in half-open once
    /// the trial calls are done.
    ///
    /// ```
    /// # use snowglobe_runtime::resilience::CircuitBreakerConfig;
    /// let config = CircuitBreakerConfig::new("a").failure_rate_threshold(100.0); // only when all fail
    /// # assert!(config.validate().is_ok());
    /// ```
    pub fn failure_rate_threshold(mut self, percent: f64) -> CircuitBreakerConfig {
        self.failure_rate_threshold = percent;
        self
    }

    /// The rate of slow calls (successful or failed), in percent (more than 0, at most 100),
    /// at or above which the breaker opens.
    ///
    /// ```
    /// # use snowglobe_runtime::resilience::CircuitBreakerConfig;
    /// let config = CircuitBreakerConfig::new("a").slow_call_rate_threshold(50.0);
    /// # assert!(config.validate().is_ok());
    /// ```
    pub fn slow_call_rate_threshold(mut self, percent: f64) -> CircuitBreakerConfig {
        self.slow_call_rate_threshold = percent;
        self
    }

    /// A call that takes longer than `duration`, from [`try_acquire`] to its outcome on the
    /// system's clock, is slow.
    ///
    /// [`try_acquire`]: super::CircuitBreaker::try_acquire
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use snowglobe_runtime::resilience::CircuitBreakerConfig;
    /// let config = CircuitBreakerConfig::new("a").slow_call_duration(Duration::from_millis(250));
    /// # assert!(config.validate().is_ok());
    /// ```
    pub fn slow_call_duration(mut self, duration: Duration) -> CircuitBreakerConfig {
        self.slow_call_duration = duration;
        self
    }

    /// The window a closed breaker records calls in. See [`SlidingWindow`].
    ///
    /// ```
    /// # use snowglobe_runtime::resilience::{CircuitBreakerConfig, SlidingWindow};
    /// let config = CircuitBreakerConfig::new("a").sliding_window(SlidingWindow::Count(10));
    /// # assert!(config.validate().is_ok());
    /// ```
    pub fn sliding_window(mut self, window: SlidingWindow) -> CircuitBreakerConfig {
        self.sliding_window = window;
        self
    }

    /// How many calls the window must hold before a closed breaker judges its rates (at
    /// least 1). With a count window of fewer calls, the window's size is the minimum, as in
    /// resilience4j.
    ///
    /// ```
    /// # use snowglobe_runtime::resilience::CircuitBreakerConfig;
    /// let config = CircuitBreakerConfig::new("a").minimum_calls(10);
    /// # assert!(config.validate().is_ok());
    /// ```
    pub fn minimum_calls(mut self, calls: u32) -> CircuitBreakerConfig {
        self.minimum_calls = calls;
        self
    }

    /// How long an open breaker rejects calls before it lets trial calls through
    /// (half-open). The change happens on the first look at the breaker after the wait
    /// ([`try_acquire`](super::CircuitBreaker::try_acquire), [`state`], [`metrics`]): no timer
    /// runs.
    ///
    /// [`state`]: super::CircuitBreaker::state
    /// [`metrics`]: super::CircuitBreaker::metrics
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use snowglobe_runtime::resilience::CircuitBreakerConfig;
    /// let config = CircuitBreakerConfig::new("a").wait_in_open(Duration::from_secs(10));
    /// # assert!(config.validate().is_ok());
    /// ```
    pub fn wait_in_open(mut self, wait: Duration) -> CircuitBreakerConfig {
        self.wait_in_open = wait;
        self
    }

    /// Each time the breaker opens again without having closed in between, its wait in open
    /// is `multiplier` (at least 1) times longer, up to `max` (at least the wait in open):
    /// the n-th opening in a row waits `wait_in_open * multiplier^(n-1)`.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use snowglobe_runtime::resilience::CircuitBreakerConfig;
    /// // 1 s, 2 s, 4 s, ... then 60 s until it closes
    /// let config = CircuitBreakerConfig::new("a")
    ///     .wait_in_open(Duration::from_secs(1))
    ///     .open_backoff(2.0, Duration::from_secs(60));
    /// # assert!(config.validate().is_ok());
    /// ```
    pub fn open_backoff(mut self, multiplier: f64, max: Duration) -> CircuitBreakerConfig {
        self.open_backoff = Some((multiplier, max));
        self
    }

    /// How many trial calls (at least 1) a half-open breaker lets through; once they are all
    /// done their rates close or reopen it. A trial call that is ignored, or whose permit is
    /// dropped, frees its place for another.
    ///
    /// ```
    /// # use snowglobe_runtime::resilience::CircuitBreakerConfig;
    /// let config = CircuitBreakerConfig::new("a").permitted_calls_in_half_open(3);
    /// # assert!(config.validate().is_ok());
    /// ```
    pub fn permitted_calls_in_half_open(mut self, calls: u32) -> CircuitBreakerConfig {
        self.permitted_calls_in_half_open = calls;
        self
    }

    /// With `Some(wait)` (more than zero), a breaker that has been half-open that long
    /// without its trial calls done opens again (on the next look at it). With `None`, the
    /// default, it waits for its trials however long they take.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use snowglobe_runtime::resilience::CircuitBreakerConfig;
    /// let config = CircuitBreakerConfig::new("a").max_wait_in_half_open(Some(Duration::from_secs(30)));
    /// # assert!(config.validate().is_ok());
    /// ```
    pub fn max_wait_in_half_open(mut self, wait: Option<Duration>) -> CircuitBreakerConfig {
        self.max_wait_in_half_open = wait;
        self
    }

    /// Which kinds passed to [`BreakerPermit::failure`](super::BreakerPermit::failure) count
    /// as failures; the others count as successes. By default every kind is a failure.
    ///
    /// ```
    /// # use snowglobe_runtime::resilience::{CircuitBreakerConfig, FailureKind};
    /// // a full mailbox is the caller's problem, not the service's
    /// let config = CircuitBreakerConfig::new("a").record_failure_if(|kind| kind != FailureKind::Full);
    /// # assert!(config.validate().is_ok());
    /// ```
    pub fn record_failure_if(
        mut self,
        predicate: impl Fn(FailureKind) -> bool + Send + Sync + 'static,
    ) -> CircuitBreakerConfig {
        self.record_failure = Some(Arc::new(predicate));
        self
    }

    /// Which kinds passed to [`BreakerPermit::failure`](super::BreakerPermit::failure) do not
    /// count at all, as if the call had not been made (checked before
    /// [`record_failure_if`](Self::record_failure_if)). By default none.
    ///
    /// ```
    /// # use snowglobe_runtime::resilience::{CircuitBreakerConfig, FailureKind};
    /// let config = CircuitBreakerConfig::new("a").ignore_if(|kind| kind == FailureKind::RateLimited);
    /// # assert!(config.validate().is_ok());
    /// ```
    pub fn ignore_if(
        mut self,
        predicate: impl Fn(FailureKind) -> bool + Send + Sync + 'static,
    ) -> CircuitBreakerConfig {
        self.ignore = Some(Arc::new(predicate));
        self
    }

    /// Checks the settings; [`CircuitBreaker::new`](super::CircuitBreaker::new) does it too.
    ///
    /// ```
    /// use snowglobe_runtime::resilience::{BreakerConfigError, CircuitBreakerConfig};
    ///
    /// let error = CircuitBreakerConfig::new("a").failure_rate_threshold(0.0).validate();
    /// assert!(matches!(error, Err(BreakerConfigError::FailureRateThreshold { .. })));
    /// ```
    ///
    /// # Errors
    ///
    /// A [`BreakerConfigError`] naming the first setting out of its range.
    pub fn validate(&self) -> Result<(), BreakerConfigError> {
        let breaker = self.name.clone();
        // `!(0 < x <= 100)` rather than its negation, so that NaN fails too.
        let percent = |value: f64| value > 0.0 && value <= 100.0;
        if !percent(self.failure_rate_threshold) {
            return Err(BreakerConfigError::FailureRateThreshold {
                breaker,
                value: self.failure_rate_threshold,
            });
        }
        if !percent(self.slow_call_rate_threshold) {
            return Err(BreakerConfigError::SlowCallRateThreshold {
                breaker,
                value: self.slow_call_rate_threshold,
            });
        }
        if matches!(
            self.sliding_window,
            SlidingWindow::Count(0) | SlidingWindow::Time(Duration::ZERO)
        ) {
            return Err(BreakerConfigError::EmptyWindow { breaker });
        }
        if self.minimum_calls == 0 {
            return Err(BreakerConfigError::ZeroMinimumCalls { breaker });
        }
        if self.permitted_calls_in_half_open == 0 {
            return Err(BreakerConfigError::ZeroPermittedCalls { breaker });
        }
        if self.max_wait_in_half_open == Some(Duration::ZERO) {
            return Err(BreakerConfigError::ZeroMaxWaitInHalfOpen { breaker });
        }
        if let Some((multiplier, max)) = self.open_backoff {
            if !(multiplier >= 1.0 && multiplier.is_finite()) {
                return Err(BreakerConfigError::BackoffMultiplier {
                    breaker,
                    multiplier,
                });
            }
            if max < self.wait_in_open {
                return Err(BreakerConfigError::BackoffMax {
                    breaker,
                    max,
                    wait: self.wait_in_open,
                });
            }
        }
        Ok(())
    }

    /// How a call that ended with `kind` counts.
    pub(super) fn verdict(&self, kind: FailureKind) -> Verdict {
        if self.ignore.as_ref().is_some_and(|ignore| ignore(kind)) {
            Verdict::Ignored
        } else if self
            .record_failure
            .as_ref()
            .is_none_or(|record| record(kind))
        {
            Verdict::Failure
        } else {
            Verdict::Success
        }
    }

    /// The minimum number of calls a closed breaker judges on.
    pub(super) fn closed_minimum(&self) -> u64 {
        match self.sliding_window {
            SlidingWindow::Count(size) => u64::from(self.minimum_calls.min(size)),
            SlidingWindow::Time(_) => u64::from(self.minimum_calls),
        }
    }

    /// The wait of the `opening`-th opening in a row (the first is 1).
    pub(super) fn wait_for(&self, opening: u32) -> Duration {
        let Some((multiplier, max)) = self.open_backoff else {
            return self.wait_in_open;
        };
        let exponent = i32::try_from(opening.saturating_sub(1)).unwrap_or(i32::MAX);
        let seconds = self.wait_in_open.as_secs_f64() * multiplier.powi(exponent);
        // Overflow (an infinite product) is past any `max`.
        Duration::try_from_secs_f64(seconds).map_or(max, |wait| wait.min(max))
    }
}

impl fmt::Debug for CircuitBreakerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreakerConfig")
            .field("name", &self.name)
            .field("failure_rate_threshold", &self.failure_rate_threshold)
            .field("slow_call_rate_threshold", &self.slow_call_rate_threshold)
            .field("slow_call_duration", &self.slow_call_duration)
            .field("sliding_window", &self.sliding_window)
            .field("minimum_calls", &self.minimum_calls)
            .field("wait_in_open", &self.wait_in_open)
            .field("open_backoff", &self.open_backoff)
            .field(
                "permitted_calls_in_half_open",
                &self.permitted_calls_in_half_open,
            )
            .field("max_wait_in_half_open", &self.max_wait_in_half_open)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_its_max() {
        let config = CircuitBreakerConfig::new("a")
            .wait_in_open(Duration::from_secs(1))
            .open_backoff(3.0, Duration::from_secs(20));
        let waits: Vec<u64> = (1..=5).map(|n| config.wait_for(n).as_secs()).collect();
        assert_eq!(waits, [1, 3, 9, 20, 20]);
        assert_eq!(config.wait_for(u32::MAX), Duration::from_secs(20));
    }

    #[test]
    fn nan_thresholds_are_refused() {
        let config = CircuitBreakerConfig::new("a").slow_call_rate_threshold(f64::NAN);
        assert!(matches!(
            config.validate(),
            Err(BreakerConfigError::SlowCallRateThreshold { .. })
        ));
        let config = CircuitBreakerConfig::new("a").open_backoff(f64::NAN, Duration::MAX);
        assert!(matches!(
            config.validate(),
            Err(BreakerConfigError::BackoffMultiplier { .. })
        ));
    }
}
