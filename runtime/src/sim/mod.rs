//! Deterministic simulation: the same actors, on one thread and a virtual clock, in an order
//! chosen by a seed.
//!
//! A [`Simulation`] builds a [`System`] whose runtime seam is a single-threaded executor
//! instead of tokio. Every task the runtime spawns (actors, timers, ask deadlines,
//! supervision backoff, pub-sub pumps, resilience policies) runs there; the clock
//! ([`System::now`]) is virtual and jumps to the next timer whenever no task is ready, so an
//! hour of idle time costs nothing. Among ready tasks the seed picks which runs next, so
//! different seeds explore different interleavings and the same seed repeats one exactly.
//! Every spawn, poll and timer is recorded in a [`Trace`].
//!
//! ```
//! use std::time::Duration;
//! use snowglobe_runtime::sim::Simulation;
//!
//! let mut sim = Simulation::with_seed(42);
//! let elapsed = sim
//!     .run(|system| async move {
//!         let start = system.now();
//!         system.sleep(Duration::from_secs(3600)).await; // no wall time passes
//!         system.now() - start
//!     })
//!     .unwrap();
//! assert_eq!(elapsed, Duration::from_secs(3600));
//! ```
//!
//! # What breaks determinism
//!
//! Anything the seam does not see: real threads ([`SpawnOptions::dedicated_thread`] and
//! bulkheads are refused with [`SpawnError::Simulation`]), real I/O, `std::time` or
//! `tokio::time` read or slept on directly, randomness not drawn from
//! [`System::random_u64`], and state kept across runs in globals. Compare two runs with
//! [`Simulation::check_determinism`] to find the first event where such a thing changed the
//! run.
//!
//!
//! # Nodes and the network
//!
//! [`World::node`] puts a system of its own on a simulated machine. Between nodes every send
//! crosses the network: a [`Link`] gives it a latency and may lose, duplicate or reorder it,
//! partitions cut links, and nodes [crash](Node::crash), restart, pause and run skewed
//! clocks. The scenario's own system (node 1, `main`) stands outside the network, so test
//! code reaches every node directly. What differs from messages within one process, as on a
//! real network:
//!
//! - a `tell` to another node returns once the network has the message; a receiver that has
//!   stopped makes it a dead letter there, and the sender is not told;
//! - an ask whose request or answer is lost, or whose receiver's node is down, ends in the
//!   asker's timeout; an ask to a stopped actor gets its failure back over the network;
//! - a link keeps order (unless it reorders), and a full mailbox holds back only the
//!   messages for that actor.
//!
//! Limits: an actor linked to a root of a crashed node fails at the crash instant, with no
//! network delay, and watchers of a crashed root are not told (its address stays good); the
//! runtime's own tasks on a crashed node (event-bus pumps, watch deliveries) keep running,
//! and what they send is lost on the network; a handler that crashes its own node runs on
//! to its next await; a skew change applies to timers armed after it; exponential latencies
//! use floating-point logarithms, the same on one platform but not guaranteed across
//! platforms, so a saved trace replays on the platform that recorded it.
//!
//! [`System`]: crate::System
//! [`System::now`]: crate::System::now
//! [`System::random_u64`]: crate::System::random_u64
//! [`SpawnOptions::dedicated_thread`]: crate::SpawnOptions::dedicated_thread
//! [`SpawnError::Simulation`]: crate::SpawnError::Simulation

mod check;
mod clock;
mod error;
mod executor;
mod net;
mod sweep;
mod trace;
mod world;

use std::future::Future;
use std::sync::Arc;

pub use error::SimError;
pub use net::{Latency, Link, NetStats};
pub use sweep::{SweepError, SweepFailure, SweepReport};
pub use trace::{Divergence, Note, Trace, TraceEvent, TraceKind, TraceParseError};
pub use world::{Node, NodeState, World};

pub(crate) use clock::SimSleep;
pub(crate) use executor::{SimRt, Task, YieldNow, current};
pub(crate) use net::{Crossing, send as send_remote};

use crate::actor::Core;
use crate::message::Headers;
use crate::system::Instant;
use executor::MAIN_NODE;

use crate::system::{Random, System};
use check::{Eventually, Invariant};

/// The environment variable [`Simulation::new`] reads its seed from.
///
/// ```text
/// SNOWGLOBE_SEED=8431 cargo test --test orders   # repeat the run that failed with seed 8431
/// ```
///
/// ```
/// assert_eq!(snowglobe_runtime::sim::SEED_VAR, "SNOWGLOBE_SEED");
/// ```
pub const SEED_VAR: &str = "SNOWGLOBE_SEED";

/// A seeded, deterministic run of a [`System`] on virtual time.
///
/// ```
/// use snowglobe_runtime::{Actor, Context, DynMessage, Handler, Message};
/// use snowglobe_runtime::sim::Simulation;
///
/// #[derive(Default)]
/// struct Counter { n: u64 }
/// impl Actor for Counter { type Msg = DynMessage<Self>; }
/// struct Add(u64);
/// impl Message for Add { type Reply = u64; }
/// impl Handler<Add> for Counter {
///     async fn handle(&mut self, Add(k): Add, _: &mut Context<Self>) -> u64 {
///         self.n += k;
///         self.n
///     }
/// }
///
/// let mut sim = Simulation::with_seed(7);
/// let total = sim
///     .run(|system| async move {
///         let counter = system.spawn(Counter::default()).unwrap();
///         counter.tell(Add(1)).await.unwrap();
///         counter.ask(Add(2)).await.unwrap()
///     })
///     .unwrap();
/// assert_eq!(total, 3);
/// assert!(!sim.trace().is_empty());
/// ```
#[derive(Debug, Clone)]
pub struct Simulation {
    seed: u64,
    fifo: bool,
    link: Link,
    trace: Trace,
    invariants: Vec<Invariant>,
    eventually: Vec<Eventually>,
    check_every: u32,
}

impl Simulation {
    /// A simulation seeded from the `SNOWGLOBE_SEED` environment variable (decimal, or hex
    /// with `0x`), or else from a random seed, which it prints to stderr so that a failing run
    /// can be repeated.
    ///
    /// ```
    /// use snowglobe_runtime::sim::Simulation;
    ///
    /// let sim = Simulation::new();
    /// println!("seed {}", sim.seed());
    /// ```
    #[must_use]
    #[allow(clippy::new_without_default)] // reads the environment and may print: not a default
    pub fn new() -> Simulation {
        let from_env = std::env::var(SEED_VAR).ok();
        if let Some(value) = &from_env {
            if let Some(seed) = parse_seed(value) {
                return Simulation::with_seed(seed);
            }
            eprintln!("snowglobe: ignoring {SEED_VAR}={value:?}: not a u64");
        }
        let seed = Random::from_entropy().next_u64();
        eprintln!("snowglobe: simulation seed {seed} (repeat with {SEED_VAR}={seed})");
        Simulation::with_seed(seed)
    }

    /// A simulation with this seed.
    ///
    /// ```
    /// use snowglobe_runtime::sim::Simulation;
    ///
    /// assert_eq!(Simulation::with_seed(8431).seed(), 8431);
    /// ```
    #[must_use]
    pub fn with_seed(seed: u64) -> Simulation {
        Simulation {
            seed,
            fifo: false,
            link: Link::new(),
            trace: Trace::default(),
            invariants: Vec::new(),
            eventually: Vec::new(),
            check_every: 1,
        }
    }

    /// Runs ready tasks in the order they became ready instead of in an order the seed picks:
    /// one fixed interleaving, easier to follow while debugging. The seed still seeds
    /// [`System::random_u64`](crate::System::random_u64).
    ///
    /// ```
    /// use snowglobe_runtime::sim::Simulation;
    ///
    /// let mut sim = Simulation::with_seed(1).fifo();
    /// assert_eq!(sim.run(|_system| async { 2 + 2 }).unwrap(), 4);
    /// ```
    #[must_use]
    pub fn fifo(mut self) -> Simulation {
        self.fifo = true;
        self
    }

    /// Checks `holds` after every step of every run (each task poll: a message handled, a
    /// timer fired, a reply received); the first step after which it is false ends the run
    /// with [`SimError::Invariant`], naming the check, the virtual time, the seed and the
    /// last trace events. Checks read what the scenario shares with them (counters, a
    /// ledger behind a lock): keep them cheap, they run millions of times in a sweep.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// use std::time::Duration;
    /// use snowglobe_runtime::sim::{SimError, Simulation};
    ///
    /// let balance = Arc::new(AtomicU64::new(100));
    /// let mut sim = Simulation::with_seed(9).invariant("balance stays above 50", {
    ///     let balance = balance.clone();
    ///     move || balance.load(Ordering::Relaxed) > 50
    /// });
    /// let result = sim.run(|system| async move {
    ///     for _ in 0..10 {
    ///         balance.fetch_sub(10, Ordering::Relaxed);
    ///         system.sleep(Duration::from_secs(1)).await;
    ///     }
    /// });
    /// match result {
    ///     Err(SimError::Invariant { check, at, .. }) => {
    ///         assert_eq!(&*check, "balance stays above 50");
    ///         assert_eq!(at.as_nanos(), 4_000_000_000); // the fifth withdrawal, at 4 s
    ///     }
    ///     other => panic!("{other:?}"),
    /// }
    /// ```
    #[must_use]
    pub fn invariant(
        mut self,
        name: impl Into<Arc<str>>,
        holds: impl Fn() -> bool + Send + Sync + 'static,
    ) -> Simulation {
        self.invariants.push(Invariant {
            name: name.into(),
            holds: Arc::new(holds),
        });
        self
    }

    /// Checks, once the scenario's future has finished, that `holds` comes true within
    /// `within` of virtual time: a liveness check ("every order is settled once the network
    /// heals"). The simulation keeps running the actors meanwhile and looks after every
    /// step; when the time is up first, the run ends with [`SimError::Liveness`], naming
    /// the check, the time, the seed and the last trace events. Checks are waited for one
    /// after the other, in the order given.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// use std::time::Duration;
    /// use snowglobe_runtime::{Actor, BoxError, Context, DynMessage, Handler, Message};
    /// use snowglobe_runtime::sim::{SimError, Simulation};
    ///
    /// /// Finishes its job `after` its start.
    /// struct Job { after: Duration, done: Arc<AtomicBool> }
    /// struct Finish;
    /// impl Message for Finish { type Reply = (); }
    /// impl Actor for Job {
    ///     type Msg = DynMessage<Self>;
    ///     async fn on_start(&mut self, ctx: &mut Context<Self>) -> Result<(), BoxError> {
    ///         ctx.send_after(self.after, Finish);
    ///         Ok(())
    ///     }
    /// }
    /// impl Handler<Finish> for Job {
    ///     async fn handle(&mut self, _: Finish, _: &mut Context<Self>) {
    ///         self.done.store(true, Ordering::Relaxed);
    ///     }
    /// }
    ///
    /// let run = |after: Duration| {
    ///     let done = Arc::new(AtomicBool::new(false));
    ///     let check = done.clone();
    ///     Simulation::with_seed(2)
    ///         .eventually("the job is done", Duration::from_secs(10), move || {
    ///             check.load(Ordering::Relaxed)
    ///         })
    ///         .run(|system| async move {
    ///             system.spawn(Job { after, done }).unwrap();
    ///         })
    /// };
    /// assert!(run(Duration::from_secs(3)).is_ok());
    /// match run(Duration::from_secs(30)) {
    ///     Err(SimError::Liveness { check, at, .. }) => {
    ///         assert_eq!(&*check, "the job is done");
    ///         assert_eq!(at.as_nanos(), 10_000_000_000);
    ///     }
    ///     other => panic!("{other:?}"),
    /// }
    /// ```
    #[must_use]
    pub fn eventually(
        mut self,
        name: impl Into<Arc<str>>,
        within: std::time::Duration,
        holds: impl Fn() -> bool + Send + Sync + 'static,
    ) -> Simulation {
        self.eventually.push(Eventually {
            name: name.into(),
            within,
            holds: Arc::new(holds),
        });
        self
    }

    /// Checks the invariants after every `steps` steps instead of after each one (and always
    /// when the scenario's future ends): for invariants too costly to evaluate millions of
    /// times. A broken invariant is then reported up to `steps - 1` steps late. 0 counts as 1.
    ///
    /// ```
    /// use snowglobe_runtime::sim::Simulation;
    ///
    /// let sim = Simulation::with_seed(1)
    ///     .invariant("the ledger balances", || true)
    ///     .check_every(100);
    /// # let _ = sim;
    /// ```
    #[must_use]
    pub fn check_every(mut self, steps: u32) -> Simulation {
        self.check_every = steps.max(1);
        self
    }

    /// The link between every two nodes, unless the run sets another
    /// ([`World::set_link`]). The default is [`Link::new`]: 1 ms, nothing lost.
    ///
    /// ```
    /// use std::time::Duration;
    /// use snowglobe_runtime::sim::{Latency, Link, Simulation};
    ///
    /// let sim = Simulation::with_seed(8431).link(
    ///     Link::new()
    ///         .latency(Latency::uniform(Duration::from_millis(1), Duration::from_millis(50)))
    ///         .loss(0.01),
    /// );
    /// # let _ = sim;
    /// ```
    #[must_use]
    pub fn link(mut self, link: Link) -> Simulation {
        self.link = link;
        self
    }

    /// The seed.
    ///
    /// ```
    /// use snowglobe_runtime::sim::Simulation;
    ///
    /// assert_eq!(Simulation::with_seed(3).seed(), 3);
    /// ```
    #[must_use]
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Builds a system on a fresh simulated runtime (virtual time zero), runs `scenario` and
    /// every task it causes until the scenario's future completes, shuts the system down
    /// (also on virtual time) and returns the future's output. The run's [`Trace`] is then
    /// in [`Simulation::trace`].
    ///
    /// Tasks still running after the shutdown are dropped. A system kept from the run spawns
    /// nothing afterwards.
    ///
    /// # Errors
    ///
    /// [`SimError::Stalled`] when the scenario waits on something no task or timer will ever
    /// wake; [`SimError::Nested`] when called inside another run.
    ///
    /// # Panics
    ///
    /// A panic in the scenario's own future propagates, after printing the seed.
    ///
    /// ```
    /// use std::time::Duration;
    /// use snowglobe_runtime::sim::Simulation;
    ///
    /// let mut sim = Simulation::with_seed(11);
    /// let now = sim
    ///     .run(|system| async move {
    ///         system.sleep(Duration::from_millis(250)).await;
    ///         system.now()
    ///     })
    ///     .unwrap();
    /// assert_eq!(now.as_nanos(), 250_000_000);
    /// ```
    pub fn run<F, Fut>(&mut self, scenario: F) -> Result<Fut::Output, SimError>
    where
        F: FnOnce(System) -> Fut,
        Fut: Future,
    {
        // Checked before anything is built, so a refused run leaves nothing behind.
        if current().is_some() {
            return Err(SimError::Nested);
        }
        let rt = SimRt::new(self.seed, self.fifo);
        rt.core.net.lock().set_default(self.link);
        rt.core
            .check_every
            .store(self.check_every, std::sync::atomic::Ordering::Relaxed);
        let system = System::builder().build_simulated(rt.clone());
        let world = World::of(&system);
        let run = scenario(system.clone());
        let eventually = &self.eventually;
        let settle_rt = rt.clone();
        let result = rt.block_on(
            async move {
                let output = run.await;
                let settled = settle_rt.settle(eventually).await;
                if let Some(world) = world {
                    world.shutdown().await;
                }
                system.shutdown().await;
                settled.map(|()| output)
            },
            &self.invariants,
        );
        self.trace = rt.take_trace();
        result.and_then(|r| r)
    }

    /// The trace of the latest run.
    ///
    /// ```
    /// use snowglobe_runtime::sim::{Simulation, TraceKind};
    ///
    /// let mut sim = Simulation::with_seed(2);
    /// sim.run(|_system| async {}).unwrap();
    /// assert_eq!(sim.trace().events()[0].kind, TraceKind::Poll);
    /// ```
    #[must_use]
    pub fn trace(&self) -> &Trace {
        &self.trace
    }

    /// Runs `scenario` again with the seed `recorded` was made with, and checks that the run
    /// does the same, event for event: the replay of a trace saved from a failing run (with
    /// [`Trace::to_json_lines`], read back with [`Trace::from_json_lines`]). A replay that
    /// diverges shows where the code or the scenario changed since.
    ///
    /// # Errors
    ///
    /// [`SimError::Diverged`] with the first differing event, or the run's own error.
    ///
    /// ```
    /// use std::time::Duration;
    /// use snowglobe_runtime::sim::{Simulation, Trace};
    ///
    /// let scenario = |system: snowglobe_runtime::System| async move {
    ///     system.sleep(Duration::from_millis(system.random_u64() % 100)).await;
    /// };
    /// let mut sim = Simulation::with_seed(8431);
    /// sim.run(scenario).unwrap();
    /// let saved = sim.trace().to_json_lines(); // written to a file, say
    ///
    /// let recorded = Trace::from_json_lines(&saved).unwrap();
    /// let mut again = Simulation::with_seed(0); // the seed comes from the trace
    /// again.replay(&recorded, scenario).unwrap();
    /// assert_eq!(again.seed(), 8431);
    /// ```
    pub fn replay<F, Fut>(&mut self, recorded: &Trace, scenario: F) -> Result<Fut::Output, SimError>
    where
        F: FnOnce(System) -> Fut,
        Fut: Future,
    {
        self.seed = recorded.seed();
        let output = self.run(scenario)?;
        match recorded.first_divergence(&self.trace) {
            None => Ok(output),
            Some(divergence) => Err(SimError::Diverged {
                seed: self.seed,
                divergence: Box::new(divergence),
            }),
        }
    }

    /// Runs `scenario` twice with this seed and compares the traces: the output of the first
    /// run if they are identical.
    ///
    /// # Errors
    ///
    /// [`SimError::Diverged`] with the first differing event, or either run's error.
    ///
    /// ```
    /// use std::time::Duration;
    /// use snowglobe_runtime::sim::Simulation;
    ///
    /// let mut sim = Simulation::with_seed(4);
    /// sim.check_determinism(|system| async move {
    ///     system.sleep(Duration::from_secs(1)).await;
    /// })
    /// .unwrap();
    /// ```
    pub fn check_determinism<F, Fut>(&mut self, scenario: F) -> Result<Fut::Output, SimError>
    where
        F: Fn(System) -> Fut,
        Fut: Future,
    {
        let output = self.run(&scenario)?;
        let first = std::mem::take(&mut self.trace);
        self.run(&scenario)?;
        match first.first_divergence(&self.trace) {
            None => Ok(output),
            Some(divergence) => Err(SimError::Diverged {
                seed: self.seed,
                divergence: Box::new(divergence),
            }),
        }
    }
}

/// The one command that repeats a failing run with `seed`: the seed in
/// [`SEED_VAR`] and, inside `cargo test`, the test's name (libtest names the thread a test
/// runs on after the test). The test must build its simulation with [`Simulation::new`] (or
/// sweep with [`Simulation::sweep`], which honours the variable too) for the seed to take.
///
/// ```
/// let command = snowglobe_runtime::sim::repeat_command(8431);
/// assert!(command.starts_with("SNOWGLOBE_SEED=8431 cargo test"));
/// ```
#[must_use]
pub fn repeat_command(seed: u64) -> String {
    match std::thread::current().name() {
        Some(test) if test != "main" => {
            format!("{SEED_VAR}={seed} cargo test -- --exact {test}")
        }
        _ => format!("{SEED_VAR}={seed} cargo test"),
    }
}

/// Under simulation, `deadline`, read on node `from`'s clock, as node `to`'s clock reads the
/// same instant: a policy computes an ask's deadline on its own system's clock, and the
/// target's system times the ask out on its own, maybe skewed, clock.
#[cold]
#[inline(never)]
pub(crate) fn rebase_deadline(deadline: Instant, from: u32, to: u32) -> Instant {
    if from == 0 || from == to {
        return deadline;
    }
    executor::with_current(|rt| {
        let shift = rt.skew_of(to) - rt.skew_of(from);
        Instant::from_nanos(deadline.as_nanos().saturating_add_signed(shift))
    })
    .unwrap_or(deadline)
}

/// Under simulation, what a send from the running task to `actor` (on node `to`) does:
/// records it in the trace, and says whether it crosses the network. A send within a node,
/// from or to the scenario's own system, or from outside any task is delivered directly.
#[cold]
#[inline(never)]
pub(crate) fn route_send(
    to: u32,
    actor: &Core,
    headers: &Headers,
    label: &'static str,
) -> Option<Crossing> {
    let from = executor::current_node();
    if from == 0 {
        return None;
    }
    executor::with_current(|rt| {
        rt.core.record_event(TraceEvent {
            at: rt.true_now(),
            kind: TraceKind::Send,
            id: headers.id().get(),
            parent: actor.id.get(),
            from,
            to,
            label,
            reply: false,
            note: Note::None,
        });
        (from != to && from != MAIN_NODE && to != MAIN_NODE).then(|| Crossing {
            rt: rt.clone(),
            from,
            to,
        })
    })
    .flatten()
}

pub(crate) fn parse_seed(value: &str) -> Option<u64> {
    let value = value.trim();
    match value
        .strip_prefix("0x")
        .or_else(|| value.strip_prefix("0X"))
    {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => value.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_seed;

    #[test]
    fn seeds_parse_in_decimal_and_hex() {
        assert_eq!(parse_seed("8431"), Some(8431));
        assert_eq!(parse_seed(" 0x1F "), Some(31));
        assert_eq!(parse_seed("seed"), None);
    }
}
