//! The runtime behind [snowglobe](https://docs.rs/snowglobe): actors, mailboxes, addresses,
//! the system and its runtime seam.
//!
//! Most programs depend on the `snowglobe` facade, which re-exports this crate together with
//! the `#[derive(Actor)]` and `#[messages]` macros. Everything the macros generate is written
//! against the public traits here, and can be written by hand:
//!
//! - an [`Actor`] owns its state and names its mailbox item type, [`Actor::Msg`];
//! - a [`Message`] names its reply type; a [`Handler<M>`] handles it;
//! - the mailbox item (an enum, one variant per message) implements [`Dispatch`] and
//!   [`Accepts<M>`] for each message, or is [`DynMessage<Self>`];
//! - a [`System`] spawns actors and hands out [`ActorRef`]s, through which callers
//!   [`tell`](ActorRef::tell), [`try_tell`](ActorRef::try_tell) and [`ask`](ActorRef::ask).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use snowglobe_runtime::{Actor, Context, DynMessage, Handler, Message, System};
//!
//! #[derive(Default)]
//! struct Counter { n: u64 }
//! impl Actor for Counter {
//!     type Msg = DynMessage<Self>;
//! }
//!
//! struct Add(u64);
//! impl Message for Add {
//!     type Reply = u64;
//! }
//! impl Handler<Add> for Counter {
//!     async fn handle(&mut self, Add(k): Add, _ctx: &mut Context<Self>) -> u64 {
//!         self.n += k;
//!         self.n
//!     }
//! }
//!
//! let system = System::new();
//! let counter = system.spawn(Counter::default()).unwrap();
//! counter.tell(Add(1)).await.unwrap();
//! assert_eq!(counter.ask(Add(2)).await.unwrap(), 3);
//! system.shutdown().await;
//! # }
//! ```

mod actor;
mod address;
mod mailbox;
mod message;
mod supervision;
mod system;

pub use actor::{Actor, ActorId, BoxError, Context, PanicMessage, StopReason, TimerHandle};
pub use address::{
    ActorRef, Ask, AskError, Endpoint, Handled, Recipient, Request, Tell, TellError, WeakActorRef,
};
pub use mailbox::Mailbox;
pub use message::{
    Accepts, Dispatch, DynMessage, Handler, Headers, Message, MessageId, ReplyTo, TraceContext,
};
pub use supervision::{DeadLetter, DeadLetterReason, DeadLetters};
pub use system::{
    BuildError, Instant, LookupError, RegisterError, SpawnError, SpawnOptions, System,
    SystemBuilder,
};
