//! Questions about the types in a message method's signature.

use proc_macro2::{Group, TokenStream, TokenTree};
use quote::ToTokens;
use syn::{GenericArgument, Ident, PathArguments, Type};

use super::parse::Marker;
use crate::diagnostics::Errors;

/// Whether `ty` is the actor's context: `&mut Context<..>` or `&Context<..>`, by any path
/// (`Context<Self>`, `snowglobe::Context<Inventory>`).
pub(super) fn is_context(ty: &Type) -> bool {
    let Type::Reference(reference) = ty else {
        return false;
    };
    let Type::Path(path) = ungroup(&reference.elem) else {
        return false;
    };
    path.qself.is_none()
        && path.path.segments.last().is_some_and(|last| {
            last.ident == "Context"
                && matches!(&last.arguments, PathArguments::AngleBracketed(args) if args.args.len() == 1)
        })
}

fn ungroup(ty: &Type) -> &Type {
    match ty {
        Type::Group(group) => ungroup(&group.elem),
        Type::Paren(paren) => ungroup(&paren.elem),
        other => other,
    }
}

/// The mailbox variant of a `#[handler]`'s message type: the type's last path segment
/// (`Terminated` for `snowglobe::Terminated`, `Event` for `Event<u32>`). `None`, reported,
/// when the parameter cannot be a message: a borrow, `impl Trait`, or not a named type.
pub(super) fn handled(ty: &Type, errors: &Errors) -> Option<Ident> {
    match ungroup(ty) {
        Type::Reference(reference) => {
            errors.at(
                reference,
                "a #[handler] takes its message by value (`msg: Ping`), not by reference \
                 (`msg: &Ping`): the mailbox moves each message into its handler, so there is \
                 nothing to borrow it from",
            );
            None
        }
        Type::ImplTrait(impl_trait) => {
            errors.at(
                impl_trait,
                "the message of a #[handler] cannot be `impl Trait`: the actor implements \
                 `Handler` for one concrete message type; name it (`msg: Ping`), or write one \
                 #[handler] per message type",
            );
            None
        }
        Type::Path(path)
            if path.qself.is_none()
                && path.path.segments.last().is_some_and(|last| {
                    last.ident != "Self"
                        && !matches!(last.arguments, PathArguments::Parenthesized(_))
                }) =>
        {
            let reported = errors.count();
            check_owned(ty, Place::Handled, errors);
            let last = path.path.segments.last()?;
            (errors.count() == reported).then(|| last.ident.clone())
        }
        other => {
            errors.at(
                other,
                "the message of a #[handler] is a named type that implements \
                 `snowglobe::Message`, like `msg: Ping` or `msg: events::Ping`: its last path \
                 segment names the actor's mailbox variant",
            );
            None
        }
    }
}

/// Where a type appears, for the wording of its errors.
#[derive(Clone, Copy)]
pub(super) enum Place {
    /// A `#[message]` argument: a field of the generated struct.
    Argument,
    /// The return type of a `#[message]` or `#[handler]` method.
    Reply(Marker),
    /// The message type of a `#[handler]`.
    Handled,
}

/// Reports the parts of `ty` a message cannot hold: borrows (the message outlives the call
/// that sent it) and `impl Trait` (a struct field or an associated type must be nameable).
///
/// Function pointer and trait object types are not looked into: `fn(&str)` and
/// `Box<dyn Fn(&str)>` borrow nothing themselves.
pub(super) fn check_owned(ty: &Type, place: Place, errors: &Errors) {
    match ty {
        Type::Reference(reference) => {
            let is_static = reference
                .lifetime
                .as_ref()
                .is_some_and(|lifetime| lifetime.ident == "static");
            if is_static {
                check_owned(&reference.elem, place, errors);
            } else {
                errors.at(reference, borrowed(place));
            }
        }
        Type::ImplTrait(impl_trait) => errors.at(
            impl_trait,
            match place {
                Place::Argument => {
                    "a #[message] argument cannot be `impl Trait`: it becomes a field of the \
                     message struct, which needs one concrete type; take a concrete type or a \
                     `Box<dyn Trait>`"
                }
                Place::Reply(Marker::Message) => {
                    "a #[message] method cannot return `impl Trait`: the reply type is named in \
                     `Message::Reply`; return a concrete type or a `Box<dyn Trait>`"
                }
                Place::Reply(Marker::Handler) => {
                    "a #[handler] method cannot return `impl Trait`: it returns the handled \
                     message's `Message::Reply`, which is a concrete type; return that type"
                }
                Place::Handled => {
                    "the message type of a #[handler] cannot contain `impl Trait`: the actor \
                     implements `Handler` for one concrete message type; name the types"
                }
            },
        ),
        Type::Path(path) => {
            if let Some(qself) = &path.qself {
                check_owned(&qself.ty, place, errors);
            }
            for segment in &path.path.segments {
                let PathArguments::AngleBracketed(args) = &segment.arguments else {
                    continue;
                };
                for arg in &args.args {
                    match arg {
                        GenericArgument::Type(ty) => check_owned(ty, place, errors),
                        GenericArgument::Lifetime(lifetime) if lifetime.ident != "static" => {
                            errors.at(lifetime, borrowed(place));
                        }
                        GenericArgument::AssocType(assoc) => check_owned(&assoc.ty, place, errors),
                        _ => {}
                    }
                }
            }
        }
        Type::Array(array) => check_owned(&array.elem, place, errors),
        Type::Slice(slice) => check_owned(&slice.elem, place, errors),
        Type::Group(group) => check_owned(&group.elem, place, errors),
        Type::Paren(paren) => check_owned(&paren.elem, place, errors),
        Type::Tuple(tuple) => {
            for elem in &tuple.elems {
                check_owned(elem, place, errors);
            }
        }
        _ => {}
    }
}

fn borrowed(place: Place) -> &'static str {
    match place {
        Place::Argument => {
            "a message must own its data: this argument borrows from the caller, but the \
             message is handled later, on the actor's task; take an owned type instead \
             (`String` for `&str`, `Vec<T>` for `&[T]`, `T` for `&T`)"
        }
        Place::Reply(_) => {
            "a reply must own its data: it is sent to the asker's task, so it cannot borrow \
             from the actor; return an owned value (clone it, or share it in an `Arc`)"
        }
        Place::Handled => {
            "a message must own its data: this type borrows, but the message waits in the \
             actor's mailbox and is handled later, on the actor's task; use an owned type \
             (`String` for `&str`, `Vec<T>` for `&[T]`, `T` for `&T`)"
        }
    }
}

/// `ty` as tokens, with every `Self` replaced by the actor type: the generated structs and
/// trait live outside the impl block, where `Self` means something else or nothing.
pub(super) fn replace_self(ty: &impl ToTokens, actor: &Type) -> TokenStream {
    replace_in(ty.to_token_stream(), actor)
}

fn replace_in(tokens: TokenStream, actor: &Type) -> TokenStream {
    tokens
        .into_iter()
        .flat_map(|tree| match tree {
            TokenTree::Ident(ident) if ident == "Self" => actor.to_token_stream(),
            TokenTree::Group(group) => {
                let mut replaced = Group::new(group.delimiter(), replace_in(group.stream(), actor));
                replaced.set_span(group.span());
                TokenTree::Group(replaced).into()
            }
            other => other.into(),
        })
        .collect()
}
