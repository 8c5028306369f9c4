//! The sliding windows a closed breaker records calls in: the last N calls, or the calls of
//! the last N seconds (in buckets, like resilience4j).

use std::time::Duration;

use super::config::SlidingWindow;
use crate::Instant;

/// One recorded call, as the windows count it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Outcome {
    pub(super) failed: bool,
    pub(super) slow: bool,
}

impl Outcome {
    const FAILED: u8 = 1;
    const SLOW: u8 = 2;

    fn code(self) -> u8 {
        (u8::from(self.failed) * Outcome::FAILED) | (u8::from(self.slow) * Outcome::SLOW)
    }

    fn from_code(code: u8) -> Outcome {
        Outcome {
            failed: code & Outcome::FAILED != 0,
            slow: code & Outcome::SLOW != 0,
        }
    }
}

/// Counts of recorded calls.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Totals {
    pub(super) calls: u64,
    pub(super) failed: u64,
    pub(super) slow: u64,
    pub(super) slow_failed: u64,
}

impl Totals {
    pub(super) fn add(&mut self, outcome: Outcome) {
        self.calls += 1;
        self.failed += u64::from(outcome.failed);
        self.slow += u64::from(outcome.slow);
        self.slow_failed += u64::from(outcome.failed && outcome.slow);
    }

    fn remove(&mut self, outcome: Outcome) {
        let mut one = Totals::default();
        one.add(outcome);
        self.subtract(one);
    }

    fn subtract(&mut self, other: Totals) {
        // A window removes only what it added: the counts cannot go below zero.
        self.calls -= other.calls;
        self.failed -= other.failed;
        self.slow -= other.slow;
        self.slow_failed -= other.slow_failed;
    }

    /// Percentage of failed calls; `None` below `minimum` calls (and with no calls).
    pub(super) fn failure_rate(&self, minimum: u64) -> Option<f64> {
        self.rate(self.failed, minimum)
    }

    /// Percentage of slow calls (failed or not); `None` below `minimum` calls.
    pub(super) fn slow_call_rate(&self, minimum: u64) -> Option<f64> {
        self.rate(self.slow, minimum)
    }

    #[allow(clippy::cast_precision_loss)] // a percentage: 2^53 calls are far away
    fn rate(&self, count: u64, minimum: u64) -> Option<f64> {
        (self.calls > 0 && self.calls >= minimum).then(|| count as f64 * 100.0 / self.calls as f64)
    }
}

/// A closed breaker's record of recent calls.
#[derive(Debug)]
pub(super) enum Window {
    Count(CountWindow),
    Time(TimeWindow),
}

impl Window {
    pub(super) fn new(kind: SlidingWindow) -> Window {
        match kind {
            SlidingWindow::Count(size) => Window::Count(CountWindow::new(size)),
            SlidingWindow::Time(span) => Window::Time(TimeWindow::new(span)),
        }
    }

    pub(super) fn record(&mut self, now: Instant, outcome: Outcome) {
        match self {
            Window::Count(window) => window.record(outcome),
            Window::Time(window) => window.record(now, outcome),
        }
    }

    /// Records `calls` good calls at `now`, as that many [`record`](Window::record)s do; in
    /// a few instructions when a full count window holds only good calls (a settled
    /// breaker's usual state, in which good calls are deferred in batches).
    pub(super) fn record_good(&mut self, now: Instant, calls: u64) {
        let good = Outcome {
            failed: false,
            slow: false,
        };
        match self {
            Window::Count(window) if window.only_good() => window.skip(calls),
            _ => {
                for _ in 0..calls {
                    self.record(now, good);
                }
            }
        }
    }

    /// The calls in the window at `now`: a time window first lets the old buckets go.
    pub(super) fn totals(&mut self, now: Instant) -> Totals {
        match self {
            Window::Count(window) => window.totals,
            Window::Time(window) => {
                window.advance(now);
                window.totals
            }
        }
    }

    /// Whether a count window holds every outcome it weighs: then rates can only rise with
    /// a failed or slow call (a good one replaces another outcome with a good one).
    pub(super) fn is_full_count(&self) -> bool {
        matches!(self, Window::Count(window) if window.ring.len() == window.size)
    }

    pub(super) fn reset(&mut self) {
        match self {
            Window::Count(window) => window.reset(),
            Window::Time(window) => window.reset(),
        }
    }
}

/// The outcomes of the last `size` calls, in a ring.
#[derive(Debug)]
pub(super) struct CountWindow {
    /// Grows to `size` as the first calls arrive (a large window costs memory only once it
    /// is used), then is overwritten in place: no allocation per call after that.
    ring: Vec<u8>,
    size: usize,
    /// Where the next outcome goes once the ring is full.
    next: usize,
    totals: Totals,
}

impl CountWindow {
    fn new(size: u32) -> CountWindow {
        let size = usize::try_from(size).unwrap_or(usize::MAX);
        CountWindow {
            ring: Vec::with_capacity(size.min(1024)),
            size,
            next: 0,
            totals: Totals::default(),
        }
    }

    fn record(&mut self, outcome: Outcome) {
        if self.ring.len() < self.size {
            self.ring.push(outcome.code());
        } else {
            let evicted = std::mem::replace(&mut self.ring[self.next], outcome.code());
            self.totals.remove(Outcome::from_code(evicted));
            // No division on the hot path.
            self.next += 1;
            if self.next == self.size {
                self.next = 0;
            }
        }
        self.totals.add(outcome);
    }

    /// Whether the ring is full and every outcome in it good.
    fn only_good(&self) -> bool {
        self.ring.len() == self.size && self.totals.failed == 0 && self.totals.slow == 0
    }

    /// Records `calls` good calls into a ring of only good ones: each would replace a good
    /// outcome with a good one, so only where the next one goes moves.
    fn skip(&mut self, calls: u64) {
        debug_assert!(self.only_good());
        let size = self.size as u64;
        // `next < size`, and `calls` is a batch of at most a few hundred: no overflow.
        self.next = usize::try_from((self.next as u64 + calls % size) % size)
            .unwrap_or_else(|_| unreachable!("below the ring's size"));
    }

    fn reset(&mut self) {
        self.ring.clear();
        self.next = 0;
        self.totals = Totals::default();
    }
}

/// The calls of the last `span`, in buckets of one second (finer for a span under a second,
/// coarser for one over ten minutes, so that a window never has more than 600 buckets).
///
/// Buckets are aligned on the system clock, so the window holds the current bucket and the
/// ones before it: between `span - width` and `span` of history, as in resilience4j.
#[derive(Debug)]
pub(super) struct TimeWindow {
    buckets: Box<[Totals]>,
    /// A bucket's width in nanoseconds.
    width: u64,
    /// The number (time / width) of the newest bucket.
    head: u64,
    totals: Totals,
}

const SECOND: u64 = 1_000_000_000;
const MAX_BUCKETS: u64 = 600;
/// Buckets in a window shorter than a second.
const SUBSECOND_BUCKETS: u64 = 10;

impl TimeWindow {
    fn new(span: Duration) -> TimeWindow {
        let (width, count) = layout(span);
        TimeWindow {
            buckets: vec![Totals::default(); count].into_boxed_slice(),
            width,
            head: 0,
            totals: Totals::default(),
        }
    }

    /// Moves the head to `now`'s bucket, emptying the buckets that left the window.
    fn advance(&mut self, now: Instant) {
        let current = now.as_nanos() / self.width;
        // An earlier reading of the clock (taken before another thread took the lock) lands
        // in the head bucket: it is within one bucket of the truth.
        if current <= self.head {
            return;
        }
        let count = self.buckets.len() as u64;
        if current - self.head >= count {
            self.reset();
        } else {
            for number in self.head + 1..=current {
                let bucket = &mut self.buckets[self.index(number)];
                self.totals.subtract(std::mem::take(bucket));
            }
        }
        self.head = current;
    }

    fn record(&mut self, now: Instant, outcome: Outcome) {
        self.advance(now);
        let head = self.index(self.head);
        self.buckets[head].add(outcome);
        self.totals.add(outcome);
    }

    fn index(&self, number: u64) -> usize {
        // The remainder is below the bucket count, which came from a `usize`.
        usize::try_from(number % self.buckets.len() as u64)
            .unwrap_or_else(|_| unreachable!("a bucket index fits the bucket count's type"))
    }

    fn reset(&mut self) {
        self.buckets.fill(Totals::default());
        self.totals = Totals::default();
    }
}

/// A bucket's width in nanoseconds and the number of buckets for a window of `span`.
fn layout(span: Duration) -> (u64, usize) {
    let span = u64::try_from(span.as_nanos()).unwrap_or(u64::MAX).max(1);
    let width = if span >= SECOND {
        SECOND.max(span.div_ceil(MAX_BUCKETS))
    } else {
        span.div_ceil(SUBSECOND_BUCKETS)
    };
    let count = span.div_ceil(width);
    // At most MAX_BUCKETS (or SUBSECOND_BUCKETS): fits any `usize`.
    (width, usize::try_from(count).unwrap_or(usize::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: Outcome = Outcome {
        failed: false,
        slow: false,
    };
    const FAILED: Outcome = Outcome {
        failed: true,
        slow: false,
    };
    const SLOW_FAILED: Outcome = Outcome {
        failed: true,
        slow: true,
    };

    fn at(seconds: f64) -> Instant {
        Instant::ZERO + Duration::from_secs_f64(seconds)
    }

    #[test]
    fn buckets_are_seconds_up_to_ten_minutes() {
        assert_eq!(layout(Duration::from_secs(10)), (SECOND, 10));
        assert_eq!(layout(Duration::from_secs(600)), (SECOND, 600));
        assert_eq!(layout(Duration::from_secs(3600)), (6 * SECOND, 600));
        assert_eq!(layout(Duration::from_millis(500)), (50_000_000, 10));
        assert_eq!(layout(Duration::from_nanos(3)), (1, 3));
    }

    #[test]
    fn good_calls_recorded_at_once_count_as_one_by_one() {
        // Into a ring of only good calls (the fast way), then into one with a failure (one
        // by one): both end as the same calls recorded singly would leave them.
        for history in [vec![OK; 7], vec![OK, FAILED, OK, OK, SLOW_FAILED, OK, OK]] {
            for calls in [0, 1, 4, 5, 12, 300] {
                let mut batch = Window::new(SlidingWindow::Count(5));
                let mut single = Window::new(SlidingWindow::Count(5));
                for outcome in &history {
                    batch.record(Instant::ZERO, *outcome);
                    single.record(Instant::ZERO, *outcome);
                }
                batch.record_good(Instant::ZERO, calls);
                for _ in 0..calls {
                    single.record(Instant::ZERO, OK);
                }
                // The next outcomes land in the same places and evict the same ones.
                for outcome in [FAILED, OK, SLOW_FAILED, FAILED, OK, OK] {
                    batch.record(Instant::ZERO, outcome);
                    single.record(Instant::ZERO, outcome);
                    assert_eq!(
                        batch.totals(Instant::ZERO),
                        single.totals(Instant::ZERO),
                        "history {history:?}, {calls} good calls"
                    );
                }
            }
        }
    }

    #[test]
    fn a_count_window_keeps_the_last_calls() {
        let mut window = CountWindow::new(3);
        for outcome in [FAILED, SLOW_FAILED, OK, OK] {
            window.record(outcome);
        }
        let expected = Totals {
            calls: 3,
            failed: 1,
            slow: 1,
            slow_failed: 1,
        };
        assert_eq!(window.totals, expected);
        window.record(OK);
        assert_eq!(window.totals.failed, 0);
        assert_eq!(window.totals.calls, 3);
    }

    #[test]
    fn a_time_window_lets_old_buckets_go() {
        let mut window = Window::new(SlidingWindow::Time(Duration::from_secs(3)));
        window.record(at(0.5), FAILED);
        window.record(at(1.5), OK);
        window.record(at(2.9), OK);
        assert_eq!(window.totals(at(2.9)).calls, 3);
        // At 3.0 the bucket of second 0 leaves the window.
        assert_eq!(window.totals(at(3.0)).failed, 0);
        assert_eq!(window.totals(at(3.0)).calls, 2);
        // A long silence empties it.
        assert_eq!(window.totals(at(100.0)), Totals::default());
        // A reading from before the head counts in the head bucket.
        window.record(at(99.0), FAILED);
        assert_eq!(window.totals(at(100.5)).failed, 1);
    }

    #[test]
    fn rates_wait_for_the_minimum() {
        let totals = Totals {
            calls: 4,
            failed: 1,
            slow: 2,
            slow_failed: 0,
        };
        assert_eq!(totals.failure_rate(5), None);
        assert_eq!(totals.failure_rate(4), Some(25.0));
        assert_eq!(totals.slow_call_rate(1), Some(50.0));
        assert_eq!(Totals::default().failure_rate(0), None);
    }
}
