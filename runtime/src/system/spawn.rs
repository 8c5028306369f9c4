//! Spawning actors.

use std::num::NonZeroUsize;
use std::sync::{Arc, Weak};

use super::System;
use crate::actor::{self, Actor, Cell, Context, Core, Lifecycle, Node, Restarter};
use crate::address::ActorRef;
use crate::mailbox::{Mailbox, Queue};
use crate::supervision::ChildSpec;

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
    /// The parent is stopping and takes no new children.
    #[error("the parent actor is stopping")]
    ParentStopping,
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
        let SpawnOptions { name, mailbox } = options;
        let capacity = capacity(mailbox.unwrap_or(A::MAILBOX))?;
        if name.as_deref() == Some("") {
            return Err(SpawnError::EmptyName);
        }
        let (parent, parent_weak) = parent.unzip();
        let shared = &self.shared;
        let id = shared.next_actor_id();
        let core = Core::new(
            id,
            std::any::type_name::<A>(),
            name.clone(),
            self.clone(),
            parent_weak,
            restarter.is_some(),
        );
        let cell = Arc::new(Cell::<A>::new(core, Queue::new(capacity)));

        if let Some(name) = &name
            && !shared.registry.insert(name.clone(), cell.clone())
        {
            return Err(SpawnError::NameTaken(name.clone()));
        }
        let attached = match &parent {
            Some(parent) => {
                let mut children = parent.core().children.lock();
                if parent.core().lifecycle() >= Lifecycle::Stopping {
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
        actor::start(cell, actor, Context::new(addr.clone()), restarter);
        Ok(addr)
    }
}
