//! Retries: the backoff sequences of every jitter kind at both ends of the random range, the
//! bounds every delay keeps (a property test), which failures are retried, and the retry
//! budget's formula and its forgetting over virtual time (tokio's paused clock).

use std::time::Duration;

use proptest::prelude::*;
use snowglobe::resilience::{FailureKind, InvalidBudget, Jitter, Retry, RetryBudget};
use snowglobe::{Instant, System};

const fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// The delays before retries 1 to `n` with the same random number each time, each retry
/// given the delay before it as `previous`.
fn sequence(retry: &Retry, n: u32, random: u64) -> Vec<Duration> {
    let mut previous = Duration::ZERO;
    (1..=n)
        .map(|k| {
            previous = retry.delay(k, previous, random);
            previous
        })
        .collect()
}

fn backoff(jitter: Jitter) -> Retry {
    Retry::new(10).backoff(ms(100), ms(1_000)).jitter(jitter)
}

#[test]
fn smoke_retry_defaults() {
    let retry = Retry::new(3);
    assert_eq!(retry.max_attempts(), 3);
    assert!(retry.should_retry(FailureKind::Timeout));
    assert!(retry.budget_ref().is_none());
    // no backoff set: retries follow at once, whatever the jitter
    assert_eq!(sequence(&retry, 4, u64::MAX), [Duration::ZERO; 4]);
    assert_eq!(Jitter::default(), Jitter::Full);
}

#[test]
fn no_jitter_doubles_up_to_the_cap() {
    let expected = [ms(100), ms(200), ms(400), ms(800), ms(1_000), ms(1_000)];
    for random in [0, 12_345, u64::MAX] {
        assert_eq!(sequence(&backoff(Jitter::None), 6, random), expected);
    }
}

#[test]
fn full_jitter_spans_zero_to_the_exponential_delay() {
    let retry = backoff(Jitter::Full);
    assert_eq!(sequence(&retry, 6, 0), [Duration::ZERO; 6]);
    assert_eq!(
        sequence(&retry, 6, u64::MAX),
        [ms(100), ms(200), ms(400), ms(800), ms(1_000), ms(1_000)]
    );
    assert_eq!(
        sequence(&retry, 6, u64::MAX / 2),
        [ms(50), ms(100), ms(200), ms(400), ms(500), ms(500)]
    );
}

#[test]
fn equal_jitter_spans_half_to_all_of_the_exponential_delay() {
    let retry = backoff(Jitter::Equal);
    assert_eq!(
        sequence(&retry, 6, 0),
        [ms(50), ms(100), ms(200), ms(400), ms(500), ms(500)]
    );
    assert_eq!(
        sequence(&retry, 6, u64::MAX),
        [ms(100), ms(200), ms(400), ms(800), ms(1_000), ms(1_000)]
    );
}

#[test]
fn decorrelated_jitter_grows_from_the_previous_delay() {
    let retry = backoff(Jitter::Decorrelated);
    // the lowest pick is always the base
    assert_eq!(sequence(&retry, 5, 0), [ms(100); 5]);
    // the highest triples the previous delay (the base before the first), up to the cap
    assert_eq!(
        sequence(&retry, 5, u64::MAX),
        [ms(300), ms(900), ms(1_000), ms(1_000), ms(1_000)]
    );
    // it depends on the previous delay, not on the retry number
    assert_eq!(retry.delay(1, ms(200), u64::MAX), ms(600));
    assert_eq!(retry.delay(9, ms(200), u64::MAX), ms(600));
    // a previous delay under a third of the base counts as the base
    assert_eq!(retry.delay(2, ms(10), u64::MAX), ms(100));
}

#[test]
fn retry_numbers_at_the_edges() {
    let retry = backoff(Jitter::None);
    assert_eq!(retry.delay(0, Duration::ZERO, 0), ms(100)); // 0 counts as the first
    assert_eq!(retry.delay(64, Duration::ZERO, 0), ms(1_000));
    assert_eq!(retry.delay(u32::MAX, Duration::ZERO, 0), ms(1_000));
    // a cap below the base caps everything
    let capped = Retry::new(3).backoff(ms(500), ms(200)).jitter(Jitter::None);
    assert_eq!(sequence(&capped, 3, 0), [ms(200); 3]);
    let huge = Retry::new(3)
        .backoff(Duration::MAX, Duration::MAX)
        .jitter(Jitter::Decorrelated);
    assert_eq!(
        huge.delay(3, Duration::MAX, u64::MAX),
        Duration::from_nanos(u64::MAX)
    );
}

#[test]
fn transient_failures_are_retried_by_default() {
    let retry = Retry::new(3);
    let kinds = [
        (FailureKind::Timeout, true),
        (FailureKind::Full, true),
        (FailureKind::BreakerHalfOpen, true),
        (FailureKind::BulkheadFull, true),
        (FailureKind::RateLimited, true),
        (FailureKind::Closed, false),
        (FailureKind::Stopped, false),
        (FailureKind::Interrupted, false),
        (FailureKind::Panicked, false),
        (FailureKind::Dropped, false),
        (FailureKind::IdReused, false),
        (FailureKind::BreakerOpen, false),
        (FailureKind::Application, false),
    ];
    for (kind, retried) in kinds {
        assert_eq!(retry.should_retry(kind), retried, "{kind:?}");
    }
    let custom = retry.retry_on(|kind| matches!(kind, FailureKind::Application));
    assert!(custom.should_retry(FailureKind::Application));
    assert!(!custom.should_retry(FailureKind::Timeout));
    // clones share the predicate
    assert!(custom.clone().should_retry(FailureKind::Application));
}

/// `min(max, base * 2^(retry - 1))` in nanoseconds, computed independently.
fn exponential(base: Duration, max: Duration, retry: u32) -> u128 {
    let exp = (0..retry.max(1) - 1).fold(base.as_nanos(), |d, _| d.saturating_mul(2));
    exp.min(max.as_nanos())
}

fn any_jitter() -> impl Strategy<Value = Jitter> {
    prop_oneof![
        Just(Jitter::None),
        Just(Jitter::Full),
        Just(Jitter::Equal),
        Just(Jitter::Decorrelated),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn delays_stay_within_their_bounds(
        jitter in any_jitter(),
        base_ms in 0u64..10_000,
        max_ms in 0u64..60_000,
        retry in 0u32..80,
        previous_ms in 0u64..200_000,
        random in any::<u64>(),
        other in any::<u64>(),
    ) {
        let (base, max, previous) = (ms(base_ms), ms(max_ms), ms(previous_ms));
        let policy = Retry::new(5).backoff(base, max).jitter(jitter);
        let delay = policy.delay(retry, previous, random).as_nanos();
        let exp = exponential(base, max, retry);
        let (low, high) = match jitter {
            Jitter::None => (exp, exp),
            Jitter::Full => (0, exp),
            Jitter::Equal => (exp / 2, exp),
            _ => {
                let previous = if previous.is_zero() { base } else { previous };
                let high = (previous.as_nanos() * 3).max(base.as_nanos());
                (base.as_nanos().min(max.as_nanos()), high.min(max.as_nanos()))
            }
        };
        prop_assert!(low <= delay && delay <= high, "{delay} not in [{low}, {high}]");
        // a larger random number never gives a shorter delay
        let (small, large) = (random.min(other), random.max(other));
        prop_assert!(policy.delay(retry, previous, small) <= policy.delay(retry, previous, large));
    }
}

#[tokio::test(start_paused = true)]
async fn budget_caps_retries_at_the_formula() {
    let system = System::new();
    // (ttl, min per second, ratio, first attempts, retries allowed)
    let cases = [
        (10, 1, 0.2, 100, 10 + 20),
        (1, 0, 0.5, 7, 3),
        (60, 10, 0.0, 1_000, 600),
        (2, 3, 2.0, 5, 6 + 10),
        (5, 0, 1_000.0, 1, 1_000),
        (1, 0, 0.1, 9, 0),
    ];
    for (ttl, min_per_second, ratio, first_attempts, allowed) in cases {
        let budget =
            RetryBudget::new(&system, Duration::from_secs(ttl), min_per_second, ratio).unwrap();
        for _ in 0..first_attempts {
            budget.deposit();
        }
        assert_eq!(
            budget.available(),
            allowed,
            "{ttl}s {min_per_second}/s {ratio}"
        );
        // every attempt fails and asks for a retry
        let retries: u64 = (0..10_000).map(|_| u64::from(budget.withdraw())).sum();
        assert_eq!(retries, allowed, "{ttl}s {min_per_second}/s {ratio}");
        assert_eq!(budget.available(), 0);
        assert!(!budget.withdraw());
    }
}

#[tokio::test(start_paused = true)]
async fn budget_is_shared_by_its_clones() {
    let system = System::new();
    let budget = RetryBudget::new(&system, Duration::from_secs(1), 0, 1.0).unwrap();
    let retry = Retry::new(3).budget(budget.clone());
    budget.deposit();
    budget.deposit();
    let shared = retry.budget_ref().unwrap();
    assert!(shared.withdraw());
    assert!(budget.clone().withdraw());
    assert!(!shared.withdraw());
}

#[tokio::test(start_paused = true)]
async fn deposits_expire_after_ttl() {
    let system = System::new();
    assert_eq!(system.now(), Instant::ZERO);
    // ttl 10 s: remembered in buckets of a tenth of ttl, one second each
    let budget = RetryBudget::new(&system, Duration::from_secs(10), 0, 1.0).unwrap();
    for _ in 0..5 {
        budget.deposit();
    }
    tokio::time::advance(ms(5_000)).await;
    for _ in 0..3 {
        budget.deposit();
    }
    assert_eq!(budget.available(), 8);

    // the deposits of the first second count until t = 10 s, not a nanosecond longer
    tokio::time::advance(ms(5_000) - Duration::from_nanos(1)).await;
    assert_eq!(budget.available(), 8);
    tokio::time::advance(Duration::from_nanos(1)).await;
    assert_eq!(budget.available(), 3);
    tokio::time::advance(ms(5_000)).await;
    assert_eq!(budget.available(), 0);

    // a long idle gap forgets everything, the latest deposits too, and deposits start over
    budget.deposit();
    budget.deposit();
    tokio::time::advance(Duration::from_secs(3_600)).await;
    budget.deposit();
    assert_eq!(budget.available(), 1);
}

#[tokio::test(start_paused = true)]
async fn spent_retries_are_forgotten_after_ttl() {
    let system = System::new();
    // the reserve alone: 1 retry a second over 2 s
    let budget = RetryBudget::new(&system, Duration::from_secs(2), 1, 0.0).unwrap();
    assert!(budget.withdraw());
    assert!(budget.withdraw());
    assert!(!budget.withdraw());
    tokio::time::advance(ms(1_999)).await;
    assert!(!budget.withdraw());
    tokio::time::advance(ms(1)).await;
    assert_eq!(budget.available(), 2);

    // withdrawals in different tenths of ttl come back one by one
    assert!(budget.withdraw()); // t = 2.0 s
    tokio::time::advance(ms(1_000)).await;
    assert!(budget.withdraw()); // t = 3.0 s
    assert_eq!(budget.available(), 0);
    tokio::time::advance(ms(1_000)).await; // t = 4.0 s: the first is forgotten
    assert_eq!(budget.available(), 1);
    tokio::time::advance(ms(1_000)).await;
    assert_eq!(budget.available(), 2);
}

#[tokio::test(start_paused = true)]
async fn budget_settings_out_of_range_are_typed_errors() {
    let system = System::new();
    let secs = Duration::from_secs;
    for ttl in [secs(1), secs(60)] {
        assert!(RetryBudget::new(&system, ttl, 1, 0.2).is_ok());
    }
    for ratio in [0.0, 1_000.0] {
        assert!(RetryBudget::new(&system, secs(10), 1, ratio).is_ok());
    }
    for ttl in [ms(999), secs(61), Duration::ZERO] {
        let error = RetryBudget::new(&system, ttl, 1, 0.2).unwrap_err();
        assert_eq!(error, InvalidBudget::Ttl(ttl));
    }
    for ratio in [-0.1, 1_000.5, f32::INFINITY] {
        let error = RetryBudget::new(&system, secs(10), 1, ratio).unwrap_err();
        assert_eq!(error, InvalidBudget::RetryRatio(ratio));
    }
    let nan = RetryBudget::new(&system, secs(10), 1, f32::NAN).unwrap_err();
    assert!(matches!(nan, InvalidBudget::RetryRatio(r) if r.is_nan()));
    assert_eq!(
        RetryBudget::new(&system, secs(61), 1, 0.2)
            .unwrap_err()
            .to_string(),
        "retry budget ttl 61s is not within 1s..=60s"
    );
}
