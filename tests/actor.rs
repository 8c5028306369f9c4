//! Actor lifecycle: start, graceful stop, kill, panics, timers.

mod support;

use std::time::Duration;

use snowglobe::{
    AskError, DeadLetterReason, PanicMessage, SpawnOptions, StopReason, System, TellError,
};
use support::{
    Boom, Forever, Hold, HoldBomb, Journal, KillSelfThenWait, Probe, Record, Seen, StopSelf, gate,
};
use tokio::sync::oneshot;

#[tokio::test]
async fn smoke_spawn_ask_stop() {
    let system = System::new();
    let journal = Journal::default();
    let probe = system.spawn(Probe::named("p", &journal)).unwrap();
    assert_eq!(probe.ask(Record(7)).await.unwrap(), 1);
    probe.stop();
    assert!(matches!(probe.stopped().await, StopReason::Normal));
    assert_eq!(journal.entries(), ["p started", "p stopped: stopped"]);
}

#[tokio::test]
async fn graceful_stop_handles_queued_messages_then_refuses_new_ones() {
    let system = System::new();
    let journal = Journal::default();
    let probe = system.spawn(Probe::named("p", &journal)).unwrap();
    let (open, wait) = gate();
    probe.tell(wait).await.unwrap();
    for v in 0..10 {
        probe.tell(Record(v)).await.unwrap();
    }
    probe.stop();
    // The stop is seen only after the gate opens; the ten records queued before it count.
    let late = probe.try_tell(Record(99));
    open.send(()).unwrap();
    let reason = probe.stopped().await;
    assert!(matches!(reason, StopReason::Normal), "{reason:?}");
    assert!(
        late.is_ok() || matches!(late, Err(TellError::Closed(Record(99)))),
        "a tell racing the stop is either queued before it or refused with the message back"
    );
    assert!(matches!(
        probe.try_tell(Record(100)),
        Err(TellError::Closed(Record(100)))
    ));
    assert_eq!(system.dead_letters().count(), 0, "nothing queued was lost");
    assert_eq!(journal.entries().last().unwrap(), "p stopped: stopped");
}

#[tokio::test]
async fn kill_interrupts_the_running_handler_and_dead_letters_the_queue() {
    let system = System::new();
    let journal = Journal::default();
    let probe = system.spawn(Probe::named("p", &journal)).unwrap();
    let (running, _gate) = hold(&probe).await;
    let queued = {
        let probe = probe.clone();
        tokio::spawn(async move { probe.ask(Record(1)).await })
    };
    probe.try_tell(Record(2)).unwrap();
    wait_for_queue(&probe, 2).await;
    probe.kill();
    assert!(matches!(probe.stopped().await, StopReason::Killed));
    assert!(matches!(running.await.unwrap(), Err(AskError::Interrupted)));
    assert!(matches!(queued.await.unwrap(), Err(AskError::Stopped)));
    let dead = system.dead_letters();
    assert_eq!(dead.count_of(&DeadLetterReason::Interrupted), 1);
    assert_eq!(dead.count_of(&DeadLetterReason::ActorStopped), 2);
    assert_eq!(journal.entries().last().unwrap(), "p stopped: killed");
}

#[tokio::test]
async fn a_panicking_handler_fails_its_ask_and_stops_only_its_actor() {
    let system = System::new();
    let journal = Journal::default();
    let victim = system.spawn(Probe::named("victim", &journal)).unwrap();
    let bystander = system.spawn(Probe::named("bystander", &journal)).unwrap();

    let (_held, open) = hold(&victim).await;
    let crash = {
        let victim = victim.clone();
        tokio::spawn(async move { victim.ask(Boom("card number malformed")).await })
    };
    wait_for_queue(&victim, 1).await;
    let behind = {
        let victim = victim.clone();
        tokio::spawn(async move { victim.ask(Record(1)).await })
    };
    wait_for_queue(&victim, 2).await;
    open.send(()).unwrap();

    match crash.await.unwrap() {
        Err(AskError::Panicked(p)) => assert_eq!(p.as_str(), "card number malformed"),
        other => panic!("expected a panic error, got {other:?}"),
    }
    let reason = victim.stopped().await;
    assert!(
        matches!(&reason, StopReason::Panicked(p) if p == &PanicMessage::new("card number malformed")),
        "{reason:?}"
    );
    assert!(matches!(behind.await.unwrap(), Err(AskError::Stopped)));

    // The rest of the system goes on.
    assert_eq!(bystander.ask(Record(5)).await.unwrap(), 1);
    assert!(bystander.is_alive());
    let after = system.spawn(Probe::default()).unwrap();
    assert_eq!(after.ask(Record(1)).await.unwrap(), 1);

    let letters = system.dead_letters().recent();
    assert!(letters.iter().any(|d| matches!(
        d.reason(),
        DeadLetterReason::HandlerPanicked(p) if p.as_str() == "card number malformed"
    ) && d.message_type().ends_with("Boom")));
    system.shutdown().await;
}

#[tokio::test]
async fn a_failed_start_stops_the_actor_without_on_stop() {
    let system = System::new();
    let journal = Journal::default();
    let probe = system
        .spawn(Probe {
            name: "p",
            journal: journal.clone(),
            fail_start: true,
            ..Probe::default()
        })
        .unwrap();
    let ask = probe.ask(Record(1)).await;
    assert!(
        matches!(ask, Err(AskError::Stopped | AskError::Closed(_))),
        "{ask:?}"
    );
    match probe.stopped().await {
        StopReason::StartFailed(e) => assert_eq!(e.to_string(), "p refused to start"),
        other => panic!("{other:?}"),
    }
    assert!(journal.entries().is_empty(), "neither started nor on_stop");
}

#[tokio::test]
async fn a_panic_in_on_start_is_caught() {
    let system = System::new();
    let probe = system
        .spawn(Probe {
            name: "p",
            panic_on_start: true,
            ..Probe::default()
        })
        .unwrap();
    match probe.stopped().await {
        StopReason::Panicked(p) => assert_eq!(p.as_str(), "p panicked in on_start"),
        other => panic!("{other:?}"),
    }
    assert!(system.spawn(Probe::default()).is_ok());
}

#[tokio::test]
async fn an_actor_can_stop_itself() {
    let system = System::new();
    let probe = system.spawn(Probe::default()).unwrap();
    probe.tell(StopSelf).await.unwrap();
    assert!(matches!(probe.stopped().await, StopReason::Normal));
    assert!(!probe.is_alive());
}

#[tokio::test]
async fn one_message_at_a_time() {
    // While a handler awaits, the messages behind it wait: nothing else is handled until the
    // gate opens.
    let system = System::new();
    let probe = system.spawn(Probe::default()).unwrap();
    let (_held, open) = hold(&probe).await;
    probe.tell(Record(1)).await.unwrap();
    let seen = {
        let probe = probe.clone();
        tokio::spawn(async move { probe.ask(Seen).await })
    };
    wait_for_queue(&probe, 2).await;
    for _ in 0..100 {
        tokio::task::yield_now().await;
    }
    assert!(
        !seen.is_finished(),
        "a second message ran while the first was awaiting"
    );
    assert_eq!(probe.mailbox_len(), 2);
    open.send(()).unwrap();
    assert_eq!(seen.await.unwrap().unwrap(), vec![1]);
}

#[tokio::test]
async fn children_stop_before_their_parent() {
    let system = System::new();
    let journal = Journal::default();
    let parent = system.spawn(Parent(journal.clone())).unwrap();
    parent.ask(SpawnChildren).await.unwrap();
    parent.stop();
    parent.stopped().await;
    assert_eq!(
        journal.entries(),
        [
            "parent started",
            "first started",
            "second started",
            "second stopped: shut down",
            "first stopped: shut down",
            "parent stopped: stopped",
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn send_after_and_send_interval_run_on_the_system_clock() {
    let system = System::new();
    let ticker = system.spawn(Ticker::default()).unwrap();
    ticker.ask(StartTimers).await.unwrap();
    let start = system.now();
    // Virtual time: the paused clock advances only when every task is idle.
    tokio::time::sleep(Duration::from_millis(350)).await;
    let (after, ticks) = ticker.ask(Ticks).await.unwrap();
    assert_eq!(after, 1, "the one-shot fired once");
    assert_eq!(ticks, 3, "ticks at 100, 200, 300 ms");
    assert!(system.now().saturating_duration_since(start) >= Duration::from_millis(350));

    ticker.ask(CancelInterval).await.unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(ticker.ask(Ticks).await.unwrap(), (1, 3), "cancelled");
    system.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn timers_stop_with_their_actor() {
    let system = System::new();
    let ticker = system.spawn(Ticker::default()).unwrap();
    ticker.ask(StartTimers).await.unwrap();
    ticker.stop();
    ticker.stopped().await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        system.dead_letters().count(),
        0,
        "no timer fired into the stopped actor"
    );
}

#[tokio::test]
async fn named_children_release_their_names_when_they_stop() {
    let system = System::new();
    let journal = Journal::default();
    let parent = system.spawn(Parent(journal)).unwrap();
    parent.ask(SpawnChildren).await.unwrap();
    assert!(system.lookup::<Probe>("second").is_ok());
    parent.stop();
    parent.stopped().await;
    assert!(system.lookup::<Probe>("second").is_err());
    assert_eq!(system.registered_count(), 0);
}

#[tokio::test]
async fn a_forever_handler_blocks_graceful_stop_but_not_kill() {
    let system = System::new();
    let probe = system.spawn(Probe::default()).unwrap();
    probe.tell(Forever).await.unwrap();
    probe.stop();
    // still alive: graceful stop waits for the handler
    tokio::task::yield_now().await;
    assert!(probe.is_alive());
    probe.kill();
    assert!(matches!(probe.stopped().await, StopReason::Killed));
}

/// Starts a `Hold` on `probe` and returns once its handler runs: the ask's task, and the
/// sender that lets the handler finish.
async fn hold(
    probe: &snowglobe::ActorRef<Probe>,
) -> (
    tokio::task::JoinHandle<Result<(), AskError<Hold>>>,
    oneshot::Sender<()>,
) {
    let (started_tx, started) = oneshot::channel();
    let (open, gate) = oneshot::channel();
    let probe = probe.clone();
    let task = tokio::spawn(async move {
        probe
            .ask(Hold {
                started: started_tx,
                gate,
            })
            .await
    });
    started.await.unwrap();
    (task, open)
}

/// Yields until `n` messages wait in the mailbox.
async fn wait_for_queue(probe: &snowglobe::ActorRef<Probe>, n: usize) {
    while probe.mailbox_len() < n {
        tokio::task::yield_now().await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_kill_raised_before_the_actor_ever_waited_is_not_lost() {
    // The message is queued before the actor's task first runs, so the actor has never
    // parked (and never registered a waker) when its handler kills it and starts waiting.
    let system = System::new();
    let probe = system.spawn(Probe::default()).unwrap();
    probe.try_tell(KillSelfThenWait).unwrap();
    let stopped = tokio::time::timeout(Duration::from_secs(10), probe.stopped()).await;
    assert!(matches!(stopped, Ok(StopReason::Killed)), "{stopped:?}");
}

#[tokio::test(start_paused = true)]
async fn a_kill_answers_the_ask_even_when_a_drop_panics() {
    let system = System::new();
    let probe = system.spawn(Probe::default()).unwrap();
    let (started_tx, started) = oneshot::channel();
    let asking = {
        let probe = probe.clone();
        tokio::spawn(async move {
            probe
                .ask(HoldBomb(started_tx))
                .timeout(Duration::from_secs(5))
                .await
        })
    };
    started.await.unwrap();
    probe.kill();
    assert!(matches!(probe.stopped().await, StopReason::Killed));
    let answer = asking.await.unwrap();
    assert!(matches!(answer, Err(AskError::Interrupted)), "{answer:?}");
}

#[tokio::test]
async fn a_dispatch_that_panics_before_its_future_exists_fails_like_a_handler() {
    let system = System::new();
    let journal = Journal::default();
    let parent = system.spawn(Brittle(journal.clone())).unwrap();
    parent.ask(SpawnBrittleChild).await.unwrap();
    match parent.ask(Shatter).await {
        Err(AskError::Panicked(p)) => assert_eq!(p.as_str(), "shattered before any future"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(parent.stopped().await, StopReason::Panicked(_)));
    assert_eq!(
        journal.entries(),
        ["child started", "child stopped: shut down"],
        "the child stopped with its parent"
    );
}

#[tokio::test]
async fn a_reply_slot_dropped_by_a_panic_its_handler_catches_answers_its_ask() {
    let system = System::new();
    let brittle = system.spawn(Brittle(Journal::default())).unwrap();
    // The handler's own catch leaves the slot unanswered; the actor's poll answers it.
    let answer = brittle.ask(Swallow).await;
    assert!(matches!(answer, Err(AskError::Dropped)), "{answer:?}");
    // The panic was the handler's business: the actor goes on.
    brittle.ask(SpawnBrittleChild).await.unwrap();
    system.shutdown().await;
}

// --- actors used above -------------------------------------------------------------------

use snowglobe::{Actor, BoxError, Context, DynMessage, Handler, Message, TimerHandle};

struct Parent(Journal);

impl Actor for Parent {
    type Msg = DynMessage<Self>;

    async fn on_start(&mut self, _: &mut Context<Self>) -> Result<(), BoxError> {
        self.0.push("parent started");
        Ok(())
    }

    async fn on_stop(&mut self, _: &mut Context<Self>, reason: &StopReason) {
        self.0.push(format!("parent stopped: {reason}"));
    }
}

struct SpawnChildren;
impl Message for SpawnChildren {
    type Reply = ();
}
impl Handler<SpawnChildren> for Parent {
    async fn handle(&mut self, _: SpawnChildren, ctx: &mut Context<Self>) {
        let first = ctx.spawn(Probe::named("first", &self.0)).unwrap();
        let second = ctx
            .spawn_with(
                Probe::named("second", &self.0),
                SpawnOptions::new().name("second"),
            )
            .unwrap();
        // Both have started before the reply.
        first.ask(Record(0)).await.unwrap();
        second.ask(Record(0)).await.unwrap();
    }
}

#[derive(Default)]
struct Ticker {
    after: u32,
    ticks: u32,
    interval: Option<TimerHandle>,
}

impl Actor for Ticker {
    type Msg = DynMessage<Self>;
}

struct StartTimers;
impl Message for StartTimers {
    type Reply = ();
}
impl Handler<StartTimers> for Ticker {
    async fn handle(&mut self, _: StartTimers, ctx: &mut Context<Self>) {
        ctx.send_after(Duration::from_millis(150), After);
        self.interval = Some(ctx.send_interval(Duration::from_millis(100), || Tick));
    }
}

struct After;
impl Message for After {
    type Reply = ();
}
impl Handler<After> for Ticker {
    async fn handle(&mut self, _: After, _: &mut Context<Self>) {
        self.after += 1;
    }
}

struct Tick;
impl Message for Tick {
    type Reply = ();
}
impl Handler<Tick> for Ticker {
    async fn handle(&mut self, _: Tick, _: &mut Context<Self>) {
        self.ticks += 1;
    }
}

struct Ticks;
impl Message for Ticks {
    type Reply = (u32, u32);
}
impl Handler<Ticks> for Ticker {
    async fn handle(&mut self, _: Ticks, _: &mut Context<Self>) -> (u32, u32) {
        (self.after, self.ticks)
    }
}

struct CancelInterval;
impl Message for CancelInterval {
    type Reply = ();
}
impl Handler<CancelInterval> for Ticker {
    async fn handle(&mut self, _: CancelInterval, _: &mut Context<Self>) {
        if let Some(timer) = self.interval.take() {
            timer.cancel();
        }
    }
}

/// A parent with a hand-written mailbox whose `dispatch` panics before it returns a future.
struct Brittle(Journal);

struct SpawnBrittleChild;
impl Message for SpawnBrittleChild {
    type Reply = ();
}

struct Shatter;
impl Message for Shatter {
    type Reply = ();
}

/// Its handler drops the reply slot in a panic it catches itself.
struct Swallow;
impl Message for Swallow {
    type Reply = ();
}

enum BrittleMsg {
    Spawn(ReplyTo<()>),
    Shatter(ReplyTo<()>),
    Swallow(ReplyTo<()>),
}

impl snowglobe::Accepts<Swallow> for BrittleMsg {
    fn from_message(_: Swallow, reply: ReplyTo<()>) -> Self {
        BrittleMsg::Swallow(reply)
    }
}

impl snowglobe::Accepts<SpawnBrittleChild> for BrittleMsg {
    fn from_message(_: SpawnBrittleChild, reply: ReplyTo<()>) -> Self {
        BrittleMsg::Spawn(reply)
    }
}

impl snowglobe::Accepts<Shatter> for BrittleMsg {
    fn from_message(_: Shatter, reply: ReplyTo<()>) -> Self {
        BrittleMsg::Shatter(reply)
    }
}

impl snowglobe::Dispatch<Brittle> for BrittleMsg {
    fn dispatch<'a>(
        self,
        actor: &'a mut Brittle,
        ctx: &'a mut Context<Brittle>,
    ) -> impl std::future::Future<Output = ()> + Send + 'a {
        let reply = match self {
            BrittleMsg::Spawn(reply) => {
                ctx.spawn(Probe::named("child", &actor.0)).unwrap();
                Some(reply)
            }
            BrittleMsg::Shatter(reply) => {
                // The slot is dropped by the unwinding; its ask hears about the panic.
                let _slot = reply;
                panic!("shattered before any future")
            }
            BrittleMsg::Swallow(reply) => {
                let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
                    let _slot = reply;
                    panic!("caught by the handler itself")
                }));
                assert!(caught.is_err());
                None
            }
        };
        async move {
            if let Some(reply) = reply {
                reply.send(());
            }
        }
    }

    fn message_type(&self) -> &'static str {
        "BrittleMsg"
    }
}

impl Actor for Brittle {
    type Msg = BrittleMsg;
}

use snowglobe::ReplyTo;
