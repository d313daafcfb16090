//! Real HTTP for the tests: a router served on a free loopback port.

/// Serves `app` on a free port of 127.0.0.1 for the rest of the test and answers its base URL
/// (`http://127.0.0.1:PORT`, no trailing slash).
pub async fn serve(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a free loopback port");
    let base = format!("http://{}", listener.local_addr().expect("the bound address"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

/// `GET {base}{path}`, which must answer 200, as JSON.
pub async fn get_json(base: &str, path: &str) -> serde_json::Value {
    let res = reqwest::get(format!("{base}{path}")).await.expect("request");
    assert_eq!(res.status(), reqwest::StatusCode::OK, "GET {path}");
    res.json().await.expect("json")
}

/// The event key the tests' event APIs accept (`POST /e/key`).
pub const EVENT_KEY: &str = "key";

/// Serves `engine` as `hookflow dev` does, its dev UI with its event API (key [`EVENT_KEY`]), on a
/// free loopback port, and answers the base URL.
pub async fn serve_engine(engine: &hookflow::engine::Engine) -> String {
    use hookflow::webhook::{EventApi, EventApiConfig};
    let api = EventApi::new(EventApiConfig::new().with_event_keys([EVENT_KEY]), std::sync::Arc::new(engine.clone()));
    serve(hookflow::devui::router(engine.clone(), hookflow::devui::DevUiConfig::default()).merge(api.router())).await
}

/// `POST {base}/e/key` with `body` (one event or an array), which must be acknowledged (2xx);
/// answers the reply as JSON.
pub async fn send_events(base: &str, body: serde_json::Value) -> serde_json::Value {
    let res = reqwest::Client::new().post(format!("{base}/e/{EVENT_KEY}")).json(&body).send().await.expect("post");
    assert!(res.status().is_success(), "POST /e/{EVENT_KEY}: {}", res.status());
    res.json().await.expect("json")
}
