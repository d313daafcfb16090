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
