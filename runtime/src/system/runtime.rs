//! The runtime seam: every task, clock read, timer and random number the runtime uses comes
//! from here, never straight from tokio or the operating system.
//!
//! The seam is an enum rather than a trait object: the variants are known (tokio in production,
//! the deterministic simulator of `crate::sim` in tests), so a call costs a branch instead of an
//! indirect call, and futures such as [`Sleep`] stay unboxed on the ask path.

use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use pin_project_lite::pin_project;

use super::sched::{Claim, Claimed, Helps, SchedTask, Scheduler};
use super::time::{Instant, duration_nanos};
use crate::sim::{SimRt, SimSleep, Task, YieldNow};

/// Where actors run and where time comes from.
#[derive(Debug)]
pub(crate) enum Rt {
    /// A tokio runtime: its scheduler runs actor tasks, its clock (which tests may pause) gives
    /// the time.
    Tokio(TokioRt),
    /// The deterministic simulator: one thread, a virtual clock, a seeded schedule.
    Sim(SimRt),
}

#[derive(Debug)]
pub(crate) struct TokioRt {
    handle: tokio::runtime::Handle,
    epoch: tokio::time::Instant,
    /// Where actor tasks run: drivers on the runtime's workers (see `sched`).
    sched: Scheduler,
}

impl Rt {
    /// The seam over a tokio runtime. The clock starts now. `inline_handlers`: a tokio task
    /// may run the actor it sends to (see `Scheduler::help` and `Scheduler::help_receiver`).
    pub(crate) fn tokio(handle: tokio::runtime::Handle, inline_handlers: bool) -> Rt {
        let epoch = {
            let _entered = handle.enter();
            tokio::time::Instant::now()
        };
        let sched = Scheduler::new(&handle, inline_handlers);
        Rt::Tokio(TokioRt {
            handle,
            epoch,
            sched,
        })
    }

    /// Runs `task` concurrently with the caller.
    pub(crate) fn spawn<F>(&self, task: F) -> TaskHandle
    where
        F: Future<Output = ()> + Send + 'static,
    {
        match self {
            Rt::Tokio(rt) => TaskHandle {
                inner: TaskInner::Tokio(rt.handle.spawn(task).abort_handle()),
            },
            Rt::Sim(rt) => TaskHandle {
                inner: TaskInner::Sim(rt.spawn(task)),
            },
        }
    }

    /// Runs `task`, a service of the runtime that belongs to no simulated node (the ask
    /// deadline driver), concurrently with the caller.
    pub(crate) fn spawn_unbound<F>(&self, task: F) -> TaskHandle
    where
        F: Future<Output = ()> + Send + 'static,
    {
        match self {
            Rt::Tokio(_) => self.spawn(task),
            Rt::Sim(rt) => TaskHandle {
                inner: TaskInner::Sim(rt.network().spawn(task)),
            },
        }
    }

    /// Runs `task`, a part of an actor (its loop, a timer), concurrently with the caller.
    /// Under simulation, a crash of the actor's node drops it.
    pub(crate) fn spawn_actor<F>(&self, task: F) -> TaskHandle
    where
        F: Future<Output = ()> + Send + 'static,
    {
        match self {
            // Unconstrained: the driver polling the task keeps the worker's turns (see
            // `sched`), and tokio's per-task budget would otherwise count every actor the
            // driver polls as one task's.
            Rt::Tokio(rt) => TaskHandle {
                inner: TaskInner::Sched(rt.sched.spawn(tokio::task::unconstrained(task))),
            },
            Rt::Sim(rt) => TaskHandle {
                inner: TaskInner::Sim(rt.spawn_actor(task)),
            },
        }
    }

    /// Calls `send`; on tokio, runs the actors it woke on this thread, or the one `receiver`
    /// leads to if it woke none (see `Scheduler::help`).
    pub(crate) fn help<R>(
        &self,
        send: impl FnOnce() -> R,
        receiver: impl FnOnce(&Claim<'_>) -> Option<Claimed>,
    ) -> R {
        match self {
            Rt::Tokio(rt) => rt.sched.help(send, receiver),
            Rt::Sim(_) => send(),
        }
    }

    /// For a sender that found a mailbox full: on tokio, runs the actor here if its task
    /// waits for a driver (see `Scheduler::help_receiver`); whether it did.
    pub(crate) fn help_receiver(
        &self,
        helps: Helps,
        receiver: impl FnOnce(&Claim<'_>) -> Option<Claimed>,
    ) -> bool {
        match self {
            Rt::Tokio(rt) => rt.sched.help_receiver(helps, receiver),
            Rt::Sim(_) => false,
        }
    }

    /// Notes that a sender to a full mailbox waits on this thread (see
    /// `Scheduler::help_receiver`).
    pub(crate) fn sender_waited(&self) {
        if let Rt::Tokio(_) = self {
            super::sched::sender_waited();
        }
    }

    /// How many actor tasks ([`spawn_actor`](Rt::spawn_actor)) have not ended.
    pub(crate) fn actor_tasks(&self) -> usize {
        match self {
            Rt::Tokio(rt) => rt.sched.live(),
            Rt::Sim(rt) => rt.live_actor_tasks(),
        }
    }

    /// The current time on this runtime's clock.
    pub(crate) fn now(&self) -> Instant {
        match self {
            Rt::Tokio(rt) => {
                let now = tokio::time::Instant::now();
                Instant::from_nanos(duration_nanos(now.saturating_duration_since(rt.epoch)))
            }
            Rt::Sim(rt) => rt.now(),
        }
    }

    /// A future that completes at `deadline`.
    pub(crate) fn sleep_until(&self, deadline: Instant) -> Sleep {
        match self {
            Rt::Tokio(rt) => {
                // Entering the runtime lets a caller outside any runtime (a plain thread that
                // polls an ask) still use this runtime's timers.
                let _entered = rt.handle.enter();
                let at = rt
                    .epoch
                    .checked_add(Duration::from_nanos(deadline.as_nanos()))
                    .unwrap_or_else(far_future);
                Sleep::Tokio {
                    inner: tokio::time::sleep_until(at),
                }
            }
            Rt::Sim(rt) => Sleep::Sim {
                inner: rt.sleep_until(deadline),
            },
        }
    }

    /// A future that completes `duration` from now.
    pub(crate) fn sleep(&self, duration: Duration) -> Sleep {
        self.sleep_until(self.now() + duration)
    }

    /// Has the current task polled again once the tasks that are ready now have run, and
    /// says whether it will be (`false`: this runtime cannot defer a wake-up, and the caller
    /// must not count on one).
    ///
    /// On tokio this is a `yield_now` polled once: its wake-up waits in the worker's list of
    /// deferred wake-ups, behind every task already scheduled.
    pub(crate) fn defer_wake(&self, cx: &mut std::task::Context<'_>) -> bool {
        match self {
            // An actor's task: queued again behind the tasks its driver has ready.
            Rt::Tokio(rt) if rt.sched.is_current() => {
                cx.waker().wake_by_ref();
                true
            }
            Rt::Tokio(_) => {
                // Pending on its first poll, with the wake-up deferred; dropping it cancels
                // nothing.
                let _ = std::pin::pin!(tokio::task::yield_now()).poll(cx);
                true
            }
            // The simulator registers at once: the schedule a seed makes stays as it was.
            Rt::Sim(_) => false,
        }
    }

    /// Whether an actor about to park may first look at its mailbox again for a moment: only
    /// on a driver with nothing else to run (its thread would park next), never simulated
    /// (the seed's schedule must not depend on timing).
    pub(crate) fn may_spin_before_park(&self) -> bool {
        match self {
            Rt::Tokio(rt) => rt.sched.idle_here(),
            Rt::Sim(_) => false,
        }
    }

    /// Lets other tasks run before the caller continues.
    pub(crate) async fn yield_now(&self) {
        match self {
            // An actor's task yields to the tasks its driver has ready; the driver yields to
            // the worker's other tasks on its own.
            Rt::Tokio(rt) if rt.sched.yield_worker() => YieldNow::new().await,
            Rt::Tokio(_) => tokio::task::yield_now().await,
            Rt::Sim(_) => YieldNow::new().await,
        }
    }

    /// The tokio handle, for the parts that only exist on tokio (own threads, bulkheads);
    /// `None` under simulation, which has no threads to offer.
    pub(crate) fn handle(&self) -> Option<&tokio::runtime::Handle> {
        match self {
            Rt::Tokio(rt) => Some(&rt.handle),
            Rt::Sim(_) => None,
        }
    }

    /// The simulator, when this is one.
    pub(crate) fn sim(&self) -> Option<&SimRt> {
        match self {
            Rt::Tokio(_) => None,
            Rt::Sim(rt) => Some(rt),
        }
    }
}

/// About thirty years from now: tokio's stand-in for "never".
fn far_future() -> tokio::time::Instant {
    tokio::time::Instant::now() + Duration::from_secs(86_400 * 365 * 30)
}

pin_project! {
    /// A timer from the runtime seam.
    #[project = SleepProj]
    #[derive(Debug)]
    pub(crate) enum Sleep {
        Tokio { #[pin] inner: tokio::time::Sleep },
        Sim { inner: SimSleep },
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        match self.project() {
            SleepProj::Tokio { inner } => inner.poll(cx),
            SleepProj::Sim { inner } => Pin::new(inner).poll(cx),
        }
    }
}

/// A task spawned through the seam. Dropping it detaches the task.
#[derive(Clone, Debug)]
pub(crate) struct TaskHandle {
    inner: TaskInner,
}

#[derive(Clone, Debug)]
enum TaskInner {
    Tokio(tokio::task::AbortHandle),
    Sched(SchedTask),
    Sim(Arc<Task>),
}

impl TaskHandle {
    /// Stops the task at its next suspension point.
    pub(crate) fn abort(&self) {
        match &self.inner {
            TaskInner::Tokio(handle) => handle.abort(),
            TaskInner::Sched(task) => task.abort(),
            TaskInner::Sim(task) => task.abort(),
        }
    }

    /// Whether the task has finished (or was aborted).
    pub(crate) fn is_finished(&self) -> bool {
        match &self.inner {
            TaskInner::Tokio(handle) => handle.is_finished(),
            TaskInner::Sched(task) => task.is_finished(),
            TaskInner::Sim(task) => task.is_finished(),
        }
    }
}

/// Random numbers from the seam: `SplitMix64` over an atomic counter, seeded once per system.
///
/// Lock-free and shared by every thread; it is not on the message path. Not cryptographic.
#[derive(Debug)]
pub(crate) struct Random {
    state: AtomicU64,
}

impl Random {
    /// A generator seeded from the operating system's per-process hash keys.
    pub(crate) fn from_entropy() -> Random {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u64(0x5eed);
        Random::with_seed(hasher.finish())
    }

    /// A generator that yields the same sequence for the same seed.
    pub(crate) fn with_seed(seed: u64) -> Random {
        Random {
            state: AtomicU64::new(seed),
        }
    }

    pub(crate) fn next_u64(&self) -> u64 {
        const GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut z = self
            .state
            .fetch_add(GAMMA, Ordering::Relaxed)
            .wrapping_add(GAMMA);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::Random;

    #[test]
    fn same_seed_same_sequence() {
        let a = Random::with_seed(42);
        let b = Random::with_seed(42);
        let xs: Vec<u64> = (0..8).map(|_| a.next_u64()).collect();
        let ys: Vec<u64> = (0..8).map(|_| b.next_u64()).collect();
        assert_eq!(xs, ys);
        assert_ne!(xs[0], xs[1]);
        assert_ne!(Random::with_seed(43).next_u64(), xs[0]);
    }
}
