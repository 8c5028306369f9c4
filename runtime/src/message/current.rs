//! The sending side's context, kept in thread-locals: which actor is running on this thread (to
//! stamp the sender header) and fresh message ids.
//!
//! The actor task sets the current actor around each poll, so a handler that sends a message
//! stamps its own id on it without passing anything around.

use std::cell::Cell;
use std::num::NonZeroU64;
use std::sync::atomic::{AtomicU64, Ordering};

use super::envelope::{MessageId, TraceContext};
use crate::actor::ActorId;

/// What a message sent from this thread right now inherits.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Current {
    pub(crate) actor: Option<ActorId>,
    pub(crate) trace: TraceContext,
}

thread_local! {
    static CURRENT: Cell<Current> = const {
        Cell::new(Current { actor: None, trace: TraceContext::NONE })
    };
    /// The next id to hand out and the end of this thread's block.
    static IDS: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
}

/// Ids are taken from this counter a block at a time, so threads touch it once per block.
static NEXT_BLOCK: AtomicU64 = AtomicU64::new(1);
const BLOCK: u64 = 1 << 12;

pub(crate) fn get() -> Current {
    CURRENT.with(Cell::get)
}

/// Sets the current context and returns the previous one, to be restored with [`set`].
pub(crate) fn replace(current: Current) -> Current {
    CURRENT.with(|c| c.replace(current))
}

/// Sets only the trace context (the actor loop does this per message).
pub(crate) fn set_trace(trace: TraceContext) {
    CURRENT.with(|c| {
        let mut cur = c.get();
        cur.trace = trace;
        c.set(cur);
    });
}

pub(crate) fn next_message_id() -> MessageId {
    IDS.with(|ids| {
        let (mut next, mut end) = ids.get();
        if next == end {
            next = NEXT_BLOCK.fetch_add(BLOCK, Ordering::Relaxed);
            end = next + BLOCK;
        }
        ids.set((next + 1, end));
        // Blocks start at 1 and only grow, so `next >= 1`: this is `next` itself, never zero.
        MessageId(NonZeroU64::MIN.saturating_add(next - 1))
    })
}
