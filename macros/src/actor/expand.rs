//! Writing the `impl Actor`.

use proc_macro2::{Literal, TokenStream};
use quote::{quote, quote_spanned};

use super::validate::{Actor, Mailbox};

/// ```text
/// #[automatically_derived]
/// impl<..> ::snowglobe::Actor for Inventory<..> where .. {
///     type Msg = <Self as ::snowglobe::__private::Messages>::Msg;   // or the `msg = T` type
///     const MAILBOX: ::snowglobe::Mailbox = ::snowglobe::Mailbox::Bounded(64);  // if set
/// }
/// ```
pub(super) fn actor(actor: &Actor<'_>) -> TokenStream {
    let ident = actor.ident;
    let (impl_generics, type_generics, where_clause) = actor.generics.split_for_impl();
    let mut where_clause = where_clause.cloned();

    if !actor.generics.params.is_empty() {
        // `Actor: Send + 'static`; bounding `Self` rather than each parameter keeps the impl
        // as wide as the type allows (a `PhantomData<fn() -> T>` field needs no `T: Send`).
        where_clause
            .get_or_insert_with(|| syn::parse_quote!(where))
            .predicates
            .push(syn::parse_quote!(Self: ::core::marker::Send + 'static));
    }

    let msg = match &actor.msg {
        Some(msg) => quote!(#msg),
        None => {
            if !actor.generics.params.is_empty() {
                // A generic actor's message enum comes from a `#[messages]` block written for
                // one concrete instance (`impl Cache<String>`); bounding the impl makes exactly
                // the instances that have one into actors.
                where_clause
                    .get_or_insert_with(|| syn::parse_quote!(where))
                    .predicates
                    .push(syn::parse_quote!(
                        Self: ::snowglobe::__private::Messages<
                            Msg: ::snowglobe::Dispatch<Self>
                        >
                    ));
            }
            // Spanned at the type's name: the "has no `#[messages]` impl block" error of a
            // missing block then points at the type that needs one.
            quote_spanned!(ident.span()=> <Self as ::snowglobe::__private::Messages>::Msg)
        }
    };

    let mailbox = actor.mailbox.as_ref().map(|mailbox| {
        let value = match mailbox {
            Mailbox::Bounded(capacity, span) => {
                let mut capacity = Literal::usize_unsuffixed(*capacity);
                capacity.set_span(*span);
                quote!(::snowglobe::Mailbox::Bounded(#capacity))
            }
            Mailbox::Unbounded => quote!(::snowglobe::Mailbox::Unbounded),
        };
        quote!(const MAILBOX: ::snowglobe::Mailbox = #value;)
    });

    quote! {
        #[automatically_derived]
        impl #impl_generics ::snowglobe::Actor for #ident #type_generics #where_clause {
            type Msg = #msg;
            #mailbox
        }
    }
}
