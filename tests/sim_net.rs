//! Simulated nodes and the network between them: latency, loss, reordering, partitions,
//! crashes, restarts and pauses, each shown by its effect. Every duration here is virtual.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use snowglobe::sim::{
    Latency, Link, NodeState, Note, SimError, Simulation, Trace, TraceKind, World,
};
use snowglobe::{Actor, ActorRef, ActorState, AskError, ChildSpec, Instant, StopReason, messages};

const MS: Duration = Duration::from_millis(1);
const SECOND: Duration = Duration::from_secs(1);

/// Keeps what it is sent, in arrival order.
#[derive(Actor, Default)]
struct Sink {
    got: Vec<u64>,
}

#[messages]
impl Sink {
    #[message]
    fn put(&mut self, n: u64) {
        self.got.push(n);
    }

    #[message]
    fn got(&self) -> Vec<u64> {
        self.got.clone()
    }

    #[message]
    fn count(&self) -> usize {
        self.got.len()
    }
}

/// Sends to a sink from its own node, so that the messages cross the network.
#[derive(Actor)]
struct Sender {
    to: ActorRef<Sink>,
}

#[messages]
impl Sender {
    /// Tells `n` numbered messages, starting at `first`.
    #[message]
    async fn burst(&mut self, first: u64, n: u64) {
        for i in first..first + n {
            self.to.put(i).tell().await.unwrap();
        }
    }

    /// Asks the sink how much it has, waiting at most `timeout`.
    #[message]
    async fn ask_count(&mut self, timeout: Duration) -> Result<usize, String> {
        self.to
            .count()
            .timeout(timeout)
            .await
            .map_err(|e| e.to_string())
    }
}

/// A counter whose state lives only in memory.
#[derive(Actor, Default)]
struct Counter {
    n: u64,
}

#[messages]
impl Counter {
    #[message]
    fn add(&mut self, k: u64) {
        self.n += k;
    }

    #[message]
    fn total(&self) -> u64 {
        self.n
    }
}

/// Asks a counter from its own node.
#[derive(Actor)]
struct Reader {
    counter: ActorRef<Counter>,
}

#[messages]
impl Reader {
    #[message]
    async fn read(&mut self, timeout: Duration) -> Result<u64, AskError<Total>> {
        self.counter.total().timeout(timeout).await
    }
}

#[test]
fn an_ask_between_nodes_takes_the_latency_both_ways_and_is_traced_hop_by_hop() {
    let mut sim = Simulation::with_seed(1).link(Link::new().latency(Latency::fixed(10 * MS)));
    let (count, elapsed) = sim
        .run(|system| async move {
            let world = World::of(&system).unwrap();
            let a = world.node("orders");
            let b = world.node("payments");
            let sink = b.system().spawn(Sink::default()).unwrap();
            let sender = a.system().spawn(Sender { to: sink }).unwrap();
            let start = system.now();
            let count = sender.ask_count(SECOND).await.unwrap();
            (count, system.now() - start)
        })
        .unwrap();
    assert_eq!(count, Ok(0));
    assert_eq!(elapsed, 20 * MS, "10 ms there, 10 ms back");
    let hops: Vec<_> = sim
        .trace()
        .events()
        .iter()
        .filter(|e| e.kind.is_message() && e.from != e.to && e.from > 1 && e.to > 1)
        .map(|e| (e.kind, e.from, e.to, e.reply, e.at.as_nanos() / 1_000_000))
        .collect();
    assert_eq!(
        hops,
        [
            (TraceKind::Send, 2, 3, false, 0),
            (TraceKind::Deliver, 2, 3, false, 10),
            (TraceKind::Send, 3, 2, true, 10),
            (TraceKind::Deliver, 3, 2, true, 20),
        ]
    );
    assert_eq!(sim.trace().node_name(2), Some("orders"));
    assert_eq!(sim.trace().node_name(3), Some("payments"));
}

#[test]
fn loss_drops_a_share_of_messages_within_statistical_bounds() {
    for seed in [11, 12, 13] {
        let mut sim = Simulation::with_seed(seed).link(Link::new().loss(0.1));
        let (got, stats) = sim
            .run(|system| async move {
                let (world, a, b) = two_nodes(&system);
                let sink = b.system().spawn(Sink::default()).unwrap();
                let sender = a.system().spawn(Sender { to: sink.clone() }).unwrap();
                sender.burst(0, 10_000).await.unwrap();
                system.sleep(SECOND).await;
                (sink.count().await.unwrap(), world.stats())
            })
            .unwrap();
        // Binomial(10,000, 0.9): the standard deviation is 30; five of them either side.
        assert!(
            (8_850..=9_150).contains(&got),
            "seed {seed}: {got} delivered"
        );
        assert_eq!(stats.sent, 10_000);
        assert_eq!(stats.delivered, got as u64);
        assert_eq!(stats.dropped, 10_000 - got as u64);
        let lost = sim
            .trace()
            .events()
            .iter()
            .filter(|e| e.kind == TraceKind::Drop && e.note == Note::Lost)
            .count();
        assert_eq!(lost, 10_000 - got, "every loss is in the trace");
    }
}

#[test]
fn a_link_keeps_order_unless_it_reorders() {
    let run = |reorder: f64| {
        let link = Link::new()
            .latency(Latency::uniform(Duration::ZERO, 50 * MS))
            .reorder(reorder);
        let mut sim = Simulation::with_seed(5).link(link);
        sim.run(|system| async move {
            let (_, a, b) = two_nodes(&system);
            let sink = b.system().spawn(Sink::default()).unwrap();
            let sender = a.system().spawn(Sender { to: sink.clone() }).unwrap();
            sender.burst(0, 500).await.unwrap();
            system.sleep(SECOND).await;
            sink.got().await.unwrap()
        })
        .unwrap()
    };
    let fifo = run(0.0);
    assert_eq!(fifo, (0..500).collect::<Vec<_>>());
    let shuffled = run(0.5);
    assert_eq!(shuffled.len(), 500, "reordered, not lost");
    assert_ne!(shuffled, fifo);
}

#[test]
fn a_one_way_partition_blocks_exactly_one_direction_until_healed() {
    let mut sim = Simulation::with_seed(21);
    let (during, after) = sim
        .run(|system| async move {
            let (world, a, b) = two_nodes(&system);
            let sink_a = a.system().spawn(Sink::default()).unwrap();
            let sink_b = b.system().spawn(Sink::default()).unwrap();
            let from_a = a.system().spawn(Sender { to: sink_b.clone() }).unwrap();
            let from_b = b.system().spawn(Sender { to: sink_a.clone() }).unwrap();
            world.partition_one_way(&[&a], &[&b]);
            assert!(world.is_cut(&a, &b) && !world.is_cut(&b, &a));
            from_a.burst(0, 10).await.unwrap();
            from_b.burst(0, 10).await.unwrap();
            system.sleep(SECOND).await;
            let during = (sink_b.count().await.unwrap(), sink_a.count().await.unwrap());
            world.heal();
            from_a.burst(10, 10).await.unwrap();
            system.sleep(SECOND).await;
            let after = (sink_b.count().await.unwrap(), sink_a.count().await.unwrap());
            (during, after)
        })
        .unwrap();
    assert_eq!(during, (0, 10), "a → b cut, b → a open");
    assert_eq!(after, (10, 10), "healed: a → b carries the next burst");
    let kinds: Vec<_> = sim
        .trace()
        .events()
        .iter()
        .filter(|e| matches!(e.kind, TraceKind::Partition | TraceKind::Heal))
        .map(|e| (e.kind, e.from, e.to))
        .collect();
    assert_eq!(
        kinds,
        [(TraceKind::Partition, 2, 3), (TraceKind::Heal, 2, 3)]
    );
}

#[test]
fn an_ask_into_a_partition_times_out_like_on_a_real_network() {
    let mut sim = Simulation::with_seed(22);
    let (cut, healed, at) = sim
        .run(|system| async move {
            let (world, a, b) = two_nodes(&system);
            let sink = b.system().spawn(Sink::default()).unwrap();
            let sender = a.system().spawn(Sender { to: sink }).unwrap();
            world.partition(&[&a], &[&b]);
            let start = system.now();
            let cut = sender.ask_count(250 * MS).await.unwrap();
            let at = system.now() - start;
            world.schedule(SECOND, World::heal);
            system.sleep(2 * SECOND).await;
            let healed = sender.ask_count(250 * MS).await.unwrap();
            (cut, healed, at)
        })
        .unwrap();
    assert_eq!(cut, Err(AskError::<Count>::Timeout.to_string()));
    assert_eq!(at, 250 * MS, "the asker learns nothing until its deadline");
    assert_eq!(healed, Ok(0));
}

#[test]
fn a_crash_loses_state_and_mailboxes_and_a_restart_rebuilds_the_roots() {
    let mut sim = Simulation::with_seed(31);
    sim.run(|system| async move {
        let world = World::of(&system).unwrap();
        let a = world.node("a");
        let b = world.node("counter");
        let counter = b.spawn_root(ChildSpec::new(Counter::default)).unwrap();
        let helper = b.system().spawn(Sink::default()).unwrap();
        let reader = a
            .system()
            .spawn(Reader {
                counter: counter.clone(),
            })
            .unwrap();
        counter.add(5).tell().await.unwrap();
        assert_eq!(reader.read(SECOND).await.unwrap().unwrap(), 5);

        b.crash();
        assert_eq!(b.state(), NodeState::Crashed);
        assert_eq!(counter.state(), ActorState::Crashed);
        assert!(
            counter.is_alive(),
            "a root keeps its address through the crash"
        );
        assert!(
            matches!(helper.stopped().await, StopReason::Killed),
            "other actors end"
        );
        // From the scenario's own system the mailbox is closed; from another node the ask
        // is lost on the way and times out.
        assert!(matches!(counter.total().await, Err(AskError::Closed(_))));
        assert!(matches!(
            reader.read(100 * MS).await.unwrap(),
            Err(AskError::Timeout)
        ));

        b.restart();
        assert_eq!(b.state(), NodeState::Up);
        assert_eq!(counter.restarts(), 1);
        assert_eq!(
            counter.total().await.unwrap(),
            0,
            "state was in memory only"
        );
        counter.add(2).tell().await.unwrap();
        assert_eq!(reader.read(SECOND).await.unwrap().unwrap(), 2);
    })
    .unwrap();
    let kinds: Vec<_> = sim
        .trace()
        .events()
        .iter()
        .filter(|e| matches!(e.kind, TraceKind::Crash | TraceKind::Restart))
        .map(|e| (e.kind, e.from))
        .collect();
    assert_eq!(kinds, [(TraceKind::Crash, 3), (TraceKind::Restart, 3)]);
}

#[test]
fn a_crash_drops_what_was_queued_and_what_was_on_the_way() {
    let mut sim = Simulation::with_seed(32).link(Link::new().latency(Latency::fixed(10 * MS)));
    let got = sim
        .run(|system| async move {
            let (world, a, b) = two_nodes(&system);
            let sink = b.spawn_root(ChildSpec::new(Sink::default)).unwrap();
            let sender = a.system().spawn(Sender { to: sink.clone() }).unwrap();
            // Ten messages leave at once and would arrive at 10 ms; the node dies at 5 ms.
            sender.burst(0, 10).await.unwrap();
            let b2 = b.clone();
            world.schedule(5 * MS, move |_| b2.crash());
            world.schedule(20 * MS, move |_| b.restart());
            system.sleep(SECOND).await;
            sink.got().await.unwrap()
        })
        .unwrap();
    assert!(got.is_empty(), "{got:?}");
    let down = sim
        .trace()
        .events()
        .iter()
        .filter(|e| e.kind == TraceKind::Drop && e.note == Note::NodeDown)
        .count();
    assert_eq!(down, 10);
}

#[test]
fn a_paused_node_runs_nothing_until_it_resumes() {
    let mut sim = Simulation::with_seed(41);
    sim.run(|system| async move {
        let (_, a, b) = two_nodes(&system);
        let sink = b.system().spawn(Sink::default()).unwrap();
        let sender = a.system().spawn(Sender { to: sink.clone() }).unwrap();
        b.pause();
        assert_eq!(b.state(), NodeState::Paused);
        sender.burst(0, 3).await.unwrap();
        system.sleep(SECOND).await;
        assert!(matches!(
            sink.count().timeout(100 * MS).await,
            Err(AskError::Timeout)
        ));
        b.resume();
        assert_eq!(
            sink.count().await.unwrap(),
            3,
            "queued while paused, handled after"
        );
    })
    .unwrap();
}

#[test]
fn a_skewed_clock_shifts_what_the_node_reads() {
    let mut sim = Simulation::with_seed(51);
    sim.run(|system| async move {
        let world = World::of(&system).unwrap();
        let ahead = world.node("ahead");
        let behind = world.node("behind");
        system.sleep(10 * SECOND).await;
        ahead.set_clock_ahead(5 * SECOND);
        behind.set_clock_behind(3 * SECOND);
        assert_eq!(system.now(), Instant::ZERO + 10 * SECOND);
        assert_eq!(ahead.system().now(), Instant::ZERO + 15 * SECOND);
        assert_eq!(behind.system().now(), Instant::ZERO + 7 * SECOND);
        // A sleep on the node ends when the node's clock says so.
        let start = system.now();
        ahead.system().sleep(SECOND).await;
        assert_eq!(system.now() - start, SECOND);
    })
    .unwrap();
}

/// A busy scenario on a faulty network, for determinism.
fn faulty(seed: u64) -> String {
    let link = Link::new()
        .latency(Latency::exponential(MS, 20 * MS))
        .loss(0.05)
        .reorder(0.1);
    let mut sim = Simulation::with_seed(seed).link(link);
    sim.run(|system| async move {
        let world = World::of(&system).unwrap();
        let nodes: Vec<_> = (0..3).map(|i| world.node(format!("n{i}"))).collect();
        let sinks: Vec<_> = nodes
            .iter()
            .map(|n| n.system().spawn(Sink::default()).unwrap())
            .collect();
        let mut senders = Vec::new();
        for (i, n) in nodes.iter().enumerate() {
            let to = sinks[(i + 1) % 3].clone();
            senders.push(n.system().spawn(Sender { to }).unwrap());
        }
        for s in &senders {
            s.burst(0, 50).tell().await.unwrap();
            let _ = s.ask_count(30 * MS).tell().await;
        }
        system.sleep(SECOND).await;
    })
    .unwrap();
    sim.trace().to_json_lines()
}

#[test]
fn a_faulty_network_repeats_byte_for_byte_from_its_seed() {
    let first = faulty(8431);
    assert_eq!(first, faulty(8431));
    assert_ne!(first, faulty(8432));
    assert!(first.contains(r#""kind":"drop""#));
}

/// Counts what it is told into a counter the test also reads.
#[derive(Actor)]
struct Tally {
    seen: Arc<AtomicU64>,
}

#[messages]
impl Tally {
    #[message]
    fn mark(&mut self) {
        self.seen.fetch_add(1, Ordering::Relaxed);
    }
}

/// Tells a tally from its node.
#[derive(Actor)]
struct Marker {
    to: ActorRef<Tally>,
}

#[messages]
impl Marker {
    #[message]
    async fn mark_times(&mut self, n: u32) {
        for _ in 0..n {
            self.to.mark().tell().await.unwrap();
        }
    }
}

/// Ten marks sent to a paused node that resumes `resume_after` later; the scenario returns
/// at once, and the simulation waits for the marks to be handled for 5 s at most.
fn paused_then_resumed(resume_after: Duration) -> Result<(), SimError> {
    let seen = Arc::new(AtomicU64::new(0));
    let check = seen.clone();
    Simulation::with_seed(61)
        .eventually("all ten marks handled", 5 * SECOND, move || {
            check.load(Ordering::Relaxed) == 10
        })
        .run(|system| async move {
            let (world, a, b) = two_nodes(&system);
            let tally = b.system().spawn(Tally { seen }).unwrap();
            let marker = a.system().spawn(Marker { to: tally }).unwrap();
            b.pause();
            marker.mark_times(10).await.unwrap();
            world.schedule(resume_after, move |_| b.resume());
        })
}

#[test]
fn an_eventually_check_waits_on_virtual_time_and_fails_with_its_name_when_late() {
    assert_eq!(paused_then_resumed(3 * SECOND), Ok(()));
    match paused_then_resumed(8 * SECOND) {
        Err(SimError::Liveness {
            check,
            at,
            seed,
            recent,
            command,
        }) => {
            assert_eq!(&*check, "all ten marks handled");
            assert_eq!(
                at,
                Instant::ZERO + 5 * SECOND,
                "5 s after the scenario ended"
            );
            assert_eq!(seed, 61);
            assert!(!recent.is_empty());
            assert!(
                command.starts_with("SNOWGLOBE_SEED=61 cargo test"),
                "{command}"
            );
        }
        other => panic!("expected a liveness failure, got {other:?}"),
    }
}

#[test]
fn a_saved_trace_replays_and_a_changed_scenario_diverges() {
    let scenario = |bursts: u64| {
        move |system: snowglobe::System| async move {
            let (_, a, b) = two_nodes(&system);
            let sink = b.system().spawn(Sink::default()).unwrap();
            let sender = a.system().spawn(Sender { to: sink }).unwrap();
            for i in 0..bursts {
                sender.burst(i * 10, 10).await.unwrap();
            }
        }
    };
    let link = Link::new().latency(Latency::uniform(MS, 20 * MS)).loss(0.2);
    let mut sim = Simulation::with_seed(71).link(link);
    sim.run(scenario(3)).unwrap();
    let saved = sim.trace().to_json_lines();
    let recorded = Trace::from_json_lines(&saved).unwrap();
    assert_eq!(&recorded, sim.trace());

    let mut again = Simulation::with_seed(0).link(link);
    again.replay(&recorded, scenario(3)).unwrap();
    assert_eq!(again.seed(), 71);
    match again.replay(&recorded, scenario(4)) {
        Err(SimError::Diverged { seed, divergence }) => {
            assert_eq!(seed, 71);
            assert!(divergence.index > 0);
        }
        other => panic!("expected a divergence, got {other:?}"),
    }
}

#[test]
fn a_mermaid_diagram_shows_the_hops_between_nodes() {
    let mut sim = Simulation::with_seed(81).link(Link::new().latency(Latency::fixed(10 * MS)));
    sim.run(|system| async move {
        let world = World::of(&system).unwrap();
        let a = world.node("orders");
        let b = world.node("payments");
        let sink = b.system().spawn(Sink::default()).unwrap();
        let sender = a.system().spawn(Sender { to: sink }).unwrap();
        sender.ask_count(SECOND).await.unwrap().unwrap();
        b.crash();
    })
    .unwrap();
    let diagram = sim
        .trace()
        .to_mermaid(Instant::ZERO, Instant::ZERO + SECOND);
    let lines: Vec<&str> = diagram.lines().map(str::trim).collect();
    assert_eq!(lines[0], "sequenceDiagram");
    assert!(lines.contains(&"participant n2 as orders"), "{diagram}");
    assert!(lines.contains(&"participant n3 as payments"), "{diagram}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("n2->>n3: t=0.010s Count")),
        "{diagram}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("n3-->>n2: t=0.020s reply to Count")),
        "{diagram}"
    );
    assert!(lines.contains(&"Note over n3: t=0.020s crash"), "{diagram}");
}

/// Applies each idempotency key once, however often it arrives.
#[derive(Actor, Default)]
struct Once {
    applied: u64,
}

#[messages]
impl Once {
    #[message(idempotent)]
    fn apply(&mut self, key: u64) -> u64 {
        self.applied += 1;
        key
    }

    #[message]
    fn applied(&self) -> u64 {
        self.applied
    }
}

/// Tells `Once` from its node.
#[derive(Actor)]
struct OnceSender {
    to: ActorRef<Once>,
}

#[messages]
impl OnceSender {
    #[message]
    async fn apply_all(&mut self, n: u64) {
        for key in 0..n {
            self.to.apply(key).tell().await.unwrap();
        }
    }
}

#[test]
fn a_duplicating_link_delivers_twice_and_an_idempotent_handler_applies_once() {
    let mut sim = Simulation::with_seed(91).link(Link::new().duplicate(1.0));
    let (got, applied, stats) = sim
        .run(|system| async move {
            let (world, a, b) = two_nodes(&system);
            let sink = b.system().spawn(Sink::default()).unwrap();
            let once = b.system().spawn(Once::default()).unwrap();
            let sender = a.system().spawn(Sender { to: sink.clone() }).unwrap();
            let once_sender = a.system().spawn(OnceSender { to: once.clone() }).unwrap();
            sender.burst(0, 10).await.unwrap();
            once_sender.apply_all(10).await.unwrap();
            system.sleep(SECOND).await;
            (
                sink.got().await.unwrap(),
                once.applied().await.unwrap(),
                world.stats(),
            )
        })
        .unwrap();
    let mut sorted = got.clone();
    sorted.sort_unstable();
    let twice: Vec<u64> = (0..10).flat_map(|i| [i, i]).collect();
    assert_eq!(sorted, twice, "every message arrived twice");
    assert_eq!(applied, 10, "each key applied once");
    assert_eq!(stats.duplicated, 20);
    let duplicates = sim
        .trace()
        .events()
        .iter()
        .filter(|e| e.kind == TraceKind::Duplicate)
        .count();
    assert_eq!(duplicates, 20);
}

#[test]
fn invariants_checked_every_n_steps_are_caught_late_but_caught() {
    let broken_at = |every: u32| {
        let count = Arc::new(AtomicU64::new(0));
        let check = count.clone();
        let result = Simulation::with_seed(3)
            .invariant("fewer than five ticks", move || {
                check.load(Ordering::Relaxed) < 5
            })
            .check_every(every)
            .run(|system| async move {
                for _ in 0..10 {
                    count.fetch_add(1, Ordering::Relaxed);
                    system.sleep(SECOND).await;
                }
            });
        match result {
            Err(SimError::Invariant { at, .. }) => at,
            other => panic!("expected a broken invariant, got {other:?}"),
        }
    };
    assert_eq!(broken_at(1), Instant::ZERO + 4 * SECOND);
    // Checked only when the scenario ends: still reported, ten seconds in.
    assert_eq!(broken_at(1_000_000), Instant::ZERO + 10 * SECOND);
}

/// A price, published on a node's event bus.
#[derive(Clone, Debug)]
struct Price(u64);

impl snowglobe::Message for Price {
    type Reply = ();
}

/// Keeps the prices it hears of.
#[derive(Default)]
struct Watcher {
    seen: Vec<u64>,
}

impl Actor for Watcher {
    type Msg = WatcherMsg;
}

#[messages]
impl Watcher {
    #[handler]
    fn price(&mut self, price: Price) {
        self.seen.push(price.0);
    }

    #[message]
    fn prices(&self) -> Vec<u64> {
        self.seen.clone()
    }
}

/// Publishes prices on its own node's bus.
#[derive(Actor)]
struct Quotes;

#[messages]
impl Quotes {
    #[message]
    async fn announce(&mut self, from: u64, to: u64, ctx: &mut snowglobe::Context<Self>) {
        for price in from..=to {
            ctx.system().events().publish(Price(price)).await;
        }
    }
}

#[test]
fn events_published_on_one_node_cross_the_network_to_subscribers_on_another() {
    let mut sim = Simulation::with_seed(101).link(Link::new().latency(Latency::fixed(5 * MS)));
    let (near, far) = sim
        .run(|system| async move {
            let world = World::of(&system).unwrap();
            let a = world.node("exchange");
            let b = world.node("trader");
            let near = a.system().spawn(Watcher::default()).unwrap();
            let far = b.system().spawn(Watcher::default()).unwrap();
            a.system()
                .events()
                .subscribe::<Price>(near.clone())
                .unwrap();
            a.system().events().subscribe::<Price>(far.clone()).unwrap();
            let quotes = a.system().spawn(Quotes).unwrap();
            quotes.announce(1, 3).await.unwrap();
            world.partition(&[&a], &[&b]);
            quotes.announce(4, 6).await.unwrap();
            world.heal();
            quotes.announce(7, 9).await.unwrap();
            system.sleep(SECOND).await;
            (near.prices().await.unwrap(), far.prices().await.unwrap())
        })
        .unwrap();
    assert_eq!(
        near,
        (1..=9).collect::<Vec<_>>(),
        "the same node hears every price"
    );
    assert_eq!(far, [1, 2, 3, 7, 8, 9], "the partition cut three");
    let cut = sim
        .trace()
        .events()
        .iter()
        .filter(|e| e.kind == TraceKind::Drop && e.note == Note::Partitioned)
        .count();
    assert_eq!(cut, 3);
}

/// The world of a simulation run and two nodes in it, `a` and `b`.
fn two_nodes(system: &snowglobe::System) -> (World, snowglobe::sim::Node, snowglobe::sim::Node) {
    let world = World::of(system).expect("runs in a simulation");
    let (a, b) = (world.node("a"), world.node("b"));
    (world, a, b)
}
