//! Building a system: which runtime, which defaults.

use std::time::Duration;

use super::runtime::{Random, Rt};
use super::{Config, Shared, System};
use crate::sim::{self, SimRt};
use crate::supervision::Supervisor;

/// Builds a [`System`].
///
/// ```
/// use std::time::Duration;
/// use snowglobe_runtime::System;
///
/// // A system with its own two-thread runtime, driven from synchronous code.
/// let system = System::builder()
///     .worker_threads(2)
///     .ask_timeout(Duration::from_secs(1))
///     .build()
///     .unwrap();
/// assert_eq!(system.ask_timeout(), Duration::from_secs(1));
/// system.block_on(system.shutdown());
/// ```
#[derive(Debug)]
#[must_use]
pub struct SystemBuilder {
    handle: Option<tokio::runtime::Handle>,
    worker_threads: Option<usize>,
    ask_timeout: Duration,
    shutdown_timeout: Duration,
    dead_letter_capacity: usize,
    seed: Option<u64>,
    supervisor: Supervisor,
    inline_handlers: bool,
}

/// Why a system could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The tokio runtime could not be created.
    #[error("cannot create the tokio runtime: {0}")]
    Runtime(#[from] std::io::Error),
    /// The given (or current) tokio runtime has no timer driver; asks need deadlines.
    #[error(
        "the tokio runtime has timers disabled; build it with `enable_time()` or `enable_all()`"
    )]
    TimersDisabled,
    /// A runtime needs at least one worker thread.
    #[error("worker_threads must be at least 1")]
    ZeroWorkerThreads,
    /// A zero default ask timeout would fail every ask.
    #[error("the default ask timeout must be longer than zero")]
    ZeroAskTimeout,
}

impl Default for SystemBuilder {
    fn default() -> Self {
        SystemBuilder {
            handle: None,
            worker_threads: None,
            ask_timeout: Duration::from_secs(5),
            shutdown_timeout: Duration::from_secs(10),
            dead_letter_capacity: 1024,
            seed: None,
            supervisor: Supervisor::DEFAULT,
            inline_handlers: true,
        }
    }
}

impl SystemBuilder {
    /// Runs actors on an existing tokio runtime.
    ///
    /// Without this (and without [`worker_threads`](SystemBuilder::worker_threads)), `build`
    /// uses the runtime it is called from, or creates a multi-thread runtime when called
    /// outside one.
    pub fn handle(mut self, handle: tokio::runtime::Handle) -> Self {
        self.handle = Some(handle);
        self
    }

    /// Creates a dedicated multi-thread runtime with this many worker threads.
    pub fn worker_threads(mut self, threads: usize) -> Self {
        self.worker_threads = Some(threads);
        self
    }

    /// The deadline of an ask that does not set its own (default: 5 s).
    pub fn ask_timeout(mut self, timeout: Duration) -> Self {
        self.ask_timeout = timeout;
        self
    }

    /// How long [`System::shutdown`] waits for graceful stops before it kills the actors still
    /// running (default: 10 s).
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// How many recent dead letters [`DeadLetters::recent`](crate::DeadLetters::recent) keeps
    /// (default: 1024; counters count all of them).
    pub fn dead_letter_capacity(mut self, capacity: usize) -> Self {
        self.dead_letter_capacity = capacity;
        self
    }

    /// How the system supervises top-level actors spawned with
    /// [`System::spawn_supervised`] (default: [`Supervisor::DEFAULT`], one-for-one, at most
    /// one restart in five seconds).
    pub fn supervisor(mut self, supervisor: Supervisor) -> Self {
        self.supervisor = supervisor;
        self
    }

    /// Whether a tokio task that sends to an actor may run that actor's handlers itself, on
    /// its own thread, within its own poll (default: yes): an ask awaited in a tokio task
    /// runs the idle actor it woke, and a tell (or an ask) that finds the mailbox full runs
    /// the actor when its task waits for a worker, instead of waiting for room; so does a
    /// tell into an unbounded mailbox with a backlog of
    /// [`Mailbox::DEFAULT_CAPACITY`](crate::Mailbox::DEFAULT_CAPACITY) messages or more.
    ///
    /// The asking task only waits for the reply otherwise, so the reply usually comes at
    /// once, without a trip through the scheduler (an ask costs about half of what it does
    /// without); a task streaming tells takes turns with the actor on its own thread instead
    /// of handing its worker back and forth through tokio. The actor's handler then runs
    /// inside the sending task's poll: it sees that task's context (its `tokio::task_local!`
    /// values, its current `tracing` span), and a lock the task holds across the send's
    /// `.await` (which clippy's `await_holding_lock` warns of) is still held while the
    /// handler runs, so a handler taking the same lock deadlocks. The actors the helped
    /// actor wakes (a request passed along) may run in the sending task too. Turn it off
    /// when sending code holds such a lock, or when handlers must always run on the system's
    /// own tasks.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let system = snowglobe_runtime::System::builder()
    ///     .inline_handlers(false)
    ///     .build()
    ///     .unwrap();
    /// # system.shutdown().await;
    /// # }
    /// ```
    pub fn inline_handlers(mut self, inline: bool) -> Self {
        self.inline_handlers = inline;
        self
    }

    /// The former name of [`inline_handlers`](SystemBuilder::inline_handlers), from when it
    /// covered asks alone.
    #[deprecated(note = "renamed to `inline_handlers`, which covers tells to full mailboxes too")]
    pub fn inline_asks(self, inline: bool) -> Self {
        self.inline_handlers(inline)
    }

    /// Seeds the system's random numbers ([`System::random_u64`]), for reproducible runs.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Builds the system.
    ///
    /// Called inside a [`Simulation`](crate::sim::Simulation) run without an explicit
    /// [`handle`](SystemBuilder::handle) or [`worker_threads`](SystemBuilder::worker_threads),
    /// the system joins the simulation, so code that builds its own system is simulated too.
    ///
    /// # Errors
    ///
    /// See [`BuildError`].
    pub fn build(mut self) -> Result<System, BuildError> {
        if self.ask_timeout.is_zero() {
            return Err(BuildError::ZeroAskTimeout);
        }
        if self.handle.is_none()
            && self.worker_threads.is_none()
            && let Some(sim) = sim::current()
        {
            return Ok(self.build_simulated(sim));
        }
        let (handle, owned) = match (self.handle.take(), self.worker_threads) {
            (Some(handle), _) => (handle, None),
            (None, Some(0)) => return Err(BuildError::ZeroWorkerThreads),
            (None, Some(threads)) => owned_runtime(Some(threads))?,
            (None, None) => match tokio::runtime::Handle::try_current() {
                Ok(handle) => (handle, None),
                Err(_) => owned_runtime(None)?,
            },
        };
        if owned.is_none() && !has_timers(&handle) {
            return Err(BuildError::TimersDisabled);
        }
        let random = self
            .seed
            .map_or_else(Random::from_entropy, Random::with_seed);
        let rt = Rt::tokio(handle, self.inline_handlers);
        Ok(self.finish(rt, owned, random))
    }

    /// Seeds the system's random numbers with `seed` unless [`seed`](SystemBuilder::seed)
    /// chose one.
    pub(crate) fn seed_if_unset(mut self, seed: u64) -> SystemBuilder {
        self.seed.get_or_insert(seed);
        self
    }

    /// Builds a system on the simulator `sim` (see [`Simulation`](crate::sim::Simulation)).
    /// Random numbers follow the simulation's seed unless [`seed`](SystemBuilder::seed) chose
    /// another. Infallible: nothing here needs the operating system.
    pub(crate) fn build_simulated(self, sim: SimRt) -> System {
        let random = Random::with_seed(self.seed.unwrap_or_else(|| sim.seed()));
        self.finish(Rt::Sim(sim), None, random)
    }

    fn finish(self, rt: Rt, owned: Option<tokio::runtime::Runtime>, random: Random) -> System {
        let config = Config {
            ask_timeout: self.ask_timeout,
            shutdown_timeout: self.shutdown_timeout,
            supervisor: self.supervisor,
        };
        let dead_letter_capacity = self.dead_letter_capacity;
        System::from_shared(move |this| {
            Shared::new(this, rt, owned, random, config, dead_letter_capacity)
        })
    }
}

fn owned_runtime(
    threads: Option<usize>,
) -> Result<(tokio::runtime::Handle, Option<tokio::runtime::Runtime>), BuildError> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all().thread_name("snowglobe-worker");
    if let Some(threads) = threads {
        builder.worker_threads(threads);
    }
    let runtime = builder.build()?;
    Ok((runtime.handle().clone(), Some(runtime)))
}

/// Whether `handle`'s runtime has a timer driver. Tokio offers no query, only a panic when a
/// timer is created without one, so this creates one under `catch_unwind`.
fn has_timers(handle: &tokio::runtime::Handle) -> bool {
    let _entered = handle.enter();
    std::panic::catch_unwind(|| drop(tokio::time::sleep(Duration::ZERO))).is_ok()
}
