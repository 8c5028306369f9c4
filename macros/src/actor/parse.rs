//! Reading `#[actor(capacity = 64, unbounded, msg = Type)]`.

use syn::{Attribute, LitInt, Type};

use crate::diagnostics::{Errors, duplicate_option, unknown_option};

const KNOWN: &str = "`capacity = <number>`, `unbounded` and `msg = <type>`";

/// The options as written, not yet checked against each other.
#[derive(Default)]
pub(super) struct Options {
    /// `capacity = 64`.
    pub(super) capacity: Option<LitInt>,
    /// The `unbounded` flag's name token, for spans.
    pub(super) unbounded: Option<syn::Path>,
    /// `msg = Type`.
    pub(super) msg: Option<Type>,
}

/// Reads every `#[actor(...)]` attribute of the item; several attributes add up, and an option
/// given twice (in one or in two attributes) is an error.
pub(super) fn options(attrs: &[Attribute], errors: &Errors) -> Options {
    let mut options = Options::default();
    for attr in attrs.iter().filter(|a| a.path().is_ident("actor")) {
        let parsed = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("capacity") {
                if options.capacity.is_some() {
                    return duplicate_option(errors, &meta, "actor");
                }
                options.capacity = Some(meta.value()?.parse()?);
            } else if meta.path.is_ident("unbounded") {
                if options.unbounded.is_some() {
                    return duplicate_option(errors, &meta, "actor");
                }
                if !meta.input.is_empty() && !meta.input.peek(syn::Token![,]) {
                    errors.at(
                        &meta.path,
                        "`unbounded` takes no value: write `#[actor(unbounded)]`",
                    );
                    crate::diagnostics::skip_value(&meta)?;
                }
                options.unbounded = Some(meta.path.clone());
            } else if meta.path.is_ident("msg") {
                if options.msg.is_some() {
                    return duplicate_option(errors, &meta, "actor");
                }
                options.msg = Some(meta.value()?.parse()?);
            } else {
                return unknown_option(errors, &meta, "actor", KNOWN);
            }
            Ok(())
        });
        if let Err(error) = parsed {
            errors.push(error);
        }
    }
    options
}
