//! The simulated network between nodes: what a link does to a message (latency, loss,
//! duplication, reordering, partitions), and the journey of a message and its reply.
//!
//! A send between two nodes never touches the receiver's mailbox at once. The network decides
//! the message's fate with its own seeded generator, and a delivery task carries it: it waits
//! on virtual time until the arrival, checks the link and the nodes again, and pushes the
//! message into the mailbox. An ask's reply comes back the same way, through its own fate on
//! the reverse link. A message the network loses is gone, but the asker's reply slot is kept
//! unanswered until the run ends: like a real caller, the asker learns nothing and times out.

use std::any::Any;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, VecDeque};
use std::fmt;
use std::future::{Future, poll_fn};
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll, Waker};
use std::time::Duration;

use parking_lot::Mutex;

use super::clock::SimSleep;
use super::executor::{NodeClock, NodeStatus, SimRt};
use super::trace::{Note, TraceEvent, TraceKind};
use crate::address::sealed::Sealed;
use crate::message::{Failure, Headers, Message, ReplyReceiver, ReplyTo, dropping_with};
use crate::supervision::DeadLetterReason;
use crate::system::{Instant, duration_nanos};

/// How long a message takes on a link.
///
/// ```
/// use std::time::Duration;
/// use snowglobe_runtime::sim::Latency;
///
/// let lan = Latency::fixed(Duration::from_micros(200));
/// let wan = Latency::uniform(Duration::from_millis(1), Duration::from_millis(50));
/// let tail = Latency::exponential(Duration::from_millis(2), Duration::from_millis(10));
/// assert_ne!(lan, wan);
/// # let _ = tail;
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum Latency {
    /// Always the same.
    Fixed(Duration),
    /// Uniform between `min` and `max`, both included.
    Uniform {
        /// The shortest.
        min: Duration,
        /// The longest.
        max: Duration,
    },
    /// `min` plus an exponential tail, so that the mean is `mean`: mostly quick, now and then
    /// slow, as real networks are.
    Exponential {
        /// The shortest.
        min: Duration,
        /// The mean (at least `min`).
        mean: Duration,
    },
}

impl Latency {
    /// Always `delay`.
    #[must_use]
    pub const fn fixed(delay: Duration) -> Latency {
        Latency::Fixed(delay)
    }

    /// Uniform between `min` and `max` (swapped if given the wrong way round).
    #[must_use]
    pub fn uniform(min: Duration, max: Duration) -> Latency {
        Latency::Uniform {
            min: min.min(max),
            max: min.max(max),
        }
    }

    /// At least `min`, `mean` on average, with an exponential tail. A `mean` below `min` is
    /// taken as `min`.
    #[must_use]
    pub fn exponential(min: Duration, mean: Duration) -> Latency {
        Latency::Exponential {
            min,
            mean: mean.max(min),
        }
    }

    /// A delay in nanoseconds, drawn with `rng`.
    fn sample(self, rng: &mut u64) -> u64 {
        match self {
            Latency::Fixed(d) => duration_nanos(d),
            Latency::Uniform { min, max } => {
                let (lo, hi) = (duration_nanos(min), duration_nanos(max));
                match (hi - lo).checked_add(1) {
                    Some(span) => lo + splitmix(rng) % span,
                    None => splitmix(rng),
                }
            }
            Latency::Exponential { min, mean } => {
                let lo = duration_nanos(min);
                let extra = duration_nanos(mean) - lo;
                // -ln(u) for u in (0, 1]: an exponential with mean 1.
                let u = unit(rng).max(f64::MIN_POSITIVE);
                // A tail this long ends far inside `u64`: `-ln(MIN_POSITIVE)` is about 708.
                #[allow(
                    clippy::cast_possible_truncation,
                    clippy::cast_sign_loss,
                    clippy::cast_precision_loss
                )]
                let tail = (-u.ln() * extra as f64) as u64;
                lo.saturating_add(tail)
            }
        }
    }
}

/// What a directed link between two nodes does to messages. The default: 1 ms, nothing lost,
/// duplicated or reordered.
///
/// ```
/// use std::time::Duration;
/// use snowglobe_runtime::sim::{Latency, Link};
///
/// let flaky = Link::new()
///     .latency(Latency::uniform(Duration::from_millis(1), Duration::from_millis(50)))
///     .loss(0.01)
///     .duplicate(0.001)
///     .reorder(0.05);
/// assert_eq!(flaky.loss_rate(), 0.01);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Link {
    latency: Latency,
    loss: f64,
    duplicate: f64,
    reorder: f64,
}

impl Default for Link {
    fn default() -> Link {
        Link::new()
    }
}

impl Link {
    /// 1 ms, nothing lost, duplicated or reordered.
    #[must_use]
    pub const fn new() -> Link {
        Link {
            latency: Latency::Fixed(Duration::from_millis(1)),
            loss: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
        }
    }

    /// How long messages take.
    #[must_use]
    pub const fn latency(mut self, latency: Latency) -> Link {
        self.latency = latency;
        self
    }

    /// The share of messages lost, from 0 to 1 (clamped; not a number counts as 0).
    #[must_use]
    pub fn loss(mut self, rate: f64) -> Link {
        self.loss = probability(rate);
        self
    }

    /// The share of messages delivered twice, from 0 to 1. Only messages that can be copied
    /// are ([`Message::duplicate`](crate::Message::duplicate)); the copy of an ask is
    /// handled, and its reply goes nowhere.
    #[must_use]
    pub fn duplicate(mut self, rate: f64) -> Link {
        self.duplicate = probability(rate);
        self
    }

    /// The share of messages that may overtake those sent before them on this link. The
    /// others keep their order: without reordering a link is FIFO, as a TCP connection is.
    #[must_use]
    pub fn reorder(mut self, rate: f64) -> Link {
        self.reorder = probability(rate);
        self
    }

    /// The latency distribution.
    #[must_use]
    pub fn latency_model(&self) -> Latency {
        self.latency
    }

    /// The loss rate.
    #[must_use]
    pub fn loss_rate(&self) -> f64 {
        self.loss
    }

    /// The duplication rate.
    #[must_use]
    pub fn duplicate_rate(&self) -> f64 {
        self.duplicate
    }

    /// The reordering rate.
    #[must_use]
    pub fn reorder_rate(&self) -> f64 {
        self.reorder
    }
}

fn probability(rate: f64) -> f64 {
    if rate.is_nan() {
        0.0
    } else {
        rate.clamp(0.0, 1.0)
    }
}

/// What the network did so far in a run.
///
/// ```
/// use snowglobe_runtime::sim::NetStats;
///
/// assert_eq!(NetStats::default().sent, 0);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct NetStats {
    /// Messages and replies put on a link between two nodes, copies included.
    pub sent: u64,
    /// Of those, delivered to a mailbox or to the asker.
    pub delivered: u64,
    /// Lost: the link's loss rate, a partition, a node down, a stopped receiver.
    pub dropped: u64,
    /// Extra copies the network made (counted in `sent` too). Once nothing is on its way,
    /// `sent == delivered + dropped`.
    pub duplicated: u64,
}

/// The network's state, shared by every node of a simulation.
pub(crate) struct Net {
    rng: u64,
    default: Link,
    links: BTreeMap<(u32, u32), Link>,
    /// Directed links a partition cut.
    cut: BTreeSet<(u32, u32)>,
    /// Per link, the latest arrival so far: a message that does not reorder arrives after it.
    last: BTreeMap<(u32, u32), u64>,
    /// Per node, how many times it crashed: a message to an earlier life is not delivered.
    incarnation: Vec<u32>,
    /// Reply slots of lost messages, kept unanswered so that their askers time out.
    limbo: Vec<Box<dyn Any + Send>>,
    /// Per directed link, the messages on their way.
    queues: BTreeMap<(u32, u32), Arc<LinkQueue>>,
    stats: NetStats,
}

impl Net {
    pub(crate) fn new(seed: u64) -> Net {
        Net {
            // Its own stream: a fault changes no task's schedule draw, and the reverse.
            rng: seed ^ 0x006e_6574_u64.rotate_left(40),
            default: Link::new(),
            links: BTreeMap::new(),
            cut: BTreeSet::new(),
            last: BTreeMap::new(),
            incarnation: vec![0, 0],
            limbo: Vec::new(),
            queues: BTreeMap::new(),
            stats: NetStats::default(),
        }
    }

    pub(super) fn add_node(&mut self) {
        self.incarnation.push(0);
    }

    pub(super) fn set_default(&mut self, link: Link) {
        self.default = link;
    }

    pub(super) fn set_link(&mut self, from: u32, to: u32, link: Link) {
        self.links.insert((from, to), link);
    }

    pub(super) fn link(&self, from: u32, to: u32) -> Link {
        self.links.get(&(from, to)).copied().unwrap_or(self.default)
    }

    /// Cuts `from` → `to`; `true` if it was not cut.
    pub(super) fn cut(&mut self, from: u32, to: u32) -> bool {
        self.cut.insert((from, to))
    }

    /// Heals every cut link, returning them.
    pub(super) fn heal_all(&mut self) -> Vec<(u32, u32)> {
        std::mem::take(&mut self.cut).into_iter().collect()
    }

    /// Heals `from` → `to`; `true` if it was cut.
    pub(super) fn heal(&mut self, from: u32, to: u32) -> bool {
        self.cut.remove(&(from, to))
    }

    pub(super) fn is_cut(&self, from: u32, to: u32) -> bool {
        self.cut.contains(&(from, to))
    }

    pub(super) fn crashed(&mut self, node: u32) {
        self.incarnation[node as usize] += 1;
    }

    fn incarnation(&self, node: u32) -> u32 {
        self.incarnation[node as usize]
    }

    pub(super) fn stats(&self) -> NetStats {
        self.stats
    }

    /// What the network still holds at the end of a run (kept reply slots, messages on
    /// their way), to be dropped outside the lock: it holds addresses, and through them the
    /// systems and the executor.
    pub(super) fn take_leftovers(&mut self) -> Box<dyn Any + Send> {
        Box::new((
            std::mem::take(&mut self.limbo),
            std::mem::take(&mut self.queues),
        ))
    }

    /// Decides a message's fate as it leaves `from` for `to` at `now`.
    fn route(&mut self, from: u32, to: u32, now: u64, down: bool) -> Fate {
        self.stats.sent += 1;
        if down {
            self.stats.dropped += 1;
            return Fate::Dropped(Note::NodeDown);
        }
        if self.is_cut(from, to) {
            self.stats.dropped += 1;
            return Fate::Dropped(Note::Partitioned);
        }
        let link = self.link(from, to);
        if link.loss > 0.0 && unit(&mut self.rng) < link.loss {
            self.stats.dropped += 1;
            return Fate::Dropped(Note::Lost);
        }
        let mut at = now.saturating_add(link.latency.sample(&mut self.rng));
        let overtakes = link.reorder > 0.0 && unit(&mut self.rng) < link.reorder;
        let last = self.last.entry((from, to)).or_insert(0);
        if !overtakes {
            // One nanosecond apart at least: arrivals at the same instant would be woken in
            // an order the schedule picks.
            at = at.max(last.saturating_add(1));
        }
        *last = (*last).max(at);
        let copy = if link.duplicate > 0.0 && unit(&mut self.rng) < link.duplicate {
            // The copy is one more message on the link: in order unless it draws a
            // reordering of its own.
            let mut copy_at = now.saturating_add(link.latency.sample(&mut self.rng));
            let overtakes = link.reorder > 0.0 && unit(&mut self.rng) < link.reorder;
            let last = self.last.entry((from, to)).or_insert(0);
            if !overtakes {
                copy_at = copy_at.max(last.saturating_add(1));
            }
            *last = (*last).max(copy_at);
            self.stats.sent += 1;
            Some(copy_at)
        } else {
            None
        };
        Fate::Delivered {
            at,
            copy,
            incarnation: self.incarnation(to),
        }
    }
}

/// What happens to one message on a link.
enum Fate {
    Dropped(Note),
    Delivered {
        /// Arrival, in simulation nanoseconds.
        at: u64,
        /// A second copy's arrival, if the network duplicates it.
        copy: Option<u64>,
        /// The receiving node's life the message is for.
        incarnation: u32,
    },
}

/// A send from one node to another, as found by [`route_send`](super::route_send).
pub(crate) struct Crossing {
    pub(super) rt: SimRt,
    pub(super) from: u32,
    pub(super) to: u32,
}

/// A message's identity in the trace.
#[derive(Clone, Copy)]
struct Tag {
    id: u64,
    actor: u64,
    label: &'static str,
}

impl SimRt {
    /// Decides the fate of a message leaving `from` for `to` now.
    fn route(&self, from: u32, to: u32) -> Fate {
        let now = self.true_now().as_nanos();
        let down = self.node_status(from) == NodeStatus::Crashed
            || self.node_status(to) == NodeStatus::Crashed;
        self.core.net.lock().route(from, to, now, down)
    }

    /// Whether a message for life `incarnation` of `to` may arrive now: the node is up (or
    /// paused) in that life, and the link is not cut.
    fn arrival(&self, from: u32, to: u32, incarnation: u32) -> Result<(), Note> {
        self.still_alive(to, incarnation)?;
        if self.core.net.lock().is_cut(from, to) {
            return Err(Note::Partitioned);
        }
        Ok(())
    }

    /// Whether node `to` is up (or paused) in life `incarnation`.
    fn still_alive(&self, to: u32, incarnation: u32) -> Result<(), Note> {
        if self.node_status(to) == NodeStatus::Crashed
            || self.core.net.lock().incarnation(to) != incarnation
        {
            return Err(Note::NodeDown);
        }
        Ok(())
    }

    fn count(&self, f: impl FnOnce(&mut NetStats)) {
        f(&mut self.core.net.lock().stats);
    }

    fn limbo(&self, slot: Box<dyn Any + Send>) {
        self.core.net.lock().limbo.push(slot);
    }

    fn record_message(
        &self,
        kind: TraceKind,
        tag: Tag,
        from: u32,
        to: u32,
        reply: bool,
        note: Note,
    ) {
        self.core.record_event(TraceEvent {
            at: self.true_now(),
            kind,
            id: tag.id,
            parent: tag.actor,
            from,
            to,
            label: tag.label,
            reply,
            note,
        });
    }

    /// The network's own seam: tasks of no node, never paused or crashed.
    pub(crate) fn network(&self) -> SimRt {
        SimRt {
            core: self.core.clone(),
            node: Arc::new(NodeClock::new(0)),
        }
    }
}

/// Puts a message on the network from `crossing.from` to `crossing.to`.
pub(crate) fn send<M, E>(
    crossing: Crossing,
    target: &E,
    headers: Headers,
    msg: M,
    reply: ReplyTo<M::Reply>,
) where
    M: Message,
    E: Sealed<M>,
{
    let Crossing { rt, from, to } = crossing;
    let tag = Tag {
        id: headers.id().get(),
        actor: target.core().id.get(),
        label: std::any::type_name::<M>(),
    };
    match rt.route(from, to) {
        Fate::Dropped(note) => {
            rt.record_message(TraceKind::Drop, tag, from, to, false, note);
            keep_unanswered(&rt, reply);
        }
        Fate::Delivered {
            at,
            copy,
            incarnation,
        } => {
            let hop = Hop {
                rt: rt.network(),
                from,
                to,
                incarnation,
                tag,
            };
            let twin = copy.and_then(|copy_at| {
                let twin = msg.duplicate();
                if twin.is_none() {
                    // The copy the network drew cannot be made: it was never sent.
                    rt.count(|s| s.sent -= 1);
                }
                twin.map(|twin| (copy_at, twin))
            });
            if let Some((copy_at, twin)) = twin {
                rt.count(|s| s.duplicated += 1);
                rt.record_message(TraceKind::Duplicate, tag, from, to, false, Note::None);
                let copy = Arrival {
                    hop: hop.clone(),
                    target: target.clone(),
                    headers,
                    msg: Some(twin),
                    reply: Some(ReplyTo::none()),
                    checked: false,
                };
                rt.enqueue(from, to, copy_at, Box::new(copy));
            }
            let arrival = Arrival {
                hop,
                target: target.clone(),
                headers,
                msg: Some(msg),
                reply: Some(reply),
                checked: false,
            };
            rt.enqueue(from, to, at, Box::new(arrival));
        }
    }
}

/// Keeps an ask's reply slot unanswered until the run ends, so that the asker times out as it
/// would on a real network. A tell has nobody waiting.
fn keep_unanswered<R: Send + 'static>(rt: &SimRt, reply: ReplyTo<R>) {
    if reply.wants_reply() {
        rt.limbo(Box::new(reply));
    }
}

/// What a link delivers when its time comes: a message into a mailbox, or a reply to its
/// asker. Polled by the link's pump until it is done; while a receiver's mailbox is full,
/// its later messages wait behind, and the link's other messages go on.
trait Delivery: Send {
    /// The actor it is for (0 for an answer, which never waits).
    fn receiver(&self) -> u64;
    /// Its arrival time came: checks the link and the receiving node's life. `false` when
    /// it is dropped (and then done).
    fn land(&mut self) -> bool;
    /// Delivers it, waiting for mailbox room.
    fn poll_deliver(&mut self, cx: &mut TaskContext<'_>) -> Poll<()>;
}

/// One hop of a message: the link, the receiving node's life it was sent to, the trace tag.
#[derive(Clone)]
struct Hop {
    /// The network's seam (tasks of no node).
    rt: SimRt,
    from: u32,
    to: u32,
    incarnation: u32,
    tag: Tag,
}

impl Hop {
    /// Whether the message may land now; records and counts the drop when not.
    fn lands(&self, reply: bool) -> bool {
        match self.rt.arrival(self.from, self.to, self.incarnation) {
            Ok(()) => true,
            Err(note) => {
                self.rt.count(|s| s.dropped += 1);
                self.rt
                    .record_message(TraceKind::Drop, self.tag, self.from, self.to, reply, note);
                false
            }
        }
    }

    /// Whether a message that landed and then waited for mailbox room may still go in: a
    /// partition since does not matter (it had crossed), a crash of the node does.
    fn still_lands(&self) -> bool {
        match self.rt.still_alive(self.to, self.incarnation) {
            Ok(()) => true,
            Err(note) => {
                self.rt.count(|s| s.dropped += 1);
                self.rt
                    .record_message(TraceKind::Drop, self.tag, self.from, self.to, false, note);
                false
            }
        }
    }

    fn delivered(&self, reply: bool) {
        self.rt.count(|s| s.delivered += 1);
        self.rt.record_message(
            TraceKind::Deliver,
            self.tag,
            self.from,
            self.to,
            reply,
            Note::None,
        );
    }
}

/// A message arriving at its receiver's node.
struct Arrival<M: Message, E> {
    hop: Hop,
    target: E,
    headers: Headers,
    msg: Option<M>,
    reply: Option<ReplyTo<M::Reply>>,
    /// The node and the link were checked on arrival.
    checked: bool,
}

impl<M: Message, E: Sealed<M>> Delivery for Arrival<M, E> {
    fn receiver(&self) -> u64 {
        self.hop.tag.actor
    }

    fn land(&mut self) -> bool {
        self.checked = true;
        if self.hop.lands(false) {
            return true;
        }
        if let Some(reply) = self.reply.take() {
            keep_unanswered(&self.hop.rt, reply);
        }
        false
    }

    fn poll_deliver(&mut self, cx: &mut TaskContext<'_>) -> Poll<()> {
        if !self.checked && !self.land() {
            return Poll::Ready(());
        }
        let reserved = match self.target.poll_reserve(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(reserved) => reserved,
        };
        let (Some(msg), Some(reply)) = (self.msg.take(), self.reply.take()) else {
            return Poll::Ready(());
        };
        // An ask's answer comes back over the network: the receiver answers into a slot of
        // the network's, and a task carries the answer home.
        let (slot, answer) = if reply.wants_reply() {
            let (slot, answer) = ReplyTo::channel();
            (slot, Some(answer))
        } else {
            (ReplyTo::none(), None)
        };
        match reserved {
            // The wait for room outlived the life of the node the message was for (it
            // crashed and restarted meanwhile): the slot stays empty.
            Ok(reserved) if !self.hop.still_lands() => {
                drop(reserved);
                drop((msg, slot));
                keep_unanswered(&self.hop.rt, reply);
                return Poll::Ready(());
            }
            Ok(reserved) => {
                self.hop.delivered(false);
                self.target.push(reserved, self.headers, msg, slot);
            }
            Err(_) => {
                // The receiver stopped: the message is a dead letter there, and an ask learns
                // it from the answer, which travels back like any other.
                let hop = &self.hop;
                hop.rt.count(|s| s.dropped += 1);
                hop.rt.record_message(
                    TraceKind::Drop,
                    hop.tag,
                    hop.from,
                    hop.to,
                    false,
                    Note::Closed,
                );
                self.target.core().dead_letter(
                    hop.tag.label,
                    self.headers,
                    DeadLetterReason::ActorStopped,
                );
                dropping_with(Failure::NotHandled, || drop((msg, slot)));
            }
        }
        if let Some(answer) = answer {
            let hop = self.hop.clone();
            drop(self.hop.rt.spawn(answer_back(hop, answer, reply)));
        }
        Poll::Ready(())
    }
}

/// Waits for the receiver's answer and puts it on the reverse link.
async fn answer_back<R: Send + 'static>(hop: Hop, answer: ReplyReceiver<R>, reply: ReplyTo<R>) {
    let outcome = answer.await.unwrap_or(Err(Failure::Dropped));
    let Hop {
        rt,
        from,
        to,
        incarnation,
        tag,
    } = hop;
    // The answer leaves only a node that has not crashed since the message landed.
    if rt.arrival(to, to, incarnation).is_err() {
        keep_unanswered(&rt, reply);
        return;
    }
    match rt.route(to, from) {
        Fate::Dropped(note) => {
            rt.record_message(TraceKind::Drop, tag, to, from, true, note);
            keep_unanswered(&rt, reply);
        }
        Fate::Delivered {
            at,
            copy,
            incarnation: home,
        } => {
            if copy.is_some() {
                // Answers are not duplicated: the copy drawn was never sent.
                rt.count(|s| s.sent -= 1);
            }
            rt.record_message(TraceKind::Send, tag, to, from, true, Note::None);
            let back = Hop {
                rt: rt.clone(),
                from: to,
                to: from,
                incarnation: home,
                tag,
            };
            let answer = Answer {
                hop: back,
                reply: Some(reply),
                outcome: Some(outcome),
            };
            rt.enqueue(to, from, at, Box::new(answer));
        }
    }
}

/// An answer arriving at its asker's node.
struct Answer<R: Send + 'static> {
    hop: Hop,
    reply: Option<ReplyTo<R>>,
    outcome: Option<Result<R, Failure>>,
}

impl<R: Send + 'static> Delivery for Answer<R> {
    fn receiver(&self) -> u64 {
        0
    }

    fn land(&mut self) -> bool {
        // Checked as it is handed over, below.
        true
    }

    fn poll_deliver(&mut self, _cx: &mut TaskContext<'_>) -> Poll<()> {
        let (Some(reply), Some(outcome)) = (self.reply.take(), self.outcome.take()) else {
            return Poll::Ready(());
        };
        if self.hop.lands(true) {
            self.hop.delivered(true);
            reply.forward(outcome);
        } else {
            keep_unanswered(&self.hop.rt, reply);
        }
        Poll::Ready(())
    }
}

/// A directed link's messages on their way, by arrival time (then by the order they were
/// sent), and its pump's waker.
#[derive(Default)]
struct LinkQueue {
    inner: Mutex<LinkInner>,
}

#[derive(Default)]
struct LinkInner {
    /// Messages in arrival order: on a link that keeps order, every message goes here.
    in_order: VecDeque<Pending>,
    /// Messages that arrive before one already queued (a reordering link, a duplicate).
    early: BinaryHeap<Reverse<Pending>>,
    sent: u64,
    /// The pump, waiting for the head to change.
    waker: Option<Waker>,
}

impl LinkInner {
    /// When the next message arrives.
    fn head(&self) -> Option<u64> {
        let ordered = self.in_order.front().map(|p| (p.at, p.seq));
        let early = self.early.peek().map(|Reverse(p)| (p.at, p.seq));
        match (ordered, early) {
            (Some(a), Some(b)) => Some(a.min(b).0),
            (a, b) => a.or(b).map(|(at, _)| at),
        }
    }

    /// Takes the next message to arrive.
    fn pop(&mut self) -> Option<Pending> {
        let ordered = self.in_order.front().map(|p| (p.at, p.seq));
        let early = self.early.peek().map(|Reverse(p)| (p.at, p.seq));
        match (ordered, early) {
            (Some(a), Some(b)) if b < a => self.early.pop().map(|Reverse(p)| p),
            (Some(_), _) => self.in_order.pop_front(),
            (None, _) => self.early.pop().map(|Reverse(p)| p),
        }
    }
}

struct Pending {
    at: u64,
    seq: u64,
    delivery: Box<dyn Delivery>,
}

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Pending {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

impl SimRt {
    /// Queues `delivery` on the link `from` → `to` for `at`; the link's pump (started with
    /// the link's first message) delivers it then.
    fn enqueue(&self, from: u32, to: u32, at: u64, delivery: Box<dyn Delivery>) {
        let (queue, new) = {
            let mut net = self.core.net.lock();
            match net.queues.get(&(from, to)) {
                Some(queue) => (queue.clone(), false),
                None => {
                    let queue = Arc::new(LinkQueue::default());
                    net.queues.insert((from, to), queue.clone());
                    (queue, true)
                }
            }
        };
        if new {
            drop(self.network().spawn(pump(self.network(), queue.clone())));
        }
        let waker = {
            let mut inner = queue.inner.lock();
            let seq = inner.sent;
            inner.sent += 1;
            // The pump needs waking only when this message is the new head.
            let head = inner.head().is_none_or(|first| at < first);
            let pending = Pending { at, seq, delivery };
            if inner.in_order.back().is_none_or(|last| last.at <= at) {
                inner.in_order.push_back(pending);
            } else {
                inner.early.push(Reverse(pending));
            }
            if head { inner.waker.take() } else { None }
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

/// A link's pump: one task per directed link delivers every message on it in arrival order,
/// each at its time on the virtual clock. A message whose receiver's mailbox is full waits,
/// and the later ones for that receiver wait behind it (order between a sender and a
/// receiver holds), while messages for other actors go on: one full mailbox does not hold up
/// a whole machine's traffic, replies included.
async fn pump(rt: SimRt, queue: Arc<LinkQueue>) {
    let mut timer: Option<(u64, SimSleep)> = None;
    let mut waiting: BTreeMap<u64, VecDeque<Box<dyn Delivery>>> = BTreeMap::new();
    poll_fn(|cx| -> Poll<()> {
        waiting.retain(|_, queue| {
            while let Some(first) = queue.front_mut() {
                if first.poll_deliver(cx).is_pending() {
                    return true;
                }
                queue.pop_front();
            }
            false
        });
        loop {
            let mut inner = queue.inner.lock();
            let Some(at) = inner.head() else {
                inner.waker = Some(cx.waker().clone());
                return Poll::Pending;
            };
            if at <= rt.core.now_nanos() {
                let due = inner.pop();
                drop(inner);
                let Some(Pending { mut delivery, .. }) = due else {
                    continue;
                };
                if !delivery.land() {
                    continue;
                }
                let receiver = delivery.receiver();
                if let Some(queue) = waiting.get_mut(&receiver) {
                    queue.push_back(delivery);
                } else if delivery.poll_deliver(cx).is_pending() {
                    waiting.entry(receiver).or_default().push_back(delivery);
                }
                continue;
            }
            inner.waker = Some(cx.waker().clone());
            drop(inner);
            if timer.as_ref().is_none_or(|(armed, _)| *armed != at) {
                timer = Some((at, rt.sleep_until_true(Instant::from_nanos(at))));
            }
            let Some((_, sleep)) = timer.as_mut() else {
                return Poll::Pending;
            };
            if std::pin::Pin::new(sleep).poll(cx).is_pending() {
                return Poll::Pending;
            }
        }
    })
    .await;
}

impl fmt::Debug for Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Net")
            .field("default", &self.default)
            .field("links", &self.links)
            .field("cut", &self.cut)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A uniform draw in [0, 1) with 53 bits.
fn unit(rng: &mut u64) -> f64 {
    // 53 bits fit an `f64` exactly.
    #[allow(clippy::cast_precision_loss)]
    let x = (splitmix(rng) >> 11) as f64;
    x / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{Latency, Link, Net};

    #[test]
    fn latencies_stay_in_their_bounds() {
        let mut rng = 7;
        let uniform = Latency::uniform(Duration::from_millis(50), Duration::from_millis(1));
        let exp = Latency::exponential(Duration::from_millis(2), Duration::from_millis(10));
        let mut sum = 0u64;
        for _ in 0..10_000 {
            let u = uniform.sample(&mut rng);
            assert!((1_000_000..=50_000_000).contains(&u), "{u}");
            let e = exp.sample(&mut rng);
            assert!(e >= 2_000_000);
            sum += e;
        }
        let mean = sum / 10_000;
        // The mean of 10,000 draws lands near 10 ms.
        assert!((9_000_000..11_000_000).contains(&mean), "{mean}");
    }

    #[test]
    fn a_link_without_reordering_keeps_order() {
        let mut net = Net::new(3);
        net.set_default(
            Link::new().latency(Latency::uniform(Duration::ZERO, Duration::from_millis(50))),
        );
        net.add_node();
        let mut last = 0;
        for now in 0..1_000 {
            let super::Fate::Delivered { at, .. } = net.route(2, 1, now * 1000, false) else {
                panic!("nothing is lost on this link")
            };
            assert!(at > last);
            last = at;
        }
    }

    #[test]
    fn probabilities_are_clamped() {
        assert_eq!(Link::new().loss(7.0).loss_rate(), 1.0);
        assert_eq!(Link::new().loss(-1.0).loss_rate(), 0.0);
        assert_eq!(Link::new().duplicate(f64::NAN).duplicate_rate(), 0.0);
    }
}
