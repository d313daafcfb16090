//! The Clerk event catalogue: the one table both consumers read.
//!
//! The macro checks trigger names against it at expansion time, and `hookflow::clerk`
//! stamps out its marker types, the `ClerkEvent` enum and the run-time table from it
//! (through `__clerk_catalog!`), so the two cannot drift.

/// One Clerk webhook event type.
pub(crate) struct ClerkEventEntry {
    /// The `type` field of Clerk's envelope, e.g. `user.created`.
    pub(crate) clerk_type: &'static str,
    /// The marker type in `hookflow::clerk`, e.g. `UserCreated`.
    pub(crate) marker: &'static str,
    /// The payload type in `hookflow::clerk` that `data` deserializes into.
    pub(crate) payload: &'static str,
    /// One line for the docs and the dev UI.
    pub(crate) doc: &'static str,
}

macro_rules! catalog {
    ($( $ty:literal => $marker:ident ( $payload:ident ) : $doc:literal ;)*) => {
        /// Every Clerk webhook event hookflow knows, in Clerk's documentation order.
        pub(crate) const CLERK_EVENTS: &[ClerkEventEntry] = &[
            $( ClerkEventEntry { clerk_type: $ty, marker: stringify!($marker), payload: stringify!($payload), doc: $doc }, )*
        ];
    };
}

catalog! {
    "user.created" => UserCreated(User): "A user signed up or was created through the Backend API.";
    "user.updated" => UserUpdated(User): "A user's profile, emails, phones or metadata changed.";
    "user.deleted" => UserDeleted(DeletedUser): "A user was deleted; the payload is a deleted-object stub.";
    "session.created" => SessionCreated(Session): "A session was created (a user signed in).";
    "session.pending" => SessionPending(Session): "A session is pending a required task before it becomes active.";
    "session.ended" => SessionEnded(Session): "A session ended (the user signed out).";
    "session.removed" => SessionRemoved(Session): "A session was removed from its client.";
    "session.revoked" => SessionRevoked(Session): "A session was revoked by an administrator or the API.";
    "email.created" => EmailCreated(Email): "Clerk sent (or was asked to send) an email.";
    "sms.created" => SmsCreated(SmsMessage): "Clerk sent (or was asked to send) an SMS.";
    "organization.created" => OrganizationCreated(Organization): "An organization was created.";
    "organization.updated" => OrganizationUpdated(Organization): "An organization's name, slug, image or metadata changed.";
    "organization.deleted" => OrganizationDeleted(DeletedObject): "An organization was deleted; the payload is a deleted-object stub.";
    "organizationDomain.created" => OrganizationDomainCreated(OrganizationDomain): "A verified domain was added to an organization.";
    "organizationDomain.updated" => OrganizationDomainUpdated(OrganizationDomain): "An organization domain's enrollment mode or verification changed.";
    "organizationDomain.deleted" => OrganizationDomainDeleted(DeletedObject): "An organization domain was removed.";
    "organizationMembership.created" => OrganizationMembershipCreated(OrganizationMembership): "A user joined an organization.";
    "organizationMembership.updated" => OrganizationMembershipUpdated(OrganizationMembership): "A member's role or metadata changed.";
    "organizationMembership.deleted" => OrganizationMembershipDeleted(OrganizationMembership): "A user left or was removed from an organization (full membership payload).";
    "organizationInvitation.created" => OrganizationInvitationCreated(OrganizationInvitation): "An invitation to join an organization was sent.";
    "organizationInvitation.accepted" => OrganizationInvitationAccepted(AcceptedOrganizationInvitation): "An organization invitation was accepted.";
    "organizationInvitation.revoked" => OrganizationInvitationRevoked(OrganizationInvitation): "An organization invitation was revoked.";
    "role.created" => RoleCreated(Role): "An organization role was created.";
    "role.updated" => RoleUpdated(Role): "An organization role changed.";
    "role.deleted" => RoleDeleted(DeletedObject): "An organization role was deleted.";
    "permission.created" => PermissionCreated(Permission): "An organization permission was created.";
    "permission.updated" => PermissionUpdated(Permission): "An organization permission changed.";
    "permission.deleted" => PermissionDeleted(DeletedObject): "An organization permission was deleted.";
    "waitlistEntry.created" => WaitlistEntryCreated(WaitlistEntry): "Someone joined the waitlist.";
    "waitlistEntry.updated" => WaitlistEntryUpdated(WaitlistEntry): "A waitlist entry was invited, completed or rejected.";
    "paymentAttempt.created" => PaymentAttemptCreated(PaymentAttempt): "A billing payment attempt started (always `pending`).";
    "paymentAttempt.updated" => PaymentAttemptUpdated(PaymentAttempt): "A billing payment attempt was paid or failed.";
    "subscription.created" => SubscriptionCreated(Subscription): "A billing subscription was created.";
    "subscription.updated" => SubscriptionUpdated(Subscription): "A billing subscription changed (other than its status).";
    "subscription.active" => SubscriptionActive(Subscription): "A billing subscription became active.";
    "subscription.pastDue" => SubscriptionPastDue(Subscription): "A billing subscription is past due.";
    "subscriptionItem.created" => SubscriptionItemCreated(SubscriptionItem): "A subscription item was created (removed from Clerk's spec in 2026-08, still accepted).";
    "subscriptionItem.updated" => SubscriptionItemUpdated(SubscriptionItem): "A subscription item changed.";
    "subscriptionItem.active" => SubscriptionItemActive(SubscriptionItem): "A subscription item became active.";
    "subscriptionItem.canceled" => SubscriptionItemCanceled(SubscriptionItem): "A subscription item was canceled.";
    "subscriptionItem.upcoming" => SubscriptionItemUpcoming(SubscriptionItem): "A subscription item will start at the next period.";
    "subscriptionItem.ended" => SubscriptionItemEnded(SubscriptionItem): "A subscription item ended.";
    "subscriptionItem.abandoned" => SubscriptionItemAbandoned(SubscriptionItem): "A subscription item was abandoned before it started.";
    "subscriptionItem.incomplete" => SubscriptionItemIncomplete(SubscriptionItem): "A subscription item is waiting for a payment to complete.";
    "subscriptionItem.pastDue" => SubscriptionItemPastDue(SubscriptionItem): "A subscription item is past due.";
    "subscriptionItem.freeTrialEnding" => SubscriptionItemFreeTrialEnding(SubscriptionItem): "A subscription item's free trial ends in three days (or sooner).";
}

/// The event name hookflow gives a Clerk type: `clerk/` followed by Clerk's `type`.
pub(crate) fn event_name(clerk_type: &str) -> String {
    format!("clerk/{clerk_type}")
}

/// Finds the catalogue entry for a full event name such as `clerk/user.created`.
pub(crate) fn lookup(event: &str) -> Option<&'static ClerkEventEntry> {
    let clerk_type = event.strip_prefix("clerk/")?;
    CLERK_EVENTS.iter().find(|e| e.clerk_type == clerk_type)
}

/// The family of an event (`user` for `clerk/user.created`), to list its siblings in errors.
pub(crate) fn family_of(event: &str) -> &str {
    let rest = event.strip_prefix("clerk/").unwrap_or(event);
    rest.split('.').next().unwrap_or(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_has_46_unique_events() {
        assert_eq!(CLERK_EVENTS.len(), 46);
        let mut names: Vec<_> = CLERK_EVENTS.iter().map(|e| e.clerk_type).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), 46);
        let mut payloads: Vec<_> = CLERK_EVENTS.iter().map(|e| e.payload).collect();
        payloads.sort_unstable();
        payloads.dedup();
        assert_eq!(payloads.len(), 17, "{payloads:?}");
    }

    #[test]
    fn lookup_by_full_name() {
        assert_eq!(lookup("clerk/user.created").map(|e| e.marker), Some("UserCreated"));
        assert!(lookup("clerk/user.craeted").is_none());
        assert!(lookup("user.created").is_none());
        assert_eq!(event_name("user.created"), "clerk/user.created");
        assert_eq!(family_of("clerk/organizationMembership.created"), "organizationMembership");
    }
}
