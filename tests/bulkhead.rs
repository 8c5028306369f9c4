//! Bulkheads: an actor that blocks or spins holds only its own threads.
//!
//! The tests run on tokio's single-threaded test runtime: an actor blocking that one thread
//! would stop every other actor, so progress elsewhere while it blocks shows the isolation.
//! Blocked handlers wait on channels the test releases, never on time.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::mpsc as std_mpsc;
use std::time::Duration;

use snowglobe::{
    Actor, Backoff, BulkheadError, ChildSpec, Context, SpawnOptions, StopReason, System, messages,
};
use tokio::sync::oneshot;

/// An actor whose handlers block or spin its thread.
struct Stubborn {
    generation: u32,
}

impl Actor for Stubborn {
    type Msg = StubbornMsg;
}

#[messages]
impl Stubborn {
    /// Blocks the thread until `release` gets a value (or its sender goes).
    #[message]
    fn block(&mut self, entered: oneshot::Sender<()>, release: std_mpsc::Receiver<()>) {
        let _ = entered.send(());
        let _ = release.recv();
    }

    /// Spins on the thread until `stop` is set.
    #[message]
    fn spin(&mut self, entered: oneshot::Sender<()>, stop: Arc<AtomicBool>) {
        let _ = entered.send(());
        while !stop.load(Ordering::Acquire) {
            std::hint::spin_loop();
        }
    }

    /// The name of the thread the handler runs on.
    #[message]
    fn thread(&self) -> Option<String> {
        std::thread::current().name().map(str::to_owned)
    }

    #[message]
    fn generation(&self) -> u32 {
        self.generation
    }

    #[message]
    fn crash(&mut self) {
        panic!("stubborn crashed");
    }

    /// Spawns a child with `options`; replies with the thread the child runs on.
    #[message]
    async fn spawn_child(
        &mut self,
        options: SpawnOptions,
        ctx: &mut Context<Self>,
    ) -> Option<String> {
        let child = ctx.spawn_with(Stubborn { generation: 1 }, options).unwrap();
        child.thread().await.unwrap()
    }
}

/// Asks an actor on the system's runtime many times: it makes progress.
async fn others_make_progress(system: &System) {
    let other = system.spawn(Stubborn { generation: 1 }).unwrap();
    for _ in 0..100 {
        assert_eq!(other.generation().await.unwrap(), 1);
    }
    other.stop();
    other.stopped().await;
}

#[tokio::test]
async fn a_blocked_bulkhead_does_not_stop_the_rest() {
    let system = System::new();
    let reports = system.bulkhead("reports", 1).unwrap();
    let blocker = system
        .spawn_with(
            Stubborn { generation: 1 },
            SpawnOptions::new().bulkhead(&reports),
        )
        .unwrap();
    let (entered, has_entered) = oneshot::channel();
    let (release, released) = std_mpsc::channel();
    blocker.block(entered, released).tell().await.unwrap();
    has_entered.await.unwrap();

    others_make_progress(&system).await;
    // Another bulkhead goes on too.
    let billing = system.bulkhead("billing", 1).unwrap();
    let biller = system
        .spawn_with(
            Stubborn { generation: 1 },
            SpawnOptions::new().bulkhead(&billing),
        )
        .unwrap();
    assert_eq!(
        biller.thread().await.unwrap().as_deref(),
        Some("billing-worker")
    );

    release.send(()).unwrap();
    assert_eq!(
        blocker.thread().await.unwrap().as_deref(),
        Some("reports-worker")
    );
    system.shutdown().await;
}

#[tokio::test]
async fn a_spinning_actor_on_its_own_thread_does_not_stop_the_rest() {
    let system = System::new();
    let spinner = system
        .spawn_with(
            Stubborn { generation: 1 },
            SpawnOptions::new().name("spinner").dedicated_thread(),
        )
        .unwrap();
    let thread = spinner.thread().await.unwrap().unwrap();
    assert_eq!(thread, format!("spinner-{}", spinner.id()));
    let (entered, has_entered) = oneshot::channel();
    let stop = Arc::new(AtomicBool::new(false));
    spinner.spin(entered, stop.clone()).tell().await.unwrap();
    has_entered.await.unwrap();

    others_make_progress(&system).await;
    stop.store(true, Ordering::Release);
    assert_eq!(spinner.generation().await.unwrap(), 1);
    system.shutdown().await;
}

#[tokio::test]
async fn an_actor_on_its_own_thread_is_supervised_like_any_other() {
    let system = System::new();
    let generations = Arc::new(AtomicU32::new(0));
    let spec = ChildSpec::new({
        let generations = generations.clone();
        move || Stubborn {
            generation: generations.fetch_add(1, Ordering::SeqCst) + 1,
        }
    })
    .backoff(Backoff::NONE)
    .options(SpawnOptions::new().dedicated_thread());
    let actor = system.spawn_supervised(spec).unwrap();
    let before = actor.thread().await.unwrap();
    let _ = actor.crash().await;
    assert_eq!(actor.generation().await.unwrap(), 2);
    assert_eq!(
        actor.thread().await.unwrap(),
        before,
        "a restart keeps the thread"
    );
    actor.stop();
    assert!(matches!(actor.stopped().await, StopReason::Normal));
    system.shutdown().await;
}

#[tokio::test]
async fn children_start_in_their_parents_bulkhead_unless_told_otherwise() {
    let system = System::new();
    let reports = system.bulkhead("reports", 2).unwrap();
    let parent = system
        .spawn_with(
            Stubborn { generation: 1 },
            SpawnOptions::new().bulkhead(&reports),
        )
        .unwrap();
    assert_eq!(
        parent
            .spawn_child(SpawnOptions::new())
            .await
            .unwrap()
            .as_deref(),
        Some("reports-worker")
    );
    let elsewhere = parent
        .spawn_child(SpawnOptions::new().system_runtime())
        .await
        .unwrap();
    assert_ne!(elsewhere.as_deref(), Some("reports-worker"));
    system.shutdown().await;
}

#[tokio::test]
async fn bad_bulkheads_are_refused_with_a_reason() {
    let system = System::new();
    assert_eq!(
        system.bulkhead("none", 0).unwrap_err(),
        BulkheadError::ZeroThreads
    );
    assert_eq!(
        system.bulkhead("", 1).unwrap_err(),
        BulkheadError::EmptyName
    );
    system.bulkhead("reports", 1).unwrap();
    assert_eq!(
        system.bulkhead("reports", 1).unwrap_err(),
        BulkheadError::NameTaken("reports".into())
    );
    system.shutdown().await;
    assert_eq!(
        system.bulkhead("late", 1).unwrap_err(),
        BulkheadError::ShuttingDown
    );
}

#[tokio::test(start_paused = true)]
async fn shutdown_gives_up_on_a_handler_that_never_returns() {
    let system = System::builder()
        .shutdown_timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let stuck = system
        .spawn_with(
            Stubborn { generation: 1 },
            SpawnOptions::new().dedicated_thread(),
        )
        .unwrap();
    let (entered, has_entered) = oneshot::channel();
    let (release, released) = std_mpsc::channel();
    stuck.block(entered, released).tell().await.unwrap();
    has_entered.await.unwrap();
    let start = system.now();
    // On the paused clock, both timeouts pass as soon as the runtime is idle.
    system.shutdown().await;
    assert_eq!(system.now() - start, Duration::from_secs(10));
    assert!(stuck.is_alive(), "still blocked");
    assert!(system.tree().roots.is_empty(), "given up on");
    // Released, it sees the kill and ends.
    release.send(()).unwrap();
    assert!(matches!(stuck.stopped().await, StopReason::Killed));
}
