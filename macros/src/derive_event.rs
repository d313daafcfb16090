//! `#[derive(Event)] #[event(name = "app/invoice.paid")]`: makes a serde struct (or enum) an
//! event type with one name: `EventType` (data = the type itself), `NamedEvent` and
//! `IntoRawEvent`, so that it can be received as `Event<T>` and sent as it is.

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::{Data, DeriveInput, Lit, LitStr};

use crate::args::{Args, Value};
use crate::expand::debug_print;
use crate::paths;
use crate::suggest::did_you_mean;
use crate::validate::Errors;

/// Prefixes that belong to someone else's events.
const RESERVED: &[(&str, &str)] = &[
    ("clerk/", "`clerk/` names are reserved for Clerk's events; use the marker types in `hookflow::clerk`, e.g. `Event<clerk::UserCreated>`"),
    ("inngest/", "`inngest/` names are reserved for the engine's own events, e.g. `inngest/function.failed`; pick a prefix of your own, e.g. `app/`"),
];

pub(crate) fn derive(input: TokenStream) -> TokenStream {
    let output = match syn::parse2::<DeriveInput>(input) {
        Ok(input) => expand(&input),
        Err(error) => error.to_compile_error(),
    };
    debug_print("derive(Event)", &output);
    output
}

fn expand(input: &DeriveInput) -> TokenStream {
    let mut errors = Errors::default();
    let name = validate(&mut errors, input);
    match errors.finish() {
        Ok(()) => impls(input, name.as_deref().unwrap_or_default()),
        Err(errors) => {
            let errors = errors.to_compile_error();
            // No impls: with an empty name they would accept any event or send nameless ones.
            quote!(#errors)
        }
    }
}

/// The declared name, when everything is in order.
fn validate(errors: &mut Errors, input: &DeriveInput) -> Option<String> {
    let ident = &input.ident;
    if let Data::Union(union) = &input.data {
        errors.at(
            union.union_token.span,
            "`#[derive(Event)]` needs a struct or an enum that serde can (de)serialize, not a union",
        );
    }
    if !input.generics.params.is_empty() {
        errors.spanned(
            &input.generics,
            format!("`{ident}` cannot be generic: an event has one name, so its payload has one type; remove the parameters"),
        );
    }
    let mut name: Option<LitStr> = None;
    let mut found_attr = false;
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("event")) {
        found_attr = true;
        let args = match attr.parse_args_with(|input: syn::parse::ParseStream<'_>| input.parse::<Args>()) {
            Ok(args) => args,
            Err(error) => {
                errors.push(error);
                continue;
            }
        };
        for arg in &args.items {
            if arg.key != "name" {
                let key = arg.key.to_string();
                let hint = if did_you_mean(&key, ["name"]).is_some() { "; did you mean `name`?" } else { "" };
                errors
                    .at(arg.key.span(), format!("unknown key `{key}` in `#[event(...)]`{hint} the only key is `name`"));
                continue;
            }
            if name.is_some() {
                errors.at(arg.key.span(), "`name` is given twice: an event has one name; remove one");
                continue;
            }
            match &arg.value {
                Value::Lit(Lit::Str(lit)) => {
                    if check_name(errors, lit) {
                        name = Some(lit.clone());
                    } else {
                        // Recorded so that a later duplicate is still caught, without a second error.
                        name = Some(LitStr::new("", lit.span()));
                    }
                }
                _ => errors.at(arg.key.span(), "`name` takes a string, e.g. `#[event(name = \"app/invoice.paid\")]`"),
            }
        }
    }
    // An attribute whose only problem was reported above needs no second error about the name.
    if name.is_none() && !(found_attr && errors.has_errors()) {
        let span = if found_attr { Span::call_site() } else { ident.span() };
        errors.at(
            span,
            format!(
                "`{ident}` needs its event name: add `#[event(name = \"app/{}\")]` below the derive",
                suggested(ident)
            ),
        );
    }
    name.map(|lit| lit.value()).filter(|n| !n.is_empty())
}

/// `InvoicePaid` → `invoice.paid`, as a starting point for a name.
fn suggested(ident: &syn::Ident) -> String {
    let mut out = String::new();
    for (i, c) in ident.to_string().chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            out.push('.');
        }
        out.extend(c.to_lowercase());
    }
    out
}

fn check_name(errors: &mut Errors, lit: &LitStr) -> bool {
    let value = lit.value();
    if value.trim().is_empty() {
        errors.spanned(lit, "the event name is empty: write e.g. `#[event(name = \"app/invoice.paid\")]`");
        return false;
    }
    if value.chars().any(char::is_whitespace) {
        errors.spanned(
            lit,
            format!("event name `{value}` contains whitespace: event names look like `app/invoice.paid`"),
        );
        return false;
    }
    if let Some((_, message)) = RESERVED.iter().find(|(prefix, _)| value.starts_with(prefix)) {
        errors.spanned(lit, format!("cannot declare `{value}`: {message}"));
        return false;
    }
    true
}

fn impls(input: &DeriveInput, name: &str) -> TokenStream {
    let ident = &input.ident;
    let (event_type, named_event, into_raw_event, raw_event, serde_json, result) = (
        paths::event_type(),
        paths::named_event(),
        paths::into_raw_event(),
        paths::raw_event(),
        paths::serde_json(),
        paths::result(),
    );
    quote! {
        const _: () = {
            impl #event_type for #ident {
                type Data = Self;
                const NAMES: &'static [&'static str] = &[#name];
            }
            impl #named_event for #ident {
                const NAME: &'static str = #name;
            }
            impl #into_raw_event for #ident {
                fn into_raw_event(self) -> #result<#raw_event, #serde_json::Error> {
                    #result::Ok(#raw_event::new(#name, #serde_json::to_value(self)?))
                }
            }
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(input: TokenStream) -> Vec<String> {
        let input: DeriveInput = match syn::parse2(input) {
            Ok(input) => input,
            Err(e) => panic!("{e}"),
        };
        let mut errors = Errors::default();
        validate(&mut errors, &input);
        errors.finish().err().map(|e| e.into_iter().map(|e| e.to_string()).collect()).unwrap_or_default()
    }

    #[test]
    fn a_named_struct_gets_its_impls() {
        let out = derive(quote!(
            #[event(name = "app/invoice.paid")]
            struct InvoicePaid {
                id: String,
            }
        ))
        .to_string();
        assert!(out.contains("EventType for InvoicePaid"), "{out}");
        assert!(out.contains("const NAME : & 'static str = \"app/invoice.paid\""), "{out}");
        assert!(out.contains("RawEvent :: new (\"app/invoice.paid\""), "{out}");
    }

    #[test]
    fn reserved_prefixes_are_refused() {
        let e = errors(quote!(
            #[event(name = "clerk/user.created")]
            struct S;
        ));
        assert_eq!(e.len(), 1);
        assert!(
            e[0].starts_with("cannot declare `clerk/user.created`: `clerk/` names are reserved for Clerk's events"),
            "{e:?}"
        );
        let e = errors(quote!(
            #[event(name = "inngest/function.failed")]
            struct S;
        ));
        assert!(e[0].contains("`inngest/` names are reserved"), "{e:?}");
    }

    #[test]
    fn the_name_is_required_once_and_well_formed() {
        let e = errors(quote!(
            struct InvoicePaid;
        ));
        assert_eq!(
            e,
            ["`InvoicePaid` needs its event name: add `#[event(name = \"app/invoice.paid\")]` below the derive"]
        );
        let e = errors(quote!(
            #[event(name = "a/b", name = "a/c")]
            struct S;
        ));
        assert_eq!(e, ["`name` is given twice: an event has one name; remove one"]);
        let e = errors(quote!(
            #[event(nmae = "a/b")]
            struct S;
        ));
        assert_eq!(e, ["unknown key `nmae` in `#[event(...)]`; did you mean `name`? the only key is `name`"]);
        assert!(errors(quote!(
            #[event(name = "a b")]
            struct S;
        ))[0]
            .contains("whitespace"));
        assert!(errors(quote!(
            #[event(name = "")]
            struct S;
        ))[0]
            .contains("empty"));
        assert!(errors(quote!(
            #[event(name = "a/b")]
            struct S<T>(T);
        ))[0]
            .contains("cannot be generic"));
    }
}
