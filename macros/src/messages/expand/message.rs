//! Per `#[message]` method: the message struct, its `Message` impl, the actor's `Handler`.

use proc_macro2::{Ident, TokenStream};
use quote::{ToTokens, quote};

use super::{docs, local};
use crate::messages::model::{Field, Message, Model, Param};

/// ```text
/// /// (the method's docs)
/// pub struct Reserve {
///     /// The `sku` argument of `Inventory::reserve`.
///     pub sku: u32,
///     pub qty: u32,
/// }
/// impl ::snowglobe::Message for Reserve { type Reply = Result<u32, OutOfStock>; }
/// impl ::snowglobe::Handler<Reserve> for Inventory {
///     async fn handle(&mut self, msg: Reserve, ctx: &mut ::snowglobe::Context<Self>) -> .. {
///         let Reserve { sku, qty } = msg;
///         self.reserve(sku, qty).await
///     }
/// }
/// ```
pub(super) fn message(model: &Model, message: &Message) -> TokenStream {
    let vis = &model.vis;
    let actor = &model.actor.ty;
    let name = &message.name;
    let cfgs = &message.cfgs;
    let struct_docs = docs::message_struct(model, message);
    let derives = &message.derives;
    let derive = (!derives.is_empty()).then(|| quote!(#[derive(#(#derives),*)]));
    let reply = message.reply.clone().unwrap_or_else(|| quote!(()));

    let fields: Vec<_> = message.fields().collect();
    let names: Vec<_> = fields.iter().map(|field| &field.name).collect();
    let body = if fields.is_empty() {
        quote!(;)
    } else {
        let field_docs = fields
            .iter()
            .map(|field| docs::field(model, message, field));
        let types = fields.iter().map(|field| &field.ty);
        quote!({ #( #field_docs #vis #names: #types, )* })
    };

    let msg = local("msg");
    let ctx = local("ctx");
    let ctx_param = if takes_context(message) {
        quote!(#ctx)
    } else {
        quote!(_)
    };
    let (pattern, call) = destructure_and_call(message, &quote!(self), &ctx);
    let call = if message.is_async {
        quote!(#call.await)
    } else {
        call
    };
    let handle_output = message.reply.as_ref().map(|reply| quote!(-> #reply));

    quote! {
        #(#cfgs)*
        #struct_docs
        #derive
        #vis struct #name #body

        #(#cfgs)*
        #[automatically_derived]
        impl ::snowglobe::Message for #name {
            type Reply = #reply;
        }

        #(#cfgs)*
        #[automatically_derived]
        impl ::snowglobe::Handler<#name> for #actor {
            async fn handle(
                &mut self,
                #msg: #name,
                #ctx_param: &mut ::snowglobe::Context<Self>,
            ) #handle_output {
                let #pattern = #msg;
                #call
            }
        }
    }
}

/// Whether the method takes the actor's context.
pub(super) fn takes_context(message: &Message) -> bool {
    message.params.iter().any(|p| matches!(p, Param::Context))
}

/// The pattern that takes the message struct apart into the method's arguments, and the call
/// of the method on `receiver` with them (without `.await`).
pub(super) fn destructure_and_call(
    message: &Message,
    receiver: &TokenStream,
    ctx: &Ident,
) -> (TokenStream, TokenStream) {
    let name = &message.name;
    let fields: Vec<_> = message.fields().collect();
    let pattern = if fields.is_empty() {
        quote!(#name)
    } else {
        let bindings = fields.iter().map(|field| {
            let (name, local) = (&field.name, local_of(field));
            if field.name == field.binding {
                quote!(#name)
            } else {
                quote!(#name: #local)
            }
        });
        quote!(#name { #(#bindings),* })
    };
    let args = message.params.iter().map(|param| match param {
        Param::Field(field) => local_of(field).into_token_stream(),
        Param::Context => quote!(#ctx),
    });
    let method = &message.method;
    (pattern, quote!(#receiver.#method(#(#args),*)))
}

/// The handler's local variable for a field: the field's own name when it is the argument's
/// name, a hygienic one otherwise (so that a `_sku` binding is never read, which
/// `clippy::used_underscore_binding` would flag).
fn local_of(field: &Field) -> Ident {
    if field.name == field.binding {
        field.name.clone()
    } else {
        local(&format!("arg_{}", field.name))
    }
}
