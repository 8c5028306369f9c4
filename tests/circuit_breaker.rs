//! The circuit breaker: resilience4j's state machine on both window types, driven step by
//! step on tokio's paused clock (a slow call is one whose permit is held while the test
//! advances the clock), its trial accounting, backoff, manual states, metrics and events.

use std::sync::Barrier;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use snowglobe::resilience::{
    BreakerConfigError, BreakerState, BreakerTransition, CircuitBreaker, CircuitBreakerConfig,
    FailureKind, SlidingWindow,
};
use snowglobe::{Actor, Instant, System, messages};

use BreakerState::{Closed, Disabled, ForcedOpen, HalfOpen, Open};

/// A call is slow when it takes longer than this.
const SLOW: Duration = Duration::from_secs(1);

/// One step of a state-machine table.
#[derive(Clone, Copy, Debug)]
enum Step {
    /// A permitted call that succeeds at once.
    Ok,
    /// A permitted call that fails at once (a timeout).
    Fail,
    /// A permitted call that succeeds after longer than the slow-call duration.
    SlowOk,
    /// A permitted call that fails after longer than the slow-call duration.
    SlowFail,
    /// The clock moves on.
    Advance(Duration),
    /// `try_acquire` is refused with this kind.
    Rejected(FailureKind),
}

use Step::{Advance, Fail, Ok, Rejected, SlowFail, SlowOk};

fn secs(n: u64) -> Step {
    Advance(Duration::from_secs(n))
}

/// Runs the steps, checking the state after each.
async fn run(breaker: &CircuitBreaker, steps: &[(Step, BreakerState)]) {
    for (i, &(step, expected)) in steps.iter().enumerate() {
        match step {
            Ok | Fail | SlowOk | SlowFail => {
                let permit = breaker
                    .try_acquire()
                    .unwrap_or_else(|rejected| panic!("step {i} ({step:?}): {rejected}"));
                if matches!(step, SlowOk | SlowFail) {
                    tokio::time::advance(SLOW + Duration::from_millis(1)).await;
                }
                match step {
                    Ok | SlowOk => permit.success(),
                    _ => permit.failure(FailureKind::Timeout),
                }
            }
            Advance(d) => tokio::time::advance(d).await,
            Rejected(kind) => match breaker.try_acquire() {
                Result::Ok(_) => panic!("step {i} ({step:?}): permitted"),
                Err(rejected) => assert_eq!(rejected.kind(), kind, "step {i} ({step:?})"),
            },
        }
        assert_eq!(breaker.state(), expected, "after step {i} ({step:?})");
    }
}

/// The breaker the tables use: 50 % failures, 100 % slow calls, 10 s open, 2 trials.
fn config(window: SlidingWindow, minimum: u32) -> CircuitBreakerConfig {
    CircuitBreakerConfig::new("payments")
        .sliding_window(window)
        .minimum_calls(minimum)
        .slow_call_duration(SLOW)
        .wait_in_open(Duration::from_secs(10))
        .permitted_calls_in_half_open(2)
}

fn breaker(system: &System, config: CircuitBreakerConfig) -> CircuitBreaker {
    CircuitBreaker::new(system, config).expect("a valid config")
}

const OPEN: Step = Rejected(FailureKind::BreakerOpen);
const HALF_OPEN_FULL: Step = Rejected(FailureKind::BreakerHalfOpen);

#[tokio::test(start_paused = true)]
async fn smoke_failures_open_it_and_successful_trials_close_it() {
    fn shared_across_threads<T: Send + Sync>() {}
    shared_across_threads::<CircuitBreaker>();
    shared_across_threads::<snowglobe::resilience::BreakerPermit>();

    let system = System::new();
    let breaker = breaker(&system, config(SlidingWindow::Count(4), 4));
    run(
        &breaker,
        &[
            (Fail, Closed),
            (Fail, Closed),
            (Ok, Closed),
            (Ok, Open),
            (OPEN, Open),
            (secs(10), HalfOpen),
            (Ok, HalfOpen),
            (Ok, Closed),
        ],
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn count_window_table() {
    let system = System::new();
    let breaker = breaker(&system, config(SlidingWindow::Count(4), 4));
    run(
        &breaker,
        &[
            // below the minimum nothing is judged, however bad
            (Fail, Closed),
            (Ok, Closed),
            (Ok, Closed),
            (Ok, Closed), // 1 of 4: 25 %
            // the window slides: the oldest call (the failure) leaves
            (Fail, Closed), // O O O F: 25 %
            (Fail, Open),   // O O F F: 50 %, the threshold
            (OPEN, Open),
            (secs(9), Open),
            (OPEN, Open),
            (secs(1), HalfOpen),
            // half-open judges its two trials once both are done: 1 of 2 failed
            (Ok, HalfOpen),
            (Fail, Open),
            (secs(10), HalfOpen),
            (Ok, HalfOpen),
            (Ok, Closed),
            // closing emptied the window
            (Fail, Closed),
            (Fail, Closed),
            (Fail, Closed),
            (Ok, Open), // 3 of 4
        ],
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn time_window_table() {
    let system = System::new();
    let breaker = breaker(
        &system,
        config(SlidingWindow::Time(Duration::from_secs(10)), 4),
    );
    run(
        &breaker,
        &[
            (Fail, Closed),
            (Fail, Closed),
            // ten seconds on, the failures of second 0 have left the window
            (secs(10), Closed),
            (Ok, Closed),
            (Ok, Closed),
            (Fail, Closed), // 1 of 3
            (secs(5), Closed),
            (Fail, Open), // 2 of 4, within ten seconds
            (secs(10), HalfOpen),
            (Fail, HalfOpen),
            (Fail, Open),
            (secs(10), HalfOpen),
            (Ok, HalfOpen),
            (Ok, Closed),
            // the window restarted empty on closing, and calls spread over the window count
            (Fail, Closed),
            (secs(3), Closed),
            (Ok, Closed),
            (secs(3), Closed),
            (Ok, Closed),
            (secs(3), Closed),
            (Fail, Open), // 2 of 4 over nine seconds
        ],
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn the_minimum_number_of_calls() {
    let system = System::new();
    // Ten calls in the window, judged from the fifth.
    let ten = breaker(&system, config(SlidingWindow::Count(10), 5));
    run(
        &ten,
        &[
            (Fail, Closed),
            (Fail, Closed),
            (Fail, Closed),
            (Fail, Closed),
            (Fail, Open),
        ],
    )
    .await;

    // A count window smaller than the minimum: the window's size is the minimum.
    let small = breaker(&system, config(SlidingWindow::Count(3), 100));
    run(&small, &[(Fail, Closed), (Ok, Closed), (Fail, Open)]).await;

    // A time window keeps the minimum as it is: its calls may leave before it is reached.
    let timed = breaker(
        &system,
        config(SlidingWindow::Time(Duration::from_secs(2)), 3),
    );
    run(
        &timed,
        &[
            (Fail, Closed),
            (Fail, Closed),
            (secs(2), Closed),
            (Fail, Closed),
            (Fail, Closed),
            (Fail, Open),
        ],
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn slow_calls_open_it() {
    let system = System::new();
    for window in [
        SlidingWindow::Count(4),
        SlidingWindow::Time(Duration::from_secs(60)),
    ] {
        let slow = config(window, 4)
            .failure_rate_threshold(100.0)
            .slow_call_rate_threshold(50.0);
        let breaker = breaker(&system, slow);
        run(
            &breaker,
            &[
                (SlowOk, Closed),
                (Ok, Closed),
                (Fail, Closed),
                (SlowFail, Open), // 2 of 4 slow; 2 of 4 failed is below 100 %
            ],
        )
        .await;
        let metrics = breaker.metrics();
        assert_eq!(metrics.slow_call_rate, Some(50.0), "{window:?}");
        assert_eq!(metrics.failure_rate, Some(50.0), "{window:?}");
        assert_eq!(
            (
                metrics.slow_calls,
                metrics.slow_failed_calls,
                metrics.failed_calls
            ),
            (2, 1, 2),
            "{window:?}"
        );
        // Trials are judged on slowness too.
        run(
            &breaker,
            &[
                (secs(10), HalfOpen),
                (SlowOk, HalfOpen),
                (Ok, Open),
                (secs(10), HalfOpen),
                (Ok, HalfOpen),
                (Ok, Closed),
            ],
        )
        .await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_call_exactly_as_long_as_the_slow_duration_is_not_slow() {
    let system = System::new();
    let breaker = breaker(&system, config(SlidingWindow::Count(4), 4));
    let permit = breaker.try_acquire().unwrap();
    tokio::time::advance(SLOW).await;
    permit.success();
    let permit = breaker.try_acquire().unwrap();
    tokio::time::advance(SLOW + Duration::from_nanos(1)).await;
    permit.success();
    assert_eq!(breaker.metrics().slow_calls, 1);
}

/// Opens `breaker` (a count window of 4) and waits until it is half-open.
async fn open_then_half_open(breaker: &CircuitBreaker) {
    for _ in 0..4 {
        breaker.try_acquire().unwrap().failure(FailureKind::Timeout);
    }
    assert_eq!(breaker.state(), Open);
    tokio::time::advance(Duration::from_secs(10)).await;
    assert_eq!(breaker.state(), HalfOpen);
}

#[tokio::test(start_paused = true)]
async fn half_open_hands_out_its_trial_calls_and_takes_back_unused_ones() {
    let system = System::new();
    let breaker = breaker(&system, config(SlidingWindow::Count(4), 4));
    open_then_half_open(&breaker).await;

    let first = breaker.try_acquire().unwrap();
    let second = breaker.try_acquire().unwrap();
    assert!(first.is_trial() && second.is_trial());
    let rejected = breaker.try_acquire().unwrap_err();
    assert_eq!(rejected.state, HalfOpen);
    assert_eq!(rejected.kind(), FailureKind::BreakerHalfOpen);
    assert_eq!(rejected.retry_after, None);
    assert_eq!(
        rejected.to_string(),
        "circuit breaker `payments` is half-open with no trial call left"
    );

    // A dropped permit (a cancelled call) frees its slot...
    drop(second);
    let third = breaker.try_acquire().unwrap();
    run(&breaker, &[(HALF_OPEN_FULL, HalfOpen)]).await;
    // ...and so does an ignored one.
    first.ignore();
    let fourth = breaker.try_acquire().unwrap();
    run(&breaker, &[(HALF_OPEN_FULL, HalfOpen)]).await;
    // A completed trial keeps its slot: still two in all.
    third.success();
    run(&breaker, &[(HALF_OPEN_FULL, HalfOpen)]).await;
    assert_eq!(breaker.metrics().buffered_calls, 1);
    fourth.success();
    assert_eq!(breaker.state(), Closed);
    assert_eq!(breaker.metrics().not_permitted_calls, 4);
}

#[tokio::test(start_paused = true)]
async fn an_ignored_kind_in_half_open_frees_its_slot() {
    let system = System::new();
    let config =
        config(SlidingWindow::Count(4), 4).ignore_if(|kind| kind == FailureKind::RateLimited);
    let breaker = breaker(&system, config);
    open_then_half_open(&breaker).await;
    let a = breaker.try_acquire().unwrap();
    let _b = breaker.try_acquire().unwrap();
    a.failure(FailureKind::RateLimited);
    assert!(breaker.try_acquire().is_ok());
}

#[tokio::test(start_paused = true)]
async fn an_outcome_counts_only_in_the_state_that_permitted_it() {
    let system = System::new();
    let breaker = breaker(&system, config(SlidingWindow::Count(4), 4));
    let from_closed = breaker.try_acquire().unwrap();
    let also_from_closed = breaker.try_acquire().unwrap();
    for _ in 0..4 {
        breaker.try_acquire().unwrap().failure(FailureKind::Timeout);
    }
    assert_eq!(breaker.state(), Open);
    // Ends while open: the window that opened it stays as it was.
    from_closed.success();
    assert_eq!(breaker.metrics().buffered_calls, 4);

    tokio::time::advance(Duration::from_secs(10)).await;
    assert_eq!(breaker.state(), HalfOpen);
    // Ends while half-open: not a trial.
    also_from_closed.success();
    let metrics = breaker.metrics();
    assert_eq!((metrics.state, metrics.buffered_calls), (HalfOpen, 0));
}

#[tokio::test(start_paused = true)]
async fn each_opening_in_a_row_waits_longer_up_to_the_max() {
    let system = System::new();
    let config = CircuitBreakerConfig::new("payments")
        .sliding_window(SlidingWindow::Count(1))
        .minimum_calls(1)
        .wait_in_open(Duration::from_secs(1))
        .open_backoff(2.0, Duration::from_secs(5))
        .permitted_calls_in_half_open(1);
    let breaker = breaker(&system, config);

    let mut waits = Vec::new();
    for _ in 0..5 {
        breaker.try_acquire().unwrap().failure(FailureKind::Timeout);
        let wait = breaker.try_acquire().unwrap_err().retry_after.unwrap();
        waits.push(wait.as_secs());
        // Still open a moment before the wait ends.
        tokio::time::advance(wait - Duration::from_millis(1)).await;
        assert_eq!(breaker.state(), Open);
        tokio::time::advance(Duration::from_millis(1)).await;
        assert_eq!(breaker.state(), HalfOpen);
    }
    assert_eq!(waits, [1, 2, 4, 5, 5]);

    // Closing starts the backoff over.
    breaker.try_acquire().unwrap().success();
    assert_eq!(breaker.state(), Closed);
    breaker.try_acquire().unwrap().failure(FailureKind::Timeout);
    let rejected = breaker.try_acquire().unwrap_err();
    assert_eq!(rejected.retry_after, Some(Duration::from_secs(1)));
}

#[tokio::test(start_paused = true)]
async fn half_open_too_long_opens_again() {
    let system = System::new();
    let config =
        config(SlidingWindow::Count(4), 4).max_wait_in_half_open(Some(Duration::from_secs(5)));
    let breaker = breaker(&system, config);
    open_then_half_open(&breaker).await;
    let slow_trial = breaker.try_acquire().unwrap();
    run(
        &breaker,
        &[(secs(4), HalfOpen), (secs(1), Open), (OPEN, Open)],
    )
    .await;
    // The trial that outlived its half-open state counts for nothing.
    slow_trial.success();
    assert_eq!(breaker.state(), Open);
    run(
        &breaker,
        &[(secs(10), HalfOpen), (Ok, HalfOpen), (Ok, Closed)],
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn forced_open_rejects_everything_and_disabled_records_nothing() {
    let system = System::new();
    let breaker = breaker(&system, config(SlidingWindow::Count(4), 4));
    breaker.try_acquire().unwrap().failure(FailureKind::Timeout);

    breaker.transition_to_forced_open();
    let rejected = breaker.try_acquire().unwrap_err();
    assert_eq!((rejected.state, rejected.retry_after), (ForcedOpen, None));
    assert_eq!(rejected.kind(), FailureKind::BreakerOpen);
    assert_eq!(
        rejected.to_string(),
        "circuit breaker `payments` is forced open"
    );
    // Time does not end it.
    run(&breaker, &[(secs(3600), ForcedOpen), (OPEN, ForcedOpen)]).await;
    let metrics = breaker.metrics();
    assert_eq!(
        (metrics.buffered_calls, metrics.not_permitted_calls),
        (0, 2)
    );

    breaker.transition_to_disabled();
    for _ in 0..100 {
        breaker
            .try_acquire()
            .unwrap()
            .failure(FailureKind::Panicked);
    }
    let metrics = breaker.metrics();
    assert_eq!((metrics.state, metrics.buffered_calls), (Disabled, 0));

    breaker.transition_to_closed();
    run(
        &breaker,
        &[(Fail, Closed), (Fail, Closed), (Ok, Closed), (Fail, Open)],
    )
    .await;
    breaker.reset();
    let metrics = breaker.metrics();
    assert_eq!(
        (
            metrics.state,
            metrics.buffered_calls,
            metrics.not_permitted_calls
        ),
        (Closed, 0, 0)
    );
}

#[tokio::test(start_paused = true)]
async fn the_config_decides_how_each_kind_counts() {
    let system = System::new();
    let config = config(SlidingWindow::Count(4), 4)
        .ignore_if(|kind| kind == FailureKind::Full)
        // an application error is the service answering: not a failure of the service
        .record_failure_if(|kind| kind != FailureKind::Application);
    let breaker = breaker(&system, config);
    for _ in 0..10 {
        breaker.try_acquire().unwrap().failure(FailureKind::Full);
    }
    assert_eq!(breaker.metrics().buffered_calls, 0);
    for _ in 0..4 {
        breaker
            .try_acquire()
            .unwrap()
            .failure(FailureKind::Application);
    }
    let metrics = breaker.metrics();
    assert_eq!(
        (metrics.buffered_calls, metrics.failed_calls, metrics.state),
        (4, 0, Closed)
    );
    assert_eq!(metrics.successful_calls(), 4);
    // Ignoring wins over recording.
    let config = CircuitBreakerConfig::new("both")
        .ignore_if(|kind| kind == FailureKind::Timeout)
        .record_failure_if(|_| true);
    let both = self::breaker(&system, config);
    both.try_acquire().unwrap().failure(FailureKind::Timeout);
    assert_eq!(both.metrics().buffered_calls, 0);
}

#[tokio::test(start_paused = true)]
async fn metrics_follow_the_states() {
    let system = System::new();
    let breaker = breaker(&system, config(SlidingWindow::Count(4), 4));
    run(&breaker, &[(Fail, Closed), (SlowOk, Closed), (Ok, Closed)]).await;
    let metrics = breaker.metrics();
    assert_eq!(metrics.state, Closed);
    assert_eq!((metrics.failure_rate, metrics.slow_call_rate), (None, None));
    assert_eq!(
        (
            metrics.buffered_calls,
            metrics.failed_calls,
            metrics.slow_calls
        ),
        (3, 1, 1)
    );

    run(&breaker, &[(Fail, Open), (OPEN, Open), (OPEN, Open)]).await;
    let metrics = breaker.metrics();
    assert_eq!(metrics.state, Open);
    assert_eq!(metrics.failure_rate, Some(50.0));
    assert_eq!(metrics.slow_call_rate, Some(25.0));
    assert_eq!(
        (metrics.buffered_calls, metrics.not_permitted_calls),
        (4, 2)
    );

    // Half-open shows its trials; their rates once all are done.
    run(&breaker, &[(secs(10), HalfOpen), (Fail, HalfOpen)]).await;
    let metrics = breaker.metrics();
    assert_eq!(metrics.state, HalfOpen);
    assert_eq!(
        (
            metrics.buffered_calls,
            metrics.failed_calls,
            metrics.failure_rate
        ),
        (1, 1, None)
    );
    run(&breaker, &[(Fail, Open)]).await;
    let metrics = breaker.metrics();
    assert_eq!((metrics.state, metrics.failure_rate), (Open, Some(100.0)));
    assert_eq!(metrics.buffered_calls, 2);

    run(
        &breaker,
        &[(secs(10), HalfOpen), (Ok, HalfOpen), (Ok, Closed)],
    )
    .await;
    let metrics = breaker.metrics();
    assert_eq!((metrics.state, metrics.buffered_calls), (Closed, 0));
    assert_eq!(metrics.not_permitted_calls, 2);
}

/// Keeps the breaker transitions it is sent.
#[derive(Default)]
struct Watcher {
    seen: Vec<BreakerTransition>,
}

impl Actor for Watcher {
    type Msg = WatcherMsg;
}

#[messages]
impl Watcher {
    #[handler]
    fn transition(&mut self, event: BreakerTransition) {
        self.seen.push(event);
    }

    #[message]
    fn seen(&self) -> Vec<(String, BreakerState, BreakerState, Instant)> {
        self.seen
            .iter()
            .map(|e| (e.breaker.to_string(), e.from, e.to, e.at))
            .collect()
    }
}

#[tokio::test(start_paused = true)]
async fn every_transition_is_published() {
    let system = System::new();
    let watcher = system.spawn(Watcher::default()).unwrap();
    system
        .events()
        .topic::<BreakerTransition>()
        .subscribe(watcher.recipient())
        .unwrap();
    let t0 = system.now();
    let at = |s: u64| t0 + Duration::from_secs(s);

    let breaker = breaker(&system, config(SlidingWindow::Count(4), 4));
    open_then_half_open(&breaker).await; // t0 + 10 s
    run(
        &breaker,
        &[(Fail, HalfOpen), (Ok, Open), (secs(15), HalfOpen)],
    )
    .await;
    run(&breaker, &[(Ok, HalfOpen), (Ok, Closed)]).await;
    breaker.transition_to_forced_open();
    breaker.transition_to_forced_open(); // no change, no event
    breaker.transition_to_disabled();
    breaker.reset();

    let expected = [
        (Closed, Open, at(0)),
        (Open, HalfOpen, at(10)),
        (HalfOpen, Open, at(10)),
        // seen five seconds after it was due: it carries the instant it was seen
        (Open, HalfOpen, at(25)),
        (HalfOpen, Closed, at(25)),
        (Closed, ForcedOpen, at(25)),
        (ForcedOpen, Disabled, at(25)),
        (Disabled, Closed, at(25)),
    ];
    let seen = watcher.seen().await.unwrap();
    let expected: Vec<_> = expected
        .into_iter()
        .map(|(from, to, at)| ("payments".to_owned(), from, to, at))
        .collect();
    assert_eq!(seen, expected);
    system.shutdown().await;
}

#[tokio::test]
async fn invalid_configs_are_refused() {
    let system = System::new();
    let base = || CircuitBreakerConfig::new("bad");
    let refused = |config: CircuitBreakerConfig| {
        CircuitBreaker::new(&system, config).expect_err("an invalid config")
    };
    assert!(matches!(
        refused(base().failure_rate_threshold(0.0)),
        BreakerConfigError::FailureRateThreshold { .. }
    ));
    assert!(matches!(
        refused(base().failure_rate_threshold(100.5)),
        BreakerConfigError::FailureRateThreshold { .. }
    ));
    assert!(matches!(
        refused(base().slow_call_rate_threshold(-1.0)),
        BreakerConfigError::SlowCallRateThreshold { .. }
    ));
    assert!(matches!(
        refused(base().sliding_window(SlidingWindow::Count(0))),
        BreakerConfigError::EmptyWindow { .. }
    ));
    assert!(matches!(
        refused(base().sliding_window(SlidingWindow::Time(Duration::ZERO))),
        BreakerConfigError::EmptyWindow { .. }
    ));
    assert!(matches!(
        refused(base().minimum_calls(0)),
        BreakerConfigError::ZeroMinimumCalls { .. }
    ));
    assert!(matches!(
        refused(base().permitted_calls_in_half_open(0)),
        BreakerConfigError::ZeroPermittedCalls { .. }
    ));
    assert!(matches!(
        refused(base().max_wait_in_half_open(Some(Duration::ZERO))),
        BreakerConfigError::ZeroMaxWaitInHalfOpen { .. }
    ));
    assert!(matches!(
        refused(base().open_backoff(0.5, Duration::from_secs(600))),
        BreakerConfigError::BackoffMultiplier { .. }
    ));
    let error = refused(base().open_backoff(2.0, Duration::from_secs(1)));
    assert_eq!(
        error.to_string(),
        "circuit breaker `bad`: open backoff max 1s is below the wait in open 60s"
    );
    // The boundaries are valid.
    let edges = base()
        .failure_rate_threshold(100.0)
        .slow_call_rate_threshold(0.001)
        .open_backoff(1.0, Duration::from_secs(60));
    assert!(CircuitBreaker::new(&system, edges).is_ok());
}

/// Many threads at once against a half-open breaker: never more trial calls in flight than
/// permitted, and every trial slot accounted for at the end.
#[test]
fn concurrent_callers_never_exceed_the_trial_calls() {
    const PERMITTED: u32 = 3;
    let system = System::new();
    let config = CircuitBreakerConfig::new("stress")
        .permitted_calls_in_half_open(PERMITTED)
        // trials that fail reopen it; the test closes and reopens by hand
        .failure_rate_threshold(100.0);
    let breaker = breaker(&system, config);
    let in_flight = AtomicU32::new(0);
    for round in 0..20u32 {
        breaker.transition_to_half_open();
        std::thread::scope(|scope| {
            for thread in 0..8u32 {
                let (breaker, in_flight) = (&breaker, &in_flight);
                scope.spawn(move || {
                    for i in 0..500u32 {
                        let Result::Ok(permit) = breaker.try_acquire() else {
                            continue;
                        };
                        if !permit.is_trial() {
                            continue; // closed by now: nothing to count
                        }
                        let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                        assert!(now <= PERMITTED, "{now} trials in flight");
                        in_flight.fetch_sub(1, Ordering::SeqCst);
                        // Mostly give the slot back, sometimes complete the trial.
                        match (round + thread + i) % 7 {
                            0 => permit.success(),
                            1 => permit.failure(FailureKind::Timeout),
                            2 => permit.ignore(),
                            _ => drop(permit),
                        }
                    }
                });
            }
        });
        // Every slot is back or used: the breaker either decided, or hands out what is left.
        let metrics = breaker.metrics();
        match metrics.state {
            HalfOpen => {
                let mut left = Vec::new();
                while let Result::Ok(permit) = breaker.try_acquire() {
                    assert!(permit.is_trial());
                    left.push(permit);
                }
                let left = u64::try_from(left.len()).unwrap();
                assert_eq!(left + metrics.buffered_calls, u64::from(PERMITTED));
            }
            Closed | Open => {}
            other => panic!("unexpected state {other}"),
        }
    }
}

/// A closed breaker with a full count window records good calls later, in a batch, without
/// its lock: the batch must land before the next failure is weighed, or the window would
/// hold the wrong calls when the rate is computed.
#[tokio::test(start_paused = true)]
async fn good_calls_recorded_late_still_come_before_the_next_failure() {
    let system = System::new();
    let breaker = breaker(&system, config(SlidingWindow::Count(10), 10));
    let mut steps = Vec::new();
    // Full window, good calls first, then 40 % failures: closed, and settled.
    steps.extend([(Ok, Closed); 6]);
    steps.extend([(Fail, Closed); 4]);
    // Six good calls push the first six out (deferred: the lock is not taken).
    steps.extend([(Ok, Closed); 6]);
    // Each failure now replaces one of the four: the fifth makes five in ten and opens it.
    // Had the six good calls not landed first, the first failure would have replaced a
    // good call and opened it at once.
    steps.extend([(Fail, Closed); 4]);
    steps.push((Fail, Open));
    run(&breaker, &steps).await;
    let metrics = breaker.metrics();
    assert_eq!((metrics.buffered_calls, metrics.failed_calls), (10, 5));
}

#[tokio::test(start_paused = true)]
async fn deferred_good_calls_show_in_the_metrics_and_a_long_run_stays_exact() {
    let system = System::new();
    let breaker = breaker(&system, config(SlidingWindow::Count(100), 100));
    for i in 0..10_000u32 {
        let permit = breaker.try_acquire().unwrap();
        if i % 10 == 0 {
            permit.failure(FailureKind::Timeout);
        } else {
            permit.success();
        }
    }
    let metrics = breaker.metrics();
    assert_eq!(metrics.state, Closed);
    assert_eq!((metrics.buffered_calls, metrics.failed_calls), (100, 10));
}

/// Calls in the stress test's window.
const N: u32 = 1000;

/// Window of 1000: 400 failures then 600 successes (40 %, settled). Then eight threads make
/// 30 successes and 10 failures each, concurrently. Every new call evicts one of the 400 old
/// failures (they are the oldest), so whatever the interleaving the window ends with
/// (400 - 320) + 80 = 160 failures, and the failure count never exceeds 400 (the breaker
/// never opens).
#[test]
fn concurrent_outcomes_on_a_settled_breaker_leave_the_window_every_interleaving_must() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let _guard = rt.enter();
    let system = System::new();
    const THREADS: usize = 8;
    for round in 0..100 {
        let config = CircuitBreakerConfig::new("stress")
            .sliding_window(SlidingWindow::Count(N))
            .minimum_calls(N)
            .failure_rate_threshold(50.0);
        let breaker = CircuitBreaker::new(&system, config).unwrap();
        for _ in 0..400 {
            breaker.try_acquire().unwrap().failure(FailureKind::Timeout);
        }
        for _ in 0..600 {
            breaker.try_acquire().unwrap().success();
        }
        let barrier = Barrier::new(THREADS);
        std::thread::scope(|s| {
            for t in 0..THREADS {
                let breaker = breaker.clone();
                let barrier = &barrier;
                s.spawn(move || {
                    barrier.wait();
                    for i in 0..40 {
                        let permit = breaker.try_acquire().expect("never opens");
                        if (i + t) % 4 == 0 {
                            permit.failure(FailureKind::Timeout);
                        } else {
                            permit.success();
                        }
                        if i % 7 == 3 {
                            // a snapshot folds the batch midway
                            let m = breaker.metrics();
                            assert_eq!(m.buffered_calls, u64::from(N), "round {round}");
                            assert!(m.failed_calls <= 400, "round {round}: {m:?}");
                        }
                    }
                });
            }
        });
        let m = breaker.metrics();
        assert_eq!(m.state, BreakerState::Closed, "round {round}");
        assert_eq!(m.buffered_calls, u64::from(N), "round {round}");
        assert_eq!(m.failed_calls, 160, "round {round}: {m:?}");
    }
}
