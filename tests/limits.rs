//! Rate limits and concurrency limits on tokio's paused clock: the token bucket's burst and
//! exact refill, waits of the right virtual length, refusals with the right `retry_after`,
//! waiters served in order and cancelled waits; the concurrency limit's cap, its waiters, its
//! bounded wait and its counters.
//!
//! Waiters are put in line by polling their futures once, in order, before anything else
//! happens: no task is left to "get there" on its own.

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use snowglobe::resilience::{
    ConcurrencyLimit, ConcurrencyPermit, FailureKind, InvalidLimit, InvalidRateLimit, RateLimited,
    RateLimiter,
};
use snowglobe::{Instant, System};

const fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Polls `future` once, from the test's task.
async fn poll_once<F: Future + Unpin>(future: &mut F) -> Poll<F::Output> {
    poll_fn(|cx| Poll::Ready(Pin::new(&mut *future).poll(cx))).await
}

type Waiter<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// A caller of `limiter.acquire(max_wait)` that reports when it got its token.
fn rate_waiter(
    system: &System,
    limiter: &RateLimiter,
    max_wait: Duration,
) -> Waiter<Result<Instant, RateLimited>> {
    let (system, limiter) = (system.clone(), limiter.clone());
    Box::pin(async move {
        limiter.acquire(max_wait).await?;
        Ok(system.now())
    })
}

fn since_start(at: Instant) -> Duration {
    at - Instant::ZERO
}

#[tokio::test(start_paused = true)]
async fn smoke_rate_limiter() {
    let system = System::new();
    let limiter = RateLimiter::new(&system, "search", 10.0, 2).unwrap();
    assert_eq!(limiter.name(), "search");
    assert!(limiter.try_acquire().is_ok());
    assert!(limiter.try_acquire().is_ok());
    let limited = limiter.try_acquire().unwrap_err();
    assert_eq!(&*limited.limiter, "search");
    assert_eq!(limited.kind(), FailureKind::RateLimited);
    assert!(limited.kind().is_transient());
}

#[tokio::test(start_paused = true)]
async fn burst_then_exact_refill() {
    let system = System::new();
    let limiter = RateLimiter::new(&system, "search", 10.0, 5).unwrap();
    assert_eq!(limiter.available(), 5);
    for left in (0..5).rev() {
        limiter.try_acquire().unwrap();
        assert_eq!(limiter.available(), left);
    }
    assert_eq!(limiter.try_acquire().unwrap_err().retry_after, ms(100));

    tokio::time::advance(ms(99)).await;
    assert_eq!(limiter.available(), 0);
    assert_eq!(limiter.try_acquire().unwrap_err().retry_after, ms(1));
    tokio::time::advance(ms(1)).await;
    assert_eq!(limiter.available(), 1);
    limiter.try_acquire().unwrap();
    assert_eq!(limiter.available(), 0);

    // 350 ms refill three and a half tokens: three whole ones
    tokio::time::advance(ms(350)).await;
    assert_eq!(limiter.available(), 3);
    // and the bucket never holds more than the burst
    tokio::time::advance(Duration::from_secs(3_600)).await;
    assert_eq!(limiter.available(), 5);
}

#[tokio::test(start_paused = true)]
async fn acquire_waits_the_refill_on_virtual_time() {
    let system = System::new();
    let limiter = RateLimiter::new(&system, "search", 4.0, 2).unwrap();
    // the burst: no wait
    limiter.acquire(ms(0)).await.unwrap();
    limiter.acquire(ms(0)).await.unwrap();
    assert_eq!(system.now(), Instant::ZERO);
    // then one token every 250 ms
    for n in 1..=4 {
        limiter.acquire(Duration::from_secs(1)).await.unwrap();
        assert_eq!(since_start(system.now()), ms(250 * n));
    }
    // a wait of exactly max_wait is allowed
    limiter.acquire(ms(250)).await.unwrap();
    assert_eq!(since_start(system.now()), ms(1_250));
}

#[tokio::test(start_paused = true)]
async fn a_wait_longer_than_max_wait_is_refused_at_once() {
    let system = System::new();
    let limiter = RateLimiter::new(&system, "search", 1.0, 1).unwrap();
    limiter.try_acquire().unwrap();
    tokio::time::advance(ms(200)).await;

    let limited = limiter.acquire(ms(500)).await.unwrap_err();
    assert_eq!(limited.retry_after, ms(800));
    assert_eq!(
        limited.to_string(),
        "rate limiter `search` has no token, retry after 800ms"
    );
    // no time passed, and nothing was reserved
    assert_eq!(since_start(system.now()), ms(200));
    tokio::time::advance(limited.retry_after).await;
    assert_eq!(limiter.available(), 1);
    limiter.try_acquire().unwrap();

    // with callers in line, retry_after counts their reservations too
    let mut waiter = rate_waiter(&system, &limiter, Duration::from_secs(5));
    assert!(poll_once(&mut waiter).await.is_pending());
    assert_eq!(limiter.try_acquire().unwrap_err().retry_after, ms(2_000));
    let limited = limiter.acquire(ms(1_999)).await.unwrap_err();
    assert_eq!(limited.retry_after, ms(2_000));
    assert_eq!(since_start(waiter.await.unwrap()), ms(2_000));
}

#[tokio::test(start_paused = true)]
async fn waiters_are_served_in_order() {
    let system = System::new();
    let limiter = RateLimiter::new(&system, "search", 10.0, 1).unwrap();
    limiter.try_acquire().unwrap();

    let mut waiters: Vec<_> = (0..3)
        .map(|_| rate_waiter(&system, &limiter, Duration::from_secs(1)))
        .collect();
    for waiter in &mut waiters {
        assert!(poll_once(waiter).await.is_pending());
    }
    // a newcomer cannot take a token the waiters are owed
    assert_eq!(limiter.try_acquire().unwrap_err().retry_after, ms(400));
    assert_eq!(limiter.available(), 0);

    // run them in reverse order: each still gets its token at its turn
    let handles: Vec<_> = waiters.into_iter().rev().map(tokio::spawn).collect();
    let mut served = Vec::new();
    for handle in handles {
        served.push(since_start(handle.await.unwrap().unwrap()));
    }
    assert_eq!(served, [ms(300), ms(200), ms(100)]);
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_wait_gives_the_last_reservation_back() {
    let system = System::new();
    let limiter = RateLimiter::new(&system, "search", 10.0, 1).unwrap();
    limiter.try_acquire().unwrap();

    // the last in line leaves: its turn goes to the next caller
    let mut first = rate_waiter(&system, &limiter, Duration::from_secs(1));
    assert!(poll_once(&mut first).await.is_pending());
    drop(first);
    assert_eq!(limiter.try_acquire().unwrap_err().retry_after, ms(100));
    let next = rate_waiter(&system, &limiter, Duration::from_secs(1));
    assert_eq!(since_start(next.await.unwrap()), ms(100));

    // one in the middle leaves: the others keep their turns, and its token is lost
    let mut a = rate_waiter(&system, &limiter, Duration::from_secs(1));
    let mut b = rate_waiter(&system, &limiter, Duration::from_secs(1));
    assert!(poll_once(&mut a).await.is_pending());
    assert!(poll_once(&mut b).await.is_pending());
    drop(a);
    let c = rate_waiter(&system, &limiter, Duration::from_secs(1));
    let c = tokio::spawn(c);
    assert_eq!(since_start(b.await.unwrap()), ms(300));
    assert_eq!(since_start(c.await.unwrap().unwrap()), ms(400));
}

#[tokio::test(start_paused = true)]
async fn rate_limit_settings_out_of_range_are_typed_errors() {
    let system = System::new();
    for per_second in [0.0, -1.0, f64::NAN, f64::INFINITY, 2e9] {
        let error = RateLimiter::new(&system, "search", per_second, 1).unwrap_err();
        assert!(
            matches!(&error, InvalidRateLimit::Rate { limiter, .. } if &**limiter == "search"),
            "{per_second}: {error:?}"
        );
    }
    assert_eq!(
        RateLimiter::new(&system, "search", 10.0, 0).unwrap_err(),
        InvalidRateLimit::ZeroBurst {
            limiter: "search".into()
        }
    );
    assert_eq!(
        RateLimiter::new(&system, "search", 0.0, 1)
            .unwrap_err()
            .to_string(),
        "rate limiter `search`: 0 per second is not a rate above zero and at most 1e9"
    );
    // the extremes that are allowed
    let fastest = RateLimiter::new(&system, "fast", 1e9, 1).unwrap();
    fastest.try_acquire().unwrap();
    assert_eq!(
        fastest.try_acquire().unwrap_err().retry_after,
        Duration::from_nanos(1)
    );
    let slowest = RateLimiter::new(&system, "slow", 1e-30, 1).unwrap();
    slowest.try_acquire().unwrap();
    assert!(slowest.try_acquire().is_err());
}

/// A caller of `limit.acquire()` that reports when it got its permit.
fn permit_waiter(
    system: &System,
    limit: &ConcurrencyLimit,
) -> Waiter<Result<(ConcurrencyPermit, Instant), snowglobe::resilience::BulkheadFull>> {
    let (system, limit) = (system.clone(), limit.clone());
    Box::pin(async move {
        let permit = limit.acquire().await?;
        Ok((permit, system.now()))
    })
}

#[tokio::test(start_paused = true)]
async fn smoke_concurrency_limit() {
    let system = System::new();
    let limit = ConcurrencyLimit::new(&system, "payments", 2, ms(100)).unwrap();
    assert_eq!(limit.name(), "payments");
    let _a = limit.try_acquire().unwrap();
    let _b = limit.acquire().await.unwrap();
    let full = limit.try_acquire().unwrap_err();
    assert_eq!((&*full.limit, full.max_in_flight), ("payments", 2));
    assert_eq!(full.kind(), FailureKind::BulkheadFull);
    assert_eq!(
        full.to_string(),
        "concurrency limit `payments` has all 2 permits in use"
    );
}

#[tokio::test(start_paused = true)]
async fn in_flight_calls_are_capped() {
    let system = System::new();
    let limit = ConcurrencyLimit::new(&system, "payments", 3, Duration::ZERO).unwrap();
    let mut permits = Vec::new();
    for n in 1..=3 {
        permits.push(limit.try_acquire().unwrap());
        assert_eq!(limit.in_flight(), n);
    }
    for _ in 0..4 {
        assert!(limit.try_acquire().is_err());
    }
    // max_wait zero: acquire only tries
    assert!(limit.acquire().await.is_err());
    assert_eq!(system.now(), Instant::ZERO);
    assert_eq!(
        (limit.in_flight(), limit.waiting(), limit.rejected()),
        (3, 0, 5)
    );

    permits.pop();
    assert_eq!(limit.in_flight(), 2);
    permits.push(limit.try_acquire().unwrap());
    // a clone is the same limit
    assert!(limit.clone().try_acquire().is_err());
    assert_eq!(limit.rejected(), 6);
    permits.clear();
    assert_eq!(limit.in_flight(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_waiter_gets_the_permit_that_is_dropped() {
    let system = System::new();
    let limit = ConcurrencyLimit::new(&system, "payments", 1, Duration::from_secs(1)).unwrap();
    let held = limit.try_acquire().unwrap();
    let mut waiter = permit_waiter(&system, &limit);
    assert!(poll_once(&mut waiter).await.is_pending());
    assert_eq!((limit.in_flight(), limit.waiting()), (1, 1));

    tokio::time::advance(ms(300)).await;
    drop(held);
    let (permit, at) = waiter.await.unwrap();
    assert_eq!(since_start(at), ms(300));
    assert_eq!(
        (limit.in_flight(), limit.waiting(), limit.rejected()),
        (1, 0, 0)
    );
    drop(permit);
    assert_eq!(limit.in_flight(), 0);
}

#[tokio::test(start_paused = true)]
async fn waiters_get_permits_in_order() {
    let system = System::new();
    let limit = ConcurrencyLimit::new(&system, "payments", 1, Duration::from_secs(1)).unwrap();
    let mut held = limit.try_acquire().unwrap();
    let mut waiters: Vec<_> = (0..3).map(|_| permit_waiter(&system, &limit)).collect();
    for waiter in &mut waiters {
        assert!(poll_once(waiter).await.is_pending());
    }
    assert_eq!(limit.waiting(), 3);
    // a newcomer does not jump the line
    assert!(limit.try_acquire().is_err());

    for n in 0..3 {
        drop(held);
        // the first still in line gets it; the others keep waiting
        for (k, waiter) in waiters.iter_mut().enumerate().skip(n + 1) {
            assert!(poll_once(waiter).await.is_pending(), "waiter {k}");
        }
        let Poll::Ready(Ok((permit, _))) = poll_once(&mut waiters[n]).await else {
            panic!("waiter {n} has no permit");
        };
        held = permit;
    }
    assert_eq!(limit.waiting(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_wait_ends_at_max_wait_on_virtual_time() {
    let system = System::new();
    let limit = ConcurrencyLimit::new(&system, "payments", 1, ms(750)).unwrap();
    let _held = limit.try_acquire().unwrap();
    let full = limit.acquire().await.unwrap_err();
    assert_eq!(since_start(system.now()), ms(750));
    assert_eq!((full.max_in_flight, limit.rejected()), (1, 1));
    assert_eq!((limit.in_flight(), limit.waiting()), (1, 0));

    // two waiters in line time out together, their waits measured from their own start
    let mut a = permit_waiter(&system, &limit);
    assert!(poll_once(&mut a).await.is_pending());
    tokio::time::advance(ms(250)).await;
    let b = tokio::spawn(permit_waiter(&system, &limit));
    assert!(a.await.is_err());
    assert_eq!(since_start(system.now()), ms(1_500));
    assert!(b.await.unwrap().is_err());
    assert_eq!(since_start(system.now()), ms(1_750));
    assert_eq!((limit.rejected(), limit.waiting()), (3, 0));
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_wait_leaves_the_line() {
    let system = System::new();
    let limit = ConcurrencyLimit::new(&system, "payments", 1, Duration::from_secs(1)).unwrap();
    let held = limit.try_acquire().unwrap();
    let mut gone = permit_waiter(&system, &limit);
    let mut next = permit_waiter(&system, &limit);
    assert!(poll_once(&mut gone).await.is_pending());
    assert!(poll_once(&mut next).await.is_pending());
    drop(gone);
    assert_eq!(limit.waiting(), 1);
    drop(held);
    let (permit, _) = next.await.unwrap();
    assert_eq!((limit.in_flight(), limit.rejected()), (1, 0));
    drop(permit);
    assert_eq!(limit.in_flight(), 0);
}

#[tokio::test(start_paused = true)]
async fn concurrency_settings_out_of_range_are_typed_errors() {
    let system = System::new();
    assert_eq!(
        ConcurrencyLimit::new(&system, "payments", 0, ms(1)).unwrap_err(),
        InvalidLimit::ZeroInFlight {
            limit: "payments".into()
        }
    );
    assert!(matches!(
        ConcurrencyLimit::new(&system, "payments", usize::MAX, ms(1)),
        Err(InvalidLimit::TooManyInFlight {
            max_in_flight: usize::MAX,
            ..
        })
    ));
    assert!(ConcurrencyLimit::new(&system, "payments", usize::MAX >> 3, ms(1)).is_ok());
}
