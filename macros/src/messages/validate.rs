//! Checking a `#[messages]` block and its `#[message]` and `#[handler]` methods, and building
//! the [`Model`] the expansion is written from.

use std::collections::HashMap;
use std::fmt;

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, format_ident};
use syn::ext::IdentExt;
use syn::{Ident, ImplItem, ItemImpl, Type, Visibility};

use super::model::{Actor, Message, Model};
use super::parse::{Marked, Marker, Options};
use super::signature;
use crate::diagnostics::Errors;

/// Methods every `ActorRef` already has. A client method of the same name would never be
/// called: an inherent method wins over a trait method, and `clone` (whose trait is in the
/// prelude) would be ambiguous. Keep in step with `runtime/src/address/actor_ref.rs`.
const ACTOR_REF_METHODS: &[&str] = &[
    "ask",
    "clone",
    "downgrade",
    "id",
    "is_alive",
    "kill",
    "mailbox_capacity",
    "mailbox_len",
    "name",
    "recipient",
    "restarts",
    "state",
    "stop",
    "stopped",
    "tell",
    "try_tell",
];

/// Checks the block and every marked method. Returns `None` when nothing can be generated
/// (the actor type is unusable or the block is generic); otherwise the model holds the
/// messages without mistakes, which may be none.
///
/// A `#[message]` method's struct name is checked before its signature (a clash is reported
/// even when the signature has mistakes too); a `#[handler]`'s variant comes from its
/// signature, so it is checked after.
pub(super) fn model(
    block: &ItemImpl,
    marked: Vec<Marked>,
    options: Options,
    errors: &Errors,
) -> Option<Model> {
    let actor = actor(block, errors);
    if marked.is_empty() {
        errors.at_span(
            Span::call_site(),
            "this #[messages] block has no #[message] or #[handler] methods: mark each method \
             that handles a message with #[message], or with #[handler] when it takes a message \
             type that exists already",
        );
    }
    let vis = match options.vis {
        Some(vis) => vis,
        None => widest(block, &marked, errors),
    };
    let actor = actor?;
    let client = marked.is_empty() || marked.iter().any(|m| m.marker == Marker::Message);

    // What each name the messages want belongs to, to say so when another one wants it too.
    // The generated structs share the module's namespace with the actor, the enum and the
    // trait (`items`); the mailbox variants are the structs' names and the handled types'
    // last segments (`variants`).
    let mut items: HashMap<String, Owner> = HashMap::from([
        (actor.name.to_string(), Owner::Actor),
        (actor.mailbox.to_string(), Owner::Mailbox),
        (actor.client.to_string(), Owner::Client),
    ]);
    let mut variants: HashMap<String, Owner> = HashMap::new();
    let mut messages = Vec::new();
    for mut marked in marked {
        marked.idempotent |= options.idempotent;
        let ImplItem::Fn(method) = &block.items[marked.index] else {
            unreachable!("invariant: `parse::take_markers` only returns methods");
        };
        let method_name = method.sig.ident.unraw().to_string();
        if marked.marker == Marker::Handler {
            let Some(message) = signature::handler(method, &actor.ty, errors) else {
                continue;
            };
            if variant_taken(&message, &variants, errors) {
                continue;
            }
            variants.insert(
                message.name.to_string(),
                Owner::Handled {
                    method: method_name,
                    ty: spelled_type(&message.ty),
                },
            );
            messages.push(message);
            continue;
        }

        let Some(name) = struct_name(&method.sig.ident, marked.name.clone(), errors) else {
            continue;
        };
        if ACTOR_REF_METHODS.contains(&method_name.as_str()) {
            errors.at(
                &method.sig.ident,
                format!(
                    "a #[message] method cannot be named `{method_name}`: its client method \
                     would be hidden by `ActorRef::{method_name}`; rename the method"
                ),
            );
            continue;
        }
        let key = name.to_string();
        if let Some(owner) = items.get(&key).or_else(|| variants.get(&key)) {
            errors.at(
                &name,
                format!(
                    "`{name}` is already {owner}; give this message another name with \
                     #[message(name = ...)]"
                ),
            );
            continue;
        }
        items.insert(key.clone(), Owner::Struct(method_name.clone()));
        variants.insert(key, Owner::Struct(method_name));
        if let Some(message) = signature::message(method, marked, name, &actor.ty, errors) {
            messages.push(message);
        }
    }
    Some(Model {
        actor,
        vis,
        messages,
        client,
    })
}

/// What a name is already used for.
enum Owner {
    Actor,
    Mailbox,
    Client,
    /// The struct (and variant) of a `#[message]` method.
    Struct(String),
    /// The variant of a `#[handler]` method's message type, as it is spelled.
    Handled {
        method: String,
        ty: String,
    },
}

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Owner::Actor => f.write_str("the actor's name"),
            Owner::Mailbox => f.write_str("the name of the mailbox enum"),
            Owner::Client => f.write_str("the name of the client trait"),
            Owner::Struct(method) => write!(f, "the message struct of `{method}`"),
            Owner::Handled { method, ty } => {
                write!(f, "the mailbox variant of `{ty}`, which `{method}` handles")
            }
        }
    }
}

/// Reports a `#[handler]` whose mailbox variant another message has already; `true` if so.
///
/// Only variants can clash: a handled type is no new item, so it may share its name with the
/// actor, the enum or the trait.
fn variant_taken(message: &Message, variants: &HashMap<String, Owner>, errors: &Errors) -> bool {
    let (name, ty) = (&message.name, spelled_type(&message.ty));
    let text = match variants.get(&name.to_string()) {
        None => return false,
        Some(Owner::Handled { method, ty: other }) if *other == ty => format!(
            "`{ty}` is already handled by `{method}`: an actor has one handler per message \
             type; keep one of the two methods"
        ),
        Some(Owner::Handled { method, ty: other }) => format!(
            "`{ty}` and `{other}` (which `{method}` handles) would both be the mailbox variant \
             `{name}`: a variant is named after the type's last path segment. If they are the \
             same type, keep one handler; if not, handle this one through a type alias with \
             another name (`type Other{name} = {ty};`)"
        ),
        Some(Owner::Struct(method)) => format!(
            "`{name}` is already the message struct of `{method}`, and so its mailbox variant; \
             rename that message with #[message(name = ...)], or handle this type through a \
             type alias with another name (`type Other{name} = {ty};`)"
        ),
        Some(Owner::Actor | Owner::Mailbox | Owner::Client) => {
            unreachable!("invariant: `variants` holds only messages")
        }
    };
    errors.at(&message.ty, text);
    true
}

/// A type as a user writes it (`events::Event<u32>`), for diagnostics and for comparing two
/// handled types.
fn spelled_type(ty: &TokenStream) -> String {
    ty.to_string()
        .replace(" :: ", "::")
        .replace(":: ", "::")
        .replace(" <", "<")
        .replace("< ", "<")
        .replace(" >", ">")
        .replace(" ,", ",")
}

/// Checks the block itself; returns the actor unless nothing can be generated for it.
fn actor(block: &ItemImpl, errors: &Errors) -> Option<Actor> {
    let mut usable = true;
    if let Some((path, _)) = &block.trait_ {
        errors.at(
            path,
            "#[messages] goes on an inherent impl block (`impl Inventory { ... }`), not on a \
             trait impl: the messages are the actor's own methods",
        );
    }
    if let Some(unsafe_token) = &block.unsafety {
        errors.at(
            unsafe_token,
            "a #[messages] block cannot be `unsafe impl`: `unsafe impl` is for unsafe traits, \
             and this is the actor's own impl block; remove `unsafe`",
        );
    }
    if let Err(error) = block.modifiers.require_empty() {
        errors.push(error);
    }
    if !block.generics.params.is_empty() {
        errors.at(
            &block.generics,
            "a #[messages] block cannot be generic: its messages and mailbox enum are for one \
             concrete actor type; write the block for a concrete type (`impl Cache<String>`), or \
             implement `Handler` and `Dispatch` by hand",
        );
        usable = false;
    }
    if let Some(where_clause) = &block.generics.where_clause {
        errors.at(
            where_clause,
            "a #[messages] block cannot have a `where` clause: the generated items have no \
             place to repeat it; move the bounds onto the actor type",
        );
    }
    let name = match &*block.self_ty {
        Type::Path(path) if path.qself.is_none() => path.path.segments.last().map(|s| &s.ident),
        _ => None,
    };
    let Some(name) = name else {
        errors.at(
            &block.self_ty,
            "#[messages] needs the actor type after `impl`, like `impl Inventory { ... }`",
        );
        return None;
    };
    let name = name.unraw();
    usable.then(|| Actor {
        ty: (*block.self_ty).clone(),
        mailbox: format_ident!("{}Msg", name, span = Span::call_site()),
        client: format_ident!("{}Client", name, span = Span::call_site()),
        name,
    })
}

/// The struct name of a message: `#[message(name = ...)]`, or the method name in `PascalCase`
/// (`reserve` → `Reserve`, `get_stock` → `GetStock`). Spanned at the method, so that errors
/// about the struct and "go to definition" lead there.
fn struct_name(method: &Ident, chosen: Option<Ident>, errors: &Errors) -> Option<Ident> {
    if chosen.is_some() {
        return chosen;
    }
    let pascal: String = method
        .unraw()
        .to_string()
        .split('_')
        .filter(|word| !word.is_empty())
        .map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|first| first.to_uppercase().chain(chars).collect::<String>())
                .unwrap_or_default()
        })
        .collect();
    match syn::parse_str::<Ident>(&pascal) {
        Ok(mut name) => {
            name.set_span(method.span());
            Some(name)
        }
        Err(_) => {
            errors.at(
                method,
                format!(
                    "cannot make a struct name out of `{method}`; name the message with \
                     #[message(name = ...)]"
                ),
            );
            None
        }
    }
}

/// The default visibility of the generated items: the widest among the `#[message]` and
/// `#[handler]` methods.
///
/// The structs, the mailbox enum and the client trait all mention each other, so they share
/// one visibility; taking the widest method's keeps every message reachable wherever its
/// method is. Visibilities that do not contain one another (`pub(super)` and
/// `pub(in crate::a)`) cannot be ordered; the user then chooses with `vis = ...`.
fn widest(block: &ItemImpl, marked: &[Marked], errors: &Errors) -> Visibility {
    let mut widest: Option<&Visibility> = None;
    for marked in marked {
        let ImplItem::Fn(method) = &block.items[marked.index] else {
            continue;
        };
        let vis = &method.vis;
        let Some(current) = widest else {
            widest = Some(vis);
            continue;
        };
        match rank(vis).cmp(&rank(current)) {
            std::cmp::Ordering::Greater => widest = Some(vis),
            std::cmp::Ordering::Less => {}
            std::cmp::Ordering::Equal => {
                let (a, b) = (spelled(vis), spelled(current));
                if rank(vis) == Rank::Restricted && a != b {
                    errors.at(
                        vis,
                        format!(
                            "the #[message] methods have visibilities `{b}` and `{a}`, and \
                             neither contains the other; choose the visibility of the generated \
                             items with #[messages(vis = ...)]"
                        ),
                    );
                }
            }
        }
    }
    widest.cloned().unwrap_or(Visibility::Inherited)
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Rank {
    Private,
    Restricted,
    Crate,
    Public,
}

fn rank(vis: &Visibility) -> Rank {
    match vis {
        Visibility::Public(_) => Rank::Public,
        Visibility::Restricted(r) if r.path.is_ident("crate") => Rank::Crate,
        Visibility::Restricted(r) if r.path.is_ident("self") => Rank::Private,
        Visibility::Restricted(_) => Rank::Restricted,
        _ => Rank::Private,
    }
}

/// `pub(super)` and `pub(in super)` alike, for comparing and for messages.
fn spelled(vis: &Visibility) -> String {
    match vis {
        Visibility::Restricted(r) => {
            let path = r.path.to_token_stream().to_string().replace(' ', "");
            if r.path.is_ident("super") {
                format!("pub({path})")
            } else {
                format!("pub(in {path})")
            }
        }
        other => other.to_token_stream().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name_of(method: &str) -> Option<String> {
        let errors = Errors::new();
        let method: Ident = syn::parse_str(method).unwrap();
        let name = struct_name(&method, None, &errors).map(|name| name.to_string());
        let _ = errors.finish();
        name
    }

    #[test]
    fn struct_names_are_the_method_names_in_pascal_case() {
        assert_eq!(name_of("reserve").as_deref(), Some("Reserve"));
        assert_eq!(name_of("get_stock_level").as_deref(), Some("GetStockLevel"));
        assert_eq!(name_of("r#type").as_deref(), Some("Type"));
        assert_eq!(name_of("__private_call").as_deref(), Some("PrivateCall"));
        assert_eq!(name_of("add_2").as_deref(), Some("Add2"));
        assert_eq!(name_of("fetchURL").as_deref(), Some("FetchURL"));
        assert_eq!(name_of("_1"), None, "not an identifier");
        assert_eq!(name_of("self_"), None, "`Self` is a keyword");
    }

    /// The list above must name every public method of `ActorRef`: a message method named like
    /// one that is missing would get a client method nobody can call.
    #[test]
    fn actor_ref_methods_are_all_listed() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../runtime/src/address/actor_ref.rs"
        );
        let source = std::fs::read_to_string(path).expect("the runtime sits beside the macros");
        let file: syn::File = syn::parse_str(&source).expect("actor_ref.rs parses");
        let mut found = Vec::new();
        for item in &file.items {
            let syn::Item::Impl(block) = item else {
                continue;
            };
            let is_actor_ref = matches!(&*block.self_ty, Type::Path(p)
                if p.path.segments.last().is_some_and(|s| s.ident == "ActorRef"));
            if block.trait_.is_some() || !is_actor_ref {
                continue;
            }
            for item in &block.items {
                if let ImplItem::Fn(method) = item
                    && matches!(method.vis, Visibility::Public(_))
                {
                    found.push(method.sig.ident.to_string());
                }
            }
        }
        assert!(
            found.len() > 5,
            "found too few methods, is the parse right? {found:?}"
        );
        for name in found {
            assert!(
                ACTOR_REF_METHODS.contains(&name.as_str()),
                "`ActorRef::{name}` is missing from ACTOR_REF_METHODS"
            );
        }
    }
}
