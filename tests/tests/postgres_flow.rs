//! Flow control on the Postgres store: in a binary of its own, since an `App` started on
//! Postgres elsewhere collects every function linked into its binary.

use std::sync::Arc;

use hookflow::{EngineBuilder, Registry};
use hookflow_tests::postgres;

#[hookflow::prelude::inngest_fn(id = "pg-limited", event = "pg/limited", concurrency(limit = 2))]
async fn pg_limited() -> hookflow::prelude::Result<()> {
    Ok(())
}

#[hookflow::prelude::inngest_fn(id = "pg-rate", event = "pg/rate", rate_limit(limit = 1, period = "1h"))]
async fn pg_rate() -> hookflow::prelude::Result<()> {
    Ok(())
}

#[hookflow::prelude::inngest_fn(id = "pg-idempotent", event = "pg/idempotent", idempotency = "event.data.id")]
async fn pg_idempotent() -> hookflow::prelude::Result<()> {
    Ok(())
}

#[hookflow::prelude::inngest_fn(id = "pg-single", event = "pg/single", singleton(mode = "skip"))]
async fn pg_single() -> hookflow::prelude::Result<()> {
    Ok(())
}

#[hookflow::prelude::inngest_fn(id = "pg-debounced", event = "pg/debounced", debounce(period = "5s"))]
async fn pg_debounced() -> hookflow::prelude::Result<()> {
    Ok(())
}

#[hookflow::prelude::inngest_fn(id = "pg-batched", event = "pg/batched", batch_events(max_size = 10, timeout = "5s"))]
async fn pg_batched() -> hookflow::prelude::Result<()> {
    Ok(())
}

/// A limit the store would not enforce is refused at start, not accepted and ignored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engine_refuses_flow_control_the_store_does_not_enforce() {
    let Some(url) = postgres::url("an_engine_refuses_flow_control_the_store_does_not_enforce") else { return };
    let store = postgres::store_in(&url, &postgres::unique("refuse")).await;
    let mut registry = Registry::empty();
    registry.add(pg_limited::DEF).expect("unique ids");
    let refused = EngineBuilder::new("refuse", registry).store(Arc::new(store)).start().await;
    let message = refused.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(message.contains("`pg-limited` sets `concurrency`"), "{message}");
}

/// So are the gates that skip or hold runs at event time (rate limit, idempotency, singleton,
/// debounce, batching).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engine_refuses_run_skipping_options_the_store_does_not_enforce() {
    let Some(url) = postgres::url("an_engine_refuses_run_skipping_options_the_store_does_not_enforce") else { return };
    for (def, id, option) in [
        (pg_rate::DEF, "pg-rate", "rate_limit"),
        (pg_idempotent::DEF, "pg-idempotent", "idempotency"),
        (pg_single::DEF, "pg-single", "singleton"),
        (pg_debounced::DEF, "pg-debounced", "debounce"),
        (pg_batched::DEF, "pg-batched", "batch_events"),
    ] {
        let store = postgres::store_in(&url, &postgres::unique("refuse_gates")).await;
        let mut registry = Registry::empty();
        registry.add(def).expect("unique ids");
        let refused = EngineBuilder::new("refuse", registry).store(Arc::new(store)).start().await;
        let message = refused.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains(&format!("`{id}` sets `{option}`")), "{message}");
    }
}
