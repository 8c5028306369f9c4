//! The system: where actors are spawned, named and shut down, and the runtime seam through
//! which every task, timer, clock read and random number passes.

mod builder;
mod bulkhead;
mod deadlines;
mod registry;
mod runtime;
mod sched;
mod spawn;
mod sweep;
mod time;

pub(crate) use sched::{Claim, Claimed, Helps};

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::future::{Future, poll_fn};
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::task::Poll;
use std::time::Duration;

use parking_lot::Mutex;

use crate::actor::{Actor, ActorId, Group, Node, StopReason, signal};
use crate::address::ActorRef;
use crate::pubsub::{EventBus, Topic};
use crate::supervision::{ActorEvent, ChildSpec, DeadLetters, RestartLog, Supervisor, Tree};

pub use builder::{BuildError, SystemBuilder};
pub use bulkhead::{Bulkhead, BulkheadError};
pub use registry::{LookupError, RegisterError};
pub use spawn::{SpawnError, SpawnOptions};
pub use time::Instant;

pub(crate) use bulkhead::DedicatedThread;
pub(crate) use deadlines::{Deadlines, Registration};
pub(crate) use registry::Registry;
pub(crate) use runtime::{Random, Rt, TaskHandle};
pub(crate) use sweep::Sweeper;
pub(crate) use time::duration_nanos;

/// A running set of actors: spawn them, name them, look them up, shut them down.
///
/// A `System` is a handle: cloning it is cheap and every clone reaches the same actors.
///
/// # Runtime
///
/// Actors run on tokio. [`System::new`] uses the tokio runtime it is called from, or creates a
/// multi-thread runtime when called outside one; [`System::builder`] chooses explicitly. Time,
/// timers, task spawning and random numbers used by the runtime all pass through the system
/// ([`now`](System::now), [`sleep`](System::sleep), [`random_u64`](System::random_u64)), which
/// is the seam a simulated runtime replaces.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use snowglobe_runtime::{Actor, Context, DynMessage, Handler, Message, SpawnOptions, System};
///
/// struct Inventory { stock: u32 }
/// impl Actor for Inventory { type Msg = DynMessage<Self>; }
///
/// struct Stock;
/// impl Message for Stock { type Reply = u32; }
/// impl Handler<Stock> for Inventory {
///     async fn handle(&mut self, _: Stock, _: &mut Context<Self>) -> u32 { self.stock }
/// }
///
/// let system = System::new();
/// system.spawn_with(Inventory { stock: 7 }, SpawnOptions::new().name("inventory")).unwrap();
///
/// // elsewhere: find the service by name, with its type checked
/// let inventory = system.lookup::<Inventory>("inventory").unwrap();
/// assert_eq!(inventory.ask(Stock).await.unwrap(), 7);
///
/// system.shutdown().await; // every actor stops gracefully, children before parents
/// assert!(!inventory.is_alive());
/// # }
/// ```
#[derive(Clone)]
pub struct System {
    shared: Arc<Shared>,
}

/// The state every handle, actor and address of one system shares.
pub(crate) struct Shared {
    /// This very allocation, for tasks that must not keep the system alive.
    this: Weak<Shared>,
    rt: Rt,
    pub(crate) deadlines: Deadlines,
    /// Mailboxes whose actor went idle after a burst, to give their spare block back.
    pub(crate) sweeper: Sweeper,
    pub(crate) random: Random,
    pub(crate) config: Config,
    next_id: AtomicU64,
    root: Mutex<Root>,
    pub(crate) registry: Registry,
    pub(crate) dead_letters: DeadLetters,
    pub(crate) events: EventBus,
    /// The runtime's own [`ActorEvent`]s.
    pub(crate) actor_events: Topic<ActorEvent>,
    /// The runtime this system created, if it created one.
    owned: Mutex<Option<tokio::runtime::Runtime>>,
    /// The bulkheads made with [`System::bulkhead`], shut down with the system.
    bulkheads: Mutex<Vec<Bulkhead>>,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Config {
    pub(crate) ask_timeout: Duration,
    pub(crate) shutdown_timeout: Duration,
    /// How the system supervises top-level actors.
    pub(crate) supervisor: Supervisor,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Running,
    ShuttingDown,
}

/// The top of the tree: actors spawned on the system rather than by another actor.
struct Root {
    actors: BTreeMap<ActorId, Arc<dyn Node>>,
    phase: Phase,
    /// The restarts the system granted top-level actors.
    restarts: RestartLog,
    /// Top-level actors that failed beyond the system's restart intensity, latest last.
    failures: VecDeque<RootFailure>,
    /// The restart group of the supervised top-level actors (one-for-all, rest-for-one).
    group: Option<Arc<Group>>,
}

/// A top-level actor that failed more often than the system's restart intensity allows, and
/// stays stopped. From [`System::root_failures`].
#[derive(Clone, Debug)]
pub struct RootFailure {
    /// The actor.
    pub actor: ActorId,
    /// Its name, if it had one.
    pub name: Option<String>,
    /// Its type.
    pub type_name: &'static str,
    /// Why it failed the last time.
    pub reason: StopReason,
}

/// How many root failures the system remembers.
const ROOT_FAILURES_KEPT: usize = 64;

impl Shared {
    pub(crate) fn new(
        this: Weak<Shared>,
        rt: Rt,
        owned: Option<tokio::runtime::Runtime>,
        random: Random,
        config: Config,
        dead_letter_capacity: usize,
    ) -> Shared {
        let events = EventBus::new(this.clone());
        Shared {
            this,
            rt,
            deadlines: Deadlines::new(),
            sweeper: Sweeper::default(),
            random,
            config,
            next_id: AtomicU64::new(1),
            root: Mutex::new(Root {
                actors: BTreeMap::new(),
                phase: Phase::Running,
                restarts: RestartLog::default(),
                failures: VecDeque::new(),
                group: None,
            }),
            registry: Registry::default(),
            dead_letters: DeadLetters::new(dead_letter_capacity, events.topic()),
            actor_events: events.topic(),
            events,
            owned: Mutex::new(owned),
            bulkheads: Mutex::new(Vec::new()),
        }
    }

    pub(crate) fn rt(&self) -> &Rt {
        &self.rt
    }

    /// Publishes one of the runtime's own events, if anyone listens.
    pub(crate) fn actor_event(&self, event: impl FnOnce() -> ActorEvent) {
        if self.actor_events.has_subscribers() {
            self.actor_events.try_publish(event());
        }
    }

    /// A reference that does not keep the system alive.
    pub(crate) fn weak(&self) -> Weak<Shared> {
        self.this.clone()
    }

    pub(crate) fn next_actor_id(&self) -> ActorId {
        // Starts at 1; it would take centuries to wrap.
        ActorId::from_counter(self.next_id.fetch_add(1, Ordering::Relaxed))
    }

    /// Adds a top-level actor, unless the system is shutting down.
    pub(crate) fn attach_root(&self, id: ActorId, node: Arc<dyn Node>) -> Result<(), SpawnError> {
        let mut root = self.root.lock();
        if root.phase != Phase::Running {
            return Err(SpawnError::ShuttingDown);
        }
        root.actors.insert(id, node);
        Ok(())
    }

    pub(crate) fn remove_root(&self, id: ActorId) {
        self.root.lock().actors.remove(&id);
    }

    /// The top-level actors, in spawn order.
    pub(crate) fn root_actors(&self) -> Vec<Arc<dyn Node>> {
        self.root.lock().actors.values().cloned().collect()
    }

    /// The restart group of the supervised top-level actors.
    pub(crate) fn root_group(&self) -> Arc<Group> {
        self.root
            .lock()
            .group
            .get_or_insert_with(Arc::default)
            .clone()
    }

    /// As the supervisor of top-level actors: records a restart if the intensity allows it;
    /// `None` while the system shuts down (no restart, and no failure to report).
    pub(crate) fn permit_root_restart(&self, now: Instant) -> Option<bool> {
        let mut root = self.root.lock();
        (root.phase == Phase::Running).then(|| root.restarts.permit(now, &self.config.supervisor))
    }

    /// A top-level actor failed beyond the system's intensity: it stays stopped, the other
    /// trees go on, and the failure is logged and kept for [`System::root_failures`].
    pub(crate) fn report_root_failure(
        &self,
        actor: ActorId,
        name: Option<&str>,
        type_name: &'static str,
        reason: &StopReason,
    ) {
        tracing::error!(
            actor = %actor,
            name,
            kind = type_name,
            %reason,
            "top-level actor failed beyond the restart intensity; it stays stopped"
        );
        let mut root = self.root.lock();
        if root.failures.len() == ROOT_FAILURES_KEPT {
            root.failures.pop_front();
        }
        root.failures.push_back(RootFailure {
            actor,
            name: name.map(str::to_owned),
            type_name,
            reason: reason.clone(),
        });
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        if let Some(runtime) = self.owned.get_mut().take() {
            // Dropping a runtime blocks, which is not allowed inside another runtime; this
            // does not block.
            runtime.shutdown_background();
        }
    }
}

impl System {
    /// A system on the current tokio runtime, or on a new multi-thread runtime when called
    /// outside one, with default settings.
    ///
    /// # Panics
    ///
    /// If the current runtime has timers disabled, or a runtime cannot be created; use
    /// [`System::builder`] to get these as a [`BuildError`] instead.
    #[must_use]
    #[allow(clippy::new_without_default)] // building starts or borrows a runtime: not a default
    pub fn new() -> System {
        match SystemBuilder::default().build() {
            Ok(system) => system,
            Err(error) => panic!("snowglobe: cannot build the system: {error}"),
        }
    }

    /// A builder to choose the runtime and the defaults.
    pub fn builder() -> SystemBuilder {
        SystemBuilder::default()
    }

    fn from_shared(make: impl FnOnce(Weak<Shared>) -> Shared) -> System {
        System {
            shared: Arc::new_cyclic(|this| make(this.clone())),
        }
    }

    pub(crate) fn shared(&self) -> &Shared {
        &self.shared
    }

    /// Spawns a top-level actor with its type's default options.
    ///
    /// # Errors
    ///
    /// See [`SpawnError`]: a zero mailbox capacity, or a system that is shutting down.
    pub fn spawn<A: Actor>(&self, actor: A) -> Result<ActorRef<A>, SpawnError> {
        self.spawn_inner(actor, SpawnOptions::new(), None, None)
    }

    /// Spawns a top-level actor with the given options (name, mailbox).
    ///
    /// # Errors
    ///
    /// See [`SpawnError`]: a name already taken or empty, a zero mailbox capacity, a system
    /// that is shutting down.
    pub fn spawn_with<A: Actor>(
        &self,
        actor: A,
        options: SpawnOptions,
    ) -> Result<ActorRef<A>, SpawnError> {
        self.spawn_inner(actor, options, None, None)
    }

    /// The running actor registered as `name`, if it is an `A`.
    ///
    /// # Errors
    ///
    /// [`LookupError::NotFound`] when no actor has the name, [`LookupError::WrongType`] when
    /// the actor with that name is not an `A`.
    pub fn lookup<A: Actor>(&self, name: &str) -> Result<ActorRef<A>, LookupError> {
        self.shared.registry.lookup(name)
    }

    /// Registers a running actor under `name`. An actor has at most one name, released when it
    /// stops.
    ///
    /// # Errors
    ///
    /// See [`RegisterError`].
    pub fn register<A: Actor>(&self, name: &str, actor: &ActorRef<A>) -> Result<(), RegisterError> {
        if name.is_empty() {
            return Err(RegisterError::EmptyName);
        }
        let core = &actor.cell().core;
        let name: Arc<str> = name.into();
        if let Some(current) = core.name.get() {
            return Err(RegisterError::AlreadyNamed(current.clone()));
        }
        if !self
            .shared
            .registry
            .insert(name.clone(), actor.cell().clone())
        {
            return Err(RegisterError::NameTaken(name));
        }
        if core.name.set(name.clone()).is_err() {
            // Another register call named it first.
            self.shared.registry.remove(&name, core.id);
            let current = core.name.get().cloned().unwrap_or(name);
            return Err(RegisterError::AlreadyNamed(current));
        }
        if !actor.is_alive() {
            // It stopped meanwhile, and its stop may have missed the new name.
            self.shared.registry.remove(&name, core.id);
            return Err(RegisterError::Stopped);
        }
        Ok(())
    }

    /// Stops every actor gracefully and returns when all have stopped.
    ///
    /// Top-level actors stop one at a time, the last spawned first; each stops its own
    /// children first. New spawns fail with [`SpawnError::ShuttingDown`] from the start.
    /// Actors still running after the shutdown timeout
    /// ([`SystemBuilder::shutdown_timeout`]) are killed; those still running after a second
    /// timeout (a handler blocked in code that never awaits, which no kill can interrupt) are
    /// logged and given up on, so that shutdown returns. Then the bulkheads' runtimes stop.
    pub async fn shutdown(&self) {
        let shared = &self.shared;
        shared.root.lock().phase = Phase::ShuttingDown;
        let rt = shared.rt();
        let timeout = shared.config.shutdown_timeout;
        let mut deadline = pin!(rt.sleep(timeout));
        let mut killing = false;
        loop {
            let next = shared.root.lock().actors.values().next_back().cloned();
            let Some(actor) = next else { break };
            if killing {
                actor.kill();
            } else {
                actor.request_stop(signal::SHUTDOWN);
            }
            let stopped = poll_fn(|cx| {
                if actor.core().poll_stopped(cx).is_ready() {
                    return Poll::Ready(true);
                }
                if deadline.as_mut().poll(cx).is_ready() {
                    if killing {
                        return Poll::Ready(false);
                    }
                    killing = true;
                    let remaining: Vec<_> = shared.root.lock().actors.values().cloned().collect();
                    tracing::warn!(
                        actors = remaining.len(),
                        "shutdown timeout passed; killing the actors still running"
                    );
                    for node in remaining {
                        node.kill();
                    }
                    // The kill gets as long again; a handler blocked in code that never
                    // awaits cannot be interrupted at all.
                    deadline.set(rt.sleep(timeout));
                    cx.waker().wake_by_ref();
                }
                Poll::Pending
            })
            .await;
            if !stopped {
                let remaining: Vec<_> = shared.root.lock().actors.values().cloned().collect();
                for node in &remaining {
                    tracing::error!(
                        actor = %node.core().id,
                        name = node.core().name(),
                        kind = node.core().type_name,
                        "did not stop after a kill (blocked in a handler?); shutdown gives up on it"
                    );
                }
                shared.root.lock().actors.clear();
                break;
            }
            shared.root.lock().actors.remove(&actor.core().id);
        }
        for bulkhead in std::mem::take(&mut *shared.bulkheads.lock()) {
            bulkhead.shutdown();
        }
    }

    /// Makes a bulkhead: a tokio runtime of its own with `threads` worker threads, for actors
    /// that must not starve the others (see [`Bulkhead`]; spawn into it with
    /// [`SpawnOptions::bulkhead`]). It shuts down with the system.
    ///
    /// # Errors
    ///
    /// [`BulkheadError`]: zero threads, an empty or taken name, a system shutting down, or
    /// threads the operating system refused.
    pub fn bulkhead(
        &self,
        name: impl Into<Arc<str>>,
        threads: usize,
    ) -> Result<Bulkhead, BulkheadError> {
        if self.shared.rt().sim().is_some() {
            return Err(BulkheadError::Simulation);
        }
        let name = name.into();
        let mut bulkheads = self.shared.bulkheads.lock();
        if self.shared.root.lock().phase != Phase::Running {
            return Err(BulkheadError::ShuttingDown);
        }
        if bulkheads.iter().any(|b| b.name() == &*name) {
            return Err(BulkheadError::NameTaken(name));
        }
        let bulkhead = Bulkhead::new(name, threads)?;
        bulkheads.push(bulkhead.clone());
        Ok(bulkhead)
    }

    /// Runs `future` to completion on the system's runtime, blocking the calling thread.
    ///
    /// For programs whose `main` is not async. Do not call it from inside an async context.
    ///
    /// # Panics
    ///
    /// Inside an async context, as tokio does. For a system in a
    /// [`Simulation`](crate::sim::Simulation), always: the simulation is already driving it
    /// (await the future instead); the panic says so rather than blocking forever.
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        match self.shared.rt().handle() {
            Some(handle) => handle.block_on(future),
            None => panic!(
                "snowglobe: System::block_on cannot run inside a simulation; await the future instead"
            ),
        }
    }

    /// The current time on the system's clock.
    #[must_use]
    pub fn now(&self) -> Instant {
        self.shared.rt().now()
    }

    /// A future that completes after `duration` on the system's clock.
    pub fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + Send + 'static {
        self.shared.rt().sleep(duration)
    }

    /// A random number from the system's generator (seeded with
    /// [`SystemBuilder::seed`] for reproducible runs). Not for cryptography.
    #[must_use]
    pub fn random_u64(&self) -> u64 {
        self.shared.random.next_u64()
    }

    /// The deadline an ask gets when it does not set its own.
    #[must_use]
    pub fn ask_timeout(&self) -> Duration {
        self.shared.config.ask_timeout
    }

    /// The dead-letter office.
    #[must_use]
    pub fn dead_letters(&self) -> &DeadLetters {
        &self.shared.dead_letters
    }

    /// The system's publish-subscribe bus: see [`EventBus`].
    #[must_use]
    pub fn events(&self) -> &EventBus {
        &self.shared.events
    }

    /// Spawns a supervised top-level actor: a failure restarts it with a fresh instance from
    /// the spec's factory, as its restart policy and the system's supervisor
    /// ([`SystemBuilder::supervisor`]) allow.
    ///
    /// # Errors
    ///
    /// See [`SpawnError`].
    pub fn spawn_supervised<A: Actor>(
        &self,
        spec: ChildSpec<A>,
    ) -> Result<ActorRef<A>, SpawnError> {
        self.spawn_spec(spec, None)
    }

    /// A snapshot of the supervision tree: every actor with its state and restart count.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # use snowglobe_runtime::{Actor, DynMessage, SpawnOptions, System};
    /// # #[derive(Default)] struct Orders;
    /// # impl Actor for Orders { type Msg = DynMessage<Self>; }
    /// let system = System::new();
    /// let orders = system.spawn_with(Orders, SpawnOptions::new().name("orders")).unwrap();
    /// let tree = system.tree();
    /// assert_eq!(tree.roots.len(), 1);
    /// assert_eq!(tree.roots[0].id, orders.id());
    /// println!("{tree}");
    /// # system.shutdown().await;
    /// # }
    /// ```
    #[must_use]
    pub fn tree(&self) -> Tree {
        let roots: Vec<_> = self.shared.root.lock().actors.values().cloned().collect();
        Tree {
            roots: roots.iter().map(|node| Tree::node(&**node)).collect(),
        }
    }

    /// Top-level actors that failed more often than the system's restart intensity allows
    /// (the latest 64), oldest first. Each also went to the error log.
    #[must_use]
    pub fn root_failures(&self) -> Vec<RootFailure> {
        self.shared.root.lock().failures.iter().cloned().collect()
    }

    /// The number of top-level actors that have not stopped.
    #[must_use]
    pub fn root_actor_count(&self) -> usize {
        self.shared.root.lock().actors.len()
    }

    /// The number of registered names.
    #[must_use]
    pub fn registered_count(&self) -> usize {
        self.shared.registry.len()
    }

    /// The number of tasks the system's actors run as now: one per actor that has not
    /// ended, and one per timer (`send_after`, `send_interval`) that has not fired or been
    /// cancelled. Actors in a [bulkhead](System::bulkhead) or on a thread of their own run
    /// elsewhere and are not counted. Zero once [`shutdown`](System::shutdown) has returned.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use snowglobe_runtime::{Actor, DynMessage, System};
    ///
    /// struct Idle;
    /// impl Actor for Idle { type Msg = DynMessage<Self>; }
    ///
    /// let system = System::new();
    /// let _idle = system.spawn(Idle).unwrap();
    /// assert_eq!(system.actor_task_count(), 1);
    /// system.shutdown().await;
    /// assert_eq!(system.actor_task_count(), 0);
    /// # }
    /// ```
    #[must_use]
    pub fn actor_task_count(&self) -> usize {
        self.shared.rt.actor_tasks()
    }
}

impl fmt::Debug for System {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("System")
            .field("root_actors", &self.root_actor_count())
            .field("names", &self.registered_count())
            .field("dead_letters", &self.shared.dead_letters.count())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::future::pending;
    use std::sync::Arc;
    use std::time::Duration;

    use crate::{Actor, Context, DynMessage, Handler, Message, System, Terminated};

    /// Spawns a child, watches it, subscribes to `Tick`s and ticks itself; `Hang` never ends.
    #[derive(Default)]
    struct Parent;
    impl Actor for Parent {
        type Msg = DynMessage<Self>;
        async fn on_start(&mut self, ctx: &mut Context<Self>) -> Result<(), crate::BoxError> {
            let child = ctx.spawn(Parent::leaf())?;
            ctx.watch(&child);
            ctx.system()
                .events()
                .subscribe::<Tick>(ctx.actor_ref().clone())?;
            ctx.send_interval(Duration::from_millis(1), || Tick);
            Ok(())
        }
    }
    impl Parent {
        fn leaf() -> Leaf {
            Leaf
        }
    }

    struct Leaf;
    impl Actor for Leaf {
        type Msg = DynMessage<Self>;
    }

    #[derive(Clone)]
    struct Tick;
    impl Message for Tick {
        type Reply = ();
    }
    impl Handler<Tick> for Parent {
        async fn handle(&mut self, _: Tick, _: &mut Context<Self>) {}
    }

    impl Handler<Terminated> for Parent {
        async fn handle(&mut self, _: Terminated, _: &mut Context<Self>) {}
    }

    /// Says that its handler runs, then waits forever.
    struct Hang(tokio::sync::oneshot::Sender<()>);
    impl Message for Hang {
        type Reply = ();
    }
    impl Handler<Hang> for Parent {
        async fn handle(&mut self, Hang(running): Hang, _: &mut Context<Self>) {
            let _ = running.send(());
            pending::<()>().await;
        }
    }

    /// A runtime dropped without `System::shutdown` drops the actors' tasks: each actor ends
    /// then, and nothing of the system is left behind (its actors hold it; it holds them).
    #[test]
    fn a_runtime_dropped_without_a_shutdown_frees_its_system() {
        let multi = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        drop_without_shutdown(multi);
        let current = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        drop_without_shutdown(current);
    }

    fn drop_without_shutdown(rt: tokio::runtime::Runtime) {
        let (weak, asked) = rt.block_on(async {
            let system = System::new();
            let parent = system.spawn(Parent).unwrap();
            system.register("parent", &parent).unwrap();
            system.events().publish(Tick).await;
            // An ask in flight, its handler waiting forever, its deadline registered.
            let (running, handler_runs) = tokio::sync::oneshot::channel();
            let asked = tokio::spawn({
                let parent = parent.clone();
                async move { parent.ask(Hang(running)).await }
            });
            handler_runs.await.unwrap();
            (Arc::downgrade(&system.shared), asked)
        });
        drop(rt);
        drop(asked);
        assert!(weak.upgrade().is_none(), "the system outlived its runtime");
    }
}
