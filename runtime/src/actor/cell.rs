//! The shared half of an actor: its mailbox and its place in the tree. Addresses point here;
//! the actor's state lives in its task.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU8, AtomicU32, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::task::{Context, Poll, Waker};

use parking_lot::Mutex;
use tokio::sync::oneshot;

use super::group::Group;
use super::{Actor, ActorId, PanicMessage, StopReason};
use crate::mailbox::{Queue, Reject, Slot};
use crate::message::{Envelope, Headers};
use crate::resilience::{DedupStore, MemoryDedupStore};
use crate::supervision::{
    ActorEvent, DeadLetter, DeadLetterReason, LinkError, RestartLog, Supervisor, Terminated,
};
use crate::system::{Bulkhead, Claim, Claimed, Helps, Instant, System};

/// Signals an actor's task receives through its mailbox.
pub(crate) mod signal {
    /// Stop gracefully, with [`StopReason::Normal`](crate::StopReason::Normal).
    pub(crate) const STOP: u8 = 1;
    /// Stop gracefully, with [`StopReason::Shutdown`](crate::StopReason::Shutdown).
    pub(crate) const SHUTDOWN: u8 = 2;
    /// Stop now.
    pub(crate) const KILL: u8 = 4;
    /// Stop gracefully, asked by the actor itself ([`Context::stop`](crate::Context::stop)):
    /// a permanent child is restarted after it.
    pub(crate) const SELF_STOP: u8 = 8;
    /// Fail with the reason imposed on this actor: a child failed beyond this actor's restart
    /// intensity (escalation), or a linked actor failed.
    pub(crate) const IMPOSED: u8 = 16;
    /// Code of this actor outside a handler (a timer callback) panicked: fail.
    pub(crate) const FAIL: u8 = 32;
    /// A sibling failed and the supervisor restarts the group (one-for-all, rest-for-one):
    /// end this instance after the current handler and wait for the group's turn.
    pub(crate) const SUSPEND: u8 = 64;
}

/// Where an actor is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub(crate) enum Lifecycle {
    Starting = 0,
    Running = 1,
    Restarting = 2,
    /// Its node crashed under simulation: no task runs it until the node restarts.
    Crashed = 3,
    Stopping = 4,
    /// Its task died and `abandon` ends it (clean-up under way).
    Ending = 5,
    Stopped = 6,
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
    /// Spawned from a `ChildSpec`: restartable, and a member of its supervisor's restart
    /// group.
    pub(crate) supervised: bool,
    restarts: AtomicU32,
    /// The bulkhead the actor runs in (its children start there too), if any.
    pub(crate) bulkhead: Option<Bulkhead>,
    end: Mutex<End>,
    /// Supervision state, allocated the first time it is needed: most actors never need it.
    extra: Mutex<Option<Box<Extra>>>,
}

/// What a cell keeps only once supervision touches it.
#[derive(Default)]
struct Extra {
    /// The restarts this actor granted its children (as their supervisor).
    restart_log: RestartLog,
    /// The failure imposed on this actor: a child's escalation, a linked actor's failure.
    imposed: Option<StopReason>,
    /// A panic outside a handler (a timer callback) this actor is to fail with.
    failure: Option<PanicMessage>,
    /// As a supervisor: the restart group of its children.
    group: Option<Arc<Group>>,
    /// As a member of a restart group: told once this instance has retired.
    suspend: Option<oneshot::Sender<()>>,
    /// As a member of a restart group: told once the next instance's `on_start` returned.
    started: Option<oneshot::Sender<()>>,
    /// The actors watching this one, each with how to tell it.
    watchers: Vec<(ActorId, Deliver)>,
    /// The actors this one watches, so that its watches go when it does.
    watching: Vec<(ActorId, Weak<dyn Node>)>,
    /// The actors linked to this instance, each with the partner's instance (its restart
    /// count) when the link was made.
    links: Vec<(ActorId, Weak<dyn Node>, u32)>,
    /// Run once the actor has stopped (subscriptions ending with their subscriber).
    on_finish: Vec<Box<dyn FnOnce() + Send>>,
    /// The replies of deduplicated messages; created at the first one unless given at spawn.
    dedup: Option<Arc<dyn DedupStore>>,
    /// The dedup store was given at spawn: it stands for storage outside the actor's memory
    /// and survives a crash of the actor's node.
    dedup_given: bool,
}

/// Delivers [`Terminated`] to one watcher.
pub(crate) type Deliver = Box<dyn FnOnce(&System, Terminated) + Send>;

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
    /// How this actor supervises its children.
    fn supervisor(&self) -> Supervisor;
    /// Gives back the mailbox's spare block if it is still unused since the actor's last park.
    fn shed_spare(&self);
}

impl<A: Actor> Node for Cell<A> {
    fn core(&self) -> &Core {
        &self.core
    }

    fn request_stop(&self, bits: u8) {
        if self.core.lifecycle() == Lifecycle::Crashed {
            if bits & (signal::STOP | signal::SHUTDOWN | signal::KILL) == 0 {
                // A failure imposed by a link, a suspension: for an instance that is gone.
                return;
            }
            // No task runs the actor to see a signal: it ends here.
            self.queue.close();
            self.core.finish(&StopReason::Killed);
            return;
        }
        self.queue.signal(bits);
    }

    fn kill(&self) {
        self.request_stop(signal::KILL);
    }

    fn supervisor(&self) -> Supervisor {
        A::SUPERVISOR
    }

    fn shed_spare(&self) {
        self.queue.shed_spare();
    }
}

impl<A: Actor> Cell<A> {
    pub(crate) fn new(core: Core, queue: Queue<Envelope<A::Msg>>) -> Cell<A> {
        Cell { core, queue }
    }

    /// Runs the actor on this thread, once, if its task waits for a driver and the caller may
    /// (a tokio task of the system's runtime, outside its drivers); whether it did. For a
    /// sender that found the mailbox full (see `Scheduler::help_receiver`).
    fn help_receiver(&self) -> bool {
        let rt = self.core.system.shared().rt();
        rt.help_receiver(Helps::Counted, |claim| self.claim_receiver(claim))
    }

    /// Calls `claim` with the waker the mailbox keeps of its receiver, if it has one.
    pub(crate) fn claim_receiver(&self, claim: &Claim<'_>) -> Option<Claimed> {
        self.queue
            .with_receiver_waker(|waker| waker.and_then(claim))
    }

    /// Claims a mailbox slot, waiting for room. A sender that finds the mailbox full may
    /// first run the actor itself, when its task waits for a driver (see
    /// `Scheduler::help_receiver`).
    #[inline]
    pub(crate) fn poll_reserve(&self, cx: &mut Context<'_>) -> Poll<Result<Slot<'_>, Reject>> {
        match self.queue.try_reserve() {
            Err(Reject::Full) => self.poll_reserve_full(cx),
            done => Poll::Ready(done),
        }
    }

    #[cold]
    #[inline(never)]
    fn poll_reserve_full(&self, cx: &mut Context<'_>) -> Poll<Result<Slot<'_>, Reject>> {
        if self.help_receiver() {
            match self.queue.try_reserve() {
                Err(Reject::Full) => {}
                done => return Poll::Ready(done),
            }
        }
        let reserved = self.queue.poll_reserve(cx);
        if reserved.is_pending() {
            self.core.system.shared().rt().sender_waited();
        }
        reserved
    }
}

impl Core {
    pub(crate) fn new(
        id: ActorId,
        type_name: &'static str,
        name: Option<Arc<str>>,
        system: System,
        parent: Option<Weak<dyn Node>>,
        supervised: bool,
        bulkhead: Option<Bulkhead>,
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
            supervised,
            bulkhead,
            restarts: AtomicU32::new(0),
            end: Mutex::new(End::default()),
            extra: Mutex::new(None),
        }
    }

    /// How many times this actor was restarted.
    pub(crate) fn restarts(&self) -> u32 {
        self.restarts.load(Ordering::Relaxed)
    }

    pub(crate) fn count_restart(&self) {
        self.restarts.fetch_add(1, Ordering::Relaxed);
    }

    fn with_extra<T>(&self, f: impl FnOnce(&mut Extra) -> T) -> T {
        f(self.extra.lock().get_or_insert_with(Box::default))
    }

    /// As a supervisor: records a restart of a child at `now` if `supervisor`'s intensity
    /// allows it.
    pub(crate) fn permit_restart(&self, now: Instant, supervisor: &Supervisor) -> bool {
        self.with_extra(|e| e.restart_log.permit(now, supervisor))
    }

    /// Makes this actor fail with `reason` (a child's escalation, a linked actor's failure).
    /// The first one imposed wins. Raise [`signal::IMPOSED`] after.
    pub(crate) fn impose(&self, reason: StopReason) {
        self.with_extra(|e| {
            e.imposed.get_or_insert(reason);
        });
    }

    /// [`impose`](Core::impose), if the instance running is still the `instance`-th
    /// restart: checked under the lock `discard_stale` takes, after the restart is counted.
    pub(crate) fn impose_on(&self, instance: u32, reason: StopReason) -> bool {
        self.with_extra(|e| {
            if self.restarts() != instance {
                return false;
            }
            e.imposed.get_or_insert(reason);
            true
        })
    }

    pub(crate) fn take_imposed(&self) -> Option<StopReason> {
        self.extra.lock().as_mut().and_then(|e| e.imposed.take())
    }

    /// Records a panic outside a handler; the task fails with it.
    pub(crate) fn record_failure(&self, panic: PanicMessage) {
        self.with_extra(|e| e.failure = Some(panic));
    }

    pub(crate) fn take_failure(&self) -> Option<PanicMessage> {
        self.extra.lock().as_mut().and_then(|e| e.failure.take())
    }

    /// Forgets a failure or an escalation the last instance did not get to: the next
    /// instance starts clean.
    pub(crate) fn discard_stale(&self) {
        if let Some(extra) = self.extra.lock().as_mut() {
            extra.failure = None;
            extra.imposed = None;
        }
    }

    /// Its node crashed: what lived in memory goes. The watches it held end; a dedup window
    /// the runtime kept goes too, unless it was given at spawn (storage that outlives the
    /// machine). Watchers of the actor stay: its address stays good.
    pub(crate) fn forget_memory(&self) {
        let watching = {
            let mut extra = self.extra.lock();
            let Some(extra) = extra.as_mut() else { return };
            extra.failure = None;
            extra.imposed = None;
            extra.suspend = None;
            extra.started = None;
            extra.group = None;
            extra.restart_log = RestartLog::default();
            if !extra.dedup_given {
                extra.dedup = None;
            }
            std::mem::take(&mut extra.watching)
        };
        for (_, target) in watching {
            if let Some(target) = target.upgrade() {
                target.core().remove_watcher(self.id);
            }
        }
    }

    /// As a supervisor: the restart group of its children, made the first time it is needed.
    pub(crate) fn group(&self) -> Arc<Group> {
        self.with_extra(|e| e.group.get_or_insert_with(Arc::default).clone())
    }

    /// As a member of a restart group: asks this actor to retire its instance; `retired` is
    /// told when it has (or dropped if the actor stops instead). Raise [`signal::SUSPEND`]
    /// after.
    /// `false` if the actor has stopped (then nothing will retire).
    pub(crate) fn ask_suspend(&self, retired: oneshot::Sender<()>) -> bool {
        // Under the `end` lock: `finish` sets the reason under it and drops the request after.
        let end = self.end.lock();
        if end.reason.is_some() {
            return false;
        }
        self.with_extra(|e| e.suspend = Some(retired));
        drop(end);
        true
    }

    pub(crate) fn suspend_requested(&self) -> bool {
        self.extra
            .lock()
            .as_ref()
            .is_some_and(|e| e.suspend.is_some())
    }

    /// A group restart waits for the next instance's `on_start`: `started` is told.
    pub(crate) fn await_start(&self, started: oneshot::Sender<()>) {
        self.with_extra(|e| e.started = Some(started));
    }

    /// The instance's `on_start` returned: tells the group restart waiting for it.
    pub(crate) fn started(&self) {
        let started = self.extra.lock().as_mut().and_then(|e| e.started.take());
        if let Some(started) = started {
            let _ = started.send(());
        }
    }

    pub(crate) fn take_suspend(&self) -> Option<oneshot::Sender<()>> {
        self.extra.lock().as_mut().and_then(|e| e.suspend.take())
    }

    pub(crate) fn lifecycle(&self) -> Lifecycle {
        match self.lifecycle.load(Ordering::Acquire) {
            0 => Lifecycle::Starting,
            1 => Lifecycle::Running,
            2 => Lifecycle::Restarting,
            3 => Lifecycle::Crashed,
            4 => Lifecycle::Stopping,
            5 => Lifecycle::Ending,
            _ => Lifecycle::Stopped,
        }
    }

    pub(crate) fn set_lifecycle(&self, to: Lifecycle) {
        self.lifecycle.store(to as u8, Ordering::Release);
    }

    pub(crate) fn name(&self) -> Option<&str> {
        self.name.get().map(|n| &**n)
    }

    /// The actor's deduplication window: the one it was spawned with, or a fresh
    /// [`MemoryDedupStore`] at the first deduplicated message. It lives as long as the cell,
    /// across restarts.
    pub(crate) fn dedup_store(&self) -> Arc<dyn DedupStore> {
        self.with_extra(|e| {
            e.dedup
                .get_or_insert_with(|| Arc::new(MemoryDedupStore::default()))
                .clone()
        })
    }

    pub(crate) fn set_dedup_store(&self, store: Arc<dyn DedupStore>) {
        self.with_extra(|e| {
            e.dedup = Some(store);
            e.dedup_given = true;
        });
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
        let (watchers, watching, on_finish) = match self.extra.lock().as_mut() {
            Some(extra) => {
                // A restart group waiting for this actor to retire or to start goes on
                // without it.
                extra.suspend = None;
                extra.started = None;
                (
                    std::mem::take(&mut extra.watchers),
                    std::mem::take(&mut extra.watching),
                    std::mem::take(&mut extra.on_finish),
                )
            }
            None => (Vec::new(), Vec::new(), Vec::new()),
        };
        for hook in on_finish {
            hook();
        }
        self.break_links(reason);
        for (_, target) in watching {
            if let Some(target) = target.upgrade() {
                target.core().remove_watcher(self.id);
            }
        }
        for (_, deliver) in watchers {
            deliver(&self.system, Terminated::new(self.id, reason.clone()));
        }
        self.system.shared().actor_event(|| ActorEvent::Stopped {
            id: self.id,
            reason: reason.clone(),
        });
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

    /// Adds a watcher, told when this actor stops; at once if it has. Watching twice keeps
    /// one watch.
    pub(crate) fn add_watcher(&self, watcher: ActorId, deliver: Deliver) {
        let end = self.end.lock();
        if let Some(reason) = &end.reason {
            let reason = reason.clone();
            drop(end);
            deliver(&self.system, Terminated::new(self.id, reason));
            return;
        }
        // Under the `end` lock: `finish` takes the watchers after it set the reason.
        self.with_extra(|e| {
            e.watchers.retain(|(id, _)| *id != watcher);
            e.watchers.push((watcher, deliver));
        });
    }

    /// Runs `hook` once the actor has stopped, or now if it has; says whether it had.
    pub(crate) fn on_finish(&self, hook: Box<dyn FnOnce() + Send>) -> bool {
        let end = self.end.lock();
        if end.reason.is_some() {
            drop(end);
            hook();
            return true;
        }
        // Under the `end` lock, as for watchers: `finish` takes the hooks after the reason.
        self.with_extra(|e| e.on_finish.push(hook));
        false
    }

    pub(crate) fn remove_watcher(&self, watcher: ActorId) {
        if let Some(extra) = self.extra.lock().as_mut() {
            extra.watchers.retain(|(id, _)| *id != watcher);
        }
    }

    /// Records that this actor watches `target`.
    pub(crate) fn note_watching(&self, target: ActorId, node: Weak<dyn Node>) {
        self.with_extra(|e| {
            e.watching.retain(|(id, _)| *id != target);
            e.watching.push((target, node));
        });
    }

    pub(crate) fn forget_watching(&self, target: ActorId) {
        if let Some(extra) = self.extra.lock().as_mut() {
            extra.watching.retain(|(id, _)| *id != target);
        }
    }

    /// Links two actors both ways: when the instance of one fails, the other fails with it.
    pub(crate) fn link(me: &Arc<dyn Node>, other: &Arc<dyn Node>) -> Result<(), LinkError> {
        let (my_id, other_id) = (me.core().id, other.core().id);
        if my_id == other_id {
            return Err(LinkError::ToItself);
        }
        {
            let end = other.core().end.lock();
            if let Some(reason) = &end.reason {
                return Err(LinkError::Stopped {
                    id: other_id,
                    reason: reason.clone(),
                });
            }
            other
                .core()
                .add_link(my_id, Arc::downgrade(me), me.core().restarts());
        }
        me.core()
            .add_link(other_id, Arc::downgrade(other), other.core().restarts());
        Ok(())
    }

    fn add_link(&self, id: ActorId, node: Weak<dyn Node>, instance: u32) {
        self.with_extra(|e| {
            if !e.links.iter().any(|(linked, ..)| *linked == id) {
                e.links.push((id, node, instance));
            }
        });
    }

    pub(crate) fn remove_link(&self, id: ActorId) {
        if let Some(extra) = self.extra.lock().as_mut() {
            extra.links.retain(|(linked, ..)| *linked != id);
        }
    }

    /// The instance ended: its links go, and when it failed, the linked actors fail with it.
    pub(crate) fn break_links(&self, reason: &StopReason) {
        let links = match self.extra.lock().as_mut() {
            Some(extra) => std::mem::take(&mut extra.links),
            None => return,
        };
        for (_, partner, instance) in links {
            let Some(partner) = partner.upgrade() else {
                continue;
            };
            partner.core().remove_link(self.id);
            // Only the instance that was linked fails: one that replaced it meanwhile never
            // made this link.
            if reason.is_failure() {
                let failure = StopReason::LinkFailed {
                    actor: self.id,
                    reason: Arc::new(reason.clone()),
                };
                if partner.core().impose_on(instance, failure) {
                    tracing::debug!(actor = %self.id, partner = %partner.core().id, "failing a linked actor");
                    partner.request_stop(signal::IMPOSED);
                }
            }
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
