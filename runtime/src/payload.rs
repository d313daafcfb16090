//! An event's payload: JSON that stays the text it arrived as until something reads it.
//!
//! Most payloads travel from the wire to the store and are never looked inside (a webhook no
//! function listens to, an event listed in the dev UI). Building a `serde_json::Value` tree for
//! each cost a fifth of the ingress CPU, so a payload keeps its text and builds the tree on the
//! first read. Functions type it straight from the text, which is cheaper than from a tree.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::OnceLock;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;
use serde_json::Value;

/// An event's `data`: any JSON value.
///
/// It reads as a [`serde_json::Value`] (through `Deref`), converts from one, and serializes
/// as the JSON it holds. A payload that arrived as text (a webhook body, a stored row) keeps
/// that text, byte for byte, until it is changed.
///
/// ```
/// # use hookflow::Payload;
/// let payload = Payload::from_json(r#"{"id": "user_1", "plan": "pro"}"#)?;
/// assert_eq!(payload["plan"], "pro");
/// assert_eq!(payload.to_json_string(), r#"{"id": "user_1", "plan": "pro"}"#);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Default)]
pub struct Payload {
    /// The text as received, while the payload is unchanged since.
    text: Option<Box<RawValue>>,
    /// The tree: set from the start for a payload made from a `Value`, on first read otherwise.
    tree: OnceLock<Value>,
}

impl Payload {
    /// A payload from JSON text, checked to be valid JSON that a `serde_json::Value` can hold
    /// (no number beyond `f64`'s range, nesting within serde_json's limit).
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        Self::from_json_string(text.to_owned())
    }

    /// [`Payload::from_json`] without copying the text.
    pub fn from_json_string(text: String) -> Result<Self, serde_json::Error> {
        Self::from_raw(RawValue::from_string(text)?)
    }

    /// A payload from text that serde_json has checked as JSON syntax. Syntax alone admits
    /// `1e400`, 200 levels of nesting or a lone surrogate escape (`"\ud800"`), which no tree
    /// can hold; a quick scan finds the texts that might be such, and only those are parsed
    /// whole now (keeping the tree).
    pub(crate) fn from_raw(text: Box<RawValue>) -> Result<Self, serde_json::Error> {
        let tree = if may_exceed_a_tree(text.get()) {
            OnceLock::from(serde_json::from_str::<Value>(text.get())?)
        } else {
            OnceLock::new()
        };
        Ok(Payload { text: Some(text), tree })
    }

    /// A payload from text a store kept. It was checked on its way in, so this is
    /// [`Payload::from_json_string`]; but text stored before a check existed must not make
    /// every read of the store fail: a lone surrogate escape (once let through) reads as
    /// `\ufffd`, the replacement character, and text that fits no tree even so (a damaged
    /// row) reads as `null`.
    #[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
    pub(crate) fn from_stored(text: String) -> Self {
        let raw = match RawValue::from_string(text) {
            Ok(raw) => raw,
            Err(error) => {
                tracing::warn!(%error, "a stored event payload is not JSON; it reads as null");
                return Payload::default();
            }
        };
        if !may_exceed_a_tree(raw.get()) {
            return Payload { text: Some(raw), tree: OnceLock::new() };
        }
        match serde_json::from_str::<Value>(raw.get()) {
            Ok(tree) => Payload { text: Some(raw), tree: OnceLock::from(tree) },
            Err(error) => {
                tracing::warn!(%error, "a stored event payload fits no JSON tree; lone surrogates read as U+FFFD");
                Payload::from_json_string(replace_lone_surrogates(raw.get())).unwrap_or_default()
            }
        }
    }

    /// The JSON tree, taking the payload apart.
    pub fn into_value(self) -> Value {
        match self.tree.into_inner() {
            Some(tree) => tree,
            None => self.text.as_deref().map_or(Value::Null, parse),
        }
    }

    /// The payload as JSON text: the text it arrived as when it is unchanged.
    pub fn to_json_string(&self) -> String {
        self.to_string()
    }

    /// The payload as a `T`, read from its text when it has one (no tree is built).
    pub fn typed<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        match (self.tree.get(), &self.text) {
            (Some(tree), _) => T::deserialize(tree),
            (None, Some(text)) => serde_json::from_str(text.get()),
            (None, None) => T::deserialize(&Value::Null),
        }
    }

    /// Whether the payload nests arrays and objects more than [`MAX_NESTING`] levels deep. A
    /// payload holding text and no tree does not (its scan would have built the tree), so only
    /// a tree is walked.
    pub(crate) fn nests_too_deep(&self) -> bool {
        self.tree.get().is_some_and(|tree| deeper_than(tree, MAX_NESTING))
    }

    /// Whether the payload still holds the text it was made from (it has not been changed).
    pub fn has_text(&self) -> bool {
        self.text.is_some()
    }

    /// What kind of JSON value it is ("an object", "a string", ...), read from the first
    /// character of its text when it has one, so that no tree is built.
    pub fn json_kind(&self) -> &'static str {
        match (self.tree.get(), &self.text) {
            (Some(tree), _) => json_kind(tree),
            (None, Some(text)) => match text.get().trim_start().as_bytes().first() {
                Some(b'{') => "an object",
                Some(b'[') => "an array",
                Some(b'"') => "a string",
                Some(b't' | b'f') => "a boolean",
                Some(b'n') => "null",
                _ => "a number",
            },
            (None, None) => "null",
        }
    }
}

/// The deepest nesting of arrays and objects [`Payload::nests_too_deep`] lets through. Answers
/// wrap an event's `data` in a few more levels (`{"events": [{"data": ...}]}`), and strict
/// JSON readers (serde_json, and so `hookflow events pull`) stop at 128: 100 leaves room.
pub(crate) const MAX_NESTING: usize = 100;

/// Whether a tree nests arrays and objects more than `limit` levels deep (`[]` is one level).
/// The recursion stops at `limit`, so a tree made in code of any depth cannot overflow it.
fn deeper_than(value: &Value, limit: usize) -> bool {
    match value {
        Value::Array(items) => limit == 0 || items.iter().any(|item| deeper_than(item, limit - 1)),
        Value::Object(fields) => limit == 0 || fields.values().any(|field| deeper_than(field, limit - 1)),
        _ => false,
    }
}

/// Text in a payload was checked to fit a tree when the payload was made (see
/// [`Payload::from_raw`]), so this does not fail.
fn parse(text: &RawValue) -> Value {
    serde_json::from_str(text.get()).unwrap_or(Value::Null)
}

/// Whether JSON text might hold a number beyond `f64`'s range, nest deeper than serde_json
/// parses (128) or hold a string no Rust `String` can (a `\uD800`-`\uDFFF` escape that is not
/// half of a pair): it has an exponent, a run of 300 digits, more than [`MAX_NESTING`] levels
/// of nesting outside strings, or a surrogate escape. False means a tree can certainly be
/// built from it, and that it nests at most [`MAX_NESTING`] levels.
fn may_exceed_a_tree(text: &str) -> bool {
    let bytes = text.as_bytes();
    let (mut at, mut depth, mut digits, mut previous) = (0usize, 0usize, 0usize, 0u8);
    while let Some(&byte) = bytes.get(at) {
        at += 1;
        match byte {
            // Strings are most of a payload: jump to their closing quote.
            b'"' => loop {
                let Some(rest) = bytes.get(at..) else { return true };
                match memchr::memchr2(b'"', b'\\', rest) {
                    Some(found) if rest[found] == b'\\' => {
                        if is_surrogate_escape(&rest[found + 1..]) {
                            return true;
                        }
                        at += found + 2;
                    }
                    Some(found) => {
                        at += found + 1;
                        break;
                    }
                    None => return true,
                }
            },
            b'{' | b'[' => depth += 1,
            b'}' | b']' => depth = depth.saturating_sub(1),
            b'e' | b'E' if previous.is_ascii_digit() || previous == b'.' => return true,
            _ => {}
        }
        digits = if byte.is_ascii_digit() { digits + 1 } else { 0 };
        if depth > MAX_NESTING || digits >= 300 {
            return true;
        }
        previous = byte;
    }
    false
}

/// Whether an escape (the text after its backslash) is `\uD800`..`\uDFFF`: half of a
/// surrogate pair, which serde_json's syntax check lets through alone.
fn is_surrogate_escape(escape: &[u8]) -> bool {
    matches!(escape, [b'u', b'd' | b'D', b'8'..=b'9' | b'a'..=b'f' | b'A'..=b'F', ..])
}

/// JSON text with each `\uD800`..`\uDFFF` escape that is not half of a pair replaced by
/// `\ufffd`. The text is JSON syntax, so every backslash starts a well-formed escape.
#[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
fn replace_lone_surrogates(text: &str) -> String {
    let hex = |at: usize| text.get(at..at + 4).and_then(|h| u16::from_str_radix(h, 16).ok());
    let mut out = String::with_capacity(text.len());
    let (mut copied, mut at) = (0, 0);
    while let Some(found) = text.get(at..).and_then(|rest| rest.find('\\')) {
        let escape = at + found;
        match (text.as_bytes().get(escape + 1), hex(escape + 2)) {
            // A pair: one character, kept.
            (Some(b'u'), Some(0xD800..=0xDBFF))
                if text.get(escape + 6..escape + 8) == Some("\\u")
                    && matches!(hex(escape + 8), Some(0xDC00..=0xDFFF)) =>
            {
                at = escape + 12;
            }
            (Some(b'u'), Some(0xD800..=0xDFFF)) => {
                out.push_str(&text[copied..escape]);
                out.push_str("\\ufffd");
                at = escape + 6;
                copied = at;
            }
            _ => at = escape + 2,
        }
    }
    out.push_str(&text[copied..]);
    out
}

impl From<Value> for Payload {
    fn from(tree: Value) -> Self {
        Payload { text: None, tree: OnceLock::from(tree) }
    }
}

impl From<Payload> for Value {
    fn from(payload: Payload) -> Self {
        payload.into_value()
    }
}

impl Deref for Payload {
    type Target = Value;

    fn deref(&self) -> &Value {
        self.tree.get_or_init(|| self.text.as_deref().map_or(Value::Null, parse))
    }
}

impl DerefMut for Payload {
    /// Builds the tree if needed and drops the text, which would no longer match it.
    fn deref_mut(&mut self) -> &mut Value {
        if self.tree.get().is_none() {
            self.tree = OnceLock::from(self.text.as_deref().map_or(Value::Null, parse));
        }
        self.text = None;
        match self.tree.get_mut() {
            Some(tree) => tree,
            None => unreachable!("the tree was set just above"),
        }
    }
}

impl PartialEq for Payload {
    fn eq(&self, other: &Self) -> bool {
        match (&self.text, &other.text) {
            (Some(a), Some(b)) if a.get() == b.get() => true,
            _ => **self == **other,
        }
    }
}

impl PartialEq<Value> for Payload {
    fn eq(&self, other: &Value) -> bool {
        **self == *other
    }
}

impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl fmt::Display for Payload {
    /// The payload as JSON text.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.text {
            Some(text) => f.write_str(text.get()),
            None => fmt::Display::fmt(&**self, f),
        }
    }
}

impl Serialize for Payload {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match &self.text {
            Some(text) => text.serialize(serializer),
            None => (**self).serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for Payload {
    /// Into a tree: the text is kept only where hookflow reads it itself (webhooks, stores),
    /// since not every deserializer can hand out raw JSON.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Value::deserialize(deserializer).map(Payload::from)
    }
}

/// "an object", "a string", ...: for messages about a JSON value of the wrong kind.
pub(crate) fn json_kind(value: &serde_json::Value) -> &'static str {
    use serde_json::Value;
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const TEXT: &str = r#"{"b": 1, "a": [true, null, "x"], "n": 1.5}"#;

    #[test]
    fn text_is_kept_byte_for_byte_until_changed() {
        let mut payload = Payload::from_json(TEXT).unwrap();
        assert_eq!(payload.to_json_string(), TEXT);
        assert_eq!(serde_json::to_string(&payload).unwrap(), TEXT);
        assert_eq!(payload.to_string(), TEXT);
        assert_eq!(payload["a"][2], "x", "reads as a tree");
        assert!(payload.has_text(), "reading keeps the text");
        payload["b"] = json!(2);
        assert!(!payload.has_text(), "changing it drops the text");
        assert_eq!(payload.to_json_string(), r#"{"b":2,"a":[true,null,"x"],"n":1.5}"#);
    }

    #[test]
    fn text_and_tree_payloads_agree() {
        let from_text = Payload::from_json(TEXT).unwrap();
        let from_tree = Payload::from(serde_json::from_str::<Value>(TEXT).unwrap());
        assert_eq!(from_text, from_tree);
        assert_eq!(from_text.typed::<Value>().unwrap(), from_tree.typed::<Value>().unwrap());
        assert_eq!(from_text.clone().into_value(), from_tree.clone().into_value());
        assert_eq!(serde_json::to_value(&from_text).unwrap(), serde_json::to_value(&from_tree).unwrap());
        assert_ne!(from_text, Payload::from(json!({"b": 1})));
    }

    #[test]
    fn invalid_text_is_refused() {
        assert!(Payload::from_json("{").is_err());
        assert!(Payload::from_json("").is_err());
        assert!(Payload::from_json("[1] 2").is_err());
    }

    #[test]
    fn text_no_tree_can_hold_is_refused() {
        for text in [r#"{"n": 1e400}"#, r#"[-1.5E+999]"#, &format!("[{}]", "9".repeat(400))] {
            let error = Payload::from_json(text).expect_err(text);
            assert!(error.to_string().contains("number out of range"), "{text}: {error}");
        }
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        assert!(Payload::from_json(&deep).expect_err("too deep").to_string().contains("recursion limit"));
        // What only looks like it might be is still accepted.
        for text in [r#"{"e1e9": "1e999", "t": true, "f": false, "n": 1.5e3}"#, &format!("[{}]", "9".repeat(299))] {
            assert!(Payload::from_json(text).is_ok(), "{text}");
        }
        let nested = format!("{}{}", "[".repeat(120), "]".repeat(120));
        assert!(Payload::from_json(&nested).is_ok(), "within serde_json's limit of 128");
    }

    #[test]
    fn lone_surrogate_escapes_are_refused_and_pairs_kept() {
        for text in [r#"{"a": "\ud800"}"#, r#"["x\uDFFF"]"#, r#"{"a": "\udc00\ud800"}"#, r#"{"\uD83D": 1}"#] {
            let error = Payload::from_json(text).expect_err(text).to_string();
            assert!(error.contains("surrogate") || error.contains("hex escape"), "{text}: {error}");
        }
        let pair = Payload::from_json(r#"{"smile": "\ud83d\ude00", "e": "\u00e9"}"#).expect("a pair is one character");
        assert_eq!(pair["smile"], "\u{1F600}");
        assert!(pair.has_text(), "the text is kept");
        assert!(!may_exceed_a_tree(r#"{"a": "\u00e9 \\ud800"}"#), "an escaped backslash is not an escape");
    }

    #[test]
    fn the_scan_flags_every_text_a_tree_cannot_hold() {
        assert!(may_exceed_a_tree("1e400"));
        assert!(may_exceed_a_tree(r#"{"a": "\"", "b": 2E9}"#), "an escaped quote does not end the scan of a string");
        assert!(!may_exceed_a_tree(r#"{"a": "1e400 \" 2e9", "b": [true, false, null]}"#));
        assert!(!may_exceed_a_tree(&"[1,".repeat(50)));
    }

    #[test]
    fn stored_text_always_reads() {
        let repaired = Payload::from_stored(r#"{"a": "\ud800", "pair": "\ud83d\ude00"}"#.to_owned());
        assert_eq!(*repaired, json!({"a": "\u{FFFD}", "pair": "\u{1F600}"}));
        assert_eq!(serde_json::to_value(&repaired).unwrap(), *repaired, "serializes as JSON a tree can hold");
        assert_eq!(*Payload::from_stored("{not json".to_owned()), Value::Null);
        assert_eq!(*Payload::from_stored(format!("{}{}", "[".repeat(200), "]".repeat(200))), Value::Null);
        assert_eq!(Payload::from_stored(TEXT.to_owned()), Payload::from_json(TEXT).unwrap());
        assert!(Payload::from_stored(TEXT.to_owned()).has_text());
        assert_eq!(Payload::from_stored(r#"{"n": 1e5}"#.to_owned())["n"], json!(1e5));
    }

    #[test]
    fn only_lone_surrogates_are_replaced() {
        for (text, repaired) in [
            (r#""\ud800""#, r#""\ufffd""#),
            (r#""x\uDC00y\ud800""#, r#""x\ufffdy\ufffd""#),
            (r#""\ud83d\ude00 \ud800\u0041""#, r#""\ud83d\ude00 \ufffd\u0041""#),
            (r#""\\ud800 \n \u00e9""#, r#""\\ud800 \n \u00e9""#),
            (r#"{"\ud800": 1}"#, r#"{"\ufffd": 1}"#),
        ] {
            assert_eq!(replace_lone_surrogates(text), repaired, "{text}");
            assert!(serde_json::from_str::<Value>(repaired).is_ok(), "{repaired}");
        }
    }

    #[test]
    fn the_kind_is_read_without_a_tree() {
        for (text, kind) in [
            ("{}", "an object"),
            (" [1]", "an array"),
            ("\"x\"", "a string"),
            ("true", "a boolean"),
            ("null", "null"),
            ("-1", "a number"),
        ] {
            let payload = Payload::from_json(text).unwrap();
            assert_eq!(payload.json_kind(), kind, "{text}");
            assert_eq!(json_kind(&payload), kind, "{text}: the tree agrees");
        }
        assert_eq!(Payload::default().json_kind(), "null");
        assert_eq!(Payload::from(json!({"a": 1})).json_kind(), "an object");
    }

    #[test]
    fn typed_reads_from_the_text_or_the_tree() {
        #[derive(Deserialize, PartialEq, Debug)]
        struct B {
            b: i32,
        }
        assert_eq!(Payload::from_json(TEXT).unwrap().typed::<B>().unwrap(), B { b: 1 });
        assert_eq!(Payload::from(json!({"b": 3})).typed::<B>().unwrap(), B { b: 3 });
        assert!(Payload::from_json("[]").unwrap().typed::<B>().is_err());
        assert_eq!(Payload::default().typed::<Option<B>>().unwrap(), None);
    }

    #[test]
    fn deserializes_as_a_tree_and_round_trips() {
        let payload: Payload = serde_json::from_str(TEXT).unwrap();
        assert!(!payload.has_text());
        assert_eq!(payload, Payload::from_json(TEXT).unwrap());
        let back: Payload = serde_json::from_value(serde_json::to_value(&payload).unwrap()).unwrap();
        assert_eq!(back, payload);
    }
}
