//! Publish-subscribe: typed events, named topics with wildcards, a delivery policy per
//! subscription.
//!
//! Every [`System`](crate::System) has an [`EventBus`]. An event is any [`Message`] with a `()`
//! reply that can be cloned (each subscriber gets its own copy; the last one gets the
//! original). Subscribers are actors, reached through a [`Recipient`](crate::Recipient): the publisher never
//! knows who listens.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use snowglobe_runtime::{
//!     Actor, Context, DynMessage, Handler, Message, Pattern, Subscribe, System, TopicName,
//! };
//!
//! #[derive(Clone, Debug)]
//! struct OrderPlaced { id: u64 }
//! impl Message for OrderPlaced { type Reply = (); }
//!
//! #[derive(Default)]
//! struct Shipping { seen: Vec<u64> }
//! impl Actor for Shipping { type Msg = DynMessage<Self>; }
//! impl Handler<OrderPlaced> for Shipping {
//!     async fn handle(&mut self, e: OrderPlaced, _: &mut Context<Self>) { self.seen.push(e.id); }
//! }
//! struct Seen;
//! impl Message for Seen { type Reply = Vec<u64>; }
//! impl Handler<Seen> for Shipping {
//!     async fn handle(&mut self, _: Seen, _: &mut Context<Self>) -> Vec<u64> { self.seen.clone() }
//! }
//!
//! let system = System::new();
//! let shipping = system.spawn(Shipping::default()).unwrap();
//! let placed = system.events().topic::<OrderPlaced>();
//! // Every `OrderPlaced` published on a topic under `orders.eu`:
//! let on = Subscribe::new().on(Pattern::new("orders.eu.>").unwrap());
//! placed.subscribe_with(shipping.recipient(), on).unwrap();
//!
//! let eu = TopicName::new("orders.eu.placed").unwrap();
//! let us = TopicName::new("orders.us.placed").unwrap();
//! assert_eq!(placed.publish_on(&eu, OrderPlaced { id: 1 }).await.delivered, 1);
//! assert_eq!(placed.publish_on(&us, OrderPlaced { id: 2 }).await.delivered, 0);
//! assert_eq!(shipping.ask(Seen).await.unwrap(), [1]);
//! # system.shutdown().await;
//! # }
//! ```
//!
//! # Topics
//!
//! A [`Topic<E>`] holds the subscriptions to events of type `E`. An event is published on the
//! type alone ([`Topic::publish`]) or on a named topic as well ([`Topic::publish_on`], with a
//! hierarchical [`TopicName`] like `orders.eu.placed`). A subscription without a pattern gets
//! every event of its type, named or not; one with a [`Pattern`] (wildcards `*` and `>`) gets
//! the events published on a name it matches. A filter narrows either further.
//!
//! # Delivery and slow subscribers
//!
//! Each event goes into each subscriber's mailbox like a tell. When a mailbox is full, the
//! subscription's [`Delivery`] policy decides: the default, [`Delivery::Backpressure`], loses
//! nothing (an async publisher waits for room; [`Topic::try_publish`], which never waits,
//! queues the event in the subscription); the others drop, and count every drop
//! ([`Topic::stats`], [`Published`]).
//!
//! # Ordering
//!
//! Each subscriber gets one publisher's events in the order they were published: an event a
//! subscription had to queue keeps its place, and later events for that subscription go
//! behind it until the queue has drained.
//!
//! # Subscribers that stop
//!
//! A subscription ends when its subscriber stops; an event that was on its way becomes a dead
//! letter, and nothing is delivered afterwards.

mod bus;
mod durable;
mod name;
mod store;
mod topic;

use std::fmt;
use std::sync::Arc;

use crate::actor::ActorId;
use crate::message::Message;

pub use bus::{EventBus, Topic};
pub use durable::{Consume, ConsumerStats, DurableError, DurableTopic, Record, Retention, StartAt};
pub use name::{Pattern, TopicError, TopicName};
pub use store::{DurableStore, EventCodec, StoreError, Stored, StoredPosition};

/// A subscription's filter.
type Filter<E> = Arc<dyn Fn(&E) -> bool + Send + Sync>;

/// What can be published: a cloneable message with no reply.
///
/// Implemented for every such type; there is nothing to implement.
pub trait Event: Message<Reply = ()> + Clone {}

impl<E: Message<Reply = ()> + Clone> Event for E {}

/// What a subscription does with an event when the subscriber's mailbox is full.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Delivery {
    /// Lose nothing: [`publish`](Topic::publish) waits until there is room, and
    /// [`try_publish`](Topic::try_publish), which cannot wait, queues the event in the
    /// subscription (without bound) to be moved into the mailbox as room appears.
    #[default]
    Backpressure,
    /// Drop the new event, and count it.
    DropNewest,
    /// Queue up to `buffer` events in the subscription, moved into the mailbox as room
    /// appears; when the queue is full, drop the oldest queued event, and count it. For
    /// subscribers that want the latest events rather than all of them.
    DropOldest {
        /// How many events may wait in the subscription (at least 1).
        buffer: usize,
    },
    /// Drop the new event, count it, and record it as a dead letter
    /// ([`DeadLetterReason::MailboxFull`](crate::DeadLetterReason::MailboxFull)).
    DeadLetter,
}

/// How to subscribe: to which topics, which events, with which [`Delivery`].
///
/// ```
/// use snowglobe_runtime::{Delivery, Pattern, Subscribe};
///
/// #[derive(Clone)]
/// struct Reading { celsius: f64 }
/// impl snowglobe_runtime::Message for Reading { type Reply = (); }
///
/// let hot_only = Subscribe::<Reading>::new()
///     .on(Pattern::new("sensors.*.temperature").unwrap())
///     .filter(|r| r.celsius > 30.0)
///     .delivery(Delivery::DropOldest { buffer: 16 });
/// # let _ = hot_only;
/// ```
#[must_use]
pub struct Subscribe<E> {
    pattern: Option<Pattern>,
    filter: Option<Filter<E>>,
    delivery: Delivery,
}

impl<E: Event> Subscribe<E> {
    /// Every event of the type, with backpressure.
    pub fn new() -> Subscribe<E> {
        Subscribe {
            pattern: None,
            filter: None,
            delivery: Delivery::default(),
        }
    }

    /// Only events published on a topic name `pattern` matches.
    pub fn on(mut self, pattern: Pattern) -> Subscribe<E> {
        self.pattern = Some(pattern);
        self
    }

    /// Only events `filter` accepts. It runs on the publisher's side, for every event the
    /// pattern lets through: keep it cheap, and free of panics.
    pub fn filter(mut self, filter: impl Fn(&E) -> bool + Send + Sync + 'static) -> Subscribe<E> {
        self.filter = Some(Arc::new(filter));
        self
    }

    /// What to do when the subscriber's mailbox is full.
    pub fn delivery(mut self, delivery: Delivery) -> Subscribe<E> {
        self.delivery = delivery;
        self
    }
}

impl<E: Event> Default for Subscribe<E> {
    fn default() -> Self {
        Subscribe::new()
    }
}

impl<E> fmt::Debug for Subscribe<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscribe")
            .field("pattern", &self.pattern)
            .field("filter", &self.filter.is_some())
            .field("delivery", &self.delivery)
            .finish()
    }
}

/// Identifies a subscription, to [unsubscribe](EventBus::unsubscribe) it or read its
/// [stats](Topic::stats).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SubscriptionId {
    id: u64,
    topic: std::any::TypeId,
}

/// Why a subscription was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SubscribeError {
    /// The subscriber has stopped.
    #[error("the subscriber {0} has stopped")]
    SubscriberStopped(ActorId),
    /// [`Delivery::DropOldest`] needs room for at least one event.
    #[error("a DropOldest subscription needs a buffer of at least 1")]
    ZeroBuffer,
}

/// What one publish did: for how many subscriptions the event went into the mailbox, waits
/// in the subscription's queue, or found the subscriber stopped (a dead letter), and how many
/// events the subscriptions' policies dropped for it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Published {
    /// In the subscriber's mailbox.
    pub delivered: usize,
    /// Waiting in the subscription, in order, for room in the mailbox.
    pub queued: usize,
    /// Events the policies dropped: this one ([`Delivery::DropNewest`],
    /// [`Delivery::DeadLetter`]) or an older waiting one it pushed out
    /// ([`Delivery::DropOldest`], where this one is counted in `queued`). Counted in the
    /// subscriptions' [stats](Topic::stats) too.
    pub dropped: usize,
    /// The subscriber had stopped: a dead letter; the subscription is gone.
    pub gone: usize,
}

impl Published {
    /// The subscriptions that received the event or will: `delivered + queued`.
    #[must_use]
    pub fn received(&self) -> usize {
        self.delivered + self.queued
    }
}

/// A subscription's counters, from [`Topic::stats`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SubscriptionStats {
    /// The subscriber.
    pub subscriber: ActorId,
    /// Events put into its mailbox.
    pub delivered: u64,
    /// Events its policy dropped.
    pub dropped: u64,
    /// Events waiting in the subscription for room in the mailbox.
    pub waiting: usize,
}
