//! Checking one `#[message]` or `#[handler]` method's signature and turning it into a
//! [`Message`].

use quote::ToTokens;
use syn::ext::IdentExt;
use syn::{FnArg, Ident, ImplItemFn, Pat, ReceiverKind, ReturnType, Safety, Type};

use super::model::{Field, Kind, Message, Param, SpanRange};
use super::parse::{Marked, Marker};
use super::types::{Place, check_owned, handled, is_context, replace_self};
use crate::diagnostics::Errors;

/// Checks the `#[message]` method `method` and describes it; `None` when it has a mistake
/// (reported to `errors`). Every check runs, so that all mistakes of a method are reported
/// together.
pub(super) fn message(
    method: &ImplItemFn,
    marked: Marked,
    name: Ident,
    actor: &Type,
    errors: &Errors,
) -> Option<Message> {
    let reported = errors.count();
    let sig = &method.sig;
    header(method, Marker::Message, errors);
    let params = params(method, actor, errors);
    let reply = reply(&sig.output, Marker::Message, actor, errors);

    if errors.count() > reported {
        return None;
    }
    Some(Message {
        method: sig.ident.clone(),
        ty: name.to_token_stream(),
        name,
        kind: Kind::Generated {
            derives: marked.derives,
            idempotent: marked.idempotent,
        },
        docs: copied(method, "doc"),
        cfgs: copied(method, "cfg"),
        is_async: sig.asyncness.is_some(),
        params,
        reply,
    })
}

/// Checks the `#[handler]` method `method` and describes it, like [`message`].
pub(super) fn handler(method: &ImplItemFn, actor: &Type, errors: &Errors) -> Option<Message> {
    let reported = errors.count();
    let sig = &method.sig;
    header(method, Marker::Handler, errors);
    let handled = handler_params(method, actor, errors);
    let reply = reply(&sig.output, Marker::Handler, actor, errors);

    let (params, handled) = handled?;
    if errors.count() > reported {
        return None;
    }
    let output = match &sig.output {
        ReturnType::Type(_, ty) => SpanRange::of(ty),
        ReturnType::Default => SpanRange::of(&sig.ident),
    };
    Some(Message {
        method: sig.ident.clone(),
        name: handled.name,
        ty: handled.ty,
        kind: Kind::Handled {
            output,
            message: handled.span,
        },
        docs: copied(method, "doc"),
        cfgs: copied(method, "cfg"),
        is_async: sig.asyncness.is_some(),
        params,
        reply,
    })
}

/// What every marked method is checked for besides its parameters and return type: the
/// receiver, and no `unsafe`, ABI, generics or variadics.
fn header(method: &ImplItemFn, marker: Marker, errors: &Errors) {
    let sig = &method.sig;
    receiver(method, marker, errors);
    if let Safety::Unsafe(unsafe_token) = &sig.safety {
        errors.at(
            unsafe_token,
            format!(
                "a {marker} method cannot be `unsafe`: any sender can make the actor call it, \
                 so no caller is there to uphold its safety contract; make it safe, with the \
                 `unsafe` block inside"
            ),
        );
    }
    if let Some(abi) = &sig.abi {
        errors.at(
            abi,
            format!(
                "a {marker} method cannot be `extern`: the generated handler calls it as a \
                 plain Rust method; remove the ABI"
            ),
        );
    }
    let why = match marker {
        Marker::Message => "each message is one concrete struct that owns its data",
        Marker::Handler => "the actor implements `Handler` for one concrete message type",
    };
    if !sig.generics.params.is_empty() {
        errors.at(
            &sig.generics,
            format!(
                "{marker} methods cannot have generic parameters (type, lifetime or const): \
                 {why}; use concrete types"
            ),
        );
    }
    if let Some(where_clause) = &sig.generics.where_clause {
        let why = match marker {
            Marker::Message => "each message is one concrete struct",
            Marker::Handler => why,
        };
        errors.at(
            where_clause,
            format!("{marker} methods cannot have a `where` clause: {why}; use concrete types"),
        );
    }
    if let Some(variadic) = &sig.variadic {
        errors.at(variadic, format!("{marker} methods cannot be variadic"));
    }
}

/// The return type with `Self` replaced, `None` for `()`; checked to own its data.
fn reply(
    output: &ReturnType,
    marker: Marker,
    actor: &Type,
    errors: &Errors,
) -> Option<proc_macro2::TokenStream> {
    match output {
        ReturnType::Default => None,
        ReturnType::Type(_, ty) => {
            check_owned(ty, Place::Reply(marker), errors);
            Some(replace_self(ty, actor))
        }
    }
}

/// `&self` and `&mut self` (also spelled `self: &Self`, `self: &mut Self`) are the receivers
/// a handler holding `&mut self` can call the method with.
fn receiver(method: &ImplItemFn, marker: Marker, errors: &Errors) {
    let sig = &method.sig;
    let Some(receiver) = sig.receiver() else {
        errors.at(
            &sig.ident,
            format!(
                "a {marker} method takes `&self` or `&mut self`, but `{}` has no receiver: \
                 the generated handler calls it on the actor",
                sig.ident
            ),
        );
        return;
    };
    let by_reference = match &receiver.kind {
        ReceiverKind::Reference(..) => true,
        ReceiverKind::Typed(_, ty) => {
            matches!(&**ty, Type::Reference(r) if matches!(&*r.elem, Type::Path(p) if p.path.is_ident("Self")))
        }
        _ => false,
    };
    if !by_reference {
        errors.at(
            receiver,
            format!(
                "a {marker} method takes `&mut self` (or `&self`), not `self` by value: the \
                 actor keeps its state between messages, so a handler cannot consume it"
            ),
        );
    }
}

/// The parameters after the receiver: the actor's context, or arguments that become fields.
fn params(method: &ImplItemFn, actor: &Type, errors: &Errors) -> Vec<Param> {
    let mut params = Vec::new();
    let mut has_context = false;
    for input in &method.sig.inputs {
        let FnArg::Typed(arg) = input else {
            continue;
        };
        if is_context(&arg.ty) {
            if has_context {
                errors.at(
                    &arg.ty,
                    "this method already takes the actor's context; take it once",
                );
            }
            has_context = true;
            params.push(Param::Context);
            continue;
        }
        if let Some(attr) = arg.attrs.first() {
            errors.at(
                attr,
                "#[message] arguments cannot have attributes: each argument becomes a field of \
                 the message struct as it is",
            );
        }
        let name = match &*arg.pat {
            Pat::Ident(pat) if pat.by_ref.is_none() && pat.subpat.is_none() => {
                Some(pat.ident.clone())
            }
            other => {
                errors.at(
                    other,
                    "use a plain name for a #[message] argument (like `sku: u32`); it becomes a \
                     field of the message struct",
                );
                None
            }
        };
        check_owned(&arg.ty, Place::Argument, errors);
        if let Some(binding) = name {
            params.push(Param::Field(Field {
                name: binding.clone(),
                binding,
                ty: replace_self(&arg.ty, actor),
            }));
        }
    }
    strip_underscores(&mut params);
    params
}

/// The message a `#[handler]` takes: its type as the generated code names it, and the
/// mailbox variant it gets.
struct Handled {
    name: Ident,
    ty: proc_macro2::TokenStream,
    span: SpanRange,
}

/// The parameters of a `#[handler]` after the receiver: the actor's context, and exactly one
/// message, by value. `None` when the message is missing or cannot be one (reported).
fn handler_params(
    method: &ImplItemFn,
    actor: &Type,
    errors: &Errors,
) -> Option<(Vec<Param>, Handled)> {
    let mut params = Vec::new();
    let mut has_context = false;
    let mut message: Option<Option<Handled>> = None;
    for input in &method.sig.inputs {
        let FnArg::Typed(arg) = input else {
            continue;
        };
        if is_context(&arg.ty) {
            if has_context {
                errors.at(
                    &arg.ty,
                    "this method already takes the actor's context; take it once",
                );
            }
            has_context = true;
            params.push(Param::Context);
            continue;
        }
        if message.is_some() {
            errors.at(
                arg,
                "a #[handler] method takes one message, and the actor's context if it needs \
                 it; this parameter is one too many: put the values in one message type, or use \
                 #[message], which makes a message struct of its arguments",
            );
            continue;
        }
        if let Some(attr) = arg.attrs.first() {
            errors.at(
                attr,
                "the message parameter of a #[handler] cannot have attributes: the generated \
                 handler passes the message to the method as it is",
            );
        }
        let handled = handled(&arg.ty, errors).map(|mut name| {
            // Spanned at the method, like the struct names of `#[message]`s.
            name.set_span(method.sig.ident.span());
            Handled {
                name,
                ty: replace_self(&arg.ty, actor),
                span: SpanRange::of(&arg.ty),
            }
        });
        message = Some(handled);
        params.push(Param::Message);
    }
    match message {
        Some(handled) => handled.map(|handled| (params, handled)),
        None => {
            errors.at(
                &method.sig.ident,
                format!(
                    "the #[handler] method `{}` takes no message: add the message it handles as \
                     a parameter, like `msg: Ping`, of a type that implements \
                     `snowglobe::Message`",
                    method.sig.ident.unraw()
                ),
            );
            None
        }
    }
}

/// Names the fields of `_sku` arguments `sku`, unless another argument already has that name.
fn strip_underscores(params: &mut [Param]) {
    let taken: Vec<String> = params
        .iter()
        .filter_map(|param| match param {
            Param::Field(field) => Some(field.binding.unraw().to_string()),
            Param::Context | Param::Message => None,
        })
        .collect();
    for param in params {
        let Param::Field(field) = param else {
            continue;
        };
        let binding = field.binding.unraw().to_string();
        let stripped = binding.trim_start_matches('_');
        if stripped.len() < binding.len()
            && !taken.iter().any(|name| name == stripped)
            && let Ok(name) = syn::parse_str::<syn::Ident>(stripped)
        {
            field.name = syn::Ident::new(&name.to_string(), field.binding.span());
        }
    }
}

/// The method's attributes named `name` (`doc`, `cfg`), to copy onto generated items.
fn copied(method: &ImplItemFn, name: &str) -> Vec<syn::Attribute> {
    method
        .attrs
        .iter()
        .filter(|attr| attr.path().is_ident(name))
        .cloned()
        .collect()
}
