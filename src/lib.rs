//! # snowglobe
//!
//! A whole microservice system inside one process: each service is an actor, a struct with
//! private state and a mailbox, reached only through messages.
//!
//! (The guide lands with the examples.)

pub use snowglobe_macros::{Actor, message, messages};
pub use snowglobe_runtime::{
    Accepts, Actor, ActorId, ActorRef, Ask, AskError, BoxError, BuildError, Context, DeadLetter,
    DeadLetterReason, DeadLetters, Dispatch, DynMessage, Endpoint, Handled, Handler, Headers,
    Instant, LookupError, Mailbox, Message, MessageId, PanicMessage, Recipient, RegisterError,
    ReplyTo, Request, SpawnError, SpawnOptions, StopReason, System, SystemBuilder, Tell, TellError,
    TimerHandle, TraceContext, WeakActorRef,
};

/// The names almost every program needs: `use snowglobe::prelude::*;`.
pub mod prelude {
    pub use crate::{
        Actor, ActorRef, AskError, Context, Handler, Message, Recipient, SpawnOptions, System,
        TellError, messages,
    };
}

/// Items generated code refers to. Not a public API.
#[doc(hidden)]
pub mod __private {
    pub use snowglobe_runtime::__private::Messages;
}
