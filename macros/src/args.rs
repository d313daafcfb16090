//! Syntax of `#[inngest_fn(...)]` arguments and of `#[event(...)]`: a list of `key = value`
//! and `key(...)` items, kept with their spans. Meaning (which keys exist, what values they
//! take) is `validate`'s business, so that every mistake there is reported, not just the first.

use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{token, Ident, Lit, LitFloat, LitInt, Path, Token};

/// `key = value, key(...), ...`
pub(crate) struct Args {
    pub(crate) items: Vec<Arg>,
}

/// One `key = value`, `key(...)` or bare `key`.
pub(crate) struct Arg {
    /// The key; keywords such as `if` are allowed.
    pub(crate) key: Ident,
    pub(crate) value: Value,
}

/// What follows a key.
pub(crate) enum Value {
    /// `= "text"`, `= 3`, `= -1`, `= true`.
    Lit(Lit),
    /// `= path::to::item`.
    Path(Path),
    /// `(key = value, ...)`.
    List(List),
    /// Nothing: a bare `key`.
    Missing,
}

/// A parenthesised list of arguments.
pub(crate) struct List {
    pub(crate) paren: token::Paren,
    pub(crate) items: Vec<Arg>,
}

impl Parse for Args {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let items = Punctuated::<Arg, Token![,]>::parse_terminated(input)?;
        Ok(Args { items: items.into_iter().collect() })
    }
}

impl Parse for Arg {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let key = Ident::parse_any(input).map_err(|e| {
            syn::Error::new(
                e.span(),
                "expected an option name, e.g. `id = \"my-function\"` or `event = \"clerk/user.created\"`",
            )
        })?;
        let value = if input.peek(Token![=]) {
            let eq: Token![=] = input.parse()?;
            parse_value(input, &key, eq.span)?
        } else if input.peek(token::Paren) {
            let content;
            let paren = syn::parenthesized!(content in input);
            let items = Punctuated::<Arg, Token![,]>::parse_terminated(&content)?;
            Value::List(List { paren, items: items.into_iter().collect() })
        } else {
            Value::Missing
        };
        Ok(Arg { key, value })
    }
}

fn parse_value(input: ParseStream<'_>, key: &Ident, eq: Span) -> syn::Result<Value> {
    if input.peek(Lit) {
        return Ok(Value::Lit(input.parse()?));
    }
    if input.peek(Token![-]) {
        // Negative numbers are not literals in Rust's grammar; fold the sign in so that range
        // checks can name the value as written.
        let minus: Token![-] = input.parse()?;
        let lit: Lit = input.parse()?;
        let folded = match &lit {
            Lit::Int(int) => Lit::Int(LitInt::new(&format!("-{int}"), minus.span)),
            Lit::Float(float) => Lit::Float(LitFloat::new(&format!("-{float}"), minus.span)),
            _ => return Err(syn::Error::new(lit.span(), "expected a number after `-`")),
        };
        return Ok(Value::Lit(folded));
    }
    if input.peek(Ident::peek_any) || input.peek(Token![::]) {
        return Ok(Value::Path(input.call(Path::parse_mod_style)?));
    }
    let span = if input.is_empty() { eq } else { input.span() };
    Err(syn::Error::new(span, format!("expected a value for `{key}`: a string, a number or a path")))
}

impl Arg {
    /// The span covering the whole item, for errors about it as a whole.
    pub(crate) fn span(&self) -> Span {
        match &self.value {
            Value::List(list) => self.key.span().join(list.paren.span.close()).unwrap_or_else(|| self.key.span()),
            _ => self.key.span(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(tokens: proc_macro2::TokenStream) -> syn::Result<Args> {
        syn::parse2(tokens)
    }

    #[test]
    fn parses_every_value_shape() {
        let args = parse(
            quote::quote!(id = "x", retries = -1, on_failure = crate::a::b, event(name = "e", if = "true"), flag),
        )
        .map_err(|e| e.to_string());
        let args = match args {
            Ok(args) => args,
            Err(e) => panic!("{e}"),
        };
        let keys: Vec<String> = args.items.iter().map(|a| a.key.to_string()).collect();
        assert_eq!(keys, ["id", "retries", "on_failure", "event", "flag"]);
        assert!(matches!(&args.items[0].value, Value::Lit(Lit::Str(s)) if s.value() == "x"));
        assert!(matches!(&args.items[1].value, Value::Lit(Lit::Int(i)) if i.base10_parse::<i64>().ok() == Some(-1)));
        assert!(matches!(&args.items[2].value, Value::Path(p) if p.segments.len() == 3));
        let Value::List(list) = &args.items[3].value else { panic!("not a list") };
        assert_eq!(list.items[1].key, "if");
        assert!(matches!(args.items[4].value, Value::Missing));
    }

    #[test]
    fn empty_and_trailing_commas_are_fine() {
        assert!(parse(quote::quote!()).is_ok_and(|a| a.items.is_empty()));
        assert!(parse(quote::quote!(id = "x",)).is_ok_and(|a| a.items.len() == 1));
    }

    #[test]
    fn syntax_errors_say_what_was_expected() {
        let err = parse(quote::quote!(id =)).err().map(|e| e.to_string());
        assert_eq!(err.as_deref(), Some("expected a value for `id`: a string, a number or a path"));
        let err = parse(quote::quote!("id")).err().map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.starts_with("expected an option name")));
        assert!(parse(quote::quote!(id = "a" retries = 1)).is_err());
    }
}
