//! Every runtime path the generated code names, in one place. All of them go through
//! `::hookflow::__private`, so user crates never depend on `inventory` or `serde_json`
//! themselves; the runtime has `extern crate self as hookflow;` so that its own tests can use
//! the macros too.

use proc_macro2::TokenStream;
use quote::quote;

pub(crate) fn private() -> TokenStream {
    quote!(::hookflow::__private)
}

pub(crate) fn function_def() -> TokenStream {
    quote!(::hookflow::__private::FunctionDef)
}

pub(crate) fn trigger() -> TokenStream {
    quote!(::hookflow::__private::Trigger)
}

pub(crate) fn options() -> TokenStream {
    quote!(::hookflow::__private::Options)
}

pub(crate) fn invocation() -> TokenStream {
    quote!(::hookflow::__private::Invocation)
}

pub(crate) fn handler_future() -> TokenStream {
    quote!(::hookflow::__private::HandlerFuture)
}

pub(crate) fn into_output() -> TokenStream {
    quote!(::hookflow::__private::into_output)
}

pub(crate) fn expect_event() -> TokenStream {
    quote!(::hookflow::__private::expect_event)
}

pub(crate) fn json() -> TokenStream {
    quote!(::hookflow::__private::Json)
}

pub(crate) fn event_type() -> TokenStream {
    quote!(::hookflow::__private::EventType)
}

pub(crate) fn named_event() -> TokenStream {
    quote!(::hookflow::__private::NamedEvent)
}

pub(crate) fn into_raw_event() -> TokenStream {
    quote!(::hookflow::__private::IntoRawEvent)
}

pub(crate) fn raw_event() -> TokenStream {
    quote!(::hookflow::__private::RawEvent)
}

pub(crate) fn serde_json() -> TokenStream {
    quote!(::hookflow::__private::serde_json)
}

pub(crate) fn duration() -> TokenStream {
    quote!(::core::time::Duration)
}

pub(crate) fn cow() -> TokenStream {
    quote!(::hookflow::__private::Cow)
}

pub(crate) fn option() -> TokenStream {
    quote!(::core::option::Option)
}

pub(crate) fn result() -> TokenStream {
    quote!(::core::result::Result)
}

pub(crate) fn boxed() -> TokenStream {
    quote!(::std::boxed::Box)
}
