//! `Recipient<M>`: any actor that accepts `M`, with the actor's type erased.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::task::{Context, Poll};

use super::actor_ref::ActorRef;
use super::endpoint::crossing;
use super::endpoint::sealed::Sealed;
use super::error::TellError;
use super::request::{Request, Tell};
use crate::actor::{Actor, ActorId, Cell, Core, Lifecycle};
use crate::mailbox::{Reject, Slot};
use crate::message::{Accepts, Envelope, Headers, Message, ReplyTo};
use crate::system::{Claim, Claimed, Shared};

/// What a recipient needs of a cell, with the actor type erased.
trait Deliver<M: Message>: Send + Sync {
    fn try_reserve(&self) -> Result<Slot<'_>, Reject>;
    fn poll_reserve(&self, cx: &mut Context<'_>) -> Poll<Result<Slot<'_>, Reject>>;
    fn push(&self, slot: Slot<'_>, headers: Headers, msg: M, reply: ReplyTo<M::Reply>) -> bool;
    fn claim_receiver(&self, claim: &Claim<'_>) -> Option<Claimed>;
    /// `try_reserve` and `push` in one indirect call: the fan-out path of the event bus.
    fn try_tell(&self, headers: Headers, msg: M) -> Result<(), TellError<M>>;
    fn core(&self) -> &Core;
}

impl<A, M> Deliver<M> for Cell<A>
where
    A: Actor,
    M: Message,
    A::Msg: Accepts<M>,
{
    fn try_reserve(&self) -> Result<Slot<'_>, Reject> {
        self.queue.try_reserve()
    }

    fn poll_reserve(&self, cx: &mut Context<'_>) -> Poll<Result<Slot<'_>, Reject>> {
        Cell::poll_reserve(self, cx)
    }

    fn claim_receiver(&self, claim: &Claim<'_>) -> Option<Claimed> {
        Cell::claim_receiver(self, claim)
    }

    fn push(&self, slot: Slot<'_>, headers: Headers, msg: M, reply: ReplyTo<M::Reply>) -> bool {
        self.queue.push(
            slot,
            Envelope {
                headers,
                payload: A::Msg::from_message(msg, reply),
            },
        )
    }

    #[inline]
    fn try_tell(&self, headers: Headers, msg: M) -> Result<(), TellError<M>> {
        match self.queue.try_reserve() {
            Ok(slot) => {
                self.queue.push(
                    slot,
                    Envelope {
                        headers,
                        payload: A::Msg::from_message(msg, ReplyTo::none()),
                    },
                );
                Ok(())
            }
            Err(Reject::Full) => Err(TellError::Full(msg)),
            Err(Reject::Closed) => Err(TellError::Closed(msg)),
        }
    }

    fn core(&self) -> &Core {
        &self.core
    }
}

/// The address of any actor that accepts messages of type `M`.
///
/// Useful where the sender should not know the receiver's type: a list of subscribers, a
/// callback address handed to another service. It costs one indirect call per send more than
/// an [`ActorRef`], and no allocation.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use snowglobe_runtime::{Actor, Context, DynMessage, Handler, Message, Recipient, System};
///
/// #[derive(Clone)]
/// struct Alert(&'static str);
/// impl Message for Alert { type Reply = usize; }
///
/// struct Pager;
/// impl Actor for Pager { type Msg = DynMessage<Self>; }
/// impl Handler<Alert> for Pager {
///     async fn handle(&mut self, a: Alert, _: &mut Context<Self>) -> usize { a.0.len() }
/// }
///
/// struct Mailer;
/// impl Actor for Mailer { type Msg = DynMessage<Self>; }
/// impl Handler<Alert> for Mailer {
///     async fn handle(&mut self, _: Alert, _: &mut Context<Self>) -> usize { 0 }
/// }
///
/// let system = System::new();
/// let on_call: Vec<Recipient<Alert>> = vec![
///     system.spawn(Pager).unwrap().recipient(),
///     system.spawn(Mailer).unwrap().recipient(),
/// ];
/// let mut replies = Vec::new();
/// for r in &on_call {
///     replies.push(r.ask(Alert("disk full")).await.unwrap());
/// }
/// assert_eq!(replies, [9, 0]);
/// # system.shutdown().await;
/// # }
/// ```
pub struct Recipient<M: Message> {
    cell: Arc<dyn Deliver<M>>,
    /// The actor's simulated node (0 outside a simulation), kept here so that the event bus's
    /// fan-out checks it without an indirect call.
    node: u32,
}

impl<M: Message> Recipient<M> {
    pub(crate) fn new<A>(cell: Arc<Cell<A>>) -> Recipient<M>
    where
        A: Actor,
        A::Msg: Accepts<M>,
    {
        let node = cell.queue.node();
        Recipient { cell, node }
    }

    /// The id of the actor behind this address.
    #[must_use]
    pub fn id(&self) -> ActorId {
        self.cell.core().id
    }

    pub(crate) fn core(&self) -> &Core {
        self.cell.core()
    }

    /// Whether the actor has not stopped yet.
    #[must_use]
    pub fn is_alive(&self) -> bool {
        self.cell.core().lifecycle() != Lifecycle::Stopped
    }

    /// Sends `msg`, waiting while the mailbox is full. See [`ActorRef::tell`].
    ///
    /// # Errors
    ///
    /// [`TellError::Closed`] with the message if the actor has stopped or is stopping.
    pub fn tell(&self, msg: M) -> Tell<'_, Self, M> {
        Tell::new(self, msg)
    }

    /// Sends `msg` if the mailbox has room now. See [`ActorRef::try_tell`].
    ///
    /// # Errors
    ///
    /// [`TellError::Full`] or [`TellError::Closed`], with the message.
    pub fn try_tell(&self, msg: M) -> Result<(), TellError<M>> {
        self.try_tell_with(Headers::new(), msg)
    }

    /// [`try_tell`](Self::try_tell) with headers made by the caller: the event bus makes
    /// one set per published event and copies it into every delivery.
    pub(crate) fn try_tell_with(&self, headers: Headers, msg: M) -> Result<(), TellError<M>> {
        if self.node != 0 {
            return self.try_tell_simulated(headers, msg);
        }
        self.cell.try_tell(headers, msg)
    }

    #[cold]
    #[inline(never)]
    fn try_tell_simulated(&self, headers: Headers, msg: M) -> Result<(), TellError<M>> {
        if let Some(crossing) = crossing::<M, Self>(self, &headers) {
            crate::sim::send_remote(crossing, self, headers, msg, ReplyTo::none());
            return Ok(());
        }
        self.cell.try_tell(headers, msg)
    }

    /// Asks: sends `msg` and waits for the reply. See [`ActorRef::ask`].
    pub fn ask(&self, msg: M) -> Request<'_, Self, M> {
        Request::new(self, msg)
    }
}

#[allow(private_interfaces)] // sealed: see `Endpoint`
impl<M: Message> Sealed<M> for Recipient<M> {
    fn try_reserve(&self) -> Result<Slot<'_>, Reject> {
        self.cell.try_reserve()
    }

    fn poll_reserve(&self, cx: &mut Context<'_>) -> Poll<Result<Slot<'_>, Reject>> {
        self.cell.poll_reserve(cx)
    }

    fn push(&self, slot: Slot<'_>, headers: Headers, msg: M, reply: ReplyTo<M::Reply>) -> bool {
        self.cell.push(slot, headers, msg, reply)
    }

    fn claim_receiver(&self, claim: &Claim<'_>) -> Option<Claimed> {
        self.cell.claim_receiver(claim)
    }

    fn system(&self) -> &Shared {
        self.cell.core().system.shared()
    }

    fn core(&self) -> &Core {
        self.cell.core()
    }

    #[inline]
    fn node(&self) -> u32 {
        self.node
    }
}

impl<A, M> From<ActorRef<A>> for Recipient<M>
where
    A: Actor,
    M: Message,
    A::Msg: Accepts<M>,
{
    fn from(actor: ActorRef<A>) -> Self {
        Recipient::new(actor.cell().clone())
    }
}

impl<M: Message> Clone for Recipient<M> {
    fn clone(&self) -> Self {
        Recipient {
            cell: self.cell.clone(),
            node: self.node,
        }
    }
}

impl<M: Message> PartialEq for Recipient<M> {
    fn eq(&self, other: &Self) -> bool {
        self.id() == other.id()
    }
}

impl<M: Message> Eq for Recipient<M> {}

impl<M: Message> Hash for Recipient<M> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.id().hash(state);
    }
}

impl<M: Message> fmt::Debug for Recipient<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Recipient")
            .field("id", &self.id())
            .field("message", &std::any::type_name::<M>())
            .finish()
    }
}
