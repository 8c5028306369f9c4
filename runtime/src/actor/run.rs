//! The actor task: start, handle messages in batches, stop.

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use pin_project_lite::pin_project;

use super::cell::{Lifecycle, Node, signal};
use super::guard::{Guarded, Interrupt};
use super::{Actor, Cell, Context, StopReason};
use crate::mailbox::Pop;
use crate::message::{
    self, Current, Dispatch, Envelope, Failure, TraceContext, catch_panic, catch_task_panic,
    dropping_with,
};
use crate::supervision::DeadLetterReason;

/// Messages an actor handles in a row before it yields its worker thread to other tasks.
const YIELD_EVERY: u32 = 1024;

/// Runs `actor` in a new task on the system's runtime.
pub(crate) fn start<A: Actor>(cell: Arc<Cell<A>>, actor: A, ctx: Context<A>) {
    let system = cell.core.system.clone();
    let node: Arc<dyn Node> = cell.clone();
    system.rt().spawn(ActorTask {
        node,
        trace: TraceContext::NONE,
        fut: run(cell, actor, ctx),
    });
}

async fn run<A: Actor>(cell: Arc<Cell<A>>, mut actor: A, mut ctx: Context<A>) {
    let started = Guarded::new(&cell.queue, actor.on_start(&mut ctx)).await;
    let (reason, started) = match started {
        Ok(Ok(())) => (handle_messages(&cell, &mut actor, &mut ctx).await, true),
        Ok(Err(error)) => (StopReason::StartFailed(Arc::from(error)), false),
        Err(Interrupt::Panicked(panic)) => (StopReason::Panicked(panic), false),
        Err(Interrupt::Killed) => (StopReason::Killed, false),
    };
    message::set_trace(TraceContext::NONE);
    cell.core.set_lifecycle(Lifecycle::Stopping);
    cell.queue.close();
    // A kill already acted on is spent; a new one interrupts what follows.
    cell.queue.take_signals();

    stop_children(&cell, matches!(reason, StopReason::Killed)).await;
    if started {
        let stopping = Guarded::new(&cell.queue, actor.on_stop(&mut ctx, &reason)).await;
        if let Err(interrupt) = stopping {
            tracing::error!(actor = %cell.core.id, ?interrupt, "on_stop did not complete");
        }
    }
    ctx.cancel_timers();
    drop(actor);
    drain(&cell).await;
    cell.core.finish(&reason);
}

/// Handles messages until the actor stops; returns why it stopped.
async fn handle_messages<A: Actor>(
    cell: &Cell<A>,
    actor: &mut A,
    ctx: &mut Context<A>,
) -> StopReason {
    cell.core.set_lifecycle(Lifecycle::Running);
    let mut graceful: Option<StopReason> = None;
    let mut since_yield = 0;
    let mut traced = false;
    loop {
        if cell.queue.peek_signals() != 0 {
            let bits = cell.queue.take_signals();
            if bits & signal::KILL != 0 {
                return StopReason::Killed;
            }
            if graceful.is_none() {
                graceful = Some(if bits & signal::STOP != 0 {
                    StopReason::Normal
                } else {
                    StopReason::Shutdown
                });
                cell.core.set_lifecycle(Lifecycle::Stopping);
                cell.queue.close();
            }
        }
        let Envelope { headers, payload } = match cell.queue.try_pop() {
            Some(env) => env,
            None => match poll_fn(|cx| cell.queue.poll_pop(cx, true)).await {
                Pop::Item(env) => {
                    if cell.queue.take_waited() {
                        // Parking or yielding for this message already let other tasks run.
                        since_yield = 0;
                    }
                    env
                }
                Pop::Drained => return graceful.unwrap_or(StopReason::Normal),
                Pop::Signal => continue,
            },
        };
        let message_type = payload.message_type();
        ctx.headers = headers;
        // Messages sent from the handler inherit the trace; an untraced message after an
        // untraced one leaves the thread-local alone.
        if traced || headers.trace().is_valid() {
            traced = headers.trace().is_valid();
            message::set_trace(headers.trace());
        }
        // A synchronous handler runs right here; only one that awaits becomes a future.
        let outcome = match catch_panic(|| payload.dispatch_sync(actor, ctx)) {
            Ok(None) => Ok(()),
            Ok(Some(payload)) => {
                let handling = payload.dispatch(actor, ctx);
                Guarded::handler(&cell.queue, handling).await
            }
            Err(panic) => Err(Interrupt::Panicked(panic)),
        };
        match outcome {
            Ok(()) => {}
            Err(Interrupt::Panicked(panic)) => {
                // The hook for supervision: a restart policy decides here whether the actor
                // resumes, restarts or stops. Without one, it stops.
                cell.core.dead_letter(
                    message_type,
                    headers,
                    DeadLetterReason::HandlerPanicked(panic.clone()),
                );
                return StopReason::Panicked(panic);
            }
            Err(Interrupt::Killed) => {
                cell.core
                    .dead_letter(message_type, headers, DeadLetterReason::Interrupted);
                return StopReason::Killed;
            }
        }
        since_yield += 1;
        if since_yield == YIELD_EVERY {
            since_yield = 0;
            cell.queue.release();
            cell.core.system.rt().yield_now().await;
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
            if !kill && cell.queue.peek_signals() & signal::KILL != 0 {
                kill = true;
                child.kill();
            }
            let stopped = child.core().poll_stopped(cx);
            if stopped.is_pending() {
                cell.queue.register_receiver(cx.waker());
            }
            stopped
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

pin_project! {
    /// The task around an actor's loop: marks the thread as running this actor while it polls
    /// (the sender header of outgoing messages), and finishes the actor if its task panics
    /// outside the guarded hooks.
    struct ActorTask<F> {
        node: Arc<dyn Node>,
        trace: TraceContext,
        #[pin]
        fut: F,
    }
}

impl<F: Future<Output = ()>> Future for ActorTask<F> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<()> {
        let this = self.project();
        let previous = message::replace_current(Current {
            actor: Some(this.node.core().id),
            trace: *this.trace,
        });
        let polled = catch_task_panic(|| this.fut.poll(cx));
        *this.trace = message::replace_current(previous).trace;
        match polled {
            Ok(poll) => poll,
            Err(panic) => {
                tracing::error!(actor = %this.node.core().id, %panic, "actor task panicked");
                this.node.abandon(StopReason::Panicked(panic));
                Poll::Ready(())
            }
        }
    }
}
