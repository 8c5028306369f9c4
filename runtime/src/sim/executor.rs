//! The simulation's executor: one thread polls every task, the seed picks which ready task
//! goes next, and the clock jumps to the next timer when none is ready.

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::task::{Context, Poll, Wake, Waker};

use parking_lot::Mutex;

use super::SimError;
use super::check::{Eventually, Invariant, first_broken};
use super::clock::{SimSleep, Timers};
use super::net::Net;
use super::trace::{Trace, TraceEvent, TraceKind};
use super::world::NodeEntry;
use crate::system::Instant;

type BoxFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Trace events a broken invariant reports, the last ones before it broke.
const RECENT_EVENTS: usize = 16;

/// The seam's `Rt::Sim`: a handle on one simulation's executor and clock, as seen from one
/// node (its tasks are that node's, its clock has that node's skew).
#[derive(Clone)]
pub(crate) struct SimRt {
    pub(super) core: Arc<Core>,
    pub(super) node: Arc<NodeClock>,
}

/// A node's number and how far its clock is off the simulation's.
#[derive(Debug)]
pub(crate) struct NodeClock {
    pub(super) id: u32,
    skew: AtomicI64,
}

impl NodeClock {
    pub(super) fn new(id: u32) -> NodeClock {
        NodeClock {
            id,
            skew: AtomicI64::new(0),
        }
    }

    pub(super) fn set_skew(&self, nanos: i64) {
        self.skew.store(nanos, Ordering::Relaxed);
    }

    fn skew(&self) -> i64 {
        self.skew.load(Ordering::Relaxed)
    }
}

/// The node of the scenario's own system: outside the network, so that test code reaches
/// every node directly.
pub(crate) const MAIN_NODE: u32 = 1;

/// Whether a node's tasks run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NodeStatus {
    Up,
    Paused,
    Crashed,
}

/// What the executor, the wakers and the sleeps share. Wakes may come from any thread (a
/// tokio `oneshot` completed elsewhere), so everything is behind a lock; the simulation
/// itself polls on one thread, so the lock is never contended in a well-formed run.
pub(crate) struct Core {
    seed: u64,
    fifo: bool,
    /// Virtual nanoseconds since the start; only the executor moves it.
    clock: AtomicU64,
    sched: Mutex<Sched>,
    /// The network between nodes.
    pub(super) net: Mutex<Net>,
    /// The run's future waits for an "eventually" check (see `Sched::settle`): only then does
    /// a step look for it.
    settling: AtomicBool,
    /// Invariants are checked after every this many steps.
    pub(super) check_every: std::sync::atomic::AtomicU32,
    /// The nodes made with [`World::node`](super::World::node), by node number from 2.
    pub(super) nodes: Mutex<Vec<NodeEntry>>,
}

struct Sched {
    ready: VecDeque<Arc<Task>>,
    /// Tasks not finished, by id: ordered, so that the end of a run drops them in a fixed
    /// order.
    live: BTreeMap<u64, Arc<Task>>,
    timers: Timers,
    trace: Trace,
    next_task: u64,
    /// `SplitMix64` state for the choice among ready tasks.
    rng: u64,
    /// The task being polled, recorded as the parent of what it spawns.
    current: u64,
    /// Set at the end of a run: new tasks are dropped, wakes ignored.
    closed: bool,
    /// Each node's status, by node number (0: tasks of no node, always up).
    nodes: Vec<NodeStatus>,
    /// Ready tasks of paused nodes, queued again when their node resumes.
    parked: Vec<Arc<Task>>,
    /// The run's future waits for an "eventually" check: woken after every step.
    settle: Option<Waker>,
}

/// One spawned task. The `Arc<Task>` is also its waker.
pub(crate) struct Task {
    id: u64,
    /// The node the task runs on.
    node: u32,
    /// Part of an actor (its loop, its timers): a crash of its node drops it. The runtime's
    /// own tasks (ask deadlines, event pumps) survive a crash, as an operating system would.
    crashable: bool,
    core: Arc<Core>,
    /// `None` once finished (and always for the run's own future, which is polled in place).
    future: Mutex<Option<BoxFuture>>,
    queued: AtomicBool,
    aborted: AtomicBool,
    finished: AtomicBool,
}

thread_local! {
    /// The simulation running on this thread: refuses a nested run, and lets
    /// `System::builder().build()` inside a run join it.
    static CURRENT: RefCell<Option<SimRt>> = const { RefCell::new(None) };
    /// The node of the task being polled on this thread (0 outside a simulation).
    static CURRENT_NODE: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Runs `f` with the simulation running on this thread, if any, without cloning its handle.
pub(crate) fn with_current<R>(f: impl FnOnce(&SimRt) -> R) -> Option<R> {
    CURRENT.with(|c| c.borrow().as_ref().map(f))
}

/// The node whose task is running on this thread; 0 outside a simulation.
pub(crate) fn current_node() -> u32 {
    CURRENT_NODE.with(std::cell::Cell::get)
}

/// The simulation running on this thread, if any, as seen from the node whose task is
/// running: a system built there joins that node.
pub(crate) fn current() -> Option<SimRt> {
    let rt = CURRENT.with(|c| c.borrow().clone())?;
    let node = current_node();
    if node <= MAIN_NODE {
        return Some(rt);
    }
    let on_node = rt
        .core
        .nodes
        .lock()
        .iter()
        .find(|entry| entry.node_id() == node)
        .map(NodeEntry::rt);
    Some(on_node.unwrap_or(rt))
}

fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Core {
    pub(super) fn now_nanos(&self) -> u64 {
        self.clock.load(Ordering::Acquire)
    }

    pub(super) fn with_timers<R>(&self, f: impl FnOnce(&mut Timers) -> R) -> R {
        f(&mut self.sched.lock().timers)
    }

    fn record(&self, sched: &mut Sched, kind: TraceKind, id: u64, parent: u64) {
        sched.trace.push(TraceEvent::task(
            Instant::from_nanos(self.now_nanos()),
            kind,
            id,
            parent,
        ));
    }

    /// Records an event built by the caller (a message, a node's fault).
    pub(super) fn record_event(&self, event: TraceEvent) {
        self.sched.lock().trace.push(event);
    }

    pub(super) fn seed(&self) -> u64 {
        self.seed
    }
}

impl SimRt {
    /// A fresh executor at virtual time zero.
    pub(crate) fn new(seed: u64, fifo: bool) -> SimRt {
        let mut trace = Trace::new(seed);
        trace.add_node(Arc::from("main"));
        SimRt {
            node: Arc::new(NodeClock::new(MAIN_NODE)),
            core: Arc::new(Core {
                seed,
                fifo,
                clock: AtomicU64::new(0),
                net: Mutex::new(Net::new(seed)),
                check_every: std::sync::atomic::AtomicU32::new(1),
                settling: AtomicBool::new(false),
                nodes: Mutex::new(Vec::new()),
                sched: Mutex::new(Sched {
                    ready: VecDeque::new(),
                    live: BTreeMap::new(),
                    timers: Timers::default(),
                    trace,
                    next_task: 1,
                    // Apart from the system's own generator, so that drawing random numbers in
                    // user code does not shift the schedule.
                    rng: seed ^ 0x5ced_u64.rotate_left(48),
                    current: 0,
                    closed: false,
                    nodes: vec![NodeStatus::Up, NodeStatus::Up],
                    parked: Vec::new(),
                    settle: None,
                }),
            }),
        }
    }

    /// The same executor seen from a new node named `name`: its number, and the seam for
    /// that node's system.
    pub(crate) fn add_node(&self, name: Arc<str>) -> SimRt {
        let mut sched = self.core.sched.lock();
        // Node numbers are small: a simulation has a handful of nodes.
        #[allow(clippy::cast_possible_truncation)]
        let id = sched.nodes.len() as u32;
        sched.nodes.push(NodeStatus::Up);
        sched.trace.add_node(name);
        SimRt {
            core: self.core.clone(),
            node: Arc::new(NodeClock::new(id)),
        }
    }

    /// This seam's node.
    pub(crate) fn node_id(&self) -> u32 {
        self.node.id
    }

    pub(super) fn node_clock(&self) -> &NodeClock {
        &self.node
    }

    /// How far node `node`'s clock is ahead of the simulation's (negative: behind).
    pub(super) fn skew_of(&self, node: u32) -> i64 {
        if node == self.node.id {
            return self.node.skew();
        }
        self.core
            .nodes
            .lock()
            .iter()
            .find(|entry| entry.node_id() == node)
            .map_or(0, |entry| entry.rt().node.skew())
    }

    pub(super) fn node_status(&self, node: u32) -> NodeStatus {
        self.core.sched.lock().nodes[node as usize]
    }

    /// Pauses or resumes a node: a paused node's ready tasks wait aside.
    pub(super) fn set_paused(&self, node: u32, paused: bool) {
        let mut sched = self.core.sched.lock();
        let slot = &mut sched.nodes[node as usize];
        if *slot == NodeStatus::Crashed {
            return;
        }
        *slot = if paused {
            NodeStatus::Paused
        } else {
            NodeStatus::Up
        };
        if !paused {
            let parked = std::mem::take(&mut sched.parked);
            let (back, still): (Vec<_>, Vec<_>) = parked.into_iter().partition(|t| t.node == node);
            sched.parked = still;
            sched.ready.extend(back);
        }
    }

    /// Crashes a node: marks it down and takes its actors' tasks out of the run, for the
    /// caller to drop (outside every lock: dropping them runs the runtime's clean-up).
    pub(super) fn crash_tasks(&self, node: u32) -> Vec<Arc<Task>> {
        let mut sched = self.core.sched.lock();
        sched.nodes[node as usize] = NodeStatus::Crashed;
        let doomed: Vec<u64> = sched
            .live
            .values()
            .filter(|t| t.node == node && t.crashable)
            .map(|t| t.id)
            .collect();
        let mut tasks = Vec::with_capacity(doomed.len());
        for id in doomed {
            if let Some(task) = sched.live.remove(&id) {
                task.finished.store(true, Ordering::Release);
                tasks.push(task);
            }
        }
        // The runtime's own tasks of the node that waited aside run on.
        let parked = std::mem::take(&mut sched.parked);
        for task in parked {
            if task.node == node {
                if !task.finished.load(Ordering::Acquire) {
                    sched.ready.push_back(task);
                }
            } else {
                sched.parked.push(task);
            }
        }
        tasks
    }

    /// A crashed node comes back up.
    pub(super) fn set_up(&self, node: u32) {
        self.core.sched.lock().nodes[node as usize] = NodeStatus::Up;
    }

    pub(crate) fn seed(&self) -> u64 {
        self.core.seed
    }

    /// The time on this node's clock: the simulation's, plus the node's skew.
    pub(crate) fn now(&self) -> Instant {
        Instant::from_nanos(
            self.core
                .now_nanos()
                .saturating_add_signed(self.node.skew()),
        )
    }

    /// The simulation's own time, without any node's skew.
    pub(super) fn true_now(&self) -> Instant {
        Instant::from_nanos(self.core.now_nanos())
    }

    /// A sleep until `deadline` on this node's clock.
    pub(crate) fn sleep_until(&self, deadline: Instant) -> SimSleep {
        let at = deadline.as_nanos().saturating_add_signed(-self.node.skew());
        SimSleep::new(self.core.clone(), at)
    }

    /// A sleep until `at` on the simulation's own clock.
    pub(super) fn sleep_until_true(&self, at: Instant) -> SimSleep {
        SimSleep::new(self.core.clone(), at.as_nanos())
    }

    /// Queues `future` as a new task of the runtime on this node.
    pub(crate) fn spawn<F>(&self, future: F) -> Arc<Task>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.spawn_task(future, false)
    }

    /// Queues `future` as a new task of an actor on this node: a crash of the node drops it.
    pub(crate) fn spawn_actor<F>(&self, future: F) -> Arc<Task>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.spawn_task(future, true)
    }

    fn spawn_task<F>(&self, future: F, crashable: bool) -> Arc<Task>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        // Tokio's cooperative budget would starve every task after 128 operations if a run
        // happens inside a tokio task; the simulation schedules by its own rules.
        let future: BoxFuture = Box::pin(tokio::task::coop::unconstrained(future));
        let mut sched = self.core.sched.lock();
        let id = sched.next_task;
        sched.next_task += 1;
        let node = self.node.id;
        // An actor of a crashed node does not start: the machine is down.
        let closed =
            sched.closed || (crashable && sched.nodes[node as usize] == NodeStatus::Crashed);
        let task = Arc::new(Task {
            id,
            node,
            crashable,
            core: self.core.clone(),
            future: Mutex::new(None),
            queued: AtomicBool::new(!closed),
            aborted: AtomicBool::new(false),
            finished: AtomicBool::new(closed),
        });
        if closed {
            drop(sched);
            drop(future);
            return task;
        }
        *task.future.lock() = Some(future);
        let parent = sched.current;
        self.core.record(&mut sched, TraceKind::Spawn, id, parent);
        sched.live.insert(id, task.clone());
        sched.ready.push_back(task.clone());
        task
    }

    /// How many actor tasks of this node have not ended.
    pub(crate) fn live_actor_tasks(&self) -> usize {
        let node = self.node.id;
        let sched = self.core.sched.lock();
        sched
            .live
            .values()
            .filter(|task| task.crashable && task.node == node)
            .count()
    }

    /// The trace so far, leaving an empty one.
    pub(crate) fn take_trace(&self) -> Trace {
        std::mem::take(&mut self.core.sched.lock().trace)
    }

    /// Polls `future` and every task until `future` completes, moving virtual time over idle
    /// periods. At the end every task left is dropped.
    pub(crate) fn block_on<F: Future>(
        &self,
        future: F,
        invariants: &[Invariant],
    ) -> Result<F::Output, SimError> {
        if CURRENT.with(|c| c.borrow().is_some()) {
            return Err(SimError::Nested);
        }
        let _running = Running::enter(self.clone());
        let main = Arc::new(Task {
            id: 0,
            node: MAIN_NODE,
            crashable: false,
            core: self.core.clone(),
            future: Mutex::new(None),
            queued: AtomicBool::new(true),
            aborted: AtomicBool::new(false),
            finished: AtomicBool::new(false),
        });
        self.core.sched.lock().ready.push_back(main.clone());
        let main_waker = Waker::from(main.clone());
        let mut future = pin!(tokio::task::coop::unconstrained(future));
        let every = u64::from(self.core.check_every.load(Ordering::Relaxed).max(1));
        let mut steps = 0u64;
        loop {
            let Some(task) = self.next_ready() else {
                if self.advance() {
                    continue;
                }
                let sched = self.core.sched.lock();
                return Err(SimError::Stalled {
                    at: self.now(),
                    tasks: sched.live.len(),
                    seed: self.core.seed,
                });
            };
            if Arc::ptr_eq(&task, &main) {
                let mut cx = Context::from_waker(&main_waker);
                if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
                    main.finished.store(true, Ordering::Release);
                    let mut sched = self.core.sched.lock();
                    self.core.record(&mut sched, TraceKind::Complete, 0, 0);
                    drop(sched);
                    self.check(invariants)?;
                    return Ok(output);
                }
            } else {
                self.poll_task(&task);
                // A step happened: a waiting "eventually" check looks again.
                if self.core.settling.load(Ordering::Relaxed) {
                    let settle = self.core.sched.lock().settle.take();
                    if let Some(waker) = settle {
                        waker.wake();
                    }
                }
            }
            steps += 1;
            if steps.is_multiple_of(every) {
                self.check(invariants)?;
            }
        }
    }

    /// Evaluates the invariants after a step; the first broken one ends the run.
    fn check(&self, invariants: &[Invariant]) -> Result<(), SimError> {
        let Some(broken) = first_broken(invariants) else {
            return Ok(());
        };
        Err(SimError::Invariant {
            check: broken.name.clone(),
            at: self.now(),
            seed: self.core.seed,
            recent: self.recent(),
            command: super::repeat_command(self.core.seed).into(),
        })
    }

    /// The last trace events, for an error.
    fn recent(&self) -> Vec<TraceEvent> {
        let sched = self.core.sched.lock();
        let events = sched.trace.events();
        events[events.len().saturating_sub(RECENT_EVENTS)..].to_vec()
    }

    /// Waits, on virtual time and looking after every step, until each check holds or its
    /// time is up.
    pub(crate) async fn settle(&self, checks: &[Eventually]) -> Result<(), SimError> {
        for check in checks {
            let deadline = self.true_now() + check.within;
            let mut timeout = pin!(self.sleep_until_true(deadline));
            let held = std::future::poll_fn(|cx| {
                if (check.holds)() {
                    return Poll::Ready(true);
                }
                if timeout.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(false);
                }
                self.core.settling.store(true, Ordering::Relaxed);
                self.core.sched.lock().settle = Some(cx.waker().clone());
                Poll::Pending
            })
            .await;
            self.core.settling.store(false, Ordering::Relaxed);
            if !held {
                return Err(SimError::Liveness {
                    check: check.name.clone(),
                    at: self.true_now(),
                    seed: self.core.seed,
                    recent: self.recent(),
                    command: super::repeat_command(self.core.seed).into(),
                });
            }
        }
        Ok(())
    }

    /// Takes the next task to poll and records the poll.
    fn next_ready(&self) -> Option<Arc<Task>> {
        let mut sched = self.core.sched.lock();
        let task = loop {
            let len = sched.ready.len();
            let task = if self.core.fifo || len <= 1 {
                sched.ready.pop_front()?
            } else {
                let pick = splitmix(&mut sched.rng) % len as u64;
                // `pick < len`, which fits a `usize`.
                #[allow(clippy::cast_possible_truncation)]
                sched.ready.swap_remove_back(pick as usize)?
            };
            if sched.nodes[task.node as usize] == NodeStatus::Paused {
                // Still marked queued: a wake meanwhile does not queue it twice.
                sched.parked.push(task);
                continue;
            }
            break task;
        };
        // Cleared before the poll, so a wake during the poll queues the task again.
        task.queued.store(false, Ordering::Release);
        sched.current = task.id;
        CURRENT_NODE.with(|c| c.set(task.node));
        let kind = if task.aborted.load(Ordering::Acquire) {
            TraceKind::Abort
        } else {
            TraceKind::Poll
        };
        self.core.record(&mut sched, kind, task.id, 0);
        Some(task)
    }

    fn poll_task(&self, task: &Arc<Task>) {
        let mut slot = task.future.lock();
        let Some(future) = slot.as_mut() else {
            return;
        };
        let end = if task.aborted.load(Ordering::Acquire) {
            None
        } else {
            let waker = Waker::from(task.clone());
            let mut cx = Context::from_waker(&waker);
            match catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(&mut cx))) {
                Ok(Poll::Pending) if !task.finished.load(Ordering::Acquire) => return,
                // Its node crashed during the poll.
                Ok(Poll::Pending) => None,
                Ok(Poll::Ready(())) => Some(TraceKind::Complete),
                // The panic hook has reported it; like tokio, the task just ends.
                Err(_payload) => Some(TraceKind::Panic),
            }
        };
        let future = slot.take();
        task.finished.store(true, Ordering::Release);
        drop(slot);
        // Dropped outside every lock: dropping may wake or spawn tasks.
        drop(future);
        let mut sched = self.core.sched.lock();
        sched.live.remove(&task.id);
        if let Some(kind) = end {
            self.core.record(&mut sched, kind, task.id, 0);
        }
    }

    /// Nothing is ready: moves the clock to the next timer and wakes what is due. `false`
    /// when no timer is set.
    fn advance(&self) -> bool {
        let mut due = Vec::new();
        {
            let mut sched = self.core.sched.lock();
            let Some(at) = sched.timers.next_deadline() else {
                return false;
            };
            self.core.clock.fetch_max(at, Ordering::AcqRel);
            sched.timers.fire(at, &mut due);
            for &(id, _) in &due {
                self.core.record(&mut sched, TraceKind::TimerFire, id, 0);
            }
        }
        for (_, waker) in due {
            waker.wake();
        }
        true
    }

    /// Drops every task and timer left, repeating while dropping them wakes or spawns more,
    /// and closes the executor to new tasks. Breaks the cycle tasks → system → executor.
    fn teardown(&self) {
        self.core.sched.lock().closed = true;
        loop {
            let (live, ready, timers) = {
                let mut sched = self.core.sched.lock();
                (
                    std::mem::take(&mut sched.live),
                    std::mem::take(&mut sched.ready),
                    sched.timers.take(),
                )
            };
            let parked = sched_parked(&self.core);
            if live.is_empty() && ready.is_empty() && timers.is_empty() && parked.is_empty() {
                break;
            }
            for task in live.values() {
                task.finished.store(true, Ordering::Release);
                let future = task.future.lock().take();
                drop(future);
            }
            drop((live, ready, timers, parked));
        }
    }
}

/// Marks this thread as running a simulation; at the end (or on a panic) tears the executor
/// down and clears the mark.
/// The run on this thread: the current simulation, and the id block to give back after.
struct Running(SimRt, (u64, u64));

impl Running {
    fn enter(rt: SimRt) -> Running {
        CURRENT.with(|c| *c.borrow_mut() = Some(rt.clone()));
        // Message ids from the simulation's own space, from its start: the same in every
        // run of a seed.
        Running(rt, crate::message::enter_simulated_ids())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let seed = self.0.core.seed;
            eprintln!(
                "snowglobe: the simulation panicked at {} (seed {seed}); reproduce with SNOWGLOBE_SEED={seed}",
                self.0.now()
            );
        }
        CURRENT.with(|c| *c.borrow_mut() = None);
        CURRENT_NODE.with(|c| c.set(0));
        self.0.teardown();
        // The nodes' systems hold the executor: let them go.
        let nodes = std::mem::take(&mut *self.0.core.nodes.lock());
        drop(nodes);
        // What the network held (replies kept so that their askers time out, messages on their
        // way) goes now.
        let leftovers = self.0.core.net.lock().take_leftovers();
        drop(leftovers);
        crate::message::leave_simulated_ids(self.1);
    }
}

fn sched_parked(core: &Core) -> Vec<Arc<Task>> {
    std::mem::take(&mut core.sched.lock().parked)
}

impl Wake for Task {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if self.finished.load(Ordering::Acquire) || self.queued.swap(true, Ordering::AcqRel) {
            return;
        }
        let mut sched = self.core.sched.lock();
        if !sched.closed {
            sched.ready.push_back(self.clone());
        }
    }
}

impl Task {
    /// Drops the task's future now (its node crashed). Call outside every lock of the
    /// executor: dropping runs the runtime's clean-up, which may spawn.
    pub(super) fn drop_future(&self) {
        self.finished.store(true, Ordering::Release);
        // The task being polled (a handler that crashed its own node) holds its future's
        // lock: `poll_task` drops the future once the poll returns.
        let Some(mut slot) = self.future.try_lock() else {
            return;
        };
        let future = slot.take();
        drop(slot);
        drop(future);
    }

    /// Drops the task's future at its next turn.
    pub(crate) fn abort(self: &Arc<Self>) {
        if !self.aborted.swap(true, Ordering::AcqRel) {
            self.wake_by_ref();
        }
    }

    pub(crate) fn is_finished(&self) -> bool {
        self.finished.load(Ordering::Acquire)
    }
}

/// The seam's `yield_now` under simulation: one turn back to the scheduler.
pub(crate) struct YieldNow {
    yielded: bool,
}

impl YieldNow {
    pub(crate) fn new() -> YieldNow {
        YieldNow { yielded: false }
    }
}

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

impl fmt::Debug for SimRt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimRt")
            .field("seed", &self.core.seed)
            .field("node", &self.node.id)
            .field("fifo", &self.core.fifo)
            .field("now", &self.now())
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Task")
            .field("id", &self.id)
            .field("finished", &self.is_finished())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::future::{Future, poll_fn};
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::{Arc, Mutex};
    use std::task::Poll;
    use std::time::Duration;

    use super::SimRt;
    use crate::sim::TraceKind;
    use crate::system::Instant;

    #[test]
    fn a_wake_from_another_thread_queues_the_task() {
        let rt = SimRt::new(1, false);
        let (tx, mut rx) = tokio::sync::oneshot::channel::<u32>();
        let mut tx = Some(tx);
        let got = rt
            .block_on(
                poll_fn(move |cx| {
                    if let Poll::Ready(v) = std::pin::Pin::new(&mut rx).poll(cx) {
                        return Poll::Ready(v);
                    }
                    // Sent from a real thread while this task is being polled: the wake comes
                    // from that thread and must queue the task under the lock.
                    if let Some(tx) = tx.take() {
                        std::thread::spawn(move || tx.send(7))
                            .join()
                            .map_err(|_| ())
                            .and_then(|r| r.map_err(|_| ()))
                            .unwrap();
                    }
                    Poll::Pending
                }),
                &[],
            )
            .unwrap();
        assert_eq!(got, Ok(7));
    }

    #[test]
    fn a_panicking_task_ends_alone_and_aborted_tasks_never_run_again() {
        let rt = SimRt::new(2, true);
        let polls = Arc::new(AtomicU32::new(0));
        let inner = rt.clone();
        let counted = polls.clone();
        rt.block_on(
            async move {
                let _ = inner.spawn(async { panic!("planned panic in a simulated task") });
                let looping = inner.spawn(async move {
                    loop {
                        counted.fetch_add(1, Ordering::SeqCst);
                        super::YieldNow::new().await;
                    }
                });
                super::YieldNow::new().await;
                super::YieldNow::new().await;
                looping.abort();
                inner.sleep_until(Instant::from_nanos(1_000)).await;
                assert!(looping.is_finished());
            },
            &[],
        )
        .unwrap();
        let after = polls.load(Ordering::SeqCst);
        assert!(after >= 1);
        let kinds: Vec<_> = rt.take_trace().events().iter().map(|e| e.kind).collect();
        assert!(kinds.contains(&TraceKind::Panic));
        assert!(kinds.contains(&TraceKind::Abort));
        assert_eq!(polls.load(Ordering::SeqCst), after);
    }

    #[test]
    fn timers_fire_in_deadline_order_and_dropped_ones_do_not_move_the_clock() {
        let rt = SimRt::new(3, true);
        let order = Arc::new(Mutex::new(Vec::new()));
        let inner = rt.clone();
        let seen = order.clone();
        let end = rt
            .block_on(
                async move {
                    for ms in [30u64, 10, 20] {
                        let rt = inner.clone();
                        let seen = seen.clone();
                        let _ = inner.spawn(async move {
                            rt.sleep_until(Instant::from_nanos(ms * 1_000_000)).await;
                            seen.lock().unwrap().push((ms, rt.now().as_nanos()));
                        });
                    }
                    // A sleep dropped before its time must not pull the clock to it.
                    let mut early = Box::pin(inner.sleep_until(Instant::from_nanos(5_000_000)));
                    let _ = futures_poll_once(early.as_mut()).await;
                    drop(early);
                    inner
                        .sleep_until(Instant::ZERO + Duration::from_millis(40))
                        .await;
                    inner.now()
                },
                &[],
            )
            .unwrap();
        assert_eq!(end, Instant::ZERO + Duration::from_millis(40));
        assert_eq!(
            *order.lock().unwrap(),
            vec![(10, 10_000_000), (20, 20_000_000), (30, 30_000_000)]
        );
        let fired: Vec<u64> = rt
            .take_trace()
            .events()
            .iter()
            .filter(|e| e.kind == TraceKind::TimerFire)
            .map(|e| e.at.as_nanos())
            .collect();
        assert!(!fired.contains(&5_000_000), "{fired:?}");
    }

    /// Polls `f` once and reports whether it was ready.
    async fn futures_poll_once<F: std::future::Future + Unpin>(mut f: F) -> bool {
        poll_fn(|cx| Poll::Ready(std::pin::Pin::new(&mut f).poll(cx).is_ready())).await
    }
}
