//! The services of the simulated shop, and the scenario that runs them on three simulated
//! machines. Shared by the example (`main.rs`) and its test (`tests/sim_shop.rs`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use snowglobe::resilience::{DedupStore, MemoryDedupStore};
use snowglobe::sim::{
    Latency, Link, NodeState, SimError, Simulation, SweepError, SweepReport, Trace, World,
};
use snowglobe::{ActorRef, ChildSpec, Context, MessageId, SpawnOptions, System, messages};

/// How many orders the scenario places: 20 a second for the first 30 seconds.
pub(crate) const ORDERS: u64 = 600;
const ORDERS_PER_SECOND: u32 = 20;
/// Idempotency keys the store on disk keeps: more than the run's orders, so that none is
/// forgotten before its last retry.
const KEYS_KEPT: usize = 4_096;
/// Checkout workers on the orders machine: charges in flight at once.
const WORKERS: usize = 8;

/// What payments keeps on disk: it survives a crash of the payments machine.
#[derive(Default)]
pub(crate) struct Ledger {
    /// How many times each order was charged.
    charges: BTreeMap<u64, u32>,
}

impl Ledger {
    /// The first order charged more than once, if any.
    pub(crate) fn charged_twice(&self) -> Option<u64> {
        self.charges
            .iter()
            .find_map(|(&order, &n)| (n > 1).then_some(order))
    }
}

/// The payment service. Its idempotency keys are remembered by the runtime's dedup window
/// (`#[message(idempotent)]`): where that window lives is the whole difference between the
/// buggy and the fixed shop.
#[derive(snowglobe::Actor)]
struct Payments {
    disk: Arc<Mutex<Ledger>>,
}

#[messages]
impl Payments {
    /// Charges `cents` for `order` and returns the receipt number. A retry carries the id of
    /// the first attempt, so the dedup window answers it without charging again.
    #[message(idempotent)]
    fn charge(&mut self, order: u64, cents: u64) -> u64 {
        let mut disk = self.disk.lock_now();
        *disk.charges.entry(order).or_default() += 1;
        order * 1_000 + cents % 1_000
    }
}

/// A checkout worker on the orders machine: charges an order until payments answers.
#[derive(snowglobe::Actor)]
struct Checkout {
    payments: ActorRef<Payments>,
    settled: Arc<Mutex<BTreeSet<u64>>>,
}

#[messages]
impl Checkout {
    /// Charges `order`, retrying every lost or late answer with the same idempotency key
    /// (the order number) until it comes, then records the order as settled.
    #[message]
    async fn place(&mut self, order: u64, cents: u64, ctx: &mut Context<Self>) {
        let key = MessageId::new(order).expect("orders are numbered from 1");
        let mut pause = Duration::from_millis(50);
        loop {
            let attempt = self
                .payments
                .charge(order, cents)
                .message_id(key)
                .timeout(Duration::from_millis(250))
                .await;
            if attempt.is_ok() {
                break;
            }
            ctx.system().sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(1));
        }
        self.settled.lock_now().insert(order);
    }
}

/// Why a seed failed: the simulation's error, the run's trace, and the order charged twice
/// if that was the broken check.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) error: SimError,
    pub(crate) trace: Trace,
    pub(crate) charged_twice: Option<u64>,
}

/// The failure of a sweep's seed, when the run itself failed (rather than panicked).
pub(crate) fn failure_of(error: &SweepError<Box<Failure>>) -> Option<&Failure> {
    match error {
        SweepError::Scenario(failure) => Some(failure),
        _ => None,
    }
}

/// Runs the scenario once per seed on two threads, each run with a ledger of its own.
pub(crate) fn sweep(keys: Keys, seeds: std::ops::Range<u64>) -> SweepReport<Box<Failure>> {
    Simulation::sweep_runs(seeds, 2, |seed| {
        let outcome = Outcome::default();
        let mut sim = simulation(seed, &outcome);
        let run = {
            let outcome = outcome.clone();
            sim.run(move |system| scenario(system, keys, outcome))
        };
        run.map_err(|error| {
            SweepError::Scenario(Box::new(Failure {
                error,
                trace: sim.trace().clone(),
                charged_twice: outcome.disk.lock_now().charged_twice(),
            }))
        })
    })
}

/// Where payments keeps its idempotency keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Keys {
    /// In the payments machine's memory (the runtime's default): a crash forgets them.
    InMemory,
    /// Next to the ledger, on disk: a store given at spawn, which a crash does not touch.
    OnDisk,
}

/// What one run of the scenario left behind, for its checks.
#[derive(Clone, Default)]
pub(crate) struct Outcome {
    pub(crate) disk: Arc<Mutex<Ledger>>,
    pub(crate) settled: Arc<Mutex<BTreeSet<u64>>>,
}

/// A simulation of the shop with its checks: no order is ever charged twice (checked after
/// every step), and every order is settled within five minutes once the scenario is over.
pub(crate) fn simulation(seed: u64, outcome: &Outcome) -> Simulation {
    let disk = outcome.disk.clone();
    let settled = outcome.settled.clone();
    Simulation::with_seed(seed)
        .link(
            Link::new()
                .latency(Latency::uniform(
                    Duration::from_millis(1),
                    Duration::from_millis(50),
                ))
                .loss(0.01),
        )
        .invariant("no order is charged twice", move || {
            disk.lock_now().charged_twice().is_none()
        })
        .eventually(
            "every order is settled",
            Duration::from_secs(300),
            move || settled.lock_now().len() as u64 == ORDERS,
        )
}

/// The scenario: orders, payments and inventory on three machines; 1–50 ms latency and 1 %
/// loss everywhere; orders and payments cut off from each other from t = 5 s to 15 s;
/// payments crashes at t = 20 s and comes back at t = 22 s. Orders are placed for 30 s.
pub(crate) async fn scenario(system: System, keys: Keys, outcome: Outcome) {
    let world = World::of(&system).expect("runs in a simulation");
    let orders = world.node("orders");
    let payments = world.node("payments");
    let _inventory = world.node("inventory");

    let disk = outcome.disk.clone();
    let mut spec = ChildSpec::new(move || Payments { disk: disk.clone() }).name("payments");
    if keys == Keys::OnDisk {
        let store: Arc<dyn DedupStore> = Arc::new(MemoryDedupStore::new(KEYS_KEPT));
        spec = spec.options(SpawnOptions::new().name("payments").dedup_store(store));
    }
    let pay = payments.spawn_root(spec).expect("payments starts");
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| {
            orders
                .system()
                .spawn(Checkout {
                    payments: pay.clone(),
                    settled: outcome.settled.clone(),
                })
                .expect("a checkout worker starts")
        })
        .collect();

    let (o, p) = (orders.clone(), payments.clone());
    world.schedule(Duration::from_secs(5), move |w| w.partition(&[&o], &[&p]));
    world.schedule(Duration::from_secs(15), World::heal);
    let p = payments.clone();
    world.schedule(Duration::from_secs(20), move |_| p.crash());
    let p = payments.clone();
    world.schedule(Duration::from_secs(22), move |_| p.restart());

    let every = Duration::from_secs(1) / ORDERS_PER_SECOND;
    for (order, worker) in (1..=ORDERS).zip(workers.iter().cycle()) {
        let cents = 500 + system.random_u64() % 10_000;
        worker
            .place(order, cents)
            .tell()
            .await
            .expect("a checkout worker takes the order");
        system.sleep(every).await;
    }
    assert_eq!(payments.state(), NodeState::Up);
}

/// Locks a mutex of the scenario; a panic while holding one already failed the run.
trait LockNow<T> {
    fn lock_now(&self) -> MutexGuard<'_, T>;
}

impl<T> LockNow<T> for Mutex<T> {
    fn lock_now(&self) -> MutexGuard<'_, T> {
        self.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
