//! Collecting compile errors so that one run of a macro reports every mistake it finds.

use std::cell::RefCell;
use std::fmt::Display;

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;

/// The errors found while reading one macro input.
///
/// Every check pushes into it and carries on, so a user fixing an item sees all its problems
/// at once instead of one per build. Shared by `&`, so that the closures of
/// `parse_nested_meta` can report too.
///
/// Invariant: [`Errors::finish`] is called before the value is dropped; forgetting it would
/// silently swallow diagnostics, so `Drop` panics (outside an unwinding panic).
pub(crate) struct Errors {
    found: RefCell<Option<Vec<syn::Error>>>,
}

impl Errors {
    pub(crate) fn new() -> Errors {
        Errors {
            found: RefCell::new(Some(Vec::new())),
        }
    }

    /// Records an error spanned at `tokens` (the first to the last of them).
    pub(crate) fn at(&self, tokens: impl ToTokens, message: impl Display) {
        self.push(syn::Error::new_spanned(tokens, message));
    }

    /// Records an error at `span`.
    pub(crate) fn at_span(&self, span: Span, message: impl Display) {
        self.push(syn::Error::new(span, message));
    }

    /// Records an error built elsewhere (for example by syn's parsers).
    pub(crate) fn push(&self, error: syn::Error) {
        self.found
            .borrow_mut()
            .as_mut()
            .expect("invariant: no error is recorded after `Errors::finish`")
            .push(error);
    }

    /// How many errors were recorded so far; compare two counts to learn whether a step
    /// found anything.
    pub(crate) fn count(&self) -> usize {
        self.found.borrow().as_ref().map_or(0, Vec::len)
    }

    /// All recorded errors, as one `compile_error!` per error (empty when there were none).
    pub(crate) fn finish(self) -> TokenStream {
        let found = self.found.borrow_mut().take().unwrap_or_default();
        found
            .into_iter()
            .map(syn::Error::into_compile_error)
            .collect()
    }
}

impl Drop for Errors {
    fn drop(&mut self) {
        if self.found.borrow().is_some() && !std::thread::panicking() {
            panic!("invariant: `Errors` dropped without `finish`; its diagnostics would be lost");
        }
    }
}

/// Reports an option the macro does not know, naming the ones it does, and skips its value
/// (`= value` or `(...)`) so that the options after it are still checked.
pub(crate) fn unknown_option(
    errors: &Errors,
    meta: &syn::meta::ParseNestedMeta<'_>,
    attribute: &str,
    known: &str,
) -> syn::Result<()> {
    let name = meta.path.to_token_stream().to_string().replace(' ', "");
    errors.at(
        &meta.path,
        format!("unknown option `{name}` in #[{attribute}(...)]; the options are {known}"),
    );
    skip_value(meta)
}

/// Reports an option given twice, and skips the second value.
pub(crate) fn duplicate_option(
    errors: &Errors,
    meta: &syn::meta::ParseNestedMeta<'_>,
    attribute: &str,
) -> syn::Result<()> {
    let name = meta.path.to_token_stream().to_string().replace(' ', "");
    errors.at(
        &meta.path,
        format!("`{name}` is given twice in #[{attribute}(...)]; keep one"),
    );
    skip_value(meta)
}

/// Consumes `= value` (up to the next comma) or a parenthesised list after an option name.
pub(crate) fn skip_value(meta: &syn::meta::ParseNestedMeta<'_>) -> syn::Result<()> {
    let input = meta.input;
    if input.peek(syn::Token![=]) {
        input.parse::<syn::Token![=]>()?;
        while !input.is_empty() && !input.peek(syn::Token![,]) {
            input.parse::<proc_macro2::TokenTree>()?;
        }
    } else if input.peek(syn::token::Paren) {
        input.parse::<proc_macro2::Group>()?;
    }
    Ok(())
}
