//! `organization.*`, `organizationDomain.*`, `organizationMembership.*`,
//! `organizationInvitation.*`, `role.*` and `permission.*` payloads.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::common::{string_enum, VerificationStatus};
use super::field::Field;

/// An organization: the payload of `organization.created` and `.updated`, and `organization` on
/// memberships.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Organization {
    /// The organization id, `org_...`.
    pub id: String,
    /// Always `organization`.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub object: Field<Option<String>>,
    /// Display name.
    pub name: String,
    /// URL-friendly name.
    pub slug: String,
    /// Logo.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub image_url: Field<Option<String>>,
    /// Whether a logo was uploaded.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub has_image: Field<Option<bool>>,
    /// Number of members.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub members_count: Field<Option<i64>>,
    /// Number of pending invitations.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub pending_invitations_count: Field<Option<i64>>,
    /// Membership limit (0 means unlimited).
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub max_allowed_memberships: Field<Option<i64>>,
    /// Whether admins may delete the organization.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub admin_delete_enabled: Field<Option<bool>>,
    /// Whether no remaining member holds the permissions to manage it.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub missing_member_with_elevated_permissions: Field<Option<bool>>,
    /// Metadata readable from the frontend and the backend (free-form JSON).
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub public_metadata: Field<Value>,
    /// Metadata readable only from the backend (free-form JSON).
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub private_metadata: Field<Value>,
    /// The user who created it.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub created_by: Field<Option<String>>,
    /// The role set its roles come from.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub role_set_key: Field<Option<String>>,
    /// Latest activity (ms since the epoch).
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub last_active_at: Field<Option<i64>>,
    /// When it was created (ms since the epoch).
    pub created_at: i64,
    /// When it last changed (ms since the epoch).
    pub updated_at: i64,
    /// Fields this version of hookflow does not model, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The public face of an organization, as embedded in invitations and domains.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PublicOrganizationData {
    /// The organization id.
    pub id: String,
    /// Display name.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub name: Field<Option<String>>,
    /// URL-friendly name.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub slug: Field<Option<String>>,
    /// Logo.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub image_url: Field<Option<String>>,
    /// Whether a logo was uploaded.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub has_image: Field<Option<bool>>,
    /// Fields this version of hookflow does not model, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

string_enum! {
    /// How users whose email matches an [`OrganizationDomain`] join the organization.
    pub enum EnrollmentMode {
        /// Only by invitation from an admin.
        ManualInvitation = "manual_invitation",
        /// Invited automatically.
        AutomaticInvitation = "automatic_invitation",
        /// Offered a suggestion to request membership.
        AutomaticSuggestion = "automatic_suggestion",
        /// Through the organization's enterprise SSO connection.
        EnterpriseSso = "enterprise_sso",
    }
}

/// A verified domain of an organization: the payload of `organizationDomain.created` and
/// `.updated`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrganizationDomain {
    /// The domain id, `orgdmn_...`.
    pub id: String,
    /// Always `organization_domain`.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub object: Field<Option<String>>,
    /// The domain name, e.g. `acme.com`.
    pub name: String,
    /// The organization it belongs to.
    pub organization_id: String,
    /// How matching users join.
    pub enrollment_mode: EnrollmentMode,
    /// Verification of the domain (deprecated by Clerk in favour of the two below, still sent).
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub verification: Field<Option<DomainVerification>>,
    /// Verification through an affiliated email address.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub affiliation_verification: Field<Option<DomainVerification>>,
    /// Verification of domain ownership.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub ownership_verification: Field<Option<DomainVerification>>,
    /// The address used for affiliation verification.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub affiliation_email_address: Field<Option<String>>,
    /// Pending invitations sent because of this domain.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub total_pending_invitations: Field<Option<i64>>,
    /// Pending membership suggestions made because of this domain.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub total_pending_suggestions: Field<Option<i64>>,
    /// The organization's public data.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub public_organization_data: Field<Option<PublicOrganizationData>>,
    /// When it was added (ms since the epoch).
    pub created_at: i64,
    /// When it last changed (ms since the epoch).
    pub updated_at: i64,
    /// Fields this version of hookflow does not model, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The verification of an [`OrganizationDomain`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DomainVerification {
    /// `unverified` or `verified`.
    pub status: VerificationStatus,
    /// How, e.g. `email_code`.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub strategy: Field<Option<String>>,
    /// Attempts made.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub attempts: Field<Option<i64>>,
    /// When the verification expires (ms since the epoch). Clerk's TypeScript types call it
    /// `expires_at`, its payloads `expire_at`: both are read, `expire_at` is written.
    #[serde(default, alias = "expires_at", skip_serializing_if = "Field::is_absent")]
    pub expire_at: Field<Option<i64>>,
    /// When the domain was verified (ms since the epoch).
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub verified_at: Field<Option<i64>>,
    /// Fields this version of hookflow does not model, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A user's membership of an organization: the payload of every `organizationMembership.*`
/// event (`.deleted` included: it carries the full membership, not a stub).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrganizationMembership {
    /// The membership id, `orgmem_...`.
    pub id: String,
    /// Always `organization_membership`.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub object: Field<Option<String>>,
    /// The role key, e.g. `org:admin`, `org:member` or a custom key.
    pub role: String,
    /// The role's display name, e.g. `Admin`.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub role_name: Field<Option<String>>,
    /// The permission keys the role grants.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub permissions: Field<Vec<String>>,
    /// Metadata readable from the frontend and the backend (free-form JSON).
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub public_metadata: Field<Value>,
    /// Metadata readable only from the backend (free-form JSON).
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub private_metadata: Field<Value>,
    /// The organization.
    pub organization: Organization,
    /// The member's public data.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub public_user_data: Field<Option<PublicUserData>>,
    /// When the membership was created (ms since the epoch).
    pub created_at: i64,
    /// When it last changed (ms since the epoch).
    pub updated_at: i64,
    /// Fields this version of hookflow does not model, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl OrganizationMembership {
    /// The member's user id.
    ///
    /// ```
    /// # use hookflow::clerk::OrganizationMembership;
    /// let membership: OrganizationMembership = serde_json::from_value(serde_json::json!({
    ///     "id": "orgmem_1", "role": "org:member", "created_at": 0, "updated_at": 0,
    ///     "organization": {"id": "org_1", "name": "Acme", "slug": "acme", "created_at": 0, "updated_at": 0},
    ///     "public_user_data": {"user_id": "user_1"},
    /// }))?;
    /// assert_eq!(membership.user_id(), Some("user_1"));
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn user_id(&self) -> Option<&str> {
        self.public_user_data.as_ref().map(|d| d.user_id.as_str())
    }

    /// The organization's id.
    ///
    /// ```
    /// # use hookflow::clerk::OrganizationMembership;
    /// let membership: OrganizationMembership = serde_json::from_value(serde_json::json!({
    ///     "id": "orgmem_1", "role": "org:member", "created_at": 0, "updated_at": 0,
    ///     "organization": {"id": "org_1", "name": "Acme", "slug": "acme", "created_at": 0, "updated_at": 0},
    /// }))?;
    /// assert_eq!(membership.organization_id(), "org_1");
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn organization_id(&self) -> &str {
        &self.organization.id
    }
}

/// The public face of a member, as embedded in a membership.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PublicUserData {
    /// The user id.
    pub user_id: String,
    /// The identifier the user signs in with (email, phone or username).
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub identifier: Field<Option<String>>,
    /// First name.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub first_name: Field<Option<String>>,
    /// Last name.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub last_name: Field<Option<String>>,
    /// Username.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub username: Field<Option<String>>,
    /// Profile image.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub image_url: Field<Option<String>>,
    /// Deprecated duplicate of `image_url`.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub profile_image_url: Field<Option<String>>,
    /// Whether the user uploaded a profile image.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub has_image: Field<Option<bool>>,
    /// Whether the user is banned.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub banned: Field<Option<bool>>,
    /// Whether the user was deprovisioned by SCIM.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub deprovisioned: Field<Option<bool>>,
    /// Fields this version of hookflow does not model, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

string_enum! {
    /// The state of an invitation ([`OrganizationInvitation`] or a waitlist
    /// [`Invitation`](crate::clerk::Invitation)).
    pub enum InvitationStatus {
        /// Sent, not answered yet.
        Pending = "pending",
        /// Accepted.
        Accepted = "accepted",
        /// Revoked before it was accepted.
        Revoked = "revoked",
        /// Expired before it was accepted.
        Expired = "expired",
    }
}

/// An invitation to join an organization: the payload of `organizationInvitation.created` and
/// `.revoked`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrganizationInvitation {
    /// The invitation id, `orginv_...`.
    pub id: String,
    /// Always `organization_invitation`.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub object: Field<Option<String>>,
    /// The invitee's address.
    pub email_address: String,
    /// The role key the invitee will get.
    pub role: String,
    /// The role's display name.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub role_name: Field<Option<String>>,
    /// The organization.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub organization_id: Field<Option<String>>,
    /// The invitation's state.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub status: Field<Option<InvitationStatus>>,
    /// The user who sent it.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub inviter_id: Field<Option<String>>,
    /// The inviter's public data.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub public_inviter_data: Field<Option<PublicInviterData>>,
    /// The organization's public data.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub public_organization_data: Field<Option<PublicOrganizationData>>,
    /// Metadata copied to the membership on acceptance (free-form JSON).
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub public_metadata: Field<Value>,
    /// Backend-only metadata (free-form JSON).
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub private_metadata: Field<Value>,
    /// The link the invitee follows.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub url: Field<Option<String>>,
    /// When it expires (ms since the epoch).
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub expires_at: Field<Option<i64>>,
    /// When it was created (ms since the epoch).
    pub created_at: i64,
    /// When it last changed (ms since the epoch).
    pub updated_at: i64,
    /// Fields this version of hookflow does not model, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An accepted organization invitation: the payload of `organizationInvitation.accepted`, an
/// [`OrganizationInvitation`] plus the `user_id` of who accepted it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AcceptedOrganizationInvitation {
    /// The invitation id, `orginv_...`.
    pub id: String,
    /// Always `organization_invitation`.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub object: Field<Option<String>>,
    /// The invitee's address.
    pub email_address: String,
    /// The role key the invitee got.
    pub role: String,
    /// The role's display name.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub role_name: Field<Option<String>>,
    /// The organization.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub organization_id: Field<Option<String>>,
    /// The user who accepted (sent since 2025-09; absent on older deliveries).
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub user_id: Field<Option<String>>,
    /// The invitation's state (`accepted`).
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub status: Field<Option<InvitationStatus>>,
    /// The user who sent it.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub inviter_id: Field<Option<String>>,
    /// The inviter's public data.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub public_inviter_data: Field<Option<PublicInviterData>>,
    /// The organization's public data.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub public_organization_data: Field<Option<PublicOrganizationData>>,
    /// Metadata copied to the membership (free-form JSON).
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub public_metadata: Field<Value>,
    /// Backend-only metadata (free-form JSON).
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub private_metadata: Field<Value>,
    /// The link the invitee followed.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub url: Field<Option<String>>,
    /// When it would have expired (ms since the epoch).
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub expires_at: Field<Option<i64>>,
    /// When it was created (ms since the epoch).
    pub created_at: i64,
    /// When it last changed (ms since the epoch).
    pub updated_at: i64,
    /// Fields this version of hookflow does not model, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The public face of whoever sent an invitation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PublicInviterData {
    /// The user id.
    pub user_id: String,
    /// The identifier the inviter signs in with.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub identifier: Field<Option<String>>,
    /// First name.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub first_name: Field<Option<String>>,
    /// Last name.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub last_name: Field<Option<String>>,
    /// Profile image.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub image_url: Field<Option<String>>,
    /// Whether the inviter uploaded a profile image.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub has_image: Field<Option<bool>>,
    /// Fields this version of hookflow does not model, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An organization role: the payload of `role.created` and `.updated` (`role.deleted` sends a
/// [`DeletedObject`](crate::clerk::DeletedObject)).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Role {
    /// The role id, `role_...`.
    pub id: String,
    /// Always `role`.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub object: Field<Option<String>>,
    /// The key members carry, e.g. `org:content_manager`.
    pub key: String,
    /// Display name.
    pub name: String,
    /// Description.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub description: Field<Option<String>>,
    /// The permissions the role grants.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub permissions: Field<Vec<Permission>>,
    /// Whether the role may be given to an organization's creator.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub is_creator_eligible: Field<Option<bool>>,
    /// When it was created (ms since the epoch).
    pub created_at: i64,
    /// When it last changed (ms since the epoch).
    pub updated_at: i64,
    /// Fields this version of hookflow does not model, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An organization permission: the payload of `permission.created` and `.updated`
/// (`permission.deleted` sends a [`DeletedObject`](crate::clerk::DeletedObject)).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Permission {
    /// The permission id, `perm_...`.
    pub id: String,
    /// Always `permission`.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub object: Field<Option<String>>,
    /// The key checked in code, e.g. `org:posts:create`.
    pub key: String,
    /// Display name.
    pub name: String,
    /// Description.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub description: Field<Option<String>>,
    /// `custom` or `system` (Clerk's `type`).
    #[serde(default, rename = "type", skip_serializing_if = "Field::is_absent")]
    pub kind: Field<Option<String>>,
    /// When it was created (ms since the epoch).
    pub created_at: i64,
    /// When it last changed (ms since the epoch).
    pub updated_at: i64,
    /// Fields this version of hookflow does not model, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn domain_verification_reads_both_spellings_of_expiry() {
        let ts: DomainVerification =
            serde_json::from_value(json!({"status": "verified", "strategy": "email_code", "expires_at": 5})).unwrap();
        assert_eq!(ts.expire_at, Some(5));
        let wire: DomainVerification = serde_json::from_value(json!({"status": "unverified", "expire_at": 7})).unwrap();
        assert_eq!(wire.expire_at, Some(7));
        assert_eq!(wire.status, VerificationStatus::Unverified);
        assert_eq!(serde_json::to_value(&ts).unwrap()["expire_at"], json!(5));
    }

    #[test]
    fn new_enrollment_modes_survive() {
        let mode: EnrollmentMode = serde_json::from_value(json!("enterprise_sso")).unwrap();
        assert_eq!(mode, EnrollmentMode::EnterpriseSso);
        let later: EnrollmentMode = serde_json::from_value(json!("automatic_everything")).unwrap();
        assert_eq!(serde_json::to_value(later).unwrap(), json!("automatic_everything"));
    }
}
