//! What an actor knows about itself while it runs.

use std::fmt;
use std::sync::{Arc, Weak};
use std::time::Duration;

use super::cell::{Core, Deliver};
use super::timer::{self, TimerHandle};
use super::{Actor, ActorId, Node, signal};
use crate::address::{ActorRef, TellError};
use crate::message::{Accepts, Headers, Message};
use crate::supervision::{ChildSpec, DeadLetter, DeadLetterReason, LinkError, Terminated};
use crate::system::{Instant, SpawnError, SpawnOptions, System};

/// The actor's view of itself and the system, passed to every handler and hook.
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// use std::time::Duration;
/// use snowglobe_runtime::{Actor, Context, DynMessage, Handler, Message, System};
///
/// struct Reminder { fired: u32 }
/// impl Actor for Reminder { type Msg = DynMessage<Self>; }
///
/// struct Arm;
/// impl Message for Arm { type Reply = (); }
/// struct Ring;
/// impl Message for Ring { type Reply = (); }
/// struct Fired;
/// impl Message for Fired { type Reply = u32; }
///
/// impl Handler<Arm> for Reminder {
///     async fn handle(&mut self, _: Arm, ctx: &mut Context<Self>) {
///         ctx.send_after(Duration::from_secs(60), Ring);
///     }
/// }
/// impl Handler<Ring> for Reminder {
///     async fn handle(&mut self, _: Ring, _: &mut Context<Self>) { self.fired += 1; }
/// }
/// impl Handler<Fired> for Reminder {
///     async fn handle(&mut self, _: Fired, _: &mut Context<Self>) -> u32 { self.fired }
/// }
///
/// let system = System::new();
/// let reminder = system.spawn(Reminder { fired: 0 }).unwrap();
/// reminder.ask(Arm).await.unwrap();
/// tokio::time::sleep(Duration::from_secs(61)).await; // virtual time: the clock is paused
/// assert_eq!(reminder.ask(Fired).await.unwrap(), 1);
/// # system.shutdown().await;
/// # }
/// ```
pub struct Context<A: Actor> {
    myself: ActorRef<A>,
    pub(crate) headers: Headers,
    /// Boxed: most actors never start a timer, and every idle actor keeps its context (one
    /// pointer here instead of a `Vec`'s three).
    #[allow(clippy::box_collection)]
    timers: Option<Box<Vec<TimerHandle>>>,
}

impl<A: Actor> Context<A> {
    pub(crate) fn new(myself: ActorRef<A>) -> Context<A> {
        Context {
            myself,
            headers: Headers::new(),
            timers: None,
        }
    }

    /// The actor's own address.
    #[must_use]
    pub fn actor_ref(&self) -> &ActorRef<A> {
        &self.myself
    }

    /// The actor's id.
    #[must_use]
    pub fn id(&self) -> ActorId {
        self.myself.id()
    }

    /// The actor's registered name, if it has one.
    #[must_use]
    pub fn name(&self) -> Option<&str> {
        self.myself.name()
    }

    /// The system the actor runs in.
    #[must_use]
    pub fn system(&self) -> &System {
        &self.myself.cell().core.system
    }

    /// The headers of the message being handled: its id, sender, deadline and trace context.
    #[must_use]
    pub fn headers(&self) -> &Headers {
        &self.headers
    }

    /// The current time on the system's clock.
    #[must_use]
    pub fn now(&self) -> Instant {
        self.system().now()
    }

    /// Stops the actor gracefully once the current handler returns: messages already queued
    /// are handled, new ones are refused, then the children stop and `on_stop` runs.
    ///
    /// A child spawned with [`Restart::Permanent`](crate::Restart::Permanent) is restarted
    /// when it stops itself: this instance ends once the current handler returns (its
    /// children stop and `on_stop` runs), and the messages queued stay in the open mailbox
    /// for the next instance, so no sender sees the address closed in between.
    pub fn stop(&self) {
        self.myself.cell().request_stop(signal::SELF_STOP);
    }

    /// Spawns a child of this actor with its type's default options.
    ///
    /// A child stops before its parent finishes stopping.
    ///
    /// # Errors
    ///
    /// See [`SpawnError`]; [`SpawnError::ParentStopping`] once this actor is stopping.
    pub fn spawn<C: Actor>(&mut self, child: C) -> Result<ActorRef<C>, SpawnError> {
        self.spawn_with(child, SpawnOptions::new())
    }

    /// Spawns a child of this actor with the given options.
    ///
    /// # Errors
    ///
    /// See [`SpawnError`].
    pub fn spawn_with<C: Actor>(
        &mut self,
        child: C,
        options: SpawnOptions,
    ) -> Result<ActorRef<C>, SpawnError> {
        let cell = self.myself.cell();
        let weak: Weak<dyn Node> = Arc::downgrade(cell) as Weak<dyn Node>;
        self.system()
            .spawn_inner(child, options, Some((&**cell as &dyn Node, weak)), None)
    }

    /// Spawns a supervised child: when it fails, this actor's supervisor
    /// ([`Actor::SUPERVISOR`]) and the spec's restart policy decide whether a fresh instance
    /// from the spec's factory takes over.
    ///
    /// # Errors
    ///
    /// See [`SpawnError`].
    pub fn spawn_supervised<C: Actor>(
        &mut self,
        spec: ChildSpec<C>,
    ) -> Result<ActorRef<C>, SpawnError> {
        let cell = self.myself.cell();
        let weak: Weak<dyn Node> = Arc::downgrade(cell) as Weak<dyn Node>;
        self.system()
            .spawn_spec(spec, Some((&**cell as &dyn Node, weak)))
    }

    /// Watches `target`: when it stops for good, this actor gets a [`Terminated`] message
    /// with its id and the reason. A restart is not a stop, so a supervised actor's watchers
    /// hear of it only once it is given up. Watching an actor that has stopped already
    /// delivers at once; watching it twice keeps one watch. The watch goes when this actor
    /// stops (it survives this actor's restarts: the address watches, not the instance).
    ///
    /// The message is delivered like a tell: if the mailbox is full, a task waits for room.
    /// For an actor whose messages are made by `#[messages]`, handle `Terminated` with a
    /// `#[handler]` method, or use [`watch_with`](Context::watch_with) to turn it into a
    /// message of the actor's own.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use snowglobe_runtime::{
    ///     Actor, ActorRef, Context, DynMessage, Handler, Message, StopReason, System, Terminated,
    /// };
    ///
    /// struct Worker;
    /// impl Actor for Worker { type Msg = DynMessage<Self>; }
    ///
    /// #[derive(Default)]
    /// struct Monitor { gone: Vec<StopReason> }
    /// impl Actor for Monitor { type Msg = DynMessage<Self>; }
    ///
    /// struct Watch(ActorRef<Worker>);
    /// impl Message for Watch { type Reply = (); }
    /// impl Handler<Watch> for Monitor {
    ///     async fn handle(&mut self, Watch(worker): Watch, ctx: &mut Context<Self>) {
    ///         ctx.watch(&worker);
    ///     }
    /// }
    /// impl Handler<Terminated> for Monitor {
    ///     async fn handle(&mut self, t: Terminated, _: &mut Context<Self>) {
    ///         self.gone.push(t.reason);
    ///     }
    /// }
    /// struct Gone;
    /// impl Message for Gone { type Reply = usize; }
    /// impl Handler<Gone> for Monitor {
    ///     async fn handle(&mut self, _: Gone, _: &mut Context<Self>) -> usize { self.gone.len() }
    /// }
    ///
    /// let system = System::new();
    /// let worker = system.spawn(Worker).unwrap();
    /// let monitor = system.spawn(Monitor::default()).unwrap();
    /// monitor.ask(Watch(worker.clone())).await.unwrap();
    /// worker.stop();
    /// worker.stopped().await;
    /// // `Terminated` was queued before this ask.
    /// assert_eq!(monitor.ask(Gone).await.unwrap(), 1);
    /// # system.shutdown().await;
    /// # }
    /// ```
    pub fn watch<B: Actor>(&mut self, target: &ActorRef<B>)
    where
        A::Msg: Accepts<Terminated>,
    {
        self.watch_with(target, |terminated| terminated);
    }

    /// Watches `target` like [`watch`](Context::watch), delivering the message `make` turns
    /// the [`Terminated`] into.
    pub fn watch_with<B, M, F>(&mut self, target: &ActorRef<B>, make: F)
    where
        B: Actor,
        M: Message,
        A::Msg: Accepts<M>,
        F: FnOnce(Terminated) -> M + Send + 'static,
    {
        let watcher = self.myself.downgrade();
        let watcher_id = self.myself.id();
        let deliver: Deliver = Box::new(move |system: &System, terminated: Terminated| {
            let watcher = watcher.upgrade();
            if let Some(watcher) = &watcher {
                // The watch is spent: the watcher forgets the target (and its memory).
                watcher.cell().core.forget_watching(terminated.id);
            }
            deliver(system, watcher_id, watcher, make(terminated));
        });
        let node = Arc::downgrade(target.cell()) as Weak<dyn Node>;
        self.myself.cell().core.note_watching(target.id(), node);
        target.cell().core.add_watcher(watcher_id, deliver);
    }

    /// Stops watching `target`; a `Terminated` already delivered stays in the mailbox.
    pub fn unwatch<B: Actor>(&mut self, target: &ActorRef<B>) {
        target.cell().core.remove_watcher(self.myself.id());
        self.myself.cell().core.forget_watching(target.id());
    }

    /// Links this actor and `other` both ways: when the instance of either fails (a panic, a
    /// failed start, an escalation, a link), the other fails too, with
    /// [`StopReason::LinkFailed`](crate::StopReason::LinkFailed), and its supervisor decides
    /// what follows, as for any failure. A stop on request or a kill is not a failure, and
    /// only removes the link.
    ///
    /// A link belongs to the two *instances*, as in Erlang: when either instance ends, the
    /// link goes (so a failure does not bounce back and forth), and a restarted actor links
    /// again in its `on_start` if it wants to. Linking twice keeps one link.
    ///
    /// # Errors
    ///
    /// [`LinkError::Stopped`] if `other` has stopped; [`LinkError::ToItself`].
    pub fn link<B: Actor>(&mut self, other: &ActorRef<B>) -> Result<(), LinkError> {
        let me = self.myself.cell().clone() as Arc<dyn Node>;
        let other = other.cell().clone() as Arc<dyn Node>;
        Core::link(&me, &other)
    }

    /// Removes the link between this actor and `other`, if there is one.
    pub fn unlink<B: Actor>(&mut self, other: &ActorRef<B>) {
        other.cell().core.remove_link(self.myself.id());
        self.myself.cell().core.remove_link(other.id());
    }

    /// Sends `msg` to this actor after `delay`.
    pub fn send_after<M>(&mut self, delay: Duration, msg: M) -> TimerHandle
    where
        M: Message,
        A::Msg: Accepts<M>,
    {
        let handle = timer::send_after(self.system(), self.myself.clone(), delay, msg);
        self.keep(handle)
    }

    /// Sends a message made by `make` to this actor every `period`, the first one `period`
    /// from now. When the mailbox is full the tick waits for room; ticks missed meanwhile are
    /// skipped.
    pub fn send_interval<M, F>(&mut self, period: Duration, make: F) -> TimerHandle
    where
        M: Message,
        A::Msg: Accepts<M>,
        F: FnMut() -> M + Send + 'static,
    {
        let handle = timer::send_interval(self.system(), self.myself.clone(), period, make);
        self.keep(handle)
    }

    fn keep(&mut self, handle: TimerHandle) -> TimerHandle {
        let timers = self.timers.get_or_insert_default();
        timers.retain(TimerHandle::is_active);
        timers.push(handle.clone());
        handle
    }

    pub(crate) fn cancel_timers(&mut self) {
        for timer in self.timers.take().into_iter().flat_map(|timers| *timers) {
            timer.cancel();
        }
    }
}

/// Delivers a watch's message to the watcher, or records a dead letter if it has stopped.
fn deliver<A, M>(system: &System, watcher_id: ActorId, watcher: Option<ActorRef<A>>, msg: M)
where
    A: Actor,
    M: Message,
    A::Msg: Accepts<M>,
{
    let dead = move |system: &System| {
        system.shared().dead_letters.record(DeadLetter::new(
            watcher_id,
            std::any::type_name::<M>(),
            Headers::new(),
            DeadLetterReason::ActorStopped,
        ));
    };
    let Some(watcher) = watcher else {
        return dead(system);
    };
    match watcher.try_tell(msg) {
        Ok(()) => {}
        Err(TellError::Full(msg)) => {
            let owned = system.clone();
            system.shared().rt().spawn(async move {
                if watcher.tell(msg).await.is_err() {
                    dead(&owned);
                }
            });
        }
        Err(TellError::Closed(_)) => dead(system),
    }
}

impl<A: Actor> fmt::Debug for Context<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("actor", &self.myself)
            .field("headers", &self.headers)
            .finish_non_exhaustive()
    }
}
