use hookflow::prelude::*;

struct Invoice;

#[inngest_fn(id = "record-payment", event = "app/invoice.paid")]
async fn record_payment(event: Event<Invoice>) -> Result<()> {
    let _ = event;
    Ok(())
}

fn main() {}
