//! The registry: every `#[inngest_fn]` linked into the binary is collected at start-up, and two
//! functions with one id are refused, naming both places.

use hookflow::prelude::*;

#[inngest_fn(id = "welcome", event = "app/signup")]
async fn welcome() -> Result<()> {
    Ok(())
}

mod billing {
    use hookflow::prelude::*;

    // Same id as `welcome` in the parent module: a mistake only the registry can see.
    #[inngest_fn(id = "welcome", event = "app/invoice.paid")]
    pub(crate) async fn thank_you() -> Result<()> {
        Ok(())
    }
}

#[inngest_fn(id = "audit", name = "Audit trail", event = "app/signup", event = "app/invoice.paid", retries = 7)]
async fn audit(event: Event<Json>) -> Result<String> {
    Ok(event.name)
}

#[test]
fn duplicate_ids_are_refused_with_both_locations() {
    let err = hookflow::Registry::collect().expect_err("two functions share the id `welcome`");
    let message = err.to_string();
    assert!(message.contains("duplicate function id `welcome`"), "{message}");
    assert!(message.contains("registry::welcome") && message.contains("registry::billing::thank_you"), "{message}");
    assert!(message.contains("tests/registry.rs"), "the file is named: {message}");
    assert!(message.contains("give one of them another `id`"), "the fix is said: {message}");
}

#[test]
fn functions_are_registered_explicitly_and_carry_their_options() {
    let mut registry = hookflow::Registry::empty();
    registry.add(welcome::DEF).expect("add").add(audit::DEF).expect("add");
    assert!(registry.add(welcome::DEF).is_ok(), "adding the same definition twice is harmless");
    assert!(registry.add(billing::thank_you::DEF).is_err());
    assert_eq!(registry.len(), 2);
    let audit = registry.get("audit").expect("audit");
    assert_eq!(audit.display_name(), "Audit trail");
    assert_eq!(audit.max_attempts(), 8);
    assert_eq!(audit.triggers, &[hookflow::Trigger::event("app/signup"), hookflow::Trigger::event("app/invoice.paid")]);
    assert_eq!(registry.get("welcome").map(|d| d.max_attempts()), Some(5), "default retries: 4");
}
