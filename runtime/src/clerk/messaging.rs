//! `email.created` and `sms.created` payloads: messages Clerk sent, or was asked to send.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// An email Clerk sent or queued: the payload of `email.created`.
///
/// When you send Clerk's emails yourself (`delivered_by_clerk: false`), this has everything
/// needed: the rendered `subject` and `body`, and the template variables in `data`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Email {
    /// The email id, `ema_...`.
    pub id: String,
    /// Always `email`.
    #[serde(default)]
    pub object: Option<String>,
    /// The template, e.g. `verification_code`, `magic_link_sign_in`.
    #[serde(default)]
    pub slug: Option<String>,
    /// The sender's local part, e.g. `notifications`.
    #[serde(default)]
    pub from_email_name: Option<String>,
    /// The reply-to local part.
    #[serde(default)]
    pub reply_to_email_name: Option<String>,
    /// The recipient.
    #[serde(default)]
    pub to_email_address: Option<String>,
    /// The recipient's email address id, when it belongs to a user.
    #[serde(default)]
    pub email_address_id: Option<String>,
    /// The recipient user, when there is one.
    #[serde(default)]
    pub user_id: Option<String>,
    /// Rendered subject.
    #[serde(default)]
    pub subject: Option<String>,
    /// Rendered HTML body.
    #[serde(default)]
    pub body: Option<String>,
    /// Rendered plain-text body.
    #[serde(default)]
    pub body_plain: Option<String>,
    /// Delivery status, e.g. `queued`.
    #[serde(default)]
    pub status: Option<String>,
    /// The template variables (`app`, `otp_code`, `theme`, `user`, ...): free-form JSON.
    #[serde(default)]
    pub data: Value,
    /// Whether Clerk delivers it (false when you deliver Clerk's emails yourself).
    #[serde(default)]
    pub delivered_by_clerk: Option<bool>,
    /// Fields this version of hookflow does not model, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An SMS Clerk sent or queued: the payload of `sms.created`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SmsMessage {
    /// The message id.
    pub id: String,
    /// Always `sms_message`.
    #[serde(default)]
    pub object: Option<String>,
    /// The template, e.g. `verification_code`.
    #[serde(default)]
    pub slug: Option<String>,
    /// The sending number.
    #[serde(default)]
    pub from_phone_number: Option<String>,
    /// The recipient.
    #[serde(default)]
    pub to_phone_number: Option<String>,
    /// The recipient's phone number id, when it belongs to a user.
    #[serde(default)]
    pub phone_number_id: Option<String>,
    /// The recipient user, when there is one.
    #[serde(default)]
    pub user_id: Option<String>,
    /// The rendered text.
    #[serde(default)]
    pub message: Option<String>,
    /// Delivery status, e.g. `queued`.
    #[serde(default)]
    pub status: Option<String>,
    /// The template variables: free-form JSON.
    #[serde(default)]
    pub data: Value,
    /// Whether Clerk delivers it.
    #[serde(default)]
    pub delivered_by_clerk: Option<bool>,
    /// When it was created (ms since the epoch); Clerk's example sends this name.
    #[serde(default)]
    pub created_at: Option<i64>,
    /// When it was created (ms since the epoch); Clerk's schema names the field this way.
    #[serde(default)]
    pub created_at_ms: Option<i64>,
    /// Fields this version of hookflow does not model, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
