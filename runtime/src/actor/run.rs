//! The actor task: start, handle messages in batches, stop.

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use pin_project_lite::pin_project;

use super::cell::{Lifecycle, signal};
use super::guard::{Guarded, Interrupt};
use super::{Actor, Cell, Context, StopReason};
use crate::mailbox::{Pop, Ready};
use crate::message::{
    self, Dispatch, Envelope, Failure, TraceContext, catch_panic, catch_task_panic, dropping_with,
};
use crate::supervision::DeadLetterReason;

/// Messages an actor handles in a row before it yields its worker thread to other tasks.
const YIELD_EVERY: u32 = 1024;

/// Runs `actor` in a new task on the system's runtime.
pub(crate) fn start<A: Actor>(cell: Arc<Cell<A>>, actor: A, ctx: Context<A>) {
    let system = cell.core.system.clone();
    system.shared().rt().spawn(ActorTask {
        cell: cell.clone(),
        trace: TraceContext::NONE,
        fut: run(cell, actor, ctx),
    });
}

// A function returning an `async move` block rather than an `async fn`: an `async fn` keeps
// its arguments twice in its future (once as arguments, once as locals), and this future is
// what every idle actor keeps in memory.
#[allow(clippy::manual_async_fn)]
fn run<A: Actor>(
    cell: Arc<Cell<A>>,
    mut actor: A,
    mut ctx: Context<A>,
) -> impl Future<Output = ()> + Send {
    async move {
        // The hooks and the stop sequence run once: their futures are boxed so that the task an
        // idle actor keeps in memory holds only the message loop. (A default hook's future is
        // empty, and boxing it allocates nothing.)
        let start = Guarded::new(&cell.queue, Box::pin(actor.on_start(&mut ctx))).await;
        let failed = match start {
            Ok(Ok(())) => None,
            Ok(Err(error)) => Some(StopReason::StartFailed(Arc::from(error))),
            Err(Interrupt::Panicked(panic)) => Some(StopReason::Panicked(panic)),
            Err(Interrupt::Killed) => Some(StopReason::Killed),
        };
        let started = failed.is_none();
        let reason = match failed {
            Some(reason) => reason,
            None => handle_messages(&cell, &mut actor, &mut ctx).await,
        };
        message::set_trace(TraceContext::NONE);
        cell.core.set_lifecycle(Lifecycle::Stopping);
        cell.queue.close();
        if matches!(reason, StopReason::Killed) {
            // The kill is spent; a new one interrupts what follows. (A stop request left
            // behind is harmless; a kill raised just now still turns the stop into a kill.)
            cell.queue.take_signals();
        }

        let kill =
            matches!(reason, StopReason::Killed) || cell.queue.peek_signals() & signal::KILL != 0;
        if kill {
            cell.queue.take_signals();
        }
        Box::pin(stop_children(&cell, kill)).await;
        if started {
            let stopping =
                Guarded::new(&cell.queue, Box::pin(actor.on_stop(&mut ctx, &reason))).await;
            if let Err(interrupt) = stopping {
                tracing::error!(actor = %cell.core.id, ?interrupt, "on_stop did not complete");
            }
        }
        ctx.cancel_timers();
        drop(actor);
        Box::pin(drain(&cell)).await;
        cell.core.finish(&reason);
    }
}

/// How a graceful stop was asked for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Graceful {
    No,
    Normal,
    Shutdown,
}

/// The message loop's own state, small on purpose: it is what an idle actor keeps.
struct Loop {
    graceful: Graceful,
    since_yield: u32,
    traced: bool,
}

/// What the message loop does next, as decided by [`run_ready`].
enum Step<M> {
    /// This message's handler awaits: run its future.
    Handle(M),
    /// The mailbox is empty: wait.
    Wait,
    /// The actor has handled many messages in a row: let other tasks run.
    Yield,
    /// The actor stops.
    Stop(StopReason),
}

/// Handles messages until the actor stops; returns why it stopped.
///
/// Messages whose handlers do not await are handled in [`run_ready`], a plain loop with no
/// future in sight; this async loop only awaits for handlers that do, for new messages and for
/// its fairness yield.
#[allow(clippy::manual_async_fn)] // see `run`
fn handle_messages<'a, A: Actor>(
    cell: &'a Cell<A>,
    actor: &'a mut A,
    ctx: &'a mut Context<A>,
) -> impl Future<Output = StopReason> + Send + 'a {
    async move {
        cell.core.set_lifecycle(Lifecycle::Running);
        let mut state = Loop {
            graceful: Graceful::No,
            since_yield: 0,
            traced: false,
        };
        loop {
            let step = run_ready(cell, actor, ctx, &mut state);
            match step {
                Step::Handle(payload) => {
                    let message_type = payload.message_type();
                    // A hand-written `dispatch` may panic before it returns its future. (The
                    // `let` ends before the await, so the future is not kept twice.)
                    let outcome = 'dispatch: {
                        let handling = match catch_panic(|| payload.dispatch(actor, ctx)) {
                            Ok(handling) => handling,
                            Err(panic) => break 'dispatch Err(Interrupt::Panicked(panic)),
                        };
                        Guarded::handler(&cell.queue, handling).await
                    };
                    if let Err(interrupt) = outcome {
                        return failed(cell, ctx, message_type, interrupt);
                    }
                }
                Step::Wait => {
                    let ready = poll_fn(|cx| cell.queue.poll_ready(cx, true)).await;
                    match ready {
                        Ready::Item => {
                            if cell.queue.take_waited() {
                                // Parking or yielding already let other tasks run.
                                state.since_yield = 0;
                            }
                        }
                        Ready::Drained if state.graceful == Graceful::Shutdown => {
                            return StopReason::Shutdown;
                        }
                        Ready::Drained => return StopReason::Normal,
                        Ready::Signal => {}
                    }
                }
                Step::Yield => {
                    cell.queue.release();
                    cell.core.system.shared().rt().yield_now().await;
                }
                Step::Stop(reason) => return reason,
            }
        }
    }
}

/// Takes and handles messages as long as their handlers complete without awaiting; returns
/// at the first that awaits, when the mailbox is empty, at a signal, or when it is time to
/// yield.
fn run_ready<A: Actor>(
    cell: &Cell<A>,
    actor: &mut A,
    ctx: &mut Context<A>,
    state: &mut Loop,
) -> Step<A::Msg> {
    loop {
        if cell.queue.peek_signals() != 0 {
            let bits = cell.queue.take_signals();
            if bits & signal::KILL != 0 {
                return Step::Stop(StopReason::Killed);
            }
            if state.graceful == Graceful::No {
                state.graceful = if bits & signal::STOP != 0 {
                    Graceful::Normal
                } else {
                    Graceful::Shutdown
                };
                cell.core.set_lifecycle(Lifecycle::Stopping);
                cell.queue.close();
            }
        }
        let Some(Envelope { headers, payload }) = cell.queue.try_pop() else {
            return Step::Wait;
        };
        ctx.headers = headers;
        // Messages sent from the handler inherit the trace; an untraced message after an
        // untraced one leaves the thread-local alone.
        if state.traced || headers.trace().is_valid() {
            state.traced = headers.trace().is_valid();
            message::set_trace(headers.trace());
        }
        state.since_yield += 1;
        let message_type = payload.message_type();
        match catch_panic(|| payload.dispatch_sync(actor, ctx)) {
            Ok(None) => {}
            Ok(Some(payload)) => return Step::Handle(payload),
            Err(panic) => {
                let interrupt = Interrupt::Panicked(panic);
                return Step::Stop(failed(cell, ctx, message_type, interrupt));
            }
        }
        if state.since_yield >= YIELD_EVERY {
            state.since_yield = 0;
            return Step::Yield;
        }
    }
}

/// Records the message whose handler failed as a dead letter; says why the actor stops.
#[cold]
fn failed<A: Actor>(
    cell: &Cell<A>,
    ctx: &Context<A>,
    message_type: &'static str,
    interrupt: Interrupt,
) -> StopReason {
    match interrupt {
        Interrupt::Panicked(panic) => {
            // The hook for supervision: a restart policy decides here whether the actor
            // resumes, restarts or stops. Without one, it stops.
            cell.core.dead_letter(
                message_type,
                ctx.headers,
                DeadLetterReason::HandlerPanicked(panic.clone()),
            );
            StopReason::Panicked(panic)
        }
        Interrupt::Killed => {
            cell.core
                .dead_letter(message_type, ctx.headers, DeadLetterReason::Interrupted);
            StopReason::Killed
        }
    }
}

/// Stops the children one at a time, the last spawned first, and waits for each. A kill of
/// this actor while it waits turns the remaining stops into kills.
async fn stop_children<A: Actor>(cell: &Cell<A>, mut kill: bool) {
    loop {
        let next = cell.core.children.lock().values().next_back().cloned();
        let Some(child) = next else { break };
        if kill {
            child.kill();
        } else {
            child.request_stop(signal::SHUTDOWN);
        }
        poll_fn(|cx| {
            // Registered first, so that a kill raised from now on wakes this wait.
            cell.queue.register_receiver(cx.waker());
            if !kill && cell.queue.peek_signals() & signal::KILL != 0 {
                kill = true;
                child.kill();
            }
            child.core().poll_stopped(cx)
        })
        .await;
        cell.core.children.lock().remove(&child.core().id);
    }
}

/// Turns the messages left in a closed mailbox into dead letters; their asks learn that the
/// message was not handled.
async fn drain<A: Actor>(cell: &Cell<A>) {
    cell.queue.close();
    while let Pop::Item(env) = poll_fn(|cx| cell.queue.poll_pop(cx, false)).await {
        cell.core.dead_letter(
            env.payload.message_type(),
            env.headers,
            DeadLetterReason::ActorStopped,
        );
        dropping_with(Failure::NotHandled, || drop(env));
    }
    cell.queue.release();
}

/// Ends an actor whose task died outside the guarded code (a panic in a `Drop`, say): the
/// queued messages become dead letters with their asks answered, the children are killed, and
/// the actor finishes once they have stopped, so a shutdown still waits for all of them.
fn abandon<A: Actor>(cell: Arc<Cell<A>>, reason: StopReason) {
    cell.core.set_lifecycle(Lifecycle::Stopping);
    cell.queue.close();
    let mut cx = TaskContext::from_waker(std::task::Waker::noop());
    // Senders between claim and push finish within a few instructions: spin on them.
    loop {
        match cell.queue.poll_pop(&mut cx, false) {
            Poll::Ready(Pop::Item(env)) => {
                let kind = env.payload.message_type();
                cell.core
                    .dead_letter(kind, env.headers, DeadLetterReason::ActorStopped);
                dropping_with(Failure::NotHandled, || drop(env));
            }
            Poll::Ready(_) => break,
            Poll::Pending => std::thread::yield_now(),
        }
    }
    let system = cell.core.system.clone();
    system.shared().rt().spawn(async move {
        Box::pin(stop_children(&cell, true)).await;
        cell.core.finish(&reason);
    });
}

pin_project! {
    /// The task around an actor's loop: marks the thread as running this actor while it polls
    /// (the sender header of outgoing messages), and finishes the actor if its task panics
    /// outside the guarded hooks.
    struct ActorTask<A: Actor, F> {
        cell: Arc<Cell<A>>,
        trace: TraceContext,
        #[pin]
        fut: F,
    }
}

impl<A: Actor, F: Future<Output = ()>> Future for ActorTask<A, F> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<()> {
        let this = self.project();
        let previous = message::replace_actor(Some(this.cell.core.id));
        // Most actors are never traced: then the trace cell is left alone.
        let traced = this.trace.is_valid();
        let outer_trace = if traced {
            let outer = message::current_trace();
            message::set_trace(*this.trace);
            Some(outer)
        } else {
            None
        };
        let polled = catch_task_panic(|| this.fut.poll(cx));
        message::replace_actor(previous);
        let trace = message::current_trace();
        if traced || trace.is_valid() {
            *this.trace = trace;
            message::set_trace(outer_trace.unwrap_or(TraceContext::NONE));
        }
        match polled {
            Ok(poll) => poll,
            Err(panic) => {
                tracing::error!(actor = %this.cell.core.id, %panic, "actor task panicked");
                abandon(this.cell.clone(), StopReason::Panicked(panic));
                Poll::Ready(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DynMessage, System};

    struct Tiny;
    impl Actor for Tiny {
        type Msg = DynMessage<Self>;
    }

    /// Every idle actor keeps this future in memory: it must stay small. (A temporary kept
    /// across an await, or an argument stored twice, shows up here first.)
    #[tokio::test]
    async fn an_idle_actors_task_stays_small() {
        let system = System::new();
        let actor = system.spawn(Tiny).unwrap();
        let cell = actor.cell().clone();
        let task = ActorTask {
            cell: cell.clone(),
            trace: TraceContext::NONE,
            fut: run(cell, Tiny, Context::new(actor.clone())),
        };
        let size = std::mem::size_of_val(&task);
        assert!(size <= 384, "the actor task grew to {size} bytes");
        drop(task);
        system.shutdown().await;
    }
}
