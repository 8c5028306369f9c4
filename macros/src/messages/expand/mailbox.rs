//! The mailbox enum: one variant per message, routed to its handler by `Dispatch`.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::LitStr;
use syn::spanned::Spanned;

use super::message::{destructure_and_call, takes_context};
use super::{docs, local};
use crate::messages::model::Model;

/// ```text
/// pub enum InventoryMsg {
///     Reserve(Reserve, ::snowglobe::ReplyTo<<Reserve as ::snowglobe::Message>::Reply>),
/// }
/// impl ::snowglobe::Dispatch<Inventory> for InventoryMsg { .. match, handle, reply .. }
/// impl ::snowglobe::Accepts<Reserve> for InventoryMsg { .. }
/// impl ::snowglobe::__private::Messages for Inventory { type Msg = InventoryMsg; }
/// impl ::core::fmt::Debug for InventoryMsg { .. }
/// ```
pub(super) fn mailbox(model: &Model) -> TokenStream {
    let vis = &model.vis;
    let actor = &model.actor.ty;
    let mailbox = &model.actor.mailbox;
    let enum_docs = docs::mailbox(model);

    let (msg, reply, actor_ref, ctx, f) = (
        local("msg"),
        local("reply"),
        local("actor"),
        local("ctx"),
        local("f"),
    );
    let mut variants = Vec::new();
    let mut dispatch_arms = Vec::new();
    let mut type_arms = Vec::new();
    let mut debug_arms = Vec::new();
    let mut accepts = Vec::new();
    let mut sync_arms = Vec::new();
    let mut sync_uses_ctx = false;
    for message in &model.messages {
        let name = &message.name;
        let cfgs = &message.cfgs;
        let reply_type = quote!(::snowglobe::ReplyTo<<#name as ::snowglobe::Message>::Reply>);
        let variant_docs = docs::variant(message);
        variants.push(quote! {
            #(#cfgs)*
            #variant_docs
            #name(#name, #reply_type)
        });
        if message.is_async {
            dispatch_arms.push(quote! {
                #(#cfgs)*
                #mailbox::#name(#msg, #reply) => #reply.send(
                    <#actor as ::snowglobe::Handler<#name>>::handle(#actor_ref, #msg, #ctx).await
                ),
            });
        } else {
            // Methods that do not await are handled right away, without a future
            // (`dispatch_sync`); `dispatch` calls them directly too, so that no handler
            // future of theirs takes room in the actor's task.
            let (pattern, call) = destructure_and_call(message, &quote!(#actor_ref), &ctx);
            sync_uses_ctx |= takes_context(message);
            dispatch_arms.push(quote! {
                #(#cfgs)*
                #mailbox::#name(#msg, #reply) => {
                    let #pattern = #msg;
                    #reply.send(#call);
                }
            });
            sync_arms.push(quote! {
                #(#cfgs)*
                #mailbox::#name(#msg, #reply) => {
                    let #pattern = #msg;
                    #reply.send(#call);
                    ::core::option::Option::None
                }
            });
        }
        let path_suffix = LitStr::new(&format!("::{name}"), name.span());
        type_arms.push(quote! {
            #(#cfgs)*
            #mailbox::#name(..) => ::core::concat!(::core::module_path!(), #path_suffix),
        });
        let debug = LitStr::new(&format!("{mailbox}::{name}(..)"), name.span());
        debug_arms.push(quote! {
            #(#cfgs)*
            #mailbox::#name(..) => #f.write_str(#debug),
        });
        accepts.push(quote! {
            #(#cfgs)*
            #[automatically_derived]
            impl ::snowglobe::Accepts<#name> for #mailbox {
                fn from_message(#msg: #name, #reply: #reply_type) -> Self {
                    #mailbox::#name(#msg, #reply)
                }
            }
        });
    }

    // With no messages (every method had a mistake), the enum is empty and the bodies are
    // `match {}`: the parameters would be unused, so they are not named.
    let named = |ident| {
        if model.messages.is_empty() {
            quote!(_)
        } else {
            quote!(#ident)
        }
    };
    let (actor_param, f_param) = (named(&actor_ref), named(&f));
    // `dispatch` uses the context for handlers that await, and for methods that take it.
    let dispatch_uses_ctx = model
        .messages
        .iter()
        .any(|m| m.is_async || takes_context(m));
    let ctx_param = if dispatch_uses_ctx {
        quote!(#ctx)
    } else {
        quote!(_)
    };

    // Spanned at the actor type after `impl`: when a public actor gets a private mailbox
    // (all its message methods are private), rustc's "private type in public interface"
    // then points at the block it is about.
    // `dispatch_sync` only when some message is synchronous; the catch-all arm only when
    // some is not (an unreachable arm would warn).
    let dispatch_sync = (!sync_arms.is_empty()).then(|| {
        let rest = (sync_arms.len() < model.messages.len()).then(|| {
            let other = local("other");
            quote!(#other => ::core::option::Option::Some(#other),)
        });
        let sync_ctx = if sync_uses_ctx {
            quote!(#ctx)
        } else {
            quote!(_)
        };
        quote! {
            #[inline]
            fn dispatch_sync(
                self,
                #actor_ref: &mut #actor,
                #sync_ctx: &mut ::snowglobe::Context<#actor>,
            ) -> ::core::option::Option<Self> {
                match self {
                    #(#sync_arms)*
                    #rest
                }
            }
        }
    });

    let messages_impl = quote_spanned! {actor.span()=>
        #[automatically_derived]
        impl ::snowglobe::__private::Messages for #actor {
            type Msg = #mailbox;
        }
    };

    quote! {
        #enum_docs
        #vis enum #mailbox {
            #(#variants,)*
        }

        #[automatically_derived]
        impl ::snowglobe::Dispatch<#actor> for #mailbox {
            async fn dispatch(
                self,
                #actor_param: &mut #actor,
                #ctx_param: &mut ::snowglobe::Context<#actor>,
            ) {
                match self {
                    #(#dispatch_arms)*
                }
            }

            fn message_type(&self) -> &'static str {
                match *self {
                    #(#type_arms)*
                }
            }

            #dispatch_sync
        }

        #(#accepts)*

        #messages_impl

        #[automatically_derived]
        impl ::core::fmt::Debug for #mailbox {
            fn fmt(&self, #f_param: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                match *self {
                    #(#debug_arms)*
                }
            }
        }
    }
}
