//! `__clerk_catalog!()`: stamps out, inside `hookflow::clerk`, the marker types, the
//! `ClerkEvent` enum and the run-time `CATALOG` table from the one catalogue in `catalog.rs`.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use crate::catalog::{event_name, CLERK_EVENTS};

pub(crate) fn expand() -> TokenStream {
    let mut markers = Vec::new();
    let mut variants = Vec::new();
    let mut parse_arms = Vec::new();
    let mut payload_arms = Vec::new();
    let mut type_arms = Vec::new();
    let mut data_arms = Vec::new();
    let mut table = Vec::new();
    for entry in CLERK_EVENTS {
        let marker = format_ident!("{}", entry.marker);
        let payload = format_ident!("{}", entry.payload);
        let name = event_name(entry.clerk_type);
        let clerk_type = entry.clerk_type;
        let doc = format!("`{name}`: {} Payload: [`{}`].", entry.doc, entry.payload);
        markers.push(quote! {
            #[doc = #doc]
            #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
            pub struct #marker;
            impl ::hookflow::EventType for #marker {
                type Data = #payload;
                const NAMES: &'static [&'static str] = &[#name];
            }
            impl ::hookflow::NamedEvent for #marker {
                const NAME: &'static str = #name;
            }
        });
        let variant_doc = format!("`{name}`");
        variants.push(quote! { #[doc = #variant_doc] #marker(#payload) });
        parse_arms.push(quote! { #clerk_type => ClerkEvent::#marker(#payload::deserialize(data)?) });
        payload_arms.push(quote! { #clerk_type => ClerkEvent::#marker(data.typed()?) });
        type_arms.push(quote! { ClerkEvent::#marker(_) => #clerk_type });
        data_arms.push(quote! { ClerkEvent::#marker(d) => ::hookflow::__private::serde_json::to_value(d) });
        let (marker_s, payload_s, doc_s) = (entry.marker, entry.payload, entry.doc);
        table.push(quote! {
            CatalogEntry { clerk_type: #clerk_type, event_name: #name, marker: #marker_s, payload: #payload_s, doc: #doc_s }
        });
    }

    let mut payloads: Vec<&str> = CLERK_EVENTS.iter().map(|e| e.payload).collect();
    payloads.sort_unstable();
    payloads.dedup();
    let payload_impls = payloads.iter().map(|payload| {
        let ident = format_ident!("{}", payload);
        let names: Vec<String> =
            CLERK_EVENTS.iter().filter(|e| e.payload == *payload).map(|e| event_name(e.clerk_type)).collect();
        quote! {
            impl ::hookflow::EventType for #ident {
                type Data = #ident;
                const NAMES: &'static [&'static str] = &[#(#names),*];
            }
        }
    });

    quote! {
        #(#markers)*
        #(#payload_impls)*

        /// Any Clerk webhook event, typed by its envelope `type`; types Clerk adds later land
        /// in `Unknown` with their data kept as JSON.
        #[derive(Debug, Clone, PartialEq)]
        #[non_exhaustive]
        pub enum ClerkEvent {
            #(#variants,)*
            /// An event type this version of hookflow does not know.
            Unknown {
                /// Clerk's `type`, e.g. `user.someday`.
                clerk_type: ::std::string::String,
                /// The payload, untouched.
                data: ::hookflow::__private::serde_json::Value,
            },
        }

        impl ClerkEvent {
            /// Parses a payload given Clerk's `type` (e.g. `user.created`).
            pub fn from_parts(
                clerk_type: &str,
                data: &::hookflow::__private::serde_json::Value,
            ) -> ::core::result::Result<Self, ::hookflow::__private::serde_json::Error> {
                use ::hookflow::__private::serde::Deserialize as _;
                ::core::result::Result::Ok(match clerk_type {
                    #(#parse_arms,)*
                    other => ClerkEvent::Unknown { clerk_type: other.to_owned(), data: data.clone() },
                })
            }

            /// [`ClerkEvent::from_parts`] for a [`Payload`](::hookflow::Payload): typed
            /// from its text when it has one, without building a JSON tree.
            pub fn from_payload(
                clerk_type: &str,
                data: &::hookflow::Payload,
            ) -> ::core::result::Result<Self, ::hookflow::__private::serde_json::Error> {
                ::core::result::Result::Ok(match clerk_type {
                    #(#payload_arms,)*
                    other => ClerkEvent::Unknown { clerk_type: other.to_owned(), data: (**data).clone() },
                })
            }

            /// Clerk's `type` of this event, e.g. `user.created`.
            pub fn clerk_type(&self) -> &str {
                match self {
                    #(#type_arms,)*
                    ClerkEvent::Unknown { clerk_type, .. } => clerk_type,
                }
            }

            /// The hookflow event name, e.g. `clerk/user.created`.
            pub fn event_name(&self) -> ::std::string::String {
                ::std::format!("clerk/{}", self.clerk_type())
            }

            /// The payload as JSON.
            pub fn to_data(&self) -> ::core::result::Result<::hookflow::__private::serde_json::Value, ::hookflow::__private::serde_json::Error> {
                match self {
                    #(#data_arms,)*
                    ClerkEvent::Unknown { data, .. } => ::core::result::Result::Ok(data.clone()),
                }
            }
        }

        /// One row of the Clerk event catalogue.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct CatalogEntry {
            /// Clerk's `type`, e.g. `user.created`.
            pub clerk_type: &'static str,
            /// The hookflow event name, e.g. `clerk/user.created`.
            pub event_name: &'static str,
            /// The marker type's name in `hookflow::clerk`.
            pub marker: &'static str,
            /// The payload type's name in `hookflow::clerk`.
            pub payload: &'static str,
            /// What the event means.
            pub doc: &'static str,
        }

        /// Every Clerk event hookflow knows: the same table the macro checks names against.
        pub const CATALOG: &[CatalogEntry] = &[#(#table),*];
    }
}
