//! Billing payloads: `paymentAttempt.*`, `subscription.*` and `subscriptionItem.*`.
//!
//! Clerk marks billing as beta and its payloads vary more than the rest: only ids and statuses
//! are required here. Subscription items come in two shapes (the one nested in payment attempts
//! carries credits and amounts, the one in subscription events carries trial and seat data), so
//! [`SubscriptionItem`] holds the union of both.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::common::{non_empty, string_enum};

string_enum! {
    /// The state of a [`PaymentAttempt`].
    pub enum PaymentAttemptStatus {
        /// Started; `paymentAttempt.created` always carries this.
        Pending = "pending",
        /// Paid.
        Paid = "paid",
        /// Failed; see `failed_reason`.
        Failed = "failed",
    }
}

string_enum! {
    /// Why a payment was taken.
    pub enum ChargeType {
        /// A checkout (a new or changed subscription).
        Checkout = "checkout",
        /// A renewal.
        Recurring = "recurring",
    }
}

string_enum! {
    /// The state of a [`Subscription`] or [`SubscriptionItem`].
    pub enum SubscriptionStatus {
        /// Scheduled, then superseded before it started.
        Abandoned = "abandoned",
        /// Current.
        Active = "active",
        /// Ends at the end of the current period.
        Canceled = "canceled",
        /// Was active, is no longer.
        Ended = "ended",
        /// Expired.
        Expired = "expired",
        /// Needs user action (a payment) before it can be active.
        Incomplete = "incomplete",
        /// A payment is overdue.
        PastDue = "past_due",
        /// Scheduled to start at the next period.
        Upcoming = "upcoming",
    }
}

string_enum! {
    /// A billing period.
    pub enum PlanPeriod {
        /// Monthly.
        Month = "month",
        /// Yearly.
        Annual = "annual",
    }
}

/// An amount of money.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Money {
    /// In minor units (cents for USD).
    pub amount: i64,
    /// Formatted for display, e.g. `$20.00`.
    #[serde(default)]
    pub amount_formatted: Option<String>,
    /// ISO 4217 code, e.g. `USD`.
    #[serde(default)]
    pub currency: Option<String>,
    /// e.g. `$`.
    #[serde(default)]
    pub currency_symbol: Option<String>,
    /// Fields this version of hookflow does not model, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Who pays: a user or an organization.
///
/// Clerk fills the fields of the other kind with `""` (a user payer has
/// `organization_id: ""`); [`Payer::user_id`] and [`Payer::organization_id`] read those as
/// `None`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Payer {
    /// The payer id, `cpayer_...`.
    pub id: String,
    /// Always `commerce_payer`.
    #[serde(default)]
    pub object: Option<String>,
    /// The Clerk instance.
    #[serde(default)]
    pub instance_id: Option<String>,
    /// The paying user (user payers); may be `""`.
    #[serde(default)]
    pub user_id: Option<String>,
    /// The user's first name.
    #[serde(default)]
    pub first_name: Option<String>,
    /// The user's last name.
    #[serde(default)]
    pub last_name: Option<String>,
    /// Billing email address.
    #[serde(default)]
    pub email: Option<String>,
    /// The paying organization (organization payers); may be `""`.
    #[serde(default)]
    pub organization_id: Option<String>,
    /// The organization's name; may be `""`.
    #[serde(default)]
    pub organization_name: Option<String>,
    /// Avatar or logo.
    #[serde(default)]
    pub image_url: Option<String>,
    /// When the payer was created (ms since the epoch).
    #[serde(default)]
    pub created_at: Option<i64>,
    /// When the payer last changed (ms since the epoch).
    #[serde(default)]
    pub updated_at: Option<i64>,
    /// Fields this version of hookflow does not model, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Payer {
    /// The paying user's id; `None` for organization payers.
    ///
    /// ```
    /// # use hookflow::clerk::Payer;
    /// let payer: Payer = serde_json::from_str(r#"{"id": "cpayer_1", "user_id": "user_1", "organization_id": ""}"#)?;
    /// assert_eq!(payer.user_id(), Some("user_1"));
    /// assert_eq!(payer.organization_id(), None);
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn user_id(&self) -> Option<&str> {
        non_empty(self.user_id.as_deref())
    }

    /// The paying organization's id; `None` for user payers (Clerk sends `""` for them).
    ///
    /// ```
    /// # use hookflow::clerk::Payer;
    /// let payer: Payer = serde_json::from_str(r#"{"id": "cpayer_1", "user_id": "", "organization_id": "org_1"}"#)?;
    /// assert_eq!(payer.organization_id(), Some("org_1"));
    /// assert_eq!(payer.user_id(), None);
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn organization_id(&self) -> Option<&str> {
        non_empty(self.organization_id.as_deref())
    }
}

/// A payment attempt: the payload of `paymentAttempt.created` (always `pending`) and
/// `.updated` (`paid` or `failed`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaymentAttempt {
    /// The attempt id.
    pub id: String,
    /// `commerce_payment_attempt` (Clerk's example leaves it out).
    #[serde(default)]
    pub object: Option<String>,
    /// The Clerk instance.
    #[serde(default)]
    pub instance_id: Option<String>,
    /// The payment this attempt is for, `cpa_...`.
    #[serde(default)]
    pub payment_id: Option<String>,
    /// The statement it appears on.
    #[serde(default)]
    pub statement_id: Option<String>,
    /// Deprecated invoice id.
    #[serde(default)]
    pub invoice_id: Option<String>,
    /// The gateway's id for the charge (a Stripe payment intent).
    #[serde(default)]
    pub gateway_external_id: Option<String>,
    /// The attempt's state.
    pub status: PaymentAttemptStatus,
    /// Checkout or renewal.
    #[serde(default)]
    pub charge_type: Option<ChargeType>,
    /// The date billed for (ms since the epoch).
    #[serde(default)]
    pub billing_date: Option<i64>,
    /// When it was paid (ms since the epoch).
    #[serde(default)]
    pub paid_at: Option<i64>,
    /// When it failed (ms since the epoch).
    #[serde(default)]
    pub failed_at: Option<i64>,
    /// Why it failed.
    #[serde(default)]
    pub failed_reason: Option<FailedReason>,
    /// Who is paid.
    #[serde(default)]
    pub payee: Option<Payee>,
    /// Who pays.
    #[serde(default)]
    pub payer: Option<Payer>,
    /// What is charged.
    #[serde(default)]
    pub totals: Option<PaymentTotals>,
    /// The card or account charged.
    #[serde(default)]
    pub payment_source: Option<PaymentSource>,
    /// The subscription items paid for.
    #[serde(default)]
    pub subscription_items: Vec<SubscriptionItem>,
    /// When it was created (ms since the epoch).
    pub created_at: i64,
    /// When it last changed (ms since the epoch).
    pub updated_at: i64,
    /// Fields this version of hookflow does not model, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Why a payment failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailedReason {
    /// e.g. `card_declined`.
    #[serde(default)]
    pub code: Option<String>,
    /// The processor's decline code, e.g. `insufficient_funds`.
    #[serde(default)]
    pub decline_code: Option<String>,
    /// Fields this version of hookflow does not model, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The account that receives payments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Payee {
    /// The payee id.
    pub id: String,
    /// e.g. `stripe`.
    #[serde(default)]
    pub gateway_type: Option<String>,
    /// The gateway's account id.
    #[serde(default)]
    pub gateway_external_id: Option<String>,
    /// `active`, `pending`, `restricted` or `disconnected`.
    #[serde(default)]
    pub gateway_status: Option<String>,
    /// Fields this version of hookflow does not model, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// What a payment charges.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaymentTotals {
    /// Before tax.
    #[serde(default)]
    pub subtotal: Option<Money>,
    /// Tax.
    #[serde(default)]
    pub tax_total: Option<Money>,
    /// What is charged.
    #[serde(default)]
    pub grand_total: Option<Money>,
    /// Per-unit (e.g. per-seat) breakdown.
    #[serde(default)]
    pub per_unit_totals: Option<Vec<PerUnitTotal>>,
    /// Fields this version of hookflow does not model, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The charge for one priced unit (e.g. seats).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PerUnitTotal {
    /// The unit, e.g. `seats`.
    #[serde(default)]
    pub name: Option<String>,
    /// How many units a block holds.
    #[serde(default)]
    pub block_size: Option<i64>,
    /// The charge per pricing tier.
    #[serde(default)]
    pub tiers: Vec<PerUnitTierTotal>,
    /// Fields this version of hookflow does not model, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The charge for the units that fall in one pricing tier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PerUnitTierTotal {
    /// Units in this tier.
    #[serde(default)]
    pub quantity: Option<i64>,
    /// Price per block.
    #[serde(default)]
    pub fee_per_block: Option<Money>,
    /// Charge for this tier.
    #[serde(default)]
    pub total: Option<Money>,
    /// Fields this version of hookflow does not model, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The card or account a payment is taken from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaymentSource {
    /// The payment source id, `cps_...`.
    pub id: String,
    /// e.g. `stripe`.
    #[serde(default)]
    pub gateway: Option<String>,
    /// The gateway's id for it (a Stripe payment method).
    #[serde(default)]
    pub gateway_external_id: Option<String>,
    /// The gateway's account id.
    #[serde(default)]
    pub gateway_external_account_id: Option<String>,
    /// `card` or `link`.
    #[serde(default)]
    pub payment_method: Option<String>,
    /// `active` or `disconnected`.
    #[serde(default)]
    pub status: Option<String>,
    /// Card brand, e.g. `visa` (cards only).
    #[serde(default)]
    pub card_type: Option<String>,
    /// Last four digits (cards only).
    #[serde(default)]
    pub last4: Option<String>,
    /// Fields this version of hookflow does not model, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A subscription: the payload of every `subscription.*` event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subscription {
    /// The subscription id, `csub_...`.
    pub id: String,
    /// Always `commerce_subscription`.
    #[serde(default)]
    pub object: Option<String>,
    /// The subscription's state.
    pub status: SubscriptionStatus,
    /// When it became active (ms since the epoch).
    #[serde(default)]
    pub active_at: Option<i64>,
    /// When it was canceled (ms since the epoch).
    #[serde(default)]
    pub canceled_at: Option<i64>,
    /// When it ended (ms since the epoch).
    #[serde(default)]
    pub ended_at: Option<i64>,
    /// When it became past due (ms since the epoch).
    #[serde(default)]
    pub past_due_at: Option<i64>,
    /// The latest payment, `cpa_...`.
    #[serde(default)]
    pub latest_payment_id: Option<String>,
    /// The payer's id.
    #[serde(default)]
    pub payer_id: Option<String>,
    /// Who pays.
    #[serde(default)]
    pub payer: Option<Payer>,
    /// The payment source charged.
    #[serde(default)]
    pub payment_source_id: Option<String>,
    /// The subscription's items: one per plan period it went through.
    #[serde(default)]
    pub items: Vec<SubscriptionItem>,
    /// When it was created (ms since the epoch).
    pub created_at: i64,
    /// When it last changed (ms since the epoch).
    pub updated_at: i64,
    /// Fields this version of hookflow does not model, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Subscription {
    /// The item whose status is `active`: the plan the payer is on now.
    ///
    /// ```
    /// # use hookflow::clerk::Subscription;
    /// let sub: Subscription = serde_json::from_value(serde_json::json!({
    ///     "id": "csub_1", "status": "active", "created_at": 0, "updated_at": 0,
    ///     "items": [
    ///         {"id": "csub_item_1", "status": "ended", "plan": {"id": "cplan_free", "slug": "free"}},
    ///         {"id": "csub_item_2", "status": "active", "plan": {"id": "cplan_pro", "slug": "pro"}},
    ///     ],
    /// }))?;
    /// let plan = sub.active_item().and_then(|item| item.plan.as_ref());
    /// assert_eq!(plan.and_then(|p| p.slug.as_deref()), Some("pro"));
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn active_item(&self) -> Option<&SubscriptionItem> {
        self.items.iter().find(|item| item.status == SubscriptionStatus::Active)
    }
}

/// A subscription item: one plan for one stretch of time. The payload of every
/// `subscriptionItem.*` event, and the entries of `Subscription::items` and
/// `PaymentAttempt::subscription_items`.
///
/// The fields from `credit` to `amount` come with payment attempts; those from `is_free_trial`
/// to `seats` with subscription events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubscriptionItem {
    /// The item id, `csub_item_...`.
    pub id: String,
    /// `commerce_subscription_item` per Clerk's schema; its examples send `subscription_item`.
    #[serde(default)]
    pub object: Option<String>,
    /// The item's state.
    pub status: SubscriptionStatus,
    /// The plan's id.
    #[serde(default)]
    pub plan_id: Option<String>,
    /// The plan.
    #[serde(default)]
    pub plan: Option<Plan>,
    /// Who pays (standalone `subscriptionItem.*` events only).
    #[serde(default)]
    pub payer: Option<Payer>,
    /// The parent subscription (standalone `subscriptionItem.*` events only).
    #[serde(default)]
    pub subscription_id: Option<String>,
    /// Start of the period (ms since the epoch).
    #[serde(default)]
    pub period_start: Option<i64>,
    /// End of the period (ms since the epoch); null for open-ended items such as free plans.
    #[serde(default)]
    pub period_end: Option<i64>,
    /// When it was canceled (ms since the epoch).
    #[serde(default)]
    pub canceled_at: Option<i64>,
    /// When it became past due (ms since the epoch).
    #[serde(default)]
    pub past_due_at: Option<i64>,
    /// Proration credit for the unused part of the previous plan.
    #[serde(default)]
    pub credit: Option<ProrationCredit>,
    /// Every credit applied: proration and the payer's balance.
    #[serde(default)]
    pub credits: Option<Credits>,
    /// The date proration was computed for, e.g. `2024-05-01`.
    #[serde(default)]
    pub proration_date: Option<String>,
    /// Monthly or annual billing.
    #[serde(default)]
    pub plan_period: Option<PlanPeriod>,
    /// Paid so far over the item's life, in minor units.
    #[serde(default)]
    pub lifetime_paid: Option<i64>,
    /// The next charge, in minor units.
    #[serde(default)]
    pub next_payment_amount: Option<i64>,
    /// When the next charge happens (ms since the epoch).
    #[serde(default)]
    pub next_payment_date: Option<i64>,
    /// The amount charged for the item.
    #[serde(default)]
    pub amount: Option<Money>,
    /// Whether the item is in a free trial.
    #[serde(default)]
    pub is_free_trial: Option<bool>,
    /// Billing interval, `month` or `annual`.
    #[serde(default)]
    pub interval: Option<PlanPeriod>,
    /// Seats bought, for per-seat plans.
    #[serde(default)]
    pub seats: Option<Seats>,
    /// When it was created (ms since the epoch).
    #[serde(default)]
    pub created_at: Option<i64>,
    /// When it last changed (ms since the epoch).
    #[serde(default)]
    pub updated_at: Option<i64>,
    /// Fields this version of hookflow does not model, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A proration credit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProrationCredit {
    /// The credit.
    #[serde(default)]
    pub amount: Option<Money>,
    /// Days left in the billing cycle.
    #[serde(default)]
    pub cycle_days_remaining: Option<i64>,
    /// Days in the billing cycle.
    #[serde(default)]
    pub cycle_days_total: Option<i64>,
    /// Share of the cycle left, between 0 and 1.
    #[serde(default)]
    pub cycle_remaining_percent: Option<f64>,
    /// Fields this version of hookflow does not model, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Every credit applied to a subscription item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Credits {
    /// Credit for the unused part of the previous plan.
    #[serde(default)]
    pub proration: Option<ProrationCredit>,
    /// Credit taken from the payer's balance.
    #[serde(default)]
    pub payer: Option<PayerCredit>,
    /// All credits together.
    #[serde(default)]
    pub total: Option<Money>,
    /// Fields this version of hookflow does not model, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Credit taken from the payer's balance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PayerCredit {
    /// Applied to this charge.
    #[serde(default)]
    pub applied_amount: Option<Money>,
    /// Left on the balance afterwards.
    #[serde(default)]
    pub remaining_balance: Option<Money>,
    /// Fields this version of hookflow does not model, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A billing plan. Subscription events send a short form (id, slug, name, amount, currency,
/// unit prices); payment attempts the full one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// The plan id, `cplan_...`.
    pub id: String,
    /// The Clerk instance.
    #[serde(default)]
    pub instance_id: Option<String>,
    /// The product the plan belongs to.
    #[serde(default)]
    pub product_id: Option<String>,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// URL-friendly name, e.g. `pro-plan`.
    #[serde(default)]
    pub slug: Option<String>,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Whether it is the plan everyone starts on.
    #[serde(default)]
    pub is_default: Option<bool>,
    /// Whether it charges every period.
    #[serde(default)]
    pub is_recurring: Option<bool>,
    /// Whether changes are prorated.
    #[serde(default)]
    pub is_prorated: Option<bool>,
    /// Whether it has a base fee besides unit prices.
    #[serde(default)]
    pub has_base_fee: Option<bool>,
    /// Whether it is shown on the pricing table.
    #[serde(default)]
    pub publicly_visible: Option<bool>,
    /// Monthly price, in minor units.
    #[serde(default)]
    pub amount: Option<i64>,
    /// Monthly price when billed annually, in minor units.
    #[serde(default)]
    pub annual_monthly_amount: Option<i64>,
    /// ISO 4217 code.
    #[serde(default)]
    pub currency: Option<String>,
    /// Billing period.
    #[serde(default)]
    pub period: Option<PlanPeriod>,
    /// Number of periods between charges (a number here, unlike an item's `interval`).
    #[serde(default)]
    pub interval: Option<i64>,
    /// Per-unit prices (e.g. per seat).
    #[serde(default)]
    pub unit_prices: Option<Vec<UnitPrice>>,
    /// Fields this version of hookflow does not model, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The price of one kind of unit (e.g. seats), in tiers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnitPrice {
    /// The unit, e.g. `seats`.
    #[serde(default)]
    pub name: Option<String>,
    /// Units per block.
    #[serde(default)]
    pub block_size: Option<i64>,
    /// The tiers, in order.
    #[serde(default)]
    pub tiers: Vec<PriceTier>,
    /// Fields this version of hookflow does not model, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One tier of a [`UnitPrice`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PriceTier {
    /// First block of the tier (1-based).
    #[serde(default)]
    pub starts_at_block: Option<i64>,
    /// Last block of the tier; null for the open-ended last tier.
    #[serde(default)]
    pub ends_after_block: Option<i64>,
    /// Price per block, in minor units.
    #[serde(default)]
    pub amount_per_block: Option<i64>,
    /// ISO 4217 code.
    #[serde(default)]
    pub currency: Option<String>,
    /// Fields this version of hookflow does not model, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Seats bought on a per-seat subscription item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Seats {
    /// How many; null for unlimited.
    #[serde(default)]
    pub quantity: Option<i64>,
    /// Fields this version of hookflow does not model, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
