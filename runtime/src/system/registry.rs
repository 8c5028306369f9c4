//! Names: actors registered under a name, looked up by name with their type checked.

use std::any::{Any, TypeId};
use std::sync::Arc;

use dashmap::DashMap;
use dashmap::mapref::entry::Entry as MapEntry;

use crate::actor::{Actor, ActorId, Cell};
use crate::address::ActorRef;

/// Why [`System::lookup`](crate::System::lookup) found no actor.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LookupError {
    /// No running actor has this name.
    #[error("no actor is named {0:?}")]
    NotFound(Arc<str>),
    /// The actor with this name is of another type.
    #[error("the actor named {name:?} is a `{actual}`, not a `{expected}`")]
    WrongType {
        /// The name looked up.
        name: Arc<str>,
        /// The type asked for.
        expected: &'static str,
        /// The type of the actor that has the name.
        actual: &'static str,
    },
}

/// Why [`System::register`](crate::System::register) did not name an actor.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegisterError {
    /// Another actor has this name.
    #[error("an actor named {0:?} already exists")]
    NameTaken(Arc<str>),
    /// Names must not be empty.
    #[error("actor names must not be empty")]
    EmptyName,
    /// The actor already has a name; an actor has one name for life.
    #[error("the actor is already named {0:?}")]
    AlreadyNamed(Arc<str>),
    /// The actor has stopped.
    #[error("the actor has stopped")]
    Stopped,
}

struct Entry {
    id: ActorId,
    type_id: TypeId,
    type_name: &'static str,
    cell: Arc<dyn Any + Send + Sync>,
}

/// The name table. A name is released when its actor stops.
#[derive(Default)]
pub(crate) struct Registry {
    names: DashMap<Arc<str>, Entry>,
}

impl Registry {
    /// Claims `name` for the actor in `cell`; `false` if the name is taken.
    pub(crate) fn insert<A: Actor>(&self, name: Arc<str>, cell: Arc<Cell<A>>) -> bool {
        match self.names.entry(name) {
            MapEntry::Occupied(_) => false,
            MapEntry::Vacant(vacant) => {
                vacant.insert(Entry {
                    id: cell.core.id,
                    type_id: TypeId::of::<A>(),
                    type_name: std::any::type_name::<A>(),
                    cell,
                });
                true
            }
        }
    }

    /// Releases `name` if actor `id` holds it.
    pub(crate) fn remove(&self, name: &str, id: ActorId) {
        self.names.remove_if(name, |_, entry| entry.id == id);
    }

    pub(crate) fn lookup<A: Actor>(&self, name: &str) -> Result<ActorRef<A>, LookupError> {
        let entry = self
            .names
            .get(name)
            .ok_or_else(|| LookupError::NotFound(name.into()))?;
        if entry.type_id != TypeId::of::<A>() {
            return Err(LookupError::WrongType {
                name: name.into(),
                expected: std::any::type_name::<A>(),
                actual: entry.type_name,
            });
        }
        match entry.cell.clone().downcast::<Cell<A>>() {
            Ok(cell) => Ok(ActorRef::from_cell(cell)),
            // The type id matched, so the downcast cannot fail; report it as a mismatch anyway.
            Err(_) => Err(LookupError::WrongType {
                name: name.into(),
                expected: std::any::type_name::<A>(),
                actual: entry.type_name,
            }),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.names.len()
    }
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("names", &self.names.len())
            .finish()
    }
}
