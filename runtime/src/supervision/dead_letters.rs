//! The dead-letter office: every message that was accepted but will not be handled.

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

use crate::actor::{ActorId, PanicMessage};
use crate::address::Recipient;
use crate::message::{Headers, Message};
use crate::pubsub::{Delivery, Subscribe, Topic};

/// Why a message became a dead letter.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeadLetterReason {
    /// It was in the mailbox when the actor stopped (killed, failed, or a timer fired as it
    /// stopped).
    ActorStopped,
    /// Its handler panicked.
    HandlerPanicked(PanicMessage),
    /// Its handler was running when the actor was killed.
    Interrupted,
    /// The actor's mailbox was full, and the sender's policy was to give up rather than
    /// wait (an event bus subscription with [`Delivery::DeadLetter`](crate::Delivery)).
    MailboxFull,
    /// The receiver deduplicates its type, and its id came before with other content: it
    /// was refused without running the handler (an asker got
    /// [`AskError::IdReused`](crate::AskError::IdReused)).
    IdReused,
}

impl fmt::Display for DeadLetterReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeadLetterReason::ActorStopped => f.write_str("actor stopped before handling it"),
            DeadLetterReason::HandlerPanicked(p) => write!(f, "handler panicked: {p}"),
            DeadLetterReason::Interrupted => f.write_str("handler interrupted by a kill"),
            DeadLetterReason::MailboxFull => f.write_str("mailbox full"),
            DeadLetterReason::IdReused => {
                f.write_str("message id used before for a different message")
            }
        }
    }
}

/// One message that will not be handled: who it was for, what it was, why.
///
/// The message itself is gone (an ask waiting on it has its error already); the record keeps
/// its type and headers, which is what an operator needs to trace it.
#[derive(Clone, Debug)]
pub struct DeadLetter {
    recipient: ActorId,
    message_type: &'static str,
    headers: Headers,
    reason: DeadLetterReason,
}

impl DeadLetter {
    pub(crate) fn new(
        recipient: ActorId,
        message_type: &'static str,
        headers: Headers,
        reason: DeadLetterReason,
    ) -> DeadLetter {
        DeadLetter {
            recipient,
            message_type,
            headers,
            reason,
        }
    }

    /// The actor the message was for.
    #[must_use]
    pub fn recipient(&self) -> ActorId {
        self.recipient
    }

    /// The message's type name.
    #[must_use]
    pub fn message_type(&self) -> &'static str {
        self.message_type
    }

    /// The message's headers.
    #[must_use]
    pub fn headers(&self) -> &Headers {
        &self.headers
    }

    /// Why it was not handled.
    #[must_use]
    pub fn reason(&self) -> &DeadLetterReason {
        &self.reason
    }
}

/// A dead letter is also a message: [subscribers](DeadLetters::subscribe) get each one.
impl Message for DeadLetter {
    type Reply = ();
}

/// The system's record of dead letters: counters per reason, the most recent letters in a
/// bounded ring, and subscribers that get each letter as it is recorded.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// # use snowglobe_runtime::{Actor, Context, DynMessage, Handler, Message, System};
/// # struct Slow;
/// # impl Actor for Slow { type Msg = DynMessage<Self>; }
/// # struct Job;
/// # impl Message for Job { type Reply = (); }
/// # impl Handler<Job> for Slow { async fn handle(&mut self, _: Job, _: &mut Context<Self>) {} }
/// let system = System::new();
/// let slow = system.spawn(Slow).unwrap();
/// slow.try_tell(Job).unwrap();
/// slow.try_tell(Job).unwrap();
/// slow.kill(); // the queued jobs are not handled
/// slow.stopped().await;
///
/// let dead = system.dead_letters();
/// assert_eq!(dead.count(), 2);
/// assert!(dead.recent().iter().all(|d| d.recipient() == slow.id()));
/// # }
/// ```
pub struct DeadLetters {
    recent: Mutex<VecDeque<DeadLetter>>,
    capacity: usize,
    actor_stopped: AtomicU64,
    panicked: AtomicU64,
    interrupted: AtomicU64,
    mailbox_full: AtomicU64,
    id_reused: AtomicU64,
    /// Subscribers get each letter as an event on the system's bus.
    topic: Topic<DeadLetter>,
    /// Letters a subscriber did not get because its mailbox was full.
    missed: AtomicU64,
}

impl DeadLetters {
    pub(crate) fn new(capacity: usize, topic: Topic<DeadLetter>) -> DeadLetters {
        DeadLetters {
            recent: Mutex::new(VecDeque::new()),
            capacity,
            actor_stopped: AtomicU64::new(0),
            panicked: AtomicU64::new(0),
            interrupted: AtomicU64::new(0),
            mailbox_full: AtomicU64::new(0),
            id_reused: AtomicU64::new(0),
            topic,
            missed: AtomicU64::new(0),
        }
    }

    /// Sends every dead letter recorded from now on to `subscriber`, until it stops or
    /// [unsubscribes](DeadLetters::unsubscribe). Subscribing twice sends each letter once.
    ///
    /// Dead letters are events on the system's bus ([`System::events`](crate::System::events)),
    /// and this is a subscription to them with [`Delivery::DropNewest`]: recording a dead
    /// letter never waits, and a letter that finds the subscriber's mailbox full is not sent
    /// to it and is counted in [`missed`](DeadLetters::missed) (it is still counted and kept
    /// in the ring). For another policy or a filter, subscribe to the topic
    /// `system.events().topic::<DeadLetter>()` directly. A letter for a `DeadLetter` message
    /// (a subscriber that failed to handle one) is not published, so a failing subscriber
    /// cannot feed itself.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use snowglobe_runtime::{Actor, Context, DeadLetter, DynMessage, Handler, Message, System};
    ///
    /// #[derive(Default)]
    /// struct Office { seen: Vec<String> }
    /// impl Actor for Office { type Msg = DynMessage<Self>; }
    /// impl Handler<DeadLetter> for Office {
    ///     async fn handle(&mut self, letter: DeadLetter, _: &mut Context<Self>) {
    ///         self.seen.push(letter.reason().to_string());
    ///     }
    /// }
    /// struct Seen;
    /// impl Message for Seen { type Reply = Vec<String>; }
    /// impl Handler<Seen> for Office {
    ///     async fn handle(&mut self, _: Seen, _: &mut Context<Self>) -> Vec<String> {
    ///         self.seen.clone()
    ///     }
    /// }
    ///
    /// struct Fragile;
    /// impl Actor for Fragile { type Msg = DynMessage<Self>; }
    /// struct Boom;
    /// impl Message for Boom { type Reply = (); }
    /// impl Handler<Boom> for Fragile {
    ///     async fn handle(&mut self, _: Boom, _: &mut Context<Self>) { panic!("boom") }
    /// }
    ///
    /// let system = System::new();
    /// let office = system.spawn(Office::default()).unwrap();
    /// system.dead_letters().subscribe(office.recipient());
    /// let fragile = system.spawn(Fragile).unwrap();
    /// let _ = fragile.ask(Boom).await;
    /// assert_eq!(office.ask(Seen).await.unwrap(), ["handler panicked: boom"]);
    /// # system.shutdown().await;
    /// # }
    /// ```
    pub fn subscribe(&self, subscriber: Recipient<DeadLetter>) {
        if self.topic.has_subscriber(subscriber.id()) {
            return;
        }
        let drop_when_full = Subscribe::new().delivery(Delivery::DropNewest);
        // A stopped subscriber has nothing to subscribe, and nothing to be told.
        let _ = self.topic.subscribe_with(subscriber, drop_when_full);
    }

    /// Stops sending dead letters to the actor `subscriber`.
    pub fn unsubscribe(&self, subscriber: ActorId) {
        self.topic.remove_subscriber(subscriber);
    }

    /// Letters a subscriber missed because its mailbox was full, since the system started.
    #[must_use]
    pub fn missed(&self) -> u64 {
        self.missed.load(Ordering::Relaxed)
    }

    pub(crate) fn record(&self, letter: DeadLetter) {
        let counter = match letter.reason {
            DeadLetterReason::ActorStopped => &self.actor_stopped,
            DeadLetterReason::HandlerPanicked(_) => &self.panicked,
            DeadLetterReason::Interrupted => &self.interrupted,
            DeadLetterReason::MailboxFull => &self.mailbox_full,
            DeadLetterReason::IdReused => &self.id_reused,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(
            recipient = %letter.recipient,
            message = letter.message_type,
            id = %letter.headers.id(),
            reason = %letter.reason,
            "dead letter"
        );
        // A letter about a dead letter (a subscriber that failed on one, or stopped with
        // one queued) is not sent on: a failing subscriber must not feed itself.
        if self.topic.has_subscribers()
            && letter.message_type != std::any::type_name::<DeadLetter>()
        {
            let published = self.topic.try_publish(letter.clone());
            if published.dropped > 0 {
                self.missed
                    .fetch_add(published.dropped as u64, Ordering::Relaxed);
                tracing::warn!(
                    missed = published.dropped,
                    "a dead-letter subscriber's mailbox is full; letter not sent"
                );
            }
        }
        if self.capacity == 0 {
            return;
        }
        let mut recent = self.recent.lock();
        if recent.len() == self.capacity {
            recent.pop_front();
        }
        recent.push_back(letter);
    }

    /// All dead letters since the system started.
    #[must_use]
    pub fn count(&self) -> u64 {
        self.actor_stopped.load(Ordering::Relaxed)
            + self.panicked.load(Ordering::Relaxed)
            + self.interrupted.load(Ordering::Relaxed)
            + self.mailbox_full.load(Ordering::Relaxed)
            + self.id_reused.load(Ordering::Relaxed)
    }

    /// Dead letters with a reason of this kind (the reason's payload is ignored).
    #[must_use]
    pub fn count_of(&self, reason: &DeadLetterReason) -> u64 {
        match reason {
            DeadLetterReason::ActorStopped => &self.actor_stopped,
            DeadLetterReason::HandlerPanicked(_) => &self.panicked,
            DeadLetterReason::Interrupted => &self.interrupted,
            DeadLetterReason::MailboxFull => &self.mailbox_full,
            DeadLetterReason::IdReused => &self.id_reused,
        }
        .load(Ordering::Relaxed)
    }

    /// The most recent dead letters, oldest first (at most the configured capacity).
    #[must_use]
    pub fn recent(&self) -> Vec<DeadLetter> {
        self.recent.lock().iter().cloned().collect()
    }
}

impl fmt::Debug for DeadLetters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeadLetters")
            .field("count", &self.count())
            .field("capacity", &self.capacity)
            .field("subscribers", &self.topic.subscriptions())
            .finish_non_exhaustive()
    }
}
