//! Building blocks shared by several payloads: string-backed enums that survive values Clerk adds
//! later, the verification object, identification links and the deleted-object stub.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::field::Field;

/// Defines a string-backed enum with an `Unknown(String)` fallback.
///
/// Clerk adds enum values without notice (session status `pending`, enrollment mode
/// `enterprise_sso`), so a closed enum would turn a harmless new value into a failed run.
/// Unknown values are kept verbatim and serialize back unchanged.
macro_rules! string_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $value:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
            /// A value this version of hookflow does not know, kept verbatim. Build values with
            /// `From<&str>` so that a known value never ends up here.
            Unknown(String),
        }

        impl $name {
            /// The value as Clerk spells it.
            pub fn as_str(&self) -> &str {
                match self {
                    $( Self::$variant => $value, )+
                    Self::Unknown(other) => other,
                }
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                match value {
                    $( $value => Self::$variant, )+
                    other => Self::Unknown(other.to_owned()),
                }
            }
        }

        impl From<String> for $name {
            fn from(value: String) -> Self {
                match Self::from(value.as_str()) {
                    // Reuse the allocation we already own.
                    Self::Unknown(_) => Self::Unknown(value),
                    known => known,
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                String::deserialize(deserializer).map(Self::from)
            }
        }
    };
}
pub(crate) use string_enum;

string_enum! {
    /// The state of a [`Verification`] (and of an organization domain's verification).
    pub enum VerificationStatus {
        /// Not verified yet.
        Unverified = "unverified",
        /// Verified.
        Verified = "verified",
        /// Verified through an OAuth or SAML flow that can be moved to another sign-up.
        Transferable = "transferable",
        /// The verification failed.
        Failed = "failed",
        /// The verification expired before it completed.
        Expired = "expired",
    }
}

/// How an email address, phone number, wallet or account was verified.
///
/// Clerk's spec splits this into a dozen variants told apart by `object` (`verification_otp`,
/// `verification_oauth`, ...); they differ only in which optional fields they carry, so one flat
/// struct holds them all. Only `status` and `strategy` are always present (Clerk's own example
/// sends nothing else).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verification {
    /// The verification variant, e.g. `verification_otp` (often absent).
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub object: Field<Option<String>>,
    /// Whether the identifier is verified.
    pub status: VerificationStatus,
    /// How: `email_code`, `phone_code`, `ticket`, `admin`, `saml`, `email_link`, `passkey`,
    /// `oauth_<provider>`, `web3_<wallet>_signature`, ...
    pub strategy: String,
    /// How many attempts were made, where the strategy counts them.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub attempts: Field<Option<i64>>,
    /// When the verification expires, in milliseconds since the Unix epoch.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub expire_at: Field<Option<i64>>,
    /// The client that completed the verification.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub verified_at_client: Field<Option<String>>,
    /// Where to send the user to finish an OAuth or SAML verification.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub external_verification_redirect_url: Field<Option<String>>,
    /// Web3 signature nonce.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub nonce: Field<Option<String>>,
    /// Web3 message that was signed.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub message: Field<Option<String>>,
    /// The channel a code was sent through (e.g. `sms`, `whatsapp`).
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub channel: Field<Option<String>>,
    /// Why an OAuth or SAML verification failed.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub error: Field<Option<VerificationError>>,
    /// Fields this version of hookflow does not model, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Verification {
    /// Whether the status is [`VerificationStatus::Verified`].
    ///
    /// ```
    /// # use hookflow::clerk::Verification;
    /// let v: Verification = serde_json::from_str(r#"{"status": "verified", "strategy": "ticket"}"#)?;
    /// assert!(v.is_verified());
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn is_verified(&self) -> bool {
        self.status == VerificationStatus::Verified
    }
}

/// Clerk's error object, as attached to a failed verification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerificationError {
    /// Short message.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub message: Field<Option<String>>,
    /// Longer, user-facing message.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub long_message: Field<Option<String>>,
    /// Machine-readable code.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub code: Field<Option<String>>,
    /// Free-form details.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub meta: Field<Value>,
    /// Fields this version of hookflow does not model, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A link from an identifier (such as an email address) to the account that provides it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdentificationLink {
    /// The linked object's id.
    pub id: String,
    /// The link kind, e.g. `oauth_google`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Fields this version of hookflow does not model, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// What a `*.deleted` event carries for organizations, organization domains, roles and
/// permissions: a stub naming the deleted object, not the object itself.
///
/// (`user.deleted` uses [`DeletedUser`](crate::clerk::DeletedUser), which adds `external_id`;
/// `organizationMembership.deleted` carries the full membership.)
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeletedObject {
    /// What was deleted: `organization`, `organization_domain`, `role`, `permission`, ...
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub object: Field<Option<String>>,
    /// The deleted object's id (present in every payload seen, optional in Clerk's types).
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub id: Field<Option<String>>,
    /// The deleted object's slug, when it had one (`organization.deleted`).
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub slug: Field<Option<String>>,
    /// Always `true`; a payload without it is still a deletion, so it reads as `true` (and is
    /// still left out when written back).
    #[serde(default = "absent_deleted", skip_serializing_if = "Field::is_absent")]
    pub deleted: Field<bool>,
    /// Fields this version of hookflow does not model, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl DeletedObject {
    /// The deleted object's id.
    ///
    /// ```
    /// # use hookflow::clerk::DeletedObject;
    /// let gone: DeletedObject = serde_json::from_str(
    ///     r#"{"object": "organization", "id": "org_1", "slug": "acme", "deleted": true}"#,
    /// )?;
    /// assert_eq!(gone.id(), Some("org_1"));
    /// assert_eq!(gone.kind(), Some("organization"));
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// What kind of object was deleted (its `object` field), e.g. `role`.
    ///
    /// ```
    /// # use hookflow::clerk::DeletedObject;
    /// let gone: DeletedObject = serde_json::from_str(r#"{"object": "role", "id": "role_1", "deleted": true}"#)?;
    /// assert_eq!(gone.kind(), Some("role"));
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn kind(&self) -> Option<&str> {
        self.object.as_deref()
    }

    /// The deleted object's slug; `None` when absent, null or empty.
    ///
    /// ```
    /// # use hookflow::clerk::DeletedObject;
    /// let gone: DeletedObject = serde_json::from_str(r#"{"object": "role", "id": "role_1", "slug": null, "deleted": true}"#)?;
    /// assert_eq!(gone.slug(), None);
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn slug(&self) -> Option<&str> {
        non_empty(self.slug.as_deref())
    }
}

/// A deleted-object stub's missing `deleted`: it is still a deletion.
pub(crate) fn absent_deleted() -> Field<bool> {
    Field::absent_reading(true)
}

/// Clerk sends `""` where it means "none" in a few places (billing payers), so helpers treat an
/// empty string like a missing one.
pub(crate) fn non_empty(value: Option<&str>) -> Option<&str> {
    value.filter(|s| !s.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_enum_values_round_trip() {
        let status: VerificationStatus = serde_json::from_value(json!("quantum")).unwrap();
        assert_eq!(status, VerificationStatus::Unknown("quantum".into()));
        assert_eq!(serde_json::to_value(&status).unwrap(), json!("quantum"));
        let known: VerificationStatus = serde_json::from_value(json!("transferable")).unwrap();
        assert_eq!(known, VerificationStatus::Transferable);
        assert_eq!(known.to_string(), "transferable");
        assert_eq!(VerificationStatus::from(String::from("verified")), VerificationStatus::Verified);
    }

    #[test]
    fn enum_rejects_non_strings() {
        assert!(serde_json::from_value::<VerificationStatus>(json!(3)).is_err());
    }

    #[test]
    fn verification_minimal_and_unknown_fields() {
        let input = json!({"status": "verified", "strategy": "ticket", "surprise": {"a": 1}});
        let v: Verification = serde_json::from_value(input).unwrap();
        assert!(v.is_verified());
        assert_eq!(v.attempts, None);
        assert_eq!(v.extra.get("surprise"), Some(&json!({"a": 1})));
        let out = serde_json::to_value(&v).unwrap();
        assert_eq!(out["surprise"], json!({"a": 1}));
        assert_eq!(out.get("attempts"), None, "an absent field stays absent");
    }

    #[test]
    fn deleted_object_defaults_to_deleted_and_treats_empty_slug_as_none() {
        let gone: DeletedObject = serde_json::from_value(json!({"object": "organization", "slug": ""})).unwrap();
        assert!(*gone.deleted);
        assert_eq!(gone.id(), None);
        assert_eq!(gone.slug(), None);
        // Read as deleted, but not invented on the way out.
        assert_eq!(serde_json::to_value(&gone).unwrap(), json!({"object": "organization", "slug": ""}));
    }
}
