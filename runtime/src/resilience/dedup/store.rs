//! Where a receiver keeps the replies it may have to repeat.

use std::any::Any;
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::MessageId;

/// How many replies an actor remembers by default: the last 1 024 deduplicated messages.
pub const DEFAULT_DEDUP_WINDOW: usize = 1024;

/// What a deduplicated message is remembered by: its type and its id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DedupKey {
    /// The message's type name.
    pub message_type: &'static str,
    /// The message's id; a retry carries the id of its first attempt.
    pub id: MessageId,
}

/// What a receiver remembers of one handled message.
#[derive(Clone)]
pub struct DedupEntry {
    /// A hash of the message's content: the same id with other content is refused.
    pub fingerprint: u64,
    /// The reply the handler gave, returned again to a retry.
    pub reply: Arc<dyn Any + Send + Sync>,
}

impl fmt::Debug for DedupEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DedupEntry")
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

/// Where an actor keeps its deduplication window.
///
/// Each actor has its own [`MemoryDedupStore`] unless it was spawned with
/// [`SpawnOptions::dedup_store`](crate::SpawnOptions::dedup_store). The store belongs to the
/// actor's cell, so it survives restarts: a retry that reaches the restarted instance is still
/// recognised. Implement this trait to keep the window elsewhere, or hand one store to the
/// successive actors of one service.
///
/// The runtime calls it from the actor's task, one message at a time: `get` before the
/// handler, `insert` after. That is atomic for one actor only. Two actors running at the
/// same time on one store could both miss a key and both run the handler; a store for
/// replicas needs a claim of the key first, which this trait does not have yet. Message ids
/// are unique within a process, not across processes: a store kept on disk across restarts
/// of the process would meet new messages under old ids.
///
///
/// ```
/// use std::sync::Arc;
/// use snowglobe_runtime::MessageId;
/// use snowglobe_runtime::resilience::{DedupEntry, DedupKey, DedupStore, MemoryDedupStore};
///
/// let store = MemoryDedupStore::new(2);
/// let key = |n| DedupKey { message_type: "Charge", id: MessageId::new(n).unwrap() };
/// let entry = DedupEntry { fingerprint: 7, reply: Arc::new(100u32) };
/// store.insert(key(1), entry.clone());
/// store.insert(key(2), entry.clone());
/// store.insert(key(3), entry);
/// assert!(store.get(&key(1)).is_none()); // the window holds the last two
/// assert_eq!(store.get(&key(3)).unwrap().reply.downcast_ref::<u32>(), Some(&100));
/// ```
pub trait DedupStore: Send + Sync + 'static {
    /// The entry remembered for `key`, if any.
    fn get(&self, key: &DedupKey) -> Option<DedupEntry>;
    /// Remembers `entry` for `key`, replacing what was there.
    fn insert(&self, key: DedupKey, entry: DedupEntry);
}

/// A bounded window in memory: the last `window` entries, oldest forgotten first.
pub struct MemoryDedupStore {
    window: usize,
    entries: Mutex<Window>,
}

#[derive(Default)]
struct Window {
    by_key: HashMap<DedupKey, DedupEntry>,
    /// Keys in insertion order, for forgetting the oldest.
    order: VecDeque<DedupKey>,
}

impl MemoryDedupStore {
    /// A window of the last `window` entries; a window of zero is taken as one.
    #[must_use]
    pub fn new(window: usize) -> MemoryDedupStore {
        MemoryDedupStore {
            window: window.max(1),
            entries: Mutex::new(Window::default()),
        }
    }

    /// How many entries the window holds at most.
    #[must_use]
    pub fn window(&self) -> usize {
        self.window
    }

    /// How many entries it holds now.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.lock().by_key.len()
    }

    /// Whether it holds none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Default for MemoryDedupStore {
    fn default() -> MemoryDedupStore {
        MemoryDedupStore::new(DEFAULT_DEDUP_WINDOW)
    }
}

impl DedupStore for MemoryDedupStore {
    fn get(&self, key: &DedupKey) -> Option<DedupEntry> {
        self.entries.lock().by_key.get(key).cloned()
    }

    fn insert(&self, key: DedupKey, entry: DedupEntry) {
        let mut entries = self.entries.lock();
        if entries.by_key.insert(key, entry).is_none() {
            entries.order.push_back(key);
        }
        while entries.order.len() > self.window {
            if let Some(oldest) = entries.order.pop_front() {
                entries.by_key.remove(&oldest);
            }
        }
    }
}

impl fmt::Debug for MemoryDedupStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryDedupStore")
            .field("window", &self.window)
            .field("len", &self.len())
            .finish()
    }
}

/// A store handed to [`SpawnOptions`](crate::SpawnOptions): debug-printable, cheap to clone.
#[derive(Clone)]
pub(crate) struct SharedStore(pub(crate) Arc<dyn DedupStore>);

impl fmt::Debug for SharedStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DedupStore")
    }
}
