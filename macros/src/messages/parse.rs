//! Reading a `#[messages]` block: the block's options, and which methods carry `#[message]`
//! with which options. Nothing here judges the methods themselves; `validate` does.

use proc_macro2::TokenStream;
use syn::parse::Parser;
use syn::{Attribute, Ident, ImplItem, ItemImpl, Meta, Path, Visibility};

use crate::diagnostics::{Errors, duplicate_option, unknown_option};

/// `#[messages(vis = pub(crate))]`.
#[derive(Default)]
pub(super) struct Options {
    /// The visibility of every generated item, when set.
    pub(super) vis: Option<Visibility>,
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
        } else {
            unknown_option(errors, &meta, "messages", "`vis = <visibility>`")
        }
    });
    if let Err(error) = parser.parse2(args) {
        errors.push(error);
    }
    options
}

/// One method marked `#[message]`, with the marker's options.
pub(super) struct Marked {
    /// Where the method sits in the block's items.
    pub(super) index: usize,
    /// `#[message(name = Other)]`.
    pub(super) name: Option<Ident>,
    /// `#[message(derive(Clone, Debug))]`.
    pub(super) derives: Vec<Path>,
}

/// Removes every `#[message]` marker from the block and returns the methods that had one.
///
/// The markers must go whatever else is wrong: left in place, each would expand the `message`
/// attribute macro, whose only job is to report a marker outside a `#[messages]` block.
pub(super) fn take_markers(block: &mut ItemImpl, errors: &Errors) -> Vec<Marked> {
    let mut marked = Vec::new();
    for (index, item) in block.items.iter_mut().enumerate() {
        let Some(attrs) = attrs_mut(item) else {
            continue;
        };
        let (markers, others): (Vec<Attribute>, Vec<Attribute>) =
            std::mem::take(attrs).into_iter().partition(is_marker);
        *attrs = others;
        let Some((first, repeated)) = markers.split_first() else {
            continue;
        };
        if !matches!(item, ImplItem::Fn(_)) {
            errors.at(
                first,
                "#[message] goes on methods; this item is not a method",
            );
            continue;
        }
        for extra in repeated {
            errors.at(
                extra,
                "this method is already marked #[message]; keep one marker",
            );
        }
        let (name, derives) = marker_options(first, errors);
        marked.push(Marked {
            index,
            name,
            derives,
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

/// `#[message]`, `#[snowglobe::message]` or `#[::snowglobe::message]`.
fn is_marker(attr: &Attribute) -> bool {
    let path = attr.path();
    let names: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
    match names.as_slice() {
        [only] => path.leading_colon.is_none() && only == "message",
        [krate, last] => krate == "snowglobe" && last == "message",
        _ => false,
    }
}

/// Reads `#[message]`, `#[message(name = X, derive(A, B))]`.
fn marker_options(attr: &Attribute, errors: &Errors) -> (Option<Ident>, Vec<Path>) {
    let mut name = None;
    let mut derives: Option<Vec<Path>> = None;
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
                } else {
                    return unknown_option(
                        errors,
                        &meta,
                        "message",
                        "`name = <StructName>` and `derive(<traits>)`",
                    );
                }
                Ok(())
            });
            if let Err(error) = parsed {
                errors.push(error);
            }
        }
    }
    (name, derives.unwrap_or_default())
}
