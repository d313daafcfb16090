//! Typed Clerk webhook events.
//!
//! Every Clerk event type has a marker (`clerk::UserCreated` for `clerk/user.created`) whose
//! payload is one of the types below; a payload type shared by several events
//! (`clerk::User` for `user.created` and `user.updated`) can be received directly too.
//! [`ClerkEvent`] types a payload at run time, [`Envelope`] is the raw webhook body, and
//! [`fixtures`] holds one sample body per event type.
//!
//! # How the payloads are modelled
//!
//! Clerk's TypeScript types, its OpenAPI spec and its example payloads disagree on which
//! fields may be missing or null, so the types are lenient:
//!
//! - Identity and timestamps every source agrees on (`id`, `created_at`, ...) are plain
//!   fields. Everything else is a [`Field`]: it reads like the value inside it
//!   (`user.first_name.as_deref()`, `user.email_addresses.iter()`), a field Clerk left out reads
//!   as empty (`None`, an empty list, JSON `null`), and it remembers whether Clerk sent it.
//!   Most are `Field<Option<T>>`, which accepts both a missing key and `null`; lists are
//!   `Field<Vec<T>>`.
//! - Metadata, template variables and impersonation claims are free-form JSON,
//!   `Field<serde_json::Value>` (reading as `Null` when absent).
//! - Enums (statuses, modes) keep values hookflow does not know in an `Unknown(String)`
//!   variant, which serializes back unchanged.
//! - Every struct keeps fields it does not model in `extra`, and writes them back out. So a
//!   payload survives a round trip exactly: every field Clerk sent comes back with its value, a
//!   `null` stays `null`, and a field Clerk left out stays out. One documented exception: a
//!   domain verification's `expires_at` (the TypeScript spelling) is written as `expire_at`
//!   (the wire spelling).
//! - `data.object` is not trusted to say what a payload is (Clerk's examples disagree with its
//!   schema); the envelope's `type` decides.

hookflow_macros::__clerk_catalog!();

mod billing;
mod common;
mod envelope;
mod field;
pub mod fixtures;
mod messaging;
mod organization;
mod session;
mod user;
mod waitlist;

pub use billing::{
    ChargeType, Credits, FailedReason, Money, Payee, Payer, PayerCredit, PaymentAttempt, PaymentAttemptStatus,
    PaymentSource, PaymentTotals, PerUnitTotal, Plan, PlanPeriod, PriceTier, ProrationCredit, Seats, Subscription,
    SubscriptionItem, SubscriptionStatus, UnitPrice,
};
pub use common::{DeletedObject, IdentificationLink, Verification, VerificationError, VerificationStatus};
pub use envelope::{Envelope, EnvelopeError, EventAttributes, HttpRequest};
pub use field::Field;
pub use messaging::{Email, SmsMessage};
pub use organization::{
    AcceptedOrganizationInvitation, DomainVerification, EnrollmentMode, InvitationStatus, Organization,
    OrganizationDomain, OrganizationInvitation, OrganizationMembership, Permission, PublicInviterData,
    PublicOrganizationData, PublicUserData, Role,
};
pub use session::{Session, SessionActivity, SessionStatus};
pub use user::{
    DeletedUser, EmailAddress, EnterpriseAccount, EnterpriseConnection, ExternalAccount, Passkey, PhoneNumber,
    SamlAccount, User, UserScim, Web3Wallet,
};
pub use waitlist::{Invitation, WaitlistEntry, WaitlistEntryStatus};
