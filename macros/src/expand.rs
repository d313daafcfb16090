//! Code generation for `#[inngest_fn]`: infallible, from the validated `Function`.
//!
//! Output, next to the user's function (emitted unchanged):
//!
//! ```text
//! #[doc(hidden)] <vis> struct <fn_name> {}          // type namespace only: no clash with the fn
//! const _: () = {
//!     const _: () = expect_event::<E>("clerk/user.created", "...");   // one per (Event param, trigger)
//!     fn __hookflow_handler(inv: Invocation) -> HandlerFuture { ... }
//!     fn __hookflow_on_failure(inv: Invocation) -> HandlerFuture { ... } // with `on_failure = path`
//!     static __HOOKFLOW_DEF: FunctionDef = FunctionDef { ... };
//!     inventory::submit! { Registration(&__HOOKFLOW_DEF) }
//!     impl <fn_name> { pub const DEF: &'static FunctionDef = &__HOOKFLOW_DEF; }
//! };
//! ```
//!
//! so that `<fn_name>::DEF` names the function's definition wherever the function is in scope
//! (tests, `Registry::add(onboarding::DEF)`), while everything else stays hidden in the block.

use proc_macro2::{Delimiter, Group, Literal, Span, TokenStream, TokenTree};
use quote::{format_ident, quote, ToTokens};
use syn::spanned::Spanned;
use syn::{Item, ItemFn};

use crate::paths;
use crate::validate::{self, Function, ParamKind, PayloadCheck, Scope, Trigger};

/// `#[inngest_fn(args)] item`.
pub(crate) fn inngest_fn(args: TokenStream, item: TokenStream) -> TokenStream {
    let output = match syn::parse2::<Item>(item.clone()) {
        Ok(Item::Fn(func)) => match validate::function(args, &func) {
            Ok(function) => generate(&function, item),
            Err(errors) => fallback(&func, item, errors),
        },
        Ok(other) => {
            let (kind, head) = describe(&other);
            let error = syn::Error::new_spanned(
                head,
                format!(
                    "`#[inngest_fn]` goes on an `async fn`, not on {kind}: write \
                     `#[inngest_fn(id = \"...\", event = \"...\")] async fn name(event: Event<E>) -> Result<()>`"
                ),
            );
            let error = error.to_compile_error();
            quote!(#item #error)
        }
        Err(error) => {
            let error = error.to_compile_error();
            quote!(#item #error)
        }
    };
    debug_print("inngest_fn", &output);
    output
}

/// `HOOKFLOW_MACROS_DEBUG=1` prints every expansion to stderr.
pub(crate) fn debug_print(macro_name: &str, output: &TokenStream) {
    if std::env::var_os("HOOKFLOW_MACROS_DEBUG").is_some_and(|v| v == "1") {
        eprintln!("// hookflow: expansion of #[{macro_name}]\n{output}\n");
    }
}

/// What kind of item the attribute was put on, and its head (keyword and name) to point at.
fn describe(item: &Item) -> (&'static str, TokenStream) {
    match item {
        Item::Struct(s) => {
            let (kw, ident) = (&s.struct_token, &s.ident);
            ("a struct", quote!(#kw #ident))
        }
        Item::Enum(e) => {
            let (kw, ident) = (&e.enum_token, &e.ident);
            ("an enum", quote!(#kw #ident))
        }
        Item::Union(u) => {
            let (kw, ident) = (&u.union_token, &u.ident);
            ("a union", quote!(#kw #ident))
        }
        Item::Const(c) => {
            let (kw, ident) = (&c.const_token, &c.ident);
            ("a const", quote!(#kw #ident))
        }
        Item::Static(s) => {
            let (kw, ident) = (&s.static_token, &s.ident);
            ("a static", quote!(#kw #ident))
        }
        Item::Mod(m) => {
            let (kw, ident) = (&m.mod_token, &m.ident);
            ("a module", quote!(#kw #ident))
        }
        Item::Trait(t) => {
            let (kw, ident) = (&t.trait_token, &t.ident);
            ("a trait", quote!(#kw #ident))
        }
        Item::Type(t) => {
            let (kw, ident) = (&t.type_token, &t.ident);
            ("a type alias", quote!(#kw #ident))
        }
        Item::Impl(i) => {
            let (kw, ty) = (&i.impl_token, &i.self_ty);
            ("an `impl` block", quote!(#kw #ty))
        }
        Item::Use(u) => ("a `use` declaration", u.to_token_stream()),
        Item::ExternCrate(e) => ("an `extern crate`", e.to_token_stream()),
        Item::ForeignMod(f) => ("an `extern` block", f.abi.to_token_stream()),
        Item::Macro(m) => ("a macro", m.mac.path.to_token_stream()),
        other => ("this item", other.to_token_stream()),
    }
}

/// On error: the user's item unchanged, the errors, and a placeholder `<fn_name>::DEF` so that
/// code naming it does not add a second error to the first.
fn fallback(func: &ItemFn, item: TokenStream, errors: syn::Error) -> TokenStream {
    let errors = errors.to_compile_error();
    let has_self = func.sig.inputs.iter().any(|input| matches!(input, syn::FnArg::Receiver(_)));
    if has_self {
        // Inside an `impl` block nothing but associated items may follow.
        return quote!(#item #errors);
    }
    let (ident, vis) = (&func.sig.ident, &func.vis);
    let (def, options, invocation, future) =
        (paths::function_def(), paths::options(), paths::invocation(), paths::handler_future());
    let private = paths::private();
    let name = ident.to_string();
    quote! {
        #[allow(dead_code)]
        #item
        #errors
        #[doc(hidden)]
        #[allow(non_camel_case_types, dead_code, unreachable_pub)]
        #vis struct #ident {}
        const _: () = {
            fn __hookflow_handler(_: #invocation) -> #future {
                ::core::unreachable!("`{}` did not compile", #name)
            }
            static __HOOKFLOW_DEF: #def = #def {
                id: "",
                name: ::core::option::Option::None,
                triggers: &[],
                options: #options::DEFAULT,
                handler: __hookflow_handler,
                on_failure: ::core::option::Option::None,
                location: #private::SourceLocation { file: ::core::file!(), line: ::core::line!(), path: #name },
            };
            #[allow(dead_code)]
            impl #ident {
                /// Placeholder for a function that did not compile.
                pub const DEF: &'static #def = &__HOOKFLOW_DEF;
            }
        };
    }
}

fn generate(f: &Function, item: TokenStream) -> TokenStream {
    let (ident, vis) = (&f.ident, &f.vis);
    let private = paths::private();
    let def = paths::function_def();
    let checks = f.checks.iter().map(payload_check);
    let handler = handler(f);
    let (on_failure_fn, on_failure_field) = match &f.on_failure {
        Some(path) => {
            // The failed run's event is typed as the function's own payload (`Json` without one).
            let payload = f
                .params
                .iter()
                .find_map(|p| match &p.kind {
                    ParamKind::Event(e) | ParamKind::Events(e) => Some(e.to_token_stream()),
                    _ => None,
                })
                .unwrap_or_else(paths::json);
            (on_failure(path, payload), quote!(::core::option::Option::Some(__hookflow_on_failure)))
        }
        None => (TokenStream::new(), quote!(::core::option::Option::None)),
    };
    let id = &f.id;
    let name = opt_str(f.name.as_deref());
    let triggers = f.triggers.iter().map(trigger);
    let options = options(&f.options);
    let fn_name = ident.to_string();
    let doc = format!("The definition of `#[inngest_fn]` `{fn_name}` (id `{id}`), for `Registry::add` and tests.");
    quote! {
        #item
        #[doc(hidden)]
        #[allow(non_camel_case_types, dead_code, unreachable_pub)]
        #vis struct #ident {}
        const _: () = {
            #(#checks)*
            #handler
            #on_failure_fn
            static __HOOKFLOW_DEF: #def = #def {
                id: #id,
                name: #name,
                triggers: &[#(#triggers),*],
                options: #options,
                handler: __hookflow_handler,
                on_failure: #on_failure_field,
                location: #private::SourceLocation {
                    file: ::core::file!(),
                    line: ::core::line!(),
                    path: ::core::concat!(::core::module_path!(), "::", #fn_name),
                },
            };
            #private::inventory::submit! { #private::Registration(&__HOOKFLOW_DEF) }
            #[allow(dead_code)]
            impl #ident {
                #[doc = #doc]
                pub const DEF: &'static #def = &__HOOKFLOW_DEF;
            }
        };
    }
}

/// The entry point: builds each argument from the invocation, calls the function, converts
/// its result. The result conversion is spanned at the return type so that a wrong return type
/// is reported there, through `FunctionOutput`'s `on_unimplemented` message.
fn handler(f: &Function) -> TokenStream {
    let (invocation, future, result, boxed) =
        (paths::invocation(), paths::handler_future(), paths::result(), paths::boxed());
    let inv = format_ident!("__hookflow_inv");
    let mut args = Vec::new();
    for param in &f.params {
        // Each argument is built in place (a local of type `Event<NotAnEvent>` would add an
        // error of its own) and spanned at the user's type, so that a type the runtime cannot
        // supply is reported on the user's tokens rather than on the attribute.
        let (span, value) = match &param.kind {
            ParamKind::Event(e) => (e.span(), fallible(quote!(#inv.event::<#e>()), e.span())),
            ParamKind::Events(e) => (e.span(), fallible(quote!(#inv.events::<#e>()), e.span())),
            ParamKind::Step => (param.ty.span(), quote!(#inv.step())),
            ParamKind::Dep(t) => (t.span(), fallible(quote!(#inv.dep::<#t>()), t.span())),
        };
        args.push(respan(value, span));
    }
    let ident = &f.ident;
    // Spanned at the return type, binding and use alike (a local's hygiene comes from its
    // span), so that the argument of `into_output` is reported there.
    let out = proc_macro2::Ident::new("__hookflow_out", f.output_span);
    let convert = respan(paths::into_output(), f.output_span);
    let mut call_args = Group::new(Delimiter::Parenthesis, quote!(#(#args),*));
    call_args.set_span(ident.span());
    let call_head = respan(quote!(let #out = #ident), ident.span());
    let call_tail = respan(quote!(.await;), ident.span());
    let call = quote!(#call_head #call_args #call_tail);
    let body = quote! {
        #call
        let __hookflow_result: #result<_, _> = #convert(#out);
        __hookflow_result
    };
    // The future is boxed as `dyn Future + Send`: spanned at the function's name, so that a
    // future that is not `Send` is reported there.
    let span = ident.span();
    let mut block = Group::new(Delimiter::Brace, body);
    block.set_span(span);
    let async_block = respan(quote!(async move), span);
    let mut pin_args = Group::new(Delimiter::Parenthesis, quote!(#async_block #block));
    pin_args.set_span(span);
    let pin = respan(quote!(#boxed::pin), span);
    quote! {
        fn __hookflow_handler(#inv: #invocation) -> #future {
            #pin #pin_args
        }
    }
}

/// `match call { Ok(v) => v, Err(e) => return Err(e) }`: `?` would need the async block's
/// error type spelled out before inference has seen it. The value's binding is spanned at
/// `span` (the user's type), so that nothing about its type is reported on the attribute.
fn fallible(call: TokenStream, span: Span) -> TokenStream {
    let result = paths::result();
    let value = proc_macro2::Ident::new("__hookflow_value", span);
    quote! {
        match #call {
            #result::Ok(#value) => #value,
            #result::Err(__hookflow_error) => return #result::Err(__hookflow_error),
        }
    }
}

/// The `on_failure` entry point: calls `path(Event<Json>, Step)`, everything spanned at the
/// path so that a function with another signature is reported there.
fn on_failure(path: &syn::Path, payload: TokenStream) -> TokenStream {
    let (invocation, future, boxed, private) =
        (paths::invocation(), paths::handler_future(), paths::boxed(), paths::private());
    let inv = format_ident!("__hookflow_inv");
    // The handler is checked against `OnFailure<E, _>` (spanned at the path): a wrong
    // signature gets that trait's message, naming the signature it expects.
    let call = respan(quote!(#private::call_on_failure::<#payload, _, _>(#path, #inv).await), path.span());
    quote! {
        fn __hookflow_on_failure(#inv: #invocation) -> #future {
            #boxed::pin(async move { #call })
        }
    }
}

/// `const _: () = expect_event::<E>(event, message);`, with the call spanning `E` exactly:
/// the path takes the span of `E`'s first token and the argument list that of its last, so
/// the compiler underlines the user's type from end to end.
fn payload_check(check: &PayloadCheck) -> TokenStream {
    let ty = &check.ty;
    let tokens: Vec<TokenTree> = ty.to_token_stream().into_iter().collect();
    let first = tokens.first().map_or_else(Span::call_site, TokenTree::span);
    let last = tokens.last().map_or(first, TokenTree::span);
    // Every token is the user's: rustc merges the spans of an expression only when they come
    // from the same expansion, and falls back to the attribute otherwise.
    let head = respan(quote!(const _: () = ), first);
    let helper = respan(paths::expect_event(), first);
    let open = respan(quote!(::<), first);
    let close = respan(quote!(>), last);
    let (event, message) = (&check.event, &check.message);
    let args = respan(quote!((#event, #message);), last);
    quote! {
        #head #helper #open #ty #close #args
    }
}

/// Gives every token (recursively) the span `span`, so that errors about the code land on the
/// user's tokens, except our local variables (`__hookflow_*`): they keep the call-site span
/// they were made with, because a local binding and its uses must share hygiene, and the
/// user's tokens may come from a `macro_rules!` whose locals are hygienic.
fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|tree| match tree {
            TokenTree::Group(group) => {
                let mut new = Group::new(group.delimiter(), respan(group.stream(), span));
                new.set_span(span);
                TokenTree::Group(new)
            }
            TokenTree::Ident(ident) if ident.to_string().starts_with("__hookflow_") => TokenTree::Ident(ident),
            mut other => {
                other.set_span(span);
                other
            }
        })
        .collect()
}

fn opt_str(value: Option<&str>) -> TokenStream {
    match value {
        Some(value) => quote!(::core::option::Option::Some(#value)),
        None => quote!(::core::option::Option::None),
    }
}

/// A string the runtime keeps as `Cow<'static, str>` (borrowed here, owned in synced specs).
fn cow(value: &str) -> TokenStream {
    let cow = paths::cow();
    quote!(#cow::Borrowed(#value))
}

fn opt_cow(value: Option<&str>) -> TokenStream {
    match value {
        Some(value) => {
            let value = cow(value);
            quote!(::core::option::Option::Some(#value))
        }
        None => quote!(::core::option::Option::None),
    }
}

fn duration(value: std::time::Duration) -> TokenStream {
    let path = paths::duration();
    // Durations are parsed in whole milliseconds, so nothing is lost; saturate rather than wrap.
    let millis = Literal::u64_suffixed(u64::try_from(value.as_millis()).unwrap_or(u64::MAX));
    quote!(#path::from_millis(#millis))
}

fn opt_duration(value: Option<std::time::Duration>) -> TokenStream {
    match value {
        Some(value) => {
            let value = duration(value);
            quote!(::core::option::Option::Some(#value))
        }
        None => quote!(::core::option::Option::None),
    }
}

fn trigger(trigger: &Trigger) -> TokenStream {
    let path = paths::trigger();
    match trigger {
        Trigger::Event { name, expr } => {
            let (name, expr) = (cow(name), opt_cow(expr.as_deref()));
            quote!(#path::Event { name: #name, expr: #expr })
        }
        Trigger::Cron { schedule } => {
            let schedule = cow(schedule);
            quote!(#path::Cron { schedule: #schedule })
        }
    }
}

fn options(o: &validate::Options) -> TokenStream {
    let private = paths::private();
    let option = paths::option();
    let mut fields = Vec::new();
    if let Some(retries) = o.retries {
        fields.push(quote!(retries: #option::Some(#retries)));
    }
    if !o.concurrency.is_empty() {
        let items = o.concurrency.iter().map(|c| {
            let limit = c.limit;
            let key = opt_cow(c.key.as_deref());
            let scope = match c.scope {
                Scope::Fn => quote!(Fn),
                Scope::Env => quote!(Env),
                Scope::Account => quote!(Account),
            };
            let per = if c.per_run { quote!(Run) } else { quote!(Step) };
            quote!(#private::Concurrency {
                limit: #limit,
                key: #key,
                scope: #private::ConcurrencyScope::#scope,
                per: #private::ConcurrencyPer::#per,
            })
        });
        let cow = paths::cow();
        fields.push(quote!(concurrency: #cow::Borrowed(&[#(#items),*])));
    }
    if !o.throttle.is_empty() {
        let items = o.throttle.iter().map(|t| {
            let (limit, period, burst, key) = (t.limit, duration(t.period), t.burst, opt_cow(t.key.as_deref()));
            quote!(#private::Throttle { limit: #limit, period: #period, burst: #burst, key: #key })
        });
        let cow = paths::cow();
        fields.push(quote!(throttle: #cow::Borrowed(&[#(#items),*])));
    }
    if let Some(r) = &o.rate_limit {
        let (limit, period, key) = (r.limit, duration(r.period), opt_cow(r.key.as_deref()));
        fields
            .push(quote!(rate_limit: #option::Some(#private::RateLimit { limit: #limit, period: #period, key: #key })));
    }
    if let Some(d) = &o.debounce {
        let (period, key, timeout, all) =
            (duration(d.period), opt_cow(d.key.as_deref()), opt_duration(d.timeout), d.all_events);
        fields.push(quote!(debounce: #option::Some(#private::Debounce {
            period: #period, key: #key, timeout: #timeout, all_events: #all
        })));
    }
    if let Some(b) = &o.batch_events {
        let (max_size, timeout, key, if_expr) =
            (b.max_size, duration(b.timeout), opt_cow(b.key.as_deref()), opt_cow(b.if_expr.as_deref()));
        fields.push(quote!(batch_events: #option::Some(#private::BatchEvents {
            max_size: #max_size, timeout: #timeout, key: #key, if_expr: #if_expr
        })));
    }
    if let Some(run) = &o.priority {
        let run = cow(run);
        fields.push(quote!(priority: #option::Some(#private::Priority { run: #run })));
    }
    if let Some(expr) = &o.idempotency {
        let expr = cow(expr);
        fields.push(quote!(idempotency: #option::Some(#expr)));
    }
    if let Some(single) = &o.singleton {
        let mode = if single.cancel { quote!(Cancel) } else { quote!(Skip) };
        let key = opt_cow(single.key.as_deref());
        fields.push(
            quote!(singleton: #option::Some(#private::Singleton { mode: #private::SingletonMode::#mode, key: #key })),
        );
    }
    if !o.cancel_on.is_empty() {
        let items = o.cancel_on.iter().map(|c| {
            let (event, expr, timeout) = (cow(&c.event), opt_cow(c.expr.as_deref()), opt_duration(c.timeout));
            quote!(#private::CancelOn { event: #event, expr: #expr, timeout: #timeout })
        });
        let cow = paths::cow();
        fields.push(quote!(cancel_on: #cow::Borrowed(&[#(#items),*])));
    }
    if let Some(t) = &o.timeouts {
        let (start, finish) = (opt_duration(t.start), opt_duration(t.finish));
        fields.push(quote!(timeouts: #option::Some(#private::Timeouts { start: #start, finish: #finish })));
    }
    let options = paths::options();
    // Never every field: a batch excludes four of them, so `..DEFAULT` is never a needless update.
    quote!(#options { #(#fields,)* ..#options::DEFAULT })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand(args: TokenStream, item: TokenStream) -> String {
        inngest_fn(args, item).to_string()
    }

    #[test]
    fn a_valid_function_registers_itself() {
        let out = expand(
            quote!(id = "welcome", event = "clerk/user.created", retries = 2, timeouts(finish = "1h")),
            quote!(
                async fn welcome(event: Event<clerk::UserCreated>, step: Step) -> Result<()> {
                    Ok(())
                }
            ),
        );
        assert!(out.starts_with("async fn welcome"), "the function comes first, unchanged: {out}");
        assert!(out.contains("struct welcome { }"), "{out}");
        assert!(out.contains("inventory :: submit !"), "{out}");
        assert!(out.contains("pub const DEF"), "{out}");
        assert!(out.contains("expect_event :: < clerk :: UserCreated > (\"clerk/user.created\""), "{out}");
        assert!(out.contains("retries : :: core :: option :: Option :: Some (2u32)"), "{out}");
        assert!(out.contains("Duration :: from_millis (3600000u64)"), "{out}");
        assert!(out.contains(". event :: < clerk :: UserCreated > ()"), "{out}");
        assert!(out.contains(". step ()"), "{out}");
        assert!(out.contains(".. :: hookflow :: __private :: Options :: DEFAULT"), "{out}");
    }

    #[test]
    fn errors_keep_the_function_and_add_a_placeholder() {
        let out = expand(
            quote!(id = "x", event = "clerk/user.craeted"),
            quote!(
                async fn f() -> Result<()> {
                    Ok(())
                }
            ),
        );
        assert!(out.contains("async fn f"), "{out}");
        assert!(out.contains("compile_error !"), "{out}");
        assert!(out.contains("unknown Clerk event"), "{out}");
        assert!(out.contains("struct f { }"), "{out}");
        assert!(!out.contains("inventory"), "a broken function is never registered: {out}");
    }

    #[test]
    fn non_functions_are_refused_and_kept() {
        let out = expand(
            quote!(id = "x", event = "a/b"),
            quote!(
                struct S;
            ),
        );
        assert!(out.starts_with("struct S ;"), "{out}");
        assert!(out.contains("goes on an `async fn`, not on a struct"), "{out}");
    }

    #[test]
    fn methods_get_no_items_beside_them() {
        let out = expand(
            quote!(id = "x", event = "a/b"),
            quote!(
                async fn f(&self) -> Result<()> {
                    Ok(())
                }
            ),
        );
        assert!(!out.contains("struct"), "{out}");
        assert!(out.contains("compile_error !"), "{out}");
    }
}
