//! Messaging: `tell`, `try_tell`, `ask`, their errors, backpressure, ordering, headers.

mod support;

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll, Waker};
use std::time::Duration;

use proptest::prelude::*;
use snowglobe::{
    ActorRef, AskError, Handled, Mailbox, MessageId, Recipient, SpawnOptions, System, TellError,
};
use support::{Forever, Hold, Probe, Record, Seen, WhatHeaders, gate};
use tokio::sync::oneshot;

fn small_mailbox(system: &System, capacity: usize) -> ActorRef<Probe> {
    system
        .spawn_with(
            Probe::default(),
            SpawnOptions::new().mailbox(Mailbox::bounded(capacity)),
        )
        .unwrap()
}

/// Starts a handler that holds the actor until the returned sender is used.
async fn hold(probe: &ActorRef<Probe>) -> oneshot::Sender<()> {
    let (started_tx, started) = oneshot::channel();
    let (open, gate) = oneshot::channel();
    probe
        .tell(Hold {
            started: started_tx,
            gate,
        })
        .await
        .unwrap();
    started.await.unwrap();
    open
}

fn poll_once<F: Future>(fut: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    fut.poll(&mut TaskContext::from_waker(Waker::noop()))
}

#[tokio::test]
async fn smoke_tell_then_ask() {
    let system = System::new();
    let probe = system.spawn(Probe::default()).unwrap();
    probe.tell(Record(1)).await.unwrap();
    probe.try_tell(Record(2)).unwrap();
    assert_eq!(probe.ask(Seen).await.unwrap(), vec![1, 2]);
}

#[tokio::test]
async fn try_tell_on_a_full_mailbox_gives_the_message_back() {
    let system = System::new();
    let probe = small_mailbox(&system, 2);
    let open = hold(&probe).await;
    probe.try_tell(Record(1)).unwrap();
    probe.try_tell(Record(2)).unwrap();
    match probe.try_tell(Record(3)) {
        Err(TellError::Full(Record(3))) => {}
        other => panic!("expected Full(Record(3)), got {other:?}"),
    }
    open.send(()).unwrap();
    assert_eq!(probe.ask(Seen).await.unwrap(), vec![1, 2], "nothing lost");
}

#[tokio::test]
async fn tell_waits_for_room_then_delivers() {
    let system = System::new();
    let probe = small_mailbox(&system, 1);
    let open = hold(&probe).await;
    probe.tell(Record(1)).await.unwrap();
    let mut waiting = pin!(probe.tell(Record(2)));
    assert!(
        poll_once(waiting.as_mut()).is_pending(),
        "the mailbox is full"
    );
    open.send(()).unwrap();
    waiting.await.unwrap();
    assert_eq!(probe.ask(Seen).await.unwrap(), vec![1, 2]);
}

#[tokio::test]
async fn a_tell_polled_again_after_it_completed_claims_nothing() {
    let system = System::new();
    let probe = small_mailbox(&system, 2);
    let open = hold(&probe).await;
    let mut tell = pin!(probe.tell(Record(1)));
    assert!(matches!(poll_once(tell.as_mut()), Poll::Ready(Ok(()))));
    assert!(poll_once(tell.as_mut()).is_pending());
    assert_eq!(probe.mailbox_len(), 1, "the second poll took no slot");
    probe.try_tell(Record(2)).unwrap();
    assert!(matches!(probe.try_tell(Record(3)), Err(TellError::Full(_))));
    open.send(()).unwrap();
    assert_eq!(probe.ask(Seen).await.unwrap(), vec![1, 2]);
}

#[tokio::test]
async fn tell_to_a_stopped_actor_gives_the_message_back() {
    let system = System::new();
    let probe = system.spawn(Probe::default()).unwrap();
    probe.stop();
    probe.stopped().await;
    assert!(matches!(
        probe.tell(Record(1)).await,
        Err(TellError::Closed(Record(1)))
    ));
    assert!(matches!(
        probe.try_tell(Record(2)),
        Err(TellError::Closed(Record(2)))
    ));
    match probe.ask(Record(3)).await {
        Err(AskError::Closed(Record(3))) => {}
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_waiting_tell_learns_that_the_actor_stopped() {
    let system = System::new();
    let probe = small_mailbox(&system, 1);
    let _open = hold(&probe).await;
    probe.tell(Record(1)).await.unwrap();
    let mut waiting = pin!(probe.tell(Record(2)));
    assert!(poll_once(waiting.as_mut()).is_pending());
    probe.kill();
    assert!(matches!(waiting.await, Err(TellError::Closed(Record(2)))));
}

#[tokio::test(start_paused = true)]
async fn ask_times_out_at_its_deadline() {
    let system = System::new();
    let probe = system.spawn(Probe::default()).unwrap();
    let start = system.now();
    let result = probe.ask(Forever).timeout(Duration::from_millis(50)).await;
    assert!(matches!(result, Err(AskError::Timeout)), "{result:?}");
    assert_eq!(result.unwrap_err().was_handled(), Handled::Unknown);
    let waited = system.now().saturating_duration_since(start);
    assert!(waited >= Duration::from_millis(50), "{waited:?}");
}

/// Polls `fut` to the end on this thread, parking between polls: an executor that is not a
/// tokio runtime.
fn block_on_plain_thread<F: std::future::IntoFuture>(fut: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl std::task::Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = TaskContext::from_waker(&waker);
    let mut fut = pin!(fut.into_future());
    loop {
        match fut.as_mut().poll(&mut cx) {
            Poll::Ready(out) => return out,
            Poll::Pending => std::thread::park(),
        }
    }
}

/// An ask awaited by a plain thread, outside any runtime, is answered, and one that gets no
/// answer ends at its deadline: its first wait has no runtime to defer its wake-up to, so it
/// registers its deadline at its second.
#[test]
fn an_ask_from_a_plain_thread_is_answered_or_times_out() {
    let system = System::builder().worker_threads(1).build().unwrap();
    let probe = system.spawn(Probe::default()).unwrap();
    std::thread::scope(|scope| {
        scope.spawn(|| {
            assert_eq!(block_on_plain_thread(probe.ask(Record(5))).unwrap(), 1);
            let result =
                block_on_plain_thread(probe.ask(Forever).timeout(Duration::from_millis(20)));
            assert!(matches!(result, Err(AskError::Timeout)), "{result:?}");
        });
    });
    // The handler of `Forever` never returns: a graceful stop would wait for it.
    probe.kill();
    system.block_on(system.shutdown());
}

#[tokio::test(start_paused = true)]
async fn every_ask_has_the_system_default_deadline() {
    let system = System::builder()
        .ask_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let probe = system.spawn(Probe::default()).unwrap();
    let start = system.now();
    assert!(matches!(probe.ask(Forever).await, Err(AskError::Timeout)));
    assert_eq!(
        system.now().saturating_duration_since(start),
        Duration::from_secs(2)
    );
}

#[tokio::test(start_paused = true)]
async fn an_ask_waiting_for_room_gives_the_message_back_at_its_deadline() {
    let system = System::new();
    let probe = small_mailbox(&system, 1);
    let _open = hold(&probe).await;
    probe.tell(Record(1)).await.unwrap();
    match probe
        .ask(Record(2))
        .timeout(Duration::from_millis(10))
        .await
    {
        Err(AskError::Full(Record(2))) => {}
        other => panic!("{other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn senders_waiting_on_a_full_mailbox_leave_the_runtime_idle() {
    // Waiting senders must park, not wake each other in a loop: with the clock paused, time
    // only moves (and the ask below only times out) once every task is idle.
    let system = System::new();
    let probe = small_mailbox(&system, 1);
    let open = hold(&probe).await;
    probe.tell(Record(0)).await.unwrap();
    let waiting: Vec<_> = (1..=3)
        .map(|v| {
            let probe = probe.clone();
            tokio::spawn(async move { probe.tell(Record(v)).await })
        })
        .collect();
    match probe.ask(Record(9)).timeout(Duration::from_secs(1)).await {
        Err(AskError::Full(Record(9))) => {}
        other => panic!("{other:?}"),
    }
    open.send(()).unwrap();
    for w in waiting {
        w.await.unwrap().unwrap();
    }
    let mut seen = probe.ask(Seen).await.unwrap();
    seen.sort_unstable();
    assert_eq!(seen, vec![0, 1, 2, 3], "every waiting sender got through");
}

#[tokio::test(start_paused = true)]
async fn the_deadline_travels_in_the_headers() {
    let system = System::new();
    let probe = system.spawn(Probe::default()).unwrap();
    let before = system.now();
    let headers = probe
        .ask(WhatHeaders)
        .timeout(Duration::from_secs(3))
        .await
        .unwrap();
    let deadline = headers.deadline().expect("an ask carries its deadline");
    assert_eq!(
        deadline.saturating_duration_since(before),
        Duration::from_secs(3)
    );
    assert_eq!(headers.sender(), None, "sent from outside any actor");
}

#[tokio::test]
async fn headers_name_the_sending_actor_and_keep_a_given_id() {
    let system = System::new();
    let target = system.spawn(Probe::default()).unwrap();
    let relay = system.spawn(Relay).unwrap();
    let headers = relay.ask(AskHeaders(target.clone())).await.unwrap();
    assert_eq!(headers.sender(), Some(relay.id()));

    let id = MessageId::new(424_242).unwrap();
    let headers = target.ask(WhatHeaders).message_id(id).await.unwrap();
    assert_eq!(headers.id(), id);
    let a = target.ask(WhatHeaders).await.unwrap().id();
    let b = target.ask(WhatHeaders).await.unwrap().id();
    assert_ne!(a, b);
}

#[tokio::test]
async fn recipients_reach_actors_of_any_type() {
    let system = System::new();
    let probe = system.spawn(Probe::default()).unwrap();
    let recipient: Recipient<Record> = probe.recipient();
    assert_eq!(recipient.id(), probe.id());
    recipient.tell(Record(1)).await.unwrap();
    recipient.try_tell(Record(2)).unwrap();
    assert_eq!(recipient.ask(Record(3)).await.unwrap(), 3);
    let also: Recipient<Record> = probe.clone().into();
    assert_eq!(also, recipient);
    probe.stop();
    probe.stopped().await;
    assert!(!recipient.is_alive());
    assert!(matches!(
        recipient.try_tell(Record(4)),
        Err(TellError::Closed(Record(4)))
    ));
}

#[tokio::test]
async fn weak_refs_upgrade_only_while_the_actor_runs() {
    let system = System::new();
    let probe = system.spawn(Probe::default()).unwrap();
    let weak = probe.downgrade();
    assert_eq!(weak.id(), probe.id());
    let strong = weak.upgrade().expect("running");
    assert_eq!(strong, probe);
    probe.stop();
    probe.stopped().await;
    assert!(weak.upgrade().is_none());
}

#[tokio::test]
async fn the_actor_ref_is_one_pointer_wide() {
    assert_eq!(
        std::mem::size_of::<ActorRef<Probe>>(),
        std::mem::size_of::<usize>()
    );
    fn assert_send_sync_clone<T: Send + Sync + Clone>() {}
    assert_send_sync_clone::<ActorRef<Probe>>();
    assert_send_sync_clone::<Recipient<Record>>();
}

#[tokio::test]
async fn a_gate_lets_a_waiting_handler_finish() {
    // The support gate works as the other tests assume.
    let system = System::new();
    let probe = system.spawn(Probe::default()).unwrap();
    let (open, wait) = gate();
    let pending = {
        let probe = probe.clone();
        tokio::spawn(async move { probe.ask(wait).await })
    };
    open.send(()).unwrap();
    pending.await.unwrap().unwrap();
}

/// Per sender, messages arrive in the order they were sent, and none is lost: many senders,
/// small mailboxes (so backpressure kicks in), multi-thread runtime.
fn fifo_case(senders: usize, per_sender: usize, capacity: usize) -> Result<(), TestCaseError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let system = System::new();
        let probe = small_mailbox(&system, capacity);
        let mut tasks = Vec::new();
        for s in 0..senders {
            let probe = probe.clone();
            tasks.push(tokio::spawn(async move {
                for i in 0..per_sender {
                    let v = (s * 1_000_000 + i) as u64;
                    if i % 3 == 0 {
                        // mix in try_tell with a retry on Full
                        let mut msg = Record(v);
                        loop {
                            match probe.try_tell(msg) {
                                Ok(()) => break,
                                Err(TellError::Full(m)) => {
                                    msg = m;
                                    tokio::task::yield_now().await;
                                }
                                Err(e) => panic!("{e}"),
                            }
                        }
                    } else {
                        probe.tell(Record(v)).await.unwrap();
                    }
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let seen = probe.ask(Seen).await.unwrap();
        prop_assert_eq!(seen.len(), senders * per_sender);
        let mut next = vec![0u64; senders];
        for v in seen {
            let (s, i) = ((v / 1_000_000) as usize, v % 1_000_000);
            prop_assert_eq!(i, next[s], "sender {} out of order", s);
            next[s] += 1;
        }
        system.shutdown().await;
        Ok(())
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn fifo_per_sender_under_many_senders(
        senders in 1usize..8,
        per_sender in 1usize..400,
        capacity in 1usize..64,
    ) {
        fifo_case(senders, per_sender, capacity)?;
    }
}

// --- actors used above -------------------------------------------------------------------

use snowglobe::{Actor, Context, DynMessage, Handler, Headers, Message};

struct Relay;
impl Actor for Relay {
    type Msg = DynMessage<Self>;
}

/// Asks the given probe for the headers it sees, from inside this actor.
struct AskHeaders(ActorRef<Probe>);
impl Message for AskHeaders {
    type Reply = Headers;
}
impl Handler<AskHeaders> for Relay {
    async fn handle(&mut self, AskHeaders(target): AskHeaders, _: &mut Context<Self>) -> Headers {
        target.ask(WhatHeaders).await.unwrap()
    }
}

/// Counts its messages and notes at which one it saw the flag another task sets.
struct Counting {
    handled: u64,
    flag: Arc<std::sync::atomic::AtomicBool>,
    first_seen: Arc<std::sync::Mutex<Option<u64>>>,
}

impl Actor for Counting {
    type Msg = snowglobe::DynMessage<Self>;
}

struct Nudge;

impl snowglobe::Message for Nudge {
    type Reply = ();
}

impl snowglobe::Handler<Nudge> for Counting {
    // An async handler that never waits: dispatched as a future, done at its first poll.
    async fn handle(&mut self, _: Nudge, _: &mut Context<Self>) {
        self.handled += 1;
        if self.flag.load(std::sync::atomic::Ordering::Relaxed) {
            self.first_seen.lock().unwrap().get_or_insert(self.handled);
        }
    }
}

/// An actor draining a deep mailbox through handlers that never wait still yields every
/// 1024 messages: another task on the same thread runs within the first two thousand.
#[tokio::test(flavor = "current_thread")]
async fn an_actor_whose_async_handlers_never_wait_still_yields_to_other_tasks() {
    let system = System::new();
    let flag = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let first_seen = Arc::new(std::sync::Mutex::new(None));
    let actor = system
        .spawn_with(
            Counting {
                handled: 0,
                flag: flag.clone(),
                first_seen: first_seen.clone(),
            },
            SpawnOptions::new().mailbox(Mailbox::Unbounded),
        )
        .unwrap();
    for _ in 0..100_000 {
        actor.try_tell(Nudge).unwrap();
    }
    let setter = flag.clone();
    tokio::spawn(async move { setter.store(true, std::sync::atomic::Ordering::Relaxed) });
    actor.ask(Nudge).await.unwrap();
    let first = *first_seen.lock().unwrap();
    assert!(
        first.is_some_and(|n| n <= 2 * 1024),
        "the other task first ran after message {first:?}"
    );
    system.shutdown().await;
}
