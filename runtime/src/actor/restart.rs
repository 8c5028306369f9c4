//! Restarts: whether a stopped instance is rebuilt, after how long, and who allows it.

use std::future::poll_fn;
use std::pin::pin;
use std::sync::{Arc, Weak};
use std::task::Poll;
use std::time::Duration;

use super::cell::{Lifecycle, signal};
use super::{Actor, Cell, StopReason};
use crate::PanicMessage;
use crate::message::catch_panic;
use crate::supervision::{Backoff, ChildSpec, Restart};
use crate::system::Instant;

/// How to rebuild a supervised actor, from its [`ChildSpec`].
pub(crate) struct Restarter<A> {
    factory: Arc<dyn Fn() -> A + Send + Sync>,
    restart: Restart,
    backoff: Backoff,
    /// Restarts in a row, for the backoff; starts over after a healthy run.
    attempt: u32,
    /// When the current instance started, to tell a healthy run from a crash loop. (Kept
    /// here rather than in the task: an idle actor's task stays small.)
    started_at: Option<Instant>,
    /// The factory panicked: there is no instance, and this is its failure.
    make_failed: Option<PanicMessage>,
    /// A group restart waits for the next instance's `on_start` to return (and the sender
    /// waits in the cell's extra state).
    notify_started: bool,
}

impl<A: Actor> Restarter<A> {
    pub(crate) fn new(spec: &ChildSpec<A>) -> Restarter<A> {
        Restarter {
            factory: spec.factory.clone(),
            restart: spec.restart,
            backoff: spec.backoff,
            attempt: 0,
            started_at: None,
            make_failed: None,
            notify_started: false,
        }
    }

    /// A new instance from the factory; `None` if the factory panicked (the panic is kept
    /// for [`take_make_failure`](Self::take_make_failure)).
    pub(crate) fn make(&mut self) -> Option<A> {
        match catch_panic(|| (self.factory)()) {
            Ok(actor) => Some(actor),
            Err(panic) => {
                self.make_failed = Some(panic);
                None
            }
        }
    }

    pub(crate) fn take_make_failure(&mut self) -> Option<PanicMessage> {
        self.make_failed.take()
    }

    pub(crate) fn mark_start(&mut self, now: Instant) {
        self.started_at = Some(now);
    }

    /// The next instance's `on_start` is awaited by a group restart.
    pub(crate) fn notify_started(&mut self) {
        self.notify_started = true;
    }
}

/// How an instance's run ended, for the restart decision.
#[derive(Debug)]
pub(crate) struct End {
    pub(crate) reason: StopReason,
    pub(crate) kind: EndKind,
    /// Whether the instance got past `on_start` (and so gets `on_stop`).
    pub(crate) started: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EndKind {
    /// A panic, a failed start, an escalation. `restartable` is false when the actor's
    /// `on_panic` chose to stop.
    Failure { restartable: bool },
    /// It stopped itself.
    SelfStop,
    /// Its restart group asked it to retire: a sibling failed.
    Suspended,
    /// Stopped or killed from outside, or shut down: never restarted.
    Final,
}

impl End {
    pub(crate) fn failure(reason: StopReason) -> End {
        End {
            reason,
            kind: EndKind::Failure { restartable: true },
            started: false,
        }
    }

    pub(crate) fn finished(reason: StopReason) -> End {
        End {
            reason,
            kind: EndKind::Final,
            started: false,
        }
    }
}

/// What follows the end of an instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    Restart,
    /// Retire and start again with the restart group; the restart is the failed sibling's.
    Rejoin,
    Stop,
    /// Stop, and hand the failure to the supervisor, whose intensity it exceeded.
    Escalate,
}

/// Decides, for a supervised actor, whether the instance that ended is rebuilt; asks its
/// supervisor (the parent, or the system at the top) to count the restart.
pub(crate) fn verdict<A: Actor>(
    cell: &Cell<A>,
    restarter: Option<&Restarter<A>>,
    end: &End,
) -> Verdict {
    let Some(restarter) = restarter else {
        return Verdict::Stop;
    };
    let wanted = match (end.kind, restarter.restart) {
        (_, Restart::Temporary) | (EndKind::Final, _) => false,
        (EndKind::Suspended, _) => return Verdict::Rejoin,
        (EndKind::SelfStop, policy) => policy == Restart::Permanent,
        (EndKind::Failure { restartable }, _) => restartable,
    };
    if !wanted {
        return Verdict::Stop;
    }
    let core = &cell.core;
    let now = core.system.now();
    let permitted = match &core.parent {
        Some(parent) => match Weak::upgrade(parent) {
            // A parent that is stopping takes its children down; no restart then.
            Some(parent) if parent.core().lifecycle() < Lifecycle::Stopping => {
                let supervisor = parent.supervisor();
                parent.core().permit_restart(now, &supervisor)
            }
            _ => return Verdict::Stop,
        },
        None => match core.system.shared().permit_root_restart(now) {
            Some(permitted) => permitted,
            // The system is shutting down: no restart, and nothing to report.
            None => return Verdict::Stop,
        },
    };
    if permitted {
        Verdict::Restart
    } else {
        Verdict::Escalate
    }
}

/// What the next instance does differently, as [`run_instance`](super::run) flags.
pub(crate) mod flags {
    /// The actor is restarted when it stops itself (a permanent child): a self-stop ends the
    /// instance after the current handler and leaves the queued messages, in an open mailbox,
    /// to the next instance.
    pub(crate) const RENEW: u8 = 1;
    /// A group restart waits for this instance's `on_start` to return.
    pub(crate) const NOTIFY_STARTED: u8 = 2;
}

/// The flags for the next instance.
pub(crate) fn instance_flags<A: Actor>(restarter: &mut Option<Box<Restarter<A>>>) -> u8 {
    let Some(restarter) = restarter.as_deref_mut() else {
        return 0;
    };
    let mut bits = 0;
    if restarter.restart == Restart::Permanent {
        bits |= flags::RENEW;
    }
    if std::mem::take(&mut restarter.notify_started) {
        bits |= flags::NOTIFY_STARTED;
    }
    bits
}

/// The wait before the next instance: the backoff, started over after a healthy run.
pub(crate) fn next_delay<A: Actor>(cell: &Cell<A>, restarter: &mut Restarter<A>) -> Duration {
    let now = cell.core.system.now();
    let healthy = restarter.started_at.is_some_and(|started_at| {
        now.saturating_duration_since(started_at) >= restarter.backoff.healthy_after()
    });
    if healthy {
        restarter.attempt = 0;
    }
    let delay = restarter
        .backoff
        .delay(restarter.attempt, cell.core.system.random_u64());
    restarter.attempt = restarter.attempt.saturating_add(1);
    delay
}

/// Waits out a backoff on the system's clock. A stop or a kill meanwhile ends the wait and
/// says how the actor stops instead.
pub(crate) async fn backoff<A: Actor>(cell: &Cell<A>, delay: Duration) -> Option<StopReason> {
    if delay.is_zero() {
        // No timer: the runtime's timers tick in milliseconds, and a restart takes
        // microseconds.
        return stop_requested(cell);
    }
    let mut sleep = pin!(cell.core.system.sleep(delay));
    poll_fn(|cx| {
        // Registered first, so that a signal raised from now on wakes this wait.
        cell.queue.register_receiver(cx.waker());
        if let Some(reason) = stop_requested(cell) {
            return Poll::Ready(Some(reason));
        }
        sleep.as_mut().poll(cx).map(|()| None)
    })
    .await
}

/// A stop, a kill or a shutdown raised for an actor between instances: taken, and how the
/// actor ends.
pub(crate) fn stop_requested<A: Actor>(cell: &Cell<A>) -> Option<StopReason> {
    let bits = cell.queue.peek_signals();
    if bits & (signal::KILL | signal::STOP | signal::SHUTDOWN) == 0 {
        return None;
    }
    stop_reason(cell.queue.take_signals())
}

/// How an actor ends for the stop, kill or shutdown among `bits`, if any.
pub(crate) fn stop_reason(bits: u8) -> Option<StopReason> {
    if bits & signal::KILL != 0 {
        Some(StopReason::Killed)
    } else if bits & signal::STOP != 0 {
        Some(StopReason::Normal)
    } else if bits & signal::SHUTDOWN != 0 {
        Some(StopReason::Shutdown)
    } else {
        None
    }
}

/// Hands a failure that exceeded the supervisor's intensity up the tree: to the parent,
/// which fails in turn, or to the system, which reports it.
pub(crate) fn escalate<A: Actor>(cell: &Cell<A>, reason: &StopReason) {
    let core = &cell.core;
    match core.parent.as_ref().and_then(Weak::upgrade) {
        Some(parent) => {
            tracing::warn!(
                actor = %core.id,
                parent = %parent.core().id,
                %reason,
                "restart intensity exceeded; escalating to the parent"
            );
            parent.core().impose(StopReason::Escalated {
                child: core.id,
                reason: Arc::new(reason.clone()),
            });
            parent.request_stop(signal::IMPOSED);
        }
        None if core.parent.is_some() => {}
        None => {
            core.system
                .shared()
                .report_root_failure(core.id, core.name(), core.type_name, reason);
        }
    }
}
