use hookflow::prelude::*;

#[inngest_fn(id = "digest", cron = "0 25 * * MON")]
async fn digest() -> Result<()> {
    Ok(())
}

fn main() {}
