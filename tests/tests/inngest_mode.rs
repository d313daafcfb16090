//! The dev server's apps API (`GET /api/v1/apps`, `POST /api/v1/apps/{id}/resync`), over real
//! HTTP: a dev server as `hookflow dev` builds it (engine, dev UI, the executor's routes)
//! syncs a hookflow app in Inngest mode (`App::serve_to_inngest`) and an app that is down; the
//! list shows each with its URL, SDK, functions, last sync and its error; a resync syncs again
//! and says when it failed; and what an attacker sends (a forged Origin, a foreign Host, an
//! unknown or malformed id) is refused with a JSON error and changes nothing.

use std::sync::Arc;
use std::time::Duration;

use hookflow::prelude::*;
use hookflow::protocol::executor::apps::{api_id, Apps};
use hookflow::protocol::InngestConfig;
use hookflow::{App, Registry, TestClock};
use serde_json::{json, Value};

const START_MS: i64 = 1_700_000_000_000;

#[inngest_fn(id = "greet", name = "Greet", event = "app/greet")]
async fn greet(event: Event<Json>, step: Step) -> Result<String> {
    let name = event.data["name"].as_str().unwrap_or("there").to_owned();
    Ok(step.run("say-hello", || async move { Ok(format!("hello, {name}")) }).await?)
}

/// A dev server as `hookflow dev` builds it, on the test clock; its apps and base URL.
async fn dev_server(clock: &TestClock) -> (Apps, String) {
    let running = App::with_registry("hookflow-dev", Ok(Registry::empty()))
        .store_memory()
        .dev_ui()
        .clock(Arc::new(clock.clone()))
        .start()
        .await
        .expect("starts");
    let apps = Apps::new(running.engine().clone());
    let running = running.merge(apps.router());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let listening = running.listen(listener).expect("listens");
    let base = format!("http://{}", listening.local_addr());
    tokio::spawn(listening.serve(std::future::pending()));
    (apps, base)
}

/// A hookflow app in Inngest mode with `greet`, served to the dev server at `dev`; its serve URL.
async fn inngest_app(dev: &str) -> String {
    let mut registry = Registry::empty();
    registry.add(greet::DEF).expect("unique");
    let running = App::with_registry("greeter", Ok(registry))
        .serve_to_inngest(InngestConfig::dev(dev))
        .start()
        .await
        .expect("starts");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let listening = running.listen(listener).expect("listens");
    let url = format!("http://{}/api/inngest", listening.local_addr());
    tokio::spawn(listening.serve(std::future::pending()));
    url
}

async fn json_of(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let url = response.url().to_string();
    let text = response.text().await.expect("an answer");
    (status, serde_json::from_str(&text).unwrap_or_else(|e| panic!("{url}: not JSON ({e}), status {status}: {text:?}")))
}

async fn list(client: &reqwest::Client, base: &str) -> Vec<Value> {
    let (status, body) = json_of(client.get(format!("{base}/api/v1/apps")).send().await.expect("get")).await;
    assert_eq!(status, 200, "{body}");
    body["apps"].as_array().cloned().expect("apps")
}

fn find<'a>(apps: &'a [Value], url: &str) -> &'a Value {
    apps.iter().find(|a| a["url"] == url).unwrap_or_else(|| panic!("no app at {url} in {apps:?}"))
}

#[tokio::test]
async fn the_apps_api_lists_synced_apps_and_resyncs_them_and_refuses_attackers() {
    let clock = TestClock::new(START_MS);
    let client = reqwest::Client::new();
    let (apps, dev) = dev_server(&clock).await;
    let app_url = inngest_app(&dev).await;
    let dead_port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let dead_url = format!("http://127.0.0.1:{dead_port}/api/inngest");

    // The Inngest-mode app syncs at start-up by itself; the dead one is asked and fails.
    for _ in 0..400 {
        if apps.list().iter().any(|a| a.url == app_url) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(apps.sync(&dead_url).await.is_err());

    let listed = list(&client, &dev).await;
    assert_eq!(listed.len(), 2, "{listed:?}");
    let app = find(&listed, &app_url);
    assert_eq!(app["id"], api_id(&app_url));
    assert_eq!(app["name"], "greeter");
    assert_eq!(app["sdk_language"], "rust");
    assert_eq!(app["sdk_version"], app["sdk"].as_str().and_then(|s| s.split_once(":v")).map(|(_, v)| v).expect("sdk"));
    assert_eq!(app["functions"], json!(["greeter-greet"]));
    assert_eq!(app["synced_at"], START_MS);
    assert_eq!(app["error"], Value::Null);
    let dead = find(&listed, &dead_url);
    assert_eq!(dead["name"], "");
    assert!(dead["error"].as_str().is_some_and(|e| e.contains("could not reach")), "{dead}");

    // A resync a minute later syncs again.
    clock.advance(Duration::from_secs(60));
    let resync = |id: &str| format!("{dev}/api/v1/apps/{id}/resync");
    let (status, body) = json_of(client.post(resync(&api_id(&app_url))).send().await.expect("post")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["app"]["synced_at"], START_MS + 60_000);
    // The dead app's resync fails, saying why, and keeps the error for the list.
    let (status, body) = json_of(client.post(resync(&api_id(&dead_url))).send().await.expect("post")).await;
    assert_eq!((status, body["status"].as_u64()), (502, Some(502)), "{body}");
    assert!(
        body["error"].as_str().is_some_and(|e| e.contains("did not sync") && e.contains("could not reach")),
        "{body}"
    );
    assert!(find(&list(&client, &dev).await, &dead_url)["error"].is_string());

    // Attackers: nothing they send resyncs anything.
    clock.advance(Duration::from_secs(60));
    let forged =
        client.post(resync(&api_id(&app_url))).header("origin", "https://evil.example").send().await.expect("post");
    let (status, body) = json_of(forged).await;
    assert_eq!((status, body["status"].as_u64()), (403, Some(403)), "{body}");
    let rebinding = client.post(resync(&api_id(&app_url))).header("host", "evil.example").send().await.expect("post");
    let (status, body) = json_of(rebinding).await;
    assert_eq!((status, body["status"].as_u64()), (403, Some(403)), "{body}");
    let (status, body) = json_of(client.post(resync("0123456789abcdef")).send().await.expect("post")).await;
    assert_eq!((status, body["status"].as_u64()), (404, Some(404)), "{body}");
    assert!(body["error"].as_str().is_some_and(|e| e.contains("GET /api/v1/apps")), "{body}");
    for malformed in ["greeter", "0123456789ABCDEF", "0123456789abcdef0", "a%2Fb", "%F0%9F%92%A5", "0123456789abcdeg"] {
        let (status, body) = json_of(client.post(resync(malformed)).send().await.expect("post")).await;
        assert_eq!((status, body["status"].as_u64()), (400, Some(400)), "{malformed}: {body}");
        assert!(body["error"].as_str().is_some_and(|e| e.contains("16 hex digits")), "{body}");
    }
    let get = client.get(resync(&api_id(&app_url))).send().await.expect("get");
    assert_eq!(get.status().as_u16(), 405);
    assert_eq!(find(&list(&client, &dev).await, &app_url)["synced_at"], START_MS + 60_000, "no attacker resynced");
}

#[tokio::test]
async fn an_app_in_inngest_mode_runs_its_function_under_the_dev_server_and_sends_there() {
    let clock = TestClock::new(START_MS);
    let (apps, dev) = dev_server(&clock).await;
    let app_url = inngest_app(&dev).await;
    for _ in 0..400 {
        if apps.list().iter().any(|a| a.url == app_url) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(apps.list().len(), 1, "{:?}", apps.list());
    let client = reqwest::Client::new();
    let sent = client
        .post(format!("{dev}/e/key"))
        .json(&json!({"name": "app/greet", "data": {"name": "ada"}}))
        .send()
        .await
        .expect("send");
    assert_eq!(sent.status().as_u16(), 200);
    let id = sent.json::<Value>().await.expect("json")["ids"][0].as_str().expect("id").to_owned();
    for _ in 0..400 {
        let body: Value =
            client.get(format!("{dev}/api/v1/runs?event={id}")).send().await.expect("get").json().await.expect("json");
        if body["runs"][0]["status"] == "Completed" {
            assert_eq!(body["runs"][0]["function_id"], "greeter-greet");
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the run of greeter-greet did not complete");
}
