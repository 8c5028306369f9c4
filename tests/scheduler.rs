//! The actor scheduler as its users see it: an ask from a tokio task runs its idle actor on
//! the asking thread, requests passed along a chain of actors stay there, a tell that finds
//! the mailbox full runs the actor waiting for a worker, and nothing the helped actor wakes
//! or waits for is lost.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context as TaskContext, Poll, Waker};

use snowglobe::{Actor, ActorRef, Mailbox, SpawnOptions, System, messages};
use tokio::sync::{mpsc, oneshot};

fn poll_once<F: Future>(fut: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    fut.poll(&mut TaskContext::from_waker(Waker::noop()))
}

/// Answers, forwards to the next actor of a chain, fans out, or waits, as asked.
#[derive(Actor, Default)]
struct Stage {
    next: Option<ActorRef<Stage>>,
    seen: Option<mpsc::UnboundedSender<u64>>,
}

#[messages]
impl Stage {
    #[message]
    fn link(&mut self, next: ActorRef<Stage>) {
        self.next = Some(next);
    }

    #[message]
    fn report_to(&mut self, seen: mpsc::UnboundedSender<u64>) {
        self.seen = Some(seen);
    }

    /// Doubles `v` at each stage of the chain.
    #[message]
    async fn double(&mut self, v: u64) -> u64 {
        match &self.next {
            Some(next) => next.double(v).await.unwrap() * 2,
            None => v * 2,
        }
    }

    /// Tells `v` to each of `targets` and returns at once.
    #[message]
    async fn scatter(&mut self, v: u64, targets: Vec<ActorRef<Stage>>) {
        for target in &targets {
            target.record(v).tell().await.unwrap();
        }
    }

    #[message]
    fn record(&mut self, v: u64) {
        if let Some(seen) = &self.seen {
            seen.send(v).unwrap();
        }
    }

    /// Answers once `gate` opens.
    #[message]
    async fn after(&mut self, gate: oneshot::Receiver<u64>) -> u64 {
        gate.await.unwrap()
    }
}

/// Notes each value it is told, with the tokio task that ran the handler.
#[derive(Actor, Default)]
struct Log {
    seen: Vec<(u64, Option<tokio::task::Id>)>,
}

#[messages]
impl Log {
    #[message]
    fn note(&mut self, v: u64) {
        self.seen.push((v, tokio::task::try_id()));
    }

    #[message]
    fn take(&mut self) -> Vec<(u64, Option<tokio::task::Id>)> {
        std::mem::take(&mut self.seen)
    }

    /// Says it started, and returns once `gate` opens; counts its polls in `polls`.
    #[message]
    async fn hold(
        &mut self,
        started: oneshot::Sender<()>,
        mut gate: oneshot::Receiver<()>,
        polls: Arc<AtomicUsize>,
    ) {
        started.send(()).unwrap();
        std::future::poll_fn(|cx| {
            polls.fetch_add(1, Ordering::SeqCst);
            std::pin::Pin::new(&mut gate).poll(cx)
        })
        .await
        .unwrap();
    }
}

/// The capacity of the small mailboxes below.
const SMALL: usize = 8;

/// A `Log` with a mailbox of [`SMALL`], started and parked.
async fn small_log(system: &System) -> ActorRef<Log> {
    let options = SpawnOptions::new().mailbox(Mailbox::bounded(SMALL));
    let log = system.spawn_with(Log::default(), options).unwrap();
    log.take().await.unwrap();
    log
}

/// Runs `test` as a tokio task (an ask helps only from a task) on a runtime whose one thread
/// has run the system's driver once.
fn in_a_task<F, Fut>(test: F)
where
    F: FnOnce(System) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    in_a_task_of(System::builder(), test);
}

fn in_a_task_of<F, Fut>(builder: snowglobe::SystemBuilder, test: F)
where
    F: FnOnce(System) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    runtime.block_on(async {
        let system = builder.build().unwrap();
        // One ask the usual way: the driver runs on this thread from then on.
        let warm = system.spawn(Stage::default()).unwrap();
        assert_eq!(warm.double(1).await.unwrap(), 2);
        tokio::spawn(test(system.clone())).await.unwrap();
        system.shutdown().await;
    });
}

#[test]
fn an_ask_from_a_task_is_answered_in_its_first_poll() {
    in_a_task(|system| async move {
        let stage = system.spawn(Stage::default()).unwrap();
        // Started and parked (a new actor's task is queued for a driver, not woken).
        stage.double(0).await.unwrap();
        for v in 0..100 {
            let mut ask = pin!(stage.double(v).into_future());
            // The asking task ran the idle actor itself: no driver, no second poll.
            assert!(matches!(poll_once(ask.as_mut()), Poll::Ready(Ok(r)) if r == 2 * v));
        }
    });
}

#[test]
fn without_inline_handlers_the_actor_runs_on_a_driver() {
    in_a_task_of(
        System::builder().inline_handlers(false),
        |system| async move {
            let stage = system.spawn(Stage::default()).unwrap();
            stage.double(0).await.unwrap();
            let mut ask = pin!(stage.double(4).into_future());
            assert!(
                poll_once(ask.as_mut()).is_pending(),
                "the asker waits for a driver"
            );
            assert_eq!(ask.await.unwrap(), 8);
        },
    );
}

#[test]
fn a_request_passed_along_a_chain_of_actors_is_answered_in_its_first_poll() {
    in_a_task(|system| async move {
        let stages: Vec<ActorRef<Stage>> = (0..4)
            .map(|_| system.spawn(Stage::default()).unwrap())
            .collect();
        for pair in stages.windows(2) {
            pair[0].link(pair[1].clone()).await.unwrap();
        }
        for stage in &stages {
            stage.double(0).await.unwrap();
        }
        let mut ask = pin!(stages[0].double(3).into_future());
        assert!(matches!(poll_once(ask.as_mut()), Poll::Ready(Ok(48))));
    });
}

#[test]
fn the_other_actors_a_helped_actor_wakes_all_run() {
    in_a_task(|system| async move {
        let (seen, mut reports) = mpsc::unbounded_channel();
        let mut targets = Vec::new();
        for _ in 0..10 {
            let target = system.spawn(Stage::default()).unwrap();
            target.report_to(seen.clone()).await.unwrap();
            targets.push(target);
        }
        let scatterer = system.spawn(Stage::default()).unwrap();
        scatterer.scatter(7, targets).await.unwrap();
        for _ in 0..10 {
            assert_eq!(reports.recv().await, Some(7));
        }
    });
}

#[test]
fn a_helped_handler_that_waits_is_finished_by_a_driver() {
    in_a_task(|system| async move {
        let stage = system.spawn(Stage::default()).unwrap();
        stage.double(0).await.unwrap();
        let (open, gate) = oneshot::channel();
        let mut ask = pin!(stage.after(gate).into_future());
        assert!(poll_once(ask.as_mut()).is_pending(), "the handler waits");
        open.send(5).unwrap();
        assert_eq!(ask.await.unwrap(), 5);
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asks_from_many_tasks_on_two_workers_are_all_answered() {
    let system = System::new();
    let stages: Vec<ActorRef<Stage>> = (0..4)
        .map(|_| system.spawn(Stage::default()).unwrap())
        .collect();
    for pair in stages.windows(2) {
        pair[0].link(pair[1].clone()).await.unwrap();
    }
    let mut askers = Vec::new();
    for task in 0..8u64 {
        let first = stages[(task % 4) as usize].clone();
        let depth = 4 - task % 4;
        askers.push(tokio::spawn(async move {
            for v in 0..500 {
                assert_eq!(first.double(v).await.unwrap(), v << depth);
            }
        }));
    }
    for asker in askers {
        asker.await.unwrap();
    }
    system.shutdown().await;
}

#[test]
fn a_tell_to_a_full_mailbox_runs_the_waiting_actor_in_its_first_poll() {
    in_a_task(|system| async move {
        let log = small_log(&system).await;
        // The first tell wakes the actor, which then waits for the worker this task holds.
        for v in 0..SMALL as u64 {
            log.note(v).tell().await.unwrap();
        }
        let mut tell = pin!(log.note(SMALL as u64).tell());
        assert!(
            matches!(poll_once(tell.as_mut()), Poll::Ready(Ok(()))),
            "the sender ran the actor and found room"
        );
        let me = tokio::task::id();
        let seen = log.take().await.unwrap();
        let values: Vec<u64> = seen.iter().map(|(v, _)| *v).collect();
        assert_eq!(values, (0..=SMALL as u64).collect::<Vec<_>>());
        assert!(
            seen[..SMALL].iter().all(|(_, task)| *task == Some(me)),
            "the full mailbox's messages were handled in the sender's task: {seen:?}"
        );
    });
}

#[test]
fn a_sender_that_keeps_finding_the_mailbox_full_gives_its_worker_back_now_and_then() {
    in_a_task(|system| async move {
        let log = small_log(&system).await;
        let me = tokio::task::id();
        let streamed = SMALL * 39;
        let count = (streamed + SMALL) as u64;
        for v in 0..count {
            log.note(v).tell().await.unwrap();
        }
        let seen = log.take().await.unwrap();
        let values: Vec<u64> = seen.iter().map(|(v, _)| *v).collect();
        assert_eq!(values, (0..count).collect::<Vec<_>>(), "all, in order");
        assert!(
            seen.iter().any(|(_, task)| *task == Some(me)),
            "the sender ran the actor"
        );
        assert!(
            seen[..streamed].iter().any(|(_, task)| *task != Some(me)),
            "and waited at times while it streamed, its worker running the actor's driver"
        );
    });
}

#[test]
fn without_inline_handlers_a_tell_to_a_full_mailbox_waits() {
    in_a_task_of(
        System::builder().inline_handlers(false),
        |system| async move {
            let log = small_log(&system).await;
            for v in 0..SMALL as u64 {
                log.note(v).tell().await.unwrap();
            }
            let mut tell = pin!(log.note(SMALL as u64).tell());
            assert!(poll_once(tell.as_mut()).is_pending(), "it waits for room");
            tell.await.unwrap();
            assert_eq!(log.take().await.unwrap().len(), SMALL + 1);
        },
    );
}

#[test]
fn a_sender_does_not_run_an_actor_that_waits_in_a_handler() {
    in_a_task(|system| async move {
        let log = small_log(&system).await;
        let (open, gate) = oneshot::channel();
        let (started, start) = oneshot::channel();
        let polls = Arc::new(AtomicUsize::new(0));
        log.hold(started, gate, polls.clone()).tell().await.unwrap();
        start.await.unwrap();
        let polled = polls.load(Ordering::SeqCst);
        for v in 0..SMALL as u64 {
            log.note(v).tell().await.unwrap();
        }
        let mut tell = pin!(log.note(SMALL as u64).tell());
        assert!(
            poll_once(tell.as_mut()).is_pending(),
            "the actor waits for its gate, not for a worker: the sender waits for room"
        );
        assert_eq!(
            polls.load(Ordering::SeqCst),
            polled,
            "nor did it poll the handler"
        );
        open.send(()).unwrap();
        tell.await.unwrap();
        assert_eq!(log.take().await.unwrap().len(), SMALL + 1);
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tells_from_many_tasks_to_a_small_mailbox_on_two_workers_all_arrive_in_order() {
    let system = System::new();
    let log = small_log(&system).await;
    let senders = 4u64;
    let each = 5_000u64;
    let mut tasks = Vec::new();
    for sender in 0..senders {
        let log = log.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..each {
                log.note(sender * each + i).tell().await.unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let seen = log.take().await.unwrap();
    assert_eq!(seen.len() as u64, senders * each, "none lost");
    for sender in 0..senders {
        let own: Vec<u64> = seen
            .iter()
            .map(|(v, _)| *v)
            .filter(|v| v / each == sender)
            .collect();
        assert_eq!(
            own,
            (sender * each..(sender + 1) * each).collect::<Vec<_>>(),
            "sender {sender}'s messages in the order sent"
        );
    }
    system.shutdown().await;
}

/// Streams `sent` tells into an unbounded `Log` from a task that never pauses, on a runtime
/// of one thread; returns the deepest backlog seen after a tell. Every tell must be done in
/// its first poll: an unbounded mailbox never makes a sender wait.
async fn stream_into_unbounded(system: &System, sent: u64) -> usize {
    let options = SpawnOptions::new().mailbox(Mailbox::unbounded());
    let log = system.spawn_with(Log::default(), options).unwrap();
    log.take().await.unwrap();
    let mut deepest = 0;
    for v in 0..sent {
        assert!(
            matches!(poll_once(pin!(log.note(v).tell())), Poll::Ready(Ok(()))),
            "tell {v} waited"
        );
        deepest = deepest.max(log.mailbox_len());
    }
    let seen = log.take().await.unwrap();
    assert_eq!(
        seen.iter().map(|(v, _)| *v).collect::<Vec<_>>(),
        (0..sent).collect::<Vec<_>>(),
        "every message, in the order sent"
    );
    deepest
}

#[test]
fn a_tell_stream_into_an_unbounded_mailbox_runs_the_actor_once_a_backlog_builds() {
    in_a_task(|system| async move {
        // The sender keeps the only thread: the actor runs only when the sender runs it.
        let deepest = stream_into_unbounded(&system, 20_000).await;
        assert!(
            deepest < 2 * Mailbox::DEFAULT_CAPACITY,
            "the backlog grew to {deepest}"
        );
    });
}

#[test]
fn without_inline_handlers_an_unbounded_backlog_waits_for_the_sender_to_pause() {
    let builder = System::builder().inline_handlers(false);
    in_a_task_of(builder, |system| async move {
        let deepest = stream_into_unbounded(&system, 20_000).await;
        assert_eq!(
            deepest, 20_000,
            "nothing ran the actor while the sender streamed"
        );
    });
}

#[test]
fn an_ask_after_a_burst_that_ran_the_actor_is_answered_in_its_first_poll() {
    in_a_task(|system| async move {
        let log = small_log(&system).await;
        // The last tell finds the mailbox full and runs the actor, which parks with its queue
        // entry left behind: the ask's wake-up queues nothing, and the asker claims it.
        for v in 0..=SMALL as u64 {
            log.note(v).tell().await.unwrap();
        }
        let mut ask = pin!(log.take().into_future());
        assert!(
            matches!(poll_once(ask.as_mut()), Poll::Ready(Ok(seen)) if seen.len() == SMALL + 1),
            "answered in the ask's first poll"
        );
    });
}
