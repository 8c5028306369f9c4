//! Regressions from the review of supervision (restarts, group restarts, watches, links,
//! bulkheads): each test failed on the code as first written and names the rule it checks.
//! They wait on events or run on tokio's paused clock (a timeout there is virtual time that
//! passes only when every task is idle), never on wall-clock time.

use std::alloc::{GlobalAlloc, Layout, System as StdAlloc};
use std::cell::Cell as StdCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use snowglobe::{
    Actor, ActorRef, Backoff, BoxError, ChildSpec, Context, DynMessage, Handler, Message, Restart,
    SpawnOptions, StopReason, Strategy, Supervisor, System, Terminated,
};
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio::time::timeout;

// --- a counting allocator, for the leak test -------------------------------------------------

/// Counts the bytes allocated and not yet freed on each thread. The tests that read it run
/// on tokio's current-thread test runtime, where every actor runs on the test's own thread.
struct Counting;

thread_local! {
    static LIVE: StdCell<isize> = const { StdCell::new(0) };
}

fn count(delta: isize) {
    let _ = LIVE.try_with(|live| live.set(live.get() + delta));
}

fn live_bytes() -> isize {
    LIVE.with(StdCell::get)
}

// SAFETY: forwards to the system allocator unchanged; the bookkeeping allocates nothing.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract, passed on.
        let ptr = unsafe { StdAlloc.alloc(layout) };
        if !ptr.is_null() {
            count(layout.size().cast_signed());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, passed on.
        unsafe { StdAlloc.dealloc(ptr, layout) };
        count(-layout.size().cast_signed());
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

// --- a worker ----------------------------------------------------------------------------------

type Journal = mpsc::UnboundedSender<String>;

/// Reports `start <name> <generation>` and `stop <name>` to a journal; `on_stop` may wait
/// on a gate the test opens.
struct Worker {
    name: &'static str,
    generation: u32,
    journal: Option<Journal>,
    stop_gate: Option<Arc<Semaphore>>,
}

impl Worker {
    fn plain() -> Worker {
        Worker {
            name: "plain",
            generation: 1,
            journal: None,
            stop_gate: None,
        }
    }

    fn note(&self, entry: String) {
        if let Some(journal) = &self.journal {
            let _ = journal.send(entry);
        }
    }
}

/// A spec whose instances count their generation.
fn spec(
    name: &'static str,
    journal: &Journal,
    stop_gate: Option<Arc<Semaphore>>,
) -> ChildSpec<Worker> {
    let journal = journal.clone();
    let generations = AtomicU32::new(0);
    ChildSpec::new(move || Worker {
        name,
        generation: generations.fetch_add(1, Ordering::SeqCst) + 1,
        journal: Some(journal.clone()),
        stop_gate: stop_gate.clone(),
    })
    .backoff(Backoff::NONE)
}

impl Actor for Worker {
    type Msg = DynMessage<Self>;

    async fn on_start(&mut self, _: &mut Context<Self>) -> Result<(), BoxError> {
        self.note(format!("start {} {}", self.name, self.generation));
        Ok(())
    }

    async fn on_stop(&mut self, _: &mut Context<Self>, _: &StopReason) {
        self.note(format!("stop {}", self.name));
        if let Some(gate) = &self.stop_gate {
            gate.acquire().await.expect("the gate stays open").forget();
        }
    }
}

/// Replies with the instance's generation.
struct Ping;
impl Message for Ping {
    type Reply = u32;
}
impl Handler<Ping> for Worker {
    async fn handle(&mut self, _: Ping, _: &mut Context<Self>) -> u32 {
        self.generation
    }
}

/// Panics.
struct Boom;
impl Message for Boom {
    type Reply = ();
}
impl Handler<Boom> for Worker {
    async fn handle(&mut self, _: Boom, _: &mut Context<Self>) {
        panic!("boom");
    }
}

/// Asks the actor to stop itself, then panics.
struct StopThenPanic;
impl Message for StopThenPanic {
    type Reply = ();
}
impl Handler<StopThenPanic> for Worker {
    async fn handle(&mut self, _: StopThenPanic, ctx: &mut Context<Self>) {
        ctx.stop();
        panic!("failed after asking to stop");
    }
}

/// Says it has begun, then waits for the gate.
struct Hold {
    begun: oneshot::Sender<()>,
    gate: oneshot::Receiver<()>,
}
impl Message for Hold {
    type Reply = ();
}
impl Handler<Hold> for Worker {
    async fn handle(&mut self, hold: Hold, _: &mut Context<Self>) {
        let _ = hold.begun.send(());
        let _ = hold.gate.await;
    }
}

/// Links the worker to another.
struct LinkTo(ActorRef<Worker>);
impl Message for LinkTo {
    type Reply = ();
}
impl Handler<LinkTo> for Worker {
    async fn handle(&mut self, LinkTo(other): LinkTo, ctx: &mut Context<Self>) {
        ctx.link(&other).expect("the other worker runs");
    }
}

/// Puts the worker in a handler that waits for the gate; returns once it is there.
async fn hold(worker: &ActorRef<Worker>) -> oneshot::Sender<()> {
    let (begun, begun_rx) = oneshot::channel();
    let (gate_tx, gate) = oneshot::channel();
    worker.try_tell(Hold { begun, gate }).unwrap();
    begun_rx.await.unwrap();
    gate_tx
}

async fn next(entries: &mut mpsc::UnboundedReceiver<String>, n: usize) -> Vec<String> {
    let mut taken = Vec::with_capacity(n);
    for _ in 0..n {
        taken.push(entries.recv().await.expect("the journal stays open"));
    }
    taken
}

fn lenient(strategy: Strategy) -> Supervisor {
    Supervisor::new(strategy).intensity(100, Duration::from_secs(1))
}

fn system_with(strategy: Strategy) -> System {
    System::builder()
        .supervisor(lenient(strategy))
        .build()
        .unwrap()
}

/// Virtual time: passes only while every task waits.
const PATIENCE: Duration = Duration::from_secs(60);

// --- 1. group restarts -------------------------------------------------------------------------

/// `round` takes its member list once, then retires them one by one. A member that stops
/// for good before its turn to retire still gets `ask_suspend`: the sender goes into the
/// extra state of a cell whose `finish` has already run (and so will never drop it), while
/// the coordinator itself keeps the cell alive. The round waits for ever, `running` stays
/// set, and the group never restarts anyone again.
#[tokio::test(start_paused = true)]
async fn a_member_stopped_while_the_group_retires_does_not_wedge_the_group() {
    let system = system_with(Strategy::OneForAll);
    let (journal, mut entries) = mpsc::unbounded_channel();
    let gate = Arc::new(Semaphore::new(0));
    let a = system.spawn_supervised(spec("a", &journal, None)).unwrap();
    let b = system.spawn_supervised(spec("b", &journal, None)).unwrap();
    let c = system
        .spawn_supervised(spec("c", &journal, Some(gate.clone())))
        .unwrap();
    let mut started = next(&mut entries, 3).await;
    started.sort();
    assert_eq!(started, ["start a 1", "start b 1", "start c 1"]);

    assert!(a.ask(Boom).await.is_err());
    // `a` retired; the round asks `c` (the last spawned) first, whose `on_stop` waits.
    assert_eq!(next(&mut entries, 2).await, ["stop a", "stop c"]);
    // Meanwhile `b`, next in line, is stopped for good from outside.
    b.stop();
    b.stopped().await;
    assert_eq!(next(&mut entries, 1).await, ["stop b"]);
    gate.add_permits(100);

    let restarted = timeout(PATIENCE, next(&mut entries, 2)).await;
    assert_eq!(
        restarted.ok(),
        Some(vec!["start a 2".to_owned(), "start c 2".to_owned()]),
        "the group restart hangs: a and c wait for a turn that never comes"
    );
    assert_eq!(a.ask(Ping).await.unwrap(), 2);
    assert_eq!(c.ask(Ping).await.unwrap(), 2);
    system.shutdown().await;
}

// --- 2. a graceful stop lost to a failure ------------------------------------------------------

/// `stop()` closes the mailbox and the instance drains it; a queued message that panics
/// ends the instance as a failure, `verdict` restarts it and `restart` reopens the mailbox.
/// The stop (kept only in the instance's `Loop::graceful` and in the consumed signal bit) is
/// forgotten: the actor runs on, although "a stop from outside is always final".
#[tokio::test(start_paused = true)]
async fn a_stop_from_outside_is_final_even_if_a_queued_message_panics() {
    let system = system_with(Strategy::OneForOne);
    let (journal, _entries) = mpsc::unbounded_channel();
    let worker = system.spawn_supervised(spec("w", &journal, None)).unwrap();
    assert_eq!(worker.ask(Ping).await.unwrap(), 1);

    worker.try_tell(Boom).unwrap();
    worker.stop();
    let stopped = timeout(PATIENCE, worker.stopped()).await;
    assert!(
        stopped.is_ok(),
        "stop() was lost: the actor restarted ({} restarts) and takes messages again",
        worker.restarts()
    );
    system.shutdown().await;
}

/// A supervisor restarting sends SHUTDOWN to its child and waits for it to stop. The child
/// drains its queue, a queued message panics, and `verdict` sees the parent `Restarting`
/// (not `>= Stopping`), so the child restarts with its mailbox reopened. The parent's
/// `stop_children` waits for ever: the supervisor never comes back.
#[tokio::test(start_paused = true)]
async fn a_supervisor_restart_completes_when_its_child_panics_while_draining() {
    let system = system_with(Strategy::OneForOne);
    let (journal, mut entries) = mpsc::unbounded_channel();
    let boss = system.spawn_supervised(Boss::spec(&journal, None)).unwrap();
    let child = boss.ask(GetChild).await.unwrap();
    assert_eq!(
        next(&mut entries, 2).await,
        ["start boss 1", "start child 1"]
    );

    let gate = hold(&child).await;
    child.try_tell(Boom).unwrap();
    // The boss fails: its restart stops the child first, and waits for it.
    assert!(boss.ask(BossBoom).await.is_err());
    drop(gate);

    // The default ask deadline (5 s) is far beyond a restart with no backoff.
    let answer = boss.ask(BossGeneration).await;
    assert!(
        matches!(answer, Ok(2)),
        "the boss never restarted ({answer:?}); its child restarted {} time(s) instead of stopping",
        child.restarts()
    );
    system.shutdown().await;
}

/// A supervised actor that spawns one supervised child when it starts.
struct Boss {
    generation: u32,
    journal: Journal,
    child: Option<ActorRef<Worker>>,
    /// What the child's `on_stop` waits on.
    child_gate: Option<Arc<Semaphore>>,
}

impl Boss {
    fn spec(journal: &Journal, child_gate: Option<Arc<Semaphore>>) -> ChildSpec<Boss> {
        let journal = journal.clone();
        let generations = AtomicU32::new(0);
        ChildSpec::new(move || Boss {
            generation: generations.fetch_add(1, Ordering::SeqCst) + 1,
            journal: journal.clone(),
            child: None,
            child_gate: child_gate.clone(),
        })
        .backoff(Backoff::NONE)
    }
}

impl Actor for Boss {
    type Msg = DynMessage<Self>;
    const SUPERVISOR: Supervisor =
        Supervisor::new(Strategy::OneForOne).intensity(100, Duration::from_secs(1));

    async fn on_start(&mut self, ctx: &mut Context<Self>) -> Result<(), BoxError> {
        let _ = self.journal.send(format!("start boss {}", self.generation));
        let child = spec("child", &self.journal, self.child_gate.clone());
        self.child = Some(ctx.spawn_supervised(child)?);
        Ok(())
    }

    async fn on_stop(&mut self, _: &mut Context<Self>, _: &StopReason) {
        let _ = self.journal.send(format!("stop boss {}", self.generation));
    }
}

struct GetChild;
impl Message for GetChild {
    type Reply = ActorRef<Worker>;
}
impl Handler<GetChild> for Boss {
    async fn handle(&mut self, _: GetChild, _: &mut Context<Self>) -> ActorRef<Worker> {
        self.child.clone().expect("spawned in on_start")
    }
}

struct BossBoom;
impl Message for BossBoom {
    type Reply = ();
}
impl Handler<BossBoom> for Boss {
    async fn handle(&mut self, _: BossBoom, _: &mut Context<Self>) {
        panic!("boss failed");
    }
}

struct BossGeneration;
impl Message for BossGeneration {
    type Reply = u32;
}
impl Handler<BossGeneration> for Boss {
    async fn handle(&mut self, _: BossGeneration, _: &mut Context<Self>) -> u32 {
        self.generation
    }
}

/// `finish` takes a KILL before retiring ("the kill is spent") so that `on_stop` still runs,
/// as `ActorRef::kill` promises. A kill that arrives while a *restart* retires the instance
/// (waiting for its children) stays raised instead: `Guarded` interrupts `on_stop` before its
/// first poll, then the kill ends the actor, and the last instance's `on_stop` never runs.
#[tokio::test(start_paused = true)]
async fn a_kill_during_a_restart_still_runs_on_stop() {
    let system = system_with(Strategy::OneForOne);
    let (journal, mut entries) = mpsc::unbounded_channel();
    let gate = Arc::new(Semaphore::new(0));
    let boss = system
        .spawn_supervised(Boss::spec(&journal, Some(gate.clone())))
        .unwrap();
    assert_eq!(
        next(&mut entries, 2).await,
        ["start boss 1", "start child 1"]
    );

    // The boss fails; its restart stops the child, whose `on_stop` waits on the gate.
    assert!(boss.ask(BossBoom).await.is_err());
    assert_eq!(next(&mut entries, 1).await, ["stop child"]);
    boss.kill();
    gate.add_permits(100);
    assert!(matches!(boss.stopped().await, StopReason::Killed));

    let rest: Vec<String> = std::iter::from_fn(|| entries.try_recv().ok()).collect();
    assert!(
        rest.iter().any(|entry| entry == "stop boss 1"),
        "the killed boss's on_stop never ran: {rest:?}"
    );
    system.shutdown().await;
}

/// `on_signals` takes every raised bit at once and returns at the first failure (IMPOSED,
/// or FAIL): a STOP raised at the same time is consumed and dropped, the failure restarts the
/// actor, and it runs on.
#[tokio::test(start_paused = true)]
async fn a_stop_raised_together_with_a_link_failure_is_not_lost() {
    let system = system_with(Strategy::OneForOne);
    let (journal, _entries) = mpsc::unbounded_channel();
    let worker = system.spawn_supervised(spec("w", &journal, None)).unwrap();
    let partner = system.spawn(Worker::plain()).unwrap();
    worker.ask(LinkTo(partner.clone())).await.unwrap();

    let gate = hold(&worker).await;
    worker.stop();
    // The partner fails: the link imposes the failure on `worker`, still in its handler.
    assert!(partner.ask(Boom).await.is_err());
    partner.stopped().await;
    drop(gate);

    let stopped = timeout(PATIENCE, worker.stopped()).await;
    assert!(
        stopped.is_ok(),
        "stop() was lost: the actor restarted ({} restarts) and runs on",
        worker.restarts()
    );
    system.shutdown().await;
}

// --- 3. a stale signal bit in the next instance ------------------------------------------------

/// A handler that calls `ctx.stop()` and then panics: the instance ends on the panic before
/// `on_signals` sees `SELF_STOP`, and nothing between instances clears the bit
/// (`stop_requested` takes the bits only for STOP, SHUTDOWN or KILL; `discard_stale` clears
/// data, not bits). The fresh instance stops itself before handling anything: a transient
/// actor is gone for good, a permanent one restarts a second time for one failure and, at
/// the default intensity (one restart in five seconds), escalates.
#[tokio::test(start_paused = true)]
async fn a_stop_asked_by_a_handler_that_then_panicked_does_not_reach_the_next_instance() {
    let (journal, _entries) = mpsc::unbounded_channel();
    // Two systems: the root's restart intensity is shared by all top-level actors. Both use
    // the default supervisor, one restart in five seconds.
    let first = System::new();
    let transient = first
        .spawn_supervised(spec("transient", &journal, None).restart(Restart::Transient))
        .unwrap();
    assert!(transient.ask(StopThenPanic).await.is_err());
    let transient_after = transient.ask(Ping).await;

    let second = System::new();
    let permanent = second
        .spawn_supervised(spec("permanent", &journal, None))
        .unwrap();
    assert!(permanent.ask(StopThenPanic).await.is_err());
    let permanent_after = permanent.ask(Ping).await;

    assert!(
        matches!((&transient_after, &permanent_after), (Ok(2), Ok(2))),
        "the new instances stopped themselves at once: transient {transient_after:?}, \
         permanent {permanent_after:?} with root failures {:?}",
        second.root_failures()
    );
    first.shutdown().await;
    second.shutdown().await;
}

// --- 4. watches ----------------------------------------------------------------------------------

/// Counts the `Terminated` it gets.
#[derive(Default)]
struct Monitor {
    downs: u64,
}
impl Actor for Monitor {
    type Msg = DynMessage<Self>;
}
impl Handler<Terminated> for Monitor {
    async fn handle(&mut self, _: Terminated, _: &mut Context<Self>) {
        self.downs += 1;
    }
}
struct Watch(ActorRef<Worker>);
impl Message for Watch {
    type Reply = ();
}
impl Handler<Watch> for Monitor {
    async fn handle(&mut self, Watch(target): Watch, ctx: &mut Context<Self>) {
        ctx.watch(&target);
    }
}
struct Downs;
impl Message for Downs {
    type Reply = u64;
}
impl Handler<Downs> for Monitor {
    async fn handle(&mut self, _: Downs, _: &mut Context<Self>) -> u64 {
        self.downs
    }
}

/// Watches `n` workers that then stop; returns once the monitor has heard of each.
async fn watch_and_stop(system: &System, monitor: &ActorRef<Monitor>, n: u64) {
    let before = monitor.ask(Downs).await.unwrap();
    for _ in 0..n {
        let worker = system.spawn(Worker::plain()).unwrap();
        monitor.ask(Watch(worker.clone())).await.unwrap();
        worker.stop();
        worker.stopped().await;
    }
    assert_eq!(monitor.ask(Downs).await.unwrap(), before + n);
}

/// When a watched actor stops, `Core::finish` hands its watchers their `Terminated` but the
/// watcher's `watching` list keeps `(ActorId, Weak<dyn Node>)` for it until the watcher itself
/// stops. The `Weak` pins the stopped actor's whole cell allocation, so a long-lived monitor
/// of short-lived workers grows without bound (and each `watch` scans the list).
#[tokio::test(flavor = "current_thread")]
async fn a_watcher_does_not_keep_the_actors_it_watched_after_they_stop() {
    let system = System::new();
    let monitor = system.spawn(Monitor::default()).unwrap();
    // Warm up: the runtime's and the monitor's own buffers reach their working size.
    watch_and_stop(&system, &monitor, 256).await;

    const N: u64 = 1000;
    let before = live_bytes();
    watch_and_stop(&system, &monitor, N).await;
    let grown = live_bytes() - before;
    let per_actor = grown / 1000;
    assert!(
        per_actor < 32,
        "{grown} bytes still allocated after {N} watched actors stopped ({per_actor} per actor)"
    );
    system.shutdown().await;
}

// --- 5. root failures during shutdown ------------------------------------------------------------

/// During `System::shutdown`, `permit_root_restart` refuses every restart, and `verdict`
/// reads the refusal as "intensity exceeded": a top-level actor whose queued message panics
/// while it drains is escalated and listed in `root_failures` as failing beyond the
/// intensity. (A child of a stopping parent gets `Verdict::Stop` instead.)
#[tokio::test(start_paused = true)]
async fn a_panic_while_shutting_down_is_not_reported_as_beyond_the_intensity() {
    let system = system_with(Strategy::OneForOne);
    let (journal, _entries) = mpsc::unbounded_channel();
    let worker = system.spawn_supervised(spec("w", &journal, None)).unwrap();
    assert_eq!(worker.ask(Ping).await.unwrap(), 1);
    worker.try_tell(Boom).unwrap();
    system.shutdown().await;
    assert!(
        system.root_failures().is_empty(),
        "a lenient supervisor (100 restarts a second) reports: {:?}",
        system.root_failures()
    );
}

// --- 6. bulkheads --------------------------------------------------------------------------------

/// A `Bulkhead` handle outlives the shutdown of its runtime. Spawning into it succeeds, but
/// tokio drops a task spawned onto a shut-down runtime without polling it: the actor is
/// registered and addressable, never runs, never finishes (`stopped()` never resolves, its
/// asks time out instead of failing `Closed`, and a shutdown waits for it until it gives up).
#[tokio::test(start_paused = true)]
async fn an_actor_spawned_into_a_shut_down_bulkhead_is_refused_or_stops() {
    let first = System::new();
    let bulkhead = first.bulkhead("old", 1).unwrap();
    first.shutdown().await;

    let second = System::new();
    if let Ok(actor) = second.spawn_with(Worker::plain(), SpawnOptions::new().bulkhead(&bulkhead)) {
        let stopped = timeout(PATIENCE, actor.stopped()).await;
        assert!(
            stopped.is_ok(),
            "spawned into a shut-down bulkhead: the actor never runs and never stops"
        );
    }
    second.shutdown().await;
}

// --- 7. children of a retired instance ---------------------------------------------------------

/// Spawns a child from `on_stop`, and reports whether the spawn was accepted.
struct Tidy {
    journal: Journal,
}
impl Actor for Tidy {
    type Msg = DynMessage<Self>;

    async fn on_stop(&mut self, ctx: &mut Context<Self>, _: &StopReason) {
        let spawned = ctx.spawn(Worker::plain()).is_ok();
        let _ = self.journal.send(format!("spawned in on_stop: {spawned}"));
    }
}
struct TidyBoom;
impl Message for TidyBoom {
    type Reply = ();
}
impl Handler<TidyBoom> for Tidy {
    async fn handle(&mut self, _: TidyBoom, _: &mut Context<Self>) {
        panic!("tidy failed");
    }
}
struct TidyPing;
impl Message for TidyPing {
    type Reply = ();
}
impl Handler<TidyPing> for Tidy {
    async fn handle(&mut self, _: TidyPing, _: &mut Context<Self>) {}
}

/// `retire` stops the instance's children and then runs `on_stop`; during a restart the
/// lifecycle is `Restarting`, which `spawn_inner` accepts (only `>= Stopping` is refused), so
/// a child spawned in `on_stop` outlives the instance that made it and is handed to the next
/// one, which knows nothing of it (it runs until the next retire). When the actor stops for
/// good the same spawn is refused with `ParentStopping`.
#[tokio::test(start_paused = true)]
async fn a_restart_leaves_no_child_of_the_retired_instance_behind() {
    let system = system_with(Strategy::OneForOne);
    let (journal, mut entries) = mpsc::unbounded_channel();
    let tidy = system
        .spawn_supervised(
            ChildSpec::new(move || Tidy {
                journal: journal.clone(),
            })
            .backoff(Backoff::NONE),
        )
        .unwrap();
    assert!(tidy.ask(TidyBoom).await.is_err());
    // Refusing the spawn, or stopping the child with its instance, would both do.
    let spawned = next(&mut entries, 1).await;
    tidy.ask(TidyPing).await.unwrap();
    assert_eq!(tidy.restarts(), 1);
    let tree = system.tree();
    let node = tree.find(tidy.id()).unwrap();
    assert!(
        node.children.is_empty(),
        "{spawned:?}, and that child of the retired instance lives on under the new one:\n{tree}",
    );
    system.shutdown().await;
}
