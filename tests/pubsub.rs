//! Publish-subscribe: typed topics, named topics and wildcards, filters, delivery policies
//! with exact drop counts, per-publisher order, subscriptions ending with their subscriber.
//!
//! A slow subscriber is made slow by holding it in a handler until the test opens a gate,
//! with its mailbox full behind it: what each policy does then is exact, not timing.

use proptest::prelude::*;
use snowglobe::{
    Actor, ActorRef, Context, DeadLetterReason, Delivery, Mailbox, Pattern, SpawnOptions,
    Subscribe, SubscribeError, System, TopicName, messages,
};
use tokio::sync::{mpsc, oneshot};

/// The event: who published it, and its number in that publisher's sequence.
#[derive(Clone, Debug, PartialEq, Eq)]
struct OrderPlaced {
    publisher: u32,
    seq: u32,
}

impl snowglobe::Message for OrderPlaced {
    type Reply = ();
}

#[derive(Default)]
struct Listener {
    seen: Vec<OrderPlaced>,
    /// Told of each event as it is handled.
    notify: Option<mpsc::UnboundedSender<OrderPlaced>>,
}

impl Listener {
    /// A listener that reports each event it handles to the returned receiver.
    fn reporting() -> (Listener, mpsc::UnboundedReceiver<OrderPlaced>) {
        let (notify, events) = mpsc::unbounded_channel();
        let listener = Listener {
            notify: Some(notify),
            ..Listener::default()
        };
        (listener, events)
    }
}

/// Waits for the next `n` events a reporting listener handles.
async fn next(events: &mut mpsc::UnboundedReceiver<OrderPlaced>, n: usize) -> Vec<u32> {
    let mut seqs = Vec::with_capacity(n);
    for _ in 0..n {
        seqs.push(events.recv().await.expect("the listener runs").seq);
    }
    seqs
}

impl Actor for Listener {
    type Msg = ListenerMsg;
}

#[messages]
impl Listener {
    #[handler]
    fn placed(&mut self, event: OrderPlaced) {
        if let Some(notify) = &self.notify {
            let _ = notify.send(event.clone());
        }
        self.seen.push(event);
    }

    #[message]
    fn seen(&self) -> Vec<OrderPlaced> {
        self.seen.clone()
    }

    /// Holds the listener until the gate opens; says when it has begun.
    #[message]
    async fn hold(&mut self, begun: oneshot::Sender<()>, gate: oneshot::Receiver<()>) {
        let _ = begun.send(());
        let _ = gate.await;
    }
}

fn event(seq: u32) -> OrderPlaced {
    OrderPlaced { publisher: 0, seq }
}

fn seqs(events: &[OrderPlaced]) -> Vec<u32> {
    events.iter().map(|e| e.seq).collect()
}

/// A listener with a mailbox of `capacity`, held in a handler: the mailbox is empty and
/// nothing leaves it until the returned gate is opened.
async fn held_listener(
    system: &System,
    capacity: usize,
    listener: Listener,
) -> (ActorRef<Listener>, oneshot::Sender<()>) {
    let listener = system
        .spawn_with(
            listener,
            SpawnOptions::new().mailbox(Mailbox::bounded(capacity)),
        )
        .unwrap();
    let (begun, has_begun) = oneshot::channel();
    let (open, gate) = oneshot::channel();
    listener.hold(begun, gate).tell().await.unwrap();
    has_begun.await.unwrap();
    (listener, open)
}

#[tokio::test]
async fn smoke_every_subscriber_gets_every_event() {
    let system = System::new();
    let placed = system.events().topic::<OrderPlaced>();
    let a = system.spawn(Listener::default()).unwrap();
    let b = system.spawn(Listener::default()).unwrap();
    placed.subscribe(a.recipient()).unwrap();
    system.events().subscribe::<OrderPlaced>(b.clone()).unwrap();
    assert_eq!(placed.subscriptions(), 2);

    let published = placed.publish(event(1)).await;
    assert_eq!((published.delivered, published.received()), (2, 2));
    assert_eq!(system.events().publish(event(2)).await.delivered, 2);
    assert_eq!(system.events().try_publish(event(3)).delivered, 2);
    for listener in [&a, &b] {
        assert_eq!(seqs(&listener.seen().await.unwrap()), [1, 2, 3]);
    }
    assert_eq!(placed.published(), 3);
    system.shutdown().await;
}

/// Records the message id of every event it handles.
#[derive(Default)]
struct IdRecorder {
    ids: Vec<snowglobe::MessageId>,
}

impl Actor for IdRecorder {
    type Msg = IdRecorderMsg;
}

#[messages]
impl IdRecorder {
    #[handler]
    fn placed(&mut self, ctx: &mut Context<Self>, _event: OrderPlaced) {
        self.ids.push(ctx.headers().id());
    }

    #[message]
    fn ids(&self) -> Vec<snowglobe::MessageId> {
        self.ids.clone()
    }
}

#[tokio::test]
async fn every_delivery_of_one_event_carries_its_one_id() {
    let system = System::new();
    let placed = system.events().topic::<OrderPlaced>();
    let recorders: Vec<_> = (0..3)
        .map(|_| system.spawn(IdRecorder::default()).unwrap())
        .collect();
    for recorder in &recorders {
        placed.subscribe(recorder.recipient()).unwrap();
    }
    placed.publish(event(1)).await;
    placed.try_publish(event(2));
    let ids = recorders[0].ids().await.unwrap();
    assert_eq!(ids.len(), 2);
    assert_ne!(ids[0], ids[1], "two events, two ids");
    for recorder in &recorders[1..] {
        assert_eq!(recorder.ids().await.unwrap(), ids);
    }
    system.shutdown().await;
}

#[tokio::test]
async fn patterns_and_filters_choose_the_events() {
    let system = System::new();
    let placed = system.events().topic::<OrderPlaced>();
    let everything = system.spawn(Listener::default()).unwrap();
    let eu = system.spawn(Listener::default()).unwrap();
    let big_eu = system.spawn(Listener::default()).unwrap();
    placed.subscribe(everything.clone()).unwrap();
    placed
        .subscribe_with(
            eu.clone(),
            Subscribe::new().on(Pattern::new("orders.eu.>").unwrap()),
        )
        .unwrap();
    placed
        .subscribe_with(
            big_eu.clone(),
            Subscribe::new()
                .on(Pattern::new("orders.eu.*").unwrap())
                .filter(|e: &OrderPlaced| e.seq >= 10),
        )
        .unwrap();

    let name = |n: &str| TopicName::new(n).unwrap();
    assert_eq!(
        placed
            .publish_on(&name("orders.eu.placed"), event(1))
            .await
            .delivered,
        2
    );
    assert_eq!(
        placed
            .publish_on(&name("orders.eu.placed"), event(10))
            .await
            .delivered,
        3
    );
    assert_eq!(
        placed
            .publish_on(&name("orders.eu.de.placed"), event(11))
            .await
            .delivered,
        2
    );
    assert_eq!(
        placed
            .publish_on(&name("orders.us.placed"), event(12))
            .await
            .delivered,
        1
    );
    // Published on the type alone: only the subscriptions without a pattern.
    assert_eq!(placed.publish(event(13)).await.delivered, 1);

    assert_eq!(seqs(&everything.seen().await.unwrap()), [1, 10, 11, 12, 13]);
    assert_eq!(seqs(&eu.seen().await.unwrap()), [1, 10, 11]);
    assert_eq!(seqs(&big_eu.seen().await.unwrap()), [10]);
    system.shutdown().await;
}

#[tokio::test]
async fn drop_newest_drops_and_counts_exactly_what_did_not_fit() {
    let system = System::new();
    let placed = system.events().topic::<OrderPlaced>();
    let (listener, open) = held_listener(&system, 4, Listener::default()).await;
    let id = placed
        .subscribe_with(
            listener.clone(),
            Subscribe::new().delivery(Delivery::DropNewest),
        )
        .unwrap();
    let mut dropped = 0;
    for seq in 0..10 {
        dropped += placed.try_publish(event(seq)).dropped;
    }
    assert_eq!(dropped, 6);
    let stats = placed.stats(id).unwrap();
    assert_eq!((stats.delivered, stats.dropped, stats.waiting), (4, 6, 0));
    open.send(()).unwrap();
    assert_eq!(seqs(&listener.seen().await.unwrap()), [0, 1, 2, 3]);
    assert_eq!(
        system.dead_letters().count(),
        0,
        "dropped, not dead letters"
    );
    system.shutdown().await;
}

#[tokio::test]
async fn drop_oldest_keeps_the_latest_and_counts_the_rest() {
    let system = System::new();
    let placed = system.events().topic::<OrderPlaced>();
    let (reporting, mut events) = Listener::reporting();
    let (listener, open) = held_listener(&system, 2, reporting).await;
    let id = placed
        .subscribe_with(
            listener.clone(),
            Subscribe::new().delivery(Delivery::DropOldest { buffer: 3 }),
        )
        .unwrap();
    let mut total = snowglobe::Published::default();
    for seq in 0..10 {
        let p = placed.try_publish(event(seq));
        total.delivered += p.delivered;
        total.queued += p.queued;
        total.dropped += p.dropped;
    }
    // Two fit in the mailbox; of the eight queued, the five oldest were pushed out.
    assert_eq!((total.delivered, total.queued, total.dropped), (2, 8, 5));
    let stats = placed.stats(id).unwrap();
    assert_eq!((stats.dropped, stats.waiting), (5, 3));
    open.send(()).unwrap();
    // In order: what was in the mailbox, then the three latest, moved in as room appeared.
    assert_eq!(next(&mut events, 5).await, [0, 1, 7, 8, 9]);
    assert_eq!(placed.stats(id).unwrap().delivered, 5);
    system.shutdown().await;
}

#[tokio::test]
async fn dead_letter_policy_records_every_drop() {
    let system = System::new();
    let placed = system.events().topic::<OrderPlaced>();
    let (listener, open) = held_listener(&system, 1, Listener::default()).await;
    placed
        .subscribe_with(
            listener.clone(),
            Subscribe::new().delivery(Delivery::DeadLetter),
        )
        .unwrap();
    for seq in 0..4 {
        placed.try_publish(event(seq));
    }
    let dead = system.dead_letters();
    assert_eq!(dead.count_of(&DeadLetterReason::MailboxFull), 3);
    let letters = dead.recent();
    assert!(
        letters
            .iter()
            .all(|l| l.recipient() == listener.id() && l.message_type().ends_with("OrderPlaced"))
    );
    open.send(()).unwrap();
    assert_eq!(seqs(&listener.seen().await.unwrap()), [0]);
    system.shutdown().await;
}

#[tokio::test]
async fn backpressure_makes_the_publisher_wait_and_loses_nothing() {
    let system = System::new();
    let placed = system.events().topic::<OrderPlaced>();
    let (listener, open) = held_listener(&system, 2, Listener::default()).await;
    let id = placed.subscribe(listener.clone()).unwrap();
    assert_eq!(placed.publish(event(0)).await.delivered, 1);
    assert_eq!(placed.publish(event(1)).await.delivered, 1);
    // The mailbox is full: this publish waits.
    let mut third = std::pin::pin!(placed.publish(event(2)));
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    assert!(third.as_mut().poll(&mut cx).is_pending());
    assert_eq!(placed.stats(id).unwrap().waiting, 1);
    open.send(()).unwrap();
    assert_eq!(third.await.delivered, 1);
    for seq in 3..20 {
        assert_eq!(placed.publish(event(seq)).await.delivered, 1);
    }
    assert_eq!(
        seqs(&listener.seen().await.unwrap()),
        (0..20).collect::<Vec<_>>()
    );
    system.shutdown().await;
}

#[tokio::test]
async fn try_publish_queues_for_a_backpressure_subscriber_in_order() {
    let system = System::new();
    let placed = system.events().topic::<OrderPlaced>();
    let (reporting, mut events) = Listener::reporting();
    let (listener, open) = held_listener(&system, 2, reporting).await;
    let id = placed.subscribe(listener.clone()).unwrap();
    let mut queued = 0;
    for seq in 0..50 {
        queued += placed.try_publish(event(seq)).queued;
    }
    assert_eq!(queued, 48);
    assert_eq!(placed.stats(id).unwrap().waiting, 48);
    open.send(()).unwrap();
    assert_eq!(next(&mut events, 50).await, (0..50).collect::<Vec<_>>());
    assert_eq!(placed.stats(id).unwrap().waiting, 0);
    system.shutdown().await;
}

#[tokio::test]
async fn a_stopped_subscriber_is_unsubscribed_and_in_flight_events_are_dead_letters() {
    let system = System::new();
    let placed = system.events().topic::<OrderPlaced>();
    let quitter = system.spawn(Listener::default()).unwrap();
    let stayer = system.spawn(Listener::default()).unwrap();
    placed.subscribe(quitter.clone()).unwrap();
    placed.subscribe(stayer.clone()).unwrap();
    quitter.stop();
    quitter.stopped().await;
    assert_eq!(placed.subscriptions(), 1, "ended with its subscriber");
    assert_eq!(placed.publish(event(1)).await.delivered, 1);
    assert_eq!(system.dead_letters().count(), 0);
    assert_eq!(
        placed.subscribe(quitter.clone()).unwrap_err(),
        SubscribeError::SubscriberStopped(quitter.id())
    );
    assert_eq!(placed.subscriptions(), 1, "nothing leaked");

    // Events waiting in a subscription when its subscriber stops become dead letters.
    let (office, mut letters) = Office::spawn(&system);
    let (held, open) = held_listener(&system, 1, Listener::default()).await;
    placed.subscribe(held.clone()).unwrap();
    for seq in 0..5 {
        placed.try_publish(event(seq));
    }
    held.kill();
    held.stopped().await;
    drop(open);
    // The kill interrupted `hold`; one event was in the mailbox, four waited in the
    // subscription.
    let mut reasons = Vec::new();
    for _ in 0..6 {
        let letter = letters.recv().await.unwrap();
        assert_eq!(letter.recipient(), held.id());
        reasons.push(letter.reason().clone());
    }
    let stopped = reasons
        .iter()
        .filter(|r| **r == DeadLetterReason::ActorStopped)
        .count();
    assert_eq!(stopped, 5, "{reasons:?}");
    assert!(reasons.contains(&DeadLetterReason::Interrupted));
    assert_eq!(placed.subscriptions(), 1);
    drop(office);
    system.shutdown().await;
}

/// Reports every dead letter.
struct Office {
    letters: mpsc::UnboundedSender<snowglobe::DeadLetter>,
}

impl Actor for Office {
    type Msg = OfficeMsg;
}

#[messages]
impl Office {
    #[handler]
    fn letter(&mut self, letter: snowglobe::DeadLetter) {
        let _ = self.letters.send(letter);
    }
}

impl Office {
    fn spawn(
        system: &System,
    ) -> (
        ActorRef<Office>,
        mpsc::UnboundedReceiver<snowglobe::DeadLetter>,
    ) {
        let (letters, receiver) = mpsc::unbounded_channel();
        let office = system.spawn(Office { letters }).unwrap();
        system.dead_letters().subscribe(office.recipient());
        (office, receiver)
    }
}

#[tokio::test]
async fn unsubscribe_and_bad_subscriptions() {
    let system = System::new();
    let placed = system.events().topic::<OrderPlaced>();
    let listener = system.spawn(Listener::default()).unwrap();
    let id = placed.subscribe(listener.clone()).unwrap();
    assert!(system.events().unsubscribe(id));
    assert!(!placed.unsubscribe(id), "once");
    assert_eq!(placed.publish(event(1)).await.delivered, 0);
    assert_eq!(
        placed
            .subscribe_with(
                listener,
                Subscribe::new().delivery(Delivery::DropOldest { buffer: 0 })
            )
            .unwrap_err(),
        SubscribeError::ZeroBuffer
    );
    system.shutdown().await;
}

/// Publishes from inside an actor, on a named topic.
struct Orders;

impl Actor for Orders {
    type Msg = OrdersMsg;
}

#[messages]
impl Orders {
    #[message]
    async fn place(&mut self, seq: u32, ctx: &mut Context<Self>) -> usize {
        let name = TopicName::new("orders.placed").unwrap();
        let topic = ctx.system().events().topic::<OrderPlaced>();
        topic.publish_on(&name, event(seq)).await.delivered
    }
}

#[tokio::test]
async fn actors_publish_too() {
    let system = System::new();
    let listener = system.spawn(Listener::default()).unwrap();
    system
        .events()
        .topic::<OrderPlaced>()
        .subscribe_with(
            listener.clone(),
            Subscribe::new().on(Pattern::new("orders.*").unwrap()),
        )
        .unwrap();
    let orders = system.spawn(Orders).unwrap();
    assert_eq!(orders.place(7).await.unwrap(), 1);
    assert_eq!(seqs(&listener.seen().await.unwrap()), [7]);
    system.shutdown().await;
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Several publishers, a small mailbox, backpressure: every subscriber gets every event,
    /// each publisher's in the order published.
    #[test]
    fn per_publisher_order_and_no_loss_under_backpressure(
        publishers in 1u32..4,
        events in 1u32..60,
        capacity in 1usize..8,
        subscribers in 1usize..4,
        use_try in any::<bool>(),
    ) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_time()
            .build()
            .unwrap();
        runtime.block_on(async {
            let system = System::new();
            let placed = system.events().topic::<OrderPlaced>();
            let mut listeners: Vec<_> = (0..subscribers)
                .map(|_| {
                    let (listener, events) = Listener::reporting();
                    let listener = system
                        .spawn_with(listener, SpawnOptions::new().mailbox(Mailbox::bounded(capacity)))
                        .unwrap();
                    placed.subscribe(listener.clone()).unwrap();
                    events
                })
                .collect();
            let tasks: Vec<_> = (0..publishers)
                .map(|publisher| {
                    let placed = placed.clone();
                    tokio::spawn(async move {
                        for seq in 0..events {
                            let e = OrderPlaced { publisher, seq };
                            if use_try {
                                placed.try_publish(e);
                            } else {
                                placed.publish(e).await;
                            }
                        }
                    })
                })
                .collect();
            for task in tasks {
                task.await.unwrap();
            }
            let expected = (publishers * events) as usize;
            for listener in &mut listeners {
                let mut seen = Vec::with_capacity(expected);
                for _ in 0..expected {
                    seen.push(listener.recv().await.unwrap());
                }
                assert!(listener.try_recv().is_err(), "nothing twice");
                for publisher in 0..publishers {
                    let own: Vec<_> = seen
                        .iter()
                        .filter(|e| e.publisher == publisher)
                        .map(|e| e.seq)
                        .collect();
                    assert_eq!(own, (0..events).collect::<Vec<_>>());
                }
            }
            system.shutdown().await;
        });
    }
}

/// Reports the runtime's events.
struct Observer {
    events: mpsc::UnboundedSender<String>,
}

impl Actor for Observer {
    type Msg = ObserverMsg;
}

#[messages]
impl Observer {
    #[handler]
    fn actor_event(&mut self, event: snowglobe::ActorEvent) {
        let _ = self.events.send(event.to_string());
    }

    #[handler]
    fn dead_letter(&mut self, letter: snowglobe::DeadLetter) {
        let _ = self.events.send(format!(
            "dead letter for {}: {}",
            letter.recipient(),
            letter.reason()
        ));
    }
}

#[derive(Default)]
struct Fragile;

impl Actor for Fragile {
    type Msg = FragileMsg;
}

#[messages]
impl Fragile {
    #[message]
    fn crash(&mut self) {
        panic!("fragile");
    }
}

#[tokio::test]
async fn the_runtime_publishes_its_own_events_on_the_bus() {
    let system = System::new();
    let (events, mut log) = mpsc::unbounded_channel();
    let observer = system.spawn(Observer { events }).unwrap();
    let bus = system.events();
    bus.subscribe::<snowglobe::ActorEvent>(observer.clone())
        .unwrap();
    bus.subscribe::<snowglobe::DeadLetter>(observer.clone())
        .unwrap();

    let fragile = system
        .spawn_supervised(
            snowglobe::ChildSpec::new(Fragile::default)
                .name("fragile")
                .backoff(snowglobe::Backoff::NONE),
        )
        .unwrap();
    let id = fragile.id();
    assert_eq!(log.recv().await.unwrap(), format!("{id} (fragile) started"));
    let _ = fragile.crash().await;
    // Two topics: the dead letter and the restart come in either order.
    let mut next_two = vec![log.recv().await.unwrap(), log.recv().await.unwrap()];
    let mut expected = vec![
        format!("dead letter for {id}: handler panicked: fragile"),
        format!("{id} restarted (#1) after: panicked: fragile"),
    ];
    next_two.sort();
    expected.sort();
    assert_eq!(next_two, expected);
    fragile.stop();
    fragile.stopped().await;
    assert_eq!(log.recv().await.unwrap(), format!("{id} stopped: stopped"));
    system.shutdown().await;
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// A held subscriber with a mailbox of `capacity`: each drop policy drops, counts and
    /// delivers exactly what it says.
    #[test]
    fn drop_policies_count_exactly(
        capacity in 1usize..8,
        events in 0u32..40,
        buffer in 1usize..6,
        policy in 0u8..3,
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        runtime.block_on(async {
            let system = System::new();
            let placed = system.events().topic::<OrderPlaced>();
            let (reporting, mut seen) = Listener::reporting();
            let (listener, open) = held_listener(&system, capacity, reporting).await;
            let delivery = match policy {
                0 => Delivery::DropNewest,
                1 => Delivery::DropOldest { buffer },
                _ => Delivery::DeadLetter,
            };
            let id = placed
                .subscribe_with(listener.clone(), Subscribe::new().delivery(delivery))
                .unwrap();
            let mut total = snowglobe::Published::default();
            for seq in 0..events {
                let p = placed.try_publish(event(seq));
                total.delivered += p.delivered;
                total.queued += p.queued;
                total.dropped += p.dropped;
            }
            let n = events as usize;
            let fit = n.min(capacity);
            let (queued, dropped, kept_late) = match delivery {
                Delivery::DropOldest { buffer } => {
                    let queued = n - fit;
                    (queued, queued.saturating_sub(buffer), queued.min(buffer))
                }
                _ => (0, n - fit, 0),
            };
            assert_eq!((total.delivered, total.queued, total.dropped), (fit, queued, dropped));
            let stats = placed.stats(id).unwrap();
            assert_eq!(stats.dropped, dropped as u64);
            let dead = system.dead_letters().count_of(&DeadLetterReason::MailboxFull);
            let expected_dead = if delivery == Delivery::DeadLetter { dropped } else { 0 };
            assert_eq!(dead, expected_dead as u64);
            open.send(()).unwrap();
            // What arrives: the first `fit` in order, then the latest `kept_late`.
            let (fit_u32, late_u32) = (u32::try_from(fit).unwrap(), u32::try_from(kept_late).unwrap());
            let mut expected: Vec<u32> = (0..fit_u32).collect();
            expected.extend(events - late_u32..events);
            assert_eq!(next(&mut seen, expected.len()).await, expected);
            system.shutdown().await;
            assert!(seen.try_recv().is_err(), "nothing more");
        });
    }
}
