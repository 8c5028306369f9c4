//! Writing the code a checked `#[messages]` block stands for.
//!
//! One file per generated part: `message` (per `#[message]` method a struct with its `Message`
//! and `Handler` impls, per `#[handler]` method a `Handler` impl), `mailbox` (the enum and its
//! `Dispatch` / `Accepts` impls), `client` (the extension trait on `ActorRef`), `docs` (the doc
//! comments they all carry).

mod client;
mod docs;
mod mailbox;
mod message;

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::Ident;

use super::model::{Kind, Model};

/// Everything generated besides the impl block itself.
pub(super) fn expand(model: &Model) -> TokenStream {
    let messages = model.messages.iter().map(|msg| match msg.kind {
        Kind::Generated { .. } => message::message(model, msg),
        Kind::Handled { output, message } => message::handler(model, msg, output, message),
    });
    let mailbox = mailbox::mailbox(model);
    let client = model.client.then(|| client::client(model));
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
