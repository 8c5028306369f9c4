//! The client extension trait: `inventory.reserve(7, 3)` on an `ActorRef<Inventory>`.

use proc_macro2::TokenStream;
use quote::quote;

use super::docs;
use crate::messages::model::Model;

/// ```text
/// pub trait InventoryClient {
///     fn reserve(&self, sku: u32, qty: u32)
///         -> ::snowglobe::Request<'_, ::snowglobe::ActorRef<Inventory>, Reserve>;
/// }
/// impl InventoryClient for ::snowglobe::ActorRef<Inventory> {
///     fn reserve(&self, sku: u32, qty: u32) -> .. {
///         ::snowglobe::Request::new(self, Reserve { sku, qty })
///     }
/// }
/// ```
pub(super) fn client(model: &Model) -> TokenStream {
    let vis = &model.vis;
    let actor = &model.actor.ty;
    let client = &model.actor.client;
    let trait_docs = docs::client(model);

    let mut declarations = Vec::new();
    let mut definitions = Vec::new();
    // A `#[handler]`'s message is sent by value (`tell`, `ask`): it has no client method.
    for message in model.messages.iter().filter(|m| !m.is_handled()) {
        let cfgs = &message.cfgs;
        let method = &message.method;
        let name = &message.name;
        let names: Vec<_> = message.fields().map(|field| &field.name).collect();
        let types = message.fields().map(|field| &field.ty);
        let signature = quote! {
            fn #method(&self, #(#names: #types),*)
                -> ::snowglobe::Request<'_, ::snowglobe::ActorRef<#actor>, #name>
        };
        let value = if names.is_empty() {
            quote!(#name)
        } else {
            quote!(#name { #(#names),* })
        };
        let method_docs = docs::client_method(message);
        declarations.push(quote! {
            #(#cfgs)*
            #method_docs
            #signature;
        });
        definitions.push(quote! {
            #(#cfgs)*
            #[inline]
            #signature {
                ::snowglobe::Request::new(self, #value)
            }
        });
    }

    quote! {
        #trait_docs
        #vis trait #client {
            #(#declarations)*
        }

        #[automatically_derived]
        impl #client for ::snowglobe::ActorRef<#actor> {
            #(#definitions)*
        }
    }
}
