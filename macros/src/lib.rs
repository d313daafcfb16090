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
mod literal_durations;
mod paths;
mod schedule;
mod suggest;
mod validate;

/// Registers an `async fn` as a durable hookflow function.
///
/// ```ignore
/// use hookflow::prelude::*;
///
/// #[inngest_fn(id = "onboarding-emails", event = "clerk/user.created",
///              cancel_on(event = "clerk/user.deleted", if = "event.data.id == async.data.id"))]
/// async fn onboarding(event: Event<clerk::UserCreated>, step: Step) -> Result<()> {
///     Ok(())
/// }
///
/// // The definition, for `Registry::add`, `TestEngine::new` and `Invoke::new`:
/// let def: &'static hookflow::FunctionDef = onboarding::DEF;
/// ```
///
/// The function is emitted unchanged, registered at link time (every `#[inngest_fn]` linked
/// into the binary is found by `Registry::collect`), and its definition is reachable as
/// `<fn_name>::DEF`: the macro adds a hidden, field-less `struct <fn_name> {}` with the
/// function's visibility (structs with braces live in the type namespace only, so the name
/// does not clash with the function) and an associated `const DEF: &'static FunctionDef`.
/// It works at module level and inside a block; it cannot work inside an `impl` block.
///
/// # Parameters
///
/// Recognised by the last segment of their type, in any order, each optional:
/// `Event<E>` (the triggering event), `Vec<Event<E>>` (every event of a batch), `Step` (the step tool) and `Dep<T>` (state registered with `App::state`). `E` is a
/// Clerk marker (`clerk::UserCreated`), a Clerk payload type shared by several events
/// (`clerk::User` for `user.created` and `user.updated`), a `#[derive(Event)]` type, or
/// `hookflow::Json` for any event. A cron run receives the `inngest/scheduled.timer` event, so
/// a function with a `cron` trigger takes `Event<Json>` or no event. The return type is
/// `Result<T, E>` with `T: Serialize` and `E: Into<hookflow::Error>`.
///
/// # Options
///
/// ```ignore
/// #[inngest_fn(
///     id = "send-welcome-email",                 // required; a slug: a-z, 0-9, '-'
///     name = "Send welcome email",               // display name
///     event = "clerk/user.created",              // repeatable; or event(name = "...", if = "CEL")
///     cron = "TZ=Europe/Paris 0 9 * * MON",      // repeatable; at least one event or cron
///     retries = 3,                               // 0..=20, default 4
///     concurrency(limit = 5, key = "event.data.id", scope = "fn", per = "step"),  // up to 2; scope fn|env|account; per step|run
///     throttle(limit = 10, period = "1m", burst = 2, key = "event.data.id"),  // up to 2; period 1s..=7d
///     priority(run = "event.data.plan == 'pro' ? 120 : 0"),
///     cancel_on(event = "clerk/user.deleted", if = "event.data.id == async.data.id", timeout = "7d"),
///     timeouts(start = "10m", finish = "1h"),
///     on_failure = notify_failure,
/// )]
/// ```
///
/// `batch_events(max_size = 100, timeout = "5s", key = "...", if = "...")` (`max_size`
/// 2..=1000, `timeout` 1s..=60s) runs once with up to `max_size` events: the function then
/// takes `Vec<Event<E>>` (in arrival order), not `Event<E>`; it cannot be combined with
/// `debounce`, `singleton`, `priority` or `cancel_on`. `Vec<Event<E>>` receives every event of
/// a run: those of a batch, or of a `debounce(..., all_events = true)` window; a function whose
/// runs have one event takes `Event<E>`.
///
/// Durations read like `"500ms"`, `"90s"`, `"1m"` (a minute), `"1h30m"`, `"3 days"`, `"2 weeks"`.
/// `on_failure` names an `async fn(hookflow::Failure<E>, Step) -> Result<T>` (or one without
/// the `Step`), `E` being the function's payload type (`Json` when it takes no event); it runs
/// once a run has failed for good, with the failed run's original event typed as `E`, its error,
/// run id and function id. A handler of another shape is refused with the signature expected.
/// Durations written as string literals in the body (`step.sleep("wait", "3 days")`,
/// `WaitFor::timeout("7d")`) are checked as options' durations are.
///
/// # Compile-time checks
///
/// Every value is checked when the macro expands, with the parsers the runtime uses (CEL,
/// cron, durations), and every mistake is reported at once, on its own tokens: unknown Clerk
/// event names (with the closest name and its family), a parameter type that cannot receive a
/// trigger's event, unknown, misspelt or repeated keys, out-of-range numbers and durations, a
/// missing `id` or trigger, a function that is not `async`, is generic, takes `self` or a
/// parameter of another type, or returns something other than a `Result`. On error the
/// function is still emitted, so that there is one error rather than a cascade.
///
/// Set `HOOKFLOW_MACROS_DEBUG=1` to print each expansion to stderr.
#[proc_macro_attribute]
pub fn inngest_fn(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::inngest_fn(args.into(), item.into()).into()
}

/// Makes a serde struct (or enum) a custom event with one name.
///
/// ```ignore
/// #[derive(Serialize, Deserialize, hookflow::Event)]
/// #[event(name = "app/invoice.paid")]
/// struct InvoicePaid { invoice_id: String }
/// ```
///
/// Implements `EventType` (the data is the type itself; the one accepted name), `NamedEvent`
/// and `IntoRawEvent`, so the type is received as `Event<InvoicePaid>` and sent as it is.
/// Serialize and Deserialize are derived by the user. Names must be non-empty and without
/// spaces; `clerk/` and `inngest/` names are reserved.
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
