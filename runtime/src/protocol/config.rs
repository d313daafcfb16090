//! Where the Inngest server is and how to trust it: the mode (dev or cloud), the API and event
//! origins, the signing keys and the event key, and the public URL this app serves its
//! functions at, from Inngest's environment variables (code may override any of them).
//!
//! | variable | meaning |
//! |---|---|
//! | `INNGEST_DEV` | dev mode: `1`/`true`, or the dev server's URL (also its origin); `0`/`false`/empty: cloud |
//! | `INNGEST_SIGNING_KEY`, `INNGEST_SIGNING_KEY_FALLBACK` | verify requests, sign responses, authenticate API calls (cloud mode needs one) |
//! | `INNGEST_EVENT_KEY` | the key events are sent with (`POST {event origin}/e/{key}`) |
//! | `INNGEST_BASE_URL` | both origins (a self-hosted `inngest start`) |
//! | `INNGEST_API_BASE_URL`, `INNGEST_EVENT_API_BASE_URL` | each origin alone (beats `INNGEST_BASE_URL`) |
//! | `INNGEST_SERVE_ORIGIN` (or `INNGEST_SERVE_HOST`), `INNGEST_SERVE_PATH` | the public URL advertised at sync, when the server reaches the app under another name |
//! | `INNGEST_ENV` | a branch environment, sent as `X-Inngest-Env` |
//! | `INNGEST_ALLOW_IN_BAND_SYNC` | `false`/`0`: answer every sync by registering with the server (out of band), even when it asks for the functions in the answer (in band) |

use super::signing::SigningKey;

/// The Inngest Cloud API's origin.
pub const CLOUD_API_ORIGIN: &str = "https://api.inngest.com";
/// The Inngest Cloud event API's origin.
pub const CLOUD_EVENT_ORIGIN: &str = "https://inn.gs";
/// The Inngest Dev Server's default origin.
pub const DEV_ORIGIN: &str = "http://localhost:8288";
/// Where functions are served unless told otherwise.
pub const DEFAULT_SERVE_PATH: &str = "/api/inngest";
/// The event key sent in dev mode when none is set (the dev server takes any).
const DEV_EVENT_KEY: &str = "NO_EVENT_KEY_SET";

/// Dev or cloud.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Inngest's dev server: requests are not signed and not verified.
    Dev,
    /// Inngest Cloud or a self-hosted `inngest start`: every request is signed and verified.
    Cloud,
}

impl Mode {
    /// `dev` or `cloud`, as introspection reports it.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Dev => "dev",
            Mode::Cloud => "cloud",
        }
    }
}

/// How this app talks to an Inngest server.
#[derive(Clone)]
pub struct InngestConfig {
    /// Dev or cloud.
    pub mode: Mode,
    /// Where `/fn/register` and the REST API are (no trailing slash).
    pub api_origin: String,
    /// Where events are sent (no trailing slash).
    pub event_origin: String,
    /// The signing key.
    pub signing_key: Option<SigningKey>,
    /// The key tried when the signing key fails (a rotation).
    pub signing_key_fallback: Option<SigningKey>,
    /// The event key.
    pub event_key: Option<String>,
    /// The branch environment (`X-Inngest-Env`).
    pub env: Option<String>,
    /// The public origin the app is reached at (`https://app.example.com`), when it differs
    /// from what requests say.
    pub serve_origin: Option<String>,
    /// The path functions are served at (default `/api/inngest`).
    pub serve_path: String,
    /// Accept an unsigned sync request (`PUT`) in cloud mode
    /// (`INNGEST_ENABLE_UNAUTHED_SYNC=true`); off by default.
    pub allow_unsigned_sync: bool,
    /// Answer a sync request that asks for it (`X-Inngest-Sync-Kind: in_band`) with the
    /// functions themselves, signed, instead of registering them with the server; on unless
    /// `INNGEST_ALLOW_IN_BAND_SYNC` is `false` or `0`.
    pub allow_in_band_sync: bool,
}

impl std::fmt::Debug for InngestConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The event key lets anyone send events as this app: a log line says only that it is set.
        // (Signing keys print as their bearer hash, which does not give them away.)
        f.debug_struct("InngestConfig")
            .field("mode", &self.mode)
            .field("api_origin", &self.api_origin)
            .field("event_origin", &self.event_origin)
            .field("signing_key", &self.signing_key)
            .field("signing_key_fallback", &self.signing_key_fallback)
            .field("event_key", &self.event_key.as_ref().map(|_| "<set>"))
            .field("env", &self.env)
            .field("serve_origin", &self.serve_origin)
            .field("serve_path", &self.serve_path)
            .field("allow_unsigned_sync", &self.allow_unsigned_sync)
            .field("allow_in_band_sync", &self.allow_in_band_sync)
            .finish()
    }
}

/// A setting that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

impl InngestConfig {
    /// The configuration from the process's environment.
    pub fn from_env() -> Result<InngestConfig, ConfigError> {
        InngestConfig::from_lookup(|name| std::env::var(name).ok())
    }

    /// The configuration from any source of variables (tests pass a map).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<InngestConfig, ConfigError> {
        let var = |name: &str| get(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let (mode, dev_origin) = match var("INNGEST_DEV") {
            None => (Mode::Cloud, None),
            Some(v) if matches!(v.to_ascii_lowercase().as_str(), "0" | "false") => (Mode::Cloud, None),
            Some(v) if v.contains("://") => (Mode::Dev, Some(origin("INNGEST_DEV", &v)?)),
            Some(_) => (Mode::Dev, None),
        };
        let base = var("INNGEST_BASE_URL").map(|v| origin("INNGEST_BASE_URL", &v)).transpose()?;
        let (default_api, default_event) = match mode {
            Mode::Cloud => (CLOUD_API_ORIGIN.to_owned(), CLOUD_EVENT_ORIGIN.to_owned()),
            Mode::Dev => {
                let dev = dev_origin.unwrap_or_else(|| DEV_ORIGIN.to_owned());
                (dev.clone(), dev)
            }
        };
        let api_origin = match var("INNGEST_API_BASE_URL") {
            Some(v) => origin("INNGEST_API_BASE_URL", &v)?,
            None => base.clone().unwrap_or(default_api),
        };
        let event_origin = match var("INNGEST_EVENT_API_BASE_URL") {
            Some(v) => origin("INNGEST_EVENT_API_BASE_URL", &v)?,
            None => base.unwrap_or(default_event),
        };
        let serve_origin = var("INNGEST_SERVE_ORIGIN")
            .or_else(|| var("INNGEST_SERVE_HOST"))
            .map(|v| {
                let v = if v.contains("://") { v } else { format!("https://{v}") };
                origin("INNGEST_SERVE_ORIGIN", &v)
            })
            .transpose()?;
        let serve_path = match var("INNGEST_SERVE_PATH") {
            Some(p) if p.starts_with('/') => p.trim_end_matches('/').to_owned(),
            Some(p) => {
                return Err(ConfigError(format!(
                    "INNGEST_SERVE_PATH `{p}` must be a path starting with `/`, such as `/api/inngest`"
                )))
            }
            None => DEFAULT_SERVE_PATH.to_owned(),
        };
        let config = InngestConfig {
            mode,
            api_origin,
            event_origin,
            signing_key: var("INNGEST_SIGNING_KEY").and_then(SigningKey::new),
            signing_key_fallback: var("INNGEST_SIGNING_KEY_FALLBACK").and_then(SigningKey::new),
            event_key: var("INNGEST_EVENT_KEY"),
            env: var("INNGEST_ENV"),
            serve_origin,
            serve_path,
            allow_unsigned_sync: var("INNGEST_ENABLE_UNAUTHED_SYNC").is_some_and(|v| v.eq_ignore_ascii_case("true")),
            allow_in_band_sync: !var("INNGEST_ALLOW_IN_BAND_SYNC")
                .is_some_and(|v| v.eq_ignore_ascii_case("false") || v.trim() == "0"),
        };
        config.check()?;
        Ok(config)
    }

    /// A dev-mode configuration talking to the dev server at `origin` (tests, embedding).
    pub fn dev(origin: &str) -> InngestConfig {
        let origin = origin.trim_end_matches('/').to_owned();
        InngestConfig {
            mode: Mode::Dev,
            api_origin: origin.clone(),
            event_origin: origin,
            signing_key: None,
            signing_key_fallback: None,
            event_key: None,
            env: None,
            serve_origin: None,
            serve_path: DEFAULT_SERVE_PATH.to_owned(),
            allow_unsigned_sync: false,
            allow_in_band_sync: true,
        }
    }

    /// A cloud-mode configuration (a self-hosted server at `origin` with `signing_key`).
    pub fn cloud(origin: &str, signing_key: &str) -> InngestConfig {
        InngestConfig { mode: Mode::Cloud, signing_key: SigningKey::new(signing_key), ..InngestConfig::dev(origin) }
    }

    /// Refuses what cannot work: cloud mode without a signing key.
    pub fn check(&self) -> Result<(), ConfigError> {
        if self.mode == Mode::Cloud && self.signing_key.is_none() {
            return Err(ConfigError(
                "Inngest cloud mode needs a signing key: set INNGEST_SIGNING_KEY (Inngest dashboard → your app's \
                 environment → Signing key; for a self-hosted `inngest start`, the key it was started with), or set \
                 INNGEST_DEV=1 (or INNGEST_DEV=http://localhost:8288) to use Inngest's dev server"
                    .to_owned(),
            ));
        }
        Ok(())
    }

    /// The keys requests are verified with, primary first.
    pub fn keys(&self) -> impl Iterator<Item = &SigningKey> {
        self.signing_key.iter().chain(self.signing_key_fallback.iter())
    }

    /// The event key to send with: the configured one, or a placeholder in dev mode.
    pub(crate) fn event_key_or_placeholder(&self) -> &str {
        self.event_key.as_deref().unwrap_or(DEV_EVENT_KEY)
    }
}

/// A URL's origin (scheme, host and port, no trailing slash), or what is wrong with it.
fn origin(var: &str, value: &str) -> Result<String, ConfigError> {
    let bad = |why: &str| ConfigError(format!("{var} `{value}` {why}: give a URL such as `http://localhost:8288`"));
    let (scheme, rest) = value.split_once("://").ok_or_else(|| bad("is not a URL"))?;
    if !matches!(scheme, "http" | "https") {
        return Err(bad("is not an http:// or https:// URL"));
    }
    if rest.trim_end_matches('/').is_empty() {
        return Err(bad("has no host"));
    }
    Ok(value.trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<InngestConfig, ConfigError> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        InngestConfig::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn inngest_dev_chooses_dev_mode_and_may_name_the_server() {
        let c = config(&[("INNGEST_DEV", "1")]).expect("dev");
        assert_eq!((c.mode, c.api_origin.as_str(), c.event_origin.as_str()), (Mode::Dev, DEV_ORIGIN, DEV_ORIGIN));
        let c = config(&[("INNGEST_DEV", "http://127.0.0.1:9999/")]).expect("dev url");
        assert_eq!((c.mode, c.api_origin.as_str()), (Mode::Dev, "http://127.0.0.1:9999"));
        assert_eq!(c.event_key_or_placeholder(), DEV_EVENT_KEY);
    }

    #[test]
    fn cloud_mode_needs_a_signing_key_and_specific_origins_beat_the_base() {
        for vars in [&[][..], &[("INNGEST_DEV", "0")][..], &[("INNGEST_DEV", "false")][..]] {
            let err = config(vars).expect_err("no key");
            assert!(err.0.contains("INNGEST_SIGNING_KEY"), "{err}");
        }
        let c = config(&[("INNGEST_SIGNING_KEY", "signkey-prod-00")]).expect("cloud");
        assert_eq!((c.api_origin.as_str(), c.event_origin.as_str()), (CLOUD_API_ORIGIN, CLOUD_EVENT_ORIGIN));
        let c = config(&[
            ("INNGEST_SIGNING_KEY", "signkey-prod-00"),
            ("INNGEST_BASE_URL", "http://inngest:8288"),
            ("INNGEST_EVENT_API_BASE_URL", "http://events:8288"),
        ])
        .expect("self-hosted");
        assert_eq!((c.api_origin.as_str(), c.event_origin.as_str()), ("http://inngest:8288", "http://events:8288"));
    }

    #[test]
    fn in_band_sync_is_on_unless_turned_off() {
        assert!(config(&[("INNGEST_DEV", "1")]).expect("dev").allow_in_band_sync);
        assert!(
            config(&[("INNGEST_DEV", "1"), ("INNGEST_ALLOW_IN_BAND_SYNC", "true")]).expect("on").allow_in_band_sync
        );
        for off in ["false", "FALSE", "0"] {
            let c = config(&[("INNGEST_DEV", "1"), ("INNGEST_ALLOW_IN_BAND_SYNC", off)]).expect("off");
            assert!(!c.allow_in_band_sync, "{off}");
        }
    }

    #[test]
    fn serve_settings_and_bad_values() {
        let c =
            config(&[("INNGEST_DEV", "1"), ("INNGEST_SERVE_HOST", "app.example.com"), ("INNGEST_SERVE_PATH", "/x/")])
                .expect("serve");
        assert_eq!((c.serve_origin.as_deref(), c.serve_path.as_str()), (Some("https://app.example.com"), "/x"));
        assert!(config(&[("INNGEST_DEV", "1"), ("INNGEST_SERVE_PATH", "x")]).is_err());
        let err = config(&[("INNGEST_DEV", "1"), ("INNGEST_BASE_URL", "ftp://x")]).expect_err("scheme");
        assert!(err.0.contains("INNGEST_BASE_URL"), "{err}");
    }
}
