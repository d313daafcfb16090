//! `hookflow events pull`: copies events from a deployed server into the local dev server, as
//! Clerk's guide does with Inngest ("pick a real event in production, send it to the local dev
//! server, replay or edit it").
//!
//! The source is read through the REST API that both a deployed hookflow (`/v1`, with its UI
//! token) and Inngest (`https://api.inngest.com/v1`, with a signing key) answer: `GET
//! /v1/events` (newest first, by `name` and `received_after`, paged by `cursor`) and `GET
//! /v1/events/{id}`. The events are posted to the dev server's `POST /api/v1/import`, which
//! keeps their ids and times and marks them with the source `import`; an id it already holds
//! is not imported twice. Internal `inngest/*` events are never copied.

use std::time::SystemTime;

use serde::Deserialize;
use serde_json::Value;

use super::{endpoint, CliError, DEFAULT_URL};
use crate::event_rules::MAX_EVENTS_PER_REQUEST;
use crate::RawEvent;

/// The largest page the source's `/v1/events` returns (Inngest's own limit).
const PAGE: usize = 100;

/// `hookflow events pull`: copies events from a deployed hookflow or from Inngest into the
/// local dev server, where they can be replayed or edited.
#[derive(Debug, Clone, clap::Args)]
pub struct PullArgs {
    /// The server to copy from: a deployed hookflow's base URL, or Inngest's API
    /// (`https://api.inngest.com`).
    #[arg(long)]
    pub from: String,
    /// The source's token: a hookflow's UI token, or an Inngest signing key.
    #[arg(long, env = "HOOKFLOW_PULL_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Only events with this name, e.g. `clerk/user.created`.
    #[arg(long)]
    pub name: Option<String>,
    /// Only events received within this long before now, e.g. `1h` or `2d`.
    #[arg(long)]
    pub since: Option<String>,
    /// Copy these events (repeatable); `--name` and `--since` then do not apply.
    #[arg(long = "id")]
    pub ids: Vec<String>,
    /// At most this many events (the newest).
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    /// The local dev server to copy into.
    #[arg(long, default_value = DEFAULT_URL, env = "HOOKFLOW_URL")]
    pub to: String,
    /// The local dev server's UI token, if it has one.
    #[arg(long, env = "HOOKFLOW_UI_TOKEN", hide_env_values = true)]
    pub to_token: Option<String>,
}

/// What a pull did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PullReport {
    /// Ids of the events imported now.
    pub imported: Vec<String>,
    /// Ids of the events the dev server already had.
    pub known: Vec<String>,
    /// Internal `inngest/*` events left behind.
    pub internal: usize,
}

impl std::fmt::Display for PullReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "imported {} event(s)", self.imported.len())?;
        if !self.known.is_empty() {
            write!(f, ", {} already there", self.known.len())?;
        }
        if self.internal > 0 {
            write!(f, ", {} internal event(s) left behind", self.internal)?;
        }
        for id in &self.imported {
            write!(f, "\n  {id}")?;
        }
        Ok(())
    }
}

/// An event as `/v1/events` gives it (Inngest's shape); only what an import keeps.
#[derive(Debug, Deserialize)]
struct SourceEvent {
    id: String,
    name: String,
    #[serde(default)]
    data: Value,
    #[serde(default)]
    ts: i64,
    #[serde(default)]
    user: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct Page<T> {
    data: T,
    #[serde(default)]
    cursor: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ImportAnswer {
    #[serde(default)]
    imported: Vec<String>,
    #[serde(default)]
    known: Vec<String>,
}

impl PullArgs {
    /// Runs the command.
    pub async fn run(&self) -> Result<PullReport, CliError> {
        if self.limit == 0 {
            return Err(CliError::Invalid("`--limit` must be at least 1".into()));
        }
        let client = super::client().map_err(|source| CliError::Http { url: self.from.clone(), source })?;
        let events = if self.ids.is_empty() { self.list(&client).await? } else { self.by_id(&client).await? };
        let (internal, events): (Vec<SourceEvent>, Vec<SourceEvent>) =
            events.into_iter().partition(|e| e.name.starts_with(crate::event_rules::INTERNAL_PREFIX));
        let mut report = PullReport { internal: internal.len(), ..PullReport::default() };
        let raw: Vec<RawEvent> = events
            .into_iter()
            .map(|e| RawEvent { id: e.id, name: e.name, data: e.data.into(), ts: e.ts, user: e.user })
            .collect();
        for chunk in raw.chunks(MAX_EVENTS_PER_REQUEST) {
            let answer = self.import(&client, chunk).await?;
            report.imported.extend(answer.imported);
            report.known.extend(answer.known);
        }
        Ok(report)
    }

    /// The newest events matching `--name` and `--since`, up to `--limit`, oldest first (the
    /// order they happened in, which is the order they are imported in).
    async fn list(&self, client: &reqwest::Client) -> Result<Vec<SourceEvent>, CliError> {
        let received_after = match &self.since {
            Some(text) => {
                let ago = crate::duration::parse_duration(text).map_err(|e| {
                    CliError::Invalid(format!("`--since {text}` is not a duration ({e}): write e.g. `1h` or `2d`"))
                })?;
                let at = SystemTime::now().checked_sub(ago).unwrap_or(SystemTime::UNIX_EPOCH);
                Some(chrono::DateTime::<chrono::Utc>::from(at).to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
            }
            None => None,
        };
        let mut out: Vec<SourceEvent> = Vec::new();
        let mut cursor: Option<String> = None;
        while out.len() < self.limit {
            let mut url = endpoint(&self.from, &["v1", "events"])?;
            {
                let mut q = url.query_pairs_mut();
                q.append_pair("limit", &PAGE.min(self.limit - out.len()).to_string());
                if let Some(name) = &self.name {
                    q.append_pair("name", name);
                }
                if let Some(after) = &received_after {
                    q.append_pair("received_after", after);
                }
                if let Some(c) = &cursor {
                    q.append_pair("cursor", c);
                }
            }
            let page: Page<Vec<SourceEvent>> = self.get(client, url).await?;
            let done = page.data.is_empty() || page.cursor.is_none();
            out.extend(page.data);
            cursor = page.cursor;
            if done {
                break;
            }
        }
        out.truncate(self.limit);
        out.reverse();
        Ok(out)
    }

    async fn by_id(&self, client: &reqwest::Client) -> Result<Vec<SourceEvent>, CliError> {
        let mut out = Vec::with_capacity(self.ids.len());
        for id in &self.ids {
            let page: Page<SourceEvent> = self.get(client, endpoint(&self.from, &["v1", "events", id])?).await?;
            out.push(page.data);
        }
        Ok(out)
    }

    async fn get<T: serde::de::DeserializeOwned>(
        &self,
        client: &reqwest::Client,
        url: reqwest::Url,
    ) -> Result<T, CliError> {
        let shown = url.to_string();
        let (status, body) = exchange(client.get(url), self.token.as_deref(), &shown).await?;
        if !status.is_success() {
            let hint = match status.as_u16() {
                401 | 403 => {
                    ": pass the source's token with `--token` (a hookflow's UI token, or an Inngest signing key)"
                }
                404 => ": check `--from` (a base URL such as https://app.example.com) and `--id`",
                _ => "",
            };
            return Err(CliError::Invalid(format!("GET {shown} answered {status}{hint}: {}", excerpt(&body))));
        }
        serde_json::from_str(&body).map_err(|e| {
            CliError::Invalid(format!(
                "GET {shown} did not answer with Inngest's event shape ({e}): is `--from` a hookflow or Inngest \
                 server? {}",
                excerpt(&body)
            ))
        })
    }

    async fn import(&self, client: &reqwest::Client, events: &[RawEvent]) -> Result<ImportAnswer, CliError> {
        let url = endpoint(&self.to, &["api", "v1", "import"])?;
        let shown = url.to_string();
        let (status, body) = exchange(client.post(url).json(events), self.to_token.as_deref(), &shown).await?;
        if !status.is_success() {
            return Err(CliError::Invalid(format!(
                "the dev server at {shown} refused the import ({status}): {}",
                excerpt(&body)
            )));
        }
        serde_json::from_str(&body)
            .map_err(|e| CliError::Invalid(format!("the dev server at {shown} answered an unknown shape ({e})")))
    }
}

/// Sends `request` (with `token` as a bearer token, if any): the status and the body's text.
async fn exchange(
    request: reqwest::RequestBuilder,
    token: Option<&str>,
    shown: &str,
) -> Result<(reqwest::StatusCode, String), CliError> {
    let http = |source| CliError::Http { url: shown.to_owned(), source };
    let request = match token {
        Some(token) => request.bearer_auth(token),
        None => request,
    };
    let response = request.send().await.map_err(http)?;
    let status = response.status();
    Ok((status, response.text().await.map_err(http)?))
}

/// The start of a response body, for an error message.
fn excerpt(body: &str) -> String {
    let text: String = body.chars().take(300).collect();
    if text.len() < body.len() {
        format!("{text}…")
    } else {
        text
    }
}
