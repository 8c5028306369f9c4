//! The actor task: start, handle messages in batches, stop.

use std::future::{Future, poll_fn};
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use pin_project_lite::pin_project;

use super::cell::{Lifecycle, signal};
use super::group;
use super::guard::{HandlerGuard, HookGuard, Interrupt};
use super::restart::{
    End, EndKind, Restarter, Verdict, backoff, escalate, flags, instance_flags, next_delay,
    stop_reason, verdict,
};
use super::{Actor, Cell, Context, Node, StopReason};
use crate::mailbox::{Pop, Ready};
use crate::message::{
    self, Dispatch, Envelope, Failure, TraceContext, catch_panic, catch_task_panic, dropping_with,
};
use crate::supervision::{ActorEvent, DeadLetterReason, PanicDecision, Strategy};
use crate::system::DedicatedThread;

/// Messages an actor handles in a row before it yields its worker thread to other tasks.
const YIELD_EVERY: u32 = 1024;

/// How many times an actor with an empty mailbox looks again before it parks (see
/// `spin_before_park`).
const SPINS_BEFORE_PARK: u32 = 16;

/// Messages that may come while an actor runs (since it last parked or yielded) for it to
/// still look again before it parks, as a burst's tail: past them, a sender streams on another
/// worker and the actor keeps pace with it, and it parks at once (see `spin_before_park`).
const SPIN_WINDOW: u32 = 128;

/// Where an actor's task starts.
pub(crate) enum Launch {
    /// The system's runtime, or the bulkhead in the actor's cell.
    Runtime,
    /// A thread of its own.
    Thread(DedicatedThread),
}

/// Runs `actor` in a new task; a supervised actor comes with the [`Restarter`] that rebuilds
/// it.
pub(crate) fn start<A: Actor>(
    cell: Arc<Cell<A>>,
    actor: A,
    ctx: Context<A>,
    restarter: Option<Box<Restarter<A>>>,
    launch: Launch,
) {
    let system = cell.core.system.clone();
    let bulkhead = cell.core.bulkhead.clone();
    let task = ActorTask {
        cell: cell.clone(),
        trace: TraceContext::NONE,
        fut: run(cell, Some(actor), ctx, restarter),
    };
    match (launch, bulkhead) {
        (Launch::Thread(thread), _) => thread.run(Box::pin(task)),
        (Launch::Runtime, Some(bulkhead)) => drop(bulkhead.handle().spawn(task)),
        (Launch::Runtime, None) => drop(system.shared().rt().spawn_actor(task)),
    }
}

// A function returning an `async move` block rather than an `async fn`: an `async fn` keeps
// its arguments twice in its future (once as arguments, once as locals), and this future is
// what every idle actor keeps in memory.
#[allow(clippy::manual_async_fn)]
fn run<A: Actor>(
    cell: Arc<Cell<A>>,
    // `None` after a restart whose factory panicked. (An argument rather than a local made
    // from one: the future would keep both.)
    mut instance: Option<A>,
    mut ctx: Context<A>,
    mut restarter: Option<Box<Restarter<A>>>,
) -> impl Future<Output = ()> + Send {
    async move {
        loop {
            if let Some(restarter) = restarter.as_deref_mut() {
                restarter.mark_start(cell.core.system.now());
            }
            let end = match instance.as_mut() {
                Some(actor) => {
                    let flags = instance_flags(&mut restarter);
                    run_instance(&cell, actor, &mut ctx, flags).await
                }
                None => match restarter
                    .as_deref_mut()
                    .and_then(Restarter::take_make_failure)
                {
                    Some(panic) => End::failure(StopReason::Panicked(panic)),
                    None => End::finished(StopReason::Normal),
                },
            };
            // Boxed: a restart or the end is rare, and their futures would otherwise widen
            // the task every idle actor keeps.
            let again = Box::pin(after(&cell, &mut instance, end, &mut ctx, &mut restarter));
            if !again.await {
                break;
            }
        }
    }
}

/// After an instance ended: restarts the actor (`true`: run the new instance) or ends it.
async fn after<A: Actor>(
    cell: &Cell<A>,
    instance: &mut Option<A>,
    end: End,
    ctx: &mut Context<A>,
    restarter: &mut Option<Box<Restarter<A>>>,
) -> bool {
    // Links belong to an instance: they go with it, and take its failure along.
    cell.core.break_links(&end.reason);
    // A kill raised as the instance ended is final; `finish` spends it, so that the last
    // `on_stop` still runs.
    let end = if cell.queue.peek_signals() & signal::KILL != 0 {
        End {
            kind: EndKind::Final,
            reason: StopReason::Killed,
            ..end
        }
    } else {
        end
    };
    let verdict = verdict(cell, restarter.as_deref(), &end);
    let (reason, started, verdict) = match restarter.as_deref_mut() {
        Some(restarter) if matches!(verdict, Verdict::Restart | Verdict::Rejoin) => {
            match restart(cell, instance.take(), end, ctx, restarter, verdict).await {
                Ok(next) => {
                    *instance = next;
                    return true;
                }
                // Stopped during the backoff: final, nothing to hand up.
                Err(reason) => (reason, false, Verdict::Stop),
            }
        }
        _ => (end.reason, end.started, verdict),
    };
    finish(cell, instance.take(), started, ctx, reason, verdict).await;
    false
}

/// The actor's end: the mailbox closes, the last instance retires, the messages left become
/// dead letters, watchers learn the reason, and a failure beyond the intensity goes up.
async fn finish<A: Actor>(
    cell: &Cell<A>,
    instance: Option<A>,
    started: bool,
    ctx: &mut Context<A>,
    reason: StopReason,
    verdict: Verdict,
) {
    message::set_trace(TraceContext::NONE);
    cell.core.set_lifecycle(Lifecycle::Stopping);
    cell.queue.close();
    let kill =
        matches!(reason, StopReason::Killed) || cell.queue.peek_signals() & signal::KILL != 0;
    if kill {
        // The kill is spent; a new one interrupts what follows. (A stop request left behind
        // is harmless.)
        cell.queue.take_signals();
    }
    let reason = if retire(cell, instance, started, ctx, &reason, kill).await {
        StopReason::Killed
    } else {
        reason
    };
    drain(cell).await;
    // Handed up first: whoever awaits `stopped()` finds the failure reported.
    if verdict == Verdict::Escalate {
        escalate(cell, &reason);
    }
    cell.core.finish(&reason);
}

/// The restart: the old instance goes with its children and timers; the mailbox stays
/// (reopened if a graceful stop closed it); a new instance comes after the backoff, or, under
/// a one-for-all or rest-for-one supervisor, when the restart group says it is this actor's
/// turn. A stop or a kill meanwhile ends the actor instead (`Err`).
async fn restart<A: Actor>(
    cell: &Cell<A>,
    instance: Option<A>,
    end: End,
    ctx: &mut Context<A>,
    restarter: &mut Restarter<A>,
    verdict: Verdict,
) -> Result<Option<A>, StopReason> {
    cell.core.set_lifecycle(Lifecycle::Restarting);
    tracing::debug!(actor = %cell.core.id, reason = %end.reason, "restarting");
    if retire(cell, instance, end.started, ctx, &end.reason, false).await {
        return Err(StopReason::Killed);
    }
    let supervising = group::Supervising::of(&cell.core);
    match supervising {
        Some(supervising)
            if verdict == Verdict::Rejoin || supervising.strategy() != Strategy::OneForOne =>
        {
            let backoff = (verdict == Verdict::Restart).then(|| next_delay(cell, restarter));
            let turn = group::join(&supervising, &cell.core, backoff);
            drop(supervising);
            let started = group::turn(cell, turn).await?;
            cell.core.await_start(started);
            restarter.notify_started();
        }
        // The supervisor is gone: it is stopping, and takes this actor with it.
        None if verdict == Verdict::Rejoin => return Err(end.reason),
        _ => {
            let delay = next_delay(cell, restarter);
            if let Some(reason) = backoff(cell, delay).await {
                return Err(reason);
            }
        }
    }
    // Signals raised for the old instance do not reach the new one; a stop raised meanwhile
    // ends the actor instead.
    if let Some(reason) = stop_reason(cell.queue.take_signals()) {
        return Err(reason);
    }
    // Counted before the stale state goes: a link failure aimed at the old instance is
    // either cleared here or refused after.
    cell.core.count_restart();
    cell.core.discard_stale();
    cell.queue.reopen();
    cell.core
        .system
        .shared()
        .actor_event(|| ActorEvent::Restarted {
            id: cell.core.id,
            restarts: cell.core.restarts(),
            reason: end.reason,
        });
    cell.core.set_lifecycle(Lifecycle::Starting);
    let next = restarter.make();
    if next.is_none() {
        // The factory panicked: a group restart waiting for this start goes on.
        cell.core.started();
    }
    Ok(next)
}

/// Ends an instance: its children stop (the last spawned first), its `on_stop` runs if it
/// started, its timers are cancelled, and it is dropped.
async fn retire<A: Actor>(
    cell: &Cell<A>,
    instance: Option<A>,
    started: bool,
    ctx: &mut Context<A>,
    reason: &StopReason,
    kill: bool,
) -> bool {
    Box::pin(stop_children(cell, kill)).await;
    // A kill that came while the children stopped is spent here, so that `on_stop` runs, as
    // a kill promises; the caller ends the actor after.
    let killed = !kill && cell.queue.peek_signals() & signal::KILL != 0;
    if killed {
        cell.queue.take_signals();
    }
    if let Some(mut actor) = instance {
        if started {
            let stopping = pin!(Some(Box::pin(actor.on_stop(ctx, reason))));
            let stopping = HookGuard::new(&cell.queue, stopping).await;
            if let Err(interrupt) = stopping {
                tracing::error!(actor = %cell.core.id, ?interrupt, "on_stop did not complete");
            }
        }
        ctx.cancel_timers();
        drop(actor);
    }
    ctx.cancel_timers();
    killed
}

/// Runs one instance: `on_start`, then its messages. `on_stop` runs later, in `retire`.
/// `flags`: see [`flags`].
async fn run_instance<A: Actor>(
    cell: &Cell<A>,
    actor: &mut A,
    ctx: &mut Context<A>,
    flags: u8,
) -> End {
    // The hooks run once per instance: their futures are boxed so that the task an idle
    // actor keeps in memory holds only the message loop. (A default hook's future is empty,
    // and boxing it allocates nothing.)
    let start = {
        let start = pin!(Some(Box::pin(actor.on_start(ctx))));
        HookGuard::new(&cell.queue, start).await
    };
    if flags & flags::NOTIFY_STARTED != 0 {
        // A group restart goes on with the next member, however `on_start` went.
        cell.core.started();
    }
    match start {
        Ok(Ok(())) => {
            let mut end = handle_messages(cell, actor, ctx, flags & flags::RENEW != 0).await;
            end.started = true;
            end
        }
        Ok(Err(error)) => End::failure(StopReason::StartFailed(Arc::from(error))),
        Err(Interrupt::Panicked(panic)) => End::failure(StopReason::Panicked(panic)),
        Err(Interrupt::Killed) => End::finished(StopReason::Killed),
    }
}

/// How a graceful stop was asked for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Graceful {
    No,
    /// Through an address, from outside.
    Normal,
    /// By the actor itself.
    SelfStop,
    /// By its parent or the system.
    Shutdown,
}

/// The message loop's own state, small on purpose: it is what an idle actor keeps.
struct Loop {
    graceful: Graceful,
    since_yield: u32,
    traced: bool,
    /// A self-stop ends this instance at once and a new one takes the mailbox over.
    renew: bool,
}

/// What the message loop does next, as decided by [`run_ready`].
enum Step<M> {
    /// This message's handler awaits: run its future. (With the message's type, taken
    /// before the message went to `dispatch_sync`.)
    Handle(M, &'static str),
    /// The mailbox is empty: wait.
    Wait,
    /// The actor has handled many messages in a row: let other tasks run.
    Yield,
    /// The instance ends.
    Stop(End),
}

/// Handles messages until the instance ends; says how it ended.
///
/// Messages whose handlers do not await are handled in [`run_ready`], a plain loop with no
/// future in sight; this async loop only awaits for handlers that do, for new messages and for
/// its fairness yield.
#[allow(clippy::manual_async_fn)] // see `run`
fn handle_messages<'a, A: Actor>(
    cell: &'a Cell<A>,
    actor: &'a mut A,
    ctx: &'a mut Context<A>,
    renew: bool,
) -> impl Future<Output = End> + Send + 'a {
    async move {
        cell.core.set_lifecycle(Lifecycle::Running);
        let mut state = Loop {
            graceful: Graceful::No,
            since_yield: 0,
            traced: false,
            renew,
        };
        // What is there at the start counts as there when the actor came back.
        cell.queue.start_go();
        loop {
            let step = run_ready(cell, actor, ctx, &mut state);
            // One yield point for every reason to yield: a second await would widen the
            // future every idle actor keeps.
            let yield_now = match step {
                Step::Handle(payload, message_type) => {
                    // A hand-written `dispatch` may panic before it returns its future. The
                    // future is built in its slot inside the catch, not returned through it:
                    // that would copy the whole future once more per message.
                    // (The catch's result is gone before the await, so the future every
                    // idle actor keeps does not hold it.)
                    let outcome = 'dispatch: {
                        let mut handling = None;
                        if let Err(panic) = {
                            let slot = &raw mut handling;
                            // SAFETY: `slot` points at `handling`, which holds `None`: written
                            // over, it drops nothing. (An assignment would call the slot's
                            // drop glue on that `None`, out of line, once per message.)
                            catch_panic(|| unsafe {
                                slot.write(Some(payload.dispatch(actor, ctx)));
                            })
                        } {
                            break 'dispatch Err(Interrupt::Panicked(panic));
                        }
                        // SAFETY: `handling` is not moved from here on: the pinned reference
                        // shadows it, so it cannot be named again, and it stays where it is,
                        // inside this pinned future, until it is dropped in place. (`pin!`
                        // would do the same at the cost of one more pointer kept in the future
                        // every idle actor holds, a step up in its allocation.)
                        let handling = unsafe { Pin::new_unchecked(&mut handling) };
                        HandlerGuard::new(&cell.queue, handling).await
                    };
                    if let Err(interrupt) = outcome
                        && let Some(end) = failed(cell, actor, ctx, Some(message_type), interrupt)
                    {
                        return settle(end, state.graceful);
                    }
                    // A handler that completes without waiting did not let other tasks run:
                    // the fairness yield (and, simulated, the yield after every message)
                    // applies to it as to a synchronous one.
                    state.since_yield >= YIELD_EVERY || cell.queue.node() != 0
                }
                Step::Wait => {
                    // Only when messages came while it took the others: a sender on another
                    // thread is sending. (One on this thread cannot send while it spins.) And
                    // only in a burst's first `SPIN_WINDOW` messages.
                    let came = cell.queue.came_while_taking();
                    if came > 0 && came < SPIN_WINDOW && spin_before_park(cell) {
                        continue;
                    }
                    let mut parked = false;
                    let shared_ctx: &Context<A> = ctx;
                    let ready = poll_fn(move |cx| {
                        if parked {
                            // Woken: `run_ready` looks at what came, the signals first.
                            return Poll::Ready(Ready::Item);
                        }
                        let ready = cell.queue.poll_ready(cx, true);
                        if ready.is_pending() {
                            parked = true;
                            if cell.queue.take_sweep_request() {
                                list_for_sweep(cell, shared_ctx);
                            }
                        }
                        ready
                    })
                    .await;
                    match ready {
                        Ready::Item => {
                            if cell.queue.take_waited() {
                                // Parking or yielding already let other tasks run.
                                state.since_yield = 0;
                                cell.queue.start_go();
                            }
                        }
                        Ready::Drained => return drained(state.graceful),
                        Ready::Signal => {}
                    }
                    false
                }
                Step::Yield => true,
                Step::Stop(end) => return settle(end, state.graceful),
            };
            if yield_now {
                state.since_yield = 0;
                cell.queue.release();
                cell.core.system.shared().rt().yield_now().await;
                cell.queue.start_go();
            }
        }
    }
}

/// Looks at an empty mailbox again for a moment before the actor parks, when its driver has
/// nothing else to run and messages came while the actor took the others (since it last
/// parked or yielded), fewer than [`SPIN_WINDOW`]: a sender in the middle of a burst, on
/// another worker, sends again within tens of nanoseconds, and a park costs a
/// compare-exchange here and a wake-up through the scheduler for the sender. Returns whether
/// something came. A mailbox with news already (a slot claimed and not yet written, a
/// signal) is left to the park's own handling, so that this never spins more than once in a
/// row.
///
/// Past the window the sender is streaming, and an actor that finds its mailbox empty keeps
/// pace with it from the other worker. Looking again there kept the two in that state for
/// good: the actor, always finding a message, never parked, and the queue's cache lines
/// crossed between the cores every few messages. Parked, the actor is woken by the sender's
/// next message onto the sender's worker, where the sender runs it once the mailbox is full.
/// Measured in full harness runs: tell 1→1 0.47–0.59 of tokio's channel in all nineteen
/// with the window, against 0.50–1.58 (two misses in seven, taken in turns with the first
/// seven) without.
fn spin_before_park<A: Actor>(cell: &Cell<A>) -> bool {
    if cell.queue.has_news() || !cell.core.system.shared().rt().may_spin_before_park() {
        return false;
    }
    for _ in 0..SPINS_BEFORE_PARK {
        std::hint::spin_loop();
        if cell.queue.has_news() {
            return true;
        }
    }
    false
}

/// Lists the actor's mailbox with the system's sweeper: it parked keeping a burst's block as
/// its spare, and may not park again for a long time.
#[cold]
#[inline(never)]
fn list_for_sweep<A: Actor>(cell: &Cell<A>, ctx: &Context<A>) {
    let weak: std::sync::Weak<Cell<A>> = Arc::downgrade(ctx.actor_ref().cell());
    let node: std::sync::Weak<dyn Node> = weak;
    let shared = cell.core.system.shared();
    shared.sweeper.list(shared, node);
}

/// How an instance ends once its closed mailbox is empty.
fn drained(graceful: Graceful) -> End {
    match graceful {
        Graceful::Shutdown => End::finished(StopReason::Shutdown),
        Graceful::SelfStop => End {
            kind: EndKind::SelfStop,
            ..End::finished(StopReason::Normal)
        },
        Graceful::Normal | Graceful::No => End::finished(StopReason::Normal),
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
        if cell.queue.peek_signals() != 0
            && let Some(end) = on_signals(cell, actor, ctx, state)
        {
            return Step::Stop(end);
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
            Ok(Some(payload)) => return Step::Handle(payload, message_type),
            Err(panic) => {
                let interrupt = Interrupt::Panicked(panic);
                if let Some(end) = failed(cell, actor, ctx, Some(message_type), interrupt) {
                    return Step::Stop(end);
                }
            }
        }
        // Under simulation (a node number is set) the actor yields after every message, so
        // that the seed interleaves other actors between any two of its messages, as worker
        // threads would in production, and invariants are checked after each one.
        if state.since_yield >= YIELD_EVERY || cell.queue.node() != 0 {
            state.since_yield = 0;
            return Step::Yield;
        }
    }
}

/// Acts on the signals raised: a kill ends the instance now; a failure handed up by a child
/// or raised by a timer callback is this instance's failure; a stop closes the mailbox.
#[cold]
fn on_signals<A: Actor>(
    cell: &Cell<A>,
    actor: &mut A,
    ctx: &mut Context<A>,
    state: &mut Loop,
) -> Option<End> {
    let bits = cell.queue.take_signals();
    if bits & signal::KILL != 0 {
        return Some(End::finished(StopReason::Killed));
    }
    // A stop from outside is noted first: it is final, and a failure raised with it must
    // not turn it into a restart.
    if bits & (signal::STOP | signal::SHUTDOWN) != 0 && state.graceful == Graceful::No {
        state.graceful = if bits & signal::SHUTDOWN != 0 {
            Graceful::Shutdown
        } else {
            Graceful::Normal
        };
        cell.core.set_lifecycle(Lifecycle::Stopping);
        cell.queue.close();
    }
    if bits & signal::IMPOSED != 0
        && let Some(reason) = cell.core.take_imposed()
    {
        return Some(End::failure(reason));
    }
    if bits & signal::FAIL != 0
        && let Some(panic) = cell.core.take_failure()
        && let Some(end) = failed(cell, actor, ctx, None, Interrupt::Panicked(panic))
    {
        return Some(end);
    }
    if state.graceful != Graceful::No {
        return None;
    }
    if bits & signal::SUSPEND != 0 && cell.core.suspend_requested() {
        // A sibling failed: this instance retires and the restart group brings the next.
        // (A request left from an earlier round was answered already, and finds nothing.)
        return Some(End {
            kind: EndKind::Suspended,
            ..End::finished(StopReason::Shutdown)
        });
    }
    if bits & signal::SELF_STOP != 0 {
        if state.renew {
            return Some(End {
                kind: EndKind::SelfStop,
                ..End::finished(StopReason::Normal)
            });
        }
        state.graceful = Graceful::SelfStop;
        cell.core.set_lifecycle(Lifecycle::Stopping);
        cell.queue.close();
    }
    None
}

/// An instance that fails while it stops on request (from outside, or with the system) ends
/// for good: the stop was final before the failure came.
fn settle(end: End, graceful: Graceful) -> End {
    match (graceful, end.kind) {
        (Graceful::Normal | Graceful::Shutdown, EndKind::Failure { .. }) => End {
            kind: EndKind::Final,
            ..end
        },
        _ => end,
    }
}

/// After a handler (or a timer callback) failed: records its message as a dead letter, asks
/// the actor's `on_panic` what to do, and says how the instance ends (`None`: it resumes).
#[cold]
fn failed<A: Actor>(
    cell: &Cell<A>,
    actor: &mut A,
    ctx: &mut Context<A>,
    message_type: Option<&'static str>,
    interrupt: Interrupt,
) -> Option<End> {
    match interrupt {
        Interrupt::Panicked(panic) => {
            if let Some(message_type) = message_type {
                cell.core.dead_letter(
                    message_type,
                    ctx.headers,
                    DeadLetterReason::HandlerPanicked(panic.clone()),
                );
            }
            let decision = catch_panic(|| actor.on_panic(ctx, &panic));
            let reason = StopReason::Panicked(panic);
            match decision {
                Ok(PanicDecision::Resume) => {
                    tracing::warn!(actor = %cell.core.id, %reason, "resuming after a panic");
                    None
                }
                Ok(PanicDecision::Stop) => Some(End {
                    kind: EndKind::Failure { restartable: false },
                    ..End::failure(reason)
                }),
                Ok(PanicDecision::Restart) | Err(_) => Some(End::failure(reason)),
            }
        }
        Interrupt::Killed => {
            if let Some(message_type) = message_type {
                cell.core
                    .dead_letter(message_type, ctx.headers, DeadLetterReason::Interrupted);
            }
            Some(End::finished(StopReason::Killed))
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
    cell.core.set_lifecycle(Lifecycle::Ending);
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
    let mut ending = Ending {
        cell,
        reason: Some(reason),
    };
    system.shared().rt().spawn(async move {
        Box::pin(stop_children(&ending.cell, true)).await;
        ending.finish();
    });
}

/// An abandoned actor's end, owned by the task that waits for its children: finished there,
/// or, if that task is dropped before it gets so far (its runtime shutting down drops it
/// unpolled), when it is dropped. Otherwise the actor would stay registered with its parent
/// or the system's root, and the system, which the actor's cell holds, would never be freed.
struct Ending<A: Actor> {
    cell: Arc<Cell<A>>,
    reason: Option<StopReason>,
}

impl<A: Actor> Ending<A> {
    fn finish(&mut self) {
        if let Some(reason) = self.reason.take() {
            self.cell.core.finish(&reason);
        }
    }
}

impl<A: Actor> Drop for Ending<A> {
    fn drop(&mut self) {
        // The children's tasks go with the same runtime, and end the same way.
        self.finish();
    }
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

    impl<A: Actor, F> PinnedDrop for ActorTask<A, F> {
        fn drop(this: Pin<&mut Self>) {
            // Dropped before the actor ended: its runtime shut down (a bulkhead's, say) or
            // never ran it. The actor ends anyway, its queued asks answered. (An actor that
            // ended, or was abandoned after a panic, is `Ending` or `Stopped` by now; one
            // dropped while `Stopping` was dropped midway, by a crash of its node.)
            let cell = &this.cell;
            // A root of a crashed node (`Crashed`) waits for its node to restart instead.
            let lifecycle = cell.core.lifecycle();
            if lifecycle < Lifecycle::Crashed || lifecycle == Lifecycle::Stopping {
                tracing::warn!(actor = %cell.core.id, "actor task dropped before it ended");
                abandon(cell.clone(), StopReason::Killed);
            }
        }
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
    ///
    /// The bound is a cliff, not a budget: tokio allocates a task in steps of 128 bytes, and
    /// the memory harness (`cargo bench --bench throughput -- --only memory`) measured
    /// 913 B per idle actor with this task at 344 bytes, 1041 B at 376.
    #[tokio::test]
    async fn an_idle_actors_task_stays_small() {
        let system = System::new();
        let actor = system.spawn(Tiny).unwrap();
        let cell = actor.cell().clone();
        let task = ActorTask {
            cell: cell.clone(),
            trace: TraceContext::NONE,
            fut: run(cell, Some(Tiny), Context::new(actor.clone()), None),
        };
        let size = std::mem::size_of_val(&task);
        assert!(size <= 344, "the actor task grew to {size} bytes");
        drop(task);
        system.shutdown().await;
    }
}
