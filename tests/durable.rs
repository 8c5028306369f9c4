//! Durable topics: a log with offsets and retention, named consumers that acknowledge,
//! redelivery after the ack timeout, resuming after a crash or under another actor, replay.
//!
//! Ack timeouts run on tokio's paused clock, which moves only when every task is idle: a
//! redelivery comes exactly when nothing else can happen first. Tests wait on the consumer's
//! reports, never on time.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use proptest::prelude::*;
use snowglobe::{
    Actor, Backoff, ChildSpec, Consume, DurableError, Record, Retention, StartAt, System, messages,
};
use tokio::sync::mpsc;

#[derive(Clone, Debug, PartialEq, Eq)]
struct Shipped(u64);

impl snowglobe::Message for Shipped {
    type Reply = ();
}

type ShippedRecord = Record<Shipped>;

/// What a consumer saw: the offset, how often it had been delivered before, whether this
/// instance handled it (acknowledged) or failed on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Seen {
    offset: u64,
    redelivered: u32,
    acked: bool,
}

/// Reports each record; acknowledges it unless told to fail on its first delivery (panic) or
/// to leave it unacknowledged.
struct Consumer {
    seen: mpsc::UnboundedSender<Seen>,
    fail_first_time: BTreeSet<u64>,
    never_ack: bool,
}

impl Actor for Consumer {
    type Msg = ConsumerMsg;
}

#[messages]
impl Consumer {
    #[handler]
    fn record(&mut self, record: ShippedRecord) {
        let fail = record.redelivered == 0 && self.fail_first_time.contains(&record.offset);
        let acked = !fail && !self.never_ack;
        let _ = self.seen.send(Seen {
            offset: record.offset,
            redelivered: record.redelivered,
            acked,
        });
        assert!(!fail, "failing on offset {}", record.offset);
        if acked {
            record.ack();
        }
    }
}

fn consumer(seen: &mpsc::UnboundedSender<Seen>) -> Consumer {
    Consumer {
        seen: seen.clone(),
        fail_first_time: BTreeSet::new(),
        never_ack: false,
    }
}

async fn next(seen: &mut mpsc::UnboundedReceiver<Seen>, n: usize) -> Vec<Seen> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(seen.recv().await.expect("the consumer reports"));
    }
    out
}

fn offsets(seen: &[Seen]) -> Vec<u64> {
    seen.iter().map(|s| s.offset).collect()
}

#[tokio::test]
async fn smoke_a_consumer_reads_the_log_in_order_and_acknowledges() {
    let system = System::new();
    let shipped = system
        .events()
        .durable::<Shipped>("shipped", Retention::all())
        .unwrap();
    for n in 0..5 {
        assert_eq!(
            shipped.publish(Shipped(n)).unwrap(),
            n,
            "offsets count from zero"
        );
    }
    let (tx, mut seen) = mpsc::unbounded_channel();
    let ledger = system.spawn(consumer(&tx)).unwrap();
    shipped
        .consume("ledger", ledger.clone(), Consume::new())
        .unwrap();
    assert_eq!(offsets(&next(&mut seen, 5).await), [0, 1, 2, 3, 4]);
    shipped.publish(Shipped(5)).unwrap();
    assert_eq!(offsets(&next(&mut seen, 1).await), [5]);
    // The ack of the last one follows its report; the next publish comes after it.
    shipped.publish(Shipped(6)).unwrap();
    next(&mut seen, 1).await;
    let stats = shipped.consumer_stats("ledger").unwrap();
    assert!(stats.acked_up_to >= 6, "{stats:?}");
    assert_eq!((stats.redelivered, stats.skipped), (0, 0));
    assert_eq!(stats.attached, Some(ledger.id()));
    assert_eq!(shipped.offsets(), (0, 7));
    system.shutdown().await;
}

#[tokio::test]
async fn consumers_start_where_they_are_told() {
    let system = System::new();
    let shipped = system
        .events()
        .durable::<Shipped>("shipped", Retention::all())
        .unwrap();
    for n in 0..4 {
        shipped.publish(Shipped(n)).unwrap();
    }
    let (tx, mut from_end) = mpsc::unbounded_channel();
    let late = system.spawn(consumer(&tx)).unwrap();
    shipped
        .consume("late", late, Consume::new().start(StartAt::End))
        .unwrap();
    let (tx, mut from_two) = mpsc::unbounded_channel();
    let middle = system.spawn(consumer(&tx)).unwrap();
    shipped
        .consume("middle", middle, Consume::new().start(StartAt::Offset(2)))
        .unwrap();
    shipped.publish(Shipped(4)).unwrap();
    assert_eq!(offsets(&next(&mut from_end, 1).await), [4]);
    assert_eq!(offsets(&next(&mut from_two, 3).await), [2, 3, 4]);
    system.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn an_unacknowledged_event_is_delivered_again_after_the_ack_timeout() {
    let system = System::new();
    let shipped = system
        .events()
        .durable::<Shipped>("shipped", Retention::all())
        .unwrap();
    let (tx, mut seen) = mpsc::unbounded_channel();
    let forgetful = system
        .spawn(Consumer {
            seen: tx,
            fail_first_time: BTreeSet::new(),
            never_ack: true,
        })
        .unwrap();
    shipped
        .consume(
            "forgetful",
            forgetful,
            Consume::new()
                .ack_timeout(Duration::from_secs(10))
                .max_in_flight(3),
        )
        .unwrap();
    for n in 0..5 {
        shipped.publish(Shipped(n)).unwrap();
    }
    let start = system.now();
    // Three may be in flight: the rest wait in the log, not in the mailbox.
    assert_eq!(offsets(&next(&mut seen, 3).await), [0, 1, 2]);
    let again = next(&mut seen, 3).await;
    assert_eq!(offsets(&again), [0, 1, 2], "the same three, again");
    assert!(again.iter().all(|s| s.redelivered == 1));
    assert_eq!(system.now() - start, Duration::from_secs(10));
    let stats = shipped.consumer_stats("forgetful").unwrap();
    assert_eq!((stats.in_flight, stats.next, stats.acked_up_to), (3, 3, 0));
    assert_eq!(stats.redelivered, 3);
    system.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn after_a_crash_exactly_the_unacknowledged_event_comes_again() {
    let system = System::new();
    let shipped = system
        .events()
        .durable::<Shipped>("shipped", Retention::all())
        .unwrap();
    let (tx, mut seen) = mpsc::unbounded_channel();
    let spec = ChildSpec::new(move || Consumer {
        seen: tx.clone(),
        fail_first_time: [3].into(),
        never_ack: false,
    })
    .backoff(Backoff::NONE);
    let shipping = system.spawn_supervised(spec).unwrap();
    shipped
        .consume(
            "shipping",
            shipping.clone(),
            Consume::new().ack_timeout(Duration::from_secs(5)),
        )
        .unwrap();
    for n in 0..8 {
        shipped.publish(Shipped(n)).unwrap();
    }
    let all = next(&mut seen, 9).await;
    let handled: Vec<_> = all.iter().filter(|s| s.acked).map(|s| s.offset).collect();
    let mut sorted = handled.clone();
    sorted.sort_unstable();
    assert_eq!(
        sorted,
        (0..8).collect::<Vec<_>>(),
        "each handled once: {all:?}"
    );
    let failed: Vec<_> = all.iter().filter(|s| !s.acked).collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].offset, 3);
    assert!(all.contains(&Seen {
        offset: 3,
        redelivered: 1,
        acked: true
    }));
    assert_eq!(shipping.restarts(), 1);
    assert_eq!(shipped.consumer_stats("shipping").unwrap().acked_up_to, 8);
    system.shutdown().await;
}

#[tokio::test]
async fn another_actor_takes_over_a_consumer_where_the_last_one_acknowledged() {
    let system = System::new();
    let shipped = system
        .events()
        .durable::<Shipped>("shipped", Retention::all())
        .unwrap();
    let (tx, mut seen) = mpsc::unbounded_channel();
    let first = system.spawn(consumer(&tx)).unwrap();
    shipped
        .consume("shipping", first.clone(), Consume::new())
        .unwrap();
    for n in 0..3 {
        shipped.publish(Shipped(n)).unwrap();
    }
    assert_eq!(offsets(&next(&mut seen, 3).await), [0, 1, 2]);
    // Busy while the first one runs.
    let (tx2, mut seen2) = mpsc::unbounded_channel();
    let second = system
        .spawn(Consumer {
            seen: tx2,
            fail_first_time: BTreeSet::new(),
            never_ack: false,
        })
        .unwrap();
    assert_eq!(
        shipped
            .consume("shipping", second.clone(), Consume::new())
            .unwrap_err(),
        DurableError::ConsumerBusy {
            name: "shipping".into(),
            actor: first.id()
        }
    );
    first.stop();
    first.stopped().await;
    for n in 3..5 {
        shipped.publish(Shipped(n)).unwrap();
    }
    shipped.consume("shipping", second, Consume::new()).unwrap();
    // Everything from the first unacknowledged offset on, and nothing before it.
    assert_eq!(offsets(&next(&mut seen2, 2).await), [3, 4]);
    system.shutdown().await;
}

#[tokio::test]
async fn retention_keeps_the_latest_and_a_lagging_consumer_skips_what_is_gone() {
    let system = System::new();
    let shipped = system
        .events()
        .durable::<Shipped>("shipped", Retention::all().max_events(4))
        .unwrap();
    for n in 0..10 {
        shipped.publish(Shipped(n)).unwrap();
    }
    assert_eq!(shipped.offsets(), (6, 10));
    let (tx, mut seen) = mpsc::unbounded_channel();
    let reader = system.spawn(consumer(&tx)).unwrap();
    shipped
        .consume("reader", reader, Consume::new().start(StartAt::Offset(0)))
        .unwrap();
    assert_eq!(offsets(&next(&mut seen, 4).await), [6, 7, 8, 9]);
    system.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn retention_by_age_drops_old_events() {
    let system = System::new();
    let shipped = system
        .events()
        .durable::<Shipped>("shipped", Retention::all().max_age(Duration::from_secs(60)))
        .unwrap();
    shipped.publish(Shipped(0)).unwrap();
    tokio::time::sleep(Duration::from_secs(61)).await;
    shipped.publish(Shipped(1)).unwrap();
    assert_eq!(shipped.offsets(), (1, 2));
    system.shutdown().await;
}

#[tokio::test]
async fn seek_replays_from_an_offset() {
    let system = System::new();
    let shipped = system
        .events()
        .durable::<Shipped>("shipped", Retention::all())
        .unwrap();
    let (tx, mut seen) = mpsc::unbounded_channel();
    let reader = system.spawn(consumer(&tx)).unwrap();
    for n in 0..4 {
        shipped.publish(Shipped(n)).unwrap();
    }
    shipped.consume("reader", reader, Consume::new()).unwrap();
    assert_eq!(offsets(&next(&mut seen, 4).await), [0, 1, 2, 3]);
    shipped.seek("reader", 1).unwrap();
    assert_eq!(offsets(&next(&mut seen, 3).await), [1, 2, 3]);
    assert_eq!(
        shipped.seek("nobody", 0).unwrap_err(),
        DurableError::NoConsumer("nobody".into())
    );
    system.shutdown().await;
}

#[tokio::test]
async fn bad_durable_topics_and_consumers_are_refused() {
    let system = System::new();
    let bus = system.events();
    bus.durable::<Shipped>("shipped", Retention::all()).unwrap();
    #[derive(Clone)]
    struct Other;
    impl snowglobe::Message for Other {
        type Reply = ();
    }
    assert_eq!(
        bus.durable::<Other>("shipped", Retention::all())
            .unwrap_err(),
        DurableError::WrongType("shipped".into())
    );
    assert_eq!(
        bus.durable::<Shipped>("", Retention::all()).unwrap_err(),
        DurableError::EmptyName
    );
    let shipped = bus.durable::<Shipped>("shipped", Retention::all()).unwrap();
    let (tx, _seen) = mpsc::unbounded_channel();
    let reader = system.spawn(consumer(&tx)).unwrap();
    assert_eq!(
        shipped
            .consume("r", reader.clone(), Consume::new().max_in_flight(0))
            .unwrap_err(),
        DurableError::ZeroInFlight
    );
    reader.stop();
    reader.stopped().await;
    assert_eq!(
        shipped
            .consume("r", reader.clone(), Consume::new())
            .unwrap_err(),
        DurableError::Stopped(reader.id())
    );
    system.shutdown().await;
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// A supervised consumer fails on the first delivery of a random set of offsets: every
    /// event is handled exactly once, and exactly the failed ones are delivered twice.
    #[test]
    fn after_crashes_exactly_the_unacknowledged_events_are_redelivered(
        events in 1u64..40,
        failing in proptest::collection::btree_set(0u64..40, 0..8),
        in_flight in 1usize..10,
    ) {
        let failing: BTreeSet<u64> = failing.into_iter().filter(|o| *o < events).collect();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        runtime.block_on(async {
            let system = System::builder()
                .supervisor(snowglobe::Supervisor::new(snowglobe::Strategy::OneForOne)
                    .intensity(1000, Duration::from_secs(1)))
                .build()
                .unwrap();
            let shipped = system.events().durable::<Shipped>("shipped", Retention::all()).unwrap();
            let (tx, mut seen) = mpsc::unbounded_channel();
            let spec = {
                let failing = failing.clone();
                ChildSpec::new(move || Consumer {
                    seen: tx.clone(),
                    fail_first_time: failing.clone(),
                    never_ack: false,
                })
                .backoff(Backoff::NONE)
            };
            let consumer = system.spawn_supervised(spec).unwrap();
            shipped
                .consume(
                    "c",
                    consumer,
                    Consume::new().ack_timeout(Duration::from_secs(3)).max_in_flight(in_flight),
                )
                .unwrap();
            for n in 0..events {
                shipped.publish(Shipped(n)).unwrap();
            }
            let total = usize::try_from(events).unwrap() + failing.len();
            let all = next(&mut seen, total).await;
            let mut deliveries: BTreeMap<u64, u32> = BTreeMap::new();
            for s in &all {
                *deliveries.entry(s.offset).or_default() += 1;
            }
            for offset in 0..events {
                let expected = if failing.contains(&offset) { 2 } else { 1 };
                assert_eq!(deliveries.get(&offset), Some(&expected), "offset {offset}: {all:?}");
            }
            let handled: BTreeSet<u64> = all.iter().filter(|s| s.acked).map(|s| s.offset).collect();
            assert_eq!(handled.len(), usize::try_from(events).unwrap());
            system.shutdown().await;
            assert!(seen.try_recv().is_err(), "nothing more");
        });
    }
}
