//! Timers that send messages to their own actor.

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

use crate::address::ActorRef;
use crate::message::{Accepts, Headers, Message};
use crate::supervision::DeadLetterReason;
use crate::system::{System, TaskHandle};

use super::{Actor, Node, PanicMessage, signal};

/// A timer started with [`Context::send_after`](crate::Context::send_after) or
/// [`Context::send_interval`](crate::Context::send_interval).
///
/// Dropping the handle leaves the timer running; [`cancel`](TimerHandle::cancel) stops it.
/// Every timer of an actor stops when the actor stops.
#[derive(Clone)]
pub struct TimerHandle {
    task: TaskHandle,
}

impl TimerHandle {
    /// Stops the timer. A message it already sent stays in the mailbox.
    pub fn cancel(&self) {
        self.task.abort();
    }

    /// Whether the timer may still send: not cancelled, and for a one-shot timer, not fired.
    #[must_use]
    pub fn is_active(&self) -> bool {
        !self.task.is_finished()
    }
}

impl fmt::Debug for TimerHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimerHandle")
            .field("active", &self.is_active())
            .finish()
    }
}

pub(crate) fn send_after<A, M>(
    system: &System,
    target: ActorRef<A>,
    delay: Duration,
    msg: M,
) -> TimerHandle
where
    A: Actor,
    M: Message,
    A::Msg: Accepts<M>,
{
    let rt = system.shared().rt();
    let sleep = rt.sleep(delay);
    let task = rt.spawn_actor(async move {
        sleep.await;
        deliver(&target, msg).await;
    });
    TimerHandle { task }
}

pub(crate) fn send_interval<A, M, F>(
    system: &System,
    target: ActorRef<A>,
    period: Duration,
    mut make: F,
) -> TimerHandle
where
    A: Actor,
    M: Message,
    A::Msg: Accepts<M>,
    F: FnMut() -> M + Send + 'static,
{
    let first = system.now() + period;
    let task = system.shared().rt().spawn_actor({
        let system = system.clone();
        async move {
            let rt = system.shared().rt();
            let mut next = first;
            loop {
                rt.sleep_until(next).await;
                let msg = match catch_unwind(AssertUnwindSafe(&mut make)) {
                    Ok(msg) => msg,
                    Err(payload) => {
                        // Handled like a panic in a handler: the actor fails with it.
                        let panic = PanicMessage::from_payload(&*payload);
                        let core = &target.cell().core;
                        core.record_failure(panic);
                        target.cell().request_stop(signal::FAIL);
                        return;
                    }
                };
                if !deliver(&target, msg).await {
                    return;
                }
                // Ticks missed while the mailbox was full are skipped, not bunched up.
                next = (next + period).max(rt.now());
            }
        }
    });
    TimerHandle { task }
}

/// Tells `msg` to the timer's actor; a stopped actor turns it into a dead letter. Returns
/// whether the actor still accepts messages.
async fn deliver<A, M>(target: &ActorRef<A>, msg: M) -> bool
where
    A: Actor,
    M: Message,
    A::Msg: Accepts<M>,
{
    match target.tell(msg).await {
        Ok(()) => true,
        Err(_) => {
            target.cell().core.dead_letter(
                std::any::type_name::<M>(),
                Headers::new(),
                DeadLetterReason::ActorStopped,
            );
            false
        }
    }
}
