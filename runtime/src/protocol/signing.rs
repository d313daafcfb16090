//! Inngest's request signing: `X-Inngest-Signature: t=<unix seconds>&s=<hex HMAC-SHA256>`, the
//! MAC taken over the body bytes followed by the decimal timestamp, keyed with the signing key
//! without its `signkey-<env>-` prefix (its text, not hex-decoded). Requests are verified with
//! the primary key, then the fallback (a rotation), within five minutes either way; responses
//! are signed with the key that verified the request. Calls to the server's API carry the
//! *hashed* key as a bearer token: the prefix kept, the rest replaced by the SHA-256 of its
//! hex-decoded bytes, so the key itself never travels.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// How far a signature's timestamp may be from now, either way.
pub const TOLERANCE_SECS: i64 = 5 * 60;

/// A signing key as configured (`signkey-prod-<hex>`, or bare hex as `inngest start` takes it).
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKey {
    full: String,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the key: the bearer form identifies it without giving it away.
        f.debug_tuple("SigningKey").field(&self.bearer()).finish()
    }
}

/// Why a signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No `X-Inngest-Signature` header.
    #[error("the request has no X-Inngest-Signature header, and this app is in cloud mode, where every request must be signed")]
    Missing,
    /// The header is not `t=...&s=...`.
    #[error("the X-Inngest-Signature header is not of the form `t=<unix seconds>&s=<hex>`")]
    Malformed,
    /// The timestamp is more than five minutes away.
    #[error("the signature's timestamp is more than 5 minutes from this machine's clock (is a clock wrong?)")]
    Expired,
    /// No configured key produces this MAC.
    #[error("the signature does not match this app's signing key (INNGEST_SIGNING_KEY) nor its fallback")]
    Mismatch,
}

impl SigningKey {
    /// A key from its configured text; `None` for an empty one.
    pub fn new(key: impl Into<String>) -> Option<SigningKey> {
        let full: String = key.into().trim().to_owned();
        (!full.is_empty()).then_some(SigningKey { full })
    }

    /// `signkey-prod-` (with the dash), or empty.
    fn prefix(&self) -> &str {
        prefix_len(&self.full).map_or("", |n| &self.full[..n])
    }

    /// The part after the prefix: the HMAC key's text.
    fn secret(&self) -> &str {
        &self.full[self.prefix().len()..]
    }

    /// `t=<t>&s=<mac>` for `body` at `t` (seconds).
    pub fn sign(&self, body: &[u8], t: i64) -> String {
        format!("t={t}&s={}", hex::encode(self.mac(body, t)))
    }

    fn mac(&self, body: &[u8], t: i64) -> Vec<u8> {
        // HMAC takes a key of any length: `new_from_slice` cannot fail.
        let mut mac = Hmac::<Sha256>::new_from_slice(self.secret().as_bytes()).unwrap_or_else(|_| unreachable!());
        mac.update(body);
        mac.update(t.to_string().as_bytes());
        mac.finalize().into_bytes().to_vec()
    }

    /// The bearer token for the server's API: the prefix, then the SHA-256 (hex) of the
    /// hex-decoded secret (of its text, for a secret that is not hex).
    pub fn bearer(&self) -> String {
        let secret = self.secret();
        let digest = match hex::decode(secret) {
            Ok(bytes) => Sha256::digest(bytes),
            Err(_) => Sha256::digest(secret.as_bytes()),
        };
        format!("{}{}", self.prefix(), hex::encode(digest))
    }
}

/// The length of a `signkey-<word>-` prefix at the start of `key`, if there is one.
fn prefix_len(key: &str) -> Option<usize> {
    let rest = key.strip_prefix("signkey-")?;
    let word = rest.find('-')?;
    let valid = word > 0 && rest[..word].chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    valid.then_some("signkey-".len() + word + 1)
}

/// Parses `t=...&s=...` into the timestamp and the MAC bytes.
fn parse(header: &str) -> Result<(i64, Vec<u8>), SignatureError> {
    let (mut t, mut s) = (None, None);
    for pair in header.trim().split('&') {
        match pair.split_once('=') {
            Some(("t", v)) => t = v.parse::<i64>().ok(),
            Some(("s", v)) => s = hex::decode(v).ok(),
            _ => {}
        }
    }
    match (t, s) {
        (Some(t), Some(s)) if s.len() == 32 => Ok((t, s)),
        _ => Err(SignatureError::Malformed),
    }
}

/// Checks `header` over `body` at `now` (seconds) against `keys` in order; answers the key that
/// matched. The comparison is constant-time.
pub fn verify<'k>(
    header: Option<&str>,
    body: &[u8],
    now: i64,
    keys: impl IntoIterator<Item = &'k SigningKey>,
) -> Result<&'k SigningKey, SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let (t, mac) = parse(header)?;
    if (now - t).abs() > TOLERANCE_SECS {
        return Err(SignatureError::Expired);
    }
    keys.into_iter().find(|key| bool::from(key.mac(body, t).ct_eq(&mac))).ok_or(SignatureError::Mismatch)
}

/// The SHA-256 (hex) of an event key, as introspection reports it.
pub fn event_key_hash(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "signkey-test-8ee2262a15e8d3c42d6a840db7af3de2aab08ef632b32a37a687f24b34dba3ff";
    const BODY: &[u8] = br#"{"ctx":{"attempt":0},"event":{"data":{},"name":"app/test"}}"#;

    fn key(k: &str) -> SigningKey {
        SigningKey::new(k).expect("key")
    }

    #[test]
    fn signs_as_inngest_does() {
        // Computed independently (Python's hmac) from the same key, body and timestamp.
        assert_eq!(
            key(KEY).sign(BODY, 1_700_000_000),
            "t=1700000000&s=0684191800bc1d620b528217863af4752e2d4e5f603f26cb4aed6b2a6bc65acd"
        );
        // The self-hosted server's bare hex key signs the same way.
        assert_eq!(key(&KEY["signkey-test-".len()..]).sign(BODY, 1_700_000_000), key(KEY).sign(BODY, 1_700_000_000));
    }

    #[test]
    fn the_bearer_token_hashes_the_decoded_key() {
        assert_eq!(
            key("signkey-prod-12345678").bearer(),
            "signkey-prod-b2ed992186a5cb19f6668aade821f502c1d00970dfd0e35128d51bac4649916c"
        );
        assert!(!format!("{:?}", key(KEY)).contains("8ee2262a"), "Debug never shows the key");
    }

    #[test]
    fn verifies_with_the_primary_or_the_fallback_key_within_five_minutes() {
        let (primary, fallback) = (key(KEY), key("signkey-test-00ff"));
        let t = 1_700_000_000;
        let by_fallback = fallback.sign(BODY, t);
        let keys = [primary.clone(), fallback.clone()];
        assert_eq!(verify(Some(&by_fallback), BODY, t + 10, &keys), Ok(&keys[1]));
        assert_eq!(verify(Some(&primary.sign(BODY, t)), BODY, t - 299, &keys), Ok(&keys[0]));
        assert_eq!(verify(Some(&primary.sign(BODY, t)), BODY, t + 301, &keys), Err(SignatureError::Expired));
        assert_eq!(verify(Some(&primary.sign(BODY, t)), BODY, t - 301, &keys), Err(SignatureError::Expired));
        assert_eq!(verify(Some(&primary.sign(b"other", t)), BODY, t, &keys), Err(SignatureError::Mismatch));
        assert_eq!(verify(Some(&by_fallback), BODY, t, &keys[..1]), Err(SignatureError::Mismatch));
        assert_eq!(verify(None, BODY, t, &keys), Err(SignatureError::Missing));
        for bad in ["", "t=1&s=zz", "s=00", "t=x&s=0684", "garbage"] {
            assert_eq!(verify(Some(bad), BODY, t, &keys), Err(SignatureError::Malformed), "{bad}");
        }
    }

    #[test]
    fn prefixes_are_words_between_dashes() {
        assert_eq!(prefix_len("signkey-prod-ab"), Some(13));
        assert_eq!(prefix_len("signkey-branch_1-ab"), Some(17));
        assert_eq!(prefix_len("signkey--ab"), None);
        assert_eq!(prefix_len("abcdef"), None);
        assert_eq!(key("abcd").secret(), "abcd");
    }
}
