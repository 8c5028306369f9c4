//! Workloads shared by the criterion benches (`messaging.rs`) and the table harness
//! (`throughput.rs`).
//!
//! Every workload is a list of [`Variant`]s: the snowglobe way of doing it and the raw
//! baselines it is judged against. A variant is a plain function `fn(&Env, n, iters) ->
//! Duration` that runs `iters` iterations of `n` units (messages, asks, round trips, actors)
//! and returns the time spent on exactly those units. Setup (spawning the actor, opening the
//! channels, starting the consumer) and teardown happen outside the timed span, and the
//! snowglobe variants and their baselines do the same work around it.
//!
//! Each iteration checks what the receiver got (count and sum of the values), so a runtime
//! that loses or duplicates messages panics, or stalls into a panic, instead of producing a
//! fast number.
//!
//! The actors use hand-written message enums, the shape `#[messages]` generates: messages
//! travel inline in the mailbox without a heap allocation. The one `DynMessage` variant is
//! labelled as such.

// Each bench binary uses its own subset of these items.
#![allow(dead_code)]

use std::future::Future;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use snowglobe::{
    Accepts, Actor, ActorRef, ChildSpec, Context, Dispatch, DynMessage, Handler, Mailbox, Message,
    ReplyTo, SpawnOptions, StopReason, System, SystemBuilder, TellError,
};
use tokio::runtime::Runtime;
use tokio::sync::{mpsc, oneshot};

/// Worker threads of the runtime every variant runs on (the CI machine has 2 cores).
pub(crate) const WORKER_THREADS: usize = 2;

/// Producers in the fan-in workload.
pub(crate) const FAN_IN_PRODUCERS: u64 = 8;

/// Subscribers (and sinks) in the fan-out workload. Its units are deliveries: a run of `n`
/// units publishes `n / FAN_OUT_SUBSCRIBERS` events, so `n` must be a multiple of it.
pub(crate) const FAN_OUT_SUBSCRIBERS: u64 = 100;

/// How long one iteration may wait for its receiver before the bench decides that messages
/// were lost.
const STALL_LIMIT: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------------------
// The environment

/// A tokio multi-thread runtime with [`WORKER_THREADS`] workers and a snowglobe system on it.
///
/// The baselines run on the very same runtime, so both sides get the same scheduler, the same
/// threads and the same configuration.
pub(crate) struct Env {
    system: System,
    rt: Runtime,
}

impl Env {
    pub(crate) fn new() -> Env {
        Env::build(|builder| builder)
    }

    /// The same runtime, with a system configured by `configure` (for example a lenient
    /// root supervisor for the restart benches).
    pub(crate) fn build(configure: impl FnOnce(SystemBuilder) -> SystemBuilder) -> Env {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(WORKER_THREADS)
            .enable_all()
            .build()
            .expect("bench: cannot build the tokio runtime");
        let system = configure(System::builder().handle(rt.handle().clone()))
            .build()
            .expect("bench: cannot build the system");
        Env { system, rt }
    }

    pub(crate) fn system(&self) -> &System {
        &self.system
    }

    /// Makes the runtime current on this thread, for `tokio::spawn` outside a task.
    pub(crate) fn enter(&self) -> tokio::runtime::EnterGuard<'_> {
        self.rt.enter()
    }

    /// Runs `task` on the runtime's workers (not on the calling thread) and waits for it.
    pub(crate) fn run<T, F>(&self, task: F) -> T
    where
        F: Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        match self.rt.block_on(self.rt.spawn(task)) {
            Ok(value) => value,
            Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
            Err(error) => panic!("bench: driver task cancelled: {error}"),
        }
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        self.rt.block_on(self.system.shutdown());
    }
}

/// One way of running a workload.
pub(crate) struct Variant {
    /// The criterion function id, and the row key in the harness.
    pub(crate) name: &'static str,
    /// Runs `iters` iterations of `n` units; returns the time spent on them.
    pub(crate) run: fn(&Env, u64, u64) -> Duration,
}

/// A workload: a criterion group, a harness section.
pub(crate) struct Workload {
    pub(crate) group: &'static str,
    /// What one of the `n` units is.
    pub(crate) unit: &'static str,
    pub(crate) variants: &'static [Variant],
}

impl Workload {
    pub(crate) fn variant(&self, name: &str) -> &Variant {
        self.variants
            .iter()
            .find(|v| v.name == name)
            .unwrap_or_else(|| panic!("bench: no variant {name} in {}", self.group))
    }
}

pub(crate) const TELL_1TO1: Workload = Workload {
    group: "tell_1to1",
    unit: "msg",
    variants: &[
        Variant {
            name: "snowglobe_tell",
            run: tell::snowglobe_tell,
        },
        Variant {
            name: "tokio_unbounded",
            run: tell::tokio_unbounded,
        },
        Variant {
            name: "crossbeam_unbounded_threads",
            run: tell::crossbeam_unbounded,
        },
        Variant {
            name: "crossbeam_bounded1024_threads",
            run: tell::crossbeam_bounded,
        },
        Variant {
            name: "snowglobe_try_tell_yield",
            run: tell::snowglobe_try_tell,
        },
        Variant {
            name: "snowglobe_tell_unbounded_mailbox",
            run: tell::snowglobe_unbounded,
        },
        Variant {
            name: "snowglobe_tell_dynmessage",
            run: tell::snowglobe_dyn,
        },
        Variant {
            name: "snowglobe_tell_supervised",
            run: tell::snowglobe_supervised,
        },
        Variant {
            name: "tokio_bounded1024",
            run: tell::tokio_bounded,
        },
    ],
};

pub(crate) const FAN_IN_8TO1: Workload = Workload {
    group: "fan_in_8to1",
    unit: "msg",
    variants: &[
        Variant {
            name: "snowglobe_tell",
            run: tell::fan_in_snowglobe,
        },
        Variant {
            name: "tokio_unbounded",
            run: tell::fan_in_tokio_unbounded,
        },
        Variant {
            name: "snowglobe_tell_unbounded_mailbox",
            run: tell::fan_in_snowglobe_unbounded,
        },
        Variant {
            name: "tokio_bounded1024",
            run: tell::fan_in_tokio_bounded,
        },
    ],
};

pub(crate) const ASK: Workload = Workload {
    group: "ask",
    unit: "ask",
    variants: &[
        Variant {
            name: "snowglobe_ask",
            run: ask::snowglobe,
        },
        Variant {
            name: "tokio_mpsc_oneshot",
            run: ask::tokio,
        },
        // What every snowglobe ask carries and the plain baseline does not: a deadline.
        Variant {
            name: "tokio_mpsc_oneshot_timeout",
            run: ask::tokio_timeout,
        },
        // Like for like with the default mailbox: a bounded channel of the same capacity.
        Variant {
            name: "tokio_bounded1024_oneshot",
            run: ask::tokio_bounded,
        },
    ],
};

pub(crate) const PING_PONG: Workload = Workload {
    group: "ping_pong",
    unit: "round trip",
    variants: &[
        Variant {
            name: "snowglobe_tell",
            run: ping_pong::snowglobe,
        },
        Variant {
            name: "tokio_two_mpsc",
            run: ping_pong::tokio,
        },
        Variant {
            name: "tokio_two_mpsc_bounded1024",
            run: ping_pong::tokio_bounded,
        },
    ],
};

pub(crate) const SPAWN_ASK_STOP: Workload = Workload {
    group: "spawn_ask_stop",
    unit: "actor",
    variants: &[
        Variant {
            name: "snowglobe_actor",
            run: lifecycle::snowglobe,
        },
        Variant {
            name: "tokio_task_mpsc",
            run: lifecycle::tokio,
        },
    ],
};

/// Pub-sub fan-out to [`FAN_OUT_SUBSCRIBERS`] actors against plain tells of the same messages
/// to the same actors; the unit is one delivery.
///
/// `_burst` variants hold the subscribers while a burst of events is published, then let them
/// drain: the publisher wakes no one, so the figures are the messaging work alone. The target
/// compares `snowglobe_publish_burst` with `snowglobe_tell_round_robin_burst`;
/// `snowglobe_recipient_tell_round_robin_burst` sends through `Recipient`s, the type-erased
/// address the bus delivers through, so its difference to `snowglobe_publish_burst` is the
/// bus's own work. The live variants let the subscribers run meanwhile (two steady states on 2
/// workers, see the README). `snowglobe_tell_1to1`: as many messages into one `Sink`.
pub(crate) const FAN_OUT_100: Workload = Workload {
    group: "fan_out_100",
    unit: "delivery",
    variants: &[
        Variant {
            name: "snowglobe_publish_burst",
            run: fan_out::publish_burst,
        },
        Variant {
            name: "snowglobe_tell_round_robin_burst",
            run: fan_out::tell_round_robin_burst,
        },
        Variant {
            name: "snowglobe_recipient_tell_round_robin_burst",
            run: fan_out::recipient_tell_round_robin_burst,
        },
        Variant {
            name: "snowglobe_publish",
            run: fan_out::publish,
        },
        Variant {
            name: "snowglobe_try_publish",
            run: fan_out::try_publish,
        },
        Variant {
            name: "snowglobe_tell_round_robin",
            run: fan_out::tell_round_robin,
        },
        Variant {
            name: "snowglobe_tell_1to1",
            run: tell::snowglobe_tell,
        },
    ],
};

/// Asks through a resilience `Policy` against the plain ask, to the same `Counter`; the unit
/// is one ask. Nothing fails, so nothing is retried: the figures are what the policies cost
/// on the way. `policy_breaker_retry` (a closed breaker and a retry of up to three attempts)
/// carries the target; `policy_all` adds a retry budget, a rate limiter that never runs dry,
/// a concurrency limit, per-attempt and total deadlines.
pub(crate) const POLICY_ASK: Workload = Workload {
    group: "policy_ask",
    unit: "ask",
    variants: &[
        Variant {
            name: "snowglobe_ask",
            run: ask::snowglobe,
        },
        Variant {
            name: "policy_breaker_retry",
            run: policy_ask::breaker_retry,
        },
        Variant {
            name: "policy_all",
            run: policy_ask::all,
        },
    ],
};

pub(crate) const WORKLOADS: [&Workload; 7] = [
    &TELL_1TO1,
    &FAN_IN_8TO1,
    &ASK,
    &PING_PONG,
    &SPAWN_ASK_STOP,
    &FAN_OUT_100,
    &POLICY_ASK,
];

// ---------------------------------------------------------------------------------------------
// Checks

/// Waits for a receiver's completion signal, or panics if it never comes.
async fn settle<T>(what: &str, done: oneshot::Receiver<T>) -> T {
    match tokio::time::timeout(STALL_LIMIT, done).await {
        Ok(Ok(value)) => value,
        Ok(Err(_)) => panic!("bench: {what}: the receiver went away before it was done"),
        Err(_) => panic!("bench: {what}: not done after {STALL_LIMIT:?}: messages lost?"),
    }
}

/// The sum of `1..=n`: what a receiver of the values `1..=n` must add up to.
fn sum_to(n: u64) -> u64 {
    n * (n + 1) / 2
}

pub(crate) fn check_sum(what: &str, got: u64, n: u64) {
    assert_eq!(
        got,
        sum_to(n),
        "bench: {what}: wrong sum: messages lost or duplicated"
    );
}

pub(crate) async fn stop<A: Actor>(actor: &ActorRef<A>) {
    actor.stop();
    let reason = actor.stopped().await;
    assert!(
        matches!(reason, StopReason::Normal),
        "bench: actor stopped with {reason}"
    );
}

pub(crate) fn usize_of(n: u64) -> usize {
    usize::try_from(n).expect("bench: size does not fit in usize")
}

// ---------------------------------------------------------------------------------------------
// Actors

/// Counts and sums received values; says when the expected count is reached.
#[derive(Default)]
struct Tally {
    sum: u64,
    seen: u64,
    expected: u64,
}

impl Tally {
    fn expecting(expected: u64) -> Tally {
        Tally {
            sum: 0,
            seen: 0,
            expected,
        }
    }

    /// Adds `v`; the sum once the expected count is reached.
    #[inline]
    fn add(&mut self, v: u64) -> Option<u64> {
        self.sum = self.sum.wrapping_add(v);
        self.seen += 1;
        (self.seen == self.expected).then_some(self.sum)
    }
}

/// A told value; also the event of the fan-out workload (events are cloned per subscriber).
#[derive(Clone)]
pub(crate) struct Add(pub(crate) u64);
impl Message for Add {
    type Reply = ();
}

/// Starts a round: expect `count` values, then send their sum to `done`.
pub(crate) struct Expect {
    count: u64,
    done: oneshot::Sender<u64>,
}
impl Message for Expect {
    type Reply = ();
}

/// The receiving actor of the tell workloads.
#[derive(Default)]
pub(crate) struct Sink {
    tally: Tally,
    done: Option<oneshot::Sender<u64>>,
}

impl Sink {
    fn add(&mut self, v: u64) {
        if let Some(sum) = self.tally.add(v)
            && let Some(done) = self.done.take()
        {
            let _ = done.send(sum);
        }
    }

    fn expect(&mut self, Expect { count, done }: Expect) {
        self.tally = Tally::expecting(count);
        self.done = Some(done);
    }
}

impl Handler<Add> for Sink {
    async fn handle(&mut self, Add(v): Add, _: &mut Context<Self>) {
        self.add(v);
    }
}

impl Handler<Expect> for Sink {
    async fn handle(&mut self, msg: Expect, _: &mut Context<Self>) {
        self.expect(msg);
    }
}

/// `Sink`'s mailbox item, as `#[messages]` would generate it.
pub(crate) enum SinkMsg {
    Add(Add, ReplyTo<()>),
    Expect(Expect, ReplyTo<()>),
}

impl Actor for Sink {
    type Msg = SinkMsg;
}

// `reply.send(..)` for every variant, unit replies included, as `#[messages]` expands it.
#[allow(clippy::unit_arg)]
impl Dispatch<Sink> for SinkMsg {
    // Both handlers are synchronous: `dispatch` calls them directly, as `#[messages]` does.
    async fn dispatch(self, actor: &mut Sink, _: &mut Context<Sink>) {
        match self {
            SinkMsg::Add(Add(v), reply) => reply.send(actor.add(v)),
            SinkMsg::Expect(msg, reply) => reply.send(actor.expect(msg)),
        }
    }

    fn message_type(&self) -> &'static str {
        match self {
            SinkMsg::Add(..) => "Add",
            SinkMsg::Expect(..) => "Expect",
        }
    }

    // As `#[messages]` generates it for methods that are not `async`: no future.
    #[inline]
    fn dispatch_sync(self, actor: &mut Sink, _: &mut Context<Sink>) -> Option<Self> {
        match self {
            SinkMsg::Add(Add(v), reply) => {
                actor.add(v);
                reply.send(());
            }
            SinkMsg::Expect(msg, reply) => {
                actor.expect(msg);
                reply.send(());
            }
        }
        None
    }
}

impl Accepts<Add> for SinkMsg {
    fn from_message(msg: Add, reply: ReplyTo<()>) -> Self {
        SinkMsg::Add(msg, reply)
    }
}

impl Accepts<Expect> for SinkMsg {
    fn from_message(msg: Expect, reply: ReplyTo<()>) -> Self {
        SinkMsg::Expect(msg, reply)
    }
}

/// `Sink` with a boxed mailbox ([`DynMessage`]): two allocations per message.
#[derive(Default)]
pub(crate) struct DynSink(Sink);

impl Actor for DynSink {
    type Msg = DynMessage<Self>;
}

impl Handler<Add> for DynSink {
    async fn handle(&mut self, Add(v): Add, _: &mut Context<Self>) {
        self.0.add(v);
    }
}

impl Handler<Expect> for DynSink {
    async fn handle(&mut self, msg: Expect, _: &mut Context<Self>) {
        self.0.expect(msg);
    }
}

/// Holds a [`Subscriber`] in its handler until `gate` opens; says on `begun` that it holds.
pub(crate) struct Hold {
    begun: oneshot::Sender<()>,
    gate: oneshot::Receiver<()>,
}
impl Message for Hold {
    type Reply = ();
}

/// The receiving actor of the fan-out workload: a [`Sink`] (the same `Add` and `Expect`) that
/// can also be held, for the burst timing.
#[derive(Default)]
pub(crate) struct Subscriber {
    sink: Sink,
}

/// `Subscriber`'s mailbox item, as `#[messages]` would generate it.
pub(crate) enum SubscriberMsg {
    Add(Add, ReplyTo<()>),
    Expect(Expect, ReplyTo<()>),
    Hold(Hold, ReplyTo<()>),
}

impl Actor for Subscriber {
    type Msg = SubscriberMsg;
}

// `reply.send(..)` for every variant, unit replies included, as `#[messages]` expands it.
#[allow(clippy::unit_arg)]
impl Dispatch<Subscriber> for SubscriberMsg {
    async fn dispatch(self, actor: &mut Subscriber, _: &mut Context<Subscriber>) {
        match self {
            SubscriberMsg::Add(Add(v), reply) => reply.send(actor.sink.add(v)),
            SubscriberMsg::Expect(msg, reply) => reply.send(actor.sink.expect(msg)),
            SubscriberMsg::Hold(Hold { begun, gate }, reply) => {
                let _ = begun.send(());
                let _ = gate.await;
                reply.send(());
            }
        }
    }

    fn message_type(&self) -> &'static str {
        match self {
            SubscriberMsg::Add(..) => "Add",
            SubscriberMsg::Expect(..) => "Expect",
            SubscriberMsg::Hold(..) => "Hold",
        }
    }

    // As `#[messages]` generates it: `add` and `expect` need no future; `hold` awaits.
    #[inline]
    fn dispatch_sync(self, actor: &mut Subscriber, _: &mut Context<Subscriber>) -> Option<Self> {
        match self {
            SubscriberMsg::Add(Add(v), reply) => {
                actor.sink.add(v);
                reply.send(());
                None
            }
            SubscriberMsg::Expect(msg, reply) => {
                actor.sink.expect(msg);
                reply.send(());
                None
            }
            hold @ SubscriberMsg::Hold(..) => Some(hold),
        }
    }
}

impl Accepts<Add> for SubscriberMsg {
    fn from_message(msg: Add, reply: ReplyTo<()>) -> Self {
        SubscriberMsg::Add(msg, reply)
    }
}

impl Accepts<Expect> for SubscriberMsg {
    fn from_message(msg: Expect, reply: ReplyTo<()>) -> Self {
        SubscriberMsg::Expect(msg, reply)
    }
}

impl Accepts<Hold> for SubscriberMsg {
    fn from_message(msg: Hold, reply: ReplyTo<()>) -> Self {
        SubscriberMsg::Hold(msg, reply)
    }
}

/// Replies with the value plus one. `Clone` for the resilience policies, which may resend it.
#[derive(Clone)]
pub(crate) struct Inc(pub(crate) u64);
impl Message for Inc {
    type Reply = u64;
}

/// Replies with the number of `Inc`s handled.
pub(crate) struct Count;
impl Message for Count {
    type Reply = u64;
}

/// The small actor of the ask, lifecycle and memory workloads: one `u64` of state.
#[derive(Default)]
pub(crate) struct Counter {
    handled: u64,
}

impl Handler<Inc> for Counter {
    async fn handle(&mut self, Inc(v): Inc, _: &mut Context<Self>) -> u64 {
        self.handled += 1;
        v + 1
    }
}

impl Handler<Count> for Counter {
    async fn handle(&mut self, _: Count, _: &mut Context<Self>) -> u64 {
        self.handled
    }
}

pub(crate) enum CounterMsg {
    Inc(Inc, ReplyTo<u64>),
    Count(Count, ReplyTo<u64>),
}

impl Actor for Counter {
    type Msg = CounterMsg;
}

impl Dispatch<Counter> for CounterMsg {
    // Both handlers are synchronous: `dispatch` calls them directly, as `#[messages]` does.
    async fn dispatch(self, actor: &mut Counter, _: &mut Context<Counter>) {
        match self {
            CounterMsg::Inc(Inc(v), reply) => {
                actor.handled += 1;
                reply.send(v + 1);
            }
            CounterMsg::Count(Count, reply) => reply.send(actor.handled),
        }
    }

    fn message_type(&self) -> &'static str {
        match self {
            CounterMsg::Inc(..) => "Inc",
            CounterMsg::Count(..) => "Count",
        }
    }

    // As `#[messages]` generates it for methods that are not `async`: no future.
    #[inline]
    fn dispatch_sync(self, actor: &mut Counter, _: &mut Context<Counter>) -> Option<Self> {
        match self {
            CounterMsg::Inc(Inc(v), reply) => {
                actor.handled += 1;
                reply.send(v + 1);
            }
            CounterMsg::Count(Count, reply) => reply.send(actor.handled),
        }
        None
    }
}

impl Accepts<Inc> for CounterMsg {
    fn from_message(msg: Inc, reply: ReplyTo<u64>) -> Self {
        CounterMsg::Inc(msg, reply)
    }
}

impl Accepts<Count> for CounterMsg {
    fn from_message(msg: Count, reply: ReplyTo<u64>) -> Self {
        CounterMsg::Count(msg, reply)
    }
}

/// Sets the player's peer.
pub(crate) struct Link(ActorRef<Player>);
impl Message for Link {
    type Reply = ();
}

/// Makes the player the server of a rally of `rounds` round trips.
pub(crate) struct Arm {
    rounds: u64,
    done: oneshot::Sender<u64>,
}
impl Message for Arm {
    type Reply = ();
}

/// The ball, carrying the number of the round trip.
pub(crate) struct Ball(u64);
impl Message for Ball {
    type Reply = ();
}

/// One side of the ping-pong: returns every ball to its peer; the armed server counts round
/// trips and serves the next ball until the rally is over.
#[derive(Default)]
pub(crate) struct Player {
    peer: Option<ActorRef<Player>>,
    rally: Option<Arm>,
}

impl Handler<Link> for Player {
    async fn handle(&mut self, Link(peer): Link, _: &mut Context<Self>) {
        self.peer = Some(peer);
    }
}

impl Handler<Arm> for Player {
    async fn handle(&mut self, arm: Arm, _: &mut Context<Self>) {
        self.rally = Some(arm);
    }
}

impl Handler<Ball> for Player {
    async fn handle(&mut self, Ball(round): Ball, _: &mut Context<Self>) {
        let next = match &self.rally {
            None => round,
            Some(arm) if round < arm.rounds => round + 1,
            Some(_) => {
                if let Some(arm) = self.rally.take() {
                    let _ = arm.done.send(round);
                }
                return;
            }
        };
        let peer = self
            .peer
            .as_ref()
            .expect("bench: a player got the ball before its link");
        assert!(
            peer.tell(Ball(next)).await.is_ok(),
            "bench: the peer player stopped"
        );
    }
}

pub(crate) enum PlayerMsg {
    Link(Link, ReplyTo<()>),
    Arm(Arm, ReplyTo<()>),
    Ball(Ball, ReplyTo<()>),
}

impl Actor for Player {
    type Msg = PlayerMsg;
}

// `reply.send(..)` for every variant, unit replies included, as `#[messages]` expands it.
#[allow(clippy::unit_arg)]
impl Dispatch<Player> for PlayerMsg {
    async fn dispatch(self, actor: &mut Player, ctx: &mut Context<Player>) {
        match self {
            PlayerMsg::Link(msg, reply) => reply.send(actor.handle(msg, ctx).await),
            PlayerMsg::Arm(msg, reply) => reply.send(actor.handle(msg, ctx).await),
            PlayerMsg::Ball(msg, reply) => reply.send(actor.handle(msg, ctx).await),
        }
    }

    fn message_type(&self) -> &'static str {
        match self {
            PlayerMsg::Link(..) => "Link",
            PlayerMsg::Arm(..) => "Arm",
            PlayerMsg::Ball(..) => "Ball",
        }
    }

    // As `#[messages]` generates it: `link` and `arm` do not await and need no future;
    // `ball` awaits its tell and goes through `dispatch`.
    #[inline]
    fn dispatch_sync(self, actor: &mut Player, _: &mut Context<Player>) -> Option<Self> {
        match self {
            PlayerMsg::Link(Link(peer), reply) => {
                actor.peer = Some(peer);
                reply.send(());
                None
            }
            PlayerMsg::Arm(arm, reply) => {
                actor.rally = Some(arm);
                reply.send(());
                None
            }
            other => Some(other),
        }
    }
}

impl Accepts<Link> for PlayerMsg {
    fn from_message(msg: Link, reply: ReplyTo<()>) -> Self {
        PlayerMsg::Link(msg, reply)
    }
}

impl Accepts<Arm> for PlayerMsg {
    fn from_message(msg: Arm, reply: ReplyTo<()>) -> Self {
        PlayerMsg::Arm(msg, reply)
    }
}

impl Accepts<Ball> for PlayerMsg {
    fn from_message(msg: Ball, reply: ReplyTo<()>) -> Self {
        PlayerMsg::Ball(msg, reply)
    }
}

// ---------------------------------------------------------------------------------------------
// Workloads

/// Tell 1→1 and fan-in 8→1: producers send the values `1..=n`, the receiver sums them.
mod tell {
    use super::*;

    #[derive(Clone, Copy)]
    enum Send {
        /// `tell().await`: waits for room.
        Tell,
        /// `try_tell` in a loop, yielding to the scheduler while the mailbox is full.
        TryTell,
    }

    /// How the receiving actor is spawned.
    #[derive(Clone, Copy)]
    enum Spawn {
        /// `spawn_with`: never restarted.
        Plain,
        /// `spawn_supervised` from a `ChildSpec` (permanent, default backoff): the same actor
        /// under the system's supervisor. It never fails here; the variant measures what
        /// being restartable costs the message path.
        Supervised,
    }

    pub(super) fn snowglobe_tell(env: &Env, n: u64, iters: u64) -> Duration {
        snowglobe::<Sink>(
            env,
            n,
            iters,
            Mailbox::default(),
            Send::Tell,
            1,
            Spawn::Plain,
        )
    }

    pub(super) fn snowglobe_try_tell(env: &Env, n: u64, iters: u64) -> Duration {
        snowglobe::<Sink>(
            env,
            n,
            iters,
            Mailbox::default(),
            Send::TryTell,
            1,
            Spawn::Plain,
        )
    }

    pub(super) fn snowglobe_unbounded(env: &Env, n: u64, iters: u64) -> Duration {
        snowglobe::<Sink>(
            env,
            n,
            iters,
            Mailbox::unbounded(),
            Send::Tell,
            1,
            Spawn::Plain,
        )
    }

    pub(super) fn snowglobe_dyn(env: &Env, n: u64, iters: u64) -> Duration {
        snowglobe::<DynSink>(
            env,
            n,
            iters,
            Mailbox::default(),
            Send::Tell,
            1,
            Spawn::Plain,
        )
    }

    pub(super) fn snowglobe_supervised(env: &Env, n: u64, iters: u64) -> Duration {
        snowglobe::<Sink>(
            env,
            n,
            iters,
            Mailbox::default(),
            Send::Tell,
            1,
            Spawn::Supervised,
        )
    }

    pub(super) fn fan_in_snowglobe(env: &Env, n: u64, iters: u64) -> Duration {
        snowglobe::<Sink>(
            env,
            n,
            iters,
            Mailbox::default(),
            Send::Tell,
            FAN_IN_PRODUCERS,
            Spawn::Plain,
        )
    }

    pub(super) fn fan_in_snowglobe_unbounded(env: &Env, n: u64, iters: u64) -> Duration {
        snowglobe::<Sink>(
            env,
            n,
            iters,
            Mailbox::unbounded(),
            Send::Tell,
            FAN_IN_PRODUCERS,
            Spawn::Plain,
        )
    }

    pub(super) fn tokio_unbounded(env: &Env, n: u64, iters: u64) -> Duration {
        tokio::<Unbounded>(env, n, iters, 1)
    }

    pub(super) fn tokio_bounded(env: &Env, n: u64, iters: u64) -> Duration {
        tokio::<Bounded>(env, n, iters, 1)
    }

    pub(super) fn fan_in_tokio_unbounded(env: &Env, n: u64, iters: u64) -> Duration {
        tokio::<Unbounded>(env, n, iters, FAN_IN_PRODUCERS)
    }

    pub(super) fn fan_in_tokio_bounded(env: &Env, n: u64, iters: u64) -> Duration {
        tokio::<Bounded>(env, n, iters, FAN_IN_PRODUCERS)
    }

    pub(super) fn crossbeam_unbounded(_: &Env, n: u64, iters: u64) -> Duration {
        crossbeam(n, iters, crossbeam_channel::unbounded)
    }

    pub(super) fn crossbeam_bounded(_: &Env, n: u64, iters: u64) -> Duration {
        crossbeam(n, iters, || crossbeam_channel::bounded(1024))
    }

    /// The values producer `p` of `producers` sends: a slice of `1..=n`.
    fn share(n: u64, p: u64, producers: u64) -> std::ops::Range<u64> {
        1 + p * n / producers..1 + (p + 1) * n / producers
    }

    async fn produce<A>(sink: &ActorRef<A>, values: std::ops::Range<u64>, send: Send)
    where
        A: Actor,
        A::Msg: Accepts<Add>,
    {
        match send {
            Send::Tell => {
                for v in values {
                    assert!(sink.tell(Add(v)).await.is_ok(), "bench: sink stopped");
                }
            }
            Send::TryTell => {
                for v in values {
                    let mut msg = Add(v);
                    loop {
                        match sink.try_tell(msg) {
                            Ok(()) => break,
                            Err(TellError::Full(back)) => {
                                msg = back;
                                ::tokio::task::yield_now().await;
                            }
                            Err(_) => panic!("bench: sink stopped"),
                        }
                    }
                }
            }
        }
    }

    fn snowglobe<A>(
        env: &Env,
        n: u64,
        iters: u64,
        mailbox: Mailbox,
        send: Send,
        producers: u64,
        spawn: Spawn,
    ) -> Duration
    where
        A: Actor + Default,
        A::Msg: Accepts<Add> + Accepts<Expect>,
    {
        let system = env.system().clone();
        env.run(async move {
            let options = SpawnOptions::new().mailbox(mailbox);
            let sink = match spawn {
                Spawn::Plain => system.spawn_with(A::default(), options),
                Spawn::Supervised => {
                    system.spawn_supervised(ChildSpec::new(A::default).options(options))
                }
            }
            .expect("bench: spawn failed");
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let (done_tx, done_rx) = oneshot::channel();
                let expect = Expect {
                    count: n,
                    done: done_tx,
                };
                sink.ask(expect).await.expect("bench: sink refused Expect");

                let start = Instant::now();
                let mut handles = Vec::new();
                if producers == 1 {
                    produce(&sink, 1..n + 1, send).await;
                } else {
                    for p in 0..producers {
                        let sink = sink.clone();
                        let values = share(n, p, producers);
                        handles.push(::tokio::spawn(async move {
                            produce(&sink, values, send).await;
                        }));
                    }
                }
                let sum = settle("snowglobe sink", done_rx).await;
                total += start.elapsed();

                check_sum("snowglobe sink", sum, n);
                for handle in handles {
                    handle.await.expect("bench: producer panicked");
                }
            }
            assert_eq!(sink.restarts(), 0, "bench: the sink was restarted");
            stop(&sink).await;
            total
        })
    }

    /// A tokio channel of `u64`, seen the same way whatever its flavour.
    trait Channel {
        type Tx: Clone + std::marker::Send + Sync + 'static;
        type Rx: std::marker::Send + 'static;
        fn open() -> (Self::Tx, Self::Rx);
        fn put(tx: &Self::Tx, v: u64) -> impl Future<Output = ()> + std::marker::Send;
        fn take(rx: &mut Self::Rx) -> impl Future<Output = Option<u64>> + std::marker::Send;
    }

    struct Unbounded;
    impl Channel for Unbounded {
        type Tx = mpsc::UnboundedSender<u64>;
        type Rx = mpsc::UnboundedReceiver<u64>;
        fn open() -> (Self::Tx, Self::Rx) {
            mpsc::unbounded_channel()
        }
        async fn put(tx: &Self::Tx, v: u64) {
            assert!(tx.send(v).is_ok(), "bench: tokio receiver gone");
        }
        async fn take(rx: &mut Self::Rx) -> Option<u64> {
            rx.recv().await
        }
    }

    struct Bounded;
    impl Channel for Bounded {
        type Tx = mpsc::Sender<u64>;
        type Rx = mpsc::Receiver<u64>;
        fn open() -> (Self::Tx, Self::Rx) {
            mpsc::channel(Mailbox::DEFAULT_CAPACITY)
        }
        async fn put(tx: &Self::Tx, v: u64) {
            assert!(tx.send(v).await.is_ok(), "bench: tokio receiver gone");
        }
        async fn take(rx: &mut Self::Rx) -> Option<u64> {
            rx.recv().await
        }
    }

    /// The baseline: producer tasks and one consumer task on the same runtime.
    fn tokio<C: Channel>(env: &Env, n: u64, iters: u64, producers: u64) -> Duration {
        env.run(async move {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let (tx, mut rx) = C::open();
                let (done_tx, done_rx) = oneshot::channel();
                let consumer = ::tokio::spawn(async move {
                    let mut tally = Tally::expecting(n);
                    let mut done = Some(done_tx);
                    while let Some(v) = C::take(&mut rx).await {
                        if let Some(sum) = tally.add(v)
                            && let Some(done) = done.take()
                        {
                            let _ = done.send(sum);
                        }
                    }
                });

                let start = Instant::now();
                let mut handles = Vec::new();
                if producers == 1 {
                    for v in 1..n + 1 {
                        C::put(&tx, v).await;
                    }
                } else {
                    for p in 0..producers {
                        let tx = tx.clone();
                        let values = share(n, p, producers);
                        handles.push(::tokio::spawn(async move {
                            for v in values {
                                C::put(&tx, v).await;
                            }
                        }));
                    }
                }
                let sum = settle("tokio consumer", done_rx).await;
                total += start.elapsed();

                check_sum("tokio consumer", sum, n);
                drop(tx);
                for handle in handles {
                    handle.await.expect("bench: producer panicked");
                }
                consumer.await.expect("bench: consumer panicked");
            }
            total
        })
    }

    /// The baseline without a runtime: a producer and a consumer OS thread.
    fn crossbeam(
        n: u64,
        iters: u64,
        open: impl Fn() -> (
            crossbeam_channel::Sender<u64>,
            crossbeam_channel::Receiver<u64>,
        ),
    ) -> Duration {
        let mut total = Duration::ZERO;
        for _ in 0..iters {
            let (tx, rx) = open();
            let go = Arc::new(Barrier::new(2));
            let consumer = std::thread::spawn({
                let go = go.clone();
                move || {
                    let mut tally = Tally::expecting(n);
                    go.wait();
                    for v in rx.iter() {
                        if let Some(sum) = tally.add(v) {
                            return (sum, Instant::now());
                        }
                    }
                    panic!("bench: crossbeam producer gone before the last value");
                }
            });
            go.wait();
            let start = Instant::now();
            for v in 1..n + 1 {
                assert!(tx.send(v).is_ok(), "bench: crossbeam consumer gone");
            }
            let (sum, end) = consumer.join().expect("bench: crossbeam consumer panicked");
            total += end - start;
            check_sum("crossbeam consumer", sum, n);
        }
        total
    }
}

/// Fan-out: one publisher, [`FAN_OUT_SUBSCRIBERS`] [`Subscriber`]s, `n / FAN_OUT_SUBSCRIBERS`
/// events, each delivered to every subscriber.
///
/// The pub-sub variants subscribe every actor to the `Add` topic (default delivery:
/// backpressure) and publish each value once; the baselines tell each value to every actor in
/// turn, in the order the bus delivers it. Both make the same `n` deliveries into the same
/// kind of actor from one task, and the clock stops when every actor has counted all its
/// values, so the difference between them is the bus.
///
/// Two timings (see [`Timing`]): `Live` lets the subscribers run while the publisher
/// publishes; `Burst` holds them until a burst of events is in their mailboxes, which keeps
/// the scheduler's wake-ups out of the measurement.
mod fan_out {
    use snowglobe::{Recipient, SubscriptionId, Topic};

    use super::*;

    /// Events per burst: fits in the default mailbox, so a held subscriber never makes the
    /// publisher wait.
    const BURST: u64 = 1_000;
    const _: () = assert!(BURST <= Mailbox::DEFAULT_CAPACITY as u64);

    #[derive(Clone, Copy, PartialEq, Eq)]
    enum Send {
        /// `topic.publish(event).await`: waits while a mailbox is full.
        Publish,
        /// `topic.try_publish(event)`: never waits; a full mailbox's events wait in the
        /// subscription, moved in by a pump task.
        TryPublish,
        /// `actor.tell(Add(v)).await` to every actor in turn: no bus.
        TellRoundRobin,
        /// The same through each actor's `Recipient<Add>`, the address the bus delivers
        /// through.
        RecipientTellRoundRobin,
    }

    #[derive(Clone, Copy, PartialEq, Eq)]
    enum Timing {
        /// All events in one go while the subscribers run: the common case, but on 2 workers
        /// it has two steady states (see the README), so its figures move between runs.
        Live,
        /// Rounds of [`BURST`] events; before each, every subscriber is held in a handler
        /// (outside the timed span), so the publisher wakes no one; then the subscribers are
        /// let go and drain their mailboxes. Timed: publishing, letting go, draining.
        Burst,
    }

    pub(super) fn publish(env: &Env, n: u64, iters: u64) -> Duration {
        run(env, n, iters, Send::Publish, Timing::Live)
    }

    pub(super) fn try_publish(env: &Env, n: u64, iters: u64) -> Duration {
        run(env, n, iters, Send::TryPublish, Timing::Live)
    }

    pub(super) fn tell_round_robin(env: &Env, n: u64, iters: u64) -> Duration {
        run(env, n, iters, Send::TellRoundRobin, Timing::Live)
    }

    pub(super) fn publish_burst(env: &Env, n: u64, iters: u64) -> Duration {
        run(env, n, iters, Send::Publish, Timing::Burst)
    }

    pub(super) fn tell_round_robin_burst(env: &Env, n: u64, iters: u64) -> Duration {
        run(env, n, iters, Send::TellRoundRobin, Timing::Burst)
    }

    pub(super) fn recipient_tell_round_robin_burst(env: &Env, n: u64, iters: u64) -> Duration {
        run(env, n, iters, Send::RecipientTellRoundRobin, Timing::Burst)
    }

    fn run(env: &Env, n: u64, iters: u64, send: Send, timing: Timing) -> Duration {
        assert!(
            n > 0 && n.is_multiple_of(FAN_OUT_SUBSCRIBERS),
            "bench: fan-out needs a multiple of {FAN_OUT_SUBSCRIBERS} deliveries, got {n}"
        );
        let events = n / FAN_OUT_SUBSCRIBERS;
        let round = match timing {
            Timing::Live => events,
            Timing::Burst => BURST,
        };
        let system = env.system().clone();
        env.run(async move {
            let actors: Vec<ActorRef<Subscriber>> = (0..FAN_OUT_SUBSCRIBERS)
                .map(|_| {
                    system
                        .spawn(Subscriber::default())
                        .expect("bench: spawn failed")
                })
                .collect();
            let recipients: Vec<Recipient<Add>> = actors.iter().map(ActorRef::recipient).collect();
            let topic = system.events().topic::<Add>();
            assert_eq!(
                topic.subscriptions(),
                0,
                "bench: subscriptions left over from an earlier run"
            );
            let subscriptions: Vec<SubscriptionId> = match send {
                Send::Publish | Send::TryPublish => recipients
                    .iter()
                    .map(|r| topic.subscribe(r.clone()).expect("bench: subscribe failed"))
                    .collect(),
                Send::TellRoundRobin | Send::RecipientTellRoundRobin => Vec::new(),
            };
            let to = Targets {
                topic: &topic,
                actors: &actors,
                recipients: &recipients,
            };

            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let mut sent = 0;
                while sent < events {
                    let len = round.min(events - sent);
                    total += one_round(&to, len, send, timing).await;
                    sent += len;
                }
            }

            for id in subscriptions {
                check_subscription(&topic, id, events * iters).await;
                assert!(topic.unsubscribe(id), "bench: subscription already gone");
            }
            for actor in &actors {
                actor.stop();
            }
            for actor in &actors {
                let reason = actor.stopped().await;
                assert!(
                    matches!(reason, StopReason::Normal),
                    "bench: subscriber stopped with {reason}"
                );
            }
            total
        })
    }

    /// Where the values go: the topic the actors subscribed to, or the actors themselves.
    struct Targets<'a> {
        topic: &'a Topic<Add>,
        actors: &'a [ActorRef<Subscriber>],
        recipients: &'a [Recipient<Add>],
    }

    /// Sends the values `1..=len` to every actor and waits until each has counted them all;
    /// returns the time from the first send until then.
    async fn one_round(to: &Targets<'_>, len: u64, send: Send, timing: Timing) -> Duration {
        let mut counted = Vec::with_capacity(to.actors.len());
        let mut gates = Vec::new();
        for actor in to.actors {
            let (done, finished) = oneshot::channel();
            actor
                .ask(Expect { count: len, done })
                .await
                .expect("bench: subscriber refused Expect");
            counted.push(finished);
        }
        if timing == Timing::Burst {
            for actor in to.actors {
                let (begun, has_begun) = oneshot::channel();
                let (open, gate) = oneshot::channel();
                assert!(
                    actor.tell(Hold { begun, gate }).await.is_ok(),
                    "bench: subscriber stopped"
                );
                settle("fan-out hold", has_begun).await;
                gates.push(open);
            }
        }

        let start = Instant::now();
        let reached = deliver(to, len, send).await;
        for open in gates {
            assert!(open.send(()).is_ok(), "bench: a held subscriber went away");
        }
        let mut sums = Vec::with_capacity(counted.len());
        for finished in counted {
            sums.push(settle("fan-out subscriber", finished).await);
        }
        let elapsed = start.elapsed();

        // The bus's own account must add up too: every event reached every subscriber
        // (delivered, or queued and moved in later), nothing dropped or gone.
        assert_eq!(
            reached,
            to.actors.len() * usize_of(len),
            "bench: fan-out: the publisher's reports do not add up"
        );
        for sum in sums {
            check_sum("fan-out subscriber", sum, len);
        }
        elapsed
    }

    /// Sends the values `1..=len` to every actor; returns the deliveries the sends report.
    async fn deliver(to: &Targets<'_>, len: u64, send: Send) -> usize {
        let mut reached = 0usize;
        match send {
            Send::Publish => {
                for v in 1..=len {
                    reached += to.topic.publish(Add(v)).await.delivered;
                }
            }
            Send::TryPublish => {
                for v in 1..=len {
                    reached += to.topic.try_publish(Add(v)).received();
                }
            }
            Send::TellRoundRobin => {
                for v in 1..=len {
                    for actor in to.actors {
                        assert!(
                            actor.tell(Add(v)).await.is_ok(),
                            "bench: subscriber stopped"
                        );
                        reached += 1;
                    }
                }
            }
            Send::RecipientTellRoundRobin => {
                for v in 1..=len {
                    for actor in to.recipients {
                        assert!(
                            actor.tell(Add(v)).await.is_ok(),
                            "bench: subscriber stopped"
                        );
                        reached += 1;
                    }
                }
            }
        }
        reached
    }

    /// The subscription's counters once its last event is in: all `expected` delivered, none
    /// dropped or waiting. A pump task counts an event just after it is in the mailbox, so
    /// the subscriber may have handled it a moment before: let the pump run until the counter
    /// catches up.
    async fn check_subscription(topic: &Topic<Add>, id: SubscriptionId, expected: u64) {
        let deadline = Instant::now() + STALL_LIMIT;
        loop {
            let stats = topic.stats(id).expect("bench: a subscription ended early");
            assert_eq!(stats.dropped, 0, "bench: fan-out: events dropped");
            assert!(
                stats.delivered <= expected,
                "bench: fan-out: {} deliveries to one subscriber, expected {expected}",
                stats.delivered
            );
            if stats.delivered == expected && stats.waiting == 0 {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "bench: fan-out: subscription stuck at {stats:?}, expected {expected}"
            );
            // The pump counts right after its tell returns: a turn of the scheduler or two.
            ::tokio::task::yield_now().await;
        }
    }
}

/// Sequential asks through a resilience `Policy`, as [`ask`] does them plainly.
mod policy_ask {
    use snowglobe::resilience::{
        CircuitBreaker, CircuitBreakerConfig, ConcurrencyLimit, Jitter, Policy, RateLimiter, Retry,
        RetryBudget,
    };

    use super::*;

    fn breaker(system: &System) -> CircuitBreaker {
        CircuitBreaker::new(system, CircuitBreakerConfig::new("bench"))
            .expect("bench: breaker config")
    }

    fn retry() -> Retry {
        Retry::new(3)
            .backoff(Duration::from_millis(1), Duration::from_millis(100))
            .jitter(Jitter::Full)
    }

    pub(super) fn breaker_retry(env: &Env, n: u64, iters: u64) -> Duration {
        let system = env.system();
        let policy = Policy::builder(system)
            .circuit_breaker(breaker(system))
            .retry(retry())
            .build();
        run(env, policy, n, iters)
    }

    pub(super) fn all(env: &Env, n: u64, iters: u64) -> Duration {
        let system = env.system();
        let budget =
            RetryBudget::new(system, Duration::from_secs(10), 10, 0.2).expect("bench: budget");
        let limiter = RateLimiter::new(system, "bench", 1e9, u32::MAX).expect("bench: rate limit");
        let limit = ConcurrencyLimit::new(system, "bench", 64, Duration::from_millis(10))
            .expect("bench: concurrency limit");
        let policy = Policy::builder(system)
            .retry(retry().budget(budget))
            .circuit_breaker(breaker(system))
            .rate_limit(limiter, Duration::ZERO)
            .timeout(Duration::from_secs(5))
            .total_timeout(Duration::from_secs(10))
            .concurrency_limit(limit)
            .build();
        run(env, policy, n, iters)
    }

    fn run(env: &Env, policy: Policy, n: u64, iters: u64) -> Duration {
        let system = env.system().clone();
        env.run(async move {
            let counter = system
                .spawn(Counter::default())
                .expect("bench: spawn failed");
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let mut sum = 0u64;
                let start = Instant::now();
                for v in 0..n {
                    sum += policy
                        .call(counter.ask(Inc(v)))
                        .await
                        .expect("bench: call failed");
                }
                total += start.elapsed();
                check_sum("snowglobe policy ask", sum, n);
            }
            let handled = counter.ask(Count).await.expect("bench: ask failed");
            assert_eq!(handled, n * iters, "bench: asks lost or repeated");
            let stats = policy.stats();
            assert_eq!(stats.retries, 0, "bench: nothing fails, nothing is retried");
            assert_eq!(stats.failed_calls, 0, "bench: calls failed");
            stop(&counter).await;
            total
        })
    }
}

/// Sequential asks: the caller waits for each reply (the value plus one) before the next.
mod ask {
    use super::*;

    pub(super) fn snowglobe(env: &Env, n: u64, iters: u64) -> Duration {
        let system = env.system().clone();
        env.run(async move {
            let counter = system
                .spawn(Counter::default())
                .expect("bench: spawn failed");
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let mut sum = 0u64;
                let start = Instant::now();
                for v in 0..n {
                    sum += counter.ask(Inc(v)).await.expect("bench: ask failed");
                }
                total += start.elapsed();
                check_sum("snowglobe ask", sum, n);
            }
            let handled = counter.ask(Count).await.expect("bench: ask failed");
            assert_eq!(handled, n * iters, "bench: asks lost");
            stop(&counter).await;
            total
        })
    }

    pub(super) fn tokio(env: &Env, n: u64, iters: u64) -> Duration {
        requests(env, n, iters, None)
    }

    /// The same requests, each under `tokio::time::timeout` with the system's default ask
    /// timeout: the tokio code for a request with a deadline.
    pub(super) fn tokio_timeout(env: &Env, n: u64, iters: u64) -> Duration {
        requests(env, n, iters, Some(env.system().ask_timeout()))
    }

    /// The same requests through a bounded channel of the default mailbox's capacity, which
    /// is what a snowglobe mailbox is unless asked otherwise.
    pub(super) fn tokio_bounded(env: &Env, n: u64, iters: u64) -> Duration {
        env.run(async move {
            let (tx, mut rx) = mpsc::channel::<Request>(Mailbox::DEFAULT_CAPACITY);
            let server = ::tokio::spawn(async move {
                let mut handled = 0u64;
                while let Some((v, reply)) = rx.recv().await {
                    handled += 1;
                    let _ = reply.send(v + 1);
                }
                handled
            });
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let mut sum = 0u64;
                let start = Instant::now();
                for v in 0..n {
                    let (reply, answer) = oneshot::channel();
                    assert!(tx.send((v, reply)).await.is_ok(), "bench: server gone");
                    sum += answer.await.expect("bench: server dropped a request");
                }
                total += start.elapsed();
                check_sum("tokio bounded ask", sum, n);
            }
            drop(tx);
            let handled = server.await.expect("bench: server panicked");
            assert_eq!(handled, n * iters, "bench: requests lost");
            total
        })
    }

    fn requests(env: &Env, n: u64, iters: u64, deadline: Option<Duration>) -> Duration {
        env.run(async move {
            let (tx, server) = tokio_server();
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let mut sum = 0u64;
                let start = Instant::now();
                for v in 0..n {
                    sum += match deadline {
                        None => tokio_request(&tx, v).await,
                        Some(deadline) => ::tokio::time::timeout(deadline, tokio_request(&tx, v))
                            .await
                            .expect("bench: request timed out"),
                    };
                }
                total += start.elapsed();
                check_sum("tokio ask", sum, n);
            }
            drop(tx);
            let handled = server.await.expect("bench: server panicked");
            assert_eq!(handled, n * iters, "bench: requests lost");
            total
        })
    }
}

/// Two parties bounce a counter `n` times; the driver only starts the rally and waits.
mod ping_pong {
    use super::*;

    pub(super) fn snowglobe(env: &Env, n: u64, iters: u64) -> Duration {
        let system = env.system().clone();
        env.run(async move {
            let server = system
                .spawn(Player::default())
                .expect("bench: spawn failed");
            let returner = system
                .spawn(Player::default())
                .expect("bench: spawn failed");
            server
                .ask(Link(returner.clone()))
                .await
                .expect("bench: link failed");
            returner
                .ask(Link(server.clone()))
                .await
                .expect("bench: link failed");
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let (done, rally_over) = oneshot::channel();
                server
                    .ask(Arm { rounds: n, done })
                    .await
                    .expect("bench: arm failed");

                let start = Instant::now();
                assert!(
                    returner.tell(Ball(1)).await.is_ok(),
                    "bench: player stopped"
                );
                let rounds = settle("snowglobe rally", rally_over).await;
                total += start.elapsed();
                assert_eq!(rounds, n, "bench: snowglobe rally miscounted");
            }
            stop(&server).await;
            stop(&returner).await;
            total
        })
    }

    pub(super) fn tokio(env: &Env, n: u64, iters: u64) -> Duration {
        env.run(async move {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let (to_server, mut server_rx) = mpsc::unbounded_channel::<u64>();
                let (to_returner, mut returner_rx) = mpsc::unbounded_channel::<u64>();
                let (done, rally_over) = oneshot::channel();
                let returner = ::tokio::spawn(async move {
                    while let Some(round) = returner_rx.recv().await {
                        if to_server.send(round).is_err() {
                            break;
                        }
                    }
                });
                let serve = to_returner.clone();
                let server = ::tokio::spawn(async move {
                    while let Some(round) = server_rx.recv().await {
                        if round == n {
                            let _ = done.send(round);
                            break;
                        }
                        assert!(serve.send(round + 1).is_ok(), "bench: returner gone");
                    }
                });

                let start = Instant::now();
                assert!(to_returner.send(1).is_ok(), "bench: returner gone");
                let rounds = settle("tokio rally", rally_over).await;
                total += start.elapsed();
                assert_eq!(rounds, n, "bench: tokio rally miscounted");

                drop(to_returner);
                server.await.expect("bench: server panicked");
                returner.await.expect("bench: returner panicked");
            }
            total
        })
    }

    /// The same rally over bounded channels of the default mailbox's capacity.
    ///
    /// Written out like [`tokio`] rather than shared with it through the tell group's
    /// `Channel` trait: the shared form made the unbounded rally about 7% slower (157 against
    /// 149 ns a round trip, three alternating runs), which would flatter the target row.
    pub(super) fn tokio_bounded(env: &Env, n: u64, iters: u64) -> Duration {
        env.run(async move {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let (to_server, mut server_rx) = mpsc::channel::<u64>(Mailbox::DEFAULT_CAPACITY);
                let (to_returner, mut returner_rx) =
                    mpsc::channel::<u64>(Mailbox::DEFAULT_CAPACITY);
                let (done, rally_over) = oneshot::channel();
                let returner = ::tokio::spawn(async move {
                    while let Some(round) = returner_rx.recv().await {
                        if to_server.send(round).await.is_err() {
                            break;
                        }
                    }
                });
                let serve = to_returner.clone();
                let server = ::tokio::spawn(async move {
                    while let Some(round) = server_rx.recv().await {
                        if round == n {
                            let _ = done.send(round);
                            break;
                        }
                        assert!(serve.send(round + 1).await.is_ok(), "bench: returner gone");
                    }
                });

                let start = Instant::now();
                assert!(to_returner.send(1).await.is_ok(), "bench: returner gone");
                let rounds = settle("tokio bounded rally", rally_over).await;
                total += start.elapsed();
                assert_eq!(rounds, n, "bench: tokio bounded rally miscounted");

                drop(to_returner);
                server.await.expect("bench: server panicked");
                returner.await.expect("bench: returner panicked");
            }
            total
        })
    }
}

/// Short-lived actors: per actor, spawn, one ask, stop and wait until it has stopped.
mod lifecycle {
    use super::*;

    pub(super) fn snowglobe(env: &Env, n: u64, iters: u64) -> Duration {
        let system = env.system().clone();
        env.run(async move {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let mut sum = 0u64;
                let start = Instant::now();
                for v in 0..n {
                    let counter = system
                        .spawn(Counter::default())
                        .expect("bench: spawn failed");
                    sum += counter.ask(Inc(v)).await.expect("bench: ask failed");
                    stop(&counter).await;
                }
                total += start.elapsed();
                check_sum("snowglobe lifecycle", sum, n);
            }
            total
        })
    }

    pub(super) fn tokio(env: &Env, n: u64, iters: u64) -> Duration {
        env.run(async move {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let mut sum = 0u64;
                let start = Instant::now();
                for v in 0..n {
                    let (tx, server) = tokio_server();
                    sum += tokio_request(&tx, v).await;
                    drop(tx);
                    let handled = server.await.expect("bench: server panicked");
                    assert_eq!(handled, 1, "bench: server miscounted");
                }
                total += start.elapsed();
                check_sum("tokio lifecycle", sum, n);
            }
            total
        })
    }
}

/// A request to [`tokio_server`]: a value and where its reply goes.
pub(crate) type Request = (u64, oneshot::Sender<u64>);

/// The tokio equivalent of a [`Counter`]: a task serving requests from a channel until every
/// sender is gone; returns how many it served.
pub(crate) fn tokio_server() -> (mpsc::UnboundedSender<Request>, tokio::task::JoinHandle<u64>) {
    let (tx, mut rx) = mpsc::unbounded_channel::<Request>();
    let server = tokio::spawn(async move {
        let mut handled = 0u64;
        while let Some((v, reply)) = rx.recv().await {
            handled += 1;
            let _ = reply.send(v + 1);
        }
        handled
    });
    (tx, server)
}

/// Asks a [`tokio_server`] once.
pub(crate) async fn tokio_request(tx: &mpsc::UnboundedSender<Request>, v: u64) -> u64 {
    let (reply, answer) = oneshot::channel();
    assert!(tx.send((v, reply)).is_ok(), "bench: server gone");
    answer.await.expect("bench: server dropped a request")
}
