//! A custom event type: sent as it is, received as `Event<InvoicePaid>`.
use hookflow::prelude::*;
use hookflow::{EventType, IntoRawEvent, NamedEvent};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, hookflow::Event)]
#[event(name = "app/invoice.paid")]
struct InvoicePaid {
    invoice_id: String,
    cents: u64,
}

#[inngest_fn(id = "record-payment", event = "app/invoice.paid")]
async fn record_payment(event: Event<InvoicePaid>) -> Result<u64> {
    Ok(event.data.cents)
}

fn main() {
    assert_eq!(InvoicePaid::NAME, "app/invoice.paid");
    assert_eq!(<InvoicePaid as EventType>::NAMES, &["app/invoice.paid"]);
    let raw = InvoicePaid { invoice_id: "in_1".into(), cents: 1200 }.into_raw_event().unwrap();
    assert_eq!(raw.name, "app/invoice.paid");
    assert_eq!(raw.data, serde_json::json!({ "invoice_id": "in_1", "cents": 1200 }));
    let typed: Event<InvoicePaid> = Event::try_from(&raw).unwrap();
    assert_eq!(typed.data.cents, 1200);
    assert_eq!(record_payment::DEF.id, "record-payment");
}
