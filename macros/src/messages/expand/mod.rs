//! Writing the code a checked `#[messages]` block stands for.
//!
//! One file per generated part: `message` (a struct, its `Message` and `Handler` impls, per
//! method), `mailbox` (the enum and its `Dispatch` / `Accepts` impls), `client` (the extension
//! trait on `ActorRef`), `docs` (the doc comments they all carry).

mod client;
mod docs;
mod mailbox;
mod message;

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::Ident;

use super::model::Model;

/// Everything generated besides the impl block itself.
pub(super) fn expand(model: &Model) -> TokenStream {
    let messages = model
        .messages
        .iter()
        .map(|msg| message::message(model, msg));
    let mailbox = mailbox::mailbox(model);
    let client = client::client(model);
    quote! {
        #(#messages)*
        #mailbox
        #client
    }
}

/// A name for a local variable of the generated code, invisible to the user's code around it
/// (the user's own argument may be called `msg` or `ctx`).
fn local(name: &str) -> Ident {
    Ident::new(name, Span::mixed_site())
}
