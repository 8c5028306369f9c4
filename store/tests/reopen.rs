//! Durable topics on redb: reopened in a new system (as by the next run of the program), a
//! topic has its events and offsets, and a consumer resumes after its last acknowledgement.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use serde::{Deserialize, Serialize};
use snowglobe_runtime::{
    Actor, Consume, Context, DurableError, DynMessage, Handler, Message, Record, Retention, System,
};
use snowglobe_store::{Postcard, RedbStore};
use tokio::sync::mpsc;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Shipped {
    order: u64,
}

impl Message for Shipped {
    type Reply = ();
}

/// Reports every record; acknowledges those below `ack_below`.
struct Consumer {
    seen: mpsc::UnboundedSender<u64>,
    ack_below: u64,
}

impl Actor for Consumer {
    type Msg = DynMessage<Self>;
}

impl Handler<Record<Shipped>> for Consumer {
    async fn handle(&mut self, record: Record<Shipped>, _: &mut Context<Self>) {
        if record.offset < self.ack_below {
            record.ack();
        }
        let _ = self.seen.send(record.offset);
    }
}

/// A database file of its own for each test, removed at the end.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Scratch {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "snowglobe-store-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn db(&self) -> PathBuf {
        self.0.join("topics.redb")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn open(
    system: &System,
    scratch: &Scratch,
    retention: Retention,
) -> snowglobe_runtime::DurableTopic<Shipped> {
    let store = Arc::new(RedbStore::open(scratch.db()).unwrap());
    system
        .events()
        .durable_stored::<Shipped>("shipped", retention, store, Postcard)
        .unwrap()
}

async fn next(seen: &mut mpsc::UnboundedReceiver<u64>, n: usize) -> Vec<u64> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(seen.recv().await.unwrap());
    }
    out
}

#[tokio::test]
async fn a_reopened_topic_has_its_events_and_its_consumers_resume_after_their_acks() {
    let scratch = Scratch::new();
    {
        let system = System::new();
        let shipped = open(&system, &scratch, Retention::all());
        for order in 0..5 {
            assert_eq!(shipped.publish(Shipped { order }).unwrap(), order);
        }
        let (tx, mut seen) = mpsc::unbounded_channel();
        let consumer = system
            .spawn(Consumer {
                seen: tx,
                ack_below: 3,
            })
            .unwrap();
        shipped
            .consume("billing", consumer, Consume::new())
            .unwrap();
        assert_eq!(next(&mut seen, 5).await, [0, 1, 2, 3, 4]);
        system.shutdown().await;
    }
    // The next run of the program.
    let system = System::new();
    let shipped = open(&system, &scratch, Retention::all());
    assert_eq!(shipped.offsets(), (0, 5));
    let stats = shipped.consumer_stats("billing").unwrap();
    assert_eq!((stats.acked_up_to, stats.attached), (3, None));
    let (tx, mut seen) = mpsc::unbounded_channel();
    let consumer = system
        .spawn(Consumer {
            seen: tx,
            ack_below: u64::MAX,
        })
        .unwrap();
    shipped
        .consume("billing", consumer, Consume::new())
        .unwrap();
    // Exactly the unacknowledged ones, then what is new.
    assert_eq!(next(&mut seen, 2).await, [3, 4]);
    assert_eq!(shipped.publish(Shipped { order: 5 }).unwrap(), 5);
    assert_eq!(next(&mut seen, 1).await, [5]);
    system.shutdown().await;
}

#[tokio::test]
async fn retention_is_kept_on_disk_and_offsets_never_go_back() {
    let scratch = Scratch::new();
    {
        let system = System::new();
        let shipped = open(&system, &scratch, Retention::all().max_events(3));
        for order in 0..10 {
            shipped.publish(Shipped { order }).unwrap();
        }
        assert_eq!(shipped.offsets(), (7, 10));
        system.shutdown().await;
    }
    let system = System::new();
    let shipped = open(&system, &scratch, Retention::all().max_events(3));
    assert_eq!(shipped.offsets(), (7, 10));
    assert_eq!(shipped.publish(Shipped { order: 10 }).unwrap(), 10);
    system.shutdown().await;
}

#[tokio::test]
async fn a_store_of_another_event_type_or_not_a_database_is_an_error() {
    let scratch = Scratch::new();
    {
        let system = System::new();
        let shipped = open(&system, &scratch, Retention::all());
        shipped.publish(Shipped { order: 300 }).unwrap();
        system.shutdown().await;
    }
    #[derive(Clone, Debug, Serialize, Deserialize)]
    struct Flag(bool);
    impl Message for Flag {
        type Reply = ();
    }
    let system = System::new();
    let store = Arc::new(RedbStore::open(scratch.db()).unwrap());
    let error = system
        .events()
        .durable_stored::<Flag>("shipped", Retention::all(), store, Postcard)
        .unwrap_err();
    assert!(matches!(error, DurableError::Store(_)), "{error:?}");

    let not_a_db = scratch.0.join("notes.txt");
    std::fs::write(&not_a_db, "not a database").unwrap();
    let error = RedbStore::open(&not_a_db).unwrap_err();
    assert!(error.message().contains("notes.txt"), "{error}");
    system.shutdown().await;
}
