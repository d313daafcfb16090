//! `hookflow clerk send`: a Clerk webhook, signed as Svix signs it, posted to a local server.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde_json::{json, Value};

use super::{endpoint, now_ms, parse_secret, post, random_alphanumeric, read_file, CliError, HttpReply, DEFAULT_URL};
use crate::clerk::{fixtures, CATALOG};
use crate::webhook::clerk::{split_secrets, DEFAULT_PATH, SECRET_ENV};
use crate::webhook::dev_secret::DEV_SECRET_FILE;
use crate::webhook::svix::{self, headers};

/// `hookflow clerk send`: posts a signed Clerk webhook to a server's `/webhooks/clerk`.
#[derive(Debug, Clone, clap::Args)]
pub struct ClerkSendArgs {
    /// Clerk's event type, e.g. `user.created` (`clerk/user.created` works too).
    pub event_type: String,
    /// A JSON file holding a whole Clerk envelope, or only its `data`; the built-in sample otherwise.
    #[arg(long)]
    pub fixture: Option<PathBuf>,
    /// The signing secret; else `CLERK_WEBHOOK_SIGNING_SECRET`, else `.hookflow/dev-secret`.
    #[arg(long)]
    pub secret: Option<String>,
    /// The server's base URL (`/webhooks/clerk` is added), or the endpoint's full URL.
    #[arg(long, default_value = DEFAULT_URL, env = "HOOKFLOW_URL")]
    pub url: String,
    /// For `user.*` events: the user id to put in the payload (default: the sample's).
    #[arg(long)]
    pub user_id: Option<String>,
    /// For `user.created` / `user.updated`: the user's primary email address
    /// (default for the built-in sample: `john.doe@example.com`).
    #[arg(long)]
    pub email: Option<String>,
}

impl ClerkSendArgs {
    /// Runs the command.
    pub async fn run(&self) -> Result<HttpReply, CliError> {
        let overrides = UserOverrides { id: self.user_id.clone(), email: self.email.clone() };
        clerk_send_with(&self.event_type, self.fixture.as_deref(), self.secret.as_deref(), &self.url, &overrides).await
    }
}

/// Changes to a `user.*` payload: its id and primary email address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserOverrides {
    /// The user id.
    pub id: Option<String>,
    /// The primary email address.
    pub email: Option<String>,
}

/// The email the built-in user samples get: Clerk's published examples carry none.
const SAMPLE_EMAIL: &str = "john.doe@example.com";

impl UserOverrides {
    /// Refuses what cannot go into a `clerk_type` payload: an email address that is not one, or
    /// an override for a type it does not apply to (rather than ignoring it).
    fn check(&self, clerk_type: &str) -> Result<(), CliError> {
        if self.id.is_some() && !clerk_type.starts_with("user.") {
            return Err(CliError::Invalid(format!(
                "--user-id applies to `user.*` events, not `{clerk_type}`: leave it out, or edit a --fixture"
            )));
        }
        let Some(email) = &self.email else { return Ok(()) };
        if !matches!(clerk_type, "user.created" | "user.updated") {
            return Err(CliError::Invalid(format!(
                "--email applies to `user.created` and `user.updated`, not `{clerk_type}`: leave it out, or edit a \
                 --fixture"
            )));
        }
        let plain = email_address::Options::default().without_display_text().without_domain_literal();
        email_address::EmailAddress::parse_with_options(email, plain).map(drop).map_err(|why| {
            CliError::Invalid(format!(
                "--email `{email}` is not an email address ({}): pass one such as `ada@example.com`",
                why.to_string().trim_end_matches('.').to_lowercase()
            ))
        })
    }

    /// Applies the overrides to a `user.*` envelope; other types are left alone. A built-in
    /// sample user gets an email address (Clerk's examples have none), so that emails can be sent.
    fn apply(&self, clerk_type: &str, envelope: &mut Value, builtin: bool) {
        if !clerk_type.starts_with("user.") {
            return;
        }
        let Some(data) = envelope.get_mut("data").and_then(Value::as_object_mut) else { return };
        if let Some(id) = &self.id {
            data.insert("id".into(), json!(id));
        }
        if clerk_type == "user.deleted" {
            return;
        }
        let has_email = data.get("email_addresses").and_then(Value::as_array).is_some_and(|a| !a.is_empty());
        if self.email.is_none() && (has_email || !builtin) {
            return;
        }
        let email = self.email.clone().unwrap_or_else(|| SAMPLE_EMAIL.to_owned());
        let email_id = match data.get("primary_email_address_id").and_then(Value::as_str) {
            Some(id) if !id.is_empty() => id.to_owned(),
            _ => format!("idn_{}", random_alphanumeric(27)),
        };
        data.insert("primary_email_address_id".into(), json!(email_id));
        data.insert(
            "email_addresses".into(),
            json!([{
                "id": email_id,
                "object": "email_address",
                "email_address": email,
                "reserved": false,
                "verification": {"status": "verified", "strategy": "email_code", "attempts": 1, "expire_at": null},
                "linked_to": [],
                "created_at": 0,
                "updated_at": 0
            }]),
        );
    }
}

/// A Clerk webhook ready to post: its Svix headers and its exact body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedMessage {
    /// The `svix-id`, `msg_` + 27 random characters.
    pub id: String,
    /// The `svix-timestamp`, seconds since the Unix epoch.
    pub timestamp: i64,
    /// The `svix-signature`, `v1,<base64>`.
    pub signature: String,
    /// The body, exactly the bytes that were signed.
    pub body: Vec<u8>,
}

impl SignedMessage {
    /// The three Svix headers, as Clerk sends them.
    pub fn headers(&self) -> [(&'static str, String); 3] {
        [
            (headers::SVIX_ID, self.id.clone()),
            (headers::SVIX_TIMESTAMP, self.timestamp.to_string()),
            (headers::SVIX_SIGNATURE, self.signature.clone()),
        ]
    }
}

/// Builds a Clerk webhook of `event_type` from `fixture` (or a built-in sample), with a fresh
/// `svix-id`, `now` as its timestamps, signed with `secret`, and posts it to `<url>/webhooks/clerk`.
pub async fn clerk_send(
    event_type: &str,
    fixture: Option<&Path>,
    secret: Option<&str>,
    url: &str,
) -> Result<HttpReply, CliError> {
    clerk_send_with(event_type, fixture, secret, url, &UserOverrides::default()).await
}

/// [`clerk_send`] with changes to a `user.*` payload.
pub async fn clerk_send_with(
    event_type: &str,
    fixture: Option<&Path>,
    secret: Option<&str>,
    url: &str,
    overrides: &UserOverrides,
) -> Result<HttpReply, CliError> {
    let target = webhook_endpoint(url)?;
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let secret = resolve_secret(secret, std::env::var(SECRET_ENV).ok().as_deref(), &cwd)?;
    let message = build_clerk_message_with(event_type, fixture, &secret, SystemTime::now(), overrides)?;
    let reply = post(target, message.body.clone(), &message.headers()).await?;
    // A bare 404 says nothing; the likely mistake is the URL.
    if reply.status == 404 {
        return Err(CliError::NoWebhookEndpoint { url: reply.url });
    }
    Ok(reply)
}

/// Where to post for `--url`: the server's base URL gets `/webhooks/clerk` added, and a URL
/// that already ends in `/webhooks/clerk` is the endpoint itself.
fn webhook_endpoint(url: &str) -> Result<reqwest::Url, CliError> {
    let endpoint_path: Vec<&str> = DEFAULT_PATH.split('/').filter(|s| !s.is_empty()).collect();
    let given = endpoint(url, &[])?;
    let path: Vec<&str> = given.path_segments().into_iter().flatten().filter(|s| !s.is_empty()).collect();
    if path.ends_with(&endpoint_path) {
        Ok(given)
    } else {
        endpoint(url, &endpoint_path)
    }
}

/// The signing secret: `explicit` (`--secret`), else `env` (the value of
/// `CLERK_WEBHOOK_SIGNING_SECRET`; its first secret when it lists several), else the file
/// `.hookflow/dev-secret` in `dir`, written by `hookflow dev`.
pub fn resolve_secret(explicit: Option<&str>, env: Option<&str>, dir: &Path) -> Result<String, CliError> {
    let first = |list: &str| split_secrets(list).into_iter().next();
    if let Some(secret) = explicit.and_then(first) {
        return Ok(secret);
    }
    if let Some(secret) = env.and_then(first) {
        return Ok(secret);
    }
    let file = dir.join(DEV_SECRET_FILE);
    match std::fs::read_to_string(&file) {
        Ok(content) => first(&content).ok_or(CliError::NoSecret),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(CliError::NoSecret),
        Err(source) => Err(CliError::ReadFile { path: file, source }),
    }
}

/// Builds and signs a Clerk webhook without sending it (see [`clerk_send`]).
pub fn build_clerk_message(
    event_type: &str,
    fixture: Option<&Path>,
    secret: &str,
    now: SystemTime,
) -> Result<SignedMessage, CliError> {
    build_clerk_message_with(event_type, fixture, secret, now, &UserOverrides::default())
}

/// [`build_clerk_message`] with changes to a `user.*` payload.
pub fn build_clerk_message_with(
    event_type: &str,
    fixture: Option<&Path>,
    secret: &str,
    now: SystemTime,
    overrides: &UserOverrides,
) -> Result<SignedMessage, CliError> {
    let secret = parse_secret(secret)?;
    let clerk_type = event_type.trim().strip_prefix("clerk/").unwrap_or(event_type.trim());
    if clerk_type.is_empty() || clerk_type.contains(char::is_whitespace) {
        return Err(CliError::Invalid(format!(
            "`{event_type}` is not a Clerk event type: pass one such as `user.created` or `session.ended`"
        )));
    }
    let timestamp_ms = now_ms(now);
    let mut envelope = match fixture {
        Some(path) => {
            envelope_from_text(&read_file(path)?, &format!("`{}`", path.display()), clerk_type, timestamp_ms)?
        }
        None => {
            let sample = fixtures::sample(clerk_type).ok_or_else(|| {
                let hint = match closest_clerk_type(clerk_type) {
                    Some(best) => format!("did you mean `{best}`?"),
                    None => "check the spelling (e.g. `user.created`, `session.ended`, \
                             `organizationMembership.created`)"
                        .to_owned(),
                };
                CliError::Invalid(format!(
                    "hookflow has no built-in sample for the Clerk type `{clerk_type}`: {hint} For a type hookflow \
                     does not know, pass `--fixture file.json`"
                ))
            })?;
            envelope_from_text(sample, &format!("the built-in `{clerk_type}` sample"), clerk_type, timestamp_ms)?
        }
    };
    overrides.check(clerk_type)?;
    overrides.apply(clerk_type, &mut envelope, fixture.is_none());
    let body =
        serde_json::to_vec(&envelope).map_err(|e| CliError::Invalid(format!("the envelope cannot be encoded: {e}")))?;
    let id = format!("msg_{}", random_alphanumeric(27));
    let timestamp = svix::unix_seconds(now);
    let signature = secret.sign(&id, timestamp, &body);
    Ok(SignedMessage { id, timestamp, signature, body })
}

/// The catalogue's Clerk type closest to a misspelt one (Jaro–Winkler similarity of at least
/// 0.8, as the compile-time checks use).
fn closest_clerk_type(typo: &str) -> Option<&'static str> {
    let typo = typo.to_lowercase();
    CATALOG
        .iter()
        .map(|entry| (strsim::jaro_winkler(&typo, &entry.clerk_type.to_lowercase()), entry.clerk_type))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, clerk_type)| clerk_type)
}

/// A whole envelope is re-stamped with `now`; an object without `type` and `data` is taken as
/// the event's `data` and wrapped in an envelope.
fn envelope_from_text(text: &str, what: &str, clerk_type: &str, timestamp_ms: i64) -> Result<Value, CliError> {
    let value: Value =
        serde_json::from_str(text).map_err(|source| CliError::InvalidJson { what: what.to_owned(), source })?;
    let Value::Object(mut object) = value else {
        return Err(CliError::Invalid(format!(
            "{what} must hold a JSON object: a Clerk envelope or the event's `data`"
        )));
    };
    if !(object.contains_key("type") && object.contains_key("data")) {
        return Ok(envelope(clerk_type, Value::Object(object), timestamp_ms));
    }
    match object.get("type") {
        Some(Value::String(found)) if found == clerk_type => {}
        found => {
            return Err(CliError::Invalid(format!(
            "{what} is a `{}` envelope, not `{clerk_type}`: pass the matching type, or a fixture for `{clerk_type}`",
            found.and_then(Value::as_str).unwrap_or("?")
        )))
        }
    }
    object.insert("timestamp".into(), json!(timestamp_ms));
    Ok(Value::Object(object))
}

fn envelope(clerk_type: &str, data: Value, timestamp_ms: i64) -> Value {
    json!({
        "data": data,
        "event_attributes": {
            "http_request": { "client_ip": "127.0.0.1", "user_agent": concat!("hookflow/", env!("CARGO_PKG_VERSION")) }
        },
        "instance_id": "ins_hookflowdev000000000000000",
        "object": "event",
        "timestamp": timestamp_ms,
        "type": clerk_type,
    })
}
