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
//! [`System`]: crate::System
//! [`System::now`]: crate::System::now
//! [`System::random_u64`]: crate::System::random_u64
//! [`SpawnOptions::dedicated_thread`]: crate::SpawnOptions::dedicated_thread
//! [`SpawnError::Simulation`]: crate::SpawnError::Simulation

mod check;
mod clock;
mod error;
mod executor;
mod sweep;
mod trace;

use std::future::Future;
use std::sync::Arc;

pub use error::SimError;
pub use sweep::{SweepError, SweepFailure, SweepReport};
pub use trace::{Divergence, Trace, TraceEvent, TraceKind};

pub(crate) use clock::SimSleep;
pub(crate) use executor::{SimRt, Task, YieldNow, current};

use crate::system::{Random, System};
use check::Invariant;

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
    trace: Trace,
    invariants: Vec<Invariant>,
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
            trace: Trace::default(),
            invariants: Vec::new(),
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
        let system = System::builder().build_simulated(rt.clone());
        let run = scenario(system.clone());
        let result = rt.block_on(
            async move {
                let output = run.await;
                system.shutdown().await;
                output
            },
            &self.invariants,
        );
        self.trace = rt.take_trace();
        result
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
                divergence,
            }),
        }
    }
}

fn parse_seed(value: &str) -> Option<u64> {
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
