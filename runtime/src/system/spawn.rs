//! Spawning actors.

use std::num::NonZeroUsize;
use std::sync::{Arc, Weak};

use super::System;
use super::bulkhead::{Bulkhead, DedicatedThread};
use crate::actor::{self, Actor, Cell, Context, Core, Launch, Lifecycle, Node, Restarter};
use crate::address::ActorRef;
use crate::mailbox::{Mailbox, Queue};
use crate::resilience::{DedupStore, SharedStore};
use crate::supervision::{ActorEvent, ChildSpec};

/// Options for one spawn: a name, a mailbox other than the actor type's default.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// # use snowglobe_runtime::{Actor, DynMessage};
/// # struct Inventory;
/// # impl Actor for Inventory { type Msg = DynMessage<Self>; }
/// use snowglobe_runtime::{Mailbox, SpawnOptions, System};
///
/// let system = System::new();
/// let inventory = system
///     .spawn_with(
///         Inventory,
///         SpawnOptions::new().name("inventory").mailbox(Mailbox::bounded(64)),
///     )
///     .unwrap();
/// assert_eq!(inventory.name(), Some("inventory"));
/// assert_eq!(inventory.mailbox_capacity(), Some(64));
/// # system.shutdown().await;
/// # }
/// ```
#[derive(Clone, Debug, Default)]
#[must_use]
pub struct SpawnOptions {
    name: Option<Arc<str>>,
    mailbox: Option<Mailbox>,
    placement: Option<Placement>,
    dedup: Option<SharedStore>,
}

/// Where an actor's task runs, when not where its parent's does.
#[derive(Clone, Debug)]
enum Placement {
    /// The system's runtime, even under a parent in a bulkhead.
    System,
    Bulkhead(Bulkhead),
    Thread,
}

impl SpawnOptions {
    /// The defaults: no name, the actor type's mailbox.
    pub fn new() -> SpawnOptions {
        SpawnOptions::default()
    }

    /// Registers the actor under `name` for [`System::lookup`](crate::System::lookup). The name
    /// is released when the actor stops.
    pub fn name(mut self, name: impl Into<Arc<str>>) -> SpawnOptions {
        self.name = Some(name.into());
        self
    }

    /// Uses this mailbox instead of [`Actor::MAILBOX`](crate::Actor::MAILBOX).
    pub fn mailbox(mut self, mailbox: Mailbox) -> SpawnOptions {
        self.mailbox = Some(mailbox);
        self
    }

    /// Runs the actor in `bulkhead`, on its threads: see [`Bulkhead`]. Its children start
    /// there too unless their own options say otherwise.
    pub fn bulkhead(mut self, bulkhead: &Bulkhead) -> SpawnOptions {
        self.placement = Some(Placement::Bulkhead(bulkhead.clone()));
        self
    }

    /// Runs the actor on a thread of its own, for handlers that block: synchronous I/O, a
    /// C library, a long computation. The thread parks while the mailbox is empty and ends
    /// with the actor. The actor is addressed, supervised and restarted like any other (a
    /// restart keeps the thread); its children start on the system's runtime.
    ///
    /// A blocked handler cannot be interrupted: a kill takes effect when it returns, and
    /// [`System::shutdown`](crate::System::shutdown) gives up on it after twice the shutdown
    /// timeout.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use snowglobe_runtime::{Actor, Context, DynMessage, Handler, Message, SpawnOptions, System};
    ///
    /// struct Legacy;
    /// impl Actor for Legacy { type Msg = DynMessage<Self>; }
    /// struct Query;
    /// impl Message for Query { type Reply = u32; }
    /// impl Handler<Query> for Legacy {
    ///     async fn handle(&mut self, _: Query, _: &mut Context<Self>) -> u32 {
    ///         // A blocking call is fine here: no other actor shares this thread.
    ///         std::thread::sleep(std::time::Duration::from_millis(1));
    ///         42
    ///     }
    /// }
    ///
    /// let system = System::new();
    /// let legacy = system
    ///     .spawn_with(Legacy, SpawnOptions::new().dedicated_thread())
    ///     .unwrap();
    /// assert_eq!(legacy.ask(Query).await.unwrap(), 42);
    /// system.shutdown().await;
    /// # }
    /// ```
    pub fn dedicated_thread(mut self) -> SpawnOptions {
        self.placement = Some(Placement::Thread);
        self
    }

    /// Keeps the actor's deduplication window (`#[message(idempotent)]`,
    /// [`Context::dedup`](crate::Context::dedup)) in `store` instead of a fresh
    /// [`MemoryDedupStore`](crate::resilience::MemoryDedupStore) of the default window. Give
    /// a larger window, or a store that outlives the actor.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # use snowglobe_runtime::{Actor, DynMessage};
    /// # struct Payments;
    /// # impl Actor for Payments { type Msg = DynMessage<Self>; }
    /// use std::sync::Arc;
    /// use snowglobe_runtime::resilience::MemoryDedupStore;
    /// use snowglobe_runtime::{SpawnOptions, System};
    ///
    /// let system = System::new();
    /// let window = Arc::new(MemoryDedupStore::new(100_000));
    /// let payments = system
    ///     .spawn_with(Payments, SpawnOptions::new().dedup_store(window.clone()))
    ///     .unwrap();
    /// # system.shutdown().await;
    /// # }
    /// ```
    pub fn dedup_store(mut self, store: Arc<dyn DedupStore>) -> SpawnOptions {
        self.dedup = Some(SharedStore(store));
        self
    }

    /// Runs the actor on the system's runtime, also under a parent in a bulkhead.
    pub fn system_runtime(mut self) -> SpawnOptions {
        self.placement = Some(Placement::System);
        self
    }
}

/// Why an actor was not spawned.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SpawnError {
    /// A bounded mailbox of capacity zero could never accept a message.
    #[error("mailbox capacity must be at least 1")]
    ZeroCapacity,
    /// The capacity is beyond what a mailbox can count.
    #[error("mailbox capacity {requested} exceeds the maximum of {max}")]
    CapacityTooLarge {
        /// The capacity asked for.
        requested: usize,
        /// [`Mailbox::MAX_CAPACITY`].
        max: usize,
    },
    /// Another actor has this name.
    #[error("an actor named {0:?} already exists")]
    NameTaken(Arc<str>),
    /// Names must not be empty.
    #[error("actor names must not be empty")]
    EmptyName,
    /// The system is shutting down and starts no new actors.
    #[error("the system is shutting down")]
    ShuttingDown,
    /// The parent is stopping or restarting (its instance is retiring) and takes no new
    /// children.
    #[error("the parent actor is stopping")]
    ParentStopping,
    /// The bulkhead has shut down (with its system).
    #[error("the bulkhead {0:?} has shut down")]
    BulkheadShutDown(Arc<str>),
    /// The operating system did not start the actor's own thread
    /// ([`SpawnOptions::dedicated_thread`]).
    #[error("could not start the actor's thread: {0}")]
    Thread(Arc<str>),
    /// The option needs real threads, which a [`Simulation`](crate::sim::Simulation) does not
    /// have: a [`dedicated_thread`](SpawnOptions::dedicated_thread) or a
    /// [`bulkhead`](SpawnOptions::bulkhead). The name says which.
    #[error("{0} cannot run inside a simulation")]
    Simulation(&'static str),
}

fn capacity(mailbox: Mailbox) -> Result<Option<NonZeroUsize>, SpawnError> {
    match mailbox {
        Mailbox::Unbounded => Ok(None),
        Mailbox::Bounded(n) if n > Mailbox::MAX_CAPACITY => Err(SpawnError::CapacityTooLarge {
            requested: n,
            max: Mailbox::MAX_CAPACITY,
        }),
        Mailbox::Bounded(n) => NonZeroUsize::new(n)
            .map(Some)
            .ok_or(SpawnError::ZeroCapacity),
    }
}

impl System {
    /// Spawns a supervised actor from its spec: the first instance, and the restarter that
    /// makes the next ones.
    pub(crate) fn spawn_spec<A: Actor>(
        &self,
        spec: ChildSpec<A>,
        parent: Option<(&dyn Node, Weak<dyn Node>)>,
    ) -> Result<ActorRef<A>, SpawnError> {
        let restarter = Restarter::new(&spec);
        // The first instance is made here, in the caller: a factory that panics now panics
        // like building the actor by hand would.
        let first = (spec.factory)();
        self.spawn_inner(first, spec.options, parent, Some(Box::new(restarter)))
    }

    pub(crate) fn spawn_inner<A: Actor>(
        &self,
        actor: A,
        options: SpawnOptions,
        parent: Option<(&dyn Node, Weak<dyn Node>)>,
        restarter: Option<Box<Restarter<A>>>,
    ) -> Result<ActorRef<A>, SpawnError> {
        let SpawnOptions {
            name,
            mailbox,
            placement,
            dedup,
        } = options;
        let capacity = capacity(mailbox.unwrap_or(A::MAILBOX))?;
        if name.as_deref() == Some("") {
            return Err(SpawnError::EmptyName);
        }
        let (parent, parent_weak) = parent.unzip();
        let shared = &self.shared;
        let id = shared.next_actor_id();
        let placement = placement.or_else(|| {
            let bulkhead = parent?.core().bulkhead.clone()?;
            Some(Placement::Bulkhead(bulkhead))
        });
        let (bulkhead, thread) = match placement {
            None | Some(Placement::System) => (None, None),
            Some(Placement::Bulkhead(_)) if shared.rt().sim().is_some() => {
                return Err(SpawnError::Simulation("a bulkhead"));
            }
            Some(Placement::Bulkhead(bulkhead)) => {
                if bulkhead.is_shut_down() {
                    return Err(SpawnError::BulkheadShutDown(bulkhead.name().into()));
                }
                (Some(bulkhead), None)
            }
            Some(Placement::Thread) => {
                let thread_name = match &name {
                    Some(name) => format!("{name}-{id}"),
                    None => format!("actor-{id}"),
                };
                let handle = shared
                    .rt()
                    .handle()
                    .ok_or(SpawnError::Simulation("a dedicated thread"))?;
                let thread = DedicatedThread::start(thread_name, handle.clone())
                    .map_err(|error| SpawnError::Thread(error.to_string().into()))?;
                (None, Some(thread))
            }
        };
        let core = Core::new(
            id,
            std::any::type_name::<A>(),
            name.clone(),
            self.clone(),
            parent_weak,
            restarter.is_some(),
            bulkhead,
        );
        if let Some(SharedStore(store)) = dedup {
            core.set_dedup_store(store);
        }
        let node = shared.rt().sim().map_or(0, crate::sim::SimRt::node_id);
        let cell = Arc::new(Cell::<A>::new(core, Queue::new(capacity).on_node(node)));

        if let Some(name) = &name
            && !shared.registry.insert(name.clone(), cell.clone())
        {
            return Err(SpawnError::NameTaken(name.clone()));
        }
        let attached = match &parent {
            Some(parent) => {
                let mut children = parent.core().children.lock();
                // A retiring instance (restarting, or stopping) takes no new children: they
                // would outlive it.
                if parent.core().lifecycle() >= Lifecycle::Restarting {
                    Err(SpawnError::ParentStopping)
                } else {
                    children.insert(id, cell.clone());
                    Ok(())
                }
            }
            None => shared.attach_root(id, cell.clone()),
        };
        if let Err(error) = attached {
            if let Some(name) = &name {
                shared.registry.remove(name, id);
            }
            return Err(error);
        }

        let addr = ActorRef::from_cell(cell.clone());
        tracing::trace!(actor = %id, name = name.as_deref(), kind = std::any::type_name::<A>(), "spawn");
        // Before the task starts, so that it comes before the actor's other events.
        shared.actor_event(|| ActorEvent::Started {
            id,
            name,
            type_name: std::any::type_name::<A>(),
            parent: parent.map(|p| p.core().id),
        });
        let launch = match thread {
            Some(thread) => Launch::Thread(thread),
            None => Launch::Runtime,
        };
        actor::start(cell, actor, Context::new(addr.clone()), restarter, launch);
        Ok(addr)
    }
}
