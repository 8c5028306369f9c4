//! The system's event bus and its typed topic handles.

use std::any::{Any, TypeId};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use dashmap::DashMap;
use tokio::sync::oneshot;

use super::durable::{DurableError, DurableTopic, Persist, Retention};
use super::name::TopicName;
use super::store::{DurableStore, EventCodec};
use super::topic::TopicState;
use super::{Event, Published, Subscribe, SubscribeError, SubscriptionId, SubscriptionStats};
use crate::address::Recipient;
use crate::system::Shared;

/// The publish-subscribe bus of a [`System`](crate::System): one [`Topic`] per event type.
/// See the [module docs](crate::pubsub) for topics, delivery policies and ordering.
///
/// `system.events().publish(event)` finds the event type's topic in a map on each call; a
/// publisher on a hot path keeps the [`Topic`] from [`topic`](EventBus::topic) instead.
#[derive(Clone)]
pub struct EventBus {
    inner: Arc<Inner>,
}

struct Inner {
    topics: DashMap<TypeId, Arc<dyn AnyTopic>>,
    durables: DashMap<Arc<str>, Arc<dyn Any + Send + Sync>>,
    next_id: AtomicU64,
    system: Weak<Shared>,
}

/// A topic with its event type erased, for what the bus does by id.
trait AnyTopic: Send + Sync {
    fn as_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync>;
    fn remove(&self, id: u64) -> bool;
}

impl<E: Event> AnyTopic for TopicState<E> {
    fn as_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }

    fn remove(&self, id: u64) -> bool {
        TopicState::remove(self, id)
    }
}

impl EventBus {
    pub(crate) fn new(system: Weak<Shared>) -> EventBus {
        EventBus {
            inner: Arc::new(Inner {
                topics: DashMap::new(),
                durables: DashMap::new(),
                next_id: AtomicU64::new(1),
                system,
            }),
        }
    }

    /// The topic of events of type `E`, made the first time it is asked for.
    #[must_use]
    pub fn topic<E: Event>(&self) -> Topic<E> {
        let entry = self
            .inner
            .topics
            .entry(TypeId::of::<E>())
            .or_insert_with(|| Arc::new(TopicState::<E>::new(self.inner.system.clone())))
            .clone();
        let state = entry
            .as_any()
            .downcast::<TopicState<E>>()
            .unwrap_or_else(|_| unreachable!("the map is keyed by the event type"));
        Topic {
            state,
            bus: self.clone(),
        }
    }

    /// The durable topic `name`, made with `retention` the first time (later calls return the
    /// same topic and ignore `retention`). Events published on it are kept in a log and
    /// delivered at least once to each named consumer: see [`DurableTopic`].
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use snowglobe_runtime::{
    ///     Actor, Consume, Context, DynMessage, Handler, Message, Record, Retention, System,
    /// };
    ///
    /// #[derive(Clone)]
    /// struct Shipped(u64);
    /// impl Message for Shipped { type Reply = (); }
    ///
    /// #[derive(Default)]
    /// struct Ledger { total: u64 }
    /// impl Actor for Ledger { type Msg = DynMessage<Self>; }
    /// impl Handler<Record<Shipped>> for Ledger {
    ///     async fn handle(&mut self, record: Record<Shipped>, _: &mut Context<Self>) {
    ///         self.total += record.event.0;
    ///         record.ack(); // handled: not delivered again
    ///     }
    /// }
    /// struct Total;
    /// impl Message for Total { type Reply = u64; }
    /// impl Handler<Total> for Ledger {
    ///     async fn handle(&mut self, _: Total, _: &mut Context<Self>) -> u64 { self.total }
    /// }
    ///
    /// let system = System::new();
    /// let shipped = system.events().durable::<Shipped>("shipped", Retention::all()).unwrap();
    /// shipped.publish(Shipped(5)).unwrap(); // kept in the log, even with no consumer yet
    /// let ledger = system.spawn(Ledger::default()).unwrap();
    /// shipped.consume("ledger", ledger.recipient(), Consume::new()).unwrap();
    /// shipped.publish(Shipped(7)).unwrap();
    /// # while shipped.consumer_stats("ledger").unwrap().acked_up_to < 2 { tokio::task::yield_now().await; }
    /// assert_eq!(ledger.ask(Total).await.unwrap(), 12);
    /// # system.shutdown().await;
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`DurableError::WrongType`] if `name` holds another event type;
    /// [`DurableError::EmptyName`].
    pub fn durable<E: Event>(
        &self,
        name: impl Into<Arc<str>>,
        retention: Retention,
    ) -> Result<DurableTopic<E>, DurableError> {
        self.open_durable(name.into(), retention, None)
    }

    /// The durable topic `name`, kept in `store` so that it outlives the process: opening it
    /// again, in this process or the next, finds its events (with their offsets) and its
    /// consumers' acknowledged positions. `codec` turns events into bytes and back
    /// (`snowglobe-store` provides a store on an embedded database and a serde codec).
    ///
    /// # Errors
    ///
    /// As [`durable`](EventBus::durable), and [`DurableError::Store`] if the store cannot be
    /// read or holds what the codec cannot decode.
    pub fn durable_stored<E: Event>(
        &self,
        name: impl Into<Arc<str>>,
        retention: Retention,
        store: Arc<dyn DurableStore>,
        codec: impl EventCodec<E>,
    ) -> Result<DurableTopic<E>, DurableError> {
        let persist = Persist {
            store,
            codec: Arc::new(codec),
        };
        self.open_durable(name.into(), retention, Some(persist))
    }

    fn open_durable<E: Event>(
        &self,
        name: Arc<str>,
        retention: Retention,
        persist: Option<Persist<E>>,
    ) -> Result<DurableTopic<E>, DurableError> {
        if name.is_empty() {
            return Err(DurableError::EmptyName);
        }
        let existing = self.inner.durables.get(&name).map(|entry| entry.clone());
        let state = match existing {
            Some(state) => state,
            None => {
                let opened = DurableTopic::<E>::open(
                    name.clone(),
                    retention,
                    self.inner.system.clone(),
                    persist,
                )?;
                // Another caller may have opened it meanwhile: theirs stays.
                self.inner
                    .durables
                    .entry(name.clone())
                    .or_insert_with(|| opened.state().clone())
                    .clone()
            }
        };
        let state = state
            .downcast::<super::durable::State<E>>()
            .map_err(|_| DurableError::WrongType(name))?;
        Ok(DurableTopic::from_state(state))
    }

    /// Subscribes to every event of type `E`, with backpressure. See [`Topic::subscribe`].
    ///
    /// # Errors
    ///
    /// [`SubscribeError::SubscriberStopped`].
    pub fn subscribe<E: Event>(
        &self,
        subscriber: impl Into<Recipient<E>>,
    ) -> Result<SubscriptionId, SubscribeError> {
        self.topic::<E>().subscribe(subscriber)
    }

    /// Publishes on the type's topic. See [`Topic::publish`].
    pub async fn publish<E: Event>(&self, event: E) -> Published {
        self.topic::<E>().publish(event).await
    }

    /// Publishes without waiting. See [`Topic::try_publish`].
    pub fn try_publish<E: Event>(&self, event: E) -> Published {
        self.topic::<E>().try_publish(event)
    }

    /// Ends a subscription; `false` if it had ended already.
    #[allow(clippy::must_use_candidate)] // often called for the effect alone
    pub fn unsubscribe(&self, subscription: SubscriptionId) -> bool {
        self.inner
            .topics
            .get(&subscription.topic)
            .is_some_and(|topic| topic.remove(subscription.raw()))
    }

    fn next_id(&self) -> u64 {
        self.inner.next_id.fetch_add(1, Ordering::Relaxed)
    }
}

impl fmt::Debug for EventBus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventBus")
            .field("topics", &self.inner.topics.len())
            .finish_non_exhaustive()
    }
}

/// The subscriptions to events of type `E`, and where they are published.
///
/// A handle: cheap to clone, and publishing through it takes no map lookup.
pub struct Topic<E: Event> {
    state: Arc<TopicState<E>>,
    bus: EventBus,
}

impl<E: Event> Topic<E> {
    /// Subscribes `subscriber` to every event of type `E` (named topic or not), with
    /// [backpressure](super::Delivery::Backpressure).
    ///
    /// # Errors
    ///
    /// [`SubscribeError::SubscriberStopped`].
    pub fn subscribe(
        &self,
        subscriber: impl Into<Recipient<E>>,
    ) -> Result<SubscriptionId, SubscribeError> {
        self.subscribe_with(subscriber, Subscribe::new())
    }

    /// Subscribes with a pattern, a filter or a delivery policy.
    ///
    /// # Errors
    ///
    /// [`SubscribeError`]: the subscriber has stopped; a `DropOldest` buffer of zero.
    pub fn subscribe_with(
        &self,
        subscriber: impl Into<Recipient<E>>,
        options: Subscribe<E>,
    ) -> Result<SubscriptionId, SubscribeError> {
        let id = self.bus.next_id();
        self.state.subscribe(id, subscriber.into(), options)?;
        Ok(SubscriptionId {
            id,
            topic: TypeId::of::<E>(),
        })
    }

    /// Ends a subscription; `false` if it had ended already.
    #[allow(clippy::must_use_candidate)] // often called for the effect alone
    pub fn unsubscribe(&self, subscription: SubscriptionId) -> bool {
        self.bus.unsubscribe(subscription)
    }

    /// Publishes `event` to the subscriptions without a pattern. Waits while a
    /// backpressure subscriber's mailbox is full.
    ///
    /// Every delivery of one event carries the same [`Headers`](crate::Headers): one message
    /// id, the publisher as sender, the publisher's trace context. A subscriber can tell two
    /// events apart, and one event seen twice, by the id.
    pub async fn publish(&self, event: E) -> Published {
        let (published, waits) = self.state.offer_all(None, event, true);
        settle(published, waits).await
    }

    /// Publishes `event` on the topic `name`: to the subscriptions without a pattern and to
    /// those whose pattern matches `name`. Waits while a backpressure subscriber's mailbox is
    /// full.
    pub async fn publish_on(&self, name: &TopicName, event: E) -> Published {
        let (published, waits) = self.state.offer_all(Some(name), event, true);
        settle(published, waits).await
    }

    /// Publishes without waiting: where a backpressure subscriber's mailbox is full, the
    /// event waits in its subscription instead ([`Published::queued`]). For code that cannot
    /// await, and for publishers that must not be slowed.
    pub fn try_publish(&self, event: E) -> Published {
        self.state.offer_all(None, event, false).0
    }

    /// [`try_publish`](Topic::try_publish) on the topic `name`.
    pub fn try_publish_on(&self, name: &TopicName, event: E) -> Published {
        self.state.offer_all(Some(name), event, false).0
    }

    /// A subscription's counters; `None` once it has ended.
    #[must_use]
    pub fn stats(&self, subscription: SubscriptionId) -> Option<SubscriptionStats> {
        self.state.stats(subscription.raw())
    }

    pub(crate) fn has_subscribers(&self) -> bool {
        self.state.has_subscribers()
    }

    pub(crate) fn has_subscriber(&self, subscriber: crate::ActorId) -> bool {
        self.state.has_subscriber(subscriber)
    }

    pub(crate) fn remove_subscriber(&self, subscriber: crate::ActorId) {
        self.state.remove_subscriber(subscriber);
    }

    /// How many subscriptions the topic has.
    #[must_use]
    pub fn subscriptions(&self) -> usize {
        self.state.subscription_count()
    }

    /// How many events were published on the topic.
    #[must_use]
    pub fn published(&self) -> u64 {
        self.state.published.load(Ordering::Relaxed)
    }
}

impl<E: Event> Clone for Topic<E> {
    fn clone(&self) -> Self {
        Topic {
            state: self.state.clone(),
            bus: self.bus.clone(),
        }
    }
}

impl<E: Event> fmt::Debug for Topic<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Topic")
            .field("event", &std::any::type_name::<E>())
            .field("subscriptions", &self.subscriptions())
            .finish()
    }
}

/// Waits until the events backpressure subscriptions queued are in their mailboxes.
async fn settle(mut published: Published, waits: Vec<oneshot::Receiver<bool>>) -> Published {
    for waiting in waits {
        match waiting.await {
            Ok(true) => published.delivered += 1,
            // The subscriber stopped before there was room: a dead letter.
            _ => published.gone += 1,
        }
    }
    published
}
