//! Policies on the messaging path, end to end: the seed article's duplicate-record test
//! (retries over a lossy link, a database that must save each record once), concurrency
//! limits isolating a slow target, the retry budget, and the breaker failing fast.
//!
//! Time is tokio's paused clock: timeouts and backoff run on virtual time, which jumps
//! forward whenever every task waits.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use snowglobe::resilience::{
    BreakerState, BreakerTransition, CallError, CircuitBreaker, CircuitBreakerConfig,
    ConcurrencyLimit, FailureKind, Jitter, Policy, Retry, RetryBudget, SlidingWindow,
};
use snowglobe::{Accepts, Actor, ActorRef, AskError, Context, Dispatch, ReplyTo, System, messages};

const TIMEOUT: Duration = Duration::from_millis(100);

/// The database: one row per insert it runs.
#[derive(Default)]
struct Database {
    rows: Vec<(u64, String)>,
}

impl Actor for Database {
    type Msg = DatabaseMsg;
}

#[messages]
impl Database {
    /// Saves a record once per request, however often the request arrives.
    #[message(idempotent, derive(Clone))]
    fn insert(&mut self, key: u64, value: String) -> usize {
        self.rows.push((key, value));
        self.rows.len()
    }

    /// The same without deduplication: what a retry does to a handler with side effects.
    #[message(derive(Clone))]
    fn insert_unprotected(&mut self, key: u64, value: String) -> usize {
        self.rows.push((key, value));
        self.rows.len()
    }

    #[message]
    fn rows(&self) -> Vec<(u64, String)> {
        self.rows.clone()
    }
}

/// What the link does to one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fate {
    Deliver,
    /// Lost on the way to the database: it never sees it.
    LoseRequest,
    /// The database handles it; the reply is lost on the way back.
    LoseReply,
}

/// The network between callers and the database: forwards each request with its message id,
/// and loses requests or replies as a seeded generator says. A lost message's reply slot is
/// kept unanswered, so its caller times out, as over a real network.
struct Link {
    db: ActorRef<Database>,
    rng: u64,
    lost: Vec<Box<dyn Send>>,
    fates: Vec<Fate>,
}

impl Link {
    fn new(db: ActorRef<Database>, seed: u64) -> Link {
        Link {
            db,
            rng: seed | 1,
            lost: Vec::new(),
            fates: Vec::new(),
        }
    }

    /// Delivers 60 % of messages, loses 20 % of requests and 20 % of replies.
    fn fate(&mut self) -> Fate {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        let fate = match self.rng % 10 {
            0 | 1 => Fate::LoseRequest,
            2 | 3 => Fate::LoseReply,
            _ => Fate::Deliver,
        };
        self.fates.push(fate);
        fate
    }
}

enum LinkMsg {
    Insert(Insert, ReplyTo<usize>),
    Unprotected(InsertUnprotected, ReplyTo<usize>),
    Fates(Fates, ReplyTo<Vec<Fate>>),
}

struct Fates;
impl snowglobe::Message for Fates {
    type Reply = Vec<Fate>;
}

impl Actor for Link {
    type Msg = LinkMsg;
}

impl Accepts<Insert> for LinkMsg {
    fn from_message(msg: Insert, reply: ReplyTo<usize>) -> Self {
        LinkMsg::Insert(msg, reply)
    }
}

impl Accepts<InsertUnprotected> for LinkMsg {
    fn from_message(msg: InsertUnprotected, reply: ReplyTo<usize>) -> Self {
        LinkMsg::Unprotected(msg, reply)
    }
}

impl Accepts<Fates> for LinkMsg {
    fn from_message(msg: Fates, reply: ReplyTo<Vec<Fate>>) -> Self {
        LinkMsg::Fates(msg, reply)
    }
}

impl Link {
    /// Forwards `msg` to the database under the caller's message id, unless its fate is to
    /// be lost on the way there or back.
    async fn forward<M>(&mut self, msg: M, reply: ReplyTo<usize>, id: snowglobe::MessageId)
    where
        M: snowglobe::Message<Reply = usize>,
        DatabaseMsg: Accepts<M>,
    {
        let fate = self.fate();
        if fate == Fate::LoseRequest {
            self.lost.push(Box::new(reply));
            return;
        }
        let saved = self.db.ask(msg).message_id(id).await;
        match (fate, saved) {
            (Fate::Deliver, Ok(row)) => reply.send(row),
            (_, _) => self.lost.push(Box::new(reply)),
        }
    }
}

impl Dispatch<Link> for LinkMsg {
    async fn dispatch(self, link: &mut Link, ctx: &mut Context<Link>) {
        let id = ctx.headers().id();
        match self {
            LinkMsg::Insert(insert, reply) => link.forward(insert, reply, id).await,
            LinkMsg::Unprotected(insert, reply) => link.forward(insert, reply, id).await,
            LinkMsg::Fates(_, reply) => reply.send(link.fates.clone()),
        }
    }

    fn message_type(&self) -> &'static str {
        match self {
            LinkMsg::Insert(..) => "Insert",
            LinkMsg::Unprotected(..) => "InsertUnprotected",
            LinkMsg::Fates(..) => "Fates",
        }
    }
}

/// Retries generous enough that no request loses every attempt (0.4^30).
fn retrying(system: &System) -> Policy {
    Policy::builder(system)
        .retry(
            Retry::new(30)
                .backoff(Duration::from_millis(5), Duration::from_millis(200))
                .jitter(Jitter::Full),
        )
        .timeout(TIMEOUT)
        .build()
}

/// `n` callers, each inserting its own record through the policy, all at once.
async fn insert_all(
    link: &ActorRef<Link>,
    policy: &Policy,
    n: u64,
) -> Vec<Result<usize, CallError<Insert>>> {
    let calls: Vec<_> = (0..n)
        .map(|key| {
            let (link, policy) = (link.clone(), policy.clone());
            tokio::spawn(async move {
                let insert = Insert {
                    key,
                    value: format!("order {key}"),
                };
                policy.call(link.ask(insert)).await
            })
        })
        .collect();
    let mut results = Vec::with_capacity(calls.len());
    for call in calls {
        results.push(call.await.expect("a caller panicked"));
    }
    results
}

#[tokio::test(start_paused = true)]
async fn retried_inserts_over_a_lossy_link_save_each_record_exactly_once() {
    for seed in [1, 7, 42, 8431, 65_537] {
        let system = System::new();
        let db = system.spawn(Database::default()).unwrap();
        let link = system.spawn(Link::new(db.clone(), seed)).unwrap();
        let policy = retrying(&system);
        const N: u64 = 200;

        let results = insert_all(&link, &policy, N).await;

        // Every caller got its reply...
        let mut row_numbers: Vec<usize> = results
            .into_iter()
            .map(|r| r.unwrap_or_else(|e| panic!("seed {seed}: a caller got {e:?}")))
            .collect();
        // ...and the table holds exactly one row per request.
        let rows = db.rows().await.unwrap();
        assert_eq!(rows.len(), usize::try_from(N).unwrap(), "seed {seed}");
        let mut keys: Vec<u64> = rows.iter().map(|(k, _)| *k).collect();
        keys.sort_unstable();
        assert_eq!(keys, (0..N).collect::<Vec<_>>(), "seed {seed}");
        // Each caller's reply is its own row.
        row_numbers.sort_unstable();
        assert_eq!(
            row_numbers,
            (1..=usize::try_from(N).unwrap()).collect::<Vec<_>>(),
            "seed {seed}"
        );
        // The link did lose requests and replies, so the retries were needed.
        let fates = link.ask(Fates).await.unwrap();
        assert!(fates.contains(&Fate::LoseReply) && fates.contains(&Fate::LoseRequest));
        assert!(policy.stats().retries > 0);
        system.shutdown().await;
    }
}

#[tokio::test(start_paused = true)]
async fn without_deduplication_the_same_retries_save_duplicates() {
    let system = System::new();
    let db = system.spawn(Database::default()).unwrap();
    let link = system.spawn(Link::new(db.clone(), 42)).unwrap();
    let policy = retrying(&system);
    for key in 0..50 {
        let insert = InsertUnprotected {
            key,
            value: format!("order {key}"),
        };
        policy.call(link.ask(insert)).await.unwrap();
    }
    let rows = db.rows().await.unwrap();
    // Every lost reply became a second row: the bug the idempotency key prevents.
    let lost_replies = link
        .ask(Fates)
        .await
        .unwrap()
        .iter()
        .filter(|f| **f == Fate::LoseReply)
        .count();
    assert!(lost_replies > 0);
    assert_eq!(rows.len(), 50 + lost_replies);
    system.shutdown().await;
}

/// A service whose handler takes `delay` of virtual time.
struct Slow {
    delay: Duration,
    handled: Arc<AtomicU32>,
}

impl Actor for Slow {
    type Msg = SlowMsg;
}

#[messages]
impl Slow {
    #[message(derive(Clone))]
    async fn work(&mut self, n: u32, ctx: &mut Context<Self>) -> u32 {
        ctx.system().sleep(self.delay).await;
        self.handled.fetch_add(1, Ordering::Relaxed);
        n
    }
}

fn slow(system: &System, delay: Duration) -> (ActorRef<Slow>, Arc<AtomicU32>) {
    let handled = Arc::new(AtomicU32::new(0));
    let actor = system
        .spawn(Slow {
            delay,
            handled: handled.clone(),
        })
        .unwrap();
    (actor, handled)
}

#[tokio::test(start_paused = true)]
async fn a_slow_target_fills_its_own_bulkhead_only() {
    let system = System::new();
    let (reports, _) = slow(&system, Duration::from_secs(10));
    let (payments, paid) = slow(&system, Duration::ZERO);
    let to_reports = Policy::builder(&system)
        .concurrency_limit(ConcurrencyLimit::new(&system, "reports", 2, Duration::ZERO).unwrap())
        .timeout(Duration::from_secs(60))
        .build();
    let to_payments = Policy::builder(&system)
        .concurrency_limit(ConcurrencyLimit::new(&system, "payments", 2, Duration::ZERO).unwrap())
        .build();

    // Two report calls take the reports bulkhead's permits and wait on the slow service.
    let stuck: Vec<_> = (0..2)
        .map(|n| {
            let (reports, to_reports) = (reports.clone(), to_reports.clone());
            tokio::spawn(async move { to_reports.call(reports.work(n)).await })
        })
        .collect();
    tokio::task::yield_now().await;
    // A third is refused at once: the bulkhead is full...
    let third = to_reports.call(reports.work(3)).await;
    assert!(
        matches!(third, Err(CallError::BulkheadFull(_))),
        "{third:?}"
    );
    assert_eq!(third.unwrap_err().kind(), FailureKind::BulkheadFull);
    // ...while calls to payments go through, in order, as if reports did not exist.
    for n in 0..10 {
        assert_eq!(to_payments.call(payments.work(n)).await.unwrap(), n);
    }
    assert_eq!(paid.load(Ordering::Relaxed), 10);
    for call in stuck {
        assert!(call.await.unwrap().is_ok());
    }
    assert_eq!(to_reports.stats().rejected_attempts, 1);
    system.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn the_retry_budget_caps_retries_when_everything_fails() {
    let system = System::new();
    // Every ask times out: the handler takes far longer than the deadline.
    let (down, _) = slow(&system, Duration::from_secs(3_600));
    let budget = RetryBudget::new(&system, Duration::from_secs(10), 0, 0.2).unwrap();
    let policy = Policy::builder(&system)
        .retry(Retry::new(5).budget(budget).jitter(Jitter::None))
        .timeout(Duration::from_millis(10))
        .build();
    for n in 0..50 {
        let result = policy.call(down.work(n)).await;
        assert!(matches!(result, Err(CallError::Ask(AskError::Timeout))));
    }
    let stats = policy.stats();
    // Without the budget, 50 calls would make 200 retries; with 20 % of calls, about 10.
    assert!(stats.retries <= 11, "{stats:?}");
    assert!(stats.retries >= 9, "{stats:?}");
    assert_eq!(stats.calls, 50);
    assert_eq!(stats.failed_calls, 50);
    system.shutdown().await;
}

/// A service that fails (with an `Err` reply) while its switch is off.
struct Switch {
    healthy: Arc<std::sync::atomic::AtomicBool>,
    handled: Arc<AtomicU32>,
}

impl Actor for Switch {
    type Msg = SwitchMsg;
}

#[messages]
impl Switch {
    #[message(derive(Clone))]
    fn get(&mut self) -> Result<u32, String> {
        self.handled.fetch_add(1, Ordering::Relaxed);
        if self.healthy.load(Ordering::Relaxed) {
            Ok(1)
        } else {
            Err("database unavailable".into())
        }
    }
}

/// Records the breaker transitions published on the bus.
#[derive(Default)]
struct Transitions {
    seen: Vec<(BreakerState, BreakerState)>,
}

impl Actor for Transitions {
    type Msg = TransitionsMsg;
}

#[messages]
impl Transitions {
    #[handler]
    fn transition(&mut self, event: BreakerTransition) {
        assert_eq!(&*event.breaker, "reports");
        self.seen.push((event.from, event.to));
    }

    #[message]
    fn seen(&self) -> Vec<(BreakerState, BreakerState)> {
        self.seen.clone()
    }
}

#[tokio::test(start_paused = true)]
async fn an_open_breaker_fails_fast_and_a_trial_closes_it() {
    let system = System::new();
    let healthy = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let handled = Arc::new(AtomicU32::new(0));
    let service = system
        .spawn(Switch {
            healthy: healthy.clone(),
            handled: handled.clone(),
        })
        .unwrap();
    let transitions = system.spawn(Transitions::default()).unwrap();
    system
        .events()
        .subscribe::<BreakerTransition>(transitions.clone())
        .unwrap();
    let breaker = CircuitBreaker::new(
        &system,
        CircuitBreakerConfig::new("reports")
            .sliding_window(SlidingWindow::Count(4))
            .minimum_calls(4)
            .failure_rate_threshold(50.0)
            .wait_in_open(Duration::from_secs(30))
            .permitted_calls_in_half_open(1),
    )
    .unwrap();
    let policy = Policy::builder(&system)
        .circuit_breaker(breaker.clone())
        .build();
    for _ in 0..4 {
        let reply = policy.call_classified(service.get(), Result::is_err).await;
        assert!(matches!(reply, Ok(Err(_))), "{reply:?}");
    }
    assert_eq!(breaker.state(), BreakerState::Open);

    // Open: refused without reaching the service.
    let refused = policy.call_classified(service.get(), Result::is_err).await;
    match refused {
        Err(CallError::BreakerOpen(rejected)) => {
            assert_eq!(&*rejected.breaker, "reports");
            assert!(rejected.to_string().contains("reports"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(handled.load(Ordering::Relaxed), 4);

    // After the wait, one trial call goes through; it succeeds, and the breaker closes.
    tokio::time::advance(Duration::from_secs(30)).await;
    healthy.store(true, Ordering::Relaxed);
    let trial = policy.call_classified(service.get(), Result::is_err).await;
    assert_eq!(trial.unwrap(), Ok(1));
    assert_eq!(breaker.state(), BreakerState::Closed);
    assert_eq!(handled.load(Ordering::Relaxed), 5);
    assert_eq!(
        transitions.seen().await.unwrap(),
        [
            (BreakerState::Closed, BreakerState::Open),
            (BreakerState::Open, BreakerState::HalfOpen),
            (BreakerState::HalfOpen, BreakerState::Closed),
        ]
    );
    system.shutdown().await;
}

/// Replies with the time its caller has left, failing the first `failures` calls.
struct Deadlines {
    failures: u32,
    seen: Vec<Option<Duration>>,
}

impl Actor for Deadlines {
    type Msg = DeadlinesMsg;
}

#[messages]
impl Deadlines {
    #[message(derive(Clone))]
    fn left(&mut self, ctx: &mut Context<Self>) -> Result<(), String> {
        self.seen.push(ctx.headers().remaining(ctx.now()));
        if self.failures > 0 {
            self.failures -= 1;
            return Err("not yet".into());
        }
        Ok(())
    }

    #[message]
    fn time_left(&self) -> Vec<Option<Duration>> {
        self.seen.clone()
    }
}

#[tokio::test(start_paused = true)]
async fn the_total_deadline_travels_with_every_attempt() {
    let system = System::new();
    let service = system
        .spawn(Deadlines {
            failures: 2,
            seen: Vec::new(),
        })
        .unwrap();
    let backoff = Duration::from_millis(50);
    let policy = Policy::builder(&system)
        .retry(
            Retry::new(5)
                .backoff(backoff, backoff)
                .jitter(Jitter::None)
                .retry_on(|kind| kind == FailureKind::Application),
        )
        .timeout(Duration::from_secs(1))
        .total_timeout(Duration::from_millis(300))
        .build();
    let reply = policy.call_classified(service.left(), Result::is_err).await;
    assert_eq!(reply.unwrap(), Ok(()));
    // Each attempt's deadline is the total one (shorter than the per-attempt second), so the
    // handler sees what is left of it after each backoff.
    let ms = |n| Some(Duration::from_millis(n));
    assert_eq!(
        service.time_left().await.unwrap(),
        [ms(300), ms(250), ms(200)]
    );
    assert_eq!(policy.stats().retries, 2);
    system.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_call_gives_back_its_trial_slot_and_its_permit() {
    let system = System::new();
    let (service, _) = slow(&system, Duration::from_secs(60));
    let breaker = CircuitBreaker::new(
        &system,
        CircuitBreakerConfig::new("reports").permitted_calls_in_half_open(1),
    )
    .unwrap();
    breaker.transition_to_half_open();
    let limit = ConcurrencyLimit::new(&system, "reports", 1, Duration::ZERO).unwrap();
    let policy = Policy::builder(&system)
        .circuit_breaker(breaker.clone())
        .concurrency_limit(limit.clone())
        .build();

    // The call takes the only trial slot and the only permit, sends, and waits...
    let mut call = Box::pin(policy.call(service.work(1)));
    let polled = std::future::poll_fn(|cx| std::task::Poll::Ready(call.as_mut().poll(cx))).await;
    assert!(polled.is_pending());
    assert_eq!(limit.in_flight(), 1);
    let refused = policy.call(service.work(2)).await;
    assert!(
        matches!(refused, Err(CallError::BreakerOpen(_))),
        "{refused:?}"
    );
    assert_eq!(refused.unwrap_err().kind(), FailureKind::BreakerHalfOpen);

    // ...until its caller gives up on it: both go back, and the next call may be the trial.
    drop(call);
    assert_eq!(limit.in_flight(), 0);
    assert_eq!(breaker.state(), BreakerState::HalfOpen);
    assert!(breaker.try_acquire().is_ok());
    system.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn retries_without_backoff_wait_for_a_full_bulkhead_instead_of_spinning() {
    let system = System::new();
    let (service, handled) = slow(&system, Duration::from_millis(10));
    let limit = ConcurrencyLimit::new(&system, "reports", 1, Duration::ZERO).unwrap();
    let holder = Policy::builder(&system)
        .concurrency_limit(limit.clone())
        .build();
    // No backoff, unlimited attempts: only the total deadline ends the retries.
    let retrying = Policy::builder(&system)
        .concurrency_limit(limit)
        .retry(Retry::new(u32::MAX))
        .total_timeout(Duration::from_secs(1))
        .build();
    let first = tokio::spawn({
        let (service, holder) = (service.clone(), holder.clone());
        async move { holder.call(service.work(1)).await }
    });
    tokio::task::yield_now().await;
    let started = system.now();
    assert_eq!(retrying.call(service.work(2)).await.unwrap(), 2);
    assert_eq!(first.await.unwrap().unwrap(), 1);
    // It got the permit once the first call was done, about 10 ms later, a pause per retry.
    let waited = system.now().saturating_duration_since(started);
    assert!(waited >= Duration::from_millis(20), "{waited:?}");
    assert!(
        (1..=12).contains(&retrying.stats().retries),
        "{:?}",
        retrying.stats()
    );
    assert_eq!(handled.load(Ordering::Relaxed), 2);
    system.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn an_attempt_whose_deadline_passes_in_the_local_queue_is_not_sent() {
    let system = System::new();
    let (service, handled) = slow(&system, Duration::from_secs(1));
    let limit = ConcurrencyLimit::new(&system, "reports", 1, Duration::from_secs(10)).unwrap();
    let policy = Policy::builder(&system)
        .concurrency_limit(limit.clone())
        .timeout(Duration::from_millis(100))
        .total_timeout(Duration::from_millis(200))
        .build();
    // Another caller behind the same limit, patient: it holds the permit for the whole second.
    let patient = Policy::builder(&system)
        .concurrency_limit(limit)
        .timeout(Duration::from_secs(5))
        .build();
    let holder = tokio::spawn({
        let service = service.clone();
        async move { patient.call(service.work(1)).await }
    });
    tokio::task::yield_now().await;
    let started = system.now();
    let late = policy.call(service.work(2)).await;
    // The permit's wait ends with the attempt's deadline (100 ms), not the limit's 10 s...
    assert!(matches!(late, Err(CallError::BulkheadFull(_))), "{late:?}");
    assert_eq!(
        system.now().saturating_duration_since(started),
        Duration::from_millis(100)
    );
    assert_eq!(holder.await.unwrap().unwrap(), 1);
    // ...and the message was never sent, so it does not run after its caller gave up.
    assert_eq!(handled.load(Ordering::Relaxed), 1);
    system.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn waiting_for_a_token_is_not_a_slow_call() {
    let system = System::new();
    let (service, _) = slow(&system, Duration::ZERO);
    let breaker = CircuitBreaker::new(
        &system,
        CircuitBreakerConfig::new("search")
            .sliding_window(SlidingWindow::Count(2))
            .minimum_calls(2)
            .slow_call_duration(Duration::from_millis(50))
            .slow_call_rate_threshold(50.0),
    )
    .unwrap();
    let limiter = snowglobe::resilience::RateLimiter::new(&system, "search", 10.0, 1).unwrap();
    let policy = Policy::builder(&system)
        .circuit_breaker(breaker.clone())
        .rate_limit(limiter, Duration::from_secs(1))
        .build();
    for n in 0..2 {
        // The second call waits 100 ms for its token, then is answered at once.
        assert_eq!(policy.call(service.work(n)).await.unwrap(), n);
    }
    assert_eq!(breaker.state(), BreakerState::Closed);
    assert_eq!(breaker.metrics().slow_calls, 0);
    system.shutdown().await;
}

/// Answers `Err` to its first `busy` calls; deduplicates by id.
struct Busy {
    busy: u32,
}

impl Actor for Busy {
    type Msg = BusyMsg;
}

#[messages]
impl Busy {
    #[message(idempotent, derive(Clone))]
    fn fetch(&mut self) -> Result<u32, String> {
        if self.busy > 0 {
            self.busy -= 1;
            return Err("busy".into());
        }
        Ok(7)
    }
}

#[tokio::test(start_paused = true)]
async fn retrying_an_answered_failure_asks_again_under_a_new_id() {
    let system = System::new();
    let busy = system.spawn(Busy { busy: 2 }).unwrap();
    let policy = Policy::builder(&system)
        .retry(Retry::new(5).retry_on(|kind| kind == FailureKind::Application))
        .build();
    // Under one id, the deduplicating service would repeat its first "busy" forever.
    let reply = policy.call_classified(busy.fetch(), Result::is_err).await;
    assert_eq!(reply.unwrap(), Ok(7));
    assert_eq!(policy.stats().retries, 2);
    system.shutdown().await;
}

/// Slow calls through a policy are still counted once the breaker is settled (its count
/// window full), where good calls that cannot be slow are counted without reading the
/// clock: with a slow-call threshold under the attempt timeout, the clock is read.
#[tokio::test(start_paused = true)]
async fn a_settled_breaker_behind_a_policy_still_sees_slow_calls() {
    let system = System::new();
    let (fast, _) = slow(&system, Duration::ZERO);
    let (sluggish, _) = slow(&system, Duration::from_secs(2));
    let config = |slow: Duration| {
        CircuitBreakerConfig::new("search")
            .sliding_window(SlidingWindow::Count(4))
            .minimum_calls(4)
            .slow_call_duration(slow)
            .slow_call_rate_threshold(50.0)
    };
    // Slow calls are those over 1 s; attempts may take 5 s.
    let breaker = CircuitBreaker::new(&system, config(Duration::from_secs(1))).unwrap();
    let policy = Policy::builder(&system)
        .circuit_breaker(breaker.clone())
        .timeout(Duration::from_secs(5))
        .build();
    for n in 0..4 {
        policy.call(fast.work(n)).await.unwrap();
    }
    assert_eq!(
        breaker.metrics().buffered_calls,
        4,
        "settled: a full window"
    );
    policy.call(sluggish.work(4)).await.unwrap();
    assert_eq!(
        breaker.state(),
        BreakerState::Closed,
        "one slow call in four"
    );
    policy.call(sluggish.work(5)).await.unwrap();
    assert_eq!(breaker.state(), BreakerState::Open, "two in four: 50 %");
    assert_eq!(breaker.metrics().slow_calls, 2);

    // With slow calls over 10 s and attempts cut at 5 s, no answered call can be slow.
    let breaker = CircuitBreaker::new(&system, config(Duration::from_secs(10))).unwrap();
    let policy = Policy::builder(&system)
        .circuit_breaker(breaker.clone())
        .timeout(Duration::from_secs(5))
        .build();
    for n in 0..8 {
        policy.call(sluggish.work(n)).await.unwrap();
    }
    let metrics = breaker.metrics();
    assert_eq!((metrics.buffered_calls, metrics.slow_calls), (4, 0));
    system.shutdown().await;
}
