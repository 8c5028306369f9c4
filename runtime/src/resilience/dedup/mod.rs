//! Deduplication of retried requests: a receiver remembers the replies to the message ids it
//! has handled, and answers a repeated id from memory instead of running the handler again.
//!
//! A retry reuses the message id of its first attempt ([`Request::message_id`], and
//! [`Policy`](super::Policy) does it for you), so a charge that timed out and was sent again
//! is recognised and charged once. Turn it on per message type with
//! `#[message(idempotent)]`, or by hand with [`Context::dedup`](crate::Context::dedup).
//!
//! [`Request::message_id`]: crate::Request::message_id

mod check;
mod store;

pub use check::{DedupTicket, Seen};
pub(crate) use store::SharedStore;
pub use store::{DEFAULT_DEDUP_WINDOW, DedupEntry, DedupKey, DedupStore, MemoryDedupStore};
