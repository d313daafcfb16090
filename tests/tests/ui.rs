//! Compile-time behaviour of `#[inngest_fn]` and `#[derive(Event)]`: every supported form
//! compiles (`ui/pass`), and every mistake stops compilation with one clear error on the
//! user's own tokens (`ui/fail`, with reviewed `.stderr` files). Bless changed messages with
//! `TRYBUILD=overwrite cargo test -p hookflow-tests --test ui` and review the diff.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("ui/pass/*.rs");
    cases.compile_fail("ui/fail/*.rs");
}
