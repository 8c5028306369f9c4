//! Durable topics that outlive the process, for [snowglobe](snowglobe_runtime).
//!
//! [`RedbStore`] keeps each durable topic's events and its consumers' positions in one
//! [redb](https://docs.rs/redb) database file (embedded, pure Rust, transactional);
//! [`Postcard`] turns serde events into compact bytes. Open a durable topic on them with
//! [`EventBus::durable_stored`](snowglobe_runtime::EventBus::durable_stored): opening it
//! again, in the next run of the program, finds its events with their offsets, and each
//! consumer resumes after the last event it acknowledged.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use std::sync::Arc;
//! use serde::{Deserialize, Serialize};
//! use snowglobe_runtime::{Message, Retention, System};
//! use snowglobe_store::{Postcard, RedbStore};
//!
//! #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
//! struct OrderPlaced { id: u64 }
//! impl Message for OrderPlaced { type Reply = (); }
//!
//! let dir = std::env::temp_dir().join(format!("snowglobe-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir).unwrap();
//! let path = dir.join("orders.redb");
//! # let _ = std::fs::remove_file(&path);
//! {
//!     let system = System::new();
//!     let store = Arc::new(RedbStore::open(&path).unwrap());
//!     let orders = system.events()
//!         .durable_stored::<OrderPlaced>("orders", Retention::all(), store, Postcard)
//!         .unwrap();
//!     assert_eq!(orders.publish(OrderPlaced { id: 7 }).unwrap(), 0);
//!     system.shutdown().await;
//! }
//! // Another run of the program:
//! let system = System::new();
//! let store = Arc::new(RedbStore::open(&path).unwrap());
//! let orders = system.events()
//!     .durable_stored::<OrderPlaced>("orders", Retention::all(), store, Postcard)
//!     .unwrap();
//! assert_eq!(orders.offsets(), (0, 1), "the event is still there");
//! # system.shutdown().await;
//! # std::fs::remove_dir_all(&dir).unwrap();
//! # }
//! ```

use std::fmt;
use std::path::Path;

use redb::{Database, ReadableDatabase, TableDefinition};
use serde::Serialize;
use serde::de::DeserializeOwned;
use snowglobe_runtime::{DurableStore, EventCodec, StoreError, Stored, StoredPosition};

/// Each topic's events, by (topic, offset).
const EVENTS: TableDefinition<'_, (&str, u64), &[u8]> = TableDefinition::new("events");
/// Each topic's next offset: kept apart, so that a topic whose events retention removed still
/// continues its offsets.
const NEXT: TableDefinition<'_, &str, u64> = TableDefinition::new("next");
/// Each consumer's position, by (topic, consumer).
const POSITIONS: TableDefinition<'_, (&str, &str), &[u8]> = TableDefinition::new("positions");

/// A [`DurableStore`] in one redb database file.
///
/// Every append and every saved position is a committed write transaction: a publish that
/// returned has reached the disk. That costs a file sync per publish; group events into
/// larger ones where that matters.
pub struct RedbStore {
    db: Database,
}

impl RedbStore {
    /// Opens the database at `path`, creating it if it does not exist.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the file cannot be opened or created, or is not a redb database.
    pub fn open(path: impl AsRef<Path>) -> Result<RedbStore, StoreError> {
        let path = path.as_ref();
        let db = Database::create(path)
            .map_err(|e| StoreError::new(format!("opening {}: {e}", path.display())))?;
        // The tables exist from the start, so that reads never find them missing.
        let txn = db.begin_write().map_err(error)?;
        txn.open_table(EVENTS).map_err(error)?;
        txn.open_table(NEXT).map_err(error)?;
        txn.open_table(POSITIONS).map_err(error)?;
        txn.commit().map_err(error)?;
        Ok(RedbStore { db })
    }
}

impl fmt::Debug for RedbStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedbStore").finish_non_exhaustive()
    }
}

fn error(e: impl fmt::Display) -> StoreError {
    StoreError::new(e)
}

impl DurableStore for RedbStore {
    fn load(&self, topic: &str) -> Result<Stored, StoreError> {
        let txn = self.db.begin_read().map_err(error)?;
        let events_table = txn.open_table(EVENTS).map_err(error)?;
        let mut events = Vec::new();
        for entry in events_table
            .range((topic, 0)..=(topic, u64::MAX))
            .map_err(error)?
        {
            let (key, value) = entry.map_err(error)?;
            events.push((key.value().1, value.value().to_vec()));
        }
        let next = txn
            .open_table(NEXT)
            .map_err(error)?
            .get(topic)
            .map_err(error)?
            .map_or(0, |next| next.value());
        let positions_table = txn.open_table(POSITIONS).map_err(error)?;
        let mut positions = Vec::new();
        for entry in positions_table.range((topic, "")..).map_err(error)? {
            let (key, value) = entry.map_err(error)?;
            let (stored_topic, consumer) = key.value();
            if stored_topic != topic {
                break;
            }
            let (acked_below, acked_above): (u64, Vec<u64>) =
                postcard::from_bytes(value.value()).map_err(error)?;
            positions.push((
                consumer.to_owned(),
                StoredPosition {
                    acked_below,
                    acked_above,
                },
            ));
        }
        Ok(Stored {
            events,
            next,
            positions,
        })
    }

    fn append(&self, topic: &str, offset: u64, event: &[u8]) -> Result<(), StoreError> {
        let txn = self.db.begin_write().map_err(error)?;
        {
            let mut events = txn.open_table(EVENTS).map_err(error)?;
            events.insert((topic, offset), event).map_err(error)?;
            let mut next = txn.open_table(NEXT).map_err(error)?;
            next.insert(topic, offset + 1).map_err(error)?;
        }
        txn.commit().map_err(error)
    }

    fn trim(&self, topic: &str, first: u64) -> Result<(), StoreError> {
        let txn = self.db.begin_write().map_err(error)?;
        {
            let mut events = txn.open_table(EVENTS).map_err(error)?;
            events
                .retain_in((topic, 0)..(topic, first), |_, _| false)
                .map_err(error)?;
        }
        txn.commit().map_err(error)
    }

    fn save_position(
        &self,
        topic: &str,
        consumer: &str,
        position: &StoredPosition,
    ) -> Result<(), StoreError> {
        let bytes =
            postcard::to_stdvec(&(position.acked_below, &position.acked_above)).map_err(error)?;
        let txn = self.db.begin_write().map_err(error)?;
        {
            let mut positions = txn.open_table(POSITIONS).map_err(error)?;
            positions
                .insert((topic, consumer), bytes.as_slice())
                .map_err(error)?;
        }
        txn.commit().map_err(error)
    }
}

/// An [`EventCodec`] for serde events, in [postcard](https://docs.rs/postcard)'s compact
/// binary format. Changing an event type's fields changes its format: a store written with
/// the old type then fails to load with a [`StoreError`] rather than yield wrong events.
#[derive(Clone, Copy, Debug, Default)]
pub struct Postcard;

impl<E> EventCodec<E> for Postcard
where
    E: Serialize + DeserializeOwned + Send + Sync + 'static,
{
    fn encode(&self, event: &E) -> Result<Vec<u8>, StoreError> {
        postcard::to_stdvec(event).map_err(error)
    }

    fn decode(&self, bytes: &[u8]) -> Result<E, StoreError> {
        postcard::from_bytes(bytes).map_err(error)
    }
}
