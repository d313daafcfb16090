//! Events: the typed `Event<E>` a function receives, the `EventType` trait every event type
//! implements, and `RawEvent`, the untyped shape that travels through the engine and stores.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Payload;

/// A type that can be received as `Event<Self>`: a Clerk marker such as `clerk::UserCreated`,
/// a payload type shared by several events such as `clerk::User`, a custom event made with
/// `#[derive(Event)]`, or [`Json`](crate::Json) for any event at all.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an event type",
    label = "not an event type",
    note = "use a Clerk marker such as `clerk::UserCreated`, a payload type such as `clerk::User`, a struct with `#[derive(Event)]`, or `hookflow::Json`"
)]
pub trait EventType: Send + Sync + 'static {
    /// The type of the event's `data`.
    type Data: Serialize + DeserializeOwned + Send + Sync + 'static;
    /// Every event name this type can be built from; empty means any name.
    const NAMES: &'static [&'static str];
}

/// An event type with exactly one name, so that it can be sent without naming it again.
pub trait NamedEvent: EventType {
    /// The event name, e.g. `app/invoice.paid` or `clerk/user.created`.
    const NAME: &'static str;
}

impl EventType for Value {
    type Data = Value;
    const NAMES: &'static [&'static str] = &[];
}

/// A typed event, as a function receives it: Inngest's event shape with `data` typed.
///
/// `E` says what the function accepts: a Clerk marker (`clerk::UserCreated`, whose `data` is a
/// `clerk::User`), a struct of yours with `#[derive(Event)]`, or [`Json`](crate::Json) for
/// anything. The macro checks at compile time that every trigger's event fits `E`.
///
/// ```
/// use hookflow::prelude::*;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Debug, Clone, Serialize, Deserialize, hookflow::Event)]
/// #[event(name = "app/invoice.paid")]
/// struct InvoicePaid {
///     invoice_id: String,
///     cents: u64,
/// }
///
/// #[inngest_fn(id = "thank-you", event = "app/invoice.paid")]
/// async fn thank_you(event: Event<InvoicePaid>) -> Result<String> {
///     Ok(format!("thanks for {} ({} cents, event {})", event.data.invoice_id, event.data.cents, event.id))
/// }
///
/// // Sending one: `Event::new` names it after its type.
/// let paid = Event::<InvoicePaid>::new(InvoicePaid { invoice_id: "in_1".into(), cents: 1200 });
/// assert_eq!(paid.name, "app/invoice.paid");
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct Event<E: EventType> {
    /// The event name, e.g. `clerk/user.created`.
    pub name: String,
    /// The typed payload.
    pub data: E::Data,
    /// The event id; also its idempotency key (a Clerk webhook's `svix-id`).
    #[serde(default)]
    pub id: String,
    /// When the event happened, in milliseconds since the Unix epoch.
    #[serde(default)]
    pub ts: i64,
}

impl<E: NamedEvent> Event<E> {
    /// A new event named after `E`, with an id and timestamp filled in when it is sent.
    pub fn new(data: E::Data) -> Self {
        Event { name: E::NAME.to_owned(), data, id: String::new(), ts: 0 }
    }
}

impl<E: EventType> Event<E> {
    /// Sets the event id (its idempotency key).
    #[must_use]
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.id = id.into();
        self
    }

    /// Converts the event into its untyped form.
    pub fn into_raw(self) -> Result<RawEvent, serde_json::Error> {
        // As text: the store needs the text, and a tree is built only if something reads one.
        let data = Payload::from_raw(serde_json::value::to_raw_value(&self.data)?)?;
        Ok(RawEvent { name: self.name, data, id: self.id, ts: self.ts, user: None })
    }
}

impl<E: EventType> TryFrom<&RawEvent> for Event<E> {
    type Error = serde_json::Error;

    fn try_from(raw: &RawEvent) -> Result<Self, Self::Error> {
        Ok(Event { name: raw.name.clone(), data: raw.data.typed()?, id: raw.id.clone(), ts: raw.ts })
    }
}

/// An event in its untyped form, as it is sent, stored and replayed (Inngest's event shape).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RawEvent {
    /// The event name.
    pub name: String,
    /// The payload; any JSON value (Inngest requires an object, hookflow accepts any).
    #[serde(default)]
    pub data: Payload,
    /// The id; empty means "generate one when accepted".
    #[serde(default)]
    pub id: String,
    /// Milliseconds since the Unix epoch; 0 means "now when accepted".
    #[serde(default)]
    pub ts: i64,
    /// Inngest's optional `user` object, kept as is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<Value>,
}

impl RawEvent {
    /// A new untyped event with the given name and data.
    pub fn new(name: impl Into<String>, data: impl Into<Payload>) -> Self {
        RawEvent { name: name.into(), data: data.into(), id: String::new(), ts: 0, user: None }
    }

    /// Sets the id (the idempotency key).
    #[must_use]
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.id = id.into();
        self
    }

    /// The event as Inngest's JSON (what `event` is in expressions).
    pub(crate) fn to_json(&self) -> Value {
        // A `RawEvent` holds only strings, numbers and JSON values: serializing cannot fail.
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// A typed value that can be sent as an event: `Event<E>`, a `#[derive(Event)]` struct, or a
/// [`RawEvent`].
pub trait IntoRawEvent {
    /// Converts `self` into its untyped form.
    fn into_raw_event(self) -> Result<RawEvent, serde_json::Error>;
}

impl IntoRawEvent for RawEvent {
    fn into_raw_event(self) -> Result<RawEvent, serde_json::Error> {
        Ok(self)
    }
}

impl<E: EventType> IntoRawEvent for Event<E> {
    fn into_raw_event(self) -> Result<RawEvent, serde_json::Error> {
        self.into_raw()
    }
}
