//! Why an actor stopped.

use std::any::Any;
use std::error::Error;
use std::fmt;
use std::sync::Arc;

use super::ActorId;

/// The text of a caught panic.
///
/// ```
/// use snowglobe_runtime::PanicMessage;
///
/// let p = PanicMessage::new("card number malformed");
/// assert_eq!(p.as_str(), "card number malformed");
/// assert_eq!(p.to_string(), "card number malformed");
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PanicMessage(Arc<str>);

impl PanicMessage {
    /// A panic message with the given text.
    #[must_use]
    pub fn new(text: impl Into<Arc<str>>) -> PanicMessage {
        PanicMessage(text.into())
    }

    /// The message of a panic payload as `std::panic::catch_unwind` returns it.
    #[must_use]
    pub fn from_payload(payload: &(dyn Any + Send)) -> PanicMessage {
        if let Some(s) = payload.downcast_ref::<&'static str>() {
            PanicMessage((*s).into())
        } else if let Some(s) = payload.downcast_ref::<String>() {
            PanicMessage(s.as_str().into())
        } else {
            PanicMessage("panic with a non-string payload".into())
        }
    }

    /// The text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PanicMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for PanicMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why an actor stopped, as given to [`Actor::on_stop`](crate::Actor::on_stop) and returned by
/// [`ActorRef::stopped`](crate::ActorRef::stopped).
///
/// ```
/// use snowglobe_runtime::{PanicMessage, StopReason};
///
/// assert!(!StopReason::Normal.is_failure());
/// assert!(StopReason::Panicked(PanicMessage::new("boom")).is_failure());
/// assert_eq!(StopReason::Killed.to_string(), "killed");
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum StopReason {
    /// Stopped on request ([`ActorRef::stop`](crate::ActorRef::stop),
    /// [`Context::stop`](crate::Context::stop)): the messages queued before the request were
    /// handled first.
    Normal,
    /// Stopped gracefully because its parent or the whole system stopped.
    Shutdown,
    /// Killed ([`ActorRef::kill`](crate::ActorRef::kill)): the handler running at the time was
    /// interrupted at its next await; queued messages went to dead letters.
    Killed,
    /// A handler or a lifecycle hook panicked with this message.
    Panicked(PanicMessage),
    /// [`Actor::on_start`](crate::Actor::on_start) returned this error.
    StartFailed(Arc<dyn Error + Send + Sync>),
    /// A child failed more often than this actor's restart intensity allows, and this actor
    /// took its failure on (escalation).
    Escalated {
        /// The child that failed.
        child: ActorId,
        /// Why it failed.
        reason: Arc<StopReason>,
    },
    /// An actor linked to this one ([`Context::link`](crate::Context::link)) failed, and
    /// this actor failed with it.
    LinkFailed {
        /// The linked actor that failed.
        actor: ActorId,
        /// Why it failed.
        reason: Arc<StopReason>,
    },
    /// The simulated node the actor ran on crashed
    /// ([`Node::crash`](crate::sim::Node::crash)): nothing of it ran to the end.
    NodeCrashed,
}

impl StopReason {
    /// Whether the actor stopped because something went wrong (a panic or a failed start),
    /// rather than on request.
    #[must_use]
    pub fn is_failure(&self) -> bool {
        matches!(
            self,
            StopReason::Panicked(_)
                | StopReason::StartFailed(_)
                | StopReason::Escalated { .. }
                | StopReason::LinkFailed { .. }
                | StopReason::NodeCrashed
        )
    }
}

impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StopReason::Normal => f.write_str("stopped"),
            StopReason::Shutdown => f.write_str("shut down"),
            StopReason::Killed => f.write_str("killed"),
            StopReason::Panicked(p) => write!(f, "panicked: {p}"),
            StopReason::StartFailed(e) => write!(f, "failed to start: {e}"),
            StopReason::Escalated { child, reason } => {
                write!(f, "child {child} failed too often ({reason})")
            }
            StopReason::LinkFailed { actor, reason } => {
                write!(f, "linked actor {actor} failed ({reason})")
            }
            StopReason::NodeCrashed => f.write_str("its node crashed"),
        }
    }
}
