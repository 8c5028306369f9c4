//! The receiver's side: look a message up before its handler runs, remember the reply after.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

use super::store::{DedupEntry, DedupKey};
use crate::actor::{Actor, Context};
use crate::message::{Message, ReplyTo};
use crate::supervision::DeadLetterReason;

/// What [`Context::dedup`] found for the message being handled.
#[must_use = "a message seen before must not run its handler"]
#[derive(Debug)]
pub enum Seen<R> {
    /// The first time this id came: run the handler, then pass its reply to
    /// [`Context::remember`] with the ticket.
    New(DedupTicket),
    /// The id came before with the same content and was handled: this is the reply it got.
    /// Send it again; do not run the handler.
    Replay(R),
    /// The id came before with other content: refuse the message with
    /// [`Context::reject_reused_id`].
    IdReused,
}

/// The key and content hash of a message seen for the first time, for [`Context::remember`].
#[derive(Clone, Copy, Debug)]
pub struct DedupTicket {
    key: DedupKey,
    fingerprint: u64,
}

impl DedupTicket {
    /// The message type and id the reply will be remembered by.
    #[must_use]
    pub fn key(&self) -> DedupKey {
        self.key
    }
}

/// A hash of the message's content. `DefaultHasher::new()` has fixed keys, so the same
/// content hashes the same in every actor of the process.
fn fingerprint<M: Hash>(msg: &M) -> u64 {
    let mut hasher = DefaultHasher::new();
    msg.hash(&mut hasher);
    hasher.finish()
}

impl<A: Actor> Context<A> {
    /// Looks up the message being handled in the actor's deduplication window, by its type
    /// and the id in its [`headers`](Context::headers).
    ///
    /// `#[message(idempotent)]` generates this around the handler; call it yourself in a
    /// hand-written [`Dispatch`](crate::Dispatch). A duplicate that arrives while the first
    /// copy is being handled waits in the mailbox behind it (an actor handles one message at
    /// a time), so by its turn the reply is remembered and it gets that reply. A handler that
    /// panicked remembered nothing: its retry runs the handler again, on the restarted
    /// instance.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use snowglobe_runtime::resilience::Seen;
    /// use snowglobe_runtime::{Actor, Context, Dispatch, Message, ReplyTo, Accepts, MessageId, System};
    ///
    /// #[derive(Hash)]
    /// struct Charge { cents: u64 }
    /// impl Message for Charge { type Reply = u64; }
    ///
    /// #[derive(Default)]
    /// struct Payments { charged: u64 }
    /// struct PaymentsMsg(Charge, ReplyTo<u64>);
    /// impl Actor for Payments { type Msg = PaymentsMsg; }
    /// impl Accepts<Charge> for PaymentsMsg {
    ///     fn from_message(msg: Charge, reply: ReplyTo<u64>) -> Self { PaymentsMsg(msg, reply) }
    /// }
    /// impl Dispatch<Payments> for PaymentsMsg {
    ///     async fn dispatch(self, actor: &mut Payments, ctx: &mut Context<Payments>) {
    ///         let PaymentsMsg(charge, reply) = self;
    ///         match ctx.dedup(&charge) {
    ///             Seen::New(ticket) => {
    ///                 actor.charged += charge.cents;
    ///                 ctx.remember(ticket, &actor.charged);
    ///                 reply.send(actor.charged);
    ///             }
    ///             Seen::Replay(total) => reply.send(total),
    ///             Seen::IdReused => ctx.reject_reused_id(reply),
    ///         }
    ///     }
    ///     fn message_type(&self) -> &'static str { "Charge" }
    /// }
    ///
    /// let system = System::new();
    /// let payments = system.spawn(Payments::default()).unwrap();
    /// let id = MessageId::next();
    /// assert_eq!(payments.ask(Charge { cents: 500 }).message_id(id).await.unwrap(), 500);
    /// // The retry of the same request: answered from memory, not charged again.
    /// assert_eq!(payments.ask(Charge { cents: 500 }).message_id(id).await.unwrap(), 500);
    /// assert_eq!(payments.ask(Charge { cents: 200 }).await.unwrap(), 700);
    /// // The same id with other content is refused.
    /// assert!(payments.ask(Charge { cents: 1 }).message_id(id).await.is_err());
    /// # system.shutdown().await;
    /// # }
    /// ```
    pub fn dedup<M>(&self, msg: &M) -> Seen<M::Reply>
    where
        M: Message + Hash,
        M::Reply: Clone + Sync,
    {
        let key = DedupKey {
            message_type: std::any::type_name::<M>(),
            id: self.headers().id(),
        };
        let fingerprint = fingerprint(msg);
        let store = self.actor_ref().cell().core.dedup_store();
        match store.get(&key) {
            None => Seen::New(DedupTicket { key, fingerprint }),
            Some(entry) if entry.fingerprint != fingerprint => Seen::IdReused,
            Some(entry) => match entry.reply.downcast_ref::<M::Reply>() {
                Some(reply) => Seen::Replay(reply.clone()),
                // A store shared with an actor whose message type has the same name but
                // another reply: not the same request.
                None => Seen::IdReused,
            },
        }
    }

    /// Remembers the reply to a message [`dedup`](Context::dedup) saw for the first time.
    pub fn remember<R>(&self, ticket: DedupTicket, reply: &R)
    where
        R: Clone + Send + Sync + 'static,
    {
        let entry = DedupEntry {
            fingerprint: ticket.fingerprint,
            reply: Arc::new(reply.clone()),
        };
        self.actor_ref()
            .cell()
            .core
            .dedup_store()
            .insert(ticket.key, entry);
    }

    /// Refuses a message whose id came before with other content: an asker gets
    /// [`AskError::IdReused`](crate::AskError::IdReused), and the message is a dead letter.
    pub fn reject_reused_id<R: Send + 'static>(&self, reply: ReplyTo<R>) {
        let core = &self.actor_ref().cell().core;
        core.dead_letter(
            reply_type_name::<R>(),
            *self.headers(),
            DeadLetterReason::IdReused,
        );
        reply.reject_reused_id();
    }
}

/// The best name the refusal has for the message: the reply type's, as the message type is
/// not known here.
fn reply_type_name<R>() -> &'static str {
    std::any::type_name::<R>()
}
