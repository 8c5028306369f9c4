//! A root actor of a simulated node through a crash of the node and its restart.
//!
//! A crash takes the actor's task away between two polls: the instance, its timers and its
//! children's tasks are dropped without running another line of their code, as a machine
//! that loses power runs none. The cell stays, so that every address of the actor remains
//! good: while the node is down the mailbox is closed; when the node restarts, a fresh
//! instance from the actor's factory takes the same cell over, as a supervised restart does.

use std::sync::Arc;
use std::task::{Context as TaskContext, Poll, Waker};

use super::cell::Lifecycle;
use super::restart::Restarter;
use super::run::{Launch, start};
use super::{Actor, Cell, Context, StopReason};
use crate::address::ActorRef;
use crate::mailbox::Pop;
use crate::message::{Dispatch, Failure, catch_panic, dropping_with};
use crate::supervision::{ActorEvent, ChildSpec};

/// What a node keeps of each of its root actors.
pub(crate) trait CrashRoot: Send + Sync {
    /// Before the node's tasks go: the actor is crashed, not stopping, so that losing its
    /// task does not end it.
    fn down(&self);
    /// After: what the instance had in memory is gone (its mailbox, its children, its links,
    /// an in-memory dedup window); `lost` hears of each message that was queued.
    fn wipe(&self, lost: &mut dyn FnMut(&'static str, u64, u64));
    /// The node is back: a new instance from the factory.
    fn up(&self);
}

/// A root actor of a node, with the spec that rebuilds it.
pub(crate) struct Root<A: Actor> {
    cell: Arc<Cell<A>>,
    spec: ChildSpec<A>,
}

impl<A: Actor> Root<A> {
    pub(crate) fn new(actor: &ActorRef<A>, spec: ChildSpec<A>) -> Root<A> {
        Root {
            cell: actor.cell().clone(),
            spec,
        }
    }
}

impl<A: Actor> CrashRoot for Root<A> {
    fn down(&self) {
        if self.cell.core.lifecycle() < Lifecycle::Crashed {
            self.cell.core.set_lifecycle(Lifecycle::Crashed);
        }
    }

    fn wipe(&self, lost: &mut dyn FnMut(&'static str, u64, u64)) {
        let cell = &self.cell;
        if cell.core.lifecycle() != Lifecycle::Crashed {
            return;
        }
        cell.queue.close();
        cell.queue.take_signals();
        let mut cx = TaskContext::from_waker(Waker::noop());
        // One thread runs the simulation: no sender is half-way through a push.
        while let Poll::Ready(Pop::Item(env)) = cell.queue.poll_pop(&mut cx, false) {
            lost(
                env.payload.message_type(),
                env.headers.id().get(),
                cell.core.id.get(),
            );
            // An asker on the node is gone with it; one elsewhere hears nothing (the network
            // keeps its reply slot), and the scenario's own code learns it was not handled.
            dropping_with(Failure::NotHandled, || drop(env));
        }
        cell.queue.release();
        cell.core.children.lock().clear();
        cell.core.break_links(&StopReason::NodeCrashed);
        cell.core.forget_memory();
    }

    fn up(&self) {
        let cell = &self.cell;
        if cell.core.lifecycle() != Lifecycle::Crashed {
            return;
        }
        cell.queue.take_signals();
        cell.queue.reopen();
        cell.core.count_restart();
        cell.core.set_lifecycle(Lifecycle::Starting);
        cell.core
            .system
            .shared()
            .actor_event(|| ActorEvent::Restarted {
                id: cell.core.id,
                restarts: cell.core.restarts(),
                reason: StopReason::NodeCrashed,
            });
        match catch_panic(|| (self.spec.factory)()) {
            Ok(actor) => {
                let addr = ActorRef::from_cell(cell.clone());
                start(
                    cell.clone(),
                    actor,
                    Context::new(addr),
                    Some(Box::new(Restarter::new(&self.spec))),
                    Launch::Runtime,
                );
            }
            Err(panic) => {
                tracing::error!(actor = %cell.core.id, %panic, "the factory panicked after a node restart");
                cell.queue.close();
                cell.core.finish(&StopReason::Panicked(panic));
            }
        }
    }
}
