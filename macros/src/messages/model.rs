//! What `validate` hands to `expand`: the checked block, in the terms of the generated code.

use proc_macro2::TokenStream;
use syn::{Attribute, Ident, Path, Type, Visibility};

/// A `#[messages]` block, checked.
pub(super) struct Model {
    pub(super) actor: Actor,
    /// The visibility of every generated item (structs, their fields, enum, client trait).
    pub(super) vis: Visibility,
    /// The valid `#[message]` methods, in source order. May be empty when every method had
    /// a mistake: the mailbox is still generated, empty, so the actor's other uses compile.
    pub(super) messages: Vec<Message>,
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

/// One `#[message]` method.
pub(super) struct Message {
    /// `reserve`.
    pub(super) method: Ident,
    /// `Reserve`, or the `#[message(name = ...)]`.
    pub(super) name: Ident,
    /// The method's `#[doc]` attributes, copied to the struct and the client method.
    pub(super) docs: Vec<Attribute>,
    /// The method's `#[cfg]` attributes, copied to everything generated for it.
    pub(super) cfgs: Vec<Attribute>,
    /// `#[message(derive(...))]`.
    pub(super) derives: Vec<Path>,
    pub(super) is_async: bool,
    /// The parameters after the receiver, in order.
    pub(super) params: Vec<Param>,
    /// The return type with `Self` replaced by the actor type; `None` for `()`.
    pub(super) reply: Option<TokenStream>,
}

/// A parameter of a message method.
pub(super) enum Param {
    /// An argument: a field of the message struct and of the client method.
    Field(Field),
    /// The `&mut Context<Self>` (or `&Context<Self>`): passed through by the handler.
    Context,
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
            Param::Context => None,
        })
    }
}
