//! Watches (`Terminated` when an actor stops for good) and links (failures shared both ways).
//!
//! A `Terminated` is queued in the watcher's mailbox before the watched actor's `stopped()`
//! resolves, so an ask to the watcher after it sees the notification: no test waits on time.

use std::time::Duration;

use snowglobe::{
    Actor, ActorId, ActorRef, Backoff, ChildSpec, Context, DynMessage, Handler, LinkError, Mailbox,
    Message, SpawnOptions, StopReason, Strategy, Supervisor, System, Terminated, messages,
};
use tokio::sync::{mpsc, oneshot};

struct Worker {
    generation: u32,
}

impl Actor for Worker {
    type Msg = WorkerMsg;
}

#[messages]
impl Worker {
    #[message]
    fn generation(&self) -> u32 {
        self.generation
    }

    #[message]
    fn crash(&mut self) {
        panic!("worker crashed");
    }

    #[message]
    fn link_to(
        &mut self,
        other: ActorRef<Worker>,
        ctx: &mut Context<Self>,
    ) -> Result<(), LinkError> {
        ctx.link(&other)
    }

    #[message]
    fn unlink_from(&mut self, other: ActorRef<Worker>, ctx: &mut Context<Self>) {
        ctx.unlink(&other);
    }
}

fn worker_spec() -> ChildSpec<Worker> {
    let generations = std::sync::atomic::AtomicU32::new(0);
    ChildSpec::new(move || Worker {
        generation: generations.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1,
    })
    .backoff(Backoff::NONE)
}

/// Records the `Terminated` it is told of, turned into its own `Down` message.
#[derive(Default)]
struct Monitor {
    downs: Vec<(ActorId, StopReason)>,
    /// Told of each `Down` as it is handled.
    notify: Option<mpsc::UnboundedSender<ActorId>>,
}

impl Actor for Monitor {
    type Msg = MonitorMsg;
}

#[messages]
impl Monitor {
    #[message]
    fn watch(&mut self, target: ActorRef<Worker>, ctx: &mut Context<Self>) {
        ctx.watch_with(&target, |t| Down {
            id: t.id,
            reason: t.reason,
        });
    }

    #[message]
    fn unwatch(&mut self, target: ActorRef<Worker>, ctx: &mut Context<Self>) {
        ctx.unwatch(&target);
    }

    #[message]
    fn down(&mut self, id: ActorId, reason: StopReason) {
        self.downs.push((id, reason));
        if let Some(notify) = &self.notify {
            let _ = notify.send(id);
        }
    }

    /// Waits until the gate opens, so that the mailbox fills behind it.
    #[message]
    async fn hold(&mut self, gate: oneshot::Receiver<()>) {
        let _ = gate.await;
    }

    #[message]
    fn downs(&self) -> Vec<(ActorId, String)> {
        self.downs
            .iter()
            .map(|(id, reason)| (*id, reason.to_string()))
            .collect()
    }
}

fn system() -> System {
    System::builder()
        .supervisor(Supervisor::new(Strategy::OneForOne).intensity(100, Duration::from_secs(1)))
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watcher_hears_of_a_stop_not_of_a_restart() {
    let system = system();
    let monitor = system.spawn(Monitor::default()).unwrap();
    let plain = system.spawn(Worker { generation: 1 }).unwrap();
    let supervised = system.spawn_supervised(worker_spec()).unwrap();
    monitor.watch(plain.clone()).await.unwrap();
    monitor.watch(supervised.clone()).await.unwrap();
    // Twice: still one watch.
    monitor.watch(plain.clone()).await.unwrap();

    let _ = supervised.crash().await;
    assert_eq!(supervised.generation().await.unwrap(), 2, "restarted");
    plain.stop();
    plain.stopped().await;
    assert_eq!(
        monitor.downs().await.unwrap(),
        [(plain.id(), "stopped".to_owned())]
    );

    supervised.kill();
    supervised.stopped().await;
    assert_eq!(
        monitor.downs().await.unwrap()[1],
        (supervised.id(), "killed".to_owned())
    );
    system.shutdown().await;
}

#[tokio::test]
async fn watching_an_actor_that_has_stopped_tells_at_once() {
    let system = system();
    let monitor = system.spawn(Monitor::default()).unwrap();
    let worker = system.spawn(Worker { generation: 1 }).unwrap();
    let _ = worker.crash().await;
    worker.stopped().await;
    monitor.watch(worker.clone()).await.unwrap();
    assert_eq!(
        monitor.downs().await.unwrap(),
        [(worker.id(), "panicked: worker crashed".to_owned())]
    );
    system.shutdown().await;
}

#[tokio::test]
async fn unwatch_and_a_stopped_watcher_leave_nothing_behind() {
    let system = system();
    let monitor = system.spawn(Monitor::default()).unwrap();
    let gone = system.spawn(Monitor::default()).unwrap();
    let worker = system.spawn(Worker { generation: 1 }).unwrap();
    monitor.watch(worker.clone()).await.unwrap();
    monitor.unwatch(worker.clone()).await.unwrap();
    gone.watch(worker.clone()).await.unwrap();
    gone.stop();
    gone.stopped().await;

    worker.stop();
    worker.stopped().await;
    assert!(monitor.downs().await.unwrap().is_empty());
    // The stopped watcher's watch went with it: no notification became a dead letter.
    assert_eq!(system.dead_letters().count(), 0);
    system.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_terminated_for_a_full_mailbox_waits_for_room() {
    let system = system();
    let (notify, mut notified) = mpsc::unbounded_channel();
    let monitor = system
        .spawn_with(
            Monitor {
                notify: Some(notify),
                ..Monitor::default()
            },
            SpawnOptions::new().mailbox(Mailbox::bounded(1)),
        )
        .unwrap();
    let worker = system.spawn(Worker { generation: 1 }).unwrap();
    monitor.watch(worker.clone()).await.unwrap();
    // The monitor waits in `hold`; the one message behind it fills the mailbox.
    let (open, gate) = oneshot::channel();
    monitor.hold(gate).tell().await.unwrap();
    monitor.downs().tell().await.unwrap();
    assert!(monitor.downs().try_tell().unwrap_err().is_full());

    worker.stop();
    worker.stopped().await;
    open.send(()).unwrap();
    assert_eq!(
        notified.recv().await,
        Some(worker.id()),
        "delivered once there was room"
    );
    assert_eq!(system.dead_letters().count(), 0);
    system.shutdown().await;
}

/// A hand-written actor handling `Terminated` itself.
#[derive(Default)]
struct Mourner {
    gone: Vec<ActorId>,
}

impl Actor for Mourner {
    type Msg = DynMessage<Self>;
}

struct Observe(ActorRef<Worker>);
impl Message for Observe {
    type Reply = ();
}
impl Handler<Observe> for Mourner {
    async fn handle(&mut self, Observe(target): Observe, ctx: &mut Context<Self>) {
        ctx.watch(&target);
    }
}
impl Handler<Terminated> for Mourner {
    async fn handle(&mut self, t: Terminated, _: &mut Context<Self>) {
        self.gone.push(t.id);
    }
}
struct Gone;
impl Message for Gone {
    type Reply = Vec<ActorId>;
}
impl Handler<Gone> for Mourner {
    async fn handle(&mut self, _: Gone, _: &mut Context<Self>) -> Vec<ActorId> {
        self.gone.clone()
    }
}

#[tokio::test]
async fn an_actor_can_handle_terminated_itself() {
    let system = system();
    let mourner = system.spawn(Mourner::default()).unwrap();
    let worker = system.spawn(Worker { generation: 1 }).unwrap();
    mourner.ask(Observe(worker.clone())).await.unwrap();
    worker.kill();
    worker.stopped().await;
    assert_eq!(mourner.ask(Gone).await.unwrap(), [worker.id()]);
    system.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_takes_linked_actors_down_a_stop_does_not() {
    let system = system();
    let a = system.spawn(Worker { generation: 1 }).unwrap();
    let b = system.spawn(Worker { generation: 1 }).unwrap();
    let c = system.spawn(Worker { generation: 1 }).unwrap();
    a.link_to(b.clone()).await.unwrap().unwrap();
    a.link_to(c.clone()).await.unwrap().unwrap();
    // A stop is not a failure: `c` only loses its link.
    c.stop();
    c.stopped().await;
    let _ = a.crash().await;
    match b.stopped().await {
        StopReason::LinkFailed { actor, reason } => {
            assert_eq!(actor, a.id());
            assert_eq!(reason.to_string(), "panicked: worker crashed");
        }
        other => panic!("{other:?}"),
    }
    assert!(b.stopped().await.is_failure());
    system.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_belong_to_instances_so_a_failure_does_not_bounce() {
    let system = system();
    let a = system.spawn_supervised(worker_spec()).unwrap();
    let b = system.spawn_supervised(worker_spec()).unwrap();
    a.link_to(b.clone()).await.unwrap().unwrap();
    let _ = a.crash().await;
    // `b` failed with `a` and was restarted; the new instances are not linked.
    assert_eq!(a.generation().await.unwrap(), 2);
    assert_eq!(b.generation().await.unwrap(), 2);
    assert_eq!((a.restarts(), b.restarts()), (1, 1));
    let _ = a.crash().await;
    assert_eq!(a.generation().await.unwrap(), 3);
    assert_eq!(b.generation().await.unwrap(), 2, "no link any more");

    // Unlinked explicitly: no effect either.
    a.link_to(b.clone()).await.unwrap().unwrap();
    a.unlink_from(b.clone()).await.unwrap();
    let _ = b.crash().await;
    assert_eq!(b.generation().await.unwrap(), 3);
    assert_eq!(a.generation().await.unwrap(), 3);
    system.shutdown().await;
}

#[tokio::test]
async fn linking_to_itself_or_to_a_stopped_actor_is_an_error() {
    let system = system();
    let a = system.spawn(Worker { generation: 1 }).unwrap();
    let b = system.spawn(Worker { generation: 1 }).unwrap();
    assert!(matches!(
        a.link_to(a.clone()).await.unwrap(),
        Err(LinkError::ToItself)
    ));
    b.stop();
    b.stopped().await;
    match a.link_to(b.clone()).await.unwrap() {
        Err(LinkError::Stopped { id, reason }) => {
            assert_eq!(id, b.id());
            assert!(matches!(reason, StopReason::Normal));
        }
        other => panic!("{other:?}"),
    }
    system.shutdown().await;
}
