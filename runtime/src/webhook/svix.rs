//! Svix / Standard Webhooks signatures: verification (what Clerk's webhooks need) and signing
//! (what tests and `hookflow clerk send` need).
//!
//! A message is signed with HMAC-SHA256 over `{id}.{timestamp}.{body}`, where `id` and
//! `timestamp` come from the `svix-id` and `svix-timestamp` headers (or their unbranded
//! `webhook-*` twins) and `body` is the raw request body, byte for byte. The signature header
//! holds space-separated `v1,<base64>` entries, several during a secret rotation.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::{HeaderMap, HeaderValue};
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// How far a message timestamp may be from the receiver's clock, either way (Svix's 5 minutes).
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

/// The prefix Svix puts in front of the base64 key in dashboards; optional everywhere.
pub const SECRET_PREFIX: &str = "whsec_";

/// Header names, branded (`svix-*`, what Clerk sends) first, unbranded (`webhook-*`) second.
pub mod headers {
    /// The message id: unique per message, the same on every retry.
    pub const SVIX_ID: &str = "svix-id";
    /// Seconds since the Unix epoch, as ASCII decimal.
    pub const SVIX_TIMESTAMP: &str = "svix-timestamp";
    /// Space-separated `v1,<base64>` signatures.
    pub const SVIX_SIGNATURE: &str = "svix-signature";
    /// Standard Webhooks name for [`SVIX_ID`].
    pub const WEBHOOK_ID: &str = "webhook-id";
    /// Standard Webhooks name for [`SVIX_TIMESTAMP`].
    pub const WEBHOOK_TIMESTAMP: &str = "webhook-timestamp";
    /// Standard Webhooks name for [`SVIX_SIGNATURE`].
    pub const WEBHOOK_SIGNATURE: &str = "webhook-signature";
}

/// Svix pads its base64, Python's SDK tolerates missing padding; accept both so that a secret
/// pasted without its trailing `=` still works.
const LENIENT_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// A signing secret that could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    /// The list of secrets was empty.
    #[error(
        "no webhook signing secret was given: copy the endpoint's signing secret (`whsec_...`) from the \
         provider's dashboard (Clerk: Webhooks → your endpoint → Signing Secret)"
    )]
    NoSecrets,
    /// A secret was empty, or only the `whsec_` prefix.
    #[error(
        "webhook signing secret #{position} is empty: copy the whole `whsec_...` value from the provider's \
         dashboard"
    )]
    Empty {
        /// The secret's position in the list, from 1.
        position: usize,
    },
    /// The part after `whsec_` is not standard base64.
    #[error(
        "webhook signing secret #{position} is not valid base64 after the `whsec_` prefix ({source}): copy it \
         again from the provider's dashboard; it looks like `whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw`"
    )]
    InvalidBase64 {
        /// The secret's position in the list, from 1.
        position: usize,
        /// What the base64 decoder found.
        #[source]
        source: base64::DecodeError,
    },
}

/// Why a webhook was not accepted. Every message says what was wrong and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// One or more of the id, timestamp and signature headers are absent or empty.
    #[error(
        "missing webhook header(s) {}: a Svix / Standard Webhooks sender always sends `svix-id`, \
         `svix-timestamp` and `svix-signature` (or `webhook-id`, `webhook-timestamp`, `webhook-signature`); \
         point the provider at this URL and make sure no proxy strips these headers",
        list(names)
    )]
    MissingHeaders {
        /// The missing headers, by their `svix-*` names.
        names: Vec<&'static str>,
    },
    /// A header is not visible ASCII text.
    #[error("header `{name}` is not visible ASCII text: forward the provider's headers unchanged")]
    InvalidHeader {
        /// The header's name.
        name: &'static str,
    },
    /// The timestamp header is not an integer.
    #[error(
        "header `{name}` is not a whole number of seconds since the Unix epoch (got `{value}`): send the \
         timestamp the provider signed, unchanged"
    )]
    InvalidTimestamp {
        /// The header's name.
        name: &'static str,
        /// What it held (lossy if it was not text).
        value: String,
    },
    /// The message is older than the tolerance allows (a replay, or a slow clock here).
    #[error(
        "the message timestamp is {age_secs} s old, more than the {tolerance_secs} s allowed: an old message \
         cannot be replayed as is (re-send it from the provider's dashboard, which signs it afresh); if it was \
         just sent, check this server's clock"
    )]
    TooOld {
        /// How many seconds before now the message was signed.
        age_secs: i64,
        /// The allowed difference, in seconds.
        tolerance_secs: i64,
    },
    /// The message is further in the future than the tolerance allows (a clock is wrong).
    #[error(
        "the message timestamp is {ahead_secs} s in the future, more than the {tolerance_secs} s allowed: \
         check this server's clock and the sender's"
    )]
    InFuture {
        /// How many seconds after now the message claims to have been signed.
        ahead_secs: i64,
        /// The allowed difference, in seconds.
        tolerance_secs: i64,
    },
    /// The signature header holds no `v1,<base64>` entry.
    #[error(
        "header `{name}` holds no `v1,<base64>` signature: only HMAC-SHA256 (`v1`) signatures are supported; \
         send the header exactly as the provider produced it"
    )]
    NoV1Signature {
        /// The header's name.
        name: &'static str,
    },
    /// No `v1` signature matched any of the secrets.
    #[error(
        "no signature matched ({signatures} `v1` signature(s) checked against {secrets} secret(s)): either the \
         signing secret is not this endpoint's (copy it again from the provider's dashboard; Clerk: Webhooks → \
         your endpoint → Signing Secret) or the body was changed on the way (sign and verify the raw bytes, \
         never re-serialised JSON)"
    )]
    NoMatch {
        /// How many `v1` entries the header held.
        signatures: usize,
        /// How many secrets were tried.
        secrets: usize,
    },
}

fn list(names: &[&str]) -> String {
    names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
}

/// A message whose signature and timestamp checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedMessage {
    /// The `svix-id`: unique per message and stable across retries, so it is the idempotency key.
    pub id: String,
    /// The signed `svix-timestamp`, in seconds since the Unix epoch.
    pub timestamp: i64,
}

/// One decoded signing key, ready to MAC with.
#[derive(Clone)]
pub struct Secret {
    mac: Hmac<Sha256>,
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl Secret {
    /// Decodes a secret as shown in a dashboard: `whsec_` (optional) followed by base64.
    pub fn parse(secret: &str) -> Result<Self, SecretError> {
        Self::parse_at(secret, 1)
    }

    fn parse_at(secret: &str, position: usize) -> Result<Self, SecretError> {
        let trimmed = secret.trim();
        let encoded = trimmed.strip_prefix(SECRET_PREFIX).unwrap_or(trimmed);
        if encoded.is_empty() {
            return Err(SecretError::Empty { position });
        }
        let key = LENIENT_BASE64.decode(encoded).map_err(|source| SecretError::InvalidBase64 { position, source })?;
        Self::from_key(&key).ok_or(SecretError::Empty { position })
    }

    /// Uses raw key bytes (no base64), for providers that hand out binary keys.
    pub fn from_bytes(key: &[u8]) -> Result<Self, SecretError> {
        Self::from_key(key).ok_or(SecretError::Empty { position: 1 })
    }

    fn from_key(key: &[u8]) -> Option<Self> {
        if key.is_empty() {
            return None;
        }
        // HMAC accepts keys of any length, so this only fails on the empty key refused above.
        Hmac::<Sha256>::new_from_slice(key).ok().map(|mac| Secret { mac })
    }

    /// A fresh random secret in Svix's format: `whsec_` + base64 of 24 random bytes.
    pub fn generate() -> String {
        let key: [u8; 24] = rand::random();
        format!("{SECRET_PREFIX}{}", base64::engine::general_purpose::STANDARD.encode(key))
    }

    /// The signature header value Svix would send: `v1,<base64 HMAC-SHA256>`.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        format!("v1,{}", self.signature(id, timestamp, body))
    }

    fn signature(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let mut mac = self.mac.clone();
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    }
}

/// Signs a message as Svix would and returns the `svix-signature` value (`v1,<base64>`).
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> Result<String, SecretError> {
    Ok(Secret::parse(secret)?.sign(id, timestamp, body))
}

/// Checks Svix / Standard Webhooks signatures against one or more secrets.
///
/// Several secrets serve a rotation: during it the sender signs with old and new secrets and a
/// message is accepted if any `v1` signature matches any secret.
#[derive(Clone)]
pub struct Verifier {
    secrets: Vec<Secret>,
    tolerance_secs: i64,
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("secrets", &format_args!("{} (redacted)", self.secrets.len()))
            .field("tolerance_secs", &self.tolerance_secs)
            .finish()
    }
}

impl Verifier {
    /// A verifier for these secrets (`whsec_` prefix optional), with the default 5-minute tolerance.
    pub fn new<I>(secrets: I) -> Result<Self, SecretError>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        let secrets = secrets
            .into_iter()
            .enumerate()
            .map(|(i, s)| Secret::parse_at(s.as_ref(), i + 1))
            .collect::<Result<Vec<_>, _>>()?;
        Self::from_secrets(secrets)
    }

    /// A verifier for already decoded secrets.
    pub fn from_secrets(secrets: Vec<Secret>) -> Result<Self, SecretError> {
        if secrets.is_empty() {
            return Err(SecretError::NoSecrets);
        }
        Ok(Verifier { secrets, tolerance_secs: DEFAULT_TOLERANCE.as_secs() as i64 })
    }

    /// Changes how far the message timestamp may be from now, either way.
    #[must_use]
    pub fn with_tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance_secs = i64::try_from(tolerance.as_secs()).unwrap_or(i64::MAX);
        self
    }

    /// How far the message timestamp may be from now, either way.
    pub fn tolerance(&self) -> Duration {
        Duration::from_secs(self.tolerance_secs.unsigned_abs())
    }

    /// Verifies a message received at `now`.
    pub fn verify(&self, headers: &HeaderMap, body: &[u8], now: SystemTime) -> Result<VerifiedMessage, VerifyError> {
        self.verify_at(headers, body, unix_seconds(now))
    }

    /// Verifies a message received at `now_secs` seconds since the Unix epoch.
    pub fn verify_at(&self, headers: &HeaderMap, body: &[u8], now_secs: i64) -> Result<VerifiedMessage, VerifyError> {
        self.check(headers, body, Some(now_secs))
    }

    /// Verifies the signature only, whatever the timestamp; for re-checking stored messages.
    pub fn verify_ignoring_timestamp(&self, headers: &HeaderMap, body: &[u8]) -> Result<VerifiedMessage, VerifyError> {
        self.check(headers, body, None)
    }

    fn check(&self, headers: &HeaderMap, body: &[u8], now_secs: Option<i64>) -> Result<VerifiedMessage, VerifyError> {
        let parts = HeaderParts::read(headers)?;
        let timestamp = parse_timestamp(parts.timestamp_name, parts.timestamp)?;
        if let Some(now) = now_secs {
            self.check_tolerance(timestamp, now)?;
        }

        let candidates: Vec<&str> = parts
            .signatures
            .iter()
            .flat_map(|value| value.split_ascii_whitespace())
            .filter_map(|entry| entry.split_once(','))
            .filter(|(version, _)| *version == "v1")
            .map(|(_, signature)| signature)
            .collect();
        if candidates.is_empty() {
            return Err(VerifyError::NoV1Signature { name: parts.signature_name });
        }

        // Every candidate is compared with every secret, without stopping at the first match,
        // so the time taken does not depend on which one matched.
        let mut matched = subtle::Choice::from(0);
        for secret in &self.secrets {
            let expected = secret.signature(parts.id, timestamp, body);
            for candidate in &candidates {
                matched |= candidate.as_bytes().ct_eq(expected.as_bytes());
            }
        }
        if bool::from(matched) {
            Ok(VerifiedMessage { id: parts.id.to_owned(), timestamp })
        } else {
            Err(VerifyError::NoMatch { signatures: candidates.len(), secrets: self.secrets.len() })
        }
    }

    fn check_tolerance(&self, timestamp: i64, now: i64) -> Result<(), VerifyError> {
        let tolerance = i128::from(self.tolerance_secs);
        let diff = i128::from(now) - i128::from(timestamp);
        let clamp = |v: i128| i64::try_from(v).unwrap_or(i64::MAX);
        if diff > tolerance {
            Err(VerifyError::TooOld { age_secs: clamp(diff), tolerance_secs: self.tolerance_secs })
        } else if -diff > tolerance {
            Err(VerifyError::InFuture { ahead_secs: clamp(-diff), tolerance_secs: self.tolerance_secs })
        } else {
            Ok(())
        }
    }
}

/// Seconds since the Unix epoch, negative before it.
pub(crate) fn unix_seconds(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => i64::try_from(e.duration().as_secs()).map(|s| -s).unwrap_or(i64::MIN),
    }
}

struct HeaderParts<'a> {
    id: &'a str,
    timestamp: &'a str,
    timestamp_name: &'static str,
    signatures: Vec<&'a str>,
    signature_name: &'static str,
}

impl<'a> HeaderParts<'a> {
    fn read(map: &'a HeaderMap) -> Result<Self, VerifyError> {
        use headers::*;
        let id = first(map, SVIX_ID, WEBHOOK_ID)?;
        let timestamp = first(map, SVIX_TIMESTAMP, WEBHOOK_TIMESTAMP)?;
        let signatures = all(map, SVIX_SIGNATURE, WEBHOOK_SIGNATURE)?;
        let mut missing = Vec::new();
        if id.is_none() {
            missing.push(SVIX_ID);
        }
        if timestamp.is_none() {
            missing.push(SVIX_TIMESTAMP);
        }
        if signatures.is_none() {
            missing.push(SVIX_SIGNATURE);
        }
        match (id, timestamp, signatures) {
            (Some((id, _)), Some((timestamp, timestamp_name)), Some((signatures, signature_name))) => {
                Ok(HeaderParts { id, timestamp, timestamp_name, signatures, signature_name })
            }
            _ => Err(VerifyError::MissingHeaders { names: missing }),
        }
    }
}

fn text<'a>(value: &'a HeaderValue, name: &'static str) -> Result<&'a str, VerifyError> {
    value.to_str().map(str::trim).map_err(|_| VerifyError::InvalidHeader { name })
}

/// The first non-empty value of the branded header, else of the unbranded one.
fn first<'a>(
    map: &'a HeaderMap,
    branded: &'static str,
    unbranded: &'static str,
) -> Result<Option<(&'a str, &'static str)>, VerifyError> {
    for name in [branded, unbranded] {
        if let Some(value) = map.get(name) {
            let value = text(value, name)?;
            if !value.is_empty() {
                return Ok(Some((value, name)));
            }
        }
    }
    Ok(None)
}

/// Every non-empty value of the branded header, else of the unbranded one (a proxy may split
/// one signature header into several).
fn all<'a>(
    map: &'a HeaderMap,
    branded: &'static str,
    unbranded: &'static str,
) -> Result<Option<(Vec<&'a str>, &'static str)>, VerifyError> {
    for name in [branded, unbranded] {
        let mut values = Vec::new();
        for value in map.get_all(name) {
            let value = text(value, name)?;
            if !value.is_empty() {
                values.push(value);
            }
        }
        if !values.is_empty() {
            return Ok(Some((values, name)));
        }
    }
    Ok(None)
}

fn parse_timestamp(name: &'static str, value: &str) -> Result<i64, VerifyError> {
    let digits = value.strip_prefix('-').unwrap_or(value);
    // `i64::from_str` would also take a leading `+`; the sender never writes one.
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(VerifyError::InvalidTimestamp { name, value: value.to_owned() });
    }
    value.parse::<i64>().map_err(|_| VerifyError::InvalidTimestamp { name, value: value.to_owned() })
}
