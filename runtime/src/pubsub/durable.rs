//! Durable topics: an append-only log per topic, and named consumers that acknowledge.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;
use std::future::{Future, poll_fn};
use std::pin::pin;
use std::sync::{Arc, Weak};
use std::task::Poll;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::Notify;

use super::Event;
use super::store::{DurableStore, EventCodec, StoreError, StoredPosition};
use crate::actor::ActorId;
use crate::address::{Recipient, TellError};
use crate::message::Message;
use crate::system::{Instant, Shared};

/// How long a durable topic keeps its events. Both limits may apply; the default keeps
/// everything.
///
/// ```
/// use std::time::Duration;
/// use snowglobe_runtime::Retention;
///
/// let week_or_million = Retention::all()
///     .max_events(1_000_000)
///     .max_age(Duration::from_secs(7 * 24 * 3600));
/// # let _ = week_or_million;
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[must_use]
pub struct Retention {
    max_events: Option<usize>,
    max_age: Option<Duration>,
}

impl Retention {
    /// Keep every event.
    pub const fn all() -> Retention {
        Retention {
            max_events: None,
            max_age: None,
        }
    }

    /// Keep at most the latest `count` events.
    pub const fn max_events(mut self, count: usize) -> Retention {
        self.max_events = Some(count);
        self
    }

    /// Keep events for at most `age` on the system's clock.
    pub const fn max_age(mut self, age: Duration) -> Retention {
        self.max_age = Some(age);
        self
    }
}

/// Where a new consumer starts reading.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum StartAt {
    /// The oldest event the topic still keeps.
    #[default]
    Beginning,
    /// Only events published from now on.
    End,
    /// This offset (or the oldest kept, if it is gone).
    Offset(u64),
}

/// How a consumer reads a durable topic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub struct Consume {
    start: StartAt,
    ack_timeout: Duration,
    max_in_flight: usize,
}

impl Consume {
    /// From the beginning; unacknowledged events redelivered after 30 s; at most 64 events
    /// delivered and not yet acknowledged at a time.
    pub const fn new() -> Consume {
        Consume {
            start: StartAt::Beginning,
            ack_timeout: Duration::from_secs(30),
            max_in_flight: 64,
        }
    }

    /// Where a new consumer starts. (A consumer that exists already resumes after its last
    /// acknowledged event; [`DurableTopic::seek`] moves it.)
    pub const fn start(mut self, start: StartAt) -> Consume {
        self.start = start;
        self
    }

    /// How long a delivered event may go unacknowledged before it is delivered again.
    pub const fn ack_timeout(mut self, timeout: Duration) -> Consume {
        self.ack_timeout = timeout;
        self
    }

    /// How many events may be delivered and not yet acknowledged at a time (at least 1).
    /// This is the consumer's flow control: the rest wait in the log, not in its mailbox.
    pub const fn max_in_flight(mut self, count: usize) -> Consume {
        self.max_in_flight = count;
        self
    }
}

impl Default for Consume {
    fn default() -> Self {
        Consume::new()
    }
}

/// An event from a durable topic, as its consumer receives it. Acknowledge it with
/// [`ack`](Record::ack) once it is handled; until then it counts as in flight, and after the
/// consumer's ack timeout it is delivered again.
pub struct Record<E: Event> {
    /// The event's position in the topic's log.
    pub offset: u64,
    /// The event.
    pub event: E,
    /// How many times it was delivered before (0 the first time).
    pub redelivered: u32,
    consumer: Weak<Consumer<E>>,
}

impl<E: Event> Record<E> {
    /// Acknowledges the event: it will not be delivered to this consumer again, and a
    /// consumer that attaches later under the same name resumes after it.
    pub fn ack(&self) {
        if let Some(consumer) = self.consumer.upgrade() {
            consumer.ack(self.offset);
        }
    }
}

impl<E: Event> Message for Record<E> {
    type Reply = ();
}

impl<E: Event> Clone for Record<E> {
    fn clone(&self) -> Self {
        Record {
            offset: self.offset,
            event: self.event.clone(),
            redelivered: self.redelivered,
            consumer: self.consumer.clone(),
        }
    }
}

impl<E: Event + fmt::Debug> fmt::Debug for Record<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Record")
            .field("offset", &self.offset)
            .field("event", &self.event)
            .field("redelivered", &self.redelivered)
            .finish_non_exhaustive()
    }
}

/// Why a durable topic or a consumer was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DurableError {
    /// A durable topic of this name exists with another event type.
    #[error("the durable topic {0:?} holds another event type")]
    WrongType(Arc<str>),
    /// Names must not be empty.
    #[error("durable topic and consumer names must not be empty")]
    EmptyName,
    /// The consumer is attached to a running actor.
    #[error("the consumer {name:?} is attached to the running actor {actor}")]
    ConsumerBusy {
        /// The consumer.
        name: Arc<str>,
        /// The actor it is attached to.
        actor: ActorId,
    },
    /// There is no consumer of this name.
    #[error("no consumer named {0:?}")]
    NoConsumer(Arc<str>),
    /// `max_in_flight` must be at least 1.
    #[error("a consumer needs max_in_flight of at least 1")]
    ZeroInFlight,
    /// The subscriber has stopped.
    #[error("the actor {0} has stopped")]
    Stopped(ActorId),
    /// The topic's store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A consumer's position and counters, from [`DurableTopic::consumer_stats`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConsumerStats {
    /// Every offset below this one is acknowledged (or was dropped by retention).
    pub acked_up_to: u64,
    /// The next offset delivered for the first time.
    pub next: u64,
    /// Delivered, not yet acknowledged.
    pub in_flight: usize,
    /// Deliveries, first ones and again.
    pub delivered: u64,
    /// Deliveries of an event delivered before.
    pub redelivered: u64,
    /// Events retention dropped before this consumer read them.
    pub skipped: u64,
    /// The actor it delivers to, if attached.
    pub attached: Option<ActorId>,
}

/// A durable topic: every published event is appended to a log with an offset, kept as the
/// [`Retention`] says, and delivered to each named consumer at least once, in offset order,
/// until the consumer acknowledges it. See [`EventBus::durable`](super::EventBus::durable).
pub struct DurableTopic<E: Event> {
    state: Arc<State<E>>,
}

pub(crate) struct State<E: Event> {
    name: Arc<str>,
    retention: Retention,
    system: Weak<Shared>,
    /// Where the log and the positions are kept beyond the process, if anywhere.
    persist: Option<Persist<E>>,
    log: Mutex<Log<E>>,
    /// By name; ordered, so that a publish wakes them in the same order in every run (the
    /// simulator replays a seed exactly).
    consumers: Mutex<BTreeMap<Arc<str>, Arc<Consumer<E>>>>,
}

/// A durable topic's store and codec.
pub(crate) struct Persist<E> {
    pub(crate) store: Arc<dyn DurableStore>,
    pub(crate) codec: Arc<dyn EventCodec<E>>,
}

struct Log<E> {
    /// The offset of `entries[0]`.
    first: u64,
    entries: VecDeque<(Instant, E)>,
}

impl<E> Log<E> {
    fn next(&self) -> u64 {
        self.first + self.entries.len() as u64
    }

    fn get(&self, offset: u64) -> Option<&E> {
        let index = usize::try_from(offset.checked_sub(self.first)?).ok()?;
        self.entries.get(index).map(|(_, event)| event)
    }

    fn trim(&mut self, retention: Retention, now: Instant) {
        if let Some(max) = retention.max_events {
            while self.entries.len() > max {
                self.entries.pop_front();
                self.first += 1;
            }
        }
        if let Some(age) = retention.max_age {
            while self
                .entries
                .front()
                .is_some_and(|(at, _)| now.saturating_duration_since(*at) > age)
            {
                self.entries.pop_front();
                self.first += 1;
            }
        }
    }
}

struct Consumer<E: Event> {
    name: Arc<str>,
    topic: Weak<State<E>>,
    inner: Mutex<Position<E>>,
    wake: Notify,
}

struct Position<E: Event> {
    recipient: Option<Recipient<Record<E>>>,
    ack_timeout: Duration,
    max_in_flight: usize,
    /// The next offset to deliver for the first time.
    cursor: u64,
    /// Every offset below is acknowledged.
    acked_below: u64,
    /// Acknowledged offsets above `acked_below`.
    acked_above: BTreeSet<u64>,
    /// Delivered, unacknowledged: offset → (redelivery deadline, deliveries so far).
    in_flight: BTreeMap<u64, (Instant, u32)>,
    pumping: bool,
    delivered: u64,
    redelivered: u64,
    skipped: u64,
}

/// What a consumer's pump does next.
enum Step<E: Event> {
    Send(Recipient<Record<E>>, Record<E>),
    Wait(Option<Instant>),
    Stop,
}

impl<E: Event> DurableTopic<E> {
    /// Opens a durable topic; with a store, loads what it holds: the events (offsets kept)
    /// and the consumers' positions (detached until an actor attaches).
    pub(crate) fn open(
        name: Arc<str>,
        retention: Retention,
        system: Weak<Shared>,
        persist: Option<Persist<E>>,
    ) -> Result<Self, DurableError> {
        let mut log = Log {
            first: 0,
            entries: VecDeque::new(),
        };
        let mut positions = Vec::new();
        if let Some(persist) = &persist {
            let stored = persist.store.load(&name)?;
            let now = system
                .upgrade()
                .map_or(Instant::from_nanos(0), |system| system.rt().now());
            log.first = stored
                .events
                .first()
                .map_or(stored.next, |(offset, _)| *offset);
            for (offset, bytes) in &stored.events {
                if *offset != log.next() {
                    return Err(DurableError::Store(StoreError::new(format!(
                        "topic {name:?}: offset {offset} where {} was expected",
                        log.next()
                    ))));
                }
                // Ages count from the load: the clock of the process that wrote them is gone.
                log.entries.push_back((now, persist.codec.decode(bytes)?));
            }
            positions = stored.positions;
        }
        let state = Arc::new(State {
            name,
            retention,
            system,
            persist,
            log: Mutex::new(log),
            consumers: Mutex::new(BTreeMap::new()),
        });
        {
            let mut consumers = state.consumers.lock();
            for (consumer, position) in positions {
                let name: Arc<str> = consumer.into();
                let detached = Consumer::new(
                    name.clone(),
                    Arc::downgrade(&state),
                    Consume::new(),
                    position.acked_below,
                );
                detached.inner.lock().acked_above = position.acked_above.into_iter().collect();
                consumers.insert(name, Arc::new(detached));
            }
        }
        Ok(DurableTopic { state })
    }

    pub(crate) fn from_state(state: Arc<State<E>>) -> Self {
        DurableTopic { state }
    }

    pub(crate) fn state(&self) -> &Arc<State<E>> {
        &self.state
    }

    /// The topic's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.state.name
    }

    /// Appends `event` to the log and returns its offset. Never waits for consumers: they
    /// read the log at their own pace. With a store, returns once the event is stored.
    ///
    /// # Errors
    ///
    /// [`DurableError::Store`] if the store did not take the event; then it is not in the
    /// log either.
    pub fn publish(&self, event: E) -> Result<u64, DurableError> {
        let now = self.state.now();
        let offset = {
            let mut log = self.state.log.lock();
            let offset = log.next();
            if let Some(persist) = &self.state.persist {
                // Under the log lock, so that the store sees offsets in order.
                let bytes = persist.codec.encode(&event)?;
                persist.store.append(&self.state.name, offset, &bytes)?;
            }
            log.entries.push_back((now, event));
            let first = log.first;
            log.trim(self.state.retention, now);
            if log.first != first
                && let Some(persist) = &self.state.persist
                && let Err(error) = persist.store.trim(&self.state.name, log.first)
            {
                // Kept on disk a while longer: the next trim takes it.
                tracing::warn!(topic = %self.state.name, %error, "durable store trim failed");
            }
            offset
        };
        for consumer in self.state.consumers.lock().values() {
            consumer.wake.notify_one();
        }
        Ok(offset)
    }

    /// The offsets the log holds: the oldest kept, and the next to be written.
    #[must_use]
    pub fn offsets(&self) -> (u64, u64) {
        let log = self.state.log.lock();
        (log.first, log.next())
    }

    /// Attaches the actor `subscriber` to the consumer `name`, making the consumer if it is
    /// new (reading from `options`' start). An existing consumer resumes after its last
    /// acknowledged event: what it had delivered and not seen acknowledged is delivered
    /// again, so a consumer whose actor stopped, or that a new actor takes over, loses
    /// nothing.
    ///
    /// # Errors
    ///
    /// [`DurableError`]: an empty name, a zero `max_in_flight`, a subscriber that stopped, a
    /// consumer attached to another running actor.
    pub fn consume(
        &self,
        name: impl Into<Arc<str>>,
        subscriber: impl Into<Recipient<Record<E>>>,
        options: Consume,
    ) -> Result<(), DurableError> {
        let name: Arc<str> = name.into();
        let subscriber = subscriber.into();
        if name.is_empty() {
            return Err(DurableError::EmptyName);
        }
        if options.max_in_flight == 0 {
            return Err(DurableError::ZeroInFlight);
        }
        if !subscriber.is_alive() {
            return Err(DurableError::Stopped(subscriber.id()));
        }
        let consumer = {
            let mut consumers = self.state.consumers.lock();
            consumers
                .entry(name.clone())
                .or_insert_with(|| {
                    let log = self.state.log.lock();
                    let start = match options.start {
                        StartAt::Beginning => log.first,
                        StartAt::End => log.next(),
                        StartAt::Offset(offset) => offset.clamp(log.first, log.next()),
                    };
                    Arc::new(Consumer::new(
                        name.clone(),
                        Arc::downgrade(&self.state),
                        options,
                        start,
                    ))
                })
                .clone()
        };
        // Detached when the actor stops, so that the consumer holds nothing of it. (Before
        // the position lock: for an actor that has stopped, the hook runs at once.)
        let weak = Arc::downgrade(&consumer);
        let actor = subscriber.id();
        let stopped = subscriber.core().on_finish(Box::new(move || {
            if let Some(consumer) = weak.upgrade() {
                consumer.detach(actor);
            }
        }));
        if stopped {
            return Err(DurableError::Stopped(actor));
        }
        let start_pump = {
            let mut position = consumer.inner.lock();
            if let Some(current) = &position.recipient
                && current.is_alive()
                && current.id() != subscriber.id()
            {
                return Err(DurableError::ConsumerBusy {
                    name,
                    actor: current.id(),
                });
            }
            // Resume after the last acknowledged event.
            position.recipient = Some(subscriber);
            position.ack_timeout = options.ack_timeout;
            position.max_in_flight = options.max_in_flight;
            position.in_flight.clear();
            position.cursor = position.acked_below;
            !std::mem::replace(&mut position.pumping, true)
        };
        if start_pump {
            self.state.start_pump(consumer);
        } else {
            consumer.wake.notify_one();
        }
        Ok(())
    }

    /// Moves the consumer `name` to `offset` (or the oldest kept): events from there on are
    /// delivered again, a replay. Acknowledgements above it are forgotten.
    ///
    /// # Errors
    ///
    /// [`DurableError::NoConsumer`].
    pub fn seek(&self, name: &str, offset: u64) -> Result<(), DurableError> {
        let consumer = self
            .state
            .consumers
            .lock()
            .get(name)
            .cloned()
            .ok_or_else(|| DurableError::NoConsumer(name.into()))?;
        let (first, next) = self.offsets();
        let offset = offset.clamp(first, next);
        {
            let mut position = consumer.inner.lock();
            position.cursor = offset;
            position.acked_below = offset;
            position.acked_above.clear();
            position.in_flight.clear();
        }
        consumer.save();
        consumer.wake.notify_one();
        Ok(())
    }

    /// The consumer `name`'s position and counters.
    #[must_use]
    pub fn consumer_stats(&self, name: &str) -> Option<ConsumerStats> {
        let consumer = self.state.consumers.lock().get(name).cloned()?;
        let position = consumer.inner.lock();
        Some(ConsumerStats {
            acked_up_to: position.acked_below,
            next: position.cursor,
            in_flight: position.in_flight.len(),
            delivered: position.delivered,
            redelivered: position.redelivered,
            skipped: position.skipped,
            attached: position.recipient.as_ref().map(Recipient::id),
        })
    }
}

impl<E: Event> Clone for DurableTopic<E> {
    fn clone(&self) -> Self {
        DurableTopic {
            state: self.state.clone(),
        }
    }
}

impl<E: Event> fmt::Debug for DurableTopic<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (first, next) = self.offsets();
        f.debug_struct("DurableTopic")
            .field("name", &self.state.name)
            .field("first", &first)
            .field("next", &next)
            .field("consumers", &self.state.consumers.lock().len())
            .finish()
    }
}

impl<E: Event> State<E> {
    fn now(&self) -> Instant {
        self.system
            .upgrade()
            .map_or(Instant::from_nanos(0), |system| system.rt().now())
    }

    fn start_pump(&self, consumer: Arc<Consumer<E>>) {
        let Some(system) = self.system.upgrade() else {
            return;
        };
        let weak = self.system.clone();
        drop(system.rt().spawn(async move {
            loop {
                let now = weak.upgrade().map(|s| s.rt().now());
                let Some(now) = now else { return };
                match consumer.next_step(now) {
                    Step::Stop => return,
                    Step::Send(recipient, record) => {
                        if let Err(TellError::Closed(_)) = recipient.tell(record).await {
                            consumer.detach(recipient.id());
                        }
                    }
                    Step::Wait(deadline) => {
                        let sleep = match (deadline, weak.upgrade()) {
                            (Some(deadline), Some(system)) => {
                                Some(system.rt().sleep_until(deadline))
                            }
                            _ => None,
                        };
                        let mut woken = pin!(consumer.wake.notified());
                        let mut sleep = pin!(sleep);
                        // Woken by a publish, an ack, an attach; or due for a redelivery.
                        poll_fn(|cx| {
                            if woken.as_mut().poll(cx).is_ready() {
                                return Poll::Ready(());
                            }
                            match sleep.as_mut().as_pin_mut() {
                                Some(sleep) => sleep.poll(cx),
                                None => Poll::Pending,
                            }
                        })
                        .await;
                    }
                }
            }
        }));
    }
}

impl<E: Event> Consumer<E> {
    fn new(name: Arc<str>, topic: Weak<State<E>>, options: Consume, start: u64) -> Consumer<E> {
        Consumer {
            name,
            topic,
            inner: Mutex::new(Position {
                recipient: None,
                ack_timeout: options.ack_timeout,
                max_in_flight: options.max_in_flight,
                cursor: start,
                acked_below: start,
                acked_above: BTreeSet::new(),
                in_flight: BTreeMap::new(),
                pumping: false,
                delivered: 0,
                redelivered: 0,
                skipped: 0,
            }),
            wake: Notify::new(),
        }
    }

    /// Stores the acknowledged position, if the topic has a store. A failure is logged: the
    /// events since the last saved position would be delivered again after a restart, which
    /// at-least-once allows.
    fn save(&self) {
        let Some(topic) = self.topic.upgrade() else {
            return;
        };
        let Some(persist) = &topic.persist else {
            return;
        };
        let position = {
            let position = self.inner.lock();
            StoredPosition {
                acked_below: position.acked_below,
                acked_above: position.acked_above.iter().copied().collect(),
            }
        };
        if let Err(error) = persist
            .store
            .save_position(&topic.name, &self.name, &position)
        {
            tracing::warn!(topic = %topic.name, consumer = %self.name, %error, "saving a consumer position failed");
        }
    }

    /// Decides what the pump does next, and records a delivery before it is made (so that an
    /// acknowledgement arriving at once finds it).
    fn next_step(self: &Arc<Self>, now: Instant) -> Step<E> {
        let Some(topic) = self.topic.upgrade() else {
            return Step::Stop;
        };
        let mut position = self.inner.lock();
        let Some(recipient) = position.recipient.clone() else {
            position.pumping = false;
            return Step::Stop;
        };
        let log = topic.log.lock();
        // Events retention dropped: skip them.
        if position.cursor < log.first {
            let first = log.first;
            position.skipped += first - position.cursor;
            position.cursor = first;
            position.acked_below = position.acked_below.max(first);
            position.acked_above.retain(|offset| *offset >= first);
            position.in_flight.retain(|offset, _| *offset >= first);
        }
        let timeout = position.ack_timeout;
        // Due for redelivery first, the oldest first.
        while let Some((offset, count)) = position
            .in_flight
            .iter()
            .find(|(_, (deadline, _))| *deadline <= now)
            .map(|(offset, (_, count))| (*offset, *count))
        {
            let Some(event) = log.get(offset).cloned() else {
                // Dropped by retention meanwhile.
                position.in_flight.remove(&offset);
                continue;
            };
            position
                .in_flight
                .insert(offset, (now + timeout, count + 1));
            position.delivered += 1;
            position.redelivered += 1;
            return Step::Send(recipient, self.record(offset, event, count));
        }
        // Then the next new one, if the consumer may take more.
        while position.in_flight.len() < position.max_in_flight && position.cursor < log.next() {
            let offset = position.cursor;
            position.cursor += 1;
            if position.acked_above.contains(&offset) {
                continue;
            }
            let Some(event) = log.get(offset).cloned() else {
                continue;
            };
            position.in_flight.insert(offset, (now + timeout, 1));
            position.delivered += 1;
            return Step::Send(recipient, self.record(offset, event, 0));
        }
        Step::Wait(
            position
                .in_flight
                .values()
                .map(|(deadline, _)| *deadline)
                .min(),
        )
    }

    fn record(self: &Arc<Self>, offset: u64, event: E, redelivered: u32) -> Record<E> {
        Record {
            offset,
            event,
            redelivered,
            consumer: Arc::downgrade(self),
        }
    }

    fn ack(&self, offset: u64) {
        {
            let mut position = self.inner.lock();
            position.in_flight.remove(&offset);
            if offset < position.acked_below {
                return;
            }
            position.acked_above.insert(offset);
            loop {
                let below = position.acked_below;
                if !position.acked_above.remove(&below) {
                    break;
                }
                position.acked_below = below + 1;
            }
        }
        self.save();
        self.wake.notify_one();
    }

    /// The actor stopped: the consumer waits for another to attach, and its pump ends.
    fn detach(&self, actor: ActorId) {
        {
            let mut position = self.inner.lock();
            if position.recipient.as_ref().is_some_and(|r| r.id() == actor) {
                position.recipient = None;
                position.in_flight.clear();
                position.cursor = position.acked_below;
            }
        }
        self.wake.notify_one();
        tracing::debug!(consumer = %self.name, %actor, "durable consumer detached");
    }
}
