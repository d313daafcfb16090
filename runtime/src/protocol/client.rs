//! Calls this app makes to the Inngest server: registering its functions, sending events, and
//! fetching a run's state when it is too large for a call request (`use_api`). Over HTTPS with
//! rustls, so no system TLS library is needed. API calls carry the hashed signing key as a
//! bearer token and are tried again with the fallback key on a 401 or 403; event sends carry
//! the event key in the URL instead.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::config::InngestConfig;
use super::headers;
use super::signing::SigningKey;
use crate::event::RawEvent;

/// How long an outbound call may take.
const TIMEOUT: Duration = Duration::from_secs(30);

/// A call to the server failed; the message says where and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ClientError(pub String);

/// An HTTP client with the settings every outbound call uses (rustls, timeouts, no proxy
/// lookups for loopback).
pub(crate) fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(TIMEOUT)
        .connect_timeout(Duration::from_secs(10))
        .pool_idle_timeout(Duration::from_secs(30))
        .build()
        // Only a TLS backend that fails to initialize makes this fail; the default one does not.
        .unwrap_or_else(|_| reqwest::Client::new())
}

/// The server, as this app reaches it.
#[derive(Debug, Clone)]
pub struct InngestClient {
    http: reqwest::Client,
    config: InngestConfig,
}

impl InngestClient {
    /// A client for `config`.
    pub fn new(config: InngestConfig) -> InngestClient {
        InngestClient { http: http_client(), config }
    }

    /// The configuration.
    pub fn config(&self) -> &InngestConfig {
        &self.config
    }

    fn request(&self, method: Method, url: &str) -> reqwest::RequestBuilder {
        let mut request = self
            .http
            .request(method, url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(headers::SDK, headers::sdk())
            .header(reqwest::header::USER_AGENT, headers::sdk());
        if let Some(env) = &self.config.env {
            request = request.header(headers::ENV, env);
        }
        request
    }

    /// An API call with the bearer token, tried again with the fallback key on 401/403.
    async fn api(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        extra: &[(&str, String)],
    ) -> Result<(StatusCode, Vec<u8>), ClientError> {
        let url = format!("{}{path}", self.config.api_origin);
        let keys: Vec<Option<&SigningKey>> = match (&self.config.signing_key, &self.config.signing_key_fallback) {
            (None, _) => vec![None],
            (Some(k), None) => vec![Some(k)],
            (Some(k), Some(f)) => vec![Some(k), Some(f)],
        };
        let mut last = None;
        for key in keys {
            let mut request = self.request(method.clone(), &url);
            for (name, value) in extra {
                request = request.header(*name, value);
            }
            if let Some(key) = key {
                request = request.bearer_auth(key.bearer());
            }
            if let Some(body) = body {
                request = request.body(body.to_string());
            }
            let response = request.send().await.map_err(|e| ClientError(format!("{method} {url} failed: {e}")))?;
            let status = response.status();
            let bytes = response
                .bytes()
                .await
                .map_err(|e| ClientError(format!("{method} {url}: reading the answer failed: {e}")))?;
            if matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
                last = Some((status, bytes.to_vec()));
                continue;
            }
            return Ok((status, bytes.to_vec()));
        }
        Ok(last.unwrap_or((StatusCode::UNAUTHORIZED, Vec::new())))
    }

    /// `POST /fn/register`: answers whether the server saw a change.
    pub async fn register(
        &self,
        body: &Value,
        deploy_id: Option<&str>,
        server_kind: Option<&str>,
    ) -> Result<bool, ClientError> {
        let path = match deploy_id {
            Some(id) => format!("/fn/register?deployId={}", crate::guard::percent_encode(id)),
            None => "/fn/register".to_owned(),
        };
        let mut extra = vec![(headers::SYNC_KIND, "out_of_band".to_owned())];
        if let Some(kind) = server_kind {
            extra.push((headers::EXPECTED_SERVER_KIND, kind.to_owned()));
        }
        let (status, bytes) = self.api(Method::POST, &path, Some(body), &extra).await?;
        let answer: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if !status.is_success() {
            let why = answer
                .get("error")
                .or_else(|| answer.get("message"))
                .and_then(Value::as_str)
                .map_or_else(|| String::from_utf8_lossy(&bytes).into_owned(), str::to_owned);
            return Err(ClientError(format!(
                "the Inngest server at {} refused the sync ({status}): {why}",
                self.config.api_origin
            )));
        }
        Ok(answer.get("modified").and_then(Value::as_bool).unwrap_or(false))
    }

    /// `POST {event origin}/e/{key}`: answers the events' ids.
    pub async fn send(&self, events: &[RawEvent]) -> Result<Vec<String>, SendFailure> {
        let url = format!("{}/e/{}", self.config.event_origin, self.config.event_key_or_placeholder());
        let shown = format!("{}/e/…", self.config.event_origin);
        let response = self
            .request(Method::POST, &url)
            .body(json!(events).to_string())
            .send()
            .await
            .map_err(|e| SendFailure::Unavailable(format!("sending events to {shown} failed: {e}")))?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|e| SendFailure::Unavailable(format!("{shown}: {e}")))?;
        let answer: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        let why = || {
            answer
                .get("error")
                .and_then(Value::as_str)
                .map_or_else(|| String::from_utf8_lossy(&bytes).into_owned(), str::to_owned)
        };
        if status.is_client_error() {
            return Err(SendFailure::Rejected(format!(
                "the Inngest event API at {shown} refused the events ({status}): {}",
                why()
            )));
        }
        if !status.is_success() {
            return Err(SendFailure::Unavailable(format!(
                "the Inngest event API at {shown} answered {status}: {}",
                why()
            )));
        }
        let ids = answer
            .get("ids")
            .and_then(Value::as_array)
            .map(|ids| ids.iter().filter_map(Value::as_str).map(str::to_owned).collect::<Vec<_>>())
            .ok_or_else(|| {
                SendFailure::Unavailable(format!("the Inngest event API at {shown} answered without ids"))
            })?;
        Ok(ids)
    }

    /// A run's events and memoized steps, for a call request sent with `use_api`.
    pub async fn run_state(&self, run_id: &str) -> Result<(Vec<Value>, serde_json::Map<String, Value>), ClientError> {
        let get = |what: &'static str| {
            let path = format!("/v0/runs/{}/{what}", crate::guard::percent_encode(run_id));
            async move {
                let (status, bytes) = self.api(Method::GET, &path, None, &[]).await?;
                if !status.is_success() {
                    return Err(ClientError(format!("GET {path} answered {status}")));
                }
                serde_json::from_slice::<Value>(&bytes).map_err(|e| ClientError(format!("GET {path}: not JSON ({e})")))
            }
        };
        let events = match get("batch").await? {
            Value::Array(events) => events,
            _ => return Err(ClientError("the run's events (/batch) are not a list".into())),
        };
        let steps = match get("actions").await? {
            Value::Object(steps) => steps,
            Value::Null => serde_json::Map::new(),
            _ => return Err(ClientError("the run's steps (/actions) are not an object".into())),
        };
        Ok((events, steps))
    }
}

/// Events could not be sent.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SendFailure {
    /// The server refused them (4xx): sending them again cannot help.
    #[error("{0}")]
    Rejected(String),
    /// The server could not be reached or failed: try again.
    #[error("{0}")]
    Unavailable(String),
}
