//! `#[derive(Actor)]`: implements `snowglobe::Actor` for a struct or enum.
//!
//! `parse` reads the `#[actor(...)]` options, `validate` checks them against each other and the
//! item, `expand` writes the impl.

mod expand;
mod parse;
mod validate;

use proc_macro2::TokenStream;

use crate::diagnostics::Errors;

/// The derive's whole pipeline. On a mistake in the options the impl is still emitted, with the
/// faulty option left out, so the only errors the user sees are the ones reported here (and
/// not a cascade of "`Inventory` is not an actor" from every use of the type).
pub(crate) fn derive(input: TokenStream) -> TokenStream {
    let input: syn::DeriveInput = match syn::parse2(input) {
        Ok(input) => input,
        Err(error) => return error.into_compile_error(),
    };
    let errors = Errors::new();
    let options = parse::options(&input.attrs, &errors);
    let actor = validate::actor(&input, options, &errors);
    let mut out = actor.as_ref().map(expand::actor).unwrap_or_default();
    out.extend(errors.finish());
    out
}
