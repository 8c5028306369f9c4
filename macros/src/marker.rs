//! `#[message]` and `#[handler]` on their own: markers that `#[messages]` consumes. Reaching
//! one of these macros means the marker is outside a `#[messages]` block.

use proc_macro2::{Span, TokenStream};

/// Reports the misplaced marker `#[{name}]` and gives the item back unchanged.
pub(crate) fn misplaced(name: &str, item: TokenStream) -> TokenStream {
    let error = syn::Error::new(
        Span::call_site(),
        format!(
            "#[{name}] only works on a method of a #[messages] impl block: add #[messages] to \
             the `impl` block around this method"
        ),
    );
    let mut out = error.into_compile_error();
    out.extend(item);
    out
}
