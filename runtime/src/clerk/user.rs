//! `user.*` payloads: the user and everything nested in it.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::common::{non_empty, IdentificationLink, Verification};
use super::field::Field;
use super::organization::OrganizationMembership;

/// A Clerk user: the payload of `user.created` and `user.updated`, and `user` on session events.
///
/// Only `id`, `created_at` and `updated_at` are required. Everything else is a
/// [`Field`](crate::clerk::Field) (reading as `None`, an empty list or `null` when absent),
/// because Clerk's payloads differ by age and by source: older payloads leave out most flags,
/// and Clerk's spec sends `private_metadata: null`. Written back out, a user has exactly the
/// fields it came with. Fields Clerk adds later land in `extra` and are sent on unchanged.
///
/// ```
/// # use hookflow::clerk::User;
/// let user: User = serde_json::from_value(serde_json::json!({
///     "id": "user_1", "created_at": 1716883200000_i64, "updated_at": 1716883200000_i64,
///     "first_name": "Ada", "last_name": "Lovelace",
/// }))?;
/// assert_eq!(user.display_name(), "Ada Lovelace");
/// assert_eq!(user.banned, None);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    /// The user id, `user_...`.
    pub id: String,
    /// Always `user`.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub object: Field<Option<String>>,
    /// Your own id for this user, if you set one.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub external_id: Field<Option<String>>,
    /// Username, when usernames are enabled.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub username: Field<Option<String>>,
    /// First name.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub first_name: Field<Option<String>>,
    /// Last name.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub last_name: Field<Option<String>>,
    /// Profile image (Clerk's default avatar when the user has none).
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub image_url: Field<Option<String>>,
    /// Deprecated duplicate of `image_url`, still sent.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub profile_image_url: Field<Option<String>>,
    /// Whether the user uploaded a profile image.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub has_image: Field<Option<bool>>,
    /// Id of the primary entry in `email_addresses`; see [`User::primary_email`].
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub primary_email_address_id: Field<Option<String>>,
    /// Id of the primary entry in `phone_numbers`; see [`User::primary_phone`].
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub primary_phone_number_id: Field<Option<String>>,
    /// Id of the primary entry in `web3_wallets`.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub primary_web3_wallet_id: Field<Option<String>>,
    /// Email addresses.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub email_addresses: Field<Vec<EmailAddress>>,
    /// Phone numbers.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub phone_numbers: Field<Vec<PhoneNumber>>,
    /// Web3 wallets.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub web3_wallets: Field<Vec<Web3Wallet>>,
    /// Passkeys.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub passkeys: Field<Vec<Passkey>>,
    /// OAuth accounts (Google, GitHub, ...).
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub external_accounts: Field<Vec<ExternalAccount>>,
    /// Legacy SAML accounts; still sent next to `enterprise_accounts`.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub saml_accounts: Field<Vec<SamlAccount>>,
    /// Enterprise SSO (SAML or OIDC) accounts.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub enterprise_accounts: Field<Vec<EnterpriseAccount>>,
    /// Organization memberships, when Clerk includes them.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub organization_memberships: Field<Option<Vec<OrganizationMembership>>>,
    /// Whether the user has a password.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub password_enabled: Field<Option<bool>>,
    /// When the password last changed (ms since the epoch).
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub password_last_updated_at: Field<Option<i64>>,
    /// Whether any second factor is enabled.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub two_factor_enabled: Field<Option<bool>>,
    /// Whether an authenticator app is enabled.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub totp_enabled: Field<Option<bool>>,
    /// Whether backup codes are enabled.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub backup_code_enabled: Field<Option<bool>>,
    /// When MFA was last enabled (not cleared when it is disabled).
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub mfa_enabled_at: Field<Option<i64>>,
    /// When MFA was last disabled (not cleared when it is enabled again).
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub mfa_disabled_at: Field<Option<i64>>,
    /// Metadata readable from the frontend and the backend (free-form JSON; null when absent).
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub public_metadata: Field<Value>,
    /// Metadata readable only from the backend (free-form JSON; Clerk may send null).
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub private_metadata: Field<Value>,
    /// Metadata the user may write from the frontend (free-form JSON).
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub unsafe_metadata: Field<Value>,
    /// Last sign-in (ms since the epoch).
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub last_sign_in_at: Field<Option<i64>>,
    /// Latest session activity, with day precision (ms since the epoch).
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub last_active_at: Field<Option<i64>>,
    /// Whether the user is banned.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub banned: Field<Option<bool>>,
    /// Whether the user is locked out.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub locked: Field<Option<bool>>,
    /// Seconds until a lockout ends; null for a lockout that never ends.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub lockout_expires_in_seconds: Field<Option<i64>>,
    /// Verification attempts left before a lockout; null when lockout is off.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub verification_attempts_remaining: Field<Option<i64>>,
    /// Whether the user may delete themselves.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub delete_self_enabled: Field<Option<bool>>,
    /// Whether the user may create organizations.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub create_organization_enabled: Field<Option<bool>>,
    /// How many organizations the user may create (0 means unlimited).
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub create_organizations_limit: Field<Option<i64>>,
    /// When the user accepted the legal terms (ms since the epoch).
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub legal_accepted_at: Field<Option<i64>>,
    /// Preferred locale (BCP-47).
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub locale: Field<Option<String>>,
    /// Whether the user was deprovisioned by SCIM.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub deprovisioned: Field<Option<bool>>,
    /// Whether the user skips client-trust checks.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub bypass_client_trust: Field<Option<bool>>,
    /// SCIM directory details, for users provisioned by SCIM.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub scim: Field<Option<UserScim>>,
    /// When the user was created (ms since the epoch).
    pub created_at: i64,
    /// When the user last changed (ms since the epoch).
    pub updated_at: i64,
    /// Fields this version of hookflow does not model (old payloads' `birthday`, `gender`, ...),
    /// kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl User {
    /// The primary email address: the entry of `email_addresses` whose id is
    /// `primary_email_address_id`.
    ///
    /// ```
    /// # use hookflow::clerk::User;
    /// let user: User = serde_json::from_value(serde_json::json!({
    ///     "id": "user_1", "created_at": 0, "updated_at": 0,
    ///     "primary_email_address_id": "idn_2",
    ///     "email_addresses": [
    ///         {"id": "idn_1", "email_address": "old@example.com"},
    ///         {"id": "idn_2", "email_address": "ada@example.com"},
    ///     ],
    /// }))?;
    /// assert_eq!(user.primary_email().map(|e| e.id.as_str()), Some("idn_2"));
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn primary_email(&self) -> Option<&EmailAddress> {
        let id = self.primary_email_address_id.as_deref()?;
        self.email_addresses.iter().find(|e| e.id == id)
    }

    /// The primary email address as a string.
    ///
    /// ```
    /// # use hookflow::clerk::User;
    /// let user: User = serde_json::from_value(serde_json::json!({
    ///     "id": "user_1", "created_at": 0, "updated_at": 0,
    ///     "primary_email_address_id": "idn_1",
    ///     "email_addresses": [{"id": "idn_1", "email_address": "ada@example.com"}],
    /// }))?;
    /// assert_eq!(user.primary_email_address(), Some("ada@example.com"));
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn primary_email_address(&self) -> Option<&str> {
        self.primary_email().map(|e| e.email_address.as_str())
    }

    /// The primary phone number: the entry of `phone_numbers` whose id is
    /// `primary_phone_number_id`.
    ///
    /// ```
    /// # use hookflow::clerk::User;
    /// let user: User = serde_json::from_value(serde_json::json!({
    ///     "id": "user_1", "created_at": 0, "updated_at": 0,
    ///     "primary_phone_number_id": "idn_9",
    ///     "phone_numbers": [{"id": "idn_9", "phone_number": "+15555550100"}],
    /// }))?;
    /// assert_eq!(user.primary_phone().map(|p| p.phone_number.as_str()), Some("+15555550100"));
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn primary_phone(&self) -> Option<&PhoneNumber> {
        let id = self.primary_phone_number_id.as_deref()?;
        self.phone_numbers.iter().find(|p| p.id == id)
    }

    /// First and last name joined by a space, each trimmed; `None` when both are missing or
    /// blank.
    ///
    /// ```
    /// # use hookflow::clerk::User;
    /// let user: User = serde_json::from_value(serde_json::json!({
    ///     "id": "user_1", "created_at": 0, "updated_at": 0, "first_name": " Ada ", "last_name": null,
    /// }))?;
    /// assert_eq!(user.full_name().as_deref(), Some("Ada"));
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn full_name(&self) -> Option<String> {
        let parts: Vec<&str> = [self.first_name.as_deref(), self.last_name.as_deref()]
            .into_iter()
            .flatten()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        (!parts.is_empty()).then(|| parts.join(" "))
    }

    /// A name to show: the full name, else the username, else the primary email address, else
    /// the user id.
    ///
    /// ```
    /// # use hookflow::clerk::User;
    /// let user: User = serde_json::from_value(serde_json::json!({
    ///     "id": "user_1", "created_at": 0, "updated_at": 0, "username": "ada",
    /// }))?;
    /// assert_eq!(user.display_name(), "ada");
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn display_name(&self) -> String {
        self.full_name()
            .or_else(|| non_empty(self.username.as_deref()).map(str::to_owned))
            .or_else(|| non_empty(self.primary_email_address()).map(str::to_owned))
            .unwrap_or_else(|| self.id.clone())
    }
}

/// The payload of `user.deleted`: a stub naming the deleted user, not the user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeletedUser {
    /// Always `user`.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub object: Field<Option<String>>,
    /// The deleted user's id (present in every payload seen, optional in Clerk's types).
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub id: Field<Option<String>>,
    /// Unused for users; part of Clerk's deleted-object shape.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub slug: Field<Option<String>>,
    /// Always `true`; reads as `true` when absent (and is still left out when written back).
    #[serde(default = "super::common::absent_deleted", skip_serializing_if = "Field::is_absent")]
    pub deleted: Field<bool>,
    /// Your own id for the user, if you set one (sent since late 2025).
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub external_id: Field<Option<String>>,
    /// Fields this version of hookflow does not model, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl DeletedUser {
    /// The deleted user's id.
    ///
    /// ```
    /// # use hookflow::clerk::DeletedUser;
    /// let gone: DeletedUser = serde_json::from_str(r#"{"object": "user", "id": "user_1", "deleted": true}"#)?;
    /// assert_eq!(gone.id(), Some("user_1"));
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }
}

/// One of a user's email addresses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmailAddress {
    /// The identifier id, `idn_...`.
    pub id: String,
    /// Always `email_address`.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub object: Field<Option<String>>,
    /// The address.
    pub email_address: String,
    /// How it was verified; null when it was not.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub verification: Field<Option<Verification>>,
    /// Accounts that provide this address (e.g. the Google account it came from).
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub linked_to: Field<Vec<IdentificationLink>>,
    /// Whether the address is reserved (not yet usable for sign-in).
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub reserved: Field<Option<bool>>,
    /// Whether its domain matches an active enterprise connection.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub matches_sso_connection: Field<Option<bool>>,
    /// When it was added (ms since the epoch).
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub created_at: Field<Option<i64>>,
    /// When it last changed (ms since the epoch).
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub updated_at: Field<Option<i64>>,
    /// Fields this version of hookflow does not model, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl EmailAddress {
    /// Whether the address is verified.
    ///
    /// ```
    /// # use hookflow::clerk::EmailAddress;
    /// let email: EmailAddress = serde_json::from_value(serde_json::json!({
    ///     "id": "idn_1", "email_address": "ada@example.com",
    ///     "verification": {"status": "verified", "strategy": "email_code"},
    /// }))?;
    /// assert!(email.is_verified());
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn is_verified(&self) -> bool {
        self.verification.as_ref().is_some_and(Verification::is_verified)
    }
}

/// One of a user's phone numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhoneNumber {
    /// The identifier id, `idn_...`.
    pub id: String,
    /// Always `phone_number`.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub object: Field<Option<String>>,
    /// The number, E.164.
    pub phone_number: String,
    /// Whether the number is kept for second-factor use only.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub reserved_for_second_factor: Field<Option<bool>>,
    /// Whether the number is the default second factor.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub default_second_factor: Field<Option<bool>>,
    /// Whether the number is reserved.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub reserved: Field<Option<bool>>,
    /// How it was verified; null when it was not.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub verification: Field<Option<Verification>>,
    /// Accounts that provide this number.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub linked_to: Field<Vec<IdentificationLink>>,
    /// Backup codes, when the number is a second factor (often null or absent).
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub backup_codes: Field<Option<Vec<String>>>,
    /// When it was added (ms since the epoch).
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub created_at: Field<Option<i64>>,
    /// When it last changed (ms since the epoch).
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub updated_at: Field<Option<i64>>,
    /// Fields this version of hookflow does not model, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One of a user's Web3 wallets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Web3Wallet {
    /// The identifier id.
    pub id: String,
    /// Always `web3_wallet`.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub object: Field<Option<String>>,
    /// The wallet address.
    pub web3_wallet: String,
    /// How it was verified; null when it was not.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub verification: Field<Option<Verification>>,
    /// When it was added (ms since the epoch).
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub created_at: Field<Option<i64>>,
    /// When it last changed (ms since the epoch).
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub updated_at: Field<Option<i64>>,
    /// Fields this version of hookflow does not model, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One of a user's passkeys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Passkey {
    /// The passkey id.
    pub id: String,
    /// Always `passkey`.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub object: Field<Option<String>>,
    /// The name the user gave it.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub name: Field<Option<String>>,
    /// When it was last used (ms since the epoch).
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub last_used_at: Field<Option<i64>>,
    /// How it was verified.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub verification: Field<Option<Verification>>,
    /// Fields this version of hookflow does not model, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An OAuth account connected to the user (Google, GitHub, ...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExternalAccount {
    /// The account id, `eac_...` or `idn_...`.
    pub id: String,
    /// `external_account` (older payloads: `google_account`, `facebook_account`).
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub object: Field<Option<String>>,
    /// Clerk's id for the external account.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub external_account_id: Field<Option<String>>,
    /// The provider, e.g. `oauth_google`.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub provider: Field<Option<String>>,
    /// The identification id this account backs.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub identification_id: Field<Option<String>>,
    /// The user's id at the provider.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub provider_user_id: Field<Option<String>>,
    /// Scopes the user granted, space-separated.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub approved_scopes: Field<Option<String>>,
    /// The email address the provider reported.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub email_address: Field<Option<String>>,
    /// Whether the provider says that address is verified.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub email_address_verified: Field<Option<bool>>,
    /// First name at the provider.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub first_name: Field<Option<String>>,
    /// Last name at the provider.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub last_name: Field<Option<String>>,
    /// Avatar at the provider.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub image_url: Field<Option<String>>,
    /// Deprecated duplicate of `image_url`.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub avatar_url: Field<Option<String>>,
    /// Username at the provider.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub username: Field<Option<String>>,
    /// Phone number at the provider.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub phone_number: Field<Option<String>>,
    /// Metadata stored on the account (free-form JSON).
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub public_metadata: Field<Value>,
    /// A label for the account.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub label: Field<Option<String>>,
    /// How the account was verified.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub verification: Field<Option<Verification>>,
    /// When it was connected (ms since the epoch).
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub created_at: Field<Option<i64>>,
    /// When it last changed (ms since the epoch).
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub updated_at: Field<Option<i64>>,
    /// Fields this version of hookflow does not model, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An enterprise SSO account (SAML or OIDC) of the user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnterpriseAccount {
    /// The account id.
    pub id: String,
    /// Always `enterprise_account`.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub object: Field<Option<String>>,
    /// `saml` or `oauth`.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub protocol: Field<Option<String>>,
    /// The identity provider, e.g. `saml_okta`.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub provider: Field<Option<String>>,
    /// Whether the account is active.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub active: Field<Option<bool>>,
    /// The email address the provider asserted.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub email_address: Field<Option<String>>,
    /// First name at the provider.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub first_name: Field<Option<String>>,
    /// Last name at the provider.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub last_name: Field<Option<String>>,
    /// The user's id at the provider.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub provider_user_id: Field<Option<String>>,
    /// The connection's id.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub enterprise_connection_id: Field<Option<String>>,
    /// The connection the account signs in through.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub enterprise_connection: Field<Option<EnterpriseConnection>>,
    /// Metadata stored on the account (free-form JSON).
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub public_metadata: Field<Value>,
    /// How the account was verified.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub verification: Field<Option<Verification>>,
    /// Last authentication through this account (ms since the epoch).
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub last_authenticated_at: Field<Option<i64>>,
    /// Fields this version of hookflow does not model, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An enterprise (or legacy SAML) connection: the identity provider set up for a domain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnterpriseConnection {
    /// The connection id.
    pub id: String,
    /// `saml` or `oauth` (absent on legacy SAML connections).
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub protocol: Field<Option<String>>,
    /// The identity provider.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub provider: Field<Option<String>>,
    /// Display name.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub name: Field<Option<String>>,
    /// Logo.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub logo_public_url: Field<Option<String>>,
    /// Deprecated single domain; see `domains`.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub domain: Field<Option<String>>,
    /// The email domains the connection serves.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub domains: Field<Option<Vec<String>>>,
    /// Whether the connection is active.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub active: Field<Option<bool>>,
    /// Whether user attributes are synced from the provider on each sign-in.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub sync_user_attributes: Field<Option<bool>>,
    /// Whether subdomains of `domains` are accepted.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub allow_subdomains: Field<Option<bool>>,
    /// Whether IdP-initiated sign-in is allowed.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub allow_idp_initiated: Field<Option<bool>>,
    /// Whether users of this connection may not add other identifiers.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub disable_additional_identifications: Field<Option<bool>>,
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

/// A legacy SAML account; Clerk still sends `saml_accounts` beside `enterprise_accounts`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SamlAccount {
    /// The account id.
    pub id: String,
    /// Always `saml_account`.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub object: Field<Option<String>>,
    /// The identity provider.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub provider: Field<Option<String>>,
    /// Whether the account is active.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub active: Field<Option<bool>>,
    /// The email address the provider asserted.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub email_address: Field<Option<String>>,
    /// First name at the provider.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub first_name: Field<Option<String>>,
    /// Last name at the provider.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub last_name: Field<Option<String>>,
    /// The user's id at the provider.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub provider_user_id: Field<Option<String>>,
    /// Last authentication through this account (ms since the epoch).
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub last_authenticated_at: Field<Option<i64>>,
    /// Metadata stored on the account (free-form JSON).
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub public_metadata: Field<Value>,
    /// How the account was verified.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub verification: Field<Option<Verification>>,
    /// The SAML connection (same shape as an enterprise connection, without `protocol`).
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub saml_connection: Field<Option<EnterpriseConnection>>,
    /// The enterprise connection that replaced the SAML connection.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub enterprise_connection_id: Field<Option<String>>,
    /// Fields this version of hookflow does not model, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// SCIM provisioning details of a user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserScim {
    /// The SCIM directory that provisioned the user.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub directory_id: Field<Option<String>>,
    /// Whether that directory is enabled.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub directory_enabled: Field<Option<bool>>,
    /// The user's id in the directory.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub external_id: Field<Option<String>>,
    /// Fields this version of hookflow does not model, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The `user.created` example from Clerk's webhook overview page (2022 vintage): no
    /// `has_image`, `banned`, ... but `birthday` and `gender`, and a minimal verification.
    fn docs_example() -> Value {
        json!({
            "birthday": "",
            "created_at": 1654012591514_i64,
            "email_addresses": [{
                "email_address": "example@example.org",
                "id": "idn_29w83yL7CwVlJXylYLxcslromF1",
                "linked_to": [],
                "object": "email_address",
                "verification": {"status": "verified", "strategy": "ticket"}
            }],
            "external_accounts": [],
            "external_id": "567772",
            "first_name": "Example",
            "gender": "",
            "id": "user_29w83sxmDNGwOuEthce5gg56FcC",
            "image_url": "https://img.clerk.com/xxxxxx",
            "last_name": "Example",
            "last_sign_in_at": 1654012591514_i64,
            "object": "user",
            "password_enabled": true,
            "phone_numbers": [],
            "primary_email_address_id": "idn_29w83yL7CwVlJXylYLxcslromF1",
            "primary_phone_number_id": null,
            "primary_web3_wallet_id": null,
            "private_metadata": {},
            "profile_image_url": "https://www.gravatar.com/avatar?d=mp",
            "public_metadata": {},
            "two_factor_enabled": false,
            "unsafe_metadata": {},
            "updated_at": 1654012591835_i64,
            "username": null,
            "web3_wallets": []
        })
    }

    #[test]
    fn old_docs_payload_parses_and_keeps_unmodelled_fields() {
        let user: User = serde_json::from_value(docs_example()).unwrap();
        assert_eq!(user.primary_email_address(), Some("example@example.org"));
        assert!(user.primary_email().is_some_and(EmailAddress::is_verified));
        assert_eq!(user.full_name().as_deref(), Some("Example Example"));
        assert_eq!(user.banned, None);
        assert_eq!(user.extra.get("gender"), Some(&json!("")));
        let out = serde_json::to_value(&user).unwrap();
        assert_eq!(out["birthday"], json!(""));
        assert_eq!(out["email_addresses"][0]["verification"]["strategy"], json!("ticket"));
    }

    fn user_with(fields: Value) -> User {
        let mut base = json!({"id": "user_1", "created_at": 1, "updated_at": 2});
        if let (Some(base), Some(fields)) = (base.as_object_mut(), fields.as_object()) {
            base.extend(fields.clone());
        }
        serde_json::from_value(base).unwrap()
    }

    #[test]
    fn display_name_falls_back_in_order() {
        assert_eq!(user_with(json!({"first_name": "Ada", "last_name": "Lovelace"})).display_name(), "Ada Lovelace");
        assert_eq!(user_with(json!({"first_name": "  ", "username": "ada"})).display_name(), "ada");
        let by_email = user_with(json!({
            "username": "",
            "primary_email_address_id": "idn_1",
            "email_addresses": [{"id": "idn_1", "email_address": "ada@example.com"}]
        }));
        assert_eq!(by_email.display_name(), "ada@example.com");
        assert_eq!(user_with(json!({})).display_name(), "user_1");
    }

    #[test]
    fn full_name_uses_whichever_part_exists() {
        assert_eq!(user_with(json!({"last_name": "Lovelace"})).full_name().as_deref(), Some("Lovelace"));
        assert_eq!(user_with(json!({"first_name": "", "last_name": null})).full_name(), None);
    }

    #[test]
    fn primary_lookups_need_a_matching_id() {
        let user = user_with(json!({
            "primary_email_address_id": "idn_missing",
            "email_addresses": [{"id": "idn_1", "email_address": "ada@example.com"}],
            "primary_phone_number_id": "idn_p",
            "phone_numbers": [{"id": "idn_p", "phone_number": "+15555550100", "backup_codes": null}]
        }));
        assert_eq!(user.primary_email(), None);
        assert_eq!(user.primary_phone().map(|p| p.phone_number.as_str()), Some("+15555550100"));
    }
}
