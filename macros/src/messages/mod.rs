//! `#[messages]`: message structs, the mailbox enum and the client trait, from the
//! `#[message]` methods of an actor's impl block, and `Handler` impls for the message types
//! its `#[handler]` methods take.
//!
//! `parse` finds the markers and reads the options, `validate` (with `signature` and `types`
//! for each method) checks everything and builds the [`model`], `expand` writes the code.

mod expand;
mod model;
mod parse;
mod signature;
mod types;
mod validate;

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;

use crate::diagnostics::Errors;

/// The attribute's whole pipeline.
///
/// Whatever goes wrong, the impl block is emitted again (with its `#[message]` and
/// `#[handler]` markers removed), and so is the code for every method without a mistake: the
/// user's other code keeps compiling and only the real mistakes are reported.
pub(crate) fn messages(args: TokenStream, item: TokenStream) -> TokenStream {
    let errors = Errors::new();
    let options = parse::options(args, &errors);
    let mut block: syn::ItemImpl = match syn::parse2(item.clone()) {
        Ok(block) => block,
        Err(error) => {
            // Not an impl block, or one rustc will report a syntax error in.
            if syn::parse2::<syn::Item>(item.clone()).is_ok() {
                errors.at_span(
                    Span::call_site(),
                    "#[messages] goes on the actor's impl block, like `impl Inventory { ... }`",
                );
            } else {
                errors.push(error);
            }
            let mut out = item;
            out.extend(errors.finish());
            return out;
        }
    };
    let marked = parse::take_markers(&mut block, &errors);
    let model = validate::model(&block, marked, options, &errors);

    let mut out = block.into_token_stream();
    if let Some(model) = model {
        out.extend(expand::expand(&model));
    }
    out.extend(errors.finish());
    out
}
