//! Billing payloads: `paymentAttempt.*`, `subscription.*` and `subscriptionItem.*`.
//!
//! Clerk marks billing as beta and its payloads vary more than the rest: only ids and statuses
//! are required here. Subscription items come in two shapes (the one nested in payment attempts
//! carries credits and amounts, the one in subscription events carries trial and seat data), so
//! [`SubscriptionItem`] holds the union of both.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::common::{non_empty, string_enum};
use super::field::Field;

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
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub amount_formatted: Field<Option<String>>,
    /// ISO 4217 code, e.g. `USD`.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub currency: Field<Option<String>>,
    /// e.g. `$`.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub currency_symbol: Field<Option<String>>,
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
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub object: Field<Option<String>>,
    /// The Clerk instance.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub instance_id: Field<Option<String>>,
    /// The paying user (user payers); may be `""`.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub user_id: Field<Option<String>>,
    /// The user's first name.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub first_name: Field<Option<String>>,
    /// The user's last name.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub last_name: Field<Option<String>>,
    /// Billing email address.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub email: Field<Option<String>>,
    /// The paying organization (organization payers); may be `""`.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub organization_id: Field<Option<String>>,
    /// The organization's name; may be `""`.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub organization_name: Field<Option<String>>,
    /// Avatar or logo.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub image_url: Field<Option<String>>,
    /// When the payer was created (ms since the epoch).
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub created_at: Field<Option<i64>>,
    /// When the payer last changed (ms since the epoch).
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub updated_at: Field<Option<i64>>,
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
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub object: Field<Option<String>>,
    /// The Clerk instance.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub instance_id: Field<Option<String>>,
    /// The payment this attempt is for, `cpa_...`.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub payment_id: Field<Option<String>>,
    /// The statement it appears on.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub statement_id: Field<Option<String>>,
    /// Deprecated invoice id.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub invoice_id: Field<Option<String>>,
    /// The gateway's id for the charge (a Stripe payment intent).
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub gateway_external_id: Field<Option<String>>,
    /// The attempt's state.
    pub status: PaymentAttemptStatus,
    /// Checkout or renewal.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub charge_type: Field<Option<ChargeType>>,
    /// The date billed for (ms since the epoch).
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub billing_date: Field<Option<i64>>,
    /// When it was paid (ms since the epoch).
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub paid_at: Field<Option<i64>>,
    /// When it failed (ms since the epoch).
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub failed_at: Field<Option<i64>>,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub failed_reason: Field<Option<FailedReason>>,
    /// Who is paid.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub payee: Field<Option<Payee>>,
    /// Who pays.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub payer: Field<Option<Payer>>,
    /// What is charged.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub totals: Field<Option<PaymentTotals>>,
    /// The card or account charged.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub payment_source: Field<Option<PaymentSource>>,
    /// The subscription items paid for.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub subscription_items: Field<Vec<SubscriptionItem>>,
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
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub code: Field<Option<String>>,
    /// The processor's decline code, e.g. `insufficient_funds`.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub decline_code: Field<Option<String>>,
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
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub gateway_type: Field<Option<String>>,
    /// The gateway's account id.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub gateway_external_id: Field<Option<String>>,
    /// `active`, `pending`, `restricted` or `disconnected`.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub gateway_status: Field<Option<String>>,
    /// Fields this version of hookflow does not model, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// What a payment charges.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaymentTotals {
    /// Before tax.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub subtotal: Field<Option<Money>>,
    /// Tax.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub tax_total: Field<Option<Money>>,
    /// What is charged.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub grand_total: Field<Option<Money>>,
    /// Per-unit (e.g. per-seat) breakdown.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub per_unit_totals: Field<Option<Vec<PerUnitTotal>>>,
    /// Fields this version of hookflow does not model, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The charge for one kind of priced unit (e.g. seats) in a payment, as webhooks send it
/// (Clerk's webhook spec, `BillingUnitTotal`). Amounts are plain integers in minor units, unlike
/// the [`Money`] objects around them; the frontend's tiered shape (`block_size`, `tiers`) is not
/// what webhooks carry.
///
/// ```
/// # use hookflow::clerk::PerUnitTotal;
/// let seats: PerUnitTotal = serde_json::from_value(serde_json::json!({
///     "name": "seats", "amount": 1000, "quantity": 3, "total": 3000, "currency": "USD",
/// }))?;
/// assert_eq!((seats.name.as_deref(), *seats.quantity, *seats.total), (Some("seats"), Some(3), Some(3000)));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PerUnitTotal {
    /// The unit charged, e.g. `seats`.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub name: Field<Option<String>>,
    /// Price per unit, in minor units.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub amount: Field<Option<i64>>,
    /// Units charged at this price; null means unlimited.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub quantity: Field<Option<i64>>,
    /// The charge for these units (`amount` × `quantity`), in minor units.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub total: Field<Option<i64>>,
    /// ISO 4217 code, e.g. `USD`.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub currency: Field<Option<String>>,
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
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub gateway: Field<Option<String>>,
    /// The gateway's id for it (a Stripe payment method).
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub gateway_external_id: Field<Option<String>>,
    /// The gateway's account id.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub gateway_external_account_id: Field<Option<String>>,
    /// `card` or `link`.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub payment_method: Field<Option<String>>,
    /// `active` or `disconnected`.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub status: Field<Option<String>>,
    /// Card brand, e.g. `visa` (cards only).
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub card_type: Field<Option<String>>,
    /// Last four digits (cards only).
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub last4: Field<Option<String>>,
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
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub object: Field<Option<String>>,
    /// The subscription's state.
    pub status: SubscriptionStatus,
    /// When it became active (ms since the epoch).
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub active_at: Field<Option<i64>>,
    /// When it was canceled (ms since the epoch).
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub canceled_at: Field<Option<i64>>,
    /// When it ended (ms since the epoch).
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub ended_at: Field<Option<i64>>,
    /// When it became past due (ms since the epoch).
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub past_due_at: Field<Option<i64>>,
    /// The latest payment, `cpa_...`.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub latest_payment_id: Field<Option<String>>,
    /// The payer's id.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub payer_id: Field<Option<String>>,
    /// Who pays.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub payer: Field<Option<Payer>>,
    /// The payment source charged.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub payment_source_id: Field<Option<String>>,
    /// The subscription's items: one per plan period it went through.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub items: Field<Vec<SubscriptionItem>>,
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
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub object: Field<Option<String>>,
    /// The item's state.
    pub status: SubscriptionStatus,
    /// The plan's id.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub plan_id: Field<Option<String>>,
    /// The plan.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub plan: Field<Option<Plan>>,
    /// Who pays (standalone `subscriptionItem.*` events only).
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub payer: Field<Option<Payer>>,
    /// The parent subscription (standalone `subscriptionItem.*` events only).
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub subscription_id: Field<Option<String>>,
    /// Start of the period (ms since the epoch).
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub period_start: Field<Option<i64>>,
    /// End of the period (ms since the epoch); null for open-ended items such as free plans.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub period_end: Field<Option<i64>>,
    /// When it was canceled (ms since the epoch).
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub canceled_at: Field<Option<i64>>,
    /// When it became past due (ms since the epoch).
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub past_due_at: Field<Option<i64>>,
    /// Proration credit for the unused part of the previous plan.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub credit: Field<Option<ProrationCredit>>,
    /// Every credit applied: proration and the payer's balance.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub credits: Field<Option<Credits>>,
    /// The date proration was computed for, e.g. `2024-05-01`.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub proration_date: Field<Option<String>>,
    /// Monthly or annual billing.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub plan_period: Field<Option<PlanPeriod>>,
    /// Paid so far over the item's life, in minor units.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub lifetime_paid: Field<Option<i64>>,
    /// The next charge, in minor units.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub next_payment_amount: Field<Option<i64>>,
    /// When the next charge happens (ms since the epoch).
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub next_payment_date: Field<Option<i64>>,
    /// The amount charged for the item.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub amount: Field<Option<Money>>,
    /// Whether the item is in a free trial.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub is_free_trial: Field<Option<bool>>,
    /// Billing interval, `month` or `annual`.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub interval: Field<Option<PlanPeriod>>,
    /// Seats bought, for per-seat plans.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub seats: Field<Option<Seats>>,
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

/// A proration credit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProrationCredit {
    /// The credit.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub amount: Field<Option<Money>>,
    /// Days left in the billing cycle.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub cycle_days_remaining: Field<Option<i64>>,
    /// Days in the billing cycle.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub cycle_days_total: Field<Option<i64>>,
    /// Share of the cycle left, between 0 and 1.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub cycle_remaining_percent: Field<Option<f64>>,
    /// Fields this version of hookflow does not model, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Every credit applied to a subscription item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Credits {
    /// Credit for the unused part of the previous plan.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub proration: Field<Option<ProrationCredit>>,
    /// Credit taken from the payer's balance.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub payer: Field<Option<PayerCredit>>,
    /// All credits together.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub total: Field<Option<Money>>,
    /// Fields this version of hookflow does not model, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Credit taken from the payer's balance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PayerCredit {
    /// Applied to this charge.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub applied_amount: Field<Option<Money>>,
    /// Left on the balance afterwards.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub remaining_balance: Field<Option<Money>>,
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
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub instance_id: Field<Option<String>>,
    /// The product the plan belongs to.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub product_id: Field<Option<String>>,
    /// Display name.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub name: Field<Option<String>>,
    /// URL-friendly name, e.g. `pro-plan`.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub slug: Field<Option<String>>,
    /// Description.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub description: Field<Option<String>>,
    /// Whether it is the plan everyone starts on.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub is_default: Field<Option<bool>>,
    /// Whether it charges every period.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub is_recurring: Field<Option<bool>>,
    /// Whether changes are prorated.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub is_prorated: Field<Option<bool>>,
    /// Whether it has a base fee besides unit prices.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub has_base_fee: Field<Option<bool>>,
    /// Whether it is shown on the pricing table.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub publicly_visible: Field<Option<bool>>,
    /// Monthly price, in minor units.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub amount: Field<Option<i64>>,
    /// Monthly price when billed annually, in minor units.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub annual_monthly_amount: Field<Option<i64>>,
    /// ISO 4217 code.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub currency: Field<Option<String>>,
    /// Billing period.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub period: Field<Option<PlanPeriod>>,
    /// Number of periods between charges (a number here, unlike an item's `interval`).
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub interval: Field<Option<i64>>,
    /// Per-unit prices (e.g. per seat).
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub unit_prices: Field<Option<Vec<UnitPrice>>>,
    /// Fields this version of hookflow does not model, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The price of one kind of unit (e.g. seats), in tiers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnitPrice {
    /// The unit, e.g. `seats`.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub name: Field<Option<String>>,
    /// Units per block.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub block_size: Field<Option<i64>>,
    /// The tiers, in order.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub tiers: Field<Vec<PriceTier>>,
    /// Fields this version of hookflow does not model, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One tier of a [`UnitPrice`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PriceTier {
    /// First block of the tier (1-based).
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub starts_at_block: Field<Option<i64>>,
    /// Last block of the tier; null for the open-ended last tier.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub ends_after_block: Field<Option<i64>>,
    /// Price per block, in minor units.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub amount_per_block: Field<Option<i64>>,
    /// ISO 4217 code.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub currency: Field<Option<String>>,
    /// Fields this version of hookflow does not model, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Seats bought on a per-seat subscription item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Seats {
    /// How many; null for unlimited.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub quantity: Field<Option<i64>>,
    /// Fields this version of hookflow does not model, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
