//! Sample webhook bodies, one per Clerk event type, embedded in the binary: `hookflow clerk
//! send` and the dev UI's payload templates start from them.
//!
//! Each sample is a **full envelope** (`{data, object, type, timestamp, instance_id,
//! event_attributes}`), taken from the examples in Clerk's webhook OpenAPI spec
//! (`subscriptionItem.created` from its last revision that still listed the event). They are
//! hand-written samples, not captured traffic: every `timestamp` is `1716883200` (seconds,
//! where real deliveries use milliseconds), users have no email addresses, and ids are
//! placeholders.

use serde_json::Value;

macro_rules! samples {
    ($($clerk_type:literal),* $(,)?) => {
        /// The embedded sample body for a Clerk event type (e.g. `user.created`): a full
        /// webhook envelope as JSON text. `None` for a type without a sample; every type in
        /// [`CATALOG`](crate::clerk::CATALOG) has one.
        ///
        /// ```
        /// let body = hookflow::clerk::fixtures::sample("user.created").unwrap();
        /// let envelope = hookflow::clerk::Envelope::parse(body.as_bytes())?;
        /// assert_eq!(envelope.clerk_type, "user.created");
        /// # Ok::<(), hookflow::clerk::EnvelopeError>(())
        /// ```
        pub fn sample(clerk_type: &str) -> Option<&'static str> {
            match clerk_type {
                $( $clerk_type => Some(include_str!(concat!("../../fixtures/clerk/", $clerk_type, ".json"))), )*
                _ => None,
            }
        }
    };
}

samples! {
    "user.created", "user.updated", "user.deleted",
    "session.created", "session.pending", "session.ended", "session.removed", "session.revoked",
    "email.created", "sms.created",
    "organization.created", "organization.updated", "organization.deleted",
    "organizationDomain.created", "organizationDomain.updated", "organizationDomain.deleted",
    "organizationMembership.created", "organizationMembership.updated", "organizationMembership.deleted",
    "organizationInvitation.created", "organizationInvitation.accepted", "organizationInvitation.revoked",
    "role.created", "role.updated", "role.deleted",
    "permission.created", "permission.updated", "permission.deleted",
    "waitlistEntry.created", "waitlistEntry.updated",
    "paymentAttempt.created", "paymentAttempt.updated",
    "subscription.created", "subscription.updated", "subscription.active", "subscription.pastDue",
    "subscriptionItem.created", "subscriptionItem.updated", "subscriptionItem.active",
    "subscriptionItem.canceled", "subscriptionItem.upcoming", "subscriptionItem.ended",
    "subscriptionItem.abandoned", "subscriptionItem.incomplete", "subscriptionItem.pastDue",
    "subscriptionItem.freeTrialEnding",
}

/// Just the `data` object of [`sample`]: the payload an event of that type carries.
///
/// ```
/// let data = hookflow::clerk::fixtures::sample_data("organization.deleted").unwrap();
/// assert_eq!(data["deleted"], serde_json::json!(true));
/// ```
pub fn sample_data(clerk_type: &str) -> Option<Value> {
    let mut envelope: Value = serde_json::from_str(sample(clerk_type)?).ok()?;
    envelope.get_mut("data").map(Value::take)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clerk::{ClerkEvent, Envelope, CATALOG};

    #[test]
    fn every_catalogue_type_has_a_sample_of_its_own_type() {
        for entry in CATALOG {
            let body = sample(entry.clerk_type).unwrap_or_else(|| panic!("no sample for {}", entry.clerk_type));
            let envelope = Envelope::parse(body.as_bytes()).unwrap_or_else(|e| panic!("{}: {e}", entry.clerk_type));
            assert_eq!(envelope.clerk_type, entry.clerk_type);
            let typed = envelope.typed().unwrap_or_else(|e| panic!("{}: {e}", entry.clerk_type));
            assert!(!matches!(typed, ClerkEvent::Unknown { .. }), "{} typed as Unknown", entry.clerk_type);
            assert_eq!(sample_data(entry.clerk_type).as_ref(), Some(&*envelope.data));
        }
    }

    #[test]
    fn unknown_types_have_no_sample() {
        assert_eq!(sample("user.someday"), None);
        assert_eq!(sample_data("user.someday"), None);
    }
}
