//! The send futures: `tell` (wait for room) and `ask` (wait for the reply), and the
//! [`Request`] builder both start from.

use std::fmt;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use super::endpoint::{Endpoint, crossing, try_tell};
use super::error::{AskError, TellError};
use crate::mailbox::Reject;
use crate::message::{Headers, Message, MessageId, ReplyReceiver, ReplyTo};
use crate::system::{Helps, Instant, Registration};

/// A message on its way to an actor, not yet sent.
///
/// Await it to ask (send and wait for the typed reply), or call [`tell`](Request::tell) or
/// [`try_tell`](Request::try_tell) to send it without a reply. [`ActorRef::ask`] returns one,
/// and so does each client method `#[messages]` generates.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// # use snowglobe_runtime::{Actor, Context, DynMessage, Handler, Message, System};
/// # struct Echo;
/// # impl Actor for Echo { type Msg = DynMessage<Self>; }
/// # struct Ping(u32);
/// # impl Message for Ping { type Reply = u32; }
/// # impl Handler<Ping> for Echo {
/// #     async fn handle(&mut self, Ping(n): Ping, _: &mut Context<Self>) -> u32 { n }
/// # }
/// use std::time::Duration;
///
/// let system = System::new();
/// let echo = system.spawn(Echo).unwrap();
///
/// // ask, with the system's default deadline or an explicit one
/// assert_eq!(echo.ask(Ping(1)).await.unwrap(), 1);
/// assert_eq!(echo.ask(Ping(2)).timeout(Duration::from_millis(50)).await.unwrap(), 2);
/// // the same request, sent without waiting for a reply
/// echo.ask(Ping(3)).tell().await.unwrap();
/// # system.shutdown().await;
/// # }
/// ```
///
/// [`ActorRef::ask`]: crate::ActorRef::ask
#[must_use = "a request does nothing until it is awaited (ask) or sent with `tell`"]
pub struct Request<'a, E, M> {
    target: &'a E,
    msg: M,
    timeout: Option<Duration>,
    id: Option<MessageId>,
}

impl<'a, E: Endpoint<M>, M: Message> Request<'a, E, M> {
    /// A request of `msg` to `target`.
    pub fn new(target: &'a E, msg: M) -> Self {
        Request {
            target,
            msg,
            timeout: None,
            id: None,
        }
    }

    /// Waits at most `timeout` for the reply (and for mailbox room before it) instead of the
    /// system's default ask timeout.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Sends the message under a given id rather than a fresh one: a retry passes the id of
    /// its first attempt so that the receiver can recognise it.
    pub fn message_id(mut self, id: MessageId) -> Self {
        self.id = Some(id);
        self
    }

    /// Asks with an absolute deadline: for a caller that has read the clock already.
    pub(crate) fn ask_until(self, deadline: Instant) -> Ask<'a, E, M> {
        Ask {
            target: self.target,
            state: AskState::Start { msg: self.msg },
            due: Due::At(deadline),
            id: self.id,
            deadline: Instant::ZERO,
            timer: Timer::Unset,
        }
    }

    /// The parts, for the resilience policies that send a request more than once.
    pub(crate) fn into_parts(self) -> (&'a E, M, Option<Duration>, Option<MessageId>) {
        (self.target, self.msg, self.timeout, self.id)
    }

    /// Sends the message without waiting for a reply; the future waits for mailbox room.
    pub fn tell(self) -> Tell<'a, E, M> {
        Tell {
            target: self.target,
            msg: Some(self.msg),
            id: self.id,
            routed: false,
        }
    }

    /// Sends the message if the mailbox has room now.
    ///
    /// # Errors
    ///
    /// [`TellError::Full`] or [`TellError::Closed`], with the message.
    pub fn try_tell(self) -> Result<(), TellError<M>> {
        let headers = headers(self.id);
        try_tell(self.target, self.msg, headers)
    }
}

fn headers(id: Option<MessageId>) -> Headers {
    let headers = Headers::new();
    match id {
        Some(id) => headers.with_id(id),
        None => headers,
    }
}

impl<'a, E: Endpoint<M>, M: Message> IntoFuture for Request<'a, E, M> {
    type Output = Result<M::Reply, AskError<M>>;
    type IntoFuture = Ask<'a, E, M>;

    fn into_future(self) -> Ask<'a, E, M> {
        Ask {
            target: self.target,
            state: AskState::Start { msg: self.msg },
            due: match self.timeout {
                Some(timeout) => Due::After(timeout),
                None => Due::Default,
            },
            id: self.id,
            deadline: Instant::ZERO,
            timer: Timer::Unset,
        }
    }
}

impl<E, M> fmt::Debug for Request<'_, E, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("message", &std::any::type_name::<M>())
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// The future of a tell: resolves once the message is in the mailbox.
///
/// A full mailbox makes it wait for room (backpressure). Awaited in a tokio task, it may
/// instead run the actor itself, within its own poll, when the actor's task waits for a
/// worker: the actor takes its messages and the tell goes on, without handing the thread to
/// tokio and back. Every few such turns it waits as any sender does, so that it gives its
/// worker back; [`SystemBuilder::inline_handlers`](crate::SystemBuilder::inline_handlers)
/// turns it off.
///
/// # Cancel safety
///
/// Dropping it before it completes drops the message unsent; once it has completed, the
/// message is in the mailbox.
#[must_use = "futures do nothing unless awaited"]
pub struct Tell<'a, E, M> {
    target: &'a E,
    msg: Option<M>,
    id: Option<MessageId>,
    /// The simulator has seen the send (a first poll that found the mailbox full polls
    /// again).
    routed: bool,
}

impl<'a, E, M> Tell<'a, E, M> {
    pub(crate) fn new(target: &'a E, msg: M) -> Self {
        Tell {
            target,
            msg: Some(msg),
            id: None,
            routed: false,
        }
    }
}

impl<E, M> Unpin for Tell<'_, E, M> {}

impl<E: Endpoint<M>, M: Message> Future for Tell<'_, E, M> {
    type Output = Result<(), TellError<M>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if self.msg.is_none() {
            // Polled after completion: claim nothing.
            return Poll::Pending;
        }
        // Everything the envelope needs is ready before the slot is claimed: the receiver
        // may be waiting on that very slot.
        let headers = headers(self.id);
        if self.target.node() != 0 && !self.routed {
            self.routed = true;
            if tell_simulated(self.target, &mut self.msg, headers) {
                return Poll::Ready(Ok(()));
            }
        }
        // The common case first, its slot filled where it was claimed: the claim taken out
        // of a `Poll` or matched a second time is copied once more per message.
        let reserved = match self.target.try_reserve() {
            Ok(slot) => {
                if let Some(msg) = self.msg.take() {
                    if self.target.push(slot, headers, msg, ReplyTo::none()) {
                        run_deep_receiver(self.target);
                    }
                    return Poll::Ready(Ok(()));
                }
                return Poll::Pending;
            }
            Err(Reject::Full) => match self.target.poll_reserve(cx) {
                Poll::Ready(reserved) => reserved,
                Poll::Pending => return Poll::Pending,
            },
            Err(closed) => Err(closed),
        };
        let Some(msg) = self.msg.take() else {
            return Poll::Pending;
        };
        Poll::Ready(match reserved {
            Ok(slot) => {
                self.target.push(slot, headers, msg, ReplyTo::none());
                Ok(())
            }
            Err(Reject::Closed) => Err(TellError::Closed(msg)),
            Err(Reject::Full) => Err(TellError::Full(msg)),
        })
    }
}

/// After a tell into an unbounded mailbox with a backlog (see `Queue::push`): runs the
/// actor on this thread for a turn if it waits for a driver and the sender may (a tokio task
/// of the system's runtime), as a sender to a full bounded mailbox does. A sender streaming
/// into an unbounded mailbox otherwise keeps its worker, and the driver its messages woke
/// waits behind it there: the backlog would grow with every message until the sender
/// paused.
#[cold]
#[inline(never)]
fn run_deep_receiver<M: Message, E: Endpoint<M>>(target: &E) {
    let rt = target.system().rt();
    let _ = rt.help_receiver(Helps::Uncounted, |claim| target.claim_receiver(claim));
}

impl<E, M> fmt::Debug for Tell<'_, E, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tell")
            .field("message", &std::any::type_name::<M>())
            .field("sent", &self.msg.is_none())
            .finish_non_exhaustive()
    }
}

/// When an ask gives up.
#[derive(Clone, Copy)]
enum Due {
    /// After the system's default ask timeout.
    Default,
    After(Duration),
    /// At a deadline the caller has computed already (a policy with its clock read).
    At(Instant),
}

/// Where an ask stands with its deadline.
enum Timer {
    /// Not waited yet.
    Unset,
    /// The first wait deferred a wake-up instead of registering the deadline.
    Deferred,
    Registered(Registration),
}

enum AskState<M: Message> {
    Start {
        msg: M,
    },
    Reserving {
        msg: M,
        headers: Headers,
        reply: ReplyTo<M::Reply>,
        receiver: ReplyReceiver<M::Reply>,
    },
    Waiting {
        reply: ReplyReceiver<M::Reply>,
    },
    Done,
}

/// The future of an ask: resolves to the handler's reply or to why there is none.
///
/// The deadline covers the whole ask: waiting for mailbox room, then for the reply. It
/// travels in the message's headers, so the handler can see how much time is left. An ask
/// answered before its task comes round again (the receiver runs on the same worker, among
/// the tasks ready when the ask began to wait) never touches a timer; one that waits longer
/// registers its deadline with the system, which wakes it when the deadline passes.
///
/// Awaited in a tokio task, an ask to an idle actor usually runs that actor's handler
/// within its own first poll (the asking thread would only wait for it otherwise), and
/// resolves there; [`SystemBuilder::inline_handlers`](crate::SystemBuilder::inline_handlers)
/// says what the handler then shares with the asking task, and turns it off. The deadline bounds
/// the waiting: a reply the handler produced inside that poll is returned even if a
/// synchronous handler ran past the deadline, as on a current-thread runtime, where the
/// handler runs on the asking thread anyway.
///
/// # Cancel safety
///
/// Dropping it before the message was sent drops the message. Dropping it after leaves
/// the message in the mailbox: the actor still handles it, and the reply is discarded.
#[must_use = "futures do nothing unless awaited"]
pub struct Ask<'a, E: Endpoint<M>, M: Message> {
    target: &'a E,
    state: AskState<M>,
    due: Due,
    id: Option<MessageId>,
    deadline: Instant,
    timer: Timer,
}

impl<E: Endpoint<M>, M: Message> Unpin for Ask<'_, E, M> {}

impl<E: Endpoint<M>, M: Message> Ask<'_, E, M> {
    /// Whether the deadline passed. The first wait only defers a wake-up of the asking task
    /// behind the tasks ready now; the deadline is registered on the next wait, if there is
    /// one.
    ///
    /// The receiver is usually among those ready tasks (the send woke it), and an answer that
    /// comes before the deferred wake-up completes the ask without touching the deadline
    /// table: no lock, no waker clone, no cancellation.
    fn expired(&mut self, cx: &mut Context<'_>) -> bool {
        let system = self.target.system();
        match &self.timer {
            Timer::Registered(timer) => system.deadlines.poll_fired(timer, cx.waker()),
            Timer::Unset if system.rt().defer_wake(cx) => {
                self.timer = Timer::Deferred;
                false
            }
            Timer::Unset | Timer::Deferred => {
                // A deadline already past is fired by the driver right away.
                let timer = system.deadlines.register(system, self.deadline, cx.waker());
                self.timer = Timer::Registered(timer);
                false
            }
        }
    }

    fn finish(&mut self) {
        if let Timer::Registered(timer) = std::mem::replace(&mut self.timer, Timer::Unset) {
            self.target.system().deadlines.cancel(&timer);
        }
    }
}

impl<E: Endpoint<M>, M: Message> Drop for Ask<'_, E, M> {
    fn drop(&mut self) {
        self.finish();
    }
}

impl<E: Endpoint<M>, M: Message> Future for Ask<'_, E, M> {
    type Output = Result<M::Reply, AskError<M>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        loop {
            match &mut this.state {
                AskState::Waiting { reply } => {
                    let outcome = match Pin::new(reply).poll(cx) {
                        Poll::Ready(Ok(Ok(value))) => {
                            // The common end, returned from here: built in a variable shared
                            // with the failures, the reply took a detour through the stack.
                            this.state = AskState::Done;
                            this.finish();
                            return Poll::Ready(Ok(value));
                        }
                        Poll::Ready(Ok(Err(failure))) => Err(AskError::from_failure(failure)),
                        // The slot's `Drop` always answers; a lost sender means it leaked.
                        Poll::Ready(Err(_)) => Err(AskError::Dropped),
                        Poll::Pending => {
                            if !this.expired(cx) {
                                return Poll::Pending;
                            }
                            Err(AskError::Timeout)
                        }
                    };
                    this.state = AskState::Done;
                    this.finish();
                    return Poll::Ready(outcome);
                }
                AskState::Start { .. } => {
                    let AskState::Start { msg } =
                        std::mem::replace(&mut this.state, AskState::Done)
                    else {
                        unreachable!("matched above")
                    };
                    let system = this.target.system();
                    this.deadline = match this.due {
                        Due::Default => system.rt().now() + system.config.ask_timeout,
                        Due::After(timeout) => system.rt().now() + timeout,
                        Due::At(deadline) => deadline,
                    };
                    let headers = headers(this.id).with_deadline(this.deadline);
                    // The reply channel exists before the slot is claimed: the receiver may
                    // be waiting on that very slot.
                    let (reply, receiver) = ReplyTo::channel();
                    let (msg, reply) = if this.target.node() == 0 {
                        (msg, reply)
                    } else {
                        match ask_simulated(this.target, msg, headers, reply) {
                            Some(unsent) => unsent,
                            None => {
                                this.state = AskState::Waiting { reply: receiver };
                                continue;
                            }
                        }
                    };
                    match this.target.try_reserve() {
                        Ok(slot) => {
                            let target = this.target;
                            system.rt().help(
                                || target.push(slot, headers, msg, reply),
                                |claim| target.claim_receiver(claim),
                            );
                            this.state = AskState::Waiting { reply: receiver };
                        }
                        Err(Reject::Closed) => return Poll::Ready(Err(AskError::Closed(msg))),
                        Err(Reject::Full) => {
                            this.state = AskState::Reserving {
                                msg,
                                headers,
                                reply,
                                receiver,
                            };
                        }
                    }
                }
                AskState::Reserving { .. } => {
                    let reserved = this.target.poll_reserve(cx);
                    let AskState::Reserving {
                        msg,
                        headers,
                        reply,
                        receiver,
                    } = std::mem::replace(&mut this.state, AskState::Done)
                    else {
                        unreachable!("matched above")
                    };
                    match reserved {
                        Poll::Ready(Ok(slot)) => {
                            this.target.push(slot, headers, msg, reply);
                            this.state = AskState::Waiting { reply: receiver };
                        }
                        Poll::Ready(Err(Reject::Closed)) => {
                            this.finish();
                            return Poll::Ready(Err(AskError::Closed(msg)));
                        }
                        Poll::Ready(Err(Reject::Full)) | Poll::Pending => {
                            if this.expired(cx) {
                                this.finish();
                                return Poll::Ready(Err(AskError::Full(msg)));
                            }
                            this.state = AskState::Reserving {
                                msg,
                                headers,
                                reply,
                                receiver,
                            };
                            return Poll::Pending;
                        }
                    }
                }
                AskState::Done => return Poll::Pending,
            }
        }
    }
}

impl<E: Endpoint<M>, M: Message> fmt::Debug for Ask<'_, E, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            AskState::Start { .. } => "start",
            AskState::Reserving { .. } => "waiting for mailbox room",
            AskState::Waiting { .. } => "waiting for the reply",
            AskState::Done => "done",
        };
        f.debug_struct("Ask")
            .field("message", &std::any::type_name::<M>())
            .field("state", &state)
            .field("deadline", &self.deadline)
            .field(
                "waits_for_deadline",
                &matches!(self.timer, Timer::Registered(_)),
            )
            .finish_non_exhaustive()
    }
}

/// Under simulation, a tell that crosses to another node goes to the network (`true`). Out
/// of line: the send path keeps only the node check.
#[cold]
#[inline(never)]
fn tell_simulated<M: Message, E: Endpoint<M>>(
    target: &E,
    msg: &mut Option<M>,
    headers: Headers,
) -> bool {
    if let Some(crossing) = crossing::<M, E>(target, &headers)
        && let Some(msg) = msg.take()
    {
        crate::sim::send_remote(crossing, target, headers, msg, ReplyTo::none());
        return true;
    }
    false
}

/// Under simulation, an ask that crosses to another node goes to the network (`None`); a
/// local one is handed back.
#[cold]
#[inline(never)]
fn ask_simulated<M: Message, E: Endpoint<M>>(
    target: &E,
    msg: M,
    headers: Headers,
    reply: ReplyTo<M::Reply>,
) -> Option<(M, ReplyTo<M::Reply>)> {
    match crossing::<M, E>(target, &headers) {
        Some(crossing) => {
            crate::sim::send_remote(crossing, target, headers, msg, reply);
            None
        }
        None => Some((msg, reply)),
    }
}
