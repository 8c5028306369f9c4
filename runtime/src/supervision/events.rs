//! The runtime's own events on the system's bus: actors starting, restarting, stopping.

use std::sync::Arc;

use crate::actor::{ActorId, StopReason};
use crate::message::Message;

/// An actor's life, published on the system's bus
/// ([`System::events`](crate::System::events)): subscribe to the topic
/// `events().topic::<ActorEvent>()` to observe the system with the API that observes
/// everything else. Dead letters are published the same way, as
/// [`DeadLetter`](crate::DeadLetter) events.
///
/// Published without waiting ([`Topic::try_publish`](crate::Topic::try_publish)): a slow
/// subscriber never slows a spawn or a stop down, and with the default delivery policy the
/// events wait, in order, in its subscription.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use snowglobe_runtime::{Actor, ActorEvent, Context, DynMessage, Handler, Message, System};
///
/// #[derive(Default)]
/// struct Observer { log: Vec<String> }
/// impl Actor for Observer { type Msg = DynMessage<Self>; }
/// impl Handler<ActorEvent> for Observer {
///     async fn handle(&mut self, event: ActorEvent, _: &mut Context<Self>) {
///         self.log.push(event.to_string());
///     }
/// }
/// struct Log;
/// impl Message for Log { type Reply = Vec<String>; }
/// impl Handler<Log> for Observer {
///     async fn handle(&mut self, _: Log, _: &mut Context<Self>) -> Vec<String> { self.log.clone() }
/// }
///
/// struct Worker;
/// impl Actor for Worker { type Msg = DynMessage<Self>; }
///
/// let system = System::new();
/// let observer = system.spawn(Observer::default()).unwrap();
/// system.events().subscribe::<ActorEvent>(observer.recipient()).unwrap();
/// let worker = system.spawn(Worker).unwrap();
/// worker.stop();
/// worker.stopped().await;
/// let log = observer.ask(Log).await.unwrap();
/// assert_eq!(log.len(), 2);
/// assert!(log[0].ends_with("started"), "{log:?}");
/// assert!(log[1].ends_with("stopped: stopped"), "{log:?}");
/// # system.shutdown().await;
/// # }
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum ActorEvent {
    /// An actor was spawned.
    Started {
        /// The actor.
        id: ActorId,
        /// Its name, if it was spawned with one.
        name: Option<Arc<str>>,
        /// Its type.
        type_name: &'static str,
        /// Its parent; `None` for a top-level actor.
        parent: Option<ActorId>,
    },
    /// A new instance replaced one that ended (its supervisor restarted it).
    Restarted {
        /// The actor.
        id: ActorId,
        /// How many times it has been restarted, this one included.
        restarts: u32,
        /// Why the previous instance ended.
        reason: StopReason,
    },
    /// An actor stopped for good.
    Stopped {
        /// The actor.
        id: ActorId,
        /// Why.
        reason: StopReason,
    },
}

impl ActorEvent {
    /// The actor the event is about.
    #[must_use]
    pub fn id(&self) -> ActorId {
        match self {
            ActorEvent::Started { id, .. }
            | ActorEvent::Restarted { id, .. }
            | ActorEvent::Stopped { id, .. } => *id,
        }
    }
}

impl Message for ActorEvent {
    type Reply = ();
}

impl std::fmt::Display for ActorEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ActorEvent::Started { id, name, .. } => match name {
                Some(name) => write!(f, "{id} ({name}) started"),
                None => write!(f, "{id} started"),
            },
            ActorEvent::Restarted {
                id,
                restarts,
                reason,
            } => write!(f, "{id} restarted (#{restarts}) after: {reason}"),
            ActorEvent::Stopped { id, reason } => write!(f, "{id} stopped: {reason}"),
        }
    }
}
