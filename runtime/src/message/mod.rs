//! Messages and handlers: what an actor receives and how it answers.
//!
//! A message is any `Send + 'static` value that implements [`Message`], which names its reply
//! type. An actor handles it by implementing [`Handler`]. The actor's mailbox stores one item
//! type, [`Actor::Msg`](crate::Actor::Msg): usually an enum with one variant per message, which
//! `#[messages]` generates. The enum implements [`Dispatch`] (route an item to its handler) and
//! [`Accepts`] (wrap a message into an item). Storing the enum inline is what keeps a tell free
//! of heap allocation; [`DynMessage`] is the boxed alternative for actors written without the
//! macro that would rather not write the enum.

mod current;
mod dynamic;
mod envelope;
mod reply;
mod slot;

use std::future::Future;

use crate::actor::{Actor, Context};

pub use dynamic::DynMessage;
pub use envelope::{Headers, MessageId, TraceContext};
pub use reply::ReplyTo;

pub(crate) use current::{
    enter_simulated_ids, leave_simulated_ids, replace_actor, set_trace, trace as current_trace,
};
pub(crate) use envelope::Envelope;
pub(crate) use reply::{
    Failure, ReplyReceiver, answer_orphans, catch_panic, catch_task_panic, dropping_with,
};

/// A value an actor can receive.
///
/// `Reply` is what an ask of this message resolves to; `()` for messages that are only told.
///
/// ```
/// use snowglobe_runtime::Message;
///
/// /// Reserve stock; replies with the units reserved.
/// struct Reserve { sku: u32, qty: u32 }
///
/// impl Message for Reserve {
///     type Reply = Result<u32, String>;
/// }
/// ```
pub trait Message: Send + 'static {
    /// What the handler returns to the asker.
    type Reply: Send + 'static;

    /// A copy of this message for the simulator's network to deliver a second time, or `None`
    /// when the message cannot be copied (then the network does not duplicate it).
    ///
    /// A real network may deliver a message twice (a retry whose first attempt did arrive); a
    /// deterministic simulation does the same on purpose, so that a handler that is not
    /// idempotent fails under a seed instead of in production. The runtime never needs a copy
    /// otherwise: a message is moved from sender to handler, and `Message` does not ask for
    /// `Clone`.
    ///
    /// `#[messages]` implements it for every `#[message]` struct: a copy, field by field, when
    /// the type of every field (every argument of the method) is `Clone`, whether or not the
    /// struct derives `Clone` itself; `None` when one is not (a `oneshot::Sender`, say). A
    /// hand-written message gets `None`; one that is `Clone` should return
    /// `Some(self.clone())`, so the simulator can duplicate it too:
    ///
    /// ```
    /// use snowglobe_runtime::Message;
    ///
    /// /// Charge an order; replies with the amount charged.
    /// #[derive(Clone, Debug, PartialEq)]
    /// struct Charge { order: u64, cents: u64 }
    ///
    /// impl Message for Charge {
    ///     type Reply = u64;
    ///
    ///     fn duplicate(&self) -> Option<Self> {
    ///         Some(self.clone())
    ///     }
    /// }
    ///
    /// /// Hands over the receiving end of a feed, which exists once: the default, never
    /// /// duplicated.
    /// struct Follow { feed: std::sync::mpsc::Receiver<u64> }
    ///
    /// impl Message for Follow {
    ///     type Reply = ();
    /// }
    ///
    /// let charge = Charge { order: 7, cents: 1250 };
    /// assert_eq!(charge.duplicate(), Some(charge.clone()));
    /// let (_tx, feed) = std::sync::mpsc::channel();
    /// assert!(Follow { feed }.duplicate().is_none());
    /// ```
    fn duplicate(&self) -> Option<Self>
    where
        Self: Sized,
    {
        None
    }
}

/// An actor's handler for messages of type `M`.
///
/// The actor handles one message at a time: while `handle` runs (including while it awaits),
/// no other message of this actor is handled, so `&mut self` is all the synchronisation the
/// actor's state needs. A handler that must not block the actor for long should hand the slow
/// part to another actor or task.
///
/// Implementations may be written as `async fn`.
///
/// ```
/// use snowglobe_runtime::{Actor, Context, DynMessage, Handler, Message};
///
/// struct Counter { n: u64 }
/// impl Actor for Counter {
///     type Msg = DynMessage<Self>;
/// }
///
/// struct Add(u64);
/// impl Message for Add {
///     type Reply = u64;
/// }
///
/// impl Handler<Add> for Counter {
///     async fn handle(&mut self, Add(k): Add, _ctx: &mut Context<Self>) -> u64 {
///         self.n += k;
///         self.n
///     }
/// }
/// ```
pub trait Handler<M: Message>: Actor {
    /// Handles `msg`; the result goes to the asker, if there is one.
    ///
    /// A panic here is caught: the asker gets [`AskError::Panicked`](crate::AskError::Panicked)
    /// and the actor stops with [`StopReason::Panicked`](crate::StopReason::Panicked).
    fn handle(&mut self, msg: M, ctx: &mut Context<Self>) -> impl Future<Output = M::Reply> + Send;
}

/// The mailbox item of an actor: it carries one message with its reply slot and knows which
/// handler takes it.
///
/// `#[messages]` implements this for the enum it generates. By hand it is a `match`:
///
/// ```
/// use snowglobe_runtime::{Accepts, Actor, Context, Dispatch, Handler, Message, ReplyTo};
///
/// struct Counter { n: u64 }
///
/// struct Add(u64);
/// impl Message for Add { type Reply = u64; }
/// impl Handler<Add> for Counter {
///     async fn handle(&mut self, Add(k): Add, _ctx: &mut Context<Self>) -> u64 {
///         self.n += k;
///         self.n
///     }
/// }
///
/// enum CounterMsg {
///     Add(Add, ReplyTo<u64>),
/// }
///
/// impl Dispatch<Counter> for CounterMsg {
///     async fn dispatch(self, actor: &mut Counter, ctx: &mut Context<Counter>) {
///         match self {
///             CounterMsg::Add(msg, reply) => reply.send(actor.handle(msg, ctx).await),
///         }
///     }
///
///     fn message_type(&self) -> &'static str {
///         match self {
///             CounterMsg::Add(..) => "Add",
///         }
///     }
/// }
///
/// impl Accepts<Add> for CounterMsg {
///     fn from_message(msg: Add, reply: ReplyTo<u64>) -> Self {
///         CounterMsg::Add(msg, reply)
///     }
/// }
///
/// impl Actor for Counter {
///     type Msg = CounterMsg;
/// }
/// ```
pub trait Dispatch<A: Actor>: Send + Sized + 'static {
    /// Hands the message to its handler and sends the result to the reply slot.
    fn dispatch<'a>(
        self,
        actor: &'a mut A,
        ctx: &'a mut Context<A>,
    ) -> impl Future<Output = ()> + Send + 'a;

    /// The name of the message type inside, for dead letters, logs and traces.
    fn message_type(&self) -> &'static str;

    /// Handles the message at once if its handler never awaits, and returns `None`; otherwise
    /// returns the message, which then goes to [`dispatch`](Dispatch::dispatch).
    ///
    /// An optimisation: a synchronous handler needs no future. `#[messages]` implements it for
    /// the methods that are not `async`, calling the method directly. The default hands every
    /// message to `dispatch`.
    #[inline]
    fn dispatch_sync(self, actor: &mut A, ctx: &mut Context<A>) -> Option<Self> {
        let _ = (actor, ctx);
        Some(self)
    }
}

/// A mailbox item type that can carry messages of type `M`.
///
/// An actor accepts `M` when its [`Actor::Msg`](crate::Actor::Msg) implements `Accepts<M>`:
/// `#[messages]` implements it for each `#[message]` method, [`DynMessage`] for every message
/// type the actor has a [`Handler`] for.
#[diagnostic::on_unimplemented(
    message = "the mailbox `{Self}` does not accept messages of type `{M}`",
    label = "`{M}` is not one of this actor's messages",
    note = "give the actor a `#[message]` method for it (a `#[handler]` method for a message type defined elsewhere), or implement `Accepts<{M}>` for its mailbox type"
)]
pub trait Accepts<M: Message>: Sized {
    /// Wraps `msg` and its reply slot into a mailbox item.
    fn from_message(msg: M, reply: ReplyTo<M::Reply>) -> Self;
}
