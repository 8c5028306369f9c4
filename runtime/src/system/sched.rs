//! The actor scheduler: actor tasks run on a few *driver* tasks of the tokio runtime instead
//! of one tokio task each.
//!
//! A message between two actors wakes its receiver; on tokio that wake-up is a trip through
//! the runtime's scheduler (a state change, a run queue, a task switch), about as costly as
//! the rest of the message. Here the receiver goes on the local queue of the driver that
//! runs the sender, and the driver polls it as soon as the sender's poll returns: a
//! compare-exchange, a push and a pop.
//!
//! - **Drivers**: one per worker thread of the runtime, each a tokio task. A driver polls
//!   the actor tasks of its local queue, takes from the shared queue (wake-ups from outside
//!   any driver: a tokio task, a timer, another thread) every [`GLOBAL_EVERY`] tasks and when
//!   its own queue is empty, and steals half of a sibling's queue when both are empty. It
//!   yields its tokio worker to the worker's other tasks when an actor yields, and once it
//!   has held the worker for [`TURN`], looking at the clock after every [`BUDGET`] tasks.
//! - **Parking**: a driver with nothing to do leaves its waker in the idle list, then looks
//!   at every queue once more (the registration, a full fence, the look: a push that missed
//!   the registration is seen by the look). A wake-up from outside pushes, fences, and wakes
//!   one idle driver; a driver whose queue grows past one task while another is idle wakes
//!   it to steal.
//! - **Tasks**: a state word (scheduled, running, closed, done, queued) makes sure one
//!   poller at a time polls a task, that a task woken while it runs is polled again after,
//!   and that a task has at most one queue entry. The future sits in the task's own
//!   allocation, behind a header that does not depend on its type; a task's waker is a
//!   pointer to it, and every task's waker has the same vtable, so a waker tells whether it
//!   is a task of the scheduler's.
//! - **Helping**: a tokio task that sends to an actor may run the actor itself, on its own
//!   thread: an ask runs the idle actor its message woke ([`Scheduler::help`]), a send to a
//!   full mailbox runs the actor waiting for a driver, found through the waker the mailbox
//!   keeps ([`Scheduler::help_receiver`]).
//! - **Ending**: every live task is listed, so that a runtime dropped without a shutdown
//!   (its drivers dropped unpolled) still drops every actor's future, and an actor's
//!   cleanup runs. Spawning on a closed scheduler drops the future at once, as tokio does.

use std::cell::{Cell, UnsafeCell};
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::mem::ManuallyDrop;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::ptr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering, fence};
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};
use std::time::{Duration, Instant};

use crossbeam_deque::{Injector, Steal, Stealer, Worker};
use parking_lot::Mutex;

/// Wants a poll: queued, or to be queued again when its poll returns.
const SCHEDULED: usize = 1;
/// A driver (or a helping caller) polls it, or a closer drops its future: only the holder
/// touches the future.
const RUNNING: usize = 2;
/// Aborted, or its scheduler closed: its future is dropped at the next chance.
const CLOSED: usize = 4;
/// Its future is gone; it never runs again.
const DONE: usize = 8;
/// An entry for it is in a queue; it never has two. A caller that runs a scheduled task
/// itself ([`Scheduler::help_receiver`]) leaves the entry where it is: whoever takes it finds
/// the task not scheduled, or scheduled again, and polls it only then.
const QUEUED: usize = 16;

/// Scheduler ids; 0 is none.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Tasks a driver polls between two looks at the clock (see [`TURN`]); also a helper's
/// budget.
const BUDGET: u32 = 128;
/// How long a driver keeps its tokio worker, once it has polled [`BUDGET`] tasks, before it
/// yields the worker to tokio's other tasks there (see `Driver::turn_is_over`; an actor's
/// own yield yields the worker at once). Each yield on a worker with nothing else to run makes tokio look
/// for work and wake the other worker, which at times takes the driver: yielding every 128
/// polls (8 µs of a ping-pong) moved a pair of actors between the cores often enough to
/// double a round trip's cost in some runs.
const TURN: Duration = Duration::from_micros(50);
/// Every this many tasks, a driver looks at the shared queue before its own, so that
/// wake-ups from outside are not starved by actors that keep waking each other.
const GLOBAL_EVERY: u32 = 31;
/// Times tokio tasks on one thread may run actors whose mailboxes they found full (see
/// [`Scheduler::help_receiver`]) before one of them waits, as any sender to a full mailbox
/// does, and so returns its worker to tokio.
const HELPS_IN_A_ROW: u32 = 8;
/// The tasks such a help may run besides the actor (those its poll woke): with
/// [`HELPS_IN_A_ROW`] helps, about a driver's budget between two waits.
const HELP_BUDGET: u32 = BUDGET / HELPS_IN_A_ROW;

/// A task in a queue or in the list of live tasks.
type Task = Arc<dyn Run>;

/// What a driver and a closer do with a task, whatever its future's type.
trait Run: Send + Sync {
    /// Polls the task once if it is scheduled or closed (an entry of it was popped from a
    /// queue); a task woken meanwhile goes back on `queue`.
    fn run(self: Arc<Self>, queue: &Worker<Task>);
    /// Polls the task once; the caller has just set `RUNNING`. A task woken meanwhile goes
    /// back on `queue` unless an entry of it is queued already.
    fn poll_claimed(self: Arc<Self>, queue: &Worker<Task>);
    /// Drops the future now unless a poller (a driver, a helping caller) polls it, which then
    /// drops it after its poll.
    fn close(self: Arc<Self>);
    /// Queues it on its own scheduler's shared queue (it is scheduled already).
    fn reschedule(self: Arc<Self>);
    /// Has its future dropped by a driver: at once if it is idle, after its poll if it runs.
    fn abort(self: Arc<Self>);
    /// Whether its future is gone.
    fn is_done(&self) -> bool;
}

/// One actor task (or a timer of one): its header, then its future. The header comes first
/// (`repr(C)`), so that a waker, which points at the task, reaches the header whatever the
/// future's type: every task's waker has the one vtable [`WAKER`], and a waker can be told
/// to be a task of the scheduler's.
#[repr(C)]
struct TaskCell<F> {
    header: Header,
    future: UnsafeCell<Option<F>>,
}

/// The part of a task that does not depend on its future's type.
struct Header {
    state: AtomicUsize,
    shared: Arc<Shared>,
    /// The task's reference counting, for its wakers.
    ops: &'static Ops,
}

/// What a waker does with the task it points at, whose type it does not know.
struct Ops {
    /// Adds a count.
    retain: unsafe fn(*const ()),
    /// Gives a count back.
    release: unsafe fn(*const ()),
    /// The task, from a count the caller hands over.
    into_task: unsafe fn(*const ()) -> Task,
    /// The task, with a new count (a wake-up by reference, in one call).
    task: unsafe fn(*const ()) -> Task,
}

// SAFETY: the future is touched only by the holder of `RUNNING` (a driver's or a helping
// caller's poll, a closer's drop), which the state word gives to one thread at a time;
// everything else is atomic or immutable. `F: Send` lets the future move between the threads
// that hold `RUNNING`.
unsafe impl<F: Send> Sync for TaskCell<F> {}

impl Header {
    /// Marks the task scheduled; `true` when the caller must queue it (it was idle, and no
    /// entry of it is queued).
    fn notify(&self) -> bool {
        // The usual case first: idle, with no entry queued.
        if self
            .state
            .compare_exchange(0, SCHEDULED | QUEUED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            return true;
        }
        // A running task is queued again by its poller once its poll returns; one with an
        // entry queued is polled when that entry is taken.
        let queue = |state: usize| state & (RUNNING | QUEUED) == 0;
        self.state
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |state| {
                (state & (SCHEDULED | CLOSED | DONE) == 0)
                    .then(|| state | SCHEDULED | if queue(state) { QUEUED } else { 0 })
            })
            .is_ok_and(queue)
    }

    /// Takes a scheduled task that no one polls to poll it here, its queued entry left
    /// behind; `false` if it is not scheduled, is running, or is closed.
    fn claim(&self) -> bool {
        self.state
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |state| {
                (state & (SCHEDULED | RUNNING | CLOSED | DONE) == SCHEDULED)
                    .then_some((state & !SCHEDULED) | RUNNING)
            })
            .is_ok()
    }

    /// Sets `CLOSED` unless a bit of `settled` is set, and with it `claim` unless a bit of
    /// `busy` is: `true` when this call claimed (the caller then owes the task its end).
    fn mark_closed(&self, settled: usize, busy: usize, claim: usize) -> bool {
        self.state
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |state| {
                (state & settled == 0)
                    .then_some(state | CLOSED | if state & busy == 0 { claim } else { 0 })
            })
            .is_ok_and(|state| state & busy == 0)
    }
}

/// The vtable of every task's waker. A `static`, so that its address tells a task's waker
/// from any other.
static WAKER: RawWakerVTable = RawWakerVTable::new(clone_waker, wake, wake_by_ref, drop_waker);

/// The header of the task a waker of [`WAKER`] points at.
///
/// # Safety
/// `ptr` is such a waker's data, and the waker (or a count of the task) is alive for `'a`.
unsafe fn header<'a>(ptr: *const ()) -> &'a Header {
    // SAFETY: the waker points at a `TaskCell`, whose header is its first field (`repr(C)`).
    unsafe { &*ptr.cast::<Header>() }
}

unsafe fn clone_waker(ptr: *const ()) -> RawWaker {
    // SAFETY: the waker being cloned keeps the task alive.
    unsafe { (header(ptr).ops.retain)(ptr) };
    RawWaker::new(ptr, &WAKER)
}

unsafe fn wake(ptr: *const ()) {
    // SAFETY: a waker owns one count, handed over here: to the queue, or given back.
    unsafe {
        let header = header(ptr);
        if header.notify() {
            let shared = header.shared.clone();
            shared.schedule((header.ops.into_task)(ptr));
        } else {
            (header.ops.release)(ptr);
        }
    }
}

unsafe fn wake_by_ref(ptr: *const ()) {
    // SAFETY: the waker keeps its count; the queue gets a new one.
    unsafe {
        let header = header(ptr);
        if header.notify() {
            header.shared.schedule((header.ops.task)(ptr));
        }
    }
}

unsafe fn drop_waker(ptr: *const ()) {
    // SAFETY: the waker's count, given back.
    unsafe { (header(ptr).ops.release)(ptr) }
}

impl<F> TaskCell<F>
where
    F: Future<Output = ()> + Send + 'static,
{
    const OPS: Ops = Ops {
        retain: Self::retain,
        release: Self::release,
        into_task: Self::into_task,
        task: Self::task,
    };

    unsafe fn retain(ptr: *const ()) {
        // SAFETY: `ptr` came from `Arc::as_ptr` of this type; a count is alive.
        unsafe { Arc::increment_strong_count(ptr.cast::<Self>()) }
    }

    unsafe fn release(ptr: *const ()) {
        // SAFETY: as above; the caller's count, given back.
        drop(unsafe { Arc::from_raw(ptr.cast::<Self>()) });
    }

    unsafe fn into_task(ptr: *const ()) -> Task {
        // SAFETY: as above; the caller's count becomes the task's.
        unsafe { Arc::from_raw(ptr.cast::<Self>()) }
    }

    unsafe fn task(ptr: *const ()) -> Task {
        // SAFETY: as above; the new count is the task's.
        unsafe {
            Arc::increment_strong_count(ptr.cast::<Self>());
            Arc::from_raw(ptr.cast::<Self>())
        }
    }

    /// Drops the future and leaves the list of live tasks. The caller holds `RUNNING`.
    fn complete(&self) {
        // The drop may wake tasks, spawn, or end the system and with it this scheduler.
        let dropped = catch_unwind(AssertUnwindSafe(|| {
            // SAFETY: `RUNNING` is the caller's; assigning drops the future in place, where
            // it was pinned.
            unsafe { *self.future.get() = None }
        }));
        if dropped.is_err() {
            tracing::error!("a task's future panicked while it was dropped");
        }
        self.header.state.fetch_or(DONE, Ordering::AcqRel);
        // Its address is its key in the list of live tasks.
        self.header.shared.forget(ptr::from_ref(self).addr());
    }
}

impl<F> Run for TaskCell<F>
where
    F: Future<Output = ()> + Send + 'static,
{
    fn run(self: Arc<Self>, queue: &Worker<Task>) {
        let header = &self.header;
        // The usual case first: scheduled, this entry its only one, nothing else.
        if header
            .state
            .compare_exchange(
                SCHEDULED | QUEUED,
                RUNNING,
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_ok()
        {
            return self.poll_claimed(queue);
        }
        // Held by a poller or a closer, ended, or polled since this entry was queued by a
        // caller that ran it itself: the entry is stale. (A running task's poller queues it
        // again after its poll if it was woken meanwhile.)
        let stale =
            |state: usize| state & (RUNNING | DONE) != 0 || state & (SCHEDULED | CLOSED) == 0;
        let (Ok(before) | Err(before)) =
            header
                .state
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |state| {
                    Some(if stale(state) {
                        state & !QUEUED
                    } else {
                        (state & !(SCHEDULED | QUEUED)) | RUNNING
                    })
                });
        if !stale(before) {
            self.poll_claimed(queue);
        }
    }

    #[inline(always)]
    fn poll_claimed(self: Arc<Self>, queue: &Worker<Task>) {
        let header = &self.header;
        if header.state.load(Ordering::Acquire) & CLOSED != 0 {
            self.complete();
            return;
        }
        // A waker borrowed from this count: no count changes per poll.
        let raw = RawWaker::new(Arc::as_ptr(&self).cast(), &WAKER);
        // SAFETY: `ManuallyDrop` keeps the borrowed count from being given back.
        let waker = ManuallyDrop::new(unsafe { Waker::from_raw(raw) });
        let mut cx = Context::from_waker(&waker);
        let polled = catch_unwind(AssertUnwindSafe(|| {
            // SAFETY: `RUNNING` is ours, so nothing else touches the future; it stays where
            // it is until `complete` drops it in place.
            let future = unsafe { &mut *self.future.get() };
            match future.as_mut() {
                Some(future) => unsafe { Pin::new_unchecked(future) }.poll(&mut cx),
                None => Poll::Ready(()),
            }
        }));
        match polled {
            Ok(Poll::Pending) => {}
            Ok(Poll::Ready(())) => return self.complete(),
            Err(_) => {
                // An actor's task catches its own panics; this is a timer's or a bug's.
                tracing::error!("a task panicked; it ends here");
                return self.complete();
            }
        }
        // The usual case first: not woken meanwhile, no entry queued.
        if header
            .state
            .compare_exchange(RUNNING, 0, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            return;
        }
        // Woken while it ran (or yielding), with no entry queued: queued again, behind the
        // tasks queued meanwhile.
        let requeue = |state: usize| state & (SCHEDULED | QUEUED) == SCHEDULED;
        match header
            .state
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |state| {
                (state & CLOSED == 0)
                    .then(|| (state & !RUNNING) | if requeue(state) { QUEUED } else { 0 })
            }) {
            Err(_) => self.complete(),
            Ok(before) if requeue(before) => queue.push(self),
            Ok(_) => {}
        }
    }

    fn reschedule(self: Arc<Self>) {
        let shared = self.header.shared.clone();
        shared.inject(self);
    }

    fn close(self: Arc<Self>) {
        // An idle or queued task is dropped here; a running one by its poller after the poll.
        if self.header.mark_closed(DONE, RUNNING, RUNNING) {
            self.complete();
        }
    }

    fn abort(self: Arc<Self>) {
        // A task with no entry queued and not running is queued for a driver to drop; a
        // queued or running one is dropped by the driver that takes its entry or by its
        // poller.
        if self
            .header
            .mark_closed(CLOSED | DONE, QUEUED | RUNNING, SCHEDULED | QUEUED)
        {
            let shared = self.header.shared.clone();
            shared.schedule(self);
        }
    }

    fn is_done(&self) -> bool {
        self.header.state.load(Ordering::Acquire) & DONE != 0
    }
}

/// What the drivers, the tasks and the handle share.
struct Shared {
    /// Wake-ups from outside every driver, and new tasks.
    injector: Injector<Task>,
    /// The drivers' local queues, to steal from.
    stealers: Box<[Stealer<Task>]>,
    /// The drivers' wakers, by driver, as each last left it before parking.
    wakers: Box<[Mutex<Option<Waker>>]>,
    /// One bit per parked driver; read without a lock on every wake-up from outside.
    parked: AtomicU64,
    /// Every task not yet done, so that a closing scheduler can drop their futures.
    live: Mutex<Live>,
    /// No more tasks: the system is gone or its runtime is shutting down.
    closed: AtomicBool,
    /// Unique in the process (an address could be reused by the next scheduler).
    id: u64,
    /// Whether a tokio task that sends may run the actor (see `Scheduler::help`).
    helping: bool,
    /// The tokio runtime the drivers run on.
    runtime: tokio::runtime::Id,
}

/// The live tasks, by address (unique among them: the list holds a count of each). A map
/// rather than a slab: its capacity follows the number of live tasks back down, so that ten
/// thousand actors spawned and stopped leave nothing behind.
#[derive(Default)]
struct Live {
    tasks: HashMap<usize, Task>,
    closed: bool,
}

impl Shared {
    /// Queues a woken task: on the local queue of the driver running this thread when it is
    /// one of this scheduler's, on the shared queue otherwise.
    fn schedule(&self, task: Task) {
        let local = CURRENT.try_with(Cell::get).unwrap_or(ptr::null());
        if !local.is_null() {
            // SAFETY: `CURRENT` points at the `Local` of a driver's poll on this thread's
            // stack; the poll resets it before it returns.
            let local = unsafe { &*local };
            if ptr::eq(local.shared, self) {
                // SAFETY: as above; the queue is the driver's, used only on this thread.
                let queue = unsafe { &*local.queue };
                if local.helper && local.woke.replace(true) {
                    // Beyond the one wake-up a helping caller takes per poll.
                    return self.inject(task);
                }
                queue.push(task);
                if queue.len() > 1 && self.parked.load(Ordering::Relaxed) != 0 {
                    self.unpark_one();
                }
                return;
            }
        }
        self.inject(task);
    }

    /// Queues a task on the shared queue and wakes a parked driver for it.
    fn inject(&self, task: Task) {
        self.injector.push(task);
        // Pairs with the fences of `park` and `close`: this sees the parked bit, or the
        // parking driver sees this task; this sees the scheduler closed, or the closer sees
        // this task.
        fence(Ordering::SeqCst);
        if self.parked.load(Ordering::Relaxed) != 0 {
            self.unpark_one();
        }
        if self.closed.load(Ordering::Relaxed) {
            // A wake-up or a spawn that raced the close: no driver will take the task (it
            // is closed, or will be by the closer), and queued it would keep the scheduler.
            self.drain_injector();
        }
    }

    fn drain_injector(&self) {
        while !matches!(self.injector.steal(), Steal::Empty) {}
    }

    /// Wakes one parked driver, if one is.
    fn unpark_one(&self) {
        let mut parked = self.parked.load(Ordering::Relaxed);
        while parked != 0 {
            let bit = parked & parked.wrapping_neg();
            let before = self.parked.fetch_and(!bit, Ordering::AcqRel);
            if before & bit != 0 {
                // The bit was ours to clear: so is the wake-up.
                let driver = bit.trailing_zeros() as usize;
                if let Some(waker) = &*self.wakers[driver].lock() {
                    waker.wake_by_ref();
                }
                return;
            }
            parked = before & !bit;
        }
    }

    fn unpark_all(&self) {
        self.parked.store(0, Ordering::Release);
        for waker in &self.wakers {
            if let Some(waker) = waker.lock().take() {
                waker.wake();
            }
        }
    }

    /// Marks the driver parked; its waker is in `wakers` already.
    fn park(&self, driver: usize) {
        // Sequentially consistent: see `schedule`.
        self.parked.fetch_or(1 << driver, Ordering::SeqCst);
        fence(Ordering::SeqCst);
    }

    /// Takes the driver's parked bit back, if no one took it; `false` if someone did (and
    /// woke it or is about to).
    fn unpark(&self, driver: usize) -> bool {
        let bit = 1 << driver;
        self.parked.load(Ordering::Relaxed) & bit != 0
            && self.parked.fetch_and(!bit, Ordering::AcqRel) & bit != 0
    }

    /// Whether any queue holds a task.
    fn has_work(&self) -> bool {
        !self.injector.is_empty() || self.stealers.iter().any(|s| !s.is_empty())
    }

    /// Lists a new task; `None` when the scheduler is closed.
    fn list<F>(self: &Arc<Self>, future: F) -> Result<Arc<TaskCell<F>>, F>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let mut live = self.live.lock();
        if live.closed {
            return Err(future);
        }
        let task = Arc::new(TaskCell {
            header: Header {
                // Queued by the spawner.
                state: AtomicUsize::new(SCHEDULED | QUEUED),
                shared: self.clone(),
                ops: &TaskCell::<F>::OPS,
            },
            future: UnsafeCell::new(Some(future)),
        });
        live.tasks.insert(Arc::as_ptr(&task).addr(), task.clone());
        Ok(task)
    }

    /// Takes an ended task off the list.
    fn forget(&self, key: usize) {
        let task = {
            let mut live = self.live.lock();
            let task = live.tasks.remove(&key);
            // Shrunk at a quarter full, to half: amortized, and never below a small table.
            if live.tasks.capacity() > 64 && live.tasks.len() < live.tasks.capacity() / 4 {
                let len = live.tasks.len();
                live.tasks.shrink_to(2 * len);
            }
            task
        };
        // Outside the lock: the last count of a task (its future is gone already).
        drop(task);
    }

    /// Closes the scheduler: no new tasks, drivers end, every live task's future dropped
    /// (after its poll, for one a driver polls now).
    fn close(&self) {
        self.closed.store(true, Ordering::Release);
        // Pairs with the fence of `inject`.
        fence(Ordering::SeqCst);
        let tasks = {
            let mut live = self.live.lock();
            live.closed = true;
            std::mem::take(&mut live.tasks)
        };
        self.unpark_all();
        // Outside the lock: a future's drop may end other tasks.
        for task in tasks.into_values() {
            task.close();
        }
        // Queued entries hold their tasks, and each task its scheduler: let go of them. (A
        // task queued from now on is let go by `inject`.)
        self.drain_injector();
    }
}

/// The driver whose poll runs on this thread, so that a wake-up there goes on its queue.
struct Local {
    shared: *const Shared,
    queue: *const Worker<Task>,
    /// A task yielded: the driver lets its worker's other tasks run before it goes on.
    yielded: Cell<bool>,
    /// A caller running what its own send woke (`Scheduler::help`), not a driver: no
    /// sibling can steal from its queue, so it takes one wake-up per poll (a request passed
    /// along a chain), and the drivers take the rest.
    helper: bool,
    /// A helper's poll (or send) has woken a task already.
    woke: Cell<bool>,
}

thread_local! {
    static CURRENT: Cell<*const Local> = const { Cell::new(ptr::null()) };
    /// The queue of a thread that runs the actors its own send woke (see `Scheduler::help`).
    static HELPER: Worker<Task> = Worker::new_fifo();
    /// The scheduler whose driver last ran on this thread, or that found this thread to be
    /// one of its runtime's (its id).
    static HOSTS: Cell<u64> = const { Cell::new(0) };
    /// Helps of senders to full mailboxes on this thread since a sender here last waited
    /// (see `Scheduler::help_receiver`).
    static HELPS: Cell<u32> = const { Cell::new(0) };
}

/// Hands the tasks left on a helper's queue to their schedulers' drivers.
struct Leftovers<'a>(&'a Worker<Task>);

impl Drop for Leftovers<'_> {
    fn drop(&mut self) {
        while let Some(task) = self.0.pop() {
            task.reschedule();
        }
    }
}

/// Restores the thread's previous driver when a poll ends, a panic included.
struct Enter {
    previous: *const Local,
}

impl Drop for Enter {
    fn drop(&mut self) {
        CURRENT.with(|current| current.set(self.previous));
    }
}

fn enter(local: &Local) -> Enter {
    Enter {
        previous: CURRENT.with(|current| current.replace(local)),
    }
}

/// One driver: a tokio task that polls actor tasks.
struct Driver {
    index: usize,
    queue: Worker<Task>,
    shared: Arc<Shared>,
    /// The waker it left in `wakers`, to compare with the next one without the lock.
    waker: Cell<Option<Waker>>,
    /// It returned `Ready`: its scheduler closed.
    ended: Cell<bool>,
    /// Tasks polled since it started, for the turns of the shared queue.
    tick: Cell<u32>,
}

impl Driver {
    /// The next task: its own queue's, or the shared queue's, or a sibling's.
    fn next(&self) -> Option<Task> {
        let tick = self.tick.get().wrapping_add(1);
        self.tick.set(tick);
        if tick.is_multiple_of(GLOBAL_EVERY)
            && let Some(task) = self.take_shared()
        {
            return Some(task);
        }
        self.queue
            .pop()
            .or_else(|| self.take_shared())
            .or_else(|| self.steal())
    }

    /// A task from the shared queue, and up to half of the rest onto the local queue (a
    /// parked sibling is woken to steal from there).
    fn take_shared(&self) -> Option<Task> {
        // Loads only: a steal attempt fences.
        if self.shared.injector.is_empty() {
            return None;
        }
        loop {
            match self.shared.injector.steal_batch_and_pop(&self.queue) {
                Steal::Success(task) => {
                    if !self.queue.is_empty() && self.shared.parked.load(Ordering::Relaxed) != 0 {
                        self.shared.unpark_one();
                    }
                    return Some(task);
                }
                Steal::Empty => return None,
                Steal::Retry => {}
            }
        }
    }

    fn steal(&self) -> Option<Task> {
        let count = self.shared.stealers.len();
        for offset in 1..count {
            let stealer = &self.shared.stealers[(self.index + offset) % count];
            // Loads only: a steal attempt pins an epoch and fences.
            if stealer.is_empty() {
                continue;
            }
            loop {
                match stealer.steal_batch_and_pop(&self.queue) {
                    Steal::Success(task) => return Some(task),
                    Steal::Empty => break,
                    Steal::Retry => {}
                }
            }
        }
        None
    }

    /// Lets go of the tasks on its queue once its scheduler is closed (they are closed too):
    /// each holds the scheduler, which holds the queue.
    fn drain(&self) {
        while self.queue.pop().is_some() {}
    }

    /// Leaves `waker` where a wake-up from outside finds it, unless it is there already.
    fn register(&self, waker: &Waker) {
        let known = self.waker.take();
        match known {
            Some(known) if known.will_wake(waker) => self.waker.set(Some(known)),
            _ => {
                *self.shared.wakers[self.index].lock() = Some(waker.clone());
                self.waker.set(Some(waker.clone()));
            }
        }
    }

    /// Whether the driver has held its worker long enough to yield it: [`TURN`] since it
    /// first reached its budget in this poll (noted in `started`). Asked at each budget's
    /// worth of polls only, so that the clock is read once per hundred-odd polls.
    fn turn_is_over(&self, started: &mut Option<Instant>) -> bool {
        let now = Instant::now();
        let since = *started.get_or_insert(now);
        now.duration_since(since) >= TURN
    }

    fn drive(&self, cx: &mut Context<'_>) -> Poll<()> {
        // Polled while parked (its own yield, or spuriously): not parked any longer.
        self.shared.unpark(self.index);
        let local = Local {
            shared: Arc::as_ptr(&self.shared),
            queue: &self.queue,
            yielded: Cell::new(false),
            helper: false,
            woke: Cell::new(false),
        };
        let _entered = enter(&local);
        HOSTS.set(self.shared.id);
        let mut polled = 0u32;
        // When the driver first reached its budget in this poll.
        let mut started = None;
        loop {
            if self.shared.closed.load(Ordering::Acquire) {
                self.ended.set(true);
                self.drain();
                return Poll::Ready(());
            }
            match self.next() {
                Some(task) => {
                    task.run(&self.queue);
                    polled += 1;
                    // An actor's own yield (it took 1,024 messages in a row) yields the worker
                    // at once; many short polls do once the turn is over.
                    if local.yielded.get()
                        || (polled.is_multiple_of(BUDGET) && self.turn_is_over(&mut started))
                    {
                        // Room for the worker's other tasks; an idle sibling takes the rest.
                        if self.queue.len() > 1 && self.shared.parked.load(Ordering::Relaxed) != 0 {
                            self.shared.unpark_one();
                        }
                        // Polled once, tokio's yield defers this task's wake-up until the
                        // worker has looked at its other tasks.
                        let _ = std::pin::pin!(tokio::task::yield_now()).poll(cx);
                        return Poll::Pending;
                    }
                }
                None => {
                    self.register(cx.waker());
                    self.shared.park(self.index);
                    if self.shared.has_work() || self.shared.closed.load(Ordering::Acquire) {
                        // Whoever took the bit meanwhile wakes this driver once more for
                        // nothing; it looks at the queues then and parks again.
                        self.shared.unpark(self.index);
                        continue;
                    }
                    return Poll::Pending;
                }
            }
        }
    }
}

impl Future for Driver {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.drive(cx)
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if !self.ended.get() {
            // Dropped unfinished: its runtime is shutting down, and no driver will run the
            // tasks again.
            self.shared.close();
            self.drain();
        }
    }
}

/// The scheduler of one system on a tokio runtime; dropping it closes it.
pub(crate) struct Scheduler {
    shared: Arc<Shared>,
}

impl Scheduler {
    /// A scheduler with one driver per worker thread of `handle`'s runtime; `helping`: a tokio
    /// task that sends may run the actor (see [`help`](Scheduler::help) and
    /// [`help_receiver`](Scheduler::help_receiver)).
    pub(crate) fn new(handle: &tokio::runtime::Handle, helping: bool) -> Scheduler {
        // One bit per driver in `parked`.
        let drivers = handle.metrics().num_workers().clamp(1, 64);
        let queues: Vec<Worker<Task>> = (0..drivers).map(|_| Worker::new_fifo()).collect();
        let shared = Arc::new(Shared {
            injector: Injector::new(),
            stealers: queues.iter().map(Worker::stealer).collect(),
            wakers: (0..drivers).map(|_| Mutex::new(None)).collect(),
            parked: AtomicU64::new(0),
            live: Mutex::new(Live::default()),
            closed: AtomicBool::new(false),
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            helping,
            runtime: handle.id(),
        });
        for (index, queue) in queues.into_iter().enumerate() {
            drop(handle.spawn(Driver {
                index,
                queue,
                shared: shared.clone(),
                waker: Cell::new(None),
                ended: Cell::new(false),
                tick: Cell::new(0),
            }));
        }
        Scheduler { shared }
    }

    /// Runs `future` as a task of this scheduler.
    pub(crate) fn spawn<F>(&self, future: F) -> SchedTask
    where
        F: Future<Output = ()> + Send + 'static,
    {
        match self.shared.list(future) {
            Ok(task) => {
                let handle = SchedTask {
                    task: Some(task.clone()),
                };
                self.shared.schedule(task);
                handle
            }
            Err(future) => {
                // Closed: the future is dropped unpolled, as a shut-down runtime does.
                drop(future);
                SchedTask { task: None }
            }
        }
    }

    /// Calls `f` with the driver of this scheduler that runs on this thread now, if one
    /// does. (A closure, so that the reference cannot outlive the driver's poll.)
    fn with_current<R>(&self, f: impl FnOnce(&Local) -> R) -> Option<R> {
        let local = CURRENT.try_with(Cell::get).unwrap_or(ptr::null());
        // SAFETY: see `Shared::schedule`: `CURRENT` points at the `Local` of a driver's poll
        // on this thread's stack, which is still running: this call is inside it.
        let local = unsafe { local.as_ref() }?;
        ptr::eq(local.shared, Arc::as_ptr(&self.shared)).then(|| f(local))
    }

    /// Whether a call from here may run actor tasks on this thread: helping is on, this is a
    /// tokio task on a thread of this scheduler's runtime, and no driver or helper runs here
    /// (whose own queue takes the wake-ups).
    fn may_help(&self) -> bool {
        self.shared.helping
            && tokio::task::try_id().is_some()
            && CURRENT.try_with(|c| c.get().is_null()).unwrap_or(false)
            && (HOSTS.try_with(Cell::get).unwrap_or(0) == self.shared.id || self.adopt_thread())
    }

    /// Whether this thread is one of this scheduler's runtime though none of its drivers has
    /// run here yet (or another scheduler's did since): noted for the next time. A sender
    /// that streams on one worker keeps the driver its messages wake waiting on that worker
    /// too, so that no driver of the scheduler may ever run there.
    #[cold]
    #[inline(never)]
    fn adopt_thread(&self) -> bool {
        let ours = tokio::runtime::Handle::try_current()
            .is_ok_and(|handle| handle.id() == self.shared.runtime);
        if ours {
            let _ = HOSTS.try_with(|hosts| hosts.set(self.shared.id));
        }
        ours
    }

    /// Calls `first` as a helping caller (wake-ups go on this thread's helper queue, the
    /// first of each poll), then runs what it queued there, up to `budget` polls or the
    /// first yield; `None` if the thread's queue is gone (the thread is ending).
    ///
    /// The helper runs, of the tasks each poll wakes, the first (a request passed along a
    /// chain of actors, and the replies back); other wake-ups (an actor telling many), and
    /// whatever is left at the end, go to the drivers.
    fn as_helper<R>(
        &self,
        budget: u32,
        first: impl FnOnce(&Local, &Worker<Task>) -> R,
    ) -> Option<R> {
        HELPER
            .try_with(|queue| {
                let local = Local {
                    shared: Arc::as_ptr(&self.shared),
                    queue,
                    yielded: Cell::new(false),
                    helper: true,
                    woke: Cell::new(false),
                };
                // Whatever is left goes to the drivers, even if something below panicked.
                let _leftovers = Leftovers(queue);
                let _entered = enter(&local);
                let first = first(&local, queue);
                let mut polled = 0;
                while polled < budget && !local.yielded.get() {
                    let Some(task) = queue.pop() else { break };
                    local.woke.set(false);
                    task.run(queue);
                    polled += 1;
                }
                first
            })
            .ok()
    }

    /// Calls `send` (an ask's push), and runs on this thread the task its wake-up made
    /// ready, before the caller waits for the reply. `receiver` calls the claim it is given
    /// with the waker the mailbox keeps of its receiver: a send that woke nothing found the
    /// actor scheduled already (its queue entry left behind by a helping sender, or queued
    /// for a driver), and the caller runs it if no one runs it yet.
    ///
    /// An ask from a tokio task to a parked actor would otherwise wake a parked driver
    /// through tokio and wait for it; here the caller polls the actor itself, and usually
    /// finds its reply at once. Only a tokio task on a thread of this scheduler's runtime
    /// helps (one its drivers ran on, or, checked once, whose current runtime is theirs), so
    /// the actor runs where tokio's timers and I/O are at hand, and never from inside a
    /// driver, where the driver runs it next anyway.
    pub(crate) fn help<R>(
        &self,
        send: impl FnOnce() -> R,
        receiver: impl FnOnce(&Claim<'_>) -> Option<Claimed>,
    ) -> R {
        if !self.may_help() {
            return send();
        }
        let mut send = Some(send);
        let helped = self.as_helper(BUDGET, |local, queue| {
            let sent = send.take().map(|send| send());
            if !local.woke.get()
                && let Some(Claimed(task)) = receiver(&|waker| self.claim(waker))
            {
                task.poll_claimed(queue);
            }
            sent
        });
        match helped {
            Some(Some(sent)) => sent,
            _ => match send {
                // The thread is ending and its queue is gone: a plain send.
                Some(send) => send(),
                None => unreachable!("`send` was called once, or is here"),
            },
        }
    }

    /// Runs on this thread the actor task of a mailbox that a sender found full, if it is a
    /// task of this scheduler's that is scheduled and waits for a driver; says whether it
    /// ran it. `receiver` calls the claim it is given with the waker the mailbox keeps of
    /// its receiver (under the mailbox's lock: nothing is cloned for a task that is not
    /// claimed).
    ///
    /// A tokio task streaming messages to an actor otherwise fills the mailbox, waits, and
    /// hands its worker back to tokio, whose driver runs the actor and hands it back: two
    /// task switches of tokio's, and with them its look for work elsewhere, which at times
    /// wakes the other worker and spreads the two tasks over both threads. Here the sender
    /// polls the actor in its own poll (the actor takes up to its fairness quota of
    /// messages, then yields back), runs up to [`HELP_BUDGET`] of the tasks that poll woke,
    /// and goes on sending. The actor's entry stays in its queue (`QUEUED`): waking it
    /// again queues nothing, and the driver that takes the entry polls it only if it was
    /// woken since. After [`HELPS_IN_A_ROW`] helps on a thread, calls there decline until a
    /// sender there has waited ([`sender_waited`]), so that a sender streaming to a full
    /// mailbox returns its worker to tokio now and then. The conditions of
    /// [`help`](Scheduler::help) apply.
    pub(crate) fn help_receiver(
        &self,
        kind: Helps,
        receiver: impl FnOnce(&Claim<'_>) -> Option<Claimed>,
    ) -> bool {
        if !self.may_help() {
            return false;
        }
        let Ok(helps) = HELPS.try_with(Cell::get) else {
            return false;
        };
        if kind == Helps::Counted && helps >= HELPS_IN_A_ROW {
            return false;
        }
        self.as_helper(HELP_BUDGET, |_, queue| {
            let Some(Claimed(task)) = receiver(&|waker| self.claim(waker)) else {
                return false;
            };
            if kind == Helps::Counted {
                let _ = HELPS.try_with(|count| count.set(helps + 1));
            }
            task.poll_claimed(queue);
            true
        })
        .unwrap_or(false)
    }

    /// Claims the task `waker` wakes to poll it here, if it is a task of this scheduler's
    /// that is scheduled and neither running nor closed; its queued entry stays behind.
    fn claim(&self, waker: &Waker) -> Option<Claimed> {
        if !ptr::eq(waker.vtable(), &WAKER) {
            return None;
        }
        let data = waker.data();
        // SAFETY: a waker of `WAKER` points at a task, which the waker keeps alive.
        let header = unsafe { header(data) };
        if !ptr::eq(Arc::as_ptr(&header.shared), Arc::as_ptr(&self.shared)) || !header.claim() {
            return None;
        }
        // SAFETY: as above; the new count is the claim's.
        Some(Claimed(unsafe { (header.ops.task)(data) }))
    }

    /// How many of its tasks have not ended.
    pub(crate) fn live(&self) -> usize {
        self.shared.live.lock().tasks.len()
    }

    /// Whether a driver of this scheduler runs this thread now with nothing else to run (its
    /// own queue and the shared one are empty; a helping caller never counts as one), and
    /// another worker thread could be sending meanwhile (on a single worker, the sender waits
    /// for this thread).
    pub(crate) fn idle_here(&self) -> bool {
        self.shared.stealers.len() > 1
            && self
                .with_current(|local| {
                    // SAFETY: the queue is the driver's, on this thread's stack (see
                    // `with_current`).
                    !local.helper
                        && unsafe { &*local.queue }.is_empty()
                        && self.shared.injector.is_empty()
                })
                .unwrap_or(false)
    }

    /// Whether this thread runs one of this scheduler's drivers now.
    pub(crate) fn is_current(&self) -> bool {
        self.with_current(|_| ()).is_some()
    }

    /// Has the driver running this thread yield its worker once the task it polls now
    /// returns; `false` when no driver of this scheduler runs here.
    pub(crate) fn yield_worker(&self) -> bool {
        self.with_current(|local| local.yielded.set(true)).is_some()
    }
}

impl Drop for Scheduler {
    fn drop(&mut self) {
        self.shared.close();
    }
}

impl fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scheduler")
            .field("drivers", &self.shared.stealers.len())
            .field("closed", &self.shared.closed.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// Notes that a sender to a full mailbox waits on this thread, returning its worker to
/// tokio: helps may start again (see [`Scheduler::help_receiver`]).
pub(crate) fn sender_waited() {
    let _ = HELPS.try_with(|count| count.set(0));
}

/// Whether a help counts towards [`HELPS_IN_A_ROW`] (see [`Scheduler::help_receiver`]).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Helps {
    /// A sender to a full mailbox, which waits once the helps in a row are spent.
    Counted,
    /// A sender to an unbounded mailbox with a backlog, which never waits: the limit, lifted
    /// only by a wait, would end its helps for good. The backlog limits them instead: a
    /// help takes the actor through up to its fairness quota of messages, and the next comes
    /// only once the backlog has grown back to the mailbox's `UNBOUNDED_HELP_AT`.
    Uncounted,
}

/// A task claimed to be polled by a helping caller (see [`Scheduler::help_receiver`]).
pub(crate) struct Claimed(Task);

/// The claim a helping caller hands the mailbox, to make on the waker it keeps of its
/// receiver.
pub(crate) type Claim<'a> = dyn Fn(&Waker) -> Option<Claimed> + 'a;

/// A task of the scheduler, as a [`TaskHandle`](super::TaskHandle) holds it.
#[derive(Clone)]
pub(crate) struct SchedTask {
    /// `None`: spawned on a closed scheduler, dropped at once.
    task: Option<Task>,
}

impl SchedTask {
    pub(crate) fn abort(&self) {
        if let Some(task) = &self.task {
            task.clone().abort();
        }
    }

    pub(crate) fn is_finished(&self) -> bool {
        self.task.as_ref().is_none_or(|task| task.is_done())
    }
}

impl fmt::Debug for SchedTask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SchedTask")
            .field("finished", &self.is_finished())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::future::poll_fn;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::task::{Poll, Waker};

    use parking_lot::Mutex;
    use tokio::sync::{mpsc, oneshot};

    use super::Scheduler;

    /// Polls until `done` holds: the tasks it waits for run on other threads, and finish
    /// a little after they signal.
    fn wait_until(runtime: &tokio::runtime::Runtime, done: impl Fn() -> bool) {
        runtime.block_on(poll_fn(|cx| {
            if done() {
                Poll::Ready(())
            } else {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        }));
    }

    fn multi_thread() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_time()
            .build()
            .unwrap()
    }

    fn current_thread() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
    }

    /// Sets its flag when dropped.
    struct DropFlag(Arc<AtomicBool>);

    impl Drop for DropFlag {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    /// A future that stays pending and keeps its own waker, as an idle actor keeps its waker
    /// in its own mailbox: only its scheduler can end it.
    fn idle_forever(dropped: Arc<AtomicBool>) -> impl Future<Output = ()> + Send + 'static {
        let own_waker: Arc<Mutex<Option<Waker>>> = Arc::default();
        let flag = DropFlag(dropped);
        poll_fn(move |cx| {
            let _ = &flag;
            *own_waker.lock() = Some(cx.waker().clone());
            Poll::Pending
        })
    }

    #[test]
    fn a_ring_of_tasks_passes_a_token_round_many_times() {
        // Every hand-over wakes the next task from inside a driver; the first lap's wakes
        // come from a plain thread. Thousands of parks and unparks on two drivers.
        const TASKS: usize = if cfg!(miri) { 5 } else { 50 };
        const LAPS: usize = if cfg!(miri) { 20 } else { 400 };
        let runtime = multi_thread();
        let sched = Scheduler::new(runtime.handle(), true);
        let (senders, receivers): (Vec<_>, Vec<_>) = (0..TASKS)
            .map(|_| mpsc::unbounded_channel::<usize>())
            .unzip();
        let (done, finished) = oneshot::channel();
        let mut done = Some(done);
        let mut receivers = receivers.into_iter();
        let last = Arc::new(AtomicUsize::new(0));
        for i in 0..TASKS {
            let mut inbox = receivers.next().unwrap();
            let next = senders[(i + 1) % TASKS].clone();
            let done = if i == TASKS - 1 { done.take() } else { None };
            let last = last.clone();
            sched.spawn(async move {
                let mut done = done;
                while let Some(hops) = inbox.recv().await {
                    last.store(hops, Ordering::Relaxed);
                    if hops == TASKS * LAPS {
                        if let Some(done) = done.take() {
                            done.send(hops).unwrap();
                        }
                        return;
                    }
                    if next.send(hops + 1).is_err() {
                        return;
                    }
                }
            });
        }
        assert_eq!(sched.live(), TASKS);
        let first = senders[0].clone();
        drop(senders);
        std::thread::spawn(move || first.send(1).unwrap())
            .join()
            .unwrap();
        assert_eq!(runtime.block_on(finished).unwrap(), TASKS * LAPS);
        drop(sched);
        drop(runtime);
    }

    #[test]
    fn wakes_from_other_threads_reach_parked_drivers() {
        // Each round wakes a task from a thread outside the runtime, while the drivers park
        // between rounds: a lost wake-up hangs the test.
        const ROUNDS: usize = if cfg!(miri) { 50 } else { 2_000 };
        let runtime = multi_thread();
        let sched = Scheduler::new(runtime.handle(), true);
        let (to_task, mut inbox) = mpsc::unbounded_channel::<usize>();
        let (to_thread, from_task) = std::sync::mpsc::channel::<usize>();
        sched.spawn(async move {
            while let Some(round) = inbox.recv().await {
                to_thread.send(round).unwrap();
            }
        });
        for round in 0..ROUNDS {
            to_task.send(round).unwrap();
            assert_eq!(from_task.recv().unwrap(), round);
        }
        drop(to_task);
        drop(sched);
    }

    #[test]
    fn an_aborted_task_is_dropped_whether_idle_or_running() {
        let runtime = multi_thread();
        let sched = Scheduler::new(runtime.handle(), true);
        let dropped = Arc::new(AtomicBool::new(false));
        let (polled, was_polled) = oneshot::channel::<()>();
        let mut polled = Some(polled);
        let idle = {
            let inner = idle_forever(dropped.clone());
            let mut inner = Box::pin(inner);
            sched.spawn(poll_fn(move |cx| {
                if let Some(polled) = polled.take() {
                    polled.send(()).unwrap();
                }
                inner.as_mut().poll(cx)
            }))
        };
        runtime.block_on(was_polled).unwrap();
        assert!(!idle.is_finished());
        idle.abort();
        // The abort queues the task; a driver drops it.
        wait_until(&runtime, || idle.is_finished());
        assert!(dropped.load(Ordering::SeqCst));
        wait_until(&runtime, || sched.live() == 0);

        // A task that aborts itself while it runs is dropped once its poll returns.
        let dropped = Arc::new(AtomicBool::new(false));
        let handle_slot: Arc<Mutex<Option<super::SchedTask>>> = Arc::default();
        let (ready, go) = oneshot::channel::<()>();
        let flag = DropFlag(dropped.clone());
        let slot = handle_slot.clone();
        let mut go = Some(go);
        let task = sched.spawn(poll_fn(move |cx| {
            let _ = &flag;
            if let Some(go) = go.as_mut()
                && Future::poll(std::pin::Pin::new(go), cx).is_pending()
            {
                return Poll::Pending;
            }
            go = None;
            slot.lock().as_ref().unwrap().abort();
            cx.waker().wake_by_ref();
            Poll::<()>::Pending
        }));
        *handle_slot.lock() = Some(task.clone());
        ready.send(()).unwrap();
        wait_until(&runtime, || task.is_finished());
        assert!(dropped.load(Ordering::SeqCst));
        handle_slot.lock().take();
        drop(sched);
    }

    #[test]
    fn a_panicking_task_ends_alone() {
        let runtime = multi_thread();
        let sched = Scheduler::new(runtime.handle(), true);
        let (tx, rx) = oneshot::channel();
        sched.spawn(async { panic!("a task's own bug") });
        sched.spawn(async move { tx.send(7).unwrap() });
        assert_eq!(runtime.block_on(rx).unwrap(), 7);
        wait_until(&runtime, || sched.live() == 0);
    }

    #[test]
    fn a_dropped_runtime_drops_every_task_even_those_holding_their_own_waker() {
        for flavor in ["multi_thread", "current_thread"] {
            let runtime = match flavor {
                "multi_thread" => multi_thread(),
                _ => current_thread(),
            };
            let sched = Scheduler::new(runtime.handle(), true);
            let tasks = if cfg!(miri) { 5 } else { 100 };
            let flags: Vec<Arc<AtomicBool>> = (0..tasks).map(|_| Arc::default()).collect();
            for flag in &flags {
                sched.spawn(idle_forever(flag.clone()));
            }
            // Let them all run once, so that each holds its own waker.
            runtime.block_on(async {
                for _ in 0..10 {
                    tokio::task::yield_now().await;
                }
            });
            drop(runtime);
            assert!(
                flags.iter().all(|flag| flag.load(Ordering::SeqCst)),
                "{flavor}: a task outlived its runtime"
            );
            assert_eq!(sched.live(), 0, "{flavor}");
            // Closed: a new task is dropped at once.
            let late = Arc::new(AtomicBool::new(false));
            let handle = sched.spawn(idle_forever(late.clone()));
            assert!(
                late.load(Ordering::SeqCst) && handle.is_finished(),
                "{flavor}"
            );
        }
    }

    #[test]
    fn a_task_queued_after_the_close_is_let_go() {
        // A wake-up that raced the close pushes its task after the closer drained the queue:
        // kept there, the task would keep the scheduler alive.
        let runtime = current_thread();
        let sched = Scheduler::new(runtime.handle(), true);
        let shared = Arc::downgrade(&sched.shared);
        let waker_side = sched.shared.clone();
        let Ok(task) = sched.shared.list(async {}) else {
            panic!("the scheduler is open")
        };
        // The last close, the drivers' end, then the racing push.
        drop(sched);
        runtime.block_on(async {
            for _ in 0..3 {
                tokio::task::yield_now().await;
            }
        });
        assert_eq!(runtime.metrics().num_alive_tasks(), 0, "the driver ended");
        waker_side.inject(task);
        drop(waker_side);
        drop(runtime);
        assert!(shared.upgrade().is_none(), "the scheduler leaked");
    }

    #[test]
    fn a_dropped_scheduler_ends_its_drivers_and_tasks() {
        let runtime = current_thread();
        let sched = Scheduler::new(runtime.handle(), true);
        let flag = Arc::new(AtomicBool::new(false));
        sched.spawn(idle_forever(flag.clone()));
        runtime.block_on(tokio::task::yield_now());
        assert_eq!(runtime.metrics().num_alive_tasks(), 1, "one driver");
        drop(sched);
        assert!(flag.load(Ordering::SeqCst));
        runtime.block_on(async {
            for _ in 0..3 {
                tokio::task::yield_now().await;
            }
        });
        assert_eq!(runtime.metrics().num_alive_tasks(), 0, "the driver ended");
    }

    /// A task that counts its polls and leaves its waker where the test finds it, as an
    /// actor's task leaves its waker in its mailbox; it ends once `done` is set.
    struct Probe {
        polls: Arc<AtomicUsize>,
        waker: Arc<Mutex<Option<Waker>>>,
        done: Arc<AtomicBool>,
        /// Wakes itself in its polls.
        wake_self: Arc<AtomicBool>,
    }

    impl Probe {
        fn new() -> Probe {
            Probe {
                polls: Arc::default(),
                waker: Arc::default(),
                done: Arc::default(),
                wake_self: Arc::default(),
            }
        }

        fn future(&self) -> impl Future<Output = ()> + Send + 'static {
            let (polls, waker, done) = (self.polls.clone(), self.waker.clone(), self.done.clone());
            let wake_self = self.wake_self.clone();
            poll_fn(move |cx| {
                polls.fetch_add(1, Ordering::SeqCst);
                if wake_self.load(Ordering::SeqCst) {
                    cx.waker().wake_by_ref();
                }
                *waker.lock() = Some(cx.waker().clone());
                if done.load(Ordering::SeqCst) {
                    Poll::Ready(())
                } else {
                    Poll::Pending
                }
            })
        }

        fn polls(&self) -> usize {
            self.polls.load(Ordering::SeqCst)
        }

        fn waker(&self) -> Option<Waker> {
            self.waker.lock().clone()
        }
    }

    /// Runs the task `probe` left its waker for, as a sender to its mailbox would.
    fn help(sched: &Scheduler, probe: &Probe) -> bool {
        help_with(sched, probe.waker())
    }

    fn help_with(sched: &Scheduler, waker: Option<Waker>) -> bool {
        sched.help_receiver(super::Helps::Counted, |claim| {
            waker.and_then(|waker| claim(&waker))
        })
    }

    /// Runs a task on `sched` and waits until a driver has run it: every task queued before
    /// it has been taken by then.
    async fn run_one(sched: &Scheduler) {
        let (ran, done) = oneshot::channel();
        drop(sched.spawn(async move {
            let _ = ran.send(());
        }));
        done.await.unwrap();
    }

    /// A probe spawned on `sched` and polled once by a driver, idle, its waker left.
    async fn polled_probe(sched: &Scheduler) -> (Probe, super::SchedTask) {
        let probe = Probe::new();
        let task = sched.spawn(probe.future());
        run_one(sched).await;
        (probe, task)
    }

    /// A scheduler that lets callers help, on a current-thread runtime whose thread has run
    /// its driver, and `test` as a tokio task there (only such a task helps).
    fn helping<F, Fut>(test: F)
    where
        F: FnOnce(Arc<Scheduler>) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let runtime = current_thread();
        runtime.block_on(async {
            let sched = Arc::new(Scheduler::new(&tokio::runtime::Handle::current(), true));
            run_one(&sched).await;
            tokio::spawn(test(sched)).await.unwrap();
        });
    }

    #[test]
    fn a_caller_runs_a_scheduled_task_once_and_its_entry_polls_it_only_if_woken_again() {
        helping(|sched| async move {
            let (probe, task) = polled_probe(&sched).await;
            assert_eq!(probe.polls(), 1);
            let waker = probe.waker().unwrap();

            // Woken: queued for the driver, which cannot run while this task does.
            waker.wake_by_ref();
            assert!(help(&sched, &probe));
            assert_eq!(probe.polls(), 2, "the caller polled it");
            assert!(
                !help(&sched, &probe),
                "not scheduled any more: nothing to run"
            );
            // Its entry is still queued: the driver takes it and finds nothing to do.
            run_one(&sched).await;
            assert_eq!(probe.polls(), 2, "a stale entry does not poll an idle task");

            // Helped again, then woken again: the entry left behind is the one that runs it,
            // and no second entry is queued.
            waker.wake_by_ref();
            assert!(help(&sched, &probe));
            assert_eq!(probe.polls(), 3);
            assert_eq!(sched.shared.injector.len(), 1, "the entry left behind");
            waker.wake_by_ref();
            assert_eq!(sched.shared.injector.len(), 1, "no second entry");
            run_one(&sched).await;
            assert_eq!(probe.polls(), 4, "the entry left behind polled it");
            run_one(&sched).await;
            assert_eq!(probe.polls(), 4, "it had one entry, not two");

            probe.done.store(true, Ordering::SeqCst);
            waker.wake_by_ref();
            run_one(&sched).await;
            assert!(task.is_finished());
        });
    }

    #[test]
    fn a_task_aborted_while_a_stale_entry_of_it_is_queued_is_dropped() {
        helping(|sched| async move {
            let dropped = Arc::new(AtomicBool::new(false));
            let probe = Probe::new();
            let flag = DropFlag(dropped.clone());
            let future = probe.future();
            let task = sched.spawn(async move {
                let _flag = flag;
                future.await;
            });
            run_one(&sched).await;
            probe.waker().unwrap().wake_by_ref();
            assert!(help(&sched, &probe));
            // Idle, its entry queued: the abort leaves the drop to whoever takes the entry.
            task.abort();
            run_one(&sched).await;
            assert!(task.is_finished());
            assert!(dropped.load(Ordering::SeqCst));
        });
    }

    #[test]
    fn a_caller_runs_only_a_scheduled_task_of_its_own_scheduler() {
        helping(|sched| async move {
            let (probe, _task) = polled_probe(&sched).await;
            // Not scheduled: idle, waiting for its waker.
            assert!(!help(&sched, &probe));
            // No waker, or one that is not a task's.
            assert!(!help_with(&sched, None));
            assert!(!help_with(&sched, Some(Waker::noop().clone())));
            // A task of another scheduler on this runtime.
            let other = Scheduler::new(&tokio::runtime::Handle::current(), true);
            let stranger = Probe::new();
            let _stranger_task = other.spawn(stranger.future());
            run_one(&other).await;
            stranger.waker().unwrap().wake_by_ref();
            assert!(!help(&sched, &stranger));
            assert_eq!(probe.polls(), 1);
            run_one(&other).await;
            assert_eq!(stranger.polls(), 2, "its own driver ran it");
        });
    }

    #[test]
    fn callers_on_a_thread_help_a_few_times_then_decline_until_a_sender_there_waited() {
        helping(|sched| async move {
            let (probe, _task) = polled_probe(&sched).await;
            let waker = probe.waker().unwrap();
            for _ in 0..super::HELPS_IN_A_ROW {
                waker.wake_by_ref();
                assert!(help(&sched, &probe));
            }
            waker.wake_by_ref();
            for _ in 0..3 {
                assert!(
                    !help(&sched, &probe),
                    "declined until a sender waits, returning its worker to tokio"
                );
            }
            super::sender_waited();
            assert!(help(&sched, &probe), "and then helps again");
        });
    }

    #[test]
    fn a_task_woken_during_its_helped_poll_is_polled_once_more_by_its_entry() {
        helping(|sched| async move {
            let (probe, _task) = polled_probe(&sched).await;
            let waker = probe.waker().unwrap();
            waker.wake_by_ref();
            // Woken while the caller polls it: scheduled again, its entry still queued.
            probe.wake_self.store(true, Ordering::SeqCst);
            assert!(help(&sched, &probe));
            probe.wake_self.store(false, Ordering::SeqCst);
            assert_eq!(probe.polls(), 2);
            assert_eq!(
                sched.shared.injector.len(),
                1,
                "its one entry, not requeued"
            );
            run_one(&sched).await;
            assert_eq!(probe.polls(), 3, "the entry polled it");
            run_one(&sched).await;
            assert_eq!(probe.polls(), 3);
        });
    }

    #[test]
    fn a_task_that_ends_in_its_helped_poll_is_let_go_when_its_entry_is_taken() {
        helping(|sched| async move {
            let (probe, handle) = polled_probe(&sched).await;
            let waker = probe.waker.lock().take().unwrap();
            waker.wake_by_ref();
            probe.done.store(true, Ordering::SeqCst);
            assert!(
                help_with(&sched, Some(waker)),
                "the waker's count is let go too"
            );
            assert!(handle.is_finished(), "it ended in the caller's poll");
            assert_eq!(sched.live(), 0, "off the list of live tasks");
            // The waker its last poll left.
            drop(probe.waker.lock().take());
            let task = handle.task.as_ref().unwrap();
            assert_eq!(
                Arc::strong_count(task),
                2,
                "the handle's count and its entry's"
            );
            run_one(&sched).await;
            assert_eq!(Arc::strong_count(task), 1, "the entry's count let go");
        });
    }

    #[test]
    fn only_a_tokio_task_outside_the_drivers_helps() {
        let runtime = current_thread();
        let sched = Arc::new(Scheduler::new(runtime.handle(), true));
        let probe = Probe::new();
        let _task = sched.spawn(probe.future());
        runtime.block_on(run_one(&sched));
        probe.waker().unwrap().wake_by_ref();
        // `block_on`'s future is no tokio task.
        assert!(!runtime.block_on(async { help(&sched, &probe) }));
        // A scheduler that does not let callers help.
        let off = Scheduler::new(runtime.handle(), false);
        let quiet = Probe::new();
        let _quiet_task = off.spawn(quiet.future());
        runtime.block_on(run_one(&off));
        quiet.waker().unwrap().wake_by_ref();
        let helped = runtime.block_on(async {
            let off = Arc::new(off);
            let waker = quiet.waker();
            let inner = off.clone();
            tokio::spawn(async move { help_with(&inner, waker) })
                .await
                .unwrap()
        });
        assert!(!helped);
    }

    #[test]
    fn a_thread_of_the_runtime_helps_before_any_driver_ran_there_and_another_runtimes_never() {
        helping(|sched| async move {
            let (probe, _task) = polled_probe(&sched).await;
            // As on a worker thread where no driver of the scheduler has run yet.
            super::HOSTS.set(0);
            probe.waker().unwrap().wake_by_ref();
            assert!(help(&sched, &probe), "a thread of the runtime");
            assert_eq!(
                super::HOSTS.get(),
                sched.shared.id,
                "noted for the next time"
            );

            // A tokio task of another runtime, on its own thread.
            probe.waker().unwrap().wake_by_ref();
            let waker = probe.waker();
            let inner = sched.clone();
            let helped = std::thread::spawn(move || {
                current_thread().block_on(async move {
                    tokio::spawn(async move { help_with(&inner, waker) })
                        .await
                        .unwrap()
                })
            })
            .join()
            .unwrap();
            assert!(!helped, "another runtime's thread never runs the actor");
            run_one(&sched).await;
            assert_eq!(probe.polls(), 3, "its own driver ran it");
        });
    }

    #[test]
    fn tasks_that_keep_a_driver_busy_still_let_the_workers_other_tasks_run() {
        let runtime = current_thread();
        runtime.block_on(async {
            let sched = Scheduler::new(&tokio::runtime::Handle::current(), true);
            let stop = Arc::new(AtomicBool::new(false));
            // Wakes itself at every poll: its driver always has a task to run.
            let spinning = stop.clone();
            let busy = sched.spawn(poll_fn(move |cx| {
                if spinning.load(Ordering::SeqCst) {
                    Poll::Ready(())
                } else {
                    cx.waker().wake_by_ref();
                    Poll::Pending
                }
            }));
            // A tokio task on the one worker gets its turn, and so does this future.
            tokio::spawn(async {}).await.unwrap();
            stop.store(true, Ordering::SeqCst);
            poll_fn(|cx| {
                if busy.is_finished() {
                    Poll::Ready(())
                } else {
                    cx.waker().wake_by_ref();
                    Poll::Pending
                }
            })
            .await;
        });
    }
}
