//! Fault handling: what happens to messages and actors when things go wrong.
//!
//! A panic in one actor is caught at the actor's boundary: the message's ask gets
//! [`AskError::Panicked`](crate::AskError::Panicked), the message becomes a [`DeadLetter`],
//! the actor stops with [`StopReason::Panicked`](crate::StopReason::Panicked), and nothing
//! else is affected. Messages that will never be handled are recorded in [`DeadLetters`].

mod dead_letters;

pub use dead_letters::{DeadLetter, DeadLetterReason, DeadLetters};
