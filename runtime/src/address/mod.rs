//! Addresses: how one actor reaches another.
//!
//! [`ActorRef<A>`] is the typed address of one actor; [`WeakActorRef<A>`] does not keep its
//! memory alive; [`Recipient<M>`] addresses any actor that accepts `M`. Sending is `tell`
//! (wait for mailbox room), `try_tell` (fail at once when full) or `ask` (wait for the reply,
//! with a deadline).

mod actor_ref;
mod endpoint;
mod error;
mod recipient;
mod request;
#[cfg(feature = "tower")]
mod service;

pub use actor_ref::{ActorRef, WeakActorRef};
pub use endpoint::Endpoint;
pub(crate) use endpoint::sealed;
pub use error::{AskError, Handled, TellError};
pub use recipient::Recipient;
pub use request::{Ask, Request, Tell};
