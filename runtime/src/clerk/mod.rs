//! Typed Clerk webhook events.

hookflow_macros::__clerk_catalog!();
/// TODO payload
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)] pub struct User { pub id: Option<String> }
/// TODO payload
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)] pub struct DeletedUser { pub id: Option<String> }
/// TODO payload
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)] pub struct Session { pub id: Option<String> }
/// TODO payload
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)] pub struct Email { pub id: Option<String> }
/// TODO payload
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)] pub struct SmsMessage { pub id: Option<String> }
/// TODO payload
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)] pub struct Organization { pub id: Option<String> }
/// TODO payload
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)] pub struct DeletedObject { pub id: Option<String> }
/// TODO payload
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)] pub struct OrganizationDomain { pub id: Option<String> }
/// TODO payload
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)] pub struct OrganizationMembership { pub id: Option<String> }
/// TODO payload
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)] pub struct OrganizationInvitation { pub id: Option<String> }
/// TODO payload
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)] pub struct AcceptedOrganizationInvitation { pub id: Option<String> }
/// TODO payload
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)] pub struct Role { pub id: Option<String> }
/// TODO payload
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)] pub struct Permission { pub id: Option<String> }
/// TODO payload
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)] pub struct WaitlistEntry { pub id: Option<String> }
/// TODO payload
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)] pub struct PaymentAttempt { pub id: Option<String> }
/// TODO payload
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)] pub struct Subscription { pub id: Option<String> }
/// TODO payload
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)] pub struct SubscriptionItem { pub id: Option<String> }
