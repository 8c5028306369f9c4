//! Fault handling: supervision trees, restarts, and what happens to messages when things go
//! wrong.
//!
//! A panic in one actor is caught at the actor's boundary: the message's ask gets
//! [`AskError::Panicked`](crate::AskError::Panicked) and the message becomes a [`DeadLetter`].
//! Then the actor's [`on_panic`](crate::Actor::on_panic) hook and its supervisor decide:
//!
//! - an actor spawned from a [`ChildSpec`] is restarted as its [`Restart`] policy says, after
//!   a [`Backoff`], with a fresh instance from the spec's factory; its mailbox and addresses
//!   stay, so the messages queued behind the failure are handled by the new instance, in
//!   order;
//! - its supervisor (the parent actor, or the system for top-level actors) allows at most
//!   [`Supervisor::max_restarts`] restarts within [`Supervisor::period`]; one more, and the
//!   supervisor fails in turn (escalation), so that its own supervisor restarts the whole
//!   subtree; at the top, the system logs the failure and leaves that tree stopped;
//! - an actor spawned from a plain value cannot be rebuilt and stops.
//!
//! Messages that will never be handled are recorded in [`DeadLetters`]; [`Tree`] shows the
//! supervision tree with each actor's state and restart count.

mod dead_letters;
mod events;
mod spec;
mod strategy;
mod tree;
mod watch;

pub use dead_letters::{DeadLetter, DeadLetterReason, DeadLetters};
pub use events::ActorEvent;
pub use spec::{Backoff, ChildSpec, PanicDecision, Restart};
pub use strategy::{Strategy, Supervisor};
pub use tree::{ActorState, Tree, TreeNode};
pub use watch::{LinkError, Terminated};

pub(crate) use strategy::RestartLog;
