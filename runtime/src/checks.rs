//! Compile-time checks emitted by `#[inngest_fn]` next to the user's function, spanned at the
//! user's own tokens so that errors point there.

/// Whether two strings are equal, usable in `const` context.
pub const fn str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Whether `names` accepts `name` (an empty list accepts any name).
pub const fn accepts(names: &[&str], name: &str) -> bool {
    if names.is_empty() {
        return true;
    }
    let mut i = 0;
    while i < names.len() {
        if str_eq(names[i], name) {
            return true;
        }
        i += 1;
    }
    false
}

/// Stops compilation with `message` unless the event type `E` accepts the event `event`.
///
/// `#[inngest_fn]` emits `const _: () = expect_event::<E>("clerk/user.created", "...");` for
/// each event parameter and trigger, spanned at the user's `E`, so that a payload type that
/// cannot receive a trigger is a compile error on that type, with a message the macro wrote.
#[track_caller]
pub const fn expect_event<E: crate::event::EventType>(event: &str, message: &str) {
    if !accepts(E::NAMES, event) {
        panic!("{}", message);
    }
}
