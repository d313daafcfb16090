use hookflow::prelude::*;

#[inngest_fn(id = "digest", cron = "TZ=Europe/Pariss 0 9 * * MON")]
async fn digest() -> Result<()> {
    Ok(())
}

fn main() {}
