//! Actors: private state, a mailbox, lifecycle hooks.

mod cell;
mod context;
mod crash;
mod group;
mod guard;
mod id;
mod restart;
mod run;
mod stop;
mod timer;

use std::future::Future;

use crate::mailbox::Mailbox;
use crate::message::Dispatch;
use crate::supervision::{PanicDecision, Supervisor};

pub use context::Context;
pub use id::ActorId;
pub use stop::{PanicMessage, StopReason};
pub use timer::TimerHandle;

pub(crate) use cell::{Cell, Core, Lifecycle, Node, signal};
pub(crate) use crash::{CrashRoot, Root};
pub(crate) use group::Group;
pub(crate) use restart::Restarter;
pub(crate) use run::{Launch, start};

/// The error type [`Actor::on_start`] may return.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A service: private state behind a mailbox, reached only through messages.
///
/// An actor handles one message at a time. It runs until it is stopped
/// ([`ActorRef::stop`](crate::ActorRef::stop), [`Context::stop`], its parent stopping,
/// [`System::shutdown`](crate::System::shutdown)), killed, or until a handler panics; dropping
/// every [`ActorRef`](crate::ActorRef) does not stop it.
///
/// `Msg` is the type the mailbox stores. `#[derive(Actor)]` with `#[messages]` sets it to the
/// generated message enum; by hand it is an enum implementing
/// [`Dispatch`] (see there) or [`DynMessage<Self>`](crate::DynMessage).
///
/// # Lifecycle
///
/// 1. [`on_start`](Actor::on_start) runs before the first message. Messages sent meanwhile
///    wait in the mailbox. An error or a panic stops the actor without calling `on_stop`.
/// 2. Messages are handled in the order they arrived from each sender.
/// 3. On a graceful stop, the mailbox closes, the messages already in it are handled, the
///    actor's children stop (the last spawned first), then [`on_stop`](Actor::on_stop) runs.
/// 4. Messages still in the mailbox of a killed or failed actor become dead letters; their
///    asks fail with [`AskError::Stopped`](crate::AskError::Stopped).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use snowglobe_runtime::{Actor, BoxError, Context, DynMessage, StopReason, System};
///
/// struct Session { open: bool }
///
/// impl Actor for Session {
///     type Msg = DynMessage<Self>;
///
///     async fn on_start(&mut self, _ctx: &mut Context<Self>) -> Result<(), BoxError> {
///         self.open = true;
///         Ok(())
///     }
///
///     async fn on_stop(&mut self, _ctx: &mut Context<Self>, reason: &StopReason) {
///         assert!(matches!(reason, StopReason::Normal));
///         self.open = false;
///     }
/// }
///
/// let system = System::new();
/// let session = system.spawn(Session { open: false }).unwrap();
/// session.stop();
/// assert!(matches!(session.stopped().await, StopReason::Normal));
/// # }
/// ```
pub trait Actor: Sized + Send + 'static {
    /// The mailbox item: the actor's message enum, or [`DynMessage<Self>`](crate::DynMessage).
    type Msg: Dispatch<Self>;

    /// The mailbox this actor type gets unless a spawn says otherwise.
    const MAILBOX: Mailbox = Mailbox::Bounded(Mailbox::DEFAULT_CAPACITY);

    /// How this actor supervises the children it spawns: the strategy and the restart
    /// intensity. The default is one-for-one, at most one restart in five seconds.
    const SUPERVISOR: Supervisor = Supervisor::DEFAULT;

    /// Runs once, before the first message.
    ///
    /// Returning an error stops the actor with
    /// [`StopReason::StartFailed`]; `on_stop` is not called then.
    fn on_start(
        &mut self,
        ctx: &mut Context<Self>,
    ) -> impl Future<Output = Result<(), BoxError>> + Send {
        let _ = ctx;
        async { Ok(()) }
    }

    /// Runs once per instance, after its last message was handled and its children have
    /// stopped: when the actor stops, and before a restart replaces the instance.
    ///
    /// Not called when `on_start` failed. A panic here is caught and logged; the actor stops
    /// (or restarts) as it would have, with the original reason.
    fn on_stop(
        &mut self,
        ctx: &mut Context<Self>,
        reason: &StopReason,
    ) -> impl Future<Output = ()> + Send {
        let _ = (ctx, reason);
        async {}
    }

    /// Decides what follows a panic in one of this actor's handlers (or timer callbacks).
    ///
    /// Called on the instance that panicked, after the message was recorded as a dead letter
    /// and its ask answered. [`PanicDecision::Resume`] keeps this instance and goes on with
    /// the next message; [`PanicDecision::Restart`] (the default) leaves it to the supervisor
    /// and the restart policy; [`PanicDecision::Stop`] stops the actor for good. A panic in
    /// here counts as `Restart`.
    fn on_panic(&mut self, ctx: &mut Context<Self>, panic: &PanicMessage) -> PanicDecision {
        let _ = (ctx, panic);
        PanicDecision::Restart
    }
}
