//! What travels with every message: its headers.

use std::fmt;
use std::num::NonZeroU64;
use std::time::Duration;

use crate::actor::ActorId;
use crate::system::Instant;

/// The identity of one message.
///
/// Every message gets an id when it is sent. A retry of an ask reuses the id of the first
/// attempt, which is what lets a receiver recognise the retry. Ids are unique within the process.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MessageId(pub(crate) NonZeroU64);

impl MessageId {
    /// The id with the given number, or `None` for zero.
    ///
    /// ```
    /// use snowglobe_runtime::MessageId;
    ///
    /// let id = MessageId::new(7).unwrap();
    /// assert_eq!(id.get(), 7);
    /// assert!(MessageId::new(0).is_none());
    /// ```
    #[must_use]
    pub const fn new(n: u64) -> Option<MessageId> {
        match NonZeroU64::new(n) {
            Some(n) => Some(MessageId(n)),
            None => None,
        }
    }

    /// A fresh id, unique within this process.
    ///
    /// ```
    /// use snowglobe_runtime::MessageId;
    ///
    /// assert_ne!(MessageId::next(), MessageId::next());
    /// ```
    #[must_use]
    pub fn next() -> MessageId {
        super::current::next_message_id()
    }

    /// The id as a number.
    #[must_use]
    pub const fn get(self) -> u64 {
        self.0.get()
    }
}

impl fmt::Debug for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MessageId({})", self.0)
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "m{}", self.0)
    }
}

/// A W3C trace context (`traceparent`): trace id, parent span id and flags.
///
/// The envelope carries one with every message so that a trace can follow a request across
/// hops. An all-zero context means "not traced". Messages sent while an actor handles a traced
/// message inherit that message's context.
///
/// ```
/// use snowglobe_runtime::TraceContext;
///
/// let ctx = TraceContext::new([1; 16], [2; 8], 1);
/// assert!(ctx.is_valid());
/// assert!(!TraceContext::NONE.is_valid());
/// assert_eq!(ctx.trace_id(), [1; 16]);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TraceContext {
    trace_id: [u8; 16],
    span_id: [u8; 8],
    flags: u8,
}

impl TraceContext {
    /// No trace.
    pub const NONE: TraceContext = TraceContext {
        trace_id: [0; 16],
        span_id: [0; 8],
        flags: 0,
    };

    /// A context from its W3C parts.
    #[must_use]
    pub const fn new(trace_id: [u8; 16], span_id: [u8; 8], flags: u8) -> TraceContext {
        TraceContext {
            trace_id,
            span_id,
            flags,
        }
    }

    /// The trace id.
    #[must_use]
    pub const fn trace_id(&self) -> [u8; 16] {
        self.trace_id
    }

    /// The id of the span that sent the message.
    #[must_use]
    pub const fn span_id(&self) -> [u8; 8] {
        self.span_id
    }

    /// The W3C trace flags (bit 0: sampled).
    #[must_use]
    pub const fn flags(&self) -> u8 {
        self.flags
    }

    /// Whether this names a trace (W3C: the trace id is not all zeros).
    #[must_use]
    pub fn is_valid(&self) -> bool {
        self.trace_id != [0; 16]
    }
}

impl fmt::Debug for TraceContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.is_valid() {
            return f.write_str("TraceContext(none)");
        }
        f.write_str("TraceContext(00-")?;
        for b in self.trace_id {
            write!(f, "{b:02x}")?;
        }
        f.write_str("-")?;
        for b in self.span_id {
            write!(f, "{b:02x}")?;
        }
        write!(f, "-{:02x})", self.flags)
    }
}

/// The headers of one message: its id, its sender, its deadline and its trace context.
///
/// Headers are plain data (`Copy`, 48 bytes): stamping them on a tell allocates nothing. Inside a
/// handler, [`Context::headers`](crate::Context::headers) gives the headers of the message being
/// handled.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Headers {
    id: MessageId,
    /// The sender's id in the low 56 bits (0: none), the trace flags in the high 8: one word
    /// less in every envelope. Actor ids count spawns and stay far below 2^56.
    sender_and_flags: u64,
    /// `u64::MAX` nanoseconds stands for "no deadline".
    deadline: Instant,
    trace_id: [u8; 16],
    span_id: [u8; 8],
}

const NO_DEADLINE: Instant = Instant::from_nanos(u64::MAX);
const SENDER_BITS: u32 = 56;
const SENDER_MASK: u64 = (1 << SENDER_BITS) - 1;

const fn pack(sender: Option<ActorId>, flags: u8) -> u64 {
    let sender = match sender {
        Some(id) => id.get() & SENDER_MASK,
        None => 0,
    };
    sender | ((flags as u64) << SENDER_BITS)
}

impl Headers {
    /// Headers for a new message sent from the current task: a fresh id, the sending actor (when
    /// called from inside an actor) and its trace context, no deadline.
    ///
    /// ```
    /// use snowglobe_runtime::Headers;
    ///
    /// let h = Headers::new();
    /// assert_eq!(h.sender(), None); // not sent from an actor
    /// assert_eq!(h.deadline(), None);
    /// assert_ne!(h.id(), Headers::new().id());
    /// ```
    #[must_use]
    #[allow(clippy::new_without_default)] // a fresh id per call: `Default` would mislead
    pub fn new() -> Headers {
        let trace = super::current::trace();
        Headers {
            id: super::current::next_message_id(),
            sender_and_flags: pack(super::current::actor(), trace.flags()),
            deadline: NO_DEADLINE,
            trace_id: trace.trace_id(),
            span_id: trace.span_id(),
        }
    }

    /// The message's id.
    #[must_use]
    pub const fn id(&self) -> MessageId {
        self.id
    }

    /// The actor that sent the message, if it was sent from inside an actor.
    #[must_use]
    pub const fn sender(&self) -> Option<ActorId> {
        ActorId::new(self.sender_and_flags & SENDER_MASK)
    }

    /// When the sender stops waiting for a reply, if it waits at all.
    #[must_use]
    pub fn deadline(&self) -> Option<Instant> {
        (self.deadline != NO_DEADLINE).then_some(self.deadline)
    }

    /// Time left before the deadline at `now`: `None` without a deadline, zero once it passed.
    #[must_use]
    pub fn remaining(&self, now: Instant) -> Option<Duration> {
        self.deadline()
            .map(|deadline| deadline.saturating_duration_since(now))
    }

    /// The trace context the message carries.
    #[must_use]
    pub const fn trace(&self) -> TraceContext {
        // The shift leaves exactly the eight flag bits.
        #[allow(clippy::cast_possible_truncation)]
        let flags = (self.sender_and_flags >> SENDER_BITS) as u8;
        TraceContext::new(self.trace_id, self.span_id, flags)
    }

    /// These headers with another id (a retry keeps the id of its first attempt).
    #[must_use]
    pub const fn with_id(mut self, id: MessageId) -> Headers {
        self.id = id;
        self
    }

    /// These headers with a deadline.
    #[must_use]
    pub const fn with_deadline(mut self, deadline: Instant) -> Headers {
        self.deadline = deadline;
        self
    }

    /// These headers with a trace context.
    #[must_use]
    pub const fn with_trace(mut self, trace: TraceContext) -> Headers {
        self.sender_and_flags = pack(self.sender(), trace.flags());
        self.trace_id = trace.trace_id();
        self.span_id = trace.span_id();
        self
    }
}

impl fmt::Debug for Headers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Headers")
            .field("id", &self.id)
            .field("sender", &self.sender())
            .field("deadline", &self.deadline())
            .field("trace", &self.trace())
            .finish()
    }
}

/// A message in a mailbox: the headers and the actor's mailbox item.
///
/// `repr(C)`, headers first: the receiver copies an envelope out of its slot in 16-byte
/// chunks and then the headers into the context. At offset 0 the headers' fields line up with
/// those chunks; where the compiler had put them (after the item, at offset 24) a 16-byte read
/// straddled two chunks just written, which the processor cannot forward from its store
/// buffer: a stall of about 3 ns on every message (tell 1→1 on one thread: 17.8 → 15.2 ns).
#[repr(C)]
pub(crate) struct Envelope<T> {
    pub(crate) headers: Headers,
    pub(crate) payload: T,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_stay_small() {
        // The envelope budget: no allocation, and 48 bytes of headers.
        assert_eq!(std::mem::size_of::<Headers>(), 48);
        assert_eq!(std::mem::size_of::<Option<MessageId>>(), 8);
    }

    #[test]
    fn sender_and_trace_round_trip() {
        let trace = TraceContext::new([7; 16], [9; 8], 0xa5);
        let sender = ActorId::new(123_456_789);
        let h = Headers::new().with_trace(trace);
        assert_eq!(h.trace(), trace);
        assert_eq!(h.sender(), None);
        let packed = Headers {
            sender_and_flags: pack(sender, trace.flags()),
            ..h
        };
        assert_eq!(packed.sender(), sender);
        assert_eq!(packed.trace(), trace);
        assert_eq!(packed.with_trace(TraceContext::NONE).sender(), sender);
    }

    #[test]
    fn deadline_round_trips() {
        let h = Headers::new();
        assert_eq!(h.deadline(), None);
        let at = Instant::from_nanos(0);
        let h = h.with_deadline(at);
        assert_eq!(h.deadline(), Some(at));
        assert_eq!(h.remaining(Instant::from_nanos(5)), Some(Duration::ZERO));
    }
}
