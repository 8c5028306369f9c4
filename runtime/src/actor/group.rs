//! Group restarts, for the one-for-all and rest-for-one strategies.
//!
//! A member whose failure its supervisor permits to restart does not come back on its own: it
//! retires its instance and joins the supervisor's [`Group`]. A coordinator task (one per
//! group at a time) then runs rounds:
//!
//! 1. the members the round affects (every supervised sibling for one-for-all; the failed one
//!    and those spawned after it for rest-for-one) that still run are asked to retire, the
//!    last spawned first, each after the previous one has: their current handler completes,
//!    their children stop, `on_stop` runs, and their mailbox stays open;
//! 2. the round waits the longest backoff its failed members asked for;
//! 3. the members start again in spawn order, each after the previous one's `on_start` has
//!    returned.
//!
//! A member that fails while a round runs joins the next round. A member asked to retire
//! that cannot be restarted (its policy is temporary) stops for good, as in Erlang/OTP.
//! Actors spawned without a spec are not members: a sibling's failure leaves them alone.
//!
//! The coordinator is a task of its own rather than the supervisor's: a supervisor busy in a
//! handler must not hold its children's restart up.

use std::collections::BTreeMap;
use std::future::poll_fn;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::oneshot;

use super::cell::{Cell, Core, Node, signal};
use super::restart::stop_requested;
use super::{Actor, ActorId, StopReason};
use crate::supervision::Strategy;
use crate::system::System;

/// The restart group of one supervisor's children.
#[derive(Default)]
pub(crate) struct Group {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Members that failed (and were permitted a restart) since the round began, with the
    /// backoff each asked for. They make the next round.
    failed: Vec<(ActorId, Duration)>,
    /// Members that retired and wait for their turn to start; the sender hands them the
    /// channel on which they say their `on_start` has returned.
    waiting: BTreeMap<ActorId, oneshot::Sender<oneshot::Sender<()>>>,
    /// A coordinator task runs.
    running: bool,
}

/// Who supervises an actor: another actor, or the system at the top of the tree.
#[derive(Clone)]
pub(crate) enum Supervising {
    Actor(Arc<dyn Node>),
    Root(System),
}

impl Supervising {
    /// The supervisor of the actor `core` belongs to; `None` if its parent is gone.
    pub(crate) fn of(core: &Core) -> Option<Supervising> {
        match &core.parent {
            Some(parent) => parent.upgrade().map(Supervising::Actor),
            None => Some(Supervising::Root(core.system.clone())),
        }
    }

    pub(crate) fn strategy(&self) -> Strategy {
        match self {
            Supervising::Actor(node) => node.supervisor().strategy(),
            Supervising::Root(system) => system.shared().config.supervisor.strategy(),
        }
    }

    /// The supervised children, in spawn order.
    fn members(&self) -> Vec<Arc<dyn Node>> {
        let mut members = match self {
            Supervising::Actor(node) => node.core().children.lock().values().cloned().collect(),
            Supervising::Root(system) => system.shared().root_actors(),
        };
        members.retain(|member| member.core().supervised);
        members
    }

    fn group(&self) -> Arc<Group> {
        match self {
            Supervising::Actor(node) => node.core().group(),
            Supervising::Root(system) => system.shared().root_group(),
        }
    }

    fn system(&self) -> &System {
        match self {
            Supervising::Actor(node) => &node.core().system,
            Supervising::Root(system) => system,
        }
    }
}

/// Joins the supervisor's restart group once this member's instance has retired: after a
/// failure (`backoff` is `Some`) or when the group asked it to. The receiver gets the member's
/// turn to start.
pub(crate) fn join(
    supervising: &Supervising,
    core: &Core,
    backoff: Option<Duration>,
) -> oneshot::Receiver<oneshot::Sender<()>> {
    let group = supervising.group();
    let (turn, receiver) = oneshot::channel();
    let spawn = {
        let mut inner = group.inner.lock();
        if let Some(delay) = backoff {
            inner.failed.push((core.id, delay));
        }
        inner.waiting.insert(core.id, turn);
        let spawn = !inner.running && !inner.failed.is_empty();
        inner.running |= spawn;
        spawn
    };
    // Retired: a round waiting for that goes on. (After joining, so that the round finds
    // this member waiting when it comes to start it.)
    if let Some(retired) = core.take_suspend() {
        let _ = retired.send(());
    }
    if spawn {
        let system = supervising.system().clone();
        system
            .shared()
            .rt()
            .spawn(coordinate(supervising.clone(), group));
    }
    receiver
}

/// Waits for this member's turn to start. A stop, a kill or a shutdown meanwhile ends the wait
/// and says how the actor stops instead.
pub(crate) async fn turn<A: Actor>(
    cell: &Cell<A>,
    mut turn: oneshot::Receiver<oneshot::Sender<()>>,
) -> Result<oneshot::Sender<()>, StopReason> {
    poll_fn(|cx| {
        cell.queue.register_receiver(cx.waker());
        if let Some(reason) = stop_requested(cell) {
            return Poll::Ready(Err(reason));
        }
        match std::pin::Pin::new(&mut turn).poll(cx) {
            Poll::Ready(Ok(started)) => Poll::Ready(Ok(started)),
            // The coordinator is gone: the runtime is shutting down.
            Poll::Ready(Err(_)) => Poll::Ready(Err(StopReason::Shutdown)),
            Poll::Pending => Poll::Pending,
        }
    })
    .await
}

/// Runs rounds until no member waits for one.
async fn coordinate(supervising: Supervising, group: Arc<Group>) {
    loop {
        let failed = {
            let mut inner = group.inner.lock();
            if inner.failed.is_empty() {
                inner.running = false;
                return;
            }
            std::mem::take(&mut inner.failed)
        };
        round(&supervising, &group, &failed).await;
    }
}

async fn round(supervising: &Supervising, group: &Group, failed: &[(ActorId, Duration)]) {
    // Members that stopped while they waited leave their place.
    group
        .inner
        .lock()
        .waiting
        .retain(|_, turn| !turn.is_closed());
    let mut members = supervising.members();
    match supervising.strategy() {
        Strategy::OneForAll => {}
        Strategy::RestForOne => {
            let first = failed.iter().map(|(id, _)| *id).min();
            members.retain(|member| Some(member.core().id) >= first);
        }
        Strategy::OneForOne => {
            members.retain(|member| failed.iter().any(|(id, _)| *id == member.core().id));
        }
    }
    tracing::debug!(
        members = members.len(),
        failed = failed.len(),
        "restarting a group of children"
    );
    // Retire, the last spawned first, one after the other.
    for member in members.iter().rev() {
        let retired = {
            let inner = group.inner.lock();
            if inner.waiting.contains_key(&member.core().id) {
                continue;
            }
            let (retired, receiver) = oneshot::channel();
            if !member.core().ask_suspend(retired) {
                // It has stopped for good: nothing to retire.
                continue;
            }
            receiver
        };
        member.request_stop(signal::SUSPEND);
        // An error: it stopped for good instead; the round goes on without it.
        let _ = retired.await;
    }
    let delay = failed.iter().map(|(_, delay)| *delay).max();
    if let Some(delay) = delay.filter(|delay| !delay.is_zero()) {
        supervising.system().sleep(delay).await;
    }
    // Start in spawn order, each once the one before has started.
    for member in &members {
        let turn = group.inner.lock().waiting.remove(&member.core().id);
        let Some(turn) = turn else {
            continue;
        };
        let (started, receiver) = oneshot::channel();
        if turn.send(started).is_ok() {
            // An error: it stopped or failed instead of starting; the round goes on.
            let _ = receiver.await;
        }
    }
}
