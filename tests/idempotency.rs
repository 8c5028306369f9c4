//! Deduplication by message id: `#[message(idempotent)]` runs a handler once per id, answers
//! a repeated id from memory, refuses an id reused for other content, and remembers across
//! restarts.

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::task::Poll;

use snowglobe::resilience::MemoryDedupStore;
use snowglobe::{
    Actor, ActorRef, AskError, ChildSpec, DeadLetterReason, MessageId, SpawnOptions, System,
    messages,
};
use tokio::sync::oneshot;

/// A ledger that saves one row per charge.
#[derive(Default)]
struct Ledger {
    rows: Vec<(String, u64)>,
    /// How many times a handler ran, across restarts.
    runs: Arc<AtomicU32>,
}

impl Actor for Ledger {
    type Msg = LedgerMsg;
}

#[messages]
impl Ledger {
    /// Saves a row; replies with its number.
    #[message(idempotent)]
    fn charge(&mut self, card: String, cents: u64) -> usize {
        self.runs.fetch_add(1, Ordering::Relaxed);
        assert!(card != "crash", "malformed card");
        self.rows.push((card, cents));
        self.rows.len()
    }

    /// The same, waiting for `gate` first: a charge still in flight.
    #[message(idempotent)]
    async fn slow_charge(&mut self, cents: u64, gate: Gate) -> Result<usize, String> {
        self.runs.fetch_add(1, Ordering::Relaxed);
        gate.wait().await;
        self.rows.push(("slow".into(), cents));
        Ok(self.rows.len())
    }

    #[message]
    fn rows(&self) -> usize {
        self.rows.len()
    }
}

/// A gate a handler waits on, saying when it has begun to wait; hashes as nothing, so two
/// copies of a request are equal.
#[derive(Clone)]
struct Gate {
    gate: Arc<tokio::sync::Mutex<Option<oneshot::Receiver<()>>>>,
    entered: Arc<tokio::sync::Notify>,
}

impl Gate {
    fn new() -> (Gate, oneshot::Sender<()>) {
        let (open, gate) = oneshot::channel();
        let gate = Gate {
            gate: Arc::new(tokio::sync::Mutex::new(Some(gate))),
            entered: Arc::new(tokio::sync::Notify::new()),
        };
        (gate, open)
    }

    async fn wait(&self) {
        self.entered.notify_one();
        if let Some(gate) = self.gate.lock().await.take() {
            let _ = gate.await;
        }
    }
}

impl std::hash::Hash for Gate {
    fn hash<H: std::hash::Hasher>(&self, _: &mut H) {}
}

/// Polls `future` once: an ask's first poll puts its message in the mailbox.
async fn send_now<F: Future>(future: Pin<&mut F>) {
    let mut future = Some(future);
    std::future::poll_fn(|cx| {
        if let Some(f) = future.take() {
            let _ = f.poll(cx);
        }
        Poll::Ready(())
    })
    .await;
}

/// Asks `ledger` to charge under the message id `id`; the row number it replies with.
async fn charge(ledger: &ActorRef<Ledger>, card: &str, cents: u64, id: MessageId) -> usize {
    ledger
        .charge(card.into(), cents)
        .message_id(id)
        .await
        .expect("the ledger replies")
}

fn ledger() -> (Ledger, Arc<AtomicU32>) {
    let runs = Arc::new(AtomicU32::new(0));
    let ledger = Ledger {
        runs: runs.clone(),
        ..Ledger::default()
    };
    (ledger, runs)
}

#[tokio::test]
async fn a_repeated_id_gets_the_first_reply_without_running_the_handler() {
    let system = System::new();
    let (ledger, runs) = ledger();
    let ledger = system.spawn(ledger).unwrap();
    let id = MessageId::next();
    assert_eq!(charge(&ledger, "4242", 500, id).await, 1);
    assert_eq!(charge(&ledger, "4242", 500, id).await, 1);
    // A tell of the same request is recognised too.
    ledger
        .charge("4242".into(), 500)
        .message_id(id)
        .tell()
        .await
        .unwrap();
    // A new id is a new request, even with the same content.
    assert_eq!(ledger.charge("4242".into(), 500).await.unwrap(), 2);
    assert_eq!(ledger.rows().await.unwrap(), 2);
    assert_eq!(runs.load(Ordering::Relaxed), 2);
    system.shutdown().await;
}

#[tokio::test]
async fn the_same_id_with_other_content_is_refused_and_recorded() {
    let system = System::new();
    let (ledger, runs) = ledger();
    let ledger = system.spawn(ledger).unwrap();
    let id = MessageId::next();
    charge(&ledger, "4242", 500, id).await;
    let refused = ledger.charge("4242".into(), 9_999).message_id(id).await;
    assert!(matches!(refused, Err(AskError::IdReused)), "{refused:?}");
    // A refused tell is not silently dropped either.
    ledger
        .charge("1111".into(), 1)
        .message_id(id)
        .tell()
        .await
        .unwrap();
    assert_eq!(ledger.rows().await.unwrap(), 1);
    assert_eq!(runs.load(Ordering::Relaxed), 1);
    let letters = system.dead_letters();
    assert_eq!(letters.count_of(&DeadLetterReason::IdReused), 2);
    assert!(letters.recent().iter().all(|l| l.headers().id() == id));
    system.shutdown().await;
}

#[tokio::test]
async fn a_duplicate_sent_while_the_first_is_in_flight_waits_for_its_reply() {
    let system = System::new();
    let (ledger, runs) = ledger();
    let ledger = system.spawn(ledger).unwrap();
    let id = MessageId::next();
    let (gate, open) = Gate::new();
    let entered = gate.entered.clone();
    let first = ledger
        .slow_charge(700, gate.clone())
        .message_id(id)
        .into_future();
    let mut first = std::pin::pin!(first);
    send_now(first.as_mut()).await;
    // The first copy holds the actor at the gate; the second is queued behind it.
    entered.notified().await;
    let second = ledger.slow_charge(700, gate).message_id(id).into_future();
    let mut second = std::pin::pin!(second);
    send_now(second.as_mut()).await;
    assert_eq!(runs.load(Ordering::Relaxed), 1);
    open.send(()).unwrap();
    assert_eq!(first.await.unwrap(), Ok(1));
    assert_eq!(second.await.unwrap(), Ok(1));
    assert_eq!(runs.load(Ordering::Relaxed), 1);
    assert_eq!(ledger.rows().await.unwrap(), 1);
    system.shutdown().await;
}

#[tokio::test]
async fn the_window_survives_a_restart() {
    let system = System::new();
    let runs = Arc::new(AtomicU32::new(0));
    let spec = {
        let runs = runs.clone();
        ChildSpec::new(move || Ledger {
            runs: runs.clone(),
            ..Ledger::default()
        })
    };
    let ledger = system.spawn_supervised(spec).unwrap();
    let id = MessageId::next();
    assert_eq!(charge(&ledger, "4242", 500, id).await, 1);
    // A crash restarts the ledger with fresh state...
    let crashed = ledger.charge("crash".into(), 1).await;
    assert!(matches!(crashed, Err(AskError::Panicked(_))), "{crashed:?}");
    // ...and the retry of the first charge is still recognised: no second row.
    assert_eq!(charge(&ledger, "4242", 500, id).await, 1);
    assert_eq!(
        ledger.rows().await.unwrap(),
        0,
        "the new instance saved nothing"
    );
    assert_eq!(ledger.restarts(), 1);
    // A panicked charge remembered nothing: its retry runs again.
    assert_eq!(runs.load(Ordering::Relaxed), 2);
    system.shutdown().await;
}

#[tokio::test]
async fn a_bounded_window_forgets_the_oldest_ids() {
    let system = System::new();
    let (ledger, runs) = ledger();
    let window = Arc::new(MemoryDedupStore::new(2));
    let ledger = system
        .spawn_with(ledger, SpawnOptions::new().dedup_store(window.clone()))
        .unwrap();
    let ids: Vec<MessageId> = (0..3).map(|_| MessageId::next()).collect();
    for id in &ids {
        charge(&ledger, "4242", 1, *id).await;
    }
    assert_eq!(window.len(), 2);
    // The newest two are remembered; the oldest was forgotten and runs again.
    assert_eq!(charge(&ledger, "4242", 1, ids[2]).await, 3);
    assert_eq!(charge(&ledger, "4242", 1, ids[0]).await, 4);
    assert_eq!(runs.load(Ordering::Relaxed), 4);
    system.shutdown().await;
}

/// An actor whose every message is deduplicated.
#[derive(Default)]
struct Counter {
    total: u64,
}

impl Actor for Counter {
    type Msg = CounterMsg;
}

#[messages(idempotent)]
impl Counter {
    #[message]
    fn add(&mut self, n: u64) -> u64 {
        self.total += n;
        self.total
    }

    #[message]
    async fn double(&mut self) -> u64 {
        self.total *= 2;
        self.total
    }
}

#[tokio::test]
async fn a_whole_actor_can_deduplicate() {
    let system = System::new();
    let counter = system.spawn(Counter::default()).unwrap();
    let (add, double) = (MessageId::next(), MessageId::next());
    assert_eq!(counter.add(5).message_id(add).await.unwrap(), 5);
    assert_eq!(counter.add(5).message_id(add).await.unwrap(), 5);
    assert_eq!(counter.double().message_id(double).await.unwrap(), 10);
    assert_eq!(counter.double().message_id(double).await.unwrap(), 10);
    assert_eq!(counter.add(1).await.unwrap(), 11);
    system.shutdown().await;
}
