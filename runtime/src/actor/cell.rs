//! The shared half of an actor: its mailbox and its place in the tree. Addresses point here;
//! the actor's state lives in its task.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::task::{Context, Poll, Waker};

use parking_lot::Mutex;

use super::{Actor, ActorId, StopReason};
use crate::mailbox::Queue;
use crate::message::{Envelope, Headers};
use crate::supervision::{DeadLetter, DeadLetterReason};
use crate::system::System;

/// Signals an actor's task receives through its mailbox.
pub(crate) mod signal {
    /// Stop gracefully, with [`StopReason::Normal`](crate::StopReason::Normal).
    pub(crate) const STOP: u8 = 1;
    /// Stop gracefully, with [`StopReason::Shutdown`](crate::StopReason::Shutdown).
    pub(crate) const SHUTDOWN: u8 = 2;
    /// Stop now.
    pub(crate) const KILL: u8 = 4;
}

/// Where an actor is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub(crate) enum Lifecycle {
    Starting = 0,
    Running = 1,
    Stopping = 2,
    Stopped = 3,
}

/// An actor's mailbox and shared bookkeeping.
pub(crate) struct Cell<A: Actor> {
    pub(crate) core: Core,
    pub(crate) queue: Queue<Envelope<A::Msg>>,
}

/// The part of a cell that does not depend on the actor's type.
pub(crate) struct Core {
    pub(crate) id: ActorId,
    pub(crate) type_name: &'static str,
    pub(crate) name: OnceLock<Arc<str>>,
    pub(crate) system: System,
    /// `None` for a top-level actor, whose parent is the system.
    pub(crate) parent: Option<Weak<dyn Node>>,
    pub(crate) children: Mutex<BTreeMap<ActorId, Arc<dyn Node>>>,
    lifecycle: AtomicU8,
    end: Mutex<End>,
}

#[derive(Default)]
struct End {
    reason: Option<StopReason>,
    waiters: Vec<Waker>,
}

/// A node of the supervision tree: what a parent (or the system) needs of a child whose type
/// it does not know.
pub(crate) trait Node: Send + Sync + 'static {
    fn core(&self) -> &Core;
    /// Asks the actor to stop gracefully; `bits` is [`signal::STOP`] or [`signal::SHUTDOWN`].
    fn request_stop(&self, bits: u8);
    fn kill(&self);
}

impl<A: Actor> Node for Cell<A> {
    fn core(&self) -> &Core {
        &self.core
    }

    fn request_stop(&self, bits: u8) {
        self.queue.signal(bits);
    }

    fn kill(&self) {
        self.queue.signal(signal::KILL);
    }
}

impl<A: Actor> Cell<A> {
    pub(crate) fn new(core: Core, queue: Queue<Envelope<A::Msg>>) -> Cell<A> {
        Cell { core, queue }
    }
}

impl Core {
    pub(crate) fn new(
        id: ActorId,
        type_name: &'static str,
        name: Option<Arc<str>>,
        system: System,
        parent: Option<Weak<dyn Node>>,
    ) -> Core {
        let cell_name = OnceLock::new();
        if let Some(name) = name {
            let _ = cell_name.set(name);
        }
        Core {
            id,
            type_name,
            name: cell_name,
            system,
            parent,
            children: Mutex::new(BTreeMap::new()),
            lifecycle: AtomicU8::new(Lifecycle::Starting as u8),
            end: Mutex::new(End::default()),
        }
    }

    pub(crate) fn lifecycle(&self) -> Lifecycle {
        match self.lifecycle.load(Ordering::Acquire) {
            0 => Lifecycle::Starting,
            1 => Lifecycle::Running,
            2 => Lifecycle::Stopping,
            _ => Lifecycle::Stopped,
        }
    }

    pub(crate) fn set_lifecycle(&self, to: Lifecycle) {
        self.lifecycle.store(to as u8, Ordering::Release);
    }

    pub(crate) fn name(&self) -> Option<&str> {
        self.name.get().map(|n| &**n)
    }

    /// Records a message that will not be handled.
    pub(crate) fn dead_letter(
        &self,
        message_type: &'static str,
        headers: Headers,
        reason: DeadLetterReason,
    ) {
        self.system.shared().dead_letters.record(DeadLetter::new(
            self.id,
            message_type,
            headers,
            reason,
        ));
    }

    /// Marks the actor stopped: frees its name, leaves its parent, wakes whoever waits.
    pub(crate) fn finish(&self, reason: &StopReason) {
        let waiters = {
            let mut end = self.end.lock();
            if end.reason.is_some() {
                return;
            }
            self.set_lifecycle(Lifecycle::Stopped);
            end.reason = Some(reason.clone());
            std::mem::take(&mut end.waiters)
        };
        if let Some(name) = self.name.get() {
            self.system.shared().registry.remove(name, self.id);
        }
        match self.parent.as_ref().and_then(Weak::upgrade) {
            Some(parent) => {
                parent.core().children.lock().remove(&self.id);
            }
            None => self.system.shared().remove_root(self.id),
        }
        if reason.is_failure() {
            tracing::error!(actor = %self.id, name = self.name(), kind = self.type_name, %reason, "actor failed");
        } else {
            tracing::debug!(actor = %self.id, name = self.name(), kind = self.type_name, %reason, "actor stopped");
        }
        for waker in waiters {
            waker.wake();
        }
    }

    /// Waits for the actor to stop.
    pub(crate) fn poll_stopped(&self, cx: &mut Context<'_>) -> Poll<StopReason> {
        let mut end = self.end.lock();
        if let Some(reason) = &end.reason {
            return Poll::Ready(reason.clone());
        }
        if !end.waiters.iter().any(|w| w.will_wake(cx.waker())) {
            end.waiters.push(cx.waker().clone());
        }
        Poll::Pending
    }
}
