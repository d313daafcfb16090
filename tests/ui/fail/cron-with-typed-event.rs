use hookflow::prelude::*;

#[inngest_fn(id = "digest", cron = "0 9 * * MON")]
async fn digest(event: Event<clerk::User>) -> Result<()> {
    let _ = event.data;
    Ok(())
}

fn main() {}
