//! Durations written as string literals in a function's body, checked at expansion time:
//! `step.sleep("wait", "3 dayz")` and `WaitFor::timeout("2 dayz")` are refused with the
//! message an option's duration gets, where they are written. A computed string (a variable,
//! `format!`) is left to the run-time parse, which uses the same parser.
//!
//! The body is scanned as tokens rather than as a syntax tree: the calls can sit anywhere
//! (closures, macros' arguments such as `tokio::join!`), and tokens reach inside them all.

use proc_macro2::{Delimiter, Group, Literal, TokenStream, TokenTree};

use crate::duration::parse_duration;
use crate::validate::Errors;

/// Reports every literal duration in `body` that does not parse.
pub(crate) fn check(errors: &mut Errors, body: TokenStream) {
    let tokens: Vec<TokenTree> = body.into_iter().collect();
    for (i, token) in tokens.iter().enumerate() {
        let TokenTree::Group(group) = token else { continue };
        if group.delimiter() == Delimiter::Parenthesis {
            let before = |back: usize| i.checked_sub(back).and_then(|j| tokens.get(j));
            match (before(2), before(1)) {
                // `<receiver>.sleep(id, "<duration>")`
                (Some(TokenTree::Punct(dot)), Some(TokenTree::Ident(name)))
                    if dot.as_char() == '.' && name == "sleep" =>
                {
                    if let [_, duration] = arguments(group).as_slice() {
                        literal(errors, duration, "step.sleep");
                    }
                }
                // `WaitFor::timeout("<duration>")`
                (Some(TokenTree::Punct(colon)), Some(TokenTree::Ident(name)))
                    if colon.as_char() == ':'
                        && name == "timeout"
                        && matches!(before(4), Some(TokenTree::Ident(ty)) if ty == "WaitFor") =>
                {
                    if let [duration] = arguments(group).as_slice() {
                        literal(errors, duration, "WaitFor::timeout");
                    }
                }
                _ => {}
            }
        }
        check(errors, group.stream());
    }
}

/// A call's arguments, split at its top-level commas (a trailing comma adds none).
fn arguments(group: &Group) -> Vec<Vec<TokenTree>> {
    let mut args = vec![Vec::new()];
    for token in group.stream() {
        match &token {
            TokenTree::Punct(p) if p.as_char() == ',' => args.push(Vec::new()),
            _ => args.last_mut().into_iter().for_each(|arg| arg.push(token.clone())),
        }
    }
    if args.last().is_some_and(Vec::is_empty) {
        args.pop();
    }
    args
}

/// When `arg` is one string literal: its duration must parse.
fn literal(errors: &mut Errors, arg: &[TokenTree], what: &str) {
    let [TokenTree::Literal(lit)] = arg else { return };
    let Some(text) = string(lit) else { return };
    if let Err(e) = parse_duration(&text) {
        errors.at(lit.span(), format!("invalid duration for `{what}`: {e}"));
    }
}

/// The value of a string literal (`"..."` or `r"..."`), `None` for other literals.
fn string(lit: &Literal) -> Option<String> {
    let parsed: syn::Lit = syn::parse2(TokenTree::Literal(lit.clone()).into()).ok()?;
    match parsed {
        syn::Lit::Str(s) => Some(s.value()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use quote::quote;

    use super::*;

    fn messages(body: TokenStream) -> Vec<String> {
        let mut errors = Errors::default();
        check(&mut errors, body);
        match errors.finish() {
            Ok(()) => Vec::new(),
            Err(e) => e.into_iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn literal_durations_are_parsed_where_they_are_written() {
        let found = messages(quote! {
            step.sleep("a", "3 dayz").await?;
            let w = hookflow::WaitFor::timeout("2 weks").event("x");
            tokio::join!(async { step.sleep("b", "1 fortnight").await });
        });
        assert_eq!(found.len(), 3, "{found:?}");
        assert!(found[0].starts_with("invalid duration for `step.sleep`: unknown unit `dayz`"), "{found:?}");
        assert!(found[1].starts_with("invalid duration for `WaitFor::timeout`"), "{found:?}");
    }

    #[test]
    fn good_and_computed_durations_pass() {
        let found = messages(quote! {
            step.sleep("a", "3 days").await?;
            step.sleep(&id, r"1h30m",).await?;
            step.sleep("c", wait).await?;
            step.sleep("d", format!("{n} dayz")).await?;
            step.sleep("e", Duration::from_secs(1)).await?;
            other.sleep("3 dayz");
            WaitFor::timeout(t);
        });
        assert_eq!(found, Vec::<String>::new());
    }
}
