//! The actor scheduler as its users see it: an ask from a tokio task runs its idle actor on
//! the asking thread, requests passed along a chain of actors stay there, and nothing the
//! helped actor wakes or waits for is lost.

use std::future::Future;
use std::pin::pin;
use std::task::{Context as TaskContext, Poll, Waker};

use snowglobe::{Actor, ActorRef, System, messages};
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
fn without_inline_asks_the_actor_runs_on_a_driver() {
    in_a_task_of(System::builder().inline_asks(false), |system| async move {
        let stage = system.spawn(Stage::default()).unwrap();
        stage.double(0).await.unwrap();
        let mut ask = pin!(stage.double(4).into_future());
        assert!(
            poll_once(ask.as_mut()).is_pending(),
            "the asker waits for a driver"
        );
        assert_eq!(ask.await.unwrap(), 8);
    });
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
