//! Checking the `#[actor]` options against each other and against the item.

use syn::{Data, DeriveInput, Generics, Ident, Type};

use super::parse::Options;
use crate::diagnostics::Errors;

/// What the derive generates from, once checked.
pub(super) struct Actor<'a> {
    pub(super) ident: &'a Ident,
    pub(super) generics: &'a Generics,
    /// The mailbox item type; `None` means "the enum `#[messages]` generates".
    pub(super) msg: Option<Type>,
    /// The mailbox; `None` keeps the trait's default.
    pub(super) mailbox: Option<Mailbox>,
}

pub(super) enum Mailbox {
    /// The capacity, and where it was written.
    Bounded(usize, proc_macro2::Span),
    Unbounded,
}

/// Returns `None` only when no impl should be generated at all (a union).
pub(super) fn actor<'a>(
    input: &'a DeriveInput,
    options: Options,
    errors: &Errors,
) -> Option<Actor<'a>> {
    if let Data::Union(union) = &input.data {
        errors.at(
            union.union_token,
            "#[derive(Actor)] works on structs and enums, not unions: reading a union is \
             `unsafe`, which the actor's handlers should not need; wrap the union in a struct",
        );
        return None;
    }

    let capacity = options
        .capacity
        .and_then(|lit| match lit.base10_parse::<usize>() {
            Ok(0) => {
                errors.at(
                    &lit,
                    "mailbox capacity must be at least 1: a mailbox that holds nothing could \
                     never deliver a message (use `unbounded` for no limit)",
                );
                None
            }
            Ok(capacity) => Some((capacity, lit.span())),
            Err(error) => {
                errors.push(error);
                None
            }
        });

    let mailbox = match (capacity, options.unbounded) {
        (Some(capacity), Some(unbounded)) => {
            errors.at(
                unbounded,
                "a mailbox is either bounded or unbounded: remove `capacity` or `unbounded`",
            );
            Some(Mailbox::Bounded(capacity.0, capacity.1))
        }
        (Some((capacity, span)), None) => Some(Mailbox::Bounded(capacity, span)),
        (None, Some(_)) => Some(Mailbox::Unbounded),
        (None, None) => None,
    };

    Some(Actor {
        ident: &input.ident,
        generics: &input.generics,
        msg: options.msg,
        mailbox,
    })
}
