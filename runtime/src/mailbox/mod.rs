//! Mailboxes: the queue in front of every actor, with backpressure.
//!
//! A mailbox is bounded unless asked otherwise. Senders reserve a slot with one
//! compare-exchange and push without a lock; the actor drains its mailbox in batches and is
//! only woken when it was parked, so a busy actor costs its senders no wake-ups. When the mailbox is full,
//! [`tell`](crate::ActorRef::tell) waits for room (backpressure) and
//! [`try_tell`](crate::ActorRef::try_tell) returns the message at once in
//! [`TellError::Full`](crate::TellError::Full).

mod queue;

#[cfg(test)]
pub(crate) use queue::KEEP_AFTER_BURSTS;
pub(crate) use queue::{Pop, Queue, Ready, Reject, Slot};

/// The kind and size of an actor's mailbox.
///
/// The default is bounded at [`Mailbox::DEFAULT_CAPACITY`] messages: large enough that a busy
/// actor drains long batches, small enough that a stuck actor pushes back on its senders within
/// a thousand messages instead of growing without limit. Memory is taken as messages arrive,
/// not up front, so a large capacity costs nothing while the mailbox is empty, and it is given
/// back when the actor goes idle: an actor that gets one message at a time uses a single
/// message slot, one that got a burst among single messages returns the burst's blocks as soon
/// as it waits for the next message, and one that got bursts back to back keeps a block for
/// the next burst until its next wait after them, or for 10 seconds if no message comes.
///
/// An actor type sets its mailbox with [`Actor::MAILBOX`](crate::Actor::MAILBOX) (or
/// `#[actor(capacity = N)]` / `#[actor(unbounded)]`); one spawn can override it with
/// [`SpawnOptions::mailbox`](crate::SpawnOptions::mailbox). A capacity of zero is rejected when
/// the actor is spawned, with [`SpawnError::ZeroCapacity`](crate::SpawnError::ZeroCapacity).
///
/// ```
/// use snowglobe_runtime::Mailbox;
///
/// assert_eq!(Mailbox::default(), Mailbox::bounded(Mailbox::DEFAULT_CAPACITY));
/// assert_eq!(Mailbox::bounded(64).capacity(), Some(64));
/// assert_eq!(Mailbox::unbounded().capacity(), None);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mailbox {
    /// At most this many messages wait; senders beyond it wait or get `Full`.
    Bounded(usize),
    /// Any number of messages wait. Senders never wait; memory grows with the backlog.
    ///
    /// A tokio task that streams tells into it (with [`inline_handlers`] on, the default)
    /// runs the actor itself for a turn whenever [`DEFAULT_CAPACITY`](Mailbox::DEFAULT_CAPACITY)
    /// messages or more wait and the actor waits for a worker, as a sender to a full bounded
    /// mailbox does: a sender that never pauses would otherwise keep its worker from the
    /// actor, and the backlog would grow with every message. The tell still returns without
    /// waiting for room.
    ///
    /// [`inline_handlers`]: crate::SystemBuilder::inline_handlers
    Unbounded,
}

impl Mailbox {
    /// The capacity of the default mailbox.
    pub const DEFAULT_CAPACITY: usize = 1024;

    /// The largest capacity a bounded mailbox can have.
    pub const MAX_CAPACITY: usize = queue::MAX_CAPACITY;

    /// A mailbox that holds at most `capacity` messages.
    #[must_use]
    pub const fn bounded(capacity: usize) -> Mailbox {
        Mailbox::Bounded(capacity)
    }

    /// A mailbox without a limit.
    #[must_use]
    pub const fn unbounded() -> Mailbox {
        Mailbox::Unbounded
    }

    /// The capacity, or `None` for an unbounded mailbox.
    #[must_use]
    pub const fn capacity(self) -> Option<usize> {
        match self {
            Mailbox::Bounded(n) => Some(n),
            Mailbox::Unbounded => None,
        }
    }
}

impl Default for Mailbox {
    fn default() -> Self {
        Mailbox::Bounded(Mailbox::DEFAULT_CAPACITY)
    }
}
