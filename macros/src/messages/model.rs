//! What `validate` hands to `expand`: the checked block, in the terms of the generated code.

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::{Attribute, Ident, Path, Type, Visibility};

/// A `#[messages]` block, checked.
pub(super) struct Model {
    pub(super) actor: Actor,
    /// The visibility of every generated item (structs, their fields, enum, client trait).
    pub(super) vis: Visibility,
    /// The valid `#[message]` and `#[handler]` methods, in source order. May be empty when
    /// every method had a mistake: the mailbox is still generated, empty, so the actor's other
    /// uses compile.
    pub(super) messages: Vec<Message>,
    /// Whether to generate the client trait: unless every marked method is a `#[handler]`,
    /// which has no client method (a trait without methods would only be clutter).
    pub(super) client: bool,
}

/// The actor type the block is for.
pub(super) struct Actor {
    /// As written after `impl`.
    pub(super) ty: Type,
    /// Its last path segment: `Inventory` in `impl crate::shop::Inventory`.
    pub(super) name: Ident,
    /// `InventoryMsg`.
    pub(super) mailbox: Ident,
    /// `InventoryClient`.
    pub(super) client: Ident,
}

/// One `#[message]` or `#[handler]` method.
pub(super) struct Message {
    /// `reserve`.
    pub(super) method: Ident,
    /// The name of the mailbox variant, and for a `#[message]` of the struct: `Reserve`, or
    /// the `#[message(name = ...)]`; for a `#[handler]`, the last path segment of the handled
    /// type (`Terminated` for `msg: snowglobe::Terminated`).
    pub(super) name: Ident,
    /// The message type, as the generated code names it: `Reserve` for a `#[message]`, the
    /// parameter's type as written (with `Self` replaced by the actor type) for a `#[handler]`.
    pub(super) ty: TokenStream,
    pub(super) kind: Kind,
    /// The method's `#[doc]` attributes, copied to the struct and the client method.
    pub(super) docs: Vec<Attribute>,
    /// The method's `#[cfg]` attributes, copied to everything generated for it.
    pub(super) cfgs: Vec<Attribute>,
    pub(super) is_async: bool,
    /// The parameters after the receiver, in order.
    pub(super) params: Vec<Param>,
    /// The return type with `Self` replaced by the actor type; `None` for `()`.
    pub(super) reply: Option<TokenStream>,
}

/// What the method's marker asks for.
pub(super) enum Kind {
    /// `#[message]`: a struct, its `Message` impl and a client method are generated.
    Generated {
        /// `#[message(derive(...))]`.
        derives: Vec<Path>,
        /// `#[message(idempotent)]`: the handler runs once per message id; a repeated id
        /// gets the remembered reply.
        idempotent: bool,
    },
    /// `#[handler]`: the message type exists; only the `Handler` impl and the mailbox's parts
    /// are generated.
    Handled {
        /// Where rustc's type errors about the handled type's reply point: the method's
        /// return type (its name when it returns `()`), and the message parameter's type.
        output: SpanRange,
        message: SpanRange,
    },
}

/// The first and last token of a piece of the user's code. Code generated with the first
/// token's span at its start and the last one's at its end is spanned, in rustc's errors,
/// over the whole piece (one `Span` covers only the first token on stable Rust).
#[derive(Clone, Copy)]
pub(super) struct SpanRange {
    pub(super) first: Span,
    pub(super) last: Span,
}

impl SpanRange {
    pub(super) fn of(tokens: &impl ToTokens) -> SpanRange {
        let mut trees = tokens.to_token_stream().into_iter();
        let first = trees
            .next()
            .map_or_else(Span::call_site, |tree| tree.span());
        let last = trees.last().map_or(first, |tree| tree.span());
        SpanRange { first, last }
    }
}

/// A parameter of a message method.
pub(super) enum Param {
    /// An argument: a field of the message struct and of the client method.
    Field(Field),
    /// The `&mut Context<Self>` (or `&Context<Self>`): passed through by the handler.
    Context,
    /// The message of a `#[handler]`, passed as it is.
    Message,
}

pub(super) struct Field {
    /// The field's name, and the client method's parameter: the argument's name without
    /// leading underscores (`_sku` → `sku`), which only said the method ignores it.
    pub(super) name: Ident,
    /// The argument's name in the method.
    pub(super) binding: Ident,
    /// The type with `Self` replaced by the actor type.
    pub(super) ty: TokenStream,
}

impl Message {
    pub(super) fn fields(&self) -> impl Iterator<Item = &Field> {
        self.params.iter().filter_map(|param| match param {
            Param::Field(field) => Some(field),
            Param::Context | Param::Message => None,
        })
    }

    /// Whether the method takes the actor's context.
    pub(super) fn takes_context(&self) -> bool {
        self.params.iter().any(|p| matches!(p, Param::Context))
    }

    /// Whether the message is deduplicated by id (`#[message(idempotent)]`).
    pub(super) fn is_idempotent(&self) -> bool {
        matches!(
            self.kind,
            Kind::Generated {
                idempotent: true,
                ..
            }
        )
    }

    /// Whether the message is a `#[handler]`'s.
    pub(super) fn is_handled(&self) -> bool {
        matches!(self.kind, Kind::Handled { .. })
    }
}
