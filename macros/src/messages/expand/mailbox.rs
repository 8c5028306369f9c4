//! The mailbox enum: one variant per message, routed to its handler by `Dispatch`.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::LitStr;
use syn::spanned::Spanned;

use super::message::destructure_and_call;
use super::{docs, local};
use crate::messages::model::{Kind, Model};

/// ```text
/// pub enum InventoryMsg {
///     Reserve(Reserve, ::snowglobe::ReplyTo<<Reserve as ::snowglobe::Message>::Reply>),
///     Terminated(snowglobe::Terminated, ::snowglobe::ReplyTo<..>), // a `#[handler]`'s
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
        let ty = &message.ty;
        let cfgs = &message.cfgs;
        // For a handled type, what names it is spanned at the method's parameter: rustc's
        // errors about the type (it does not implement `Message`) point there.
        let (first, last) = match message.kind {
            Kind::Handled { message, .. } => (message.first, message.last),
            Kind::Generated { .. } => (Span::call_site(), Span::call_site()),
        };
        let reply_type = quote_spanned! {first=>
            ::snowglobe::ReplyTo<<#ty as ::snowglobe::Message>
        };
        let reply_type = quote_spanned!(last=> #reply_type::Reply>);
        let handler = quote_spanned!(first=> <#actor as ::snowglobe::Handler<#ty>>);
        let handler = quote_spanned!(last=> #handler::handle);
        let variant_docs = docs::variant(model, message);
        variants.push(quote! {
            #(#cfgs)*
            #variant_docs
            #name(#ty, #reply_type)
        });
        if message.is_idempotent() {
            // Looked up by id before the handler runs; the reply remembered after it.
            let value = local("value");
            let ticket = local("ticket");
            let (run, sync) = if message.is_async {
                (quote!(#handler(#actor_ref, #msg, #ctx).await), false)
            } else {
                let (pattern, call) = destructure_and_call(message, &quote!(#actor_ref), &ctx);
                (quote!({ let #pattern = #msg; #call }), true)
            };
            let deduplicated = quote! {
                match #ctx.dedup(&#msg) {
                    ::snowglobe::resilience::Seen::New(#ticket) => {
                        let #value = #run;
                        #ctx.remember(#ticket, &#value);
                        #reply.send(#value);
                    }
                    ::snowglobe::resilience::Seen::Replay(#value) => #reply.send(#value),
                    ::snowglobe::resilience::Seen::IdReused => #ctx.reject_reused_id(#reply),
                }
            };
            dispatch_arms.push(quote! {
                #(#cfgs)*
                #mailbox::#name(#msg, #reply) => #deduplicated,
            });
            if sync {
                sync_uses_ctx = true;
                sync_arms.push(quote! {
                    #(#cfgs)*
                    #mailbox::#name(#msg, #reply) => {
                        #deduplicated
                        ::core::option::Option::None
                    }
                });
            }
        } else if message.is_async {
            dispatch_arms.push(quote! {
                #(#cfgs)*
                #mailbox::#name(#msg, #reply) => #reply.send(
                    #handler(#actor_ref, #msg, #ctx).await
                ),
            });
        } else if message.is_handled() {
            // The handler of a `#[handler]` that does not await returns a `Ready`: its reply
            // is taken out without polling, and the method is called in the handler only.
            let handled = quote! {
                #reply.send(
                    #handler(#actor_ref, #msg, #ctx).into_inner(),
                )
            };
            sync_uses_ctx = true;
            dispatch_arms.push(quote! {
                #(#cfgs)*
                #mailbox::#name(#msg, #reply) => #handled,
            });
            sync_arms.push(quote! {
                #(#cfgs)*
                #mailbox::#name(#msg, #reply) => {
                    #handled;
                    ::core::option::Option::None
                }
            });
        } else {
            // Methods that do not await are handled right away, without a future
            // (`dispatch_sync`); `dispatch` calls them directly too, so that no handler
            // future of theirs takes room in the actor's task.
            let (pattern, call) = destructure_and_call(message, &quote!(#actor_ref), &ctx);
            sync_uses_ctx |= message.takes_context();
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
        // A generated struct is defined beside the enum; a handled type may be anywhere.
        let type_name = if message.is_handled() {
            quote!(::core::any::type_name::<#ty>())
        } else {
            let path_suffix = LitStr::new(&format!("::{name}"), name.span());
            quote!(::core::concat!(::core::module_path!(), #path_suffix))
        };
        type_arms.push(quote! {
            #(#cfgs)*
            #mailbox::#name(..) => #type_name,
        });
        let debug = LitStr::new(&format!("{mailbox}::{name}(..)"), name.span());
        debug_arms.push(quote! {
            #(#cfgs)*
            #mailbox::#name(..) => #f.write_str(#debug),
        });
        let accepts_trait = quote_spanned!(first=> ::snowglobe::Accepts<#ty);
        let accepts_trait = quote_spanned!(last=> #accepts_trait>);
        accepts.push(quote! {
            #(#cfgs)*
            #[automatically_derived]
            impl #accepts_trait for #mailbox {
                fn from_message(#msg: #ty, #reply: #reply_type) -> Self {
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
    // `dispatch` uses the context for handlers that await, for methods that take it, and for
    // the `Handler` impls of `#[handler]`s.
    let dispatch_uses_ctx = model
        .messages
        .iter()
        .any(|m| m.is_async || m.takes_context() || m.is_handled() || m.is_idempotent());
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
