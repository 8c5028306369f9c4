//! Reading a `#[messages]` block: the block's options, and which methods carry `#[message]` or
//! `#[handler]` with which options. Nothing here judges the methods themselves; `validate`
//! does.

use std::fmt;

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::parse::Parser;
use syn::{Attribute, Ident, ImplItem, ItemImpl, Meta, Path, Visibility, parse_quote};

use crate::diagnostics::{Errors, duplicate_option, skip_value, unknown_option};

/// `#[messages(vis = pub(crate), idempotent)]`.
#[derive(Default)]
pub(super) struct Options {
    /// The visibility of every generated item, when set.
    pub(super) vis: Option<Visibility>,
    /// Every `#[message]` of the block is `#[message(idempotent)]`.
    pub(super) idempotent: bool,
}

/// Reads the arguments of `#[messages(...)]`.
pub(super) fn options(args: TokenStream, errors: &Errors) -> Options {
    let mut options = Options::default();
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("vis") {
            if options.vis.is_some() {
                return duplicate_option(errors, &meta, "messages");
            }
            options.vis = Some(meta.value()?.parse()?);
            Ok(())
        } else if meta.path.is_ident("idempotent") {
            if options.idempotent {
                return duplicate_option(errors, &meta, "messages");
            }
            options.idempotent = true;
            Ok(())
        } else {
            unknown_option(
                errors,
                &meta,
                "messages",
                "`vis = <visibility>` and `idempotent`",
            )
        }
    });
    if let Err(error) = parser.parse2(args) {
        errors.push(error);
    }
    options
}

/// The markers `#[messages]` reads on the methods of its block.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Marker {
    /// `#[message]`: a message struct is generated from the method's arguments.
    Message,
    /// `#[handler]`: the method handles a message type that exists already.
    Handler,
}

impl fmt::Display for Marker {
    /// `#[message]` or `#[handler]`, as diagnostics spell the marker.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Marker::Message => "#[message]",
            Marker::Handler => "#[handler]",
        })
    }
}

/// One method marked `#[message]` or `#[handler]`, with the marker's options.
pub(super) struct Marked {
    /// Where the method sits in the block's items.
    pub(super) index: usize,
    pub(super) marker: Marker,
    /// `#[message(name = Other)]`.
    pub(super) name: Option<Ident>,
    /// `#[message(derive(Clone, Debug))]`.
    pub(super) derives: Vec<Path>,
    /// `#[message(idempotent)]`.
    pub(super) idempotent: bool,
}

/// Removes every `#[message]` and `#[handler]` marker from the block and returns the methods
/// that had one. Each of these methods gets `#[allow(clippy::needless_pass_by_value)]`
/// instead.
///
/// The markers must go whatever else is wrong: left in place, each would expand the `message`
/// or `handler` attribute macro, whose only job is to report a marker outside a `#[messages]`
/// block.
pub(super) fn take_markers(block: &mut ItemImpl, errors: &Errors) -> Vec<Marked> {
    let mut marked = Vec::new();
    for (index, item) in block.items.iter_mut().enumerate() {
        let Some(attrs) = attrs_mut(item) else {
            continue;
        };
        let (markers, others): (Vec<Attribute>, Vec<Attribute>) = std::mem::take(attrs)
            .into_iter()
            .partition(|attr| marker_of(attr).is_some());
        *attrs = others;
        let Some((first, repeated)) = markers.split_first() else {
            continue;
        };
        let Some(marker) = marker_of(first) else {
            unreachable!("invariant: the partition above keeps only markers");
        };
        let ImplItem::Fn(method) = item else {
            errors.at(
                first,
                format!("{marker} goes on methods; this item is not a method"),
            );
            continue;
        };
        for extra in repeated {
            if marker_of(extra) == Some(marker) {
                errors.at(
                    extra,
                    format!("this method is already marked {marker}; keep one marker"),
                );
            } else {
                errors.at(
                    extra,
                    "a method is marked either #[message] (its arguments become a new message \
                     struct) or #[handler] (it takes a message type that exists already), not \
                     both; keep one marker",
                );
            }
        }
        // The message's data is taken by value because the macro requires it (a message owns
        // its data); clippy's `needless_pass_by_value` would suggest a reference the macro
        // then rejects.
        method
            .attrs
            .push(parse_quote!(#[allow(clippy::needless_pass_by_value)]));
        let (name, derives, idempotent) = match marker {
            Marker::Message => marker_options(first, errors),
            Marker::Handler => {
                no_options(first, errors);
                (None, Vec::new(), false)
            }
        };
        marked.push(Marked {
            index,
            marker,
            name,
            derives,
            idempotent,
        });
    }
    marked
}

/// The attributes of the items a marker could be put on.
fn attrs_mut(item: &mut ImplItem) -> Option<&mut Vec<Attribute>> {
    match item {
        ImplItem::Fn(item) => Some(&mut item.attrs),
        ImplItem::Const(item) => Some(&mut item.attrs),
        ImplItem::Type(item) => Some(&mut item.attrs),
        ImplItem::Macro(item) => Some(&mut item.attrs),
        _ => None,
    }
}

/// Which marker `attr` is: `#[message]`, `#[snowglobe::message]` or `#[::snowglobe::message]`,
/// and the same for `handler`.
fn marker_of(attr: &Attribute) -> Option<Marker> {
    let path = attr.path();
    let names: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
    let last = match names.as_slice() {
        [only] if path.leading_colon.is_none() => only,
        [krate, last] if krate == "snowglobe" => last,
        _ => return None,
    };
    match last.as_str() {
        "message" => Some(Marker::Message),
        "handler" => Some(Marker::Handler),
        _ => None,
    }
}

/// `#[handler]` has no options: the handled type is the method's parameter, and names the
/// mailbox variant.
fn no_options(attr: &Attribute, errors: &Errors) {
    match &attr.meta {
        Meta::Path(_) => {}
        Meta::NameValue(meta) => errors.at(
            meta.eq_token,
            "#[handler] takes no options: the message type is the method's parameter, so write \
             plain `#[handler]`",
        ),
        Meta::List(_) => {
            let parsed = attr.parse_nested_meta(|meta| {
                let name = meta.path.to_token_stream().to_string().replace(' ', "");
                errors.at(
                    &meta.path,
                    format!(
                        "unknown option `{name}` in #[handler(...)]; #[handler] takes no \
                         options: the message type is the method's parameter, and its last \
                         path segment names the mailbox variant (for another variant name, \
                         handle a type alias of the type)"
                    ),
                );
                skip_value(&meta)
            });
            if let Err(error) = parsed {
                errors.push(error);
            }
        }
    }
}

/// Reads `#[message]`, `#[message(name = X, derive(A, B), idempotent)]`.
fn marker_options(attr: &Attribute, errors: &Errors) -> (Option<Ident>, Vec<Path>, bool) {
    let mut name = None;
    let mut derives: Option<Vec<Path>> = None;
    let mut idempotent = false;
    match &attr.meta {
        Meta::Path(_) => {}
        Meta::NameValue(meta) => errors.at(
            meta.eq_token,
            "#[message] takes options in parentheses, like `#[message(name = Other)]`",
        ),
        Meta::List(_) => {
            let parsed = attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("name") {
                    if name.is_some() {
                        return duplicate_option(errors, &meta, "message");
                    }
                    name = Some(meta.value()?.parse::<Ident>()?);
                } else if meta.path.is_ident("derive") {
                    if derives.is_some() {
                        return duplicate_option(errors, &meta, "message");
                    }
                    let mut list = Vec::new();
                    meta.parse_nested_meta(|derive| {
                        list.push(derive.path);
                        Ok(())
                    })?;
                    derives = Some(list);
                } else if meta.path.is_ident("idempotent") {
                    if idempotent {
                        return duplicate_option(errors, &meta, "message");
                    }
                    idempotent = true;
                } else {
                    return unknown_option(
                        errors,
                        &meta,
                        "message",
                        "`name = <StructName>`, `derive(<traits>)` and `idempotent`",
                    );
                }
                Ok(())
            });
            if let Err(error) = parsed {
                errors.push(error);
            }
        }
    }
    (name, derives.unwrap_or_default(), idempotent)
}
