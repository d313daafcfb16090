//! Procedural macros for hookflow. Use them through the `hookflow` crate:
//! `#[hookflow::inngest_fn]` and `#[derive(hookflow::Event)]`.
//!
//! Each entry point is one line; the work happens on `proc_macro2` in the modules below, so
//! that it can be unit-tested: `args` (syntax), `validate` (rules, all errors at once),
//! `expand` (code generation that cannot fail), `paths` (every runtime path used), `suggest`
//! (did-you-mean), `catalog` (the Clerk event table), and `duration`/`schedule`, which the
//! runtime includes as they are so that both sides parse durations and cron schedules alike.

use proc_macro::TokenStream;

mod args;
mod catalog;
mod clerk_catalog;
mod derive_event;
mod duration;
mod expand;
mod paths;
mod schedule;
mod suggest;
mod validate;

/// Registers an `async fn` as a durable hookflow function. See the `hookflow` crate docs.
#[proc_macro_attribute]
pub fn inngest_fn(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::inngest_fn(args.into(), item.into()).into()
}

/// Makes a serde struct a custom event: `#[derive(Event)] #[event(name = "app/invoice.paid")]`.
#[proc_macro_derive(Event, attributes(event))]
pub fn derive_event(item: TokenStream) -> TokenStream {
    derive_event::derive(item.into()).into()
}

/// Stamps out the Clerk marker types inside `hookflow::clerk`. Internal to hookflow.
#[doc(hidden)]
#[proc_macro]
pub fn __clerk_catalog(input: TokenStream) -> TokenStream {
    let _ = input;
    clerk_catalog::expand().into()
}
