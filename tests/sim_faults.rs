//! Simulated faults in corner cases: a node crashed from its own handler, spawning on a
//! crashed node, linked roots, actors stopping when the crash comes, order under
//! backpressure and duplication, clock skew and deadlines, stats. Each case is a bug a review
//! found; every duration here is virtual.

use std::future::poll_fn;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::Poll;
use std::time::Duration;

use snowglobe::sim::{Latency, Link, Node, Simulation, World};
use snowglobe::{
    Actor, ActorRef, ActorState, ChildSpec, Context, Mailbox, SpawnOptions, StopReason, System,
    messages,
};

const MS: Duration = Duration::from_millis(1);
const SECOND: Duration = Duration::from_secs(1);

/// Races `fut` against `d` of virtual time on `system`.
async fn before<F: std::future::Future>(system: &System, d: Duration, fut: F) -> Option<F::Output> {
    let mut fut = pin!(fut);
    let mut sleep = pin!(system.sleep(d));
    poll_fn(|cx| {
        if let Poll::Ready(v) = fut.as_mut().poll(cx) {
            return Poll::Ready(Some(v));
        }
        if sleep.as_mut().poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        Poll::Pending
    })
    .await
}

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
}

/// A sink that takes 10 ms per message.
#[derive(Actor, Default)]
struct SlowSink {
    got: Vec<u64>,
}

#[messages]
impl SlowSink {
    #[message]
    async fn put_slow(&mut self, n: u64, ctx: &mut Context<Self>) {
        ctx.system().sleep(10 * MS).await;
        self.got.push(n);
    }

    #[message]
    fn got_slow(&self) -> Vec<u64> {
        self.got.clone()
    }
}

#[derive(Actor)]
struct Sender {
    to: ActorRef<SlowSink>,
}

#[messages]
impl Sender {
    #[message]
    async fn burst(&mut self, n: u64) {
        for i in 0..n {
            self.to.put_slow(i).tell().await.unwrap();
        }
    }
}

// 1. An actor that crashes its own node (a fault injected from a handler).
#[derive(Actor)]
struct Suicide {
    node: Node,
}

#[messages]
impl Suicide {
    #[message]
    fn crash_my_node(&mut self) {
        self.node.crash();
    }
}

#[test]
fn a_handler_that_crashes_its_own_node_ends_its_task_at_the_next_await() {
    Simulation::with_seed(1)
        .run(|system| async move {
            let world = World::of(&system).unwrap();
            let b = world.node("b");
            let s = b.system().spawn(Suicide { node: b.clone() }).unwrap();
            s.crash_my_node().tell().await.unwrap();
            system.sleep(SECOND).await;
            assert!(!s.is_alive());
        })
        .unwrap();
}

// 2. Spawning on a crashed node.
#[test]
fn spawning_on_a_crashed_node_gives_an_actor_that_never_runs() {
    Simulation::with_seed(2)
        .run(|system| async move {
            let world = World::of(&system).unwrap();
            let b = world.node("b");
            b.crash();
            let sink = b.system().spawn(Sink::default()).unwrap();
            assert!(matches!(sink.stopped().await, StopReason::Killed));
        })
        .unwrap();
}

// 3. Two linked roots on one node: a crash kills one of them for good.
#[derive(Default)]
struct Linker {
    partner: Option<ActorRef<Sink>>,
}
impl Actor for Linker {
    type Msg = snowglobe::DynMessage<Self>;
}
struct LinkTo(ActorRef<Sink>);
impl snowglobe::Message for LinkTo {
    type Reply = ();
}
impl snowglobe::Handler<LinkTo> for Linker {
    async fn handle(&mut self, LinkTo(to): LinkTo, ctx: &mut Context<Self>) {
        ctx.link(&to).unwrap();
        self.partner = Some(to);
    }
}

#[test]
fn linked_roots_on_a_node_both_come_back_after_a_restart() {
    Simulation::with_seed(3)
        .run(|system| async move {
            let world = World::of(&system).unwrap();
            let b = world.node("b");
            let linker = b.spawn_root(ChildSpec::new(Linker::default)).unwrap();
            let sink = b.spawn_root(ChildSpec::new(Sink::default)).unwrap();
            linker.ask(LinkTo(sink.clone())).await.unwrap();
            b.crash();
            b.restart();
            system.sleep(SECOND).await;
            assert_eq!(linker.state(), ActorState::Running);
            assert_eq!(sink.state(), ActorState::Running, "{:?}", sink.state());
        })
        .unwrap();
}

// 4. A root that is stopping (on_stop awaits) when its node crashes never finishes.
struct Slow;
impl Actor for Slow {
    type Msg = snowglobe::DynMessage<Self>;
    async fn on_stop(&mut self, ctx: &mut Context<Self>, _: &StopReason) {
        ctx.system().sleep(SECOND).await;
    }
}

#[test]
fn a_root_stopping_when_its_node_crashes_still_ends() {
    stopping_at_the_crash_still_ends(4, |b| b.spawn_root(ChildSpec::new(|| Slow)).unwrap());
}

#[test]
fn a_child_stopping_when_its_node_crashes_still_ends() {
    stopping_at_the_crash_still_ends(5, |b| b.system().spawn(Slow).unwrap());
}

/// An actor spawned on node `b` by `spawn` is asked to stop, and its node crashes while its
/// `on_stop` runs: `stopped()` still returns.
fn stopping_at_the_crash_still_ends(seed: u64, spawn: fn(&Node) -> ActorRef<Slow>) {
    Simulation::with_seed(seed)
        .run(move |system| async move {
            let world = World::of(&system).unwrap();
            let b = world.node("b");
            let slow = spawn(&b);
            system.sleep(MS).await;
            slow.stop();
            system.sleep(10 * MS).await;
            b.crash();
            let ended = before(&system, 60 * SECOND, slow.stopped()).await;
            assert!(ended.is_some(), "stopped() hangs; state {:?}", slow.state());
        })
        .unwrap();
}

// 5. FIFO link, bounded mailbox: waiting deliveries race for the freed slot.
#[test]
fn a_fifo_link_keeps_order_under_backpressure() {
    for seed in 0..20 {
        let got = Simulation::with_seed(seed)
            .link(Link::new().latency(Latency::uniform(MS, 5 * MS)))
            .run(|system| async move {
                let (_, a, b) = two_nodes(&system);
                let sink = b
                    .system()
                    .spawn_with(
                        SlowSink::default(),
                        SpawnOptions::new().mailbox(Mailbox::Bounded(1)),
                    )
                    .unwrap();
                let sender = a.system().spawn(Sender { to: sink.clone() }).unwrap();
                sender.burst(20).await.unwrap();
                system.sleep(10 * SECOND).await;
                sink.got_slow().await.unwrap()
            })
            .unwrap();
        assert_eq!(got, (0..20).collect::<Vec<_>>(), "seed {seed}");
    }
}

// 6. A clock behind by more than the time elapsed makes relative sleeps too long.
#[test]
fn a_clock_cannot_be_set_behind_zero_so_relative_sleeps_stay_exact() {
    Simulation::with_seed(6)
        .run(|system| async move {
            let world = World::of(&system).unwrap();
            let b = world.node("b");
            b.set_clock_behind(3 * SECOND);
            let start = system.now();
            b.system().sleep(SECOND).await;
            assert_eq!(system.now() - start, SECOND);
        })
        .unwrap();
}

// 7. Stats: sent = delivered + dropped once everything has landed.
#[test]
fn stats_add_up_with_duplication() {
    let stats = Simulation::with_seed(7)
        .link(Link::new().duplicate(1.0))
        .run(|system| async move {
            let (world, a, b) = two_nodes(&system);
            let sink = b.system().spawn(SlowSink::default()).unwrap();
            let sender = a.system().spawn(Sender { to: sink }).unwrap();
            sender.burst(5).await.unwrap();
            system.sleep(10 * SECOND).await;
            world.stats()
        })
        .unwrap();
    assert_eq!(stats.sent, stats.delivered + stats.dropped, "{stats:?}");
}

// 8. Asker on a skewed node using a resilience policy: deadline read on its clock, fired on
// the target's.
struct Echo;
impl Actor for Echo {
    type Msg = snowglobe::DynMessage<Self>;
}
#[derive(Clone)]
struct SlowEcho(u64);
impl snowglobe::Message for SlowEcho {
    type Reply = u64;
}
impl snowglobe::Handler<SlowEcho> for Echo {
    async fn handle(&mut self, SlowEcho(n): SlowEcho, ctx: &mut Context<Self>) -> u64 {
        ctx.system().sleep(500 * MS).await;
        n
    }
}

#[test]
fn an_ask_timeout_lasts_its_duration_whatever_the_skew_between_nodes() {
    Simulation::with_seed(8)
        .run(|system| async move {
            let (_, a, b) = two_nodes(&system);
            system.sleep(10 * SECOND).await;
            let echo = b.system().spawn(Echo).unwrap();
            // a reads 5 s behind b.
            a.set_clock_behind(5 * SECOND);
            let policy = snowglobe::resilience::Policy::builder(a.system())
                .timeout(SECOND)
                .build();
            let start = system.now();
            let r = policy.call(echo.ask(SlowEcho(1))).await;
            let took = system.now() - start;
            assert!(r.is_ok(), "{r:?} after {took:?}");
        })
        .unwrap();
}

// 9. A delivery waiting for mailbox room when the node crashes and restarts at once lands in
// the new life.
#[test]
fn a_message_for_an_earlier_life_is_not_delivered_after_waiting_for_room() {
    let got = Simulation::with_seed(9)
        .run(|system| async move {
            let (_, a, b) = two_nodes(&system);
            let sink = b
                .spawn_root(ChildSpec::new(SlowSink::default).mailbox(Mailbox::Bounded(1)))
                .unwrap();
            let sender = a.system().spawn(Sender { to: sink.clone() }).unwrap();
            sender.burst(10).await.unwrap();
            system.sleep(5 * MS).await;
            b.crash();
            b.restart();
            system.sleep(SECOND).await;
            sink.got_slow().await.unwrap()
        })
        .unwrap();
    assert!(got.is_empty(), "the new instance got {got:?}");
}

// 10. Sanity: crash during a supervised restart's backoff; factory panicking on restart.
#[derive(Default)]
struct Fragile;
impl Actor for Fragile {
    type Msg = snowglobe::DynMessage<Self>;
}
struct Boom;
impl snowglobe::Message for Boom {
    type Reply = ();
}
impl snowglobe::Handler<Boom> for Fragile {
    async fn handle(&mut self, _: Boom, _: &mut Context<Self>) {
        panic!("planned");
    }
}

#[test]
fn a_crash_during_a_restart_backoff_and_a_factory_that_panics_on_restart() {
    Simulation::with_seed(10)
        .run(|system| async move {
            let world = World::of(&system).unwrap();
            let b = world.node("b");
            let fragile = b
                .spawn_root(
                    ChildSpec::new(Fragile::default)
                        .backoff(snowglobe::Backoff::new(SECOND, SECOND).without_jitter()),
                )
                .unwrap();
            let _ = fragile.ask(Boom).await;
            system.sleep(10 * MS).await;
            assert_eq!(fragile.state(), ActorState::Restarting);
            b.crash();
            b.restart();
            system.sleep(10 * MS).await;
            assert_eq!(fragile.state(), ActorState::Running);

            let calls = Arc::new(AtomicU64::new(0));
            let c = calls.clone();
            let bomb = b
                .spawn_root(ChildSpec::new(move || {
                    if c.fetch_add(1, Ordering::SeqCst) > 0 {
                        panic!("planned factory panic");
                    }
                    Fragile
                }))
                .unwrap();
            b.crash();
            b.restart();
            let reason = before(&system, SECOND, bomb.stopped()).await;
            assert!(
                matches!(reason, Some(StopReason::Panicked(_))),
                "{reason:?}"
            );
            // A paused node at the end of the run.
            b.pause();
        })
        .unwrap();
}

// 11. A duplicate's copy may overtake earlier messages on a link that does not reorder.
#[test]
fn copies_keep_a_non_reordering_link_in_order() {
    for seed in 0..10 {
        let got = Simulation::with_seed(seed)
            .link(
                Link::new()
                    .latency(Latency::uniform(MS, 50 * MS))
                    .duplicate(0.5),
            )
            .run(|system| async move {
                let (_, a, b) = two_nodes(&system);
                let sink = b.system().spawn(SlowSink::default()).unwrap();
                let sender = a.system().spawn(Sender { to: sink.clone() }).unwrap();
                sender.burst(20).await.unwrap();
                system.sleep(10 * SECOND).await;
                sink.got_slow().await.unwrap()
            })
            .unwrap();
        let mut firsts = Vec::new();
        for n in got {
            if !firsts.contains(&n) {
                firsts.push(n);
            }
        }
        assert_eq!(firsts, (0..20).collect::<Vec<_>>(), "seed {seed}");
    }
}

/// A node's actor that takes a second per message, behind a mailbox of one.
#[derive(Actor, Default)]
struct Busy;

#[messages]
impl Busy {
    #[message]
    async fn work(&mut self, ctx: &mut Context<Self>) {
        ctx.system().sleep(SECOND).await;
    }
}

/// Fills `busy`'s mailbox from its node, then asks `sink` on the same far node.
#[derive(Actor)]
struct Client {
    busy: ActorRef<Busy>,
    sink: ActorRef<Sink>,
}

#[messages]
impl Client {
    #[message]
    async fn flood_then_ask(&mut self, flood: u32, ctx: &mut Context<Self>) -> Duration {
        for _ in 0..flood {
            self.busy.work().tell().await.unwrap();
        }
        let start = ctx.system().now();
        self.sink.got().await.unwrap();
        ctx.system().now() - start
    }
}

#[test]
fn a_full_mailbox_holds_up_its_own_messages_but_not_the_rest_of_the_link() {
    let took = Simulation::with_seed(12)
        .link(Link::new().latency(Latency::fixed(10 * MS)))
        .run(|system| async move {
            let (_, a, b) = two_nodes(&system);
            let busy = b
                .system()
                .spawn_with(Busy, SpawnOptions::new().mailbox(Mailbox::Bounded(1)))
                .unwrap();
            let sink = b.system().spawn(Sink::default()).unwrap();
            let client = a.system().spawn(Client { busy, sink }).unwrap();
            client.flood_then_ask(5).await.unwrap()
        })
        .unwrap();
    // Out and back, 10 ms each way, behind the five tells on the link (a nanosecond apart):
    // not behind the five seconds the busy actor needs for them.
    assert_eq!(took, Duration::from_nanos(20_000_005));
}

/// Asks a sink from its own node.
#[derive(Actor)]
struct Asker {
    to: ActorRef<Sink>,
}

#[messages]
impl Asker {
    #[message]
    async fn ask_got(&mut self) -> usize {
        self.to.got().await.unwrap().len()
    }
}

/// A message that cannot be copied (the default `duplicate`).
struct Once;
impl snowglobe::Message for Once {
    type Reply = ();
}
struct OnceSink;
impl Actor for OnceSink {
    type Msg = snowglobe::DynMessage<Self>;
}
impl snowglobe::Handler<Once> for OnceSink {
    async fn handle(&mut self, _: Once, _: &mut Context<Self>) {}
}
struct SendOnce(ActorRef<OnceSink>);
impl Actor for SendOnce {
    type Msg = snowglobe::DynMessage<Self>;
}
struct Go;
impl snowglobe::Message for Go {
    type Reply = ();
}
impl snowglobe::Handler<Go> for SendOnce {
    async fn handle(&mut self, _: Go, _: &mut Context<Self>) {
        for _ in 0..5 {
            self.0.tell(Once).await.unwrap();
        }
    }
}

#[test]
fn stats_add_up_for_asks_and_uncopyable_messages_over_a_duplicating_link() {
    let stats = Simulation::with_seed(7)
        .link(Link::new().duplicate(1.0))
        .run(|system| async move {
            let (world, a, b) = two_nodes(&system);
            let sink = b.system().spawn(Sink::default()).unwrap();
            let asker = a.system().spawn(Asker { to: sink }).unwrap();
            asker.ask_got().await.unwrap();
            let once = b.system().spawn(OnceSink).unwrap();
            let sender = a.system().spawn(SendOnce(once)).unwrap();
            sender.ask(Go).await.unwrap();
            system.sleep(10 * SECOND).await;
            world.stats()
        })
        .unwrap();
    // The ask's request is copied (its answer is not); the five `Once`s cannot be.
    assert_eq!(stats.duplicated, 1, "{stats:?}");
    assert_eq!(stats.sent, stats.delivered + stats.dropped, "{stats:?}");
    assert_eq!(stats.sent, 1 + 1 + 1 + 5, "{stats:?}");
}

#[test]
fn a_message_that_crossed_before_a_partition_is_delivered_after_waiting_for_room() {
    let got = Simulation::with_seed(5)
        .run(|system| async move {
            let (world, a, b) = two_nodes(&system);
            let sink = b
                .system()
                .spawn_with(
                    SlowSink::default(),
                    SpawnOptions::new().mailbox(Mailbox::Bounded(1)),
                )
                .unwrap();
            let sender = a.system().spawn(Sender { to: sink.clone() }).unwrap();
            sender.burst(5).await.unwrap();
            // All five landed at 1 ms; the sink takes 10 ms each, so most wait for room.
            system.sleep(5 * MS).await;
            world.partition_one_way(&[&a], &[&b]);
            system.sleep(SECOND).await;
            sink.got_slow().await.unwrap()
        })
        .unwrap();
    assert_eq!(
        got,
        (0..5).collect::<Vec<_>>(),
        "they had crossed before the cut"
    );
}

/// Records which of two actors handled each message.
type Turns = Arc<std::sync::Mutex<Vec<u8>>>;

struct Awaiting(u8, Turns);
impl Actor for Awaiting {
    type Msg = snowglobe::DynMessage<Self>;
}
struct Poke;
impl snowglobe::Message for Poke {
    type Reply = ();
}
impl snowglobe::Handler<Poke> for Awaiting {
    async fn handle(&mut self, _: Poke, _: &mut Context<Self>) {
        self.1.lock().unwrap().push(self.0);
    }
}

#[test]
fn simulated_actors_with_async_handlers_yield_after_every_message_too() {
    let turns: Turns = Arc::default();
    let log = turns.clone();
    Simulation::with_seed(4)
        .run(move |system| async move {
            let a = system.spawn(Awaiting(0, log.clone())).unwrap();
            let b = system.spawn(Awaiting(1, log.clone())).unwrap();
            for _ in 0..200 {
                a.try_tell(Poke).unwrap();
                b.try_tell(Poke).unwrap();
            }
            a.ask(Poke).await.unwrap();
            b.ask(Poke).await.unwrap();
        })
        .unwrap();
    let turns = turns.lock().unwrap();
    let switches = turns.windows(2).filter(|w| w[0] != w[1]).count();
    // Handled a mailbox at a time, they would switch once; interleaved by the seed, often.
    assert!(switches > 50, "{switches} switches");
}

/// The world of a simulation run and two nodes in it, `a` and `b`.
fn two_nodes(system: &snowglobe::System) -> (World, snowglobe::sim::Node, snowglobe::sim::Node) {
    let world = World::of(system).expect("runs in a simulation");
    let (a, b) = (world.node("a"), world.node("b"));
    (world, a, b)
}
