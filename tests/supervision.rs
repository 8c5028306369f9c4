//! Supervision: restarts with fresh state, restart policies, intensity and escalation,
//! backoff on the system clock, the `on_panic` decision, the tree.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use snowglobe::{
    Actor, ActorState, AskError, Backoff, BoxError, ChildSpec, Context, DeadLetterReason, Instant,
    PanicDecision, PanicMessage, Restart, StopReason, Strategy, Supervisor, System, messages,
};
use tokio::sync::oneshot;

/// Counts the instances a factory made, so each instance knows its generation.
#[derive(Clone, Default)]
struct Generations(Arc<AtomicU32>);

impl Generations {
    fn next(&self) -> u32 {
        self.0.fetch_add(1, Ordering::SeqCst) + 1
    }
    fn made(&self) -> u32 {
        self.0.load(Ordering::SeqCst)
    }
}

/// A worker whose state is lost on restart: `seen` starts empty in every instance.
struct Worker {
    generation: u32,
    seen: Vec<u64>,
    on_panic: PanicDecision,
    started: Option<Arc<parking::Log>>,
}

mod parking {
    //! A log of instants shared with the test (when each instance started).
    use std::sync::Mutex;

    #[derive(Default)]
    pub(crate) struct Log(pub(crate) Mutex<Vec<snowglobe::Instant>>);
}

impl Worker {
    fn spec(generations: &Generations) -> ChildSpec<Worker> {
        let generations = generations.clone();
        ChildSpec::new(move || Worker {
            generation: generations.next(),
            seen: Vec::new(),
            on_panic: PanicDecision::Restart,
            started: None,
        })
        .backoff(Backoff::NONE)
    }
}

impl Actor for Worker {
    type Msg = WorkerMsg;

    async fn on_start(&mut self, ctx: &mut Context<Self>) -> Result<(), BoxError> {
        if let Some(log) = &self.started {
            log.0.lock().unwrap().push(ctx.now());
        }
        Ok(())
    }

    fn on_panic(&mut self, _: &mut Context<Self>, _: &PanicMessage) -> PanicDecision {
        self.on_panic
    }
}

#[messages]
impl Worker {
    #[message]
    fn work(&mut self, item: u64) -> usize {
        self.seen.push(item);
        self.seen.len()
    }

    #[message]
    fn seen(&self) -> Vec<u64> {
        self.seen.clone()
    }

    #[message]
    fn generation(&self) -> u32 {
        self.generation
    }

    #[message]
    fn crash(&mut self, why: String) {
        std::panic::panic_any(why);
    }

    #[message]
    fn quit(&mut self, ctx: &mut Context<Self>) {
        ctx.stop();
    }

    /// Waits until the gate opens, so that messages queue up behind it.
    #[message]
    async fn hold(&mut self, gate: oneshot::Receiver<()>) {
        let _ = gate.await;
    }

    /// Like `hold`, and says when it has begun.
    #[message]
    async fn pause(&mut self, begun: oneshot::Sender<()>, gate: oneshot::Receiver<()>) {
        let _ = begun.send(());
        let _ = gate.await;
    }
}

fn lenient() -> Supervisor {
    Supervisor::new(Strategy::OneForOne).intensity(100, Duration::from_secs(1))
}

fn system() -> System {
    System::builder().supervisor(lenient()).build().unwrap()
}

#[tokio::test]
async fn smoke_a_panic_restarts_the_actor_with_fresh_state() {
    let system = system();
    let generations = Generations::default();
    let worker = system.spawn_supervised(Worker::spec(&generations)).unwrap();
    worker.work(1).await.unwrap();
    assert_eq!(worker.generation().await.unwrap(), 1);

    match worker.crash("card number malformed".into()).await {
        Err(AskError::Panicked(p)) => assert_eq!(p.as_str(), "card number malformed"),
        other => panic!("{other:?}"),
    }
    // Same address, new instance, fresh state.
    assert_eq!(worker.generation().await.unwrap(), 2);
    assert_eq!(worker.seen().await.unwrap(), Vec::<u64>::new());
    assert_eq!(worker.restarts(), 1);
    assert!(worker.is_alive());
    let letters = system.dead_letters().recent();
    assert!(letters.iter().any(|d| matches!(
        d.reason(),
        DeadLetterReason::HandlerPanicked(p) if p.as_str() == "card number malformed"
    )));
    system.shutdown().await;
}

#[tokio::test]
async fn the_messages_queued_behind_a_panic_are_handled_in_order_by_the_new_instance() {
    let system = system();
    let generations = Generations::default();
    let worker = system.spawn_supervised(Worker::spec(&generations)).unwrap();
    let (open, gate) = oneshot::channel();
    worker.hold(gate).tell().await.unwrap();
    worker.crash("boom".into()).tell().await.unwrap();
    for item in 0..999 {
        worker.work(item).tell().await.unwrap();
    }
    open.send(()).unwrap();
    let seen = worker.seen().await.unwrap();
    assert_eq!(
        seen,
        (0..999).collect::<Vec<_>>(),
        "nothing lost, nothing reordered"
    );
    assert_eq!(worker.generation().await.unwrap(), 2);
    system.shutdown().await;
}

#[tokio::test]
async fn a_permanent_child_that_stops_itself_leaves_its_queue_to_the_next_instance() {
    let system = system();
    let generations = Generations::default();
    let worker = system
        .spawn_supervised(Worker::spec(&generations).restart(Restart::Permanent))
        .unwrap();
    let (open, gate) = oneshot::channel();
    worker.hold(gate).tell().await.unwrap();
    worker.quit().tell().await.unwrap();
    for item in 0..100 {
        worker.work(item).tell().await.unwrap();
    }
    open.send(()).unwrap();
    // The first instance stopped right after `quit`; the second got all the work.
    assert_eq!(worker.seen().await.unwrap(), (0..100).collect::<Vec<_>>());
    assert_eq!(worker.generation().await.unwrap(), 2);
    assert_eq!(generations.made(), 2);
    assert_eq!(worker.restarts(), 1);
    assert!(
        system.dead_letters().recent().is_empty(),
        "nothing refused, nothing lost"
    );
    system.shutdown().await;
}

#[tokio::test]
async fn restart_policies() {
    let system = system();
    let generations = Generations::default();

    // Transient: restarted after a failure, not after stopping itself.
    let transient = system
        .spawn_supervised(Worker::spec(&generations).restart(Restart::Transient))
        .unwrap();
    let _ = transient.crash("x".into()).await;
    assert!(transient.generation().await.is_ok());
    assert_eq!(transient.restarts(), 1);
    transient.quit().await.unwrap();
    assert!(matches!(transient.stopped().await, StopReason::Normal));

    // Permanent: restarted after stopping itself too.
    let permanent = system
        .spawn_supervised(Worker::spec(&generations).restart(Restart::Permanent))
        .unwrap();
    let before = permanent.generation().await.unwrap();
    permanent.quit().await.unwrap();
    let after = permanent.generation().await.unwrap();
    assert!(after > before, "a new instance answers");
    assert_eq!(permanent.restarts(), 1);

    // ... but a stop from outside is final.
    permanent.stop();
    assert!(matches!(permanent.stopped().await, StopReason::Normal));

    // Temporary: never restarted.
    let temporary = system
        .spawn_supervised(Worker::spec(&generations).restart(Restart::Temporary))
        .unwrap();
    let _ = temporary.crash("x".into()).await;
    assert!(matches!(temporary.stopped().await, StopReason::Panicked(_)));
    assert_eq!(temporary.restarts(), 0);
    system.shutdown().await;
}

#[tokio::test]
async fn a_kill_is_final_even_for_a_permanent_child() {
    let system = system();
    let worker = system
        .spawn_supervised(Worker::spec(&Generations::default()))
        .unwrap();
    worker.kill();
    assert!(matches!(worker.stopped().await, StopReason::Killed));
    assert_eq!(worker.restarts(), 0);
}

#[tokio::test]
async fn on_panic_can_resume_or_stop() {
    let system = system();
    let generations = Generations::default();
    let resumer = system
        .spawn_supervised(ChildSpec::new({
            let generations = generations.clone();
            move || Worker {
                generation: generations.next(),
                seen: Vec::new(),
                on_panic: PanicDecision::Resume,
                started: None,
            }
        }))
        .unwrap();
    resumer.work(7).await.unwrap();
    assert!(matches!(
        resumer.crash("x".into()).await,
        Err(AskError::Panicked(_))
    ));
    assert_eq!(
        resumer.seen().await.unwrap(),
        vec![7],
        "the same instance, state kept"
    );
    assert_eq!(resumer.restarts(), 0);

    let stopper = system
        .spawn_supervised(ChildSpec::new(|| Worker {
            generation: 0,
            seen: Vec::new(),
            on_panic: PanicDecision::Stop,
            started: None,
        }))
        .unwrap();
    let _ = stopper.crash("x".into()).await;
    assert!(matches!(stopper.stopped().await, StopReason::Panicked(_)));
    assert_eq!(stopper.restarts(), 0);
    system.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn backoff_grows_on_the_system_clock_and_resets_after_a_healthy_run() {
    let system = system();
    let log = Arc::new(parking::Log::default());
    let spec = {
        let log = log.clone();
        ChildSpec::new(move || Worker {
            generation: 0,
            seen: Vec::new(),
            on_panic: PanicDecision::Restart,
            started: Some(log.clone()),
        })
        .backoff(
            Backoff::new(Duration::from_millis(100), Duration::from_secs(1))
                .reset_after(Duration::from_secs(10))
                .without_jitter(),
        )
    };
    let worker = system.spawn_supervised(spec).unwrap();
    for _ in 0..4 {
        let _ = worker.crash("again".into()).await;
        worker.generation().await.unwrap(); // answered by the next instance
    }
    let starts = log.0.lock().unwrap().clone();
    let gaps: Vec<Duration> = starts.windows(2).map(|w| w[1] - w[0]).collect();
    assert_eq!(
        gaps,
        [100, 200, 400, 800].map(Duration::from_millis),
        "exponential, from the minimum"
    );

    // A healthy run longer than `reset_after` starts the count over.
    tokio::time::sleep(Duration::from_secs(11)).await;
    let before: Instant = system.now();
    let _ = worker.crash("after a rest".into()).await;
    worker.generation().await.unwrap();
    let last = *log.0.lock().unwrap().last().unwrap();
    assert_eq!(last - before, Duration::from_millis(100));
    system.shutdown().await;
}

#[tokio::test]
async fn a_panic_in_on_start_is_restarted_like_any_failure() {
    let system = system();
    let attempts = Arc::new(AtomicU32::new(0));
    let spec = {
        let attempts = attempts.clone();
        ChildSpec::new(move || Flaky {
            attempt: attempts.fetch_add(1, Ordering::SeqCst) + 1,
        })
        .backoff(Backoff::NONE)
    };
    let flaky = system.spawn_supervised(spec).unwrap();
    // The first two instances fail to start; the third serves.
    assert_eq!(flaky.attempt().await.unwrap(), 3);
    assert_eq!(flaky.restarts(), 2);
    system.shutdown().await;
}

struct Flaky {
    attempt: u32,
}

impl Actor for Flaky {
    type Msg = FlakyMsg;

    async fn on_start(&mut self, _: &mut Context<Self>) -> Result<(), BoxError> {
        match self.attempt {
            1 => panic!("first start panics"),
            2 => Err("second start fails".into()),
            _ => Ok(()),
        }
    }
}

#[messages]
impl Flaky {
    #[message]
    fn attempt(&self) -> u32 {
        self.attempt
    }
}

#[tokio::test(start_paused = true)]
async fn a_panicking_timer_callback_fails_the_actor_like_a_handler() {
    let system = system();
    let generations = Generations::default();
    let ticker = system
        .spawn_supervised(ChildSpec::new({
            let generations = generations.clone();
            move || Ticker {
                generation: generations.next(),
            }
        }))
        .unwrap();
    ticker.arm().await.unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        ticker.generation().await.unwrap(),
        2,
        "restarted after the timer panic"
    );
    assert_eq!(ticker.restarts(), 1);
    system.shutdown().await;
}

struct Ticker {
    generation: u32,
}

impl Actor for Ticker {
    type Msg = TickerMsg;
}

#[messages]
impl Ticker {
    #[message]
    fn arm(&mut self, ctx: &mut Context<Self>) {
        let generation = self.generation;
        ctx.send_interval(Duration::from_secs(1), move || -> Tock {
            panic!("tick callback of generation {generation} panics")
        });
    }

    #[message]
    fn tock(&mut self) {}

    #[message(name = TickerGeneration)]
    fn generation(&self) -> u32 {
        self.generation
    }
}

// --- escalation ----------------------------------------------------------------------------

/// A supervisor with a strict intensity that spawns one worker in `on_start`.
struct Team {
    generations: Generations,
    worker: Option<snowglobe::ActorRef<Worker>>,
}

impl Actor for Team {
    type Msg = TeamMsg;
    const SUPERVISOR: Supervisor =
        Supervisor::new(Strategy::OneForOne).intensity(2, Duration::from_secs(60));

    async fn on_start(&mut self, ctx: &mut Context<Self>) -> Result<(), BoxError> {
        self.worker = Some(ctx.spawn_supervised(Worker::spec(&self.generations))?);
        Ok(())
    }
}

#[messages]
impl Team {
    #[message(name = TeamWorker)]
    fn worker(&self) -> Option<snowglobe::ActorRef<Worker>> {
        self.worker.clone()
    }
}

#[tokio::test]
async fn beyond_the_intensity_the_supervisor_fails_and_its_own_supervisor_restarts_the_subtree() {
    let system = system();
    let workers = Generations::default();
    let team = system
        .spawn_supervised(
            ChildSpec::new({
                let workers = workers.clone();
                move || Team {
                    generations: workers.clone(),
                    worker: None,
                }
            })
            .backoff(Backoff::NONE),
        )
        .unwrap();
    let first = team.worker().await.unwrap().unwrap();
    // Two restarts are allowed within the minute; the third failure escalates.
    for _ in 0..2 {
        let _ = first.crash("x".into()).await;
        first.generation().await.unwrap();
    }
    assert_eq!(first.restarts(), 2);
    let _ = first.crash("once too often".into()).await;
    assert!(matches!(first.stopped().await, StopReason::Panicked(_)));

    // The team failed in turn and was restarted by the system: a new team, a new worker.
    let second = loop {
        if let Ok(Some(worker)) = team.worker().await
            && worker.id() != first.id()
        {
            break worker;
        }
        tokio::task::yield_now().await;
    };
    assert_eq!(team.restarts(), 1);
    assert_eq!(second.generation().await.unwrap(), 4);
    let tree = system.tree();
    let node = tree.find(team.id()).unwrap();
    assert_eq!(node.restarts, 1);
    assert_eq!(node.children.len(), 1);
    assert_eq!(node.children[0].id, second.id());
    system.shutdown().await;
}

#[tokio::test]
async fn at_the_top_the_system_reports_the_failure_and_the_other_trees_go_on() {
    let system = System::builder()
        .supervisor(Supervisor::new(Strategy::OneForOne).intensity(1, Duration::from_secs(60)))
        .build()
        .unwrap();
    let fragile = system
        .spawn_supervised(Worker::spec(&Generations::default()).name("fragile"))
        .unwrap();
    let steady = system
        .spawn_supervised(Worker::spec(&Generations::default()))
        .unwrap();
    let _ = fragile.crash("one".into()).await;
    fragile.generation().await.unwrap();
    let _ = fragile.crash("two".into()).await;
    let reason = fragile.stopped().await;
    assert!(matches!(&reason, StopReason::Panicked(p) if p.as_str() == "two"));

    let failures = system.root_failures();
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].actor, fragile.id());
    assert_eq!(failures[0].name.as_deref(), Some("fragile"));
    assert_eq!(steady.work(1).await.unwrap(), 1, "the other tree goes on");
    system.shutdown().await;
}

#[tokio::test]
async fn the_tree_shows_names_states_and_restarts() {
    let system = system();
    let generations = Generations::default();
    let team = system
        .spawn_supervised(
            ChildSpec::new({
                let generations = generations.clone();
                move || Team {
                    generations: generations.clone(),
                    worker: None,
                }
            })
            .name("team"),
        )
        .unwrap();
    let worker = team.worker().await.unwrap().unwrap();
    let _ = worker.crash("x".into()).await;
    worker.generation().await.unwrap();

    let tree = system.tree();
    let team_node = tree.find(team.id()).unwrap();
    assert_eq!(team_node.name.as_deref(), Some("team"));
    assert_eq!(team_node.state, ActorState::Running);
    assert_eq!(team_node.children[0].restarts, 1);
    let text = tree.to_string();
    assert!(text.starts_with("system\n"), "{text}");
    assert!(
        text.contains(&format!("└── {} team (", team.id())),
        "{text}"
    );
    assert!(text.contains("    └── "), "{text}");
    assert!(text.contains("running, 1 restart"), "{text}");
    system.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn messages_sent_during_the_backoff_wait_for_the_new_instance() {
    let system = system();
    let worker =
        system
            .spawn_supervised(Worker::spec(&Generations::default()).backoff(
                Backoff::new(Duration::from_secs(2), Duration::from_secs(2)).without_jitter(),
            ))
            .unwrap();
    worker.crash("x".into()).tell().await.unwrap();
    // Wait until the actor is in its backoff.
    while worker.state() != ActorState::Restarting {
        tokio::task::yield_now().await;
    }
    worker.work(5).tell().await.unwrap();
    let start = system.now();
    assert_eq!(worker.seen().await.unwrap(), vec![5]);
    assert!(system.now() - start >= Duration::from_millis(1900));
    system.shutdown().await;
}

// --- the dead-letter office --------------------------------------------------------------

/// A worker spawned without a spec: it stops at its first panic.
fn plain_worker() -> Worker {
    Worker {
        generation: 1,
        seen: Vec::new(),
        on_panic: PanicDecision::Restart,
        started: None,
    }
}

/// Subscribes to dead letters; panics on those it is told to, to show it cannot feed itself.
#[derive(Default)]
struct Office {
    letters: Vec<snowglobe::DeadLetter>,
    panic_on_letters: bool,
    seen: Option<tokio::sync::mpsc::UnboundedSender<String>>,
}

impl Actor for Office {
    type Msg = snowglobe::DynMessage<Self>;
}

impl snowglobe::Handler<snowglobe::DeadLetter> for Office {
    async fn handle(&mut self, letter: snowglobe::DeadLetter, _: &mut Context<Self>) {
        if let Some(seen) = &self.seen {
            let _ = seen.send(letter.reason().to_string());
        }
        assert!(!self.panic_on_letters, "the office cannot read");
        self.letters.push(letter);
    }
}

struct Letters;
impl snowglobe::Message for Letters {
    type Reply = Vec<(snowglobe::ActorId, String)>;
}
impl snowglobe::Handler<Letters> for Office {
    async fn handle(
        &mut self,
        _: Letters,
        _: &mut Context<Self>,
    ) -> Vec<(snowglobe::ActorId, String)> {
        self.letters
            .iter()
            .map(|l| (l.recipient(), l.reason().to_string()))
            .collect()
    }
}

#[tokio::test]
async fn dead_letter_subscribers_get_every_letter_with_its_reason() {
    let system = system();
    let office = system.spawn(Office::default()).unwrap();
    system.dead_letters().subscribe(office.recipient());
    system.dead_letters().subscribe(office.recipient()); // once is enough

    let worker = system.spawn(plain_worker()).unwrap();
    let _ = worker.crash("bad input".into()).await;
    // A kill leaves the queued messages unhandled.
    let temporary = system
        .spawn_supervised(Worker::spec(&Generations::default()).restart(Restart::Temporary))
        .unwrap();
    let (_open, gate) = oneshot::channel();
    let (begun, has_begun) = oneshot::channel();
    temporary.pause(begun, gate).tell().await.unwrap();
    temporary.work(1).tell().await.unwrap();
    has_begun.await.unwrap();
    temporary.kill();
    temporary.stopped().await;

    let letters = office.ask(Letters).await.unwrap();
    assert_eq!(
        letters,
        [
            (worker.id(), "handler panicked: bad input".to_owned()),
            (temporary.id(), "handler interrupted by a kill".to_owned()),
            (
                temporary.id(),
                "actor stopped before handling it".to_owned()
            ),
        ]
    );
    assert_eq!(system.dead_letters().count(), 3);
    assert_eq!(system.dead_letters().missed(), 0);

    system.dead_letters().unsubscribe(office.id());
    let _ = worker.crash("again".into()).await;
    assert_eq!(office.ask(Letters).await.unwrap().len(), 3, "unsubscribed");
    system.shutdown().await;
}

#[tokio::test]
async fn a_subscriber_that_fails_on_a_letter_does_not_feed_itself() {
    let system = system();
    let (seen, mut seen_rx) = tokio::sync::mpsc::unbounded_channel();
    let office = system
        .spawn_supervised(
            ChildSpec::new(move || Office {
                panic_on_letters: true,
                seen: Some(seen.clone()),
                ..Office::default()
            })
            .backoff(Backoff::NONE),
        )
        .unwrap();
    system.dead_letters().subscribe(office.recipient());
    let worker = system.spawn(plain_worker()).unwrap();
    let _ = worker.crash("first".into()).await;
    assert_eq!(seen_rx.recv().await.unwrap(), "handler panicked: first");
    // The office's own failure is a dead letter too, recorded but not sent back to it.
    office.ask(Letters).await.unwrap();
    assert_eq!(office.restarts(), 1);
    assert_eq!(system.dead_letters().count(), 2);
    assert!(seen_rx.try_recv().is_err(), "nothing more was sent");
    system.shutdown().await;
}

#[tokio::test]
async fn a_full_subscriber_misses_letters_and_it_is_counted() {
    let system = system();
    let office = system
        .spawn_with(
            Office::default(),
            snowglobe::SpawnOptions::new().mailbox(snowglobe::Mailbox::bounded(1)),
        )
        .unwrap();
    // Held busy on a gate, with its one mailbox slot taken.
    let (open, gate) = oneshot::channel::<()>();
    struct Hold(oneshot::Receiver<()>);
    impl snowglobe::Message for Hold {
        type Reply = ();
    }
    impl snowglobe::Handler<Hold> for Office {
        async fn handle(&mut self, Hold(gate): Hold, _: &mut Context<Self>) {
            let _ = gate.await;
        }
    }
    office.tell(Hold(gate)).await.unwrap();
    office.tell(Letters).await.unwrap();
    system.dead_letters().subscribe(office.recipient());

    let worker = system.spawn(plain_worker()).unwrap();
    let _ = worker.crash("unseen".into()).await;
    assert_eq!(system.dead_letters().missed(), 1);
    assert_eq!(system.dead_letters().count(), 1, "still recorded");
    assert_eq!(system.dead_letters().recent().len(), 1);
    open.send(()).unwrap();
    assert!(office.ask(Letters).await.unwrap().is_empty());
    system.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn an_ask_that_times_out_during_the_backoff_is_still_handled_by_the_new_instance() {
    let system = system();
    let backoff = Backoff::new(Duration::from_secs(10), Duration::from_secs(10)).without_jitter();
    let worker = system
        .spawn_supervised(Worker::spec(&Generations::default()).backoff(backoff))
        .unwrap();
    worker.crash("x".into()).tell().await.unwrap();
    let asked = worker.work(7).timeout(Duration::from_secs(1)).await;
    assert!(matches!(asked, Err(AskError::Timeout)), "{asked:?}");
    // Still queued: the new instance handles it before this ask.
    let seen = worker.seen().timeout(Duration::from_secs(60)).await;
    assert_eq!(seen.unwrap(), [7]);
    assert_eq!(worker.generation().await.unwrap(), 2);
    system.shutdown().await;
}

/// Panics in `on_stop`, every time.
struct Clumsy {
    generation: u32,
}

impl Actor for Clumsy {
    type Msg = ClumsyMsg;

    async fn on_stop(&mut self, _: &mut Context<Self>, _: &StopReason) {
        panic!("dropped the tray");
    }
}

#[messages]
impl Clumsy {
    #[message(name = ClumsyGeneration)]
    fn generation(&self) -> u32 {
        self.generation
    }

    #[message(name = ClumsyCrash)]
    fn crash(&mut self) {
        panic!("tripped");
    }
}

#[tokio::test]
async fn a_panic_in_on_stop_neither_blocks_a_restart_nor_a_stop() {
    let system = system();
    let generations = Generations::default();
    let clumsy = system
        .spawn_supervised(
            ChildSpec::new({
                let generations = generations.clone();
                move || Clumsy {
                    generation: generations.next(),
                }
            })
            .backoff(Backoff::NONE),
        )
        .unwrap();
    let _ = clumsy.crash().await;
    assert_eq!(
        clumsy.generation().await.unwrap(),
        2,
        "restarted despite on_stop"
    );
    clumsy.stop();
    assert!(matches!(clumsy.stopped().await, StopReason::Normal));
    let neighbour = system.spawn(plain_worker()).unwrap();
    assert_eq!(neighbour.work(1).await.unwrap(), 1, "nothing spread");
    system.shutdown().await;
}
