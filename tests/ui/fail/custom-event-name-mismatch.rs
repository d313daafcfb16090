use hookflow::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, hookflow::Event)]
#[event(name = "app/invoice.paid")]
struct InvoicePaid {
    invoice_id: String,
}

#[inngest_fn(id = "record-payment", event = "app/invoice.payed")]
async fn record_payment(event: Event<InvoicePaid>) -> Result<()> {
    let _ = event.data.invoice_id;
    Ok(())
}

fn main() {}
