//! Deterministic simulation: actors on one thread and a virtual clock, scheduled by a seed.
//! Nothing here waits on wall time; every duration below is virtual.

use std::future::IntoFuture;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use snowglobe::resilience::RateLimiter;
use snowglobe::sim::{SimError, Simulation, TraceKind};
use snowglobe::{
    Actor, ActorRef, AskError, Backoff, BoxError, BulkheadError, ChildSpec, Context, Instant,
    SpawnError, SpawnOptions, System, messages,
};
use tokio::sync::oneshot;

const SECOND: Duration = Duration::from_secs(1);

#[test]
fn smoke_asks_and_tells_run_in_a_simulation() {
    let mut sim = Simulation::with_seed(1);
    let total = sim
        .run(|system| async move {
            let counter = system.spawn(Counter::default()).unwrap();
            for k in 1..=10 {
                counter.add(k).tell().await.unwrap();
            }
            counter.total().await.unwrap()
        })
        .unwrap();
    assert_eq!(total, 55);
    assert_eq!(sim.seed(), 1);
    assert!(!sim.trace().is_empty());
}

#[test]
fn an_hour_of_one_second_ticks_counts_3600_on_virtual_time() {
    let mut sim = Simulation::with_seed(2);
    let (at_last_tick, now) = sim
        .run(|system| async move {
            let (done, reached) = oneshot::channel();
            system
                .spawn(Ticker {
                    ticks: 0,
                    until: 3600,
                    done: Some(done),
                })
                .unwrap();
            let at_last_tick = reached.await.unwrap();
            (at_last_tick, system.now())
        })
        .unwrap();
    assert_eq!(at_last_tick, Instant::from_nanos(3600 * 1_000_000_000));
    assert_eq!(now, at_last_tick, "the clock reads one hour");
    let fired = sim
        .trace()
        .events()
        .iter()
        .filter(|e| e.kind == TraceKind::TimerFire)
        .count();
    assert!(
        fired >= 3600,
        "every tick is a timer on virtual time: {fired}"
    );
}

#[test]
fn an_ask_times_out_on_virtual_time() {
    let mut sim = Simulation::with_seed(3);
    let (result, waited) = sim
        .run(|system| async move {
            let slow = system.spawn(Counter::default()).unwrap();
            let start = system.now();
            let result = slow.ask(Nap { nap: 10 * SECOND }).timeout(SECOND).await;
            (result, system.now() - start)
        })
        .unwrap();
    assert!(matches!(result, Err(AskError::Timeout)), "{result:?}");
    assert_eq!(
        waited, SECOND,
        "the deadline fired exactly at one virtual second"
    );
}

#[test]
fn a_supervised_restart_waits_its_backoff_on_virtual_time() {
    let mut sim = Simulation::with_seed(4);
    let generations = Arc::new(AtomicU32::new(0));
    let made = generations.clone();
    let (crash, after, waited, restarts) = sim
        .run(|system| async move {
            let spec = ChildSpec::new(move || Flaky {
                generation: made.fetch_add(1, Ordering::SeqCst) + 1,
                seen: 0,
            })
            .backoff(Backoff::new(100 * Duration::from_millis(1), SECOND).without_jitter());
            let flaky = system.spawn_supervised(spec).unwrap();
            assert_eq!(flaky.seen().await.unwrap(), (1, 1));
            let start = system.now();
            let crash = flaky.crash().await;
            let after = flaky.seen().await.unwrap();
            (crash, after, system.now() - start, flaky.restarts())
        })
        .unwrap();
    assert!(matches!(crash, Err(AskError::Panicked(_))), "{crash:?}");
    assert_eq!(after, (2, 1), "a fresh second instance answers");
    assert_eq!(restarts, 1);
    assert_eq!(
        waited,
        Duration::from_millis(100),
        "the backoff, on virtual time"
    );
    assert_eq!(generations.load(Ordering::SeqCst), 2);
}

#[test]
fn the_same_seed_gives_the_same_trace_bytes() {
    let run = |seed| {
        let mut sim = Simulation::with_seed(seed);
        let out = sim.run(ring).unwrap();
        (out, sim.trace().to_json_lines())
    };
    let (out_a, a) = run(8431);
    let (out_b, b) = run(8431);
    assert_eq!(out_a, out_b);
    assert_eq!(a, b);
    assert!(a.lines().count() > 20, "a workload with concurrency: {a}");
}

#[test]
fn different_seeds_explore_different_interleavings() {
    let traces: Vec<String> = (0..4)
        .map(|seed| {
            let mut sim = Simulation::with_seed(seed);
            assert_eq!(sim.run(ring).unwrap(), RING_TOTAL, "same result, any order");
            sim.trace().to_json_lines()
        })
        .collect();
    for (i, a) in traces.iter().enumerate() {
        for b in &traces[i + 1..] {
            assert_ne!(a, b, "two seeds took the same interleaving");
        }
    }
}

#[test]
fn fifo_runs_ready_tasks_in_order_and_repeats() {
    let run = || {
        let mut sim = Simulation::with_seed(5).fifo();
        assert_eq!(sim.run(ring).unwrap(), RING_TOTAL);
        sim.trace().clone()
    };
    let (a, b) = (run(), run());
    assert_eq!(a.first_divergence(&b), None);
}

#[test]
fn check_determinism_passes_a_workload_that_stays_inside_the_seam() {
    let mut sim = Simulation::with_seed(6);
    let total = sim.check_determinism(ring).unwrap();
    assert_eq!(total, RING_TOTAL);
}

#[test]
fn check_determinism_reports_where_a_global_changed_the_run() {
    static RUNS: AtomicU64 = AtomicU64::new(0);
    let mut sim = Simulation::with_seed(7);
    let result = sim.check_determinism(|system| async move {
        let counter = system.spawn(Counter::default()).unwrap();
        counter.add(1).tell().await.unwrap();
        // State kept outside the seam, across runs: the second run takes the other branch.
        if RUNS.fetch_add(1, Ordering::SeqCst) % 2 == 1 {
            system.sleep(SECOND).await;
        }
        counter.total().await.unwrap()
    });
    match result {
        Err(SimError::Diverged { seed, divergence }) => {
            assert_eq!(seed, 7);
            assert_ne!(divergence.first, divergence.second);
            assert!(divergence.index > 0);
        }
        other => panic!("expected a divergence, got {other:?}"),
    }
}

#[test]
fn a_run_that_waits_on_nothing_reports_a_stall_instead_of_hanging() {
    let mut sim = Simulation::with_seed(8);
    let (_keep, never) = oneshot::channel::<()>();
    let result = sim.run(|system| async move {
        system.sleep(SECOND).await;
        never.await
    });
    match result {
        Err(SimError::Stalled { at, seed, .. }) => {
            assert_eq!(at, Instant::from_nanos(1_000_000_000));
            assert_eq!(seed, 8);
        }
        other => panic!("expected a stall, got {other:?}"),
    }
}

#[test]
fn threads_and_bulkheads_are_refused_with_typed_errors() {
    let mut sim = Simulation::with_seed(9);
    let (thread, bulkhead) = sim
        .run(|system| async move {
            let thread = system
                .spawn_with(Counter::default(), SpawnOptions::new().dedicated_thread())
                .map(|_| ());
            let bulkhead = system.bulkhead("io", 2).map(|_| ());
            (thread, bulkhead)
        })
        .unwrap();
    assert!(
        matches!(thread, Err(SpawnError::Simulation(_))),
        "{thread:?}"
    );
    assert!(
        matches!(bulkhead, Err(BulkheadError::Simulation)),
        "{bulkhead:?}"
    );
}

#[test]
fn runs_do_not_nest() {
    let mut outer = Simulation::with_seed(10);
    let inner = outer
        .run(|_system| async { Simulation::with_seed(11).run(|_system| async {}) })
        .unwrap();
    assert_eq!(inner, Err(SimError::Nested));
}

#[test]
fn a_system_built_inside_a_run_joins_the_simulation() {
    let mut sim = Simulation::with_seed(12);
    let waited = sim
        .run(|_system| async {
            let own = System::builder().build().unwrap();
            let start = own.now();
            own.sleep(Duration::from_secs(86_400)).await;
            let waited = own.now() - start;
            own.shutdown().await;
            waited
        })
        .unwrap();
    assert_eq!(waited, Duration::from_secs(86_400));
}

#[test]
fn resilience_waits_run_on_virtual_time() {
    let mut sim = Simulation::with_seed(15);
    let waited = sim
        .run(|system| async move {
            // Ten tokens a second, a burst of one: a hundred acquisitions take ~9.9 s.
            let limiter = RateLimiter::new(&system, "search", 10.0, 1).unwrap();
            let start = system.now();
            for _ in 0..100 {
                limiter.acquire(Duration::from_secs(60)).await.unwrap();
            }
            system.now() - start
        })
        .unwrap();
    assert_eq!(waited, Duration::from_millis(9_900));
}

#[test]
fn random_numbers_follow_the_seed() {
    let draw = |seed| {
        Simulation::with_seed(seed)
            .run(|system| async move { (system.random_u64(), system.random_u64()) })
            .unwrap()
    };
    assert_eq!(draw(13), draw(13));
    assert_ne!(draw(13), draw(14));
}

// --- the workload: actors passing a token around a ring, with timers and asks -------------

const RING: u64 = 5;
const LAPS: u64 = 20;
const RING_TOTAL: u64 = RING * LAPS;

/// Five actors pass tokens around a ring; tokens start at every member at once, so the
/// ready set holds several tasks at a time. The run waits for the last token to end, then
/// asks each member how many it passed.
async fn ring(system: System) -> u64 {
    let tokens = Arc::new(Tokens {
        left: AtomicU64::new(RING),
        all_done: tokio::sync::Notify::new(),
    });
    let members: Vec<ActorRef<Member>> = (0..RING)
        .map(|_| {
            system
                .spawn(Member {
                    tokens: Some(tokens.clone()),
                    ..Member::default()
                })
                .unwrap()
        })
        .collect();
    for (i, member) in members.iter().enumerate() {
        member
            .link_to(members[(i + 1) % members.len()].clone())
            .await
            .unwrap();
    }
    for member in &members {
        member.pass(LAPS).tell().await.unwrap();
    }
    // `notify_one` keeps its permit if it comes first: no wake-up is lost.
    tokens.all_done.notified().await;
    let mut passed = 0;
    for member in &members {
        passed += member.passed().await.unwrap();
    }
    passed
}

/// The tokens still going round, and who to tell when none is.
struct Tokens {
    left: AtomicU64,
    all_done: tokio::sync::Notify,
}

#[derive(Actor, Default)]
struct Member {
    next: Option<ActorRef<Member>>,
    passed: u64,
    tokens: Option<Arc<Tokens>>,
}

#[messages]
impl Member {
    #[message]
    fn link_to(&mut self, next: ActorRef<Member>) {
        self.next = Some(next);
    }

    #[message]
    fn pass(&mut self, hops: u64) {
        self.passed += 1;
        if hops > 1
            && let Some(next) = &self.next
        {
            // A tell from inside a handler: the next member runs when the scheduler picks it.
            let _ = next.try_tell(Pass { hops: hops - 1 });
        } else if let Some(tokens) = &self.tokens
            && tokens.left.fetch_sub(1, Ordering::Relaxed) == 1
        {
            tokens.all_done.notify_one();
        }
    }

    #[message]
    fn passed(&mut self) -> u64 {
        self.passed
    }
}

#[derive(Actor, Default)]
struct Counter {
    total: u64,
}

#[messages]
impl Counter {
    #[message]
    fn add(&mut self, k: u64) {
        self.total += k;
    }

    #[message]
    fn total(&mut self) -> u64 {
        self.total
    }

    #[message]
    async fn nap(&mut self, nap: Duration, ctx: &mut Context<Self>) {
        ctx.system().sleep(nap).await;
    }
}

struct Ticker {
    ticks: u32,
    until: u32,
    done: Option<oneshot::Sender<Instant>>,
}

impl Actor for Ticker {
    type Msg = TickerMsg;

    async fn on_start(&mut self, ctx: &mut Context<Self>) -> Result<(), BoxError> {
        ctx.send_interval(SECOND, || Tick);
        Ok(())
    }
}

#[messages]
impl Ticker {
    #[message]
    fn tick(&mut self, ctx: &mut Context<Self>) {
        self.ticks += 1;
        if self.ticks == self.until
            && let Some(done) = self.done.take()
        {
            let _ = done.send(ctx.now());
        }
    }
}

#[derive(Actor)]
struct Flaky {
    generation: u32,
    seen: u32,
}

#[messages]
impl Flaky {
    #[message]
    fn seen(&mut self) -> (u32, u32) {
        self.seen += 1;
        (self.generation, self.seen)
    }

    #[message]
    fn crash(&mut self) {
        panic!("flaky crashed");
    }
}

/// Fails (or panics) for the seeds whose first random draw says so.
async fn flaky(system: System) -> Result<(), String> {
    let draw = system.random_u64() % 8;
    system.sleep(Duration::from_millis(draw)).await;
    match draw {
        0 => Err(format!("bad draw {draw}")),
        1 => panic!("planned panic for draw {draw}"),
        _ => Ok(()),
    }
}

#[test]
fn a_sweep_reports_the_failing_seeds_the_same_on_any_number_of_threads() {
    let one = Simulation::sweep(0..200, 1, flaky);
    let two = Simulation::sweep(0..200, 2, flaky);
    assert_eq!(one.runs, 200);
    assert!(!one.passed());
    assert_eq!(one.failing_seeds(), two.failing_seeds());
    // Each failing seed fails alone too, the same way; the others pass.
    for seed in 0..200 {
        let alone = Simulation::sweep(seed..seed + 1, 1, flaky);
        assert_eq!(
            alone.passed(),
            !one.failing_seeds().contains(&seed),
            "seed {seed}"
        );
    }
    let kinds: Vec<bool> = one
        .failures
        .iter()
        .map(|f| matches!(f.error, snowglobe::sim::SweepError::Panicked(_)))
        .collect();
    assert!(
        kinds.contains(&true) && kinds.contains(&false),
        "both kinds of failure"
    );
    let report = one.to_string();
    assert!(report.starts_with("200 seeds, "));
    assert!(report.contains(&format!("SNOWGLOBE_SEED={}", one.failures[0].seed)));
}

thread_local! {
    /// The account of the run on this thread: sweeps run one simulation per thread at a time.
    static BALANCE: std::cell::Cell<i64> = const { std::cell::Cell::new(0) };
}

/// A teller that checks the shared balance, takes a moment, then withdraws: a check-then-act
/// race with any other teller, which only some interleavings expose.
struct Teller;

impl Actor for Teller {
    type Msg = TellerMsg;
}

#[messages]
impl Teller {
    #[message]
    async fn withdraw(&mut self, amount: i64, ctx: &mut Context<Self>) -> bool {
        let think = Duration::from_millis(ctx.system().random_u64() % 4);
        ctx.system().sleep(think).await;
        if BALANCE.with(std::cell::Cell::get) < amount {
            return false;
        }
        let write = Duration::from_millis(ctx.system().random_u64() % 4);
        ctx.system().sleep(write).await;
        BALANCE.with(|b| b.set(b.get() - amount));
        true
    }
}

async fn two_tellers(system: System) -> Result<(), String> {
    BALANCE.with(|b| b.set(100));
    let (a, b) = (
        system.spawn(Teller).map_err(|e| e.to_string())?,
        system.spawn(Teller).map_err(|e| e.to_string())?,
    );
    let (first, second) = (a.withdraw(80), b.withdraw(80));
    let (x, y) = tokio::join!(first.into_future(), second.into_future());
    let _ = (x.map_err(|e| e.to_string())?, y.map_err(|e| e.to_string())?);
    Ok(())
}

#[test]
fn an_invariant_checked_after_every_step_catches_a_race_some_seeds_expose() {
    let sim = Simulation::with_seed(0).invariant("the balance never goes below zero", || {
        BALANCE.with(std::cell::Cell::get) >= 0
    });
    let report = sim.sweep_seeds(0..200, 2, two_tellers);
    // Some interleavings let both tellers check before either withdraws...
    assert!(!report.passed(), "no seed exposed the race");
    // ...and not all: the ones where one withdraws before the other checks are fine.
    assert!(report.failures.len() < 200, "every seed failed");
    for failure in &report.failures {
        match &failure.error {
            snowglobe::sim::SweepError::Simulation(SimError::Invariant {
                check,
                seed,
                recent,
                ..
            }) => {
                assert_eq!(&**check, "the balance never goes below zero");
                assert_eq!(*seed, failure.seed);
                assert!(!recent.is_empty());
            }
            other => panic!("seed {}: {other:?}", failure.seed),
        }
    }
    // A failing seed fails again alone, at the same virtual time, with the same events.
    let seed = report.failures[0].seed;
    let again = |_: ()| {
        let mut sim = Simulation::with_seed(seed)
            .invariant("the balance never goes below zero", || {
                BALANCE.with(std::cell::Cell::get) >= 0
            });
        sim.run(two_tellers).unwrap_err()
    };
    assert_eq!(again(()), again(()));
}

/// Records the message id of each message it handles.
#[derive(Default)]
struct Ids {
    seen: Vec<u64>,
}

impl Actor for Ids {
    type Msg = IdsMsg;
}

#[messages]
impl Ids {
    #[message]
    fn note(&mut self, ctx: &mut Context<Self>) {
        self.seen.push(ctx.headers().id().get());
    }

    #[message]
    fn noted(&self) -> Vec<u64> {
        self.seen.clone()
    }
}

#[test]
fn message_ids_are_the_same_in_every_run_of_a_seed() {
    let run = || {
        Simulation::with_seed(12)
            .run(|system| async move {
                let ids = system.spawn(Ids::default()).unwrap();
                for _ in 0..3 {
                    ids.note().tell().await.unwrap();
                }
                ids.noted().await.unwrap()
            })
            .unwrap()
    };
    let first = run();
    // Ids handed out between runs, outside any simulation, change nothing.
    let _ = snowglobe::MessageId::next();
    assert_eq!(first, run());
    assert_eq!(first.len(), 3);
}
