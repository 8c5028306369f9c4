//! # snowglobe
//!
//! A whole microservice system inside one process. Each service is an **actor**: a struct
//! with private state and a mailbox, reached only through messages. Services talk in three
//! patterns: **ask** (request and typed reply, always with a deadline), **tell**
//! (fire-and-forget, with backpressure when the receiver falls behind) and, later,
//! publish-subscribe.
//!
//! ## A service in a few lines
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::collections::HashMap;
//! use snowglobe::prelude::*;
//!
//! #[derive(Debug, PartialEq)]
//! struct OutOfStock;
//!
//! #[derive(Actor, Default)]
//! struct Inventory {
//!     stock: HashMap<u32, u32>,
//! }
//!
//! #[messages]
//! impl Inventory {
//!     /// Reserves `qty` units of `sku`; replies with the units left.
//!     #[message]
//!     fn reserve(&mut self, sku: u32, qty: u32) -> Result<u32, OutOfStock> {
//!         let left = self.stock.get_mut(&sku).filter(|n| **n >= qty).ok_or(OutOfStock)?;
//!         *left -= qty;
//!         Ok(*left)
//!     }
//!
//!     /// Adds `qty` units of `sku`.
//!     #[message]
//!     fn restock(&mut self, sku: u32, qty: u32) {
//!         *self.stock.entry(sku).or_default() += qty;
//!     }
//! }
//!
//! let system = System::new();
//! let inventory = system.spawn(Inventory::default())?;
//!
//! inventory.restock(7, 10).tell().await?;               // tell: no reply
//! assert_eq!(inventory.reserve(7, 3).await?, Ok(7));     // ask: typed reply
//! assert_eq!(inventory.reserve(7, 30).await?, Err(OutOfStock));
//! let left = inventory
//!     .ask(Reserve { sku: 7, qty: 1 })                   // the same ask, by message value
//!     .timeout(std::time::Duration::from_millis(50))     // with its own deadline
//!     .await?;
//! assert_eq!(left, Ok(6));
//!
//! system.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! `#[derive(Actor)]` and `#[messages]` are sugar: each `#[message]` method becomes a message
//! struct (`reserve` → `Reserve { sku, qty }`), a [`Handler`] impl, a variant of the actor's
//! mailbox enum and a client method on [`ActorRef`]. The same actor can be written by hand
//! against [`Actor`], [`Message`], [`Handler`], [`Dispatch`] and [`Accepts`]; the macros'
//! documentation shows the code they stand for, and `examples/hello_by_hand.rs` does it in
//! full.
//!
//! ## Sending
//!
//! | call | waits for | fails with |
//! |---|---|---|
//! | [`tell(msg).await`](ActorRef::tell) | mailbox room (backpressure) | [`TellError::Closed`] |
//! | [`try_tell(msg)`](ActorRef::try_tell) | nothing | [`TellError::Full`], [`TellError::Closed`] |
//! | [`ask(msg).await`](ActorRef::ask) | the reply, until the deadline | [`AskError`] |
//!
//! Errors give the message back when it was not delivered, and an [`AskError`] says whether
//! the handler ran ([`AskError::was_handled`]), which is what decides whether a retry is
//! safe. Every ask has a deadline: the system's default ([`SystemBuilder::ask_timeout`], 5 s
//! unless set) or its own ([`Request::timeout`]). The deadline travels in the message's
//! [`Headers`] with its id, its sender and its trace context.
//!
//! Messages from one sender to one actor arrive in the order they were sent. An actor handles
//! one message at a time, so its `&mut self` needs no lock.
//!
//! ## Lifecycle and faults
//!
//! An actor runs until it is stopped: [`ActorRef::stop`] (graceful: queued messages are
//! handled first, then its children stop, then [`Actor::on_stop`]), [`ActorRef::kill`]
//! (now: queued messages become [`DeadLetters`]), its parent stopping, or
//! [`System::shutdown`]. Actors spawned from a [`Context`] are children of that actor.
//!
//! A panic in a handler stops only that actor: its caller gets [`AskError::Panicked`] with
//! the panic text, the message is recorded as a dead letter, the messages queued behind it
//! are answered with [`AskError::Stopped`], and every other actor goes on.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use snowglobe::{Actor, AskError, StopReason, System, messages};
//!
//! #[derive(Actor)]
//! struct Payments;
//!
//! #[messages]
//! impl Payments {
//!     #[message]
//!     fn charge(&mut self, card: String) -> u64 {
//!         assert!(card.len() == 16, "malformed card number");
//!         42
//!     }
//! }
//!
//! let system = System::new();
//! let payments = system.spawn(Payments).unwrap();
//! match payments.charge("123".into()).await {
//!     Err(AskError::Panicked(p)) => assert_eq!(p.as_str(), "malformed card number"),
//!     other => panic!("{other:?}"),
//! }
//! assert!(matches!(payments.stopped().await, StopReason::Panicked(_)));
//! assert_eq!(system.dead_letters().count(), 1);
//! # }
//! ```
//!
//! ## Supervision
//!
//! Spawned from a [`ChildSpec`] ([`System::spawn_supervised`],
//! [`Context::spawn_supervised`]), an actor that fails is restarted instead: a fresh
//! instance from the spec's factory, after a [`Backoff`], as its [`Restart`] policy and its
//! supervisor's [`Supervisor`] (strategy and restart intensity) allow. Beyond the intensity
//! the failure escalates to the supervisor's own supervisor; at the top the system reports
//! it ([`System::root_failures`]) and the other trees go on.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use snowglobe::{Actor, AskError, Backoff, ChildSpec, System, messages};
//!
//! #[derive(Actor, Default)]
//! struct Payments {
//!     charged: u64,
//! }
//!
//! #[messages]
//! impl Payments {
//!     #[message]
//!     fn charge(&mut self, card: String) -> u64 {
//!         assert!(card.len() == 16, "malformed card number");
//!         self.charged += 1;
//!         self.charged
//!     }
//! }
//!
//! let system = System::new();
//! let payments = system
//!     .spawn_supervised(ChildSpec::new(Payments::default).backoff(Backoff::NONE))
//!     .unwrap();
//! assert_eq!(payments.charge("4111111111111111".into()).await.unwrap(), 1);
//! assert!(matches!(payments.charge("123".into()).await, Err(AskError::Panicked(_))));
//! // Same address, fresh state: the next message goes to the new instance.
//! assert_eq!(payments.charge("4111111111111111".into()).await.unwrap(), 1);
//! assert_eq!(payments.restarts(), 1);
//! # system.shutdown().await;
//! # }
//! ```
//!
//! **Messages across a restart.** The address and the mailbox stay; only the instance is
//! replaced. The message whose handler panicked becomes a dead letter and its ask gets
//! [`AskError::Panicked`]; the messages queued behind it stay queued and are handled by the
//! new instance, in order. While the actor restarts (its backoff, the new instance's
//! `on_start`), [`tell`](ActorRef::tell) and [`try_tell`](ActorRef::try_tell) behave as for
//! a busy actor: they queue, wait for room, or report [`TellError::Full`]; an
//! [`ask`](ActorRef::ask) waits for the new instance's reply, and its deadline keeps running,
//! so a backoff longer than the ask's timeout answers it with [`AskError::Timeout`] (the
//! message stays queued and is still handled). Only when the actor stops for good do sends
//! fail with [`TellError::Closed`] and queued asks with [`AskError::Stopped`].
//!
//! Around that: [`Context::watch`] delivers a [`Terminated`] when an actor stops for good,
//! [`Context::link`] shares failures between two instances, [`DeadLetters::subscribe`]
//! lets an actor read every dead letter, and a [`Bulkhead`] or
//! [`SpawnOptions::dedicated_thread`] keeps actors that block from starving the rest.
//!
//! ## Resilience
//!
//! [`resilience::Policy`] composes, around the asks to one service, a retry with backoff,
//! jitter and a budget, a circuit breaker, a rate limiter, a concurrency limit and deadlines
//! (per attempt, and in total across retries). Every retry carries the message id of its
//! first attempt; a receiver that marks the message `#[message(idempotent)]` answers a repeat
//! with the first reply instead of running the handler again, so a retried charge is applied
//! once:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use std::time::Duration;
//! use snowglobe::resilience::{CircuitBreaker, CircuitBreakerConfig, Policy, Retry};
//! use snowglobe::{Actor, System, messages};
//!
//! #[derive(Actor, Default)]
//! struct Payments {
//!     charges: Vec<u64>,
//! }
//!
//! #[messages]
//! impl Payments {
//!     /// Charges once per request, however often the request arrives.
//!     #[message(idempotent, derive(Clone))]
//!     fn charge(&mut self, cents: u64) -> usize {
//!         self.charges.push(cents);
//!         self.charges.len()
//!     }
//! }
//!
//! let system = System::new();
//! let payments = system.spawn(Payments::default()).unwrap();
//! let breaker = CircuitBreaker::new(&system, CircuitBreakerConfig::new("payments")).unwrap();
//! let policy = Policy::builder(&system)
//!     .retry(Retry::new(3).backoff(Duration::from_millis(10), Duration::from_secs(1)))
//!     .circuit_breaker(breaker)
//!     .timeout(Duration::from_millis(500))
//!     .build();
//! assert_eq!(policy.call(payments.charge(1_999)).await.unwrap(), 1);
//! # system.shutdown().await;
//! # }
//! ```
//!
//! ## Simulation
//!
//! [`sim::Simulation`] runs the same actors, unchanged, on one thread and a virtual clock,
//! in an order chosen by a seed: an hour of timers takes a millisecond, and a seed repeats a
//! run exactly. Invariants are checked after every step, and a sweep over many seeds finds
//! the interleavings that break them:
//!
//! ```
//! use std::time::Duration;
//! use snowglobe::sim::Simulation;
//! use snowglobe::{Actor, messages};
//!
//! #[derive(Actor, Default)]
//! struct Heartbeat {
//!     beats: u32,
//! }
//!
//! #[messages]
//! impl Heartbeat {
//!     #[message]
//!     fn beat(&mut self) {
//!         self.beats += 1;
//!     }
//!
//!     #[message]
//!     fn beats(&self) -> u32 {
//!         self.beats
//!     }
//! }
//!
//! let mut sim = Simulation::with_seed(8431); // or Simulation::new(): SNOWGLOBE_SEED, or random
//! let beats = sim
//!     .run(|system| async move {
//!         let heart = system.spawn(Heartbeat::default()).unwrap();
//!         for _ in 0..3600 {
//!             heart.beat().tell().await.unwrap();
//!             system.sleep(Duration::from_secs(1)).await; // virtual: no wall time passes
//!         }
//!         heart.beats().await.unwrap()
//!     })
//!     .unwrap();
//! assert_eq!(beats, 3600);
//! ```
//!
//! Put services on simulated machines with [`sim::World`]: between [`sim::Node`]s every
//! message crosses a network whose [`sim::Link`]s add latency and lose, duplicate or reorder
//! messages; partitions cut links, and nodes crash, restart and pause, all on virtual time
//! and drawn from the seed. The trace records every hop, and
//! [`Simulation::eventually`](sim::Simulation::eventually) checks what must hold once the
//! faults are over:
//!
//! ```
//! use std::time::Duration;
//! use snowglobe::sim::{Latency, Link, Simulation, World};
//! use snowglobe::{Actor, ActorRef, ChildSpec, messages};
//!
//! #[derive(Actor, Default)]
//! struct Ledger {
//!     entries: u32,
//! }
//!
//! #[messages]
//! impl Ledger {
//!     #[message]
//!     fn post(&mut self) -> u32 {
//!         self.entries += 1;
//!         self.entries
//!     }
//! }
//!
//! #[derive(Actor)]
//! struct Clerk {
//!     ledger: ActorRef<Ledger>,
//! }
//!
//! #[messages]
//! impl Clerk {
//!     /// Posts from the clerk's machine, giving up after 200 ms.
//!     #[message]
//!     async fn post_one(&mut self) -> bool {
//!         self.ledger.post().timeout(Duration::from_millis(200)).await.is_ok()
//!     }
//! }
//!
//! let ms = Duration::from_millis;
//! let link = Link::new().latency(Latency::uniform(ms(1), ms(50)));
//! let mut sim = Simulation::with_seed(8431).link(link);
//! sim.run(|system| async move {
//!     let world = World::of(&system).unwrap();
//!     let front = world.node("front");
//!     let books = world.node("books");
//!     let ledger = books.spawn_root(ChildSpec::new(Ledger::default)).unwrap();
//!     let clerk = front.system().spawn(Clerk { ledger }).unwrap();
//!     assert!(clerk.post_one().await.unwrap());
//!     world.partition(&[&front], &[&books]);
//!     assert!(!clerk.post_one().await.unwrap(), "cut off: the ask times out");
//!     world.heal();
//!     books.crash(); // the ledger's memory is lost...
//!     books.restart(); // ...and it starts again from its factory, at the same address
//!     assert!(clerk.post_one().await.unwrap());
//! })
//! .unwrap();
//! let start = snowglobe::Instant::ZERO;
//! println!("{}", sim.trace().to_mermaid(start, start + Duration::from_secs(1)));
//! ```
//!
//! ## Names
//!
//! Spawn a service under a name ([`SpawnOptions::name`]) and find it elsewhere with
//! [`System::lookup`], whose type parameter is checked: asking for the wrong actor type is a
//! [`LookupError::WrongType`], not a wrong message at run time.
//!
//! ## The runtime seam
//!
//! Actors run on tokio: [`System::new`] uses the runtime it is called from (or creates a
//! multi-thread runtime outside one). Every task, clock read, timer and random number the
//! runtime uses goes through the [`System`] ([`System::now`], [`System::sleep`],
//! [`Context::send_after`], [`System::random_u64`]), which is where a simulated, seeded
//! runtime plugs in. Handlers that want virtual time in tests should read time the same way.
//!
//! ## Performance
//!
//! A tell is one atomic add to reserve a mailbox slot and a lock-free push of the message,
//! stored inline in the actor's mailbox enum: no allocation, no lock, no map lookup. The
//! actor drains its mailbox in batches and is woken only when it was parked. The crate's
//! `benches/` measure this against raw tokio and crossbeam channels.

pub use snowglobe_macros::{Actor, handler, message, messages};
pub use snowglobe_runtime::{
    Accepts, Actor, ActorEvent, ActorId, ActorRef, ActorState, Ask, AskError, Backoff, BoxError,
    BuildError, Bulkhead, BulkheadError, ChildSpec, Consume, ConsumerStats, Context, DeadLetter,
    DeadLetterReason, DeadLetters, Delivery, Dispatch, DurableError, DurableTopic, DynMessage,
    Endpoint, Event, EventBus, Handled, Handler, Headers, Instant, LinkError, LookupError, Mailbox,
    Message, MessageId, PanicDecision, PanicMessage, Pattern, Published, Recipient, Record,
    RegisterError, ReplyTo, Request, Restart, Retention, RootFailure, SpawnError, SpawnOptions,
    StartAt, StopReason, Strategy, Subscribe, SubscribeError, SubscriptionId, SubscriptionStats,
    Supervisor, System, SystemBuilder, Tell, TellError, Terminated, TimerHandle, Topic, TopicError,
    TopicName, TraceContext, Tree, TreeNode, WeakActorRef, pubsub, resilience, sim,
};

/// Durable topics on disk: a store on redb and a serde codec (the `store` feature).
#[cfg(feature = "store")]
pub use snowglobe_store as store;

/// The names almost every program needs: `use snowglobe::prelude::*;` brings the `Actor`
/// trait and its derive, `#[messages]`, the system, addresses and their errors.
pub mod prelude {
    pub use crate::{
        Actor, ActorRef, AskError, ChildSpec, Context, Handler, Message, Recipient, Restart,
        SpawnOptions, StopReason, System, TellError, messages,
    };
}

/// Items generated code refers to. Not a public API.
#[doc(hidden)]
pub mod __private {
    pub use snowglobe_runtime::__private::{MaybeClone, Messages, Probe};
}
