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

thread_local! {
    /// The actor whose task runs on this thread right now.
    static ACTOR: Cell<Option<ActorId>> = const { Cell::new(None) };
    /// The trace context messages sent from here inherit.
    static TRACE: Cell<TraceContext> = const { Cell::new(TraceContext::NONE) };
    /// The next id to hand out and the end of this thread's block.
    static IDS: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
}

/// Ids are taken from this counter a block at a time, so threads touch it once per block.
static NEXT_BLOCK: AtomicU64 = AtomicU64::new(1);
const BLOCK: u64 = 1 << 12;

/// The actor running on this thread, if any.
#[inline]
pub(crate) fn actor() -> Option<ActorId> {
    ACTOR.with(Cell::get)
}

/// Marks `actor` as running on this thread; returns what was marked before.
#[inline]
pub(crate) fn replace_actor(actor: Option<ActorId>) -> Option<ActorId> {
    ACTOR.with(|a| a.replace(actor))
}

/// The trace context messages sent from here inherit.
#[inline]
pub(crate) fn trace() -> TraceContext {
    TRACE.with(Cell::get)
}

/// Sets the trace context messages sent from here inherit.
#[inline]
pub(crate) fn set_trace(trace: TraceContext) {
    TRACE.with(|t| t.set(trace));
}

/// The first id of a simulation's own id space: the upper half, which the process-wide
/// counter does not reach (2^63 ids).
const SIMULATED_IDS: u64 = 1 << 63;

/// Gives this thread the simulation's id space, from its start: every run of a simulation
/// hands out the same ids in the same order. Returns what to restore afterwards.
pub(crate) fn enter_simulated_ids() -> (u64, u64) {
    IDS.with(|ids| ids.replace((SIMULATED_IDS, u64::MAX)))
}

/// Gives this thread back the id block it had before [`enter_simulated_ids`].
pub(crate) fn leave_simulated_ids(previous: (u64, u64)) {
    IDS.with(|ids| ids.set(previous));
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
