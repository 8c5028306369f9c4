//! Per `#[message]` method: the message struct, its `Message` impl, the actor's `Handler`.
//! Per `#[handler]` method: the actor's `Handler` for the message type that exists.

use proc_macro2::{Delimiter, Group, Ident, TokenStream};
use quote::{ToTokens, quote, quote_spanned};

use super::{docs, local};
use crate::messages::model::{Field, Kind, Message, Model, Param, SpanRange};

/// ```text
/// /// (the method's docs)
/// pub struct Reserve {
///     /// The `sku` argument of `Inventory::reserve`.
///     pub sku: u32,
///     pub qty: u32,
/// }
/// impl ::snowglobe::Message for Reserve {
///     type Reply = Result<u32, OutOfStock>;
///     fn duplicate(&self) -> Option<Self> { .. } // see `duplicate` below
/// }
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
    let Kind::Generated {
        derives,
        idempotent,
    } = &message.kind
    else {
        unreachable!("invariant: a `#[handler]` has no struct to generate");
    };
    let mut derives: Vec<TokenStream> = derives.iter().map(|d| quote!(#d)).collect();
    // Deduplication compares the content of a repeated id: the struct needs `Hash`.
    let hashes = |d: &TokenStream| d.to_string().replace(' ', "").ends_with("Hash");
    if *idempotent && !derives.iter().any(hashes) {
        derives.push(quote!(::core::hash::Hash));
    }
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
    let ctx_param = if message.takes_context() {
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
    let duplicate = duplicate(message);

    quote! {
        #(#cfgs)*
        #struct_docs
        #derive
        #vis struct #name #body

        #(#cfgs)*
        #[automatically_derived]
        impl ::snowglobe::Message for #name {
            type Reply = #reply;

            #duplicate
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

/// ```text
/// fn duplicate(&self) -> ::core::option::Option<Self> {
///     use ::snowglobe::__private::MaybeClone as _;
///     ::core::option::Option::Some(Reserve {
///         sku: ::snowglobe::__private::Probe(&self.sku).maybe_clone()?,
///         qty: ::snowglobe::__private::Probe(&self.qty).maybe_clone()?,
///     })
/// }
/// ```
///
/// `Some(Reserve)` for a unit struct. Whether a field's type is `Clone` cannot be read from
/// its tokens, and a `Clone` bound on the impl would take `Message` away from the structs
/// whose fields are not: each field is probed instead (see `__private::Probe`), which the
/// generated code can do because it names the fields' concrete types. So a struct duplicates
/// when all its fields can, whether or not it derives `Clone`.
fn duplicate(message: &Message) -> TokenStream {
    let name = &message.name;
    let fields: Vec<_> = message.fields().map(|field| &field.name).collect();
    let body = if fields.is_empty() {
        quote!(::core::option::Option::Some(#name))
    } else {
        // Imported only here: every field's call uses it, so it is never an unused import.
        quote! {
            use ::snowglobe::__private::MaybeClone as _;
            ::core::option::Option::Some(#name {
                #( #fields: ::snowglobe::__private::Probe(&self.#fields).maybe_clone()?, )*
            })
        }
    };
    quote! {
        fn duplicate(&self) -> ::core::option::Option<Self> {
            #body
        }
    }
}

/// ```text
/// impl ::snowglobe::Handler<Ping> for Pinger {
///     #[allow(refining_impl_trait)]
///     fn handle(&mut self, msg: Ping, ctx: &mut ::snowglobe::Context<Self>)
///         -> ::core::future::Ready<<Ping as ::snowglobe::Message>::Reply>
///     {
///         let reply: <Ping as ::snowglobe::Message>::Reply = Self::on_ping(self, msg, ctx);
///         ::core::future::ready(reply)
///     }
/// }
/// ```
///
/// For an `async` method, `async fn handle(..) -> <Ping as ::snowglobe::Message>::Reply` with
/// `Self::on_ping(self, msg, ctx).await` inside.
///
/// A method that does not await gets a handler whose future is named, `Ready`: the mailbox's
/// `Dispatch` takes the reply out of it with `into_inner`, without polling. So the method is
/// called in one place only, and a return type that is not the message's reply is one type
/// error. It points at the method's return type (`output`) and, as where the expected type
/// comes from, at its message parameter (`message`). The call is a path call, not a method
/// call: for a method call returning `()`, rustc would add that the method "modifies its
/// receiver in-place", which is beside the point.
pub(super) fn handler(
    model: &Model,
    message: &Message,
    output: SpanRange,
    message_span: SpanRange,
) -> TokenStream {
    let actor = &model.actor.ty;
    let ty = &message.ty;
    let cfgs = &message.cfgs;
    let (msg, ctx) = (local("msg"), local("ctx"));
    let ctx_param = if message.takes_context() {
        quote!(#ctx)
    } else {
        quote!(_)
    };
    // rustc spans an expression from its first token to its last; the method's name is
    // respanned too, or the span would stretch from the name to the return type.
    let mut method = message.method.clone();
    method.set_span(output.first);
    let args = args(message, &ctx);
    let mut parens = Group::new(Delimiter::Parenthesis, quote!(self #(, #args)*));
    parens.set_span(output.last);
    let call = quote_spanned!(output.first=> Self::#method #parens);
    let reply_type = quote_spanned!(message_span.first=> <#ty as ::snowglobe::Message>);
    let reply_type = quote_spanned!(message_span.last=> #reply_type::Reply);
    let reply = local("reply");
    let handle = if message.is_async {
        let call = quote_spanned!(output.last=> #call.await);
        quote! {
            async fn handle(
                &mut self,
                #msg: #ty,
                #ctx_param: &mut ::snowglobe::Context<Self>,
            ) -> #reply_type {
                #call
            }
        }
    } else {
        quote! {
            #[allow(refining_impl_trait)]
            #[inline]
            fn handle(
                &mut self,
                #msg: #ty,
                #ctx_param: &mut ::snowglobe::Context<Self>,
            ) -> ::core::future::Ready<#reply_type> {
                let #reply: #reply_type = #call;
                ::core::future::ready(#reply)
            }
        }
    };
    let handler_trait = quote_spanned!(message_span.first=> ::snowglobe::Handler<#ty);
    let handler_trait = quote_spanned!(message_span.last=> #handler_trait>);
    quote! {
        #(#cfgs)*
        #[automatically_derived]
        impl #handler_trait for #actor {
            #handle
        }
    }
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
    let args = args(message, ctx);
    let method = &message.method;
    (pattern, quote!(#receiver.#method(#(#args),*)))
}

/// The arguments the handler calls the method with, in the method's order: the locals of the
/// message's fields, the context, or a `#[handler]`'s message as it is.
fn args(message: &Message, ctx: &Ident) -> Vec<TokenStream> {
    message
        .params
        .iter()
        .map(|param| match param {
            Param::Field(field) => local_of(field).into_token_stream(),
            Param::Context => quote!(#ctx),
            Param::Message => local("msg").into_token_stream(),
        })
        .collect()
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
