//! Criterion benches of the deterministic simulator, one group `sim`:
//!
//! - `tells_100k`: one simulation run in which an actor tells 100,000 messages to a second
//!   actor (awaiting each tell, so backpressure applies), then the test asks for the count.
//!   The throughput line is simulated deliveries per second of wall time (target: at least
//!   1,000,000), including the system's start and shutdown.
//! - `asks_10k`: 10,000 asks in a row from the run's future to one actor: every ask is a
//!   round trip through the scheduler (the asker parks, the actor is polled, the reply wakes
//!   the asker), so this line shows the executor's cost per task switch.
//! - `timer_hour`: one virtual hour of a once-a-second `send_interval` (3,600 ticks, each a
//!   timer on the virtual clock, a tell and a handler); idle time between ticks costs nothing.
//! - `network_tells_100k`: the same 100,000 tells, but from an actor on one simulated node
//!   to an actor on another: each message crosses the network model (its fate drawn, a
//!   link pump on virtual time, send and deliver recorded in the trace), timed until the
//!   receiver reports the last one in.
//! - `shop_ten_minutes`: one seed of the `sim_shop` example (600 orders over three nodes,
//!   1–50 ms latency, 1 % loss, a partition, a crash and restart, its checks after every
//!   step), then idle to ten minutes of virtual time.
//!
//! ```text
//! cargo bench --bench sim
//! ```

use std::time::Duration;

#[path = "../examples/sim_shop/services.rs"]
#[allow(dead_code)] // the bench uses the scenario, not the example's reporting
mod services;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use snowglobe::sim::{Simulation, World};
use snowglobe::{Actor, ActorRef, BoxError, Context, messages};
use tokio::sync::oneshot;

const TELLS: u64 = 100_000;
const ASKS: u64 = 10_000;
const TICKS: u32 = 3600;

#[derive(Actor, Default)]
struct Sink {
    count: u64,
}

#[messages]
impl Sink {
    #[message]
    fn inc(&mut self) {
        self.count += 1;
    }

    #[message]
    fn count(&mut self) -> u64 {
        self.count
    }
}

/// Counts what it is told and says when the last of `expected` has arrived.
#[derive(Actor)]
struct Landing {
    count: u64,
    expected: u64,
    all_in: Option<oneshot::Sender<()>>,
}

#[messages]
impl Landing {
    #[message]
    fn land(&mut self) {
        self.count += 1;
        if self.count == self.expected
            && let Some(all_in) = self.all_in.take()
        {
            let _ = all_in.send(());
        }
    }
}

/// Tells a `Landing` from its own node.
#[derive(Actor)]
struct Launcher {
    to: ActorRef<Landing>,
}

#[messages]
impl Launcher {
    #[message]
    async fn launch(&mut self, n: u64) {
        for _ in 0..n {
            if self.to.land().tell().await.is_err() {
                return;
            }
        }
    }
}

#[derive(Actor)]
struct Source {
    sink: ActorRef<Sink>,
}

#[messages]
impl Source {
    /// Tells the sink `n` times, waiting for room when its mailbox is full.
    #[message]
    async fn burst(&mut self, n: u64) {
        for _ in 0..n {
            if self.sink.inc().tell().await.is_err() {
                return;
            }
        }
    }
}

struct Ticker {
    ticks: u32,
    done: Option<oneshot::Sender<()>>,
}

impl Actor for Ticker {
    type Msg = TickerMsg;

    async fn on_start(&mut self, ctx: &mut Context<Self>) -> Result<(), BoxError> {
        ctx.send_interval(Duration::from_secs(1), || Tick);
        Ok(())
    }
}

#[messages]
impl Ticker {
    #[message]
    fn tick(&mut self) {
        self.ticks += 1;
        if self.ticks == TICKS
            && let Some(done) = self.done.take()
        {
            let _ = done.send(());
        }
    }
}

fn tells(c: &mut Criterion) {
    let mut group = c.benchmark_group("sim");
    group.sample_size(20);
    group.throughput(Throughput::Elements(TELLS));
    group.bench_function("tells_100k", |b| {
        b.iter(|| {
            let mut sim = Simulation::with_seed(1);
            let count = sim
                .run(|system| async move {
                    let sink = system.spawn(Sink::default()).expect("spawn sink");
                    let source = system
                        .spawn(Source { sink: sink.clone() })
                        .expect("spawn source");
                    source.burst(TELLS).await.expect("burst");
                    sink.count().await.expect("count")
                })
                .expect("simulation run");
            assert_eq!(count, TELLS);
        });
    });
    group.bench_function("network_tells_100k", |b| {
        b.iter(|| {
            let mut sim = Simulation::with_seed(1);
            sim.run(|system| async move {
                let world = World::of(&system).expect("a simulation");
                let (a, b) = (world.node("a"), world.node("b"));
                let (all_in, landed) = oneshot::channel();
                let landing = b
                    .system()
                    .spawn(Landing {
                        count: 0,
                        expected: TELLS,
                        all_in: Some(all_in),
                    })
                    .expect("spawn landing");
                let launcher = a
                    .system()
                    .spawn(Launcher { to: landing })
                    .expect("spawn launcher");
                launcher.launch(TELLS).await.expect("launch");
                landed.await.expect("every message lands");
            })
            .expect("simulation run");
        });
    });
    group.throughput(Throughput::Elements(1));
    group.bench_function("shop_ten_minutes", |b| {
        b.iter(|| {
            let outcome = services::Outcome::default();
            let mut sim = services::simulation(8431, &outcome);
            let run = outcome.clone();
            sim.run(move |system| async move {
                services::scenario(system.clone(), services::Keys::OnDisk, run).await;
                let ten_minutes = snowglobe::Instant::ZERO + Duration::from_secs(600);
                system.sleep(ten_minutes - system.now()).await;
            })
            .expect("the fixed shop passes");
        });
    });
    group.throughput(Throughput::Elements(ASKS));
    group.bench_function("asks_10k", |b| {
        b.iter(|| {
            let mut sim = Simulation::with_seed(1);
            sim.run(|system| async move {
                let sink = system.spawn(Sink::default()).expect("spawn sink");
                for _ in 0..ASKS {
                    sink.count().await.expect("count");
                }
            })
            .expect("simulation run");
        });
    });
    group.throughput(Throughput::Elements(u64::from(TICKS)));
    group.bench_function("timer_hour", |b| {
        b.iter(|| {
            let mut sim = Simulation::with_seed(1);
            sim.run(|system| async move {
                let (done, finished) = oneshot::channel();
                system
                    .spawn(Ticker {
                        ticks: 0,
                        done: Some(done),
                    })
                    .expect("spawn ticker");
                finished.await.expect("an hour of ticks");
                assert_eq!(system.now().as_nanos(), 3_600_000_000_000);
            })
            .expect("simulation run");
        });
    });
    group.finish();
}

criterion_group!(benches, tells);
criterion_main!(benches);
