//! `ActorRef` and `WeakActorRef`: addresses of one actor, typed by the actor.

use std::fmt;
use std::future::{Future, poll_fn};
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};

use super::endpoint::{sealed::Sealed, try_tell};
use super::error::TellError;
use super::recipient::Recipient;
use super::request::{Request, Tell};
use crate::actor::{Actor, ActorId, Cell, Core, Lifecycle, Node, StopReason, signal};
use crate::mailbox::{Reject, Slot};
use crate::message::{Accepts, Envelope, Headers, Message, ReplyTo};
use crate::supervision::ActorState;
use crate::system::{Claim, Claimed, Shared};

/// The address of a running actor of type `A`.
///
/// Cheap to clone (one atomic increment), one pointer wide, `Send + Sync`. Sending through it
/// is a direct push into the actor's mailbox: no lock, no allocation, no lookup.
///
/// An `ActorRef` does not keep its actor running: the actor runs until it is stopped. Once it
/// has stopped, sends fail with [`TellError::Closed`] or
/// [`AskError::Closed`](crate::AskError::Closed), giving the message back.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use snowglobe_runtime::{Actor, Context, DynMessage, Handler, Message, System, TellError};
///
/// #[derive(Default)]
/// struct Tally(u64);
/// impl Actor for Tally {
///     type Msg = DynMessage<Self>;
/// }
///
/// struct Add(u64);
/// impl Message for Add { type Reply = (); }
/// impl Handler<Add> for Tally {
///     async fn handle(&mut self, Add(n): Add, _: &mut Context<Self>) { self.0 += n; }
/// }
///
/// struct Total;
/// impl Message for Total { type Reply = u64; }
/// impl Handler<Total> for Tally {
///     async fn handle(&mut self, _: Total, _: &mut Context<Self>) -> u64 { self.0 }
/// }
///
/// let system = System::new();
/// let tally = system.spawn(Tally::default()).unwrap();
/// tally.tell(Add(2)).await.unwrap();          // waits for mailbox room
/// tally.try_tell(Add(3)).unwrap();            // fails at once when full
/// assert_eq!(tally.ask(Total).await.unwrap(), 5);
///
/// tally.stop();
/// tally.stopped().await;
/// assert!(matches!(tally.try_tell(Add(1)), Err(TellError::Closed(Add(1)))));
/// # }
/// ```
pub struct ActorRef<A: Actor> {
    cell: Arc<Cell<A>>,
}

impl<A: Actor> ActorRef<A> {
    pub(crate) fn from_cell(cell: Arc<Cell<A>>) -> ActorRef<A> {
        ActorRef { cell }
    }

    pub(crate) fn cell(&self) -> &Arc<Cell<A>> {
        &self.cell
    }

    /// The actor's id.
    #[must_use]
    pub fn id(&self) -> ActorId {
        self.cell.core.id
    }

    /// The actor's registered name, if it has one.
    #[must_use]
    pub fn name(&self) -> Option<&str> {
        self.cell.core.name()
    }

    /// How many times the actor was restarted by its supervisor.
    #[must_use]
    pub fn restarts(&self) -> u32 {
        self.cell.core.restarts()
    }

    /// Where the actor is in its life.
    #[must_use]
    pub fn state(&self) -> ActorState {
        ActorState::of(self.cell.core.lifecycle())
    }

    /// Whether the actor has not stopped yet. A stopping actor is still alive, but accepts no
    /// new messages.
    #[must_use]
    pub fn is_alive(&self) -> bool {
        self.cell.core.lifecycle() != Lifecycle::Stopped
    }

    /// Sends `msg`, waiting while the mailbox is full (backpressure).
    ///
    /// # Errors
    ///
    /// [`TellError::Closed`] with the message if the actor has stopped or is stopping.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before it completes drops the message unsent.
    pub fn tell<M>(&self, msg: M) -> Tell<'_, Self, M>
    where
        M: Message,
        A::Msg: Accepts<M>,
    {
        Tell::new(self, msg)
    }

    /// Sends `msg` if the mailbox has room now.
    ///
    /// # Errors
    ///
    /// [`TellError::Full`] or [`TellError::Closed`], with the message.
    pub fn try_tell<M>(&self, msg: M) -> Result<(), TellError<M>>
    where
        M: Message,
        A::Msg: Accepts<M>,
    {
        try_tell(self, msg, Headers::new())
    }

    /// Asks: sends `msg` and waits for the handler's reply.
    ///
    /// Await the returned [`Request`]; `.timeout(d)` replaces the system's default deadline.
    /// See [`AskError`](crate::AskError) for what can go wrong.
    pub fn ask<M>(&self, msg: M) -> Request<'_, Self, M>
    where
        M: Message,
        A::Msg: Accepts<M>,
    {
        Request::new(self, msg)
    }

    /// Asks the actor to stop gracefully: it accepts no new messages, handles those already
    /// queued, stops its children, runs `on_stop`. Returns at once; await
    /// [`stopped`](ActorRef::stopped) to wait for the end.
    pub fn stop(&self) {
        self.cell.request_stop(signal::STOP);
    }

    /// Stops the actor now: the running handler is interrupted at its next await (its ask
    /// fails with [`AskError::Interrupted`](crate::AskError::Interrupted)), queued messages
    /// become dead letters, children are killed, then `on_stop` runs.
    ///
    /// A handler that never awaits (a busy loop, blocking code) cannot be interrupted; the kill
    /// takes effect when it returns.
    pub fn kill(&self) {
        self.cell.kill();
    }

    /// Waits until the actor has stopped, and says why.
    pub fn stopped(&self) -> impl Future<Output = StopReason> + Send + '_ {
        poll_fn(|cx| self.cell.core.poll_stopped(cx))
    }

    /// A reference that does not keep the actor's memory alive.
    #[must_use]
    pub fn downgrade(&self) -> WeakActorRef<A> {
        WeakActorRef {
            cell: Arc::downgrade(&self.cell),
            id: self.id(),
        }
    }

    /// A type-erased address for one message type the actor accepts.
    #[must_use]
    pub fn recipient<M>(&self) -> Recipient<M>
    where
        M: Message,
        A::Msg: Accepts<M>,
    {
        Recipient::new(self.cell.clone())
    }

    /// Messages waiting in the mailbox, not counting the one being handled. A snapshot: other
    /// senders and the actor change it concurrently.
    #[must_use]
    pub fn mailbox_len(&self) -> usize {
        self.cell.queue.len()
    }

    /// The mailbox capacity, `None` when unbounded.
    #[must_use]
    pub fn mailbox_capacity(&self) -> Option<usize> {
        let capacity = self.cell.queue.capacity();
        (capacity != crate::Mailbox::MAX_CAPACITY).then_some(capacity)
    }
}

#[allow(private_interfaces)] // sealed: see `Endpoint`
impl<A, M> Sealed<M> for ActorRef<A>
where
    A: Actor,
    M: Message,
    A::Msg: Accepts<M>,
{
    #[inline]
    fn try_reserve(&self) -> Result<Slot<'_>, Reject> {
        self.cell.queue.try_reserve()
    }

    #[inline]
    fn poll_reserve(&self, cx: &mut Context<'_>) -> Poll<Result<Slot<'_>, Reject>> {
        self.cell.poll_reserve(cx)
    }

    #[inline]
    fn push(&self, slot: Slot<'_>, headers: Headers, msg: M, reply: ReplyTo<M::Reply>) -> bool {
        self.cell.queue.push(
            slot,
            Envelope {
                headers,
                payload: A::Msg::from_message(msg, reply),
            },
        )
    }

    fn claim_receiver(&self, claim: &Claim<'_>) -> Option<Claimed> {
        self.cell.claim_receiver(claim)
    }

    fn system(&self) -> &Shared {
        self.cell.core.system.shared()
    }

    fn core(&self) -> &Core {
        &self.cell.core
    }

    #[inline]
    fn node(&self) -> u32 {
        self.cell.queue.node()
    }
}

impl<A: Actor> Clone for ActorRef<A> {
    fn clone(&self) -> Self {
        ActorRef {
            cell: self.cell.clone(),
        }
    }
}

impl<A: Actor> PartialEq for ActorRef<A> {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.cell, &other.cell)
    }
}

impl<A: Actor> Eq for ActorRef<A> {}

impl<A: Actor> Hash for ActorRef<A> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.id().hash(state);
    }
}

impl<A: Actor> fmt::Debug for ActorRef<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("ActorRef");
        d.field("id", &self.id());
        if let Some(name) = self.name() {
            d.field("name", &name);
        }
        d.field("type", &self.cell.core.type_name).finish()
    }
}

/// An address that does not keep the actor's memory alive; [`upgrade`](WeakActorRef::upgrade)
/// it to send.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// # use snowglobe_runtime::{Actor, DynMessage, System};
/// # struct Idle;
/// # impl Actor for Idle { type Msg = DynMessage<Self>; }
/// let system = System::new();
/// let actor = system.spawn(Idle).unwrap();
/// let weak = actor.downgrade();
/// assert!(weak.upgrade().is_some());
///
/// actor.stop();
/// actor.stopped().await;
/// assert!(weak.upgrade().is_none()); // stopped: nothing to send to
/// # }
/// ```
pub struct WeakActorRef<A: Actor> {
    cell: Weak<Cell<A>>,
    id: ActorId,
}

impl<A: Actor> WeakActorRef<A> {
    /// The address, if the actor has not stopped.
    #[must_use]
    pub fn upgrade(&self) -> Option<ActorRef<A>> {
        let cell = self.cell.upgrade()?;
        (cell.core.lifecycle() != Lifecycle::Stopped).then_some(ActorRef { cell })
    }

    /// The actor's id.
    #[must_use]
    pub fn id(&self) -> ActorId {
        self.id
    }
}

impl<A: Actor> Clone for WeakActorRef<A> {
    fn clone(&self) -> Self {
        WeakActorRef {
            cell: self.cell.clone(),
            id: self.id,
        }
    }
}

impl<A: Actor> fmt::Debug for WeakActorRef<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WeakActorRef")
            .field("id", &self.id)
            .finish()
    }
}
