//! Meaning of `#[inngest_fn(...)]`: turns the parsed arguments and the user's `async fn` into a
//! typed description of the function, checking every rule and collecting every error, so that
//! `expand` cannot fail and the user sees all mistakes at once, each on its own tokens.

use std::collections::BTreeSet;
use std::fmt::Display;
use std::ops::RangeInclusive;
use std::time::Duration;

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::spanned::Spanned;
use syn::{FnArg, GenericArgument, Ident, ItemFn, Lit, LitStr, Path, PathArguments, ReturnType, Type, Visibility};

use crate::args::{Arg, Args, List, Value};
use crate::catalog;
use crate::duration::parse_duration;
use crate::schedule::parse_schedule;
use crate::suggest::{backticked, did_you_mean, renamed_key};

/// The event a cron trigger delivers (Inngest's name for it).
pub(crate) const CRON_EVENT: &str = "inngest/scheduled.timer";

/// A function, validated: everything `expand` needs, nothing it must check.
pub(crate) struct Function {
    pub(crate) ident: Ident,
    pub(crate) vis: Visibility,
    pub(crate) id: String,
    pub(crate) name: Option<String>,
    pub(crate) triggers: Vec<Trigger>,
    pub(crate) options: Options,
    /// `on_failure = path`: an `async fn(Failure<E>, Step) -> Result<..>` (`E` the payload type).
    pub(crate) on_failure: Option<Path>,
    pub(crate) params: Vec<Param>,
    /// Where a wrong return type is reported: the return type, or the `)` when there is none.
    pub(crate) output_span: Span,
    /// Payload-type checks, one per (event parameter, trigger) pair.
    pub(crate) checks: Vec<PayloadCheck>,
}

pub(crate) enum Trigger {
    Event { name: String, expr: Option<String> },
    Cron { schedule: String },
}

#[derive(Default)]
pub(crate) struct Options {
    pub(crate) retries: Option<u32>,
    pub(crate) concurrency: Vec<Concurrency>,
    pub(crate) throttle: Vec<Throttle>,
    pub(crate) rate_limit: Option<RateLimit>,
    pub(crate) debounce: Option<Debounce>,
    pub(crate) batch_events: Option<BatchEvents>,
    pub(crate) priority: Option<String>,
    pub(crate) idempotency: Option<String>,
    pub(crate) singleton: Option<Singleton>,
    pub(crate) cancel_on: Vec<CancelOn>,
    pub(crate) timeouts: Option<Timeouts>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Scope {
    Fn,
    Env,
    Account,
}

pub(crate) struct Concurrency {
    pub(crate) limit: u32,
    pub(crate) key: Option<String>,
    pub(crate) scope: Scope,
    /// Held by the run from its start to its end, not only while a step executes.
    pub(crate) per_run: bool,
}

pub(crate) struct Singleton {
    /// `cancel` (cancel the active run) rather than `skip` (skip the new one).
    pub(crate) cancel: bool,
    pub(crate) key: Option<String>,
}

pub(crate) struct Throttle {
    pub(crate) limit: u32,
    pub(crate) period: Duration,
    pub(crate) burst: u32,
    pub(crate) key: Option<String>,
}

pub(crate) struct RateLimit {
    pub(crate) limit: u32,
    pub(crate) period: Duration,
    pub(crate) key: Option<String>,
}

pub(crate) struct Debounce {
    pub(crate) period: Duration,
    pub(crate) key: Option<String>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) all_events: bool,
}

pub(crate) struct BatchEvents {
    pub(crate) max_size: u32,
    pub(crate) timeout: Duration,
    pub(crate) key: Option<String>,
    pub(crate) if_expr: Option<String>,
}

pub(crate) struct CancelOn {
    pub(crate) event: String,
    pub(crate) expr: Option<String>,
    pub(crate) timeout: Option<Duration>,
}

pub(crate) struct Timeouts {
    pub(crate) start: Option<Duration>,
    pub(crate) finish: Option<Duration>,
}

/// A parameter: its type as written, and what that type was recognised as.
pub(crate) struct Param {
    pub(crate) ty: Type,
    pub(crate) kind: ParamKind,
}

pub(crate) enum ParamKind {
    /// `Event<E>`: the triggering event (the first of a batch); holds `E`.
    Event(Type),
    /// `Vec<Event<E>>`: every event of a batch; holds `E`.
    Events(Type),
    /// `Step`.
    Step,
    /// `Dep<T>`: application state; holds `T`.
    Dep(Type),
}

/// `E` must accept `event`, or compilation stops with `message` at `E`.
pub(crate) struct PayloadCheck {
    pub(crate) ty: Type,
    pub(crate) event: String,
    pub(crate) message: String,
}

/// Collects errors; like serde's `Ctxt`, it cannot lose one.
#[derive(Default)]
pub(crate) struct Errors {
    error: Option<syn::Error>,
}

impl Errors {
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.error {
            Some(existing) => existing.combine(error),
            None => self.error = Some(error),
        }
    }

    pub(crate) fn at(&mut self, span: Span, message: impl Display) {
        self.push(syn::Error::new(span, message));
    }

    pub(crate) fn spanned(&mut self, tokens: impl ToTokens, message: impl Display) {
        self.push(syn::Error::new_spanned(tokens, message));
    }

    pub(crate) fn has_errors(&self) -> bool {
        self.error.is_some()
    }

    pub(crate) fn finish(self) -> syn::Result<()> {
        self.error.map_or(Ok(()), Err)
    }
}

/// Every top-level key, in the order the docs list them.
pub(crate) const KEYS: &[&str] = &[
    "id",
    "name",
    "event",
    "cron",
    "retries",
    "concurrency",
    "throttle",
    "rate_limit",
    "debounce",
    "batch_events",
    "priority",
    "idempotency",
    "singleton",
    "cancel_on",
    "timeouts",
    "on_failure",
];

const SECOND: Duration = Duration::from_secs(1);
const MINUTE: Duration = Duration::from_secs(60);
const DAY: Duration = Duration::from_secs(86_400);

/// Validates the whole function: arguments, signature, and how the two fit together.
pub(crate) fn function(args: TokenStream, item: &ItemFn) -> syn::Result<Function> {
    let mut errors = Errors::default();
    let params = signature(&mut errors, item);
    let parsed = match syn::parse2::<Args>(args) {
        Ok(args) => Some(args),
        Err(e) => {
            errors.push(e);
            None
        }
    };
    let config = parsed.map(|args| options(&mut errors, &args, &item.sig.ident));
    if let (Some(params), Some(config)) = (&params, &config) {
        events_fit(&mut errors, params, config);
    }
    crate::literal_durations::check(&mut errors, item.block.to_token_stream());
    let output_span = match &item.sig.output {
        ReturnType::Type(_, ty) => ty.span(),
        ReturnType::Default => item.sig.paren_token.span.close(),
    };
    errors.finish()?;
    // Both are `Some` here: a parse failure or a missing part was pushed to `errors` above.
    let (Some(params), Some(config)) = (params, config) else {
        return Err(syn::Error::new(Span::call_site(), "internal error: validation lost an error"));
    };
    let Config { id: Some(id), name, triggers, options, on_failure, .. } = config else {
        return Err(syn::Error::new(Span::call_site(), "internal error: validation lost an error"));
    };
    let checks = payload_checks(&params, &triggers);
    Ok(Function {
        ident: item.sig.ident.clone(),
        vis: item.vis.clone(),
        id,
        name,
        triggers,
        options,
        on_failure,
        params,
        output_span,
        checks,
    })
}

/// A batched function receives its events as `Vec<Event<E>>`, and only a function whose run
/// has many events (a batch, or a `debounce(..., all_events = true)` window) takes that.
fn events_fit(errors: &mut Errors, params: &[Param], config: &Config) {
    let batched = config.batched;
    let many = batched || config.options.debounce.as_ref().is_some_and(|d| d.all_events);
    for param in params {
        match &param.kind {
            ParamKind::Event(e) if batched => errors.spanned(
                &param.ty,
                format!(
                    "a `batch_events` function receives every event of its batch: take `events: Vec<Event<{}>>` \
                     (the first is `events[0]`) in place of `{}`",
                    render(&e.to_token_stream()),
                    render(&param.ty.to_token_stream())
                ),
            ),
            ParamKind::Events(e) if !many => errors.spanned(
                &param.ty,
                format!(
                    "`{}` receives the events of a batch, but this function's runs have one event: take \
                     `event: Event<{}>`, or add `batch_events(max_size = 100, timeout = \"5s\")`",
                    render(&param.ty.to_token_stream()),
                    render(&e.to_token_stream())
                ),
            ),
            _ => {}
        }
    }
}

/// The function's shape: `async`, not generic, no `self`, and parameters we can supply.
/// Returns the parameters when they are all recognised.
fn signature(errors: &mut Errors, item: &ItemFn) -> Option<Vec<Param>> {
    let sig = &item.sig;
    let name = &sig.ident;
    if sig.asyncness.is_none() {
        errors.at(
            sig.fn_token.span,
            format!("`{name}` must be an `async fn` to be an `#[inngest_fn]`: write `async fn {name}`"),
        );
    }
    if let Some(constness) = &sig.constness {
        errors.at(constness.span, "an `#[inngest_fn]` cannot be `const`: remove `const`");
    }
    if let Some(unsafety) = &sig.unsafety {
        errors.at(
            unsafety.span,
            "an `#[inngest_fn]` cannot be `unsafe`: remove `unsafe` and keep the unsafe code in a block inside",
        );
    }
    if let Some(abi) = &sig.abi {
        errors.spanned(abi, "an `#[inngest_fn]` cannot have an ABI: remove the `extern`");
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        let generics = &sig.generics;
        let where_clause = &generics.where_clause;
        errors.spanned(
            quote::quote!(#generics #where_clause),
            format!(
                "`{name}` cannot be generic: the engine calls an `#[inngest_fn]` by its id, so every type must be known; remove `{}`",
                render(&generics.to_token_stream())
            ),
        );
    }
    if let Some(variadic) = &sig.variadic {
        errors.spanned(variadic, "an `#[inngest_fn]` cannot be variadic");
    }
    let mut params = Some(Vec::new());
    for input in &sig.inputs {
        let param = match input {
            FnArg::Receiver(receiver) => {
                errors.spanned(
                    receiver.self_token,
                    format!(
                        "`{name}` takes `self`, but an `#[inngest_fn]` must be a free function: move it out of the `impl` \
                         and receive what it needs as parameters (`Event<E>`, `Step`, `Dep<T>`)"
                    ),
                );
                None
            }
            FnArg::Typed(typed) => parameter(errors, &typed.ty),
        };
        match (param, params.as_mut()) {
            (Some(param), Some(params)) => params.push(param),
            _ => params = None,
        }
    }
    params
}

const PARAM_HELP: &str = "parameters are recognised by type: `Event<E>`, `Vec<Event<E>>`, `Step`, `Dep<T>`";

/// Recognises a parameter by the last segment of its type's path.
fn parameter(errors: &mut Errors, ty: &Type) -> Option<Param> {
    parameter_kind(errors, ty).map(|kind| Param { ty: ty.clone(), kind })
}

fn parameter_kind(errors: &mut Errors, ty: &Type) -> Option<ParamKind> {
    let unsupported = |errors: &mut Errors| {
        errors.spanned(ty, format!("unsupported parameter type `{}`: {PARAM_HELP}", render(&ty.to_token_stream())));
        None
    };
    let Some((ident, args)) = last_segment(ty) else {
        return unsupported(errors);
    };
    match (ident.to_string().as_str(), args.as_slice()) {
        ("Event", [payload]) => Some(ParamKind::Event(payload.clone())),
        ("Event", []) => {
            errors.spanned(
                ty,
                "`Event` needs its event type: write e.g. `Event<clerk::UserCreated>`, or `Event<hookflow::Json>` for any event",
            );
            None
        }
        ("Vec", [inner]) => match last_segment(inner) {
            Some((inner_ident, inner_args)) if inner_ident == "Event" && inner_args.len() == 1 => {
                Some(ParamKind::Events(inner_args[0].clone()))
            }
            _ => unsupported(errors),
        },
        ("Step", []) => Some(ParamKind::Step),
        ("Dep", [state]) => Some(ParamKind::Dep(state.clone())),
        ("Dep", []) => {
            errors
                .spanned(ty, "`Dep` needs the type of the state: write e.g. `Dep<Db>` (registered with `App::state`)");
            None
        }
        _ => unsupported(errors),
    }
}

/// `path::to::Name<A, B>` → (`Name`, [A, B]); `None` for anything but a plain path type.
fn last_segment(ty: &Type) -> Option<(&Ident, Vec<Type>)> {
    let Type::Path(path) = ty else { return None };
    if path.qself.is_some() {
        return None;
    }
    let segment = path.path.segments.last()?;
    let args = match &segment.arguments {
        PathArguments::None => Vec::new(),
        PathArguments::AngleBracketed(args) => args
            .args
            .iter()
            .filter_map(|arg| match arg {
                GenericArgument::Type(ty) => Some(ty.clone()),
                _ => None,
            })
            .collect(),
        PathArguments::Parenthesized(_) => return None,
    };
    Some((&segment.ident, args))
}

/// Tokens as a person writes them: `clerk::User`, `Vec<Event<E>>`.
pub(crate) fn render(tokens: &TokenStream) -> String {
    let mut text = tokens.to_string();
    for (from, to) in [
        (" :: ", "::"),
        (":: ", "::"),
        (" ::", "::"),
        (" < ", "<"),
        ("< ", "<"),
        (" <", "<"),
        (" >", ">"),
        (" ,", ","),
        ("& ", "&"),
        (" : ", ": "),
    ] {
        text = text.replace(from, to);
    }
    text
}

/// The arguments, before they are joined with the signature.
struct Config {
    id: Option<String>,
    name: Option<String>,
    triggers: Vec<Trigger>,
    options: Options,
    on_failure: Option<Path>,
    /// Whether `batch_events` was given (even with a mistake in it).
    batched: bool,
}

fn options(errors: &mut Errors, args: &Args, fn_name: &Ident) -> Config {
    let mut config = Config {
        id: None,
        name: None,
        triggers: Vec::new(),
        options: Options::default(),
        on_failure: None,
        batched: false,
    };
    let mut seen = BTreeSet::new();
    let mut trigger_names = BTreeSet::new();
    let mut concurrency_count = 0;
    let mut throttle_count = 0;
    let mut batch_conflicts: Vec<(Span, &'static str)> = Vec::new();
    for arg in &args.items {
        let key = arg.key.to_string();
        let Some(&known) = KEYS.iter().find(|k| **k == key) else {
            errors.at(arg.key.span(), unknown_key(&key, None, KEYS));
            continue;
        };
        let repeatable = matches!(known, "event" | "cron" | "cancel_on" | "concurrency" | "throttle");
        if !repeatable && !seen.insert(known) {
            errors.at(arg.key.span(), format!("`{known}` is given twice: remove one"));
            continue;
        }
        match known {
            "id" => config.id = string(errors, arg, "id = \"send-welcome-email\"").and_then(|lit| slug(errors, &lit)),
            "name" => {
                config.name = string(errors, arg, "name = \"Send welcome email\"").and_then(|lit| {
                    let value = lit.value();
                    if value.trim().is_empty() {
                        errors.spanned(&lit, "`name` is empty: give a display name, e.g. `name = \"Send welcome email\"`, or leave `name` out");
                        None
                    } else {
                        Some(value)
                    }
                })
            }
            "event" => {
                if let Some((name, expr)) = event_trigger(errors, arg) {
                    if trigger_names.insert(name.value()) {
                        config.triggers.push(Trigger::Event { name: name.value(), expr });
                    } else {
                        errors.spanned(&name, format!("`{}` is already a trigger of this function: remove one", name.value()));
                    }
                }
            }
            "cron" => {
                if let Some(lit) = string(errors, arg, "cron = \"0 9 * * MON\"") {
                    match parse_schedule(&lit.value()) {
                        Ok(_) => config.triggers.push(Trigger::Cron { schedule: lit.value() }),
                        Err(e) => errors.spanned(&lit, timezone_hint(e)),
                    }
                }
            }
            "retries" => config.options.retries = number(errors, arg, "retries = 3", 0..=20),
            "concurrency" => {
                concurrency_count += 1;
                if concurrency_count > 2 {
                    errors.at(arg.key.span(), "at most two `concurrency` limits are allowed: remove this one");
                } else if let Some(c) = concurrency(errors, arg) {
                    config.options.concurrency.push(c);
                }
            }
            "throttle" => {
                throttle_count += 1;
                if throttle_count > 2 {
                    errors.at(arg.key.span(), "at most two `throttle` limits are allowed: remove this one");
                } else if let Some(t) = throttle(errors, arg) {
                    config.options.throttle.push(t);
                }
            }
            "rate_limit" => config.options.rate_limit = rate_limit(errors, arg),
            "debounce" => {
                batch_conflicts.push((arg.key.span(), "debounce"));
                config.options.debounce = debounce(errors, arg);
            }
            "batch_events" => {
                config.batched = true;
                config.options.batch_events = batch_events(errors, arg);
            }
            "priority" => {
                batch_conflicts.push((arg.key.span(), "priority"));
                config.options.priority = priority(errors, arg);
            }
            "singleton" => {
                batch_conflicts.push((arg.key.span(), "singleton"));
                config.options.singleton = singleton(errors, arg);
            }
            "idempotency" => {
                config.options.idempotency =
                    string(errors, arg, "idempotency = \"event.data.id\"").and_then(|lit| cel(errors, &lit))
            }
            "cancel_on" => {
                batch_conflicts.push((arg.key.span(), "cancel_on"));
                if let Some(c) = cancel_on(errors, arg) {
                    config.options.cancel_on.push(c);
                }
            }
            "timeouts" => config.options.timeouts = timeouts(errors, arg),
            "on_failure" => {
                config.on_failure = match &arg.value {
                    Value::Path(path) => Some(path.clone()),
                    _ => {
                        errors.at(
                            value_span(arg),
                            "`on_failure` takes the path of an `async fn(hookflow::Failure<E>, Step) -> Result<T>` (`E` the function's payload type), e.g. `on_failure = notify_failure`",
                        );
                        None
                    }
                }
            }
            _ => {}
        }
    }
    if config.batched {
        for (span, option) in batch_conflicts {
            errors.at(
                span,
                format!(
                    "`batch_events` and `{option}` cannot be combined (a batch run has many triggering events): \
                     remove one of them"
                ),
            );
        }
    }
    if !seen.contains("id") {
        let suggestion = fn_name.to_string().trim_start_matches('_').replace('_', "-").to_lowercase();
        errors.at(
            Span::call_site(),
            format!("missing `id`: add e.g. `id = \"{suggestion}\"`; the id names the function in the engine and must stay the same across deploys"),
        );
    }
    let has_event = args.items.iter().any(|a| a.key == "event" || a.key == "cron");
    if !has_event {
        errors.at(
            Span::call_site(),
            "missing trigger: add `event = \"clerk/user.created\"` (or another event name) or `cron = \"0 9 * * MON\"`",
        );
    }
    config
}

/// `owner` is `None` for a top-level option, or the option whose list holds the key.
fn unknown_key(key: &str, owner: Option<&str>, valid: &[&str]) -> String {
    let mut message = match owner {
        None => format!("unknown option `{key}`"),
        Some(owner) => format!("unknown key `{key}` in `{owner}`"),
    };
    if let Some(new) = renamed_key(key).filter(|new| valid.contains(new)) {
        message.push_str(&format!(": it is spelled `{new}` here"));
        return message;
    }
    match did_you_mean(key, valid.iter().copied()) {
        Some(best) => message.push_str(&format!("; did you mean `{best}`? ")),
        None => message.push_str("; "),
    }
    let list = backticked(valid.iter().copied());
    match owner {
        None => message.push_str(&format!("the options are {list}")),
        Some(owner) => message.push_str(&format!("the keys of `{owner}` are {list}")),
    }
    message
}

/// The span of an argument's value, or of its key when the value is missing.
fn value_span(arg: &Arg) -> Span {
    match &arg.value {
        Value::Lit(lit) => lit.span(),
        Value::Path(path) => path.span(),
        Value::List(list) => list.paren.span.join(),
        Value::Missing => arg.key.span(),
    }
}

fn string(errors: &mut Errors, arg: &Arg, example: &str) -> Option<LitStr> {
    match &arg.value {
        Value::Lit(Lit::Str(lit)) => Some(lit.clone()),
        _ => {
            errors.at(value_span(arg), format!("`{}` takes a string, e.g. `{example}`", arg.key));
            None
        }
    }
}

fn number(errors: &mut Errors, arg: &Arg, example: &str, range: RangeInclusive<u32>) -> Option<u32> {
    let Value::Lit(Lit::Int(lit)) = &arg.value else {
        errors.at(value_span(arg), format!("`{}` takes a whole number, e.g. `{example}`", arg.key));
        return None;
    };
    let parsed = lit.base10_parse::<i128>().ok().and_then(|n| u32::try_from(n).ok()).filter(|n| range.contains(n));
    if parsed.is_none() {
        let bounds = if *range.end() == u32::MAX {
            format!("at least {}", range.start())
        } else {
            format!("between {} and {}", range.start(), range.end())
        };
        errors.spanned(lit, format!("`{}` must be {bounds}, not `{}`", arg.key, lit.base10_digits()));
    }
    parsed
}

fn list<'a>(errors: &mut Errors, arg: &'a Arg, example: &str) -> Option<&'a List> {
    match &arg.value {
        Value::List(list) => Some(list),
        _ => {
            errors.at(value_span(arg), format!("`{}` takes a list, e.g. `{example}`", arg.key));
            None
        }
    }
}

/// A duration within bounds; `min` and `max` carry their spelling for the message.
fn duration(
    errors: &mut Errors,
    arg: &Arg,
    example: &str,
    min: (Duration, &str),
    max: Option<(Duration, &str)>,
) -> Option<Duration> {
    let lit = string(errors, arg, example)?;
    match parse_duration(&lit.value()) {
        Ok(d) if d < min.0 => {
            errors.spanned(&lit, format!("`{}` must be at least {}, not `{}`", arg.key, min.1, lit.value()));
            None
        }
        Ok(d) if max.is_some_and(|max| d > max.0) => {
            let max = max.map_or("", |m| m.1);
            errors.spanned(&lit, format!("`{}` must be at most {max}, not `{}`", arg.key, lit.value()));
            None
        }
        Ok(d) => Some(d),
        Err(e) => {
            errors.spanned(&lit, format!("invalid duration for `{}`: {e}", arg.key));
            None
        }
    }
}

/// Checks a CEL expression with the same parser the runtime evaluates it with.
fn cel(errors: &mut Errors, lit: &LitStr) -> Option<String> {
    let source = lit.value();
    if source.trim().is_empty() {
        errors.spanned(lit, "empty CEL expression: write e.g. `\"event.data.id\"`");
        return None;
    }
    match cel::Program::compile(&source) {
        Ok(_) => Some(source),
        Err(e) => {
            // The syntax errors come with a position; prefer them to the parser's follow-ups.
            let detail = e
                .errors
                .iter()
                .find(|error| error.msg.starts_with("Syntax error"))
                .or(e.errors.first())
                .map(|first| format!("{} at column {}", cel_message(&first.msg), first.pos.1))
                .unwrap_or_else(|| e.to_string());
            errors.spanned(lit, format!("invalid CEL expression `{source}`: {detail}; expressions read the event as `event`, e.g. `event.data.id`"));
            None
        }
    }
}

/// The CEL parser speaks ANTLR (`mismatched input '<EOF>' expecting {'[', '{', ...}`); keep
/// what it found and drop the token set, which is noise to a person.
fn cel_message(message: &str) -> String {
    let message = message.strip_prefix("Syntax error: ").unwrap_or(message);
    let message = message.split(" expecting ").next().unwrap_or(message);
    for prefix in
        ["mismatched input ", "extraneous input ", "no viable alternative at input ", "token recognition error at: "]
    {
        if let Some(found) = message.strip_prefix(prefix) {
            let found = found.trim_matches('\'').trim();
            return if found == "<EOF>" {
                "the expression ends too early".to_owned()
            } else {
                format!("unexpected `{found}`")
            };
        }
    }
    message.to_owned()
}

/// An `id`: a non-empty slug of `a-z`, `0-9` and `-`.
fn slug(errors: &mut Errors, lit: &LitStr) -> Option<String> {
    let value = lit.value();
    if value.is_empty() {
        errors.spanned(lit, "`id` is empty: give the function a slug, e.g. `id = \"send-welcome-email\"`");
        return None;
    }
    let valid = value.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !value.starts_with('-')
        && !value.ends_with('-');
    if valid {
        return Some(value);
    }
    let mut suggestion = String::new();
    for c in value.chars() {
        match c {
            'a'..='z' | '0'..='9' => suggestion.push(c),
            'A'..='Z' => suggestion.push(c.to_ascii_lowercase()),
            _ if !suggestion.ends_with('-') => suggestion.push('-'),
            _ => {}
        }
    }
    let suggestion = suggestion.trim_matches('-');
    let hint = if suggestion.is_empty() {
        "e.g. `id = \"send-welcome-email\"`".to_owned()
    } else {
        format!("e.g. `id = \"{suggestion}\"`")
    };
    errors
        .spanned(lit, format!("`{value}` is not a valid function id: use lower-case letters, digits and `-`, {hint}"));
    None
}

/// An event name in a trigger or `cancel_on`: well-formed, and in the catalogue if Clerk's.
fn event_name(errors: &mut Errors, lit: &LitStr) -> bool {
    let value = lit.value();
    if value.trim().is_empty() {
        errors.spanned(lit, "the event name is empty: write e.g. `\"clerk/user.created\"` or `\"app/invoice.paid\"`");
        return false;
    }
    if value.chars().any(char::is_whitespace) {
        errors.spanned(
            lit,
            format!("event name `{value}` contains whitespace: event names look like `app/invoice.paid`"),
        );
        return false;
    }
    if value.starts_with("clerk/") && catalog::lookup(&value).is_none() {
        errors.spanned(lit, crate::suggest::unknown_clerk_event(&value));
        return false;
    }
    // Clerk's own type names (`user.created`) arrive as `clerk/user.created`: a name without a
    // prefix would never match the webhook's events.
    if !value.contains('/') && catalog::lookup(&format!("clerk/{value}")).is_some() {
        errors.spanned(
            lit,
            format!(
                "no event is named `{value}`: Clerk's `{value}` webhooks arrive as `clerk/{value}`; write `\"clerk/{value}\"` (or give your own event a prefix, e.g. `\"app/{value}\"`)"
            ),
        );
        return false;
    }
    true
}

/// `event = "name"` or `event(name = "...", if = "CEL")`.
fn event_trigger(errors: &mut Errors, arg: &Arg) -> Option<(LitStr, Option<String>)> {
    const EXAMPLE: &str =
        "event = \"clerk/user.created\"` or `event(name = \"clerk/user.created\", if = \"event.data.id != ''\")";
    match &arg.value {
        Value::Lit(Lit::Str(lit)) => event_name(errors, lit).then(|| (lit.clone(), None)),
        Value::List(list) => {
            let fields = Fields::new(errors, arg, list, &["name", "if"]);
            let name = fields
                .require(errors, "name", EXAMPLE)
                .and_then(|a| string(errors, a, "name = \"clerk/user.created\""));
            let expr = fields
                .get("if")
                .map(|a| string(errors, a, "if = \"event.data.id != ''\"").and_then(|lit| cel(errors, &lit)));
            let name = name.filter(|lit| event_name(errors, lit))?;
            match expr {
                Some(None) => None,
                Some(expr) => Some((name, expr)),
                None => Some((name, None)),
            }
        }
        _ => {
            errors.at(value_span(arg), format!("`event` takes an event name, e.g. `{EXAMPLE}`"));
            None
        }
    }
}

/// The keys of a nested list, each at most once and each known.
struct Fields<'a> {
    owner: &'a Arg,
    found: Vec<(&'static str, &'a Arg)>,
    /// An unknown key was reported: it is probably the missing one, misspelt.
    had_unknown: bool,
}

impl<'a> Fields<'a> {
    fn new(errors: &mut Errors, owner: &'a Arg, list: &'a List, valid: &[&'static str]) -> Self {
        let mut found: Vec<(&'static str, &'a Arg)> = Vec::new();
        let mut had_unknown = false;
        for arg in &list.items {
            let key = arg.key.to_string();
            match valid.iter().find(|k| **k == key) {
                Some(&known) if found.iter().any(|(k, _)| *k == known) => {
                    errors.at(arg.key.span(), format!("`{known}` is given twice in `{}`: remove one", owner.key));
                }
                Some(&known) => found.push((known, arg)),
                None => {
                    had_unknown = true;
                    errors.at(arg.key.span(), unknown_key(&key, Some(&owner.key.to_string()), valid));
                }
            }
        }
        Fields { owner, found, had_unknown }
    }

    fn get(&self, key: &str) -> Option<&'a Arg> {
        self.found.iter().find(|(k, _)| *k == key).map(|(_, arg)| *arg)
    }

    fn require(&self, errors: &mut Errors, key: &str, example: &str) -> Option<&'a Arg> {
        let arg = self.get(key);
        if arg.is_none() && !self.had_unknown {
            errors.at(self.owner.span(), format!("`{}` needs `{key}`, e.g. `{example}`", self.owner.key));
        }
        arg
    }
}

/// An optional CEL `key`.
fn key(errors: &mut Errors, fields: &Fields<'_>) -> Result<Option<String>, ()> {
    match fields.get("key") {
        None => Ok(None),
        Some(arg) => {
            string(errors, arg, "key = \"event.data.id\"").and_then(|lit| cel(errors, &lit)).map(Some).ok_or(())
        }
    }
}

fn concurrency(errors: &mut Errors, arg: &Arg) -> Option<Concurrency> {
    const EXAMPLE: &str = "concurrency(limit = 5, key = \"event.data.id\")";
    let list = list(errors, arg, EXAMPLE)?;
    let fields = Fields::new(errors, arg, list, &["limit", "key", "scope", "per"]);
    let limit = fields.require(errors, "limit", EXAMPLE).and_then(|a| number(errors, a, "limit = 5", 1..=u32::MAX));
    let key = key(errors, &fields);
    let scope = match fields.get("scope") {
        None => Some(Scope::Fn),
        Some(arg) => string(errors, arg, "scope = \"fn\"").and_then(|lit| match lit.value().as_str() {
            "fn" => Some(Scope::Fn),
            "env" => Some(Scope::Env),
            "account" => Some(Scope::Account),
            other => {
                let mut message = format!("unknown concurrency scope `{other}`");
                if let Some(best) = did_you_mean(other, ["fn", "env", "account"]) {
                    message.push_str(&format!("; did you mean `{best}`?"));
                }
                message.push_str(" the scopes are `fn` (this function, the default), `env` and `account`");
                errors.spanned(&lit, message);
                None
            }
        }),
    };
    if let (Some(scope @ (Scope::Env | Scope::Account)), Ok(None)) = (scope, &key) {
        let scope_name = if scope == Scope::Env { "env" } else { "account" };
        errors.at(
            arg.span(),
            format!("a `{scope_name}`-scoped `concurrency` limit needs a `key`, e.g. `key = \"'shared-api'\"`, to name the runs that share it"),
        );
        return None;
    }
    let per_run = match fields.get("per") {
        None => Some(false),
        Some(arg) => string(errors, arg, "per = \"run\"").and_then(|lit| match lit.value().as_str() {
            "step" => Some(false),
            "run" => Some(true),
            other => {
                errors.spanned(
                    &lit,
                    format!(
                        "unknown concurrency unit `{other}`: `step` (the default) limits steps executing at once, \
                         `run` limits runs in progress, sleeping and waiting ones included"
                    ),
                );
                None
            }
        }),
    };
    Some(Concurrency { limit: limit?, key: key.ok()?, scope: scope?, per_run: per_run? })
}

fn throttle(errors: &mut Errors, arg: &Arg) -> Option<Throttle> {
    const EXAMPLE: &str = "throttle(limit = 10, period = \"1m\")";
    let list = list(errors, arg, EXAMPLE)?;
    let fields = Fields::new(errors, arg, list, &["limit", "period", "burst", "key"]);
    let limit = fields.require(errors, "limit", EXAMPLE).and_then(|a| number(errors, a, "limit = 10", 1..=u32::MAX));
    let period = fields
        .require(errors, "period", EXAMPLE)
        .and_then(|a| duration(errors, a, "period = \"1m\"", (SECOND, "1s"), Some((7 * DAY, "7d"))));
    let burst = match fields.get("burst") {
        None => Some(1),
        Some(a) => number(errors, a, "burst = 2", 1..=u32::MAX),
    };
    let key = key(errors, &fields);
    Some(Throttle { limit: limit?, period: period?, burst: burst?, key: key.ok()? })
}

fn rate_limit(errors: &mut Errors, arg: &Arg) -> Option<RateLimit> {
    const EXAMPLE: &str = "rate_limit(limit = 1, period = \"1h\")";
    let list = list(errors, arg, EXAMPLE)?;
    let fields = Fields::new(errors, arg, list, &["limit", "period", "key"]);
    let limit = fields.require(errors, "limit", EXAMPLE).and_then(|a| number(errors, a, "limit = 1", 1..=u32::MAX));
    let period = fields
        .require(errors, "period", EXAMPLE)
        .and_then(|a| duration(errors, a, "period = \"1h\"", (SECOND, "1s"), Some((DAY, "24h"))));
    let key = key(errors, &fields);
    Some(RateLimit { limit: limit?, period: period?, key: key.ok()? })
}

fn debounce(errors: &mut Errors, arg: &Arg) -> Option<Debounce> {
    const EXAMPLE: &str = "debounce(period = \"5s\", key = \"event.data.id\")";
    let list = list(errors, arg, EXAMPLE)?;
    let fields = Fields::new(errors, arg, list, &["period", "key", "timeout", "all_events"]);
    let period = fields
        .require(errors, "period", EXAMPLE)
        .and_then(|a| duration(errors, a, "period = \"5s\"", (SECOND, "1s"), Some((7 * DAY, "7d"))));
    let all_events = match fields.get("all_events") {
        None => Some(false),
        Some(a) => boolean(errors, a, "all_events = true"),
    };
    let key = key(errors, &fields);
    let timeout = match fields.get("timeout") {
        None => Some(None),
        Some(a) => duration(errors, a, "timeout = \"1m\"", (SECOND, "1s"), Some((7 * DAY, "7d"))).map(Some),
    };
    if let (Some(period), Some(Some(timeout)), Some(timeout_arg)) = (period, timeout, fields.get("timeout")) {
        if timeout < period {
            errors.at(value_span(timeout_arg), "the debounce `timeout` must be at least its `period`: it caps how long the quiet period may keep extending");
            return None;
        }
    }
    Some(Debounce { period: period?, key: key.ok()?, timeout: timeout?, all_events: all_events? })
}

fn batch_events(errors: &mut Errors, arg: &Arg) -> Option<BatchEvents> {
    const EXAMPLE: &str = "batch_events(max_size = 100, timeout = \"5s\")";
    let list = list(errors, arg, EXAMPLE)?;
    let fields = Fields::new(errors, arg, list, &["max_size", "timeout", "key", "if"]);
    let max_size =
        fields.require(errors, "max_size", EXAMPLE).and_then(|a| number(errors, a, "max_size = 100", 2..=1000));
    let timeout = fields
        .require(errors, "timeout", EXAMPLE)
        .and_then(|a| duration(errors, a, "timeout = \"5s\"", (SECOND, "1s"), Some((MINUTE, "60s"))));
    let key = key(errors, &fields);
    let if_expr = match fields.get("if") {
        None => Some(None),
        Some(a) => string(errors, a, "if = \"event.data.bulk == true\"").and_then(|lit| cel(errors, &lit)).map(Some),
    };
    Some(BatchEvents { max_size: max_size?, timeout: timeout?, key: key.ok()?, if_expr: if_expr? })
}

fn singleton(errors: &mut Errors, arg: &Arg) -> Option<Singleton> {
    const EXAMPLE: &str = "singleton(mode = \"skip\", key = \"event.data.id\")";
    let list = list(errors, arg, EXAMPLE)?;
    let fields = Fields::new(errors, arg, list, &["mode", "key"]);
    let cancel =
        fields.require(errors, "mode", EXAMPLE).and_then(|a| string(errors, a, "mode = \"skip\"")).and_then(|lit| {
            match lit.value().as_str() {
                "skip" => Some(false),
                "cancel" => Some(true),
                other => {
                    let mut message = format!("unknown singleton mode `{other}`");
                    if let Some(best) = did_you_mean(other, ["skip", "cancel"]) {
                        message.push_str(&format!("; did you mean `{best}`?"));
                    }
                    message.push_str(" `skip` skips a new run while one is active, `cancel` cancels the active one");
                    errors.spanned(&lit, message);
                    None
                }
            }
        });
    let key = key(errors, &fields);
    Some(Singleton { cancel: cancel?, key: key.ok()? })
}

fn boolean(errors: &mut Errors, arg: &Arg, example: &str) -> Option<bool> {
    match &arg.value {
        Value::Lit(Lit::Bool(b)) => Some(b.value),
        _ => {
            errors.at(value_span(arg), format!("`{}` takes `true` or `false`, e.g. `{example}`", arg.key));
            None
        }
    }
}

fn priority(errors: &mut Errors, arg: &Arg) -> Option<String> {
    const EXAMPLE: &str = "priority(run = \"event.data.plan == 'pro' ? 120 : 0\")";
    let list = list(errors, arg, EXAMPLE)?;
    let fields = Fields::new(errors, arg, list, &["run"]);
    let run = fields.require(errors, "run", EXAMPLE)?;
    string(errors, run, "run = \"event.data.plan == 'pro' ? 120 : 0\"").and_then(|lit| cel(errors, &lit))
}

fn cancel_on(errors: &mut Errors, arg: &Arg) -> Option<CancelOn> {
    const EXAMPLE: &str = "cancel_on(event = \"clerk/user.deleted\", if = \"event.data.id == async.data.id\")";
    let list = list(errors, arg, EXAMPLE)?;
    let fields = Fields::new(errors, arg, list, &["event", "if", "timeout"]);
    let event = fields
        .require(errors, "event", EXAMPLE)
        .and_then(|a| string(errors, a, "event = \"clerk/user.deleted\""))
        .filter(|lit| event_name(errors, lit));
    let expr = match fields.get("if") {
        None => Some(None),
        Some(a) => {
            string(errors, a, "if = \"event.data.id == async.data.id\"").and_then(|lit| cel(errors, &lit)).map(Some)
        }
    };
    let timeout = match fields.get("timeout") {
        None => Some(None),
        Some(a) => duration(errors, a, "timeout = \"7d\"", (SECOND, "1s"), Some((365 * DAY, "365d"))).map(Some),
    };
    Some(CancelOn { event: event?.value(), expr: expr?, timeout: timeout? })
}

fn timeouts(errors: &mut Errors, arg: &Arg) -> Option<Timeouts> {
    const EXAMPLE: &str = "timeouts(start = \"10m\", finish = \"1h\")";
    let list = list(errors, arg, EXAMPLE)?;
    let fields = Fields::new(errors, arg, list, &["start", "finish"]);
    if list.items.is_empty() {
        errors.at(arg.span(), format!("`timeouts` needs `start`, `finish` or both, e.g. `{EXAMPLE}`"));
        return None;
    }
    let mut timeout = |key: &str| match fields.get(key) {
        None => Some(None),
        Some(a) => duration(errors, a, &format!("{key} = \"1h\""), (SECOND, "1s"), None).map(Some),
    };
    let start = timeout("start");
    let finish = timeout("finish");
    Some(Timeouts { start: start?, finish: finish? })
}

/// Adds a "did you mean" to an unknown time zone.
fn timezone_hint(error: crate::schedule::ScheduleError) -> String {
    let message = error.to_string();
    if let crate::schedule::ScheduleError::UnknownTimezone { timezone } = &error {
        let names = chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name());
        if let Some(best) = did_you_mean(timezone, names) {
            return format!("unknown time zone `{timezone}`; did you mean `TZ={best}`?");
        }
    }
    message
}

/// One check per event parameter and trigger: the parameter's type must accept the event.
fn payload_checks(params: &[Param], triggers: &[Trigger]) -> Vec<PayloadCheck> {
    let mut checks = Vec::new();
    for param in params {
        let (ty, wrap): (&Type, fn(&str) -> String) = match &param.kind {
            ParamKind::Event(ty) => (ty, |t| format!("Event<{t}>")),
            ParamKind::Events(ty) => (ty, |t| format!("Vec<Event<{t}>>")),
            ParamKind::Step | ParamKind::Dep(_) => continue,
        };
        let written = render(&ty.to_token_stream());
        let mut cron_checked = false;
        for trigger in triggers {
            let (event, message) = match trigger {
                Trigger::Event { name, .. } => (name.clone(), payload_message(&written, wrap, name, triggers)),
                Trigger::Cron { .. } if !cron_checked => {
                    cron_checked = true;
                    let message = format!(
                        "`{}` cannot receive the event of a `cron` trigger (`{CRON_EVENT}`): take `{}`, or remove the parameter",
                        wrap(&written),
                        wrap("hookflow::Json")
                    );
                    (CRON_EVENT.to_owned(), message)
                }
                Trigger::Cron { .. } => continue,
            };
            checks.push(PayloadCheck { ty: ty.clone(), event, message });
        }
    }
    checks
}

/// What to say when `written` (the user's `E`) does not accept `event`.
fn payload_message(written: &str, wrap: fn(&str) -> String, event: &str, triggers: &[Trigger]) -> String {
    let param = wrap(written);
    let json = wrap("hookflow::Json");
    if let Some(entry) = catalog::lookup(event) {
        let delivered = format!("that event delivers `clerk::{}` (payload `clerk::{}`)", entry.marker, entry.payload);
        let events: Vec<&str> = triggers
            .iter()
            .filter_map(|t| match t {
                Trigger::Event { name, .. } => Some(name.as_str()),
                Trigger::Cron { .. } => None,
            })
            .collect();
        let has_cron = events.len() < triggers.len();
        let entries: Vec<_> = events.iter().filter_map(|e| catalog::lookup(e)).collect();
        let fix = if has_cron || entries.len() < events.len() {
            format!("this function's triggers deliver different payloads, so take `{json}` or write one function per trigger")
        } else if entries.len() == 1 {
            format!("change the parameter to `{}`", wrap(&format!("clerk::{}", entry.marker)))
        } else if entries.iter().all(|e| e.payload == entry.payload) {
            format!(
                "change the parameter to `{}`, which every trigger of this function delivers",
                wrap(&format!("clerk::{}", entry.payload))
            )
        } else {
            format!("this function's triggers deliver different payloads, so take `{json}` or write one function per trigger")
        };
        return format!("`{param}` cannot receive `{event}`: {delivered}; {fix}");
    }
    let is_clerk_type = written.split("::").any(|segment| segment == "clerk");
    if is_clerk_type {
        return format!(
            "`{param}` cannot receive `{event}`: `{written}` is a Clerk event type; receive `{event}` with a type declared \
             `#[derive(Event)] #[event(name = \"{event}\")]`, or take `{json}`"
        );
    }
    format!(
        "`{written}` is not the event `{event}`: its `#[event(name = ...)]` declares another name; make them match, or take `{json}`"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn validate(args: TokenStream, item: TokenStream) -> Result<Function, Vec<String>> {
        let item: ItemFn = syn::parse2(item).map_err(|e| vec![e.to_string()])?;
        function(args, &item).map_err(|e| e.into_iter().map(|e| e.to_string()).collect())
    }

    fn errors(args: TokenStream) -> Vec<String> {
        match validate(
            args,
            quote!(
                async fn f() -> Result<()> {
                    Ok(())
                }
            ),
        ) {
            Ok(_) => panic!("expected errors"),
            Err(e) => e,
        }
    }

    fn one_error(args: TokenStream) -> String {
        let errors = errors(args);
        assert_eq!(errors.len(), 1, "{errors:#?}");
        errors.into_iter().next().unwrap_or_default()
    }

    fn ok(args: TokenStream) -> Function {
        match validate(
            args,
            quote!(
                async fn f(event: Event<clerk::User>, step: Step) -> Result<()> {
                    Ok(())
                }
            ),
        ) {
            Ok(f) => f,
            Err(e) => panic!("{e:#?}"),
        }
    }

    #[test]
    fn every_option_is_understood() {
        let f = ok(quote!(
            id = "send-welcome-email",
            name = "Send welcome email",
            event = "clerk/user.created",
            event(name = "clerk/user.updated", if = "event.data.id != ''"),
            cron = "TZ=Europe/Paris 0 9 * * MON",
            retries = 3,
            concurrency(limit = 5, key = "event.data.id", scope = "fn"),
            concurrency(limit = 50, key = "'api'", scope = "account"),
            throttle(limit = 10, period = "1m", burst = 2, key = "event.data.id"),
            throttle(limit = 1000, period = "1d"),
            rate_limit(limit = 1, period = "1h", key = "event.data.id"),
            debounce(period = "5s", key = "event.data.id", timeout = "1m", all_events = true),
            priority(run = "event.data.plan == 'pro' ? 120 : 0"),
            idempotency = "event.data.id",
            singleton(mode = "cancel", key = "event.data.id"),
            cancel_on(event = "clerk/user.deleted", if = "event.data.id == async.data.id", timeout = "7d"),
            timeouts(start = "10m", finish = "1h"),
            on_failure = notify_failure,
        ));
        assert_eq!(f.id, "send-welcome-email");
        assert_eq!(f.name.as_deref(), Some("Send welcome email"));
        assert_eq!(f.triggers.len(), 3);
        assert!(matches!(&f.triggers[1], Trigger::Event { expr: Some(e), .. } if e == "event.data.id != ''"));
        assert!(matches!(&f.triggers[2], Trigger::Cron { schedule } if schedule.starts_with("TZ=")));
        let o = &f.options;
        assert_eq!(o.retries, Some(3));
        assert_eq!(o.concurrency.len(), 2);
        assert_eq!(o.concurrency[1].scope, Scope::Account);
        assert!(matches!(o.throttle.as_slice(), [t, _] if t.burst == 2 && t.period == MINUTE && t.limit == 10));
        assert!(matches!(&o.rate_limit, Some(r) if r.period == Duration::from_secs(3600)));
        assert!(matches!(&o.debounce, Some(d) if d.timeout == Some(MINUTE) && d.all_events));
        assert!(matches!(&o.singleton, Some(s) if s.cancel && s.key.is_some()));
        assert!(o.priority.is_some() && o.idempotency.is_some());
        assert!(matches!(&o.cancel_on[..], [c] if c.timeout == Some(7 * DAY) && c.event == "clerk/user.deleted"));
        assert!(matches!(&o.timeouts, Some(t) if t.start == Some(10 * MINUTE)));
        assert!(f.on_failure.is_some());
        assert_eq!(f.params.len(), 2);
        // `clerk::User` against each event trigger and the cron trigger.
        assert_eq!(f.checks.len(), 3);
    }

    #[test]
    fn batches_take_their_own_options_and_refuse_what_a_batch_cannot_do() {
        let batched = quote!(
            async fn f(events: Vec<Event<clerk::User>>, step: Step) -> Result<()> {
                Ok(())
            }
        );
        let args = quote!(
            id = "import",
            event = "clerk/user.created",
            batch_events(max_size = 100, timeout = "5s", key = "event.data.org", if = "event.data.bulk == true"),
            concurrency(limit = 2),
            throttle(limit = 1, period = "1s"),
            concurrency(limit = 3, per = "run")
        );
        let f = match validate(args, batched) {
            Ok(f) => f,
            Err(e) => panic!("{e:#?}"),
        };
        assert!(matches!(&f.options.batch_events, Some(b) if b.max_size == 100 && b.if_expr.is_some()));
        assert!(f.options.concurrency[1].per_run && !f.options.concurrency[0].per_run);
        let errors = errors(quote!(
            id = "a",
            event = "a/b",
            batch_events(max_size = 10, timeout = "5s"),
            debounce(period = "5s"),
            singleton(mode = "skip"),
            priority(run = "1"),
            cancel_on(event = "a/c")
        ));
        assert_eq!(errors.len(), 4, "{errors:#?}");
        for (error, option) in errors.iter().zip(["debounce", "singleton", "priority", "cancel_on"]) {
            assert!(error.starts_with(&format!("`batch_events` and `{option}` cannot be combined")), "{error}");
        }
        let m = one_error(quote!(id = "a", event = "a/b", singleton(mode = "skp")));
        assert!(m.starts_with("unknown singleton mode `skp`; did you mean `skip`?"), "{m}");
        let m = one_error(quote!(id = "a", event = "a/b", concurrency(limit = 1, per = "runs")));
        assert!(m.starts_with("unknown concurrency unit `runs`"), "{m}");
        let m = one_error(quote!(
            id = "a",
            event = "a/b",
            throttle(limit = 1, period = "1s"),
            throttle(limit = 2, period = "1s"),
            throttle(limit = 3, period = "1s")
        ));
        assert!(m.starts_with("at most two `throttle` limits"), "{m}");
    }

    #[test]
    fn defaults_are_left_unset() {
        let f = ok(quote!(id = "a", event = "clerk/user.created", throttle(limit = 1, period = "1s")));
        assert_eq!(f.options.retries, None);
        assert!(matches!(f.options.throttle.as_slice(), [t] if t.burst == 1 && t.key.is_none()));
    }

    #[test]
    fn missing_id_and_trigger_are_both_reported() {
        let errors = errors(quote!(retries = 1));
        assert_eq!(errors.len(), 2, "{errors:#?}");
        assert!(errors[0].starts_with("missing `id`: add e.g. `id = \"f\"`"), "{errors:#?}");
        assert!(errors[1].starts_with("missing trigger"), "{errors:#?}");
    }

    #[test]
    fn ids_must_be_slugs() {
        assert!(one_error(quote!(id = "", event = "a/b")).starts_with("`id` is empty"));
        let m = one_error(quote!(id = "Send Welcome_Email", event = "a/b"));
        assert!(m.starts_with("`Send Welcome_Email` is not a valid function id"), "{m}");
        assert!(m.contains("`id = \"send-welcome-email\"`"), "{m}");
        assert!(one_error(quote!(id = "-a", event = "a/b")).contains("not a valid function id"));
    }

    #[test]
    fn unknown_keys_get_suggestions_and_the_list() {
        let m = one_error(quote!(id = "a", event = "a/b", retires = 3));
        assert!(m.starts_with("unknown option `retires`; did you mean `retries`?"), "{m}");
        assert!(m.contains("`id`, `name`, `event`"), "{m}");
        let m = one_error(quote!(id = "a", event = "a/b", flavour = 3));
        assert!(m.starts_with("unknown option `flavour`; the options are `id`, `name`"), "{m}");
        let m = one_error(quote!(id = "a", event = "a/b", rateLimit(limit = 1, period = "1h")));
        assert_eq!(m, "unknown option `rateLimit`: it is spelled `rate_limit` here");
        let m = one_error(quote!(id = "a", event = "a/b", throttle(limt = 1, limit = 1, period = "1s")));
        assert_eq!(
            m,
            "unknown key `limt` in `throttle`; did you mean `limit`? the keys of `throttle` are `limit`, `period`, `burst`, `key`"
        );
    }

    #[test]
    fn repeats_are_reported_at_the_second_key() {
        let m = one_error(quote!(id = "a", event = "a/b", retries = 1, retries = 2));
        assert_eq!(m, "`retries` is given twice: remove one");
        let m = one_error(quote!(id = "a", event = "a/b", event = "a/b"));
        assert!(m.starts_with("`a/b` is already a trigger"), "{m}");
        let m = one_error(quote!(
            id = "a",
            event = "a/b",
            concurrency(limit = 1),
            concurrency(limit = 2),
            concurrency(limit = 3)
        ));
        assert!(m.starts_with("at most two `concurrency` limits"), "{m}");
        let m = one_error(quote!(id = "a", event = "a/b", timeouts(start = "1s", start = "2s")));
        assert_eq!(m, "`start` is given twice in `timeouts`: remove one");
    }

    #[test]
    fn values_are_range_checked() {
        assert_eq!(
            one_error(quote!(id = "a", event = "a/b", retries = 50)),
            "`retries` must be between 0 and 20, not `50`"
        );
        assert_eq!(
            one_error(quote!(id = "a", event = "a/b", retries = -1)),
            "`retries` must be between 0 and 20, not `-1`"
        );
        assert!(one_error(quote!(id = "a", event = "a/b", retries = "3")).starts_with("`retries` takes a whole number"));
        let m = one_error(quote!(id = "a", event = "a/b", rate_limit(limit = 1, period = "2d")));
        assert_eq!(m, "`period` must be at most 24h, not `2d`");
        let m = one_error(quote!(id = "a", event = "a/b", batch_events(max_size = 0, timeout = "5s")));
        assert_eq!(m, "`max_size` must be between 2 and 1000, not `0`");
        let m = one_error(quote!(id = "a", event = "a/b", batch_events(max_size = 10, timeout = "500ms")));
        assert_eq!(m, "`timeout` must be at least 1s, not `500ms`");
        let m = one_error(quote!(id = "a", event = "a/b", concurrency(limit = 0)));
        assert_eq!(m, "`limit` must be at least 1, not `0`");
        let m = one_error(quote!(id = "a", event = "a/b", debounce(period = "1m", timeout = "10s")));
        assert!(m.starts_with("the debounce `timeout` must be at least its `period`"), "{m}");
    }

    #[test]
    fn nested_lists_need_their_required_keys() {
        let m = one_error(quote!(id = "a", event = "a/b", throttle(limit = 1)));
        assert_eq!(m, "`throttle` needs `period`, e.g. `throttle(limit = 10, period = \"1m\")`");
        let m = one_error(quote!(id = "a", event = "a/b", timeouts()));
        assert!(m.starts_with("`timeouts` needs `start`, `finish` or both"), "{m}");
        let m = one_error(quote!(id = "a", event = "a/b", throttle = "1m"));
        assert!(m.starts_with("`throttle` takes a list"), "{m}");
        let m = one_error(quote!(id = "a", event = "a/b", concurrency(limit = 1, scope = "account")));
        assert!(m.starts_with("a `account`-scoped `concurrency` limit needs a `key`"), "{m}");
        let m = one_error(quote!(id = "a", event = "a/b", concurrency(limit = 1, scope = "acount", key = "'k'")));
        assert!(m.starts_with("unknown concurrency scope `acount`; did you mean `account`?"), "{m}");
    }

    #[test]
    fn durations_cron_and_cel_are_parsed_here() {
        let m = one_error(quote!(id = "a", event = "a/b", timeouts(finish = "3 dayz")));
        assert!(m.starts_with("invalid duration for `finish`: unknown unit `dayz`"), "{m}");
        let m = one_error(quote!(id = "a", cron = "61 * * * *"));
        assert!(m.starts_with("invalid cron expression `61 * * * *`"), "{m}");
        let m = one_error(quote!(id = "a", cron = "TZ=Europe/Pariss 0 9 * * *"));
        assert_eq!(m, "unknown time zone `Europe/Pariss`; did you mean `TZ=Europe/Paris`?");
        let m = one_error(quote!(id = "a", event(name = "a/b", if = "event.data.id ==")));
        assert!(
            m.starts_with("invalid CEL expression `event.data.id ==`: the expression ends too early at column"),
            "{m}"
        );
        let m = one_error(quote!(id = "a", event(name = "a/b", if = "event.data.id = 'x'")));
        assert!(m.starts_with("invalid CEL expression `event.data.id = 'x'`: unexpected `=` at column 15"), "{m}");
        let m = one_error(quote!(id = "a", event = "a/b", priority(run = "event.data.plan == 'pro' ? 120")));
        assert!(m.contains(": the expression ends too early at column 31;"), "{m}");
        let m = one_error(quote!(id = "a", event = "a/b", idempotency = ""));
        assert!(m.starts_with("empty CEL expression"), "{m}");
    }

    #[test]
    fn clerk_names_are_checked_in_triggers_and_cancel_on() {
        let m = one_error(quote!(id = "a", event = "user.created"));
        assert!(m.starts_with("no event is named `user.created`: Clerk's `user.created` webhooks arrive as `clerk/user.created`; write `\"clerk/user.created\"`"), "{m}");
        assert!(
            ok(quote!(id = "a", event = "user.signed-up")).triggers.len() == 1,
            "other names without a prefix pass"
        );
        let m = one_error(quote!(id = "a", event = "clerk/user.craeted"));
        assert!(m.starts_with("unknown Clerk event `clerk/user.craeted`: did you mean `clerk/user.created`?"), "{m}");
        let m = one_error(quote!(id = "a", event = "a/b", cancel_on(event = "clerk/user.delete")));
        assert!(m.contains("did you mean `clerk/user.deleted`?"), "{m}");
        assert!(one_error(quote!(id = "a", event = "app/invoice paid")).contains("contains whitespace"));
    }

    #[test]
    fn every_mistake_is_reported_at_once() {
        let errors = errors(quote!(id = "A", event = "clerk/user.craeted", retries = 99, retires = 1));
        assert_eq!(errors.len(), 4, "{errors:#?}");
    }

    fn shape_errors(item: TokenStream) -> Vec<String> {
        match validate(quote!(id = "a", event = "a/b"), item) {
            Ok(_) => panic!("expected errors"),
            Err(e) => e,
        }
    }

    #[test]
    fn shape_rules() {
        assert_eq!(
            shape_errors(quote!(
                fn f() -> Result<()> {
                    Ok(())
                }
            )),
            ["`f` must be an `async fn` to be an `#[inngest_fn]`: write `async fn f`"]
        );
        let e = shape_errors(quote!(
            async fn f<T: Send>(x: Dep<T>) -> Result<()> {
                Ok(())
            }
        ));
        assert!(e[0].starts_with("`f` cannot be generic") && e[0].ends_with("remove `<T: Send>`"), "{e:#?}");
        let e = shape_errors(quote!(
            async fn f(&self) -> Result<()> {
                Ok(())
            }
        ));
        assert!(e[0].starts_with("`f` takes `self`"), "{e:#?}");
        let e = shape_errors(quote!(
            async fn f(x: &Step, y: String, z: Event) -> Result<()> {
                Ok(())
            }
        ));
        assert_eq!(e.len(), 3, "{e:#?}");
        assert!(e[0].starts_with("unsupported parameter type `&Step`: parameters are recognised by type"), "{e:#?}");
        assert!(e[1].starts_with("unsupported parameter type `String`"), "{e:#?}");
        assert!(e[2].starts_with("`Event` needs its event type"), "{e:#?}");
    }

    #[test]
    fn a_batch_takes_its_events_as_a_vec_and_only_a_batch_does() {
        let e = match validate(
            quote!(id = "a", event = "a/b", batch_events(max_size = 10, timeout = "5s")),
            quote!(
                async fn f(event: Event<Json>) -> Result<()> {
                    Ok(())
                }
            ),
        ) {
            Ok(_) => panic!("a batched function took one event"),
            Err(e) => e,
        };
        assert_eq!(e, ["a `batch_events` function receives every event of its batch: take `events: Vec<Event<Json>>` (the first is `events[0]`) in place of `Event<Json>`"]);
        let e = shape_errors(quote!(
            async fn f(events: Vec<Event<Json>>) -> Result<()> {
                Ok(())
            }
        ));
        assert_eq!(e.len(), 1, "{e:#?}");
        assert!(
            e[0].starts_with(
                "`Vec<Event<Json>>` receives the events of a batch, but this function's runs have one event"
            ),
            "{e:#?}"
        );
    }

    #[test]
    fn parameters_are_recognised_by_type() {
        let item = quote!(
            async fn f(
                _: Dep<Db>,
                mut s: hookflow::Step,
                all: Vec<Event<Json>>,
                e: hookflow::Event<clerk::UserCreated>,
            ) -> Result<()> {
                Ok(())
            }
        );
        let options = quote!(id = "a", event = "clerk/user.created", debounce(period = "5s", all_events = true));
        let f = validate(options, item).map_err(|e| e.join("\n"));
        let f = match f {
            Ok(f) => f,
            Err(e) => panic!("{e}"),
        };
        let kinds: Vec<&ParamKind> = f.params.iter().map(|p| &p.kind).collect();
        assert!(matches!(
            kinds.as_slice(),
            [ParamKind::Dep(_), ParamKind::Step, ParamKind::Events(_), ParamKind::Event(_)]
        ));
        assert_eq!(render(&f.params[1].ty.to_token_stream()), "hookflow::Step");
        let events: Vec<&str> = f.checks.iter().map(|c| c.event.as_str()).collect();
        assert_eq!(events, ["clerk/user.created", "clerk/user.created"]);
    }

    #[test]
    fn payload_messages_name_the_type_to_use() {
        let one = [Trigger::Event { name: "clerk/user.created".into(), expr: None }];
        assert_eq!(
            payload_message("clerk::UserDeleted", |t| format!("Event<{t}>"), "clerk/user.created", &one),
            "`Event<clerk::UserDeleted>` cannot receive `clerk/user.created`: that event delivers `clerk::UserCreated` \
             (payload `clerk::User`); change the parameter to `Event<clerk::UserCreated>`"
        );
        let two = [
            Trigger::Event { name: "clerk/user.created".into(), expr: None },
            Trigger::Event { name: "clerk/user.updated".into(), expr: None },
        ];
        let m = payload_message("clerk::UserCreated", |t| format!("Event<{t}>"), "clerk/user.updated", &two);
        assert!(
            m.ends_with("change the parameter to `Event<clerk::User>`, which every trigger of this function delivers"),
            "{m}"
        );
        let mixed = [
            Trigger::Event { name: "clerk/user.created".into(), expr: None },
            Trigger::Event { name: "clerk/user.deleted".into(), expr: None },
        ];
        let m = payload_message("clerk::User", |t| format!("Vec<Event<{t}>>"), "clerk/user.deleted", &mixed);
        assert!(m.starts_with("`Vec<Event<clerk::User>>` cannot receive `clerk/user.deleted`"), "{m}");
        assert!(m.ends_with("take `Vec<Event<hookflow::Json>>` or write one function per trigger"), "{m}");
        let custom = [Trigger::Event { name: "app/invoice.paid".into(), expr: None }];
        let m = payload_message("InvoicePaid", |t| format!("Event<{t}>"), "app/invoice.paid", &custom);
        assert!(m.starts_with("`InvoicePaid` is not the event `app/invoice.paid`"), "{m}");
    }

    #[test]
    fn render_reads_like_source() {
        let ty: Type = syn::parse_quote!(Vec<hookflow::Event<clerk::User>>);
        assert_eq!(render(&ty.to_token_stream()), "Vec<hookflow::Event<clerk::User>>");
        let ty: Type = syn::parse_quote!(&mut Foo<A, B>);
        assert_eq!(render(&ty.to_token_stream()), "&mut Foo<A, B>");
    }
}
