//! Watches and links: how an actor learns that another stopped, or shares its failures.

use std::fmt;

use crate::actor::{ActorId, StopReason};
use crate::message::Message;

/// Delivered to an actor watching another ([`Context::watch`](crate::Context::watch)) when
/// the watched actor stops for good.
///
/// A restart is not a stop: the address and the mailbox stay, and a watcher is told only when
/// the actor ends (stopped, killed, shut down, or failed beyond its supervisor's patience).
/// Watching an actor that has already stopped delivers `Terminated` at once.
///
/// ```
/// use snowglobe_runtime::{ActorId, StopReason, Terminated};
///
/// fn describe(t: &Terminated) -> String {
///     if t.reason.is_failure() { format!("{} failed: {}", t.id, t.reason) } else { format!("{} left", t.id) }
/// }
/// # let _ = describe;
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Terminated {
    /// The actor that stopped.
    pub id: ActorId,
    /// Why it stopped.
    pub reason: StopReason,
}

impl Terminated {
    pub(crate) fn new(id: ActorId, reason: StopReason) -> Terminated {
        Terminated { id, reason }
    }
}

impl Message for Terminated {
    type Reply = ();
}

impl fmt::Display for Terminated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "actor {} terminated: {}", self.id, self.reason)
    }
}

/// Why [`Context::link`](crate::Context::link) did not link.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LinkError {
    /// The other actor has stopped.
    #[error("actor {id} has stopped ({reason})")]
    Stopped {
        /// The other actor.
        id: ActorId,
        /// Why it stopped.
        reason: StopReason,
    },
    /// An actor cannot link to itself.
    #[error("an actor cannot link to itself")]
    ToItself,
}
