//! `email.created` and `sms.created` payloads: messages Clerk sent, or was asked to send.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::field::Field;

/// An email Clerk sent or queued: the payload of `email.created`.
///
/// When you send Clerk's emails yourself (`delivered_by_clerk: false`), this has everything
/// needed: the rendered `subject` and `body`, and the template variables in `data`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Email {
    /// The email id, `ema_...`.
    pub id: String,
    /// Always `email`.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub object: Field<Option<String>>,
    /// The template, e.g. `verification_code`, `magic_link_sign_in`.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub slug: Field<Option<String>>,
    /// The sender's local part, e.g. `notifications`.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub from_email_name: Field<Option<String>>,
    /// The reply-to local part.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub reply_to_email_name: Field<Option<String>>,
    /// The recipient.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub to_email_address: Field<Option<String>>,
    /// The recipient's email address id, when it belongs to a user.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub email_address_id: Field<Option<String>>,
    /// The recipient user, when there is one.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub user_id: Field<Option<String>>,
    /// Rendered subject.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub subject: Field<Option<String>>,
    /// Rendered HTML body.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub body: Field<Option<String>>,
    /// Rendered plain-text body.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub body_plain: Field<Option<String>>,
    /// Delivery status, e.g. `queued`.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub status: Field<Option<String>>,
    /// The template variables (`app`, `otp_code`, `theme`, `user`, ...): free-form JSON.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub data: Field<Value>,
    /// Whether Clerk delivers it (false when you deliver Clerk's emails yourself).
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub delivered_by_clerk: Field<Option<bool>>,
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
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub object: Field<Option<String>>,
    /// The template, e.g. `verification_code`.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub slug: Field<Option<String>>,
    /// The sending number.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub from_phone_number: Field<Option<String>>,
    /// The recipient.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub to_phone_number: Field<Option<String>>,
    /// The recipient's phone number id, when it belongs to a user.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub phone_number_id: Field<Option<String>>,
    /// The recipient user, when there is one.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub user_id: Field<Option<String>>,
    /// The rendered text.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub message: Field<Option<String>>,
    /// Delivery status, e.g. `queued`.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub status: Field<Option<String>>,
    /// The template variables: free-form JSON.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub data: Field<Value>,
    /// Whether Clerk delivers it.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub delivered_by_clerk: Field<Option<bool>>,
    /// When it was created (ms since the epoch); Clerk's example sends this name.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub created_at: Field<Option<i64>>,
    /// When it was created (ms since the epoch); Clerk's schema names the field this way.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub created_at_ms: Field<Option<i64>>,
    /// Fields this version of hookflow does not model, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
