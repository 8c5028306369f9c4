//! Fault injection under load: a tree of workers, panics injected by a seeded RNG into a share
//! of the messages, the messages told and asked from several senders at once. At the end every
//! message is accounted for exactly once: handled, a dead letter whose reason matches what its
//! sender saw, or refused to its sender; and each worker handled each sender's messages in the
//! order they were sent. Each test runs many seeds; a failure names its seed, and
//! `FAULT_SEED=<n>` runs that one seed alone. The last test pins a bug these runs found.

use std::collections::HashMap;
use std::marker::PhantomData;
use std::pin::pin;
use std::sync::{Arc, Mutex, Once};
use std::task::{Wake, Waker};
use std::time::Duration;

use snowglobe::{
    Actor, ActorRef, AskError, Backoff, BoxError, ChildSpec, Context, DeadLetter, DeadLetterReason,
    DynMessage, MessageId, PanicMessage, Strategy, Supervisor, System, messages,
};
use tokio::sync::oneshot;

const WORKERS: usize = 6;
const MESSAGES: usize = 240;
const SENDERS: usize = 3;
/// One message in this many panics.
const PANIC_ONE_IN: u64 = 5;
const SEEDS: u64 = 64;
/// More restarts than any run injects: nothing escalates.
const LENIENT: u32 = 10_000;
const HOUR: Duration = Duration::from_secs(3600);

/// What the workers handled, kept outside them since an instance's state dies with it: the
/// id each message carried and the id in its headers, in the order they were handled.
#[derive(Clone, Default)]
struct Ledger(Arc<Mutex<Vec<(MessageId, MessageId)>>>);

#[derive(Actor)]
struct Worker {
    ledger: Ledger,
}

#[messages]
impl Worker {
    /// Handles message `id`, or panics if the RNG chose it to.
    #[message]
    fn job(&mut self, ctx: &mut Context<Self>, id: MessageId, panics: bool) -> MessageId {
        if panics {
            std::panic::panic_any(format!("injected {id}"));
        }
        self.ledger.0.lock().unwrap().push((id, ctx.headers().id()));
        id
    }
}

fn spec(ledger: &Ledger) -> ChildSpec<Worker> {
    let ledger = ledger.clone();
    let make = move || Worker {
        ledger: ledger.clone(),
    };
    ChildSpec::new(make).backoff(Backoff::NONE)
}

/// Where the workers sit in the tree.
#[derive(Clone, Copy)]
enum Tree {
    /// Supervised by the system, with this strategy and this many restarts allowed.
    Top(Strategy, u32),
    /// Children of a [`Pool`] whose strategy is one-for-one.
    PoolOneForOne,
    /// Children of a [`Pool`] whose strategy is rest-for-one.
    PoolRestForOne,
}

trait PoolStrategy: Send + 'static {
    const STRATEGY: Strategy;
}
enum OneForOne {}
impl PoolStrategy for OneForOne {
    const STRATEGY: Strategy = Strategy::OneForOne;
}
enum RestForOne {}
impl PoolStrategy for RestForOne {
    const STRATEGY: Strategy = Strategy::RestForOne;
}

/// A supervisor that spawns the workers as its children and hands them to the test.
struct Pool<S> {
    ledger: Ledger,
    ready: Option<oneshot::Sender<Vec<ActorRef<Worker>>>>,
    strategy: PhantomData<S>,
}

impl<S: PoolStrategy> Actor for Pool<S> {
    type Msg = DynMessage<Self>;
    const SUPERVISOR: Supervisor = Supervisor::new(S::STRATEGY).intensity(LENIENT, HOUR);

    async fn on_start(&mut self, ctx: &mut Context<Self>) -> Result<(), BoxError> {
        let mut workers = Vec::with_capacity(WORKERS);
        for _ in 0..WORKERS {
            workers.push(ctx.spawn_supervised(spec(&self.ledger))?);
        }
        if let Some(ready) = self.ready.take() {
            let _ = ready.send(workers);
        }
        Ok(())
    }
}

async fn pooled<S: PoolStrategy>(system: &System, ledger: &Ledger) -> Vec<ActorRef<Worker>> {
    let (ready, workers) = oneshot::channel();
    let pool = Pool::<S> {
        ledger: ledger.clone(),
        ready: Some(ready),
        strategy: PhantomData,
    };
    system.spawn(pool).unwrap();
    workers.await.unwrap()
}

/// The `SplitMix64` generator: the same seed, the same stream.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) % n
    }
}

/// One message of the plan: to which worker, whether it panics, whether it is asked.
#[derive(Clone, Copy, Debug)]
struct Shot {
    id: MessageId,
    worker: usize,
    panics: bool,
    ask: bool,
}

/// What a sender saw of one message.
#[derive(Clone, Debug, PartialEq)]
enum Sent {
    Told,
    Refused,
    Answered(MessageId),
    Panicked(String),
    Stopped,
}

/// Sends `shots` in order, each under its own id, and keeps what came back.
async fn send(workers: Vec<ActorRef<Worker>>, shots: Vec<Shot>) -> Vec<(MessageId, Sent)> {
    let mut sent = Vec::with_capacity(shots.len());
    for shot in shots {
        let request = workers[shot.worker].job(shot.id, shot.panics);
        let request = request.message_id(shot.id);
        let outcome = if shot.ask {
            match request.await {
                Ok(reply) => Sent::Answered(reply),
                Err(AskError::Panicked(p)) => Sent::Panicked(p.as_str().to_owned()),
                Err(AskError::Stopped) => Sent::Stopped,
                Err(AskError::Closed(_)) => Sent::Refused,
                Err(other) => panic!("{shot:?}: unexpected {other}"),
            }
        } else {
            match request.tell().await {
                Ok(()) => Sent::Told,
                Err(_) => Sent::Refused,
            }
        };
        sent.push((shot.id, outcome));
    }
    sent
}

/// How one run ended, summed up once every message was accounted for.
#[derive(Debug, Default)]
struct Report {
    injected: usize,
    handled: usize,
    panicked: usize,
    stopped: usize,
    refused: usize,
    restarts: usize,
    answering: usize,
    /// Top-level actors the system gave up on, after shutdown.
    root_failures: usize,
}

impl Report {
    fn assert_nothing_lost(&self) {
        assert_eq!(self.panicked, self.injected, "{self:?}");
        assert_eq!(self.handled + self.panicked, MESSAGES + WORKERS, "{self:?}");
        assert_eq!(self.answering, WORKERS, "{self:?}");
    }
}

/// Builds the tree, sends the seed's plan from `SENDERS` tasks at once, then one probe (an
/// ask that does not panic) to each worker, which is answered once the worker handled what
/// was sent before it, shuts the system down and accounts for every message.
async fn run(seed: u64, tree: Tree) -> Report {
    let (strategy, intensity) = match tree {
        Tree::Top(strategy, intensity) => (strategy, intensity),
        Tree::PoolOneForOne | Tree::PoolRestForOne => (Strategy::OneForOne, LENIENT),
    };
    let system = System::builder()
        .supervisor(Supervisor::new(strategy).intensity(intensity, HOUR))
        .dead_letter_capacity(2 * MESSAGES)
        .ask_timeout(HOUR)
        .build()
        .unwrap();
    let ledger = Ledger::default();
    let workers = match tree {
        Tree::Top(..) => (0..WORKERS)
            .map(|_| system.spawn_supervised(spec(&ledger)).unwrap())
            .collect(),
        Tree::PoolOneForOne => pooled::<OneForOne>(&system, &ledger).await,
        Tree::PoolRestForOne => pooled::<RestForOne>(&system, &ledger).await,
    };

    let mut rng = Rng(seed);
    let mut plan: Vec<Shot> = (0..MESSAGES)
        .map(|_| Shot {
            id: MessageId::next(),
            worker: usize::try_from(rng.below(WORKERS as u64)).unwrap(),
            panics: rng.below(PANIC_ONE_IN) == 0,
            ask: rng.below(2) == 0,
        })
        .collect();
    let senders: Vec<_> = (0..SENDERS)
        .map(|s| {
            let shots = plan.iter().skip(s).step_by(SENDERS).copied().collect();
            tokio::spawn(send(workers.clone(), shots))
        })
        .collect();
    let mut sent = HashMap::new();
    for sender in senders {
        sent.extend(sender.await.unwrap());
    }
    plan.extend((0..WORKERS).map(|worker| Shot {
        id: MessageId::next(),
        worker,
        panics: false,
        ask: true,
    }));
    let answers = send(workers.clone(), plan[MESSAGES..].to_vec()).await;
    let answering = answers
        .iter()
        .filter(|(_, s)| matches!(s, Sent::Answered(_)));
    let answering = answering.count();
    sent.extend(answers);
    system.shutdown().await;

    let dead = system.dead_letters();
    let letters = dead.recent();
    assert_eq!(letters.len() as u64, dead.count(), "the ring kept them all");
    let mut report = account(&plan, &sent, &ledger.0.lock().unwrap(), &letters, &workers);
    let panicked = DeadLetterReason::HandlerPanicked(PanicMessage::new(""));
    assert_eq!(dead.count_of(&panicked), report.panicked as u64);
    assert_eq!(
        dead.count_of(&DeadLetterReason::ActorStopped),
        report.stopped as u64
    );
    report.answering = answering;
    report.root_failures = system.root_failures().len();
    report.restarts = workers.iter().map(|w| w.restarts() as usize).sum();
    report
}

/// Checks each message's fate against what its sender saw, and that each worker handled each
/// sender's messages in the order they were sent.
fn account(
    plan: &[Shot],
    sent: &HashMap<MessageId, Sent>,
    ledger: &[(MessageId, MessageId)],
    letters: &[DeadLetter],
    workers: &[ActorRef<Worker>],
) -> Report {
    let index: HashMap<_, _> = plan.iter().enumerate().map(|(k, s)| (s.id, k)).collect();
    let mut handled: HashMap<MessageId, usize> = HashMap::new();
    let mut last: HashMap<(usize, usize), usize> = HashMap::new();
    for &(carried, header) in ledger {
        assert_eq!(carried, header, "the headers carry the id it was sent with");
        *handled.entry(header).or_default() += 1;
        let k = index[&header];
        if let Some(before) = last.insert((k % SENDERS, plan[k].worker), k) {
            assert!(before < k, "{:?} overtook {:?}", plan[k], plan[before]);
        }
    }
    let mut dead: HashMap<MessageId, Vec<&DeadLetter>> = HashMap::new();
    for letter in letters {
        dead.entry(letter.headers().id()).or_default().push(letter);
    }

    let mut report = Report::default();
    for shot in plan {
        let sent = &sent[&shot.id];
        let times_handled = handled.remove(&shot.id).unwrap_or(0);
        let letters = dead.remove(&shot.id).unwrap_or_default();
        let fates = times_handled + letters.len() + usize::from(*sent == Sent::Refused);
        let fate = format!("{shot:?}: handled {times_handled}x, {letters:?}, sender saw {sent:?}");
        assert_eq!(fates, 1, "{fate}");
        report.injected += usize::from(shot.panics);
        // What the sender must have seen: a tell only knows that it was delivered.
        let seen = |asked: Sent| if shot.ask { asked } else { Sent::Told };
        let Some(letter) = letters.first() else {
            if times_handled == 1 {
                assert!(!shot.panics, "{fate}");
                assert_eq!(*sent, seen(Sent::Answered(shot.id)), "{fate}");
                report.handled += 1;
            } else {
                report.refused += 1;
            }
            continue;
        };
        assert_eq!(letter.recipient(), workers[shot.worker].id(), "{fate}");
        match letter.reason() {
            DeadLetterReason::HandlerPanicked(p) => {
                let injected = format!("injected {}", shot.id);
                assert!(shot.panics && p.as_str() == injected, "{fate}");
                assert_eq!(*sent, seen(Sent::Panicked(injected)), "{fate}");
                report.panicked += 1;
            }
            DeadLetterReason::ActorStopped => {
                assert_eq!(*sent, seen(Sent::Stopped), "{fate}");
                report.stopped += 1;
            }
            _ => panic!("unexpected reason: {fate}"),
        }
    }
    assert!(
        handled.is_empty() && dead.is_empty(),
        "not sent: {handled:?} {dead:?}"
    );
    report
}

/// Runs `tree` under each seed (or `FAULT_SEED` alone) and checks each report, naming the
/// seed that fails.
async fn for_each_seed(tree: Tree, check: fn(&Report)) {
    static QUIET: Once = Once::new();
    // Thousands of panics are expected: keep the injected ones off stderr.
    QUIET.call_once(|| {
        let print = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let text = info.payload().downcast_ref::<String>();
            if !text.is_some_and(|text| text.starts_with("injected ")) {
                print(info);
            }
        }));
    });
    let seeds = match std::env::var("FAULT_SEED") {
        Ok(seed) => seed.parse().map(|s| s..=s).expect("FAULT_SEED is a number"),
        Err(_) => 0..=SEEDS - 1,
    };
    for seed in seeds {
        let outcome = tokio::spawn(async move { check(&run(seed, tree).await) }).await;
        if let Err(failure) = outcome {
            panic!("seed {seed} failed (rerun with FAULT_SEED={seed}): {failure}");
        }
    }
}

#[tokio::test]
async fn smoke_injected_panics_are_dead_letters_and_the_rest_is_handled() {
    let report = run(7, Tree::Top(Strategy::OneForOne, LENIENT)).await;
    report.assert_nothing_lost();
    assert!(report.injected > 0, "{report:?}");
}

#[tokio::test]
async fn one_for_one_at_the_top_restarts_once_per_panic_and_loses_nothing() {
    for_each_seed(Tree::Top(Strategy::OneForOne, LENIENT), |report| {
        report.assert_nothing_lost();
        assert_eq!(report.restarts, report.injected, "{report:?}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_for_one_under_a_supervisor_loses_nothing_while_restarts_race_the_senders() {
    for_each_seed(Tree::PoolOneForOne, |report| {
        report.assert_nothing_lost();
        assert_eq!(report.restarts, report.injected, "{report:?}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_for_one_under_a_supervisor_loses_nothing_in_group_restarts() {
    for_each_seed(Tree::PoolRestForOne, |report| {
        report.assert_nothing_lost();
        assert!(report.restarts >= report.injected, "{report:?}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_for_all_at_the_top_loses_nothing_in_group_restarts() {
    for_each_seed(Tree::Top(Strategy::OneForAll, LENIENT), |report| {
        report.assert_nothing_lost();
        assert!(report.restarts >= report.injected, "{report:?}");
    })
    .await;
}

/// Beyond the intensity each panicking worker stops for good: what was queued for it becomes
/// a dead letter (`ActorStopped`, and its asks get `Stopped`), what is sent later is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beyond_the_intensity_workers_stop_and_every_message_is_still_accounted_for() {
    const INTENSITY: u32 = 16;
    for_each_seed(Tree::Top(Strategy::OneForOne, INTENSITY), |report| {
        let intensity = INTENSITY as usize;
        // No worker stops before the intensity is spent, and each plan injects some 48 panics.
        assert!(report.panicked > intensity, "{report:?}");
        assert_eq!(report.restarts, intensity, "{report:?}");
        let stopped_for_good = report.panicked - intensity;
        assert_eq!(report.answering, WORKERS - stopped_for_good, "{report:?}");
        let fates = report.handled + report.panicked + report.stopped + report.refused;
        assert_eq!(fates, MESSAGES + WORKERS, "{report:?}");
        assert_eq!(report.root_failures, stopped_for_good, "{report:?}");
    })
    .await;
}

// --- regressions ----------------------------------------------------------------------------

/// A waker that notes, when woken, how many root failures the system reports.
struct NoteRootFailures {
    system: System,
    noted: Mutex<Option<usize>>,
}

impl Wake for NoteRootFailures {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        *self.noted.lock().unwrap() = Some(self.system.root_failures().len());
    }
}

/// Found by the escalation run above: the actor was marked stopped (waking whoever awaited
/// `stopped()`) before its failure was reported, so a waiter on another thread, or a
/// `shutdown` that returned, could read `root_failures()` without it.
#[tokio::test]
async fn a_root_failure_is_reported_by_the_time_the_actor_has_stopped() {
    let system = System::builder()
        .supervisor(Supervisor::new(Strategy::OneForOne).intensity(0, HOUR))
        .build()
        .unwrap();
    let worker = system.spawn_supervised(spec(&Ledger::default())).unwrap();
    // Woken the moment the worker has stopped, as a waiter on another thread would be.
    let probe = Arc::new(NoteRootFailures {
        system: system.clone(),
        noted: Mutex::new(None),
    });
    let waker = Waker::from(probe.clone());
    let mut stopped = pin!(worker.stopped());
    let first = stopped
        .as_mut()
        .poll(&mut std::task::Context::from_waker(&waker));
    assert!(first.is_pending());
    assert!(worker.job(MessageId::next(), true).await.is_err());
    stopped.await;
    assert_eq!(system.root_failures().len(), 1);
    assert_eq!(
        *probe.noted.lock().unwrap(),
        Some(1),
        "woken before it was reported"
    );
}
