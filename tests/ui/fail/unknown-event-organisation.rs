use hookflow::prelude::*;

#[inngest_fn(id = "new-org", event = "clerk/organisation.created")]
async fn new_org(event: Event<Json>) -> Result<()> {
    let _ = event.data;
    Ok(())
}

fn main() {}
