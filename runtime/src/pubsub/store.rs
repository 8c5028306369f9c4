//! The seam between durable topics and a disk: where the log and the consumers' positions go
//! to outlive the process. `snowglobe-store` implements it on an embedded database.

use std::fmt;
use std::sync::Arc;

/// Keeps durable topics beyond the process: each topic's events by offset, and each of its
/// consumers' acknowledged position.
///
/// Calls come from publishers and consumers' pumps, synchronously: an append returns once the
/// event is stored, so a publish that succeeded survives a crash. Positions may be saved
/// lazily by an implementation: losing the latest acknowledgements only means that some
/// events are delivered again, which at-least-once delivery allows.
pub trait DurableStore: Send + Sync + 'static {
    /// What the store holds for `topic`: its events from the oldest kept, in offset order,
    /// and its consumers' positions.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store cannot be read.
    fn load(&self, topic: &str) -> Result<Stored, StoreError>;

    /// Stores the event at `offset` (the next after the last stored).
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the event was not stored.
    fn append(&self, topic: &str, offset: u64, event: &[u8]) -> Result<(), StoreError>;

    /// Forgets the events below `first` (retention).
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store cannot be written.
    fn trim(&self, topic: &str, first: u64) -> Result<(), StoreError>;

    /// Stores a consumer's position.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store cannot be written.
    fn save_position(
        &self,
        topic: &str,
        consumer: &str,
        position: &StoredPosition,
    ) -> Result<(), StoreError>;
}

/// Turns events into bytes for a [`DurableStore`] and back.
pub trait EventCodec<E>: Send + Sync + 'static {
    /// The event's bytes.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the event cannot be encoded.
    fn encode(&self, event: &E) -> Result<Vec<u8>, StoreError>;

    /// The event the bytes stand for.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the bytes are not an event of this type: a store written by
    /// another version of the program, or damaged.
    fn decode(&self, bytes: &[u8]) -> Result<E, StoreError>;
}

/// What a [`DurableStore`] holds for one topic.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stored {
    /// The events kept, by offset, oldest first.
    pub events: Vec<(u64, Vec<u8>)>,
    /// The next offset to write: one past the newest event ever stored (kept even when
    /// retention removed every event, so offsets never go back).
    pub next: u64,
    /// Each consumer's position, by name.
    pub positions: Vec<(String, StoredPosition)>,
}

/// A consumer's acknowledged position: every offset below `acked_below`, and the offsets in
/// `acked_above`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoredPosition {
    /// Every offset below is acknowledged.
    pub acked_below: u64,
    /// Acknowledged offsets above `acked_below`, ascending.
    pub acked_above: Vec<u64>,
}

/// A [`DurableStore`] or an [`EventCodec`] failed.
#[derive(Clone, PartialEq, Eq, thiserror::Error)]
#[error("durable store: {message}")]
pub struct StoreError {
    message: Arc<str>,
}

impl StoreError {
    /// An error with this description (what failed, and why).
    pub fn new(message: impl fmt::Display) -> StoreError {
        StoreError {
            message: message.to_string().into(),
        }
    }

    /// The description.
    #[must_use]
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Debug for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StoreError({:?})", &*self.message)
    }
}
