//! Checking one `#[message]` method's signature and turning it into a [`Message`].

use syn::ext::IdentExt;
use syn::{FnArg, ImplItemFn, Pat, ReceiverKind, ReturnType, Safety, Type};

use super::model::{Field, Message, Param};
use super::parse::Marked;
use super::types::{Place, check_owned, is_context, replace_self};
use crate::diagnostics::Errors;

/// Checks `method` and describes it; `None` when it has a mistake (reported to `errors`).
/// Every check runs, so that all mistakes of a method are reported together.
pub(super) fn message(
    method: &ImplItemFn,
    marked: Marked,
    name: syn::Ident,
    actor: &Type,
    errors: &Errors,
) -> Option<Message> {
    let reported = errors.count();
    let sig = &method.sig;

    receiver(method, errors);
    if let Safety::Unsafe(unsafe_token) = &sig.safety {
        errors.at(
            unsafe_token,
            "a #[message] method cannot be `unsafe`: any sender can make the actor call it, so \
             no caller is there to uphold its safety contract; make it safe, with the `unsafe` \
             block inside",
        );
    }
    if let Some(abi) = &sig.abi {
        errors.at(
            abi,
            "a #[message] method cannot be `extern`: the generated handler calls it as a plain \
             Rust method; remove the ABI",
        );
    }
    if !sig.generics.params.is_empty() {
        errors.at(
            &sig.generics,
            "#[message] methods cannot have generic parameters (type, lifetime or const): each \
             message is one concrete struct that owns its data; use concrete types",
        );
    }
    if let Some(where_clause) = &sig.generics.where_clause {
        errors.at(
            where_clause,
            "#[message] methods cannot have a `where` clause: each message is one concrete \
             struct; use concrete types",
        );
    }
    if let Some(variadic) = &sig.variadic {
        errors.at(variadic, "#[message] methods cannot be variadic");
    }

    let params = params(method, actor, errors);
    let reply = match &sig.output {
        ReturnType::Default => None,
        ReturnType::Type(_, ty) => {
            check_owned(ty, Place::Reply, errors);
            Some(replace_self(ty, actor))
        }
    };

    if errors.count() > reported {
        return None;
    }
    Some(Message {
        method: sig.ident.clone(),
        name,
        docs: copied(method, "doc"),
        cfgs: copied(method, "cfg"),
        derives: marked.derives,
        is_async: sig.asyncness.is_some(),
        params,
        reply,
    })
}

/// `&self` and `&mut self` (also spelled `self: &Self`, `self: &mut Self`) are the receivers
/// a handler holding `&mut self` can call the method with.
fn receiver(method: &ImplItemFn, errors: &Errors) {
    let sig = &method.sig;
    let Some(receiver) = sig.receiver() else {
        errors.at(
            &sig.ident,
            format!(
                "a #[message] method takes `&self` or `&mut self`, but `{}` has no receiver: \
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
            "a #[message] method takes `&mut self` (or `&self`), not `self` by value: the actor \
             keeps its state between messages, so a handler cannot consume it",
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

/// Names the fields of `_sku` arguments `sku`, unless another argument already has that name.
fn strip_underscores(params: &mut [Param]) {
    let taken: Vec<String> = params
        .iter()
        .filter_map(|param| match param {
            Param::Field(field) => Some(field.binding.unraw().to_string()),
            Param::Context => None,
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
