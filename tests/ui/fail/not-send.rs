use hookflow::prelude::*;
use std::rc::Rc;

async fn tick() {}

// The engine runs functions on a multi-threaded runtime: their futures must be `Send`.
#[inngest_fn(id = "counter", event = "app/tick")]
async fn counter() -> Result<()> {
    let shared = Rc::new(1);
    tick().await;
    let _ = shared;
    Ok(())
}

fn main() {}
