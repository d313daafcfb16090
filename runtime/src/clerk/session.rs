//! `session.*` payloads.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::common::string_enum;
use super::field::Field;
use super::user::User;

string_enum! {
    /// The state of a [`Session`].
    pub enum SessionStatus {
        /// Signed in.
        Active = "active",
        /// Waiting for the user to finish a required task (`session.pending`).
        Pending = "pending",
        /// Revoked by an administrator or the Backend API.
        Revoked = "revoked",
        /// The user signed out.
        Ended = "ended",
        /// Its lifetime ran out.
        Expired = "expired",
        /// Removed from its client.
        Removed = "removed",
        /// Inactive for too long.
        Abandoned = "abandoned",
        /// Replaced by a newer session on the same client.
        Replaced = "replaced",
    }
}

/// A session: the payload of every `session.*` event.
///
/// Clerk attaches the session's `user` since late 2025; older payloads only have `user_id`.
///
/// ```
/// # use hookflow::clerk::{Session, SessionStatus};
/// let session: Session = serde_json::from_value(serde_json::json!({
///     "id": "sess_1", "client_id": "client_1", "user_id": "user_1", "status": "active",
///     "last_active_at": 1, "expire_at": 2, "abandon_at": 3, "created_at": 1, "updated_at": 1,
/// }))?;
/// assert_eq!(session.status, SessionStatus::Active);
/// assert!(session.user.is_none());
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    /// The session id, `sess_...`.
    pub id: String,
    /// Always `session`.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub object: Field<Option<String>>,
    /// The client (browser or device) the session lives on.
    pub client_id: String,
    /// The signed-in user.
    pub user_id: String,
    /// The session's state.
    pub status: SessionStatus,
    /// The organization the user last had active in this session.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub last_active_organization_id: Field<Option<String>>,
    /// Impersonation claims when an administrator acts as the user (free-form JSON; null otherwise).
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub actor: Field<Value>,
    /// Where and on what the session was last used.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub latest_activity: Field<Option<SessionActivity>>,
    /// Last activity (ms since the epoch).
    pub last_active_at: i64,
    /// When the session expires (ms since the epoch).
    pub expire_at: i64,
    /// When the session is abandoned if unused (ms since the epoch).
    pub abandon_at: i64,
    /// When the session was created (ms since the epoch).
    pub created_at: i64,
    /// When the session last changed (ms since the epoch).
    pub updated_at: i64,
    /// The signed-in user, when Clerk includes it.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub user: Field<Option<User>>,
    /// Fields this version of hookflow does not model, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Where and on what a session was last used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionActivity {
    /// The activity id.
    pub id: String,
    /// Always `session_activity`.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub object: Field<Option<String>>,
    /// Whether the device is a phone or tablet.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub is_mobile: Field<Option<bool>>,
    /// e.g. `desktop`, `iPhone`.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub device_type: Field<Option<String>>,
    /// e.g. `Chrome`.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub browser_name: Field<Option<String>>,
    /// e.g. `128.0.0.0`.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub browser_version: Field<Option<String>>,
    /// The client's IP address.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub ip_address: Field<Option<String>>,
    /// City, from the IP address.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub city: Field<Option<String>>,
    /// Country code, from the IP address.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub country: Field<Option<String>>,
    /// Fields this version of hookflow does not model, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
