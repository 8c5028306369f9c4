//! Errors of `tell` and `ask`. Each gives the message back when it was not delivered.

use std::fmt;

use crate::actor::PanicMessage;
use crate::message::Failure;

/// Why a [`tell`](crate::ActorRef::tell) or [`try_tell`](crate::ActorRef::try_tell) did not
/// deliver its message. The message comes back inside.
///
/// ```
/// use snowglobe_runtime::TellError;
///
/// let err = TellError::Full("order #1");
/// assert!(err.is_full());
/// assert_eq!(err.to_string(), "mailbox full");
/// assert_eq!(err.into_message(), "order #1");
/// ```
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum TellError<M> {
    /// The mailbox is full (`try_tell` only; `tell` waits for room instead).
    #[error("mailbox full")]
    Full(M),
    /// The actor has stopped or is stopping and accepts no more messages.
    #[error("actor stopped")]
    Closed(M),
}

impl<M> TellError<M> {
    /// The message that was not delivered.
    pub fn into_message(self) -> M {
        match self {
            TellError::Full(m) | TellError::Closed(m) => m,
        }
    }

    /// Whether the mailbox was full (trying again later may succeed).
    #[must_use]
    pub fn is_full(&self) -> bool {
        matches!(self, TellError::Full(_))
    }

    /// Whether the actor no longer accepts messages.
    #[must_use]
    pub fn is_closed(&self) -> bool {
        matches!(self, TellError::Closed(_))
    }
}

impl<M> fmt::Debug for TellError<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TellError::Full(_) => f.write_str("Full(..)"),
            TellError::Closed(_) => f.write_str("Closed(..)"),
        }
    }
}

/// Why an [`ask`](crate::ActorRef::ask) got no reply.
///
/// The variants say whether the handler ran, which decides whether a retry is safe:
/// `Full`, `Closed` and `Stopped` mean it did not run; `Interrupted` and `Panicked` mean it
/// started; `Timeout` means nobody knows. [`AskError::was_handled`] sums this up.
///
/// ```
/// use snowglobe_runtime::{AskError, Handled};
///
/// let err: AskError<&str> = AskError::Timeout;
/// assert_eq!(err.to_string(), "no reply before the deadline");
/// assert_eq!(err.was_handled(), Handled::Unknown);
/// assert_eq!(AskError::Closed("charge").into_message(), Some("charge"));
/// ```
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum AskError<M> {
    /// The mailbox stayed full until the deadline; the message was not sent.
    #[error("mailbox full until the deadline")]
    Full(M),
    /// The actor had stopped or was stopping; the message was not sent.
    #[error("actor stopped")]
    Closed(M),
    /// No reply came before the deadline. The message may still be handled later.
    #[error("no reply before the deadline")]
    Timeout,
    /// The message was queued, but the actor stopped before handling it. It was recorded as a
    /// dead letter.
    #[error("actor stopped before handling the message")]
    Stopped,
    /// The actor was killed while it handled the message.
    #[error("actor killed while handling the message")]
    Interrupted,
    /// The handler panicked.
    #[error("handler panicked: {0}")]
    Panicked(PanicMessage),
    /// The actor dropped the request without replying (a hand-written dispatch that never
    /// called [`ReplyTo::send`](crate::ReplyTo::send)).
    #[error("request dropped without a reply")]
    Dropped,
    /// The receiver deduplicates this message type, and the message's id was used before for
    /// a message with other content. The handler did not run.
    #[error("message id used before for a different message")]
    IdReused,
}

/// Whether the handler of a failed ask ran, from [`AskError::was_handled`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Handled {
    /// The handler never saw the message: retrying cannot apply it twice.
    No,
    /// The handler started (it may have finished part of its work).
    Yes,
    /// The caller cannot know (it stopped waiting).
    Unknown,
}

impl<M> AskError<M> {
    /// The message, if it was never sent.
    pub fn into_message(self) -> Option<M> {
        match self {
            AskError::Full(m) | AskError::Closed(m) => Some(m),
            _ => None,
        }
    }

    /// Whether the handler ran.
    #[must_use]
    pub fn was_handled(&self) -> Handled {
        match self {
            AskError::Full(_) | AskError::Closed(_) | AskError::Stopped | AskError::IdReused => {
                Handled::No
            }
            AskError::Interrupted | AskError::Panicked(_) | AskError::Dropped => Handled::Yes,
            AskError::Timeout => Handled::Unknown,
        }
    }

    pub(crate) fn from_failure(failure: Failure) -> AskError<M> {
        match failure {
            Failure::NotHandled => AskError::Stopped,
            Failure::Interrupted => AskError::Interrupted,
            Failure::Panicked(p) => AskError::Panicked(p),
            Failure::Dropped => AskError::Dropped,
            Failure::IdReused => AskError::IdReused,
        }
    }

    /// The kind of failure, as the resilience policies classify it.
    #[must_use]
    pub fn kind(&self) -> crate::resilience::FailureKind {
        use crate::resilience::FailureKind;
        match self {
            AskError::Full(_) => FailureKind::Full,
            AskError::Closed(_) => FailureKind::Closed,
            AskError::Timeout => FailureKind::Timeout,
            AskError::Stopped => FailureKind::Stopped,
            AskError::Interrupted => FailureKind::Interrupted,
            AskError::Panicked(_) => FailureKind::Panicked,
            AskError::Dropped => FailureKind::Dropped,
            AskError::IdReused => FailureKind::IdReused,
        }
    }
}

impl<M> fmt::Debug for AskError<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AskError::Full(_) => f.write_str("Full(..)"),
            AskError::Closed(_) => f.write_str("Closed(..)"),
            AskError::Timeout => f.write_str("Timeout"),
            AskError::Stopped => f.write_str("Stopped"),
            AskError::Interrupted => f.write_str("Interrupted"),
            AskError::Panicked(p) => f.debug_tuple("Panicked").field(p).finish(),
            AskError::Dropped => f.write_str("Dropped"),
            AskError::IdReused => f.write_str("IdReused"),
        }
    }
}
