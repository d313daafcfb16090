//! [`Field`]: a payload field that remembers whether Clerk sent it, so a payload written back
//! out has exactly the fields it came with.

use std::fmt;
use std::ops::{Deref, DerefMut};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A payload field that Clerk may leave out, and that remembers whether it did.
///
/// Clerk's payloads differ by age and source: one `user.created` has `banned: false`, an older
/// one has no `banned` at all. A `Field` reads like the value inside it (it dereferences to
/// it), and a field Clerk left out reads as that type's empty value: `None`, an empty list, or
/// JSON `null`. What the `Field` adds is the difference between "sent" and "left out", so that
/// writing the payload back out (to a step's output, another service, a test's expectation)
/// leaves out what Clerk left out, and keeps a `null` Clerk sent as `null`.
///
/// ```
/// # use hookflow::clerk::User;
/// let user: User = serde_json::from_value(serde_json::json!({
///     "id": "user_1", "created_at": 1, "updated_at": 2, "first_name": "Ada", "last_name": null,
/// }))?;
/// // Reads like the value: `first_name` is an `Option<String>` underneath.
/// assert_eq!(user.first_name.as_deref(), Some("Ada"));
/// assert_eq!(user.last_name, None);
/// assert!(user.email_addresses.is_empty());
/// // Remembers what was sent: `last_name` was null, `banned` was not there.
/// assert!(user.last_name.is_sent() && !user.banned.is_sent());
/// let out = serde_json::to_value(&user)?;
/// assert_eq!(out["last_name"], serde_json::Value::Null);
/// assert!(out.get("banned").is_none());
/// # Ok::<(), serde_json::Error>(())
/// ```
///
/// Changing a field through it (`*user.first_name = Some(..)`, `user.email_addresses.push(..)`,
/// [`Field::set`]) marks it sent: what you write is written out. [`Field::take`] leaves it out
/// again. To get the value itself, use [`Field::get`] or [`Field::into_inner`] (`clone()` clones
/// the `Field`).
///
/// In a struct, a `Field` goes with `#[serde(default, skip_serializing_if = "Field::is_absent")]`:
/// `default` makes a missing key an absent field, `skip_serializing_if` leaves it out again.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Field<T> {
    value: T,
    sent: bool,
}

impl<T> Field<T> {
    /// A field that was sent, with this value.
    ///
    /// ```
    /// # use hookflow::clerk::Field;
    /// let name = Field::new(Some("Ada".to_owned()));
    /// assert!(name.is_sent());
    /// ```
    pub fn new(value: T) -> Self {
        Field { value, sent: true }
    }

    /// A field that was not sent: it reads as `T`'s default (`None`, `[]`, `null`).
    ///
    /// ```
    /// # use hookflow::clerk::Field;
    /// let name: Field<Option<String>> = Field::absent();
    /// assert!(name.is_absent());
    /// assert_eq!(name, None);
    /// ```
    pub fn absent() -> Self
    where
        T: Default,
    {
        Field::default()
    }

    /// A field that was not sent but reads as `value`: for fields whose absence means
    /// something other than `T`'s default (a deleted-object stub without `deleted` reads as
    /// deleted).
    ///
    /// ```
    /// # use hookflow::clerk::Field;
    /// let deleted = Field::absent_reading(true);
    /// assert!(*deleted && deleted.is_absent());
    /// ```
    pub fn absent_reading(value: T) -> Self {
        Field { value, sent: false }
    }

    /// Whether the payload had this field (possibly as `null`).
    pub fn is_sent(&self) -> bool {
        self.sent
    }

    /// Whether the payload left this field out; it is then left out when serialized.
    pub fn is_absent(&self) -> bool {
        !self.sent
    }

    /// The value (`T`'s default when the field is absent).
    ///
    /// ```
    /// # use hookflow::clerk::Field;
    /// let attempts = Field::new(Some(3_i64));
    /// assert_eq!(*attempts.get(), Some(3));
    /// ```
    pub fn get(&self) -> &T {
        &self.value
    }

    /// The value, without the field around it.
    ///
    /// ```
    /// # use hookflow::clerk::Field;
    /// let name: Option<String> = Field::new(Some("Ada".to_owned())).into_inner();
    /// assert_eq!(name.as_deref(), Some("Ada"));
    /// ```
    pub fn into_inner(self) -> T {
        self.value
    }

    /// Sets the value; the field is sent from now on.
    ///
    /// ```
    /// # use hookflow::clerk::Field;
    /// let mut banned: Field<Option<bool>> = Field::absent();
    /// banned.set(Some(true));
    /// assert!(banned.is_sent());
    /// assert_eq!(banned, Some(true));
    /// ```
    pub fn set(&mut self, value: T) {
        self.value = value;
        self.sent = true;
    }

    /// Removes the field: it reads as `T`'s default and is left out when serialized. Returns
    /// the value it had.
    ///
    /// ```
    /// # use hookflow::clerk::Field;
    /// let mut name = Field::new(Some("Ada".to_owned()));
    /// assert_eq!(name.take().as_deref(), Some("Ada"));
    /// assert!(name.is_absent());
    /// ```
    pub fn take(&mut self) -> T
    where
        T: Default,
    {
        self.sent = false;
        std::mem::take(&mut self.value)
    }
}

impl<T> Deref for Field<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}

/// Mutable access marks the field sent: a change made through it must be written out.
impl<T> DerefMut for Field<T> {
    fn deref_mut(&mut self) -> &mut T {
        self.sent = true;
        &mut self.value
    }
}

/// A sent field with this value.
impl<T> From<T> for Field<T> {
    fn from(value: T) -> Self {
        Field::new(value)
    }
}

/// Compares the value only, so `user.banned == None` holds whether `banned` was `null` or
/// absent. (`Field == Field` compares whether each was sent too: they serialize differently.)
impl<T: PartialEq> PartialEq<T> for Field<T> {
    fn eq(&self, other: &T) -> bool {
        self.value == *other
    }
}

/// The value's `Debug`, or `<absent>` for a field that was not sent.
impl<T: fmt::Debug> fmt::Debug for Field<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.sent {
            self.value.fmt(f)
        } else {
            f.write_str("<absent>")
        }
    }
}

impl<T: Serialize> Serialize for Field<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.value.serialize(serializer)
    }
}

/// Only called for a key that is present (an absent key takes the `#[serde(default)]`), so what
/// is read was sent, `null` included.
impl<'de, T: Deserialize<'de>> Deserialize<'de> for Field<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        T::deserialize(deserializer).map(Field::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    #[derive(Debug, Serialize, Deserialize)]
    struct Probe {
        #[serde(default, skip_serializing_if = "Field::is_absent")]
        name: Field<Option<String>>,
        #[serde(default, skip_serializing_if = "Field::is_absent")]
        tags: Field<Vec<String>>,
        #[serde(default, skip_serializing_if = "Field::is_absent")]
        meta: Field<Value>,
    }

    fn round_trip(input: Value) -> Value {
        let probe: Probe = serde_json::from_value(input).unwrap();
        serde_json::to_value(&probe).unwrap()
    }

    #[test]
    fn absent_null_and_values_come_back_as_they_went_in() {
        for input in [
            json!({}),
            json!({"name": null}),
            json!({"name": "Ada", "tags": [], "meta": null}),
            json!({"tags": ["a"], "meta": {"k": [1]}}),
        ] {
            assert_eq!(round_trip(input.clone()), input);
        }
    }

    #[test]
    fn absent_fields_read_as_empty_values() {
        let probe: Probe = serde_json::from_value(json!({})).unwrap();
        assert_eq!(probe.name, None);
        assert!(probe.tags.is_empty());
        assert!(probe.meta.is_null());
        assert_eq!(format!("{:?}", probe.name), "<absent>");
        let sent: Probe = serde_json::from_value(json!({"name": null})).unwrap();
        assert_eq!(format!("{:?}", sent.name), "None");
        assert_eq!(sent.name, probe.name.get().clone());
        assert_ne!(sent.name, probe.name, "a null and an absent field serialize differently");
    }

    #[test]
    fn changes_are_written_out_and_take_removes() {
        let mut probe: Probe = serde_json::from_value(json!({"name": "Ada"})).unwrap();
        probe.tags.push("new".into());
        *probe.meta = json!({"k": 1});
        assert_eq!(probe.name.take().as_deref(), Some("Ada"));
        assert_eq!(serde_json::to_value(&probe).unwrap(), json!({"tags": ["new"], "meta": {"k": 1}}));
        // Reading does not mark a field sent.
        let read: Probe = serde_json::from_value(json!({})).unwrap();
        assert_eq!(read.tags.iter().count() + usize::from(read.name.is_some()), 0);
        assert_eq!(serde_json::to_value(&read).unwrap(), json!({}));
    }
}
