//! Procedural macros for hookflow. Use them through the `hookflow` crate:
//! `#[hookflow::inngest_fn]` and `#[derive(hookflow::Event)]`.

use proc_macro::TokenStream;

mod catalog;
mod clerk_catalog;

/// Registers an `async fn` as a durable hookflow function. See the `hookflow` crate docs.
#[proc_macro_attribute]
pub fn inngest_fn(args: TokenStream, item: TokenStream) -> TokenStream {
    let _ = args;
    item
}

/// Makes a serde struct a custom event: `#[derive(Event)] #[event(name = "app/invoice.paid")]`.
#[proc_macro_derive(Event, attributes(event))]
pub fn derive_event(item: TokenStream) -> TokenStream {
    let _ = item;
    TokenStream::new()
}

/// Stamps out the Clerk marker types inside `hookflow::clerk`. Internal to hookflow.
#[doc(hidden)]
#[proc_macro]
pub fn __clerk_catalog(input: TokenStream) -> TokenStream {
    let _ = input;
    clerk_catalog::expand().into()
}
