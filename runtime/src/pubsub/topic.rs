//! One typed topic: its subscriptions, and the delivery of each event to them.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};

use parking_lot::Mutex;
use tokio::sync::oneshot;

use super::name::{Pattern, TopicName};
use super::{Delivery, Event, Filter, Published, Subscribe, SubscribeError, SubscriptionId};
use crate::actor::ActorId;
use crate::address::{Recipient, TellError};
use crate::message::Headers;
use crate::supervision::{DeadLetter, DeadLetterReason};
use crate::system::Shared;

/// The events of one type: who subscribed, with which pattern, filter and policy.
///
/// Publishing takes a snapshot of the subscriptions (one lock, one reference count) and
/// delivers outside the lock, so a publisher waiting for a slow subscriber never blocks a
/// subscribe, an unsubscribe or another publisher.
pub(crate) struct TopicState<E: Event> {
    subs: Mutex<Arc<[Arc<Sub<E>>]>>,
    /// How many subscriptions there are, read without the lock by publishers that have
    /// nothing to do without subscribers (the runtime's own events).
    count: AtomicUsize,
    /// The system, for dead letters and the pump tasks; weak because the system owns the bus.
    system: Weak<Shared>,
    pub(crate) published: AtomicU64,
}

/// One subscription.
///
/// What a publish reads and writes on the fast path comes first, in one cache line of its
/// own: a fan-out that streams events into many mailboxes evicts everything else between two
/// publishes, and each line more per subscription is one more miss per delivery.
#[repr(C, align(64))]
pub(crate) struct Sub<E: Event> {
    recipient: Recipient<E>,
    delivered: AtomicU64,
    /// Set once the subscriber is known to have stopped.
    closed: AtomicBool,
    /// `backlog.pumping`, readable without the lock: while it is clear, a publisher offers
    /// straight to the mailbox and takes the lock only when the mailbox is full.
    pumping: AtomicBool,
    /// No pattern and no filter: every event of the type is wanted.
    takes_all: bool,
    pub(crate) id: u64,
    pattern: Option<Pattern>,
    filter: Option<Filter<E>>,
    delivery: Delivery,
    dropped: AtomicU64,
    /// Events waiting for room in the subscriber's mailbox, in order; empty unless the
    /// subscriber is backed up.
    backlog: Mutex<Backlog<E>>,
}

struct Backlog<E> {
    queue: VecDeque<Waiting<E>>,
    /// A pump task is moving the queue into the mailbox: new events go behind it.
    pumping: bool,
}

struct Waiting<E> {
    event: E,
    /// A publisher waiting until its event is in the mailbox (backpressure).
    done: Option<oneshot::Sender<bool>>,
}

/// What became of one event for one subscription.
enum Outcome {
    Delivered,
    /// Waiting in the subscription; `evicted`: an older waiting event was dropped for it.
    Queued {
        evicted: bool,
    },
    Dropped,
    /// The subscriber has stopped: a dead letter, and the subscription ends.
    Gone,
}

impl<E: Event> TopicState<E> {
    pub(crate) fn new(system: Weak<Shared>) -> TopicState<E> {
        TopicState {
            subs: Mutex::new(Arc::from(Vec::new())),
            count: AtomicUsize::new(0),
            system,
            published: AtomicU64::new(0),
        }
    }

    pub(crate) fn subscribe(
        self: &Arc<Self>,
        id: u64,
        recipient: Recipient<E>,
        options: Subscribe<E>,
    ) -> Result<(), SubscribeError> {
        if let Delivery::DropOldest { buffer: 0 } = options.delivery {
            return Err(SubscribeError::ZeroBuffer);
        }
        let subscriber = recipient.id();
        let sub = Arc::new(Sub {
            takes_all: options.pattern.is_none() && options.filter.is_none(),
            id,
            recipient,
            pattern: options.pattern,
            filter: options.filter,
            delivery: options.delivery,
            delivered: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            closed: AtomicBool::new(false),
            pumping: AtomicBool::new(false),
            backlog: Mutex::new(Backlog {
                queue: VecDeque::new(),
                pumping: false,
            }),
        });
        {
            let mut subs = self.subs.lock();
            let mut next = subs.to_vec();
            next.push(sub.clone());
            self.count.store(next.len(), Ordering::Release);
            *subs = next.into();
        }
        // The subscription ends with the subscriber. (If it has stopped already, the hook
        // runs at once and the subscription is gone again.)
        let topic = Arc::downgrade(self);
        let stopped = sub.recipient.core().on_finish(Box::new(move || {
            if let Some(topic) = topic.upgrade() {
                topic.remove(id);
            }
        }));
        if stopped {
            return Err(SubscribeError::SubscriberStopped(subscriber));
        }
        Ok(())
    }

    /// Removes a subscription; `false` if there was none with this id.
    pub(crate) fn remove(&self, id: u64) -> bool {
        let mut subs = self.subs.lock();
        let Some(position) = subs.iter().position(|s| s.id == id) else {
            return false;
        };
        subs[position].closed.store(true, Ordering::Release);
        let mut next = subs.to_vec();
        next.remove(position);
        self.count.store(next.len(), Ordering::Release);
        *subs = next.into();
        true
    }

    /// Removes every subscription of the actor `subscriber`.
    pub(crate) fn remove_subscriber(&self, subscriber: ActorId) {
        let ids: Vec<u64> = self
            .subs
            .lock()
            .iter()
            .filter(|s| s.recipient.id() == subscriber)
            .map(|s| s.id)
            .collect();
        for id in ids {
            self.remove(id);
        }
    }

    pub(crate) fn has_subscriber(&self, subscriber: ActorId) -> bool {
        self.subs
            .lock()
            .iter()
            .any(|s| s.recipient.id() == subscriber)
    }

    pub(crate) fn has_subscribers(&self) -> bool {
        self.count.load(Ordering::Acquire) > 0
    }

    pub(crate) fn stats(&self, id: u64) -> Option<super::SubscriptionStats> {
        let subs = self.subs.lock().clone();
        let sub = subs.iter().find(|s| s.id == id)?;
        Some(super::SubscriptionStats {
            subscriber: sub.recipient.id(),
            delivered: sub.delivered.load(Ordering::Relaxed),
            dropped: sub.dropped.load(Ordering::Relaxed),
            waiting: sub.backlog.lock().queue.len(),
        })
    }

    pub(crate) fn subscription_count(&self) -> usize {
        self.subs.lock().len()
    }

    /// Offers `event` to every matching subscription, in subscription order, without
    /// waiting. With `wait`, a backpressure subscription whose mailbox is full queues the
    /// event with a receiver the publisher awaits (returned); without, it only queues it.
    pub(crate) fn offer_all(
        &self,
        name: Option<&TopicName>,
        event: E,
        wait: bool,
    ) -> (Published, Vec<oneshot::Receiver<bool>>) {
        self.published.fetch_add(1, Ordering::Relaxed);
        let subs = self.subs.lock().clone();
        let mut report = Published::default();
        let mut waits = Vec::new();
        let Some(last) = subs.iter().rposition(|s| s.wants(name, &event)) else {
            return (report, waits);
        };
        // One set of headers per event, copied into every delivery: one id, one sender, one
        // trace context for the event wherever it goes.
        let headers = Headers::new();
        let mut event = Some(event);
        for (index, sub) in subs.iter().enumerate().take(last + 1) {
            let copy = if index == last {
                event.take()
            } else if event.as_ref().is_some_and(|e| sub.wants(name, e)) {
                event.clone()
            } else {
                None
            };
            let Some(copy) = copy else {
                continue;
            };
            match self.offer(sub, headers, copy, wait) {
                Ok(Outcome::Delivered) => report.delivered += 1,
                Ok(Outcome::Queued { evicted }) => {
                    report.queued += 1;
                    report.dropped += usize::from(evicted);
                }
                Ok(Outcome::Dropped) => report.dropped += 1,
                Ok(Outcome::Gone) => report.gone += 1,
                Err(waiting) => waits.push(waiting),
            }
        }
        (report, waits)
    }

    /// Offers one event to one subscription. `Err`: the publisher waits on this for room.
    ///
    /// Order: while a pump moves a backlog into the mailbox (`pumping`), new events queue
    /// behind it under the backlog lock. The pump clears `pumping` only once the backlog is
    /// empty and in the mailbox, so an event offered straight to the mailbox after that
    /// follows every earlier event of its publisher.
    fn offer(
        &self,
        sub: &Arc<Sub<E>>,
        headers: Headers,
        event: E,
        wait: bool,
    ) -> Result<Outcome, oneshot::Receiver<bool>> {
        if sub.closed.load(Ordering::Acquire) {
            self.dead_letter(sub.recipient.id(), DeadLetterReason::ActorStopped);
            return Ok(Outcome::Gone);
        }
        if !sub.pumping.load(Ordering::Acquire) {
            // The fast path: no backlog, no lock.
            return match sub.recipient.try_tell_with(headers, event) {
                Ok(()) => {
                    sub.delivered.fetch_add(1, Ordering::Relaxed);
                    Ok(Outcome::Delivered)
                }
                Err(TellError::Closed(_)) => Ok(self.gone(sub)),
                Err(TellError::Full(event)) => {
                    let mut backlog = sub.backlog.lock();
                    self.enqueue(sub, &mut backlog, event, wait)
                }
            };
        }
        let mut backlog = sub.backlog.lock();
        if backlog.pumping {
            // Backed up: behind the events already waiting, to keep their order.
            return self.enqueue(sub, &mut backlog, event, wait);
        }
        // The pump finished meanwhile. Under the backlog lock, so that no pump starts between
        // this and a push.
        match sub.recipient.try_tell_with(headers, event) {
            Ok(()) => {
                sub.delivered.fetch_add(1, Ordering::Relaxed);
                Ok(Outcome::Delivered)
            }
            Err(TellError::Closed(_)) => {
                drop(backlog);
                Ok(self.gone(sub))
            }
            Err(TellError::Full(event)) => self.enqueue(sub, &mut backlog, event, wait),
        }
    }

    /// Applies the subscription's policy to an event that cannot go into the mailbox now.
    /// `Err` holds what a waiting publisher awaits.
    fn enqueue(
        &self,
        sub: &Arc<Sub<E>>,
        backlog: &mut Backlog<E>,
        event: E,
        wait: bool,
    ) -> Result<Outcome, oneshot::Receiver<bool>> {
        let mut evicted = false;
        match sub.delivery {
            Delivery::DropNewest => {
                sub.dropped.fetch_add(1, Ordering::Relaxed);
                return Ok(Outcome::Dropped);
            }
            Delivery::DeadLetter => {
                sub.dropped.fetch_add(1, Ordering::Relaxed);
                self.dead_letter(sub.recipient.id(), DeadLetterReason::MailboxFull);
                return Ok(Outcome::Dropped);
            }
            Delivery::DropOldest { buffer } => {
                if backlog.queue.len() >= buffer {
                    backlog.queue.pop_front();
                    sub.dropped.fetch_add(1, Ordering::Relaxed);
                    evicted = true;
                }
            }
            Delivery::Backpressure => {}
        }
        let (done, waiting) = if wait && sub.delivery == Delivery::Backpressure {
            let (done, waiting) = oneshot::channel();
            (Some(done), Some(waiting))
        } else {
            (None, None)
        };
        backlog.queue.push_back(Waiting { event, done });
        if !backlog.pumping {
            backlog.pumping = true;
            sub.pumping.store(true, Ordering::Release);
            self.start_pump(sub.clone());
        }
        match waiting {
            Some(waiting) => Err(waiting),
            None => Ok(Outcome::Queued { evicted }),
        }
    }

    /// Moves a subscription's backlog into its mailbox, waiting for room, in order.
    fn start_pump(&self, sub: Arc<Sub<E>>) {
        let Some(system) = self.system.upgrade() else {
            return;
        };
        let weak = self.system.clone();
        drop(system.rt().spawn(async move {
            loop {
                let next = {
                    let mut backlog = sub.backlog.lock();
                    match backlog.queue.pop_front() {
                        Some(next) => next,
                        None => {
                            backlog.pumping = false;
                            sub.pumping.store(false, Ordering::Release);
                            return;
                        }
                    }
                };
                match sub.recipient.tell(next.event).await {
                    Ok(()) => {
                        sub.delivered.fetch_add(1, Ordering::Relaxed);
                        if let Some(done) = next.done {
                            let _ = done.send(true);
                        }
                    }
                    Err(_) => {
                        // The subscriber stopped: what waited is dead letters.
                        sub.closed.store(true, Ordering::Release);
                        let rest = {
                            let mut backlog = sub.backlog.lock();
                            backlog.pumping = false;
                            sub.pumping.store(false, Ordering::Release);
                            std::mem::take(&mut backlog.queue)
                        };
                        if let Some(system) = weak.upgrade() {
                            for _ in 0..=rest.len() {
                                record::<E>(
                                    &system,
                                    sub.recipient.id(),
                                    DeadLetterReason::ActorStopped,
                                );
                            }
                        }
                        // Waiting publishers learn it from their dropped senders.
                        drop(rest);
                        return;
                    }
                }
            }
        }));
    }

    fn gone(&self, sub: &Arc<Sub<E>>) -> Outcome {
        sub.closed.store(true, Ordering::Release);
        self.remove(sub.id);
        self.dead_letter(sub.recipient.id(), DeadLetterReason::ActorStopped);
        Outcome::Gone
    }

    fn dead_letter(&self, recipient: ActorId, reason: DeadLetterReason) {
        if let Some(system) = self.system.upgrade() {
            record::<E>(&system, recipient, reason);
        }
    }
}

fn record<E>(system: &Shared, recipient: ActorId, reason: DeadLetterReason) {
    system.dead_letters.record(DeadLetter::new(
        recipient,
        std::any::type_name::<E>(),
        Headers::new(),
        reason,
    ));
}

impl<E: Event> Sub<E> {
    #[inline]
    fn wants(&self, name: Option<&TopicName>, event: &E) -> bool {
        if self.takes_all {
            return true;
        }
        let topic_matches = match (&self.pattern, name) {
            (None, _) => true,
            (Some(pattern), Some(name)) => pattern.matches(name),
            (Some(_), None) => false,
        };
        topic_matches && self.filter.as_ref().is_none_or(|filter| filter(event))
    }
}

impl SubscriptionId {
    pub(crate) fn raw(self) -> u64 {
        self.id
    }
}
