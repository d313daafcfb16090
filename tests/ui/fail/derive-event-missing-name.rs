use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, hookflow::Event)]
struct InvoicePaid {
    invoice_id: String,
}

fn main() {}
