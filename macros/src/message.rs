//! `#[message]` on its own: a marker that `#[messages]` consumes. Reaching this macro means the
//! marker is outside a `#[messages]` block.

use proc_macro2::{Span, TokenStream};

/// Reports the misplaced marker and gives the item back unchanged.
pub(crate) fn message(item: TokenStream) -> TokenStream {
    let error = syn::Error::new(
        Span::call_site(),
        "#[message] only works on a method of a #[messages] impl block: add #[messages] to the \
         `impl` block around this method",
    );
    let mut out = error.into_compile_error();
    out.extend(item);
    out
}
