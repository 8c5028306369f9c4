//! What an actor knows about itself while it runs.

use std::fmt;
use std::sync::{Arc, Weak};
use std::time::Duration;

use super::timer::{self, TimerHandle};
use super::{Actor, ActorId, Node, signal};
use crate::address::ActorRef;
use crate::message::{Accepts, Headers, Message};
use crate::supervision::ChildSpec;
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

impl<A: Actor> fmt::Debug for Context<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("actor", &self.myself)
            .field("headers", &self.headers)
            .finish_non_exhaustive()
    }
}
