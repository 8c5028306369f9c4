//! The system: spawning and its errors, names, shutdown, builder errors, the runtime seam.

mod support;

use std::time::Duration;

use snowglobe::{
    BuildError, LookupError, Mailbox, RegisterError, SpawnError, SpawnOptions, StopReason, System,
};
use support::{Forever, Journal, Probe, Record};

#[tokio::test]
async fn smoke_spawn_lookup_shutdown() {
    let system = System::new();
    system
        .spawn_with(Probe::default(), SpawnOptions::new().name("probe"))
        .unwrap();
    let probe = system.lookup::<Probe>("probe").unwrap();
    assert_eq!(probe.ask(Record(1)).await.unwrap(), 1);
    system.shutdown().await;
    assert!(!probe.is_alive());
    assert_eq!(system.root_actor_count(), 0);
}

#[tokio::test]
async fn zero_capacity_is_rejected() {
    let system = System::new();
    let err = system
        .spawn_with(
            Probe::default(),
            SpawnOptions::new().mailbox(Mailbox::bounded(0)),
        )
        .unwrap_err();
    assert_eq!(err, SpawnError::ZeroCapacity);
    assert_eq!(err.to_string(), "mailbox capacity must be at least 1");
    assert_eq!(system.root_actor_count(), 0, "nothing was started");
}

#[tokio::test]
async fn capacities_beyond_the_maximum_are_rejected() {
    let system = System::new();
    let err = system
        .spawn_with(
            Probe::default(),
            SpawnOptions::new().mailbox(Mailbox::bounded(usize::MAX)),
        )
        .unwrap_err();
    assert!(
        matches!(err, SpawnError::CapacityTooLarge { requested, .. } if requested == usize::MAX)
    );
    let unbounded = system
        .spawn_with(
            Probe::default(),
            SpawnOptions::new().mailbox(Mailbox::unbounded()),
        )
        .unwrap();
    assert_eq!(unbounded.mailbox_capacity(), None);
    for v in 0..5_000 {
        unbounded.try_tell(Record(v)).unwrap();
    }
    assert_eq!(unbounded.ask(Record(0)).await.unwrap(), 5_001);
}

#[tokio::test]
async fn duplicate_names_are_rejected_and_released_on_stop() {
    let system = System::new();
    let first = system
        .spawn_with(Probe::default(), SpawnOptions::new().name("payments"))
        .unwrap();
    let err = system
        .spawn_with(Probe::default(), SpawnOptions::new().name("payments"))
        .unwrap_err();
    assert_eq!(err, SpawnError::NameTaken("payments".into()));
    assert_eq!(
        err.to_string(),
        "an actor named \"payments\" already exists"
    );
    assert_eq!(system.root_actor_count(), 1);

    first.stop();
    first.stopped().await;
    let second = system
        .spawn_with(Probe::default(), SpawnOptions::new().name("payments"))
        .unwrap();
    assert_eq!(system.lookup::<Probe>("payments").unwrap(), second);
}

#[tokio::test]
async fn empty_names_are_rejected() {
    let system = System::new();
    let err = system
        .spawn_with(Probe::default(), SpawnOptions::new().name(""))
        .unwrap_err();
    assert_eq!(err, SpawnError::EmptyName);
}

#[tokio::test]
async fn lookup_is_typed() {
    let system = System::new();
    system
        .spawn_with(Probe::default(), SpawnOptions::new().name("probe"))
        .unwrap();
    assert_eq!(
        system.lookup::<Other>("nobody").unwrap_err(),
        LookupError::NotFound("nobody".into())
    );
    match system.lookup::<Other>("probe").unwrap_err() {
        LookupError::WrongType {
            name,
            expected,
            actual,
        } => {
            assert_eq!(&*name, "probe");
            assert!(expected.ends_with("Other"));
            assert!(actual.ends_with("Probe"));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn register_names_a_running_actor_once() {
    let system = System::new();
    let a = system.spawn(Probe::default()).unwrap();
    let b = system.spawn(Probe::default()).unwrap();
    system.register("a", &a).unwrap();
    assert_eq!(a.name(), Some("a"));
    assert_eq!(system.lookup::<Probe>("a").unwrap(), a);
    assert_eq!(
        system.register("b", &a).unwrap_err(),
        RegisterError::AlreadyNamed("a".into())
    );
    assert_eq!(
        system.register("a", &b).unwrap_err(),
        RegisterError::NameTaken("a".into())
    );
    assert_eq!(
        system.register("", &b).unwrap_err(),
        RegisterError::EmptyName
    );
    b.stop();
    b.stopped().await;
    assert_eq!(
        system.register("b", &b).unwrap_err(),
        RegisterError::Stopped
    );
    assert!(system.lookup::<Probe>("b").is_err());
}

#[tokio::test]
async fn shutdown_stops_everything_children_first_and_refuses_new_spawns() {
    let system = System::new();
    let journal = Journal::default();
    let first = system.spawn(Probe::named("first", &journal)).unwrap();
    let parent = system.spawn(Parent(journal.clone())).unwrap();
    parent.ask(SpawnChild).await.unwrap();
    let last = system.spawn(Probe::named("last", &journal)).unwrap();
    // Everyone has started.
    first.ask(Record(0)).await.unwrap();
    last.ask(Record(0)).await.unwrap();

    system.shutdown().await;
    let stops: Vec<String> = journal
        .entries()
        .into_iter()
        .filter(|e| e.contains("stopped"))
        .collect();
    assert_eq!(
        stops,
        [
            "last stopped: shut down",
            "child stopped: shut down",
            "parent stopped: shut down",
            "first stopped: shut down",
        ]
    );
    assert!(!first.is_alive() && !parent.is_alive() && !last.is_alive());
    assert_eq!(
        system.spawn(Probe::default()).unwrap_err(),
        SpawnError::ShuttingDown
    );
    assert_eq!(system.registered_count(), 0);
}

#[tokio::test(start_paused = true)]
async fn shutdown_kills_what_does_not_stop_in_time() {
    let system = System::builder()
        .shutdown_timeout(Duration::from_secs(3))
        .build()
        .unwrap();
    let stuck = system.spawn(Probe::default()).unwrap();
    let fine = system.spawn(Probe::default()).unwrap();
    stuck.tell(Forever).await.unwrap();
    let start = system.now();
    system.shutdown().await;
    assert!(matches!(stuck.stopped().await, StopReason::Killed));
    assert!(matches!(fine.stopped().await, StopReason::Shutdown));
    assert_eq!(
        system.now().saturating_duration_since(start),
        Duration::from_secs(3)
    );
}

#[tokio::test]
async fn spawning_under_a_stopping_parent_fails() {
    let system = System::new();
    let journal = Journal::default();
    let parent = system.spawn(Parent(journal)).unwrap();
    let err = parent.ask(SpawnInOnStopProbe).await.unwrap();
    assert!(err.is_none());
    parent.stop();
    assert!(matches!(parent.stopped().await, StopReason::Normal));
}

#[test]
fn builder_errors_are_typed() {
    assert!(matches!(
        System::builder().worker_threads(0).build(),
        Err(BuildError::ZeroWorkerThreads)
    ));
    assert!(matches!(
        System::builder().ask_timeout(Duration::ZERO).build(),
        Err(BuildError::ZeroAskTimeout)
    ));
    let no_timers = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let err = System::builder()
        .handle(no_timers.handle().clone())
        .build()
        .unwrap_err();
    assert!(matches!(err, BuildError::TimersDisabled));
    assert!(err.to_string().contains("enable_time"));
}

#[test]
fn a_system_can_own_its_runtime() {
    let system = System::builder().worker_threads(2).build().unwrap();
    let probe = system.spawn(Probe::default()).unwrap();
    let n = system.block_on(async { probe.ask(Record(9)).await.unwrap() });
    assert_eq!(n, 1);
    system.block_on(system.shutdown());
    assert!(!probe.is_alive());
}

#[test]
fn seeded_randomness_is_reproducible() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let draw = |seed| {
        let system = System::builder()
            .handle(runtime.handle().clone())
            .seed(seed)
            .build()
            .unwrap();
        (0..4).map(|_| system.random_u64()).collect::<Vec<_>>()
    };
    assert_eq!(draw(7), draw(7));
    assert_ne!(draw(7), draw(8));
}

#[test]
fn a_dropped_system_leaves_no_task_behind() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    runtime.block_on(async {
        for _ in 0..20 {
            let system = System::new();
            let probe = system.spawn(Probe::default()).unwrap();
            // The actor has not run yet, so this ask waits and starts the deadline driver.
            probe.ask(Record(1)).await.unwrap();
            system.shutdown().await;
        }
        // The systems are gone; their drivers end the next time they are polled.
        assert_eq!(
            tasks_left().await,
            0,
            "tasks left behind by dropped systems"
        );
    });
}

#[tokio::test(start_paused = true)]
async fn time_comes_from_the_system_clock() {
    let system = System::new();
    let t0 = system.now();
    system.sleep(Duration::from_secs(90)).await;
    assert_eq!(
        system.now().saturating_duration_since(t0),
        Duration::from_secs(90)
    );
}

// --- actors used above -------------------------------------------------------------------

use snowglobe::{Actor, Context, DynMessage, Handler, Message};

struct Other;
impl Actor for Other {
    type Msg = DynMessage<Self>;
}

struct Parent(Journal);
impl Actor for Parent {
    type Msg = DynMessage<Self>;

    async fn on_stop(&mut self, ctx: &mut Context<Self>, reason: &StopReason) {
        // Children are gone by now, and no new child may start.
        let late = ctx.spawn(Probe::default());
        assert_eq!(late.unwrap_err(), SpawnError::ParentStopping);
        self.0.push(format!("parent stopped: {reason}"));
    }
}

struct SpawnChild;
impl Message for SpawnChild {
    type Reply = ();
}
impl Handler<SpawnChild> for Parent {
    async fn handle(&mut self, _: SpawnChild, ctx: &mut Context<Self>) {
        let child = ctx.spawn(Probe::named("child", &self.0)).unwrap();
        child.ask(Record(0)).await.unwrap();
    }
}

/// Spawns a child while running (allowed) and reports an error if there was one.
struct SpawnInOnStopProbe;
impl Message for SpawnInOnStopProbe {
    type Reply = Option<SpawnError>;
}
impl Handler<SpawnInOnStopProbe> for Parent {
    async fn handle(
        &mut self,
        _: SpawnInOnStopProbe,
        ctx: &mut Context<Self>,
    ) -> Option<SpawnError> {
        ctx.spawn(Probe::default()).err()
    }
}

/// A node of a deep tree: spawns `fanout` children until `depth` is reached, reports its
/// start, and logs its stop with its parent's id.
struct Branch {
    depth: u32,
    fanout: u32,
    parent: Option<snowglobe::ActorId>,
    started: tokio::sync::mpsc::UnboundedSender<()>,
    stops: StopLog,
}

/// Each stopped actor with its parent, in stop order.
type StopLog =
    std::sync::Arc<std::sync::Mutex<Vec<(snowglobe::ActorId, Option<snowglobe::ActorId>)>>>;

impl snowglobe::Actor for Branch {
    type Msg = snowglobe::DynMessage<Self>;

    async fn on_start(
        &mut self,
        ctx: &mut snowglobe::Context<Self>,
    ) -> Result<(), snowglobe::BoxError> {
        if self.depth > 0 {
            for _ in 0..self.fanout {
                ctx.spawn(Branch {
                    depth: self.depth - 1,
                    fanout: self.fanout,
                    parent: Some(ctx.id()),
                    started: self.started.clone(),
                    stops: self.stops.clone(),
                })?;
            }
        }
        let _ = self.started.send(());
        Ok(())
    }

    async fn on_stop(&mut self, ctx: &mut snowglobe::Context<Self>, reason: &StopReason) {
        assert!(matches!(reason, StopReason::Shutdown), "{reason:?}");
        self.stops.lock().unwrap().push((ctx.id(), self.parent));
    }
}

/// The tasks left on the current runtime once those that are ending (a dropped system's
/// drivers end at their next poll) have had their turns.
async fn tasks_left() -> usize {
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks()
}

#[test]
fn a_deep_tree_shuts_down_children_first_and_leaves_no_task_behind() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    runtime.block_on(async {
        let system = System::new();
        let (started, mut starts) = tokio::sync::mpsc::unbounded_channel();
        let stops = std::sync::Arc::default();
        // Depth 5, three children each: 364 actors.
        let total: usize = (0..=5).map(|level| 3usize.pow(level)).sum();
        for _ in 0..2 {
            system
                .spawn(Branch {
                    depth: 5,
                    fanout: 3,
                    parent: None,
                    started: started.clone(),
                    stops: std::sync::Arc::clone(&stops),
                })
                .unwrap();
        }
        for _ in 0..2 * total {
            starts.recv().await.unwrap();
        }
        let tasks = || system.actor_task_count();
        assert_eq!(tasks(), 2 * total, "one task per actor");
        assert_eq!(system.tree().roots.len(), 2);

        system.shutdown().await;
        let stops = stops.lock().unwrap().clone();
        assert_eq!(stops.len(), 2 * total, "every actor ran on_stop once");
        let position: std::collections::HashMap<_, _> = stops
            .iter()
            .enumerate()
            .map(|(i, (id, _))| (*id, i))
            .collect();
        for (i, (id, parent)) in stops.iter().enumerate() {
            if let Some(parent) = parent {
                assert!(
                    position[parent] > i,
                    "{id} stopped after its parent {parent}"
                );
            }
        }
        assert!(system.tree().roots.is_empty());
        assert_eq!(tasks(), 0, "no actor task left behind");
        // With the system gone, its scheduler's drivers end the next time they are polled.
        drop(system);
        assert_eq!(
            tasks_left().await,
            0,
            "tasks left behind by the dropped system"
        );
    });
}
