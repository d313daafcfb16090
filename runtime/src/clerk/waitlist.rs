//! `waitlistEntry.*` payloads.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::common::string_enum;
use super::field::Field;
use super::organization::InvitationStatus;

string_enum! {
    /// The state of a [`WaitlistEntry`].
    pub enum WaitlistEntryStatus {
        /// Waiting.
        Pending = "pending",
        /// Sent an invitation.
        Invited = "invited",
        /// Signed up through the invitation.
        Completed = "completed",
        /// Turned down.
        Rejected = "rejected",
    }
}

/// Someone on the waitlist: the payload of `waitlistEntry.created` and `.updated`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WaitlistEntry {
    /// The entry id, `wle_...`.
    pub id: String,
    /// `waitlist_entry` per Clerk's schema; its example sends `waitlistEntry`.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub object: Field<Option<String>>,
    /// The address that joined.
    pub email_address: String,
    /// The entry's state.
    pub status: WaitlistEntryStatus,
    /// Whether a batch action is processing the entry.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub is_locked: Field<Option<bool>>,
    /// The invitation sent to the entry, once invited.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub invitation: Field<Option<Invitation>>,
    /// When it was created (ms since the epoch).
    pub created_at: i64,
    /// When it last changed (ms since the epoch).
    pub updated_at: i64,
    /// Fields this version of hookflow does not model, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An invitation to sign up to the application (as sent to a waitlist entry).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Invitation {
    /// The invitation id, `inv_...`.
    pub id: String,
    /// Always `invitation`.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub object: Field<Option<String>>,
    /// The invitee.
    pub email_address: String,
    /// The invitation's state.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub status: Field<Option<InvitationStatus>>,
    /// Whether it was revoked.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub revoked: Field<Option<bool>>,
    /// Metadata copied to the user on sign-up (free-form JSON).
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub public_metadata: Field<Value>,
    /// The sign-up link.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub url: Field<Option<String>>,
    /// When it expires (ms since the epoch).
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub expires_at: Field<Option<i64>>,
    /// When it was created (ms since the epoch).
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub created_at: Field<Option<i64>>,
    /// When it last changed (ms since the epoch).
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub updated_at: Field<Option<i64>>,
    /// Fields this version of hookflow does not model, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
