//! A function may take no parameters at all; `Registry::add` takes `<fn>::DEF`.
use hookflow::prelude::*;

#[inngest_fn(id = "ping", event = "app/ping")]
async fn ping() -> Result<()> {
    Ok(())
}

fn main() {
    let mut registry = hookflow::Registry::empty();
    registry.add(ping::DEF).unwrap();
    registry.add(&ping::DEF).unwrap();
    assert_eq!(registry.len(), 1);
    assert_eq!(ping::DEF.options, hookflow::Options::DEFAULT);
    assert_eq!(ping::DEF.name, None);
}
